//! `/v1/heartbeats`, `/v1/ping/...`, `/v1/watchers/...`: the meta-monitor
//! (`tenet-meta-monitor`).
//!
//! Thin: a handler parses the events, takes the tenant from the caller's
//! identity (an identity bound to a tenant sends and sees only its own),
//! and hands the batch to [`tenet_meta_monitor::store::ingest`], which
//! applies it with its audit events in one transaction. Reads evaluate
//! every watcher with the serving bundle's `meta_monitor` pack at the
//! wall clock, with the monitor's watermark: for `monitor.catch_up` after
//! a restart, heartbeats sent while the monitor was away may still be
//! arriving, so nothing is declared down for lack of them.
//!
//! The `meta-monitor.sweep` (under its lease, on one replica) records that
//! the monitor is listening, opens, re-alerts and resolves meta-incidents
//! and pages through `monitor.notify`, and sends the monitor's own
//! heartbeat to `monitor.proof_of_life`.

use super::{invalid, json_body, json_response, now_ms, store_failed};
use crate::access::RequestCtx;
use crate::clock::now_rfc3339;
use crate::config::Config;
use crate::idempotency::Mutation;
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::{routes, RouteTable};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_meta_monitor::engine::{self, Context};
use tenet_meta_monitor::incidents::{self, Incident};
use tenet_meta_monitor::model::{Event, Kind, Ms, State as WState};
use tenet_meta_monitor::render::{self, WireEvent};
use tenet_meta_monitor::store::{self as ms, IngestError, Report};
use tenet_meta_monitor::watchers::Watchers;
use tenet_notify::{Notification, Notifier};
use tenet_store::{AuditEvent, Store};
use utoipa::{IntoParams, ToSchema};

mod bodies;
mod meta_incidents;
mod sweep;

pub use super::DryRunParam;
pub use bodies::*;
pub use meta_incidents::*;
pub use sweep::sweep;

/// The most events one request may carry: with every field at its
/// longest, a full batch still fits `limits.diff_body_bytes`.
pub const MAX_BATCH: usize = 1_000;

/// The module's routes. A batch of heartbeats may be large: it takes
/// `limits.diff_body_bytes` (16 MiB by default).
pub fn table() -> RouteTable {
    RouteTable::new()
        .route_with_body_limit(routes!(heartbeats), |l| l.diff_body_bytes)
        .route(routes!(ping_get))
        .route(routes!(ping_post))
        .route(routes!(ping_signal_get))
        .route(routes!(ping_signal_post))
        .route(routes!(list))
        .route(routes!(graph))
        .route(routes!(show))
        .route(routes!(pause))
        .route(routes!(resume))
        .route(routes!(incidents))
        .route(routes!(resolve))
        .route(routes!(put_facts))
}

/// The module's connection and what it knows about its own uptime.
pub struct Monitor {
    store: Mutex<Store>,
    /// When this server started.
    started: Ms,
    /// When the monitor was last known to be listening before that (its
    /// sweep's last run); `None` on a fresh store.
    alive_before: Option<Ms>,
    catch_up: Ms,
    notify: Option<Arc<dyn Notifier>>,
    proof_of_life: Option<Arc<dyn Notifier>>,
    proof_every: Ms,
    last_proof: AtomicI64,
    /// Pages the channel did not take (the incident as paged, and the
    /// kind): the next sweep makes them due again.
    undelivered: Arc<Mutex<Vec<(Incident, &'static str)>>>,
}

impl Monitor {
    pub fn open(config: &Config) -> Result<Monitor, String> {
        let store = ms::open(&config.store).map_err(|e| e.to_string())?;
        store.sync_full().map_err(|e| e.to_string())?;
        let alive_before = ms::meta(&store, "alive").map_err(|e| e.to_string())?;
        let hook = |c: &Option<tenet_notify::config::WebhookConfig>,
                    key: &str|
         -> Result<Option<Arc<dyn Notifier>>, String> {
            match c {
                None => Ok(None),
                Some(c) => tenet_notify::Webhook::from_env(c.clone())
                    .map(|w| Some(Arc::new(w) as Arc<dyn Notifier>))
                    .map_err(|e| format!("`monitor.{key}`: {e}")),
            }
        };
        let m = &config.monitor;
        Ok(Monitor {
            store: Mutex::new(store),
            started: now_ms(),
            alive_before,
            catch_up: m.catch_up.as_millis() as Ms,
            notify: hook(&m.notify, "notify")?,
            proof_of_life: hook(&m.proof_of_life, "proof_of_life")?,
            proof_every: m.proof_of_life_every.as_millis() as Ms,
            last_proof: AtomicI64::new(0),
            undelivered: Arc::default(),
        })
    }

    /// Delivery counts of the channels, for health.
    pub fn channels(&self) -> Vec<(&'static str, tenet_notify::Stats)> {
        let mut out = Vec::new();
        if let Some(n) = &self.notify {
            out.push(("notify", n.stats()));
        }
        if let Some(n) = &self.proof_of_life {
            out.push(("proof_of_life", n.stats()));
        }
        out
    }

    /// When this server started.
    pub fn started_ms(&self) -> Ms {
        self.started
    }

    /// When the sweep last ran (any replica), from the store.
    pub fn last_sweep(&self) -> Option<Ms> {
        ms::meta(&self.store(), "alive").ok().flatten()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Every heartbeat sent before the watermark has been applied: after
    /// a restart, for [`CATCH_UP`], the last time the monitor was known
    /// to be listening; then `now`.
    pub fn watermark(&self, now: Ms) -> Option<Ms> {
        match self.alive_before {
            Some(alive) if now < self.started + self.catch_up => Some(alive.min(now)),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

fn no_pack(names: Vec<String>) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "No Meta-Monitor Pack",
        format!(
            "the serving rules have no `{}` pack (packs: {})",
            tenet_meta_monitor::PACK,
            names.join(", ")
        ),
    )
}

/// The serving pack's watchers.
fn watchers(state: &AppState) -> Result<(Arc<crate::state::Loaded>, Watchers), Problem> {
    let bundle = state.bundle.load_full();
    let pack = tenet_meta_monitor::pack(&bundle.rules)
        .map_err(|_| no_pack(bundle.rules.packs.iter().map(|p| p.name.clone()).collect()))?;
    let w = Watchers::read(&pack).map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Meta-Monitor Pack Unusable",
            e,
        )
    })?;
    Ok((bundle, w))
}

/// The tenant an event or a read is for: a caller bound to a tenant
/// gets its own, and naming another is refused (403).
fn tenant_for(ctx: &RequestCtx, asked: Option<String>) -> Result<String, Problem> {
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    match (bound, asked) {
        (Some(b), Some(a)) if a != b => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Other Tenant",
            format!("this identity is bound to tenant `{b}` and cannot act for tenant `{a}`"),
        )),
        (Some(b), _) => Ok(b),
        (None, Some(a)) => Ok(a),
        (None, None) => Ok(ctx.tenant.clone().unwrap_or_default()),
    }
}

fn event(
    ctx: &RequestCtx,
    subject: String,
    outcome: String,
    details: Value,
    tenant: &str,
    bundle: &str,
    started: Instant,
) -> AuditEvent {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    AuditEvent {
        id: 0,
        action_id: format!("{}.{}", ctx.action_id, N.fetch_add(1, Ordering::Relaxed)),
        at: now_rfc3339(),
        source: tenet_meta_monitor::MODULE.into(),
        subject,
        actor: ctx.actor(),
        scope: "meta-monitor".into(),
        outcome,
        reason: None,
        latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
        details,
        tenant: (!tenant.is_empty()).then(|| tenant.to_string()),
        bundle: Some(bundle.to_string()),
    }
}

/// Ingests events (already checked for tenants) and answers the report.
async fn ingest(
    state: Arc<AppState>,
    ctx: RequestCtx,
    events: Vec<Event>,
    index: &[usize],
) -> Result<Report, Problem> {
    let started = Instant::now();
    let (bundle, watchers) = watchers(&state)?;
    let fp = bundle.fingerprint.clone();
    let c2 = ctx.clone();
    let st = Arc::clone(&state);
    let audit = move |r: &Report| {
        let mut out = vec![event(
            &c2,
            "heartbeats".into(),
            "ingested".into(),
            json!({"applied": r.applied, "duplicates": r.duplicates, "late": r.late, "ignored": r.ignored.len()}),
            "",
            &fp,
            started,
        )];
        for (w, t, src, from, to) in &r.transitions {
            out.push(event(
                &c2,
                format!("{w}/{src}"),
                format!("{}->{}", stored(*from), stored(*to)),
                json!({"watcher": w, "source": src}),
                t,
                &fp,
                started,
            ));
        }
        out
    };
    let result = tokio::task::spawn_blocking(move || {
        ms::ingest(&mut st.monitor.store(), &watchers, &events, audit)
    })
    .await
    .map_err(store_failed)?;
    match result {
        Ok(r) => {
            state.metrics.monitor_heartbeats(
                r.applied,
                r.duplicates,
                r.late,
                r.ignored.len() as u64,
            );
            Ok(r)
        }
        Err(IngestError::Refused(i, why)) => {
            // The event's place in the request.
            let i = index.get(i).copied().unwrap_or(i);
            let ev = event(
                &ctx,
                "heartbeats".into(),
                "refused".into(),
                json!({"index": i, "why": why.to_string()}),
                ctx.tenant.as_deref().unwrap_or(""),
                &bundle.fingerprint,
                started,
            );
            let _ = state.audit.record(ev).await;
            // A watcher or source that does not exist: not found.
            Err(Problem::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                format!("event {i}: {why}; nothing was recorded"),
            )
            .with("index", json!(i)))
        }
        Err(IngestError::Store(e)) => Err(store_failed(e)),
    }
}

fn stored(s: tenet_meta_monitor::model::Stored) -> &'static str {
    use tenet_meta_monitor::model::Stored;
    match s {
        Stored::New => "new",
        Stored::Up => "up",
        Stored::Down => "down",
        Stored::Paused => "paused",
    }
}

fn answer(r: &Report) -> IngestAnswer {
    IngestAnswer {
        applied: r.applied,
        duplicates: r.duplicates,
        late: r.late,
        ignored: r
            .ignored
            .iter()
            .map(|(i, why)| IgnoredEvent {
                index: *i,
                why: why.to_string(),
            })
            .collect(),
    }
}

fn wire(ctx: &RequestCtx, b: HeartbeatBody) -> Result<Event, String> {
    let tenant = tenant_for(ctx, b.tenant.clone()).map_err(|p| p.detail)?;
    let e = WireEvent {
        watcher: b.watcher,
        tenant: Some(tenant),
        source: b.source,
        at: b.at,
        kind: b.kind.unwrap_or_else(|| "success".into()),
        run_id: b.run_id,
        seq: whole(&b.seq, "seq")?,
        exit_status: whole(&b.exit_status, "exit_status")?.map(|n| n as i64),
        count: whole(&b.count, "count")?,
    }
    .into_event()?;
    Ok(e)
}

/// A JSON number that is a whole number 0 or more (`5` or `5.0`).
fn whole(n: &Option<serde_json::Number>, field: &str) -> Result<Option<u64>, String> {
    let Some(n) = n else { return Ok(None) };
    if let Some(i) = n.as_u64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..9.0e15).contains(&f) => Ok(Some(f as u64)),
        _ => Err(format!("`{field}` {n} is not a whole number of 0 or more")),
    }
}

/// How far ahead of the server's clock an event may be; later ones are
/// ignored as clock skew (and reported).
const MAX_AHEAD: Ms = 5 * 60 * 1000;

/// The state a watcher's instance would have after `e` (a pause or a
/// resume), computed on a copy: nothing is written.
async fn dry_pause_or_resume(
    state: &Arc<AppState>,
    w: &Watchers,
    e: Event,
) -> Result<Response, Problem> {
    let st = Arc::clone(state);
    let (w2, e2) = (w.clone(), e.clone());
    let status = tokio::task::spawn_blocking(move || -> Result<_, Problem> {
        let mut inst = ms::all(&st.monitor.store())
            .map_err(store_failed)?
            .into_iter()
            .find(|i| i.watcher == e2.watcher && i.tenant == e2.tenant)
            .unwrap_or_else(|| tenet_meta_monitor::model::Instance {
                watcher: e2.watcher.clone(),
                tenant: e2.tenant.clone(),
                ..Default::default()
            });
        let watcher = w2
            .get(&e2.watcher)
            .ok_or_else(|| invalid("no such watcher".into()))?;
        let applied = engine::apply(&mut inst, watcher, &e2).map_err(|r| invalid(r.to_string()))?;
        if let engine::Applied::Ignored(why) = applied {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("watcher `{}`: {why}", e2.watcher),
            ));
        }
        let exempt = exemptions(&st, e2.at).map_err(store_failed)?;
        let cx = Context {
            now: e2.at,
            watermark: st.monitor.watermark(e2.at),
            exempt: &exempt,
        };
        engine::evaluate(&w2, std::slice::from_ref(&inst), &cx)
            .into_iter()
            .find(|s| s.watcher == e2.watcher && s.tenant == e2.tenant)
            .ok_or_else(|| invalid("no state".into()))
    })
    .await
    .map_err(store_failed)??;
    let mut body = status_body(&status);
    body.dry_run = Some(true);
    Ok(json_response(&body))
}

/// Every watcher's status at `now` (the tenant filter applied after).
fn statuses(
    state: &AppState,
    watchers: &Watchers,
    now: Ms,
) -> Result<Vec<tenet_meta_monitor::model::Status>, Problem> {
    let instances = ms::all(&state.monitor.store()).map_err(store_failed)?;
    let exempt = exemptions(state, now).map_err(store_failed)?;
    let cx = Context {
        now,
        watermark: state.monitor.watermark(now),
        exempt: &exempt,
    };
    Ok(engine::evaluate(watchers, &instances, &cx))
}

/// Per tenant with facts, the watchers its facts exempt (the serving
/// pack's `exempt_when`); tenants without facts exempt nothing.
fn exemptions(
    state: &AppState,
    now: Ms,
) -> Result<BTreeMap<String, BTreeSet<String>>, tenet_store::StoreError> {
    let facts = ms::tenant_facts(&state.monitor.store())?;
    let bundle = state.bundle.load_full();
    let Ok(pack) = tenet_meta_monitor::pack(&bundle.rules) else {
        return Ok(BTreeMap::new());
    };
    Ok(facts
        .into_iter()
        .map(|(t, f)| {
            let v = tenet_runtime::dsl::Value::from_json(&f);
            let e = engine::exempt(&pack, &v, Some(render::rfc3339(now)));
            (t, e)
        })
        .collect())
}

fn status_body(s: &tenet_meta_monitor::model::Status) -> WatcherStatus {
    let j = render::status_json(s);
    let t = |k: &str| j[k].as_str().map(str::to_string);
    WatcherStatus {
        dry_run: None,
        watcher: s.watcher.clone(),
        tenant: (!s.tenant.is_empty()).then(|| s.tenant.clone()),
        state: s.state.as_str().into(),
        base_state: s.base_state.as_str().into(),
        expected_by: t("expected_by"),
        down_by: t("down_by"),
        down_at: t("down_at"),
        pages_at: t("pages_at"),
        last_seen: j["last_seen"].clone(),
        suppressed_by: s.suppressed_by.clone(),
        muted_by: s.muted_by.clone(),
        why: s.why.clone(),
    }
}

// ---------------------------------------------------------------------------
// Handlers

/// Record heartbeats: one event or a batch (`{"events": [...]}`).
#[utoipa::path(
    post, path = "/v1/heartbeats", tag = "meta-monitor",
    request_body = HeartbeatsBody,
    responses(
        (status = 200, description = "Applied in one transaction with its audit events", body = IngestAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An event names another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "An event names an unknown watcher or a source its watcher does not declare: nothing recorded", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `limits.diff_body_bytes`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "An event is malformed, or more than 1,000 of them: nothing recorded", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn heartbeats(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, Problem> {
    let v: Value = json_body(&body, "{\"events\": [event...]} or one event")?;
    let list: Vec<HeartbeatBody> = if v.get("events").is_some() {
        let b: HeartbeatsBody = serde_json::from_value(v)
            .map_err(|e| invalid(format!("{e} (expected {{\"events\": [event...]}})")))?;
        b.events
    } else {
        vec![serde_json::from_value(v).map_err(|e| {
            invalid(format!(
                "{e} (expected an event: {{\"watcher\", \"source\", \"at\", ...}})"
            ))
        })?]
    };
    if list.is_empty() {
        return Err(invalid("`events` is empty".into()));
    }
    if list.len() > MAX_BATCH {
        return Err(invalid(format!(
            "{} events in one request; send at most {MAX_BATCH}",
            list.len()
        )));
    }
    let now = now_ms();
    let mut events = Vec::with_capacity(list.len());
    // The index in the request of each event ingested.
    let mut index = Vec::with_capacity(list.len());
    let mut skewed = Vec::new();
    for (i, b) in list.into_iter().enumerate() {
        let asked = b.tenant.clone();
        if let Err(p) = tenant_for(&ctx, asked) {
            return Err(p.with("index", json!(i)));
        }
        let e = wire(&ctx, b).map_err(|e| {
            invalid(format!("event {i}: {e}; nothing was recorded")).with("index", json!(i))
        })?;
        if e.at > now + MAX_AHEAD {
            skewed.push(IgnoredEvent {
                index: i,
                why: format!(
                    "`at` {} is more than 5 minutes ahead of the server's clock (clock skew): ignored",
                    render::rfc3339(e.at)
                ),
            });
            continue;
        }
        index.push(i);
        events.push(e);
    }
    let mut a = if events.is_empty() {
        IngestAnswer {
            applied: 0,
            duplicates: 0,
            late: 0,
            ignored: Vec::new(),
        }
    } else {
        let mut a = answer(&ingest(state, ctx, events, &index).await?);
        for ig in &mut a.ignored {
            ig.index = index.get(ig.index).copied().unwrap_or(ig.index);
        }
        a
    };
    a.ignored.extend(skewed);
    a.ignored.sort_by_key(|x| x.index);
    Ok(json_response(&a))
}

async fn ping(
    state: Arc<AppState>,
    ctx: RequestCtx,
    watcher: String,
    signal: Option<String>,
    q: PingParams,
) -> Result<Response, Problem> {
    let (kind, exit_status) = match signal.as_deref() {
        None => (Kind::Success, None),
        Some("start") => (Kind::Start, None),
        Some("fail") => (Kind::Fail, None),
        Some("log") => (Kind::Log, None),
        Some(code) if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) => match code.parse::<u16>() {
            Ok(n) if n <= 255 => (Kind::Success, Some(n as u8)),
            _ => {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    format!("`/v1/ping/{watcher}/{code}`: an exit status is 0-255"),
                ))
            }
        },
        Some(other) => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                format!("`/v1/ping/{watcher}/{other}`: the signal is `start`, `fail`, `log` or an exit status 0-255"),
            ))
        }
    };
    let tenant = tenant_for(&ctx, q.tenant)?;
    let e = Event {
        watcher,
        tenant,
        source: q
            .source
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ctx.actor()),
        at: now_ms(),
        kind,
        run_id: q.rid.filter(|r| !r.is_empty()),
        seq: None,
        exit_status,
        count: None,
    };
    let r = ingest(state, ctx, vec![e], &[0]).await?;
    Ok(json_response(&answer(&r)))
}

/// Ping a watcher (Healthchecks' ping URL): a success.
#[utoipa::path(
    get, path = "/v1/ping/{watcher}", tag = "meta-monitor",
    params(("watcher" = String, Path, description = "A watcher of the pack"), PingParams),
    responses(
        (status = 200, description = "Recorded", body = IngestAnswer),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown watcher or undeclared source", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn ping_get(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(watcher): Path<String>,
    Query(q): Query<PingParams>,
) -> Result<Response, Problem> {
    ping(state, ctx, watcher, None, q).await
}

/// Ping a watcher (POST, as `curl -X POST` sends it): a success.
#[utoipa::path(
    post, path = "/v1/ping/{watcher}", tag = "meta-monitor",
    params(("watcher" = String, Path, description = "A watcher of the pack"), PingParams),
    responses(
        (status = 200, description = "Recorded", body = IngestAnswer),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown watcher or undeclared source", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn ping_post(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(watcher): Path<String>,
    Query(q): Query<PingParams>,
) -> Result<Response, Problem> {
    ping(state, ctx, watcher, None, q).await
}

/// Ping with a signal: `start`, `fail`, `log`, or an exit status
/// (`curl .../ping/backup/$?`).
#[utoipa::path(
    get, path = "/v1/ping/{watcher}/{signal}", tag = "meta-monitor",
    params(("watcher" = String, Path, description = "A watcher of the pack"), ("signal" = String, Path, description = "`start`, `fail`, `log` or an exit status 0-255", pattern = "^(start|fail|log|[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$"), PingParams),
    responses(
        (status = 200, description = "Recorded", body = IngestAnswer),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Not a signal, an unknown watcher or an undeclared source", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn ping_signal_get(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path((watcher, signal)): Path<(String, String)>,
    Query(q): Query<PingParams>,
) -> Result<Response, Problem> {
    ping(state, ctx, watcher, Some(signal), q).await
}

/// Ping with a signal (POST).
#[utoipa::path(
    post, path = "/v1/ping/{watcher}/{signal}", tag = "meta-monitor",
    params(("watcher" = String, Path, description = "A watcher of the pack"), ("signal" = String, Path, description = "`start`, `fail`, `log` or an exit status 0-255", pattern = "^(start|fail|log|[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$"), PingParams),
    responses(
        (status = 200, description = "Recorded", body = IngestAnswer),
        (status = 404, description = "Not a signal, an unknown watcher or an undeclared source", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn ping_signal_post(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path((watcher, signal)): Path<(String, String)>,
    Query(q): Query<PingParams>,
) -> Result<Response, Problem> {
    ping(state, ctx, watcher, Some(signal), q).await
}

/// Every watcher's state now.
#[utoipa::path(
    get, path = "/v1/watchers", tag = "meta-monitor",
    params(ListParams),
    responses(
        (status = 200, description = "Each watcher per tenant (a tenant-bound caller sees its own and the platform's)", body = WatcherList),
        (status = 400, description = "A malformed query string, or an unknown `state` or `format`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<ListParams>,
) -> Result<Response, Problem> {
    let want_state = q.state.map(StateParam::state);
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    if let (Some(b), Some(t)) = (&bound, &q.tenant) {
        if t != b && !t.is_empty() {
            return Err(tenant_for(&ctx, Some(t.clone()))
                .err()
                .unwrap_or_else(|| invalid("tenant".into())));
        }
    }
    let now = now_ms();
    let st = Arc::clone(&state);
    let (_, w) = watchers(&state)?;
    let all = tokio::task::spawn_blocking(move || statuses(&st, &w, now))
        .await
        .map_err(store_failed)??;
    let out: Vec<WatcherStatus> = all
        .iter()
        .filter(|s| match &bound {
            Some(b) => s.tenant.is_empty() || &s.tenant == b,
            None => true,
        })
        .filter(|s| q.tenant.as_ref().is_none_or(|t| &s.tenant == t))
        .filter(|s| want_state.is_none_or(|w| s.state == w))
        .map(status_body)
        .collect();
    Ok(json_response(&WatcherList {
        at: render::rfc3339(now),
        watchers: out,
    }))
}

/// One watcher's state now, explained.
#[utoipa::path(
    get, path = "/v1/watchers/{id}", tag = "meta-monitor",
    params(("id" = String, Path, description = "The watcher"), TenantParam),
    responses(
        (status = 200, description = "Its state, when it is expected, the last heartbeat per source, and why", body = WatcherStatus),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such watcher, or no instance for that tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<TenantParam>,
) -> Result<Response, Problem> {
    let tenant = tenant_for(&ctx, q.tenant)?;
    let now = now_ms();
    let st = Arc::clone(&state);
    let (_, w) = watchers(&state)?;
    let all = tokio::task::spawn_blocking(move || statuses(&st, &w, now))
        .await
        .map_err(store_failed)??;
    all.iter()
        .find(|s| s.watcher == id && s.tenant == tenant)
        .map(|s| json_response(&status_body(s)))
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                if tenant.is_empty() {
                    format!("no watcher `{id}`")
                } else {
                    format!("no watcher `{id}` for tenant `{tenant}`")
                },
            )
        })
}

/// A pause or resume under its `Idempotency-Key`, or a dry run.
async fn pause_or_resume_once(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    q: PauseParams,
    headers: axum::http::HeaderMap,
    kind: Kind,
) -> Result<Response, Problem> {
    let dry_run = q.dry_run.unwrap_or(false);
    if dry_run {
        return pause_or_resume(state, ctx, id, q.tenant, kind, true).await;
    }
    let route = format!(
        "POST /v1/watchers/{id}/{}?tenant={}",
        if kind == Kind::Pause {
            "pause"
        } else {
            "resume"
        },
        q.tenant.clone().unwrap_or_default()
    );
    let (st, c2) = (Arc::clone(&state), ctx.clone());
    crate::idempotency::once(&state, &ctx, &headers, &route, b"", async move {
        pause_or_resume(st, c2, id, q.tenant, kind, false).await
    })
    .await
}

async fn pause_or_resume(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    tenant: Option<String>,
    kind: Kind,
    dry_run: bool,
) -> Result<Response, Problem> {
    // As with a tenant's facts: a tenant that could pause its own
    // watchers could silence them. The platform pauses.
    if let Some(b) = ctx.identity.as_ref().and_then(|i| i.tenant.clone()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Not Allowed",
            format!("identity bound to tenant `{b}`: watchers are paused and resumed by the platform, never by a tenant"),
        ));
    }
    let tenant = tenant_for(&ctx, tenant)?;
    let (_, w) = watchers(&state)?;
    let Some(watcher) = w.get(&id) else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no watcher `{id}`"),
        ));
    };
    let source = watcher.source_names().remove(0);
    let e = Event {
        watcher: id.clone(),
        tenant: tenant.clone(),
        source,
        at: now_ms(),
        kind,
        run_id: None,
        seq: None,
        exit_status: None,
        count: None,
    };
    if dry_run {
        return dry_pause_or_resume(&state, &w, e).await;
    }
    let r = ingest(Arc::clone(&state), ctx.clone(), vec![e], &[0]).await?;
    if let Some((_, why)) = r.ignored.first() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("watcher `{id}`: {why}"),
        ));
    }
    show(
        State(state),
        Extension(ctx),
        Path(id),
        Query(TenantParam {
            tenant: Some(tenant),
        }),
    )
    .await
}

/// Pause a watcher: nothing is expected until it is resumed (or, without
/// `manual_resume`, until a heartbeat wakes it).
#[utoipa::path(
    post, path = "/v1/watchers/{id}/pause", tag = "meta-monitor",
    params(("id" = String, Path, description = "The watcher"), PauseParams),
    responses(
        (status = 200, description = "Paused: its state now", body = WatcherStatus),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A tenant-bound identity: the platform pauses and resumes", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such watcher", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn pause(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<PauseParams>,
    headers: axum::http::HeaderMap,
) -> Result<Response, Problem> {
    pause_or_resume_once(state, ctx, id, q, headers, Kind::Pause).await
}

/// Resume a paused watcher: `new`, waiting for its next heartbeat.
#[utoipa::path(
    post, path = "/v1/watchers/{id}/resume", tag = "meta-monitor",
    params(("id" = String, Path, description = "The watcher"), PauseParams),
    responses(
        (status = 200, description = "Resumed: its state now", body = WatcherStatus),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A tenant-bound identity: the platform pauses and resumes", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such watcher", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "It is not paused", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn resume(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<PauseParams>,
    headers: axum::http::HeaderMap,
) -> Result<Response, Problem> {
    pause_or_resume_once(state, ctx, id, q, headers, Kind::Resume).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphParams {
    /// `json` (default) or `dot` (Graphviz).
    #[param(inline)]
    format: Option<GraphFormat>,
}

/// The dependency graph of the watchers with their states.
#[utoipa::path(
    get, path = "/v1/watchers/graph", tag = "meta-monitor",
    params(GraphParams),
    responses(
        (status = 200, description = "`{nodes: [{id, watcher, tenant, state, suppressed_by}], edges: [{from, to, on_upstream_down}]}`, or DOT with `?format=dot`", content(
            (Object = "application/json"),
            (String = "text/vnd.graphviz"),
        )),
        (status = 400, description = "A malformed query string, or an unknown `state` or `format`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn graph(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<GraphParams>,
) -> Result<Response, Problem> {
    let dot = matches!(q.format, Some(GraphFormat::Dot));
    let now = now_ms();
    let st = Arc::clone(&state);
    let (_, w) = watchers(&state)?;
    let w2 = w.clone();
    let all = tokio::task::spawn_blocking(move || statuses(&st, &w2, now))
        .await
        .map_err(store_failed)??;
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    let visible: Vec<_> = all
        .into_iter()
        .filter(|s| {
            bound
                .as_ref()
                .is_none_or(|b| s.tenant.is_empty() || &s.tenant == b)
        })
        .collect();
    let g = render::graph(&w, &visible);
    if dot {
        use axum::response::IntoResponse;
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/vnd.graphviz; charset=utf-8",
            )],
            render::graph_dot(&g),
        )
            .into_response());
    }
    Ok(json_response(&g))
}

/// A tenant's facts, what the pack's `exempt_when` reads.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactsBody {
    /// The tenant's fields (`tier`, `llm_enabled`...); `id` is the path's.
    #[schema(value_type = Object)]
    tenant: serde_json::Map<String, Value>,
    /// Its recent stats (`events_24h`, `webhooks_configured`...).
    #[serde(default)]
    #[schema(value_type = Object)]
    stats: serde_json::Map<String, Value>,
}

/// What a tenant's facts exempt it from.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactsAnswer {
    /// `true` on the answer of a `?dry_run=true`: nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    pub tenant: String,
    /// The watchers whose `exempt_when` holds for it now.
    pub exempt: Vec<String>,
}

/// Set a tenant's facts. Only the platform may: a tenant that could
/// declare itself a quiet sandbox could silence its own watchers.
#[utoipa::path(
    put, path = "/v1/monitor/tenants/{tenant}", tag = "meta-monitor",
    params(("tenant" = String, Path, description = "The tenant"), DryRunParam),
    request_body = FactsBody,
    responses(
        (status = 200, description = "Kept, with its audit event; the watchers they exempt", body = FactsAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A tenant-bound identity (a tenant does not set its own facts)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `meta_monitor` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn put_facts(Path(tenant): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(|s, c, b, d| put_facts_now(s, c, tenant, b, d)).await
}

async fn put_facts_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    tenant: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    if let Some(b) = ctx.identity.as_ref().and_then(|i| i.tenant.clone()) {
        let ev = event(
            &ctx,
            format!("tenants/{tenant}"),
            "refused".into(),
            json!({"why": "tenant-bound identity"}),
            &b,
            &state.fingerprint(),
            started,
        );
        let _ = state.audit.record(ev).await;
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Not Allowed",
            format!("identity bound to tenant `{b}`: a tenant's facts are set by the platform, never by the tenant"),
        ));
    }
    if tenant.trim().is_empty() {
        return Err(invalid("the tenant is empty".into()));
    }
    let b: FactsBody = json_body(&body, "{\"tenant\": object, \"stats\": object}")?;
    let mut t = b.tenant;
    t.insert("id".into(), json!(tenant));
    let facts = json!({"tenant": t, "stats": b.stats});
    let (bundle, _) = watchers(&state)?;
    let now = now_ms();
    let pack = tenet_meta_monitor::pack(&bundle.rules)
        .map_err(|_| no_pack(bundle.rules.packs.iter().map(|p| p.name.clone()).collect()))?;
    let exempt: Vec<String> = engine::exempt(
        &pack,
        &tenet_runtime::dsl::Value::from_json(&facts),
        Some(render::rfc3339(now)),
    )
    .into_iter()
    .collect();
    if dry_run {
        return Ok(json_response(&FactsAnswer {
            dry_run: Some(true),
            tenant,
            exempt,
        }));
    }
    let ev = event(
        &ctx,
        format!("tenants/{tenant}"),
        "facts_set".into(),
        json!({"exempt": exempt}),
        &tenant,
        &bundle.fingerprint,
        started,
    );
    let st = Arc::clone(&state);
    let (t2, f2) = (tenant.clone(), facts.clone());
    tokio::task::spawn_blocking(move || {
        ms::set_tenant_facts(&mut st.monitor.store(), &t2, &f2, now, &ev)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(&FactsAnswer {
        dry_run: None,
        tenant,
        exempt,
    }))
}
