//! (being built)

pub mod record;
