//! PNG through the `png` crate, row by row: each row is flattened to 8-bit
//! (alpha composited onto white) as it is decoded, so the only picture-sized
//! buffer is the 8-bit result. Through `image`, a 16-bit RGBA PNG first
//! became an 8-bytes-per-pixel buffer (800 MB at 100 megapixels) and then a
//! 16-bit copy of it.
//!
//! Interlaced (Adam7) files need the whole picture before a row is final;
//! they are decoded with 16-bit samples stripped to 8 and flattened in place.

use super::{check_pixels, Decoded, Header, PixelLayout};
use crate::{ImagingError, Limits, Orientation};
use png::{BitDepth, ColorType, Transformations};
use std::io::Cursor;

/// What the `png` crate may allocate besides the picture rows: text and
/// other metadata chunks and the decompressed `iCCP` profile. An `iCCP`
/// chunk that inflates beyond it is dropped by the decoder (the picture is
/// read without it), instead of inflating to gigabytes.
const METADATA_BYTES: usize = 24 << 20;

fn damaged(e: png::DecodingError) -> ImagingError {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImagingError::Corrupt {
                format: "PNG",
                detail: "the file is truncated".into(),
            }
        }
        png::DecodingError::LimitsExceeded => ImagingError::Corrupt {
            format: "PNG",
            detail: "refused by the decoder's memory limit; possible decompression bomb".into(),
        },
        other => ImagingError::Corrupt {
            format: "PNG",
            detail: other.to_string(),
        },
    }
}

fn open<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    strip_16: bool,
) -> Result<png::Reader<Cursor<&'a [u8]>>, ImagingError> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: METADATA_BYTES,
        },
    );
    let info = decoder.read_header_info().map_err(damaged)?;
    check_pixels(u64::from(info.width), u64::from(info.height), limits)?;
    // One row of the widest allowed picture at 16-bit RGBA, twice (the
    // decoder keeps the previous row for unfiltering), besides metadata.
    let row = (info.width as usize).saturating_mul(8);
    decoder.set_limits(png::Limits {
        bytes: METADATA_BYTES.saturating_add(row.saturating_mul(4)),
    });
    decoder.set_transformations(if strip_16 {
        Transformations::EXPAND | Transformations::STRIP_16
    } else {
        Transformations::EXPAND
    });
    decoder.read_info().map_err(damaged)
}

fn header_of(info: &png::Info<'_>) -> Header {
    let orientation = info
        .exif_metadata
        .as_deref()
        .map(|exif| Orientation::from_exif_tiff(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif)))
        .unwrap_or_default();
    Header {
        width: info.width,
        height: info.height,
        orientation,
    }
}

/// Stored size and orientation, without decoding pixels.
pub(super) fn probe(bytes: &[u8], limits: &Limits) -> Result<Header, ImagingError> {
    let reader = open(bytes, limits, false)?;
    Ok(header_of(reader.info()))
}

/// Samples per pixel after `EXPAND`, and whether the last is alpha.
fn channels(color: ColorType) -> (usize, bool) {
    match color {
        ColorType::Grayscale | ColorType::Indexed => (1, false),
        ColorType::GrayscaleAlpha => (2, true),
        ColorType::Rgb => (3, false),
        ColorType::Rgba => (4, true),
    }
}

pub(super) fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, ImagingError> {
    let interlaced = open(bytes, limits, false)?.info().interlaced;
    let mut reader = open(bytes, limits, interlaced)?;
    let header = header_of(reader.info());
    let (color, depth) = reader.output_color_type();
    let (samples, alpha) = channels(color);
    let out_channels = if alpha { samples - 1 } else { samples };
    let (w, h) = (header.width as usize, header.height as usize);
    let picture = w.saturating_mul(h);
    let reserved = picture.saturating_mul(if interlaced { samples } else { out_channels });
    let memory = crate::memory::reserve(reserved as u64);
    crate::cancel::check()?;
    let icc = reader.info().icc_profile.as_ref().map(|p| p.to_vec());
    let mut notes = Vec::new();
    let mut any_transparent = false;
    let pixels = if interlaced {
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| ImagingError::Corrupt {
                format: "PNG",
                detail: "the picture is too large for this computer's address space".into(),
            })?;
        let mut buffer = vec![0u8; size];
        reader.next_frame(&mut buffer).map_err(damaged)?;
        if alpha {
            any_transparent = super::flatten::alpha_in_place(&mut buffer, samples);
        }
        buffer
    } else {
        let mut out = Vec::with_capacity(picture.saturating_mul(out_channels));
        let mut wide: Vec<u16> = Vec::new();
        let mut rows = 0usize;
        while let Some(row) = reader.next_row().map_err(damaged)? {
            let data = row.data();
            match (depth, alpha) {
                (BitDepth::Sixteen, _) => {
                    wide.clear();
                    wide.extend(
                        data.chunks_exact(2)
                            .map(|b| u16::from_be_bytes([b[0], b[1]])),
                    );
                    if alpha {
                        any_transparent |= super::flatten::alpha(&wide, samples, 1, &mut out);
                    } else {
                        out.extend(wide.iter().map(|&v| super::flatten::to_8(v)));
                    }
                }
                (_, true) => {
                    any_transparent |= super::flatten::alpha(data, samples, 257, &mut out);
                }
                (_, false) => out.extend_from_slice(data),
            }
            rows += 1;
            if rows.is_multiple_of(256) {
                crate::cancel::check()?;
            }
        }
        if rows != h {
            return Err(ImagingError::Corrupt {
                format: "PNG",
                detail: "the file is truncated".into(),
            });
        }
        out
    };
    if pixels.len() != picture * out_channels {
        return Err(ImagingError::Corrupt {
            format: "PNG",
            detail: "the file ends before the last row of pixels".into(),
        });
    }
    if depth == BitDepth::Sixteen {
        notes.push("16-bit samples reduced to 8-bit".into());
    }
    if any_transparent {
        notes.push("transparency flattened onto white".into());
    }
    Ok(Decoded {
        header,
        width: header.width,
        height: header.height,
        layout: if out_channels == 1 {
            PixelLayout::Gray
        } else {
            PixelLayout::Rgb
        },
        pixels,
        icc,
        notes,
        _memory: memory,
    })
}
