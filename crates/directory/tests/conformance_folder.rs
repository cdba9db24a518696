//! The conformance suite against the folder backend, in a temp dir: as
//! itself, through `Box<dyn Directory>` and `Arc<dyn Directory>`, read-only,
//! and with the thumbnail slot's limits.

use std::path::Path;
use std::sync::Arc;

use userphoto_directory::conformance::{self, SuiteFlags, TestScope};
use userphoto_directory::folder::{Access, FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, Photo, PhotoLookup, PhotoSlot, User, UserKey,
};

const IN_SCOPE: [&str; 6] = [
    "cf-alice",
    "cf-bob",
    "cf-carol",
    "cf-dave",
    "cf-nomail",
    "cf-locked",
];

fn person(n: usize, sam: &str, display: &str) -> User {
    User::new(format!("id-{n:03}-{sam}"))
        .with_sam_account_name(sam)
        .with_upn(format!("{sam}@corp.example.test"))
        .with_mail(format!("{sam}.mail@example.test"))
        .with_alias(format!("{sam}-alias"))
        .with_employee_id(format!("E{n:05}"))
        .with_display_name(display)
        .with_enabled(true)
}

fn seed_users() -> Vec<FolderUser> {
    vec![
        person(1, "cf-alice", "CF Alice Example").into(),
        person(2, "cf-bob", "CF Bob Example").into(),
        // carol and dave share a display name: ambiguity is checked.
        person(3, "cf-carol", "CF Shared Name").into(),
        person(4, "cf-dave", "CF Shared Name").into(),
        FolderUser::new(person(5, "cf-nomail", "CF No Mailbox"), Access::NoMailbox),
        FolderUser::new(person(6, "cf-locked", "CF Locked"), Access::NotAccessible),
        // Outside the scope: the suite must never touch them.
        person(7, "staff-erin", "Erin Staff").into(),
        person(8, "staff-frank", "Frank Staff").into(),
    ]
}

fn scope() -> TestScope {
    TestScope::new(UserKey::SamAccountName, "cf-", IN_SCOPE)
        .and_then(|s| s.with_no_mailbox_user("cf-nomail"))
        .and_then(|s| s.with_denied_user("cf-locked"))
        .expect("a valid scope")
}

async fn seeded(path: &Path, options: FolderOptions) -> FolderDirectory {
    FolderDirectory::create_with(path, seed_users(), options)
        .await
        .expect("create the folder")
}

fn outsider_photo() -> Photo {
    Photo::new(b"\xFF\xD8\xFF\xE0 outsider photo \xFF\xD9".to_vec()).expect("jpeg")
}

/// Gives an out-of-scope user a photo, runs `check`, and proves the photo
/// is untouched afterwards.
async fn with_outsider_guard(dir: &dyn Directory, check: impl std::future::Future<Output = ()>) {
    let erin = dir
        .find_user(UserKey::SamAccountName, "staff-erin")
        .await
        .expect("erin");
    let frank = dir
        .find_user(UserKey::SamAccountName, "staff-frank")
        .await
        .expect("frank");
    let writable = dir.capabilities().can_write;
    if writable {
        dir.set_photo(&erin, &outsider_photo())
            .await
            .expect("seed erin's photo");
    }
    check.await;
    if writable {
        assert_eq!(
            dir.get_photo(&erin).await.expect("erin"),
            PhotoLookup::Photo(outsider_photo())
        );
    }
    assert_eq!(
        dir.get_photo(&frank).await.expect("frank"),
        PhotoLookup::NoPhoto
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = seeded(tmp.path(), FolderOptions::new()).await;
    with_outsider_guard(&dir, conformance::run_all(&dir, &scope())).await;
}

#[tokio::test]
async fn boxed_folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: Box<dyn Directory> = Box::new(seeded(tmp.path(), FolderOptions::new()).await);
    with_outsider_guard(&dir, conformance::run_all(&dir, &scope())).await;
}

#[tokio::test]
async fn arc_folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: Arc<dyn Directory> = Arc::new(seeded(tmp.path(), FolderOptions::new()).await);
    with_outsider_guard(&dir, conformance::run_all(&dir, &scope())).await;
}

#[tokio::test]
async fn thumbnail_folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = FolderOptions::new().with_slot(PhotoSlot::Thumbnail);
    let dir = seeded(tmp.path(), options).await;
    assert_eq!(dir.capabilities().max_bytes, 102_400);
    with_outsider_guard(&dir, conformance::run_all(&dir, &scope())).await;
}

#[tokio::test]
async fn small_limit_folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = FolderOptions::new()
        .with_slot(PhotoSlot::LdapJpeg)
        .with_max_bytes(2_000);
    let dir = seeded(tmp.path(), options).await;
    with_outsider_guard(&dir, conformance::run_all(&dir, &scope())).await;
}

#[tokio::test]
async fn read_only_folder_passes_the_suite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    drop(seeded(tmp.path(), FolderOptions::new()).await);
    let dir = FolderDirectory::open_with(tmp.path(), FolderOptions::new().read_only(true))
        .await
        .expect("open read-only");
    let flags = SuiteFlags::read_write(UserKey::ALL).with_operations(true, false, false);
    with_outsider_guard(&dir, conformance::run_all_with(&dir, &scope(), &flags)).await;
}

#[tokio::test]
#[should_panic(expected = "capabilities (read, write, delete) differ")]
async fn suite_notices_capabilities_that_differ_from_the_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = seeded(tmp.path(), FolderOptions::new()).await;
    let flags = SuiteFlags::read_write(UserKey::ALL).with_operations(true, false, false);
    conformance::run_all_with(&dir, &scope(), &flags).await;
}

#[tokio::test]
#[should_panic(expected = "seed the test users first")]
async fn suite_refuses_a_scope_whose_users_are_missing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = seeded(tmp.path(), FolderOptions::new()).await;
    let scope =
        TestScope::new(UserKey::SamAccountName, "cf-", ["cf-alice", "cf-zed"]).expect("scope");
    conformance::run_all(&dir, &scope).await;
}

#[tokio::test]
#[should_panic(expected = "refuses to touch")]
async fn guard_refuses_users_outside_the_scope() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = seeded(tmp.path(), FolderOptions::new()).await;
    let erin = dir
        .find_user(UserKey::SamAccountName, "staff-erin")
        .await
        .expect("erin");
    scope().guard(&erin);
}

#[test]
fn scope_rules() {
    let bad = [
        TestScope::new(UserKey::SamAccountName, "c", ["cat"]),
        TestScope::new(UserKey::SamAccountName, "cf-", Vec::<String>::new()),
        TestScope::new(UserKey::SamAccountName, "cf-", ["cf-alice", "staff-erin"]),
        TestScope::new(UserKey::EmployeeId, "E00", ["E00001"]),
    ];
    for scope in bad {
        assert!(
            matches!(scope, Err(Error::InvalidConfig { .. })),
            "{scope:?}"
        );
    }
    assert!(scope().with_denied_user("staff-erin").is_err());

    let s = scope().with_base("OU=Test");
    let inside = User::new("cn=x,ou=test").with_sam_account_name("CF-ALICE");
    let elsewhere = User::new("cn=x,ou=staff").with_sam_account_name("cf-alice");
    let unlisted = User::new("cn=y,ou=test").with_sam_account_name("cf-zed");
    assert!(s.contains(&inside));
    assert!(!s.contains(&elsewhere));
    assert!(!s.contains(&unlisted));
    assert!(!s.is_writable(&User::new("ou=test").with_sam_account_name("cf-locked")));
}

#[test]
fn fixtures_are_exact_and_distinct() {
    use conformance::fixtures;
    let min = fixtures::min_sized_jpeg_len();
    for len in [
        min,
        min + 3,
        70_000,
        65_537 + 662,
        65_537 + 662 + 2,
        102_400,
        102_401,
    ] {
        assert_eq!(fixtures::jpeg_of_size("t", len).len(), len);
    }
    assert_ne!(fixtures::jpeg("a").digest(), fixtures::jpeg("b").digest());
    assert_eq!(fixtures::png().content_type(), "image/png");
}

#[test]
fn only_local_hosts_unless_allowed() {
    for host in ["localhost", "127.0.0.1", "::1", "[::1]", "LOCALHOST"] {
        conformance::require_local_host(host);
    }
    if std::env::var(conformance::ALLOW_REMOTE_ENV).is_err() {
        let refused =
            std::panic::catch_unwind(|| conformance::require_local_host("dc1.corp.example.com"));
        assert!(refused.is_err());
    }
}
