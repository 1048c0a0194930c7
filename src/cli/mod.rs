//! The command line (clap): one file per subcommand. Exit codes: 0 ok, 1 runtime
//! failure, 2 usage error. Only this module (and main.rs) uses clap, anyhow and
//! env_logger. (Minimal wiring on the `pair` branch; the lead's version on main has
//! the other subcommands: add `mod pair;` and the `Pair` variant there.)

mod pair;

use clap::{Parser, Subcommand};

/// Sony Alpha cameras on Linux: webcam over USB, Wi-Fi offload, pairing.
#[derive(Parser, Debug)]
#[command(name = "alpha-bridge", version, about, propagate_version = true)]
struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Register this computer with the camera over USB (needed once for Send to Computer).
    Pair(pair::PairArgs),
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
    let result = match &cli.command {
        Command::Pair(a) => pair::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
