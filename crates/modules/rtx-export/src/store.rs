//! The rtx-export module's tables and queries in the shared store, on
//! SQLite and PostgreSQL.
//!
//! - `rtx_evidence`: posted evidence, one JSON record each, by subject and time;
//! - `rtx_exports`: the exports (state, version and the JSON record);
//! - `rtx_artifacts`: each ready export's bundle bytes and envelope — a
//!   derived artifact, deleted when the export is revoked unless a legal
//!   hold keeps it (then deleted when the hold is released);
//! - `rtx_access`: the access log, one row per read, listing, download or
//!   revoke.
//!
//! Every change of an export is one transaction with its audit event
//! ([`change`]): the export's row is locked (`FOR UPDATE` on PostgreSQL; an
//! immediate transaction on SQLite), the model's state machine decides,
//! and the row is written back only if its version is still the one read.
//! Every read of an export writes its access-log row in the same
//! transaction, so no read goes unlogged.

use crate::engine::audit_event;
use crate::model::{
    AccessAction, AccessLogEntry, Evidence, Export, ExportState, IllegalTransition, LegalHold,
    Window,
};
use crate::sign::Envelope;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use tenet_runtime::clock::Timestamp;
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1];

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE rtx_evidence (
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      INTEGER NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX rtx_evidence_by_subject ON rtx_evidence (tenant, subject, at, id);
    CREATE TABLE rtx_exports (
        tenant     TEXT NOT NULL,
        id         TEXT NOT NULL,
        subject    TEXT NOT NULL,
        state      TEXT NOT NULL,
        version    INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        record     TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX rtx_exports_by_subject ON rtx_exports (tenant, subject, created_at);
    CREATE TABLE rtx_artifacts (
        tenant    TEXT NOT NULL,
        export_id TEXT NOT NULL,
        bundle    BLOB NOT NULL,
        envelope  TEXT NOT NULL,
        PRIMARY KEY (tenant, export_id)
    );
    CREATE TABLE rtx_access (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant    TEXT NOT NULL,
        export_id TEXT NOT NULL,
        subject   TEXT NOT NULL,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        purpose   TEXT
    );
    CREATE INDEX rtx_access_by_subject ON rtx_access (tenant, subject, at, seq);",
    postgres: "CREATE TABLE rtx_evidence (
        tenant  TEXT NOT NULL,
        id      TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      BIGINT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX rtx_evidence_by_subject ON rtx_evidence (tenant, subject, at, id);
    CREATE TABLE rtx_exports (
        tenant     TEXT NOT NULL,
        id         TEXT NOT NULL,
        subject    TEXT NOT NULL,
        state      TEXT NOT NULL,
        version    BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        record     TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX rtx_exports_by_subject ON rtx_exports (tenant, subject, created_at);
    CREATE TABLE rtx_artifacts (
        tenant    TEXT NOT NULL,
        export_id TEXT NOT NULL,
        bundle    BYTEA NOT NULL,
        envelope  TEXT NOT NULL,
        PRIMARY KEY (tenant, export_id)
    );
    CREATE TABLE rtx_access (
        seq       BIGSERIAL PRIMARY KEY,
        tenant    TEXT NOT NULL,
        export_id TEXT NOT NULL,
        subject   TEXT NOT NULL,
        at        BIGINT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        purpose   TEXT
    );
    CREATE INDEX rtx_access_by_subject ON rtx_access (tenant, subject, at, seq);",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// Why a change to an export was not made. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no export `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("export `{id}` {problem}")]
    Refused { id: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ChangeError {
    fn from(e: rusqlite::Error) -> Self {
        ChangeError::Store(e.into())
    }
}

impl From<tokio_postgres::Error> for ChangeError {
    fn from(e: tokio_postgres::Error) -> Self {
        ChangeError::Store(e.into())
    }
}

/// Who reads an export, how and why (logged with the read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub actor: String,
    pub action: AccessAction,
    pub purpose: Option<String>,
}

/// What a change does to the artifact.
enum ArtifactOp {
    Keep,
    Put(Vec<u8>, String),
    Delete,
}

/// What a change wants written besides the export.
struct Plan {
    artifact: ArtifactOp,
    audit: Vec<AuditEvent>,
    access: Option<Access>,
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("an rtx-export record: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("an rtx-export {what}: {e}")))
}

fn version_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Appends evidence (its id is its content's: posting it again changes
/// nothing). Returns whether it was new; new evidence is audited.
pub fn add_evidence(
    store: &mut Store,
    tenant: &str,
    evidence: &Evidence,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let record = json(evidence)?;
    let event = AuditEvent {
        id: 0,
        action_id: format!("{}:{tenant}:evidence:{}", crate::MODULE, evidence.id),
        at: Timestamp::from_millis(now).rfc3339(),
        source: crate::MODULE.into(),
        subject: evidence.id.clone(),
        actor: actor.into(),
        scope: format!("rtx-export/{}", evidence.subject),
        outcome: "evidence_added".into(),
        reason: None,
        latency_ms: 0,
        details: serde_json::json!({"source_id": evidence.source_id, "model": evidence.model}),
        tenant: Some(tenant.into()),
        bundle: None,
    };
    let (tenant, id, subject, at) = (
        tenant.to_string(),
        evidence.id.clone(),
        evidence.subject.clone(),
        evidence.at,
    );
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "INSERT INTO rtx_evidence (tenant, id, subject, at, record) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, id) DO NOTHING",
                params![tenant, id, subject, at, record],
            )?;
            if n == 1 {
                insert_audit(&tx, &event)?;
            }
            tx.commit()?;
            Ok(n == 1)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let n = tx
                .execute(
                    "INSERT INTO rtx_evidence (tenant, id, subject, at, record) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant, id) DO NOTHING",
                    &[&tenant, &id, &subject, &at, &record],
                )
                .await?;
            if n == 1 {
                pg_insert_with(&tx, &[event]).await?;
            }
            tx.commit().await?;
            Ok(n == 1)
        }),
    }
}

/// One page of a subject's evidence in `window`, by (`at`, `id`), after
/// `after` (the last of the previous page).
pub fn evidence_page(
    store: &Store,
    tenant: &str,
    subject: &str,
    window: Window,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<Evidence>, StoreError> {
    let (after_at, after_id) = after.unwrap_or((i64::MIN, String::new()));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT record FROM rtx_evidence WHERE tenant = ?1 AND subject = ?2
                 AND at >= ?3 AND at < ?4 AND (at > ?5 OR (at = ?5 AND id > ?6))
                 ORDER BY at, id LIMIT ?7",
            )?;
            let rows = stmt.query_map(
                params![
                    tenant,
                    subject,
                    window.from,
                    window.to,
                    after_at,
                    after_id,
                    limit
                ],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => {
            let (tenant, subject) = (tenant.to_string(), subject.to_string());
            pg.block_on(move |pool| async move {
                let rows = pool
                    .get()
                    .await?
                    .query(
                        "SELECT record FROM rtx_evidence WHERE tenant = $1 AND subject = $2
                         AND at >= $3 AND at < $4 AND (at > $5 OR (at = $5 AND id > $6))
                         ORDER BY at, id LIMIT $7",
                        &[
                            &tenant,
                            &subject,
                            &window.from,
                            &window.to,
                            &after_at,
                            &after_id,
                            &limit,
                        ],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })?
        }
    };
    texts.iter().map(|t| parse("evidence", t)).collect()
}

/// A subject's evidence in `window`, by (`at`, `id`), read a page at a
/// time (memory bounded by the page). Stops at the first error.
pub fn evidence_for<'s>(
    store: &'s Store,
    tenant: &'s str,
    subject: &'s str,
    window: Window,
) -> impl Iterator<Item = Result<Evidence, StoreError>> + 's {
    const PAGE: usize = 500;
    let mut buf: std::collections::VecDeque<Evidence> = Default::default();
    let mut after: Option<(i64, String)> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if buf.is_empty() && !done {
            match evidence_page(store, tenant, subject, window, after.clone(), PAGE) {
                Ok(page) => {
                    done = page.len() < PAGE;
                    buf.extend(page);
                }
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
            }
        }
        let ev = buf.pop_front()?;
        after = Some((ev.at, ev.id.clone()));
        Some(Ok(ev))
    })
}

/// Records a new export (pending) with its audit event. An id already
/// used for the tenant is a conflict.
pub fn create_export(store: &mut Store, export: &Export) -> Result<(), StoreError> {
    let record = json(export)?;
    let event = audit_event(
        export,
        "created",
        &export.created_by,
        None,
        export.created_at,
    );
    let e = export.clone();
    let version = version_i64(e.version);
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO rtx_exports (tenant, id, subject, state, version, created_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    e.tenant,
                    e.id,
                    e.request.subject,
                    e.state.as_str(),
                    version,
                    e.created_at,
                    record
                ],
            )?;
            insert_audit(&tx, &event)?;
            tx.commit()?;
            Ok(())
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO rtx_exports (tenant, id, subject, state, version, created_at, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &e.tenant,
                    &e.id,
                    &e.request.subject,
                    &e.state.as_str(),
                    &version,
                    &e.created_at,
                    &record,
                ],
            )
            .await?;
            pg_insert_with(&tx, &[event]).await?;
            tx.commit().await?;
            Ok(())
        }),
    }
}

/// Runs one change of export `id` as described at the top of this file.
fn change<F>(
    store: &mut Store,
    tenant: &str,
    id: &str,
    now: i64,
    f: F,
) -> Result<Export, ChangeError>
where
    F: FnOnce(&mut Export) -> Result<Plan, ChangeError> + Send + 'static,
{
    let (tenant, id) = (tenant.to_string(), id.to_string());
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let text: Option<String> = tx
                .query_row(
                    "SELECT record FROM rtx_exports WHERE tenant = ?1 AND id = ?2",
                    params![tenant, id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(text) = text else {
                return Err(ChangeError::NotFound(id));
            };
            let mut export: Export = parse("export", &text)?;
            let read_version = version_i64(export.version);
            let plan = f(&mut export)?;
            let n = tx.execute(
                "UPDATE rtx_exports SET state = ?1, version = ?2, record = ?3
                 WHERE tenant = ?4 AND id = ?5 AND version = ?6",
                params![
                    export.state.as_str(),
                    version_i64(export.version),
                    json(&export)?,
                    tenant,
                    id,
                    read_version
                ],
            )?;
            if n != 1 {
                return Err(StoreError::Conflict(format!("export `{id}` changed meanwhile")).into());
            }
            match &plan.artifact {
                ArtifactOp::Keep => {}
                ArtifactOp::Put(bytes, env) => {
                    tx.execute(
                        "INSERT INTO rtx_artifacts (tenant, export_id, bundle, envelope) VALUES (?1, ?2, ?3, ?4)",
                        params![tenant, id, bytes, env],
                    )?;
                }
                ArtifactOp::Delete => {
                    tx.execute(
                        "DELETE FROM rtx_artifacts WHERE tenant = ?1 AND export_id = ?2",
                        params![tenant, id],
                    )?;
                }
            }
            if let Some(a) = &plan.access {
                tx.execute(
                    "INSERT INTO rtx_access (tenant, export_id, subject, at, actor, action, purpose)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![tenant, id, export.request.subject, now, a.actor, a.action.as_str(), a.purpose],
                )?;
            }
            for e in &plan.audit {
                insert_audit(&tx, e)?;
            }
            tx.commit()?;
            Ok(export)
        }
        Backend::Postgres(pg) => pg
            .block_on(move |pool| async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let Some(row) = tx
                    .query_opt(
                        "SELECT record FROM rtx_exports WHERE tenant = $1 AND id = $2 FOR UPDATE",
                        &[&tenant, &id],
                    )
                    .await?
                else {
                    return Ok(Err(ChangeError::NotFound(id)));
                };
                let mut export: Export = parse("export", &row.get::<_, String>(0))?;
                let read_version = version_i64(export.version);
                let plan = match f(&mut export) {
                    Ok(p) => p,
                    // Dropping the transaction rolls it back.
                    Err(e) => return Ok(Err(e)),
                };
                let n = tx
                    .execute(
                        "UPDATE rtx_exports SET state = $1, version = $2, record = $3
                         WHERE tenant = $4 AND id = $5 AND version = $6",
                        &[
                            &export.state.as_str(),
                            &version_i64(export.version),
                            &json(&export)?,
                            &tenant,
                            &id,
                            &read_version,
                        ],
                    )
                    .await?;
                if n != 1 {
                    return Err(StoreError::Conflict(format!("export `{id}` changed meanwhile")));
                }
                match &plan.artifact {
                    ArtifactOp::Keep => {}
                    ArtifactOp::Put(bytes, env) => {
                        tx.execute(
                            "INSERT INTO rtx_artifacts (tenant, export_id, bundle, envelope) VALUES ($1, $2, $3, $4)",
                            &[&tenant, &id, bytes, env],
                        )
                        .await?;
                    }
                    ArtifactOp::Delete => {
                        tx.execute(
                            "DELETE FROM rtx_artifacts WHERE tenant = $1 AND export_id = $2",
                            &[&tenant, &id],
                        )
                        .await?;
                    }
                }
                if let Some(a) = &plan.access {
                    tx.execute(
                        "INSERT INTO rtx_access (tenant, export_id, subject, at, actor, action, purpose)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[&tenant, &id, &export.request.subject, &now, &a.actor, &a.action.as_str(), &a.purpose],
                    )
                    .await?;
                }
                pg_insert_with(&tx, &plan.audit).await?;
                tx.commit().await?;
                Ok(Ok(export))
            })
            .map_err(ChangeError::Store)?,
    }
}

/// Stores a made bundle: the export becomes ready with its digest, size,
/// bytes and envelope, in one transaction with its audit event. Refused
/// unless the export is pending (a revoked export never becomes ready).
pub fn complete_export(
    store: &mut Store,
    tenant: &str,
    id: &str,
    bundle: Vec<u8>,
    envelope: &Envelope,
    now: i64,
) -> Result<Export, ChangeError> {
    let env = json(envelope)?;
    let sha256 = crate::canonical::sha256_hex(&bundle);
    let signed = envelope_digest(envelope);
    change(store, tenant, id, now, move |e| {
        if signed.as_deref() != Some(sha256.as_str()) {
            return Err(ChangeError::Refused {
                id: e.id.clone(),
                problem: "is not completed: the envelope does not sign these bundle bytes".into(),
            });
        }
        e.transition(ExportState::Ready, now)?;
        e.sha256 = Some(sha256);
        e.size = Some(bundle.len() as u64);
        e.artifact = crate::model::Artifact::Stored;
        let audit = vec![audit_event(e, "ready", "tenet", None, now)];
        Ok(Plan {
            artifact: ArtifactOp::Put(bundle, env),
            audit,
            access: None,
        })
    })
}

/// The bundle digest an envelope's statement names (no signature check).
fn envelope_digest(envelope: &Envelope) -> Option<String> {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .ok()?;
    let st: crate::sign::Statement = serde_json::from_slice(&body).ok()?;
    st.bundle_sha256().map(str::to_string)
}

/// Marks a pending export failed, with why.
pub fn fail_export(
    store: &mut Store,
    tenant: &str,
    id: &str,
    why: &str,
    now: i64,
) -> Result<Export, ChangeError> {
    let why = why.to_string();
    change(store, tenant, id, now, move |e| {
        e.transition(ExportState::Failed, now)?;
        e.failure = Some(why.clone());
        Ok(Plan {
            artifact: ArtifactOp::Keep,
            audit: vec![audit_event(e, "failed", "tenet", Some(&why), now)],
            access: None,
        })
    })
}

/// Revokes an export: its bundle is scrubbed, unless a legal hold keeps it
/// (then it is revoked and retained, and says so). Logged as an access
/// and audited (`revoked` or `retained`).
pub fn revoke(
    store: &mut Store,
    tenant: &str,
    id: &str,
    actor: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<Export, ChangeError> {
    let (actor, reason) = (actor.to_string(), reason.map(str::to_string));
    change(store, tenant, id, now, move |e| {
        e.revoke(&actor, reason.as_deref(), now)?;
        let (outcome, artifact) = match e.artifact {
            crate::model::Artifact::Retained => ("retained", ArtifactOp::Keep),
            _ => ("revoked", ArtifactOp::Delete),
        };
        Ok(Plan {
            artifact,
            audit: vec![audit_event(e, outcome, &actor, reason.as_deref(), now)],
            access: Some(Access {
                actor: actor.clone(),
                action: AccessAction::Revoke,
                purpose: reason.clone(),
            }),
        })
    })
}

/// Sets (`Some`) or releases (`None`) an export's legal hold. Releasing the
/// hold of a revoked, retained export scrubs its bundle in the same
/// transaction (audited `scrubbed`).
pub fn set_legal_hold(
    store: &mut Store,
    tenant: &str,
    id: &str,
    hold: Option<LegalHold>,
    actor: &str,
    now: i64,
) -> Result<Export, ChangeError> {
    let actor = actor.to_string();
    change(store, tenant, id, now, move |e| {
        let reason = hold.as_ref().map(|h| h.reason.clone());
        let set = hold.is_some();
        let scrubbed = e.set_legal_hold(hold, now);
        let outcome = match (set, scrubbed) {
            (true, _) => "hold_set",
            (false, true) => "scrubbed",
            (false, false) => "hold_released",
        };
        Ok(Plan {
            artifact: if scrubbed {
                ArtifactOp::Delete
            } else {
                ArtifactOp::Keep
            },
            audit: vec![audit_event(e, outcome, &actor, reason.as_deref(), now)],
            access: None,
        })
    })
}

/// Reads an export, logging the access in the same transaction. `None`:
/// no such export for the tenant (nothing logged).
pub fn export(
    store: &mut Store,
    tenant: &str,
    id: &str,
    access: &Access,
    now: i64,
) -> Result<Option<Export>, StoreError> {
    let access = access.clone();
    match change(store, tenant, id, now, move |_| {
        Ok(Plan {
            artifact: ArtifactOp::Keep,
            audit: Vec::new(),
            access: Some(access),
        })
    }) {
        Ok(e) => Ok(Some(e)),
        Err(ChangeError::NotFound(_)) => Ok(None),
        Err(ChangeError::Store(e)) => Err(e),
        Err(other) => Err(StoreError::Corrupt(other.to_string())),
    }
}

/// A stored bundle: its bytes and envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub bundle: Vec<u8>,
    pub envelope: Envelope,
}

/// Reads an export and its bundle (when it has one: ready, or revoked and
/// retained), logging the access. `None`: no such export.
pub fn export_with_bundle(
    store: &mut Store,
    tenant: &str,
    id: &str,
    access: &Access,
    now: i64,
) -> Result<Option<(Export, Option<Artifact>)>, StoreError> {
    let Some(e) = export(store, tenant, id, access, now)? else {
        return Ok(None);
    };
    let row: Option<(Vec<u8>, String)> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .query_row(
                "SELECT bundle, envelope FROM rtx_artifacts WHERE tenant = ?1 AND export_id = ?2",
                params![tenant, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        Backend::Postgres(pg) => {
            let (tenant, id) = (tenant.to_string(), id.to_string());
            pg.block_on(move |pool| async move {
                let row = pool
                    .get()
                    .await?
                    .query_opt(
                        "SELECT bundle, envelope FROM rtx_artifacts WHERE tenant = $1 AND export_id = $2",
                        &[&tenant, &id],
                    )
                    .await?;
                Ok(row.map(|r| (r.get(0), r.get(1))))
            })?
        }
    };
    let artifact = match row {
        Some((bundle, env)) => Some(Artifact {
            bundle,
            envelope: parse("envelope", &env)?,
        }),
        None => None,
    };
    Ok(Some((e, artifact)))
}

/// The access log of a subject's exports in `window`, by time (what a
/// later export includes as `access` records).
pub fn access_log(
    store: &Store,
    tenant: &str,
    subject: &str,
    window: Window,
) -> Result<Vec<AccessLogEntry>, StoreError> {
    type Row = (i64, String, i64, String, String, Option<String>);
    let rows: Vec<Row> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, export_id, at, actor, action, purpose FROM rtx_access
                 WHERE tenant = ?1 AND subject = ?2 AND at >= ?3 AND at < ?4 ORDER BY at, seq",
            )?;
            let rows = stmt.query_map(params![tenant, subject, window.from, window.to], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => {
            let (tenant, subject) = (tenant.to_string(), subject.to_string());
            pg.block_on(move |pool| async move {
                let rows = pool
                    .get()
                    .await?
                    .query(
                        "SELECT seq, export_id, at, actor, action, purpose FROM rtx_access
                         WHERE tenant = $1 AND subject = $2 AND at >= $3 AND at < $4 ORDER BY at, seq",
                        &[&tenant, &subject, &window.from, &window.to],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                    .collect())
            })?
        }
    };
    rows.into_iter()
        .map(|(seq, export_id, at, actor, action, purpose)| {
            Ok(AccessLogEntry {
                id: format!("acc-{seq:012}"),
                export_id,
                at,
                actor,
                action: AccessAction::parse(&action)
                    .ok_or_else(|| StoreError::Corrupt(format!("an access action `{action}`")))?,
                purpose,
            })
        })
        .collect()
}

/// Which exports a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub subject: Option<String>,
    pub state: Option<ExportState>,
}

/// A tenant's exports, newest first (by creation, then id), at most
/// `limit`, each listing logged as an access in the same transaction: a
/// listing shows whose data was asked for, so it is a read too.
pub fn list(
    store: &mut Store,
    tenant: &str,
    filter: &ListFilter,
    limit: usize,
    access: &Access,
    now: i64,
) -> Result<Vec<Export>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (tenant, subject) = (tenant.to_string(), filter.subject.clone());
    let state = filter.state.map(ExportState::as_str);
    let access = access.clone();
    let action = AccessAction::List.as_str();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let texts: Vec<String> = {
                let mut s = tx.prepare_cached(
                    "SELECT record FROM rtx_exports
                     WHERE tenant = ?1 AND (?2 IS NULL OR subject = ?2) AND (?3 IS NULL OR state = ?3)
                     ORDER BY created_at DESC, id DESC LIMIT ?4",
                )?;
                let rows = s.query_map(params![tenant, subject, state, limit], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let exports = texts
                .iter()
                .map(|t| parse::<Export>("export", t))
                .collect::<Result<Vec<_>, _>>()?;
            for e in &exports {
                tx.execute(
                    "INSERT INTO rtx_access (tenant, export_id, subject, at, actor, action, purpose)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![tenant, e.id, e.request.subject, now, access.actor, action, access.purpose],
                )?;
            }
            tx.commit()?;
            Ok(exports)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let rows = tx
                .query(
                    "SELECT record FROM rtx_exports
                     WHERE tenant = $1 AND ($2::TEXT IS NULL OR subject = $2) AND ($3::TEXT IS NULL OR state = $3)
                     ORDER BY created_at DESC, id DESC LIMIT $4",
                    &[&tenant, &subject, &state, &limit],
                )
                .await?;
            let exports = rows
                .iter()
                .map(|r| parse::<Export>("export", &r.get::<_, String>(0)))
                .collect::<Result<Vec<_>, _>>()?;
            for e in &exports {
                tx.execute(
                    "INSERT INTO rtx_access (tenant, export_id, subject, at, actor, action, purpose)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&tenant, &e.id, &e.request.subject, &now, &access.actor, &action, &access.purpose],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(exports)
        }),
    }
}

/// Exports still `pending` (`(tenant, id)`, oldest first, at most
/// `limit`): what a sweep makes after a restart cut their making short.
pub fn pending(store: &Store, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match store.backend() {
        Backend::Sqlite(conn) => {
            let mut s = conn.prepare_cached(
                "SELECT tenant, id FROM rtx_exports WHERE state = 'pending' ORDER BY created_at, id LIMIT ?1",
            )?;
            let r = s.query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(r.collect::<Result<_, _>>()?)
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            Ok(c.query(
                "SELECT tenant, id FROM rtx_exports WHERE state = 'pending' ORDER BY created_at, id LIMIT $1",
                &[&limit],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        }),
    }
}

/// An export as stored, for the server's own work (making its bundle):
/// not an access, so not logged.
pub fn export_unlogged(
    store: &Store,
    tenant: &str,
    id: &str,
) -> Result<Option<Export>, StoreError> {
    let (tenant, id) = (tenant.to_string(), id.to_string());
    let row: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT record FROM rtx_exports WHERE tenant = ?1 AND id = ?2")?
            .query_row(params![tenant, id], |r| r.get(0))
            .optional()?,
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let c = pool.get().await?;
            Ok(c.query_opt(
                "SELECT record FROM rtx_exports WHERE tenant = $1 AND id = $2",
                &[&tenant, &id],
            )
            .await?
            .map(|r| r.get(0)))
        })?,
    };
    row.map(|t| parse("export", &t)).transpose()
}
