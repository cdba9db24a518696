//! Delegated sign-in: the device code flow against the Graph emulator, the
//! saved refresh token (rotated on use, readable only by the user), and a
//! directory that signs in with it.

mod graph_common;

use std::time::Duration;

use graph_common::jpeg;
use userphoto_directory::graph::{device_code_login, GraphCredential, GraphDirectory, TokenFile};
use userphoto_directory::{Directory, DirectoryExt as _, Error, UserKey};
use userphoto_emulators::graph::{GraphEmulator, Knobs};

async fn emulator() -> GraphEmulator {
    let mut knobs = Knobs::default();
    knobs.device_code_interval = Duration::ZERO;
    knobs.device_code_pending_polls = 2;
    GraphEmulator::start(knobs).await.expect("emulator")
}

fn delegated(emulator: &GraphEmulator, file: &TokenFile) -> GraphDirectory {
    GraphDirectory::builder(emulator.tenant_id(), emulator.client_id())
        .graph_url(emulator.graph_url())
        .login_url(emulator.login_url())
        .credential(GraphCredential::Delegated(file.clone()))
        .retry(graph_common::quick_retry())
        .build()
        .expect("builds")
}

#[tokio::test]
async fn an_admin_signs_in_once_and_the_token_is_reused_and_rotated() {
    let emulator = emulator().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = TokenFile::new(tmp.path().join("sub/m365.json"));

    // Not signed in yet: one sentence saying what to run.
    let e = delegated(&emulator, &file)
        .sign_in()
        .await
        .expect_err("not signed in");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert!(e.to_string().contains("userphoto login m365"), "{e}");

    let mut shown = None;
    device_code_login(
        &emulator.login_url(),
        &emulator.graph_url(),
        &emulator.tenant_id(),
        &emulator.client_id(),
        &file,
        |prompt| shown = Some(prompt.clone()),
    )
    .await
    .expect("signed in after the pending polls");
    let prompt = shown.expect("the admin was told what to do");
    assert!(prompt.user_code.starts_with("EMU"), "{prompt:?}");
    assert!(prompt.verification_uri.ends_with("/devicelogin"));
    let saved = std::fs::read_to_string(file.path()).expect("saved");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable only by the user: {mode:o}");
    }

    let dir = delegated(&emulator, &file);
    let user = dir
        .find_user(UserKey::Alias, "emu00001")
        .await
        .expect("user");
    dir.set_photo(&user, &jpeg("delegated"))
        .await
        .expect("written");
    assert_eq!(emulator.writes_for(&user.id), 1);
    let rotated = std::fs::read_to_string(file.path()).expect("saved");
    assert_ne!(saved, rotated, "the refresh token was rotated and saved");
    assert!(
        !format!("{dir:?}").contains("refresh."),
        "Debug never shows the token"
    );

    // A new process (a new directory) signs in with the saved token.
    emulator.revoke_tokens();
    let again = delegated(&emulator, &file);
    again
        .get_photo(&user)
        .await
        .expect("read with a refreshed token");

    // The old refresh token no longer works.
    std::fs::write(file.path(), saved).expect("restore the old file");
    let e = delegated(&emulator, &file)
        .sign_in()
        .await
        .expect_err("expired");
    assert!(e.to_string().contains("AADSTS70008"), "{e}");
    assert!(e.to_string().contains("login m365"), "{e}");
}
