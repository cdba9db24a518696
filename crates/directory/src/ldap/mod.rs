//! The LDAP backend: Active Directory's `thumbnailPhoto`, and any LDAP
//! directory's `jpegPhoto`, through one implementation.
//!
//! Why it exists: Active Directory is where Outlook, Teams, Windows and
//! intranet apps read staff photos, and OpenLDAP / 389-DS / FreeIPA keep
//! them in `jpegPhoto`. Both speak LDAP, and differ only in names (filter,
//! naming attribute, photo attribute, size limit), so one backend serves
//! both and [`LdapFlavor`] picks the defaults:
//!
//! ```no_run
//! use secrecy::SecretString;
//! use userphoto_directory::ldap::{LdapDirectory, LdapFlavor};
//!
//! # async fn demo(ad_pw: SecretString, ldap_pw: SecretString) -> userphoto_directory::Result<()> {
//! // Active Directory: thumbnailPhoto, sAMAccountName, 96 px, ≤ 100 KB.
//! let ad = LdapDirectory::builder()
//!     .url("ldaps://dc1.corp.example.com")
//!     .base_dn("DC=corp,DC=example,DC=com")
//!     .bind_dn("svc-photos@corp.example.com")
//!     .password(ad_pw)
//!     .build()
//!     .await?;
//!
//! // OpenLDAP: jpegPhoto, uid, inetOrgPerson — the same code.
//! let ldap = LdapDirectory::builder_for(LdapFlavor::Plain)
//!     .url("ldap://ldap.example.org")          // StartTLS
//!     .base_dn("ou=people,dc=example,dc=org")
//!     .bind_dn("cn=photo-writer,dc=example,dc=org")
//!     .password(ldap_pw)
//!     .max_photo_bytes(65_536)
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Or from a configuration section: [`LdapConfig::builder`] /
//! [`LdapConfig::connect`].
//!
//! # How it keeps the contract
//!
//! * **Security**: `ldaps://`, or `ldap://` with StartTLS; certificates are
//!   always verified (system roots plus `ca_file`). Plain `ldap://` is
//!   refused before connecting unless `allow_insecure` (then a loud
//!   warning). The password is a [`SecretString`](secrecy::SecretString),
//!   never printed.
//! * **Users** are entries matching the user filter below `base_dn`; a
//!   [`User`]'s id is its DN. Listing is a paged search (pages ≤ 1,000,
//!   fetched as the stream is read); a search prefix matches the
//!   attributes of [`UserQuery::SEARCH_KEYS`]. Lookups put up to
//!   [`FIND_BATCH`] values in one OR-filter. Every value is escaped
//!   (RFC 4515); names match case-insensitively on the server and are
//!   paired back with [`normalize_key`].
//! * **Photos**: one attribute, replaced in one modify; removal deletes it,
//!   and "no such attribute" counts as done. The size limit is checked
//!   before sending; photos are only written to entries below `base_dn`.
//! * **Errors**: result codes become [`Error`] variants with a sentence
//!   and a hint (AD bind sub-codes, "grant Write thumbnailPhoto on the
//!   OU"); see the `errors` module.

mod builder;
pub(crate) mod client;
mod config;
pub(crate) mod errors;
mod filter;
mod kerberos;
mod schema;
pub(crate) mod tls;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use ldap3::{Mod, Scope, SearchEntry};
use unicode_normalization::UnicodeNormalization as _;

use self::client::{Client, Pager, SearchSpec};
use self::errors::{to_error, Ctx, Failure, Op};
use self::filter::{and_user_filter, any_equal, any_starts_with, Dn};
use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{normalize_key, FindResult, User, UserKey, UserQuery};

pub use self::builder::{
    LdapDirectoryBuilder, DEFAULT_CONCURRENCY, DEFAULT_CONNECTIONS, DEFAULT_TIMEOUT,
};
pub use self::client::{LdapStats, MAX_PAGE_SIZE};
pub use self::config::LdapConfig;
pub use self::filter::{escape_dn_value, escape_filter_value};
pub(crate) use self::kerberos::{is_missing_ticket, ticket_hint, NOT_BUILT as KERBEROS_NOT_BUILT};
pub use self::kerberos::{LdapAuth, KERBEROS_AVAILABLE};
pub use self::schema::{AttributeMap, LdapFlavor};

/// How many values one lookup search carries in its OR-filter.
pub const FIND_BATCH: usize = 100;

/// How many lookup searches run at once.
const FIND_CONCURRENCY: usize = 4;

/// The validated settings the directory works with (built by the builder).
pub(crate) struct Settings {
    pub(crate) flavor: LdapFlavor,
    pub(crate) url: String,
    pub(crate) base_dn: String,
    pub(crate) base: Dn,
    pub(crate) bind_identity: String,
    pub(crate) password_source: Option<String>,
    pub(crate) user_filter: String,
    pub(crate) attributes: AttributeMap,
    pub(crate) photo_attribute: String,
    pub(crate) page_size: u32,
}

/// An LDAP directory (Active Directory or plain LDAP) as a [`Directory`].
///
/// Cheap to share (`Arc<dyn Directory>`); connections are opened on first
/// use (or by [`LdapDirectoryBuilder::build`]) and reopened once if dropped.
/// `Display` prints the URL and base DN, `Debug` never the password.
pub struct LdapDirectory {
    settings: Settings,
    caps: Capabilities,
    client: Arc<Client>,
    display: String,
}

impl fmt::Display for LdapDirectory {
    /// `ldaps://dc1.corp.example.com (DC=corp,DC=example,DC=com)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("flavor", &self.settings.flavor)
            .field("url", &self.settings.url)
            .field("base_dn", &self.settings.base_dn)
            .field("bind", &self.settings.bind_identity)
            .field("user_filter", &self.settings.user_filter)
            .field("photo_attribute", &self.settings.photo_attribute)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// A builder with Active Directory defaults.
    pub fn builder() -> LdapDirectoryBuilder {
        LdapDirectoryBuilder::new(LdapFlavor::ActiveDirectory)
    }

    /// A builder with `flavor`'s defaults ([`LdapFlavor::Plain`] for
    /// OpenLDAP and friends).
    pub fn builder_for(flavor: LdapFlavor) -> LdapDirectoryBuilder {
        LdapDirectoryBuilder::new(flavor)
    }

    fn from_parts(settings: Settings, caps: Capabilities, client: Arc<Client>) -> Self {
        let display = format!("{} ({})", settings.url, settings.base_dn);
        LdapDirectory {
            settings,
            caps,
            client,
            display,
        }
    }

    /// The flavour whose defaults apply.
    pub fn flavor(&self) -> LdapFlavor {
        self.settings.flavor
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// The search base; photos are only written below it.
    pub fn base_dn(&self) -> &str {
        &self.settings.base_dn
    }

    /// Who we bind as (DN or UPN), or `anonymous`; for messages and the
    /// audit log.
    pub fn bind_identity(&self) -> &str {
        &self.settings.bind_identity
    }

    /// The attribute holding the photo.
    pub fn photo_attribute(&self) -> &str {
        &self.settings.photo_attribute
    }

    /// The filter selecting users.
    pub fn user_filter(&self) -> &str {
        &self.settings.user_filter
    }

    /// Whether `password` is `user`'s (found earlier in this directory):
    /// a simple bind as the user's DN over the same verified TLS, on a
    /// connection of its own. An empty password is refused unsent (LDAP
    /// would take it as an anonymous bind and say yes). Employee sign-in
    /// for self-service (docs/SELF-SERVICE.md); nothing is kept.
    ///
    /// # Errors
    /// The server cannot be reached or answers something other than
    /// success or invalid credentials.
    pub async fn check_password(&self, user: &User, password: &str) -> Result<bool> {
        if password.is_empty() {
            return Ok(false);
        }
        self.ensure_below_base(user)?;
        self.client
            .check_bind(&user.id, password)
            .await
            .map_err(|f| self.error(f, Op::Bind))
    }

    /// Whether `user` is a member of the group `group_dn`: in Active
    /// Directory through nested groups too (the in-chain matching rule),
    /// elsewhere by `memberOf`. Read as the service account.
    ///
    /// # Errors
    /// The search fails.
    pub async fn is_member_of(&self, user: &User, group_dn: &str) -> Result<bool> {
        let rule = match self.settings.flavor {
            LdapFlavor::ActiveDirectory => "memberOf:1.2.840.113556.1.4.1941:",
            LdapFlavor::Plain => "memberOf",
        };
        let filter = format!("({rule}={})", escape_filter_value(group_dn));
        let found = self
            .base_search(&user.id, &filter, vec!["1.1".to_owned()])
            .await
            .map_err(|f| self.error(f, Op::Search { base: &user.id }))?;
        Ok(found.is_some())
    }

    /// What was done on the wire so far (connections, pages, page sizes).
    pub fn stats(&self) -> LdapStats {
        self.client.counters.snapshot()
    }

    /// Connects and binds (if not connected yet) and checks that `base_dn`
    /// exists: what `detect` asks of a target.
    ///
    /// # Errors
    /// The connection's or bind's failure, or [`Error::InvalidConfig`] when
    /// the base DN does not exist.
    pub async fn check(&self) -> Result<()> {
        let base = self.settings.base_dn.clone();
        let entries = self
            .base_search(&base, "(objectClass=*)", vec!["1.1".to_owned()])
            .await
            .map_err(|f| self.error(f, Op::Search { base: &base }))?;
        match entries {
            Some(_) => Ok(()),
            None => Err(Error::InvalidConfig {
                message: format!(
                    "the base_dn {base:?} does not exist in {}; check base_dn",
                    self.settings.url
                ),
            }),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            backend: self,
            url: &self.settings.url,
            bind: self
                .client
                .principal()
                .unwrap_or(&self.settings.bind_identity),
            password_source: self.settings.password_source.as_deref(),
            timeout: self.client.timeout(),
        }
    }

    fn error(&self, failure: Failure, op: Op<'_>) -> Error {
        to_error(failure, op, &self.ctx())
    }

    /// The attributes every user search asks for.
    fn user_attributes(&self) -> Vec<String> {
        let map = &self.settings.attributes;
        let mut attrs: Vec<String> = map
            .keys()
            .into_iter()
            .filter_map(|k| map.attribute(k))
            .map(str::to_owned)
            .collect();
        if self.settings.flavor == LdapFlavor::ActiveDirectory {
            attrs.push("userAccountControl".into());
            // The change marker, in the same search (see `User::version`).
            attrs.push("uSNChanged".into());
        }
        attrs
    }

    fn spec(&self, filter: String, page_size: u32) -> SearchSpec {
        SearchSpec {
            base: self.settings.base_dn.clone(),
            scope: Scope::Subtree,
            filter,
            attributes: self.user_attributes(),
            page_size,
        }
    }

    /// Builds a [`User`] from a search entry.
    fn user_from_entry(&self, entry: &SearchEntry) -> User {
        let map = &self.settings.attributes;
        let mut user = User::new(entry.dn.clone());
        for key in map.keys() {
            if let Some(value) = map.attribute(key).and_then(|a| first_value(entry, a)) {
                let value = value.to_owned();
                user = match key {
                    UserKey::SamAccountName => user.with_sam_account_name(value),
                    UserKey::Upn => user.with_upn(value),
                    UserKey::Mail => user.with_mail(value),
                    UserKey::Alias => user.with_alias(value),
                    UserKey::EmployeeId => user.with_employee_id(value),
                    UserKey::DisplayName => user.with_display_name(value),
                    UserKey::Id => user,
                };
            }
        }
        if self.settings.flavor == LdapFlavor::ActiveDirectory {
            if let Some(uac) =
                first_value(entry, "userAccountControl").and_then(|v| v.trim().parse::<i64>().ok())
            {
                // ACCOUNTDISABLE = 0x2
                user = user.with_enabled(uac & 2 == 0);
            }
            if let Some(usn) = first_value(entry, "uSNChanged") {
                user = user.with_version(usn.trim());
            }
        }
        user
    }

    /// A base-scope search of `dn`: `Ok(None)` when the entry does not exist
    /// (or is not a DN at all).
    async fn base_search(
        &self,
        dn: &str,
        filter: &str,
        attributes: Vec<String>,
    ) -> std::result::Result<Option<SearchEntry>, Failure> {
        let timeout = self.client.timeout();
        let counters = &self.client.counters;
        self.client
            .run(|mut ldap| {
                let attributes = attributes.clone();
                async move {
                    counters.search_sent(None);
                    let ldap3::SearchResult(entries, result) = ldap
                        .with_timeout(timeout)
                        .search(dn, Scope::Base, filter, attributes)
                        .await
                        .map_err(Failure::from_op)?;
                    match result.rc {
                        0 => Ok(entries
                            .into_iter()
                            .find(|e| !e.is_ref() && !e.is_intermediate())
                            .map(SearchEntry::construct)),
                        32 | 34 => Ok(None),
                        // Inside `run`, so busy (51, 52) is retried.
                        _ => Err(Failure::Server(result)),
                    }
                }
            })
            .await
    }

    /// The user entry `dn`, provided it lies below the base DN.
    fn ensure_below_base(&self, user: &User) -> Result<()> {
        match Dn::parse(&user.id) {
            Ok(dn) if dn.is_within(&self.settings.base) => Ok(()),
            _ => Err(Error::NotFound {
                what: format!(
                    "the user {user} below {} in {}",
                    self.settings.base_dn, self.settings.url
                ),
            }),
        }
    }

    async fn find_by_dn(&self, values: &[String]) -> Result<Vec<FindResult>> {
        let filter = self.settings.user_filter.clone();
        let attrs = self.user_attributes();
        let base = &self.settings.base;
        stream::iter(values.iter().cloned())
            .map(|value: String| {
                let filter = filter.clone();
                let attrs = attrs.clone();
                async move {
                    let inside = Dn::parse(value.trim())
                        .is_ok_and(|dn| dn.depth() > 0 && dn.is_within(base));
                    if !inside {
                        return Ok(FindResult::NotFound);
                    }
                    let entry = self
                        .base_search(value.trim(), &filter, attrs)
                        .await
                        .map_err(|f| self.error(f, Op::Search { base: &value }))?;
                    Ok(match entry {
                        Some(e) => FindResult::Found(self.user_from_entry(&e)),
                        None => FindResult::NotFound,
                    })
                }
            })
            .buffered(FIND_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn find_by_attribute(
        &self,
        attribute: &str,
        values: &[String],
    ) -> Result<Vec<FindResult>> {
        // Distinct normalised values, each sent once in its NFC form.
        let mut wanted: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in values {
            let sent: String = v.trim().nfc().collect();
            if !sent.is_empty() && seen.insert(normalize_key(&sent)) {
                wanted.push(sent);
            }
        }
        let chunks: Vec<Vec<String>> = wanted.chunks(FIND_BATCH).map(<[_]>::to_vec).collect();
        let base = self.settings.base_dn.as_str();
        let found: Vec<Vec<SearchEntry>> = stream::iter(chunks)
            .map(|chunk| async move {
                let Some(any) = any_equal(attribute, &chunk) else {
                    return Ok(Vec::new());
                };
                let filter = and_user_filter(&self.settings.user_filter, Some(&any));
                Pager::new(&self.client, self.spec(filter, self.settings.page_size))
                    .collect()
                    .await
                    .map_err(|f| self.error(f, Op::Search { base }))
            })
            .buffer_unordered(FIND_CONCURRENCY)
            .try_collect()
            .await?;
        let mut by_value: HashMap<String, Vec<User>> = HashMap::new();
        for entry in found.iter().flatten() {
            let user = self.user_from_entry(entry);
            for value in all_values(entry, attribute) {
                let list = by_value.entry(normalize_key(value)).or_default();
                if !list.iter().any(|u| u.same_as(&user)) {
                    list.push(user.clone());
                }
            }
        }
        Ok(values
            .iter()
            .map(|v| {
                let matches = by_value.get(&normalize_key(v)).cloned().unwrap_or_default();
                FindResult::from_matches(matches)
            })
            .collect())
    }

    async fn modify(
        &self,
        user: &User,
        m: Mod<&[u8]>,
        op: Op<'_>,
    ) -> std::result::Result<(), Failure> {
        let timeout = self.client.timeout();
        let counters = &self.client.counters;
        let dn = user.id.as_str();
        self.client
            .run(|mut ldap| {
                let m = m.clone();
                async move {
                    counters.modify_sent();
                    let result = ldap
                        .with_timeout(timeout)
                        .modify(dn, vec![m])
                        .await
                        .map_err(Failure::from_op)?;
                    Failure::check(result).map(drop)
                }
            })
            .await
            .inspect_err(|f| tracing::debug!(dn, ?op, rc = ?f.rc(), "LDAP modify failed"))
    }
}

/// The first value of `attribute` (case-insensitive name) as text.
fn first_value<'e>(entry: &'e SearchEntry, attribute: &'e str) -> Option<&'e str> {
    all_values(entry, attribute).next()
}

/// Every text value of `attribute` (case-insensitive name).
fn all_values<'e>(entry: &'e SearchEntry, attribute: &'e str) -> impl Iterator<Item = &'e str> {
    entry
        .attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values.iter().map(String::as_str))
}

/// The first binary value of `attribute` (JPEGs are never valid UTF-8, but a
/// value that happens to be is looked for among the text values too).
fn first_binary(entry: &SearchEntry, attribute: &str) -> Option<Vec<u8>> {
    entry
        .bin_attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .and_then(|(_, values)| values.first().cloned())
        .or_else(|| first_value(entry, attribute).map(|v| v.as_bytes().to_vec()))
}

#[async_trait]
impl Directory for LdapDirectory {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        let prefix: Option<String> = query.prefix().map(|p| p.trim().nfc().collect());
        let search_attrs: Vec<&str> = UserQuery::SEARCH_KEYS
            .iter()
            .filter_map(|&k| self.settings.attributes.attribute(k))
            .collect();
        let extra = prefix
            .as_deref()
            .and_then(|p| any_starts_with(&search_attrs, p));
        let filter = and_user_filter(&self.settings.user_filter, extra.as_deref());
        let page_size = match query.limit {
            Some(limit) => self
                .settings
                .page_size
                .min(u32::try_from(limit.max(1)).unwrap_or(u32::MAX)),
            None => self.settings.page_size,
        };
        let pager = Pager::new(&self.client, self.spec(filter, page_size));
        let base = self.settings.base_dn.as_str();
        let users = stream::try_unfold(pager, |mut pager| async move {
            Ok(pager.next().await?.map(|entry| (entry, pager)))
        })
        .map(move |item| match item {
            Ok(entry) => Ok(self.user_from_entry(&entry)),
            Err(f) => Err(self.error(f, Op::Search { base })),
        });
        match query.limit {
            Some(limit) => users.take(limit).boxed(),
            None => users.boxed(),
        }
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        self.caps.ensure_key(key, self)?;
        if key == UserKey::Id {
            return self.find_by_dn(values).await;
        }
        let Some(attribute) = self.settings.attributes.attribute(key) else {
            return Err(Error::not_supported("find users by this key", self));
        };
        self.find_by_attribute(attribute, values).await
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        self.caps.ensure_read(self)?;
        self.ensure_below_base(user)?;
        let attribute = self.settings.photo_attribute.as_str();
        let op = Op::Read {
            dn: &user.id,
            attribute,
        };
        let entry = match self
            .base_search(&user.id, "(objectClass=*)", vec![attribute.to_owned()])
            .await
        {
            Ok(entry) => entry,
            // Not allowed to read this user: an answer about the user, not a
            // failure of the directory (the UI shows "not accessible").
            Err(f) if f.rc() == Some(50) => {
                return Ok(PhotoLookup::NotAccessible {
                    reason: self.error(f, op).to_string(),
                })
            }
            Err(f) => return Err(self.error(f, op)),
        };
        let Some(entry) = entry else {
            return Err(Error::NotFound {
                what: format!("the user {user} in {self}"),
            });
        };
        Ok(match first_binary(&entry, attribute) {
            None => PhotoLookup::NoPhoto,
            Some(bytes) => match Photo::new(bytes) {
                Ok(photo) => PhotoLookup::Photo(photo),
                Err(e) => PhotoLookup::NotAccessible {
                    reason: format!(
                        "the {attribute} stored for this user is not a usable image ({e}); setting a new photo replaces it"
                    ),
                },
            },
        })
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.caps.ensure_write(self)?;
        self.caps.check_photo(photo)?;
        self.ensure_below_base(user)?;
        let attribute = self.settings.photo_attribute.as_str();
        let op = Op::Write {
            dn: &user.id,
            attribute,
        };
        let m = Mod::Replace(
            attribute.as_bytes(),
            std::collections::HashSet::from([photo.bytes()]),
        );
        self.modify(user, m, op)
            .await
            .map_err(|f| self.error(f, op))
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        self.caps.ensure_delete(self)?;
        self.ensure_below_base(user)?;
        let attribute = self.settings.photo_attribute.as_str();
        let op = Op::Remove {
            dn: &user.id,
            attribute,
        };
        let m = Mod::Delete(attribute.as_bytes(), std::collections::HashSet::new());
        match self.modify(user, m, op).await {
            Ok(()) => Ok(()),
            // noSuchAttribute: there was no photo, which is the wanted state.
            Err(f) if f.rc() == Some(16) => Ok(()),
            Err(f) => Err(self.error(f, op)),
        }
    }
}
