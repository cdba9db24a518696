//! Team mode (`userphoto serve` with a `[team]` section): employees sign
//! in with their own directory password, upload and frame their photo,
//! submit it, and follow it; approvers work the queue. A separate app
//! from the admin UI (which holds the service account's rights for anyone
//! who reaches it): nothing of the admin UI is served in team mode.
//!
//! * [`TeamState`]: the queue, sign-in, targets, sessions;
//! * `guard`: Host check, session cookie, CSRF, client address, headers;
//! * `handlers`: thin over [`userphoto_selfservice::Queue`]. Every request
//!   an employee names is checked to be their own on the server
//!   ([`Queue::own`](userphoto_selfservice::Queue::own)); the queue is for
//!   approvers only.

mod guard;
mod handlers;
pub mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::Target;
use userphoto_selfservice::oidc::EntraSignIn;
use userphoto_selfservice::signin::{Employee, SignIn};
use userphoto_selfservice::Queue;

use crate::error::AppError;
use crate::token::random_token;

/// How long a sign-in lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// The session cookie's name.
pub const COOKIE: &str = "userphoto_team";

/// The cookie tying an Entra sign-in's `state` to the browser that
/// started it (login CSRF).
pub const STATE_COOKIE: &str = "userphoto_oidc";

/// How employees sign in.
#[derive(Debug)]
pub enum Auth {
    /// With their directory password: a bind as themselves (`[ad]`).
    Directory(Box<SignIn>),
    /// With Microsoft Entra ID (OpenID Connect).
    Entra(Box<EntraSignIn>),
}

impl From<SignIn> for Auth {
    fn from(s: SignIn) -> Self {
        Auth::Directory(Box::new(s))
    }
}

impl From<EntraSignIn> for Auth {
    fn from(s: EntraSignIn) -> Self {
        Auth::Entra(Box::new(s))
    }
}

/// How team mode is reached.
#[derive(Clone, Debug)]
pub struct TeamOptions {
    /// The `Host` values accepted: the public name, and the listen address.
    pub hosts: Vec<String>,
    /// The origin the browser sends (`https://photos.example.com`).
    pub origin_scheme: &'static str,
    /// The one reverse proxy trusted for `X-Forwarded-For`.
    pub trusted_proxy: Option<IpAddr>,
    /// Upload limit in bytes.
    pub max_upload_bytes: usize,
}

impl TeamOptions {
    /// Loopback at `listen` over plain HTTP (tests, a trial).
    pub fn loopback(listen: SocketAddr) -> Self {
        TeamOptions {
            hosts: loopback_hosts(listen),
            origin_scheme: "http",
            trusted_proxy: None,
            max_upload_bytes: crate::DEFAULT_MAX_UPLOAD,
        }
    }
}

/// The `Host` values a loopback listener at `listen` answers to.
pub fn loopback_hosts(listen: SocketAddr) -> Vec<String> {
    let port = listen.port();
    vec![
        listen.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// A signed-in browser.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) employee: Employee,
    pub(crate) csrf: String,
    started: Instant,
    /// The photo uploaded and being framed (one at a time).
    pub(crate) upload: Option<Upload>,
}

/// An uploaded photo before it is submitted.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) bytes: Arc<Vec<u8>>,
}

/// Everything team mode's handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TeamState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: Queue,
    auth: Auth,
    targets: Vec<Target>,
    ops: Ops,
    options: TeamOptions,
    sessions: Mutex<HashMap<String, Session>>,
    imaging: Arc<Semaphore>,
    photos: Mutex<HashMap<(String, String), (Instant, CachedPhoto)>>,
}

/// A current photo as read from a target (or its absence), kept for
/// [`PHOTO_CACHE_TTL`].
#[derive(Clone, Debug)]
pub(crate) enum CachedPhoto {
    /// `(content type, bytes)`.
    Photo(&'static str, Arc<Vec<u8>>),
    /// Why there is none (the lookup's state).
    None(String),
}

/// How long a current photo read from a directory is served from memory:
/// 200 employees reloading their page must not each cost the directory two
/// lookups. A photo this service writes is dropped from it at once; one
/// changed elsewhere shows within this time.
pub const PHOTO_CACHE_TTL: Duration = Duration::from_secs(30);

impl TeamState {
    /// Team mode over `queue`, signing in with `signin`, writing approved
    /// photos to `targets` through `ops`.
    pub fn new(
        queue: Queue,
        auth: impl Into<Auth>,
        targets: Vec<Target>,
        ops: Ops,
        options: TeamOptions,
    ) -> Self {
        // Image work (decoding 12-megapixel uploads) leaves one core to
        // answer pages: employees browsing must not wait behind uploads.
        let cores = std::thread::available_parallelism()
            .map_or(2, usize::from)
            .saturating_sub(1)
            .max(1);
        TeamState {
            inner: Arc::new(Inner {
                queue,
                auth: auth.into(),
                targets,
                ops,
                options,
                sessions: Mutex::new(HashMap::new()),
                imaging: Arc::new(Semaphore::new(cores)),
                photos: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub(crate) fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    pub(crate) fn targets(&self) -> &[Target] {
        &self.inner.targets
    }

    pub(crate) fn ops(&self) -> &Ops {
        &self.inner.ops
    }

    pub(crate) fn options(&self) -> &TeamOptions {
        &self.inner.options
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session for `employee`: its token (the cookie) and CSRF token.
    pub(crate) fn open_session(&self, employee: Employee) -> (String, String) {
        let (token, csrf) = (random_token(), random_token());
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.started.elapsed() < SESSION_LIFETIME);
        sessions.insert(
            token.clone(),
            Session {
                employee,
                csrf: csrf.clone(),
                started: Instant::now(),
                upload: None,
            },
        );
        (token, csrf)
    }

    /// The live session of `token`.
    pub(crate) fn session(&self, token: &str) -> Option<Session> {
        let sessions = self.sessions();
        sessions
            .get(token)
            .filter(|s| s.started.elapsed() < SESSION_LIFETIME)
            .cloned()
    }

    pub(crate) fn close_session(&self, token: &str) {
        self.sessions().remove(token);
    }

    pub(crate) fn set_upload(&self, token: &str, upload: Upload) {
        if let Some(s) = self.sessions().get_mut(token) {
            s.upload = Some(upload);
        }
    }

    pub(crate) fn take_upload(&self, token: &str, id: &str) -> Option<Upload> {
        let mut sessions = self.sessions();
        let s = sessions.get_mut(token)?;
        if s.upload.as_ref().is_some_and(|u| u.id == id) {
            s.upload.take()
        } else {
            None
        }
    }

    fn photos(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Instant, CachedPhoto)>> {
        self.inner
            .photos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `user`'s photo at `kind`, if read within [`PHOTO_CACHE_TTL`].
    pub(crate) fn cached_photo(&self, user: &str, kind: &str) -> Option<CachedPhoto> {
        let key = (user.to_lowercase(), kind.to_owned());
        self.photos()
            .get(&key)
            .filter(|(at, _)| at.elapsed() < PHOTO_CACHE_TTL)
            .map(|(_, p)| p.clone())
    }

    /// Keeps `user`'s photo at `kind`.
    pub(crate) fn keep_photo(&self, user: &str, kind: &str, photo: CachedPhoto) {
        let mut map = self.photos();
        if map.len() > 50_000 {
            map.retain(|_, (at, _)| at.elapsed() < PHOTO_CACHE_TTL);
        }
        map.insert(
            (user.to_lowercase(), kind.to_owned()),
            (Instant::now(), photo),
        );
    }

    /// Forgets `user`'s photos (after this service wrote one).
    pub(crate) fn forget_photos(&self, user: &str) {
        let user = user.to_lowercase();
        self.photos().retain(|(u, _), _| *u != user);
    }

    /// Runs image work on a blocking thread, at most one per core.
    pub(crate) async fn imaging<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = Arc::clone(&self.inner.imaging)
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(AppError::internal)
    }
}

/// Team mode's whole app: the page, its assets, the JSON API, behind the
/// guard.
pub fn router(state: TeamState) -> Router {
    let limit = state.options().max_upload_bytes;
    let api = Router::new()
        .route("/signin", post(handlers::sign_in))
        .route("/signout", post(handlers::sign_out))
        .route("/me", get(handlers::me))
        .route("/me/photo/{target}", get(handlers::my_photo))
        .route("/uploads", post(handlers::upload))
        .route("/uploads/{id}/preview.jpg", get(handlers::preview))
        .route("/requests", get(handlers::mine).post(handlers::submit))
        .route("/requests/{id}", get(handlers::show))
        .route("/requests/{id}/photo.jpg", get(handlers::request_photo))
        .route("/requests/{id}/withdraw", post(handlers::withdraw))
        .route("/queue", get(handlers::queue))
        .route("/queue/{id}/current/{target}", get(handlers::current_of))
        .route("/queue/{id}/approve", post(handlers::approve))
        .route("/queue/{id}/reject", post(handlers::reject))
        .fallback(|| async { AppError::not_found("there is no such API endpoint") });
    Router::new()
        .route("/", get(handlers::page))
        .route("/auth/method", get(handlers::sign_in_method))
        .route("/auth/entra", get(handlers::entra_begin))
        .route("/auth/callback", get(handlers::entra_callback))
        .route("/assets/{name}", get(crate::assets::asset))
        .nest("/api", api)
        .fallback(|| async { AppError::not_found("there is no such page") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(AppError::internal(
                    "a request handler panicked",
                ))
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// Whether team mode may listen at `listen`: loopback always; beyond it
/// only with TLS, or behind the one trusted reverse proxy (which
/// terminates TLS).
///
/// # Errors
/// A sentence saying what to configure.
pub fn check_listen(
    listen: SocketAddr,
    tls: bool,
    behind_proxy: bool,
    proxy: Option<IpAddr>,
) -> Result<(), String> {
    if behind_proxy && proxy.is_none() {
        return Err("[team] behind_proxy = true needs proxy_address, the one reverse proxy whose X-Forwarded-For is trusted".into());
    }
    if listen.ip().is_loopback() || tls || behind_proxy {
        Ok(())
    } else {
        Err(format!(
            "refusing to serve team mode on {listen} over plain HTTP: employees' passwords would cross the network readable; set [team] cert_file and key_file, or behind_proxy = true with proxy_address, or listen on 127.0.0.1"
        ))
    }
}

/// Serves team mode on `listener` until `shutdown` completes (the peer's
/// address reaches the guard for the rate limits).
///
/// # Errors
/// When serving fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: TeamState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves team mode over TLS on `listener` (see [`tls`]).
///
/// # Errors
/// When serving fails.
pub async fn serve_tls(
    listener: tls::TlsListener,
    state: TeamState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tls::serve_router(listener, router(state), shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_mode_leaves_loopback_only_with_tls_or_a_named_proxy() {
        let lan: SocketAddr = "192.0.2.10:8443".parse().expect("addr");
        let lo: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let proxy: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!(check_listen(lo, false, false, None).is_ok());
        assert!(check_listen(lan, false, false, None).is_err());
        assert!(check_listen(lan, true, false, None).is_ok());
        assert!(check_listen(lan, false, true, Some(proxy)).is_ok());
        assert!(check_listen(lan, false, true, None).is_err());
    }
}
