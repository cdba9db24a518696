//! The real fault: the Samba AD DC of `scripts/test-servers up` is killed
//! (SIGKILL, by its recorded PID) in the middle of an import and started
//! again from its data; `--resume` then finishes the run — or, with an
//! outage wait, the run itself waits for Samba and finishes.
//!
//! A test binary of its own: while Samba is down no other test of this
//! process may need it. A guard restarts Samba when the test ends, even on
//! failure (`scripts/test-servers restart samba`: from its current data, not
//! the template, so nothing written by other tests is lost).
//!
//! It writes only to `user2100` … `user2179` (reserved for it). Its two
//! tests take turns (`SAMBA`): each kills the one Samba.
//!
//! What it proves, on the server: after the crash every user has either the
//! old photo or the new one, never none; every write the crashed run
//! reported is on the server; the same connection pool reconnects once
//! Samba is back; the resumed run writes only what is left and every user
//! ends with the new photo; every replaced photo has a backup holding the
//! old bytes; and no (file, target) is journalled twice.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC (and kills and restarts it), a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod import_common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use import_common::samba::{ad_target, ad_vars, START_HINT};
use import_common::{ops, photo, planned_ad_run, resume, run_journalled};
use userphoto_bulk::backup::BackupSet;
use userphoto_bulk::import::{
    Event, ExecuteOptions, Executor, Outcome, Plan, PrepareMode, Reporter,
};
use userphoto_bulk::prepare::prepare_file;
use userphoto_bulk::wording::Wording;
use userphoto_directory::{DirectoryExt as _, Photo, PhotoLookup, User, UserKey};
use userphoto_imaging::{OutputSpec, Pipeline};

/// The users of this test.
const FIRST: u32 = 2100;
const USERS: u32 = 50;
/// Samba is killed once this many writes have been reported.
const KILL_AFTER: usize = 12;
/// The users of the outage-wait test.
const WAIT_FIRST: u32 = 2150;
const WAIT_USERS: u32 = 30;

/// Held by each test for its whole run: both kill the one Samba.
static SAMBA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder `scripts/test-servers` keeps Samba's files in.
fn samba_dir() -> PathBuf {
    let env = userphoto_testkit::servers::env_file("samba");
    env.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no folder for {}", env.display()))
}

/// The PID of the running Samba, checked to be the samba binary.
fn samba_pid() -> u32 {
    let file = samba_dir().join("samba.pid");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; {START_HINT}", file.display()));
    let pid: u32 = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap_or_else(|e| panic!("samba (pid {pid}) is not running: {e}; {START_HINT}"));
    assert!(
        exe.ends_with("samba"),
        "pid {pid} is {}, not samba",
        exe.display()
    );
    pid
}

/// Whether the Samba of the pid file is alive.
fn samba_running() -> bool {
    std::fs::read_to_string(samba_dir().join("samba.pid"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .is_some_and(alive)
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purpose: it answers no one.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// Restarts Samba (from its current data) when dropped if it is not
/// running: whatever happens in the test, Samba is left running for
/// everyone else.
struct SambaGuard {
    restarted: bool,
}

impl SambaGuard {
    fn restart(&mut self) -> Duration {
        let started = Instant::now();
        let out = Command::new(repo().join("scripts/test-servers"))
            .args(["restart", "samba"])
            .output()
            .expect("run scripts/test-servers");
        self.restarted = true;
        assert!(
            out.status.success(),
            "scripts/test-servers restart samba: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    }
}

impl Drop for SambaGuard {
    fn drop(&mut self) {
        if !self.restarted && !samba_running() {
            let _ = Command::new(repo().join("scripts/test-servers"))
                .args(["restart", "samba"])
                .status();
        }
    }
}

/// Counts the writes reported and kills Samba (SIGKILL) right after the
/// `KILL_AFTER`th — while other writes are still in flight.
struct Killer {
    pid: u32,
    written: AtomicUsize,
    killed: AtomicBool,
    after_kill: Mutex<Vec<(String, Outcome, Option<String>)>>,
    /// Writes the run said it would retry once the directory answers
    /// again (0: it did not wait).
    waiting: AtomicUsize,
}

impl Killer {
    fn new(pid: u32) -> Self {
        Killer {
            pid,
            written: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            after_kill: Mutex::new(Vec::new()),
            waiting: AtomicUsize::new(0),
        }
    }
}

impl Reporter for Killer {
    fn event(&self, event: &Event) {
        if let Event::Waiting { writes, .. } = event {
            self.waiting.store(*writes, Ordering::SeqCst);
        }
        let Event::Item(item) = event else { return };
        if self.killed.load(Ordering::SeqCst) {
            if let Ok(mut v) = self.after_kill.lock() {
                v.push((
                    item.user.clone().unwrap_or_default(),
                    item.outcome,
                    item.reason
                        .as_ref()
                        .map(|r| Wording::command_line().reason(r)),
                ));
            }
        }
        if item.outcome == Outcome::Written
            && self.written.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER
        {
            let status = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            if !status.is_ok_and(|s| s.success()) {
                return; // the test fails on `killed`
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(self.pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.killed.store(true, Ordering::SeqCst);
        }
    }
}

/// The photo `user` has on the server now, or none.
async fn current(ad: &userphoto_directory::config::Target, user: &User) -> Option<Photo> {
    match ad.directory.get_photo(user).await {
        Ok(PhotoLookup::Photo(p)) => Some(p),
        Ok(PhotoLookup::NoPhoto) => None,
        other => panic!("reading {}'s photo: {other:?}", user.id),
    }
}

/// The digest each user's new photo will have (preparing is deterministic:
/// the same bytes the executor will prepare), by user name.
fn new_digests(plan: &Plan) -> HashMap<String, String> {
    let mut pipeline = Pipeline::new();
    plan.entries
        .iter()
        .map(|e| {
            let step = &e.steps[0];
            let spec = OutputSpec {
                size: step.size,
                max_bytes: step.budget,
            };
            let mode = PrepareMode {
                crop: plan.crop,
                limits: plan.limits,
                strict: plan.strict,
            };
            let prepared = prepare_file(&mut pipeline, &e.file, vec![spec], mode).expect("prepare");
            let sha = prepared.outputs[0].photo.digest().to_owned();
            (e.name.clone().expect("matched"), sha)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_killed_mid_import_then_resume_finishes_with_old_or_new_never_none() {
    let _turn = SAMBA.lock().await;
    let vars = ad_vars();
    let pid = samba_pid();
    let mut guard = SambaGuard { restarted: false };
    let root = tempfile::tempdir().expect("tempdir");
    let (ad, count) = ad_target(root.path(), &vars).await;
    let names: Vec<String> = (FIRST..FIRST + USERS).map(|i| format!("user{i}")).collect();

    // Every user starts with an "old" photo of their own.
    let seed = std::process::id().wrapping_mul(31);
    let mut users: HashMap<String, User> = HashMap::new();
    let mut old: HashMap<String, String> = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        let user = ad
            .directory
            .find_user(UserKey::SamAccountName, n)
            .await
            .unwrap_or_else(|e| panic!("{n}: {e}; {START_HINT}"));
        let p = Photo::new(photo(96, 96, seed + i as u32)).expect("photo");
        ad.directory.set_photo(&user, &p).await.expect("seed photo");
        old.insert(n.clone(), p.digest().to_owned());
        users.insert(n.clone(), user);
    }
    let seeded = count.written().len();

    // New photos, camera-ish in size so preparing takes a moment.
    let (state, cache, plan) =
        planned_ad_run(root.path(), &ad, &names, (640, 480), seed + 1000).await;
    let new = new_digests(&plan);
    assert_eq!(new.len(), USERS as usize);

    // The run, with Samba killed after KILL_AFTER writes.
    let killer = Arc::new(Killer::new(pid));
    let executor = Executor::new(vec![ad.clone()], ops(root.path()))
        .with_cache(Arc::clone(&cache))
        .with_reporter(killer.clone());
    let first = run_journalled(&state, executor, &plan).await;
    assert!(killer.killed.load(Ordering::SeqCst), "Samba was killed");
    assert!(!alive(pid), "Samba (pid {pid}) is dead");
    let s = &first.summary;
    assert!(s.written >= KILL_AFTER, "{s:?}");
    assert!(s.failed > 0, "writes after the kill fail: {s:?}");
    assert_eq!(
        s.written + s.failed + s.unchanged,
        USERS as usize,
        "every item has an outcome: {s:?}"
    );
    // Each failure says what happened, per item; the run carried on.
    for i in first.items.iter().filter(|i| i.outcome == Outcome::Failed) {
        let e = i
            .reason
            .as_ref()
            .map(|r| Wording::command_line().reason(r))
            .unwrap_or_default();
        assert!(!e.is_empty(), "{i:?}");
    }
    eprintln!(
        "first run: {} written, {} failed in {} ms; e.g. {:?}",
        s.written,
        s.failed,
        s.elapsed_ms,
        first
            .items
            .iter()
            .find(|i| i.outcome == Outcome::Failed)
            .and_then(|i| i.reason.as_ref())
            .map(|r| Wording::command_line().reason(r))
    );

    let took = guard.restart();
    eprintln!("Samba restarted in {took:?}");
    assert_ne!(samba_pid(), pid, "a new Samba runs");

    // After the crash: old or new, never none — read through the same
    // target, whose pooled connections died with Samba (it reconnects).
    let mut still_old = 0;
    for n in &names {
        let photo = current(&ad, &users[n])
            .await
            .unwrap_or_else(|| panic!("{n} has no photo after the crash"));
        let sha = photo.digest();
        assert!(
            sha == old[n] || sha == new[n],
            "{n} has a photo that is neither the old nor the new one"
        );
        if sha == old[n] {
            still_old += 1;
        }
        // A write the run reported is on the server.
        let reported = first
            .items
            .iter()
            .any(|i| i.user.as_deref() == Some(n.as_str()) && i.outcome == Outcome::Written);
        if reported {
            assert_eq!(
                sha, new[n],
                "{n}: reported written, but the server has the old photo"
            );
        }
    }
    assert!(
        still_old > 0,
        "some users were not reached before the crash"
    );

    // --resume: the saved plan, only what the journal does not have.
    assert!(state.is_interrupted());
    let before = count.written().len();
    let (_, done, second) = resume(&state, Executor::new(vec![ad.clone()], ops(root.path()))).await;
    assert_eq!(done, first.summary.written + first.summary.unchanged);
    assert!(second.summary.is_success(), "{second:#?}");
    assert_eq!(
        count.written().len() - before,
        still_old,
        "the resumed run wrote exactly the users still on the old photo"
    );

    // Everyone has the new photo now.
    for n in &names {
        let photo = current(&ad, &users[n]).await.expect("a photo");
        assert_eq!(photo.digest(), new[n], "{n} has the new photo");
    }

    // Every replaced photo has a backup holding the old bytes.
    let backups = BackupSet::open(&root.path().join("backups")).expect("backups");
    let kept: HashSet<&str> = backups
        .records()
        .iter()
        .map(|r| r.sha256.as_str())
        .collect();
    for n in &names {
        assert!(
            kept.contains(old[n].as_str()),
            "{n}'s old photo was backed up"
        );
    }
    for r in backups.records() {
        let p = backups.read_photo(r).expect("backup reads back");
        assert_eq!(p.digest(), r.sha256);
    }

    // Nothing written twice: per server (each user at most once since the
    // seeding) and per journal (each (file, target) at most once).
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for id in &count.written()[seeded..] {
        *per_user.entry(id.clone()).or_default() += 1;
    }
    assert!(per_user.values().all(|&n| n == 1), "{per_user:?}");
    let text = std::fs::read_to_string(state.journal_path()).expect("journal");
    let mut seen = HashSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("journal line");
        if v["kind"] == "done" {
            let key = (v["file"].to_string(), v["target"].to_string());
            assert!(seen.insert(key.clone()), "journalled twice: {key:?}");
        }
    }
    assert_eq!(seen.len(), USERS as usize, "every item journalled once");
}

/// With an outage wait, the run itself rides out the restart: writes that
/// failed while Samba was down are retried once it answers again, and the
/// run ends with every photo written, nothing left for `--resume`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_outage_wait_the_run_retries_after_samba_is_back() {
    let _turn = SAMBA.lock().await;
    let vars = ad_vars();
    let pid = samba_pid();
    let mut guard = SambaGuard { restarted: false };
    let root = tempfile::tempdir().expect("tempdir");
    let (ad, _count) = ad_target(root.path(), &vars).await;
    let names: Vec<String> = (WAIT_FIRST..WAIT_FIRST + WAIT_USERS)
        .map(|i| format!("user{i}"))
        .collect();
    let seed = std::process::id().wrapping_mul(37);
    let (state, cache, plan) = planned_ad_run(root.path(), &ad, &names, (640, 480), seed).await;
    let new = new_digests(&plan);

    // Samba is killed after KILL_AFTER writes, and started again only once
    // the run says it is waiting: the retry pass, not the backend's own
    // retries, must bring the rest in.
    let killer = Arc::new(Killer::new(pid));
    let restarter = {
        let killer = Arc::clone(&killer);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while killer.waiting.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            Command::new(repo().join("scripts/test-servers"))
                .args(["restart", "samba"])
                .output()
        })
    };
    let executor = Executor::new(vec![ad.clone()], ops(root.path()))
        .with_cache(Arc::clone(&cache))
        .with_reporter(killer.clone())
        .with_options(ExecuteOptions {
            outage_wait: Some(Duration::from_secs(120)),
            ..Default::default()
        });
    let report = run_journalled(&state, executor, &plan).await;
    let restart = restarter.join().expect("the restarting thread");
    let restart = restart.expect("run scripts/test-servers");
    guard.restarted = restart.status.success();
    assert!(
        restart.status.success(),
        "scripts/test-servers restart samba: {}",
        String::from_utf8_lossy(&restart.stderr)
    );
    assert!(killer.killed.load(Ordering::SeqCst), "Samba was killed");
    let retried = killer.waiting.load(Ordering::SeqCst);
    assert!(
        retried > 0,
        "writes failed while Samba was down, and the run waited to retry them"
    );
    eprintln!("{retried} writes retried after the restart");

    let s = &report.summary;
    assert!(s.is_success(), "the run finished by itself: {report:#?}");
    assert_eq!(s.written + s.unchanged, WAIT_USERS as usize, "{s:?}");
    assert!(
        report.items.iter().all(|i| i.outcome != Outcome::Failed),
        "no failed row is left in the report"
    );
    assert!(!state.is_interrupted(), "nothing is left for --resume");
    // The users as the plan found them: no second lookup.
    for e in &plan.entries {
        let (Some(n), Some(user)) = (&e.name, e.steps.first().and_then(|s| s.user.as_ref())) else {
            panic!("a matched entry: {e:?}");
        };
        let photo = current(&ad, user).await.expect("a photo");
        assert_eq!(photo.digest(), new[n], "{n} has the new photo");
    }
}
