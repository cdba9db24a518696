//! `userphoto report`: coverage per target — a thin layer over
//! `userphoto_bulk::coverage`, which lists, finds and reads; this file only
//! writes the rows as they come: a table, CSV, JSON lines, or a
//! self-contained HTML page with thumbnails.

use std::io::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context as _};
use base64::Engine as _;
use indicatif::ProgressBar;
use serde_json::json;
use userphoto_bulk::coverage::{
    coverage, findings_text, page_thumbnail, write_csv_row as csv_row, CoverageOptions,
    CoverageRow, CSV_HEADER,
};
use userphoto_bulk::import::{build_plan, Action, ImportOptions, NoReporter, PreparedCache};
use userphoto_bulk::sync::SyncState;
use userphoto_bulk::wording::{date, Wording};
use userphoto_directory::config::{Config, Target};

use super::import::state_dir;
use super::{chosen, open, ops};
use crate::args::ReportArgs;
use crate::output::{Output, Status};

pub(crate) async fn run(
    args: &ReportArgs,
    config: &Config,
    out: &Output,
) -> anyhow::Result<Status> {
    let kinds = chosen(&args.targets, config)?;
    let mut targets: Vec<Target> = Vec::new();
    for kind in kinds {
        targets.push(open(config, kind).await?);
    }
    let state = state_dir(args.state_dir.as_deref(), config)?;
    let sync = SyncState::open(&state);
    let options = CoverageOptions {
        older_than_days: args.older_than,
        keep_photos: args.html.is_some(),
        match_order: ops(config)?.match_order().to_vec(),
        ..CoverageOptions::default()
    };
    let mut html = match &args.html {
        Some(path) => Some(Html::create(path)?),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let bar = ProgressBar::hidden();
    if args.csv {
        writeln!(w, "{CSV_HEADER}")?;
    } else if !out.json && html.is_none() {
        writeln!(
            w,
            "{:<8}  {:<28}  {:<40}  LAST WRITTEN BY USERPHOTO",
            "TARGET", "USER", "FINDINGS"
        )?;
    }
    let mut io_error: Option<std::io::Error> = None;
    let summary = coverage(&targets, &sync, &options, &mut |mut row: CoverageRow| {
        let result = (|| -> std::io::Result<()> {
            if let Some(page) = html.as_mut() {
                page.row(&mut row)?;
            }
            if args.csv {
                csv_row(&mut w, &row)?;
            } else if out.json {
                let mut v = serde_json::to_value(&row).unwrap_or_default();
                v["type"] = json!("row");
                serde_json::to_writer(&mut w, &v)?;
                writeln!(w)?;
            } else if html.is_none() && (args.all || !row.findings.is_empty()) {
                writeln!(
                    w,
                    "{:<8}  {:<28}  {:<40}  {}",
                    row.target.as_str(),
                    row.user,
                    findings_text(&row.findings),
                    written_text(&row)
                )?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            io_error.get_or_insert(e);
        }
    })
    .await
    .map_err(|e| anyhow!("{e}"))?;
    if let Some(e) = io_error {
        return Err(e).context("cannot write the report");
    }

    // Files in the source that match nobody: the planner's own answer.
    let mut unmatched = Vec::new();
    if let Some(source) = &args.source {
        let plan = build_plan(
            &ImportOptions::new(source),
            &targets,
            &PreparedCache::in_memory(),
            &NoReporter,
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
        let wording = Wording::command_line();
        for e in plan
            .entries
            .iter()
            .filter(|e| e.action == Action::Unmatched)
        {
            unmatched.push((
                e.relative.clone(),
                e.reason
                    .as_ref()
                    .map(|r| wording.reason(r))
                    .unwrap_or_default(),
            ));
        }
    }

    if out.json {
        for (file, why) in &unmatched {
            serde_json::to_writer(
                &mut w,
                &json!({"type": "unmatched-file", "file": file, "reason": why}),
            )?;
            writeln!(w)?;
        }
        serde_json::to_writer(
            &mut w,
            &json!({"type": "summary", "targets": summary.targets.iter().map(|(k, c)| json!({"target": k.as_str(), "coverage": c})).collect::<Vec<_>>()}),
        )?;
        writeln!(w)?;
    } else if !args.csv {
        for (file, why) in &unmatched {
            writeln!(w, "file matching nobody: {file} ({why})")?;
        }
        for (kind, c) in &summary.targets {
            writeln!(
                w,
                "{kind}: {} users, {} with a photo, {} without, {} only Exchange's 64×64, {} HD but no thumbnail, {} older than asked, {} unreadable; {} written by userphoto",
                c.users, c.with_photo, c.no_photo, c.only_exchange_thumbnail, c.hd_without_thumbnail, c.older, c.unreadable, c.written_by_userphoto
            )?;
        }
    }
    w.flush()?;
    if let (Some(page), Some(path)) = (html, &args.html) {
        page.finish(&summary, &unmatched)?;
        if !out.json && !args.csv {
            out.line(&bar, &format!("report page: {}", path.display()));
        }
    }
    Ok(Status::Success)
}

fn written_text(row: &CoverageRow) -> String {
    match (row.last_written, &row.last_file) {
        (Some(at), Some(file)) => format!("{} from {file}", date(at)),
        (Some(at), None) => date(at),
        _ => "-".into(),
    }
}

/// The HTML page, written row by row (the summary goes last).
struct Html {
    w: std::io::BufWriter<std::fs::File>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Html {
    fn create(path: &Path) -> anyhow::Result<Self> {
        // Staff photos: private, as backups are (share it on purpose).
        let file = userphoto_directory::private_fs::open(
            userphoto_directory::private_fs::options()
                .create(true)
                .write(true)
                .truncate(true),
            path,
        )
        .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        // Self-contained: no script, no external resource; thumbnails are
        // data: URIs. The summary is at the end (rows are streamed).
        write!(
            w,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>userphoto coverage</title>\n<style>body{{font:14px system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}img{{width:48px;height:48px;object-fit:cover;border-radius:4px}}.none{{display:inline-block;width:48px;height:48px;background:#eee;border-radius:4px}}.bad{{color:#a00}}</style></head><body>\n<h1>Photo coverage</h1><p>The totals are at the end of the page.</p>\n<table><thead><tr><th>photo</th><th>target</th><th>user</th><th>name</th><th>findings</th><th>last written by userphoto</th></tr></thead><tbody>\n"
        )?;
        Ok(Html { w })
    }

    fn row(&mut self, row: &mut CoverageRow) -> std::io::Result<()> {
        let img = match row.photo.take().as_deref().and_then(page_thumbnail) {
            Some(bytes) => format!(
                "<img alt=\"\" src=\"data:image/jpeg;base64,{}\">",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            None => "<span class=\"none\"></span>".to_owned(),
        };
        let class = if row.findings.is_empty() {
            ""
        } else {
            " class=\"bad\""
        };
        writeln!(
            self.w,
            "<tr><td>{img}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td></tr>",
            row.target.as_str(),
            esc(&row.user),
            esc(row.display_name.as_deref().unwrap_or("")),
            esc(&findings_text(&row.findings)),
            esc(&written_text(row)),
        )
    }

    fn finish(
        mut self,
        summary: &userphoto_bulk::coverage::CoverageSummary,
        unmatched: &[(String, String)],
    ) -> anyhow::Result<()> {
        writeln!(self.w, "</tbody></table>\n<h2>Totals</h2><table><tr><th>target</th><th>users</th><th>with a photo</th><th>without</th><th>only Exchange's 64×64</th><th>HD but no thumbnail</th><th>older</th><th>unreadable</th><th>written by userphoto</th></tr>")?;
        for (k, c) in &summary.targets {
            writeln!(
                self.w,
                "<tr><td>{k}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.users, c.with_photo, c.no_photo, c.only_exchange_thumbnail, c.hd_without_thumbnail, c.older, c.unreadable, c.written_by_userphoto
            )?;
        }
        writeln!(self.w, "</table>")?;
        if !unmatched.is_empty() {
            writeln!(self.w, "<h2>Files matching nobody</h2><ul>")?;
            for (file, why) in unmatched {
                writeln!(self.w, "<li>{} — {}</li>", esc(file), esc(why))?;
            }
            writeln!(self.w, "</ul>")?;
        }
        writeln!(self.w, "</body></html>")?;
        self.w.flush()?;
        Ok(())
    }
}
