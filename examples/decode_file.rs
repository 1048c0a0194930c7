//! Decodes an MJPEG file (back-to-back JPEGs) to limited-range YUYV with our decoder,
//! on one thread, writing every frame to /dev/null: the counterpart of
//! `ffmpeg -threads 1 -f mjpeg -i FILE -pix_fmt yuyv422 -f rawvideo -y /dev/null`
//! in `scripts/bench-compare.sh`.
//!
//! Usage: `decode_file FILE [zune|turbojpeg]` (default: libjpeg-turbo when installed).
//! Prints frames and per-frame thread CPU
//! time of the decode loop on stderr.

use alpha_bridge::decode::{Backend, Decoder, Yuyv};
use std::io::Write;

#[allow(unsafe_code)] // FFI; each unsafe block says why it is sound
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer; a clock id Linux always has.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: decode_file FILE [zune|turbojpeg]")?;
    let backend: Backend = match args.next() {
        Some(name) => name.parse()?,
        None => Backend::default(),
    };
    let data = std::fs::read(&path)?;
    let mut sink = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let mut dec = Decoder::new(backend);
    let mut out = Yuyv::new();
    let (mut at, mut n) = (0usize, 0u64);
    let t0 = thread_cpu_s();
    while at < data.len() {
        let info = alpha_bridge::frame::jpeg_info(&data[at..])?;
        dec.decode(&data[at..at + info.len], &mut out)?;
        sink.write_all(&out.data)?;
        at += info.len;
        n += 1;
    }
    let cpu = thread_cpu_s() - t0;
    eprintln!(
        "{backend}: {n} frames {}x{}, {:.3} ms/frame thread CPU",
        out.width,
        out.height,
        cpu * 1e3 / n.max(1) as f64
    );
    Ok(())
}
