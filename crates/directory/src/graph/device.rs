//! Delegated sign-in for an admin at a terminal: the OAuth 2.0 device code
//! flow (`userphoto login m365`) and the file that keeps its refresh token.
//!
//! Why: some tenants will not let a tool hold an app-only credential; an
//! admin signs in once in a browser instead, and later runs use the saved
//! refresh token (rotated on every use) until it expires. The flow is a
//! handful of form posts, so it is written here on the backend's own HTTP
//! client rather than through the `oauth2` crate, which would bring a
//! second HTTP stack and token types to map anyway.
//!
//! The token is kept in a file readable only by the user (mode 0600 on
//! Unix, the user's profile folder elsewhere), never printed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::errors::token_refused;
use crate::error::{Error, Result};

/// The delegated permissions asked for, relative to the Graph URL.
pub(crate) fn delegated_scope(graph_url: &str) -> String {
    format!("{graph_url}/ProfilePhoto.ReadWrite.All {graph_url}/User.Read.All offline_access")
}

/// Where a signed-in admin's refresh token is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenFile {
    path: PathBuf,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenFile({})", self.path.display())
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    tenant_id: String,
    client_id: String,
    refresh_token: String,
}

impl TokenFile {
    /// A token file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TokenFile { path: path.into() }
    }

    /// The default: `m365-<tenant>-<client>.json` in the platform data
    /// folder (e.g. `~/.local/share/userphoto`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when there is no home folder.
    pub fn default_for(tenant_id: &str, client_id: &str) -> Result<Self> {
        let dir = crate::private_fs::data_home().ok_or_else(|| {
            Error::InvalidConfig {
                message: "there is no home folder to keep the Microsoft 365 sign-in in; set token_file in [m365]".into(),
            }
        })?;
        let safe = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        };
        Ok(TokenFile::new(dir.join(format!(
            "m365-{}-{}.json",
            safe(tenant_id),
            safe(client_id)
        ))))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved refresh token, if the admin signed in for this app.
    pub(crate) fn load(&self, tenant_id: &str, client_id: &str) -> Result<SecretString> {
        let not_signed_in = || Error::Unauthenticated {
            message: format!(
                "nobody is signed in to Microsoft 365 for app {client_id} (no saved sign-in in {})",
                self.path.display()
            ),
            hint: "run `userphoto login m365` and sign in as an admin".to_owned(),
        };
        let text = std::fs::read(&self.path).map_err(|_| not_signed_in())?;
        let stored: Stored = serde_json::from_slice(&text).map_err(|_| not_signed_in())?;
        if stored.tenant_id != tenant_id || stored.client_id != client_id {
            return Err(not_signed_in());
        }
        Ok(SecretString::from(stored.refresh_token))
    }

    /// Saves a refresh token, readable only by this user.
    pub(crate) fn save(
        &self,
        tenant_id: &str,
        client_id: &str,
        token: &SecretString,
    ) -> Result<()> {
        let fail = |e: std::io::Error| {
            Error::InvalidConfig {
            message: format!(
                "the Microsoft 365 sign-in cannot be saved in {} ({e}); set token_file in [m365] to a writable place",
                self.path.display()
            ),
        }
        };
        if let Some(dir) = self.path.parent() {
            crate::private_fs::create_dir_all(dir).map_err(fail)?;
        }
        let body = serde_json::to_vec(&Stored {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            refresh_token: token.expose_secret().to_owned(),
        })
        .map_err(|e| fail(std::io::Error::other(e)))?;
        let staged = self.path.with_extension("json.tmp");
        {
            use std::io::Write as _;
            // A staged file left 0644 by an older version is narrowed too
            // (`mode` only applies to files it creates); the rename keeps it.
            let mut file = crate::private_fs::open(
                crate::private_fs::options()
                    .write(true)
                    .create(true)
                    .truncate(true),
                &staged,
            )
            .map_err(fail)?;
            file.write_all(&body).map_err(fail)?;
            file.sync_all().map_err(fail)?;
        }
        std::fs::rename(&staged, &self.path).map_err(fail)
    }
}

/// What the admin must do to sign in.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct DevicePrompt {
    /// The code to type.
    pub user_code: String,
    /// The page to open.
    pub verification_uri: String,
    /// Entra ID's own sentence with both.
    #[serde(default)]
    pub message: String,
    #[serde(default = "default_interval")]
    interval: u64,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_interval() -> u64 {
    5
}

fn default_expiry() -> u64 {
    900
}

#[derive(Deserialize)]
struct DeviceStart {
    device_code: String,
    #[serde(flatten)]
    prompt: DevicePrompt,
}

#[derive(Deserialize)]
struct TokenAnswer {
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct PollError {
    #[serde(default)]
    error: String,
}

/// Signs an admin in with the device code flow: asks Entra ID for a code,
/// calls `show` with what to tell the admin, polls until they have signed
/// in, and saves the refresh token in `file`.
///
/// # Errors
/// [`Error::Unauthenticated`] when the admin declines, the code expires or
/// Entra ID refuses (AADSTS code explained); [`Error::Unavailable`] when
/// the login endpoint cannot be reached.
pub async fn device_code_login(
    login_url: &str,
    graph_url: &str,
    tenant_id: &str,
    client_id: &str,
    file: &TokenFile,
    show: impl FnOnce(&DevicePrompt),
) -> Result<()> {
    let login_url = login_url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::other("m365", format!("cannot set up HTTPS: {e}")))?;
    let unreachable = |e: reqwest::Error| Error::Unavailable {
        message: format!(
            "cannot reach the Entra ID login endpoint {login_url} ({})",
            super::http::describe_reqwest(&e)
        ),
    };
    let read = |response: reqwest::Response| async move {
        super::http::read_body(response).await.map_err(|e| match e {
            super::http::BodyError::Broken(e) => unreachable(e),
            super::http::BodyError::TooLarge => super::http::too_large(login_url, "login_url"),
        })
    };
    let scope = delegated_scope(graph_url.trim_end_matches('/'));
    let start = http
        .post(format!("{login_url}/{tenant_id}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", client_id), ("scope", scope.as_str())])
        .send()
        .await
        .map_err(unreachable)?;
    let status = start.status().as_u16();
    let body = read(start).await?;
    if status != 200 {
        return Err(token_refused(status, &body, client_id));
    }
    let started: DeviceStart = serde_json::from_slice(&body)
        .map_err(|_| Error::other("m365", "the device code answer could not be read"))?;
    show(&started.prompt);
    let device_code = SecretString::from(started.device_code);
    let mut interval = Duration::from_secs(started.prompt.interval);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(started.prompt.expires_in);
    let token_url = format!("{login_url}/{tenant_id}/oauth2/v2.0/token");
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Unauthenticated {
                message: "the sign-in code expired before the sign-in was finished".into(),
                hint: "run `userphoto login m365` again and sign in within 15 minutes".into(),
            });
        }
        let answer = http
            .post(&token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", device_code.expose_secret()),
            ])
            .send()
            .await
            .map_err(unreachable)?;
        let status = answer.status().as_u16();
        let body = read(answer).await?;
        if status == 200 {
            let token: TokenAnswer = serde_json::from_slice(&body)
                .map_err(|_| Error::other("m365", "the sign-in answer could not be read"))?;
            let refresh = token.refresh_token.ok_or_else(|| Error::Unauthenticated {
                message: "Entra ID signed in but kept the refresh token back".into(),
                hint: "the app must ask for offline_access; check the app registration allows public client flows".into(),
            })?;
            return file.save(tenant_id, client_id, &SecretString::from(refresh));
        }
        let poll: PollError = serde_json::from_slice(&body).unwrap_or_default();
        match poll.error.as_str() {
            "authorization_pending" => {}
            "slow_down" => interval += Duration::from_secs(5),
            _ => return Err(token_refused(status, &body, client_id)),
        }
    }
}
