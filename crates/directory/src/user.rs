//! Users and the keys we find them by.
//!
//! Why a module of its own: every directory names its users differently (an
//! LDAP DN or objectGUID, a Graph object id, a folder key) and knows them by
//! several names (sAMAccountName, UPN, mail, alias, employee id, display
//! name). The rest of the program matches photo files and mapping rows
//! against those names, so one [`User`] type carries them all, one
//! [`UserKey`] names which one to match on, and one function,
//! [`normalize_key`], decides when two names are the same — so the folder
//! backend, the bulk matcher and the conformance suite agree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// A user in a directory: a stable id plus every name we can match on.
///
/// Names the directory does not have are `None`. Two `User` values refer to
/// the same person when their ids are equal ([`User::same_as`]).
///
/// Build one with [`User::new`] and the `with_*` methods; backends fill it
/// from what the directory returns.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The backend's stable identifier: the DN or objectGUID in LDAP, the
    /// object id in Microsoft Graph, the row id in a folder. Opaque to
    /// callers; pass it back to the same backend.
    pub id: String,
    /// The logon name: `sAMAccountName` in Active Directory, the configured
    /// `name_attribute` (usually `uid`) in plain LDAP.
    pub sam_account_name: Option<String>,
    /// The user principal name, e.g. `john.smith@corp.example.com`.
    pub upn: Option<String>,
    /// The primary e-mail address.
    pub mail: Option<String>,
    /// The Exchange alias (`mailNickname`), the name used in the cloud.
    pub alias: Option<String>,
    /// The HR employee id (`employeeID`).
    pub employee_id: Option<String>,
    /// The display name, e.g. `John Smith`. Often not unique.
    pub display_name: Option<String>,
    /// Whether the account is enabled, where the directory says.
    pub enabled: Option<bool>,
    /// The entry's change marker, read in the same search that found the
    /// user, where the directory has one (Active Directory: `uSNChanged`):
    /// it moves whenever the entry changes, so a sync that saw it before
    /// knows, without reading the photo, that nothing changed since. Not
    /// part of who the user is (equality ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

// By hand: the change marker says when the entry changed, not who the
// user is, so two reads of one unchanged user around a write are equal.
impl PartialEq for User {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.sam_account_name == other.sam_account_name
            && self.upn == other.upn
            && self.mail == other.mail
            && self.alias == other.alias
            && self.employee_id == other.employee_id
            && self.display_name == other.display_name
            && self.enabled == other.enabled
    }
}

impl Eq for User {}

impl std::hash::Hash for User {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.sam_account_name.hash(state);
        self.upn.hash(state);
        self.mail.hash(state);
        self.alias.hash(state);
        self.employee_id.hash(state);
        self.display_name.hash(state);
        self.enabled.hash(state);
    }
}

impl User {
    /// A user with this id and no other attributes.
    pub fn new(id: impl Into<String>) -> Self {
        User {
            id: id.into(),
            sam_account_name: None,
            upn: None,
            mail: None,
            alias: None,
            employee_id: None,
            display_name: None,
            enabled: None,
            version: None,
        }
    }

    /// Sets the logon name (sAMAccountName / uid).
    pub fn with_sam_account_name(mut self, value: impl Into<String>) -> Self {
        self.sam_account_name = Some(value.into());
        self
    }

    /// Sets the user principal name.
    pub fn with_upn(mut self, value: impl Into<String>) -> Self {
        self.upn = Some(value.into());
        self
    }

    /// Sets the e-mail address.
    pub fn with_mail(mut self, value: impl Into<String>) -> Self {
        self.mail = Some(value.into());
        self
    }

    /// Sets the Exchange alias (mailNickname).
    pub fn with_alias(mut self, value: impl Into<String>) -> Self {
        self.alias = Some(value.into());
        self
    }

    /// Sets the employee id.
    pub fn with_employee_id(mut self, value: impl Into<String>) -> Self {
        self.employee_id = Some(value.into());
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, value: impl Into<String>) -> Self {
        self.display_name = Some(value.into());
        self
    }

    /// Sets whether the account is enabled.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Sets the entry's change marker (see [`User::version`]).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// This user's value for `key`, if the directory has one.
    pub fn key(&self, key: UserKey) -> Option<&str> {
        match key {
            UserKey::Id => Some(self.id.as_str()),
            UserKey::SamAccountName => self.sam_account_name.as_deref(),
            UserKey::Upn => self.upn.as_deref(),
            UserKey::Mail => self.mail.as_deref(),
            UserKey::Alias => self.alias.as_deref(),
            UserKey::EmployeeId => self.employee_id.as_deref(),
            UserKey::DisplayName => self.display_name.as_deref(),
        }
    }

    /// Whether `other` is the same directory entry (ids equal, ignoring case).
    pub fn same_as(&self, other: &User) -> bool {
        keys_equal(&self.id, &other.id)
    }

    /// A short name for messages: the display name, else the logon name,
    /// alias, UPN or mail, else the id.
    pub fn label(&self) -> &str {
        [
            UserKey::DisplayName,
            UserKey::SamAccountName,
            UserKey::Alias,
            UserKey::Upn,
            UserKey::Mail,
        ]
        .into_iter()
        .find_map(|k| self.key(k).filter(|v| !v.is_empty()))
        .unwrap_or(&self.id)
    }
}

impl fmt::Display for User {
    /// `label (id)`, or just the id when the label is the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label();
        if label == self.id {
            f.write_str(&self.id)
        } else {
            write!(f, "{label} ({})", self.id)
        }
    }
}

/// Which of a user's names to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserKey {
    /// `sAMAccountName` (AD) or the configured name attribute (plain LDAP).
    SamAccountName,
    /// The user principal name.
    Upn,
    /// The e-mail address.
    Mail,
    /// The Exchange alias (`mailNickname`).
    Alias,
    /// The employee id.
    EmployeeId,
    /// The backend's stable id.
    Id,
    /// The display name (often ambiguous).
    DisplayName,
}

impl UserKey {
    /// Every key, in a stable order.
    pub const ALL: [UserKey; 7] = [
        UserKey::SamAccountName,
        UserKey::Upn,
        UserKey::Mail,
        UserKey::Alias,
        UserKey::EmployeeId,
        UserKey::Id,
        UserKey::DisplayName,
    ];

    /// The name used on the command line and in JSON (`sam-account-name`,
    /// `upn`, `mail`, `alias`, `employee-id`, `id`, `display-name`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserKey::SamAccountName => "sam-account-name",
            UserKey::Upn => "upn",
            UserKey::Mail => "mail",
            UserKey::Alias => "alias",
            UserKey::EmployeeId => "employee-id",
            UserKey::Id => "id",
            UserKey::DisplayName => "display-name",
        }
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`UserKey`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a user key; use one of sam-account-name, upn, mail, alias, employee-id, id, display-name")]
pub struct UnknownKey(pub String);

impl FromStr for UserKey {
    type Err = UnknownKey;

    /// Parses a key name, ignoring case, `-` and `_`; accepts the directory
    /// attribute names too (`sAMAccountName`, `userPrincipalName`,
    /// `mailNickname`, `employeeID`, `displayName`, `uid`, `email`, `sam`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match folded.as_str() {
            "samaccountname" | "sam" | "uid" => UserKey::SamAccountName,
            "upn" | "userprincipalname" => UserKey::Upn,
            "mail" | "email" => UserKey::Mail,
            "alias" | "mailnickname" => UserKey::Alias,
            "employeeid" => UserKey::EmployeeId,
            "id" => UserKey::Id,
            "displayname" => UserKey::DisplayName,
            _ => return Err(UnknownKey(s.to_owned())),
        })
    }
}

/// The form in which two names are compared: Unicode NFC (macOS writes file
/// names in NFD), lower-cased, surrounding whitespace trimmed.
///
/// Every backend and the bulk matcher compare names through this function,
/// so "matching is exact and case-insensitive" means the same everywhere.
pub fn normalize_key(value: &str) -> String {
    value.trim().nfc().flat_map(char::to_lowercase).collect()
}

/// Whether two names are the same after [`normalize_key`].
pub fn keys_equal(a: &str, b: &str) -> bool {
    a == b || normalize_key(a) == normalize_key(b)
}

/// Which users [`Directory::list_users`](crate::Directory::list_users) returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserQuery {
    /// Only users whose logon name, UPN, mail, alias or display name starts
    /// with this text (ignoring case). `None` or empty: everyone.
    pub search: Option<String>,
    /// Return at most this many users.
    pub limit: Option<usize>,
}

impl UserQuery {
    /// Every user.
    pub fn all() -> Self {
        UserQuery::default()
    }

    /// Users whose name starts with `prefix`.
    pub fn search(prefix: impl Into<String>) -> Self {
        UserQuery {
            search: Some(prefix.into()),
            limit: None,
        }
    }

    /// Caps the number of users returned.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The search prefix, if it is not empty.
    pub fn prefix(&self) -> Option<&str> {
        self.search.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// The fields a search prefix is matched against.
    pub const SEARCH_KEYS: [UserKey; 5] = [
        UserKey::SamAccountName,
        UserKey::Upn,
        UserKey::Mail,
        UserKey::Alias,
        UserKey::DisplayName,
    ];

    /// Whether `user` matches the search prefix — the reference semantics.
    ///
    /// A backend must return every user for which this is true. A backend
    /// that searches on the server may also return users that match on other
    /// name attributes it has (given name, surname); it must not return users
    /// that match nothing.
    pub fn matches(&self, user: &User) -> bool {
        let Some(prefix) = self.prefix() else {
            return true;
        };
        let prefix = normalize_key(prefix);
        Self::SEARCH_KEYS
            .into_iter()
            .filter_map(|k| user.key(k))
            .any(|v| normalize_key(v).starts_with(&prefix))
    }
}

/// The answer for one value in a batch lookup
/// ([`Directory::find_users`](crate::Directory::find_users)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindResult {
    /// Exactly one user has this value.
    Found(User),
    /// No user has this value.
    NotFound,
    /// Several users have this value; all of them.
    Ambiguous(Vec<User>),
}

impl FindResult {
    /// The user, when exactly one was found.
    pub fn user(&self) -> Option<&User> {
        match self {
            FindResult::Found(u) => Some(u),
            _ => None,
        }
    }

    /// Builds the answer from every user that matched.
    pub fn from_matches(mut users: Vec<User>) -> Self {
        match users.len() {
            0 => FindResult::NotFound,
            1 => users.pop().map_or(FindResult::NotFound, FindResult::Found),
            _ => FindResult::Ambiguous(users),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsmith() -> User {
        User::new("u1")
            .with_sam_account_name("John.Smith")
            .with_upn("john.smith@corp.example.com")
            .with_mail("j.smith@example.com")
            .with_alias("jsmith")
            .with_display_name("John Smith")
    }

    #[test]
    fn key_values() {
        let u = jsmith();
        assert_eq!(u.key(UserKey::Id), Some("u1"));
        assert_eq!(u.key(UserKey::Alias), Some("jsmith"));
        assert_eq!(u.key(UserKey::EmployeeId), None);
        assert_eq!(u.to_string(), "John Smith (u1)");
        assert_eq!(User::new("x").to_string(), "x");
    }

    #[test]
    fn keys_compare_nfc_and_case_insensitive() {
        assert!(keys_equal("JOHN.smith", "john.SMITH"));
        // "é" composed vs. "e" + combining acute (as macOS names files).
        assert!(keys_equal("Ren\u{e9}", "RENE\u{301}"));
        assert!(!keys_equal("john.smith", "john.smith2"));
    }

    #[test]
    fn parses_key_names() {
        for key in UserKey::ALL {
            assert_eq!(key.as_str().parse::<UserKey>().ok(), Some(key));
        }
        assert_eq!(
            "sAMAccountName".parse::<UserKey>().ok(),
            Some(UserKey::SamAccountName)
        );
        assert_eq!("mailNickname".parse::<UserKey>().ok(), Some(UserKey::Alias));
        assert_eq!(
            "employee_id".parse::<UserKey>().ok(),
            Some(UserKey::EmployeeId)
        );
        assert!("shoe size".parse::<UserKey>().is_err());
    }

    #[test]
    fn search_matches_prefixes_of_names() {
        let u = jsmith();
        assert!(UserQuery::all().matches(&u));
        assert!(UserQuery::search("").matches(&u));
        assert!(UserQuery::search("john").matches(&u));
        assert!(UserQuery::search("JSM").matches(&u));
        assert!(UserQuery::search("j.smith@").matches(&u));
        assert!(!UserQuery::search("smith").matches(&u));
        assert!(
            !UserQuery::search("u1").matches(&u),
            "the id is not searched"
        );
    }

    #[test]
    fn find_result_from_matches() {
        assert_eq!(FindResult::from_matches(vec![]), FindResult::NotFound);
        assert_eq!(
            FindResult::from_matches(vec![jsmith()]).user(),
            Some(&jsmith())
        );
        assert!(matches!(
            FindResult::from_matches(vec![jsmith(), User::new("u2")]),
            FindResult::Ambiguous(v) if v.len() == 2
        ));
    }
}
