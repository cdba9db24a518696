//! What the web UI keeps on this machine: browser folder uploads (under
//! the data folder, private to the user — not in a shared, possibly
//! RAM-backed `/tmp`), and the path of its log file, which an error page
//! names.

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use userphoto_directory::private_fs;

static DATA_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);
static LOG_FILE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Sets the data folder uploads go under (`<data>/uploads`); `None` uses
/// the system's temporary folder (tests, the demo).
pub fn set_data_dir(dir: Option<PathBuf>) {
    *DATA_DIR.write().unwrap_or_else(PoisonError::into_inner) = dir;
}

/// Sets the log file the page names when something fails inside.
pub fn set_log_file(path: Option<PathBuf>) {
    *LOG_FILE.write().unwrap_or_else(PoisonError::into_inner) = path;
}

/// The log file, if the server writes one.
pub fn log_file() -> Option<PathBuf> {
    LOG_FILE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Upload folders (`uploads/userphoto-upload-*`) not touched for `max_age`:
/// left behind by a server that was killed. Unlike a temporary folder,
/// the data folder is never emptied by a reboot. (Only another server on
/// the same data folder that kept a folder untouched that long could lose
/// it.) Returns how many were removed.
pub fn sweep_stale_uploads(data_dir: &Path, max_age: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(data_dir.join("uploads")) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("userphoto-upload-")
        })
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > max_age)
        })
        .filter(|e| std::fs::remove_dir_all(e.path()).is_ok())
        .count()
}

/// The folder upload folders are made in, created private (0700).
pub(crate) fn upload_root() -> std::io::Result<PathBuf> {
    let dir = DATA_DIR
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match dir {
        Some(dir) => {
            let root = dir.join("uploads");
            private_fs::create_dir_all(&root)?;
            Ok(root)
        }
        None => Ok(std::env::temp_dir()),
    }
}

/// [`private_fs::create_dir_all`] off the async threads.
pub(crate) async fn create_dir_all(path: &Path) -> std::io::Result<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || private_fs::create_dir_all(&path))
        .await
        .map_err(std::io::Error::other)?
}

/// Writes `bytes` to a new private (0600) file at `path`.
pub(crate) async fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (path, bytes) = (path.to_owned(), bytes.to_vec());
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        private_fs::open(
            private_fs::options()
                .write(true)
                .create(true)
                .truncate(true),
            &path,
        )?
        .write_all(&bytes)
    })
    .await
    .map_err(std::io::Error::other)?
}
