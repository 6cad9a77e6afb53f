//! The embedded store: one SQLite database (WAL) for what tenet keeps.
//!
//! Today it keeps semantic-diff reports, keyed by repository, base, head and
//! rules fingerprint (storing the same key again replaces the report, so a
//! re-run CI job is idempotent). The schema is versioned with SQLite's
//! `user_version` and migrated forward on open. Every other module's data
//! (audit events, approvals, findings...) joins it behind this same type.

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
                    "SELECT report FROM reports WHERE base = ?1 AND head = ?2 ORDER BY id DESC LIMIT 1",
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
