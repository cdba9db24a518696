//! The plan as data: what an import will do, per file and per (user,
//! target), before anything is written.
//!
//! Why a module of its own: admins must see the whole run before it
//! touches a directory (`--dry-run`), scripts must be able to read it
//! (JSON lines), the web UI must show it and later hand it back to the
//! executor, and an interrupted run must resume from it without asking the
//! directory again. So the plan is plain, serialisable data — built by the
//! [planner](super::plan), carried out by the
//! [`Executor`](super::execute::Executor) — and its reasons are
//! [`Reason`]s, worded by the front end that shows them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use userphoto_directory::config::TargetKind;
use userphoto_directory::{User, UserKey};
use userphoto_imaging::{CropMode, Limits};

use super::cache::FileStamp;
use super::ImportError;
use crate::reason::Reason;

/// The plan format's version, written into every plan.
pub const PLAN_VERSION: u32 = 2;

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
    pub target: TargetKind,
    /// The user in that target, when resolved.
    pub user: Option<User>,
    /// What to do.
    pub action: Action,
    /// Why (for skipped and error), or a note.
    pub reason: Option<Reason>,
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
    /// Why, for anything but a matched file (or a note).
    pub reason: Option<Reason>,
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
    /// An entry for a file that reaches no target, with why.
    pub(crate) fn file_only(
        file: PathBuf,
        relative: String,
        name: Option<String>,
        action: Action,
        reason: Reason,
    ) -> Self {
        Entry {
            file,
            relative,
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
    /// Why, or a note, in the words of the front end that printed it.
    pub reason: Option<String>,
    /// The reason's code (the same whichever front end planned).
    pub code: Option<String>,
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
    /// The plan as rows: one per step of a matched file, one per other
    /// file, each reason worded by `word` (a front end's
    /// [`Wording::reason`](crate::wording::Wording::reason)).
    pub fn rows(&self, word: &dyn Fn(&Reason) -> String) -> Vec<PlanRow> {
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
                    reason: e.reason.as_ref().map(word),
                    code: e.reason.as_ref().map(Reason::code),
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
                    reason: s.reason.as_ref().map(word),
                    code: s.reason.as_ref().map(Reason::code),
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
