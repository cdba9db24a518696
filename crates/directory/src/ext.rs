//! Composite operations, written once on top of [`Directory`].
//!
//! Why a module of its own: "find exactly one user", "skip if identical",
//! "verify with patience" are the same for every backend. Written here once,
//! they behave the same against AD, Graph and a folder, and a backend cannot
//! get them subtly wrong. Nobody implements [`DirectoryExt`]; every
//! `Directory` (including `dyn Directory`, `Arc<dyn Directory>`) has it.

use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt as _;
use tokio::time::Instant;

use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{FindResult, User, UserKey, UserQuery};

/// The first pause between read-backs in [`DirectoryExt::verify_photo`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between read-backs.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Operations built from [`Directory`]'s required methods. Implemented for
/// every directory; do not implement it yourself.
#[async_trait]
pub trait DirectoryExt: Directory {
    /// The one user whose `key` is `value` (ignoring case).
    ///
    /// # Errors
    /// [`Error::NotFound`] when nobody matches, [`Error::Ambiguous`] (with
    /// the candidates) when several do, and any error of the lookup.
    async fn find_user(&self, key: UserKey, value: &str) -> Result<User> {
        let results = self.find_users(key, &[value.to_owned()]).await?;
        match results.into_iter().next() {
            Some(FindResult::Found(user)) => Ok(user),
            Some(FindResult::NotFound) => Err(Error::NotFound {
                what: format!("the user with {key} {value:?} in {self}"),
            }),
            Some(FindResult::Ambiguous(users)) => Err(Error::Ambiguous {
                key,
                value: value.to_owned(),
                candidates: users.iter().map(ToString::to_string).collect(),
            }),
            None => Err(Error::other(
                self,
                "the lookup returned no answer for the value asked",
            )),
        }
    }

    /// Every user matching `query`, collected into a `Vec` (prefer the
    /// stream from [`Directory::list_users`] for large directories).
    async fn collect_users(&self, query: &UserQuery) -> Result<Vec<User>> {
        self.list_users(query).try_collect().await
    }

    /// Writes `photo` unless the user already has exactly these bytes (same
    /// SHA-256). Returns whether it wrote.
    ///
    /// Directories that cannot read photos are always written to.
    async fn set_photo_if_changed(&self, user: &User, photo: &Photo) -> Result<bool> {
        if self.capabilities().can_read {
            if let PhotoLookup::Photo(current) = self.get_photo(user).await? {
                if current.digest() == photo.digest() {
                    return Ok(false);
                }
            }
        }
        self.set_photo(user, photo).await?;
        Ok(true)
    }

    /// Removes the user's photo if there is one. Returns whether there was.
    async fn remove_photo_if_present(&self, user: &User) -> Result<bool> {
        if self.capabilities().can_read && self.get_photo(user).await?.photo().is_none() {
            return Ok(false);
        }
        self.remove_photo(user).await?;
        Ok(true)
    }

    /// Reads the photo back until its SHA-256 is `expected_digest`, waiting
    /// up to `patience` in total with growing pauses (Microsoft 365 may take
    /// seconds to show a photo just written). Transient errors during the
    /// wait are retried.
    ///
    /// # Errors
    /// [`Error::NotVerified`] when the photo still differs after `patience`;
    /// [`Error::Precondition`] for a user with no mailbox;
    /// [`Error::PermissionDenied`] when the photo cannot be read.
    async fn verify_photo(
        &self,
        user: &User,
        expected_digest: &str,
        patience: Duration,
    ) -> Result<()> {
        await_photo(self, user, Some(expected_digest), patience).await
    }

    /// Reads the photo back until there is none, waiting up to `patience`.
    ///
    /// # Errors
    /// As for [`verify_photo`](DirectoryExt::verify_photo).
    async fn verify_no_photo(&self, user: &User, patience: Duration) -> Result<()> {
        await_photo(self, user, None, patience).await
    }
}

impl<T: Directory + ?Sized> DirectoryExt for T {}

/// Polls `get_photo` until it shows `expected` (`None`: no photo).
async fn await_photo<D: Directory + ?Sized>(
    dir: &D,
    user: &User,
    expected: Option<&str>,
    patience: Duration,
) -> Result<()> {
    let deadline = Instant::now() + patience;
    let mut pause = FIRST_PAUSE;
    loop {
        let found = match dir.get_photo(user).await {
            Ok(PhotoLookup::Photo(photo)) => Some(photo.digest().to_owned()),
            Ok(PhotoLookup::NoPhoto) => None,
            Ok(PhotoLookup::NoMailbox) if expected.is_none() => None,
            Ok(PhotoLookup::NoMailbox) => {
                return Err(Error::Precondition {
                    message: format!(
                        "{user} has no mailbox in {dir}, so it holds no photo there; give the user a mailbox or write to Active Directory instead"
                    ),
                })
            }
            Ok(PhotoLookup::NotAccessible { reason }) => {
                return Err(Error::PermissionDenied {
                    message: format!("the photo of {user} cannot be read back from {dir}: {reason}"),
                    hint: "grant read access to the photo, or skip verification".to_owned(),
                })
            }
            Err(e) if e.is_transient() && Instant::now() + pause <= deadline => {
                tracing::debug!(%user, error = %e, "verify: transient error, retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                continue;
            }
            Err(e) => return Err(e),
        };
        if found.as_deref() == expected {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::NotVerified {
                user: user.to_string(),
                expected: expected.map(str::to_owned),
                found,
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
