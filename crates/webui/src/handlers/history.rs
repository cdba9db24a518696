//! One user's history: the backups held and the audit lines, and
//! "Restore this one" — the same backup → write → audit path as
//! `userphoto restore` (`Ops::restore`).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use userphoto_bulk::history::{self, Who};
use userphoto_bulk::ops::WriteOptions;
use userphoto_directory::config::Target;
use userphoto_directory::User;

use super::{change_json, counterparts, failure_json, resolve, wording};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The person `id` (at the listing `source`) as each open target knows
/// them: the (target, id) pairs the backups and audit lines name.
async fn who(state: &AppState, source: Option<&str>, id: &str) -> AppResult<(User, Vec<Who>)> {
    let (source_kind, user) = resolve(state, source, id).await?;
    let targets: Vec<&Target> = state.targets().iter().collect();
    let found = counterparts(state, source_kind, &user, &targets).await;
    let who = targets
        .iter()
        .zip(found)
        .filter_map(|(t, u)| {
            u.ok().map(|u| Who {
                target: t.kind.as_str().to_owned(),
                user_id: u.id,
            })
        })
        .collect();
    Ok((user, who))
}

fn history_error(e: impl std::fmt::Display) -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "history",
        format!("the backups or the audit log cannot be read: {e}"),
    )
}

/// `?source=`
#[derive(Debug, Deserialize)]
pub(crate) struct SourceParam {
    source: Option<String>,
}

/// `GET /api/users/{id}/history`: the backups held of this user's photos
/// (date, target, why kept) and the audit lines about them, newest first.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SourceParam>,
) -> AppResult<Json<Value>> {
    let (_, who) = who(&state, q.source.as_deref(), &id).await?;
    let ops = state.ops().clone();
    let found =
        tokio::task::spawn_blocking(move || history::for_user(ops.backups(), ops.audit(), &who))
            .await
            .map_err(AppError::internal)?
            .map_err(history_error)?;
    Ok(Json(json!({
        "kept": state.ops().backups().is_some(),
        "backups": found.backups.iter().map(|b| json!({
            "time": b.time,
            "target": b.target,
            "reason": b.reason,
            "bytes": b.bytes,
            "sha256": b.sha256,
            "path": b.path,
        })).collect::<Vec<_>>(),
        "audit": found.audit.iter().map(|a| json!({
            "time": a.time,
            "target": a.target,
            "action": a.action,
            "identity": a.identity,
            "old_sha256": a.old_sha256,
            "new_sha256": a.new_sha256,
            "backup": a.backup,
        })).collect::<Vec<_>>(),
    })))
}

/// `?source=&path=`
#[derive(Debug, Deserialize)]
pub(crate) struct BackupParam {
    source: Option<String>,
    path: String,
}

/// `GET /api/users/{id}/backup?path=`: one of this user's backups (only
/// theirs, named by its manifest path), checked against its digest.
pub(crate) async fn photo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BackupParam>,
) -> AppResult<Response> {
    let (_, who) = who(&state, q.source.as_deref(), &id).await?;
    let ops = state.ops().clone();
    let photo = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let store = ops
            .backups()
            .ok_or_else(|| AppError::not_found("no backups are kept"))?;
        let set = history::open_backups(store)
            .map_err(history_error)?
            .ok_or_else(|| AppError::not_found("no backups are kept yet"))?;
        let record = history::find(&set, &who, &q.path)
            .ok_or_else(|| AppError::not_found("that backup is not one of this user's"))?;
        set.read_photo(record).map_err(history_error)
    })
    .await
    .map_err(AppError::internal)??;
    Ok((
        [(header::CONTENT_TYPE, photo.content_type())],
        photo.bytes().to_vec(),
    )
        .into_response())
}

/// `{source, path}`
#[derive(Debug, Deserialize)]
pub(crate) struct RestoreBody {
    source: Option<String>,
    path: String,
}

/// `POST /api/users/{id}/restore`: puts one of this user's backups back at
/// its target, the current photo backed up first and the change audited —
/// `Ops::restore`, as `userphoto restore` does.
pub(crate) async fn restore(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<RestoreBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (user, who) = who(&state, body.source.as_deref(), &id).await?;
    let ops = state.ops().clone();
    let path = body.path.clone();
    let (set, record) = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let store = ops
            .backups()
            .ok_or_else(|| AppError::not_found("no backups are kept"))?;
        let set = history::open_backups(store)
            .map_err(history_error)?
            .ok_or_else(|| AppError::not_found("no backups are kept yet"))?;
        let record = history::find(&set, &who, &path)
            .cloned()
            .ok_or_else(|| AppError::not_found("that backup is not one of this user's"))?;
        Ok((set, record))
    })
    .await
    .map_err(AppError::internal)??;
    let target = super::target(&state, &record.target)?;
    let words = wording(&state);
    let result = match state
        .ops()
        .restore(target, &set, &record, &WriteOptions::default())
        .await
    {
        Ok(change) => change_json(&change, &words),
        Err(e) => failure_json(target.kind, &e, &words),
    };
    Ok(Json(json!({
        "user": user.label(),
        "ok": result["status"] != "failed",
        "restored": record.time,
        "results": [result],
        "skipped": [],
    })))
}
