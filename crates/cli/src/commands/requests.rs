//! `userphoto requests`: list, show, approve and reject self-service
//! requests — the same [`Queue`] the web UI's approver page drives.

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use userphoto_directory::config::Config;
use userphoto_selfservice::model::Filter;
use userphoto_selfservice::{team, Request, State};

use super::{open, ops};
use crate::args::{RequestsAction, RequestsArgs};
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &RequestsArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let queue = team::open_queue(config).map_err(|e| anyhow!("{e}"))?;
    match &args.action {
        RequestsAction::List { all, state, user } => {
            let mut filter = if *all || !state.is_empty() || user.is_some() {
                Filter::default()
            } else {
                Filter::queue()
            };
            for s in state {
                filter.states.push(State::parse(s).ok_or_else(|| {
                    anyhow!("--state {s:?} is not a state; use pending, approving, approved, rejected, withdrawn or failed")
                })?);
            }
            filter.user.clone_from(user);
            let list = queue.list(filter).await.map_err(|e| anyhow!("{e}"))?;
            if !out.json && list.is_empty() {
                out.line(&indicatif::ProgressBar::hidden(), "no requests");
            }
            for r in &list {
                print_request(out, r, false);
            }
            Ok(Status::Success)
        }
        RequestsAction::Show { id, photo } => {
            let r = queue.get(*id).await.map_err(|e| anyhow!("{e}"))?;
            if let Some(path) = photo {
                let bytes = queue.photo(*id).await.map_err(|e| anyhow!("{e}"))?;
                std::fs::write(path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            print_request(out, &r, true);
            Ok(Status::Success)
        }
        RequestsAction::Approve { id, approver } => {
            let approver = approver.clone().unwrap_or_else(local_user);
            let targets = open_targets(config).await?;
            let ops = ops(config)?;
            for r in queue
                .recover(&targets, &ops)
                .await
                .map_err(|e| anyhow!("{e}"))?
            {
                print_request(out, &r, false);
            }
            let r = queue
                .approve(*id, &approver, &targets, &ops)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            print_request(out, &r, true);
            Ok(if r.state == State::Approved {
                Status::Success
            } else {
                Status::PartialFailure
            })
        }
        RequestsAction::Reject {
            id,
            reason,
            approver,
        } => {
            let approver = approver.clone().unwrap_or_else(local_user);
            let r = queue
                .reject(*id, &approver, reason)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            print_request(out, &r, true);
            Ok(Status::Success)
        }
    }
}

/// The `[team]` targets, opened; any that cannot be opened stops the
/// approval before anything is written.
async fn open_targets(config: &Config) -> anyhow::Result<Vec<userphoto_directory::config::Target>> {
    let kinds = team::targets(config);
    if kinds.is_empty() {
        bail!("no target is configured to write approved photos to; add an [ad] or [m365] section, or [team] targets");
    }
    let mut targets = Vec::new();
    for kind in kinds {
        targets.push(open(config, kind).await?);
    }
    Ok(targets)
}

fn local_user() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("local user {name}")
}

/// One request as JSON (`type: request`) or as text.
fn print_request(out: &Output, r: &Request, detail: bool) {
    if out.json {
        let mut v: Value = serde_json::to_value(r).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert("type".into(), json!("request"));
        }
        out.json_line(&v);
        return;
    }
    let bar = indicatif::ProgressBar::hidden();
    let checks = if r.checks.is_empty() {
        "checks passed".to_owned()
    } else {
        r.checks
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    out.line(
        &bar,
        &format!(
            "#{}  {}  {}  submitted {}  {}",
            r.id, r.state, r.user, r.submitted_at, checks
        ),
    );
    if detail {
        for c in &r.checks {
            out.line(&bar, &format!("    check: {}", c.text));
        }
        if let Some(who) = &r.reviewer {
            out.line(&bar, &format!("    reviewer: {who}"));
        }
        if let Some(why) = &r.reason {
            out.line(&bar, &format!("    reason: {why}"));
        }
        for o in &r.outcome {
            out.line(&bar, &format!("    {o}"));
        }
    } else if let Some(why) = r.reason.as_ref().filter(|_| r.state == State::Failed) {
        out.line(&bar, &format!("    reason: {why}"));
    }
}
