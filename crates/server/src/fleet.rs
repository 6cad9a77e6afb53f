//! Replicas and sweeps: what a server does on a timer, and how replicas
//! sharing one store see each other.
//!
//! In: the replica's name and the bundle it serves; the [`SWEEPS`] list.
//! Out: every `sweeps.interval` (default 5 s), on a blocking thread:
//!
//! 1. **Presence.** The replica records itself in `replicas` (name,
//!    bundle hash, when seen by the database's clock) and reads the fleet
//!    back: the replicas seen within three intervals and the bundle each
//!    serves. `/v1/health` shows it (`fleet`, `converged`), so an operator
//!    rolling out new rules sees when every replica serves them.
//! 2. **Sweeps.** For each sweep it takes or renews the sweep's lease
//!    ([`tenet_store::lease`], three intervals long) and runs the sweep
//!    only while it holds it: exactly one replica runs a given sweep at a
//!    time. A replica that dies stops renewing; once its lease expires the
//!    next replica to ask takes it over, with a higher fencing token.
//!
//! Health reads the last view kept in memory, never the database, so a
//! load balancer polling it adds no load on the store. A store that cannot
//! be reached leaves the last view in place, marked stale, and the
//! replica stops running sweeps until it holds their leases again.
//!
//! Module engines add their time-driven work (heartbeat deadlines, expiring
//! approvals) to [`SWEEPS`]; the built-in `fleet.prune` forgets replicas
//! not seen for an hour.

use crate::state::AppState;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenet_store::lease::{PG_NOW_MS, SQLITE_NOW_MS};
use tenet_store::{Backend, Migration, Store, StoreError};
use utoipa::ToSchema;

/// The server's own tables, under the module `server`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "server",
    version: 1,
    sqlite: "CREATE TABLE replicas (
        name      TEXT PRIMARY KEY,
        bundle    TEXT NOT NULL,
        seen_ms   INTEGER NOT NULL
    );",
    postgres: "CREATE TABLE replicas (
        name      TEXT PRIMARY KEY,
        bundle    TEXT NOT NULL,
        seen_ms   BIGINT NOT NULL
    );",
}];

/// One piece of time-driven work, run by one replica at a time.
pub struct Sweep {
    /// The lease's name (`fleet.prune`).
    pub name: &'static str,
    /// The work; returns how many records it changed.
    pub run: fn(&Store) -> Result<u64, StoreError>,
}

/// Every sweep the server runs.
pub const SWEEPS: &[Sweep] = &[Sweep {
    name: "fleet.prune",
    run: prune,
}];

/// How long a replica unseen is kept in `replicas`.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// A replica as the fleet view shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Member {
    pub replica: String,
    /// The bundle hash it serves.
    pub bundle: String,
    /// How long ago it was last seen, in milliseconds.
    pub seen_ms_ago: i64,
}

/// A sweep's lease as this replica last saw it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SweepState {
    pub name: String,
    /// The replica holding its lease, if any holds it.
    pub leader: Option<String>,
    /// The lease's fencing token.
    pub token: Option<i64>,
    /// What the last run on this replica did, or why it failed.
    pub last_run: Option<String>,
}

/// The last view, for health.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub members: Vec<Member>,
    pub sweeps: Vec<SweepState>,
    /// Why the last tick failed, if it did.
    pub error: Option<String>,
}

/// The fleet runner's handle: its store connection and the last view.
pub struct Fleet {
    store: Arc<Mutex<Store>>,
    view: Mutex<View>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Fleet {
    /// Opens its own connection to the store and migrates the server's
    /// tables.
    pub fn open(location: &tenet_store::Location) -> Result<Fleet, StoreError> {
        let mut store = Store::connect(location)?;
        store.migrate(MIGRATIONS)?;
        Ok(Fleet {
            store: Arc::new(Mutex::new(store)),
            view: Mutex::new(View::default()),
        })
    }

    /// The last view.
    pub fn view(&self) -> View {
        lock(&self.view).clone()
    }
}

/// Runs ticks every `sweeps.interval` until the process ends. Must be
/// called inside the server's runtime.
pub fn start(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(state.config.sweeps.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let s = Arc::clone(&state);
            let _ = tokio::task::spawn_blocking(move || tick(&s)).await;
        }
    })
}

/// One round: presence, then each sweep.
pub fn tick(state: &AppState) {
    let fleet = &state.fleet;
    let replica = &state.config.replica;
    let interval = state.config.sweeps.interval;
    let ttl = interval * 3;
    let store = lock(&fleet.store);
    let members = match present(&store, replica, &state.fingerprint(), ttl) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "the fleet view could not be refreshed");
            lock(&fleet.view).error = Some(e.to_string());
            return;
        }
    };
    let previous = lock(&fleet.view).sweeps.clone();
    let mut sweeps = Vec::with_capacity(SWEEPS.len());
    for sweep in SWEEPS {
        let before = previous.iter().find(|s| s.name == sweep.name);
        let state = match store.acquire_lease(sweep.name, replica, ttl) {
            Ok(Some(lease)) => {
                match before {
                    // Taken over from another replica, or after a gap.
                    Some(b) if b.token != Some(lease.token) => {
                        tracing::info!(
                            sweep = sweep.name,
                            token = lease.token,
                            "leading the sweep"
                        );
                    }
                    Some(_) => {}
                    None => {
                        tracing::debug!(
                            sweep = sweep.name,
                            token = lease.token,
                            "leading the sweep"
                        );
                    }
                }
                let last_run = match (sweep.run)(&store) {
                    Ok(n) => format!("ok: {n} record(s) changed"),
                    Err(e) => {
                        tracing::warn!(sweep = sweep.name, error = %e, "the sweep failed");
                        format!("failed: {e}")
                    }
                };
                SweepState {
                    name: sweep.name.into(),
                    leader: Some(lease.holder),
                    token: Some(lease.token),
                    last_run: Some(last_run),
                }
            }
            Ok(None) => {
                let held = store.lease(sweep.name).ok().flatten();
                SweepState {
                    name: sweep.name.into(),
                    leader: held.as_ref().map(|l| l.holder.clone()),
                    token: held.map(|l| l.token),
                    last_run: before.and_then(|b| b.last_run.clone()),
                }
            }
            Err(e) => SweepState {
                name: sweep.name.into(),
                leader: None,
                token: None,
                last_run: Some(format!("failed: {e}")),
            },
        };
        sweeps.push(state);
    }
    *lock(&fleet.view) = View {
        members,
        sweeps,
        error: None,
    };
}

/// Records this replica and returns the replicas seen within `recent`.
fn present(
    store: &Store,
    replica: &str,
    bundle: &str,
    recent: Duration,
) -> Result<Vec<Member>, StoreError> {
    let recent_ms = recent.as_millis().min(i64::MAX as u128) as i64;
    match store.backend() {
        Backend::Sqlite(conn) => {
            conn.execute(
                &format!(
                    "INSERT INTO replicas (name, bundle, seen_ms) VALUES (?1, ?2, {SQLITE_NOW_MS})
                     ON CONFLICT (name) DO UPDATE SET bundle = excluded.bundle, seen_ms = excluded.seen_ms"
                ),
                rusqlite::params![replica, bundle],
            )?;
            let mut stmt = conn.prepare(&format!(
                "SELECT name, bundle, {SQLITE_NOW_MS} - seen_ms FROM replicas
                 WHERE seen_ms > {SQLITE_NOW_MS} - ?1 ORDER BY name"
            ))?;
            let rows = stmt.query_map([recent_ms], |r| {
                Ok(Member {
                    replica: r.get(0)?,
                    bundle: r.get(1)?,
                    seen_ms_ago: r.get::<_, i64>(2)?.max(0),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        }
        Backend::Postgres(pg) => {
            let (replica, bundle) = (replica.to_string(), bundle.to_string());
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO replicas (name, bundle, seen_ms) VALUES ($1, $2, {PG_NOW_MS})
                             ON CONFLICT (name) DO UPDATE SET bundle = excluded.bundle, seen_ms = excluded.seen_ms"
                        ),
                        &[&replica, &bundle],
                    )
                    .await?;
                let rows = client
                    .query(
                        &format!(
                            "SELECT name, bundle, {PG_NOW_MS} - seen_ms FROM replicas
                             WHERE seen_ms > {PG_NOW_MS} - $1 ORDER BY name"
                        ),
                        &[&recent_ms],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| Member {
                        replica: r.get(0),
                        bundle: r.get(1),
                        seen_ms_ago: r.get::<_, i64>(2).max(0),
                    })
                    .collect())
            })
        }
    }
}

/// `fleet.prune`: forgets replicas not seen for an hour.
fn prune(store: &Store) -> Result<u64, StoreError> {
    match store.backend() {
        Backend::Sqlite(conn) => Ok(conn.execute(
            &format!("DELETE FROM replicas WHERE seen_ms < {SQLITE_NOW_MS} - ?1"),
            [FORGET_AFTER_MS],
        )? as u64),
        Backend::Postgres(pg) => pg.block_on(|pool| async move {
            let client = pool.get().await?;
            Ok(client
                .execute(
                    &format!("DELETE FROM replicas WHERE seen_ms < {PG_NOW_MS} - $1"),
                    &[&FORGET_AFTER_MS],
                )
                .await?)
        }),
    }
}
