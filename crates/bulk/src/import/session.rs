//! An import session: where a folder's import keeps its state, whether it
//! starts afresh or carries on, and the order in which that state is
//! written — the same for every front end.
//!
//! Why a module of its own: the command line's `import` and the web UI's
//! folder import must both journal every write, keep the digest cache
//! (so a second plan need not decode every photo), and be resumable after
//! a crash or a stopped server. So the session owns:
//!
//! * where the state lives: `<state>/prepared-cache.jsonl` and
//!   `<state>/runs/<run>/{plan.json,journal.jsonl}` per (folder, targets);
//! * fresh or resume: [`ImportSession::start`] empties the journal *before*
//!   the new plan replaces the old one (a crash between the two must not
//!   pair the new plan with the old run's finished items);
//!   [`ImportSession::resume`] loads the saved plan and what is done;
//! * the run: [`ImportSession::run`] executes, closes the journal (a run
//!   that finished is no longer "interrupted") and saves the cache.
//!
//! ```text
//! open → plan (dry run or preparing ahead) → start | resume → run → report
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use userphoto_directory::config::Target;

use super::cache::PreparedCache;
use super::execute::{CancelToken, Confirmer, ExecuteOptions, Executor};
use super::journal::{DoneKey, Journal, JournalRecord, RunState};
use super::model::Plan;
use super::plan::{build_plan, build_plan_preparing, ImportOptions};
use super::report::RunReport;
use super::reporter::{NoReporter, Reporter};
use super::sync_state::SyncState;
use super::ImportError;
use crate::ops::Ops;
use crate::prepare::Preparer;

/// One folder's import into a set of targets: see the [module](self).
#[derive(Debug)]
pub struct ImportSession {
    state_dir: PathBuf,
    folder: PathBuf,
    run: RunState,
    cache: Arc<PreparedCache>,
    targets: Vec<Target>,
    ops: Ops,
    sync: Arc<SyncState>,
    verify: bool,
}

/// A run ready to go: its plan, what an interrupted run already did, and
/// the journal it appends to.
#[derive(Debug)]
pub struct PendingRun {
    plan: Plan,
    done: std::collections::HashMap<DoneKey, JournalRecord>,
    journal: Arc<Journal>,
    ahead: Option<Preparer>,
}

impl PendingRun {
    /// The plan this run carries out.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// How many (file, target) an interrupted run already finished.
    pub fn already_done(&self) -> usize {
        self.done.len()
    }
}

/// How a run is watched and steered by its front end.
#[derive(Clone)]
pub struct RunHooks {
    /// How the executor writes.
    pub options: ExecuteOptions,
    /// Receives progress events.
    pub reporter: Arc<dyn Reporter>,
    /// Stops the run.
    pub cancel: CancelToken,
    /// Asks before each user's writes.
    pub confirmer: Option<Arc<dyn Confirmer>>,
}

impl Default for RunHooks {
    fn default() -> Self {
        RunHooks {
            options: ExecuteOptions::default(),
            reporter: Arc::new(NoReporter),
            cancel: CancelToken::new(),
            confirmer: None,
        }
    }
}

impl std::fmt::Debug for RunHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHooks")
            .field("options", &self.options)
            .field("confirm", &self.confirmer.is_some())
            .finish_non_exhaustive()
    }
}

/// An interrupted import found in a state folder.
#[derive(Clone, Debug)]
pub struct Interrupted {
    /// The imported folder.
    pub folder: PathBuf,
    /// The targets it writes to.
    pub targets: Vec<userphoto_directory::config::TargetKind>,
    /// The (file, target) writes of its plan.
    pub writes: usize,
    /// How many of them are done.
    pub done: usize,
}

impl ImportSession {
    /// The session of importing `folder` into `targets` with `ops`'s
    /// backups and audit log, its state kept under `state_dir`.
    pub fn open(
        state_dir: impl Into<PathBuf>,
        folder: impl Into<PathBuf>,
        targets: Vec<Target>,
        ops: Ops,
    ) -> Self {
        let state_dir = state_dir.into();
        let folder = folder.into();
        let kinds: Vec<_> = targets.iter().map(|t| t.kind).collect();
        ImportSession {
            run: RunState::for_run(&state_dir, &folder, &kinds),
            cache: Arc::new(PreparedCache::open(state_dir.join("prepared-cache.jsonl"))),
            sync: Arc::new(SyncState::open(&state_dir)),
            verify: false,
            state_dir,
            folder,
            targets,
            ops,
        }
    }

    /// Plans with `--verify`: every current photo is read, and one changed
    /// in the directory since our write is reported, not overwritten.
    #[must_use]
    pub fn verifying(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// What this state folder knows of our earlier writes.
    pub fn sync_state(&self) -> &Arc<SyncState> {
        &self.sync
    }

    /// Where this folder's run keeps its plan and journal.
    pub fn run_state(&self) -> &RunState {
        &self.run
    }

    /// The imported folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The targets of the session.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Whether an earlier run of this folder into these targets stopped
    /// before its end (it can be resumed).
    pub fn is_interrupted(&self) -> bool {
        self.run.is_interrupted()
    }

    /// Plans without starting anything: what `--dry-run` and a plan a
    /// person reviews show. The cache learns what was prepared.
    ///
    /// # Errors
    /// As [`build_plan`].
    pub async fn plan(
        &self,
        options: &ImportOptions,
        reporter: &dyn Reporter,
    ) -> Result<Plan, ImportError> {
        let options = self.options_for(options);
        let plan = build_plan(&options, &self.targets, &self.cache, reporter).await;
        self.save_cache();
        plan
    }

    /// Plans while preparing photos ahead, then starts the run: the
    /// journal is emptied, then the plan saved.
    ///
    /// # Errors
    /// As [`build_plan`], and when the state cannot be written.
    pub async fn plan_and_start(
        &self,
        options: &ImportOptions,
        reporter: &dyn Reporter,
    ) -> Result<PendingRun, ImportError> {
        let options = self.options_for(options);
        let (plan, preparer) =
            build_plan_preparing(&options, &self.targets, &self.cache, reporter).await?;
        let mut pending = self.start(plan)?;
        pending.ahead = Some(preparer);
        Ok(pending)
    }

    /// Starts a run of `plan` (made by [`ImportSession::plan`] and
    /// reviewed): an interrupted earlier run of the folder is replaced.
    ///
    /// # Errors
    /// When the state folder cannot be written.
    pub fn start(&self, plan: Plan) -> Result<PendingRun, ImportError> {
        // The old journal is emptied before the new plan replaces the old
        // one: a crash between the two must not pair the new plan with the
        // old run's finished items.
        let journal = self.run.start_journal()?;
        self.run.save_plan(&plan)?;
        Ok(PendingRun {
            plan,
            done: Default::default(),
            journal: Arc::new(journal),
            ahead: None,
        })
    }

    /// Carries on the interrupted run of this folder: its saved plan, less
    /// what its journal says is done.
    ///
    /// # Errors
    /// [`ImportError::NothingToResume`] when there is none;
    /// [`ImportError::State`] when its files cannot be read.
    pub fn resume(&self) -> Result<PendingRun, ImportError> {
        let (plan, done, journal) = self.run.resume()?;
        Ok(PendingRun {
            plan,
            done,
            journal: Arc::new(journal),
            ahead: None,
        })
    }

    /// Runs `pending`, then closes its journal and saves the cache. A run
    /// with failures or stopped early stays resumable: resuming retries
    /// only what is not done.
    ///
    /// # Errors
    /// When the journal cannot be closed; the report is then lost to the
    /// caller but every write is in the audit log and the journal.
    pub async fn run(
        &self,
        pending: PendingRun,
        hooks: RunHooks,
    ) -> Result<RunReport, ImportError> {
        let PendingRun {
            plan,
            done,
            journal,
            ahead,
        } = pending;
        let mut executor = Executor::new(self.targets.clone(), self.ops.clone())
            .with_options(hooks.options)
            .with_reporter(hooks.reporter)
            .with_journal(Arc::clone(&journal), done)
            .with_cache(Arc::clone(&self.cache))
            .with_cancel(hooks.cancel);
        if let Some(preparer) = ahead {
            executor = executor.with_preparer(preparer);
        }
        if let Some(confirmer) = hooks.confirmer {
            executor = executor.with_confirmer(confirmer);
        }
        let report = executor.run(&plan).await;
        let closed = journal.close(report.summary.is_success());
        self.save_cache();
        closed?;
        // What landed becomes the sync state (from the journal, which also
        // holds what an interrupted run did before a resume).
        let finished = self.run.finished();
        self.sync
            .record_journal(finished.values(), super::sync_state::now());
        if let Err(e) = self.sync.save() {
            // The next run then reads the directory instead: nothing lost.
            tracing::warn!(error = %e, "the sync state could not be saved");
        }
        Ok(report)
    }

    /// Every interrupted import kept under `state_dir` (newest first),
    /// for a front end to offer carrying on.
    pub fn interrupted(state_dir: &Path) -> Vec<Interrupted> {
        let Ok(runs) = std::fs::read_dir(state_dir.join("runs")) else {
            return Vec::new();
        };
        let mut found: Vec<(std::time::SystemTime, Interrupted)> = Vec::new();
        for dir in runs.flatten() {
            let run = RunState::at(dir.path());
            if !run.is_interrupted() {
                continue;
            }
            let Ok(plan) = Plan::load(&run.plan_path()) else {
                continue;
            };
            let done = run.done_count();
            let modified = std::fs::metadata(run.journal_path())
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            found.push((
                modified,
                Interrupted {
                    folder: plan.folder.clone(),
                    targets: plan.targets.clone(),
                    writes: plan.counts().set,
                    done,
                },
            ));
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.into_iter().map(|(_, i)| i).collect()
    }

    /// The state folder.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `options` for this session's folder.
    fn options_for(&self, options: &ImportOptions) -> ImportOptions {
        ImportOptions {
            folder: self.folder.clone(),
            sync: Some(Arc::clone(&self.sync)),
            verify: options.verify || self.verify,
            ..options.clone()
        }
    }

    fn save_cache(&self) {
        // The cache only saves work next time: a failure to save it loses
        // nothing.
        if let Err(e) = self.cache.save() {
            tracing::debug!(error = %e, "the prepared-photo cache could not be saved");
        }
    }
}
