//! The protocol codecs and the offload store path:
//! - PTP USB containers: command encode, data-phase header peek (src/ptp/container.rs);
//! - PTP/IP packets: operation request / data chunk encode, streaming decode of a whole
//!   GetObject data phase in 64 KiB chunks as it arrives from a socket (src/ptp/ptpip.rs);
//! - DeviceInfo and ObjectInfo parse (src/ptp/dataset.rs), with Sony-sized lists;
//! - the offload store: temp file, write 8 MiB, fsync, size check, rename, ledger entry
//!   (src/offload/store.rs) — on whatever disk backs the temp directory, so it measures
//!   that disk's fsync as much as our code.
//!
//! Wall-clock time (the codecs do no I/O). Run: `cargo bench --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use alpha_bridge::offload::store::{Plan, Store};
use alpha_bridge::ptp::container::{self, Command, Params};
use alpha_bridge::ptp::dataset::{DeviceInfo, ObjectInfo};
use alpha_bridge::ptp::ptpip::{self, Packet};
use alpha_bridge::ptp::{ObjectFormat, OpCode};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("ptp-usb");
    let cmd = Command {
        code: OpCode(0x1009),
        tid: 42,
        params: Params::new(&[0xFFFF_C001, 0, 0]).unwrap(),
    };
    let mut out = Vec::with_capacity(64);
    g.bench_function("command-encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&cmd).encode(&mut out);
            black_box(out.len())
        })
    });
    let mut data = container::data_header(OpCode(0x1009), 42, 512 * 1024).to_vec();
    data.resize(512 * 1024 + 12, 0xAB);
    g.bench_function("data-header-peek", |b| {
        b.iter(|| container::peek(black_box(&data), 64 << 20).unwrap())
    });
    let mut resp = Vec::new();
    alpha_bridge::ptp::container::Response {
        code: alpha_bridge::ptp::ResponseCode(0x2001),
        tid: 42,
        params: Params::new(&[1, 2]).unwrap(),
    }
    .encode(&mut resp);
    g.bench_function("response-parse", |b| {
        b.iter(|| container::Response::parse(black_box(&resp)).unwrap())
    });
    g.finish();
}

fn ptpip_packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("ptpip");
    let req = Packet::OperationRequest {
        data_phase: 1,
        code: OpCode(0x1009),
        tid: 7,
        params: Params::new(&[0x1234]).unwrap(),
    };
    let mut out = Vec::with_capacity(64);
    g.bench_function("operation-request-encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&req).encode(&mut out).unwrap();
            black_box(out.len())
        })
    });
    let mut small = Vec::new();
    req.encode(&mut small).unwrap();
    g.bench_function("operation-request-decode", |b| {
        b.iter(|| ptpip::decode(black_box(&small), ptpip::DEFAULT_MAX_PACKET).unwrap())
    });

    // One 8 MiB data phase as a camera sends it (Start Data, 1 MiB Data packets, End
    // Data), fed to the streaming decoder in 64 KiB socket reads.
    const TOTAL: usize = 8 << 20;
    const CHUNK: usize = 1 << 20;
    let mut stream = Vec::with_capacity(TOTAL + 4096);
    Packet::StartData {
        tid: 7,
        total: TOTAL as u64,
    }
    .encode(&mut stream)
    .unwrap();
    for i in 0..TOTAL / CHUNK {
        let payload = vec![i as u8; CHUNK];
        if i + 1 == TOTAL / CHUNK {
            Packet::EndData { tid: 7, payload }
                .encode(&mut stream)
                .unwrap();
        } else {
            Packet::Data { tid: 7, payload }
                .encode(&mut stream)
                .unwrap();
        }
    }
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.bench_function("data-phase-8MiB-stream-decode", |b| {
        b.iter(|| {
            let mut dec = ptpip::Decoder::new();
            let mut got = 0usize;
            for read in stream.chunks(64 << 10) {
                dec.feed(read);
                while let Some(p) = dec.decode().unwrap() {
                    if let Packet::Data { payload, .. } | Packet::EndData { payload, .. } = p {
                        got += payload.len();
                    }
                }
            }
            assert_eq!(got, TOTAL);
        })
    });
    let payload = vec![0x5A; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + 64);
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.bench_function("data-header-encode-1MiB", |b| {
        b.iter(|| {
            out.clear();
            out.extend_from_slice(&ptpip::data_header(false, 7, payload.len()).unwrap());
            out.extend_from_slice(&payload);
            black_box(out.len())
        })
    });
    g.finish();
}

fn datasets(c: &mut Criterion) {
    let mut g = c.benchmark_group("dataset");
    let di = DeviceInfo {
        standard_version: 100,
        vendor_extension_id: 0x11,
        vendor_extension_version: 100,
        vendor_extension_desc: "Sony PTP Extensions".into(),
        functional_mode: 0,
        operations_supported: (0x1001..0x1020).chain(0x9201..0x9230).collect(),
        events_supported: (0xC201..0xC230).collect(),
        device_properties_supported: (0x5001..0x5020).chain(0xD200..0xD2F0).collect(),
        capture_formats: vec![0x3801, 0xB101],
        image_formats: vec![0x3801, 0xB101, 0x300D, 0x3001],
        manufacturer: "Sony Corporation".into(),
        model: "ILCE-6400".into(),
        device_version: "1.00".into(),
        serial_number: "00000000000000003282933003429032".into(),
    };
    let mut di_bytes = Vec::new();
    di.encode(&mut di_bytes);
    g.bench_function("deviceinfo-parse", |b| {
        b.iter(|| DeviceInfo::parse(black_box(&di_bytes)).unwrap())
    });
    let oi = ObjectInfo {
        storage_id: 0x10001,
        format: ObjectFormat::EXIF_JPEG,
        compressed_size: 8 << 20,
        thumb_format: 0x3801,
        thumb_compressed_size: 12000,
        thumb_pix_width: 160,
        thumb_pix_height: 120,
        image_pix_width: 6000,
        image_pix_height: 4000,
        image_bit_depth: 24,
        parent: 0,
        filename: "DSC01234.JPG".into(),
        capture_date: "20261125T101112".into(),
        modification_date: "20261125T101112".into(),
        ..Default::default()
    };
    let mut oi_bytes = Vec::new();
    oi.encode(&mut oi_bytes);
    g.bench_function("objectinfo-parse", |b| {
        b.iter(|| ObjectInfo::parse(black_box(&oi_bytes)).unwrap())
    });
    g.finish();
}

fn store(c: &mut Criterion) {
    let mut g = c.benchmark_group("offload-store");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    const SIZE: usize = 8 << 20;
    g.throughput(Throughput::Bytes(SIZE as u64));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("store");
    let chunk = vec![0xC3u8; 1 << 20];
    let mut n = 0u64;
    g.bench_function("temp-write-fsync-rename-8MiB", |b| {
        b.iter_batched(
            || {
                n += 1;
                ObjectInfo {
                    storage_id: 0x10001,
                    format: ObjectFormat::EXIF_JPEG,
                    compressed_size: SIZE as u32,
                    filename: format!("DSC{n:05}.JPG"),
                    capture_date: "20261125T101112".into(),
                    ..Default::default()
                }
            },
            |info| {
                let Plan::Fetch(t) = store.plan("BENCH", &info).expect("plan") else {
                    panic!("unexpected skip");
                };
                let mut f = store.begin(&t, 0).expect("begin");
                for _ in 0..SIZE / chunk.len() {
                    f.write(&chunk).expect("write");
                }
                let p = store.commit(&t, f, SIZE as u64).expect("commit");
                // Keep the disk from filling over many samples.
                std::fs::remove_file(p).expect("remove");
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, containers, ptpip_packets, datasets, store);
criterion_main!(benches);
