//! The sync state against a HYBRID pair: the Samba AD DC of
//! `scripts/test-servers up` (bound as svc-photos) and the Graph EMULATOR
//! (throttled), through [`ImportSession`] as every front end runs it.
//! These tests FAIL (saying "run scripts/test-servers up") when Samba is
//! not there.
//!
//! They write only to `user2300` … `user2339` (reserved for them).
//!
//! What they prove: an unchanged re-run reads no photo and writes none in
//! either directory (the emulator's own counters, and a counting wrapper
//! around AD); a photo changed in AD since our write is noticed by its
//! moved `uSNChanged` (one read) and reported, not overwritten; `--verify`
//! reads every photo and reports one changed in the cloud too; and with the
//! tenant's photo update setting `onPremises` no PUT is sent and the plan
//! says why.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod import_common;

use std::path::Path;
use std::sync::atomic::Ordering;

use import_common::samba::{ad_target, ad_vars, clear};
use import_common::{ops, photo, Counting};
use userphoto_bulk::import::{Action, ImportOptions, ImportSession, NoReporter, RunHooks};
use userphoto_bulk::reason::Reason;
use userphoto_directory::config::{Config, Target, TargetKind};
use userphoto_directory::{DirectoryExt as _, Photo, UserKey};
use userphoto_emulators::graph::{
    EmulatedUser, GraphEmulator, Knobs, Stats, DEFAULT_CLIENT_SECRET,
};

/// The emulator's users: the AD users `names`, synced with the same UPN.
fn knobs(names: &[String]) -> Knobs {
    let mut k = Knobs::default().with_users(0).with_throttle(40.0, 40.0);
    for (i, n) in names.iter().enumerate() {
        k = k.with_user(
            EmulatedUser::new(format!("60000000-0000-4000-8000-{:012}", 2300 + i), n)
                .with_upn(format!("{n}@corp.example.test"))
                .with_mail(Some(format!("{n}@corp.example.test"))),
        );
    }
    k
}

async fn m365_target(dir: &Path, emulator: &GraphEmulator) -> Target {
    std::fs::write(dir.join("m365-secret"), DEFAULT_CLIENT_SECRET).expect("secret");
    let text = format!(
        "[m365]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"m365-secret\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nread_after_write_secs = 0\n",
        emulator.tenant_id(),
        emulator.client_id(),
        emulator.graph_url(),
        emulator.login_url()
    );
    let path = dir.join("m365.toml");
    std::fs::write(&path, text).expect("config");
    Config::load(&path)
        .expect("valid config")
        .open(TargetKind::M365)
        .await
        .expect("the emulator signs us in")
}

fn names(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("user{i}")).collect()
}

struct Run {
    written: usize,
    unchanged: usize,
    skipped: usize,
    plan: userphoto_bulk::import::Plan,
}

async fn run(state: &Path, folder: &Path, targets: &[Target], root: &Path, verify: bool) -> Run {
    let session = ImportSession::open(state, folder, targets.to_vec(), ops(root)).verifying(verify);
    let pending = session
        .plan_and_start(&ImportOptions::new(folder), &NoReporter)
        .await
        .expect("plan");
    let plan = pending.plan().clone();
    let report = session
        .run(pending, RunHooks::default())
        .await
        .expect("run");
    assert_eq!(report.summary.failed, 0, "{report:#?}");
    Run {
        written: report.summary.written,
        unchanged: report.summary.unchanged,
        skipped: report.summary.skipped,
        plan,
    }
}

fn delta(after: &Stats, before: &Stats) -> (u64, u64, u64) {
    (
        after.requests - before.requests,
        after.photo_reads - before.photo_reads,
        after.writes - before.writes,
    )
}

fn counts(c: &Counting) -> (usize, usize) {
    (c.sets(), c.gets.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_hybrid_rerun_reads_and_writes_no_photo_and_verify_reports_changes() {
    let vars = ad_vars();
    let root = tempfile::tempdir().expect("tempdir");
    let names = names(2300..=2319);
    let (ad, ad_count) = ad_target(root.path(), &vars).await;
    clear(&ad, &names).await;
    let emulator = GraphEmulator::start(knobs(&names)).await.expect("emulator");
    let m365 = m365_target(root.path(), &emulator).await;
    let targets = vec![m365.clone(), ad.clone()];
    let folder = root.path().join("hr");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let seed = std::process::id();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(
            folder.join(format!("{n}.jpg")),
            photo(700, 700, seed + i as u32),
        )
        .expect("photo");
    }
    let state = root.path().join("state");

    let first = run(&state, &folder, &targets, root.path(), false).await;
    assert_eq!(first.written, 40, "20 users × (m365, ad)");
    assert_eq!(emulator.stats().writes, 20);

    // The unchanged re-run: no photo read, none written, anywhere.
    let before = emulator.stats();
    let ad_before = counts(&ad_count);
    let second = run(&state, &folder, &targets, root.path(), false).await;
    let (requests, reads, writes) = delta(&emulator.stats(), &before);
    assert_eq!((second.written, second.unchanged), (0, 40));
    assert_eq!((reads, writes), (0, 0), "Graph photo reads and writes");
    assert_eq!(counts(&ad_count), ad_before, "AD: no write, no photo read");
    // What is left is finding the users (batched) and the photo setting.
    assert!(
        requests <= 5,
        "{requests} Graph requests on an unchanged re-run"
    );
    let synced = second
        .plan
        .entries
        .iter()
        .flat_map(|e| &e.steps)
        .filter(|s| matches!(s.reason, Some(Reason::Synced { .. })))
        .count();
    assert_eq!(synced, 40, "every step says it trusted the sync state");

    // Someone changes user2300's thumbnail in AD, and user2301's photo in
    // the cloud; --verify reads every photo.
    let u2300 = ad
        .directory
        .find_user(UserKey::SamAccountName, "user2300")
        .await
        .expect("user2300");
    ad.directory
        .set_photo(&u2300, &Photo::new(photo(96, 96, 7)).expect("photo"))
        .await
        .expect("change in AD");
    // Without --verify: AD's uSNChanged of user2300 moved (read in the same
    // search that found the users), so only that photo is read — and it is
    // reported, not overwritten. The cloud is not read at all.
    let before = emulator.stats();
    let ad_before = counts(&ad_count);
    let noticed = run(&state, &folder, &targets, root.path(), false).await;
    let (_, reads, writes) = delta(&emulator.stats(), &before);
    assert_eq!((reads, writes), (0, 0));
    assert_eq!(
        counts(&ad_count),
        (ad_before.0, ad_before.1 + 1),
        "one AD photo read"
    );
    assert_eq!((noticed.written, noticed.skipped), (0, 1));
    assert!(noticed
        .plan
        .entries
        .iter()
        .filter(|e| e.relative == "user2300.jpg")
        .flat_map(|e| &e.steps)
        .any(|s| matches!(s.reason, Some(Reason::ChangedSinceSync { .. }))));

    let before = emulator.stats();
    let verified = run(&state, &folder, &targets, root.path(), true).await;
    let (_, reads, writes) = delta(&emulator.stats(), &before);
    assert_eq!(reads, 20, "--verify reads every cloud photo");
    assert_eq!(writes, 0);
    assert_eq!((verified.written, verified.skipped), (0, 1));
    let changed: Vec<(String, TargetKind)> = verified
        .plan
        .entries
        .iter()
        .flat_map(|e| e.steps.iter().map(move |s| (e, s)))
        .filter(|(_, s)| matches!(s.reason, Some(Reason::ChangedSinceSync { .. })))
        .map(|(e, s)| (e.relative.clone(), s.target))
        .collect();
    assert_eq!(changed, vec![("user2300.jpg".to_owned(), TargetKind::Ad)]);

    // The cloud photo changed after the first verify saw ours: reported.
    let cloud = m365
        .directory
        .find_user(UserKey::Upn, "user2301@corp.example.test")
        .await
        .expect("user2301 in the cloud");
    m365.directory
        .set_photo(&cloud, &Photo::new(photo(300, 300, 9)).expect("photo"))
        .await
        .expect("change in the cloud");
    let again = run(&state, &folder, &targets, root.path(), true).await;
    assert_eq!((again.written, again.skipped), (0, 2));
    let steps: Vec<_> = again
        .plan
        .entries
        .iter()
        .filter(|e| e.relative == "user2301.jpg")
        .flat_map(|e| &e.steps)
        .map(|s| (s.target, s.action))
        .collect();
    assert!(
        steps.contains(&(TargetKind::M365, Action::Skipped)),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_photos_managed_on_premises_no_put_is_sent_and_the_plan_says_why() {
    let vars = ad_vars();
    let root = tempfile::tempdir().expect("tempdir");
    let names = names(2330..=2334);
    let (ad, _) = ad_target(root.path(), &vars).await;
    clear(&ad, &names).await;
    let emulator = GraphEmulator::start(knobs(&names).with_photo_update_source("onPremises"))
        .await
        .expect("emulator");
    let m365 = m365_target(root.path(), &emulator).await;
    let folder = root.path().join("hr");
    std::fs::create_dir_all(&folder).expect("mkdir");
    for (i, n) in names.iter().enumerate() {
        std::fs::write(folder.join(format!("{n}.jpg")), photo(700, 700, i as u32)).expect("photo");
    }
    let state = root.path().join("state");
    let done = run(&state, &folder, &[m365, ad], root.path(), false).await;
    assert_eq!(done.written, 5, "AD only");
    let stats = emulator.stats();
    assert_eq!(
        (stats.writes, stats.refused_on_premises),
        (0, 0),
        "no PUT sent"
    );
    for e in &done.plan.entries {
        let cloud = e
            .steps
            .iter()
            .find(|s| s.target == TargetKind::M365)
            .expect("a cloud step");
        assert_eq!(cloud.action, Action::Skipped);
        assert_eq!(
            cloud.reason,
            Some(Reason::CloudPhotosManagedOnPremises {
                target: TargetKind::M365
            })
        );
        assert_eq!(
            cloud.reason.as_ref().map(Reason::code).as_deref(),
            Some("cloud-photos-managed-on-premises")
        );
    }
}
