//! Steady-state heap allocations of the PipeWire camera node, with a counting global
//! allocator: a raw consumer (GStreamer's pipewiresrc) takes YUY2 frames while this
//! process writes pictures to a `PipewireSink`; over a window of written frames neither
//! the writer's hand-over nor the node's loop thread (wake-up, process, buffer fill) may
//! allocate. libpipewire's own C `malloc` is not seen by this allocator.
//!
//! Own test binary: the allocator is process-wide. No timing is asserted: the window
//! lasts until enough pictures reached the consumer, however loaded the machine.
#![cfg(feature = "pipewire")]

#[path = "it/support/pw_session.rs"]
mod pw_session;

use alpha_bridge::sink::pipewire::PipewireSink;
use alpha_bridge::sink::{FrameSink, Picture, SourceInfo, Want};
use pw_session::{wait_for, Session};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments to `System` unchanged, so `System`'s
// guarantees are ours; the counting around the calls touches only atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const W: u32 = 1024;
const H: u32 = 680;

#[test]
fn pipewire_node_allocates_nothing_per_frame() {
    let Some(s) = Session::start() else { return };
    // This process joins the private session (set before the node's thread starts).
    std::env::set_var("XDG_RUNTIME_DIR", s.dir.path());
    std::env::set_var("PIPEWIRE_RUNTIME_DIR", s.dir.path());
    std::env::remove_var("PIPEWIRE_REMOTE");
    let mut sink = PipewireSink::open(30).expect("PipeWire node");
    sink.set_source(&SourceInfo {
        model: "ILCE-6400".into(),
        serial: "alloc-test".into(),
    });
    let demand = sink.demand();
    let frames: Vec<Vec<u8>> = (0..2u8)
        .map(|k| vec![16 + k * 100; (W * H * 2) as usize])
        .collect();
    let mut n = 0usize;
    let mut write = |sink: &mut PipewireSink| {
        let pic = Picture::Yuyv {
            width: W,
            height: H,
            data: &frames[n % 2],
        };
        n += 1;
        sink.write(&pic).expect("write");
        std::thread::sleep(Duration::from_millis(33));
    };
    // The node appears once it has been told its camera; a first picture fixes its size.
    write(&mut sink);
    let mut consumer = s
        .cmd("gst-launch-1.0")
        .args([
            "-q",
            "pipewiresrc",
            "target-object=alpha-bridge.ILCE-6400.alloc-test",
            "!",
            "video/x-raw,format=YUY2",
            "!",
            "fakesink",
        ])
        .spawn()
        .expect("gst-launch-1.0");
    wait_for(Duration::from_secs(30), "a raw consumer", || {
        write(&mut sink);
        demand.get() == Want::Yuyv
    });
    // Warm-up: buffers negotiated, slot and channel at their final capacity.
    let sent = |sink: &PipewireSink| sink.stats().delivered.load(Ordering::Relaxed);
    let warm = sent(&sink) + 30;
    wait_for(Duration::from_secs(60), "30 pictures sent", || {
        write(&mut sink);
        sent(&sink) >= warm
    });
    let before = ALLOCS.load(Ordering::Relaxed);
    let start = sent(&sink);
    wait_for(Duration::from_secs(120), "60 more pictures sent", || {
        write(&mut sink);
        sent(&sink) >= start + 60
    });
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let _ = consumer.kill();
    let _ = consumer.wait();
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations over {} pictures sent",
        sent(&sink) - start
    );
}
