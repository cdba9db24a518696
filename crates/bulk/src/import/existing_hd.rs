//! "Use existing HD": a 96×96 of each user's current HD photo, written to
//! Active Directory — for users whose source image is gone.
//!
//! Why it is here: it is a bulk job with the same needs as an import —
//! batched lookups, preparing on the CPU pool, backups, audit, a report,
//! skip what is already in place — and the original tool's button did
//! exactly this (and replaced the 64×64 Exchange writes into AD).
//!
//! Users are taken from the HD target (all of them, or the ones named),
//! found in the AD target by UPN, then mail, then logon name (`[m365]
//! match_order`) — one batched lookup per key — and each HD photo is
//! prepared at the AD target's size and budget. Identical photos are not
//! written (`unchanged`). A name given that `hd` does not know, or knows
//! twice, is a row of its own; a user matching several AD users by a key
//! is not matched by a later key (that would be a guess); and an AD user
//! that two HD users reach is written once (the second is a duplicate).

use std::collections::HashMap;

use futures::{StreamExt as _, TryStreamExt as _};
use userphoto_directory::config::Target;
use userphoto_directory::{
    normalize_key, FindResult, Photo, PhotoLookup, User, UserKey, UserQuery,
};
use userphoto_imaging::{CropMode, OutputSpec, PrepareOptions};

use super::report::{ItemResult, Outcome, RunReport, Summary};
use super::reporter::{Event, Reporter};
use super::{CancelToken, ImportError};
use crate::ops::{ChangeStatus, Ops, WriteOptions};

/// Writes a thumbnail of each user's HD photo (from `hd`) to `ad`.
/// `names` limits it to those users (by `hd`'s listing key); empty means
/// every user of `hd`.
///
/// # Errors
/// [`ImportError::Directory`] when `hd` cannot list its users or `ad`
/// cannot look them up at all; per-user problems are in the report.
pub async fn use_existing_hd(
    hd: &Target,
    ad: &Target,
    names: &[String],
    ops: &Ops,
    write: &WriteOptions,
    reporter: &dyn Reporter,
    cancel: &CancelToken,
) -> Result<RunReport, ImportError> {
    let started = std::time::Instant::now();
    let dir_err = |target: &Target| {
        let kind = target.kind;
        move |source| ImportError::Directory {
            target: kind,
            source,
        }
    };
    let listing = hd.directory.capabilities().listing_key;
    let row = |name: String, outcome: Outcome, error: String| ItemResult {
        file: String::new(),
        user: Some(name),
        user_id: None,
        target: Some(ad.kind.as_str().to_owned()),
        outcome,
        bytes: None,
        error: Some(error),
        backup: None,
        retryable: false,
    };
    // Rows settled before any photo is read.
    let mut settled: Vec<ItemResult> = Vec::new();
    let users: Vec<User> = if names.is_empty() {
        hd.directory
            .list_users(&UserQuery::all())
            .try_collect()
            .await
            .map_err(dir_err(hd))?
    } else {
        let found = hd
            .directory
            .find_users(listing, names)
            .await
            .map_err(dir_err(hd))?;
        let mut users = Vec::new();
        for (name, result) in names.iter().zip(found) {
            match result {
                FindResult::Found(u) => users.push(u),
                FindResult::NotFound => settled.push(row(
                    name.clone(),
                    Outcome::Unmatched,
                    format!("no user has {} {name:?} in {}", listing.as_str(), hd.kind),
                )),
                FindResult::Ambiguous(many) => settled.push(row(
                    name.clone(),
                    Outcome::Failed,
                    format!(
                        "{} users have {} {name:?} in {}; name one by a unique key",
                        many.len(),
                        listing.as_str(),
                        hd.kind
                    ),
                )),
            }
        }
        users
    };
    let matched = match_in(ad, &users, ops.match_order()).await?;
    // One write per AD user: the first HD user to reach one has it.
    let mut writers: HashMap<String, String> = HashMap::new();
    let mut work = Vec::new();
    for (user, found) in users.into_iter().zip(matched) {
        let name = user.key(listing).unwrap_or(user.label()).to_owned();
        match found {
            AdMatch::Found(ad_user) => {
                let id = normalize_key(&ad_user.id);
                if let Some(first) = writers.get(&id) {
                    let mut item = row(
                        name,
                        Outcome::Duplicate,
                        format!("the same {} user as {first}; written once", ad.kind),
                    );
                    item.user_id = Some(ad_user.id.clone());
                    settled.push(item);
                } else {
                    writers.insert(id, name);
                    work.push((user, ad_user));
                }
            }
            AdMatch::NotFound => {
                settled.push(row(
                    name,
                    Outcome::Unmatched,
                    format!("not found in {}", ad.kind),
                ));
            }
            AdMatch::Ambiguous { key, count } => settled.push(row(
                name,
                Outcome::Failed,
                format!(
                    "matches {count} users in {} by {}; set match_order in [m365] to a unique key",
                    ad.kind,
                    key.as_str()
                ),
            )),
        }
    }
    reporter.event(&Event::Started {
        total: work.len() + settled.len(),
    });
    for item in &settled {
        reporter.event(&Event::Item(item.clone()));
    }
    let concurrency = hd.directory.capabilities().suggested_concurrency.max(1);
    let spec = OutputSpec {
        size: ad.photo_size,
        max_bytes: ad.budget_bytes,
    };
    let mut items: Vec<ItemResult> = futures::stream::iter(work)
        .map(|(user, ad_user)| async move {
            let name = user.key(listing).unwrap_or(user.label()).to_owned();
            let mut item = ItemResult {
                file: String::new(),
                user: Some(name),
                user_id: Some(ad_user.id.clone()),
                target: Some(ad.kind.as_str().to_owned()),
                outcome: Outcome::Skipped,
                bytes: None,
                error: None,
                backup: None,
                retryable: false,
            };
            if cancel.is_cancelled() {
                item.outcome = Outcome::NotDone;
                return item;
            }
            let source = match hd.directory.get_photo(&user).await {
                Ok(PhotoLookup::Photo(p)) => p,
                Ok(_) => {
                    item.error = Some(format!("no HD photo in {}", hd.kind));
                    return item;
                }
                Err(e) => {
                    item.outcome = Outcome::Failed;
                    item.error = Some(format!("{}: {e}", hd.kind));
                    return item;
                }
            };
            let bytes = source.bytes().to_vec();
            let prepared = tokio::task::spawn_blocking(move || {
                // Already framed: the same square, scaled down.
                let options = PrepareOptions {
                    outputs: vec![spec],
                    crop: CropMode::Centre,
                    ..PrepareOptions::default()
                };
                userphoto_imaging::prepare(&bytes, &options)
                    .map_err(|e| e.to_string())
                    .and_then(|mut p| p.photos.pop().ok_or_else(|| "nothing prepared".to_owned()))
                    .and_then(|p| Photo::new(p.jpeg).map_err(|e| e.to_string()))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let photo = match prepared {
                Ok(p) => p,
                Err(e) => {
                    item.outcome = Outcome::Failed;
                    item.error = Some(format!("the HD photo cannot be used: {e}"));
                    return item;
                }
            };
            item.bytes = Some(photo.len());
            match ops.set_prepared_photo(ad, &ad_user, &photo, write).await {
                Ok(change) => {
                    item.outcome = match change.status {
                        ChangeStatus::Unchanged => Outcome::Unchanged,
                        ChangeStatus::DryRun => Outcome::WouldWrite,
                        ChangeStatus::Done => Outcome::Written,
                    };
                    item.backup = change.backup.map(|b| b.path);
                }
                Err(e) => {
                    item.outcome = Outcome::Failed;
                    item.error = Some(e.to_string());
                }
            }
            item
        })
        .buffer_unordered(concurrency)
        .inspect(|item| reporter.event(&Event::Item(item.clone())))
        .collect()
        .await;
    items.extend(settled);
    let mut summary = Summary::of(&items);
    summary.stopped = cancel.is_cancelled();
    summary.elapsed_ms = started.elapsed().as_millis();
    reporter.event(&Event::Finished(summary.clone()));
    Ok(RunReport { summary, items })
}

/// An HD user's counterpart in the AD target.
#[derive(Clone, Debug)]
enum AdMatch {
    Found(User),
    /// Several users have its value of `key`: not matched by a later key,
    /// which would be a guess.
    Ambiguous {
        key: UserKey,
        count: usize,
    },
    NotFound,
}

/// Each HD user's counterpart in `ad`: by the keys of `order` (`[m365]
/// match_order`; UPN, then mail, then logon name by default), one batched
/// lookup per key.
async fn match_in(
    ad: &Target,
    users: &[User],
    order: &[UserKey],
) -> Result<Vec<AdMatch>, ImportError> {
    let caps = ad.directory.capabilities();
    let mut out: Vec<AdMatch> = vec![AdMatch::NotFound; users.len()];
    for &key in order {
        if !caps.supports_key(key) {
            continue;
        }
        let wanted: Vec<(usize, String)> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| matches!(out.get(*i), Some(AdMatch::NotFound)))
            .filter_map(|(i, u)| u.key(key).map(|v| (i, v.to_owned())))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let mut unique: HashMap<String, String> = HashMap::new();
        for (_, v) in &wanted {
            unique.entry(normalize_key(v)).or_insert_with(|| v.clone());
        }
        let values: Vec<String> = unique.values().cloned().collect();
        let found = ad
            .directory
            .find_users(key, &values)
            .await
            .map_err(|source| ImportError::Directory {
                target: ad.kind,
                source,
            })?;
        let by_value: HashMap<String, AdMatch> = values
            .iter()
            .zip(found)
            .filter_map(|(v, r)| match r {
                FindResult::Found(u) => Some((normalize_key(v), AdMatch::Found(u))),
                FindResult::Ambiguous(many) => Some((
                    normalize_key(v),
                    AdMatch::Ambiguous {
                        key,
                        count: many.len(),
                    },
                )),
                FindResult::NotFound => None,
            })
            .collect();
        for (i, v) in wanted {
            if let (Some(m), Some(slot)) = (by_value.get(&normalize_key(&v)), out.get_mut(i)) {
                *slot = m.clone();
            }
        }
    }
    Ok(out)
}
