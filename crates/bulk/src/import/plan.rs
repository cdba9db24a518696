//! The plan: what an import will do, per (user, target), before anything
//! is written.
//!
//! Why a module of its own: admins must see the whole run before it
//! touches a directory (`--dry-run`), scripts must be able to read it
//! (JSON lines), the web UI must show it and later hand it back to the
//! executor, and an interrupted run must resume from it without asking the
//! directory again. So the plan is plain, serialisable data, built here by
//! [`build_plan`] and consumed by the [`Executor`](super::execute::Executor).
//!
//! Building it: scan → match names → resolve users in every target in
//! batches (one `find_users` call per target and key, never one search per
//! file) → the size rule and HD-first order → what the directory holds now.
//! A step is `unchanged` when the digest of the photo we would write (known
//! from the [cache](super::cache) or, in a dry run, by preparing it) equals
//! the current photo's digest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use userphoto_directory::config::{Side, Target, TargetKind};
use userphoto_directory::{normalize_key, FindResult, PhotoLookup, PhotoSlot, User, UserKey};
use userphoto_imaging::{CropMode, Limits, OutputSpec, Pipeline};

use super::cache::{CachedOutput, FileStamp, PreparedCache};
use super::matching::{match_files, FileCandidate, Mapping};
use super::preparer::{Outputs, Preparer};
use super::reporter::{Event, Reporter};
use super::ImportError;
use crate::ops::plan_targets;
use crate::scan::{has_image_extension, scan};
use crate::wording::Wording;

/// The plan format's version, written into every plan.
pub const PLAN_VERSION: u32 = 1;

/// What the plan says about a file or a (user, target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Write the photo.
    Set,
    /// The directory already holds exactly this photo.
    Unchanged,
    /// Not written, with the reason (size rule, user missing in that
    /// target, not an image…).
    Skipped,
    /// The file names nobody in the directory.
    Unmatched,
    /// Another file was chosen for the same user.
    Duplicate,
    /// The file or the user cannot be used (unreadable, corrupt, ambiguous);
    /// counts as a failure.
    Error,
}

impl Action {
    /// `set`, `unchanged`, `skipped`, `unmatched`, `duplicate`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Set => "set",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped",
            Action::Unmatched => "unmatched",
            Action::Duplicate => "duplicate",
            Action::Error => "error",
        }
    }
}

/// One (user, target) of a matched file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The target.
    #[serde(with = "kind_str")]
    pub target: TargetKind,
    /// The user in that target, when resolved.
    pub user: Option<User>,
    /// What to do.
    pub action: Action,
    /// Why (for skipped and error), or a warning.
    pub reason: Option<String>,
    /// Side of the photo to prepare, in pixels.
    pub size: u32,
    /// Byte budget of the photo to prepare.
    pub budget: usize,
    /// SHA-256 of the photo to write, when known before preparing.
    pub new_sha256: Option<String>,
    /// Its length, when known.
    pub new_bytes: Option<usize>,
    /// SHA-256 of the photo the directory holds now, when read.
    pub current_sha256: Option<String>,
    /// Its length, when read.
    pub current_bytes: Option<usize>,
}

/// One file of the folder and what becomes of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Full path.
    pub file: PathBuf,
    /// Path relative to the imported folder, `/`-separated.
    pub relative: String,
    /// The user name the file carries (or the mapping gives).
    pub name: Option<String>,
    /// `set` for a matched file (see its steps), otherwise why not.
    pub action: Action,
    /// Why, for anything but a matched file.
    pub reason: Option<String>,
    /// Size and modification time when planned.
    pub stamp: Option<FileStamp>,
    /// Upright source width, when read.
    pub width: Option<u32>,
    /// Upright source height, when read.
    pub height: Option<u32>,
    /// Per target, in write order (HD first, Active Directory last).
    pub steps: Vec<Step>,
    /// The pipeline's quality warnings, when the photo was prepared while
    /// planning (a dry run) or before (the digest cache).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The same findings as codes (`no_face`, `too_dark`, …).
    #[serde(default)]
    pub checks: Vec<String>,
}

impl Entry {
    fn file_only(
        file: &FileCandidate,
        name: Option<String>,
        action: Action,
        reason: String,
    ) -> Self {
        Entry {
            file: file.path.clone(),
            relative: relative_text(&file.relative),
            name,
            action,
            reason: Some(reason),
            stamp: None,
            width: None,
            height: None,
            steps: Vec::new(),
            warnings: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Whether any step is to be written.
    pub fn has_writes(&self) -> bool {
        self.steps.iter().any(|s| s.action == Action::Set)
    }
}

/// The whole plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// The imported folder.
    pub folder: PathBuf,
    /// The key file names were matched on.
    pub key: UserKey,
    /// The targets considered, in the order given.
    #[serde(with = "kinds_str")]
    pub targets: Vec<TargetKind>,
    /// How photos are cropped.
    pub crop: CropMode,
    /// Decoder limits.
    pub limits: Limits,
    /// Quality findings fail a file instead of warning (`--strict`).
    #[serde(default)]
    pub strict: bool,
    /// One entry per file, sorted by path.
    pub entries: Vec<Entry>,
}

/// One line of a plan as printed: a file, or a (user, target) of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanRow {
    /// Always `"plan"` (JSON lines carry a type).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The file, relative to the folder.
    pub file: String,
    /// The user's name as matched.
    pub user: Option<String>,
    /// The user's id in the target.
    pub user_id: Option<String>,
    /// The user's display name.
    pub display_name: Option<String>,
    /// The target (`None` for a file that reaches no target).
    pub target: Option<String>,
    /// What the plan says.
    pub action: Action,
    /// Why, or a warning.
    pub reason: Option<String>,
    /// Bytes of the current photo, when read.
    pub current_bytes: Option<usize>,
    /// Bytes of the new photo, when known.
    pub new_bytes: Option<usize>,
    /// Quality warnings of the file's photo (known once it was prepared:
    /// always in a dry run).
    pub warnings: Vec<String>,
    /// The same findings as codes (`no_face`, `several_faces`,
    /// `face_too_small`, `source_too_small`, `too_dark`, `too_blurry`).
    pub checks: Vec<String>,
}

/// How many of each action a plan has, counting (user, target) steps for
/// matched files and files otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    /// Files looked at.
    pub files: usize,
    /// Steps to write.
    pub set: usize,
    /// Steps already in place.
    pub unchanged: usize,
    /// Steps or files skipped.
    pub skipped: usize,
    /// Files matching nobody.
    pub unmatched: usize,
    /// Files not chosen for their user.
    pub duplicate: usize,
    /// Files or steps that cannot be done.
    pub error: usize,
}

impl PlanCounts {
    fn add(&mut self, action: Action) {
        match action {
            Action::Set => self.set += 1,
            Action::Unchanged => self.unchanged += 1,
            Action::Skipped => self.skipped += 1,
            Action::Unmatched => self.unmatched += 1,
            Action::Duplicate => self.duplicate += 1,
            Action::Error => self.error += 1,
        }
    }
}

impl Plan {
    /// The plan as rows: one per step of a matched file, one per other file.
    pub fn rows(&self) -> Vec<PlanRow> {
        let mut rows = Vec::new();
        for e in &self.entries {
            if e.steps.is_empty() {
                rows.push(PlanRow {
                    kind: "plan",
                    file: e.relative.clone(),
                    user: e.name.clone(),
                    user_id: None,
                    display_name: None,
                    target: None,
                    action: e.action,
                    reason: e.reason.clone(),
                    current_bytes: None,
                    new_bytes: None,
                    warnings: e.warnings.clone(),
                    checks: e.checks.clone(),
                });
            }
            for s in &e.steps {
                rows.push(PlanRow {
                    kind: "plan",
                    file: e.relative.clone(),
                    user: e.name.clone(),
                    user_id: s.user.as_ref().map(|u| u.id.clone()),
                    display_name: s.user.as_ref().and_then(|u| u.display_name.clone()),
                    target: Some(s.target.as_str().to_owned()),
                    action: s.action,
                    reason: s.reason.clone(),
                    current_bytes: s.current_bytes,
                    new_bytes: s.new_bytes,
                    warnings: e.warnings.clone(),
                    checks: e.checks.clone(),
                });
            }
        }
        rows
    }

    /// The counts of each action.
    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts {
            files: self.entries.len(),
            ..PlanCounts::default()
        };
        for e in &self.entries {
            if e.steps.is_empty() {
                c.add(e.action);
            }
            for s in &e.steps {
                c.add(s.action);
            }
        }
        c
    }

    /// Reads a plan saved as JSON.
    ///
    /// # Errors
    /// When the file cannot be read or is not a plan of this version.
    pub fn load(path: &Path) -> Result<Plan, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::State {
            path: path.to_path_buf(),
            message: format!("cannot read the saved plan: {e}"),
        })?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| ImportError::State {
            path: path.to_path_buf(),
            message: format!(
                "the saved plan cannot be read ({e}); start a new import without --resume"
            ),
        })?;
        if plan.version != PLAN_VERSION {
            return Err(ImportError::State {
                path: path.to_path_buf(),
                message: format!(
                    "the saved plan has version {} and this userphoto reads {PLAN_VERSION}; start a new import without --resume",
                    plan.version
                ),
            });
        }
        Ok(plan)
    }
}

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
    /// How the plan's reasons are worded: the command line's (flags,
    /// section names; the default) or another front end's
    /// ([`Wording::plain`] with its names for the targets).
    pub wording: Wording,
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
            wording: Wording::command_line(),
        }
    }
}

/// The target whose listing names files by default: the first on-premises
/// (or local) one, else the first.
pub fn primary_target(targets: &[Target]) -> Option<&Target> {
    targets
        .iter()
        .find(|t| t.kind.side() != Side::Cloud)
        .or_else(|| targets.first())
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
    let mode = super::execute::PrepareMode::of(options);
    let mut preparer = Preparer::start(mode, options.threads, &options.wording);
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
    let primary = primary_target(targets).ok_or(ImportError::NoTargets)?;
    let wording = &options.wording;
    let key = options
        .match_by
        .unwrap_or(primary.directory.capabilities().listing_key);
    if !std::fs::metadata(&options.folder).is_ok_and(|m| m.is_dir()) {
        return Err(ImportError::Folder {
            path: options.folder.clone(),
            message: "it is not a folder that can be read; check the path".into(),
        });
    }
    let scanned = scan(std::slice::from_ref(&options.folder), options.recursive);
    let mut entries: Vec<Entry> = Vec::new();
    for p in &scanned.problems {
        entries.push(Entry {
            file: p.path.clone(),
            relative: relative_text(p.path.strip_prefix(&options.folder).unwrap_or(&p.path)),
            name: None,
            action: Action::Error,
            reason: Some(p.message.clone()),
            stamp: None,
            width: None,
            height: None,
            steps: Vec::new(),
            warnings: Vec::new(),
            checks: Vec::new(),
        });
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
                &candidate,
                None,
                Action::Skipped,
                "not an image file (by its extension); nothing to import".into(),
            ));
            continue;
        }
        images.push(candidate);
    }
    let matched = match_files(images, options.mapping.as_ref());
    // One `stat` per chosen file: the cache key here, the entry's stamp below.
    let stamps: Vec<Option<FileStamp>> = matched
        .users
        .iter()
        .map(|uf| FileStamp::of(&uf.chosen.path).ok())
        .collect();
    if let Some(preparer) = ahead {
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
        for (uf, stamp) in matched.users.iter().zip(&stamps) {
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
    for f in &matched.nameless {
        entries.push(Entry::file_only(
            f,
            None,
            Action::Unmatched,
            "the file name gives no user name; name it `<user>.jpg` or `<user> anything.jpg`"
                .into(),
        ));
    }

    // Resolve every name in every target, in batches.
    let names: Vec<String> = matched.users.iter().map(|u| u.name.clone()).collect();
    let resolved = resolve(targets, primary, key, &names, &options.match_order).await?;

    let mut seen_users: HashMap<String, String> = HashMap::new();
    let mut matched_entries: Vec<Entry> = Vec::new();
    for (i, uf) in matched.users.iter().enumerate() {
        for d in &uf.duplicates {
            entries.push(Entry::file_only(
                d,
                Some(uf.name.clone()),
                Action::Duplicate,
                format!(
                    "{} is also named {}; only {} is imported for this user",
                    d.relative.display(),
                    uf.name,
                    uf.chosen.relative.display()
                ),
            ));
        }
        let per_target: Vec<(&Target, &FindResult)> =
            targets.iter().zip(resolved.iter().map(|r| &r[i])).collect();
        let stamp = stamps.get(i).cloned().flatten();
        let mut entry = Entry {
            file: uf.chosen.path.clone(),
            relative: relative_text(&uf.chosen.relative),
            name: Some(uf.name.clone()),
            action: Action::Set,
            reason: uf.mapped.then(|| "matched by the mapping file".to_owned()),
            stamp,
            width: None,
            height: None,
            steps: Vec::new(),
            warnings: Vec::new(),
            checks: Vec::new(),
        };
        if per_target
            .iter()
            .all(|(_, r)| matches!(r, FindResult::NotFound))
        {
            entry.action = Action::Unmatched;
            entry.reason = Some(format!(
                "no user has {} {:?} in {}; name the file after the user's {} (the name ends at the first space), or map it to a user with a mapping file",
                wording.key(key),
                uf.name,
                wording.targets(targets.iter().map(|t| t.kind)),
                wording.key(key)
            ));
            entries.push(entry);
            continue;
        }
        // Never two photos for one person in one run, in any target: two
        // files may find different AD users but one cloud user (its UPN
        // differs from AD's), and that user must not be written twice —
        // while each file's own AD user still gets its photo.
        let ids: Vec<(TargetKind, String)> = per_target
            .iter()
            .filter_map(|(t, r)| {
                r.user()
                    .map(|u| (t.kind, format!("{}\u{1f}{}", t.kind, normalize_key(&u.id))))
            })
            .collect();
        let taken: HashMap<TargetKind, String> = ids
            .iter()
            .filter_map(|(kind, id)| seen_users.get(id).map(|other| (*kind, other.clone())))
            .collect();
        if !ids.is_empty() && taken.len() == ids.len() {
            entry.action = Action::Duplicate;
            // The first target's, so the plan reads the same every time.
            entry.reason = ids
                .iter()
                .find_map(|(kind, _)| taken.get(kind))
                .map(|other| {
                    format!("the same user as {other}; only that file is imported for this user")
                });
            entries.push(entry);
            continue;
        }
        for (kind, id) in ids {
            if !taken.contains_key(&kind) {
                seen_users.insert(id, entry.relative.clone());
            }
        }
        for (t, r) in &per_target {
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
                        step.reason = Some(format!(
                            "the same user in {} as {other}; written once, from that file",
                            wording.target(t.kind)
                        ));
                    }
                }
                FindResult::NotFound => {
                    step.action = Action::Skipped;
                    step.reason = Some(if std::ptr::eq(*t, primary) {
                        format!("{} has no such user", wording.target(t.kind))
                    } else {
                        format!(
                            "{} has no such user (looked for by the {} of the user in {}, and by {})",
                            wording.target(t.kind),
                            match_order_text(&options.match_order, wording),
                            wording.target(primary.kind),
                            wording.key(key)
                        )
                    });
                }
                FindResult::Ambiguous(users) => {
                    step.action = Action::Error;
                    step.reason = Some(format!(
                        "{} users match in {}: {}; name the file by a key that is unique, or map it to one user with a mapping file",
                        users.len(),
                        wording.target(t.kind),
                        users
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            }
            entry.steps.push(step);
        }
        matched_entries.push(entry);
    }

    // Source sizes (cache, else a header read), then the size rule.
    size_and_order(&mut matched_entries, targets, options, cache).await;
    if options.prepare_all {
        prepare_uncached(&mut matched_entries, options, cache).await;
    }
    fill_known_digests(&mut matched_entries, options, cache);
    read_current(
        &mut matched_entries,
        targets,
        options.prepare_all || options.read_current,
        wording,
    )
    .await;

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

/// `upn, then mail, then sam-account-name` (in `wording`'s words).
fn match_order_text(order: &[UserKey], wording: &Wording) -> String {
    let order: &[UserKey] = if order.is_empty() {
        &userphoto_directory::graph::DEFAULT_MATCH_ORDER
    } else {
        order
    };
    wording.keys(order)
}

/// Finds every name in every target: one batched lookup per target and
/// key. The primary target is asked by the match key. Every other target
/// (HYBRID) is asked by the primary user's values for the keys of `order`
/// in turn — UPN, then mail, then logon name by default, as
/// [`find_in_cloud`](userphoto_directory::graph::find_in_cloud) does for
/// one user — and, for names the primary does not know (cloud-only users)
/// or when the match key is not among those, by the name itself.
async fn resolve(
    targets: &[Target],
    primary: &Target,
    key: UserKey,
    names: &[String],
    order: &[UserKey],
) -> Result<Vec<Vec<FindResult>>, ImportError> {
    let order: &[UserKey] = if order.is_empty() {
        &userphoto_directory::graph::DEFAULT_MATCH_ORDER
    } else {
        order
    };
    let lookup = |target: &Target, key: UserKey, values: Vec<String>| {
        let dir = Arc::clone(&target.directory);
        let kind = target.kind;
        async move {
            if values.is_empty() {
                return Ok(Vec::new());
            }
            dir.find_users(key, &values)
                .await
                .map_err(|source| ImportError::Directory {
                    target: kind,
                    source,
                })
        }
    };
    let primary_caps = primary.directory.capabilities();
    if !primary_caps.supports_key(key) {
        return Err(ImportError::Directory {
            target: primary.kind,
            source: userphoto_directory::Error::not_supported(
                "matching by this key",
                &primary.directory,
            ),
        });
    }
    let primary_results = lookup(primary, key, names.to_vec()).await?;
    let mut all = Vec::new();
    for t in targets {
        if std::ptr::eq(t, primary) {
            all.push(primary_results.clone());
            continue;
        }
        let caps = t.directory.capabilities();
        let mut results = vec![FindResult::NotFound; names.len()];
        for &by in order {
            if !caps.supports_key(by) {
                continue;
            }
            let missing: Vec<(usize, String)> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r, FindResult::NotFound))
                .filter_map(|(i, _)| {
                    primary_results[i]
                        .user()
                        .and_then(|u| u.key(by))
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (i, v.to_owned()))
                })
                .collect();
            let values = missing.iter().map(|(_, v)| v.clone()).collect();
            let found = lookup(t, by, values).await?;
            for ((i, _), r) in missing.into_iter().zip(found) {
                if !matches!(r, FindResult::NotFound) {
                    results[i] = r;
                }
            }
        }
        if caps.supports_key(key) {
            let direct = !order.contains(&key);
            let missing: Vec<(usize, String)> = results
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    matches!(r, FindResult::NotFound)
                        && (direct || primary_results[*i].user().is_none())
                })
                .map(|(i, _)| (i, names[i].clone()))
                .collect();
            let values = missing.iter().map(|(_, v)| v.clone()).collect();
            let found = lookup(t, key, values).await?;
            for ((i, _), r) in missing.into_iter().zip(found) {
                if !matches!(r, FindResult::NotFound) {
                    results[i] = r;
                }
            }
        }
        all.push(results);
    }
    Ok(all)
}

/// Reads each matched file's upright size (from the cache when the file
/// is unchanged since, else from its header, on the CPU pool) and applies
/// the size rule and the write order.
async fn size_and_order(
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
    let wording = options.wording.clone();
    let probed: Vec<Probed> = tokio::task::spawn_blocking(move || {
        with_pool(threads, || {
            to_probe
                .into_par_iter()
                .map(|(i, path)| (i, probe_file(&path, &limits, &wording)))
                .collect()
        })
    })
    .await
    .unwrap_or_default();
    let mut sizes: Vec<Option<Result<(u32, u32), String>>> =
        cached.into_iter().map(|c| c.map(Ok)).collect();
    for (i, r) in probed {
        if let Some(slot) = sizes.get_mut(i) {
            *slot = Some(r);
        }
    }
    for (entry, size) in entries.iter_mut().zip(sizes) {
        let (width, height) = match size {
            Some(Ok(wh)) => wh,
            Some(Err(message)) => {
                entry.action = Action::Error;
                entry.reason = Some(message);
                entry.steps.clear();
                continue;
            }
            None => {
                entry.action = Action::Error;
                entry.reason = Some("the file could not be read".into());
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
        let candidates: Vec<(Named<'_>, PhotoSlot)> = entry
            .steps
            .iter()
            .filter_map(|s| targets.iter().find(|t| t.kind == s.target))
            .map(|t| (Named::new(t.kind, &options.wording), t.slot()))
            .collect();
        let rule = plan_targets(width, height, &candidates, options.explicit_targets);
        let mut ordered = Vec::new();
        for named in &rule.order {
            let kind = named.kind;
            if let Some(pos) = entry.steps.iter().position(|s| s.target == kind) {
                let mut step = entry.steps.remove(pos);
                if let Some((_, w)) = rule.warnings.iter().find(|(k, _)| k.kind == kind) {
                    if step.action == Action::Set {
                        step.reason = Some(w.clone());
                    }
                }
                ordered.push(step);
            }
        }
        for mut step in std::mem::take(&mut entry.steps) {
            if let Some((_, why)) = rule.skipped.iter().find(|(k, _)| k.kind == step.target) {
                if step.action == Action::Set {
                    step.action = Action::Skipped;
                    step.reason = Some(why.clone());
                }
            }
            ordered.push(step);
        }
        entry.steps = ordered;
    }
}

/// A target as the plan's reasons name it (see [`Wording::target`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Named<'a> {
    kind: TargetKind,
    name: &'a str,
}

impl<'a> Named<'a> {
    fn new(kind: TargetKind, wording: &'a Wording) -> Self {
        Named {
            kind,
            name: wording.target(kind),
        }
    }
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// An entry's index and its upright size, or why it has none.
type Probed = (usize, Result<(u32, u32), String>);

/// Reads enough of `path` to know its format and upright size. A file
/// over the input limit is refused here, from its length, as preparing it
/// would be: the plan says so before anything runs.
fn probe_file(path: &Path, limits: &Limits, wording: &Wording) -> Result<(u32, u32), String> {
    use std::io::Read as _;
    const HEAD: u64 = 256 * 1024;
    let mut head = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let len = file.metadata().map_or(0, |m| m.len());
    if len > limits.max_input_bytes as u64 {
        return Err(
            wording.imaging_error(&userphoto_imaging::ImagingError::InputTooLarge {
                bytes: usize::try_from(len).unwrap_or(usize::MAX),
                limit: limits.max_input_bytes,
            }),
        );
    }
    file.take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if let Ok(info) = userphoto_imaging::probe(&head, limits) {
        return Ok((info.width, info.height));
    }
    let all = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    userphoto_imaging::probe(&all, limits)
        .map(|i| (i.width, i.height))
        .map_err(|e| wording.imaging_error(&e))
}

/// Fills `new_sha256` of each step to write from the cache.
fn fill_known_digests(entries: &mut [Entry], options: &ImportOptions, cache: &PreparedCache) {
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
            entry.reason = Some(format!(
                "quality check failed (strict): {}",
                entry.warnings.join("; ")
            ));
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
async fn prepare_uncached(entries: &mut [Entry], options: &ImportOptions, cache: &PreparedCache) {
    let crop = options.crop;
    let mode = super::execute::PrepareMode::of(options);
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
    let wording = options.wording.clone();
    let results: Vec<(usize, Result<super::execute::PreparedFile, String>)> =
        tokio::task::spawn_blocking(move || {
            with_pool(threads, || {
                jobs.into_par_iter()
                    .map_init(Pipeline::new, |p, (i, path, specs)| {
                        let prepared =
                            super::execute::prepare_file_worded(p, &path, specs, mode, &wording);
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
                    let key = PreparedCache::key(&entry.file, stamp, &crop);
                    for o in &prepared.outputs {
                        cache.record(
                            &key,
                            prepared.width,
                            prepared.height,
                            CachedOutput {
                                size: o.spec.size,
                                budget: o.spec.max_bytes,
                                sha256: o.photo.digest().to_owned(),
                                bytes: o.photo.len(),
                            },
                        );
                    }
                    cache.record_quality(&key, &prepared.warnings, &prepared.checks);
                }
                entry.warnings = prepared.warnings;
                entry.checks = prepared.checks;
            }
            Err(message) => {
                entry.action = Action::Error;
                entry.reason = Some(message);
                entry.steps.clear();
            }
        }
    }
}

/// Reads the current photo of every step to write whose new digest is
/// known (or of every step, when `all`), concurrently within each target's
/// suggested concurrency, and marks equal ones `unchanged`.
async fn read_current(entries: &mut [Entry], targets: &[Target], all: bool, wording: &Wording) {
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
                step.reason = Some(no_mailbox_reason(wording.target(step.target)));
            }
            Ok(Current::NotAccessible(reason)) => {
                step.reason = Some(format!("the current photo cannot be read: {reason}"));
            }
            Err(e) => {
                step.reason = Some(format!(
                    "the current photo cannot be read: {}",
                    wording.directory_error(&e)
                ));
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

/// Why a step is skipped for a user without a mailbox: the same words
/// whether the plan or the write found it.
pub(crate) fn no_mailbox_reason(target: impl std::fmt::Display) -> String {
    format!("no mailbox in {target}, so the user cannot hold a photo there")
}

/// Runs `f` on a rayon pool of `threads` (default: the global pool).
pub(crate) fn with_pool<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    match threads.and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok()) {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// A path as `/`-separated text.
fn relative_text(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Serde for a [`TargetKind`] as its name.
pub(crate) mod kind_str {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use userphoto_directory::config::TargetKind;

    pub(crate) fn serialize<S: Serializer>(k: &TargetKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TargetKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for a list of [`TargetKind`]s as names.
mod kinds_str {
    use serde::{Deserialize as _, Deserializer, Serializer};
    use userphoto_directory::config::TargetKind;

    pub(crate) fn serialize<S: Serializer>(k: &[TargetKind], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(k.iter().map(|k| k.as_str()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<TargetKind>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}
