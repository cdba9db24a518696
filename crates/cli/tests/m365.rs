//! The commands against Microsoft 365 — the Graph emulator, in-process on
//! a loopback port — through the built binary: `users --source m365`
//! across pages, `set`/`get`/`remove` round trips, `detect` saying CLOUD,
//! a wrong secret explained without printing it, `import` through random
//! 429s and 503s landing every photo exactly once, and, with the Samba AD
//! test server (`scripts/test-servers up`), HYBRID: `detect` and
//! `use-existing-hd` from the cloud HD photo to AD's thumbnailPhoto, for one
//! user and with `--all` (user2470…2475, reserved for it).

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{ad_section, Cli, Facts, AD_PASSWORD_VAR};
use serde_json::Value;
use userphoto_emulators::graph::{EmulatedUser, GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET};

const SECRET_VAR: &str = "USERPHOTO_CLI_TEST_M365_SECRET";

/// An emulator with a runtime of its own, so tests can block on the binary.
struct Emulator {
    emulator: GraphEmulator,
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
            .block_on(GraphEmulator::start(knobs))
            .expect("emulator");
        Emulator {
            emulator,
            _runtime: runtime,
        }
    }

    fn section(&self) -> String {
        format!(
            "[m365]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_env = \"{SECRET_VAR}\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nread_after_write_secs = 5\n",
            self.emulator.tenant_id(),
            self.emulator.client_id(),
            self.emulator.graph_url(),
            self.emulator.login_url()
        )
    }
}

/// A working folder whose configuration is `config`, with the emulator's
/// client secret.
fn cli(config: &str) -> Cli {
    Cli::new(config, &[(SECRET_VAR, DEFAULT_CLIENT_SECRET)])
}

fn jpeg_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).expect("a readable photo");
    (img.width(), img.height())
}

#[test]
fn users_set_get_remove_and_detect_against_the_emulator() {
    let emu = Emulator::start(
        Knobs::default()
            .with_users(1_200)
            .with_page_size(500)
            .with_user(
                EmulatedUser::new("40000000-0000-4000-8000-000000000001", "zoe.nomail")
                    .without_mailbox(),
            ),
    );
    let env = cli(&emu.section());

    let users: Vec<Value> = env
        .json(&["users", "--source", "m365"])
        .into_iter()
        .filter(|u| u["type"] == "user")
        .collect();
    assert_eq!(users.len(), 1_201, "every user across three pages");
    assert_eq!(users[0]["target"], "m365");
    assert_eq!(users[0]["name"], "emu00000", "named by alias");
    assert_eq!(users[0]["upn"], "emu00000@contoso.test");
    let found = env.json(&["users", "--source", "m365", "--search", "EMU0119"]);
    assert_eq!(found.iter().filter(|u| u["type"] == "user").count(), 10);

    let image = env.image("big.png", 700, 700, 7);
    let set = env.json(&["set", "emu00042", &image, "--target", "m365"]);
    assert_eq!(set[0]["status"], "done", "{set:?}");
    assert_eq!(set[0]["size"], 648);
    let id = "00000000-0000-4000-8000-000000000042";
    assert_eq!(emu.emulator.writes_for(id), 1);
    let out = env.path("got.jpg");
    env.run(
        0,
        &[
            "get",
            "emu00042",
            "--target",
            "m365",
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert_eq!(jpeg_size(&out), (648, 648));
    // Same photo again: nothing is written twice.
    let again = env.json(&["set", "emu00042", &image, "--target", "m365"]);
    assert_eq!(again[0]["status"], "unchanged");
    assert_eq!(emu.emulator.writes_for(id), 1);
    let by_upn = env.run(
        0,
        &[
            "get",
            "emu00042@contoso.test",
            "--by",
            "upn",
            "--target",
            "m365",
        ],
    );
    assert!(by_upn.contains("emu00042"), "{by_upn}");

    let removed = env.json(&["remove", "emu00042", "--target", "m365"]);
    assert_eq!(removed[0]["status"], "done", "{removed:?}");
    assert_eq!(emu.emulator.stored_photo(id), None);
    assert!(env.path("backups").exists(), "the photo was kept first");

    let nomail = env.run(1, &["set", "zoe.nomail", &image, "--target", "m365"]);
    assert!(nomail.is_empty() || !nomail.contains("done"));

    let detect = env.json(&["detect"]);
    let m365 = detect
        .iter()
        .find(|d| d["target"] == "m365")
        .expect("m365 row");
    assert_eq!(m365["authenticated"], true, "{m365}");
    assert_eq!(m365["permitted"], true, "{m365}");
    let mode = detect.iter().find(|d| d["type"] == "mode").expect("mode");
    assert_eq!(mode["mode"], "CLOUD");
}

#[test]
fn a_wrong_secret_is_explained_and_never_printed() {
    let emu = Emulator::start(Knobs::default());
    let mut env = cli(&emu.section());
    env.set_env(SECRET_VAR, "sEcReT-that-is-wrong");
    let (code, stdout, stderr) = env.output(&["users", "--source", "m365"], &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("AADSTS7000215"), "{stderr}");
    assert!(stderr.contains("client secret is wrong"), "{stderr}");
    assert!(
        !stderr.contains("sEcReT") && !stdout.contains("sEcReT"),
        "{stderr}"
    );
    let (code, stdout, _) = env.output(&["detect"], &[]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("AADSTS7000215"), "{stdout}");
    assert!(stdout.contains("mode: NONE"), "{stdout}");
    assert!(!stdout.contains("sEcReT"), "{stdout}");
}

/// An expired secret and a missing admin consent, answered by the
/// emulator as Entra and Graph document them: each message names the
/// cause and the fix, never the secret.
#[test]
fn an_expired_secret_and_a_missing_consent_say_what_to_do() {
    let mut knobs = Knobs::default();
    knobs.secret_expired = true;
    let emu = Emulator::start(knobs);
    let env = cli(&emu.section());
    let (code, stdout, stderr) = env.output(&["users", "--source", "m365"], &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("AADSTS7000222"), "{stderr}");
    assert!(stderr.contains("client secret has expired"), "{stderr}");
    assert!(stderr.contains("create a new client secret"), "{stderr}");
    assert!(!stderr.contains(DEFAULT_CLIENT_SECRET), "{stderr}");

    let mut knobs = Knobs::default();
    knobs.admin_consent = false;
    let emu = Emulator::start(knobs);
    let env = cli(&emu.section());
    let (code, stdout, stderr) = env.output(&["users", "--source", "m365"], &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("Authorization_RequestDenied"), "{stderr}");
    assert!(stderr.contains("User.Read.All"), "{stderr}");
    assert!(stderr.contains("admin consent"), "{stderr}");
}

/// A HYBRID configuration: the Samba AD DC (bound as svc-photos, its
/// password in `USERPHOTO_CLI_TEST_AD_PASSWORD`) and `emu`; with that
/// password.
fn hybrid_config(emu: &Emulator) -> (String, String) {
    let ad = Facts::samba();
    let config = format!("{}\n{}", ad_section(&ad), emu.section());
    (config, ad.get("SVC_PASSWORD").to_owned())
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs the Samba AD test server, Linux only (docs/TESTING.md)"
)]
fn hybrid_detect_and_use_existing_hd_with_samba_ad() {
    // user2411 in AD; in the cloud only its mail matches (UPN changed).
    let emu = Emulator::start(
        Knobs::default().with_users(3).with_user(
            EmulatedUser::new("50000000-0000-4000-8000-000000002411", "user2411")
                .with_upn("user2411@contoso.onmicrosoft.test")
                .with_mail(Some("user2411@corp.example.test".into())),
        ),
    );
    let (config, password) = hybrid_config(&emu);
    let env = cli(&config);
    let with_ad = [(AD_PASSWORD_VAR, password.as_str())];
    let run = |code: i32, args: &[&str]| {
        let (got, stdout, stderr) = env.output(args, &with_ad);
        assert_eq!(got, Some(code), "userphoto {args:?}\n{stdout}\n{stderr}");
        stdout
    };

    let detect: Vec<Value> = run(0, &["--json", "detect"])
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mode = detect.iter().find(|d| d["type"] == "mode").expect("mode");
    assert_eq!(mode["mode"], "HYBRID", "{detect:?}");

    // The HD photo exists only in the cloud; the thumbnail is made from it.
    let image = env.image("hd.png", 700, 700, 42);
    run(0, &["set", "user2411", &image, "--target", "m365"]);
    let out = run(0, &["--json", "use-existing-hd", "user2411"]);
    let change: Value = serde_json::from_str(out.lines().next().unwrap_or("{}")).expect("json");
    assert_eq!(change["target"], "ad", "{out}");
    assert!(
        matches!(change["status"].as_str(), Some("done" | "unchanged")),
        "{out}"
    );
    assert_eq!(change["size"], 96, "{out}");
    let thumb = env.path("thumb.jpg");
    run(
        0,
        &[
            "get",
            "user2411",
            "--target",
            "ad",
            "--out",
            &thumb.to_string_lossy(),
        ],
    );
    assert_eq!(jpeg_size(&thumb), (96, 96));

    // A user with no HD photo in the cloud: one sentence, exit 2.
    let (code, _, stderr) = env.output(&["use-existing-hd", "user2412"], &with_ad);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("was not found in m365"), "{stderr}");
}

#[test]
fn login_with_a_device_code_then_use_the_saved_sign_in() {
    let mut knobs = Knobs::default();
    knobs.device_code_interval = std::time::Duration::ZERO;
    let emu = Emulator::start(knobs);
    let section = format!(
        "[m365]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nsign_in = \"device-code\"\ntoken_file = \"m365-token.json\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\n",
        emu.emulator.tenant_id(),
        emu.emulator.client_id(),
        emu.emulator.graph_url(),
        emu.emulator.login_url()
    );
    let env = cli(&section);
    let (code, _, stderr) = env.output(&["users", "--source", "m365"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("userphoto login m365"), "{stderr}");

    let (code, stdout, stderr) = env.output(&["login", "m365"], &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("enter the code EMU"),
        "the admin is told: {stderr}"
    );
    assert!(stdout.contains("signed in"), "{stdout}");
    assert!(env.path("m365-token.json").exists());
    let users = env.json(&["users", "--source", "m365"]);
    assert_eq!(users.iter().filter(|u| u["type"] == "user").count(), 10);

    let (code, _, stderr) = env.output(&["login", "ad"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("only Microsoft 365"), "{stderr}");
}

#[test]
fn import_through_random_429s_and_503s_lands_every_photo_exactly_once() {
    // One request in ten answered 429 (Retry-After: 0), one in twenty 503.
    let emu = Emulator::start(
        Knobs::default()
            .with_users(60)
            .with_faults(0.10, 0.05, std::time::Duration::ZERO)
            .with_seed(2026),
    );
    let env = cli(&emu.section());
    let hr = env.path("hr");
    std::fs::create_dir_all(&hr).expect("mkdir");
    let users = emu.emulator.users();
    for (i, u) in users.iter().enumerate() {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(320, 320, 9000 + i as u32),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(hr.join(format!("{}.jpg", u.mail_nickname)), bytes).expect("photo");
    }
    let state = env.path("state");
    let state_env = [("USERPHOTO_STATE_DIR", state.to_str().expect("utf-8 path"))];
    let (code, stdout, stderr) = env.output(
        &[
            "--json",
            "import",
            "hr",
            "--target",
            "m365",
            "--report",
            "report.json",
        ],
        &state_env,
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .expect("a summary line");
    assert_eq!(summary["summary"]["written"], 60, "{summary}");
    assert_eq!(summary["summary"]["failed"], 0, "{summary}");

    let stats = emu.emulator.stats();
    eprintln!("emulator: {stats:?}");
    assert!(stats.injected_429 > 0, "429s were injected: {stats:?}");
    assert!(stats.injected_503 > 0, "503s were injected: {stats:?}");
    assert_eq!(stats.writes, 60, "{stats:?}");

    // What the engine prepared (the journal's digests) is what the tenant
    // holds, and each user was written exactly once.
    let runs = std::fs::read_dir(state.join("runs")).expect("runs");
    let run = runs.flatten().next().expect("one run").path();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    let prepared: HashMap<String, String> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "done")
        .map(|v| {
            (
                v["user_id"].as_str().unwrap_or_default().to_owned(),
                v["sha256"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(prepared.len(), 60, "{journal}");
    for u in &users {
        assert_eq!(emu.emulator.writes_for(&u.id), 1, "{} written once", u.id);
        let stored = emu.emulator.stored_photo(&u.id).expect("a photo");
        let stored = userphoto_directory::Photo::new(stored).expect("a JPEG");
        assert_eq!(
            Some(stored.digest()),
            prepared.get(&u.id).map(String::as_str),
            "{} holds the photo prepared for it",
            u.id
        );
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs the Samba AD test server, Linux only (docs/TESTING.md)"
)]
fn use_existing_hd_all_fills_ad_from_every_cloud_hd_photo() {
    // user2470…2475 exist in AD and in the cloud (user2471 only by mail:
    // its cloud UPN differs); emu00000/1 are cloud-only.
    let mut knobs = Knobs::default().with_users(2);
    for i in 2470..=2475 {
        let mut u = EmulatedUser::new(
            format!("60000000-0000-4000-8000-00000000{i}"),
            &format!("user{i}"),
        );
        if i == 2471 {
            u = u
                .with_upn("user2471@contoso.onmicrosoft.test")
                .with_mail(Some("user2471@corp.example.test".into()))
                .with_sam(None);
        }
        knobs = knobs.with_user(u);
    }
    let emu = Emulator::start(knobs);
    let (config, password) = hybrid_config(&emu);
    let env = cli(&config);
    let extra = [
        (AD_PASSWORD_VAR, password.as_str()),
        ("USERPHOTO_STATE_DIR", "state"),
    ];
    let run = |code: i32, args: &[&str]| {
        let (got, stdout, stderr) = env.output(args, &extra);
        assert_eq!(got, Some(code), "userphoto {args:?}\n{stdout}\n{stderr}");
        stdout
    };
    let lines = |stdout: String| -> Vec<Value> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };

    // HD photos in the cloud for user2470…2474 (not 2475); AD starts with
    // an old thumbnail for user2470 and none for the others.
    std::fs::create_dir_all(env.path("hr")).expect("mkdir");
    for (i, n) in (2470..=2474).enumerate() {
        env.image(&format!("hr/user{n}.png"), 700, 700, 10 + i as u8);
    }
    run(0, &["import", "hr", "--target", "m365"]);
    for n in 2471..=2475 {
        run(0, &["remove", &format!("user{n}"), "--target", "ad"]);
    }
    let old = env.image("old.png", 700, 700, 99);
    run(0, &["set", "user2470", &old, "--target", "ad"]);

    // Dry run: says what it would do, changes nothing.
    let dry = lines(run(0, &["--json", "use-existing-hd", "--all", "--dry-run"]));
    let summary = dry
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["summary"]["would_write"], 5, "{dry:?}");
    assert_eq!(summary["summary"]["written"], 0, "{dry:?}");
    let state = lines(run(0, &["--json", "get", "user2472", "--target", "ad"]));
    assert_eq!(
        state[0]["state"], "no-photo",
        "the dry run wrote nothing: {state:?}"
    );

    // The run: five thumbnails, user2475 skipped (no HD photo), the
    // cloud-only users unmatched; the old thumbnail backed up.
    let out = run(0, &["use-existing-hd", "--all", "--report", "hd.csv"]);
    assert!(out.contains("use-existing-hd: 5 written"), "{out}");
    let csv = std::fs::read_to_string(env.path("hd.csv")).expect("report");
    assert!(
        csv.starts_with("file,user,user_id,target,outcome,bytes,error,backup"),
        "{csv}"
    );
    let row = |user: &str| {
        csv.lines()
            .find(|l| l.split(',').nth(1) == Some(user))
            .unwrap_or_else(|| panic!("no row for {user}: {csv}"))
            .to_owned()
    };
    assert!(row("user2470").contains(",ad,written,"), "{csv}");
    assert!(
        row("user2471").contains(",ad,written,"),
        "found by mail: {csv}"
    );
    assert!(row("user2475").contains(",skipped,"), "{csv}");
    assert!(row("emu00000").contains(",unmatched,"), "{csv}");
    let backup = row("user2470");
    assert!(
        backup.split(',').nth(7).is_some_and(|b| !b.is_empty()),
        "the old thumbnail was backed up: {backup}"
    );
    let thumb = env.path("thumb.jpg");
    run(
        0,
        &[
            "get",
            "user2473",
            "--target",
            "ad",
            "--out",
            &thumb.to_string_lossy(),
        ],
    );
    assert_eq!(jpeg_size(&thumb), (96, 96));

    // Again: everything is in place, nothing is written.
    let again = lines(run(0, &["--json", "use-existing-hd", "--all"]));
    let summary = again
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["summary"]["written"], 0, "{again:?}");
    assert_eq!(summary["summary"]["unchanged"], 5, "{again:?}");
    assert_eq!(
        again.iter().filter(|v| v["type"] == "item").count(),
        8,
        "one line per cloud user: {again:?}"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs the Samba AD test server, Linux only (docs/TESTING.md)"
)]
fn hybrid_set_and_import_find_cloud_users_by_mail_and_logon_name() {
    // In AD: user2476…2479 (UPN and mail user24xx@corp.example.test). In
    // the cloud: user2476 only by mail (its UPN and alias differ), user2477
    // only by onPremisesSamAccountName, user2478 by UPN; user2479 is not
    // in the cloud at all.
    let id = |n: u32| format!("70000000-0000-4000-8000-00000000{n}");
    let emu = Emulator::start(
        Knobs::default()
            .with_users(2)
            .with_user(
                EmulatedUser::new(id(2476), "cloud2476")
                    .with_upn("cloud2476@contoso.onmicrosoft.test")
                    .with_mail(Some("user2476@corp.example.test".into()))
                    .with_sam(None),
            )
            .with_user(
                EmulatedUser::new(id(2477), "cloud2477")
                    .with_mail(None)
                    .with_sam(Some("user2477".into())),
            )
            .with_user(
                EmulatedUser::new(id(2478), "cloud2478")
                    .with_upn("user2478@corp.example.test")
                    .with_mail(None)
                    .with_sam(None),
            ),
    );
    let (config, password) = hybrid_config(&emu);
    let env = cli(&config);
    let extra = [
        (AD_PASSWORD_VAR, password.as_str()),
        ("USERPHOTO_STATE_DIR", "state"),
    ];
    let run = |code: i32, args: &[&str]| {
        let (got, stdout, stderr) = env.output(args, &extra);
        assert_eq!(got, Some(code), "userphoto {args:?}\n{stdout}\n{stderr}");
        stdout
    };
    let lines = |stdout: String| -> Vec<Value> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };

    for n in 2476..=2479 {
        run(0, &["remove", &format!("user{n}"), "--target", "ad"]);
    }

    // set: named as in AD, written to both; the cloud user found by mail.
    let image = env.image("big.png", 700, 700, 3);
    let set = lines(run(0, &["--json", "set", "user2476", &image]));
    let by_target = |rows: &[Value], t: &str| {
        rows.iter()
            .find(|r| r["target"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no {t} row: {rows:?}"))
    };
    assert_eq!(by_target(&set, "m365")["status"], "done", "{set:?}");
    assert!(
        matches!(
            by_target(&set, "ad")["status"].as_str(),
            Some("done" | "unchanged")
        ),
        "{set:?}"
    );
    assert_eq!(emu.emulator.writes_for(&id(2476)), 1);
    // A user missing in the cloud: m365 fails with a sentence, ad is still
    // written, exit 1.
    let (code, stdout, stderr) = env.output(&["set", "user2479", &image], &extra);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("m365") && stderr.contains("upn, then mail"),
        "{stderr}"
    );
    assert!(stdout.contains("ad: user2479"), "{stdout}");

    // import: every file named as in AD.
    std::fs::create_dir_all(env.path("hr")).expect("mkdir");
    for (i, n) in (2476..=2479).enumerate() {
        env.image(&format!("hr/user{n}.png"), 700, 700, 40 + i as u8);
    }
    let plan = lines(run(0, &["--json", "import", "hr", "--dry-run"]));
    let step = |user: &str, target: &str| {
        plan.iter()
            .find(|r| r["type"] == "plan" && r["user"] == user && r["target"] == target)
            .cloned()
            .unwrap_or_else(|| panic!("no plan row for {user} {target}: {plan:?}"))
    };
    for n in ["user2476", "user2477", "user2478"] {
        assert_eq!(step(n, "m365")["action"], "set", "{n}: {plan:?}");
        assert_eq!(step(n, "ad")["action"], "set", "{n}: {plan:?}");
    }
    let missing = step("user2479", "m365");
    assert_eq!(missing["action"], "skipped", "{missing}");
    assert!(
        missing["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no such user")),
        "{missing}"
    );
    let out = lines(run(0, &["--json", "import", "hr"]));
    let summary = out
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("summary");
    assert_eq!(summary["summary"]["failed"], 0, "{out:?}");
    assert_eq!(summary["summary"]["skipped"], 1, "{out:?}");
    for n in [2476, 2477, 2478] {
        assert!(
            emu.emulator.stored_photo(&id(n)).is_some(),
            "user{n} in the cloud"
        );
    }
    assert_eq!(emu.emulator.writes_for(&id(2477)), 1);
    assert_eq!(emu.emulator.writes_for(&id(2478)), 1);
}

/// `detect` shows the tenant's photo update setting, says plainly when
/// the permission to read it is missing, and an import into a tenant whose
/// photos are managed on premises sends no upload and says why.
#[test]
fn detect_shows_the_photo_update_setting_and_an_on_premises_tenant_gets_no_upload() {
    let target_of = |out: Vec<Value>| {
        out.into_iter()
            .find(|d| d["type"] == "target" && d["target"] == "m365")
            .expect("an m365 line")
    };
    let emu = Emulator::start(
        Knobs::default()
            .with_users(2)
            .with_photo_update_source("onPremises"),
    );
    let env = cli(&emu.section());
    let m365 = target_of(env.json(&["detect"]));
    assert_eq!(m365["photo_source"], "onPremises", "{m365}");
    assert!(
        m365["detail"]
            .as_str()
            .is_some_and(|d| d.contains("managed on premises")),
        "{m365}"
    );

    std::fs::create_dir_all(env.path("hr")).expect("mkdir");
    let image = env.image("hr/emu00001.png", 700, 700, 3);
    assert!(Path::new(&image).is_file());
    let rows = env.json(&["import", &env.path("hr").to_string_lossy(), "--dry-run"]);
    let row = rows
        .iter()
        .find(|r| r["target"] == "m365")
        .expect("a plan row for m365");
    assert_eq!(row["action"], "skipped", "{row}");
    assert_eq!(row["code"], "cloud-photos-managed-on-premises", "{row}");
    env.json(&["import", &env.path("hr").to_string_lossy()]);
    let stats = emu.emulator.stats();
    assert_eq!(
        (stats.writes, stats.refused_on_premises),
        (0, 0),
        "no PUT sent"
    );

    // Without PeopleSettings.Read.All: said plainly, taken as cloud.
    let mut knobs = Knobs::default().with_users(1);
    knobs.people_settings_denied = true;
    let emu = Emulator::start(knobs);
    let env = cli(&emu.section());
    let m365 = target_of(env.json(&["detect"]));
    assert_eq!(m365["photo_source"], Value::Null);
    assert!(
        m365["detail"]
            .as_str()
            .is_some_and(|d| d.contains("PeopleSettings.Read.All") && d.contains("taken as cloud")),
        "{m365}"
    );
}

/// `[[sync]]` with another directory as the source: the cloud's photos
/// into a folder target, matched by UPN; a second run writes nothing.
#[test]
fn a_sync_job_takes_the_cloud_photos_into_another_target() {
    let emu = Emulator::start(Knobs::default().with_users(3));
    let folder = "[folder]\npath = \"dir\"\n\n[[sync]]\nname = \"from-cloud\"\nsource = \"m365\"\n";
    let env = cli(&format!("{}\n{folder}", emu.section()));
    std::fs::create_dir_all(env.path("dir")).expect("mkdir");
    std::fs::write(
        env.path("dir/users.csv"),
        "id,sam_account_name,upn\nf0,ann,emu00000@contoso.test\nf1,ben,emu00001@contoso.test\nf2,cat,someone.else@contoso.test\n",
    )
    .expect("users");
    // Cloud photos for emu00000 and emu00002 (who has no folder user).
    for (user, seed) in [("emu00000", 1), ("emu00002", 2)] {
        let image = env.image(&format!("{user}.png"), 700, 700, seed);
        env.run(0, &["set", user, &image, "--target", "m365"]);
    }
    let writes = emu.emulator.stats().writes;

    let first: Value =
        serde_json::from_str(env.run(0, &["--json", "sync"]).trim()).expect("one JSON line");
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(
        (&first["summary"]["written"], &first["summary"]["unmatched"]),
        (&Value::from(1), &Value::from(1)),
        "ann written; emu00002 matches nobody: {first}"
    );
    assert!(env.path("dir/photos/f0.jpg").is_file());
    assert_eq!(
        emu.emulator.stats().writes,
        writes,
        "the source is only read"
    );

    let again: Value =
        serde_json::from_str(env.run(0, &["--json", "sync"]).trim()).expect("one JSON line");
    assert_eq!(
        (&again["summary"]["written"], &again["summary"]["unchanged"]),
        (&Value::from(0), &Value::from(1)),
        "{again}"
    );
}
