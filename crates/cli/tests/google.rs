//! The commands against Google Workspace — the Google Workspace emulator,
//! in-process on a loopback port — through the built binary: `users
//! --source google` across pages, `set`/`get`/`remove` at 96×96, `detect`
//! saying CLOUD, `backup`/`restore` with `--target google`, an `import` of
//! a folder of 500 users named `email.jpg` under a quota that answers
//! `403 userRateLimitExceeded` (every photo lands once, nothing fails, the
//! summary names the retries), and the sign-in failures an admin meets
//! (no delegation, a wrong clock, a subject who is not an admin), each
//! said with what to fix and without the key.

mod common;

use common::Cli;
use serde_json::Value;
use userphoto_emulators::google::{
    GoogleEmulator, Knobs, DEFAULT_ADMIN, DEFAULT_NON_ADMIN, SERVICE_ACCOUNT_CLIENT_ID, USER_SCOPE,
};

/// An emulator with a runtime of its own, so tests can block on the binary.
struct Emulator {
    emulator: GoogleEmulator,
    _runtime: tokio::runtime::Runtime,
}

impl Emulator {
    fn start(knobs: Knobs) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = runtime
            .block_on(GoogleEmulator::start(knobs))
            .expect("emulator");
        Emulator {
            emulator,
            _runtime: runtime,
        }
    }

    /// A working folder with `[google]` acting as `subject`, the key file
    /// written there readable by its owner only.
    fn cli(&self, subject: &str, extra: &str) -> Cli {
        let section = format!(
            "[google]\nkey_file = \"google-key.json\"\nsubject = \"{subject}\"\napi_url = \"{}\"\n{extra}",
            self.emulator.api_url()
        );
        let env = Cli::new(&section, &[]);
        let key = env.path("google-key.json");
        std::fs::write(&key, self.emulator.key_json()).expect("key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        env
    }
}

fn jpeg_size(path: &std::path::Path) -> (u32, u32) {
    let img = image::open(path).expect("a readable photo");
    (img.width(), img.height())
}

#[test]
fn users_set_get_remove_backup_restore_and_detect() {
    let emu = Emulator::start(Knobs::default().with_users(1_100));
    let env = emu.cli(DEFAULT_ADMIN, "");

    let users: Vec<Value> = env
        .json(&["users", "--source", "google"])
        .into_iter()
        .filter(|u| u["type"] == "user")
        .collect();
    assert_eq!(users.len(), 1_102, "every user across three pages of 500");
    assert_eq!(users[0]["target"], "google");
    let found = env.json(&["users", "--source", "google", "--search", "emu0104"]);
    assert_eq!(found.iter().filter(|u| u["type"] == "user").count(), 10);

    let user = "emu00042@example.test";
    let id = "100000000000000000042";
    let image = env.image("big.png", 500, 400, 7);
    let set = env.json(&[
        "set", user, &image, "--target", "google", "--crop", "centre",
    ]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 96, "Google keeps 96×96");
    assert_eq!(emu.emulator.writes_for(id), 1);
    env.run(0, &["get", user, "--target", "google", "--out", "got.jpg"]);
    assert_eq!(jpeg_size(&env.path("got.jpg")), (96, 96));
    let again = env.json(&[
        "set", user, &image, "--target", "google", "--crop", "centre",
    ]);
    assert_eq!(again[0]["status"], "unchanged");
    assert_eq!(emu.emulator.writes_for(id), 1);
    let by_id = env.run(
        0,
        &["get", "E00042", "--by", "employee-id", "--target", "google"],
    );
    assert!(by_id.contains("emu00042"), "{by_id}");

    // The size rule: Google keeps 96×96, so a small source is not skipped
    // as it would be for an HD target (and it is never upscaled).
    let small = env.image("small.png", 80, 80, 3);
    let s = env.json(&["set", "emu00043@example.test", &small, "--crop", "centre"]);
    assert_eq!(s[0]["target"], "google", "{s:?}");
    assert_eq!(s[0]["status"], "done", "{s:?}");
    assert_eq!(emu.emulator.writes_for("100000000000000000043"), 1);

    // backup exports what Google holds; restore puts it back.
    let backup = env.json(&["backup", "--out", "export", "--target", "google"]);
    assert!(
        backup
            .iter()
            .any(|l| l["type"] == "summary" || l["status"] == "done"),
        "{backup:?}"
    );
    assert!(env.path("export").join("manifest.jsonl").exists());
    let stored = emu.emulator.stored_photo(id).expect("stored");
    let removed = env.json(&["remove", user, "--target", "google"]);
    assert_eq!(removed[0]["status"], "done", "{removed:?}");
    assert_eq!(emu.emulator.stored_photo(id), None);
    let restored = env.json(&["restore", "export", "--user", user, "--target", "google"]);
    assert_eq!(restored[0]["status"], "done", "{restored:?}");
    assert_eq!(emu.emulator.stored_photo(id), Some(stored));

    let detect = env.json(&["detect"]);
    let google = detect
        .iter()
        .find(|d| d["target"] == "google")
        .expect("google row");
    assert_eq!(google["authenticated"], true, "{google}");
    assert_eq!(google["permitted"], true, "{google}");
    let mode = detect.iter().find(|d| d["type"] == "mode").expect("mode");
    assert_eq!(mode["mode"], "CLOUD");
}

#[test]
fn import_of_500_users_under_the_quota_lands_every_photo_once() {
    // The project's quota is 100 requests a second but userphoto is told
    // 150: the run meets 403 userRateLimitExceeded and must wait it out.
    let emu = Emulator::start(Knobs::default().with_users(500).with_quota(100.0, 20.0));
    let env = emu.cli(DEFAULT_ADMIN, "requests_per_minute = 9000\n");
    let hr = env.path("hr");
    std::fs::create_dir_all(&hr).expect("mkdir");
    let users: Vec<_> = emu
        .emulator
        .users()
        .into_iter()
        .filter(|u| u.primary_email.starts_with("emu"))
        .collect();
    assert_eq!(users.len(), 500);
    for (i, u) in users.iter().enumerate() {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(128, 128, 7000 + i as u32),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(hr.join(format!("{}.jpg", u.primary_email)), bytes).expect("photo");
    }
    let state = env.path("state");
    let (code, stdout, stderr) = env.output(
        &[
            "--json", "import", "hr", "--target", "google", "--crop", "centre",
        ],
        &[("USERPHOTO_STATE_DIR", state.to_str().expect("utf-8 path"))],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .expect("a summary line");
    eprintln!("{summary}");
    assert_eq!(summary["summary"]["written"], 500, "{summary}");
    assert_eq!(summary["summary"]["failed"], 0, "{summary}");
    let retried = summary["retries"]["google"]["retries"]
        .as_u64()
        .unwrap_or(0);
    assert!(retried > 0, "the summary names the retries: {summary}");
    assert!(
        summary["retries"]["google"]["rate_limited"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{summary}"
    );

    let stats = emu.emulator.stats();
    assert!(stats.quota_errors > 0, "the quota was hit: {stats:?}");
    assert_eq!(stats.writes, 500, "{stats:?}");
    let writes = emu.emulator.writes_per_user();
    assert_eq!(writes.len(), 500);
    assert!(writes.values().all(|n| *n == 1), "every photo once");
}

fn refused(knobs: Knobs, subject: &str) -> String {
    let emu = Emulator::start(knobs);
    let env = emu.cli(subject, "");
    let (code, stdout, stderr) = env.output(&["users", "--source", "google"], &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(!stderr.contains("PRIVATE KEY") && !stdout.contains("PRIVATE KEY"));
    stderr
}

#[test]
fn a_key_without_delegation_names_the_client_id_and_scope() {
    let stderr = refused(Knobs::default().with_delegated_scopes(&[]), DEFAULT_ADMIN);
    assert!(
        stderr.contains("domain-wide delegation is not granted"),
        "{stderr}"
    );
    assert!(stderr.contains(SERVICE_ACCOUNT_CLIENT_ID), "{stderr}");
    assert!(stderr.contains(USER_SCOPE), "{stderr}");
}

#[test]
fn an_expired_jwt_points_at_the_clock() {
    let stderr = refused(Knobs::default().with_clock_offset(2 * 3600), DEFAULT_ADMIN);
    assert!(stderr.contains("invalid_grant"), "{stderr}");
    assert!(stderr.contains("clock"), "{stderr}");
}

#[test]
fn a_subject_who_is_not_an_admin_is_named() {
    let stderr = refused(Knobs::default(), DEFAULT_NON_ADMIN);
    assert!(stderr.contains(DEFAULT_NON_ADMIN), "{stderr}");
    assert!(stderr.contains("must be a Workspace admin"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let emu = Emulator::start(Knobs::default());
    let env = emu.cli(DEFAULT_ADMIN, "");
    std::fs::set_permissions(
        env.path("google-key.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let (code, _, stderr) = env.output(&["users", "--source", "google"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn import_matches_by_employee_id_too() {
    let emu = Emulator::start(Knobs::default().with_users(5));
    let env = emu.cli(DEFAULT_ADMIN, "");
    let hr = env.path("hr");
    std::fs::create_dir_all(&hr).expect("mkdir");
    for i in 1..=3u32 {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(128, 128, 500 + i),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(hr.join(format!("E0000{i} badge.jpg")), bytes).expect("photo");
    }
    let state = env.path("state");
    let (code, stdout, stderr) = env.output(
        &[
            "--json",
            "import",
            "hr",
            "--target",
            "google",
            "--match-by",
            "employee-id",
            "--crop",
            "centre",
        ],
        &[("USERPHOTO_STATE_DIR", state.to_str().expect("utf-8 path"))],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for i in 1..=3 {
        assert_eq!(emu.emulator.writes_for(&format!("1{i:020}")), 1, "E0000{i}");
    }
    assert_eq!(emu.emulator.stats().writes, 3);
}
