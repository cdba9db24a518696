//! The userphoto engine for many photos — and for one.
//!
//! Front ends (the CLI, the web UI) call it and only word what it returns:
//!
//! ```text
//! front ends ──► import (session → plan → execute → report)
//!                  │            │
//!                  ▼            ▼
//!              identity      prepare ──► imaging
//!                  │            │
//!                  └──► ops (back up → write → audit) ──► directories
//! ```
//!
//! * [`identity`] decides which user a file, a name or a person is, in
//!   every target (one rule, batched);
//! * [`prepare`] is the only caller of the imaging pipeline: photos, their
//!   quality findings, previews, and the worker pool;
//! * [`size_rule`] says which targets a source goes to, in which order;
//! * [`ops`] does single-user get / set / remove / restore against any
//!   target, in the one safe order: back up, write (HD first), audit;
//! * [`import`] matches a folder of photos to users, plans, executes with
//!   backups, a journal to resume from, and a report — driven by an
//!   [`ImportSession`](import::ImportSession);
//! * [`reason`] is why a row is what it is, as data; [`wording`] turns it
//!   (and errors) into sentences for the front end that shows them — the
//!   engine never words;
//! * [`coverage`] is `userphoto report`: who has a photo where, streamed;
//! * [`source`] makes a CSV of `user,photo` rows (paths or https URLs)
//!   into a folder the planner plans like any other;
//! * [`sync`] keeps per target and user what was last written, so an
//!   unchanged re-run reads and writes nothing;
//! * [`scan`], [`backup`], [`audit`], [`detect`]: finding image files,
//!   keeping and exporting photos, the audit log, and checking targets;
//!   [`convert`] (in [`prepare`]) converts a folder of photos to files.

pub mod audit;
pub mod backup;
pub mod coverage;
pub mod detect;
mod durable_append;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod identity;
pub mod import;
pub mod ops;
pub mod prepare;
pub mod reason;
pub mod scan;
pub mod size_rule;
pub mod source;
pub mod sync;
pub mod wording;

pub use prepare::convert;
