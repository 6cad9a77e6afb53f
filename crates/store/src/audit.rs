//! The audit log: one row per action, in the audit envelope shared by every
//! module. Rows are appended, never rewritten: an `action_id` already
//! recorded is an error.

use crate::{Migration, Store, StoreError};
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
    },
    // The server's audit envelope adds the tenant and the bundle hash.
    Migration {
        module: "audit",
        version: 2,
        sqlite: "ALTER TABLE audit_events ADD COLUMN tenant TEXT;
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
        insert_audit(&self.conn, e)
    }

    /// Appends events in one transaction (one commit, one sync for all):
    /// either every event is recorded or none is. Returns their row ids.
    pub fn record_audit_batch(&mut self, events: &[AuditEvent]) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(events.len());
        for e in events {
            ids.push(insert_audit(&tx, e)?);
        }
        tx.commit()?;
        Ok(ids)
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

    /// Audit events matching `q`, newest first.
    pub fn audit_query(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
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
}

/// One audit row; `conn` may be a transaction.
fn insert_audit(conn: &Connection, e: &AuditEvent) -> Result<i64, StoreError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn event(action_id: &str, scope: &str, outcome: &str) -> AuditEvent {
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
    fn a_batch_is_all_or_nothing_and_queries_filter_by_time_and_action() {
        let mut s = Store::memory().unwrap();
        let mut a = event("a", "server", "allowed");
        a.at = "2026-12-01T10:00:00.000Z".into();
        a.tenant = Some("acme".into());
        a.bundle = Some("sha256:abc".into());
        let mut b = event("b", "server", "blocked");
        b.at = "2026-12-01T11:00:00.000Z".into();
        let ids = s.record_audit_batch(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ids.len(), 2);
        // A duplicate action id fails the whole batch: `c` is not kept.
        let c = event("c", "server", "allowed");
        assert!(s.record_audit_batch(&[c, a.clone()]).is_err());
        assert_eq!(s.audit_events(None, 10).unwrap().len(), 2);
        let since = s
            .audit_query(&AuditQuery {
                since: Some("2026-12-01T10:30:00Z".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(since.len(), 1);
        assert_eq!(since[0].action_id, "b");
        let one = s
            .audit_query(&AuditQuery {
                action_id: Some("a".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        a.id = ids[0];
        assert_eq!(one, vec![a]);
    }

    #[test]
    fn audit_events_round_trip_newest_first_and_are_never_rewritten() {
        let s = Store::memory().unwrap();
        let a = s.record_audit(&event("a1", "/repo/a", "blocked")).unwrap();
        let b = s
            .record_audit(&event("b2", "/repo/a", "overridden"))
            .unwrap();
        s.record_audit(&event("c3", "/repo/c", "blocked")).unwrap();
        assert!(b > a);
        let got = s.audit_events(Some("/repo/a"), 10).unwrap();
        assert_eq!(got.len(), 2);
        let mut want = event("b2", "/repo/a", "overridden");
        want.id = b;
        assert_eq!(got[0], want);
        assert_eq!(got[1].reason, None);
        assert_eq!(s.audit_events(None, 10).unwrap().len(), 3);
        assert_eq!(s.audit_events(None, 1).unwrap()[0].action_id, "c3");
        assert!(s.record_audit(&event("a1", "/repo/a", "blocked")).is_err());
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
                ("semantic-diff".to_string(), 1),
            ]
        );
    }
}
