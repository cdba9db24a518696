//! `userphoto serve` with a `[team]` section: team mode (employee
//! self-service and the approval queue) instead of the admin UI.

use std::net::SocketAddr;

use anyhow::{anyhow, bail, Context as _};
use secrecy::ExposeSecret as _;
use serde_json::json;
use userphoto_directory::config::{Config, SecretSource};
use userphoto_selfservice::oidc::{EntraSignIn, OidcConfig};
use userphoto_selfservice::signin::{Approvers, SignIn};
use userphoto_selfservice::team;
use userphoto_webui::team::{check_listen, loopback_hosts, Auth, TeamOptions, TeamState};

use crate::args::ServeArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(args: &ServeArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    let section = config.file().team.clone().unwrap_or_default();
    let listen: SocketAddr = args.web.listen;
    let tls = match (&section.cert_file, &section.key_file) {
        (Some(cert), Some(key)) => Some(
            userphoto_webui::team::tls::server_config(
                &config.resolve_path(cert),
                &config.resolve_path(key),
            )
            .map_err(|e| anyhow!("{e}"))?,
        ),
        (None, None) => None,
        _ => bail!("[team] needs both cert_file and key_file to serve TLS"),
    };
    if tls.is_some() && section.behind_proxy {
        bail!("[team] has both cert_file/key_file and behind_proxy = true; choose one: TLS served here, or by the proxy");
    }
    check_listen(
        listen,
        tls.is_some(),
        section.behind_proxy,
        section.proxy_address,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut targets = Vec::new();
    for kind in team::targets(config) {
        targets.push(super::open(config, kind).await?);
    }
    let ops = super::ops(config)?;
    let queue = team::open_queue(config).map_err(|e| anyhow!("{e}"))?;
    let bar = indicatif::ProgressBar::hidden();
    // Approvals a killed server left half done are finished first.
    for r in queue
        .recover(&targets, &ops)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        out.line(
            &bar,
            &format!(
                "userphoto: finished the interrupted approval of request {}: {}",
                r.id, r.state
            ),
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let scheme = if section.behind_proxy || tls.is_some() {
        "https"
    } else {
        "http"
    };
    let auth = sign_in(config, &section, scheme, local).await?;
    let mut hosts = loopback_hosts(local);
    if let Some(name) = &section.public_name {
        hosts.push(name.to_ascii_lowercase());
    }
    let options = TeamOptions {
        hosts,
        origin_scheme: scheme,
        trusted_proxy: section.proxy_address.filter(|_| section.behind_proxy),
        max_upload_bytes: args.web.max_upload_mb as usize * 1024 * 1024,
    };
    let url = match (&section.public_name, tls.is_some()) {
        (Some(name), _) if section.behind_proxy => format!("https://{name}/"),
        (Some(name), true) => format!("https://{name}/"),
        (None, true) => format!("https://{local}/"),
        _ => format!("http://{local}/"),
    };
    let state = TeamState::new(queue, auth, targets, ops, options);
    if out.json {
        out.json_line(
            &json!({"type": "listening", "address": local.to_string(), "url": url, "team": true}),
        );
    } else {
        out.line(
            &bar,
            &format!("userphoto: team mode is at {url} (press Ctrl-C to stop)"),
        );
    }
    let shutdown = userphoto_webui::server::shutdown_signal();
    match tls {
        Some(tls) => {
            let listener = userphoto_webui::team::tls::TlsListener::new(listener, tls)
                .context("cannot read the listening address")?;
            userphoto_webui::team::serve_tls(listener, state, shutdown).await
        }
        None => userphoto_webui::team::serve(listener, state, shutdown).await,
    }
    .context("the web server stopped")?;
    Ok(Status::Success)
}

/// How employees sign in: a bind to `[ad]` (default) or Entra ID with
/// `[m365]`'s tenant and app (`[team] sign_in = "entra"`).
async fn sign_in(
    config: &Config,
    section: &userphoto_directory::config::TeamSection,
    scheme: &str,
    local: SocketAddr,
) -> anyhow::Result<Auth> {
    let approvers = Approvers {
        group: section.approver_group.clone(),
        accounts: section.approvers.clone(),
    };
    match section.sign_in.as_deref() {
        None | Some("ad") => {
            let ad = config
                .open_ad_directory()
                .await
                .map_err(|e| anyhow!("ad: {e}"))?
                .ok_or_else(|| {
                    anyhow!("team mode signs employees in against Active Directory; add an [ad] section (or set [team] sign_in = \"entra\")")
                })?;
            Ok(SignIn::new(ad, approvers).into())
        }
        Some("entra") => {
            let m = config.file().m365.as_ref().ok_or_else(|| {
                anyhow!("[team] sign_in = \"entra\" uses the tenant_id and client_id of [m365]; add an [m365] section")
            })?;
            let origin = config.origin("m365");
            let file = m
                .client_secret_file
                .as_deref()
                .map(|p| config.resolve_path(p));
            let secret = SecretSource::from_keys(
                m.client_secret_env.as_deref(),
                file.as_deref(),
                &origin,
                "client_secret",
                true,
            )
            .map_err(|e| anyhow!("{e}"))?
            .ok_or_else(|| {
                anyhow!("{origin}: Entra sign-in needs the app's client secret (client_secret_env or client_secret_file)")
            })?
            .resolve(&origin)
            .map_err(|e| anyhow!("{e}"))?;
            let host = section
                .public_name
                .clone()
                .unwrap_or_else(|| local.to_string());
            let redirect_uri = section
                .redirect_uri
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{host}/auth/callback"));
            Ok(EntraSignIn::new(
                OidcConfig {
                    login_url: m
                        .login_url
                        .clone()
                        .unwrap_or_else(|| "https://login.microsoftonline.com".to_owned()),
                    tenant: m.tenant_id.clone(),
                    client_id: m.client_id.clone(),
                    client_secret: secret.expose_secret().to_owned(),
                    redirect_uri,
                },
                approvers,
            )
            .into())
        }
        Some(other) => {
            bail!("[team] sign_in = {other:?}: use \"ad\" (a bind to [ad]) or \"entra\" (OpenID Connect)")
        }
    }
}
