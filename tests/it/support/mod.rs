//! Helpers shared by the integration tests.

pub(crate) mod capture;
pub(crate) mod cli;
pub(crate) mod fake_ptpip;
pub(crate) mod files;
pub(crate) mod netns;
pub(crate) mod observed;
pub(crate) mod pw_session;
pub(crate) mod synth;
