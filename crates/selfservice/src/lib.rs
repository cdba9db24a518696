//! Employee self-service photos: the approval queue.
//!
//! Employees submit their own photo; an approver (helpdesk) approves or
//! rejects it; an approved photo is written by the service account through
//! the same back up → write → audit path as `userphoto import`
//! ([`userphoto_bulk::ops::Ops::set_photo_to`]), the audit line naming the
//! approver. Front ends (`userphoto requests`, `userphoto serve` in team
//! mode) are thin: they call [`Queue`] and word what it returns.
//!
//! ```text
//! front ends ──► Queue (submit · checks · policy · approve · reject · withdraw · recover)
//!                  │                      │
//!                  ▼                      ▼
//!               Store trait          bulk::prepare (checks), bulk::ops (write)
//!                  │
//!                  ▼
//!               SqliteStore (WAL, migrations, photos as blobs, file 0600)
//! ```
//!
//! * [`model`]: a request, its states and checks, as data;
//! * [`store`]: the small [`Store`] trait (so a server database can be
//!   added later) and its errors;
//! * [`sqlite`]: the embedded SQLite store in the data folder;
//! * [`queue`]: what each role may do, the quality-check policy, and the
//!   approval, ordered so that a process killed mid-approval finishes it
//!   on restart without writing twice;
//! * [`signin`]: employee sign-in by an LDAP simple bind as the employee,
//!   who approves, and a limit on failed sign-ins;
//! * [`oidc`]: employee sign-in with Entra ID (OpenID Connect, code +
//!   PKCE, the id token verified);
//! * [`team`]: the `[team]` section as a queue.

pub mod model;
pub mod oidc;
pub mod queue;
pub mod signin;
pub mod sqlite;
pub mod store;
pub mod team;

pub use model::{Check, NewRequest, Request, State};
pub use queue::{Policy, Queue, QueueError, Submitted};
pub use sqlite::SqliteStore;
pub use store::{Store, StoreError};

/// How an employee's account name is looked up in the targets: a UPN
/// (Entra sign-in, `name@domain`) by UPN; otherwise by the primary
/// target's listing key (`None`), which never holds an `@`
/// (`sAMAccountName`, alias).
pub fn user_key(name: &str) -> Option<userphoto_directory::UserKey> {
    name.contains('@')
        .then_some(userphoto_directory::UserKey::Upn)
}
