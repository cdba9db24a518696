//! Writing photos: upload + preview, import, remove, use existing HD.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use userphoto_bulk::ops::{ExistingHdError, SetOptions, WriteOptions};
use userphoto_bulk::prepare;
use userphoto_bulk::size_rule::{is_small_source, plan_targets};
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{PhotoSlot, User};
use userphoto_imaging::{CropBox, CropMode};

use super::{change_json, counterpart, counterparts, failure_json, resolve, wording};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Upload};

/// The side of the preview the page shows (the HD size).
const PREVIEW_SIZE: u32 = 648;

/// `POST /api/uploads` with the photo as the raw body: checks it is an
/// image within the limits, makes the cropped preview through the same
/// pipeline that writes it, and says which targets the size rule ticks.
pub(crate) async fn upload(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<Value>> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::too_large(state.options().max_upload_bytes),
        _ => AppError::bad_request("the photo could not be read from the request; try again"),
    })?;
    if body.is_empty() {
        return Err(AppError::bad_request("the upload is empty; choose a photo"));
    }
    let bytes = Arc::new(body.to_vec());
    let work = Arc::clone(&bytes);
    let seen = state
        .imaging(move || prepare::inspect(&work, PREVIEW_SIZE, CropMode::default()))
        .await??;
    let info = &seen.source;

    let candidates: Vec<(TargetKind, PhotoSlot)> = state
        .targets()
        .iter()
        .filter(|t| t.directory.capabilities().can_write)
        .map(|t| (t.kind, t.slot()))
        .collect();
    let plan = plan_targets(info.width, info.height, &candidates, false);
    let ticked: serde_json::Map<String, Value> = state
        .targets()
        .iter()
        .map(|t| {
            (
                t.kind.as_str().to_owned(),
                json!(plan.order.contains(&t.kind)),
            )
        })
        .collect();
    let words = wording(&state);
    let skipped: Vec<Value> = plan
        .skipped
        .iter()
        .map(|(k, why)| json!({"target": k.as_str(), "reason": words.reason(why), "code": why.code()}))
        .collect();
    // The preview is made at 648: "smaller than that" is the size rule's
    // business here (the results after writing say it per target).
    let (checks, warnings): (Vec<_>, Vec<_>) = seen
        .findings()
        .map(|(issue, text)| (*issue, text.clone()))
        .unzip();
    let report = &seen.report;
    let id = state.put_upload(Upload {
        bytes,
        preview: Arc::new(seen.jpeg.clone()),
    });
    Ok(Json(json!({
        "id": id,
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "small": is_small_source(info.width, info.height),
        "ticked": ticked,
        "skipped": skipped,
        // The square the pipeline chose (face framing when it finds a
        // face): the page shows it on the source and lets it be nudged.
        "crop": report.crop,
        "framing": report.framing,
        "faces": report.faces,
        "checks": checks,
        "warnings": warnings,
        "preview": format!("api/uploads/{id}/preview.jpg"),
    })))
}

/// A nudged crop square in the query (`?x=&y=&side=`), all or nothing.
#[derive(Debug, Deserialize)]
pub(crate) struct CropQuery {
    x: Option<f64>,
    y: Option<f64>,
    side: Option<f64>,
}

/// `GET /api/uploads/{id}/preview.jpg[?x=&y=&side=]`: the preview the
/// upload made (the pipeline's own framing), or — with a crop square —
/// the square the page's crop editor chose, made by the same pipeline
/// (`CropMode::Box`) the import will use.
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<CropQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let Query(q) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (bytes, preview) = state
        .upload(&id, |u| (Arc::clone(&u.bytes), Arc::clone(&u.preview)))
        .ok_or_else(|| AppError::not_found("this upload has expired; choose the photo again"))?;
    let jpeg = match (q.x, q.y, q.side) {
        (None, None, None) => preview.to_vec(),
        (Some(x), Some(y), Some(side)) => {
            let crop = CropMode::Box(CropBox { x, y, side });
            state
                .imaging(move || prepare::preview(&bytes, PREVIEW_SIZE, crop))
                .await??
        }
        _ => {
            return Err(AppError::bad_request(
                "a crop square needs x, y and side (in source pixels)",
            ))
        }
    };
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// The body of an import.
#[derive(Debug, Deserialize)]
pub(crate) struct ImportBody {
    source: Option<String>,
    upload: String,
    targets: Vec<String>,
    crop: Option<CropBox>,
}

/// `POST /api/users/{id}/import`: writes the upload to the ticked targets,
/// HD first, each current photo backed up (`ops::set_photo_many`).
pub(crate) async fn import(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ImportBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (source, user) = resolve(&state, body.source.as_deref(), &id).await?;
    let targets = chosen(&state, &body.targets)?;
    let bytes = state
        .upload(&body.upload, |u| Arc::clone(&u.bytes))
        .ok_or_else(|| AppError::not_found("this upload has expired; choose the photo again"))?;
    // The page sends the square it shows (the pipeline's framing, maybe
    // nudged); without one, the same framing the preview used.
    let options = SetOptions {
        crop: body.crop.map_or(CropMode::default(), CropMode::Box),
        ..SetOptions::default()
    };
    write(&state, source, &user, &targets, &bytes, &options).await
}

/// The body of a remove.
#[derive(Debug, Deserialize)]
pub(crate) struct RemoveBody {
    source: Option<String>,
    target: String,
}

/// `POST /api/users/{id}/remove`: removes the photo at one target, backed
/// up first (`ops::remove_photo`).
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<RemoveBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (source, user) = resolve(&state, body.source.as_deref(), &id).await?;
    let target = super::target(&state, &body.target)?;
    let at_target = counterpart(&state, source, &user, target).await?;
    let change = state
        .ops()
        .remove_photo_of(target, &at_target, &WriteOptions::default())
        .await
        .map_err(|e| AppError::ops(&e, &wording(&state)))?;
    Ok(Json(
        json!({"user": user.label(), "results": [change_json(&change, &wording(&state))]}),
    ))
}

/// The body of "use existing HD".
#[derive(Debug, Deserialize)]
pub(crate) struct SourceBody {
    source: Option<String>,
}

/// `POST /api/users/{id}/use-existing-hd`: the user's current HD photo
/// becomes their 96×96 at each Active Directory-sized target — the same
/// library call as `userphoto use-existing-hd` (`Ops::use_existing_hd`).
pub(crate) async fn use_existing_hd(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<SourceBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let Json(body) = body.map_err(|e| AppError::bad_request(e.body_text()))?;
    let (source, user) = resolve(&state, body.source.as_deref(), &id).await?;
    let hd = state
        .targets()
        .iter()
        .find(|t| t.slot() == PhotoSlot::Hd)
        .ok_or_else(|| AppError::not_found("no HD target (Microsoft 365, Exchange) is open"))?;
    let thumbs: Vec<&Target> = state
        .targets()
        .iter()
        .filter(|t| t.slot() == PhotoSlot::Thumbnail)
        .collect();
    if thumbs.is_empty() {
        return Err(AppError::not_found("no Active Directory target is open"));
    }
    let mut results = Vec::new();
    // The person as each target knows them (the listing source may be the
    // HD target).
    let found = counterparts(&state, source, &user, &thumbs).await;
    for (thumb, at_thumb) in thumbs.into_iter().zip(found) {
        let at_thumb = at_thumb?;
        match state
            .ops()
            .use_existing_hd(hd, thumb, &at_thumb, &SetOptions::default())
            .await
        {
            Ok(done) => results.push(change_json(&done.change, &wording(&state))),
            Err(ExistingHdError::Ops(e)) => {
                results.push(failure_json(thumb.kind, &e, &wording(&state)));
            }
            // No usable HD photo: the same for every target.
            Err(e) => {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "no-hd-photo",
                    e.to_string(),
                ))
            }
        }
    }
    let ok = results.iter().all(|r| r["status"] != "failed");
    Ok(Json(json!({
        "user": user.label(),
        "ok": ok,
        "results": results,
        "skipped": [],
    })))
}

/// The open targets named in `names`, refusing unknown ones.
fn chosen<'a>(state: &'a AppState, names: &[String]) -> AppResult<Vec<&'a Target>> {
    if names.is_empty() {
        return Err(AppError::bad_request(
            "no target is ticked; tick Replace 96×96 (AD) and/or Replace 648×648 (HD)",
        ));
    }
    names.iter().map(|n| super::target(state, n)).collect()
}

/// Writes `image` for `user` at `targets` through `ops::set_photo_many`
/// (explicit targets: the person ticked them), one result per target.
async fn write(
    state: &AppState,
    source: TargetKind,
    user: &User,
    targets: &[&Target],
    image: &[u8],
    options: &SetOptions,
) -> AppResult<Json<Value>> {
    let found = counterparts(state, source, user, targets).await;
    let owned: Vec<Target> = targets.iter().map(|t| (*t).clone()).collect();
    let wording = wording(state);
    let run = state
        .ops()
        .set_photo_to(&owned, found, true, image, options)
        .await
        .map_err(|e| AppError::ops(&e, &wording))?;
    let results: Vec<Value> = run
        .results
        .into_iter()
        .map(|(kind, result)| match result {
            Ok(change) => change_json(&change, &wording),
            Err(e) => failure_json(kind, &e, &wording),
        })
        .collect();
    let ok = results.iter().all(|r| r["status"] != "failed");
    Ok(Json(json!({
        "user": user.label(),
        "ok": ok,
        "results": results,
        "skipped": run.skipped.iter().map(|(k, why)| json!({"target": k.as_str(), "reason": wording.reason(why), "code": why.code()})).collect::<Vec<_>>(),
    })))
}
