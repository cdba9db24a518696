//! The Microsoft Graph EMULATOR: the token endpoint of the Microsoft
//! identity platform and the users/photo endpoints of Graph v1.0, as
//! Microsoft documents them, with knobs for the hard parts (paging,
//! throttling, 503s, read-after-write delay, token expiry, users without a
//! mailbox or whose photo we may not change).
//!
//! Why: see the crate docs. [`GraphEmulator::start`] binds `127.0.0.1:0`
//! and serves in the background until dropped; the `graph-emulator` binary
//! serves the same router on a loopback port of your choosing.
//!
//! Endpoints (all relative to [`GraphEmulator::graph_url`], which is also
//! the login URL):
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/{tenant}/oauth2/v2.0/token` | client credentials: `client_secret`, or a JWT `client_assertion` verified against the registered certificate; device code and refresh token grants (delegated sign-in). Refusals as Entra words them (AADSTS 90002, 700016, 7000215, 7000218, 700027, 700024, 50027; knob `secret_expired`: 7000222) |
//! | GET, POST | `/{tenant}/oauth2/v2.0/authorize` | OpenID Connect sign-in: a form for an emulated user's UPN and password ([`DEFAULT_USER_PASSWORD`]); `response_type=code`, PKCE `S256` required; redirects to `redirect_uri` with `code` and `state` (wrong password: AADSTS50126) |
//! | GET | `/{tenant}/discovery/v2.0/keys` | the JWKS the id tokens are signed with (RS256, `kid`) |
//! | GET | `/{tenant}/v2.0/.well-known/openid-configuration` | discovery |
//! | POST | `/{tenant}/oauth2/v2.0/devicecode` | starts a device code sign-in, "approved" after `device_code_pending_polls` polls |
//! | GET | `/v1.0/users` | `$select`, `$top` (1–999), `$filter` (`eq`, `in`, `startswith`, `or`), `@odata.nextLink` paging |
//! | GET | `/v1.0/users/{id or UPN}` | one user |
//! | GET | `/v1.0/users/{id}/photo`, `/photos/{size}` | photo metadata |
//! | GET | `/v1.0/users/{id}/photo/$value`, `/photos/{size}/$value` | photo bytes |
//! | PUT | `/v1.0/users/{id}/photo/$value` | upload (`image/jpeg` or `image/png`, ≤ 4 MB) |
//! | DELETE | `/v1.0/users/{id}/photo`, `/photo/$value` | remove |
//! | GET | `/beta/admin/people/photoUpdateSettings` | the tenant's photo update setting (`source`: `cloud` \| `onPremises`); with `onPremises` photo PUTs and DELETEs are refused (403) |
//! | GET | `/_emulator/stats` | counters (not Graph) |
//!
//! Knob `admin_consent = false`: every Graph call is 403
//! `Authorization_RequestDenied` (a token without roles).

mod auth;
mod knobs;
mod odata;
mod oidc;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use self::knobs::{
    EmulatedUser, Knobs, Throttle, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT,
    DEFAULT_USER_PASSWORD, TEST_APP_CERT, TEST_APP_PEM, UNREGISTERED_PEM,
};
pub use self::odata::MAX_IN_VALUES;
pub use self::state::Stats;

use self::auth::RegisteredCert;
use self::state::Inner;

/// The state handlers share.
#[derive(Clone, Debug)]
pub(crate) struct Shared {
    inner: Arc<Mutex<Inner>>,
    cert: Option<RegisteredCert>,
}

impl Shared {
    /// Locks the state; a handler that panicked mid-update cannot leave it
    /// half-written in a way later requests care about, so a poisoned lock
    /// is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The emulator's router, for serving on a listener of your own.
///
/// `base_url` is what `@odata.nextLink` and the expected assertion audience
/// start with, e.g. `http://127.0.0.1:8765`.
///
/// # Errors
/// When the registered certificate PEM does not parse.
fn router(shared: Shared) -> Router {
    let value = "/v1.0/users/{id}/photo/$value";
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(auth::device_code))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(oidc::authorize_page).post(oidc::authorize),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(oidc::keys))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(oidc::configuration),
        )
        .route("/v1.0/users", get(routes::list_users))
        .route("/v1.0/users/{id}", get(routes::get_user))
        .route(
            "/v1.0/users/{id}/photo",
            get(routes::photo_meta).delete(routes::delete_photo),
        )
        .route(
            value,
            get(routes::photo_value)
                .put(routes::put_photo)
                .delete(routes::delete_photo),
        )
        .route("/v1.0/users/{id}/photos/{size}", get(routes::sized_meta))
        .route(
            "/v1.0/users/{id}/photos/{size}/$value",
            get(routes::sized_value),
        )
        .route(
            "/beta/admin/people/photoUpdateSettings",
            get(routes::photo_update_settings),
        )
        .route("/_emulator/stats", get(routes::stats))
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .with_state(shared)
}

/// A running Graph emulator. Stops when dropped.
#[derive(Debug)]
pub struct GraphEmulator {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl GraphEmulator {
    /// Starts an emulator on `127.0.0.1:0` in the background.
    ///
    /// # Errors
    /// When it cannot bind, or the registered certificate does not parse.
    pub async fn start(knobs: Knobs) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, knobs).await
    }

    /// Serves on `listener` in the background.
    ///
    /// # Errors
    /// When the listener has no address, or the certificate does not parse.
    pub async fn serve(listener: TcpListener, knobs: Knobs) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let cert = match knobs.certificate_pem.as_deref() {
            Some(pem) => Some(RegisteredCert::from_pem(pem).map_err(std::io::Error::other)?),
            None => None,
        };
        let mut inner = Inner::new(knobs);
        inner.base_url = format!("http://{addr}");
        let shared = Shared {
            inner: Arc::new(Mutex::new(inner)),
            cert,
        };
        let app = router(shared.clone());
        let stop = crate::loopback::serve_in_background(listener, app, "graph emulator");
        Ok(GraphEmulator {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the `graph_url`.
    pub fn graph_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `login_url` (the same server).
    pub fn login_url(&self) -> String {
        self.graph_url()
    }

    /// The tenant id it answers for.
    pub fn tenant_id(&self) -> String {
        self.shared.lock().knobs.tenant_id.clone()
    }

    /// The registered application's client id.
    pub fn client_id(&self) -> String {
        self.shared.lock().knobs.client_id.clone()
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// How many uploads were applied to the user with `id`.
    pub fn writes_for(&self, id: &str) -> u64 {
        self.shared
            .lock()
            .writes_per_user
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// Uploads applied per user id.
    pub fn writes_per_user(&self) -> std::collections::HashMap<String, u64> {
        self.shared.lock().writes_per_user.clone()
    }

    /// The users of the tenant.
    pub fn users(&self) -> Vec<EmulatedUser> {
        self.shared.lock().users.clone()
    }

    /// The photo bytes stored for the user with `id` (the newest, even if
    /// readers do not see them yet).
    pub fn stored_photo(&self, id: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .photos
            .get(id)
            .and_then(|p| p.current.clone())
    }

    /// Revokes every issued token: the next Graph request answers 401
    /// `InvalidAuthenticationToken` (a token expiring mid-run).
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Changes the throttle, the fault rates or the read-after-write delay
    /// of a running emulator.
    pub fn update(&self, change: impl FnOnce(&mut Knobs)) {
        let mut inner = self.shared.lock();
        change(&mut inner.knobs);
        inner.bucket = inner
            .knobs
            .throttle
            .map(|t| state::Bucket::new(t.rate_per_sec, t.burst));
    }

    /// Stops serving and waits a moment for the listener to close.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for GraphEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
