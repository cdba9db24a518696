//! JPEG through libjpeg-turbo (mozjpeg build): scaled decode, CMYK, ICC,
//! EXIF orientation, and strict handling of damaged data.

use super::jpeg_errors::{strict_error_mgr, JpegFailure};
use super::{check_pixels, Decoded, Header, PixelLayout, ScaleChooser};
use crate::{ImagingError, Limits, Orientation};
use mozjpeg::{Decompress, Format, Marker};
use std::panic::{catch_unwind, AssertUnwindSafe};

const MARKERS: &[Marker] = &[Marker::APP(1), Marker::APP(2), Marker::APP(14)];

/// Most scans a JPEG may have. Each progressive scan makes libjpeg walk
/// every block of its components, however few bytes it takes (an "EOB
/// run" says "all zero" for 32,767 blocks in two bytes), so a 1 MB file of
/// thousands of scans costs minutes of CPU (libjpeg-turbo's LJT-01-003).
/// Real encoders write 1 (baseline) to ~12 (libjpeg's progression, mozjpeg's
/// optimised scans); its authors find it "hard to imagine any real-world
/// application needing more than 100". At 100, a 100-megapixel file
/// finishes within ~2 s of CPU (`benches/scan_bomb.rs` measures it).
pub(crate) const MAX_SCANS: usize = 100;

/// Refuses a file with more than [`MAX_SCANS`] scans before libjpeg reads it.
fn check_scans(bytes: &[u8]) -> Result<super::dc_only::Scans, ImagingError> {
    let found = super::dc_only::count_scans(bytes);
    let scans = found.count;
    if scans > MAX_SCANS {
        return Err(corrupt(format!(
            "it has {scans} progressive scans, more than the {MAX_SCANS} any real encoder writes; refused unread, as decoding it would take minutes (a \"scan bomb\")"
        )));
    }
    Ok(found)
}

fn corrupt(detail: impl Into<String>) -> ImagingError {
    ImagingError::Corrupt {
        format: "JPEG",
        detail: detail.into(),
    }
}

/// Run libjpeg code, turning its unwinding errors into `ImagingError`.
fn guarded<T>(f: impl FnOnce() -> Result<T, ImagingError>) -> Result<T, ImagingError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = if let Some(JpegFailure(msg)) = payload.downcast_ref::<JpegFailure>() {
                msg.clone()
            } else if let Some(msg) = payload.downcast_ref::<String>() {
                msg.clone()
            } else if let Some(msg) = payload.downcast_ref::<&str>() {
                (*msg).to_string()
            } else {
                "the decoder stopped on invalid data".to_string()
            };
            if detail.contains("Arithmetic")
                || detail.contains("precision")
                || detail.contains("Unsupported")
            {
                Err(ImagingError::UnsupportedFormat {
                    detail: format!("a JPEG variant this build cannot read: {detail}"),
                })
            } else {
                Err(corrupt(lowercase_first(&detail)))
            }
        }
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn open(bytes: &[u8]) -> Result<Decompress<&[u8]>, ImagingError> {
    Decompress::builder()
        .with_err(strict_error_mgr())
        .with_markers(MARKERS)
        .from_mem(bytes)
        .map_err(|e| corrupt(format!("unreadable header ({e})")))
}

struct Metadata {
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    adobe: bool,
}

fn read_metadata(d: &Decompress<&[u8]>) -> Metadata {
    let mut orientation = Orientation::NORMAL;
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut adobe = false;
    for m in d.markers() {
        match m.marker {
            Marker::APP(1) if m.data.starts_with(b"Exif\0\0") => {
                orientation = Orientation::from_exif_tiff(&m.data[6..]);
            }
            Marker::APP(2) if m.data.starts_with(b"ICC_PROFILE\0") && m.data.len() > 14 => {
                icc_chunks.push((m.data[12], &m.data[14..]));
            }
            Marker::APP(14) if m.data.starts_with(b"Adobe") => adobe = true,
            _ => {}
        }
    }
    icc_chunks.sort_by_key(|(seq, _)| *seq);
    let icc = (!icc_chunks.is_empty()).then(|| {
        icc_chunks
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect()
    });
    Metadata {
        orientation,
        icc,
        adobe,
    }
}

pub(super) fn probe(bytes: &[u8], limits: &Limits) -> Result<Header, ImagingError> {
    guarded(|| {
        let d = open(bytes)?;
        let (w, h) = d.size();
        check_pixels(w as u64, h as u64, limits)?;
        let meta = read_metadata(&d);
        Ok(Header {
            width: w as u32,
            height: h as u32,
            orientation: meta.orientation,
        })
    })
}

pub(super) fn decode(
    bytes: &[u8],
    limits: &Limits,
    choose_scale: ScaleChooser<'_>,
) -> Result<Decoded, ImagingError> {
    decode_with(bytes, limits, choose_scale, true)
}

/// [`decode`], with the progressive DC-only shortcut on or off (off only in
/// tests, to compare the two).
fn decode_with(
    bytes: &[u8],
    limits: &Limits,
    choose_scale: ScaleChooser<'_>,
    skip_ac_scans: bool,
) -> Result<Decoded, ImagingError> {
    let scans = check_scans(bytes)?;
    guarded(|| {
        let d = open(bytes)?;
        let (w, h) = d.size();
        check_pixels(w as u64, h as u64, limits)?;
        let meta = read_metadata(&d);
        let header = Header {
            width: w as u32,
            height: h as u32,
            orientation: meta.orientation,
        };
        let numerator = choose_scale(&header)?.clamp(1, 8);
        // At 1/8 scale only DC coefficients are used; a progressive file's
        // AC scans can then be left unread (see dc_only.rs).
        let dc_stream = (skip_ac_scans && numerator == 1)
            .then(|| super::dc_only::dc_scans_only(bytes))
            .flatten();
        let mut d = match &dc_stream {
            Some(stream) => {
                drop(d);
                let mut dc = open(stream)?;
                // Smoothing estimates missing AC coefficients, which the 1×1
                // IDCT ignores anyway.
                dc.do_block_smoothing(false);
                dc
            }
            None => d,
        };
        d.scale(numerator);
        if numerator < 8 {
            // The picture is shrunk further by a proper filter afterwards, so
            // libjpeg's cheaper merged (box) chroma upsampling loses nothing
            // visible and saves a pass over every pixel.
            d.do_fancy_upsampling(false);
        }
        // The output buffer at the chosen scale (4 bytes per pixel covers
        // CMYK) and, for a progressive file, libjpeg's coefficients of the
        // whole picture (2 bytes per sample) — whatever the scale.
        let (sw, sh) = (
            (w as u64 * u64::from(numerator)).div_ceil(8),
            (h as u64 * u64::from(numerator)).div_ceil(8),
        );
        let coefficients = scans.progressive_components.map_or(0, |c| {
            (w as u64 * h as u64).saturating_mul(2 * u64::from(c))
        });
        let memory = crate::memory::reserve((sw * sh * 4).saturating_add(coefficients));
        crate::cancel::check()?;
        let mut notes = Vec::new();
        if numerator < 8 {
            notes.push(format!("decoded at {numerator}/8 scale"));
        }
        if dc_stream.is_some() {
            notes.push("progressive AC scans skipped (only DC is used at 1/8 scale)".into());
        }
        let (mut started, layout) = match d.image().map_err(|e| corrupt(e.to_string()))? {
            Format::RGB(s) => (s, PixelLayout::Rgb),
            Format::Gray(s) => (s, PixelLayout::Gray),
            Format::CMYK(s) => (
                s,
                PixelLayout::Cmyk {
                    inverted: meta.adobe,
                },
            ),
        };
        let (bw, bh) = (started.width(), started.height());
        let pixels: Vec<u8> = started
            .read_scanlines()
            .map_err(|e| corrupt(format!("pixel data unreadable ({e})")))?;
        if pixels.len() != bw * bh * layout.channels() {
            return Err(corrupt("the file ends before the last row of pixels"));
        }
        started
            .finish()
            .map_err(|e| corrupt(format!("bad end of image ({e})")))?;
        Ok(Decoded {
            header,
            width: bw as u32,
            height: bh as u32,
            layout,
            pixels,
            icc: meta.icc,
            notes,
            _memory: memory,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use userphoto_testkit::fixtures;

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn skipping_ac_scans_at_one_eighth_gives_the_same_pixels() {
        for (w, h, seed) in [(1024, 768, 1), (999, 601, 2), (64, 40, 3)] {
            let bytes = fixtures::progressive_noise_jpeg(w, h, seed);
            let limits = Limits::default();
            let eighth: ScaleChooser<'_> = &|_| Ok(1);
            let fast = decode_with(&bytes, &limits, eighth, true).unwrap();
            let full = decode_with(&bytes, &limits, eighth, false).unwrap();
            assert!(fast.notes.iter().any(|n| n.contains("AC scans skipped")));
            assert!(!full.notes.iter().any(|n| n.contains("AC scans skipped")));
            assert_eq!((fast.width, fast.height), (full.width, full.height));
            assert!(fast.pixels == full.pixels, "{w}x{h}: pixels differ");
        }
    }

    #[test]
    fn a_scan_bomb_is_refused_naming_its_scans() {
        let limits = Limits::default();
        for scale in [1u8, 8] {
            let chooser: ScaleChooser<'_> = &|_| Ok(scale);
            let bomb = fixtures::progressive_scan_bomb(256, 256, MAX_SCANS + 1);
            let err = decode(&bomb, &limits, chooser).unwrap_err();
            assert_eq!(err.code(), "corrupt", "{err}");
            assert!(err.to_string().contains("101 progressive scans"), "{err}");
            // At the limit it is an ordinary (if odd) file and decodes.
            let ok = fixtures::progressive_scan_bomb(256, 256, MAX_SCANS);
            let d = decode(&ok, &limits, chooser).unwrap();
            assert_eq!(d.header.width, 256);
        }
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the fixture's progressive JPEG of noise fails to encode in the Windows build (mozjpeg: Missing Huffman code table entry; docs/TESTING.md)"
    )]
    fn larger_scales_read_every_scan() {
        let bytes = fixtures::progressive_noise_jpeg(800, 600, 4);
        let quarter: ScaleChooser<'_> = &|_| Ok(2);
        let d = decode(&bytes, &Limits::default(), quarter).unwrap();
        assert!(!d.notes.iter().any(|n| n.contains("AC scans skipped")));
    }

    /// The real progressive photos of the corpus (camera-size ones in
    /// `large/`, odd ones in `odd/`) give identical pixels both ways.
    #[test]
    fn corpus_progressive_photos_decode_the_same_at_one_eighth() {
        let Some(corpus) = userphoto_testkit::corpus::dir(
            "odd/MANIFEST.tsv",
            "the AC-scan shortcut on real progressive photos",
        ) else {
            return;
        };
        let mut compared = 0;
        for sub in ["large", "odd", "orientation"] {
            let Ok(entries) = std::fs::read_dir(corpus.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                if super::super::dc_only::dc_scans_only(&bytes).is_none() {
                    continue;
                }
                let eighth: ScaleChooser<'_> = &|_| Ok(1);
                let limits = Limits::default();
                let fast = decode_with(&bytes, &limits, eighth, true);
                let full = decode_with(&bytes, &limits, eighth, false);
                match (fast, full) {
                    (Ok(fast), Ok(full)) => {
                        assert!(
                            fast.pixels == full.pixels,
                            "{}: pixels differ",
                            path.display()
                        );
                        compared += 1;
                    }
                    // A file whose AC scans are damaged is rejected by the full
                    // decode and may be read by the shortcut (which never
                    // looks at them); anything else must agree.
                    (Ok(_), Err(e)) => {
                        eprintln!("{}: only the full decode fails: {e}", path.display())
                    }
                    (Err(fast), full) => {
                        panic!(
                            "{}: the shortcut fails ({fast}); the full decode {}",
                            path.display(),
                            if full.is_ok() {
                                "succeeds"
                            } else {
                                "fails too"
                            }
                        )
                    }
                }
            }
        }
        assert!(
            compared >= 3,
            "expected the corpus's progressive photos, compared {compared}"
        );
    }
}
