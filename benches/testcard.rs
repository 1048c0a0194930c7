//! Cost of one emulated live-view frame: rendering and encoding the 1024x680 4:2:2 test
//! card, and wrapping it in a Sony live-view dataset.

use alpha_bridge::emulator::liveview::{wrap, Layout};
use alpha_bridge::emulator::testcard::TestCard;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

/// CPU time of this thread, which unlike wall time does not grow when other processes
/// share the cores.
#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn testcard(c: &mut Criterion) {
    for (w, h) in [(1024, 680), (640, 424)] {
        let mut card = TestCard::new(w, h).unwrap();
        let start = thread_cpu();
        let mut bytes = 0;
        for i in 0..100 {
            bytes += card.frame(i).unwrap().len();
        }
        let per = (thread_cpu() - start) / 100;
        eprintln!(
            "testcard {w}x{h}: {:.2} ms CPU per frame, {} bytes per JPEG",
            per.as_secs_f64() * 1e3,
            bytes / 100
        );
    }
    let mut card = TestCard::default_size();
    let mut i = 0u64;
    c.bench_function("testcard 1024x680 render+encode", |b| {
        b.iter(|| {
            i += 1;
            black_box(card.frame(i).unwrap().len())
        })
    });
    let mut small = TestCard::new(640, 424).unwrap();
    c.bench_function("testcard 640x424 render+encode", |b| {
        b.iter(|| {
            i += 1;
            black_box(small.frame(i).unwrap().len())
        })
    });
    // The encoder alone on a flat picture, to tell rendering from encoding.
    let flat = vec![128u8; 1024 * 680 * 3];
    let mut buf = Vec::new();
    c.bench_function("jpeg-encoder alone 1024x680 4:2:2", |b| {
        b.iter(|| {
            buf.clear();
            let mut e = jpeg_encoder::Encoder::new(&mut buf, 80);
            e.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_2);
            e.encode(&flat, 1024, 680, jpeg_encoder::ColorType::Ycbcr)
                .unwrap();
            black_box(buf.len())
        })
    });
    let jpeg = card.frame(1).unwrap().to_vec();
    let mut out = Vec::new();
    c.bench_function("live-view dataset wrap", |b| {
        b.iter(|| {
            i += 1;
            black_box(wrap(&jpeg, i, &Layout::default(), &mut out).unwrap())
        })
    });
}

criterion_group!(benches, testcard);
criterion_main!(benches);
