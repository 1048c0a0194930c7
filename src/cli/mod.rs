//! The command line (clap): one file per subcommand. Exit codes: 0 ok, 1 runtime
//! failure, 2 usage error, 130 interrupted twice. Only this module (and main.rs) uses
//! clap, anyhow, env_logger and ctrlc.

mod emulate;
mod list;
mod offload;
mod pair;
mod testcard;
mod webcam;
mod webcam_pipewire;

use clap::{Parser, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    /// List Sony cameras on USB, their USB mode and what to change on the camera.
    List(list::ListArgs),
    /// Register this computer with the camera over USB (camera in Mass Storage mode).
    Pair(pair::PairArgs),
    /// Receive new photos and videos over Wi-Fi when the camera does Send to Computer.
    Offload(offload::OffloadArgs),
    /// Read the emulated body's frame counters back from raw YUYV frames (for tests).
    #[command(hide = true)]
    TestcardCounter(testcard::TestcardArgs),
    /// Use the camera's live view as a webcam (v4l2loopback) and/or record it.
    Webcam(webcam::WebcamArgs),
    /// Run an emulated Sony body (USB gadget, Wi-Fi) for tests and demos.
    Emulate(emulate::EmulateArgs),
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
        Command::List(a) => list::run(a),
        Command::Pair(a) => pair::run(a),
        Command::Offload(a) => offload::run(a),
        Command::TestcardCounter(a) => testcard::run(a),
        Command::Webcam(a) => webcam::run(a),
        Command::Emulate(a) => emulate::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// A stop flag set by Ctrl-C (SIGINT) or SIGTERM; a second Ctrl-C exits at once.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting without cleaning up");
            std::process::exit(130);
        }
        log::info!("stopping (Ctrl-C again to force)");
    })
    .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(stop)
}

/// Parses durations like `10s`, `2m`, `500ms`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 10s, 2m, 500ms)"))?;
    let secs = match unit.trim() {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => return Err(format!("unknown unit '{u}' in '{s}' (use ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
