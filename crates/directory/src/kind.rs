//! The kinds of target (`ad`, `m365`, `exchange`, `ldap`, `folder`), which
//! side of a hybrid organisation each lives on, and the mode the reachable
//! ones make. Plain data that every other module may name (errors, the
//! configuration, the engine's plans) without depending on any of them.

use std::fmt;
use std::str::FromStr;

/// A kind of target: where photos are written. Serialised as its section
/// name (`ad`, `m365`, …), as saved plans and reports name it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Active Directory (`thumbnailPhoto`, 96×96).
    Ad,
    /// Microsoft 365 / Entra ID through Graph (HD, 648×648).
    M365,
    /// Exchange Server on-premises through EWS (HD, 648×648).
    Exchange,
    /// A plain LDAP directory (`jpegPhoto`, size from config).
    Ldap,
    /// A local folder directory.
    Folder,
    /// Google Workspace through the Admin SDK (96×96: what Google keeps).
    Google,
}

impl TargetKind {
    /// Every kind, in the order `detect` reports them.
    pub const ALL: [TargetKind; 6] = [
        TargetKind::Ad,
        TargetKind::M365,
        TargetKind::Exchange,
        TargetKind::Ldap,
        TargetKind::Folder,
        TargetKind::Google,
    ];

    /// The section and command-line name: `ad`, `m365`, `exchange`, `ldap`,
    /// `folder`, `google`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Ad => "ad",
            TargetKind::M365 => "m365",
            TargetKind::Exchange => "exchange",
            TargetKind::Ldap => "ldap",
            TargetKind::Folder => "folder",
            TargetKind::Google => "google",
        }
    }

    /// Which side of a hybrid organisation the kind lives on.
    pub fn side(self) -> Side {
        match self {
            TargetKind::Ad | TargetKind::Exchange | TargetKind::Ldap => Side::OnPremises,
            TargetKind::M365 | TargetKind::Google => Side::Cloud,
            TargetKind::Folder => Side::Local,
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetKind {
    type Err = UnknownTarget;

    fn from_str(s: &str) -> Result<Self, UnknownTarget> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ad" | "activedirectory" | "active-directory" => Ok(TargetKind::Ad),
            "m365" | "graph" | "entra" | "o365" => Ok(TargetKind::M365),
            "exchange" | "ews" => Ok(TargetKind::Exchange),
            "ldap" => Ok(TargetKind::Ldap),
            "folder" => Ok(TargetKind::Folder),
            "google" | "workspace" | "gsuite" => Ok(TargetKind::Google),
            _ => Err(UnknownTarget(s.to_owned())),
        }
    }
}

/// Where a target lives, for the mode (see [`Mode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Active Directory, Exchange Server, plain LDAP.
    OnPremises,
    /// Microsoft 365, Google Workspace.
    Cloud,
    /// A local folder: counts for neither side.
    Local,
}

/// How the organisation's photos are managed, from the targets that answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only on-premises targets (`ad`, `exchange`, `ldap`) are reachable.
    OnPremises,
    /// Only Microsoft 365 is reachable.
    Cloud,
    /// Both sides are reachable.
    Hybrid,
    /// No directory is reachable (a `folder` alone counts for neither side).
    None,
}

impl Mode {
    /// The mode given the kinds that are reachable and authenticated.
    pub fn of(reachable: impl IntoIterator<Item = TargetKind>) -> Mode {
        let (mut on_prem, mut cloud) = (false, false);
        for kind in reachable {
            match kind.side() {
                Side::OnPremises => on_prem = true,
                Side::Cloud => cloud = true,
                Side::Local => {}
            }
        }
        match (on_prem, cloud) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::OnPremises,
            (false, true) => Mode::Cloud,
            (false, false) => Mode::None,
        }
    }

    /// `ON-PREMISES`, `CLOUD`, `HYBRID`, `NONE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::OnPremises => "ON-PREMISES",
            Mode::Cloud => "CLOUD",
            Mode::Hybrid => "HYBRID",
            Mode::None => "NONE",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a kind of target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a target; use one of ad, m365, exchange, ldap, folder, google")]
pub struct UnknownTarget(pub String);
