//! Down to 8 bits, alpha composited onto white — one pixel at a time, so
//! no 16-bit copy of a picture is ever made.

/// A 16-bit sample rounded to 8 bits.
pub(super) fn to_8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// Appends the colour samples of `raw` (pixels of `channels` samples, the
/// last one alpha), composited onto white, to `out`. `scale` takes a sample
/// to 16 bits (257 for 8-bit samples, 1 for 16-bit ones). Returns whether
/// any pixel was not opaque.
pub(super) fn alpha<T: Copy + Into<u32>>(
    raw: &[T],
    channels: usize,
    scale: u32,
    out: &mut Vec<u8>,
) -> bool {
    let colour = channels - 1;
    let mut any_transparent = false;
    for px in raw.chunks_exact(channels) {
        let a = px[colour].into() * scale;
        any_transparent |= a < 65535;
        for &c in &px[..colour] {
            out.push(composite(c.into() * scale, a));
        }
    }
    any_transparent
}

/// c·a + white·(1 − a), in 16-bit, rounded to 8-bit.
fn composite(c: u32, a: u32) -> u8 {
    let v = (c * a + 65535 * (65535 - a)) / 65535;
    ((v + 128) / 257) as u8
}

/// [`alpha`] for 8-bit samples, written over `buffer` itself (the output
/// of a pixel never overtakes its input) and truncated to the result.
pub(super) fn alpha_in_place(buffer: &mut Vec<u8>, channels: usize) -> bool {
    let colour = channels - 1;
    let mut any_transparent = false;
    let mut write = 0;
    for read in (0..buffer.len() / channels * channels).step_by(channels) {
        let a = u32::from(buffer[read + colour]) * 257;
        any_transparent |= a < 65535;
        for k in 0..colour {
            buffer[write] = composite(u32::from(buffer[read + k]) * 257, a);
            write += 1;
        }
    }
    buffer.truncate(write);
    buffer.shrink_to_fit();
    any_transparent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_and_copying_flattening_agree() {
        let raw: Vec<u8> = (0..4 * 300).map(|i| (i * 37 % 256) as u8).collect();
        let mut copied = Vec::new();
        let any = alpha(&raw, 4, 257, &mut copied);
        let mut in_place = raw.clone();
        assert_eq!(alpha_in_place(&mut in_place, 4), any);
        assert_eq!(in_place, copied);
        let wide: Vec<u16> = raw.iter().map(|&v| u16::from(v) * 257).collect();
        let mut from_16 = Vec::new();
        alpha(&wide, 4, 1, &mut from_16);
        assert_eq!(from_16, copied);
        // Opaque stays as is, fully transparent becomes white.
        let mut px = Vec::new();
        assert!(!alpha(&[10u8, 20, 30, 255], 4, 257, &mut px));
        assert_eq!(px, [10, 20, 30]);
        px.clear();
        assert!(alpha(&[10u8, 0], 2, 257, &mut px));
        assert_eq!(px, [255]);
        assert_eq!(to_8(65535), 255);
        assert_eq!(to_8(0), 0);
    }
}
