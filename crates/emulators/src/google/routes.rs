//! The Directory API endpoints: `users.list`, `users.get` and
//! `users.photos` get/update/delete, with Google's error bodies
//! (`{"error": {"code", "message", "errors": [{"message", "domain",
//! "reason", …}], "status"}}`).

// Handlers answer early with a ready `Response` as the error; boxing it
// would only add noise to a test double.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{query, GoogleUser, Shared, StoredPhoto};

/// A Google API error answer.
fn error(status: StatusCode, reason: &str, domain: &str, message: &str) -> Response {
    let code = status.as_u16();
    let canonical = match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    (
        status,
        Json(json!({
            "error": {
                "code": code,
                "message": message,
                "errors": [{ "message": message, "domain": domain, "reason": reason }],
                "status": canonical,
            }
        })),
    )
        .into_response()
}

fn invalid(message: &str, location: &str) -> Response {
    let body = json!({
        "error": {
            "code": 400,
            "message": message,
            "errors": [{
                "message": message,
                "domain": "global",
                "reason": "invalid",
                "location": location,
                "locationType": "parameter",
            }],
            "status": "INVALID_ARGUMENT",
        }
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// What every API request goes through: the access token, the project's
/// API switch, the quota, the fault dice, and the subject's admin rights.
fn gate(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let mut inner = shared.lock();
    inner.stats.requests += 1;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let subject = match inner.tokens.get(token) {
        Some((sub, until)) if *until > Instant::now() => sub.clone(),
        _ => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "authError",
                "global",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            ))
        }
    };
    if !inner.knobs.api_enabled {
        return Err(error(
            StatusCode::FORBIDDEN,
            "accessNotConfigured",
            "usageLimits",
            &format!(
                "Admin SDK API has not been used in project {} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/admin.googleapis.com/overview?project={} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
                super::SERVICE_ACCOUNT_CLIENT_ID, super::SERVICE_ACCOUNT_CLIENT_ID
            ),
        ));
    }
    if let Some(bucket) = inner.bucket.as_mut() {
        if !bucket.take() {
            inner.stats.quota_errors += 1;
            let reason = inner.knobs.quota_reason.clone();
            return Err(error(
                StatusCode::FORBIDDEN,
                &reason,
                "usageLimits",
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
            ));
        }
    }
    let (p503, p429) = (inner.knobs.random_503_rate, inner.knobs.random_429_rate);
    if p503 > 0.0 && inner.roll() < p503 {
        inner.stats.unavailable += 1;
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "backendError",
            "global",
            "The service is currently unavailable.",
        ));
    }
    if p429 > 0.0 && inner.roll() < p429 {
        inner.stats.quota_errors += 1;
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            "usageLimits",
            "Rate Limit Exceeded",
        ));
    }
    if !inner.user(&subject).is_some_and(|u| u.is_admin) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "global",
            "Not Authorized to access this resource/api",
        ));
    }
    Ok(())
}

fn user_json(u: &GoogleUser) -> Value {
    let mut emails = vec![json!({ "address": u.primary_email, "primary": true })];
    emails.extend(u.aliases.iter().map(|a| json!({ "address": a })));
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "primaryEmail": u.primary_email,
        "name": {
            "givenName": u.given_name,
            "familyName": u.family_name,
            "fullName": u.full_name(),
        },
        "isAdmin": u.is_admin,
        "suspended": u.suspended,
        "emails": emails,
    });
    if !u.aliases.is_empty() {
        v["aliases"] = json!(u.aliases);
    }
    if let Some(e) = &u.employee_id {
        v["externalIds"] = json!([{ "value": e, "type": "organization" }]);
    }
    v
}

fn user_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        "global",
        "Resource Not Found: userKey",
    )
}

/// `GET /admin/directory/v1/users`.
pub(crate) async fn list_users(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let inner = shared.lock();
    match (params.get("customer"), params.get("domain")) {
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "global",
                "Bad Request",
            )
        }
        (Some(c), _) if c != "my_customer" && *c != inner.knobs.customer_id => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "global",
                "Not Authorized to access this resource/api",
            )
        }
        (_, Some(d)) if !d.eq_ignore_ascii_case(&inner.knobs.domain) => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "global",
                "Not Authorized to access this resource/api",
            )
        }
        _ => {}
    }
    let max = inner.knobs.max_results;
    let page_size = match params.get("maxResults").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=max).contains(&n) => n,
        Some(_) => {
            return invalid(
                &format!(
                    "Invalid value '{}'. Values must be within the range: [1, {max}]",
                    params.get("maxResults").map(String::as_str).unwrap_or("")
                ),
                "maxResults",
            )
        }
    };
    let q = params.get("query").map(String::as_str).unwrap_or_default();
    let clauses = match query::parse(q) {
        Ok(c) => c,
        Err(e) => return invalid(&e, "query"),
    };
    // The token carries the offset and the query it belongs to.
    let tag = format!(
        "{:x}",
        q.len() * 31 + q.bytes().map(usize::from).sum::<usize>()
    );
    let start = match params.get("pageToken") {
        None => 0,
        Some(t) => match t
            .strip_prefix("emu.")
            .and_then(|r| r.split_once('.'))
            .filter(|(_, qt)| *qt == tag)
            .and_then(|(o, _)| o.parse::<usize>().ok())
        {
            Some(o) => o,
            None => return invalid("Invalid Input: pageToken", "pageToken"),
        },
    };
    let matching: Vec<&GoogleUser> = inner
        .users
        .iter()
        .filter(|u| query::matches(&clauses, u))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(page_size)
        .map(|u| user_json(u))
        .collect();
    let mut body = json!({ "kind": "admin#directory#users", "etag": "\"emu\"", "users": page });
    if start + page_size < matching.len() {
        body["nextPageToken"] = json!(format!("emu.{}.{tag}", start + page_size));
    }
    Json(body).into_response()
}

/// `GET /admin/directory/v1/users/{userKey}`.
pub(crate) async fn get_user(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    match shared.lock().user(&key) {
        Some(u) => Json(user_json(u)).into_response(),
        None => user_not_found(),
    }
}

fn web_safe(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn photo_json(u: &GoogleUser, p: &StoredPhoto) -> Value {
    json!({
        "kind": "admin#directory#user#photo",
        "id": u.id,
        "etag": format!("\"{:x}\"", p.bytes.len()),
        "primaryEmail": u.primary_email,
        "mimeType": p.mime_type,
        "width": p.width,
        "height": p.height,
        "photoData": web_safe(&p.bytes),
    })
}

fn photo_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        "global",
        "Resource Not Found: photo",
    )
}

/// `GET …/photos/thumbnail`.
pub(crate) async fn get_photo(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let inner = shared.lock();
    let Some(u) = inner.user(&key) else {
        return user_not_found();
    };
    match inner.photos.get(&u.id) {
        Some(p) => Json(photo_json(u, p)).into_response(),
        None => photo_not_found(),
    }
}

/// The image format in the first bytes, as the documented `mimeType` name.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("PNG")
    } else if bytes.starts_with(b"GIF8") {
        Some("GIF")
    } else if bytes.starts_with(b"BM") {
        Some("BMP")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("TIFF")
    } else {
        None
    }
}

/// The documented `mimeType` name for what a client sent (`JPEG`, or
/// `image/jpeg`), or `None` for anything else.
fn mime_name(sent: &str) -> Option<&'static str> {
    let s = sent.trim().to_ascii_uppercase();
    let s = s.strip_prefix("IMAGE/").unwrap_or(&s);
    match s {
        "JPEG" | "JPG" => Some("JPEG"),
        "PNG" => Some("PNG"),
        "GIF" => Some("GIF"),
        "BMP" => Some("BMP"),
        "TIFF" => Some("TIFF"),
        _ => None,
    }
}

/// Decodes `photoData` as the reference page describes it: the web-safe
/// alphabet (`-` and `_`), padded with `=` (or the page's `*`/`.`) or not.
/// A `+` or `/` (the standard alphabet) is refused, as Google refuses it:
/// "Invalid value for ByteString".
fn decode_photo_data(data: &str) -> Result<Vec<u8>, Response> {
    let refuse = || {
        let shown: String = data.chars().take(40).collect();
        invalid(
            &format!("Invalid value for ByteString: {shown}"),
            "photoData",
        )
    };
    if data.is_empty()
        || !data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'*' | b'.'))
    {
        return Err(refuse());
    }
    let unpadded = data.trim_end_matches(['=', '*', '.']);
    if unpadded.contains(['=', '*', '.']) {
        return Err(refuse());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(unpadded)
        .map_err(|_| refuse())
}

/// `PUT` / `PATCH …/photos/thumbnail` (`users.photos.update`).
pub(crate) async fn update_photo(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "parseError",
            "global",
            "Invalid JSON payload received.",
        );
    };
    let Some(data) = body.get("photoData").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "required",
            "global",
            "Required field must not be blank: photoData",
        );
    };
    let bytes = match decode_photo_data(data) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut inner = shared.lock();
    let limit = inner.knobs.max_photo_bytes;
    if bytes.len() > limit {
        return invalid(
            &format!(
                "Invalid value for photoData: the photo is {} bytes; at most {limit} are accepted",
                bytes.len()
            ),
            "photoData",
        );
    }
    let sniffed = sniff(&bytes);
    let mime = match body.get("mimeType").and_then(Value::as_str) {
        None => sniffed,
        Some(m) => match mime_name(m) {
            Some(name) if Some(name) == sniffed => Some(name),
            _ => return invalid(&format!("Invalid value for mimeType: {m}"), "mimeType"),
        },
    };
    let Some(mime) = mime else {
        return invalid("Invalid value for photoData: not an image", "photoData");
    };
    let dim = |k: &str| body.get(k).and_then(Value::as_u64).map(|n| n as u32);
    if dim("width") == Some(0) || dim("height") == Some(0) {
        return invalid("Invalid value for width/height", "width");
    }
    let Some(user) = inner.user(&key).cloned() else {
        return user_not_found();
    };
    let survives = inner.knobs.self_set_survives_update;
    if let Some(current) = inner.photos.get(&user.id) {
        if current.self_set && survives {
            // Google reports success and leaves the user's own photo.
            let answer = photo_json(&user, current);
            inner.stats.updates_ignored += 1;
            return Json(answer).into_response();
        }
    }
    let stored = StoredPhoto {
        bytes,
        mime_type: format!("image/{}", mime.to_ascii_lowercase()),
        width: dim("width").unwrap_or(96),
        height: dim("height").unwrap_or(96),
        self_set: false,
    };
    let answer = photo_json(&user, &stored);
    inner.photos.insert(user.id.clone(), stored);
    inner.stats.writes += 1;
    *inner.writes_per_user.entry(user.id.clone()).or_insert(0) += 1;
    Json(answer).into_response()
}

/// `DELETE …/photos/thumbnail`.
pub(crate) async fn delete_photo(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r;
    }
    let mut inner = shared.lock();
    let Some(id) = inner.user(&key).map(|u| u.id.clone()) else {
        return user_not_found();
    };
    if inner.photos.remove(&id).is_none() {
        return photo_not_found();
    }
    inner.stats.deletes += 1;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_emulator/stats` (not Google).
pub(crate) async fn stats(State(shared): State<Shared>) -> Response {
    Json(shared.lock().stats.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_data_alphabet() {
        assert_eq!(decode_photo_data("_-8=").ok(), Some(vec![0xFF, 0xEF]));
        assert_eq!(decode_photo_data("_-8*").ok(), Some(vec![0xFF, 0xEF]));
        assert_eq!(decode_photo_data("_-8").ok(), Some(vec![0xFF, 0xEF]));
        assert!(decode_photo_data("/+8=").is_err(), "the standard alphabet");
        assert!(decode_photo_data("").is_err());
        assert!(decode_photo_data("ab=c").is_err(), "padding in the middle");
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_name("JPEG"), Some("JPEG"));
        assert_eq!(mime_name("image/jpeg"), Some("JPEG"));
        assert_eq!(mime_name("image/webp"), None);
    }
}
