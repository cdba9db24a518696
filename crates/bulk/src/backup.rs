//! Backups: every photo we replace or remove is kept first, and every
//! current photo of a target can be exported.
//!
//! Why a module of its own: a directory keeps no history. Once
//! `thumbnailPhoto` is overwritten, yesterday's photo is gone — so before
//! any replace or remove the current photo is written here, and only then is
//! the directory touched. The same layout serves `userphoto backup --out`
//! (export everything) and `userphoto restore` (put photos back), so an
//! export can be restored and an automatic backup can be browsed:
//!
//! ```text
//! <dir>/manifest.jsonl                                   one JSON line per photo kept
//! <dir>/<target>/<safe user id>/<time>-<sha256 prefix>.jpg
//! ```
//!
//! The photo file is staged, flushed and renamed into place, then its
//! manifest line is appended and flushed (`fsync`), so a crash leaves at
//! worst a photo without a line, never a line without a photo.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use userphoto_directory::config::Target;

use crate::durable_append::DurableAppender;
use userphoto_directory::{keys_equal, sha256_hex, Photo, PhotoLookup, User, UserQuery};

/// The manifest's file name inside a backup folder.
pub const MANIFEST: &str = "manifest.jsonl";

/// Why a photo was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupReason {
    /// It was about to be replaced by `set`.
    BeforeSet,
    /// It was about to be removed.
    BeforeRemove,
    /// It was about to be replaced by `restore`.
    BeforeRestore,
    /// `backup --out` exported it.
    Export,
}

/// One manifest line: a kept photo and whose it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// When it was kept, RFC 3339 UTC with microseconds (sorts as text).
    pub time: String,
    /// The target it came from (`ad`, `m365`, …).
    pub target: String,
    /// The user's id in that target.
    pub user_id: String,
    /// The user's name by the target's listing key (sAMAccountName, uid…).
    #[serde(default)]
    pub user_name: Option<String>,
    /// The user's display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// SHA-256 of the photo, lower-case hex.
    pub sha256: String,
    /// Size of the photo in bytes.
    pub bytes: u64,
    /// The photo file, relative to the backup folder, `/`-separated.
    pub path: String,
    /// Why it was kept.
    pub reason: BackupReason,
}

impl BackupRecord {
    /// Whether `value` names this record's user: its id, listing name or
    /// display name, ignoring case.
    pub fn matches_user(&self, value: &str) -> bool {
        keys_equal(&self.user_id, value)
            || self
                .user_name
                .as_deref()
                .is_some_and(|n| keys_equal(n, value))
            || self
                .display_name
                .as_deref()
                .is_some_and(|n| keys_equal(n, value))
    }

    /// A short name for messages: the listing name, else the id.
    pub fn user_label(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.user_id)
    }
}

/// What went wrong keeping or reading a backup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A file operation failed.
    #[error("cannot {action} {}: {source}; check that the folder exists and is writable", path.display())]
    Io {
        /// What we were doing, e.g. `write`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A manifest line is not what we write.
    #[error("{}, line {line}: {message}; fix or delete that line", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A kept photo does not match its manifest line.
    #[error("{} does not match its manifest line (sha256 {found}, expected {expected}); the file was changed or damaged, so it is not restored", path.display())]
    Corrupt {
        /// The photo file.
        path: PathBuf,
        /// The digest in the manifest.
        expected: String,
        /// The digest of the file.
        found: String,
    },
    /// The path given to restore from is not a backup.
    #[error("{} is not a userphoto backup (no {MANIFEST}); give the folder written by `userphoto backup --out` or the backup folder from the configuration", path.display())]
    NotABackup {
        /// The path given.
        path: PathBuf,
    },
    /// A manifest line points outside the backup folder.
    #[error("{}, line {line}: the photo path {photo:?} leaves the backup folder; fix or delete that line", path.display())]
    UnsafePath {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending path.
        photo: String,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A backup folder to keep photos in. Cheap to clone; safe to share
/// between tasks (clones share one manifest writer, so concurrent appends
/// share their disk syncs).
#[derive(Clone, Debug)]
pub struct BackupStore {
    dir: PathBuf,
    manifest: Arc<DurableAppender>,
}

impl BackupStore {
    /// A store in `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        BackupStore {
            manifest: Arc::new(DurableAppender::new(dir.join(MANIFEST))),
            dir,
        }
    }

    /// The backup folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest file.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }

    /// Keeps `photo` as `user`'s photo in `target` and appends its manifest
    /// line. Blocking; see [`save`](Self::save) for async callers.
    ///
    /// # Errors
    /// [`BackupError::Io`] naming the file when anything cannot be written;
    /// then nothing should be changed in the directory.
    pub fn save_blocking(
        &self,
        target: &str,
        user: &User,
        user_name: Option<&str>,
        photo: &Photo,
        reason: BackupReason,
    ) -> Result<BackupRecord, BackupError> {
        let now = time::OffsetDateTime::now_utc();
        let sha = photo.digest();
        let short = sha.get(..12).unwrap_or(sha);
        let rel = format!(
            "{}/{}/{}-{short}.{}",
            safe_component(target),
            safe_component(&user.id),
            file_stamp(now),
            photo.format().extension()
        );
        let path = self.dir.join(&rel);
        let folder = path.parent().unwrap_or(&self.dir).to_owned();
        userphoto_directory::private_fs::create_dir_all(&folder)
            .map_err(io_err("create the backup folder", &folder))?;
        if !path.exists() {
            write_atomic(&folder, &path, photo.bytes())?;
        }
        let record = BackupRecord {
            time: rfc3339(now),
            target: target.to_owned(),
            user_id: user.id.clone(),
            user_name: user_name.map(str::to_owned),
            display_name: user.display_name.clone(),
            sha256: sha.to_owned(),
            bytes: photo.len() as u64,
            path: rel,
            reason,
        };
        self.append(&record)?;
        Ok(record)
    }

    /// [`save_blocking`](Self::save_blocking) on tokio's blocking pool.
    ///
    /// # Errors
    /// As for [`save_blocking`](Self::save_blocking).
    pub async fn save(
        &self,
        target: &str,
        user: &User,
        user_name: Option<&str>,
        photo: &Photo,
        reason: BackupReason,
    ) -> Result<BackupRecord, BackupError> {
        let (store, target, user) = (self.clone(), target.to_owned(), user.clone());
        let (name, photo) = (user_name.map(str::to_owned), photo.clone());
        tokio::task::spawn_blocking(move || {
            store.save_blocking(&target, &user, name.as_deref(), &photo, reason)
        })
        .await
        .map_err(|e| BackupError::Io {
            action: "write",
            path: self.dir.clone(),
            source: io::Error::other(e.to_string()),
        })?
    }

    /// Appends one manifest line and flushes it to disk.
    fn append(&self, record: &BackupRecord) -> Result<(), BackupError> {
        let path = self.manifest_path();
        let mut line = serde_json::to_vec(record).map_err(|e| BackupError::Io {
            action: "encode a line for",
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        line.push(b'\n');
        Ok(self.manifest.append(&line)?)
    }

    /// Creates the manifest (and the folder) if missing, durably: an empty
    /// backup folder is still recognisably one.
    fn touch_manifest(&self) -> Result<(), BackupError> {
        Ok(self.manifest.append(b"")?)
    }
}

/// Writes `bytes` to `path` through a staged file in `folder`: flushed,
/// renamed into place, folder flushed.
fn write_atomic(folder: &Path, path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut staged = tempfile::Builder::new()
        .prefix(".staged-")
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(io_err("create a file in", folder))?;
    staged
        .write_all(bytes)
        .map_err(io_err("write", staged.path()))?;
    staged
        .as_file()
        .sync_all()
        .map_err(io_err("flush", staged.path()))?;
    staged.persist(path).map_err(|e| BackupError::Io {
        action: "rename into",
        path: path.to_owned(),
        source: e.error,
    })?;
    #[cfg(unix)]
    if let Ok(dir) = fs::File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A path component for any id: [`portable_stem`] (the one rule for file
/// names made from ids: percent-encoded, Windows device names and trailing
/// dots escaped), `_` for an empty id, and long ids shortened with a hash
/// so the path stays portable.
///
/// [`portable_stem`]: userphoto_directory::file_name::portable_stem
pub fn safe_component(id: &str) -> String {
    let mut out = userphoto_directory::file_name::portable_stem(id);
    if out.is_empty() {
        out.push('_');
    }
    if out.len() > 100 {
        // `out` is ASCII, so any byte index is a char boundary.
        let hash = sha256_hex(id.as_bytes());
        out.truncate(80);
        out.push('~');
        out.push_str(hash.get(..16).unwrap_or(&hash));
    }
    out
}

/// `2025-01-31T12:00:00.123456Z`: fixed width, so text order is time order.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `20250131T120000.123456Z`, for file names.
fn file_stamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A backup folder opened for reading: its manifest, checked.
#[derive(Clone, Debug)]
pub struct BackupSet {
    dir: PathBuf,
    records: Vec<BackupRecord>,
    torn: Vec<usize>,
}

impl BackupSet {
    /// Opens a backup folder, or its `manifest.jsonl` directly.
    ///
    /// # Errors
    /// [`BackupError::NotABackup`] when there is no manifest;
    /// [`BackupError::Manifest`] naming the line when one is damaged. A
    /// line cut short (a crash or a full disk while it was written: its
    /// change was never reported done) is left out instead, and named by
    /// [`BackupSet::torn_lines`].
    pub fn open(path: &Path) -> Result<Self, BackupError> {
        let (dir, manifest) = if path.is_dir() {
            (path.to_owned(), path.join(MANIFEST))
        } else {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned();
            (dir, path.to_owned())
        };
        // Bytes, not a string: a line cut inside a multi-byte character (a
        // user named José) must cost that line only.
        let text = match fs::read(&manifest) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BackupError::NotABackup {
                    path: path.to_owned(),
                })
            }
            Err(e) => return Err(io_err("read", &manifest)(e)),
        };
        let mut records = Vec::new();
        let mut torn = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: BackupRecord = match serde_json::from_str(line) {
                Ok(record) => record,
                Err(e) if e.is_eof() => {
                    torn.push(i + 1);
                    continue;
                }
                Err(e) => {
                    return Err(BackupError::Manifest {
                        path: manifest.clone(),
                        line: i + 1,
                        message: e.to_string(),
                    })
                }
            };
            if !is_safe_relative(&record.path) {
                return Err(BackupError::UnsafePath {
                    path: manifest.clone(),
                    line: i + 1,
                    photo: record.path,
                });
            }
            records.push(record);
        }
        Ok(BackupSet { dir, records, torn })
    }

    /// Lines of the manifest (from 1) that were cut short and left out.
    pub fn torn_lines(&self) -> &[usize] {
        &self.torn
    }

    /// The backup folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every record, in manifest order.
    pub fn records(&self) -> &[BackupRecord] {
        &self.records
    }

    /// The newest record of each (target, user), optionally only for users
    /// named in `users` (id, listing name or display name, any case). In
    /// target order, then by user.
    pub fn newest(&self, users: &[String]) -> Vec<&BackupRecord> {
        newest_per_user(&self.records, users)
    }

    /// Reads a record's photo and checks it against the manifest.
    ///
    /// # Errors
    /// [`BackupError::Io`] if unreadable, [`BackupError::Corrupt`] if its
    /// digest differs or it is not a photo.
    pub fn read_photo(&self, record: &BackupRecord) -> Result<Photo, BackupError> {
        let path = self.dir.join(&record.path);
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        let found = sha256_hex(&bytes);
        if found != record.sha256 {
            return Err(BackupError::Corrupt {
                path,
                expected: record.sha256.clone(),
                found,
            });
        }
        Photo::new(bytes).map_err(|_| BackupError::Corrupt {
            path,
            expected: record.sha256.clone(),
            found,
        })
    }
}

/// Whether a manifest path stays inside the backup folder.
fn is_safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && !path.contains('\\')
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The newest record per (target, user id) — later lines win ties —
/// filtered by `users` when not empty.
pub fn newest_per_user<'a>(records: &'a [BackupRecord], users: &[String]) -> Vec<&'a BackupRecord> {
    let mut newest: HashMap<(String, String), &BackupRecord> = HashMap::new();
    for r in records {
        if !users.is_empty() && !users.iter().any(|u| r.matches_user(u)) {
            continue;
        }
        let key = (
            r.target.clone(),
            userphoto_directory::normalize_key(&r.user_id),
        );
        match newest.get(&key) {
            Some(old) if old.time > r.time => {}
            _ => {
                newest.insert(key, r);
            }
        }
    }
    let mut out: Vec<&BackupRecord> = newest.into_values().collect();
    out.sort_by(|a, b| {
        (&a.target, a.user_label().to_lowercase()).cmp(&(&b.target, b.user_label().to_lowercase()))
    });
    out
}

/// What exporting one user's photo gave.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportOutcome {
    /// The photo was kept.
    Saved(BackupRecord),
    /// The user has no photo.
    NoPhoto,
    /// The user has no mailbox in this target.
    NoMailbox,
    /// The photo cannot be read; why.
    NotAccessible(String),
    /// Reading or keeping it failed; why, in one sentence.
    Failed(String),
}

/// One user's line in an export.
#[derive(Debug)]
pub struct ExportItem {
    /// The user.
    pub user: User,
    /// What happened.
    pub outcome: ExportOutcome,
}

/// Counts at the end of an export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Users listed.
    pub users: usize,
    /// Photos kept.
    pub saved: usize,
    /// Users without a photo.
    pub no_photo: usize,
    /// Users without a mailbox or whose photo cannot be read.
    pub not_accessible: usize,
    /// Users whose photo could not be read or kept.
    pub failed: usize,
}

/// Exports every current photo of `target` into `store`: users are
/// streamed, up to `concurrency` photos are read at once, and `on_item`
/// hears about each user as it is done.
///
/// # Errors
/// The directory's error if listing users fails, or `Other` if the
/// manifest cannot be created (per-user failures are reported through
/// `on_item` and counted instead).
pub async fn export_target(
    target: &Target,
    store: &BackupStore,
    concurrency: usize,
    mut on_item: impl FnMut(&ExportItem),
) -> Result<ExportSummary, userphoto_directory::Error> {
    // An export with no photo is still a backup folder (restore says "no
    // photo to restore" rather than "not a backup").
    let empty = store.clone();
    tokio::task::spawn_blocking(move || empty.touch_manifest())
        .await
        .map_err(|e| userphoto_directory::Error::other("backup", e.to_string()))?
        .map_err(|e| userphoto_directory::Error::other("backup", e))?;
    let dir = &target.directory;
    let listing_key = dir.capabilities().listing_key;
    let kind = target.kind.as_str();
    let query = UserQuery::all();
    let mut items = dir
        .list_users(&query)
        .map_ok(|user| async move {
            let name = user.key(listing_key).map(str::to_owned);
            let outcome = match dir.get_photo(&user).await {
                Ok(PhotoLookup::Photo(photo)) => match store
                    .save(kind, &user, name.as_deref(), &photo, BackupReason::Export)
                    .await
                {
                    Ok(record) => ExportOutcome::Saved(record),
                    Err(e) => ExportOutcome::Failed(e.to_string()),
                },
                Ok(PhotoLookup::NoPhoto) => ExportOutcome::NoPhoto,
                Ok(PhotoLookup::NoMailbox) => ExportOutcome::NoMailbox,
                Ok(PhotoLookup::NotAccessible { reason }) => ExportOutcome::NotAccessible(reason),
                Err(e) => ExportOutcome::Failed(e.to_string()),
            };
            Ok::<_, userphoto_directory::Error>(ExportItem { user, outcome })
        })
        .try_buffer_unordered(concurrency.max(1))
        .boxed();
    let mut summary = ExportSummary::default();
    while let Some(item) = items.next().await {
        let item = item?;
        summary.users += 1;
        match &item.outcome {
            ExportOutcome::Saved(_) => summary.saved += 1,
            ExportOutcome::NoPhoto => summary.no_photo += 1,
            ExportOutcome::NoMailbox | ExportOutcome::NotAccessible(_) => {
                summary.not_accessible += 1;
            }
            ExportOutcome::Failed(_) => summary.failed += 1,
        }
        on_item(&item);
    }
    Ok(summary)
}

impl From<crate::durable_append::AppendFailed> for BackupError {
    fn from(f: crate::durable_append::AppendFailed) -> Self {
        BackupError::Io {
            action: f.action,
            path: f.path,
            source: f.source,
        }
    }
}

#[cfg(test)]
#[path = "backup/tests.rs"]
mod tests;
