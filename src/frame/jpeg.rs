//! The JPEG marker walk: from SOI through the marker segments (skipped by their lengths)
//! and every entropy-coded scan to the real EOI, reading the frame header on the way.
//!
//! It never trusts a "first FF D9" search: inside a segment (an EXIF thumbnail, a comment)
//! any byte pattern may appear and is skipped by length; inside entropy-coded data `FF` is
//! always followed by `00` (stuffing), `D0`–`D7` (restart) or `FF` (fill), so the first
//! other marker ends the scan. No allocation, no panics on any input (ITU-T T.81 B.1,
//! docs/protocol/sony-usb.md#cutting-the-jpeg).

use super::{ExtractError, Sampling};

/// What the marker walk learned about one JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    /// Bytes from SOI up to and including EOI.
    pub len: usize,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Chroma subsampling.
    pub sampling: Sampling,
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

/// Walks the JPEG that starts with `FF D8` at the beginning of `data` and returns its
/// length (through EOI), size and chroma sampling. Bytes after EOI are ignored.
pub fn jpeg_info(data: &[u8]) -> Result<JpegInfo, ExtractError> {
    if data.is_empty() {
        return Err(ExtractError::Empty);
    }
    walk(data, 0)
}

/// The walk proper on `window`, with the SOI at `start`; every offset (in the result
/// and in errors) is relative to `window`, so callers pass the whole object and get
/// object offsets. The returned `len` is counted from `start`.
pub(super) fn walk(window: &[u8], start: usize) -> Result<JpegInfo, ExtractError> {
    let len = window.len();
    match window.get(start..start.saturating_add(2)) {
        Some([0xFF, SOI]) => {}
        Some(_) => {
            return Err(ExtractError::BadMarker {
                offset: start,
                byte: window[start],
            })
        }
        None => return Err(ExtractError::Truncated { offset: len }),
    }
    let mut pos = start + 2;
    let mut frame: Option<(u16, u16, Sampling)> = None;
    let mut scans = 0usize;
    loop {
        // At a marker: one FF, optionally more FF fill bytes, then the code.
        match window.get(pos) {
            Some(0xFF) => {}
            Some(&byte) => return Err(ExtractError::BadMarker { offset: pos, byte }),
            None => return Err(ExtractError::Truncated { offset: len }),
        }
        let marker_at = pos;
        while pos < len && window[pos] == 0xFF {
            pos += 1;
        }
        let Some(&code) = window.get(pos) else {
            return Err(ExtractError::Truncated { offset: len });
        };
        pos += 1;
        match code {
            EOI => {
                if scans == 0 {
                    return Err(ExtractError::NoScan { offset: marker_at });
                }
                let (width, height, sampling) =
                    frame.ok_or(ExtractError::MissingFrameHeader { offset: marker_at })?;
                return Ok(JpegInfo {
                    len: pos - start,
                    width,
                    height,
                    sampling,
                });
            }
            TEM => continue,
            0x00 | SOI | 0xD0..=0xD7 => {
                return Err(ExtractError::BadMarker {
                    offset: marker_at,
                    byte: code,
                })
            }
            _ => {}
        }
        // A marker segment: big-endian length that counts itself.
        let Some(&[hi, lo]) = window.get(pos..pos + 2) else {
            return Err(ExtractError::Truncated { offset: len });
        };
        let seg_len = usize::from(u16::from_be_bytes([hi, lo]));
        if seg_len < 2 {
            return Err(ExtractError::BadSegment {
                offset: marker_at,
                marker: code,
                reason: "segment length below 2",
            });
        }
        let seg_end = pos + seg_len;
        let Some(body) = window.get(pos + 2..seg_end) else {
            return Err(ExtractError::Truncated { offset: len });
        };
        match code {
            0xC0..=0xCF if code != 0xC4 && code != 0xC8 && code != 0xCC => {
                if !matches!(code, 0xC0..=0xC2) {
                    return Err(ExtractError::UnsupportedCoding {
                        offset: marker_at,
                        marker: code,
                    });
                }
                if frame.is_some() {
                    return Err(ExtractError::BadSegment {
                        offset: marker_at,
                        marker: code,
                        reason: "second frame header",
                    });
                }
                frame = Some(parse_sof(body).map_err(|reason| ExtractError::BadSegment {
                    offset: marker_at,
                    marker: code,
                    reason,
                })?);
            }
            SOS => {
                if frame.is_none() {
                    return Err(ExtractError::MissingFrameHeader { offset: marker_at });
                }
                let ns = usize::from(*body.first().unwrap_or(&0));
                if ns == 0 || ns > 4 || body.len() != 1 + 2 * ns + 3 {
                    return Err(ExtractError::BadSegment {
                        offset: marker_at,
                        marker: code,
                        reason: "scan header length does not match its component count",
                    });
                }
                scans += 1;
                pos = skip_entropy(window, seg_end)?;
                continue;
            }
            _ => {}
        }
        pos = seg_end;
    }
}

/// Skips entropy-coded data from `pos`; returns the offset of the `FF` that starts the
/// next real marker (after any fill bytes collapse into it).
fn skip_entropy(window: &[u8], mut pos: usize) -> Result<usize, ExtractError> {
    let len = window.len();
    loop {
        let Some(ff) = find_ff(window, pos) else {
            return Err(ExtractError::Truncated { offset: len });
        };
        let mut k = ff + 1;
        while k < len && window[k] == 0xFF {
            k += 1;
        }
        match window.get(k) {
            None => return Err(ExtractError::Truncated { offset: len }),
            Some(0x00 | 0xD0..=0xD7) => pos = k + 1,
            // The last FF before the code is the marker's own; earlier ones are fill.
            Some(_) => return Ok(k - 1),
        }
    }
}

/// First `0xFF` at or after `from`, eight bytes at a time: live-view frames are mostly
/// entropy data, so this loop is the extractor's hot path.
fn find_ff(data: &[u8], from: usize) -> Option<usize> {
    let tail = data.get(from..)?;
    let mut chunks = tail.chunks_exact(8);
    let mut base = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Bytes equal to FF become 00; the classic "has zero byte" test then flags them.
        // Only the lowest flag is exact, which is the one we want (little-endian = first).
        let v = !u64::from_le_bytes(word);
        let hits = v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080;
        if hits != 0 {
            return Some(base + (hits.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == 0xFF)
        .map(|i| base + i)
}

/// Reads SOFn (after the length): precision, height, width, components.
fn parse_sof(body: &[u8]) -> Result<(u16, u16, Sampling), &'static str> {
    let [_precision, h1, h0, w1, w0, nf, comps @ ..] = body else {
        return Err("frame header shorter than 6 bytes");
    };
    let nf = usize::from(*nf);
    if nf == 0 || comps.len() != 3 * nf {
        return Err("frame header length does not match its component count");
    }
    let height = u16::from_be_bytes([*h1, *h0]);
    let width = u16::from_be_bytes([*w1, *w0]);
    // Height 0 means "defined later by DNL"; no camera sends that and no sink can size
    // a buffer from it, so refuse it here.
    if width == 0 || height == 0 {
        return Err("frame header has a zero width or height");
    }
    let mut factors = [(0u8, 0u8); 4];
    for (i, c) in comps.chunks_exact(3).enumerate().take(4) {
        let (h, v) = (c[1] >> 4, c[1] & 0x0F);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err("component sampling factor outside 1..4");
        }
        factors[i] = (h, v);
    }
    Ok((width, height, sampling_of(&factors[..nf.min(4)], nf)))
}

fn sampling_of(f: &[(u8, u8)], nf: usize) -> Sampling {
    match nf {
        1 => Sampling::Gray,
        3 if f[1] == f[2] => {
            let ((yh, yv), (ch, cv)) = (f[0], f[1]);
            if yh % ch != 0 || yv % cv != 0 {
                return Sampling::Other;
            }
            match (yh / ch, yv / cv) {
                (1, 1) => Sampling::Yuv444,
                (2, 1) => Sampling::Yuv422,
                (2, 2) => Sampling::Yuv420,
                _ => Sampling::Other,
            }
        }
        _ => Sampling::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_ff_matches_naive_search() {
        let mut data = vec![0u8; 67];
        for i in 0..data.len() {
            data.iter_mut().for_each(|b| *b = 0xFE);
            data[i] = 0xFF;
            for from in 0..data.len() + 2 {
                let naive = data
                    .get(from..)
                    .and_then(|t| t.iter().position(|&b| b == 0xFF).map(|p| p + from));
                assert_eq!(find_ff(&data, from), naive, "ff at {i}, from {from}");
            }
        }
        // Bytes just below FF (borrow propagation) must never be reported.
        assert_eq!(
            find_ff(&[0x7F, 0x80, 0xFE, 0x00, 0x01, 0xFE, 0xFE, 0xFE, 0xFE], 0),
            None
        );
    }

    #[test]
    fn sampling_table() {
        let cases: &[(&[(u8, u8)], Sampling)] = &[
            (&[(1, 1)], Sampling::Gray),
            (&[(2, 1), (1, 1), (1, 1)], Sampling::Yuv422),
            (&[(2, 2), (1, 1), (1, 1)], Sampling::Yuv420),
            (&[(1, 1), (1, 1), (1, 1)], Sampling::Yuv444),
            (&[(2, 2), (2, 2), (2, 2)], Sampling::Yuv444),
            (&[(4, 2), (2, 2), (2, 2)], Sampling::Yuv422),
            (&[(1, 2), (1, 1), (1, 1)], Sampling::Other),
            (&[(2, 1), (1, 1), (2, 1)], Sampling::Other),
            (&[(3, 1), (2, 1), (2, 1)], Sampling::Other),
            (&[(1, 1), (1, 1), (1, 1), (1, 1)], Sampling::Other),
        ];
        for (factors, want) in cases {
            assert_eq!(sampling_of(factors, factors.len()), *want, "{factors:?}");
        }
    }
}
