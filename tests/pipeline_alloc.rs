//! Steady-state heap allocations of the whole live-view pipeline (capture → lossy
//! channel → decode → lossy channel → write), measured with a counting global allocator.
//!
//! The source is the real `ReplaySource` (paced, looping) over an MJPEG file of the
//! emulator's test card at 1024x680; the sink is a `NullSink`. After a warm-up (buffer
//! pools filled, decoder scratch sized), allocations are counted over a window of
//! written frames. zune-jpeg allocates a fixed handful of times inside every decode
//! (pinned by `tests/decode_alloc.rs`); that count is measured here on the same frames,
//! and the pipeline as a whole must not allocate more than it: our capture, extract,
//! channels, pools, stats and write add nothing. With libjpeg-turbo (C `malloc`, which
//! this allocator does not see) the Rust side must be exactly zero.
//!
//! Own test binary: the allocator is process-wide. No timing is asserted; the replay
//! pace only keeps the decoder from dropping frames (drops are allowed for in the bound),
//! and the run lasts until the window is complete, however loaded the machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alpha_bridge::decode::{Backend, Decoder, Yuyv};
use alpha_bridge::emulator::testcard::TestCard;
use alpha_bridge::pipeline::source::ReplaySource;
use alpha_bridge::pipeline::{self, Options, Output};
use alpha_bridge::sink::{FrameSink, NullSink, Picture, SinkError};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
fn counted() {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every method forwards its arguments to `System` unchanged, so `System`'s
// guarantees are ours; the counting around the calls touches only atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM: u64 = 24;
const WINDOW: u64 = 48;

/// A NullSink that reads the allocation counter when write number `WARM` and
/// `WARM + WINDOW` arrive, so the window covers steady-state frames only, then stops
/// the run (however slow the machine, the window is always complete).
struct WindowSink {
    inner: NullSink,
    start: Arc<AtomicUsize>,
    end: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FrameSink for WindowSink {
    fn write(&mut self, pic: &Picture<'_>) -> Result<(), SinkError> {
        self.inner.write(pic)?;
        let n = self.inner.frames();
        if n == WARM {
            self.start
                .store(ALLOCS.load(Ordering::SeqCst), Ordering::SeqCst);
        } else if n == WARM + WINDOW {
            self.end
                .store(ALLOCS.load(Ordering::SeqCst), Ordering::SeqCst);
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
    fn name(&self) -> String {
        "null (counting)".into()
    }
}

fn test_card_frames(n: u64) -> Vec<Vec<u8>> {
    let mut card = TestCard::new(1024, 680).unwrap();
    (0..n).map(|i| card.frame(i).unwrap().to_vec()).collect()
}

/// The most allocations the decoder alone makes for one of `frames` (steady state).
fn decoder_allocs_per_frame(backend: Backend, frames: &[Vec<u8>]) -> usize {
    let mut dec = Decoder::new(backend);
    let mut out = Yuyv::new();
    for f in frames {
        dec.decode(f, &mut out).unwrap();
    }
    let mut most = 0;
    for f in frames.iter().chain(frames) {
        let a0 = ALLOCS.load(Ordering::SeqCst);
        dec.decode(f, &mut out).unwrap();
        most = most.max(ALLOCS.load(Ordering::SeqCst) - a0);
    }
    most
}

/// Everything in one test function: the counter is process-wide and the harness runs
/// tests on several threads.
#[test]
fn live_view_pipeline_allocates_nothing_per_frame_beyond_the_decoder() {
    let frames = test_card_frames(8);
    let dir = tempfile::tempdir().unwrap();
    let mjpeg = dir.path().join("card.mjpeg");
    std::fs::write(&mjpeg, frames.concat()).unwrap();

    for &backend in Backend::available() {
        let dec_per_frame = decoder_allocs_per_frame(backend, &frames);

        let start = Arc::new(AtomicUsize::new(0));
        let end = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sink = WindowSink {
            inner: NullSink::new(),
            start: start.clone(),
            end: end.clone(),
            stop: stop.clone(),
        };
        // 20 fps: slow enough for an unoptimised pack under load, and the window still
        // spans several passes over the looping replay (so its rewind is covered too).
        let source = ReplaySource::new(mjpeg.clone(), 20, true);
        let opts = Options {
            output: Output::Yuyv(Box::new(sink)),
            // Only a backstop if frames stopped reaching the sink (the assert says so).
            max_frames: Some((WARM + WINDOW) * 20),
            fps: 60,
            backend,
            stats_interval: Duration::from_secs(3600),
            reconnect: false,
            ..Options::default()
        };
        let summary = pipeline::run(Box::new(source), opts, stop).unwrap();
        let s = &summary.stats;
        assert!(
            s.written >= WARM + WINDOW,
            "{backend}: only {} frames written ({} dropped)",
            s.written,
            s.dropped
        );
        let (a0, a1) = (start.load(Ordering::SeqCst), end.load(Ordering::SeqCst));
        let total = a1 - a0;
        // A frame dropped between the stages was decoded (or not) without being
        // written: allow the decoder's count for each drop, never more.
        let allowed = dec_per_frame * (WINDOW + s.dropped) as usize;
        eprintln!(
            "{backend}: pipeline {:.2} allocations per written frame over {WINDOW} frames \
             (decoder alone {dec_per_frame}; {} written, {} dropped overall in {:.1} s); latency p50 {:?} p99 {:?} ms",
            total as f64 / WINDOW as f64,
            s.written,
            s.dropped,
            s.seconds,
            s.latency_ms_p50,
            s.latency_ms_p99,
        );
        match backend {
            Backend::Zune => assert!(
                total <= allowed,
                "zune: {total} allocations over {WINDOW} frames, decoder accounts for at most {allowed}"
            ),
            #[allow(unreachable_patterns)]
            _ => assert!(
                total == 0,
                "{backend}: {total} Rust allocations in the steady-state pipeline over {WINDOW} frames"
            ),
        }
    }
}
