//! Random tokens (sessions, CSRF, one-time links, ids) and comparing them
//! without leaking where they differ.

/// 32 random bytes, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if let Err(e) = getrandom::getrandom(&mut bytes) {
        // Without an OS random source no token is safe: refuse to go on.
        panic!("the operating system gave no random bytes for a session token: {e}");
    }
    hex::encode(bytes)
}

/// Compares without stopping at the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
