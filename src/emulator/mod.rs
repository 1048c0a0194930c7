//! An emulated Sony body, so every path of alpha-bridge runs and is tested without a
//! camera. The USB front ([`usb_camera`]) answers PTP on the device side of a
//! [`DevicePipe`](crate::transport::DevicePipe) like an Alpha in PC Remote mode
//! (docs/protocol/emulator.md#usb-pc-remote-body): session, DeviceInfo, the SDIO handshake,
//! properties, and live view at real pace, wrapped in Sony live-view datasets
//! ([`liveview`]) around a moving [`testcard`].
//!
//! Bodies come in profiles ([`Body::profile`], docs/protocol/emulator.md#profiles): each
//! has a property store ([`props`]) laid out by its protocol generation, and obeys
//! camera control ([`control`]: 0x9205 writes, 2.00 notch steps, buttons, AF point,
//! zoom, movie, still capture, 0xC203 events) the same way over every front; the test
//! card shows the settings (brightness, tint, framing, focus box, text).
//!
//! It is an independent implementation of the camera side: it must never use
//! `camera`, `pipeline` or `offload` (the host side), so that a misreading of the
//! protocol cannot hide by being made twice. It uses `ptp` (codes, containers, datasets)
//! and `transport` only. Time comes from a [`Clock`], so tests drive pacing without
//! sleeping.
//!
//! ```no_run
//! use alpha_bridge::emulator::{Body, UsbEmulator};
//! use alpha_bridge::transport::Transport;
//!
//! let emu = UsbEmulator::new(Body::ilce_6400());
//! emu.faults().deny_next(5); // the first five live-view polls are refused
//! let mut host = emu.connect()?; // a `Transport`, as if a camera were plugged in
//! // ... drive a PTP session over `host` ...
//! emu.unplug(); // `host` now fails with Disconnected, `connect` with NotFound
//! println!("{} frames served", emu.stats().frames_served());
//! # let _ = host.max_packet_size();
//! # Ok::<(), alpha_bridge::transport::TransportError>(())
//! ```

pub mod body;
pub mod control;
pub mod file_frames;
pub mod gadget;
pub mod liveview;
pub mod msc;
pub mod pc_remote;
pub mod props;
pub mod registry;
pub mod testcard;
pub mod usb_camera;
pub mod wifi;

#[cfg(test)]
mod tests;

pub use body::{Body, Faults, Stats};
pub use liveview::Align512;
pub use usb_camera::{serve, serve_with_hook, ServeEnd, UsbEmulator};

use crate::transport::TransportError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why the emulator stopped or could not produce content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The pipe failed in a way other than the host going away.
    #[error("emulated camera: {0}")]
    Transport(TransportError),
    /// The picture source failed (encoder error, unreadable replay file).
    #[error("emulated camera content: {0}")]
    Content(String),
}

// By hand, not `#[from]`: the message already carries the transport error's text, and
// a `source()` too would print it twice in a report of the chain.
impl From<TransportError> for EmulatorError {
    fn from(e: TransportError) -> Self {
        EmulatorError::Transport(e)
    }
}

/// Pictures the emulated body sends as live view, one JPEG per frame index.
///
/// The test card renders them; replay sources (a folder of JPEGs, an MJPEG file) can
/// implement this too. Frame indices only grow, but may skip when the host polls slower
/// than the body's frame rate.
pub trait FrameContent: Send {
    /// The JPEG for frame `index`; the slice lives until the next call.
    fn next_jpeg(&mut self, index: u64) -> Result<&[u8], EmulatorError>;

    /// True when [`next_jpeg`](FrameContent::next_jpeg) returns whole live-view datasets
    /// (a capture made with `--dump-objects`) that are to be sent exactly as they are,
    /// instead of JPEGs for the body to wrap.
    fn raw_datasets(&self) -> bool {
        false
    }

    /// Current picture size (for ObjectInfo); (0, 0) when unknown.
    fn size(&self) -> (u32, u32) {
        (0, 0)
    }

    /// Asks for a new picture size (LiveViewImageQuality changes, the frame-size switch).
    /// Sources that cannot resize keep their size and say so.
    fn set_size(&mut self, width: u32, height: u32) -> Result<(), EmulatorError> {
        Err(EmulatorError::Content(format!(
            "this picture source cannot change its size to {width}x{height}"
        )))
    }

    /// Shows the body's settings (exposure, white balance, zoom, focus box, text).
    /// Sources that show a fixed picture ignore it.
    fn set_look(&mut self, _look: &testcard::Look) {}
}

/// Monotonic time for the emulator, as a duration since an arbitrary start.
pub trait Clock: Send + Sync {
    /// Time since this clock's start.
    fn now(&self) -> Duration;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct RealClock {
    start: Instant,
}

impl RealClock {
    /// A clock starting now.
    pub fn new() -> Self {
        RealClock {
            start: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(n, Ordering::SeqCst);
    }

    /// Sets the clock to `t` since its start.
    pub fn set(&self, t: Duration) {
        let n = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(n, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
