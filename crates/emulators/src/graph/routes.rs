//! The emulated Graph endpoints: users (paged, filtered, selected) and
//! profile photos (metadata, `$value`, size variants, PUT, DELETE).
//!
//! Why a module of its own: these are the documented request/response
//! shapes the backend depends on; keeping them apart from the knobs and
//! the token endpoint makes each handler a short, readable statement of
//! what Graph answers.
//!
//! Size variants: the emulator stores the photo as uploaded and serves the
//! same bytes for every documented size (48 … 648); real Graph scales
//! them. The backend only ever asks for the photo itself and the 648.

// Early exits carry the finished `Response`; boxing it would only add
// noise to a test double that is never on a hot path.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::auth::check_bearer;
use super::knobs::EmulatedUser;
use super::odata::{self, graph_error, retry_later};
use super::state::PhotoState;
use super::Shared;

/// The sizes Graph documents for `/photos/{size}`.
const SIZES: [u32; 9] = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/// Auth, throttle and fault dice, in that order, before any handler runs.
/// A request refused here changes nothing.
fn gate(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    check_bearer(shared, headers)?;
    let mut inner = shared.lock();
    if !inner.knobs.admin_consent {
        // A token without roles: Graph refuses everything.
        return Err(forbidden());
    }
    inner.stats.requests += 1;
    let now = Instant::now();
    let as_date = inner.knobs.retry_after_as_date;
    if let Some(bucket) = inner.bucket.as_mut() {
        if let Err(wait) = bucket.take(now) {
            inner.stats.throttled += 1;
            return Err(retry_later(StatusCode::TOO_MANY_REQUESTS, wait, as_date));
        }
    }
    let after = inner.knobs.fault_retry_after;
    let (p429, p503) = (inner.knobs.random_429_rate, inner.knobs.random_503_rate);
    let roll = inner.dice.roll();
    if roll < p429 {
        inner.stats.injected_429 += 1;
        return Err(retry_later(StatusCode::TOO_MANY_REQUESTS, after, as_date));
    }
    if roll < p429 + p503 {
        inner.stats.injected_503 += 1;
        // Graph's 503s do not always say when to come back: these do not,
        // so clients must fall back to their own backoff.
        return Err(odata::graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please try again later.",
        ));
    }
    Ok(())
}

fn user_not_found(key: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn user_json(u: &EmulatedUser, select: Option<&[String]>) -> Value {
    let all = json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "mail": u.mail,
        "mailNickname": u.mail_nickname,
        "displayName": u.display_name,
        "onPremisesSamAccountName": u.on_premises_sam_account_name,
        "employeeId": u.employee_id,
        "accountEnabled": u.account_enabled,
    });
    let Some(select) = select else { return all };
    let mut out = Map::new();
    if let Value::Object(map) = all {
        for (k, v) in map {
            if k == "id" || select.iter().any(|s| s.eq_ignore_ascii_case(&k)) {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// What a page request asks for; also what `$skiptoken` carries.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    offset: usize,
    top: usize,
    filter: Option<String>,
    select: Option<String>,
}

/// `GET /v1.0/users`.
pub(crate) async fn list_users(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let cursor = match q.get("$skiptoken") {
        Some(token) => match b64
            .decode(token)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        {
            Some(c) => c,
            None => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            }
        },
        None => {
            let top = match q.get("$top").map(|t| t.parse::<usize>()) {
                None => 100,
                Some(Ok(t)) if (1..=999).contains(&t) => t,
                Some(_) => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_UnsupportedQuery",
                        "Invalid page size specified: must be between 1 and 999 inclusive.",
                    )
                }
            };
            Cursor {
                offset: 0,
                top,
                filter: q.get("$filter").cloned(),
                select: q.get("$select").cloned(),
            }
        }
    };
    let filter = match cursor.filter.as_deref().map(odata::parse_filter) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(why)) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Unsupported or invalid query filter clause specified: {why}."),
            )
        }
    };
    let select: Option<Vec<String>> = cursor
        .select
        .as_deref()
        .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect());
    let inner = shared.lock();
    let mut matching = Vec::new();
    for u in &inner.users {
        let hit = match &filter {
            None => true,
            Some(f) => match odata::matches(f, u) {
                Ok(hit) => hit,
                Err(why) => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_UnsupportedQuery",
                        &format!("Unsupported or invalid query filter clause specified: {why}."),
                    )
                }
            },
        };
        if hit {
            matching.push(u);
        }
    }
    let size = cursor.top.min(inner.knobs.page_size);
    let page: Vec<Value> = matching
        .iter()
        .skip(cursor.offset)
        .take(size)
        .map(|u| user_json(u, select.as_deref()))
        .collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users", inner.base_url),
        "value": page,
    });
    let next = cursor.offset + size;
    if next < matching.len() {
        let token = Cursor {
            offset: next,
            ..cursor
        };
        if let Ok(raw) = serde_json::to_vec(&token) {
            body["@odata.nextLink"] = json!(format!(
                "{}/v1.0/users?$skiptoken={}",
                inner.base_url,
                b64.encode(raw)
            ));
        }
    }
    Json(body).into_response()
}

/// `GET /v1.0/users/{id | userPrincipalName}`.
pub(crate) async fn get_user(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let inner = shared.lock();
    match inner.user(&key) {
        Some(u) => Json(user_json(u, None)).into_response(),
        None => user_not_found(&key),
    }
}

/// The checks every photo request makes: the user exists and has a
/// mailbox. Returns the user's id.
fn photo_user(shared: &Shared, key: &str) -> Result<(String, bool), Response> {
    let inner = shared.lock();
    let u = inner.user(key).ok_or_else(|| user_not_found(key))?;
    if !u.has_mailbox {
        return Err(graph_error(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ));
    }
    Ok((u.id.clone(), u.forbidden))
}

fn image_not_found() -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "ImageNotFound",
        "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
    )
}

fn content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

/// The bytes a reader sees now, or the 404 Graph gives.
fn visible(shared: &Shared, id: &str) -> Result<Vec<u8>, Response> {
    let inner = shared.lock();
    inner
        .photos
        .get(id)
        .and_then(|p| p.visible(Instant::now()))
        .cloned()
        .ok_or_else(image_not_found)
}

fn check_size(size: &str) -> Result<u32, Response> {
    let px = size
        .split_once(['x', 'X'])
        .map_or(size, |(w, _)| w)
        .parse::<u32>()
        .ok()
        .filter(|s| SIZES.contains(s));
    px.ok_or_else(image_not_found)
}

/// `GET /v1.0/users/{id}/photo` (metadata).
pub(crate) async fn photo_meta(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    meta(&shared, &headers, &key, 648)
}

/// `GET /v1.0/users/{id}/photos/{size}` (metadata).
pub(crate) async fn sized_meta(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((key, size)): Path<(String, String)>,
) -> Response {
    match check_size(&size) {
        Ok(px) => meta(&shared, &headers, &key, px),
        Err(r) => r,
    }
}

fn meta(shared: &Shared, headers: &HeaderMap, key: &str, px: u32) -> Response {
    if let Err(r) = gate(shared, headers) {
        return r;
    }
    let bytes = match photo_user(shared, key).and_then(|(id, _)| visible(shared, &id)) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tag = format!("\"{:x}\"", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    Json(json!({
        "@odata.mediaContentType": content_type(&bytes),
        "@odata.mediaEtag": tag,
        "id": format!("{px}X{px}"),
        "height": px,
        "width": px,
    }))
    .into_response()
}

/// `GET /v1.0/users/{id}/photo/$value`.
pub(crate) async fn photo_value(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    value(&shared, &headers, &key)
}

/// `GET /v1.0/users/{id}/photos/{size}/$value` — the same bytes at every
/// size (see the module docs).
pub(crate) async fn sized_value(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((key, size)): Path<(String, String)>,
) -> Response {
    match check_size(&size) {
        Ok(_) => value(&shared, &headers, &key),
        Err(r) => r,
    }
}

fn value(shared: &Shared, headers: &HeaderMap, key: &str) -> Response {
    if let Err(r) = gate(shared, headers) {
        return r;
    }
    match photo_user(shared, key).and_then(|(id, _)| visible(shared, &id)) {
        Ok(bytes) => {
            shared.lock().stats.photo_reads += 1;
            ([("content-type", content_type(&bytes))], bytes).into_response()
        }
        Err(r) => r,
    }
}

fn forbidden() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// With `photoUpdateSettings.source` = `onPremises` "no cloud photo
/// update is accepted"; Microsoft does not document the exact answer, so
/// the emulator refuses as for a missing privilege (403).
fn managed_on_premises(shared: &Shared) -> Option<Response> {
    let mut inner = shared.lock();
    if !inner
        .knobs
        .photo_update_source
        .eq_ignore_ascii_case("onPremises")
    {
        return None;
    }
    inner.stats.refused_on_premises += 1;
    Some(graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Photo updates are managed on premises in this organization (photoUpdateSettings).",
    ))
}

/// `GET /beta/admin/people/photoUpdateSettings`: the tenant's photo
/// update setting (`source`: `cloud` | `onPremises`, `allowedRoles`),
/// permission `PeopleSettings.Read.All` (refused with 403 when the
/// `people_settings_denied` knob is set).
pub(crate) async fn photo_update_settings(
    State(shared): State<Shared>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let inner = shared.lock();
    if inner.knobs.people_settings_denied {
        return forbidden();
    }
    Json(json!({
        "@odata.context": format!("{}/beta/$metadata#admin/people/photoUpdateSettings/$entity", inner.base_url),
        "source": inner.knobs.photo_update_source,
        "allowedRoles": inner.knobs.photo_update_allowed_roles,
    }))
    .into_response()
}

/// `PUT /v1.0/users/{id}/photo/$value`.
pub(crate) async fn put_photo(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let (id, denied) = match photo_user(&shared, &key) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if denied {
        return forbidden();
    }
    if let Some(r) = managed_on_premises(&shared) {
        return r;
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !matches!(ct, "image/jpeg" | "image/png") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The content type of the photo must be image/jpeg or image/png.",
        );
    }
    if body.is_empty() || body.len() > 4 * 1024 * 1024 {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The photo must be between 1 byte and 4 MB.",
        );
    }
    let mut inner = shared.lock();
    write(&mut inner, &id, Some(body.to_vec()));
    inner.stats.writes += 1;
    *inner.writes_per_user.entry(id).or_default() += 1;
    StatusCode::OK.into_response()
}

/// `DELETE /v1.0/users/{id}/photo` (and `/photo/$value`).
pub(crate) async fn delete_photo(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let (id, denied) = match photo_user(&shared, &key) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if denied {
        return forbidden();
    }
    if let Some(r) = managed_on_premises(&shared) {
        return r;
    }
    let mut inner = shared.lock();
    let had = inner.photos.get(&id).is_some_and(|p| p.current.is_some());
    if !had {
        return image_not_found();
    }
    write(&mut inner, &id, None);
    inner.stats.deletes += 1;
    StatusCode::NO_CONTENT.into_response()
}

/// Replaces a photo; readers see the old one for `read_after_write`.
fn write(inner: &mut super::state::Inner, id: &str, bytes: Option<Vec<u8>>) {
    let now = Instant::now();
    let delay = inner.knobs.read_after_write;
    let previous = inner.photos.get(id).and_then(|p| p.visible(now).cloned());
    inner.photos.insert(
        id.to_owned(),
        PhotoState {
            current: bytes,
            previous,
            visible_at: now + delay,
        },
    );
}

/// `GET /_emulator/stats`: the counters, for manual runs and scripts.
pub(crate) async fn stats(State(shared): State<Shared>) -> Response {
    let inner = shared.lock();
    Json(json!({
        "stats": inner.stats,
        "users": inner.users.len(),
        "max_writes_per_user": inner.writes_per_user.values().max().copied().unwrap_or(0),
    }))
    .into_response()
}
