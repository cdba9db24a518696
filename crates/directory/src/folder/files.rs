//! Photo files on disk: names, atomic writes, reads, removal.
//!
//! Everything here is blocking `std::fs` and runs inside
//! `tokio::task::spawn_blocking` (see the callers), so the runtime never
//! waits on the disk. Kept apart from the backend so the crash-safety rules
//! (stage in the same folder, fsync, rename, fsync the folder) sit in one
//! short file.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::photo::PhotoFormat;

/// The folder's private failures; converted to the public [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum FolderError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{} is not a JPEG or PNG; replace it with a photo or delete it", path.display())]
    NotAPhoto { path: PathBuf },
    #[error("a background file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl FolderError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        FolderError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

impl From<FolderError> for Error {
    fn from(e: FolderError) -> Self {
        let denied = matches!(&e, FolderError::Io { source, .. }
            if source.kind() == io::ErrorKind::PermissionDenied);
        if denied {
            Error::PermissionDenied {
                message: e.to_string(),
                hint: "check the file permissions of the folder".to_owned(),
            }
        } else {
            Error::other("folder", e)
        }
    }
}

/// The file-name stem for a user id: [`crate::file_name::portable_stem`],
/// so any id is a safe, portable file name that cannot climb out of the
/// folder (Windows device names and trailing dots included).
pub(crate) fn file_stem(id: &str) -> String {
    crate::file_name::portable_stem(id)
}

/// The path of the photo of the user with stem `stem`, in `format`.
pub(crate) fn photo_path(photos: &Path, stem: &str, format: PhotoFormat) -> PathBuf {
    photos.join(format!("{stem}.{}", format.extension()))
}

/// Reads the user's photo, whichever format it is in. When both a `.jpg`
/// and a `.png` exist (a write was interrupted before the old one was
/// removed), the newer one wins.
pub(crate) fn read_photo(photos: &Path, stem: &str) -> Result<Option<Vec<u8>>, FolderError> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for format in [PhotoFormat::Jpeg, PhotoFormat::Png] {
        let path = photo_path(photos, stem, format);
        match fs::metadata(&path) {
            Ok(meta) => {
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                    newest = Some((modified, path));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FolderError::io("read", &path, e)),
        }
    }
    let Some((_, path)) = newest else {
        return Ok(None);
    };
    match fs::read(&path) {
        Ok(bytes) if PhotoFormat::sniff(&bytes).is_some() => Ok(Some(bytes)),
        Ok(_) => Err(FolderError::NotAPhoto { path }),
        // Removed between the metadata call and the read: no photo now.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FolderError::io("read", &path, e)),
    }
}

/// Writes `bytes` as the user's photo atomically: a staged temporary file
/// in the same folder, flushed to disk, renamed over the old photo; then the
/// photo in the other format, if any, is removed. A reader sees the old
/// photo or the new one, never a part.
pub(crate) fn write_photo(
    photos: &Path,
    stem: &str,
    format: PhotoFormat,
    bytes: &[u8],
) -> Result<(), FolderError> {
    let target = photo_path(photos, stem, format);
    write_atomic(&target, bytes)?;
    for other in [PhotoFormat::Jpeg, PhotoFormat::Png] {
        if other != format {
            remove_if_present(&photo_path(photos, stem, other))?;
        }
    }
    Ok(())
}

/// Removes the user's photo in every format; absent files are fine.
pub(crate) fn remove_photo(photos: &Path, stem: &str) -> Result<(), FolderError> {
    for format in [PhotoFormat::Jpeg, PhotoFormat::Png] {
        remove_if_present(&photo_path(photos, stem, format))?;
    }
    sync_dir(photos)
}

fn remove_if_present(path: &Path) -> Result<(), FolderError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FolderError::io("remove", path, e)),
    }
}

/// Writes `bytes` to `target` by staging a temporary file beside it,
/// syncing it, and renaming it into place.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), FolderError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut staged = tempfile::Builder::new()
        .prefix(".staged-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| FolderError::io("create a staged file in", dir, e))?;
    staged
        .write_all(bytes)
        .map_err(|e| FolderError::io("write", staged.path(), e))?;
    staged
        .as_file()
        .sync_all()
        .map_err(|e| FolderError::io("flush", staged.path(), e))?;
    staged
        .persist(target)
        .map_err(|e| FolderError::io("replace", target, e.error))?;
    sync_dir(dir)
}

/// Makes a rename or removal in `dir` durable (Unix; a no-op elsewhere).
fn sync_dir(dir: &Path) -> Result<(), FolderError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FolderError::io("flush the folder", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
