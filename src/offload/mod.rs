//! Wi-Fi offload (docs/protocol/offload.md): wait for a Sony body in "Send to Computer"
//! (SSDP), run one PTP/IP session with it, download what is new into the store, end
//! with the Sony power-off, go back to listening.
//!
//! One session at a time: the daemon loop is sequential and ignores announcements that
//! arrive while a session runs or right after it (the camera accepts only one session
//! per activation and re-announces after a finished transfer). Progress goes through
//! the [`Progress`] trait; this module never prints. Never used over USB.
//!
//! A stop (Ctrl-C) is seen between GetPartialObject chunks: the partial file is synced
//! and kept, the session closed without the power-off, and the next activation resumes
//! the file; what cannot resume (objects of 4 GiB or more, bodies without
//! GetPartialObject) is removed and fetched whole next time, and the log says which.
//! `refetch` fetches known objects again under new names; `timeout` ends a wait.

pub mod session;
pub mod store;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::ptp::ptpip;
use crate::ptp::{OpCode, ResponseCode};
use crate::ssdp::listener::{Listener, ListenerConfig};
use crate::transport::tcp::{TcpConfig, TcpError};
use crate::transport::ErrorKind;
pub use session::Session;
pub use store::{Plan, Skip, Store};

/// Why an offload failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffloadError {
    /// The camera refused our GUID: it is not paired with this computer.
    #[error("this camera is not paired with this computer: run `alpha-bridge pair`")]
    NotPaired,
    /// The peer is not a Sony camera.
    #[error("the device at this address is not a sony camera (manufacturer {0:?})")]
    NotSony(String),
    /// The camera answered an operation with an error code.
    #[error("the camera refused {op}: {code}")]
    Refused {
        /// The operation it refused.
        op: OpCode,
        /// The response code it gave.
        code: ResponseCode,
    },
    /// The camera broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A dataset from the camera did not parse.
    #[error("malformed data from the camera: {0}")]
    Malformed(String),
    /// The connection failed.
    #[error(transparent)]
    Connection(#[from] TcpError),
    /// The connection or its Init handshake failed: no camera in Send to Computer
    /// there, or one that still holds an interrupted session (a real body answers
    /// again only after the user picks Send to Computer once more).
    #[error(
        "no camera answered at {addr} ({reason}): choose Send to Computer on the camera; \
         after an interrupted transfer, choose it again"
    )]
    NoAnswer {
        /// The address tried.
        addr: SocketAddr,
        /// Why the connection failed.
        reason: TcpError,
    },
    /// The disk filled up while writing this file.
    #[error(
        "the disk is full (writing {0}): finished files were kept and the partial file \
         was removed; free some space and choose send to computer again"
    )]
    DiskFull(PathBuf),
    /// A file system operation failed (the message names the path).
    #[error("{0}")]
    Io(String),
    /// The SSDP listener could not start.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The user stopped the transfer.
    #[error("stopped by the user; the interrupted download resumes next time")]
    Interrupted,
}

impl OffloadError {
    /// True when the connection dropped or timed out (the temp file is kept for resume).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            OffloadError::Connection(e) | OffloadError::NoAnswer { reason: e, .. } => {
                matches!(e.kind(), Some(ErrorKind::Disconnected | ErrorKind::Timeout))
            }
            _ => false,
        }
    }
}

/// Totals of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files written in this session.
    pub downloaded: usize,
    /// Files skipped (already on disk, or not downloadable).
    pub skipped: usize,
    /// Bytes fetched in this session (a resumed file counts only its rest).
    pub bytes: u64,
    /// Whole sizes of the files saved: what the user now has.
    pub saved_bytes: u64,
    /// Files saved, in order.
    pub files: Vec<PathBuf>,
    /// The run ended because no camera came within [`OffloadConfig::timeout`].
    pub timed_out: bool,
}

/// Where progress goes (the CLI draws bars; tests count).
pub trait Progress {
    /// Waiting for a camera to announce itself.
    fn waiting(&mut self) {}
    /// A camera answered and the session is open.
    fn connected(&mut self, _model: &str, _addr: SocketAddr) {}
    /// `size` is `None` for objects of 4 GiB or more until their data arrives.
    fn file_started(&mut self, _name: &str, _size: Option<u64>, _resumed_from: u64) {}
    /// Bytes of the current file now on disk.
    fn file_progress(&mut self, _done: u64) {}
    /// A file is complete under its final name.
    fn file_done(&mut self, _path: &Path) {}
    /// A file was not downloaded, and why.
    fn file_skipped(&mut self, _name: &str, _why: &str) {}
    /// The camera ended the session.
    fn session_done(&mut self, _summary: &Summary) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Bounds of the GetPartialObject chunk.
pub const MIN_CHUNK: u32 = 1 << 20;
/// Largest GetPartialObject chunk.
pub const MAX_CHUNK: u32 = 8 << 20;

/// How long announcements from a camera are ignored after its session ended.
pub const COOLDOWN: Duration = Duration::from_secs(20);
/// The same after a session whose connection was lost: the camera's re-announcement
/// then means the user picked Send to Computer again, and should be served at once.
/// Not zero, so a camera that keeps announcing cannot make the daemon spin.
pub const RETRY_COOLDOWN: Duration = Duration::from_secs(2);

/// Everything an offload run needs.
#[derive(Debug, Clone)]
pub struct OffloadConfig {
    /// Where downloaded files go.
    pub dest: PathBuf,
    /// The initiator GUID the camera was paired with.
    pub guid: [u8; 16],
    /// Shown on the camera ("Connecting… <name>").
    pub host_name: String,
    /// Connection timeouts.
    pub tcp: TcpConfig,
    /// GetPartialObject chunk, clamped to [`MIN_CHUNK`]..=[`MAX_CHUNK`].
    pub chunk: u32,
    /// Where to listen for SSDP announcements.
    pub ssdp: ListenerConfig,
    /// PTP/IP port of the camera (15740; tests use others).
    pub ptpip_port: u16,
    /// Stop after one session.
    pub once: bool,
    /// Skip discovery and connect here.
    pub camera: Option<SocketAddr>,
    /// Fetch again what the ledger (or a same-size file) already has, saved under a
    /// new name next to the existing file (`offload --force`).
    pub refetch: bool,
    /// Stop waiting for a camera after this long without one: without `camera`, no
    /// session started within it (counted again after each session); with `camera`,
    /// connection attempts are repeated until it has passed. `None`: wait forever
    /// (with `camera`: one attempt).
    pub timeout: Option<Duration>,
}

impl OffloadConfig {
    /// Settings with the defaults for everything but where files go and who we are.
    pub fn new(dest: PathBuf, guid: [u8; 16], host_name: String) -> OffloadConfig {
        OffloadConfig {
            dest,
            guid,
            host_name,
            tcp: TcpConfig::default(),
            chunk: MAX_CHUNK,
            ssdp: ListenerConfig::default(),
            ptpip_port: ptpip::PORT,
            once: false,
            camera: None,
            refetch: false,
            timeout: None,
        }
    }
}

/// Runs one session with the camera at `addr`: everything new is downloaded, then the
/// camera is told to finish (it powers off).
pub fn offload_camera(
    addr: SocketAddr,
    cfg: &OffloadConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<Summary, OffloadError> {
    let mut store = Store::open(&cfg.dest)?;
    store.set_refetch(cfg.refetch);
    let mut s = match Session::open(addr, cfg.guid, &cfg.host_name, cfg.tcp) {
        Ok(s) => s,
        Err(OffloadError::Connection(reason)) => {
            return Err(OffloadError::NoAnswer { addr, reason })
        }
        Err(e) => return Err(e),
    };
    progress.connected(&s.device().model, addr);
    let r = transfer_all(&mut s, &mut store, cfg, progress, stop);
    match r {
        Ok(summary) => {
            s.finish()?;
            // The caller's progress reports it to the user (once).
            log::debug!(
                "session done: {} downloaded ({} bytes), {} skipped",
                summary.downloaded,
                summary.bytes,
                summary.skipped
            );
            progress.session_done(&summary);
            Ok(summary)
        }
        Err(e @ OffloadError::DiskFull(_)) => {
            // Nothing more can be stored; let the camera finish cleanly.
            if let Err(e2) = s.finish() {
                log::warn!("ending the session after a full disk: {e2}");
            }
            Err(e)
        }
        Err(e) => {
            if !e.is_connection_lost() {
                s.close_quietly();
            }
            Err(e)
        }
    }
}

fn transfer_all(
    s: &mut Session,
    store: &mut Store,
    cfg: &OffloadConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<Summary, OffloadError> {
    let serial = match s.device().serial_number.trim() {
        "" => s.device().model.clone(),
        x => x.to_string(),
    };
    let mut sum = Summary::default();
    for storage in s.storage_ids()? {
        let handles = s.object_handles(storage)?;
        log::debug!("storage {storage:#010x}: {} objects", handles.len());
        for h in handles {
            if stop.load(Ordering::Relaxed) {
                return Err(OffloadError::Interrupted);
            }
            let info = s.object_info(h)?;
            match store.plan(&serial, &info)? {
                Plan::Skip(Skip::Folder) => {}
                Plan::Skip(why) => {
                    log::debug!("skip {:?}: {why}", info.filename);
                    progress.file_skipped(&info.filename, &why.to_string());
                    sum.skipped += 1;
                }
                Plan::Fetch(t) => {
                    let (path, n) = fetch(s, store, &t, h, &info.filename, cfg, progress, stop)?;
                    log::debug!("saved {} ({n} bytes fetched)", path.display());
                    progress.file_done(&path);
                    sum.downloaded += 1;
                    sum.bytes += n;
                    sum.saved_bytes += std::fs::metadata(&path).map_or(n, |m| m.len());
                    sum.files.push(path);
                }
            }
        }
    }
    Ok(sum)
}

#[allow(clippy::too_many_arguments)]
fn fetch(
    s: &mut Session,
    store: &mut Store,
    t: &store::Target,
    handle: u32,
    name: &str,
    cfg: &OffloadConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<(PathBuf, u64), OffloadError> {
    let chunking = t.expected.is_some() && s.supports_partial();
    let resume = if chunking { t.resume_from } else { 0 };
    if resume > 0 {
        log::debug!("resuming {name:?} at byte {resume}");
    }
    progress.file_started(name, t.expected, resume);
    let mut f = store.begin(t, resume)?;
    let r = (|| -> Result<u64, OffloadError> {
        match t.expected {
            Some(size) if chunking => {
                let chunk = cfg.chunk.clamp(MIN_CHUNK, MAX_CHUNK);
                let mut off = resume;
                while off < size {
                    if stop.load(Ordering::Relaxed) {
                        f.sync()?;
                        return Err(OffloadError::Interrupted);
                    }
                    let want = (size - off).min(chunk as u64) as u32;
                    // size < 4 GiB here, so the offset fits the u32 parameter.
                    let n = s.read_partial(handle, off as u32, want, &mut |b| {
                        f.write(b)?;
                        progress.file_progress(f.written());
                        Ok(())
                    })?;
                    if n == 0 {
                        return Err(OffloadError::Protocol(format!(
                            "GetPartialObject returned no data at offset {off} of {size}"
                        )));
                    }
                    off += n;
                }
                Ok(size)
            }
            _ => {
                // One data phase; its Start Data gives a 64-bit total, so objects of
                // 4 GiB and more work too (not resumable: u32 offsets).
                let n = s.read_object(handle, &mut |b| {
                    f.write(b)?;
                    progress.file_progress(f.written());
                    Ok(())
                })?;
                if let Some(sz) = t.expected {
                    if sz != n {
                        return Err(OffloadError::Protocol(format!(
                            "{name:?}: the camera declared {sz} bytes but sent {n}"
                        )));
                    }
                }
                Ok(n)
            }
        }
    })();
    match r {
        Ok(size) => {
            let p = store.commit(t, f, size)?;
            Ok((p, size - resume))
        }
        Err(e) => {
            match &e {
                OffloadError::DiskFull(_) | OffloadError::Protocol(_) => {
                    drop(f);
                    store.discard(t);
                }
                _ if !chunking => {
                    // Nothing to resume from without GetPartialObject.
                    drop(f);
                    store.discard(t);
                    log::warn!(
                        "{name:?} was not finished and cannot be resumed ({}): the partial \
                         file was removed and the next run downloads it from the start",
                        if t.expected.is_none() {
                            "4 GiB or more: the camera sends such files only whole"
                        } else {
                            "the camera does not offer GetPartialObject"
                        }
                    );
                }
                _ => {
                    // Keep what arrived for the next activation.
                    let _ = f.sync();
                    log::info!(
                        "{name:?}: {} of {} bytes kept in {}; the next run resumes there",
                        f.written(),
                        t.expected.unwrap_or(0),
                        t.temp_path.display()
                    );
                }
            }
            Err(e)
        }
    }
}

/// The daemon: listen, run one session per activation, go back to listening, until
/// `stop` is set (or after one session with `once`). Session errors are logged and the
/// daemon keeps listening, except with `once`, where the error is returned.
pub fn run(
    cfg: &OffloadConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<Summary, OffloadError> {
    if let Some(addr) = cfg.camera {
        return connect_until(addr, cfg, progress, stop);
    }
    let listener =
        Listener::start(cfg.ssdp.clone()).map_err(|e| OffloadError::Discovery(e.to_string()))?;
    let mut total = Summary::default();
    let mut last_done: Vec<(IpAddr, Instant, Duration)> = Vec::new();
    let mut idle_since = Instant::now();
    progress.waiting();
    while !stop.load(Ordering::Relaxed) {
        if cfg.timeout.is_some_and(|t| idle_since.elapsed() >= t) {
            total.timed_out = true;
            break;
        }
        let Some(found) = listener.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        last_done.retain(|(_, t, cool)| t.elapsed() < *cool);
        if last_done.iter().any(|(a, _, _)| *a == found.addr) {
            log::debug!("ignoring a repeated announcement from {}", found.addr);
            continue;
        }
        let addr = SocketAddr::new(found.addr, cfg.ptpip_port);
        log::info!("camera announced at {} ({})", found.addr, found.location);
        let r = offload_camera(addr, cfg, progress, stop);
        let cool = match &r {
            Err(e) if e.is_connection_lost() => RETRY_COOLDOWN,
            _ => COOLDOWN,
        };
        last_done.push((found.addr, Instant::now(), cool));
        idle_since = Instant::now();
        // Announcements queued during the session are stale.
        while listener.recv_timeout(Duration::ZERO).is_some() {}
        match r {
            Ok(s) => {
                total.downloaded += s.downloaded;
                total.skipped += s.skipped;
                total.bytes += s.bytes;
                total.saved_bytes += s.saved_bytes;
                total.files.extend(s.files);
            }
            Err(e) if cfg.once => return Err(e),
            Err(OffloadError::Interrupted) => break,
            Err(e) => log::error!("offload from {}: {e}", found.addr),
        }
        if cfg.once {
            break;
        }
        progress.waiting();
    }
    Ok(total)
}

/// `--camera ADDR`: one session; with a timeout, attempts that find no camera there
/// are repeated (every second) until it has passed.
fn connect_until(
    addr: SocketAddr,
    cfg: &OffloadConfig,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
) -> Result<Summary, OffloadError> {
    let Some(timeout) = cfg.timeout else {
        return offload_camera(addr, cfg, progress, stop);
    };
    let start = Instant::now();
    loop {
        match offload_camera(addr, cfg, progress, stop) {
            Err(OffloadError::NoAnswer { reason, .. }) => {
                log::debug!("no camera at {addr} yet: {reason}");
                if start.elapsed() >= timeout {
                    return Ok(Summary {
                        timed_out: true,
                        ..Summary::default()
                    });
                }
                let next = Instant::now() + Duration::from_secs(1);
                while Instant::now() < next {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(Summary::default());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            r => return r,
        }
    }
}
