//! Fuzz EWS SOAP answers: fault and response-code classification, back-off, server version.
//! Any bytes must give an answer or an error, never a panic or a hang.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run ews_answer` (seeds in corpus/ews_answer; the
//! normal test suite replays them and any crash artifacts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userphoto_directory::fuzzing::ews_answer(data);
});
