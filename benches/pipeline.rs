//! The whole live-view pipeline (capture → decode → write) against a paced replay of the
//! emulator's test card at 1024x680, 30 fps, into a `NullSink`, per decoder backend.
//!
//! Reports the process CPU time (user + system, all pipeline threads, from getrusage)
//! per frame and as a share of one core at the replay rate, the decode time and the
//! stats' "frame complete → written" latency p50/p99, and peak RSS. This is not a
//! criterion benchmark: the quantity is CPU load at a fixed frame rate, not the speed
//! of a loop. Run: `cargo bench --bench pipeline` (libjpeg-turbo when installed; `ALPHA_BRIDGE_NO_TURBOJPEG=1` for zune);
//! `PIPELINE_BENCH_SECS` sets the run length per backend (default 10).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpha_bridge::decode::Backend;
use alpha_bridge::emulator::testcard::TestCard;
use alpha_bridge::pipeline::source::ReplaySource;
use alpha_bridge::pipeline::{self, Options, Output};
use alpha_bridge::sink::NullSink;

const FPS: u32 = 30;

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we pass; RUSAGE_SELF is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn max_rss_kib() -> i64 {
    // SAFETY: as above.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss
    }
}

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter); nothing to parse.
    let secs: u64 = std::env::var("PIPELINE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let mjpeg = dir.path().join("card.mjpeg");
    let mut card = TestCard::new(1024, 680).expect("test card");
    let frames: Vec<u8> = (0..60)
        .flat_map(|i| card.frame(i).expect("frame").to_vec())
        .collect();
    std::fs::write(&mjpeg, frames).expect("write frames");
    println!(
        "pipeline: replay of the 1024x680 test card at {FPS} fps, null sink, {secs} s per backend"
    );
    for &backend in Backend::available() {
        let opts = Options {
            output: Output::Yuyv(Box::new(NullSink::new())),
            duration: Some(Duration::from_secs(secs)),
            fps: FPS,
            backend,
            stats_interval: Duration::from_secs(3600),
            reconnect: false,
            ..Options::default()
        };
        let source = ReplaySource::new(mjpeg.clone(), FPS, true);
        let (c0, t0) = (cpu_seconds(), Instant::now());
        let summary = pipeline::run(Box::new(source), opts, Arc::new(AtomicBool::new(false)))
            .expect("pipeline run");
        let (cpu, wall) = (cpu_seconds() - c0, t0.elapsed().as_secs_f64());
        let s = &summary.stats;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        println!(
            "{backend:>9}: {} frames written ({} dropped) in {wall:.1} s; CPU {:.2} ms/frame = {:.1} % of one core; \
             decode p50 {} p99 {} ms; latency (complete → written) p50 {} p99 {} ms; peak RSS {} MiB",
            s.written,
            s.dropped,
            cpu * 1e3 / s.written.max(1) as f64,
            cpu / wall * 100.0,
            f(s.decode_ms_p50),
            f(s.decode_ms_p99),
            f(s.latency_ms_p50),
            f(s.latency_ms_p99),
            max_rss_kib() / 1024,
        );
    }
}
