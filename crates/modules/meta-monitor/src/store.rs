//! The meta-monitor's tables and queries in the shared store, on SQLite
//! and PostgreSQL.
//!
//! - `monitor_instances`: one row per watcher and tenant, the
//!   [`Instance`] as JSON and a `version`;
//! - `monitor_seen`: the dedup keys of the events applied (source and
//!   sequence number, or source, kind and run id), so a replayed heartbeat
//!   counts once, also when it reaches another replica;
//! - `monitor_meta`: the monitor's own times (when its sweep last ran).
//!
//! [`ingest`] applies a batch of events in **one transaction**: it locks
//! the instances the batch touches (in key order, so two replicas never
//! deadlock), records the dedup keys (a key already there is a
//! duplicate), runs [`engine::apply`] on each new event in the order given,
//! writes the instances back and appends the audit events (one for the
//! batch, one per stored transition). Two replicas ingesting heartbeats of
//! one watcher serialize on its row.

use crate::engine::{self, Applied, Refusal};
use crate::incidents::Incident;
use crate::model::{Event, Instance, Ms, Stored};
use crate::watchers::Watchers;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::{BTreeMap, HashSet};
use tenet_store::audit::{insert_audit, pg_insert_with};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[MIGRATION_1, MIGRATION_2, MIGRATION_3];

const MIGRATION_3: Migration = Migration {
    module: crate::MODULE,
    version: 3,
    sqlite: "CREATE TABLE monitor_tenants (
        tenant      TEXT PRIMARY KEY,
        facts       TEXT NOT NULL,
        updated_ms  INTEGER NOT NULL
    );",
    postgres: "CREATE TABLE monitor_tenants (
        tenant      TEXT PRIMARY KEY,
        facts       TEXT NOT NULL,
        updated_ms  BIGINT NOT NULL
    );",
};

const MIGRATION_2: Migration = Migration {
    module: crate::MODULE,
    version: 2,
    sqlite: "CREATE TABLE monitor_incidents (
        id         TEXT PRIMARY KEY,
        watcher    TEXT NOT NULL,
        tenant     TEXT NOT NULL,
        state      TEXT NOT NULL,
        opened_ms  INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE UNIQUE INDEX monitor_incidents_one_open ON monitor_incidents (watcher, tenant) WHERE state = 'open';
    CREATE INDEX monitor_incidents_by_opened ON monitor_incidents (opened_ms, id);",
    postgres: "CREATE TABLE monitor_incidents (
        id         TEXT PRIMARY KEY,
        watcher    TEXT NOT NULL,
        tenant     TEXT NOT NULL,
        state      TEXT NOT NULL,
        opened_ms  BIGINT NOT NULL,
        version    BIGINT NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE UNIQUE INDEX monitor_incidents_one_open ON monitor_incidents (watcher, tenant) WHERE state = 'open';
    CREATE INDEX monitor_incidents_by_opened ON monitor_incidents (opened_ms, id);",
};

const MIGRATION_1: Migration = Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE monitor_instances (
        watcher  TEXT NOT NULL,
        tenant   TEXT NOT NULL,
        version  INTEGER NOT NULL,
        record   TEXT NOT NULL,
        PRIMARY KEY (watcher, tenant)
    );
    CREATE TABLE monitor_seen (
        watcher  TEXT NOT NULL,
        tenant   TEXT NOT NULL,
        key      TEXT NOT NULL,
        at_ms    INTEGER NOT NULL,
        PRIMARY KEY (watcher, tenant, key)
    );
    CREATE INDEX monitor_seen_by_at ON monitor_seen (at_ms);
    CREATE TABLE monitor_meta (
        name     TEXT PRIMARY KEY,
        ms       INTEGER NOT NULL
    );",
    postgres: "CREATE TABLE monitor_instances (
        watcher  TEXT NOT NULL,
        tenant   TEXT NOT NULL,
        version  BIGINT NOT NULL,
        record   TEXT NOT NULL,
        PRIMARY KEY (watcher, tenant)
    );
    CREATE TABLE monitor_seen (
        watcher  TEXT NOT NULL,
        tenant   TEXT NOT NULL,
        key      TEXT NOT NULL,
        at_ms    BIGINT NOT NULL,
        PRIMARY KEY (watcher, tenant, key)
    );
    CREATE INDEX monitor_seen_by_at ON monitor_seen (at_ms);
    CREATE TABLE monitor_meta (
        name     TEXT PRIMARY KEY,
        ms       BIGINT NOT NULL
    );",
};

/// Opens the store at `location` with this module's tables.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub applied: u64,
    pub duplicates: u64,
    pub late: u64,
    /// The events ignored (their index in the batch) and why.
    pub ignored: Vec<(usize, &'static str)>,
    /// Stored transitions: (watcher, tenant, source, from, to).
    pub transitions: Vec<(String, String, String, Stored, Stored)>,
}

/// Why a batch was not ingested.
#[derive(Debug)]
pub enum IngestError {
    /// The event at this index cannot be applied: nothing was written.
    Refused(usize, Refusal),
    Store(StoreError),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Store(e)
    }
}

impl From<rusqlite::Error> for IngestError {
    fn from(e: rusqlite::Error) -> Self {
        IngestError::Store(e.into())
    }
}

fn to_json(r: &Instance) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json(text: &str) -> Result<Instance, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("a meta-monitor instance: {e}")))
}

/// Checks a batch against the watchers before anything is written: the
/// first event naming an unknown watcher or an undeclared source.
pub fn validate(watchers: &Watchers, events: &[Event]) -> Result<(), (usize, Refusal)> {
    for (i, e) in events.iter().enumerate() {
        let w = watchers.get(&e.watcher).ok_or_else(|| {
            (
                i,
                Refusal::UnknownWatcher {
                    watcher: e.watcher.clone(),
                    known: watchers.names().iter().map(|s| s.to_string()).collect(),
                },
            )
        })?;
        if w.stream_of(&e.source).is_none() {
            return Err((
                i,
                Refusal::UnknownSource {
                    watcher: w.name.clone(),
                    source: e.source.clone(),
                    declared: w.sources.clone(),
                },
            ));
        }
    }
    Ok(())
}

/// Runs the engine over the batch on the locked instances; `fresh(i)`
/// says whether event `i` is new (its dedup key was not there).
fn fold(
    watchers: &Watchers,
    events: &[Event],
    instances: &mut BTreeMap<(String, String), Instance>,
    fresh: &dyn Fn(usize) -> bool,
) -> Result<Report, IngestError> {
    let mut report = Report::default();
    // In time order, the same `at` in the order given (as a replay does).
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].at);
    for i in order {
        let e = &events[i];
        if !fresh(i) {
            report.duplicates += 1;
            continue;
        }
        let w = watchers.get(&e.watcher).ok_or_else(|| {
            IngestError::Refused(
                i,
                Refusal::UnknownWatcher {
                    watcher: e.watcher.clone(),
                    known: watchers.names().iter().map(|s| s.to_string()).collect(),
                },
            )
        })?;
        let inst = instances
            .entry((e.watcher.clone(), e.tenant.clone()))
            .or_insert_with(|| Instance {
                watcher: e.watcher.clone(),
                tenant: e.tenant.clone(),
                ..Default::default()
            });
        let before: BTreeMap<String, Stored> = inst
            .sources
            .iter()
            .map(|(k, s)| (k.clone(), s.status))
            .collect();
        match engine::apply(inst, w, e).map_err(|r| IngestError::Refused(i, r))? {
            Applied::Changed | Applied::Recorded => report.applied += 1,
            Applied::Late => report.late += 1,
            Applied::Ignored(why) => report.ignored.push((i, why)),
        }
        for (src, s) in &inst.sources {
            let was = before.get(src).copied().unwrap_or(Stored::New);
            if was != s.status {
                report.transitions.push((
                    e.watcher.clone(),
                    e.tenant.clone(),
                    src.clone(),
                    was,
                    s.status,
                ));
            }
        }
    }
    Ok(report)
}

/// Applies a batch of events, as described at the top of this file.
/// `audit` makes the batch's audit events from its report; they are
/// written in the same transaction.
pub fn ingest<A>(
    store: &mut Store,
    watchers: &Watchers,
    events: &[Event],
    audit: A,
) -> Result<Report, IngestError>
where
    A: Fn(&Report) -> Vec<AuditEvent> + Send + 'static,
{
    validate(watchers, events).map_err(|(i, r)| IngestError::Refused(i, r))?;
    let mut keys: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.watcher.clone(), e.tenant.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut instances = BTreeMap::new();
            for (w, t) in &keys {
                let row: Option<String> = tx
                    .prepare_cached(
                        "SELECT record FROM monitor_instances WHERE watcher = ?1 AND tenant = ?2",
                    )?
                    .query_row(params![w, t], |r| r.get(0))
                    .optional()?;
                if let Some(text) = row {
                    instances.insert((w.clone(), t.clone()), from_json(&text)?);
                }
            }
            let mut new = vec![true; events.len()];
            for (i, e) in events.iter().enumerate() {
                if let Some(k) = e.dedup_key() {
                    let n = tx
                        .prepare_cached(
                            "INSERT INTO monitor_seen (watcher, tenant, key, at_ms) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT DO NOTHING",
                        )?
                        .execute(params![e.watcher, e.tenant, k, e.at])?;
                    new[i] = n == 1;
                }
            }
            let report = fold(watchers, events, &mut instances, &|i| new[i])?;
            for ((w, t), inst) in &instances {
                tx.prepare_cached(
                    "INSERT INTO monitor_instances (watcher, tenant, version, record) VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (watcher, tenant) DO UPDATE
                     SET version = monitor_instances.version + 1, record = excluded.record",
                )?
                .execute(params![w, t, to_json(inst)?])?;
            }
            for a in audit(&report) {
                insert_audit(&tx, &a)?;
            }
            tx.commit()?;
            Ok(report)
        }
        Backend::Postgres(pg) => {
            let events = events.to_vec();
            let watchers = watchers.clone();
            let (ws, ts): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
            let report = pg.block_on(|pool| {
                async move {
                    let mut client = pool.get().await.map_err(StoreError::from)?;
                    let tx = client.transaction().await.map_err(StoreError::from)?;
                    let empty: Vec<String> = ws
                        .iter()
                        .zip(&ts)
                        .map(|(w, t)| {
                            to_json(&Instance {
                                watcher: w.clone(),
                                tenant: t.clone(),
                                ..Default::default()
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    // Make the rows, then lock them in key order.
                    tx.execute(
                        "INSERT INTO monitor_instances (watcher, tenant, version, record)
                         SELECT w, t, 0, r FROM unnest($1::text[], $2::text[], $3::text[]) AS u(w, t, r)
                         ORDER BY w, t
                         ON CONFLICT DO NOTHING",
                        &[&ws, &ts, &empty],
                    )
                    .await
                    .map_err(StoreError::from)?;
                    let rows = tx
                        .query(
                            "SELECT watcher, tenant, record FROM monitor_instances
                             WHERE (watcher, tenant) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                             ORDER BY watcher, tenant FOR UPDATE",
                            &[&ws, &ts],
                        )
                        .await
                        .map_err(StoreError::from)?;
                    let mut instances = BTreeMap::new();
                    for r in rows {
                        let (w, t, text): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                        instances.insert((w, t), from_json(&text)?);
                    }
                    let (mut sw, mut st, mut sk, mut sa) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                    for e in &events {
                        if let Some(k) = e.dedup_key() {
                            sw.push(e.watcher.clone());
                            st.push(e.tenant.clone());
                            sk.push(k);
                            sa.push(e.at);
                        }
                    }
                    let inserted = tx
                        .query(
                            "INSERT INTO monitor_seen (watcher, tenant, key, at_ms)
                             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                             ON CONFLICT DO NOTHING
                             RETURNING watcher, tenant, key",
                            &[&sw, &st, &sk, &sa],
                        )
                        .await
                        .map_err(StoreError::from)?;
                    let mut unclaimed: HashSet<(String, String, String)> = inserted
                        .iter()
                        .map(|r| (r.get(0), r.get(1), r.get(2)))
                        .collect();
                    // The first event with a key just inserted is new;
                    // another with the same key in the batch is a duplicate.
                    let new: Vec<bool> = events
                        .iter()
                        .map(|e| match e.dedup_key() {
                            None => true,
                            Some(k) => unclaimed.remove(&(e.watcher.clone(), e.tenant.clone(), k)),
                        })
                        .collect();
                    let report = match fold(&watchers, &events, &mut instances, &|i| new[i]) {
                        Ok(r) => r,
                        // Dropping the transaction rolls it back.
                        Err(e) => return Ok(Err(e)),
                    };
                    let (mut uw, mut ut, mut ur) = (Vec::new(), Vec::new(), Vec::new());
                    for ((w, t), inst) in &instances {
                        uw.push(w.clone());
                        ut.push(t.clone());
                        ur.push(to_json(inst)?);
                    }
                    tx.execute(
                        "UPDATE monitor_instances m SET version = m.version + 1, record = u.r
                         FROM unnest($1::text[], $2::text[], $3::text[]) AS u(w, t, r)
                         WHERE m.watcher = u.w AND m.tenant = u.t",
                        &[&uw, &ut, &ur],
                    )
                    .await
                    .map_err(StoreError::from)?;
                    let a = audit(&report);
                    pg_insert_with(&tx, &a).await?;
                    tx.commit().await.map_err(StoreError::from)?;
                    Ok(Ok(report))
                }
            });
            report?
        }
    }
}

/// Every instance, in key order.
pub fn all(store: &Store) -> Result<Vec<Instance>, StoreError> {
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT record FROM monitor_instances WHERE version > 0 ORDER BY watcher, tenant",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT record FROM monitor_instances WHERE version > 0 ORDER BY watcher, tenant",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?,
    };
    texts.iter().map(|t| from_json(t)).collect()
}

/// A time the monitor keeps about itself (`None`: never written).
pub fn meta(store: &Store, name: &str) -> Result<Option<Ms>, StoreError> {
    match store.backend() {
        Backend::Sqlite(conn) => Ok(conn
            .prepare_cached("SELECT ms FROM monitor_meta WHERE name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?),
        Backend::Postgres(pg) => {
            let name = name.to_string();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query_opt("SELECT ms FROM monitor_meta WHERE name = $1", &[&name])
                    .await?
                    .map(|r| r.get(0)))
            })
        }
    }
}

/// Sets a time the monitor keeps about itself, never moving it back.
pub fn set_meta(store: &mut Store, name: &str, ms: Ms) -> Result<(), StoreError> {
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            conn.prepare_cached(
                "INSERT INTO monitor_meta (name, ms) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET ms = max(monitor_meta.ms, excluded.ms)",
            )?
            .execute(params![name, ms])?;
            Ok(())
        }
        Backend::Postgres(pg) => {
            let name = name.to_string();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                client
                    .execute(
                        "INSERT INTO monitor_meta (name, ms) VALUES ($1, $2)
                         ON CONFLICT (name) DO UPDATE SET ms = GREATEST(monitor_meta.ms, excluded.ms)",
                        &[&name, &ms],
                    )
                    .await?;
                Ok(())
            })
        }
    }
}

/// Forgets dedup keys of events older than `before` (a replay of events
/// older than that counts again). Returns how many were removed.
pub fn prune_seen(store: &mut Store, before: Ms) -> Result<u64, StoreError> {
    match store.backend_mut() {
        Backend::Sqlite(conn) => Ok(conn
            .prepare_cached("DELETE FROM monitor_seen WHERE at_ms < ?1")?
            .execute(params![before])? as u64),
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            Ok(client
                .execute("DELETE FROM monitor_seen WHERE at_ms < $1", &[&before])
                .await?)
        }),
    }
}

fn incident_json(i: &Incident) -> Result<String, StoreError> {
    serde_json::to_string(i).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn incident_from(text: &str) -> Result<Incident, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("a meta-incident: {e}")))
}

/// Meta-incidents, newest first: only open ones, one tenant's, up to
/// `limit`.
pub fn incidents(
    store: &Store,
    only_open: bool,
    tenant: Option<&str>,
    limit: usize,
) -> Result<Vec<Incident>, StoreError> {
    let limit = limit.clamp(1, 1_000_000) as i64;
    let state: Option<String> = only_open.then(|| "open".to_string());
    let tenant = tenant.map(str::to_string);
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT record FROM monitor_incidents
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR tenant = ?2)
                 ORDER BY opened_ms DESC, id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![state, tenant, limit], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT record FROM monitor_incidents
                     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR tenant = $2)
                     ORDER BY opened_ms DESC, id DESC LIMIT $3",
                    &[&state, &tenant, &limit],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?,
    };
    texts.iter().map(|t| incident_from(t)).collect()
}

/// The incident `id`.
pub fn incident(store: &Store, id: &str) -> Result<Option<Incident>, StoreError> {
    let text: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT record FROM monitor_incidents WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?,
        Backend::Postgres(pg) => {
            let id = id.to_string();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .query_opt("SELECT record FROM monitor_incidents WHERE id = $1", &[&id])
                    .await?
                    .map(|r| r.get(0)))
            })?
        }
    };
    text.as_deref().map(incident_from).transpose()
}

/// Writes the sweep's changes, each with its audit event, in one
/// transaction: a new incident is skipped when one is already open for
/// its watcher (another sweep opened it), an update when the stored
/// version is not the one it was computed from. Returns the incidents
/// written (their pages may go out).
pub fn write_incidents(
    store: &mut Store,
    opened: &[Incident],
    updated: &[Incident],
    audit: &dyn Fn(&Incident, bool) -> AuditEvent,
) -> Result<Vec<String>, StoreError> {
    let mut written = Vec::new();
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for i in opened {
                let n = tx
                    .prepare_cached(
                        "INSERT INTO monitor_incidents (id, watcher, tenant, state, opened_ms, version, record)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![i.id, i.watcher, i.tenant, i.state, i.opened_at, i.version, incident_json(i)?])?;
                if n == 1 {
                    insert_audit(&tx, &audit(i, true))?;
                    written.push(i.id.clone());
                }
            }
            for i in updated {
                let n = tx
                    .prepare_cached(
                        "UPDATE monitor_incidents SET state = ?1, version = ?2, record = ?3
                         WHERE id = ?4 AND version = ?5",
                    )?
                    .execute(params![
                        i.state,
                        i.version,
                        incident_json(i)?,
                        i.id,
                        i.version - 1
                    ])?;
                if n == 1 {
                    insert_audit(&tx, &audit(i, false))?;
                    written.push(i.id.clone());
                }
            }
            tx.commit()?;
            Ok(written)
        }
        Backend::Postgres(pg) => {
            let rows: Vec<(Incident, String, AuditEvent, bool)> = opened
                .iter()
                .map(|i| Ok((i.clone(), incident_json(i)?, audit(i, true), true)))
                .chain(
                    updated
                        .iter()
                        .map(|i| Ok((i.clone(), incident_json(i)?, audit(i, false), false))),
                )
                .collect::<Result<_, StoreError>>()?;
            pg.block_on(|pool| async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let mut written = Vec::new();
                let mut events = Vec::new();
                for (i, json, ev, new) in rows {
                    let n = if new {
                        tx.execute(
                            "INSERT INTO monitor_incidents (id, watcher, tenant, state, opened_ms, version, record)
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                            &[&i.id, &i.watcher, &i.tenant, &i.state, &i.opened_at, &i.version, &json],
                        )
                        .await?
                    } else {
                        tx.execute(
                            "UPDATE monitor_incidents SET state = $1, version = $2, record = $3
                             WHERE id = $4 AND version = $5",
                            &[&i.state, &i.version, &json, &i.id, &(i.version - 1)],
                        )
                        .await?
                    };
                    if n == 1 {
                        events.push(ev);
                        written.push(i.id.clone());
                    }
                }
                pg_insert_with(&tx, &events).await?;
                tx.commit().await?;
                Ok(written)
            })
        }
    }
}

/// Sets a tenant's facts (`{"tenant": {...}, "stats": {...}}`, what
/// `exempt_when` reads) with its audit event, in one transaction.
pub fn set_tenant_facts(
    store: &mut Store,
    tenant: &str,
    facts: &serde_json::Value,
    now: Ms,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(facts).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction()?;
            tx.prepare_cached(
                "INSERT INTO monitor_tenants (tenant, facts, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant) DO UPDATE SET facts = excluded.facts, updated_ms = excluded.updated_ms",
            )?
            .execute(params![tenant, text, now])?;
            insert_audit(&tx, event)?;
            tx.commit()?;
            Ok(())
        }
        Backend::Postgres(pg) => {
            let (tenant, event) = (tenant.to_string(), event.clone());
            pg.block_on(|pool| async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                tx.execute(
                    "INSERT INTO monitor_tenants (tenant, facts, updated_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant) DO UPDATE SET facts = excluded.facts, updated_ms = excluded.updated_ms",
                    &[&tenant, &text, &now],
                )
                .await?;
                pg_insert_with(&tx, &[event]).await?;
                tx.commit().await?;
                Ok(())
            })
        }
    }
}

/// Every tenant's facts.
pub fn tenant_facts(store: &Store) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
    let rows: Vec<(String, String)> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached("SELECT tenant, facts FROM monitor_tenants")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query("SELECT tenant, facts FROM monitor_tenants", &[])
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?,
    };
    rows.into_iter()
        .map(|(t, f)| {
            serde_json::from_str(&f)
                .map(|v| (t, v))
                .map_err(|e| StoreError::Corrupt(format!("a tenant's facts: {e}")))
        })
        .collect()
}
