//! What the pipeline did, for people (`convert` summary, UI) and scripts
//! (`--json`).

use crate::{CropBox, FaceBox, Framing, QualityIssue, QualityMeasures, SourceFormat};
use serde::Serialize;

/// One prepared JPEG.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedPhoto {
    /// The size that was asked for.
    pub requested: u32,
    /// The side actually written (smaller than `requested` when the source
    /// is smaller and upscaling is off).
    pub size: u32,
    /// JPEG quality used to fit the budget.
    pub quality: u8,
    /// The JPEG file.
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for PreparedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPhoto")
            .field("requested", &self.requested)
            .field("size", &self.size)
            .field("quality", &self.quality)
            .field("bytes", &self.jpeg.len())
            .finish()
    }
}

/// Per-output line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputReport {
    /// The size that was asked for.
    pub requested: u32,
    /// The side written.
    pub size: u32,
    /// Bytes of the JPEG.
    pub bytes: usize,
    /// Quality used.
    pub quality: u8,
}

/// What happened to one source image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Format found by sniffing the bytes.
    pub format: SourceFormat,
    /// Upright width of the source.
    pub width: u32,
    /// Upright height of the source.
    pub height: u32,
    /// EXIF orientation that was applied (1 = none).
    pub orientation: u8,
    /// The square taken, in upright source pixels.
    pub crop: CropBox,
    /// DCT scale used when decoding a JPEG, as a numerator over 8.
    pub decode_scale: u8,
    /// One entry per output, in the order asked.
    pub outputs: Vec<OutputReport>,
    /// Things the user should look at (e.g. a source smaller than a size).
    pub warnings: Vec<String>,
    /// Things done silently that are worth knowing (profile converted…).
    pub notes: Vec<String>,
    /// How `crop` was chosen (centre, explicit box, face, upper centre).
    pub framing: Framing,
    /// Faces found (only when face framing was asked for), largest first,
    /// in upright source pixels. The first one is the one framed.
    pub faces: Vec<FaceBox>,
    /// Brightness and sharpness of the square; `None` when not measured.
    pub quality: Option<QualityMeasures>,
    /// Quality findings, as codes; each also has a sentence in `warnings`.
    pub checks: Vec<QualityIssue>,
    /// Every warning of `warnings` with the finding it is about, in the
    /// same order (a source smaller than several outputs has one sentence
    /// per output), so callers can word or leave out findings by kind.
    #[serde(skip)]
    pub findings: Vec<(QualityIssue, String)>,
}

/// The outputs and the report of one `prepare` call.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The JPEGs, in the order of `PrepareOptions::outputs`.
    pub photos: Vec<PreparedPhoto>,
    /// What was done.
    pub report: Report,
}
