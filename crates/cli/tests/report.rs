//! `userphoto report`, run as the built binary against a `folder` target
//! after a `[[sync]]` run: exactly the users without a photo are listed
//! (table, `--json`, `--csv`), each written photo says when and from which
//! file, `--source` lists the files matching nobody, and `--html` writes a
//! self-contained page with the photos as thumbnails.

use std::path::PathBuf;
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
        let mut users = String::from("id,sam_account_name,display_name\n");
        for i in 1..=30 {
            users.push_str(&format!("u{i},user{i:02},User {i}\n"));
        }
        std::fs::write(env.path("dir/users.csv"), users).expect("users.csv");
        std::fs::write(
            env.path("userphoto.toml"),
            "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n\n[[sync]]\nname = \"hr\"\nsource = \"hr\"\n",
        )
        .expect("config");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
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

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

#[test]
fn the_report_lists_exactly_the_users_without_photos() {
    let env = Env::new();
    // Photos for every user whose number is divisible by 3, and a stray.
    for i in (3..=30).step_by(3) {
        let bytes = userphoto_testkit::fixtures::jpeg(
            &userphoto_testkit::fixtures::noise(300, 300, i),
            &userphoto_testkit::fixtures::JpegOptions::default(),
        );
        std::fs::write(env.path("hr").join(format!("user{i:02}.jpg")), &bytes).expect("photo");
    }
    std::fs::write(env.path("hr/nobody.jpg"), b"not even a photo").expect("stray");
    env.ok(&["sync"]);

    let rows: Vec<Value> = env
        .ok(&["--json", "report", "--source", "hr"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let mut without: Vec<String> = rows
        .iter()
        .filter(|r| r["type"] == "row")
        .filter(|r| {
            r["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["code"] == "no-photo"))
        })
        .map(|r| r["user"].as_str().unwrap_or_default().to_owned())
        .collect();
    without.sort();
    let mut expected: Vec<String> = (1..=30)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("user{i:02}"))
        .collect();
    expected.sort();
    assert_eq!(without, expected);
    let u03 = rows
        .iter()
        .find(|r| r["type"] == "row" && r["user"] == "user03")
        .expect("user03");
    assert_eq!(u03["last_file"], "user03.jpg", "{u03}");
    assert!(u03["last_written"].as_i64().is_some(), "{u03}");
    assert!(
        rows.iter()
            .any(|r| r["type"] == "unmatched-file" && r["file"] == "nobody.jpg"),
        "{rows:?}"
    );
    let summary = rows
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("summary");
    assert_eq!(
        summary["targets"][0]["coverage"]["no_photo"], 20,
        "{summary}"
    );
    assert_eq!(
        summary["targets"][0]["coverage"]["written_by_userphoto"],
        10
    );

    // The table: one line per user without a photo, then the totals.
    let table = env.ok(&["report"]);
    assert_eq!(
        table.lines().filter(|l| l.contains("no photo")).count(),
        20,
        "{table}"
    );
    assert!(
        table.contains("folder: 30 users, 10 with a photo, 20 without"),
        "{table}"
    );

    let csv = env.ok(&["report", "--csv"]);
    assert_eq!(csv.lines().count(), 31, "a header and every user");

    env.ok(&["report", "--html", "coverage.html"]);
    let page = std::fs::read_to_string(env.path("coverage.html")).expect("page");
    assert_eq!(
        page.matches("data:image/jpeg;base64,").count(),
        10,
        "a thumbnail per photo"
    );
    assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"));
    assert!(page.trim_end().ends_with("</html>"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.path("coverage.html"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the page holds staff photos");
    }
}
