//! Planning stage: each matched file's upright size (from the cache when
//! the file is unchanged since, else from its header, on the CPU pool),
//! then the size rule and the HD-first write order.

use std::path::PathBuf;

use rayon::prelude::*;
use userphoto_directory::config::Target;
use userphoto_directory::PhotoSlot;

use super::cache::{FileStamp, PreparedCache};
use super::model::{Action, Entry};
use super::plan::ImportOptions;
use crate::prepare::{probe_file, with_pool};
use crate::reason::{Detail, Reason};
use crate::size_rule::plan_targets;

/// An entry's index and its upright size, or why it has none.
type Probed = (usize, Result<(u32, u32), Detail>);

/// Sizes every entry and orders its steps (see the [module](self)).
pub(super) async fn size_and_order(
    entries: &mut [Entry],
    targets: &[Target],
    options: &ImportOptions,
    cache: &PreparedCache,
) {
    let crop = options.crop;
    let limits = options.limits;
    let jobs: Vec<(usize, PathBuf, Option<FileStamp>)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e.file.clone(), e.stamp.clone()))
        .collect();
    let cached: Vec<Option<(u32, u32)>> = jobs
        .iter()
        .map(|(_, path, stamp)| {
            stamp
                .as_ref()
                .and_then(|s| cache.get(&PreparedCache::key(path, s, &crop)))
                .map(|e| (e.width, e.height))
        })
        .collect();
    let to_probe: Vec<(usize, PathBuf)> = jobs
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|((i, p, _), _)| (*i, p.clone()))
        .collect();
    let threads = options.threads;
    let probed: Vec<Probed> = tokio::task::spawn_blocking(move || {
        with_pool(threads, || {
            to_probe
                .into_par_iter()
                .map(|(i, path)| (i, probe_file(&path, &limits)))
                .collect()
        })
    })
    .await
    .unwrap_or_default();
    let mut sizes: Vec<Option<Result<(u32, u32), Detail>>> =
        cached.into_iter().map(|c| c.map(Ok)).collect();
    for (i, r) in probed {
        if let Some(slot) = sizes.get_mut(i) {
            *slot = Some(r);
        }
    }
    for (entry, size) in entries.iter_mut().zip(sizes) {
        let (width, height) = match size {
            Some(Ok(wh)) => wh,
            Some(Err(detail)) => {
                entry.action = Action::Error;
                entry.reason = Some(Reason::Unusable(detail));
                entry.steps.clear();
                continue;
            }
            None => {
                entry.action = Action::Error;
                entry.reason = Some(Reason::Unusable(Detail::other(
                    "unreadable",
                    "the file could not be read",
                )));
                entry.steps.clear();
                continue;
            }
        };
        if let Some(stamp) = &entry.stamp {
            cache.record_size(
                &PreparedCache::key(&entry.file, stamp, &crop),
                width,
                height,
            );
        }
        entry.width = Some(width);
        entry.height = Some(height);
        order_steps(entry, targets, width, height, options.explicit_targets);
    }
}

/// Applies the size rule to one entry of a `width`×`height` source:
/// steps in write order, HD targets a small source skips marked so.
fn order_steps(entry: &mut Entry, targets: &[Target], width: u32, height: u32, explicit: bool) {
    let candidates: Vec<(usize, PhotoSlot)> = entry
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let t = targets.iter().find(|t| t.kind == s.target)?;
            Some((i, t.slot()))
        })
        .collect();
    let rule = plan_targets(width, height, &candidates, explicit);
    let mut steps: Vec<Option<_>> = std::mem::take(&mut entry.steps)
        .into_iter()
        .map(Some)
        .collect();
    for i in &rule.order {
        if let Some(mut step) = steps.get_mut(*i).and_then(Option::take) {
            if let Some((_, note)) = rule.warnings.iter().find(|(k, _)| k == i) {
                if step.action == Action::Set {
                    step.reason = Some(note.clone());
                }
            }
            entry.steps.push(step);
        }
    }
    for (i, step) in steps.into_iter().enumerate() {
        let Some(mut step) = step else { continue };
        if let Some((_, why)) = rule.skipped.iter().find(|(k, _)| *k == i) {
            if step.action == Action::Set {
                step.action = Action::Skipped;
                step.reason = Some(why.clone());
            }
        }
        entry.steps.push(step);
    }
}
