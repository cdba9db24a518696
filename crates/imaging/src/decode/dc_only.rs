//! Progressive JPEGs decoded at 1/8 scale: leave out the luma AC scans.
//!
//! Why: at 1/8 scale libjpeg decodes each full-resolution component (luma,
//! or every component of a 4:4:4 file) with a 1×1 inverse DCT, which reads
//! nothing but each block's DC coefficient. (Subsampled chroma gets a 2×2
//! IDCT, to do part of its upsampling, and needs its first AC
//! coefficients, so its scans stay.) A baseline file interleaves DC and AC
//! in one entropy-coded stream, so every coefficient must still be
//! Huffman-decoded to find the next one. A progressive file, though, stores
//! AC coefficients in scans of their own, one component each — the luma
//! ones are most of the decoding work — and those can be left out without
//! reading them: a decoder treats coefficients it never received as zero,
//! and the 1×1 IDCT never looks at them. The pixels are identical (tested);
//! a 96×96 thumbnail of a 12-megapixel progressive photo costs a fraction
//! of a full decode.
//!
//! The filter is deliberately conservative: anything it does not fully
//! understand (not progressive Huffman, a malformed segment, no end marker)
//! returns `None`, and the caller decodes the original bytes the ordinary
//! way, with the ordinary errors.

/// Marker codes (the byte after 0xFF).
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const SOF2: u8 = 0xC2;
const TEM: u8 = 0x01;

/// `bytes` without the AC scans (spectral start > 0) of full-resolution
/// components, when `bytes` is a well-formed progressive Huffman JPEG that
/// has at least one; otherwise `None`.
pub(super) fn dc_scans_only(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.get(..2)? != [0xFF, SOI] {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    out.extend_from_slice(&bytes[..2]);
    let mut at = 2;
    let (mut kept, mut dropped) = (0usize, 0usize);
    // Ids of the full-resolution components, from the progressive frame header.
    let mut full_resolution: Option<Vec<u8>> = None;
    loop {
        // A marker: 0xFF, optional 0xFF fill bytes, then the code.
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        while *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        let code = *bytes.get(at + 1)?;
        match code {
            EOI => {
                out.extend_from_slice(&[0xFF, EOI]);
                return (full_resolution.is_some() && kept > 0 && dropped > 0).then_some(out);
            }
            TEM => {
                out.extend_from_slice(&[0xFF, TEM]);
                at += 2;
                continue;
            }
            // Stray SOI, restart markers outside a scan, or 0x00: not a
            // file we understand.
            0x00 | SOI | 0xD0..=0xD7 => return None,
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        if length < 2 {
            return None;
        }
        let end = at.checked_add(2 + length)?;
        let segment = bytes.get(at..end)?;
        match code {
            // Any other frame type (baseline, extended, lossless, arithmetic,
            // hierarchical): decode normally.
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            SOF2 => full_resolution = Some(full_resolution_ids(segment)?),
            _ => {}
        }
        if code != SOS {
            out.extend_from_slice(segment);
            at = end;
            continue;
        }
        // SOS: FF DA, length, Ns, Ns × (id, tables), Ss, Se, Ah/Al.
        let components = usize::from(*segment.get(4)?);
        let ids = segment.get(5..5 + 2 * components)?.iter().step_by(2);
        let spectral_start = *segment.get(5 + 2 * components)?;
        let data_end = end + entropy_data_len(bytes.get(end..)?)?;
        let full = full_resolution.as_deref()?;
        let only_full_resolution = components > 0 && ids.into_iter().all(|id| full.contains(id));
        if spectral_start == 0 || !only_full_resolution {
            out.extend_from_slice(bytes.get(at..data_end)?);
            kept += 1;
        } else {
            dropped += 1;
        }
        at = data_end;
    }
}

/// What the marker walk of [`count_scans`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Scans {
    /// SOS segments of the first image.
    pub(super) count: usize,
    /// Components of a progressive frame (libjpeg then keeps every
    /// coefficient of the whole picture in memory), if it is one.
    pub(super) progressive_components: Option<u8>,
}

/// How many scans (SOS segments) the first image of `bytes` has, found the
/// way libjpeg finds markers: segments are skipped by their length (so an
/// EXIF thumbnail's scans inside APP1 do not count), junk between markers
/// is skipped, entropy-coded data runs to the next real marker, and the
/// count stops at EOI. Cheap: one pass, no decoding.
pub(super) fn count_scans(bytes: &[u8]) -> Scans {
    let mut at = 2;
    let mut scans = Scans::default();
    while let Some(found) = bytes.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) {
        at += found;
        let Some(&code) = bytes.get(at + 1) else {
            break;
        };
        match code {
            // A fill byte: the marker code comes after the last 0xFF.
            0xFF => {
                at += 1;
                continue;
            }
            // Stuffed zero, TEM, restart markers, stray SOI: no length.
            0x00 | TEM | 0xD0..=0xD7 | SOI => {
                at += 2;
                continue;
            }
            EOI => break,
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(at + 2), bytes.get(at + 3)) else {
            break;
        };
        if code == SOF2 || code == 0xCA {
            scans.progressive_components = bytes.get(at + 9).copied();
        }
        at += 2 + usize::from(u16::from_be_bytes([hi, lo]));
        if code == SOS {
            scans.count += 1;
            match bytes.get(at..).and_then(entropy_data_len) {
                Some(len) => at += len,
                None => break,
            }
        }
    }
    scans
}

/// The ids of the components sampled at the frame's full resolution, from a
/// SOF segment (FF Cx, length, precision, height, width, Nf, Nf × (id,
/// sampling, table)).
fn full_resolution_ids(segment: &[u8]) -> Option<Vec<u8>> {
    let count = usize::from(*segment.get(9)?);
    let specs: Vec<(u8, u8)> = segment
        .get(10..10 + 3 * count)?
        .chunks_exact(3)
        .map(|c| (c[0], c[1]))
        .collect();
    let max_h = specs.iter().map(|(_, hv)| hv >> 4).max()?;
    let max_v = specs.iter().map(|(_, hv)| hv & 0x0F).max()?;
    Some(
        specs
            .iter()
            .filter(|(_, hv)| hv >> 4 == max_h && hv & 0x0F == max_v)
            .map(|(id, _)| *id)
            .collect(),
    )
}

/// The length of the entropy-coded data at the start of `data`: up to the
/// next marker that is not a stuffed zero (FF 00) or a restart (FF D0–D7).
/// `None` when the data ends first (a truncated file).
fn entropy_data_len(data: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += memchr::memchr(0xFF, data.get(at..)?)?;
        match *data.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => at += 2,
            // Fill bytes: the marker is after the last 0xFF.
            0xFF => at += 1,
            _ => return Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userphoto_testkit::fixtures::{self, JpegOptions};

    fn progressive(width: u32, height: u32) -> Vec<u8> {
        fixtures::progressive_noise_jpeg(width, height, 7)
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn keeps_only_the_dc_scans_of_a_progressive_file() {
        let bytes = progressive(640, 480);
        let dc = dc_scans_only(&bytes).expect("a progressive file is filtered");
        assert!(
            dc.len() < bytes.len() * 3 / 4,
            "{} of {}",
            dc.len(),
            bytes.len()
        );
        assert_eq!(&dc[..2], &[0xFF, SOI]);
        assert_eq!(&dc[dc.len() - 2..], &[0xFF, EOI]);
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn leaves_baseline_truncated_and_foreign_bytes_alone() {
        let img = fixtures::noise(320, 240, 3);
        let baseline = fixtures::jpeg(
            &img,
            &JpegOptions {
                quality: 90,
                progressive: false,
                ..JpegOptions::default()
            },
        );
        assert!(dc_scans_only(&baseline).is_none());
        let bytes = progressive(320, 240);
        for cut in [0.3, 0.6, 0.95] {
            assert!(dc_scans_only(&fixtures::truncated(&bytes, cut)).is_none());
        }
        assert!(dc_scans_only(b"not a jpeg").is_none());
        assert!(dc_scans_only(&[0xFF, SOI, 0xFF, 0xC4, 0x00]).is_none());
        assert!(dc_scans_only(&[0xFF, SOI, 0xFF, 0xC4, 0x00, 0x01]).is_none());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn counts_the_scans_of_the_first_image_only() {
        assert_eq!(count_scans(&progressive(320, 240)).count, 10);
        assert_eq!(
            count_scans(&progressive(320, 240)).progressive_components,
            Some(3)
        );
        let img = fixtures::noise(64, 48, 3);
        let baseline = fixtures::jpeg(&img, &JpegOptions::default());
        assert_eq!(count_scans(&baseline).count, 1);
        assert_eq!(count_scans(&baseline).progressive_components, None);
        // A second image after EOI (as in MPO files) is not read.
        let mut two = baseline.clone();
        two.extend_from_slice(&fixtures::progressive_scan_bomb(64, 64, 500));
        assert_eq!(count_scans(&two).count, 1);
        assert_eq!(
            count_scans(&fixtures::progressive_scan_bomb(64, 64, 500)).count,
            500
        );
        // An embedded JPEG inside an APP1 segment is skipped with it.
        let inner = fixtures::progressive_scan_bomb(16, 16, 300);
        let mut app = vec![0xFF, SOI, 0xFF, 0xE1];
        app.extend_from_slice(&((inner.len() + 2) as u16).to_be_bytes());
        app.extend_from_slice(&inner);
        app.extend_from_slice(&baseline[2..]);
        assert_eq!(count_scans(&app).count, 1);
        assert_eq!(count_scans(b"").count, 0);
        assert_eq!(count_scans(&[0xFF, SOI, 0xFF, SOS]).count, 0);
    }

    #[test]
    fn restart_markers_and_stuffing_stay_inside_the_scan() {
        assert_eq!(
            entropy_data_len(&[1, 0xFF, 0x00, 2, 0xFF, 0xD3, 3, 0xFF, 0xDA]),
            Some(7)
        );
        assert_eq!(entropy_data_len(&[1, 0xFF, 0xFF, 0xFF, 0xC4]), Some(3));
        assert_eq!(entropy_data_len(&[1, 2, 0xFF, 0x00]), None);
    }
}
