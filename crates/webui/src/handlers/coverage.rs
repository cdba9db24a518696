//! Coverage at a glance: who has no photo, or only the 64×64 Exchange put
//! into AD, per target — the `userphoto report` engine
//! ([`userphoto_bulk::coverage`]) behind a page section and a CSV download.
//!
//! Counting reads every user's photos, so the last count is kept and
//! reused while the page changes its filter; `?refresh=1` counts again.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use userphoto_bulk::coverage::{
    coverage, findings_text, write_csv_row, CoverageOptions, CoverageRow, CoverageSummary, Finding,
    CSV_HEADER,
};
use userphoto_bulk::sync::SyncState;

use super::target_label;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How many rows the page is sent at most (the counts cover everyone; the
/// CSV has every row).
const PAGE_ROWS: usize = 500;

/// One count: its rows and totals, and when it was made.
#[derive(Debug)]
pub(crate) struct Counted {
    rows: Vec<CoverageRow>,
    summary: CoverageSummary,
    at: i64,
}

/// `?show=&target=&q=&refresh=`
#[derive(Debug, Deserialize)]
pub(crate) struct Filter {
    /// `missing` (default: no photo or only Exchange's 64×64, or an HD
    /// photo elsewhere without a thumbnail), `no-photo`,
    /// `only-exchange-thumbnail`, `problems` (any finding) or `all`.
    show: Option<String>,
    /// One target (`ad`, `m365`, …), or all.
    target: Option<String>,
    /// Part of the user's name.
    q: Option<String>,
    /// Count again rather than reuse the last count.
    refresh: Option<u8>,
}

impl Filter {
    fn keeps(&self, row: &CoverageRow) -> AppResult<bool> {
        if let Some(t) = self.target.as_deref().filter(|t| !t.is_empty()) {
            if row.target.as_str() != t {
                return Ok(false);
            }
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let q = q.to_lowercase();
            let hit = row.user.to_lowercase().contains(&q)
                || row
                    .display_name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&q));
            if !hit {
                return Ok(false);
            }
        }
        let has = |want: fn(&Finding) -> bool| row.findings.iter().any(want);
        Ok(match self.show.as_deref().unwrap_or("missing") {
            "missing" => has(|f| {
                matches!(
                    f,
                    Finding::NoPhoto
                        | Finding::OnlyExchangeThumbnail
                        | Finding::HdWithoutThumbnail { .. }
                )
            }),
            "no-photo" => has(|f| matches!(f, Finding::NoPhoto)),
            "only-exchange-thumbnail" => has(|f| matches!(f, Finding::OnlyExchangeThumbnail)),
            "problems" => !row.findings.is_empty(),
            "all" => true,
            other => {
                return Err(AppError::bad_request(format!(
                    "show={other} is not a coverage filter; use missing, no-photo, only-exchange-thumbnail, problems or all"
                )))
            }
        })
    }
}

/// The last count, or a new one when asked or when there is none.
async fn counted(state: &AppState, refresh: bool) -> AppResult<Arc<Counted>> {
    // One count at a time: a second request waits and reuses it.
    let mut slot = state.coverage_cache().lock().await;
    if let (Some(c), false) = (slot.as_ref(), refresh) {
        return Ok(Arc::clone(c));
    }
    let sync = SyncState::open(&state.import_state_dir().map_err(AppError::internal)?);
    let options = CoverageOptions {
        match_order: state.ops().match_order().to_vec(),
        ..CoverageOptions::default()
    };
    // The engine's sink is a plain `FnMut` (the CLI writes to a locked
    // stdout), so its future is not `Send`: it runs on a blocking thread
    // of its own, driven by this runtime.
    let targets = state.targets().to_vec();
    let runtime = tokio::runtime::Handle::current();
    let counting = options.clone();
    let (rows, summary) = tokio::task::spawn_blocking(move || {
        let mut rows = Vec::new();
        let summary = runtime.block_on(coverage(&targets, &sync, &counting, &mut |row| {
            rows.push(row)
        }));
        summary.map(|s| (rows, s))
    })
    .await
    .map_err(AppError::internal)??;
    let c = Arc::new(Counted {
        rows,
        summary,
        at: options.now,
    });
    *slot = Some(Arc::clone(&c));
    Ok(c)
}

fn row_json(state: &AppState, row: &CoverageRow) -> Value {
    json!({
        "target": row.target.as_str(),
        "label": label(state, row.target),
        "user": row.user,
        "display_name": row.display_name,
        "has_photo": row.has_photo,
        "pixels": row.pixels.map(|(w, h)| format!("{w}×{h}")),
        "findings": row.findings,
        "findings_text": findings_text(&row.findings),
        "last_written": row.last_written.map(userphoto_bulk::wording::date),
    })
}

fn label(state: &AppState, kind: userphoto_directory::config::TargetKind) -> &'static str {
    state
        .target(kind)
        .map_or("", |t| target_label(kind, t.slot()))
}

/// `GET /api/coverage`: the counts per target and the rows the filter
/// keeps (at most 500).
pub(crate) async fn show(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> AppResult<Json<Value>> {
    let c = counted(&state, filter.refresh == Some(1)).await?;
    let mut rows = Vec::new();
    let mut matching = 0usize;
    for row in &c.rows {
        if filter.keeps(row)? {
            matching += 1;
            if rows.len() < PAGE_ROWS {
                rows.push(row_json(&state, row));
            }
        }
    }
    let targets: Vec<Value> = c
        .summary
        .targets
        .iter()
        .map(|(kind, counts)| {
            json!({
                "target": kind.as_str(),
                "label": label(&state, *kind),
                "counts": counts,
            })
        })
        .collect();
    Ok(Json(json!({
        "counted_at": userphoto_bulk::wording::date(c.at),
        "targets": targets,
        "rows": rows,
        "matching": matching,
        "shown": rows.len(),
    })))
}

/// `GET /api/coverage.csv`: every row the filter keeps, as `userphoto
/// report --csv` writes them.
pub(crate) async fn csv(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> AppResult<Response> {
    let c = counted(&state, filter.refresh == Some(1)).await?;
    let mut out = Vec::new();
    out.extend_from_slice(CSV_HEADER.as_bytes());
    out.push(b'\n');
    for row in &c.rows {
        if filter.keeps(row)? {
            write_csv_row(&mut out, row).map_err(AppError::internal)?;
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"userphoto-coverage.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
