//! The libjpeg-turbo backend (cargo feature `turbojpeg`): decompress to planar YUV at the
//! coded chroma resolution (no colour conversion), then pack YUYV, filtering chroma so the
//! picture matches the zune-jpeg path (see `pack::pack_planar`).
//!
//! Must not: hand libjpeg-turbo a buffer sized from an unchecked header (sizes pass
//! [`output_size`] first), or treat a TurboJPEG error as fatal for the decoder. JPEGs
//! libjpeg-turbo cannot decompress to YUV (RGB, CMYK, unusual sampling factors) fall back
//! to the zune-jpeg path for that frame.

use turbojpeg::{Colorspace, Decompressor, Subsamp, YuvImage};

use super::pack::{self, Plane};
use super::{ensure_len, output_size, DecodeError, Decoder, Yuyv};

impl Decoder {
    pub(super) fn decode_turbo(&mut self, jpeg: &[u8], out: &mut Yuyv) -> Result<(), DecodeError> {
        if self.turbo.is_none() {
            let d = Decompressor::new()
                .map_err(|e| DecodeError::Corrupt(format!("libjpeg-turbo init: {e}")))?;
            self.turbo = Some(d);
        }
        let Some(tj) = self.turbo.as_mut() else {
            return Err(DecodeError::Corrupt("libjpeg-turbo init failed".into()));
        };
        let header = match tj.read_header(jpeg) {
            Ok(h) => h,
            Err(turbojpeg::Error::BadSubsamp(_)) | Err(turbojpeg::Error::BadColorspace(_)) => {
                return self.decode_zune(jpeg, out)
            }
            Err(e) => return Err(DecodeError::Corrupt(e.to_string())),
        };
        let (out_w, out_h) = output_size(header.width, header.height)?;
        if !matches!(header.colorspace, Colorspace::YCbCr | Colorspace::Gray) {
            return self.decode_zune(jpeg, out);
        }
        let (sx, sy) = match header.subsamp {
            Subsamp::None => (1, 1),
            Subsamp::Sub2x1 => (2, 1),
            Subsamp::Sub2x2 => (2, 2),
            Subsamp::Sub1x2 => (1, 2),
            Subsamp::Sub4x1 => (4, 1),
            Subsamp::Gray => (0, 0),
        };
        let img = YuvImage {
            pixels: (),
            width: header.width,
            align: 1,
            height: header.height,
            subsamp: header.subsamp,
        };
        let (yw, yh) = img.y_size();
        let (cw, ch) = if sx == 0 { (0, 0) } else { img.uv_size() };
        let need = yw * yh + 2 * cw * ch;
        ensure_len(&mut self.scratch, need);
        let target = YuvImage {
            pixels: &mut self.scratch[..need],
            width: header.width,
            align: 1,
            height: header.height,
            subsamp: header.subsamp,
        };
        tj.decompress_to_yuv(jpeg, target)
            .map_err(|e| DecodeError::Corrupt(e.to_string()))?;

        out.reshape(out_w, out_h);
        let (ow, oh) = (out_w as usize, out_h as usize);
        let (y, rest) = self.scratch[..need].split_at(yw * yh);
        if sx == 0 {
            pack::pack_luma(y, yw, ow, oh, &self.lut, &mut out.data);
            return Ok(());
        }
        let (cb, cr) = rest.split_at(cw * ch);
        if self.rows.len() < 2 * (cw + 2) {
            self.rows.resize(2 * (cw + 2), 0);
        }
        pack::pack_planar(
            Plane {
                data: y,
                stride: yw,
                rows: yh,
            },
            Plane {
                data: cb,
                stride: cw,
                rows: ch,
            },
            Plane {
                data: cr,
                stride: cw,
                rows: ch,
            },
            sx,
            sy,
            ow,
            oh,
            &self.lut,
            &mut self.rows[..2 * (cw + 2)],
            &mut out.data,
        );
        Ok(())
    }
}
