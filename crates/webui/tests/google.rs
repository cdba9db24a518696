//! The web UI over a Google Workspace target (the Google Workspace
//! emulator): the pane is labelled Google, the mode is CLOUD, users are
//! listed from it, a photo imported through the page lands at 96×96, and a
//! folder named by e-mail imports from the page.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{photo, TestApp};
use serde_json::json;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::google::{GoogleDirectory, ServiceAccountKey};
use userphoto_emulators::google::{GoogleEmulator, Knobs, DEFAULT_ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_google_pane_lists_users_and_takes_a_photo() {
    let emulator = GoogleEmulator::start(Knobs::default().with_users(5))
        .await
        .expect("emulator");
    let key =
        ServiceAccountKey::from_json(emulator.key_json().as_bytes(), "test key").expect("key");
    let dir = GoogleDirectory::builder(DEFAULT_ADMIN)
        .key(key)
        .api_url(emulator.api_url())
        .build()
        .expect("builds");
    let target = Target::new(TargetKind::Google, Arc::new(dir), "test");
    let app = TestApp::builder()
        .build_with(Some(vec![target]))
        .await
        .sign_in()
        .await;

    let (status, s) = app.get_json("/api/session").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["mode"], "CLOUD");
    assert_eq!(s["targets"][0]["label"], "Google", "{s}");
    assert_eq!(s["targets"][0]["size"], 96, "{s}");
    assert_eq!(s["sources"][0]["kind"], "google", "{s}");

    let (status, found) = app.get_json("/api/users?q=emu0000&source=google").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let user = found["users"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["name"] == "emu00003@example.test"))
        .cloned()
        .unwrap_or_else(|| panic!("emu00003 in {found}"));
    let id = user["id"].as_str().expect("id").to_owned();

    let (status, up) = app.upload(photo(400, 400)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["ticked"], json!({"google": true}), "{up}");
    let (status, run) = app
        .post_json(
            &format!("/api/users/{id}/import"),
            json!({"upload": up["id"], "targets": ["google"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["ok"], true, "{run}");
    let pane = app.pane(&id, "google").await;
    assert_eq!(pane["state"], "photo", "{pane}");
    assert_eq!(pane["pixels"], json!([96, 96]));
    assert_eq!(emulator.writes_for(&id), 1);

    // A folder named by e-mail (GAM's #email#.jpg), imported from the page.
    let folder = tempfile::tempdir().expect("tempdir");
    for n in [1, 2] {
        std::fs::write(
            folder.path().join(format!("emu0000{n}@example.test.png")),
            photo(300, 300),
        )
        .expect("photo");
    }
    let (status, plan) = app
        .post_json("/api/imports", json!({"folder": folder.path()}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let job = plan["id"].as_str().expect("id").to_owned();
    let (status, _) = app
        .post_json(
            &format!("/api/imports/{job}/start"),
            json!({"confirm": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let (status, report) = app.get_json(&format!("/api/imports/{job}/report")).await;
            if status == StatusCode::OK {
                return report;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the run ends");
    assert!(
        report["items"].as_array().is_some_and(|i| i.len() == 2),
        "{report}"
    );
    for n in [1, 2] {
        assert_eq!(emulator.writes_for(&format!("1{n:020}")), 1, "emu0000{n}");
    }
}
