//! Recording live-view JPEGs to a file: MJPEG-in-AVI when the name ends in `.avi`
//! (any case), otherwise a plain concatenated MJPEG stream.
//!
//! The file is written as `NAME.partial` and renamed to `NAME` by [`Recorder::finish`],
//! so the final name never holds a half-written recording. Each frame is checked to be
//! one whole JPEG and written whole: if a write fails, the file is cut back to the last
//! whole frame. AVI keeps real timing on a fixed timebase (`avi_fps` slots per second):
//! a slot without a frame gets a zero-length `00dc` chunk, which players treat as "repeat
//! the previous frame". Past the 1 GiB of an AVI 1.0 RIFF the file goes on in OpenDML
//! `AVIX` RIFFs (see `avi`); where even that ends (256 GiB, or OpenDML switched off),
//! [`Recorder::write`] refuses further frames with [`RecordError::AviLimit`] and `finish`
//! still yields a valid file. This module does no decoding and owns no thread.
//! AVI layout: Microsoft "AVI RIFF File Reference" (avih, strh, strf, idx1) and OpenDML
//! 1.02 (indx, ix00, AVIX, dmlh).

mod avi;

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::frame::jpeg_info;
use avi::{Avi, FrameErr};

/// Largest RIFF chunk written: the AVI 1.0 size players accept everywhere.
pub const AVI_RIFF_MAX_BYTES: u64 = 1 << 30;

/// Largest single frame accepted (live view frames are well under 1 MiB).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Recorder settings, kept apart from run state.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// AVI timebase: slots per second. Frames land in the slot of their timestamp.
    pub avi_fps: u32,
    /// Replace an existing file at the final name (otherwise `create` refuses).
    pub overwrite: bool,
    /// Size of each AVI RIFF chunk; clamped to [`AVI_RIFF_MAX_BYTES`] (smaller only
    /// for tests).
    pub avi_riff_bytes: u64,
    /// Go on past the first RIFF with OpenDML `AVIX` chunks (otherwise stop there).
    pub avi_opendml: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            avi_fps: 30,
            overwrite: false,
            avi_riff_bytes: AVI_RIFF_MAX_BYTES,
            avi_opendml: true,
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
    /// `path` is the user's: the error names it, not the `.partial` file behind it.
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: io::Error },
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error("frame {frame} is not one whole jpeg ({reason}); not recorded")]
    NotJpeg { frame: u64, reason: String },
    #[error("frame {frame} is {len} bytes, above the {max}-byte limit; not recorded")]
    FrameTooLarge { frame: u64, len: usize, max: usize },
    #[error(
        "avi recording is full ({reason}); later frames were not recorded; record to a \
         .mjpeg file instead"
    )]
    AviLimit { reason: &'static str },
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

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |err| RecordError::Io {
        path: path.to_path_buf(),
        err,
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
            .map_err(io_err(&path))?;
        let avi = if is_avi {
            let avi = Avi::new(
                opts.avi_fps,
                opts.avi_riff_bytes.min(AVI_RIFF_MAX_BYTES),
                opts.avi_opendml,
            );
            // Placeholder header; finish() rewrites it with the real counts.
            file.write_all(&avi.header()).map_err(io_err(&path))?;
            Some(avi)
        } else {
            None
        };
        let good_len = if avi.is_some() { avi::HEADER_LEN } else { 0 };
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
        let res = match &mut self.avi {
            None => match self.file.write_all(jpeg) {
                Ok(()) => {
                    self.good_len += jpeg.len() as u64;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Some(avi) => {
                if avi.width == 0 {
                    avi.width = info.width;
                    avi.height = info.height;
                }
                match avi.write_frame(&mut self.file, &mut self.good_len, jpeg, since_start) {
                    Ok(()) => Ok(()),
                    Err(FrameErr::Limit(reason)) => return Err(RecordError::AviLimit { reason }),
                    Err(FrameErr::Io(e)) => Err(e),
                }
            }
        };
        if let Err(e) = res {
            // Cut back to the last whole frame so the file stays valid.
            let _ = self.file.set_len(self.good_len);
            let _ = self.file.seek(SeekFrom::Start(self.good_len));
            return Err(io_err(&self.path)(e));
        }
        self.frames += 1;
        self.jpeg_bytes += jpeg.len() as u64;
        Ok(())
    }

    /// Completes the file (AVI: index and header counts), syncs it and renames it to its
    /// final name.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.finished = true;
        // Errors name the user's path, not the internal `.partial` one.
        let path = self.path.clone();
        let mut slots = 0;
        if let Some(avi) = &mut self.avi {
            avi.finish(&mut self.file, &mut self.good_len)
                .map_err(io_err(&path))?;
            slots = avi.slots;
        }
        self.file.sync_all().map_err(io_err(&path))?;
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
        // The caller reports the recording in its summary.
        log::debug!(
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
                "recording not finished; {} holds {} {}",
                self.partial.display(),
                self.frames,
                if self.frames == 1 { "frame" } else { "frames" }
            );
        }
    }
}

#[cfg(test)]
mod tests;
