//! `userphoto import FOLDER`: a folder of photos into every directory, with
//! a plan first, backups, a journal to resume from, and a report.
//!
//! Why a module tree of its own: this is the job admins actually have (HR
//! drops 3,000 photos in a share; each must reach the right person in every
//! directory, tonight, and again next month when 40 change), and both the
//! CLI and the web UI run it. The pieces are library calls so that either
//! front end can show the plan, ask, run and report in its own way:
//!
//! 1. [`matching`] — the naming rule: file name up to the first space or the
//!    extension, NFC, case-insensitive; a mapping CSV overrides it; one file
//!    per user, the others reported as duplicates;
//! 2. [`plan`] — [`build_plan`] resolves users in batches in every target,
//!    applies the size rule and the HD-first order, and marks what is
//!    already in place as `unchanged` (using the [`cache`] of prepared
//!    digests, so a second run need not decode anything);
//! 3. [`execute`] — the [`Executor`] prepares on a CPU pool while writes go
//!    out concurrently, backs up, audits, journals, and stops cleanly on
//!    [`CancelToken::cancel`];
//! 4. [`journal`] — the saved plan and the append-only, fsync'd journal of
//!    a run, for `--resume`;
//! 5. [`report`] — per-item results, the summary, `--report FILE`;
//! 6. [`reporter`] — the [`Reporter`] trait receiving progress [`Event`]s
//!    (text, JSON lines, progress bar, server-sent events);
//! 7. [`existing_hd`] — "use existing HD" for many users: a thumbnail of
//!    each current HD photo into Active Directory.
//!
//! ```no_run
//! use std::sync::Arc;
//! use userphoto_bulk::import::{build_plan, Executor, ImportOptions, NoReporter, PreparedCache};
//! use userphoto_bulk::ops::Ops;
//! # async fn demo(targets: Vec<userphoto_directory::config::Target>) -> Result<(), userphoto_bulk::import::ImportError> {
//! let cache = Arc::new(PreparedCache::in_memory());
//! let plan = build_plan(&ImportOptions::new("/srv/hr-photos"), &targets, &cache, &NoReporter).await?;
//! let report = Executor::new(targets, Ops::none()).with_cache(cache).run(&plan).await;
//! assert!(report.summary.is_success());
//! # Ok(()) }
//! ```

pub mod cache;
pub mod execute;
pub mod existing_hd;
pub mod journal;
pub mod matching;
pub mod plan;
pub mod preparer;
pub mod report;
pub mod reporter;

use std::path::PathBuf;

use userphoto_directory::config::TargetKind;

pub use self::cache::{FileStamp, PreparedCache};
pub use self::execute::{
    CancelToken, ConfirmRequest, Confirmer, Decision, ExecuteOptions, Executor, PrepareMode,
};
pub use self::existing_hd::use_existing_hd;
pub use self::journal::{Journal, RunState};
pub use self::matching::{name_from_file, Mapping};
pub use self::plan::{
    build_plan, build_plan_preparing, Action, Entry, ImportOptions, Plan, PlanCounts, PlanRow, Step,
};
pub use self::preparer::Preparer;
pub use self::report::{ItemResult, Outcome, RunReport, Summary};
pub use self::reporter::{CollectingReporter, Event, NoReporter, Reporter};

/// Why an import could not run at all (per-item problems are in the plan
/// and the report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// No target to import into.
    #[error("no target to import into; configure one, or name the targets to import into")]
    NoTargets,
    /// The folder cannot be read.
    #[error("{}: {message}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A target cannot be asked about its users.
    #[error("{target}: {source}")]
    Directory {
        /// The target.
        target: TargetKind,
        /// What it said.
        source: userphoto_directory::Error,
    },
    /// The saved plan or journal cannot be used.
    #[error("{}: {message}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        message: String,
    },
    /// `--resume` without an interrupted run.
    #[error("there is no interrupted import of this folder into these targets to resume (looked in {}); run it without --resume", dir.display())]
    NothingToResume {
        /// Where the run state would be.
        dir: PathBuf,
    },
}
