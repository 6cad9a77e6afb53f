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
//!    only while it holds it. A sweep's writes are fenced by the lease
//!    (they apply only while this holder has it, with this token), so even
//!    a sweep that overruns its lease changes nothing once another replica
//!    has taken over: one replica's sweep takes effect at a time. A replica
//!    that dies stops renewing; once its lease expires the next replica to
//!    ask takes it over, with a higher fencing token.
//!
//! A lease's holder is `replica#instance`, the instance drawn at random
//! per process, so two processes given the same `--replica` never renew
//! each other's leases; the second to start is told (`fleet_error` in
//! health, an error in the log) that the name is taken.
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
use rusqlite::OptionalExtension;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenet_store::lease::{fence_pg, fence_sqlite, PG_NOW_MS, SQLITE_NOW_MS};
use tenet_store::{Backend, Lease, Migration, Store, StoreError};
use utoipa::ToSchema;

/// The server's own tables, under the module `server`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    module: "server",
    version: 1,
    sqlite: "CREATE TABLE replicas (
        name      TEXT PRIMARY KEY,
        instance  TEXT NOT NULL,
        bundle    TEXT NOT NULL,
        seen_ms   INTEGER NOT NULL
    );",
    postgres: "CREATE TABLE replicas (
        name      TEXT PRIMARY KEY,
        instance  TEXT NOT NULL,
        bundle    TEXT NOT NULL,
        seen_ms   BIGINT NOT NULL
    );",
}];

/// One piece of time-driven work, run by one replica at a time.
pub struct Sweep {
    /// The lease's name (`fleet.prune`).
    pub name: &'static str,
    /// The work, given the lease it runs under: every write it makes
    /// carries the lease's fence ([`tenet_store::lease::fence_sqlite`],
    /// [`tenet_store::lease::fence_pg`]). Returns how many records it
    /// changed. A module's sweep writes through its own connection
    /// instead, each write conditional on the version of the record it
    /// read (a late second sweeper writes nothing).
    pub run: fn(&AppState, &Store, &Lease) -> Result<u64, StoreError>,
}

/// Every sweep the server runs.
pub const SWEEPS: &[Sweep] = &[
    Sweep {
        name: "fleet.prune",
        run: |_, store, lease| prune(store, lease),
    },
    Sweep {
        name: "safety.sweep",
        run: |state, _, _| crate::routes::safety::sweep(state),
    },
    Sweep {
        name: "meta-monitor.sweep",
        run: |state, _, _| crate::routes::monitor::sweep(state),
    },
    Sweep {
        name: "tenant-benchmark.sweep",
        run: |state, _, _| crate::routes::benchmark::sweep(state),
    },
    Sweep {
        name: "control-plane.sweep",
        run: |state, _, _| crate::routes::control_plane::sweep(state),
    },
    Sweep {
        name: "control-plane.rollout",
        run: |state, _, _| crate::routes::control_plane::driver::sweep(state),
    },
    Sweep {
        name: "rtx-export.sweep",
        run: |state, _, _| crate::routes::rtx::sweep(state),
    },
];

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
    /// The holder as the lease names it: `replica#instance`.
    pub holder: Option<String>,
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
    /// Drawn at random per process.
    instance: String,
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
            instance: instance_id(),
        })
    }

    /// `replica#instance`: this process's name on its leases.
    pub fn holder(&self, replica: &str) -> String {
        format!("{replica}#{}", self.instance)
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
    let holder = fleet.holder(replica);
    let interval = state.config.sweeps.interval;
    let ttl = interval * 3;
    let store = lock(&fleet.store);
    let members = match present(&store, replica, &fleet.instance, &state.fingerprint(), ttl) {
        Ok(Presence::Recorded(m)) => m,
        Ok(Presence::NameTaken) => {
            let why = format!(
                "another process is running as replica `{replica}`: give each replica its own \
                 --replica (or `replica:`); this one runs no sweeps until the name is free"
            );
            tracing::error!("{why}");
            lock(&fleet.view).error = Some(why);
            return;
        }
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
        let asked = std::time::Instant::now();
        let state = match store.acquire_lease(sweep.name, &holder, ttl) {
            // Taking it took a third of its life (a slow store): let the
            // next round run it rather than start late.
            Ok(Some(lease)) if asked.elapsed() > interval => SweepState {
                name: sweep.name.into(),
                leader: Some(replica_of(&lease.holder)),
                holder: Some(lease.holder),
                token: Some(lease.token),
                last_run: Some("skipped: the lease came late".into()),
            },
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
                let last_run = match (sweep.run)(state, &store, &lease) {
                    Ok(n) => format!("ok: {n} record(s) changed"),
                    Err(e) => {
                        tracing::warn!(sweep = sweep.name, error = %e, "the sweep failed");
                        format!("failed: {e}")
                    }
                };
                SweepState {
                    name: sweep.name.into(),
                    leader: Some(replica_of(&lease.holder)),
                    holder: Some(lease.holder),
                    token: Some(lease.token),
                    last_run: Some(last_run),
                }
            }
            Ok(None) => {
                let held = store.lease(sweep.name).ok().flatten();
                SweepState {
                    name: sweep.name.into(),
                    leader: held.as_ref().map(|l| replica_of(&l.holder)),
                    holder: held.as_ref().map(|l| l.holder.clone()),
                    token: held.map(|l| l.token),
                    last_run: before.and_then(|b| b.last_run.clone()),
                }
            }
            Err(e) => SweepState {
                name: sweep.name.into(),
                leader: None,
                holder: None,
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

/// `replica#instance` → `replica`.
fn replica_of(holder: &str) -> String {
    holder.split('#').next().unwrap_or(holder).to_string()
}

/// Random enough to tell two processes apart: the clock's nanoseconds,
/// the process id and an address, hashed.
fn instance_id() -> String {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut h);
    std::process::id().hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

enum Presence {
    /// Recorded; the replicas seen recently.
    Recorded(Vec<Member>),
    /// Another live process holds this replica name.
    NameTaken,
}

/// Records this replica — unless another process recorded the same name
/// within `recent` — and returns the replicas seen within `recent`.
fn present(
    store: &Store,
    replica: &str,
    instance: &str,
    bundle: &str,
    recent: Duration,
) -> Result<Presence, StoreError> {
    let recent_ms = recent.as_millis().min(i64::MAX as u128) as i64;
    let (upsert, list) = match store.backend() {
        Backend::Sqlite(_) => (
            format!(
                "INSERT INTO replicas (name, instance, bundle, seen_ms) VALUES (?1, ?2, ?3, {SQLITE_NOW_MS})
                 ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, bundle = excluded.bundle, seen_ms = excluded.seen_ms
                 WHERE replicas.instance = excluded.instance OR replicas.seen_ms <= {SQLITE_NOW_MS} - ?4
                 RETURNING name"
            ),
            format!(
                "SELECT name, bundle, {SQLITE_NOW_MS} - seen_ms FROM replicas
                 WHERE seen_ms > {SQLITE_NOW_MS} - ?1 ORDER BY name"
            ),
        ),
        Backend::Postgres(_) => (
            format!(
                "INSERT INTO replicas (name, instance, bundle, seen_ms) VALUES ($1, $2, $3, {PG_NOW_MS})
                 ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, bundle = excluded.bundle, seen_ms = excluded.seen_ms
                 WHERE replicas.instance = excluded.instance OR replicas.seen_ms <= {PG_NOW_MS} - $4
                 RETURNING name"
            ),
            format!(
                "SELECT name, bundle, {PG_NOW_MS} - seen_ms FROM replicas
                 WHERE seen_ms > {PG_NOW_MS} - $1 ORDER BY name"
            ),
        ),
    };
    match store.backend() {
        Backend::Sqlite(conn) => {
            let recorded = conn
                .query_row(
                    &upsert,
                    rusqlite::params![replica, instance, bundle, recent_ms],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !recorded {
                return Ok(Presence::NameTaken);
            }
            let mut stmt = conn.prepare(&list)?;
            let rows = stmt.query_map([recent_ms], |r| {
                Ok(Member {
                    replica: r.get(0)?,
                    bundle: r.get(1)?,
                    seen_ms_ago: r.get::<_, i64>(2)?.max(0),
                })
            })?;
            Ok(Presence::Recorded(rows.collect::<Result<_, _>>()?))
        }
        Backend::Postgres(pg) => {
            let (replica, instance, bundle) = (
                replica.to_string(),
                instance.to_string(),
                bundle.to_string(),
            );
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                let recorded = client
                    .query_opt(&upsert, &[&replica, &instance, &bundle, &recent_ms])
                    .await?
                    .is_some();
                if !recorded {
                    return Ok(Presence::NameTaken);
                }
                let rows = client.query(&list, &[&recent_ms]).await?;
                Ok(Presence::Recorded(
                    rows.iter()
                        .map(|r| Member {
                            replica: r.get(0),
                            bundle: r.get(1),
                            seen_ms_ago: r.get::<_, i64>(2).max(0),
                        })
                        .collect(),
                ))
            })
        }
    }
}

/// `fleet.prune`: forgets replicas not seen for an hour (fenced by its
/// lease).
fn prune(store: &Store, lease: &Lease) -> Result<u64, StoreError> {
    match store.backend() {
        Backend::Sqlite(conn) => Ok(conn.execute(
            &format!(
                "DELETE FROM replicas WHERE seen_ms < {SQLITE_NOW_MS} - ?1 AND {}",
                fence_sqlite(2)
            ),
            rusqlite::params![FORGET_AFTER_MS, lease.name, lease.holder, lease.token],
        )? as u64),
        Backend::Postgres(pg) => {
            let lease = lease.clone();
            pg.block_on(move |pool| async move {
                let client = pool.get().await?;
                Ok(client
                    .execute(
                        &format!(
                            "DELETE FROM replicas WHERE seen_ms < {PG_NOW_MS} - $1 AND {}",
                            fence_pg(2)
                        ),
                        &[&FORGET_AFTER_MS, &lease.name, &lease.holder, &lease.token],
                    )
                    .await?)
            })
        }
    }
}
