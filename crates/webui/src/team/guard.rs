//! Team mode's one middleware. In order:
//!
//! 1. **Host check**: the `Host` header must be the configured public name
//!    (or the listen address); one `Host` header only.
//! 2. **Client address**: the peer, or — when the peer is the one trusted
//!    proxy — the last address in its `X-Forwarded-For` (the sign-in rate
//!    limit counts per client address).
//! 3. **Session**: the `userphoto_team` cookie (`Secure; HttpOnly;
//!    SameSite=Strict`) names a live session; the page, its assets and
//!    `POST /api/signin` need none.
//! 4. **CSRF**: anything but GET/HEAD needs an `Origin` equal to our own
//!    (when sent, as browsers do for `fetch` POSTs) and, once signed in,
//!    the session's token in `X-CSRF-Token`.
//! 5. **Headers**: the admin UI's strict CSP and friends.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Session, TeamState, COOKIE};
use crate::error::AppError;
use crate::security::CSRF_HEADER;
use crate::token::constant_time_eq;

/// Who is asking: the session (if signed in), its token, the client.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) token: Option<String>,
    pub(crate) session: Option<Session>,
    pub(crate) client: IpAddr,
}

pub(crate) async fn guard(
    State(state): State<TeamState>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut response = match check(&state, &mut request) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, crate::security::CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn check(state: &TeamState, request: &mut Request) -> Result<(), AppError> {
    let hosts: Vec<&HeaderValue> = request.headers().get_all(header::HOST).iter().collect();
    let [host] = hosts.as_slice() else {
        return Err(AppError::bad_request("one Host header is needed"));
    };
    let host = host.to_str().unwrap_or_default().to_ascii_lowercase();
    let options = state.options();
    if !options.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Err(AppError::forbidden(
            "this address is not the one the photo service is published at",
        ));
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<super::tls::Peer>>()
                .map(|c| c.0 .0.ip())
        });
    let client = match (peer, options.trusted_proxy) {
        (Some(peer), Some(proxy)) if peer == proxy => request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back()
            .unwrap_or(peer),
        (Some(peer), _) => peer,
        (None, _) => IpAddr::from([127, 0, 0, 1]),
    };
    let token = cookie(request.headers(), COOKIE);
    let session = token.as_deref().and_then(|t| state.session(t));

    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let expected = format!("{}://{host}", options.origin_scheme);
            if !origin
                .to_str()
                .is_ok_and(|o| o.eq_ignore_ascii_case(&expected))
            {
                return Err(AppError::forbidden("cross-origin requests are refused"));
            }
        }
        if let Some(s) = &session {
            let sent = request
                .headers()
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !constant_time_eq(sent, s.csrf.as_bytes()) {
                return Err(AppError::forbidden(
                    "the request has no valid CSRF token; reload the page and try again",
                ));
            }
        }
    }
    request.extensions_mut().insert(Caller {
        token: token.filter(|_| session.is_some()),
        session,
        client,
    });
    Ok(())
}

/// The value of cookie `name`.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
