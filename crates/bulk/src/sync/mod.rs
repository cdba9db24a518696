//! Unattended sync: what `userphoto` knows of its own earlier writes, so a
//! nightly job costs nothing when nothing changed.
//!
//! * [`state`] — the per target and user record of our last write
//!   ([`SyncState`]), trusted by the planner on a re-run and checked
//!   against the directory with `--verify`.

pub mod state;

pub use self::state::{SyncRecord, SyncState};
