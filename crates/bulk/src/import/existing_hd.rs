//! "Use existing HD": a 96×96 of each user's current HD photo, written to
//! Active Directory — for users whose source image is gone.
//!
//! Why it is here: it is a bulk job with the same needs as an import —
//! batched lookups, preparing on the CPU pool, backups, audit, a report,
//! skip what is already in place — and the original tool's button did
//! exactly this (and replaced the 64×64 Exchange writes into AD).
//!
//! Users are taken from the HD target (all of them, or the ones named),
//! found in the AD target by the [`Resolver`](crate::identity::Resolver)
//! (UPN, then mail, then logon name; `[m365] match_order`) — one batched
//! lookup per key — and each HD photo is
//! prepared at the AD target's size and budget. Identical photos are not
//! written (`unchanged`). A name given that `hd` does not know, or knows
//! twice, is a row of its own; a user matching several AD users by a key
//! is not matched by a later key (that would be a guess); and an AD user
//! that two HD users reach is written once (the second is a duplicate).

use std::collections::HashMap;

use futures::{StreamExt as _, TryStreamExt as _};
use userphoto_directory::config::Target;
use userphoto_directory::{normalize_key, FindResult, PhotoLookup, User, UserQuery};
use userphoto_imaging::OutputSpec;

use super::report::{ItemResult, Outcome, RunReport, Summary};
use super::reporter::{Event, Reporter};
use super::{CancelToken, ImportError};
use crate::ops::{ChangeStatus, Ops, WriteOptions};
use crate::prepare::thumbnail_of;
use crate::reason::{Detail, Reason};

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
    let row = |name: String, outcome: Outcome, reason: Reason| ItemResult {
        file: String::new(),
        user: Some(name),
        user_id: None,
        target: Some(ad.kind.as_str().to_owned()),
        outcome,
        bytes: None,
        reason: Some(reason),
        error: None,
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
                    Reason::UnknownName {
                        key: listing,
                        name: name.clone(),
                        target: hd.kind,
                    },
                )),
                FindResult::Ambiguous(many) => settled.push(row(
                    name.clone(),
                    Outcome::Failed,
                    Reason::AmbiguousName {
                        key: listing,
                        name: name.clone(),
                        target: hd.kind,
                        count: many.len(),
                    },
                )),
            }
        }
        users
    };
    let pair = [hd.clone(), ad.clone()];
    let matched = ops
        .resolver()
        .users(&pair, 0, &users)
        .await
        .pop()
        .unwrap_or_else(|| Ok(Vec::new()))
        .map_err(dir_err(ad))?;
    // One write per AD user: the first HD user to reach one has it.
    let mut writers: HashMap<String, String> = HashMap::new();
    let mut work = Vec::new();
    for (user, found) in users.into_iter().zip(matched) {
        let name = user.key(listing).unwrap_or(user.label()).to_owned();
        match found {
            FindResult::Found(ad_user) => {
                let id = normalize_key(&ad_user.id);
                if let Some(first) = writers.get(&id) {
                    let mut item = row(
                        name,
                        Outcome::Duplicate,
                        Reason::SameTargetUser {
                            target: ad.kind,
                            first: first.clone(),
                        },
                    );
                    item.user_id = Some(ad_user.id.clone());
                    settled.push(item);
                } else {
                    writers.insert(id, name);
                    work.push((user, ad_user));
                }
            }
            FindResult::NotFound => {
                settled.push(row(
                    name,
                    Outcome::Unmatched,
                    Reason::NotFoundIn { target: ad.kind },
                ));
            }
            FindResult::Ambiguous(many) => settled.push(row(
                name,
                Outcome::Failed,
                Reason::Ambiguous {
                    target: ad.kind,
                    candidates: many.iter().map(ToString::to_string).collect(),
                },
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
                reason: None,
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
                    item.reason = Some(Reason::NoHdPhoto { hd: hd.kind });
                    return item;
                }
                Err(e) => {
                    item.outcome = Outcome::Failed;
                    item.reason = Some(Reason::HdUnusable(Detail::directory(&e)));
                    return item;
                }
            };
            let photo = match thumbnail_of(&source, spec).await {
                Ok(p) => p,
                Err(detail) => {
                    item.outcome = Outcome::Failed;
                    item.reason = Some(Reason::HdUnusable(detail));
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
                    item.reason = Some(Reason::WriteFailed(e.detail()));
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
