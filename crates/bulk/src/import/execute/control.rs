//! How a person steers a run: stop it ([`CancelToken`]), or be asked
//! before each user's writes ([`Confirmer`]).

use std::sync::Arc;

use tokio::sync::watch;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::Photo;

use super::user_task::Job;
use crate::prepare::PreparedFile;

/// Asks a person to stop the run; clones share the state.
#[derive(Clone, Debug)]
pub struct CancelToken {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run: no new writes start; writes in flight finish.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`cancel`](CancelToken::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What is put before a person for one user when asking (`--confirm`).
#[derive(Clone, Debug)]
pub struct ConfirmRequest {
    /// The file, relative to the folder.
    pub file: String,
    /// The user's name as matched.
    pub user: String,
    /// The user's display name, when known.
    pub display_name: Option<String>,
    /// Per target: (target, current bytes if known, new bytes).
    pub targets: Vec<(TargetKind, Option<usize>, usize)>,
}

/// The answer to a [`ConfirmRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write this user's photos.
    Yes,
    /// Skip this user.
    No,
    /// Write this one and every following one without asking.
    All,
    /// Write nothing more; stop the run.
    Quit,
}

/// Asks whether to write one user's photos. Called from a blocking thread,
/// one request at a time.
pub trait Confirmer: Send + Sync {
    /// The decision for `request`.
    fn confirm(&self, request: &ConfirmRequest) -> Decision;
}

/// Asks the confirmer on a blocking thread.
pub(super) async fn confirm(
    confirmer: Arc<dyn Confirmer>,
    job: &Job,
    prepared: &PreparedFile,
    targets: &[Target],
) -> Decision {
    let mut sizes = Vec::new();
    for s in &job.steps {
        let new = prepared.photo_for(s.size, s.budget).map_or(0, Photo::len);
        // The person compares current and new: read what the plan did not.
        let mut current = s.current_bytes;
        if current.is_none() {
            if let (Some(t), Some(u)) = (targets.iter().find(|t| t.kind == s.target), &s.user) {
                current = match t.directory.get_photo(u).await {
                    Ok(userphoto_directory::PhotoLookup::Photo(p)) => Some(p.len()),
                    Ok(userphoto_directory::PhotoLookup::NoPhoto) => Some(0),
                    _ => None,
                };
            }
        }
        sizes.push((s.target, current, new));
    }
    let request = ConfirmRequest {
        file: job.relative.clone(),
        user: job.name.clone(),
        display_name: job
            .steps
            .iter()
            .find_map(|s| s.user.as_ref().and_then(|u| u.display_name.clone())),
        targets: sizes,
    };
    tokio::task::spawn_blocking(move || confirmer.confirm(&request))
        .await
        .unwrap_or(Decision::Quit)
}
