//! Finding the photos in a folder.
//!
//! Files are listed, not sniffed: the pipeline sniffs the bytes later, so a
//! `.jpg` that is really a PDF is reported by name with the reason. Hidden
//! files (`.DS_Store`, `._x.jpg` AppleDouble files), temporary and system
//! files (`~$x`, `Thumbs.db`, `desktop.ini`) are skipped quietly.

use std::path::{Path, PathBuf};

/// One file found by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Full path.
    pub path: PathBuf,
    /// Path relative to the root it was found under (just the file name for
    /// a file given directly).
    pub relative: PathBuf,
    /// Found by listing a folder (rather than named by the user): a file
    /// that is plainly not a photo is then skipped rather than failed.
    pub from_folder: bool,
}

/// Extensions of image formats, read or not: a file with one of these that
/// turns out not to be readable is an error, never quietly skipped.
pub fn has_image_extension(path: &Path) -> bool {
    const IMAGE: &[&str] = &[
        "jpg", "jpeg", "jpe", "jfif", "png", "apng", "gif", "bmp", "dib", "tif", "tiff", "webp",
        "heic", "heif", "avif", "jxl", "mpo", "jp2", "psd", "raw", "cr2", "nef", "dng", "arw",
    ];
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE.iter().any(|i| i.eq_ignore_ascii_case(e)))
}

/// A problem met while scanning; the scan carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanProblem {
    /// Where.
    pub path: PathBuf,
    /// What went wrong, as a sentence.
    pub message: String,
}

/// Result of a scan.
#[derive(Debug, Default, Clone)]
pub struct ScanResult {
    /// Files to process, sorted by path for deterministic runs.
    pub files: Vec<Found>,
    /// Paths that could not be read.
    pub problems: Vec<ScanProblem>,
}

/// Whether a file name should be ignored.
pub fn is_ignored_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || name.ends_with('~')
        || lower.ends_with(".tmp")
        || lower.ends_with(".part")
        || lower.ends_with(".crdownload")
        || lower == "thumbs.db"
        || lower == "desktop.ini"
}

/// List the files under each of `paths`. A file given directly is taken as
/// it is (even if hidden: the user asked for it); a folder is listed, its
/// subfolders only when `recursive`.
pub fn scan(paths: &[PathBuf], recursive: bool) -> ScanResult {
    let mut result = ScanResult::default();
    for root in paths {
        match std::fs::metadata(root) {
            Err(e) => result.problems.push(ScanProblem {
                path: root.clone(),
                message: format!("cannot read it: {e}"),
            }),
            Ok(meta) if meta.is_file() => {
                let relative = root
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.clone());
                result.files.push(Found {
                    path: root.clone(),
                    relative,
                    from_folder: false,
                });
            }
            Ok(_) => scan_dir(root, recursive, &mut result),
        }
    }
    result.files.sort_by(|a, b| a.path.cmp(&b.path));
    result.files.dedup_by(|a, b| a.path == b.path);
    result
}

fn scan_dir(root: &Path, recursive: bool, result: &mut ScanResult) {
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !is_ignored_name(&e.file_name().to_string_lossy()));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                let relative = e
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(e.path())
                    .to_path_buf();
                result.files.push(Found {
                    path: e.path().to_path_buf(),
                    relative,
                    from_folder: true,
                });
            }
            Ok(_) => {}
            Err(e) => result.problems.push(ScanProblem {
                path: e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf()),
                message: format!("cannot list it: {e}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_hidden_and_temporary_files() {
        for name in [
            ".DS_Store",
            "._a.jpg",
            "~$x.jpg",
            "Thumbs.db",
            "desktop.ini",
            "a.jpg.part",
            "b.tmp",
        ] {
            assert!(is_ignored_name(name), "{name}");
        }
        for name in ["John.Smith 648x648.jpg", "a.png", "x~y.jpg"] {
            assert!(!is_ignored_name(name), "{name}");
        }
    }

    #[test]
    fn knows_image_extensions_in_any_case() {
        assert!(has_image_extension(Path::new("a.JPG")));
        assert!(has_image_extension(Path::new("x/IMG_1.heic")));
        assert!(!has_image_extension(Path::new("MANIFEST.tsv")));
        assert!(!has_image_extension(Path::new("README")));
    }

    #[test]
    fn lists_a_folder_sorted_and_recursive_only_when_asked() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("b.jpg"), b"x")?;
        std::fs::write(dir.path().join("a.jpg"), b"x")?;
        std::fs::write(dir.path().join(".hidden.jpg"), b"x")?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub").join("c.jpg"), b"x")?;
        let flat = scan(&[dir.path().to_path_buf()], false);
        let names: Vec<_> = flat.files.iter().map(|f| f.relative.clone()).collect();
        assert_eq!(names, vec![PathBuf::from("a.jpg"), PathBuf::from("b.jpg")]);
        let deep = scan(&[dir.path().to_path_buf()], true);
        assert_eq!(deep.files.len(), 3);
        assert!(deep
            .files
            .iter()
            .any(|f| f.relative == Path::new("sub").join("c.jpg")));
        let missing = scan(&[dir.path().join("nope")], false);
        assert_eq!(missing.problems.len(), 1);
        Ok(())
    }
}
