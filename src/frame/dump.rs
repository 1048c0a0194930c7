//! Dumping raw live-view objects (`--dump-objects DIR`) and replaying recorded material
//! in their place: a dump directory of `*.bin` objects, a directory of `*.jpg`/`*.jpeg`
//! files, an `.mjpeg`/`.mjpg` stream, or one `.bin` capture of back-to-back datasets
//! (rocc style, shared/vectors/MANIFEST.md §2).
//!
//! Unlike the rest of `frame`, this module does file I/O, but nothing else: no threads,
//! no clocks (pacing is the caller's business). Dumps are written under a temporary name
//! and renamed, so a reader never sees half an object. Replay reads into a buffer the
//! caller reuses, streams large files through a bounded window instead of loading them,
//! and refuses any single item over [`MAX_ITEM_BYTES`]. A bad item is an error for that
//! item only: the next call moves on. In an MJPEG stream it moves on to the next JPEG
//! start marker; in a capture of datasets the framing is lost with a bad header, so the
//! rest of that file is skipped.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{dataset_len, jpeg_info, ExtractError};

/// Largest single object or JPEG a replay accepts.
pub const MAX_ITEM_BYTES: usize = 64 << 20;

const READ_CHUNK: usize = 256 << 10;

/// Errors from writing live-view objects to disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// A file could not be written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        err: io::Error,
    },
}

/// Writes each object to `DIR/lv-000001.bin`, `lv-000002.bin`, ...
#[derive(Debug)]
pub struct DumpWriter {
    dir: PathBuf,
    next: u64,
    written: u64,
}

impl DumpWriter {
    /// Creates `dir` if needed. Numbering continues after the highest `lv-N.bin` already
    /// there, so a second run never overwrites the first.
    pub fn new(dir: impl AsRef<Path>) -> Result<DumpWriter, DumpError> {
        let dir = dir.as_ref().to_path_buf();
        let io = |err| DumpError::Io {
            path: dir.clone(),
            err,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut last = 0u64;
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let n = name
                .to_str()
                .and_then(|n| n.strip_prefix("lv-")?.strip_suffix(".bin")?.parse().ok());
            last = last.max(n.unwrap_or(0));
        }
        Ok(DumpWriter {
            dir,
            next: last + 1,
            written: 0,
        })
    }

    /// Objects written by this writer.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes one object atomically (temporary file, then rename); returns its path.
    pub fn write(&mut self, object: &[u8]) -> Result<PathBuf, DumpError> {
        let name = format!("lv-{:06}.bin", self.next);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(name);
        let res = File::create(&tmp)
            .and_then(|mut f| f.write_all(object))
            // Named by the user's directory, not the hidden temporary file.
            .map_err(|err| DumpError::Io {
                path: self.dir.clone(),
                err,
            });
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &path).map_err(|err| DumpError::Io {
            path: path.clone(),
            err,
        })?;
        self.next += 1;
        self.written += 1;
        log::trace!("dumped {} bytes to {}", object.len(), path.display());
        Ok(path)
    }
}

/// What [`Replay::next_into`] put in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKind {
    /// A raw live-view object (dataset): feed it to [`super::extract`].
    Object,
    /// A bare JPEG, SOI through EOI.
    Jpeg,
}

/// Errors from reading a replay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A file could not be read.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        err: io::Error,
    },
    /// The path is not something that can be replayed.
    #[error(
        "{0}: nothing to replay; use a directory of .bin or .jpg files, an .mjpeg/.mjpg file \
         or a .bin capture"
    )]
    Unsupported(PathBuf),
    /// The directory holds nothing to replay.
    #[error("{0}: no .bin, .jpg or .jpeg files in this directory")]
    NoItems(PathBuf),
    /// The directory holds both kinds of item.
    #[error("{0} holds both .bin objects and .jpg files; put them in separate directories")]
    Mixed(PathBuf),
    /// An item is larger than a frame can be.
    #[error("{path} at byte {offset}: item of {size} bytes is above the {max}-byte limit")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Where the item starts.
        offset: u64,
        /// The item's size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// An item is not a usable live-view object or JPEG.
    #[error("{path} at byte {offset}: {err}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// Where the item starts.
        offset: u64,
        /// What is wrong with it.
        err: ExtractError,
    },
    /// The file ends inside an item.
    #[error("{path} at byte {offset}: the last item is incomplete ({have} bytes) and was skipped")]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// Where the item starts.
        offset: u64,
        /// Bytes present.
        have: usize,
    },
}

/// Replays recorded objects or JPEGs one at a time.
#[derive(Debug)]
pub struct Replay {
    source: Source,
    looping: bool,
    pass_items: u64,
    items: u64,
}

#[derive(Debug)]
enum Source {
    Files {
        paths: Vec<PathBuf>,
        kind: ReplayKind,
        next: usize,
    },
    Stream(Stream),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Mjpeg,
    Datasets,
}

#[derive(Debug)]
struct Stream {
    path: PathBuf,
    framing: Framing,
    file: File,
    /// Bytes read but not yet handed out start at `win[start]`.
    win: Vec<u8>,
    start: usize,
    /// File offset of `win[start]`.
    pos: u64,
    eof: bool,
    chunk: usize,
    /// After a bad JPEG in an MJPEG stream: look for the next start marker first.
    resync: bool,
}

fn ext_is(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

impl Replay {
    /// Opens a directory of `*.bin` objects or of `*.jpg`/`*.jpeg` files (sorted by name,
    /// numbers compared as numbers), an `.mjpeg`/`.mjpg` file, a `.bin` capture of
    /// back-to-back datasets, or one `.jpg`.
    pub fn open(path: impl AsRef<Path>) -> Result<Replay, ReplayError> {
        let path = path.as_ref();
        let io = |err| ReplayError::Io {
            path: path.to_path_buf(),
            err,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let source = if meta.is_dir() {
            let (mut bins, mut jpgs) = (Vec::new(), Vec::new());
            for entry in std::fs::read_dir(path).map_err(io)? {
                let p = entry.map_err(io)?.path();
                let hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_none_or(|n| n.starts_with('.'));
                if hidden || !p.is_file() {
                    continue;
                }
                if ext_is(&p, &["bin"]) {
                    bins.push(p);
                } else if ext_is(&p, &["jpg", "jpeg"]) {
                    jpgs.push(p);
                }
            }
            let (mut paths, kind) = match (bins.is_empty(), jpgs.is_empty()) {
                (false, false) => return Err(ReplayError::Mixed(path.to_path_buf())),
                (true, true) => return Err(ReplayError::NoItems(path.to_path_buf())),
                (false, true) => (bins, ReplayKind::Object),
                (true, false) => (jpgs, ReplayKind::Jpeg),
            };
            paths.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
            Source::Files {
                paths,
                kind,
                next: 0,
            }
        } else if ext_is(path, &["jpg", "jpeg"]) {
            Source::Files {
                paths: vec![path.to_path_buf()],
                kind: ReplayKind::Jpeg,
                next: 0,
            }
        } else {
            let framing = if ext_is(path, &["mjpeg", "mjpg"]) {
                Framing::Mjpeg
            } else if ext_is(path, &["bin"]) {
                Framing::Datasets
            } else {
                return Err(ReplayError::Unsupported(path.to_path_buf()));
            };
            Source::Stream(Stream {
                path: path.to_path_buf(),
                framing,
                file: File::open(path).map_err(io)?,
                win: Vec::new(),
                start: 0,
                pos: 0,
                eof: false,
                chunk: READ_CHUNK,
                resync: false,
            })
        };
        Ok(Replay {
            source,
            looping: false,
            pass_items: 0,
            items: 0,
        })
    }

    /// Starts over at the end. A pass that yields no good item ends the replay anyway,
    /// so a source of nothing but errors cannot spin.
    pub fn with_loop(mut self, looping: bool) -> Replay {
        self.looping = looping;
        self
    }

    /// Good items handed out so far, over all passes.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Puts the next item in `buf` (cleared first) and says what it is; `Ok(None)` at the
    /// end. After an `Err` the replay has moved past the bad item: call again to go on.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<ReplayKind>, ReplayError> {
        loop {
            let got = match &mut self.source {
                Source::Files { paths, kind, next } => {
                    let Some(path) = paths.get(*next) else {
                        if self.rewind()? {
                            continue;
                        }
                        return Ok(None);
                    };
                    *next += 1;
                    read_item(path, *kind, buf)?;
                    *kind
                }
                Source::Stream(s) => match s.next_into(buf)? {
                    Some(kind) => kind,
                    None => {
                        if self.rewind()? {
                            continue;
                        }
                        return Ok(None);
                    }
                },
            };
            self.pass_items += 1;
            self.items += 1;
            return Ok(Some(got));
        }
    }

    /// At the end of a pass: starts the next one when looping and this one was useful.
    fn rewind(&mut self) -> Result<bool, ReplayError> {
        if !self.looping || self.pass_items == 0 {
            return Ok(false);
        }
        self.pass_items = 0;
        match &mut self.source {
            Source::Files { next, .. } => *next = 0,
            Source::Stream(s) => s.rewind()?,
        }
        Ok(true)
    }
}

/// Reads one whole file as one item, capped; a JPEG is checked and cut at its EOI.
fn read_item(path: &Path, kind: ReplayKind, buf: &mut Vec<u8>) -> Result<(), ReplayError> {
    let io = |err| ReplayError::Io {
        path: path.to_path_buf(),
        err,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let too_large = |size| ReplayError::TooLarge {
        path: path.to_path_buf(),
        offset: 0,
        size,
        max: MAX_ITEM_BYTES,
    };
    if size > MAX_ITEM_BYTES as u64 {
        return Err(too_large(size));
    }
    buf.clear();
    // The file may grow between metadata and read: the take() keeps the cap honest.
    file.take(MAX_ITEM_BYTES as u64 + 1)
        .read_to_end(buf)
        .map_err(io)?;
    if buf.len() > MAX_ITEM_BYTES {
        return Err(too_large(buf.len() as u64));
    }
    if kind == ReplayKind::Jpeg {
        let info = jpeg_info(buf).map_err(|err| ReplayError::Bad {
            path: path.to_path_buf(),
            offset: 0,
            err,
        })?;
        buf.truncate(info.len);
    }
    Ok(())
}

/// How the item at the start of a window is framed.
enum Cut {
    Len(usize),
    NeedMore,
    Bad(ExtractError),
}

impl Stream {
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<ReplayKind>, ReplayError> {
        loop {
            if self.resync && !self.find_soi()? {
                return Ok(None);
            }
            let avail = &self.win[self.start..];
            if avail.is_empty() && self.eof {
                return Ok(None);
            }
            let cut = match self.framing {
                Framing::Mjpeg => match jpeg_info(avail) {
                    Ok(info) => Cut::Len(info.len),
                    // Every prefix of a valid JPEG walks to Truncated (or Empty).
                    Err(ExtractError::Truncated { .. } | ExtractError::Empty) => Cut::NeedMore,
                    Err(e) => Cut::Bad(e),
                },
                Framing::Datasets => match dataset_len(avail, 0) {
                    Ok(len) => Cut::Len(len),
                    Err(ExtractError::Incomplete { .. }) => Cut::NeedMore,
                    Err(e) => Cut::Bad(e),
                },
            };
            match cut {
                Cut::Len(len) if len <= avail.len() => {
                    buf.clear();
                    buf.extend_from_slice(&avail[..len]);
                    self.start += len;
                    self.pos += len as u64;
                    return Ok(Some(match self.framing {
                        Framing::Mjpeg => ReplayKind::Jpeg,
                        Framing::Datasets => ReplayKind::Object,
                    }));
                }
                Cut::Len(_) | Cut::NeedMore if self.eof => {
                    let (offset, have) = (self.pos, avail.len());
                    self.skip_rest();
                    return Err(ReplayError::Incomplete {
                        path: self.path.clone(),
                        offset,
                        have,
                    });
                }
                Cut::Len(need) => self.fill(need)?,
                Cut::NeedMore => {
                    let have = avail.len();
                    if have > MAX_ITEM_BYTES {
                        let offset = self.pos;
                        self.skip_bad();
                        return Err(ReplayError::TooLarge {
                            path: self.path.clone(),
                            offset,
                            size: have as u64,
                            max: MAX_ITEM_BYTES,
                        });
                    }
                    // Grow geometrically so re-walking a long JPEG stays linear overall.
                    self.fill((have * 2).clamp(self.chunk, MAX_ITEM_BYTES + 1))?;
                }
                Cut::Bad(source) => {
                    let offset = self.pos;
                    self.skip_bad();
                    return Err(ReplayError::Bad {
                        path: self.path.clone(),
                        offset,
                        err: source,
                    });
                }
            }
        }
    }

    /// Reads until the window holds `want` bytes from `start` (or the file ends).
    fn fill(&mut self, want: usize) -> Result<(), ReplayError> {
        if self.start > 0 {
            self.win.drain(..self.start);
            self.start = 0;
        }
        let want = want.max(self.win.len() + self.chunk);
        let old = self.win.len();
        self.win.resize(want, 0);
        let mut got = old;
        while got < want {
            match self.file.read(&mut self.win[got..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.win.truncate(got);
                    return Err(ReplayError::Io {
                        path: self.path.clone(),
                        err: source,
                    });
                }
            }
        }
        self.win.truncate(got);
        Ok(())
    }

    /// Past a bad item: MJPEG looks for the next JPEG start, datasets skip the rest.
    fn skip_bad(&mut self) {
        match self.framing {
            Framing::Mjpeg => {
                self.start += 1;
                self.pos += 1;
                self.resync = true;
            }
            Framing::Datasets => self.skip_rest(),
        }
    }

    /// Moves to the next SOI marker (FF D8), reading on as needed; `false` when the file
    /// ends first. Bytes searched are dropped, so the window stays small.
    fn find_soi(&mut self) -> Result<bool, ReplayError> {
        loop {
            let avail = &self.win[self.start..];
            if let Some(i) = avail.windows(2).position(|w| w == [0xFF, 0xD8]) {
                self.start += i;
                self.pos += i as u64;
                self.resync = false;
                return Ok(true);
            }
            // Keep a last 0xFF: it may start the marker that the next read completes.
            let keep = usize::from(avail.last() == Some(&0xFF));
            let drop = avail.len() - keep;
            self.start += drop;
            self.pos += drop as u64;
            if self.eof {
                self.skip_rest();
                self.resync = false;
                return Ok(false);
            }
            self.fill(self.chunk)?;
        }
    }

    /// Framing is lost: the rest of this pass is skipped.
    fn skip_rest(&mut self) {
        self.win.clear();
        self.start = 0;
        self.eof = true;
    }

    fn rewind(&mut self) -> Result<(), ReplayError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|err| ReplayError::Io {
                path: self.path.clone(),
                err,
            })?;
        self.win.clear();
        self.start = 0;
        self.pos = 0;
        self.eof = false;
        self.resync = false;
        Ok(())
    }
}

/// Name order with digit runs compared as numbers, so `lv-1000000` follows `lv-999999`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let ta = na
                    .iter()
                    .position(|&c| c != b'0')
                    .map_or(&na[da..], |i| &na[i..]);
                let tb = nb
                    .iter()
                    .position(|&c| c != b'0')
                    .map_or(&nb[db..], |i| &nb[i..]);
                let ord = ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

#[cfg(test)]
mod tests;
