//! Employee sign-in with Microsoft Entra ID: OpenID Connect, the
//! authorization code flow with PKCE, as the Microsoft identity platform
//! documents it (v2.0 endpoints under `login_url`/`{tenant}`).
//!
//! [`start`] makes the authorize URL with a fresh `state`, `nonce` and
//! PKCE verifier (S256), kept by the caller until the browser comes back;
//! [`finish`] redeems the code at the token endpoint (with the client
//! secret and the verifier) and verifies the id token with `jsonwebtoken`:
//! RS256 signature against the tenant's JWKS (by `kid`), `iss`
//! (`{login_url}/{tenant}/v2.0`), `aud` (our client id), `exp`/`nbf`
//! (60 s leeway), and our `nonce`. Nothing else of the token is trusted.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest as _;

/// An Entra web app registration for sign-in.
#[derive(Clone)]
pub struct OidcConfig {
    /// `https://login.microsoftonline.com` (national clouds, emulators).
    pub login_url: String,
    /// The directory (tenant) id.
    pub tenant: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret (never printed).
    pub client_secret: String,
    /// `https://photos.example.com/auth/callback`, as registered.
    pub redirect_uri: String,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("login_url", &self.login_url)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    fn base(&self) -> String {
        format!("{}/{}", self.login_url.trim_end_matches('/'), self.tenant)
    }

    /// The issuer id tokens must name.
    pub fn issuer(&self) -> String {
        format!("{}/v2.0", self.base())
    }
}

/// What the caller keeps between [`start`] and [`finish`] (in memory, keyed
/// by `state`, for a few minutes).
#[derive(Clone, Debug)]
pub struct Pending {
    /// The `state` sent (and expected back).
    pub state: String,
    /// The `nonce` the id token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
}

/// The signed-in person, from a verified id token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The user's object id.
    pub oid: String,
    /// The UPN (`preferred_username`).
    pub preferred_username: String,
    /// The display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Group object ids (the app registration's group claims).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The nonce sent.
    #[serde(default)]
    nonce: Option<String>,
}

/// Why a sign-in with Entra failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The identity platform could not be reached or answered an error.
    #[error("Entra sign-in failed at {what}: {detail}")]
    Endpoint {
        /// Which endpoint.
        what: &'static str,
        /// What it said.
        detail: String,
    },
    /// The id token is not acceptable (signature, issuer, audience,
    /// expiry or nonce).
    #[error("the id token was refused: {0}")]
    Token(String),
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    if let Err(e) = getrandom::getrandom(&mut bytes) {
        panic!("the operating system gave no random bytes for a sign-in: {e}");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A new sign-in: the authorize URL to send the browser to, and what to
/// keep until it comes back.
pub fn start(config: &OidcConfig) -> (String, Pending) {
    let pending = Pending {
        state: random(),
        nonce: random(),
        verifier: random(),
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(pending.verifier.as_bytes()));
    let pairs = [
        ("client_id", config.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("response_mode", "query"),
        ("scope", "openid profile"),
        ("state", pending.state.as_str()),
        ("nonce", pending.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    (
        format!(
            "{}/oauth2/v2.0/authorize?{}",
            config.base(),
            query.join("&")
        ),
        pending,
    )
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

/// Redeems `code` (from the browser's return, whose `state` matched
/// `pending.state`) and verifies the id token.
///
/// # Errors
/// [`OidcError::Endpoint`], [`OidcError::Token`].
pub async fn finish(
    config: &OidcConfig,
    http: &reqwest::Client,
    pending: &Pending,
    code: &str,
) -> Result<Claims, OidcError> {
    let form = [
        ("client_id", config.client_id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code_verifier", pending.verifier.as_str()),
        ("client_secret", config.client_secret.as_str()),
        ("scope", "openid profile"),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let endpoint = |detail: String| OidcError::Endpoint {
        what: "the token endpoint",
        detail,
    };
    let answer = http
        .post(format!("{}/oauth2/v2.0/token", config.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| endpoint(e.to_string()))?;
    let bytes = answer.bytes().await.map_err(|e| endpoint(e.to_string()))?;
    let token: TokenAnswer =
        serde_json::from_slice(&bytes).map_err(|e| endpoint(format!("not JSON: {e}")))?;
    let Some(id_token) = token.id_token else {
        return Err(endpoint(format!(
            "{}: {}",
            token.error.unwrap_or_default(),
            token.error_description.unwrap_or_default()
        )));
    };
    verify(config, http, pending, &id_token).await
}

/// Verifies an id token (see the module docs).
///
/// # Errors
/// [`OidcError::Token`]; [`OidcError::Endpoint`] when the keys cannot be
/// read.
pub async fn verify(
    config: &OidcConfig,
    http: &reqwest::Client,
    pending: &Pending,
    id_token: &str,
) -> Result<Claims, OidcError> {
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|e| OidcError::Token(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(OidcError::Token(format!(
            "algorithm {:?}, not RS256",
            header.alg
        )));
    }
    let keys_err = |detail: String| OidcError::Endpoint {
        what: "the keys (JWKS)",
        detail,
    };
    let jwks: Jwks = http
        .get(format!("{}/discovery/v2.0/keys", config.base()))
        .send()
        .await
        .map_err(|e| keys_err(e.to_string()))?
        .bytes()
        .await
        .map_err(|e| keys_err(e.to_string()))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| keys_err(e.to_string())))?;
    let key = jwks
        .keys
        .iter()
        .find(|k| k.kty == "RSA" && k.kid.is_some() && k.kid == header.kid)
        .ok_or_else(|| {
            OidcError::Token("it is signed with a key the tenant does not publish".into())
        })?;
    let (Some(n), Some(e)) = (&key.n, &key.e) else {
        return Err(OidcError::Token("the published key has no modulus".into()));
    };
    let decoding =
        DecodingKey::from_rsa_components(n, e).map_err(|e| OidcError::Token(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[config.issuer()]);
    validation.set_audience(&[config.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<Claims>(id_token, &decoding, &validation)
        .map_err(|e| OidcError::Token(e.to_string()))?;
    if data.claims.nonce.as_deref() != Some(pending.nonce.as_str()) {
        return Err(OidcError::Token("the nonce is not the one sent".into()));
    }
    Ok(data.claims)
}

/// Team mode's sign-in with Entra: the pending sign-ins (by `state`, ten
/// minutes) and who approves (group object ids in the `groups` claim, or
/// named UPNs).
#[derive(Debug)]
pub struct EntraSignIn {
    config: OidcConfig,
    http: reqwest::Client,
    approvers: crate::signin::Approvers,
    pending: std::sync::Mutex<std::collections::HashMap<String, (Pending, std::time::Instant)>>,
}

/// How long a browser may take at Entra's sign-in page.
const PENDING_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

impl EntraSignIn {
    /// Sign-in with `config`; `approvers.group` is a group's object id.
    pub fn new(config: OidcConfig, approvers: crate::signin::Approvers) -> Self {
        EntraSignIn {
            config,
            http: reqwest::Client::new(),
            approvers,
            pending: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (Pending, std::time::Instant)>>
    {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a sign-in: the URL to send the browser to, and its `state`
    /// (the caller ties it to the browser with a short-lived cookie).
    pub fn begin(&self) -> (String, String) {
        let (url, pending) = start(&self.config);
        let state = pending.state.clone();
        let mut map = self.pending();
        map.retain(|_, (_, at)| at.elapsed() < PENDING_LIFETIME);
        if map.len() < 100_000 {
            map.insert(state.clone(), (pending, std::time::Instant::now()));
        }
        (url, state)
    }

    /// Finishes the sign-in the browser came back from with `code` for
    /// `state` (each state works once).
    ///
    /// # Errors
    /// [`crate::signin::SignInError::Refused`] for an unknown or expired
    /// state or a token that fails verification;
    /// [`crate::signin::SignInError::Unavailable`] when Entra cannot be
    /// reached.
    pub async fn complete(
        &self,
        state: &str,
        code: &str,
    ) -> Result<crate::signin::Employee, crate::signin::SignInError> {
        use crate::signin::SignInError;
        let Some((pending, at)) = self.pending().remove(state) else {
            return Err(SignInError::Refused);
        };
        if at.elapsed() >= PENDING_LIFETIME {
            return Err(SignInError::Refused);
        }
        let claims = match finish(&self.config, &self.http, &pending, code).await {
            Ok(c) => c,
            Err(OidcError::Token(why)) => {
                tracing::warn!(%why, "an Entra id token was refused");
                return Err(SignInError::Refused);
            }
            Err(e) => return Err(SignInError::Unavailable(e.to_string())),
        };
        let approver = self
            .approvers
            .accounts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&claims.preferred_username))
            || self
                .approvers
                .group
                .as_ref()
                .is_some_and(|g| claims.groups.iter().any(|c| c.eq_ignore_ascii_case(g)));
        let mut user = userphoto_directory::User::new(claims.oid.clone())
            .with_upn(claims.preferred_username.clone());
        if let Some(name) = &claims.name {
            user = user.with_display_name(name.clone());
        }
        Ok(crate::signin::Employee {
            user,
            name: claims.preferred_username,
            display_name: claims.name,
            approver,
        })
    }
}
