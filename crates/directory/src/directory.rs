//! The `Directory` trait: the few operations every backend implements.
//!
//! Why a module of its own: this is the contract between the backends and
//! everything above them (bulk engine, CLI, web UI). Keeping it apart from
//! the types and from the composite operations
//! ([`DirectoryExt`](crate::DirectoryExt)) keeps it small enough to read in
//! one sitting — which is the point: a new backend implements six methods
//! and gets everything else for free.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::capabilities::Capabilities;
use crate::error::Result;
use crate::photo::{Photo, PhotoLookup};
use crate::user::{FindResult, User, UserKey, UserQuery};

/// A place where staff photos live: Active Directory, Microsoft 365,
/// Exchange, a plain LDAP directory, a local folder.
///
/// Used as `Arc<dyn Directory>`. `Display` names the target for logs and
/// messages (`ldaps://dc1.corp.example.com (OU=Staff,DC=corp,…)`,
/// `folder:///srv/photos`), and never includes a secret.
///
/// # Contract
///
/// * **One slot.** A directory holds one photo per user, the slot named in
///   [`capabilities`](Directory::capabilities); see the
///   [capabilities module](crate::capabilities) for why.
/// * **Users are passed back as they were returned.** The photo methods take
///   a [`User`] obtained from this directory ([`list_users`] or
///   [`find_users`]); backends address the user by [`User::id`] and may
///   ignore the other fields. A user that no longer exists gives
///   [`Error::NotFound`](crate::Error::NotFound).
/// * **Names match case-insensitively**, as [`normalize_key`] defines
///   (NFC, lower case). Values are data, never syntax: an LDAP backend
///   escapes them (RFC 4515), so `*` matches only a user literally named `*`.
/// * **Limits are checked before sending.** `set_photo` first calls
///   [`Capabilities::check_photo`] and returns
///   [`PhotoRejected`](crate::Error::PhotoRejected) without touching the
///   directory. An operation the capabilities say is unavailable returns
///   [`NotSupported`](crate::Error::NotSupported).
/// * **Writes are idempotent replaces.** Setting the photo a user already has
///   succeeds and leaves it unchanged. **Removing a photo that is not there
///   succeeds** (it is not a `NotFound`): the wanted end state, "no photo",
///   holds. This is the rule for every backend in this project; an LDAP
///   backend maps `noSuchAttribute`, a Graph backend a 404 on the photo, to
///   `Ok(())`.
/// * **Per-user states are answers, not errors.** A user without a mailbox
///   or whose photo we may not read gets [`PhotoLookup::NoMailbox`] or
///   [`PhotoLookup::NotAccessible`] from `get_photo`. Writing to such a user
///   fails with [`Precondition`](crate::Error::Precondition) or
///   [`PermissionDenied`](crate::Error::PermissionDenied) respectively.
/// * **Retries happen inside the backend**, in its transport, honouring
///   `Retry-After`, bounded by a count and a total time. An error that
///   reaches the caller has already been retried; [`is_transient`] tells
///   whether a later attempt (e.g. a resumed run) may succeed. Callers add no
///   second retry loop.
/// * **Cancellation is safe.** Dropping a future may leave a write done or not
///   done, never half done (the folder backend renames a staged file; LDAP
///   and Graph replace in one request).
///
/// # Minimal required methods
///
/// Six methods and no defaults: defaults are convenient for users but
/// error-prone for implementors (a forgotten override silently does the
/// slow or wrong thing). Composite operations — find exactly one user,
/// collect a listing, skip identical photos, verify with patience — are
/// written once in [`DirectoryExt`](crate::DirectoryExt), which every
/// `Directory` gets by a blanket impl and nobody implements.
///
/// # How backends fit
///
/// * **LDAP / AD**: `list_users` drives a paged search (RFC 2696 control,
///   pages ≤ 1,000) with `futures::stream::try_unfold`, yielding entries as
///   each page arrives, so 100,000 users stream in bounded memory.
///   `find_users` groups values into OR-filters (`(|(sAMAccountName=a)(…))`)
///   and sets `supports_batch_lookup`.
/// * **Microsoft Graph**: `list_users` follows `@odata.nextLink` page by
///   page; throttling (429 + `Retry-After`) is retried in the shared
///   transport and surfaces as [`Throttled`](crate::Error::Throttled) only
///   when retries run out. `find_users` uses `$filter` with `in (…)` or
///   JSON batching. `read_after_write` is non-zero.
/// * **Folder**: see [`FolderDirectory`](crate::folder::FolderDirectory).
///
/// # Wrappers
///
/// `Arc<T>` and `Box<T>` of any directory (including `dyn Directory`) are
/// directories too, forwarding every method. Decorators (a concurrency
/// limit, fault injection, dry-run) implement this trait around an inner
/// `Arc<dyn Directory>`.
///
/// [`list_users`]: Directory::list_users
/// [`find_users`]: Directory::find_users
/// [`normalize_key`]: crate::normalize_key
/// [`is_transient`]: crate::Error::is_transient
#[async_trait]
pub trait Directory: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// What this directory holds and supports. Cheap; does no I/O.
    fn capabilities(&self) -> &Capabilities;

    /// Streams the users matching `query`, page by page as the directory
    /// delivers them, each user once, in no guaranteed order.
    ///
    /// An error ends the stream (it is the last item). The stream borrows
    /// only `self`; backends copy what they need from `query`.
    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>>;

    /// Looks up many users by one key in as few round trips as the directory
    /// allows. Returns one [`FindResult`] per value, in the order of
    /// `values` (duplicates answered each time).
    ///
    /// # Errors
    /// [`NotSupported`](crate::Error::NotSupported) for a key not in
    /// [`Capabilities::lookup_keys`]; otherwise only failures of the
    /// directory itself — a value that matches nobody is
    /// [`FindResult::NotFound`], not an error.
    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>>;

    /// The user's current photo in this directory's slot, or why there is
    /// none.
    async fn get_photo(&self, user: &User) -> Result<PhotoLookup>;

    /// Replaces the user's photo with `photo` (idempotent).
    ///
    /// Checks [`Capabilities::check_photo`] before sending anything.
    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()>;

    /// Removes the user's photo. Succeeds when there is none.
    async fn remove_photo(&self, user: &User) -> Result<()>;

    /// Where the directory's owner says photos are managed (Microsoft
    /// 365's `photoUpdateSettings`); `None` for a directory without such
    /// a setting (the default).
    ///
    /// # Errors
    /// When the setting exists but cannot be read (e.g. the permission
    /// `PeopleSettings.Read.All` is missing).
    async fn photo_policy(&self) -> Result<Option<crate::PhotoPolicy>> {
        Ok(None)
    }
}

/// Forwards every method of `Directory` through a smart pointer.
macro_rules! forward_directory {
    ($($ptr:ident),*) => {$(
        #[deny(clippy::missing_trait_methods)]
        #[async_trait]
        impl<T: Directory + ?Sized> Directory for $ptr<T> {
            fn capabilities(&self) -> &Capabilities {
                self.as_ref().capabilities()
            }

            fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
                self.as_ref().list_users(query)
            }

            async fn find_users(
                &self,
                key: UserKey,
                values: &[String],
            ) -> Result<Vec<FindResult>> {
                self.as_ref().find_users(key, values).await
            }

            async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
                self.as_ref().get_photo(user).await
            }

            async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
                self.as_ref().set_photo(user, photo).await
            }

            async fn remove_photo(&self, user: &User) -> Result<()> {
                self.as_ref().remove_photo(user).await
            }

            async fn photo_policy(&self) -> Result<Option<crate::PhotoPolicy>> {
                self.as_ref().photo_policy().await
            }
        }
    )*};
}

forward_directory!(Arc, Box);
