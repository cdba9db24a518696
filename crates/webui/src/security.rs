//! The security model of the local web UI, as one middleware.
//!
//! A photo tool running on an admin's desk holds directory write rights,
//! so any web page the admin visits must not be able to drive it. In order:
//!
//! 1. **Host check** (DNS-rebinding defence): the `Host` header must be the
//!    listen address, `localhost`, `127.0.0.1` or `[::1]` with the server's
//!    port (or a host added with `--allow-host`); otherwise 403.
//!    A request carrying more than one `Host` header is refused (400):
//!    which one a proxy or the server would believe is not defined.
//! 2. **One-time token**: `GET /?token=…` (the address printed at start)
//!    trades the token, once, for an `HttpOnly; SameSite=Strict` session
//!    cookie and redirects to the UI's base path, so the token leaves the
//!    address bar.
//! 3. **Session**: every other request needs the cookie; otherwise 401.
//!    The UI lives under a random base path (`/s/<128 random bits>/`) and
//!    the cookie's `Path` is that path. Browsers send a cookie for a host
//!    to every port of it, so without this any other service on 127.0.0.1
//!    the admin's browser visits would receive the session cookie and
//!    could use it (to read `/api/session` and its CSRF token, then write
//!    photos). With it, the browser sends the cookie only to URLs under the
//!    random path, which no other service knows; requests outside it are
//!    treated as signed out.
//! 4. **CSRF**: a request that changes anything (not GET/HEAD) needs an
//!    `Origin` equal to the server's own origin (when the browser sends
//!    one, which it does for every `fetch` POST) and the session's CSRF
//!    token in `X-CSRF-Token` (the page gets it from `GET /api/session`);
//!    otherwise 403.
//! 5. **Headers** on every answer: a strict Content-Security-Policy (only
//!    our own scripts, styles and images; no inline code; no framing),
//!    `nosniff`, no referrer, `no-store`.
//!
//! Upload sizes are limited by the router (413), errors never carry more
//! than a sentence (see [`crate::error`]).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;
use crate::token::constant_time_eq;

/// The Content-Security-Policy sent with every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The header the page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The middleware: host check, token exchange, session, CSRF (see the
/// module docs), then the security headers.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = match check(&state, request) {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    };
    add_headers(response.headers_mut());
    response
}

/// Runs the checks. `Ok` lets the request through; `Err` is the answer
/// instead.
#[allow(clippy::result_large_err)]
fn check(state: &AppState, request: Request) -> Result<Request, Response> {
    let base = state.base_path();
    let path = request.uri().path();
    let in_base = path == base || path.strip_prefix(base).is_some_and(|r| r.starts_with('/'));
    let api = path.starts_with("/api/") || (in_base && path[base.len()..].starts_with("/api/"));
    if request.headers().get_all(header::HOST).iter().count() > 1 {
        return Err(refuse(
            state,
            api,
            AppError::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "the request has more than one Host header; refused",
            ),
        ));
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(ToString::to_string));
    let Some(host) = host.filter(|h| state.host_allowed(h)) else {
        return Err(refuse(
            state,
            api,
            AppError::forbidden(
                "this address is not the one userphoto listens on; open the address it printed (requests through other host names are refused)",
            ),
        ));
    };

    if path == base {
        // The page's relative URLs need the trailing slash.
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("{base}/")) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        return Err(response);
    }
    if request.method() == Method::GET && request.uri().path() == "/" {
        if let Some(token) = query_param(request.uri().query(), "token") {
            return Err(login(state, &token));
        }
    }

    // The cookie counts only under the base path (where the browser sends
    // it): elsewhere, a request is signed out.
    let session = cookie(request.headers(), state.cookie_name()).filter(|_| in_base);
    let Some(csrf) = session.as_deref().and_then(|s| state.session_csrf(s)) else {
        return Err(refuse(state, api, AppError::unauthorized()));
    };

    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let expected = format!("http://{host}");
            let same = origin
                .to_str()
                .is_ok_and(|o| o.eq_ignore_ascii_case(&expected));
            if !same {
                return Err(refuse(
                    state,
                    api,
                    AppError::forbidden("cross-origin requests are refused"),
                ));
            }
        }
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !constant_time_eq(sent, csrf.as_bytes()) {
            return Err(refuse(
                state,
                api,
                AppError::forbidden(
                    "the request has no valid CSRF token; reload the page and try again",
                ),
            ));
        }
    }
    Ok(request)
}

/// Trades the token for a session cookie, or says the link is spent.
fn login(state: &AppState, token: &str) -> Response {
    match state.exchange_token(token) {
        Some(session) => {
            let base = state.base_path();
            let cookie = format!(
                "{}={session}; HttpOnly; SameSite=Strict; Path={base}/",
                state.cookie_name()
            );
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&format!("{base}/")) {
                headers.insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, v);
            }
            response
        }
        None => page(
            StatusCode::UNAUTHORIZED,
            &format!(
                "This sign-in link has been used already or is not valid. Each link works once: for a new one, run `{}` in a terminal (the server keeps running).",
                link_command(state)
            ),
        ),
    }
}

/// The answer to a refused request: JSON for the API, a short page for a
/// browser navigation.
fn refuse(state: &AppState, api: bool, error: AppError) -> Response {
    if api {
        error.into_response()
    } else {
        let text = match error.status() {
            StatusCode::UNAUTHORIZED => format!("You are not signed in. Open the address that userphoto printed when it started (it carries a one-time sign-in token), or run `{}` in a terminal for a new one.", link_command(state)),
            _ => error.message().to_owned(),
        };
        page(error.status(), &text)
    }
}

/// The command that prints a new sign-in link for this server.
fn link_command(state: &AppState) -> &'static str {
    if state.is_demo() {
        "userphoto demo --link"
    } else {
        "userphoto serve --link"
    }
}

/// A minimal HTML page (no script, no style: the CSP allows none inline).
fn page(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>userphoto</title></head><body><h1>userphoto</h1><p>{}</p></body></html>",
        escape_html(text)
    );
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn add_headers(headers: &mut HeaderMap) {
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// The value of cookie `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The (undecoded) value of `name` in a query string; tokens are hex, so
/// no decoding is needed.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
