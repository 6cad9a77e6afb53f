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

use crate::action::{ActionRun, Bundle};
use crate::engine;
use crate::model::{ClusterRecord, Desired, Drift, Inventory};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1, MIGRATION_2];

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

/// Bundles, and action runs (one JSON record each, its version the
/// conditional update's guard).
const MIGRATION_2: Migration = Migration {
    module: crate::MODULE,
    version: 2,
    sqlite: "CREATE TABLE cp_bundles (name TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL, UNIQUE (name, version));
    CREATE TABLE cp_actions (id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL, record TEXT NOT NULL);
    CREATE INDEX cp_actions_state ON cp_actions (state);",
    postgres: "CREATE TABLE cp_bundles (name TEXT NOT NULL, version TEXT NOT NULL, seq BIGSERIAL PRIMARY KEY, record TEXT NOT NULL, UNIQUE (name, version));
    CREATE TABLE cp_actions (id TEXT PRIMARY KEY, version BIGINT NOT NULL, state TEXT NOT NULL, created_at BIGINT NOT NULL, record TEXT NOT NULL);
    CREATE INDEX cp_actions_state ON cp_actions (state);",
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

/// What registering a bundle did.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    New,
    /// The same bundle was registered already.
    Same,
    /// `name@version` is registered with another fingerprint: bundles are
    /// immutable.
    Conflict(String),
    /// A dependency is not registered.
    MissingDependency(String),
}

/// Registers `bundle` (its dependencies must be registered), with its
/// audit event when it is new; one transaction.
pub fn register_bundle(
    store: &mut Store,
    bundle: &Bundle,
    audit: AuditEvent,
) -> Result<Registered, StoreError> {
    let b = bundle.clone();
    let text = json(bundle)?;
    let mine = bundle.clone();
    let decide = move |existing: Option<String>| -> Result<Option<Registered>, StoreError> {
        Ok(match existing {
            None => None,
            Some(t) => {
                let old: Bundle = parse("bundle", &t)?;
                Some(
                    if old.fingerprint == mine.fingerprint && old.dependencies == mine.dependencies
                    {
                        Registered::Same
                    } else {
                        Registered::Conflict(old.fingerprint)
                    },
                )
            }
        })
    };
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for d in &b.dependencies {
                let found: Option<i64> = tx
                    .query_row(
                        "SELECT seq FROM cp_bundles WHERE name = ?1 AND version = ?2",
                        params![d.name, d.version],
                        |r| r.get(0),
                    )
                    .optional()?;
                if found.is_none() {
                    return Ok(Registered::MissingDependency(format!("{}@{}", d.name, d.version)));
                }
            }
            let existing: Option<String> = tx
                .query_row(
                    "SELECT record FROM cp_bundles WHERE name = ?1 AND version = ?2",
                    params![b.name, b.version],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(r) = decide(existing)? {
                return Ok(r);
            }
            tx.execute(
                "INSERT INTO cp_bundles (name, version, record) VALUES (?1, ?2, ?3)",
                params![b.name, b.version, text],
            )?;
            insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(Registered::New)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            for d in &b.dependencies {
                if tx
                    .query_opt(
                        "SELECT seq FROM cp_bundles WHERE name = $1 AND version = $2",
                        &[&d.name, &d.version],
                    )
                    .await?
                    .is_none()
                {
                    return Ok(Registered::MissingDependency(format!("{}@{}", d.name, d.version)));
                }
            }
            let inserted = tx
                .execute(
                    "INSERT INTO cp_bundles (name, version, record) VALUES ($1, $2, $3) ON CONFLICT (name, version) DO NOTHING",
                    &[&b.name, &b.version, &text],
                )
                .await?;
            if inserted == 0 {
                let existing: Option<String> = tx
                    .query_opt(
                        "SELECT record FROM cp_bundles WHERE name = $1 AND version = $2",
                        &[&b.name, &b.version],
                    )
                    .await?
                    .map(|r| r.get(0));
                return Ok(decide(existing)?.unwrap_or(Registered::Same));
            }
            pg_insert_with(&tx, &[audit]).await?;
            tx.commit().await?;
            Ok(Registered::New)
        }),
    }
}

/// Every registered bundle, oldest first.
pub fn bundles(store: &Store) -> Result<Vec<Bundle>, StoreError> {
    let rows: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut s = conn.prepare_cached("SELECT record FROM cp_bundles ORDER BY seq")?;
            let r = s.query_map([], |r| r.get(0))?;
            r.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let c = pool.get().await?;
            Ok(c.query("SELECT record FROM cp_bundles ORDER BY seq", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })?,
    };
    rows.iter().map(|t| parse("bundle", t)).collect()
}

/// Records a new action run with its audit events; one transaction.
pub fn create_action(
    store: &mut Store,
    run: &ActionRun,
    events: Vec<AuditEvent>,
) -> Result<(), StoreError> {
    let (id, state, created, text) = (
        run.id.clone(),
        run.state.as_str().to_string(),
        run.created_at,
        json(run)?,
    );
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO cp_actions (id, version, state, created_at, record) VALUES (?1, 1, ?2, ?3, ?4)",
                params![id, state, created, text],
            )?;
            for e in &events {
                insert_audit(&tx, e)?;
            }
            tx.commit()?;
            Ok(())
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO cp_actions (id, version, state, created_at, record) VALUES ($1, 1, $2, $3, $4)",
                &[&id, &state, &created, &text],
            )
            .await?;
            pg_insert_with(&tx, &events).await?;
            tx.commit().await?;
            Ok(())
        }),
    }
}

/// An action run and its version.
pub fn action(store: &Store, id: &str) -> Result<Option<(i64, ActionRun)>, StoreError> {
    let id = id.to_string();
    let row: Option<(i64, String)> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT version, record FROM cp_actions WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            Ok(c.query_opt(
                "SELECT version, record FROM cp_actions WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|r| (r.get(0), r.get(1))))
        })?,
    };
    row.map(|(v, t)| Ok((v, parse("action run", &t)?)))
        .transpose()
}

/// Action runs, newest first: those in `states` (all when empty), at most
/// `limit`.
pub fn actions(
    store: &Store,
    states: &[&str],
    limit: usize,
) -> Result<Vec<(i64, ActionRun)>, StoreError> {
    let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String)> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut s = conn.prepare_cached(
                "SELECT version, record, state FROM cp_actions ORDER BY created_at DESC, id DESC",
            )?;
            let r = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
            let mut out = Vec::new();
            for row in r {
                let (v, t, st) = row?;
                if states.is_empty() || states.contains(&st) {
                    out.push((v, t));
                    if out.len() as i64 >= limit {
                        break;
                    }
                }
            }
            out
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            Ok(c.query(
                "SELECT version, record FROM cp_actions WHERE (cardinality($1::text[]) = 0 OR state = ANY($1)) ORDER BY created_at DESC, id DESC LIMIT $2",
                &[&states, &limit],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?,
    };
    rows.into_iter()
        .map(|(v, t)| Ok((v, parse("action run", &t)?)))
        .collect()
}

/// Saves `run` if it is still at `version`, with its audit events, in one
/// transaction; the new version, or `None` when another writer moved it
/// first (nothing is written).
pub fn save_action(
    store: &mut Store,
    run: &ActionRun,
    version: i64,
    events: Vec<AuditEvent>,
) -> Result<Option<i64>, StoreError> {
    let (id, state, text) = (run.id.clone(), run.state.as_str().to_string(), json(run)?);
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE cp_actions SET version = version + 1, state = ?2, record = ?3 WHERE id = ?1 AND version = ?4",
                params![id, state, text, version],
            )?;
            if n == 0 {
                return Ok(None);
            }
            for e in &events {
                insert_audit(&tx, e)?;
            }
            tx.commit()?;
            Ok(Some(version + 1))
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let n = tx
                .execute(
                    "UPDATE cp_actions SET version = version + 1, state = $2, record = $3 WHERE id = $1 AND version = $4",
                    &[&id, &state, &text, &version],
                )
                .await?;
            if n == 0 {
                return Ok(None);
            }
            pg_insert_with(&tx, &events).await?;
            tx.commit().await?;
            Ok(Some(version + 1))
        }),
    }
}
