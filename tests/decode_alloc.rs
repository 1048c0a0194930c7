//! Steady-state allocation of the decoder, measured with a counting global allocator.
//!
//! Our own buffers (the output `Yuyv`, the decoder's scratch) must not be reallocated
//! once a frame of a given size has been seen. zune-jpeg cannot decode into reused
//! internal state (each `JpegDecoder` owns its tables and MCU row buffers for one input),
//! so the zune backend makes a fixed, small number of allocations inside every decode;
//! this test pins that number so a regression (ours or the crate's) shows up. The
//! libjpeg-turbo backend (the default when installed) allocates through C `malloc` (6 calls
//! a frame, measured with an LD_PRELOAD counter: docs/performance.md), which this allocator cannot see,
//! so for it the Rust side must be exactly zero.

#[path = "it/support/synth.rs"]
mod synth;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use alpha_bridge::decode::{Backend, Decoder, Yuyv};
use synth::Sampling;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards its arguments to `System` unchanged, so `System`'s
// guarantees are ours; the counting around the calls touches only atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The test harness runs tests on several threads; counting is global, so everything
/// is measured inside one test function.
#[test]
fn steady_state_allocations_per_frame() {
    let frames: Vec<Vec<u8>> = (0..4)
        .map(|i| synth::jpeg(1024, 680, Sampling::S422, 85, i))
        .collect();
    for &backend in Backend::available() {
        let mut dec = Decoder::new(backend);
        let mut out = Yuyv::new();
        for f in &frames {
            dec.decode(f, &mut out).unwrap();
        }
        let out_ptr = out.data.as_ptr();
        const N: usize = 40;
        let (a0, b0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        for i in 0..N {
            dec.decode(&frames[i % frames.len()], &mut out).unwrap();
        }
        let (a1, b1) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        let per_frame = (a1 - a0) as f64 / N as f64;
        let bytes_per_frame = (b1 - b0) as f64 / N as f64;
        eprintln!(
            "{backend}: {per_frame:.1} allocations, {:.1} KiB per 1024x680 frame (Rust heap)",
            bytes_per_frame / 1024.0
        );
        assert_eq!(out.data.as_ptr(), out_ptr, "{backend}: output reallocated");
        match backend {
            Backend::Zune => {
                // zune-jpeg 0.5: a JpegDecoder per frame (components, Huffman tables,
                // MCU row buffers). Must stay small and must not scale with frames seen.
                assert!(per_frame <= 32.0, "zune: {per_frame} allocations per frame");
                assert!(
                    bytes_per_frame <= 256.0 * 1024.0,
                    "zune: {bytes_per_frame} bytes per frame"
                );
            }
            #[allow(unreachable_patterns)]
            _ => assert_eq!(a1 - a0, 0, "{backend}: Rust allocations in steady state"),
        }
    }
}
