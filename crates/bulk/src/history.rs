//! One person's history: the backups held of their photos and the audit
//! lines about them, per target, newest first — what a front end shows
//! before offering "Restore this one" (which goes through
//! [`Ops::restore`](crate::ops::Ops::restore), like `userphoto restore`).

use std::path::Path;

use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::backup::{BackupError, BackupRecord, BackupSet, BackupStore};

/// Who to look for: a target (`ad`, `m365`, …) and the user's id there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who {
    /// The target's kind, as the manifest and the audit log name it.
    pub target: String,
    /// The user's id in that target.
    pub user_id: String,
}

impl Who {
    fn is(&self, target: &str, user_id: &str) -> bool {
        self.target == target && self.user_id == user_id
    }
}

/// The backups and audit lines of one person, newest first.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The photos kept before a change, newest first.
    pub backups: Vec<BackupRecord>,
    /// What was done to their photos, newest first.
    pub audit: Vec<AuditRecord>,
}

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The backup manifest is damaged.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The audit log is damaged.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Opens the backup folder of `store` (`None`: none kept yet).
///
/// # Errors
/// The manifest exists but cannot be read.
pub fn open_backups(store: &BackupStore) -> Result<Option<BackupSet>, BackupError> {
    open_dir(store.dir())
}

fn open_dir(dir: &Path) -> Result<Option<BackupSet>, BackupError> {
    // No backup folder (nothing was ever replaced, or something else has
    // its name): nothing is held there.
    if !dir.is_dir() {
        return Ok(None);
    }
    match BackupSet::open(dir) {
        Ok(set) => Ok(Some(set)),
        Err(BackupError::NotABackup { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The history of the person known as `who` at each target (blocking:
/// it reads files). Either store may be absent (nothing is kept).
///
/// # Errors
/// The manifest or the audit log is damaged.
pub fn for_user(
    backups: Option<&BackupStore>,
    audit: Option<&AuditLog>,
    who: &[Who],
) -> Result<History, HistoryError> {
    let mut found = History::default();
    if let Some(set) = backups.map(open_backups).transpose()?.flatten() {
        found.backups = set
            .records()
            .iter()
            .filter(|r| who.iter().any(|w| w.is(&r.target, &r.user_id)))
            .cloned()
            .collect();
    }
    if let Some(log) = audit {
        found.audit = log
            .read()?
            .into_iter()
            .filter(|r| who.iter().any(|w| w.is(&r.target, &r.user_id)))
            .collect();
    }
    // RFC 3339 UTC with microseconds sorts as text.
    found.backups.sort_by(|a, b| b.time.cmp(&a.time));
    found.audit.sort_by(|a, b| b.time.cmp(&a.time));
    Ok(found)
}

/// The backup kept at `path` (relative to the backup folder) if it is
/// one of `who`'s: a front end names a backup by its path, and may only
/// show or restore that person's own.
pub fn find<'a>(set: &'a BackupSet, who: &[Who], path: &str) -> Option<&'a BackupRecord> {
    set.records()
        .iter()
        .find(|r| r.path == path && who.iter().any(|w| w.is(&r.target, &r.user_id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditAction;
    use crate::backup::BackupReason;
    use userphoto_directory::{Photo, User};

    fn jpeg() -> Photo {
        // The smallest thing Photo accepts as a JPEG: SOI … EOI.
        Photo::new(vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
            0xFF, 0xD9,
        ])
        .expect("a JPEG")
    }

    #[test]
    fn only_that_persons_lines_newest_first_and_nothing_when_nothing_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = BackupStore::new(dir.path().join("backups"));
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let ada = [Who {
            target: "ad".into(),
            user_id: "u01".into(),
        }];
        let empty = for_user(Some(&store), Some(&log), &ada).expect("no files yet is no history");
        assert!(empty.backups.is_empty() && empty.audit.is_empty());

        let photo = jpeg();
        for id in ["u01", "u02", "u01"] {
            store
                .save_blocking("ad", &User::new(id), None, &photo, BackupReason::BeforeSet)
                .expect("kept");
            log.append_blocking(&AuditRecord::now("me", "ad", id, AuditAction::Set))
                .expect("logged");
        }
        // Another target's u01 is someone else.
        log.append_blocking(&AuditRecord::now("me", "folder", "u01", AuditAction::Set))
            .expect("logged");
        let h = for_user(Some(&store), Some(&log), &ada).expect("read");
        assert_eq!(h.backups.len(), 2);
        assert_eq!(h.audit.len(), 2);
        assert!(h.backups[0].time >= h.backups[1].time, "newest first");
        assert!(h
            .backups
            .iter()
            .all(|r| r.user_id == "u01" && r.target == "ad"));
        let set = open_backups(&store).expect("opens").expect("a manifest");
        assert!(find(&set, &ada, &h.backups[0].path).is_some());
        let bob = [Who {
            target: "ad".into(),
            user_id: "u02".into(),
        }];
        assert!(
            find(&set, &bob, &h.backups[0].path).is_none(),
            "not someone else's"
        );
    }
}
