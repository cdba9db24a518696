//! Progress events of an import, and the [`Reporter`] trait that receives
//! them.
//!
//! Why a trait: the engine must not know who is watching. The CLI prints
//! text, JSON lines or a progress bar; the web UI forwards the same events
//! over server-sent events. Following ripgrep's `Sink`, the engine emits
//! plain serialisable [`Event`]s and each front end implements
//! [`Reporter`] — there is no global state.

use serde::Serialize;

use super::report::{ItemResult, Summary};

/// One thing that happened during an import.
///
/// Serialises with a `type` tag (`{"type":"planned",…}`), so a web front end
/// can forward it unchanged.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// The plan is ready: what will be done.
    Planned {
        /// Files looked at.
        files: usize,
        /// Writes to do.
        writes: usize,
        /// Writes not needed (the directory already has the photo).
        unchanged: usize,
    },
    /// Writing starts; `total` writes are to be done.
    Started {
        /// Writes to do in this run (after a resume: the ones left).
        total: usize,
    },
    /// A photo was prepared (decoded, cropped, resized, encoded).
    Prepared {
        /// The source file.
        file: String,
    },
    /// One (user, target) is finished, whatever the outcome.
    Item(ItemResult),
    /// Writes failed because directories could not be reached; the run
    /// waits for them to answer again, then retries those writes.
    Waiting {
        /// The targets waited for.
        targets: Vec<String>,
        /// Writes to retry.
        writes: usize,
        /// How long the run waits at most, in seconds.
        patience_s: u64,
    },
    /// The run was asked to stop; writes in flight are being finished.
    Stopping,
    /// The run is over.
    Finished(Summary),
}

/// Receives the events of an import. Implementations must be cheap and
/// must not block for long: they are called from the engine's tasks.
pub trait Reporter: Send + Sync {
    /// Called for every event, in the order they happen per (user, target).
    fn event(&self, event: &Event);
}

/// A reporter that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn event(&self, _event: &Event) {}
}

/// A reporter that keeps every event (tests, and front ends that render
/// at the end).
#[derive(Debug, Default)]
pub struct CollectingReporter {
    events: std::sync::Mutex<Vec<Event>>,
}

impl CollectingReporter {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

impl Reporter for CollectingReporter {
    fn event(&self, event: &Event) {
        match self.events.lock() {
            Ok(mut e) => e.push(event.clone()),
            Err(p) => p.into_inner().push(event.clone()),
        }
    }
}
