//! `userphoto sync [JOB…]`: run the `[[sync]]` jobs of `userphoto.toml`
//! unattended — a thin layer over `userphoto_bulk::sync`, which locks,
//! plans (trusting the sync state), writes and records each job.
//!
//! Made for timers: no questions, one line per job (or a JSON object with
//! `--json`), and an exit status a monitor can act on.

use std::sync::Arc;

use anyhow::bail;
use serde_json::json;
use userphoto_bulk::import::{ExecuteOptions, NoReporter, RunHooks};
use userphoto_bulk::sync::{SyncError, SyncJob};
use userphoto_bulk::wording::Wording;
use userphoto_directory::config::{Config, SyncSection, Target};

use super::import::{print_summary, state_dir};
use super::{configured, open, ops};
use crate::args::SyncArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(args: &SyncArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    let all = config.sync_jobs();
    if all.is_empty() {
        let file = config
            .path()
            .map_or_else(|| "userphoto.toml".to_owned(), |p| p.display().to_string());
        bail!(
            "{file} has no [[sync]] job; add one (see docs/SYNC.md), then run userphoto sync again"
        );
    }
    let mut chosen: Vec<&SyncSection> = Vec::new();
    for name in &args.jobs {
        match all.iter().find(|j| j.name.eq_ignore_ascii_case(name)) {
            Some(j) => chosen.push(j),
            None => bail!(
                "there is no [[sync]] job named {name:?}; the jobs are: {}",
                all.iter()
                    .map(|j| j.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    if chosen.is_empty() {
        chosen = all.iter().collect();
    }
    let state = state_dir(args.state_dir.as_deref(), config)?;
    let mut status = Status::Success;
    for section in chosen {
        if !run_job(section, args, config, &state, out).await {
            status = Status::PartialFailure;
        }
    }
    Ok(status)
}

/// Runs one job and prints its line; whether it fully succeeded.
async fn run_job(
    section: &SyncSection,
    args: &SyncArgs,
    config: &Config,
    state: &std::path::Path,
    out: &Output,
) -> bool {
    let fail = |message: String| {
        if out.json {
            out.json_line(
                &json!({"type": "sync", "job": section.name, "status": "failed", "error": message}),
            );
        } else {
            out.problem(
                &indicatif::ProgressBar::hidden(),
                &format!("userphoto: {message}"),
            );
        }
        false
    };
    // `source = "m365"` (a target's name, not a path): another directory
    // is the source, and not a target of this job.
    let source_kind = section
        .source
        .to_str()
        .and_then(|s| s.parse::<userphoto_directory::config::TargetKind>().ok());
    let kinds: Vec<_> = if section.targets.is_empty() {
        match configured(config) {
            Ok(k) => k.into_iter().filter(|k| Some(*k) != source_kind).collect(),
            Err(e) => return fail(format!("sync job {:?}: {e:#}", section.name)),
        }
    } else {
        section.targets.clone()
    };
    let mut targets: Vec<Target> = Vec::new();
    let mut unopened = Vec::new();
    for kind in kinds {
        match open(config, kind).await {
            Ok(t) => targets.push(t),
            Err(e) => unopened.push(format!("{e:#}")),
        }
    }
    if !unopened.is_empty() {
        // A job writes every target or none: a photo written to AD but
        // not to the cloud would leave the next run's plan lopsided.
        return fail(format!(
            "sync job {:?} did not run: {}",
            section.name,
            unopened.join("; ")
        ));
    }
    let ops = match ops(config) {
        Ok(o) => o,
        Err(e) => return fail(format!("{e:#}")),
    };
    let mut job = match SyncJob::from_section(section, |p| config.resolve_path(p)) {
        Ok(j) => j,
        Err(e) => return fail(e.to_string()),
    };
    if let Some(kind) = source_kind {
        if targets.iter().any(|t| t.kind == kind) {
            return fail(format!(
                "sync job {:?}: {kind} is both the source and a target; remove it from targets",
                section.name
            ));
        }
        match open(config, kind).await {
            Ok(t) => job.source_directory = Some(t),
            Err(e) => {
                return fail(format!(
                    "sync job {:?} did not run: the source {e:#}",
                    section.name
                ))
            }
        }
    }
    job.options.match_order = ops.match_order().to_vec();
    job.options.threads = args.jobs_threads;
    job.verify |= args.verify;
    let hooks = RunHooks {
        options: ExecuteOptions {
            threads: args.jobs_threads,
            // Nobody is there to type --resume: ride out a DC restart as
            // `import` does by default.
            outage_wait: Some(std::time::Duration::from_secs(120)),
            ..ExecuteOptions::default()
        },
        reporter: Arc::new(NoReporter),
        ..RunHooks::default()
    };
    let mut report = match job.run(state, targets, ops, hooks).await {
        Ok(r) => r,
        Err(e @ SyncError::Busy { .. }) => {
            if out.json {
                out.json_line(&json!({"type": "sync", "job": section.name, "status": "busy", "error": e.to_string()}));
            } else {
                out.problem(
                    &indicatif::ProgressBar::hidden(),
                    &format!("userphoto: {e}"),
                );
            }
            return false;
        }
        Err(e) => return fail(e.to_string()),
    };
    let wording = Wording::command_line();
    report.word(&|r| wording.reason(r));
    let report_path = section.report.as_deref().map(|p| config.resolve_path(p));
    if let Some(path) = &report_path {
        // An unattended job makes its report folder (the report is the
        // place a morning look goes to).
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = report.write(path) {
            return fail(format!("sync job {:?}: {e}", section.name));
        }
    }
    let ok = report.summary.is_success();
    if out.json {
        out.json_line(&json!({
            "type": "sync",
            "job": section.name,
            "status": if ok { "ok" } else { "failed" },
            "summary": report.summary,
            "report": report_path,
        }));
    } else {
        print_summary(
            out,
            &format!("sync {}", section.name),
            &report,
            report_path.as_deref(),
        );
    }
    ok
}
