//! The emulated Microsoft identity platform token endpoint
//! (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and the bearer
//! check every Graph request passes.
//!
//! Why a module of its own: certificate sign-in is the part most likely to
//! be subtly wrong (thumbprint, audience, algorithm, expiry), so the
//! emulator verifies the client assertion for real — the RS256/PS256
//! signature against the registered certificate's public key, `aud` equal
//! to the token endpoint, `iss` = `sub` = the client id, `exp`/`nbf` — and
//! answers each mistake with the AADSTS code Entra ID documents for it.

// Early exits carry the finished `Response`; boxing it would only add
// noise to a test double that is never on a hot path.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use sha1::Digest as _;

use super::odata::graph_error;
use super::Shared;

/// The client assertion type OAuth uses for a signed JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An identity-platform error: `{"error", "error_description", "error_codes"}`.
pub(crate) fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: 00000000-0000-0000-0000-000000000000 Timestamp: 2026-01-01 00:00:00Z"),
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    });
    (status, Json(body)).into_response()
}

/// The registered certificate: its SHA-1 and SHA-256 thumbprints
/// (base64url) and its RSA public key.
#[derive(Clone)]
pub(crate) struct RegisteredCert {
    x5t: String,
    x5t_s256: String,
    key: DecodingKey,
}

impl std::fmt::Debug for RegisteredCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredCert")
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl RegisteredCert {
    /// Reads the first certificate of a PEM text.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| format!("no certificate in the PEM: {e}"))?;
        let der = pem.contents;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let rsa = &cert.public_key().subject_public_key.data;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(RegisteredCert {
            x5t: b64.encode(sha1::Sha1::digest(&der)),
            x5t_s256: b64.encode(sha2::Sha256::digest(&der)),
            key: DecodingKey::from_rsa_der(rsa),
        })
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let (tenant_ok, client_ok, secret, base_url, secret_expired) = {
        let inner = shared.lock();
        (
            tenant.eq_ignore_ascii_case(&inner.knobs.tenant_id),
            field("client_id").eq_ignore_ascii_case(&inner.knobs.client_id),
            inner.knobs.client_secret.clone(),
            inner.base_url.clone(),
            inner.knobs.secret_expired,
        )
    };
    if !tenant_ok {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    }
    match field("grant_type") {
        "client_credentials" => {}
        "authorization_code" => return super::oidc::code_grant(&shared, &tenant, &form),
        "urn:ietf:params:oauth:grant-type:device_code" | "refresh_token" if client_ok => {
            return delegated_grant(&shared, &form);
        }
        _ => {}
    }
    if field("grant_type") != "client_credentials" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if !client_ok {
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
    if !field("scope").ends_with("/.default") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    }
    if let Some(given) = form.get("client_secret") {
        if secret.as_deref() != Some(given.as_str()) {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        if secret_expired {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                &format!(
                    "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                    field("client_id")
                ),
            );
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        if field("client_assertion_type") != JWT_BEARER {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            );
        }
        let audience = format!("{base_url}/{tenant}/oauth2/v2.0/token");
        if let Some(refusal) = check_assertion(&shared, assertion, &audience) {
            return refusal;
        }
    } else {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let (token, lifetime) = shared.lock().issue_token();
    tracing::debug!(target: "graph_emulator", "graph emulator: issued a token");
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

/// Verifies a client assertion; `Some(response)` refuses it.
fn check_assertion(shared: &Shared, assertion: &str, audience: &str) -> Option<Response> {
    let malformed = || {
        Some(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        ))
    };
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return malformed();
    };
    let (cert, client_id) = {
        let inner = shared.lock();
        (shared.cert.clone(), inner.knobs.client_id.clone())
    };
    let key_not_found = || {
        Some(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: 'unknown'. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id.]",
        ))
    };
    let Some(cert) = cert else {
        return key_not_found();
    };
    let thumb_ok = header.x5t.as_deref() == Some(cert.x5t.as_str())
        || header.x5t_s256.as_deref() == Some(cert.x5t_s256.as_str());
    if !thumb_ok {
        return key_not_found();
    }
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return malformed();
    }
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[client_id.as_str()]);
    validation.sub = Some(client_id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    match jsonwebtoken::decode::<serde_json::Value>(assertion, &cert.key, &validation) {
        Ok(data) if data.claims.get("jti").and_then(|j| j.as_str()).is_some() => None,
        Ok(_) => malformed(),
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            let (status, code, text) = match e.kind() {
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => (
                    StatusCode::BAD_REQUEST,
                    700024,
                    "Client assertion is not within its valid time range.".to_owned(),
                ),
                ErrorKind::InvalidAudience => (
                    StatusCode::BAD_REQUEST,
                    700212,
                    format!("No matching federated identity record found for presented assertion audience. The audience must be '{audience}'."),
                ),
                ErrorKind::InvalidSignature => (
                    StatusCode::UNAUTHORIZED,
                    700027,
                    "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]".to_owned(),
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    50027,
                    format!("JWT token is invalid or malformed ({e})."),
                ),
            };
            Some(aad_error(status, "invalid_client", code, &text))
        }
    }
}

/// Checks the `Authorization: Bearer …` header of a Graph request.
pub(crate) fn check_bearer(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut inner = shared.lock();
    let refuse = |msg: &str| {
        Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            msg,
        ))
    };
    if token.is_empty() {
        inner.stats.unauthorized += 1;
        return refuse("Access token is empty.");
    }
    match inner.tokens.get(token) {
        Some(expiry) if *expiry > Instant::now() => Ok(()),
        Some(_) => {
            inner.stats.unauthorized += 1;
            refuse("Lifetime validation failed, the token is expired.")
        }
        None => {
            inner.stats.unauthorized += 1;
            refuse("IDX14100: JWT is not well formed, there are no dots (.).")
        }
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: starts a device code sign-in.
pub(crate) async fn device_code(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = shared.lock();
    if !tenant.eq_ignore_ascii_case(&inner.knobs.tenant_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let client = form
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    if !client.eq_ignore_ascii_case(&inner.knobs.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client}' was not found in the directory '{tenant}'."
            ),
        );
    }
    let code = inner.opaque("device");
    inner.device_codes.insert(code.clone(), 0);
    let uri = format!("{}/devicelogin", inner.base_url);
    let user_code = format!("EMU{:05}", inner.device_codes.len());
    Json(json!({
        "device_code": code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": 900,
        "interval": inner.knobs.device_code_interval.as_secs(),
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// The device code and refresh token grants (a signed-in admin).
fn delegated_grant(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    if field("grant_type") == "refresh_token" {
        let token = field("refresh_token");
        if !inner.refresh_tokens.remove(&token) {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            );
        }
    } else {
        let code = field("device_code");
        let pending = inner.knobs.device_code_pending_polls;
        let Some(polls) = inner.device_codes.get_mut(&code) else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                70019,
                "Verification code expired.",
            );
        };
        *polls += 1;
        if *polls <= pending {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            );
        }
        inner.device_codes.remove(&code);
    }
    let refresh = inner.opaque("refresh");
    inner.refresh_tokens.insert(refresh.clone());
    let (token, lifetime) = inner.issue_token();
    Json(json!({
        "token_type": "Bearer",
        "scope": field("scope"),
        "expires_in": lifetime.as_secs(),
        "access_token": token,
        "refresh_token": refresh,
    }))
    .into_response()
}
