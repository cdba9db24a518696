//! The Google Workspace EMULATOR: Google's OAuth 2.0 token endpoint for
//! service accounts (JWT bearer grant with domain-wide delegation) and the
//! Admin SDK Directory API's `users.list`, `users.get` and `users.photos`,
//! as Google documents them, with knobs for the hard parts (quota errors,
//! 503s, a self-set photo that survives an update, delegation not granted,
//! the API not enabled, short-lived tokens).
//!
//! Why: Google Workspace cannot be reached from tests. Sources for each
//! behaviour are listed in `docs/GOOGLE.md`. [`GoogleEmulator::start`]
//! binds `127.0.0.1:0` and serves in the background until dropped; the
//! `google-emulator` binary serves the same router on a loopback port.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/token` | `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion` = an RS256 JWT checked against the service account's public key: `iss`, `scope`, `aud` (this URL), `iat`/`exp` (≤ 1 h, not expired, not from the future), `sub` (a user of the domain) |
//! | GET | `/admin/directory/v1/users` | `customer` or `domain`, `maxResults` (1–500), `pageToken`, `query` |
//! | GET | `/admin/directory/v1/users/{userKey}` | one user (id, primary e-mail or alias) |
//! | GET, PUT, PATCH, DELETE | `/admin/directory/v1/users/{userKey}/photos/thumbnail` | `users.photos`: `photoData` in web-safe base64, `mimeType`, `width`, `height` |
//! | GET | `/_emulator/stats` | counters (not Google) |

mod auth;
mod knobs;
mod query;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;

pub use self::knobs::{
    service_account_json, unknown_key_json, GoogleUser, Knobs, Quota, DEFAULT_ADMIN,
    DEFAULT_CUSTOMER_ID, DEFAULT_DOMAIN, DEFAULT_NON_ADMIN, OTHER_PRIVATE_PEM,
    SERVICE_ACCOUNT_CLIENT_ID, SERVICE_ACCOUNT_EMAIL, TEST_SA_PRIVATE_PEM, TEST_SA_PUBLIC_PEM,
    USER_SCOPE,
};

/// Counters of what the emulator has seen.
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Directory API requests (token requests not included).
    pub requests: u64,
    /// Requests answered with a quota error (403 or 429).
    pub quota_errors: u64,
    /// Requests answered 503 at random.
    pub unavailable: u64,
    /// Photo updates applied.
    pub writes: u64,
    /// Photo deletes applied.
    pub deletes: u64,
    /// Updates that answered 200 but left a self-set photo in place.
    pub updates_ignored: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Token requests refused.
    pub tokens_refused: u64,
}

/// A stored photo.
#[derive(Clone, Debug)]
pub(crate) struct StoredPhoto {
    pub(crate) bytes: Vec<u8>,
    pub(crate) mime_type: String,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Set by the user themself (survives an update while the knob is on).
    pub(crate) self_set: bool,
}

/// A token bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(q: Quota) -> Self {
        Bucket {
            rate: q.rate_per_sec.max(0.001),
            burst: q.burst,
            tokens: q.burst,
            at: Instant::now(),
        }
    }

    /// Takes one token; `false` when the bucket is empty.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Everything mutable, behind one lock.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) knobs: Knobs,
    pub(crate) users: Vec<GoogleUser>,
    pub(crate) photos: HashMap<String, StoredPhoto>,
    pub(crate) writes_per_user: HashMap<String, u64>,
    /// Access token → (subject, expiry).
    pub(crate) tokens: HashMap<String, (String, Instant)>,
    pub(crate) bucket: Option<Bucket>,
    dice: u64,
    pub(crate) stats: Stats,
    /// `http://127.0.0.1:PORT`: the expected `aud` is this plus `/token`.
    pub(crate) base_url: String,
}

impl Inner {
    fn new(knobs: Knobs) -> Self {
        let mut users: Vec<GoogleUser> = (0..knobs.users)
            .map(|i| GoogleUser::numbered(&knobs.domain, i))
            .collect();
        users.extend(knobs.extra_users.iter().cloned());
        // users.list pages in one stable order; sorted once, not per page.
        users.sort_by(|a, b| a.primary_email.cmp(&b.primary_email));
        let mut photos = HashMap::new();
        for u in users.iter().filter(|u| u.self_set_photo) {
            photos.insert(
                u.id.clone(),
                StoredPhoto {
                    bytes: self_set_bytes(&u.id),
                    mime_type: "image/jpeg".to_owned(),
                    width: 96,
                    height: 96,
                    self_set: true,
                },
            );
        }
        Inner {
            bucket: knobs.quota.map(Bucket::new),
            dice: knobs.seed | 1,
            users,
            photos,
            writes_per_user: HashMap::new(),
            tokens: HashMap::new(),
            stats: Stats::default(),
            base_url: String::new(),
            knobs,
        }
    }

    /// A number in `[0, 1)` (xorshift: reproducible from the seed).
    pub(crate) fn roll(&mut self) -> f64 {
        self.dice ^= self.dice << 13;
        self.dice ^= self.dice >> 7;
        self.dice ^= self.dice << 17;
        (self.dice >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The user whose id, primary e-mail or alias is `key`
    /// (case-insensitive), as `userKey` addresses users.
    pub(crate) fn user(&self, key: &str) -> Option<&GoogleUser> {
        self.users.iter().find(|u| {
            u.id == key
                || u.primary_email.eq_ignore_ascii_case(key)
                || u.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
        })
    }

    /// Issues a token for `subject`.
    pub(crate) fn issue_token(&mut self, subject: &str) -> (String, Duration) {
        let lifetime = self.knobs.token_lifetime;
        let n = self.roll();
        let token = format!(
            "ya29.emulator.{}.{:x}",
            self.stats.tokens_issued,
            (n * 1e15) as u64
        );
        self.tokens.insert(
            token.clone(),
            (subject.to_owned(), Instant::now() + lifetime),
        );
        self.stats.tokens_issued += 1;
        (token, lifetime)
    }
}

/// The bytes of a "self-set" photo: a fixed, recognisable marker (the
/// emulator does not decode images).
fn self_set_bytes(id: &str) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend_from_slice(format!("self-set photo of {id}").as_bytes());
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

/// The state handlers share.
#[derive(Clone)]
pub(crate) struct Shared {
    inner: Arc<Mutex<Inner>>,
    key: Arc<jsonwebtoken::DecodingKey>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// Locks the state (a poisoned lock is taken over: no handler leaves
    /// it half-written in a way later requests care about).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn router(shared: Shared) -> Router {
    let photo = "/admin/directory/v1/users/{key}/photos/thumbnail";
    Router::new()
        .route("/token", post(auth::token))
        .route("/admin/directory/v1/users", get(routes::list_users))
        .route("/admin/directory/v1/users/{key}", get(routes::get_user))
        .route(
            photo,
            get(routes::get_photo)
                .put(routes::update_photo)
                .patch(routes::update_photo)
                .delete(routes::delete_photo),
        )
        .route("/_emulator/stats", get(routes::stats))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(shared)
}

/// A running Google Workspace emulator. Stops when dropped.
#[derive(Debug)]
pub struct GoogleEmulator {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl GoogleEmulator {
    /// Starts an emulator on `127.0.0.1:0` in the background.
    ///
    /// # Errors
    /// When it cannot bind, or the public key does not parse.
    pub async fn start(knobs: Knobs) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, knobs).await
    }

    /// Serves on `listener` in the background.
    ///
    /// # Errors
    /// When the listener has no address, or the public key does not parse.
    pub async fn serve(listener: TcpListener, knobs: Knobs) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(knobs.public_key_pem.as_bytes())
            .map_err(std::io::Error::other)?;
        let mut inner = Inner::new(knobs);
        inner.base_url = format!("http://{addr}");
        let shared = Shared {
            inner: Arc::new(Mutex::new(inner)),
            key: Arc::new(key),
        };
        let app = router(shared.clone());
        let stop = crate::loopback::serve_in_background(listener, app, "google emulator");
        Ok(GoogleEmulator {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT`: the `api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/token`: the `token_url` (and the expected
    /// `aud`).
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The service account key file (JSON) for this emulator.
    pub fn key_json(&self) -> String {
        service_account_json(&self.api_url())
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// The users of the account.
    pub fn users(&self) -> Vec<GoogleUser> {
        self.shared.lock().users.clone()
    }

    /// Photo updates applied to the user with `id`.
    pub fn writes_for(&self, id: &str) -> u64 {
        self.shared
            .lock()
            .writes_per_user
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// Photo updates applied, per user id.
    pub fn writes_per_user(&self) -> HashMap<String, u64> {
        self.shared.lock().writes_per_user.clone()
    }

    /// The photo bytes stored for the user with `id`.
    pub fn stored_photo(&self, id: &str) -> Option<Vec<u8>> {
        self.shared.lock().photos.get(id).map(|p| p.bytes.clone())
    }

    /// Whether the stored photo of `id` is the one the user set themself.
    pub fn has_self_set_photo(&self, id: &str) -> bool {
        self.shared
            .lock()
            .photos
            .get(id)
            .is_some_and(|p| p.self_set)
    }

    /// Changes the knobs of a running emulator (the quota bucket is
    /// rebuilt from them).
    pub fn update(&self, change: impl FnOnce(&mut Knobs)) {
        let mut inner = self.shared.lock();
        change(&mut inner.knobs);
        inner.bucket = inner.knobs.quota.map(Bucket::new);
    }

    /// Revokes every issued token (the next API request answers 401).
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Stops serving.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for GoogleEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
