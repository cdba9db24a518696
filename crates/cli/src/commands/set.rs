//! `userphoto set`: prepare one image for each target and write it, HD
//! targets first, backed up and audited.

use anyhow::{anyhow, Context as _};
use serde_json::json;
use userphoto_bulk::ops::{OpsError, SetOptions};
use userphoto_directory::config::Config;

use super::{chosen, open, ops, report_change, report_failure, status, write_options};
use crate::args::SetArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(args: &SetArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    let file = args.image.display();
    let image = std::fs::read(&args.image)
        .with_context(|| format!("cannot read the image {file}; check the path"))?;
    let options = SetOptions {
        write: write_options(&args.write),
        crop: args.crop.into(),
        ..SetOptions::default()
    };
    // Refuse a bad image before talking to any directory.
    userphoto_bulk::prepare::probe(&image, &options.limits)
        .map_err(|e| anyhow!("{file}: {e}; nothing was changed"))?;

    let explicit = args.targets.is_explicit();
    let kinds = chosen(&args.targets, config)?;
    let user = &args.user.user;

    let mut failed = 0;
    let mut targets = Vec::new();
    for kind in kinds {
        match open(config, kind).await {
            Ok(t) => targets.push(t),
            Err(e) => {
                failed += 1;
                report_failure(out, "set", kind, user, &e.to_string());
            }
        }
    }
    if targets.is_empty() {
        return Ok(status(failed));
    }
    let ops = ops(config)?;
    let run = ops
        .set_photo_many(&targets, explicit, user, args.user.by, &image, &options)
        .await
        .map_err(|e| match e {
            OpsError::Image(e) => anyhow!("{file}: {e}; nothing was changed"),
            other => anyhow!("{other}"),
        })?;

    let wording = userphoto_bulk::wording::Wording::command_line();
    for (kind, why) in &run.skipped {
        let reason = wording.reason(why);
        if out.json {
            out.json_line(&json!({
                "type": "set", "target": kind.as_str(), "user": user,
                "status": "skipped", "reason": reason, "code": why.code(),
            }));
        } else {
            out.line(
                &indicatif::ProgressBar::hidden(),
                &format!("{kind}: {user}: skipped: {reason}"),
            );
        }
    }
    if run.results.is_empty() {
        failed += 1;
        let msg = format!(
            "nothing was written for {user}: {}; configure an Active Directory-sized target or name one with --target",
            run.skipped
                .iter()
                .map(|(k, why)| format!("{k} skipped because {}", wording.reason(why)))
                .collect::<Vec<_>>()
                .join("; ")
        );
        if out.json {
            out.json_line(&json!({"type": "error", "user": user, "error": msg}));
        } else {
            out.problem(
                &indicatif::ProgressBar::hidden(),
                &format!("userphoto: error: {msg}"),
            );
        }
    }
    for (kind, result) in &run.results {
        match result {
            Ok(change) => report_change(out, &ops, "set", change),
            Err(e) => {
                failed += 1;
                report_failure(out, "set", *kind, user, &e.to_string());
            }
        }
    }
    Ok(status(failed))
}
