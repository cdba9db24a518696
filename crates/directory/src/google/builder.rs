//! Building a [`GoogleDirectory`]: what to configure and what is checked.
//!
//! The settings (key, subject, customer or domain, endpoints, pace, retry
//! bounds) are validated once here, so the rest of the backend can rely on
//! them: endpoints are `https://` unless they point at this machine (an
//! emulator), there is a key and a subject.

use std::sync::Arc;
use std::time::Duration;

use super::credential::{ServiceAccountKey, TokenCache};
use super::transport::{Counters, Pacer, Transport};
use super::GoogleDirectory;
use crate::capabilities::{Capabilities, PhotoSlot};
use crate::error::{Error, Result};
use crate::graph::builder::check_endpoint;
use crate::graph::transport::RetryConfig;
use crate::photo::PhotoFormat;
use crate::user::UserKey;

/// The Admin SDK's endpoint.
pub const DEFAULT_API_URL: &str = "https://admin.googleapis.com";
/// Google's OAuth 2.0 token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scope userphoto asks for: read users, change their photos.
pub const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";
/// Google's documented default quota: 2,400 queries per minute per user
/// per project ("Directory API: Limits and Quotas").
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 2400;
/// The size Google keeps: "Whatever the size of the photo being uploaded,
/// the API downsizes it to 96x96 pixels" (UserPhoto reference).
pub const PHOTO_PIXELS: u32 = 96;
/// The most userphoto sends: a 96×96 JPEG needs a few KB; Google documents
/// no limit, so this is ours (see docs/GOOGLE.md).
pub const MAX_PHOTO_BYTES: usize = 100 * 1024;

/// Settings for a [`GoogleDirectory`]; [`build`](Self::build) checks them.
#[derive(Debug)]
pub struct GoogleBuilder {
    key: Option<ServiceAccountKey>,
    subject: String,
    customer: Option<String>,
    domain: Option<String>,
    api_url: String,
    token_url: Option<String>,
    retry: RetryConfig,
    requests_per_minute: u32,
    max_concurrency: usize,
    timeout: Duration,
    delete_before_update: bool,
}

impl GoogleBuilder {
    /// Settings acting as the admin `subject` (domain-wide delegation).
    pub fn new(subject: impl Into<String>) -> Self {
        GoogleBuilder {
            key: None,
            subject: subject.into(),
            customer: None,
            domain: None,
            api_url: DEFAULT_API_URL.to_owned(),
            token_url: None,
            retry: RetryConfig::default(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            max_concurrency: 8,
            timeout: Duration::from_secs(60),
            delete_before_update: true,
        }
    }

    /// The service account's key.
    pub fn key(mut self, key: ServiceAccountKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The customer id (default `my_customer`: the subject's account).
    pub fn customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// List only this domain's users (instead of the whole customer).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The Admin SDK endpoint (emulators).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The token endpoint (default: the key file's `token_uri`, else
    /// Google's).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Retry bounds and backoff.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The client-side pace (default 2,400 a minute, Google's default
    /// quota; set what your project's quota page says).
    pub fn requests_per_minute(mut self, n: u32) -> Self {
        self.requests_per_minute = n.max(1);
        self
    }

    /// The most photo operations run at once (default 8).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// The timeout of one HTTP request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a photo is deleted before it is replaced (default on: an
    /// update can leave a photo the user set themself in place).
    pub fn delete_before_update(mut self, on: bool) -> Self {
        self.delete_before_update = on;
        self
    }

    /// Checks the settings and builds the directory. Does no I/O: call
    /// [`GoogleDirectory::sign_in`] to prove the key and delegation work.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for no key, no subject, or an endpoint that
    /// is neither `https://` nor on this machine.
    pub fn build(self) -> Result<GoogleDirectory> {
        let Some(key) = self.key else {
            return Err(Error::InvalidConfig {
                message: "[google] needs the service account key: key_file or key_env".into(),
            });
        };
        if !self.subject.contains('@') {
            return Err(Error::InvalidConfig {
                message: format!(
                    "[google] subject = {:?} must be the e-mail of a Workspace admin to act as (domain-wide delegation)",
                    self.subject
                ),
            });
        }
        let token_url = self
            .token_url
            .or_else(|| key.token_uri().map(str::to_owned))
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        check_endpoint("google", "api_url", &self.api_url)?;
        check_endpoint("google", "oauth_url", &token_url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("userphoto/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| Error::other("google", format!("cannot set up HTTPS: {e}")))?;
        let client_id = key.client_id().to_owned();
        let tokens = TokenCache::new(
            http.clone(),
            token_url,
            key,
            self.subject.clone(),
            USER_SCOPE.to_owned(),
        );
        let caps = Capabilities::for_slot(PhotoSlot::Thumbnail)
            .with_max_bytes(MAX_PHOTO_BYTES)
            .with_recommended_pixels(PHOTO_PIXELS)
            .with_formats([PhotoFormat::Jpeg, PhotoFormat::Png])
            .with_lookup(
                [
                    UserKey::Mail,
                    UserKey::Upn,
                    UserKey::Alias,
                    UserKey::EmployeeId,
                    UserKey::DisplayName,
                    UserKey::Id,
                ],
                false,
            )
            .with_concurrency(self.max_concurrency)
            .with_listing_key(UserKey::Mail, "primaryEmail");
        Ok(GoogleDirectory {
            api_url: self.api_url,
            subject: self.subject,
            client_id,
            customer: self.customer,
            domain: self.domain,
            delete_before_update: self.delete_before_update,
            caps,
            transport: Transport {
                http,
                tokens: Arc::new(tokens),
                pacer: Pacer::new(self.requests_per_minute, 10),
                retry: self.retry,
                counters: Counters::default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ServiceAccountKey {
        let json = userphoto_emulators::google::service_account_json("http://127.0.0.1:1");
        ServiceAccountKey::from_json(json.as_bytes(), "test").expect("key")
    }

    #[test]
    fn endpoints_must_be_https_except_loopback() {
        let e = GoogleBuilder::new("a@x.test")
            .key(key())
            .api_url("http://admin.googleapis.com")
            .build()
            .expect_err("plain http elsewhere");
        assert!(e.to_string().contains("[google] api_url"), "{e}");
        assert!(GoogleBuilder::new("a@x.test").key(key()).build().is_ok());
        let e = GoogleBuilder::new("admin")
            .key(key())
            .build()
            .expect_err("not an e-mail");
        assert!(e.to_string().contains("Workspace admin"), "{e}");
    }

    #[test]
    fn needs_a_key_and_an_admin_subject() {
        let e = GoogleBuilder::new("admin@x.test")
            .build()
            .expect_err("no key");
        assert!(e.to_string().contains("key_file"), "{e}");
    }
}
