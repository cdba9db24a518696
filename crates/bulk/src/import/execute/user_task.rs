//! One user's writes, in plan order (HD first, Active Directory last),
//! each through [`Ops::set_prepared_photo`] and into the journal and the
//! reporter.

use std::collections::HashMap;
use std::sync::Arc;

use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{Photo, User};
use userphoto_imaging::OutputSpec;

use super::super::journal::Journal;
use super::super::model::Step;
use super::super::report::{ItemResult, Outcome};
use super::super::reporter::{Event, Reporter};
use crate::ops::{ChangeStatus, Ops, OpsError, WriteOptions};
use crate::prepare::PreparedFile;
use crate::reason::Reason;

/// One file's writes still to do.
#[derive(Clone, Debug)]
pub(super) struct Job {
    pub(super) file: std::path::PathBuf,
    pub(super) relative: String,
    pub(super) name: String,
    pub(super) stamp_key: Option<String>,
    pub(super) steps: Vec<Step>,
}

impl Job {
    pub(super) fn specs(&self) -> Vec<OutputSpec> {
        let mut specs: Vec<OutputSpec> = Vec::new();
        for s in &self.steps {
            let spec = OutputSpec {
                size: s.size,
                max_bytes: s.budget,
            };
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        specs
    }

    pub(super) fn item(
        &self,
        step: &Step,
        outcome: Outcome,
        bytes: Option<usize>,
        reason: Option<Reason>,
    ) -> ItemResult {
        ItemResult {
            file: self.relative.clone(),
            user: Some(self.name.clone()),
            user_id: step.user.as_ref().map(|u| u.id.clone()),
            target: Some(step.target.as_str().to_owned()),
            outcome,
            bytes,
            reason,
            error: None,
            backup: None,
            retryable: false,
        }
    }
}

/// One user's writes, in plan order.
pub(super) struct UserTask {
    pub(super) job: Job,
    pub(super) prepared: PreparedFile,
    pub(super) targets: Arc<HashMap<TargetKind, Target>>,
    pub(super) ops: Ops,
    pub(super) write: WriteOptions,
    pub(super) reporter: Arc<dyn Reporter>,
    pub(super) journal: Option<Arc<Journal>>,
}

impl UserTask {
    pub(super) async fn run(self) -> Vec<ItemResult> {
        let mut results = Vec::new();
        for step in &self.job.steps {
            let item = self.write_one(step).await;
            if let Some(j) = &self.journal {
                if matches!(item.outcome, Outcome::Written | Outcome::Unchanged) {
                    j.done(
                        &item.file,
                        step.target,
                        item.user_id.as_deref().unwrap_or_default(),
                        item.outcome,
                        self.prepared
                            .photo_for(step.size, step.budget)
                            .map(Photo::digest),
                        item.bytes,
                    );
                }
            }
            self.reporter.event(&Event::Item(item.clone()));
            results.push(item);
        }
        results
    }

    async fn write_one(&self, step: &Step) -> ItemResult {
        let fail = |reason: Reason| self.job.item(step, Outcome::Failed, None, Some(reason));
        let (Some(target), Some(user)) = (self.targets.get(&step.target), &step.user) else {
            return fail(Reason::NotOpen {
                target: step.target,
            });
        };
        let Some(photo) = self.prepared.photo_for(step.size, step.budget) else {
            return fail(Reason::NothingPrepared);
        };
        self.write_step(target, user, photo, step).await
    }

    async fn write_step(
        &self,
        target: &Target,
        user: &User,
        photo: &Photo,
        step: &Step,
    ) -> ItemResult {
        let job = &self.job;
        let result = self
            .ops
            .set_prepared_photo(target, user, photo, &self.write)
            .await;
        match result {
            Ok(change)
                if change.status == ChangeStatus::Unchanged && changed_since_plan(step, photo) =>
            {
                // The plan read another photo here, and now ours is in place:
                // an interrupted run of this plan wrote it and stopped before
                // its audit line (or its journal line). The write is ours:
                // log it now, so the audit log misses no change.
                let logged = self
                    .ops
                    .audit_found_in_place(target, &change, step.current_sha256.as_deref())
                    .await;
                let (outcome, reason) = match logged {
                    Ok(()) => (Outcome::Written, Some(Reason::DoneByInterruptedRun)),
                    Err(e) => (Outcome::Failed, Some(Reason::WriteFailed(e.detail()))),
                };
                job.item(step, outcome, Some(photo.len()), reason)
            }
            Ok(change) => {
                let outcome = match change.status {
                    ChangeStatus::Unchanged => Outcome::Unchanged,
                    _ => Outcome::Written,
                };
                let mut item = job.item(step, outcome, Some(photo.len()), step.reason.clone());
                item.backup = change.backup.map(|b| b.path);
                item
            }
            // Found at the read before the write (a first run's plan does not
            // read current photos): nothing to do for this user here.
            Err(OpsError::NoMailbox { target, .. }) => job.item(
                step,
                Outcome::Skipped,
                None,
                Some(Reason::NoMailbox { target }),
            ),
            Err(e) => {
                let reason = Reason::WriteFailed(e.detail());
                let mut item = job.item(step, Outcome::Failed, None, Some(reason));
                item.retryable = e.is_transient();
                item
            }
        }
    }
}

/// Whether the plan read what the target held (a photo, or none) and it was
/// not `photo`: then finding `photo` in place means this plan's interrupted
/// run wrote it.
fn changed_since_plan(step: &Step, photo: &Photo) -> bool {
    match (&step.current_sha256, step.current_bytes) {
        (Some(before), _) => before != photo.digest(),
        (None, Some(0)) => true,
        (None, _) => false,
    }
}
