//! The `alpha-bridge` command; everything user-facing lives in `cli`.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
