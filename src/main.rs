//! The `alpha-bridge` binary: parses the command line and hands over to `cli`.
//! Exit codes: 0 ok, 1 runtime failure, 2 usage. (Minimal wiring by the wifi helper;
//! the lead owns this file.)

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "alpha-bridge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive pictures from a camera's "Send to Computer" over Wi-Fi
    Offload(cli::offload::OffloadArgs),
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let r = match &cli.command {
        Command::Offload(a) => cli::offload::run(a),
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
