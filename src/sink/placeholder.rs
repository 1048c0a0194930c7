//! The picture a webcam shows while the camera is gone: the last good frame dimmed and
//! desaturated under a large "CAMERA RECONNECTING" banner, or, when there never was a
//! frame, a dark card with the same banner at 1024x680 (the common Sony live-view size,
//! so a later real frame usually needs no renegotiation).
//!
//! The pipeline writes these at a low rate so a video call never sees the device stop or
//! vanish. Text uses a built-in 5x7 bitmap font (no font crate, no files). Must not
//! allocate once warmed up: the output buffer is reused, resized only when the frame size
//! changes, and the card is drawn once and then returned as is. For `--format mjpeg`,
//! [`Placeholder::render_jpeg`] encodes the same picture (it allocates inside the JPEG
//! encoder, which is acceptable at a placeholder's low frame rate).

use crate::decode::Yuyv;
use crate::font::glyph;

use super::Picture;

/// Size of the card shown when no frame has been seen.
pub const DEFAULT_SIZE: (u32, u32) = (1024, 680);

/// The banner text.
pub const BANNER: &str = "CAMERA RECONNECTING";

// Limited-range YUYV levels.
const BLACK: u8 = 16;
const WHITE: u8 = 235;
const NEUTRAL: u8 = 128;
const CARD_Y: u8 = 40;
const BANNER_Y: u8 = 24;

/// Makes placeholder pictures, reusing one buffer.
#[derive(Debug)]
pub struct Placeholder {
    out: Yuyv,
    /// The buffer holds the no-frame card (so it can be returned without redrawing).
    card_ready: bool,
    dim_y: [u8; 256],
    dim_c: [u8; 256],
    /// Full-range interleaved YCbCr staging for the JPEG encoder.
    ycc: Vec<u8>,
    jpeg: Vec<u8>,
    /// `jpeg` holds the encoded card.
    jpeg_card_ready: bool,
    jpeg_size: (u32, u32),
    /// Size of the no-frame card: [`DEFAULT_SIZE`] until [`set_card_size`](Self::set_card_size).
    card_size: (u32, u32),
}

impl Default for Placeholder {
    fn default() -> Placeholder {
        Placeholder::new()
    }
}

impl Placeholder {
    /// A placeholder generator with nothing rendered yet.
    pub fn new() -> Placeholder {
        let mut dim_y = [0u8; 256];
        let mut dim_c = [0u8; 256];
        for v in 0..256i32 {
            // 40 % brightness above black, 50 % saturation: clearly "not live", still
            // recognisable.
            dim_y[v as usize] = (16 + (v - 16).max(0) * 2 / 5).clamp(16, 235) as u8;
            dim_c[v as usize] = (128 + (v - 128) / 2) as u8;
        }
        Placeholder {
            out: Yuyv::new(),
            card_ready: false,
            dim_y,
            dim_c,
            ycc: Vec::new(),
            jpeg: Vec::new(),
            jpeg_card_ready: false,
            jpeg_size: (0, 0),
            card_size: DEFAULT_SIZE,
        }
    }

    /// Draws the no-frame card at this size from now on: the size of the stream being
    /// passed through, so that a placeholder never asks the device for another size
    /// while a program is watching. Odd, empty or larger than 8K sizes are ignored.
    pub fn set_card_size(&mut self, width: u32, height: u32) {
        let usable =
            width >= 2 && width.is_multiple_of(2) && height >= 1 && width <= 7680 && height <= 4320;
        if usable && (width, height) != self.card_size {
            self.card_size = (width, height);
            self.card_ready = false;
            self.jpeg_card_ready = false;
        }
    }

    /// [`render`](Self::render) encoded as a baseline JPEG (4:2:2, quality 80), for
    /// sinks in MJPEG pass-through mode. `last` is the last good frame decoded once.
    pub fn render_jpeg(&mut self, last: Option<&Yuyv>) -> Result<Picture<'_>, super::SinkError> {
        let card = last.is_none();
        if !(card && self.jpeg_card_ready) {
            self.render(last);
            let (w, h) = (self.out.width, self.out.height);
            // JPEG stores full-range YCbCr: undo the limited-range mapping.
            self.ycc.clear();
            for px in self.out.data.chunks_exact(4) {
                let (cb, cr) = (full_c(px[1]), full_c(px[3]));
                self.ycc
                    .extend_from_slice(&[full_y(px[0]), cb, cr, full_y(px[2]), cb, cr]);
            }
            self.jpeg.clear();
            let mut enc = jpeg_encoder::Encoder::new(&mut self.jpeg, 80);
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_2);
            enc.encode(
                &self.ycc,
                u16::try_from(w).unwrap_or(u16::MAX),
                u16::try_from(h).unwrap_or(u16::MAX),
                jpeg_encoder::ColorType::Ycbcr,
            )
            .map_err(|e| super::SinkError::BadPicture(format!("placeholder jpeg: {e}")))?;
            self.jpeg_card_ready = card;
            self.jpeg_size = (w, h);
        }
        Ok(Picture::Jpeg {
            width: self.jpeg_size.0,
            height: self.jpeg_size.1,
            data: &self.jpeg,
        })
    }

    /// The placeholder for `last` (the last good frame), or the card when `None` or
    /// when `last` is malformed.
    pub fn render(&mut self, last: Option<&Yuyv>) -> &Yuyv {
        let usable = last.filter(|f| {
            f.width >= 2
                && f.height >= 1
                && f.width % 2 == 0
                && f.data.len() == f.width as usize * f.height as usize * 2
        });
        match usable {
            Some(frame) => {
                self.card_ready = false;
                self.out.reshape(frame.width, frame.height);
                for (d, s) in self
                    .out
                    .data
                    .chunks_exact_mut(2)
                    .zip(frame.data.chunks_exact(2))
                {
                    d[0] = self.dim_y[s[0] as usize];
                    d[1] = self.dim_c[s[1] as usize];
                }
                draw_banner(&mut self.out);
            }
            None if self.card_ready => {}
            None => {
                let (w, h) = self.card_size;
                self.out.reshape(w, h);
                for px in self.out.data.chunks_exact_mut(2) {
                    px[0] = CARD_Y;
                    px[1] = NEUTRAL;
                }
                draw_banner(&mut self.out);
                self.card_ready = true;
            }
        }
        &self.out
    }

    /// [`render`](Self::render) as a sink [`Picture`].
    pub fn picture(&mut self, last: Option<&Yuyv>) -> Picture<'_> {
        Picture::from_yuyv(self.render(last))
    }
}

fn full_y(v: u8) -> u8 {
    ((v.clamp(16, 235) as u32 - 16) * 255 / 219) as u8
}

fn full_c(v: u8) -> u8 {
    (128 + (v.clamp(16, 240) as i32 - 128) * 255 / 224).clamp(0, 255) as u8
}

/// A dark band across the middle with the banner text, as large as fits 80 % of the
/// width.
fn draw_banner(img: &mut Yuyv) {
    let (w, h) = (img.width as usize, img.height as usize);
    let chars = BANNER.chars().count();
    let text_cols = chars * 6 - 1; // 5 columns a glyph + 1 of spacing
    let scale = ((w * 4 / 5) / text_cols).clamp(1, (h / 12).max(1));
    let text_w = text_cols * scale;
    let text_h = 7 * scale;
    let pad = 2 * scale;
    let band_h = (text_h + 2 * pad).min(h);
    let band_top = (h - band_h) / 2;
    fill_rect(img, 0, band_top, w, band_h, BANNER_Y);
    let x0 = w.saturating_sub(text_w) / 2;
    let y0 = band_top + band_h.saturating_sub(text_h) / 2;
    draw_text(img, BANNER, x0, y0, scale, WHITE);
    // thin rules above and below the band
    if band_top > 0 {
        fill_rect(img, 0, band_top - 1, w, 1, BLACK);
    }
    if band_top + band_h < h {
        fill_rect(img, 0, band_top + band_h, w, 1, BLACK);
    }
}

/// Fills a rectangle with luma `y` and neutral chroma (clipped to the picture).
fn fill_rect(img: &mut Yuyv, x: usize, y: usize, rw: usize, rh: usize, luma: u8) {
    let (w, h) = (img.width as usize, img.height as usize);
    let stride = w * 2;
    let x_end = (x + rw).min(w);
    for row in y..(y + rh).min(h) {
        let line = &mut img.data[row * stride..(row + 1) * stride];
        for px in line[x * 2..x_end * 2].chunks_exact_mut(2) {
            px[0] = luma;
            px[1] = NEUTRAL;
        }
    }
}

/// Draws `text` in the 5x7 font, each font pixel a `scale`-square block of luma
/// (clipped to the picture). Chroma is left as is (the band is already neutral).
fn draw_text(img: &mut Yuyv, text: &str, x0: usize, y0: usize, scale: usize, luma: u8) {
    let (w, h) = (img.width as usize, img.height as usize);
    let stride = w * 2;
    for (i, ch) in text.chars().enumerate() {
        let g = glyph(ch);
        let gx = x0 + i * 6 * scale;
        for (gy, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                let px = gx + col * scale;
                let py = y0 + gy * scale;
                for yy in py..(py + scale).min(h) {
                    for xx in px..(px + scale).min(w) {
                        img.data[yy * stride + xx * 2] = luma;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the banner back: for each glyph cell, sample the centre of every font
    /// pixel and compare with the font. Proves the text is really there and legible.
    fn banner_matches_font(img: &Yuyv) -> bool {
        let (w, h) = (img.width as usize, img.height as usize);
        let text_cols = BANNER.len() * 6 - 1;
        let scale = ((w * 4 / 5) / text_cols).clamp(1, (h / 12).max(1));
        let text_h = 7 * scale;
        let pad = 2 * scale;
        let band_h = (text_h + 2 * pad).min(h);
        let band_top = (h - band_h) / 2;
        let x0 = w.saturating_sub(text_cols * scale) / 2;
        let y0 = band_top + pad;
        BANNER.chars().enumerate().all(|(i, c)| {
            let g = glyph(c);
            (0..7).all(|gy| {
                (0..5).all(|col| {
                    let x = x0 + i * 6 * scale + col * scale + scale / 2;
                    let y = y0 + gy * scale + scale / 2;
                    let lit = img.data[y * w * 2 + x * 2] == WHITE;
                    lit == (g[gy] & (0x10 >> col) != 0)
                })
            })
        })
    }

    #[test]
    fn card_without_a_frame_is_default_size_with_banner() {
        let mut p = Placeholder::new();
        let img = p.render(None).clone();
        assert_eq!((img.width, img.height), DEFAULT_SIZE);
        assert_eq!(img.data.len(), 1024 * 680 * 2);
        assert!(banner_matches_font(&img));
        // text is large: scale 7 at 1024 wide (49 px tall letters)
        assert_eq!((1024 * 4 / 5) / (BANNER.len() * 6 - 1), 7);
        // corners are the card colour, neutral chroma
        assert_eq!(&img.data[..4], &[CARD_Y, NEUTRAL, CARD_Y, NEUTRAL]);
        // every byte is limited range
        assert!(img.data.iter().all(|&v| (16..=240).contains(&v)));
    }

    #[test]
    fn last_frame_is_dimmed_and_keeps_its_size() {
        let (w, h) = (640u32, 424u32);
        let mut frame = Yuyv {
            width: w,
            height: h,
            data: vec![0; (w * h * 2) as usize],
        };
        for px in frame.data.chunks_exact_mut(4) {
            px.copy_from_slice(&[200, 60, 210, 200]);
        }
        let mut p = Placeholder::new();
        let img = p.render(Some(&frame)).clone();
        assert_eq!((img.width, img.height), (w, h));
        assert!(banner_matches_font(&img));
        // top-left is outside the band: dimmed luma, chroma pulled toward neutral
        let px = &img.data[..4];
        assert!(px[0] < 200 && px[0] > 16, "{px:?}");
        assert_eq!(px[1], (128 + (60 - 128) / 2) as u8);
        assert_eq!(px[3], (128 + (200 - 128) / 2) as u8);
    }

    #[test]
    fn malformed_last_frame_falls_back_to_the_card() {
        let bad = Yuyv {
            width: 640,
            height: 424,
            data: vec![0; 10],
        };
        let mut p = Placeholder::new();
        assert_eq!(
            (p.render(Some(&bad)).width, p.render(Some(&bad)).height),
            DEFAULT_SIZE
        );
    }

    #[test]
    fn tiny_frames_do_not_panic() {
        let mut p = Placeholder::new();
        for (w, h) in [(2u32, 1u32), (2, 2), (4, 7), (16, 12), (100, 2)] {
            let f = Yuyv {
                width: w,
                height: h,
                data: vec![128; (w * h * 2) as usize],
            };
            let img = p.render(Some(&f));
            assert_eq!(img.data.len(), (w * h * 2) as usize);
        }
    }

    #[test]
    fn the_card_takes_the_size_of_the_stream_passed_through() {
        let mut p = Placeholder::new();
        assert_eq!(p.render_jpeg(None).unwrap().width(), DEFAULT_SIZE.0);
        // The small live view passed through as MJPEG: the card follows it.
        p.set_card_size(640, 424);
        let pic = p.render_jpeg(None).unwrap();
        assert_eq!((pic.width(), pic.height()), (640, 424));
        let jpeg = pic.data().to_vec();
        let mut dec = crate::decode::Decoder::new(crate::decode::Backend::Zune);
        let mut got = Yuyv::new();
        dec.decode(&jpeg, &mut got).unwrap();
        assert_eq!((got.width, got.height), (640, 424));
        let y = p.render(None);
        assert_eq!((y.width, y.height), (640, 424));
        assert_eq!(y.data.len(), 640 * 424 * 2);
        // Sizes no device could take are ignored.
        for (w, h) in [(0, 424), (641, 424), (640, 0), (65_534, 65_535)] {
            p.set_card_size(w, h);
            assert_eq!(p.render(None).width, 640, "{w}x{h}");
        }
    }

    #[test]
    fn jpeg_placeholder_decodes_to_the_same_picture() {
        let mut p = Placeholder::new();
        let want = p.render(None).clone();
        let pic = p.render_jpeg(None).unwrap();
        assert_eq!((pic.width(), pic.height()), DEFAULT_SIZE);
        let jpeg = pic.data().to_vec();
        let mut dec = crate::decode::Decoder::new(crate::decode::Backend::Zune);
        let mut got = Yuyv::new();
        dec.decode(&jpeg, &mut got).unwrap();
        assert_eq!((got.width, got.height), DEFAULT_SIZE);
        // lossy, but the banner must survive: mean luma error small
        let err: u64 = got
            .data
            .iter()
            .zip(&want.data)
            .step_by(2)
            .map(|(a, b)| (*a as i64 - *b as i64).unsigned_abs())
            .sum();
        assert!(
            err / (1024 * 680) < 3,
            "mean luma error {}",
            err / (1024 * 680)
        );
        // the cached card is returned again without re-encoding
        let small = Yuyv {
            width: 64,
            height: 48,
            data: vec![100; 64 * 48 * 2],
        };
        p.render(Some(&small));
        let again = p.render_jpeg(None).unwrap();
        assert_eq!((again.width(), again.height()), DEFAULT_SIZE);
        assert_eq!(again.data(), &jpeg[..]);
        let dimmed = p.render_jpeg(Some(&small)).unwrap();
        assert_eq!((dimmed.width(), dimmed.height()), (64, 48));
    }

    #[test]
    fn buffer_is_reused_after_the_first_call() {
        let mut p = Placeholder::new();
        let ptr = p.render(None).data.as_ptr();
        let frame = Yuyv {
            width: 1024,
            height: 680,
            data: vec![90; 1024 * 680 * 2],
        };
        for _ in 0..3 {
            assert_eq!(p.render(Some(&frame)).data.as_ptr(), ptr);
            assert_eq!(p.render(None).data.as_ptr(), ptr);
        }
    }
}
