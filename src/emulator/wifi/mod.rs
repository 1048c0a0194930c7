//! The emulated Sony body's Wi-Fi side in "Send to Computer" mode: an SSDP announcer,
//! the UPnP device description over HTTP, and a PTP/IP responder serving a directory of
//! files as a memory card (docs/protocol/emulator.md#wi-fi-send-to-computer-body).
//!
//! This is an independent implementation of the CAMERA side. It must never use the
//! host-side code (`offload`, `camera`, `pipeline`): if both sides shared logic, their
//! bugs would cancel out in tests. Network use is limited to the configured bind address;
//! tests keep everything on loopback or in a network namespace they create.
//!
//! Lifecycle: [`WifiEmulator::start`] binds the sockets and starts named threads;
//! "one activation" allows exactly one PTP/IP session (like the real body, a second Init
//! Command Request is accepted at TCP level and never answered) until
//! [`WifiEmulator::reactivate`] simulates the user entering the menu again. The Sony end
//! command powers the body off: the session closes and announcing stops.

mod http;
mod netfaults;
mod remote;
mod responder;
mod session;
mod ssdp;
mod storage;
mod wire;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::emulator::Body;
use crate::ptp::codes::OpCode;

pub use netfaults::{NetFaults, RETRANSMIT_DELAY};
pub use storage::{format_for_name, FakeObject, STORAGE_ID};

/// Decides whether an initiator GUID is registered with this body (Init Fail otherwise).
pub type GuidCheck = Box<dyn Fn(&[u8; 16]) -> bool + Send + Sync>;

/// Parses a GUID written as 32 hex digits, optionally separated by `:`, `-` or spaces
/// (libgphoto2's `ptp2_ip=guid=` form is 16 colon-separated bytes).
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    crate::config::parse_guid(s).ok()
}

/// Errors starting or stopping the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The files directory could not be read.
    #[error("cannot read the files directory {path}: {err}")]
    Files {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        err: std::io::Error,
    },
    /// A socket could not be bound.
    #[error("cannot listen on {what} {addr}: {err} (is another emulator or camera tool running?)")]
    Bind {
        /// Which socket (PTP/IP, HTTP).
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        err: std::io::Error,
    },
    /// The SSDP socket could not be set up.
    #[error("ssdp socket setup failed: {0}")]
    Ssdp(std::io::Error),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// How the body sends data-in phases (docs/protocol/ptpip.md#data-in: both styles exist in
/// the wild).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataInStyle {
    /// Start Data, all payload in Data packets, then an empty End Data (what Sony sends).
    #[default]
    EmptyEndData,
    /// Start Data, Data packets, the last chunk inside End Data (libgphoto2's style).
    LastChunkInEndData,
}

/// Fault switches. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Cut both connections after this many object bytes have been sent (counted over
    /// GetObject and GetPartialObject), once per emulator.
    pub drop_after_bytes: Option<u64>,
    /// Cap the data-in payload rate (bytes per second).
    pub rate_limit: Option<u64>,
    /// Extra objects in the first date folder: hostile names, lying sizes.
    pub fake_objects: Vec<FakeObject>,
    /// Close both connections right after the power-off reply, without waiting for
    /// CloseSession (by default the body answers a CloseSession sent within 2 s).
    pub abrupt_power_off: bool,
}

/// SSDP announcer settings.
#[derive(Debug, Clone)]
pub struct SsdpConfig {
    /// Whether the body announces itself and answers searches.
    pub enabled: bool,
    /// Where NOTIFYs go: 239.255.255.250:1900 normally; tests may use a loopback
    /// unicast address.
    pub target: SocketAddr,
    /// UDP port to receive M-SEARCH on (1900 normally, 0 = ephemeral for tests).
    pub listen_port: u16,
    /// NOTIFY repetition while waiting for a session (the real interval is UNCONFIRMED).
    pub interval: Duration,
}

impl Default for SsdpConfig {
    fn default() -> Self {
        SsdpConfig {
            enabled: true,
            target: SocketAddr::new(IpAddr::V4(ssdp::MULTICAST_ADDR), 1900),
            listen_port: 1900,
            interval: Duration::from_secs(3),
        }
    }
}

/// Everything the emulated body is configured with.
pub struct WifiConfig {
    /// Address every socket binds to; multicast leaves through this interface only.
    pub bind: IpAddr,
    /// PTP/IP port (15740; 0 = ephemeral).
    pub ptpip_port: u16,
    /// Port of the device-description HTTP server (the A7S used 1900; 0 = ephemeral).
    pub http_port: u16,
    /// SSDP settings.
    pub ssdp: SsdpConfig,
    /// The memory card's contents.
    pub files_dir: PathBuf,
    /// Registered initiator GUIDs; see [`WifiConfig::accept_guids`].
    pub accept: GuidCheck,
    /// Model name in DeviceInfo and the SSDP description.
    pub model: String,
    /// Serial number in DeviceInfo.
    pub serial: String,
    /// The body's GUID; its last 6 bytes also form the SSDP uuid tail (Sony uses the MAC).
    pub responder_guid: [u8; 16],
    /// Send the protocol version after the name in Init Command Ack (a Sony sample
    /// omits it, docs/protocol/ptpip.md#packet-layouts).
    pub ack_with_version: bool,
    /// How Data packets are laid out for data-in phases.
    pub data_in_style: DataInStyle,
    /// Payload bytes per Data packet.
    pub chunk_size: usize,
    /// Faults to inject.
    pub faults: Faults,
    /// PC Remote mode: this body answers on PTP/IP (SDIO handshake, live view) instead
    /// of offering files for Send to Computer; `files_dir` may then be empty.
    pub pc_remote: Option<Arc<Body>>,
}

impl WifiConfig {
    /// Defaults: 127.0.0.1, port 15740, HTTP 1900, SSDP on, ILCE-6400, any GUID accepted.
    pub fn new(files_dir: impl Into<PathBuf>) -> WifiConfig {
        WifiConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ptpip_port: 15740,
            http_port: 1900,
            ssdp: SsdpConfig::default(),
            files_dir: files_dir.into(),
            accept: Box::new(|_| true),
            model: "ILCE-6400".into(),
            serial: "00000000000000003282933003547562".into(),
            responder_guid: [
                0, 0, 0, 0, 0, 1, 0, 0x10, 0x80, 0, 0x78, 0x4b, 0x87, 0xa9, 0x89, 0x9a,
            ],
            ack_with_version: false,
            data_in_style: DataInStyle::default(),
            chunk_size: 256 * 1024,
            faults: Faults::default(),
            pc_remote: None,
        }
    }

    /// A body in PC Remote mode: live view over PTP/IP, no files; descriptions on HTTP
    /// port 64321, as reported for real bodies.
    pub fn pc_remote(body: Body) -> WifiConfig {
        let mut c = WifiConfig::new(PathBuf::new());
        c.http_port = 64321;
        c.model = body.model.clone();
        c.serial = body.serial.clone();
        c.pc_remote = Some(Arc::new(body));
        c
    }

    /// Accept exactly these GUIDs.
    pub fn accept_guids(mut self, guids: Vec<[u8; 16]>) -> WifiConfig {
        self.accept = Box::new(move |g| guids.contains(g));
        self
    }

    /// Everything on ephemeral ports, NOTIFYs sent unicast to `ssdp_target` (or SSDP
    /// off when `None`): what tests in the shared network namespace use.
    pub fn for_tests(mut self, ssdp_target: Option<SocketAddr>) -> WifiConfig {
        self.ptpip_port = 0;
        self.http_port = 0;
        self.ssdp.listen_port = 0;
        match ssdp_target {
            Some(t) => self.ssdp.target = t,
            None => self.ssdp.enabled = false,
        }
        self
    }
}

/// Where the body is in its Send-to-Computer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Announcing, waiting for an initiator.
    Waiting,
    /// A session is running.
    InSession,
    /// The session ended without the power-off: further Init Command Requests are held
    /// unanswered until [`WifiEmulator::reactivate`].
    Used,
    /// The Sony end command was completed.
    PoweredOff,
}

/// Counters and logs, for tests and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WifiStats {
    /// Init Command Requests received.
    pub init_requests: u32,
    /// Init Fail packets sent.
    pub init_fails: u32,
    /// Init Command Requests accepted at TCP level and never answered.
    pub unanswered_inits: u32,
    /// Init Command Acks sent (sessions started at PTP/IP level).
    pub sessions: u32,
    /// Every operation received, in order, over all sessions.
    pub ops: Vec<OpCode>,
    /// The Sony start (0x9280 sub-command 2 + 0x9281) completed at least once.
    pub started: bool,
    /// The body was told to power off.
    pub powered_off: bool,
    /// Object payload bytes sent.
    pub object_bytes_sent: u64,
    /// Connections dropped on purpose.
    pub drops_injected: u32,
    /// SSDP alive notifications sent.
    pub notifies_sent: u32,
    /// SSDP byebye notifications sent.
    pub byebyes_sent: u32,
    /// SSDP searches answered.
    pub searches_answered: u32,
    /// HTTP requests answered.
    pub http_requests: u32,
}

const MAX_LOGGED_OPS: usize = 100_000;

pub(crate) struct State {
    activation: Activation,
    stats: WifiStats,
    /// Every accepted stream, so stop() can unblock their threads.
    conns: std::collections::HashMap<u64, TcpStream>,
    next_conn_id: u64,
    /// The current session's command and event streams.
    session_conns: Vec<TcpStream>,
    next_connection: u32,
    current_connection: Option<u32>,
    event_attached: bool,
    /// The current session's event connection (PC Remote sends property events on it).
    event_stream: Option<TcpStream>,
    drop_budget: Option<u64>,
}

pub(crate) struct Shared {
    pub identity: session::Identity,
    pub responder_guid: [u8; 16],
    pub ack_with_version: bool,
    pub style: DataInStyle,
    pub chunk_size: usize,
    pub rate_limit: Option<u64>,
    pub abrupt_power_off: bool,
    pub pc_remote: Option<Arc<Body>>,
    pub net: Arc<NetFaults>,
    pub accept: GuidCheck,
    pub storage: storage::Storage,
    pub uuid: String,
    pub location: String,
    pub ssdp: SsdpConfig,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection thread must not take the whole emulator down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    pub(crate) fn bump(&self, f: impl FnOnce(&mut WifiStats)) {
        f(&mut self.lock().stats);
        self.notify();
    }
}

/// A running emulated body. Dropping it stops it.
pub struct WifiEmulator {
    shared: Arc<Shared>,
    ptpip_addr: SocketAddr,
    http_addr: SocketAddr,
    ssdp_addr: Option<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(Error::Thread)
}

fn uuid_for(guid: &[u8; 16]) -> String {
    let mac: String = guid[10..].iter().map(|b| format!("{b:02x}")).collect();
    format!("uuid:00000000-0001-0010-8000-{mac}")
}

impl WifiEmulator {
    /// Scans the files, binds PTP/IP, HTTP and (if enabled) SSDP, and starts announcing.
    pub fn start(cfg: WifiConfig) -> Result<WifiEmulator, Error> {
        let storage = if cfg.pc_remote.is_some() && cfg.files_dir.as_os_str().is_empty() {
            storage::Storage::empty()
        } else {
            storage::Storage::scan(&cfg.files_dir, &cfg.faults.fake_objects).map_err(|source| {
                Error::Files {
                    path: cfg.files_dir.clone(),
                    err: source,
                }
            })?
        };
        let bind = |what, port| {
            let addr = SocketAddr::new(cfg.bind, port);
            TcpListener::bind(addr).map_err(|err| Error::Bind { what, addr, err })
        };
        let ptpip = bind("ptp/ip", cfg.ptpip_port)?;
        let http = bind("http", cfg.http_port)?;
        let ptpip_addr = ptpip.local_addr().map_err(Error::Ssdp)?;
        let http_addr = http.local_addr().map_err(Error::Ssdp)?;
        let udp: Option<UdpSocket> = if cfg.ssdp.enabled {
            Some(ssdp::socket(cfg.bind, &cfg.ssdp)?)
        } else {
            None
        };
        let ssdp_addr = match &udp {
            Some(u) => Some(u.local_addr().map_err(Error::Ssdp)?),
            None => None,
        };
        let location = format!(
            "http://{http_addr}{}",
            http::location_path(cfg.pc_remote.is_some())
        );
        let shared = Arc::new(Shared {
            identity: session::Identity {
                model: cfg.model,
                serial: cfg.serial,
                version: "2.00".into(),
            },
            responder_guid: cfg.responder_guid,
            ack_with_version: cfg.ack_with_version,
            style: cfg.data_in_style,
            chunk_size: cfg.chunk_size.clamp(1, 16 << 20),
            rate_limit: cfg.faults.rate_limit.filter(|&r| r > 0),
            abrupt_power_off: cfg.faults.abrupt_power_off,
            pc_remote: cfg.pc_remote,
            net: Arc::new(NetFaults::new()),
            accept: cfg.accept,
            storage,
            uuid: uuid_for(&cfg.responder_guid),
            location,
            ssdp: cfg.ssdp,
            state: Mutex::new(State {
                activation: Activation::Waiting,
                stats: WifiStats::default(),
                conns: std::collections::HashMap::new(),
                next_conn_id: 0,
                session_conns: Vec::new(),
                next_connection: 1,
                current_connection: None,
                event_attached: false,
                event_stream: None,
                drop_budget: cfg.faults.drop_after_bytes,
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        log::info!(
            "emulator: {} in {} mode, ptp/ip on {ptpip_addr}, description at {}",
            shared.identity.model,
            if shared.pc_remote.is_some() {
                "PC Remote"
            } else {
                "Send to Computer"
            },
            shared.location
        );
        let mut threads = Vec::new();
        let s = Arc::clone(&shared);
        threads.push(spawn("emu-wifi-ptpip", move || {
            responder::accept_loop(s, ptpip)
        })?);
        let s = Arc::clone(&shared);
        threads.push(spawn("emu-wifi-http", move || http::serve(s, http))?);
        if let Some(u) = udp {
            let first = ssdp::announce_now(&shared, &u);
            let s = Arc::clone(&shared);
            threads.push(spawn("emu-wifi-ssdp", move || ssdp::run(s, u, first))?);
        }
        Ok(WifiEmulator {
            shared,
            ptpip_addr,
            http_addr,
            ssdp_addr,
            threads,
        })
    }

    /// Where the PTP/IP command port listens.
    pub fn ptpip_addr(&self) -> SocketAddr {
        self.ptpip_addr
    }

    /// Where the HTTP description server listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The UDP address M-SEARCHes are answered on (`None` with SSDP off).
    pub fn ssdp_addr(&self) -> Option<SocketAddr> {
        self.ssdp_addr
    }

    /// The LOCATION URL announced.
    pub fn location(&self) -> &str {
        &self.shared.location
    }

    /// What the body has seen so far.
    pub fn stats(&self) -> WifiStats {
        self.shared.lock().stats.clone()
    }

    /// Whether the body currently waits for a host (Send to Computer chosen).
    pub fn activation(&self) -> Activation {
        self.shared.lock().activation
    }

    /// Waits until `pred` holds for the stats or `timeout` passes; returns the stats
    /// either way (tests assert on them; the timeout only bounds a hang).
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&WifiStats) -> bool) -> WifiStats {
        self.wait_state(timeout, |st| pred(&st.stats)).stats.clone()
    }

    /// Waits until the activation is `want` or `timeout` passes; returns the activation.
    pub fn wait_for_activation(&self, timeout: Duration, want: Activation) -> Activation {
        self.wait_state(timeout, |st| st.activation == want)
            .activation
    }

    fn wait_state(
        &self,
        timeout: Duration,
        pred: impl Fn(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while !pred(&st) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st
    }

    /// The Wi-Fi fault switches of the PC Remote mode (latency, jitter, loss, stall).
    pub fn net_faults(&self) -> &Arc<NetFaults> {
        &self.shared.net
    }

    /// Cuts both connections of the current session at once (a reset link). In PC
    /// Remote mode the host may connect again right away.
    pub fn drop_connections(&self) {
        let st = self.shared.lock();
        for c in &st.session_conns {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        drop(st);
        self.shared.notify();
    }

    /// The user picks "Send to Computer" again: a new session is allowed and announcing
    /// resumes. A running session is cut first.
    pub fn reactivate(&self) {
        let mut st = self.shared.lock();
        for c in st.session_conns.drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        st.activation = Activation::Waiting;
        st.current_connection = None;
        st.event_attached = false;
        st.stats.powered_off = false;
        drop(st);
        self.shared.notify();
    }

    /// Sends ssdp:byebye (if still announcing), closes every socket and joins the threads.
    pub fn stop(mut self) -> WifiStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut st = self.shared.lock();
            for (_, c) in st.conns.drain() {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            st.session_conns.clear();
        }
        self.shared.notify();
        // Wake the blocking accept() calls.
        for addr in [self.ptpip_addr, self.http_addr] {
            let mut a = addr;
            if a.ip().is_unspecified() {
                a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
            let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for WifiEmulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
