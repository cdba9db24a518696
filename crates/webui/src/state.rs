//! The server's shared state: the opened targets, the engine for writes,
//! and the security bookkeeping (login token, sessions, uploads).
//!
//! Cheap to clone (`Arc` inside); handlers receive it through axum's
//! `State`. Nothing here talks to a directory: that is the handlers' job,
//! through `userphoto_bulk::ops`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Mode, Target, TargetKind};
use userphoto_directory::PhotoSlot;

use crate::token::{constant_time_eq, random_token};

/// The largest upload accepted by default (a photo straight off a camera
/// fits; anything bigger is answered 413).
pub const DEFAULT_MAX_UPLOAD: usize = 25 * 1024 * 1024;

/// How many sessions are kept at once; the oldest is dropped beyond that.
const MAX_SESSIONS: usize = 16;
/// How many uploaded photos are kept for preview and import.
const MAX_UPLOADS: usize = 8;

/// How the server is reached and what it accepts.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The address the listener is bound to (with its real port).
    pub listen: SocketAddr,
    /// More `Host` values to accept besides the listen address and
    /// `localhost` (for a non-loopback listener reached by name).
    pub extra_hosts: Vec<String>,
    /// The largest request body accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Whether this is `userphoto demo` (the UI says DEMO everywhere).
    pub demo: bool,
    /// A folder the page suggests for folder import (the demo's samples).
    pub sample_folder: Option<std::path::PathBuf>,
    /// Where folder imports keep their state (see
    /// [`ImportSession`](userphoto_bulk::import::ImportSession)); `None`:
    /// a temporary folder, removed when the server ends.
    pub state_dir: Option<std::path::PathBuf>,
}

impl ServerOptions {
    /// Defaults for a listener at `listen`: no extra hosts,
    /// [`DEFAULT_MAX_UPLOAD`], not a demo.
    pub fn new(listen: SocketAddr) -> Self {
        ServerOptions {
            listen,
            extra_hosts: Vec::new(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD,
            demo: false,
            sample_folder: None,
            state_dir: None,
        }
    }

    /// Keeps folder imports' state in `dir`.
    pub fn with_state_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.state_dir = dir;
        self
    }

    /// Sets the upload limit.
    pub fn with_max_upload_bytes(mut self, bytes: usize) -> Self {
        self.max_upload_bytes = bytes;
        self
    }

    /// Marks the server as the demo.
    pub fn with_demo(mut self, demo: bool) -> Self {
        self.demo = demo;
        self
    }

    /// Suggests `folder` for folder import.
    pub fn with_sample_folder(mut self, folder: Option<std::path::PathBuf>) -> Self {
        self.sample_folder = folder;
        self
    }

    /// Accepts `host` (`name:port`) in the `Host` header too.
    pub fn with_extra_host(mut self, host: impl Into<String>) -> Self {
        self.extra_hosts.push(host.into());
        self
    }
}

/// A configured target that could not be opened: shown as "not accessible"
/// with the reason.
#[derive(Clone, Debug)]
pub struct Unavailable {
    /// Which target.
    pub kind: TargetKind,
    /// Why, in one sentence (never a secret: library messages).
    pub reason: String,
}

/// One uploaded photo, kept for preview and import.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) bytes: Arc<Vec<u8>>,
    pub(crate) preview: Arc<Vec<u8>>,
}

/// The state shared by every handler. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    targets: Vec<Target>,
    unavailable: Vec<Unavailable>,
    ops: Ops,
    options: ServerOptions,
    allowed_hosts: Vec<String>,
    cookie_name: String,
    /// `/s/<random>`: every page and API path is under it, and the session
    /// cookie's `Path` is it, so the browser sends the cookie to no other
    /// service on this host (cookies ignore ports, not paths).
    base_path: String,
    login_token: Mutex<Option<String>>,
    /// Session id → CSRF token, oldest first.
    sessions: Mutex<VecDeque<(String, String)>>,
    uploads: Mutex<(VecDeque<String>, HashMap<String, Upload>)>,
    jobs: crate::import_jobs::Jobs,
    /// Where folder imports keep their state.
    import_state: ImportState,
    /// Image work at once: one per core (CPU). Memory is bounded apart
    /// from this by the imaging crate's process-wide budget, which weighs
    /// each decode by width × height × bytes per pixel.
    imaging: Arc<tokio::sync::Semaphore>,
    /// The last coverage count (see handlers/coverage.rs).
    coverage: tokio::sync::Mutex<Option<Arc<crate::handlers::coverage::Counted>>>,
}

impl AppState {
    /// State over `targets` (opened), with `ops` doing the writes
    /// (backups, audit).
    pub fn new(targets: Vec<Target>, ops: Ops, options: ServerOptions) -> Self {
        let port = options.listen.port();
        let mut allowed_hosts = vec![
            options.listen.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        if port == 80 {
            // Browsers leave the default port out of Host.
            let ip = match options.listen.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            allowed_hosts.extend([ip, "localhost".into(), "127.0.0.1".into(), "[::1]".into()]);
        }
        allowed_hosts.extend(options.extra_hosts.iter().cloned());
        let allowed_hosts = allowed_hosts
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let options_state_dir = options.state_dir.clone();
        let mut targets = targets;
        // Panes in the original's order: the thumbnail (AD), plain LDAP,
        // then the HD photo.
        targets.sort_by_key(|t| match t.slot() {
            PhotoSlot::Thumbnail => 0,
            PhotoSlot::Hd => 2,
            _ => 1,
        });
        AppState {
            inner: Arc::new(Inner {
                targets,
                unavailable: Vec::new(),
                ops,
                cookie_name: format!("userphoto_session_{port}"),
                base_path: format!("/s/{}", random_token()),
                allowed_hosts,
                options,
                login_token: Mutex::new(None),
                sessions: Mutex::new(VecDeque::new()),
                uploads: Mutex::new((VecDeque::new(), HashMap::new())),
                jobs: Default::default(),
                import_state: ImportState::new(options_state_dir),
                imaging: Arc::new(tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, usize::from),
                )),
                coverage: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Adds targets that are configured but could not be opened.
    ///
    /// # Panics
    /// Never; must be called before the state is cloned (it is a no-op
    /// otherwise).
    pub fn with_unavailable(mut self, unavailable: Vec<Unavailable>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.unavailable = unavailable;
        }
        self
    }

    /// A fresh one-time login address (`http://HOST:PORT/?token=…`); it
    /// replaces any unused one.
    pub fn login_url(&self) -> String {
        let token = random_token();
        *lock(&self.inner.login_token) = Some(token.clone());
        let listen = self.inner.options.listen;
        let host = if listen.ip().is_unspecified() {
            format!("127.0.0.1:{}", listen.port())
        } else {
            listen.to_string()
        };
        format!("http://{host}/?token={token}")
    }

    /// The opened targets, in pane order.
    pub fn targets(&self) -> &[Target] {
        &self.inner.targets
    }

    /// Targets configured but not opened.
    pub fn unavailable(&self) -> &[Unavailable] {
        &self.inner.unavailable
    }

    /// The target of `kind`, if open.
    pub fn target(&self, kind: TargetKind) -> Option<&Target> {
        self.inner.targets.iter().find(|t| t.kind == kind)
    }

    /// The write engine.
    pub fn ops(&self) -> &Ops {
        &self.inner.ops
    }

    /// The options the server runs with.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    /// Whether this is the demo.
    pub fn is_demo(&self) -> bool {
        self.inner.options.demo
    }

    /// The mode, from the targets that are open.
    pub fn mode(&self) -> Mode {
        Mode::of(self.inner.targets.iter().map(|t| t.kind))
    }

    /// The targets users can be listed from, the default first: Active
    /// Directory, Microsoft 365, Google Workspace, plain LDAP, Exchange,
    /// folder.
    pub fn sources(&self) -> Vec<TargetKind> {
        let order = [
            TargetKind::Ad,
            TargetKind::M365,
            TargetKind::Google,
            TargetKind::Ldap,
            TargetKind::Exchange,
            TargetKind::Folder,
        ];
        order
            .into_iter()
            .filter(|k| self.target(*k).is_some())
            .collect()
    }

    /// Where folder imports keep their plans, journals and cache.
    ///
    /// # Errors
    /// When no temporary folder can be made for them.
    pub(crate) fn import_state_dir(&self) -> std::io::Result<std::path::PathBuf> {
        self.inner.import_state.dir()
    }

    /// The last coverage count, behind a lock held while counting.
    pub(crate) fn coverage_cache(
        &self,
    ) -> &tokio::sync::Mutex<Option<Arc<crate::handlers::coverage::Counted>>> {
        &self.inner.coverage
    }

    pub(crate) fn jobs(&self) -> &crate::import_jobs::Jobs {
        &self.inner.jobs
    }

    /// Runs image work `f` on the blocking pool, at most one per core at
    /// once across all requests. When the request is dropped (the browser
    /// hung up), the work is asked to stop (`userphoto_imaging::CancelFlag`:
    /// the pipeline returns `Cancelled` at its next stage), and its permit
    /// is held until it has actually stopped.
    pub(crate) async fn imaging<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> crate::error::AppResult<T> {
        /// Cancels the work when the request's future is dropped.
        struct CancelOnDrop(userphoto_imaging::CancelFlag);
        impl Drop for CancelOnDrop {
            fn drop(&mut self) {
                self.0.cancel();
            }
        }
        let permit = Arc::clone(&self.inner.imaging)
            .acquire_owned()
            .await
            .map_err(crate::error::AppError::internal)?;
        let flag = userphoto_imaging::CancelFlag::new();
        let _cancel_on_drop = CancelOnDrop(flag.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            flag.scope(f)
        })
        .await
        .map_err(crate::error::AppError::internal)
    }

    pub(crate) fn cookie_name(&self) -> &str {
        &self.inner.cookie_name
    }

    /// The path every page and API request is under (`/s/<random>`, no
    /// trailing slash); the login redirects to it.
    pub fn base_path(&self) -> &str {
        &self.inner.base_path
    }

    pub(crate) fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.inner.allowed_hosts.contains(&host)
    }

    /// Consumes the login token if `token` is it; returns the new session
    /// id.
    pub(crate) fn exchange_token(&self, token: &str) -> Option<String> {
        let mut pending = lock(&self.inner.login_token);
        let ok = pending
            .as_deref()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !ok {
            return None;
        }
        *pending = None;
        drop(pending);
        let session = random_token();
        let mut sessions = lock(&self.inner.sessions);
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back((session.clone(), random_token()));
        Some(session)
    }

    /// The CSRF token of session `id`, if it is a live session.
    pub(crate) fn session_csrf(&self, id: &str) -> Option<String> {
        lock(&self.inner.sessions)
            .iter()
            .find(|(s, _)| constant_time_eq(s.as_bytes(), id.as_bytes()))
            .map(|(_, csrf)| csrf.clone())
    }

    pub(crate) fn put_upload(&self, upload: Upload) -> String {
        let id = random_token();
        let mut guard = lock(&self.inner.uploads);
        let (order, map) = &mut *guard;
        if order.len() >= MAX_UPLOADS {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        order.push_back(id.clone());
        map.insert(id.clone(), upload);
        id
    }

    pub(crate) fn upload<R>(&self, id: &str, f: impl FnOnce(&Upload) -> R) -> Option<R> {
        lock(&self.inner.uploads).1.get(id).map(f)
    }
}

/// Locks, recovering the data if a holder panicked (the data is plain
/// bookkeeping, never left half-updated).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn on_port_80_a_host_without_the_port_is_this_server() {
        let at =
            |addr: SocketAddr| AppState::new(Vec::new(), Ops::default(), ServerOptions::new(addr));
        let on_80 = at(SocketAddr::from(([127, 0, 0, 1], 80)));
        for host in ["localhost", "127.0.0.1", "[::1]", "localhost:80"] {
            assert!(on_80.host_allowed(host), "{host}");
        }
        assert!(!on_80.host_allowed("evil.example"));
        let elsewhere = at(SocketAddr::from(([127, 0, 0, 1], 8765)));
        assert!(!elsewhere.host_allowed("localhost"), "the port is needed");
        assert!(elsewhere.host_allowed("localhost:8765"));
    }

    #[tokio::test]
    async fn image_work_of_a_dropped_request_is_asked_to_stop() {
        let state = AppState::new(
            Vec::new(),
            Ops::default(),
            ServerOptions::new(SocketAddr::from(([127, 0, 0, 1], 0))),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let work = state.imaging(move || {
            // Image work between two stages: it polls the flag.
            let start = std::time::Instant::now();
            while !userphoto_imaging::is_cancelled()
                && start.elapsed() < std::time::Duration::from_secs(10)
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let _ = tx.send(userphoto_imaging::is_cancelled());
        });
        // The client hangs up after 50 ms: the request's future is dropped.
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), work).await;
        assert!(timed_out.is_err());
        let seen = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(std::time::Duration::from_secs(20))
        })
        .await
        .expect("join");
        assert_eq!(seen, Ok(true), "the work never saw the cancellation");
    }

    #[tokio::test]
    async fn image_work_runs_at_most_one_per_core_at_once() {
        let state = AppState::new(
            Vec::new(),
            Ops::default(),
            ServerOptions::new(SocketAddr::from(([127, 0, 0, 1], 0))),
        );
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let runs = (0..cores * 3).map(|_| {
            let (now, most) = (Arc::clone(&now), Arc::clone(&most));
            state.imaging(move || {
                let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(at_once, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                now.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for result in futures::future::join_all(runs).await {
            assert!(result.is_ok());
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} at once on {cores} cores"
        );
    }
}

/// Where folder imports keep their state: the configured folder, or a
/// temporary one made on first use and removed with the server.
#[derive(Debug)]
struct ImportState {
    configured: Option<std::path::PathBuf>,
    temporary: std::sync::OnceLock<tempfile::TempDir>,
}

impl ImportState {
    fn new(configured: Option<std::path::PathBuf>) -> Self {
        ImportState {
            configured,
            temporary: std::sync::OnceLock::new(),
        }
    }

    fn dir(&self) -> std::io::Result<std::path::PathBuf> {
        if let Some(dir) = &self.configured {
            return Ok(dir.clone());
        }
        if let Some(t) = self.temporary.get() {
            return Ok(t.path().to_path_buf());
        }
        let made = tempfile::Builder::new()
            .prefix("userphoto-import-")
            .tempdir()?;
        Ok(self.temporary.get_or_init(|| made).path().to_path_buf())
    }
}
