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
pub struct OffloadArgs {
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
        .with_context(|| format!("--camera {s:?}: expected an IP address or IP:PORT"))?;
    Ok(SocketAddr::new(ip, ptpip::PORT))
}

pub fn run(args: &OffloadArgs) -> anyhow::Result<()> {
    let cfg = config_from(args)?;
    let stop = super::stop_flag()?;
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bars::default())
    } else {
        Box::new(Lines::default())
    };
    run_with(&cfg, progress, &stop)
}

/// `webcam --offload`: the offload daemon as a side task next to the webcam, with plain
/// log lines, stopping with the same Ctrl-C.
pub fn side_task(
    dest: Option<PathBuf>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let args = OffloadArgs {
        dest,
        once: false,
        guid: None,
        camera: None,
        force: false,
        timeout: None,
    };
    let cfg = config_from(&args)?;
    std::thread::Builder::new()
        .name("offload".into())
        .spawn(move || run_with(&cfg, Box::new(Lines::default()), &stop))
        .context("cannot start the offload thread")
}

fn config_from(args: &OffloadArgs) -> anyhow::Result<OffloadConfig> {
    let dest = match &args.dest {
        Some(d) => d.clone(),
        None => default_dest()?,
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
fn unpaired_guid(stored: &Config) -> anyhow::Result<[u8; 16]> {
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
    log::info!(
        "offload: waiting for a camera; pictures go to {}",
        cfg.dest.display()
    );
    match offload::run(cfg, progress.as_mut(), stop) {
        Ok(s) => {
            if s.timed_out {
                log::info!(
                    "no camera came within {}: stopped waiting",
                    show_duration(cfg.timeout.unwrap_or_default())
                );
            }
            log::info!(
                "done: {} files ({}) downloaded, {} skipped",
                s.downloaded,
                human(s.bytes),
                s.skipped
            );
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

fn human(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
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
        eprintln!("saved {}", path.display());
    }
    fn file_skipped(&mut self, name: &str, why: &str) {
        eprintln!("skipped {name}: {why}");
    }
    fn session_done(&mut self, s: &Summary) {
        eprintln!(
            "session done: {} downloaded ({}), {} skipped; the camera powers off",
            s.downloaded,
            human(s.bytes),
            s.skipped
        );
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
    fn file_skipped(&mut self, name: &str, why: &str) {
        log::info!("skipped {name}: {why}");
    }
    fn session_done(&mut self, s: &Summary) {
        log::info!(
            "session done: {} downloaded ({}), {} skipped",
            s.downloaded,
            human(s.bytes),
            s.skipped
        );
    }
}
