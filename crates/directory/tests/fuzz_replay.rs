//! Replays the fuzzers' corpora (`fuzz/corpus/<target>`: the seeds and
//! what `cargo fuzz` kept as new coverage) and any crash artifacts
//! (`fuzz/artifacts/<target>`) through the fuzz targets' entry points:
//! every file must end without a panic. A crash the fuzzer finds thus
//! fails this test until it is fixed (then it stays in the corpus).

use userphoto_directory::fuzzing;
use userphoto_testkit::fuzz::replay_corpus as replay;

#[test]
fn directory_fuzz_corpora_never_panic() {
    for (target, run, seeds) in [
        ("ldap_answer", fuzzing::ldap_answer as fn(&[u8]), 6),
        ("ews_answer", fuzzing::ews_answer, 4),
        ("graph_answer", fuzzing::graph_answer, 5),
        ("users_file", fuzzing::users_file, 3),
    ] {
        let seen = replay(target, run);
        assert!(
            seen >= seeds,
            "{target}: expected the committed seeds, found {seen} files"
        );
    }
}
