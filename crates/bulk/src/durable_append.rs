//! Appending lines to a file durably while many tasks append at once:
//! group commit.
//!
//! Why: the audit log and the backup manifest promise that a line is on
//! disk (`fsync`) before the change it records is reported done. With one
//! `fsync` per line, a bulk import's writers queue behind each other on the
//! disk — the same disk the directory server is syncing its own
//! transactions to — and the run is as slow as the disk's sync latency
//! times the number of photos. Here concurrent appenders share syncs: the
//! first to find no write in progress writes every line queued so far in
//! one `write` and syncs once; the others wait for that sync. A lone writer
//! pays exactly one write and one sync, as before; every caller still
//! returns only once its own line is durable (or with the error that kept
//! it from being so).

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use userphoto_directory::private_fs;

/// An append that did not reach the disk: what was being done, to which
/// file, and why. The backup manifest and the audit log each turn it into
/// their own error.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub(crate) struct AppendFailed {
    /// What was being done (`write`, `sync`).
    pub(crate) action: &'static str,
    /// The file.
    pub(crate) path: PathBuf,
    /// Why.
    pub(crate) source: io::Error,
}

/// One append-only file with group commit. Share it (in an `Arc`) among
/// every writer of the file.
#[derive(Debug)]
pub(crate) struct DurableAppender {
    path: PathBuf,
    state: Mutex<State>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Lines queued and not yet taken by a writer.
    queued: Vec<u8>,
    /// Sequence number of the last line queued (lines count from 1).
    last_queued: u64,
    /// Every line up to this number has been written and synced, or failed.
    last_done: u64,
    /// A writer is between taking lines and recording the result.
    writing: bool,
    /// Lines (first, last) whose batch failed, with what went wrong.
    failures: Vec<(u64, u64, FailedWrite)>,
}

#[derive(Debug, Clone)]
struct FailedWrite {
    action: &'static str,
    kind: io::ErrorKind,
    message: String,
}

impl DurableAppender {
    /// An appender for `path` (created, with its folder, on first append).
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        DurableAppender {
            path: path.into(),
            state: Mutex::new(State::default()),
            synced: Condvar::new(),
        }
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` (which should end in a newline) and returns once it
    /// is on disk. Blocking.
    ///
    /// # Errors
    /// [`AppendFailed`] naming the file, when the batch holding `line`
    /// could not be written or synced.
    pub(crate) fn append(&self, line: &[u8]) -> Result<(), AppendFailed> {
        let mut state = self.lock();
        state.queued.extend_from_slice(line);
        state.last_queued += 1;
        let mine = state.last_queued;
        loop {
            if state.last_done >= mine {
                return match state
                    .failures
                    .iter()
                    .find(|(first, last, _)| (*first..=*last).contains(&mine))
                {
                    Some((_, _, f)) => Err(AppendFailed {
                        action: f.action,
                        path: self.path.clone(),
                        source: io::Error::new(f.kind, f.message.clone()),
                    }),
                    None => Ok(()),
                };
            }
            if state.writing {
                state = self
                    .synced
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Become the writer for everything queued so far.
            state.writing = true;
            let batch = std::mem::take(&mut state.queued);
            let (first, last) = (state.last_done + 1, state.last_queued);
            drop(state);
            let result = write_and_sync(&self.path, &batch);
            state = self.lock();
            state.writing = false;
            state.last_done = last;
            if let Err(failure) = result {
                state.failures.push((first, last, failure));
            }
            self.synced.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Appends `bytes` to `path` in one write and syncs the data. A write that
/// fails part-way (a full disk) is cut off again, and a file whose last
/// line was torn (a crash mid-write) gets a newline first, so a record is
/// never glued onto a fragment and every line stays readable on its own.
fn write_and_sync(path: &Path, bytes: &[u8]) -> Result<(), FailedWrite> {
    let fail = |action: &'static str| {
        move |e: io::Error| FailedWrite {
            action,
            kind: e.kind(),
            message: e.to_string(),
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_fs::create_dir_all(parent).map_err(fail("create the folder of"))?;
    }
    let mut file = private_fs::open(
        private_fs::options().create(true).read(true).append(true),
        path,
    )
    .map_err(fail("open"))?;
    let len = file.metadata().map_err(fail("read"))?.len();
    let torn = len > 0 && last_byte(&mut file, len).map_err(fail("read"))? != b'\n';
    let written = if torn {
        file.write_all(&[b"\n", bytes].concat())
    } else {
        file.write_all(bytes)
    };
    if let Err(e) = written {
        // Best effort, through a handle that may truncate (an append-only
        // one may not, on Windows): what is left of the batch is at worst a
        // torn line, which the next append steps over.
        drop(file);
        let _ = OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(len));
        return Err(fail("append to")(e));
    }
    file.sync_data().map_err(fail("flush"))
}

fn last_byte(file: &mut fs::File, len: u64) -> io::Result<u8> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut byte)?;
    Ok(byte[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn every_line_of_many_writers_lands_once_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(DurableAppender::new(dir.path().join("sub/log.jsonl")));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        log.append(format!("{{\"t\":{t},\"i\":{i}}}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = fs::read_to_string(log.path()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 400);
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), 400, "no line twice");
        for t in 0..8 {
            for i in 0..50 {
                assert!(text.contains(&format!("{{\"t\":{t},\"i\":{i}}}\n")));
            }
        }
    }

    #[test]
    fn a_torn_last_line_is_stepped_over_not_glued_onto() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":").expect("a torn file");
        let log = DurableAppender::new(&path);
        log.append(b"{\"n\":3}\n").expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"n\":1}\n{\"n\":\n{\"n\":3}\n");
    }

    #[test]
    fn a_failed_write_is_reported_to_its_writer_and_later_ones_succeed() {
        let dir = tempfile::tempdir().unwrap();
        // The log's folder is a file: nothing can be appended.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let log = DurableAppender::new(blocker.join("log.jsonl"));
        let err = log.append(b"one\n").unwrap_err();
        assert!(err.to_string().contains("log.jsonl"), "{err}");
        fs::remove_file(&blocker).unwrap();
        log.append(b"two\n").unwrap();
        assert_eq!(fs::read_to_string(log.path()).unwrap(), "two\n");
    }
}
