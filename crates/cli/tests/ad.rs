//! The single-user commands against a real Active Directory: the Samba AD
//! DC started by `scripts/test-servers up`. Like the LDAP backend's tests,
//! these FAIL (with that instruction) when the server is not there — a run
//! that skipped them would prove nothing.
//!
//! What they prove, through the built binary: `detect` says ON-PREMISES;
//! `users` lists every seeded user; `set` then `get` round-trips a photo,
//! checked independently with `ldapsearch`; `remove` clears it, the backup
//! restores it; a wrong password is one sentence naming the variable and
//! never the secret.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod common;

use common::{ad_section, base64_decode, Cli, Facts, AD_PASSWORD_VAR, START_HINT};
use serde_json::Value;
use userphoto_testkit::servers::{samba_ldapsearch, SambaAccount};

/// The one seeded user these tests write to (the conformance suite uses
/// user0001…user0009).
const USER: &str = "user2400";

/// Samba's facts, and a working folder with an `[ad]` configuration bound
/// as the least-privilege service account.
fn setup() -> (Cli, Facts) {
    let ad = Facts::samba();
    let cli = Cli::new(
        &ad_section(&ad),
        &[(AD_PASSWORD_VAR, ad.get("SVC_PASSWORD"))],
    )
    .with_unreachable_message(format!(
        "the Samba AD test server is not reachable; {START_HINT}"
    ));
    (cli, ad)
}

/// `USER`'s thumbnailPhoto as read by `ldapsearch` as svc-photos (None: no
/// photo).
fn ldapsearch_photo(samba: &Facts) -> Option<Vec<u8>> {
    samba_ldapsearch(
        samba.vars(),
        SambaAccount::PhotoService,
        &format!("(sAMAccountName={USER})"),
        &["thumbnailPhoto"],
    )
    .lines()
    .find_map(|l| l.strip_prefix("thumbnailPhoto:: "))
    .map(base64_decode)
}

#[test]
fn detect_users_set_get_remove_restore_against_samba() {
    let (env, samba) = setup();

    let detect = env.json(&["detect"]);
    let ad = detect
        .iter()
        .find(|l| l["target"] == "ad")
        .expect("ad line");
    assert_eq!(
        (
            ad["reachable"].as_bool(),
            ad["authenticated"].as_bool(),
            ad["permitted"].as_bool()
        ),
        (Some(true), Some(true), Some(true)),
        "{ad}"
    );
    assert_eq!(detect.last().expect("mode")["mode"], "ON-PREMISES");

    let users = env.json(&["users"]);
    let expected: u64 = samba.get("USER_COUNT").parse().expect("count");
    let summary = users.last().expect("summary");
    assert_eq!(summary["users"].as_u64(), Some(expected));
    assert!(users.iter().any(|u| u["name"] == USER));

    // Start from no photo (an earlier, interrupted run may have left one).
    env.run(0, &["remove", USER, "--target", "ad", "--no-backup"]);
    assert_eq!(ldapsearch_photo(&samba), None);

    let img = env.image("photo.png", 500, 400, 42);
    let set = env.json(&["set", USER, &img, "--target", "ad"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 96);
    let sha = set[0]["new_sha256"].as_str().expect("sha").to_owned();

    let got = env.json(&[
        "get",
        &USER.to_uppercase(),
        "--target",
        "ad",
        "--out",
        "got.jpg",
    ]);
    assert_eq!(got[0]["state"], "photo");
    assert_eq!(got[0]["sha256"], sha.as_str());
    let written = std::fs::read(env.dir.path().join("got.jpg")).expect("got.jpg");
    assert!(written.len() <= 10 * 1024, "{} bytes", written.len());
    assert_eq!(
        ldapsearch_photo(&samba).as_deref(),
        Some(written.as_slice())
    );

    let removed = env.json(&["remove", USER, "--target", "ad"]);
    assert_eq!(removed[0]["status"], "done");
    assert!(removed[0]["backup"].is_string());
    assert_eq!(ldapsearch_photo(&samba), None);

    let restored = env.json(&["restore", "backups", "--user", USER]);
    assert_eq!(restored[0]["status"], "done", "{restored:?}");
    assert_eq!(
        ldapsearch_photo(&samba).as_deref(),
        Some(written.as_slice())
    );

    let audit = std::fs::read_to_string(env.dir.path().join("audit.jsonl")).expect("audit");
    let actions: Vec<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(actions, vec!["set", "remove", "restore"]);
    assert!(audit.contains(samba.get("SVC_UPN")));
    assert!(!audit.contains(samba.get("SVC_PASSWORD")));

    env.run(0, &["remove", USER, "--target", "ad", "--no-backup"]);
}

#[test]
fn a_wrong_password_is_one_sentence_without_the_secret() {
    let (env, _samba) = setup();
    let (code, _, stderr) = env.output(
        &["get", USER, "--target", "ad"],
        &[(AD_PASSWORD_VAR, "Wrong-Secret-123")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("wrong password"), "{stderr}");
    assert!(
        stderr.contains("USERPHOTO_CLI_TEST_AD_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("Wrong-Secret-123"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
