//! Replays the fuzzers' corpora (`fuzz/corpus/<target>`: the seeds and
//! what `cargo fuzz` kept as new coverage) and any crash artifacts
//! (`fuzz/artifacts/<target>`) through the fuzz targets' entry points:
//! every file must end without a panic. A crash the fuzzer finds thus
//! fails this test until it is fixed (then it stays in the corpus).

use userphoto_bulk::fuzzing;
use userphoto_testkit::fuzz::replay_corpus as replay;

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
