//! Decoding: bytes in, pixels in their native layout out.
//!
//! JPEG goes through libjpeg-turbo (via mozjpeg) because it can decode at
//! 1/8…8/8 scale in the DCT domain ("shrink on load"), which is where the
//! speed of a photo pipeline comes from. Everything else goes through the
//! `image` crate. Both paths check the limits against the *declared*
//! dimensions before any pixel buffer is allocated.

mod dc_only;
mod flatten;
mod generic;
mod gif_extent;
mod jpeg;
mod jpeg_errors;
mod palette_tiff;
mod png_rows;

use crate::{ImagingError, Limits, Orientation, SourceFormat};

/// How the decoded samples are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PixelLayout {
    /// One byte per pixel.
    Gray,
    /// R, G, B.
    Rgb,
    /// C, M, Y, K as stored; `inverted` for Adobe (Photoshop) files, which
    /// store 255 − ink.
    Cmyk { inverted: bool },
}

impl PixelLayout {
    pub(crate) fn channels(self) -> usize {
        match self {
            Self::Gray => 1,
            Self::Rgb => 3,
            Self::Cmyk { .. } => 4,
        }
    }
}

/// What the header says, before pixels are decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    /// Stored (not upright) width.
    pub(crate) width: u32,
    /// Stored height.
    pub(crate) height: u32,
    pub(crate) orientation: Orientation,
}

/// A decoded picture in stored orientation, possibly DCT-scaled.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) header: Header,
    /// Buffer dimensions (smaller than the header's when scaled on load).
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) layout: PixelLayout,
    pub(crate) pixels: Vec<u8>,
    pub(crate) icc: Option<Vec<u8>>,
    /// What the caller should know (flattened alpha, first frame…).
    pub(crate) notes: Vec<String>,
    /// This picture's share of the process-wide memory budget, held as
    /// long as its pixels are.
    pub(crate) _memory: crate::memory::Reservation,
}

/// Largest colour profile used. Real ones are a few KB (sRGB ~3 KB) up to
/// ~1 MB (printer profiles with big lookup tables); anything beyond is
/// ignored with a note rather than held and parsed.
pub(crate) const MAX_ICC_BYTES: usize = 4 << 20;

/// Chooses the DCT scale numerator (1..=8, over 8) once the header is known.
pub(crate) type ScaleChooser<'a> = &'a dyn Fn(&Header) -> Result<u8, ImagingError>;

pub(crate) fn check_pixels(width: u64, height: u64, limits: &Limits) -> Result<(), ImagingError> {
    if width == 0 || height == 0 {
        return Err(ImagingError::Corrupt {
            format: "image",
            detail: format!("it declares an empty size of {width}×{height}"),
        });
    }
    if width.saturating_mul(height) > limits.max_pixels {
        return Err(ImagingError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// Decode `bytes` of the sniffed `format`.
pub(crate) fn decode(
    bytes: &[u8],
    format: SourceFormat,
    limits: &Limits,
    choose_scale: ScaleChooser<'_>,
) -> Result<Decoded, ImagingError> {
    let mut decoded = match format {
        SourceFormat::Jpeg => jpeg::decode(bytes, limits, choose_scale),
        SourceFormat::Png => png_rows::decode(bytes, limits),
        SourceFormat::Tiff if palette_tiff::is_palette(bytes) => {
            palette_tiff::decode(bytes, limits)
        }
        _ => generic::decode(bytes, format, limits),
    }?;
    if let Some(icc) = decoded.icc.take_if(|icc| icc.len() > MAX_ICC_BYTES) {
        decoded.notes.push(format!(
            "colour profile of {} bytes ignored (over {} MB; real ones are far smaller); colours read as sRGB",
            icc.len(),
            MAX_ICC_BYTES >> 20
        ));
    }
    Ok(decoded)
}

/// Read only the header: format, stored size and orientation.
pub(crate) fn probe(
    bytes: &[u8],
    format: SourceFormat,
    limits: &Limits,
) -> Result<Header, ImagingError> {
    match format {
        SourceFormat::Jpeg => jpeg::probe(bytes, limits),
        SourceFormat::Png => png_rows::probe(bytes, limits),
        SourceFormat::Tiff if palette_tiff::is_palette(bytes) => {
            palette_tiff::decode(bytes, limits).map(|d| d.header)
        }
        _ => generic::probe(bytes, format, limits),
    }
}
