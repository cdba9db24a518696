//! The embedded SQLite store: one file in the data folder.
//!
//! Why SQLite: the queue must survive restarts and a kill at any moment,
//! with no server to install. The file is created 0600 in a 0700 folder
//! (SQLite gives its `-wal` and `-shm` files the same mode), journaled
//! with WAL (readers never wait for the writer) and `synchronous=FULL`
//! (a state change reported done is on disk). Photos are blobs in a table
//! of their own, so listing the queue never reads them. The schema is
//! migrated by `PRAGMA user_version`: each step runs once, in a
//! transaction.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension as _, Row};
use userphoto_imaging::CropMode;

use crate::model::{Check, Filter, NewRequest, Request, State};
use crate::store::{Store, StoreError, Transition};

/// The schema, one step per version (version = index + 1). Never edit a
/// step that has shipped: add one.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user          TEXT NOT NULL,
    user_folded   TEXT NOT NULL,
    display_name  TEXT,
    state         TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    photo_sha256  TEXT NOT NULL,
    photo_bytes   INTEGER NOT NULL,
    crop          TEXT NOT NULL,
    checks        TEXT NOT NULL,
    reviewer      TEXT,
    reason        TEXT,
    outcome       TEXT NOT NULL DEFAULT '[]',
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_by_user ON requests (user_folded, state);
CREATE INDEX requests_by_state ON requests (state);
CREATE TABLE photos (
    request_id INTEGER PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    bytes      BLOB NOT NULL
);
"];

/// The request queue in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`; its folder
    /// is created 0700 and the file 0600.
    ///
    /// # Errors
    /// [`StoreError::Open`] naming the file; [`StoreError::TooNew`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.to_owned(),
            message,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            userphoto_directory::private_fs::create_dir_all(dir)
                .map_err(|e| open_err(e.to_string()))?;
        }
        // Create the file ourselves first, private: SQLite would create it
        // with the umask's mode, and copies the file's mode to -wal/-shm.
        let mut options = userphoto_directory::private_fs::options();
        options.read(true).write(true).create(true);
        userphoto_directory::private_fs::open(&options, path)
            .map_err(|e| open_err(e.to_string()))?;
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| open_err(e.to_string()))?;
        migrate(&conn, path)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock leaves SQLite consistent (every
        // change is a transaction), so a poisoned lock is still usable.
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut conn)
    }
}

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let open_err = |e: rusqlite::Error| StoreError::Open {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let next = i as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {step}; PRAGMA user_version = {next}; COMMIT;"
        ))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            open_err(e)
        })?;
    }
    Ok(())
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(e.to_string()))
}

/// Account names are matched ignoring case, as directories do.
fn fold(user: &str) -> String {
    user.to_lowercase()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

const COLUMNS: &str = "id, user, display_name, state, submitted_at, updated_at, photo_sha256, \
                       photo_bytes, crop, checks, reviewer, reason, outcome, attempts";

fn request(row: &Row<'_>) -> rusqlite::Result<Request> {
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            Box::new(std::io::Error::other(e)),
        )
    };
    let state: String = row.get(3)?;
    let crop: String = row.get(8)?;
    let checks: String = row.get(9)?;
    let outcome: String = row.get(12)?;
    Ok(Request {
        id: row.get(0)?,
        user: row.get(1)?,
        display_name: row.get(2)?,
        state: State::parse(&state).ok_or_else(|| bad(3, format!("unknown state {state:?}")))?,
        submitted_at: row.get(4)?,
        updated_at: row.get(5)?,
        photo_sha256: row.get(6)?,
        photo_bytes: usize::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
        crop: serde_json::from_str::<CropMode>(&crop).map_err(|e| bad(8, e.to_string()))?,
        checks: serde_json::from_str::<Vec<Check>>(&checks).map_err(|e| bad(9, e.to_string()))?,
        reviewer: row.get(10)?,
        reason: row.get(11)?,
        outcome: serde_json::from_str::<Vec<String>>(&outcome)
            .map_err(|e| bad(12, e.to_string()))?,
        attempts: u32::try_from(row.get::<_, i64>(13)?).unwrap_or(0),
    })
}

fn get(conn: &Connection, id: i64) -> Result<Request, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"),
        params![id],
        request,
    )
    .optional()
    .map_err(db)?
    .ok_or(StoreError::NotFound(id))
}

impl Store for SqliteStore {
    fn insert(
        &self,
        new: &NewRequest,
        sha256: &str,
        checks: &[Check],
    ) -> Result<Request, StoreError> {
        let (crop, checks) = (json(&new.crop)?, json(&checks)?);
        self.with(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let folded = fold(&new.user);
            let busy: Option<i64> = tx
                .query_row(
                    "SELECT id FROM requests WHERE user_folded = ?1 AND state = 'approving'",
                    params![folded],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if let Some(id) = busy {
                return Err(StoreError::WrongState {
                    id,
                    state: State::Approving,
                    wanted: "replaced",
                });
            }
            let at = now();
            tx.execute(
                "INSERT INTO requests (user, user_folded, display_name, state, submitted_at, \
                 updated_at, photo_sha256, photo_bytes, crop, checks) \
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?5, ?6, ?7, ?8)",
                params![
                    new.user,
                    folded,
                    new.display_name,
                    at,
                    sha256,
                    new.photo.len() as i64,
                    crop,
                    checks
                ],
            )
            .map_err(db)?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO photos (request_id, bytes) VALUES (?1, ?2)",
                params![id, new.photo],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE requests SET state = 'withdrawn', reason = ?1, updated_at = ?2 \
                 WHERE user_folded = ?3 AND state IN ('pending', 'failed') AND id <> ?4",
                params![format!("replaced by request {id}"), at, folded, id],
            )
            .map_err(db)?;
            let stored = get(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(stored)
        })
    }

    fn get(&self, id: i64) -> Result<Request, StoreError> {
        self.with(|conn| get(conn, id))
    }

    fn photo(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT bytes FROM photos WHERE request_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?
            .ok_or(StoreError::NotFound(id))
        })
    }

    fn list(&self, filter: &Filter) -> Result<Vec<Request>, StoreError> {
        self.with(|conn| {
            let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM requests \
                     WHERE (?1 IS NULL OR user_folded = ?1) \
                     AND (?2 = '' OR instr(?2, ',' || state || ',') > 0) \
                     ORDER BY id"
                ))
                .map_err(db)?;
            let wanted = if states.is_empty() {
                String::new()
            } else {
                format!(",{},", states.join(","))
            };
            let rows = stmt
                .query_map(params![filter.user.as_deref().map(fold), wanted], request)
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
    }

    fn transition(&self, id: i64, change: &Transition<'_>) -> Result<Request, StoreError> {
        let outcome = change.outcome.map(json).transpose()?;
        self.with(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let current = get(&tx, id)?;
            if !change.from.contains(&current.state) {
                return Err(StoreError::WrongState {
                    id,
                    state: current.state,
                    wanted: change.wanted,
                });
            }
            // Entering `approving` clears an earlier failure's reason.
            let reason = match (change.reason, change.to) {
                (Some(r), _) => Some(r.to_owned()),
                (None, State::Approving) => None,
                (None, _) => current.reason.clone(),
            };
            tx.execute(
                "UPDATE requests SET state = ?1, updated_at = ?2, \
                 reviewer = COALESCE(?3, reviewer), reason = ?4, \
                 outcome = COALESCE(?5, outcome), attempts = attempts + ?6 WHERE id = ?7",
                params![
                    change.to.as_str(),
                    now(),
                    change.reviewer,
                    reason,
                    outcome,
                    i64::from(change.attempt),
                    id
                ],
            )
            .map_err(db)?;
            let stored = get(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(stored)
        })
    }
}

#[cfg(test)]
mod tests;
