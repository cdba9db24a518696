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
//! written (`unchanged`).

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
        found
            .into_iter()
            .filter_map(|r| r.user().cloned())
            .collect()
    };
    let matched = match_in(ad, &users, ops.match_order()).await?;
    reporter.event(&Event::Started { total: users.len() });
    let concurrency = hd.directory.capabilities().suggested_concurrency.max(1);
    let spec = OutputSpec {
        size: ad.photo_size,
        max_bytes: ad.budget_bytes,
    };
    let items: Vec<ItemResult> = futures::stream::iter(users.into_iter().zip(matched))
        .map(|(user, ad_user)| async move {
            let name = user.key(listing).unwrap_or(user.label()).to_owned();
            let mut item = ItemResult {
                file: String::new(),
                user: Some(name),
                user_id: ad_user.as_ref().map(|u| u.id.clone()),
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
            let Some(ad_user) = ad_user else {
                item.outcome = Outcome::Unmatched;
                item.error = Some(format!("not found in {}", ad.kind));
                return item;
            };
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
    let mut summary = Summary::of(&items);
    summary.stopped = cancel.is_cancelled();
    summary.elapsed_ms = started.elapsed().as_millis();
    reporter.event(&Event::Finished(summary.clone()));
    Ok(RunReport { summary, items })
}

/// Each HD user's counterpart in `ad`: by the keys of `order` (`[m365]
/// match_order`; UPN, then mail, then logon name by default), one batched
/// lookup per key.
async fn match_in(
    ad: &Target,
    users: &[User],
    order: &[UserKey],
) -> Result<Vec<Option<User>>, ImportError> {
    let caps = ad.directory.capabilities();
    let mut out: Vec<Option<User>> = vec![None; users.len()];
    for &key in order {
        if !caps.supports_key(key) {
            continue;
        }
        let wanted: Vec<(usize, String)> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| out[*i].is_none())
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
        let by_value: HashMap<String, User> = values
            .iter()
            .zip(found)
            .filter_map(|(v, r)| match r {
                FindResult::Found(u) => Some((normalize_key(v), u)),
                _ => None,
            })
            .collect();
        for (i, v) in wanted {
            if let Some(u) = by_value.get(&normalize_key(&v)) {
                out[i] = Some(u.clone());
            }
        }
    }
    Ok(out)
}
