//! The conformance suite: the same checks, run against every backend.
//!
//! Why it exists: a backend is correct when it keeps the [`Directory`]
//! contract, and the contract is only real if one set of checks proves it
//! for each backend — the folder in a temp dir, LDAP against Samba AD and
//! slapd, Graph and EWS against their emulators. The checks are public
//! `async fn`s taking `&dyn Directory` (behind the `conformance` feature),
//! so tests in any crate can call them; [`run_all`] runs them all.
//!
//! # Safety fence
//!
//! A directory under test may be a real one. The suite only ever changes
//! photos of users inside a [`TestScope`] — seeded test users with a
//! dedicated name prefix, optionally in a test OU — and panics before
//! touching anyone else. It never creates or deletes users. Photos it
//! changes it restores at the end of each check where it can.
//!
//! # What the scope must provide
//!
//! At least two users with a photo that may be written (three are better),
//! names unique in the whole directory for every lookup key. Optional: two
//! scoped users sharing a display name (then ambiguity is checked), a user
//! without a mailbox, a user whose photo may not be changed.
//!
//! Checks panic with a message naming the backend, the check and what was
//! expected, like `assert!`.

pub mod fixtures;
mod photos;
mod scope;
mod users;

use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::user::{FindResult, User, UserKey};

pub use self::photos::{
    concurrent_writes, get_without_photo, identical_set_is_idempotent, oversized_photo_rejected,
    png_handling, remove_absent_is_ok, remove_then_get, replace_photo, set_then_get_round_trips,
    special_users,
};
pub use self::scope::{TestScope, MIN_PREFIX_LEN};
pub use self::users::{
    capabilities_are_sane, find_by_each_key, find_one, list_all_users, not_supported,
    search_by_prefix,
};

/// The environment variable that lets the suite run against a directory
/// on another machine.
pub const ALLOW_REMOTE_ENV: &str = "DIRTEST_ALLOW_REMOTE";

/// Refuses (panics) unless `host` is this machine (`localhost`, `127.x`,
/// `::1`) or [`ALLOW_REMOTE_ENV`] is `1`. Tests against real servers call
/// it with the host from their URL before running the suite, so a
/// mistyped URL cannot point the suite at a production directory.
pub fn require_local_host(host: &str) {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let allowed = std::env::var(ALLOW_REMOTE_ENV).is_ok_and(|v| v == "1");
    assert!(
        local || allowed,
        "the conformance suite refuses to run against {host}, which is not this machine; set {ALLOW_REMOTE_ENV}=1 to allow it for a test directory"
    );
}

/// What the test author states the backend supports. The suite checks the
/// backend's own [`Capabilities`] agree, then tests accordingly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuiteFlags {
    /// Photos can be read.
    pub can_read: bool,
    /// Photos can be written.
    pub can_write: bool,
    /// Photos can be removed.
    pub can_delete: bool,
    /// The keys `find_users` must resolve.
    pub keys: Vec<UserKey>,
}

impl SuiteFlags {
    /// Expect exactly what `caps` claims.
    pub fn from_capabilities(caps: &Capabilities) -> Self {
        SuiteFlags {
            can_read: caps.can_read,
            can_write: caps.can_write,
            can_delete: caps.can_delete,
            keys: caps.lookup_keys.clone(),
        }
    }

    /// Expect reading, writing and removing, and lookups by `keys` (and id).
    pub fn read_write(keys: impl IntoIterator<Item = UserKey>) -> Self {
        let mut keys: Vec<UserKey> = keys.into_iter().collect();
        if !keys.contains(&UserKey::Id) {
            keys.push(UserKey::Id);
        }
        SuiteFlags {
            can_read: true,
            can_write: true,
            can_delete: true,
            keys,
        }
    }

    /// Sets which operations are expected to work.
    pub fn with_operations(mut self, can_read: bool, can_write: bool, can_delete: bool) -> Self {
        self.can_read = can_read;
        self.can_write = can_write;
        self.can_delete = can_delete;
        self
    }

    /// Whether every photo operation is expected to work.
    pub fn full_photo_access(&self) -> bool {
        self.can_read && self.can_write && self.can_delete
    }
}

/// Runs every check, expecting what the backend's capabilities claim.
pub async fn run_all(dir: &dyn Directory, scope: &TestScope) {
    let flags = SuiteFlags::from_capabilities(dir.capabilities());
    run_all_with(dir, scope, &flags).await;
}

/// Runs every check, expecting what `flags` state.
pub async fn run_all_with(dir: &dyn Directory, scope: &TestScope, flags: &SuiteFlags) {
    capabilities_are_sane(dir, flags);
    list_all_users(dir, scope).await;
    search_by_prefix(dir, scope).await;
    find_by_each_key(dir, scope, flags).await;
    find_one(dir, scope).await;
    not_supported(dir, scope, flags).await;
    if flags.can_read {
        get_without_photo(dir, scope).await;
        special_users(dir, scope).await;
    }
    if flags.full_photo_access() {
        set_then_get_round_trips(dir, scope).await;
        identical_set_is_idempotent(dir, scope).await;
        replace_photo(dir, scope).await;
        remove_then_get(dir, scope).await;
        remove_absent_is_ok(dir, scope).await;
        oversized_photo_rejected(dir, scope).await;
        png_handling(dir, scope).await;
        concurrent_writes(dir, scope).await;
    }
    tracing::info!(backend = %dir, "conformance: every check passed");
}

/// Resolves every scoped user by the scope's key, in the scope's order.
/// Panics (with a hint to seed them) when one is missing or ambiguous, or
/// resolves to a user outside the scope.
pub async fn scoped_users(dir: &dyn Directory, scope: &TestScope) -> Vec<User> {
    let results = dir
        .find_users(scope.key(), scope.users())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{dir}: looking up the test users by {} failed: {e}",
                scope.key()
            )
        });
    assert_eq!(
        results.len(),
        scope.users().len(),
        "{dir}: one answer per value"
    );
    scope
        .users()
        .iter()
        .zip(results)
        .map(|(name, result)| match result {
            FindResult::Found(user) => {
                assert!(scope.contains(&user), "{dir}: {name:?} resolved to {user}, outside the scope");
                user
            }
            other => panic!(
                "{dir}: the test user {name:?} must exist exactly once (got {other:?}); seed the test users first"
            ),
        })
        .collect()
}

/// The scoped users whose photos the suite may change, at least `n` of them.
pub async fn writable_users(dir: &dyn Directory, scope: &TestScope, n: usize) -> Vec<User> {
    let users: Vec<User> = scoped_users(dir, scope)
        .await
        .into_iter()
        .filter(|u| scope.is_writable(u))
        .collect();
    assert!(
        users.len() >= n,
        "{dir}: this check needs {n} writable test users and the scope has {}; seed more",
        users.len()
    );
    users
}
