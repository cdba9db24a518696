//! Carrying out a plan: prepare on every core while writes go out.
//!
//! Why it is shaped like this: preparing a camera JPEG costs tens of
//! milliseconds of CPU, writing it to a directory a few milliseconds of
//! waiting on the network. Done one after the other, a run takes the sum;
//! overlapped, it takes the larger. So:
//!
//! * a CPU pool (one imaging pipeline per worker, [`Preparer`]) prepares each file's
//!   photos — one decode for every target — and hands them over through a
//!   bounded channel (memory stays flat for 10,000 files);
//! * the dispatcher starts one task per user, a few times the sum of the
//!   targets' suggested concurrency at once; each task writes the user's
//!   targets in plan order (HD first, Active Directory last). Each target's
//!   directory is wrapped in [`Limited`], so only its suggested concurrency
//!   of calls reach it, while the disk work of a write (backup, audit,
//!   journal) runs outside that limit;
//! * every write goes through [`Ops::set_prepared_photo`]: read the current
//!   photo, skip if identical, back up, write, audit — the same sequence as
//!   `userphoto set`;
//! * each finished (file, target) goes to the [`Journal`] and the
//!   [`Reporter`];
//! * [`CancelToken::cancel`] (Ctrl-C) stops dispatching; writes in flight
//!   finish, the rest is reported `not-done` and `--resume` picks it up.
//!
//! Retries are the backends' job (their transport); the engine adds no
//! retry loop. With [`ExecuteOptions::outage_wait`] it makes one later
//! attempt — what `--resume` would do — of writes that failed because a
//! directory was unreachable, after waiting for it to answer again.

mod control;
mod user_task;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::Limited;
use userphoto_imaging::CropMode;

use self::control::confirm;
pub use self::control::{CancelToken, ConfirmRequest, Confirmer, Decision};
use self::user_task::{Job, UserTask};
use super::cache::PreparedCache;
use super::journal::{DoneKey, Journal, JournalRecord};
use super::model::{Action, Entry, Plan, Step};
use super::outage::OutageWait;
use super::report::{ItemResult, Outcome, RunReport, Summary};
use super::reporter::{Event, NoReporter, Reporter};
use crate::ops::{Ops, WriteOptions};
use crate::prepare::{same_outputs, Outputs, PrepareMode, PreparedFile, Preparer};
use crate::reason::{Detail, Reason};

/// Users written at once per directory slot (see [`Limited`]): a user
/// task also waits on the disk (backup, audit log, journal), during which
/// another can use the slot.
const USERS_PER_SLOT: usize = 4;

/// How the executor writes.
#[derive(Clone, Debug, Default)]
pub struct ExecuteOptions {
    /// Backups (on by default). `dry_run` is not used here: a dry run
    /// stops at the plan.
    pub write: WriteOptions,
    /// Worker threads preparing photos (default: every core).
    pub threads: Option<usize>,
    /// Writes at once per target (default: what the target suggests).
    pub concurrency: Option<usize>,
    /// When a call fails because a directory could not be reached (a
    /// restart, a dropped network, throttling past the backend's retries),
    /// wait up to this long for it to answer again, then make the call
    /// once more ([`OutageWait`]). `None` (the default): the write is
    /// reported failed, and `--resume` retries it.
    pub outage_wait: Option<std::time::Duration>,
}

/// The executor: targets, safety rails and hooks. Build it, then
/// [`run`](Executor::run) a plan.
pub struct Executor {
    targets: Vec<Target>,
    ops: Ops,
    options: ExecuteOptions,
    reporter: Arc<dyn Reporter>,
    journal: Option<Arc<Journal>>,
    done: HashMap<DoneKey, JournalRecord>,
    cache: Arc<PreparedCache>,
    cancel: CancelToken,
    confirmer: Option<Arc<dyn Confirmer>>,
    ahead: std::sync::Mutex<Option<Preparer>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("targets", &self.targets)
            .field("options", &self.options)
            .field("journal", &self.journal)
            .field("done", &self.done.len())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor writing to `targets` with `ops`'s backups and audit log.
    pub fn new(targets: Vec<Target>, ops: Ops) -> Self {
        Executor {
            targets,
            ops,
            options: ExecuteOptions::default(),
            reporter: Arc::new(NoReporter),
            journal: None,
            done: HashMap::new(),
            cache: Arc::new(PreparedCache::in_memory()),
            cancel: CancelToken::new(),
            confirmer: None,
            ahead: std::sync::Mutex::new(None),
        }
    }

    /// Sets the options.
    pub fn with_options(mut self, options: ExecuteOptions) -> Self {
        self.options = options;
        self
    }

    /// Sends progress events to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Journals finished items into `journal`; `done` are the items an
    /// interrupted run finished (from [`RunState::resume`](super::journal::RunState::resume)),
    /// which are not done again.
    pub fn with_journal(
        mut self,
        journal: Arc<Journal>,
        done: HashMap<DoneKey, JournalRecord>,
    ) -> Self {
        self.journal = Some(journal);
        self.done = done;
        self
    }

    /// Records what each file became in `cache` (for later plans).
    pub fn with_cache(mut self, cache: Arc<PreparedCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Stops when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Takes over `preparer`, which has been preparing files while the plan
    /// was built ([`build_plan_preparing`](super::plan::build_plan_preparing)).
    /// Its results are used where they are exactly what the plan needs.
    pub fn with_preparer(self, preparer: Preparer) -> Self {
        if let Ok(mut ahead) = self.ahead.lock() {
            *ahead = Some(preparer);
        }
        self
    }

    /// Asks `confirmer` before each user's writes.
    pub fn with_confirmer(mut self, confirmer: Arc<dyn Confirmer>) -> Self {
        self.confirmer = Some(confirmer);
        self
    }

    /// Carries out `plan`. Per-item failures are in the report; the run
    /// never stops for one. With [`ExecuteOptions::outage_wait`], calls
    /// that fail because a directory was unreachable wait for it to answer
    /// again and are made once more (see [`OutageWait`]).
    pub async fn run(&self, plan: &Plan) -> RunReport {
        let report = self.run_pass(plan).await;
        self.reporter
            .event(&Event::Finished(report.summary.clone()));
        report
    }

    /// One pass over `plan`: every write it asks for, each once.
    async fn run_pass(&self, plan: &Plan) -> RunReport {
        let started = Instant::now();
        let mut items: Vec<ItemResult> = Vec::new();
        let mut jobs: Vec<Job> = Vec::new();
        for entry in &plan.entries {
            self.settle_unwritten(entry, plan.crop, &mut items, &mut jobs);
        }
        let total: usize = jobs.iter().map(|j| j.steps.len()).sum();
        self.reporter.event(&Event::Started { total });
        for item in &items {
            self.reporter.event(&Event::Item(item.clone()));
        }
        let mode = PrepareMode {
            crop: plan.crop,
            limits: plan.limits,
            strict: plan.strict,
        };
        let mut feed = self.feed(&jobs, mode);
        let mut dispatch = Dispatch {
            targets: Arc::new(self.limited_targets()),
            users: Arc::new(Semaphore::new(self.users_at_once())),
            tasks: JoinSet::new(),
            task_jobs: HashMap::new(),
            dispatched: vec![false; jobs.len()],
            ask: self.confirmer.clone(),
        };
        while let Some((index, prepared)) = feed.next(&jobs, &self.cancel).await {
            if self.cancel.is_cancelled() {
                break;
            }
            if !self
                .dispatch(&mut dispatch, &jobs, index, prepared, &mut items)
                .await
            {
                break;
            }
        }
        let stopped = self.cancel.is_cancelled();
        if stopped {
            self.reporter.event(&Event::Stopping);
        }
        feed.preparer.stop();
        while let Some(done) = dispatch.tasks.join_next_with_id().await {
            items.extend(self.joined(done, &mut dispatch.task_jobs, &jobs));
        }
        feed.preparer.finish().await;
        for (job, _) in jobs.iter().zip(&dispatch.dispatched).filter(|(_, d)| !**d) {
            for step in &job.steps {
                let item = job.item(step, Outcome::NotDone, None, Some(Reason::Stopped));
                self.reporter.event(&Event::Item(item.clone()));
                items.push(item);
            }
        }
        items.sort_by(|a, b| (&a.file, &a.target).cmp(&(&b.file, &b.target)));
        let mut summary = Summary::of(&items);
        summary.stopped = stopped;
        summary.elapsed_ms = started.elapsed().as_millis();
        RunReport { summary, items }
    }

    /// The preparer fed with every job's file (taking over one started
    /// while planning, whose results are checked on arrival).
    fn feed(&self, jobs: &[Job], mode: PrepareMode) -> Feed {
        let ahead = self.ahead.lock().ok().and_then(|mut a| a.take());
        let mut preparer = ahead.unwrap_or_else(|| Preparer::start(mode, self.options.threads));
        preparer.want_only(jobs.iter().map(|j| j.file.clone()).collect());
        // Files by path (a mapping file may name one file for two users).
        let mut waiting: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        // Made ahead, not yet arrived: checked against the plan on arrival.
        let mut from_ahead: HashSet<PathBuf> = HashSet::new();
        for (i, job) in jobs.iter().enumerate() {
            let first = !waiting.contains_key(&job.file);
            waiting.entry(job.file.clone()).or_default().push(i);
            if !first {
                continue;
            }
            if preparer.was_submitted(&job.file) {
                from_ahead.insert(job.file.clone());
            } else {
                preparer.submit(job.file.clone(), Outputs::Fixed(job.specs()));
            }
        }
        if from_ahead.is_empty() {
            preparer.close();
        }
        Feed {
            preparer,
            waiting,
            from_ahead,
            ready: Vec::new(),
        }
    }

    /// Each target with its directory wrapped so that at most its
    /// concurrency of calls reach it (the disk work around a write —
    /// backup, audit, journal fsyncs — happens outside that limit), and,
    /// with an outage wait, so that its calls wait out an outage.
    fn limited_targets(&self) -> HashMap<TargetKind, Target> {
        self.targets
            .iter()
            .map(|t| {
                let mut layered = t.clone();
                let limited: Arc<dyn userphoto_directory::Directory> =
                    Arc::new(Limited::new(Arc::clone(&t.directory), self.concurrency(t)));
                layered.directory = match self.options.outage_wait {
                    Some(patience) => Arc::new(OutageWait::new(
                        limited,
                        t.kind,
                        patience,
                        Arc::clone(&self.reporter),
                        self.cancel.clone(),
                    )),
                    None => limited,
                };
                (t.kind, layered)
            })
            .collect()
    }

    fn concurrency(&self, t: &Target) -> usize {
        self.options
            .concurrency
            .unwrap_or(t.directory.capabilities().suggested_concurrency)
            .max(1)
    }

    /// More users in flight than directory slots, so that writers waiting
    /// on the disk do not leave the directory idle.
    fn users_at_once(&self) -> usize {
        self.targets
            .iter()
            .map(|t| self.concurrency(t))
            .sum::<usize>()
            .max(1)
            * USERS_PER_SLOT
    }

    /// Starts the writes of the prepared job `index` (asking first when a
    /// confirmer is set). False when the run is to stop.
    async fn dispatch(
        &self,
        d: &mut Dispatch,
        jobs: &[Job],
        index: usize,
        prepared: Result<PreparedFile, Detail>,
        items: &mut Vec<ItemResult>,
    ) -> bool {
        let Some(job) = jobs.get(index) else {
            return true;
        };
        d.dispatched[index] = true;
        self.reporter.event(&Event::Prepared {
            file: job.relative.clone(),
        });
        let prepared = match prepared {
            Ok(p) => p,
            Err(detail) => {
                for step in &job.steps {
                    let reason = Reason::Unusable(detail.clone());
                    let item = job.item(step, Outcome::Failed, None, Some(reason));
                    self.finish(&item, step, None);
                    items.push(item);
                }
                return true;
            }
        };
        self.remember(job, &prepared);
        if let Some(confirmer) = d.ask.clone() {
            match confirm(confirmer, job, &prepared, &self.targets).await {
                Decision::Yes => {}
                Decision::All => d.ask = None,
                Decision::No => {
                    for step in &job.steps {
                        let item = job.item(step, Outcome::Skipped, None, Some(Reason::Declined));
                        self.reporter.event(&Event::Item(item.clone()));
                        items.push(item);
                    }
                    return true;
                }
                Decision::Quit => {
                    d.dispatched[index] = false;
                    self.cancel.cancel();
                    return false;
                }
            }
        }
        // Ctrl-C while waiting for a slot: this user is not started.
        let permit = tokio::select! {
            permit = Arc::clone(&d.users).acquire_owned() => permit.ok(),
            () = self.cancel.cancelled() => None,
        };
        let Some(permit) = permit else {
            d.dispatched[index] = false;
            return false;
        };
        let task = UserTask {
            job: job.clone(),
            prepared,
            targets: Arc::clone(&d.targets),
            ops: self.ops.clone(),
            write: self.options.write,
            reporter: Arc::clone(&self.reporter),
            journal: self.journal.clone(),
        };
        let handle = d.tasks.spawn(async move {
            let results = task.run().await;
            drop(permit);
            results
        });
        d.task_jobs.insert(handle.id(), index);
        // Collect finished tasks as we go, so memory stays flat.
        while let Some(done) = d.tasks.try_join_next_with_id() {
            items.extend(self.joined(done, &mut d.task_jobs, jobs));
        }
        true
    }

    /// Reports every row of `entry` that needs no write, and queues the rest.
    fn settle_unwritten(
        &self,
        entry: &Entry,
        crop: CropMode,
        items: &mut Vec<ItemResult>,
        jobs: &mut Vec<Job>,
    ) {
        let base = ItemResult {
            file: entry.relative.clone(),
            user: entry.name.clone(),
            user_id: None,
            target: None,
            outcome: Outcome::Skipped,
            bytes: None,
            reason: entry.reason.clone(),
            error: None,
            backup: None,
            retryable: false,
        };
        if entry.steps.is_empty() || entry.action != Action::Set {
            let outcome = match entry.action {
                Action::Unmatched => Outcome::Unmatched,
                Action::Duplicate => Outcome::Duplicate,
                Action::Error => Outcome::Failed,
                _ => Outcome::Skipped,
            };
            let item = ItemResult { outcome, ..base };
            items.push(item);
            return;
        }
        let mut to_write = Vec::new();
        // The journal line of this user's last write taken as done.
        let mut last_line = 0;
        for step in &entry.steps {
            // Once a step of this user is written in this run, so is every
            // later one, journal or not: plan order is HD first, and
            // on-premises Exchange replaces the AD thumbnail when it takes
            // an HD photo (what `retry_plan` does for the outage wait). So
            // is a step journalled before an earlier step of the plan (an
            // earlier resume wrote HD again after this AD write).
            let redo = !to_write.is_empty();
            let mut item = ItemResult {
                user_id: step.user.as_ref().map(|u| u.id.clone()),
                target: Some(step.target.as_str().to_owned()),
                reason: step.reason.clone(),
                bytes: step.new_bytes,
                ..base.clone()
            };
            let key = (entry.relative.clone(), step.target.as_str().to_owned());
            let journalled = self
                .done
                .get(&key)
                .filter(|rec| !redo && rec.line >= last_line);
            if let Some(rec) = journalled {
                last_line = rec.line;
                item.outcome = rec.outcome.unwrap_or(Outcome::Written);
                item.bytes = rec.bytes;
                item.reason = Some(Reason::DoneByInterruptedRun);
                items.push(item);
                continue;
            }
            match step.action {
                Action::Set if !self.targets.iter().any(|t| t.kind == step.target) => {
                    item.outcome = Outcome::Failed;
                    item.reason = Some(Reason::NotOpen {
                        target: step.target,
                    });
                }
                Action::Set => {
                    to_write.push(step.clone());
                    continue;
                }
                Action::Unchanged => {
                    item.outcome = Outcome::Unchanged;
                    item.reason = None;
                }
                Action::Skipped => item.outcome = Outcome::Skipped,
                Action::Unmatched => item.outcome = Outcome::Unmatched,
                Action::Duplicate => item.outcome = Outcome::Duplicate,
                Action::Error => item.outcome = Outcome::Failed,
            }
            items.push(item);
        }
        if !to_write.is_empty() {
            jobs.push(Job {
                file: entry.file.clone(),
                relative: entry.relative.clone(),
                name: entry.name.clone().unwrap_or_default(),
                stamp_key: entry
                    .stamp
                    .as_ref()
                    .map(|s| PreparedCache::key(&entry.file, s, &crop)),
                steps: to_write,
            });
        }
    }

    /// The rows of a finished user task; if it panicked, a failed row for
    /// each of its steps (some may have been written: a later run finds
    /// those in place).
    fn joined(
        &self,
        done: Result<(tokio::task::Id, Vec<ItemResult>), tokio::task::JoinError>,
        task_jobs: &mut HashMap<tokio::task::Id, usize>,
        jobs: &[Job],
    ) -> Vec<ItemResult> {
        let error = match done {
            Ok((id, rows)) => {
                task_jobs.remove(&id);
                return rows;
            }
            Err(e) => e,
        };
        let job = task_jobs.remove(&error.id()).and_then(|i| jobs.get(i));
        let Some(job) = job else {
            return Vec::new();
        };
        let reason = Reason::WriterStopped {
            detail: error.to_string(),
        };
        job.steps
            .iter()
            .map(|step| {
                let item = job.item(step, Outcome::Failed, None, Some(reason.clone()));
                self.reporter.event(&Event::Item(item.clone()));
                item
            })
            .collect()
    }

    /// Journals and reports an item finished outside a user task.
    fn finish(&self, item: &ItemResult, step: &Step, sha: Option<&str>) {
        if let Some(j) = &self.journal {
            if item.outcome != Outcome::Failed && item.outcome != Outcome::NotDone {
                j.done(
                    &item.file,
                    step.target,
                    item.user_id.as_deref().unwrap_or_default(),
                    item.outcome,
                    sha,
                    item.bytes,
                );
            }
        }
        self.reporter.event(&Event::Item(item.clone()));
    }

    /// Records the digests of a prepared file in the cache.
    fn remember(&self, job: &Job, prepared: &PreparedFile) {
        if let Some(key) = &job.stamp_key {
            self.cache.remember(key, prepared);
        }
    }
}

/// Prepared files arriving from the preparer, in the order the jobs can
/// use them.
struct Feed {
    preparer: Preparer,
    /// Jobs by file (a mapping file may name one file for two users).
    waiting: HashMap<PathBuf, Vec<usize>>,
    /// Made ahead, not yet arrived: checked against the plan on arrival.
    from_ahead: HashSet<PathBuf>,
    ready: Vec<(usize, Result<PreparedFile, Detail>)>,
}

impl Feed {
    /// The next job to write and its prepared file; `None` when every file
    /// arrived or the run is cancelled.
    async fn next(
        &mut self,
        jobs: &[Job],
        cancel: &CancelToken,
    ) -> Option<(usize, Result<PreparedFile, Detail>)> {
        while self.ready.is_empty() {
            let done = tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                n = self.preparer.next() => n,
            }?;
            let Some(indices) = self.waiting.get(&done.path) else {
                continue;
            };
            if self.from_ahead.remove(&done.path) {
                let needed = indices
                    .first()
                    .and_then(|&i| jobs.get(i))
                    .map(Job::specs)
                    .unwrap_or_default();
                // Made for other targets than the plan has: again.
                let again = !same_outputs(&done.specs, &needed);
                if again {
                    self.preparer
                        .submit(done.path.clone(), Outputs::Fixed(needed));
                }
                if self.from_ahead.is_empty() {
                    self.preparer.close();
                }
                if again {
                    continue;
                }
            }
            for &i in indices.iter().rev() {
                self.ready.push((i, done.result.clone()));
            }
        }
        self.ready.pop()
    }
}

/// The state of dispatching users to write.
struct Dispatch {
    targets: Arc<HashMap<TargetKind, Target>>,
    users: Arc<Semaphore>,
    tasks: JoinSet<Vec<ItemResult>>,
    /// Which job each task writes: a task that panics still gets its rows.
    task_jobs: HashMap<tokio::task::Id, usize>,
    dispatched: Vec<bool>,
    ask: Option<Arc<dyn Confirmer>>,
}
