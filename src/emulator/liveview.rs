//! The live-view dataset a Sony body returns for GetObject(0xFFFFC002)
//! (docs/protocol/sony-usb.md#live-view-object): u32 image offset, u32 image size, u32
//! focal-frame offset, u32 focal-frame size, the focal-frame bytes, then the JPEG at the
//! image offset. The declared image size is padded (to a multiple of 128 by default, as
//! observed on an RX100M7) and the padding is junk that contains `FF D9` and `FF D8`, so a
//! host that trusts the declared size or scans naively for markers gets caught.
//!
//! Pure: builds bytes into a caller-owned buffer, no I/O.

use super::EmulatorError;

/// Where the focal-frame block starts and how long it is (observed values).
pub const FOCAL_OFFSET: u32 = 16;
/// Length of the focal-frame block.
pub const FOCAL_SIZE: u32 = 120;
/// The image offset bodies use (16-byte header + 120 bytes of focal-frame data).
pub const DEFAULT_IMAGE_OFFSET: u32 = FOCAL_OFFSET + FOCAL_SIZE;
/// Largest image offset accepted (keeps the header bounded).
pub const MAX_IMAGE_OFFSET: u32 = 64 * 1024;
/// Largest JPEG the emulator will wrap.
pub const MAX_JPEG: usize = 64 << 20;

/// Sizes that end exactly on 512-byte boundaries, for the short-packet/ZLP tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align512 {
    /// Declared image size rounded up to a multiple of 128 (what bodies do).
    #[default]
    Off,
    /// The whole data container (12-byte header + dataset) is a multiple of 512 bytes,
    /// so the transfer needs a zero-length packet.
    Container,
    /// The JPEG itself (SOI..EOI) is a multiple of 512 bytes (padded inside with a COM
    /// segment) and the declared image size equals it: no junk after EOI.
    Jpeg,
}

impl Align512 {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Align512::Off => 0,
            Align512::Container => 1,
            Align512::Jpeg => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Align512 {
        match v {
            1 => Align512::Container,
            2 => Align512::Jpeg,
            _ => Align512::Off,
        }
    }
}

/// How to lay out one dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the JPEG from the start of the dataset (≥ 136).
    pub image_offset: u32,
    /// Put `FF D8` (and `FF D9`) into the focal-frame data and the gap before the image.
    pub stray_soi: bool,
    /// How the image is placed against 512-byte boundaries.
    pub align: Align512,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            image_offset: DEFAULT_IMAGE_OFFSET,
            stray_soi: false,
            align: Align512::Off,
        }
    }
}

/// Deterministic junk (xorshift), so datasets are reproducible per frame index.
fn junk(seed: u64, out: &mut [u8]) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
}

/// Bytes of a COM segment that make a `jpeg_len`-byte JPEG a multiple of 512 bytes.
fn com_padding(jpeg_len: usize) -> usize {
    let mut pad = (512 - jpeg_len % 512) % 512;
    if pad != 0 && pad < 4 {
        // A COM segment is at least 4 bytes (marker + length).
        pad += 512;
    }
    pad
}

/// Appends the dataset for frame `index` to `out` (cleared first). Returns the declared
/// image size.
pub fn wrap(
    jpeg: &[u8],
    index: u64,
    layout: &Layout,
    out: &mut Vec<u8>,
) -> Result<u32, EmulatorError> {
    if jpeg.len() > MAX_JPEG {
        return Err(EmulatorError::Content(format!(
            "a {} byte live-view picture is larger than the {} byte limit",
            jpeg.len(),
            MAX_JPEG
        )));
    }
    let offset = layout
        .image_offset
        .clamp(DEFAULT_IMAGE_OFFSET, MAX_IMAGE_OFFSET) as usize;
    let has_soi = jpeg.len() >= 4 && jpeg[0] == 0xFF && jpeg[1] == 0xD8;
    let com = if layout.align == Align512::Jpeg && has_soi {
        com_padding(jpeg.len())
    } else {
        0
    };
    let image_len = jpeg.len() + com;
    let declared = match layout.align {
        Align512::Jpeg if has_soi => image_len,
        Align512::Container => {
            let min = image_len + 4;
            let total = 12 + offset + min;
            min + (512 - total % 512) % 512
        }
        _ => (image_len + 4).div_ceil(128) * 128,
    };

    out.clear();
    out.reserve(offset + declared);
    out.extend_from_slice(&(offset as u32).to_le_bytes());
    out.extend_from_slice(&(declared as u32).to_le_bytes());
    out.extend_from_slice(&FOCAL_OFFSET.to_le_bytes());
    out.extend_from_slice(&FOCAL_SIZE.to_le_bytes());
    // Focal-frame info: its format is not needed by a webcam; fill it with plausible
    // small numbers (frame count, a centred AF box) and zeros.
    let mut focal = [0u8; FOCAL_SIZE as usize];
    focal[0..2].copy_from_slice(&1u16.to_le_bytes());
    focal[4..8].copy_from_slice(&(index as u32).to_le_bytes());
    focal[8..16].copy_from_slice(&[0x40, 0x01, 0xF0, 0x00, 0x80, 0x02, 0xE0, 0x01]);
    if layout.stray_soi {
        focal[0..2].copy_from_slice(&[0xFF, 0xD8]);
        focal[20..22].copy_from_slice(&[0xFF, 0xD9]);
        focal[40..44].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    }
    out.extend_from_slice(&focal);
    // Anything between the focal block and the image is reserved.
    let gap_start = out.len();
    out.resize(offset, 0);
    if layout.stray_soi && offset - gap_start >= 2 {
        out[gap_start] = 0xFF;
        out[gap_start + 1] = 0xD8;
    }

    if com > 0 {
        out.extend_from_slice(&jpeg[..2]);
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((com - 2) as u16).to_be_bytes());
        let fill = b"alpha-bridge emulator padding ";
        out.extend(fill.iter().cycle().take(com - 4));
        out.extend_from_slice(&jpeg[2..]);
    } else {
        out.extend_from_slice(jpeg);
    }

    let pad = declared - image_len;
    let start = out.len();
    out.resize(start + pad, 0);
    let tail = &mut out[start..];
    junk(index, tail);
    if pad >= 4 {
        // The first junk byte is never 0xFF, so the real EOI is not extended into a
        // fill sequence (FF FF D9) that some scanners would accept.
        tail[0] = 0x00;
        let mid = pad / 2;
        tail[mid - 1] = 0xFF;
        tail[mid] = 0xD8;
        tail[pad - 2] = 0xFF;
        tail[pad - 1] = 0xD9;
    }
    Ok(declared as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_jpeg(len: usize) -> Vec<u8> {
        let mut j = vec![0x11u8; len];
        j[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB]);
        j[len - 2..].copy_from_slice(&[0xFF, 0xD9]);
        j
    }

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    #[test]
    fn default_layout_matches_the_rx100m7_observations() {
        for len in [100usize, 38769, 38863, 4096, 4093] {
            let jpeg = fake_jpeg(len);
            let mut out = Vec::new();
            let declared = wrap(&jpeg, 7, &Layout::default(), &mut out).unwrap() as usize;
            assert_eq!(u32_at(&out, 0), 136);
            assert_eq!(u32_at(&out, 4) as usize, declared);
            assert_eq!((u32_at(&out, 8), u32_at(&out, 12)), (16, 120));
            assert_eq!(declared % 128, 0);
            assert!(declared >= len + 4);
            assert_eq!(out.len(), 136 + declared);
            assert_eq!(&out[136..136 + len], &jpeg[..]);
            let junk = &out[136 + len..];
            assert!(junk.windows(2).any(|w| w == [0xFF, 0xD9]), "junk has EOI");
            assert!(junk.windows(2).any(|w| w == [0xFF, 0xD8]), "junk has SOI");
            assert!(!out[..136].windows(2).any(|w| w == [0xFF, 0xD8]));
        }
        // The observed frame: 38769-byte JPEG declared as 38784 (15 bytes of junk).
        let mut out = Vec::new();
        assert_eq!(
            wrap(&fake_jpeg(38769), 0, &Layout::default(), &mut out).unwrap(),
            38784
        );
    }

    #[test]
    fn stray_soi_and_bigger_offsets() {
        let jpeg = fake_jpeg(1000);
        let layout = Layout {
            image_offset: 200,
            stray_soi: true,
            ..Layout::default()
        };
        let mut out = Vec::new();
        wrap(&jpeg, 1, &layout, &mut out).unwrap();
        assert_eq!(u32_at(&out, 0), 200);
        assert_eq!(&out[16..18], &[0xFF, 0xD8], "stray SOI first in focal data");
        assert_eq!(&out[136..138], &[0xFF, 0xD8], "stray SOI in the gap");
        assert_eq!(&out[200..1200], &jpeg[..]);
    }

    #[test]
    fn alignment_to_512() {
        for len in [500usize, 509, 510, 511, 512, 513, 38769] {
            let jpeg = fake_jpeg(len);
            let mut out = Vec::new();
            let layout = Layout {
                align: Align512::Container,
                ..Layout::default()
            };
            wrap(&jpeg, 2, &layout, &mut out).unwrap();
            assert_eq!((12 + out.len()) % 512, 0, "container {len}");
            assert_eq!(&out[136..136 + len], &jpeg[..]);

            let layout = Layout {
                align: Align512::Jpeg,
                ..Layout::default()
            };
            let declared = wrap(&jpeg, 2, &layout, &mut out).unwrap() as usize;
            assert_eq!(declared % 512, 0, "jpeg {len}");
            assert_eq!(out.len(), 136 + declared);
            let img = &out[136..];
            if len % 512 == 0 {
                assert_eq!(img, &jpeg[..], "already aligned, no COM");
                continue;
            }
            assert_eq!(&img[..4], &[0xFF, 0xD8, 0xFF, 0xFE]);
            let com = u16::from_be_bytes([img[4], img[5]]) as usize;
            assert_eq!(&img[4 + com..], &jpeg[2..], "jpeg {len}");
        }
    }

    #[test]
    fn oversized_pictures_are_refused() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_JPEG + 1];
        assert!(wrap(&big, 0, &Layout::default(), &mut out).is_err());
    }
}
