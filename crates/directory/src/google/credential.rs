//! Signing in as a Google service account with domain-wide delegation,
//! and keeping the access token fresh.
//!
//! How (Google's "Using OAuth 2.0 for Server to Server Applications"): an
//! RS256 JWT signed with the service account's private key, with claims
//! `iss` = the service account's e-mail, `scope` = the scopes asked for,
//! `aud` = the token endpoint, `iat` = now, `exp` = now + 1 hour (Google's
//! maximum) and `sub` = the admin to act as, is exchanged at the token
//! endpoint with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
//! for an access token (valid an hour).
//!
//! The key comes from the JSON key file the Cloud console downloads, read
//! from a file (refused on Unix when its group or others may read it) or
//! an environment variable. The private key and tokens are held as
//! `EncodingKey` and [`SecretString`] and never appear in a message or a
//! log line; `Debug` shows the service account's e-mail only.
//!
//! The [`TokenCache`] hands one token to every request, renews it five
//! minutes before it expires (or halfway for short-lived tokens), and
//! forgets it after a 401 so the next request signs in again. One sign-in
//! runs at a time.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Deserialize;

use super::errors::token_refused;
use crate::error::{Error, Result};
use crate::graph::credential::TokenSlot;
use crate::graph::http::{describe_reqwest, read_body};

/// `grant_type` of the JWT bearer flow.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long a signed assertion is valid (Google's maximum: one hour).
const ASSERTION_LIFETIME: u64 = 3600;
/// How many times a sign-in is retried when Google is busy or down.
const TOKEN_RETRIES: u32 = 3;

/// The fields of a service account key file we use.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    private_key_id: String,
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A service account's key, ready to sign assertions.
pub struct ServiceAccountKey {
    client_email: String,
    client_id: String,
    private_key_id: String,
    token_uri: Option<String>,
    key: EncodingKey,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads a key file's JSON text. `origin` names where it came from
    /// (a path or an environment variable), for messages.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it is not a service account key file
    /// or the private key is not an RSA key; the message never includes
    /// the file's content.
    pub fn from_json(text: &[u8], origin: &str) -> Result<Self> {
        let invalid = |what: String| Error::InvalidConfig {
            message: format!("{origin}: {what}"),
        };
        // serde's message may quote a value; give the position only.
        let file: KeyFile = serde_json::from_slice(text).map_err(|e| {
            invalid(format!(
                "is not a service account key file (JSON with type, client_email and private_key; the problem is at line {}, column {}); download a JSON key in the Cloud console under IAM & Admin > Service accounts > Keys",
                e.line(),
                e.column()
            ))
        })?;
        if file.kind != "service_account" {
            return Err(invalid(format!(
                "is a {:?} credential, not a service account key; create a key for a service account (IAM & Admin > Service accounts > Keys > Add key > JSON)",
                file.kind
            )));
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes()).map_err(|_| {
            invalid("private_key is not an RSA private key in PEM; download a new JSON key".into())
        })?;
        Ok(ServiceAccountKey {
            client_email: file.client_email,
            client_id: file.client_id,
            private_key_id: file.private_key_id,
            token_uri: file.token_uri,
            key,
        })
    }

    /// Reads a key file, refusing one that others may read (Unix).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it cannot be read, is readable by its
    /// group or others, or is not a key file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        check_private(path)?;
        let text = std::fs::read(path).map_err(|e| Error::InvalidConfig {
            message: format!("the service account key file {origin} cannot be read: {e}"),
        })?;
        Self::from_json(&text, &origin)
    }

    /// The service account's e-mail.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The service account's numeric client id (what the Admin console's
    /// domain-wide delegation page asks for).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint the key file names, if any.
    pub fn token_uri(&self) -> Option<&str> {
        self.token_uri.as_deref()
    }

    /// A signed assertion for `scope`, acting as `subject`, for `aud`.
    pub(crate) fn assertion(&self, scope: &str, subject: &str, aud: &str) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": aud,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "sub": subject,
        });
        let mut header = Header::new(Algorithm::RS256);
        if !self.private_key_id.is_empty() {
            header.kid = Some(self.private_key_id.clone());
        }
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::other("google", format!("cannot sign the sign-in token: {e}")))
    }
}

/// Refuses a key file its group or others may read (Unix).
#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| Error::InvalidConfig {
        message: format!(
            "the service account key file {} cannot be read: {e}",
            path.display()
        ),
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::InvalidConfig {
            message: format!(
                "the service account key file {} may be read by other users (mode {:o}); make it private: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            ),
        });
    }
    Ok(())
}

/// On Windows the file's ACL is the admin's to set.
#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// One access token shared by every request, renewed before it expires.
pub(crate) struct TokenCache {
    http: reqwest::Client,
    token_url: String,
    key: ServiceAccountKey,
    subject: String,
    scope: String,
    slot: TokenSlot,
    sign_ins: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.token_url)
            .field("key", &self.key)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        key: ServiceAccountKey,
        subject: String,
        scope: String,
    ) -> Self {
        TokenCache {
            http,
            token_url,
            key,
            subject,
            scope,
            slot: TokenSlot::default(),
            sign_ins: AtomicU64::new(0),
        }
    }

    /// How many times this cache signed in.
    pub(crate) fn sign_ins(&self) -> u64 {
        self.sign_ins.load(Ordering::Relaxed)
    }

    /// A valid token, signing in if there is none or it is about to expire.
    pub(crate) async fn get(&self) -> Result<SecretString> {
        self.slot.get(self.sign_in()).await
    }

    /// Forgets `token` (after a 401), unless another task already renewed it.
    pub(crate) async fn invalidate(&self, token: &SecretString) {
        self.slot.invalidate(token).await;
    }

    async fn sign_in(&self) -> Result<(SecretString, Duration)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let assertion = self
                .key
                .assertion(&self.scope, &self.subject, &self.token_url)?;
            let sent = self
                .http
                .post(&self.token_url)
                .form(&[
                    ("grant_type", JWT_BEARER),
                    ("assertion", assertion.as_str()),
                ])
                .send()
                .await;
            let retry = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body: Vec<u8> = read_body(response).await.unwrap_or_default();
                    if (200..300).contains(&status) {
                        let answer: TokenAnswer =
                            serde_json::from_slice(&body).map_err(|_| Error::Unauthenticated {
                                message: "Google's token endpoint answered without an access token"
                                    .to_owned(),
                                hint: "check token_url in [google]".to_owned(),
                            })?;
                        self.sign_ins.fetch_add(1, Ordering::Relaxed);
                        let lifetime =
                            Duration::from_secs(answer.expires_in.unwrap_or(3600).max(1));
                        tracing::debug!(subject = %self.subject, ?lifetime, "google: signed in");
                        return Ok((SecretString::from(answer.access_token), lifetime));
                    }
                    if status < 500 && status != 429 {
                        return Err(token_refused(
                            status,
                            &body,
                            &self.key.client_email,
                            &self.key.client_id,
                            &self.scope,
                            &self.subject,
                        ));
                    }
                    format!("HTTP {status}")
                }
                Err(e) => describe_reqwest(&e),
            };
            if attempt > TOKEN_RETRIES {
                return Err(Error::Unavailable {
                    message: format!(
                        "cannot sign in to Google at {} ({retry})",
                        crate::graph::http::host_of(&self.token_url)
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_that_is_not_one_is_refused_without_showing_it() {
        let e = ServiceAccountKey::from_json(
            br#"{"type":"service_account","client_email":"a@b","private_key":"TOPSECRET"}"#,
            "key.json",
        )
        .expect_err("not a key");
        let text = e.to_string();
        assert!(text.contains("private_key is not an RSA"), "{text}");
        assert!(!text.contains("TOPSECRET"), "{text}");
        let e = ServiceAccountKey::from_json(
            br#"{"type":"authorized_user","client_email":"a@b","private_key":"x"}"#,
            "key.json",
        )
        .expect_err("user credential");
        assert!(e.to_string().contains("not a service account key"), "{e}");
        let e =
            ServiceAccountKey::from_json(b"{\"private_key\": 7 SECRET", "env USERPHOTO_GOOGLE_KEY")
                .expect_err("broken");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().starts_with("env USERPHOTO_GOOGLE_KEY"), "{e}");
    }
}
