//! `import` against a real Active Directory: the Samba AD DC started by
//! `scripts/test-servers up`, bound as the least-privilege `svc-photos`.
//! These tests FAIL (saying "run scripts/test-servers up") when the server
//! is not there — a run that skipped them would prove nothing.
//!
//! They write only to `user2001` … `user2099` (no other test touches that
//! range: the conformance suite uses user0001…0009, the LDAP tests
//! user0100…0102 and user1001, the AD write benchmark user1001…user2000,
//! the CLI tests user2400).
//!
//! What they prove: names match the seeded sAMAccountNames (any case, the
//! first-space rule), users are found with one batched lookup, the photo
//! lands and reads back with the digest we prepared, the replaced photo is
//! backed up, a second run writes nothing (checked on the server:
//! `uSNChanged` does not move), and a run cut short by a dead server
//! resumes without writing anything twice.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod import_common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use import_common::samba::{ad_target, ad_vars, clear, usn_changed};
use import_common::{ops, photo, plan_cached, planned_ad_run, resume, run_journalled};
use userphoto_bulk::import::{Action, Executor, PreparedCache};
use userphoto_directory::{DirectoryExt as _, Photo, PhotoLookup, UserKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_samba_then_a_second_run_writes_nothing() {
    let vars = ad_vars();
    let root = tempfile::tempdir().expect("tempdir");
    let (ad, count) = ad_target(root.path(), &vars).await;
    let names: Vec<String> = (2001..=2030).map(|i| format!("user{i}")).collect();
    clear(&ad, &names).await;
    // user2001 has a photo already: it must be backed up.
    let u2001 = ad
        .directory
        .find_user(UserKey::SamAccountName, "user2001")
        .await
        .expect("user2001");
    let old = Photo::new(photo(96, 96, 4242)).expect("photo");
    ad.directory
        .set_photo(&u2001, &old)
        .await
        .expect("seed photo");
    let seeded_writes = count.sets();

    let folder = root.path().join("hr");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let seed = std::process::id();
    for (i, n) in names.iter().enumerate() {
        let file = match i % 3 {
            0 => format!("{n}.jpg"),
            1 => format!("{} 648x648.jpg", n.to_uppercase()),
            _ => format!("{n} from HR.jpg"),
        };
        std::fs::write(folder.join(file), photo(300, 240, seed + i as u32)).expect("photo");
    }
    std::fs::write(folder.join("user2031648x648.jpg"), photo(200, 200, 1)).expect("photo");

    let cache = Arc::new(PreparedCache::in_memory());
    count.finds.store(0, Ordering::SeqCst);
    let plan = plan_cached(&folder, std::slice::from_ref(&ad), &cache).await;
    let c = plan.counts();
    assert_eq!(
        (c.set, c.unmatched),
        (30, 1),
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    assert_eq!(count.finds.load(Ordering::SeqCst), 1, "one batched lookup");

    let report = Executor::new(vec![ad.clone()], ops(root.path()))
        .with_cache(Arc::clone(&cache))
        .run(&plan)
        .await;
    assert_eq!(report.summary.written, 30, "{report:#?}");
    assert_eq!(report.summary.failed, 0, "{report:#?}");
    assert_eq!(count.sets() - seeded_writes, 30);
    let item = report
        .items
        .iter()
        .find(|i| i.user.as_deref() == Some("user2001"))
        .expect("user2001 row");
    let backup = item.backup.as_deref().expect("the old photo was backed up");
    assert_eq!(
        std::fs::read(root.path().join("backups").join(backup)).expect("backup file"),
        old.bytes()
    );
    // Every photo reads back as the digest we would prepare.
    for e in plan.entries.iter().filter(|e| e.has_writes()) {
        let user = e.steps[0].user.as_ref().expect("resolved");
        let PhotoLookup::Photo(p) = ad.directory.get_photo(user).await.expect("read back") else {
            panic!("{} has no photo after the import", e.relative);
        };
        assert!(p.len() <= 10 * 1024, "within the AD budget");
        let stamp = e.stamp.as_ref().expect("stamp");
        let known = cache
            .get(&PreparedCache::key(&e.file, stamp, &plan.crop))
            .expect("cached");
        assert_eq!(
            known.output(96, ad.budget_bytes).map(|o| o.sha256.as_str()),
            Some(p.digest())
        );
    }

    // A second run: nothing to write, nothing written, uSNChanged still.
    let before = usn_changed(&vars, &names);
    assert_eq!(before.len(), 30, "ldapsearch saw every user");
    let sets = count.sets();
    let plan = plan_cached(&folder, std::slice::from_ref(&ad), &cache).await;
    assert_eq!(
        plan.counts().set,
        0,
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    assert_eq!(plan.counts().unchanged, 30);
    let report = Executor::new(vec![ad.clone()], ops(root.path()))
        .run(&plan)
        .await;
    assert_eq!(report.summary.written, 0);
    assert_eq!(count.sets(), sets);
    assert_eq!(
        usn_changed(&vars, &names),
        before,
        "the server saw no write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_by_a_dead_server_resumes_without_double_writes() {
    let vars = ad_vars();
    let root = tempfile::tempdir().expect("tempdir");
    let (ad, count) = ad_target(root.path(), &vars).await;
    let names: Vec<String> = (2050..=2069).map(|i| format!("user{i}")).collect();
    clear(&ad, &names).await;
    let seed = std::process::id().wrapping_mul(7);
    let (state, _, plan) = planned_ad_run(root.path(), &ad, &names, (200, 200), seed).await;

    count.fail_after.store(8, Ordering::SeqCst);
    let first = run_journalled(
        &state,
        Executor::new(vec![ad.clone()], ops(root.path())),
        &plan,
    )
    .await;
    let written = first.summary.written;
    assert!((8..20).contains(&written), "{:?}", first.summary);
    assert_eq!(written + first.summary.failed, 20);
    // Every user has the old state (no photo) or the new photo, never a
    // broken one.
    count.fail_after.store(usize::MAX, Ordering::SeqCst);
    let before = count.sets();

    let (plan, done, second) =
        resume(&state, Executor::new(vec![ad.clone()], ops(root.path()))).await;
    assert_eq!(done, written);
    assert!(second.summary.is_success(), "{second:#?}");
    assert_eq!(count.sets() - before, 20 - written, "only what was left");
    let mut ids = count.written();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((n, ids.len()), (20, 20), "each user written exactly once");
    for n in &names {
        let user = ad
            .directory
            .find_user(UserKey::SamAccountName, n)
            .await
            .expect("user");
        assert!(
            matches!(
                ad.directory.get_photo(&user).await,
                Ok(PhotoLookup::Photo(_))
            ),
            "{n} has its photo"
        );
    }
    let rows = userphoto_bulk::wording::Wording::command_line().plan_rows(&plan);
    assert!(rows.iter().all(|r| r.action == Action::Set));
}
