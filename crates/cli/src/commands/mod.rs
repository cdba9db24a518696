//! One module per subcommand: turn arguments into library options, call the
//! library, print. The commands that talk to directories share the helpers
//! below: loading the configuration, a runtime, opening targets, and the
//! JSON shapes of users and changes.

pub(crate) mod backup;
pub(crate) mod convert;
pub(crate) mod demo;
pub(crate) mod detect;
pub(crate) mod get;
pub(crate) mod import;
pub(crate) mod login;
pub(crate) mod remove;
pub(crate) mod report;
pub(crate) mod requests;
pub(crate) mod restore;
pub(crate) mod serve;
pub(crate) mod serve_team;
pub(crate) mod set;
pub(crate) mod sync;
pub(crate) mod use_existing_hd;
pub(crate) mod users;

use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use userphoto_bulk::ops::{Change, ChangeStatus, Ops, WriteOptions};
use userphoto_directory::config::{Config, Target, TargetKind};
use userphoto_directory::{User, UserKey};

use crate::args::{Command, TargetsArg, WriteArgs};
use crate::output::{Output, Status};

/// Runs a command that needs the configuration and the async runtime.
pub(crate) fn run(
    command: &Command,
    config: Option<&Path>,
    out: &Output,
) -> anyhow::Result<Status> {
    let config = Config::discover(config).map_err(|e| anyhow!("{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            Command::Convert(c) => convert::run(c, out),
            Command::Serve(a) => serve::run(a, &config, out).await,
            Command::Demo(a) => demo::run(a, out).await,
            Command::Detect => detect::run(&config, out).await,
            Command::Users(a) => users::run(a, &config, out).await,
            Command::Get(a) => get::run(a, &config, out).await,
            Command::Set(a) => set::run(a, &config, out).await,
            Command::Remove(a) => remove::run(a, &config, out).await,
            Command::Backup(a) => backup::run(a, &config, out).await,
            Command::Restore(a) => restore::run(a, &config, out).await,
            Command::Import(a) => import::run(a, &config, out).await,
            Command::Sync(a) => sync::run(a, &config, out).await,
            Command::Report(a) => report::run(a, &config, out).await,
            Command::UseExistingHd(a) => use_existing_hd::run(a, &config, out).await,
            Command::Login(a) => login::run(a, &config, out).await,
            Command::Requests(a) => requests::run(a, &config, out).await,
        }
    })
}

/// The configured targets, or an error saying how to configure one.
pub(crate) fn configured(config: &Config) -> anyhow::Result<Vec<TargetKind>> {
    let kinds = config.configured();
    if kinds.is_empty() {
        let file = config
            .path()
            .map_or_else(|| "userphoto.toml".to_owned(), |p| p.display().to_string());
        bail!(
            "no target is configured; add an [ad], [m365], [exchange], [ldap] or [folder] section to {file}, or pass --config FILE"
        );
    }
    Ok(kinds)
}

/// The targets named with `--target`, else every configured one; sorted,
/// each once.
pub(crate) fn chosen(targets: &TargetsArg, config: &Config) -> anyhow::Result<Vec<TargetKind>> {
    let mut kinds = if targets.is_explicit() {
        targets.kinds.clone()
    } else {
        configured(config)?
    };
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

/// Opens `kind`, with the error as one sentence.
pub(crate) async fn open(config: &Config, kind: TargetKind) -> anyhow::Result<Target> {
    config.open(kind).await.map_err(|e| anyhow!("{kind}: {e}"))
}

/// The backup folder and audit log of the configuration.
pub(crate) fn ops(config: &Config) -> anyhow::Result<Ops> {
    Ops::from_config(config).map_err(|e| anyhow!("{e}"))
}

/// The library's write options from the switches.
pub(crate) fn write_options(w: &WriteArgs) -> WriteOptions {
    WriteOptions {
        backup: !w.no_backup,
        dry_run: w.dry_run,
    }
}

/// A user as one JSON object: `name` is the target's listing name.
pub(crate) fn user_json(target: TargetKind, listing_key: UserKey, user: &User) -> Value {
    json!({
        "type": "user",
        "target": target.as_str(),
        "name": user.key(listing_key),
        "id": user.id,
        "sam_account_name": user.sam_account_name,
        "upn": user.upn,
        "mail": user.mail,
        "alias": user.alias,
        "employee_id": user.employee_id,
        "display_name": user.display_name,
        "enabled": user.enabled,
    })
}

/// The name to show for a change's user: the listing name, else the label.
fn change_user(change: &Change) -> String {
    change
        .user_name
        .clone()
        .unwrap_or_else(|| change.user.label().to_owned())
}

/// Reports one change (set, remove, restore) as text or JSON.
pub(crate) fn report_change(out: &Output, ops: &Ops, kind: &str, change: &Change) {
    let wording = userphoto_bulk::wording::Wording::command_line();
    let backup = change.backup.as_ref().map(|b| {
        ops.backups()
            .map_or_else(|| b.path.clone().into(), |s| s.dir().join(&b.path))
    });
    if out.json {
        out.json_line(&json!({
            "type": kind,
            "target": change.target.as_str(),
            "user": change_user(change),
            "user_id": change.user.id,
            "status": change.status.as_str(),
            "old_sha256": change.old_sha256,
            "new_sha256": change.new_sha256,
            "bytes": change.new_bytes,
            "size": change.new_size,
            "backup": backup,
            "warnings": change.warnings.iter().map(|w| wording.reason(w)).collect::<Vec<_>>(),
            "notes": change.warnings.iter().map(|w| w.code()).collect::<Vec<_>>(),
        }));
        return;
    }
    let bar = indicatif::ProgressBar::hidden();
    for w in &change.warnings {
        out.problem(
            &bar,
            &format!("warning: {}: {}", change.target, wording.reason(w)),
        );
    }
    let what = match (kind, change.status) {
        ("remove", ChangeStatus::Done) => "photo removed".to_owned(),
        ("remove", ChangeStatus::Unchanged) => "had no photo; nothing to remove".to_owned(),
        ("remove", ChangeStatus::DryRun) => "dry run: the photo would be removed".to_owned(),
        (_, ChangeStatus::Unchanged) => "already has this photo; nothing changed".to_owned(),
        (verb, status) => {
            let size = change
                .new_size
                .map(|s| format!("{s}×{s}, "))
                .unwrap_or_default();
            let bytes = change
                .new_bytes
                .map(|b| crate::output::human_bytes(b as u64))
                .unwrap_or_default();
            let detail = format!("({size}{bytes})");
            match (verb, status) {
                ("restore", ChangeStatus::DryRun) => {
                    format!("dry run: the photo would be restored {detail}")
                }
                ("restore", _) => format!("photo restored {detail}"),
                (_, ChangeStatus::DryRun) => {
                    format!("dry run: the photo would be written {detail}")
                }
                _ => format!("photo written {detail}"),
            }
        }
    };
    let mut line = format!("{}: {}: {what}", change.target, change_user(change));
    if let Some(path) = backup {
        line.push_str(&format!("; previous photo kept in {}", path.display()));
    }
    out.line(&bar, &line);
}

/// Reports a per-target failure as text (stderr) or JSON.
pub(crate) fn report_failure(out: &Output, kind: &str, target: TargetKind, user: &str, err: &str) {
    if out.json {
        out.json_line(&json!({
            "type": kind,
            "target": target.as_str(),
            "user": user,
            "status": "failed",
            "error": err,
        }));
    } else {
        out.problem(
            &indicatif::ProgressBar::hidden(),
            &format!("userphoto: error: {err}"),
        );
    }
}

/// The final status from a failure count.
pub(crate) fn status(failed: usize) -> Status {
    if failed == 0 {
        Status::Success
    } else {
        Status::PartialFailure
    }
}
