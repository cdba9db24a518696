//! The pipeline proper: ties decode, crop, resize, colour, orientation and
//! encode together for one source and several output sizes.

use crate::color::ToSrgb;
use crate::decode::{self, Header};
use crate::encode::encode_within;
use crate::resize::{resize_square, Region};
use crate::sniff::{describe_unknown, sniff};
use crate::{
    CropBox, CropMode, ImagingError, Limits, OutputReport, PrepareOptions, Prepared, PreparedPhoto,
    Report, SourceFormat,
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
        CropMode::Centre => {
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
        let (crop, outs) = match sides.take() {
            Some(s) => s,
            None => {
                let _ = choose_scale(&decoded.header)?;
                sides
                    .take()
                    .ok_or_else(|| ImagingError::InvalidOptions("no crop planned".into()))?
            }
        };

        let header = decoded.header;
        let info = info_of(format, &header);
        let mut notes = decoded.notes.clone();
        let mut warnings = Vec::new();

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
            if out < spec.size {
                warnings.push(format!(
                    "the source square is {}×{} px, smaller than {}×{}; written at {out}×{out} (use --upscale to enlarge)",
                    crop.side as u32, crop.side as u32, spec.size, spec.size
                ));
            }
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
