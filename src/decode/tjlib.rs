//! libjpeg-turbo's TurboJPEG API, loaded at run time (`dlopen("libturbojpeg.so.0")`).
//!
//! Why at run time: libjpeg-turbo is the fastest decoder we have (1.4–1.9x the pure-Rust
//! one on photo frames, see docs/performance.md), so every build uses it when the system
//! has it, yet a build needs no C headers and a machine without the library still runs
//! (the pure-Rust zune-jpeg decoder takes over). Debian/Ubuntu ship it as `libturbojpeg0`,
//! Fedora as `turbojpeg`; both install `libturbojpeg.so.0`.
//!
//! Only the TurboJPEG 2.x entry points are used (`tjInitDecompress`,
//! `tjDecompressHeader3`, `tjDecompressToYUV2`, `tjPlaneWidth`, `tjPlaneHeight`,
//! `tjGetErrorStr2`, `tjDestroy`); libjpeg-turbo 3 still exports them with the same
//! meaning. Must not: call a symbol that was not found (all are resolved at load or the
//! library counts as missing), or pass a buffer smaller than the plane sizes the library
//! itself computed.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::sync::OnceLock;

/// The shared object name both Debian's `libturbojpeg0` and Fedora's `turbojpeg` install.
pub(crate) const SONAME: &str = "libturbojpeg.so.0";

type Handle = *mut c_void;

/// `tjInitDecompress`.
type InitDecompressFn = unsafe extern "C" fn() -> Handle;
/// `tjDecompressHeader3`.
type DecompressHeader3Fn = unsafe extern "C" fn(
    Handle,
    *const u8,
    c_ulong,
    *mut c_int,
    *mut c_int,
    *mut c_int,
    *mut c_int,
) -> c_int;
/// `tjDecompressToYUV2`.
type DecompressToYuv2Fn =
    unsafe extern "C" fn(Handle, *const u8, c_ulong, *mut u8, c_int, c_int, c_int, c_int) -> c_int;
/// `tjPlaneWidth` and `tjPlaneHeight`.
type PlaneSizeFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
/// `tjGetErrorStr2`.
type ErrorStr2Fn = unsafe extern "C" fn(Handle) -> *mut c_char;
/// `tjDestroy`.
type DestroyFn = unsafe extern "C" fn(Handle) -> c_int;

/// Resolved entry points. The library stays loaded for the life of the process (never
/// `dlclose`d), so the pointers stay valid.
pub(crate) struct Lib {
    init_decompress: InitDecompressFn,
    decompress_header3: DecompressHeader3Fn,
    decompress_to_yuv2: DecompressToYuv2Fn,
    plane_width: PlaneSizeFn,
    plane_height: PlaneSizeFn,
    error_str2: ErrorStr2Fn,
    destroy: DestroyFn,
}

impl Lib {
    /// Opens `soname` and resolves every entry point; `None` when the library or any
    /// symbol is missing.
    pub(crate) fn open(soname: &str) -> Option<Lib> {
        let name = std::ffi::CString::new(soname).ok()?;
        // SAFETY: a NUL-terminated name; dlopen has no other preconditions. The handle is
        // deliberately leaked (the library stays loaded).
        let h = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            return None;
        }
        let sym = |s: &CStr| {
            // SAFETY: a valid handle from dlopen and a NUL-terminated symbol name.
            let p = unsafe { libc::dlsym(h, s.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        // SAFETY (each transmute): the symbol is the TurboJPEG 2.x function of that name,
        // whose C prototype the field's type spells out (turbojpeg.h, libjpeg-turbo 2.0+).
        unsafe {
            Some(Lib {
                init_decompress: std::mem::transmute::<*mut c_void, InitDecompressFn>(sym(
                    c"tjInitDecompress",
                )?),
                decompress_header3: std::mem::transmute::<*mut c_void, DecompressHeader3Fn>(sym(
                    c"tjDecompressHeader3",
                )?),
                decompress_to_yuv2: std::mem::transmute::<*mut c_void, DecompressToYuv2Fn>(sym(
                    c"tjDecompressToYUV2",
                )?),
                plane_width: std::mem::transmute::<*mut c_void, PlaneSizeFn>(sym(c"tjPlaneWidth")?),
                plane_height: std::mem::transmute::<*mut c_void, PlaneSizeFn>(sym(
                    c"tjPlaneHeight",
                )?),
                error_str2: std::mem::transmute::<*mut c_void, ErrorStr2Fn>(sym(
                    c"tjGetErrorStr2",
                )?),
                destroy: std::mem::transmute::<*mut c_void, DestroyFn>(sym(c"tjDestroy")?),
            })
        }
    }
}

/// The process-wide library, opened on first use; `None` when it is not installed (or
/// `ALPHA_BRIDGE_NO_TURBOJPEG` is set, to try the fallback on a machine that has it).
pub(crate) fn lib() -> Option<&'static Lib> {
    static LIB: OnceLock<Option<Lib>> = OnceLock::new();
    LIB.get_or_init(|| {
        if std::env::var_os("ALPHA_BRIDGE_NO_TURBOJPEG").is_some() {
            return None;
        }
        let l = Lib::open(SONAME);
        if l.is_none() {
            log::debug!("{SONAME} not found: decoding with zune-jpeg (pure Rust)");
        }
        l
    })
    .as_ref()
}

/// Chroma subsampling as TurboJPEG numbers it (`TJSAMP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subsamp {
    S444,
    S422,
    S420,
    Gray,
    S440,
    S411,
}

impl Subsamp {
    fn from_c(v: c_int) -> Option<Subsamp> {
        Some(match v {
            0 => Subsamp::S444,
            1 => Subsamp::S422,
            2 => Subsamp::S420,
            3 => Subsamp::Gray,
            4 => Subsamp::S440,
            5 => Subsamp::S411,
            _ => return None,
        })
    }

    fn to_c(self) -> c_int {
        self as c_int
    }

    /// Horizontal and vertical chroma factors; (0, 0) for grayscale.
    pub(crate) fn factors(self) -> (usize, usize) {
        match self {
            Subsamp::S444 => (1, 1),
            Subsamp::S422 => (2, 1),
            Subsamp::S420 => (2, 2),
            Subsamp::Gray => (0, 0),
            Subsamp::S440 => (1, 2),
            Subsamp::S411 => (4, 1),
        }
    }
}

/// What `tjDecompressHeader3` reports. `subsamp` is `None` for layouts TurboJPEG cannot
/// decompress to YUV planes; `ycc` is false for RGB, CMYK and YCCK JPEGs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub width: usize,
    pub height: usize,
    pub subsamp: Option<Subsamp>,
    pub ycc: bool,
}

/// One decompressor instance (`tjhandle`): its tables and buffers are reused across
/// frames, so after the first frame libjpeg-turbo's own per-image allocations are all
/// that remains (C `malloc`, not the Rust heap).
pub(crate) struct Decompressor {
    lib: &'static Lib,
    handle: Handle,
}

// SAFETY: a tjhandle may be used from any thread, one at a time; `Decompressor` is not
// `Sync` and every call takes `&mut self`.
unsafe impl Send for Decompressor {}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: a live handle from tjInitDecompress, destroyed once.
        unsafe { (self.lib.destroy)(self.handle) };
    }
}

impl Decompressor {
    pub(crate) fn new(lib: &'static Lib) -> Result<Decompressor, String> {
        // SAFETY: no arguments; returns NULL on failure.
        let handle = unsafe { (lib.init_decompress)() };
        if handle.is_null() {
            return Err("libjpeg-turbo could not create a decompressor".into());
        }
        Ok(Decompressor { lib, handle })
    }

    fn error(&self) -> String {
        // SAFETY: a live handle; the library returns a NUL-terminated string it owns.
        let p = unsafe { (self.lib.error_str2)(self.handle) };
        if p.is_null() {
            return "libjpeg-turbo error".into();
        }
        // SAFETY: non-null, NUL-terminated, valid until the next call on this handle.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    pub(crate) fn read_header(&mut self, jpeg: &[u8]) -> Result<Header, String> {
        let len = c_ulong::try_from(jpeg.len()).map_err(|_| "frame too large".to_string())?;
        let (mut w, mut h, mut ss, mut cs) = (0, 0, 0, 0);
        // SAFETY: `jpeg` is valid for `len` bytes; the four out-pointers are live locals.
        let r = unsafe {
            (self.lib.decompress_header3)(
                self.handle,
                jpeg.as_ptr(),
                len,
                &mut w,
                &mut h,
                &mut ss,
                &mut cs,
            )
        };
        if r != 0 {
            return Err(self.error());
        }
        Ok(Header {
            width: usize::try_from(w).unwrap_or(0),
            height: usize::try_from(h).unwrap_or(0),
            subsamp: Subsamp::from_c(ss),
            // TJCS_YCbCr = 1, TJCS_GRAY = 2.
            ycc: cs == 1 || cs == 2,
        })
    }

    /// Width and height of plane `component` (0 = Y, 1 = Cb, 2 = Cr) for an image of
    /// `width` x `height` (sizes already capped by the caller).
    pub(crate) fn plane_size(&self, component: c_int, h: &Header, s: Subsamp) -> (usize, usize) {
        let (w, hh) = (h.width as c_int, h.height as c_int);
        // SAFETY: plain arithmetic functions; they return -1 on bad arguments.
        let (pw, ph) = unsafe {
            (
                (self.lib.plane_width)(component, w, s.to_c()),
                (self.lib.plane_height)(component, hh, s.to_c()),
            )
        };
        (
            usize::try_from(pw).unwrap_or(0),
            usize::try_from(ph).unwrap_or(0),
        )
    }

    /// Decompresses to planar YUV (Y, then Cb, then Cr, rows unpadded) into `dst`, which
    /// must hold the three planes [`plane_size`](Self::plane_size) gives.
    pub(crate) fn decompress_to_yuv(
        &mut self,
        jpeg: &[u8],
        h: &Header,
        s: Subsamp,
        dst: &mut [u8],
    ) -> Result<(), String> {
        let need: usize = (0..if s == Subsamp::Gray { 1 } else { 3 })
            .map(|c| {
                let (w, hh) = self.plane_size(c, h, s);
                w * hh
            })
            .sum();
        if need == 0 || dst.len() < need {
            return Err(format!("yuv buffer of {} bytes, {need} needed", dst.len()));
        }
        let len = c_ulong::try_from(jpeg.len()).map_err(|_| "frame too large".to_string())?;
        // SAFETY: `jpeg` is valid for `len` bytes; `dst` holds at least the planes the
        // library computes for this width, height, subsampling and align 1 (checked
        // above with the library's own plane sizes).
        let r = unsafe {
            (self.lib.decompress_to_yuv2)(
                self.handle,
                jpeg.as_ptr(),
                len,
                dst.as_mut_ptr(),
                h.width as c_int,
                1,
                h.height as c_int,
                0,
            )
        };
        if r != 0 {
            return Err(self.error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_none_not_a_crash() {
        assert!(Lib::open("libturbojpeg-does-not-exist.so.0").is_none());
        // A library that exists but lacks the symbols counts as missing too.
        assert!(Lib::open("libc.so.6").is_none());
    }
}
