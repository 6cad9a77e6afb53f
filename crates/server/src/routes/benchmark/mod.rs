//! `/v1/tenants/{id}/...` and `/v1/profiles/...`: the tenant benchmark
//! (`tenet-tenant-benchmark`).
//!
//! Thin: a handler checks the tenant against the caller, parses the
//! body, and hands the work to [`tenet_tenant_benchmark::store`], which
//! locks the tenant's row and runs the engine inside one transaction with
//! its audit events. Reads serve stored evaluations.
//!
//! **Tenants never see each other.** An identity bound to a tenant that
//! names another tenant in a path gets the same 404 as for a tenant that
//! does not exist: it cannot even learn that the other tenant is there.
//! Backfill, which rewrites every tenant's history, is the platform's
//! (a bound identity gets 403).
//!
//! The `tenant-benchmark.sweep` (under its lease, on one replica), every
//! `benchmark.evaluate_every`, pulls the `benchmark.fetch` signals and
//! evaluates every tenant again, keeping the evaluations that moved
//! something (badges earn and lose with time: dwell, decay).

use super::{invalid, json_body, json_response, now_ms, store_failed};
use crate::access::RequestCtx;
use crate::clock::now_rfc3339;
use crate::config::FetchSource;
use crate::problem::Problem;
use crate::state::{AppState, Loaded};
use crate::table::{routes, RouteTable};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_store::{AuditEvent, Store};
use tenet_tenant_benchmark::profiles::{Ms, Profiles};
use utoipa::{IntoParams, ToSchema};

mod bodies;
mod profiles;
mod sweep;
mod tenants;

pub use super::DryRunParam;
pub use bodies::*;
pub use profiles::*;
pub use sweep::{sweep, sweep_within};
pub use tenants::*;

/// The most signals one request may carry.
pub const MAX_SIGNALS: usize = 1000;

/// The module's routes.
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(post_signals))
        .route(routes!(get_score))
        .route(routes!(get_factors))
        .route(routes!(get_history))
        .route(routes!(get_diff))
        .route(routes!(list_profiles))
        .route(routes!(backfill))
}

/// A pulled answer: when it was fetched, and what came back.
type Fetched = (Ms, Result<Value, String>);

/// The module's connection, its pulled-signal cache, and the profiles of
/// the serving bundle (read once per bundle).
pub struct Benchmark {
    store: Mutex<Store>,
    /// Connections for the read routes, so reads do not queue behind
    /// each other or behind a write (WAL on SQLite; a pool on PostgreSQL).
    readers: Vec<Mutex<Store>>,
    next_reader: std::sync::atomic::AtomicUsize,
    every: Ms,
    fetch: Vec<FetchSource>,
    /// By URL: when fetched, and the answer.
    cache: Mutex<HashMap<String, Fetched>>,
    /// When the sweep last evaluated every tenant (this replica).
    last_round: AtomicI64,
    /// A round in progress: when it began, and the last tenant it did.
    round: Mutex<Option<(Ms, String)>>,
    profiles: Mutex<Option<(String, Arc<Profiles>)>>,
}

impl Benchmark {
    pub fn open(config: &crate::config::Config) -> Result<Benchmark, String> {
        let store =
            tenet_tenant_benchmark::store::open(&config.store).map_err(|e| e.to_string())?;
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let readers = (0..n)
            .map(|_| {
                tenet_store::Store::connect(&config.store)
                    .map(Mutex::new)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Benchmark {
            store: Mutex::new(store),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            every: config.benchmark.evaluate_every.as_millis() as Ms,
            fetch: config.benchmark.fetch.clone(),
            cache: Mutex::new(HashMap::new()),
            last_round: AtomicI64::new(0),
            round: Mutex::new(None),
            profiles: Mutex::new(None),
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A read connection: the first free one from a rotating start, or
    /// the one at the start when all are busy.
    fn reader(&self) -> std::sync::MutexGuard<'_, Store> {
        let n = self.readers.len();
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if let Ok(g) = self.readers[(start + i) % n].try_lock() {
                return g;
            }
        }
        match self.readers[start % n].lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn no_pack(names: Vec<String>) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "No Tenant-Benchmark Pack",
        format!(
            "the serving rules have no `{}` pack (packs: {})",
            tenet_tenant_benchmark::PACK,
            names.join(", ")
        ),
    )
}

/// The serving bundle and its profiles (cached per bundle fingerprint).
fn profiles(state: &AppState) -> Result<(Arc<Loaded>, Arc<Profiles>), Problem> {
    let bundle = state.bundle.load_full();
    let b = &state.benchmark;
    let mut cached = match b.profiles.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some((fp, p)) = cached.as_ref() {
        if *fp == bundle.fingerprint {
            return Ok((bundle, Arc::clone(p)));
        }
    }
    let pack = tenet_tenant_benchmark::pack(&bundle.rules)
        .map_err(|_| no_pack(bundle.rules.packs.iter().map(|p| p.name.clone()).collect()))?;
    let p = Arc::new(Profiles::read(&pack).map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Tenant-Benchmark Pack Unusable",
            e,
        )
    })?);
    *cached = Some((bundle.fingerprint.clone(), Arc::clone(&p)));
    Ok((bundle, p))
}

/// One profile of the serving pack, or 404 naming the ones there are.
fn profile_named(profiles: &Profiles, name: &str) -> Result<(), Problem> {
    if profiles.get(name).is_some() {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!(
            "no profile `{name}` (profiles: {})",
            profiles.names().join(", ")
        ),
    ))
}

/// The tenant named in a path, as the caller may see it: an identity
/// bound to another tenant gets the 404 a tenant that does not exist
/// gets, so it cannot learn that one exists.
fn tenant_path(ctx: &RequestCtx, id: &str) -> Result<(), Problem> {
    let valid = !id.is_empty()
        && id.len() <= 128
        // `.` and `..` would walk a fetch source's URL.
        && !id.bytes().all(|b| b == b'.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.as_deref());
    if !valid || bound.is_some_and(|b| b != id) {
        return Err(no_tenant(id));
    }
    Ok(())
}

fn no_tenant(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no tenant `{id}` with benchmark data"),
    )
}

fn event(
    ctx: &RequestCtx,
    subject: String,
    outcome: &str,
    details: Value,
    tenant: Option<&str>,
    bundle: &str,
    started: Instant,
) -> AuditEvent {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    AuditEvent {
        id: 0,
        action_id: format!("{}.{}", ctx.action_id, N.fetch_add(1, Ordering::Relaxed)),
        at: now_rfc3339(),
        source: tenet_tenant_benchmark::MODULE.into(),
        subject,
        actor: ctx.actor(),
        scope: "tenant-benchmark".into(),
        outcome: outcome.into(),
        reason: None,
        latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
        details,
        tenant: tenant.map(str::to_string),
        bundle: Some(bundle.to_string()),
    }
}

/// A time in a query string, or 400 naming the parameter.
fn time_param(name: &str, v: &Option<String>) -> Result<Option<Ms>, Problem> {
    match v {
        None => Ok(None),
        Some(t) => tenet_tenant_benchmark::time::parse(t)
            .map(Some)
            .map_err(|e| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "Invalid Query",
                    format!("`{name}`: {e}"),
                )
            }),
    }
}

/// Evaluates every profile of `record` at `now` with the serving pack,
/// moving its state; with `only_changed`, keeps only the evaluations that
/// moved something (the sweep) and leaves the others' state as it was.
fn evaluate_all(
    bundle: &Loaded,
    profiles: &Profiles,
    record: &mut tenet_tenant_benchmark::model::TenantRecord,
    now: Ms,
    only_changed: bool,
) -> Result<Vec<tenet_tenant_benchmark::model::Evaluation>, String> {
    use tenet_tenant_benchmark::engine;
    let pack = tenet_tenant_benchmark::pack(&bundle.rules).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(profiles.by_name.len());
    for (name, p) in &profiles.by_name {
        let state = record.profiles.get(name).cloned().unwrap_or_default();
        let (e, next) = engine::evaluate(
            &pack,
            p,
            &record.tenant,
            &record.facts,
            &record.signals,
            &state,
            now,
        );
        if only_changed && !engine::changed(&state, &next, &e) {
            continue;
        }
        record.profiles.insert(name.clone(), next);
        out.push(e);
    }
    Ok(out)
}

/// The audit events of evaluations: one per badge earned or lost.
fn transition_events(
    ctx: &RequestCtx,
    evals: &[tenet_tenant_benchmark::model::Evaluation],
    bundle: &str,
    started: Instant,
) -> Vec<AuditEvent> {
    evals
        .iter()
        .flat_map(|e| {
            e.transitions.iter().map(move |t| {
                event(
                    ctx,
                    format!("{}/{}", e.score.profile, t.badge),
                    &format!("badge-{}", t.change),
                    json!({"profile": e.score.profile, "version": e.score.version, "badge": t.badge, "reason": t.reason, "score": e.score.score}),
                    Some(&e.tenant),
                    bundle,
                    started,
                )
            })
        })
        .collect()
}

/// Audits a refused attempt (a 4xx other than a key still in flight): who
/// tried what, and why it was refused. The tenant of the event is the
/// caller's; the one it named is in the details.
async fn refused<T>(
    state: &AppState,
    ctx: &RequestCtx,
    subject: &str,
    named: &str,
    started: Instant,
    r: Result<T, Problem>,
) -> Result<T, Problem> {
    if let Err(p) = &r {
        if p.status.is_client_error() && p.status != StatusCode::CONFLICT {
            let ev = event(
                ctx,
                subject.to_string(),
                &format!("refused:{}", p.status.as_u16()),
                json!({"named": named, "title": p.title, "detail": p.detail}),
                ctx.tenant.as_deref(),
                &state.fingerprint(),
                started,
            );
            let _ = state.audit.record(ev).await;
        }
    }
    r
}
