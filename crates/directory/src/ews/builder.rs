//! Building an [`EwsDirectory`]: the URL, the credentials and the
//! transport (Basic over `reqwest`, or NTLM on connections of our own),
//! checked before any request is sent.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::http::{self, EwsAuth, Transport};
use super::{Counters, EwsDirectory, ServerInfo, REMOVE_NOT_SUPPORTED};
use crate::capabilities::{Capabilities, PhotoSlot};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::PhotoFormat;

/// Builds an [`EwsDirectory`].
#[derive(Clone)]
#[must_use]
pub struct EwsDirectoryBuilder {
    ews_url: String,
    username: String,
    password: Option<SecretString>,
    password_source: String,
    auth: EwsAuth,
    ca_file: Option<PathBuf>,
    allow_insecure: bool,
    timeout: Duration,
    max_backoff: Duration,
    users: Option<Arc<dyn Directory>>,
    concurrency: usize,
    server: Option<ServerInfo>,
}

impl fmt::Debug for EwsDirectoryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EwsDirectoryBuilder")
            .field("ews_url", &self.ews_url)
            .field("username", &self.username)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

impl Default for EwsDirectoryBuilder {
    fn default() -> Self {
        EwsDirectoryBuilder {
            ews_url: String::new(),
            username: String::new(),
            password: None,
            password_source: "the password".into(),
            auth: EwsAuth::default(),
            ca_file: None,
            allow_insecure: false,
            timeout: Duration::from_secs(60),
            max_backoff: Duration::from_secs(30),
            users: None,
            concurrency: 4,
            server: None,
        }
    }
}

impl EwsDirectoryBuilder {
    /// `https://mail.example.com/EWS/Exchange.asmx`.
    pub fn ews_url(mut self, url: impl Into<String>) -> Self {
        self.ews_url = url.into();
        self
    }

    /// `DOMAIN\user` or a UPN, with its password.
    pub fn credentials(mut self, username: impl Into<String>, password: SecretString) -> Self {
        self.username = username.into();
        self.password = Some(password);
        self
    }

    /// Where the password came from, for messages (never the value).
    pub fn password_source(mut self, source: impl Into<String>) -> Self {
        self.password_source = source.into();
        self
    }

    /// How to sign in (default [`EwsAuth::Ntlm`]). With
    /// [`EwsAuth::Kerberos`], [`credentials`](Self::credentials) are
    /// optional: the NTLM fallback's.
    pub fn auth(mut self, auth: EwsAuth) -> Self {
        self.auth = auth;
        self
    }

    /// An extra trust anchor (PEM) besides the system's roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Allow `http://` (tests and emulators only).
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// How long one request may take (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest back-off honoured per busy answer (default 30 s).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The directory users are listed and resolved in (Active Directory:
    /// its `mail` is the mailbox's primary SMTP address).
    pub fn users(mut self, users: Arc<dyn Directory>) -> Self {
        self.users = Some(users);
        self
    }

    /// How many photo operations callers should run at once (default 4).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// What the server said it is ([`EwsDirectory::server_info`]): a server
    /// without `SetUserPhoto` (Exchange 2013) makes the directory read-only
    /// (`can_write = false`), so the UI and `detect` show it.
    pub fn server(mut self, info: ServerInfo) -> Self {
        self.server = Some(info);
        self
    }

    /// Validates the configuration and sets up HTTPS (no request is sent).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a missing or non-HTTPS URL, missing
    /// credentials or user directory, or an unreadable `ca_file`.
    pub fn build(self) -> Result<EwsDirectory> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        let url = self.ews_url.trim().trim_end_matches('/').to_owned();
        let parsed = match url::Url::parse(&url) {
            Ok(u) => u,
            Err(e) => {
                return invalid(format!(
                    "[exchange] ews_url {url:?} is not a URL ({e}); use https://mail.example.com/EWS/Exchange.asmx"
                ))
            }
        };
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {
                tracing::warn!(url = %url, auth = %self.auth, "EWS over plain http: nothing is encrypted (allow_insecure)");
            }
            _ => {
                return invalid(format!(
                    "[exchange] ews_url {url:?} must start with https:// (the credentials and photos must not cross the network in clear)"
                ))
            }
        }
        if !parsed.path().to_ascii_lowercase().ends_with(".asmx") {
            return invalid(format!(
                "[exchange] ews_url {url:?} should end with /EWS/Exchange.asmx"
            ));
        }
        let kerberos = self.auth == EwsAuth::Kerberos;
        if kerberos && !crate::ldap::KERBEROS_AVAILABLE {
            return invalid(format!(
                "[exchange] auth = \"kerberos\": {}",
                crate::ldap::KERBEROS_NOT_BUILT
            ));
        }
        // With Kerberos, a username and password are optional: the NTLM
        // fallback's, when the ticket is missing or refused.
        let password = match self.password {
            None if kerberos => None,
            None => {
                return invalid(
                    "[exchange] needs username and password_env or password_file".into(),
                )
            }
            Some(p) => Some(p),
        };
        if self.username.trim().is_empty() && (!kerberos || password.is_some()) {
            return invalid("[exchange] needs username (DOMAIN\\user or a UPN)".into());
        }
        let Some(users) = self.users else {
            return invalid(
                "the exchange target lists users from Active Directory: add an [ad] section".into(),
            );
        };
        let transport = match self.auth {
            EwsAuth::Basic => Transport::Basic {
                http: basic_client(self.ca_file.as_deref(), self.timeout)?,
                username: self.username.clone(),
                password: password.ok_or_else(|| Error::InvalidConfig {
                    message: "[exchange] auth = \"basic\" needs password_env or password_file"
                        .into(),
                })?,
                timeout: self.timeout,
            },
            EwsAuth::Ntlm | EwsAuth::Kerberos => {
                let tls = if parsed.scheme() == "https" {
                    Some(crate::ldap::tls::client_config(
                        self.ca_file.as_deref(),
                        true,
                    )?)
                } else {
                    None
                };
                Transport::Ntlm(
                    http::NtlmTransport::new(
                        &parsed,
                        tls,
                        self.username.clone(),
                        password,
                        self.timeout,
                        self.concurrency * 2,
                        kerberos,
                    )
                    .map_err(|e| Error::InvalidConfig {
                        message: format!("[exchange] ews_url {url:?}: {e}"),
                    })?,
                )
            }
        };
        let source_caps = users.capabilities().clone();
        let caps = Capabilities::for_slot(PhotoSlot::Hd)
            .with_formats([PhotoFormat::Jpeg])
            .with_operations(
                true,
                self.server
                    .as_ref()
                    .is_none_or(ServerInfo::supports_set_user_photo),
                false,
            )
            .with_lookup(
                source_caps.lookup_keys.clone(),
                source_caps.supports_batch_lookup,
            )
            .with_listing_key(
                source_caps.listing_key,
                source_caps.listing_attribute.clone(),
            )
            .with_concurrency(self.concurrency)
            .without_delete(REMOVE_NOT_SUPPORTED);
        Ok(EwsDirectory {
            url,
            username: self.username,
            auth: self.auth,
            password_source: self.password_source,
            max_backoff: self.max_backoff,
            timeout: self.timeout,
            transport,
            users,
            caps,
            server: self.server,
            counters: Arc::new(Counters::default()),
        })
    }
}

/// The `reqwest` client for Basic: the system's roots plus `ca_file`.
fn basic_client(ca_file: Option<&std::path::Path>, timeout: Duration) -> Result<reqwest::Client> {
    let mut http = reqwest::Client::builder()
        .user_agent(concat!("userphoto/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(15));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| Error::InvalidConfig {
            message: format!("[exchange] cannot read ca_file {}: {e}", path.display()),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::InvalidConfig {
                message: format!(
                    "[exchange] ca_file {} holds no PEM certificate ({e})",
                    path.display()
                ),
            })?;
        for cert in certs {
            http = http.add_root_certificate(cert);
        }
    }
    http.build()
        .map_err(|e| Error::other("exchange", format!("cannot set up HTTPS: {e}")))
}
