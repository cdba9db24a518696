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

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs the Samba AD DC, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod common;

use common::{ad_section, Cli, Facts, AD_PASSWORD_VAR};
use userphoto_emulators::ews::{
    EmulatedAuth, EwsEmulator, EwsKnobs, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

/// Seeded AD users these tests give a mailbox (other tests use user0001…0009, user2400).
const USER: &str = "user2450";
const USER_2013: &str = "user2451";
const EWS_PASSWORD_VAR: &str = "USERPHOTO_CLI_TEST_EWS_PASSWORD";

/// A working folder configured for Samba's `[ad]` and the emulator's
/// `[exchange]`, and the emulator on a runtime of its own.
struct Env {
    cli: Cli,
    emulator: EwsEmulator,
    _runtime: tokio::runtime::Runtime,
}

impl Env {
    /// `auth` is the `[exchange]` section's `auth` value.
    fn new(knobs: EwsKnobs, auth: &str) -> Self {
        let ad = Facts::samba();
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
        let config = format!(
            "{}\n[exchange]\news_url = {:?}\nusername = {:?}\npassword_env = \"{EWS_PASSWORD_VAR}\"\nauth = {:?}\nallow_insecure = true\n",
            ad_section(&ad),
            emulator.ews_url(),
            DEFAULT_USERNAME,
            auth,
        );
        let cli = Cli::new(
            &config,
            &[
                (AD_PASSWORD_VAR, ad.get("SVC_PASSWORD")),
                (EWS_PASSWORD_VAR, DEFAULT_PASSWORD),
            ],
        );
        Env {
            cli,
            emulator,
            _runtime: runtime,
        }
    }

    /// Runs `userphoto`; returns the exit code and stdout + stderr.
    fn output(&self, args: &[&str]) -> (Option<i32>, String) {
        let (code, stdout, stderr) = self.cli.output(args, &[]);
        (code, format!("{stdout}\n{stderr}"))
    }
}

#[test]
fn set_get_and_remove_with_target_exchange() {
    let env = Env::new(EwsKnobs::default().with_auth(EmulatedAuth::Ntlm), "ntlm");
    let image = env.cli.image("src.png", 700, 700, 9);
    let set = env.cli.json(&["set", USER, &image, "--target", "exchange"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 648, "{set:?}");
    let stored = env
        .emulator
        .photo(&format!("{USER}@corp.example.test"))
        .expect("the mailbox has the photo");
    let img = image::load_from_memory(&stored).expect("a JPEG");
    assert_eq!((img.width(), img.height()), (648, 648));

    let out = env.cli.path("got.jpg");
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

    let detect = env.cli.json(&["detect"]);
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
    env.cli.set_env(EWS_PASSWORD_VAR, "Wrong-Ews-Pass-9");
    let image = env.cli.image("src.png", 700, 700, 7);
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
    let image = env.cli.image("src.png", 700, 700, 4);
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
