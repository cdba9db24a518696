//! The pipeline proper: ties decode, crop, resize, colour, orientation and
//! encode together for one source and several output sizes.

use crate::color::ToSrgb;
use crate::decode::{self, Header};
use crate::encode::encode_within;
use crate::face::{detect_faces, frame_face, measure, upper_centre, WorkingCopy};
use crate::resize::{resize_square, Region};
use crate::sniff::{describe_unknown, sniff};
use crate::{
    CropBox, CropMode, FaceBox, Framing, ImagingError, Limits, OutputReport, PrepareOptions,
    Prepared, PreparedPhoto, QualityIssue, Report, SourceFormat, BLUR_THRESHOLD, DARK_THRESHOLD,
    MIN_FACE_FRACTION, SEVERAL_FACES_RATIO,
};
use fast_image_resize::Resizer;
use serde::Serialize;

/// What a quick look at the header tells, without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// Format found by sniffing.
    pub format: SourceFormat,
    /// Upright width.
    pub width: u32,
    /// Upright height.
    pub height: u32,
    /// EXIF orientation (1 = none).
    pub orientation: u8,
}

impl SourceInfo {
    /// Side of the largest centred square.
    pub fn square_side(&self) -> u32 {
        self.width.min(self.height)
    }
}

fn check_input(bytes: &[u8], limits: &Limits) -> Result<SourceFormat, ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    if bytes.len() > limits.max_input_bytes {
        return Err(ImagingError::InputTooLarge {
            bytes: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    sniff(bytes).ok_or_else(|| ImagingError::UnsupportedFormat {
        detail: describe_unknown(bytes),
    })
}

/// Read the format, upright size and orientation without decoding pixels.
/// Used by the size rule (≤ 96 px goes to Active Directory only).
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<SourceInfo, ImagingError> {
    let format = check_input(bytes, limits)?;
    let header = decode::probe(bytes, format, limits)?;
    Ok(info_of(format, &header))
}

fn info_of(format: SourceFormat, header: &Header) -> SourceInfo {
    let (width, height) = header.orientation.upright_dims(header.width, header.height);
    SourceInfo {
        format,
        width,
        height,
        orientation: header.orientation.exif_value(),
    }
}

/// The square to take, in upright source pixels, validated.
fn crop_box(mode: CropMode, width: u32, height: u32) -> Result<CropBox, ImagingError> {
    let (w, h) = (f64::from(width), f64::from(height));
    match mode {
        // Face framing is decided after decoding; the centred square plans
        // the decode scale (re-decoded finer if the face needs it).
        CropMode::Centre | CropMode::Face | CropMode::Auto => {
            let side = w.min(h);
            Ok(CropBox {
                x: ((w - side) / 2.0).floor(),
                y: ((h - side) / 2.0).floor(),
                side,
            })
        }
        CropMode::Box(b) => {
            let eps = 1e-6;
            if !(b.side >= 1.0
                && b.x >= -eps
                && b.y >= -eps
                && b.x + b.side <= w + eps
                && b.y + b.side <= h + eps)
            {
                return Err(ImagingError::InvalidOptions(format!(
                    "crop box x={} y={} side={} is not inside the {width}×{height} image",
                    b.x, b.y, b.side
                )));
            }
            Ok(b)
        }
    }
}

/// A reusable worker: holds the resampler's scratch buffers. Keep one per
/// thread when converting many photos.
#[derive(Debug, Default)]
pub struct Pipeline {
    resizer: Resizer,
}

impl Pipeline {
    /// A new worker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepare every output of `options` from `bytes`.
    pub fn prepare(
        &mut self,
        bytes: &[u8],
        options: &PrepareOptions,
    ) -> Result<Prepared, ImagingError> {
        options.validate()?;
        crate::cancel::check()?;
        let format = check_input(bytes, &options.limits)?;

        // Plan the decode from the header: the crop and the largest output
        // decide how far a JPEG can be shrunk while decoding.
        let sides = std::cell::Cell::new(None::<(CropBox, Vec<u32>)>);
        let choose_scale = |header: &Header| -> Result<u8, ImagingError> {
            let (uw, uh) = header.orientation.upright_dims(header.width, header.height);
            let crop = crop_box(options.crop, uw, uh)?;
            let outs = output_sides(options, crop.side);
            let needed = f64::from(outs.iter().copied().max().unwrap_or(1));
            sides.set(Some((crop, outs)));
            // Smallest n with side·n/8 ≥ needed: libjpeg-turbo then does
            // most of the shrinking inside the IDCT, for free.
            Ok((1..=8u8)
                .find(|&n| crop.side * f64::from(n) / 8.0 >= needed - 1e-9)
                .unwrap_or(8))
        };
        let decoded = decode::decode(bytes, format, &options.limits, &choose_scale)?;
        crate::cancel::check()?;
        let (crop, outs) = match sides.take() {
            Some(s) => s,
            None => {
                let _ = choose_scale(&decoded.header)?;
                sides
                    .take()
                    .ok_or_else(|| ImagingError::InvalidOptions("no crop planned".into()))?
            }
        };

        let mut decoded = decoded;
        let mut header = decoded.header;
        let info = info_of(format, &header);
        let (uw, uh) = (f64::from(info.width), f64::from(info.height));
        let mut warnings = Vec::new();
        let mut checks = Vec::new();
        // Each warning with the finding it is about, for callers that word
        // or filter findings by kind rather than by sentence.
        let mut findings: Vec<(QualityIssue, String)> = Vec::new();
        let mut faces = Vec::new();
        let mut face_notes = Vec::new();

        // A small grey upright copy of what was decoded: detection and the
        // quality measures look at it.
        let working = WorkingCopy::from_decoded(
            &mut self.resizer,
            &decoded.pixels,
            decoded.width,
            decoded.height,
            decoded.layout,
            header.orientation,
        )?;
        let wk = f64::from(working.width) / uw;

        let (crop, framing) = match options.crop {
            CropMode::Centre => (crop, Framing::Centre),
            CropMode::Box(_) => (crop, Framing::Box),
            CropMode::Face | CropMode::Auto => {
                match detect_faces(&working) {
                    Ok(found) => {
                        faces = found
                            .into_iter()
                            .map(|f| FaceBox {
                                x: f.x / wk,
                                y: f.y / wk,
                                width: f.width / wk,
                                height: f.height / wk,
                                score: f.score,
                            })
                            .collect();
                    }
                    Err(e) => face_notes.push(e),
                }
                match faces.first() {
                    Some(face) => {
                        let largest = options.outputs.iter().map(|o| o.size).max().unwrap_or(1);
                        (frame_face(face, uw, uh, f64::from(largest)), Framing::Face)
                    }
                    None if options.crop == CropMode::Auto && uh > uw => {
                        (upper_centre(uw, uh), Framing::UpperCentre)
                    }
                    None => (crop, Framing::Centre),
                }
            }
        };
        crate::cancel::check()?;
        let outs = if matches!(framing, Framing::Face | Framing::UpperCentre) {
            output_sides(options, crop.side)
        } else {
            outs
        };

        // A face square can be much smaller than the planned one: decode a
        // JPEG again at a finer DCT scale when the first one is too coarse
        // for the largest output.
        let needed = f64::from(outs.iter().copied().max().unwrap_or(1));
        let have = crop.side * f64::from(decoded.width) / f64::from(header.width);
        if format == SourceFormat::Jpeg && have + 1e-9 < needed && decoded.width < header.width {
            let n = (1..=8u8)
                .find(|&n| crop.side * f64::from(n) / 8.0 >= needed - 1e-9)
                .unwrap_or(8);
            decoded = decode::decode(bytes, format, &options.limits, &|_: &Header| Ok(n))?;
            header = decoded.header;
        }
        let mut notes = decoded.notes.clone();
        notes.extend(face_notes);

        // Quality: brightness over the square, sharpness over the face when
        // there is one (backgrounds are often blurred on purpose).
        let square = (crop.x * wk, crop.y * wk, crop.side * wk, crop.side * wk);
        let region = match (framing, faces.first()) {
            (Framing::Face, Some(f)) => (f.x * wk, f.y * wk, f.width * wk, f.height * wk),
            _ => square,
        };
        let measures = measure(&working, square, region);
        let largest_out = options.outputs.iter().map(|o| o.size).max().unwrap_or(1);
        if !options.upscale {
            // One sentence per output that comes out smaller, one code.
            for spec in options
                .outputs
                .iter()
                .filter(|o| f64::from(o.size) > crop.side.floor())
            {
                let side = crop.side.floor().max(1.0) as u32;
                let text = format!(
                    "the source square is {side}×{side} px, smaller than {}×{}; written at {side}×{side}, not enlarged",
                    spec.size, spec.size
                );
                findings.push((QualityIssue::SourceTooSmall, text.clone()));
                warnings.push(text);
                if !checks.contains(&QualityIssue::SourceTooSmall) {
                    checks.push(QualityIssue::SourceTooSmall);
                }
            }
        }
        let mut finding = |issue: QualityIssue, text: String| {
            checks.push(issue);
            findings.push((issue, text.clone()));
            warnings.push(text);
        };
        if matches!(options.crop, CropMode::Face | CropMode::Auto) {
            match faces.first() {
                None => finding(
                    QualityIssue::NoFace,
                    match framing {
                        Framing::UpperCentre => {
                            "no face found; took the upper-centre square".into()
                        }
                        _ => "no face found; took the centred square".into(),
                    },
                ),
                Some(first) => {
                    let big = 1 + faces[1..]
                        .iter()
                        .filter(|f| f.height >= SEVERAL_FACES_RATIO * first.height)
                        .count();
                    if big > 1 {
                        finding(
                            QualityIssue::SeveralFaces,
                            format!("{big} faces found; framed the largest — check it is the right person"),
                        );
                    }
                    let min_face = MIN_FACE_FRACTION * f64::from(largest_out);
                    if first.height < min_face {
                        finding(
                            QualityIssue::FaceTooSmall,
                            format!(
                                "the face is only {:.0} px tall; at least {min_face:.0} px is needed for a sharp {largest_out}×{largest_out} photo",
                                first.height
                            ),
                        );
                    }
                }
            }
        }
        if measures.mean_luma < DARK_THRESHOLD {
            finding(
                QualityIssue::TooDark,
                format!(
                    "the photo is very dark (mean brightness {:.0} of 255)",
                    measures.mean_luma
                ),
            );
        }
        if measures.sharpness < BLUR_THRESHOLD {
            finding(
                QualityIssue::TooBlurry,
                format!(
                    "the {} looks very blurry (sharpness {:.0}, below {BLUR_THRESHOLD:.0})",
                    if framing == Framing::Face {
                        "face"
                    } else {
                        "photo"
                    },
                    measures.sharpness
                ),
            );
        }
        if options.strict && !checks.is_empty() {
            return Err(ImagingError::QualityCheckFailed {
                findings: warnings,
                codes: checks,
            });
        }

        // Map the upright crop to stored, then to buffer (scaled) pixels.
        let (fw, fh) = (f64::from(header.width), f64::from(header.height));
        let (sx, sy) = header
            .orientation
            .upright_box_to_stored(crop.x, crop.y, crop.side, fw, fh);
        let kx = f64::from(decoded.width) / fw;
        let ky = f64::from(decoded.height) / fh;
        let scale = kx.min(ky);
        let side = (crop.side * scale)
            .min(f64::from(decoded.width))
            .min(f64::from(decoded.height));
        let region = Region {
            x: (sx * kx).clamp(0.0, f64::from(decoded.width) - side),
            y: (sy * ky).clamp(0.0, f64::from(decoded.height) - side),
            side,
        };

        let to_srgb = ToSrgb::new(decoded.layout, decoded.icc.as_deref(), &mut notes);
        let mut photos = Vec::with_capacity(outs.len());
        let mut reports = Vec::with_capacity(outs.len());
        for (spec, &out) in options.outputs.iter().zip(&outs) {
            crate::cancel::check()?;
            let native = resize_square(
                &mut self.resizer,
                &decoded.pixels,
                decoded.width,
                decoded.height,
                decoded.layout,
                region,
                out,
            )?;
            let rgb = header
                .orientation
                .apply_to_square_rgb(to_srgb.convert(native), out as usize);
            let encoded = encode_within(
                &rgb,
                out,
                spec.max_bytes,
                options.min_quality,
                options.max_quality,
            )?;
            reports.push(OutputReport {
                requested: spec.size,
                size: out,
                bytes: encoded.bytes.len(),
                quality: encoded.quality,
            });
            photos.push(PreparedPhoto {
                requested: spec.size,
                size: out,
                quality: encoded.quality,
                jpeg: encoded.bytes,
            });
        }
        notes.dedup();
        Ok(Prepared {
            photos,
            report: Report {
                format,
                width: info.width,
                height: info.height,
                orientation: info.orientation,
                crop,
                decode_scale: ((scale * 8.0).round() as u8).clamp(1, 8),
                outputs: reports,
                warnings,
                notes,
                framing,
                faces,
                quality: Some(measures),
                checks,
                findings,
            },
        })
    }
}

/// The side each output will have: the requested size, or the crop's own
/// size when it is smaller and upscaling is off.
fn output_sides(options: &PrepareOptions, crop_side: f64) -> Vec<u32> {
    let available = (crop_side.floor() as u32).max(1);
    options
        .outputs
        .iter()
        .map(|o| {
            if options.upscale {
                o.size
            } else {
                o.size.min(available)
            }
        })
        .collect()
}

/// Prepare every output of `options` from `bytes` with a fresh worker.
pub fn prepare(bytes: &[u8], options: &PrepareOptions) -> Result<Prepared, ImagingError> {
    Pipeline::new().prepare(bytes, options)
}
