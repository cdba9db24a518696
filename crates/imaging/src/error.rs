//! The one error type of the photo pipeline.
//!
//! Every variant names what was wrong with the input and, where it helps,
//! what the user can do; callers add the file name.

use thiserror::Error;

/// Why a photo could not be prepared.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImagingError {
    /// The input has no bytes at all.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// The input is larger than the configured byte limit.
    #[error("the file is {bytes} bytes, over the {limit}-byte input limit; raise --max-input-bytes if it is genuine")]
    InputTooLarge {
        /// Size of the input.
        bytes: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The image declares more pixels than allowed (decompression bomb guard).
    #[error("the image declares {width}×{height} pixels, over the {limit}-pixel limit; refused before decoding (possible decompression bomb)")]
    TooManyPixels {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// The limit in force, in pixels.
        limit: u64,
    },
    /// The bytes are not an image format we read.
    #[error("not a supported image ({detail}); use JPEG, PNG, GIF, BMP, TIFF or WebP")]
    UnsupportedFormat {
        /// What we found instead.
        detail: String,
    },
    /// The image is damaged: truncated, corrupt entropy data, bad headers.
    #[error("the {format} image is damaged: {detail}; ask for a new copy of the photo")]
    Corrupt {
        /// The format the bytes claimed to be.
        format: &'static str,
        /// What the decoder reported.
        detail: String,
    },
    /// Even the lowest allowed quality does not fit the byte budget.
    #[error("a {size}×{size} JPEG does not fit in {max_bytes} bytes even at quality {floor_quality} (smallest was {smallest} bytes); raise the budget or choose a smaller size")]
    BudgetUnreachable {
        /// Output side in pixels.
        size: u32,
        /// The budget.
        max_bytes: usize,
        /// The lowest quality tried.
        floor_quality: u8,
        /// The smallest encoding we achieved.
        smallest: usize,
    },
    /// The options asked for something impossible (e.g. a crop box outside the image).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The JPEG encoder failed (should not happen with valid options).
    #[error("could not encode the JPEG: {0}")]
    Encode(String),
    /// Strict mode: a quality check found something (no face, too dark…).
    #[error("the photo failed quality checks: {}; check it, or run without --strict to accept it with warnings", .findings.join("; "))]
    QualityCheckFailed {
        /// The findings, as sentences.
        findings: Vec<String>,
        /// Their machine-readable codes.
        codes: Vec<crate::QualityIssue>,
    },
}

impl ImagingError {
    /// A short machine-readable code for reports and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InputTooLarge { .. } => "input_too_large",
            Self::TooManyPixels { .. } => "too_many_pixels",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::Corrupt { .. } => "corrupt",
            Self::BudgetUnreachable { .. } => "budget_unreachable",
            Self::InvalidOptions(_) => "invalid_options",
            Self::Encode(_) => "encode_failed",
            Self::QualityCheckFailed { .. } => "quality_check_failed",
        }
    }
}
