//! The v4l2loopback writer: pictures in, a webcam out (`/dev/videoN` that Zoom, OBS,
//! Chrome and Firefox open as a camera).
//!
//! What it does: finds (or is told) a v4l2loopback OUTPUT node, programs the format on
//! the first picture (YUYV WxH, or MJPG for pass-through), sets the frame interval, and
//! `write()`s each picture; v4l2loopback copies a write into its next buffer, which is the
//! path it supports best (no mmap queue to manage, no STREAMON ordering). With
//! `exclusive_caps=1` the node advertises OUTPUT only until a writer has produced a
//! frame, then CAPTURE only — which is why Chrome and Zoom list it — so the scan looks for
//! OUTPUT capability and a node that shows CAPTURE only already has a writer. When the
//! picture size changes the format is renegotiated (same handle, then a reopen); if
//! v4l2loopback refuses because a consumer is streaming the old size (EBUSY), the sink
//! keeps the old size and centres the picture in it (crop or black borders) so a call
//! never sees the device disappear.
//!
//! What it must not do: print (it logs), own more than one device, block (the node is
//! opened non-blocking; a full queue drops the frame), or panic on a bad picture. Device
//! operations go through the [`LoopbackIo`] seam and scanning through [`DeviceProbe`], so
//! the logic is unit-tested without a kernel; the real device is tested in a VM.
//! Spec: V4L2 API (VIDIOC_QUERYCAP, VIDIOC_S_FMT, VIDIOC_S_PARM, write()), v4l2loopback
//! README (exclusive_caps, card_label, video_nr).
//!
//! ```no_run
//! use alpha_bridge::decode::{Backend, Decoder, Yuyv};
//! use alpha_bridge::sink::v4l2::{OutputFormat, V4l2Sink};
//! use alpha_bridge::sink::{FrameSink, Picture};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // None: the first v4l2loopback output node (logged); or Some(Path::new("/dev/video10"))
//! let mut sink = V4l2Sink::open(None, OutputFormat::Yuyv, 30)?;
//! let mut dec = Decoder::new(Backend::Zune);
//! let mut frame = Yuyv::new();
//! let jpeg = std::fs::read("frame.jpg")?;
//! dec.decode(&jpeg, &mut frame)?;
//! sink.write(&Picture::from_yuyv(&frame))?; // sets YUYV WxH + 30 fps, then writes
//! println!("{} now shows {:?}", sink.path().display(), sink.negotiated());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{FrameSink, Picture, SinkError, MODPROBE_LINE};

/// The driver name v4l2loopback reports in VIDIOC_QUERYCAP.
pub const LOOPBACK_DRIVER: &str = "v4l2 loopback";

const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;

/// What the sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Decoded, packed YUYV 4:2:2 (every consumer takes it).
    #[default]
    Yuyv,
    /// The camera's JPEGs untouched (MJPG); no decode, for consumers that accept it.
    Mjpeg,
}

impl OutputFormat {
    /// The four-character code of the format.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            OutputFormat::Yuyv => *b"YUYV",
            OutputFormat::Mjpeg => *b"MJPG",
        }
    }

    /// Bytes a device buffer needs for one picture. MJPG has no fixed size: JPEG live
    /// view is far below 2 bytes a pixel, so that bound (at least 1 MiB) never truncates.
    pub fn buffer_size(self, width: u32, height: u32) -> u32 {
        let yuyv = width.saturating_mul(height).saturating_mul(2);
        match self {
            OutputFormat::Yuyv => yuyv,
            OutputFormat::Mjpeg => yuyv.max(1 << 20),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Yuyv => "yuyv",
            OutputFormat::Mjpeg => "mjpeg",
        })
    }
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<OutputFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "yuyv" | "yuy2" => Ok(OutputFormat::Yuyv),
            "mjpeg" | "mjpg" | "jpeg" => Ok(OutputFormat::Mjpeg),
            other => Err(format!(
                "unknown output format {other:?} (use yuyv or mjpeg)"
            )),
        }
    }
}

/// What VIDIOC_QUERYCAP said about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device node.
    pub path: PathBuf,
    /// Driver name.
    pub driver: String,
    /// Card name.
    pub card: String,
    /// `device_caps` flags (V4L2_CAP_*).
    pub caps: u32,
}

impl DeviceInfo {
    /// Whether the driver is v4l2loopback.
    pub fn is_loopback(&self) -> bool {
        self.driver == LOOPBACK_DRIVER
    }
    /// Whether the device takes video output.
    pub fn can_output(&self) -> bool {
        self.caps & CAP_VIDEO_OUTPUT != 0
    }
    /// Whether the device gives video capture.
    pub fn can_capture(&self) -> bool {
        self.caps & CAP_VIDEO_CAPTURE != 0
    }
}

/// Lists and queries video nodes. The real one reads `/dev` and asks the kernel; tests
/// give a fake.
pub trait DeviceProbe {
    /// Candidate nodes, in the order they should be tried.
    fn list(&self) -> io::Result<Vec<PathBuf>>;
    /// QUERYCAP on one node.
    fn query(&self, path: &Path) -> io::Result<DeviceInfo>;
}

/// The real probe: `video<N>` entries of a device directory (normally `/dev`), sorted by
/// N, queried with VIDIOC_QUERYCAP.
#[derive(Debug, Clone)]
pub struct SystemProbe {
    /// Where the device nodes are (/dev).
    pub dev_dir: PathBuf,
}

impl Default for SystemProbe {
    fn default() -> SystemProbe {
        SystemProbe {
            dev_dir: PathBuf::from("/dev"),
        }
    }
}

impl DeviceProbe for SystemProbe {
    fn list(&self) -> io::Result<Vec<PathBuf>> {
        let mut nodes: Vec<(u32, PathBuf)> = fs::read_dir(&self.dev_dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let n = name.to_str()?.strip_prefix("video")?.parse::<u32>().ok()?;
                Some((n, e.path()))
            })
            .collect();
        nodes.sort();
        Ok(nodes.into_iter().map(|(_, p)| p).collect())
    }

    fn query(&self, path: &Path) -> io::Result<DeviceInfo> {
        let dev = v4l::Device::with_path(path)?;
        query_caps(&dev, path)
    }
}

/// VIDIOC_QUERYCAP with lossy string decoding. `v4l::Device::query_caps` unwraps UTF-8,
/// and a card label the driver truncated to 31 bytes can end inside a multi-byte
/// character; a user's label must not crash the scan.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn query_caps(dev: &v4l::Device, path: &Path) -> io::Result<DeviceInfo> {
    // SAFETY: v4l2_capability is plain old data, zero is a valid value; the ioctl writes
    // at most size_of::<v4l2_capability>() bytes into it.
    let caps: v4l::v4l_sys::v4l2_capability = unsafe {
        let mut caps: v4l::v4l_sys::v4l2_capability = std::mem::zeroed();
        v4l::v4l2::ioctl(
            dev.handle().fd(),
            v4l::v4l2::vidioc::VIDIOC_QUERYCAP,
            &mut caps as *mut _ as *mut std::os::raw::c_void,
        )?;
        caps
    };
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    // device_caps is only valid when V4L2_CAP_DEVICE_CAPS is set (every driver since 3.3).
    const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
    let flags = if caps.capabilities & CAP_DEVICE_CAPS != 0 {
        caps.device_caps
    } else {
        caps.capabilities
    };
    Ok(DeviceInfo {
        path: path.to_path_buf(),
        driver: text(&caps.driver),
        card: text(&caps.card),
        caps: flags,
    })
}

/// Picks the first v4l2loopback node that accepts output. On failure, says why in the
/// user's terms: nothing loaded, permission, or every loopback node already has a writer.
pub fn find_loopback_output(
    probe: &dyn DeviceProbe,
    module: &ModuleProbe,
) -> Result<DeviceInfo, SinkError> {
    find_loopback_output_except(probe, module, &[])
}

/// [`find_loopback_output`] passing over `taken` (nodes this process already writes
/// for other cameras, which look free to QUERYCAP until their first picture).
pub fn find_loopback_output_except(
    probe: &dyn DeviceProbe,
    module: &ModuleProbe,
    taken: &[PathBuf],
) -> Result<DeviceInfo, SinkError> {
    let nodes: Vec<PathBuf> = probe
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !taken.contains(p))
        .collect();
    let mut denied: Option<PathBuf> = None;
    let mut busy: Vec<DeviceInfo> = Vec::new();
    for path in &nodes {
        match probe.query(path) {
            Ok(info) if info.is_loopback() && info.can_output() => {
                log::info!(
                    "using v4l2loopback device {} ({:?})",
                    info.path.display(),
                    info.card
                );
                return Ok(info);
            }
            Ok(info) if info.is_loopback() => busy.push(info),
            Ok(info) => log::debug!(
                "{}: driver {:?}, not v4l2loopback",
                path.display(),
                info.driver
            ),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
                log::debug!("{}: {e}", path.display());
                denied.get_or_insert_with(|| path.clone());
            }
            Err(e) => log::debug!("{}: {e}", path.display()),
        }
    }
    if let Some(first) = busy.first() {
        return Err(SinkError::Busy {
            path: first.path.clone(),
            detail: format!(
                "every v4l2loopback device already has a writer ({}); stop the other \
                 program (a second alpha-bridge, OBS virtual camera, ffmpeg), or name the \
                 device with --device if the writer was a previous alpha-bridge, or load \
                 more devices with devices=2",
                busy.iter()
                    .map(|d| d.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(path) = denied {
        // If the module is loaded, the unreadable node is most likely ours.
        if module.loaded() {
            return Err(SinkError::PermissionDenied { path });
        }
    }
    Err(module.not_loaded_error(nodes.len()))
}

/// The fewest v4l2loopback buffers that keep pictures whole. v4l2loopback (0.12) lends a
/// reader the device's own buffers and its writer rewrites them in turn without asking
/// whether a reader still holds one: a reader may be handed either of the two newest
/// buffers, so with 2 the writer can be rewriting the very buffer a reader is handed,
/// and with N a reader has N - 2 frame intervals to copy a picture out. The ring is
/// also cut to the fewest buffers any reader asked for (most ask for 4).
pub const MIN_BUFFERS: u32 = 4;

/// `max_buffers` in the modprobe options we ship (11 MB of buffers at 1024x680 YUYV).
pub const RECOMMENDED_BUFFERS: u32 = 8;

/// Where to look for facts about the v4l2loopback module. Paths are injectable so the
/// logic is tested against a fake root.
#[derive(Debug, Clone)]
pub struct ModuleProbe {
    /// Filesystem root (normally `/`).
    pub root: PathBuf,
    /// `uname -r`.
    pub kernel_release: String,
    /// Ask `mokutil --sb-state` when the EFI variable cannot be read (off in tests).
    pub use_mokutil: bool,
}

impl ModuleProbe {
    /// Probes this system: root `/` and the running kernel's release.
    pub fn system() -> ModuleProbe {
        let release = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        ModuleProbe {
            root: PathBuf::from("/"),
            kernel_release: release,
            use_mokutil: true,
        }
    }

    fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// The module is in the running kernel.
    pub fn loaded(&self) -> bool {
        self.at("/sys/module/v4l2loopback").exists()
    }

    /// The module's `max_buffers` parameter (`None`: not loaded or unreadable).
    pub fn max_buffers(&self) -> Option<u32> {
        fs::read_to_string(self.at("/sys/module/v4l2loopback/parameters/max_buffers"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Why `max_buffers` is too small for whole pictures (`None`: enough, or unknown).
    pub fn few_buffers(&self) -> Option<String> {
        let n = self.max_buffers()?;
        (n < MIN_BUFFERS).then(|| {
            format!(
                "v4l2loopback has max_buffers={n}: a program reading the camera can get \
                 pictures made of two frames (the writer rewrites the buffer the reader \
                 is still reading); reload it with max_buffers={RECOMMENDED_BUFFERS}"
            )
        })
    }

    /// The module file exists for the running kernel (`None`: could not tell).
    pub fn installed(&self) -> Option<bool> {
        if self.kernel_release.is_empty() {
            return None;
        }
        let mut seen_dep = false;
        for base in ["/lib/modules", "/usr/lib/modules"] {
            let dep = self.at(&format!("{base}/{}/modules.dep", self.kernel_release));
            if let Ok(text) = fs::read_to_string(&dep) {
                seen_dep = true;
                if text.lines().any(|l| {
                    l.split(':')
                        .next()
                        .is_some_and(|m| m.contains("/v4l2loopback.ko"))
                }) {
                    return Some(true);
                }
            }
        }
        seen_dep.then_some(false)
    }

    /// Secure Boot state from the EFI variable (`None`: not an EFI boot or unreadable).
    /// The variable's data is 4 attribute bytes and one value byte.
    pub fn secure_boot(&self) -> Option<bool> {
        let var =
            self.at("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c");
        let bytes = fs::read(var).ok()?;
        bytes.get(4).map(|&b| b == 1)
    }

    /// The error for "no device found", with what we could learn about why.
    pub fn not_loaded_error(&self, nodes_seen: usize) -> SinkError {
        let mut detail = if self.loaded() {
            format!(
                "v4l2loopback is loaded but none of the {nodes_seen} video nodes is a \
                 v4l2loopback output; reload it"
            )
        } else {
            "v4l2loopback is not loaded".to_string()
        };
        match self.installed() {
            Some(false) => detail.push_str(
                " and not installed for this kernel: install it first \
                 (Debian/Ubuntu: sudo apt install v4l2loopback-dkms; \
                 Fedora: sudo dnf install v4l2loopback)",
            ),
            Some(true) if self.secure_boot() == Some(true) => detail.push_str(
                "; Secure Boot is on, so if modprobe answers \"Key was rejected by \
                 service\" the module must be signed (dkms can sign it with an enrolled \
                 machine owner key) or Secure Boot disabled",
            ),
            _ => {}
        }
        SinkError::ModuleNotLoaded { detail }
    }
}

/// Reads `mokutil --sb-state` output ("SecureBoot enabled" / "SecureBoot disabled").
pub fn parse_sb_state(text: &str) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    if t.contains("secureboot enabled") {
        Some(true)
    } else if t.contains("secureboot disabled") {
        Some(false)
    } else {
        None
    }
}

/// Turns the text of a failed `modprobe v4l2loopback` into the right error, so the CLI
/// (or a user pasting it) gets the Secure Boot explanation when that is the cause.
pub fn explain_modprobe_failure(stderr: &str, secure_boot: Option<bool>) -> SinkError {
    let t = stderr.to_ascii_lowercase();
    let line = stderr.trim().to_string();
    if t.contains("key was rejected")
        || t.contains("required key not available")
        || (t.contains("operation not permitted") && secure_boot == Some(true))
        || t.contains("lockdown")
    {
        return SinkError::SecureBoot { detail: line };
    }
    if t.contains("not found in directory") || t.contains("module v4l2loopback not found") {
        return SinkError::ModuleNotLoaded {
            detail: format!(
                "{line}; install it first (Debian/Ubuntu: sudo apt install \
                 v4l2loopback-dkms; Fedora: sudo dnf install v4l2loopback)"
            ),
        };
    }
    SinkError::ModuleNotLoaded { detail: line }
}

/// The device operations the writer needs. The real one is a v4l2 node; tests script
/// a fake.
pub trait LoopbackIo: Send {
    /// VIDIOC_S_FMT on the output queue; returns (width, height, fourcc) the driver took.
    fn set_format(
        &mut self,
        fourcc: [u8; 4],
        width: u32,
        height: u32,
        size: u32,
    ) -> io::Result<(u32, u32, [u8; 4])>;
    /// VIDIOC_S_PARM: frames per second on the output side.
    fn set_fps(&mut self, fps: u32) -> io::Result<()>;
    /// One frame, whole.
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;
    /// Close and open the node again (resets v4l2loopback's writer state).
    fn reopen(&mut self) -> io::Result<()>;
}

/// A real v4l2 node, opened read-write and non-blocking.
struct V4lNode {
    path: PathBuf,
    dev: Option<v4l::Device>,
}

impl V4lNode {
    fn dev(&self) -> io::Result<&v4l::Device> {
        self.dev
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }
}

impl LoopbackIo for V4lNode {
    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    fn set_format(
        &mut self,
        fourcc: [u8; 4],
        width: u32,
        height: u32,
        size: u32,
    ) -> io::Result<(u32, u32, [u8; 4])> {
        // Raw S_FMT rather than `v4l::video::Output::set_format`: that one converts the
        // driver's answer with `expect` on every enum field, and a value newer than the
        // crate would panic the writer thread.
        use v4l::v4l_sys::*;
        let fd = self.dev()?.handle().fd();
        let yuyv = &fourcc == b"YUYV";
        // SAFETY: v4l2_format is plain old data; zero is valid; we write the `pix` member
        // of the union and S_FMT fills the same member for an OUTPUT buffer type.
        let pix = unsafe {
            let mut f: v4l2_format = std::mem::zeroed();
            f.type_ = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT;
            f.fmt.pix.width = width;
            f.fmt.pix.height = height;
            f.fmt.pix.pixelformat = u32::from_le_bytes(fourcc);
            f.fmt.pix.field = v4l2_field_V4L2_FIELD_NONE;
            f.fmt.pix.bytesperline = if yuyv { width.saturating_mul(2) } else { 0 };
            f.fmt.pix.sizeimage = size;
            // What the decoder produces: BT.601 limited range; MJPG carries JFIF.
            f.fmt.pix.colorspace = if yuyv {
                v4l2_colorspace_V4L2_COLORSPACE_SMPTE170M
            } else {
                v4l2_colorspace_V4L2_COLORSPACE_JPEG
            };
            if yuyv {
                // The extended fields (quantization) only count with the magic set.
                f.fmt.pix.priv_ = V4L2_PIX_FMT_PRIV_MAGIC;
                f.fmt.pix.quantization = v4l2_quantization_V4L2_QUANTIZATION_LIM_RANGE;
            }
            v4l::v4l2::ioctl(
                fd,
                v4l::v4l2::vidioc::VIDIOC_S_FMT,
                &mut f as *mut _ as *mut std::os::raw::c_void,
            )?;
            f.fmt.pix
        };
        Ok((pix.width, pix.height, pix.pixelformat.to_le_bytes()))
    }

    fn set_fps(&mut self, fps: u32) -> io::Result<()> {
        use v4l::video::Output;
        self.dev()?
            .set_params(&v4l::video::output::Parameters::with_fps(fps.max(1)))?;
        Ok(())
    }

    #[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let fd = self.dev()?.handle().fd();
        // SAFETY: fd is open for as long as `self.dev` lives; the pointer and length come
        // from a live slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        // Close first: v4l2loopback counts writers per open file.
        self.dev = None;
        self.dev = Some(v4l::Device::with_path(&self.path)?);
        Ok(())
    }
}

/// The negotiation state machine over any [`LoopbackIo`].
struct Writer<D: LoopbackIo> {
    io: D,
    path: PathBuf,
    format: OutputFormat,
    fps: u32,
    /// Size the device is programmed for.
    negotiated: Option<(u32, u32)>,
    /// Picture size we are fitting into `negotiated` because the device refused to change.
    /// Not retried per frame: a retry needs a reopen, which a watching app would see as
    /// a hiccup. It ends when pictures return to the negotiated size or the sink is
    /// reopened (e.g. by the pipeline after the call).
    fitting: Option<(u32, u32)>,
    fit_buf: Vec<u8>,
    written: u64,
    dropped: u64,
}

impl<D: LoopbackIo> Writer<D> {
    fn new(io: D, path: PathBuf, format: OutputFormat, fps: u32) -> Writer<D> {
        Writer {
            io,
            path,
            format,
            fps,
            negotiated: None,
            fitting: None,
            fit_buf: Vec::new(),
            written: 0,
            dropped: 0,
        }
    }

    fn program(&mut self, w: u32, h: u32) -> io::Result<()> {
        let fourcc = self.format.fourcc();
        let got = self
            .io
            .set_format(fourcc, w, h, self.format.buffer_size(w, h))?;
        if got != (w, h, fourcc) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "asked for {} {w}x{h}, device chose {} {}x{}",
                    String::from_utf8_lossy(&fourcc),
                    String::from_utf8_lossy(&got.2),
                    got.0,
                    got.1
                ),
            ));
        }
        if let Err(e) = self.io.set_fps(self.fps) {
            // Consumers still get frames at our pace; only the advertised rate is off.
            log::warn!(
                "{}: could not set {} fps: {e}",
                self.path.display(),
                self.fps
            );
        }
        Ok(())
    }

    fn format_error(&self, w: u32, h: u32, e: io::Error) -> SinkError {
        match e.raw_os_error() {
            Some(libc::EINVAL) => SinkError::Format {
                path: self.path.clone(),
                detail: format!(
                    "{} {w}x{h} refused ({e}); the device may be fixed to another format \
                     (v4l2loopback keep_format or max_width/max_height)",
                    self.format
                ),
            },
            None => SinkError::Format {
                path: self.path.clone(),
                detail: e.to_string(),
            },
            _ => SinkError::from_io(&self.path, e),
        }
    }

    /// Makes the device match a `w`x`h` picture, or decides to fit it.
    fn negotiate(&mut self, w: u32, h: u32) -> Result<(), SinkError> {
        if self.negotiated == Some((w, h)) {
            self.fitting = None;
            return Ok(());
        }
        if self.fitting == Some((w, h)) {
            return Ok(());
        }
        let first = self.negotiated.is_none();
        let mut result = self.program(w, h);
        if result.is_err() && !first {
            // v4l2loopback refuses a new size on a handle that has written frames;
            // a fresh open resets that unless a consumer is streaming.
            log::debug!(
                "{}: renegotiating {w}x{h} after reopen",
                self.path.display()
            );
            result = self
                .io
                .reopen()
                .and_then(|()| self.program(w, h))
                .inspect_err(|_| {
                    // The old format may be gone after a reopen; put it back.
                    if let Some((ow, oh)) = self.negotiated {
                        let _ = self.program(ow, oh);
                    }
                });
        }
        match result {
            Ok(()) => {
                log::info!(
                    "{}: {} {w}x{h} at {} fps",
                    self.path.display(),
                    self.format,
                    self.fps
                );
                self.negotiated = Some((w, h));
                self.fitting = None;
                Ok(())
            }
            Err(e) if first => Err(self.format_error(w, h, e)),
            Err(e) => {
                let (ow, oh) = self.negotiated.unwrap_or((w, h));
                log::warn!(
                    "{}: cannot switch to {w}x{h} while a program is watching ({e}); \
                     showing it inside {ow}x{oh} instead",
                    self.path.display()
                );
                self.fitting = Some((w, h));
                Ok(())
            }
        }
    }

    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        pic.validate()?;
        match (self.format, pic) {
            (OutputFormat::Yuyv, Picture::Yuyv { .. })
            | (OutputFormat::Mjpeg, Picture::Jpeg { .. }) => {}
            (f, _) => {
                return Err(SinkError::BadPicture(format!(
                    "a {f} sink was given a {} picture",
                    if matches!(pic, Picture::Yuyv { .. }) {
                        "yuyv"
                    } else {
                        "jpeg"
                    }
                )))
            }
        }
        let (w, h) = (pic.width(), pic.height());
        self.negotiate(w, h)?;
        let data: &[u8] = match (self.fitting, pic, self.negotiated) {
            (Some(_), Picture::Yuyv { data, .. }, Some((dw, dh))) => {
                self.fit_buf.resize(dw as usize * dh as usize * 2, 0);
                fit_yuyv(data, w, h, &mut self.fit_buf, dw, dh);
                &self.fit_buf
            }
            (Some(_), Picture::Jpeg { data, .. }, Some((dw, dh))) => {
                if data.len() as u64 > u64::from(self.format.buffer_size(dw, dh)) {
                    self.dropped += 1;
                    return Ok(());
                }
                data
            }
            _ => pic.data(),
        };
        match self.io.write(data) {
            Ok(n) if n == data.len() => {
                self.written += 1;
                if self.written == 1 {
                    log::info!(
                        "{}: first frame written; the device now shows as a camera",
                        self.path.display()
                    );
                }
                Ok(())
            }
            Ok(n) => Err(SinkError::Io {
                path: self.path.clone(),
                err: io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", data.len()),
                ),
            }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // No free buffer right now: a live source drops, never waits.
                self.dropped += 1;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.dropped += 1;
                Ok(())
            }
            Err(e) => Err(SinkError::from_io(&self.path, e)),
        }
    }
}

/// Copies a `sw`x`sh` YUYV picture centred into a `dw`x`dh` one: cropped where larger,
/// black (Y 16, C 128) borders where smaller. Offsets are kept even so pixel pairs
/// stay pairs.
pub fn fit_yuyv(src: &[u8], sw: u32, sh: u32, dst: &mut [u8], dw: u32, dh: u32) {
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, dw as usize, dh as usize);
    for px in dst.chunks_exact_mut(4) {
        px.copy_from_slice(&[16, 128, 16, 128]);
    }
    let copy_w = sw.min(dw) & !1;
    let copy_h = sh.min(dh);
    let sx = ((sw - copy_w) / 2) & !1;
    let dx = ((dw - copy_w) / 2) & !1;
    let sy = (sh - copy_h) / 2;
    let dy = (dh - copy_h) / 2;
    for r in 0..copy_h {
        let s = (sy + r) * sw * 2 + sx * 2;
        let d = (dy + r) * dw * 2 + dx * 2;
        if let (Some(from), Some(to)) = (src.get(s..s + copy_w * 2), dst.get_mut(d..d + copy_w * 2))
        {
            to.copy_from_slice(from);
        }
    }
}

/// A v4l2loopback output device.
pub struct V4l2Sink {
    inner: Writer<V4lNode>,
    card: String,
}

impl fmt::Debug for V4l2Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4l2Sink")
            .field("path", &self.inner.path)
            .field("format", &self.inner.format)
            .field("negotiated", &self.inner.negotiated)
            .finish()
    }
}

impl V4l2Sink {
    /// Opens `device`, or the first v4l2loopback output node when `None` (logged at
    /// info). The format is set when the first picture arrives, since only then is the
    /// size known.
    pub fn open(
        device: Option<&Path>,
        format: OutputFormat,
        fps: u32,
    ) -> Result<V4l2Sink, SinkError> {
        V4l2Sink::open_except(device, &[], format, fps)
    }

    /// [`V4l2Sink::open`], but with `device` `None` the first free node not in `taken`
    /// (the nodes of this process's other cameras).
    pub fn open_except(
        device: Option<&Path>,
        taken: &[PathBuf],
        format: OutputFormat,
        fps: u32,
    ) -> Result<V4l2Sink, SinkError> {
        let probe = SystemProbe::default();
        let module = ModuleProbe::system();
        let info = match device {
            None => find_loopback_output_except(&probe, &module, taken)?,
            Some(path) => {
                if !path.exists() {
                    return Err(if module.loaded() {
                        SinkError::NotFound {
                            path: path.to_path_buf(),
                            detail: "no such device; v4l2loopback's nodes are listed by \
                                     `v4l2-ctl --list-devices`"
                                .into(),
                        }
                    } else {
                        module.not_loaded_error(0)
                    });
                }
                let info = probe.query(path).map_err(|e| SinkError::from_io(path, e))?;
                check_explicit(&info)?;
                info
            }
        };
        let dev =
            v4l::Device::with_path(&info.path).map_err(|e| SinkError::from_io(&info.path, e))?;
        if let Some(why) = module.few_buffers() {
            log::warn!(
                "{}: {why} (close the apps using it, then sudo modprobe -r v4l2loopback && \
                 {MODPROBE_LINE})",
                info.path.display()
            );
        }
        let node = V4lNode {
            path: info.path.clone(),
            dev: Some(dev),
        };
        Ok(V4l2Sink {
            inner: Writer::new(node, info.path, format, fps.max(1)),
            card: info.card,
        })
    }

    /// The node being written.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    /// The card label ("Sony Alpha (alpha-bridge)" with the shipped modprobe.d file).
    pub fn card(&self) -> &str {
        &self.card
    }
    /// The format in use.
    pub fn format(&self) -> OutputFormat {
        self.inner.format
    }
    /// Size the device is programmed for (`None` before the first picture).
    pub fn negotiated(&self) -> Option<(u32, u32)> {
        self.inner.negotiated
    }
    /// Frames written whole, and frames dropped because the device had no free buffer.
    pub fn counts(&self) -> (u64, u64) {
        (self.inner.written, self.inner.dropped)
    }
}

/// An explicitly named node must be a v4l2loopback node. One that shows capture only
/// (`exclusive_caps=1` after a writer has produced frames) is still tried: a bridge
/// restarted while an app keeps the camera open finds its own node in that state, and
/// S_FMT/write will say if another writer really holds it.
fn check_explicit(info: &DeviceInfo) -> Result<(), SinkError> {
    if !info.is_loopback() {
        return Err(SinkError::NotFound {
            path: info.path.clone(),
            detail: format!(
                "it is a {:?} device ({:?}), not v4l2loopback; pick the loopback node \
                 (`v4l2-ctl --list-devices`) or load it: {MODPROBE_LINE}",
                info.driver, info.card
            ),
        });
    }
    if !info.can_output() {
        log::warn!(
            "{} shows capture only (it had a writer before, or has one now); trying it",
            info.path.display()
        );
    }
    Ok(())
}

impl FrameSink for V4l2Sink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        self.inner.write(pic)
    }
    fn name(&self) -> String {
        format!("v4l2loopback {}", self.inner.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, VecDeque};

    struct FakeProbe {
        nodes: Vec<PathBuf>,
        answers: HashMap<PathBuf, Result<DeviceInfo, i32>>,
    }

    impl DeviceProbe for FakeProbe {
        fn list(&self) -> io::Result<Vec<PathBuf>> {
            Ok(self.nodes.clone())
        }
        fn query(&self, path: &Path) -> io::Result<DeviceInfo> {
            match self.answers.get(path) {
                Some(Ok(i)) => Ok(i.clone()),
                Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
                None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            }
        }
    }

    fn info(n: u32, driver: &str, caps: u32) -> (PathBuf, Result<DeviceInfo, i32>) {
        let path = PathBuf::from(format!("/dev/video{n}"));
        (
            path.clone(),
            Ok(DeviceInfo {
                path,
                driver: driver.into(),
                card: format!("card {n}"),
                caps,
            }),
        )
    }

    fn probe(entries: Vec<(PathBuf, Result<DeviceInfo, i32>)>) -> FakeProbe {
        FakeProbe {
            nodes: entries.iter().map(|(p, _)| p.clone()).collect(),
            answers: entries.into_iter().collect(),
        }
    }

    /// A fake filesystem root for module facts.
    fn fake_root(
        loaded: bool,
        installed: Option<bool>,
        secure_boot: Option<bool>,
    ) -> (tempfile::TempDir, ModuleProbe) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        if loaded {
            fs::create_dir_all(root.join("sys/module/v4l2loopback")).unwrap();
        }
        if let Some(inst) = installed {
            let d = root.join("lib/modules/6.1.0-test");
            fs::create_dir_all(&d).unwrap();
            let mut dep = String::from("kernel/drivers/media/usb/uvc/uvcvideo.ko: kernel/drivers/media/common/videobuf2/videobuf2-v4l2.ko\n");
            if inst {
                dep.push_str(
                    "updates/dkms/v4l2loopback.ko.xz: kernel/drivers/media/v4l2-core/videodev.ko\n",
                );
            }
            fs::write(d.join("modules.dep"), dep).unwrap();
        }
        if let Some(sb) = secure_boot {
            let d = root.join("sys/firmware/efi/efivars");
            fs::create_dir_all(&d).unwrap();
            fs::write(
                d.join("SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
                [6, 0, 0, 0, sb as u8],
            )
            .unwrap();
        }
        let m = ModuleProbe {
            root: root.to_path_buf(),
            kernel_release: "6.1.0-test".into(),
            use_mokutil: false,
        };
        (dir, m)
    }

    #[test]
    fn scan_picks_first_loopback_output_skipping_webcams_and_busy_nodes() {
        let p = probe(vec![
            info(0, "uvcvideo", CAP_VIDEO_CAPTURE),
            info(1, "uvcvideo", 0),
            // exclusive_caps=1 with a writer: capture only
            info(2, LOOPBACK_DRIVER, CAP_VIDEO_CAPTURE),
            info(10, LOOPBACK_DRIVER, CAP_VIDEO_OUTPUT),
            info(11, LOOPBACK_DRIVER, CAP_VIDEO_OUTPUT),
        ]);
        let (_d, m) = fake_root(true, Some(true), None);
        let got = find_loopback_output(&p, &m).unwrap();
        assert_eq!(got.path, PathBuf::from("/dev/video10"));
    }

    #[test]
    fn scan_without_exclusive_caps_accepts_capture_plus_output() {
        let p = probe(vec![info(
            5,
            LOOPBACK_DRIVER,
            CAP_VIDEO_CAPTURE | CAP_VIDEO_OUTPUT,
        )]);
        let (_d, m) = fake_root(true, Some(true), None);
        assert_eq!(
            find_loopback_output(&p, &m).unwrap().path,
            PathBuf::from("/dev/video5")
        );
    }

    #[test]
    fn scan_reports_why_nothing_was_found() {
        // nothing loaded, module installed
        let p = probe(vec![info(0, "uvcvideo", CAP_VIDEO_CAPTURE)]);
        let (_d, m) = fake_root(false, Some(true), Some(false));
        let e = find_loopback_output(&p, &m).unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::ModuleNotLoaded);
        assert!(e.to_string().contains(MODPROBE_LINE), "{e}");
        assert!(!e.to_string().contains("Secure Boot"), "{e}");

        // not installed at all
        let (_d, m) = fake_root(false, Some(false), None);
        let e = find_loopback_output(&p, &m).unwrap_err();
        assert!(e.to_string().contains("v4l2loopback-dkms"), "{e}");

        // installed, not loaded, Secure Boot on: mention signing
        let (_d, m) = fake_root(false, Some(true), Some(true));
        let e = find_loopback_output(&p, &m).unwrap_err();
        assert!(e.to_string().contains("Secure Boot is on"), "{e}");

        // loaded, but the only loopback node has a writer already
        let p = probe(vec![info(10, LOOPBACK_DRIVER, CAP_VIDEO_CAPTURE)]);
        let (_d, m) = fake_root(true, Some(true), None);
        let e = find_loopback_output(&p, &m).unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::Busy);

        // loaded, node not readable: permission
        let p = FakeProbe {
            nodes: vec![PathBuf::from("/dev/video10")],
            answers: [(PathBuf::from("/dev/video10"), Err(libc::EACCES))]
                .into_iter()
                .collect(),
        };
        let e = find_loopback_output(&p, &m).unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::PermissionDenied);
        assert!(e.to_string().contains("video group"), "{e}");
    }

    #[test]
    fn system_probe_lists_video_nodes_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "video10", "video2", "video0", "videofoo", "vbi0", "media0", "video1",
        ] {
            fs::write(dir.path().join(n), b"").unwrap();
        }
        let p = SystemProbe {
            dev_dir: dir.path().to_path_buf(),
        };
        let names: Vec<String> = p
            .list()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["video0", "video1", "video2", "video10"]);
    }

    #[test]
    fn modprobe_errors_are_explained() {
        let e = explain_modprobe_failure(
            "modprobe: ERROR: could not insert 'v4l2loopback': Key was rejected by service\n",
            None,
        );
        assert_eq!(e.kind(), super::super::SinkErrorKind::SecureBoot);
        assert!(e.to_string().contains("disable Secure Boot"), "{e}");
        assert!(e.to_string().contains("mokutil"), "{e}");
        let e = explain_modprobe_failure(
            "modprobe: ERROR: could not insert 'v4l2loopback': Operation not permitted",
            Some(true),
        );
        assert_eq!(e.kind(), super::super::SinkErrorKind::SecureBoot);
        let e = explain_modprobe_failure(
            "modprobe: FATAL: Module v4l2loopback not found in directory /lib/modules/6.1.0",
            Some(false),
        );
        assert_eq!(e.kind(), super::super::SinkErrorKind::ModuleNotLoaded);
        assert!(
            e.to_string().contains("apt install v4l2loopback-dkms"),
            "{e}"
        );
    }

    #[test]
    fn too_few_buffers_are_named_with_the_fix() {
        let (_d, m) = fake_root(true, Some(true), None);
        assert_eq!(m.max_buffers(), None);
        assert_eq!(m.few_buffers(), None, "unknown is not a warning");
        let param = m
            .root
            .join("sys/module/v4l2loopback/parameters/max_buffers");
        fs::create_dir_all(param.parent().unwrap()).unwrap();
        fs::write(&param, "2\n").unwrap();
        assert_eq!(m.max_buffers(), Some(2));
        let why = m.few_buffers().unwrap();
        assert!(why.contains("max_buffers=2"), "{why}");
        assert!(why.contains("two frames"), "{why}");
        fs::write(&param, format!("{MIN_BUFFERS}\n")).unwrap();
        assert_eq!(m.few_buffers(), None);
        // what we ship and print loads enough
        let line = format!("max_buffers={RECOMMENDED_BUFFERS}");
        assert!(MODPROBE_LINE.contains(&line), "{MODPROBE_LINE}");
        let conf = include_str!("../../udev/v4l2loopback.conf");
        assert!(
            conf.lines()
                .any(|l| l.starts_with("options") && l.contains(&line)),
            "{conf}"
        );
        const { assert!(RECOMMENDED_BUFFERS >= MIN_BUFFERS) };
    }

    #[test]
    fn mokutil_output_is_read() {
        assert_eq!(parse_sb_state("SecureBoot enabled\n"), Some(true));
        assert_eq!(
            parse_sb_state("SecureBoot disabled\nPlatform is in Setup Mode\n"),
            Some(false)
        );
        assert_eq!(
            parse_sb_state("EFI variables are not supported on this system\n"),
            None
        );
    }

    #[test]
    fn explicit_device_checks() {
        let (_, webcam) = info(0, "uvcvideo", CAP_VIDEO_CAPTURE);
        let e = check_explicit(&webcam.unwrap()).unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::NotFound);
        // capture-only (exclusive_caps after a previous writer) is tried, not refused
        let (_, had_writer) = info(10, LOOPBACK_DRIVER, CAP_VIDEO_CAPTURE);
        check_explicit(&had_writer.unwrap()).unwrap();
        let (_, ok) = info(10, LOOPBACK_DRIVER, CAP_VIDEO_OUTPUT);
        check_explicit(&ok.unwrap()).unwrap();
    }

    /// Scripted device: records calls; `set_format` answers come from a queue (default:
    /// accept).
    #[derive(Default)]
    struct FakeIo {
        calls: Vec<String>,
        format_answers: VecDeque<io::Result<Option<(u32, u32)>>>,
        write_answers: VecDeque<io::Result<()>>,
        written: Vec<usize>,
    }

    impl LoopbackIo for FakeIo {
        fn set_format(
            &mut self,
            fourcc: [u8; 4],
            w: u32,
            h: u32,
            size: u32,
        ) -> io::Result<(u32, u32, [u8; 4])> {
            self.calls.push(format!(
                "fmt {} {w}x{h} {size}",
                String::from_utf8_lossy(&fourcc)
            ));
            match self.format_answers.pop_front() {
                None | Some(Ok(None)) => Ok((w, h, fourcc)),
                Some(Ok(Some((gw, gh)))) => Ok((gw, gh, fourcc)),
                Some(Err(e)) => Err(e),
            }
        }
        fn set_fps(&mut self, fps: u32) -> io::Result<()> {
            self.calls.push(format!("fps {fps}"));
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            match self.write_answers.pop_front() {
                Some(Err(e)) => Err(e),
                _ => {
                    self.written.push(data.len());
                    Ok(data.len())
                }
            }
        }
        fn reopen(&mut self) -> io::Result<()> {
            self.calls.push("reopen".into());
            Ok(())
        }
    }

    fn yuyv(w: u32, h: u32) -> Vec<u8> {
        vec![100; (w * h * 2) as usize]
    }

    fn writer(format: OutputFormat) -> Writer<FakeIo> {
        Writer::new(FakeIo::default(), "/dev/video10".into(), format, 30)
    }

    #[test]
    fn format_is_set_on_first_frame_only_and_renegotiated_on_size_change() {
        let mut w = writer(OutputFormat::Yuyv);
        assert!(w.io.calls.is_empty());
        let a = yuyv(1024, 680);
        let b = yuyv(640, 424);
        for _ in 0..3 {
            w.write(&Picture::Yuyv {
                width: 1024,
                height: 680,
                data: &a,
            })
            .unwrap();
        }
        w.write(&Picture::Yuyv {
            width: 640,
            height: 424,
            data: &b,
        })
        .unwrap();
        assert_eq!(
            w.io.calls,
            [
                "fmt YUYV 1024x680 1392640",
                "fps 30",
                "fmt YUYV 640x424 542720",
                "fps 30"
            ]
        );
        assert_eq!(w.io.written, [1392640, 1392640, 1392640, 542720]);
        assert_eq!(w.negotiated, Some((640, 424)));
    }

    #[test]
    fn refused_resize_reopens_then_fits_into_the_old_size() {
        let mut w = writer(OutputFormat::Yuyv);
        let a = yuyv(1024, 680);
        let b = yuyv(640, 424);
        w.write(&Picture::Yuyv {
            width: 1024,
            height: 680,
            data: &a,
        })
        .unwrap();
        // both the in-place change and the change after reopen are refused (a consumer
        // is streaming 1024x680), then restoring the old format succeeds
        w.io.format_answers = VecDeque::from([
            Err(io::Error::from_raw_os_error(libc::EBUSY)),
            Err(io::Error::from_raw_os_error(libc::EBUSY)),
        ]);
        w.write(&Picture::Yuyv {
            width: 640,
            height: 424,
            data: &b,
        })
        .unwrap();
        assert_eq!(w.negotiated, Some((1024, 680)));
        assert_eq!(w.fitting, Some((640, 424)));
        assert_eq!(*w.io.written.last().unwrap(), 1024 * 680 * 2);
        assert!(w.io.calls.contains(&"reopen".to_string()));
        // further 640x424 frames do not retry every frame
        let n = w.io.calls.len();
        w.write(&Picture::Yuyv {
            width: 640,
            height: 424,
            data: &b,
        })
        .unwrap();
        assert_eq!(w.io.calls.len(), n);
        // back to the negotiated size: no fitting, no new ioctl
        w.write(&Picture::Yuyv {
            width: 1024,
            height: 680,
            data: &a,
        })
        .unwrap();
        assert_eq!(w.fitting, None);
        assert_eq!(w.io.calls.len(), n);
    }

    #[test]
    fn resize_that_succeeds_after_reopen() {
        let mut w = writer(OutputFormat::Yuyv);
        let a = yuyv(640, 424);
        let b = yuyv(1024, 680);
        w.write(&Picture::Yuyv {
            width: 640,
            height: 424,
            data: &a,
        })
        .unwrap();
        w.io.format_answers = VecDeque::from([Err(io::Error::from_raw_os_error(libc::EBUSY))]);
        w.write(&Picture::Yuyv {
            width: 1024,
            height: 680,
            data: &b,
        })
        .unwrap();
        assert_eq!(w.negotiated, Some((1024, 680)));
        assert_eq!(w.fitting, None);
        assert_eq!(*w.io.written.last().unwrap(), 1024 * 680 * 2);
    }

    #[test]
    fn first_format_refusal_is_an_error_with_a_kind() {
        let mut w = writer(OutputFormat::Yuyv);
        w.io.format_answers = VecDeque::from([Err(io::Error::from_raw_os_error(libc::EINVAL))]);
        let a = yuyv(640, 424);
        let e = w
            .write(&Picture::Yuyv {
                width: 640,
                height: 424,
                data: &a,
            })
            .unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::Format);
        // driver silently choosing another size is refused too
        let mut w = writer(OutputFormat::Yuyv);
        w.io.format_answers = VecDeque::from([Ok(Some((640, 480)))]);
        assert!(w
            .write(&Picture::Yuyv {
                width: 640,
                height: 424,
                data: &a
            })
            .is_err());
        assert!(w.io.written.is_empty());
    }

    #[test]
    fn mjpeg_passes_jpeg_through_and_rejects_yuyv() {
        let mut w = writer(OutputFormat::Mjpeg);
        let jpeg = [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
        w.write(&Picture::Jpeg {
            width: 1024,
            height: 680,
            data: &jpeg,
        })
        .unwrap();
        assert_eq!(w.io.calls[0], "fmt MJPG 1024x680 1392640");
        assert_eq!(w.io.written, [7]);
        let a = yuyv(2, 2);
        let e = w
            .write(&Picture::Yuyv {
                width: 2,
                height: 2,
                data: &a,
            })
            .unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::BadPicture);
    }

    #[test]
    fn full_queue_drops_instead_of_failing() {
        let mut w = writer(OutputFormat::Yuyv);
        w.io.write_answers = VecDeque::from([Err(io::Error::from_raw_os_error(libc::EAGAIN))]);
        let a = yuyv(640, 424);
        w.write(&Picture::Yuyv {
            width: 640,
            height: 424,
            data: &a,
        })
        .unwrap();
        assert_eq!((w.written, w.dropped), (0, 1));
        w.io.write_answers = VecDeque::from([Err(io::Error::from_raw_os_error(libc::ENODEV))]);
        let e = w
            .write(&Picture::Yuyv {
                width: 640,
                height: 424,
                data: &a,
            })
            .unwrap_err();
        assert_eq!(e.kind(), super::super::SinkErrorKind::NotFound);
    }

    #[test]
    fn fit_centres_with_black_borders_and_crops() {
        // 2x1 white-ish into 6x3: centred at x=2, y=1
        let src = [200, 100, 201, 110];
        let mut dst = vec![0u8; 6 * 3 * 2];
        fit_yuyv(&src, 2, 1, &mut dst, 6, 3);
        let row1 = &dst[6 * 2..6 * 2 * 2];
        assert_eq!(
            row1,
            [16, 128, 16, 128, 200, 100, 201, 110, 16, 128, 16, 128]
        );
        assert!(dst[..12].chunks(2).all(|p| p == [16, 128]));
        // 6x1 into 2x1: the middle pair
        let src: Vec<u8> = (0..12).collect();
        let mut dst = vec![0u8; 4];
        fit_yuyv(&src, 6, 1, &mut dst, 2, 1);
        assert_eq!(dst, [4, 5, 6, 7]);
    }

    #[test]
    fn output_format_parsing() {
        assert_eq!(
            "mjpeg".parse::<OutputFormat>().unwrap(),
            OutputFormat::Mjpeg
        );
        assert_eq!("YUYV".parse::<OutputFormat>().unwrap(), OutputFormat::Yuyv);
        assert!("h264".parse::<OutputFormat>().is_err());
        assert_eq!(OutputFormat::Mjpeg.buffer_size(10, 10), 1 << 20);
    }
}
