//! The libjpeg-turbo backend (loaded at run time, see `tjlib`): decompress to planar YUV
//! at the coded chroma resolution (no colour conversion), then pack YUYV, filtering chroma
//! so the picture matches the zune-jpeg path (see `pack::pack_planar`).
//!
//! Must not: hand libjpeg-turbo a buffer sized from an unchecked header (sizes pass
//! [`output_size`] first), or treat a TurboJPEG error as fatal for the decoder. JPEGs
//! libjpeg-turbo cannot decompress to YUV (RGB, CMYK, unusual sampling factors) fall back
//! to the zune-jpeg path for that frame.

use super::pack::{self, Plane};
use super::tjlib::{self, Decompressor, Subsamp};
use super::{ensure_len, output_size, DecodeError, Decoder, Yuyv};

impl Decoder {
    pub(super) fn decode_turbo(&mut self, jpeg: &[u8], out: &mut Yuyv) -> Result<(), DecodeError> {
        if self.turbo.is_none() {
            let Some(lib) = tjlib::lib() else {
                return self.decode_zune(jpeg, out);
            };
            self.turbo = Some(Decompressor::new(lib).map_err(DecodeError::Corrupt)?);
        }
        let Some(tj) = self.turbo.as_mut() else {
            return Err(DecodeError::Corrupt("libjpeg-turbo init failed".into()));
        };
        let header = tj.read_header(jpeg).map_err(DecodeError::Corrupt)?;
        let (out_w, out_h) = output_size(header.width, header.height)?;
        let Some(subsamp) = header.subsamp.filter(|_| header.ycc) else {
            return self.decode_zune(jpeg, out);
        };
        let (sx, sy) = subsamp.factors();
        let (yw, yh) = tj.plane_size(0, &header, subsamp);
        let (cw, ch) = if sx == 0 {
            (0, 0)
        } else {
            tj.plane_size(1, &header, subsamp)
        };
        let need = yw * yh + 2 * cw * ch;
        ensure_len(&mut self.scratch, need);
        tj.decompress_to_yuv(jpeg, &header, subsamp, &mut self.scratch[..need])
            .map_err(DecodeError::Corrupt)?;

        out.reshape(out_w, out_h);
        let (ow, oh) = (out_w as usize, out_h as usize);
        let (y, rest) = self.scratch[..need].split_at(yw * yh);
        if subsamp == Subsamp::Gray {
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
