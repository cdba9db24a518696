//! The single-user commands, run as the built binary against a `folder`
//! target in a temporary folder: users, get, set, remove, detect, backup,
//! restore, their `--json` shapes, exit codes and error sentences.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary working folder with a folder directory, a configuration
/// and test images.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// Three users (two share a display name, one has no mailbox), a
    /// `[folder]` target, backups and audit log inside the folder.
    fn new() -> Self {
        Self::with_config("[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n")
    }

    fn with_config(config: &str) -> Self {
        let env = Env {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(env.path("dir")).expect("mkdir");
        std::fs::write(
            env.path("dir/users.csv"),
            "id,sam_account_name,upn,mail,display_name,access\n\
             u1,John.Smith,john.smith@corp.example.com,john@corp.example.com,John Smith,\n\
             u2,jane,jane@corp.example.com,,John Smith,\n\
             u3,nomail,,,No Mail,no-mailbox\n",
        )
        .expect("users.csv");
        std::fs::write(env.path("userphoto.toml"), config).expect("config");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a `w`×`h` PNG named `name` and returns its path.
    fn image(&self, name: &str, w: u32, h: u32, seed: u8) -> PathBuf {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, seed])
        });
        let path = self.path(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .expect("write png");
        path
    }

    /// Runs `userphoto` in the folder (no inherited config variable).
    fn run(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .output()
            .expect("run userphoto");
        Run(output)
    }

    /// The photo files of the folder directory.
    fn photos(&self) -> Vec<String> {
        files(&self.path("dir/photos"))
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Every stdout line as JSON.
    fn json(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

#[test]
fn users_lists_as_a_table_and_as_json_lines() {
    let env = Env::new();
    let run = env.run(&["users"]).expect(0);
    let out = run.stdout();
    assert!(
        out.lines()
            .next()
            .expect("header")
            .starts_with("sam_account_name"),
        "{out}"
    );
    assert!(
        out.contains("John.Smith") && out.contains("jane") && out.contains("nomail"),
        "{out}"
    );

    let lines = env
        .run(&["--json", "users", "--search", "JOHN."])
        .expect(0)
        .json();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let user = &lines[0];
    assert_eq!(user["type"], "user");
    assert_eq!(user["target"], "folder");
    assert_eq!(user["name"], "John.Smith");
    assert_eq!(user["id"], "u1");
    assert_eq!(user["upn"], "john.smith@corp.example.com");
    for key in [
        "sam_account_name",
        "mail",
        "alias",
        "employee_id",
        "display_name",
        "enabled",
    ] {
        assert!(user.get(key).is_some(), "{key} missing from {user}");
    }
    assert_eq!(
        lines[1],
        serde_json::json!({"type": "summary", "target": "folder", "users": 1})
    );
}

#[test]
fn set_then_get_round_trips_the_photo() {
    let env = Env::new();
    let img = env.image("john.png", 800, 600, 1);
    let set = env
        .run(&["--json", "set", "john.smith", img.to_str().expect("utf8")])
        .expect(0)
        .json();
    assert_eq!(set.len(), 1, "{set:?}");
    let line = &set[0];
    assert_eq!(line["type"], "set");
    assert_eq!(line["status"], "done");
    assert_eq!(line["target"], "folder");
    assert_eq!(line["user"], "John.Smith");
    assert_eq!(line["user_id"], "u1");
    assert_eq!(line["size"], 600);
    assert!(line["old_sha256"].is_null() && line["backup"].is_null());
    let sha = line["new_sha256"].as_str().expect("sha").to_owned();

    let get = env
        .run(&[
            "--json",
            "get",
            "JOHN.SMITH",
            "--target",
            "folder",
            "--out",
            "out.jpg",
        ])
        .expect(0)
        .json();
    let photo = &get[0];
    assert_eq!(photo["type"], "photo");
    assert_eq!(photo["state"], "photo");
    assert_eq!(photo["sha256"], sha.as_str());
    assert_eq!(photo["content_type"], "image/jpeg");
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(600), Some(600))
    );
    let written = std::fs::read(env.path("out.jpg")).expect("out.jpg");
    assert_eq!(photo["bytes"].as_u64(), Some(written.len() as u64));
    assert!(written.starts_with(&[0xFF, 0xD8, 0xFF]));

    // Text output says the same for people; --size resizes the copy.
    let text = env
        .run(&[
            "get",
            "john.smith",
            "-t",
            "folder",
            "--size",
            "64",
            "--out",
            "small.jpg",
        ])
        .expect(0)
        .stdout();
    assert!(
        text.contains("folder: John.Smith: photo, JPEG 64×64"),
        "{text}"
    );
    assert!(text.contains("written to small.jpg"), "{text}");

    // The audit log has the change, with who did it and the digests.
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).expect("audit");
    let entry: Value = serde_json::from_str(audit.lines().next().expect("line")).expect("json");
    assert_eq!(entry["action"], "set");
    assert_eq!(entry["new_sha256"], sha.as_str());
    assert!(entry["identity"]
        .as_str()
        .expect("identity")
        .starts_with("local user"));
}

#[test]
fn remove_keeps_a_backup_and_restore_brings_it_back() {
    let env = Env::new();
    let img = env.image("jane.png", 400, 400, 2);
    let set = env
        .run(&["--json", "set", "jane", img.to_str().expect("utf8")])
        .expect(0)
        .json();
    let sha = set[0]["new_sha256"].as_str().expect("sha").to_owned();

    let removed = env
        .run(&["--json", "remove", "jane", "--target", "folder"])
        .expect(0)
        .json();
    assert_eq!(removed[0]["type"], "remove");
    assert_eq!(removed[0]["status"], "done");
    assert_eq!(removed[0]["old_sha256"], sha.as_str());
    let backup = PathBuf::from(removed[0]["backup"].as_str().expect("backup path"));
    let backup = if backup.is_absolute() {
        backup
    } else {
        env.dir.path().join(backup)
    };
    assert!(backup.is_file(), "{}", backup.display());
    assert!(env.photos().is_empty(), "{:?}", env.photos());
    let state = env
        .run(&["--json", "get", "jane", "-t", "folder"])
        .expect(0)
        .json();
    assert_eq!(state[0]["state"], "no-photo");

    // The manifest names the kept photo.
    let manifest = std::fs::read_to_string(env.path("backups/manifest.jsonl")).expect("manifest");
    let record: Value = serde_json::from_str(manifest.lines().last().expect("line")).expect("json");
    assert_eq!(record["sha256"], sha.as_str());
    assert_eq!(record["user_name"], "jane");
    assert_eq!(record["reason"], "before-remove");

    let restored = env
        .run(&["--json", "restore", "backups", "--user", "JANE"])
        .expect(0)
        .json();
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(restored[0]["type"], "restore");
    assert_eq!(restored[0]["status"], "done");
    assert_eq!(restored[0]["new_sha256"], sha.as_str());
    let state = env
        .run(&["--json", "get", "jane", "-t", "folder"])
        .expect(0)
        .json();
    assert_eq!(state[0]["sha256"], sha.as_str());

    // Restoring again changes nothing.
    let again = env
        .run(&["--json", "restore", "backups", "--user", "jane"])
        .expect(0)
        .json();
    assert_eq!(again[0]["status"], "unchanged");
    // A user with nothing kept is named.
    let none = env
        .run(&["restore", "backups", "--user", "nobody"])
        .expect(1);
    assert!(
        none.stderr()
            .contains("no photo of \"nobody\" is kept in backups"),
        "{}",
        none.stderr()
    );
}

#[test]
fn a_bad_image_fails_naming_the_file_and_changes_nothing() {
    let env = Env::new();
    let good = env.image("good.png", 300, 300, 3);
    env.run(&["set", "jane", good.to_str().expect("utf8")])
        .expect(0);
    let before = env.photos();

    std::fs::write(env.path("broken.jpg"), b"this is not a photo at all").expect("write");
    let run = env.run(&["set", "jane", "broken.jpg"]).expect(2);
    let err = run.stderr();
    assert!(err.contains("broken.jpg"), "{err}");
    assert!(err.contains("not a supported image"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert_eq!(env.photos(), before);

    let run = env.run(&["set", "jane", "missing.png"]).expect(2);
    assert!(
        run.stderr().contains("cannot read the image missing.png"),
        "{}",
        run.stderr()
    );
}

#[test]
fn unknown_and_ambiguous_users_are_clear_errors() {
    let env = Env::new();
    let run = env.run(&["get", "nobody", "--target", "folder"]).expect(2);
    let err = run.stderr();
    assert!(err.contains("\"nobody\""), "{err}");
    assert!(err.contains("was not found"), "{err}");
    assert!(err.contains("list users"), "{err}");

    let run = env
        .run(&["get", "John Smith", "--by", "display-name", "-t", "folder"])
        .expect(2);
    let err = run.stderr();
    assert!(err.contains("matches 2 users"), "{err}");
    assert!(err.contains("(u1)") && err.contains("(u2)"), "{err}");

    let img = env.image("x.png", 200, 200, 4);
    let run = env
        .run(&["--json", "set", "nobody", img.to_str().expect("utf8")])
        .expect(1);
    let line = &run.json()[0];
    assert_eq!(line["status"], "failed");
    assert!(line["error"]
        .as_str()
        .expect("error")
        .contains("\"nobody\""));
    assert!(env.photos().is_empty());

    // --by upn finds the user.
    env.run(&[
        "set",
        "john.smith@corp.example.com",
        "--by",
        "upn",
        img.to_str().expect("utf8"),
    ])
    .expect(0);
}

#[test]
fn dry_run_and_small_sources_change_nothing() {
    let env = Env::new();
    let img = env.image("big.png", 700, 700, 5);
    let run = env
        .run(&[
            "--json",
            "set",
            "jane",
            img.to_str().expect("utf8"),
            "--dry-run",
        ])
        .expect(0);
    assert_eq!(run.json()[0]["status"], "dry-run");
    assert!(env.photos().is_empty());
    assert!(!env.path("audit.jsonl").exists());

    // The only target is HD-sized: a 96×96 source goes nowhere by default...
    let small = env.image("small.png", 96, 96, 6);
    let run = env
        .run(&["set", "jane", small.to_str().expect("utf8")])
        .expect(1);
    assert!(run.stdout().contains("skipped"), "{}", run.stdout());
    assert!(
        run.stderr().contains("nothing was written for jane"),
        "{}",
        run.stderr()
    );
    assert!(env.photos().is_empty());
    // ...unless the target is named, and then it is not upscaled.
    let run = env
        .run(&[
            "--json",
            "set",
            "jane",
            small.to_str().expect("utf8"),
            "--target",
            "folder",
        ])
        .expect(0);
    let line = &run.json()[0];
    assert_eq!(line["size"], 96);
    assert!(!line["warnings"].as_array().expect("warnings").is_empty());
}

#[test]
fn no_backup_is_explicit() {
    let env = Env::new();
    let a = env.image("a.png", 200, 200, 7);
    let b = env.image("b.png", 200, 200, 8);
    env.run(&["set", "jane", a.to_str().expect("utf8")])
        .expect(0);
    let run = env
        .run(&[
            "--json",
            "set",
            "jane",
            b.to_str().expect("utf8"),
            "--no-backup",
        ])
        .expect(0);
    assert!(run.json()[0]["backup"].is_null());
    assert!(!env.path("backups").exists());
    let run = env
        .run(&["set", "jane", a.to_str().expect("utf8")])
        .expect(0);
    assert!(
        run.stdout().contains("previous photo kept in"),
        "{}",
        run.stdout()
    );
}

#[test]
fn detect_reports_each_target_and_the_mode() {
    let env = Env::new();
    let lines = env.run(&["--json", "detect"]).expect(0).json();
    assert_eq!(lines.len(), 7, "six kinds and the mode: {lines:?}");
    let folder = lines
        .iter()
        .find(|l| l["target"] == "folder")
        .expect("folder");
    assert_eq!(folder["type"], "target");
    assert_eq!(folder["configured"], true);
    assert_eq!(folder["reachable"], true);
    assert_eq!(folder["authenticated"], true);
    assert_eq!(folder["permitted"], true);
    let ad = lines.iter().find(|l| l["target"] == "ad").expect("ad");
    assert_eq!(ad["configured"], false);
    assert!(ad["reachable"].is_null());
    let google = lines
        .iter()
        .find(|l| l["target"] == "google")
        .expect("google");
    assert_eq!(google["configured"], false);
    let mode = lines.last().expect("mode");
    assert_eq!(mode["type"], "mode");
    assert_eq!(mode["mode"], "NONE");

    let text = env.run(&["detect"]).expect(0).stdout();
    assert!(text.contains("mode: NONE"), "{text}");
}

#[test]
fn detect_reports_an_unreachable_directory_and_fails() {
    let env = Env::with_config(
        "[ad]\nurl = \"ldaps://127.0.0.1:1\"\nbase_dn = \"DC=corp,DC=example,DC=test\"\nbind_dn = \"svc@corp.example.test\"\npassword_env = \"USERPHOTO_TEST_AD_PASSWORD\"\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_userphoto"))
        .args(["--json", "detect"])
        .current_dir(env.dir.path())
        .env_remove("USERPHOTO_CONFIG")
        .env("USERPHOTO_TEST_AD_PASSWORD", "not-a-real-secret")
        .output()
        .expect("run");
    let run = Run(output).expect(1);
    let lines = run.json();
    let ad = lines.iter().find(|l| l["target"] == "ad").expect("ad");
    assert_eq!(ad["configured"], true);
    assert_eq!(ad["reachable"], false, "{ad}");
    assert!(!run.stdout().contains("not-a-real-secret"));
    assert_eq!(lines.last().expect("mode")["mode"], "NONE");
}

#[test]
fn backup_exports_every_photo_and_restore_reads_the_export() {
    let env = Env::new();
    let a = env.image("a.png", 300, 300, 9);
    let b = env.image("b.png", 300, 300, 10);
    env.run(&["set", "john.smith", a.to_str().expect("utf8")])
        .expect(0);
    let set = env
        .run(&["--json", "set", "jane", b.to_str().expect("utf8")])
        .expect(0)
        .json();
    let jane_sha = set[0]["new_sha256"].as_str().expect("sha").to_owned();

    let lines = env
        .run(&["--json", "backup", "--out", "export"])
        .expect(0)
        .json();
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (summary["users"].as_u64(), summary["saved"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(summary["no_photo"], 0);
    assert_eq!(summary["not_accessible"], 1);
    let saved: Vec<&Value> = lines.iter().filter(|l| l["status"] == "saved").collect();
    assert_eq!(saved.len(), 2);
    assert!(saved.iter().all(|l| env
        .dir
        .path()
        .join(l["path"].as_str().expect("path"))
        .exists()));

    env.run(&["remove", "jane", "-t", "folder", "--no-backup"])
        .expect(0);
    let run = env
        .run(&["--json", "restore", "export", "--target", "folder"])
        .expect(0);
    let statuses: Vec<(String, String)> = run
        .json()
        .iter()
        .map(|l| {
            (
                l["user"].as_str().unwrap_or("").to_owned(),
                l["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("jane".to_owned(), "done".to_owned()),
            ("John.Smith".to_owned(), "unchanged".to_owned())
        ]
    );
    let state = env
        .run(&["--json", "get", "jane", "-t", "folder"])
        .expect(0)
        .json();
    assert_eq!(state[0]["sha256"], jane_sha.as_str());
}

#[test]
fn configuration_mistakes_name_the_file_and_the_key() {
    let env = Env::with_config(
        "[ad]\nurl = \"ldaps://dc1\"\nbase_dn = \"DC=x\"\nbind_dn = \"svc\"\npassword = \"hunter2\"\n",
    );
    let run = env.run(&["users"]).expect(2);
    let err = run.stderr();
    assert!(err.contains("userphoto.toml, line 5"), "{err}");
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let env = Env::with_config("[folder]\npath = \"dir\"\ncolour = \"blue\"\n");
    let err = env.run(&["users"]).expect(2).stderr();
    assert!(
        err.contains("line 3 in [folder]") && err.contains("colour"),
        "{err}"
    );

    let env = Env::with_config("");
    let err = env.run(&["users"]).expect(2).stderr();
    assert!(err.contains("no target is configured"), "{err}");
    let err = env.run(&["get", "x", "--target", "ad"]).expect(2).stderr();
    assert!(err.contains("the ad target is not configured"), "{err}");

    let err = env
        .run(&["--config", "elsewhere.toml", "users"])
        .expect(2)
        .stderr();
    assert!(err.contains("elsewhere.toml"), "{err}");
}
