//! Live view from pre-encoded JPEGs (`emulate --usb-gadget --frames PATH`): an MJPEG file
//! (back-to-back JPEGs, as `examples/make_frames` and `webcam --record` write them) or a
//! folder of `.jpg`/`.jpeg` files in name order, served in a loop. Encoding the test card
//! costs ~10 ms a frame natively and ~300 ms under the VM's software emulation, which
//! would measure the camera rather than the host; reading them from memory costs nothing.
//!
//! Must not: hold more than [`MAX_TOTAL`] bytes, accept a file that is not whole JPEGs, or
//! change size between frames (the body reports one picture size).

use std::path::Path;

use super::{EmulatorError, FrameContent};
use crate::frame::jpeg_info;

/// Most bytes of JPEG kept in memory.
pub const MAX_TOTAL: u64 = 512 << 20;

/// Pre-encoded frames, all of one size, served in order and then again from the start.
#[derive(Debug)]
pub struct FileFrames {
    data: Vec<u8>,
    /// (start, len) of each JPEG in `data`.
    frames: Vec<(usize, usize)>,
    size: (u32, u32),
}

fn content(msg: String) -> EmulatorError {
    EmulatorError::Content(msg)
}

impl FileFrames {
    /// Reads `path` (an MJPEG file or a folder of JPEGs).
    pub fn open(path: &Path) -> Result<FileFrames, EmulatorError> {
        let p = path.display();
        let meta = std::fs::metadata(path).map_err(|e| content(format!("{p}: {e}")))?;
        let files: Vec<std::path::PathBuf> = if meta.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| content(format!("{p}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                        x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")
                    })
                })
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        let mut total = 0u64;
        for f in &files {
            total += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        }
        if total > MAX_TOTAL {
            return Err(content(format!(
                "{p}: {total} bytes of frames, more than the {MAX_TOTAL}-byte limit"
            )));
        }
        let mut data = Vec::with_capacity(total as usize);
        for f in &files {
            let bytes = std::fs::read(f).map_err(|e| content(format!("{}: {e}", f.display())))?;
            data.extend_from_slice(&bytes);
        }
        FileFrames::from_bytes(data).map_err(|e| content(format!("{p}: {e}")))
    }

    /// Splits back-to-back JPEGs; every byte must belong to a whole JPEG of the first
    /// one's size.
    pub fn from_bytes(data: Vec<u8>) -> Result<FileFrames, String> {
        let mut frames = Vec::new();
        let mut size = None;
        let mut at = 0;
        while at < data.len() {
            let info = jpeg_info(&data[at..]).map_err(|e| {
                format!(
                    "frame {} at byte {at} is not a whole jpeg: {e}",
                    frames.len()
                )
            })?;
            let s = (u32::from(info.width), u32::from(info.height));
            if *size.get_or_insert(s) != s {
                return Err(format!(
                    "frame {} is {}x{}, the first is {}x{}: all frames must have one size",
                    frames.len(),
                    s.0,
                    s.1,
                    size.map_or(0, |s| s.0),
                    size.map_or(0, |s| s.1)
                ));
            }
            frames.push((at, info.len));
            at += info.len;
        }
        let size = size.ok_or_else(|| "no jpeg frame in it".to_string())?;
        Ok(FileFrames { data, frames, size })
    }

    /// How many distinct frames are served before the loop starts again.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when there is no frame (never, for a value `open` returned).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl FrameContent for FileFrames {
    fn next_jpeg(&mut self, index: u64) -> Result<&[u8], EmulatorError> {
        let n = self.frames.len() as u64;
        let (start, len) = self.frames[(index % n.max(1)) as usize];
        Ok(&self.data[start..start + len])
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::testcard::TestCard;

    fn frames(n: u64, w: u32, h: u32) -> Vec<u8> {
        let mut card = TestCard::new(w, h).unwrap();
        let mut v = Vec::new();
        for i in 0..n {
            v.extend_from_slice(card.frame(i).unwrap());
        }
        v
    }

    #[test]
    fn serves_each_frame_in_a_loop() {
        let data = frames(3, 320, 240);
        let mut f = FileFrames::from_bytes(data.clone()).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f.size(), (320, 240));
        let a = f.next_jpeg(0).unwrap().to_vec();
        let b = f.next_jpeg(1).unwrap().to_vec();
        let c = f.next_jpeg(2).unwrap().to_vec();
        assert_eq!([a.clone(), b, c].concat(), data);
        assert_eq!(f.next_jpeg(3).unwrap(), &a[..]);
    }

    #[test]
    fn refuses_junk_cut_frames_mixed_sizes_and_nothing() {
        assert!(FileFrames::from_bytes(Vec::new()).is_err());
        assert!(FileFrames::from_bytes(b"not a jpeg".to_vec()).is_err());
        let mut cut = frames(2, 320, 240);
        cut.truncate(cut.len() - 10);
        assert!(FileFrames::from_bytes(cut).is_err());
        let mut mixed = frames(1, 320, 240);
        mixed.extend(frames(1, 640, 480));
        let e = FileFrames::from_bytes(mixed).unwrap_err();
        assert!(e.contains("one size"), "{e}");
    }

    #[test]
    fn a_folder_is_read_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut card = TestCard::new(320, 240).unwrap();
        let f0 = card.frame(0).unwrap().to_vec();
        let f1 = card.frame(1).unwrap().to_vec();
        std::fs::write(dir.path().join("b.jpg"), &f1).unwrap();
        std::fs::write(dir.path().join("a.JPG"), &f0).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let mut f = FileFrames::open(dir.path()).unwrap();
        assert_eq!(f.next_jpeg(0).unwrap(), &f0[..]);
        assert_eq!(f.next_jpeg(1).unwrap(), &f1[..]);
        assert!(FileFrames::open(&dir.path().join("missing")).is_err());
    }
}
