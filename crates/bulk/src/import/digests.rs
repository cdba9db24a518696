//! Planning stage: the digest of each photo to write, so a step whose
//! photo the directory already holds is `unchanged` — from the
//! [cache](super::cache) of earlier preparations, or (a dry run, a plan a
//! person reviews) by preparing the photos the cache does not know.

use std::path::PathBuf;

use rayon::prelude::*;
use userphoto_imaging::{OutputSpec, Pipeline};

use super::cache::PreparedCache;
use super::model::{Action, Entry};
use super::plan::ImportOptions;
use crate::prepare::{prepare_file, with_pool, PreparedFile};
use crate::reason::{Detail, Reason};

/// Fills `new_sha256` of each step to write from the cache.
pub(super) fn fill_known_digests(
    entries: &mut [Entry],
    options: &ImportOptions,
    cache: &PreparedCache,
) {
    for entry in entries.iter_mut() {
        let Some(stamp) = &entry.stamp else { continue };
        let Some(known) = cache.get(&PreparedCache::key(&entry.file, stamp, &options.crop)) else {
            continue;
        };
        if entry.warnings.is_empty() && entry.checks.is_empty() {
            entry.warnings.clone_from(&known.warnings);
            entry.checks.clone_from(&known.checks);
        }
        if options.strict && !entry.checks.is_empty() {
            // What the pipeline would refuse when strict, known from an
            // earlier preparation.
            entry.action = Action::Error;
            entry.reason = Some(Reason::StrictQuality {
                findings: entry.warnings.clone(),
            });
            entry.steps.clear();
            continue;
        }
        for step in entry.steps.iter_mut().filter(|s| s.action == Action::Set) {
            if let Some(o) = known.output(step.size, step.budget) {
                step.new_sha256 = Some(o.sha256.clone());
                step.new_bytes = Some(o.bytes);
            }
        }
    }
}

/// Prepares (digests only) every photo the cache does not know, on the CPU
/// pool, and records them in the cache.
pub(super) async fn prepare_uncached(
    entries: &mut [Entry],
    options: &ImportOptions,
    cache: &PreparedCache,
) {
    let crop = options.crop;
    let mode = options.prepare_mode();
    let jobs: Vec<(usize, PathBuf, Vec<OutputSpec>)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let stamp = e.stamp.as_ref()?;
            let known = cache.get(&PreparedCache::key(&e.file, stamp, &crop));
            let specs: Vec<OutputSpec> = e
                .steps
                .iter()
                .filter(|s| s.action == Action::Set)
                .filter(|s| {
                    known
                        .as_ref()
                        .and_then(|k| k.output(s.size, s.budget))
                        .is_none()
                })
                .map(|s| OutputSpec {
                    size: s.size,
                    max_bytes: s.budget,
                })
                .collect();
            (!specs.is_empty()).then(|| (i, e.file.clone(), specs))
        })
        .collect();
    let threads = options.threads;
    let results: Vec<(usize, Result<PreparedFile, Detail>)> =
        tokio::task::spawn_blocking(move || {
            with_pool(threads, || {
                jobs.into_par_iter()
                    .map_init(Pipeline::new, |p, (i, path, specs)| {
                        let prepared = prepare_file(p, &path, specs, mode);
                        (i, prepared)
                    })
                    .collect()
            })
        })
        .await
        .unwrap_or_default();
    for (i, r) in results {
        let Some(entry) = entries.get_mut(i) else {
            continue;
        };
        match r {
            Ok(prepared) => {
                if let Some(stamp) = &entry.stamp {
                    cache.remember(&PreparedCache::key(&entry.file, stamp, &crop), &prepared);
                }
                entry.warnings = prepared.warnings;
                entry.checks = prepared.checks;
            }
            Err(detail) => {
                entry.action = Action::Error;
                entry.reason = Some(Reason::Unusable(detail));
                entry.steps.clear();
            }
        }
    }
}
