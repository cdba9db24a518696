//! Brightness and sharpness of the chosen square, and the thresholds that
//! turn measures into warnings. Calibration: docs/FACES.md.

use super::working::WorkingCopy;
use super::QualityMeasures;

/// Mean luma (0–255) below which the square is reported as very dark.
pub const DARK_THRESHOLD: f64 = 50.0;
/// Variance of the Laplacian below which the square is reported as very
/// blurry.
pub const BLUR_THRESHOLD: f64 = 30.0;
/// A face shorter than this share of the largest output side (in source
/// pixels) is reported as too small: framed at [`super::FACE_SHARE`] it
/// would need enlarging by more than 1.6×.
pub const MIN_FACE_FRACTION: f64 = 0.25;
/// Other faces at least this share of the largest face's size count
/// towards "several faces"; smaller ones (background, posters) do not.
pub const SEVERAL_FACES_RATIO: f64 = 0.5;

/// Side the measured region is reduced to (by whole-pixel box averaging)
/// before the Laplacian, so sharpness does not depend on the source size.
const MEASURE_SIDE: f64 = 256.0;

/// Measure the `region` (x, y, w, h in working-copy pixels) of `wc`:
/// brightness over the square `square`, sharpness over `region` (the face
/// when there is one).
pub(crate) fn measure(
    wc: &WorkingCopy,
    square: (f64, f64, f64, f64),
    region: (f64, f64, f64, f64),
) -> QualityMeasures {
    let (x0, y0, x1, y1) = clamp_rect(wc, square);
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(wc.at(x, y));
        }
    }
    let n = ((x1 - x0) * (y1 - y0)).max(1) as f64;
    QualityMeasures {
        mean_luma: sum as f64 / n,
        sharpness: laplacian_variance(wc, region),
    }
}

fn clamp_rect(wc: &WorkingCopy, r: (f64, f64, f64, f64)) -> (usize, usize, usize, usize) {
    let (w, h) = (wc.width as f64, wc.height as f64);
    let x0 = r.0.clamp(0.0, w).floor() as usize;
    let y0 = r.1.clamp(0.0, h).floor() as usize;
    let x1 = (r.0 + r.2).clamp(0.0, w).ceil() as usize;
    let y1 = (r.1 + r.3).clamp(0.0, h).ceil() as usize;
    (x0, y0, x1.max(x0), y1.max(y0))
}

/// Variance of the 4-neighbour Laplacian over `region`, after reducing it
/// by an integer factor to about [`MEASURE_SIDE`] pixels.
fn laplacian_variance(wc: &WorkingCopy, region: (f64, f64, f64, f64)) -> f64 {
    let (x0, y0, x1, y1) = clamp_rect(wc, region);
    let (rw, rh) = (x1 - x0, y1 - y0);
    let k = ((rw.max(rh) as f64 / MEASURE_SIDE).floor() as usize).max(1);
    let (sw, sh) = (rw / k, rh / k);
    if sw < 3 || sh < 3 {
        return 0.0;
    }
    let mut small = vec![0f64; sw * sh];
    for sy in 0..sh {
        for sx in 0..sw {
            let mut s = 0u32;
            for dy in 0..k {
                for dx in 0..k {
                    s += u32::from(wc.at(x0 + sx * k + dx, y0 + sy * k + dy));
                }
            }
            small[sy * sw + sx] = f64::from(s) / (k * k) as f64;
        }
    }
    let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
    for y in 1..sh - 1 {
        for x in 1..sw - 1 {
            let c = small[y * sw + x];
            let l = small[y * sw + x - 1]
                + small[y * sw + x + 1]
                + small[(y - 1) * sw + x]
                + small[(y + 1) * sw + x]
                - 4.0 * c;
            sum += l;
            sum2 += l * l;
            n += 1.0;
        }
    }
    let mean = sum / n;
    sum2 / n - mean * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> WorkingCopy {
        let mut pixels = Vec::new();
        for y in 0..h {
            for x in 0..w {
                pixels.push(f(x, y));
            }
        }
        WorkingCopy {
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn flat_is_blurry_and_checkerboard_is_sharp() {
        let all = (0.0, 0.0, 100.0, 100.0);
        let flat = measure(&wc(100, 100, |_, _| 20), all, all);
        assert!(flat.sharpness < 1e-9);
        assert!((flat.mean_luma - 20.0).abs() < 1e-9);
        let checker = measure(
            &wc(100, 100, |x, y| if (x + y) % 2 == 0 { 0 } else { 255 }),
            all,
            all,
        );
        assert!(checker.sharpness > 10_000.0);
    }

    #[test]
    fn regions_outside_the_copy_are_clamped() {
        let m = measure(
            &wc(10, 10, |_, _| 100),
            (-5.0, -5.0, 50.0, 50.0),
            (8.0, 8.0, 1.0, 1.0),
        );
        assert!((m.mean_luma - 100.0).abs() < 1e-9);
        assert_eq!(m.sharpness, 0.0);
    }
}
