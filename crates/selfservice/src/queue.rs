//! What each role may do with requests, and the approval itself.
//!
//! Why here and not in a front end: the CLI (`userphoto requests`) and the
//! web UI's queue must check, approve and recover in exactly one way.
//!
//! The approval is ordered so that a process killed at any point finishes
//! it on restart and never writes twice:
//!
//! 1. the request moves `pending`/`failed` → `approving` (compare and set:
//!    a second approver gets "request N is approving");
//! 2. the photo is prepared and written through [`Ops::set_photo_to`] —
//!    read current → identical? skip → back up → write → audit, with the
//!    audit line naming the approver;
//! 3. the request moves to `approved` (or `failed`, with the reason).
//!
//! A restart finds requests left in `approving` ([`Queue::recover`]) and
//! runs step 2 again: preparing is deterministic, so a photo already
//! written is found identical by digest and skipped; an audit line missing
//! because the kill came between the write and the log is added then
//! ([`Ops::audit_found_in_place`]), as the import journal does.

use std::sync::Arc;

use userphoto_bulk::ops::{ChangeStatus, Ops, SetOptions};
use userphoto_bulk::prepare;
use userphoto_bulk::wording::Wording;
use userphoto_directory::config::Target;
use userphoto_imaging::{CropMode, ImagingError, QualityIssue};

use crate::model::{Check, Filter, NewRequest, Request, State};
use crate::store::{Store, StoreError, Transition};

/// The quality-check codes a policy may name.
pub const CHECK_CODES: [&str; 6] = [
    "no_face",
    "several_faces",
    "face_too_small",
    "too_dark",
    "too_blurry",
    "source_too_small",
];

/// The side the checks look at: the HD size, so "too small" means too
/// small for Microsoft 365 and Exchange.
const CHECK_SIZE: u32 = 648;

/// The reviewer recorded for a request approved by the policy.
pub const AUTO_APPROVER: &str = "auto-approve";

/// What the `[team]` policy says about checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Approve a submission at once when no check finds anything (default
    /// off: a person looks at every photo).
    pub auto_approve: bool,
    /// Refuse a submission with any of these findings (codes from
    /// [`CHECK_CODES`]).
    pub refuse: Vec<String>,
}

impl Policy {
    /// A policy, its `refuse` codes checked.
    ///
    /// # Errors
    /// [`QueueError::UnknownCheck`] naming the code and the known ones.
    pub fn new(auto_approve: bool, refuse: Vec<String>) -> Result<Self, QueueError> {
        if let Some(bad) = refuse.iter().find(|c| !CHECK_CODES.contains(&c.as_str())) {
            return Err(QueueError::UnknownCheck(bad.clone()));
        }
        Ok(Policy {
            auto_approve,
            refuse,
        })
    }
}

/// Why a queue operation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The store failed or refused (no such request, wrong state).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The uploaded file is not a usable photo.
    #[error("the photo cannot be used: {0}")]
    Image(#[from] ImagingError),
    /// The policy refuses a photo with these findings.
    #[error("the photo was not submitted: {}", .0.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Check>),
    /// A rejection needs a reason for the employee.
    #[error("say why the photo is rejected: the employee sees the reason")]
    ReasonMissing,
    /// A policy names a check that does not exist.
    #[error("[team] refuse_checks names {0:?}, which is not a check; use any of: {known}", known = CHECK_CODES.join(", "))]
    UnknownCheck(String),
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A submission's result.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// The stored request.
    pub request: Request,
    /// The policy approves it without a person (every check passed and
    /// `auto_approve` is on): call [`Queue::approve`] with
    /// [`AUTO_APPROVER`].
    pub auto_approve: bool,
}

/// The approval queue: a store and a policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Queue {
    store: Arc<dyn Store>,
    policy: Policy,
}

impl Queue {
    /// A queue over `store` with `policy`.
    pub fn new(store: Arc<dyn Store>, policy: Policy) -> Self {
        Queue { store, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| QueueError::Internal(e.to_string()))?
            .map_err(QueueError::Store)
    }

    /// The quality findings on `photo` framed by `crop`, as the admin UI
    /// shows them (one decode on a blocking thread).
    ///
    /// # Errors
    /// [`QueueError::Image`] when it is not a usable photo.
    pub async fn checks(
        &self,
        photo: Arc<Vec<u8>>,
        crop: CropMode,
    ) -> Result<Vec<Check>, QueueError> {
        let inspection =
            tokio::task::spawn_blocking(move || prepare::inspect(&photo, CHECK_SIZE, crop))
                .await
                .map_err(|e| QueueError::Internal(e.to_string()))??;
        Ok(inspection
            .report
            .findings
            .iter()
            .map(|(issue, text): &(QualityIssue, String)| Check {
                code: issue.code().to_owned(),
                text: text.clone(),
            })
            .collect())
    }

    /// An employee submits a photo: checked, refused if the policy says so,
    /// else stored as pending (replacing their older pending request).
    ///
    /// # Errors
    /// [`QueueError::Image`], [`QueueError::Refused`], store errors.
    pub async fn submit(&self, new: NewRequest) -> Result<Submitted, QueueError> {
        let photo = Arc::new(new.photo);
        let checks = self.checks(Arc::clone(&photo), new.crop).await?;
        let refused: Vec<Check> = checks
            .iter()
            .filter(|c| self.policy.refuse.contains(&c.code))
            .cloned()
            .collect();
        if !refused.is_empty() {
            return Err(QueueError::Refused(refused));
        }
        let sha256 = userphoto_directory::sha256_hex(&photo);
        let new = NewRequest {
            photo: Arc::try_unwrap(photo).unwrap_or_else(|p| (*p).clone()),
            ..new
        };
        let auto_approve = self.policy.auto_approve && checks.is_empty();
        let request = self
            .blocking(move |s| s.insert(&new, &sha256, &checks))
            .await?;
        Ok(Submitted {
            request,
            auto_approve,
        })
    }

    /// The requests `filter` selects (an approver's or a script's view).
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(&self, filter: Filter) -> Result<Vec<Request>, QueueError> {
        self.blocking(move |s| s.list(&filter)).await
    }

    /// Request `id` (an approver's or a script's view).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], store errors.
    pub async fn get(&self, id: i64) -> Result<Request, QueueError> {
        self.blocking(move |s| s.get(id)).await
    }

    /// The photo of request `id` as uploaded (an approver's view).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], store errors.
    pub async fn photo(&self, id: i64) -> Result<Vec<u8>, QueueError> {
        self.blocking(move |s| s.photo(id)).await
    }

    /// Request `id` if it is `user`'s; another employee's request is "not
    /// found", exactly as a missing one (its existence is not told).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], store errors.
    pub async fn own(&self, id: i64, user: &str) -> Result<Request, QueueError> {
        let request = self.get(id).await?;
        if request.user.to_lowercase() == user.to_lowercase() {
            Ok(request)
        } else {
            Err(StoreError::NotFound(id).into())
        }
    }

    /// The photo of `user`'s own request `id` (see [`Queue::own`]).
    ///
    /// # Errors
    /// As [`Queue::own`].
    pub async fn own_photo(&self, id: i64, user: &str) -> Result<Vec<u8>, QueueError> {
        self.own(id, user).await?;
        self.photo(id).await
    }

    /// `user`'s requests, newest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn mine(&self, user: &str) -> Result<Vec<Request>, QueueError> {
        let mut all = self
            .list(Filter {
                states: Vec::new(),
                user: Some(user.to_owned()),
            })
            .await?;
        all.reverse();
        Ok(all)
    }

    /// `user` takes back their own pending request `id`.
    ///
    /// # Errors
    /// As [`Queue::own`]; [`StoreError::WrongState`] when it is no longer
    /// pending.
    pub async fn withdraw(&self, id: i64, user: &str) -> Result<Request, QueueError> {
        self.own(id, user).await?;
        self.blocking(move |s| {
            s.transition(
                id,
                &Transition {
                    from: &[State::Pending, State::Failed],
                    to: State::Withdrawn,
                    wanted: "withdrawn",
                    reviewer: None,
                    reason: Some("withdrawn by the employee"),
                    outcome: None,
                    attempt: false,
                },
            )
        })
        .await
    }

    /// An approver rejects request `id`, saying why.
    ///
    /// # Errors
    /// [`QueueError::ReasonMissing`]; [`StoreError::WrongState`] unless it
    /// is pending or failed.
    pub async fn reject(
        &self,
        id: i64,
        reviewer: &str,
        reason: &str,
    ) -> Result<Request, QueueError> {
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            return Err(QueueError::ReasonMissing);
        }
        let reviewer = reviewer.to_owned();
        self.blocking(move |s| {
            s.transition(
                id,
                &Transition {
                    from: &[State::Pending, State::Failed],
                    to: State::Rejected,
                    wanted: "rejected",
                    reviewer: Some(&reviewer),
                    reason: Some(&reason),
                    outcome: None,
                    attempt: false,
                },
            )
        })
        .await
    }

    /// An approver approves request `id`: written to `targets` (found by
    /// the employee's account name at the primary target, the others by
    /// `ops`'s resolver) through `ops`, the audit lines naming `approver`.
    /// Returns the request as it ended: `approved`, or `failed` with the
    /// reason (an approver may approve it again).
    ///
    /// # Errors
    /// [`StoreError::WrongState`] unless it is pending or failed (nothing
    /// was written); store errors.
    pub async fn approve(
        &self,
        id: i64,
        approver: &str,
        targets: &[Target],
        ops: &Ops,
    ) -> Result<Request, QueueError> {
        let who = approver.to_owned();
        let request = self
            .blocking(move |s| {
                s.transition(
                    id,
                    &Transition {
                        from: &[State::Pending, State::Failed],
                        to: State::Approving,
                        wanted: "approved",
                        reviewer: Some(&who),
                        reason: None,
                        outcome: None,
                        attempt: true,
                    },
                )
            })
            .await?;
        self.write(request, targets, ops).await
    }

    /// Finishes every approval a killed process left in `approving`
    /// (call it at start-up, before serving). Returns them as they ended.
    ///
    /// # Errors
    /// Store errors.
    pub async fn recover(&self, targets: &[Target], ops: &Ops) -> Result<Vec<Request>, QueueError> {
        let left = self
            .list(Filter {
                states: vec![State::Approving],
                user: None,
            })
            .await?;
        let mut done = Vec::new();
        for request in left {
            tracing::info!(id = request.id, "finishing an interrupted approval");
            let id = request.id;
            let request = self
                .blocking(move |s| {
                    s.transition(
                        id,
                        &Transition {
                            from: &[State::Approving],
                            to: State::Approving,
                            wanted: "approved",
                            reviewer: None,
                            reason: None,
                            outcome: None,
                            attempt: true,
                        },
                    )
                })
                .await?;
            done.push(self.write(request, targets, ops).await?);
        }
        Ok(done)
    }

    /// Step 2 and 3 of the approval of `request` (in `approving`).
    async fn write(
        &self,
        request: Request,
        targets: &[Target],
        ops: &Ops,
    ) -> Result<Request, QueueError> {
        let id = request.id;
        let approver = request
            .reviewer
            .clone()
            .unwrap_or_else(|| AUTO_APPROVER.to_owned());
        let photo = self.photo(id).await?;
        let ops = ops.clone().approved_by(approver);
        let wording = Wording::command_line();
        let users = ops
            .resolver()
            .one(targets, crate::user_key(&request.user), &request.user)
            .await;
        let options = SetOptions {
            crop: request.crop,
            ..SetOptions::default()
        };
        let (outcome, failures) = match ops
            .set_photo_to(targets, users, false, &photo, &options)
            .await
        {
            Err(e) => (Vec::new(), vec![wording.ops_error(&e)]),
            Ok(run) => {
                let mut outcome = Vec::new();
                let mut failures = Vec::new();
                for (kind, why) in &run.skipped {
                    outcome.push(format!("{kind}: skipped: {}", wording.reason(why)));
                }
                for (kind, result) in &run.results {
                    match result {
                        Ok(change) => {
                            // A retry that finds the photo in place: the
                            // kill may have come between write and log.
                            if change.status == ChangeStatus::Unchanged && request.attempts > 1 {
                                if let Some(target) = targets.iter().find(|t| t.kind == *kind) {
                                    if let Err(e) =
                                        ops.audit_found_in_place(target, change, None).await
                                    {
                                        failures.push(wording.ops_error(&e));
                                    }
                                }
                            }
                            outcome.push(format!("{kind}: {}", change.status.as_str()));
                        }
                        Err(e) => failures.push(wording.ops_error(e)),
                    }
                }
                if run.results.is_empty() {
                    failures.push("no target takes this photo".to_owned());
                }
                (outcome, failures)
            }
        };
        let (to, reason) = if failures.is_empty() {
            (State::Approved, None)
        } else {
            (State::Failed, Some(failures.join("; ")))
        };
        self.blocking(move |s| {
            s.transition(
                id,
                &Transition {
                    from: &[State::Approving],
                    to,
                    wanted: to.as_str(),
                    reviewer: None,
                    reason: reason.as_deref(),
                    outcome: Some(&outcome),
                    attempt: false,
                },
            )
        })
        .await
    }
}
