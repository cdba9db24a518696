//! A user's earlier photos and history, "Restore this one", and the crop
//! editor's quality checks that follow the square.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

/// Percent-encodes a query value (backup paths hold `/` and `:`).
fn query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_history_lists_a_users_backups_and_restore_puts_one_back_through_backup_and_audit() {
    let app = TestApp::signed_in().await;
    let ada = app.user_id("Ada.Lovelace").await;
    let alan = app.user_id("Alan.Turing").await;
    let (status, before) = app.get_json(&format!("/api/users/{ada}/history")).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["kept"], true);
    assert_eq!(before["backups"], json!([]), "nothing kept yet");
    let old = app.pane(&ada, "ad").await;
    assert_eq!(old["state"], "photo");

    let (status, run) = app
        .post_json(&format!("/api/users/{ada}/remove"), json!({"target": "ad"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let (_, history) = app.get_json(&format!("/api/users/{ada}/history")).await;
    let backups = history["backups"].as_array().expect("backups");
    assert_eq!(backups.len(), 1, "{history}");
    let kept = &backups[0];
    assert_eq!(kept["target"], "ad");
    assert_eq!(kept["reason"], "before-remove");
    assert_eq!(kept["sha256"], old["sha256"], "the photo that was there");
    assert_eq!(history["audit"][0]["action"], "remove");
    let path = kept["path"].as_str().expect("path");

    // The kept photo itself, for its owner only.
    let res = app
        .send(app.authed(common::get(&format!(
            "/api/users/{ada}/backup?path={}",
            query(path)
        ))))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"image/jpeg"[..])
    );
    let res = app
        .send(app.authed(common::get(&format!(
            "/api/users/{alan}/backup?path={}",
            query(path)
        ))))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not Alan's backup");
    let (status, _) = app
        .post_json(&format!("/api/users/{alan}/restore"), json!({"path": path}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor restored onto Alan");
    assert_eq!(app.pane(&alan, "ad").await["state"], "photo");

    // Restore this one: written back, and audited.
    let (status, run) = app
        .post_json(&format!("/api/users/{ada}/restore"), json!({"path": path}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["results"][0]["status"], "done", "{run}");
    assert_eq!(run["results"][0]["target"], "ad");
    let now = app.pane(&ada, "ad").await;
    assert_eq!(now["sha256"], old["sha256"], "the kept photo is back");
    let (_, after) = app.get_json(&format!("/api/users/{ada}/history")).await;
    assert_eq!(after["audit"][0]["action"], "restore", "{after}");
}

#[tokio::test]
async fn the_quality_checks_follow_the_crop_square() {
    let app = TestApp::signed_in().await;
    // Near-black on the left, light grey on the right.
    let img = image::RgbImage::from_fn(1000, 500, |x, _| {
        if x < 500 {
            image::Rgb([4, 4, 4])
        } else {
            image::Rgb([200, 200, 200])
        }
    });
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .expect("png");
    let (status, up) = app.upload(png.into_inner()).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    let id = up["id"].as_str().expect("id");
    let checks = |q: &'static str| {
        let app = &app;
        let url = format!("/api/uploads/{id}/checks{q}");
        async move { app.get_json(&url).await }
    };
    let (status, left) = checks("?x=0&y=0&side=500").await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert!(
        left["checks"]
            .as_array()
            .expect("checks")
            .contains(&json!("too_dark")),
        "{left}"
    );
    let (_, right) = checks("?x=500&y=0&side=500").await;
    assert!(
        !right["checks"]
            .as_array()
            .expect("checks")
            .contains(&json!("too_dark")),
        "{right}"
    );
    let (status, half) = checks("?x=0&y=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{half}");
}
