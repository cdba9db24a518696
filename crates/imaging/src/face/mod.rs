//! Face-aware framing and photo quality checks.
//!
//! ```text
//! decoded buffer ─► working copy (grey, upright, ≤ 640 px) ─► detect faces
//!                                                        └──► brightness, sharpness
//! largest face ─► framing (square around the face, clamped inside the image)
//! ```
//!
//! Everything here works on a small grey working copy made from the buffer
//! the pipeline already decoded, so detection costs a few milliseconds and
//! never a second decode. Proportions and thresholds are explained, with the
//! figures measured on the corpus, in `docs/FACES.md`.

mod detect;
mod framing;
mod quality;
mod working;

pub(crate) use detect::detect_faces;
pub(crate) use framing::{frame_face, upper_centre};
pub(crate) use quality::measure;
pub(crate) use working::WorkingCopy;

use serde::Serialize;

pub use framing::{CENTRE_TOLERANCE, EYE_BAND, EYE_LINE, FACE_SHARE, LOOSEST_FACE_SHARE};
pub use quality::{BLUR_THRESHOLD, DARK_THRESHOLD, MIN_FACE_FRACTION, SEVERAL_FACES_RATIO};

/// A face found in the source, in upright source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaceBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Detector confidence (SeetaFace score; higher is surer).
    pub score: f64,
}

impl FaceBox {
    /// Horizontal centre.
    pub fn centre_x(&self) -> f64 {
        self.x + self.width / 2.0
    }

    /// Area in square pixels.
    pub fn area(&self) -> f64 {
        self.width * self.height
    }
}

/// How the square in the report was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// The centred square.
    Centre,
    /// The caller's explicit box.
    Box,
    /// Around the largest detected face.
    Face,
    /// No face found in a portrait source under `auto`: a square in the
    /// upper part, where the head of a head-and-shoulders photo is.
    UpperCentre,
}

/// Brightness and sharpness of the chosen square, measured on the working
/// copy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityMeasures {
    /// Mean luma of the square, 0 (black) to 255 (white).
    pub mean_luma: f64,
    /// Variance of the Laplacian of the square (on the face when one was
    /// found), scaled to about 256 px; low means blurry.
    pub sharpness: f64,
}

/// Something about the photo a person should look at. Never blocking,
/// unless the caller asked for `strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityIssue {
    /// Face framing was asked for and no face was found.
    NoFace,
    /// More than one face of similar size: the largest was framed.
    SeveralFaces,
    /// The face has too few pixels for the largest output.
    FaceTooSmall,
    /// The source is smaller than a requested output side.
    SourceTooSmall,
    /// The square is very dark.
    TooDark,
    /// The square is very blurry.
    TooBlurry,
}

impl QualityIssue {
    /// A short machine-readable code (same as the JSON form).
    pub fn code(self) -> &'static str {
        match self {
            Self::NoFace => "no_face",
            Self::SeveralFaces => "several_faces",
            Self::FaceTooSmall => "face_too_small",
            Self::SourceTooSmall => "source_too_small",
            Self::TooDark => "too_dark",
            Self::TooBlurry => "too_blurry",
        }
    }
}

impl std::fmt::Display for QualityIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
