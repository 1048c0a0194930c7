//! A moving test card rendered as baseline 4:2:2 JPEG, the picture the emulated body
//! sends as live view (docs/protocol/sony-usb.md#frame-size: 1024×680 4:2:2 is what most
//! Alpha bodies send).
//!
//! The card has colour bars and a grey ramp, a square that moves with the frame index,
//! a large seven-segment frame counter for people, and a machine-readable counter for
//! tests: a strip of black/white cells along the bottom edge (2 guard cells, 24 data bits,
//! an 8-bit check) aligned to the 8×8 JPEG block grid so it survives compression,
//! chroma subsampling and YUYV conversion. [`read_counter_luma`] and
//! [`read_counter_yuyv`] read it back from a decoded picture.
//!
//! It shows the body's settings ([`Look`]): exposure compensation changes the
//! brightness, the white balance the tint, the zoom the framing; a focus box marks the AF
//! point; a line of text at the top prints the settings. Settings change the background,
//! which is rendered again only when they change; the focus box is drawn per frame.
//!
//! The card is drawn straight in YCbCr (no RGB conversion per frame) over a background
//! rendered once, and the encoder output buffer is reused, so a frame costs one copy of
//! the background, a few rectangles and the JPEG encode. It does no I/O.

use super::{EmulatorError, FrameContent};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// Default live-view size of most Alpha bodies.
pub const DEFAULT_WIDTH: u32 = 1024;
/// Height of the test card unless asked otherwise.
pub const DEFAULT_HEIGHT: u32 = 680;
/// Default JPEG quality.
pub const DEFAULT_QUALITY: u8 = 80;

/// Cells in the counter strip: white guard, black guard, 24 data bits, 8 check bits.
const CELLS: u32 = 34;
const DATA_BITS: u32 = 24;
/// Largest picture the card renders (keeps the buffers bounded).
const MAX_SIDE: u32 = 8192;
/// Smallest width that still fits the counter strip with 8-pixel cells.
const MIN_WIDTH: u32 = CELLS * 8;
const MIN_HEIGHT: u32 = 64;

/// Where the counter strip lies in a `width`×`height` picture (same for writer and readers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Strip {
    x0: u32,
    y0: u32,
    cell_w: u32,
    cell_h: u32,
}

fn strip(width: u32, height: u32) -> Option<Strip> {
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return None;
    }
    // Cells on the 8-pixel block grid: edges then fall on DCT block borders, so JPEG
    // ringing stays outside the cells' centres.
    let cell_w = (width / CELLS / 8 * 8).max(8);
    let cell_h = cell_w.clamp(8, (height / 8 / 8 * 8).max(8));
    let x0 = ((width - CELLS * cell_w) / 2) / 8 * 8;
    let y0 = (height - cell_h) / 8 * 8;
    Some(Strip {
        x0,
        y0,
        cell_w,
        cell_h,
    })
}

/// An 8-bit check over the 24-bit counter, so a picture that is not a test card (or a
/// damaged strip) reads as `None` instead of a wrong number.
fn check_byte(v: u32) -> u8 {
    let b = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
    // CRC-8, polynomial 0x07.
    let mut crc = 0u8;
    for byte in b {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc ^ 0x55
}

/// The 34 cell values (true = white) that encode `counter` (its low 24 bits).
fn cells_for(counter: u32) -> [bool; CELLS as usize] {
    let v = counter & 0xFF_FFFF;
    let check = check_byte(v) as u32;
    let mut c = [false; CELLS as usize];
    c[0] = true;
    c[1] = false;
    for i in 0..DATA_BITS {
        c[2 + i as usize] = (v >> (DATA_BITS - 1 - i)) & 1 == 1;
    }
    for i in 0..8 {
        c[2 + DATA_BITS as usize + i as usize] = (check >> (7 - i)) & 1 == 1;
    }
    c
}

/// Reads the counter through `luma(x, y)`; `None` if the strip is absent or damaged.
fn read_counter_with(width: u32, height: u32, luma: impl Fn(u32, u32) -> u8) -> Option<u32> {
    let s = strip(width, height)?;
    // Mean of the central half of each cell.
    let mean = |cell: u32| -> u32 {
        let (qw, qh) = ((s.cell_w / 4).max(1), (s.cell_h / 4).max(1));
        let x_start = s.x0 + cell * s.cell_w + qw;
        let y_start = s.y0 + qh;
        let (mut sum, mut n) = (0u32, 0u32);
        for y in y_start..y_start + 2 * qh {
            for x in x_start..x_start + 2 * qw {
                sum += luma(x, y) as u32;
                n += 1;
            }
        }
        sum / n.max(1)
    };
    let (white, black) = (mean(0), mean(1));
    if white < black + 64 {
        return None;
    }
    let threshold = (white + black) / 2;
    let mut bits = 0u64;
    for cell in 2..CELLS {
        bits = (bits << 1) | (mean(cell) > threshold) as u64;
    }
    let value = (bits >> 8) as u32;
    let check = (bits & 0xFF) as u8;
    (check == check_byte(value)).then_some(value)
}

/// Reads the machine-readable counter from an 8-bit luma plane (`width` bytes per row).
pub fn read_counter_luma(data: &[u8], width: u32, height: u32) -> Option<u32> {
    let need = (width as usize).checked_mul(height as usize)?;
    if data.len() < need {
        return None;
    }
    read_counter_with(width, height, |x, y| {
        data[y as usize * width as usize + x as usize]
    })
}

/// Reads the machine-readable counter from packed YUYV (4:2:2, `2 * width` bytes per row,
/// luma at even bytes), the format the webcam path writes to v4l2loopback.
pub fn read_counter_yuyv(data: &[u8], width: u32, height: u32) -> Option<u32> {
    let need = (width as usize)
        .checked_mul(height as usize)?
        .checked_mul(2)?;
    if data.len() < need {
        return None;
    }
    read_counter_with(width, height, |x, y| {
        data[2 * (y as usize * width as usize + x as usize)]
    })
}

/// One YCbCr pixel (full range, as JFIF).
type Ycc = [u8; 3];

fn rgb_to_ycc(r: u8, g: u8, b: u8) -> Ycc {
    let (r, g, b) = (r as f32, g as f32, b as f32);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    let c = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [c(y), c(cb), c(cr)]
}

const WHITE: Ycc = [255, 128, 128];
const BLACK: Ycc = [0, 128, 128];

/// Segments a..g of each digit (bit 0 = a, top; clockwise; g = middle).
const SEGMENTS: [u8; 10] = [
    0b011_1111, 0b000_0110, 0b101_1011, 0b100_1111, 0b110_0110, 0b110_1101, 0b111_1101, 0b000_0111,
    0b111_1111, 0b110_1111,
];

/// What the body's settings do to the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// Exposure compensation × 1000 (each EV doubles or halves the luma… about).
    pub ev_milli: i32,
    /// The colour temperature the body corrects for; the scene is lit at 5500 K, so a
    /// higher setting warms the picture and a lower one cools it.
    pub kelvin: u16,
    /// Magnification × 10 (10 = no zoom), about the picture's centre.
    pub zoom_tenths: u16,
    /// The focus box, at a point of the 640×480 AF grid.
    pub af_box: Option<(u16, u16)>,
    /// The settings line(s) printed at the top ('\n' separates lines).
    pub text: String,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            ev_milli: 0,
            kelvin: NEUTRAL_KELVIN,
            zoom_tenths: 10,
            af_box: None,
            text: String::new(),
        }
    }
}

impl Look {
    /// Whether the background differs (everything but the focus box).
    fn same_background(&self, o: &Look) -> bool {
        (self.ev_milli, self.kelvin, self.zoom_tenths, &self.text)
            == (o.ev_milli, o.kelvin, o.zoom_tenths, &o.text)
    }
}

/// The scene's light: a body set to this shows no tint.
const NEUTRAL_KELVIN: u16 = 5500;
/// The focus box colour (bright green: far from every colour of the card).
const FOCUS_GREEN: Ycc = [150, 44, 21];

/// Where the focus box for AF point `(x, y)` (640×480 grid) lies in a `w`×`h` picture:
/// (left, top, side width, side height, line thickness).
pub fn focus_box(w: u32, h: u32, x: u16, y: u16) -> (u32, u32, u32, u32, u32) {
    let (bw, bh) = ((w / 8).max(8), (h / 8).max(8));
    let cx = x as u32 * w / 640;
    let cy = y as u32 * h / 480;
    let left = cx.saturating_sub(bw / 2).min(w.saturating_sub(bw));
    let top = cy.saturating_sub(bh / 2).min(h.saturating_sub(bh));
    (left, top, bw, bh, (w / 256).max(2))
}

/// The test card renderer and JPEG encoder, with its buffers.
pub struct TestCard {
    width: u32,
    height: u32,
    quality: u8,
    look: Look,
    background: Vec<u8>,
    canvas: Vec<u8>,
    row: Vec<u8>,
    jpeg: Vec<u8>,
}

impl std::fmt::Debug for TestCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCard")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("quality", &self.quality)
            .finish()
    }
}

impl TestCard {
    /// A card of `width`×`height` (at least 272×64, at most 8192×8192).
    pub fn new(width: u32, height: u32) -> Result<TestCard, EmulatorError> {
        let mut card = TestCard {
            width: 0,
            height: 0,
            quality: DEFAULT_QUALITY,
            look: Look::default(),
            background: Vec::new(),
            canvas: Vec::new(),
            row: Vec::new(),
            jpeg: Vec::new(),
        };
        card.resize(width, height)?;
        Ok(card)
    }

    /// A card at the default 1024×680.
    pub fn default_size() -> TestCard {
        // The default size is within the limits, so this cannot fail.
        TestCard::new(DEFAULT_WIDTH, DEFAULT_HEIGHT).unwrap_or_else(|_| unreachable!())
    }

    /// JPEG quality 1..=100 (80 by default).
    pub fn set_quality(&mut self, quality: u8) {
        self.quality = quality.clamp(1, 100);
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Changes the picture size; the next frame has the new size.
    pub fn resize(&mut self, width: u32, height: u32) -> Result<(), EmulatorError> {
        if !(MIN_WIDTH..=MAX_SIDE).contains(&width) || !(MIN_HEIGHT..=MAX_SIDE).contains(&height) {
            return Err(EmulatorError::Content(format!(
                "test card size {width}x{height} is outside {MIN_WIDTH}x{MIN_HEIGHT}..{MAX_SIDE}x{MAX_SIDE}"
            )));
        }
        if (width, height) == (self.width, self.height) {
            return Ok(());
        }
        self.width = width;
        self.height = height;
        self.render_background();
        self.canvas = self.background.clone();
        Ok(())
    }

    /// Takes the body's settings; the background is rendered again only when they
    /// change.
    pub fn set_look(&mut self, look: &Look) {
        if look == &self.look {
            return;
        }
        let redraw = !look.same_background(&self.look);
        self.look = look.clone();
        if redraw && self.width > 0 {
            self.render_background();
        }
    }

    /// The settings the card shows now.
    pub fn look(&self) -> &Look {
        &self.look
    }

    fn render_background(&mut self) {
        let (w, h) = (self.width as usize, self.height as usize);
        self.background = vec![0u8; w * h * 3];
        let look = &self.look;
        // Exposure: luma gain of 2^(EV/2), so ±3 EV stays readable.
        let gain = 2f32.powf(look.ev_milli as f32 / 2000.0);
        // Tint: 1.5 chroma levels per 100 K away from the scene's light.
        let tint = (look.kelvin as f32 - NEUTRAL_KELVIN as f32) / 100.0 * 1.5;
        let zoom = look.zoom_tenths.max(10) as usize;
        // Tone curves as tables, so the per-pixel work is integer only (this runs again
        // whenever a setting changes, inside a live-view answer).
        let lut = |f: &dyn Fn(f32) -> f32| -> [u8; 256] {
            let mut t = [0u8; 256];
            for (i, v) in t.iter_mut().enumerate() {
                *v = f(i as f32).round().clamp(0.0, 255.0) as u8;
            }
            t
        };
        let (ty, tcb, tcr) = (lut(&|v| v * gain), lut(&|v| v - tint), lut(&|v| v + tint));
        let tone = |c: Ycc| -> Ycc { [ty[c[0] as usize], tcb[c[1] as usize], tcr[c[2] as usize]] };
        let bars: [Ycc; 8] = [
            rgb_to_ycc(235, 235, 235),
            rgb_to_ycc(235, 235, 16),
            rgb_to_ycc(16, 235, 235),
            rgb_to_ycc(16, 235, 16),
            rgb_to_ycc(235, 16, 235),
            rgb_to_ycc(235, 16, 16),
            rgb_to_ycc(16, 16, 235),
            rgb_to_ycc(16, 16, 16),
        ];
        let bar_rows = h * 2 / 3;
        // Zoom: each pixel shows the scene point (centre + offset / zoom).
        let at = |p: usize, n: usize| -> usize {
            if zoom == 10 {
                return p;
            }
            let off = (p as isize - (n / 2) as isize) * 10 / zoom as isize;
            ((n / 2) as isize + off).clamp(0, n as isize - 1) as usize
        };
        let sxs: Vec<usize> = (0..w).map(|x| at(x, w)).collect();
        // The bars depend on the column only: one row, copied.
        let bar_row: Vec<u8> = sxs.iter().flat_map(|&sx| tone(bars[sx * 8 / w])).collect();
        // The ramp (a grey ramp with a faint colour sweep, so chroma is exercised too):
        // RGB (v, v/2 + t/2, 255 - v) with v from the column and t from the row, so its
        // YCbCr (linear in RGB) is a column part plus a row part, in 1/1024 units.
        let ramp_col: Vec<[i32; 3]> = sxs
            .iter()
            .map(|&sx| {
                let v = (sx * 255 / w.max(2)) as i32;
                let (r, g, b) = (v, v / 2, 255 - v);
                [
                    306 * r + 601 * g + 117 * b,
                    -173 * r - 339 * g + 512 * b,
                    512 * r - 429 * g - 83 * b,
                ]
            })
            .collect();
        for y in 0..h {
            let sy = at(y, h);
            let row = &mut self.background[y * w * 3..(y + 1) * w * 3];
            if sy < bar_rows {
                row.copy_from_slice(&bar_row);
                continue;
            }
            let g = (((sy - bar_rows) * 255 / (h - bar_rows).max(1)) / 2) as i32;
            let row_part = [601 * g, -339 * g, -429 * g];
            for (px, c) in row.chunks_exact_mut(3).zip(&ramp_col) {
                let ch = |i: usize, base: i32| {
                    ((c[i] + row_part[i] + base + 512) >> 10).clamp(0, 255) as u8
                };
                px.copy_from_slice(&tone([ch(0, 0), ch(1, 128 << 10), ch(2, 128 << 10)]));
            }
        }
        if !self.look.text.is_empty() {
            // The settings, white on a black band at the top.
            self.canvas = std::mem::take(&mut self.background);
            self.draw_text();
            self.background = self.canvas.clone();
        }
    }

    /// Pixel size of the settings text for this picture.
    fn text_scale(&self) -> u32 {
        let longest = self
            .look
            .text
            .lines()
            .map(|l| l.chars().count() as u32)
            .max()
            .unwrap_or(0)
            .max(1);
        (self.height / 200)
            .min(self.width / (longest * 6 + 2))
            .max(1)
    }

    fn draw_text(&mut self) {
        let s = self.text_scale();
        let lines: Vec<String> = self.look.text.lines().map(str::to_string).collect();
        let band = lines.len() as u32 * 8 * s + 2 * s;
        self.fill(0, 0, self.width, band, BLACK);
        for (row, line) in lines.iter().enumerate() {
            let y0 = s + row as u32 * 8 * s;
            for (i, ch) in line.chars().enumerate() {
                let x0 = s + i as u32 * 6 * s;
                if x0 + 5 * s > self.width {
                    break;
                }
                for (gy, bits) in crate::font::glyph(ch).iter().enumerate() {
                    for gx in 0..5 {
                        if bits & (0x10 >> gx) != 0 {
                            self.fill(x0 + gx * s, y0 + gy as u32 * s, s, s, WHITE);
                        }
                    }
                }
            }
        }
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, c: Ycc) {
        let x = x.min(self.width) as usize;
        let x1 = (x as u32 + w).min(self.width) as usize;
        let y1 = (y + h).min(self.height) as usize;
        if x1 <= x {
            return;
        }
        // One row of the colour, then whole-row copies: a memcpy per row keeps even
        // unoptimised (debug) builds fast.
        self.row.clear();
        for _ in x..x1 {
            self.row.extend_from_slice(&c);
        }
        let stride = self.width as usize * 3;
        for r in y as usize..y1 {
            self.canvas[r * stride + x * 3..r * stride + x1 * 3].copy_from_slice(&self.row);
        }
    }

    fn draw_digit(&mut self, x: u32, y: u32, dw: u32, dh: u32, digit: usize) {
        let t = (dh / 10).max(2);
        let half = dh / 2;
        let segs = SEGMENTS[digit % 10];
        let rects = [
            (x, y, dw, t),                        // a
            (x + dw - t, y, t, half),             // b
            (x + dw - t, y + half, t, dh - half), // c
            (x, y + dh - t, dw, t),               // d
            (x, y + half, t, dh - half),          // e
            (x, y, t, half),                      // f
            (x, y + half - t / 2, dw, t),         // g
        ];
        for (i, r) in rects.iter().enumerate() {
            if segs & (1 << i) != 0 {
                self.fill(r.0, r.1, r.2, r.3, WHITE);
            }
        }
    }

    /// Draws frame `index` into the canvas (YCbCr 4:4:4, interleaved).
    fn render(&mut self, index: u64) {
        self.canvas.copy_from_slice(&self.background);
        let (w, h) = (self.width, self.height);

        // The moving square: crosses the ramp area left to right, bouncing.
        let side = (h / 8).max(8);
        let span = (w - side) as u64;
        let step = (index * 8) % (2 * span.max(1));
        let sx = if step < span { step } else { 2 * span - step } as u32;
        let sy = h * 2 / 3 + (h / 3).saturating_sub(side) / 4;
        self.fill(sx, sy, side, side, rgb_to_ycc(255, 140, 0));

        // The large counter: at least six digits.
        let text = format!("{index:06}");
        let dh = h / 4;
        let dw = dh / 2;
        let gap = dw / 4;
        let n = text.len() as u32;
        let total = n * dw + (n - 1) * gap;
        let x0 = w.saturating_sub(total) / 2;
        let y0 = h / 8;
        let pad = gap;
        self.fill(
            x0.saturating_sub(pad),
            y0.saturating_sub(pad),
            total + 2 * pad,
            dh + 2 * pad,
            BLACK,
        );
        for (i, ch) in text.bytes().enumerate() {
            let x = x0 + i as u32 * (dw + gap);
            if x + dw <= w {
                self.draw_digit(x, y0, dw, dh, (ch - b'0') as usize);
            }
        }

        // The focus box at the AF point.
        if let Some((fx, fy)) = self.look.af_box {
            let (l, t, bw, bh, th) = focus_box(w, h, fx, fy);
            self.fill(l, t, bw, th, FOCUS_GREEN);
            self.fill(l, t + bh - th, bw, th, FOCUS_GREEN);
            self.fill(l, t, th, bh, FOCUS_GREEN);
            self.fill(l + bw - th, t, th, bh, FOCUS_GREEN);
        }

        // The machine-readable strip, on a black band so its edges are clean.
        if let Some(s) = strip(w, h) {
            self.fill(0, s.y0, w, s.cell_h, BLACK);
            for (i, white) in cells_for(index as u32).into_iter().enumerate() {
                if white {
                    self.fill(s.x0 + i as u32 * s.cell_w, s.y0, s.cell_w, s.cell_h, WHITE);
                }
            }
        }
    }

    /// Renders and encodes frame `index`; the JPEG stays valid until the next call.
    pub fn frame(&mut self, index: u64) -> Result<&[u8], EmulatorError> {
        self.render(index);
        self.jpeg.clear();
        let mut enc = Encoder::new(&mut self.jpeg, self.quality);
        enc.set_sampling_factor(SamplingFactor::R_4_2_2);
        // Sizes are capped at 8192 in `resize`, so they fit u16.
        enc.encode(
            &self.canvas,
            self.width as u16,
            self.height as u16,
            ColorType::Ycbcr,
        )
        .map_err(|e| EmulatorError::Content(format!("test card jpeg encoding failed: {e}")))?;
        Ok(&self.jpeg)
    }
}

impl FrameContent for TestCard {
    fn next_jpeg(&mut self, index: u64) -> Result<&[u8], EmulatorError> {
        self.frame(index)
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn set_size(&mut self, width: u32, height: u32) -> Result<(), EmulatorError> {
        self.resize(width, height)
    }

    fn set_look(&mut self, look: &Look) {
        TestCard::set_look(self, look)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::JpegDecoder;

    fn decode(jpeg: &[u8], cs: ColorSpace) -> (Vec<u8>, u32, u32) {
        let opts = DecoderOptions::default().jpeg_set_out_colorspace(cs);
        let mut d = JpegDecoder::new_with_options(std::io::Cursor::new(jpeg), opts);
        let pixels = d.decode().expect("decodes");
        let info = d.info().expect("info");
        (pixels, info.width as u32, info.height as u32)
    }

    /// SOF0 fields: (baseline, width, height, luma sampling factors).
    fn sof0(jpeg: &[u8]) -> Option<(u32, u32, u8)> {
        let mut i = 2;
        while i + 4 <= jpeg.len() {
            let marker = jpeg[i + 1];
            let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
            if marker == 0xC0 {
                let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]) as u32;
                let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]) as u32;
                return Some((w, h, jpeg[i + 11]));
            }
            if marker == 0xDA {
                return None;
            }
            i += 2 + len;
        }
        None
    }

    #[test]
    fn counter_survives_jpeg_and_reads_from_luma_and_yuyv() {
        let mut card = TestCard::default_size();
        let counters = [
            0u64, 1, 2, 7, 29, 30, 255, 256, 4095, 65_535, 99_999, 123_456, 999_999, 1_000_000,
            0x55_5555, 0xAA_AAAA, 0xFF_FFFF,
        ];
        for &n in &counters {
            let jpeg = card.frame(n).unwrap().to_vec();
            assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
            assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
            let (luma, w, h) = decode(&jpeg, ColorSpace::Luma);
            assert_eq!((w, h), (1024, 680));
            assert_eq!(read_counter_luma(&luma, w, h), Some(n as u32), "luma {n}");
            // YUYV as the webcam path produces it: Y0 U Y1 V from a YCbCr decode.
            let (ycc, _, _) = decode(&jpeg, ColorSpace::YCbCr);
            let mut yuyv = vec![0u8; (w * h * 2) as usize];
            for (i, px) in ycc.chunks_exact(3).enumerate() {
                yuyv[2 * i] = px[0];
                yuyv[2 * i + 1] = if i % 2 == 0 { px[1] } else { px[2] };
            }
            assert_eq!(read_counter_yuyv(&yuyv, w, h), Some(n as u32), "yuyv {n}");
        }
    }

    #[test]
    fn jpeg_is_baseline_422_and_resizes() {
        let mut card = TestCard::default_size();
        let jpeg = card.frame(3).unwrap().to_vec();
        // Luma sampling 2x1 = 4:2:2 (0x21), from a baseline SOF0.
        assert_eq!(sof0(&jpeg), Some((1024, 680, 0x21)));
        card.resize(640, 424).unwrap();
        let jpeg = card.frame(4).unwrap().to_vec();
        assert_eq!(sof0(&jpeg), Some((640, 424, 0x21)));
        let (luma, w, h) = decode(&jpeg, ColorSpace::Luma);
        assert_eq!(read_counter_luma(&luma, w, h), Some(4));
        assert!(card.resize(100, 100).is_err());
        assert!(card.resize(100_000, 680).is_err());
    }

    #[test]
    fn every_counter_bit_reads_back() {
        let mut card = TestCard::new(640, 424).unwrap();
        for bit in 0..24 {
            let n = 1u64 << bit;
            let jpeg = card.frame(n).unwrap().to_vec();
            let (luma, w, h) = decode(&jpeg, ColorSpace::Luma);
            assert_eq!(read_counter_luma(&luma, w, h), Some(n as u32), "bit {bit}");
        }
    }

    #[test]
    fn counter_wraps_at_24_bits() {
        let mut card = TestCard::new(640, 424).unwrap();
        let jpeg = card.frame((1 << 24) + 5).unwrap().to_vec();
        let (luma, w, h) = decode(&jpeg, ColorSpace::Luma);
        assert_eq!(read_counter_luma(&luma, w, h), Some(5));
    }

    #[test]
    fn pictures_without_a_strip_read_as_none() {
        assert_eq!(read_counter_luma(&vec![128u8; 1024 * 680], 1024, 680), None);
        assert_eq!(read_counter_luma(&[0u8; 10], 1024, 680), None);
        assert_eq!(read_counter_yuyv(&[0u8; 100], 1024, 680), None);
        assert_eq!(read_counter_luma(&[0u8; 100], 10, 10), None);
        // A strip with one flipped data cell fails the check.
        let (w, h) = (1024u32, 680u32);
        let mut luma = vec![0u8; (w * h) as usize];
        let s = strip(w, h).unwrap();
        let mut cells = cells_for(77);
        cells[10] = !cells[10];
        for (i, white) in cells.iter().enumerate() {
            if *white {
                for y in s.y0..s.y0 + s.cell_h {
                    for x in s.x0 + i as u32 * s.cell_w..s.x0 + (i as u32 + 1) * s.cell_w {
                        luma[(y * w + x) as usize] = 255;
                    }
                }
            }
        }
        assert_eq!(read_counter_luma(&luma, w, h), None);
    }
}
