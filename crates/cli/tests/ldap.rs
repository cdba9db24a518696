//! The single-user commands against a plain LDAP directory (`[ldap]`): the
//! OpenLDAP slapd started by `scripts/test-servers up slapd`. Like the
//! other real-server tests, these FAIL (with that instruction) when it is
//! not there.
//!
//! What they prove, through the built binary: `users --source ldap` lists
//! every seeded user past slapd's 1,000-entry limit; `set` prepares a
//! 240×240 JPEG and writes `jpegPhoto` as the least-privilege photo-writer;
//! `get` reads it back; a second `set` writes nothing; `remove` clears it
//! after a backup; `detect` lists the target as ON-PREMISES.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs slapd, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod common;

use common::{Cli, Facts};
use serde_json::Value;

const HINT: &str =
    "run `scripts/test-servers up slapd` (see docs/TESTING.md), then run the tests again";
const PASSWORD_VAR: &str = "USERPHOTO_CLI_TEST_LDAP_PASSWORD";
/// The seeded user these tests write to (the library's suite uses person0001…0009).
const USER: &str = "person1234";

/// slapd's facts, and a working folder with its `[ldap]` section bound as
/// the photo-writer.
fn setup() -> (Cli, Facts) {
    let slapd = Facts::load("slapd", "LDAP", "OpenLDAP slapd test server", HINT);
    let config = format!(
        "[ldap]\nurl = \"{}\"\nbase_dn = \"{}\"\nbind_dn = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nca_file = \"{}\"\n",
        slapd.get("URL"),
        slapd.get("BASE_DN"),
        slapd.get("WRITER_DN"),
        slapd.get("CA_FILE"),
    );
    let cli = Cli::new(&config, &[(PASSWORD_VAR, slapd.get("WRITER_PASSWORD"))]);
    (cli, slapd)
}

#[test]
fn users_set_get_remove_and_detect_against_slapd() {
    let (env, slapd) = setup();
    let count: usize = slapd.get("USER_COUNT").parse().expect("USER_COUNT");

    let users: Vec<Value> = env
        .json(&["users", "--source", "ldap"])
        .into_iter()
        .filter(|u| u["type"] == "user")
        .collect();
    assert_eq!(users.len(), count, "every user past slapd's size limit");
    assert!(users.iter().any(|u| u["name"] == "josé.müller"));

    let image = env.image("src.png", 500, 500, 3);
    let set = env.json(&["set", USER, &image, "--target", "ldap"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 240, "{set:?}");
    let out = env.path("got.jpg");
    env.run(
        0,
        &[
            "get",
            USER,
            "--target",
            "ldap",
            "--out",
            &out.to_string_lossy(),
        ],
    );
    let got = image::open(&out).expect("a readable JPEG");
    assert_eq!((got.width(), got.height()), (240, 240));
    assert!(std::fs::metadata(&out).expect("out").len() <= 65_536);

    let again = env.json(&["set", USER, &image, "--target", "ldap"]);
    assert_eq!(again[0]["status"], "unchanged", "{again:?}");

    let removed = env.json(&["remove", USER, "--target", "ldap"]);
    assert_eq!(removed[0]["status"], "done", "{removed:?}");
    assert!(env.path("backups").exists(), "the photo was kept first");

    // The read-only photo of the seeded "denied" user: refused, explained.
    let denied = slapd.get("DENIED_USER");
    let refused = env.run(1, &["set", denied, &image, "--target", "ldap"]);
    assert!(!refused.contains("\"done\""), "{refused}");

    let detect = env.json(&["detect"]);
    let ldap = detect
        .iter()
        .find(|d| d["target"] == "ldap")
        .unwrap_or_else(|| panic!("an ldap row: {detect:?}"));
    assert_eq!(ldap["authenticated"], true, "{ldap}");
    assert!(
        detect.iter().any(|d| d["mode"] == "ON-PREMISES"),
        "{detect:?}"
    );
}
