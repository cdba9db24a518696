//! The main screen's calls, as an admin would make them (demo sandbox).

mod common;

use axum::http::StatusCode;
use common::{photo, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn the_session_describes_the_demo_its_mode_and_panes() {
    let app = TestApp::signed_in().await;
    let (status, s) = app.get_json("/api/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["demo"], true);
    assert_eq!(s["mode"], "ON-PREMISES");
    let labels: Vec<&str> = s["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["label"].as_str())
        .collect();
    assert_eq!(labels, ["AD", "HD"]);
}

#[tokio::test]
async fn search_is_by_prefix_and_capped() {
    let app = TestApp::signed_in().await;
    let (_, all) = app.get_json("/api/users?q=").await;
    assert_eq!(all["users"].as_array().map(Vec::len), Some(20));
    let (_, some) = app.get_json("/api/users?q=ada").await;
    let names: Vec<&str> = some["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["Ada.Lovelace"]);
}

#[tokio::test]
async fn panes_show_each_state() {
    let app = TestApp::signed_in().await;
    let ada = app.user_id("Ada.Lovelace").await;
    assert_eq!(app.pane(&ada, "ad").await["state"], "photo");
    assert_eq!(app.pane(&ada, "folder").await["state"], "photo");
    let grace = app.user_id("Grace.Hopper").await;
    assert_eq!(app.pane(&grace, "folder").await["state"], "no-photo");
    let kiosk = app.user_id("Kiosk.Account").await;
    assert_eq!(app.pane(&kiosk, "folder").await["state"], "no-mailbox");
    let board = app.user_id("Board.Member").await;
    let pane = app.pane(&board, "ad").await;
    assert_eq!(pane["state"], "not-accessible");
    assert!(pane["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn the_size_rule_ticks_the_boxes() {
    let app = TestApp::signed_in().await;
    let (status, big) = app.upload(photo(800, 1000)).await;
    assert_eq!(status, StatusCode::OK, "{big}");
    assert_eq!(big["ticked"], json!({"ad": true, "folder": true}));
    let (_, small) = app.upload(photo(96, 96)).await;
    assert_eq!(small["ticked"], json!({"ad": true, "folder": false}));
    let preview = app
        .send(app.authed(common::get(big["preview"].as_str().expect("url"))))
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(preview.headers()["content-type"], "image/jpeg");
}

#[tokio::test]
async fn import_writes_hd_then_ad_and_the_panes_show_it() {
    let app = TestApp::signed_in().await;
    let grace = app.user_id("Grace.Hopper").await;
    let (_, up) = app.upload(photo(800, 1000)).await;
    let (status, run) = app
        .post_json(
            &format!("/api/users/{grace}/import"),
            json!({"upload": up["id"], "targets": ["ad", "folder"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let order: Vec<&str> = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["target"].as_str())
        .collect();
    assert_eq!(order, ["folder", "ad"], "HD first");
    assert_eq!(run["ok"], true);
    let ad = app.pane(&grace, "ad").await;
    assert_eq!(ad["state"], "photo");
    assert_eq!(ad["pixels"], json!([96, 96]));
    assert_eq!(
        app.pane(&grace, "folder").await["pixels"],
        json!([648, 648])
    );
}

#[tokio::test]
async fn remove_backs_up_and_empties_the_pane() {
    let app = TestApp::signed_in().await;
    let ada = app.user_id("Ada.Lovelace").await;
    let (status, run) = app
        .post_json(&format!("/api/users/{ada}/remove"), json!({"target": "ad"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["results"][0]["status"], "done");
    assert_eq!(run["results"][0]["backed_up"], true);
    assert_eq!(app.pane(&ada, "ad").await["state"], "no-photo");
}

#[tokio::test]
async fn use_existing_hd_replaces_exchanges_64px_thumbnail() {
    let app = TestApp::signed_in().await;
    let linus = app.user_id("Linus.Torvalds").await;
    assert_eq!(app.pane(&linus, "ad").await["pixels"], json!([64, 64]));
    let (status, run) = app
        .post_json(&format!("/api/users/{linus}/use-existing-hd"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(app.pane(&linus, "ad").await["pixels"], json!([96, 96]));
    let grace = app.user_id("Grace.Hopper").await;
    let (status, body) = app
        .post_json(&format!("/api/users/{grace}/use-existing-hd"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn writes_to_unreachable_users_fail_per_target_with_the_reason() {
    let app = TestApp::signed_in().await;
    let kiosk = app.user_id("Kiosk.Account").await;
    let (_, up) = app.upload(photo(800, 1000)).await;
    let (status, run) = app
        .post_json(
            &format!("/api/users/{kiosk}/import"),
            json!({"upload": up["id"], "targets": ["ad", "folder"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["ok"], false);
    assert_eq!(run["results"][0]["status"], "failed");
    assert!(run["results"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("mailbox")));
    assert_eq!(run["results"][1]["status"], "done", "AD still written");
}

#[tokio::test]
async fn the_upload_reports_the_pipelines_square_and_a_nudged_square_changes_preview_and_write() {
    let app = TestApp::signed_in().await;
    let (status, up) = app.upload(photo(1200, 600)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    // No face in an avatar: `auto` takes the centred square of a landscape.
    assert_eq!(up["crop"], json!({"x": 300.0, "y": 0.0, "side": 600.0}));
    assert!(up["framing"].is_string(), "{up}");
    assert!(up["checks"].is_array(), "{up}");
    let preview = |query: &str| {
        let url = format!("{}{query}", up["preview"].as_str().expect("url"));
        let app = &app;
        async move {
            let res = app.send(app.authed(common::get(&url))).await;
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, body.to_vec())
        }
    };
    let (status, plain) = preview("").await;
    assert_eq!(status, StatusCode::OK);
    let (status, same) = preview("?x=300&y=0&side=600").await;
    assert_eq!(status, StatusCode::OK);
    let (status, left) = preview("?x=0&y=0&side=600").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain, same, "the reported square is the preview's square");
    assert_ne!(plain, left, "a nudged square makes another preview");
    let (status, _) = preview("?x=0&y=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "x, y and side together");
    let (status, body) = preview("?x=left&y=0&side=600").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "numbers only");
    let body: Value = serde_json::from_slice(&body).expect("the one JSON error shape");
    assert_eq!(body["error"]["code"], "bad-request", "{body}");
    let (status, _) = preview("?x=700&y=0&side=600").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a square outside the photo"
    );

    // The import applies the square sent: the left square differs from
    // the centred one, and the centred one is what no square writes.
    let grace = app.user_id("Grace.Hopper").await;
    let mut written = Vec::new();
    for crop in [
        json!({"x": 0.0, "y": 0.0, "side": 600.0}),
        json!({"x": 300.0, "y": 0.0, "side": 600.0}),
        Value::Null,
    ] {
        let (status, run) = app
            .post_json(
                &format!("/api/users/{grace}/import"),
                json!({"upload": up["id"], "targets": ["folder"], "crop": crop}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        written.push(app.pane(&grace, "folder").await["sha256"].clone());
    }
    assert_ne!(written[0], written[1]);
    assert_eq!(written[1], written[2], "no square: the preview's framing");
}
