//! A pool that prepares files as they are submitted, and can start before
//! an import's plan is finished.
//!
//! Why a queue and not a list: looking the users up (a few batched
//! searches) leaves the cores idle for about a second on a 2,000-file
//! run, while preparing is the bulk of the work. So `import` submits the
//! files the [cache](super::cache) does not know as soon as they are
//! matched ([`build_plan_preparing`](crate::import::build_plan_preparing)),
//! with the outputs the size rule gives if every target knows the user.
//! The [executor](crate::import::Executor) then says which files it
//! really needs ([`Preparer::want_only`]), submits the rest, and takes a
//! result made ahead only if its outputs are exactly what the plan asks
//! for — otherwise the file is prepared again — so quality warnings and
//! `--strict` are what they would have been without preparing ahead.
//!
//! Memory stays bounded: results wait in a bounded channel, and the
//! workers block when nobody takes them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;
use userphoto_directory::PhotoSlot;
use userphoto_imaging::{OutputSpec, Pipeline};

use super::{prepare_bytes, PrepareMode, PreparedFile};
use crate::reason::Detail;
use crate::size_rule::plan_targets;

/// Results waiting to be taken, at most. A prepared file is a few KB (AD)
/// to ~100 KB (HD), so this is a few MB; enough to cover planning.
const WAITING: usize = 64;

/// Which outputs to make of a file.
#[derive(Clone, Debug)]
pub(crate) enum Outputs {
    /// Exactly these.
    Fixed(Vec<OutputSpec>),
    /// What the size rule gives for the source's size, with these targets'
    /// (spec, slot) as candidates, in the rule's order.
    BySize {
        /// Each candidate target's output and slot.
        candidates: Vec<(OutputSpec, PhotoSlot)>,
        /// Whether the person named the targets.
        explicit: bool,
    },
}

/// One file's outcome.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The file.
    pub path: PathBuf,
    /// The outputs made (or that would have been).
    pub specs: Vec<OutputSpec>,
    /// The photos, or why there are none.
    pub result: Result<PreparedFile, Detail>,
}

struct Work {
    path: PathBuf,
    outputs: Outputs,
}

/// A pool preparing submitted files on the CPU; see the module docs.
pub struct Preparer {
    jobs: Option<std::sync::mpsc::Sender<Work>>,
    results: mpsc::Receiver<Prepared>,
    wanted: Arc<RwLock<Option<HashSet<PathBuf>>>>,
    stop: Arc<AtomicBool>,
    submitted: HashSet<PathBuf>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Preparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preparer")
            .field("submitted", &self.submitted.len())
            .field("open", &self.jobs.is_some())
            .finish_non_exhaustive()
    }
}

impl Preparer {
    /// Starts `threads` workers (default: every core) preparing with `mode`.
    ///
    /// The workers are threads of their own, not the global rayon pool:
    /// they block waiting for work while the plan is being built, and the
    /// plan itself uses the rayon pool to read image headers.
    pub(crate) fn start(mode: PrepareMode, threads: Option<usize>) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Work>();
        let queue = Arc::new(Mutex::new(queue));
        let (tx, results) = mpsc::channel(WAITING);
        let wanted: Arc<RwLock<Option<HashSet<PathBuf>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let count = threads
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1)
            .max(1);
        let workers = (0..count)
            .filter_map(|i| {
                let (queue, tx) = (Arc::clone(&queue), tx.clone());
                let (wanted, stop) = (Arc::clone(&wanted), Arc::clone(&stop));
                std::thread::Builder::new()
                    // Linux keeps 15 bytes of a thread's name (`top`, `perf`).
                    .name(format!("up-prepare-{i}"))
                    .spawn(move || work_loop(&queue, &tx, &wanted, &stop, mode))
                    .ok()
            })
            .collect();
        Preparer {
            jobs: Some(jobs),
            results,
            wanted,
            stop,
            submitted: HashSet::new(),
            workers,
        }
    }

    /// Queues `path`. Ignored once [`close`](Self::close)d.
    pub(crate) fn submit(&mut self, path: PathBuf, outputs: Outputs) {
        if let Some(jobs) = &self.jobs {
            self.submitted.insert(path.clone());
            // A send fails only when the workers are gone; the executor
            // then reports the file as not prepared.
            let _ = jobs.send(Work { path, outputs });
        }
    }

    /// Whether `path` was submitted.
    pub(crate) fn was_submitted(&self, path: &Path) -> bool {
        self.submitted.contains(path)
    }

    /// From now on, prepares only these files (others still queued are
    /// skipped).
    pub(crate) fn want_only(&self, paths: HashSet<PathBuf>) {
        if let Ok(mut w) = self.wanted.write() {
            *w = Some(paths);
        }
    }

    /// No more submissions: the results end after the queued work.
    pub(crate) fn close(&mut self) {
        self.jobs = None;
    }

    /// The next result; `None` once closed and everything queued is done.
    pub(crate) async fn next(&mut self) -> Option<Prepared> {
        self.results.recv().await
    }

    /// Stops the workers after the files they are on.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops, and waits for the workers (on a blocking thread).
    pub(crate) async fn finish(mut self) {
        self.stop();
        self.close();
        self.results.close();
        let workers = std::mem::take(&mut self.workers);
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
        })
        .await;
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        // Not taken (a dry run, a plan that failed): let the workers end.
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One worker: takes work until the queue is closed and empty.
fn work_loop(
    queue: &Mutex<std::sync::mpsc::Receiver<Work>>,
    tx: &mpsc::Sender<Prepared>,
    wanted: &RwLock<Option<HashSet<PathBuf>>>,
    stop: &AtomicBool,
    mode: PrepareMode,
) {
    let mut pipeline = Pipeline::new();
    loop {
        let next = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        let Ok(work) = next else { return };
        if stop.load(Ordering::Relaxed) || tx.is_closed() {
            return;
        }
        let skip = wanted
            .read()
            .map(|w| w.as_ref().is_some_and(|w| !w.contains(&work.path)))
            .unwrap_or(false);
        if skip {
            continue;
        }
        let done = prepare_work(&mut pipeline, work, mode);
        if tx.blocking_send(done).is_err() {
            return;
        }
    }
}

/// Reads, sizes (for [`Outputs::BySize`]) and prepares one file.
fn prepare_work(pipeline: &mut Pipeline, work: Work, mode: PrepareMode) -> Prepared {
    let Work { path, outputs } = work;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            return Prepared {
                path,
                specs: Vec::new(),
                result: Err(Detail::io(&e)),
            }
        }
    };
    let specs = match outputs {
        Outputs::Fixed(specs) => specs,
        Outputs::BySize {
            candidates,
            explicit,
        } => match userphoto_imaging::probe(&bytes, &mode.limits) {
            Ok(info) => specs_by_size(info.width, info.height, &candidates, explicit),
            Err(e) => {
                return Prepared {
                    path,
                    specs: Vec::new(),
                    result: Err(Detail::image(&e)),
                }
            }
        },
    };
    let result = prepare_bytes(pipeline, &bytes, specs.clone(), mode);
    Prepared {
        path,
        specs,
        result,
    }
}

/// The distinct outputs the size rule keeps, in its order.
fn specs_by_size(
    width: u32,
    height: u32,
    candidates: &[(OutputSpec, PhotoSlot)],
    explicit: bool,
) -> Vec<OutputSpec> {
    let indexed: Vec<(usize, PhotoSlot)> = candidates
        .iter()
        .enumerate()
        .map(|(i, (_, slot))| (i, *slot))
        .collect();
    let rule = plan_targets(width, height, &indexed, explicit);
    let mut specs = Vec::new();
    for i in rule.order {
        if let Some((spec, _)) = candidates.get(i) {
            if !specs.contains(spec) {
                specs.push(*spec);
            }
        }
    }
    specs
}

/// Whether two output lists ask for the same photos (in any order).
pub(crate) fn same_outputs(a: &[OutputSpec], b: &[OutputSpec]) -> bool {
    a.len() == b.len() && a.iter().all(|s| b.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_rule_decides_the_outputs() {
        let hd = OutputSpec {
            size: 648,
            max_bytes: 100_000,
        };
        let ad = OutputSpec {
            size: 96,
            max_bytes: 10_000,
        };
        let both = [(ad, PhotoSlot::Thumbnail), (hd, PhotoSlot::Hd)];
        assert_eq!(specs_by_size(1000, 800, &both, false), vec![hd, ad]);
        assert_eq!(specs_by_size(96, 96, &both, false), vec![ad]);
        assert_eq!(specs_by_size(96, 96, &both, true), vec![hd, ad]);
        assert!(same_outputs(&[hd, ad], &[ad, hd]));
        assert!(!same_outputs(&[ad], &[ad, hd]));
    }
}
