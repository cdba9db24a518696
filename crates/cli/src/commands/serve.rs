//! `userphoto serve`: the web UI over the configured targets.
//!
//! Every configured target is opened; one that cannot be (unreachable,
//! wrong password) is shown in the UI as "not accessible" with the reason,
//! and the others keep working.

use anyhow::{anyhow, Context as _};
use serde_json::json;
use userphoto_bulk::ops::Ops;
use userphoto_directory::config::{Config, Target};
use userphoto_webui::server::{self, ServeConfig};
use userphoto_webui::Unavailable;

use crate::args::{ServeArgs, WebArgs};
use crate::output::{Output, Status};

pub(crate) async fn run(args: &ServeArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    if config.file().team.is_some() {
        return super::serve_team::run(args, config, out).await;
    }
    let data_dir = config.data_dir().map_err(|e| anyhow!("{e}"))?;
    if args.web.link {
        return print_link(&data_dir, "userphoto serve", "userphoto serve", out).await;
    }
    // First, so that what opening the targets logs is in it too.
    let log = crate::logging::open_log_file(&data_dir)
        .with_context(|| format!("cannot open the log file in {}", data_dir.display()))?;
    userphoto_webui::local_files::set_log_file(Some(log));
    // Browser folder uploads go to <data>/uploads, private; those a killed
    // server left behind go.
    let stale = userphoto_webui::local_files::sweep_stale_uploads(
        &data_dir,
        std::time::Duration::from_secs(24 * 3600),
    );
    if stale > 0 {
        tracing::info!(stale, "removed upload folders left by an earlier server");
    }
    userphoto_webui::local_files::set_data_dir(Some(data_dir.clone()));
    let kinds = super::configured(config)
        .map_err(|e| anyhow!("{e}; or try the web UI on sample data with `userphoto demo`"))?;
    let mut targets = Vec::new();
    let mut unavailable = Vec::new();
    for kind in kinds {
        match config.open(kind).await {
            Ok(t) => targets.push(t),
            Err(e) => {
                out.problem(
                    &indicatif::ProgressBar::hidden(),
                    &format!("userphoto: warning: {kind}: {e}"),
                );
                unavailable.push(Unavailable {
                    kind,
                    // Shown on the page: worded without command-line flags.
                    reason: e.plain_message(),
                });
            }
        }
    }
    let ops = super::ops(config)?;
    let state_dir = super::import::state_dir(None, config)?;
    let site = Site {
        demo: false,
        sample_folder: None,
        state_dir,
        data_dir,
    };
    serve_ui(&args.web, site, targets, unavailable, ops, out).await
}

/// What kind of server: the demo or not, its sample folder, where folder
/// imports keep their state.
pub(crate) struct Site {
    pub(crate) demo: bool,
    pub(crate) sample_folder: Option<std::path::PathBuf>,
    pub(crate) state_dir: std::path::PathBuf,
    /// Where `--link` finds the running server (see
    /// `userphoto_webui::control`).
    pub(crate) data_dir: std::path::PathBuf,
}

/// `--link`: a fresh one-time sign-in link from the server running for
/// `data_dir` (`command` names that server and `start` starts it, for the
/// error).
pub(crate) async fn print_link(
    data_dir: &std::path::Path,
    command: &str,
    start: &str,
    out: &Output,
) -> anyhow::Result<Status> {
    use userphoto_webui::control::{request_link, LinkError};
    let url = request_link(data_dir).await.map_err(|e| match e {
        LinkError::NotRunning => anyhow!(
            "no {command} is running for {}; start it with `{start}` (it prints a sign-in link)",
            data_dir.display()
        ),
        LinkError::Failed(why) => anyhow!("{why}"),
    })?;
    let bar = indicatif::ProgressBar::hidden();
    if out.json {
        out.json_line(&json!({"type": "link", "url": url}));
    } else {
        out.line(
            &bar,
            &format!("userphoto: sign in at {url}\n(the link works once)"),
        );
    }
    Ok(Status::Success)
}

/// Binds, prints the sign-in address, opens the browser, serves until
/// Ctrl-C or SIGTERM. Shared with `demo`.
pub(crate) async fn serve_ui(
    web: &WebArgs,
    site: Site,
    targets: Vec<Target>,
    unavailable: Vec<Unavailable>,
    ops: Ops,
    out: &Output,
) -> anyhow::Result<Status> {
    let config = ServeConfig {
        listen: web.listen,
        allow_remote: web.allow_remote,
        extra_hosts: web.allow_hosts.clone(),
        max_upload_bytes: web.max_upload_mb as usize * 1024 * 1024,
        demo: site.demo,
        sample_folder: site.sample_folder,
        state_dir: Some(site.state_dir),
    };
    let demo = site.demo;
    let data_dir = site.data_dir.clone();
    let bar = indicatif::ProgressBar::hidden();
    let listener = server::bind(&config).await.map_err(|e| anyhow!("{e}"))?;
    if !config.listen.ip().is_loopback() {
        out.problem(&bar, &format!("userphoto: {}", server::REMOTE_WARNING));
    }
    let state = server::state_for(&listener, &config, targets, unavailable, ops)
        .context("cannot read the listening address")?;
    let url = state.login_url();
    // `--link` asks this server for the next link; without the control
    // port the server still works, only `--link` does not.
    let _control = match userphoto_webui::control::start(&data_dir, state.clone()).await {
        Ok(handle) => Some(handle),
        Err(e) => {
            out.problem(
                &bar,
                &format!("userphoto: warning: `--link` will not reach this server: cannot write {} in {} ({e})", userphoto_webui::control::CONTROL_FILE, data_dir.display()),
            );
            None
        }
    };
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    if out.json {
        out.json_line(
            &json!({"type": "listening", "address": local.to_string(), "url": url, "demo": demo}),
        );
    } else {
        out.line(
            &bar,
            &format!(
                "userphoto: the web UI is at {url}\n(the link works once; press Ctrl-C to stop)"
            ),
        );
    }
    if !web.no_open && !server::open_browser(&url) {
        out.problem(
            &bar,
            "userphoto: could not open a browser; open the address above",
        );
    }
    server::run(listener, state, server::shutdown_signal())
        .await
        .context("the web server stopped")?;
    Ok(Status::Success)
}
