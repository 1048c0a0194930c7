//! `alpha-bridge testcard-counter` (hidden): reads the frame counter the emulated body
//! renders into its test card back from raw YUYV frames, one line per frame. The VM
//! tests use it to prove that frames read from /dev/videoN are live and in order.

use anyhow::{bail, Context};
use std::io::Read;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct TestcardArgs {
    /// Frame size, WxH.
    #[arg(long, default_value = "1024x680")]
    size: String,
    /// A file of back-to-back YUYV frames (as `v4l2-ctl --stream-to` or
    /// `ffmpeg -f rawvideo` write them).
    file: PathBuf,
}

pub(crate) fn run(a: &TestcardArgs) -> anyhow::Result<()> {
    let (w, h) = parse_size(&a.size)?;
    super::paths::input("file", &a.file, super::paths::Want::File)?;
    let frame_len = (w * h * 2) as usize;
    let mut f = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let mut buf = vec![0u8; frame_len];
    let mut frames = 0;
    loop {
        match read_full(&mut f, &mut buf)? {
            0 => break,
            n if n < frame_len => bail!(
                "{} ends in a partial frame ({n} of {frame_len} bytes)",
                a.file.display()
            ),
            _ => {}
        }
        frames += 1;
        match alpha_bridge::emulator::testcard::read_counter_yuyv(&buf, w, h) {
            Some(c) => println!("{c}"),
            None => println!("none"),
        }
    }
    if frames == 0 {
        bail!("{} holds no frame", a.file.display());
    }
    Ok(())
}

/// `--size WxH` (each side 1..=8192).
pub(super) fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    s.split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|&(w, h)| w > 0 && h > 0 && w <= 8192 && h <= 8192)
        .ok_or_else(|| super::usage(format!("--size {s}: expected WxH, e.g. 1024x680")))
}

/// `alpha-bridge testcard-frames` (hidden): writes test card frames 0..COUNT as one MJPEG
/// file, the pre-encoded frames the VM stage's emulated camera serves (`emulate
/// --frames`), made on the host where encoding is fast.
#[derive(clap::Args, Debug)]
pub(crate) struct TestcardFramesArgs {
    /// Frame size, WxH.
    #[arg(long, default_value = "1024x680")]
    size: String,
    /// How many frames (counters 0..COUNT).
    #[arg(long, default_value_t = 300)]
    count: u32,
    /// The MJPEG file to write (replaced only by a complete new one).
    file: PathBuf,
}

pub(crate) fn run_frames(a: &TestcardFramesArgs) -> anyhow::Result<()> {
    let (w, h) = parse_size(&a.size)?;
    super::paths::file_to_write("file", &a.file)?;
    let mut card = alpha_bridge::emulator::testcard::TestCard::new(w, h)
        .map_err(|e| super::usage(e.to_string()))?;
    let mut all = Vec::new();
    for i in 0..u64::from(a.count) {
        all.extend_from_slice(card.frame(i)?);
    }
    alpha_bridge::fsutil::write_atomic(&a.file, &all)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    Ok(())
}

pub(super) fn read_full(f: &mut impl Read, buf: &mut [u8]) -> anyhow::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
