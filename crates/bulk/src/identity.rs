//! Which user a file, a name or a person is, in every target.
//!
//! Why one module: in a HYBRID organisation one person has an account
//! on-premises and one in the cloud, and the two know them by different
//! names. Whether it is a folder import matching file names, `userphoto
//! set NAME`, "use existing HD" or the web UI showing a user's panes and
//! writing them, the same rule must find the same person — or the page
//! shows one cloud user and writes another. The rule, once:
//!
//! * in the **primary** target (the first on-premises or local one, else
//!   the first) the name is looked up by the match key (`--match-by`,
//!   default that target's listing key), or the person is already known
//!   there;
//! * in **every other** target, by the primary user's own values for the
//!   keys of `[m365] match_order` in turn (UPN, then mail, then logon name
//!   by default): the first key that finds someone wins, and an ambiguous
//!   key is an answer (never followed by a guess with a later key); empty
//!   values are never looked up;
//! * and, for names the primary does not know (cloud-only users), by the
//!   name itself. A person the primary knows — from a file name, a name on
//!   the command line, or picked in the web UI — is found in the others by
//!   the match order alone, so every entry point finds the same account.
//!
//! Lookups are batched: one `find_users` call per target and key, whether
//! for one name or 10,000.

use std::sync::Arc;

use userphoto_directory::config::{Side, Target};
use userphoto_directory::graph::DEFAULT_MATCH_ORDER;
use userphoto_directory::{Error as DirError, FindResult, User, UserKey};

/// Finds people across targets by one rule: see the [module](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolver {
    order: Vec<UserKey>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            order: DEFAULT_MATCH_ORDER.to_vec(),
        }
    }
}

/// What a batched lookup found: per target (in the order given), one
/// result per name or user asked about — or why that target could not be
/// asked at all.
pub type Resolution = Vec<Result<Vec<FindResult>, DirError>>;

impl Resolver {
    /// A resolver trying the keys of `order` (`[m365] match_order`) in the
    /// other targets; an empty order means UPN, then mail, then logon name.
    pub fn new(order: Vec<UserKey>) -> Self {
        if order.is_empty() {
            Resolver::default()
        } else {
            Resolver { order }
        }
    }

    /// The keys a primary user is looked for by in the other targets.
    pub fn order(&self) -> &[UserKey] {
        &self.order
    }

    /// The index of the primary target: the first on-premises (or local)
    /// one, else the first.
    pub fn primary(targets: &[Target]) -> Option<usize> {
        targets
            .iter()
            .position(|t| t.kind.side() != Side::Cloud)
            .or_else(|| (!targets.is_empty()).then_some(0))
    }

    /// Finds each of `names` in every target: in the primary by `key`, in
    /// the others as the [module](self) says.
    pub async fn names(&self, targets: &[Target], key: UserKey, names: &[String]) -> Resolution {
        let Some(primary) = Resolver::primary(targets) else {
            return Vec::new();
        };
        let anchors = match lookup(&targets[primary], key, names.to_vec()).await {
            Ok(found) => found,
            Err(e) => {
                // Without the primary's users only names can be looked up.
                let none = vec![FindResult::NotFound; names.len()];
                let mut out = self
                    .others(targets, primary, &none, Some((key, names)))
                    .await;
                out[primary] = Err(e);
                return out;
            }
        };
        let mut out = self
            .others(targets, primary, &anchors, Some((key, names)))
            .await;
        out[primary] = Ok(anchors);
        out
    }

    /// Finds `users`, already known at `targets[source]`, in every other
    /// target by the match order (the source's own answer is the user
    /// itself).
    pub async fn users(&self, targets: &[Target], source: usize, users: &[User]) -> Resolution {
        let anchors: Vec<FindResult> = users.iter().cloned().map(FindResult::Found).collect();
        let mut out = self.others(targets, source, &anchors, None).await;
        if let Some(slot) = out.get_mut(source) {
            *slot = Ok(anchors);
        }
        out
    }

    /// The one user named `value` (by `by`, default the primary's listing
    /// key) in each target: a user missing in one target is that target's
    /// error ([`DirError::NotFound`] or [`DirError::Ambiguous`]), not the
    /// others'.
    pub async fn one(
        &self,
        targets: &[Target],
        by: Option<UserKey>,
        value: &str,
    ) -> Vec<Result<User, DirError>> {
        let Some(primary) = Resolver::primary(targets) else {
            return Vec::new();
        };
        let key = by.unwrap_or(targets[primary].directory.capabilities().listing_key);
        let found = self.names(targets, key, &[value.to_owned()]).await;
        let anchor = found
            .get(primary)
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.first())
            .and_then(FindResult::user)
            .cloned();
        targets
            .iter()
            .zip(found)
            .enumerate()
            .map(|(i, (t, r))| {
                let how = if i == primary {
                    None
                } else {
                    anchor.as_ref().map(|a| (a, &targets[primary]))
                };
                single(t, r, key, value, how, &self.order)
            })
            .collect()
    }

    /// `user`, known at `targets[source]`, in each target: the same person
    /// the web UI shows in a pane is the one it writes.
    pub async fn counterparts(
        &self,
        targets: &[Target],
        source: usize,
        user: &User,
    ) -> Vec<Result<User, DirError>> {
        let Some(src) = targets.get(source) else {
            return Vec::new();
        };
        let key = src.directory.capabilities().listing_key;
        let value = user.key(key).unwrap_or(&user.id).to_owned();
        let found = self
            .users(targets, source, std::slice::from_ref(user))
            .await;
        targets
            .iter()
            .zip(found)
            .enumerate()
            .map(|(i, (t, r))| {
                let how = (i != source).then_some((user, src));
                single(t, r, key, &value, how, &self.order)
            })
            .collect()
    }

    /// Every target but `primary`, asked about the anchors' counterparts
    /// (and, with `by_name`, by the names themselves: see the module).
    async fn others(
        &self,
        targets: &[Target],
        primary: usize,
        anchors: &[FindResult],
        by_name: Option<(UserKey, &[String])>,
    ) -> Resolution {
        let mut out: Resolution = Vec::with_capacity(targets.len());
        for (i, t) in targets.iter().enumerate() {
            if i == primary {
                // Filled in by the caller.
                out.push(Ok(Vec::new()));
                continue;
            }
            out.push(self.in_other(t, anchors, by_name).await);
        }
        out
    }

    /// One other target: by the match order, then by name.
    async fn in_other(
        &self,
        target: &Target,
        anchors: &[FindResult],
        by_name: Option<(UserKey, &[String])>,
    ) -> Result<Vec<FindResult>, DirError> {
        let caps = target.directory.capabilities();
        let mut results = vec![FindResult::NotFound; anchors.len()];
        for &by in &self.order {
            if !caps.supports_key(by) {
                continue;
            }
            let missing: Vec<(usize, String)> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r, FindResult::NotFound))
                .filter_map(|(i, _)| {
                    anchors[i]
                        .user()
                        .and_then(|u| u.key(by))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| (i, v.to_owned()))
                })
                .collect();
            fill(&mut results, missing, target, by).await?;
        }
        let Some((key, names)) = by_name else {
            return Ok(results);
        };
        if caps.supports_key(key) {
            // Only names the primary does not know (cloud-only people): one
            // it knows is found by the match order alone, whichever entry
            // point asks, so the configured order is the whole rule.
            let missing: Vec<(usize, String)> = results
                .iter()
                .enumerate()
                .filter(|(i, r)| matches!(r, FindResult::NotFound) && anchors[*i].user().is_none())
                .filter_map(|(i, _)| {
                    let name = names.get(i)?.trim();
                    (!name.is_empty()).then(|| (i, name.to_owned()))
                })
                .collect();
            fill(&mut results, missing, target, key).await?;
        }
        Ok(results)
    }
}

/// Looks `values` up at `target` by `key` (one batched call), and puts
/// what was found into `results` at the given indices.
async fn fill(
    results: &mut [FindResult],
    wanted: Vec<(usize, String)>,
    target: &Target,
    key: UserKey,
) -> Result<(), DirError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let values = wanted.iter().map(|(_, v)| v.clone()).collect();
    let found = lookup(target, key, values).await?;
    for ((i, _), r) in wanted.into_iter().zip(found) {
        if !matches!(r, FindResult::NotFound) {
            if let Some(slot) = results.get_mut(i) {
                *slot = r;
            }
        }
    }
    Ok(())
}

/// One batched lookup; refuses a key the target cannot match on.
async fn lookup(
    target: &Target,
    key: UserKey,
    values: Vec<String>,
) -> Result<Vec<FindResult>, DirError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let dir = Arc::clone(&target.directory);
    if !dir.capabilities().supports_key(key) {
        return Err(DirError::not_supported("matching by this key", &dir));
    }
    let found = dir.find_users(key, &values).await?;
    if found.len() != values.len() {
        return Err(DirError::other(
            &dir,
            "the lookup returned a different number of answers than values asked",
        ));
    }
    Ok(found)
}

/// One target's answer about one name as a user or an error; `how` is
/// the anchor user and its target when this is another target than the
/// one the name was matched in.
fn single(
    target: &Target,
    found: Result<Vec<FindResult>, DirError>,
    key: UserKey,
    value: &str,
    how: Option<(&User, &Target)>,
    order: &[UserKey],
) -> Result<User, DirError> {
    match found?.into_iter().next() {
        Some(FindResult::Found(u)) => Ok(u),
        Some(FindResult::Ambiguous(users)) => Err(DirError::Ambiguous {
            key: how.map_or(key, |_| order.first().copied().unwrap_or(key)),
            value: value.to_owned(),
            candidates: users.iter().map(ToString::to_string).collect(),
        }),
        Some(FindResult::NotFound) | None => {
            let dir = &target.directory;
            let mut what = format!("the user with {key} {value:?} in {dir}");
            if let Some((anchor, primary)) = how {
                let keys: Vec<String> = order.iter().map(ToString::to_string).collect();
                what.push_str(&format!(
                    " (nor by the {} of {anchor} in {})",
                    keys.join(", then "),
                    primary.kind
                ));
            }
            Err(DirError::NotFound { what })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_order_is_the_default_one() {
        assert_eq!(Resolver::new(Vec::new()).order(), &DEFAULT_MATCH_ORDER);
        assert_eq!(Resolver::new(vec![UserKey::Mail]).order(), &[UserKey::Mail]);
    }
}
