//! What the page is told is worded for the page: no command-line flag
//! (`--no-backup`, `--max-input-bytes`, `--strict`, `--config`), and
//! targets by the names the page uses (AD, HD), never by their
//! configuration section (`ad`, `folder`), and match keys in words
//! ("logon name"), not as the command line spells them.

mod common;

use axum::http::StatusCode;
use common::{photo, TestApp};
use serde_json::{json, Value};

fn rows(plan: &Value) -> &Vec<Value> {
    plan["rows"].as_array().expect("rows")
}

fn reason_of<'a>(plan: &'a Value, file: &str) -> &'a str {
    rows(plan)
        .iter()
        .find(|r| r["file"] == file)
        .and_then(|r| r["reason"].as_str())
        .unwrap_or_else(|| panic!("a reason for {file}: {plan}"))
}

#[tokio::test]
async fn plan_reasons_name_targets_as_the_page_does() {
    let app = TestApp::signed_in().await;
    let folder = app.demo.incoming.display().to_string();
    let (status, plan) = app
        .post_json("/api/imports", json!({"folder": folder}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let nobody = reason_of(&plan, "Nobody.Here.jpg");
    assert!(nobody.contains("\"Nobody.Here\" in AD, HD;"), "{nobody}");
    assert!(
        nobody.starts_with("no user has logon name (sAMAccountName) \"Nobody.Here\""),
        "the match key in words: {nobody}"
    );
    let kiosk = rows(&plan)
        .iter()
        .find(|r| r["file"] == "Kiosk.Account.jpg" && r["action"] == "skipped")
        .and_then(|r| r["reason"].as_str())
        .expect("the user without a mailbox is skipped");
    assert!(kiosk.starts_with("no mailbox in HD,"), "{kiosk}");
    let text = plan.to_string();
    for section in [" in ad", " in folder", "--", "sam-account-name"] {
        assert!(!text.contains(section), "{section:?} in {text}");
    }
}

#[tokio::test]
async fn a_file_over_the_input_limit_is_an_error_in_the_plan_without_a_flag() {
    let app = TestApp::signed_in().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Ada.Lovelace.png"), photo(300, 300)).expect("write");
    // One byte over the pipeline's 50 MiB input limit; sparse, so it costs
    // no disk.
    let big = std::fs::File::create(dir.path().join("Alan.Turing.png")).expect("create");
    big.set_len(50 * 1024 * 1024 + 1).expect("set_len");
    let (status, plan) = app
        .post_json(
            "/api/imports",
            json!({"folder": dir.path().display().to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let row = rows(&plan)
        .iter()
        .find(|r| r["file"] == "Alan.Turing.png")
        .expect("row");
    assert_eq!(row["action"], "error", "refused before running: {row}");
    let reason = row["reason"].as_str().expect("reason");
    assert!(
        reason.contains("over the 52428800-byte input limit"),
        "{reason}"
    );
    assert!(reason.contains("use a smaller file"), "{reason}");
    assert!(!reason.contains("--"), "{reason}");
    assert_eq!(
        plan["counts"]["set"], 2,
        "the other file is planned: {plan}"
    );
}

#[tokio::test]
async fn a_backup_that_cannot_be_kept_fails_the_write_with_a_sentence_for_the_page() {
    let app = TestApp::signed_in().await;
    let ada = app.user_id("Ada.Lovelace").await;
    let before = app.pane(&ada, "folder").await["sha256"].clone();
    // The backup folder cannot be made: a file has its name.
    let backups = app.demo.root.join("backups");
    std::fs::remove_dir_all(&backups).ok();
    std::fs::write(&backups, b"not a folder").expect("write");

    let (status, up) = app.upload(photo(700, 700)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    let (status, run) = app
        .post_json(
            &format!("/api/users/{ada}/import"),
            json!({"upload": up["id"], "targets": ["ad", "folder"], "source": "ad"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["ok"], false);
    for r in run["results"].as_array().expect("results") {
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["code"], "backup-failed", "{r}");
        let message = r["message"].as_str().expect("message");
        assert!(
            message.starts_with("the current photo of Ada Lovelace (u01) could not be backed up, so nothing was changed"),
            "the page shows the target beside it: {message}"
        );
        assert!(message.contains("check that the folder exists and is writable"));
        assert!(!message.contains("--"), "{message}");
    }
    assert_eq!(
        app.pane(&ada, "folder").await["sha256"],
        before,
        "nothing was changed"
    );

    // A remove says the same, led by the page's name for the target.
    let (status, err) = app
        .post_json(
            &format!("/api/users/{ada}/remove"),
            json!({"target": "ad", "source": "ad"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "backup-failed");
    let message = err["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("AD: the current photo of Ada Lovelace (u01)"),
        "{message}"
    );
    assert!(!message.contains("--"), "{message}");
}
