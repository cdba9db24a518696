//! The planner: what an import will do, built in stages.
//!
//! scan the folder → match file names to user names ([`matching`]) →
//! find each name in every target, in batches ([`Resolver`]) → one entry
//! per file with a step per target ([`entries`](self::entries)) → source
//! sizes and the size rule ([`sizing`]) → digests of the photos to write
//! ([`digests`]) → what each target holds now ([`current`]). A step is
//! `unchanged` when the digest of the photo we would write (from the
//! [cache](super::cache) or, in a dry run, by preparing it) equals the
//! current photo's digest.
//!
//! [`matching`]: super::matching
//! [`sizing`]: super::sizing
//! [`digests`]: super::digests
//! [`current`]: super::current

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{normalize_key, FindResult, PhotoSlot, UserKey};
use userphoto_imaging::{CropMode, Limits, OutputSpec};

use super::cache::{FileStamp, PreparedCache};
use super::matching::{match_files, FileCandidate, Mapping, UserFiles};
use super::model::{Action, Entry, Plan, Step, PLAN_VERSION};
use super::reporter::{Event, Reporter};
use super::sync_state::SyncState;
use super::{current, digests, sizing, ImportError};
use crate::identity::Resolver;
use crate::prepare::{Outputs, PrepareMode, Preparer};
use crate::reason::Reason;
use crate::scan::{has_image_extension, scan};

/// What to import and how (the library-level options of `userphoto import`).
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The folder of photos.
    pub folder: PathBuf,
    /// Look into subfolders.
    pub recursive: bool,
    /// The key file names are matched on (default: the listing key of the
    /// first on-premises target, else of the first target).
    pub match_by: Option<UserKey>,
    /// A `file,user` mapping that overrides the naming rule.
    pub mapping: Option<Mapping>,
    /// Whether the person named the targets (`--target`): then a small
    /// source still goes to a named HD target, at its own size.
    pub explicit_targets: bool,
    /// How the square is chosen.
    pub crop: CropMode,
    /// A quality finding (no face, several faces, face too small, source
    /// smaller than a size, too dark, too blurry) makes the file an
    /// `error` instead of a warning (`--strict`).
    pub strict: bool,
    /// Decoder limits.
    pub limits: Limits,
    /// Prepare every photo not in the cache while planning, so the plan
    /// knows exactly what is unchanged (a dry run). A real run leaves that
    /// to the executor, which prepares each photo once.
    pub prepare_all: bool,
    /// Read the current photo of every step while planning, even without
    /// its new digest (a dry run always does): a plan a person reviews
    /// before running it (the web UI) then shows users without a mailbox as
    /// skipped and what each target holds now. A real CLI run leaves that
    /// to the write, which reads before it replaces (and also reports a
    /// missing mailbox as skipped).
    pub read_current: bool,
    /// Worker threads for preparing (default: every core).
    pub threads: Option<usize>,
    /// The keys a user found in the primary target is looked for by in
    /// the other targets (`[m365] match_order`; empty: UPN, then mail,
    /// then logon name).
    pub match_order: Vec<UserKey>,
    /// What we wrote before ([`SyncState`]): a step whose photo is the one
    /// last written to that user is `unchanged` without reading the
    /// directory. An [`ImportSession`](super::ImportSession) gives its own.
    pub sync: Option<Arc<SyncState>>,
    /// Read the current photo of every step anyway, and report the ones
    /// changed in the directory since our write instead of overwriting
    /// them (`--verify`).
    pub verify: bool,
}

impl ImportOptions {
    /// Defaults for `folder`: not recursive, the default key, no mapping,
    /// the default crop (`auto`), default limits.
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        ImportOptions {
            folder: folder.into(),
            recursive: false,
            match_by: None,
            mapping: None,
            explicit_targets: false,
            crop: CropMode::default(),
            strict: false,
            limits: Limits::default(),
            prepare_all: false,
            read_current: false,
            threads: None,
            match_order: Vec::new(),
            sync: None,
            verify: false,
        }
    }

    /// Plans as `--dry-run` does: every photo prepared (so damaged files
    /// are errors and quality findings are known) and every current photo
    /// read. A plan a person reviews before confirming it is made so.
    pub fn reviewed(mut self) -> Self {
        self.prepare_all = true;
        self.read_current = true;
        self
    }

    /// How every file is prepared (besides the sizes).
    pub fn prepare_mode(&self) -> PrepareMode {
        PrepareMode {
            crop: self.crop,
            limits: self.limits,
            strict: self.strict,
        }
    }
}

/// Builds the plan for importing `options.folder` into `targets`.
///
/// # Errors
/// [`ImportError::NoTargets`] without targets, [`ImportError::Folder`] when
/// the folder cannot be read, [`ImportError::Directory`] when a target
/// cannot be asked about its users at all. Problems with single files or
/// users are in the plan.
pub async fn build_plan(
    options: &ImportOptions,
    targets: &[Target],
    cache: &PreparedCache,
    reporter: &dyn Reporter,
) -> Result<Plan, ImportError> {
    plan_with(options, targets, cache, reporter, None).await
}

/// [`build_plan`], and meanwhile the files the cache does not know are
/// prepared on every core, for the outputs the size rule gives if every
/// target knows the user: looking users up leaves the cores idle. Give
/// the [`Preparer`] to [`Executor::with_preparer`](super::execute::Executor::with_preparer);
/// dropping it stops the work.
///
/// # Errors
/// As [`build_plan`].
pub async fn build_plan_preparing(
    options: &ImportOptions,
    targets: &[Target],
    cache: &PreparedCache,
    reporter: &dyn Reporter,
) -> Result<(Plan, Preparer), ImportError> {
    let mut preparer = Preparer::start(options.prepare_mode(), options.threads);
    let plan = plan_with(options, targets, cache, reporter, Some(&mut preparer)).await?;
    Ok((plan, preparer))
}

async fn plan_with(
    options: &ImportOptions,
    targets: &[Target],
    cache: &PreparedCache,
    reporter: &dyn Reporter,
    ahead: Option<&mut Preparer>,
) -> Result<Plan, ImportError> {
    let primary = Resolver::primary(targets).ok_or(ImportError::NoTargets)?;
    let key = options
        .match_by
        .unwrap_or(targets[primary].directory.capabilities().listing_key);
    let (mut entries, images) = scan_folder(options)?;
    let matched = match_files(images, options.mapping.as_ref());
    // One `stat` per chosen file: the cache key here, the entry's stamp below.
    let stamps: Vec<Option<FileStamp>> = matched
        .users
        .iter()
        .map(|uf| FileStamp::of(&uf.chosen.path).ok())
        .collect();
    if let Some(preparer) = ahead {
        prepare_ahead(preparer, &matched.users, &stamps, targets, options, cache);
    }
    for f in &matched.nameless {
        entries.push(Entry::file_only(
            f.path.clone(),
            relative_text(&f.relative),
            None,
            Action::Unmatched,
            Reason::NoNameInFile,
        ));
    }

    let names: Vec<String> = matched.users.iter().map(|u| u.name.clone()).collect();
    let resolved = Resolver::new(options.match_order.clone())
        .names(targets, key, &names)
        .await
        .into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.map_err(|source| ImportError::Directory {
                target: t.kind,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let found = Found {
        targets,
        primary,
        key,
        order: Resolver::new(options.match_order.clone()).order().to_vec(),
        resolved,
    };
    let mut matched_entries = found.entries(&matched.users, stamps, &mut entries);
    route_by_photo_policy(&mut matched_entries, targets).await;

    sizing::size_and_order(&mut matched_entries, targets, options, cache).await;
    if options.prepare_all {
        digests::prepare_uncached(&mut matched_entries, options, cache).await;
    }
    digests::fill_known_digests(&mut matched_entries, options, cache);
    if let Some(sync) = &options.sync {
        sync.before_read(&mut matched_entries, options.verify);
    }
    current::read_current(
        &mut matched_entries,
        targets,
        options.prepare_all || options.read_current || options.verify,
    )
    .await;
    if let Some(sync) = &options.sync {
        sync.after_read(&mut matched_entries);
    }

    entries.extend(matched_entries);
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    let plan = Plan {
        version: PLAN_VERSION,
        folder: options.folder.clone(),
        key,
        targets: targets.iter().map(|t| t.kind).collect(),
        crop: options.crop,
        limits: options.limits,
        strict: options.strict,
        entries,
    };
    let counts = plan.counts();
    reporter.event(&Event::Planned {
        files: counts.files,
        writes: counts.set,
        unchanged: counts.unchanged,
    });
    Ok(plan)
}

/// The folder's files: entries for those that are not images (or cannot
/// be read), and the image files to match.
fn scan_folder(options: &ImportOptions) -> Result<(Vec<Entry>, Vec<FileCandidate>), ImportError> {
    if !std::fs::metadata(&options.folder).is_ok_and(|m| m.is_dir()) {
        return Err(ImportError::Folder {
            path: options.folder.clone(),
            message: "it is not a folder that can be read; check the path".into(),
        });
    }
    let scanned = scan(std::slice::from_ref(&options.folder), options.recursive);
    let mut entries: Vec<Entry> = Vec::new();
    for p in &scanned.problems {
        let mut entry = Entry::file_only(
            p.path.clone(),
            relative_text(p.path.strip_prefix(&options.folder).unwrap_or(&p.path)),
            None,
            Action::Error,
            Reason::CannotList {
                detail: p.message.clone(),
            },
        );
        entry.stamp = None;
        entries.push(entry);
    }
    let mut images = Vec::new();
    for f in scanned.files {
        let meta = std::fs::metadata(&f.path);
        let candidate = FileCandidate {
            path: f.path.clone(),
            relative: f.relative.clone(),
            modified: meta.as_ref().ok().and_then(|m| m.modified().ok()),
        };
        if !has_image_extension(&f.path) {
            entries.push(Entry::file_only(
                candidate.path.clone(),
                relative_text(&candidate.relative),
                None,
                Action::Skipped,
                Reason::NotAnImage,
            ));
            continue;
        }
        images.push(candidate);
    }
    Ok((entries, images))
}

/// Submits the files the cache does not know to `preparer`, for the
/// outputs the size rule gives if every target knows the user.
fn prepare_ahead(
    preparer: &mut Preparer,
    users: &[UserFiles],
    stamps: &[Option<FileStamp>],
    targets: &[Target],
    options: &ImportOptions,
    cache: &PreparedCache,
) {
    let candidates: Vec<(OutputSpec, PhotoSlot)> = targets
        .iter()
        .map(|t| {
            let spec = OutputSpec {
                size: t.photo_size,
                max_bytes: t.budget_bytes,
            };
            (spec, t.slot())
        })
        .collect();
    for (uf, stamp) in users.iter().zip(stamps) {
        let path = &uf.chosen.path;
        let known = stamp
            .as_ref()
            .and_then(|s| cache.get(&PreparedCache::key(path, s, &options.crop)));
        if known.is_none() {
            preparer.submit(
                path.clone(),
                Outputs::BySize {
                    candidates: candidates.clone(),
                    explicit: options.explicit_targets,
                },
            );
        }
    }
}

/// Who each name is in every target, and what the plan makes of it.
struct Found<'a> {
    targets: &'a [Target],
    primary: usize,
    key: UserKey,
    order: Vec<UserKey>,
    /// Per target, per name.
    resolved: Vec<Vec<FindResult>>,
}

impl Found<'_> {
    /// One entry per chosen file (with a step per target); duplicate files
    /// and files matching nobody go into `others`. Never two photos for
    /// one person in one run, in any target.
    fn entries(
        &self,
        users: &[UserFiles],
        stamps: Vec<Option<FileStamp>>,
        others: &mut Vec<Entry>,
    ) -> Vec<Entry> {
        // Per target and user id, the file that writes it.
        let mut writers: HashMap<String, String> = HashMap::new();
        let mut matched = Vec::new();
        for ((i, uf), stamp) in users.iter().enumerate().zip(stamps) {
            for d in &uf.duplicates {
                others.push(Entry::file_only(
                    d.path.clone(),
                    relative_text(&d.relative),
                    Some(uf.name.clone()),
                    Action::Duplicate,
                    Reason::AlsoNamed {
                        file: relative_text(&d.relative),
                        name: uf.name.clone(),
                        chosen: relative_text(&uf.chosen.relative),
                    },
                ));
            }
            let mut entry = Entry::file_only(
                uf.chosen.path.clone(),
                relative_text(&uf.chosen.relative),
                Some(uf.name.clone()),
                Action::Set,
                Reason::MappedByFile,
            );
            if !uf.mapped {
                entry.reason = None;
            }
            entry.stamp = stamp;
            let per_target: Vec<(&Target, &FindResult)> = self
                .targets
                .iter()
                .zip(self.resolved.iter().map(|r| &r[i]))
                .collect();
            if per_target
                .iter()
                .all(|(_, r)| matches!(r, FindResult::NotFound))
            {
                entry.action = Action::Unmatched;
                entry.reason = Some(Reason::NoSuchUser {
                    key: self.key,
                    name: uf.name.clone(),
                    targets: self.targets.iter().map(|t| t.kind).collect(),
                });
                others.push(entry);
                continue;
            }
            match self.steps(&per_target, &entry.relative, &mut writers) {
                Ok(steps) => entry.steps = steps,
                Err(other) => {
                    entry.action = Action::Duplicate;
                    entry.reason = Some(Reason::SameUserAs { file: other });
                    others.push(entry);
                    continue;
                }
            }
            matched.push(entry);
        }
        matched
    }

    /// The steps of the file `relative`, one per target. Two files may
    /// find different AD users but one cloud user (its UPN differs from
    /// AD's): that user is written once, while each file's own AD user
    /// still gets its photo. When every user the file reaches is taken,
    /// the file is a duplicate of the first target's earlier file (`Err`).
    fn steps(
        &self,
        per_target: &[(&Target, &FindResult)],
        relative: &str,
        writers: &mut HashMap<String, String>,
    ) -> Result<Vec<Step>, String> {
        let ids: Vec<(TargetKind, String)> = per_target
            .iter()
            .filter_map(|(t, r)| {
                r.user()
                    .map(|u| (t.kind, format!("{}\u{1f}{}", t.kind, normalize_key(&u.id))))
            })
            .collect();
        let taken: HashMap<TargetKind, String> = ids
            .iter()
            .filter_map(|(kind, id)| writers.get(id).map(|other| (*kind, other.clone())))
            .collect();
        if !ids.is_empty() && taken.len() == ids.len() {
            // The first target's, so the plan reads the same every time.
            return Err(ids
                .iter()
                .find_map(|(kind, _)| taken.get(kind).cloned())
                .unwrap_or_default());
        }
        for (kind, id) in ids {
            if !taken.contains_key(&kind) {
                writers.insert(id, relative.to_owned());
            }
        }
        let mut steps = Vec::new();
        for (i, (t, r)) in per_target.iter().enumerate() {
            let mut step = Step {
                target: t.kind,
                user: None,
                action: Action::Set,
                reason: None,
                size: t.photo_size,
                budget: t.budget_bytes,
                new_sha256: None,
                new_bytes: None,
                current_sha256: None,
                current_bytes: None,
            };
            match r {
                FindResult::Found(u) => {
                    step.user = Some(u.clone());
                    if let Some(other) = taken.get(&t.kind) {
                        step.action = Action::Duplicate;
                        step.reason = Some(Reason::SameUserInTarget {
                            target: t.kind,
                            file: other.clone(),
                        });
                    }
                }
                FindResult::NotFound => {
                    step.action = Action::Skipped;
                    step.reason = Some(if i == self.primary {
                        Reason::NotInTarget { target: t.kind }
                    } else {
                        Reason::NoCounterpart {
                            target: t.kind,
                            order: self.order.clone(),
                            primary: self.targets[self.primary].kind,
                            key: self.key,
                        }
                    });
                }
                FindResult::Ambiguous(users) => {
                    step.action = Action::Error;
                    step.reason = Some(Reason::Ambiguous {
                        target: t.kind,
                        candidates: users.iter().map(ToString::to_string).collect(),
                    });
                }
            }
            steps.push(step);
        }
        Ok(steps)
    }
}

/// Planning stage: a target whose owner says photos are managed
/// elsewhere (Microsoft 365's `photoUpdateSettings` = `onPremises`) takes
/// no write; its steps are skipped with the reason, so the photo goes to
/// Active Directory only. One request per target and plan; a setting that
/// cannot be read (the permission is new and often missing) is taken as
/// `cloud`, as before it existed — `detect` says so.
async fn route_by_photo_policy(entries: &mut [Entry], targets: &[Target]) {
    let policies =
        futures::future::join_all(targets.iter().map(|t| t.directory.photo_policy())).await;
    for (t, policy) in targets.iter().zip(policies) {
        match policy {
            Ok(Some(p)) if p.refuses_updates() => {
                for step in entries
                    .iter_mut()
                    .flat_map(|e| e.steps.iter_mut())
                    .filter(|s| s.target == t.kind && s.action == Action::Set)
                {
                    step.action = Action::Skipped;
                    step.reason = Some(Reason::CloudPhotosManagedOnPremises { target: t.kind });
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::info!(target = %t.kind, error = %e, "the photo update setting could not be read; taken as cloud")
            }
        }
    }
}

/// A path as `/`-separated text.
pub(crate) fn relative_text(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
