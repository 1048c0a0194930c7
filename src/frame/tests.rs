//! Extraction tests: real Sony datasets (shared/vectors/MANIFEST.md §2), crafted objects
//! that try to cut or corrupt a frame, and property tests on random bytes.

use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");

fn vector(name: &str) -> Option<Vec<u8>> {
    let path = format!("{VECTORS}/{name}");
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipping: vector {path} not readable ({e})");
            None
        }
    }
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

const RX_DS0: &str = "5d90364ce3742dd5723c700a8e5d9a149553c8265dae7f5ac3359f93af3020a3";
const RX_DS1: &str = "b6c8ab0c207e39582636eae110795ad0b324793b14e7a3a923c967709ac88792";
const A9_DS0: &str = "88bb1c7a51922341ea07e19d5905f4eedab29f7fddeda808f49a95f39e9b4dad";
const A9_DS1: &str = "21702806aeaa3cca8900ea0b0b4ecfaf6bc2aff40881a761b6a1815a305b87eb";
const A9_DS2: &str = "2d5610ba6db3a2ad7716cf66b4db41fc440d94a30b6b186644fe31774857c27b";

fn assert_sony(frame: &Frame<'_>, hash: &str, offset: usize, len: usize) {
    assert_eq!(sha(frame.jpeg), hash);
    assert_eq!(frame.offset, offset);
    assert_eq!(frame.jpeg.len(), len);
    assert_eq!((frame.width, frame.height), (640, 424));
    assert_eq!(frame.sampling, Sampling::Yuv422);
}

// ---------- real vectors ----------

#[test]
fn single_dataset_files() {
    let cases = [
        ("rx100m7_multi.ds0", RX_DS0, 38769),
        ("rx100m7_multi.ds1", RX_DS1, 38863),
        ("a9ii.ds0", A9_DS0, 24025),
        ("a9ii.ds1", A9_DS1, 24065),
        ("a9ii.ds2", A9_DS2, 24130),
    ];
    for (name, hash, len) in cases {
        let Some(obj) = vector(&format!("{name}.bin")) else {
            return;
        };
        let frame = extract(&obj).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_sony(&frame, hash, 136, len);
        // The split sees exactly one whole dataset.
        let parts: Vec<_> = split_datasets(&obj).collect();
        assert_eq!(parts, vec![Ok(&obj[..])], "{name}");

        let Some(jpg) = vector(&format!("{name}.jpg")) else {
            return;
        };
        assert_eq!(frame.jpeg, &jpg[..]);
        let info = jpeg_info(&jpg).unwrap();
        assert_eq!(
            (info.len, info.width, info.height, info.sampling),
            (jpg.len(), 640, 424, Sampling::Yuv422)
        );
        // A bare JPEG handed to extract is found by the fallback.
        assert_eq!(extract(&jpg).unwrap().jpeg, &jpg[..]);
    }
}

fn split_and_extract(data: &[u8]) -> (Vec<(String, usize, usize)>, Option<ExtractError>) {
    let mut frames = Vec::new();
    let mut err = None;
    for item in split_datasets(data) {
        match item {
            Ok(ds) => {
                let base = ds.as_ptr() as usize - data.as_ptr() as usize;
                let f = extract(ds).unwrap();
                assert_eq!((f.width, f.height), (640, 424));
                frames.push((sha(f.jpeg), base + f.offset, f.jpeg.len()));
            }
            Err(e) => {
                assert!(err.is_none(), "split continued after an error");
                err = Some(e);
            }
        }
    }
    (frames, err)
}

#[test]
fn rx100m7_multi_gives_two_frames_and_an_incomplete_third() {
    let Some(data) = vector("liveview-rx100m7-multipleimages.bin") else {
        return;
    };
    let (frames, err) = split_and_extract(&data);
    assert_eq!(
        frames,
        vec![
            (RX_DS0.to_string(), 136, 38769),
            (RX_DS1.to_string(), 39056, 38863)
        ]
    );
    assert_eq!(
        err,
        Some(ExtractError::Incomplete {
            offset: 77968,
            have: 3066,
            need: 39048
        })
    );
    // The incomplete dataset alone: its JPEG has no EOI, so no frame.
    assert!(matches!(
        extract(&data[77968..]),
        Err(ExtractError::Truncated { .. })
    ));
}

#[test]
fn rx100m7_single_gives_one_frame() {
    let Some(data) = vector("liveview-rx100m7-singleimage.bin") else {
        return;
    };
    let (frames, err) = split_and_extract(&data);
    assert_eq!(frames, vec![(RX_DS0.to_string(), 136, 38769)]);
    assert_eq!(
        err,
        Some(ExtractError::Incomplete {
            offset: 38920,
            have: 136,
            need: 39048
        })
    );
    // extract on the whole capture still stops at the first dataset's EOI.
    assert_sony(&extract(&data).unwrap(), RX_DS0, 136, 38769);
}

#[test]
fn a9ii_dechunked_gives_three_frames() {
    let Some(data) = vector("liveview-a9ii-multipleimages.dechunked.bin") else {
        return;
    };
    let (frames, err) = split_and_extract(&data);
    assert_eq!(
        frames,
        vec![
            (A9_DS0.to_string(), 136, 24025),
            (A9_DS1.to_string(), 24336, 24065),
            (A9_DS2.to_string(), 48664, 24130)
        ]
    );
    assert_eq!(err, None);
}

#[test]
fn raw_a9ii_never_yields_chunk_marker_bytes() {
    let Some(data) = vector("liveview-a9ii-multipleimages.bin") else {
        return;
    };
    // The header's offset (136) is not FF D8 there: the split refuses the capture.
    let (frames, err) = split_and_extract(&data);
    assert!(frames.is_empty());
    assert!(matches!(
        err,
        Some(ExtractError::BadHeader { offset: 0, .. })
    ));
    // extract on the whole object falls back to the first FF D8, whose JPEG is intact.
    let f = extract(&data).unwrap();
    assert_eq!((f.offset, f.jpeg.len()), (150, 24025));
    assert_eq!(sha(f.jpeg), A9_DS0);
    // libgphoto2-style scanning of the rest finds the other two, byte-exact.
    let f1 = fallback(&data[24175..]).unwrap();
    assert_eq!(
        (24175 + f1.offset, sha(f1.jpeg)),
        (24364, A9_DS1.to_string())
    );
    let f2 = fallback(&data[48429..]).unwrap();
    assert_eq!(
        (48429 + f2.offset, sha(f2.jpeg)),
        (48708, A9_DS2.to_string())
    );
}

#[test]
fn real_dataset_cut_at_every_byte_never_returns_a_partial_frame() {
    let Some(obj) = vector("a9ii.ds0.bin") else {
        return;
    };
    let end = 136 + 24025;
    for cut in 0..obj.len() {
        match extract(&obj[..cut]) {
            Ok(f) => {
                assert!(cut >= end, "frame from a {cut}-byte prefix");
                assert_eq!(sha(f.jpeg), A9_DS0);
            }
            Err(_) => assert!(cut < end, "no frame from a {cut}-byte prefix"),
        }
    }
}

// ---------- synthetic JPEGs ----------

struct Jpeg {
    w: u16,
    h: u16,
    color: ColorType,
    sampling: SamplingFactor,
    progressive: bool,
    restart: u16,
    app1: Option<Vec<u8>>,
}

impl Default for Jpeg {
    fn default() -> Self {
        Jpeg {
            w: 64,
            h: 48,
            color: ColorType::Rgb,
            sampling: SamplingFactor::R_4_2_2,
            progressive: false,
            restart: 0,
            app1: None,
        }
    }
}

impl Jpeg {
    fn encode(self) -> Vec<u8> {
        let bpp = if matches!(self.color, ColorType::Luma) {
            1
        } else {
            3
        };
        // Noise so the entropy data is dense and full of stuffed FF 00 pairs.
        let mut seed = 0x1234_5678u32;
        let pixels: Vec<u8> = (0..usize::from(self.w) * usize::from(self.h) * bpp)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, 90);
        enc.set_sampling_factor(self.sampling);
        enc.set_progressive(self.progressive);
        if self.restart > 0 {
            enc.set_restart_interval(self.restart);
        }
        if let Some(app1) = self.app1 {
            enc.add_app_segment(1, app1).unwrap();
        }
        enc.encode(&pixels, self.w, self.h, self.color).unwrap();
        out
    }
}

fn small_jpeg() -> Vec<u8> {
    Jpeg::default().encode()
}

/// A dataset as Sony lays it out: header, frame info, JPEG, padding.
fn dataset(jpeg: &[u8], frame_info: &[u8], padding: &[u8]) -> Vec<u8> {
    let image_offset = (16 + frame_info.len()) as u32;
    let mut d = Vec::new();
    d.extend_from_slice(&image_offset.to_le_bytes());
    d.extend_from_slice(&((jpeg.len() + padding.len()) as u32).to_le_bytes());
    d.extend_from_slice(&16u32.to_le_bytes());
    d.extend_from_slice(&(frame_info.len() as u32).to_le_bytes());
    d.extend_from_slice(frame_info);
    d.extend_from_slice(jpeg);
    d.extend_from_slice(padding);
    d
}

#[test]
fn jpeg_info_table() {
    let cases = [
        (Jpeg::default(), Sampling::Yuv422),
        (
            Jpeg {
                sampling: SamplingFactor::R_4_2_0,
                ..Jpeg::default()
            },
            Sampling::Yuv420,
        ),
        (
            Jpeg {
                sampling: SamplingFactor::R_4_4_4,
                ..Jpeg::default()
            },
            Sampling::Yuv444,
        ),
        (
            Jpeg {
                sampling: SamplingFactor::R_4_4_0,
                ..Jpeg::default()
            },
            Sampling::Other,
        ),
        (
            Jpeg {
                color: ColorType::Luma,
                ..Jpeg::default()
            },
            Sampling::Gray,
        ),
        (
            Jpeg {
                progressive: true,
                ..Jpeg::default()
            },
            Sampling::Yuv422,
        ),
        (
            Jpeg {
                restart: 1,
                w: 1024,
                h: 680,
                ..Jpeg::default()
            },
            Sampling::Yuv422,
        ),
        (
            Jpeg {
                w: 1,
                h: 1,
                ..Jpeg::default()
            },
            Sampling::Yuv422,
        ),
    ];
    for (spec, sampling) in cases {
        let (w, h) = (spec.w, spec.h);
        let jpg = spec.encode();
        let info = jpeg_info(&jpg).unwrap();
        assert_eq!(
            info,
            JpegInfo {
                len: jpg.len(),
                width: w,
                height: h,
                sampling
            }
        );
        // Trailing junk never extends it; a dataset around it gives the same bytes.
        let mut junk = jpg.clone();
        junk.extend_from_slice(&[0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xD9]);
        assert_eq!(jpeg_info(&junk).unwrap().len, jpg.len());
        let obj = dataset(&jpg, &[0; 120], &[0x00, 0xFF, 0xD9, 0x55]);
        assert_eq!(extract(&obj).unwrap().jpeg, &jpg[..]);
    }
}

#[test]
fn padding_with_eoi_and_soi_never_extends_or_cuts() {
    let jpg = small_jpeg();
    for padding in [
        &[][..],
        &[0xFF, 0xD9][..],
        &[0x00, 0x3F, 0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 0xD9, 0x00][..],
        &[0xFF; 33][..],
    ] {
        let obj = dataset(&jpg, &[0; 120], padding);
        let f = extract(&obj).unwrap();
        assert_eq!((f.jpeg, f.offset), (&jpg[..], 136));
    }
}

#[test]
fn stray_soi_in_header_or_frame_info_is_ignored() {
    let jpg = small_jpeg();
    let mut info = vec![0u8; 120];
    info[3..7].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xD9]);
    info[50..54].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    let mut obj = dataset(&jpg, &info, &[1, 2, 3]);
    obj[13] = 0xFF; // the frame-info size's high bytes, as in gphoto2 #389
    obj[14] = 0xD8;
    obj[12] = 120;
    obj[15] = 0;
    let f = extract(&obj).unwrap();
    assert_eq!((f.jpeg, f.offset), (&jpg[..], 136));
}

#[test]
fn exif_thumbnail_is_skipped_by_length() {
    let thumb = Jpeg {
        w: 8,
        h: 8,
        sampling: SamplingFactor::R_4_4_4,
        ..Jpeg::default()
    }
    .encode();
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&[0xFF, 0xD9]); // a bare EOI right at the segment start
    exif.extend_from_slice(&thumb);
    let jpg = Jpeg {
        app1: Some(exif),
        ..Jpeg::default()
    }
    .encode();
    let info = jpeg_info(&jpg).unwrap();
    assert_eq!((info.len, info.width, info.height), (jpg.len(), 64, 48));
    assert_eq!(info.sampling, Sampling::Yuv422);
    let obj = dataset(&jpg, &[0; 120], &[0xFF, 0xD9]);
    assert_eq!(extract(&obj).unwrap().jpeg, &jpg[..]);
}

#[test]
fn truncated_at_every_byte_is_an_error() {
    let jpg = Jpeg {
        restart: 2,
        ..Jpeg::default()
    }
    .encode();
    let progressive = Jpeg {
        progressive: true,
        ..Jpeg::default()
    }
    .encode();
    // Every prefix must say "truncated" (not "corrupt"): stream readers rely on it to
    // know they should read more.
    for j in [&jpg, &progressive] {
        for cut in 0..j.len() {
            let r = jpeg_info(&j[..cut]);
            assert!(
                matches!(r, Err(ExtractError::Truncated { .. } | ExtractError::Empty)),
                "jpeg cut at {cut}: {r:?}"
            );
        }
    }
    // Cut by the data or by the declared size: never a frame.
    let obj = dataset(&jpg, &[0; 120], &[9; 7]);
    let end = 136 + jpg.len();
    for cut in 0..obj.len() {
        let r = extract(&obj[..cut]);
        assert_eq!(r.is_ok(), cut >= end, "object cut at {cut}: {r:?}");
        if let Ok(f) = r {
            assert_eq!(f.jpeg, &jpg[..]);
        }
        let mut short = obj.clone();
        short[4..8].copy_from_slice(&((cut.saturating_sub(136)) as u32).to_le_bytes());
        let r = extract(&short);
        assert_eq!(r.is_ok(), cut >= end, "declared size cut at {cut}: {r:?}");
    }
}

#[test]
fn error_table() {
    let jpg = small_jpeg();
    let good = dataset(&jpg, &[0; 120], &[]);
    let with_header = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut o = good.clone();
        f(&mut o);
        o
    };
    let set =
        |i: usize, v: u32| move |o: &mut Vec<u8>| o[i..i + 4].copy_from_slice(&v.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, Result<usize, ExtractError>)> = vec![
        ("empty", vec![], Err(ExtractError::Empty)),
        ("one byte", vec![0xFF], Err(ExtractError::NoImage)),
        (
            "not ready: header only",
            good[..16].to_vec(),
            Err(ExtractError::NoImage),
        ),
        (
            "not ready: size 0",
            with_header(&set(4, 0)),
            Err(ExtractError::NoImageDeclared),
        ),
        ("zeros", vec![0; 4096], Err(ExtractError::NoImage)),
        // Hostile offsets: unusable, so the fallback finds the JPEG.
        ("offset u32::MAX", with_header(&set(0, u32::MAX)), Ok(136)),
        ("offset 0", with_header(&set(0, 0)), Ok(136)),
        (
            "offset at end",
            with_header(&set(0, good.len() as u32)),
            Ok(136),
        ),
        (
            "offset len-1",
            with_header(&set(0, good.len() as u32 - 1)),
            Ok(136),
        ),
        ("offset into header", with_header(&set(0, 4)), Ok(136)),
        // Hostile sizes are clamped to the data.
        ("size u32::MAX", with_header(&set(4, u32::MAX)), Ok(136)),
        (
            "offset+size overflows u32",
            with_header(&|o| {
                set(4, u32::MAX - 100)(o);
                set(8, u32::MAX)(o);
                set(12, u32::MAX)(o);
            }),
            Ok(136),
        ),
        (
            "soi then junk",
            vec![0, 0, 0, 0, 0xFF, 0xD8, 0x12, 0x34],
            Err(ExtractError::BadMarker {
                offset: 6,
                byte: 0x12,
            }),
        ),
        (
            "soi eoi",
            vec![0xFF, 0xD8, 0xFF, 0xD9],
            Err(ExtractError::NoScan { offset: 2 }),
        ),
        (
            "segment length 0",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00],
            Err(ExtractError::BadSegment {
                offset: 2,
                marker: 0xE0,
                reason: "segment length below 2",
            }),
        ),
        (
            "segment runs past the end",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 0, 0],
            Err(ExtractError::Truncated { offset: 8 }),
        ),
        (
            "sos before sof",
            vec![
                0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0xFF, 0xD9,
            ],
            Err(ExtractError::MissingFrameHeader { offset: 2 }),
        ),
        (
            "lossless sof3",
            vec![
                0xFF, 0xD8, 0xFF, 0xC3, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0,
            ],
            Err(ExtractError::UnsupportedCoding {
                offset: 2,
                marker: 0xC3,
            }),
        ),
        (
            "zero width",
            vec![
                0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 0, 1, 1, 0x11, 0,
            ],
            Err(ExtractError::BadSegment {
                offset: 2,
                marker: 0xC0,
                reason: "frame header has a zero width or height",
            }),
        ),
    ];
    for (name, obj, want) in cases {
        let got = extract(&obj).map(|f| f.offset);
        assert_eq!(got, want, "{name}");
        if let Ok(off) = got {
            assert_eq!(extract(&obj).unwrap().jpeg, &jpg[..], "{name}");
            assert_eq!(off, 136);
        }
    }
}

#[test]
fn fallback_skips_a_bad_candidate() {
    let jpg = small_jpeg();
    let mut obj = vec![0xFF, 0xD8, 0x00, 0x00, 0xFF, 0xD8, 0xFF, 0xD9];
    obj.extend_from_slice(&jpg);
    let f = extract(&obj).unwrap();
    assert_eq!((f.offset, f.jpeg), (8, &jpg[..]));
}

#[test]
fn fallback_never_returns_a_thumbnail_of_a_broken_jpeg() {
    let thumb = Jpeg {
        w: 8,
        h: 8,
        ..Jpeg::default()
    }
    .encode();
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&thumb);
    let jpg = Jpeg {
        app1: Some(exif),
        ..Jpeg::default()
    }
    .encode();
    // Header unusable (a bare JPEG), main image cut in its scan: no frame at all.
    let cut = &jpg[..jpg.len() - 40];
    assert!(matches!(extract(cut), Err(ExtractError::Truncated { .. })));
    // Main image corrupt after its APP1 segment: still no thumbnail.
    let app1 = jpg.windows(4).position(|w| w == b"Exif").unwrap() - 4;
    assert_eq!(jpg[app1..app1 + 2], [0xFF, 0xE1]);
    let app1_end = app1 + 2 + usize::from(u16::from_be_bytes([jpg[app1 + 2], jpg[app1 + 3]]));
    let mut bad = jpg.clone();
    bad[app1_end] = 0x00;
    let r = extract(&bad);
    assert!(
        matches!(r, Err(ExtractError::BadMarker { offset, .. }) if offset == app1_end),
        "{r:?}"
    );
}

#[test]
fn split_table() {
    let jpg = small_jpeg();
    let a = dataset(&jpg, &[0; 120], &[0xFF, 0xD9, 0]);
    let b = dataset(&jpg, &[], &[]);
    let mut two = a.clone();
    two.extend_from_slice(&b);
    assert_eq!(
        split_datasets(&two).collect::<Vec<_>>(),
        vec![Ok(&a[..]), Ok(&b[..])]
    );
    assert_eq!(split_datasets(&[]).count(), 0);
    assert_eq!(
        split_datasets(&a[..10]).collect::<Vec<_>>(),
        vec![Err(ExtractError::Incomplete {
            offset: 0,
            have: 10,
            need: 16
        })]
    );
    let hostile = [
        (u32::MAX, u32::MAX, "declared size above 64 MiB"),
        (136, 0, "no image declared"),
        (8, 100, "image offset points into the header"),
        (20, 100, "no jpeg start (ff d8) at the image offset"),
        (16, 64 << 20, "declared size above 64 MiB"),
    ];
    for (off, size, reason) in hostile {
        let mut o = a.clone();
        o[0..4].copy_from_slice(&off.to_le_bytes());
        o[4..8].copy_from_slice(&size.to_le_bytes());
        assert_eq!(
            split_datasets(&o).collect::<Vec<_>>(),
            vec![Err(ExtractError::BadHeader { offset: 0, reason })],
            "{off} {size}"
        );
    }
    // Frame info after the image extends the dataset.
    let h = DatasetHeader {
        image_offset: 16,
        image_size: 10,
        frame_info_offset: 26,
        frame_info_size: 30,
    };
    assert_eq!(h.dataset_len(), 56);
}

#[test]
fn messages_are_lowercase_without_trailing_period() {
    let errs = [
        ExtractError::Empty,
        ExtractError::NoImage,
        ExtractError::Truncated { offset: 1 },
        ExtractError::BadHeader {
            offset: 0,
            reason: "x",
        },
    ];
    for e in errs {
        let m = e.to_string();
        assert!(m.starts_with(|c: char| c.is_lowercase()), "{m}");
        assert!(!m.ends_with('.'), "{m}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(f) = extract(&data) {
            prop_assert!(f.jpeg.starts_with(&[0xFF, 0xD8]) && f.jpeg.ends_with(&[0xFF, 0xD9]));
        }
        let _ = jpeg_info(&data);
        for _ in split_datasets(&data) {}
    }

    #[test]
    fn random_markers_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(vec![0xFF, 0xD8]), Just(vec![0xFF, 0xD9]), Just(vec![0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]),
                Just(vec![0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]), Just(vec![0xFF, 0x00]),
                Just(vec![0xFF]), Just(vec![0xFF, 0xD0]), proptest::collection::vec(any::<u8>(), 0..8),
            ],
            0..40,
        )
    ) {
        let data: Vec<u8> = parts.concat();
        if let Ok(info) = jpeg_info(&data) {
            prop_assert!(info.len <= data.len());
            prop_assert_eq!(&data[info.len - 2..info.len], &[0xFF, 0xD9]);
        }
        let _ = extract(&data);
    }

    #[test]
    fn mutated_dataset_never_panics(flips in proptest::collection::vec((0usize..2000, any::<u8>()), 1..8)) {
        let jpg = small_jpeg();
        let mut obj = dataset(&jpg, &[0; 120], &[0xFF, 0xD9]);
        for (i, v) in flips {
            let n = obj.len();
            obj[i % n] = v;
        }
        if let Ok(f) = extract(&obj) {
            prop_assert!(f.offset + f.jpeg.len() <= obj.len());
            prop_assert!(f.jpeg.ends_with(&[0xFF, 0xD9]));
        }
    }
}
