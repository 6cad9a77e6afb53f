//! The store: what tenet keeps — the audit log, and each module's records
//! (semantic-diff reports today; approvals, heartbeats, scores, findings and
//! action runs as their engines arrive).
//!
//! - [`Store`]: one database, opened and migrated; today SQLite (WAL), one
//!   file on one machine. PostgreSQL, for several `tenet serve` replicas,
//!   joins behind this same type (issue #12): module code reaches the
//!   database only through the store's methods and its own `store.rs`, so
//!   a second backend adds a dialect, not a second code path per caller.
//! - [`migrate`]: forward-only migrations keyed by *module and version*.
//!   The store itself owns only the audit log ([`audit::MIGRATIONS`]); each
//!   module brings its own tables in its crate (`tenet_diff::store`) and
//!   applies them with [`Store::migrate`]. Applied versions are kept in
//!   `schema_migrations (module, version)`; a database written by a newer
//!   tenet is refused, not guessed at.
//! - [`audit`]: the audit envelope every module writes
//!   (`action_id, subject, actor, scope, outcome, reason, latency_ms`, plus
//!   time, tenant and bundle hash), append-only.
//!
//! **Invariant:** every state change of a module is one transaction with
//! its audit event; rows are changed by conditional updates, never by a
//! read followed by a write.

pub mod audit;
pub mod migrate;

pub use audit::{AuditEvent, AuditQuery};
pub use migrate::Migration;

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The default location, relative to the working directory.
pub const DEFAULT_PATH: &str = ".tenet/tenet.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store: a stored record does not parse: {0}")]
    Corrupt(String),
    #[error("no {0} in the store")]
    NotFound(String),
    #[error("store: {0}")]
    Migration(String),
}

/// One open, migrated database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it and its folder if needed) the store and applies
    /// the audit log's migrations. Modules apply theirs with
    /// [`Store::migrate`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate(audit::MIGRATIONS)?;
        Ok(store)
    }

    /// An in-memory store (tests).
    pub fn memory() -> Result<Store, StoreError> {
        let mut store = Store {
            conn: Connection::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        };
        store.migrate(audit::MIGRATIONS)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies the migrations of one module that this database does not
    /// have yet, in version order, in one write transaction (so two
    /// processes opening one file at once do not race). Idempotent.
    pub fn migrate(&mut self, migrations: &[Migration]) -> Result<(), StoreError> {
        migrate::apply(&mut self.conn, migrations)
    }

    /// The applied `(module, version)` pairs, in order.
    pub fn migrations(&self) -> Result<Vec<(String, u32)>, StoreError> {
        migrate::applied(&self.conn)
    }

    /// Makes every commit reach the disk before it returns
    /// (`synchronous = FULL`), for callers that answer only after their
    /// audit event is durable even across a power loss. The default
    /// (`NORMAL` in WAL mode) survives a crash of the process, not of the
    /// machine.
    pub fn sync_full(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    }

    /// The SQLite connection, for a module's own `store.rs` (its queries on
    /// its own tables). Nothing outside a module's store file uses it.
    pub fn sqlite(&self) -> &Connection {
        &self.conn
    }

    /// The SQLite connection, mutably (transactions).
    pub fn sqlite_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}
