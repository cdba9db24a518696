//! Options of the pipeline: a small value that says which outputs to make
//! and how to frame them. Defaults follow the directories' rules.

use serde::{Deserialize, Serialize};

/// Default side of the Active Directory `thumbnailPhoto`.
pub const AD_SIZE: u32 = 96;
/// Default side of the HD photo (Microsoft 365, Exchange).
pub const HD_SIZE: u32 = 648;
/// Default byte budget for a 96×96 AD photo.
pub const AD_DEFAULT_BUDGET: usize = 10 * 1024;
/// Hard cap of `thumbnailPhoto` (schema rangeUpper 102400).
pub const AD_HARD_CAP: usize = 102_400;
/// Default byte budget for a 648×648 HD photo.
pub const HD_DEFAULT_BUDGET: usize = 300 * 1024;
/// Hard cap of Microsoft Graph profile photos.
pub const M365_HARD_CAP: usize = 4 * 1024 * 1024;

/// Limits checked before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest input accepted, in bytes. Default 50 MB.
    pub max_input_bytes: usize,
    /// Largest declared width × height accepted. Default 100 megapixels.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 50 * 1024 * 1024,
            max_pixels: 100_000_000,
        }
    }
}

/// One output to produce: a square of `size` pixels within `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Side of the square in pixels.
    pub size: u32,
    /// Byte budget; the encoder searches the highest quality that fits.
    pub max_bytes: usize,
}

impl OutputSpec {
    /// An output of `size` with the default budget for that size: 10 KB up
    /// to 96 px (Active Directory), 300 KB for larger photos.
    pub fn with_default_budget(size: u32) -> Self {
        Self {
            size,
            max_bytes: default_budget(size),
        }
    }
}

/// The default byte budget for a square of `size` pixels.
///
/// 96 and below get AD's 10 KB; anything larger gets 300 KB, far below
/// Microsoft 365's 4 MB cap, and plenty for a 648×648 photo at high quality.
pub fn default_budget(size: u32) -> usize {
    if size <= AD_SIZE {
        AD_DEFAULT_BUDGET
    } else {
        HD_DEFAULT_BUDGET
    }
}

/// A square crop in upright (EXIF orientation applied) source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Side of the square.
    pub side: f64,
}

/// How the square is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CropMode {
    /// The centred square (Exchange's rule).
    Centre,
    /// An explicit square, e.g. from face detection or a user's nudge.
    Box(CropBox),
    /// Around the largest face (see `docs/FACES.md` for the proportions);
    /// the centred square, with a `no_face` warning, when none is found.
    Face,
    /// Around the largest face when one is found; otherwise the centred
    /// square for landscape (and square) sources and an upper-centre square
    /// for portrait sources, where the head usually is.
    ///
    /// The default for every caller (CLI and web UI alike): it only differs
    /// from the old centred square when a face is found or a portrait
    /// source would lose the head, and costs ~10–17 ms per photo.
    #[default]
    Auto,
}

/// Everything `prepare` needs besides the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareOptions {
    /// Outputs to make from one decode. Default: 648 (300 KB) and 96 (10 KB).
    pub outputs: Vec<OutputSpec>,
    /// Framing. Default: [`CropMode::Auto`].
    pub crop: CropMode,
    /// Enlarge sources smaller than a requested size. Default: false — a
    /// small source is written at its own size, with a warning.
    pub upscale: bool,
    /// Decoder limits.
    pub limits: Limits,
    /// Highest JPEG quality tried. Default 90.
    pub max_quality: u8,
    /// Lowest JPEG quality accepted before giving up on the budget. Default 40.
    pub min_quality: u8,
    /// Fail with [`crate::ImagingError::QualityCheckFailed`] instead of
    /// warning when a quality check finds something (no face, too dark…).
    /// Default: false — quality findings are warnings in the report.
    #[serde(default)]
    pub strict: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            outputs: vec![
                OutputSpec::with_default_budget(HD_SIZE),
                OutputSpec::with_default_budget(AD_SIZE),
            ],
            crop: CropMode::default(),
            upscale: false,
            limits: Limits::default(),
            max_quality: 90,
            min_quality: 40,
            strict: false,
        }
    }
}

impl PrepareOptions {
    /// Options making exactly the given sizes with their default budgets.
    pub fn sizes(sizes: &[u32]) -> Self {
        Self {
            outputs: sizes
                .iter()
                .map(|&s| OutputSpec::with_default_budget(s))
                .collect(),
            ..Self::default()
        }
    }

    /// Check the options themselves (sizes, budgets, quality range), before
    /// any image is read.
    pub fn validate(&self) -> Result<(), crate::ImagingError> {
        use crate::ImagingError::InvalidOptions;
        if self.outputs.is_empty() {
            return Err(InvalidOptions("no output size requested".into()));
        }
        for o in &self.outputs {
            if o.size == 0 || o.size > 4096 {
                return Err(InvalidOptions(format!(
                    "output size {} is outside 1..=4096",
                    o.size
                )));
            }
            if o.max_bytes < 512 {
                return Err(InvalidOptions(format!(
                    "byte budget {} for size {} is below 512 bytes",
                    o.max_bytes, o.size
                )));
            }
        }
        if self.min_quality == 0 || self.min_quality > self.max_quality || self.max_quality > 100 {
            return Err(InvalidOptions(format!(
                "quality range {}..={} is invalid (1..=100, min ≤ max)",
                self.min_quality, self.max_quality
            )));
        }
        Ok(())
    }
}
