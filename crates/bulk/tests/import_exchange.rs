//! `import` into `exchange` and `ad` together (what `userphoto import
//! --target exchange,ad` does): users from the real Samba AD DC of
//! `scripts/test-servers up` (these tests FAIL with that instruction when it
//! is absent), HD photos into the in-process EWS EMULATOR of
//! `userphoto-emulators` (written from Microsoft's documentation; not
//! Exchange), signed in with NTLM.
//!
//! They write only to `user2452` … `user2459` (reserved for the Exchange
//! tests; `user2450`/`user2451` are the CLI's).
//!
//! What they prove: `exchange` is treated exactly like `m365`, by the same
//! library code: per user the HD photo is written (and finished) before the
//! AD thumbnail is started, whatever order the targets are given in; the
//! mailbox holds the 648×648 we prepared and AD the 96×96, both read back
//! through the library with the digests the import computed; the size rule
//! applies (a small source goes to AD only unless the targets were named,
//! then to Exchange too, with a warning); a second run writes nothing.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod import_common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use import_common::photo;
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::import::{
    build_plan, Action, Executor, ImportOptions, NoReporter, PreparedCache,
};
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Config, Target, TargetKind};
use userphoto_directory::{
    Capabilities, Directory, DirectoryExt as _, FindResult, Photo, PhotoLookup, User, UserKey,
    UserQuery,
};
use userphoto_emulators::ews::{
    EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

const START_HINT: &str =
    "run scripts/test-servers up (see docs/TESTING.md), then run the tests again";

fn ad_vars() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"))
}

fn var<'a>(vars: &'a HashMap<String, String>, key: &str) -> &'a str {
    vars.get(&format!("USERPHOTO_TEST_AD_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {START_HINT}"))
}

fn mail(name: &str) -> String {
    format!("{name}@corp.example.test")
}

/// What the targets were asked to do, in order: `(event, target, user)`.
type Journal = Arc<Mutex<Vec<(&'static str, &'static str, String)>>>;

/// Passes everything through and notes when a write starts and ends.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Directory>,
    name: &'static str,
    journal: Journal,
}

impl Recording {
    fn note(&self, event: &'static str, user: &User) {
        let name = user.sam_account_name.clone().unwrap_or_default();
        if let Ok(mut j) = self.journal.lock() {
            j.push((event, self.name, name));
        }
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl Directory for Recording {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, userphoto_directory::Result<User>> {
        self.inner.list_users(query)
    }

    async fn find_users(
        &self,
        key: UserKey,
        values: &[String],
    ) -> userphoto_directory::Result<Vec<FindResult>> {
        self.inner.find_users(key, values).await
    }

    async fn get_photo(&self, user: &User) -> userphoto_directory::Result<PhotoLookup> {
        self.inner.get_photo(user).await
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> userphoto_directory::Result<()> {
        self.note("start", user);
        self.inner.set_photo(user, photo).await?;
        self.note("done", user);
        Ok(())
    }

    async fn remove_photo(&self, user: &User) -> userphoto_directory::Result<()> {
        self.inner.remove_photo(user).await
    }
}

/// `[ad]` (svc-photos) and `[exchange]` (the emulator, NTLM) opened through
/// the configuration, as the CLI opens them; each wrapped to record writes.
async fn targets(root: &Path, emulator: &EwsEmulator, journal: &Journal) -> (Target, Target) {
    let vars = ad_vars();
    let secret = root.join("svc-password");
    std::fs::write(&secret, var(&vars, "SVC_PASSWORD")).expect("password file");
    let ews_secret = root.join("ews-password");
    std::fs::write(&ews_secret, DEFAULT_PASSWORD).expect("password file");
    let text = format!(
        "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_file = {:?}\nca_file = {:?}\n\n\
[exchange]\news_url = {:?}\nusername = {:?}\npassword_file = {:?}\nauth = \"ntlm\"\nallow_insecure = true\n",
        var(&vars, "URL"),
        var(&vars, "TEST_OU"),
        var(&vars, "SVC_UPN"),
        secret.display().to_string(),
        var(&vars, "CA_FILE"),
        emulator.ews_url(),
        DEFAULT_USERNAME,
        ews_secret.display().to_string(),
    );
    let config = Config::parse(&text, &root.join("userphoto.toml")).expect("config");
    let mut opened = Vec::new();
    for (kind, name) in [(TargetKind::Ad, "ad"), (TargetKind::Exchange, "exchange")] {
        let target = config
            .open(kind)
            .await
            .unwrap_or_else(|e| panic!("cannot open {name}: {e}; {START_HINT}"));
        let recording = Arc::new(Recording {
            inner: Arc::clone(&target.directory),
            name,
            journal: Arc::clone(journal),
        });
        opened.push(Target {
            directory: recording,
            ..target
        });
    }
    let exchange = opened.pop().expect("exchange");
    let ad = opened.pop().expect("ad");
    (ad, exchange)
}

fn ops(root: &Path) -> Ops {
    Ops::new(
        BackupStore::new(root.join("backups")),
        AuditLog::new(root.join("audit.jsonl")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_exchange_and_ad_writes_hd_first_then_ad() {
    let names: Vec<String> = (2452..=2459).map(|i| format!("user{i}")).collect();
    let emulator = EwsEmulator::start(
        EwsKnobs::default()
            .with_auth(EmulatedAuth::Ntlm)
            .with_mailboxes(names.iter().map(|n| mail(n))),
    )
    .await
    .expect("emulator");
    let root = tempfile::tempdir().expect("tempdir");
    let journal: Journal = Arc::default();
    let (ad, exchange) = targets(root.path(), &emulator, &journal).await;
    // A known start: no AD photo (the emulator starts empty).
    for n in &names {
        let user = ad
            .directory
            .find_user(UserKey::SamAccountName, n)
            .await
            .expect("seeded user");
        ad.directory.remove_photo(&user).await.expect("clear");
    }

    let folder = root.path().join("hr");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let seed = std::process::id();
    let small = "user2459";
    for (i, n) in names.iter().enumerate() {
        let bytes = if n == small {
            photo(80, 80, seed)
        } else {
            photo(700, 760, seed + i as u32)
        };
        std::fs::write(folder.join(format!("{n}.jpg")), bytes).expect("photo");
    }
    // AD first on purpose: the library orders HD first, not the caller.
    let order = [ad.clone(), exchange.clone()];
    let cache = Arc::new(PreparedCache::in_memory());

    // Targets not named: the small source goes to AD only (size rule).
    let plan = build_plan(&ImportOptions::new(&folder), &order, &cache, &NoReporter)
        .await
        .expect("plan");
    let entry = plan
        .entries
        .iter()
        .find(|e| e.name.as_deref() == Some(small))
        .expect("small entry");
    let hd = entry
        .steps
        .iter()
        .find(|s| s.target == TargetKind::Exchange)
        .expect("exchange step");
    assert_eq!(hd.action, Action::Skipped, "{entry:#?}");
    assert_eq!(
        hd.reason,
        Some(userphoto_bulk::reason::Reason::SmallSourceSkipped {
            width: 80,
            height: 80
        }),
        "{entry:#?}"
    );

    // Targets named (`--target exchange,ad`): everything goes to both.
    let options = ImportOptions {
        explicit_targets: true,
        ..ImportOptions::new(&folder)
    };
    let plan = build_plan(&options, &order, &cache, &NoReporter)
        .await
        .expect("plan");
    for e in &plan.entries {
        let kinds: Vec<TargetKind> = e.steps.iter().map(|s| s.target).collect();
        assert_eq!(
            kinds,
            [TargetKind::Exchange, TargetKind::Ad],
            "HD first in the plan: {e:#?}"
        );
        assert!(e.steps.iter().all(|s| s.action == Action::Set), "{e:#?}");
    }
    let report = Executor::new(order.to_vec(), ops(root.path()))
        .with_cache(Arc::clone(&cache))
        .run(&plan)
        .await;
    assert_eq!(report.summary.failed, 0, "{report:#?}");
    assert_eq!(
        report.summary.written,
        2 * names.len(),
        "one per user and target: {report:#?}"
    );

    // Per user: Exchange finished before AD started.
    let journal_now = journal.lock().expect("journal").clone();
    for n in &names {
        let at = |event: &str, target: &str| {
            journal_now
                .iter()
                .position(|(e, t, u)| *e == event && *t == target && u == n)
                .unwrap_or_else(|| panic!("{n}: no {event} on {target}: {journal_now:?}"))
        };
        assert!(
            at("done", "exchange") < at("start", "ad"),
            "{n}: HD before AD: {journal_now:?}"
        );
    }

    // The results, read back through the library and on the emulator.
    for e in &plan.entries {
        let stamp = e.stamp.as_ref().expect("stamp");
        let known = cache
            .get(&PreparedCache::key(&e.file, stamp, &plan.crop))
            .expect("cached");
        for step in &e.steps {
            let user = step.user.as_ref().expect("resolved");
            let target = if step.target == TargetKind::Ad {
                &ad
            } else {
                &exchange
            };
            let PhotoLookup::Photo(p) = target.directory.get_photo(user).await.expect("read")
            else {
                panic!("{} has no {} photo", e.relative, step.target);
            };
            let expected = known
                .output(step.size, step.budget)
                .expect("prepared output");
            assert_eq!(
                p.digest(),
                expected.sha256,
                "{} {}",
                e.relative,
                step.target
            );
            let img = image::load_from_memory(p.bytes()).expect("a JPEG");
            // Never upscaled: a small source goes at its own size.
            let side = match (step.target, e.name.as_deref() == Some(small)) {
                (_, true) => 80,
                (TargetKind::Ad, false) => 96,
                (_, false) => 648,
            };
            assert_eq!((img.width(), img.height()), (side, side), "{}", e.relative);
            assert_eq!(expected.bytes, p.len(), "{}", e.relative);
        }
        let name = e.name.as_deref().expect("name");
        assert!(emulator.photo(&mail(name)).is_some(), "{name}'s mailbox");
    }
    let stats = emulator.stats();
    assert_eq!(stats.photos_set, names.len() as u64, "{stats:?}");
    assert!(
        stats.ntlm_sign_ins >= 1 && stats.basic_requests == 0,
        "{stats:?}"
    );

    // A second run writes nothing anywhere.
    let plan = build_plan(&options, &order, &cache, &NoReporter)
        .await
        .expect("plan");
    assert_eq!(
        plan.counts().set,
        0,
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    let writes = journal.lock().expect("journal").len();
    let report = Executor::new(order.to_vec(), ops(root.path()))
        .run(&plan)
        .await;
    assert_eq!(report.summary.written, 0, "{report:#?}");
    assert_eq!(journal.lock().expect("journal").len(), writes);
    assert_eq!(emulator.stats().photos_set, names.len() as u64);
}
