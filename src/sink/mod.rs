//! Where finished pictures go: the [`FrameSink`] trait, a [`NullSink`] for measuring the
//! pipeline without a device, the v4l2loopback writer ([`v4l2`]), the PipeWire camera
//! node ([`pipewire`], feature `pipewire`) and the "camera reconnecting" picture
//! ([`placeholder`]).
//!
//! A sink is owned by exactly one thread (the pipeline's writer) and is handed borrowed
//! [`Picture`]s, so no frame is copied on the way in. Sinks must not block for long,
//! panic on a bad picture, or print: errors are [`SinkError`]s whose [`SinkErrorKind`]
//! lets the CLI give the fix, and the message itself says what to do.

#[cfg(feature = "pipewire")]
pub mod pipewire;
pub mod placeholder;
pub mod record;
pub mod v4l2;

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// The exact command that loads v4l2loopback the way alpha-bridge expects it: one device
/// at /dev/video10, named for the camera, with `exclusive_caps=1` (Chrome and Zoom only
/// list devices that advertise capture and not output at the same time) and 8 buffers
/// (with v4l2loopback's default of 2 a reader can get a picture made of two frames; see
/// [`v4l2::MIN_BUFFERS`]).
pub const MODPROBE_LINE: &str = "sudo modprobe v4l2loopback exclusive_caps=1 \
     card_label=\"Sony Alpha (alpha-bridge)\" video_nr=10 max_buffers=8";

/// One picture handed to a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture<'a> {
    /// Packed YUYV 4:2:2, limited range, `width * height * 2` bytes, no row padding.
    Yuyv {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The pixels.
        data: &'a [u8],
    },
    /// A complete JPEG (SOI..EOI), passed through untouched.
    Jpeg {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The JPEG bytes.
        data: &'a [u8],
    },
}

impl<'a> Picture<'a> {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        match *self {
            Picture::Yuyv { width, .. } | Picture::Jpeg { width, .. } => width,
        }
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        match *self {
            Picture::Yuyv { height, .. } | Picture::Jpeg { height, .. } => height,
        }
    }

    /// The bytes (YUYV pixels or JPEG).
    pub fn data(&self) -> &'a [u8] {
        match *self {
            Picture::Yuyv { data, .. } | Picture::Jpeg { data, .. } => data,
        }
    }

    /// Borrow a decoded frame as a picture.
    pub fn from_yuyv(frame: &'a crate::decode::Yuyv) -> Picture<'a> {
        Picture::Yuyv {
            width: frame.width,
            height: frame.height,
            data: &frame.data,
        }
    }

    /// Checks the size fields against the data, so a sink never reads past a buffer or
    /// programs a device with a size that does not match what it writes.
    pub fn validate(&self) -> Result<(), SinkError> {
        let (w, h) = (self.width(), self.height());
        if w == 0 || h == 0 {
            return Err(SinkError::BadPicture(format!("empty picture {w}x{h}")));
        }
        match *self {
            Picture::Yuyv { data, .. } => {
                let want = (w as u64) * (h as u64) * 2;
                if w % 2 != 0 {
                    return Err(SinkError::BadPicture(format!(
                        "yuyv width {w} is odd (yuyv needs pixel pairs)"
                    )));
                }
                if data.len() as u64 != want {
                    return Err(SinkError::BadPicture(format!(
                        "yuyv {w}x{h} needs {want} bytes, got {}",
                        data.len()
                    )));
                }
            }
            Picture::Jpeg { data, .. } => {
                if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
                    return Err(SinkError::BadPicture("jpeg without start-of-image".into()));
                }
            }
        }
        Ok(())
    }
}

/// A destination for pictures. One thread owns a sink; `write` is called once a frame.
pub trait FrameSink: Send {
    /// Deliver one picture. A picture the device cannot take right now (a full queue)
    /// is dropped with `Ok(())`; `Err` means the sink needs attention.
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError>;
    /// What this sink writes to, for logs ("v4l2loopback /dev/video10", "null").
    fn name(&self) -> String;
    /// Which camera the pictures come from, told once before the first picture, for
    /// sinks that show it to apps (the PipeWire node's name). Most sinks ignore it.
    fn set_source(&mut self, _info: &SourceInfo) {}
}

impl<S: FrameSink + ?Sized> FrameSink for Box<S> {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        (**self).write(pic)
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn set_source(&mut self, info: &SourceInfo) {
        (**self).set_source(info)
    }
}

/// The camera behind a run, as far as it is known (a replay has no body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceInfo {
    /// "ILCE-6400"; empty when unknown.
    pub model: String,
    /// The body's serial number; empty when unknown.
    pub serial: String,
    /// Name the serial number in what apps show too (several bodies of one model at
    /// once would otherwise look the same in a camera menu).
    pub show_serial: bool,
}

/// What a sink that negotiates with its consumers wants from the pipeline right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// No consumer: do not decode (JPEGs still pass, so the sink learns the size).
    Nothing,
    /// A consumer took raw video: decode to YUYV.
    Yuyv,
    /// A consumer took MJPG: pass the camera's JPEG through.
    Jpeg,
}

/// A [`Want`] shared between a negotiating sink (which sets it from its own thread) and
/// the pipeline's decoder (which reads it once a frame). Cloning shares it.
#[derive(Debug, Clone)]
pub struct Demand(Arc<AtomicU8>);

impl Default for Demand {
    fn default() -> Self {
        Demand(Arc::new(AtomicU8::new(0)))
    }
}

impl Demand {
    /// What the consumers want now.
    pub fn get(&self) -> Want {
        match self.0.load(Ordering::Acquire) {
            1 => Want::Yuyv,
            2 => Want::Jpeg,
            _ => Want::Nothing,
        }
    }
    /// Records what the consumers want.
    pub fn set(&self, w: Want) {
        let v = match w {
            Want::Nothing => 0,
            Want::Yuyv => 1,
            Want::Jpeg => 2,
        };
        self.0.store(v, Ordering::Release);
    }
}

/// Accepts everything and counts it (`--device none`): the whole pipeline runs and its
/// statistics are real, with nothing written anywhere.
#[derive(Debug, Default, Clone)]
pub struct NullSink {
    frames: u64,
    bytes: u64,
    last_size: Option<(u32, u32)>,
}

impl NullSink {
    /// A sink that takes everything and keeps nothing.
    pub fn new() -> NullSink {
        NullSink::default()
    }
    /// Pictures accepted so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// Bytes of picture data accepted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Size of the last picture, if any.
    pub fn last_size(&self) -> Option<(u32, u32)> {
        self.last_size
    }
}

impl FrameSink for NullSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        pic.validate()?;
        self.frames += 1;
        self.bytes += pic.data().len() as u64;
        self.last_size = Some((pic.width(), pic.height()));
        Ok(())
    }
    fn name(&self) -> String {
        "null".into()
    }
}

/// What kind of problem a [`SinkError`] is, so the CLI can pick advice or an exit path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// v4l2loopback is not loaded (or not installed).
    ModuleNotLoaded,
    /// The module is installed but the kernel refuses unsigned modules (Secure Boot).
    SecureBoot,
    /// The device node exists but we may not open it.
    PermissionDenied,
    /// Another program is writing to the device, or it refused the format while in use.
    Busy,
    /// The named device does not exist or is not a v4l2loopback output.
    NotFound,
    /// The device rejected the picture format or size.
    Format,
    /// The caller handed a picture whose fields do not match its data.
    BadPicture,
    /// Any other I/O failure on the device.
    Io,
    /// No PipeWire daemon answered, or it went away.
    NoPipewire,
}

/// Errors from sinks. Messages are lowercase and name the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// No v4l2loopback output device exists.
    #[error(
        "no v4l2loopback output device found ({detail}); load the module with:\n  {}",
        MODPROBE_LINE
    )]
    ModuleNotLoaded {
        /// What was looked at.
        detail: String,
    },
    /// Secure Boot keeps the v4l2loopback module out.
    #[error(
        "v4l2loopback is installed but the kernel refused to load it: Secure Boot only \
         accepts signed modules ({detail}); either sign the module with a machine owner key \
         (your distribution's dkms does this after `sudo mokutil --import` of its key and a \
         reboot to enrol it), or disable Secure Boot in the firmware settings, then run:\n  {}",
        MODPROBE_LINE
    )]
    SecureBoot {
        /// What the kernel said.
        detail: String,
    },
    /// Opening the device was refused.
    #[error(
        "permission denied opening {path}; add yourself to the video group \
         (`sudo usermod -aG video $USER`, then log out and back in) or install \
         udev/60-alpha-bridge.rules"
    )]
    PermissionDenied {
        /// The device.
        path: PathBuf,
    },
    /// Another program holds the device.
    #[error("{path} is busy: {detail}")]
    Busy {
        /// The device.
        path: PathBuf,
        /// What the driver said.
        detail: String,
    },
    /// The device is missing or is not an output.
    #[error("{path} is not usable: {detail}")]
    NotFound {
        /// The device.
        path: PathBuf,
        /// Why it is not usable.
        detail: String,
    },
    /// The device refused the format.
    #[error("{path} rejected the format: {detail}")]
    Format {
        /// The device.
        path: PathBuf,
        /// What was asked and what came back.
        detail: String,
    },
    /// The picture does not match its declared size.
    #[error("bad picture: {0}")]
    BadPicture(String),
    /// No PipeWire session to connect to.
    #[error(
        "{detail}; start PipeWire for your session (`systemctl --user start pipewire \
         wireplumber`) or use the kernel module instead with --output v4l2"
    )]
    NoPipewire {
        /// What failed.
        detail: String,
    },
    /// Writing to the device failed.
    #[error("i/o error on {path}: {err}")]
    Io {
        /// The device.
        path: PathBuf,
        /// What the system said.
        err: io::Error,
    },
}

impl SinkError {
    /// The kind of error, for advice and tests.
    pub fn kind(&self) -> SinkErrorKind {
        match self {
            SinkError::ModuleNotLoaded { .. } => SinkErrorKind::ModuleNotLoaded,
            SinkError::SecureBoot { .. } => SinkErrorKind::SecureBoot,
            SinkError::PermissionDenied { .. } => SinkErrorKind::PermissionDenied,
            SinkError::Busy { .. } => SinkErrorKind::Busy,
            SinkError::NotFound { .. } => SinkErrorKind::NotFound,
            SinkError::Format { .. } => SinkErrorKind::Format,
            SinkError::BadPicture(_) => SinkErrorKind::BadPicture,
            SinkError::Io { .. } => SinkErrorKind::Io,
            SinkError::NoPipewire { .. } => SinkErrorKind::NoPipewire,
        }
    }

    /// Maps an `open`/`ioctl`/`write` failure on `path` to the variant with the right
    /// advice.
    pub(crate) fn from_io(path: &std::path::Path, e: io::Error) -> SinkError {
        let path = path.to_path_buf();
        match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => SinkError::PermissionDenied { path },
            Some(libc::EBUSY) => SinkError::Busy {
                path,
                detail: "another program holds the device (is a second alpha-bridge running?)"
                    .into(),
            },
            Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => SinkError::NotFound {
                path,
                detail: format!("{e}; is v4l2loopback loaded? {MODPROBE_LINE}"),
            },
            _ => SinkError::Io { path, err: e },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_sink_counts_and_validates() {
        let mut s = NullSink::new();
        let data = vec![0u8; 4 * 2 * 2];
        s.write(&Picture::Yuyv {
            width: 4,
            height: 2,
            data: &data,
        })
        .unwrap();
        s.write(&Picture::Jpeg {
            width: 4,
            height: 2,
            data: &[0xFF, 0xD8, 0xFF, 0xD9],
        })
        .unwrap();
        assert_eq!(
            (s.frames(), s.bytes(), s.last_size()),
            (2, 20, Some((4, 2)))
        );
        let e = s
            .write(&Picture::Yuyv {
                width: 4,
                height: 3,
                data: &data,
            })
            .unwrap_err();
        assert_eq!(e.kind(), SinkErrorKind::BadPicture);
        assert!(s
            .write(&Picture::Yuyv {
                width: 3,
                height: 2,
                data: &data[..12],
            })
            .is_err());
        assert_eq!(s.frames(), 2);
        assert_eq!(s.name(), "null");
    }

    #[test]
    fn io_errors_map_to_advice() {
        let p = std::path::Path::new("/dev/video10");
        let e = SinkError::from_io(p, io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.kind(), SinkErrorKind::PermissionDenied);
        assert!(e.to_string().contains("video group"));
        let e = SinkError::from_io(p, io::Error::from_raw_os_error(libc::EBUSY));
        assert_eq!(e.kind(), SinkErrorKind::Busy);
        let e = SinkError::from_io(p, io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.kind(), SinkErrorKind::NotFound);
        assert!(e.to_string().contains(MODPROBE_LINE));
    }

    #[test]
    fn demand_round_trips_between_clones() {
        let d = Demand::default();
        let seen = d.clone();
        assert_eq!(seen.get(), Want::Nothing);
        for w in [Want::Yuyv, Want::Jpeg, Want::Nothing] {
            d.set(w);
            assert_eq!(seen.get(), w);
        }
    }

    #[test]
    fn module_advice_is_the_exact_modprobe_line() {
        let e = SinkError::ModuleNotLoaded {
            detail: "module not loaded".into(),
        };
        assert!(e.to_string().contains(
            "sudo modprobe v4l2loopback exclusive_caps=1 card_label=\"Sony Alpha (alpha-bridge)\" video_nr=10 max_buffers=8"
        ));
    }
}
