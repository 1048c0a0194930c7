//! Packing decoded YCbCr samples into YUYV 4:2:2 rows, with the full-to-limited range
//! conversion folded into lookup tables.
//!
//! Pure functions over slices: no allocation, no I/O. Every function writes exactly
//! `out_w * 2` bytes per output row and reads only inside the slices it is given (callers
//! size the slices; the loops use `chunks_exact` so a short slice ends the row early rather
//! than panicking). Spec: ITU-R BT.601 (limited-range levels), JFIF 1.02 section 7
//! (full-range YCbCr from RGB), V4L2 `V4L2_PIX_FMT_YUYV` (byte order Y0 Cb Y1 Cr).

/// Full-range (JFIF, 0–255) to limited-range (BT.601 "studio swing") lookup tables.
///
/// `y[v]` maps luma, `c[v]` maps one chroma sample, `c2[a + b]` maps the *sum* of two
/// chroma samples to the limited-range value of their mean, so averaging a pair and range
/// conversion cost one table read with one rounding. `c32[s]` maps a chroma value given
/// at 32x scale (`s = 32 * v`, 0..=8160), for the planar path's filters, so a filtered
/// chroma sample is rounded once rather than after every stage.
pub(crate) struct RangeLut {
    pub(crate) y: [u8; 256],
    pub(crate) c: [u8; 256],
    pub(crate) c2: [u8; 511],
    pub(crate) c32: Box<[u8]>,
}

impl RangeLut {
    pub(crate) fn new() -> RangeLut {
        let mut y = [0u8; 256];
        let mut c = [0u8; 256];
        let mut c2 = [0u8; 511];
        // Integer rounding (round half up) so the tables are exact and reproducible.
        // Y:  16 + v * 219 / 255          (0 -> 16, 255 -> 235)
        // C: 128 + (v - 128) * 224 / 255  (0 -> 16 (rounded), 255 -> 240)
        for v in 0..256i32 {
            y[v as usize] = (16 + (v * 219 * 2 + 255) / (255 * 2)) as u8;
            c[v as usize] = chroma_limited(v, 1) as u8;
        }
        for s in 0..511i32 {
            c2[s as usize] = chroma_limited(s, 2) as u8;
        }
        let c32 = (0..=255 * 32)
            .map(|s| chroma_limited(s, 32) as u8)
            .collect();
        RangeLut { y, c, c2, c32 }
    }
}

/// Limited-range luma, `y[v]` of [`RangeLut`] as arithmetic:
/// `16 + (((v * 59 + 34) * 954) >> 16)` equals `16 + round(v * 219 / 255)` for every `v`
/// (found by exhaustive search,
/// checked in the tests). Every step fits 16-bit lanes (a multiply, an add and a
/// multiply-high), so the hot loops become SIMD, which table reads cannot; the tables
/// stay as the readable definition.
#[inline(always)]
pub(crate) fn luma(v: u8) -> u8 {
    let x = u16::from(v) * 59 + 34; // at most 15 079
    (16 + ((u32::from(x) * 954) >> 16)) as u8
}

/// Limited-range chroma of a full-range value given at 8x scale (0..=2040, a `[1, 6, 1]`
/// filter sum): `c32[4 * s]` of [`RangeLut`] as arithmetic, equal for every input.
#[inline(always)]
pub(crate) fn chroma_of_sum8(sum: u32) -> u8 {
    ((sum * 1799 + 263158) >> 14) as u8
}

/// Limited-range chroma of a full-range value given at 32x scale (0..=8160, a `[1, 6, 1]`
/// filter over 4x-scale vertical sums): `c32[s]` of [`RangeLut`] as arithmetic, equal
/// for every input (found by exhaustive search, checked in the tests).
#[inline(always)]
pub(crate) fn chroma_of_sum32(sum: u32) -> u8 {
    ((sum * 1799 + 1_052_672) >> 16) as u8
}

/// Limited-range chroma for a full-range value given at `scale` (`s = scale * v`),
/// rounded to nearest, ties away from 128.
fn chroma_limited(s: i32, scale: i32) -> i32 {
    // 128 + (s/scale - 128) * 224/255  ==  128 + (s - 128 scale) * 224 / (255 scale)
    let num = (s - 128 * scale) * 224;
    let den = 255 * scale;
    let q = if num >= 0 {
        (num + den / 2) / den
    } else {
        -((-num + den / 2) / den)
    };
    (128 + q).clamp(16, 240)
}

/// Interleaved full-resolution YCbCr (3 bytes a pixel, as zune-jpeg outputs) to YUYV.
/// Chroma of each pixel pair is the mean of the two pixels' chroma.
pub(crate) fn pack_ycbcr444_interleaved(
    src: &[u8],
    src_w: usize,
    out_w: usize,
    out_h: usize,
    lut: &RangeLut,
    dst: &mut [u8],
) {
    let src_stride = src_w * 3;
    let dst_stride = out_w * 2;
    for (s_row, d_row) in src
        .chunks_exact(src_stride)
        .zip(dst.chunks_exact_mut(dst_stride))
        .take(out_h)
    {
        for (s, d) in s_row[..out_w * 3]
            .chunks_exact(6)
            .zip(d_row.chunks_exact_mut(4))
        {
            d[0] = lut.y[s[0] as usize];
            d[1] = lut.c2[s[1] as usize + s[4] as usize];
            d[2] = lut.y[s[3] as usize];
            d[3] = lut.c2[s[2] as usize + s[5] as usize];
        }
    }
}

/// Luma only (grayscale JPEG): neutral chroma.
pub(crate) fn pack_luma(
    src: &[u8],
    src_stride: usize,
    out_w: usize,
    out_h: usize,
    lut: &RangeLut,
    dst: &mut [u8],
) {
    let neutral = lut.c[128];
    for (s_row, d_row) in src
        .chunks_exact(src_stride)
        .zip(dst.chunks_exact_mut(out_w * 2))
        .take(out_h)
    {
        for (s, d) in s_row[..out_w]
            .chunks_exact(2)
            .zip(d_row.chunks_exact_mut(4))
        {
            d[0] = lut.y[s[0] as usize];
            d[1] = neutral;
            d[2] = lut.y[s[1] as usize];
            d[3] = neutral;
        }
    }
}

/// Interleaved RGB (JPEGs stored as RGB or CMYK, decoded to RGB by the backend) to YUYV
/// via the JFIF RGB -> YCbCr matrix, then the range tables. A rare path; kept scalar.
pub(crate) fn pack_rgb(
    src: &[u8],
    src_w: usize,
    out_w: usize,
    out_h: usize,
    lut: &RangeLut,
    dst: &mut [u8],
) {
    for (s_row, d_row) in src
        .chunks_exact(src_w * 3)
        .zip(dst.chunks_exact_mut(out_w * 2))
        .take(out_h)
    {
        for (s, d) in s_row[..out_w * 3]
            .chunks_exact(6)
            .zip(d_row.chunks_exact_mut(4))
        {
            let (y0, cb0, cr0) = rgb_to_ycbcr(s[0], s[1], s[2]);
            let (y1, cb1, cr1) = rgb_to_ycbcr(s[3], s[4], s[5]);
            d[0] = lut.y[y0 as usize];
            d[1] = lut.c2[cb0 as usize + cb1 as usize];
            d[2] = lut.y[y1 as usize];
            d[3] = lut.c2[cr0 as usize + cr1 as usize];
        }
    }
}

/// JFIF (full-range BT.601) RGB -> YCbCr, fixed point with 16 fractional bits.
pub(crate) fn rgb_to_ycbcr(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    const H: i32 = 1 << 15;
    let y = (19595 * r + 38470 * g + 7471 * b + H) >> 16;
    let cb = ((-11059 * r - 21709 * g + 32768 * b + H) >> 16) + 128;
    let cr = ((32768 * r - 27439 * g - 5329 * b + H) >> 16) + 128;
    (
        y.clamp(0, 255) as u8,
        cb.clamp(0, 255) as u8,
        cr.clamp(0, 255) as u8,
    )
}

// The planar path serves the libjpeg-turbo backend only.
/// One plane of 8-bit samples: `stride` bytes a row, `rows` rows.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) stride: usize,
    pub(crate) rows: usize,
}

impl<'a> Plane<'a> {
    fn row(&self, r: usize) -> &'a [u8] {
        let r = r.min(self.rows.saturating_sub(1));
        let start = r * self.stride;
        self.data.get(start..start + self.stride).unwrap_or(&[])
    }
}

/// Planar Y, Cb, Cr (as libjpeg-turbo's decompress-to-YUV writes them, chroma at its
/// coded resolution) to YUYV.
///
/// `sx`, `sy` are the chroma subsampling factors (1, 2 or 4 horizontally; 1 or 2
/// vertically). The YUYV chroma of a pixel pair is defined as the mean of the two pixels'
/// chroma after libjpeg-style "fancy" (triangle) upsampling, which is what zune-jpeg's
/// path produces and what an RGB reference decoder implies. For 2:1 horizontal that
/// mean is the [1, 6, 1] / 8 filter over coded samples; vertically 2 uses the same
/// triangle (3/4 nearest row + 1/4 next row). So both backends give the same picture
/// (within rounding) and chroma edges do not step every second line. Intermediate
/// values stay at 32x scale and are rounded once, by `RangeLut::c32`. `scratch` must
/// hold `2 * (chroma width + 2)` values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_planar(
    y: Plane<'_>,
    cb: Plane<'_>,
    cr: Plane<'_>,
    sx: usize,
    sy: usize,
    out_w: usize,
    out_h: usize,
    lut: &RangeLut,
    scratch: &mut [u16],
    dst: &mut [u8],
) {
    let cw = cb.stride.min(cr.stride).min(scratch.len() / 2 - 2);
    let (v_cb, v_cr) = scratch.split_at_mut(scratch.len() / 2);
    let (v_cb, v_cr) = (&mut v_cb[..cw + 2], &mut v_cr[..cw + 2]);
    let c32 = &lut.c32[..];
    let c = |s: u16| c32.get(s as usize).copied().unwrap_or(128);
    for (row, d_row) in dst.chunks_exact_mut(out_w * 2).take(out_h).enumerate() {
        let y_row = y.row(row);
        let y_row = &y_row[..out_w.min(y_row.len())];
        if sx == 2 && sy == 1 {
            // 4:2:2, what Sony sends: filter straight from the coded rows.
            pack_row_422(y_row, cb.row(row), cr.row(row), d_row);
            continue;
        }
        if sy == 2 {
            let near = row / 2;
            let far = if row % 2 == 0 {
                near.saturating_sub(1)
            } else {
                near + 1
            };
            vertical_x4(cb.row(near), cb.row(far), v_cb);
            vertical_x4(cr.row(near), cr.row(far), v_cr);
        } else {
            vertical_x4(cb.row(row), cb.row(row), v_cb);
            vertical_x4(cr.row(row), cr.row(row), v_cr);
        }
        match sx {
            2 => pack_row_x4(y_row, v_cb, v_cr, d_row),
            1 => {
                for (((yy, d), b), r) in y_row
                    .chunks_exact(2)
                    .zip(d_row.chunks_exact_mut(4))
                    .zip(v_cb[1..].chunks_exact(2))
                    .zip(v_cr[1..].chunks_exact(2))
                {
                    d[0] = lut.y[yy[0] as usize];
                    d[1] = c((b[0] + b[1]) * 4);
                    d[2] = lut.y[yy[1] as usize];
                    d[3] = c((r[0] + r[1]) * 4);
                }
            }
            _ => {
                // 4:1:1: one chroma sample spans two YUYV pairs.
                for (i, (yy, d)) in y_row
                    .chunks_exact(2)
                    .zip(d_row.chunks_exact_mut(4))
                    .enumerate()
                {
                    let k = 1 + i / 2;
                    d[0] = lut.y[yy[0] as usize];
                    d[1] = c(v_cb.get(k).copied().unwrap_or(512) * 8);
                    d[2] = lut.y[yy[1] as usize];
                    d[3] = c(v_cr.get(k).copied().unwrap_or(512) * 8);
                }
            }
        }
    }
}

/// One 4:2:2 row: chroma pair `i` is `(c[i-1] + 6 c[i] + c[i+1]) / 8` (edges repeat),
/// the same value the general path computes, without staging rows.
///
/// The middle of the row goes in blocks of [`BLOCK`] pairs through fixed-size arrays, so
/// the range conversion by arithmetic ([`luma`], [`chroma_of_sum8`]) and the final byte
/// interleave (`Y0 Cb Y1 Cr` is the luma bytes interleaved with `Cb Cr` bytes) become
/// SIMD loops, faster than one table read per byte (libjpeg-turbo decode+pack of a
/// 1024x680 frame: 2.17 -> 1.77 ms). The row's tail is one more block overlapping the
/// last one; the first and last pairs (edges repeat) and rows shorter than a block go
/// one pair at a time.
fn pack_row_422(y_row: &[u8], cb: &[u8], cr: &[u8], d_row: &mut [u8]) {
    let n = cb.len().min(cr.len());
    let pairs = (y_row.len() / 2).min(d_row.len() / 4).min(n);
    if pairs == 0 {
        return;
    }
    let last = n - 1;
    pack_pair_422(y_row, cb, cr, [0, 0, 1.min(last)], d_row);
    // Pairs 1..mid have both neighbours inside the row.
    let mid = pairs.min(last);
    let block_at = |i: usize, d_row: &mut [u8]| {
        if let (Some(y), Some(b), Some(r), Some(d)) = (
            y_row.get(2 * i..2 * i + 2 * BLOCK),
            cb.get(i - 1..i + BLOCK + 1),
            cr.get(i - 1..i + BLOCK + 1),
            d_row.get_mut(4 * i..4 * i + 4 * BLOCK),
        ) {
            pack_block_422(y, b, r, d);
        }
    };
    let mut i = 1;
    while i + BLOCK <= mid {
        block_at(i, d_row);
        i += BLOCK;
    }
    if i < mid && mid > BLOCK {
        // The tail as one more block ending at `mid`, overlapping pairs already packed
        // (they get the same bytes again).
        block_at(mid - BLOCK, d_row);
        i = mid;
    }
    for i in i..mid {
        pack_pair_422(y_row, cb, cr, [i - 1, i, i + 1], d_row);
    }
    if pairs == n && last > 0 {
        pack_pair_422(y_row, cb, cr, [last - 1, last, last], d_row);
    }
}

/// One row of 2:1 horizontally subsampled chroma given as 4x-scale vertical sums with
/// the edges repeated (`v[0]`, `v[n + 1]`, see [`vertical_x4`]): pair `i` gets chroma
/// `(v[i] + 6 v[i + 1] + v[i + 2]) / 32`. The 4:2:0 path; in blocks of [`BLOCK`] pairs
/// like [`pack_row_422`] so the arithmetic becomes SIMD (a table read per byte cost
/// ~15 % of a 4:2:0 decode).
fn pack_row_x4(y_row: &[u8], cb: &[u16], cr: &[u16], d_row: &mut [u8]) {
    let pairs = (y_row.len() / 2)
        .min(d_row.len() / 4)
        .min(cb.len().saturating_sub(2))
        .min(cr.len().saturating_sub(2));
    let f = |c: &[u16], k: usize| {
        chroma_of_sum32(u32::from(c[k]) + 6 * u32::from(c[k + 1]) + u32::from(c[k + 2]))
    };
    let mut i = 0;
    while i + BLOCK <= pairs {
        let (Ok(y), Ok(b), Ok(r), Ok(d)) = (
            <&[u8; 2 * BLOCK]>::try_from(&y_row[2 * i..2 * i + 2 * BLOCK]),
            <&[u16; BLOCK + 2]>::try_from(&cb[i..i + BLOCK + 2]),
            <&[u16; BLOCK + 2]>::try_from(&cr[i..i + BLOCK + 2]),
            <&mut [u8; 4 * BLOCK]>::try_from(&mut d_row[4 * i..4 * i + 4 * BLOCK]),
        ) else {
            break;
        };
        let mut ys = [0u8; 2 * BLOCK];
        for (o, &v) in ys.iter_mut().zip(y) {
            *o = luma(v);
        }
        let mut cs = [0u8; 2 * BLOCK];
        for k in 0..BLOCK {
            cs[2 * k] = f(b, k);
            cs[2 * k + 1] = f(r, k);
        }
        for ((d, &y), &c) in d.chunks_exact_mut(2).zip(&ys).zip(&cs) {
            d.copy_from_slice(&(u16::from(y) | u16::from(c) << 8).to_le_bytes());
        }
        i += BLOCK;
    }
    for i in i..pairs {
        d_row[4 * i..4 * i + 4].copy_from_slice(&[
            luma(y_row[2 * i]),
            f(cb, i),
            luma(y_row[2 * i + 1]),
            f(cr, i),
        ]);
    }
}

/// Pairs a 4:2:2 block packs at once.
const BLOCK: usize = 32;

/// [`BLOCK`] pairs whose chroma neighbours are all inside the row: `y` holds `2 BLOCK`
/// luma samples, `cb` and `cr` `BLOCK + 2` chroma samples (one more each side), `d` gets
/// `4 BLOCK` bytes. Wrong lengths write nothing (callers slice exactly).
#[inline(always)]
fn pack_block_422(y: &[u8], cb: &[u8], cr: &[u8], d: &mut [u8]) {
    let (Ok(y), Ok(cb), Ok(cr), Ok(d)) = (
        <&[u8; 2 * BLOCK]>::try_from(y),
        <&[u8; BLOCK + 2]>::try_from(cb),
        <&[u8; BLOCK + 2]>::try_from(cr),
        <&mut [u8; 4 * BLOCK]>::try_from(d),
    ) else {
        return;
    };
    let mut ys = [0u8; 2 * BLOCK];
    for (o, &v) in ys.iter_mut().zip(y) {
        *o = luma(v);
    }
    let filter = |c: &[u8; BLOCK + 2], k: usize| {
        chroma_of_sum8(u32::from(c[k]) + 6 * u32::from(c[k + 1]) + u32::from(c[k + 2]))
    };
    let mut cs = [0u8; 2 * BLOCK];
    for k in 0..BLOCK {
        cs[2 * k] = filter(cb, k);
        cs[2 * k + 1] = filter(cr, k);
    }
    for ((d, &y), &c) in d.chunks_exact_mut(2).zip(&ys).zip(&cs) {
        d.copy_from_slice(&(u16::from(y) | u16::from(c) << 8).to_le_bytes());
    }
}

/// Pair `i = at[1]` of a 4:2:2 row with chroma neighbours `at[0]` and `at[2]`. Indices
/// outside the slices write nothing.
fn pack_pair_422(y_row: &[u8], cb: &[u8], cr: &[u8], at: [usize; 3], d_row: &mut [u8]) {
    let i = at[1];
    let f = |c: &[u8]| {
        let [l, m, r] = at.map(|k| c.get(k).copied().map_or(0, u32::from));
        chroma_of_sum8(l + 6 * m + r)
    };
    let (b, r) = (f(cb), f(cr));
    if let (Some(y), Some(d)) = (y_row.get(2 * i..2 * i + 2), d_row.get_mut(4 * i..4 * i + 4)) {
        d.copy_from_slice(&[luma(y[0]), b, luma(y[1]), r]);
    }
}

/// `out[1 + i] = 3 near[i] + far[i]` (4x scale), with the edge values repeated into
/// `out[0]` and `out[len - 1]` so a 3-tap horizontal filter needs no edge cases.
fn vertical_x4(near: &[u8], far: &[u8], out: &mut [u16]) {
    let n = out.len().saturating_sub(2);
    for ((o, a), b) in out[1..=n].iter_mut().zip(near).zip(far) {
        *o = 3 * *a as u16 + *b as u16;
    }
    if n > 0 {
        out[0] = out[1];
        out[n + 1] = out[n];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_tables_hit_the_bt601_limits() {
        let lut = RangeLut::new();
        assert_eq!(lut.y[0], 16);
        assert_eq!(lut.y[255], 235);
        assert_eq!(lut.y[128], 126); // 16 + 128*219/255 = 125.9
        assert_eq!(lut.c[128], 128);
        assert_eq!(lut.c[0], 16);
        assert_eq!(lut.c[255], 240);
        assert_eq!(lut.c2[256], 128);
        assert_eq!(lut.c2[0], 16);
        assert_eq!(lut.c2[510], 240);
        assert_eq!(lut.c32.len(), 8161);
        assert_eq!(
            (lut.c32[0], lut.c32[128 * 32], lut.c32[8160]),
            (16, 128, 240)
        );
        assert!(lut.c32.windows(2).all(|w| w[0] <= w[1]));
        // monotone: no banding inversions
        assert!(lut.y.windows(2).all(|w| w[0] <= w[1]));
        assert!(lut.c2.windows(2).all(|w| w[0] <= w[1]));
        // symmetric around 128
        for v in 0..=127usize {
            assert_eq!(
                128 - lut.c[128 - v] as i32,
                lut.c[128 + v] as i32 - 128,
                "v={v}"
            );
        }
    }

    #[test]
    fn arithmetic_range_conversion_equals_the_tables_for_every_input() {
        let lut = RangeLut::new();
        for v in 0..=255u8 {
            assert_eq!(luma(v), lut.y[v as usize], "luma {v}");
        }
        for s in 0..=2040u32 {
            assert_eq!(chroma_of_sum8(s), lut.c32[4 * s as usize], "chroma sum {s}");
        }
        for s in 0..=8160u32 {
            assert_eq!(chroma_of_sum32(s), lut.c32[s as usize], "chroma sum32 {s}");
        }
    }

    #[test]
    fn interleaved_pack_averages_chroma_pairs_and_drops_odd_column() {
        let lut = RangeLut::new();
        // 3x1 image: last column must be dropped (crop to even width)
        let src = [0, 100, 200, 255, 102, 210, 9, 9, 9];
        let mut dst = [0u8; 4];
        pack_ycbcr444_interleaved(&src, 3, 2, 1, &lut, &mut dst);
        assert_eq!(dst, [lut.y[0], lut.c2[202], lut.y[255], lut.c2[410]]);
    }

    #[test]
    fn planar_422_filters_chroma_like_the_mean_of_upsampled_pairs() {
        let lut = RangeLut::new();
        let (y, cb, cr) = ([10u8, 20, 30, 40], [50u8, 60], [70u8, 80]);
        fn p(d: &[u8]) -> Plane<'_> {
            Plane {
                data: d,
                stride: d.len(),
                rows: 1,
            }
        }
        let mut scratch = [0u16; 8];
        let mut dst = [0u8; 8];
        pack_planar(
            p(&y),
            p(&cb),
            p(&cr),
            2,
            1,
            4,
            1,
            &lut,
            &mut scratch,
            &mut dst,
        );
        // (7*50 + 60) / 8 = 51.25, (50 + 7*60) / 8 = 58.75
        let c = |v: f64| lut.c32[(v * 32.0) as usize];
        assert_eq!(
            dst,
            [
                lut.y[10],
                c(51.25),
                lut.y[20],
                c(71.25),
                lut.y[30],
                c(58.75),
                lut.y[40],
                c(78.75)
            ]
        );
    }

    #[test]
    fn fast_422_row_matches_the_filter_definition_at_every_width() {
        let lut = RangeLut::new();
        let mut x = 0x2545_F491u32;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        };
        for out_w in (2usize..120).step_by(2) {
            for coded_w in [out_w, out_w + 1] {
                let cw = coded_w.div_ceil(2);
                let y: Vec<u8> = (0..coded_w + (coded_w & 1)).map(|_| rnd()).collect();
                let cb: Vec<u8> = (0..cw).map(|_| rnd()).collect();
                let cr: Vec<u8> = (0..cw).map(|_| rnd()).collect();
                let mut dst = vec![0u8; out_w * 2];
                pack_row_422(&y, &cb, &cr, &mut dst);
                for p in 0..out_w / 2 {
                    let at = |s: &[u8], i: isize| s[i.clamp(0, cw as isize - 1) as usize] as usize;
                    let f = |s: &[u8]| {
                        lut.c32[(at(s, p as isize - 1)
                            + 6 * at(s, p as isize)
                            + at(s, p as isize + 1))
                            * 4]
                    };
                    assert_eq!(
                        &dst[p * 4..p * 4 + 4],
                        &[
                            lut.y[y[2 * p] as usize],
                            f(&cb),
                            lut.y[y[2 * p + 1] as usize],
                            f(&cr)
                        ],
                        "out_w {out_w} coded_w {coded_w} pair {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn planar_420_blends_rows_like_fancy_upsampling() {
        let lut = RangeLut::new();
        // 2x4 luma, chroma 1x2
        let y: &'static [u8] = &[1, 1, 1, 1, 1, 1, 1, 1];
        let cb: &'static [u8] = &[100, 200];
        let cr: &'static [u8] = &[128, 128];
        let mut scratch = [0u16; 6];
        let mut dst = [0u8; 16];
        pack_planar(
            Plane {
                data: y,
                stride: 2,
                rows: 4,
            },
            Plane {
                data: cb,
                stride: 1,
                rows: 2,
            },
            Plane {
                data: cr,
                stride: 1,
                rows: 2,
            },
            2,
            2,
            2,
            4,
            &lut,
            &mut scratch,
            &mut dst,
        );
        let cbs: Vec<u8> = dst.chunks(4).map(|d| d[1]).collect();
        // row0: near 0, far 0 -> 100; row1: 3*100+200 -> 125; row2: 3*200+100 -> 175; row3: 200
        assert_eq!(cbs, vec![lut.c[100], lut.c[125], lut.c[175], lut.c[200]]);
        assert_eq!(lut.c32[100 * 32], lut.c[100]);
    }

    #[test]
    fn rgb_matrix_matches_jfif() {
        assert_eq!(rgb_to_ycbcr(0, 0, 0), (0, 128, 128));
        assert_eq!(rgb_to_ycbcr(255, 255, 255), (255, 128, 128));
        let (y, cb, cr) = rgb_to_ycbcr(255, 0, 0);
        assert_eq!((y, cb, cr), (76, 85, 255));
    }
}
