//! `tracing` events reach the admin (issue 16): warnings on standard
//! error by default, `RUST_LOG` honoured, standard output clean under
//! `--json`. The `allow_insecure` warning docs/CONFIG.md promises is the
//! probe: it is logged when the `[ldap]` target is opened, before any
//! connection, so no server is needed (the connection to port 1 then fails).

mod common;

use common::Cli;

const CONFIG: &str = "[ldap]\nurl = \"ldap://127.0.0.1:1\"\nbase_dn = \"dc=example,dc=org\"\nstarttls = false\nallow_insecure = true\n";

#[test]
fn the_insecure_warning_reaches_stderr_and_json_stdout_stays_clean() {
    let cli = Cli::new(CONFIG, &[]);
    let (_, stdout, stderr) = cli.output(
        &["--json", "users", "--source", "ldap"],
        &[("RUST_LOG", "")],
    );
    assert!(stderr.contains("INSECURE"), "stderr: {stderr}");
    for line in stdout.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "a non-JSON line on stdout: {line}"
        );
    }
    assert!(!stdout.contains("INSECURE"), "stdout: {stdout}");
    // RUST_LOG decides when set.
    let (_, _, quiet) = cli.output(&["users", "--source", "ldap"], &[("RUST_LOG", "off")]);
    assert!(!quiet.contains("INSECURE"), "RUST_LOG=off: {quiet}");
}
