//! The audit log: one JSON line per change made to a directory.
//!
//! Why a module of its own: when a photo is wrong on Monday, someone asks
//! "who changed it, when, and from what?". The directory itself rarely
//! says, so every set, remove and restore appends a line here — the time,
//! who we were bound as (never a secret), the target, the user, the action,
//! and the SHA-256 of the photo before and after (which also names the
//! backup to restore). Lines are appended in one write and flushed to disk
//! (`fsync`) before the operation is reported done.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backup::{rfc3339, BackupError};
use crate::durable_append::DurableAppender;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A photo was written.
    Set,
    /// A photo was removed.
    Remove,
    /// A photo was put back from a backup.
    Restore,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When, RFC 3339 UTC with microseconds.
    pub time: String,
    /// Who we acted as at the target (bind DN, application id, local user).
    pub identity: String,
    /// The target (`ad`, `m365`, …).
    pub target: String,
    /// The user's id in the target.
    pub user_id: String,
    /// The user's name by the target's listing key.
    #[serde(default)]
    pub user_name: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// SHA-256 of the photo before (`None`: there was none).
    pub old_sha256: Option<String>,
    /// SHA-256 of the photo after (`None`: there is none).
    pub new_sha256: Option<String>,
    /// Where the old photo was kept, relative to the backup folder.
    #[serde(default)]
    pub backup: Option<String>,
    /// Who approved the change, when it was an employee's self-service
    /// request (we still acted as `identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

impl AuditRecord {
    /// A record stamped now.
    pub fn now(
        identity: impl Into<String>,
        target: impl Into<String>,
        user_id: impl Into<String>,
        action: AuditAction,
    ) -> Self {
        AuditRecord {
            time: rfc3339(time::OffsetDateTime::now_utc()),
            identity: identity.into(),
            target: target.into(),
            user_id: user_id.into(),
            user_name: None,
            action,
            old_sha256: None,
            new_sha256: None,
            backup: None,
            approved_by: None,
        }
    }
}

/// Why the audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Appending failed.
    #[error("cannot write the audit log {}: {source}; check that its folder exists and is writable, or set [audit] path", path.display())]
    Write {
        /// The log.
        path: PathBuf,
        /// The cause.
        source: BackupError,
    },
    /// Reading failed.
    #[error("cannot read the audit log {}: {source}", path.display())]
    Read {
        /// The log.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A line is not an audit record.
    #[error("{}, line {line}: {message}; the line is not an audit record", path.display())]
    Line {
        /// The log.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// An append-only audit log. Cheap to clone; clones share one writer, so
/// concurrent appends share their disk syncs (group commit).
#[derive(Clone, Debug)]
pub struct AuditLog {
    appender: Arc<DurableAppender>,
}

impl AuditLog {
    /// A log at `path` (created, with its folder, on first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditLog {
            appender: Arc::new(DurableAppender::new(path)),
        }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        self.appender.path()
    }

    /// Appends `record` as one line and flushes it to disk. Blocking.
    ///
    /// # Errors
    /// [`AuditError::Write`] naming the file.
    pub fn append_blocking(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let wrap = |source| AuditError::Write {
            path: self.path().to_owned(),
            source,
        };
        let mut line = serde_json::to_vec(record).map_err(|e| {
            wrap(BackupError::Io {
                action: "encode a line for",
                path: self.path().to_owned(),
                source: io::Error::other(e),
            })
        })?;
        line.push(b'\n');
        self.appender
            .append(&line)
            .map_err(|f| wrap(BackupError::from(f)))
    }

    /// [`append_blocking`](Self::append_blocking) on tokio's blocking pool.
    ///
    /// # Errors
    /// As for [`append_blocking`](Self::append_blocking).
    pub async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.append_blocking(&record))
            .await
            .map_err(|e| AuditError::Write {
                path: self.path().to_owned(),
                source: BackupError::Io {
                    action: "append to",
                    path: self.path().to_owned(),
                    source: io::Error::other(e.to_string()),
                },
            })?
    }

    /// Whether the log has the line of a write of the photo `new_sha256`
    /// for `user_id` at `target`, its last change of that user there
    /// (streamed; torn or foreign lines are stepped over). An interrupted
    /// run may have logged a write it then did not journal.
    ///
    /// # Errors
    /// [`AuditError::Read`] when the log cannot be read.
    pub fn last_write_is(
        &self,
        target: &str,
        user_id: &str,
        new_sha256: &str,
    ) -> Result<bool, AuditError> {
        use std::io::BufRead as _;
        let file = match fs::File::open(self.path()) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(AuditError::Read {
                    path: self.path().to_owned(),
                    source,
                })
            }
        };
        let mut last: Option<Option<String>> = None;
        for line in io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(|source| AuditError::Read {
                path: self.path().to_owned(),
                source,
            })?;
            // Cheap test first: most lines are about other users.
            if !contains(&line, user_id.as_bytes()) {
                continue;
            }
            let Ok(r) = serde_json::from_slice::<AuditRecord>(&line) else {
                continue;
            };
            if r.target == target && r.user_id == user_id {
                last = Some(r.new_sha256);
            }
        }
        Ok(last.flatten().is_some_and(|sha| sha == new_sha256))
    }

    /// Every record in the log (none if it does not exist yet).
    ///
    /// # Errors
    /// [`AuditError::Read`] or [`AuditError::Line`] naming the line.
    pub fn read(&self) -> Result<Vec<AuditRecord>, AuditError> {
        let text = match fs::read_to_string(self.path()) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(AuditError::Read {
                    path: self.path().to_owned(),
                    source,
                })
            }
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| AuditError::Line {
                    path: self.path().to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("logs/audit.jsonl"));
        let mut first = AuditRecord::now("svc-photos@corp", "ad", "CN=A", AuditAction::Set);
        first.user_name = Some("a".into());
        first.new_sha256 = Some("ab".repeat(32));
        log.append_blocking(&first).expect("append");
        let mut second = AuditRecord::now("svc-photos@corp", "ad", "CN=A", AuditAction::Remove);
        second.old_sha256 = first.new_sha256.clone();
        second.backup = Some("ad/CN%3DA/x.jpg".into());
        log.append_blocking(&second).expect("append");

        let text = fs::read_to_string(log.path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        let value: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        for key in [
            "time",
            "identity",
            "target",
            "user_id",
            "user_name",
            "action",
            "old_sha256",
            "new_sha256",
        ] {
            assert!(value.get(key).is_some(), "missing {key} in {value}");
        }
        assert_eq!(value["action"], "set");
        assert!(value["old_sha256"].is_null());
        assert_eq!(log.read().expect("read"), vec![first, second]);
    }

    #[test]
    fn a_missing_log_reads_empty_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        assert!(log.read().expect("empty").is_empty());
        fs::write(log.path(), "{}\n").expect("write");
        let e = log.read().expect_err("bad line").to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn an_unwritable_log_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the log's folder should be.
        fs::write(dir.path().join("blocker"), "x").expect("write");
        let log = AuditLog::new(dir.path().join("blocker/audit.jsonl"));
        let e = log
            .append_blocking(&AuditRecord::now("i", "ad", "u", AuditAction::Set))
            .expect_err("cannot write")
            .to_string();
        assert!(e.contains("cannot write the audit log"), "{e}");
        assert!(e.contains("blocker"), "{e}");
    }

    #[test]
    fn the_last_write_of_a_user_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        assert!(!log.last_write_is("ad", "CN=A", "aa").expect("no log yet"));
        let mut set = AuditRecord::now("svc", "ad", "CN=A", AuditAction::Set);
        set.new_sha256 = Some("aa".into());
        log.append_blocking(&set).expect("append");
        let mut other = AuditRecord::now("svc", "m365", "CN=A", AuditAction::Set);
        other.new_sha256 = Some("bb".into());
        log.append_blocking(&other).expect("append");
        assert!(log.last_write_is("ad", "CN=A", "aa").expect("read"));
        assert!(!log.last_write_is("ad", "CN=A", "bb").expect("read"));
        assert!(!log.last_write_is("ad", "CN=B", "aa").expect("read"));
        let removed = AuditRecord::now("svc", "ad", "CN=A", AuditAction::Remove);
        log.append_blocking(&removed).expect("append");
        assert!(
            !log.last_write_is("ad", "CN=A", "aa").expect("read"),
            "removed since"
        );
    }
}
