//! A `[[sync]]` job: a named, unattended import run by a timer — the same
//! [`ImportSession`] as `userphoto import`, plus a lock so two runs of one
//! job never overlap, and the sync state so a run with nothing new costs
//! nothing.
//!
//! Why a module of its own: the CLI's `sync` command (and any scheduler
//! that embeds the engine) must lock, plan, run and summarise a job the
//! same way; the front end only words the summary.

use std::fs::File;
use std::path::{Path, PathBuf};

use userphoto_directory::config::{SyncSection, Target};
use userphoto_imaging::CropMode;

use crate::import::{
    ImportError, ImportOptions, ImportSession, ItemResult, Mapping, NoReporter, Outcome, RunHooks,
    RunReport,
};
use crate::ops::Ops;
use crate::reason::Reason;

/// Why a job could not run at all (per-photo problems are in its report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Another run of the same job holds its lock.
    #[error("sync job {job:?} is already running (its lock {} is held); this run did nothing — let the other finish", lock.display())]
    Busy {
        /// The job.
        job: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be created.
    #[error("sync job {job:?}: cannot create its lock {}: {message}", lock.display())]
    Lock {
        /// The job.
        job: String,
        /// The lock file.
        lock: PathBuf,
        /// Why.
        message: String,
    },
    /// The mapping file cannot be read.
    #[error("sync job {job:?}: {message}; the mapping file needs rows `file,user`")]
    Mapping {
        /// The job.
        job: String,
        /// Why.
        message: String,
    },
    /// The CSV source cannot be read at all.
    #[error("sync job {job:?}: {message}")]
    Source {
        /// The job.
        job: String,
        /// Why.
        message: String,
    },
    /// The import could not run.
    #[error("sync job {job:?}: {source}")]
    Import {
        /// The job.
        job: String,
        /// Why.
        source: ImportError,
    },
}

/// A job held for running: its lock is released when this is dropped
/// (also when the process dies: the operating system drops the lock).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
    path: PathBuf,
}

impl JobLock {
    /// Takes the lock of job `name` under `state_dir` without waiting.
    ///
    /// # Errors
    /// [`SyncError::Busy`] when another run holds it; [`SyncError::Lock`]
    /// when the lock file cannot be created.
    pub fn take(state_dir: &Path, name: &str) -> Result<Self, SyncError> {
        let dir = state_dir.join("sync");
        // A job may be named `con` or `aux`: devices on Windows.
        let path = dir.join(format!(
            "{}.lock",
            userphoto_directory::file_name::portable_stem(name)
        ));
        let fail = |e: std::io::Error| SyncError::Lock {
            job: name.to_owned(),
            lock: path.clone(),
            message: e.to_string(),
        };
        userphoto_directory::private_fs::create_dir_all(&dir).map_err(fail)?;
        let file = userphoto_directory::private_fs::open(
            userphoto_directory::private_fs::options()
                .create(true)
                .truncate(false)
                .write(true),
            &path,
        )
        .map_err(fail)?;
        match file.try_lock() {
            Ok(()) => Ok(JobLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(SyncError::Busy {
                job: name.to_owned(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(fail(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A job ready to run: what to import, and how.
#[derive(Clone, Debug)]
pub struct SyncJob {
    /// The job's name.
    pub name: String,
    /// The import options (its folder is the source).
    pub options: ImportOptions,
    /// Read every current photo and report changes made in the directory.
    pub verify: bool,
    /// Another directory as the source (`source = "m365"`), opened by the
    /// front end; its users are matched by `match_by` (default UPN).
    pub source_directory: Option<Target>,
}

impl SyncJob {
    /// The job of a `[[sync]]` section; `resolve` turns the file's paths
    /// into paths relative to the configuration file. A `source` naming a
    /// target (`m365`, `ad`, …) needs [`SyncJob::source_directory`] set to
    /// that target, opened.
    ///
    /// # Errors
    /// [`SyncError::Mapping`] when the mapping file cannot be read.
    pub fn from_section(
        section: &SyncSection,
        resolve: impl Fn(&Path) -> PathBuf,
    ) -> Result<Self, SyncError> {
        let mapping = section
            .mapping
            .as_deref()
            .map(|p| Mapping::load(&resolve(p)))
            .transpose()
            .map_err(|e| SyncError::Mapping {
                job: section.name.clone(),
                message: e.to_string(),
            })?;
        let crop = match section.crop.as_deref() {
            Some("centre" | "center") => CropMode::Centre,
            Some("face") => CropMode::Face,
            _ => CropMode::default(),
        };
        let options = ImportOptions {
            recursive: section.recursive,
            match_by: section.match_by,
            mapping,
            explicit_targets: !section.targets.is_empty(),
            crop,
            strict: section.strict,
            ..ImportOptions::new(resolve(&section.source))
        };
        Ok(SyncJob {
            name: section.name.clone(),
            options,
            verify: section.verify,
            source_directory: None,
        })
    }

    /// Runs the job into `targets`, its state under `state_dir`: takes the
    /// lock, plans (trusting the sync state unless `verify`), writes, and
    /// records what landed. An interrupted earlier run is replaced: the
    /// sync state and the digest cache make a fresh plan as cheap.
    ///
    /// # Errors
    /// [`SyncError::Busy`] when the job is already running; otherwise when
    /// the import cannot run at all.
    pub async fn run(
        &self,
        state_dir: &Path,
        targets: Vec<Target>,
        ops: Ops,
        hooks: RunHooks,
    ) -> Result<RunReport, SyncError> {
        let _lock = JobLock::take(state_dir, &self.name)?;
        let import = |source| SyncError::Import {
            job: self.name.clone(),
            source,
        };
        let mut options = self.options.clone();
        let mut problems = Vec::new();
        if let Some(source) = &self.source_directory {
            // Another directory as the source: its photos become a folder
            // of the job's own, planned as any folder (see `crate::source`).
            let key = options
                .match_by
                .unwrap_or(userphoto_directory::UserKey::Upn);
            let made = crate::source::materialize_directory(
                source,
                key,
                &state_dir
                    .join("sources")
                    .join(userphoto_directory::file_name::portable_stem(&self.name)),
            )
            .await
            .map_err(|e| SyncError::Source {
                job: self.name.clone(),
                message: e.to_string(),
            })?;
            options.folder = made.folder;
            options.mapping = Some(made.mapping);
            options.match_by = Some(key);
            problems = made.problems;
        } else if crate::source::is_csv(&options.folder) {
            // A CSV source becomes a folder of the job's own, planned as
            // any folder (see `crate::source`).
            let made = crate::source::materialize(
                &options.folder,
                &state_dir
                    .join("sources")
                    .join(userphoto_directory::file_name::portable_stem(&self.name)),
                &crate::source::CsvLimits::default(),
            )
            .await
            .map_err(|e| SyncError::Source {
                job: self.name.clone(),
                message: e.to_string(),
            })?;
            options.folder = made.folder;
            options.mapping = Some(made.mapping);
            problems = made.problems;
        }
        let session =
            ImportSession::open(state_dir, &options.folder, targets, ops).verifying(self.verify);
        let pending = session
            .plan_and_start(&options, &NoReporter)
            .await
            .map_err(import)?;
        let mut report = session.run(pending, hooks).await.map_err(import)?;
        for p in problems {
            report.items.push(ItemResult {
                file: format!("line {}", p.line),
                user: (!p.user.is_empty()).then_some(p.user),
                user_id: None,
                target: None,
                outcome: Outcome::Failed,
                bytes: None,
                reason: Some(Reason::SourceRow {
                    line: p.line,
                    message: p.message,
                }),
                error: None,
                backup: None,
                retryable: false,
            });
            report.summary.failed += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_of_a_job_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = JobLock::take(dir.path(), "hr").expect("free");
        match JobLock::take(dir.path(), "hr") {
            Err(SyncError::Busy { job, .. }) => assert_eq!(job, "hr"),
            other => panic!("expected Busy, got {other:?}"),
        }
        // Another job is not held up.
        JobLock::take(dir.path(), "contractors").expect("another job");
        drop(first);
        JobLock::take(dir.path(), "hr").expect("free again");
    }

    #[test]
    fn jobs_named_like_windows_devices_get_a_real_lock_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["con", "AUX", "nul", "com1"] {
            let held = JobLock::take(dir.path(), name).expect("free");
            assert!(
                matches!(JobLock::take(dir.path(), name), Err(SyncError::Busy { .. })),
                "{name}: the lock is a real file, not a device"
            );
            drop(held);
        }
        let names: Vec<String> = std::fs::read_dir(dir.path().join("sync"))
            .expect("sync folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        for name in &names {
            assert!(
                userphoto_directory::file_name::is_windows_safe(name),
                "{name}"
            );
        }
    }
}
