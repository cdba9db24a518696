//! Replaying the fuzzers' corpora in the normal test run.

use std::path::Path;

/// Runs every file of `fuzz/corpus/<target>` (the seeds and what `cargo
/// fuzz` kept as new coverage) and `fuzz/artifacts/<target>` (crashes)
/// through `run`; panics naming the file when one panics. The number of
/// files run.
///
/// # Panics
/// When a file cannot be read or `run` panics on it: this is a test helper.
pub fn replay_corpus(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut seen = 0;
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable entry").path();
            let bytes = std::fs::read(&path).expect("readable file");
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{} panicked {target}", path.display());
            seen += 1;
        }
    }
    seen
}
