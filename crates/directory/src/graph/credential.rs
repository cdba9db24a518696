//! Signing in to Entra ID as the app, and keeping the access token fresh.
//!
//! Why a module of its own: auth is where unattended jobs fail at 3 a.m.
//! Two credentials are supported for app-only access (OAuth 2.0 client
//! credentials grant, as Microsoft documents it):
//!
//! * a **client secret**, sent as `client_secret`;
//! * a **certificate** (Microsoft's recommendation): a JWT client assertion
//!   signed RS256 with the certificate's private key, with headers `x5t`
//!   (base64url SHA-1 thumbprint) and `x5t#S256`, and claims `aud` = the
//!   token endpoint, `iss` = `sub` = the client id, a unique `jti`, `nbf`,
//!   `iat` and a 10-minute `exp`.
//!
//! * an admin's **delegated sign-in** (`userphoto login m365`, device
//!   code flow): the saved refresh token is exchanged, and the rotated one
//!   saved again.
//!
//! The [`TokenCache`] (modelled on object_store's) hands out one token to
//! every request, renews it *before* it expires (five minutes early, or
//! halfway for short-lived tokens), and forgets it when Graph answers 401
//! `InvalidAuthenticationToken`, so the next request signs in again. Only
//! one sign-in runs at a time. Secrets and tokens are [`SecretString`]s and
//! never appear in a log line or a message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use sha1::Digest as _;
use tokio::time::Instant;

use super::errors::token_refused;
use crate::error::{Error, Result};

/// How early a token is renewed, at most.
const RENEW_EARLY: Duration = Duration::from_secs(300);
/// How long a client assertion is valid.
const ASSERTION_LIFETIME: u64 = 600;
/// How many times a sign-in is retried when Entra ID is busy or down.
const TOKEN_RETRIES: u32 = 3;

/// How the app proves who it is.
#[non_exhaustive]
pub enum GraphCredential {
    /// A client secret.
    Secret(SecretString),
    /// A certificate with its private key.
    Certificate(CertificateCredential),
    /// An admin signed in with `userphoto login m365` (delegated
    /// permissions); the refresh token is kept in this file.
    Delegated(super::device::TokenFile),
}

impl fmt::Debug for GraphCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphCredential::Secret(_) => f.write_str("Secret(***)"),
            GraphCredential::Certificate(c) => write!(f, "Certificate(x5t {})", c.x5t),
            GraphCredential::Delegated(file) => write!(f, "Delegated({file:?})"),
        }
    }
}

/// A certificate and its private key, ready to sign client assertions.
pub struct CertificateCredential {
    x5t: String,
    x5t_s256: String,
    key: EncodingKey,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl CertificateCredential {
    /// Reads a PEM text holding the certificate and its unencrypted
    /// private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), in
    /// any order. `origin` names where it came from, for messages.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when either part is missing, the key is
    /// encrypted or not RSA.
    pub fn from_pem(pem_text: &[u8], origin: &str) -> Result<Self> {
        let invalid = |what: String| Error::InvalidConfig {
            message: format!("{origin}: {what}"),
        };
        let blocks = pem::parse_many(pem_text)
            .map_err(|e| invalid(format!("the certificate file is not PEM ({e})")))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| invalid("the certificate file has no CERTIFICATE block; put the certificate and its private key in one PEM file".into()))?;
        if blocks.iter().any(|b| b.tag() == "ENCRYPTED PRIVATE KEY") {
            return Err(invalid("the private key is encrypted; store it unencrypted in a file only the service account can read (openssl pkcs8 -nocrypt)".into()));
        }
        let key = blocks
            .iter()
            .find(|b| matches!(b.tag(), "PRIVATE KEY" | "RSA PRIVATE KEY"))
            .ok_or_else(|| invalid("the certificate file has no PRIVATE KEY block; put the certificate and its private key in one PEM file".into()))?;
        let key = EncodingKey::from_rsa_pem(pem::encode(key).as_bytes()).map_err(|_| {
            invalid("the private key is not an RSA key jsonwebtoken can use; create an RSA 2048 certificate".into())
        })?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(CertificateCredential {
            x5t: b64.encode(sha1::Sha1::digest(cert.contents())),
            x5t_s256: b64.encode(sha2::Sha256::digest(cert.contents())),
            key,
        })
    }

    /// The SHA-1 thumbprint as Entra ID shows it (hex, upper case).
    pub fn thumbprint(&self) -> String {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.x5t)
            .unwrap_or_default();
        raw.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// A signed client assertion for `token_url`.
    fn assertion(&self, client_id: &str, token_url: &str) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.x5t = Some(self.x5t.clone());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": unique_id(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::other("m365", format!("signing the client assertion failed: {e}")))
    }
}

/// A value unique in this process and very likely everywhere (the `jti`).
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let digest = sha2::Sha256::digest(format!("{nanos}/{n}/{}", std::process::id()));
    hex::encode(&digest[..16])
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// One access token shared by every request, renewed before it expires
/// (five minutes early, or halfway for short-lived tokens); one sign-in
/// at a time. Also the `google` backend's.
#[derive(Default)]
pub(crate) struct TokenSlot {
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenSlot {
    /// The cached token, or the one `sign_in` gets if it is due for
    /// renewal (`sign_in` is only awaited then).
    pub(crate) async fn get(
        &self,
        sign_in: impl std::future::Future<Output = Result<(SecretString, Duration)>>,
    ) -> Result<SecretString> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        let (token, lifetime) = sign_in.await?;
        let early = RENEW_EARLY.min(lifetime / 2);
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(early),
        });
        Ok(token)
    }

    /// Forgets `token` if it is still the cached one (the server said it
    /// is no longer valid), so the next [`get`](Self::get) signs in again.
    pub(crate) async fn invalidate(&self, token: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == token.expose_secret())
        {
            *cached = None;
        }
    }
}

/// The app's access token, fetched once and shared by every request.
pub(crate) struct TokenCache {
    http: reqwest::Client,
    token_url: String,
    tenant_id: String,
    client_id: String,
    scope: String,
    credential: GraphCredential,
    slot: TokenSlot,
    sign_ins: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        (tenant_id, client_id): (String, String),
        scope: String,
        credential: GraphCredential,
    ) -> Self {
        TokenCache {
            http,
            token_url,
            tenant_id,
            client_id,
            scope,
            credential,
            slot: TokenSlot::default(),
            sign_ins: AtomicU64::new(0),
        }
    }

    /// How many times we signed in (for tests and logs).
    pub(crate) fn sign_ins(&self) -> u64 {
        self.sign_ins.load(Ordering::Relaxed)
    }

    /// A valid token: the cached one, or a new one if it is due for renewal.
    pub(crate) async fn get(&self) -> Result<SecretString> {
        self.slot.get(self.sign_in()).await
    }

    /// Forgets `token` if it is still the cached one (Graph said it is no
    /// longer valid), so the next [`get`](Self::get) signs in again.
    pub(crate) async fn invalidate(&self, token: &SecretString) {
        self.slot.invalidate(token).await;
    }

    async fn sign_in(&self) -> Result<(SecretString, Duration)> {
        let mut pause = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_sign_in().await {
                Err(e) if e.is_transient() && attempt <= TOKEN_RETRIES => {
                    tracing::debug!(error = %e, attempt, "m365: sign-in failed, retrying");
                    tokio::time::sleep(e.retry_after().unwrap_or(pause)).await;
                    pause *= 2;
                }
                other => return other,
            }
        }
    }

    async fn try_sign_in(&self) -> Result<(SecretString, Duration)> {
        let grant = match self.credential {
            GraphCredential::Delegated(_) => "refresh_token",
            _ => "client_credentials",
        };
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", grant.to_owned()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.credential {
            GraphCredential::Delegated(file) => {
                let token = file.load(&self.tenant_id, &self.client_id)?;
                form.push(("refresh_token", token.expose_secret().to_owned()));
            }
            GraphCredential::Secret(secret) => {
                form.push(("client_secret", secret.expose_secret().to_owned()));
            }
            GraphCredential::Certificate(cert) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push((
                    "client_assertion",
                    cert.assertion(&self.client_id, &self.token_url)?,
                ));
            }
        }
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::Unavailable {
                message: format!(
                    "cannot reach the Entra ID token endpoint {} ({})",
                    self.token_url,
                    super::http::describe_reqwest(&e)
                ),
            })?;
        let status = response.status();
        let retry_after = super::http::retry_after(response.headers());
        let body = match super::http::read_body(response).await {
            Ok(body) => body,
            Err(super::http::BodyError::Broken(e)) => {
                return Err(Error::Unavailable {
                    message: format!(
                        "the Entra ID token endpoint {} broke off its answer ({})",
                        self.token_url,
                        super::http::describe_reqwest(&e)
                    ),
                })
            }
            Err(super::http::BodyError::TooLarge) => {
                return Err(super::http::too_large(&self.token_url, "login_url"))
            }
        };
        if status.as_u16() == 429 {
            return Err(Error::Throttled { retry_after });
        }
        if status.is_server_error() {
            return Err(Error::Unavailable {
                message: format!(
                    "the Entra ID token endpoint {} answered HTTP {}",
                    self.token_url,
                    status.as_u16()
                ),
            });
        }
        if !status.is_success() {
            return Err(token_refused(status.as_u16(), &body, &self.client_id));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            Error::other(
                "m365",
                format!(
                    "the Entra ID token endpoint {} answered without an access token",
                    self.token_url
                ),
            )
        })?;
        if let (GraphCredential::Delegated(file), Some(rotated)) =
            (&self.credential, answer.refresh_token)
        {
            file.save(
                &self.tenant_id,
                &self.client_id,
                &SecretString::from(rotated),
            )?;
        }
        self.sign_ins.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(client_id = %self.client_id, "m365: signed in");
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3599).max(1));
        Ok((SecretString::from(answer.access_token), lifetime))
    }
}
