//! `userphoto users`: stream a target's users as a table or JSON lines.

use anyhow::anyhow;
use futures::StreamExt as _;
use userphoto_directory::config::{Config, TargetKind};
use userphoto_directory::UserQuery;

use super::{configured, open, user_json};
use crate::args::UsersArgs;
use crate::output::{Output, Status};

/// Where users are listed from when `--source` is not given: the
/// on-premises directory first (it names users the way bulk file names do).
const SOURCE_ORDER: [TargetKind; 6] = [
    TargetKind::Ad,
    TargetKind::M365,
    TargetKind::Google,
    TargetKind::Ldap,
    TargetKind::Exchange,
    TargetKind::Folder,
];

pub(crate) async fn run(args: &UsersArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    let kind = match args.source {
        Some(kind) => kind,
        None => {
            let kinds = configured(config)?;
            SOURCE_ORDER
                .into_iter()
                .find(|k| kinds.contains(k))
                .ok_or_else(|| anyhow!("no target to list users from; configure one"))?
        }
    };
    let target = open(config, kind).await?;
    let dir = &target.directory;
    let caps = dir.capabilities();
    let mut query = match &args.search {
        Some(text) => UserQuery::search(text.clone()),
        None => UserQuery::all(),
    };
    if let Some(limit) = args.limit {
        query = query.with_limit(limit);
    }

    let bar = indicatif::ProgressBar::hidden();
    if !out.json {
        out.line(
            &bar,
            &row(&caps.listing_attribute, "DISPLAY NAME", "MAIL / UPN", "ID"),
        );
    }
    let mut users = dir.list_users(&query);
    let mut count = 0usize;
    while let Some(user) = users.next().await {
        let user =
            user.map_err(|e| anyhow!("{kind}: listing users stopped after {count} users: {e}"))?;
        count += 1;
        if out.json {
            out.json_line(&user_json(kind, caps.listing_key, &user));
        } else {
            let contact = user.mail.as_deref().or(user.upn.as_deref()).unwrap_or("");
            out.line(
                &bar,
                &row(
                    user.key(caps.listing_key).unwrap_or(""),
                    user.display_name.as_deref().unwrap_or(""),
                    contact,
                    &user.id,
                ),
            );
        }
    }
    if out.json {
        out.json_line(
            &serde_json::json!({"type": "summary", "target": kind.as_str(), "users": count}),
        );
    } else {
        out.problem(&bar, &format!("{count} users in {target}"));
    }
    Ok(Status::Success)
}

/// One table row with fixed column widths (streamed, so widths cannot
/// follow the data).
fn row(name: &str, display: &str, contact: &str, id: &str) -> String {
    format!(
        "{}  {}  {}  {id}",
        pad(name, 24),
        pad(display, 28),
        pad(contact, 34)
    )
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        text.to_owned()
    } else {
        format!("{text}{}", " ".repeat(width - len))
    }
}
