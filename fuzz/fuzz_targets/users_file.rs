//! Fuzz the folder backend's users.csv: read, checked, written back.
//! Any bytes must give an answer or an error, never a panic or a hang.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run users_file` (seeds in corpus/users_file; the
//! normal test suite replays them and any crash artifacts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userphoto_directory::fuzzing::users_file(data);
});
