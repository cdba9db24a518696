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
    // 16-bit RGBA is 8 bytes per pixel; allow that plus working space.
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
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
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(|e| map_error(format, e))?;
    // Animated GIF/WebP/APNG and multi-page TIFF give their first frame
    // (APNG: the default image) through `from_decoder`.
    let mut notes = Vec::new();
    let (layout, pixels) = flatten(&image, &mut notes);
    Ok(Decoded {
        header,
        width: image.width(),
        height: image.height(),
        layout,
        pixels,
        icc,
        notes,
    })
}

/// Down to 8 bits, alpha composited onto white.
fn flatten(image: &DynamicImage, notes: &mut Vec<String>) -> (PixelLayout, Vec<u8>) {
    let color = image.color();
    if color.bits_per_pixel() / u16::from(color.channel_count()) > 8 {
        notes.push("16-bit samples reduced to 8-bit".into());
    }
    let grey = !color.has_color();
    if color.has_alpha() {
        let rgba = image.to_rgba16();
        let mut any_transparent = false;
        let channels = if grey { 1 } else { 3 };
        let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * channels);
        for px in rgba.as_raw().chunks_exact(4) {
            let a = u32::from(px[3]);
            any_transparent |= a < 65535;
            for &c in &px[..channels] {
                // c·a + white·(1 − a), in 16-bit, rounded to 8-bit.
                let v = (u32::from(c) * a + 65535 * (65535 - a)) / 65535;
                out.push(((v + 128) / 257) as u8);
            }
        }
        if any_transparent {
            notes.push("transparency flattened onto white".into());
        }
        (
            if grey {
                PixelLayout::Gray
            } else {
                PixelLayout::Rgb
            },
            out,
        )
    } else if grey {
        (PixelLayout::Gray, image.to_luma8().into_raw())
    } else {
        (PixelLayout::Rgb, image.to_rgb8().into_raw())
    }
}
