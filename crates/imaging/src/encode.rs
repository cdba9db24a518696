//! JPEG encoding within a byte budget.
//!
//! libjpeg-turbo's encoder (mozjpeg build, with its "fastest" libjpeg-v6
//! settings plus optimised Huffman tables) writes baseline JPEGs that every
//! directory client reads. Nothing but the JFIF header is written: no EXIF,
//! GPS, XMP, ICC or comments. Quality is searched downwards from the
//! maximum until the file fits: usually the first try fits.

use crate::ImagingError;
use mozjpeg::{ColorSpace, Compress};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One encoding at a given quality.
fn encode_once(rgb: &[u8], side: u32, quality: u8) -> Result<Vec<u8>, ImagingError> {
    let result = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut c = Compress::new(ColorSpace::JCS_RGB);
        c.set_fastest_defaults();
        c.set_size(side as usize, side as usize);
        c.set_quality(f32::from(quality));
        c.set_optimize_coding(true);
        // High quality keeps full-resolution colour (4:4:4); below that,
        // 4:2:0 saves bytes where nobody can see the difference.
        if quality >= 90 {
            c.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
        } else {
            c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
        let mut started = c.start_compress(Vec::with_capacity(rgb.len() / 8))?;
        started.write_scanlines(rgb)?;
        started.finish()
    }));
    match result {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(ImagingError::Encode(e.to_string())),
        Err(_) => Err(ImagingError::Encode(
            "libjpeg refused the parameters".into(),
        )),
    }
}

/// The result of a budgeted encode.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) bytes: Vec<u8>,
    pub(crate) quality: u8,
}

/// Highest quality in `min..=max` whose file fits `max_bytes`.
pub(crate) fn encode_within(
    rgb: &[u8],
    side: u32,
    max_bytes: usize,
    min: u8,
    max: u8,
) -> Result<Encoded, ImagingError> {
    let first = encode_once(rgb, side, max)?;
    if first.len() <= max_bytes {
        return Ok(Encoded {
            bytes: first,
            quality: max,
        });
    }
    let floor = encode_once(rgb, side, min)?;
    if floor.len() > max_bytes {
        return Err(ImagingError::BudgetUnreachable {
            size: side,
            max_bytes,
            floor_quality: min,
            smallest: floor.len(),
        });
    }
    // Invariant: `lo` fits, `hi` does not. File size grows with quality
    // (monotone in practice), so bisection finds the best fit in ~log2 steps.
    let (mut lo, mut hi) = (min, max);
    let mut best = Encoded {
        bytes: floor,
        quality: min,
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let bytes = encode_once(rgb, side, mid)?;
        if bytes.len() <= max_bytes {
            lo = mid;
            best = Encoded {
                bytes,
                quality: mid,
            };
        } else {
            hi = mid;
        }
    }
    Ok(best)
}
