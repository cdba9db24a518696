//! The imports a server holds, and the folders uploaded for them. Both are
//! bounded: a page that plans again and again, or uploads folder after
//! folder, must not grow the server without end.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use axum::http::StatusCode;
use userphoto_bulk::import::{CancelToken, Decision, ImportSession, Plan, RunReport};

mod feed;

pub(crate) use self::feed::{Feed, FeedEvent};
use crate::error::{AppError, AppResult};
use crate::token::random_token;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many uploaded folders are kept (the oldest is let go beyond that).
const MAX_FOLDERS: usize = 4;

/// The most one uploaded folder may hold: past this, the temporary disk is
/// at risk, and a folder that large is better imported by its path.
const MAX_FOLDER_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// How many imports are kept; beyond that the oldest one not running is
/// forgotten (its plan, events and report).
const MAX_JOBS: usize = 16;

/// The imports of this server, by id, oldest first, and the folders
/// uploaded for them.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    jobs: Mutex<Vec<(String, Arc<Job>)>>,
    folders: Mutex<Vec<(String, Arc<UploadFolder>)>>,
}

impl Jobs {
    /// The job `id`.
    pub(crate) fn get(&self, id: &str) -> AppResult<Arc<Job>> {
        by_id(&lock(&self.jobs), id)
            .ok_or_else(|| AppError::not_found("no such import; plan it again"))
    }

    /// Keeps `job`; its id.
    pub(crate) fn insert(&self, job: Job) -> AppResult<String> {
        let mut jobs = lock(&self.jobs);
        let mut evicted = None;
        if jobs.len() >= MAX_JOBS {
            let Some(oldest) = jobs.iter().position(|(_, j)| !j.is_running()) else {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "busy",
                    "too many imports are running; wait for one to finish",
                ));
            };
            evicted = Some(jobs.remove(oldest));
        }
        let id = random_token();
        jobs.push((id.clone(), Arc::new(job)));
        drop(jobs);
        drop_off_thread(evicted);
        Ok(id)
    }

    /// A new, empty folder for a folder chosen in the browser; its id.
    pub(crate) fn new_folder(&self) -> AppResult<String> {
        let dir = tempfile::Builder::new()
            .prefix("userphoto-upload-")
            .tempdir_in(crate::local_files::upload_root().map_err(AppError::internal)?)
            .map_err(AppError::internal)?;
        userphoto_directory::private_fs::restrict_dir(dir.path()).map_err(AppError::internal)?;
        let id = random_token();
        let mut folders = lock(&self.folders);
        // Deleted once nothing holds it: not under a file being written
        // into it, nor under a job planned from it.
        let evicted = (folders.len() >= MAX_FOLDERS).then(|| folders.remove(0));
        folders.push((
            id.clone(),
            Arc::new(UploadFolder::new(dir, MAX_FOLDER_BYTES)),
        ));
        drop(folders);
        drop_off_thread(evicted);
        Ok(id)
    }

    /// The uploaded folder `id`, held for as long as the caller keeps it.
    pub(crate) fn folder(&self, id: &str) -> AppResult<Arc<UploadFolder>> {
        by_id(&lock(&self.folders), id)
            .ok_or_else(|| AppError::not_found("that uploaded folder has expired; choose it again"))
    }
}

/// The value kept under `id`, held anew.
fn by_id<T>(list: &[(String, Arc<T>)], id: &str) -> Option<Arc<T>> {
    list.iter()
        .find(|(i, _)| i == id)
        .map(|(_, v)| Arc::clone(v))
}

/// A folder chosen in the browser, as uploaded so far: a temporary folder
/// (deleted with the last hold on it) and the bytes put in it.
#[derive(Debug)]
pub(crate) struct UploadFolder {
    dir: tempfile::TempDir,
    bytes: AtomicU64,
    limit: u64,
}

impl UploadFolder {
    fn new(dir: tempfile::TempDir, limit: u64) -> Self {
        UploadFolder {
            dir,
            bytes: AtomicU64::new(0),
            limit,
        }
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Counts `len` more bytes into the folder.
    ///
    /// # Errors
    /// 413 when that would take it past its limit (nothing is counted).
    pub(crate) fn reserve(&self, len: u64) -> AppResult<()> {
        let before = self.bytes.fetch_add(len, Ordering::SeqCst);
        if before.saturating_add(len) > self.limit {
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "folder-too-large",
                format!(
                    "the folder is larger than {} GB, more than an upload from the browser should hold; type its path on this computer into the folder box instead",
                    self.limit / 1_000_000_000
                ),
            ));
        }
        Ok(())
    }
}

/// Drops `value` on the blocking pool: the last hold on an uploaded folder
/// deletes it, which for thousands of photos takes a while, and must not
/// stall the async workers (or a lock).
fn drop_off_thread<T: Send + 'static>(value: Option<T>) {
    let Some(value) = value else { return };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(value))),
        Err(_) => drop(value),
    }
}

/// One planned (and maybe running) import.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) plan: Plan,
    /// The folder's import session: its journal, cache and saved plan.
    pub(crate) session: Arc<ImportSession>,
    /// Whether this carries on an interrupted run (its saved plan, less
    /// what is done) rather than starting the plan afresh.
    pub(crate) resume: bool,
    pub(crate) started: AtomicBool,
    pub(crate) cancel: CancelToken,
    pub(crate) feed: Feed,
    pub(crate) questions: Questions,
    pub(crate) report: Mutex<Option<RunReport>>,
    /// The uploaded folder it was planned from, kept while the job is.
    pub(crate) _upload: Option<Arc<UploadFolder>>,
}

impl Job {
    /// A job for `plan`, not started.
    pub(crate) fn new(
        plan: Plan,
        session: Arc<ImportSession>,
        resume: bool,
        upload: Option<Arc<UploadFolder>>,
    ) -> Self {
        Job {
            plan,
            session,
            resume,
            started: AtomicBool::new(false),
            cancel: CancelToken::new(),
            feed: Feed::new(),
            questions: Questions::default(),
            report: Mutex::new(None),
            _upload: upload,
        }
    }

    fn is_running(&self) -> bool {
        self.started.load(Ordering::SeqCst) && !self.feed.is_finished()
    }
}

/// "Confirm each": the question waiting for the page's answer, by number.
/// An answer must name the question it answers, so an answer to a question
/// shown twice (a replayed stream) or clicked twice can never approve the
/// next user's photo, which nobody has seen.
#[derive(Debug, Default)]
pub(crate) struct Questions {
    state: Mutex<QuestionState>,
}

#[derive(Debug, Default)]
struct QuestionState {
    answers: Option<mpsc::Sender<Decision>>,
    asked: u64,
    pending: Option<u64>,
}

impl Questions {
    /// Opens the channel answers arrive on.
    pub(crate) fn open(&self) -> mpsc::Receiver<Decision> {
        let (tx, rx) = mpsc::channel();
        lock(&self.state).answers = Some(tx);
        rx
    }

    /// The number of a new question, now the pending one.
    pub(crate) fn ask(&self) -> u64 {
        let mut state = lock(&self.state);
        state.asked += 1;
        state.pending = Some(state.asked);
        state.asked
    }

    /// Answers question `number`.
    ///
    /// # Errors
    /// 409 when it is not the question waiting.
    pub(crate) fn answer(&self, number: u64, decision: Decision) -> AppResult<()> {
        let mut state = lock(&self.state);
        if state.pending != Some(number) {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "not-asking",
                "that question is not waiting for an answer (it was answered, or the import moved on)",
            ));
        }
        state.pending = None;
        match &state.answers {
            Some(tx) if tx.send(decision).is_ok() => Ok(()),
            _ => Err(AppError::new(
                StatusCode::CONFLICT,
                "not-asking",
                "this import is not waiting for a decision",
            )),
        }
    }

    /// Answers whatever is pending with [`Decision::Quit`].
    pub(crate) fn quit(&self) {
        let mut state = lock(&self.state);
        if state.pending.take().is_some() {
            if let Some(tx) = &state.answers {
                let _ = tx.send(Decision::Quit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pending_question_takes_an_answer() {
        let q = Questions::default();
        let rx = q.open();
        let first = q.ask();
        assert!(q.answer(first, Decision::Yes).is_ok());
        // The same question again (a second click, a replayed stream).
        assert!(q.answer(first, Decision::Yes).is_err());
        let second = q.ask();
        assert!(q.answer(first, Decision::All).is_err());
        assert!(q.answer(second, Decision::No).is_ok());
        assert_eq!(
            rx.try_iter().collect::<Vec<_>>(),
            [Decision::Yes, Decision::No]
        );
    }

    #[test]
    fn an_upload_folder_takes_files_up_to_its_limit() -> std::io::Result<()> {
        let folder = UploadFolder::new(tempfile::tempdir()?, 100);
        assert!(folder.reserve(60).is_ok());
        let refused = folder.reserve(41).expect_err("over the limit");
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!refused.message().contains("--"), "{}", refused.message());
        assert!(
            folder.reserve(40).is_ok(),
            "a refused file counts for nothing"
        );
        Ok(())
    }

    #[test]
    fn quit_answers_only_a_pending_question() {
        let q = Questions::default();
        let rx = q.open();
        q.quit();
        assert!(rx.try_recv().is_err(), "nothing was asked");
        q.ask();
        q.quit();
        assert_eq!(rx.try_recv().ok(), Some(Decision::Quit));
    }
}
