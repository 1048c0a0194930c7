//! The command line: one file per subcommand. (Minimal wiring by the wifi helper; the
//! lead owns this file and reconciles it with the other subcommands.)

pub mod offload;
