//! What the emulated body is (model, serial, protocol version, frame rate, picture
//! source, clock), the fault switches tests flip at run time ([`Faults`], atomics), and
//! the counters tests read back ([`Stats`]). Settings are kept apart from run state:
//! the responder's per-session state lives in `usb_camera`.

use super::control::{BodyEvent, BodyState};
use super::liveview::{Align512, DEFAULT_IMAGE_OFFSET};
use super::props::PropStore;
use super::testcard::TestCard;
use super::{Clock, EmulatorError, FrameContent, RealClock};
use crate::ptp::sony::{SDIO_VERSION_2, SDIO_VERSION_3};
use crate::ptp::OpCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Most operations kept in the [`Stats`] log.
pub const MAX_OP_LOG: usize = 1 << 16;

/// Switches that make the body misbehave the way real bodies do. All can be flipped
/// while a host is connected; counters are consumed one answer at a time.
#[derive(Debug, Default)]
pub struct Faults {
    ext_info_not_ready: AtomicU32,
    access_denied: AtomicU32,
    refuse: AtomicU64,
    empty_denied: AtomicU32,
    empty_ok: AtomicU32,
    zero_size_denied: AtomicU32,
    stray_soi: AtomicBool,
    align: AtomicU8,
    disconnect_mid_frame: AtomicBool,
    frame_size: AtomicU64,
    session_left_open: AtomicBool,
    lenient_tids: AtomicBool,
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Faults {
    /// The next `n` SDIO_GetExtDeviceInfo (0x9202) calls return an empty data phase
    /// with OK (a body that is not ready yet, docs/protocol/sony-usb.md#connect-handshake
    /// step 5).
    pub fn set_ext_info_not_ready(&self, n: u32) {
        self.ext_info_not_ready.store(n, Ordering::SeqCst);
    }

    /// The next `n` live-view GetObject calls answer AccessDenied (0x200F) with no data.
    pub fn deny_next(&self, n: u32) {
        self.access_denied.store(n, Ordering::SeqCst);
    }

    /// The next `n` live-view GetObject calls answer `code` with no data, e.g. DeviceBusy
    /// (0x2019) or InvalidObjectHandle (0x2009), which hosts must also retry.
    pub fn refuse_next(&self, code: u16, n: u32) {
        self.refuse
            .store(((code as u64) << 32) | n as u64, Ordering::SeqCst);
    }

    /// The next `n` live-view GetObject calls send a 12-byte data container (no payload)
    /// and then AccessDenied (A7R4, libgphoto2 #457).
    pub fn empty_denied_next(&self, n: u32) {
        self.empty_denied.store(n, Ordering::SeqCst);
    }

    /// The next `n` live-view GetObject calls send a 12-byte data container and then OK.
    pub fn empty_ok_next(&self, n: u32) {
        self.empty_ok.store(n, Ordering::SeqCst);
    }

    /// The next `n` live-view GetObject calls send a dataset header with image size 0
    /// and then AccessDenied (docs/protocol/sony-usb.md#not-ready-answers).
    pub fn zero_size_denied_next(&self, n: u32) {
        self.zero_size_denied.store(n, Ordering::SeqCst);
    }

    /// Puts `FF D8` / `FF D9` into the focal-frame data of every dataset (gphoto2 #389).
    pub fn set_stray_soi(&self, on: bool) {
        self.stray_soi.store(on, Ordering::SeqCst);
    }

    /// Makes datasets end on 512-byte boundaries.
    pub fn set_align_512(&self, align: Align512) {
        self.align.store(align.to_u8(), Ordering::SeqCst);
    }

    /// The next live-view frame is cut: part of its data container is sent, then the
    /// cable is pulled (the serve loop calls its disconnect hook and ends).
    pub fn disconnect_mid_next_frame(&self) {
        self.disconnect_mid_frame.store(true, Ordering::SeqCst);
    }

    /// Changes the live-view picture size from the next frame on.
    pub fn request_frame_size(&self, width: u32, height: u32) {
        self.frame_size
            .store(((width as u64) << 32) | height as u64, Ordering::SeqCst);
    }

    /// New connections find a session already open (a previous host exited without
    /// CloseSession): OpenSession answers SessionAlreadyOpen (0x201E).
    pub fn leave_session_open(&self, on: bool) {
        self.session_left_open.store(on, Ordering::SeqCst);
    }

    /// Accept any transaction id instead of answering InvalidTransactionID (0x2004) to
    /// repeated or decreasing ones.
    pub fn set_lenient_tids(&self, on: bool) {
        self.lenient_tids.store(on, Ordering::SeqCst);
    }

    pub(crate) fn take_ext_info_not_ready(&self) -> bool {
        take(&self.ext_info_not_ready)
    }
    pub(crate) fn take_access_denied(&self) -> bool {
        take(&self.access_denied)
    }
    pub(crate) fn take_refuse(&self) -> Option<u16> {
        self.refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v & 0xFFFF_FFFF != 0).then(|| v - 1)
            })
            .ok()
            .map(|v| (v >> 32) as u16)
    }
    pub(crate) fn take_empty_denied(&self) -> bool {
        take(&self.empty_denied)
    }
    pub(crate) fn take_empty_ok(&self) -> bool {
        take(&self.empty_ok)
    }
    pub(crate) fn take_zero_size_denied(&self) -> bool {
        take(&self.zero_size_denied)
    }
    pub(crate) fn take_disconnect_mid_frame(&self) -> bool {
        self.disconnect_mid_frame.swap(false, Ordering::SeqCst)
    }
    pub(crate) fn stray_soi(&self) -> bool {
        self.stray_soi.load(Ordering::SeqCst)
    }
    pub(crate) fn align(&self) -> Align512 {
        Align512::from_u8(self.align.load(Ordering::SeqCst))
    }
    pub(crate) fn frame_size(&self) -> Option<(u32, u32)> {
        match self.frame_size.load(Ordering::SeqCst) {
            0 => None,
            v => Some(((v >> 32) as u32, v as u32)),
        }
    }
    pub(crate) fn session_left_open(&self) -> bool {
        self.session_left_open.load(Ordering::SeqCst)
    }
    pub(crate) fn lenient_tids(&self) -> bool {
        self.lenient_tids.load(Ordering::SeqCst)
    }
}

/// What the body saw and did, for tests and the `--camera emulated` stats line.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connects: AtomicU64,
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_closed: AtomicU64,
    pub(crate) close_session_seen: AtomicU64,
    pub(crate) frames_served: AtomicU64,
    pub(crate) frames_skipped: AtomicU64,
    pub(crate) live_view_denied: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) last_frame: AtomicU64,
    ops: Mutex<Vec<OpCode>>,
    /// The last still handed over (GetObject 0xFFFFC001) and how many were.
    last_still: Mutex<Option<Vec<u8>>>,
    stills_served: AtomicU64,
    /// Where each still handed over is also sent (see [`Stats::served_stills`]).
    still_copies: Mutex<Option<crossbeam_channel::Sender<Vec<u8>>>>,
}

/// Stills waiting in [`Stats::served_stills`]'s channel, at most; more are dropped
/// (and logged) rather than held in memory.
pub const SERVED_STILLS_QUEUE: usize = 8;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the counters down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Stats {
    /// Times a host got a pipe to this body (serve loops started).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }
    /// OpenSession calls that opened a session.
    pub fn sessions_opened(&self) -> u64 {
        self.sessions_opened.load(Ordering::SeqCst)
    }
    /// CloseSession calls that closed a session.
    pub fn sessions_closed(&self) -> u64 {
        self.sessions_closed.load(Ordering::SeqCst)
    }
    /// CloseSession commands received, whether or not a session was open.
    pub fn close_session_seen(&self) -> u64 {
        self.close_session_seen.load(Ordering::SeqCst)
    }
    /// Live-view frames sent whole.
    pub fn frames_served(&self) -> u64 {
        self.frames_served.load(Ordering::SeqCst)
    }
    /// Frames that became available but were never sent (host polled slower than fps).
    pub fn frames_skipped(&self) -> u64 {
        self.frames_skipped.load(Ordering::SeqCst)
    }
    /// Live-view requests answered AccessDenied (too fast, fault bursts, no live view).
    pub fn live_view_denied(&self) -> u64 {
        self.live_view_denied.load(Ordering::SeqCst)
    }
    /// Containers from the host that broke the protocol (wrong type, bad length,
    /// missing data phase, mismatched data container).
    pub fn protocol_errors(&self) -> u64 {
        self.protocol_errors.load(Ordering::SeqCst)
    }
    /// Index of the last frame served, if any.
    pub fn last_frame(&self) -> Option<u64> {
        match self.last_frame.load(Ordering::SeqCst) {
            0 => None,
            v => Some(v - 1),
        }
    }
    /// Stills handed over with GetObject(0xFFFFC001).
    pub fn stills_served(&self) -> u64 {
        self.stills_served.load(Ordering::SeqCst)
    }
    /// The bytes of the last still handed over (a host must save them unchanged).
    pub fn last_still(&self) -> Option<Vec<u8>> {
        lock(&self.last_still).clone()
    }
    pub(crate) fn still_served(&self, jpeg: &[u8]) {
        *lock(&self.last_still) = Some(jpeg.to_vec());
        Stats::bump(&self.stills_served);
        let mut copies = lock(&self.still_copies);
        if let Some(tx) = copies.as_ref() {
            match tx.try_send(jpeg.to_vec()) {
                Ok(()) => {}
                Err(crossbeam_channel::TrySendError::Full(_)) => {
                    log::warn!("a served still was not passed on: its reader is behind")
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => *copies = None,
            }
        }
    }
    /// From now on a copy of every still handed over, in order (for a test or the
    /// `emulate --served-stills DIR` option to compare with what the host saved). At
    /// most [`SERVED_STILLS_QUEUE`] wait; a later call replaces the earlier receiver.
    pub fn served_stills(&self) -> crossbeam_channel::Receiver<Vec<u8>> {
        let (tx, rx) = crossbeam_channel::bounded(SERVED_STILLS_QUEUE);
        *lock(&self.still_copies) = Some(tx);
        rx
    }
    /// Operation codes received, in order (at most [`MAX_OP_LOG`]).
    pub fn ops(&self) -> Vec<OpCode> {
        lock(&self.ops).clone()
    }

    pub(crate) fn log_op(&self, op: OpCode) {
        let mut ops = lock(&self.ops);
        if ops.len() < MAX_OP_LOG {
            ops.push(op);
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// The emulated camera: identity, protocol level, pace and picture source.
pub struct Body {
    /// Model string in DeviceInfo, e.g. "ILCE-6400".
    pub model: String,
    /// Serial number in DeviceInfo.
    pub serial: String,
    /// Device version string in DeviceInfo.
    pub device_version: String,
    /// Highest SDIO protocol version (0x00C8 pre-2020, 0x012C for 2020+ bodies).
    pub sdio_version: u16,
    /// False for bodies whose live view does not work over USB (ILCE-6000, ILCE-7,
    /// ILCE-7R): GetObject(0xFFFFC002) never succeeds.
    pub usb_live_view: bool,
    /// Time between live-view frames.
    pub frame_interval: Duration,
    /// Offset of the JPEG inside each live-view dataset (136 on real bodies).
    pub image_offset: u32,
    /// Answers as a body whose USB Connection is set to MTP: DeviceInfo with the MTP
    /// vendor id and a "microsoft.com" extension string, and no Sony operation
    /// (docs/protocol/sony-usb.md#usb-modes).
    pub mtp: bool,
    /// The USB interface has an interrupt IN endpoint for events (the ILCE-5100 has
    /// none: its host polls 0x9209).
    pub interrupt_endpoint: bool,
    /// USB product id in PC Remote mode (docs/protocol/sony-usb.md#product-ids).
    pub usb_pid: u16,
    state: Mutex<BodyState>,
    faults: Arc<Faults>,
    stats: Arc<Stats>,
    clock: Arc<dyn Clock>,
    content: Mutex<Box<dyn FrameContent>>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("model", &self.model)
            .field("serial", &self.serial)
            .field("sdio_version", &format_args!("{:#06x}", self.sdio_version))
            .field("usb_live_view", &self.usb_live_view)
            .field("frame_interval", &self.frame_interval)
            .finish_non_exhaustive()
    }
}

impl Body {
    /// A body with the given identity, 30 fps, a 1024×680 test card and the real clock,
    /// and the property store of the 2019–2021 Alpha bodies (2.00 or 3.00 by
    /// `sdio_version`).
    pub fn new(model: &str, sdio_version: u16, usb_live_view: bool) -> Body {
        let store = if sdio_version >= SDIO_VERSION_3 {
            PropStore::zv_e10()
        } else {
            PropStore::alpha_2019(usb_live_view)
        };
        Body {
            interrupt_endpoint: true,
            usb_pid: 0x0CAA,
            state: Mutex::new(BodyState::new(store, false, STILL_SIZE)),
            model: model.to_string(),
            serial: "00000000000000003282933003547562".to_string(),
            device_version: "2.00".to_string(),
            sdio_version,
            usb_live_view,
            frame_interval: Duration::from_nanos(33_333_333),
            image_offset: DEFAULT_IMAGE_OFFSET,
            mtp: false,
            faults: Arc::new(Faults::default()),
            stats: Arc::new(Stats::default()),
            clock: Arc::new(RealClock::new()),
            content: Mutex::new(Box::new(TestCard::default_size())),
        }
        .show_settings()
    }

    /// Draws the settings into the picture now, so the first live-view frame does not
    /// have to.
    fn show_settings(self) -> Body {
        let look = self.state().look();
        self.content().set_look(&look);
        self
    }

    /// An a6400 (protocol 2.00, live view over USB): the default emulated camera.
    pub fn ilce_6400() -> Body {
        Body::new("ILCE-6400", SDIO_VERSION_2, true)
    }

    /// A ZV-E10 (protocol 3.00, power zoom).
    pub fn zv_e10() -> Body {
        let b = Body::new("ZV-E10", SDIO_VERSION_3, true).with_pid(0x0D97);
        b.with_store(PropStore::zv_e10(), true)
    }

    /// An a6000: PC Remote works but live view over USB does not.
    pub fn ilce_6000() -> Body {
        Body::new("ILCE-6000", SDIO_VERSION_2, false).with_pid(0x094E)
    }

    /// An a5100 as a real one answers (docs/protocol/emulator.md#profiles): protocol
    /// 2.00 (0x9202 answered 0x00C8, no response parameter), one list per descriptor,
    /// its buttons inside 0x9209, no interrupt endpoint (no events: the host polls).
    pub fn ilce_5100() -> Body {
        let mut b = Body::new("ILCE-5100", SDIO_VERSION_2, true)
            .with_pid(0x0957)
            .with_store(PropStore::ilce_5100(), false);
        b.interrupt_endpoint = false;
        b.device_version = "3.00".into();
        b
    }

    /// An RX100 VII as a real one answers: protocol 3.00 (0x9202 answered 0x012C with
    /// response parameter 0x012C), two lists per descriptor, 78 properties, controls
    /// listed in 0x9202 only, a power zoom, 640×424 live view at low quality.
    pub fn dsc_rx100m7() -> Body {
        let mut b = Body::new("DSC-RX100M7", SDIO_VERSION_3, true)
            .with_pid(0x0CAE)
            .with_store(PropStore::rx100m7(), true);
        b.device_version = "1.00".into();
        b
    }

    /// The models `--model` accepts, the default first.
    pub const PROFILES: &'static [&'static str] = &[
        "ILCE-6400",
        "ZV-E10",
        "ILCE-6000",
        "ILCE-5100",
        "DSC-RX100M7",
    ];

    /// The profile for a model name (case-insensitive), if there is one.
    pub fn profile(model: &str) -> Option<Body> {
        Some(match model.to_ascii_uppercase().as_str() {
            "ILCE-6400" => Body::ilce_6400(),
            "ZV-E10" => Body::zv_e10(),
            "ILCE-6000" => Body::ilce_6000(),
            "ILCE-5100" => Body::ilce_5100(),
            "DSC-RX100M7" => Body::dsc_rx100m7(),
            _ => return None,
        })
    }

    fn with_pid(mut self, pid: u16) -> Body {
        self.usb_pid = pid;
        self
    }

    /// Replaces the property store (and says whether the body has a power zoom).
    pub fn with_store(self, store: PropStore, power_zoom: bool) -> Body {
        *lock(&self.state) = BodyState::new(store, power_zoom, STILL_SIZE);
        self.show_settings()
    }

    /// Takes pictures of `width`×`height` instead of [`STILL_SIZE`] (a slow emulated
    /// CPU renders a small still in time). Refused outside the test card's limits.
    pub fn with_still_size(self, width: u32, height: u32) -> Result<Body, EmulatorError> {
        TestCard::new(width, height)?;
        lock(&self.state).set_still_size((width, height));
        Ok(self)
    }

    /// A body for a model name as DeviceInfo spells it: live view off for the bodies
    /// libgphoto2 flags as having none over USB (ILCE-6000, ILCE-7, ILCE-7R), protocol
    /// 3.00 for 2020+ bodies, 2.00 otherwise (docs/protocol/sony-usb.md#sdio-versions).
    pub fn for_model(model: &str) -> Body {
        if let Some(b) = Body::profile(model) {
            return b;
        }
        const NO_USB_LIVE_VIEW: &[&str] = &["ILCE-6000", "ILCE-7", "ILCE-7R"];
        const VERSION_3: &[&str] = &[
            "ZV-E10",
            "ZV-E10M2",
            "ZV-1",
            "ILCE-7M4",
            "ILCE-7SM3",
            "ILCE-1",
            "ILCE-7C",
            "ILCE-7RM5",
            "ILCE-7M5",
            "ILCE-6700",
            "ILCE-9M3",
            "ILME-FX3",
        ];
        let live = !NO_USB_LIVE_VIEW.contains(&model);
        let version = if VERSION_3.contains(&model) {
            SDIO_VERSION_3
        } else {
            SDIO_VERSION_2
        };
        Body::new(model, version, live)
    }

    /// The same body in MTP mode (see [`Body::mtp`]).
    pub fn in_mtp_mode(mut self) -> Body {
        self.mtp = true;
        self
    }

    /// The same body with another serial number.
    pub fn with_serial(mut self, serial: &str) -> Body {
        self.serial = serial.to_string();
        self
    }

    /// Frames per second (clamped to 0.1..=240).
    pub fn with_fps(mut self, fps: f64) -> Body {
        let fps = if fps.is_finite() {
            fps.clamp(0.1, 240.0)
        } else {
            30.0
        };
        self.frame_interval = Duration::from_nanos((1e9 / fps).round() as u64);
        self
    }

    /// The same body on another clock (tests use a manual one).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Body {
        self.clock = clock;
        self
    }

    /// The same body showing other live-view content.
    pub fn with_content(mut self, content: Box<dyn FrameContent>) -> Body {
        self.content = Mutex::new(content);
        self.show_settings()
    }

    /// The same body with the live-view JPEG at another offset in the dataset.
    pub fn with_image_offset(mut self, offset: u32) -> Body {
        self.image_offset = offset;
        self
    }

    /// The switches that make this body misbehave.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// What this body has been asked and has sent.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The clock this body reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn content(&self) -> MutexGuard<'_, Box<dyn FrameContent>> {
        lock(&self.content)
    }

    /// The settings and state the host changes (shared by every connection).
    pub fn state(&self) -> MutexGuard<'_, BodyState> {
        lock(&self.state)
    }

    /// Test hook: turns the mode dial (ExposureProgramMode 0x500E: 1 M, 2 P, 3 A, 4 S,
    /// 0x8000 auto), as a person at the camera would. The change is announced with
    /// 0xC203 events on the next answer or idle moment of the connection.
    pub fn turn_mode_dial(&self, mode: u16) -> Result<(), crate::ptp::ResponseCode> {
        self.state().turn_mode_dial(mode as i128)
    }

    /// Events waiting to be sent (drained).
    pub(crate) fn take_events(&self) -> Vec<BodyEvent> {
        self.state().take_events()
    }
}

/// Size of a still picture: the 6-megapixel "S" image size of a 24-megapixel 3:2 body.
pub const STILL_SIZE: (u32, u32) = (3008, 2000);
