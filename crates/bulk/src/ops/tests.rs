//! Single-user operations against a real folder directory: the size rule,
//! set/get, backups, audit lines, remove and restore, and what goes wrong.

use std::path::Path;
use std::sync::Arc;

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{Access, FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{Error as DirError, PhotoLookup, PhotoSlot, User, UserKey};

use super::*;
use crate::audit::AuditAction;
use crate::backup::{BackupError, BackupSet};
use crate::reason::Reason;
use crate::size_rule::is_small_source;

/// A PNG of `w`×`h` pixels with a gradient (so sizes differ by content).
fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

async fn folder_target(root: &Path, name: &str, kind: TargetKind, slot: PhotoSlot) -> Target {
    let users = vec![
        FolderUser::from(
            User::new("u1")
                .with_sam_account_name("John.Smith")
                .with_upn("john.smith@corp.example.com")
                .with_display_name("John Smith"),
        ),
        FolderUser::from(
            User::new("u2")
                .with_sam_account_name("jane")
                .with_display_name("John Smith"),
        ),
        FolderUser::new(
            User::new("u3").with_sam_account_name("nomail"),
            Access::NoMailbox,
        ),
    ];
    let dir =
        FolderDirectory::create_with(root.join(name), users, FolderOptions::new().with_slot(slot))
            .await
            .expect("create folder directory");
    Target::new(kind, Arc::new(dir), "local user tester")
}

fn ops(root: &Path) -> Ops {
    Ops::new(
        BackupStore::new(root.join("backups")),
        AuditLog::new(root.join("audit.jsonl")),
    )
}

#[test]
fn small_sources_go_to_ad_only_by_default() {
    let candidates = [
        (TargetKind::Ad, PhotoSlot::Thumbnail),
        (TargetKind::M365, PhotoSlot::Hd),
    ];
    let plan = plan_targets(96, 96, &candidates, false);
    assert_eq!(plan.order, vec![TargetKind::Ad]);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].0, TargetKind::M365);
    assert_eq!(
        plan.skipped[0].1,
        Reason::SmallSourceSkipped {
            width: 96,
            height: 96
        }
    );
    // Only the square counts: 96 wide and tall is small.
    assert!(is_small_source(96, 400));
    assert!(!is_small_source(97, 97));
}

#[test]
fn large_sources_go_hd_first_then_ad() {
    let candidates = [
        (TargetKind::Ad, PhotoSlot::Thumbnail),
        (TargetKind::Ldap, PhotoSlot::LdapJpeg),
        (TargetKind::Exchange, PhotoSlot::Hd),
        (TargetKind::M365, PhotoSlot::Hd),
    ];
    let plan = plan_targets(648, 800, &candidates, false);
    assert_eq!(
        plan.order,
        vec![
            TargetKind::Exchange,
            TargetKind::M365,
            TargetKind::Ldap,
            TargetKind::Ad
        ]
    );
    assert!(plan.skipped.is_empty() && plan.warnings.is_empty());
}

#[test]
fn an_explicit_hd_target_with_a_small_source_is_written_with_a_warning() {
    let candidates = [
        (TargetKind::Ad, PhotoSlot::Thumbnail),
        (TargetKind::M365, PhotoSlot::Hd),
    ];
    let plan = plan_targets(80, 80, &candidates, true);
    assert_eq!(plan.order, vec![TargetKind::M365, TargetKind::Ad]);
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].0, TargetKind::M365);
    assert_eq!(
        plan.warnings[0].1,
        Reason::SmallSourceWritten {
            width: 80,
            height: 80
        }
    );
}

#[tokio::test]
async fn set_then_get_round_trips_with_backup_and_audit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = folder_target(tmp.path(), "dir", TargetKind::Folder, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let options = SetOptions::default();

    let first = ops
        .set_photo(&target, "john.smith", None, &png(800, 600, 1), &options)
        .await
        .expect("set");
    assert_eq!(first.status, ChangeStatus::Done);
    assert_eq!(first.user.id, "u1");
    assert_eq!(first.user_name.as_deref(), Some("John.Smith"));
    assert_eq!(first.new_size, Some(600), "never upscaled, centre square");
    assert!(first.old_sha256.is_none() && first.backup.is_none());

    let (user, lookup) = get_photo(&target, None, "JOHN.SMITH").await.expect("get");
    assert_eq!(user.id, "u1");
    let photo = lookup.photo().expect("a photo").clone();
    assert_eq!(Some(photo.digest()), first.new_sha256.as_deref());
    assert!(photo.len() <= target.budget_bytes);

    // Same source again: nothing to do, no backup, no audit line.
    let again = ops
        .set_photo(&target, "john.smith", None, &png(800, 600, 1), &options)
        .await
        .expect("set");
    assert_eq!(again.status, ChangeStatus::Unchanged);

    // A different photo: the old one is kept first.
    let second = ops
        .set_photo(&target, "john.smith", None, &png(700, 700, 2), &options)
        .await
        .expect("set");
    assert_eq!(second.status, ChangeStatus::Done);
    let backup = second.backup.as_ref().expect("backed up");
    assert_eq!(backup.sha256, photo.digest());
    assert_eq!(second.old_sha256.as_deref(), Some(photo.digest()));

    let audit = ops.audit().expect("log").read().expect("read");
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, AuditAction::Set);
    assert_eq!(audit[0].identity, "local user tester");
    assert_eq!(audit[0].old_sha256, None);
    assert_eq!(audit[1].old_sha256.as_deref(), Some(photo.digest()));
    assert_eq!(audit[1].new_sha256, second.new_sha256);
    assert_eq!(audit[1].backup.as_deref(), Some(backup.path.as_str()));
}

#[tokio::test]
async fn remove_keeps_the_photo_and_restore_brings_it_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = folder_target(tmp.path(), "dir", TargetKind::Folder, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let set = ops
        .set_photo(
            &target,
            "jane",
            None,
            &png(300, 300, 3),
            &SetOptions::default(),
        )
        .await
        .expect("set");

    let removed = ops
        .remove_photo(&target, "jane", None, &WriteOptions::default())
        .await
        .expect("remove");
    assert_eq!(removed.status, ChangeStatus::Done);
    assert_eq!(removed.old_sha256, set.new_sha256);
    assert!(removed.backup.is_some());
    let (_, lookup) = get_photo(&target, None, "jane").await.expect("get");
    assert_eq!(lookup, PhotoLookup::NoPhoto);

    // Removing again: nothing there, nothing to do.
    let again = ops
        .remove_photo(&target, "jane", None, &WriteOptions::default())
        .await
        .expect("remove");
    assert_eq!(again.status, ChangeStatus::Unchanged);

    let backups = BackupSet::open(&tmp.path().join("backups")).expect("open");
    let newest = backups.newest(&["jane".to_owned()]);
    assert_eq!(newest.len(), 1);
    let restored = ops
        .restore(&target, &backups, newest[0], &WriteOptions::default())
        .await
        .expect("restore");
    assert_eq!(restored.status, ChangeStatus::Done);
    let (_, lookup) = get_photo(&target, None, "jane").await.expect("get");
    assert_eq!(lookup.digest(), set.new_sha256.as_deref());

    let actions: Vec<AuditAction> = ops
        .audit()
        .expect("log")
        .read()
        .expect("read")
        .iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        vec![AuditAction::Set, AuditAction::Remove, AuditAction::Restore]
    );
}

#[tokio::test]
async fn dry_run_and_no_backup_change_what_they_say() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = folder_target(tmp.path(), "dir", TargetKind::Folder, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let dry = SetOptions {
        write: WriteOptions {
            backup: true,
            dry_run: true,
        },
        ..SetOptions::default()
    };
    let change = ops
        .set_photo(&target, "jane", None, &png(200, 200, 4), &dry)
        .await
        .expect("dry run");
    assert_eq!(change.status, ChangeStatus::DryRun);
    let (_, lookup) = get_photo(&target, None, "jane").await.expect("get");
    assert_eq!(lookup, PhotoLookup::NoPhoto);
    assert!(!tmp.path().join("audit.jsonl").exists());

    let no_backup = SetOptions {
        write: WriteOptions {
            backup: false,
            dry_run: false,
        },
        ..SetOptions::default()
    };
    for seed in [5, 6] {
        ops.set_photo(&target, "jane", None, &png(200, 200, seed), &no_backup)
            .await
            .expect("set");
    }
    assert!(!tmp.path().join("backups").exists());
    assert_eq!(ops.audit().expect("log").read().expect("read").len(), 2);
}

#[tokio::test]
async fn many_targets_are_written_hd_first_from_one_decode() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ad = folder_target(tmp.path(), "ad", TargetKind::Ad, PhotoSlot::Thumbnail).await;
    let hd = folder_target(tmp.path(), "hd", TargetKind::M365, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let targets = vec![ad.clone(), hd.clone()];

    let run = ops
        .set_photo_many(
            &targets,
            false,
            "john.smith",
            None,
            &png(1000, 1000, 7),
            &SetOptions::default(),
        )
        .await
        .expect("set");
    let order: Vec<TargetKind> = run.results.iter().map(|(k, _)| *k).collect();
    assert_eq!(order, vec![TargetKind::M365, TargetKind::Ad]);
    let sizes: Vec<Option<u32>> = run
        .results
        .iter()
        .map(|(_, r)| r.as_ref().expect("written").new_size)
        .collect();
    assert_eq!(sizes, vec![Some(648), Some(96)]);
    let (_, thumb) = get_photo(&ad, None, "john.smith").await.expect("get");
    assert!(thumb.photo().expect("photo").len() <= 10 * 1024);

    // A small source goes to AD only.
    let run = ops
        .set_photo_many(
            &targets,
            false,
            "jane",
            None,
            &png(90, 120, 8),
            &SetOptions::default(),
        )
        .await
        .expect("set");
    assert_eq!(run.skipped.len(), 1);
    assert_eq!(run.skipped[0].0, TargetKind::M365);
    assert_eq!(run.results.len(), 1);
    let (_, hd_photo) = get_photo(&hd, None, "jane").await.expect("get");
    assert_eq!(hd_photo, PhotoLookup::NoPhoto);
}

#[tokio::test]
async fn a_bad_image_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = folder_target(tmp.path(), "dir", TargetKind::Folder, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let err = ops
        .set_photo(
            &target,
            "jane",
            None,
            b"this is not an image",
            &SetOptions::default(),
        )
        .await
        .expect_err("bad image");
    assert!(matches!(err, OpsError::Image(_)), "{err}");
    assert!(err.to_string().contains("not a supported image"), "{err}");
    let (_, lookup) = get_photo(&target, None, "jane").await.expect("get");
    assert_eq!(lookup, PhotoLookup::NoPhoto);
    assert!(!tmp.path().join("audit.jsonl").exists());
}

#[tokio::test]
async fn users_are_named_clearly_when_missing_ambiguous_or_mailboxless() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = folder_target(tmp.path(), "dir", TargetKind::Folder, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());

    let err = find_user(&target, None, "nobody")
        .await
        .expect_err("missing");
    assert!(matches!(
        err,
        OpsError::Directory {
            source: DirError::NotFound { .. },
            ..
        }
    ));
    assert!(err.to_string().contains("\"nobody\""), "{err}");

    let err = find_user(&target, Some(UserKey::DisplayName), "john smith")
        .await
        .expect_err("two users");
    let text = err.to_string();
    assert!(text.contains("matches 2 users"), "{text}");
    assert!(text.contains("u1") && text.contains("u2"), "{text}");

    let by_upn = find_user(&target, Some(UserKey::Upn), "JOHN.SMITH@corp.example.com")
        .await
        .expect("by upn");
    assert_eq!(by_upn.id, "u1");

    let err = ops
        .set_photo(
            &target,
            "nomail",
            None,
            &png(200, 200, 9),
            &SetOptions::default(),
        )
        .await
        .expect_err("no mailbox");
    assert!(err.to_string().contains("has no mailbox"), "{err}");
}

#[tokio::test]
async fn use_existing_hd_makes_the_thumbnail_from_the_hd_photo_or_says_why_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ad = folder_target(tmp.path(), "ad", TargetKind::Ad, PhotoSlot::Thumbnail).await;
    let hd = folder_target(tmp.path(), "hd", TargetKind::M365, PhotoSlot::Hd).await;
    let ops = ops(tmp.path());
    let john = find_user(&ad, None, "John.Smith").await.expect("john");
    let options = SetOptions::default();

    // Nothing to reuse yet.
    let err = ops
        .use_existing_hd(&hd, &ad, &john, &options)
        .await
        .expect_err("no HD photo");
    assert!(matches!(err, ExistingHdError::NoPhoto { .. }), "{err}");
    assert!(err.to_string().contains("import a photo instead"), "{err}");

    ops.set_photo(&hd, "John.Smith", None, &png(800, 800, 7), &options)
        .await
        .expect("HD photo");
    let done = ops
        .use_existing_hd(&hd, &ad, &john, &options)
        .await
        .expect("thumbnail made");
    assert_eq!(done.hd_user.id, "u1", "found at the HD target by UPN");
    assert_eq!(done.change.target, TargetKind::Ad);
    assert_eq!(done.change.status, ChangeStatus::Done);
    assert_eq!(done.change.new_size, Some(96));
    let (_, lookup) = get_photo(&ad, None, "John.Smith").await.expect("read");
    let PhotoLookup::Photo(thumb) = lookup else {
        panic!("no thumbnail: {lookup:?}")
    };
    assert_eq!(thumb.len(), done.change.new_bytes.expect("bytes"));
    // Again: the same thumbnail, not written twice.
    let again = ops
        .use_existing_hd(&hd, &ad, &john, &options)
        .await
        .expect("again");
    assert_eq!(again.change.status, ChangeStatus::Unchanged);

    // No mailbox at the HD target (found by logon name: no UPN, no mail).
    let nomail = find_user(&ad, None, "nomail").await.expect("nomail");
    let err = ops
        .use_existing_hd(&hd, &ad, &nomail, &options)
        .await
        .expect_err("no mailbox");
    assert!(matches!(err, ExistingHdError::NoMailbox { .. }), "{err}");

    // Not at the HD target, and the match order is the one configured.
    let ghost = User::new("x").with_sam_account_name("ghost");
    let err = ops
        .use_existing_hd(&hd, &ad, &ghost, &options)
        .await
        .expect_err("not found");
    assert!(
        err.to_string()
            .contains("was not found in m365 by upn, then mail, then sam-account-name"),
        "{err}"
    );
    let by_mail = ops.clone().with_match_order(vec![UserKey::Mail]);
    let err = by_mail
        .use_existing_hd(&hd, &ad, &john, &options)
        .await
        .expect_err("John has no mail");
    assert!(matches!(err, ExistingHdError::NotFound { .. }), "{err}");
}

#[test]
fn plain_messages_name_no_flag_and_the_command_line_keeps_its_own() {
    let backup = OpsError::Backup {
        target: TargetKind::Ad,
        user: "John.Smith".into(),
        source: BackupError::Io {
            action: "create",
            path: "/backups/2026".into(),
            source: std::io::Error::other("read-only file system"),
        },
    };
    let unreadable = OpsError::CannotBackUp {
        target: TargetKind::M365,
        user: "John.Smith".into(),
        reason: "the server answered 500".into(),
    };
    let image = OpsError::Image(userphoto_imaging::ImagingError::InputTooLarge {
        bytes: 60,
        limit: 50,
    });
    let config = OpsError::Directory {
        target: TargetKind::Ad,
        source: DirError::NotConfigured {
            kind: TargetKind::Ad,
            configured: "no target is configured".into(),
            file: "userphoto.toml".into(),
        },
    };
    for (e, flag) in [
        (&backup, "--no-backup"),
        (&unreadable, "--no-backup"),
        (&image, "--max-input-bytes"),
        (&config, "--config"),
    ] {
        assert!(e.to_string().contains(flag), "{e}");
        let plain = e.plain_message();
        assert!(!plain.contains("--"), "{plain}");
        // The problem is the same sentence; only the remedy differs.
        let cli = e.to_string();
        let problem = cli.split("; ").next().unwrap_or_default();
        assert!(plain.starts_with(problem), "{plain} / {problem}");
    }
    assert!(backup
        .plain_message()
        .contains("check that the folder exists and is writable"));
    let other = OpsError::NoMailbox {
        target: TargetKind::M365,
        user: "jane".into(),
    };
    assert_eq!(other.plain_message(), other.to_string());
}
