//! Fuzz Microsoft Graph and Entra ID JSON answers: error bodies, token refusals, pages of users.
//! Any bytes must give an answer or an error, never a panic or a hang.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run graph_answer` (seeds in corpus/graph_answer; the
//! normal test suite replays them and any crash artifacts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userphoto_directory::fuzzing::graph_answer(data);
});
