//! Decode + pack (JPEG -> limited-range YUYV) per backend, at the live-view sizes Sony
//! bodies send (640x424, 1024x680) and 1920x1080, each as 4:2:2 and 4:2:0.
//!
//! Frames are made here (synthetic photographic scene, jpeg-encoder quality 85), four
//! different frames per case decoded in turn. The same frames are written to
//! `target/decode-bench-frames/<case>.mjpeg` (300 frames each) so ffmpeg can be timed on
//! identical input:
//! `ffmpeg -threads 1 -f mjpeg -i <case>.mjpeg -pix_fmt yuyv422 -f rawvideo -y /dev/null`.
//! Run: `cargo bench --bench decode` (add `--features turbojpeg` for libjpeg-turbo).

#[path = "../tests/common/synth.rs"]
mod synth;

use std::hint::black_box;
use std::time::Duration;

use alpha_bridge::decode::{Backend, Decoder, Yuyv};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use synth::Sampling;

const SIZES: &[(u32, u32)] = &[(640, 424), (1024, 680), (1920, 1080)];
const SAMPLINGS: &[Sampling] = &[Sampling::S422, Sampling::S420];

fn frames_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    target.join("decode-bench-frames")
}

fn bench_decode(c: &mut Criterion) {
    let dir = frames_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut group = c.benchmark_group("decode");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for &(w, h) in SIZES {
        for &s in SAMPLINGS {
            let frames: Vec<Vec<u8>> = (0..4).map(|i| synth::jpeg(w, h, s, 85, i)).collect();
            let case = format!("{w}x{h}-{}", s.name().replace(':', ""));
            let mjpeg: Vec<u8> = frames.iter().cycle().take(300).flatten().copied().collect();
            let _ = std::fs::write(dir.join(format!("{case}.mjpeg")), &mjpeg);
            group.throughput(Throughput::Elements(1));
            for &backend in Backend::available() {
                let mut dec = Decoder::new(backend);
                let mut out = Yuyv::new();
                let mut i = 0usize;
                group.bench_function(format!("{backend}/{case}"), |b| {
                    b.iter(|| {
                        i = i.wrapping_add(1);
                        dec.decode(black_box(&frames[i % frames.len()]), &mut out)
                            .unwrap();
                        black_box(&out.data);
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
