//! What a directory can do, and which photo it holds.
//!
//! Why a module of its own: the targets differ in ways the rest of the
//! program must plan around *before* it talks to them — Active Directory's
//! `thumbnailPhoto` takes 96×96 and at most 100 KB, Microsoft 365 takes
//! 648×648 up to 4 MB, a plain LDAP `jpegPhoto` takes whatever the config
//! says, a read-only export cannot write. [`Capabilities`] states those facts
//! so the imaging pipeline can prepare the right photo, the bulk engine can
//! pick its concurrency and batch sizes, and the UI can grey out what is not
//! possible.
//!
//! # The slot model
//!
//! A [`PhotoSlot`] is *which photo* a target holds: the small AD thumbnail,
//! the high-definition mailbox photo, or an LDAP `jpegPhoto`. **One
//! `Directory` value serves exactly one slot**, named in its capabilities.
//! Writing both the HD photo and the thumbnail of a user (the hybrid case) is
//! two targets — a Graph or EWS directory for [`PhotoSlot::Hd`] and an AD
//! directory for [`PhotoSlot::Thumbnail`] — and the caller orders the writes
//! (HD first, then the thumbnail). This keeps every trait method free of a
//! slot argument that most backends would have to reject.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoFormat};
use crate::user::UserKey;

/// Which photo of a user a target holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PhotoSlot {
    /// Active Directory's `thumbnailPhoto`: 96×96 JPEG, 100 KB hard limit
    /// (schema `rangeUpper` 102400), 10 KB recommended.
    Thumbnail,
    /// The high-definition photo of Microsoft 365 / Entra ID and Exchange:
    /// 648×648, JPEG (or PNG for Graph), at most 4 MB.
    Hd,
    /// A plain LDAP directory's `jpegPhoto`; size and budget come from the
    /// configuration (defaults 240×240, 64 KiB).
    LdapJpeg,
}

impl PhotoSlot {
    /// The square size in pixels photos are prepared at by default.
    pub fn default_pixels(self) -> u32 {
        match self {
            PhotoSlot::Thumbnail => 96,
            PhotoSlot::Hd => 648,
            PhotoSlot::LdapJpeg => 240,
        }
    }

    /// The hard size limit in bytes by default.
    pub fn default_max_bytes(self) -> usize {
        match self {
            PhotoSlot::Thumbnail => 102_400,
            PhotoSlot::Hd => 4 * 1024 * 1024,
            PhotoSlot::LdapJpeg => 64 * 1024,
        }
    }

    /// The byte budget the imaging pipeline aims for by default.
    pub fn default_recommended_bytes(self) -> usize {
        match self {
            PhotoSlot::Thumbnail => 10 * 1024,
            PhotoSlot::Hd => 256 * 1024,
            PhotoSlot::LdapJpeg => 32 * 1024,
        }
    }

    /// The formats the slot takes by default.
    pub fn default_formats(self) -> Vec<PhotoFormat> {
        match self {
            PhotoSlot::Hd => vec![PhotoFormat::Jpeg, PhotoFormat::Png],
            PhotoSlot::Thumbnail | PhotoSlot::LdapJpeg => vec![PhotoFormat::Jpeg],
        }
    }

    /// The name used in configuration and JSON: `thumbnail`, `hd`, `ldap-jpeg`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoSlot::Thumbnail => "thumbnail",
            PhotoSlot::Hd => "hd",
            PhotoSlot::LdapJpeg => "ldap-jpeg",
        }
    }
}

impl fmt::Display for PhotoSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PhotoSlot {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "thumbnail" | "thumbnailphoto" | "ad" => Ok(PhotoSlot::Thumbnail),
            "hd" | "m365" | "exchange" => Ok(PhotoSlot::Hd),
            "ldap-jpeg" | "jpegphoto" | "ldap" => Ok(PhotoSlot::LdapJpeg),
            _ => Err(Error::InvalidConfig {
                message: format!("{s:?} is not a photo slot; use thumbnail, hd or ldap-jpeg"),
            }),
        }
    }
}

/// Static facts about a directory: which photo it holds, its limits, and
/// which operations it supports.
///
/// Build with [`Capabilities::for_slot`] and adjust with the `with_*`
/// methods; the fields are public to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The photo this directory holds (one slot per directory).
    pub slot: PhotoSlot,
    /// Photos larger than this are rejected before sending.
    pub max_bytes: usize,
    /// The byte budget the imaging pipeline should aim for.
    pub recommended_bytes: usize,
    /// The square size in pixels photos should be prepared at.
    pub recommended_pixels: u32,
    /// The formats accepted; others are rejected before sending.
    pub formats: Vec<PhotoFormat>,
    /// Whether [`get_photo`](crate::Directory::get_photo) works.
    pub can_read: bool,
    /// Whether [`set_photo`](crate::Directory::set_photo) works.
    pub can_write: bool,
    /// Whether [`remove_photo`](crate::Directory::remove_photo) works.
    pub can_delete: bool,
    /// Whether one [`find_users`](crate::Directory::find_users) call with
    /// many values costs about one round trip (an LDAP OR-filter, a Graph
    /// batch) rather than one per value. Either way the call accepts any
    /// number of values; this only guides how callers group them.
    pub supports_batch_lookup: bool,
    /// The keys `find_users` can match on. Always includes [`UserKey::Id`].
    pub lookup_keys: Vec<UserKey>,
    /// How many photo operations to run at once for good throughput without
    /// being throttled.
    pub suggested_concurrency: usize,
    /// The key bulk file names are matched against: sAMAccountName
    /// on-premises, the alias in the cloud.
    pub listing_key: UserKey,
    /// The directory's own name for the listing key, for messages and
    /// column headers (`sAMAccountName`, `uid`, `mailNickname`).
    pub listing_attribute: String,
    /// How long a written photo may take to read back (Microsoft 365 is
    /// eventually consistent); zero where a read always sees the last write.
    pub read_after_write: Duration,
    /// When `can_delete` is false and the backend knows why, what
    /// [`ensure_delete`](Self::ensure_delete) says instead of "remove
    /// photos" (EWS: there is no operation; use `Remove-UserPhoto`).
    pub delete_unsupported: Option<&'static str>,
}

impl Capabilities {
    /// Defaults for a read-write directory holding `slot`: the slot's limits,
    /// lookup by id only, no batch lookup, concurrency 4, listing by
    /// sAMAccountName, immediate reads.
    pub fn for_slot(slot: PhotoSlot) -> Self {
        Capabilities {
            slot,
            max_bytes: slot.default_max_bytes(),
            recommended_bytes: slot.default_recommended_bytes(),
            recommended_pixels: slot.default_pixels(),
            formats: slot.default_formats(),
            can_read: true,
            can_write: true,
            can_delete: true,
            supports_batch_lookup: false,
            lookup_keys: vec![UserKey::Id],
            suggested_concurrency: 4,
            listing_key: UserKey::SamAccountName,
            listing_attribute: "sAMAccountName".to_owned(),
            read_after_write: Duration::ZERO,
            delete_unsupported: None,
        }
    }

    /// Sets the hard size limit (and caps the recommended budget to it).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self.recommended_bytes = self.recommended_bytes.min(max_bytes);
        self
    }

    /// Sets the recommended byte budget (capped to the hard limit).
    pub fn with_recommended_bytes(mut self, bytes: usize) -> Self {
        self.recommended_bytes = bytes.min(self.max_bytes);
        self
    }

    /// Sets the recommended square size in pixels.
    pub fn with_recommended_pixels(mut self, pixels: u32) -> Self {
        self.recommended_pixels = pixels;
        self
    }

    /// Sets the accepted formats.
    pub fn with_formats(mut self, formats: impl Into<Vec<PhotoFormat>>) -> Self {
        self.formats = formats.into();
        self
    }

    /// Sets which operations work.
    pub fn with_operations(mut self, can_read: bool, can_write: bool, can_delete: bool) -> Self {
        self.can_read = can_read;
        self.can_write = can_write;
        self.can_delete = can_delete;
        self
    }

    /// Sets the keys `find_users` supports (`Id` is always added) and
    /// whether a batch costs one round trip.
    pub fn with_lookup(mut self, keys: impl IntoIterator<Item = UserKey>, batch: bool) -> Self {
        let mut keys: Vec<UserKey> = keys.into_iter().collect();
        if !keys.contains(&UserKey::Id) {
            keys.push(UserKey::Id);
        }
        keys.sort();
        keys.dedup();
        self.lookup_keys = keys;
        self.supports_batch_lookup = batch;
        self
    }

    /// Sets the suggested concurrency (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.suggested_concurrency = concurrency.max(1);
        self
    }

    /// Sets the listing key and the directory's name for it.
    pub fn with_listing_key(mut self, key: UserKey, attribute: impl Into<String>) -> Self {
        self.listing_key = key;
        self.listing_attribute = attribute.into();
        self
    }

    /// Sets how long a write may take to read back.
    pub fn with_read_after_write(mut self, delay: Duration) -> Self {
        self.read_after_write = delay;
        self
    }

    /// Whether `find_users` can match on `key`.
    pub fn supports_key(&self, key: UserKey) -> bool {
        self.lookup_keys.contains(&key)
    }

    /// Checks `photo` against the size limit and formats.
    ///
    /// Every backend calls this at the start of `set_photo`, so an
    /// unacceptable photo is rejected before anything is sent.
    ///
    /// # Errors
    /// [`Error::PhotoRejected`] saying what is wrong and what to do.
    pub fn check_photo(&self, photo: &Photo) -> Result<()> {
        if photo.len() > self.max_bytes {
            return Err(Error::photo_rejected(format!(
                "it is {} bytes and the {} slot here takes at most {} bytes; prepare it for this target (userphoto convert) or lower the quality",
                photo.len(),
                self.slot,
                self.max_bytes
            )));
        }
        if !self.formats.contains(&photo.format()) {
            return Err(Error::photo_rejected(format!(
                "it is a {} and this target takes only {}; convert it to JPEG",
                photo.format(),
                self.formats
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        Ok(())
    }

    /// `Ok` if photos can be read, else [`Error::NotSupported`] naming `backend`.
    pub fn ensure_read(&self, backend: &dyn fmt::Display) -> Result<()> {
        ensure(self.can_read, "read photos", backend)
    }

    /// `Ok` if photos can be written, else [`Error::NotSupported`].
    pub fn ensure_write(&self, backend: &dyn fmt::Display) -> Result<()> {
        ensure(self.can_write, "write photos", backend)
    }

    /// `Ok` if photos can be removed, else [`Error::NotSupported`] (with the
    /// backend's own explanation, if it gave one).
    pub fn ensure_delete(&self, backend: &dyn fmt::Display) -> Result<()> {
        ensure(
            self.can_delete,
            self.delete_unsupported.unwrap_or("remove photos"),
            backend,
        )
    }

    /// Photos cannot be removed here, and `why` says so and what to do
    /// instead (it completes "… cannot "; start it with "remove photos").
    pub fn without_delete(mut self, why: &'static str) -> Self {
        self.can_delete = false;
        self.delete_unsupported = Some(why);
        self
    }

    /// `Ok` if `find_users` can match on `key`, else [`Error::NotSupported`].
    pub fn ensure_key(&self, key: UserKey, backend: &dyn fmt::Display) -> Result<()> {
        if self.supports_key(key) {
            Ok(())
        } else {
            Err(Error::NotSupported {
                operation: key_operation(key),
                backend: backend.to_string(),
            })
        }
    }
}

fn ensure(allowed: bool, operation: &'static str, backend: &dyn fmt::Display) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(Error::not_supported(operation, backend))
    }
}

fn key_operation(key: UserKey) -> &'static str {
    match key {
        UserKey::SamAccountName => "find users by sam-account-name",
        UserKey::Upn => "find users by upn",
        UserKey::Mail => "find users by mail",
        UserKey::Alias => "find users by alias",
        UserKey::EmployeeId => "find users by employee-id",
        UserKey::Id => "find users by id",
        UserKey::DisplayName => "find users by display-name",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_defaults_follow_the_design() {
        let ad = Capabilities::for_slot(PhotoSlot::Thumbnail);
        assert_eq!((ad.recommended_pixels, ad.max_bytes), (96, 102_400));
        let hd = Capabilities::for_slot(PhotoSlot::Hd);
        assert_eq!(
            (hd.recommended_pixels, hd.max_bytes),
            (648, 4 * 1024 * 1024)
        );
        assert!(hd.formats.contains(&PhotoFormat::Png));
        assert!(!ad.formats.contains(&PhotoFormat::Png));
    }

    #[test]
    fn slot_names_round_trip() {
        for slot in [PhotoSlot::Thumbnail, PhotoSlot::Hd, PhotoSlot::LdapJpeg] {
            assert_eq!(slot.as_str().parse::<PhotoSlot>().ok(), Some(slot));
        }
        assert!("huge".parse::<PhotoSlot>().is_err());
    }

    #[test]
    fn check_photo_limits() {
        let caps = Capabilities::for_slot(PhotoSlot::Thumbnail).with_max_bytes(20);
        let small = Photo::new(vec![0xFF, 0xD8, 0xFF, 0xD9]).expect("jpeg");
        assert!(caps.check_photo(&small).is_ok());
        let big = Photo::new([vec![0xFF, 0xD8, 0xFF], vec![0; 30]].concat()).expect("jpeg");
        let err = caps.check_photo(&big).expect_err("too big");
        assert!(err.to_string().contains("at most 20 bytes"), "{err}");
        let png = Photo::new(b"\x89PNG\r\n\x1a\n".to_vec()).expect("png");
        let err = caps.check_photo(&png).expect_err("png");
        assert!(err.to_string().contains("takes only JPEG"), "{err}");
    }

    #[test]
    fn lookup_always_includes_id() {
        let caps = Capabilities::for_slot(PhotoSlot::Hd).with_lookup([UserKey::Mail], true);
        assert!(caps.supports_key(UserKey::Id) && caps.supports_key(UserKey::Mail));
        assert!(caps.ensure_key(UserKey::Upn, &"x").is_err());
    }
}
