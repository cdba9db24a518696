//! Carrying out a plan: prepare on every core while writes go out.
//!
//! Why it is shaped like this: preparing a camera JPEG costs tens of
//! milliseconds of CPU, writing it to a directory a few milliseconds of
//! waiting on the network. Done one after the other, a run takes the sum;
//! overlapped, it takes the larger. So:
//!
//! * a CPU pool (rayon, one [`Pipeline`] per worker) prepares each file's
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

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{Limited, Photo, User};
use userphoto_imaging::{CropMode, Limits, OutputSpec, Pipeline, PrepareOptions};

use super::cache::{CachedOutput, PreparedCache};
use super::journal::{DoneKey, Journal, JournalRecord};
use super::plan::{no_mailbox_reason, Action, Entry, Plan, Step};
use super::preparer::{same_outputs, Outputs, Preparer};
use super::report::{ItemResult, Outcome, RunReport, Summary};
use super::reporter::{Event, NoReporter, Reporter};
use crate::ops::{ChangeStatus, Ops, OpsError, WriteOptions};
use crate::wording::Wording;

/// Users written at once per directory slot (see [`Limited`]): a user
/// task also waits on the disk (backup, audit log, journal), during which
/// another can use the slot.
const USERS_PER_SLOT: usize = 4;

/// Asks a person to stop the run; clones share the state.
#[derive(Clone, Debug)]
pub struct CancelToken {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run: no new writes start; writes in flight finish.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`cancel`](CancelToken::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What is put before a person for one user when asking (`--confirm`).
#[derive(Clone, Debug)]
pub struct ConfirmRequest {
    /// The file, relative to the folder.
    pub file: String,
    /// The user's name as matched.
    pub user: String,
    /// The user's display name, when known.
    pub display_name: Option<String>,
    /// Per target: (target, current bytes if known, new bytes).
    pub targets: Vec<(TargetKind, Option<usize>, usize)>,
}

/// The answer to a [`ConfirmRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write this user's photos.
    Yes,
    /// Skip this user.
    No,
    /// Write this one and every following one without asking.
    All,
    /// Write nothing more; stop the run.
    Quit,
}

/// Asks whether to write one user's photos. Called from a blocking thread,
/// one request at a time.
pub trait Confirmer: Send + Sync {
    /// The decision for `request`.
    fn confirm(&self, request: &ConfirmRequest) -> Decision;
}

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
    /// When writes fail because a directory could not be reached (a
    /// restart, a dropped network, throttling past the backend's retries),
    /// wait up to this long at the end of the run for every such directory
    /// to answer again, then retry just those writes, once. `None` (the
    /// default): they are reported failed, and `--resume` retries them.
    pub outage_wait: Option<std::time::Duration>,
    /// How the report's sentences are worded (default: the command
    /// line's). Give the same wording the plan was made with.
    pub wording: Wording,
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
    /// never stops for one. With [`ExecuteOptions::outage_wait`], writes
    /// that failed because a directory was unreachable are retried once it
    /// answers again (see [`retry_plan`]).
    pub async fn run(&self, plan: &Plan) -> RunReport {
        let started = Instant::now();
        let mut report = self.run_pass(plan).await;
        if let (Some(patience), Some(again)) = (self.options.outage_wait, retry_plan(plan, &report))
        {
            if !report.summary.stopped && self.wait_for_targets(&again, patience).await {
                let second = self.run_pass(&again).await;
                report.replace_items(second);
            } else if self.cancel.is_cancelled() {
                // Ctrl-C during the wait: the failures stand, for --resume.
                report.summary.stopped = true;
            }
        }
        report.summary.elapsed_ms = started.elapsed().as_millis();
        self.reporter
            .event(&Event::Finished(report.summary.clone()));
        report
    }

    /// Waits until every target `plan` writes to answers a lookup again,
    /// probing with backoff (1 s doubling to 15 s), for at most `patience`.
    /// False when one still does not, or the run is cancelled.
    async fn wait_for_targets(&self, plan: &Plan, patience: std::time::Duration) -> bool {
        let mut probes: Vec<(&Target, String)> = Vec::new();
        for t in &self.targets {
            let name = plan
                .entries
                .iter()
                .filter(|e| e.steps.iter().any(|s| s.target == t.kind))
                .find_map(|e| e.name.clone());
            if let Some(name) = name {
                probes.push((t, name));
            }
        }
        let writes = plan.entries.iter().map(|e| e.steps.len()).sum();
        self.reporter.event(&Event::Waiting {
            targets: probes
                .iter()
                .map(|(t, _)| t.kind.as_str().to_owned())
                .collect(),
            writes,
            patience_s: patience.as_secs(),
        });
        let deadline = tokio::time::Instant::now() + patience;
        let mut pause = std::time::Duration::from_secs(1);
        loop {
            let mut answering = true;
            for (t, name) in &probes {
                let key = t.directory.capabilities().listing_key;
                let probe = t.directory.find_users(key, std::slice::from_ref(name));
                if !matches!(tokio::time::timeout_at(deadline, probe).await, Ok(Ok(_))) {
                    answering = false;
                    break;
                }
            }
            if answering {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = tokio::time::sleep_until((now + pause).min(deadline)) => {}
            }
            pause = (pause * 2).min(std::time::Duration::from_secs(15));
        }
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
        let ahead = self.ahead.lock().ok().and_then(|mut a| a.take());
        let wording = Arc::new(self.options.wording.clone());
        let mut preparer = ahead
            .unwrap_or_else(|| Preparer::start(mode, self.options.threads, &self.options.wording));
        preparer.want_only(jobs.iter().map(|j| j.file.clone()).collect());
        // Files by path (a mapping file may name one file for two users).
        let mut waiting: HashMap<std::path::PathBuf, Vec<usize>> = HashMap::new();
        // Made ahead, not yet arrived: checked against the plan on arrival.
        let mut from_ahead: HashSet<std::path::PathBuf> = HashSet::new();
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
        let concurrency = |t: &Target| {
            self.options
                .concurrency
                .unwrap_or(t.directory.capabilities().suggested_concurrency)
                .max(1)
        };
        // Each target's directory is wrapped so that at most its concurrency
        // of calls reach it; the disk work around a write (backup, audit,
        // journal fsyncs) happens outside that limit.
        let per_target: Arc<HashMap<TargetKind, Target>> = Arc::new(
            self.targets
                .iter()
                .map(|t| {
                    let mut limited = t.clone();
                    limited.directory =
                        Arc::new(Limited::new(Arc::clone(&t.directory), concurrency(t)));
                    (t.kind, limited)
                })
                .collect(),
        );
        // More users in flight than directory slots, so that writers
        // waiting on the disk do not leave the directory idle.
        let users_at_once: usize =
            self.targets.iter().map(concurrency).sum::<usize>().max(1) * USERS_PER_SLOT;
        let users = Arc::new(Semaphore::new(users_at_once));
        let mut tasks: JoinSet<Vec<ItemResult>> = JoinSet::new();
        // Which job each task writes: a task that panics still gets its rows.
        let mut task_jobs: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut dispatched = vec![false; jobs.len()];
        let mut ask = self.confirmer.clone();
        let mut stopped = false;

        let mut ready: Vec<(usize, Result<PreparedFile, String>)> = Vec::new();
        loop {
            if ready.is_empty() {
                let next = tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => None,
                    n = preparer.next() => n,
                };
                let Some(done) = next else { break };
                let Some(indices) = waiting.get(&done.path) else {
                    continue;
                };
                if from_ahead.remove(&done.path) {
                    let needed = indices
                        .first()
                        .and_then(|&i| jobs.get(i))
                        .map(Job::specs)
                        .unwrap_or_default();
                    // Made for other targets than the plan has: again.
                    let again = !same_outputs(&done.specs, &needed);
                    if again {
                        preparer.submit(done.path.clone(), Outputs::Fixed(needed));
                    }
                    if from_ahead.is_empty() {
                        preparer.close();
                    }
                    if again {
                        continue;
                    }
                }
                for &i in indices.iter().rev() {
                    ready.push((i, done.result.clone()));
                }
            }
            let Some((index, prepared)) = ready.pop() else {
                continue;
            };
            if self.cancel.is_cancelled() {
                break;
            }
            let Some(job) = jobs.get(index) else { continue };
            dispatched[index] = true;
            self.reporter.event(&Event::Prepared {
                file: job.relative.clone(),
            });
            let prepared = match prepared {
                Ok(p) => p,
                Err(message) => {
                    for step in &job.steps {
                        let item = job.item(step, Outcome::Failed, None, Some(message.clone()));
                        self.finish(&item, step, None);
                        items.push(item);
                    }
                    continue;
                }
            };
            self.remember(job, &prepared);
            if let Some(confirmer) = ask.clone() {
                match confirm(confirmer, job, &prepared, &self.targets).await {
                    Decision::Yes => {}
                    Decision::All => ask = None,
                    Decision::No => {
                        for step in &job.steps {
                            let item = job.item(
                                step,
                                Outcome::Skipped,
                                None,
                                Some("declined when asked".into()),
                            );
                            self.reporter.event(&Event::Item(item.clone()));
                            items.push(item);
                        }
                        continue;
                    }
                    Decision::Quit => {
                        dispatched[index] = false;
                        self.cancel.cancel();
                        break;
                    }
                }
            }
            // Ctrl-C while waiting for a slot: this user is not started.
            let permit = tokio::select! {
                permit = Arc::clone(&users).acquire_owned() => permit.ok(),
                () = self.cancel.cancelled() => None,
            };
            let Some(permit) = permit else {
                dispatched[index] = false;
                break;
            };
            let task = UserTask {
                job: job.clone(),
                prepared,
                targets: Arc::clone(&per_target),
                ops: self.ops.clone(),
                write: self.options.write,
                wording: Arc::clone(&wording),
                reporter: Arc::clone(&self.reporter),
                journal: self.journal.clone(),
            };
            let handle = tasks.spawn(async move {
                let results = task.run().await;
                drop(permit);
                results
            });
            task_jobs.insert(handle.id(), index);
            // Collect finished tasks as we go, so memory stays flat.
            while let Some(done) = tasks.try_join_next_with_id() {
                items.extend(self.joined(done, &mut task_jobs, &jobs));
            }
        }
        if self.cancel.is_cancelled() {
            stopped = true;
            self.reporter.event(&Event::Stopping);
        }
        preparer.stop();
        while let Some(done) = tasks.join_next_with_id().await {
            items.extend(self.joined(done, &mut task_jobs, &jobs));
        }
        preparer.finish().await;
        for (job, _) in jobs.iter().zip(&dispatched).filter(|(_, d)| !**d) {
            for step in &job.steps {
                let item = job.item(
                    step,
                    Outcome::NotDone,
                    None,
                    Some(not_done_reason(&self.options.wording)),
                );
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
            error: entry.reason.clone(),
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
                error: step.reason.clone(),
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
                item.error = Some("done by the interrupted run".into());
                items.push(item);
                continue;
            }
            match step.action {
                Action::Set if !self.targets.iter().any(|t| t.kind == step.target) => {
                    item.outcome = Outcome::Failed;
                    item.error = Some(format!(
                        "{} is not open in this run; configure it or leave it out of the plan",
                        self.options.wording.target(step.target)
                    ));
                }
                Action::Set => {
                    to_write.push(step.clone());
                    continue;
                }
                Action::Unchanged => {
                    item.outcome = Outcome::Unchanged;
                    item.error = None;
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
        let message = format!(
            "the writes for this user stopped unexpectedly ({error}); run the import again to finish them"
        );
        job.steps
            .iter()
            .map(|step| {
                let item = job.item(step, Outcome::Failed, None, Some(message.clone()));
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
        let Some(key) = &job.stamp_key else { return };
        for o in &prepared.outputs {
            self.cache.record(
                key,
                prepared.width,
                prepared.height,
                CachedOutput {
                    size: o.spec.size,
                    budget: o.spec.max_bytes,
                    sha256: o.photo.digest().to_owned(),
                    bytes: o.photo.len(),
                },
            );
        }
        // After the outputs: a first record resets the entry.
        self.cache
            .record_quality(key, &prepared.warnings, &prepared.checks);
    }
}

/// One file's writes still to do.
#[derive(Clone, Debug)]
struct Job {
    file: std::path::PathBuf,
    relative: String,
    name: String,
    stamp_key: Option<String>,
    steps: Vec<Step>,
}

impl Job {
    fn specs(&self) -> Vec<OutputSpec> {
        let mut specs: Vec<OutputSpec> = Vec::new();
        for s in &self.steps {
            let spec = OutputSpec {
                size: s.size,
                max_bytes: s.budget,
            };
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        specs
    }

    fn item(
        &self,
        step: &Step,
        outcome: Outcome,
        bytes: Option<usize>,
        error: Option<String>,
    ) -> ItemResult {
        ItemResult {
            file: self.relative.clone(),
            user: Some(self.name.clone()),
            user_id: step.user.as_ref().map(|u| u.id.clone()),
            target: Some(step.target.as_str().to_owned()),
            outcome,
            bytes,
            error,
            backup: None,
            retryable: false,
        }
    }
}

/// One prepared output.
#[derive(Clone, Debug)]
pub struct PreparedOutput {
    /// What was asked for.
    pub spec: OutputSpec,
    /// The JPEG.
    pub photo: Photo,
}

/// A file's prepared photos.
#[derive(Clone, Debug)]
pub struct PreparedFile {
    /// Upright source width.
    pub width: u32,
    /// Upright source height.
    pub height: u32,
    /// One per distinct spec, in the order asked.
    pub outputs: Vec<PreparedOutput>,
    /// The pipeline's quality warnings (no face, too dark, source smaller
    /// than a size…), as sentences.
    pub warnings: Vec<String>,
    /// The same findings as codes (`no_face`, `too_dark`, …).
    pub checks: Vec<String>,
}

impl PreparedFile {
    fn photo_for(&self, size: u32, budget: usize) -> Option<&Photo> {
        self.outputs
            .iter()
            .find(|o| o.spec.size == size && o.spec.max_bytes == budget)
            .map(|o| &o.photo)
    }
}

/// How every file of a run is prepared (besides the sizes).
#[derive(Clone, Copy, Debug)]
pub struct PrepareMode {
    /// How the square is chosen.
    pub crop: CropMode,
    /// Decoder limits.
    pub limits: Limits,
    /// A quality finding (no face, too dark…) fails the file instead of
    /// warning.
    pub strict: bool,
}

impl PrepareMode {
    /// The mode `options` ask for.
    pub fn of(options: &super::plan::ImportOptions) -> Self {
        PrepareMode {
            crop: options.crop,
            limits: options.limits,
            strict: options.strict,
        }
    }
}

/// Reads and prepares one file for `specs`: one decode for all of them.
///
/// # Errors
/// A sentence: the file cannot be read, the image cannot be used, or
/// (strict) a quality check failed.
pub fn prepare_file(
    pipeline: &mut Pipeline,
    path: &Path,
    specs: Vec<OutputSpec>,
    mode: PrepareMode,
) -> Result<PreparedFile, String> {
    prepare_file_worded(pipeline, path, specs, mode, &Wording::command_line())
}

/// [`prepare_file`], its sentences worded by `wording` (a plan made for
/// the web UI names no command-line flag).
///
/// # Errors
/// As [`prepare_file`].
pub fn prepare_file_worded(
    pipeline: &mut Pipeline,
    path: &Path,
    specs: Vec<OutputSpec>,
    mode: PrepareMode,
    wording: &Wording,
) -> Result<PreparedFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    prepare_bytes(pipeline, &bytes, specs, mode, wording)
}

/// Prepares one file's `bytes` for `specs`.
///
/// # Errors
/// As [`prepare_file`], but for reading.
pub fn prepare_bytes(
    pipeline: &mut Pipeline,
    bytes: &[u8],
    specs: Vec<OutputSpec>,
    mode: PrepareMode,
    wording: &Wording,
) -> Result<PreparedFile, String> {
    let options = PrepareOptions {
        outputs: specs.clone(),
        crop: mode.crop,
        limits: mode.limits,
        strict: mode.strict,
        ..PrepareOptions::default()
    };
    let prepared = pipeline
        .prepare(bytes, &options)
        .map_err(|e| wording.imaging_error(&e))?;
    let (width, height) = (prepared.report.width, prepared.report.height);
    let warnings = prepared.report.warnings.clone();
    let checks = prepared
        .report
        .checks
        .iter()
        .map(|c| c.code().to_owned())
        .collect();
    let mut outputs = Vec::new();
    for (spec, p) in specs.into_iter().zip(prepared.photos) {
        let photo = Photo::new(p.jpeg).map_err(|e| wording.directory_error(&e))?;
        outputs.push(PreparedOutput { spec, photo });
    }
    Ok(PreparedFile {
        width,
        height,
        outputs,
        warnings,
        checks,
    })
}

/// Asks the confirmer on a blocking thread.
async fn confirm(
    confirmer: Arc<dyn Confirmer>,
    job: &Job,
    prepared: &PreparedFile,
    targets: &[Target],
) -> Decision {
    let mut sizes = Vec::new();
    for s in &job.steps {
        let new = prepared.photo_for(s.size, s.budget).map_or(0, Photo::len);
        // The person compares current and new: read what the plan did not.
        let mut current = s.current_bytes;
        if current.is_none() {
            if let (Some(t), Some(u)) = (targets.iter().find(|t| t.kind == s.target), &s.user) {
                current = match t.directory.get_photo(u).await {
                    Ok(userphoto_directory::PhotoLookup::Photo(p)) => Some(p.len()),
                    Ok(userphoto_directory::PhotoLookup::NoPhoto) => Some(0),
                    _ => None,
                };
            }
        }
        sizes.push((s.target, current, new));
    }
    let request = ConfirmRequest {
        file: job.relative.clone(),
        user: job.name.clone(),
        display_name: job
            .steps
            .iter()
            .find_map(|s| s.user.as_ref().and_then(|u| u.display_name.clone())),
        targets: sizes,
    };
    tokio::task::spawn_blocking(move || confirmer.confirm(&request))
        .await
        .unwrap_or(Decision::Quit)
}

/// One user's writes, in plan order.
struct UserTask {
    job: Job,
    prepared: PreparedFile,
    targets: Arc<HashMap<TargetKind, Target>>,
    ops: Ops,
    write: WriteOptions,
    wording: Arc<Wording>,
    reporter: Arc<dyn Reporter>,
    journal: Option<Arc<Journal>>,
}

impl UserTask {
    async fn run(self) -> Vec<ItemResult> {
        let mut results = Vec::new();
        for step in &self.job.steps {
            let item = self.write_one(step).await;
            if let Some(j) = &self.journal {
                if matches!(item.outcome, Outcome::Written | Outcome::Unchanged) {
                    j.done(
                        &item.file,
                        step.target,
                        item.user_id.as_deref().unwrap_or_default(),
                        item.outcome,
                        self.prepared
                            .photo_for(step.size, step.budget)
                            .map(Photo::digest),
                        item.bytes,
                    );
                }
            }
            self.reporter.event(&Event::Item(item.clone()));
            results.push(item);
        }
        results
    }

    async fn write_one(&self, step: &Step) -> ItemResult {
        let fail = |message: String| self.job.item(step, Outcome::Failed, None, Some(message));
        let (Some(target), Some(user)) = (self.targets.get(&step.target), &step.user) else {
            let name = self.wording.target(step.target);
            return fail(format!("{name} is not open in this run"));
        };
        let Some(photo) = self.prepared.photo_for(step.size, step.budget) else {
            return fail("no photo was prepared for this target".into());
        };
        self.write_step(target, user, photo, step).await
    }

    async fn write_step(
        &self,
        target: &Target,
        user: &User,
        photo: &Photo,
        step: &Step,
    ) -> ItemResult {
        let job = &self.job;
        let result = self
            .ops
            .set_prepared_photo(target, user, photo, &self.write)
            .await;
        match result {
            Ok(change) => {
                let outcome = match change.status {
                    ChangeStatus::Unchanged => Outcome::Unchanged,
                    _ => Outcome::Written,
                };
                let mut item = job.item(step, outcome, Some(photo.len()), step.reason.clone());
                item.backup = change.backup.map(|b| b.path);
                item
            }
            // Found at the read before the write (a first run's plan does not
            // read current photos): nothing to do for this user here.
            Err(OpsError::NoMailbox { target, .. }) => job.item(
                step,
                Outcome::Skipped,
                None,
                Some(no_mailbox_reason(self.wording.target(target))),
            ),
            Err(e) => {
                // The report has a target column: the sentence need not
                // name it again (the command line's is the whole Display).
                let message = self.wording.ops_error_detail(&e);
                let mut item = job.item(step, Outcome::Failed, None, Some(message));
                item.retryable = e.is_transient();
                item
            }
        }
    }
}

/// Why a row was not done: the run stopped first. The command line can
/// resume; a page imports the folder again (what is in place is skipped).
fn not_done_reason(wording: &Wording) -> String {
    if wording.is_plain() {
        "the run stopped before this; import the folder again to do the rest (what is already in place is skipped)".into()
    } else {
        "the run stopped before this; resume the import, or run it again, to do the rest".into()
    }
}

/// The part of `plan` to do again after `report`: for each entry with a
/// write that failed because a directory was unreachable, that write and
/// every later one of the same user — plan order is HD first, Active
/// Directory last, and a retried HD write must not end up after the AD one
/// (on-premises Exchange writes its own thumbnail into AD). `None` when
/// nothing is worth retrying.
pub fn retry_plan(plan: &Plan, report: &RunReport) -> Option<Plan> {
    let failed: HashSet<(&str, &str)> = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Failed && i.retryable)
        .filter_map(|i| Some((i.file.as_str(), i.target.as_deref()?)))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let mut again = plan.clone();
    again.entries.retain_mut(|e| {
        let first = e
            .steps
            .iter()
            .position(|s| failed.contains(&(e.relative.as_str(), s.target.as_str())));
        match first {
            Some(i) => {
                e.steps.drain(..i);
                true
            }
            None => false,
        }
    });
    Some(again)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::plan::PLAN_VERSION;
    use userphoto_directory::UserKey;

    fn step(target: TargetKind) -> Step {
        Step {
            target,
            user: None,
            action: Action::Set,
            reason: None,
            size: 96,
            budget: 100_000,
            new_sha256: None,
            new_bytes: None,
            current_sha256: None,
            current_bytes: None,
        }
    }

    /// A plan writing `names` to HD (m365) first, then AD.
    fn plan(names: &[&str]) -> Plan {
        Plan {
            version: PLAN_VERSION,
            folder: "/hr".into(),
            key: UserKey::SamAccountName,
            targets: vec![TargetKind::M365, TargetKind::Ad],
            crop: CropMode::Centre,
            limits: Limits::default(),
            strict: false,
            entries: names
                .iter()
                .map(|n| Entry {
                    file: format!("/hr/{n}.jpg").into(),
                    relative: format!("{n}.jpg"),
                    name: Some((*n).to_owned()),
                    action: Action::Set,
                    reason: None,
                    stamp: None,
                    width: None,
                    height: None,
                    steps: vec![step(TargetKind::M365), step(TargetKind::Ad)],
                    warnings: Vec::new(),
                    checks: Vec::new(),
                })
                .collect(),
        }
    }

    fn row(name: &str, target: TargetKind, outcome: Outcome, retryable: bool) -> ItemResult {
        ItemResult {
            file: format!("{name}.jpg"),
            user: Some(name.to_owned()),
            user_id: None,
            target: Some(target.as_str().to_owned()),
            outcome,
            bytes: None,
            error: (outcome == Outcome::Failed).then(|| "failed".to_owned()),
            backup: None,
            retryable,
        }
    }

    #[test]
    fn retry_plan_redoes_an_unreachable_write_and_every_later_one_of_its_user() {
        use Outcome::{Failed, Written};
        use TargetKind::{Ad, M365};
        let plan = plan(&["a", "b", "c", "d"]);
        let items = vec![
            // HD unreachable, AD written: both again, HD before AD.
            row("a", M365, Failed, true),
            row("a", Ad, Written, false),
            // Only AD unreachable: AD again.
            row("b", M365, Written, false),
            row("b", Ad, Failed, true),
            // Refused (not retryable): not again.
            row("c", M365, Failed, false),
            row("c", Ad, Written, false),
            row("d", M365, Written, false),
            row("d", Ad, Written, false),
        ];
        let report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        let again = retry_plan(&plan, &report).expect("something to retry");
        let got: Vec<(String, Vec<TargetKind>)> = again
            .entries
            .iter()
            .map(|e| {
                (
                    e.relative.clone(),
                    e.steps.iter().map(|s| s.target).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("a.jpg".into(), vec![M365, Ad]), ("b.jpg".into(), vec![Ad])]
        );

        let settled = RunReport {
            summary: Summary::default(),
            items: vec![row("c", M365, Failed, false), row("a", Ad, Written, false)],
        };
        assert!(retry_plan(&plan, &settled).is_none(), "nothing retryable");
    }

    #[test]
    fn a_retry_replaces_the_rows_it_redoes_and_the_counts() {
        use TargetKind::Ad;
        let items = vec![
            row("a", Ad, Outcome::Written, false),
            row("b", Ad, Outcome::Failed, true),
        ];
        let mut report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        report.replace_items(RunReport {
            summary: Summary::default(),
            items: vec![row("b", Ad, Outcome::Written, false)],
        });
        assert_eq!(report.items.len(), 2);
        assert!(report.items.iter().all(|i| i.outcome == Outcome::Written));
        assert_eq!(report.summary.written, 2);
        assert_eq!(report.summary.failed, 0);
        assert!(report.summary.is_success());
    }

    #[test]
    fn a_retry_keeps_what_the_first_pass_wrote_and_its_backup() {
        use TargetKind::{Ad, M365};
        let backed_up = |mut i: ItemResult, path: &str| {
            i.backup = Some(path.to_owned());
            i
        };
        let items = vec![
            row("a", M365, Outcome::Failed, true),
            backed_up(row("a", Ad, Outcome::Written, false), "ad/a/1.jpg"),
            row("b", M365, Outcome::Failed, true),
            backed_up(row("b", Ad, Outcome::Written, false), "ad/b/1.jpg"),
        ];
        let mut report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        // HD is written this time; AD then finds our photo still in place
        // (a), or is cut short by Ctrl-C (b): b's AD must be done again
        // after its new HD photo, so it is not done.
        report.replace_items(RunReport {
            summary: Summary::default(),
            items: vec![
                row("a", M365, Outcome::Written, false),
                row("a", Ad, Outcome::Unchanged, false),
                row("b", M365, Outcome::Written, false),
                backed_up(row("b", Ad, Outcome::NotDone, false), "ad/b/2.jpg"),
            ],
        });
        let outcome = |name: &str, t: TargetKind| {
            report
                .items
                .iter()
                .find(|i| {
                    i.user.as_deref() == Some(name) && i.target.as_deref() == Some(t.as_str())
                })
                .map(|i| (i.outcome, i.backup.clone()))
        };
        assert_eq!(
            outcome("a", Ad),
            Some((Outcome::Written, Some("ad/a/1.jpg".into())))
        );
        assert_eq!(
            outcome("b", Ad),
            Some((Outcome::NotDone, Some("ad/b/1.jpg".into()))),
            "the user's own photo's backup, not the first pass's"
        );
        assert_eq!(report.summary.written, 3);
    }
}
