//! Photos as they travel to and from a directory.
//!
//! Why a module of its own: a directory attribute such as `thumbnailPhoto`
//! takes any bytes, so nothing stops a text file or half a JPEG from landing
//! in it — except us. A [`Photo`] can only be built from bytes that start
//! like a JPEG or a PNG, carries its SHA-256 digest (computed once, used for
//! "identical, skip", verification, backups and the audit log) and never
//! prints its bytes in logs. This module checks the container signature
//! only; decoding, resizing and budgets belong to the `imaging` crate.
//!
//! [`PhotoLookup`] is the answer to "what photo does this user have here?":
//! a photo, none, no mailbox, or not accessible — four states the UI shows
//! differently.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The image formats a directory may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoFormat {
    /// JPEG (`image/jpeg`), what every target takes.
    Jpeg,
    /// PNG (`image/png`), which Microsoft Graph also takes.
    Png,
}

impl PhotoFormat {
    const JPEG_MAGIC: [u8; 3] = [0xFF, 0xD8, 0xFF];
    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// Recognises the format from the first bytes (never from a file name).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&Self::JPEG_MAGIC) {
            Some(PhotoFormat::Jpeg)
        } else if bytes.starts_with(&Self::PNG_MAGIC) {
            Some(PhotoFormat::Png)
        } else {
            None
        }
    }

    /// The MIME type: `image/jpeg` or `image/png`.
    pub fn content_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
        }
    }

    /// The usual file extension, without the dot: `jpg` or `png`.
    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
        }
    }
}

impl fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
        })
    }
}

/// The lower-case hex SHA-256 of `bytes`, as [`Photo::digest`] reports it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A photo: JPEG or PNG bytes, checked when built, with its digest.
///
/// Cheap to clone (the bytes are shared). `Debug` and `Display` print the
/// format, size and digest, never the bytes. Equality compares the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    bytes: Arc<[u8]>,
    format: PhotoFormat,
    digest: String,
}

impl Photo {
    /// Checks that `bytes` start with a JPEG (`FF D8 FF`) or PNG signature
    /// and wraps them.
    ///
    /// # Errors
    /// [`Error::PhotoRejected`] for empty input or any other content.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes: Vec<u8> = bytes.into();
        if bytes.is_empty() {
            return Err(Error::photo_rejected(
                "it is empty; give a JPEG or PNG file",
            ));
        }
        let format = PhotoFormat::sniff(&bytes).ok_or_else(|| {
            Error::photo_rejected(format!(
                "it is not a JPEG or PNG (it starts with {}); convert it to JPEG first",
                hex::encode(&bytes[..bytes.len().min(4)])
            ))
        })?;
        let digest = sha256_hex(&bytes);
        Ok(Photo {
            bytes: bytes.into(),
            format,
            digest,
        })
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The format, from the signature.
    pub fn format(&self) -> PhotoFormat {
        self.format
    }

    /// The MIME type: `image/jpeg` or `image/png`.
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    /// The lower-case hex SHA-256 of the bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always `false`: an empty photo cannot be built. Present for clippy's
    /// `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("sha256", &self.digest)
            .finish()
    }
}

impl fmt::Display for Photo {
    /// `JPEG, 8123 bytes, sha256 0a1b2c3d4e5f…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self.digest.get(..12).unwrap_or(&self.digest);
        write!(
            f,
            "{}, {} bytes, sha256 {short}…",
            self.format,
            self.bytes.len()
        )
    }
}

impl TryFrom<Vec<u8>> for Photo {
    type Error = Error;

    fn try_from(bytes: Vec<u8>) -> Result<Self> {
        Photo::new(bytes)
    }
}

impl AsRef<[u8]> for Photo {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// What photo a user has in a directory.
///
/// `NoMailbox` and `NotAccessible` describe *this user* and are not errors:
/// a listing shows them and carries on. Failures of the directory itself
/// (unreachable, bad credentials) are [`Error`]s instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoLookup {
    /// The user has this photo.
    Photo(Photo),
    /// The user exists and has no photo.
    NoPhoto,
    /// The user has no mailbox, so this target cannot hold a photo for them
    /// (Exchange, Microsoft 365).
    NoMailbox,
    /// The user's photo cannot be read with our rights (or the mailbox is
    /// not reachable); the reason says why.
    NotAccessible {
        /// Why, in one sentence.
        reason: String,
    },
}

impl PhotoLookup {
    /// The photo, if there is one.
    pub fn photo(&self) -> Option<&Photo> {
        match self {
            PhotoLookup::Photo(p) => Some(p),
            _ => None,
        }
    }

    /// The photo's digest, if there is one.
    pub fn digest(&self) -> Option<&str> {
        self.photo().map(Photo::digest)
    }

    /// A one-word state for reports and JSON: `photo`, `no-photo`,
    /// `no-mailbox`, `not-accessible`.
    pub fn state(&self) -> &'static str {
        match self {
            PhotoLookup::Photo(_) => "photo",
            PhotoLookup::NoPhoto => "no-photo",
            PhotoLookup::NoMailbox => "no-mailbox",
            PhotoLookup::NotAccessible { .. } => "not-accessible",
        }
    }
}

impl fmt::Display for PhotoLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhotoLookup::Photo(p) => p.fmt(f),
            PhotoLookup::NoPhoto => f.write_str("no photo"),
            PhotoLookup::NoMailbox => f.write_str("no mailbox"),
            PhotoLookup::NotAccessible { reason } => write!(f, "not accessible: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 0xFF, 0xD9,
    ];

    #[test]
    fn accepts_jpeg_and_png_by_signature() {
        let p = Photo::new(JPEG).expect("jpeg");
        assert_eq!(p.format(), PhotoFormat::Jpeg);
        assert_eq!(p.content_type(), "image/jpeg");
        assert_eq!(p.len(), JPEG.len());
        assert_eq!(p.digest(), sha256_hex(JPEG));
        assert_eq!(p.digest().len(), 64);

        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        assert_eq!(Photo::new(png).expect("png").format(), PhotoFormat::Png);
    }

    #[test]
    fn rejects_other_bytes() {
        for bad in [&b""[..], b"GIF89a", b"\xFF\xD8", b"<html>", b"\x89PNG"] {
            let err = Photo::new(bad).expect_err("must be rejected");
            assert!(matches!(err, Error::PhotoRejected { .. }), "{err}");
        }
    }

    #[test]
    fn debug_shows_size_and_digest_not_bytes() {
        let mut bytes = JPEG.to_vec();
        bytes.extend(std::iter::repeat_n(0xAB, 10_000));
        let p = Photo::new(bytes).expect("jpeg");
        let debug = format!("{p:?}");
        assert!(debug.contains("10013"), "{debug}");
        assert!(debug.contains(p.digest()), "{debug}");
        assert!(debug.len() < 200, "{debug}");
        assert!(p.to_string().starts_with("JPEG, 10013 bytes, sha256 "));
    }

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
