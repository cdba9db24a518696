//! `GET /beta/admin/people/photoUpdateSettings`: the tenant's photo update
//! setting (`source`: `cloud` | `onPremises`, `allowedRoles`), permission
//! `PeopleSettings.Read.All`. Only in Graph's beta version (2024).
//!
//! Why a file of its own: it is the one request outside `/v1.0/users`, and
//! its failures need their own sentences (the permission is new and most
//! applications lack it).

use reqwest::Method;
use serde::Deserialize;

use super::errors::general;
use super::transport::Request;
use super::GraphDirectory;
use crate::error::{Error, Result};
use crate::policy::{PhotoPolicy, PhotoSource};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    allowed_roles: Vec<String>,
}

impl GraphDirectory {
    /// The tenant's photo update setting.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] (saying which permission to grant) when
    /// the application lacks `PeopleSettings.Read.All`; otherwise as for
    /// any Graph request.
    pub async fn photo_update_settings(&self) -> Result<PhotoPolicy> {
        let url = format!(
            "{}/beta/admin/people/photoUpdateSettings",
            self.graph_url.trim_end_matches('/')
        );
        let what = "reading the tenant's photo update setting";
        let answer = self
            .transport
            .send(&Request::new(Method::GET, url, what))
            .await?;
        if !answer.is_success() {
            let f = answer.failure();
            return Err(match f.status {
                401 | 403 => Error::PermissionDenied {
                    message: format!(
                        "Microsoft Graph refused to show the tenant's photo update setting ({})",
                        f.describe()
                    ),
                    hint: "grant the app the Microsoft Graph application permission PeopleSettings.Read.All, then grant admin consent; until then photos are sent to the cloud as if the setting were `cloud`".to_owned(),
                },
                _ => general(&f, what, &self.to_string()),
            });
        }
        let settings: Settings = serde_json::from_slice(&answer.body).map_err(|e| {
            Error::other(
                self.to_string(),
                format!("the photo update setting could not be read ({e})"),
            )
        })?;
        Ok(PhotoPolicy {
            // No source set: Microsoft's default, cloud.
            source: settings
                .source
                .as_deref()
                .map_or(PhotoSource::Cloud, PhotoSource::parse),
            allowed_roles: settings.allowed_roles,
        })
    }
}
