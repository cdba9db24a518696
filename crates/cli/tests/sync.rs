//! `userphoto sync`, run as the built binary against a `folder` target:
//! a `[[sync]]` job run twice (the second writes nothing and says so in
//! one line and in `--json`), its report and audit, a job that is already
//! running (its lock held), an unknown job name, a bad `[[sync]]` section,
//! and the contrib/ timer files (systemd-analyze verify where installed,
//! the Task Scheduler XML parsed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

const CONFIG: &str = "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n\n[[sync]]\nname = \"hr-photos\"\nsource = \"hr\"\ntargets = [\"folder\"]\nreport = \"reports/hr-photos.csv\"\n";

impl Env {
    fn new(config: &str) -> Self {
        let env = Env {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(env.path("dir")).expect("mkdir");
        std::fs::create_dir_all(env.path("hr")).expect("mkdir");
        std::fs::write(
            env.path("dir/users.csv"),
            "id,sam_account_name,display_name\nu1,John.Smith,John Smith\nu2,jane,Jane Doe\nu3,bob,Bob\n",
        )
        .expect("users.csv");
        std::fs::write(env.path("userphoto.toml"), config).expect("config");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn photo(&self, name: &str, seed: u32) {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(400, 400, seed),
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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_job_runs_twice_and_the_second_run_writes_nothing() {
    let env = Env::new(CONFIG);
    env.photo("John.Smith.jpg", 1);
    env.photo("jane.jpg", 2);
    env.photo("nobody.jpg", 3);

    let first = env.run(&["sync"]);
    let (stdout, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line per job: {stdout}");
    assert!(
        lines[0].starts_with("sync hr-photos: 2 written, 0 unchanged, 0 skipped, 1 unmatched"),
        "{stdout}"
    );
    let report = std::fs::read_to_string(env.path("reports/hr-photos.csv")).expect("report");
    assert!(report.contains("John.Smith.jpg"), "{report}");
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).expect("audit");
    assert_eq!(audit.lines().count(), 2, "{audit}");
    let state = std::fs::read_to_string(env.path("state/sync-state.jsonl")).expect("sync state");
    assert_eq!(state.lines().count(), 2, "{state}");

    let second = env.run(&["--json", "sync", "hr-photos"]);
    let (stdout, stderr) = text(&second);
    assert_eq!(second.status.code(), Some(0), "{stdout}\n{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(line["type"], "sync");
    assert_eq!(line["job"], "hr-photos");
    assert_eq!(line["status"], "ok");
    assert_eq!(line["summary"]["written"], 0, "{line}");
    assert_eq!(line["summary"]["unchanged"], 2, "{line}");
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).expect("audit");
    assert_eq!(audit.lines().count(), 2, "nothing written the second time");

    // A changed source file is written again.
    env.photo("jane.jpg", 22);
    let third = env.run(&["--json", "sync"]);
    let line: Value = serde_json::from_str(text(&third).0.trim()).expect("json");
    assert_eq!(
        (&line["summary"]["written"], &line["summary"]["unchanged"]),
        (&Value::from(1), &Value::from(1)),
        "{line}"
    );
}

#[test]
fn a_job_already_running_is_not_run_again() {
    let env = Env::new(CONFIG);
    env.photo("jane.jpg", 2);
    let lock_dir = env.path("state/sync");
    std::fs::create_dir_all(&lock_dir).expect("mkdir");
    let held = std::fs::File::create(lock_dir.join("hr-photos.lock")).expect("lock file");
    held.try_lock().expect("the test holds the job's lock");

    let out = env.run(&["sync"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("is already running"), "{stderr}");
    assert!(!env.path("audit.jsonl").exists(), "nothing was written");

    let out = env.run(&["--json", "sync"]);
    let line: Value = serde_json::from_str(text(&out).0.trim()).expect("json");
    assert_eq!(line["status"], "busy", "{line}");
    drop(held);
    assert_eq!(env.run(&["sync"]).status.code(), Some(0));
}

#[test]
fn unknown_jobs_and_bad_sections_are_explained() {
    let env = Env::new(CONFIG);
    let out = env.run(&["sync", "payroll"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("no [[sync]] job named \"payroll\"") && stderr.contains("hr-photos"),
        "{stderr}"
    );

    let env = Env::new(&format!("{CONFIG}removed = \"delete\"\n"));
    let out = env.run(&["sync"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("removed = \"delete\" is not supported"),
        "{stderr}"
    );

    let env = Env::new("[folder]\npath = \"dir\"\n");
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("has no [[sync]] job"),
        "{:?}",
        text(&out)
    );
}

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(rel)
}

#[test]
#[cfg_attr(
    windows,
    ignore = "systemd-analyze checks the systemd units: Linux only"
)]
fn the_contrib_timer_files_are_valid() {
    let service = contrib("systemd/userphoto-sync.service");
    let timer = contrib("systemd/userphoto-sync.timer");
    for f in [&service, &timer] {
        assert!(f.is_file(), "{} is missing", f.display());
    }
    // systemd-analyze verify checks the units as systemd would load them;
    // ExecStart must name an existing binary, so the test's copy points
    // at the one just built.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(&service).expect("service");
    let bin = env!("CARGO_BIN_EXE_userphoto");
    std::fs::write(
        dir.path().join("userphoto-sync.service"),
        text.replace("/usr/local/bin/userphoto", bin),
    )
    .expect("copy");
    std::fs::copy(&timer, dir.path().join("userphoto-sync.timer")).expect("copy");
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("userphoto-sync.timer"))
        .arg(dir.path().join("userphoto-sync.service"))
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Complaints about the machine's own units are not ours.
            let ours: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("userphoto-sync"))
                .collect();
            assert!(out.status.success() && ours.is_empty(), "{stderr}");
        }
        Err(e) => panic!(
            "systemd-analyze is needed to check contrib/systemd ({e}); install systemd (apt-get install systemd), see docs/TESTING.md"
        ),
    }

    // The cron line names the command and a schedule of five fields.
    let cron = std::fs::read_to_string(contrib("cron/userphoto-sync")).expect("cron");
    let line = cron
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains('='))
        .expect("a cron line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields.len() > 6, "{line}");
    assert!(
        line.contains("userphoto") && line.contains(" sync"),
        "{line}"
    );

    // The Task Scheduler XML is well-formed UTF-16 or UTF-8 XML with an
    // Exec action running `userphoto sync`.
    let xml = std::fs::read(contrib("windows/userphoto-sync.xml")).expect("xml");
    let xml = String::from_utf8(xml).expect("UTF-8");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let command = doc
        .descendants()
        .find(|n| n.has_tag_name("Command"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    let arguments = doc
        .descendants()
        .find(|n| n.has_tag_name("Arguments"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(command.ends_with("userphoto.exe"), "{command}");
    assert!(arguments.starts_with("sync"), "{arguments}");
    assert!(
        doc.descendants().any(|n| n.has_tag_name("CalendarTrigger")),
        "a daily trigger"
    );
}

#[test]
fn a_csv_source_of_paths_syncs_and_its_bad_rows_are_reported() {
    let config = CONFIG.replace("source = \"hr\"", "source = \"hr.csv\"");
    let env = Env::new(&config);
    env.photo("a.jpg", 1);
    env.photo("b.jpg", 2);
    std::fs::write(
        env.path("hr.csv"),
        "user,photo\nJohn.Smith,hr/a.jpg\njane,hr/b.jpg\nbob,hr/gone.jpg\nbob2,http://127.0.0.1:9/x.jpg\n",
    )
    .expect("csv");
    let first = env.run(&["--json", "sync"]);
    let (stdout, stderr) = text(&first);
    assert_eq!(
        first.status.code(),
        Some(1),
        "two bad rows\n{stdout}\n{stderr}"
    );
    let line: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(
        (&line["summary"]["written"], &line["summary"]["failed"]),
        (&Value::from(2), &Value::from(2)),
        "{line}"
    );
    let report = std::fs::read_to_string(env.path("reports/hr-photos.csv")).expect("report");
    assert!(report.contains("only https:// URLs"), "{report}");
    assert!(report.contains("gone.jpg"), "{report}");

    // Fixed rows; nothing else changed: nothing written again.
    std::fs::write(
        env.path("hr.csv"),
        "user,photo\nJohn.Smith,hr/a.jpg\njane,hr/b.jpg\n",
    )
    .expect("csv");
    let again = env.run(&["--json", "sync"]);
    let (stdout, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(0), "{stdout}\n{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(
        (&line["summary"]["written"], &line["summary"]["unchanged"]),
        (&Value::from(0), &Value::from(2)),
        "{line}"
    );
}
