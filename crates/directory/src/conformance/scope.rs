//! The fence around the suite: which users it may touch, and what it
//! expects the backend to support.

use std::collections::HashSet;
use std::time::Duration;

use crate::capabilities::Capabilities;
use crate::error::{Error, Result};
use crate::user::{normalize_key, User, UserKey, UserQuery};

/// The shortest name prefix a scope accepts (a one-letter prefix would
/// cover half a real directory).
pub const MIN_PREFIX_LEN: usize = 3;

/// The users the suite may touch: seeded test users whose `key` (e.g.
/// sAMAccountName) starts with a dedicated prefix, optionally inside a test
/// OU. The suite reads any user (listing is not a change) but writes and
/// removes photos only of users for which [`contains`](Self::contains)
/// holds, and panics before touching anyone else.
#[derive(Clone, Debug)]
pub struct TestScope {
    key: UserKey,
    prefix: String,
    users: Vec<String>,
    normalized: HashSet<String>,
    base: Option<String>,
    no_mailbox: Option<String>,
    denied: Option<String>,
    patience: Duration,
}

impl TestScope {
    /// A scope of the seeded users named `users` by `key`, all of whose
    /// names start with `prefix`.
    ///
    /// `key` must be one of the keys a search matches
    /// ([`UserQuery::SEARCH_KEYS`]), so the suite can search by the prefix.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a prefix shorter than
    /// [`MIN_PREFIX_LEN`], no users, a user outside the prefix, or a key
    /// that is not searched.
    pub fn new<S: Into<String>>(
        key: UserKey,
        prefix: impl Into<String>,
        users: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        let prefix: String = prefix.into();
        let users: Vec<String> = users.into_iter().map(Into::into).collect();
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        if prefix.trim().chars().count() < MIN_PREFIX_LEN {
            return invalid(format!(
                "the test prefix {prefix:?} is too short; use at least {MIN_PREFIX_LEN} characters that only test users' names start with"
            ));
        }
        if !UserQuery::SEARCH_KEYS.contains(&key) {
            return invalid(format!(
                "the test scope cannot be keyed by {key}, which searches do not match; use sam-account-name, upn, mail, alias or display-name"
            ));
        }
        if users.is_empty() {
            return invalid("the test scope names no users; list the seeded test users".into());
        }
        let norm_prefix = normalize_key(&prefix);
        if let Some(outside) = users
            .iter()
            .find(|u| !normalize_key(u).starts_with(&norm_prefix))
        {
            return invalid(format!(
                "the test user {outside:?} does not start with the test prefix {prefix:?}; seed test users with the prefix"
            ));
        }
        let normalized = users.iter().map(|u| normalize_key(u)).collect();
        Ok(TestScope {
            key,
            prefix,
            users,
            normalized,
            base: None,
            no_mailbox: None,
            denied: None,
            patience: Duration::ZERO,
        })
    }

    /// Also require every scoped user's id to end with `base` (ignoring
    /// case), e.g. the test OU `OU=userphoto-test,DC=corp,DC=example,DC=test`.
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// Names a scoped user that has no mailbox: reads must answer
    /// `NoMailbox`, writes `Precondition`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the user is not in the scope.
    pub fn with_no_mailbox_user(mut self, name: impl Into<String>) -> Result<Self> {
        self.no_mailbox = Some(self.member(name.into())?);
        Ok(self)
    }

    /// Names a scoped user whose photo we may not change: writes and
    /// removals must answer `PermissionDenied`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the user is not in the scope.
    pub fn with_denied_user(mut self, name: impl Into<String>) -> Result<Self> {
        self.denied = Some(self.member(name.into())?);
        Ok(self)
    }

    /// How long a write may take to read back, at least (the backend's
    /// `read_after_write` is used when larger).
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    fn member(&self, name: String) -> Result<String> {
        if self.normalized.contains(&normalize_key(&name)) {
            Ok(name)
        } else {
            Err(Error::InvalidConfig {
                message: format!(
                    "{name:?} is not one of the test scope's users; add it to the list"
                ),
            })
        }
    }

    /// The key the scope's users are named by.
    pub fn key(&self) -> UserKey {
        self.key
    }

    /// The prefix every scoped user's name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The scoped users' names.
    pub fn users(&self) -> &[String] {
        &self.users
    }

    /// The user without a mailbox, if the scope names one.
    pub fn no_mailbox_user(&self) -> Option<&str> {
        self.no_mailbox.as_deref()
    }

    /// The user whose photo we may not change, if the scope names one.
    pub fn denied_user(&self) -> Option<&str> {
        self.denied.as_deref()
    }

    /// How long to wait for a write to read back from `caps`' backend.
    pub fn patience_for(&self, caps: &Capabilities) -> Duration {
        self.patience.max(caps.read_after_write)
    }

    /// Whether `user` is one of the scope's users (by name, prefix and base).
    pub fn contains(&self, user: &User) -> bool {
        let Some(name) = user.key(self.key).map(normalize_key) else {
            return false;
        };
        let in_base = self
            .base
            .as_deref()
            .is_none_or(|base| normalize_key(&user.id).ends_with(&normalize_key(base)));
        name.starts_with(&normalize_key(&self.prefix)) && self.normalized.contains(&name) && in_base
    }

    /// Whether `user` is a scoped user whose photo the suite may write and
    /// expects to be writable (not the no-mailbox or denied user).
    pub fn is_writable(&self, user: &User) -> bool {
        let is = |special: &Option<String>| {
            special
                .as_deref()
                .zip(user.key(self.key))
                .is_some_and(|(s, n)| normalize_key(s) == normalize_key(n))
        };
        self.contains(user) && !is(&self.no_mailbox) && !is(&self.denied)
    }

    /// Panics unless `user` is in the scope. Called before every change.
    pub fn guard(&self, user: &User) {
        assert!(
            self.contains(user),
            "the conformance suite refuses to touch {user}: it is outside the test scope ({} starting with {:?}{})",
            self.key,
            self.prefix,
            self.base.as_deref().map(|b| format!(", under {b}")).unwrap_or_default()
        );
    }
}
