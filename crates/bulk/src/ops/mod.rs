//! Single-user operations — get, set, remove, restore — with the safety
//! rails every front end needs: back up first, write, then audit.
//!
//! Why a module of its own: the CLI (`userphoto set`) and the web UI's
//! "replace photo" button must do exactly the same thing in the same order,
//! or one of them will one day skip the backup. So the sequence lives here:
//!
//! 1. find the user by the target's listing key (or a chosen key); with
//!    several targets (HYBRID), in the first on-premises one, and in the
//!    others by that user's UPN, then mail, then logon name — the
//!    [`Resolver`]'s rule ([`Ops::resolver`]); or take users a front end
//!    found already ([`Ops::set_photo_to`], [`Ops::remove_photo_of`]);
//! 2. prepare the photo for the target's size and byte budget (one decode
//!    for every target, through [`crate::prepare`]);
//! 3. read the current photo; identical bytes → nothing to do;
//! 4. keep the current photo in the backup folder (unless told not to);
//! 5. write (HD targets first, then Active Directory);
//! 6. append an audit line.
//!
//! Which targets a source photo goes to by default, and in which order, is
//! the pure function [`plan_targets`]; failures are [`OpsError`]s.

mod change;
mod error;
mod existing_hd;

use userphoto_directory::config::{Config, Target};
use userphoto_directory::{
    DirectoryExt as _, Error as DirError, Photo, PhotoLookup, PhotoSlot, User, UserKey,
};
use userphoto_imaging::{OutputSpec, SourceInfo};

pub use self::change::{Change, ChangeStatus, SetOptions, SetRun, WriteOptions};
pub use self::error::OpsError;
pub use self::existing_hd::{ExistingHd, ExistingHdError};
use crate::audit::{AuditAction, AuditLog, AuditRecord};
use crate::backup::{BackupReason, BackupRecord, BackupSet, BackupStore};
use crate::identity::Resolver;
use crate::prepare;
use crate::reason::Reason;
use crate::size_rule::plan_targets;
/// The engine for single-user operations: where backups and the audit log
/// go. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Ops {
    backups: Option<BackupStore>,
    audit: Option<AuditLog>,
    resolver: Resolver,
    approved_by: Option<String>,
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

    /// How a user found in one target is found in the others (`[m365]
    /// match_order`); an empty order keeps the current one.
    pub fn with_match_order(mut self, order: Vec<UserKey>) -> Self {
        if !order.is_empty() {
            self.resolver = Resolver::new(order);
        }
        self
    }

    /// The keys a user found in one target is looked for by in the others,
    /// in order (default: UPN, mail, onPremisesSamAccountName).
    pub fn match_order(&self) -> &[UserKey] {
        self.resolver.order()
    }

    /// The rule that finds one person in every target, with this `[m365]
    /// match_order`: every front end asks it, so all find the same user.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The same engine, its audit lines naming `approver` as who approved
    /// the change (a self-service request; the write is still made as the
    /// target's configured identity).
    pub fn approved_by(mut self, approver: impl Into<String>) -> Self {
        self.approved_by = Some(approver.into());
        self
    }

    /// The backup store, if any.
    pub fn backups(&self) -> Option<&BackupStore> {
        self.backups.as_ref()
    }

    /// The audit log, if any.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Writes `image` to `user` (named by `by`, default the primary
    /// target's listing key; found in the other targets by the
    /// [`Resolver`]) at every target in `targets`, prepared once per size,
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
        let source = prepare::probe(image, &options.limits)?;
        let users = self.resolver.one(targets, by, user).await;
        self.set_photo_for(targets, users, explicit, source, image, options)
            .await
    }

    /// Writes `image` to the users already found at `targets` (one result
    /// per target, in the same order: a target where the user was not
    /// found gets that error), as [`Ops::set_photo_many`] does after
    /// looking them up. A front end that has found the person (the web UI
    /// shows their panes first) writes exactly who it showed.
    ///
    /// # Errors
    /// [`OpsError::Image`] when the image cannot be used.
    pub async fn set_photo_to(
        &self,
        targets: &[Target],
        users: Vec<Result<User, DirError>>,
        explicit: bool,
        image: &[u8],
        options: &SetOptions,
    ) -> Result<SetRun, OpsError> {
        let source = prepare::probe(image, &options.limits)?;
        self.set_photo_for(targets, users, explicit, source, image, options)
            .await
    }

    async fn set_photo_for(
        &self,
        targets: &[Target],
        users: Vec<Result<User, DirError>>,
        explicit: bool,
        source: SourceInfo,
        image: &[u8],
        options: &SetOptions,
    ) -> Result<SetRun, OpsError> {
        let candidates: Vec<(usize, PhotoSlot)> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.slot()))
            .collect();
        let rule = plan_targets(source.width, source.height, &candidates, explicit);
        let specs: Vec<OutputSpec> = rule
            .order
            .iter()
            .map(|&i| OutputSpec {
                size: targets[i].photo_size,
                max_bytes: targets[i].budget_bytes,
            })
            .collect();
        let mut results = Vec::new();
        if !specs.is_empty() {
            let photos = prepare::prepare_photo(image, specs, options.crop, options.limits).await?;
            let mut users: Vec<Option<Result<User, DirError>>> =
                users.into_iter().map(Some).collect();
            for (&i, made) in rule.order.iter().zip(photos) {
                let target = &targets[i];
                let mut notes: Vec<Reason> = made
                    .findings
                    .iter()
                    .map(|(issue, text)| Reason::Quality {
                        check: issue.code().to_owned(),
                        text: text.clone(),
                    })
                    .collect();
                if made.smaller() {
                    notes.push(Reason::SmallerThanTarget {
                        requested: made.requested,
                        size: made.size,
                    });
                }
                notes.extend(
                    rule.warnings
                        .iter()
                        .filter(|(k, _)| *k == i)
                        .map(|(_, w)| w.clone()),
                );
                let found = users.get_mut(i).and_then(Option::take).unwrap_or_else(|| {
                    Err(DirError::other(
                        &target.directory,
                        "the user was not looked up here",
                    ))
                });
                let result = match found {
                    Ok(u) => {
                        self.set_prepared(target, &u, made.jpeg, made.size, notes, &options.write)
                            .await
                    }
                    Err(source) => Err(OpsError::Directory {
                        target: target.kind,
                        source,
                    }),
                };
                results.push((target.kind, result));
            }
        }
        Ok(SetRun {
            source,
            skipped: rule
                .skipped
                .into_iter()
                .map(|(i, why)| (targets[i].kind, why))
                .collect(),
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
        warnings: Vec<Reason>,
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
        self.remove_photo_of(target, &user, write).await
    }

    /// Removes the photo of `user`, found earlier at `target`, keeping it
    /// first: as [`Ops::remove_photo`].
    ///
    /// # Errors
    /// As [`Ops::remove_photo`].
    pub async fn remove_photo_of(
        &self,
        target: &Target,
        user: &User,
        write: &WriteOptions,
    ) -> Result<Change, OpsError> {
        let user = user.clone();
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

    /// Makes sure the audit log has the write an interrupted run made:
    /// `change` found our photo in place where the plan had read `before`
    /// (`None`: no photo). Unless the log's last line for the user there
    /// already records that photo (the run logged it, then stopped before
    /// its journal line), a line is appended recording the change from
    /// `before` (its backup was kept before that write).
    ///
    /// # Errors
    /// [`OpsError::Audit`] when the log cannot be read or written.
    pub async fn audit_found_in_place(
        &self,
        target: &Target,
        change: &Change,
        before: Option<&str>,
    ) -> Result<(), OpsError> {
        let (Some(log), Some(new)) = (&self.audit, change.new_sha256.clone()) else {
            return Ok(());
        };
        let (log_c, kind, id) = (log.clone(), target.kind.as_str(), change.user.id.clone());
        let logged = tokio::task::spawn_blocking(move || log_c.last_write_is(kind, &id, &new))
            .await
            .unwrap_or(Ok(false))
            .map_err(|source| OpsError::Audit {
                target: target.kind,
                user: change.user.to_string(),
                source,
            })?;
        if logged {
            return Ok(());
        }
        let mut found = change.clone();
        found.old_sha256 = before.map(str::to_owned);
        self.log(target, &found, AuditAction::Set).await
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
        record.approved_by = self.approved_by.clone();
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

#[cfg(test)]
mod tests;
