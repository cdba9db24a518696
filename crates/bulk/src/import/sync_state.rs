//! The sync state: per target and user, what `userphoto` last wrote there
//! (the digest of the photo written, from which file, when), so an
//! unchanged re-run trusts it instead of reading every current photo.
//!
//! Why not compare with what the directory holds: Microsoft 365, Exchange
//! and Google re-encode what they are given (and Graph changes the photo's
//! ETag on every upload), so the bytes online never equal ours; and reading
//! every cloud photo is what made a hybrid re-run cost a third of the first
//! run. A re-run therefore decides "unchanged" when the photo it would
//! write now has the digest recorded for the user's last write. `--verify`
//! reads the current photos anyway and reports the ones someone changed in
//! the directory since our write, instead of silently overwriting them.
//!
//! The state lives in `<state>/sync-state.jsonl` (one record a line,
//! rewritten whole, staged then renamed): one file per state folder, so
//! every import and sync job that shares the folder shares what it knows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use userphoto_directory::config::TargetKind;
use userphoto_directory::normalize_key;

use super::journal::JournalRecord;
use super::model::{Action, Entry};
use super::report::Outcome;
use crate::reason::Reason;

/// What `userphoto` last wrote to one user in one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// The target.
    pub target: TargetKind,
    /// The user's id in that target.
    pub user_id: String,
    /// The source file, relative to its folder (or the source's name for
    /// the user).
    pub file: String,
    /// SHA-256 of the photo written.
    pub written_sha256: String,
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// SHA-256 of what the target gave back when it was first read after
    /// our write (a target that re-encodes): the photo is still ours while
    /// it reads back so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_sha256: Option<String>,
    /// The entry's change marker (AD `uSNChanged`, see
    /// [`User::version`](userphoto_directory::User::version)) when the
    /// photo was last known to be ours: while it stays, nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl SyncRecord {
    /// Whether `current` (the digest the target holds now) is what we
    /// left there.
    pub fn holds_ours(&self, current: &str) -> bool {
        current == self.written_sha256 || self.seen_sha256.as_deref() == Some(current)
    }
}

/// Whether `kind` stores a photo exactly as given: then a current photo
/// that differs from the one we wrote was changed by someone else. The
/// others (Microsoft 365, Exchange, Google) re-encode.
pub fn stores_bytes_as_given(kind: TargetKind) -> bool {
    matches!(kind, TargetKind::Ad | TargetKind::Ldap | TargetKind::Folder)
}

type Key = (TargetKind, String);

/// The sync state of one state folder: see the [module](self).
#[derive(Debug)]
pub struct SyncState {
    path: Option<PathBuf>,
    records: Mutex<HashMap<Key, SyncRecord>>,
}

impl SyncState {
    /// The file's name in a state folder.
    pub const FILE: &'static str = "sync-state.jsonl";

    /// The state kept in `state_dir` (empty when there is none yet; lines
    /// that cannot be read are ignored: the state only saves work).
    pub fn open(state_dir: &Path) -> Self {
        let path = state_dir.join(Self::FILE);
        let mut records = HashMap::new();
        if let Ok(bytes) = std::fs::read(&path) {
            for line in String::from_utf8_lossy(&bytes).lines() {
                if let Ok(r) = serde_json::from_str::<SyncRecord>(line) {
                    records.insert(key(r.target, &r.user_id), r);
                }
            }
        }
        SyncState {
            path: Some(path),
            records: Mutex::new(records),
        }
    }

    /// A state kept in memory only (tests, a dry run with no state folder).
    pub fn in_memory() -> Self {
        SyncState {
            path: None,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, SyncRecord>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What we last wrote to `user_id` in `target`.
    pub fn get(&self, target: TargetKind, user_id: &str) -> Option<SyncRecord> {
        self.lock().get(&key(target, user_id)).cloned()
    }

    /// Every record (unordered).
    pub fn records(&self) -> Vec<SyncRecord> {
        self.lock().values().cloned().collect()
    }

    /// How many users the state knows, over every target.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the state knows nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a write (or a photo found in place).
    pub fn record(&self, record: SyncRecord) {
        self.lock()
            .insert(key(record.target, &record.user_id), record);
    }

    /// Records every write and every photo found in place of a finished
    /// journal (`now`: when, in seconds since the epoch).
    pub fn record_journal<'a>(
        &self,
        records: impl IntoIterator<Item = &'a JournalRecord>,
        now: i64,
    ) {
        let mut map = self.lock();
        for r in records {
            let (Some(outcome), Some(sha)) = (r.outcome, &r.sha256) else {
                continue;
            };
            if !matches!(outcome, Outcome::Written | Outcome::Unchanged) || r.user_id.is_empty() {
                continue;
            }
            let Ok(target) = r.target.parse::<TargetKind>() else {
                continue;
            };
            let k = key(target, &r.user_id);
            // A photo found in place keeps the date of the write that put it
            // there.
            let (at, seen, version) = match (outcome, map.get(&k)) {
                (Outcome::Unchanged, Some(old)) if &old.written_sha256 == sha => {
                    (old.at, old.seen_sha256.clone(), old.version.clone())
                }
                // Our write moved the marker; the next plan learns it.
                _ => (now, None, None),
            };
            map.insert(
                k,
                SyncRecord {
                    target,
                    user_id: r.user_id.clone(),
                    file: r.file.clone(),
                    written_sha256: sha.clone(),
                    at,
                    seen_sha256: seen,
                    version,
                },
            );
        }
    }

    /// Saves the state (staged, then renamed).
    ///
    /// # Errors
    /// When the state folder cannot be written.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        // Private, as the journal: it names users and files.
        userphoto_directory::private_fs::create_dir_all(dir)?;
        let mut lines: Vec<SyncRecord> = self.records();
        lines.sort_by(|a, b| (a.target, &a.user_id).cmp(&(b.target, &b.user_id)));
        let mut staged = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut w = std::io::BufWriter::new(staged.as_file_mut());
            for r in &lines {
                serde_json::to_writer(&mut w, r)?;
                std::io::Write::write_all(&mut w, b"\n")?;
            }
            std::io::Write::flush(&mut w)?;
        }
        staged.as_file().sync_all()?;
        staged.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Planning stage, before the current photos are read: a step whose
    /// photo to write has the digest of our last write to that user is
    /// `unchanged` without reading anything — unless `verify`, which
    /// leaves it to [`SyncState::after_read`].
    ///
    /// Where the directory gives a change marker (AD `uSNChanged`, read in
    /// the same search that found the user), a marker that moved since the
    /// photo was last known to be ours sends the step to the read after
    /// all: the entry changed, maybe its photo. The first plan after our
    /// write learns the marker (our write moved it).
    pub(crate) fn before_read(&self, entries: &mut [Entry], verify: bool) {
        if verify {
            return;
        }
        let mut map = self.lock();
        for step in entries.iter_mut().flat_map(|e| e.steps.iter_mut()) {
            if step.action != Action::Set {
                continue;
            }
            let (Some(user), Some(new)) = (&step.user, &step.new_sha256) else {
                continue;
            };
            let Some(rec) = map.get_mut(&key(step.target, &user.id)) else {
                continue;
            };
            match (&rec.version, &user.version) {
                (Some(was), Some(now)) if was != now => continue,
                (None, Some(now)) if &rec.written_sha256 == new => {
                    rec.version = Some(now.clone());
                }
                _ => {}
            }
            if &rec.written_sha256 == new {
                step.action = Action::Unchanged;
                step.reason = Some(Reason::Synced {
                    target: step.target,
                    at: rec.at,
                });
            }
        }
    }

    /// Planning stage, after the current photos are read (`--verify`, or
    /// users the state does not know): a step whose source is unchanged
    /// since our write but whose current photo is no longer ours is
    /// reported and not overwritten; a photo that reads back as ours is
    /// `unchanged`, and what a re-encoding target gave back is remembered.
    pub(crate) fn after_read(&self, entries: &mut [Entry]) {
        let mut map = self.lock();
        for step in entries.iter_mut().flat_map(|e| e.steps.iter_mut()) {
            if !matches!(step.action, Action::Set | Action::Unchanged) {
                continue;
            }
            let (Some(user), Some(new), Some(current)) =
                (&step.user, &step.new_sha256, &step.current_sha256)
            else {
                continue;
            };
            let Some(rec) = map.get_mut(&key(step.target, &user.id)) else {
                continue;
            };
            if &rec.written_sha256 != new {
                // The source changed since our write: the new photo wins.
                continue;
            }
            if rec.holds_ours(current) {
                // Read back as ours: from now on only this is ours (a later
                // re-encoding-looking change is someone else's).
                if rec.seen_sha256.is_none() {
                    rec.seen_sha256 = Some(current.clone());
                }
                // The entry changed, not its photo: the new marker is ours.
                if user.version.is_some() {
                    rec.version.clone_from(&user.version);
                }
                step.action = Action::Unchanged;
                continue;
            }
            if rec.seen_sha256.is_none() && !stores_bytes_as_given(step.target) {
                // The first read after our write of a target that re-encodes:
                // what it gave back stands for our photo from now on.
                rec.seen_sha256 = Some(current.clone());
                step.action = Action::Unchanged;
                continue;
            }
            step.action = Action::Skipped;
            step.reason = Some(Reason::ChangedSinceSync {
                target: step.target,
                at: rec.at,
            });
        }
    }
}

fn key(target: TargetKind, user_id: &str) -> Key {
    (target, normalize_key(user_id))
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(target: TargetKind, user: &str, sha: &str, outcome: Outcome) -> JournalRecord {
        JournalRecord {
            kind: "done".into(),
            file: format!("{user}.jpg"),
            target: target.as_str().into(),
            user_id: user.into(),
            outcome: Some(outcome),
            sha256: Some(sha.into()),
            bytes: Some(10),
            line: 0,
        }
    }

    #[test]
    fn a_journal_becomes_the_state_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = SyncState::open(dir.path());
        assert!(state.is_empty());
        state.record_journal(
            &[
                rec(TargetKind::Ad, "CN=A", "aa", Outcome::Written),
                rec(TargetKind::M365, "id-a", "bb", Outcome::Written),
                rec(TargetKind::M365, "id-c", "cc", Outcome::Failed),
            ],
            100,
        );
        state.save().expect("save");
        let again = SyncState::open(dir.path());
        assert_eq!(again.len(), 2);
        let ad = again
            .get(TargetKind::Ad, "cn=a")
            .expect("AD record, any case");
        assert_eq!((ad.written_sha256.as_str(), ad.at), ("aa", 100));
        assert!(again.get(TargetKind::M365, "id-c").is_none());
        // Found in place later: the date of the write stays.
        again.record_journal(
            &[rec(TargetKind::Ad, "CN=A", "aa", Outcome::Unchanged)],
            200,
        );
        assert_eq!(again.get(TargetKind::Ad, "CN=A").map(|r| r.at), Some(100));
    }

    #[test]
    fn a_damaged_line_costs_that_line_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = SyncState::open(dir.path());
        state.record_journal(&[rec(TargetKind::Ad, "CN=A", "aa", Outcome::Written)], 1);
        state.save().expect("save");
        let path = dir.path().join(SyncState::FILE);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"target\":\"ad\",\"user_id\":\"CN=B\",\"wri");
        std::fs::write(&path, text).expect("write");
        assert_eq!(SyncState::open(dir.path()).len(), 1);
    }
}
