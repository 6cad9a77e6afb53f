//! The store: what tenet keeps — the audit log, and each module's records
//! (semantic-diff reports today; approvals, heartbeats, scores, findings and
//! action runs as their engines arrive).
//!
//! - [`Store`]: one database, opened and migrated, on one of two backends
//!   chosen by its [`Location`]: **SQLite** (a path; WAL; the default, one
//!   machine) or **PostgreSQL** (a `postgres://` URL; a pool of
//!   tokio-postgres connections; several `tenet serve` replicas). Callers
//!   use the store's methods; a module's own `store.rs` holds its queries
//!   in both dialects and reaches the connection through [`Store::backend`].
//! - [`migrate`]: forward-only migrations keyed by *module and version*,
//!   each in both dialects. The store itself owns the audit log
//!   ([`audit::MIGRATIONS`]) and the leases ([`lease::MIGRATIONS`]); each
//!   module brings its own tables in its crate (`tenet_diff::store`) and
//!   applies them with [`Store::migrate`], under a lock, so replicas
//!   starting at once apply each step once.
//! - [`audit`]: the audit envelope every module writes
//!   (`action_id, subject, actor, scope, outcome, reason, latency_ms`, plus
//!   time, tenant and bundle hash), append-only.
//! - [`lease`]: named, expiring leases with a fencing token, so exactly one
//!   replica runs a given sweep at a time.
//! - [`tls`]: TLS to a PostgreSQL store, set by the URL as libpq sets it
//!   (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
//! - [`testing`]: the backends the conformance suite runs every store test
//!   against.
//!
//! **Invariant:** every state change of a module is one transaction with
//! its audit event; rows are changed by conditional updates, never by a
//! read followed by a write.

pub mod audit;
pub mod lease;
pub mod location;
pub mod migrate;
pub mod pg;
pub mod testing;
pub mod tls;

pub use audit::{AuditEvent, AuditQuery};
pub use lease::Lease;
pub use location::Location;
pub use migrate::Migration;
pub use pg::Pg;

use rusqlite::Connection;
use std::path::Path;

/// The default location, relative to the working directory.
pub const DEFAULT_PATH: &str = ".tenet/tenet.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Location(String),
    #[error("store: {0}")]
    Sql(rusqlite::Error),
    /// A constraint refused a row (a duplicate key): the request's fault,
    /// not the store's.
    #[error("store: {0}")]
    Conflict(String),
    #[error("store (postgres): {0}")]
    Postgres(String),
    #[error("store: a stored record does not parse: {0}")]
    Corrupt(String),
    #[error("no {0} in the store")]
    NotFound(String),
    #[error("store: {0}")]
    Migration(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
            _ => StoreError::Sql(e),
        }
    }
}

/// One open, migrated database.
pub struct Store {
    backend: Backend,
    location: Location,
}

/// A store's connection, for a module's own `store.rs`: its queries on
/// its own tables, one per dialect.
pub enum Backend {
    Sqlite(Connection),
    Postgres(Pg),
}

impl Store {
    /// Opens the SQLite store at `path` (creating it and its folder if
    /// needed) and applies the store's own migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::connect(&Location::Sqlite(path.to_path_buf()))
    }

    /// Opens the store at `location` and applies the store's own
    /// migrations (the audit log and the leases). Modules apply theirs
    /// with [`Store::migrate`].
    pub fn connect(location: &Location) -> Result<Store, StoreError> {
        let backend = match location {
            Location::Sqlite(path) => Backend::Sqlite(open_sqlite(path)?),
            Location::Postgres(pg) => Backend::Postgres(Pg::connect(pg)?),
        };
        let mut store = Store {
            backend,
            location: location.clone(),
        };
        store.migrate(audit::MIGRATIONS)?;
        store.migrate(lease::MIGRATIONS)?;
        Ok(store)
    }

    /// An in-memory SQLite store (tests).
    pub fn memory() -> Result<Store, StoreError> {
        let mut store = Store {
            backend: Backend::Sqlite(Connection::open_in_memory()?),
            location: Location::Sqlite(":memory:".into()),
        };
        store.migrate(audit::MIGRATIONS)?;
        store.migrate(lease::MIGRATIONS)?;
        Ok(store)
    }

    /// Where the store is (displays without a password).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The connection, for a module's own queries.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The connection, mutably (SQLite transactions).
    pub fn backend_mut(&mut self) -> &mut Backend {
        &mut self.backend
    }

    /// Applies the migrations of one module that this database does not
    /// have yet, in version order, in one transaction under a lock (so two
    /// processes or replicas opening one store at once do not race).
    /// Idempotent.
    pub fn migrate(&mut self, migrations: &[Migration]) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(conn) => migrate::apply(conn, migrations),
            Backend::Postgres(pg) => migrate::apply_pg(pg, migrations),
        }
    }

    /// The applied `(module, version)` pairs, in order.
    pub fn migrations(&self) -> Result<Vec<(String, u32)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => migrate::applied(conn),
            Backend::Postgres(pg) => migrate::applied_pg(pg),
        }
    }

    /// Makes every commit reach the disk before it returns. On SQLite this
    /// is `synchronous = FULL` (the default, `NORMAL` in WAL mode, survives
    /// a crash of the process, not of the machine); PostgreSQL commits are
    /// durable already (`synchronous_commit = on`, its default), so there
    /// it does nothing.
    pub fn sync_full(&self) -> Result<(), StoreError> {
        if let Backend::Sqlite(conn) = &self.backend {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        Ok(())
    }

    /// The SQLite connection, if this is a SQLite store.
    pub fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }
}

fn open_sqlite(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |message: String| StoreError::Open {
        path: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
    }
    let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Switching a new database to WAL takes a lock that SQLite does not
    // wait for with the busy handler when several connections open it at
    // once (replicas starting together): retry for up to the busy timeout.
    let mut tries = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 250 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other?,
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}
