//! Fuzz the photo pipeline's entry point: any bytes must give photos or an
//! error, never a panic, a hang or a huge allocation.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run decode` (seeds in corpus/decode;
//! the normal test suite replays them, see crates/imaging/tests/fuzz_replay.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use userphoto_imaging::{prepare, Limits, PrepareOptions};

fuzz_target!(|data: &[u8]| {
    let options = PrepareOptions {
        limits: Limits { max_input_bytes: 1 << 20, max_pixels: 4_000_000 },
        ..PrepareOptions::sizes(&[64, 16])
    };
    let _ = prepare(data, &options);
});
