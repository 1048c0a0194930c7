//! Makes the frame sets for `scripts/bench-compare.sh` and the decode comparisons: MJPEG
//! files (back-to-back JPEGs, what `ffmpeg -f mjpeg` and `--camera replay:` read) of
//! - the emulator's test card (4:2:2, as Sony live view) at 1024x680 and 1920x1080;
//! - the project's synthetic photographic scene (tests/it/support/synth.rs, quality 85) at
//!   1024x680 and 1920x1080, 4:2:2 and 4:2:0.
//!
//! Usage: `cargo run --release --example make_frames -- OUT_DIR [FRAMES]` (default 300
//! frames per file). Nothing is downloaded: every frame is generated here.

#[path = "../tests/it/support/synth.rs"]
mod synth;

use alpha_bridge::emulator::testcard::TestCard;
use std::io::Write;
use std::path::PathBuf;
use synth::Sampling;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: make_frames OUT_DIR [FRAMES]")?);
    let frames: u64 = match args.next() {
        Some(n) => n.to_string_lossy().parse()?,
        None => 300,
    };
    std::fs::create_dir_all(&dir)?;
    for (w, h) in [(1024u32, 680u32), (1920, 1080)] {
        let path = dir.join(format!("testcard-{w}x{h}-422.mjpeg"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut card = TestCard::new(w, h)?;
        for i in 0..frames {
            out.write_all(card.frame(i)?)?;
        }
        out.flush()?;
        println!("{}", path.display());
        for (sampling, tag) in [(Sampling::S422, "422"), (Sampling::S420, "420")] {
            // Eight distinct photographic frames, repeated: generating the scene is
            // slow and the decoder sees no difference between a repeat and a new one.
            let distinct: Vec<Vec<u8>> =
                (0..8).map(|s| synth::jpeg(w, h, sampling, 85, s)).collect();
            let path = dir.join(format!("photo-{w}x{h}-{tag}.mjpeg"));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for i in 0..frames as usize {
                out.write_all(&distinct[i % distinct.len()])?;
            }
            out.flush()?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
