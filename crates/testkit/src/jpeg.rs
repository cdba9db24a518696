//! Looking inside JPEG files: segment lists, dimensions, pixels.

/// Marker bytes of every segment before the entropy-coded data, in order
/// (e.g. 0xE0 for APP0, 0xFE for COM, 0xC0 for SOF0).
pub fn segments(jpeg: &[u8]) -> Vec<u8> {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "segment does not start with 0xFF at {i}");
        let marker = jpeg[i + 1];
        out.push(marker);
        if marker == 0xDA {
            break; // start of scan: entropy data follows
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        i += 2 + len;
    }
    out
}

/// Whether the file carries anything beyond what a decoder needs: EXIF,
/// XMP, ICC, IPTC/Photoshop (APP1..APP15) or comments.
pub fn has_metadata(jpeg: &[u8]) -> bool {
    segments(jpeg)
        .iter()
        .any(|&m| (0xE1..=0xEF).contains(&m) || m == 0xFE)
}

/// Decode to RGB8: (width, height, pixels).
pub fn decode_rgb(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output JPEG decodes")
        .to_rgb8();
    (img.width(), img.height(), img.into_raw())
}

/// Mean absolute difference per sample between two same-size RGB buffers.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "buffers differ in size");
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.len() as f64
}

/// The RGB pixel at (x, y) of an RGB buffer `width` wide.
pub fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}
