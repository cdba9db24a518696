//! The `[team]` section turned into a queue: where the database is, the
//! policy, and which targets an approved photo goes to.

use std::path::PathBuf;
use std::sync::Arc;

use userphoto_directory::config::{Config, TargetKind, TeamSection};

use crate::queue::{Policy, Queue, QueueError};
use crate::sqlite::SqliteStore;

/// The request database: `[team] database`, else `requests.sqlite` in the
/// data folder (beside the audit log).
///
/// # Errors
/// [`QueueError::Config`] when there is no data folder.
pub fn database_path(config: &Config) -> Result<PathBuf, QueueError> {
    let section = config.file().team.clone().unwrap_or_default();
    match section.database {
        Some(path) => Ok(config.resolve_path(&path)),
        None => config
            .data_dir()
            .map(|d| d.join("requests.sqlite"))
            .map_err(|e| QueueError::Config(e.to_string())),
    }
}

/// The policy of `[team]` (defaults without the section).
///
/// # Errors
/// [`QueueError::UnknownCheck`].
pub fn policy(config: &Config) -> Result<Policy, QueueError> {
    let TeamSection {
        auto_approve,
        refuse_checks,
        ..
    } = config.file().team.clone().unwrap_or_default();
    Policy::new(auto_approve, refuse_checks)
}

/// The targets an approved photo is written to: `[team] targets`, else
/// every configured one.
pub fn targets(config: &Config) -> Vec<TargetKind> {
    let named = config
        .file()
        .team
        .as_ref()
        .map(|t| t.targets.clone())
        .unwrap_or_default();
    if named.is_empty() {
        config.configured()
    } else {
        named
    }
}

/// The queue `config` describes, its database opened (created and
/// migrated on first use).
///
/// # Errors
/// [`QueueError::Config`], [`QueueError::UnknownCheck`], store errors.
pub fn open_queue(config: &Config) -> Result<Queue, QueueError> {
    let policy = policy(config)?;
    let store = SqliteStore::open(&database_path(config)?)?;
    Ok(Queue::new(Arc::new(store), policy))
}
