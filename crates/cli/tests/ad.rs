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

use std::collections::HashMap;
use std::process::{Command, Output};

use serde_json::Value;

const START_HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";

/// The one seeded user these tests write to (the conformance suite uses
/// user0001…user0009).
const USER: &str = "user2400";

/// The Samba facts, from `USERPHOTO_TEST_AD_*` or the env file.
struct Ad {
    vars: HashMap<String, String>,
}

impl Ad {
    fn load() -> Self {
        let vars = userphoto_testkit::servers::facts("samba", "AD")
            .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {START_HINT}"));
        Ad { vars }
    }

    fn get(&self, key: &str) -> &str {
        self.vars
            .get(&format!("USERPHOTO_TEST_AD_{key}"))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {START_HINT}"))
    }
}

/// A working folder with an `[ad]` configuration bound as the
/// least-privilege service account.
struct Env {
    ad: Ad,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let ad = Ad::load();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_env = \"USERPHOTO_CLI_TEST_AD_PASSWORD\"\nca_file = {:?}\n\n[backup]\ndir = \"backups\"\n\n[audit]\npath = \"audit.jsonl\"\n",
            ad.get("URL"),
            ad.get("TEST_OU"),
            ad.get("SVC_UPN"),
            ad.get("CA_FILE"),
        );
        std::fs::write(dir.path().join("userphoto.toml"), config).expect("config");
        Env { ad, dir }
    }

    fn run_with_password(&self, password: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env("USERPHOTO_CLI_TEST_AD_PASSWORD", password)
            .output()
            .expect("run userphoto")
    }

    /// Runs `userphoto`, asserting the exit code; returns stdout.
    #[track_caller]
    fn run(&self, code: i32, args: &[&str]) -> String {
        let out = self.run_with_password(self.ad.get("SVC_PASSWORD"), args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(2) && stderr.contains("cannot connect") {
            panic!("the Samba AD test server is not reachable: {stderr}; {START_HINT}");
        }
        assert_eq!(
            out.status.code(),
            Some(code),
            "userphoto {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        stdout
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(0, &all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    fn image(&self, name: &str, seed: u8) -> String {
        let img = image::RgbImage::from_fn(500, 400, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
        });
        let path = self.dir.path().join(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .expect("png");
        path.to_string_lossy().into_owned()
    }

    /// `USER`'s thumbnailPhoto as read by `ldapsearch` (None: no photo).
    fn ldapsearch_photo(&self) -> Option<Vec<u8>> {
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                self.ad.get("URL"),
                "-D",
                self.ad.get("SVC_UPN"),
                "-w",
                self.ad.get("SVC_PASSWORD"),
                "-b",
                self.ad.get("TEST_OU"),
                &format!("(sAMAccountName={USER})"),
                "thumbnailPhoto",
            ])
            .env("LDAPTLS_CACERT", self.ad.get("CA_FILE"))
            .output()
            .unwrap_or_else(|e| panic!("ldapsearch cannot run ({e}); install ldap-utils"));
        assert!(
            out.status.success(),
            "ldapsearch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("thumbnailPhoto:: "))
            .map(base64_decode)
    }
}

/// Standard base64 (what LDIF uses), ignoring anything else.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &s)| acc | (u32::from(s) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn detect_users_set_get_remove_restore_against_samba() {
    let env = Env::new();

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
    let expected: u64 = env.ad.get("USER_COUNT").parse().expect("count");
    let summary = users.last().expect("summary");
    assert_eq!(summary["users"].as_u64(), Some(expected));
    assert!(users.iter().any(|u| u["name"] == USER));

    // Start from no photo (an earlier, interrupted run may have left one).
    env.run(0, &["remove", USER, "--target", "ad", "--no-backup"]);
    assert_eq!(env.ldapsearch_photo(), None);

    let img = env.image("photo.png", 42);
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
    assert_eq!(env.ldapsearch_photo().as_deref(), Some(written.as_slice()));

    let removed = env.json(&["remove", USER, "--target", "ad"]);
    assert_eq!(removed[0]["status"], "done");
    assert!(removed[0]["backup"].is_string());
    assert_eq!(env.ldapsearch_photo(), None);

    let restored = env.json(&["restore", "backups", "--user", USER]);
    assert_eq!(restored[0]["status"], "done", "{restored:?}");
    assert_eq!(env.ldapsearch_photo().as_deref(), Some(written.as_slice()));

    let audit = std::fs::read_to_string(env.dir.path().join("audit.jsonl")).expect("audit");
    let actions: Vec<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(actions, vec!["set", "remove", "restore"]);
    assert!(audit.contains(env.ad.get("SVC_UPN")));
    assert!(!audit.contains(env.ad.get("SVC_PASSWORD")));

    env.run(0, &["remove", USER, "--target", "ad", "--no-backup"]);
}

#[test]
fn a_wrong_password_is_one_sentence_without_the_secret() {
    let env = Env::new();
    let out = env.run_with_password("Wrong-Secret-123", &["get", USER, "--target", "ad"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("wrong password"), "{stderr}");
    assert!(
        stderr.contains("USERPHOTO_CLI_TEST_AD_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("Wrong-Secret-123"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
