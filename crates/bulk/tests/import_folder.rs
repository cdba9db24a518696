//! `import` against folder directories (no server needed): the plan a dry
//! run shows, the run itself (HD first, backups, audit), a second run that
//! writes nothing, a run killed midway and resumed without writing twice,
//! Ctrl-C, and the determinism that makes "unchanged" stable.

mod import_common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use import_common::{ops, photo, reopen, resume, run_journalled, target, Scratch};
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::import::{
    build_plan, build_plan_preparing, Action, CancelToken, CollectingReporter, ConfirmRequest,
    Confirmer, Decision, Event, Executor, ImportOptions, Outcome, PreparedCache, Reporter,
    RunState,
};
use userphoto_directory::config::TargetKind;
use userphoto_directory::{Directory as _, DirectoryExt as _, Photo, PhotoLookup, UserKey};
use userphoto_imaging::{prepare, Pipeline, PrepareOptions};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write photo");
}

/// The folder HR dropped: one photo per user01…user08, plus the cases.
fn hr_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("hr");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for i in 1..=8u32 {
        write(
            &dir,
            &format!("user{i:02} 648x648.jpg"),
            &photo(320, 240, i),
        );
    }
    write(&dir, "user0948x648.jpg", &photo(200, 200, 90)); // nobody's
    write(&dir, "user10.jpg", &photo(80, 80, 100)); // small: ad only
    write(&dir, "USER11.jpg", &photo(200, 200, 110)); // exact name wins…
    write(&dir, "user11 newer.jpg", &photo(200, 200, 111)); // …over newer
    write(&dir, "user12.jpg", b"\xFF\xD8\xFFnot really a jpeg"); // corrupt
    write(&dir, "Jose\u{301}.Mu\u{308}ller.jpg", &photo(300, 300, 120)); // NFD
    write(&dir, "notes.txt", b"not a photo");
    write(&dir, ".DS_Store", b"hidden");
    dir
}

#[test]
fn prepared_photos_are_deterministic() {
    let source = photo(1000, 750, 7);
    let options = PrepareOptions::sizes(&[648, 96]);
    let a = prepare(&source, &options).expect("prepare");
    let b = Pipeline::new().prepare(&source, &options).expect("prepare");
    let mut warm = Pipeline::new();
    let _ = warm
        .prepare(&photo(500, 500, 3), &options)
        .expect("prepare");
    let c = warm.prepare(&source, &options).expect("prepare");
    for ((x, y), z) in a.photos.iter().zip(&b.photos).zip(&c.photos) {
        assert_eq!(x.jpeg, y.jpeg, "same input, same options, same bytes");
        assert_eq!(x.jpeg, z.jpeg, "a reused worker gives the same bytes");
    }
}

#[tokio::test]
async fn dry_run_plan_then_run_then_a_second_run_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let folder = hr_folder(root.path());
    let (hd, hd_count) = target(root.path(), TargetKind::Folder).await;
    let (ad, ad_count) = target(root.path(), TargetKind::Ad).await;
    // user01 already has an AD photo: it must be backed up.
    let user01 = ad
        .directory
        .find_user(UserKey::SamAccountName, "user01")
        .await
        .expect("user01");
    let old = Photo::new(photo(96, 96, 999)).expect("photo");
    ad.directory.set_photo(&user01, &old).await.expect("seed");
    let seeded = ad_count.sets();
    let targets = vec![ad.clone(), hd.clone()];
    let cache = Arc::new(PreparedCache::open(root.path().join("state/cache.jsonl")));

    // The dry run: an exact plan, nothing written.
    let mut options = ImportOptions::new(&folder);
    options.prepare_all = true;
    let plan = build_plan(
        &options,
        &targets,
        &cache,
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    assert_eq!(ad_count.sets(), seeded);
    assert_eq!(hd_count.sets(), 0);
    assert_eq!(plan.key, UserKey::SamAccountName);
    let rows = userphoto_bulk::wording::Wording::command_line().plan_rows(&plan);
    let row = |file: &str, target: Option<&str>| {
        rows.iter()
            .find(|r| r.file == file && r.target.as_deref() == target)
            .unwrap_or_else(|| panic!("no row for {file} {target:?}: {rows:#?}"))
    };
    assert_eq!(row("user0948x648.jpg", None).action, Action::Unmatched);
    assert_eq!(row("notes.txt", None).action, Action::Skipped);
    assert_eq!(row("user11 newer.jpg", None).action, Action::Duplicate);
    assert_eq!(row("USER11.jpg", Some("ad")).action, Action::Set);
    assert_eq!(row("user12.jpg", None).action, Action::Error);
    assert_eq!(row("user10.jpg", Some("ad")).action, Action::Set);
    assert_eq!(
        row("user10.jpg", Some("folder")).action,
        Action::Skipped,
        "small: ad only"
    );
    let jose = rows
        .iter()
        .find(|r| r.user_id.as_deref() == Some("id-jose") && r.target.as_deref() == Some("ad"))
        .expect("the NFD file matches José");
    assert_eq!(jose.action, Action::Set);
    assert!(!rows.iter().any(|r| r.file == ".DS_Store"));
    let u1 = row("user01 648x648.jpg", Some("ad"));
    assert_eq!(u1.current_bytes, Some(old.len()));
    assert!(u1.new_bytes.is_some(), "a dry run knows the new size");
    // HD first, then ad, for each user.
    let order: Vec<_> = plan
        .entries
        .iter()
        .find(|e| e.relative == "user01 648x648.jpg")
        .map(|e| e.steps.iter().map(|s| s.target).collect())
        .unwrap_or_default();
    assert_eq!(order, vec![TargetKind::Folder, TargetKind::Ad]);
    let counts = plan.counts();
    assert_eq!(counts.set, 8 * 2 + 1 + 2 + 2, "{counts:?}");

    // The plan is data: it survives a round trip.
    let json = serde_json::to_string(&plan).expect("serialise");
    let back: userphoto_bulk::import::Plan = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, plan);

    // The run.
    let reporter = Arc::new(CollectingReporter::default());
    let report = Executor::new(targets.clone(), ops(root.path()))
        .with_cache(Arc::clone(&cache))
        .with_reporter(reporter.clone())
        .run(&plan)
        .await;
    let s = &report.summary;
    assert_eq!(s.written, counts.set, "{report:#?}");
    assert_eq!(s.failed, 1, "the corrupt file");
    assert!(!s.is_success());
    assert_eq!(hd_count.sets(), 8 + 1 + 1);
    assert_eq!(ad_count.sets() - seeded, 8 + 1 + 1 + 1);
    let item = report
        .items
        .iter()
        .find(|i| i.file == "user01 648x648.jpg" && i.target.as_deref() == Some("ad"))
        .expect("user01 ad");
    let backup = item.backup.as_deref().expect("the old AD photo was kept");
    assert!(root.path().join("backups").join(backup).is_file());
    let audit = AuditLog::new(root.path().join("audit.jsonl"))
        .read()
        .expect("audit");
    assert_eq!(audit.len(), s.written);
    // Per user the HD target is written before ad.
    let pos = |target: &str, id: &str| {
        audit
            .iter()
            .position(|r| r.target == target && r.user_id == id)
            .unwrap_or_else(|| panic!("no audit line for {id} at {target}"))
    };
    for i in 1..=8 {
        let id = format!("id{i:02}");
        assert!(pos("folder", &id) < pos("ad", &id), "HD first for {id}");
    }
    let PhotoLookup::Photo(p) = ad.directory.get_photo(&user01).await.expect("get") else {
        panic!("user01 has no AD photo");
    };
    assert_ne!(p.digest(), old.digest());
    let events = reporter.events();
    assert!(matches!(events.first(), Some(Event::Started { .. })));
    assert!(matches!(events.last(), Some(Event::Finished(_))));
    cache.save().expect("save cache");

    // A second run (a fresh process: the cache comes from disk) changes
    // nothing and prepares nothing.
    let cache = Arc::new(PreparedCache::open(root.path().join("state/cache.jsonl")));
    let (hd2, hd2_count) = reopen(root.path(), TargetKind::Folder).await;
    let (ad2, ad2_count) = reopen(root.path(), TargetKind::Ad).await;
    let targets = vec![ad2, hd2];
    let plan = build_plan(
        &ImportOptions::new(&folder),
        &targets,
        &cache,
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    let counts = plan.counts();
    assert_eq!(
        counts.set,
        0,
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    assert_eq!(counts.unchanged, 8 * 2 + 1 + 2 + 2);
    let reporter = Arc::new(CollectingReporter::default());
    let report = Executor::new(targets, ops(root.path()))
        .with_reporter(reporter.clone())
        .run(&plan)
        .await;
    assert_eq!(report.summary.written, 0);
    assert_eq!(hd2_count.sets() + ad2_count.sets(), 0);
    assert!(
        !reporter
            .events()
            .iter()
            .any(|e| matches!(e, Event::Prepared { .. })),
        "nothing was decoded"
    );
    assert_eq!(
        ad2_count.finds.load(Ordering::SeqCst),
        1,
        "one batched lookup per target"
    );
}

#[tokio::test]
async fn a_run_cut_short_resumes_without_writing_anything_twice() {
    let scratch = Scratch::new();
    scratch.numbered(1..=12, 200, 160);
    let (root, folder) = (scratch.path(), &scratch.folder);
    let (hd, hd_count) = target(root, TargetKind::Folder).await;
    let (ad, ad_count) = target(root, TargetKind::Ad).await;
    let targets = vec![hd.clone(), ad.clone()];
    let state = RunState::for_run(
        &root.join("state"),
        folder,
        &[TargetKind::Folder, TargetKind::Ad],
    );
    let plan = scratch.plan(&targets).await;
    assert_eq!(plan.counts().set, 24);
    state.save_plan(&plan).expect("save plan");

    // The "server" dies after 7 HD writes and 10 AD writes: of the 12 AD
    // writes, at most 7 are of users whose HD photo was written, so some
    // users have AD written but HD failed.
    hd_count.fail_after.store(7, Ordering::SeqCst);
    ad_count.fail_after.store(10, Ordering::SeqCst);
    let report = run_journalled(&state, Executor::new(targets.clone(), ops(root)), &plan).await;
    let first = report.summary.written;
    assert!((12..24).contains(&first), "{:?}", report.summary);
    assert_eq!(first + report.summary.failed, 24);
    assert!(state.is_interrupted());
    // What resuming must do: a user whose HD photo failed gets HD and
    // then AD again, even where AD was written (on-premises Exchange
    // replaces the AD thumbnail when it takes an HD photo; here nothing
    // does, so that AD write finds its photo in place); one whose AD alone
    // failed, AD.
    let failed = |file: &str, target: &str| {
        report.items.iter().any(|i| {
            i.file == file && i.target.as_deref() == Some(target) && i.outcome == Outcome::Failed
        })
    };
    let files: std::collections::BTreeSet<&str> =
        report.items.iter().map(|i| i.file.as_str()).collect();
    let hd_again = files.iter().filter(|f| failed(f, "folder")).count();
    let ad_again = files.iter().filter(|f| failed(f, "ad")).count();
    let ad_checked_again: Vec<String> = files
        .iter()
        .filter(|f| failed(f, "folder") && !failed(f, "ad"))
        .map(|f| (*f).to_owned())
        .collect();
    assert!(
        !ad_checked_again.is_empty(),
        "the case that matters: HD failed, AD written: {report:#?}"
    );

    // The server is back; resume from the saved plan and journal, in a
    // fresh "process" that does not look the users up again.
    let (hd, hd_count2) = reopen(root, TargetKind::Folder).await;
    let (ad, ad_count2) = reopen(root, TargetKind::Ad).await;
    let (_, done, report) = resume(&state, Executor::new(vec![hd, ad], ops(root))).await;
    assert_eq!(done, first);
    assert!(report.summary.is_success(), "{report:#?}");
    assert_eq!(
        (hd_count2.sets(), ad_count2.sets()),
        (hd_again, ad_again),
        "only what was left"
    );
    for file in &ad_checked_again {
        let ad = report
            .items
            .iter()
            .find(|i| &i.file == file && i.target.as_deref() == Some("ad"))
            .expect("an AD row");
        assert_eq!(
            (ad.outcome, ad.reason.as_ref()),
            (Outcome::Unchanged, None),
            "AD is done again after HD, not taken from the journal: {ad:?}"
        );
    }
    assert_eq!(hd_count2.finds.load(Ordering::SeqCst), 0, "no new lookups");
    let mut all: Vec<String> = hd_count.written();
    all.extend(hd_count2.written());
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (12, 12),
        "every HD photo written exactly once"
    );
    let mut all: Vec<String> = ad_count.written();
    all.extend(ad_count2.written());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12, "every AD photo written");
    assert!(!state.is_interrupted());
    assert!(state.resume().is_err(), "nothing left to resume");
}

/// A second interruption: HD failed and AD landed; the first resume wrote
/// HD and failed AD; the second must still do AD after that HD, though
/// both are in the journal (AD from before HD).
#[tokio::test]
async fn a_second_resume_still_writes_ad_after_hd() {
    let scratch = Scratch::new();
    scratch.numbered(1..=2, 200, 160);
    let (root, folder) = (scratch.path(), &scratch.folder);
    let (hd, hd_count) = target(root, TargetKind::Folder).await;
    let (ad, _) = target(root, TargetKind::Ad).await;
    let kinds = [TargetKind::Folder, TargetKind::Ad];
    let state = RunState::for_run(&root.join("state"), folder, &kinds);
    let plan = scratch.plan(&[hd.clone(), ad.clone()]).await;
    state.save_plan(&plan).expect("save plan");
    hd_count.fail_after.store(0, Ordering::SeqCst);
    let first = run_journalled(&state, Executor::new(vec![hd, ad], ops(root)), &plan).await;
    assert_eq!((first.summary.written, first.summary.failed), (2, 2));

    let (hd, _) = reopen(root, TargetKind::Folder).await;
    let (ad, ad_count) = reopen(root, TargetKind::Ad).await;
    ad_count.fail_after.store(0, Ordering::SeqCst);
    let (_, _, second) = resume(&state, Executor::new(vec![hd, ad], ops(root))).await;
    assert_eq!((second.summary.written, second.summary.failed), (2, 2));

    let (hd, _) = reopen(root, TargetKind::Folder).await;
    let (ad, _) = reopen(root, TargetKind::Ad).await;
    let (_, _, third) = resume(&state, Executor::new(vec![hd, ad], ops(root))).await;
    for item in third
        .items
        .iter()
        .filter(|i| i.target.as_deref() == Some("ad"))
    {
        assert_ne!(
            item.reason,
            Some(userphoto_bulk::reason::Reason::DoneByInterruptedRun),
            "AD is done again after the HD photo the first resume wrote: {item:?}"
        );
    }
    assert!(third.summary.is_success(), "{third:#?}");
}

#[tokio::test]
async fn a_user_whose_writes_panic_is_reported_failed_and_the_rest_carry_on() {
    let scratch = Scratch::new();
    scratch.numbered(1..=4, 200, 160);
    let root = scratch.path();
    let (hd, hd_count) = target(root, TargetKind::Folder).await;
    let (ad, _) = target(root, TargetKind::Ad).await;
    let targets = vec![hd, ad];
    let plan = scratch.plan(&targets).await;
    if let Ok(mut p) = hd_count.panic_for.lock() {
        *p = Some("id03".into());
    }
    let report = Executor::new(targets, ops(root)).run(&plan).await;
    let rows: Vec<_> = report
        .items
        .iter()
        .filter(|i| i.file == "user03.jpg")
        .collect();
    assert_eq!(rows.len(), 2, "a row per target: {report:#?}");
    for row in rows {
        assert_eq!(row.outcome, Outcome::Failed, "{row:?}");
        assert!(
            matches!(
                row.reason,
                Some(userphoto_bulk::reason::Reason::WriterStopped { .. })
            ),
            "{row:?}"
        );
        let worded = userphoto_bulk::wording::Wording::command_line().item(row.clone());
        assert!(
            worded
                .error
                .as_deref()
                .is_some_and(|e| e.contains("stopped unexpectedly")),
            "{worded:?}"
        );
    }
    assert_eq!(report.summary.written, 6, "{:?}", report.summary);
    assert!(!report.summary.is_success());
}

/// Cancels the run after `after` written items.
struct CancelAfter {
    token: CancelToken,
    after: usize,
    seen: std::sync::atomic::AtomicUsize,
}

impl Reporter for CancelAfter {
    fn event(&self, event: &Event) {
        if let Event::Item(i) = event {
            if i.outcome == Outcome::Written
                && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.after
            {
                self.token.cancel();
            }
        }
    }
}

#[tokio::test]
async fn ctrl_c_stops_after_the_writes_in_flight() {
    let scratch = Scratch::new();
    scratch.numbered(1..=12, 64, 64);
    let (ad, ad_count) = target(scratch.path(), TargetKind::Ad).await;
    let plan = scratch.plan(std::slice::from_ref(&ad)).await;
    let token = CancelToken::new();
    let reporter = Arc::new(CancelAfter {
        token: token.clone(),
        after: 3,
        seen: Default::default(),
    });
    let report = Executor::new(vec![ad], scratch.ops())
        .with_cancel(token)
        .with_reporter(reporter)
        .with_options(userphoto_bulk::import::ExecuteOptions {
            concurrency: Some(1),
            threads: Some(1),
            ..Default::default()
        })
        .run(&plan)
        .await;
    let s = &report.summary;
    assert!(s.stopped);
    assert!(s.written >= 3 && s.written < 12, "{s:?}");
    assert_eq!(s.written + s.not_done, 12, "{report:#?}");
    assert_eq!(ad_count.sets(), s.written);
    assert!(!s.is_success());
}

/// Answers from a script, and remembers the questions.
struct Scripted {
    answers: std::sync::Mutex<Vec<Decision>>,
    asked: std::sync::Mutex<Vec<ConfirmRequest>>,
}

impl Confirmer for Scripted {
    fn confirm(&self, request: &ConfirmRequest) -> Decision {
        if let Ok(mut a) = self.asked.lock() {
            a.push(request.clone());
        }
        self.answers
            .lock()
            .ok()
            .filter(|a| !a.is_empty())
            .map_or(Decision::Quit, |mut a| a.remove(0))
    }
}

#[tokio::test]
async fn confirm_asks_per_user_with_sizes_and_all_stops_asking() {
    let scratch = Scratch::new();
    scratch.numbered(1..=5, 64, 64);
    let (ad, ad_count) = target(scratch.path(), TargetKind::Ad).await;
    let plan = scratch.plan(std::slice::from_ref(&ad)).await;
    let script = Arc::new(Scripted {
        answers: std::sync::Mutex::new(vec![Decision::No, Decision::Yes, Decision::All]),
        asked: Default::default(),
    });
    let report = Executor::new(vec![ad], scratch.ops())
        .with_confirmer(script.clone())
        .run(&plan)
        .await;
    let s = &report.summary;
    assert_eq!((s.written, s.skipped), (4, 1), "{report:#?}");
    assert_eq!(ad_count.sets(), 4);
    let asked = script.asked.lock().map(|a| a.clone()).unwrap_or_default();
    assert_eq!(asked.len(), 3, "after `all` nobody is asked");
    let (target, current, new) = asked[0].targets[0];
    assert_eq!(target, TargetKind::Ad);
    assert_eq!(current, Some(0), "no photo yet");
    assert!(new > 0);
    assert!(asked[0].display_name.is_some());
}

#[tokio::test]
async fn confirm_asks_in_the_plans_order_whichever_file_is_prepared_first() {
    let scratch = Scratch::new();
    // The first file in the plan is by far the slowest to prepare: without
    // ordering, the others would be asked about before it.
    scratch.write("user01.jpg", &photo(2400, 2400, 1));
    scratch.numbered(2..=6, 64, 64);
    let (ad, _) = target(scratch.path(), TargetKind::Ad).await;
    let plan = scratch.plan(std::slice::from_ref(&ad)).await;
    let script = Arc::new(Scripted {
        answers: std::sync::Mutex::new(vec![Decision::Yes; 6]),
        asked: Default::default(),
    });
    let report = Executor::new(vec![ad], scratch.ops())
        .with_confirmer(script.clone())
        .with_options(userphoto_bulk::import::ExecuteOptions {
            threads: Some(3),
            ..Default::default()
        })
        .run(&plan)
        .await;
    assert_eq!(report.summary.written, 6, "{report:#?}");
    let asked: Vec<String> = script
        .asked
        .lock()
        .map(|a| a.iter().map(|r| r.file.clone()).collect())
        .unwrap_or_default();
    let planned: Vec<String> = plan.entries.iter().map(|e| e.relative.clone()).collect();
    assert_eq!(asked, planned, "asked in the plan's order");
    assert_eq!(asked.first().map(String::as_str), Some("user01.jpg"));
}

#[tokio::test]
async fn use_existing_hd_for_everyone_writes_thumbnails_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let (hd, _) = target(root.path(), TargetKind::Folder).await;
    let (ad, ad_count) = target(root.path(), TargetKind::Ad).await;
    for i in 1..=3u32 {
        let user = hd
            .directory
            .find_user(UserKey::SamAccountName, &format!("user{i:02}"))
            .await
            .expect("user");
        let p = Photo::new(photo(648, 648, i)).expect("photo");
        hd.directory.set_photo(&user, &p).await.expect("seed HD");
    }
    let none = userphoto_bulk::import::NoReporter;
    let cancel = CancelToken::new();
    let write = userphoto_bulk::ops::WriteOptions::default();
    let report = userphoto_bulk::import::use_existing_hd(
        &hd,
        &ad,
        &[],
        &ops(root.path()),
        &write,
        &none,
        &cancel,
    )
    .await
    .expect("run");
    assert_eq!(report.summary.written, 3, "{report:#?}");
    assert_eq!(report.summary.failed, 0);
    assert_eq!(ad_count.sets(), 3);
    let user = ad
        .directory
        .find_user(UserKey::SamAccountName, "user01")
        .await
        .expect("user");
    let PhotoLookup::Photo(p) = ad.directory.get_photo(&user).await.expect("get") else {
        panic!("no AD photo");
    };
    assert!(p.len() <= ad.budget_bytes);
    let again = userphoto_bulk::import::use_existing_hd(
        &hd,
        &ad,
        &["user01".to_owned()],
        &ops(root.path()),
        &write,
        &none,
        &cancel,
    )
    .await
    .expect("run");
    assert_eq!((again.summary.unchanged, again.summary.written), (1, 0));
    assert_eq!(ad_count.sets(), 3);
}

/// Names `hd` does not know are rows of their own, and an AD user that two
/// HD users reach (one by UPN, one by mail) is written once.
#[tokio::test]
async fn use_existing_hd_reports_unknown_names_and_writes_each_ad_user_once() {
    use userphoto_directory::folder::FolderUser;
    use userphoto_directory::User;
    let root = tempfile::tempdir().expect("tempdir");
    let hd_users = vec![
        FolderUser::from(
            User::new("hd-a")
                .with_sam_account_name("alpha")
                .with_upn("user01@corp.example.test"),
        ),
        FolderUser::from(
            User::new("hd-b")
                .with_sam_account_name("beta")
                .with_upn("beta@cloud.example.test")
                .with_mail("user01@corp.example.test"),
        ),
    ];
    let (hd, _) = import_common::target_with(root.path(), TargetKind::Folder, hd_users).await;
    let (ad, ad_count) = target(root.path(), TargetKind::Ad).await;
    for (i, name) in ["alpha", "beta"].iter().enumerate() {
        let user = hd
            .directory
            .find_user(UserKey::SamAccountName, name)
            .await
            .expect("user");
        let p = Photo::new(photo(648, 648, 40 + i as u32)).expect("photo");
        hd.directory.set_photo(&user, &p).await.expect("seed HD");
    }
    let names = ["alpha", "beta", "nobody"].map(str::to_owned);
    let report = userphoto_bulk::import::use_existing_hd(
        &hd,
        &ad,
        &names,
        &ops(root.path()),
        &userphoto_bulk::ops::WriteOptions::default(),
        &userphoto_bulk::import::NoReporter,
        &CancelToken::new(),
    )
    .await
    .expect("run");
    let outcome = |name: &str| {
        report
            .items
            .iter()
            .find(|i| i.user.as_deref() == Some(name))
            .map(|i| i.outcome)
            .unwrap_or_else(|| panic!("a row for {name}: {report:#?}"))
    };
    assert_eq!(outcome("alpha"), Outcome::Written);
    assert_eq!(outcome("beta"), Outcome::Duplicate);
    assert_eq!(outcome("nobody"), Outcome::Unmatched);
    assert_eq!(ad_count.sets(), 1, "user01 in AD written once");
}

/// Hybrid: a folder of user01.jpg and user02.jpg, the AD target (the
/// seeded users), and a cloud target (HD) holding only `cloud`.
async fn hybrid_world(
    cloud: userphoto_directory::User,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    userphoto_directory::config::Target,
    userphoto_directory::config::Target,
) {
    use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("hr");
    std::fs::create_dir_all(&folder).expect("mkdir");
    write(&folder, "user01.jpg", &photo(300, 300, 1));
    write(&folder, "user02.jpg", &photo(300, 300, 2));
    let (ad, _) = target(root.path(), TargetKind::Ad).await;
    let cloud = FolderDirectory::create_with(
        root.path().join("m365"),
        vec![FolderUser::from(cloud)],
        FolderOptions::new().with_slot(userphoto_directory::PhotoSlot::Hd),
    )
    .await
    .expect("cloud");
    let m365 = userphoto_directory::config::Target::new(
        TargetKind::M365,
        Arc::new(cloud),
        "app in tenant",
    );
    (root, folder, ad, m365)
}

#[tokio::test]
async fn hybrid_users_are_found_in_the_cloud_by_upn_and_missing_ones_are_skipped_there() {
    use userphoto_directory::User;
    // The cloud knows user01 by UPN only (no logon name), and not user02.
    let (_root, folder, ad, m365) = hybrid_world(
        User::new("cloud-1")
            .with_upn("user01@corp.example.test")
            .with_alias("u01"),
    )
    .await;
    let cache = Arc::new(PreparedCache::in_memory());
    let plan = build_plan(
        &ImportOptions::new(&folder),
        &[m365, ad],
        &cache,
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    assert_eq!(
        plan.key,
        UserKey::SamAccountName,
        "the on-premises listing names files"
    );
    let rows = userphoto_bulk::wording::Wording::command_line().plan_rows(&plan);
    let find = |file: &str, t: &str| {
        rows.iter()
            .find(|r| r.file == file && r.target.as_deref() == Some(t))
            .unwrap_or_else(|| panic!("{file} {t}: {rows:#?}"))
    };
    assert_eq!(find("user01.jpg", "m365").action, Action::Set);
    assert_eq!(
        find("user01.jpg", "m365").user_id.as_deref(),
        Some("cloud-1")
    );
    assert_eq!(find("user02.jpg", "m365").action, Action::Skipped);
    assert_eq!(find("user02.jpg", "ad").action, Action::Set);
    let order: Vec<_> = plan
        .entries
        .iter()
        .find(|e| e.relative == "user01.jpg")
        .map(|e| e.steps.iter().map(|s| s.target).collect())
        .unwrap_or_default();
    assert_eq!(order, vec![TargetKind::M365, TargetKind::Ad], "HD first");
}

/// Two files of two on-premises users that the cloud resolves to one user
/// (one by UPN, the other by mail): that cloud user is written once, and
/// each AD user still gets its own photo.
#[tokio::test]
async fn two_files_that_reach_one_cloud_user_are_one_import_and_a_duplicate() {
    let (_root, folder, ad, m365) = hybrid_world(
        userphoto_directory::User::new("cloud-1")
            .with_upn("user01@corp.example.test")
            .with_mail("user02@corp.example.test"),
    )
    .await;
    let plan = build_plan(
        &ImportOptions::new(&folder),
        &[ad, m365],
        &PreparedCache::in_memory(),
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    let cloud_writes = plan
        .entries
        .iter()
        .flat_map(|e| &e.steps)
        .filter(|s| s.target == TargetKind::M365 && s.action == Action::Set)
        .count();
    assert_eq!(
        cloud_writes,
        1,
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    let second = plan
        .entries
        .iter()
        .find(|e| e.relative == "user02.jpg")
        .expect("user02.jpg");
    let actions: Vec<_> = second.steps.iter().map(|s| (s.target, s.action)).collect();
    assert_eq!(
        actions,
        [
            (TargetKind::M365, Action::Duplicate),
            (TargetKind::Ad, Action::Set)
        ],
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
}

/// A user without a mailbox cannot hold an HD photo: the HD step is
/// `skipped` ("no mailbox"), never a failure — whether the plan read the
/// current photos (a dry run, the web UI's plan) or only the write found it
/// (a first real run, whose plan reads nothing).
#[tokio::test]
async fn a_user_without_a_mailbox_is_skipped_at_hd_not_failed() {
    use userphoto_directory::folder::{Access, FolderDirectory, FolderOptions, FolderUser};
    use userphoto_directory::{PhotoSlot, User};

    let root = tempfile::tempdir().expect("tempdir");
    let folder = root.path().join("photos");
    std::fs::create_dir_all(&folder).expect("mkdir");
    write(&folder, "user01.jpg", &photo(400, 300, 1));
    write(&folder, "kiosk.jpg", &photo(400, 300, 2));
    // kiosk is an AD account without a mailbox.
    let users = |access: Access| {
        let mut u = import_common::users();
        u.push(FolderUser::new(
            User::new("id-kiosk")
                .with_sam_account_name("kiosk")
                .with_upn("kiosk@corp.example.test"),
            access,
        ));
        u
    };
    let hd_dir = FolderDirectory::create_with(
        root.path().join("hd"),
        users(Access::NoMailbox),
        FolderOptions::new().with_slot(PhotoSlot::Hd),
    )
    .await
    .expect("hd folder");
    let ad_dir = FolderDirectory::create_with(
        root.path().join("ad"),
        users(Access::default()),
        FolderOptions::new().with_slot(PhotoSlot::Thumbnail),
    )
    .await
    .expect("ad folder");
    let hd_count = Arc::new(import_common::Counting::new(Arc::new(hd_dir)));
    let ad_count = Arc::new(import_common::Counting::new(Arc::new(ad_dir)));
    let targets = vec![
        userphoto_directory::config::Target::new(TargetKind::Ad, ad_count.clone(), "tester"),
        userphoto_directory::config::Target::new(TargetKind::Folder, hd_count.clone(), "tester"),
    ];
    let kiosk_hd = |rows: &[userphoto_bulk::import::PlanRow]| {
        rows.iter()
            .find(|r| r.file == "kiosk.jpg" && r.target.as_deref() == Some("folder"))
            .cloned()
            .unwrap_or_else(|| panic!("no HD row for kiosk: {rows:#?}"))
    };

    // A plan a person reviews reads the current photos: skipped up front.
    let mut reviewed = ImportOptions::new(&folder);
    reviewed.read_current = true;
    let cache = Arc::new(PreparedCache::in_memory());
    let plan = build_plan(
        &reviewed,
        &targets,
        &cache,
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    let row = kiosk_hd(&userphoto_bulk::wording::Wording::command_line().plan_rows(&plan));
    assert_eq!(row.action, Action::Skipped, "{row:#?}");
    assert!(
        row.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("no mailbox"),
        "{row:#?}"
    );

    // A first real run's plan reads nothing; the write's read finds it.
    let plan = build_plan(
        &ImportOptions::new(&folder),
        &targets,
        &cache,
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    assert_eq!(
        kiosk_hd(&userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)).action,
        Action::Set,
        "not read yet"
    );
    let report = Executor::new(targets.clone(), ops(root.path()))
        .run(&plan)
        .await;
    let s = &report.summary;
    assert_eq!(s.failed, 0, "{report:#?}");
    assert!(s.is_success(), "{report:#?}");
    let item = report
        .items
        .iter()
        .find(|i| i.file == "kiosk.jpg" && i.target.as_deref() == Some("folder"))
        .expect("kiosk HD item");
    assert_eq!(item.outcome, Outcome::Skipped, "{item:#?}");
    assert_eq!(
        item.reason,
        Some(userphoto_bulk::reason::Reason::NoMailbox {
            target: TargetKind::Folder
        }),
        "{item:#?}"
    );
    // Nothing tried at HD for kiosk; AD still gets kiosk's photo.
    assert_eq!(hd_count.sets(), 1, "user01 only");
    assert_eq!(ad_count.sets(), 2, "user01 and kiosk");
}

/// One import of `hr/` into `ad` (everyone) and an HD folder that does not
/// know user03, with or without preparing while planning. Returns the
/// summary and what each target holds afterwards.
async fn import_world(
    root: &Path,
    ahead: bool,
    strict: bool,
) -> (
    userphoto_bulk::import::Summary,
    Vec<(String, String, Option<String>)>,
) {
    let folder = hr_folder(root);
    let (ad, _) = target(root, TargetKind::Ad).await;
    let everyone_but_03 = import_common::users()
        .into_iter()
        .filter(|u| u.user.id != "id03")
        .collect::<Vec<_>>();
    let (hd, _) = import_common::target_with(root, TargetKind::Folder, everyone_but_03).await;
    let targets = vec![ad.clone(), hd.clone()];
    let cache = Arc::new(PreparedCache::in_memory());
    let mut options = ImportOptions::new(&folder);
    options.crop = userphoto_imaging::CropMode::Centre;
    options.strict = strict;
    let reporter = &userphoto_bulk::import::NoReporter;
    let mut executor = Executor::new(targets.clone(), ops(root)).with_cache(Arc::clone(&cache));
    let plan = if ahead {
        let (plan, preparer) = build_plan_preparing(&options, &targets, &cache, reporter)
            .await
            .expect("plan");
        executor = executor.with_preparer(preparer);
        plan
    } else {
        build_plan(&options, &targets, &cache, reporter)
            .await
            .expect("plan")
    };
    let report = executor.run(&plan).await;
    let mut held = Vec::new();
    for t in &targets {
        for u in import_common::users() {
            let user = u.user;
            let digest = match t.directory.get_photo(&user).await {
                Ok(PhotoLookup::Photo(p)) => Some(p.digest().to_owned()),
                _ => None,
            };
            held.push((t.kind.as_str().to_owned(), user.id.clone(), digest));
        }
    }
    (report.summary, held)
}

/// Preparing while the users are looked up changes nothing about the
/// outcome: a file made ahead for outputs the plan does not need (user03
/// has no HD account, so only its AD photo is wanted) is prepared again,
/// so `--strict`'s "source too small for HD" does not fail its AD photo.
#[tokio::test]
async fn preparing_while_planning_writes_what_planning_first_writes() {
    for strict in [false, true] {
        let first = tempfile::tempdir().expect("tempdir");
        let ahead = tempfile::tempdir().expect("tempdir");
        let (s1, held1) = import_world(first.path(), false, strict).await;
        let (s2, held2) = import_world(ahead.path(), true, strict).await;
        assert_eq!(
            (s1.written, s1.failed, s1.skipped, s1.unchanged),
            (s2.written, s2.failed, s2.skipped, s2.unchanged),
            "strict {strict}: {s1:?} vs {s2:?}"
        );
        assert_eq!(held1, held2, "strict {strict}: the same photos");
        let user03_ad = held2
            .iter()
            .find(|(t, id, _)| t == "ad" && id == "id03")
            .and_then(|(_, _, d)| d.clone());
        assert!(user03_ad.is_some(), "strict {strict}: user03's AD photo");
        if strict {
            // The 320×240 sources are too small for 648×648 HD: strict
            // refuses those files for users with an HD account.
            assert!(s2.failed > 1, "{s2:?}");
        } else {
            assert_eq!(s2.failed, 1, "only the corrupt file: {s2:?}");
        }
    }
}
