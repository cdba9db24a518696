//! Where the real-world image corpus is (`../shared/corpus` beside the
//! checkout, or `$USERPHOTO_CORPUS`).
//!
//! One rule for every test that reads it: present → use it; absent → say so
//! loudly and skip, unless `USERPHOTO_REQUIRE_CORPUS=1` (CI sets it when
//! the corpus is there), in which case the absence is a failure.

use std::path::{Path, PathBuf};

/// The corpus folder, if it holds `marker` (a path inside it, e.g.
/// `odd/MANIFEST.tsv`). `untested` names what is skipped without it.
///
/// # Panics
/// When the corpus is absent and `USERPHOTO_REQUIRE_CORPUS=1`.
pub fn dir(marker: &str, untested: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("USERPHOTO_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if dir.join(marker).is_file() {
        return Some(dir);
    }
    let msg = format!(
        "CORPUS ABSENT: no {marker} under {} — set USERPHOTO_CORPUS to the corpus folder",
        dir.display()
    );
    if std::env::var("USERPHOTO_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("\n*** {msg}; {untested} NOT tested ***\n");
    None
}
