//! JPEG -> packed YUYV 4:2:2, the format every Linux webcam consumer takes.
//!
//! What it does: decodes one JPEG (Sony live view is baseline YCbCr 4:2:2, 1024x680 on
//! most bodies, 640x424 on some; 4:2:0, 4:4:4, 4:4:0, 4:1:1, grayscale and RGB/CMYK
//! JPEGs are handled too) straight to YCbCr, without an RGB round trip, and packs it as
//! YUYV (`Y0 U Y1 V`, V4L2 `V4L2_PIX_FMT_YUYV`). Odd widths or heights are cropped to
//! even, because a YUYV pair needs two pixels and 4:2:0 consumers need two rows.
//!
//! Range: JPEG (JFIF) stores full-range BT.601 YCbCr (0–255). YUYV on V4L2 carries no
//! range flag that browsers, Zoom or OBS honour: v4l2loopback passes
//! `V4L2_QUANTIZATION_DEFAULT`, which for YUYV means limited range, and Chrome, Firefox
//! (WebRTC/libyuv), Zoom and OBS's v4l2 source all convert YUYV with the limited-range
//! BT.601 matrix. Sending full range would crush blacks and clip highlights in every one
//! of them, so we convert to limited range (Y 16–235, Cb/Cr 16–240). The conversion is a
//! 256-entry table per component (plus a 511-entry table that averages a chroma pair
//! and converts it in one read), well under a millisecond a frame.
//!
//! What it must not do: start threads, do I/O, panic or allocate without bound on a bad
//! frame. Frames come from a camera, so dimensions are capped at [`MAX_DIMENSION`] before
//! any buffer is sized and every failure is a [`DecodeError`]. Buffers (the caller's
//! [`Yuyv`] and the decoder's scratch) are reused: after the first frame of a given size
//! no buffer of ours is reallocated. zune-jpeg itself cannot reuse its internal state
//! across images (a `JpegDecoder` borrows one input and owns its tables and MCU row
//! buffers), so it makes a small number of allocations inside each decode; see
//! `tests/decode_alloc.rs` for the measured count (17 allocations, 112 KiB a 1024x680
//! frame with zune-jpeg 0.5.15; zero on the Rust heap with libjpeg-turbo). libjpeg-turbo allocates through its
//! own memory manager per image (C `malloc`, not visible to Rust).
//!
//! Backends: [`Backend::TurboJpeg`] (the system's libjpeg-turbo, loaded at run time,
//! decompressed to planar YUV at the coded chroma resolution and then packed; the default
//! whenever `libturbojpeg.so.0` is installed) and [`Backend::Zune`] (zune-jpeg, pure Rust:
//! the fallback when the library is missing, and always available). Spec: ITU-T T.81 (JPEG), JFIF 1.02
//! (full-range YCbCr), ITU-R BT.601 (limited range).

mod header;
mod pack;
#[allow(unsafe_code)] // FFI (TurboJPEG loaded with dlopen); each unsafe block says why it is sound
mod tjlib;
mod turbo;
mod zune;

use std::fmt;
use std::str::FromStr;

use pack::RangeLut;

/// Largest width or height accepted, in pixels. Live view is at most 1920x1080; the cap
/// keeps a corrupt or hostile header from sizing a huge buffer (4096x4096 YCbCr scratch is
/// 48 MiB, the worst case).
pub const MAX_DIMENSION: u32 = 4096;

/// A packed YUYV 4:2:2 picture, limited-range BT.601: `width * height * 2` bytes, rows
/// without padding. `width` and `height` are always even.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Yuyv {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Packed YUYV bytes, two per pixel.
    pub data: Vec<u8>,
}

impl Yuyv {
    /// An empty picture; the first decode sizes it.
    pub fn new() -> Yuyv {
        Yuyv::default()
    }

    /// Bytes one row takes (`width * 2`).
    pub fn stride(&self) -> usize {
        self.width as usize * 2
    }

    /// Resize to `width` x `height` reusing the allocation when it is big enough.
    pub(crate) fn reshape(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        let len = width as usize * height as usize * 2;
        // resize keeps the capacity; it only allocates when the frame grew.
        self.data.resize(len, 0);
    }
}

/// Which JPEG decoder does the work.
///
/// The default is the fastest one this machine has: libjpeg-turbo when
/// `libturbojpeg.so.0` can be loaded, zune-jpeg otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// zune-jpeg, pure Rust (the fallback; always available).
    Zune,
    /// libjpeg-turbo, loaded at run time (`libturbojpeg.so.0`, package `libturbojpeg0`).
    TurboJpeg,
}

impl Default for Backend {
    fn default() -> Backend {
        if Backend::TurboJpeg.is_available() {
            Backend::TurboJpeg
        } else {
            Backend::Zune
        }
    }
}

impl Backend {
    /// Every backend this machine can use (libjpeg-turbo only when it is installed).
    pub fn available() -> &'static [Backend] {
        if Backend::TurboJpeg.is_available() {
            &[Backend::Zune, Backend::TurboJpeg]
        } else {
            &[Backend::Zune]
        }
    }

    /// True when this backend can decode here (libjpeg-turbo: the library loads).
    pub fn is_available(self) -> bool {
        match self {
            Backend::Zune => true,
            Backend::TurboJpeg => tjlib::lib().is_some(),
        }
    }

    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Zune => "zune",
            Backend::TurboJpeg => "turbojpeg",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Backend, DecodeError> {
        match s.to_ascii_lowercase().as_str() {
            "zune" | "zune-jpeg" => Ok(Backend::Zune),
            "turbojpeg" | "turbo" | "libjpeg-turbo" if Backend::TurboJpeg.is_available() => {
                Ok(Backend::TurboJpeg)
            }
            other => Err(DecodeError::BackendUnavailable(other.into())),
        }
    }
}

/// Why a frame could not be decoded. A bad frame is skipped by the caller; none of these
/// leaves the [`Decoder`] unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes do not start with a JPEG SOI marker (or are empty).
    #[error("not a jpeg frame (no start-of-image marker)")]
    NotJpeg,
    /// The frame header declares a picture larger than [`MAX_DIMENSION`].
    #[error("jpeg frame is {width}x{height}, larger than the {max}x{max} limit")]
    TooLarge {
        /// Width of the JPEG.
        width: u32,
        /// Height of the JPEG.
        height: u32,
        /// The largest width or height accepted.
        max: u32,
    },
    /// Width or height is below 2 pixels, so nothing is left after cropping to even.
    #[error("jpeg frame is {width}x{height}, too small for yuyv (needs at least 2x2)")]
    TooSmall {
        /// Width of the JPEG.
        width: u32,
        /// Height of the JPEG.
        height: u32,
    },
    /// The backend rejected the data (truncated, corrupt, unsupported coding).
    #[error("corrupt or unsupported jpeg frame: {0}")]
    Corrupt(String),
    /// A valid JPEG layout this backend is known to decode wrongly; refused rather than
    /// shown with broken colours.
    #[error("{0}")]
    Unsupported(String),
    /// The backend panicked on this frame; caught so one frame cannot stop the webcam.
    #[error("jpeg decoder crashed on this frame (a bug in {0}); frame skipped")]
    BackendPanic(&'static str),
    /// A backend name that is unknown, or libjpeg-turbo when it is not installed.
    #[error(
        "jpeg backend {0:?} is not available here (zune always is; turbojpeg needs \
         libturbojpeg.so.0: install the libturbojpeg0 package)"
    )]
    BackendUnavailable(String),
}

/// Decodes JPEG frames to [`Yuyv`], reusing its buffers from frame to frame.
///
/// One decoder per decoding thread; it is `Send` but holds scratch state, so it is not
/// shared.
pub struct Decoder {
    backend: Backend,
    lut: RangeLut,
    /// Decoded samples before packing (interleaved YCbCr for zune, planar for turbojpeg).
    scratch: Vec<u8>,
    /// Two padded chroma rows at 4x scale for chroma interpolation (planar path).
    rows: Vec<u16>,
    turbo: Option<tjlib::Decompressor>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("backend", &self.backend)
            .field("scratch_capacity", &self.scratch.capacity())
            .finish()
    }
}

impl Decoder {
    /// A decoder on `backend`. Cheap: backend state is created on the first frame.
    /// [`Backend::TurboJpeg`] on a machine without the library decodes with zune-jpeg.
    pub fn new(backend: Backend) -> Decoder {
        Decoder {
            backend,
            lut: RangeLut::new(),
            scratch: Vec::new(),
            rows: Vec::new(),
            turbo: None,
        }
    }

    /// Which decoder this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Decode `jpeg` into `out`, resizing `out` to the frame's (even-cropped) size.
    ///
    /// On error `out` keeps its size but its content is unspecified (it may hold part of
    /// the bad frame); callers keep showing their previous good frame.
    pub fn decode(&mut self, jpeg: &[u8], out: &mut Yuyv) -> Result<(), DecodeError> {
        if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
            return Err(DecodeError::NotJpeg);
        }
        match self.backend {
            Backend::Zune => self.run_guarded("zune-jpeg", jpeg, out, Decoder::decode_zune),
            Backend::TurboJpeg => {
                self.run_guarded("libjpeg-turbo", jpeg, out, Decoder::decode_turbo)
            }
        }
    }

    /// Runs a backend with a panic guard: a third-party decoder bug on one odd frame
    /// must not take the webcam down (the thread would die and the picture freeze).
    fn run_guarded(
        &mut self,
        name: &'static str,
        jpeg: &[u8],
        out: &mut Yuyv,
        f: fn(&mut Decoder, &[u8], &mut Yuyv) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self, jpeg, out)));
        match r {
            Ok(r) => r,
            Err(_) => {
                // Scratch may be half-written; it is fully rewritten by the next decode.
                log::debug!("{name} panicked while decoding a frame");
                Err(DecodeError::BackendPanic(name))
            }
        }
    }
}

/// Checks header dimensions and returns the even-cropped output size.
pub(crate) fn output_size(width: usize, height: usize) -> Result<(u32, u32), DecodeError> {
    let (w, h) = (
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    );
    if w > MAX_DIMENSION || h > MAX_DIMENSION {
        return Err(DecodeError::TooLarge {
            width: w,
            height: h,
            max: MAX_DIMENSION,
        });
    }
    if w < 2 || h < 2 {
        return Err(DecodeError::TooSmall {
            width: w,
            height: h,
        });
    }
    Ok((w & !1, h & !1))
}

/// Grow `v` to at least `len` bytes without shrinking its allocation.
pub(crate) fn ensure_len(v: &mut Vec<u8>, len: usize) {
    if v.len() < len {
        v.resize(len, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_input_is_an_error_on_every_backend() {
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xFF],
            vec![0xFF, 0xD8],
            b"hello world, not a jpeg".to_vec(),
            vec![0xFF, 0xD8, 0xFF, 0xD9],
            vec![
                0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x03,
            ],
        ];
        // deterministic pseudo-random bytes behind a SOI
        let mut x: u32 = 0x1234_5678;
        let mut noise = vec![0xFF, 0xD8];
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        cases.push(noise);
        for &backend in Backend::available() {
            let mut d = Decoder::new(backend);
            let mut out = Yuyv::new();
            for c in &cases {
                assert!(
                    d.decode(c, &mut out).is_err(),
                    "{backend}: {} bytes decoded",
                    c.len()
                );
            }
        }
    }

    #[test]
    fn dimension_limits() {
        assert_eq!(output_size(1024, 680).unwrap(), (1024, 680));
        assert_eq!(output_size(641, 425).unwrap(), (640, 424));
        assert!(matches!(
            output_size(4097, 10),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            output_size(1, 10),
            Err(DecodeError::TooSmall { .. })
        ));
    }

    #[test]
    fn backend_names_round_trip() {
        for &b in Backend::available() {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("nope".parse::<Backend>().is_err());
    }
}
