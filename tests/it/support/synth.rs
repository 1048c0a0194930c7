//! Synthetic "photographic" test frames made by the project itself (no downloaded
//! images): smooth colour gradients, soft blobs, hard-edged shapes and sensor-like noise,
//! encoded with jpeg-encoder. Shared by `tests/it/decode.rs` and `benches/decode.rs`.
//!
//! Colours stay inside 12..=243 in RGB so an RGB reference decoder never clips, which
//! would make its YCbCr round trip meaningless.

#![allow(dead_code)]

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// Chroma layout of a synthetic frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sampling {
    S422,
    S420,
    S444,
    /// 1x2 chroma (rare; some phones)
    S440,
    /// 4x1 chroma (rare; old DV-style)
    S411,
    Gray,
}

impl Sampling {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Sampling::S422 => "4:2:2",
            Sampling::S420 => "4:2:0",
            Sampling::S444 => "4:4:4",
            Sampling::S440 => "4:4:0",
            Sampling::S411 => "4:1:1",
            Sampling::Gray => "gray",
        }
    }
}

/// RGB pixels of a deterministic synthetic scene, `seed` varies noise and shape placement.
pub(crate) fn scene_rgb(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut px = Vec::with_capacity(w * h * 3);
    let mut x_state = 0x9E37_79B9u32 ^ seed.wrapping_mul(0x85EB_CA6B);
    let mut rnd = move || {
        x_state ^= x_state << 13;
        x_state ^= x_state >> 17;
        x_state ^= x_state << 5;
        x_state
    };
    let s = seed as f32 * 0.37;
    // a few hard-edged shapes: (cx, cy, r, colour), in relative coordinates
    let shapes = [
        (0.25 + 0.05 * (s.sin()), 0.35, 0.12, [200.0f32, 60.0, 50.0]),
        (0.70, 0.60 + 0.05 * (s.cos()), 0.18, [40.0, 90.0, 200.0]),
        (0.50, 0.20, 0.07, [230.0, 220.0, 40.0]),
    ];
    for yy in 0..h {
        for xx in 0..w {
            let fx = xx as f32 / w as f32;
            let fy = yy as f32 / h as f32;
            // sky-to-ground style gradients
            let mut c = [
                60.0 + 140.0 * fy + 30.0 * (fx * 6.0 + s).sin(),
                90.0 + 80.0 * (1.0 - fy) + 25.0 * (fy * 9.0 + fx * 3.0).cos(),
                160.0 - 90.0 * fy + 40.0 * (fx * 4.0 - s).sin(),
            ];
            for (cx, cy, r, col) in shapes {
                let d2 = (fx - cx) * (fx - cx) * 2.25 + (fy - cy) * (fy - cy);
                if d2 < r * r {
                    c = col;
                }
            }
            // a checkered strip with sharp luminance edges (text-like detail)
            if fy > 0.85 && fy < 0.92 && ((xx / 6) + (yy / 6)) % 2 == 0 {
                c = [30.0, 30.0, 30.0];
            }
            // ±3 of noise: with q85 this lands near 1.1 bits a pixel, like real live view
            // (an RX100M7 640x424 frame is 1.14).
            let n = (rnd() % 7) as f32 - 3.0;
            for v in c {
                px.push((v + n).clamp(12.0, 243.0) as u8);
            }
        }
    }
    px
}

/// JPEG coding options beyond the chroma layout.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Coding {
    pub progressive: bool,
    pub restart_interval: Option<u16>,
    pub optimized_huffman: bool,
}

/// A synthetic frame as a baseline JPEG at `quality` with the given chroma layout.
pub(crate) fn jpeg(width: u32, height: u32, sampling: Sampling, quality: u8, seed: u32) -> Vec<u8> {
    jpeg_with(width, height, sampling, quality, seed, Coding::default())
}

/// A synthetic frame with explicit coding options.
pub(crate) fn jpeg_with(
    width: u32,
    height: u32,
    sampling: Sampling,
    quality: u8,
    seed: u32,
    coding: Coding,
) -> Vec<u8> {
    let rgb = scene_rgb(width, height, seed);
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, quality);
    let (data, color) = match sampling {
        Sampling::Gray => {
            let luma: Vec<u8> = rgb
                .chunks_exact(3)
                .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
                .collect();
            (luma, ColorType::Luma)
        }
        _ => (rgb, ColorType::Rgb),
    };
    enc.set_sampling_factor(match sampling {
        Sampling::S422 => SamplingFactor::R_4_2_2,
        Sampling::S420 => SamplingFactor::R_4_2_0,
        Sampling::S440 => SamplingFactor::R_4_4_0,
        Sampling::S411 => SamplingFactor::R_4_1_1,
        Sampling::S444 | Sampling::Gray => SamplingFactor::R_4_4_4,
    });
    enc.set_progressive(coding.progressive);
    if let Some(n) = coding.restart_interval {
        enc.set_restart_interval(n);
    }
    enc.set_optimized_huffman_tables(coding.optimized_huffman);
    enc.encode(&data, width as u16, height as u16, color)
        .expect("jpeg-encoder encodes a valid synthetic frame");
    out
}
