//! The grey, upright, small copy that detection and the quality checks
//! look at, made from the buffer the pipeline already decoded.

use crate::decode::PixelLayout;
use crate::{ImagingError, Orientation};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// Longest side of the working copy. The detector's cost grows with the
/// pixels: 400 px keeps it near 10 ms and finds faces down to 10 % of the
/// long side (docs/FACES.md).
pub(crate) const WORKING_MAX_SIDE: u32 = 400;

/// A grey, upright image of at most [`WORKING_MAX_SIDE`] pixels a side.
#[derive(Debug)]
pub(crate) struct WorkingCopy {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// One byte of luma per pixel, rows top to bottom.
    pub(crate) pixels: Vec<u8>,
}

impl WorkingCopy {
    /// Shrink (never enlarge) a decoded buffer in stored orientation, turn
    /// it grey, then upright.
    pub(crate) fn from_decoded(
        resizer: &mut Resizer,
        pixels: &[u8],
        width: u32,
        height: u32,
        layout: PixelLayout,
        orientation: Orientation,
    ) -> Result<Self, ImagingError> {
        let long = width.max(height).max(1);
        let (tw, th) = if long > WORKING_MAX_SIDE {
            let k = f64::from(WORKING_MAX_SIDE) / f64::from(long);
            (
                ((f64::from(width) * k).round() as u32).max(1),
                ((f64::from(height) * k).round() as u32).max(1),
            )
        } else {
            (width, height)
        };
        let pixel_type = match layout {
            PixelLayout::Gray => PixelType::U8,
            PixelLayout::Rgb => PixelType::U8x3,
            PixelLayout::Cmyk { .. } => PixelType::U8x4,
        };
        let small = if (tw, th) == (width, height) {
            pixels.to_vec()
        } else {
            let src = ImageRef::new(width, height, pixels, pixel_type)
                .map_err(|e| ImagingError::InvalidOptions(format!("working copy: {e}")))?;
            let mut dst = Image::new(tw, th, pixel_type);
            // A box filter is what the eye and the detector need here:
            // cheap and free of ringing.
            let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
            resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| ImagingError::InvalidOptions(format!("working copy: {e}")))?;
            dst.into_vec()
        };
        let grey = to_grey(&small, layout);
        let (pixels, width, height) = orient(&grey, tw as usize, th as usize, orientation);
        Ok(Self {
            width: width as u32,
            height: height as u32,
            pixels,
        })
    }

    /// The luma at (x, y); callers stay inside the image.
    pub(crate) fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width as usize + x]
    }
}

fn to_grey(px: &[u8], layout: PixelLayout) -> Vec<u8> {
    match layout {
        PixelLayout::Gray => px.to_vec(),
        PixelLayout::Rgb => px.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
        PixelLayout::Cmyk { inverted } => px
            .chunks_exact(4)
            .map(|p| {
                let ink = |v: u8| if inverted { 255 - v } else { v };
                let k = 255 - u32::from(ink(p[3]));
                let ch = |v: u8| ((255 - u32::from(ink(v))) * k / 255) as u8;
                luma(ch(p[0]), ch(p[1]), ch(p[2]))
            })
            .collect(),
    }
}

/// BT.601 luma in integers (the weights JPEG uses).
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8) as u8
}

/// Make a stored `w`×`h` grey image upright.
fn orient(px: &[u8], w: usize, h: usize, o: Orientation) -> (Vec<u8>, usize, usize) {
    let ov = o.exif_value();
    if ov == 1 {
        return (px.to_vec(), w, h);
    }
    let (uw, uh) = if o.swaps_axes() { (h, w) } else { (w, h) };
    let mut out = vec![0u8; uw * uh];
    for v in 0..uh {
        for u in 0..uw {
            // Upright pixel (u, v) comes from stored pixel (sx, sy).
            let (sx, sy) = match ov {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_six_turns_a_tall_stored_image_wide() {
        // Stored 2×3, orientation 6 (rotate 90° clockwise to view).
        let px = [1, 2, 3, 4, 5, 6];
        let (out, w, h) = orient(&px, 2, 3, Orientation::from_exif(6));
        assert_eq!((w, h), (3, 2));
        assert_eq!(out, vec![5, 3, 1, 6, 4, 2]);
    }

    #[test]
    fn working_copy_is_small_and_grey() {
        let mut r = Resizer::new();
        let px = vec![200u8; 1600 * 1200 * 3];
        let wc = WorkingCopy::from_decoded(
            &mut r,
            &px,
            1600,
            1200,
            PixelLayout::Rgb,
            Orientation::from_exif(8),
        )
        .expect("working copy");
        assert_eq!((wc.width, wc.height), (300, 400));
        assert!(wc.pixels.iter().all(|&p| p == 200));
    }
}
