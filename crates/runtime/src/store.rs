//! The embedded store: one SQLite database (WAL) for what tenet keeps.
//!
//! Today it keeps semantic-diff reports, keyed by repository, base, head and
//! rules fingerprint (storing the same key again replaces the report, so a
//! re-run CI job is idempotent), and the audit log ([`AuditEvent`]: a
//! blocked or overridden pre-commit hook, one row each, never rewritten).
//! The schema is versioned with SQLite's `user_version` and migrated
//! forward on open. Every other module's data (approvals, findings...) joins
//! it behind this same type.

use crate::diff::report::Report;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The default location, relative to the working directory.
pub const DEFAULT_PATH: &str = ".tenet/tenet.db";

const MIGRATIONS: &[&str] = &[
    // 1: reports
    "CREATE TABLE reports (
        id           INTEGER PRIMARY KEY,
        repository   TEXT NOT NULL,
        base         TEXT NOT NULL,
        head         TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        highest_risk TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        report       TEXT NOT NULL,
        UNIQUE (repository, base, head, fingerprint)
    );
    CREATE INDEX reports_by_repo ON reports (repository, id);",
    // 2: the audit log
    "CREATE TABLE audit_events (
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
    // 3: the server's audit envelope adds the tenant and the bundle hash
    "ALTER TABLE audit_events ADD COLUMN tenant TEXT;
    ALTER TABLE audit_events ADD COLUMN bundle TEXT;
    CREATE INDEX audit_by_at ON audit_events (at, id);",
    // 4: one index fewer to write per audit event (a tenth of the cost of
    // an audited request): the log is read by action id (unique) and time,
    // and by scope only for one repository's hook events, a short scan.
    "DROP INDEX audit_by_scope;",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store: a stored report does not parse: {0}")]
    Corrupt(String),
    #[error("no report {0} in the store")]
    NotFound(String),
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// One line of `tenet reports list`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportRow {
    pub id: i64,
    pub repository: String,
    pub base: String,
    pub head: String,
    pub fingerprint: String,
    pub highest_risk: String,
    pub created_at: String,
    pub changes: usize,
}

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
    /// Opens (creating it and its folder if needed) and migrates the store.
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
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory store (tests).
    pub fn memory() -> Result<Store, StoreError> {
        let mut store = Store {
            conn: Connection::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = self.conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a report; the same (repository, base, head, fingerprint)
    /// replaces the earlier one. Returns its id.
    pub fn save_report(
        &self,
        repository: &str,
        report: &Report,
        created_at: &str,
    ) -> Result<i64, StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = self.conn.query_row(
            "INSERT INTO reports (repository, base, head, fingerprint, highest_risk, created_at, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (repository, base, head, fingerprint) DO UPDATE SET
               highest_risk = excluded.highest_risk, created_at = excluded.created_at, report = excluded.report
             RETURNING id",
            params![repository, report.base, report.head, report.rules.fingerprint, report.highest_risk, created_at, json],
            |r| r.get(0),
        )?;
        Ok(id)
    }

    /// Reports, newest first, optionally of one repository.
    pub fn list_reports(
        &self,
        repository: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, repository, base, head, fingerprint, highest_risk, created_at, report FROM reports
             WHERE ?1 IS NULL OR repository = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![repository, limit as i64], |r| {
            let json: String = r.get(7)?;
            Ok((
                ReportRow {
                    id: r.get(0)?,
                    repository: r.get(1)?,
                    base: r.get(2)?,
                    head: r.get(3)?,
                    fingerprint: r.get(4)?,
                    highest_risk: r.get(5)?,
                    created_at: r.get(6)?,
                    changes: 0,
                },
                json,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut row, json) = row?;
            let report: Report =
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            row.changes = report.changes.len();
            out.push(row);
        }
        Ok(out)
    }

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

    /// Makes every commit reach the disk before it returns
    /// (`synchronous = FULL`), for callers that answer only after their
    /// audit event is durable even across a power loss. The default
    /// (`NORMAL` in WAL mode) survives a crash of the process, not of the
    /// machine.
    pub fn sync_full(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
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

    /// A report by id, or by `base..head` (the newest such report).
    pub fn report(&self, key: &str) -> Result<Report, StoreError> {
        let json: Option<String> = if let Ok(id) = key.parse::<i64>() {
            self.conn
                .query_row("SELECT report FROM reports WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?
        } else if let Some((base, head)) = key.split_once("..") {
            self.conn
                .query_row(
                    // Full or abbreviated SHAs (as `tenet reports list` shows them).
                    "SELECT report FROM reports WHERE (base = ?1 OR (length(?1) >= 7 AND substr(base, 1, length(?1)) = ?1))
                       AND (head = ?2 OR (length(?2) >= 7 AND substr(head, 1, length(?2)) = ?2))
                     ORDER BY id DESC LIMIT 1",
                    [base, head],
                    |r| r.get(0),
                )
                .optional()?
        } else {
            None
        };
        let json = json.ok_or_else(|| StoreError::NotFound(key.to_string()))?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
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
    fn a_version_one_store_migrates_to_the_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let s = Store::open(&path).unwrap();
        s.record_audit(&event("x", "/r", "blocked")).unwrap();
        assert_eq!(s.audit_events(None, 5).unwrap().len(), 1);
        assert!(s.list_reports(None, 5).unwrap().is_empty());
    }
}
