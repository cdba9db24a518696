//! Shared by the import tests: folder targets, generated photos, and a
//! directory wrapper that counts writes and can fail them (a server that
//! dies mid-run).

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::import::journal::{DoneKey, JournalRecord};
use userphoto_bulk::import::{
    build_plan, Executor, ImportOptions, Journal, NoReporter, Plan, PreparedCache, RunReport,
    RunState,
};
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{
    Capabilities, Directory, Error, FindResult, Photo, PhotoLookup, PhotoSlot, User, UserKey,
    UserQuery,
};
use userphoto_testkit::fixtures;

pub mod samba;

/// A test's scratch space: a temporary root (backups, audit log, state,
/// folder directories) and the `hr/` folder HR dropped photos into.
pub struct Scratch {
    pub root: tempfile::TempDir,
    pub folder: PathBuf,
}

impl Scratch {
    /// An empty `hr/` in a fresh temporary root.
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let folder = root.path().join("hr");
        std::fs::create_dir_all(&folder).expect("mkdir");
        Scratch { root, folder }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// Writes `name` into `hr/`.
    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.folder.join(name), bytes).expect("write photo");
    }

    /// `user{i:02}.jpg` for each `i`: `w`×`h` noise seeded by `i`.
    pub fn numbered(&self, users: RangeInclusive<u32>, w: u32, h: u32) {
        for i in users {
            self.write(&format!("user{i:02}.jpg"), &photo(w, h, i));
        }
    }

    /// Backups and audit log under the root.
    pub fn ops(&self) -> Ops {
        ops(self.path())
    }

    /// The plan for `hr/` into `targets` (default options).
    pub async fn plan(&self, targets: &[Target]) -> Plan {
        plan(&self.folder, targets).await
    }
}

/// Backups in `root/backups`, audit lines in `root/audit.jsonl`.
pub fn ops(root: &Path) -> Ops {
    Ops::new(
        BackupStore::new(root.join("backups")),
        AuditLog::new(root.join("audit.jsonl")),
    )
}

/// The plan for `folder` into `targets`: default options, a cache of its
/// own.
pub async fn plan(folder: &Path, targets: &[Target]) -> Plan {
    plan_cached(folder, targets, &PreparedCache::in_memory()).await
}

/// The plan for `folder` into `targets` with default options, recording
/// what it prepares in `cache`.
pub async fn plan_cached(folder: &Path, targets: &[Target], cache: &PreparedCache) -> Plan {
    build_plan(&ImportOptions::new(folder), targets, cache, &NoReporter)
        .await
        .expect("plan")
}

/// Creates `folder` and writes `{name}.jpg` into it for each of `names`:
/// `w`×`h` noise seeded by `seed + i`.
pub fn write_photos(folder: &Path, names: &[String], w: u32, h: u32, seed: u32) {
    std::fs::create_dir_all(folder).expect("mkdir");
    for (i, n) in names.iter().enumerate() {
        let i = u32::try_from(i).expect("few names");
        std::fs::write(
            folder.join(format!("{n}.jpg")),
            photo(w, h, seed.wrapping_add(i)),
        )
        .expect("photo");
    }
}

/// An AD-only run ready to go, under `root`: `hr/` holding a `w`×`h` photo
/// per name (seeded by `seed`), its run state, an in-memory cache, and the
/// plan — saved, as `import` saves it — which must write every name.
pub async fn planned_ad_run(
    root: &Path,
    ad: &Target,
    names: &[String],
    (w, h): (u32, u32),
    seed: u32,
) -> (RunState, Arc<PreparedCache>, Plan) {
    let folder = root.join("hr");
    write_photos(&folder, names, w, h, seed);
    let state = RunState::for_run(&root.join("state"), &folder, &[TargetKind::Ad]);
    let cache = Arc::new(PreparedCache::in_memory());
    let plan = plan_cached(&folder, std::slice::from_ref(ad), &cache).await;
    assert_eq!(
        plan.counts().set,
        names.len(),
        "{:#?}",
        userphoto_bulk::wording::Wording::command_line().plan_rows(&plan)
    );
    state.save_plan(&plan).expect("save plan");
    (state, cache, plan)
}

/// Runs `plan` with `executor`, journalled into a fresh journal of
/// `state`, and closes the journal: ended when the run succeeded, else
/// interrupted (as a run cut short leaves it).
pub async fn run_journalled(state: &RunState, executor: Executor, plan: &Plan) -> RunReport {
    let journal = state.start_journal().expect("journal");
    journalled(executor, journal, HashMap::new(), plan).await
}

/// What `--resume` does: the plan `state` saved, run with `executor`
/// without the items its journal has done, the journal closed after. The
/// plan, how many items were done before, and the report.
pub async fn resume(state: &RunState, executor: Executor) -> (Plan, usize, RunReport) {
    let (plan, done, journal) = state.resume().expect("resume");
    let done_before = done.len();
    let report = journalled(executor, journal, done, &plan).await;
    (plan, done_before, report)
}

async fn journalled(
    executor: Executor,
    journal: Journal,
    done: HashMap<DoneKey, JournalRecord>,
    plan: &Plan,
) -> RunReport {
    let journal = Arc::new(journal);
    let report = executor
        .with_journal(Arc::clone(&journal), done)
        .run(plan)
        .await;
    journal.close(report.summary.is_success()).expect("close");
    report
}

/// A JPEG of `w`×`h` noise (content differs by `seed`).
pub fn photo(w: u32, h: u32, seed: u32) -> Vec<u8> {
    fixtures::jpeg(
        &fixtures::noise(w, h, seed),
        &fixtures::JpegOptions::default(),
    )
}

/// The seeded folder users: user01…user12, José.Müller (NFC), two users
/// sharing a mail address.
pub fn users() -> Vec<FolderUser> {
    let mut users: Vec<FolderUser> = (1..=12)
        .map(|i| {
            FolderUser::from(
                User::new(format!("id{i:02}"))
                    .with_sam_account_name(format!("user{i:02}"))
                    .with_upn(format!("user{i:02}@corp.example.test"))
                    .with_mail(format!("user{i:02}@corp.example.test"))
                    .with_display_name(format!("Test User {i:02}")),
            )
        })
        .collect();
    users.push(FolderUser::from(
        User::new("id-jose")
            .with_sam_account_name("Jos\u{e9}.M\u{fc}ller")
            .with_upn("jose@corp.example.test")
            .with_display_name("Jos\u{e9} M\u{fc}ller"),
    ));
    users
}

/// A folder directory standing for `kind` (slot: thumbnail for `ad`, HD
/// otherwise), wrapped so its writes are counted.
pub async fn target(root: &Path, kind: TargetKind) -> (Target, Arc<Counting>) {
    target_with(root, kind, users()).await
}

/// [`target`] holding only `users`.
pub async fn target_with(
    root: &Path,
    kind: TargetKind,
    users: Vec<FolderUser>,
) -> (Target, Arc<Counting>) {
    let slot = if kind == TargetKind::Ad {
        PhotoSlot::Thumbnail
    } else {
        PhotoSlot::Hd
    };
    let dir = FolderDirectory::create_with(
        root.join(kind.as_str()),
        users,
        FolderOptions::new().with_slot(slot),
    )
    .await
    .expect("create folder directory");
    let counting = Arc::new(Counting::new(Arc::new(dir)));
    let t = Target::new(kind, counting.clone(), "local user tester");
    (t, counting)
}

/// Reopens the folder directory of `kind` under `root`, counted afresh.
pub async fn reopen(root: &Path, kind: TargetKind) -> (Target, Arc<Counting>) {
    let slot = if kind == TargetKind::Ad {
        PhotoSlot::Thumbnail
    } else {
        PhotoSlot::Hd
    };
    let dir = FolderDirectory::open_with(
        root.join(kind.as_str()),
        FolderOptions::new().with_slot(slot),
    )
    .await
    .expect("open folder directory");
    let counting = Arc::new(Counting::new(Arc::new(dir)));
    let t = Target::new(kind, counting.clone(), "local user tester");
    (t, counting)
}

/// Counts writes and lookups; after `fail_after` successful writes every
/// further write (and read) fails as if the server had gone away.
#[derive(Debug)]
pub struct Counting {
    inner: Arc<dyn Directory>,
    pub sets: AtomicUsize,
    pub finds: AtomicUsize,
    pub gets: AtomicUsize,
    pub fail_after: AtomicUsize,
    /// A bug's stand-in: writing this user's photo panics.
    pub panic_for: std::sync::Mutex<Option<String>>,
    written: std::sync::Mutex<Vec<String>>,
}

impl Counting {
    pub fn new(inner: Arc<dyn Directory>) -> Self {
        Counting {
            inner,
            sets: AtomicUsize::new(0),
            finds: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            fail_after: AtomicUsize::new(usize::MAX),
            panic_for: std::sync::Mutex::new(None),
            written: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn sets(&self) -> usize {
        self.sets.load(Ordering::SeqCst)
    }

    /// User ids written, in order.
    pub fn written(&self) -> Vec<String> {
        self.written.lock().map(|w| w.clone()).unwrap_or_default()
    }

    fn down(&self) -> bool {
        self.sets.load(Ordering::SeqCst) >= self.fail_after.load(Ordering::SeqCst)
    }
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "counting {}", self.inner)
    }
}

#[async_trait]
impl Directory for Counting {
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
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.inner.find_users(key, values).await
    }

    async fn get_photo(&self, user: &User) -> userphoto_directory::Result<PhotoLookup> {
        if self.down() {
            return Err(Error::Unavailable {
                message: "the test server is down".into(),
            });
        }
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get_photo(user).await
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> userphoto_directory::Result<()> {
        let panics = self
            .panic_for
            .lock()
            .is_ok_and(|p| p.as_deref() == Some(user.id.as_str()));
        #[allow(clippy::panic)]
        if panics {
            panic!("a bug while writing {}", user.id);
        }
        if self.down() {
            return Err(Error::Unavailable {
                message: "the test server is down".into(),
            });
        }
        self.inner.set_photo(user, photo).await?;
        self.sets.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut w) = self.written.lock() {
            w.push(user.id.clone());
        }
        Ok(())
    }

    async fn remove_photo(&self, user: &User) -> userphoto_directory::Result<()> {
        self.inner.remove_photo(user).await
    }

    async fn photo_policy(
        &self,
    ) -> userphoto_directory::Result<Option<userphoto_directory::PhotoPolicy>> {
        self.inner.photo_policy().await
    }
}
