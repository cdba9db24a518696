//! A fresh one-time sign-in link from the running server, without a
//! restart (`userphoto serve --link`, `userphoto demo --link`).
//!
//! The link printed at start is spent on first use, and restarting the
//! server is not always welcome (an import may be running). So the running
//! server also listens on a second, **loopback-only** port for one request,
//! `POST /link`, answered with a new link (the same as the printed one: it
//! replaces any unused link). The port and a random secret are written to
//! [`CONTROL_FILE`] in the data folder, private to the user (0600, like
//! the journals and backups there), and the request must carry the secret
//! as a bearer token: whoever can read the data folder could already read
//! the photos and the sign-in of the tool, nobody else can get a link.
//!
//! Why not a Unix socket: the same code must serve Windows, where a
//! loopback port with a secret from a private file is the portable
//! equivalent. Why a port of its own rather than a path on the UI's
//! listener: that one may listen beyond loopback (`--allow-remote`), and
//! the control request has nothing to do with a browser session (a
//! request carrying an `Origin` header is refused outright).

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::state::AppState;
use crate::token::{constant_time_eq, random_token};

/// The file in the data folder that says where the running server's
/// control port is and holds its secret.
pub const CONTROL_FILE: &str = "serve-control.json";

/// What [`CONTROL_FILE`] holds.
#[derive(Serialize, Deserialize)]
struct ControlFile {
    /// The loopback control port.
    port: u16,
    /// The bearer secret (hex).
    secret: String,
    /// The server's process id, for people reading the file.
    pid: u32,
}

/// The running control listener; dropping it stops the listener and
/// removes [`CONTROL_FILE`] (when it is still this server's).
pub struct ControlHandle {
    file: PathBuf,
    secret: String,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ControlHandle {
    // Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlHandle")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.task.abort();
        // Another server started later in the same folder owns the file
        // now: leave it.
        if read_file(&self.file).is_some_and(|c| c.secret == self.secret) {
            let _ = std::fs::remove_file(&self.file);
        }
    }
}

/// Starts the control listener for `state` on a free loopback port and
/// writes [`CONTROL_FILE`] into `data_dir` (created private if missing).
///
/// # Errors
/// When the port cannot be bound or the file cannot be written.
pub async fn start(data_dir: &Path, state: AppState) -> io::Result<ControlHandle> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let port = listener.local_addr()?.port();
    let secret = random_token();
    userphoto_directory::private_fs::create_dir_all(data_dir)?;
    let file = data_dir.join(CONTROL_FILE);
    let body = serde_json::to_vec(&ControlFile {
        port,
        secret: secret.clone(),
        pid: std::process::id(),
    })
    .map_err(io::Error::other)?;
    // Written beside and renamed, so a reader never sees half a file.
    let partial = data_dir.join(format!("{CONTROL_FILE}.{}.partial", std::process::id()));
    {
        let mut f = userphoto_directory::private_fs::open(
            userphoto_directory::private_fs::options()
                .create(true)
                .write(true)
                .truncate(true),
            &partial,
        )?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&partial, &file)?;
    let app = Router::new()
        .route("/link", post(link))
        .with_state((state, secret.clone()));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the sign-in link control port stopped");
        }
    });
    Ok(ControlHandle { file, secret, task })
}

/// `POST /link` with `Authorization: Bearer <secret>`: a new one-time link.
async fn link(State((state, secret)): State<(AppState, String)>, headers: HeaderMap) -> Response {
    // A browser page can reach loopback ports; it never gets the secret,
    // and it always sends Origin on a POST: refuse those outright.
    if headers.contains_key(header::ORIGIN) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), secret.as_bytes()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    tracing::info!("a new one-time sign-in link was asked for");
    Json(json!({ "url": state.login_url() })).into_response()
}

fn read_file(path: &Path) -> Option<ControlFile> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Why no link could be had.
#[derive(Debug)]
pub enum LinkError {
    /// No server runs for this data folder (no control file, or nobody
    /// answers on its port: a server that was killed).
    NotRunning,
    /// A server answered but refused or failed (the message says how).
    Failed(String),
}

/// Asks the server running for `data_dir` for a fresh one-time sign-in
/// link (see the module notes).
///
/// # Errors
/// [`LinkError::NotRunning`] when no server runs for `data_dir`.
pub async fn request_link(data_dir: &Path) -> Result<String, LinkError> {
    let control = read_file(&data_dir.join(CONTROL_FILE)).ok_or(LinkError::NotRunning)?;
    let client = reqwest::Client::builder()
        // Loopback only, never through a proxy the environment names.
        .no_proxy()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| LinkError::Failed(format!("cannot make an HTTP client: {e}")))?;
    let response = client
        .post(format!("http://127.0.0.1:{}/link", control.port))
        .bearer_auth(&control.secret)
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                LinkError::NotRunning
            } else {
                LinkError::Failed(format!("the running server did not answer: {e}"))
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(LinkError::Failed(format!(
            "the running server refused to give a link ({status}); is {} from another server that has since stopped?",
            data_dir.join(CONTROL_FILE).display()
        )));
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| LinkError::Failed(format!("the running server's answer is not JSON: {e}")))?;
    body.get("url")
        .and_then(|u| u.as_str())
        .map(str::to_owned)
        .ok_or_else(|| LinkError::Failed("the running server's answer has no link".into()))
}
