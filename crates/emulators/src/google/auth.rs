//! `POST /token`: Google's OAuth 2.0 token endpoint for service accounts
//! ("Using OAuth 2.0 for Server to Server Applications"): the JWT bearer
//! grant, with domain-wide delegation through `sub`.
//!
//! Checks, in order, each answered as Google does (`{"error": …,
//! "error_description": …}`):
//!
//! * `grant_type` is `urn:ietf:params:oauth:grant-type:jwt-bearer`, else
//!   `400 unsupported_grant_type`;
//! * the assertion is an RS256 JWT signed with the service account's key
//!   and `iss` is its e-mail, else `400 invalid_grant` "Invalid JWT
//!   Signature.";
//! * `aud` is this endpoint, else `400 invalid_grant`;
//! * `iat`/`exp`: `exp - iat` ≤ 3600 s, `exp` not passed, `iat` not
//!   further ahead than the tolerated clock skew, else `400 invalid_grant`
//!   "Invalid JWT: Token must be a short-lived token (60 minutes) and in a
//!   reasonable timeframe. Check your iat and exp values in the JWT claim.";
//! * every requested scope is granted to the client by domain-wide
//!   delegation, else `401 unauthorized_client` "Client is unauthorized to
//!   retrieve access tokens using this method, or client not authorized for
//!   any of the scopes requested.";
//! * `sub` is a user of the domain, else `400 invalid_grant` "Invalid email
//!   or User ID".
//!
//! A subject who is a user but not an admin gets a token, as with Google;
//! the Directory API then answers `403 Not Authorized to access this
//! resource/api` (see `routes.rs`).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::json;

use super::Shared;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn refuse(shared: &Shared, status: StatusCode, error: &str, description: &str) -> Response {
    shared.lock().stats.tokens_refused += 1;
    oauth_error(status, error, description)
}

/// `POST /token`.
pub(crate) async fn token(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != JWT_BEARER {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", field("grant_type")),
        );
    }
    let assertion = field("assertion");
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: the assertion is not a JWT.",
        );
    };
    if header.alg != Algorithm::RS256 {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    }
    // Signature first, claims by hand below (Google's own wording for each).
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims =
        match jsonwebtoken::decode::<serde_json::Value>(assertion, &shared.key, &validation) {
            Ok(data) => data.claims,
            Err(_) => {
                return refuse(
                    &shared,
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid JWT Signature.",
                )
            }
        };
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let number = |k: &str| claims.get(k).and_then(serde_json::Value::as_i64);
    let (service_account, token_url, skew, scopes, known_sub, offset) = {
        let inner = shared.lock();
        (
            inner.knobs.service_account.clone(),
            format!("{}/token", inner.base_url),
            inner.knobs.clock_skew.as_secs() as i64,
            inner.knobs.delegated_scopes.clone(),
            inner.user(text("sub")).is_some(),
            inner.knobs.clock_offset_secs,
        )
    };
    if !text("iss").eq_ignore_ascii_case(&service_account) {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        );
    }
    if text("aud") != token_url {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!("Invalid JWT: audience must be {token_url}"),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + offset;
    let timeframe_ok = match (number("iat"), number("exp")) {
        (Some(iat), Some(exp)) => exp > now && iat <= now + skew && exp > iat && exp - iat <= 3600,
        _ => false,
    };
    if !timeframe_ok {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let requested: Vec<&str> = text("scope").split_whitespace().collect();
    if text("sub").is_empty() {
        // Without delegation a service account is nobody in Workspace.
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Not a valid email or user ID.",
        );
    }
    if requested.is_empty() || !requested.iter().all(|s| scopes.iter().any(|g| g == s)) {
        return refuse(
            &shared,
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    if !known_sub {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid email or User ID",
        );
    }
    let (token, lifetime) = shared.lock().issue_token(text("sub"));
    (
        StatusCode::OK,
        Json(json!({
            "access_token": token,
            "expires_in": lifetime.as_secs(),
            "token_type": "Bearer",
        })),
    )
        .into_response()
}
