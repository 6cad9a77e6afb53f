//! The tenant-benchmark's tables and queries in the shared store, on
//! SQLite and PostgreSQL.
//!
//! - `bench_tenants`: one row per tenant, its [`TenantRecord`] (facts,
//!   latest signals, per profile the state between evaluations) as JSON;
//! - `bench_signals`: every signal received, keyed by tenant, name and
//!   measurement time (the same signal sent twice counts once), with when
//!   it was received: a backfill reads the signals as they were known;
//! - `bench_scores`: every stored evaluation, keyed by tenant, profile,
//!   profile version and time: the history, its badges and transitions.
//!
//! [`update`] changes one tenant in **one transaction**: it locks the
//! tenant's row (made if missing), records the new signals, merges them
//! into the record, lets the caller evaluate (the engine runs inside the
//! transaction, so two replicas scoring one tenant serialize on its row),
//! and writes the evaluations, the record and the audit events together.
//! [`backfill`] recomputes one tenant's history under one profile version
//! the same way.

use crate::engine::Point;
use crate::model::{Evaluation, ProfileState, TenantRecord};
use crate::profiles::Ms;
use crate::score::Signal;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::{BTreeMap, HashSet};
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1];

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE bench_tenants (
        tenant       TEXT PRIMARY KEY,
        version      INTEGER NOT NULL,
        record       TEXT NOT NULL
    );
    CREATE TABLE bench_signals (
        tenant       TEXT NOT NULL,
        name         TEXT NOT NULL,
        at_ms        INTEGER NOT NULL,
        received_ms  INTEGER NOT NULL,
        value        TEXT NOT NULL,
        source       TEXT,
        PRIMARY KEY (tenant, name, at_ms)
    );
    CREATE TABLE bench_scores (
        tenant       TEXT NOT NULL,
        profile      TEXT NOT NULL,
        version      INTEGER NOT NULL,
        at_ms        INTEGER NOT NULL,
        score        REAL,
        record       TEXT NOT NULL,
        PRIMARY KEY (tenant, profile, version, at_ms)
    );
    CREATE INDEX bench_scores_latest ON bench_scores (tenant, profile, at_ms);",
    postgres: "CREATE TABLE bench_tenants (
        tenant       TEXT PRIMARY KEY,
        version      BIGINT NOT NULL,
        record       TEXT NOT NULL
    );
    CREATE TABLE bench_signals (
        tenant       TEXT NOT NULL,
        name         TEXT NOT NULL,
        at_ms        BIGINT NOT NULL,
        received_ms  BIGINT NOT NULL,
        value        TEXT NOT NULL,
        source       TEXT,
        PRIMARY KEY (tenant, name, at_ms)
    );
    CREATE TABLE bench_scores (
        tenant       TEXT NOT NULL,
        profile      TEXT NOT NULL,
        version      BIGINT NOT NULL,
        at_ms        BIGINT NOT NULL,
        score        DOUBLE PRECISION,
        record       TEXT NOT NULL,
        PRIMARY KEY (tenant, profile, version, at_ms)
    );
    CREATE INDEX bench_scores_latest ON bench_scores (tenant, profile, at_ms);",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// One signal as sent: its name, value, measurement time (`None`: when
/// it is recorded, the evaluation's time) and link.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    pub name: String,
    pub value: serde_json::Value,
    pub at: Option<Ms>,
    pub source: Option<String>,
}

/// What the caller's evaluation asks [`update`] to write.
pub struct Change<R> {
    /// Evaluations to keep as history.
    pub evaluations: Vec<Evaluation>,
    pub audit: Vec<AuditEvent>,
    /// Whether the record changed (false: nothing is written).
    pub write: bool,
    /// Answer what would happen and roll everything back: the store stays
    /// byte for byte as it was.
    pub dry_run: bool,
    /// What the caller answers.
    pub out: R,
}

/// What [`update`] did.
#[derive(Debug)]
pub struct Updated<R> {
    /// The time it evaluated at: the clock, or just after the tenant's
    /// last evaluation if that is later (a tenant's evaluations are
    /// strictly ordered, one per millisecond at most).
    pub at: Ms,
    /// Signals new to the store.
    pub fresh: usize,
    /// Signals it already had (same tenant, name and time).
    pub duplicates: usize,
    pub out: R,
}

/// Why an update was not made.
#[derive(Debug)]
pub enum UpdateError {
    /// The caller refused it: nothing was written.
    Refused(String),
    Store(StoreError),
}

impl From<StoreError> for UpdateError {
    fn from(e: StoreError) -> Self {
        UpdateError::Store(e)
    }
}

impl From<rusqlite::Error> for UpdateError {
    fn from(e: rusqlite::Error) -> Self {
        UpdateError::Store(e.into())
    }
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpdateError::Refused(why) => f.write_str(why),
            UpdateError::Store(e) => write!(f, "{e}"),
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt("a tenant-benchmark record", e))
}

fn record_from(text: &str) -> Result<TenantRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("a tenant-benchmark tenant", e))
}

fn evaluation_from(text: &str) -> Result<Evaluation, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("a tenant-benchmark evaluation", e))
}

/// Merges new signals into the record's latest ones: a signal replaces
/// the one kept under its name only when it was measured later.
pub fn merge(record: &mut TenantRecord, fresh: &[&SignalRow]) {
    for s in fresh {
        if record
            .signals
            .get(&s.name)
            .is_none_or(|k| k.at.unwrap_or(Ms::MIN) < s.at.unwrap_or(Ms::MIN))
        {
            record.signals.insert(
                s.name.clone(),
                Signal {
                    value: s.value.clone(),
                    at: s.at,
                    source: s.source.clone(),
                },
            );
        }
    }
}

type Eval = (String, String, i64, Ms, Option<f64>, String);

fn eval_rows(evals: &[Evaluation]) -> Result<Vec<Eval>, StoreError> {
    evals
        .iter()
        .map(|e| {
            Ok((
                e.tenant.clone(),
                e.score.profile.clone(),
                e.score.version,
                e.at,
                e.score.score,
                json(e)?,
            ))
        })
        .collect()
}

const SQLITE_PUT_SCORE: &str =
    "INSERT INTO bench_scores (tenant, profile, version, at_ms, score, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (tenant, profile, version, at_ms) DO UPDATE SET score = excluded.score, record = excluded.record";

const PG_PUT_SCORES: &str =
    "INSERT INTO bench_scores (tenant, profile, version, at_ms, score, record)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::float8[], $6::text[])
     ON CONFLICT (tenant, profile, version, at_ms) DO UPDATE SET score = excluded.score, record = excluded.record";

type Columns = (
    Vec<String>,
    Vec<String>,
    Vec<i64>,
    Vec<i64>,
    Vec<Option<f64>>,
    Vec<String>,
);

fn columns(rows: Vec<Eval>) -> Columns {
    let mut c: Columns = Default::default();
    for (t, p, v, a, s, r) in rows {
        c.0.push(t);
        c.1.push(p);
        c.2.push(v);
        c.3.push(a);
        c.4.push(s);
        c.5.push(r);
    }
    c
}

/// The time an update evaluates at, read under the tenant's lock: `now`,
/// or just after the tenant's last evaluation when that is not earlier
/// (another replica's clock, or two requests in one millisecond).
fn evaluation_time(record: &TenantRecord, now: Ms) -> Ms {
    match record.last_at {
        Some(last) if last >= now => last + 1,
        _ => now,
    }
}

/// The signals with their measurement time: when not given, `at`.
fn timed(signals: Vec<SignalRow>, at: Ms) -> Vec<SignalRow> {
    signals
        .into_iter()
        .map(|mut s| {
            s.at.get_or_insert(at);
            s
        })
        .collect()
}

/// Updates one tenant, as described at the top of this file: under the
/// tenant's lock the evaluation time is fixed ([`Updated::at`]), the
/// `signals` are recorded (received then) and merged, then `f` evaluates
/// on the locked record at that time and says what to write.
pub fn update<R, F>(
    store: &mut Store,
    tenant: &str,
    signals: Vec<SignalRow>,
    now: Ms,
    f: F,
) -> Result<Updated<R>, UpdateError>
where
    F: FnOnce(&mut TenantRecord, Ms) -> Result<Change<R>, String> + Send + 'static,
    R: Send + 'static,
{
    let tenant = tenant.to_string();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<String> = tx
                .prepare_cached("SELECT record FROM bench_tenants WHERE tenant = ?1")?
                .query_row(params![tenant], |r| r.get(0))
                .optional()?;
            let mut record = match row {
                Some(t) => record_from(&t)?,
                None => TenantRecord {
                    tenant: tenant.clone(),
                    ..Default::default()
                },
            };
            let now = evaluation_time(&record, now);
            let signals = timed(signals, now);
            let mut fresh = Vec::new();
            for s in &signals {
                let n = tx
                    .prepare_cached(
                        "INSERT INTO bench_signals (tenant, name, at_ms, received_ms, value, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![tenant, s.name, s.at.unwrap_or(now), now, json(&s.value)?, s.source])?;
                if n == 1 {
                    fresh.push(s);
                }
            }
            merge(&mut record, &fresh);
            let change = f(&mut record, now).map_err(UpdateError::Refused)?;
            // A dry run drops the transaction: rolled back.
            if !change.dry_run && (change.write || !fresh.is_empty()) {
                record.last_at = Some(now);
                for (t, p, v, a, s, r) in eval_rows(&change.evaluations)? {
                    tx.prepare_cached(SQLITE_PUT_SCORE)?
                        .execute(params![t, p, v, a, s, r])?;
                }
                tx.prepare_cached(
                    "INSERT INTO bench_tenants (tenant, version, record) VALUES (?1, 1, ?2)
                     ON CONFLICT (tenant) DO UPDATE
                     SET version = bench_tenants.version + 1, record = excluded.record",
                )?
                .execute(params![tenant, json(&record)?])?;
                for a in &change.audit {
                    insert_audit(&tx, a)?;
                }
                tx.commit()?;
            }
            Ok(Updated {
                at: now,
                fresh: fresh.len(),
                duplicates: signals.len() - fresh.len(),
                out: change.out,
            })
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let empty = json(&TenantRecord {
                tenant: tenant.clone(),
                ..Default::default()
            })?;
            tx.execute(
                "INSERT INTO bench_tenants (tenant, version, record) VALUES ($1, 0, $2)
                 ON CONFLICT DO NOTHING",
                &[&tenant, &empty],
            )
            .await?;
            let text: String = tx
                .query_one(
                    "SELECT record FROM bench_tenants WHERE tenant = $1 FOR UPDATE",
                    &[&tenant],
                )
                .await?
                .get(0);
            let mut record = record_from(&text)?;
            let now = evaluation_time(&record, now);
            let signals = timed(signals, now);
            let (mut names, mut ats, mut values, mut sources) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for s in &signals {
                names.push(s.name.clone());
                ats.push(s.at.unwrap_or(now));
                values.push(json(&s.value)?);
                sources.push(s.source.clone());
            }
            let inserted = tx
                .query(
                    "INSERT INTO bench_signals (tenant, name, at_ms, received_ms, value, source)
                     SELECT $1, n, a, $2, v, s FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[]) AS u(n, a, v, s)
                     ON CONFLICT DO NOTHING
                     RETURNING name, at_ms",
                    &[&tenant, &now, &names, &ats, &values, &sources],
                )
                .await?;
            let mut unclaimed: HashSet<(String, i64)> =
                inserted.iter().map(|r| (r.get(0), r.get(1))).collect();
            let fresh: Vec<&SignalRow> = signals
                .iter()
                .filter(|s| unclaimed.remove(&(s.name.clone(), s.at.unwrap_or(now))))
                .collect();
            merge(&mut record, &fresh);
            let n_fresh = fresh.len();
            let change = match f(&mut record, now) {
                Ok(c) => c,
                // Dropping the transaction rolls it back.
                Err(why) => return Ok(Err(UpdateError::Refused(why))),
            };
            if !change.dry_run && (change.write || n_fresh > 0) {
                record.last_at = Some(now);
                let (t, p, v, a, s, r) = columns(eval_rows(&change.evaluations)?);
                tx.execute(PG_PUT_SCORES, &[&t, &p, &v, &a, &s, &r]).await?;
                tx.execute(
                    "UPDATE bench_tenants SET version = version + 1, record = $2 WHERE tenant = $1",
                    &[&tenant, &json(&record)?],
                )
                .await?;
                pg_insert_with(&tx, &change.audit).await?;
                tx.commit().await?;
            }
            Ok(Ok(Updated {
                at: now,
                fresh: n_fresh,
                duplicates: signals.len() - n_fresh,
                out: change.out,
            }))
        })?,
    }
}

/// Every tenant the store knows, in order.
pub fn tenants(store: &Store) -> Result<Vec<String>, StoreError> {
    const SQL: &str = "SELECT tenant FROM bench_tenants WHERE version > 0 ORDER BY tenant";
    match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(SQL)?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            Ok(client
                .query(SQL, &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        }),
    }
}

/// One tenant's record (`None`: never seen).
pub fn record(store: &Store, tenant: &str) -> Result<Option<TenantRecord>, StoreError> {
    let text: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT record FROM bench_tenants WHERE tenant = ?1 AND version > 0")?
            .query_row(params![tenant], |r| r.get(0))
            .optional()?,
        Backend::Postgres(pg) => {
            let tenant = tenant.to_string();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query_opt(
                        "SELECT record FROM bench_tenants WHERE tenant = $1 AND version > 0",
                        &[&tenant],
                    )
                    .await?
                    .map(|r| r.get(0)))
            })?
        }
    };
    text.map(|t| record_from(&t)).transpose()
}

/// Which evaluations [`evaluations`] reads.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub tenant: String,
    pub profile: String,
    /// `None`: any version.
    pub version: Option<i64>,
    /// Inclusive bounds on the time.
    pub from: Option<Ms>,
    pub to: Option<Ms>,
    /// Newest first (else oldest first).
    pub newest_first: bool,
    pub limit: usize,
}

/// Stored evaluations of one tenant on one profile (at one time, the
/// highest version first).
pub fn evaluations(store: &Store, q: &Query) -> Result<Vec<Evaluation>, StoreError> {
    evaluation_texts(store, q)?
        .iter()
        .map(|t| evaluation_from(t))
        .collect()
}

/// [`evaluations`] as the JSON the store keeps (what the score route
/// answers as is).
pub fn evaluation_texts(store: &Store, q: &Query) -> Result<Vec<String>, StoreError> {
    let order = if q.newest_first { "DESC" } else { "ASC" };
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let (from, to) = (q.from.unwrap_or(Ms::MIN), q.to.unwrap_or(Ms::MAX));
    let version = q.version.unwrap_or(-1);
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let sql = format!(
                "SELECT record FROM bench_scores
                 WHERE tenant = ?1 AND profile = ?2 AND (?3 < 0 OR version = ?3)
                   AND at_ms >= ?4 AND at_ms <= ?5
                 ORDER BY at_ms {order}, version DESC LIMIT ?6"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![q.tenant, q.profile, version, from, to, limit],
                |r| r.get(0),
            )?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => {
            let sql = format!(
                "SELECT record FROM bench_scores
                 WHERE tenant = $1 AND profile = $2 AND ($3::bigint < 0 OR version = $3)
                   AND at_ms >= $4 AND at_ms <= $5
                 ORDER BY at_ms {order}, version DESC LIMIT $6"
            );
            let (t, p) = (q.tenant.clone(), q.profile.clone());
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query(&sql, &[&t, &p, &version, &from, &to, &limit])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect())
            })?
        }
    };
    Ok(texts)
}

/// The points a backfill evaluates at, from the tenant's stored history
/// under `profile` (any version) and its signals as they were received.
fn points(
    times: Vec<(Ms, String)>,
    signals: Vec<(String, Ms, Ms, String, Option<String>)>,
) -> Result<Vec<Point>, StoreError> {
    let mut out: Vec<Point> = Vec::new();
    let mut known = TenantRecord::default();
    let mut next = 0;
    for (at, text) in times {
        if out.last().is_some_and(|p| p.at == at) {
            continue;
        }
        let facts = evaluation_from(&text)?.facts;
        let mut fresh = Vec::new();
        while next < signals.len() && signals[next].2 <= at {
            let (name, s_at, _, value, source) = &signals[next];
            fresh.push(SignalRow {
                name: name.clone(),
                value: serde_json::from_str(value).map_err(|e| corrupt("a stored signal", e))?,
                at: Some(*s_at),
                source: source.clone(),
            });
            next += 1;
        }
        merge(&mut known, &fresh.iter().collect::<Vec<_>>());
        out.push(Point {
            at,
            facts,
            signals: known.signals.clone(),
        });
    }
    Ok(out)
}

/// What a backfill of one tenant did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backfilled {
    /// Evaluations written under the version.
    pub evaluations: usize,
    /// Of those, how many differ in score or badge from what was stored
    /// at the same time (under any version).
    pub changed: usize,
}

/// Recomputes `tenant`'s history on `profile` under `version` in one
/// transaction: the points are the times of its stored evaluations (any
/// version) with the signals received by then; `f` replays them (see
/// [`crate::engine::replay`]) and gives the evaluations, the state after
/// them, and the audit events. The version's earlier rows are replaced
/// and the tenant's state for the profile becomes the replay's. A
/// `dry_run` counts what would change and writes nothing.
pub fn backfill<F>(
    store: &mut Store,
    tenant: &str,
    profile: &str,
    version: i64,
    dry_run: bool,
    f: F,
) -> Result<Backfilled, StoreError>
where
    F: FnOnce(&[Point]) -> (Vec<Evaluation>, ProfileState, Vec<AuditEvent>) + Send + 'static,
{
    let (tenant, profile) = (tenant.to_string(), profile.to_string());
    const TIMES: &str = "SELECT at_ms, record, version FROM bench_scores WHERE tenant = $1 AND profile = $2 ORDER BY at_ms, version DESC";
    const SIGNALS: &str = "SELECT name, at_ms, received_ms, value, source FROM bench_signals WHERE tenant = $1 ORDER BY received_ms, at_ms, name";
    // What was stored, to count what the backfill changed.
    let compare = |old: &[(Ms, String)], new: &[Evaluation]| -> Result<usize, StoreError> {
        let mut before: BTreeMap<Ms, (Option<f64>, Option<String>)> = BTreeMap::new();
        for (at, text) in old {
            let e = evaluation_from(text)?;
            before.entry(*at).or_insert((e.score.score, e.badge));
        }
        Ok(new
            .iter()
            .filter(|e| before.get(&e.at) != Some(&(e.score.score, e.badge.clone())))
            .count())
    };
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(text) = tx
                .prepare_cached("SELECT record FROM bench_tenants WHERE tenant = ?1")?
                .query_row(params![tenant], |r| r.get::<_, String>(0))
                .optional()?
            else {
                return Ok(Backfilled::default());
            };
            let mut record = record_from(&text)?;
            let times: Vec<(Ms, String)> = tx
                .prepare_cached(&TIMES.replace('$', "?"))?
                .query_map(params![tenant, profile], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let signals = tx
                .prepare_cached(&SIGNALS.replace('$', "?"))?
                .query_map(params![tenant], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let pts = points(times.clone(), signals)?;
            let (evals, state, audit) = f(&pts);
            let changed = compare(&times, &evals)?;
            if dry_run {
                return Ok(Backfilled {
                    evaluations: evals.len(),
                    changed,
                });
            }
            tx.prepare_cached(
                "DELETE FROM bench_scores WHERE tenant = ?1 AND profile = ?2 AND version = ?3",
            )?
            .execute(params![tenant, profile, version])?;
            for (t, p, v, a, s, r) in eval_rows(&evals)? {
                tx.prepare_cached(SQLITE_PUT_SCORE)?
                    .execute(params![t, p, v, a, s, r])?;
            }
            record.profiles.insert(profile.clone(), state);
            tx.prepare_cached(
                "UPDATE bench_tenants SET version = version + 1, record = ?2 WHERE tenant = ?1",
            )?
            .execute(params![tenant, json(&record)?])?;
            for a in &audit {
                insert_audit(&tx, a)?;
            }
            tx.commit()?;
            Ok(Backfilled {
                evaluations: evals.len(),
                changed,
            })
        }
        Backend::Postgres(pg) => pg.block_on(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    "SELECT record FROM bench_tenants WHERE tenant = $1 FOR UPDATE",
                    &[&tenant],
                )
                .await?
            else {
                return Ok(Backfilled::default());
            };
            let mut record = record_from(&row.get::<_, String>(0))?;
            let times: Vec<(Ms, String)> = tx
                .query(TIMES, &[&tenant, &profile])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let signals = tx
                .query(SIGNALS, &[&tenant])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect();
            let pts = points(times.clone(), signals)?;
            let (evals, state, audit) = f(&pts);
            let changed = compare(&times, &evals)?;
            if dry_run {
                return Ok(Backfilled {
                    evaluations: evals.len(),
                    changed,
                });
            }
            tx.execute(
                "DELETE FROM bench_scores WHERE tenant = $1 AND profile = $2 AND version = $3",
                &[&tenant, &profile, &version],
            )
            .await?;
            let (t, p, v, a, s, r) = columns(eval_rows(&evals)?);
            tx.execute(PG_PUT_SCORES, &[&t, &p, &v, &a, &s, &r]).await?;
            record.profiles.insert(profile.clone(), state);
            tx.execute(
                "UPDATE bench_tenants SET version = version + 1, record = $2 WHERE tenant = $1",
                &[&tenant, &json(&record)?],
            )
            .await?;
            pg_insert_with(&tx, &audit).await?;
            tx.commit().await?;
            Ok(Backfilled {
                evaluations: evals.len(),
                changed,
            })
        }),
    }
}
