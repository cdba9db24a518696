//! Folder import: the plan (`import --dry-run`'s), then a run with live
//! progress over server-sent events, "Confirm each" answered from the
//! page, and the report to download. The engine is
//! `userphoto_bulk::import` — the same one `userphoto import` drives.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/api/folders` | a server-side folder for a folder chosen in the browser |
//! | POST | `/api/folders/{id}/files?name=` | one of its files (raw body), `name` its path in the folder (`sub/a.jpg`) |
//! | POST | `/api/imports` | `{folder, recursive}` or `{upload}` → the plan (rows, counts) |
//! | POST | `/api/imports/{id}/start` | `{confirm}` → runs it |
//! | GET | `/api/imports/{id}/events` | SSE: engine events, `confirm` questions, `report-ready` |
//! | POST | `/api/imports/{id}/decide` | `{decision: yes/no/all/quit}` |
//! | POST | `/api/imports/{id}/stop` | stop starting new writes |
//! | GET | `/api/imports/{id}/report` | the run's report (JSON) |
//! | GET | `/api/imports/{id}/preview?file=` | a planned file, prepared 648×648 |

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use userphoto_bulk::import::{
    build_plan, CancelToken, ConfirmRequest, Confirmer, Decision, Event, ExecuteOptions, Executor,
    ImportOptions, NoReporter, Plan, PreparedCache, Reporter, RunReport,
};

use super::upload_path::relative_upload_path;
use crate::error::{AppError, AppResult};
use crate::state::{random_token, AppState};

/// The imports of this server, by id, and the folders uploaded for them.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    folders: Mutex<Vec<(String, tempfile::TempDir)>>,
}

/// How many uploaded folders are kept (the oldest is deleted beyond that).
const MAX_FOLDERS: usize = 4;

/// One planned (and maybe running) import.
#[derive(Debug)]
pub(crate) struct Job {
    plan: Plan,
    cache: Arc<PreparedCache>,
    started: AtomicBool,
    cancel: CancelToken,
    feed: Feed,
    decisions: Mutex<Option<mpsc::Sender<Decision>>>,
    report: Mutex<Option<RunReport>>,
}

/// The job's events: every one kept (late subscribers get them all) and
/// broadcast to live ones.
#[derive(Debug)]
struct Feed {
    history: Mutex<Vec<String>>,
    live: broadcast::Sender<String>,
}

impl Feed {
    fn push(&self, event: &Value) {
        let text = event.to_string();
        let mut history = lock(&self.history);
        history.push(text.clone());
        let _ = self.live.send(text);
    }

    fn subscribe(&self) -> (Vec<String>, broadcast::Receiver<String>) {
        let history = lock(&self.history);
        (history.clone(), self.live.subscribe())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Jobs {
    fn get(&self, id: &str) -> AppResult<Arc<Job>> {
        lock(&self.jobs)
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::not_found("no such import; plan it again"))
    }
}

/// `POST /api/folders`: a new, empty folder on the server for the files
/// of a folder chosen in the browser (directory upload).
pub(crate) async fn new_folder(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let dir = tempfile::Builder::new()
        .prefix("userphoto-upload-")
        .tempdir()
        .map_err(AppError::internal)?;
    let id = random_token();
    let mut folders = lock(&state.jobs().folders);
    if folders.len() >= MAX_FOLDERS {
        folders.remove(0);
    }
    folders.push((id.clone(), dir));
    Ok(Json(json!({"id": id})))
}

/// `?name=`
#[derive(Debug, Deserialize)]
pub(crate) struct NameParam {
    name: String,
}

/// `POST /api/folders/{id}/files?name=`: one file (raw body) into an
/// uploaded folder, at its relative path there (checked by
/// [`relative_upload_path`]), so subfolders are kept as `import -r` sees them.
pub(crate) async fn put_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<NameParam>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> AppResult<Json<Value>> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::too_large(state.options().max_upload_bytes),
        _ => AppError::bad_request("the file could not be read from the request; try again"),
    })?;
    let name = q.name.as_str();
    let relative = relative_upload_path(name).map_err(AppError::bad_request)?;
    let path = upload_folder(&state, &id)?.join(relative);
    if let Some(parent) = path.parent() {
        // A fresh temporary folder the server made: nothing in it but what
        // was uploaded, so no link can lead outside it.
        tokio::fs::create_dir_all(parent).await.map_err(|_| {
            AppError::bad_request(format!(
                "{name:?} cannot be placed: a file of the upload already has the name of one of its folders"
            ))
        })?;
    }
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
        return Err(AppError::bad_request(format!(
            "{name:?} cannot be placed: a folder of the upload already has that name"
        )));
    }
    tokio::fs::write(&path, &body)
        .await
        .map_err(AppError::internal)?;
    Ok(Json(json!({"name": name, "bytes": body.len()})))
}

fn upload_folder(state: &AppState, id: &str) -> AppResult<std::path::PathBuf> {
    lock(&state.jobs().folders)
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, d)| d.path().to_path_buf())
        .ok_or_else(|| AppError::not_found("that uploaded folder has expired; choose it again"))
}

/// `{folder, recursive}` or `{upload}` (an uploaded folder's id)
#[derive(Debug, Deserialize)]
pub(crate) struct PlanBody {
    #[serde(default)]
    folder: String,
    upload: Option<String>,
    #[serde(default)]
    recursive: bool,
}

/// `POST /api/imports`: matches the folder's files to users and plans.
pub(crate) async fn plan(
    State(state): State<AppState>,
    body: Result<Json<PlanBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let folder = match &body.upload {
        Some(id) => upload_folder(&state, id)?,
        None => std::path::PathBuf::from(body.folder.trim()),
    };
    if !folder.is_dir() {
        return Err(AppError::bad_request(format!(
            "{} is not a folder on this computer; give the full path of the folder of photos",
            folder.display()
        )));
    }
    let mut options = ImportOptions::new(folder);
    // An uploaded folder came with its subfolders (the browser sends them
    // all): plan it as `import -r` would.
    options.recursive = body.recursive || body.upload.is_some();
    // A person reviews this plan before running it: show now who has no
    // mailbox and what each target holds, as `import --dry-run` does.
    options.read_current = true;
    // Reasons in the page's words: its names for targets, no flags.
    let wording = super::wording(&state);
    options.wording = wording.clone();
    let targets: Vec<_> = state
        .targets()
        .iter()
        .filter(|t| t.directory.capabilities().can_write)
        .cloned()
        .collect();
    let cache = Arc::new(PreparedCache::in_memory());
    // The planner's future is not provably `Send` (a compiler limitation
    // with its closures), so it runs on the blocking pool, driven by the
    // runtime's handle.
    let handle = tokio::runtime::Handle::current();
    let planning = Arc::clone(&cache);
    let plan = tokio::task::spawn_blocking(move || {
        handle.block_on(build_plan(&options, &targets, &planning, &NoReporter))
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| AppError::new(StatusCode::CONFLICT, "import", wording.import_error(&e)))?;
    let id = random_token();
    let rows = plan.rows();
    let counts = plan.counts();
    let (live, _) = broadcast::channel(256);
    let job = Arc::new(Job {
        plan,
        cache,
        started: AtomicBool::new(false),
        cancel: CancelToken::new(),
        feed: Feed {
            history: Mutex::new(Vec::new()),
            live,
        },
        decisions: Mutex::new(None),
        report: Mutex::new(None),
    });
    lock(&state.jobs().jobs).insert(id.clone(), job);
    Ok(Json(json!({"id": id, "counts": counts, "rows": rows})))
}

/// `{confirm}`
#[derive(Debug, Deserialize)]
pub(crate) struct StartBody {
    #[serde(default)]
    confirm: bool,
}

/// `POST /api/imports/{id}/start`: runs the plan in the background.
pub(crate) async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let job = state.jobs().get(&id)?;
    if job.started.swap(true, Ordering::SeqCst) {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "started",
            "this import has already run; plan it again to run it again",
        ));
    }
    let targets: Vec<_> = state
        .targets()
        .iter()
        .filter(|t| job.plan.targets.contains(&t.kind))
        .cloned()
        .collect();
    // The report's sentences in the page's words, as the plan's were.
    let options = ExecuteOptions {
        wording: super::wording(&state),
        ..ExecuteOptions::default()
    };
    let mut executor = Executor::new(targets, state.ops().clone())
        .with_options(options)
        .with_cache(Arc::clone(&job.cache))
        .with_cancel(job.cancel.clone())
        .with_reporter(Arc::new(WebReporter(Arc::clone(&job))));
    if body.confirm {
        let (tx, rx) = mpsc::channel();
        *lock(&job.decisions) = Some(tx);
        executor = executor.with_confirmer(Arc::new(WebConfirmer {
            job: Arc::clone(&job),
            decisions: Mutex::new(rx),
        }));
    }
    let run = Arc::clone(&job);
    tokio::spawn(async move {
        let report = executor.run(&run.plan).await;
        let summary = report.summary.clone();
        *lock(&run.report) = Some(report);
        run.feed
            .push(&json!({"type": "report-ready", "summary": summary}));
    });
    Ok(Json(json!({"id": id, "started": true})))
}

/// `GET /api/imports/{id}/events`: everything so far, then live.
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let job = state.jobs().get(&id)?;
    let (history, live) = job.feed.subscribe();
    let done = history.iter().any(|e| e.contains("\"report-ready\""));
    let past = stream::iter(history);
    let future = stream::unfold((live, done), |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(text) => {
                    let end = text.contains("\"report-ready\"");
                    return Some((text, (rx, end)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let stream = past
        .chain(future)
        .map(|text| Ok(SseEvent::default().data(text)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `{decision}`
#[derive(Debug, Deserialize)]
pub(crate) struct DecideBody {
    decision: String,
}

/// `POST /api/imports/{id}/decide`: the answer to the pending question.
pub(crate) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<DecideBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let decision = match body.decision.as_str() {
        "yes" => Decision::Yes,
        "no" => Decision::No,
        "all" => Decision::All,
        "quit" => Decision::Quit,
        other => {
            return Err(AppError::bad_request(format!(
                "{other:?} is not a decision; use yes, no, all or quit"
            )))
        }
    };
    let job = state.jobs().get(&id)?;
    let sent = lock(&job.decisions)
        .as_ref()
        .is_some_and(|tx| tx.send(decision).is_ok());
    if !sent {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "not-asking",
            "this import is not waiting for a decision",
        ));
    }
    Ok(Json(json!({"ok": true})))
}

/// `POST /api/imports/{id}/stop`
pub(crate) async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let job = state.jobs().get(&id)?;
    job.cancel.cancel();
    if let Some(tx) = lock(&job.decisions).as_ref() {
        let _ = tx.send(Decision::Quit);
    }
    Ok(Json(json!({"ok": true})))
}

/// `GET /api/imports/{id}/report`: the report as a JSON download.
pub(crate) async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let job = state.jobs().get(&id)?;
    let report = lock(&job.report).clone().ok_or_else(|| {
        AppError::new(
            StatusCode::CONFLICT,
            "running",
            "the import has not finished yet",
        )
    })?;
    let body = serde_json::to_vec_pretty(&report).map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"userphoto-import-report.json\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// `?file=`
#[derive(Debug, Deserialize)]
pub(crate) struct FileParam {
    file: String,
}

/// `GET /api/imports/{id}/preview?file=`: a file of the plan (only those),
/// prepared as it will be written.
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<FileParam>,
) -> AppResult<Response> {
    let job = state.jobs().get(&id)?;
    let entry = job
        .plan
        .entries
        .iter()
        .find(|e| e.relative == q.file)
        .ok_or_else(|| AppError::not_found("that file is not in this import"))?;
    let path = entry.file.clone();
    let limit = state.options().max_upload_bytes.max(50 * 1024 * 1024);
    let jpeg = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let meta = std::fs::metadata(&path)
            .map_err(|_| AppError::not_found("the file is no longer there"))?;
        if meta.len() as usize > limit {
            return Err(AppError::too_large(limit));
        }
        let bytes =
            std::fs::read(&path).map_err(|_| AppError::not_found("the file cannot be read"))?;
        let options = userphoto_imaging::PrepareOptions::sizes(&[648]);
        let prepared = userphoto_imaging::prepare(&bytes, &options)?;
        prepared
            .photos
            .into_iter()
            .next()
            .map(|p| p.jpeg)
            .ok_or_else(|| AppError::internal("no preview was made"))
    })
    .await
    .map_err(AppError::internal)??;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// Forwards the engine's events to the job's feed.
struct WebReporter(Arc<Job>);

impl Reporter for WebReporter {
    fn event(&self, event: &Event) {
        match serde_json::to_value(event) {
            Ok(v) => self.0.feed.push(&v),
            Err(e) => tracing::warn!(error = %e, "import event not serialisable"),
        }
    }
}

/// Puts each question on the feed and waits for the page's answer.
struct WebConfirmer {
    job: Arc<Job>,
    decisions: Mutex<mpsc::Receiver<Decision>>,
}

impl Confirmer for WebConfirmer {
    fn confirm(&self, request: &ConfirmRequest) -> Decision {
        let user_id = self
            .job
            .plan
            .entries
            .iter()
            .find(|e| e.relative == request.file)
            .and_then(|e| e.steps.iter().find_map(|s| s.user.as_ref()))
            .map(|u| u.id.clone());
        let targets: Vec<Value> = request
            .targets
            .iter()
            .map(|(kind, current, new)| {
                json!({"target": kind.as_str(), "current_bytes": current, "new_bytes": new})
            })
            .collect();
        self.job.feed.push(&json!({
            "type": "confirm",
            "file": request.file,
            "user": request.user,
            "user_id": user_id,
            "display_name": request.display_name,
            "targets": targets,
        }));
        let rx = lock(&self.decisions);
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(d) => return d,
                Err(mpsc::RecvTimeoutError::Timeout) if !self.job.cancel.is_cancelled() => {}
                Err(_) => return Decision::Quit,
            }
        }
    }
}

impl std::fmt::Debug for WebReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebReporter")
    }
}
