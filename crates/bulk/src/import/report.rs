//! What an import did, per (file, user, target), and the summary.
//!
//! Why a module of its own: the same results feed the progress events, the
//! `--report FILE` (CSV for spreadsheets, JSON for scripts, chosen by the
//! extension) and the exit status, so their shape is defined once.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reason::Reason;

/// What became of one (file, user, target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The photo was written (the old one backed up first).
    Written,
    /// The directory already had this photo; nothing was written.
    Unchanged,
    /// Not written, on purpose (size rule, user missing in that target,
    /// not an image, declined when asked).
    Skipped,
    /// The file names nobody.
    Unmatched,
    /// Another file was chosen for the same user.
    Duplicate,
    /// It should have been written and was not; see the error.
    Failed,
    /// The run stopped (Ctrl-C, quit) before this was done; `--resume`
    /// continues.
    NotDone,
    /// Dry run: it would have been written; nothing was changed.
    WouldWrite,
}

impl Outcome {
    /// The outcome's name as in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Unmatched => "unmatched",
            Outcome::Duplicate => "duplicate",
            Outcome::Failed => "failed",
            Outcome::NotDone => "not-done",
            Outcome::WouldWrite => "would-write",
        }
    }
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The file, relative to the imported folder.
    pub file: String,
    /// The user's name as matched.
    pub user: Option<String>,
    /// The user's id in the target.
    pub user_id: Option<String>,
    /// The target, when the row is about one.
    pub target: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Bytes of the photo written (or already there).
    pub bytes: Option<usize>,
    /// Why it failed or was skipped (or a note), as data.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// The reason in the words of the front end that shows the report
    /// (set by [`ItemResult::worded`]; the engine leaves it empty).
    #[serde(default)]
    pub error: Option<String>,
    /// Where the replaced photo was kept, relative to the backup folder.
    pub backup: Option<String>,
    /// A failure a later attempt may not repeat: the directory was
    /// unreachable, throttled or timed out (not in the CSV report).
    #[serde(default)]
    pub retryable: bool,
}

impl ItemResult {
    /// The row with its reason worded by `word` (a front end's
    /// [`Wording::reason`](crate::wording::Wording::reason)) into `error`.
    #[must_use]
    pub fn worded(mut self, word: &dyn Fn(&Reason) -> String) -> Self {
        self.error = self.reason.as_ref().map(word);
        self
    }
}

/// Counts of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Photos written.
    pub written: usize,
    /// Photos already in place.
    pub unchanged: usize,
    /// Skipped on purpose.
    pub skipped: usize,
    /// Files matching nobody.
    pub unmatched: usize,
    /// Files not chosen for their user.
    pub duplicate: usize,
    /// Failures.
    pub failed: usize,
    /// Not done because the run stopped.
    pub not_done: usize,
    /// Dry run: would have been written.
    #[serde(default)]
    pub would_write: usize,
    /// Whether the run was stopped before the end.
    pub stopped: bool,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u128,
}

impl Summary {
    /// Counts the outcomes of `items`.
    pub fn of(items: &[ItemResult]) -> Self {
        let mut s = Summary::default();
        for i in items {
            match i.outcome {
                Outcome::Written => s.written += 1,
                Outcome::Unchanged => s.unchanged += 1,
                Outcome::Skipped => s.skipped += 1,
                Outcome::Unmatched => s.unmatched += 1,
                Outcome::Duplicate => s.duplicate += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::NotDone => s.not_done += 1,
                Outcome::WouldWrite => s.would_write += 1,
            }
        }
        s
    }

    /// Whether everything planned was done: nothing failed and nothing was
    /// left undone (exit status 0).
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.not_done == 0 && !self.stopped
    }
}

/// The result of a run: every row and the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Counts.
    pub summary: Summary,
    /// One row per (file, user, target), or per file that reached no target.
    pub items: Vec<ItemResult>,
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report {}: {message}", path.display())]
pub struct ReportError {
    /// The report file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

impl RunReport {
    /// Every row's reason worded by `word` (see [`ItemResult::worded`]).
    pub fn word(&mut self, word: &dyn Fn(&Reason) -> String) {
        for item in &mut self.items {
            item.error = item.reason.as_ref().map(word);
        }
    }

    /// Writes the report to `path` (word it first, [`RunReport::word`]):
    /// JSON for `.json`, CSV otherwise (with a
    /// header `file,user,user_id,target,outcome,bytes,error,backup`).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let err = |message: String| ReportError {
            path: path.to_path_buf(),
            message,
        };
        let json = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let bytes = if json {
            let mut v = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
            v.push(b'\n');
            v
        } else {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "file", "user", "user_id", "target", "outcome", "bytes", "error", "backup",
            ])
            .map_err(|e| err(e.to_string()))?;
            for i in &self.items {
                let bytes = i.bytes.map(|b| b.to_string()).unwrap_or_default();
                w.write_record([
                    i.file.as_str(),
                    i.user.as_deref().unwrap_or(""),
                    i.user_id.as_deref().unwrap_or(""),
                    i.target.as_deref().unwrap_or(""),
                    i.outcome.as_str(),
                    bytes.as_str(),
                    i.error.as_deref().unwrap_or(""),
                    i.backup.as_deref().unwrap_or(""),
                ])
                .map_err(|e| err(e.to_string()))?;
            }
            w.into_inner().map_err(|e| err(e.to_string()))?
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut staged = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| err(format!("{e}; check that the folder exists and is writable")))?;
        staged.write_all(&bytes).map_err(|e| err(e.to_string()))?;
        staged.persist(path).map_err(|e| err(e.error.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(outcome: Outcome) -> ItemResult {
        ItemResult {
            file: "John.Smith, Sr.jpg".into(),
            user: Some("John.Smith".into()),
            user_id: Some("u1".into()),
            target: Some("ad".into()),
            outcome,
            bytes: Some(4000),
            reason: None,
            error: (outcome == Outcome::Failed).then(|| "said \"no\"".into()),
            backup: None,
            retryable: false,
        }
    }

    #[test]
    fn csv_and_json_by_extension() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let items = vec![item(Outcome::Written), item(Outcome::Failed)];
        let report = RunReport {
            summary: Summary::of(&items),
            items,
        };
        assert!(!report.summary.is_success());
        let csv_path = dir.path().join("r.csv");
        report.write(&csv_path)?;
        let text = std::fs::read_to_string(&csv_path)?;
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("file,user,user_id,target,outcome,bytes,error,backup")
        );
        assert_eq!(
            lines.next(),
            Some("\"John.Smith, Sr.jpg\",John.Smith,u1,ad,written,4000,,")
        );
        assert!(text.contains("failed,4000,\"said \"\"no\"\"\""), "{text}");
        let json_path = dir.path().join("r.JSON");
        report.write(&json_path)?;
        let back: RunReport = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
        assert_eq!(back, report);
        Ok(())
    }
}
