//! Memory over a long run: the whole live-view pipeline (capture → decode → write) on a
//! looping replay of an MJPEG file at 30 fps into a null sink, with the default decoder,
//! printing the process RSS every 30 s and the heap allocator's totals at the end. The
//! measurement behind "do the decoder's own per-frame allocations matter"
//! (docs/performance.md, "Allocations per frame").
//!
//! Usage: `cargo run --release --example soak_rss -- FILE.mjpeg [SECONDS]` (default 600).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpha_bridge::decode::Backend;
use alpha_bridge::pipeline::source::ReplaySource;
use alpha_bridge::pipeline::{self, Options, Output};
use alpha_bridge::sink::NullSink;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: soak_rss FILE.mjpeg [SECONDS]")?;
    let secs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(600);
    let backend = Backend::default();
    println!("soak: {path}, 30 fps, null sink, {backend}, {secs} s");
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while !done.load(Ordering::Relaxed) {
                println!("t={:>4} s rss {} KiB", t0.elapsed().as_secs(), rss_kib());
                for _ in 0..300 {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    let opts = Options {
        output: Output::Yuyv(Box::new(NullSink::new())),
        duration: Some(Duration::from_secs(secs)),
        fps: 30,
        backend,
        stats_interval: Duration::from_secs(3600),
        reconnect: false,
        ..Options::default()
    };
    let source = ReplaySource::new(path.into(), 30, true);
    let summary = pipeline::run(Box::new(source), opts, Arc::new(AtomicBool::new(false)))?;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    println!(
        "written {} frames, dropped {}; final rss {} KiB",
        summary.stats.written,
        summary.stats.dropped,
        rss_kib()
    );
    Ok(())
}
