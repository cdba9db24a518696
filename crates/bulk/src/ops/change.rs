//! What single-user operations are asked to do and what they did.

use userphoto_directory::config::TargetKind;
use userphoto_directory::User;
use userphoto_imaging::{CropMode, Limits, SourceInfo};

use super::OpsError;
use crate::backup::BackupRecord;
use crate::reason::Reason;

/// How a write behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Keep the current photo before replacing or removing it (default on).
    pub backup: bool,
    /// Do everything but change the directory, the backups and the log.
    pub dry_run: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            backup: true,
            dry_run: false,
        }
    }
}

/// How `set` prepares and writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetOptions {
    /// Backup and dry-run.
    pub write: WriteOptions,
    /// How the square is chosen (default: [`CropMode::Auto`], as everywhere).
    pub crop: CropMode,
    /// Decoder limits for the source.
    pub limits: Limits,
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    /// The directory was changed.
    Done,
    /// The directory already had it (same photo, or no photo to remove).
    Unchanged,
    /// Dry run: it would have been changed.
    DryRun,
}

impl ChangeStatus {
    /// `done`, `unchanged`, `dry-run`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Done => "done",
            ChangeStatus::Unchanged => "unchanged",
            ChangeStatus::DryRun => "dry-run",
        }
    }
}

/// The result of one set, remove or restore at one target.
#[derive(Clone, Debug)]
pub struct Change {
    /// The target.
    pub target: TargetKind,
    /// The user.
    pub user: User,
    /// The user's name by the target's listing key.
    pub user_name: Option<String>,
    /// What happened.
    pub status: ChangeStatus,
    /// SHA-256 of the photo before, if there was one (or it was unreadable: `None`).
    pub old_sha256: Option<String>,
    /// SHA-256 of the photo after (`None` after a remove).
    pub new_sha256: Option<String>,
    /// Size of the new photo in bytes.
    pub new_bytes: Option<usize>,
    /// Side of the new photo in pixels, when we prepared it.
    pub new_size: Option<u32>,
    /// Where the old photo was kept.
    pub backup: Option<BackupRecord>,
    /// Things the person should know (quality findings, a photo smaller
    /// than the target's size).
    pub warnings: Vec<Reason>,
}

/// The outcome of `set` across targets.
#[derive(Debug)]
pub struct SetRun {
    /// What the source is.
    pub source: SourceInfo,
    /// Targets the size rule left out, with why.
    pub skipped: Vec<(TargetKind, Reason)>,
    /// Each target written to, in write order.
    pub results: Vec<(TargetKind, Result<Change, OpsError>)>,
}
