//! Dev-only test helpers for userphoto.
//!
//! * [`fixtures`] makes the images the always-on tests need (every EXIF
//!   orientation, CMYK, alpha, 16-bit, truncated files, bomb headers), so a
//!   fresh clone tests them without any downloaded file;
//! * [`corpus`] finds the real-world image corpus, failing loudly in CI
//!   when it is missing;
//! * [`jpeg`] inspects JPEG files (which segments they carry) and decodes
//!   them for pixel comparisons;
//! * [`endless_http`] is a loopback server whose answers never end, for
//!   clients' answer-size limits.
#![allow(missing_docs, clippy::unwrap_used)] // test support: panics are the point

pub mod corpus;
pub mod endless_http;
pub mod fixtures;
pub mod fuzz;
pub mod jpeg;
pub mod kerberos;
pub mod servers;
