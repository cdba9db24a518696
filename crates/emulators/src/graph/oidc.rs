//! The emulated OpenID Connect sign-in of the Microsoft identity platform
//! (v2.0 endpoints), as Microsoft documents the authorization code flow
//! with PKCE: `GET/POST /{tenant}/oauth2/v2.0/authorize` (a sign-in form
//! standing in for Entra's page), the `authorization_code` grant of the
//! token endpoint, the JWKS at `/{tenant}/discovery/v2.0/keys` and the
//! discovery document.
//!
//! Id tokens are v2.0 tokens signed RS256 with the emulator's key (the
//! test certificate's, `kid` its SHA-1 thumbprint as Entra uses `x5t`):
//! `iss` `{login_url}/{tenant}/v2.0`, `aud` the client id, `nonce`,
//! `iat`/`nbf`/`exp` (one hour), `oid`, `sub`, `tid`,
//! `preferred_username` (the UPN), `name`, `ver`, and `groups` (object ids,
//! from the `group_members` knob).

#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::Digest as _;

use super::auth::aad_error;
use super::Shared;

const SIGNING_KEY: &str = include_str!("../../fixtures/app.key");
const SIGNING_CERT: &str = super::knobs::TEST_APP_CERT;
/// How long a code may wait to be redeemed (Entra: about ten minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A code handed out, waiting for the token endpoint.
#[derive(Clone, Debug)]
pub(crate) struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    upn: String,
    issued: Instant,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The signing certificate's `kid` and RSA modulus and exponent.
fn jwk() -> Result<(String, String, String), String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(SIGNING_CERT.as_bytes())
        .map_err(|e| format!("signing certificate: {e}"))?;
    let der = pem.contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("signing certificate: {e}"))?;
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = cert.public_key().parsed() else {
        return Err("the signing certificate has no RSA key".into());
    };
    let strip = |b: &[u8]| {
        let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[i..].to_vec()
    };
    Ok((
        b64().encode(sha1::Sha1::digest(&der)),
        b64().encode(strip(rsa.modulus)),
        b64().encode(strip(rsa.exponent)),
    ))
}

fn issuer(shared: &Shared, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", shared.lock().base_url)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn configuration(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
) -> Response {
    let base = shared.lock().base_url.clone();
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) async fn keys() -> Response {
    match jwk() {
        Ok((kid, n, e)) => Json(json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "x5t": kid, "n": n, "e": e,
        }]}))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The checks of an authorize request; `Err` is the page to show.
fn check_request(
    shared: &Shared,
    tenant: &str,
    q: &HashMap<String, String>,
) -> Result<(), Response> {
    let field = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let inner = shared.lock();
    if !tenant.eq_ignore_ascii_case(&inner.knobs.tenant_id) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        ));
    }
    if !field("client_id").eq_ignore_ascii_case(&inner.knobs.client_id) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        ));
    }
    if field("response_type") != "code" {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            700054,
            "response_type 'code' is the only one this emulator supports.",
        ));
    }
    if !field("scope").split(' ').any(|s| s == "openid") || field("redirect_uri").is_empty() {
        return Err(aad_error(StatusCode::BAD_REQUEST, "invalid_request", 900144, "The request body must contain the following parameter: 'scope' with openid, and 'redirect_uri'."));
    }
    if field("code_challenge").is_empty() || field("code_challenge_method") != "S256" {
        return Err(aad_error(StatusCode::BAD_REQUEST, "invalid_request", 9002325, "Proof Key for Code Exchange is required: send code_challenge with code_challenge_method S256."));
    }
    Ok(())
}

fn form_page(q: &HashMap<String, String>, error: Option<&str>) -> Response {
    let hidden: String = q
        .iter()
        .filter(|(k, _)| k.as_str() != "login" && k.as_str() != "passwd")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account (emulator)</title></head><body><h1>Sign in</h1>{error}<form method=\"post\">{hidden}<label>Email, phone, or Skype <input name=\"login\" autocomplete=\"username\"></label><label>Password <input name=\"passwd\" type=\"password\"></label><button type=\"submit\" id=\"idSIButton9\">Sign in</button></form></body></html>"
    ))
    .into_response()
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the sign-in page.
pub(crate) async fn authorize_page(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match check_request(&shared, &tenant, &q) {
        Ok(()) => form_page(&q, None),
        Err(r) => r,
    }
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the form; on success a redirect
/// to `redirect_uri?code=…&state=…`.
pub(crate) async fn authorize(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(q): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = check_request(&shared, &tenant, &q) {
        return r;
    }
    let field = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    let known = inner
        .user(field("login"))
        .filter(|u| u.account_enabled)
        .map(|u| u.user_principal_name.clone());
    let (Some(upn), true) = (known, field("passwd") == inner.knobs.user_password) else {
        drop(inner);
        return form_page(
            &q,
            Some("AADSTS50126: Error validating credentials due to invalid username or password."),
        );
    };
    let code = b64().encode(sha2::Sha256::digest(format!(
        "{}{}",
        inner.opaque("code"),
        upn
    )));
    inner.auth_codes.insert(
        code.clone(),
        AuthCode {
            client_id: field("client_id").to_owned(),
            redirect_uri: field("redirect_uri").to_owned(),
            challenge: field("code_challenge").to_owned(),
            nonce: q.get("nonce").cloned(),
            upn,
            issued: Instant::now(),
        },
    );
    drop(inner);
    let mut to = match url_with(
        field("redirect_uri"),
        &[("code", &code), ("state", field("state"))],
    ) {
        Some(u) => u,
        None => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50011,
                "The redirect URI is not a valid URL.",
            )
        }
    };
    if to.is_empty() {
        to = "/".into();
    }
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// `base` with `pairs` added to its query (percent-encoded).
fn url_with(base: &str, pairs: &[(&str, &str)]) -> Option<String> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return None;
    }
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}{}", query.join("&")))
}

/// The token endpoint's `authorization_code` grant.
pub(crate) fn code_grant(
    shared: &Shared,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    if !field("client_id").eq_ignore_ascii_case(&inner.knobs.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        );
    }
    if inner.knobs.client_secret.as_deref() != Some(field("client_secret")) {
        return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
    }
    // A code is good once, whatever happens next.
    let Some(code) = inner.auth_codes.remove(field("code")) else {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.");
    };
    if code.issued.elapsed() > CODE_LIFETIME {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.");
    }
    if code.redirect_uri != field("redirect_uri")
        || !code.client_id.eq_ignore_ascii_case(field("client_id"))
    {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_grant", 70002, "The redirect URI in the request does not match the one the authorization code was issued for.");
    }
    let verifier = field("code_verifier");
    if b64().encode(sha2::Sha256::digest(verifier.as_bytes())) != code.challenge {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
    }
    let Some(user) = inner.user(&code.upn).cloned() else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    let groups: Vec<String> = inner
        .knobs
        .group_members
        .iter()
        .filter(|(upn, _)| upn.eq_ignore_ascii_case(&user.user_principal_name))
        .map(|(_, g)| g.clone())
        .collect();
    let (access, lifetime) = inner.issue_token();
    let tenant_id = inner.knobs.tenant_id.clone();
    drop(inner);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = json!({
        "aud": field("client_id"),
        "iss": issuer(shared, &tenant_id),
        "iat": now, "nbf": now, "exp": now + 3600,
        "name": user.display_name,
        "nonce": code.nonce,
        "oid": user.id,
        "sub": b64().encode(sha2::Sha256::digest(format!("{}{}", user.id, field("client_id")))),
        "tid": tenant_id,
        "preferred_username": user.user_principal_name,
        "ver": "2.0",
        "groups": groups,
    });
    let (kid, _, _) = match jwk() {
        Ok(k) => k,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid);
    let id_token = match EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes())
        .and_then(|key| jsonwebtoken::encode(&header, &claims, &key))
    {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    Json(json!({
        "token_type": "Bearer",
        "scope": field("scope"),
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": access,
        "id_token": id_token,
    }))
    .into_response()
}
