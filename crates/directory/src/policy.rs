//! Where a directory's owner says photos are managed.
//!
//! Why: since 2024 a Microsoft 365 tenant can set `photoUpdateSettings`
//! (`source`: `cloud` or `onPremises`); with `onPremises` Microsoft 365
//! accepts no photo update, and photos reach the cloud only through
//! directory synchronisation from Active Directory. A planner that knows
//! the setting writes to AD only instead of sending uploads that fail.

use serde::{Deserialize, Serialize};

/// Where photo updates are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PhotoSource {
    /// Photos are updated in the cloud.
    Cloud,
    /// Photos are managed on premises: the cloud accepts no update.
    OnPremises,
    /// A value this version does not know (Graph's `unknownFutureValue`
    /// and later ones): treated as `cloud`, as writes then show.
    Other(String),
}

impl PhotoSource {
    /// From Graph's `source` value.
    pub fn parse(value: &str) -> Self {
        match value {
            v if v.eq_ignore_ascii_case("cloud") => PhotoSource::Cloud,
            v if v.eq_ignore_ascii_case("onPremises") => PhotoSource::OnPremises,
            v => PhotoSource::Other(v.to_owned()),
        }
    }

    /// As Graph spells it.
    pub fn as_str(&self) -> &str {
        match self {
            PhotoSource::Cloud => "cloud",
            PhotoSource::OnPremises => "onPremises",
            PhotoSource::Other(v) => v,
        }
    }
}

/// A directory's photo update setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoPolicy {
    /// Where photo updates are accepted.
    pub source: PhotoSource,
    /// The roles allowed to edit photos in the cloud (role template ids).
    pub allowed_roles: Vec<String>,
}

impl PhotoPolicy {
    /// Whether this directory accepts no photo update (they are managed
    /// on premises).
    pub fn refuses_updates(&self) -> bool {
        self.source == PhotoSource::OnPremises
    }
}
