//! Replays the fuzzers' corpora (`fuzz/corpus/<target>`: the seeds and
//! what `cargo fuzz` kept as new coverage) and any crash artifacts
//! (`fuzz/artifacts/<target>`) through the fuzz targets' entry points:
//! every file must end without a panic. A crash the fuzzer finds thus
//! fails this test until it is fixed (then it stays in the corpus).

use std::path::Path;
use userphoto_bulk::fuzzing;

fn replay(target: &str, run: fn(&[u8])) -> usize {
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

#[test]
fn bulk_fuzz_corpora_never_panic() {
    for (target, run, seeds) in [
        ("mapping_csv", fuzzing::mapping_csv as fn(&[u8]), 2),
        ("journal", fuzzing::journal, 2),
    ] {
        let seen = replay(target, run);
        assert!(
            seen >= seeds,
            "{target}: expected the committed seeds, found {seen} files"
        );
    }
}
