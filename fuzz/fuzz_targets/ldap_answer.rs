//! Fuzz LDAP answer handling: the paged-results cookie (BER) and Active Directory's diagnostic sub-codes.
//! Any bytes must give an answer or an error, never a panic or a hang.
//!
//! Run: `cd fuzz && cargo +nightly fuzz run ldap_answer` (seeds in corpus/ldap_answer; the
//! normal test suite replays them and any crash artifacts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userphoto_directory::fuzzing::ldap_answer(data);
});
