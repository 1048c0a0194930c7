//! Cost of one emulated live-view frame: rendering and encoding the 1024x680 4:2:2 test
//! card, and wrapping it in a Sony live-view dataset.

use alpha_bridge::emulator::liveview::{wrap, Layout};
use alpha_bridge::emulator::testcard::TestCard;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn testcard(c: &mut Criterion) {
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
