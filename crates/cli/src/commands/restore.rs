//! `userphoto restore BACKUP`: put the newest kept photo of each user back.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use anyhow::{anyhow, bail};
use userphoto_bulk::backup::BackupSet;
use userphoto_directory::config::{Config, Target, TargetKind};

use super::{open, ops, report_change, report_failure, status, write_options};
use crate::args::RestoreArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &RestoreArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let set = BackupSet::open(&args.backup).map_err(|e| anyhow!("{e}"))?;
    if !set.torn_lines().is_empty() {
        let lines: Vec<String> = set.torn_lines().iter().map(ToString::to_string).collect();
        let msg = format!(
            "the manifest of {} has lines cut short (line {}), from a crash or a full disk while they were written; they are left out",
            args.backup.display(),
            lines.join(", ")
        );
        if out.json {
            out.json_line(&serde_json::json!({"type": "warning", "message": msg}));
        } else {
            out.problem(
                &indicatif::ProgressBar::hidden(),
                &format!("userphoto: warning: {msg}"),
            );
        }
    }
    let mut failed = 0;
    for user in &args.users {
        if !set.records().iter().any(|r| r.matches_user(user)) {
            failed += 1;
            let msg = format!(
                "no photo of {user:?} is kept in {}; check the name (the id, listing name or display name) or the backup folder",
                args.backup.display()
            );
            if out.json {
                out.json_line(&serde_json::json!({"type": "restore", "user": user, "status": "failed", "error": msg}));
            } else {
                out.problem(
                    &indicatif::ProgressBar::hidden(),
                    &format!("userphoto: error: {msg}"),
                );
            }
        }
    }
    let records: Vec<_> = set
        .newest(&args.users)
        .into_iter()
        .filter(|r| args.targets.admits(&r.target))
        .collect();
    if records.is_empty() {
        if failed > 0 {
            return Ok(status(failed));
        }
        bail!(
            "{} holds no photo to restore{}",
            args.backup.display(),
            if !args.targets.is_explicit() {
                ""
            } else {
                " for the targets given"
            }
        );
    }

    let ops = ops(config)?;
    let write = write_options(&args.write);
    let mut targets: HashMap<TargetKind, Result<Target, String>> = HashMap::new();
    for record in records {
        let user = record.user_label().to_owned();
        let kind: TargetKind = match record.target.parse() {
            Ok(k) => k,
            Err(e) => {
                failed += 1;
                let msg = format!(
                    "{}: the kept photo of {user} names an unknown target: {e}",
                    record.path
                );
                if out.json {
                    out.json_line(&serde_json::json!({"type": "restore", "target": record.target, "user": user, "status": "failed", "error": msg}));
                } else {
                    out.problem(
                        &indicatif::ProgressBar::hidden(),
                        &format!("userphoto: error: {msg}"),
                    );
                }
                continue;
            }
        };
        if let Entry::Vacant(slot) = targets.entry(kind) {
            slot.insert(open(config, kind).await.map_err(|e| e.to_string()));
        }
        let target = match targets.get(&kind) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                failed += 1;
                report_failure(out, "restore", kind, &user, e);
                continue;
            }
            None => continue,
        };
        match ops.restore(target, &set, record, &write).await {
            Ok(change) => report_change(out, &ops, "restore", &change),
            Err(e) => {
                failed += 1;
                report_failure(out, "restore", kind, &user, &e.to_string());
            }
        }
    }
    Ok(status(failed))
}
