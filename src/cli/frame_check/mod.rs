//! `alpha-bridge frame-check` (hidden): the VM stage's consumer-side judge. It reads raw
//! YUYV frames (from a file or stdin, e.g. `v4l2-ctl --stream-mmap --stream-to=-`, or
//! straight from a capture device with `--device`: see [`capture`]), reads
//! the test card counter of each, and prints one summary line: frames read, new pictures
//! (counter changed from the previous frame), their rate, and, with `--served`, how many
//! pictures differ from the frame the camera served under that counter. A picture that
//! is the bridge's placeholder for that frame (dimmed under "CAMERA RECONNECTING", which
//! it writes when the camera stalls) is whole and counted apart, not as a mismatch.
//!
//! The comparison is by thumbnail: 8x8-pixel block sums of every YUYV byte, against the
//! served JPEG decoded here. A torn picture (top of one frame, bottom of another) or a
//! half-written buffer differs from every served frame in the blocks where consecutive
//! frames differ (the counter digits, the moving square, the counter strip), by far
//! more than decoder rounding (at most 2 per byte: a block sum may move by 256). Any
//! mismatch, or a picture without a counter, makes the exit status 1.

use alpha_bridge::decode::{Decoder, Yuyv};
use alpha_bridge::emulator::testcard::read_counter_yuyv;
use alpha_bridge::sink::placeholder::Placeholder;
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod capture;

#[derive(clap::Args, Debug)]
pub(crate) struct FrameCheckArgs {
    /// Frame size, WxH.
    #[arg(long, default_value = "1024x680")]
    size: String,
    /// The MJPEG file the emulated camera serves (`emulate --frames`): compare every
    /// picture with the served frame of the same counter.
    #[arg(long, value_name = "FILE")]
    served: Option<PathBuf>,
    /// Stop after this many frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Stop after this many seconds (from the first frame).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Sleep this long after each frame: a consumer slower than the camera.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,
    /// Read the pictures from this V4L2 capture device (mmap streaming; each picture is
    /// copied out and its buffer given back before it is judged or the delay starts).
    #[arg(long, value_name = "DEV", conflicts_with = "input")]
    device: Option<PathBuf>,
    /// With --device: the buffers to ask for (v4l2-ctl and Chrome ask for 4).
    #[arg(long, default_value_t = 4, requires = "device")]
    buffers: u32,
    /// Raw YUYV frames: a file, or - for stdin.
    #[arg(required_unless_present = "device")]
    input: Option<PathBuf>,
}

/// Where the pictures come from.
enum Source {
    Stream(Box<dyn Read>),
    Device(capture::Capture),
}

impl Source {
    /// The next picture into `buf`: `Some(true)` whole, `Some(false)` a picture of
    /// another size (from a device), `None` at the end of a stream.
    fn next(&mut self, buf: &mut [u8]) -> anyhow::Result<Option<bool>> {
        match self {
            Source::Stream(input) => {
                let got = super::testcard::read_full(input, buf)?;
                // a partial last frame is not a picture a consumer saw
                Ok((got == buf.len()).then_some(true))
            }
            Source::Device(cap) => Ok(Some(cap.next_into(buf)? == buf.len())),
        }
    }
}

/// Tolerance of a block sum (128 bytes, each within 2 of the reference).
const BLOCK_TOLERANCE: u32 = 256;

/// Sums of 8 rows x 16 bytes (8 pixels) of packed YUYV, row-major by block.
fn thumbnail(yuyv: &[u8], w: usize, h: usize) -> Vec<u32> {
    let (bw, bh) = (w / 8, h / 8);
    let mut t = vec![0u32; bw * bh];
    for (r, row) in yuyv.chunks_exact(w * 2).take(bh * 8).enumerate() {
        let line = &mut t[(r / 8) * bw..(r / 8 + 1) * bw];
        for (s, chunk) in line.iter_mut().zip(row.chunks_exact(16)) {
            *s += chunk.iter().map(|&b| u32::from(b)).sum::<u32>();
        }
    }
    t
}

/// What a picture with one counter may be: the served frame, or the placeholder the
/// bridge shows while the camera is away (that frame dimmed under a banner: a whole
/// picture it writes on purpose, counted apart).
struct Reference {
    served: Vec<u32>,
    placeholder: Vec<u32>,
}

/// The first block where `t` is off `r` by more than the tolerance.
fn first_off(t: &[u32], r: &[u32]) -> Option<usize> {
    t.iter()
        .zip(r)
        .position(|(x, y)| x.abs_diff(*y) > BLOCK_TOLERANCE)
}

/// Served frames decoded to thumbnails, by counter.
fn references(path: &PathBuf, w: u32, h: u32) -> anyhow::Result<HashMap<u32, Reference>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut dec = Decoder::new(Default::default());
    let mut out = Yuyv::new();
    let mut refs = HashMap::new();
    let mut dim = Placeholder::new();
    let mut at = 0;
    while at < data.len() {
        let info = alpha_bridge::frame::jpeg_info(&data[at..])
            .with_context(|| format!("{}: byte {at} is not a whole jpeg", path.display()))?;
        dec.decode(&data[at..at + info.len], &mut out)?;
        if (out.width, out.height) != (w, h) {
            bail!(
                "{}: frames are {}x{}, not {w}x{h}",
                path.display(),
                out.width,
                out.height
            );
        }
        let c = read_counter_yuyv(&out.data, w, h)
            .with_context(|| format!("{}: a served frame has no counter", path.display()))?;
        let placeholder = thumbnail(&dim.render(Some(&out)).data, w as usize, h as usize);
        refs.insert(
            c,
            Reference {
                served: thumbnail(&out.data, w as usize, h as usize),
                placeholder,
            },
        );
        at += info.len;
    }
    Ok(refs)
}

pub(crate) fn run(a: &FrameCheckArgs) -> anyhow::Result<()> {
    let (w, h) = super::testcard::parse_size(&a.size)?;
    let refs = a.served.as_ref().map(|p| references(p, w, h)).transpose()?;
    let (mut input, name) = match (&a.device, &a.input) {
        (Some(dev), _) => {
            let cap = capture::Capture::open(dev, a.buffers, Duration::from_secs(30))
                .with_context(|| format!("cannot stream from {}", dev.display()))?;
            eprintln!("{}: {} buffers", dev.display(), cap.buffers());
            (Source::Device(cap), dev.display().to_string())
        }
        (None, Some(p)) if p.as_os_str() == "-" => (
            Source::Stream(Box::new(std::io::stdin().lock())),
            "-".to_string(),
        ),
        (None, Some(p)) => (
            Source::Stream(Box::new(
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
            )),
            p.display().to_string(),
        ),
        (None, None) => bail!("give a file, - for stdin, or --device"),
    };
    let frame_len = w as usize * h as usize * 2;
    let mut buf = vec![0u8; frame_len];
    let (mut frames, mut new, mut bad, mut no_counter) = (0u64, 0u64, 0u64, 0u64);
    let mut placeholders = 0u64;
    let mut last: Option<u32> = None;
    let mut first_at: Option<Instant> = None;
    let mut last_new_at = None;
    let limit = a.duration.map(Duration::from_secs_f64);
    loop {
        if a.frames.is_some_and(|n| frames >= n)
            || limit.zip(first_at).is_some_and(|(l, t)| t.elapsed() >= l)
        {
            break;
        }
        let Some(whole) = input.next(&mut buf)? else {
            break;
        };
        let now = Instant::now();
        first_at.get_or_insert(now);
        frames += 1;
        let mut this_bad = !whole;
        if !whole {
            eprintln!("frame {frames}: not a whole {w}x{h} YUYV picture (short buffer)");
        }
        let counter = read_counter_yuyv(&buf, w, h);
        match counter {
            None => {
                no_counter += 1;
                if refs.is_some() {
                    this_bad = true;
                    eprintln!("frame {frames}: no readable counter (torn or not a test card)");
                }
            }
            Some(c) => {
                if last != Some(c) {
                    new += 1;
                    last_new_at = Some(now);
                }
                if let Some(refs) = &refs {
                    match refs.get(&c) {
                        None => {
                            this_bad = true;
                            eprintln!("frame {frames}: counter {c} was never served");
                        }
                        Some(r) => {
                            let t = thumbnail(&buf, w as usize, h as usize);
                            let off = first_off(&t, &r.served);
                            if off.is_some() && first_off(&t, &r.placeholder).is_none() {
                                placeholders += 1;
                                eprintln!(
                                    "frame {frames}: the placeholder of counter {c} (camera away)"
                                );
                            } else if let Some(i) = off {
                                this_bad = true;
                                let bw = w as usize / 8;
                                eprintln!(
                                    "frame {frames}: counter {c} differs from the served frame at block row {} col {} (sum {} vs {})",
                                    i / bw,
                                    i % bw,
                                    t[i],
                                    r.served[i]
                                );
                            }
                        }
                    }
                }
            }
        }
        bad += u64::from(this_bad);
        last = counter.or(last);
        if a.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(a.delay_ms));
        }
    }
    let span = first_at
        .zip(last_new_at)
        .map(|(a, b)| b.duration_since(a).as_secs_f64())
        .unwrap_or(0.0);
    let fps = if new > 1 && span > 0.0 {
        (new - 1) as f64 / span
    } else {
        0.0
    };
    println!(
        "frames {frames} new {new} fps {fps:.2} no_counter {no_counter} mismatches {} placeholders {placeholders}",
        if refs.is_some() {
            bad.to_string()
        } else {
            "-".into()
        }
    );
    if frames == 0 {
        bail!("no whole frame read from {name}");
    }
    if bad > 0 {
        bail!("{bad} of {frames} pictures are not whole served frames");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_picture_differs_from_both_frames_it_mixes() {
        let (w, h) = (1024usize, 680usize);
        let mut card = alpha_bridge::emulator::testcard::TestCard::new(w as u32, h as u32).unwrap();
        let mut dec = Decoder::new(Default::default());
        let (mut a, mut b) = (Yuyv::new(), Yuyv::new());
        dec.decode(card.frame(41).unwrap(), &mut a).unwrap();
        dec.decode(card.frame(42).unwrap(), &mut b).unwrap();
        let (ta, tb) = (thumbnail(&a.data, w, h), thumbnail(&b.data, w, h));
        let same = |x: &[u32], y: &[u32]| {
            x.iter()
                .zip(y)
                .all(|(p, q)| p.abs_diff(*q) <= BLOCK_TOLERANCE)
        };
        assert!(same(&ta, &ta));
        // Top half of 41 over the bottom of 42 (whose counter strip it carries).
        let mut torn = b.data.clone();
        torn[..w * 2 * (h / 2)].copy_from_slice(&a.data[..w * 2 * (h / 2)]);
        assert_eq!(read_counter_yuyv(&torn, w as u32, h as u32), Some(42));
        assert!(!same(&thumbnail(&torn, w, h), &tb));
    }

    #[test]
    fn a_placeholder_is_told_apart_from_a_torn_picture() {
        let (w, h) = (1024usize, 680usize);
        let mut card = alpha_bridge::emulator::testcard::TestCard::new(w as u32, h as u32).unwrap();
        let mut dec = Decoder::new(Default::default());
        let mut live = Yuyv::new();
        dec.decode(card.frame(42).unwrap(), &mut live).unwrap();
        let dim = Placeholder::new().render(Some(&live)).data.clone();
        let (tl, td) = (thumbnail(&live.data, w, h), thumbnail(&dim, w, h));
        assert!(
            first_off(&td, &tl).is_some(),
            "a placeholder is not the live frame"
        );
        assert_eq!(first_off(&td, &td), None);
        // the placeholder's top over the live frame's bottom is neither
        let mut torn = live.data.clone();
        torn[..w * 2 * (h / 2)].copy_from_slice(&dim[..w * 2 * (h / 2)]);
        let tt = thumbnail(&torn, w, h);
        assert!(first_off(&tt, &tl).is_some() && first_off(&tt, &td).is_some());
    }
}
