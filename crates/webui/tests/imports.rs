//! Folder import from the page: plan, run, progress over server-sent
//! events, confirm each, report.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{get, photo, TestApp};
use futures::StreamExt as _;
use serde_json::{json, Value};

/// Reads the job's event stream until `until` matches an event (or the
/// stream ends), answering nothing.
async fn events_until(app: &TestApp, id: &str, until: &str) -> Vec<Value> {
    events_after(app, id, None, until).await
}

/// [`events_until`] for a page that reconnects having seen events up to
/// `last_id` (`Last-Event-ID`).
async fn events_after(app: &TestApp, id: &str, last_id: Option<usize>, until: &str) -> Vec<Value> {
    let mut req = get(&format!("/api/imports/{id}/events"));
    if let Some(last) = last_id {
        req.headers_mut().insert(
            "last-event-id",
            last.to_string().parse().expect("a header value"),
        );
    }
    let res = app.send(app.authed(req)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body().into_data_stream();
    let mut seen = Vec::new();
    let mut buffer = String::new();
    let read = async {
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                for line in frame.lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        let event: Value = serde_json::from_str(data).expect("json event");
                        let stop = event["type"] == until;
                        seen.push(event);
                        if stop {
                            return;
                        }
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("events in time");
    seen
}

async fn planned(app: &TestApp) -> Value {
    let folder = app.demo.incoming.display().to_string();
    let (status, plan) = app
        .post_json("/api/imports", json!({"folder": folder}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    plan
}

#[tokio::test]
async fn the_plan_matches_files_like_import_dry_run() {
    let app = TestApp::signed_in().await;
    let plan = planned(&app).await;
    assert_eq!(plan["counts"]["files"], 7);
    assert_eq!(plan["counts"]["unmatched"], 1);
    assert_eq!(plan["counts"]["duplicate"], 1);
    let (status, _) = app
        .post_json("/api/imports", json!({"folder": "/no/such/folder"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_run_streams_progress_and_leaves_a_report() {
    let app = TestApp::signed_in().await;
    let plan = planned(&app).await;
    let id = plan["id"].as_str().expect("id");
    let (status, _) = app
        .post_json(
            &format!("/api/imports/{id}/start"),
            json!({"confirm": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events_until(&app, id, "report-ready").await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"item"), "{types:?}");
    assert!(types.contains(&"finished"), "{types:?}");
    let summary = &events.last().expect("an event")["summary"];
    assert!(
        summary["written"].as_u64().is_some_and(|n| n >= 4),
        "{summary}"
    );
    // Kiosk.Account has no mailbox: skipped at HD, not a failure.
    assert_eq!(summary["failed"], 0, "{summary}");
    let (status, report) = app.get_json(&format!("/api/imports/{id}/report")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(report["items"].as_array().is_some_and(|i| !i.is_empty()));
    // A late subscriber gets the whole story again; one that reconnects
    // after event 2 (Last-Event-ID) gets only the rest.
    let again = events_until(&app, id, "report-ready").await;
    assert_eq!(again.len(), events.len());
    let rest = events_after(&app, id, Some(2), "report-ready").await;
    assert_eq!(rest.len(), events.len() - 3);
    assert_eq!(rest.first(), events.get(3));
    let grace = app.user_id("Grace.Hopper").await;
    assert_eq!(app.pane(&grace, "folder").await["state"], "photo");
    // Running it twice is refused.
    let (status, _) = app
        .post_json(&format!("/api/imports/{id}/start"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn plans_kept_are_bounded_the_oldest_idle_one_goes() {
    let app = TestApp::signed_in().await;
    let first = planned(&app).await["id"].as_str().expect("id").to_owned();
    for _ in 0..16 {
        planned(&app).await;
    }
    let (status, _) = app
        .post_json(&format!("/api/imports/{first}/start"), json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the oldest plan is forgotten"
    );
}

#[tokio::test]
async fn a_failed_write_is_reported_in_the_pages_words() {
    let app = TestApp::signed_in().await;
    // Tim has a photo in both targets, so each write must back one up, and
    // the backup folder cannot be made: a file has its name.
    let backups = app.demo.root.join("backups");
    if backups.exists() {
        std::fs::remove_dir_all(&backups).expect("remove the backup folder");
    }
    std::fs::write(&backups, "not a folder").expect("a file in its place");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Tim.Berners-Lee.png"), photo(400, 400)).expect("write");
    let (status, plan) = app
        .post_json("/api/imports", json!({"folder": dir.path()}))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["counts"]["set"], 2, "{plan}");
    let id = plan["id"].as_str().expect("id");
    let (status, _) = app
        .post_json(&format!("/api/imports/{id}/start"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    events_until(&app, id, "report-ready").await;
    let (_, report) = app.get_json(&format!("/api/imports/{id}/report")).await;
    assert_eq!(report["summary"]["failed"], 2, "{report}");
    let items = report["items"].as_array().expect("items");
    let mut targets = Vec::new();
    for item in items.iter().filter(|i| i["outcome"] == "failed") {
        let error = item["error"].as_str().expect("a reason");
        // The row has its target: the sentence starts with the problem,
        // not with the configuration's section name, and names no flag.
        assert!(
            error.starts_with("the current photo of Tim Berners-Lee (u13) could not be backed up, so nothing was changed"),
            "{error}"
        );
        assert!(!error.contains("--"), "a command-line flag: {error}");
        targets.push(item["target"].as_str().expect("target").to_owned());
    }
    targets.sort();
    assert_eq!(targets, ["ad", "folder"]);
}

#[tokio::test]
async fn confirm_each_asks_and_quit_stops_the_rest() {
    let app = TestApp::signed_in().await;
    let plan = planned(&app).await;
    let id = plan["id"].as_str().expect("id");
    app.post_json(
        &format!("/api/imports/{id}/start"),
        json!({"confirm": true}),
    )
    .await;
    let events = events_until(&app, id, "confirm").await;
    let question = events.last().expect("a question");
    let number = question["question"].as_u64().expect("a numbered question");
    assert!(question["file"].as_str().is_some());
    assert!(question["user_id"].as_str().is_some());
    let preview = app
        .send(app.authed(get(&format!(
            "/api/imports/{id}/preview?file={}",
            question["file"].as_str().unwrap_or_default().replace(' ', "%20")
        ))))
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    // An answer to a question that is not the one waiting is refused.
    let (status, _) = app
        .post_json(
            &format!("/api/imports/{id}/decide"),
            json!({"decision": "yes", "question": number + 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post_json(
            &format!("/api/imports/{id}/decide"),
            json!({"decision": "quit", "question": number}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Answered: a second click on the same question changes nothing.
    let (status, _) = app
        .post_json(
            &format!("/api/imports/{id}/decide"),
            json!({"decision": "yes", "question": number}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let events = events_until(&app, id, "report-ready").await;
    let summary = &events.last().expect("an event")["summary"];
    assert_eq!(summary["written"], 0, "{summary}");
    assert!(
        summary["not_done"].as_u64().is_some_and(|n| n > 0),
        "{summary}"
    );
}

#[tokio::test]
async fn a_folder_chosen_in_the_browser_is_uploaded_then_planned() {
    let app = TestApp::signed_in().await;
    let (status, folder) = app.post_json("/api/folders", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    let id = folder["id"].as_str().expect("id");
    for name in ["Ken.Thompson.jpg", "Nobody.Here.jpg"] {
        let bytes = std::fs::read(app.demo.incoming.join(name)).expect("sample");
        let req = axum::http::Request::post(format!(
            "/api/folders/{id}/files?name={}",
            name.replace(' ', "%20")
        ))
        .header("host", common::HOST)
        .body(axum::body::Body::from(bytes))
        .expect("request");
        let (status, body) = app.json(app.authed_write(req)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for bad in [
        "..",
        "../escape.jpg",
        ".hidden.jpg",
        "sub%2F..%2F..%2Fx.jpg",
        "%2Fetc%2Fx.jpg",
        "sub%2F.git%2Fx.jpg",
        "sub%5C..%5Cx.jpg",
        "C%3A%2Fx.jpg",
    ] {
        let req = axum::http::Request::post(format!("/api/folders/{id}/files?name={bad}"))
            .header("host", common::HOST)
            .body(axum::body::Body::from("x"))
            .expect("request");
        let (status, _) = app.json(app.authed_write(req)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, plan) = app.post_json("/api/imports", json!({"upload": id})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["counts"]["files"], 2);
    assert_eq!(plan["counts"]["unmatched"], 1);
}

/// Sends `bytes` as the file at `path` (relative, `/`-separated) of the
/// uploaded folder `id`.
async fn put(app: &TestApp, id: &str, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let name: String = path
        .bytes()
        .map(|b| match b {
            b'/' => "%2F".to_owned(),
            b' ' => "%20".to_owned(),
            b => (b as char).to_string(),
        })
        .collect();
    let req = axum::http::Request::post(format!("/api/folders/{id}/files?name={name}"))
        .header("host", common::HOST)
        .body(axum::body::Body::from(bytes))
        .expect("request");
    app.json(app.authed_write(req)).await
}

#[tokio::test]
async fn an_uploaded_folder_keeps_its_subfolders_and_plans_like_import_r() {
    let app = TestApp::signed_in().await;
    let (status, folder) = app.post_json("/api/folders", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    let id = folder["id"].as_str().expect("id");
    // One name in two subfolders: both are kept (one is the duplicate).
    let sample = |name: &str| std::fs::read(app.demo.incoming.join(name)).expect("sample");
    let files = [
        ("Annie.Easley.jpg", "Annie.Easley.jpg"),
        ("2025/Ken.Thompson.jpg", "Ken.Thompson.jpg"),
        ("2026/Ken.Thompson.jpg", "Ken.Thompson 2019.jpg"),
        ("2026/extra/Nobody.Here.jpg", "Nobody.Here.jpg"),
    ];
    for (path, name) in files {
        let (status, body) = put(&app, id, path, sample(name)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["name"], path);
    }
    // A file where a folder of the upload is, and the other way round.
    let (status, body) = put(&app, id, "2025", sample("Annie.Easley.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = put(
        &app,
        id,
        "Annie.Easley.jpg/x.jpg",
        sample("Annie.Easley.jpg"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, plan) = app.post_json("/api/imports", json!({"upload": id})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["counts"]["files"], 4, "{plan}");
    assert_eq!(plan["counts"]["duplicate"], 1, "{plan}");
    assert_eq!(plan["counts"]["unmatched"], 1, "{plan}");
    let mut ui: Vec<String> = plan["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["file"].as_str().expect("file").to_owned())
        .collect();
    ui.sort();
    ui.dedup();

    // The same files, on disk, planned by the engine as `import -r` does.
    let disk = tempfile::tempdir().expect("tempdir");
    for (path, name) in files {
        let to = disk.path().join(path);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::write(&to, sample(name)).expect("write");
    }
    let mut options = userphoto_bulk::import::ImportOptions::new(disk.path());
    options.recursive = true;
    let cli = userphoto_bulk::import::build_plan(
        &options,
        &app.demo.targets,
        &userphoto_bulk::import::PreparedCache::in_memory(),
        &userphoto_bulk::import::NoReporter,
    )
    .await
    .expect("plan");
    let mut cli: Vec<String> = userphoto_bulk::wording::Wording::command_line()
        .plan_rows(&cli)
        .into_iter()
        .map(|r| r.file)
        .collect();
    cli.sort();
    cli.dedup();
    assert_eq!(ui, cli);
    assert!(
        ui.contains(&"2026/extra/Nobody.Here.jpg".to_owned()),
        "{ui:?}"
    );
}

#[tokio::test]
async fn the_plan_speaks_to_the_page_not_the_command_line() {
    let app = TestApp::signed_in().await;
    let plan = planned(&app).await;
    let rows = plan["rows"].as_array().expect("rows");
    for r in rows {
        let text = format!("{} {}", r["reason"], r["warnings"]);
        assert!(!text.contains("--"), "a CLI flag in the page's plan: {r}");
    }
    // The unmatched file says what to do in words the page can use.
    let nobody = rows
        .iter()
        .find(|r| r["file"] == "Nobody.Here.jpg")
        .expect("Nobody.Here.jpg row");
    assert_eq!(nobody["action"], "unmatched");
    assert!(
        nobody["reason"]
            .as_str()
            .is_some_and(|t| t.contains("name the file")),
        "{nobody}"
    );
    // The user without a mailbox is skipped at HD in the plan, not
    // attempted and failed.
    let kiosk = rows
        .iter()
        .find(|r| r["file"] == "Kiosk.Account.jpg" && r["target"] == "folder")
        .expect("Kiosk HD row");
    assert_eq!(kiosk["action"], "skipped", "{kiosk}");
    assert!(
        kiosk["reason"]
            .as_str()
            .is_some_and(|t| t.starts_with("no mailbox")),
        "{kiosk}"
    );
}
