//! What each source file became when it was last prepared.
//!
//! Why it exists: "a second run with nothing changed" must cost a small
//! fraction of the first — no decoding of 2,000 camera JPEGs just to learn
//! that AD already holds their thumbnails. Preparing is deterministic (same
//! bytes and options → same JPEG, checked by a test), so the digest of the
//! prepared photo can be remembered per source file, keyed by its path,
//! size, modification time, the crop, and this engine's version. A later
//! plan compares that digest with the directory's current photo digest
//! and, when equal, marks the step `unchanged` without reading the file.
//!
//! A file rewritten with the same size and the same modification time
//! would fool the key; the write itself is still safe (the executor
//! compares the photo it actually prepared with the directory's before
//! writing).
//!
//! Stored as JSON lines (`key`, entry) under the import state folder;
//! rewritten whole (staged, then renamed) when saved. A damaged line is
//! ignored: the cache is only an optimisation.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use userphoto_imaging::CropMode;

/// The engine version, part of every key: a new release may prepare
/// differently.
const ENGINE: &str = concat!("userphoto-bulk ", env!("CARGO_PKG_VERSION"));

/// A source file's identity for the cache: path, size, modification time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 if unknown).
    pub mtime_ns: u128,
}

impl FileStamp {
    /// The stamp of the file at `path`.
    ///
    /// # Errors
    /// When the file's metadata cannot be read.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self::from_metadata(&meta))
    }

    /// The stamp from metadata already read.
    pub fn from_metadata(meta: &std::fs::Metadata) -> Self {
        FileStamp {
            len: meta.len(),
            mtime_ns: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos()),
        }
    }
}

/// One prepared output of a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedOutput {
    /// Requested side in pixels.
    pub size: u32,
    /// Requested byte budget.
    pub budget: usize,
    /// SHA-256 of the prepared JPEG.
    pub sha256: String,
    /// Its length in bytes.
    pub bytes: usize,
}

/// What is known about one source file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Upright width of the source.
    pub width: u32,
    /// Upright height of the source.
    pub height: u32,
    /// Outputs prepared so far.
    pub outputs: Vec<CachedOutput>,
    /// The pipeline's quality warnings (sentences) when last prepared.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The same findings as codes (`no_face`, `too_dark`, …).
    #[serde(default)]
    pub checks: Vec<String>,
}

impl CacheEntry {
    /// The output prepared for `size` within `budget`, if known.
    pub fn output(&self, size: u32, budget: usize) -> Option<&CachedOutput> {
        self.outputs
            .iter()
            .find(|o| o.size == size && o.budget == budget)
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    entry: CacheEntry,
}

/// The cache: in memory, optionally backed by a file. Shared between the
/// planner and the executor's workers (internally locked).
#[derive(Debug, Default)]
pub struct PreparedCache {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<String, CacheEntry>>,
}

impl PreparedCache {
    /// A cache that lives only as long as the value.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads the cache kept at `path` (missing: empty).
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut entries = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                if let Ok(l) = serde_json::from_str::<Line>(line) {
                    entries.insert(l.key, l.entry);
                }
            }
        }
        PreparedCache {
            path: Some(path),
            entries: Mutex::new(entries),
        }
    }

    /// The key of `file` prepared with `crop`.
    pub fn key(file: &Path, stamp: &FileStamp, crop: &CropMode) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{crop:?}\u{1f}{ENGINE}",
            file.display(),
            stamp.len,
            stamp.mtime_ns
        )
    }

    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<CacheEntry> {
        self.lock().get(key).cloned()
    }

    /// Records the source size and an output for `key`.
    pub fn record(&self, key: &str, width: u32, height: u32, output: CachedOutput) {
        let mut entries = self.lock();
        let entry = entries.entry(key.to_owned()).or_default();
        if (entry.width, entry.height) != (width, height) {
            *entry = CacheEntry {
                width,
                height,
                ..CacheEntry::default()
            };
        }
        entry
            .outputs
            .retain(|o| !(o.size == output.size && o.budget == output.budget));
        entry.outputs.push(output);
    }

    /// Records the quality findings of the latest preparation of `key`.
    pub fn record_quality(&self, key: &str, warnings: &[String], checks: &[String]) {
        let mut entries = self.lock();
        let entry = entries.entry(key.to_owned()).or_default();
        entry.warnings = warnings.to_vec();
        entry.checks = checks.to_vec();
    }

    /// Records only the source size for `key`.
    pub fn record_size(&self, key: &str, width: u32, height: u32) {
        let mut entries = self.lock();
        let entry = entries.entry(key.to_owned()).or_default();
        if (entry.width, entry.height) != (width, height) {
            *entry = CacheEntry {
                width,
                height,
                ..CacheEntry::default()
            };
        }
    }

    /// Records what preparing a file made (every output's digest and size,
    /// then its quality findings) under `key`.
    pub fn remember(&self, key: &str, prepared: &crate::prepare::PreparedFile) {
        for o in &prepared.outputs {
            self.record(
                key,
                prepared.width,
                prepared.height,
                CachedOutput {
                    size: o.spec.size,
                    budget: o.spec.max_bytes,
                    sha256: o.photo.digest().to_owned(),
                    bytes: o.photo.len(),
                },
            );
        }
        // After the outputs: a first record resets the entry.
        self.record_quality(key, &prepared.warnings, &prepared.checks);
    }

    /// Writes the cache to its file (staged, then renamed), without the
    /// entries that can never be used again: another engine version's, and
    /// those of files that have changed since or are gone from a folder
    /// still there (the file grows with every re-exported folder
    /// otherwise). A file that cannot be looked at now (a share offline, a
    /// path relative to another working folder) keeps its entry. Does
    /// nothing for an in-memory cache.
    ///
    /// # Errors
    /// When the folder cannot be created or the file written.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        userphoto_directory::private_fs::create_dir_all(dir)?;
        let mut staged = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut w = std::io::BufWriter::new(staged.as_file_mut());
            // Checked outside the lock: a stat of a network path may be slow.
            let entries: Vec<(String, CacheEntry)> = self
                .lock()
                .iter()
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            for (key, entry) in entries.into_iter().filter(|(key, _)| still_useful(key)) {
                let line = Line { key, entry };
                serde_json::to_writer(&mut w, &line)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        staged.as_file().sync_all()?;
        staged.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CacheEntry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a [`PreparedCache::key`] may still be used: of this engine, and
/// of a file not known to have changed or gone.
fn still_useful(key: &str) -> bool {
    // From the right: a file name may hold the separator.
    let parts: Vec<&str> = key.rsplitn(5, '\u{1f}').collect();
    let [engine, _crop, mtime, len, file] = parts.as_slice() else {
        return false;
    };
    if *engine != ENGINE {
        return false;
    }
    let file = Path::new(file);
    match FileStamp::of(file) {
        Ok(s) => s.len.to_string() == *len && s.mtime_ns.to_string() == *mtime,
        // Gone from a folder that is there: it will not come back as it was.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => !file
            .parent()
            .is_some_and(|dir| dir.is_absolute() && dir.is_dir()),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_save_and_ignores_damaged_lines() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cache.jsonl");
        let cache = PreparedCache::open(&path);
        let photo = dir.path().join("a.jpg");
        std::fs::write(&photo, b"0123456789")?;
        let stamp = FileStamp::of(&photo)?;
        let key = PreparedCache::key(&photo, &stamp, &CropMode::Centre);
        cache.record(
            &key,
            640,
            480,
            CachedOutput {
                size: 96,
                budget: 10240,
                sha256: "ab".into(),
                bytes: 3,
            },
        );
        cache.save()?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{not json\n"))?;
        let again = PreparedCache::open(&path);
        let entry = again.get(&key).expect("kept");
        assert_eq!((entry.width, entry.height), (640, 480));
        assert_eq!(
            entry.output(96, 10240).map(|o| o.sha256.as_str()),
            Some("ab")
        );
        assert!(entry.output(648, 10240).is_none());
        let other = FileStamp {
            len: 10,
            mtime_ns: stamp.mtime_ns + 1,
        };
        assert!(again
            .get(&PreparedCache::key(&photo, &other, &CropMode::Centre))
            .is_none());
        Ok(())
    }

    #[test]
    fn a_save_drops_what_can_never_be_used_again() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cache.jsonl");
        let cache = PreparedCache::open(&path);
        let output = CachedOutput {
            size: 96,
            budget: 10240,
            sha256: "ab".into(),
            bytes: 3,
        };
        let keep = dir.path().join("keep.jpg");
        let change = dir.path().join("change.jpg");
        let gone = dir.path().join("gone.jpg");
        let mut keys = Vec::new();
        for file in [&keep, &change, &gone] {
            std::fs::write(file, b"first")?;
            let key = PreparedCache::key(file, &FileStamp::of(file)?, &CropMode::Centre);
            cache.record(&key, 640, 480, output.clone());
            keys.push(key);
        }
        let old_engine = keys[0].replace(ENGINE, "userphoto-bulk 0.0.0");
        cache.record(&old_engine, 640, 480, output);
        std::fs::write(&change, b"re-exported")?;
        std::fs::remove_file(&gone)?;
        cache.save()?;
        let again = PreparedCache::open(&path);
        assert!(
            again.get(&keys[0]).is_some(),
            "an unchanged file's entry stays"
        );
        for dropped in [&keys[1], &keys[2], &old_engine] {
            assert!(again.get(dropped).is_none(), "{dropped:?}");
        }
        Ok(())
    }
}
