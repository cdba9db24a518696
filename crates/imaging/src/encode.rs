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

/// Outputs up to this side get full-resolution chroma (4:4:4): at thumbnail
/// size every chroma pixel shows. Larger ones use 4:2:0, as every camera
/// and Microsoft 365 itself do.
const FULL_CHROMA_MAX_SIDE: u32 = 256;

/// One encoding at a given quality. `optimize` computes Huffman tables for
/// this picture: a few percent smaller, one more pass.
fn encode_once(
    rgb: &[u8],
    side: u32,
    quality: u8,
    optimize: bool,
) -> Result<Vec<u8>, ImagingError> {
    let result = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut c = Compress::new(ColorSpace::JCS_RGB);
        c.set_fastest_defaults();
        c.set_size(side as usize, side as usize);
        c.set_quality(f32::from(quality));
        c.set_optimize_coding(optimize);
        if side <= FULL_CHROMA_MAX_SIDE {
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
///
/// Small outputs always get optimised Huffman tables (cheap, and the AD
/// budget is tight). Large ones are first tried with the standard tables,
/// which nearly always fit their roomy budget; the search, when needed,
/// optimises every attempt.
pub(crate) fn encode_within(
    rgb: &[u8],
    side: u32,
    max_bytes: usize,
    min: u8,
    max: u8,
) -> Result<Encoded, ImagingError> {
    let first = encode_once(rgb, side, max, side <= FULL_CHROMA_MAX_SIDE)?;
    if first.len() <= max_bytes {
        return Ok(Encoded {
            bytes: first,
            quality: max,
        });
    }
    let floor = encode_once(rgb, side, min, true)?;
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
        crate::cancel::check()?;
        let mid = lo + (hi - lo) / 2;
        let bytes = encode_once(rgb, side, mid, true)?;
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
