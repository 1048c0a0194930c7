//! JPEG extraction from Sony live-view objects (the payload of `GetObject(0xFFFFC002)`).
//!
//! A live-view dataset starts with a header (u32 image offset, u32 image size, u32
//! focal-frame offset, u32 focal-frame size; docs/protocol/sony-usb.md#live-view-object).
//! [`extract`] trusts the offset only when it points at `FF D8`, bounds the image by its
//! declared size, then walks the JPEG's markers to the real EOI
//! (docs/protocol/sony-usb.md#cutting-the-jpeg), so padding junk after EOI, stray `FF D8`
//! bytes in the header or focal-frame data and EXIF thumbnails can neither cut nor extend a
//! frame. Only when the header is unusable does it fall back to scanning for `FF D8`
//! (libgphoto2's way). A JPEG without its EOI is an error, never a frame.
//! [`split_datasets`] cuts a capture of back-to-back datasets (rocc's test files) by the
//! header fields.
//!
//! This module must stay sans-IO and allocation-free on the per-frame path: results
//! borrow from the caller's buffer. It never panics on any input. The one exception is
//! [`dump`], which writes `--dump-objects` files and replays recordings from disk.

pub mod dump;
mod jpeg;

pub use dump::{DumpError, DumpWriter, Replay, ReplayError, ReplayKind};
pub use jpeg::{jpeg_info, JpegInfo};

/// Size of the fixed part of the live-view dataset header.
pub const DATASET_HEADER_LEN: usize = 16;

/// Largest dataset [`split_datasets`] accepts; real ones are well under 1 MiB, so a
/// larger declared size means the header is junk (it also bounds what a reader buffers).
pub const MAX_DATASET_LEN: usize = 64 << 20;

/// At most this many `FF D8` candidates are walked in fallback mode, so a hostile object
/// full of `FF D8` costs a bounded number of (short) walks.
const MAX_FALLBACK_CANDIDATES: usize = 8;

/// Chroma subsampling, from the frame header's component sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sampling {
    /// Chroma halved horizontally (what Sony live view sends: `yuvj422p`).
    Yuv422,
    /// Chroma halved both ways.
    Yuv420,
    /// Full-resolution chroma.
    Yuv444,
    /// One component.
    Gray,
    /// Anything else (4:4:0, 4:1:1, CMYK, unequal chroma factors...).
    Other,
}

/// One JPEG found in a live-view object, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// SOI through EOI, nothing more.
    pub jpeg: &'a [u8],
    /// Where `jpeg` starts in the object.
    pub offset: usize,
    /// Width in pixels, from the frame header.
    pub width: u16,
    /// Height in pixels, from the frame header.
    pub height: u16,
    /// Chroma subsampling, from the frame header.
    pub sampling: Sampling,
}

/// Why no frame came out of an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The object has no bytes.
    #[error("live-view object is empty (camera not ready yet)")]
    Empty,
    /// The dataset header declares an image of size zero.
    #[error("live-view object declares no image (camera not ready yet)")]
    NoImageDeclared,
    /// No JPEG start marker was found.
    #[error("no jpeg start (ff d8) in the live-view object")]
    NoImage,
    /// The data ends before the end-of-image marker.
    #[error("jpeg is truncated: data ends at byte {offset} before the end-of-image marker")]
    Truncated {
        /// Where the data ends.
        offset: usize,
    },
    /// A byte that should start a marker does not.
    #[error("byte 0x{byte:02x} at offset {offset} where a jpeg marker was expected")]
    BadMarker {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A segment's length or content is wrong.
    #[error("bad jpeg segment 0xff{marker:02x} at offset {offset}: {reason}")]
    BadSegment {
        /// Where the segment starts.
        offset: usize,
        /// The segment's marker.
        marker: u8,
        /// What is wrong.
        reason: &'static str,
    },
    /// The JPEG uses a coding the decoders do not support.
    #[error(
        "unsupported jpeg coding (marker 0xff{marker:02x} at offset {offset}); only baseline, \
         extended and progressive huffman jpeg are supported"
    )]
    UnsupportedCoding {
        /// Where its frame header is.
        offset: usize,
        /// The frame marker.
        marker: u8,
    },
    /// A scan comes before the frame header.
    #[error("jpeg scan at offset {offset} comes before any frame header")]
    MissingFrameHeader {
        /// Where the scan starts.
        offset: usize,
    },
    /// The JPEG ends without a scan.
    #[error("jpeg ends at offset {offset} without any image scan")]
    NoScan {
        /// Where it ends.
        offset: usize,
    },
    /// The dataset header's fields do not fit the object.
    #[error("bad live-view dataset header at offset {offset}: {reason}")]
    BadHeader {
        /// Where the header starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The object is shorter than its header says.
    #[error("incomplete live-view dataset at offset {offset}: {have} of {need} bytes present")]
    Incomplete {
        /// Where the dataset starts.
        offset: usize,
        /// Bytes present.
        have: usize,
        /// Bytes declared.
        need: usize,
    },
}

impl ExtractError {
    /// The offset an error points at, if any.
    fn offset(&self) -> Option<usize> {
        match *self {
            ExtractError::Truncated { offset }
            | ExtractError::BadMarker { offset, .. }
            | ExtractError::BadSegment { offset, .. }
            | ExtractError::UnsupportedCoding { offset, .. }
            | ExtractError::MissingFrameHeader { offset }
            | ExtractError::NoScan { offset }
            | ExtractError::BadHeader { offset, .. }
            | ExtractError::Incomplete { offset, .. } => Some(offset),
            ExtractError::Empty | ExtractError::NoImageDeclared | ExtractError::NoImage => None,
        }
    }
}

/// The four header fields of a live-view dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetHeader {
    /// Offset of the JPEG from the dataset start.
    pub image_offset: u32,
    /// Declared size of the JPEG.
    pub image_size: u32,
    /// Offset of the focal-frame block.
    pub frame_info_offset: u32,
    /// Size of the focal-frame block.
    pub frame_info_size: u32,
}

impl DatasetHeader {
    /// Reads the header, or `None` when fewer than 16 bytes are present.
    pub fn parse(data: &[u8]) -> Option<DatasetHeader> {
        let h = data.get(..DATASET_HEADER_LEN)?;
        let u = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(DatasetHeader {
            image_offset: u(0),
            image_size: u(4),
            frame_info_offset: u(8),
            frame_info_size: u(12),
        })
    }

    /// Bytes the whole dataset spans: the end of whichever part ends last (u64, so no
    /// field combination can overflow).
    pub fn dataset_len(&self) -> u64 {
        let image_end = u64::from(self.image_offset) + u64::from(self.image_size);
        let info_end = if self.frame_info_size == 0 {
            0
        } else {
            u64::from(self.frame_info_offset) + u64::from(self.frame_info_size)
        };
        image_end.max(info_end).max(DATASET_HEADER_LEN as u64)
    }
}

/// Finds the JPEG in one live-view dataset. See the module docs for the rules.
pub fn extract(object: &[u8]) -> Result<Frame<'_>, ExtractError> {
    if object.is_empty() {
        return Err(ExtractError::Empty);
    }
    if let Some(h) = DatasetHeader::parse(object) {
        let off = h.image_offset as usize;
        // The header is plausible when the image starts after it and inside the object.
        if h.image_offset as u64 >= DATASET_HEADER_LEN as u64 && (off as u64) <= object.len() as u64
        {
            if h.image_size == 0 {
                return Err(ExtractError::NoImageDeclared);
            }
            if object.get(off..off + 2) == Some(&[0xFF, 0xD8]) {
                let end = u64::from(h.image_offset) + u64::from(h.image_size);
                let end = end.min(object.len() as u64) as usize;
                return frame_at(&object[..end], off);
            }
        }
        log::trace!(
            "live-view header {h:?} unusable for {} bytes; scanning for ff d8",
            object.len()
        );
    }
    fallback(object)
}

fn frame_at(window: &[u8], start: usize) -> Result<Frame<'_>, ExtractError> {
    let info = jpeg::walk(window, start)?;
    Ok(Frame {
        jpeg: &window[start..start + info.len],
        offset: start,
        width: info.width,
        height: info.height,
        sampling: info.sampling,
    })
}

/// libgphoto2's scan for the first `FF D8`, but each candidate must walk to a valid EOI;
/// the first candidate's error is the one reported.
fn fallback(object: &[u8]) -> Result<Frame<'_>, ExtractError> {
    let mut first_err = None;
    let mut from = 0;
    for _ in 0..MAX_FALLBACK_CANDIDATES {
        let Some(at) = object
            .get(from..)
            .and_then(|t| t.windows(2).position(|w| w == [0xFF, 0xD8]))
            .map(|p| p + from)
        else {
            break;
        };
        match frame_at(object, at) {
            Ok(f) => return Ok(f),
            Err(e) => {
                // Everything before the failure point belonged to this candidate's
                // segments (an EXIF thumbnail, say): a later SOI in there is not a frame.
                // A truncated candidate ran to the end, so the search ends with it.
                from = e.offset().unwrap_or(0).max(at + 2);
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(ExtractError::NoImage))
}

/// Cuts back-to-back live-view datasets (a capture of several `GetObject` payloads) using
/// each header's offset and size fields. Each item is one whole dataset. A dataset cut
/// short by the end of the data is reported as [`ExtractError::Incomplete`]; a header
/// whose image does not start with `FF D8` as [`ExtractError::BadHeader`]. After an error
/// the iterator ends, because the next dataset's position is unknown.
pub fn split_datasets(data: &[u8]) -> DatasetSplit<'_> {
    DatasetSplit {
        data,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`split_datasets`].
#[derive(Debug, Clone)]
pub struct DatasetSplit<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> DatasetSplit<'a> {
    /// Offset of the next dataset (after the end, the number of bytes consumed).
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// How long the dataset at the start of `data` is, without needing all of it: `Ok(len)`
/// (maybe more than `data.len()`), or `Incomplete` when even the header is cut, or
/// `BadHeader`. `offset` only labels errors. Used by readers that fill a buffer.
pub fn dataset_len(data: &[u8], offset: usize) -> Result<usize, ExtractError> {
    let Some(h) = DatasetHeader::parse(data) else {
        return Err(ExtractError::Incomplete {
            offset,
            have: data.len(),
            need: DATASET_HEADER_LEN,
        });
    };
    let bad = |reason| Err(ExtractError::BadHeader { offset, reason });
    if h.image_size == 0 {
        return bad("no image declared");
    }
    if (h.image_offset as usize) < DATASET_HEADER_LEN {
        return bad("image offset points into the header");
    }
    let len = h.dataset_len();
    if len > MAX_DATASET_LEN as u64 {
        return bad("declared size above 64 MiB");
    }
    let io = h.image_offset as usize;
    if let Some(soi) = data.get(io..io + 2) {
        if soi != [0xFF, 0xD8] {
            return bad("no jpeg start (ff d8) at the image offset");
        }
    }
    Ok(len as usize)
}

impl<'a> Iterator for DatasetSplit<'a> {
    type Item = Result<&'a [u8], ExtractError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let item = match dataset_len(rest, self.pos) {
            Ok(len) if len <= rest.len() => {
                self.pos += len;
                return Some(Ok(&rest[..len]));
            }
            Ok(need) => Err(ExtractError::Incomplete {
                offset: self.pos,
                have: rest.len(),
                need,
            }),
            Err(e) => Err(e),
        };
        self.done = true;
        Some(item)
    }
}

impl std::iter::FusedIterator for DatasetSplit<'_> {}

#[cfg(test)]
mod tests;
