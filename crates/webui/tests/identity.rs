//! Which cloud user the page shows is the one it writes: both go through
//! the library's one identity rule with `[m365] match_order`. A person in
//! AD whose UPN and mail lead to two different cloud users is shown — and
//! written — as the user the configured order finds.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use userphoto_bulk::ops::{Ops, SetOptions};
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{PhotoSlot, User, UserKey};

use common::{photo, TestApp};

/// AD with John; the cloud with one user matching his UPN and another
/// matching his mail (Entra Connect kept the UPN of an old account).
async fn hybrid(root: &std::path::Path) -> (Target, Target) {
    let ad = FolderDirectory::create_with(
        root.join("ad"),
        vec![FolderUser::from(
            User::new("a1")
                .with_sam_account_name("John.Smith")
                .with_upn("john@corp.example.test")
                .with_mail("jsmith@corp.example.test")
                .with_display_name("John Smith"),
        )],
        FolderOptions::new().with_slot(PhotoSlot::Thumbnail),
    )
    .await
    .expect("ad");
    let cloud = FolderDirectory::create_with(
        root.join("cloud"),
        vec![
            FolderUser::from(
                User::new("c-upn")
                    .with_upn("john@corp.example.test")
                    .with_display_name("John (old account)"),
            ),
            FolderUser::from(
                User::new("c-mail")
                    .with_upn("john.smith@corp.example.test")
                    .with_mail("jsmith@corp.example.test")
                    .with_display_name("John Smith"),
            ),
        ],
        FolderOptions::new().with_slot(PhotoSlot::Hd),
    )
    .await
    .expect("cloud");
    (
        Target::new(TargetKind::Ad, Arc::new(ad), "tester"),
        Target::new(TargetKind::M365, Arc::new(cloud), "tester"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_custom_match_order_the_page_shows_and_writes_the_same_cloud_user() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ad, cloud) = hybrid(tmp.path()).await;
    // The mail-matched cloud user has a photo already; the UPN-matched one
    // has none: the pane says which of them it shows.
    Ops::none()
        .set_photo(
            &cloud,
            "c-mail",
            Some(UserKey::Id),
            &photo(700, 700),
            &SetOptions::default(),
        )
        .await
        .expect("seed the cloud photo");
    let cloud_photo = |id: &str| tmp.path().join("cloud/photos").join(format!("{id}.jpg"));
    let seeded = std::fs::read(cloud_photo("c-mail")).expect("seeded photo");

    // Default order (UPN first): the old account is shown.
    let default = TestApp::builder()
        .with_targets(vec![ad.clone(), cloud.clone()], Ops::none())
        .build()
        .await
        .sign_in()
        .await;
    let pane = default.pane("a1", "m365").await;
    assert_eq!(pane["state"], "no-photo", "UPN first finds c-upn: {pane}");

    // `[m365] match_order = ["mail", "upn"]`: the mail-matched user is
    // shown, and the write goes to exactly that user.
    let ops = Ops::none().with_match_order(vec![UserKey::Mail, UserKey::Upn]);
    let app = TestApp::builder()
        .with_targets(vec![ad, cloud], ops)
        .build()
        .await
        .sign_in()
        .await;
    let pane = app.pane("a1", "m365").await;
    assert_eq!(pane["state"], "photo", "mail first finds c-mail: {pane}");
    assert_eq!(
        pane["sha256"],
        userphoto_directory::sha256_hex(&seeded),
        "{pane}"
    );

    let (status, upload) = app.upload(photo(800, 800)).await;
    assert_eq!(status, StatusCode::OK, "{upload}");
    let (status, done) = app
        .post_json(
            "/api/users/a1/import",
            json!({"source": "ad", "upload": upload["id"], "targets": ["m365"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["ok"], true, "{done}");
    let written = std::fs::read(cloud_photo("c-mail")).expect("c-mail's photo");
    assert_ne!(written, seeded, "the shown user's photo was replaced");
    assert!(
        !cloud_photo("c-upn").exists(),
        "the other cloud user was not written"
    );
    let pane = app.pane("a1", "m365").await;
    assert_eq!(
        pane["sha256"],
        userphoto_directory::sha256_hex(&written),
        "the pane shows what was written: {pane}"
    );
}
