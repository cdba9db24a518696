//! `userphoto import FOLDER`: a folder of photos into every directory, with
//! a plan first, backups, a journal to resume from, and a report.
//!
//! Why a module tree of its own: this is the job admins actually have (HR
//! drops 3,000 photos in a share; each must reach the right person in every
//! directory, tonight, and again next month when 40 change), and both the
//! CLI and the web UI run it — through one [`ImportSession`]:
//!
//! 1. [`session`] — where a folder's state lives, fresh run or resume, the
//!    journal's order, the digest cache;
//! 2. [`matching`] — the naming rule: file name up to the first space or the
//!    extension, NFC, case-insensitive; a mapping CSV overrides it; one file
//!    per user, the others reported as duplicates;
//! 3. [`plan`] — [`build_plan`] in stages: users found in batches in every
//!    target by the [`Resolver`](crate::identity::Resolver), then
//!    [`sizing`] (the size rule and HD-first order), [`digests`] (what is
//!    already in place, from the [`cache`]) and [`current`] (what each
//!    target holds now); the result is the data of [`model`];
//! 4. [`execute`] — the [`Executor`] prepares on a CPU pool while writes go
//!    out concurrently through [`Ops`](crate::ops::Ops), journals, and
//!    stops cleanly on [`CancelToken::cancel`]; [`outage`] is the layer
//!    that waits out a directory that stopped answering;
//! 5. [`journal`] — the saved plan and the append-only, fsync'd journal of
//!    a run, for resuming;
//! 6. [`report`] — per-item results, the summary, `--report FILE`;
//! 7. [`reporter`] — the [`Reporter`] trait receiving progress [`Event`]s
//!    (text, JSON lines, progress bar, server-sent events);
//! 8. [`existing_hd`] — "use existing HD" for many users: a thumbnail of
//!    each current HD photo into Active Directory.
//!
//! Rows carry [`Reason`](crate::reason::Reason)s; front ends word them.
//!
//! ```no_run
//! use userphoto_bulk::import::{ImportOptions, ImportSession, NoReporter, RunHooks};
//! use userphoto_bulk::ops::Ops;
//! # async fn demo(targets: Vec<userphoto_directory::config::Target>) -> Result<(), userphoto_bulk::import::ImportError> {
//! let session = ImportSession::open("/var/lib/userphoto", "/srv/hr-photos", targets, Ops::none());
//! let options = ImportOptions::new("/srv/hr-photos");
//! let pending = session.plan_and_start(&options, &NoReporter).await?;
//! let report = session.run(pending, RunHooks::default()).await?;
//! assert!(report.summary.is_success());
//! # Ok(()) }
//! ```

pub mod cache;
mod current;
mod digests;
pub mod execute;
pub mod existing_hd;
pub mod journal;
pub mod matching;
pub mod model;
mod outage;
pub mod plan;
pub mod report;
pub mod reporter;
pub mod session;
mod sizing;
pub mod sync_state;

use std::path::PathBuf;

use userphoto_directory::config::TargetKind;

pub use self::cache::{FileStamp, PreparedCache};
pub use self::execute::{
    CancelToken, ConfirmRequest, Confirmer, Decision, ExecuteOptions, Executor,
};
pub use self::existing_hd::use_existing_hd;
pub use self::journal::{Journal, RunState};
pub use self::matching::{name_from_file, Mapping};
pub use self::model::{Action, Entry, Plan, PlanCounts, PlanRow, Step};
pub use self::plan::{build_plan, build_plan_preparing, ImportOptions};
pub use self::report::{ItemResult, Outcome, RunReport, Summary};
pub use self::reporter::{CollectingReporter, Event, NoReporter, Reporter};
pub use self::session::{ImportSession, Interrupted, PendingRun, RunHooks};
pub use crate::prepare::{PrepareMode, Preparer};

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
