//! An opened target: a directory plus what the engine needs to write to
//! it — who we are there and how photos are prepared for it.

use std::fmt;
use std::sync::Arc;

use crate::capabilities::PhotoSlot;
use crate::directory::Directory;
use crate::kind::TargetKind;

/// The default byte budget of a 648×648 HD photo (Microsoft 365, Exchange):
/// far below Graph's 4 MB, plenty for high quality.
const HD_BUDGET: usize = 300 * 1024;

/// An opened target: the directory plus what the engine needs to write to
/// it — who we are there (for the audit log) and how to prepare photos.
#[derive(Clone)]
pub struct Target {
    /// Which section this came from.
    pub kind: TargetKind,
    /// The directory.
    pub directory: Arc<dyn Directory>,
    /// Who we act as (bind DN, application id, local user); never a secret.
    pub identity: String,
    /// The square size photos are prepared at, in pixels.
    pub photo_size: u32,
    /// The byte budget photos are encoded within.
    pub budget_bytes: usize,
}

impl Target {
    /// A target around any directory (tests, the demo, embedding).
    pub fn new(
        kind: TargetKind,
        directory: Arc<dyn Directory>,
        identity: impl Into<String>,
    ) -> Self {
        let caps = directory.capabilities();
        let (photo_size, budget_bytes) = default_spec(caps);
        Target {
            kind,
            identity: identity.into(),
            photo_size,
            budget_bytes: budget_bytes.min(caps.max_bytes),
            directory,
        }
    }

    /// Sets the size and budget photos are prepared at (the budget is
    /// capped to the directory's limit).
    pub fn with_spec(mut self, photo_size: u32, budget_bytes: usize) -> Self {
        self.photo_size = photo_size;
        self.budget_bytes = budget_bytes.min(self.directory.capabilities().max_bytes);
        self
    }

    /// The slot this target holds.
    pub fn slot(&self) -> PhotoSlot {
        self.directory.capabilities().slot
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("directory", &self.directory.to_string())
            .field("identity", &self.identity)
            .field("photo_size", &self.photo_size)
            .field("budget_bytes", &self.budget_bytes)
            .finish()
    }
}

impl fmt::Display for Target {
    /// `ad (ldaps://dc1…)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.directory)
    }
}

/// Size and budget from the capabilities: HD targets get 300 KB (far
/// below Graph's 4 MB), the others the budget their backend recommends
/// (10 KB for Active Directory, the configured budget for plain LDAP).
fn default_spec(caps: &crate::Capabilities) -> (u32, usize) {
    match caps.slot {
        PhotoSlot::Hd => (caps.recommended_pixels, HD_BUDGET),
        PhotoSlot::Thumbnail | PhotoSlot::LdapJpeg => {
            (caps.recommended_pixels, caps.recommended_bytes)
        }
    }
}

impl TargetKind {
    /// The slot the kind holds by default (a folder's is configurable).
    pub fn default_slot(self) -> PhotoSlot {
        match self {
            TargetKind::Ad | TargetKind::Google => PhotoSlot::Thumbnail,
            TargetKind::M365 | TargetKind::Exchange | TargetKind::Folder => PhotoSlot::Hd,
            TargetKind::Ldap => PhotoSlot::LdapJpeg,
        }
    }
}
