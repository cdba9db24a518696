//! The userphoto engine for many photos.
//!
//! * [`scan`] finds the image files of a folder (hidden and temporary files
//!   ignored);
//! * [`convert`] prepares every file into directory-ready JPEGs on all cores
//!   and writes them next to each other, never overwriting by accident;
//! * [`ops`] does single-user get / set / remove / restore against any
//!   target, in the one safe order: back up, write (HD first), audit — the
//!   same calls serve the CLI and the web UI;
//! * [`backup`] keeps every photo before it is replaced or removed, exports
//!   a whole target, and reads backups back for restoring;
//! * [`audit`] appends one JSON line per change.
//!
//! * [`import`] matches a folder of photos to users, plans, executes with
//!   backups, a journal to resume from, and a report.
//! * [`wording`] words messages for the front end that shows them: the
//!   command line's flags and section names, or neither (the web UI).

pub mod audit;
pub mod backup;
pub mod convert;
mod durable_append;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod ops;
pub mod scan;
pub mod wording;
