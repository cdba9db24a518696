//! Kerberos test helpers shared by the directory and CLI test suites.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Gets a ticket for `principal` with `kinit` (Debian `krb5-user`), the
/// password on its stdin so it never sits on a command line. `args` come
/// before the principal (e.g. `-l 2s` for a short life); `envs` are added to
/// the child's environment (`KRB5_CONFIG`, `KRB5CCNAME`). Panics, saying
/// what to install or what `kinit` answered, when it fails.
pub fn kinit(principal: &str, password: &str, args: &[&str], envs: &[(String, String)]) {
    let mut child = Command::new("kinit")
        .args(args)
        .arg(principal)
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run kinit ({e}): install it (Debian: apt-get install krb5-user; .ci/run does)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password to kinit");
    let out = child.wait_with_output().expect("kinit");
    assert!(
        out.status.success(),
        "kinit {principal} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
