//! One engine for every front end: the web UI's folder plan (through its
//! HTTP API, in-process) and `userphoto import --dry-run --json` (the built
//! binary) over the same folder and the same target give the same rows,
//! statuses and reason codes — damaged files, photos without a face,
//! unknown names and two files for one user included.

#[path = "../../webui/tests/common/mod.rs"]
mod web;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use serde_json::{json, Value};
use userphoto_directory::config::{Config, TargetKind};

/// A folder target with three users, and a folder of HR photos.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let setup = Setup {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(setup.path("dir")).expect("mkdir");
        std::fs::create_dir_all(setup.path("hr")).expect("mkdir");
        std::fs::write(
            setup.path("dir/users.csv"),
            "id,sam_account_name,display_name\nu1,John.Smith,John Smith\nu2,jane,Jane Doe\nu3,Bob,Bob Byte\n",
        )
        .expect("users.csv");
        std::fs::write(
            setup.path("userphoto.toml"),
            "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n",
        )
        .expect("config");
        let noise = |w, h, seed| {
            userphoto_testkit::fixtures::jpeg(
                &userphoto_testkit::fixtures::noise(w, h, seed),
                &userphoto_testkit::fixtures::JpegOptions::default(),
            )
        };
        let hr = setup.path("hr");
        // A good photo (noise has no face: a quality warning, not an error).
        std::fs::write(hr.join("John.Smith.jpg"), noise(300, 300, 1)).expect("photo");
        // Two files for one user: one is chosen, the other a duplicate.
        std::fs::write(hr.join("jane.jpg"), noise(240, 240, 2)).expect("photo");
        std::fs::write(hr.join("jane 2019.jpg"), noise(200, 200, 3)).expect("photo");
        // A damaged file of a real user: its header reads, its data does not.
        let damaged = userphoto_testkit::fixtures::truncated(&noise(400, 400, 4), 0.4);
        std::fs::write(hr.join("Bob.jpg"), damaged).expect("photo");
        // A name nobody has, and a file that is not an image.
        std::fs::write(hr.join("Nobody.Here.jpg"), noise(200, 200, 5)).expect("photo");
        std::fs::write(hr.join("notes.txt"), "not a photo").expect("notes");
        setup
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `userphoto --json import hr --dry-run`: the plan rows.
    fn cli_rows(&self) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(["--json", "import", "hr", "--dry-run"])
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env("USERPHOTO_STATE_DIR", self.path("state"))
            .stdin(Stdio::null())
            .output()
            .expect("run userphoto");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .filter(|l| l["type"] == "plan")
            .collect()
    }
}

/// What both front ends must agree on, per row.
fn essence(rows: &[Value], folder: &Path) -> BTreeSet<String> {
    rows.iter()
        .map(|r| {
            let mut checks: Vec<String> = r["checks"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            checks.sort();
            format!(
                "{} | {} | {} | {} | {} | {}",
                r["file"].as_str().unwrap_or_default(),
                r["target"],
                r["user_id"],
                r["action"].as_str().unwrap_or_default(),
                r["code"],
                checks.join(",")
            )
            .replace(&folder.display().to_string(), "<hr>")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_plan_and_the_dry_run_agree_row_for_row() {
    let setup = Setup::new();
    let cli = setup.cli_rows();

    let config = Config::load(&setup.path("userphoto.toml")).expect("config");
    let target = config
        .open(TargetKind::Folder)
        .await
        .expect("folder target");
    let ops = userphoto_bulk::ops::Ops::from_config(&config).expect("ops");
    let app = web::TestApp::builder()
        .with_targets(vec![target], ops)
        .with_state_dir(setup.path("web-state"))
        .build()
        .await
        .sign_in()
        .await;
    let folder = setup.path("hr");
    let (status, plan) = app
        .post_json("/api/imports", json!({"folder": folder}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let web = plan["rows"].as_array().cloned().expect("rows");

    let (cli_rows, web_rows) = (essence(&cli, &folder), essence(&web, &folder));
    assert_eq!(cli_rows, web_rows, "CLI:\n{cli:#?}\nweb:\n{web:#?}");

    // And what they agree on is right: the damaged file is an error before
    // anyone confirms, quality findings are shown, the rest as expected.
    let row = |file: &str| {
        web.iter()
            .find(|r| r["file"] == file)
            .unwrap_or_else(|| panic!("{file} in {web:#?}"))
    };
    assert_eq!(row("Bob.jpg")["action"], "error", "{web:#?}");
    assert_eq!(row("Bob.jpg")["code"], "corrupt", "{web:#?}");
    assert_eq!(row("Nobody.Here.jpg")["action"], "unmatched");
    assert_eq!(row("Nobody.Here.jpg")["code"], "no-such-user");
    assert_eq!(row("jane 2019.jpg")["action"], "duplicate");
    assert_eq!(row("jane 2019.jpg")["code"], "also-named");
    assert_eq!(row("notes.txt")["code"], "not-an-image");
    assert_eq!(row("John.Smith.jpg")["action"], "set");
    assert!(
        row("John.Smith.jpg")["checks"]
            .as_array()
            .is_some_and(|c| c.iter().any(|v| v == "no_face")),
        "{web:#?}"
    );
    assert_eq!(plan["counts"]["error"], 1, "{plan}");
    // Each front end in its own words: the page names no flag.
    for r in &web {
        assert!(!r["reason"].to_string().contains("--"), "{r}");
    }
}
