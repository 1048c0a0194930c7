//! Decode + pack (JPEG -> limited-range YUYV) per backend, at the live-view sizes Sony
//! bodies send (640x424, 1024x680) and 1920x1080, each as 4:2:2 and 4:2:0; plus zune-jpeg's
//! own decode alone (`zune-decode-only`, to interleaved YCbCr without our pack) at 1024x680 and 1920x1080 4:2:2, to show what the pack costs.
//!
//! Frames are made here (synthetic photographic scene, jpeg-encoder quality 85), four
//! different frames per case decoded in turn. The same frames are written to
//! `target/decode-bench-frames/<case>.mjpeg` (300 frames each) so ffmpeg can be timed on
//! identical input:
//! `ffmpeg -threads 1 -f mjpeg -i <case>.mjpeg -pix_fmt yuyv422 -f rawvideo -y /dev/null`.
//!
//! The clock is the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time:
//! the targets are "per frame on one core", and CPU time stays meaningful on a shared,
//! loaded machine where wall time mostly measures the scheduler. On an idle machine the
//! two agree. Run: `cargo bench --bench decode` (libjpeg-turbo is benched when installed).

#[path = "../tests/it/support/synth.rs"]
mod synth;

use std::hint::black_box;
use std::time::Duration;

use alpha_bridge::decode::{Backend, Decoder, Yuyv};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use synth::Sampling;

const SIZES: &[(u32, u32)] = &[(640, 424), (1024, 680), (1920, 1080)];
const SAMPLINGS: &[Sampling] = &[Sampling::S422, Sampling::S420];

/// CPU time of the calling thread.
struct ThreadCpu;

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; the clock id is a constant Linux supports.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        values.iter_mut().for_each(|v| *v *= f);
        unit
    }
    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let n = match *throughput {
            Throughput::Elements(n) => n as f64,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n as f64,
            Throughput::Bits(n) => n as f64,
            Throughput::ElementsAndBytes { elements, .. } => elements as f64,
        };
        let _ = typical;
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "frames/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

fn frames_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    target.join("decode-bench-frames")
}

fn bench_decode(c: &mut Criterion<ThreadCpu>) {
    let dir = frames_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(1));
    for &(w, h) in SIZES {
        for &s in SAMPLINGS {
            let frames: Vec<Vec<u8>> = (0..4).map(|i| synth::jpeg(w, h, s, 85, i)).collect();
            let case = format!("{w}x{h}-{}", s.name().replace(':', ""));
            let mjpeg: Vec<u8> = frames.iter().cycle().take(300).flatten().copied().collect();
            let _ = std::fs::write(dir.join(format!("{case}.mjpeg")), &mjpeg);
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
            if w >= 1024 && s == Sampling::S422 {
                decode_only(&mut group, &case, &frames);
            }
        }
    }
    // Real Sony live-view frames (640x424 4:2:2), when the shared vectors are present.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");
    let real: Vec<Vec<u8>> = [
        "a9ii.ds0.jpg",
        "a9ii.ds1.jpg",
        "rx100m7_multi.ds0.jpg",
        "rx100m7_multi.ds1.jpg",
    ]
    .iter()
    .filter_map(|f| std::fs::read(format!("{dir}/{f}")).ok())
    .collect();
    if !real.is_empty() {
        let mjpeg: Vec<u8> = real.iter().cycle().take(300).flatten().copied().collect();
        let _ = std::fs::write(frames_dir().join("liveview-640x424-422.mjpeg"), &mjpeg);
        for &backend in Backend::available() {
            let mut dec = Decoder::new(backend);
            let mut out = Yuyv::new();
            let mut i = 0usize;
            group.bench_function(format!("{backend}/liveview-640x424-422"), |b| {
                b.iter(|| {
                    i = i.wrapping_add(1);
                    dec.decode(black_box(&real[i % real.len()]), &mut out)
                        .unwrap();
                    black_box(&out.data);
                })
            });
        }
    }
    group.finish();
}

/// zune-jpeg's decode with no pack: the floor our zune decode+pack is measured against.
fn decode_only(
    group: &mut criterion::BenchmarkGroup<'_, ThreadCpu>,
    case: &str,
    frames: &[Vec<u8>],
) {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let mut buf = Vec::new();
    let mut i = 0usize;
    group.bench_function(format!("zune-decode-only/{case}"), |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(
                ZCursor::new(&frames[i % frames.len()]),
                opts,
            );
            d.decode_headers().unwrap();
            buf.resize(d.output_buffer_size().unwrap(), 0);
            d.decode_into(&mut buf).unwrap();
            black_box(&buf);
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench_decode
}
criterion_main!(benches);
