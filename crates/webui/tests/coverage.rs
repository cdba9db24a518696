//! Coverage at a glance (`/api/coverage`, `/api/coverage.csv`) over the
//! seeded demo sandbox, and the control port that hands `serve --link` a
//! fresh sign-in link.

mod common;

use axum::http::StatusCode;
use common::{get, TestApp};
use serde_json::{json, Value};

/// The counts row of `target`.
fn counts<'a>(c: &'a Value, target: &str) -> &'a Value {
    &c["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["target"] == target)
        .unwrap_or_else(|| panic!("no {target} in {c}"))["counts"]
}

#[tokio::test]
async fn coverage_counts_per_target_filters_and_writes_the_reports_csv() {
    let app = TestApp::signed_in().await;
    let (status, c) = app.get_json("/api/coverage?refresh=1").await;
    assert_eq!(status, StatusCode::OK, "{c}");
    // The seed (demo.rs): AD 13 of 20 with a photo, 3 of them Exchange's
    // 64×64, 6 without, Board Member unreadable; HD 10 with, 8 without.
    let ad = counts(&c, "ad");
    assert_eq!(
        (
            &ad["users"],
            &ad["with_photo"],
            &ad["no_photo"],
            &ad["only_exchange_thumbnail"],
            &ad["unreadable"]
        ),
        (&json!(20), &json!(13), &json!(6), &json!(3), &json!(1)),
        "{c}"
    );
    let hd = counts(&c, "folder");
    assert_eq!(
        (&hd["with_photo"], &hd["no_photo"]),
        (&json!(10), &json!(8)),
        "{c}"
    );
    // The default filter: no photo or only the 64×64.
    assert_eq!(c["matching"], 17, "{c}");

    let (_, only) = app
        .get_json("/api/coverage?show=only-exchange-thumbnail")
        .await;
    let mut users: Vec<&str> = only["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["user"].as_str().expect("user"))
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["Barbara.Liskov", "Hedy.Lamarr", "Linus.Torvalds"]);
    assert!(only["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .all(|r| r["pixels"] == "64×64" && r["target"] == "ad"));

    let (_, named) = app.get_json("/api/coverage?show=all&q=lovelace").await;
    assert_eq!(named["matching"], 2, "Ada in AD and HD: {named}");

    let (status, bad) = app.get_json("/api/coverage?show=everything").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // The CSV: the report's header, the filter's rows.
    let res = app
        .send(app.authed(get("/api/coverage.csv?show=no-photo&target=folder")))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("attachment"));
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], userphoto_bulk::coverage::CSV_HEADER);
    assert_eq!(lines.len(), 9, "{text}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("folder,") && l.contains(",false,")),
        "{text}"
    );

    // The count is kept until asked again: a removed photo shows then.
    let ada = app.user_id("Ada.Lovelace").await;
    let (status, run) = app
        .post_json(&format!("/api/users/{ada}/remove"), json!({"target": "ad"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let (_, kept) = app.get_json("/api/coverage").await;
    assert_eq!(counts(&kept, "ad")["no_photo"], 6);
    let (_, again) = app.get_json("/api/coverage?refresh=1").await;
    assert_eq!(counts(&again, "ad")["no_photo"], 7);
    assert_eq!(counts(&again, "ad")["hd_without_thumbnail"], 1, "{again}");
}

#[tokio::test]
async fn coverage_needs_a_session() {
    let app = TestApp::builder().build().await;
    let res = app.send(get("/api/coverage")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_control_port_gives_a_fresh_link_only_for_the_secret_in_the_private_file() {
    use userphoto_webui::control::{request_link, start, LinkError, CONTROL_FILE};
    let app = TestApp::builder().build().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Nobody running: said so.
    assert!(matches!(
        request_link(dir.path()).await,
        Err(LinkError::NotRunning)
    ));

    let handle = start(dir.path(), app.state.clone())
        .await
        .expect("control port");
    let file = dir.path().join(CONTROL_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let link = request_link(dir.path()).await.expect("a link");
    assert!(link.contains("?token="), "{link}");
    // The link signs in, once.
    let path = link.trim_start_matches(&format!("http://{}", common::HOST));
    assert_eq!(app.send(get(path)).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.send(get(path)).await.status(), StatusCode::UNAUTHORIZED);

    // A wrong secret, or a browser page (Origin), gets nothing.
    let control: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    let url = format!("http://127.0.0.1:{}/link", control["port"]);
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let wrong = client
        .post(&url)
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);
    let secret = control["secret"].as_str().expect("secret");
    let browser = client
        .post(&url)
        .bearer_auth(secret)
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("answer");
    assert_eq!(browser.status(), 403);

    // Stopped: the file goes, and nobody is running.
    drop(handle);
    assert!(!file.exists());
    assert!(matches!(
        request_link(dir.path()).await,
        Err(LinkError::NotRunning)
    ));
}
