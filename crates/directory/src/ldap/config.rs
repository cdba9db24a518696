//! What an LDAP target is, as configuration: the two flavours (Active
//! Directory and plain LDAP), their defaults, the attribute mapping, and the
//! serde struct a `[ad]` or `[ldap]` section deserialises into.
//!
//! Why a module of its own: Active Directory and an OpenLDAP `inetOrgPerson`
//! tree differ only in *names* — which filter selects people, which
//! attribute names them, which holds the photo, how big it may be. Keeping
//! those differences as data ([`LdapFlavor`] defaults, [`AttributeMap`])
//! means one code path serves both, and "plain LDAP" is configuration, not
//! a second backend. [`LdapConfig`] never holds the password itself: only
//! where to read it (`password_env` / `password_file`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::builder::LdapDirectoryBuilder;
use super::kerberos::LdapAuth;
use super::schema::LdapFlavor;
use super::LdapDirectory;
use crate::error::{Error, Result};

/// An `[ad]` or `[ldap]` section of `userphoto.toml`, as written.
///
/// Unset options take the [`flavor`](Self::flavor)'s defaults when the
/// directory is built. The section never holds the password: `password_env`
/// names an environment variable, `password_file` a file.
///
/// ```
/// use userphoto_directory::ldap::{LdapConfig, LdapFlavor};
///
/// // [ad]: Active Directory defaults.
/// let ad = LdapConfig::default()
///     .with_server("ldaps://dc1.corp.example.com", "DC=corp,DC=example,DC=com");
/// assert_eq!(ad.effective_photo_attribute(), "thumbnailPhoto");
///
/// // [ldap]: the same struct, plain-LDAP defaults.
/// let ldap = LdapConfig::plain_ldap();
/// assert_eq!(ldap.flavor, LdapFlavor::Plain);
/// assert_eq!(ldap.effective_name_attribute(), "uid");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LdapConfig {
    /// Which defaults apply: not in the file, the section decides (`[ad]`
    /// → Active Directory, `[ldap]` → plain). Set with
    /// [`with_flavor`](Self::with_flavor).
    #[serde(skip)]
    pub flavor: LdapFlavor,
    /// `ldaps://host[:port]`, or `ldap://host[:port]` (then StartTLS).
    pub url: String,
    /// Where users are searched, e.g. `DC=corp,DC=example,DC=com`.
    pub base_dn: String,
    /// How to sign in: `"simple"` (the default: `bind_dn` and a password,
    /// or anonymous) or `"kerberos"` (a SASL GSSAPI bind with the current
    /// user's ticket: no `bind_dn` or password).
    #[serde(default, skip_serializing_if = "is_simple")]
    pub auth: LdapAuth,
    /// Who to bind as: a DN, or for Active Directory a UPN
    /// (`svc-photos@corp.example.com`). Unset: anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    /// The environment variable holding the bind password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A file holding the bind password (one trailing newline is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An extra trust anchor (PEM) besides the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// For `ldap://` URLs: upgrade with StartTLS (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<bool>,
    /// The filter selecting user entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// The attribute naming users (`sAMAccountName`, `uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_attribute: Option<String>,
    /// The attribute holding the photo (`thumbnailPhoto`, `jpegPhoto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_attribute: Option<String>,
    /// The square size photos are prepared at, in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_size: Option<u32>,
    /// The largest photo written, in bytes (Active Directory: at most 102,400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
    /// The byte budget the imaging pipeline aims for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_bytes: Option<usize>,
    /// Allow an unencrypted connection (and a simple bind over it): for test
    /// directories only; warned about loudly.
    #[serde(default)]
    pub allow_insecure: bool,
    /// How long one operation may take, in seconds (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// The paged-search page size (default and maximum 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

fn is_simple(auth: &LdapAuth) -> bool {
    *auth == LdapAuth::Simple
}

impl LdapConfig {
    /// Active Directory defaults (the same as `Default`).
    pub fn active_directory() -> Self {
        LdapConfig::default()
    }

    /// Plain LDAP defaults: `(objectClass=inetOrgPerson)`, `uid`,
    /// `jpegPhoto`, 240 px, 64 KiB.
    pub fn plain_ldap() -> Self {
        LdapConfig::default().with_flavor(LdapFlavor::Plain)
    }

    /// Sets which defaults apply (a `[ldap]` section: [`LdapFlavor::Plain`]).
    pub fn with_flavor(mut self, flavor: LdapFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Sets the URL and base DN.
    pub fn with_server(mut self, url: impl Into<String>, base_dn: impl Into<String>) -> Self {
        self.url = url.into();
        self.base_dn = base_dn.into();
        self
    }

    /// The user filter in force.
    pub fn effective_user_filter(&self) -> &str {
        self.user_filter
            .as_deref()
            .unwrap_or(self.flavor.default_user_filter())
    }

    /// The name attribute in force.
    pub fn effective_name_attribute(&self) -> &str {
        self.name_attribute
            .as_deref()
            .unwrap_or(self.flavor.default_name_attribute())
    }

    /// The photo attribute in force.
    pub fn effective_photo_attribute(&self) -> &str {
        self.photo_attribute
            .as_deref()
            .unwrap_or(self.flavor.default_photo_attribute())
    }

    /// Makes relative `ca_file` and `password_file` paths relative to `dir`
    /// (the folder of the configuration file).
    pub fn resolve_paths(mut self, dir: &Path) -> Self {
        for path in [&mut self.ca_file, &mut self.password_file]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
        self
    }

    /// Where the password comes from, for messages (`USERPHOTO_AD_PASSWORD`,
    /// `the file /etc/userphoto/ad.pw`), if configured.
    pub fn password_source(&self) -> Option<String> {
        match (&self.password_env, &self.password_file) {
            (Some(var), _) => Some(var.clone()),
            (None, Some(file)) => Some(format!("the file {}", file.display())),
            (None, None) => None,
        }
    }

    /// Reads the password from `password_env` or `password_file`.
    ///
    /// `Ok(None)` when neither is set (an anonymous bind).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the variable or file (never the value)
    /// when both are set, it is unset, empty or unreadable, or a bind DN has
    /// no password source.
    pub fn read_password(&self) -> Result<Option<SecretString>> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        let value = match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => {
                return invalid(
                    "the LDAP section has both password_env and password_file; keep one of them"
                        .into(),
                )
            }
            (Some(var), None) => match std::env::var(var) {
                Ok(v) => v,
                Err(_) => {
                    return invalid(format!(
                        "the environment variable {var} (password_env) is not set or not UTF-8; export it before running userphoto"
                    ))
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(v) => v.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&v).to_owned(),
                Err(e) => {
                    return invalid(format!(
                        "cannot read the password file {} (password_file): {e}",
                        file.display()
                    ))
                }
            },
            (None, None) if self.bind_dn.is_some() => {
                return invalid(format!(
                    "bind_dn {:?} has no password_env or password_file; name where the password is",
                    self.bind_dn.as_deref().unwrap_or_default()
                ))
            }
            (None, None) => return Ok(None),
        };
        if value.is_empty() {
            return invalid(format!(
                "the password in {} is empty",
                self.password_source().unwrap_or_default()
            ));
        }
        Ok(Some(SecretString::from(value)))
    }

    /// A builder with every option of this section applied, except the
    /// password (add it with [`LdapDirectoryBuilder::password`]).
    pub fn builder(&self) -> LdapDirectoryBuilder {
        let mut b = LdapDirectory::builder_for(self.flavor)
            .url(&self.url)
            .base_dn(&self.base_dn)
            .allow_insecure(self.allow_insecure)
            .auth(self.auth);
        if let Some(v) = &self.bind_dn {
            b = b.bind_dn(v);
        }
        if let Some(v) = self.password_source() {
            b = b.password_source(v);
        }
        if let Some(v) = &self.ca_file {
            b = b.ca_file(v);
        }
        if let Some(v) = self.starttls {
            b = b.starttls(v);
        }
        if let Some(v) = &self.user_filter {
            b = b.user_filter(v);
        }
        if let Some(v) = &self.name_attribute {
            b = b.name_attribute(v);
        }
        if let Some(v) = &self.photo_attribute {
            b = b.photo_attribute(v);
        }
        if let Some(v) = self.photo_size {
            b = b.photo_size(v);
        }
        if let Some(v) = self.max_bytes {
            b = b.max_photo_bytes(v);
        }
        if let Some(v) = self.budget_bytes {
            b = b.budget_bytes(v);
        }
        if let Some(v) = self.timeout {
            b = b.timeout(Duration::from_secs(v));
        }
        if let Some(v) = self.page_size {
            b = b.page_size(v);
        }
        b
    }

    /// Reads the password, connects and binds.
    ///
    /// # Errors
    /// See [`read_password`](Self::read_password) and
    /// [`LdapDirectoryBuilder::build`].
    pub async fn connect(&self) -> Result<LdapDirectory> {
        let mut b = self.builder();
        if let Some(password) = self.read_password()? {
            b = b.password(password);
        }
        b.build().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserKey;

    #[test]
    fn flavours_have_the_documented_defaults() {
        let ad = LdapConfig::default();
        assert_eq!(ad.flavor, LdapFlavor::ActiveDirectory);
        assert_eq!(
            ad.effective_user_filter(),
            "(&(objectCategory=person)(objectClass=user))"
        );
        assert_eq!(ad.effective_name_attribute(), "sAMAccountName");
        assert_eq!(ad.effective_photo_attribute(), "thumbnailPhoto");
        assert_eq!(
            LdapFlavor::ActiveDirectory.default_slot().default_pixels(),
            96
        );
        assert_eq!(LdapFlavor::ActiveDirectory.hard_max_bytes(), Some(102_400));

        let plain = LdapConfig::plain_ldap();
        assert_eq!(plain.effective_user_filter(), "(objectClass=inetOrgPerson)");
        assert_eq!(plain.effective_name_attribute(), "uid");
        assert_eq!(plain.effective_photo_attribute(), "jpegPhoto");
        let map = LdapFlavor::Plain.default_attributes();
        assert_eq!(map.attribute(UserKey::EmployeeId), Some("employeeNumber"));
        assert_eq!(map.attribute(UserKey::Upn), None);
        assert!(!map.keys().contains(&UserKey::Alias));
        assert!(map.keys().contains(&UserKey::Id));
    }

    #[test]
    fn password_comes_from_env_or_file_never_the_section() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        let mut c = LdapConfig {
            bind_dn: Some("svc@x".into()),
            password_file: Some(file.clone()),
            ..LdapConfig::default()
        };
        let pw = c.read_password().expect("read").expect("some");
        assert_eq!(secrecy::ExposeSecret::expose_secret(&pw), "s3cret");
        assert!(!format!("{pw:?}").contains("s3cret"));

        c.password_env = Some("USERPHOTO_TEST_SURELY_UNSET_VARIABLE".into());
        let both = c.read_password().expect_err("both");
        assert!(both.to_string().contains("both"), "{both}");
        c.password_file = None;
        let unset = c.read_password().expect_err("unset");
        assert!(unset
            .to_string()
            .contains("USERPHOTO_TEST_SURELY_UNSET_VARIABLE"));

        c.password_env = None;
        assert!(c.read_password().is_err(), "a bind DN needs a password");
        c.bind_dn = None;
        assert!(matches!(c.read_password(), Ok(None)));
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let c = LdapConfig {
            ca_file: Some("ca.pem".into()),
            password_file: Some("/abs/pw".into()),
            ..LdapConfig::default()
        };
        let c = c.resolve_paths(Path::new("/etc/userphoto"));
        assert_eq!(
            c.ca_file.as_deref(),
            Some(Path::new("/etc/userphoto/ca.pem"))
        );
        assert_eq!(c.password_file.as_deref(), Some(Path::new("/abs/pw")));
    }

    #[test]
    fn attribute_map_edits() {
        let mut m = LdapFlavor::ActiveDirectory.default_attributes();
        m.set(UserKey::Alias, None);
        m.set(UserKey::SamAccountName, Some("cn".into()));
        m.set(UserKey::SamAccountName, None);
        assert_eq!(m.attribute(UserKey::SamAccountName), Some("cn"));
        assert!(!m.keys().contains(&UserKey::Alias));
    }
}
