//! Single-user operations — get, set, remove, restore — with the safety
//! rails every front end needs: back up first, write, then audit.
//!
//! Why a module of its own: the CLI (`userphoto set`) and the web UI's
//! "replace photo" button must do exactly the same thing in the same order,
//! or one of them will one day skip the backup. So the sequence lives here:
//!
//! 1. find the user by the target's listing key (or a chosen key); with
//!    several targets (HYBRID), in the first on-premises one, and in the
//!    others by that user's UPN, then mail, then logon name
//!    ([`resolve_user`], [`Ops::match_order`]);
//! 2. prepare the photo for the target's size and byte budget (one decode
//!    for every target);
//! 3. read the current photo; identical bytes → nothing to do;
//! 4. keep the current photo in the backup folder (unless told not to);
//! 5. write (HD targets first, then Active Directory);
//! 6. append an audit line.
//!
//! Which targets a source photo goes to by default, and in which order, is
//! the pure function [`plan_targets`].

use std::time::Duration;

use userphoto_directory::config::{Config, Target, TargetKind};
use userphoto_directory::{
    DirectoryExt as _, Error as DirError, FindResult, Photo, PhotoLookup, PhotoSlot, User, UserKey,
    UserQuery,
};
use userphoto_imaging::{CropMode, ImagingError, Limits, OutputSpec, PrepareOptions, SourceInfo};

use userphoto_directory::graph::DEFAULT_MATCH_ORDER;

use crate::audit::{AuditAction, AuditError, AuditLog, AuditRecord};
use crate::backup::{BackupError, BackupReason, BackupRecord, BackupSet, BackupStore};

/// A source whose centred square is at most this many pixels goes to
/// Active Directory only: an HD target would get a blurry or upscaled photo.
pub const SMALL_SOURCE_MAX: u32 = 96;

/// Whether a `width`×`height` source is "small" (its centred square is at
/// most [`SMALL_SOURCE_MAX`]), so it goes to Active Directory only.
pub fn is_small_source(width: u32, height: u32) -> bool {
    width.min(height) <= SMALL_SOURCE_MAX
}

/// Which targets a photo is written to, in which order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPlan<T> {
    /// The targets to write, in write order: HD first, then plain LDAP,
    /// then the Active Directory thumbnail (ours must be the last word).
    pub order: Vec<T>,
    /// Targets left out, each with the reason.
    pub skipped: Vec<(T, String)>,
    /// Things the person should know about a target (an explicit HD
    /// target for a small source).
    pub warnings: Vec<(T, String)>,
}

/// The size rule and the write order, as a pure function.
///
/// `candidates` are the targets with the slot each holds; `explicit` says
/// whether the person named them (`--target`) or they are every configured
/// target. A small source (see [`is_small_source`]) skips HD targets unless
/// they were named, in which case it is written at its own size (never
/// upscaled) with a warning.
pub fn plan_targets<T: Clone>(
    width: u32,
    height: u32,
    candidates: &[(T, PhotoSlot)],
    explicit: bool,
) -> TargetPlan<T> {
    let small = is_small_source(width, height);
    let mut plan = TargetPlan {
        order: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
    };
    let rank = |slot: PhotoSlot| match slot {
        PhotoSlot::Hd => 0,
        PhotoSlot::Thumbnail => 2,
        _ => 1,
    };
    let mut chosen: Vec<(u8, usize, T)> = Vec::new();
    for (i, (target, slot)) in candidates.iter().enumerate() {
        if *slot == PhotoSlot::Hd && small {
            if explicit {
                plan.warnings.push((
                    target.clone(),
                    format!(
                        // The warning is filed under its target; naming it
                        // here would use one front end's name for it.
                        "the source is only {width}×{height}, so it is written at that size instead of as an HD photo; use a larger source for HD targets"
                    ),
                ));
            } else {
                plan.skipped.push((
                    target.clone(),
                    format!(
                        "the source is only {width}×{height} (HD targets need more than {SMALL_SOURCE_MAX}×{SMALL_SOURCE_MAX}); photos are never upscaled"
                    ),
                ));
                continue;
            }
        }
        chosen.push((rank(*slot), i, target.clone()));
    }
    chosen.sort_by_key(|(r, i, _)| (*r, *i));
    plan.order = chosen.into_iter().map(|(_, _, t)| t).collect();
    plan
}

/// Something a single-user operation could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// The source image cannot be used; nothing was changed.
    #[error("{0}")]
    Image(#[from] ImagingError),
    /// The directory refused or failed.
    #[error("{target}: {source}")]
    Directory {
        /// The target.
        target: TargetKind,
        /// What the directory said.
        source: DirError,
    },
    /// The current photo could not be backed up; nothing was changed.
    #[error("{target}: the current photo of {user} could not be backed up, so nothing was changed: {source}; or pass --no-backup")]
    Backup {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why.
        source: BackupError,
    },
    /// The user has no mailbox at an HD target, so it cannot hold a photo
    /// there; nothing was written. Bulk runs report it as skipped.
    #[error("{target}: {user} has no mailbox in {target}, so it cannot hold a photo there; give the user a mailbox or write to Active Directory instead")]
    NoMailbox {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
    },
    /// The current photo cannot be read, so it cannot be backed up.
    #[error("{target}: the current photo of {user} cannot be read ({reason}), so it cannot be backed up and nothing was changed; pass --no-backup to write anyway")]
    CannotBackUp {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A kept photo could not be read back for restoring.
    #[error("{target}: {source}")]
    BackupRead {
        /// The target.
        target: TargetKind,
        /// Why.
        source: BackupError,
    },
    /// The change was made but the audit log could not be written.
    #[error("{target}: the photo of {user} was changed, but {source}")]
    Audit {
        /// The target.
        target: TargetKind,
        /// The user.
        user: String,
        /// Why.
        source: AuditError,
    },
}

impl OpsError {
    /// The message for a front end without command-line flags (the web
    /// UI): the same sentence as `Display`, with a remedy that names no
    /// flag (and never suggests writing without a backup); targets by
    /// their section name. `Display` is the command line's wording;
    /// [`Wording::ops_error`](crate::wording::Wording::ops_error) names
    /// targets as a front end does.
    pub fn plain_message(&self) -> String {
        crate::wording::Wording::plain().ops_error(self)
    }

    /// The target the error is about (none for an unusable image).
    pub fn target(&self) -> Option<TargetKind> {
        match self {
            OpsError::Image(_) => None,
            OpsError::Directory { target, .. }
            | OpsError::Backup { target, .. }
            | OpsError::NoMailbox { target, .. }
            | OpsError::CannotBackUp { target, .. }
            | OpsError::BackupRead { target, .. }
            | OpsError::Audit { target, .. } => Some(*target),
        }
    }

    fn dir(target: &Target) -> impl FnOnce(DirError) -> OpsError + '_ {
        move |source| OpsError::Directory {
            target: target.kind,
            source,
        }
    }

    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, OpsError::Directory { source, .. } if source.is_transient())
    }
}

/// How a write behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Keep the current photo before replacing or removing it (default on).
    pub backup: bool,
    /// Do everything but change the directory, the backups and the log.
    pub dry_run: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            backup: true,
            dry_run: false,
        }
    }
}

/// How `set` prepares and writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetOptions {
    /// Backup and dry-run.
    pub write: WriteOptions,
    /// How the square is chosen (default: [`CropMode::Auto`], as everywhere).
    pub crop: CropMode,
    /// Decoder limits for the source.
    pub limits: Limits,
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    /// The directory was changed.
    Done,
    /// The directory already had it (same photo, or no photo to remove).
    Unchanged,
    /// Dry run: it would have been changed.
    DryRun,
}

impl ChangeStatus {
    /// `done`, `unchanged`, `dry-run`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Done => "done",
            ChangeStatus::Unchanged => "unchanged",
            ChangeStatus::DryRun => "dry-run",
        }
    }
}

/// The result of one set, remove or restore at one target.
#[derive(Clone, Debug)]
pub struct Change {
    /// The target.
    pub target: TargetKind,
    /// The user.
    pub user: User,
    /// The user's name by the target's listing key.
    pub user_name: Option<String>,
    /// What happened.
    pub status: ChangeStatus,
    /// SHA-256 of the photo before, if there was one (or it was unreadable: `None`).
    pub old_sha256: Option<String>,
    /// SHA-256 of the photo after (`None` after a remove).
    pub new_sha256: Option<String>,
    /// Size of the new photo in bytes.
    pub new_bytes: Option<usize>,
    /// Side of the new photo in pixels, when we prepared it.
    pub new_size: Option<u32>,
    /// Where the old photo was kept.
    pub backup: Option<BackupRecord>,
    /// Things the person should know.
    pub warnings: Vec<String>,
}

/// The outcome of `set` across targets.
#[derive(Debug)]
pub struct SetRun {
    /// What the source is.
    pub source: SourceInfo,
    /// Targets the size rule left out, with why.
    pub skipped: Vec<(TargetKind, String)>,
    /// Each target written to, in write order.
    pub results: Vec<(TargetKind, Result<Change, OpsError>)>,
}

/// The engine for single-user operations: where backups and the audit log
/// go. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Ops {
    backups: Option<BackupStore>,
    audit: Option<AuditLog>,
    match_order: Vec<UserKey>,
}

impl Default for Ops {
    fn default() -> Self {
        Ops {
            backups: None,
            audit: None,
            match_order: DEFAULT_MATCH_ORDER.to_vec(),
        }
    }
}

impl Ops {
    /// Backups in `backups`, audit lines in `audit`.
    pub fn new(backups: BackupStore, audit: AuditLog) -> Self {
        Ops {
            backups: Some(backups),
            audit: Some(audit),
            ..Ops::default()
        }
    }

    /// The configured backup folder and audit log, and `[m365]
    /// match_order`.
    ///
    /// # Errors
    /// When the default locations cannot be found (no home folder).
    pub fn from_config(config: &Config) -> Result<Self, DirError> {
        let ops = Ops::new(
            BackupStore::new(config.backup_dir()?),
            AuditLog::new(config.audit_path()?),
        );
        Ok(
            match config
                .file()
                .m365
                .as_ref()
                .and_then(|s| s.match_order.clone())
            {
                Some(order) => ops.with_match_order(order),
                None => ops,
            },
        )
    }

    /// No backups and no audit log (tests, read-only use).
    pub fn none() -> Self {
        Ops::default()
    }

    /// How an on-premises user is found at an HD target (see
    /// [`Ops::use_existing_hd`]); an empty order keeps the current one.
    pub fn with_match_order(mut self, order: Vec<UserKey>) -> Self {
        if !order.is_empty() {
            self.match_order = order;
        }
        self
    }

    /// The keys an on-premises user is looked for by at an HD target, in
    /// order (default: UPN, mail, onPremisesSamAccountName).
    pub fn match_order(&self) -> &[UserKey] {
        &self.match_order
    }

    /// The backup store, if any.
    pub fn backups(&self) -> Option<&BackupStore> {
        self.backups.as_ref()
    }

    /// The audit log, if any.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Writes `image` to `user` (named by `by`, default the target's
    /// listing key) at every target in `targets`, prepared once per size,
    /// HD targets first. `explicit` says whether the person chose the
    /// targets (see [`plan_targets`]).
    ///
    /// # Errors
    /// [`OpsError::Image`] when the image cannot be used — then nothing was
    /// changed anywhere. Per-target failures are in [`SetRun::results`].
    pub async fn set_photo_many(
        &self,
        targets: &[Target],
        explicit: bool,
        user: &str,
        by: Option<UserKey>,
        image: &[u8],
        options: &SetOptions,
    ) -> Result<SetRun, OpsError> {
        let source = userphoto_imaging::probe(image, &options.limits)?;
        let candidates: Vec<(TargetKind, PhotoSlot)> =
            targets.iter().map(|t| (t.kind, t.slot())).collect();
        let plan = plan_targets(source.width, source.height, &candidates, explicit);
        let ordered: Vec<&Target> = plan
            .order
            .iter()
            .filter_map(|k| targets.iter().find(|t| t.kind == *k))
            .collect();
        let specs: Vec<OutputSpec> = ordered
            .iter()
            .map(|t| OutputSpec {
                size: t.photo_size,
                max_bytes: t.budget_bytes,
            })
            .collect();
        let mut results = Vec::new();
        if !specs.is_empty() {
            let jpegs = prepare(image, specs, options).await?;
            let chosen: Vec<Target> = ordered.iter().map(|t| (*t).clone()).collect();
            let users = resolve_user(&chosen, by, user, &self.match_order).await;
            for ((target, (jpeg, size, mut warnings)), found) in
                ordered.into_iter().zip(jpegs).zip(users)
            {
                warnings.extend(
                    plan.warnings
                        .iter()
                        .filter(|(k, _)| *k == target.kind)
                        .map(|(_, w)| w.clone()),
                );
                let result = match found {
                    Ok(u) => {
                        self.set_prepared(target, &u, jpeg, size, warnings, &options.write)
                            .await
                    }
                    Err(e) => Err(e),
                };
                results.push((target.kind, result));
            }
        }
        Ok(SetRun {
            source,
            skipped: plan.skipped,
            results,
        })
    }

    /// Writes `image` to `user` at one target, prepared for it.
    ///
    /// # Errors
    /// [`OpsError::Image`] when the image cannot be used; otherwise as for
    /// the write.
    pub async fn set_photo(
        &self,
        target: &Target,
        user: &str,
        by: Option<UserKey>,
        image: &[u8],
        options: &SetOptions,
    ) -> Result<Change, OpsError> {
        let mut run = self
            .set_photo_many(std::slice::from_ref(target), true, user, by, image, options)
            .await?;
        match run.results.pop() {
            Some((_, result)) => result,
            None => Err(OpsError::Directory {
                target: target.kind,
                source: DirError::other(&target.directory, "no photo was prepared"),
            }),
        }
    }

    async fn set_prepared(
        &self,
        target: &Target,
        user: &User,
        jpeg: Vec<u8>,
        size: u32,
        warnings: Vec<String>,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        let photo = Photo::new(jpeg).map_err(OpsError::dir(target))?;
        let mut change = self
            .replace(
                target,
                user,
                &photo,
                AuditAction::Set,
                BackupReason::BeforeSet,
                write,
            )
            .await?;
        change.new_size = Some(size);
        change.warnings = warnings;
        Ok(change)
    }

    /// Puts an already prepared `photo` in place for a `user` found
    /// earlier (the bulk import resolves users in batches and prepares on
    /// its own CPU pool): check, read the current photo, skip if identical,
    /// back up, write, audit — the same sequence as [`Ops::set_photo`].
    ///
    /// # Errors
    /// As for [`Ops::set_photo`], without the image errors.
    pub async fn set_prepared_photo(
        &self,
        target: &Target,
        user: &User,
        photo: &Photo,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        self.replace(
            target,
            user,
            photo,
            AuditAction::Set,
            BackupReason::BeforeSet,
            write,
        )
        .await
    }

    /// Puts `photo` in place for `user` at `target`: check, read the
    /// current photo, skip if identical, back up, write, audit.
    async fn replace(
        &self,
        target: &Target,
        user: &User,
        photo: &Photo,
        action: AuditAction,
        reason: BackupReason,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        let dir = &target.directory;
        let caps = dir.capabilities();
        caps.ensure_write(dir).map_err(OpsError::dir(target))?;
        caps.check_photo(photo).map_err(OpsError::dir(target))?;
        let current = self.current(target, user, write).await?;
        let mut change = self.change(target, user, current.as_ref().map(Photo::digest));
        change.new_sha256 = Some(photo.digest().to_owned());
        change.new_bytes = Some(photo.len());
        if current
            .as_ref()
            .is_some_and(|c| c.digest() == photo.digest())
        {
            change.status = ChangeStatus::Unchanged;
            return Ok(change);
        }
        if write.dry_run {
            change.status = ChangeStatus::DryRun;
            return Ok(change);
        }
        change.backup = self
            .keep(target, user, current.as_ref(), reason, write)
            .await?;
        dir.set_photo(user, photo)
            .await
            .map_err(OpsError::dir(target))?;
        self.log(target, &change, action).await?;
        Ok(change)
    }

    /// Removes `user`'s photo at `target`, keeping it first.
    ///
    /// # Errors
    /// [`OpsError::Directory`] (user not found, not permitted, …),
    /// [`OpsError::Backup`] / [`OpsError::CannotBackUp`] (nothing changed),
    /// [`OpsError::Audit`] (removed, but not logged).
    pub async fn remove_photo(
        &self,
        target: &Target,
        user: &str,
        by: Option<UserKey>,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        let user = find_user(target, by, user).await?;
        let dir = &target.directory;
        dir.capabilities()
            .ensure_delete(dir)
            .map_err(OpsError::dir(target))?;
        let current = self.current(target, &user, write).await?;
        let mut change = self.change(target, &user, current.as_ref().map(Photo::digest));
        if current.is_none() && dir.capabilities().can_read {
            change.status = ChangeStatus::Unchanged;
            return Ok(change);
        }
        if write.dry_run {
            change.status = ChangeStatus::DryRun;
            return Ok(change);
        }
        change.backup = self
            .keep(
                target,
                &user,
                current.as_ref(),
                BackupReason::BeforeRemove,
                write,
            )
            .await?;
        dir.remove_photo(&user)
            .await
            .map_err(OpsError::dir(target))?;
        self.log(target, &change, AuditAction::Remove).await?;
        Ok(change)
    }

    /// Puts a kept photo back: `record` from `set`, at `target` (which must
    /// be the record's target). The user is found by id, else by name.
    ///
    /// # Errors
    /// [`OpsError::BackupRead`] when the kept photo is missing or damaged;
    /// otherwise as for a set.
    pub async fn restore(
        &self,
        target: &Target,
        set: &BackupSet,
        record: &BackupRecord,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        let photo = set
            .read_photo(record)
            .map_err(|source| OpsError::BackupRead {
                target: target.kind,
                source,
            })?;
        let user = match find_user(target, Some(UserKey::Id), &record.user_id).await {
            Ok(user) => user,
            Err(OpsError::Directory {
                source: DirError::NotFound { .. } | DirError::NotSupported { .. },
                ..
            }) if record.user_name.is_some() => {
                find_user(
                    target,
                    None,
                    record.user_name.as_deref().unwrap_or_default(),
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        self.replace(
            target,
            &user,
            &photo,
            AuditAction::Restore,
            BackupReason::BeforeRestore,
            write,
        )
        .await
    }

    /// The user's current photo, as far as a backup needs it.
    async fn current(
        &self,
        target: &Target,
        user: &User,
        write: &WriteOptions,
    ) -> Result<Option<Photo>, OpsError> {
        let dir = &target.directory;
        if !dir.capabilities().can_read {
            return Ok(None);
        }
        match dir.get_photo(user).await.map_err(OpsError::dir(target))? {
            PhotoLookup::Photo(p) => Ok(Some(p)),
            PhotoLookup::NoPhoto => Ok(None),
            PhotoLookup::NoMailbox => Err(OpsError::NoMailbox {
                target: target.kind,
                user: user.to_string(),
            }),
            PhotoLookup::NotAccessible { reason } if write.backup && self.backups.is_some() => {
                Err(OpsError::CannotBackUp {
                    target: target.kind,
                    user: user.to_string(),
                    reason,
                })
            }
            PhotoLookup::NotAccessible { .. } => Ok(None),
        }
    }

    /// Keeps `current` in the backup folder, if asked and there is one.
    async fn keep(
        &self,
        target: &Target,
        user: &User,
        current: Option<&Photo>,
        reason: BackupReason,
        write: &WriteOptions,
    ) -> Result<Option<BackupRecord>, OpsError> {
        let (Some(store), Some(photo), true) = (&self.backups, current, write.backup) else {
            return Ok(None);
        };
        let name = user.key(target.directory.capabilities().listing_key);
        store
            .save(target.kind.as_str(), user, name, photo, reason)
            .await
            .map(Some)
            .map_err(|source| OpsError::Backup {
                target: target.kind,
                user: user.to_string(),
                source,
            })
    }

    /// Appends the audit line for a change that was made.
    async fn log(
        &self,
        target: &Target,
        change: &Change,
        action: AuditAction,
    ) -> Result<(), OpsError> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        let mut record = AuditRecord::now(
            target.identity.clone(),
            target.kind.as_str(),
            change.user.id.clone(),
            action,
        );
        record.user_name = change.user_name.clone();
        record.old_sha256 = change.old_sha256.clone();
        record.new_sha256 = change.new_sha256.clone();
        record.backup = change.backup.as_ref().map(|b| b.path.clone());
        log.append(record).await.map_err(|source| OpsError::Audit {
            target: target.kind,
            user: change.user.to_string(),
            source,
        })
    }

    fn change(&self, target: &Target, user: &User, old: Option<&str>) -> Change {
        Change {
            target: target.kind,
            user: user.clone(),
            user_name: user
                .key(target.directory.capabilities().listing_key)
                .map(str::to_owned),
            status: ChangeStatus::Done,
            old_sha256: old.map(str::to_owned),
            new_sha256: None,
            new_bytes: None,
            new_size: None,
            backup: None,
            warnings: Vec::new(),
        }
    }
}

/// Runs the imaging pipeline on the blocking pool: one decode, one JPEG
/// (with its side and warnings) per spec, in spec order.
async fn prepare(
    image: &[u8],
    outputs: Vec<OutputSpec>,
    options: &SetOptions,
) -> Result<Vec<(Vec<u8>, u32, Vec<String>)>, OpsError> {
    let options = PrepareOptions {
        outputs,
        crop: options.crop,
        limits: options.limits,
        ..PrepareOptions::default()
    };
    let image = image.to_vec();
    let prepared =
        tokio::task::spawn_blocking(move || userphoto_imaging::prepare(&image, &options))
            .await
            .map_err(|e| {
                ImagingError::InvalidOptions(format!("the photo worker stopped: {e}"))
            })??;
    // The pipeline's own "smaller than asked" warning suggests a `convert`
    // flag; say it in terms of the target instead.
    let warnings: Vec<String> = prepared
        .report
        .warnings
        .into_iter()
        .filter(|w| !w.contains("upscale"))
        .collect();
    Ok(prepared
        .photos
        .into_iter()
        .map(|p| {
            let mut w = warnings.clone();
            if p.size < p.requested {
                w.push(format!(
                    "the source is smaller than {0}×{0}, so the photo is written at {1}×{1} (never upscaled); use a larger source for a sharper photo",
                    p.requested, p.size
                ));
            }
            (p.jpeg, p.size, w)
        })
        .collect())
}

/// The one user at `target` whose `by` (default: the target's listing key)
/// is `value`, ignoring case.
///
/// # Errors
/// [`OpsError::Directory`] with `NotFound` or `Ambiguous` (listing the
/// candidates), or `NotSupported` for a key the target cannot match on.
pub async fn find_user(
    target: &Target,
    by: Option<UserKey>,
    value: &str,
) -> Result<User, OpsError> {
    let dir = &target.directory;
    let key = by.unwrap_or(dir.capabilities().listing_key);
    dir.find_user(key, value)
        .await
        .map_err(OpsError::dir(target))
}

/// Finds the user named `value` in each of `targets` (HYBRID: one person,
/// known by different names on-premises and in the cloud).
///
/// In the primary target — the first on-premises or local one, else the
/// first — by `by` (default: its listing key). In every other target, by
/// the primary user's values for the keys of `order` in turn (default
/// [`DEFAULT_MATCH_ORDER`]): the first key that finds someone wins, an
/// ambiguous one is an error rather than a guess ([`find_in_cloud`]); where
/// none finds anyone, by `value` itself. One result per target, in the
/// order given: a user missing in one target is that target's error, not
/// the others'.
///
/// [`find_in_cloud`]: userphoto_directory::graph::find_in_cloud
pub async fn resolve_user(
    targets: &[Target],
    by: Option<UserKey>,
    value: &str,
    order: &[UserKey],
) -> Vec<Result<User, OpsError>> {
    let order: &[UserKey] = if order.is_empty() {
        &DEFAULT_MATCH_ORDER
    } else {
        order
    };
    let Some(primary) = crate::import::plan::primary_target(targets) else {
        return Vec::new();
    };
    let anchor = find_user(primary, by, value).await;
    let mut out: Vec<Result<User, OpsError>> = Vec::with_capacity(targets.len());
    let mut primary_at = 0;
    for (i, t) in targets.iter().enumerate() {
        if std::ptr::eq(t, primary) {
            primary_at = i;
            continue;
        }
        if let Ok(on_prem) = &anchor {
            match userphoto_directory::graph::find_in_cloud(t.directory.as_ref(), on_prem, order)
                .await
            {
                Ok(FindResult::Found(u)) => {
                    out.push(Ok(u));
                    continue;
                }
                Ok(FindResult::Ambiguous(users)) => {
                    out.push(Err(OpsError::Directory {
                        target: t.kind,
                        source: DirError::Ambiguous {
                            key: order[0],
                            value: value.to_owned(),
                            candidates: users.iter().map(ToString::to_string).collect(),
                        },
                    }));
                    continue;
                }
                Ok(FindResult::NotFound) => {}
                Err(e) => {
                    out.push(Err(OpsError::Directory {
                        target: t.kind,
                        source: e,
                    }));
                    continue;
                }
            }
        }
        out.push(
            find_user(t, by, value)
                .await
                .map_err(|e| match (e, &anchor) {
                    (
                        OpsError::Directory {
                            target,
                            source: DirError::NotFound { what },
                        },
                        Ok(on_prem),
                    ) => OpsError::Directory {
                        target,
                        source: DirError::NotFound {
                            what: format!(
                                "{what} (nor by the {} of {on_prem} in {})",
                                order
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", then "),
                                primary.kind,
                            ),
                        },
                    },
                    (e, _) => e,
                }),
        );
    }
    out.insert(primary_at, anchor);
    out
}

/// The user named `value` (see [`find_user`]) and their photo at `target`.
///
/// # Errors
/// As for [`find_user`], and the directory's error reading the photo.
pub async fn get_photo(
    target: &Target,
    by: Option<UserKey>,
    value: &str,
) -> Result<(User, PhotoLookup), OpsError> {
    let user = find_user(target, by, value).await?;
    let lookup = target
        .directory
        .get_photo(&user)
        .await
        .map_err(OpsError::dir(target))?;
    Ok((user, lookup))
}

/// What `detect` found out about one kind of target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The kind.
    pub kind: TargetKind,
    /// Whether the configuration has a section for it.
    pub configured: bool,
    /// Whether it answered (`None`: not tried or unknown).
    pub reachable: Option<bool>,
    /// Whether it accepted our credentials.
    pub authenticated: Option<bool>,
    /// Whether we may list users, read photos, and the target takes writes
    /// (write rights themselves show on the first write).
    pub permitted: Option<bool>,
    /// The target as it names itself (URL, folder), when opened.
    pub description: Option<String>,
    /// Why not, in one sentence, or a note.
    pub detail: Option<String>,
}

impl Detection {
    /// Whether the target is configured and fully usable.
    pub fn is_ok(&self) -> bool {
        self.configured
            && self.reachable == Some(true)
            && self.authenticated == Some(true)
            && self.permitted == Some(true)
    }

    fn failed(kind: TargetKind, error: &DirError) -> Self {
        let (reachable, authenticated, permitted) = match error {
            DirError::Unavailable { .. } | DirError::Timeout { .. } => (Some(false), None, None),
            DirError::Unauthenticated { .. } => (Some(true), Some(false), None),
            DirError::PermissionDenied { .. } => (Some(true), Some(true), Some(false)),
            e if e.is_config() => (None, None, None),
            _ => (Some(false), None, None),
        };
        Detection {
            kind,
            configured: true,
            reachable,
            authenticated,
            permitted,
            description: None,
            detail: Some(error.to_string()),
        }
    }
}

/// Checks every kind of target: configured, reachable, authenticated,
/// permitted — each within `timeout`, all at once.
pub async fn detect(config: &Config, timeout: Duration) -> Vec<Detection> {
    let checks = TargetKind::ALL.into_iter().map(|kind| async move {
        if !config.is_configured(kind) {
            return Detection {
                kind,
                configured: false,
                reachable: None,
                authenticated: None,
                permitted: None,
                description: None,
                detail: None,
            };
        }
        match tokio::time::timeout(timeout, probe(config, kind)).await {
            Ok(d) => d,
            Err(_) => Detection::failed(kind, &DirError::Timeout { after: timeout }),
        }
    });
    futures::future::join_all(checks).await
}

/// Opens one target and tries a harmless read.
async fn probe(config: &Config, kind: TargetKind) -> Detection {
    let target = match config.open(kind).await {
        Ok(t) => t,
        Err(e) => return Detection::failed(kind, &e),
    };
    let dir = &target.directory;
    let description = Some(dir.to_string());
    let first = {
        use futures::StreamExt as _;
        let query = UserQuery::all().with_limit(1);
        let mut users = dir.list_users(&query);
        users.next().await
    };
    let mut d = Detection {
        kind,
        configured: true,
        reachable: Some(true),
        authenticated: Some(true),
        permitted: Some(dir.capabilities().can_write),
        description,
        detail: None,
    };
    match first {
        Some(Err(e)) => {
            let description = d.description.take();
            d = Detection::failed(kind, &e);
            d.description = description;
        }
        None => d.detail = Some("no users found; check the base and the user filter".into()),
        Some(Ok(user)) if dir.capabilities().can_read => match dir.get_photo(&user).await {
            Ok(PhotoLookup::NotAccessible { reason }) => {
                d.permitted = Some(false);
                d.detail = Some(format!("photos cannot be read: {reason}"));
            }
            Ok(_) => {}
            Err(e) => {
                let description = d.description.take();
                d = Detection::failed(kind, &e);
                d.description = description;
            }
        },
        Some(Ok(_)) => {}
    }
    if d.permitted == Some(false) && d.detail.is_none() {
        d.detail = Some("the target is read-only".into());
    }
    d
}

mod existing_hd;
pub use existing_hd::{ExistingHd, ExistingHdError};

#[cfg(test)]
#[path = "ops/tests.rs"]
mod tests;
