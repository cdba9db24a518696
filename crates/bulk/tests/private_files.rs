//! Staff photos and logs are private to the user running userphoto
//! (issue 16): the audit log, a backup folder's photos and manifest, and
//! an import journal are 0600 in 0700 folders — also when an older version
//! left the file 0644.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use userphoto_bulk::audit::{AuditAction, AuditLog, AuditRecord};
use userphoto_bulk::backup::{BackupReason, BackupStore};
use userphoto_bulk::import::journal::Journal;
use userphoto_directory::{Photo, User};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn audit_log_backups_and_journal_are_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let audit = AuditLog::new(data.join("audit.jsonl"));
    audit
        .append_blocking(&AuditRecord::now("svc", "ad", "CN=A", AuditAction::Set))
        .expect("append");
    assert_eq!(mode(&data), 0o700, "data folder");
    assert_eq!(mode(audit.path()), 0o600, "audit.jsonl");
    // A log an older version left readable is narrowed on the next append.
    std::fs::set_permissions(audit.path(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    audit
        .append_blocking(&AuditRecord::now("svc", "ad", "CN=A", AuditAction::Remove))
        .expect("append");
    assert_eq!(mode(audit.path()), 0o600, "audit.jsonl after an append");

    let store = BackupStore::new(data.join("backups"));
    let photo = Photo::new(b"\xFF\xD8\xFF\xE0photo\xFF\xD9".to_vec()).expect("jpeg");
    let record = store
        .save_blocking(
            "ad",
            &User::new("CN=A"),
            Some("a"),
            &photo,
            BackupReason::BeforeSet,
        )
        .expect("save");
    let saved = data.join("backups").join(&record.path);
    assert_eq!(mode(&data.join("backups")), 0o700, "backups folder");
    let mut folder = saved.parent();
    while let Some(f) = folder.filter(|f| *f != data.join("backups")) {
        assert_eq!(mode(f), 0o700, "{}", f.display());
        folder = f.parent();
    }
    assert_eq!(mode(&saved), 0o600, "backed-up photo");
    assert_eq!(
        mode(&data.join("backups/manifest.jsonl")),
        0o600,
        "manifest"
    );

    let journal_path = data.join("imports/run/journal.jsonl");
    drop(Journal::open(&journal_path, false).expect("journal"));
    assert_eq!(mode(&data.join("imports")), 0o700, "imports folder");
    assert_eq!(mode(&journal_path), 0o600, "journal.jsonl");
}
