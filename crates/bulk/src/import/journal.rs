//! The journal of a run: what is finished, so an interrupted run resumes.
//!
//! Why: a run of 3,000 photos will one day be cut short — Ctrl-C, a reboot,
//! a domain controller restarting. Each finished (file, target) is appended
//! as one JSON line and made durable (fsync) before the run counts on it;
//! `--resume` reads the saved plan and the journal and does only the rest,
//! without matching or listing the directory again.
//!
//! Lines are written by one thread that drains whatever is queued, writes
//! it and syncs once (group commit), so 2,000 writes do not wait for 2,000
//! fsyncs. A line lost to a crash before its sync only means that item is
//! tried again, and the executor then finds the photo already in place
//! (`unchanged`), so nothing is written twice.
//!
//! Layout: `<state>/runs/<run>/plan.json` (the plan, staged then renamed)
//! and `<state>/runs/<run>/journal.jsonl`, where `<run>` is derived from
//! the folder and the targets, so each folder has its own resumable run.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use userphoto_directory::config::TargetKind;

use super::model::Plan;
use super::report::Outcome;
use super::ImportError;

/// One finished (file, target).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// `done` for an item, `end` for the line closing a finished run.
    pub kind: String,
    /// The file, relative to the folder.
    #[serde(default)]
    pub file: String,
    /// The target.
    #[serde(default)]
    pub target: String,
    /// The user's id in the target.
    #[serde(default)]
    pub user_id: String,
    /// The outcome.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// SHA-256 of the photo written.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Bytes written.
    #[serde(default)]
    pub bytes: Option<usize>,
    /// Its line in the journal (from 1; 0 for a record not read from
    /// one): which of a user's writes landed last.
    #[serde(skip)]
    pub line: usize,
}

/// The key of a journal item: file and target.
pub type DoneKey = (String, String);

/// Where one folder's run keeps its plan and journal.
#[derive(Clone, Debug)]
pub struct RunState {
    dir: PathBuf,
}

impl RunState {
    /// The run state of importing `folder` into `targets`, under `state_dir`.
    pub fn for_run(state_dir: &Path, folder: &Path, targets: &[TargetKind]) -> Self {
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        let mut kinds: Vec<&str> = targets.iter().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        let id = userphoto_directory::sha256_hex(
            format!("{}\u{1f}{}", folder.display(), kinds.join(",")).as_bytes(),
        );
        RunState {
            dir: state_dir.join("runs").join(&id[..16]),
        }
    }

    /// The run state kept in `dir` (one of `<state>/runs/*`).
    pub fn at(dir: PathBuf) -> Self {
        RunState { dir }
    }

    /// How many (file, target) the journal says are done.
    pub fn done_count(&self) -> usize {
        read_journal(&self.journal_path()).map_or(0, |(done, _)| done.len())
    }

    /// Every (file, target) the journal says is done, with what was
    /// written (an unreadable journal: none).
    pub fn finished(&self) -> HashMap<DoneKey, JournalRecord> {
        read_journal(&self.journal_path()).map_or_else(|_| HashMap::new(), |(done, _)| done)
    }

    /// The folder holding this run's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved plan's path.
    pub fn plan_path(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    /// The journal's path.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    /// Saves `plan` (staged, then renamed).
    ///
    /// # Errors
    /// When the state folder cannot be written.
    pub fn save_plan(&self, plan: &Plan) -> Result<(), ImportError> {
        let err = |e: std::io::Error| ImportError::State {
            path: self.plan_path(),
            message: format!("cannot save the plan: {e}"),
        };
        userphoto_directory::private_fs::create_dir_all(&self.dir).map_err(err)?;
        let mut staged = tempfile::NamedTempFile::new_in(&self.dir).map_err(err)?;
        let mut writer = std::io::BufWriter::new(staged.as_file_mut());
        serde_json::to_writer(&mut writer, plan).map_err(|e| err(e.into()))?;
        // Flushed here, not on drop, where an error would be lost.
        std::io::Write::flush(&mut writer).map_err(err)?;
        drop(writer);
        staged.as_file().sync_all().map_err(err)?;
        staged.persist(self.plan_path()).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// Whether an earlier run of this folder stopped before its end.
    pub fn is_interrupted(&self) -> bool {
        if !self.plan_path().exists() {
            return false;
        }
        match read_journal(&self.journal_path()) {
            Ok((_, ended)) => !ended,
            Err(_) => false,
        }
    }

    /// Starts a new journal (an old one is replaced).
    ///
    /// # Errors
    /// When the journal cannot be created.
    pub fn start_journal(&self) -> Result<Journal, ImportError> {
        Journal::open(&self.journal_path(), true)
    }

    /// Loads the saved plan and the finished items of an interrupted run,
    /// and reopens its journal for appending.
    ///
    /// # Errors
    /// [`ImportError::NothingToResume`] when there is no interrupted run;
    /// [`ImportError::State`] when its files cannot be read.
    pub fn resume(&self) -> Result<(Plan, HashMap<DoneKey, JournalRecord>, Journal), ImportError> {
        if !self.plan_path().exists() {
            return Err(ImportError::NothingToResume {
                dir: self.dir.clone(),
            });
        }
        let plan = Plan::load(&self.plan_path())?;
        let (done, ended) = read_journal(&self.journal_path())?;
        if ended {
            return Err(ImportError::NothingToResume {
                dir: self.dir.clone(),
            });
        }
        let journal = Journal::open(&self.journal_path(), false)?;
        Ok((plan, done, journal))
    }
}

/// Reads a journal: the finished items, and whether the run ended. A torn
/// last line (a crash mid-write) is ignored.
fn read_journal(path: &Path) -> Result<(HashMap<DoneKey, JournalRecord>, bool), ImportError> {
    // Bytes, not a string: a line torn inside a multi-byte character (a
    // file named José) must cost that line only.
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(ImportError::State {
                path: path.to_path_buf(),
                message: format!("cannot read the journal: {e}"),
            })
        }
    };
    Ok(journal_from_bytes(&bytes))
}

/// [`read_journal`] after reading the file (also the fuzz target's entry).
pub(crate) fn journal_from_bytes(bytes: &[u8]) -> (HashMap<DoneKey, JournalRecord>, bool) {
    let text = String::from_utf8_lossy(bytes);
    let mut done = HashMap::new();
    let mut ended = false;
    for (number, line) in text.lines().enumerate() {
        let Ok(mut r) = serde_json::from_str::<JournalRecord>(line) else {
            continue;
        };
        r.line = number + 1;
        match r.kind.as_str() {
            "done" => {
                done.insert((r.file.clone(), r.target.clone()), r);
            }
            "end" => ended = true,
            _ => {}
        }
    }
    (done, ended)
}

/// Whether the file's last byte is not a newline (a torn last line).
fn ends_torn(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| b.last().copied())
        .is_some_and(|b| b != b'\n')
}

enum Msg {
    Line(Vec<u8>),
    Close,
}

/// An open journal: append records from any task; a writer thread makes
/// them durable in groups.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    writer: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

impl Journal {
    /// Opens (and with `truncate`, empties) the journal at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path, truncate: bool) -> Result<Journal, ImportError> {
        let err = |e: std::io::Error| ImportError::State {
            path: path.to_path_buf(),
            message: format!("cannot open the journal: {e}"),
        };
        if let Some(dir) = path.parent() {
            userphoto_directory::private_fs::create_dir_all(dir).map_err(err)?;
        }
        let mut options = userphoto_directory::private_fs::options();
        options.create(true);
        if truncate {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        let mut file = userphoto_directory::private_fs::open(&options, path).map_err(err)?;
        if !truncate && ends_torn(path) {
            // A crash mid-line: start ours on a line of its own.
            file.write_all(b"\n").map_err(err)?;
        }
        let (tx, rx) = mpsc::channel::<Msg>();
        let writer = std::thread::Builder::new()
            .name("userphoto-journal".into())
            .spawn(move || -> std::io::Result<()> {
                let mut open = true;
                while open {
                    let Ok(first) = rx.recv() else { break };
                    let mut batch = vec![first];
                    while let Ok(m) = rx.try_recv() {
                        batch.push(m);
                    }
                    for m in batch {
                        match m {
                            Msg::Line(l) => file.write_all(&l)?,
                            Msg::Close => open = false,
                        }
                    }
                    file.sync_data()?;
                }
                Ok(())
            })
            .map_err(err)?;
        Ok(Journal {
            path: path.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a record; it is durable shortly after.
    pub fn record(&self, record: &JournalRecord) {
        if let Ok(mut line) = serde_json::to_vec(record) {
            line.push(b'\n');
            if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                let _ = tx.send(Msg::Line(line));
            }
        }
    }

    /// Records that `kind` for (`file`, `target`) finished.
    pub fn done(
        &self,
        file: &str,
        target: TargetKind,
        user_id: &str,
        outcome: Outcome,
        sha256: Option<&str>,
        bytes: Option<usize>,
    ) {
        self.record(&JournalRecord {
            kind: "done".into(),
            file: file.to_owned(),
            target: target.as_str().to_owned(),
            user_id: user_id.to_owned(),
            outcome: Some(outcome),
            sha256: sha256.map(str::to_owned),
            bytes,
            line: 0,
        });
    }

    /// Flushes and closes the journal; with `ended`, marks the run as
    /// finished so it is not offered for resuming.
    ///
    /// # Errors
    /// When a line could not be written or synced.
    pub fn close(&self, ended: bool) -> Result<(), ImportError> {
        if ended {
            self.record(&JournalRecord {
                kind: "end".into(),
                file: String::new(),
                target: String::new(),
                user_id: String::new(),
                outcome: None,
                sha256: None,
                bytes: None,
                line: 0,
            });
        }
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Msg::Close);
        }
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        match handle.map(JoinHandle::join) {
            Some(Ok(Err(message))) => Err(ImportError::State {
                path: self.path.clone(),
                message: format!("cannot write the journal: {message}"),
            }),
            Some(Err(_)) => Err(ImportError::State {
                path: self.path.clone(),
                message: "the journal writer stopped unexpectedly".into(),
            }),
            _ => Ok(()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.close(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_and_an_ended_run_is_not_resumable() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let state = RunState::for_run(dir.path(), Path::new("/photos"), &[TargetKind::Ad]);
        let j = state.start_journal()?;
        j.done(
            "a.jpg",
            TargetKind::Ad,
            "u1",
            Outcome::Written,
            Some("ab"),
            Some(3),
        );
        j.close(false)?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(state.journal_path())?
            .write_all(b"{\"kind\":\"done\",\"fi")?; // torn line
        let (done, ended) = read_journal(&state.journal_path())?;
        assert!(!ended);
        assert_eq!(done.len(), 1);
        assert!(done.contains_key(&("a.jpg".to_owned(), "ad".to_owned())));
        let j = Journal::open(&state.journal_path(), false)?;
        j.done(
            "b.jpg",
            TargetKind::Ad,
            "u2",
            Outcome::Unchanged,
            None,
            None,
        );
        j.close(true)?;
        let (done, ended) = read_journal(&state.journal_path())?;
        assert!(ended);
        assert_eq!(done.len(), 2, "the line after a torn one is kept");
        Ok(())
    }
}
