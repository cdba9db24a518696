//! The facts `scripts/test-servers` publishes about a running test server
//! (URLs, DNs, passwords of throwaway accounts), read one way by every test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The env file `scripts/test-servers` writes for `server` (`samba`,
/// `slapd`): under `$USERPHOTO_TEST_SERVERS_DIR`, else `<repo>/.test-servers`.
pub fn env_file(server: &str) -> PathBuf {
    std::env::var_os("USERPHOTO_TEST_SERVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.test-servers"))
        .join(server)
        .join("env")
}

/// Every `USERPHOTO_TEST_<prefix>_*` fact: from the environment when
/// `USERPHOTO_TEST_<prefix>_URL` is set, else from `server`'s env file
/// (`KEY=value` lines, `#` comments). The error says which file could not
/// be read; callers add how to start the server.
pub fn facts(server: &str, prefix: &str) -> Result<HashMap<String, String>, String> {
    let wanted = format!("USERPHOTO_TEST_{prefix}_");
    if std::env::var_os(format!("{wanted}URL")).is_some() {
        return Ok(std::env::vars()
            .filter(|(k, _)| k.starts_with(&wanted))
            .collect());
    }
    let file = env_file(server);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("its env file {} cannot be read ({e})", file.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}
