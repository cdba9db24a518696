//! What a single-user operation could not do.

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::Error as DirError;
use userphoto_imaging::ImagingError;

use crate::audit::AuditError;
use crate::backup::BackupError;
use crate::reason::Detail;

/// Something a single-user operation could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// The source image cannot be used; nothing was changed.
    #[error("{0}")]
    Image(#[from] ImagingError),
    /// The directory refused or failed.
    #[error("{target}: {source}")]
    Directory {
        /// The target.
        target: TargetKind,
        /// What the directory said.
        source: DirError,
    },
    /// The current photo could not be backed up; nothing was changed.
    #[error("{target}: the current photo of {user} could not be backed up, so nothing was changed: {source}; or pass --no-backup")]
    Backup {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why.
        source: BackupError,
    },
    /// The user has no mailbox at an HD target, so it cannot hold a photo
    /// there; nothing was written. Bulk runs report it as skipped.
    #[error("{target}: {user} has no mailbox in {target}, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead")]
    NoMailbox {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
    },
    /// The current photo cannot be read, so it cannot be backed up.
    #[error("{target}: the current photo of {user} cannot be read ({reason}), so it cannot be backed up and nothing was changed; pass --no-backup to write anyway")]
    CannotBackUp {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A kept photo could not be read back for restoring.
    #[error("{target}: {source}")]
    BackupRead {
        /// The target.
        target: TargetKind,
        /// Why.
        source: BackupError,
    },
    /// The change was made but the audit log could not be written.
    #[error("{target}: the photo of {user} was changed, but {source}")]
    Audit {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why.
        source: AuditError,
    },
}

impl OpsError {
    /// The message for a front end without command-line flags (the web
    /// UI): the same sentence as `Display`, with a remedy that names no
    /// flag (and never suggests writing without a backup), led by the
    /// target's section name. `Display` is the command line's wording;
    /// [`Wording::ops_error`](crate::wording::Wording::ops_error) names
    /// targets as a front end does.
    pub fn plain_message(&self) -> String {
        match self.target() {
            Some(target) => format!("{target}: {}", self.plain_detail(target.as_str())),
            None => self.plain_detail(""),
        }
    }

    /// The plain sentence without the target in front; `target_name` is
    /// what the front end calls the target (it appears in the no-mailbox
    /// sentence).
    pub fn plain_detail(&self, target_name: &str) -> String {
        match self {
            OpsError::Image(e) => e.plain_message(),
            OpsError::Directory { source, .. } => source.plain_message(),
            OpsError::Backup { user, source, .. } => format!(
                "the current photo of {user} could not be backed up, so nothing was changed: {source}"
            ),
            OpsError::NoMailbox { user, .. } => format!(
                "{user} has no mailbox in {target_name}, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead"
            ),
            OpsError::CannotBackUp { user, reason, .. } => format!(
                "the current photo of {user} cannot be read ({reason}), so it cannot be backed up and nothing was changed; a photo is only replaced once it is backed up, so fix what keeps it from being read"
            ),
            OpsError::BackupRead { source, .. } => source.to_string(),
            OpsError::Audit { user, source, .. } => {
                format!("the photo of {user} was changed, but {source}")
            }
        }
    }

    /// The error as data for a report row: its code and both wordings.
    /// The report has a target column, so the plain sentence does not
    /// name the target again (the command line's is the whole `Display`).
    pub fn detail(&self) -> Detail {
        let target = self.target().map_or("", |t| t.as_str());
        Detail {
            code: self.code().to_owned(),
            text: self.to_string(),
            plain: self.plain_detail(target),
        }
    }

    /// A short machine-readable code (`corrupt`, `permission-denied`,
    /// `backup-failed`, …).
    pub fn code(&self) -> &'static str {
        match self {
            OpsError::Image(e) => e.code(),
            OpsError::Directory { source, .. } => source.code(),
            OpsError::Backup { .. } => "backup-failed",
            OpsError::NoMailbox { .. } => "no-mailbox",
            OpsError::CannotBackUp { .. } => "cannot-back-up",
            OpsError::BackupRead { .. } => "backup-unreadable",
            OpsError::Audit { .. } => "audit-failed",
        }
    }

    /// The target the error is about (none for an unusable image).
    pub fn target(&self) -> Option<TargetKind> {
        match self {
            OpsError::Image(_) => None,
            OpsError::Directory { target, .. }
            | OpsError::Backup { target, .. }
            | OpsError::NoMailbox { target, .. }
            | OpsError::CannotBackUp { target, .. }
            | OpsError::BackupRead { target, .. }
            | OpsError::Audit { target, .. } => Some(*target),
        }
    }

    pub(super) fn dir(target: &Target) -> impl FnOnce(DirError) -> OpsError + '_ {
        move |source| OpsError::Directory {
            target: target.kind,
            source,
        }
    }

    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, OpsError::Directory { source, .. } if source.is_transient())
    }
}
