//! The real pixel extent of a GIF, read before decoding.
//!
//! A GIF's logical screen can say 32×32 while its first frame sits at
//! offset 65,280 and is 65,535 wide: decoders then build a canvas of
//! gigapixels. The limit must see the frame's extent, not just the screen.

use super::check_pixels;
use crate::{ImagingError, Limits};

/// Check the logical screen and the first frame's extent against `limits`.
/// A malformed header is left for the decoder to report.
pub(super) fn check(bytes: &[u8], limits: &Limits) -> Result<(), ImagingError> {
    let Some((w, h)) = first_frame_extent(bytes) else {
        return Ok(());
    };
    check_pixels(u64::from(w).max(1), u64::from(h).max(1), limits)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *bytes.get(at)?,
        *bytes.get(at + 1)?,
    ])))
}

/// max(screen, frame offset + frame size) in each direction.
fn first_frame_extent(bytes: &[u8]) -> Option<(u32, u32)> {
    let screen_w = u16_at(bytes, 6)?;
    let screen_h = u16_at(bytes, 8)?;
    let flags = *bytes.get(10)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 0x07) + 1); // global colour table
    }
    loop {
        match *bytes.get(at)? {
            0x21 => {
                // Extension: label, then data sub-blocks until a 0 length.
                at += 2;
                loop {
                    let len = usize::from(*bytes.get(at)?);
                    at += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            0x2C => {
                let left = u16_at(bytes, at + 1)?;
                let top = u16_at(bytes, at + 3)?;
                let w = u16_at(bytes, at + 5)?;
                let h = u16_at(bytes, at + 7)?;
                return Some((screen_w.max(left + w), screen_h.max(top + h)));
            }
            _ => return Some((screen_w, screen_h)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_frame_far_outside_the_screen() {
        // 32×32 screen, no colour table, frame at (0, 65280) of 65535×1321.
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[32, 0, 32, 0, 0, 0, 0]);
        gif.extend_from_slice(&[0x21, 0xF9, 4, 0, 0, 0, 0, 0]);
        gif.extend_from_slice(&[0x2C, 0, 0, 0x00, 0xFF, 0xFF, 0xFF, 0x29, 0x05, 0]);
        assert_eq!(first_frame_extent(&gif), Some((65535, 65280 + 1321)));
        let err = check(&gif, &Limits::default());
        assert!(
            matches!(err, Err(ImagingError::TooManyPixels { width: 65535, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn plain_gif_passes() {
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[10, 0, 10, 0, 0, 0, 0, 0x2C, 0, 0, 0, 0, 10, 0, 10, 0, 0]);
        assert_eq!(first_frame_extent(&gif), Some((10, 10)));
        assert!(check(&gif, &Limits::default()).is_ok());
    }
}
