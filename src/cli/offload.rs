//! `alpha-bridge offload`: wait for a camera in "Send to Computer", download what is
//! new, let the camera power off, wait again (docs/protocol/offload.md#daemon). Draws
//! indicatif bars on a terminal and plain log lines otherwise; Ctrl-C stops between
//! chunks and the interrupted file resumes next time. `--force` fetches again what was fetched before
//! (next to the existing file, never over it); `--timeout` ends a wait without a camera
//! (exit 0: nothing failed, there was nothing to fetch).
//!
//! The GUID sent is `--guid`, else the stored pairing; without one, this computer's
//! default GUID (the one `pair` would register) is tried and nothing is stored.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use alpha_bridge::config::{self, Config};
use alpha_bridge::offload::{self, OffloadConfig, OffloadError, Progress, Summary};
use alpha_bridge::ptp::ptpip;

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct OffloadArgs {
    /// Folder for the pictures (default: ~/Pictures/alpha-bridge); files go to
    /// DIR/YYYY-MM-DD/NAME
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Stop after one camera session instead of waiting for the next
    #[arg(long)]
    pub once: bool,
    /// Initiator GUID the camera was paired with (32 hex digits); default: this
    /// computer's GUID from the config file, the one `alpha-bridge pair` registered
    #[arg(long, value_name = "GUID", value_parser = super::parse_guid_arg)]
    pub guid: Option<[u8; 16]>,
    /// The camera's Wi-Fi address (IP or IP:PORT, port 15740 by default): connect to it
    /// once instead of waiting for its announcement. Here --camera is a network address;
    /// in webcam, pair and doctor it names a body on USB
    #[arg(long, value_name = "IP[:PORT]")]
    pub camera: Option<String>,
    /// Fetch again files fetched before (the ledger has them, or a same-size file is
    /// in place); each is saved next to the existing one as NAME_2.EXT, never over it
    #[arg(long)]
    pub force: bool,
    /// Stop waiting after DURATION (e.g. 90s, 10m) without a camera, counted again
    /// after each session; with --camera, keep trying to connect that long. Exits 0
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

pub(super) fn default_dest() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set: pass --dest DIR")?;
    Ok(Path::new(&home).join("Pictures").join("alpha-bridge"))
}

fn parse_camera(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let ip: IpAddr = s
        .parse()
        .map_err(|_| super::usage(format!("--camera {s:?}: expected an IP address or IP:PORT")))?;
    Ok(SocketAddr::new(ip, ptpip::PORT))
}

pub(crate) fn run(args: &OffloadArgs) -> anyhow::Result<()> {
    let cfg = config_from(args)?;
    let stop = super::stop_flag()?;
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bars::default())
    } else {
        Box::new(Lines::default())
    };
    run_with(&cfg, progress, &stop)
}

/// `webcam --offload`: the settings of the offload side task, checked (destination
/// included) before the webcam opens the camera.
pub(crate) fn side_config(dest: Option<PathBuf>) -> anyhow::Result<OffloadConfig> {
    let args = OffloadArgs {
        dest,
        once: false,
        guid: None,
        camera: None,
        force: false,
        timeout: None,
    };
    config_from(&args)
}

/// `webcam --offload`: the offload daemon as a side task next to the webcam, with plain
/// log lines, stopping with the same Ctrl-C.
pub(crate) fn side_task(
    cfg: OffloadConfig,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    std::thread::Builder::new()
        .name("offload".into())
        .spawn(move || run_with(&cfg, Box::new(Lines::default()), &stop))
        .context("cannot start the offload thread")
}

/// Checks every option (the destination included) before anything listens or connects.
fn config_from(args: &OffloadArgs) -> anyhow::Result<OffloadConfig> {
    let dest = match &args.dest {
        Some(d) => {
            super::paths::dir_to_write("--dest", d)?;
            d.clone()
        }
        None => {
            let d = default_dest()?;
            super::paths::dir_to_write("the default destination (change it with --dest)", &d)?;
            d
        }
    };
    if args.timeout.is_some_and(|t| t.is_zero()) {
        return Err(super::usage(
            "--timeout 0 would give up before any camera could answer: give a duration such as 5m",
        ));
    }
    let camera = args
        .camera
        .as_deref()
        .map(parse_camera)
        .transpose()
        .map_err(|e| super::usage(format!("{e:#}")))?;
    let stored = Config::load_default().context("cannot read this computer's identity")?;
    stored.warn_unknown_keys();
    let guid = match (args.guid, stored.guid) {
        (Some(g), _) | (None, Some(g)) => g,
        (None, None) => unpaired_guid(&stored)?,
    };
    let mut cfg = OffloadConfig::new(dest, guid, stored.host_name());
    cfg.once = args.once;
    cfg.camera = camera;
    cfg.refetch = args.force;
    cfg.timeout = args.timeout;
    Ok(cfg)
}

/// No pairing stored: try the GUID `pair` would register (PlayMemories Home's, so a
/// pairing made by Sony's software on this computer works), storing nothing.
pub(super) fn unpaired_guid(stored: &Config) -> anyhow::Result<[u8; 16]> {
    match config::default_route_mac() {
        Some(mac) => {
            let g = config::guid_from_mac(mac);
            log::warn!(
                "no pairing stored in {}: trying this computer's default GUID {}; if the \
                 camera refuses, run `alpha-bridge pair` once (camera in Mass Storage mode)",
                stored.path().display(),
                config::guid_hex(&g)
            );
            Ok(g)
        }
        None => anyhow::bail!(
            "no pairing stored in {}: run `alpha-bridge pair` once (camera in Mass Storage \
             mode), or pass --guid",
            stored.path().display()
        ),
    }
}

fn run_with(
    cfg: &OffloadConfig,
    mut progress: Box<dyn Progress>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    match cfg.camera {
        Some(addr) => log::info!(
            "offload: connecting to the camera at {addr}; pictures go to {}",
            cfg.dest.display()
        ),
        None => log::info!("offload: pictures go to {}", cfg.dest.display()),
    }
    match offload::run(cfg, progress.as_mut(), stop) {
        Ok(s) => {
            if s.timed_out {
                log::info!(
                    "no camera came within {}: stopped waiting",
                    show_duration(cfg.timeout.unwrap_or_default())
                );
            }
            // After one session its own summary line said it all.
            if s.timed_out || !(cfg.once || cfg.camera.is_some()) {
                log::info!("stopped; in all: {}", totals(&s));
            }
            Ok(())
        }
        Err(OffloadError::Interrupted) => {
            log::info!(
                "stopped in the middle of a transfer (the camera was not told to power off): \
                 run offload again and choose Send to Computer on the camera again to continue"
            );
            Ok(())
        }
        Err(e) => Err(e).context("offload failed"),
    }
}

/// `90s`, `10m`, `1h`: how the user would write it.
fn show_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match (s, d.subsec_millis()) {
        (0, ms) => format!("{ms}ms"),
        (s, 0) if s % 3600 == 0 => format!("{}h", s / 3600),
        (s, 0) if s % 60 == 0 => format!("{}m", s / 60),
        (s, 0) => format!("{s}s"),
        _ => format!("{:.1}s", d.as_secs_f64()),
    }
}

use super::human_bytes as human;

/// "2 files downloaded (4.0 GiB), 1 skipped": sizes are the whole files', also for a
/// file whose first part came in an earlier session (said apart).
fn totals(s: &Summary) -> String {
    let earlier = s.saved_bytes.saturating_sub(s.bytes);
    let size = if earlier > 0 {
        format!(
            "{}, of which {} came in an earlier session",
            human(s.saved_bytes),
            human(earlier)
        )
    } else {
        human(s.saved_bytes)
    };
    format!(
        "{} downloaded ({size}), {} skipped",
        super::count(s.downloaded as u64, "file"),
        s.skipped
    )
}

/// "DIR/2026-01-01/A.JPG (24.1 MiB)".
fn saved_line(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!("saved {} ({})", path.display(), human(m.len())),
        Err(_) => format!("saved {}", path.display()),
    }
}

/// indicatif: a spinner while waiting, one bar per file, a totals line per session.
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
}

impl Progress for Bars {
    fn waiting(&mut self) {
        let b = ProgressBar::new_spinner();
        b.set_message("waiting for a camera in send to computer mode…");
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        if let Some(old) = self.bar.replace(b) {
            old.finish_and_clear();
        }
    }
    fn connected(&mut self, model: &str, addr: SocketAddr) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        eprintln!("connected to {model} at {}", addr.ip());
    }
    fn file_started(&mut self, name: &str, size: Option<u64>, resumed_from: u64) {
        let b = match size {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        b.set_style(
            ProgressStyle::with_template(
                "{msg:24!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_message(name.to_string());
        b.set_position(resumed_from);
        self.bar = Some(b);
    }
    fn file_progress(&mut self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }
    fn file_done(&mut self, path: &Path) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        eprintln!("{}", saved_line(path));
    }
    fn file_skipped(&mut self, name: &str, why: &str) {
        eprintln!("skipped {name}: {why}");
    }
    fn session_done(&mut self, s: &Summary) {
        eprintln!("session done: {}; the camera powers off", totals(s));
    }
}

/// Plain log lines (journald, pipes): start, every 25 %, done.
#[derive(Default)]
struct Lines {
    name: String,
    size: Option<u64>,
    next_mark: u64,
}

impl Progress for Lines {
    fn waiting(&mut self) {
        log::info!("waiting for a camera in send to computer mode");
    }
    fn connected(&mut self, model: &str, addr: SocketAddr) {
        log::info!("connected to {model} at {}", addr.ip());
    }
    fn file_started(&mut self, name: &str, size: Option<u64>, resumed_from: u64) {
        self.name = name.to_string();
        self.size = size;
        self.next_mark = 25;
        match size {
            Some(n) if resumed_from > 0 => {
                log::info!(
                    "{name}: resuming at {} of {}",
                    human(resumed_from),
                    human(n)
                )
            }
            Some(n) => log::info!("{name}: {}", human(n)),
            None => log::info!("{name}: 4 GiB or more"),
        }
    }
    fn file_progress(&mut self, done: u64) {
        if let Some(n) = self.size.filter(|&n| n > 0) {
            let pct = done.saturating_mul(100) / n;
            if pct >= self.next_mark && pct < 100 {
                log::info!("{}: {pct}%", self.name);
                self.next_mark = (pct / 25 + 1) * 25;
            }
        }
    }
    fn file_done(&mut self, path: &Path) {
        log::info!("{}", saved_line(path));
    }
    fn file_skipped(&mut self, name: &str, why: &str) {
        log::info!("skipped {name}: {why}");
    }
    fn session_done(&mut self, s: &Summary) {
        log::info!("session done: {}; the camera powers off", totals(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_give_whole_file_sizes_and_plurals() {
        let mut s = Summary {
            downloaded: 1,
            skipped: 0,
            bytes: 3 << 20,
            saved_bytes: 3 << 20,
            files: Vec::new(),
            timed_out: false,
        };
        assert_eq!(totals(&s), "1 file downloaded (3.0 MiB), 0 skipped");
        // A 2 GiB file resumed after 1.99 GiB: the user has 2 GiB, not what came now.
        s.saved_bytes = 2 << 30;
        s.bytes = (2 << 30) - (1 << 30) * 199 / 200 * 2;
        let t = totals(&s);
        assert!(
            t.starts_with("1 file downloaded (2.0 GiB, of which "),
            "{t}"
        );
        assert!(
            t.ends_with(" came in an earlier session), 0 skipped"),
            "{t}"
        );
        s.downloaded = 2;
        assert!(totals(&s).starts_with("2 files downloaded"));
    }
}
