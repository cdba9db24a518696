//! Planning stage: what each target holds now. The current photo of each
//! step to write is read (concurrently, within each target's suggested
//! concurrency) and only its digest and size are kept; an equal digest
//! makes the step `unchanged`, a user without a mailbox makes it skipped.

use std::sync::Arc;

use futures::StreamExt as _;
use userphoto_directory::config::Target;
use userphoto_directory::PhotoLookup;

use super::model::{Action, Entry};
use crate::reason::{Detail, Reason};

/// Reads the current photo of every step to write whose new digest is
/// known (or of every step, when `all`), concurrently within each target's
/// suggested concurrency, and marks equal ones `unchanged`.
pub(super) async fn read_current(entries: &mut [Entry], targets: &[Target], all: bool) {
    let mut jobs = Vec::new();
    for (ei, e) in entries.iter().enumerate() {
        for (si, s) in e.steps.iter().enumerate() {
            if s.action != Action::Set || !(all || s.new_sha256.is_some()) {
                continue;
            }
            let (Some(user), Some(t)) = (&s.user, targets.iter().find(|t| t.kind == s.target))
            else {
                continue;
            };
            if !t.directory.capabilities().can_read {
                continue;
            }
            jobs.push((ei, si, Arc::clone(&t.directory), user.clone()));
        }
    }
    let limit: usize = targets
        .iter()
        .map(|t| t.directory.capabilities().suggested_concurrency.max(1))
        .sum::<usize>()
        .max(1)
        * 4;
    // Each photo is dropped as soon as it is read: only its digest and size
    // are kept (10,000 HD photos would be a gigabyte).
    let results: Vec<_> = futures::stream::iter(jobs)
        .map(|(ei, si, dir, user)| async move {
            let current = dir.get_photo(&user).await.map(|lookup| match lookup {
                PhotoLookup::Photo(p) => Current::Photo {
                    sha256: p.digest().to_owned(),
                    bytes: p.len(),
                },
                PhotoLookup::NoPhoto => Current::NoPhoto,
                PhotoLookup::NoMailbox => Current::NoMailbox,
                PhotoLookup::NotAccessible { reason } => Current::NotAccessible(reason),
            });
            (ei, si, current)
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    for (ei, si, r) in results {
        let Some(step) = entries.get_mut(ei).and_then(|e| e.steps.get_mut(si)) else {
            continue;
        };
        match r {
            Ok(Current::Photo { sha256, bytes }) => {
                if step.new_sha256.as_deref() == Some(sha256.as_str()) {
                    step.action = Action::Unchanged;
                }
                step.current_sha256 = Some(sha256);
                step.current_bytes = Some(bytes);
            }
            Ok(Current::NoPhoto) => step.current_bytes = Some(0),
            Ok(Current::NoMailbox) => {
                step.action = Action::Skipped;
                step.reason = Some(Reason::NoMailbox {
                    target: step.target,
                });
            }
            Ok(Current::NotAccessible(reason)) => {
                step.reason = Some(Reason::CurrentUnreadable(Detail::other(
                    "not-accessible",
                    reason,
                )));
            }
            Err(e) => {
                step.reason = Some(Reason::CurrentUnreadable(Detail::directory(&e)));
            }
        }
    }
}

/// What [`read_current`] keeps of a current photo.
enum Current {
    Photo { sha256: String, bytes: usize },
    NoPhoto,
    NoMailbox,
    NotAccessible(String),
}
