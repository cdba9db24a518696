//! Replays the fuzzer's seed corpus (`fuzz/corpus/decode`) and any crash
//! artifacts it found (`fuzz/artifacts/decode`) through the same entry
//! point as the fuzz target: every file must end in photos or an error,
//! never a panic. Fixed crashers belong in the corpus folder.

use std::path::Path;
use userphoto_imaging::{prepare, Limits, PrepareOptions};

#[test]
fn fuzz_corpus_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let options = PrepareOptions {
        limits: Limits {
            max_input_bytes: 1 << 20,
            max_pixels: 4_000_000,
        },
        ..PrepareOptions::sizes(&[64, 16])
    };
    let mut seen = 0;
    for dir in ["corpus/decode", "artifacts/decode"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable entry").path();
            let bytes = std::fs::read(&path).expect("readable file");
            // A panic fails the test and names the file.
            let outcome =
                std::panic::catch_unwind(|| prepare(&bytes, &options).map(|p| p.photos.len()));
            assert!(outcome.is_ok(), "{} panicked the pipeline", path.display());
            seen += 1;
        }
    }
    assert!(
        seen >= 20,
        "expected the committed seed corpus, found {seen} files"
    );
}
