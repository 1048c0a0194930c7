//! USB via rusb: the only file that names rusb (being built).
