//! (being built)
pub mod gadget;
