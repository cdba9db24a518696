//! `[google]`: checking the section and opening the Google Workspace
//! target.
//!
//! ```toml
//! [google]
//! key_file = "/etc/userphoto/google-key.json"   # or key_env = "USERPHOTO_GOOGLE_KEY" (the JSON text)
//! subject = "admin@example.com"                 # the admin to act as (domain-wide delegation)
//! # customer = "my_customer"  domain = "example.com"
//! # requests_per_minute = 2400                  # Google's default quota
//! ```
//!
//! Kept apart from `open.rs` and `validate.rs` so the Google target is one
//! file to read (and to move when the configuration is reorganised).

use std::sync::Arc;

use super::sections::GoogleSection;
use super::{Config, TargetKind};
use crate::error::{Error, Result};
use crate::google::{GoogleDirectory, ServiceAccountKey};
use crate::target::Target;

fn invalid(message: String) -> Error {
    Error::InvalidConfig { message }
}

/// Checks `[google]` without reading the key.
pub(super) fn check(s: &GoogleSection, origin: &str) -> Result<()> {
    match (&s.key_file, &s.key_env) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{origin} has both key_file and key_env; keep one"
            )))
        }
        (None, None) => {
            return Err(invalid(format!(
                "{origin} needs the service account key: key_file = \"google-key.json\" (the JSON key from the Cloud console, readable by this account only) or key_env = \"USERPHOTO_GOOGLE_KEY\" (an environment variable holding its text)"
            )))
        }
        _ => {}
    }
    if !s.subject.contains('@') {
        return Err(invalid(format!(
            "{origin}: subject = {:?} must be the e-mail of a Workspace admin to act as, e.g. subject = \"admin@example.com\"",
            s.subject
        )));
    }
    if s.customer.is_some() && s.domain.is_some() {
        return Err(invalid(format!(
            "{origin} has both customer and domain; keep one (customer lists every domain of the account)"
        )));
    }
    if s.requests_per_minute == Some(0) {
        return Err(invalid(format!(
            "{origin}: requests_per_minute must be at least 1 (Google's default quota is 2400)"
        )));
    }
    for (key, url) in [("api_url", &s.api_url), ("oauth_url", &s.oauth_url)] {
        if let Some(url) = url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !ok {
                return Err(invalid(format!(
                    "{origin}: {key} = {url:?} is not an http(s) URL"
                )));
            }
        }
    }
    Ok(())
}

/// `[google]`: the Google Workspace backend; signs in now, so a missing
/// delegation, a wrong subject or a bad clock is reported at open.
pub(super) async fn open(
    config: &Config,
    s: &GoogleSection,
    origin: &str,
    identity: String,
) -> Result<Target> {
    let key = match (&s.key_file, &s.key_env) {
        (Some(path), _) => {
            let path = config.resolve_path(path);
            ServiceAccountKey::from_file(&path).map_err(|e| match e {
                Error::InvalidConfig { message } => invalid(format!("{origin}: {message}")),
                other => other,
            })?
        }
        (None, Some(var)) => {
            let text = std::env::var(var).map_err(|_| {
                invalid(format!(
                    "{origin}: the environment variable {var} (key_env) is not set; set it to the text of the service account's JSON key"
                ))
            })?;
            ServiceAccountKey::from_json(text.as_bytes(), &format!("{origin}: key_env {var}"))?
        }
        (None, None) => return Err(invalid(format!("{origin} needs key_file or key_env"))),
    };
    let mut builder = GoogleDirectory::builder(&s.subject).key(key);
    if let Some(c) = &s.customer {
        builder = builder.customer(c);
    }
    if let Some(d) = &s.domain {
        builder = builder.domain(d);
    }
    if let Some(u) = &s.api_url {
        builder = builder.api_url(u);
    }
    if let Some(u) = &s.oauth_url {
        builder = builder.token_url(u);
    }
    if let Some(n) = s.requests_per_minute {
        builder = builder.requests_per_minute(n);
    }
    if let Some(n) = s.max_concurrency {
        builder = builder.max_concurrency(n);
    }
    if let Some(on) = s.delete_before_update {
        builder = builder.delete_before_update(on);
    }
    let dir = builder.build()?;
    dir.sign_in().await?;
    Ok(Target::new(TargetKind::Google, Arc::new(dir), identity))
}
