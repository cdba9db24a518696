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
//! | GET | `/api/imports/interrupted` | imports that stopped before their end (carry on) |
//! | POST | `/api/imports/resume` | `{folder}` → the interrupted import's plan, to carry on |
//! | POST | `/api/imports/{id}/start` | `{confirm}` → runs it |
//! | GET | `/api/imports/{id}/events` | SSE: engine events, `confirm` questions, `report-ready` |
//! | POST | `/api/imports/{id}/decide` | `{decision: yes/no/all/quit}` |
//! | POST | `/api/imports/{id}/stop` | stop starting new writes |
//! | GET | `/api/imports/{id}/report` | the run's report (JSON) |
//! | GET | `/api/imports/{id}/preview?file=` | a planned file, prepared 648×648 |

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use userphoto_bulk::import::{
    ConfirmRequest, Confirmer, Decision, Event, ImportOptions, ImportSession, NoReporter, Plan,
    Reporter, RunHooks,
};
use userphoto_bulk::wording::Wording;
use userphoto_directory::config::Target;

use super::upload_path::relative_upload_path;
use crate::error::{AppError, AppResult};
use crate::import_jobs::{FeedEvent, Job};
use crate::state::AppState;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `POST /api/folders`: a new, empty folder on the server for the files
/// of a folder chosen in the browser (directory upload).
pub(crate) async fn new_folder(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let id = state.jobs().new_folder()?;
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
    // Held until the file is written: a folder let go meanwhile (a fifth
    // upload) is deleted only after this, never re-made half-empty.
    let folder = state.jobs().folder(&id)?;
    folder.reserve(body.len() as u64)?;
    let path = folder.path().join(relative);
    if let Some(parent) = path.parent() {
        // A fresh temporary folder the server made: nothing in it but what
        // was uploaded, so no link can lead outside it.
        crate::local_files::create_dir_all(parent).await.map_err(|_| {
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
    crate::local_files::write(&path, &body)
        .await
        .map_err(AppError::internal)?;
    Ok(Json(json!({"name": name, "bytes": body.len()})))
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
    let upload = match &body.upload {
        Some(id) => Some(state.jobs().folder(id)?),
        None => None,
    };
    let folder = match &upload {
        Some(dir) => dir.path().to_path_buf(),
        None => std::path::PathBuf::from(body.folder.trim()),
    };
    if !folder.is_dir() {
        return Err(AppError::bad_request(format!(
            "{} is not a folder on this computer; give the full path of the folder of photos",
            folder.display()
        )));
    }
    let options = ImportOptions {
        // An uploaded folder came with its subfolders (the browser sends
        // them all): plan it as `import -r` would.
        recursive: body.recursive || body.upload.is_some(),
        match_order: state.ops().match_order().to_vec(),
        ..ImportOptions::new(&folder)
    }
    // A person reviews this plan before running it: the same planning as
    // `import --dry-run` (damaged files are errors, quality findings and
    // what each target holds are shown before anyone confirms).
    .reviewed();
    let targets: Vec<Target> = state
        .targets()
        .iter()
        .filter(|t| t.directory.capabilities().can_write)
        .cloned()
        .collect();
    let session = Arc::new(ImportSession::open(
        state.import_state_dir().map_err(AppError::internal)?,
        &folder,
        targets,
        state.ops().clone(),
    ));
    // The planner's future is not provably `Send` (a compiler limitation
    // with its closures), so it runs on the blocking pool, driven by the
    // runtime's handle.
    let handle = tokio::runtime::Handle::current();
    let planning = Arc::clone(&session);
    let wording = super::wording(&state);
    let plan =
        tokio::task::spawn_blocking(move || handle.block_on(planning.plan(&options, &NoReporter)))
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::new(StatusCode::CONFLICT, "import", wording.import_error(&e)))?;
    let interrupted = session.is_interrupted();
    let answer = plan_json(&plan, &wording);
    let id = state
        .jobs()
        .insert(Job::new(plan, session, false, upload))?;
    Ok(Json(json!({
        "id": id,
        "folder": answer["folder"],
        "counts": answer["counts"],
        "rows": answer["rows"],
        // An earlier import of this folder stopped before its end: the page
        // offers to carry it on instead.
        "interrupted": interrupted,
    })))
}

/// A plan as the page shows it: its folder, counts and rows, each reason
/// in the page's words with its code.
fn plan_json(plan: &Plan, wording: &Wording) -> Value {
    json!({
        "folder": plan.folder,
        "counts": plan.counts(),
        "rows": wording.plan_rows(plan),
    })
}

/// `GET /api/imports/interrupted`: imports kept in the state folder that
/// stopped before their end (the server was stopped, the page was closed
/// mid-run, a write failed), whose folder is still there.
pub(crate) async fn interrupted(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let dir = state.import_state_dir().map_err(AppError::internal)?;
    let found = tokio::task::spawn_blocking(move || ImportSession::interrupted(&dir))
        .await
        .map_err(AppError::internal)?;
    let imports: Vec<Value> = found
        .into_iter()
        .filter(|i| i.folder.is_dir())
        .map(|i| {
            json!({
                "folder": i.folder,
                "targets": i.targets,
                "writes": i.writes,
                "done": i.done,
            })
        })
        .collect();
    Ok(Json(json!({"imports": imports})))
}

/// `{folder}`
#[derive(Debug, Deserialize)]
pub(crate) struct ResumeBody {
    folder: String,
}

/// `POST /api/imports/resume`: the interrupted import of `folder` as a job
/// to start: its saved plan, of which the done rows are not done again.
pub(crate) async fn resume(
    State(state): State<AppState>,
    body: Result<Json<ResumeBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let folder = std::path::PathBuf::from(body.folder.trim());
    let dir = state.import_state_dir().map_err(AppError::internal)?;
    let wanted = {
        let dir = dir.clone();
        let folder = folder.clone();
        tokio::task::spawn_blocking(move || {
            let canonical = std::fs::canonicalize(&folder).unwrap_or(folder);
            ImportSession::interrupted(&dir)
                .into_iter()
                .find(|i| i.folder == canonical)
        })
        .await
        .map_err(AppError::internal)?
    };
    let Some(wanted) = wanted else {
        return Err(AppError::not_found(
            "there is no interrupted import of that folder to carry on; plan it again",
        ));
    };
    let targets: Vec<Target> = wanted
        .targets
        .iter()
        .filter_map(|k| state.target(*k).cloned())
        .collect();
    if targets.len() != wanted.targets.len() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "target-missing",
            "a target of the interrupted import is not open now; open it (check userphoto.toml) and try again, or plan the folder again",
        ));
    }
    let session = Arc::new(ImportSession::open(
        dir,
        &wanted.folder,
        targets,
        state.ops().clone(),
    ));
    let plan = Plan::load(&session.run_state().plan_path())
        .map_err(|e| AppError::new(StatusCode::CONFLICT, "import", e.to_string()))?;
    let wording = super::wording(&state);
    let answer = plan_json(&plan, &wording);
    let id = state.jobs().insert(Job::new(plan, session, true, None))?;
    Ok(Json(json!({
        "id": id,
        "folder": answer["folder"],
        "counts": answer["counts"],
        "rows": answer["rows"],
        "resumed": true,
        "done": wanted.done,
        "writes": wanted.writes,
    })))
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
    // Journalled like `userphoto import`: the plan is saved and each write
    // recorded, so a stopped server leaves an import the page can carry on.
    let pending = if job.resume {
        job.session.resume()
    } else {
        job.session.start(job.plan.clone())
    }
    .map_err(|e| {
        job.started.store(false, Ordering::SeqCst);
        AppError::new(StatusCode::CONFLICT, "import", e.to_string())
    })?;
    // The report's sentences in the page's words, as the plan's were.
    let wording = super::wording(&state);
    let confirmer: Option<Arc<dyn Confirmer>> = body.confirm.then(|| {
        let answers = job.questions.open();
        Arc::new(WebConfirmer {
            job: Arc::clone(&job),
            answers: Mutex::new(answers),
        }) as Arc<dyn Confirmer>
    });
    let hooks = RunHooks {
        reporter: Arc::new(WebReporter {
            job: Arc::clone(&job),
            wording: wording.clone(),
        }),
        cancel: job.cancel.clone(),
        confirmer,
        ..RunHooks::default()
    };
    let run = Arc::clone(&job);
    let running = tokio::spawn(async move {
        let mut report = run
            .session
            .run(pending, hooks)
            .await
            .map_err(|e| e.to_string())?;
        report.word(&|r| wording.reason(r));
        let summary = report.summary.clone();
        *lock(&run.report) = Some(report);
        Ok::<_, String>(summary)
    });
    // The page waits for `report-ready`: it comes even if the run panics.
    tokio::spawn(async move {
        let end = match running.await {
            Ok(Ok(summary)) => json!({"type": "report-ready", "summary": summary}),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a folder import's journal could not be closed");
                json!({
                    "type": "report-ready",
                    "summary": null,
                    "error": "the import ran, but its journal could not be closed; what it wrote is in the audit log",
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "a folder import stopped");
                json!({
                    "type": "report-ready",
                    "summary": null,
                    "error": "the import stopped unexpectedly; what it wrote is in the audit log, and the server's log says why",
                })
            }
        };
        job.feed.finish(&end);
    });
    Ok(Json(json!({"id": id, "started": true})))
}

/// `GET /api/imports/{id}/events`: everything so far (after
/// `Last-Event-ID`, which a reconnecting `EventSource` sends), then live,
/// until `report-ready`.
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let job = state.jobs().get(&id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let (past, live) = job.feed.subscribe(after);
    let future = stream::unfold(live, |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Ok(event) => {
                let next = (!event.last).then_some(rx);
                Some((event, next))
            }
            // Fallen behind, or the job is gone: end the stream; the page
            // reconnects and gets the rest from the history.
            Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => {
                None
            }
        }
    });
    let stream = stream::iter(past)
        .chain(future)
        .map(|e: FeedEvent| Ok(SseEvent::default().id(e.id.to_string()).data(&*e.text)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `{decision}`
#[derive(Debug, Deserialize)]
pub(crate) struct DecideBody {
    decision: String,
    /// The number of the `confirm` event answered.
    question: u64,
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
    job.questions.answer(body.question, decision)?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /api/imports/{id}/stop`
pub(crate) async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let job = state.jobs().get(&id)?;
    job.cancel.cancel();
    job.questions.quit();
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
    let crop = job.plan.crop;
    let limit = state.options().max_upload_bytes.max(50 * 1024 * 1024);
    let jpeg = state
        .imaging(move || -> AppResult<Vec<u8>> {
            let meta = std::fs::metadata(&path)
                .map_err(|_| AppError::not_found("the file is no longer there"))?;
            if meta.len() as usize > limit {
                return Err(AppError::too_large(limit));
            }
            let bytes =
                std::fs::read(&path).map_err(|_| AppError::not_found("the file cannot be read"))?;
            Ok(userphoto_bulk::prepare::preview(&bytes, 648, crop)?)
        })
        .await??;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// Forwards the engine's events to the job's feed, rows worded for the
/// page.
struct WebReporter {
    job: Arc<Job>,
    wording: Wording,
}

impl Reporter for WebReporter {
    fn event(&self, event: &Event) {
        let worded;
        let event = match event {
            Event::Item(item) => {
                worded = Event::Item(self.wording.item(item.clone()));
                &worded
            }
            other => other,
        };
        match serde_json::to_value(event) {
            Ok(v) => self.job.feed.push(&v),
            Err(e) => tracing::warn!(error = %e, "import event not serialisable"),
        }
    }
}

/// How long a "Confirm each" question waits for an answer before the run
/// stops (the page was closed, or the person left).
const CONFIRM_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// Puts each question on the feed and waits for the page's answer.
struct WebConfirmer {
    job: Arc<Job>,
    answers: Mutex<mpsc::Receiver<Decision>>,
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
        let question = self.job.questions.ask();
        self.job.feed.push(&json!({
            "type": "confirm",
            "question": question,
            "file": request.file,
            "user": request.user,
            "user_id": user_id,
            "display_name": request.display_name,
            "targets": targets,
        }));
        let rx = lock(&self.answers);
        let asked = std::time::Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(d) => return d,
                // A page closed mid-question must not hold the run (and a
                // thread) forever: after this long it stops, as Stop would.
                Err(mpsc::RecvTimeoutError::Timeout) if asked.elapsed() > CONFIRM_PATIENCE => {
                    self.job.cancel.cancel();
                    self.job.questions.quit();
                    return Decision::Quit;
                }
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
