//! The userphoto photo pipeline: bytes in, prepared JPEGs and a report out.
//!
//! ```text
//! sniff → limits → decode (JPEG: scaled in the DCT domain) → crop square
//!       → resize (Lanczos3) → colour to sRGB → orient → encode ≤ budget
//! ```
//!
//! One decode serves every requested size. The crate does no I/O, no async
//! and knows nothing about directories: callers hand it bytes and options.
//!
//! ```
//! use userphoto_imaging::{prepare, PrepareOptions};
//! # fn demo(bytes: &[u8]) -> Result<(), userphoto_imaging::ImagingError> {
//! let prepared = prepare(bytes, &PrepareOptions::default())?; // 648 and 96
//! for photo in &prepared.photos {
//!     println!("{}×{}: {} bytes", photo.size, photo.size, photo.jpeg.len());
//! }
//! # Ok(()) }
//! ```

mod allocator;
mod cancel;
mod color;
mod decode;
mod encode;
mod error;
mod face;
mod memory;
mod options;
mod orientation;
mod pipeline;
mod report;
mod resize;
mod sniff;

pub use allocator::tune_allocator_for_photos;
pub use cancel::{is_cancelled, CancelFlag};
pub use error::ImagingError;
pub use face::{
    FaceBox, Framing, QualityIssue, QualityMeasures, BLUR_THRESHOLD, CENTRE_TOLERANCE,
    DARK_THRESHOLD, EYE_BAND, EYE_LINE, FACE_SHARE, LOOSEST_FACE_SHARE, MIN_FACE_FRACTION,
    SEVERAL_FACES_RATIO,
};
pub use memory::{memory_budget, set_memory_budget, DEFAULT_MEMORY_BUDGET};
pub use options::{
    default_budget, CropBox, CropMode, Limits, OutputSpec, PrepareOptions, AD_DEFAULT_BUDGET,
    AD_HARD_CAP, AD_SIZE, HD_DEFAULT_BUDGET, HD_SIZE, M365_HARD_CAP,
};
pub use orientation::Orientation;
pub use pipeline::{prepare, probe, Pipeline, SourceInfo};
pub use report::{OutputReport, Prepared, PreparedPhoto, Report};
pub use sniff::{sniff, SourceFormat};
