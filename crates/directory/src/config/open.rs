//! Turning a configured section into a ready [`Target`].
//!
//! Why a module of its own: this is the one place that knows which backend
//! serves which section. Adding a backend (Microsoft Graph for `[m365]`,
//! EWS for `[exchange]`) means filling in one `open_*` function here; the
//! CLI, the web UI and the bulk engine only ever see a `Target`.

use std::sync::Arc;

use super::sections::{ExchangeSection, FolderSection, M365Section};
use super::SecretSource;
use super::{Config, Target, TargetKind};
use crate::capabilities::PhotoSlot;
use crate::error::{Error, Result};
use crate::folder::{FolderDirectory, FolderOptions};
use crate::ldap::LdapConfig;

impl Config {
    /// The `[ad]` directory itself (not as a target), for what only LDAP
    /// does: checking an employee's password by a bind, group membership.
    /// `None` without an `[ad]` section.
    ///
    /// # Errors
    /// As for [`Config::open`].
    pub async fn open_ad_directory(&self) -> Result<Option<crate::ldap::LdapDirectory>> {
        match &self.file.ad {
            Some(section) => ldap_directory(self, section, &self.origin("ad"))
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// Opens the target configured for `kind`: reads its secret, builds its
    /// backend, and says how to prepare photos for it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `kind` has no section (saying what to
    /// add), its secret cannot be read, or this build has no backend for
    /// it; the backend's own errors when it cannot be opened.
    pub async fn open(&self, kind: TargetKind) -> Result<Target> {
        let f = self.file();
        let origin = self.origin(kind.as_str());
        let identity = self.identity(kind).unwrap_or_default();
        let missing = || self.missing_section(kind);
        let target = match kind {
            TargetKind::Folder => {
                open_folder(self, f.folder.as_ref().ok_or_else(missing)?, identity).await?
            }
            TargetKind::Ad | TargetKind::Ldap => {
                let section = match kind {
                    TargetKind::Ad => f.ad.as_ref(),
                    _ => f.ldap.as_ref(),
                }
                .ok_or_else(missing)?;
                open_ldap(self, kind, section, &origin, identity).await?
            }
            TargetKind::M365 => {
                open_m365(
                    self,
                    f.m365.as_ref().ok_or_else(missing)?,
                    &origin,
                    identity,
                )
                .await?
            }
            TargetKind::Exchange => {
                open_exchange(
                    self,
                    f.exchange.as_ref().ok_or_else(missing)?,
                    &origin,
                    identity,
                )
                .await?
            }
            TargetKind::Google => {
                super::google::open(
                    self,
                    f.google.as_ref().ok_or_else(missing)?,
                    &origin,
                    identity,
                )
                .await?
            }
        };
        Ok(target)
    }

    fn missing_section(&self, kind: TargetKind) -> Error {
        let file = self.path().map_or_else(
            || super::DEFAULT_FILE.to_owned(),
            |p| p.display().to_string(),
        );
        let configured: Vec<&str> = self.configured().iter().map(|k| k.as_str()).collect();
        let configured = if configured.is_empty() {
            "no target is configured".to_owned()
        } else {
            format!("configured: {}", configured.join(", "))
        };
        Error::NotConfigured {
            kind,
            configured,
            file,
        }
    }
}

async fn open_folder(config: &Config, s: &FolderSection, identity: String) -> Result<Target> {
    let slot = s.slot.unwrap_or(PhotoSlot::Hd);
    let mut options = FolderOptions::new().with_slot(slot).read_only(s.read_only);
    if let Some(max) = s.max_bytes {
        options = options.with_max_bytes(max);
    }
    if let Some(key) = s.listing_key {
        options = options.with_listing_key(key);
    }
    let dir = FolderDirectory::open_with(config.resolve_path(&s.path), options).await?;
    let mut target = Target::new(TargetKind::Folder, Arc::new(dir), identity);
    let size = s.photo_size.unwrap_or(target.photo_size);
    let budget = s.max_bytes.unwrap_or(target.budget_bytes);
    target = target.with_spec(size, budget);
    Ok(target)
}

/// `[ad]` and `[ldap]`: the LDAP backend; connects and binds now, so a
/// wrong password or an unreachable server is reported at open.
/// The LDAP directory of `section`, its password resolved, connected.
pub(super) async fn ldap_directory(
    config: &Config,
    section: &LdapConfig,
    origin: &str,
) -> Result<crate::ldap::LdapDirectory> {
    let section = section.clone().resolve_paths(&config.base);
    let mut builder = section.builder();
    let source = SecretSource::from_keys(
        section.password_env.as_deref(),
        section.password_file.as_deref(),
        origin,
        "password",
        section.bind_dn.is_some(),
    )?;
    if let Some(source) = source {
        builder = builder.password(source.resolve(origin)?);
    }
    builder.build().await
}

async fn open_ldap(
    config: &Config,
    kind: TargetKind,
    section: &LdapConfig,
    origin: &str,
    identity: String,
) -> Result<Target> {
    let dir = ldap_directory(config, section, origin).await?;
    let identity = if identity.is_empty() {
        dir.bind_identity().to_owned()
    } else {
        identity
    };
    Ok(Target::new(kind, Arc::new(dir), identity))
}

/// `[m365]`: the Microsoft Graph backend; signs in now, so a wrong secret
/// or an unregistered certificate is reported at open with its AADSTS code
/// explained.
async fn open_m365(
    config: &Config,
    section: &M365Section,
    origin: &str,
    identity: String,
) -> Result<Target> {
    use crate::graph::TokenFile;
    use crate::graph::{CertificateCredential, GraphCredential, GraphDirectory};
    let credential = match &section.certificate_file {
        None if section.uses_device_code() => {
            GraphCredential::Delegated(match &section.token_file {
                Some(path) => TokenFile::new(config.resolve_path(path)),
                None => TokenFile::default_for(&section.tenant_id, &section.client_id)?,
            })
        }
        Some(path) => {
            let path = config.resolve_path(path);
            let pem = tokio::fs::read(&path).await.map_err(|e| Error::InvalidConfig {
                message: format!(
                    "{origin}: certificate_file {} cannot be read ({e}); check the path and that this account may read it",
                    path.display()
                ),
            })?;
            let place = format!("{origin}: certificate_file {}", path.display());
            GraphCredential::Certificate(CertificateCredential::from_pem(&pem, &place)?)
        }
        None => {
            let secret_file = section
                .client_secret_file
                .as_deref()
                .map(|p| config.resolve_path(p));
            let source = SecretSource::from_keys(
                section.client_secret_env.as_deref(),
                secret_file.as_deref(),
                origin,
                "client_secret",
                true,
            )?
            .ok_or_else(|| Error::InvalidConfig {
                message: format!(
                    "{origin} has no credential; set client_secret_env, client_secret_file or certificate_file"
                ),
            })?;
            GraphCredential::Secret(source.resolve(origin)?)
        }
    };
    let mut builder =
        GraphDirectory::builder(&section.tenant_id, &section.client_id).credential(credential);
    if let Some(url) = &section.graph_url {
        builder = builder.graph_url(url);
    }
    if let Some(url) = &section.login_url {
        builder = builder.login_url(url);
    }
    if let Some(order) = &section.match_order {
        builder = builder.match_order(order.clone());
    }
    if let Some(n) = section.max_concurrency {
        builder = builder.max_concurrency(n);
    }
    if let Some(secs) = section.read_after_write_secs {
        builder = builder.read_after_write(std::time::Duration::from_secs(secs));
    }
    let dir = builder.build()?;
    dir.sign_in().await?;
    Ok(Target::new(TargetKind::M365, Arc::new(dir), identity))
}

/// `[exchange]`: the EWS backend. Users are listed and resolved in `[ad]`
/// (their `mail` is the mailbox's primary SMTP address), which is opened
/// too; the server is asked who it is now, so wrong credentials or an
/// unreachable URL are reported at open, and an Exchange 2013 server
/// (no `SetUserPhoto`) opens read-only.
async fn open_exchange(
    config: &Config,
    section: &ExchangeSection,
    origin: &str,
    identity: String,
) -> Result<Target> {
    use crate::ews::EwsDirectory;
    let Some(ad_section) = config.file().ad.as_ref() else {
        return Err(Error::InvalidConfig {
            message: format!(
                "{origin}: the exchange target lists users from Active Directory and finds their mailboxes by the mail attribute; add an [ad] section"
            ),
        });
    };
    let ad = open_ldap(
        config,
        TargetKind::Ad,
        ad_section,
        &config.origin(TargetKind::Ad.as_str()),
        String::new(),
    )
    .await?;
    let password_file = section
        .password_file
        .as_deref()
        .map(|p| config.resolve_path(p));
    let auth = section.auth.unwrap_or_default();
    // Kerberos needs no password; one given is the NTLM fallback's.
    let kerberos = auth == crate::ews::EwsAuth::Kerberos;
    let source = SecretSource::from_keys(
        section.password_env.as_deref(),
        password_file.as_deref(),
        origin,
        "password",
        !kerberos,
    )?;
    let mut builder = EwsDirectory::builder().ews_url(&section.ews_url);
    if let Some(source) = source {
        builder = builder
            .credentials(&section.username, source.resolve(origin)?)
            .password_source(source.to_string());
    }
    let mut builder = builder
        .auth(auth)
        .allow_insecure(section.allow_insecure)
        .users(ad.directory);
    if let Some(path) = &section.ca_file {
        builder = builder.ca_file(config.resolve_path(path));
    }
    let info = builder.clone().build()?.server_info().await?;
    if !info.supports_set_user_photo() {
        tracing::warn!(server = %info.product(), "{origin}: this Exchange server has no SetUserPhoto; the exchange target is read-only (Exchange 2016 or later is required to write)");
    }
    let dir = builder.server(info).build()?;
    let identity = if identity.is_empty() {
        section.username.clone()
    } else {
        identity
    };
    Ok(Target::new(TargetKind::Exchange, Arc::new(dir), identity))
}
