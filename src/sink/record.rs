//! Recording live-view JPEGs to a file or a pipe: MJPEG-in-AVI when the name ends in
//! `.avi` (any case), otherwise a plain concatenated MJPEG stream.
//!
//! What the path is decides how it is written, before anything is written
//! ([`check_target`]). A new name or a regular file is written as `NAME.partial`
//! (created new, never reused, and locked while the recording runs) and renamed to `NAME`
//! by [`Recorder::finish`] once it holds at least one frame: the final name never holds a
//! half-written recording, and an existing file is untouched until a complete new one
//! replaces it (a run that records nothing leaves it as it was). A `NAME.partial` left by
//! a run that did not finish is moved aside to `NAME.partial.N`, never deleted; one that
//! another run still holds is refused. `-` (standard output) and FIFOs are written
//! through, MJPEG only: an AVI's index and header come last and need a seekable file.
//! Symbolic links, directories, devices and sockets are refused, so the recorder never
//! writes through them or replaces them.
//!
//! Each frame is checked to be one whole JPEG and written whole: if a write fails, the
//! file is cut back to the last whole frame. Frames land on a grid of `fps` slots per
//! second, the slot of their timestamp; a frame that comes too soon for a free slot is
//! skipped, so a rate cap below the camera's rate thins the recording instead of slowing
//! it down. AVI keeps that real timing: a slot without a frame gets a zero-length `00dc`
//! chunk, which players treat as "repeat the previous frame". Past the 1 GiB of an AVI
//! 1.0 RIFF the file goes on in OpenDML `AVIX` RIFFs (see `avi`); where even that ends
//! (256 GiB, or OpenDML switched off), [`Recorder::write`] refuses further frames with
//! [`RecordError::AviLimit`] and `finish` still yields a valid file. This module does no
//! decoding and owns no thread.
//! AVI layout: Microsoft "AVI RIFF File Reference" (avih, strh, strf, idx1) and OpenDML
//! 1.02 (indx, ix00, AVIX, dmlh).

mod avi;

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::frame::jpeg_info;
use crate::fsutil;
use avi::{Avi, FrameErr};

/// Largest RIFF chunk written: the AVI 1.0 size players accept everywhere.
pub const AVI_RIFF_MAX_BYTES: u64 = 1 << 30;

/// Largest single frame accepted (live view frames are well under 1 MiB).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// How much later than it was taken a frame may be shown when it goes in the next free
/// slot: room for the jitter of a camera at the cap's rate (a frame fetched late by a busy
/// machine takes the slot of the next one). Frames that would come later are skipped.
pub const MAX_LATE: Duration = Duration::from_millis(50);

const NANOS: u128 = 1_000_000_000;

/// Recorder settings, kept apart from run state.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Frame-rate cap, and the AVI timebase: slots per second (1..=1000).
    pub fps: u32,
    /// Replace an existing regular file at the final name (otherwise `create` refuses).
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
            fps: 30,
            overwrite: false,
            avi_riff_bytes: AVI_RIFF_MAX_BYTES,
            avi_opendml: true,
        }
    }
}

/// What a recording path names, as found before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing there yet.
    New,
    /// A regular file, to be replaced at the end (only with `overwrite`).
    Existing,
    /// A FIFO: written through.
    Fifo,
    /// `-`: standard output, written through.
    Stdout,
}

impl Target {
    /// Written through as it comes (no `.partial`, no rename, MJPEG only).
    pub fn is_stream(self) -> bool {
        matches!(self, Target::Fifo | Target::Stdout)
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The file the user named.
    pub path: PathBuf,
    /// JPEG frames written.
    pub frames: u64,
    /// JPEG bytes written (without container overhead).
    pub jpeg_bytes: u64,
    /// Final file size (bytes sent, for a pipe).
    pub file_bytes: u64,
    /// AVI only: timebase slots, empty ones included (duration = slots / fps).
    pub slots: u64,
    /// Whether anything reached `path`: false when no frame was recorded, in which case
    /// a file already there was left as it was and no new file was made.
    pub written: bool,
    /// Written through into a pipe (standard output or a FIFO).
    pub stream: bool,
}

/// Errors from recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// `path` is the user's: the error names it, not the `.partial` file behind it.
    #[error("{path}: {err}")]
    Io {
        /// The file the user named.
        path: PathBuf,
        /// What the system said.
        err: io::Error,
    },
    /// The file exists and overwriting was not asked for.
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    /// The name is something other than a file, FIFO or standard output.
    #[error(
        "{path} is {what}: a recording goes only to a regular file, a FIFO or - (standard \
         output); choose another name"
    )]
    NotRegular {
        /// The name.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// An AVI recording was asked to go into a pipe.
    #[error(
        "{0} is a pipe and an avi recording cannot be streamed (its index and header are \
         written last): stream MJPEG to a name without .avi, or record to a regular file"
    )]
    AviStream(PathBuf),
    /// Standard output is a terminal.
    #[error(
        "standard output is a terminal: pipe the recording into a program \
         (--record - | ffplay -f mjpeg -) or give a file name"
    )]
    Terminal,
    /// Another recording writes to the same name.
    #[error(
        "another recording to {path} is under way ({partial} is in use); choose another \
         name or let it finish"
    )]
    Busy {
        /// The file the user named.
        path: PathBuf,
        /// The partial file in use.
        partial: PathBuf,
    },
    /// The reader of the pipe went away.
    #[error("the program reading {} closed it", shown(.0))]
    PipeClosed(PathBuf),
    /// The final name was changed by someone else during the recording.
    #[error(
        "{path} was {what} during the recording, so it was not replaced; the recording is \
         in {partial}"
    )]
    FinalNameChanged {
        /// The file the user named.
        path: PathBuf,
        /// Where the recording is.
        partial: PathBuf,
        /// What happened to the name.
        what: &'static str,
    },
    /// A frame is not one whole JPEG.
    #[error("frame {frame} is not one whole jpeg ({reason}); not recorded")]
    NotJpeg {
        /// Frame number.
        frame: u64,
        /// What is wrong.
        reason: String,
    },
    /// A frame is larger than the recorder accepts.
    #[error("frame {frame} is {len} bytes, above the {max}-byte limit; not recorded")]
    FrameTooLarge {
        /// Frame number.
        frame: u64,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The AVI file reached a limit of the format.
    #[error(
        "avi recording is full ({reason}); later frames were not recorded; record to a \
         .mjpeg file instead"
    )]
    AviLimit {
        /// Which limit.
        reason: &'static str,
    },
    /// The frame rate is out of range.
    #[error("recording frame rate must be 1..=1000, got {0}")]
    BadFps(u32),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |err| RecordError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// `path` for messages: `-` is standard output.
pub fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "standard output".into()
    } else {
        path.display().to_string()
    }
}

fn is_avi(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("avi"))
}

/// What `path` is, and whether a recording may go there; touches nothing. `-` is standard
/// output (refused when it is a terminal). Used by [`Recorder::create_with`]; callers may
/// run it earlier to report a bad path before anything else starts.
pub fn check_target(path: &Path, overwrite: bool) -> Result<Target, RecordError> {
    if path.as_os_str() == "-" {
        if io::stdout().is_terminal() {
            return Err(RecordError::Terminal);
        }
        return Ok(Target::Stdout);
    }
    let not = |what| RecordError::NotRegular {
        path: path.to_path_buf(),
        what,
    };
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let t = meta.file_type();
            if t.is_file() {
                Target::Existing
            } else if t.is_fifo() {
                Target::Fifo
            } else {
                return Err(not(kind_of(&t)));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Target::New,
        Err(e) => return Err(io_err(path)(e)),
    };
    if target == Target::New
        && (path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/'))
    {
        return Err(not("a directory name"));
    }
    if target == Target::Existing && !overwrite {
        return Err(RecordError::Exists(path.to_path_buf()));
    }
    if target.is_stream() && is_avi(path) {
        return Err(RecordError::AviStream(path.to_path_buf()));
    }
    Ok(target)
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link (not followed: what it points to stays as it is)"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The temporary file of a recording to a regular file.
#[derive(Debug)]
struct Partial {
    path: PathBuf,
    overwrite: bool,
    /// Device and inode of the file this recorder created, so it never renames or
    /// removes a file that something else put under that name meanwhile.
    id: (u64, u64),
}

impl Partial {
    /// Whether `self.path` is still the file this recorder created.
    fn is_ours(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
    }

    /// Removes it if it is still ours (a recording that holds nothing).
    fn remove(&self) {
        if self.is_ours() {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!("cannot remove the empty {}: {e}", self.path.display());
            }
        }
    }
}

/// Creates `PATH.partial` new, after moving aside one that a run which did not finish
/// left there; refuses one that a live run still holds (its lock).
fn create_partial(path: &Path, overwrite: bool) -> Result<(File, Partial), RecordError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let partial = path.with_file_name(name);
    let busy = || RecordError::Busy {
        path: path.to_path_buf(),
        partial: partial.clone(),
    };
    match std::fs::symlink_metadata(&partial) {
        Ok(meta) => {
            if meta.file_type().is_file() {
                // A live recorder holds its lock until it ends; a crashed one does not.
                if let Ok(f) = File::open(&partial) {
                    if let Ok(false) = fsutil::try_lock(&f) {
                        return Err(busy());
                    }
                }
            }
            let aside = fsutil::move_aside(&partial).map_err(io_err(&partial))?;
            log::warn!(
                "{} was left by a recording that did not finish; it is kept as {} (see \
                 \"Record\" in the README to play or repair it)",
                partial.display(),
                aside.display()
            );
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&partial)(e)),
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => busy(),
            _ => io_err(path)(e),
        })?;
    match fsutil::try_lock(&file) {
        Ok(true) => {}
        Ok(false) => return Err(busy()),
        // Some file systems have no locks: the recording works, only without the
        // guard against a second run on the same name.
        Err(e) => log::debug!("cannot lock {}: {e}", partial.display()),
    }
    let meta = file.metadata().map_err(io_err(&partial))?;
    let p = Partial {
        path: partial,
        overwrite,
        id: (meta.dev(), meta.ino()),
    };
    Ok((file, p))
}

/// Standard output as a file of its own (a duplicate descriptor, unbuffered).
fn stdout_file() -> Result<File, RecordError> {
    use std::os::fd::AsFd;
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .map_err(io_err(Path::new("-")))
}

/// Writes JPEG frames to `PATH.partial`, renamed to `PATH` by [`Recorder::finish`], or
/// straight into a pipe.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: File,
    /// `None` when writing through into a pipe.
    partial: Option<Partial>,
    avi: Option<Avi>,
    fps: u32,
    /// First slot not taken yet.
    next_slot: u64,
    frames: u64,
    jpeg_bytes: u64,
    /// File length after the last whole frame: where a failed write is cut back to.
    good_len: u64,
    finished: bool,
}

impl Recorder {
    /// Starts a recording with default options (30 fps, no overwrite).
    pub fn create(path: impl AsRef<Path>) -> Result<Recorder, RecordError> {
        Recorder::create_with(path, RecordOptions::default())
    }

    /// Starts a recording to `path` with `opts`.
    pub fn create_with(
        path: impl AsRef<Path>,
        opts: RecordOptions,
    ) -> Result<Recorder, RecordError> {
        let path = path.as_ref().to_path_buf();
        if !(1..=1000).contains(&opts.fps) {
            return Err(RecordError::BadFps(opts.fps));
        }
        let target = check_target(&path, opts.overwrite)?;
        let (mut file, partial) = match target {
            Target::Stdout => (stdout_file()?, None),
            Target::Fifo => (fsutil::open_fifo(&path).map_err(io_err(&path))?, None),
            Target::New | Target::Existing => {
                let (f, p) = create_partial(&path, opts.overwrite)?;
                (f, Some(p))
            }
        };
        let avi = if is_avi(&path) {
            let avi = Avi::new(
                opts.fps,
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
        log::info!("recording to {}", shown(&path));
        Ok(Recorder {
            path,
            file,
            partial,
            avi,
            fps: opts.fps,
            next_slot: 0,
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

    /// The slot for a frame taken at `t`, or `None` when it comes too soon: the next free
    /// slot starts more than [`MAX_LATE`] after it, and taking it anyway
    /// would, frame after frame, stretch the recording (a 30 fps camera with a 5 fps cap
    /// played six times too slow).
    fn slot_for(&self, t: Duration) -> Option<u64> {
        let fps = u128::from(self.fps);
        let t = t.as_nanos();
        let due = t * fps / NANOS;
        let next = u128::from(self.next_slot);
        if due >= next {
            return Some(u64::try_from(due).unwrap_or(u64::MAX));
        }
        let late = (next * NANOS).div_ceil(fps).saturating_sub(t);
        (late <= MAX_LATE.as_nanos()).then_some(self.next_slot)
    }

    /// Appends one JPEG taken `since_start` after the recording began. `Ok(false)`: skipped
    /// by the frame-rate cap. A refused frame (not a whole JPEG, too large, over the AVI
    /// cap) leaves the file as it was.
    pub fn write(&mut self, jpeg: &[u8], since_start: Duration) -> Result<bool, RecordError> {
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
        let Some(slot) = self.slot_for(since_start) else {
            return Ok(false);
        };
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
                match avi.write_frame(&mut self.file, &mut self.good_len, jpeg, slot) {
                    Ok(()) => Ok(()),
                    Err(FrameErr::Limit(reason)) => return Err(RecordError::AviLimit { reason }),
                    Err(FrameErr::Io(e)) => Err(e),
                }
            }
        };
        if let Err(e) = res {
            if self.partial.is_none() {
                // A pipe cannot be cut back; its reader sees the stream end.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return Err(RecordError::PipeClosed(self.path.clone()));
                }
                return Err(io_err(&self.path)(e));
            }
            // Cut back to the last whole frame so the file stays valid.
            let _ = self.file.set_len(self.good_len);
            let _ = self.file.seek(SeekFrom::Start(self.good_len));
            return Err(io_err(&self.path)(e));
        }
        self.next_slot = slot.saturating_add(1);
        self.frames += 1;
        self.jpeg_bytes += jpeg.len() as u64;
        Ok(true)
    }

    /// Completes the file (AVI: index and header counts), syncs it and renames it to its
    /// final name, replacing a file there only if asked to and only if it is still a
    /// regular file. With no frame recorded nothing is renamed or replaced: the empty
    /// temporary file is removed and a file already at the final name is left as it was.
    pub fn finish(mut self) -> Result<RecordSummary, RecordError> {
        self.finished = true;
        let mut summary = RecordSummary {
            path: self.path.clone(),
            frames: self.frames,
            jpeg_bytes: self.jpeg_bytes,
            file_bytes: self.good_len,
            slots: 0,
            written: self.frames > 0,
            stream: self.partial.is_none(),
        };
        let Some(partial) = self.partial.take() else {
            // A pipe: every frame went out as it came (the caller reports it).
            log::debug!(
                "recorded {} frames ({} bytes) to {}",
                summary.frames,
                summary.file_bytes,
                shown(&self.path)
            );
            return Ok(summary);
        };
        if self.frames == 0 {
            partial.remove();
            summary.file_bytes = 0;
            log::debug!(
                "no frame was recorded; {} {}",
                self.path.display(),
                if self.path.exists() {
                    "was left as it was"
                } else {
                    "was not created"
                }
            );
            return Ok(summary);
        }
        if let Some(avi) = &mut self.avi {
            // Errors name the user's path, not the internal `.partial` one.
            avi.finish(&mut self.file, &mut self.good_len)
                .map_err(io_err(&self.path))?;
            summary.slots = avi.slots;
            summary.file_bytes = self.good_len;
        }
        self.file.sync_all().map_err(io_err(&self.path))?;
        let changed = |what| RecordError::FinalNameChanged {
            path: self.path.clone(),
            partial: partial.path.clone(),
            what,
        };
        if !partial.is_ours() {
            return Err(io_err(&partial.path)(io::Error::other(
                "moved or replaced by another program during the recording; nothing was renamed",
            )));
        }
        if partial.overwrite {
            // Checked at the start; a link or device put there since is not replaced.
            match std::fs::symlink_metadata(&self.path) {
                Ok(m) if !m.file_type().is_file() => {
                    return Err(changed("replaced by something that is not a regular file"))
                }
                _ => {}
            }
            std::fs::rename(&partial.path, &self.path).map_err(io_err(&self.path))?;
        } else {
            fsutil::rename_noreplace(&partial.path, &self.path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    changed("created by another program")
                } else {
                    io_err(&self.path)(e)
                }
            })?;
        }
        // Make the rename itself durable; failing that is not worth failing the recording.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
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
        if self.finished {
            return;
        }
        if let Some(p) = &self.partial {
            if self.frames == 0 {
                p.remove();
            } else {
                log::warn!(
                    "recording not finished; {} holds {} {}",
                    p.path.display(),
                    self.frames,
                    if self.frames == 1 { "frame" } else { "frames" }
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
