//! Palette ("RGBPalette") TIFFs, which the `tiff` crate does not expand.
//!
//! Old scanners and fax software still write them (often 1-bit). Only the
//! first page's strips are read; uncompressed, PackBits and LZW data are
//! handled, anything else is reported as unsupported.

use super::{check_pixels, Decoded, Header, PixelLayout};
use crate::{ImagingError, Limits, Orientation};
use std::io::Cursor;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

fn corrupt(detail: impl Into<String>) -> ImagingError {
    ImagingError::Corrupt {
        format: "TIFF",
        detail: detail.into(),
    }
}

fn unsupported(detail: impl Into<String>) -> ImagingError {
    ImagingError::UnsupportedFormat {
        detail: detail.into(),
    }
}

/// Whether the first page is a palette image (photometric interpretation 3).
pub(super) fn is_palette(bytes: &[u8]) -> bool {
    Decoder::new(Cursor::new(bytes)).ok().and_then(|mut d| {
        d.find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
            .ok()
            .flatten()
    }) == Some(3)
}

pub(super) fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, ImagingError> {
    let mut d = Decoder::new(Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let mut tag = |t: Tag| -> Result<Vec<u32>, ImagingError> {
        d.get_tag_u32_vec(t)
            .map_err(|e| corrupt(format!("tag {t:?}: {e}")))
    };
    let width = *tag(Tag::ImageWidth)?
        .first()
        .ok_or_else(|| corrupt("no width"))?;
    let height = *tag(Tag::ImageLength)?
        .first()
        .ok_or_else(|| corrupt("no height"))?;
    check_pixels(u64::from(width), u64::from(height), limits)?;
    let bits = tag(Tag::BitsPerSample)?.first().copied().unwrap_or(1);
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return Err(unsupported(format!(
            "a palette TIFF with {bits} bits per sample"
        )));
    }
    let compression = tag(Tag::Compression)
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    let rows_per_strip = tag(Tag::RowsPerStrip)
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(height)
        .max(1);
    let offsets = tag(Tag::StripOffsets)?;
    let counts = tag(Tag::StripByteCounts)?;
    let colormap: Vec<u32> = tag(Tag::ColorMap)?;
    let entries = 1usize << bits;
    if colormap.len() < entries * 3 {
        return Err(corrupt(
            "the colour map is shorter than the bit depth needs",
        ));
    }
    let row_bytes = (width as usize * bits as usize).div_ceil(8);
    let mut packed = Vec::with_capacity(row_bytes * height as usize);
    for (i, (&off, &count)) in offsets.iter().zip(&counts).enumerate() {
        let start = off as usize;
        let end = start
            .checked_add(count as usize)
            .ok_or_else(|| corrupt("strip size overflows"))?;
        let raw = bytes
            .get(start..end)
            .ok_or_else(|| corrupt(format!("strip {i} lies outside the file")))?;
        let rows = rows_per_strip.min(height.saturating_sub(i as u32 * rows_per_strip)) as usize;
        let expected = rows * row_bytes;
        let strip = match compression {
            1 => raw.to_vec(),
            5 => weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
                .decode(raw)
                .map_err(|e| corrupt(format!("LZW strip {i}: {e}")))?,
            32773 => unpack_bits(raw, expected),
            other => {
                return Err(unsupported(format!(
                    "a palette TIFF with compression {other}"
                )))
            }
        };
        if strip.len() < expected {
            return Err(corrupt(format!("strip {i} is truncated")));
        }
        packed.extend_from_slice(&strip[..expected]);
    }
    if packed.len() < row_bytes * height as usize {
        return Err(corrupt("the image has fewer strips than rows"));
    }
    let memory = crate::memory::reserve(u64::from(width) * u64::from(height) * 3);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    let mask = (1u32 << bits) - 1;
    for row in packed.chunks_exact(row_bytes).take(height as usize) {
        for x in 0..width as usize {
            let bit = x * bits as usize;
            let byte = u32::from(row[bit / 8]);
            let index = ((byte >> (8 - bits as usize - bit % 8)) & mask) as usize;
            for channel in 0..3 {
                pixels.push((colormap[channel * entries + index] >> 8) as u8);
            }
        }
    }
    Ok(Decoded {
        header: Header {
            width,
            height,
            orientation: Orientation::NORMAL,
        },
        width,
        height,
        layout: PixelLayout::Rgb,
        pixels,
        icc: None,
        notes: vec!["palette TIFF expanded".into()],
        _memory: memory,
    })
}

/// PackBits (TIFF compression 32773), up to `limit` bytes.
fn unpack_bits(src: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < src.len() && out.len() < limit {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let end = (i + len).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if n != -128 {
            if let Some(&b) = src.get(i) {
                out.extend(std::iter::repeat_n(b, (1 - isize::from(n)) as usize));
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unpack_bits;

    #[test]
    fn packbits_round_trip() {
        // Apple's example from the TIFF 6.0 specification.
        let packed = [
            0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7,
            0xAA,
        ];
        let expected = [
            0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22,
            0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        ];
        assert_eq!(unpack_bits(&packed, 100), expected);
    }
}
