//! Unattended sync: named jobs a timer runs, that cost nothing when
//! nothing changed.
//!
//! * [`state`] — the per target and user record of our last write
//!   ([`SyncState`]), trusted by the planner on a re-run and checked
//!   against the directory with `--verify`;
//! * [`job`] — a `[[sync]]` job ([`SyncJob`]): its lock ([`JobLock`]) and
//!   its run, through the same [`ImportSession`](crate::import::ImportSession)
//!   as `userphoto import`.

pub mod job;

pub use self::job::{JobLock, SyncError, SyncJob};
/// The sync state lives with the import session that keeps it.
pub use crate::import::sync_state as state;
pub use crate::import::sync_state::{SyncRecord, SyncState};
