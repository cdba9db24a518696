//! Backups: layout, manifest lines, reading back, export.

use std::sync::Arc;

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{Access, FolderDirectory, FolderUser};
use userphoto_directory::{Directory, Photo, User};

use super::*;

fn jpeg(tag: &str) -> Photo {
    Photo::new([b"\xFF\xD8\xFF\xE0".as_slice(), tag.as_bytes(), b"\xFF\xD9"].concat())
        .expect("jpeg")
}

fn record(target: &str, id: &str, name: &str, time: &str, sha: &str) -> BackupRecord {
    BackupRecord {
        time: time.into(),
        target: target.into(),
        user_id: id.into(),
        user_name: Some(name.into()),
        display_name: None,
        sha256: sha.into(),
        bytes: 1,
        path: format!("{target}/{id}/{sha}.jpg"),
        reason: BackupReason::BeforeSet,
    }
}

#[test]
fn save_writes_the_photo_and_one_manifest_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BackupStore::new(dir.path().join("backups"));
    let user = User::new("CN=Doe\\, Jane,OU=Staff")
        .with_sam_account_name("jane.doe")
        .with_display_name("Jane Doe");
    let photo = jpeg("one");
    let rec = store
        .save_blocking(
            "ad",
            &user,
            Some("jane.doe"),
            &photo,
            BackupReason::BeforeSet,
        )
        .expect("save");

    assert!(
        rec.path
            .starts_with("ad/CN%3DDoe%5C%2C%20Jane%2COU%3DStaff/"),
        "{}",
        rec.path
    );
    assert!(
        rec.path
            .ends_with(&format!("-{}.jpg", &photo.digest()[..12])),
        "{}",
        rec.path
    );
    assert_eq!(rec.sha256, photo.digest());
    assert_eq!(rec.bytes, photo.len() as u64);
    assert_eq!(rec.time.len(), "2025-01-31T12:00:00.123456Z".len());
    let kept = std::fs::read(store.dir().join(&rec.path)).expect("kept photo");
    assert_eq!(kept, photo.bytes());

    let manifest = std::fs::read_to_string(store.manifest_path()).expect("manifest");
    assert_eq!(manifest.lines().count(), 1);
    let line: serde_json::Value = serde_json::from_str(manifest.trim()).expect("json line");
    for key in [
        "time",
        "target",
        "user_id",
        "user_name",
        "sha256",
        "bytes",
        "path",
        "reason",
    ] {
        assert!(line.get(key).is_some(), "{key} missing from {line}");
    }
    assert_eq!(line["user_name"], "jane.doe");
    assert_eq!(line["reason"], "before-set");

    // A second photo appends a second line; nothing is overwritten.
    store
        .save_blocking(
            "ad",
            &user,
            Some("jane.doe"),
            &jpeg("two"),
            BackupReason::BeforeRemove,
        )
        .expect("save");
    let set = BackupSet::open(store.dir()).expect("open");
    assert_eq!(set.records().len(), 2);
    assert_eq!(set.read_photo(&set.records()[0]).expect("read"), photo);
}

#[test]
fn safe_components_stay_inside_and_portable() {
    assert_eq!(safe_component("jsmith"), "jsmith");
    assert_eq!(safe_component("john.smith@corp"), "john.smith@corp");
    assert_eq!(safe_component("../escape"), "%2E.%2Fescape");
    assert_eq!(safe_component(".."), "%2E%2E");
    assert_eq!(safe_component("a/b\\c"), "a%2Fb%5Cc");
    assert_eq!(safe_component("CON"), "%43ON");
    assert_eq!(safe_component("com1.txt"), "%63om1.txt");
    assert_eq!(safe_component("aux.jpg"), "%61ux.jpg");
    assert_eq!(safe_component("smith. "), "smith.%20");
    for id in ["CON", "aux.jpg", "smith.", "smith ", "C:\\x", "nul .txt"] {
        let name = safe_component(id);
        assert!(
            userphoto_directory::file_name::is_windows_safe(&name),
            "{id:?} gave {name:?}"
        );
    }
    assert_eq!(safe_component(""), "_");
    let long = safe_component(&"x".repeat(500));
    assert!(long.len() <= 100, "{long}");
    assert_ne!(long, safe_component(&"x".repeat(501)));
}

#[test]
fn restore_picks_the_newest_backup_per_user() {
    let records = vec![
        record("ad", "u1", "alice", "2025-01-01T10:00:00.000000Z", "old"),
        record("ad", "u1", "alice", "2025-01-02T10:00:00.000000Z", "new"),
        record("ad", "U1", "alice", "2024-12-31T10:00:00.000000Z", "older"),
        record(
            "m365",
            "u1",
            "alice",
            "2024-01-01T10:00:00.000000Z",
            "cloud",
        ),
        record("ad", "u2", "bob", "2025-01-01T10:00:00.000000Z", "bob"),
    ];
    let newest = newest_per_user(&records, &[]);
    let shas: Vec<&str> = newest.iter().map(|r| r.sha256.as_str()).collect();
    assert_eq!(shas, vec!["new", "bob", "cloud"]);

    let only_alice = newest_per_user(&records, &["ALICE".to_owned()]);
    let shas: Vec<&str> = only_alice.iter().map(|r| r.sha256.as_str()).collect();
    assert_eq!(shas, vec!["new", "cloud"]);
    assert!(newest_per_user(&records, &["carol".to_owned()]).is_empty());

    // Equal times: the later line wins.
    let tie = vec![
        record("ad", "u1", "a", "2025-01-01T10:00:00.000000Z", "first"),
        record("ad", "u1", "a", "2025-01-01T10:00:00.000000Z", "second"),
    ];
    assert_eq!(newest_per_user(&tie, &[])[0].sha256, "second");
}

#[test]
fn reading_back_checks_the_manifest_and_the_photo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = BackupSet::open(dir.path())
        .expect_err("no manifest")
        .to_string();
    assert!(err.contains("is not a userphoto backup"), "{err}");

    let store = BackupStore::new(dir.path());
    let rec = store
        .save_blocking(
            "folder",
            &User::new("u1"),
            None,
            &jpeg("x"),
            BackupReason::Export,
        )
        .expect("save");
    // Opening the manifest file itself works too.
    let set = BackupSet::open(&store.manifest_path()).expect("open manifest");
    assert_eq!(set.dir(), dir.path());

    std::fs::write(dir.path().join(&rec.path), b"\xFF\xD8\xFFchanged").expect("tamper");
    let err = set.read_photo(&rec).expect_err("tampered").to_string();
    assert!(err.contains("does not match its manifest line"), "{err}");

    let mut escaping = rec.clone();
    escaping.path = "../../etc/passwd".into();
    let line = serde_json::to_string(&escaping).expect("json");
    std::fs::write(store.manifest_path(), format!("{line}\n")).expect("write");
    let err = BackupSet::open(dir.path()).expect_err("unsafe").to_string();
    assert!(err.contains("leaves the backup folder"), "{err}");

    std::fs::write(store.manifest_path(), "{\"time\": 1}\n").expect("write");
    let err = BackupSet::open(dir.path())
        .expect_err("bad line")
        .to_string();
    assert!(err.contains("line 1"), "{err}");
}

#[tokio::test]
async fn export_keeps_every_current_photo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = vec![
        FolderUser::from(User::new("u1").with_sam_account_name("alice")),
        FolderUser::from(User::new("u2").with_sam_account_name("bob")),
        FolderUser::from(User::new("u3").with_sam_account_name("carol")),
        FolderUser::new(
            User::new("u4").with_sam_account_name("dave"),
            Access::NoMailbox,
        ),
    ];
    let folder = FolderDirectory::create(dir.path().join("dir"), users)
        .await
        .expect("create");
    folder
        .set_photo(&User::new("u1"), &jpeg("alice"))
        .await
        .expect("set");
    folder
        .set_photo(&User::new("u3"), &jpeg("carol"))
        .await
        .expect("set");
    let target = Target::new(TargetKind::Folder, Arc::new(folder), "tester");
    let store = BackupStore::new(dir.path().join("export"));

    let mut seen = Vec::new();
    let summary = export_target(&target, &store, 2, |item| seen.push(item.user.id.clone()))
        .await
        .expect("export");
    assert_eq!(
        summary,
        ExportSummary {
            users: 4,
            saved: 2,
            no_photo: 1,
            not_accessible: 1,
            failed: 0
        }
    );
    seen.sort();
    assert_eq!(seen, vec!["u1", "u2", "u3", "u4"]);
    let set = BackupSet::open(store.dir()).expect("open");
    let names: Vec<&str> = set.newest(&[]).iter().map(|r| r.user_label()).collect();
    assert_eq!(names, vec!["alice", "carol"]);
    assert!(set
        .records()
        .iter()
        .all(|r| r.reason == BackupReason::Export));
}

#[test]
fn a_manifest_line_cut_short_is_left_out_and_the_rest_restores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BackupStore::new(dir.path());
    let save = |id: &str, bytes: &str| {
        store
            .save_blocking(
                "ad",
                &User::new(id),
                None,
                &jpeg(bytes),
                BackupReason::BeforeSet,
            )
            .expect("save")
    };
    save("u1", "one");
    // A crash while the next line was written.
    let mut manifest = fs::OpenOptions::new()
        .append(true)
        .open(store.manifest_path())
        .expect("open the manifest");
    std::io::Write::write_all(&mut manifest, b"{\"time\":\"2026").expect("torn");
    save("u2", "two");
    let set = BackupSet::open(dir.path()).expect("the rest still opens");
    let users: Vec<_> = set.records().iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(users, ["u1", "u2"]);
    assert_eq!(set.torn_lines(), [2]);
}
