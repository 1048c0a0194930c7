//! The command line (clap): one file per subcommand. Exit codes: 0 ok, 1 runtime
//! failure, 2 usage error (clap's own errors and [`UsageError`]), 130 interrupted twice.
//! Only this module (and main.rs) uses clap, anyhow, env_logger and ctrlc.

mod completions;
mod control;
mod doctor;
mod emulate;
mod examples;
mod frame_check;
mod list;
mod list_net;
mod list_props;
mod man;
mod offload;
mod pair;
mod paths;
mod testcard;
mod webcam;
mod webcam_pipewire;

use clap::{Parser, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sony Alpha cameras on Linux: webcam over USB, Wi-Fi offload, pairing.
#[derive(Parser, Debug)]
#[command(
    name = "alpha-bridge",
    version,
    about,
    propagate_version = true,
    after_help = examples::TOP
)]
pub(crate) struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check what a first run needs (udev rules, v4l2loopback, USB access, pairing,
    /// disk space) and say how to fix what is missing.
    #[command(after_help = examples::DOCTOR)]
    Doctor(doctor::DoctorArgs),
    /// List Sony cameras on USB, their USB mode and what to change on the camera.
    #[command(after_help = examples::LIST)]
    List(list::ListArgs),
    /// Register this computer with the camera over USB (camera in Mass Storage mode).
    #[command(after_help = examples::PAIR)]
    Pair(pair::PairArgs),
    /// Receive new photos and videos over Wi-Fi when the camera does Send to Computer.
    #[command(after_help = examples::OFFLOAD)]
    Offload(offload::OffloadArgs),
    /// Read the emulated body's frame counters back from raw YUYV frames (for tests).
    #[command(hide = true)]
    TestcardCounter(testcard::TestcardArgs),
    #[command(hide = true)]
    TestcardFrames(testcard::TestcardFramesArgs),
    #[command(hide = true)]
    FrameCheck(frame_check::FrameCheckArgs),
    /// Use the camera's live view as a webcam (v4l2loopback) and/or record it.
    #[command(after_help = examples::WEBCAM)]
    Webcam(webcam::WebcamArgs),
    /// Change the camera's settings, focus, zoom, record or take a still, also while
    /// the webcam runs.
    #[command(after_help = examples::CONTROL)]
    Control(control::ControlArgs),
    /// Run an emulated Sony body (USB gadget, Wi-Fi) for tests and demos.
    #[command(after_help = examples::EMULATE)]
    Emulate(emulate::EmulateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = examples::COMPLETIONS)]
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write every page to a folder with --dir.
    #[command(after_help = examples::MAN)]
    Man(man::ManArgs),
}

pub(crate) fn main() -> i32 {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    init_logging(level, cli.verbose > 0);
    let result = match &cli.command {
        Command::List(a) => list::run(a, cli.verbose > 0),
        Command::Pair(a) => pair::run(a),
        Command::Offload(a) => offload::run(a),
        Command::TestcardCounter(a) => testcard::run(a),
        Command::TestcardFrames(a) => testcard::run_frames(a),
        Command::FrameCheck(a) => frame_check::run(a),
        Command::Webcam(a) => webcam::run(a),
        Command::Control(a) => control::run(a),
        Command::Emulate(a) => emulate::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

/// A mistake in the command line (a bad value, options that contradict each other, a
/// path that cannot be what the option needs): `main` exits 2 for it, as clap does for
/// its own errors. Everything else that fails is a runtime failure (exit 1).
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error (exit 2) with this message.
pub(crate) fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// clap value parser for a GUID option: 32 hex digits (dashes or colons allowed), not
/// all zero; a bad one is a usage error before anything else happens.
pub(crate) fn parse_guid_arg(s: &str) -> Result<[u8; 16], String> {
    alpha_bridge::config::parse_guid(s).map_err(|e| e.to_string())
}

/// 2 when a usage error is anywhere in the chain (context may have been added), else 1.
fn exit_code(e: &anyhow::Error) -> i32 {
    if e.chain().any(|c| c.is::<UsageError>()) {
        2
    } else {
        1
    }
}

/// Default level: messages for people, without timestamps or module paths (warnings and
/// errors say so in a word); `-v`/`-vv` add timestamps, levels and module paths.
fn init_logging(level: &str, detailed: bool) {
    use std::io::Write;
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level));
    if detailed {
        b.format_timestamp_millis();
    } else {
        b.format(|buf, r| match r.level() {
            log::Level::Info => writeln!(buf, "{}", r.args()),
            log::Level::Warn => writeln!(buf, "warning: {}", r.args()),
            l => writeln!(buf, "{}: {}", l.as_str().to_ascii_lowercase(), r.args()),
        });
    }
    b.init();
}

/// "1 frame", "2 frames", "0 frames" (nouns whose plural takes an "s").
pub(crate) fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A size in binary units with one decimal ("1.5 MiB"), bytes below 1 KiB.
pub(crate) fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        1 => "1 byte".into(),
        b => format!("{b} bytes"),
    }
}

/// A stop flag set by Ctrl-C (SIGINT) or SIGTERM; a second Ctrl-C exits at once.
pub(crate) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
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
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// [`parse_duration`] for limits and periods, where zero would mean "do nothing".
pub(crate) fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}' is zero; give a length such as 10s"));
    }
    Ok(d)
}

/// A count of at least one (`--frames N`).
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("0 would stop before the first frame; give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
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
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("0.0001ms").is_ok());
        assert_eq!(
            parse_positive_duration("2s").unwrap(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn counts_and_sizes_read_like_english() {
        assert_eq!(count(0u64, "frame"), "0 frames");
        assert_eq!(count(1u64, "frame"), "1 frame");
        assert_eq!(count(2u64, "frame"), "2 frames");
        assert_eq!(count(1u32, "file"), "1 file");
        assert_eq!(human_bytes(1), "1 byte");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        // A whole 2 GiB file is 2.0 GiB, not "1.99 GB".
        assert_eq!(human_bytes(2 << 30), "2.0 GiB");
    }

    #[test]
    fn usage_errors_exit_2_even_under_context() {
        use anyhow::Context;
        assert_eq!(exit_code(&usage("bad")), 2);
        let wrapped = Err::<(), _>(usage("bad"))
            .context("while starting")
            .unwrap_err();
        assert_eq!(exit_code(&wrapped), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("the camera went away")), 1);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
