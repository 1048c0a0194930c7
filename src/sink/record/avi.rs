//! MJPEG-in-AVI writing with the OpenDML (AVI 2.0) extension.
//!
//! The first `RIFF 'AVI '` holds the headers, frames and a legacy `idx1`, so AVI 1.0
//! players see its frames; later frames go into `RIFF 'AVIX'` chunks. Each RIFF's `movi`
//! ends with an `ix00` standard index, and the `indx` super index in the stream header
//! points at all of them (OpenDML AVI File Format Extensions 1.02, as ffmpeg and VLC
//! read it). Every RIFF stays at or under the RIFF size limit (1 GiB). Sizes and counts
//! are patched in place with positional writes, so the file cursor always sits at the end
//! of the last whole frame.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Why a frame was not written.
#[derive(Debug)]
pub(super) enum FrameErr {
    /// Refused, nothing written; says why.
    Limit(&'static str),
    /// Failed part-way; the caller cuts the file back to `end`.
    Io(io::Error),
}

/// Entries reserved in the super index: 256 RIFFs of up to 1 GiB each.
const SUPER_ENTRIES: usize = 256;
const INDX_LEN: u64 = 8 + 24 + 16 * SUPER_ENTRIES as u64;
const DMLH_LEN: u64 = 8 + 248;
const AVIH_LEN: u64 = 8 + 56;
const STRL_LEN: u64 = 12 + (8 + 56) + (8 + 40) + INDX_LEN;
const ODML_LEN: u64 = 12 + DMLH_LEN;
const HDRL_LEN: u64 = 12 + AVIH_LEN + STRL_LEN + ODML_LEN;
/// Offset of the first `movi` LIST header.
const FIRST_MOVI: u64 = 12 + HDRL_LEN;
/// Everything before the first frame chunk.
pub(super) const HEADER_LEN: u64 = FIRST_MOVI + 12;

const AVIIF_KEYFRAME: u32 = 0x10;
const AVIF_HASINDEX: u32 = 0x10;
/// `ix00` header after its 8-byte chunk header.
const IX_HEAD: u64 = 24;

#[derive(Debug)]
pub(super) struct Avi {
    fps: u32,
    riff_limit: u64,
    opendml: bool,
    pub(super) width: u16,
    pub(super) height: u16,
    max_chunk: u32,
    /// Timebase slots over the whole file (frames and empty chunks).
    pub(super) slots: u64,
    /// Slots in the first RIFF once it is closed (the AVI 1.0 view of the file).
    first_riff_slots: Option<u64>,
    riff_start: u64,
    movi_start: u64,
    riff_slots: u64,
    /// Frames of the current RIFF.
    index: Vec<IdxEntry>,
    supers: Vec<SuperEntry>,
    scratch: Vec<u8>,
}

/// One frame chunk; its empty chunks sit in the bytes just before it.
#[derive(Debug, Clone, Copy)]
struct IdxEntry {
    /// File offset of the chunk header.
    pos: u64,
    size: u32,
    empties_before: u32,
}

#[derive(Debug, Clone, Copy)]
struct SuperEntry {
    offset: u64,
    size: u32,
    duration: u32,
}

impl Avi {
    pub(super) fn new(fps: u32, riff_limit: u64, opendml: bool) -> Avi {
        Avi {
            fps,
            riff_limit,
            opendml,
            width: 0,
            height: 0,
            max_chunk: 0,
            slots: 0,
            first_riff_slots: None,
            riff_start: 0,
            movi_start: FIRST_MOVI,
            riff_slots: 0,
            index: Vec::new(),
            scratch: Vec::new(),
            supers: Vec::new(),
        }
    }

    /// Writes the empty chunks for skipped slots and the frame's chunk in `slot`, starting a new
    /// RIFF first when this one would outgrow its limit. `end` is the file length after
    /// the last whole frame; it advances as parts are durably in place. An `Err` means
    /// refused or failed; on I/O failure the caller truncates the file back to `end`.
    pub(super) fn write_frame(
        &mut self,
        file: &mut File,
        end: &mut u64,
        jpeg: &[u8],
        slot: u64,
    ) -> Result<(), FrameErr> {
        // The recorder chose the slot (never a taken one); the ones skipped since the
        // last frame become empty chunks.
        let slot = slot.max(self.slots);
        let empties = slot - self.slots;
        let padded = (jpeg.len() as u64 + 1) & !1;
        let chunk_bytes = u128::from(empties) * 8 + 8 + u128::from(padded);
        let limit = u128::from(self.riff_limit);
        let fits = |riff_len: u64, riff_slots: u64, first: bool| {
            let n = u128::from(riff_slots) + u128::from(empties) + 1;
            let idx1 = if first { 8 + 16 * n } else { 0 };
            u128::from(riff_len) + chunk_bytes + 8 + u128::from(IX_HEAD) + 8 * n + idx1 <= limit
        };
        let first = self.first_riff_slots.is_none();
        if !fits(*end - self.riff_start, self.riff_slots, first) {
            // A fresh AVIX holds 24 header bytes before its first chunk.
            if !fits(24, 0, false) {
                return Err(FrameErr::Limit(
                    "the pause before this frame is too long for AVI",
                ));
            }
            if !self.opendml {
                return Err(FrameErr::Limit("AVI 1.0 files stop at 1 GiB"));
            }
            if self.supers.len() + 2 > SUPER_ENTRIES || self.riff_slots == 0 {
                return Err(FrameErr::Limit("the AVI index cannot address more"));
            }
            self.close_riff(file, end, false).map_err(FrameErr::Io)?;
        }
        let chunk_bytes = chunk_bytes as u64; // fits: bounded by the RIFF limit above
        let empties32 = u32::try_from(empties)
            .map_err(|_| FrameErr::Limit("the pause before this frame is too long for AVI"))?;
        let pos = *end + empties * 8;
        let res = (|| -> io::Result<()> {
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
            Ok(())
        })();
        res.map_err(FrameErr::Io)?;
        self.index.push(IdxEntry {
            pos,
            size: jpeg.len() as u32,
            empties_before: empties32,
        });
        self.slots = slot + 1;
        self.riff_slots += empties + 1;
        self.max_chunk = self.max_chunk.max(jpeg.len() as u32);
        *end += chunk_bytes;
        Ok(())
    }

    /// Ends the current RIFF at `end`: `ix00` (and `idx1` in the first), sizes patched.
    /// Unless `last`, opens an `AVIX` RIFF after it. State changes only after every write
    /// succeeded.
    fn close_riff(&mut self, file: &mut File, end: &mut u64, last: bool) -> io::Result<()> {
        let at = *end;
        let mut b = std::mem::take(&mut self.scratch);
        b.clear();
        // ix00: offsets point at chunk data, relative to the RIFF start.
        let base = self.riff_start;
        let ix_entries = self.riff_slots;
        b.extend_from_slice(b"ix00");
        put32(&mut b, (IX_HEAD + 8 * ix_entries) as u32);
        b.extend_from_slice(&2u16.to_le_bytes()); // wLongsPerEntry
        b.extend_from_slice(&[0, 1]); // bIndexSubType, bIndexType = AVI_INDEX_OF_CHUNKS
        put32(&mut b, ix_entries as u32);
        b.extend_from_slice(b"00dc");
        b.extend_from_slice(&base.to_le_bytes());
        put32(&mut b, 0);
        for e in &self.index {
            for k in (1..=u64::from(e.empties_before)).rev() {
                put32(&mut b, (e.pos - 8 * k + 8 - base) as u32);
                put32(&mut b, 0);
            }
            put32(&mut b, (e.pos + 8 - base) as u32);
            put32(&mut b, e.size); // bit 31 clear: key frame
        }
        let ix_len = 8 + IX_HEAD + 8 * ix_entries;
        let movi_end = at + ix_len;
        if self.first_riff_slots.is_none() {
            // idx1 offsets are relative to the 'movi' fourcc and point at chunk headers.
            let movi_fourcc = self.movi_start + 8;
            b.extend_from_slice(b"idx1");
            put32(&mut b, (16 * ix_entries) as u32);
            for e in &self.index {
                for k in (1..=u64::from(e.empties_before)).rev() {
                    idx1_entry(&mut b, 0, e.pos - 8 * k - movi_fourcc, 0);
                }
                idx1_entry(&mut b, AVIIF_KEYFRAME, e.pos - movi_fourcc, e.size);
            }
        }
        let riff_end = at + b.len() as u64;
        if !last {
            b.extend_from_slice(b"RIFF\0\0\0\0AVIXLIST\0\0\0\0movi");
        }
        let res = (|| -> io::Result<()> {
            file.write_all_at(&b, at)?;
            let movi_size = (movi_end - self.movi_start - 8) as u32;
            file.write_all_at(&movi_size.to_le_bytes(), self.movi_start + 4)?;
            let riff_size = (riff_end - self.riff_start - 8) as u32;
            file.write_all_at(&riff_size.to_le_bytes(), self.riff_start + 4)?;
            file.set_len(at + b.len() as u64)?;
            use std::io::Seek;
            file.seek(io::SeekFrom::Start(at + b.len() as u64))?;
            Ok(())
        })();
        let new_end = at + b.len() as u64;
        self.scratch = b;
        res?;
        self.supers.push(SuperEntry {
            offset: at,
            size: ix_len as u32,
            duration: ix_entries as u32,
        });
        if self.first_riff_slots.is_none() {
            self.first_riff_slots = Some(ix_entries);
        }
        *end = new_end;
        if !last {
            self.riff_start = riff_end;
            self.movi_start = riff_end + 12;
            self.riff_slots = 0;
            self.index.clear();
        }
        Ok(())
    }

    /// Closes the last RIFF and rewrites the headers with the final counts.
    pub(super) fn finish(&mut self, file: &mut File, end: &mut u64) -> io::Result<()> {
        self.close_riff(file, end, true)?;
        // Everything but the first RIFF's size and the movi LIST header, which
        // close_riff patched.
        let head = self.header();
        file.write_all_at(&head[8..FIRST_MOVI as usize], 8)
    }

    /// The head of the file up to the first frame chunk (RIFF and movi sizes are patched
    /// separately, by `close_riff`).
    pub(super) fn header(&self) -> Vec<u8> {
        let (w, h) = (u32::from(self.width), u32::from(self.height));
        let total = self.slots as u32;
        let first = self.first_riff_slots.unwrap_or(self.slots) as u32;
        let buf_size = self.max_chunk.saturating_add(8);
        let mut b = Vec::with_capacity(HEADER_LEN as usize);
        b.extend_from_slice(b"RIFF\0\0\0\0AVI LIST");
        put32(&mut b, (HDRL_LEN - 8) as u32);
        b.extend_from_slice(b"hdrlavih");
        put32(&mut b, 56);
        for v in [
            1_000_000 / self.fps,              // dwMicroSecPerFrame
            buf_size.saturating_mul(self.fps), // dwMaxBytesPerSec
            0,                                 // dwPaddingGranularity
            AVIF_HASINDEX,                     // dwFlags
            first,                             // dwTotalFrames: first RIFF only (AVI 1.0)
            0,                                 // dwInitialFrames
            1,                                 // dwStreams
            buf_size,                          // dwSuggestedBufferSize
            w,
            h,
            0,
            0,
            0,
            0,
        ] {
            put32(&mut b, v);
        }
        b.extend_from_slice(b"LIST");
        put32(&mut b, (STRL_LEN - 8) as u32);
        b.extend_from_slice(b"strlstrh");
        put32(&mut b, 56);
        b.extend_from_slice(b"vidsMJPG");
        for v in [0, 0, 0, 1, self.fps, 0, total, buf_size, u32::MAX, 0] {
            // flags, priority+language, initial frames, scale, rate, start, length,
            // suggested buffer, quality (default), sample size (variable)
            put32(&mut b, v);
        }
        b.extend_from_slice(&[0; 4]); // rcFrame left, top
        b.extend_from_slice(&self.width.to_le_bytes());
        b.extend_from_slice(&self.height.to_le_bytes());
        b.extend_from_slice(b"strf");
        put32(&mut b, 40);
        put32(&mut b, 40); // biSize
        put32(&mut b, w);
        put32(&mut b, h);
        b.extend_from_slice(&1u16.to_le_bytes()); // biPlanes
        b.extend_from_slice(&24u16.to_le_bytes()); // biBitCount
        b.extend_from_slice(b"MJPG");
        put32(&mut b, w.saturating_mul(h).saturating_mul(3)); // biSizeImage
        b.extend_from_slice(&[0; 16]);
        // indx: the super index, one entry per RIFF's ix00.
        b.extend_from_slice(b"indx");
        put32(&mut b, (INDX_LEN - 8) as u32);
        b.extend_from_slice(&4u16.to_le_bytes()); // wLongsPerEntry
        b.extend_from_slice(&[0, 0]); // bIndexSubType, bIndexType = AVI_INDEX_OF_INDEXES
        put32(&mut b, self.supers.len() as u32);
        b.extend_from_slice(b"00dc");
        b.extend_from_slice(&[0; 12]);
        for i in 0..SUPER_ENTRIES {
            let e = self.supers.get(i).copied().unwrap_or(SuperEntry {
                offset: 0,
                size: 0,
                duration: 0,
            });
            b.extend_from_slice(&e.offset.to_le_bytes());
            put32(&mut b, e.size);
            put32(&mut b, e.duration);
        }
        b.extend_from_slice(b"LIST");
        put32(&mut b, (ODML_LEN - 8) as u32);
        b.extend_from_slice(b"odmldmlh");
        put32(&mut b, 248);
        put32(&mut b, total); // dwTotalFrames over all RIFFs
        b.extend_from_slice(&[0; 244]);
        b.extend_from_slice(b"LIST\0\0\0\0movi");
        debug_assert_eq!(b.len() as u64, HEADER_LEN);
        b
    }
}

fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn idx1_entry(b: &mut Vec<u8>, flags: u32, offset: u64, size: u32) {
    b.extend_from_slice(b"00dc");
    put32(b, flags);
    put32(b, offset as u32);
    put32(b, size);
}
