//! Helpers shared by integration tests (each test file includes what it needs).
pub(crate) mod synth;
