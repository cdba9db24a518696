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

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const HINT: &str =
    "run `scripts/test-servers up slapd` (see docs/TESTING.md), then run the tests again";
const PASSWORD_VAR: &str = "USERPHOTO_CLI_TEST_LDAP_PASSWORD";
/// The seeded user these tests write to (the library's suite uses person0001…0009).
const USER: &str = "person1234";

fn slapd() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("slapd", "LDAP")
        .unwrap_or_else(|e| panic!("OpenLDAP slapd test server: {e}; {HINT}"))
}

fn var<'a>(vars: &'a HashMap<String, String>, key: &str) -> &'a str {
    vars.get(&format!("USERPHOTO_TEST_LDAP_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_LDAP_{key} is missing; {HINT}"))
}

struct Env {
    dir: tempfile::TempDir,
    password: String,
}

impl Env {
    fn new() -> (Self, HashMap<String, String>) {
        let vars = slapd();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "[ldap]\nurl = \"{}\"\nbase_dn = \"{}\"\nbind_dn = \"{}\"\npassword_env = \"{PASSWORD_VAR}\"\nca_file = \"{}\"\n\n[backup]\ndir = \"backups\"\n\n[audit]\npath = \"audit.jsonl\"\n",
            var(&vars, "URL"),
            var(&vars, "BASE_DN"),
            var(&vars, "WRITER_DN"),
            var(&vars, "CA_FILE"),
        );
        std::fs::write(dir.path().join("userphoto.toml"), config).expect("config");
        let password = var(&vars, "WRITER_PASSWORD").to_owned();
        (Env { dir, password }, vars)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    #[track_caller]
    fn run(&self, code: i32, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env(PASSWORD_VAR, &self.password)
            .output()
            .expect("run userphoto");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "userphoto {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        stdout
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(0, &all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    fn image(&self, name: &str, seed: u8) -> String {
        let img = image::RgbImage::from_fn(500, 500, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
        });
        let path = self.path(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .expect("png");
        path.to_string_lossy().into_owned()
    }
}

#[test]
fn users_set_get_remove_and_detect_against_slapd() {
    let (env, vars) = Env::new();
    let count: usize = var(&vars, "USER_COUNT").parse().expect("USER_COUNT");

    let users: Vec<Value> = env
        .json(&["users", "--source", "ldap"])
        .into_iter()
        .filter(|u| u["type"] == "user")
        .collect();
    assert_eq!(users.len(), count, "every user past slapd's size limit");
    assert!(users.iter().any(|u| u["name"] == "josé.müller"));

    let image = env.image("src.png", 3);
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
    let denied = var(&vars, "DENIED_USER");
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
