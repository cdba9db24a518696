//! Cropping and resampling with `fast_image_resize` (SIMD Lanczos3).
//!
//! The crop box is fractional: after a DCT-scaled decode, the box lands on
//! sub-pixel positions, and the resampler honours them exactly.

use crate::decode::PixelLayout;
use crate::ImagingError;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

fn pixel_type(layout: PixelLayout) -> PixelType {
    match layout {
        PixelLayout::Gray => PixelType::U8,
        PixelLayout::Rgb => PixelType::U8x3,
        PixelLayout::Cmyk { .. } => PixelType::U8x4,
    }
}

/// A square region of a source buffer, in that buffer's pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) side: f64,
}

/// Resample `region` of the `width`×`height` buffer to `out`×`out`.
pub(crate) fn resize_square(
    resizer: &mut Resizer,
    pixels: &[u8],
    width: u32,
    height: u32,
    layout: PixelLayout,
    region: Region,
    out: u32,
) -> Result<Vec<u8>, ImagingError> {
    let src = ImageRef::new(width, height, pixels, pixel_type(layout))
        .map_err(|e| ImagingError::InvalidOptions(format!("source buffer: {e}")))?;
    let mut dst = Image::new(out, out, pixel_type(layout));
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(region.x, region.y, region.side, region.side);
    resizer
        .resize(&src, &mut dst, &options)
        .map_err(|e| ImagingError::InvalidOptions(format!("resize: {e}")))?;
    Ok(dst.into_vec())
}
