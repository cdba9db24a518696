//! `userphoto login m365`: an admin signs in at a terminal with the device
//! code flow, for tenants configured with `sign_in = "device-code"`.
//!
//! Why a command: the sign-in needs a browser and a person once; every
//! later command (and the web UI) uses the saved, rotated refresh token
//! without asking again.

use anyhow::{anyhow, bail};
use serde_json::json;
use userphoto_directory::config::{Config, TargetKind};
use userphoto_directory::graph::{
    device_code_login, TokenFile, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL,
};

use crate::args::LoginArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(args: &LoginArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    if args.target != TargetKind::M365 {
        bail!(
            "only Microsoft 365 has an interactive sign-in; the {} target signs in with its configured credential",
            args.target
        );
    }
    let origin = config.origin("m365");
    let Some(section) = config.file().m365.as_ref() else {
        bail!("there is no [m365] section; add one with tenant_id, client_id and sign_in = \"device-code\" (see docs/M365.md)");
    };
    if !section.uses_device_code() {
        bail!("{origin} signs in as the app (secret or certificate); set sign_in = \"device-code\" there to sign in as an admin instead");
    }
    let file = match &section.token_file {
        Some(path) => TokenFile::new(config.resolve_path(path)),
        None => TokenFile::default_for(&section.tenant_id, &section.client_id)
            .map_err(|e| anyhow!("{e}"))?,
    };
    let login_url = section.login_url.as_deref().unwrap_or(DEFAULT_LOGIN_URL);
    let graph_url = section.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH_URL);
    let bar = indicatif::ProgressBar::hidden();
    device_code_login(
        login_url,
        graph_url,
        &section.tenant_id,
        &section.client_id,
        &file,
        |prompt| {
            if out.json {
                out.json_line(&json!({
                    "type": "login",
                    "status": "waiting",
                    "verification_uri": prompt.verification_uri,
                    "user_code": prompt.user_code,
                    "message": prompt.message,
                }));
            } else {
                let message = if prompt.message.is_empty() {
                    format!(
                        "To sign in, open {} and enter the code {}",
                        prompt.verification_uri, prompt.user_code
                    )
                } else {
                    prompt.message.clone()
                };
                out.problem(&bar, &message);
            }
        },
    )
    .await
    .map_err(|e| anyhow!("m365: {e}"))?;
    if out.json {
        out.json_line(&json!({
            "type": "login", "status": "done", "token_file": file.path(),
        }));
    } else {
        out.line(
            &bar,
            &format!(
                "m365: signed in; the sign-in is kept in {} (readable only by you)",
                file.path().display()
            ),
        );
    }
    Ok(Status::Success)
}
