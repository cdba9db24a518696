//! Hybrid identity: finding an on-premises user in Microsoft 365.
//!
//! Why a module of its own: in a HYBRID tenant the user list often comes
//! from Active Directory while the HD photo goes to Microsoft 365, and the
//! two know a person by different names. Entra Connect usually syncs the
//! UPN, but not always to the same value; mail is the next best key, and
//! `onPremisesSamAccountName` is what Entra keeps of the AD account name.
//! The order is configurable (`[m365] match_order`); the first key that
//! finds exactly one user wins, and an ambiguous key stops the search
//! rather than guessing.

use crate::directory::Directory;
use crate::error::Result;
use crate::user::{FindResult, User, UserKey};

/// Looks `on_premises` up in `cloud` by each key of `order` in turn, using
/// the on-premises user's value for that key (its UPN, mail,
/// sAMAccountName…). Keys the user has no value for, or `cloud` cannot
/// search, are skipped.
///
/// # Errors
/// Only failures of the lookups themselves; no match is
/// [`FindResult::NotFound`].
pub async fn find_in_cloud(
    cloud: &dyn Directory,
    on_premises: &User,
    order: &[UserKey],
) -> Result<FindResult> {
    for &key in order {
        if !cloud.capabilities().supports_key(key) {
            continue;
        }
        let Some(value) = on_premises.key(key).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let found = cloud.find_users(key, &[value.to_owned()]).await?;
        match found.into_iter().next() {
            Some(FindResult::NotFound) | None => continue,
            Some(other) => {
                tracing::debug!(user = %on_premises, %key, "m365: matched the on-premises user");
                return Ok(other);
            }
        }
    }
    Ok(FindResult::NotFound)
}
