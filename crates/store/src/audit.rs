//! The audit log: one row per action, in the audit envelope shared by every
//! module. Rows are appended, never rewritten: an `action_id` already
//! recorded is an error.
//!
//! Row ids order the log. On PostgreSQL an id is drawn when the row is
//! inserted, not when it commits, so two replicas may commit ids 11 and 10
//! in that order; every reader still sees one order (by id), which is the
//! order `GET /v1/audit` shows on every replica. `details` is kept as text
//! on both backends (not `jsonb`), so an event reads back byte for byte.

use crate::{Backend, Migration, Store, StoreError};
use rusqlite::{params, Connection};
use serde::Serialize;

/// The audit log's tables.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        module: "audit",
        version: 1,
        sqlite: "CREATE TABLE audit_events (
            id          INTEGER PRIMARY KEY,
            action_id   TEXT NOT NULL UNIQUE,
            at          TEXT NOT NULL,
            source      TEXT NOT NULL,
            subject     TEXT NOT NULL,
            actor       TEXT NOT NULL,
            scope       TEXT NOT NULL,
            outcome     TEXT NOT NULL,
            reason      TEXT,
            latency_ms  INTEGER NOT NULL,
            details     TEXT NOT NULL
        );
        CREATE INDEX audit_by_scope ON audit_events (scope, id);",
        postgres: "CREATE TABLE audit_events (
            id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            action_id   TEXT NOT NULL UNIQUE,
            at          TEXT NOT NULL,
            source      TEXT NOT NULL,
            subject     TEXT NOT NULL,
            actor       TEXT NOT NULL,
            scope       TEXT NOT NULL,
            outcome     TEXT NOT NULL,
            reason      TEXT,
            latency_ms  BIGINT NOT NULL,
            details     TEXT NOT NULL
        );
        CREATE INDEX audit_by_scope ON audit_events (scope, id);",
    },
    // The server's audit envelope adds the tenant and the bundle hash.
    Migration {
        module: "audit",
        version: 2,
        sqlite: "ALTER TABLE audit_events ADD COLUMN tenant TEXT;
        ALTER TABLE audit_events ADD COLUMN bundle TEXT;
        CREATE INDEX audit_by_at ON audit_events (at, id);",
        postgres: "ALTER TABLE audit_events ADD COLUMN tenant TEXT;
        ALTER TABLE audit_events ADD COLUMN bundle TEXT;
        CREATE INDEX audit_by_at ON audit_events (at, id);",
    },
    // One index fewer to write per audit event (a tenth of the cost of an
    // audited request): the log is read by action id (unique) and time, and
    // by scope only for one repository's hook events, a short scan.
    Migration {
        module: "audit",
        version: 3,
        sqlite: "DROP INDEX audit_by_scope;",
        postgres: "DROP INDEX audit_by_scope;",
    },
];

/// One entry of the audit log, in the audit envelope: what was done
/// (`action_id`, unique), to what (`subject`), by whom (`actor`), where
/// (`scope`), with what result (`outcome`) and why (`reason`), and how long
/// the decision took.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Row id (0 before it is recorded).
    #[serde(default)]
    pub id: i64,
    /// Unique id of this action.
    pub action_id: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What recorded it (`hook:pre-commit`).
    pub source: String,
    /// What was judged (for a commit: the staged tree id).
    pub subject: String,
    /// Who (for a commit: git `user.email`).
    pub actor: String,
    /// Where (for a commit: the repository path).
    pub scope: String,
    /// `blocked`, `overridden`...
    pub outcome: String,
    /// The justification given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub latency_ms: u64,
    /// Source-specific details (the findings), as JSON.
    #[serde(default)]
    pub details: serde_json::Value,
    /// The tenant the action was for, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The bundle hash of the rules that decided it, when rules did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

/// Which audit events [`Store::audit_query`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events at or after this RFC 3339 time (compared as text, so
    /// give it in UTC with a `Z`, as events are written).
    pub since: Option<String>,
    /// Only the event with this action id.
    pub action_id: Option<String>,
    /// Only events of this scope.
    pub scope: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Store {
    /// Appends an event to the audit log; returns its row id. An
    /// `action_id` already recorded is an error (events are never rewritten).
    pub fn record_audit(&self, e: &AuditEvent) -> Result<i64, StoreError> {
        match self.backend() {
            Backend::Sqlite(conn) => insert_audit(conn, e),
            Backend::Postgres(pg) => {
                let e = e.clone();
                pg.block_on(|pool| async move { pg_insert(&pool, &[e]).await })
                    .map(|ids| ids.first().copied().unwrap_or_default())
            }
        }
    }

    /// Appends events in one transaction (one commit, one sync for all):
    /// either every event is recorded or none is. Returns their row ids.
    pub fn record_audit_batch(&mut self, events: &[AuditEvent]) -> Result<Vec<i64>, StoreError> {
        match self.backend_mut() {
            Backend::Sqlite(conn) => {
                let tx = conn.transaction()?;
                let mut ids = Vec::with_capacity(events.len());
                for e in events {
                    ids.push(insert_audit(&tx, e)?);
                }
                tx.commit()?;
                Ok(ids)
            }
            Backend::Postgres(pg) => {
                let events = events.to_vec();
                pg.block_on(|pool| async move { pg_insert(&pool, &events).await })
            }
        }
    }

    /// Audit events, newest first, optionally of one scope.
    pub fn audit_events(
        &self,
        scope: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_query(&AuditQuery {
            scope: scope.map(str::to_string),
            limit,
            ..AuditQuery::default()
        })
    }

    /// One page of the audit events at or after `from` and before `to`
    /// (RFC 3339, UTC, as events are written), oldest first by (`at`,
    /// `id`), after the event `after` (`(at, id)` of the previous page's
    /// last); at most `limit`. For streaming a window in constant memory.
    pub fn audit_window(
        &self,
        from: &str,
        to: &str,
        after: Option<(&str, i64)>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (after_at, after_id) = match after {
            Some((a, i)) => (a.to_string(), i),
            None => (String::new(), i64::MIN),
        };
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows: Vec<(AuditEvent, String)> = match self.backend() {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle
                     FROM audit_events
                     WHERE at >= ?1 AND at < ?2 AND (at > ?3 OR (at = ?3 AND id > ?4))
                     ORDER BY at, id LIMIT ?5",
                )?;
                let r = stmt.query_map(params![from, to, after_at, after_id, limit], |r| {
                    Ok((
                        AuditEvent {
                            id: r.get(0)?,
                            action_id: r.get(1)?,
                            at: r.get(2)?,
                            source: r.get(3)?,
                            subject: r.get(4)?,
                            actor: r.get(5)?,
                            scope: r.get(6)?,
                            outcome: r.get(7)?,
                            reason: r.get(8)?,
                            latency_ms: r.get::<_, i64>(9)?.max(0) as u64,
                            details: serde_json::Value::Null,
                            tenant: r.get(11)?,
                            bundle: r.get(12)?,
                        },
                        r.get::<_, String>(10)?,
                    ))
                })?;
                r.collect::<Result<_, _>>()?
            }
            Backend::Postgres(pg) => {
                let (from, to) = (from.to_string(), to.to_string());
                pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    let rows = client
                        .query(
                            "SELECT id, action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle
                             FROM audit_events
                             WHERE at >= $1 AND at < $2 AND (at > $3 OR (at = $3 AND id > $4))
                             ORDER BY at, id LIMIT $5",
                            &[&from, &to, &after_at, &after_id, &limit],
                        )
                        .await?;
                    Ok(rows
                        .iter()
                        .map(|r| {
                            (
                                AuditEvent {
                                    id: r.get(0),
                                    action_id: r.get(1),
                                    at: r.get(2),
                                    source: r.get(3),
                                    subject: r.get(4),
                                    actor: r.get(5),
                                    scope: r.get(6),
                                    outcome: r.get(7),
                                    reason: r.get(8),
                                    latency_ms: r.get::<_, i64>(9).max(0) as u64,
                                    details: serde_json::Value::Null,
                                    tenant: r.get(11),
                                    bundle: r.get(12),
                                },
                                r.get::<_, String>(10),
                            )
                        })
                        .collect())
                })?
            }
        };
        rows.into_iter()
            .map(|(mut e, d)| {
                e.details =
                    serde_json::from_str(&d).map_err(|x| StoreError::Corrupt(x.to_string()))?;
                Ok(e)
            })
            .collect()
    }

    /// Audit events matching `q`, newest first.
    pub fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        match self.backend() {
            Backend::Sqlite(conn) => sqlite_query(conn, q),
            Backend::Postgres(pg) => {
                let q = q.clone();
                pg.block_on(|pool| async move { pg_query(&pool, &q).await })
            }
        }
    }
}

fn sqlite_query(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle
         FROM audit_events
         WHERE (?1 IS NULL OR scope = ?1) AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR action_id = ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![
            q.scope,
            q.since,
            q.action_id,
            q.limit.min(i64::MAX as usize) as i64
        ],
        |r| {
            let latency: i64 = r.get(9)?;
            let details: String = r.get(10)?;
            Ok((
                AuditEvent {
                    id: r.get(0)?,
                    action_id: r.get(1)?,
                    at: r.get(2)?,
                    source: r.get(3)?,
                    subject: r.get(4)?,
                    actor: r.get(5)?,
                    scope: r.get(6)?,
                    outcome: r.get(7)?,
                    reason: r.get(8)?,
                    latency_ms: latency.max(0) as u64,
                    details: serde_json::Value::Null,
                    tenant: r.get(11)?,
                    bundle: r.get(12)?,
                },
                details,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (mut e, details) = row?;
        e.details =
            serde_json::from_str(&details).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        out.push(e);
    }
    Ok(out)
}

/// One audit row on SQLite; `conn` may be a transaction (a module writes
/// its record and the record's audit event in one).
pub fn insert_audit(conn: &Connection, e: &AuditEvent) -> Result<i64, StoreError> {
    let details =
        serde_json::to_string(&e.details).map_err(|x| StoreError::Corrupt(x.to_string()))?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit_events (action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    stmt.execute(params![
        e.action_id,
        e.at,
        e.source,
        e.subject,
        e.actor,
        e.scope,
        e.outcome,
        e.reason,
        e.latency_ms.min(i64::MAX as u64) as i64,
        details,
        e.tenant,
        e.bundle
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Appends `events` on PostgreSQL in one statement (one round trip, one
/// commit, whatever the batch size): all or none. Returns their ids, in
/// order. For async callers (the server's group-commit writer) through
/// [`crate::Pg::run`].
pub async fn pg_insert(
    pool: &deadpool_postgres::Pool,
    events: &[AuditEvent],
) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await?;
    pg_insert_with(&client, events).await
}

/// Events as the columns of an `unnest` insert: the eleven text columns in
/// [`PG_INSERT_COLUMNS`] order but `latency_ms`, and `latency_ms`.
pub struct PgColumns {
    pub text: [Vec<Option<String>>; 11],
    pub latency: Vec<i64>,
}

/// The columns of an audit insert, in order (`latency_ms` is the ninth).
pub const PG_INSERT_COLUMNS: &str =
    "action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle";

/// [`PgColumns`] of `events`.
pub fn pg_columns(events: &[AuditEvent]) -> Result<PgColumns, StoreError> {
    let n = events.len();
    let mut cols: [Vec<Option<String>>; 11] = Default::default();
    let mut latency = Vec::with_capacity(n);
    for e in events {
        let details =
            serde_json::to_string(&e.details).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        for (col, v) in cols.iter_mut().zip([
            Some(e.action_id.clone()),
            Some(e.at.clone()),
            Some(e.source.clone()),
            Some(e.subject.clone()),
            Some(e.actor.clone()),
            Some(e.scope.clone()),
            Some(e.outcome.clone()),
            e.reason.clone(),
            Some(details),
            e.tenant.clone(),
            e.bundle.clone(),
        ]) {
            col.push(v);
        }
        latency.push(e.latency_ms.min(i64::MAX as u64) as i64);
    }
    Ok(PgColumns {
        text: cols,
        latency,
    })
}

/// [`pg_insert`] on a given client or transaction (a module writes its
/// record and the record's audit event in one transaction).
pub async fn pg_insert_with<C: deadpool_postgres::GenericClient>(
    client: &C,
    events: &[AuditEvent],
) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let PgColumns {
        text: cols,
        latency,
    } = pg_columns(events)?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO audit_events (action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[])
             RETURNING action_id, id",
        )
        .await?;
    let [a, at, src, subj, actor, scope, outcome, reason, details, tenant, bundle] = &cols;
    let rows = client
        .query(
            &stmt,
            &[
                a, at, src, subj, actor, scope, outcome, reason, &latency, details, tenant, bundle,
            ],
        )
        .await?;
    let by_action: std::collections::HashMap<String, i64> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    events
        .iter()
        .map(|e| {
            by_action.get(&e.action_id).copied().ok_or_else(|| {
                StoreError::Postgres(format!("no id came back for event {}", e.action_id))
            })
        })
        .collect()
}

async fn pg_query(
    pool: &deadpool_postgres::Pool,
    q: &AuditQuery,
) -> Result<Vec<AuditEvent>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, action_id, at, source, subject, actor, scope, outcome, reason, latency_ms, details, tenant, bundle
             FROM audit_events
             WHERE ($1::text IS NULL OR scope = $1) AND ($2::text IS NULL OR at >= $2) AND ($3::text IS NULL OR action_id = $3)
             ORDER BY id DESC LIMIT $4",
        )
        .await?;
    let limit = q.limit.min(i64::MAX as usize) as i64;
    let rows = client
        .query(&stmt, &[&q.scope, &q.since, &q.action_id, &limit])
        .await?;
    rows.iter()
        .map(|r| {
            let details: String = r.get(10);
            Ok(AuditEvent {
                id: r.get(0),
                action_id: r.get(1),
                at: r.get(2),
                source: r.get(3),
                subject: r.get(4),
                actor: r.get(5),
                scope: r.get(6),
                outcome: r.get(7),
                reason: r.get(8),
                latency_ms: r.get::<_, i64>(9).max(0) as u64,
                details: serde_json::from_str(&details)
                    .map_err(|x| StoreError::Corrupt(x.to_string()))?,
                tenant: r.get(11),
                bundle: r.get(12),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn event(action_id: &str, scope: &str, outcome: &str) -> AuditEvent {
        // The conformance suite (tests/conformance.rs) runs the audit tests
        // on both backends; this one is about SQLite files of tenet 0.1.
        AuditEvent {
            id: 0,
            action_id: action_id.into(),
            at: "2026-01-02T03:04:05Z".into(),
            source: "hook:pre-commit".into(),
            subject: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
            actor: "dev@example.com".into(),
            scope: scope.into(),
            outcome: outcome.into(),
            reason: (outcome == "overridden").then(|| "hotfix, agreed with api owners".into()),
            latency_ms: 42,
            details: serde_json::json!({"findings": [{"risk": "breaking"}]}),
            tenant: None,
            bundle: None,
        }
    }

    #[test]
    fn a_store_of_the_old_global_version_is_adopted_without_rerunning_anything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // tenet 0.1 at user_version 2: reports and the first audit table.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE reports (id INTEGER PRIMARY KEY, report TEXT NOT NULL);",
            )
            .unwrap();
            conn.execute_batch(MIGRATIONS[0].sqlite).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
        }
        let s = Store::open(&path).unwrap();
        s.record_audit(&event("x", "/r", "blocked")).unwrap();
        assert_eq!(s.audit_events(None, 5).unwrap().len(), 1);
        assert_eq!(
            s.migrations().unwrap(),
            vec![
                ("audit".to_string(), 1),
                ("audit".to_string(), 2),
                ("audit".to_string(), 3),
                ("lease".to_string(), 1),
                ("semantic-diff".to_string(), 1),
            ]
        );
    }
}
