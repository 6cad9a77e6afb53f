//! The semantic diff's records: kept reports, keyed by repository, base,
//! head and rules fingerprint (storing the same key again replaces the
//! report, so a re-run CI job is idempotent).

use crate::report::Report;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use tenet_store::{Migration, Store, StoreError};

/// The module's tables, applied by [`open`].
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "semantic-diff",
    version: 1,
    sqlite: "CREATE TABLE reports (
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
}];

/// Opens the store at `path` with the semantic diff's tables.
pub fn open(path: &std::path::Path) -> Result<Store, StoreError> {
    let mut store = Store::open(path)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
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

/// Reports kept in a [`Store`] migrated with [`MIGRATIONS`].
pub trait ReportStore {
    /// Stores a report; the same (repository, base, head, fingerprint)
    /// replaces the earlier one. Returns its id.
    fn save_report(
        &self,
        repository: &str,
        report: &Report,
        created_at: &str,
    ) -> Result<i64, StoreError>;
    /// Reports, newest first, optionally of one repository.
    fn list_reports(
        &self,
        repository: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ReportRow>, StoreError>;
    /// A report by id, or by `base..head` (the newest such report).
    fn report(&self, key: &str) -> Result<Report, StoreError>;
}

impl ReportStore for Store {
    fn save_report(
        &self,
        repository: &str,
        report: &Report,
        created_at: &str,
    ) -> Result<i64, StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = self.sqlite().query_row(
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

    fn list_reports(
        &self,
        repository: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let mut stmt = self.sqlite().prepare(
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

    fn report(&self, key: &str) -> Result<Report, StoreError> {
        let json: Option<String> = if let Ok(id) = key.parse::<i64>() {
            self.sqlite()
                .query_row("SELECT report FROM reports WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?
        } else if let Some((base, head)) = key.split_once("..") {
            self.sqlite()
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
        let json = json.ok_or_else(|| StoreError::NotFound(format!("report {key}")))?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
