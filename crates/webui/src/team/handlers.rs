//! Team mode's handlers: thin over the queue. The employee is always the
//! session's; no handler takes a user name from the request.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use userphoto_bulk::prepare;
use userphoto_directory::config::Target;
use userphoto_directory::{PhotoLookup, User};
use userphoto_imaging::{CropBox, CropMode};
use userphoto_selfservice::model::Filter;
use userphoto_selfservice::queue::AUTO_APPROVER;
use userphoto_selfservice::signin::SignInError;
use userphoto_selfservice::{NewRequest, QueueError, Request, StoreError};

use super::guard::Caller;
use super::{CachedPhoto, Session, TeamState, Upload, COOKIE, SESSION_LIFETIME};
use crate::error::{AppError, AppResult};

/// The side of previews and of the proposed photo shown.
const PREVIEW_SIZE: u32 = 648;

const PAGE: &str = include_str!("../../ui/team.html");

/// `GET /`: the team page.
pub(crate) async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

fn signed_in(caller: &Caller) -> AppResult<(&str, &Session)> {
    match (&caller.token, &caller.session) {
        (Some(t), Some(s)) => Ok((t, s)),
        _ => Err(AppError::unauthorized()),
    }
}

fn approver(caller: &Caller) -> AppResult<&Session> {
    let (_, s) = signed_in(caller)?;
    if s.employee.approver {
        Ok(s)
    } else {
        Err(AppError::forbidden("only approvers can work the queue"))
    }
}

fn no_such_request() -> AppError {
    AppError::not_found("there is no such request")
}

/// The queue's errors in the page's words.
fn queue_error(e: QueueError) -> AppError {
    match e {
        QueueError::Store(StoreError::NotFound(_)) => no_such_request(),
        QueueError::Store(e @ StoreError::WrongState { .. }) => {
            AppError::new(StatusCode::CONFLICT, "wrong-state", e.to_string())
        }
        QueueError::Image(e) => e.into(),
        e @ (QueueError::Refused(_) | QueueError::ReasonMissing) => {
            AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string())
        }
        e => AppError::internal(e),
    }
}

fn me_json(s: &Session, csrf: &str, state: &TeamState) -> Value {
    json!({
        "name": s.employee.name,
        "display_name": s.employee.display_name,
        "approver": s.employee.approver,
        "csrf": csrf,
        "targets": state.targets().iter().map(|t| t.kind.as_str()).collect::<Vec<_>>(),
        "auto_approve": state.queue().policy().auto_approve,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInBody {
    name: String,
    password: String,
}

/// `POST /api/signin {name, password}`: one message for every refusal.
pub(crate) async fn sign_in(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SignInBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Response> {
    let Json(body) = body.map_err(|_| AppError::bad_request("give a name and a password"))?;
    let super::Auth::Directory(signin) = state.auth() else {
        return Err(AppError::not_found(
            "sign in with Microsoft: this service does not take passwords",
        ));
    };
    let employee = match signin
        .sign_in(&body.name, &body.password, caller.client)
        .await
    {
        Ok(e) => e,
        Err(SignInError::Refused) => {
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "sign-in-refused",
                "The name or password is not right.",
            ))
        }
        Err(e @ SignInError::TooMany { .. }) => {
            return Err(AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many",
                e.to_string(),
            ))
        }
        Err(why) => {
            tracing::warn!(%why, "employee sign-in could not ask the directory");
            return Err(AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Sign-in is not available right now; try again in a few minutes.",
            ));
        }
    };
    let (token, csrf) = signed_in_as(&state, employee);
    let session = state.session(&token).ok_or_else(AppError::unauthorized)?;
    let mut response = Json(me_json(&session, &csrf, &state)).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&token)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn signed_in_as(
    state: &TeamState,
    employee: userphoto_selfservice::signin::Employee,
) -> (String, String) {
    tracing::info!(user = %employee.name, approver = employee.approver, "signed in");
    state.open_session(employee)
}

fn session_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    )
}

/// `GET /auth/method`: how this service signs employees in.
pub(crate) async fn sign_in_method(State(state): State<TeamState>) -> Json<Value> {
    Json(json!({"method": match state.auth() {
        super::Auth::Directory(_) => "directory",
        super::Auth::Entra(_) => "entra",
    }}))
}

/// `GET /auth/entra`: off to Entra's sign-in page, the `state` tied to
/// this browser by a short-lived cookie.
pub(crate) async fn entra_begin(State(state): State<TeamState>) -> AppResult<Response> {
    let super::Auth::Entra(entra) = state.auth() else {
        return Err(AppError::not_found(
            "this service signs in with a directory password",
        ));
    };
    let (url, st) = entra.begin();
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&url) {
        headers.insert(header::LOCATION, v);
    }
    // Lax: the browser comes back from Entra by a cross-site navigation.
    let cookie = format!(
        "{}={st}; Secure; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=600",
        super::STATE_COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// `GET /auth/callback?code=&state=`: the browser back from Entra.
pub(crate) async fn entra_callback(
    State(state): State<TeamState>,
    headers: axum::http::HeaderMap,
    Query(back): Query<Callback>,
) -> AppResult<Response> {
    let super::Auth::Entra(entra) = state.auth() else {
        return Err(AppError::not_found(
            "this service signs in with a directory password",
        ));
    };
    if let Some(why) = back.error_description {
        tracing::info!(%why, "Entra sign-in was not completed");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "sign-in-refused",
            "The sign-in with Microsoft was not completed.",
        ));
    }
    let sent = super::guard::cookie(&headers, super::STATE_COOKIE).unwrap_or_default();
    if back.state.is_empty()
        || !crate::token::constant_time_eq(sent.as_bytes(), back.state.as_bytes())
    {
        return Err(AppError::forbidden(
            "this sign-in was not started in this browser; start again",
        ));
    }
    let employee = match entra.complete(&back.state, &back.code).await {
        Ok(e) => e,
        Err(SignInError::Refused) => {
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "sign-in-refused",
                "The sign-in with Microsoft was not accepted; start again.",
            ))
        }
        Err(why) => {
            tracing::warn!(%why, "Entra sign-in could not be completed");
            return Err(AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Sign-in is not available right now; try again in a few minutes.",
            ));
        }
    };
    let (token, _) = signed_in_as(&state, employee);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&token)) {
        h.append(header::SET_COOKIE, v);
    }
    let clear = format!(
        "{}=; Secure; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=0",
        super::STATE_COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        h.append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /api/signout`.
pub(crate) async fn sign_out(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(token) = &caller.token {
        state.close_session(token);
    }
    let mut response = Json(json!({"signed_out": true})).into_response();
    let clear = format!("{COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `GET /api/me`: who is signed in, and the CSRF token for writes.
pub(crate) async fn me(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
) -> AppResult<Json<Value>> {
    let (_, s) = signed_in(&caller)?;
    Ok(Json(me_json(s, &s.csrf, &state)))
}

/// The user `name` at every target (the resolver's rule), and the one of
/// kind `kind`.
async fn at_target<'a>(
    state: &'a TeamState,
    name: &str,
    kind: &str,
) -> AppResult<(&'a Target, User)> {
    let index = state
        .targets()
        .iter()
        .position(|t| t.kind.as_str() == kind)
        .ok_or_else(|| AppError::not_found(format!("there is no target {kind:?}")))?;
    let mut users = state
        .ops()
        .resolver()
        .one(state.targets(), userphoto_selfservice::user_key(name), name)
        .await;
    if index >= users.len() {
        return Err(AppError::not_found("not found there"));
    }
    let user = users.swap_remove(index)?;
    Ok((&state.targets()[index], user))
}

async fn photo_of(state: &TeamState, name: &str, kind: &str) -> AppResult<Response> {
    let found = match state.cached_photo(name, kind) {
        Some(p) => p,
        None => {
            let (target, user) = at_target(state, name, kind).await?;
            let found = match target.directory.get_photo(&user).await? {
                PhotoLookup::Photo(p) => {
                    CachedPhoto::Photo(p.content_type(), std::sync::Arc::new(p.bytes().to_vec()))
                }
                other => CachedPhoto::None(other.state().to_string()),
            };
            state.keep_photo(name, kind, found.clone());
            found
        }
    };
    match found {
        CachedPhoto::Photo(content_type, bytes) => {
            Ok(([(header::CONTENT_TYPE, content_type)], bytes.to_vec()).into_response())
        }
        CachedPhoto::None(why) => Err(AppError::not_found(format!("no photo at {kind} ({why})"))),
    }
}

/// `GET /api/me/photo/{target}`: the employee's own current photo.
pub(crate) async fn my_photo(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(kind): Path<String>,
) -> AppResult<Response> {
    let (_, s) = signed_in(&caller)?;
    photo_of(&state, &s.employee.name, &kind).await
}

/// `POST /api/uploads` (the photo's bytes): checked and framed, kept in
/// the session until submitted.
pub(crate) async fn upload(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<Value>> {
    let (token, _) = signed_in(&caller)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::too_large(state.options().max_upload_bytes),
        _ => AppError::bad_request("the photo could not be read from the request; try again"),
    })?;
    if body.is_empty() {
        return Err(AppError::bad_request("the upload is empty; choose a photo"));
    }
    let bytes = std::sync::Arc::new(body.to_vec());
    let work = std::sync::Arc::clone(&bytes);
    let seen = state
        .imaging(move || prepare::inspect(&work, PREVIEW_SIZE, CropMode::default()))
        .await??;
    let id = crate::token::random_token();
    state.set_upload(
        token,
        Upload {
            id: id.clone(),
            bytes,
        },
    );
    let checks: Vec<Value> = seen
        .report
        .findings
        .iter()
        .map(|(issue, text)| json!({"code": issue.code(), "text": text}))
        .collect();
    Ok(Json(json!({
        "id": id,
        "width": seen.source.width,
        "height": seen.source.height,
        "crop": seen.report.crop,
        "framing": seen.report.framing,
        "faces": seen.report.faces,
        "checks": checks,
        "preview": format!("api/uploads/{id}/preview.jpg"),
    })))
}

/// A crop square in a query or body.
#[derive(Clone, Copy, Debug, Deserialize)]
pub(crate) struct Square {
    x: Option<f64>,
    y: Option<f64>,
    side: Option<f64>,
}

impl Square {
    fn crop(self) -> AppResult<CropMode> {
        match (self.x, self.y, self.side) {
            (None, None, None) => Ok(CropMode::default()),
            (Some(x), Some(y), Some(side))
                if x.is_finite() && y.is_finite() && side.is_finite() && side > 0.0 =>
            {
                Ok(CropMode::Box(CropBox { x, y, side }))
            }
            _ => Err(AppError::bad_request(
                "a crop square needs x, y and side (in source pixels)",
            )),
        }
    }
}

/// `GET /api/uploads/{id}/preview.jpg?x=&y=&side=`: the square as it will
/// be written, from this session's upload only.
pub(crate) async fn preview(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(square): Query<Square>,
) -> AppResult<Response> {
    let (_, s) = signed_in(&caller)?;
    let upload =
        s.upload.as_ref().filter(|u| u.id == id).ok_or_else(|| {
            AppError::not_found("this upload has expired; choose the photo again")
        })?;
    let (bytes, crop) = (std::sync::Arc::clone(&upload.bytes), square.crop()?);
    let jpeg = state
        .imaging(move || prepare::preview(&bytes, PREVIEW_SIZE, crop))
        .await??;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubmitBody {
    upload: String,
    #[serde(default)]
    crop: Option<Square>,
}

/// `POST /api/requests {upload, crop}`: submits the session's upload as
/// the signed-in employee's request (auto-approved when the policy says).
pub(crate) async fn submit(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SubmitBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Request>> {
    let (token, s) = signed_in(&caller)?;
    let Json(body) = body.map_err(|_| AppError::bad_request("say which upload to submit"))?;
    let crop = match body.crop {
        Some(square) => square.crop()?,
        None => CropMode::default(),
    };
    let upload = state
        .take_upload(token, &body.upload)
        .ok_or_else(|| AppError::not_found("this upload has expired; choose the photo again"))?;
    let photo = std::sync::Arc::try_unwrap(upload.bytes).unwrap_or_else(|b| (*b).clone());
    let submitted = state
        .queue()
        .submit(NewRequest {
            user: s.employee.name.clone(),
            display_name: s.employee.display_name.clone(),
            photo,
            crop,
        })
        .await
        .map_err(queue_error)?;
    tracing::info!(user = %s.employee.name, id = submitted.request.id, "request submitted");
    if submitted.auto_approve {
        let done = state
            .queue()
            .approve(
                submitted.request.id,
                AUTO_APPROVER,
                state.targets(),
                state.ops(),
            )
            .await
            .map_err(queue_error)?;
        state.forget_photos(&done.user);
        return Ok(Json(done));
    }
    Ok(Json(submitted.request))
}

/// `GET /api/requests`: the employee's own requests, newest first.
pub(crate) async fn mine(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
) -> AppResult<Json<Vec<Request>>> {
    let (_, s) = signed_in(&caller)?;
    Ok(Json(
        state
            .queue()
            .mine(&s.employee.name)
            .await
            .map_err(queue_error)?,
    ))
}

/// The request `id` if this caller may see it: their own, or any for an
/// approver. Another's is "no such request".
async fn visible(state: &TeamState, s: &Session, id: i64) -> AppResult<Request> {
    let q = state.queue();
    if s.employee.approver {
        q.get(id).await
    } else {
        q.own(id, &s.employee.name).await
    }
    .map_err(queue_error)
}

/// `GET /api/requests/{id}`.
pub(crate) async fn show(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Json<Request>> {
    let (_, s) = signed_in(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    Ok(Json(visible(&state, s, id).await?))
}

/// `GET /api/requests/{id}/photo.jpg`: the proposed photo as it will be
/// written (framed by the request's square).
pub(crate) async fn request_photo(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (_, s) = signed_in(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    let request = visible(&state, s, id).await?;
    let bytes = state.queue().photo(id).await.map_err(queue_error)?;
    let crop = request.crop;
    let jpeg = state
        .imaging(move || prepare::preview(&bytes, PREVIEW_SIZE, crop))
        .await??;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// `POST /api/requests/{id}/withdraw`: the employee's own, pending.
pub(crate) async fn withdraw(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Json<Request>> {
    let (_, s) = signed_in(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    Ok(Json(
        state
            .queue()
            .withdraw(id, &s.employee.name)
            .await
            .map_err(queue_error)?,
    ))
}

/// `GET /api/queue`: pending, approving and failed requests (approvers).
pub(crate) async fn queue(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
) -> AppResult<Json<Vec<Request>>> {
    approver(&caller)?;
    Ok(Json(
        state
            .queue()
            .list(Filter::queue())
            .await
            .map_err(queue_error)?,
    ))
}

/// `GET /api/queue/{id}/current/{target}`: the requester's current photo
/// (approvers).
pub(crate) async fn current_of(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path((id, kind)): Path<(String, String)>,
) -> AppResult<Response> {
    approver(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    let request = state.queue().get(id).await.map_err(queue_error)?;
    photo_of(&state, &request.user, &kind).await
}

/// `POST /api/queue/{id}/approve` (approvers; not their own request).
pub(crate) async fn approve(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> AppResult<Json<Request>> {
    let s = approver(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    let request = state.queue().get(id).await.map_err(queue_error)?;
    if request.user.eq_ignore_ascii_case(&s.employee.name) {
        return Err(AppError::forbidden(
            "you cannot approve your own photo; ask another approver",
        ));
    }
    let done = state
        .queue()
        .approve(id, &s.employee.name, state.targets(), state.ops())
        .await
        .map_err(queue_error)?;
    state.forget_photos(&done.user);
    tracing::info!(id, approver = %s.employee.name, state = %done.state, "request approved");
    Ok(Json(done))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RejectBody {
    #[serde(default)]
    reason: String,
}

/// `POST /api/queue/{id}/reject {reason}` (approvers).
pub(crate) async fn reject(
    State(state): State<TeamState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<RejectBody>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Request>> {
    let s = approver(&caller)?;
    let id = id.parse::<i64>().map_err(|_| no_such_request())?;
    let Json(body) = body.map_err(|_| AppError::bad_request("say why the photo is rejected"))?;
    Ok(Json(
        state
            .queue()
            .reject(id, &s.employee.name, &body.reason)
            .await
            .map_err(queue_error)?,
    ))
}
