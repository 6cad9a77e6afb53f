//! The safety-workflows module's table and queries in the shared store,
//! on SQLite and PostgreSQL.
//!
//! One row per kept action: the record as JSON, and beside it the
//! columns its queries filter on (`tenant`, `state`, `created_ms`,
//! `due_ms`: when the sweep must look at it next) and its `version`.
//! Every change is **one transaction with its audit event**, and an
//! update names the version it was computed from
//! (`UPDATE ... WHERE id = ? AND version = ?`): when another replica
//! changed the action first, nothing is written and the caller reads the
//! action again and re-runs the engine. That is how an approved action
//! executes once, also with two replicas on one PostgreSQL.

use crate::engine;
use crate::model::{ActionRecord, Ms, State};
use rusqlite::{params, OptionalExtension};
use tenet_store::audit::{insert_audit, pg_columns, pg_insert_with, PgColumns, PG_INSERT_COLUMNS};
use tenet_store::{AuditEvent, Backend, Location, Migration, Store, StoreError};

/// The module's migrations, versions 1, 2, 3... under [`crate::MODULE`].
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: crate::MODULE,
    version: 1,
    sqlite: "CREATE TABLE safety_actions (
        id          TEXT PRIMARY KEY,
        tenant      TEXT,
        state       TEXT NOT NULL,
        requester   TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        due_ms      INTEGER,
        version     INTEGER NOT NULL,
        record      TEXT NOT NULL
    );
    CREATE INDEX safety_actions_by_created ON safety_actions (created_ms, id);
    CREATE INDEX safety_actions_by_due ON safety_actions (due_ms) WHERE due_ms IS NOT NULL;",
    postgres: "CREATE TABLE safety_actions (
        id          TEXT PRIMARY KEY,
        tenant      TEXT,
        state       TEXT NOT NULL,
        requester   TEXT NOT NULL,
        created_ms  BIGINT NOT NULL,
        due_ms      BIGINT,
        version     BIGINT NOT NULL,
        record      TEXT NOT NULL
    );
    CREATE INDEX safety_actions_by_created ON safety_actions (created_ms, id);
    CREATE INDEX safety_actions_by_due ON safety_actions (due_ms) WHERE due_ms IS NOT NULL;",
}];

/// Opens the store at `location` with this module's table.
pub fn open(location: &Location) -> Result<Store, StoreError> {
    let mut store = Store::connect(location)?;
    store.migrate(MIGRATIONS)?;
    Ok(store)
}

/// Which actions [`list`] returns: newest first, after the cursor.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub state: Option<State>,
    /// Only this tenant's actions (an identity bound to a tenant sees no other).
    pub tenant: Option<String>,
    pub limit: usize,
    /// The `(created_ms, id)` of the last action of the previous page.
    pub after: Option<(Ms, String)>,
}

fn to_json(r: &ActionRecord) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json(text: &str) -> Result<ActionRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("a safety action: {e}")))
}

/// Keeps a new action with its audit event, in one transaction. An id
/// already kept is a [`StoreError::Conflict`].
pub fn insert(store: &mut Store, r: &ActionRecord, event: &AuditEvent) -> Result<(), StoreError> {
    insert_batch(store, &[(r.clone(), event.clone())])
}

/// Keeps new actions with their audit events, all in one transaction
/// (one commit, one sync: a server's group commit): every one or none.
pub fn insert_batch(
    store: &mut Store,
    items: &[(ActionRecord, AuditEvent)],
) -> Result<(), StoreError> {
    let rows: Vec<(ActionRecord, String, Option<Ms>, AuditEvent)> = items
        .iter()
        .map(|(r, e)| Ok((r.clone(), to_json(r)?, engine::next_due(r), e.clone())))
        .collect::<Result<_, StoreError>>()?;
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction()?;
            for (r, json, due, event) in &rows {
                tx.prepare_cached(
                    "INSERT INTO safety_actions (id, tenant, state, requester, created_ms, due_ms, version, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    r.id,
                    r.tenant,
                    r.state.as_str(),
                    r.requester.id,
                    r.created_ms,
                    due,
                    r.version,
                    json
                ])?;
                insert_audit(&tx, event)?;
            }
            tx.commit()?;
            Ok(())
        }
        // One statement for the records and one for the events, whatever
        // the batch size: two round trips and one commit.
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let n = rows.len();
            let (mut ids, mut tenants, mut states, mut requesters) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut created, mut dues, mut versions, mut records) =
                (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let mut events = Vec::with_capacity(n);
            for (r, json, due, event) in rows {
                ids.push(r.id.clone());
                tenants.push(r.tenant.clone());
                states.push(r.state.as_str().to_string());
                requesters.push(r.requester.id.clone());
                created.push(r.created_ms);
                dues.push(due);
                versions.push(r.version);
                records.push(json);
                events.push(event);
            }
            // One statement, so one round trip and atomic without a
            // transaction: the records, and their events in the audit log.
            let PgColumns { text, latency } = pg_columns(&events)?;
            let [a, at, src, subj, actor, scope, outcome, reason, details, etenant, bundle] = &text;
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "WITH kept AS (
                       INSERT INTO safety_actions (id, tenant, state, requester, created_ms, due_ms, version, record)
                       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                            $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]))
                     INSERT INTO audit_events ({PG_INSERT_COLUMNS})
                     SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                                          $15::text[], $16::text[], $17::bigint[], $18::text[], $19::text[], $20::text[])"
                ))
                .await?;
            client
                .execute(
                    &stmt,
                    &[
                        &ids, &tenants, &states, &requesters, &created, &dues, &versions, &records, a, at,
                        src, subj, actor, scope, outcome, reason, &latency, details, etenant, bundle,
                    ],
                )
                .await?;
            Ok(())
        }),
    }
}

/// Writes a changed action (its `version` one past the stored one) with
/// its audit event, in one transaction, only if the stored action is
/// still at `version - 1`. `Ok(false)`: another change came first and
/// nothing was written.
pub fn update(store: &mut Store, r: &ActionRecord, event: &AuditEvent) -> Result<bool, StoreError> {
    let json = to_json(r)?;
    let due = engine::next_due(r);
    let was = r.version - 1;
    match store.backend_mut() {
        Backend::Sqlite(conn) => {
            let tx = conn.transaction()?;
            let n = tx
                .prepare_cached(
                    "UPDATE safety_actions SET state = ?1, due_ms = ?2, version = ?3, record = ?4
                     WHERE id = ?5 AND version = ?6",
                )?
                .execute(params![r.state.as_str(), due, r.version, json, r.id, was])?;
            if n == 0 {
                return Ok(false); // dropped: rolled back
            }
            insert_audit(&tx, event)?;
            tx.commit()?;
            Ok(true)
        }
        Backend::Postgres(pg) => {
            let (r, event) = (r.clone(), event.clone());
            pg.block_on(|pool| async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let stmt = tx
                    .prepare_cached(
                        "UPDATE safety_actions SET state = $1, due_ms = $2, version = $3, record = $4
                         WHERE id = $5 AND version = $6",
                    )
                    .await?;
                let n = tx
                    .execute(&stmt, &[&r.state.as_str(), &due, &r.version, &json, &r.id, &was])
                    .await?;
                if n == 0 {
                    return Ok(false);
                }
                pg_insert_with(&tx, &[event]).await?;
                tx.commit().await?;
                Ok(true)
            })
        }
    }
}

/// The action `id`, if kept.
pub fn get(store: &Store, id: &str) -> Result<Option<ActionRecord>, StoreError> {
    let text: Option<String> = match store.backend() {
        Backend::Sqlite(conn) => conn
            .prepare_cached("SELECT record FROM safety_actions WHERE id = ?1")?
            .query_row(params![id], |row| row.get(0))
            .optional()?,
        Backend::Postgres(pg) => {
            let id = id.to_string();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                let stmt = client
                    .prepare_cached("SELECT record FROM safety_actions WHERE id = $1")
                    .await?;
                Ok(client.query_opt(&stmt, &[&id]).await?.map(|r| r.get(0)))
            })?
        }
    };
    text.as_deref().map(from_json).transpose()
}

/// Actions newest first (by creation, then id), filtered, one page.
pub fn list(store: &Store, q: &ListQuery) -> Result<Vec<ActionRecord>, StoreError> {
    let limit = q.limit.clamp(1, 1000) as i64;
    let state = q.state.map(|s| s.as_str().to_string());
    let (after_ms, after_id) = match &q.after {
        Some((ms, id)) => (Some(*ms), Some(id.clone())),
        None => (None, None),
    };
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT record FROM safety_actions
                 WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR tenant = ?2)
                   AND (?3 IS NULL OR created_ms < ?3 OR (created_ms = ?3 AND id < ?4))
                 ORDER BY created_ms DESC, id DESC LIMIT ?5",
            )?;
            let rows = stmt
                .query_map(params![state, q.tenant, after_ms, after_id, limit], |row| {
                    row.get(0)
                })?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => {
            let tenant = q.tenant.clone();
            pg.block_on(|pool| async move {
                let client = pool.get().await?;
                let stmt = client
                    .prepare_cached(
                        "SELECT record FROM safety_actions
                         WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR tenant = $2)
                           AND ($3::bigint IS NULL OR created_ms < $3 OR (created_ms = $3 AND id < $4))
                         ORDER BY created_ms DESC, id DESC LIMIT $5",
                    )
                    .await?;
                let rows = client
                    .query(&stmt, &[&state, &tenant, &after_ms, &after_id, &limit])
                    .await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })?
        }
    };
    texts.iter().map(|t| from_json(t)).collect()
}

/// Actions the sweep must look at by `now`, soonest first.
pub fn due(store: &Store, now: Ms, limit: usize) -> Result<Vec<ActionRecord>, StoreError> {
    let limit = limit.clamp(1, 10_000) as i64;
    let texts: Vec<String> = match store.backend() {
        Backend::Sqlite(conn) => {
            let mut stmt = conn.prepare_cached(
                "SELECT record FROM safety_actions WHERE due_ms IS NOT NULL AND due_ms <= ?1
                 ORDER BY due_ms LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now, limit], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        }
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT record FROM safety_actions WHERE due_ms IS NOT NULL AND due_ms <= $1
                     ORDER BY due_ms LIMIT $2",
                )
                .await?;
            let rows = client.query(&stmt, &[&now, &limit]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?,
    };
    texts.iter().map(|t| from_json(t)).collect()
}

/// How often [`step`] reads an action again after losing a race.
pub const MAX_RETRIES: u32 = 16;

/// One step of an action, race-safe: reads the action, runs `f` (an
/// engine step) on it, and writes the result with the audit event
/// `audit` makes of it, in one transaction conditional on the version
/// read. When another change came first it reads the action again and
/// re-runs `f` (so a second execute sees the first and is refused as a
/// replay). A refusal is audited too; one that voids the action writes
/// the void. An unknown id is a `not_found` refusal, audited.
pub fn step<F, A>(
    store: &mut Store,
    id: &str,
    mut f: F,
    audit: A,
) -> Result<Result<engine::Change, engine::Refusal>, StoreError>
where
    F: FnMut(&ActionRecord) -> Result<engine::Change, engine::Refusal>,
    A: Fn(&Result<engine::Change, engine::Refusal>) -> AuditEvent,
{
    for _ in 0..MAX_RETRIES {
        let Some(current) = get(store, id)? else {
            let refused = Err(engine::Refusal::not_found());
            store.record_audit(&audit(&refused))?;
            return Ok(refused);
        };
        let result = f(&current);
        let written = match &result {
            Ok(change) => update(store, &change.record, &audit(&result))?,
            Err(refusal) => match &refusal.void {
                Some(void) => update(store, void, &audit(&result))?,
                None => {
                    store.record_audit(&audit(&result))?;
                    true
                }
            },
        };
        if written {
            return Ok(result);
        }
    }
    Err(StoreError::Conflict(format!(
        "the action {id} kept changing under {MAX_RETRIES} attempts; try again"
    )))
}
