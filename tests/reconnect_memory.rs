//! Memory across camera reconnects: the live heap (bytes allocated and not yet freed,
//! counted by a global allocator) must not grow from one unplug/replug cycle to the
//! next. A webcam left running for days sees the camera go away and come back many
//! times (battery swaps, cable knocks, auto power-off); a buffer kept per session would
//! show up here as a step per cycle.
//!
//! The whole stack runs in memory: the emulated body (independent code) → the real Sony
//! session → extraction → decode → a sink that reads the emulator's frame counter. The
//! test unplugs and replugs the body several times and samples the live heap once the
//! picture is live again after each replug. The first cycle may allocate what only a
//! reconnect needs (the placeholder picture); after it, the samples must stay within a
//! small slack (buffers in flight between stages differ by timing; any session-sized
//! leak — a USB read buffer, a frame, a decoder — is far bigger).
//!
//! RSS (what `scripts/soak.sh` reports) can still rise a little after reconnects without
//! a leak: the allocator keeps freed pages for reuse. This test is the leak check; the
//! soak shows where RSS settles.
//!
//! Own test binary: the allocator is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpha_bridge::camera::ConnectOptions;
use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::emulator::{Body, UsbEmulator};
use alpha_bridge::pipeline::source::CameraSource;
use alpha_bridge::pipeline::{self, Options, Output};
use alpha_bridge::sink::{FrameSink, Picture, SinkError};
use alpha_bridge::transport::Transport;

struct Tracking;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards its arguments to `System` unchanged, so `System`'s
// guarantees are ours; the counting around the calls touches only atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Counts live pictures (a new value of the emulator's frame counter) and all pictures
/// (the placeholder repeats the last frame, dimmed), without allocating.
struct CountingSink {
    live: Arc<AtomicUsize>,
    all: Arc<AtomicUsize>,
    last: Option<u32>,
}

impl FrameSink for CountingSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        let counter = match pic {
            Picture::Yuyv {
                width,
                height,
                data,
            } => read_counter_yuyv(data, *width, *height),
            _ => None,
        };
        if counter.is_some() && counter != self.last {
            self.live.fetch_add(1, Ordering::SeqCst);
            self.last = counter;
        }
        self.all.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn name(&self) -> String {
        "counting sink".into()
    }
}

const CYCLES: usize = 5;
/// Most the live heap may differ between the first and any later cycle's sample.
const SLACK: isize = 256 * 1024;

#[test]
fn reconnect_cycles_do_not_grow_the_live_heap() {
    let emu = Arc::new(UsbEmulator::new(Body::ilce_6400()));
    let live = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let opts = Options {
        output: Output::Yuyv(Box::new(CountingSink {
            live: live.clone(),
            all: all.clone(),
            last: None,
        })),
        stats_interval: Duration::from_secs(3600),
        ..Options::default()
    };
    let source = {
        let emu = emu.clone();
        let open = Box::new(move || emu.connect().map(|h| Box::new(h) as Box<dyn Transport>));
        Box::new(CameraSource::new(
            "emulated",
            open,
            ConnectOptions::default(),
        ))
    };
    let run = {
        let stop = stop.clone();
        std::thread::spawn(move || pipeline::run(source, opts, stop))
    };
    // Generous: a loaded CI machine is slow, never wrong.
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let t0 = Instant::now();
        while !cond() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    wait_for("the first live frames", &|| {
        live.load(Ordering::SeqCst) >= 15
    });
    let mut samples = Vec::new();
    for cycle in 0..CYCLES {
        emu.unplug();
        let a0 = all.load(Ordering::SeqCst);
        wait_for("placeholder frames while unplugged", &|| {
            all.load(Ordering::SeqCst) >= a0 + 3
        });
        emu.plug();
        let l0 = live.load(Ordering::SeqCst);
        // Well past the reconnect: pools refilled, decoder sized again.
        wait_for("live frames after the replug", &|| {
            live.load(Ordering::SeqCst) >= l0 + 20
        });
        let bytes = LIVE_BYTES.load(Ordering::SeqCst);
        eprintln!("cycle {cycle}: live heap {:.1} KiB", bytes as f64 / 1024.0);
        samples.push(bytes);
    }
    stop.store(true, Ordering::SeqCst);
    let summary = run.join().unwrap().unwrap();
    assert!(
        summary.stats.reconnects >= CYCLES as u64,
        "{:?}",
        summary.stats
    );
    assert!(
        emu.stats().connects() > CYCLES as u64,
        "one connection per cycle and the first"
    );

    let base = samples[0];
    for (cycle, &b) in samples.iter().enumerate().skip(1) {
        assert!(
            b - base <= SLACK,
            "live heap grew by {} KiB from cycle 0 to cycle {cycle} (samples {:?})",
            (b - base) / 1024,
            samples
        );
    }
}
