//! The zune-jpeg backend: decode to interleaved full-resolution YCbCr (zune upsamples
//! subsampled chroma with a triangle filter), then average each pixel pair's chroma
//! while packing YUYV. Grayscale JPEGs decode to luma only; RGB, CMYK and YCCK JPEGs
//! (not made by cameras, but valid) decode to RGB and go through the JFIF matrix.
//!
//! Must not: allocate our scratch per frame (it only grows), or trust header sizes before
//! [`output_size`] has capped them (zune is also told the cap).

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::pack;
use super::{ensure_len, output_size, DecodeError, Decoder, Yuyv, MAX_DIMENSION};

fn options(out: ColorSpace) -> DecoderOptions {
    DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        // Live-view frames are often followed by padding inside their dataset and
        // sometimes end a few bytes short; decode what is there rather than drop the frame.
        .set_strict_mode(false)
        .jpeg_set_out_colorspace(out)
}

fn corrupt(e: zune_jpeg::errors::DecodeErrors) -> DecodeError {
    DecodeError::Corrupt(format!("{e:?}"))
}

impl Decoder {
    pub(super) fn decode_zune(&mut self, jpeg: &[u8], out: &mut Yuyv) -> Result<(), DecodeError> {
        if let Some(layout) = super::header::scan_layout(jpeg) {
            if layout.non_interleaved_vertical_subsampling() {
                // zune-jpeg 0.5.15 decodes these with zeroed or misplaced chroma and reports
                // success (zune-image issues #419/#422, fixed after 0.5.15). Cameras write
                // interleaved scans; refuse instead of showing garbage.
                return Err(DecodeError::Unsupported(
                    "jpeg with separate (non-interleaved) scans and vertically subsampled \
                     chroma is decoded wrongly by zune-jpeg 0.5.15; install libturbojpeg0 \
                     (libjpeg-turbo) to decode it"
                        .into(),
                ));
            }
        }
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(jpeg), options(ColorSpace::YCbCr));
        dec.decode_headers().map_err(corrupt)?;
        let (w, h) = dec
            .dimensions()
            .ok_or_else(|| DecodeError::Corrupt("no frame header".into()))?;
        let (out_w, out_h) = output_size(w, h)?;
        let input = dec
            .input_colorspace()
            .ok_or_else(|| DecodeError::Corrupt("no frame header".into()))?;

        let out_cs = match input {
            ColorSpace::YCbCr => ColorSpace::YCbCr,
            ColorSpace::Luma => ColorSpace::Luma,
            _ => ColorSpace::RGB,
        };
        if out_cs == ColorSpace::RGB {
            // zune picks its colour converter while parsing headers, so asking for RGB
            // now needs a fresh parse. Rare path (cameras write YCbCr).
            dec = JpegDecoder::new_with_options(ZCursor::new(jpeg), options(ColorSpace::RGB));
            dec.decode_headers().map_err(corrupt)?;
        } else {
            dec.set_options(options(out_cs));
        }
        let need = dec
            .output_buffer_size()
            .ok_or_else(|| DecodeError::Corrupt("frame size overflows".into()))?;
        ensure_len(&mut self.scratch, need);
        dec.decode_into(&mut self.scratch[..need])
            .map_err(corrupt)?;

        out.reshape(out_w, out_h);
        let (ow, oh) = (out_w as usize, out_h as usize);
        match out_cs {
            ColorSpace::YCbCr => {
                pack::pack_ycbcr444_interleaved(&self.scratch, w, ow, oh, &self.lut, &mut out.data)
            }
            ColorSpace::Luma => pack::pack_luma(&self.scratch, w, ow, oh, &self.lut, &mut out.data),
            _ => pack::pack_rgb(&self.scratch, w, ow, oh, &self.lut, &mut out.data),
        }
        Ok(())
    }
}
