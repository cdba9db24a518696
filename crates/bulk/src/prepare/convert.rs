//! `userphoto convert`: prepare a batch of photos on every core and write
//! them as `<stem> <N>x<N>.jpg`, the naming bulk import understands (the
//! name before the first space is the user).
//!
//! One bad file never stops the batch: each file ends as converted, failed
//! (with the reason) or skipped (e.g. its output exists and `force` is off).

use crate::scan::Found;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use userphoto_imaging::{ImagingError, Pipeline, PrepareOptions, Report};

/// What to do with the batch.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Where outputs go; subfolders of the inputs are mirrored below it.
    pub out_dir: PathBuf,
    /// The pipeline options (sizes, budgets, crop, limits).
    pub prepare: PrepareOptions,
    /// Replace outputs that already exist.
    pub force: bool,
    /// Worker threads; `None` uses every core this process may run on.
    pub jobs: Option<usize>,
}

/// One JPEG written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenOutput {
    /// Path of the file written.
    pub path: PathBuf,
    /// Side in pixels.
    pub size: u32,
    /// File size.
    pub bytes: usize,
    /// JPEG quality used.
    pub quality: u8,
}

/// Why one file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The source could not be read.
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
    /// The pipeline refused the image.
    #[error("{0}")]
    Imaging(#[from] ImagingError),
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ConvertError {
    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read(_) => "read_failed",
            Self::Imaging(e) => e.code(),
            Self::Write { .. } => "write_failed",
        }
    }
}

/// How one file ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every output was written.
    Converted {
        /// The files written.
        outputs: Vec<WrittenOutput>,
        /// What the pipeline did.
        report: Box<Report>,
    },
    /// Nothing was written, for the reason given.
    Failed(ConvertError),
    /// Nothing was written, deliberately.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The result for one source file.
#[derive(Debug)]
pub struct FileResult {
    /// The source.
    pub source: PathBuf,
    /// Its size in bytes (0 if unreadable).
    pub input_bytes: u64,
    /// What happened.
    pub outcome: Outcome,
}

/// Totals of a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files converted.
    pub converted: usize,
    /// Files that failed.
    pub failed: usize,
    /// Files skipped.
    pub skipped: usize,
    /// Bytes read from converted files.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
}

impl Summary {
    fn add(&mut self, r: &FileResult) {
        match &r.outcome {
            Outcome::Converted { outputs, .. } => {
                self.converted += 1;
                self.bytes_in += r.input_bytes;
                self.bytes_out += outputs.iter().map(|o| o.bytes as u64).sum::<u64>();
            }
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.converted += other.converted;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self
    }
}

/// `<stem> <N>x<N>.jpg` in the same relative folder as the source.
pub fn output_relative_path(relative: &Path, size: u32) -> PathBuf {
    let stem = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{stem} {size}x{size}.jpg");
    match relative.parent() {
        Some(parent) => parent.join(name),
        None => PathBuf::from(name),
    }
}

/// Sources whose outputs would collide (`a.png` and `a.jpg` both make
/// `a 648x648.jpg`): every one after the first is skipped with a reason.
fn collisions(files: &[Found]) -> HashMap<PathBuf, String> {
    let mut first: HashMap<PathBuf, &Path> = HashMap::new();
    let mut skipped = HashMap::new();
    for f in files {
        let key = f.relative.with_extension("");
        let key = PathBuf::from(key.to_string_lossy().to_lowercase());
        match first.get(&key) {
            Some(winner) => {
                skipped.insert(
                    f.path.clone(),
                    format!(
                        "{} makes the same output names; rename one of them",
                        winner.display()
                    ),
                );
            }
            None => {
                first.insert(key, &f.path);
            }
        }
    }
    skipped
}

/// Convert every file, calling `on_result` (from worker threads) as each
/// finishes. Returns the totals.
pub fn convert_all<F>(files: &[Found], options: &ConvertOptions, on_result: F) -> Summary
where
    F: Fn(&FileResult) + Sync,
{
    let skipped = collisions(files);
    let work = || {
        // Largest files first, each worker taking the next one as it frees
        // up (`par_bridge` pulls from one shared iterator): a greedy
        // longest-job-first schedule, so a big photo never starts last and
        // leaves the other cores idle.
        let mut order: Vec<(u64, &Found)> = files
            .iter()
            .map(|f| (std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0), f))
            .collect();
        order.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        order
            .into_iter()
            .map(|(_, f)| f)
            .par_bridge()
            .map_init(Pipeline::new, |pipeline, file| {
                let result = match skipped.get(&file.path) {
                    Some(reason) => FileResult {
                        source: file.path.clone(),
                        input_bytes: 0,
                        outcome: Outcome::Skipped {
                            reason: reason.clone(),
                        },
                    },
                    None => convert_one(pipeline, file, options),
                };
                on_result(&result);
                let mut s = Summary::default();
                s.add(&result);
                s
            })
            .reduce(Summary::default, Summary::merge)
    };
    match options.jobs {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
        {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    }
}

/// Convert one file with a worker's pipeline.
pub fn convert_one(pipeline: &mut Pipeline, file: &Found, options: &ConvertOptions) -> FileResult {
    let bytes = match read_limited(&file.path, options.prepare.limits.max_input_bytes) {
        Ok(b) => b,
        Err(e) => {
            return FileResult {
                source: file.path.clone(),
                input_bytes: 0,
                outcome: match e {
                    ReadError::Io(e) => Outcome::Failed(ConvertError::Read(e)),
                    ReadError::TooLarge(n) => {
                        Outcome::Failed(ConvertError::Imaging(ImagingError::InputTooLarge {
                            bytes: n,
                            limit: options.prepare.limits.max_input_bytes,
                        }))
                    }
                },
            }
        }
    };
    let input_bytes = bytes.len() as u64;
    let outcome = match pipeline.prepare(&bytes, &options.prepare) {
        // A README or spreadsheet lying in the photo folder is not a failure.
        Err(ImagingError::UnsupportedFormat { .. })
            if file.from_folder && !crate::scan::has_image_extension(&file.path) =>
        {
            Outcome::Skipped {
                reason: "not an image".into(),
            }
        }
        Err(e) => Outcome::Failed(e.into()),
        Ok(prepared) => write_outputs(file, options, prepared),
    };
    FileResult {
        source: file.path.clone(),
        input_bytes,
        outcome,
    }
}

enum ReadError {
    Io(std::io::Error),
    TooLarge(usize),
}

/// Read a file, refusing (before reading it all) one over the limit.
fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if len > limit {
        return Err(ReadError::TooLarge(len));
    }
    std::fs::read(path).map_err(ReadError::Io)
}

fn write_outputs(
    file: &Found,
    options: &ConvertOptions,
    prepared: userphoto_imaging::Prepared,
) -> Outcome {
    // Two requested sizes can end at the same actual size (a 64 px source
    // asked for 648 and 96): write that file once.
    let mut photos: Vec<_> = Vec::new();
    for p in prepared.photos {
        if !photos
            .iter()
            .any(|q: &userphoto_imaging::PreparedPhoto| q.size == p.size)
        {
            photos.push(p);
        }
    }
    let targets: Vec<PathBuf> = photos
        .iter()
        .map(|p| {
            options
                .out_dir
                .join(output_relative_path(&file.relative, p.size))
        })
        .collect();
    if !options.force {
        if let Some(existing) = targets.iter().find(|t| t.exists()) {
            return Outcome::Skipped {
                reason: format!(
                    "{} already exists (use --force to replace it)",
                    existing.display()
                ),
            };
        }
    }
    let mut outputs = Vec::with_capacity(photos.len());
    for (photo, target) in photos.iter().zip(targets) {
        if let Err(source) = write_atomically(&target, &photo.jpeg, options.force) {
            return Outcome::Failed(ConvertError::Write {
                path: target,
                source,
            });
        }
        outputs.push(WrittenOutput {
            path: target,
            size: photo.size,
            bytes: photo.jpeg.len(),
            quality: photo.quality,
        });
    }
    Outcome::Converted {
        outputs,
        report: Box::new(prepared.report),
    }
}

/// Stage in the target folder, then rename into place, so a reader never
/// sees half a file; without `replace`, an existing file is never touched.
fn write_atomically(target: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut staged = tempfile::Builder::new()
        .prefix(".userphoto-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    staged.write_all(bytes)?;
    staged.as_file().sync_all()?;
    if replace {
        staged.persist(target).map_err(|e| e.error)?;
    } else {
        staged.persist_noclobber(target).map_err(|e| e.error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_keep_the_user_before_the_first_space() {
        assert_eq!(
            output_relative_path(Path::new("John.Smith.png"), 648),
            PathBuf::from("John.Smith 648x648.jpg")
        );
        assert_eq!(
            output_relative_path(Path::new("hr/Ann Lee 2024.jpeg"), 96),
            Path::new("hr").join("Ann Lee 2024 96x96.jpg")
        );
    }

    #[test]
    fn same_stem_different_extension_collides() {
        let files = vec![
            Found {
                path: "/x/a.jpg".into(),
                relative: "a.jpg".into(),
                from_folder: true,
            },
            Found {
                path: "/x/A.png".into(),
                relative: "A.png".into(),
                from_folder: true,
            },
            Found {
                path: "/x/b.png".into(),
                relative: "b.png".into(),
                from_folder: true,
            },
        ];
        let c = collisions(&files);
        assert_eq!(c.len(), 1);
        assert!(c.contains_key(Path::new("/x/A.png")));
    }
}
