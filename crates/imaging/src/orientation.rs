//! EXIF orientation: parse the tag, map crop boxes between upright and
//! stored coordinates, and turn the (square) outputs upright.
//!
//! We crop and resize in the stored orientation and rotate only the small
//! square outputs: cheaper than rotating a 12-megapixel buffer, and exact,
//! because a square stays a square under every one of the eight operations.

use serde::Serialize;

/// The eight EXIF orientations (tag 0x0112). Invalid values count as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Orientation(u8);

impl Default for Orientation {
    fn default() -> Self {
        Self::NORMAL
    }
}

impl Orientation {
    /// Stored pixels are already upright.
    pub const NORMAL: Self = Self(1);

    /// From the raw EXIF value; anything outside 1..=8 is treated as 1.
    pub fn from_exif(value: u16) -> Self {
        match value {
            1..=8 => Self(value as u8),
            _ => Self::NORMAL,
        }
    }

    /// The EXIF value, 1..=8.
    pub fn exif_value(self) -> u8 {
        self.0
    }

    /// Whether width and height swap when the image is made upright.
    pub fn swaps_axes(self) -> bool {
        self.0 >= 5
    }

    /// Upright dimensions of a stored `w`×`h` image.
    pub fn upright_dims(self, w: u32, h: u32) -> (u32, u32) {
        if self.swaps_axes() {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Parse the orientation from an EXIF block that starts with the TIFF
    /// header (`II*\0` or `MM\0*`). Broken EXIF is ignored, never fatal.
    pub fn from_exif_tiff(tiff: &[u8]) -> Self {
        image::metadata::Orientation::from_exif_chunk(tiff)
            .map(|o| Self::from_exif(u16::from(o.to_exif())))
            .unwrap_or_default()
    }

    /// Map a square box in upright coordinates to stored coordinates of a
    /// stored image of `w`×`h`. Returns the box's (x, y) in stored pixels.
    pub fn upright_box_to_stored(self, x: f64, y: f64, side: f64, w: f64, h: f64) -> (f64, f64) {
        match self.0 {
            2 => (w - x - side, y),
            3 => (w - x - side, h - y - side),
            4 => (x, h - y - side),
            5 => (y, x),
            6 => (y, h - x - side),
            7 => (w - y - side, h - x - side),
            8 => (w - y - side, x),
            _ => (x, y),
        }
    }

    /// Apply the orientation to a square RGB8 image of side `n`.
    /// `pixels.len()` must be `n * n * 3`.
    pub fn apply_to_square_rgb(self, pixels: Vec<u8>, n: usize) -> Vec<u8> {
        if self.0 == 1 {
            return pixels;
        }
        let mut out = vec![0u8; pixels.len()];
        for v in 0..n {
            for u in 0..n {
                // Display pixel (u, v) comes from stored pixel (sx, sy).
                let (sx, sy) = match self.0 {
                    2 => (n - 1 - u, v),
                    3 => (n - 1 - u, n - 1 - v),
                    4 => (u, n - 1 - v),
                    5 => (v, u),
                    6 => (v, n - 1 - u),
                    7 => (n - 1 - v, n - 1 - u),
                    8 => (n - 1 - v, u),
                    _ => (u, v),
                };
                let d = (v * n + u) * 3;
                let s = (sy * n + sx) * 3;
                out[d..d + 3].copy_from_slice(&pixels[s..s + 3]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apply an orientation to a full (not necessarily square) image the
    /// slow, obvious way: the reference for the box mapping.
    fn orient_full(o: Orientation, px: &[u8], w: usize, h: usize) -> (Vec<u8>, usize, usize) {
        let (uw, uh) = if o.swaps_axes() { (h, w) } else { (w, h) };
        let mut out = vec![0u8; uw * uh];
        for v in 0..uh {
            for u in 0..uw {
                let (sx, sy) = match o.0 {
                    2 => (w - 1 - u, v),
                    3 => (w - 1 - u, h - 1 - v),
                    4 => (u, h - 1 - v),
                    5 => (v, u),
                    6 => (v, h - 1 - u),
                    7 => (w - 1 - v, h - 1 - u),
                    8 => (w - 1 - v, u),
                    _ => (u, v),
                };
                out[v * uw + u] = px[sy * w + sx];
            }
        }
        (out, uw, uh)
    }

    #[test]
    fn box_mapping_agrees_with_full_rotation() {
        let (w, h) = (7usize, 5usize);
        let px: Vec<u8> = (0..(w * h) as u8).collect();
        for ov in 1..=8u16 {
            let o = Orientation::from_exif(ov);
            let (up, uw, _uh) = orient_full(o, &px, w, h);
            let (bx, by, side) = (1usize, 1usize, 3usize);
            let (sx, sy) =
                o.upright_box_to_stored(bx as f64, by as f64, side as f64, w as f64, h as f64);
            let (sx, sy) = (sx as usize, sy as usize);
            // Crop in stored coordinates, then orient the square.
            let mut sq = Vec::new();
            for y in sy..sy + side {
                for x in sx..sx + side {
                    let p = px[y * w + x];
                    sq.extend_from_slice(&[p, p, p]);
                }
            }
            let oriented = o.apply_to_square_rgb(sq, side);
            for v in 0..side {
                for u in 0..side {
                    let expect = up[(by + v) * uw + bx + u];
                    assert_eq!(
                        oriented[(v * side + u) * 3],
                        expect,
                        "orientation {ov} at {u},{v}"
                    );
                }
            }
        }
    }

    #[test]
    fn invalid_values_are_normal() {
        assert_eq!(Orientation::from_exif(0), Orientation::NORMAL);
        assert_eq!(Orientation::from_exif(9), Orientation::NORMAL);
        assert_eq!(Orientation::from_exif_tiff(b"garbage"), Orientation::NORMAL);
    }
}
