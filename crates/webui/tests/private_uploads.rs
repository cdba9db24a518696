//! A folder chosen in the browser is kept under the data folder (not in a
//! shared, possibly RAM-backed /tmp), readable by the user running
//! userphoto only: folders 0700, files 0600 (issue 16). A test binary of
//! its own: the data folder is process-wide.
#![cfg(unix)]

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn uploaded_folders_are_private_and_under_the_data_folder() {
    let data = tempfile::tempdir().expect("tempdir");
    userphoto_webui::local_files::set_data_dir(Some(data.path().to_owned()));
    let app = TestApp::signed_in().await;
    let (status, folder) = app.post_json("/api/folders", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    let id = folder["id"].as_str().expect("id");
    let req = axum::http::Request::post(format!("/api/folders/{id}/files?name=staff%2FAda.jpg"))
        .header("host", common::HOST)
        .body(axum::body::Body::from(common::photo(64, 64)))
        .expect("request");
    let (status, body) = app.json(app.authed_write(req)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let uploads = data.path().join("uploads");
    assert_eq!(mode(&uploads), 0o700);
    let folders: Vec<_> = std::fs::read_dir(&uploads)
        .expect("uploads")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let upload = &folders[0];
    assert_eq!(mode(upload), 0o700, "{}", upload.display());
    assert_eq!(mode(&upload.join("staff")), 0o700, "subfolder");
    assert_eq!(mode(&upload.join("staff/Ada.jpg")), 0o600, "file");
}

#[test]
fn upload_folders_left_by_a_killed_server_are_swept_by_age() {
    let data = tempfile::tempdir().expect("tempdir");
    let uploads = data.path().join("uploads");
    let old = uploads.join("userphoto-upload-old");
    let fresh = uploads.join("userphoto-upload-fresh");
    let other = uploads.join("keep-me");
    for dir in [&old, &fresh, &other] {
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    }
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 24 * 3600);
    std::fs::File::open(&old)
        .and_then(|f| f.set_modified(day_ago))
        .expect("age the folder");
    std::fs::File::open(&other)
        .and_then(|f| f.set_modified(day_ago))
        .expect("age the folder");
    let removed = userphoto_webui::local_files::sweep_stale_uploads(
        data.path(),
        std::time::Duration::from_secs(24 * 3600),
    );
    assert_eq!(removed, 1);
    assert!(!old.exists());
    assert!(fresh.exists(), "a folder in use stays");
    assert!(other.exists(), "only upload folders are touched");
}
