//! Where staff photos live, behind one trait.
//!
//! This crate is the foundation the bulk engine, the CLI and the web UI stand
//! on. It defines:
//!
//! * [`Directory`] — the few operations every backend implements: list and
//!   search users (paged, streamed), find users by a key in batches, get,
//!   set and remove a user's photo, and report its [`Capabilities`];
//! * [`DirectoryExt`] — operations composed from those, written once:
//!   find exactly one user, skip identical photos, verify with patience;
//! * the domain types — [`User`] and [`UserKey`], [`Photo`] (validated
//!   bytes with a digest), [`PhotoLookup`] (photo / no photo / no mailbox /
//!   not accessible), [`PhotoSlot`], and the one [`Error`] enum;
//! * backends, one module each — today [`folder`] (a real directory in a
//!   local folder, for the demo, tests and export) and [`ldap`] (Active
//!   Directory's `thumbnailPhoto` and plain LDAP's `jpegPhoto`); Microsoft
//!   Graph ([`graph`]), EWS ([`ews`]) and Google Workspace ([`google`])
//!   follow the same shape;
//! * the `conformance` module (feature `conformance`), a suite: the same checks run
//!   against every backend, confined to a test scope.
//!
//! ```no_run
//! use std::sync::Arc;
//! use userphoto_directory::{Directory, DirectoryExt, Photo, UserKey};
//! use userphoto_directory::folder::FolderDirectory;
//!
//! # async fn demo() -> userphoto_directory::Result<()> {
//! let dir: Arc<dyn Directory> = Arc::new(FolderDirectory::open("sandbox").await?);
//! let user = dir.find_user(UserKey::SamAccountName, "John.Smith").await?;
//! let photo = Photo::new(std::fs::read("john.jpg").unwrap_or_default())?;
//! if dir.set_photo_if_changed(&user, &photo).await? {
//!     dir.verify_photo(&user, photo.digest(), dir.capabilities().read_after_write).await?;
//! }
//! # Ok(()) }
//! ```

#![deny(rustdoc::broken_intra_doc_links)]

pub mod capabilities;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod directory;
pub mod error;
pub mod ews;
mod ext;
pub mod file_name;
pub mod folder;
#[doc(hidden)]
pub mod fuzzing;
pub mod google;
pub mod graph;
mod kind;
pub mod ldap;
pub mod limited;
pub mod photo;
pub mod policy;
pub mod private_fs;
mod target;
pub mod user;

pub use crate::capabilities::{Capabilities, PhotoSlot};
pub use crate::directory::Directory;
pub use crate::error::{Error, Result};
pub use crate::ext::DirectoryExt;
pub use crate::limited::Limited;
pub use crate::photo::{sha256_hex, Photo, PhotoFormat, PhotoLookup};
pub use crate::policy::{PhotoPolicy, PhotoSource};
pub use crate::user::{keys_equal, normalize_key, FindResult, User, UserKey, UserQuery};
