//! Forward-only schema migrations, keyed by module and version.
//!
//! A module declares its migrations as a `&[Migration]` in its own crate
//! (the semantic diff's `reports` table lives in `tenet_diff::store`), each
//! with the module's name and a version counting up from 1. The store
//! records what it applied in `schema_migrations (module, version,
//! applied_at)` and applies the rest in one transaction that takes a lock
//! before it reads anything — SQLite's write lock (`BEGIN IMMEDIATE`),
//! PostgreSQL's transaction-scoped advisory lock [`PG_LOCK`] — so two
//! processes or replicas starting at once apply each migration exactly
//! once, and a failed step leaves nothing of its module's batch behind
//! (DDL is transactional in both).
//!
//! Every migration is written in both dialects: the same version of a
//! module means the same tables on either backend.
//!
//! Databases from before this table (tenet ≤ 0.1 kept one global
//! `user_version`, 1–4) are adopted: their versions are recorded under the
//! modules that own those tables, and nothing is re-run.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// One step of one module's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The module that owns the tables (`audit`, `semantic-diff`, ...).
    pub module: &'static str,
    /// 1, 2, 3... in order, without gaps; never renumbered once shipped.
    pub version: u32,
    /// SQLite statements (one batch).
    pub sqlite: &'static str,
    /// The same step for PostgreSQL (one batch).
    pub postgres: &'static str,
}

/// The advisory lock key PostgreSQL migrations run under (`tenet` in
/// ASCII).
pub const PG_LOCK: i64 = 0x74_65_6e_65_74;

const PG_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    module     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (module, version)
)";

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    module     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (module, version)
)";

/// What the global `user_version` of tenet ≤ 0.1 meant: version `n`
/// had applied the first `n` of these.
const LEGACY: &[(&str, u32)] = &[
    ("semantic-diff", 1),
    ("audit", 1),
    ("audit", 2),
    ("audit", 3),
];

pub(crate) fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    check_sequence(migrations)?;
    let Some(module) = migrations.first().map(|m| m.module) else {
        return Ok(());
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh: bool = tx
        .query_row(
            "SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )?;
    tx.execute_batch(BOOKKEEPING)?;
    if fresh {
        let legacy: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (m, v) in LEGACY
            .iter()
            .take(legacy.clamp(0, LEGACY.len() as i64) as usize)
        {
            tx.execute(
                "INSERT INTO schema_migrations (module, version) VALUES (?1, ?2)",
                params![m, v],
            )?;
        }
    }
    let current: u32 = tx
        .query_row(
            "SELECT max(version) FROM schema_migrations WHERE module = ?1",
            [module],
            |r| r.get::<_, Option<u32>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(0);
    check_not_newer(module, current, migrations)?;
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sqlite).map_err(|e| {
            StoreError::Migration(format!(
                "migration {} version {} failed: {e}",
                m.module, m.version
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (module, version) VALUES (?1, ?2)",
            params![m.module, m.version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The PostgreSQL twin of [`apply`].
pub(crate) fn apply_pg(pg: &crate::Pg, migrations: &[Migration]) -> Result<(), StoreError> {
    check_sequence(migrations)?;
    let Some(module) = migrations.first().map(|m| m.module) else {
        return Ok(());
    };
    let migrations: Vec<Migration> = migrations.to_vec();
    pg.block_on(move |pool| async move {
        let mut client = pool.get().await?;
        // Up to date already (every start but the first after an upgrade):
        // nothing to lock, no DDL, so a role that may only read and insert
        // (a developer's hook, a CI runner) can open the store.
        let exists: bool = client
            .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
            .await?
            .get(0);
        if exists {
            let current: i32 = client
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE module = $1",
                    &[&module],
                )
                .await?
                .get(0);
            let current = current.max(0) as u32;
            check_not_newer(module, current, &migrations)?;
            if current == migrations.len() as u32 {
                return Ok(());
            }
        }
        let context = |e: tokio_postgres::Error| {
            StoreError::Migration(format!(
                "cannot apply the migrations of `{module}`: {}",
                StoreError::from(e)
            ))
        };
        let tx = client.transaction().await.map_err(context)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_LOCK])
            .await
            .map_err(context)?;
        tx.batch_execute(PG_BOOKKEEPING).await.map_err(context)?;
        let current: Option<i32> = tx
            .query_one(
                "SELECT max(version) FROM schema_migrations WHERE module = $1",
                &[&module],
            )
            .await?
            .get(0);
        let current = current.unwrap_or(0).max(0) as u32;
        check_not_newer(module, current, &migrations)?;
        for m in migrations.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.postgres).await.map_err(|e| {
                StoreError::Migration(format!(
                    "migration {} version {} failed: {}",
                    m.module,
                    m.version,
                    StoreError::from(e)
                ))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (module, version) VALUES ($1, $2)",
                &[&m.module, &(m.version as i32)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

pub(crate) fn applied_pg(pg: &crate::Pg) -> Result<Vec<(String, u32)>, StoreError> {
    pg.block_on(|pool| async move {
        let client = pool.get().await?;
        let rows = client
            .query(
                "SELECT module, version FROM schema_migrations ORDER BY module, version",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1).max(0) as u32))
            .collect())
    })
}

fn check_not_newer(module: &str, current: u32, migrations: &[Migration]) -> Result<(), StoreError> {
    let known = migrations.len() as u32;
    if current > known {
        return Err(StoreError::Migration(format!(
            "module `{module}` is at schema version {current}, but this build of tenet knows only \
             versions up to {known}: the database was written by a newer tenet; upgrade tenet or \
             use another store"
        )));
    }
    Ok(())
}

/// One module, versions 1..=n in order: a list that is not is a bug in the
/// module, caught before anything is written.
fn check_sequence(migrations: &[Migration]) -> Result<(), StoreError> {
    let Some(first) = migrations.first() else {
        return Ok(());
    };
    for (i, m) in migrations.iter().enumerate() {
        if m.module != first.module || m.version != i as u32 + 1 {
            return Err(StoreError::Migration(format!(
                "migrations of `{}` must be versions 1..={} of that one module, in order; \
                 entry {} is `{}` version {}",
                first.module,
                migrations.len(),
                i + 1,
                m.module,
                m.version
            )));
        }
    }
    Ok(())
}

pub(crate) fn applied(conn: &Connection) -> Result<Vec<(String, u32)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT module, version FROM schema_migrations ORDER BY module, version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
