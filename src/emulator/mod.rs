//! (being built)

pub mod wifi;
