//! `userphoto backup --out DIR`: export every current photo of the targets.

use anyhow::Context as _;
use indicatif::ProgressStyle;
use serde_json::json;
use userphoto_bulk::backup::{export_target, BackupStore, ExportOutcome};
use userphoto_directory::config::Config;

use super::{chosen, open, report_failure, status};
use crate::args::BackupArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &BackupArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let kinds = chosen(&args.targets, config)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the folder {}", args.out.display()))?;
    let store = BackupStore::new(&args.out);

    let mut failed = 0;
    for kind in kinds {
        let target = match open(config, kind).await {
            Ok(t) => t,
            Err(e) => {
                failed += 1;
                report_failure(out, "backup", kind, "", &e.to_string());
                continue;
            }
        };
        let jobs = args.jobs.map_or_else(
            || target.directory.capabilities().suggested_concurrency,
            usize::from,
        );
        let bar = out.progress(0, &format!("backing up {kind}"));
        if !bar.is_hidden() {
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg}: {pos} users {per_sec}")
            {
                bar.set_style(style);
            }
        }
        let listing_key = target.directory.capabilities().listing_key;
        let result = export_target(&target, &store, jobs, |item| {
            bar.inc(1);
            let name = item.user.key(listing_key).unwrap_or(item.user.label());
            let (state, path, detail) = match &item.outcome {
                ExportOutcome::Saved(r) => ("saved", Some(store.dir().join(&r.path)), None),
                ExportOutcome::NoPhoto => ("no-photo", None, None),
                ExportOutcome::NoMailbox => ("no-mailbox", None, None),
                ExportOutcome::NotAccessible(reason) => {
                    ("not-accessible", None, Some(reason.clone()))
                }
                ExportOutcome::Failed(e) => ("failed", None, Some(e.clone())),
                _ => ("other", None, None),
            };
            if out.json {
                out.json_line(&json!({
                    "type": "backup", "target": kind.as_str(), "user": name,
                    "user_id": item.user.id, "status": state, "path": path, "detail": detail,
                }));
            } else if state == "failed" {
                out.problem(
                    &bar,
                    &format!(
                        "userphoto: error: {kind}: {name}: {}",
                        detail.unwrap_or_default()
                    ),
                );
            } else if out.verbose > 0 {
                let shown = path.map_or_else(|| state.to_owned(), |p| p.display().to_string());
                out.line(&bar, &format!("{kind}: {name}: {shown}"));
            }
        })
        .await;
        bar.finish_and_clear();
        match result {
            Ok(summary) => {
                failed += summary.failed;
                if out.json {
                    out.json_line(&json!({
                        "type": "summary", "target": kind.as_str(), "users": summary.users,
                        "saved": summary.saved, "no_photo": summary.no_photo,
                        "not_accessible": summary.not_accessible, "failed": summary.failed,
                        "out": store.dir(),
                    }));
                } else {
                    out.line(
                        &bar,
                        &format!(
                            "{kind}: {} users, {} photos kept in {}, {} without a photo, {} not accessible, {} failed",
                            summary.users,
                            summary.saved,
                            store.dir().display(),
                            summary.no_photo,
                            summary.not_accessible,
                            summary.failed
                        ),
                    );
                }
            }
            Err(e) => {
                failed += 1;
                report_failure(
                    out,
                    "backup",
                    kind,
                    "",
                    &format!("{kind}: listing users failed: {e}"),
                );
            }
        }
    }
    Ok(status(failed))
}
