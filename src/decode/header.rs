//! A minimal walk over JPEG marker segments up to the first scan, to learn the frame's
//! layout (sequential or progressive, sampling factors, components in the first scan)
//! before handing it to a backend that mishandles some layouts.
//!
//! Reads untrusted bytes: every index is checked, a malformed header yields `None` (the
//! backend then reports the real error). No allocation. Spec: ITU-T T.81 B.1.1 (markers),
//! B.2.2 (frame header), B.2.3 (scan header).

/// What the headers say about the first scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// SOF0/SOF1 (baseline or extended sequential Huffman).
    pub(crate) sequential: bool,
    pub(crate) components: u8,
    /// Some component has a smaller vertical sampling factor than the maximum.
    pub(crate) v_subsampled: bool,
    /// Components in the first scan (Ns).
    pub(crate) first_scan_components: u8,
}

impl Layout {
    pub(crate) fn non_interleaved_vertical_subsampling(&self) -> bool {
        self.sequential
            && self.components > 1
            && self.first_scan_components == 1
            && self.v_subsampled
    }
}

pub(crate) fn scan_layout(j: &[u8]) -> Option<Layout> {
    if j.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2usize;
    let mut frame: Option<(bool, u8, bool)> = None;
    loop {
        if *j.get(i)? != 0xFF {
            return None;
        }
        // fill bytes: any number of 0xFF before the marker code
        while *j.get(i + 1)? == 0xFF {
            i += 1;
        }
        let m = *j.get(i + 1)?;
        if m == 0x01 || (0xD0..=0xD7).contains(&m) {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([*j.get(i + 2)?, *j.get(i + 3)?]) as usize;
        if len < 2 {
            return None;
        }
        let seg = j.get(i + 4..i + 2 + len)?;
        match m {
            0xC0..=0xCF if m != 0xC4 && m != 0xC8 && m != 0xCC => {
                let n = *seg.get(5)?;
                let mut v = [0u8; 4];
                for (k, vk) in v.iter_mut().enumerate().take((n as usize).min(4)) {
                    *vk = *seg.get(6 + 3 * k + 1)? & 0x0F;
                }
                let used = &v[..(n as usize).min(4)];
                let v_max = used.iter().copied().max().unwrap_or(1);
                let sub = used.iter().any(|&x| x < v_max);
                frame = Some((m == 0xC0 || m == 0xC1, n, sub));
            }
            0xDA => {
                let (sequential, components, v_subsampled) = frame?;
                return Some(Layout {
                    sequential,
                    components,
                    v_subsampled,
                    first_scan_components: *seg.first()?,
                });
            }
            0xD9 => return None,
            _ => {}
        }
        i += 2 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, SOF0 (3 components with the given sampling bytes), SOS with `ns`.
    fn header(sof: u8, sampling: [u8; 3], ns: u8) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        v.extend_from_slice(&[0xFF, sof, 0x00, 17, 8, 0, 16, 0, 16, 3]);
        for (k, s) in sampling.iter().enumerate() {
            v.extend_from_slice(&[k as u8 + 1, *s, 0]);
        }
        v.extend_from_slice(&[0xFF, 0xFF, 0xDA, 0x00, 6 + 2 * ns, ns]);
        for k in 0..ns {
            v.extend_from_slice(&[k + 1, 0]);
        }
        v.extend_from_slice(&[0, 63, 0]);
        v
    }

    #[test]
    fn reads_layouts() {
        let l = scan_layout(&header(0xC0, [0x22, 0x11, 0x11], 1)).unwrap();
        assert!(l.non_interleaved_vertical_subsampling());
        let l = scan_layout(&header(0xC0, [0x22, 0x11, 0x11], 3)).unwrap();
        assert!(!l.non_interleaved_vertical_subsampling());
        // 4:2:2 non-interleaved: no vertical subsampling
        let l = scan_layout(&header(0xC0, [0x21, 0x11, 0x11], 1)).unwrap();
        assert!(!l.v_subsampled);
        // progressive is a different decoder path
        let l = scan_layout(&header(0xC2, [0x22, 0x11, 0x11], 1)).unwrap();
        assert!(!l.sequential);
    }

    #[test]
    fn malformed_headers_are_none_not_panics() {
        let full = header(0xC0, [0x22, 0x11, 0x11], 1);
        for cut in 0..full.len() {
            assert_eq!(scan_layout(&full[..cut]), None, "cut {cut}");
        }
        assert_eq!(scan_layout(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x01]), None);
        assert_eq!(scan_layout(b"not a jpeg"), None);
    }
}
