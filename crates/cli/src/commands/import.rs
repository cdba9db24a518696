//! `userphoto import FOLDER`: plan, (confirm,) execute, report — a thin
//! layer over `userphoto_bulk::import`, which the web UI calls too.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use indicatif::ProgressBar;
use serde_json::json;
use userphoto_bulk::import::{
    CancelToken, ConfirmRequest, Confirmer, Decision, Event, ExecuteOptions, ImportOptions,
    ImportSession, Mapping, NoReporter, Outcome, Plan, Reporter, RunHooks, RunReport,
};
use userphoto_bulk::wording::Wording;
use userphoto_directory::config::{Config, Target};

use super::{chosen, open, ops, report_failure};
use crate::args::ImportArgs;
use crate::output::{human_bytes, Output, Status};

pub(crate) async fn run(
    args: &ImportArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    if args.confirm && !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        bail!(
            "--confirm asks about each user on a terminal, and this is not one; run it in a terminal, or review the plan with --dry-run and run without --confirm"
        );
    }
    if args.confirm && out.json {
        bail!("--confirm and --json do not go together: the questions are for a person; leave one out");
    }
    let explicit = args.targets.is_explicit();
    let kinds = chosen(&args.targets, config)?;
    let mut failed_targets = 0;
    let mut targets: Vec<Target> = Vec::new();
    for kind in &kinds {
        match open(config, *kind).await {
            Ok(t) => targets.push(t),
            Err(e) => {
                failed_targets += 1;
                report_failure(out, "import", *kind, "", &format!("{e:#}"));
            }
        }
    }
    if targets.is_empty() {
        bail!("no target could be opened, so nothing was imported");
    }
    let wording = Wording::command_line();
    let ops = ops(config)?;
    let match_order = ops.match_order().to_vec();
    let session = ImportSession::open(
        state_dir(args.state_dir.as_deref(), config)?,
        &args.folder,
        targets,
        ops,
    );
    let pending = if args.resume {
        session.resume().map_err(|e| anyhow!("{e}"))?
    } else {
        let options = ImportOptions {
            recursive: args.recursive,
            match_by: args.match_by,
            mapping: args
                .mapping
                .as_deref()
                .map(Mapping::load)
                .transpose()
                .map_err(|e| anyhow!("{e}; the mapping file needs rows `file,user`"))?,
            explicit_targets: explicit,
            threads: args.jobs,
            match_order,
            crop: args.quality.crop.into(),
            strict: args.quality.strict,
            verify: args.verify,
            ..ImportOptions::new(&args.folder)
        };
        if args.write.dry_run {
            let plan = session
                .plan(&options.reviewed(), &NoReporter)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            print_plan(out, &plan, &wording);
            return Ok(if failed_targets == 0 {
                Status::Success
            } else {
                Status::PartialFailure
            });
        }
        if session.is_interrupted() && !out.json {
            out.problem(
                &ProgressBar::hidden(),
                "note: an earlier import of this folder was interrupted; this run starts afresh (use --resume to continue it instead)",
            );
        }
        // Photos are prepared while the users are looked up.
        session
            .plan_and_start(&options, &NoReporter)
            .await
            .map_err(|e| anyhow!("{e}"))?
    };

    let counts = pending.plan().counts();
    let bar = Arc::new(out.progress(counts.set as u64, "importing"));
    let reporter = Arc::new(CliReporter::counting_writes(Arc::clone(&bar), out));
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        let bar = Arc::clone(&bar);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.println("userphoto: stopping after the writes in flight; run the same command with --resume to finish");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let hooks = RunHooks {
        options: ExecuteOptions {
            write: userphoto_bulk::ops::WriteOptions {
                backup: !args.write.no_backup,
                dry_run: false,
            },
            threads: args.jobs,
            concurrency: args.concurrency,
            outage_wait: (args.outage_wait > 0)
                .then(|| std::time::Duration::from_secs(args.outage_wait)),
        },
        reporter,
        cancel,
        confirmer: args.confirm.then(|| -> Arc<dyn Confirmer> {
            Arc::new(TtyConfirmer {
                bar: Arc::clone(&bar),
            })
        }),
    };
    let run = session.run(pending, hooks).await;
    bar.finish_and_clear();
    let mut report = run.map_err(|e| anyhow!("{e}"))?;
    report.word(&|r| wording.reason(r));
    if let Some(path) = &args.report {
        report.write(path).map_err(|e| anyhow!("{e}"))?;
    }
    print_summary(out, "import", &report, args.report.as_deref());
    Ok(if report.summary.is_success() && failed_targets == 0 {
        Status::Success
    } else {
        Status::PartialFailure
    })
}

/// Where imports keep their state: `dir` if given (`--state-dir`), else
/// `import/` beside the audit log. The web UI uses the same place, so
/// either can carry on the other's interrupted import.
pub(crate) fn state_dir(dir: Option<&Path>, config: &Config) -> anyhow::Result<PathBuf> {
    Ok(match dir {
        Some(d) => d.to_path_buf(),
        None => config
            .audit_path()
            .map_err(|e| anyhow!("{e}"))?
            .parent()
            .map_or_else(|| PathBuf::from("import"), |p| p.join("import")),
    })
}

/// The plan as a table, or as JSON lines.
fn print_plan(out: &Output, plan: &Plan, wording: &Wording) {
    let rows = wording.plan_rows(plan);
    let bar = ProgressBar::hidden();
    if out.json {
        for r in &rows {
            out.json_line(r);
        }
        out.json_line(&json!({"type": "plan-summary", "counts": plan.counts()}));
        return;
    }
    let width = |f: &dyn Fn(&userphoto_bulk::import::PlanRow) -> usize, min: usize| {
        rows.iter().map(f).max().unwrap_or(0).clamp(min, 40)
    };
    let fw = width(&|r| r.file.chars().count(), 4);
    let uw = width(&|r| r.user.as_deref().map_or(1, |u| u.chars().count()), 4);
    out.line(
        &bar,
        &format!(
            "{:fw$}  {:uw$}  {:8}  {:9}  {:>9}  {:>9}  REASON",
            "FILE", "USER", "TARGET", "ACTION", "CURRENT", "NEW"
        ),
    );
    for r in &rows {
        let bytes = |b: Option<usize>| b.map_or_else(|| "-".to_owned(), |b| human_bytes(b as u64));
        let mut reason = r.reason.clone().unwrap_or_default();
        if !r.warnings.is_empty() && r.action != userphoto_bulk::import::Action::Error {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            reason.push_str("warning: ");
            reason.push_str(&r.warnings.join("; "));
        }
        out.line(
            &bar,
            &format!(
                "{:fw$}  {:uw$}  {:8}  {:9}  {:>9}  {:>9}  {}",
                truncate(&r.file, fw),
                truncate(r.user.as_deref().unwrap_or("-"), uw),
                r.target.as_deref().unwrap_or("-"),
                r.action.as_str(),
                bytes(r.current_bytes),
                bytes(r.new_bytes),
                reason,
            ),
        );
    }
    let c = plan.counts();
    let warned = plan
        .entries
        .iter()
        .filter(|e| !e.warnings.is_empty() && e.action != userphoto_bulk::import::Action::Error)
        .count();
    out.line(
        &bar,
        &format!(
            "dry run: {} files; {} to write, {} unchanged, {} skipped, {} unmatched, {} duplicates, {} errors; {warned} with quality warnings; nothing was changed",
            c.files, c.set, c.unchanged, c.skipped, c.unmatched, c.duplicate, c.error
        ),
    );
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The closing line of a run (`import: 3 written, …`), or its JSON.
pub(crate) fn print_summary(
    out: &Output,
    command: &str,
    report: &RunReport,
    report_path: Option<&Path>,
) {
    let s = &report.summary;
    // Google's quota answers are retried inside its transport; the summary
    // says how many, so a slow run explains itself.
    let google = userphoto_directory::google::retry_totals();
    if out.json {
        let mut line = json!({"type": "summary", "summary": s, "report": report_path});
        if google.retries > 0 || google.rate_limited > 0 {
            line["retries"] = json!({"google": {
                "retries": google.retries,
                "rate_limited": google.rate_limited,
                "server_errors": google.server_errors,
            }});
        }
        out.json_line(&line);
        return;
    }
    let mut line = if s.would_write > 0 {
        format!(
            "{command} (dry run, nothing changed): {} would be written, ",
            s.would_write
        )
    } else {
        format!("{command}: {} written, ", s.written)
    };
    line.push_str(&format!(
        "{} unchanged, {} skipped, {} unmatched, {} duplicates, {} failed",
        s.unchanged, s.skipped, s.unmatched, s.duplicate, s.failed
    ));
    if s.not_done > 0 {
        line.push_str(&format!(
            ", {} not done (stopped; run the same command with --resume to finish)",
            s.not_done
        ));
    }
    if command == "import" && s.failed > 0 && s.not_done == 0 && s.would_write == 0 {
        // A new run skips what is in place (digests); a resume retries
        // only the failed writes, from the saved plan (a file that could
        // not be read while planning needs a new run).
        line.push_str(
            " (once the cause is fixed, run the same command again: photos already in place are skipped; or add --resume to retry only the failed writes)",
        );
    }
    line.push_str(&format!(" in {:.1} s", s.elapsed_ms as f64 / 1000.0));
    if google.retries > 0 {
        line.push_str(&format!(
            "; google: {} requests retried ({} quota answers, {} server errors)",
            google.retries, google.rate_limited, google.server_errors
        ));
    }
    if let Some(p) = report_path {
        line.push_str(&format!("; report: {}", p.display()));
    }
    out.line(&ProgressBar::hidden(), &line);
}

/// Progress for people (a bar, failures above it) or JSON lines.
pub(crate) struct CliReporter {
    bar: Arc<ProgressBar>,
    json: bool,
    verbose: u8,
    /// Where lines go (its own printer: the reporter outlives borrows).
    out: Output,
    /// The bar counts every item and takes its length from `Started`
    /// (use-existing-hd), rather than only the writes of a plan (import).
    every_item: bool,
}

impl CliReporter {
    /// For `import`: the bar's length is the plan's writes; it moves on
    /// each photo written.
    pub(crate) fn counting_writes(bar: Arc<ProgressBar>, out: &Output) -> Self {
        CliReporter {
            bar,
            json: out.json,
            verbose: out.verbose,
            out: Output::new(out.json, out.verbose),
            every_item: false,
        }
    }

    /// For bulk runs without a plan: the length comes with `Started`, and
    /// the bar moves on every user whatever the outcome.
    pub(crate) fn counting_every_item(bar: Arc<ProgressBar>, out: &Output) -> Self {
        CliReporter {
            every_item: true,
            ..Self::counting_writes(bar, out)
        }
    }
}

impl Reporter for CliReporter {
    fn event(&self, event: &Event) {
        if self.every_item {
            match event {
                Event::Started { total } => self.bar.set_length(*total as u64),
                Event::Item(i) if i.outcome != Outcome::Written => self.bar.inc(1),
                _ => {}
            }
        }
        match event {
            Event::Item(item) => {
                // The engine gives reasons; the command line words them.
                let item = &Wording::command_line().item(item.clone());
                if self.json {
                    let mut v = serde_json::to_value(item).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("type".into(), json!("item"));
                    }
                    self.out.json_line(&v);
                    return;
                }
                let target = item.target.as_deref().unwrap_or("-");
                let user = item.user.as_deref().unwrap_or("-");
                match item.outcome {
                    Outcome::Failed => self.out.problem(
                        &self.bar,
                        &format!(
                            "userphoto: error: {}: {target}: {user}: {}",
                            item.file,
                            item.error.as_deref().unwrap_or("failed")
                        ),
                    ),
                    Outcome::Written => {
                        self.bar.inc(1);
                        if self.verbose > 0 {
                            self.out.line(
                                &self.bar,
                                &format!("{target}: {user}: photo written ({})", item.file),
                            );
                        }
                    }
                    _ if self.verbose > 1 => self.out.line(
                        &self.bar,
                        &format!(
                            "{target}: {user}: {} ({}){}",
                            item.outcome.as_str(),
                            item.file,
                            item.error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        ),
                    ),
                    _ => {}
                }
            }
            Event::Waiting { .. } if self.json => {
                self.out
                    .json_line(&serde_json::to_value(event).unwrap_or_default());
            }
            Event::Waiting {
                targets,
                writes,
                patience_s,
            } => {
                self.bar.println(format!(
                    "userphoto: {} could not be reached ({writes} writes waiting); waiting up to {patience_s} s for it to answer, then carrying on (Ctrl-C stops; --resume does the rest later)",
                    targets.join(", ")
                ));
            }
            Event::Stopping if !self.json => {
                self.bar
                    .println("userphoto: stopping; finishing the writes in flight");
            }
            _ => {}
        }
    }
}

/// Asks on the terminal, one user at a time.
struct TtyConfirmer {
    bar: Arc<ProgressBar>,
}

impl Confirmer for TtyConfirmer {
    fn confirm(&self, r: &ConfirmRequest) -> Decision {
        self.bar.suspend(|| {
            let who = match &r.display_name {
                Some(d) => format!("{} ({d})", r.user),
                None => r.user.clone(),
            };
            let sizes: Vec<String> = r
                .targets
                .iter()
                .map(|(t, cur, new)| {
                    let cur = match cur {
                        Some(0) => "no photo".to_owned(),
                        Some(b) => human_bytes(*b as u64),
                        None => "current unknown".to_owned(),
                    };
                    format!("{t}: {cur} → {}", human_bytes(*new as u64))
                })
                .collect();
            loop {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "{} → {who}: {}\n  write? [y]es / [n]o / [a]ll / [q]uit: ",
                    r.file,
                    sizes.join(", ")
                );
                let _ = err.flush();
                drop(err);
                let mut answer = String::new();
                match std::io::stdin().lock().read_line(&mut answer) {
                    Ok(0) | Err(_) => return Decision::Quit,
                    Ok(_) => {}
                }
                match answer.trim().to_ascii_lowercase().as_str() {
                    "y" | "yes" => return Decision::Yes,
                    "n" | "no" => return Decision::No,
                    "a" | "all" => return Decision::All,
                    "q" | "quit" => return Decision::Quit,
                    _ => {}
                }
            }
        })
    }
}
