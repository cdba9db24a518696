//! `--target exchange` through the built binary: users from the Samba AD
//! DC (`scripts/test-servers up`; these tests FAIL with that instruction
//! when it is absent) and photos in the EWS EMULATOR of
//! `userphoto-emulators` (in-process on a loopback port; written from
//! Microsoft's documentation, not Exchange), mailboxes keyed by AD's `mail`.
//!
//! What they prove: `set` prepares a 648×648 JPEG and writes it with
//! SetUserPhoto; `get` reads it back; `remove` is refused naming
//! `Remove-UserPhoto` (EWS cannot);
//! `detect` lists the target; an Exchange 2013 server opens read-only and
//! a write says "Exchange 2016 or later is required". Sign-in: the first
//! test runs against an emulator offering only NTLM (`auth = "ntlm"`), the
//! 2013 one against a Basic-only emulator (`auth = "basic"`); a wrong
//! password fails every command clearly, without printing it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use userphoto_emulators::ews::{
    EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

const HINT: &str =
    "start it with `scripts/test-servers up` (see docs/TESTING.md), then run the tests again";
/// Seeded AD users these tests give a mailbox (other tests use user0001…0009, user2400).
const USER: &str = "user2450";
const USER_2013: &str = "user2451";

fn ad() -> HashMap<String, String> {
    userphoto_testkit::servers::facts("samba", "AD")
        .unwrap_or_else(|e| panic!("Samba AD test server: {e}; {HINT}"))
}

fn get<'a>(vars: &'a HashMap<String, String>, key: &str) -> &'a str {
    vars.get(&format!("USERPHOTO_TEST_AD_{key}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("USERPHOTO_TEST_AD_{key} is missing; {HINT}"))
}

struct Env {
    dir: tempfile::TempDir,
    ad_password: String,
    ews_password: String,
    emulator: EwsEmulator,
    _runtime: tokio::runtime::Runtime,
}

impl Env {
    /// `auth` is the `[exchange]` section's `auth` value.
    fn new(knobs: EwsKnobs, auth: &str) -> Self {
        let vars = ad();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mail = |u: &str| format!("{u}@corp.example.test");
        let emulator = runtime
            .block_on(EwsEmulator::start(
                knobs.with_mailboxes([mail(USER), mail(USER_2013)]),
            ))
            .expect("emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "[ad]\nurl = {:?}\nbase_dn = {:?}\nbind_dn = {:?}\npassword_env = \"USERPHOTO_CLI_TEST_AD_PASSWORD\"\nca_file = {:?}\n\n\
[exchange]\news_url = {:?}\nusername = {:?}\npassword_env = \"USERPHOTO_CLI_TEST_EWS_PASSWORD\"\nauth = {:?}\nallow_insecure = true\n\n\
[backup]\ndir = \"backups\"\n\n[audit]\npath = \"audit.jsonl\"\n",
            get(&vars, "URL"),
            get(&vars, "TEST_OU"),
            get(&vars, "SVC_UPN"),
            get(&vars, "CA_FILE"),
            emulator.ews_url(),
            DEFAULT_USERNAME,
            auth,
        );
        std::fs::write(dir.path().join("userphoto.toml"), config).expect("config");
        Env {
            dir,
            ad_password: get(&vars, "SVC_PASSWORD").to_owned(),
            ews_password: DEFAULT_PASSWORD.to_owned(),
            emulator,
            _runtime: runtime,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `userphoto`; returns the exit code and stdout + stderr.
    fn output(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env("USERPHOTO_CLI_TEST_AD_PASSWORD", &self.ad_password)
            .env("USERPHOTO_CLI_TEST_EWS_PASSWORD", &self.ews_password)
            .output()
            .expect("run userphoto");
        (
            out.status.code(),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(&all)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env("USERPHOTO_CLI_TEST_AD_PASSWORD", &self.ad_password)
            .env("USERPHOTO_CLI_TEST_EWS_PASSWORD", &self.ews_password)
            .output()
            .expect("run userphoto");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "userphoto {all:?}\n--- stdout\n{stdout}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    fn image(&self, name: &str, seed: u8) -> String {
        let img = image::RgbImage::from_fn(700, 700, |x, y| {
            image::Rgb([(x % 256) as u8, seed, (y % 256) as u8])
        });
        let path = self.path(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .expect("png");
        path.to_string_lossy().into_owned()
    }
}

#[test]
fn set_get_and_remove_with_target_exchange() {
    let env = Env::new(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm), "ntlm");
    let image = env.image("src.png", 9);
    let set = env.json(&["set", USER, &image, "--target", "exchange"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 648, "{set:?}");
    let stored = env
        .emulator
        .photo(&format!("{USER}@corp.example.test"))
        .expect("the mailbox has the photo");
    let img = image::load_from_memory(&stored).expect("a JPEG");
    assert_eq!((img.width(), img.height()), (648, 648));

    let out = env.path("got.jpg");
    let (code, text) = env.output(&[
        "get",
        USER,
        "--target",
        "exchange",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(std::fs::read(&out).expect("out"), stored);

    // EWS cannot remove a photo (no such operation): refused, nothing
    // changed, and the message names the command that can.
    let (code, text) = env.output(&["remove", USER, "--target", "exchange"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("cannot remove photos"), "{text}");
    assert!(text.contains("Remove-UserPhoto"), "{text}");
    assert!(
        env.emulator
            .photo(&format!("{USER}@corp.example.test"))
            .is_some(),
        "nothing was removed"
    );

    let detect = env.json(&["detect"]);
    let row = detect
        .iter()
        .find(|d| d["target"] == "exchange")
        .unwrap_or_else(|| panic!("an exchange row: {detect:?}"));
    assert_eq!(row["authenticated"], true, "{row}");
    let description = row["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("Exchange 2016 (15.1.")
            && description.contains("SetUserPhoto supported"),
        "detect shows the server version: {row}"
    );
    assert!(
        detect.iter().any(|d| d["mode"] == "ON-PREMISES"),
        "{detect:?}"
    );
    let stats = env.emulator.stats();
    assert!(stats.ntlm_sign_ins >= 3, "one per command: {stats:?}");
    assert_eq!(stats.basic_requests, 0, "{stats:?}");
}

#[test]
fn a_wrong_ews_password_fails_clearly_without_printing_it() {
    let mut env = Env::new(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm), "ntlm");
    env.ews_password = "Wrong-Ews-Pass-9".into();
    let image = env.image("src.png", 7);
    for args in [
        vec!["get", USER, "--target", "exchange", "--out", "x.jpg"],
        vec!["set", USER, &image, "--target", "exchange"],
    ] {
        let (code, text) = env.output(&args);
        assert_ne!(code, Some(0), "{args:?}: {text}");
        assert!(
            text.contains("refused the credentials") && text.contains("NTLM"),
            "{args:?}: {text}"
        );
        assert!(text.contains("USERPHOTO_CLI_TEST_EWS_PASSWORD"), "{text}");
        assert!(!text.contains("Wrong-Ews-Pass-9"), "{text}");
    }
    let stats = env.emulator.stats();
    assert_eq!((stats.ntlm_sign_ins, stats.photos_set), (0, 0), "{stats:?}");
}

#[test]
fn exchange_2013_refuses_writes_with_the_reason() {
    let env = Env::new(
        EwsKnobs::default()
            .exchange_2013(true)
            .with_auth(EmulatedAuth::Basic),
        "basic",
    );
    let image = env.image("src.png", 4);
    let (code, text) = env.output(&["set", USER_2013, &image, "--target", "exchange"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("Exchange 2016 or later is required"),
        "{text}"
    );
    let stats = env.emulator.stats();
    assert_eq!(stats.photos_set, 0);
    assert!(stats.basic_requests >= 1, "signed in with Basic: {stats:?}");
}
