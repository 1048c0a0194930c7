//! Sony PC Remote: the connect handshake (docs/protocol/sony-usb.md#connect-handshake)
//! and live-view polling (docs/protocol/sony-usb.md#live-view), over any [`Link`].
//! [`Camera`] owns the session; dropping it closes the session. [`SonyCamera`] is the
//! USB one; [`Camera::connect_ptpip`] reaches a body in PC Remote over Wi-Fi or
//! Ethernet, with the sequence published for the network ([`Handshake::Network`]); the
//! live-view loop is the same on both.
//!
//! The property model is kept current by the body's 0xC203 "property changed" events
//! (docs/protocol/sony-usb.md#events): [`Camera::poll_events`] marks the named property
//! stale and [`Camera::refresh_stale`] re-reads 0x9209 only then. The live-view loop
//! reads the event pipe while it waits for the next request anyway (at least every
//! [`EVENT_POLL_MAX_GAP`]), so events cost it no time. A body that never sent an event
//! on this connection (the ILCE-5100 has no interrupt endpoint) is polled instead, on
//! the schedule of whoever asks.

use super::link::{Link, PtpIpLink, UsbLink};
use super::pacing::Pacer;
use super::session::{DataPhase, Session};
use super::usb_mode::{has_usb_live_view, pc_remote_steps, ptp_face, PtpFace};
use super::CameraError;
use crate::ptp::codes::{handle, vendor};
use crate::ptp::dataset::DeviceInfo;
use crate::ptp::props::{PropModel, EVENT_PROPERTY_CHANGED};
use crate::ptp::sony::{self as sony_ds, AllProps, ExtDeviceInfo, PropValue};
use crate::ptp::{OpCode, PropCode, ResponseCode};
use crate::transport::tcp::TcpConfig;
use crate::transport::Transport;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// LiveViewImageQuality (0xD26A) values: the body sends a larger live view at High
/// (docs/protocol/sony-usb.md#properties-we-touch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveViewQuality {
    /// The smaller live-view picture.
    Low = 1,
    /// The larger live-view picture.
    High = 2,
}

impl LiveViewQuality {
    /// The name shown to people ("low" or "high").
    pub fn label(self) -> &'static str {
        match self {
            LiveViewQuality::Low => "low",
            LiveViewQuality::High => "high",
        }
    }
}

/// The live-view loop reads the event pipe in its wait before a request when the wait
/// is at least this long.
const EVENT_READ_SLACK: Duration = Duration::from_millis(3);
/// ... and at least this often when there is no wait (a slow body).
pub const EVENT_POLL_MAX_GAP: Duration = Duration::from_millis(100);
/// Outside live view, the event pipe is read at most this often.
const EVENT_POLL_GAP: Duration = Duration::from_millis(5);
/// Live view counts as running (and reading the event pipe itself) this long after its
/// last request.
const LIVE_VIEW_RUNNING: Duration = Duration::from_millis(100);

/// Which connect sequence a body expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handshake {
    /// USB (docs/protocol/sony-usb.md#connect-handshake): OpenSession, GetDeviceInfo,
    /// SDIO_Connect 1 and 2, SDIO_GetExtDeviceInfo, SDIO_Connect 3, PC priority
    /// (0x9205), 0x9209.
    #[default]
    Usb,
    /// PTP/IP, as published for PC Remote over the network: OpenSession, SDIO_Connect 1
    /// and 2, GetDeviceInfo, SDIO_GetExtDeviceInfo(0x12C), SDIO_Connect 3, 0x9209.
    Network,
}

/// How the handshake and polling behave.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The connect sequence (set by the connect function of each link).
    pub handshake: Handshake,
    /// Per-transfer timeout once live view runs (a wireless link wants more).
    pub live_timeout: Duration,
    /// Cap on live-view requests per second (at most 30).
    pub max_fps: u32,
    /// Give up on live view after this long without a frame.
    pub stall_timeout: Duration,
    /// Tries of SDIO_GetExtDeviceInfo while its data phase is empty.
    pub ext_info_tries: u32,
    /// Pause between those tries.
    pub ext_info_pause: Duration,
    /// Ask for PC priority (PriorityMode 0xD25A = 1); off for read-only uses like
    /// `alpha-bridge list -v`.
    pub priority_mode: bool,
    /// Set LiveViewImageQuality to this when the body lists it; `None` leaves it.
    pub live_view_quality: Option<LiveViewQuality>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            handshake: Handshake::Usb,
            live_timeout: Duration::from_secs(2),
            max_fps: 30,
            stall_timeout: Duration::from_secs(10),
            ext_info_tries: 30,
            ext_info_pause: Duration::from_millis(100),
            priority_mode: true,
            live_view_quality: Some(LiveViewQuality::High),
        }
    }
}

/// What the live-view loop has seen, for the stats line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveViewCounters {
    /// GetObject requests for the live-view object.
    pub requests: u64,
    /// Objects that held a picture.
    pub frames: u64,
    /// Answers "not ready yet" (0x200F).
    pub not_ready: u64,
    /// Objects that held no picture.
    pub empty: u64,
}

/// A connected Sony body in PC Remote mode.
pub struct Camera<L: Link> {
    /// `None` only after `close` consumed the camera.
    s: Option<Session<L>>,
    info: DeviceInfo,
    ext: ExtDeviceInfo,
    /// The property model from the handshake's 0x9209; `None` when it was unreadable.
    props: Option<PropModel>,
    /// LiveViewImageQuality as the body has it after the handshake, when it lists it.
    lv_quality: Option<i128>,
    opts: ConnectOptions,
    pacer: Pacer,
    last_frame: Instant,
    counters: LiveViewCounters,
    /// Reused for 0x9209 re-reads.
    scratch: Vec<u8>,
    events: EventState,
}

/// What the camera's events told so far.
#[derive(Debug, Clone, Copy)]
struct EventState {
    /// The body has announced a property change with an event on this connection: from
    /// then on its properties are re-read only when an event says so.
    live: bool,
    /// An event named a property the model does not have yet.
    unknown_changed: bool,
    /// Property-changed events taken.
    changes: u64,
    /// 0x9209 reads after the handshake.
    reads: u64,
    /// The last 0x9209 read (the handshake's first).
    last_read: Instant,
    last_link_poll: Option<Instant>,
    last_live_request: Option<Instant>,
}

/// A Sony body over USB.
pub type SonyCamera<T> = Camera<UsbLink<T>>;

impl<T: Transport> Camera<UsbLink<T>> {
    /// Runs the whole connect handshake over a USB transport.
    pub fn connect(t: T, opts: ConnectOptions) -> Result<SonyCamera<T>, CameraError> {
        let opts = ConnectOptions {
            handshake: Handshake::Usb,
            ..opts
        };
        Camera::connect_link(UsbLink::new(t), opts)
    }
}

impl Camera<PtpIpLink> {
    /// Connects to a body in PC Remote over the network at `addr` (port 15740): the
    /// PTP/IP Init handshake with the paired `guid` (an unpaired computer gets
    /// [`CameraError::NotPaired`]), then the network connect sequence.
    pub fn connect_ptpip(
        addr: SocketAddr,
        guid: [u8; 16],
        host_name: &str,
        tcp: TcpConfig,
        opts: ConnectOptions,
    ) -> Result<Camera<PtpIpLink>, CameraError> {
        let link = PtpIpLink::connect(addr, guid, host_name, tcp)?;
        log::info!("ptp/ip: connected to {:?} at {addr}", link.responder().name);
        let opts = ConnectOptions {
            handshake: Handshake::Network,
            ..opts
        };
        Camera::connect_link(link, opts)
    }
}

impl<L: Link> Camera<L> {
    /// Runs the whole connect handshake over `link`. On failure the session is closed
    /// again.
    pub fn connect_link(link: L, opts: ConnectOptions) -> Result<Camera<L>, CameraError> {
        let mut s = Session::over(link);
        s.open_session()?;
        match Self::handshake(&mut s, &opts) {
            Ok((info, ext, props, lv_quality)) => {
                s.set_timeout(opts.live_timeout);
                Ok(Camera {
                    s: Some(s),
                    info,
                    ext,
                    props,
                    lv_quality,
                    pacer: Pacer::new(opts.max_fps),
                    opts,
                    last_frame: Instant::now(),
                    counters: LiveViewCounters::default(),
                    scratch: Vec::new(),
                    events: EventState {
                        live: false,
                        unknown_changed: false,
                        changes: 0,
                        reads: 0,
                        last_read: Instant::now(),
                        last_link_poll: None,
                        last_live_request: None,
                    },
                })
            }
            Err(e) => {
                s.close_session();
                Err(e)
            }
        }
    }

    fn handshake(
        s: &mut Session<L>,
        opts: &ConnectOptions,
    ) -> Result<(DeviceInfo, ExtDeviceInfo, Option<PropModel>, Option<i128>), CameraError> {
        let mut buf = Vec::new();
        let (info, ext) = match opts.handshake {
            Handshake::Usb => {
                let info = Self::identify(s, check_pc_remote)?;
                Self::connect_phases(s, &mut buf)?;
                let ext = Self::ext_device_info(
                    s,
                    opts,
                    &info,
                    &[sony_ds::SDIO_VERSION_3 as u32, 1],
                    &mut buf,
                )?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                // "PC priority" so the host may change settings; bodies that refuse
                // still stream.
                match opts.priority_mode.then(|| {
                    s.transaction(
                        OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
                        &[PropCode::PRIORITY_MODE.0 as u32],
                        DataPhase::Out(&[1]),
                    )
                }) {
                    None => {}
                    Some(Ok(r)) if r.code == ResponseCode::OK => {}
                    Some(Ok(r)) => log::debug!("priority mode not accepted: {}", r.code),
                    Some(Err(e)) => return Err(e),
                }
                (info, ext)
            }
            Handshake::Network => {
                Self::connect_phases(s, &mut buf)?;
                let info = Self::identify(s, check_network_pc_remote)?;
                let ext = Self::ext_device_info(
                    s,
                    opts,
                    &info,
                    &[sony_ds::SDIO_VERSION_3 as u32],
                    &mut buf,
                )?;
                s.checked(OpCode::SDIO_CONNECT, &[3, 0, 0], DataPhase::In(&mut buf))?;
                (info, ext)
            }
        };
        s.checked(
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO,
            &[],
            DataPhase::In(&mut buf),
        )?;
        let props = match AllProps::parse(&buf, ext.generation(), &ext.announced()) {
            Ok(all) => {
                for sk in all.skipped() {
                    log::debug!(
                        "0x9209: skipped {} bytes at offset {} (code {:04x?}): {}",
                        sk.bytes.len(),
                        sk.offset,
                        sk.code,
                        sk.reason
                    );
                }
                let model = PropModel::from_all_props(&all);
                let lv = model.get(PropCode::LIVE_VIEW_STATUS.0);
                log::debug!(
                    "{} properties ({} skipped, {} declared) read as protocol {}; live view status {:?}",
                    model.properties.len(),
                    model.skipped.len(),
                    all.declared,
                    ext.generation().label(),
                    lv.map(|p| &p.current)
                );
                if lv.is_some_and(|p| p.current == PropValue::Int(0)) {
                    log::info!("the camera reports live view as off; waiting for frames");
                }
                Some(model)
            }
            // The dump is informational here; a body with an odd dataset still streams.
            Err(e) => {
                log::warn!("could not read the camera's property list: {e}");
                None
            }
        };
        let quality = Self::set_live_view_quality(s, opts, props.as_ref())?;
        Ok((info, ext, props, quality))
    }

    /// Asks for `opts.live_view_quality` when the body lists LiveViewImageQuality with
    /// another value (0x9205 with one byte, on both generations, like PriorityMode); a
    /// refusal is logged and streaming goes on. Returns the value the body now has.
    fn set_live_view_quality(
        s: &mut Session<L>,
        opts: &ConnectOptions,
        model: Option<&PropModel>,
    ) -> Result<Option<i128>, CameraError> {
        let Some(p) = model.and_then(|m| m.get(PropCode::LIVE_VIEW_IMAGE_QUALITY.0)) else {
            log::debug!("no LiveViewImageQuality listed: the body keeps its live-view size");
            return Ok(None);
        };
        let current = match p.current {
            PropValue::Int(v) => Some(v),
            _ => None,
        };
        let Some(want) = opts.live_view_quality else {
            return Ok(current);
        };
        if current == Some(want as i128) {
            return Ok(current);
        }
        let r = s.transaction(
            OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE,
            &[PropCode::LIVE_VIEW_IMAGE_QUALITY.0 as u32],
            DataPhase::Out(&[want as u8]),
        )?;
        if r.code == ResponseCode::OK {
            Ok(Some(want as i128))
        } else {
            log::debug!(
                "live-view quality {} not accepted: {}",
                want.label(),
                r.code
            );
            Ok(current)
        }
    }

    /// GetDeviceInfo, logged and checked with `check`.
    fn identify(
        s: &mut Session<L>,
        check: fn(&DeviceInfo) -> Result<(), CameraError>,
    ) -> Result<DeviceInfo, CameraError> {
        let info = s.device_info()?;
        log::info!(
            "connected to {} {} (serial {}, firmware {})",
            info.manufacturer,
            info.model,
            info.serial_number,
            info.device_version
        );
        check(&info)?;
        Ok(info)
    }

    /// SDIO_Connect phases 1 and 2.
    fn connect_phases(s: &mut Session<L>, buf: &mut Vec<u8>) -> Result<(), CameraError> {
        for phase in [1, 2] {
            s.checked(OpCode::SDIO_CONNECT, &[phase, 0, 0], DataPhase::In(buf))?;
        }
        Ok(())
    }

    fn ext_device_info(
        s: &mut Session<L>,
        opts: &ConnectOptions,
        info: &DeviceInfo,
        params: &[u32],
        buf: &mut Vec<u8>,
    ) -> Result<ExtDeviceInfo, CameraError> {
        for attempt in 1..=opts.ext_info_tries.max(1) {
            s.checked(OpCode::SDIO_GET_EXT_DEVICE_INFO, params, DataPhase::In(buf))?;
            if !buf.is_empty() {
                // The data's version decides the layout; Param1 of the response (0x0136
                // seen) is informational.
                let ext = ExtDeviceInfo::parse(buf)?;
                log::debug!(
                    "SDIO version {:#x} (protocol {}): {} properties, {} controls (attempt {attempt})",
                    ext.version,
                    ext.generation().label(),
                    ext.properties.len(),
                    ext.controls.len()
                );
                return Ok(ext);
            }
            std::thread::sleep(opts.ext_info_pause);
        }
        // libgphoto2 goes on in this case too: the codes come from DeviceInfo.
        log::debug!(
            "SDIO_GetExtDeviceInfo stayed empty after {} tries: going on as a protocol 2.00 \
             body with DeviceInfo's {} property codes",
            opts.ext_info_tries.max(1),
            info.device_properties_supported.len()
        );
        Ok(ExtDeviceInfo::fallback(&info.device_properties_supported))
    }

    /// The GetDeviceInfo answer read while connecting.
    pub fn device_info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The Sony extended device info (SDIO) read while connecting.
    pub fn ext_info(&self) -> &ExtDeviceInfo {
        &self.ext
    }

    /// LiveViewImageQuality after the handshake (1 low, 2 high), when the body lists it.
    pub fn live_view_quality(&self) -> Option<i128> {
        self.lv_quality
    }

    /// The property model read during the handshake (`None` when 0x9209 was unreadable),
    /// kept current by [`refresh_properties`](Self::refresh_properties).
    pub fn properties(&self) -> Option<&PropModel> {
        self.props.as_ref()
    }

    /// What the live-view loop has seen so far.
    pub fn counters(&self) -> LiveViewCounters {
        self.counters
    }

    /// Blocks until the next live-view object is in `buf` (non-empty), pacing requests
    /// and retrying "not ready" answers with bounded backoff. `Err(Stalled)` after
    /// `stall_timeout` without a frame; `stop` is checked between requests.
    pub fn next_live_view(
        &mut self,
        buf: &mut Vec<u8>,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), CameraError> {
        loop {
            if stop() {
                return Err(CameraError::Unsupported("stopped".into()));
            }
            if self.poll_live_view(buf)? {
                return Ok(());
            }
        }
    }

    /// One paced live-view request: `Ok(true)` with a frame in `buf`, `Ok(false)` when
    /// the body had none ready (the pacer backs off). Lets a caller run other
    /// transactions (camera control) between polls. `Err(Stalled)` after
    /// `stall_timeout` without a frame.
    pub fn poll_live_view(&mut self, buf: &mut Vec<u8>) -> Result<bool, CameraError> {
        let now = Instant::now();
        if now.duration_since(self.last_frame) > self.opts.stall_timeout {
            self.last_frame = now;
            return Err(CameraError::Stalled(self.opts.stall_timeout));
        }
        let at = self.pacer.next_request_at(now);
        let since_poll = self.events.last_link_poll.map(|t| now.duration_since(t));
        if at > now + EVENT_READ_SLACK || since_poll.is_none_or(|d| d >= EVENT_POLL_MAX_GAP) {
            self.read_event_pipe(now)?;
        }
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let sent = Instant::now();
        self.events.last_live_request = Some(sent);
        self.pacer.sent(sent);
        self.counters.requests += 1;
        let r = self.session().transaction(
            OpCode::GET_OBJECT,
            &[handle::LIVE_VIEW],
            DataPhase::In(buf),
        )?;
        match r.code {
            ResponseCode::OK if !buf.is_empty() => {
                self.pacer.frame(sent);
                self.counters.frames += 1;
                self.last_frame = Instant::now();
                Ok(true)
            }
            ResponseCode::OK => {
                self.counters.empty += 1;
                self.pacer.not_ready(Instant::now());
                Ok(false)
            }
            ResponseCode::ACCESS_DENIED
            | ResponseCode::INVALID_OBJECT_HANDLE
            | ResponseCode::DEVICE_BUSY => {
                if buf.is_empty() {
                    self.counters.not_ready += 1;
                } else {
                    self.counters.empty += 1;
                }
                self.pacer.not_ready(Instant::now());
                Ok(false)
            }
            code => Err(CameraError::Refused {
                op: OpCode::GET_OBJECT,
                code,
            }),
        }
    }

    fn read_event_pipe(&mut self, now: Instant) -> Result<(), CameraError> {
        self.events.last_link_poll = Some(now);
        self.session().poll_events()
    }

    /// Takes the events the camera sent and applies them to the property model: a
    /// 0xC203 marks its property stale (see [`refresh_stale`](Self::refresh_stale)).
    /// Reads the event pipe unless live view runs (it reads the pipe in its own waits);
    /// malformed and unknown events are logged at debug and dropped. Returns how many
    /// property changes were announced. Errors only when the link is gone.
    pub fn poll_events(&mut self) -> Result<usize, CameraError> {
        let now = Instant::now();
        let live_view = self
            .events
            .last_live_request
            .is_some_and(|t| now.duration_since(t) < LIVE_VIEW_RUNNING);
        let due = self
            .events
            .last_link_poll
            .is_none_or(|t| now.duration_since(t) >= EVENT_POLL_GAP);
        if !live_view && due {
            self.read_event_pipe(now)?;
        }
        let mut n = 0;
        for e in self.session().take_events() {
            let params = e.params.as_slice();
            let changed = match self.props.as_mut() {
                Some(m) => m
                    .on_event(e.code.0, params)
                    .map(|c| (c, m.get(c).is_some())),
                None if e.code.0 == EVENT_PROPERTY_CHANGED => params
                    .first()
                    .and_then(|&p| u16::try_from(p).ok())
                    .map(|c| (c, false)),
                None => None,
            };
            match changed {
                Some((code, known)) => {
                    log::debug!("event: property {code:#06x} changed");
                    n += 1;
                    self.events.live = true;
                    self.events.changes += 1;
                    self.events.unknown_changed |= !known;
                }
                None => log::debug!("ignoring event {:?} {params:x?}", e.code),
            }
        }
        Ok(n)
    }

    /// Whether the body announces property changes with events (it has sent one on this
    /// connection): then [`refresh_stale`](Self::refresh_stale) is all a watcher needs.
    /// Until then (and on a body without an event pipe) the caller polls.
    pub fn events_live(&self) -> bool {
        self.events.live
    }

    /// Whether an event said a property changed since the last 0x9209 read.
    pub fn has_stale(&self) -> bool {
        self.events.unknown_changed || self.props.as_ref().is_some_and(PropModel::has_stale)
    }

    /// Takes the camera's events and re-reads 0x9209 when one of them marked a property
    /// stale. Returns the codes whose value changed (empty when nothing was read).
    pub fn refresh_stale(&mut self) -> Result<Vec<u16>, CameraError> {
        self.poll_events()?;
        if !self.has_stale() {
            return Ok(Vec::new());
        }
        self.refresh_properties()
    }

    /// How long ago 0x9209 was last read (the handshake's read counts).
    pub fn since_properties_read(&self) -> Duration {
        self.events.last_read.elapsed()
    }

    /// (0x9209 reads since the handshake, property-changed events taken).
    pub fn event_counters(&self) -> (u64, u64) {
        (self.events.reads, self.events.changes)
    }

    /// Re-reads every property (0x9209) into the model (created when the handshake's
    /// read failed) and clears the stale marks. Returns the codes whose value changed.
    pub fn refresh_properties(&mut self) -> Result<Vec<u16>, CameraError> {
        self.events.reads += 1;
        self.events.last_read = Instant::now();
        self.events.unknown_changed = false;
        let (generation, announced) = (self.ext.generation(), self.ext.announced());
        let mut buf = std::mem::take(&mut self.scratch);
        let r = self.session().checked(
            OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO,
            &[],
            DataPhase::In(&mut buf),
        );
        let parsed = r.and_then(|_| Ok(AllProps::parse(&buf, generation, &announced)?));
        self.scratch = buf;
        let all = parsed?;
        Ok(match self.props.as_mut() {
            Some(m) => m.update(&all),
            None => {
                let m = PropModel::from_all_props(&all);
                let codes = m.properties.iter().map(|p| p.code).collect();
                self.props = Some(m);
                codes
            }
        })
    }

    /// While camera control runs a job, transactions may take longer than live view's
    /// timeout (a body busy storing a still answers late): at least 10 s.
    pub fn set_patient(&mut self, on: bool) {
        let t = if on {
            self.opts.live_timeout.max(Duration::from_secs(10))
        } else {
            self.opts.live_timeout
        };
        self.session().set_timeout(t);
    }

    /// The session, for other transactions between live-view polls (camera control).
    pub fn session_mut(&mut self) -> &mut Session<L> {
        self.session()
    }

    fn session(&mut self) -> &mut Session<L> {
        self.s.as_mut().expect("session present until close")
    }

    /// Drops the camera without CloseSession (the link is gone or stalled: a
    /// CloseSession would only wait for its timeout) and returns the link.
    pub fn abandon(mut self) -> L {
        let mut s = self.s.take().expect("session present until close");
        s.forget_session();
        s.into_link()
    }

    /// Closes the session and returns the link.
    pub fn close(mut self) -> L {
        let mut s = self.s.take().expect("session present until close");
        s.close_session();
        s.into_link()
    }
}

impl<L: Link> Drop for Camera<L> {
    fn drop(&mut self) {
        if let Some(s) = self.s.as_mut() {
            s.close_session();
        }
    }
}

/// Checks DeviceInfo for Sony PC Remote mode with USB live view; the error says what
/// to change on the camera.
pub fn check_pc_remote(info: &DeviceInfo) -> Result<(), CameraError> {
    if info.vendor_extension_id != vendor::SONY || !info.supports(OpCode::SDIO_GET_EXT_DEVICE_INFO)
    {
        return Err(CameraError::Unsupported(format!(
            "the {} is not in PC Remote mode (it answers as {}): {}",
            display_model(info),
            if ptp_face(info) == PtpFace::Mtp {
                "an MTP device, for file transfer only"
            } else {
                "a plain PTP device"
            },
            pc_remote_steps(&info.model)
        )));
    }
    // A6000 live view has also been reported to wedge the session.
    if !has_usb_live_view(&info.model) {
        return Err(CameraError::Unsupported(format!(
            "the {} gives no live view over USB (a firmware limit of this body, also seen by \
             libgphoto2); alpha-bridge needs a body with USB live view, such as the a6100/a6400/a7 III or later",
            info.model
        )));
    }
    Ok(())
}

/// Checks DeviceInfo of a body reached over the network: a Sony camera that knows the
/// SDIO connect operations (Sony bodies may report the MTP vendor id over PTP/IP, so
/// the vendor id alone does not decide).
pub fn check_network_pc_remote(info: &DeviceInfo) -> Result<(), CameraError> {
    let sony = info.vendor_extension_id == vendor::SONY || info.manufacturer.starts_with("Sony");
    if !sony {
        return Err(CameraError::Unsupported(format!(
            "the device at this address is not a Sony camera (it says {:?} {:?})",
            info.manufacturer, info.model
        )));
    }
    if !info.supports(OpCode::SDIO_CONNECT) && !info.operations_supported.is_empty() {
        return Err(CameraError::Unsupported(format!(
            "the {} is not in PC Remote mode over the network: on the camera set Network → \
             PC Remote Function → On and PC Remote Cnct Method to Wi-Fi or wired LAN, then \
             connect again",
            display_model(info)
        )));
    }
    Ok(())
}

fn display_model(info: &DeviceInfo) -> &str {
    if info.model.is_empty() {
        "camera"
    } else {
        &info.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptp::container::{data_header, Command, Params, Response};
    use crate::ptp::sony::ExtDeviceInfo;
    use crate::transport::{memory, DevicePipe};

    fn info(model: &str, vendor_id: u32, ops: &[u16]) -> DeviceInfo {
        DeviceInfo {
            vendor_extension_id: vendor_id,
            model: model.into(),
            manufacturer: "Sony Corporation".into(),
            operations_supported: ops.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn wrong_mode_and_bodies_without_live_view_say_what_to_do() {
        let e = check_pc_remote(&info("ILCE-6400", vendor::MTP, &[0x1001])).unwrap_err();
        assert!(e.to_string().contains("PC Remote"), "{e}");
        let e = check_pc_remote(&info("ILCE-6000", vendor::SONY, &[0x9202])).unwrap_err();
        assert!(e.to_string().contains("no live view over USB"), "{e}");
        check_pc_remote(&info("ILCE-6400", vendor::SONY, &[0x9202])).unwrap();
    }

    /// A minimal scripted body: answers the handshake, with 0x9202 empty twice.
    fn scripted_body(dev: memory::DeviceEnd, seen: std::sync::mpsc::Sender<(u16, Vec<u32>)>) {
        scripted_body_with(dev, seen, 2)
    }

    fn scripted_body_with(
        mut dev: memory::DeviceEnd,
        seen: std::sync::mpsc::Sender<(u16, Vec<u32>)>,
        mut empty_9202: u32,
    ) {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok(n) = dev.read_out(&mut buf, Duration::from_secs(5)) else {
                return;
            };
            let Ok(cmd) = Command::parse(&buf[..n]) else {
                continue;
            };
            let _ = seen.send((cmd.code.0, cmd.params.as_slice().to_vec()));
            let mut payload = Vec::new();
            match cmd.code {
                OpCode::GET_DEVICE_INFO => DeviceInfo {
                    device_properties_supported: vec![0x5005, 0xD21E],
                    ..info("ILCE-6400", vendor::SONY, &[0x1001, 0x9201, 0x9202])
                }
                .encode(&mut payload),
                OpCode::SDIO_CONNECT => payload = vec![0; 8],
                OpCode::SDIO_GET_EXT_DEVICE_INFO if empty_9202 > 0 => empty_9202 -= 1,
                OpCode::SDIO_GET_EXT_DEVICE_INFO => ExtDeviceInfo {
                    version: 0x12C,
                    properties: vec![0x5005],
                    controls: vec![0xD2C1],
                }
                .encode(&mut payload),
                OpCode::SDIO_SET_EXT_DEVICE_PROP_VALUE => {
                    let _ = dev.read_out(&mut buf, Duration::from_secs(5));
                }
                // One 2.00 descriptor: ISO (UINT32), enabled, no form.
                OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO => {
                    payload = vec![1, 0, 0, 0, 0, 0, 0, 0, 0x1E, 0xD2, 6, 0, 0, 1];
                    payload.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0, 0x90, 1, 0, 0, 0]);
                }
                _ => {}
            }
            let data_in = matches!(
                cmd.code,
                OpCode::GET_DEVICE_INFO
                    | OpCode::SDIO_CONNECT
                    | OpCode::SDIO_GET_EXT_DEVICE_INFO
                    | OpCode::SDIO_GET_ALL_EXT_DEVICE_PROP_INFO
            );
            if data_in {
                let mut c = data_header(cmd.code, cmd.tid, payload.len()).to_vec();
                c.extend_from_slice(&payload);
                let _ = dev.write_in(&c);
            }
            let mut r = Vec::new();
            Response {
                code: ResponseCode::OK,
                tid: cmd.tid,
                params: Params::default(),
            }
            .encode(&mut r);
            let _ = dev.write_in(&r);
        }
    }

    #[test]
    fn handshake_runs_in_order_and_repeats_an_empty_ext_device_info() {
        let (host, dev, _) = memory::pair(512);
        let (tx, rx) = std::sync::mpsc::channel();
        let body = std::thread::spawn(move || scripted_body(dev, tx));
        let opts = ConnectOptions {
            ext_info_pause: Duration::from_millis(1),
            ..Default::default()
        };
        let cam = SonyCamera::connect(host, opts).unwrap();
        assert_eq!(cam.ext_info().controls, vec![0xD2C1]);
        drop(cam.close());
        body.join().unwrap();
        let ops: Vec<(u16, Vec<u32>)> = rx.try_iter().collect();
        let expected: Vec<(u16, Vec<u32>)> = vec![
            (0x1002, vec![1]),
            (0x1001, vec![]),
            (0x9201, vec![1, 0, 0]),
            (0x9201, vec![2, 0, 0]),
            (0x9202, vec![0x12C, 1]),
            (0x9202, vec![0x12C, 1]),
            (0x9202, vec![0x12C, 1]),
            (0x9201, vec![3, 0, 0]),
            (0x9205, vec![0xD25A]),
            (0x9209, vec![]),
            (0x1003, vec![]),
        ];
        assert_eq!(ops, expected);
    }

    #[test]
    fn an_ext_device_info_that_stays_empty_falls_back_to_2_00() {
        let (host, dev, _) = memory::pair(512);
        let (tx, _rx) = std::sync::mpsc::channel();
        let body = std::thread::spawn(move || scripted_body_with(dev, tx, u32::MAX));
        let opts = ConnectOptions {
            ext_info_tries: 3,
            ext_info_pause: Duration::from_millis(1),
            ..Default::default()
        };
        let cam = SonyCamera::connect(host, opts).unwrap();
        let ext = cam.ext_info();
        assert_eq!(
            (ext.version, &ext.properties[..], &ext.controls[..]),
            (0x00C8, &[0x5005, 0xD21E][..], &[][..])
        );
        let props = cam.properties().expect("0x9209 read as 2.00");
        let iso = props.get(0xD21E).unwrap();
        assert_eq!(
            (iso.name, &iso.current),
            (Some("ISO"), &PropValue::Int(400))
        );
        drop(cam.close());
        body.join().unwrap();
    }

    /// The emulated body resizes its live view with LiveViewImageQuality (it starts at
    /// high): low when asked; the listing path (`None`) leaves it alone.
    #[test]
    fn live_view_quality_is_set_when_streaming_starts() {
        use crate::emulator::{Body, UsbEmulator};
        for (want, got, size) in [
            (None, Some(2), (1024, 680)),
            (Some(LiveViewQuality::Low), Some(1), (640, 424)),
            (Some(LiveViewQuality::High), Some(2), (1024, 680)),
        ] {
            let emu = UsbEmulator::new(Body::ilce_6400());
            let opts = ConnectOptions {
                live_view_quality: want,
                ..Default::default()
            };
            let mut cam = SonyCamera::connect(emu.connect().unwrap(), opts).unwrap();
            assert_eq!(cam.live_view_quality(), got, "{want:?}");
            let mut buf = Vec::new();
            let mut sizes = Vec::new();
            while sizes.len() < 30 && sizes.last() != Some(&size) {
                cam.next_live_view(&mut buf, &|| false).unwrap();
                if let Ok(f) = crate::frame::extract(&buf) {
                    sizes.push((f.width, f.height));
                }
            }
            assert_eq!(sizes.last(), Some(&size), "{want:?}: {sizes:?}");
            drop(cam.close());
        }
    }
}
