//! Preparing photos: the one place that calls the imaging pipeline.
//!
//! Why one module: a photo written by `userphoto set`, by a folder import,
//! by "use existing HD", or shown by the web UI as a preview must come out
//! of the same pipeline with the same options, and its problems must reach
//! every front end as the same findings. So every caller — the planner,
//! the executor, [`Ops`](crate::ops::Ops), the web UI's previews — comes
//! here:
//!
//! * [`prepare_bytes`] / [`prepare_file`]: one decode, one JPEG per size,
//!   with the quality findings as codes and sentences ([`PreparedFile`]);
//! * [`prepare_photo`]: the same, on the blocking pool, for one photo of a
//!   single-user operation; a finding that the source is smaller than an
//!   output is worded per target rather than as the pipeline's sentence;
//! * [`preview`] and [`inspect`]: what the web UI shows before writing;
//! * [`probe_file`] / [`probe`]: a source's upright size from its header;
//! * [`Preparer`]: the worker pool an import prepares on;
//! * [`convert`]: a folder of photos into directory-ready files, on every
//!   core (`userphoto convert`).
//!
//! Failures are [`Detail`]s (code and both wordings), worded by the front
//! end that shows them.

pub mod convert;
mod pool;

use std::path::Path;

use userphoto_directory::Photo;
use userphoto_imaging::{
    CropMode, ImagingError, Limits, OutputSpec, Pipeline, PrepareOptions, QualityIssue, Report,
    SourceInfo,
};

pub use self::pool::Preparer;
pub(crate) use self::pool::{same_outputs, Outputs};
use crate::reason::Detail;

/// How every file of a run is prepared (besides the sizes).
#[derive(Clone, Copy, Debug)]
pub struct PrepareMode {
    /// How the square is chosen.
    pub crop: CropMode,
    /// Decoder limits.
    pub limits: Limits,
    /// A quality finding (no face, too dark…) fails the file instead of
    /// warning.
    pub strict: bool,
}

/// One prepared output.
#[derive(Clone, Debug)]
pub struct PreparedOutput {
    /// What was asked for.
    pub spec: OutputSpec,
    /// The side actually written (smaller than asked for a small source).
    pub size: u32,
    /// The JPEG.
    pub photo: Photo,
}

/// A file's prepared photos.
#[derive(Clone, Debug)]
pub struct PreparedFile {
    /// Upright source width.
    pub width: u32,
    /// Upright source height.
    pub height: u32,
    /// One per distinct spec, in the order asked.
    pub outputs: Vec<PreparedOutput>,
    /// The pipeline's quality warnings (no face, too dark, source smaller
    /// than a size…), as sentences.
    pub warnings: Vec<String>,
    /// The same findings as codes (`no_face`, `too_dark`, …).
    pub checks: Vec<String>,
}

impl PreparedFile {
    /// The photo made for `size` within `budget`.
    pub fn photo_for(&self, size: u32, budget: usize) -> Option<&Photo> {
        self.outputs
            .iter()
            .find(|o| o.spec.size == size && o.spec.max_bytes == budget)
            .map(|o| &o.photo)
    }
}

/// Prepares one file's `bytes` for `specs`: one decode for all of them.
///
/// # Errors
/// The image cannot be used, or (strict) a quality check failed.
pub fn prepare_bytes(
    pipeline: &mut Pipeline,
    bytes: &[u8],
    specs: Vec<OutputSpec>,
    mode: PrepareMode,
) -> Result<PreparedFile, Detail> {
    let options = PrepareOptions {
        outputs: specs.clone(),
        crop: mode.crop,
        limits: mode.limits,
        strict: mode.strict,
        ..PrepareOptions::default()
    };
    let prepared = pipeline
        .prepare(bytes, &options)
        .map_err(|e| Detail::image(&e))?;
    let report = prepared.report;
    let mut outputs = Vec::new();
    for (spec, p) in specs.into_iter().zip(prepared.photos) {
        let photo = Photo::new(p.jpeg).map_err(|e| Detail::directory(&e))?;
        outputs.push(PreparedOutput {
            spec,
            size: p.size,
            photo,
        });
    }
    Ok(PreparedFile {
        width: report.width,
        height: report.height,
        outputs,
        checks: report.checks.iter().map(|c| c.code().to_owned()).collect(),
        warnings: report.warnings,
    })
}

/// Reads and prepares one file for `specs`.
///
/// # Errors
/// As [`prepare_bytes`], and when the file cannot be read.
pub fn prepare_file(
    pipeline: &mut Pipeline,
    path: &Path,
    specs: Vec<OutputSpec>,
    mode: PrepareMode,
) -> Result<PreparedFile, Detail> {
    let bytes = std::fs::read(path).map_err(|e| Detail::io(&e))?;
    prepare_bytes(pipeline, &bytes, specs, mode)
}

/// One photo prepared for a single-user operation: a JPEG per spec, with
/// what the person should know about it.
#[derive(Clone, Debug)]
pub struct PreparedPhoto {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// Its side (smaller than asked for a small source: never upscaled).
    pub size: u32,
    /// The side asked for.
    pub requested: u32,
    /// Quality findings about the source, as codes and sentences; a
    /// source smaller than this output is [`PreparedPhoto::smaller`].
    pub findings: Vec<(QualityIssue, String)>,
}

impl PreparedPhoto {
    /// Whether the photo came out smaller than asked.
    pub fn smaller(&self) -> bool {
        self.size < self.requested
    }
}

/// Prepares `image` for `outputs` on the blocking pool (one decode): the
/// single-user operations' way in. Findings that the source is smaller
/// than an output are left out (each [`PreparedPhoto`] says whether it is
/// smaller, for its own target).
///
/// # Errors
/// The image cannot be used.
pub async fn prepare_photo(
    image: &[u8],
    outputs: Vec<OutputSpec>,
    crop: CropMode,
    limits: Limits,
) -> Result<Vec<PreparedPhoto>, ImagingError> {
    let options = PrepareOptions {
        outputs,
        crop,
        limits,
        ..PrepareOptions::default()
    };
    let image = image.to_vec();
    let prepared =
        tokio::task::spawn_blocking(move || userphoto_imaging::prepare(&image, &options))
            .await
            .map_err(|e| {
                ImagingError::InvalidOptions(format!("the photo worker stopped: {e}"))
            })??;
    let findings: Vec<(QualityIssue, String)> = prepared
        .report
        .findings
        .into_iter()
        .filter(|(issue, _)| *issue != QualityIssue::SourceTooSmall)
        .collect();
    Ok(prepared
        .photos
        .into_iter()
        .map(|p| PreparedPhoto {
            jpeg: p.jpeg,
            size: p.size,
            requested: p.requested,
            findings: findings.clone(),
        })
        .collect())
}

/// An already framed photo (an HD photo) scaled down to `spec`: the same
/// square, never re-framed around a face found in it.
///
/// # Errors
/// The photo cannot be used.
pub async fn thumbnail_of(photo: &Photo, spec: OutputSpec) -> Result<Photo, Detail> {
    let made = prepare_photo(
        photo.bytes(),
        vec![spec],
        CropMode::Centre,
        Limits::default(),
    )
    .await
    .map_err(|e| Detail::image(&e))?;
    let jpeg = made
        .into_iter()
        .next()
        .map(|p| p.jpeg)
        .ok_or_else(|| Detail::other("nothing-prepared", "no photo was prepared"))?;
    Photo::new(jpeg).map_err(|e| Detail::directory(&e))
}

/// What a front end shows of a photo before it is written: the source's
/// facts and the framed square at `size`.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// What the source is.
    pub source: SourceInfo,
    /// The framed square.
    pub jpeg: Vec<u8>,
    /// The pipeline's report (crop, framing, faces, findings).
    pub report: Report,
}

impl Inspection {
    /// The quality findings but "smaller than the preview" (the size rule's
    /// business, said per target where it matters).
    pub fn findings(&self) -> impl Iterator<Item = &(QualityIssue, String)> {
        self.report
            .findings
            .iter()
            .filter(|(issue, _)| *issue != QualityIssue::SourceTooSmall)
    }
}

/// Inspects `image` (blocking: run it on an imaging worker): probes it
/// and frames it at `size` by `crop`.
///
/// # Errors
/// The image cannot be used.
pub fn inspect(image: &[u8], size: u32, crop: CropMode) -> Result<Inspection, ImagingError> {
    let source = userphoto_imaging::probe(image, &Limits::default())?;
    let (jpeg, report) = frame(image, size, crop)?;
    Ok(Inspection {
        source,
        jpeg,
        report,
    })
}

/// The square of `image` at `size`, framed by `crop` (blocking).
///
/// # Errors
/// The image cannot be used.
pub fn preview(image: &[u8], size: u32, crop: CropMode) -> Result<Vec<u8>, ImagingError> {
    frame(image, size, crop).map(|(jpeg, _)| jpeg)
}

/// One JPEG per output, from one decode of `image`, framed by `crop`
/// (blocking): photos made up front (the demo's samples).
///
/// # Errors
/// The image cannot be used.
pub fn squares(
    image: &[u8],
    outputs: Vec<OutputSpec>,
    crop: CropMode,
) -> Result<Vec<Vec<u8>>, ImagingError> {
    let options = PrepareOptions {
        outputs,
        crop,
        ..PrepareOptions::default()
    };
    let prepared = userphoto_imaging::prepare(image, &options)?;
    Ok(prepared.photos.into_iter().map(|p| p.jpeg).collect())
}

fn frame(image: &[u8], size: u32, crop: CropMode) -> Result<(Vec<u8>, Report), ImagingError> {
    let options = PrepareOptions {
        outputs: vec![OutputSpec::with_default_budget(size)],
        crop,
        ..PrepareOptions::default()
    };
    let prepared = userphoto_imaging::prepare(image, &options)?;
    let jpeg = prepared
        .photos
        .into_iter()
        .next()
        .map(|p| p.jpeg)
        .ok_or_else(|| ImagingError::InvalidOptions("no photo was made".into()))?;
    Ok((jpeg, prepared.report))
}

/// A photo's facts from its header (format, upright size).
///
/// # Errors
/// The bytes are not an image within the limits.
pub fn probe(image: &[u8], limits: &Limits) -> Result<SourceInfo, ImagingError> {
    userphoto_imaging::probe(image, limits)
}

/// Reads enough of `path` to know its format and upright size. A file
/// over the input limit is refused here, from its length, as preparing it
/// would be: a plan says so before anything runs.
///
/// # Errors
/// The file cannot be read, or is not an image within the limits.
pub fn probe_file(path: &Path, limits: &Limits) -> Result<(u32, u32), Detail> {
    use std::io::Read as _;
    const HEAD: u64 = 256 * 1024;
    let mut head = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| Detail::io(&e))?;
    let len = file.metadata().map_or(0, |m| m.len());
    if len > limits.max_input_bytes as u64 {
        return Err(Detail::image(&ImagingError::InputTooLarge {
            bytes: usize::try_from(len).unwrap_or(usize::MAX),
            limit: limits.max_input_bytes,
        }));
    }
    file.take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| Detail::io(&e))?;
    if let Ok(info) = userphoto_imaging::probe(&head, limits) {
        return Ok((info.width, info.height));
    }
    let all = std::fs::read(path).map_err(|e| Detail::io(&e))?;
    userphoto_imaging::probe(&all, limits)
        .map(|i| (i.width, i.height))
        .map_err(|e| Detail::image(&e))
}

/// Runs `f` on a rayon pool of `threads` (default: the global pool).
pub(crate) fn with_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    match threads.and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok()) {
        Some(pool) => pool.install(f),
        None => f(),
    }
}
