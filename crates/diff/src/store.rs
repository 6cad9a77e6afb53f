//! The semantic diff's records: kept reports, keyed by repository, base,
//! head and rules fingerprint (storing the same key again replaces the
//! report, so a re-run CI job is idempotent), on either backend of the
//! store: a CI fleet can keep its reports in one shared PostgreSQL.

use crate::report::Report;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use tenet_store::{Backend, Location, Migration, Store, StoreError};

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
    postgres: "CREATE TABLE reports (
        id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

/// Opens the store at `location` with the semantic diff's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
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

const SAVE_SQLITE: &str = "INSERT INTO reports (repository, base, head, fingerprint, highest_risk, created_at, report)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (repository, base, head, fingerprint) DO UPDATE SET
       highest_risk = excluded.highest_risk, created_at = excluded.created_at, report = excluded.report
     RETURNING id";
const SAVE_PG: &str = "INSERT INTO reports (repository, base, head, fingerprint, highest_risk, created_at, report)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (repository, base, head, fingerprint) DO UPDATE SET
       highest_risk = excluded.highest_risk, created_at = excluded.created_at, report = excluded.report
     RETURNING id";
const LIST_SQLITE: &str =
    "SELECT id, repository, base, head, fingerprint, highest_risk, created_at, report FROM reports
     WHERE ?1 IS NULL OR repository = ?1 ORDER BY id DESC LIMIT ?2";
const LIST_PG: &str =
    "SELECT id, repository, base, head, fingerprint, highest_risk, created_at, report FROM reports
     WHERE $1::text IS NULL OR repository = $1 ORDER BY id DESC LIMIT $2";
const BY_ID_SQLITE: &str = "SELECT report FROM reports WHERE id = ?1";
const BY_ID_PG: &str = "SELECT report FROM reports WHERE id = $1";
// Full or abbreviated SHAs (as `tenet reports list` shows them).
const BY_RANGE_SQLITE: &str = "SELECT report FROM reports WHERE (base = ?1 OR (length(?1) >= 7 AND substr(base, 1, length(?1)) = ?1))
       AND (head = ?2 OR (length(?2) >= 7 AND substr(head, 1, length(?2)) = ?2))
     ORDER BY id DESC LIMIT 1";
const BY_RANGE_PG: &str = "SELECT report FROM reports WHERE (base = $1 OR (length($1) >= 7 AND substr(base, 1, length($1)) = $1))
       AND (head = $2 OR (length($2) >= 7 AND substr(head, 1, length($2)) = $2))
     ORDER BY id DESC LIMIT 1";

/// A row of `reports` with its JSON not yet parsed.
type RawRow = (ReportRow, String);

impl ReportStore for Store {
    fn save_report(
        &self,
        repository: &str,
        report: &Report,
        created_at: &str,
    ) -> Result<i64, StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let values = [
            repository.to_string(),
            report.base.clone(),
            report.head.clone(),
            report.rules.fingerprint.clone(),
            report.highest_risk.clone(),
            created_at.to_string(),
            json,
        ];
        match self.backend() {
            Backend::Sqlite(conn) => Ok(conn.query_row(
                SAVE_SQLITE,
                rusqlite::params_from_iter(values.iter()),
                |r| r.get(0),
            )?),
            Backend::Postgres(pg) => pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                let p: Vec<&(dyn tenet_store::pg::tokio_postgres::types::ToSql + Sync)> = values
                    .iter()
                    .map(|v| v as &(dyn tenet_store::pg::tokio_postgres::types::ToSql + Sync))
                    .collect();
                Ok(client.query_one(SAVE_PG, &p).await?.get(0))
            }),
        }
    }

    fn list_reports(
        &self,
        repository: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let raw: Vec<RawRow> = match self.backend() {
            Backend::Sqlite(conn) => {
                let mut stmt = conn.prepare(LIST_SQLITE)?;
                let rows = stmt.query_map(params![repository, limit], |r| {
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
                        r.get(7)?,
                    ))
                })?;
                rows.collect::<Result<_, _>>()?
            }
            Backend::Postgres(pg) => {
                let repository = repository.map(str::to_string);
                pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    let rows = client.query(LIST_PG, &[&repository, &limit]).await?;
                    Ok(rows
                        .iter()
                        .map(|r| {
                            (
                                ReportRow {
                                    id: r.get(0),
                                    repository: r.get(1),
                                    base: r.get(2),
                                    head: r.get(3),
                                    fingerprint: r.get(4),
                                    highest_risk: r.get(5),
                                    created_at: r.get(6),
                                    changes: 0,
                                },
                                r.get(7),
                            )
                        })
                        .collect())
                })?
            }
        };
        let mut out = Vec::with_capacity(raw.len());
        for (mut row, json) in raw {
            let report: Report =
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            row.changes = report.changes.len();
            out.push(row);
        }
        Ok(out)
    }

    fn report(&self, key: &str) -> Result<Report, StoreError> {
        let json: Option<String> = match (key.parse::<i64>(), key.split_once("..")) {
            (Ok(id), _) => match self.backend() {
                Backend::Sqlite(conn) => conn
                    .query_row(BY_ID_SQLITE, [id], |r| r.get(0))
                    .optional()?,
                Backend::Postgres(pg) => pg.block_on(move |pool| async move {
                    let client = pool.get().await?;
                    Ok(client.query_opt(BY_ID_PG, &[&id]).await?.map(|r| r.get(0)))
                })?,
            },
            (Err(_), Some((base, head))) => match self.backend() {
                Backend::Sqlite(conn) => conn
                    .query_row(BY_RANGE_SQLITE, [base, head], |r| r.get(0))
                    .optional()?,
                Backend::Postgres(pg) => {
                    let (base, head) = (base.to_string(), head.to_string());
                    pg.block_on(move |pool| async move {
                        let client = pool.get().await?;
                        Ok(client
                            .query_opt(BY_RANGE_PG, &[&base, &head])
                            .await?
                            .map(|r| r.get(0)))
                    })?
                }
            },
            (Err(_), None) => None,
        };
        let json = json.ok_or_else(|| StoreError::NotFound(format!("report {key}")))?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
