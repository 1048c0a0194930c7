//! Where live-view frames come from: a Sony body over any transport (USB, or the
//! in-process emulator), or a replayed capture. A source can be reconnected: the
//! capture thread calls `connect` again after the camera went away.

use crate::camera::link::Link;
use crate::camera::{Camera, CameraError, ConnectOptions, SonyCamera};
use crate::control::socket::Server;
use crate::control::Port;
use crate::frame::{Replay, ReplayError, ReplayKind};
use crate::transport::{Transport, TransportError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The line that says live view is flowing, from the first live-view object of a
/// connection: its picture size (the JPEG's own dimensions) and the LiveViewImageQuality
/// (0xD26A) the body has, e.g. "streaming 1024x680 live view (quality high) from
/// ILCE-6400 0000…". `place` is appended (" at 192.0.2.1:15740" for the network).
pub fn streaming_line<L: Link>(cam: &Camera<L>, object: &[u8], place: &str) -> String {
    let size = match crate::frame::extract(object) {
        Ok(f) => format!("{}x{}", f.width, f.height),
        Err(e) => {
            log::debug!("first live-view object: {e}");
            "an unreadable".into()
        }
    };
    let quality = match cam.live_view_quality() {
        Some(1) => " (quality low)".to_string(),
        Some(2) => " (quality high)".to_string(),
        Some(q) => format!(" (quality {q})"),
        None => String::new(),
    };
    let info = cam.device_info();
    format!(
        "streaming {size} live view{quality} from {} {}{place}",
        info.model, info.serial_number
    )
}

/// What `next` put into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A raw live-view dataset (header, focal-frame data, JPEG, padding).
    Object,
    /// A bare JPEG.
    Jpeg,
}

/// Errors from frame sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The camera session failed.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The replay failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A replay reached its end (and does not loop).
    #[error("the replay reached its end")]
    End,
    /// The stop flag was set.
    #[error("stopped")]
    Stopped,
}

impl SourceError {
    /// Whether reconnecting later could help (a camera coming back).
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::Camera(e) => e.is_transient(),
            SourceError::Transport(e) => !matches!(
                e.kind,
                crate::transport::ErrorKind::PermissionDenied | crate::transport::ErrorKind::Busy
            ),
            _ => false,
        }
    }

    /// One unusable item (a corrupt or oversized JPEG or object in a replay): count it
    /// as a bad frame and go on, as with a bad frame from a camera.
    pub fn is_bad_item(&self) -> bool {
        matches!(
            self,
            SourceError::Replay(ReplayError::Bad { .. } | ReplayError::TooLarge { .. })
        )
    }
}

/// A producer of live-view items.
pub trait FrameSource: Send {
    /// Opens the source (opens the camera session); called again after a failure.
    fn connect(&mut self) -> Result<(), SourceError>;
    /// Blocks for the next item; checks `stop` at least every few hundred ms.
    fn next(&mut self, buf: &mut Vec<u8>, stop: &AtomicBool) -> Result<Item, SourceError>;
    /// Closes the camera session (if any) and releases the device.
    fn disconnect(&mut self);
    /// A name for logs and messages.
    fn name(&self) -> String;
    /// The connected body's model and serial number, where there is a body.
    fn info(&self) -> crate::sink::SourceInfo {
        crate::sink::SourceInfo::default()
    }
    /// A flag the source raises while it holds live view up on purpose (a still
    /// capture): the writer shows the placeholder meanwhile.
    fn set_pause_flag(&mut self, _flag: Arc<AtomicBool>) {}
}

/// Opens a transport to the camera (USB device, or the emulator's in-process pipe).
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn Transport>, TransportError> + Send>;

/// Starts the control socket once the body's serial number is known.
pub type StartServer = Box<dyn FnMut(&str) -> Option<Server> + Send>;

/// Camera control riding on the live-view loop: the port the requests arrive at, and
/// the socket started on the first connect.
pub struct Control {
    /// Where requests arrive.
    pub port: Port,
    /// Starts the socket (called with the body's serial number).
    pub start: StartServer,
    server: Option<Server>,
}

impl Control {
    /// Camera control with the socket not started yet.
    pub fn new(port: Port, start: StartServer) -> Control {
        Control {
            port,
            start,
            server: None,
        }
    }

    /// The body with this serial number is connected: the socket starts the first time.
    pub(crate) fn connected(&mut self, serial: &str) {
        if self.server.is_none() {
            self.server = (self.start)(serial);
        }
    }

    /// The body went away: waiting and running requests are answered.
    pub(crate) fn lost(&mut self) {
        self.port.lost(
            "the camera is not connected (alpha-bridge reconnects when it is back); try again then",
        );
    }
}

/// Polls live view until a frame is in `buf`, running camera control (when there is
/// any) between polls so that live view keeps flowing during it. `Ok(false)`: `stop`
/// was set.
pub(crate) fn next_with_control<L: Link>(
    cam: &mut Camera<L>,
    mut control: Option<&mut Control>,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Result<bool, CameraError> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if let Some(c) = control.as_deref_mut() {
            c.port.serve(cam);
        }
        match cam.poll_live_view(buf) {
            Ok(true) => {
                if let Some(c) = control.as_deref_mut() {
                    c.port.frame(buf);
                }
                return Ok(true);
            }
            Ok(false) => {}
            Err(_) if stop.load(Ordering::Relaxed) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// A Sony body in PC Remote mode.
pub struct CameraSource {
    open: Opener,
    label: String,
    opts: ConnectOptions,
    cam: Option<SonyCamera<Box<dyn Transport>>>,
    control: Option<Control>,
    /// The first frame of this connection was announced.
    announced: bool,
}

impl CameraSource {
    /// A source that opens the camera with `open` and connects with `opts`.
    pub fn new(label: impl Into<String>, open: Opener, opts: ConnectOptions) -> Self {
        CameraSource {
            open,
            label: label.into(),
            opts,
            cam: None,
            control: None,
            announced: false,
        }
    }

    /// Runs camera control between live-view polls (the webcam owns the camera).
    pub fn with_control(mut self, c: Control) -> Self {
        self.control = Some(c);
        self
    }
}

impl FrameSource for CameraSource {
    fn connect(&mut self) -> Result<(), SourceError> {
        self.disconnect();
        let t = (self.open)()?;
        let cam = SonyCamera::connect(t, self.opts.clone())?;
        self.label = format!(
            "{} {}{}",
            cam.device_info().model,
            cam.device_info().serial_number,
            match cam.live_view_quality() {
                Some(1) => ", live-view quality low (1)".to_string(),
                Some(2) => ", live-view quality high (2)".to_string(),
                Some(q) => format!(", live-view quality {q}"),
                None => String::new(),
            }
        );
        let serial = cam.device_info().serial_number.clone();
        self.cam = Some(cam);
        self.announced = false;
        if let Some(c) = self.control.as_mut() {
            c.connected(&serial);
        }
        Ok(())
    }

    fn next(&mut self, buf: &mut Vec<u8>, stop: &AtomicBool) -> Result<Item, SourceError> {
        let cam = self.cam.as_mut().ok_or(SourceError::Stopped)?;
        match next_with_control(cam, self.control.as_mut(), buf, stop)? {
            true => {
                if !self.announced {
                    self.announced = true;
                    log::info!("{}", streaming_line(cam, buf, ""));
                }
                Ok(Item::Object)
            }
            false => Err(SourceError::Stopped),
        }
    }

    fn set_pause_flag(&mut self, flag: Arc<AtomicBool>) {
        if let Some(c) = self.control.as_mut() {
            c.port.set_pause_flag(flag);
        }
    }

    fn disconnect(&mut self) {
        if let Some(c) = self.control.as_mut() {
            c.lost();
        }
        if let Some(cam) = self.cam.take() {
            // Closes the session; dropping the transport releases the interface.
            drop(cam.close());
        }
    }

    fn name(&self) -> String {
        self.label.clone()
    }

    fn info(&self) -> crate::sink::SourceInfo {
        self.cam
            .as_ref()
            .map(|cam| crate::sink::SourceInfo {
                model: cam.device_info().model.clone(),
                serial: cam.device_info().serial_number.clone(),
                show_serial: false,
            })
            .unwrap_or_default()
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// A capture replayed at a steady rate (`--camera replay:PATH`). Like live view it is
/// tolerant: a bad item is reported for the pipeline to count and skip, and a file cut
/// in the middle of its last item plays every whole item before it, with a warning.
pub struct ReplaySource {
    path: PathBuf,
    replay: Option<Replay>,
    interval: Duration,
    next_at: Option<Instant>,
    looping: bool,
    warned_cut: bool,
}

impl ReplaySource {
    /// A source replaying `path` at `fps`, from the start again at the end if `looping`.
    pub fn new(path: PathBuf, fps: u32, looping: bool) -> Self {
        ReplaySource {
            path,
            replay: None,
            interval: Duration::from_secs(1) / fps.max(1),
            next_at: None,
            looping,
            warned_cut: false,
        }
    }
}

impl FrameSource for ReplaySource {
    fn connect(&mut self) -> Result<(), SourceError> {
        // Looping is the replay's own rewind (a seek), not a reopen: no allocation
        // when the pass wraps around in steady state.
        self.replay = Some(Replay::open(&self.path)?.with_loop(self.looping));
        Ok(())
    }

    fn next(&mut self, buf: &mut Vec<u8>, stop: &AtomicBool) -> Result<Item, SourceError> {
        let now = Instant::now();
        if let Some(at) = self.next_at {
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        if stop.load(Ordering::Relaxed) {
            return Err(SourceError::Stopped);
        }
        self.next_at =
            Some(self.next_at.map_or(now, |t| t.max(now - self.interval)) + self.interval);
        let replay = self.replay.as_mut().ok_or(SourceError::Stopped)?;
        let kind = loop {
            match replay.next_into(buf) {
                Ok(Some(k)) => break k,
                Ok(None) => return Err(SourceError::End),
                // The rest of the pass is skipped: the next call ends it (or loops).
                Err(e @ ReplayError::Incomplete { .. }) => {
                    if !self.warned_cut {
                        log::warn!("{e}; the whole frames before it were played");
                        self.warned_cut = true;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(match kind {
            ReplayKind::Object => Item::Object,
            ReplayKind::Jpeg => Item::Jpeg,
        })
    }

    fn disconnect(&mut self) {
        self.replay = None;
    }

    fn name(&self) -> String {
        format!("replay of {}", self.path.display())
    }
}
