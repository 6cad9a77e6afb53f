//! The dark-inventory module's tables and queries in the shared store, on
//! SQLite and PostgreSQL.
//!
//! - `dark_tenants`: one row per tenant, the row every change locks;
//! - `dark_findings`: the findings as they are now (one JSON record each);
//! - `dark_history`: every version of every finding, with the time it took
//!   effect: `?at=` and the trends read it;
//! - `dark_sources`: what each discovery source has done; `dark_runs`: the
//!   run log (one row per ingested run, with its report);
//! - `dark_catalog`: the registered resources; `dark_catalog_facts`:
//!   catalog-wide facts (`catalog.*` in the rules).
//!
//! [`with_inventory`] runs one change for a tenant in **one transaction**:
//! it locks the tenant's row, loads its findings, sources and catalog,
//! lets the caller change them (the engine, in memory), and writes what
//! changed — findings, their history, sources, catalog, the run — with the
//! audit events. Two replicas ingesting for one tenant queue on the lock;
//! a dry run rolls back.

use crate::engine::Inventory;
use crate::model::{CatalogEntry, Finding, SourceState};
use rusqlite::{params, TransactionBehavior};
use serde::Serialize;
use std::collections::BTreeSet;
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1];

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE dark_tenants (
        tenant  TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    );
    CREATE TABLE dark_findings (
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        version INTEGER NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE dark_history (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        at      INTEGER NOT NULL,
        record  TEXT NOT NULL
    );
    CREATE INDEX dark_history_by_time ON dark_history (tenant, at, id);
    CREATE TABLE dark_sources (
        tenant  TEXT NOT NULL,
        source  TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, source)
    );
    CREATE TABLE dark_runs (
        tenant  TEXT NOT NULL,
        source  TEXT NOT NULL,
        run     TEXT NOT NULL,
        at      INTEGER NOT NULL,
        report  TEXT NOT NULL,
        PRIMARY KEY (tenant, source, run)
    );
    CREATE TABLE dark_catalog (
        tenant  TEXT NOT NULL,
        catalog TEXT NOT NULL,
        id      TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, catalog, id)
    );
    CREATE TABLE dark_catalog_facts (
        tenant  TEXT PRIMARY KEY,
        record  TEXT NOT NULL
    );",
    postgres: "CREATE TABLE dark_tenants (
        tenant  TEXT PRIMARY KEY,
        version BIGINT NOT NULL
    );
    CREATE TABLE dark_findings (
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        version BIGINT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE TABLE dark_history (
        seq     BIGSERIAL PRIMARY KEY,
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        at      BIGINT NOT NULL,
        record  TEXT NOT NULL
    );
    CREATE INDEX dark_history_by_time ON dark_history (tenant, at, id);
    CREATE TABLE dark_sources (
        tenant  TEXT NOT NULL,
        source  TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, source)
    );
    CREATE TABLE dark_runs (
        tenant  TEXT NOT NULL,
        source  TEXT NOT NULL,
        run     TEXT NOT NULL,
        at      BIGINT NOT NULL,
        report  TEXT NOT NULL,
        PRIMARY KEY (tenant, source, run)
    );
    CREATE TABLE dark_catalog (
        tenant  TEXT NOT NULL,
        catalog TEXT NOT NULL,
        id      TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, catalog, id)
    );
    CREATE TABLE dark_catalog_facts (
        tenant  TEXT PRIMARY KEY,
        record  TEXT NOT NULL
    );",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// What a tenant has, loaded under its lock.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub inventory: Inventory,
    pub catalog: Vec<CatalogEntry>,
    /// Catalog-wide facts (`{}` when none were given).
    pub facts: serde_json::Value,
}

/// What a change asks [`with_inventory`] to write.
#[derive(Debug, Default)]
pub struct Step<R> {
    /// Findings to write (with a history row each).
    pub findings: BTreeSet<String>,
    /// Sources to write.
    pub sources: Vec<String>,
    pub catalog: Vec<CatalogEntry>,
    pub facts: Option<serde_json::Value>,
    /// The run to log: (source, run, at, its report).
    pub run: Option<(String, String, i64, serde_json::Value)>,
    /// When the change takes effect (the history's time).
    pub at: i64,
    pub audit: Vec<AuditEvent>,
    /// `false`: a dry run; everything is rolled back.
    pub commit: bool,
    pub out: R,
}

/// Why a change was not made.
#[derive(Debug)]
pub enum StepError {
    /// The caller refused it: nothing was written.
    Refused(crate::engine::Refusal),
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

impl From<rusqlite::Error> for StepError {
    fn from(e: rusqlite::Error) -> Self {
        StepError::Store(e.into())
    }
}

fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("a dark-inventory record: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("a dark-inventory {what}: {e}")))
}

struct Rows {
    findings: Vec<String>,
    sources: Vec<String>,
    catalog: Vec<String>,
    facts: Option<String>,
}

fn loaded(tenant: &str, rows: Rows) -> Result<Loaded, StoreError> {
    let findings: Vec<Finding> = rows
        .findings
        .iter()
        .map(|t| parse("finding", t))
        .collect::<Result<_, _>>()?;
    let sources: Vec<SourceState> = rows
        .sources
        .iter()
        .map(|t| parse("source", t))
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        inventory: Inventory::from_parts(tenant, findings, sources),
        catalog: rows
            .catalog
            .iter()
            .map(|t| parse("catalog entry", t))
            .collect::<Result<_, _>>()?,
        facts: match rows.facts {
            Some(t) => parse("catalog facts", &t)?,
            None => serde_json::json!({}),
        },
    })
}

/// The rows a step writes, as text.
struct Writes {
    findings: Vec<(String, i64, String)>,
    sources: Vec<(String, String)>,
    catalog: Vec<(String, String, String)>,
    facts: Option<String>,
    run: Option<(String, String, i64, String)>,
}

fn writes<R>(loaded: &Loaded, step: &Step<R>) -> Result<Writes, StoreError> {
    let inv = &loaded.inventory;
    Ok(Writes {
        findings: step
            .findings
            .iter()
            .filter_map(|id| inv.findings.get(id))
            .map(|f| {
                Ok((
                    f.id.clone(),
                    i64::try_from(f.version).unwrap_or(i64::MAX),
                    json(f)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?,
        sources: step
            .sources
            .iter()
            .filter_map(|s| inv.sources.get(s))
            .map(|s| Ok((s.source.clone(), json(s)?)))
            .collect::<Result<_, StoreError>>()?,
        catalog: step
            .catalog
            .iter()
            .map(|e| Ok((e.catalog.clone(), e.id.clone(), json(e)?)))
            .collect::<Result<_, StoreError>>()?,
        facts: step.facts.as_ref().map(json).transpose()?,
        run: step
            .run
            .as_ref()
            .map(|(s, r, at, rep)| Ok::<_, StoreError>((s.clone(), r.clone(), *at, json(rep)?)))
            .transpose()?,
    })
}

/// Runs one change for `tenant`, as described at the top of this file.
pub fn with_inventory<R, F>(store: &mut Store, tenant: &str, f: F) -> Result<R, StepError>
where
    F: FnOnce(&mut Loaded) -> Result<Step<R>, crate::engine::Refusal> + Send + 'static,
    R: Send + 'static,
{
    let tenant = tenant.to_string();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO dark_tenants (tenant, version) VALUES (?1, 0) ON CONFLICT DO NOTHING",
                params![tenant],
            )?;
            let all = |sql: &str| -> Result<Vec<String>, rusqlite::Error> {
                let mut stmt = tx.prepare_cached(sql)?;
                let rows = stmt.query_map(params![tenant], |r| r.get(0))?;
                rows.collect()
            };
            let rows = Rows {
                findings: all("SELECT record FROM dark_findings WHERE tenant = ?1 ORDER BY id")?,
                sources: all("SELECT record FROM dark_sources WHERE tenant = ?1 ORDER BY source")?,
                catalog: all("SELECT record FROM dark_catalog WHERE tenant = ?1 ORDER BY catalog, id")?,
                facts: all("SELECT record FROM dark_catalog_facts WHERE tenant = ?1")?.pop(),
            };
            let mut l = loaded(&tenant, rows)?;
            let step = f(&mut l).map_err(StepError::Refused)?;
            if !step.commit {
                return Ok(step.out);
            }
            let w = writes(&l, &step)?;
            {
                let mut up = tx.prepare_cached(
                    "INSERT INTO dark_findings (tenant, id, version, record) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, id) DO UPDATE SET version = excluded.version, record = excluded.record",
                )?;
                let mut hist = tx.prepare_cached(
                    "INSERT INTO dark_history (tenant, id, at, record) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (id, version, rec) in &w.findings {
                    up.execute(params![tenant, id, version, rec])?;
                    hist.execute(params![tenant, id, step.at, rec])?;
                }
                for (s, rec) in &w.sources {
                    tx.prepare_cached(
                        "INSERT INTO dark_sources (tenant, source, record) VALUES (?1, ?2, ?3)
                         ON CONFLICT (tenant, source) DO UPDATE SET record = excluded.record",
                    )?
                    .execute(params![tenant, s, rec])?;
                }
                let mut cat = tx.prepare_cached(
                    "INSERT INTO dark_catalog (tenant, catalog, id, record) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, catalog, id) DO UPDATE SET record = excluded.record",
                )?;
                for (c, id, rec) in &w.catalog {
                    cat.execute(params![tenant, c, id, rec])?;
                }
            }
            if let Some(facts) = &w.facts {
                tx.execute(
                    "INSERT INTO dark_catalog_facts (tenant, record) VALUES (?1, ?2)
                     ON CONFLICT (tenant) DO UPDATE SET record = excluded.record",
                    params![tenant, facts],
                )?;
            }
            if let Some((s, r, at, rep)) = &w.run {
                tx.execute(
                    "INSERT INTO dark_runs (tenant, source, run, at, report) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![tenant, s, r, at, rep],
                )?;
            }
            tx.execute(
                "UPDATE dark_tenants SET version = version + 1 WHERE tenant = ?1",
                params![tenant],
            )?;
            for a in &step.audit {
                insert_audit(&tx, a)?;
            }
            tx.commit()?;
            Ok(step.out)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO dark_tenants (tenant, version) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                &[&tenant],
            )
            .await?;
            tx.query_one(
                "SELECT version FROM dark_tenants WHERE tenant = $1 FOR UPDATE",
                &[&tenant],
            )
            .await?;
            let col = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
                rows.iter().map(|r| r.get(0)).collect()
            };
            let rows = Rows {
                findings: col(
                    tx.query("SELECT record FROM dark_findings WHERE tenant = $1 ORDER BY id", &[&tenant])
                        .await?,
                ),
                sources: col(
                    tx.query("SELECT record FROM dark_sources WHERE tenant = $1 ORDER BY source", &[&tenant])
                        .await?,
                ),
                catalog: col(
                    tx.query(
                        "SELECT record FROM dark_catalog WHERE tenant = $1 ORDER BY catalog, id",
                        &[&tenant],
                    )
                    .await?,
                ),
                facts: col(
                    tx.query("SELECT record FROM dark_catalog_facts WHERE tenant = $1", &[&tenant])
                        .await?,
                )
                .pop(),
            };
            let mut l = loaded(&tenant, rows)?;
            let step = match f(&mut l) {
                Ok(s) => s,
                // Dropping the transaction rolls it back.
                Err(why) => return Ok(Err(StepError::Refused(why))),
            };
            if !step.commit {
                return Ok(Ok(step.out));
            }
            let w = writes(&l, &step)?;
            let ids: Vec<String> = w.findings.iter().map(|x| x.0.clone()).collect();
            let versions: Vec<i64> = w.findings.iter().map(|x| x.1).collect();
            let recs: Vec<String> = w.findings.iter().map(|x| x.2.clone()).collect();
            tx.execute(
                "INSERT INTO dark_findings (tenant, id, version, record)
                 SELECT $1, i, v, r FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(i, v, r)
                 ON CONFLICT (tenant, id) DO UPDATE SET version = excluded.version, record = excluded.record",
                &[&tenant, &ids, &versions, &recs],
            )
            .await?;
            tx.execute(
                "INSERT INTO dark_history (tenant, id, at, record)
                 SELECT $1, i, $2, r FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(i, r, n) ORDER BY n",
                &[&tenant, &step.at, &ids, &recs],
            )
            .await?;
            for (s, rec) in &w.sources {
                tx.execute(
                    "INSERT INTO dark_sources (tenant, source, record) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant, source) DO UPDATE SET record = excluded.record",
                    &[&tenant, s, rec],
                )
                .await?;
            }
            let cats: Vec<String> = w.catalog.iter().map(|x| x.0.clone()).collect();
            let cids: Vec<String> = w.catalog.iter().map(|x| x.1.clone()).collect();
            let crecs: Vec<String> = w.catalog.iter().map(|x| x.2.clone()).collect();
            tx.execute(
                "INSERT INTO dark_catalog (tenant, catalog, id, record)
                 SELECT $1, c, i, r FROM unnest($2::text[], $3::text[], $4::text[]) AS u(c, i, r)
                 ON CONFLICT (tenant, catalog, id) DO UPDATE SET record = excluded.record",
                &[&tenant, &cats, &cids, &crecs],
            )
            .await?;
            if let Some(facts) = &w.facts {
                tx.execute(
                    "INSERT INTO dark_catalog_facts (tenant, record) VALUES ($1, $2)
                     ON CONFLICT (tenant) DO UPDATE SET record = excluded.record",
                    &[&tenant, facts],
                )
                .await?;
            }
            if let Some((s, r, at, rep)) = &w.run {
                tx.execute(
                    "INSERT INTO dark_runs (tenant, source, run, at, report) VALUES ($1, $2, $3, $4, $5)",
                    &[&tenant, s, r, at, rep],
                )
                .await?;
            }
            tx.execute(
                "UPDATE dark_tenants SET version = version + 1 WHERE tenant = $1",
                &[&tenant],
            )
            .await?;
            pg_insert_with(&tx, &step.audit).await?;
            tx.commit().await?;
            Ok(Ok(step.out))
        })?,
    }
}

/// A tenant's findings now, by id.
pub fn findings(store: &Store, tenant: &str) -> Result<Vec<Finding>, StoreError> {
    texts(
        store,
        "SELECT record FROM dark_findings WHERE tenant = ?1 ORDER BY id",
        "SELECT record FROM dark_findings WHERE tenant = $1 ORDER BY id",
        tenant,
        None,
    )?
    .iter()
    .map(|t| parse("finding", t))
    .collect()
}

/// A tenant's findings as they were recorded at `at` (ms): each finding's
/// latest version that took effect then or before.
pub fn findings_at(store: &Store, tenant: &str, at: i64) -> Result<Vec<Finding>, StoreError> {
    texts(
        store,
        "SELECT h.record FROM dark_history h
         JOIN (SELECT id, MAX(seq) AS seq FROM dark_history WHERE tenant = ?1 AND at <= ?2 GROUP BY id) m
         ON h.seq = m.seq ORDER BY h.id",
        "SELECT h.record FROM dark_history h
         JOIN (SELECT id, MAX(seq) AS seq FROM dark_history WHERE tenant = $1 AND at <= $2 GROUP BY id) m
         ON h.seq = m.seq ORDER BY h.id",
        tenant,
        Some(at),
    )?
    .iter()
    .map(|t| parse("finding", t))
    .collect()
}

/// A tenant's sources.
pub fn sources(store: &Store, tenant: &str) -> Result<Vec<SourceState>, StoreError> {
    texts(
        store,
        "SELECT record FROM dark_sources WHERE tenant = ?1 ORDER BY source",
        "SELECT record FROM dark_sources WHERE tenant = $1 ORDER BY source",
        tenant,
        None,
    )?
    .iter()
    .map(|t| parse("source", t))
    .collect()
}

/// A tenant's catalog.
pub fn catalog(store: &Store, tenant: &str) -> Result<Vec<CatalogEntry>, StoreError> {
    texts(
        store,
        "SELECT record FROM dark_catalog WHERE tenant = ?1 ORDER BY catalog, id",
        "SELECT record FROM dark_catalog WHERE tenant = $1 ORDER BY catalog, id",
        tenant,
        None,
    )?
    .iter()
    .map(|t| parse("catalog entry", t))
    .collect()
}

/// The number of runs logged for a tenant (tests, metrics).
pub fn run_count(store: &Store, tenant: &str) -> Result<usize, StoreError> {
    Ok(texts(
        store,
        "SELECT run FROM dark_runs WHERE tenant = ?1",
        "SELECT run FROM dark_runs WHERE tenant = $1",
        tenant,
        None,
    )?
    .len())
}

fn texts(
    store: &Store,
    sqlite: &str,
    postgres: &str,
    tenant: &str,
    at: Option<i64>,
) -> Result<Vec<String>, StoreError> {
    match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(sqlite)?;
            let rows: Result<Vec<String>, _> = match at {
                Some(at) => stmt.query_map(params![tenant, at], |r| r.get(0))?.collect(),
                None => stmt.query_map(params![tenant], |r| r.get(0))?.collect(),
            };
            Ok(rows?)
        }
        Backend::Postgres(pg) => {
            let (tenant, sql) = (tenant.to_string(), postgres.to_string());
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                let rows = match at {
                    Some(at) => client.query(&sql, &[&tenant, &at]).await?,
                    None => client.query(&sql, &[&tenant]).await?,
                };
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
        }
    }
}
