//! (being built)

pub mod msc;
pub mod registry;
