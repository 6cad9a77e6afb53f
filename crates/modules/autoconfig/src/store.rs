//! The autoconfig module's tables and queries in the shared store, on
//! SQLite and PostgreSQL.
//!
//! - `autoconfig_tenants`: one row per tenant (its facts and labels, what
//!   was last applied), the row provisioning locks;
//! - `autoconfig_changes`: the change log, one entry per setting really
//!   changed, numbered in the order they were made.
//!
//! [`with_tenant`] runs one provisioning step for a tenant in **one
//! transaction**: it locks the tenant's row (made if missing), lets the
//! caller read the live configuration, decide and write it (the config
//! center's write is inside the lock, so two applies for one tenant —
//! from 50 requests or two replicas — never interleave), and records the
//! change-log entries and the audit events with the row.

use crate::model::TenantRecord;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1];

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE autoconfig_tenants (
        tenant     TEXT PRIMARY KEY,
        version    INTEGER NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE TABLE autoconfig_changes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant     TEXT NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE INDEX autoconfig_changes_by_tenant ON autoconfig_changes (tenant, id);",
    postgres: "CREATE TABLE autoconfig_tenants (
        tenant     TEXT PRIMARY KEY,
        version    BIGINT NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE TABLE autoconfig_changes (
        id         BIGSERIAL PRIMARY KEY,
        tenant     TEXT NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE INDEX autoconfig_changes_by_tenant ON autoconfig_changes (tenant, id);",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// One change-log entry: a setting really changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// Its number in the log (given by the store).
    #[serde(default)]
    pub id: i64,
    pub tenant: String,
    pub baseline: String,
    /// The baseline's pack version.
    pub pack_version: String,
    #[serde(with = "crate::model::rfc3339")]
    pub at: i64,
    pub setting: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
    pub risk: String,
    pub actor: String,
    pub action_id: String,
    /// The config center's version after the write.
    pub config_version: String,
}

/// What a provisioning step asks [`with_tenant`] to write.
pub struct Step<R> {
    pub changes: Vec<ChangeEntry>,
    pub audit: Vec<AuditEvent>,
    /// Whether the tenant's record changed.
    pub write: bool,
    pub out: R,
}

/// Why a step was not made.
#[derive(Debug)]
pub enum StepError {
    /// The caller refused it: nothing was written (by this transaction).
    Refused(String),
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
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("an autoconfig record: {e}")))
}

fn record_from(text: &str) -> Result<TenantRecord, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("an autoconfig tenant: {e}")))
}

/// Runs one provisioning step for `tenant`, as described at the top of
/// this file.
pub fn with_tenant<R, F>(store: &mut Store, tenant: &str, f: F) -> Result<R, StepError>
where
    F: FnOnce(&mut TenantRecord) -> Result<Step<R>, String> + Send + 'static,
    R: Send + 'static,
{
    let tenant = tenant.to_string();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<String> = tx
                .prepare_cached("SELECT record FROM autoconfig_tenants WHERE tenant = ?1")?
                .query_row(params![tenant], |r| r.get(0))
                .optional()?;
            let mut record = match row {
                Some(t) => record_from(&t)?,
                None => TenantRecord {
                    tenant: tenant.clone(),
                    ..Default::default()
                },
            };
            let step = f(&mut record).map_err(StepError::Refused)?;
            for c in &step.changes {
                tx.prepare_cached("INSERT INTO autoconfig_changes (tenant, record) VALUES (?1, ?2)")?
                    .execute(params![tenant, json(c)?])?;
            }
            if step.write || !step.changes.is_empty() {
                tx.prepare_cached(
                    "INSERT INTO autoconfig_tenants (tenant, version, record) VALUES (?1, 1, ?2)
                     ON CONFLICT (tenant) DO UPDATE
                     SET version = autoconfig_tenants.version + 1, record = excluded.record",
                )?
                .execute(params![tenant, json(&record)?])?;
            }
            for a in &step.audit {
                insert_audit(&tx, a)?;
            }
            tx.commit()?;
            Ok(step.out)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let empty = json(&TenantRecord {
                tenant: tenant.clone(),
                ..Default::default()
            })?;
            tx.execute(
                "INSERT INTO autoconfig_tenants (tenant, version, record) VALUES ($1, 0, $2)
                 ON CONFLICT DO NOTHING",
                &[&tenant, &empty],
            )
            .await?;
            let text: String = tx
                .query_one(
                    "SELECT record FROM autoconfig_tenants WHERE tenant = $1 FOR UPDATE",
                    &[&tenant],
                )
                .await?
                .get(0);
            let mut record = record_from(&text)?;
            let step = match f(&mut record) {
                Ok(s) => s,
                // Dropping the transaction rolls it back.
                Err(why) => return Ok(Err(StepError::Refused(why))),
            };
            let records: Vec<String> = step.changes.iter().map(json).collect::<Result<_, _>>()?;
            tx.execute(
                "INSERT INTO autoconfig_changes (tenant, record) SELECT $1, r FROM unnest($2::text[]) WITH ORDINALITY AS u(r, n) ORDER BY n",
                &[&tenant, &records],
            )
            .await?;
            if step.write || !step.changes.is_empty() {
                tx.execute(
                    "UPDATE autoconfig_tenants SET version = version + 1, record = $2 WHERE tenant = $1",
                    &[&tenant, &json(&record)?],
                )
                .await?;
            }
            pg_insert_with(&tx, &step.audit).await?;
            tx.commit().await?;
            Ok(Ok(step.out))
        })?,
    }
}

/// A tenant's change log, newest first, at most `limit`.
pub fn changes(store: &Store, tenant: &str, limit: usize) -> Result<Vec<ChangeEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String)> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT id, record FROM autoconfig_changes WHERE tenant = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![tenant, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => {
            let tenant = tenant.to_string();
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query(
                        "SELECT id, record FROM autoconfig_changes WHERE tenant = $1 ORDER BY id DESC LIMIT $2",
                        &[&tenant, &limit],
                    )
                    .await?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect())
            })?
        }
    };
    rows.into_iter()
        .map(|(id, text)| {
            let mut c: ChangeEntry = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("an autoconfig change: {e}")))?;
            c.id = id;
            Ok(c)
        })
        .collect()
}

/// A tenant's record (`None`: never provisioned).
pub fn record(store: &Store, tenant: &str) -> Result<Option<TenantRecord>, StoreError> {
    let text: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached(
                "SELECT record FROM autoconfig_tenants WHERE tenant = ?1 AND version > 0",
            )?
            .query_row(params![tenant], |r| r.get(0))
            .optional()?,
        Backend::Postgres(pg) => {
            let tenant = tenant.to_string();
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query_opt(
                        "SELECT record FROM autoconfig_tenants WHERE tenant = $1 AND version > 0",
                        &[&tenant],
                    )
                    .await?
                    .map(|r| r.get(0)))
            })?
        }
    };
    text.map(|t| record_from(&t)).transpose()
}
