//! The `folder` backend: a real directory kept in a local folder.
//!
//! Why it exists: the demo, the tests that need no server, and exporting
//! photos all want a directory that behaves like the real ones — users with
//! every key, photos that can be read, written and removed, users without a
//! mailbox or out of reach — without a network. It is not a mock: it passes
//! the same conformance suite (module `conformance`) as the LDAP and Graph
//! backends (feature `conformance`).
//!
//! # Layout
//!
//! ```text
//! <folder>/users.csv            id,sam_account_name,upn,mail,alias,employee_id,display_name,enabled,access
//! <folder>/photos/<id>.jpg      the photo of user <id> (or <id>.png)
//! ```
//!
//! * `users.csv` has a header row; only `id` is required, columns may come in
//!   any order, empty cells mean "not set", lines starting with `#` are
//!   comments. `enabled` is `true`/`false`; `access` is `ok` (default),
//!   `no-mailbox` or `not-accessible` (see [`Access`]). Ids must be unique
//!   ignoring case. The file is read when the folder is opened; open it
//!   again to see later edits.
//! * A photo's file name is the id with anything unsafe percent-encoded
//!   (`CN=A,OU=B` → `CN%3DA%2COU%3DB.jpg`), so any id works on every OS.
//! * Writes are atomic: the photo is staged as `photos/.staged-*.tmp`,
//!   flushed, and renamed over the old one (then the folder is flushed).
//!   Staged files are created readable by the owner only.
//! * All file access runs on tokio's blocking pool, never on the runtime.

mod files;
pub(crate) mod users_file;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt as _};

use crate::capabilities::{Capabilities, PhotoSlot};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{normalize_key, FindResult, User, UserKey, UserQuery};

use self::files::FolderError;
pub use self::users_file::{Access, FolderUser, COLUMNS};

/// The users file's name inside the folder.
pub const USERS_FILE: &str = "users.csv";
/// The photo folder's name inside the folder.
pub const PHOTOS_DIR: &str = "photos";

/// How a folder directory behaves: its slot, size limit, listing key, and
/// whether it may be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderOptions {
    slot: PhotoSlot,
    max_bytes: Option<usize>,
    read_only: bool,
    listing_key: UserKey,
}

impl Default for FolderOptions {
    /// The HD slot with its limits (4 MB, JPEG or PNG), writable, listed by
    /// sAMAccountName.
    fn default() -> Self {
        FolderOptions {
            slot: PhotoSlot::Hd,
            max_bytes: None,
            read_only: false,
            listing_key: UserKey::SamAccountName,
        }
    }
}

impl FolderOptions {
    /// The defaults (see [`Default`]).
    pub fn new() -> Self {
        FolderOptions::default()
    }

    /// Which photo slot the folder stands for (its limits follow, unless
    /// [`with_max_bytes`](Self::with_max_bytes) overrides them).
    pub fn with_slot(mut self, slot: PhotoSlot) -> Self {
        self.slot = slot;
        self
    }

    /// The largest photo accepted, in bytes.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Refuse writes and removals ([`Error::NotSupported`]); for browsing an
    /// export.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The key bulk file names are matched against.
    pub fn with_listing_key(mut self, key: UserKey) -> Self {
        self.listing_key = key;
        self
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::for_slot(self.slot)
            .with_operations(true, !self.read_only, !self.read_only)
            .with_lookup(UserKey::ALL, true)
            .with_concurrency(8)
            .with_listing_key(self.listing_key, column_name(self.listing_key));
        if let Some(max) = self.max_bytes {
            caps = caps.with_max_bytes(max);
        }
        caps
    }
}

fn column_name(key: UserKey) -> &'static str {
    match key {
        UserKey::SamAccountName => "sam_account_name",
        UserKey::Upn => "upn",
        UserKey::Mail => "mail",
        UserKey::Alias => "alias",
        UserKey::EmployeeId => "employee_id",
        UserKey::Id => "id",
        UserKey::DisplayName => "display_name",
    }
}

/// A directory stored in a local folder (see the [module docs](self)).
pub struct FolderDirectory {
    root: PathBuf,
    photos: PathBuf,
    users: Vec<FolderUser>,
    /// Normalised id → index in `users`.
    by_id: HashMap<String, usize>,
    caps: Capabilities,
}

impl FolderDirectory {
    /// Makes a new folder directory at `path` (created if missing) holding
    /// `users`, with default [`FolderOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `path` already has a users file or the
    /// ids are not unique; file errors otherwise.
    pub async fn create<U: Into<FolderUser>>(
        path: impl AsRef<Path>,
        users: impl IntoIterator<Item = U>,
    ) -> Result<Self> {
        Self::create_with(path, users, FolderOptions::default()).await
    }

    /// Like [`create`](Self::create), with options.
    ///
    /// # Errors
    /// As for [`create`](Self::create).
    pub async fn create_with<U: Into<FolderUser>>(
        path: impl AsRef<Path>,
        users: impl IntoIterator<Item = U>,
        options: FolderOptions,
    ) -> Result<Self> {
        let root = absolute(path.as_ref())?;
        let users: Vec<FolderUser> = users.into_iter().map(Into::into).collect();
        let users_path = root.join(USERS_FILE);
        users_file::check_unique(&users_path, &users)?;
        let text = users_file::render(&users)?;
        let photos = root.join(PHOTOS_DIR);
        let (p, u) = (photos.clone(), users_path.clone());
        blocking(move || {
            std::fs::create_dir_all(&p)
                .map_err(|e| FolderError::io("create the folder", &p, e))?;
            if u.exists() {
                return Ok(Err(Error::InvalidConfig {
                    message: format!(
                        "{} already exists; open the folder instead of creating it, or pick an empty folder",
                        u.display()
                    ),
                }));
            }
            files::write_atomic(&u, &text)?;
            Ok(Ok(()))
        })
        .await??;
        Ok(Self::from_parts(root, users, &options))
    }

    /// Opens the folder directory at `path` with default [`FolderOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the users file is missing or wrong (the
    /// message names the line and what to write instead).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, FolderOptions::default()).await
    }

    /// Like [`open`](Self::open), with options.
    ///
    /// # Errors
    /// As for [`open`](Self::open).
    pub async fn open_with(path: impl AsRef<Path>, options: FolderOptions) -> Result<Self> {
        let root = absolute(path.as_ref())?;
        let users_path = root.join(USERS_FILE);
        let photos = root.join(PHOTOS_DIR);
        let (u, p) = (users_path.clone(), photos);
        let text = blocking(move || {
            let text = match std::fs::read(&u) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Err(Error::InvalidConfig {
                        message: format!(
                            "{} does not exist; a folder directory needs a users file with the columns {}",
                            u.display(),
                            COLUMNS.join(",")
                        ),
                    }))
                }
                Err(e) => return Err(FolderError::io("read", &u, e)),
            };
            std::fs::create_dir_all(&p)
                .map_err(|e| FolderError::io("create the folder", &p, e))?;
            Ok(Ok(text))
        })
        .await??;
        let users = users_file::parse(&users_path, &text)?;
        Ok(Self::from_parts(root, users, &options))
    }

    fn from_parts(root: PathBuf, users: Vec<FolderUser>, options: &FolderOptions) -> Self {
        let by_id = users
            .iter()
            .enumerate()
            .map(|(i, u)| (normalize_key(&u.user.id), i))
            .collect();
        FolderDirectory {
            photos: root.join(PHOTOS_DIR),
            root,
            users,
            by_id,
            caps: options.capabilities(),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every user in the users file, in file order.
    pub fn users(&self) -> &[FolderUser] {
        &self.users
    }

    /// The user's row, or `NotFound`.
    fn entry(&self, user: &User) -> Result<&FolderUser> {
        self.by_id
            .get(&normalize_key(&user.id))
            .and_then(|&i| self.users.get(i))
            .ok_or_else(|| Error::NotFound {
                what: format!("the user with id {:?} in {self}", user.id),
            })
    }

    /// The user's row, if its photo may be written.
    fn writable_entry(&self, user: &User) -> Result<&FolderUser> {
        let entry = self.entry(user)?;
        match entry.access {
            Access::Ok => Ok(entry),
            Access::NoMailbox => Err(Error::Precondition {
                message: format!(
                    "{} has no mailbox in {self}, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead",
                    entry.user
                ),
            }),
            Access::NotAccessible => Err(Error::PermissionDenied {
                message: format!("changing the photo of {} is not permitted in {self}", entry.user),
                hint: format!("the users file marks this user not-accessible; set its access column to ok in {}", self.root.join(USERS_FILE).display()),
            }),
        }
    }
}

impl fmt::Display for FolderDirectory {
    /// `folder:///path/to/folder`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.root.display().to_string();
        if path.starts_with('/') {
            write!(f, "folder://{path}")
        } else {
            write!(f, "folder:///{path}")
        }
    }
}

impl fmt::Debug for FolderDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FolderDirectory")
            .field("root", &self.root)
            .field("users", &self.users.len())
            .field("slot", &self.caps.slot)
            .field("max_bytes", &self.caps.max_bytes)
            .field("read_only", &!self.caps.can_write)
            .finish()
    }
}

#[async_trait]
impl Directory for FolderDirectory {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        let query = query.clone();
        let limit = query.limit.unwrap_or(usize::MAX);
        stream::iter(self.users.iter())
            .filter(move |u| std::future::ready(query.matches(&u.user)))
            .take(limit)
            .map(|u| Ok(u.user.clone()))
            .boxed()
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        self.caps.ensure_key(key, self)?;
        let mut index: HashMap<String, Vec<&User>> = HashMap::new();
        for u in &self.users {
            if let Some(v) = u.user.key(key) {
                index.entry(normalize_key(v)).or_default().push(&u.user);
            }
        }
        Ok(values
            .iter()
            .map(|v| {
                let matches = index.get(&normalize_key(v)).map_or(&[][..], Vec::as_slice);
                FindResult::from_matches(matches.iter().map(|u| (*u).clone()).collect())
            })
            .collect())
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        self.caps.ensure_read(self)?;
        let entry = self.entry(user)?;
        match entry.access {
            Access::Ok => {}
            Access::NoMailbox => return Ok(PhotoLookup::NoMailbox),
            Access::NotAccessible => {
                return Ok(PhotoLookup::NotAccessible {
                    reason: "the users file marks this user not-accessible".to_owned(),
                })
            }
        }
        let (photos, stem) = (self.photos.clone(), files::file_stem(&entry.user.id));
        match blocking(move || files::read_photo(&photos, &stem)).await? {
            Some(bytes) => Ok(PhotoLookup::Photo(Photo::new(bytes)?)),
            None => Ok(PhotoLookup::NoPhoto),
        }
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.caps.ensure_write(self)?;
        self.caps.check_photo(photo)?;
        let entry = self.writable_entry(user)?;
        let (photos, stem) = (self.photos.clone(), files::file_stem(&entry.user.id));
        let (format, bytes) = (photo.format(), photo.clone());
        blocking(move || files::write_photo(&photos, &stem, format, bytes.bytes())).await?;
        tracing::debug!(user = %entry.user, photo = %photo, "folder: photo written");
        Ok(())
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        self.caps.ensure_delete(self)?;
        let entry = self.writable_entry(user)?;
        let (photos, stem) = (self.photos.clone(), files::file_stem(&entry.user.id));
        blocking(move || files::remove_photo(&photos, &stem)).await?;
        tracing::debug!(user = %entry.user, "folder: photo removed");
        Ok(())
    }
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FolderError> + Send + 'static,
) -> Result<T, Error> {
    let joined = tokio::task::spawn_blocking(work)
        .await
        .map_err(FolderError::from)?;
    Ok(joined?)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::InvalidConfig {
        message: format!(
            "the folder path {} cannot be used ({e}); give a valid path",
            path.display()
        ),
    })
}
