//! Decoder correctness against an independent reference: jpeg-decoder (a different
//! codebase from zune-jpeg and libjpeg-turbo) decodes to RGB, the test converts RGB to
//! YCbCr with the JFIF matrix in floating point, averages chroma pairs, maps to limited
//! range, and every YUYV byte of ours must be within ±2 of that.
//!
//! Why ±2: the reference goes YCbCr -> RGB (rounded to 8 bits) -> YCbCr, which alone
//! costs up to ±1, and the backends round their IDCT and chroma upsampling differently.
//! Pixel pairs where the reference RGB clips (a channel at 0 or 255) are skipped: there
//! the RGB round trip loses the information it is meant to check. Synthetic frames are
//! made without clipping; real live-view frames have some, and the test counts them.

use crate::support::synth::{self, Sampling};
use alpha_bridge::decode::{Backend, Decoder, Yuyv};

struct Reference {
    width: usize,
    height: usize,
    /// full-res RGB (gray JPEGs are expanded)
    rgb: Vec<u8>,
}

fn reference(jpeg: &[u8]) -> Reference {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    let px = d.decode().expect("reference decoder reads the frame");
    let info = d.info().expect("reference header");
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => px,
        jpeg_decoder::PixelFormat::L8 => px.iter().flat_map(|&v| [v, v, v]).collect(),
        other => panic!("unexpected reference pixel format {other:?}"),
    };
    Reference {
        width: info.width as usize,
        height: info.height as usize,
        rgb,
    }
}

fn ycbcr(p: &[u8]) -> (f64, f64, f64) {
    let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
    (
        0.299 * r + 0.587 * g + 0.114 * b,
        128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
        128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
    )
}

fn limited_y(v: f64) -> f64 {
    16.0 + v * 219.0 / 255.0
}
fn limited_c(v: f64) -> f64 {
    128.0 + (v - 128.0) * 224.0 / 255.0
}

#[derive(Debug, Default)]
struct Diff {
    max: [f64; 3],
    compared: usize,
    skipped_clipped: usize,
}

/// Compares our YUYV with the reference; returns the worst difference per component.
fn compare(ours: &Yuyv, r: &Reference) -> Diff {
    assert_eq!(ours.width as usize, r.width & !1, "width cropped to even");
    assert_eq!(
        ours.height as usize,
        r.height & !1,
        "height cropped to even"
    );
    assert_eq!(
        ours.data.len(),
        ours.width as usize * ours.height as usize * 2
    );
    let mut d = Diff::default();
    for y in 0..ours.height as usize {
        for pair in 0..ours.width as usize / 2 {
            let i0 = (y * r.width + pair * 2) * 3;
            let p0 = &r.rgb[i0..i0 + 3];
            let p1 = &r.rgb[i0 + 3..i0 + 6];
            if p0.iter().chain(p1).any(|&v| v == 0 || v == 255) {
                d.skipped_clipped += 1;
                continue;
            }
            let (y0, cb0, cr0) = ycbcr(p0);
            let (y1, cb1, cr1) = ycbcr(p1);
            let want = [
                limited_y(y0),
                limited_c((cb0 + cb1) / 2.0),
                limited_y(y1),
                limited_c((cr0 + cr1) / 2.0),
            ];
            let o = (y * ours.width as usize + pair * 2) * 2;
            let got = &ours.data[o..o + 4];
            for k in 0..4 {
                let comp = [0, 1, 0, 2][k];
                let e = (got[k] as f64 - want[k]).abs();
                if e > d.max[comp] {
                    d.max[comp] = e;
                }
            }
            d.compared += 1;
        }
    }
    d
}

fn check(backend: Backend, label: &str, jpeg: &[u8], tolerance: f64) {
    let r = reference(jpeg);
    let mut dec = Decoder::new(backend);
    let mut out = Yuyv::new();
    dec.decode(jpeg, &mut out)
        .unwrap_or_else(|e| panic!("{backend} {label}: {e}"));
    let d = compare(&out, &r);
    eprintln!(
        "{backend} {label}: max |dY| {:.2} |dCb| {:.2} |dCr| {:.2} over {} pairs ({} clipped pairs skipped)",
        d.max[0], d.max[1], d.max[2], d.compared, d.skipped_clipped
    );
    assert!(d.compared > 0, "{backend} {label}: nothing compared");
    for (c, name) in ["Y", "Cb", "Cr"].iter().enumerate() {
        assert!(
            d.max[c] <= tolerance,
            "{backend} {label}: {name} off by {:.2} (> {tolerance})",
            d.max[c]
        );
    }
    // limited range: no byte outside 16..=240, luma inside 16..=235
    for px in out.data.chunks_exact(4) {
        assert!((16..=235).contains(&px[0]) && (16..=235).contains(&px[2]));
        assert!((16..=240).contains(&px[1]) && (16..=240).contains(&px[3]));
    }
}

const CASES: &[(u32, u32, Sampling)] = &[
    (1024, 680, Sampling::S422),
    (640, 424, Sampling::S422),
    (640, 424, Sampling::S420),
    (320, 240, Sampling::S444),
    (320, 240, Sampling::Gray),
    // odd sizes: cropped to even, chroma of partial MCUs
    (333, 217, Sampling::S422),
    (331, 215, Sampling::S420),
    (101, 77, Sampling::S444),
    (320, 240, Sampling::S440),
    (320, 240, Sampling::S411),
    (331, 215, Sampling::S411),
];

/// Every build decodes with libjpeg-turbo when the system has it; CI must have it, so
/// both backends are held to the reference there.
#[test]
fn libjpeg_turbo_is_loaded_under_ci() {
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(
            Backend::TurboJpeg.is_available(),
            "libturbojpeg.so.0 is missing: scripts/setup.sh installs libturbojpeg0"
        );
    }
    if Backend::TurboJpeg.is_available() {
        assert_eq!(Backend::default(), Backend::TurboJpeg);
    }
}

#[test]
fn synthetic_frames_match_reference_within_2() {
    for &backend in Backend::available() {
        for (i, &(w, h, s)) in CASES.iter().enumerate() {
            let jpeg = synth::jpeg(w, h, s, 85, i as u32);
            check(backend, &format!("{w}x{h} {}", s.name()), &jpeg, 2.0);
        }
    }
}

#[test]
fn other_codings_match_reference_within_2() {
    use synth::Coding;
    let codings = [
        (
            "progressive",
            Coding {
                progressive: true,
                ..Coding::default()
            },
        ),
        (
            "restart interval 4",
            Coding {
                restart_interval: Some(4),
                ..Coding::default()
            },
        ),
        (
            "optimized huffman",
            Coding {
                optimized_huffman: true,
                ..Coding::default()
            },
        ),
    ];
    for &backend in Backend::available() {
        for (i, (name, coding)) in codings.iter().enumerate() {
            for s in [Sampling::S422, Sampling::S420] {
                let jpeg = synth::jpeg_with(322, 202, s, 85, 50 + i as u32, *coding);
                // jpeg-encoder writes one scan per component when it optimizes Huffman
                // tables; zune-jpeg 0.5.15 decodes such 4:2:0 frames with broken chroma,
                // so that backend must refuse them rather than show garbage.
                if backend == Backend::Zune && coding.optimized_huffman && s == Sampling::S420 {
                    let r = Decoder::new(backend).decode(&jpeg, &mut Yuyv::new());
                    assert!(
                        matches!(r, Err(alpha_bridge::decode::DecodeError::Unsupported(_))),
                        "{r:?}"
                    );
                    continue;
                }
                check(backend, &format!("322x202 {} {name}", s.name()), &jpeg, 2.0);
            }
        }
    }
}

#[test]
fn decoder_and_sinks_can_move_to_their_threads() {
    fn send<T: Send>() {}
    send::<Decoder>();
    send::<alpha_bridge::sink::NullSink>();
    send::<alpha_bridge::sink::v4l2::V4l2Sink>();
    send::<alpha_bridge::sink::placeholder::Placeholder>();
}

#[test]
fn real_liveview_frames_match_reference_within_2() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipping: {dir} not present");
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jpg in {dir}");
    for &backend in Backend::available() {
        for f in &files {
            let jpeg = std::fs::read(f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            check(backend, &name, &jpeg, 2.0);
        }
    }
}

#[test]
fn buffers_are_reused_and_size_changes_renegotiate() {
    for &backend in Backend::available() {
        let mut dec = Decoder::new(backend);
        let mut out = Yuyv::new();
        let big = synth::jpeg(1024, 680, Sampling::S422, 85, 1);
        let small = synth::jpeg(640, 424, Sampling::S422, 85, 2);
        dec.decode(&big, &mut out).unwrap();
        let ptr = out.data.as_ptr();
        dec.decode(&small, &mut out).unwrap();
        assert_eq!((out.width, out.height), (640, 424));
        assert_eq!(out.data.len(), 640 * 424 * 2);
        dec.decode(&big, &mut out).unwrap();
        assert_eq!((out.width, out.height), (1024, 680));
        assert_eq!(
            ptr,
            out.data.as_ptr(),
            "{backend}: output buffer reallocated"
        );
    }
}

#[test]
fn a_bad_frame_does_not_poison_the_decoder() {
    for &backend in Backend::available() {
        let mut dec = Decoder::new(backend);
        let mut out = Yuyv::new();
        let good = synth::jpeg(640, 424, Sampling::S422, 85, 3);
        dec.decode(&good, &mut out).unwrap();
        let want = out.clone();
        // truncations at many points, and bit flips in the entropy-coded data
        for cut in [3usize, 20, 200, 600, good.len() / 2] {
            let _ = dec.decode(&good[..cut], &mut out);
        }
        let mut flipped = good.clone();
        for i in (700..flipped.len() - 2).step_by(97) {
            flipped[i] ^= 0x5A;
        }
        let _ = dec.decode(&flipped, &mut out);
        dec.decode(&good, &mut out).unwrap();
        assert_eq!(out, want, "{backend}: decode after bad frames differs");
    }
}

#[test]
fn backends_agree_with_each_other() {
    let backends = Backend::available();
    if backends.len() < 2 {
        eprintln!("skipping: only one backend in this build");
        return;
    }
    for (i, &(w, h, s)) in CASES.iter().enumerate() {
        let jpeg = synth::jpeg(w, h, s, 85, 100 + i as u32);
        let mut outs = Vec::new();
        for &b in backends {
            let mut out = Yuyv::new();
            Decoder::new(b).decode(&jpeg, &mut out).unwrap();
            outs.push(out);
        }
        let worst = outs[0]
            .data
            .iter()
            .zip(&outs[1].data)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        eprintln!("{w}x{h} {}: backends differ by at most {worst}", s.name());
    }
}

mod fuzzish {
    use super::*;
    use alpha_bridge::decode::DecodeError;
    use proptest::prelude::*;

    fn base() -> &'static [u8] {
        use std::sync::OnceLock;
        static B: OnceLock<Vec<u8>> = OnceLock::new();
        B.get_or_init(|| synth::jpeg(96, 64, Sampling::S422, 85, 7))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Corrupted frames (bytes flipped, cut short, garbage appended) either decode or
        /// fail with an error; no backend may panic (a caught panic would show up as
        /// `BackendPanic`, which this test rejects so we learn about it).
        #[test]
        fn corrupted_frames_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
            tail in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut data = base().to_vec();
            for (i, v) in flips {
                let at = i.index(data.len());
                data[at] = v;
            }
            let keep = 2 + cut.index(data.len() - 1);
            data.truncate(keep);
            data.extend_from_slice(&tail);
            for &backend in Backend::available() {
                let mut out = Yuyv::new();
                let r = Decoder::new(backend).decode(&data, &mut out);
                prop_assert!(!matches!(r, Err(DecodeError::BackendPanic(_))), "{backend} panicked");
                if r.is_ok() {
                    prop_assert_eq!(out.data.len(), out.width as usize * out.height as usize * 2);
                }
            }
        }
    }
}
