//! A self-service request as data.

use serde::{Deserialize, Serialize};
use userphoto_imaging::CropMode;

/// Where a request is in its life.
///
/// ```text
/// pending ──► approving ──► approved
///    │            └───────► failed ──► approving (approve again)
///    ├──► rejected
///    └──► withdrawn
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Submitted, waiting for an approver.
    Pending,
    /// An approver approved it and the write is under way (or was
    /// interrupted: [`crate::Queue::recover`] finishes it).
    Approving,
    /// Written to every target.
    Approved,
    /// Refused by an approver, with a reason.
    Rejected,
    /// Taken back by the employee (or replaced by a newer request).
    Withdrawn,
    /// The write failed at a target; the reason says where and why. An
    /// approver may approve it again.
    Failed,
}

impl State {
    /// Every state, in life order.
    pub const ALL: [State; 6] = [
        State::Pending,
        State::Approving,
        State::Approved,
        State::Rejected,
        State::Withdrawn,
        State::Failed,
    ];

    /// `pending`, `approving`, …: the stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approving => "approving",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
            State::Failed => "failed",
        }
    }

    /// The state named `name` (as [`State::as_str`] writes it).
    pub fn parse(name: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether an approver still has something to do.
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Approving | State::Failed)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One quality finding on the proposed photo, as the admin UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `no_face`, `several_faces`, `face_too_small`, `too_dark`,
    /// `too_blurry`, `source_too_small`.
    pub code: String,
    /// The plain-language sentence.
    pub text: String,
}

/// What an employee submits.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// The employee's account name at the primary target (its listing
    /// key: `sAMAccountName` for Active Directory), as signed in.
    pub user: String,
    /// The employee's name to show (display name), if known.
    pub display_name: Option<String>,
    /// The photo as uploaded (any format the pipeline reads).
    pub photo: Vec<u8>,
    /// How it is framed (the crop editor's square, or automatic).
    pub crop: CropMode,
}

/// A stored request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Its number.
    pub id: i64,
    /// The employee's account name (see [`NewRequest::user`]).
    pub user: String,
    /// The employee's name to show.
    pub display_name: Option<String>,
    /// Where it is.
    pub state: State,
    /// When it was submitted (RFC 3339 UTC).
    pub submitted_at: String,
    /// When its state last changed (RFC 3339 UTC).
    pub updated_at: String,
    /// SHA-256 of the uploaded photo (hex).
    pub photo_sha256: String,
    /// Its size in bytes.
    pub photo_bytes: usize,
    /// How it is framed.
    pub crop: CropMode,
    /// The quality findings at submission.
    pub checks: Vec<Check>,
    /// Who approved or rejected it (or `auto-approve`).
    pub reviewer: Option<String>,
    /// Why it was rejected, withdrawn or failed.
    pub reason: Option<String>,
    /// What the approval wrote, one line per target
    /// (`ad: done`, `m365: unchanged`).
    pub outcome: Vec<String>,
    /// How many times an approval was started (more than one: retried).
    pub attempts: u32,
}

/// Which requests to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these states (empty: all).
    pub states: Vec<State>,
    /// Only this employee's (account name, any case).
    pub user: Option<String>,
}

impl Filter {
    /// What an approver works on: pending and failed requests.
    pub fn queue() -> Self {
        Filter {
            states: vec![State::Pending, State::Approving, State::Failed],
            user: None,
        }
    }
}
