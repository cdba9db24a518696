//! `GET /api/session`: what the page needs to start — its CSRF token, the
//! mode, the targets (one pane each) and where users can be listed from.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{kind_title, target_label};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The session's CSRF token and the server's shape.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<Value>> {
    let csrf = session_csrf(&state, &headers).ok_or_else(AppError::unauthorized)?;
    let targets: Vec<Value> = state
        .targets()
        .iter()
        .map(|t| {
            let caps = t.directory.capabilities();
            json!({
                "kind": t.kind.as_str(),
                "slot": caps.slot.as_str(),
                "label": target_label(t.kind, caps.slot),
                "title": kind_title(t.kind),
                "size": t.photo_size,
                "description": t.directory.to_string(),
                "can_write": caps.can_write,
                "can_delete": caps.can_delete,
                "listing_attribute": caps.listing_attribute,
                "state": "ok",
            })
        })
        .chain(state.unavailable().iter().map(|u| {
            json!({
                "kind": u.kind.as_str(),
                "slot": u.kind.default_slot().as_str(),
                "label": target_label(u.kind, u.kind.default_slot()),
                "title": kind_title(u.kind),
                "size": u.kind.default_slot().default_pixels(),
                "state": "not-accessible",
                "reason": u.reason,
                "can_write": false,
                "can_delete": false,
            })
        }))
        .collect();
    Ok(Json(json!({
        "csrf": csrf,
        "demo": state.is_demo(),
        "mode": state.mode().as_str(),
        "targets": targets,
        "sources": state.sources().iter().map(|k| json!({"kind": k.as_str(), "title": kind_title(*k)})).collect::<Vec<_>>(),
        "max_upload_bytes": state.options().max_upload_bytes,
        "folder_import": state.targets().iter().any(|t| t.directory.capabilities().can_write),
        "sample_folder": state.options().sample_folder,
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// The CSRF token of the request's session.
fn session_csrf(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = state.cookie_name();
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| state.session_csrf(v))
}
