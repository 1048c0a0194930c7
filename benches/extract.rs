//! Live-view JPEG extraction cost: a real RX100M7 dataset (640x424, shared vectors) and a
//! synthetic 1024x680 4:2:2 frame (Sony's "high" live-view size) wrapped in a dataset.

use std::hint::black_box;

use alpha_bridge::frame::{extract, jpeg_info, split_datasets};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

fn synthetic_dataset(w: u16, h: u16) -> Vec<u8> {
    // A gradient with noise compresses like a real scene (~100 KB at this size).
    let mut s = 0x9E37_79B9u32;
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..h {
        for x in 0..w {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            px.push((x / 4) as u8 ^ (s & 31) as u8);
            px.push((y / 3) as u8 ^ ((s >> 8) & 31) as u8);
            px.push(((x + y) / 7) as u8 ^ ((s >> 16) & 31) as u8);
        }
    }
    let mut jpg = Vec::new();
    let mut enc = Encoder::new(&mut jpg, 80);
    enc.set_sampling_factor(SamplingFactor::R_4_2_2);
    enc.encode(&px, w, h, ColorType::Rgb).unwrap();
    let padded = jpg.len().div_ceil(128) * 128;
    let mut d = Vec::new();
    for v in [136u32, padded as u32, 16, 120] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.resize(136, 0);
    d.extend_from_slice(&jpg);
    d.resize(136 + padded, 0x5A);
    d
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/liveview");
    match std::fs::read(format!("{vectors}/rx100m7_multi.ds0.bin")) {
        Ok(obj) => {
            g.throughput(Throughput::Bytes(obj.len() as u64));
            g.bench_function("rx100m7_640x424", |b| {
                b.iter(|| extract(black_box(&obj)).unwrap().jpeg.len())
            });
        }
        Err(e) => eprintln!("skipping rx100m7 bench: {e}"),
    }
    if let Ok(multi) = std::fs::read(format!("{vectors}/liveview-rx100m7-multipleimages.bin")) {
        g.throughput(Throughput::Bytes(multi.len() as u64));
        g.bench_function("split_and_extract_rx100m7_multi", |b| {
            b.iter(|| {
                split_datasets(black_box(&multi))
                    .filter_map(Result::ok)
                    .map(|d| extract(d).unwrap().jpeg.len())
                    .sum::<usize>()
            })
        });
    }
    let obj = synthetic_dataset(1024, 680);
    g.throughput(Throughput::Bytes(obj.len() as u64));
    g.bench_function("synthetic_1024x680", |b| {
        b.iter(|| extract(black_box(&obj)).unwrap().jpeg.len())
    });
    g.bench_function("jpeg_info_1024x680", |b| {
        b.iter(|| jpeg_info(black_box(&obj[136..])).unwrap().len)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
