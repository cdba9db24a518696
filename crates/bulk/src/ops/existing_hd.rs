//! "Use existing HD" for one person: the 648×648 photo they already have
//! at the HD target (Microsoft 365, Exchange) becomes their 96×96 at the
//! thumbnail target (Active Directory).
//!
//! Why one function: `userphoto use-existing-hd` and the web UI's button
//! do exactly this; the many-users job is [`crate::import::use_existing_hd`].
//! The person is found at the HD target from their on-premises account by
//! the [`Resolver`](crate::identity::Resolver) (UPN, then mail, then
//! onPremisesSamAccountName by default; `[m365] match_order`), and the
//! thumbnail goes through the usual back up → write → audit.

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{FindResult, PhotoLookup, User};
use userphoto_imaging::OutputSpec;

use super::{Change, Ops, OpsError, SetOptions};
use crate::backup::BackupReason;
use crate::prepare;

/// Why "use existing HD" did not write. Each message is one sentence that
/// says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExistingHdError {
    /// Nobody at the HD target matches the person.
    #[error("{user} was not found in {hd} by {keys}; check that the user is synchronised, or set match_order in [m365]")]
    NotFound {
        /// The person, as named on-premises.
        user: String,
        /// The HD target.
        hd: TargetKind,
        /// The keys tried, in order.
        keys: String,
    },
    /// Several users at the HD target match.
    #[error("{user} matches {count} users in {hd} ({candidates}); set match_order in [m365] to a unique key")]
    Ambiguous {
        /// The person, as named on-premises.
        user: String,
        /// The HD target.
        hd: TargetKind,
        /// How many match.
        count: usize,
        /// Who.
        candidates: String,
    },
    /// The person has no HD photo.
    #[error("{user} has no HD photo in {hd}, so there is nothing to reuse; import a photo instead (userphoto set USER IMAGE)")]
    NoPhoto {
        /// The person at the HD target.
        user: String,
        /// The HD target.
        hd: TargetKind,
    },
    /// The person has no mailbox, so no HD photo.
    #[error("{user} has no mailbox in {hd}, so there is no HD photo to use; set the photo from an image instead")]
    NoMailbox {
        /// The person at the HD target.
        user: String,
        /// The HD target.
        hd: TargetKind,
    },
    /// The HD photo cannot be read.
    #[error("the HD photo of {user} in {hd} cannot be read: {reason}")]
    NotAccessible {
        /// The person at the HD target.
        user: String,
        /// The HD target.
        hd: TargetKind,
        /// What the directory said.
        reason: String,
    },
    /// The HD photo cannot be made into a thumbnail.
    #[error("the HD photo of {user} in {hd} cannot be used: {detail}")]
    Unusable {
        /// The person at the HD target.
        user: String,
        /// The HD target.
        hd: TargetKind,
        /// Why.
        detail: String,
    },
    /// Looking up or writing failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

/// What "use existing HD" did.
#[derive(Debug)]
pub struct ExistingHd {
    /// The person as the HD target knows them.
    pub hd_user: User,
    /// The write at the thumbnail target.
    pub change: Change,
}

impl Ops {
    /// Makes `user`'s photo at `thumb` (where `user` was found) from the
    /// HD photo they have at `hd`: found there by [`Ops::match_order`],
    /// prepared at `thumb`'s size and budget, backed up, written, audited.
    ///
    /// # Errors
    /// [`ExistingHdError`]: not found or ambiguous at `hd`, no HD photo, no
    /// mailbox, not readable, or the lookup / write failed.
    pub async fn use_existing_hd(
        &self,
        hd: &Target,
        thumb: &Target,
        user: &User,
        options: &SetOptions,
    ) -> Result<ExistingHd, ExistingHdError> {
        let order = self.match_order();
        let pair = [thumb.clone(), hd.clone()];
        let found = self
            .resolver()
            .users(&pair, 0, std::slice::from_ref(user))
            .await
            .pop()
            .unwrap_or_else(|| Ok(Vec::new()))
            .map_err(|source| OpsError::Directory {
                target: hd.kind,
                source,
            })?;
        let hd_user = match found.into_iter().next().unwrap_or(FindResult::NotFound) {
            FindResult::Found(u) => u,
            FindResult::NotFound => {
                return Err(ExistingHdError::NotFound {
                    user: user.label().to_owned(),
                    hd: hd.kind,
                    keys: order
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", then "),
                })
            }
            FindResult::Ambiguous(users) => {
                return Err(ExistingHdError::Ambiguous {
                    user: user.label().to_owned(),
                    hd: hd.kind,
                    count: users.len(),
                    candidates: users
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        };
        let named = hd_user.to_string();
        let photo =
            match hd
                .directory
                .get_photo(&hd_user)
                .await
                .map_err(|source| OpsError::Directory {
                    target: hd.kind,
                    source,
                })? {
                PhotoLookup::Photo(p) => p,
                PhotoLookup::NoPhoto => {
                    return Err(ExistingHdError::NoPhoto {
                        user: named,
                        hd: hd.kind,
                    })
                }
                PhotoLookup::NoMailbox => {
                    return Err(ExistingHdError::NoMailbox {
                        user: named,
                        hd: hd.kind,
                    })
                }
                PhotoLookup::NotAccessible { reason } => {
                    return Err(ExistingHdError::NotAccessible {
                        user: named,
                        hd: hd.kind,
                        reason,
                    })
                }
            };
        // The HD photo is already framed: its thumbnail is the same square
        // scaled down, never re-framed around a face found in it.
        let spec = OutputSpec {
            size: thumb.photo_size,
            max_bytes: thumb.budget_bytes,
        };
        let small = prepare::thumbnail_of(&photo, spec)
            .await
            .map_err(|detail| ExistingHdError::Unusable {
                user: named.clone(),
                hd: hd.kind,
                detail: detail.text,
            })?;
        let change = self
            .replace(
                thumb,
                user,
                &small,
                crate::audit::AuditAction::Set,
                BackupReason::BeforeSet,
                &options.write,
            )
            .await?;
        let mut change = change;
        change.new_size = Some(spec.size);
        Ok(ExistingHd { hd_user, change })
    }
}
