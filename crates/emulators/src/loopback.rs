//! What both emulator binaries (`graph-emulator`, `ews-emulator`) do
//! around serving: log, refuse a non-loopback address, bind, announce,
//! and run until they are told to stop.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::{bail, Context as _};
use tokio::net::TcpListener;

/// Runs an emulator binary on a loopback port until Ctrl-C or SIGTERM (how
/// scripts stop it), and hands the emulator back so the binary can report
/// its counters.
///
/// In order: logs to stderr (`RUST_LOG`, `info` by default); refuses a
/// `listen` address that is not loopback, since an emulator is a test
/// double speaking plain http, not a service; binds `listen`; starts the
/// emulator on it with `serve`; lets `announce` print what to paste into
/// `userphoto.toml` (scripts read it from stdout; the stop signals are
/// listened for before it is printed); then waits. `name` (the binary's
/// name) starts every error message.
///
/// # Errors
/// A non-loopback address, an address that cannot be bound, an emulator
/// that does not start, or a failure to wait for the stop signals.
pub async fn serve_on_loopback<E, Fut>(
    name: &str,
    listen: SocketAddr,
    serve: impl FnOnce(TcpListener) -> Fut,
    announce: impl FnOnce(&E),
) -> anyhow::Result<E>
where
    Fut: Future<Output = std::io::Result<E>>,
{
    // `try_init`: a subscriber set already (a second call, a test) is kept.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    if !listen.ip().is_loopback() {
        bail!(
            "{name} listens on loopback addresses only; use e.g. --listen 127.0.0.1:{}",
            listen.port()
        );
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("{name}: cannot listen on {listen}"))?;
    let emulator = serve(listener)
        .await
        .with_context(|| format!("{name}: cannot start"))?;
    let stop = listen_for_stop(name)?;
    announce(&emulator);
    stop.await?;
    Ok(emulator)
}

/// Serves `app` on `listener` in a background task until the returned
/// sender is used or dropped (what every emulator's `serve` does); `name`
/// starts the log lines.
pub(crate) fn serve_in_background(
    listener: TcpListener,
    app: axum::Router,
    name: &'static str,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "{name}: the server stopped with an error");
        }
    });
    tracing::info!(%addr, "{name}: listening");
    stop
}

/// A future that ends at Ctrl-C or, on Unix, SIGTERM. On Unix both are
/// listened for from this call on, before the announcement: a script that
/// stops the emulator as soon as it has read it must not kill it instead.
#[cfg(unix)]
fn listen_for_stop(name: &str) -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .with_context(|| format!("{name}: cannot listen for SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .with_context(|| format!("{name}: cannot listen for Ctrl-C"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        Ok(())
    })
}

/// A future that ends at Ctrl-C.
#[cfg(not(unix))]
fn listen_for_stop(name: &str) -> anyhow::Result<impl Future<Output = anyhow::Result<()>>> {
    let name = name.to_owned();
    Ok(async move {
        tokio::signal::ctrl_c()
            .await
            .with_context(|| format!("{name}: waiting for Ctrl-C"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_non_loopback_address_is_refused_before_anything_starts() {
        let listen: SocketAddr = "0.0.0.0:0".parse().expect("address");
        let e = serve_on_loopback(
            "test-emulator",
            listen,
            |_| async { Err(std::io::Error::other("served")) },
            |()| panic!("announced"),
        )
        .await
        .expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("test-emulator listens on loopback addresses only"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_named_in_the_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let listen = taken.local_addr().expect("address");
        let e = serve_on_loopback(
            "test-emulator",
            listen,
            |_| async { Ok(()) },
            |()| panic!("announced"),
        )
        .await
        .expect_err("taken");
        assert_eq!(
            e.to_string(),
            format!("test-emulator: cannot listen on {listen}")
        );
    }
}
