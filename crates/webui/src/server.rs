//! Binding, announcing and serving: what `userphoto serve` and `userphoto
//! demo` share.
//!
//! Loopback by default. Listening on any other address exposes a tool with
//! directory write rights to the network, so it needs `allow_remote` and
//! the caller prints [`REMOTE_WARNING`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::Target;

use crate::state::{AppState, ServerOptions, Unavailable};

/// Printed when the server listens beyond loopback.
pub const REMOTE_WARNING: &str = "warning: listening on a non-loopback address; anyone who can reach it and obtains the sign-in link can change photos with this tool's rights. Prefer 127.0.0.1 and an SSH tunnel.";

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen`.
    pub allow_remote: bool,
    /// More `Host` names to accept (`name:port`).
    pub extra_hosts: Vec<String>,
    /// The upload limit in bytes.
    pub max_upload_bytes: usize,
    /// Whether this is the demo.
    pub demo: bool,
    /// A folder the page suggests for folder import.
    pub sample_folder: Option<std::path::PathBuf>,
    /// Where folder imports keep their plans, journals and digest cache
    /// (the same place `userphoto import` uses, so either can carry on the
    /// other's interrupted run); `None`: a temporary folder for this run.
    pub state_dir: Option<std::path::PathBuf>,
}

/// Checks the listen address against the loopback rule.
///
/// # Errors
/// A sentence saying how to allow a non-loopback address.
pub fn check_listen(listen: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if listen.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {listen}, which is reachable from other machines; use 127.0.0.1 (the default), or pass --allow-remote if you really mean it"
        ))
    }
}

/// Binds the listener (after [`check_listen`]).
///
/// # Errors
/// The address rule, or the bind failing (port in use, no permission).
pub async fn bind(config: &ServeConfig) -> io::Result<TcpListener> {
    check_listen(config.listen, config.allow_remote).map_err(io::Error::other)?;
    TcpListener::bind(config.listen).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot listen on {} ({e}); pick another port with --listen 127.0.0.1:PORT",
                config.listen
            ),
        )
    })
}

/// The state for a bound `listener`.
///
/// # Errors
/// When the listener has no local address.
pub fn state_for(
    listener: &TcpListener,
    config: &ServeConfig,
    targets: Vec<Target>,
    unavailable: Vec<Unavailable>,
    ops: Ops,
) -> io::Result<AppState> {
    let local = listener.local_addr()?;
    let mut options = ServerOptions::new(local)
        .with_demo(config.demo)
        .with_max_upload_bytes(config.max_upload_bytes)
        .with_sample_folder(config.sample_folder.clone())
        .with_state_dir(config.state_dir.clone());
    for host in &config.extra_hosts {
        options = options.with_extra_host(host.clone());
    }
    Ok(AppState::new(targets, ops, options).with_unavailable(unavailable))
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes
/// the requests in flight.
///
/// # Errors
/// When serving fails.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, crate::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C; on Unix also on SIGTERM; on Windows also on
/// Ctrl-Break, the console window being closed, and logoff or shutdown
/// (what Windows sends where Unix sends SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(windows)]
    let term = async {
        use tokio::signal::windows;
        // Each listener is optional: without a console some cannot be set.
        async fn first<T>(s: std::io::Result<T>, recv: impl AsyncFnOnce(T)) {
            match s {
                Ok(s) => recv(s).await,
                Err(_) => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = first(windows::ctrl_break(), async |mut s| { s.recv().await; }) => {},
            () = first(windows::ctrl_close(), async |mut s| { s.recv().await; }) => {},
            () = first(windows::ctrl_shutdown(), async |mut s| { s.recv().await; }) => {},
            () = first(windows::ctrl_logoff(), async |mut s| { s.recv().await; }) => {},
        }
    };
    #[cfg(not(any(unix, windows)))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Opens `url` in the default browser, best effort (the address is
/// printed anyway).
pub fn open_browser(url: &str) -> bool {
    #[cfg(target_os = "macos")]
    let mut command = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut command = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut command = std::process::Command::new("xdg-open");
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
