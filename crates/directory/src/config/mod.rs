//! `userphoto.toml`: which targets exist and how to reach them.
//!
//! Why a module of its own: the CLI, the web UI and the scheduled jobs all
//! start from the same file, and every one of them must refuse the same
//! mistakes with the same words — a misspelt key, a password written
//! inline, a URL without a scheme. So the file is parsed, checked and turned
//! into opened [`Target`]s here, once, and the front ends only pass a path.
//!
//! ```toml
//! [ad]
//! url = "ldaps://dc1.corp.example.com"
//! base_dn = "DC=corp,DC=example,DC=com"
//! bind_dn = "svc-photos@corp.example.com"
//! password_env = "USERPHOTO_AD_PASSWORD"   # or password_file; never inline
//!
//! [folder]                                  # a local sandbox directory
//! path = "sandbox"                          # relative to this file
//!
//! [backup]
//! dir = "/var/backups/userphoto"            # default: the platform data folder
//!
//! [audit]
//! path = "/var/log/userphoto/audit.jsonl"
//! ```
//!
//! Rules:
//! * every section and key is checked; an unknown one is an error naming
//!   the file, the line, the section and the key;
//! * secrets come only from `*_env` (an environment variable) or `*_file`;
//!   an inline `password = "…"` (or `client_secret`, `secret`, …) is refused
//!   with a message saying what to write instead;
//! * secrets are read only when a target is opened, held as
//!   `secrecy::SecretString`, and never appear in a message;
//! * relative paths are relative to the configuration file's folder.

mod google;
mod open;
mod secret;
mod sections;
mod validate;

use std::path::{Path, PathBuf};

pub use self::secret::SecretSource;
pub use self::sections::{
    AuditSection, BackupSection, ConfigFile, ExchangeSection, FolderSection, GoogleSection,
    M365Section, SyncSection, TeamSection,
};
pub use crate::kind::{Mode, Side, TargetKind, UnknownTarget};
pub use crate::ldap::LdapConfig;
pub use crate::target::Target;

use crate::error::{Error, Result};

/// The configuration file looked for in the working folder when none is given.
pub const DEFAULT_FILE: &str = "userphoto.toml";

/// A checked configuration: the file's sections plus where it came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file, if one was read.
    path: Option<PathBuf>,
    /// The folder relative paths are resolved against.
    base: PathBuf,
    file: ConfigFile,
}

impl Config {
    /// No file: no targets, default backup and audit locations.
    pub fn empty() -> Self {
        Config::default()
    }

    /// The configuration to use: `explicit` if given (it must exist),
    /// else `./userphoto.toml` if present, else [`Config::empty`].
    ///
    /// # Errors
    /// As for [`Config::load`].
    pub fn discover(explicit: Option<&Path>) -> Result<Self> {
        match explicit {
            Some(path) => Config::load(path),
            None if Path::new(DEFAULT_FILE).is_file() => Config::load(Path::new(DEFAULT_FILE)),
            None => Ok(Config::empty()),
        }
    }

    /// Reads and checks the file at `path`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the file (and the line, section and
    /// key where there is one) and what to write instead.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigUnreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks `text`, which was read from `path` (used for
    /// messages and to resolve relative paths).
    ///
    /// # Errors
    /// As for [`Config::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file = validate::parse(text, path)?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Config {
            path: Some(path.to_owned()),
            base,
            file,
        })
    }

    /// The file this came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The sections as written.
    pub fn file(&self) -> &ConfigFile {
        &self.file
    }

    /// `[section] in FILE`, for messages.
    pub fn origin(&self, section: &str) -> String {
        match &self.path {
            Some(p) => format!("[{section}] in {}", p.display()),
            None => format!("[{section}]"),
        }
    }

    /// Whether the file has a section for `kind`.
    pub fn is_configured(&self, kind: TargetKind) -> bool {
        match kind {
            TargetKind::Ad => self.file.ad.is_some(),
            TargetKind::M365 => self.file.m365.is_some(),
            TargetKind::Exchange => self.file.exchange.is_some(),
            TargetKind::Ldap => self.file.ldap.is_some(),
            TargetKind::Folder => self.file.folder.is_some(),
            TargetKind::Google => self.file.google.is_some(),
        }
    }

    /// The kinds that have a section, in [`TargetKind::ALL`] order.
    pub fn configured(&self) -> Vec<TargetKind> {
        TargetKind::ALL
            .into_iter()
            .filter(|k| self.is_configured(*k))
            .collect()
    }

    /// The `[[sync]]` jobs, in file order.
    pub fn sync_jobs(&self) -> &[SyncSection] {
        &self.file.sync
    }

    /// A path from the file, resolved against the file's folder.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }

    /// The backup folder: `[backup] dir`, else the platform data folder's
    /// `backups` (e.g. `~/.local/share/userphoto/backups`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when there is no home folder to put the
    /// default under.
    pub fn backup_dir(&self) -> Result<PathBuf> {
        match self.file.backup.as_ref().and_then(|b| b.dir.as_deref()) {
            Some(dir) => Ok(self.resolve_path(dir)),
            None => Ok(data_dir(&self.origin("backup"), "dir")?.join("backups")),
        }
    }

    /// The audit log: `[audit] path`, else `audit.jsonl` in the platform
    /// data folder.
    ///
    /// # Errors
    /// As for [`Config::backup_dir`].
    pub fn audit_path(&self) -> Result<PathBuf> {
        match self.file.audit.as_ref().and_then(|a| a.path.as_deref()) {
            Some(path) => Ok(self.resolve_path(path)),
            None => Ok(data_dir(&self.origin("audit"), "path")?.join("audit.jsonl")),
        }
    }

    /// The data folder: where the audit log is (the platform data folder
    /// unless `[audit] path` moves it). The web UI keeps its log file
    /// (`serve.log`) and browser uploads (`uploads/`) there.
    ///
    /// # Errors
    /// As for [`Config::audit_path`].
    pub fn data_dir(&self) -> Result<PathBuf> {
        let audit = self.audit_path()?;
        Ok(audit
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf))
    }

    /// Who we act as at `kind`, for the audit log (never a secret): the bind
    /// DN, the application id, the Exchange user, or the local user for a
    /// folder. `None` if `kind` is not configured.
    pub fn identity(&self, kind: TargetKind) -> Option<String> {
        let f = &self.file;
        match kind {
            TargetKind::Ad => f.ad.as_ref().map(ldap_identity),
            TargetKind::Ldap => f.ldap.as_ref().map(ldap_identity),
            TargetKind::M365 => f
                .m365
                .as_ref()
                .map(|s| format!("app {} in tenant {}", s.client_id, s.tenant_id)),
            TargetKind::Exchange => f.exchange.as_ref().map(|s| {
                match (
                    s.auth == Some(crate::ews::EwsAuth::Kerberos),
                    s.username.is_empty(),
                ) {
                    (true, true) => kerberos_identity(),
                    (true, false) => {
                        format!("{} (NTLM fallback: {})", kerberos_identity(), s.username)
                    }
                    (false, _) => s.username.clone(),
                }
            }),
            TargetKind::Folder => f.folder.as_ref().map(|_| local_user()),
            TargetKind::Google => f
                .google
                .as_ref()
                .map(|s| format!("service account acting as {}", s.subject)),
        }
    }
}

/// The bind DN, `anonymous`, or for a Kerberos bind whose ticket it is.
fn ldap_identity(section: &LdapConfig) -> String {
    if section.auth == crate::ldap::LdapAuth::Kerberos {
        return kerberos_identity();
    }
    section
        .bind_dn
        .clone()
        .unwrap_or_else(|| "anonymous".to_owned())
}

/// Who acts with `auth = "kerberos"`, for audit lines: the ticket in the
/// local user's session (the principal itself is the ticket's business).
fn kerberos_identity() -> String {
    format!("the Kerberos ticket of {}", local_user())
}

/// The platform data folder for userphoto.
fn data_dir(origin: &str, key: &str) -> Result<PathBuf> {
    crate::private_fs::data_home().ok_or_else(|| Error::InvalidConfig {
        message: format!(
            "there is no home folder to keep userphoto's data in; set {key} in {origin}"
        ),
    })
}

/// `local user NAME` from the environment, for a folder target's audit lines.
fn local_user() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("local user {name}")
}

#[cfg(test)]
mod tests;
