//! The store behind the queue: a small trait, so a server database can be
//! added beside the embedded SQLite one without touching the queue.

use std::path::PathBuf;

use crate::model::{Filter, NewRequest, Request, State};

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened, created or migrated.
    #[error("cannot open the request database {}: {message}; check that its folder is writable, or set [team] database", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A query failed.
    #[error("the request database failed: {0}")]
    Database(String),
    /// There is no such request.
    #[error("there is no request {0}")]
    NotFound(i64),
    /// The request is not in a state that allows this.
    #[error("request {id} is {state}; it cannot be {wanted}")]
    WrongState {
        /// The request.
        id: i64,
        /// Where it is.
        state: State,
        /// What was asked (`approved`, `rejected`, `withdrawn`).
        wanted: &'static str,
    },
    /// The database was written by a newer userphoto.
    #[error("the request database {} is from a newer userphoto (schema {found}, this one knows {known}); use that version", path.display())]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
}

/// A change of state, made only if the request is in one of `from`
/// (compare and set: two approvers cannot both start one approval).
#[derive(Clone, Debug)]
pub struct Transition<'a> {
    /// The states it may leave.
    pub from: &'a [State],
    /// The state it enters.
    pub to: State,
    /// What is being done, for the error (`approved`, `rejected`, …).
    pub wanted: &'static str,
    /// Who did it (set as the reviewer when `Some`).
    pub reviewer: Option<&'a str>,
    /// Why (stored as the reason when `Some`; cleared when entering
    /// `approving`).
    pub reason: Option<&'a str>,
    /// What was written (stored when `Some`).
    pub outcome: Option<&'a [String]>,
    /// Count an approval attempt.
    pub attempt: bool,
}

/// Where requests and their photos are kept. Every method is blocking
/// (call it on a blocking thread from async code) and atomic.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stores a new pending request with its checks; an older pending
    /// request of the same employee is withdrawn ("replaced by request
    /// N") in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`]; [`StoreError::WrongState`] when the
    /// employee's previous request is being approved right now.
    fn insert(
        &self,
        new: &NewRequest,
        sha256: &str,
        checks: &[crate::model::Check],
    ) -> Result<Request, StoreError>;

    /// The request `id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Database`].
    fn get(&self, id: i64) -> Result<Request, StoreError>;

    /// The photo of request `id`, as uploaded.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Database`].
    fn photo(&self, id: i64) -> Result<Vec<u8>, StoreError>;

    /// The requests `filter` selects, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    fn list(&self, filter: &Filter) -> Result<Vec<Request>, StoreError>;

    /// Moves request `id` as `change` says, if it is in one of its `from`
    /// states; returns it as it is now.
    ///
    /// # Errors
    /// [`StoreError::WrongState`] (nothing changed), [`StoreError::NotFound`],
    /// [`StoreError::Database`].
    fn transition(&self, id: i64, change: &Transition<'_>) -> Result<Request, StoreError>;
}
