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
    /// The work was stopped because nobody waits for its result any more
    /// (see [`crate::CancelFlag`]).
    #[error("the photo work was stopped: nobody is waiting for it any more")]
    Cancelled,
}

impl ImagingError {
    /// The message for a front end without command-line flags (the web
    /// UI): the same sentence as `Display`, with a remedy that names no
    /// flag. `Display` is the command line's wording.
    pub fn plain_message(&self) -> String {
        match self {
            Self::InputTooLarge { bytes, limit } => format!(
                "the file is {bytes} bytes, over the {limit}-byte input limit; use a smaller file (the same photo saved at a lower resolution or quality)"
            ),
            Self::QualityCheckFailed { findings, .. } => format!(
                "the photo failed quality checks: {}; check it, or choose a photo without these findings (strict checking is on)",
                findings.join("; ")
            ),
            other => other.to_string(),
        }
    }

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
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<ImagingError> {
        vec![
            ImagingError::Empty,
            ImagingError::InputTooLarge {
                bytes: 60,
                limit: 50,
            },
            ImagingError::TooManyPixels {
                width: 9,
                height: 9,
                limit: 8,
            },
            ImagingError::UnsupportedFormat {
                detail: "text".into(),
            },
            ImagingError::Corrupt {
                format: "JPEG",
                detail: "truncated".into(),
            },
            ImagingError::BudgetUnreachable {
                size: 96,
                max_bytes: 10,
                floor_quality: 40,
                smallest: 20,
            },
            ImagingError::InvalidOptions("no outputs".into()),
            ImagingError::Encode("x".into()),
            ImagingError::QualityCheckFailed {
                findings: vec!["no face was found".into()],
                codes: vec![crate::QualityIssue::NoFace],
            },
            ImagingError::Cancelled,
        ]
    }

    #[test]
    fn plain_messages_name_no_flag_and_keep_the_problem() {
        for e in every_variant() {
            let plain = e.plain_message();
            assert!(!plain.contains("--"), "{plain}");
            // The part before the remedy is the command line's sentence.
            let problem = e.to_string();
            let problem = problem.split("; ").next().unwrap_or_default();
            assert!(plain.starts_with(problem), "{plain} / {problem}");
        }
    }

    #[test]
    fn the_command_line_keeps_its_flags() {
        let too_large = ImagingError::InputTooLarge {
            bytes: 60,
            limit: 50,
        };
        assert!(too_large.to_string().contains("raise --max-input-bytes"));
        let strict = ImagingError::QualityCheckFailed {
            findings: vec!["no face was found".into()],
            codes: vec![crate::QualityIssue::NoFace],
        };
        assert!(strict.to_string().contains("without --strict"));
        assert!(strict.plain_message().contains("no face was found"));
    }
}
