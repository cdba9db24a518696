//! Checks of the photo operations. Every change goes through
//! [`TestScope::guard`], and each check puts back the photo it found.

use futures::{stream, StreamExt as _};

use super::{fixtures, scoped_users, writable_users, TestScope};
use crate::directory::Directory;
use crate::error::Error;
use crate::ext::DirectoryExt as _;
use crate::photo::{Photo, PhotoFormat, PhotoLookup};
use crate::user::User;

async fn set(dir: &dyn Directory, scope: &TestScope, user: &User, photo: &Photo) {
    scope.guard(user);
    if let Err(e) = dir.set_photo(user, photo).await {
        panic!("{dir}: set_photo({user}, {photo}) failed: {e}");
    }
}

async fn remove(dir: &dyn Directory, scope: &TestScope, user: &User) {
    scope.guard(user);
    if let Err(e) = dir.remove_photo(user).await {
        panic!("{dir}: remove_photo({user}) failed: {e}");
    }
}

async fn get(dir: &dyn Directory, user: &User) -> PhotoLookup {
    dir.get_photo(user)
        .await
        .unwrap_or_else(|e| panic!("{dir}: get_photo({user}) failed: {e}"))
}

/// Waits (with the scope's patience) until `user` has `photo`, then checks
/// bytes, digest and content type.
async fn expect_photo(dir: &dyn Directory, scope: &TestScope, user: &User, photo: &Photo) {
    let patience = scope.patience_for(dir.capabilities());
    if let Err(e) = dir.verify_photo(user, photo.digest(), patience).await {
        panic!("{dir}: expected {user} to have {photo}: {e}");
    }
    match get(dir, user).await {
        PhotoLookup::Photo(got) => {
            assert_eq!(
                got.digest(),
                photo.digest(),
                "{dir}: digest of {user}'s photo"
            );
            assert_eq!(got.bytes(), photo.bytes(), "{dir}: bytes of {user}'s photo");
            assert_eq!(
                got.content_type(),
                photo.content_type(),
                "{dir}: content type"
            );
        }
        other => panic!("{dir}: expected {user} to have {photo}, got {other}"),
    }
}

/// Waits until `user` has no photo, then checks `get_photo` says `NoPhoto`.
async fn expect_none(dir: &dyn Directory, scope: &TestScope, user: &User) {
    let patience = scope.patience_for(dir.capabilities());
    if let Err(e) = dir.verify_no_photo(user, patience).await {
        panic!("{dir}: expected {user} to have no photo: {e}");
    }
    let got = get(dir, user).await;
    assert_eq!(got, PhotoLookup::NoPhoto, "{dir}: {user} after removal");
}

/// Puts back the photo a check found (`None`: there was none).
async fn restore(dir: &dyn Directory, scope: &TestScope, user: &User, original: Option<Photo>) {
    match original {
        Some(photo) => {
            set(dir, scope, user, &photo).await;
            expect_photo(dir, scope, user, &photo).await;
        }
        None => {
            remove(dir, scope, user).await;
            expect_none(dir, scope, user).await;
        }
    }
}

async fn first_writable(dir: &dyn Directory, scope: &TestScope) -> (User, Option<Photo>) {
    let user = writable_users(dir, scope, 1).await.swap_remove(0);
    let original = get(dir, &user).await.photo().cloned();
    (user, original)
}

/// A user without a photo answers `NoPhoto` (a scoped user without one is
/// used, or one is made by removing a photo).
pub async fn get_without_photo(dir: &dyn Directory, scope: &TestScope) {
    for user in writable_users(dir, scope, 1).await {
        if get(dir, &user).await == PhotoLookup::NoPhoto {
            return;
        }
    }
    assert!(
        dir.capabilities().can_delete,
        "{dir}: every test user has a photo and photos cannot be removed; seed a user without one"
    );
    let (user, original) = first_writable(dir, scope).await;
    remove(dir, scope, &user).await;
    expect_none(dir, scope, &user).await;
    restore(dir, scope, &user, original).await;
}

/// A photo written reads back with the same bytes, digest and type.
pub async fn set_then_get_round_trips(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    let photo = fixtures::jpeg("round-trip");
    set(dir, scope, &user, &photo).await;
    expect_photo(dir, scope, &user, &photo).await;
    restore(dir, scope, &user, original).await;
}

/// Writing the photo a user already has succeeds and changes nothing;
/// `set_photo_if_changed` skips it.
pub async fn identical_set_is_idempotent(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    let photo = fixtures::jpeg("idempotent");
    set(dir, scope, &user, &photo).await;
    expect_photo(dir, scope, &user, &photo).await;
    set(dir, scope, &user, &photo).await;
    expect_photo(dir, scope, &user, &photo).await;
    let wrote = dir.set_photo_if_changed(&user, &photo).await;
    assert!(
        matches!(wrote, Ok(false)),
        "{dir}: an identical photo must be skipped: {wrote:?}"
    );
    restore(dir, scope, &user, original).await;
}

/// A second, different photo replaces the first.
pub async fn replace_photo(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    let (a, b) = (fixtures::jpeg("replace-a"), fixtures::jpeg("replace-b"));
    set(dir, scope, &user, &a).await;
    expect_photo(dir, scope, &user, &a).await;
    scope.guard(&user);
    let wrote = dir.set_photo_if_changed(&user, &b).await;
    assert!(
        matches!(wrote, Ok(true)),
        "{dir}: a different photo must be written: {wrote:?}"
    );
    expect_photo(dir, scope, &user, &b).await;
    restore(dir, scope, &user, original).await;
}

/// After a removal the user has no photo.
pub async fn remove_then_get(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    let photo = fixtures::jpeg("remove");
    set(dir, scope, &user, &photo).await;
    expect_photo(dir, scope, &user, &photo).await;
    remove(dir, scope, &user).await;
    expect_none(dir, scope, &user).await;
    let removed = dir.remove_photo_if_present(&user).await;
    assert!(
        matches!(removed, Ok(false)),
        "{dir}: nothing left to remove: {removed:?}"
    );
    restore(dir, scope, &user, original).await;
}

/// Removing a photo that is not there succeeds (the project-wide rule).
pub async fn remove_absent_is_ok(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    remove(dir, scope, &user).await;
    expect_none(dir, scope, &user).await;
    scope.guard(&user);
    let again = dir.remove_photo(&user).await;
    assert!(
        again.is_ok(),
        "{dir}: removing an absent photo must succeed: {again:?}"
    );
    expect_none(dir, scope, &user).await;
    restore(dir, scope, &user, original).await;
}

/// A photo of `max_bytes` is accepted; one byte more is `PhotoRejected`
/// and the current photo stays.
pub async fn oversized_photo_rejected(dir: &dyn Directory, scope: &TestScope) {
    let max = dir.capabilities().max_bytes;
    assert!(
        max >= fixtures::min_sized_jpeg_len(),
        "{dir}: max_bytes {max} is implausibly small"
    );
    let (user, original) = first_writable(dir, scope).await;
    let current = fixtures::jpeg("before-oversized");
    set(dir, scope, &user, &current).await;
    expect_photo(dir, scope, &user, &current).await;

    let too_big = fixtures::jpeg_of_size("oversized", max + 1);
    scope.guard(&user);
    match dir.set_photo(&user, &too_big).await {
        Err(Error::PhotoRejected { .. }) => {}
        other => panic!(
            "{dir}: a photo of {} bytes (limit {max}) gave {other:?}",
            max + 1
        ),
    }
    expect_photo(dir, scope, &user, &current).await;

    // The limit itself is allowed (skipped above 8 MiB to keep tests quick).
    if max <= 8 * 1024 * 1024 {
        let at_limit = fixtures::jpeg_of_size("at-limit", max);
        set(dir, scope, &user, &at_limit).await;
        expect_photo(dir, scope, &user, &at_limit).await;
    }
    restore(dir, scope, &user, original).await;
}

/// A PNG round-trips where PNG is accepted, and is `PhotoRejected`
/// (changing nothing) where it is not.
pub async fn png_handling(dir: &dyn Directory, scope: &TestScope) {
    let (user, original) = first_writable(dir, scope).await;
    let png = fixtures::png();
    if dir.capabilities().formats.contains(&PhotoFormat::Png) {
        set(dir, scope, &user, &png).await;
        expect_photo(dir, scope, &user, &png).await;
        let jpeg = fixtures::jpeg("after-png");
        set(dir, scope, &user, &jpeg).await;
        expect_photo(dir, scope, &user, &jpeg).await;
    } else {
        let current = fixtures::jpeg("before-png");
        set(dir, scope, &user, &current).await;
        scope.guard(&user);
        match dir.set_photo(&user, &png).await {
            Err(Error::PhotoRejected { .. }) => {}
            other => panic!("{dir}: a PNG where only JPEG is taken gave {other:?}"),
        }
        expect_photo(dir, scope, &user, &current).await;
    }
    restore(dir, scope, &user, original).await;
}

/// Writing different photos to several users at once (at the suggested
/// concurrency) gives each user its own photo.
pub async fn concurrent_writes(dir: &dyn Directory, scope: &TestScope) {
    let users = writable_users(dir, scope, 2).await;
    let mut originals = Vec::new();
    for user in &users {
        originals.push(get(dir, user).await.photo().cloned());
    }
    let photos: Vec<Photo> = users
        .iter()
        .map(|u| fixtures::jpeg(&format!("concurrent {}", u.id)))
        .collect();
    let concurrency = dir.capabilities().suggested_concurrency;
    stream::iter(users.iter().zip(&photos))
        .for_each_concurrent(concurrency, |(user, photo)| set(dir, scope, user, photo))
        .await;
    for (user, photo) in users.iter().zip(&photos) {
        expect_photo(dir, scope, user, photo).await;
    }
    for (user, original) in users.iter().zip(originals) {
        restore(dir, scope, user, original).await;
    }
}

/// The scope's no-mailbox user reads as `NoMailbox` and refuses writes with
/// `Precondition`; its denied user refuses writes with `PermissionDenied`.
pub async fn special_users(dir: &dyn Directory, scope: &TestScope) {
    let caps = dir.capabilities();
    let users = scoped_users(dir, scope).await;
    let named = |name: &str| {
        users
            .iter()
            .find(|u| {
                u.key(scope.key())
                    .is_some_and(|n| crate::keys_equal(n, name))
            })
            .cloned()
            .unwrap_or_else(|| panic!("{dir}: the special test user {name:?} is not in the scope"))
    };
    let photo = fixtures::jpeg("special");
    if let Some(user) = scope.no_mailbox_user().map(named) {
        assert_eq!(
            get(dir, &user).await,
            PhotoLookup::NoMailbox,
            "{dir}: {user} has no mailbox"
        );
        scope.guard(&user);
        if caps.can_write {
            let r = dir.set_photo(&user, &photo).await;
            assert!(
                matches!(r, Err(Error::Precondition { .. })),
                "{dir}: set on {user}: {r:?}"
            );
        }
        if caps.can_delete {
            let r = dir.remove_photo(&user).await;
            assert!(
                matches!(r, Err(Error::Precondition { .. })),
                "{dir}: remove on {user}: {r:?}"
            );
        }
    }
    if let Some(user) = scope.denied_user().map(named) {
        let before = get(dir, &user).await;
        scope.guard(&user);
        if caps.can_write {
            let r = dir.set_photo(&user, &photo).await;
            assert!(
                matches!(r, Err(Error::PermissionDenied { .. })),
                "{dir}: set on {user}: {r:?}"
            );
        }
        if caps.can_delete {
            let r = dir.remove_photo(&user).await;
            assert!(
                matches!(r, Err(Error::PermissionDenied { .. })),
                "{dir}: remove on {user}: {r:?}"
            );
        }
        assert_eq!(
            get(dir, &user).await,
            before,
            "{dir}: a refused write changed {user}"
        );
    }
}
