//! `userphoto detect`: what each target is, and the mode.

use std::time::Duration;

use serde_json::json;
use userphoto_bulk::detect::detect;
use userphoto_directory::config::{Config, Mode};

use crate::output::{Output, Status};

/// How long one target may take to answer.
const TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) async fn run(config: &Config, out: &Output) -> anyhow::Result<Status> {
    let found = detect(config, TIMEOUT).await;
    let mode = Mode::of(found.iter().filter(|d| d.is_ok()).map(|d| d.kind));
    let bar = indicatif::ProgressBar::hidden();
    if !out.json {
        out.line(
            &bar,
            &format!(
                "{:<10}{:<12}{:<11}{:<15}{:<11}",
                "TARGET", "CONFIGURED", "REACHABLE", "AUTHENTICATED", "PERMITTED"
            ),
        );
    }
    for d in &found {
        if out.json {
            out.json_line(&json!({
                "type": "target",
                "target": d.kind.as_str(),
                "configured": d.configured,
                "reachable": d.reachable,
                "authenticated": d.authenticated,
                "permitted": d.permitted,
                "description": d.description,
                "detail": d.detail,
                "photo_source": d.photo_source,
            }));
            continue;
        }
        let yn = |v: Option<bool>| match v {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let mut line = format!(
            "{:<10}{:<12}{:<11}{:<15}{:<11}",
            d.kind.as_str(),
            if d.configured { "yes" } else { "no" },
            yn(d.reachable),
            yn(d.authenticated),
            yn(d.permitted),
        );
        if let Some(desc) = &d.description {
            line.push_str(desc);
        }
        out.line(&bar, line.trim_end());
        if let Some(detail) = &d.detail {
            out.line(&bar, &format!("          {detail}"));
        }
    }
    let configured = found.iter().filter(|d| d.configured).count();
    let usable = found.iter().filter(|d| d.is_ok()).count();
    if out.json {
        out.json_line(&json!({"type": "mode", "mode": mode.as_str(), "configured": configured, "usable": usable}));
    } else {
        out.line(&bar, &format!("mode: {mode}"));
    }
    if configured == 0 {
        out.problem(
            &bar,
            "userphoto: no target is configured; add an [ad], [m365], [exchange], [ldap] or [folder] section to userphoto.toml, or pass --config FILE",
        );
    }
    Ok(if configured > 0 && usable == configured {
        Status::Success
    } else {
        Status::PartialFailure
    })
}
