//! Recording live-view JPEGs to a file: MJPEG-in-AVI when the name ends in `.avi`
//! (any case), otherwise a plain concatenated MJPEG stream.
//!
//! The file is written as `NAME.partial` and renamed to `NAME` by [`Recorder::finish`],
//! so the final name never holds a half-written recording. Each frame is checked to be
//! one whole JPEG and written whole: if a write fails, the file is cut back to the last
//! whole frame. AVI keeps real timing on a fixed timebase (`avi_fps` slots per second):
//! a slot without a frame gets a zero-length `00dc` chunk, which players treat as "repeat
//! the previous frame". AVI 1.0 is capped at 1 GiB; at the cap, [`Recorder::write`]
//! refuses further frames with [`RecordError::AviLimit`] and `finish` still yields a
//! valid file (no OpenDML extension). This module does no decoding and owns no thread.
//! AVI layout: Microsoft "AVI RIFF File Reference" (avih, strh, strf, idx1).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::frame::jpeg_info;

/// The AVI 1.0 size players accept everywhere.
pub const AVI_MAX_BYTES: u64 = 1 << 30;

/// Largest single frame accepted (live view frames are well under 1 MiB).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Recorder settings, kept apart from run state.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// AVI timebase: slots per second. Frames land in the slot of their timestamp.
    pub avi_fps: u32,
    /// Replace an existing file at the final name (otherwise `create` refuses).
    pub overwrite: bool,
    /// Stop an AVI at this many bytes; clamped to [`AVI_MAX_BYTES`].
    pub avi_max_bytes: u64,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            avi_fps: 30,
            overwrite: false,
            avi_max_bytes: AVI_MAX_BYTES,
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub path: PathBuf,
    /// JPEG frames written.
    pub frames: u64,
    /// JPEG bytes written (without container overhead).
    pub jpeg_bytes: u64,
    /// Final file size.
    pub file_bytes: u64,
    /// AVI only: timebase slots, empty ones included (duration = slots / fps).
    pub slots: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error("frame {frame} is not one whole jpeg ({reason}); not recorded")]
    NotJpeg { frame: u64, reason: String },
    #[error("frame {frame} is {len} bytes, above the {max}-byte limit; not recorded")]
    FrameTooLarge { frame: u64, len: usize, max: usize },
    #[error(
        "avi recording reached its {limit}-byte limit (AVI 1.0); later frames were not \
         recorded; record to a .mjpeg file for longer recordings"
    )]
    AviLimit { limit: u64 },
    #[error("avi frame rate must be 1..=1000, got {0}")]
    BadFps(u32),
}

/// Writes JPEG frames to `PATH.partial`, renamed to `PATH` by [`Recorder::finish`].
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    partial: PathBuf,
    file: File,
    avi: Option<Avi>,
    frames: u64,
    jpeg_bytes: u64,
    /// File length after the last whole frame: where a failed write is cut back to.
    good_len: u64,
    finished: bool,
}

#[derive(Debug)]
struct Avi {
    fps: u32,
    limit: u64,
    width: u16,
    height: u16,
    max_chunk: u32,
    /// Slots used so far (frames plus empty chunks).
    slots: u64,
    index: Vec<IdxEntry>,
    scratch: Vec<u8>,
}

/// One real frame's chunk; the empty chunks before it sit in the bytes just before it.
#[derive(Debug, Clone, Copy)]
struct IdxEntry {
    /// Offset of the chunk header from the `movi` fourcc.
    offset: u32,
    size: u32,
    empties_before: u32,
}

const AVI_HEADER_LEN: u64 = 224; // RIFF..hdrl..LIST movi fourcc, first chunk starts here
const MOVI_FOURCC_POS: u64 = 220;
const AVIIF_KEYFRAME: u32 = 0x10;
const AVIF_HASINDEX: u32 = 0x10;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Recorder {
    /// Starts a recording with default options (30 fps AVI timebase, no overwrite).
    pub fn create(path: impl AsRef<Path>) -> Result<Recorder, RecordError> {
        Recorder::create_with(path, RecordOptions::default())
    }

    pub fn create_with(
        path: impl AsRef<Path>,
        opts: RecordOptions,
    ) -> Result<Recorder, RecordError> {
        let path = path.as_ref().to_path_buf();
        if !opts.overwrite && path.exists() {
            return Err(RecordError::Exists(path));
        }
        let is_avi = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("avi"));
        if is_avi && !(1..=1000).contains(&opts.avi_fps) {
            return Err(RecordError::BadFps(opts.avi_fps));
        }
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        let partial = path.with_file_name(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(io_err(&partial))?;
        let avi = if is_avi {
            let avi = Avi {
                fps: opts.avi_fps,
                limit: opts.avi_max_bytes.min(AVI_MAX_BYTES),
                width: 0,
                height: 0,
                max_chunk: 0,
                slots: 0,
                index: Vec::new(),
                scratch: Vec::new(),
            };
            // Placeholder header; finish() rewrites it with the real counts.
            file.write_all(&avi.header(AVI_HEADER_LEN, 0))
                .map_err(io_err(&partial))?;
            Some(avi)
        } else {
            None
        };
        let good_len = if avi.is_some() { AVI_HEADER_LEN } else { 0 };
        log::info!("recording to {}", path.display());
        Ok(Recorder {
            path,
            partial,
            file,
            avi,
            frames: 0,
            jpeg_bytes: 0,
            good_len,
            finished: false,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends one JPEG taken `since_start` after the recording began (only AVI uses the
    /// time). A refused frame (not a whole JPEG, too large, over the AVI cap) leaves the
    /// file as it was.
    pub fn write(&mut self, jpeg: &[u8], since_start: Duration) -> Result<(), RecordError> {
        let frame = self.frames + 1;
        if jpeg.len() > MAX_FRAME_BYTES {
            return Err(RecordError::FrameTooLarge {
                frame,
                len: jpeg.len(),
                max: MAX_FRAME_BYTES,
            });
        }
        let info = jpeg_info(jpeg).map_err(|e| RecordError::NotJpeg {
            frame,
            reason: e.to_string(),
        })?;
        if info.len != jpeg.len() {
            return Err(RecordError::NotJpeg {
                frame,
                reason: format!(
                    "{} bytes after the end-of-image marker",
                    jpeg.len() - info.len
                ),
            });
        }
        let result = match &mut self.avi {
            None => self.file.write_all(jpeg).map(|()| jpeg.len() as u64),
            Some(avi) => {
                if avi.index.is_empty() {
                    avi.width = info.width;
                    avi.height = info.height;
                }
                avi.write_frame(&mut self.file, self.good_len, jpeg, since_start)?
            }
        };
        match result {
            Ok(written) => {
                self.good_len += written;
                self.frames += 1;
                self.jpeg_bytes += jpeg.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut back to the last whole frame so the file stays valid.
                let _ = self.file.set_len(self.good_len);
                let _ = self.file.seek(SeekFrom::Start(self.good_len));
                if let Some(avi) = &mut self.avi {
                    avi.rollback();
                }
                Err(io_err(&self.partial)(e))
            }
        }
    }

    /// Completes the file (AVI: index and header counts), syncs it and renames it to its
    /// final name.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.finished = true;
        let partial = self.partial.clone();
        let mut slots = 0;
        if let Some(avi) = &mut self.avi {
            slots = avi.slots;
            let end = avi
                .finish(&mut self.file, self.good_len)
                .map_err(io_err(&partial))?;
            self.good_len = end;
        }
        self.file.sync_all().map_err(io_err(&partial))?;
        std::fs::rename(&self.partial, &self.path).map_err(io_err(&self.path))?;
        // Make the rename itself durable; failing that is not worth failing the recording.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let summary = RecordSummary {
            path: self.path.clone(),
            frames: self.frames,
            jpeg_bytes: self.jpeg_bytes,
            file_bytes: self.good_len,
            slots,
        };
        log::info!(
            "recorded {} frames ({} bytes) to {}",
            summary.frames,
            summary.file_bytes,
            summary.path.display()
        );
        Ok(summary)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.finished {
            log::warn!(
                "recording not finished; {} holds {} frames",
                self.partial.display(),
                self.frames
            );
        }
    }
}

impl Avi {
    /// Writes the empty chunks for skipped slots and the frame chunk; returns the bytes
    /// written. The outer `Err` is a refusal (nothing written), the inner one an I/O error.
    fn write_frame(
        &mut self,
        file: &mut File,
        file_len: u64,
        jpeg: &[u8],
        since_start: Duration,
    ) -> Result<io::Result<u64>, RecordError> {
        let due = since_start.as_nanos() * u128::from(self.fps) / 1_000_000_000;
        // A frame early for its slot (jitter) takes the next free one; timing catches up
        // at the next frame that is on time.
        let slot = u64::try_from(due).unwrap_or(u64::MAX).max(self.slots);
        let empties = slot - self.slots;
        let padded = (jpeg.len() as u64 + 1) & !1;
        let new_len = u128::from(file_len)
            + u128::from(empties) * 8
            + 8
            + u128::from(padded)
            + 8
            + (self.index_chunks() + u128::from(empties) + 1) * 16;
        if new_len > u128::from(self.limit) {
            return Err(RecordError::AviLimit { limit: self.limit });
        }
        let empties32 =
            u32::try_from(empties).map_err(|_| RecordError::AviLimit { limit: self.limit })?;
        let offset = (file_len + empties * 8 - MOVI_FOURCC_POS) as u32;
        self.index.push(IdxEntry {
            offset,
            size: jpeg.len() as u32,
            empties_before: empties32,
        });
        self.slots = slot + 1;
        self.max_chunk = self.max_chunk.max(jpeg.len() as u32);

        let res = (|| {
            let mut left = empties;
            while left > 0 {
                let n = left.min(512);
                self.scratch.clear();
                for _ in 0..n {
                    self.scratch.extend_from_slice(b"00dc\0\0\0\0");
                }
                file.write_all(&self.scratch)?;
                left -= n;
            }
            let mut head = [0u8; 8];
            head[..4].copy_from_slice(b"00dc");
            head[4..].copy_from_slice(&(jpeg.len() as u32).to_le_bytes());
            file.write_all(&head)?;
            file.write_all(jpeg)?;
            if jpeg.len() % 2 == 1 {
                file.write_all(&[0])?;
            }
            Ok(empties * 8 + 8 + padded)
        })();
        Ok(res)
    }

    /// Undoes the index entry of a frame whose write failed.
    fn rollback(&mut self) {
        if let Some(e) = self.index.pop() {
            self.slots -= u64::from(e.empties_before) + 1;
        }
    }

    fn index_chunks(&self) -> u128 {
        self.slots as u128
    }

    /// Appends idx1 after the last whole frame, then rewrites the header.
    fn finish(&mut self, file: &mut File, movi_end: u64) -> io::Result<u64> {
        file.seek(SeekFrom::Start(movi_end))?;
        let mut w = BufWriter::new(&mut *file);
        w.write_all(b"idx1")?;
        w.write_all(&((self.slots * 16) as u32).to_le_bytes())?;
        for e in &self.index {
            for k in (1..=e.empties_before).rev() {
                let off = e.offset - 8 * k;
                idx_entry(&mut w, 0, off, 0)?;
            }
            idx_entry(&mut w, AVIIF_KEYFRAME, e.offset, e.size)?;
        }
        w.flush()?;
        drop(w);
        let end = movi_end + 8 + self.slots * 16;
        file.set_len(end)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&self.header(movi_end, end))?;
        Ok(end)
    }

    /// The fixed 224-byte head: RIFF, hdrl (avih, strl: strh, strf) and the movi LIST
    /// header. Sizes come from where movi ends and where the file ends.
    fn header(&self, movi_end: u64, file_end: u64) -> Vec<u8> {
        let (w, h) = (u32::from(self.width), u32::from(self.height));
        let slots = self.slots as u32;
        let buf_size = self.max_chunk.saturating_add(8);
        let mut b = Vec::with_capacity(AVI_HEADER_LEN as usize);
        let mut put = |x: &[u8]| b.extend_from_slice(x);
        let u32le = |v: u32| v.to_le_bytes();
        put(b"RIFF");
        put(&u32le(file_end.saturating_sub(8) as u32));
        put(b"AVI LIST");
        put(&u32le(192));
        put(b"hdrlavih");
        put(&u32le(56));
        put(&u32le(1_000_000 / self.fps)); // dwMicroSecPerFrame
        put(&u32le(buf_size.saturating_mul(self.fps))); // dwMaxBytesPerSec
        put(&u32le(0)); // dwPaddingGranularity
        put(&u32le(AVIF_HASINDEX));
        put(&u32le(slots)); // dwTotalFrames
        put(&u32le(0)); // dwInitialFrames
        put(&u32le(1)); // dwStreams
        put(&u32le(buf_size)); // dwSuggestedBufferSize
        put(&u32le(w));
        put(&u32le(h));
        put(&[0; 16]); // dwReserved
        put(b"LIST");
        put(&u32le(116));
        put(b"strlstrh");
        put(&u32le(56));
        put(b"vidsMJPG");
        put(&u32le(0)); // dwFlags
        put(&[0; 4]); // wPriority, wLanguage
        put(&u32le(0)); // dwInitialFrames
        put(&u32le(1)); // dwScale
        put(&u32le(self.fps)); // dwRate
        put(&u32le(0)); // dwStart
        put(&u32le(slots)); // dwLength
        put(&u32le(buf_size));
        put(&u32le(u32::MAX)); // dwQuality: default
        put(&u32le(0)); // dwSampleSize: variable
        put(&[0; 4]); // rcFrame left, top
        put(&self.width.to_le_bytes());
        put(&self.height.to_le_bytes());
        put(b"strf");
        put(&u32le(40));
        put(&u32le(40)); // biSize
        put(&u32le(w));
        put(&u32le(h));
        put(&1u16.to_le_bytes()); // biPlanes
        put(&24u16.to_le_bytes()); // biBitCount
        put(b"MJPG");
        put(&u32le(w.saturating_mul(h).saturating_mul(3))); // biSizeImage
        put(&[0; 16]); // resolution, colours
        put(b"LIST");
        put(&u32le((movi_end - MOVI_FOURCC_POS) as u32));
        put(b"movi");
        debug_assert_eq!(b.len() as u64, AVI_HEADER_LEN);
        b
    }
}

fn idx_entry(w: &mut impl Write, flags: u32, offset: u32, size: u32) -> io::Result<()> {
    w.write_all(b"00dc")?;
    w.write_all(&flags.to_le_bytes())?;
    w.write_all(&offset.to_le_bytes())?;
    w.write_all(&size.to_le_bytes())
}

#[cfg(test)]
mod tests;
