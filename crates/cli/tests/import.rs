//! `userphoto import`, run as the built binary against a `folder` target:
//! the dry-run table and JSON lines, the run, the CSV/JSON report, the exit
//! codes, a second run that writes nothing, `--confirm` without a terminal,
//! `--resume` with nothing to resume, and a mapping file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(env.path("dir")).expect("mkdir");
        std::fs::create_dir_all(env.path("hr")).expect("mkdir");
        std::fs::write(
            env.path("dir/users.csv"),
            "id,sam_account_name,employee_id,display_name\n\
             u1,John.Smith,100001,John Smith\n\
             u2,jane,100002,Jane Doe\n\
             u3,Jos\u{e9}.M\u{fc}ller,100003,Jos\u{e9} M\u{fc}ller\n",
        )
        .expect("users.csv");
        std::fs::write(
            env.path("userphoto.toml"),
            "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n",
        )
        .expect("config");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn photo(&self, name: &str, w: u32, h: u32, seed: u32) {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(w, h, seed),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(self.path("hr").join(name), bytes).expect("photo");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .env("USERPHOTO_STATE_DIR", self.path("state"))
            .stdin(Stdio::null())
            .output()
            .expect("run userphoto")
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn photos(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("dir/photos")).map_or(0, |d| d.count())
}

#[test]
fn dry_run_then_import_then_nothing_to_do() {
    let env = Env::new();
    env.photo("John.Smith 648x648.jpg", 300, 300, 1);
    env.photo("jane.jpg", 200, 150, 2);
    env.photo("Jose\u{301}.Mu\u{308}ller.jpg", 200, 200, 3);
    env.photo("John.Smith648x648.jpg", 200, 200, 4);

    let out = env.run(&["import", "hr", "--dry-run"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("FILE"), "{stdout}");
    assert!(stdout.contains("John.Smith648x648.jpg") && stdout.contains("unmatched"));
    assert!(stdout.contains("3 to write"), "{stdout}");
    assert_eq!(photos(env.dir.path()), 0, "a dry run writes nothing");

    let out = env.run(&["--json", "import", "hr", "--dry-run"]);
    let lines = json_lines(&out);
    let set: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "plan" && l["action"] == "set")
        .collect();
    assert_eq!(set.len(), 3);
    assert!(
        set.iter().any(|l| l["user_id"] == "u3"),
        "NFD matched: {lines:#?}"
    );
    assert!(lines.iter().any(|l| l["type"] == "plan-summary"));

    let out = env.run(&["import", "hr", "--report", "report.csv"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 written"), "{stdout}");
    assert_eq!(photos(env.dir.path()), 3);
    let report = std::fs::read_to_string(env.path("report.csv")).expect("report");
    assert!(report.starts_with("file,user,user_id,target,outcome,bytes,error,backup\n"));
    assert_eq!(report.matches(",written,").count(), 3, "{report}");
    assert_eq!(report.matches(",unmatched,").count(), 1, "{report}");

    let out = env.run(&["--json", "import", "hr", "--report", "again.json"]);
    let lines = json_lines(&out);
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("summary line");
    assert_eq!(summary["summary"]["written"], 0);
    assert_eq!(summary["summary"]["unchanged"], 3);
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("again.json")).expect("json"))
            .expect("report is JSON");
    assert_eq!(again["summary"]["unchanged"], 3);
}

#[test]
fn failures_exit_1_after_the_rest_is_done() {
    let env = Env::new();
    env.photo("jane.jpg", 200, 150, 2);
    std::fs::write(env.path("hr/John.Smith.jpg"), b"\xFF\xD8\xFFbroken").expect("write");
    let out = env.run(&["import", "hr"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("John.Smith.jpg"), "{stderr}");
    assert!(
        stdout.contains("1 written") && stdout.contains("1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("run the same command again"), "{stdout}");
    assert_eq!(photos(env.dir.path()), 1);

    // Fixed, then run again: only the failed file is written.
    env.photo("John.Smith.jpg", 200, 150, 3);
    let out = env.run(&["import", "hr"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 written, 1 unchanged"), "{stdout}");
    assert_eq!(photos(env.dir.path()), 2);
}

#[test]
fn confirm_needs_a_terminal_and_resume_needs_an_interrupted_run() {
    let env = Env::new();
    env.photo("jane.jpg", 200, 150, 2);
    let out = env.run(&["import", "hr", "--confirm"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--confirm") && stderr.contains("terminal"),
        "{stderr}"
    );
    assert_eq!(photos(env.dir.path()), 0);
    let out = env.run(&["import", "hr", "--resume"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("nothing") || stderr.contains("no interrupted"),
        "{stderr}"
    );
}

#[test]
fn a_mapping_file_and_another_key() {
    let env = Env::new();
    env.photo("IMG_0001.jpg", 200, 200, 1);
    env.photo("100002.jpg", 200, 200, 2);
    std::fs::write(env.path("map.csv"), "file,user\nIMG_0001.jpg,100001\n").expect("map");
    let out = env.run(&[
        "--json",
        "import",
        "hr",
        "--match-by",
        "employee-id",
        "--mapping",
        "map.csv",
        "--dry-run",
    ]);
    let lines = json_lines(&out);
    let users: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "plan" && l["action"] == "set")
        .map(|l| l["user_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(users, vec!["u2", "u1"], "{lines:#?}");
    let out = env.run(&["import", "hr", "--mapping", "missing.csv"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("missing.csv"), "{stderr}");
}

#[test]
fn dry_run_shows_quality_warnings_and_strict_refuses_them() {
    let env = Env::new();
    // Noise: no face (asked for with --crop face). Solid dark grey: very
    // dark and very blurry. A 200×200 source: smaller than the folder's
    // 648×648.
    env.photo("John.Smith.jpg", 400, 400, 11);
    let dark = userphoto_testkit::fixtures::jpeg(
        &userphoto_testkit::fixtures::solid(300, 300, [8, 8, 8]),
        &userphoto_testkit::fixtures::JpegOptions::default(),
    );
    std::fs::write(env.path("hr/jane.jpg"), dark).expect("photo");
    env.photo("Jos\u{e9}.M\u{fc}ller.jpg", 200, 200, 12);

    let out = env.run(&["--json", "import", "hr", "--dry-run", "--crop", "face"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines = json_lines(&out);
    let row = |user: &str| {
        lines
            .iter()
            .find(|l| l["type"] == "plan" && l["user_id"] == user)
            .unwrap_or_else(|| panic!("no row for {user}: {lines:#?}"))
            .clone()
    };
    let codes = |r: &Value| -> Vec<String> {
        r["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let john = row("u1");
    assert_eq!(john["action"], "set", "{john}");
    assert!(codes(&john).contains(&"no_face".to_owned()), "{john}");
    assert!(
        john["warnings"][0].as_str().is_some_and(|w| !w.is_empty()),
        "a sentence for each finding: {john}"
    );
    let jane = row("u2");
    assert!(codes(&jane).contains(&"too_dark".to_owned()), "{jane}");
    assert!(codes(&jane).contains(&"too_blurry".to_owned()), "{jane}");
    let jose = row("u3");
    assert!(
        codes(&jose).contains(&"source_too_small".to_owned()),
        "{jose}"
    );

    // The same in the table; centre crop asks for no face.
    let out = env.run(&["import", "hr", "--dry-run"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("warning: "), "{stdout}");
    assert!(stdout.contains("the photo is very dark"), "{stdout}");
    assert!(
        !stdout.contains("--upscale"),
        "import has no --upscale: {stdout}"
    );
    assert!(stdout.contains("with quality warnings"), "{stdout}");
    let out = env.run(&["--json", "import", "hr", "--dry-run", "--crop", "centre"]);
    let john = json_lines(&out)
        .into_iter()
        .find(|l| l["type"] == "plan" && l["user_id"] == "u1")
        .expect("john");
    assert!(!codes(&john).contains(&"no_face".to_owned()), "{john}");

    // --strict: the findings are errors, in the plan and in a run.
    let out = env.run(&[
        "--json",
        "import",
        "hr",
        "--dry-run",
        "--crop",
        "face",
        "--strict",
    ]);
    let lines = json_lines(&out);
    let errors = lines
        .iter()
        .filter(|l| l["type"] == "plan" && l["action"] == "error")
        .count();
    assert_eq!(errors, 3, "{lines:#?}");
    let out = env.run(&["import", "hr", "--crop", "face", "--strict"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 failed"), "{stdout}");
    assert_eq!(photos(env.dir.path()), 0, "nothing refused was written");

    // Without --strict they are written, warnings and all.
    let out = env.run(&["import", "hr", "--crop", "face"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(photos(env.dir.path()), 3);
}
