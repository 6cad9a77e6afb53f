//! The control-plane module's tables and queries in the shared store, on
//! SQLite and PostgreSQL.
//!
//! - `cp_clusters`: the registry, one JSON record per cluster (its last
//!   inventory in it);
//! - `cp_desired`: the fleet's desired states (one row);
//! - `cp_drift`: each cluster's drifts at the last check.
//!
//! [`check_drift`] is one transaction: it locks the desired-state row (so
//! two replicas checking at once take turns), computes every cluster's
//! drift, keeps it, and writes one `drift_detected` audit event per drift
//! the previous check did not have — a drift is announced once, however
//! many replicas check.

use crate::engine;
use crate::model::{ClusterRecord, Desired, Drift, Inventory};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1];

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE cp_clusters (id TEXT PRIMARY KEY, version INTEGER NOT NULL, record TEXT NOT NULL);
    CREATE TABLE cp_desired (id INTEGER PRIMARY KEY, record TEXT NOT NULL);
    INSERT INTO cp_desired (id, record) VALUES (1, '[]');
    CREATE TABLE cp_drift (cluster TEXT PRIMARY KEY, record TEXT NOT NULL);",
    postgres: "CREATE TABLE cp_clusters (id TEXT PRIMARY KEY, version BIGINT NOT NULL, record TEXT NOT NULL);
    CREATE TABLE cp_desired (id INTEGER PRIMARY KEY, record TEXT NOT NULL);
    INSERT INTO cp_desired (id, record) VALUES (1, '[]');
    CREATE TABLE cp_drift (cluster TEXT PRIMARY KEY, record TEXT NOT NULL);",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("a control-plane record: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, t: &str) -> Result<T, StoreError> {
    serde_json::from_str(t).map_err(|e| StoreError::Corrupt(format!("a control-plane {what}: {e}")))
}

/// Registers or updates a cluster (its last inventory is kept); `true`
/// when it is new. One transaction with its audit event.
pub fn register(
    store: &mut Store,
    rec: &ClusterRecord,
    audit: AuditEvent,
) -> Result<bool, StoreError> {
    let id = rec.id.clone();
    let mut rec = rec.clone();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old: Option<String> = tx
                .query_row("SELECT record FROM cp_clusters WHERE id = ?1", params![id], |r| r.get(0))
                .optional()?;
            if rec.inventory.is_none() {
                rec.inventory = old.as_deref().map(|t| parse::<ClusterRecord>("cluster", t)).transpose()?.and_then(|o| o.inventory);
            }
            tx.execute(
                "INSERT INTO cp_clusters (id, version, record) VALUES (?1, 1, ?2)
                 ON CONFLICT (id) DO UPDATE SET version = cp_clusters.version + 1, record = excluded.record",
                params![id, json(&rec)?],
            )?;
            insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(old.is_none())
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let old: Option<String> = tx
                .query_opt("SELECT record FROM cp_clusters WHERE id = $1 FOR UPDATE", &[&id])
                .await?
                .map(|r| r.get(0));
            if rec.inventory.is_none() {
                rec.inventory = old.as_deref().map(|t| parse::<ClusterRecord>("cluster", t)).transpose()?.and_then(|o| o.inventory);
            }
            tx.execute(
                "INSERT INTO cp_clusters (id, version, record) VALUES ($1, 1, $2)
                 ON CONFLICT (id) DO UPDATE SET version = cp_clusters.version + 1, record = excluded.record",
                &[&id, &json(&rec)?],
            )
            .await?;
            pg_insert_with(&tx, &[audit]).await?;
            tx.commit().await?;
            Ok(old.is_none())
        }),
    }
}

/// Records a cluster's observed inventory; `false` when it is not registered.
pub fn record_inventory(store: &mut Store, id: &str, inv: &Inventory) -> Result<bool, StoreError> {
    let id = id.to_string();
    // One statement that sets only the inventory in the stored record: a
    // registration at the same moment keeps its fields.
    let n = match store.backend_mut() {
        Backend::Sqlite(conn) => conn.execute(
            "UPDATE cp_clusters SET version = version + 1, record = json_set(record, '$.inventory', json(?2)) WHERE id = ?1",
            params![id, json(inv)?],
        )?,
        Backend::Postgres(pg) => {
            let inv_text = json(inv)?;
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                let n = client
                    .execute(
                        "UPDATE cp_clusters SET version = version + 1,
                         record = jsonb_set(record::jsonb, '{inventory}', $2::text::jsonb)::text WHERE id = $1",
                        &[&id, &inv_text],
                    )
                    .await?;
                Ok(n as usize)
            })?
        }
    };
    Ok(n > 0)
}

/// Every registered cluster, by id.
pub fn clusters(store: &Store) -> Result<Vec<ClusterRecord>, StoreError> {
    let rows: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut s = conn.prepare_cached("SELECT record FROM cp_clusters ORDER BY id")?;
            let r = s.query_map([], |r| r.get(0))?;
            r.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let c = pool.get().await?;
            Ok(c.query("SELECT record FROM cp_clusters ORDER BY id", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })?,
    };
    rows.iter().map(|t| parse("cluster", t)).collect()
}

/// One cluster.
pub fn cluster(store: &Store, id: &str) -> Result<Option<ClusterRecord>, StoreError> {
    let id = id.to_string();
    let row: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT record FROM cp_clusters WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?,
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            Ok(
                c.query_opt("SELECT record FROM cp_clusters WHERE id = $1", &[&id])
                    .await?
                    .map(|r| r.get(0)),
            )
        })?,
    };
    row.map(|t| parse("cluster", &t)).transpose()
}

/// Replaces the fleet's desired states.
pub fn set_desired(store: &mut Store, desired: &[Desired]) -> Result<(), StoreError> {
    let text = json(&desired)?;
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            conn.execute(
                "UPDATE cp_desired SET record = ?1 WHERE id = 1",
                params![text],
            )?;
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            c.execute("UPDATE cp_desired SET record = $1 WHERE id = 1", &[&text])
                .await?;
            Ok(())
        })?,
    }
    Ok(())
}

/// The fleet's desired states.
pub fn desired(store: &Store) -> Result<Vec<Desired>, StoreError> {
    let text: String = match store.backend() {
        Backend::Sqlite(conn) => {
            conn.query_row("SELECT record FROM cp_desired WHERE id = 1", [], |r| {
                r.get(0)
            })?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let c = pool.get().await?;
            Ok(
                c.query_one("SELECT record FROM cp_desired WHERE id = 1", &[])
                    .await?
                    .get(0),
            )
        })?,
    };
    parse("desired state", &text)
}

/// What one drift check found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Check {
    pub drift: BTreeMap<String, Vec<Drift>>,
    /// Drifts the previous check did not have.
    pub new: Vec<Drift>,
}

/// Checks the fleet's drift at `now` and keeps it, in one transaction
/// under the desired-state row's lock; `event` makes the audit event of
/// each new drift.
pub fn check_drift<F>(
    store: &mut Store,
    now: i64,
    max_age_ms: i64,
    event: F,
) -> Result<Check, StoreError>
where
    F: Fn(&Drift) -> AuditEvent + Send + 'static,
{
    let compute = move |desired: &str,
                        clusters: &[String],
                        before: &[String]|
          -> Result<(Check, Vec<(String, String)>), StoreError> {
        let desired: Vec<Desired> = parse("desired state", desired)?;
        let clusters: Vec<ClusterRecord> = clusters
            .iter()
            .map(|t| parse("cluster", t))
            .collect::<Result<_, _>>()?;
        let mut previous: Vec<Drift> = Vec::new();
        for t in before {
            previous.extend(parse::<Vec<Drift>>("drift", t)?);
        }
        let drift = engine::fleet_drift(&clusters, &desired, now, max_age_ms)
            .map_err(StoreError::Corrupt)?;
        let all: Vec<Drift> = drift.values().flatten().cloned().collect();
        let new = engine::new_drifts(&previous, &all);
        let rows = drift
            .iter()
            .map(|(c, d)| Ok((c.clone(), json(d)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((Check { drift, new }, rows))
    };
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let desired: String =
                tx.query_row("SELECT record FROM cp_desired WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
            let all = |sql: &str| -> Result<Vec<String>, rusqlite::Error> {
                let mut s = tx.prepare(sql)?;
                let r = s.query_map([], |r| r.get(0))?;
                r.collect()
            };
            let clusters = all("SELECT record FROM cp_clusters ORDER BY id")?;
            let before = all("SELECT record FROM cp_drift")?;
            let (check, rows) = compute(&desired, &clusters, &before)?;
            tx.execute("DELETE FROM cp_drift", [])?;
            for (c, r) in &rows {
                tx.execute(
                    "INSERT INTO cp_drift (cluster, record) VALUES (?1, ?2)",
                    params![c, r],
                )?;
            }
            for d in &check.new {
                insert_audit(&tx, &event(d))?;
            }
            tx.commit()?;
            Ok(check)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let desired: String = tx
                .query_one("SELECT record FROM cp_desired WHERE id = 1 FOR UPDATE", &[])
                .await?
                .get(0);
            let col = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
                rows.iter().map(|r| r.get(0)).collect()
            };
            let clusters = col(tx
                .query("SELECT record FROM cp_clusters ORDER BY id", &[])
                .await?);
            let before = col(tx.query("SELECT record FROM cp_drift", &[]).await?);
            let (check, rows) = compute(&desired, &clusters, &before)?;
            tx.execute("DELETE FROM cp_drift", &[]).await?;
            for (c, r) in &rows {
                tx.execute(
                    "INSERT INTO cp_drift (cluster, record) VALUES ($1, $2)",
                    &[c, r],
                )
                .await?;
            }
            let events: Vec<AuditEvent> = check.new.iter().map(&event).collect();
            pg_insert_with(&tx, &events).await?;
            tx.commit().await?;
            Ok(check)
        }),
    }
}
