//! `userphoto requests list|show|approve|reject` as the built binary,
//! against a `[folder]` target and a `[team]` queue seeded through the
//! library (what the employee page does): the JSON shapes, the audit line
//! naming the approver, the backup, the exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::Value;
use userphoto_imaging::CropMode;
use userphoto_selfservice::{NewRequest, Policy, Queue, SqliteStore};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let env = Env {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(env.path("dir")).expect("mkdir");
        std::fs::write(
            env.path("dir/users.csv"),
            "id,sam_account_name,upn,display_name\n\
             u1,alice,alice@corp.example.com,Alice Example\n\
             u2,bob,bob@corp.example.com,Bob Example\n",
        )
        .expect("users.csv");
        std::fs::write(
            env.path("userphoto.toml"),
            "[folder]\npath = \"dir\"\n[backup]\ndir = \"backups\"\n[audit]\npath = \"audit.jsonl\"\n\
             [team]\ndatabase = \"team/requests.sqlite\"\n",
        )
        .expect("config");
        env
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Submits a photo for `user` as the employee page does.
    async fn submit(&self, user: &str, seed: u8) -> i64 {
        let store = SqliteStore::open(&self.path("team/requests.sqlite")).expect("store");
        let queue = Queue::new(Arc::new(store), Policy::default());
        let img = image::RgbImage::from_fn(700, 700, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, seed])
        });
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        queue
            .submit(NewRequest {
                user: user.to_owned(),
                display_name: None,
                photo: png,
                crop: CropMode::Auto,
            })
            .await
            .expect("submit")
            .request
            .id
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_userphoto"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("USERPHOTO_CONFIG")
            .output()
            .expect("run userphoto")
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

#[tokio::test]
async fn list_show_approve_reject_through_the_command_line() {
    let env = Env::new();
    let a = env.submit("alice", 1).await;
    let b = env.submit("bob", 2).await;

    let queue = env.json(&["--json", "requests", "list"]);
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0]["type"], "request");
    assert_eq!(queue[0]["id"], a);
    assert_eq!(queue[0]["user"], "alice");
    assert_eq!(queue[0]["state"], "pending");
    assert!(queue[0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .any(|c| c["code"] == "no_face"));

    let shown = env.json(&[
        "--json",
        "requests",
        "show",
        &a.to_string(),
        "--photo",
        "proposed.png",
    ]);
    assert_eq!(shown[0]["id"], a);
    assert!(std::fs::read(env.path("proposed.png"))
        .expect("photo saved")
        .starts_with(b"\x89PNG"));

    let approved = env.json(&[
        "--json",
        "requests",
        "approve",
        &a.to_string(),
        "--approver",
        "helpdesk1",
    ]);
    let last = approved.last().expect("a line");
    assert_eq!(last["state"], "approved", "{last}");
    assert_eq!(last["reviewer"], "helpdesk1");
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).expect("audit");
    let line: Value = serde_json::from_str(audit.lines().next().expect("one line")).expect("json");
    assert_eq!(line["approved_by"], "helpdesk1");
    assert_eq!(line["user_name"], "alice");
    assert!(env.path("dir/photos").read_dir().expect("photos").count() > 0);

    // Rejecting needs --reason; the reason is kept for the employee.
    let out = env.run(&["requests", "reject", &b.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let rejected = env.json(&[
        "--json",
        "requests",
        "reject",
        &b.to_string(),
        "--reason",
        "Please show your face",
    ]);
    assert_eq!(rejected[0]["state"], "rejected");
    assert_eq!(rejected[0]["reason"], "Please show your face");

    assert!(env.json(&["--json", "requests", "list"]).is_empty());
    let all = env.json(&["--json", "requests", "list", "--all"]);
    assert_eq!(all.len(), 2);
    let bobs = env.json(&["--json", "requests", "list", "--user", "BOB"]);
    assert_eq!(bobs.len(), 1);

    // Approving a rejected request, or an unknown one, could not run.
    let out = env.run(&["requests", "approve", &b.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is rejected"));
    let out = env.run(&["requests", "show", "999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request 999"));
    let out = env.run(&["requests", "list", "--state", "lost"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn team_mode_refuses_plain_http_beyond_loopback_and_half_a_tls_pair() {
    let env = Env::new();
    let out = env.run(&["serve", "--no-open", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve team mode"), "{err}");
    assert!(
        err.contains("cert_file") && err.contains("behind_proxy"),
        "{err}"
    );

    let config = std::fs::read_to_string(env.path("userphoto.toml")).expect("config");
    std::fs::write(
        env.path("userphoto.toml"),
        format!("{config}cert_file = \"cert.pem\"\n"),
    )
    .expect("config");
    let out = env.run(&["serve", "--no-open", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("both cert_file and key_file"), "{err}");
}
