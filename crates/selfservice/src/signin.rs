//! Employee sign-in for self-service, with nothing stored by us: a simple
//! bind as the employee over the `[ad]` connection's verified TLS, then
//! the employee's entry read with the service account; who approves; and
//! a limit on failed attempts per account and per client address.
//!
//! Every refusal is the same [`SignInError::Refused`], whether the name is
//! unknown, the account disabled or the password wrong: the message never
//! says which part was wrong.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use userphoto_directory::ldap::LdapDirectory;
use userphoto_directory::{DirectoryExt as _, Error as DirError, User, UserKey};

/// A signed-in employee.
#[derive(Clone, Debug)]
pub struct Employee {
    /// Their entry, read with the service account.
    pub user: User,
    /// Their account name (`sAMAccountName`): whose requests are theirs.
    pub name: String,
    /// Their display name, if any.
    pub display_name: Option<String>,
    /// Whether they may work the approval queue.
    pub approver: bool,
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Name or password wrong, or the account cannot sign in: one message
    /// for all.
    #[error("the name or password is not right")]
    Refused,
    /// Too many failed attempts for this account or from this address.
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.as_secs().div_ceil(60))]
    TooMany {
        /// When to try again.
        retry_after: Duration,
    },
    /// The directory could not be asked (not the employee's fault).
    #[error("sign-in is not available right now: {0}")]
    Unavailable(String),
}

/// Who approves: members of an AD group (nested too), or named accounts.
#[derive(Clone, Debug, Default)]
pub struct Approvers {
    /// The group's DN.
    pub group: Option<String>,
    /// Account names (any case).
    pub accounts: Vec<String>,
}

/// Failed attempts per key in a sliding window.
#[derive(Debug)]
pub struct Limiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// At most `max` failures per key within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Limiter {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(wait)` when `key` has used up its failures.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.map();
        let q = map.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            q.front()
                .map(|first| self.window.saturating_sub(now.duration_since(*first)))
        } else {
            None
        }
    }

    /// Records a failure for `key`.
    pub fn fail(&self, key: &str) {
        let mut map = self.map();
        // Keep the map bounded under a spray of names: forget the oldest
        // keys' history when it grows large (they only lose a lockout).
        if map.len() > 100_000 {
            map.clear();
        }
        map.entry(key.to_owned())
            .or_default()
            .push_back(Instant::now());
    }

    /// Forgets `key`'s failures (after a success).
    pub fn clear(&self, key: &str) {
        self.map().remove(key);
    }
}

/// Employee sign-in against Active Directory.
#[derive(Debug)]
pub struct SignIn {
    dir: LdapDirectory,
    approvers: Approvers,
    per_account: Limiter,
    per_address: Limiter,
}

impl SignIn {
    /// Sign-in against `dir` (the `[ad]` directory, bound as the service
    /// account): 5 failures per account and 20 per client address within
    /// 15 minutes, then a wait.
    pub fn new(dir: LdapDirectory, approvers: Approvers) -> Self {
        SignIn {
            dir,
            approvers,
            per_account: Limiter::new(5, Duration::from_secs(15 * 60)),
            per_address: Limiter::new(20, Duration::from_secs(15 * 60)),
        }
    }

    /// The same with other limits (tests, busy front desks).
    pub fn with_limits(mut self, per_account: Limiter, per_address: Limiter) -> Self {
        self.per_account = per_account;
        self.per_address = per_address;
        self
    }

    /// Signs `name` (account name or UPN) in with `password`, from
    /// `client`.
    ///
    /// # Errors
    /// [`SignInError::Refused`] (one message whatever was wrong),
    /// [`SignInError::TooMany`], [`SignInError::Unavailable`].
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Employee, SignInError> {
        let account_key = format!("account:{}", name.trim().to_lowercase());
        let address_key = format!("address:{client}");
        for key in [&account_key, &address_key] {
            let limiter = if key == &account_key {
                &self.per_account
            } else {
                &self.per_address
            };
            if let Some(retry_after) = limiter.blocked(key) {
                return Err(SignInError::TooMany { retry_after });
            }
        }
        let refuse = || {
            self.per_account.fail(&account_key);
            self.per_address.fail(&address_key);
            SignInError::Refused
        };
        let name = name.trim();
        if name.is_empty() || password.is_empty() || name.len() > 256 {
            return Err(refuse());
        }
        let key = if name.contains('@') {
            UserKey::Upn
        } else {
            UserKey::SamAccountName
        };
        let user = match self.dir.find_user(key, name).await {
            Ok(u) => u,
            Err(DirError::NotFound { .. } | DirError::Ambiguous { .. }) => return Err(refuse()),
            Err(e) => return Err(SignInError::Unavailable(e.to_string())),
        };
        if user.enabled == Some(false) {
            return Err(refuse());
        }
        match self.dir.check_password(&user, password).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse()),
            Err(e) => return Err(SignInError::Unavailable(e.to_string())),
        }
        self.per_account.clear(&account_key);
        let account = user
            .sam_account_name
            .clone()
            .unwrap_or_else(|| name.to_owned());
        let approver = self.is_approver(&user, &account).await?;
        Ok(Employee {
            display_name: user.display_name.clone(),
            name: account,
            user,
            approver,
        })
    }

    async fn is_approver(&self, user: &User, account: &str) -> Result<bool, SignInError> {
        if self
            .approvers
            .accounts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(account))
        {
            return Ok(true);
        }
        match &self.approvers.group {
            Some(group) => self
                .dir
                .is_member_of(user, group)
                .await
                .map_err(|e| SignInError::Unavailable(e.to_string())),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_max_failures_and_forgets_on_clear() {
        let l = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            l.fail("a");
        }
        assert!(l.blocked("a").is_none());
        l.fail("a");
        let wait = l.blocked("a").expect("blocked");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(l.blocked("b").is_none(), "keys are separate");
        l.clear("a");
        assert!(l.blocked("a").is_none());
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let l = Limiter::new(1, Duration::from_millis(30));
        l.fail("a");
        assert!(l.blocked("a").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(l.blocked("a").is_none());
    }
}
