//! Fuzz the import's --mapping CSV.
//! Any bytes must give an answer or an error, never a panic or a hang.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run mapping_csv` (seeds in corpus/mapping_csv; the
//! normal test suite replays them and any crash artifacts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userphoto_bulk::fuzzing::mapping_csv(data);
});
