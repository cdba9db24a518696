//! Building a [`GraphDirectory`]: what to configure and what is checked.
//!
//! Why a module of its own: the backend's settings (tenant, app,
//! credential, national-cloud endpoints, retry bounds, concurrency, how
//! long writes take to show) are validated once here, so the rest of the
//! backend can rely on them: endpoints are `https://` unless they point at
//! this machine (an emulator), and a credential is present.

use std::time::Duration;

use super::credential::{GraphCredential, TokenCache};
use super::limiter::Limiter;
use super::transport::{Counters, RetryConfig, Transport};
use super::GraphDirectory;
use crate::capabilities::{Capabilities, PhotoSlot};
use crate::error::{Error, Result};
use crate::user::UserKey;

/// Microsoft Graph in the global cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// The Microsoft identity platform in the global cloud.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The order an on-premises user is looked for in Microsoft 365.
pub const DEFAULT_MATCH_ORDER: [UserKey; 3] =
    [UserKey::Upn, UserKey::Mail, UserKey::SamAccountName];

/// Settings for a [`GraphDirectory`]; [`build`](Self::build) checks them.
#[derive(Debug)]
pub struct GraphBuilder {
    tenant_id: String,
    client_id: String,
    credential: Option<GraphCredential>,
    graph_url: String,
    login_url: String,
    retry: RetryConfig,
    max_concurrency: usize,
    read_after_write: Duration,
    timeout: Duration,
    match_order: Vec<UserKey>,
}

impl GraphBuilder {
    /// Settings for the app `client_id` in the tenant `tenant_id`, against
    /// the global cloud.
    pub fn new(tenant_id: impl Into<String>, client_id: impl Into<String>) -> Self {
        GraphBuilder {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential: None,
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            retry: RetryConfig::default(),
            max_concurrency: 8,
            read_after_write: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            match_order: DEFAULT_MATCH_ORDER.to_vec(),
        }
    }

    /// How the app signs in.
    pub fn credential(mut self, credential: GraphCredential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The Graph endpoint (national clouds, emulators).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The login endpoint (national clouds, emulators).
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Retry bounds and backoff.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The most requests in flight for this app and tenant (default 8;
    /// lowered automatically while Graph throttles).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// How long a photo just written may take to read back (default 30 s).
    pub fn read_after_write(mut self, patience: Duration) -> Self {
        self.read_after_write = patience;
        self
    }

    /// The timeout of one HTTP request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The keys an on-premises user is looked for by, in order (default
    /// UPN, mail, `onPremisesSamAccountName`).
    pub fn match_order(mut self, order: impl Into<Vec<UserKey>>) -> Self {
        let order = order.into();
        if !order.is_empty() {
            self.match_order = order;
        }
        self
    }

    /// Checks the settings and builds the directory. Does no I/O: call
    /// [`GraphDirectory::sign_in`] to prove the credential works.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty tenant or client id, no
    /// credential, or an endpoint that is neither `https://` nor on this
    /// machine.
    pub fn build(self) -> Result<GraphDirectory> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        if self.tenant_id.trim().is_empty() || self.client_id.trim().is_empty() {
            return invalid("[m365] needs tenant_id and client_id (from the app registration's Overview page in Entra ID)".into());
        }
        let Some(credential) = self.credential else {
            return invalid("[m365] needs a credential: client_secret_env, client_secret_file or certificate_file".into());
        };
        for (key, url) in [
            ("graph_url", &self.graph_url),
            ("login_url", &self.login_url),
        ] {
            check_endpoint("m365", key, url)?;
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("userphoto/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(15))
            .https_only(false)
            .build()
            .map_err(|e| Error::other("m365", format!("cannot set up HTTPS: {e}")))?;
        let token_url = format!("{}/{}/oauth2/v2.0/token", self.login_url, self.tenant_id);
        let scope = match credential {
            GraphCredential::Delegated(_) => super::device::delegated_scope(&self.graph_url),
            _ => format!("{}/.default", self.graph_url),
        };
        let tokens = TokenCache::new(
            http.clone(),
            token_url,
            (self.tenant_id.clone(), self.client_id.clone()),
            scope,
            credential,
        );
        let limiter = Limiter::shared(
            &format!("{}|{}|{}", self.login_url, self.tenant_id, self.client_id),
            self.max_concurrency,
        );
        let caps = Capabilities::for_slot(PhotoSlot::Hd)
            .with_lookup(
                [
                    UserKey::Upn,
                    UserKey::Mail,
                    UserKey::Alias,
                    UserKey::SamAccountName,
                    UserKey::EmployeeId,
                    UserKey::DisplayName,
                    UserKey::Id,
                ],
                true,
            )
            .with_concurrency(self.max_concurrency)
            .with_listing_key(UserKey::Alias, "mailNickname")
            .with_read_after_write(self.read_after_write);
        Ok(GraphDirectory {
            graph_url: self.graph_url,
            tenant_id: self.tenant_id,
            client_id: self.client_id,
            caps,
            match_order: self.match_order,
            transport: Transport {
                http,
                tokens: std::sync::Arc::new(tokens),
                limiter,
                retry: self.retry,
                counters: Counters::default(),
            },
        })
    }
}

/// `https://…`, or `http://` to this machine only; `section` names the
/// configuration section in messages (also the `google` backend's).
pub(crate) fn check_endpoint(section: &str, key: &str, url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).map_err(|e| Error::InvalidConfig {
        message: format!(
            "[{section}] {key} = {url:?} is not a URL ({e}); write e.g. {key} = \"https://…\""
        ),
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Error::InvalidConfig {
            message: format!(
                "[{section}] {key} = {url:?} must be an https:// URL (plain http is allowed only to this machine, for an emulator)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_except_loopback() {
        for ok in [
            "https://graph.microsoft.com",
            "http://127.0.0.1:8765",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(check_endpoint("m365", "graph_url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.microsoft.com",
            "ftp://x",
            "http://10.0.0.1",
            "nonsense",
        ] {
            assert!(check_endpoint("m365", "graph_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn needs_a_credential() {
        let e = GraphBuilder::new("t", "c").build();
        assert!(matches!(e, Err(Error::InvalidConfig { .. })));
    }
}
