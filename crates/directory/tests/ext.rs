//! The composite operations of `DirectoryExt`, driven through a decorator
//! that makes writes visible only after a delay, as Microsoft 365 does.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::time::Instant;
use userphoto_directory::folder::FolderDirectory;
use userphoto_directory::{
    Capabilities, Directory, DirectoryExt as _, Error, FindResult, Photo, PhotoLookup, Result,
    User, UserKey, UserQuery,
};

/// Shows the photo from before the last write until `delay` has passed.
#[derive(Debug)]
struct Laggy {
    inner: Arc<dyn Directory>,
    delay: Duration,
    /// When the last write happened, and what a read showed before it.
    last_write: Mutex<Option<(Instant, PhotoLookup)>>,
    writes: Mutex<usize>,
}

impl fmt::Display for Laggy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "laggy({})", self.inner)
    }
}

impl Laggy {
    async fn before_write(&self, user: &User) -> Result<()> {
        let old = self.inner.get_photo(user).await?;
        *self.last_write.lock().expect("lock") = Some((Instant::now(), old));
        *self.writes.lock().expect("lock") += 1;
        Ok(())
    }
}

#[async_trait]
impl Directory for Laggy {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        self.inner.list_users(query)
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        self.inner.find_users(key, values).await
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        let stale = self.last_write.lock().expect("lock").clone();
        match stale {
            Some((at, old)) if at.elapsed() < self.delay => Ok(old),
            _ => self.inner.get_photo(user).await,
        }
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.before_write(user).await?;
        self.inner.set_photo(user, photo).await
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        self.before_write(user).await?;
        self.inner.remove_photo(user).await
    }
}

fn jpeg(tag: &str) -> Photo {
    Photo::new([b"\xFF\xD8\xFF".as_slice(), tag.as_bytes()].concat()).expect("jpeg")
}

async fn setup(delay: Duration) -> (tempfile::TempDir, Laggy, User) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let users = [
        User::new("u1")
            .with_sam_account_name("ann")
            .with_display_name("Same Name"),
        User::new("u2")
            .with_sam_account_name("bob")
            .with_display_name("Same Name"),
    ];
    let folder = FolderDirectory::create(tmp.path(), users)
        .await
        .expect("create");
    let dir = Laggy {
        inner: Arc::new(folder),
        delay,
        last_write: Mutex::new(None),
        writes: Mutex::new(0),
    };
    let user = dir
        .find_user(UserKey::SamAccountName, "ANN")
        .await
        .expect("ann");
    (tmp, dir, user)
}

/// Paused time: the waits cost no wall-clock time.
#[tokio::test(start_paused = true)]
async fn verify_waits_for_a_slow_directory() {
    let (_tmp, dir, user) = setup(Duration::from_millis(700)).await;
    let photo = jpeg("new");
    dir.set_photo(&user, &photo).await.expect("set");

    let err = dir
        .verify_photo(&user, photo.digest(), Duration::ZERO)
        .await
        .expect_err("too soon");
    match &err {
        Error::NotVerified {
            expected, found, ..
        } => {
            assert_eq!(expected.as_deref(), Some(photo.digest()));
            assert_eq!(found, &None);
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains("reads back as no photo instead of sha256"),
        "{err}"
    );

    let started = Instant::now();
    dir.verify_photo(&user, photo.digest(), Duration::from_secs(5))
        .await
        .expect("in time");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    dir.remove_photo(&user).await.expect("remove");
    dir.verify_no_photo(&user, Duration::from_secs(5))
        .await
        .expect("removed in time");
}

#[tokio::test]
async fn identical_photos_are_not_written_again() {
    let (_tmp, dir, user) = setup(Duration::ZERO).await;
    let photo = jpeg("same");
    assert!(dir
        .set_photo_if_changed(&user, &photo)
        .await
        .expect("first"));
    assert!(!dir
        .set_photo_if_changed(&user, &photo)
        .await
        .expect("second"));
    assert!(dir
        .set_photo_if_changed(&user, &jpeg("other"))
        .await
        .expect("third"));
    assert_eq!(*dir.writes.lock().expect("lock"), 2);

    assert!(dir.remove_photo_if_present(&user).await.expect("remove"));
    assert!(!dir.remove_photo_if_present(&user).await.expect("again"));
}

#[tokio::test]
async fn find_user_explains_missing_and_ambiguous_names() {
    let (_tmp, dir, _user) = setup(Duration::ZERO).await;
    let err = dir
        .find_user(UserKey::SamAccountName, "carol")
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("the user with sam-account-name \"carol\" in laggy(folder://"),
        "{err}"
    );

    let err = dir
        .find_user(UserKey::DisplayName, "same name")
        .await
        .expect_err("ambiguous");
    let text = err.to_string();
    assert!(text.contains("matches 2 users by display-name"), "{text}");
    assert!(
        text.contains("Same Name (u1)") && text.contains("Same Name (u2)"),
        "{text}"
    );

    let all = dir.collect_users(&UserQuery::all()).await.expect("all");
    assert_eq!(all.len(), 2);
}
