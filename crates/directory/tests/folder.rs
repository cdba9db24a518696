//! Behaviour of the folder backend beyond the shared suite: the files on
//! disk, the users file, awkward ids, and what a person sees when
//! something is wrong.

use std::path::Path;

use userphoto_directory::folder::{Access, FolderDirectory, FolderOptions, FolderUser, USERS_FILE};
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, FindResult, Photo, PhotoLookup, User, UserKey, UserQuery,
};

fn jpeg(tag: &str) -> Photo {
    Photo::new([b"\xFF\xD8\xFF\xE0".as_slice(), tag.as_bytes(), b"\xFF\xD9"].concat())
        .expect("jpeg")
}

fn png() -> Photo {
    Photo::new(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()).expect("png")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn demo(path: &Path) -> FolderDirectory {
    let users = vec![
        FolderUser::from(
            User::new("jsmith")
                .with_sam_account_name("John.Smith")
                .with_display_name("John Smith"),
        ),
        FolderUser::from(User::new("CN=Doe\\, Jane,OU=Staff").with_sam_account_name("jane.doe")),
        FolderUser::from(User::new("../escape").with_sam_account_name("escape")),
        FolderUser::from(User::new("rene").with_sam_account_name("Ren\u{e9}")),
        FolderUser::new(
            User::new("room1").with_sam_account_name("room1"),
            Access::NoMailbox,
        ),
        FolderUser::new(
            User::new("ceo").with_sam_account_name("ceo"),
            Access::NotAccessible,
        ),
    ];
    FolderDirectory::create(path, users).await.expect("create")
}

#[tokio::test]
async fn photos_are_plain_files_written_atomically() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    let photos = tmp.path().join("photos");
    let user = dir.find_user(UserKey::Id, "jsmith").await.expect("user");

    dir.set_photo(&user, &jpeg("one")).await.expect("set");
    assert_eq!(
        files_in(&photos),
        ["jsmith.jpg"],
        "no staged files are left behind"
    );
    assert_eq!(
        std::fs::read(photos.join("jsmith.jpg")).expect("read"),
        jpeg("one").bytes()
    );

    dir.set_photo(&user, &png()).await.expect("set png");
    assert_eq!(
        files_in(&photos),
        ["jsmith.png"],
        "the JPEG is replaced by the PNG"
    );
    assert_eq!(
        dir.get_photo(&user).await.expect("get"),
        PhotoLookup::Photo(png())
    );

    dir.remove_photo(&user).await.expect("remove");
    assert!(files_in(&photos).is_empty());
    assert_eq!(
        dir.get_photo(&user).await.expect("get"),
        PhotoLookup::NoPhoto
    );
}

#[tokio::test]
async fn awkward_ids_stay_inside_the_photo_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    for id in ["CN=Doe\\, Jane,OU=Staff", "../escape"] {
        let user = dir.find_user(UserKey::Id, id).await.expect("user");
        dir.set_photo(&user, &jpeg(id)).await.expect("set");
        assert_eq!(
            dir.get_photo(&user).await.expect("get").photo(),
            Some(&jpeg(id))
        );
    }
    assert_eq!(
        files_in(&tmp.path().join("photos")),
        [
            "%2E.%2Fescape.jpg",
            "CN%3DDoe%5C%2C%20Jane%2COU%3DStaff.jpg"
        ]
    );
    assert_eq!(files_in(tmp.path()), ["photos", USERS_FILE]);
}

#[tokio::test]
async fn reopening_reads_the_same_users_and_photos() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    let user = dir
        .find_user(UserKey::SamAccountName, "john.smith")
        .await
        .expect("user");
    dir.set_photo(&user, &jpeg("kept")).await.expect("set");
    let users = dir.users().to_vec();
    drop(dir);

    let again = FolderDirectory::open(tmp.path()).await.expect("open");
    assert_eq!(again.users(), users.as_slice());
    assert_eq!(
        again.get_photo(&user).await.expect("get").photo(),
        Some(&jpeg("kept"))
    );

    let err = FolderDirectory::create(tmp.path(), Vec::<User>::new())
        .await
        .expect_err("exists");
    assert!(
        err.to_string().contains("already exists; open the folder"),
        "{err}"
    );
}

#[tokio::test]
async fn names_match_ignoring_case_and_unicode_form() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    // "René" as macOS writes it in a file name: e + combining acute accent.
    let values = [
        "RENE\u{301}".to_owned(),
        "john.SMITH".to_owned(),
        "nobody".to_owned(),
    ];
    let results = dir
        .find_users(UserKey::SamAccountName, &values)
        .await
        .expect("find");
    assert_eq!(results[0].user().map(|u| u.id.as_str()), Some("rene"));
    assert_eq!(results[1].user().map(|u| u.id.as_str()), Some("jsmith"));
    assert_eq!(results[2], FindResult::NotFound);

    let found = dir
        .collect_users(&UserQuery::search("JOHN"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "jsmith");
}

#[tokio::test]
async fn access_states_read_as_answers_and_refuse_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    let room = dir.find_user(UserKey::Id, "room1").await.expect("room");
    let ceo = dir.find_user(UserKey::Id, "ceo").await.expect("ceo");

    assert_eq!(
        dir.get_photo(&room).await.expect("get"),
        PhotoLookup::NoMailbox
    );
    let err = dir
        .set_photo(&room, &jpeg("x"))
        .await
        .expect_err("no mailbox");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert!(err.to_string().contains("has no mailbox"), "{err}");

    assert!(matches!(
        dir.get_photo(&ceo).await.expect("get"),
        PhotoLookup::NotAccessible { .. }
    ));
    let err = dir.remove_photo(&ceo).await.expect_err("denied");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert!(
        err.to_string().contains("set its access column to ok"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_users_and_broken_files_say_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;

    let ghost = User::new("ghost");
    let err = dir.get_photo(&ghost).await.expect_err("unknown");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("\"ghost\""), "{err}");

    std::fs::write(tmp.path().join("photos/jsmith.jpg"), b"not a photo").expect("write");
    let user = dir.find_user(UserKey::Id, "jsmith").await.expect("user");
    let err = dir.get_photo(&user).await.expect_err("corrupt");
    assert!(
        err.to_string().contains("jsmith.jpg is not a JPEG or PNG"),
        "{err}"
    );

    let missing = tmp.path().join("nowhere");
    let err = FolderDirectory::open(&missing).await.expect_err("missing");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    assert!(
        err.to_string().contains("users.csv does not exist"),
        "{err}"
    );

    std::fs::write(tmp.path().join(USERS_FILE), "id,enabled\nx,perhaps\n").expect("write");
    let err = FolderDirectory::open(tmp.path())
        .await
        .expect_err("bad users file");
    assert!(
        err.to_string()
            .contains("users.csv line 2: enabled is \"perhaps\""),
        "{err}"
    );
}

#[tokio::test]
async fn limits_are_enforced_before_writing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let users = [User::new("a")];
    let options = FolderOptions::new().with_max_bytes(10);
    let dir = FolderDirectory::create_with(tmp.path(), users, options)
        .await
        .expect("create");
    let user = dir.find_user(UserKey::Id, "a").await.expect("user");
    let err = dir
        .set_photo(&user, &jpeg("longer than ten bytes"))
        .await
        .expect_err("too big");
    assert!(matches!(err, Error::PhotoRejected { .. }), "{err}");
    assert!(files_in(&tmp.path().join("photos")).is_empty());
}

#[tokio::test]
async fn display_and_debug_name_the_folder_not_the_users() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = demo(tmp.path()).await;
    let shown = dir.to_string();
    assert!(shown.starts_with("folder://"), "{shown}");
    assert!(
        shown.ends_with(&tmp.path().display().to_string()),
        "{shown}"
    );
    let debug = format!("{dir:?}");
    assert!(
        debug.contains("users: 6") && !debug.contains("jsmith"),
        "{debug}"
    );
}

/// Ids that are device names or end in a dot or space on Windows get
/// photo files of their own, distinct from each other's and from the
/// plain id's, with names Windows keeps as written (under Wine too: this
/// runs in the Windows build's tests).
#[tokio::test]
async fn ids_windows_forbids_as_file_names_get_files_of_their_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // (A trailing space cannot be tried here: the users file trims ids.)
    let ids = [
        "CON", "aux.jpg", "nul", "com1", "smith.", "smith", "C:\\x", "a?b*",
    ];
    let users: Vec<FolderUser> = ids
        .iter()
        .map(|id| FolderUser::from(User::new(*id).with_sam_account_name(*id)))
        .collect();
    let dir = FolderDirectory::create(tmp.path(), users)
        .await
        .expect("create");
    for id in ids {
        let user = dir.find_user(UserKey::Id, id).await.expect("user");
        dir.set_photo(&user, &jpeg(id)).await.expect(id);
    }
    for id in ids {
        let user = dir.find_user(UserKey::Id, id).await.expect("user");
        assert_eq!(
            dir.get_photo(&user).await.expect("get"),
            PhotoLookup::Photo(jpeg(id)),
            "{id:?} reads back its own photo"
        );
    }
    let names = files_in(&tmp.path().join("photos"));
    assert_eq!(names.len(), ids.len(), "{names:?}");
    for name in &names {
        assert!(
            userphoto_directory::file_name::is_windows_safe(name),
            "{name:?}"
        );
    }
}
