//! [`LdapDirectoryBuilder`]: every option of the LDAP backend, validated in
//! one place before anything touches the network.
//!
//! Why a module of its own: the checks that keep an admin safe happen here,
//! at build time — an `ldap://` URL without StartTLS is refused unless
//! `allow_insecure` says otherwise (before any connection, so no password
//! can leave the machine in clear), attribute names and the user filter are
//! checked so configuration cannot inject filter syntax, the photo size is
//! capped by what the attribute can hold. The CLI's configuration, tests and
//! benchmarks all build the backend through this one type.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::client::{clamp_page_size, Bind, Client, ClientSettings, Security};
use super::filter::{is_attribute_name, parenthesize, Dn};
use super::kerberos::{self, LdapAuth, KERBEROS_AVAILABLE};
use super::schema::{AttributeMap, LdapFlavor};
use super::{LdapDirectory, Settings};
use crate::capabilities::{Capabilities, PhotoSlot};
use crate::error::{Error, Result};
use crate::user::UserKey;

/// The default time one operation may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default number of pooled connections.
pub const DEFAULT_CONNECTIONS: usize = 2;
/// The default number of photo operations callers should run at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Builds an [`LdapDirectory`]. Start with [`LdapDirectory::builder`]
/// (Active Directory defaults) or [`LdapDirectory::builder_for`].
///
/// ```no_run
/// use secrecy::SecretString;
/// use userphoto_directory::ldap::LdapDirectory;
///
/// # async fn demo() -> userphoto_directory::Result<()> {
/// let ad = LdapDirectory::builder()
///     .url("ldaps://dc1.corp.example.com")
///     .base_dn("DC=corp,DC=example,DC=com")
///     .bind_dn("svc-photos@corp.example.com")
///     .password(SecretString::from(std::env::var("USERPHOTO_AD_PASSWORD").unwrap_or_default()))
///     .password_source("USERPHOTO_AD_PASSWORD")
///     .ca_file("corp-ca.pem")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct LdapDirectoryBuilder {
    flavor: LdapFlavor,
    url: Option<String>,
    base_dn: Option<String>,
    bind_dn: Option<String>,
    password: Option<SecretString>,
    password_source: Option<String>,
    auth: LdapAuth,
    ca_file: Option<PathBuf>,
    system_roots: bool,
    starttls: Option<bool>,
    allow_insecure: bool,
    user_filter: Option<String>,
    attributes: AttributeMap,
    photo_attribute: Option<String>,
    slot: Option<PhotoSlot>,
    photo_size: Option<u32>,
    max_bytes: Option<usize>,
    budget_bytes: Option<usize>,
    timeout: Duration,
    page_size: u32,
    connections: usize,
    concurrency: usize,
}

impl fmt::Debug for LdapDirectoryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapDirectoryBuilder")
            .field("flavor", &self.flavor)
            .field("url", &self.url)
            .field("base_dn", &self.base_dn)
            .field("bind_dn", &self.bind_dn)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("password_source", &self.password_source)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .field("starttls", &self.starttls)
            .field("allow_insecure", &self.allow_insecure)
            .field("user_filter", &self.user_filter)
            .field("photo_attribute", &self.photo_attribute)
            .finish_non_exhaustive()
    }
}

impl LdapDirectoryBuilder {
    /// A builder with `flavor`'s defaults.
    pub fn new(flavor: LdapFlavor) -> Self {
        LdapDirectoryBuilder {
            flavor,
            url: None,
            base_dn: None,
            bind_dn: None,
            password: None,
            password_source: None,
            auth: LdapAuth::Simple,
            ca_file: None,
            system_roots: true,
            starttls: None,
            allow_insecure: false,
            user_filter: None,
            attributes: flavor.default_attributes(),
            photo_attribute: None,
            slot: None,
            photo_size: None,
            max_bytes: None,
            budget_bytes: None,
            timeout: DEFAULT_TIMEOUT,
            page_size: crate::ldap::MAX_PAGE_SIZE,
            connections: DEFAULT_CONNECTIONS,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The server: `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS
    /// unless [`starttls(false)`](Self::starttls)). Required.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Where users are searched (subtree), e.g. `DC=corp,DC=example,DC=com`;
    /// photos are only ever written below it. Required.
    pub fn base_dn(mut self, base_dn: impl Into<String>) -> Self {
        self.base_dn = Some(base_dn.into());
        self
    }

    /// Who to bind as: a DN, or for Active Directory a UPN. Without it the
    /// connection stays anonymous.
    pub fn bind_dn(mut self, bind_dn: impl Into<String>) -> Self {
        self.bind_dn = Some(bind_dn.into());
        self
    }

    /// The bind password. Held as a secret: never printed, logged or put in
    /// an error message.
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Where the password came from (`USERPHOTO_AD_PASSWORD`, `the file
    /// …`), named in "wrong password" messages.
    pub fn password_source(mut self, source: impl Into<String>) -> Self {
        self.password_source = Some(source.into());
        self
    }

    /// How to sign in: [`LdapAuth::Simple`] (the default: `bind_dn` and
    /// password, or anonymous) or [`LdapAuth::Kerberos`] (the current
    /// user's ticket; then no `bind_dn` or password may be given).
    pub fn auth(mut self, auth: LdapAuth) -> Self {
        self.auth = auth;
        self
    }

    /// An extra trust anchor: a PEM file with the CA that issued the
    /// server's certificate (added to the system's roots).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Whether to trust the system's CA store too (default `true`). With
    /// `false`, only `ca_file` is trusted.
    pub fn system_roots(mut self, trust: bool) -> Self {
        self.system_roots = trust;
        self
    }

    /// For `ldap://` URLs: upgrade with StartTLS (default `true`). Ignored
    /// for `ldaps://`.
    pub fn starttls(mut self, starttls: bool) -> Self {
        self.starttls = Some(starttls);
        self
    }

    /// Allow an unencrypted connection, and a simple bind over it. For test
    /// directories only: a warning is logged on every build. Certificates
    /// are verified whatever this says.
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// The filter selecting user entries (default: the flavour's).
    pub fn user_filter(mut self, filter: impl Into<String>) -> Self {
        self.user_filter = Some(filter.into());
        self
    }

    /// The attribute naming users, the listing key (default
    /// `sAMAccountName` / `uid`).
    pub fn name_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.attributes
            .set(UserKey::SamAccountName, Some(attribute.into()));
        self
    }

    /// The attribute holding `key`, or `None` when the directory has none
    /// (then lookups by `key` are not supported).
    pub fn attribute(mut self, key: UserKey, attribute: Option<&str>) -> Self {
        self.attributes.set(key, attribute.map(str::to_owned));
        self
    }

    /// The attribute holding the photo (default `thumbnailPhoto` /
    /// `jpegPhoto`).
    pub fn photo_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.photo_attribute = Some(attribute.into());
        self
    }

    /// Which photo slot the attribute holds (default thumbnail for AD,
    /// ldap-jpeg for plain LDAP); sets the default size and limits.
    pub fn slot(mut self, slot: PhotoSlot) -> Self {
        self.slot = Some(slot);
        self
    }

    /// The square size photos should be prepared at, in pixels.
    pub fn photo_size(mut self, pixels: u32) -> Self {
        self.photo_size = Some(pixels);
        self
    }

    /// The largest photo written, in bytes; larger ones are refused before
    /// sending. `thumbnailPhoto` takes at most 102,400.
    pub fn max_photo_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// The byte budget the imaging pipeline should aim for.
    pub fn budget_bytes(mut self, bytes: usize) -> Self {
        self.budget_bytes = Some(bytes);
        self
    }

    /// How long connecting, and each operation, may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The paged-search page size: 1 to 1,000 (larger values are lowered to
    /// 1,000, 0 means 1,000).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = clamp_page_size(size);
        self
    }

    /// How many connections to keep (default 2). Operations are pipelined
    /// over each.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// How many photo operations callers should run at once (reported in
    /// the capabilities; default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Validates, connects and binds, so that a wrong password, an untrusted
    /// certificate or an unreachable server is reported now.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a configuration that cannot work (missing
    /// URL or base DN, `ldap://` without TLS and without `allow_insecure`, a
    /// bad filter or attribute name, an unreadable `ca_file`); otherwise
    /// whatever connecting and binding fails with (`Unauthenticated`,
    /// `Unavailable`, a TLS trust error…).
    pub async fn build(self) -> Result<LdapDirectory> {
        let dir = self.build_lazy()?;
        dir.check().await?;
        Ok(dir)
    }

    /// Validates the configuration without any network I/O; the first
    /// operation connects.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`], as for [`build`](Self::build).
    pub fn build_lazy(self) -> Result<LdapDirectory> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return invalid(
                "the LDAP target has no url; set url = \"ldaps://your-dc.example.com\"".into(),
            );
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                return invalid(format!(
                "{url:?} is not a valid URL ({e}); write ldaps://host[:port] or ldap://host[:port]"
            ))
            }
        };
        if parsed.host_str().is_none_or(str::is_empty) {
            return invalid(format!("{url:?} names no host; write ldaps://host[:port]"));
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return invalid(format!(
                "{url:?} has a path or query; give only ldaps://host[:port] and put the DN in base_dn"
            ));
        }
        let security = match (parsed.scheme(), self.starttls) {
            ("ldaps", _) => Security::Ldaps,
            ("ldap", None | Some(true)) => Security::StartTls,
            ("ldap", Some(false)) => Security::Plain,
            (other, _) => {
                return invalid(format!(
                    "{url:?} uses the scheme {other:?}; use ldaps:// (or ldap:// with StartTLS)"
                ))
            }
        };
        let kerberos = self.auth == LdapAuth::Kerberos;
        if kerberos && !KERBEROS_AVAILABLE {
            return invalid(format!("auth = \"kerberos\": {}", kerberos::NOT_BUILT));
        }
        if kerberos && (self.bind_dn.is_some() || self.password.is_some()) {
            return invalid(
                "auth = \"kerberos\" signs in as the user whose ticket it finds (kinit, or the Windows logon): remove bind_dn and password_env / password_file".into(),
            );
        }
        let bind_identity = match (&self.bind_dn, kerberos) {
            (_, true) => "the Kerberos ticket's user (klist shows who)".into(),
            (Some(dn), false) => dn.clone(),
            (None, false) => "anonymous".into(),
        };
        // Over plain ldap://, a Kerberos bind installs the SASL sealing layer
        // (ldap3 asks for confidentiality when there is no TLS): nothing
        // crosses the network in clear, so no allow_insecure is needed.
        if security == Security::Plain && !kerberos {
            if !self.allow_insecure {
                return invalid(format!(
                    "refusing to connect to {url} without TLS: the password of {bind_identity} and the photos would cross the network unencrypted; use ldaps://, or ldap:// with StartTLS, or set allow_insecure = true for a test directory"
                ));
            }
            tracing::warn!(
                %url,
                bind = %bind_identity,
                "INSECURE: allow_insecure is set and TLS is off: the bind password and every photo cross the network unencrypted; never use this outside a test directory"
            );
        }
        let base_dn = self.base_dn.as_deref().map(str::trim).unwrap_or_default();
        let base = match Dn::parse(base_dn) {
            Ok(d) if d.depth() > 0 => d,
            Ok(_) => {
                return invalid(
                    "the LDAP target has no base_dn; set base_dn = \"DC=corp,DC=example,DC=com\" (where users are searched)".into(),
                )
            }
            Err(e) => return invalid(format!("base_dn: {e}; write it like DC=corp,DC=example,DC=com")),
        };
        let bind = match (self.bind_dn.clone(), self.password.clone()) {
            _ if kerberos => Bind::Kerberos {
                host: parsed.host_str().unwrap_or_default().to_owned(),
                realm: kerberos::realm_of(base_dn),
            },
            (Some(dn), Some(pw)) if !dn.trim().is_empty() => Bind::Simple(dn, pw),
            (Some(dn), None) => {
                return invalid(format!(
                    "bind_dn {dn:?} is set but no password was given; set password_env or password_file"
                ))
            }
            (None, Some(_)) => {
                return invalid("a password was given without bind_dn; set bind_dn to the DN or UPN to bind as".into())
            }
            (Some(_), Some(_)) => return invalid("bind_dn is empty; set the DN or UPN to bind as".into()),
            (None, None) => Bind::Anonymous,
        };
        let user_filter = parenthesize(
            self.user_filter
                .as_deref()
                .unwrap_or(self.flavor.default_user_filter()),
        );
        if ldap3::parse_filter(&user_filter).is_err() {
            return invalid(format!(
                "user_filter {user_filter:?} is not a valid LDAP filter (RFC 4515); e.g. (objectClass=inetOrgPerson)"
            ));
        }
        let photo_attribute = self
            .photo_attribute
            .clone()
            .unwrap_or_else(|| self.flavor.default_photo_attribute().into());
        let keys = self.attributes.keys();
        for name in std::iter::once(photo_attribute.as_str())
            .chain(keys.iter().filter_map(|&k| self.attributes.attribute(k)))
        {
            if !is_attribute_name(name) {
                return invalid(format!(
                    "{name:?} is not an LDAP attribute name; use a name such as thumbnailPhoto, jpegPhoto or uid"
                ));
            }
        }
        let slot = self.slot.unwrap_or(self.flavor.default_slot());
        let hard_max = photo_attribute
            .eq_ignore_ascii_case("thumbnailPhoto")
            .then_some(102_400usize);
        let max_bytes = self
            .max_bytes
            .unwrap_or(hard_max.map_or(slot.default_max_bytes(), |h| {
                h.min(slot.default_max_bytes())
            }));
        if let Some(hard) = hard_max.filter(|&h| max_bytes > h) {
            return invalid(format!(
                "max_bytes {max_bytes} is more than {photo_attribute} can hold ({hard} bytes, its schema rangeUpper); lower it"
            ));
        }
        if max_bytes == 0 {
            return invalid("max_bytes is 0; give the largest photo size in bytes".into());
        }
        let mut caps = Capabilities::for_slot(slot)
            .with_max_bytes(max_bytes)
            .with_lookup(keys, true)
            .with_concurrency(self.concurrency)
            .with_listing_key(UserKey::SamAccountName, self.attributes.name.clone());
        if let Some(px) = self.photo_size {
            caps = caps.with_recommended_pixels(px);
        }
        if let Some(budget) = self.budget_bytes {
            caps = caps.with_recommended_bytes(budget);
        }
        let tls = match security {
            Security::Plain => None,
            Security::Ldaps | Security::StartTls => Some(super::tls::client_config(
                self.ca_file.as_deref(),
                self.system_roots,
            )?),
        };
        let client = Client::new(ClientSettings {
            url: url.to_owned(),
            security,
            tls,
            bind,
            timeout: self.timeout,
            connections: self.connections,
        });
        let settings = Settings {
            flavor: self.flavor,
            url: url.to_owned(),
            base_dn: base_dn.to_owned(),
            base,
            bind_identity,
            password_source: self.password_source,
            user_filter,
            attributes: self.attributes,
            photo_attribute,
            page_size: self.page_size,
        };
        Ok(LdapDirectory::from_parts(settings, caps, Arc::new(client)))
    }
}
