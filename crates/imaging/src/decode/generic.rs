//! PNG, GIF, BMP, TIFF and WebP through the `image` crate.
//!
//! Every `image` call of the crate lives here (and in `orientation.rs`'s
//! EXIF parser), so upgrading `image` touches one file.

use super::{check_pixels, gif_extent, Decoded, Header, PixelLayout};
use crate::{ImagingError, Limits, Orientation, SourceFormat};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use std::io::Cursor;

fn image_format(format: SourceFormat) -> ImageFormat {
    match format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::Gif => ImageFormat::Gif,
        SourceFormat::Bmp => ImageFormat::Bmp,
        SourceFormat::Tiff => ImageFormat::Tiff,
        SourceFormat::Webp => ImageFormat::WebP,
    }
}

fn map_error(format: SourceFormat, e: ImageError) -> ImagingError {
    match e {
        ImageError::Unsupported(u) => ImagingError::UnsupportedFormat {
            detail: format!("a {} variant this tool cannot read: {u}", format.name()),
        },
        ImageError::Limits(l) => ImagingError::Corrupt {
            format: format.name(),
            detail: format!(
                "refused by the decoder's memory limit ({l}); possible decompression bomb"
            ),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImagingError::Corrupt {
                format: format.name(),
                detail: "the file is truncated".into(),
            }
        }
        other => ImagingError::Corrupt {
            format: format.name(),
            detail: other.to_string(),
        },
    }
}

fn reader_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    // 8-bit RGBA at the pixel limit, plus working space. (PNG, where 16-bit
    // pictures are common, is read row by row elsewhere; a 16-bit TIFF
    // over half the pixel limit is refused as too large.)
    l.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(64 << 20));
    l.max_image_width =
        Some(u32::try_from(limits.max_pixels.min(u64::from(u32::MAX))).unwrap_or(u32::MAX));
    l.max_image_height = l.max_image_width;
    l
}

fn open<'a>(
    bytes: &'a [u8],
    format: SourceFormat,
    limits: &Limits,
) -> Result<Box<dyn ImageDecoder + 'a>, ImagingError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format(format));
    reader.limits(reader_limits(limits));
    reader
        .into_decoder()
        .map_err(|e| map_error(format, e))
        .map(|d| Box::new(d) as Box<dyn ImageDecoder>)
}

fn header_of(decoder: &mut dyn ImageDecoder, limits: &Limits) -> Result<Header, ImagingError> {
    let (w, h) = decoder.dimensions();
    check_pixels(u64::from(w), u64::from(h), limits)?;
    // Broken EXIF must not be fatal. Some writers (Pillow's WebP among
    // them) keep JPEG's "Exif\0\0" prefix inside the chunk; accept both.
    let orientation = match decoder.exif_metadata() {
        Ok(Some(exif)) => {
            Orientation::from_exif_tiff(exif.strip_prefix(b"Exif\0\0").unwrap_or(&exif))
        }
        _ => decoder
            .orientation()
            .map(|o| Orientation::from_exif(u16::from(o.to_exif())))
            .unwrap_or_default(),
    };
    Ok(Header {
        width: w,
        height: h,
        orientation,
    })
}

pub(super) fn probe(
    bytes: &[u8],
    format: SourceFormat,
    limits: &Limits,
) -> Result<Header, ImagingError> {
    if format == SourceFormat::Gif {
        gif_extent::check(bytes, limits)?;
    }
    let mut decoder = open(bytes, format, limits)?;
    header_of(decoder.as_mut(), limits)
}

pub(super) fn decode(
    bytes: &[u8],
    format: SourceFormat,
    limits: &Limits,
) -> Result<Decoded, ImagingError> {
    if format == SourceFormat::Gif {
        gif_extent::check(bytes, limits)?;
    }
    let mut decoder = open(bytes, format, limits)?;
    let header = header_of(decoder.as_mut(), limits)?;
    // The decoder's own buffer, plus the 8-bit copy unless it is flattened
    // in place.
    let color = decoder.color_type();
    let picture = u64::from(header.width) * u64::from(header.height);
    let native = picture.saturating_mul(u64::from(color.bytes_per_pixel()));
    let copy = match color {
        image::ColorType::L8 | image::ColorType::Rgb8 => 0,
        _ => picture * if color.has_color() { 3 } else { 1 },
    };
    let memory = crate::memory::reserve(native.saturating_add(copy));
    crate::cancel::check()?;
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(|e| map_error(format, e))?;
    // Animated GIF/WebP/APNG and multi-page TIFF give their first frame
    // (APNG: the default image) through `from_decoder`.
    let mut notes = Vec::new();
    let (width, height) = (image.width(), image.height());
    let (layout, pixels) = flatten(image, &mut notes);
    Ok(Decoded {
        header,
        width,
        height,
        layout,
        pixels,
        icc,
        notes,
        _memory: memory,
    })
}

/// Down to 8 bits, alpha composited onto white, without a 16-bit copy:
/// 8-bit buffers are reused or flattened in place, 16-bit ones read once.
fn flatten(image: DynamicImage, notes: &mut Vec<String>) -> (PixelLayout, Vec<u8>) {
    use super::flatten::{alpha, alpha_in_place, to_8};
    let color = image.color();
    if color.bits_per_pixel() / u16::from(color.channel_count()) > 8 {
        notes.push("16-bit samples reduced to 8-bit".into());
    }
    let grey = !color.has_color();
    let layout = if grey {
        PixelLayout::Gray
    } else {
        PixelLayout::Rgb
    };
    let mut any_transparent = false;
    let pixels = match image {
        DynamicImage::ImageLuma8(b) => b.into_raw(),
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageLumaA8(b) => {
            let mut raw = b.into_raw();
            any_transparent = alpha_in_place(&mut raw, 2);
            raw
        }
        DynamicImage::ImageRgba8(b) => {
            let mut raw = b.into_raw();
            any_transparent = alpha_in_place(&mut raw, 4);
            raw
        }
        DynamicImage::ImageLuma16(b) => b.as_raw().iter().map(|&v| to_8(v)).collect(),
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| to_8(v)).collect(),
        DynamicImage::ImageLumaA16(b) => {
            let mut out = Vec::with_capacity(b.as_raw().len() / 2);
            any_transparent = alpha(b.as_raw(), 2, 1, &mut out);
            out
        }
        DynamicImage::ImageRgba16(b) => {
            let mut out = Vec::with_capacity(b.as_raw().len() / 4 * 3);
            any_transparent = alpha(b.as_raw(), 4, 1, &mut out);
            out
        }
        // Floating-point pictures (no decoder here makes them): the slow way.
        other if color.has_alpha() => {
            let rgba = other.to_rgba16();
            let channels = if grey { 1 } else { 3 };
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * channels);
            if grey {
                let la: Vec<u16> = rgba
                    .as_raw()
                    .chunks_exact(4)
                    .flat_map(|px| [px[0], px[3]])
                    .collect();
                any_transparent = alpha(&la, 2, 1, &mut out);
            } else {
                any_transparent = alpha(rgba.as_raw(), 4, 1, &mut out);
            }
            out
        }
        other if grey => other.to_luma8().into_raw(),
        other => other.to_rgb8().into_raw(),
    };
    if any_transparent {
        notes.push("transparency flattened onto white".into());
    }
    (layout, pixels)
}
