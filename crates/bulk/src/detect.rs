//! `userphoto detect`: which targets are configured, reachable,
//! authenticated and permitted — each checked at once, within a timeout.

use std::time::Duration;

use userphoto_directory::config::{Config, TargetKind};
use userphoto_directory::{Error as DirError, PhotoLookup, UserQuery};

/// What `detect` found out about one kind of target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The kind.
    pub kind: TargetKind,
    /// Whether the configuration has a section for it.
    pub configured: bool,
    /// Whether it answered (`None`: not tried or unknown).
    pub reachable: Option<bool>,
    /// Whether it accepted our credentials.
    pub authenticated: Option<bool>,
    /// Whether we may list users, read photos, and the target takes writes
    /// (write rights themselves show on the first write).
    pub permitted: Option<bool>,
    /// The target as it names itself (URL, folder), when opened.
    pub description: Option<String>,
    /// Why not, in one sentence, or a note.
    pub detail: Option<String>,
    /// Where the target's owner says photos are managed (Microsoft 365's
    /// `photoUpdateSettings.source`: `cloud` or `onPremises`), when the
    /// target has such a setting and it could be read.
    pub photo_source: Option<String>,
}

impl Detection {
    /// Whether the target is configured and fully usable.
    pub fn is_ok(&self) -> bool {
        self.configured
            && self.reachable == Some(true)
            && self.authenticated == Some(true)
            && self.permitted == Some(true)
    }

    fn failed(kind: TargetKind, error: &DirError) -> Self {
        let (reachable, authenticated, permitted) = match error {
            DirError::Unavailable { .. } | DirError::Timeout { .. } => (Some(false), None, None),
            DirError::Unauthenticated { .. } => (Some(true), Some(false), None),
            DirError::PermissionDenied { .. } => (Some(true), Some(true), Some(false)),
            e if e.is_config() => (None, None, None),
            _ => (Some(false), None, None),
        };
        Detection {
            kind,
            configured: true,
            reachable,
            authenticated,
            permitted,
            description: None,
            detail: Some(error.to_string()),
            photo_source: None,
        }
    }
}

/// Checks every kind of target: configured, reachable, authenticated,
/// permitted — each within `timeout`, all at once.
pub async fn detect(config: &Config, timeout: Duration) -> Vec<Detection> {
    let checks = TargetKind::ALL.into_iter().map(|kind| async move {
        if !config.is_configured(kind) {
            return Detection {
                kind,
                configured: false,
                reachable: None,
                authenticated: None,
                permitted: None,
                description: None,
                detail: None,
                photo_source: None,
            };
        }
        match tokio::time::timeout(timeout, probe(config, kind)).await {
            Ok(d) => d,
            Err(_) => Detection::failed(kind, &DirError::Timeout { after: timeout }),
        }
    });
    futures::future::join_all(checks).await
}

/// Opens one target and tries a harmless read.
async fn probe(config: &Config, kind: TargetKind) -> Detection {
    let target = match config.open(kind).await {
        Ok(t) => t,
        Err(e) => return Detection::failed(kind, &e),
    };
    let dir = &target.directory;
    let description = Some(dir.to_string());
    let first = {
        use futures::StreamExt as _;
        let query = UserQuery::all().with_limit(1);
        let mut users = dir.list_users(&query);
        users.next().await
    };
    let mut d = Detection {
        kind,
        configured: true,
        reachable: Some(true),
        authenticated: Some(true),
        permitted: Some(dir.capabilities().can_write),
        description,
        detail: None,
        photo_source: None,
    };
    match first {
        Some(Err(e)) => {
            let description = d.description.take();
            d = Detection::failed(kind, &e);
            d.description = description;
        }
        None => d.detail = Some("no users found; check the base and the user filter".into()),
        Some(Ok(user)) if dir.capabilities().can_read => match dir.get_photo(&user).await {
            Ok(PhotoLookup::NotAccessible { reason }) => {
                d.permitted = Some(false);
                d.detail = Some(format!("photos cannot be read: {reason}"));
            }
            Ok(_) => {}
            Err(e) => {
                let description = d.description.take();
                d = Detection::failed(kind, &e);
                d.description = description;
            }
        },
        Some(Ok(_)) => {}
    }
    if d.is_ok() {
        match dir.photo_policy().await {
            Ok(Some(p)) => {
                if p.refuses_updates() {
                    d.detail = Some(format!(
                        "photo update setting: {} — photos are managed on premises, so imports write them to Active Directory only",
                        p.source.as_str()
                    ));
                }
                d.photo_source = Some(p.source.as_str().to_owned());
            }
            Ok(None) => {}
            Err(e) => {
                d.detail = Some(format!(
                    "the photo update setting cannot be read, so it is taken as cloud: {e}"
                ));
            }
        }
    }
    if d.permitted == Some(false) && d.detail.is_none() {
        d.detail = Some("the target is read-only".into());
    }
    d
}
