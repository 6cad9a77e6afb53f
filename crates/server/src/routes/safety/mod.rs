//! `/v1/safety/...`: the safety workflows (`tenet-safety-workflows`).
//!
//! Thin: each handler parses the body, takes the caller from its identity
//! (never from the body), runs the engine on the serving bundle's
//! `safety` pack with the wall clock, and writes the result with its
//! audit event in one store transaction ([`tenet_safety_workflows::store::step`],
//! conditional on the version it read, so two replicas cannot both apply
//! a step). Refusals are audited too and answered as problems carrying
//! the engine's `code`. Notices go out through the configured webhooks
//! (`safety.notify`, `safety.escalation`) after the commit; a preflight
//! that needs reviews is kept only once its approvers were told.

use super::{json_body, json_response, now_ms};
use crate::access::RequestCtx;
use crate::clock::now_rfc3339;
use crate::config::Config;
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::{routes, RouteTable};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_notify::{Notification, Notifier};
use tenet_runtime::pack::PackHandle;
use tenet_safety_workflows::engine::{
    self, Change, Confirm, Deps, Fresh, Notice, PreflightRequest, Refusal,
};
use tenet_safety_workflows::model::{ActionRecord, Actor, Ms, State as ActionState, Verdict};
use tenet_safety_workflows::store::{self as sw, ListQuery};
use tenet_store::{AuditEvent, Store};
use utoipa::{IntoParams, ToSchema};

mod bodies;
mod sweep;

pub use bodies::*;
pub use sweep::sweep;

/// The module's routes.
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(preflight))
        .route(routes!(list))
        .route(routes!(show))
        .route(routes!(review))
        .route(routes!(confirm))
        .route(routes!(break_glass))
        .route(routes!(break_glass_review))
        .route(routes!(execute))
        .route(routes!(cancel))
}

/// The module's connection and channels.
pub struct Safety {
    store: Mutex<Store>,
    /// New actions go to a writer thread that commits them in batches
    /// (group commit), each with its audit event.
    inserts: std::sync::mpsc::SyncSender<Insert>,
    notify: Option<Arc<dyn Notifier>>,
    escalation: Option<Arc<dyn Notifier>>,
    /// Signs execution grants; `None`: grants go out unsigned.
    grant_key: Option<Vec<u8>>,
}

impl Safety {
    /// Opens its own connection to the store (with the module's table)
    /// and the configured webhooks.
    pub fn open(config: &Config) -> Result<Safety, String> {
        let mut store = sw::open(&config.store).map_err(|e| e.to_string())?;
        store
            .migrate(crate::idempotency::MIGRATIONS)
            .map_err(|e| e.to_string())?;
        // Durable before answered, as the audit log is.
        store.sync_full().map_err(|e| e.to_string())?;
        let hook = |c: &Option<tenet_notify::config::WebhookConfig>,
                    key: &str|
         -> Result<Option<Arc<dyn Notifier>>, String> {
            match c {
                None => Ok(None),
                Some(c) => tenet_notify::Webhook::from_env(c.clone())
                    .map(|w| Some(Arc::new(w) as Arc<dyn Notifier>))
                    .map_err(|e| format!("`safety.{key}`: {e}")),
            }
        };
        let grant_key = std::env::var(&config.safety.grant_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().as_bytes().to_vec());
        if grant_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(format!(
                "`{}` holds a grant-signing key of fewer than 32 bytes: use at least 32 random bytes (openssl rand -hex 32)",
                config.safety.grant_key_env
            ));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Insert>(4096);
        let rx = Arc::new(Mutex::new(rx));
        // One writer on both stores: SQLite has one writer at a time, and
        // on PostgreSQL one writer's batches are larger than four
        // writers' (each commit waits for its own WAL flush): 7,000
        // kept preflights/s against 5,100 at `-c8` (BENCHMARKS.md).
        let writers = 1;
        for i in 0..writers {
            let writer = sw::open(&config.store).map_err(|e| e.to_string())?;
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("tenet-safety-writer-{i}"))
                .spawn(move || write_inserts(writer, &rx))
                .map_err(|e| format!("cannot start the safety writer: {e}"))?;
        }
        Ok(Safety {
            store: Mutex::new(store),
            inserts: tx,
            notify: hook(&config.safety.notify, "notify")?,
            escalation: hook(&config.safety.escalation, "escalation")?,
            grant_key,
        })
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Delivery counts of the channels, for health.
    pub fn channels(&self) -> Vec<(&'static str, tenet_notify::Stats)> {
        let mut out = Vec::new();
        if let Some(n) = &self.notify {
            out.push(("notify", n.stats()));
        }
        if let Some(n) = &self.escalation {
            out.push(("escalation", n.stats()));
        }
        out
    }
}

/// A new action, its audit event, and who waits for the commit.
type Insert = (
    ActionRecord,
    AuditEvent,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

/// The most new actions one commit carries.
const MAX_BATCH: usize = 256;

/// Commits new actions in batches: everything waiting when a commit
/// starts goes into it (one sync for all). A batch that fails (one id
/// refused) is retried action by action, so only that one fails.
fn write_inserts(mut store: Store, rx: &Mutex<std::sync::mpsc::Receiver<Insert>>) {
    let _ = store.sync_full();
    loop {
        // Take what is waiting, then let the next writer take the rest
        // while this one commits.
        let batch = {
            let rx = match rx.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(x) => batch.push(x),
                    Err(_) => break,
                }
            }
            batch
        };
        let items: Vec<(ActionRecord, AuditEvent)> = batch
            .iter()
            .map(|(r, e, _)| (r.clone(), e.clone()))
            .collect();
        match sw::insert_batch(&mut store, &items) {
            Ok(()) => {
                for (_, _, reply) in batch {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(_) if batch.len() > 1 => {
                for (r, e, reply) in batch {
                    let _ = reply.send(sw::insert(&mut store, &r, &e).map_err(|x| x.to_string()));
                }
            }
            Err(e) => {
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// 128 (ids) or 256 (nonces) random bits from the OS, as hex.
fn random_hex(bytes: usize) -> Result<String, Problem> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No Randomness",
            format!("the system's random source failed: {e}"),
        )
    })?;
    Ok(hex::encode(buf))
}

/// The caller, from its identity.
fn caller(ctx: &RequestCtx) -> Actor {
    match &ctx.identity {
        Some(i) => Actor {
            id: i.name.clone(),
            roles: i.roles.clone(),
            tenant: i.tenant.clone(),
            traits: i.traits.clone(),
        },
        None => Actor {
            id: "anonymous".into(),
            tenant: ctx.tenant.clone(),
            ..Actor::default()
        },
    }
}

fn no_pack(names: Vec<String>) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "No Safety Pack",
        format!(
            "the serving rules have no `{}` pack (packs: {}); the safety workflows fail closed without it",
            tenet_safety_workflows::PACK,
            names.join(", ")
        ),
    )
}

fn store_failed(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Store Unavailable",
        format!("the store could not be read or written, so nothing was done (fail closed): {e}"),
    )
}

fn refused(f: &Refusal) -> Problem {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::CONFLICT);
    let title = match f.status {
        403 => "Not Allowed",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Invalid Request",
        _ => "Safety Pack Failed",
    };
    // Another tenant's action is audited as such and answered as missing.
    let code = if f.code == "other_tenant" {
        "not_found"
    } else {
        f.code
    };
    Problem::new(status, title, f.detail.clone()).with("code", json!(code))
}

/// The audit event of one step (refused or not).
fn event(
    ctx: &RequestCtx,
    subject: &str,
    started: Instant,
    outcome: &str,
    reason: Option<String>,
    details: serde_json::Value,
    bundle: &str,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("{}.{}", ctx.action_id, random_suffix()),
        at: now_rfc3339(),
        source: "safety-workflows".into(),
        subject: subject.to_string(),
        actor: ctx.actor(),
        scope: "safety".into(),
        outcome: outcome.to_string(),
        reason,
        latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
        details,
        tenant: ctx.tenant.clone(),
        bundle: Some(bundle.to_string()),
    }
}

/// Tells one attempt of a step from the next in the audit log (a step
/// re-run after a lost race is a second event of the same request).
fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// An action about a person names them in its descriptor as
/// `data_subject` (so the approval covers it, through the digest); each
/// step's audit event carries it, and rtx-export gathers the steps about
/// a subject from those events.
pub(super) fn with_subject(
    mut details: serde_json::Value,
    action: &serde_json::Value,
) -> serde_json::Value {
    if let (Some(s), Some(d)) = (
        action.get("data_subject").and_then(|s| s.as_str()),
        details.as_object_mut(),
    ) {
        d.insert("data_subject".into(), json!(s));
    }
    details
}

fn step_event(
    ctx: &RequestCtx,
    id: &str,
    what: &str,
    started: Instant,
    bundle: &str,
    res: &Result<Change, Refusal>,
) -> AuditEvent {
    match res {
        // The action's tenant, not the caller's: a platform reviewer acting
        // on a tenant's action writes into that tenant's log (and its
        // rtx-export bundles).
        Ok(c) => AuditEvent {
            tenant: c.record.tenant.clone(),
            ..event(
                ctx,
                id,
                started,
                c.outcome,
                (!c.detail.is_empty()).then(|| c.detail.clone()),
                with_subject(
                    json!({"step": what, "state": c.record.state, "version": c.record.version, "digest": c.record.digest}),
                    &c.record.action,
                ),
                bundle,
            )
        },
        Err(f) => event(
            ctx,
            id,
            started,
            &format!("refused:{}", f.code),
            Some(f.detail.clone()),
            json!({"step": what, "status": f.status, "voided": f.void.is_some()}),
            bundle,
        ),
    }
}

fn notification(
    n: &Notice,
    kind_prefix: &str,
    tenant: Option<String>,
    severity: &str,
) -> Notification {
    Notification {
        id: format!("{}.{}{}", n.action_id, kind_prefix, n.kind),
        module: tenet_safety_workflows::MODULE.into(),
        kind: n.kind.into(),
        tenant,
        subject: n.action_id.clone(),
        severity: severity.into(),
        payload: json!({
            "action_id": n.action_id,
            "summary": n.summary,
            "roles": n.roles,
            "ids": n.ids,
            "links": {"self": format!("/v1/safety/actions/{}", n.action_id)},
        }),
        created_at: now_rfc3339(),
    }
}

/// Sends one notice on `channel`: counted (`/metrics`), and when it is
/// not delivered, logged and audited (`notify_failed`), never silent.
async fn deliver(
    state: &AppState,
    channel: &Arc<dyn Notifier>,
    n: &Notice,
    tenant: Option<String>,
    severity: &str,
) -> bool {
    let d = channel
        .send(&notification(n, "", tenant.clone(), severity))
        .await;
    state
        .metrics
        .safety_notices
        .get_or_create(&crate::metrics::NoticeLabels {
            kind: n.kind.into(),
            result: d.outcome().into(),
        })
        .inc();
    if d.is_delivered() {
        return true;
    }
    tracing::warn!(action_id = %n.action_id, kind = n.kind, outcome = d.outcome(), "a safety notice was not delivered");
    let ev = AuditEvent {
        id: 0,
        action_id: format!("notify-{}-{}-{}", n.action_id, n.kind, random_suffix()),
        at: now_rfc3339(),
        source: "safety-workflows".into(),
        subject: n.action_id.clone(),
        actor: "notify".into(),
        scope: "safety".into(),
        outcome: "notify_failed".into(),
        reason: d.reason(),
        latency_ms: 0,
        details: json!({"step": "notify", "kind": n.kind, "delivery": d.outcome(), "target": channel.target()}),
        tenant,
        bundle: None,
    };
    let _ = state.audit.record(ev).await;
    false
}

/// Sends notices after a commit (escalations on the escalation channel
/// when there is one).
async fn send_all(state: &AppState, notices: &[Notice], tenant: Option<String>, severity: &str) {
    let safety = &state.safety;
    for n in notices {
        let channel = if n.kind == "escalation" || n.kind == "break_glass_overdue" {
            safety.escalation.as_ref().or(safety.notify.as_ref())
        } else {
            safety.notify.as_ref()
        };
        if let Some(c) = channel {
            deliver(state, c, n, tenant.clone(), severity).await;
        }
    }
}

// ---------------------------------------------------------------------------
// Handlers

/// Ask what an action needs before it may run.
#[utoipa::path(
    post, path = "/v1/safety/preflight", tag = "safety",
    request_body = PreflightBody,
    responses(
        (status = 200, description = "What the action needs. `outcome` is `nothing_required` (nothing kept), `required` (kept when not a simulation: `action_id`, `nonce`, `links`) or `blocked` (the pack failed, or a dependency is down and the pack says deny: nothing kept)", body = ActionAnswer),
        (status = 400, description = "The body is not JSON, or a malformed `Idempotency-Key`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "A request with this `Idempotency-Key` is still running", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape, or an `Idempotency-Key` used with another body", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 500, description = "The audit event could not be written; nothing is answered", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack is serving, or the store is down: fail closed", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn preflight(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let (st, c2, b2) = (Arc::clone(&state), ctx.clone(), body.clone());
    crate::idempotency::once(
        &state,
        &ctx,
        &headers,
        "POST /v1/safety/preflight",
        &body,
        async move { preflight_now(st, c2, b2).await },
    )
    .await
}

async fn preflight_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let body: PreflightBody = json_body(
        &body,
        "{\"action\": object, \"context\": object, \"simulate\": bool}",
    )?;
    let me = caller(&ctx);
    let req = PreflightRequest {
        action: serde_json::Value::Object(body.action),
        context: serde_json::Value::Object(body.context),
        simulate: body.simulate,
    };
    let fresh = Fresh {
        id: format!("act-{}", random_hex(16)?),
        nonce: random_hex(32)?,
    };
    let bundle = state.bundle.load_full();
    let now = now_ms();
    let run = |deps: Deps| -> Result<engine::Preflight, Problem> {
        let pack = tenet_safety_workflows::pack(&bundle.rules)
            .map_err(|_| no_pack(bundle.rules.packs.iter().map(|p| p.name.clone()).collect()))?;
        Ok(engine::preflight(&pack, &me, &req, &fresh, deps, now))
    };
    let mut p = run(Deps::UP)?;
    let safety = &state.safety;
    // Kept only once the approvers were told: a failed delivery is the
    // pack's `on_dependency_unavailable` (deny, or escalate).
    if let (Some(rec), Some(channel)) = (&p.record, &safety.notify) {
        let mut delivered = true;
        let severity = rec.requirements.risk.clone().unwrap_or_default();
        for n in &p.notices {
            delivered &= deliver(&state, channel, n, rec.tenant.clone(), &severity).await;
        }
        if !delivered {
            let escalation_up = safety.escalation.is_some();
            p = run(Deps {
                notify: false,
                escalation: escalation_up,
            })?;
            if let (Some(rec), Some(esc)) = (&p.record, &safety.escalation) {
                let mut ok = true;
                for n in &p.notices {
                    ok &= deliver(&state, esc, n, rec.tenant.clone(), &severity).await;
                }
                if !ok {
                    p = run(Deps {
                        notify: false,
                        escalation: false,
                    })?;
                }
            }
        }
    }
    let subject = p
        .record
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| "-".into());
    let reason = p
        .answer
        .matched
        .first()
        .and_then(|m| m.because.clone())
        .or_else(|| p.answer.errors.first().cloned());
    let ev = event(
        &ctx,
        &subject,
        started,
        p.outcome,
        reason,
        with_subject(
            json!({
                "step": "preflight",
                "state": p.record.as_ref().map(|r| r.state),
                "simulate": req.simulate,
                "digest": p.answer.digest,
                "risk": p.answer.risk,
                "blocks": p.answer.matched.iter().map(|m| m.block.clone()).collect::<Vec<_>>(),
                "errors": p.answer.errors,
            }),
            &req.action,
        ),
        &bundle.fingerprint,
    );
    let answer = answer_body(&p.answer);
    state.metrics.safety_step("preflight", p.outcome);
    match p.record {
        Some(rec) => {
            let (reply, done) = tokio::sync::oneshot::channel();
            state
                .safety
                .inserts
                .try_send((rec, ev, reply))
                .map_err(|e| {
                    store_failed(format!("the safety writer is not taking actions ({e})"))
                })?;
            done.await
                .map_err(|_| store_failed("the safety writer stopped"))?
                .map_err(store_failed)?;
        }
        None => {
            state.audit.record(ev).await.map_err(|why| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Audit Write Failed",
                    format!("the audit event could not be written, so nothing is answered: {why}"),
                )
            })?;
        }
    }
    Ok(json_response(&answer))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only actions in this state.
    #[param(pattern = "^(pending|approved|denied|expired|cancelled|executed)$")]
    pub state: Option<String>,
    /// Only this tenant's actions (an identity bound to a tenant sees only its own).
    pub tenant: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}\\.act-[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

fn cursor_of(r: &ActionRecord) -> String {
    format!("{}.{}", r.created_ms, r.id)
}

fn parse_cursor(c: &str) -> Option<(Ms, String)> {
    let (ms, id) = c.split_once('.')?;
    let ms: Ms = ms.parse().ok()?;
    let hex = id.strip_prefix("act-")?;
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| (ms, id.to_string()))
}

/// List actions, newest first.
#[utoipa::path(
    get, path = "/v1/safety/actions", tag = "safety",
    params(ListParams),
    responses(
        (status = 200, description = "A page of actions, newest first", body = ActionList),
        (status = 400, description = "A malformed cursor or query", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(p): Query<ListParams>,
) -> Result<Response, Problem> {
    let bad = |d: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", d);
    let st = match p.state.as_deref() {
        None => None,
        Some(s) => Some(ActionState::parse(s).ok_or_else(|| bad(format!("`state` is one of pending, approved, denied, expired, cancelled, executed, not `{s}`")))?),
    };
    let after = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            parse_cursor(c)
                .ok_or_else(|| bad("`cursor` is not one this server gave out".into()))?,
        ),
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad(format!("`limit` is between 1 and 500, not {limit}")));
    }
    // An identity bound to a tenant sees its own only.
    let me = caller(&ctx);
    let tenant = match (&me.tenant, p.tenant) {
        (Some(mine), Some(asked)) if *mine != asked => {
            return Ok(json_response(&ActionList {
                actions: vec![],
                next_cursor: None,
            }))
        }
        (Some(mine), _) => Some(mine.clone()),
        (None, asked) => asked,
    };
    let q = ListQuery {
        state: st,
        tenant,
        limit,
        after,
    };
    let st2 = Arc::clone(&state);
    let rows = tokio::task::spawn_blocking(move || sw::list(&st2.safety.store(), &q))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let now = now_ms();
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(cursor_of))
        .flatten();
    let actions = rows.iter().map(|r| view(r, now)).collect();
    Ok(json_response(&ActionList {
        actions,
        next_cursor,
    }))
}

/// One action: where it stands, its reviews, its history, its next steps.
#[utoipa::path(
    get, path = "/v1/safety/actions/{id}", tag = "safety",
    params(("id" = String, Path, description = "The action id")),
    responses(
        (status = 200, description = "The action", body = ActionView),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let st = Arc::clone(&state);
    let key = id.clone();
    let rec = tokio::task::spawn_blocking(move || sw::get(&st.safety.store(), &key))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let me = caller(&ctx);
    let visible = rec.filter(|r| match (&me.tenant, &r.tenant) {
        (Some(c), Some(t)) => c == t,
        (Some(_), None) => false,
        (None, _) => true,
    });
    match visible {
        Some(r) => Ok(json_response(&view(&r, now_ms()))),
        None => {
            let f = Refusal::not_found();
            let ev = event(
                &ctx,
                &id,
                started,
                "refused:not_found",
                Some(f.detail.clone()),
                json!({"step": "show"}),
                &state.fingerprint(),
            );
            let _ = state.audit.record(ev).await;
            Err(refused(&f))
        }
    }
}

/// Runs one engine step on the action `id` and answers it.
/// What a step request carries besides its action: the `Idempotency-Key`
/// header, the raw body (for the key's check) and `?dry_run=true`.
struct StepReq {
    headers: HeaderMap,
    body: Bytes,
    dry_run: bool,
}

async fn run_step<F>(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    what: &'static str,
    req: StepReq,
    f: F,
) -> Result<Response, Problem>
where
    F: Fn(&PackHandle, &ActionRecord, Ms) -> Result<Change, Refusal> + Send + 'static,
{
    let route = format!("POST /v1/safety/actions/{id}/{what}");
    if req.dry_run {
        // Answers what the step would do; writes nothing, not even an
        // audit event (the store stays byte for byte as it was).
        return dry_run_step(state, ctx, id, f).await;
    }
    let (st, c2) = (Arc::clone(&state), ctx.clone());
    crate::idempotency::once(&state, &ctx, &req.headers, &route, &req.body, async move {
        run_step_now(st, c2, id, what, f).await
    })
    .await
}

async fn dry_run_step<F>(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    f: F,
) -> Result<Response, Problem>
where
    F: Fn(&PackHandle, &ActionRecord, Ms) -> Result<Change, Refusal> + Send + 'static,
{
    let bundle = state.bundle.load_full();
    let st = Arc::clone(&state);
    let rec = tokio::task::spawn_blocking(move || sw::get(&st.safety.store(), &id))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let _ = ctx;
    let Some(rec) = rec else {
        return Err(refused(&Refusal::not_found()));
    };
    let pack = tenet_safety_workflows::pack(&bundle.rules)
        .map_err(|_| no_pack(bundle.rules.packs.iter().map(|p| p.name.clone()).collect()))?;
    let now = now_ms();
    match f(&pack, &rec, now) {
        Ok(change) => Ok(json_response(&StepAnswer {
            outcome: change.outcome.into(),
            dry_run: true,
            action: view(&change.record, now),
            grant: None,
        })),
        Err(f) => Err(refused(&f)),
    }
}

async fn run_step_now<F>(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    what: &'static str,
    f: F,
) -> Result<Response, Problem>
where
    F: Fn(&PackHandle, &ActionRecord, Ms) -> Result<Change, Refusal> + Send + 'static,
{
    let started = Instant::now();
    let bundle = state.bundle.load_full();
    if tenet_safety_workflows::pack(&bundle.rules).is_err() {
        return Err(no_pack(
            bundle.rules.packs.iter().map(|p| p.name.clone()).collect(),
        ));
    }
    let st = Arc::clone(&state);
    let ctx2 = ctx.clone();
    let key = id.clone();
    let result = tokio::task::spawn_blocking(move || {
        let pack = tenet_safety_workflows::pack(&bundle.rules)
            .map_err(|e| StoreOr::Other(e.to_string()))?;
        let now = now_ms();
        sw::step(
            &mut st.safety.store(),
            &key,
            |rec| f(&pack, rec, now),
            |res| step_event(&ctx2, &key, what, started, &bundle.fingerprint, res),
        )
        .map_err(|e| StoreOr::Store(e.to_string()))
    })
    .await
    .map_err(store_failed)?
    .map_err(|e| match e {
        StoreOr::Store(e) | StoreOr::Other(e) => store_failed(e),
    })?;
    match &result {
        Ok(c) => state.metrics.safety_step(what, c.outcome),
        Err(f) => state
            .metrics
            .safety_step(what, &format!("refused:{}", f.code)),
    }
    match result {
        Ok(change) => {
            let tenant = change.record.tenant.clone();
            let severity = change.record.requirements.risk.clone().unwrap_or_default();
            send_all(&state, &change.notices, tenant, &severity).await;
            let now = now_ms();
            Ok(json_response(&StepAnswer {
                outcome: change.outcome.into(),
                dry_run: false,
                action: view(&change.record, now),
                grant: change.grant.as_ref().map(|g| signed(&state.safety, g)),
            }))
        }
        Err(f) => Err(refused(&f)),
    }
}

enum StoreOr {
    Store(String),
    Other(String),
}

/// `?dry_run=true` on a step: answer what it would do, write nothing.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StepParams {
    /// Answer what the step would do; change nothing.
    pub dry_run: Option<bool>,
}

/// A review: approve or deny.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    #[schema(value_type = String, pattern = "^(approve|deny)$")]
    pub decision: Verdict,
    /// Why; quorum filters may read it as `review.comment`.
    #[serde(default)]
    pub comment: String,
}

/// Review an action. The requester cannot; one review per reviewer; a
/// review needs one of the action's approver roles and counts toward the
/// quorums whose filter it matches.
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/reviews", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    request_body = ReviewBody,
    responses(
        (status = 200, description = "The review is counted; `outcome` is `reviewed`, `approved` or `denied`", body = StepAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Self-review, or no approver role (`code`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already reviewed, resolved, expired, or the pack now requires something else (`code`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 500, description = "A quorum filter failed to evaluate", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn review(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let b: ReviewBody = json_body(
        &body,
        "{\"decision\": \"approve\" | \"deny\", \"comment\": string}",
    )?;
    let me = caller(&ctx);
    run_step(
        state,
        ctx,
        id,
        "review",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |pack, rec, now| engine::review(pack, rec, &me, b.decision, &b.comment, now),
    )
    .await
}

/// What the requester supplies.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// At least the pack's `justification_min` characters, matching its pattern.
    pub justification: Option<String>,
    /// A ticket id matching the pack's `ticket` pattern.
    pub ticket: Option<String>,
    /// Skip the reviews of a `soft_mandatory` action (needs a justification; audited).
    #[serde(default, rename = "override")]
    pub override_reviews: bool,
}

/// Record the requester's justification and ticket (or override a
/// soft-mandatory action's reviews).
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/confirm", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "Recorded; `outcome` is `confirmed` or `overridden`", body = StepAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not the requester, or a hard_mandatory override (`code`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Resolved, expired, or the pack now requires something else (`code`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Too short, not matching the pack's pattern, or nothing given", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 500, description = "The pack's pattern does not compile", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let b: ConfirmBody = json_body(
        &body,
        "{\"justification\": string, \"ticket\": string, \"override\": bool}",
    )?;
    let me = caller(&ctx);
    let c = Confirm {
        justification: b.justification,
        ticket: b.ticket,
        override_reviews: b.override_reviews,
    };
    run_step(
        state,
        ctx,
        id,
        "confirm",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |pack, rec, now| engine::confirm(pack, rec, &me, &c, now),
    )
    .await
}

/// A break-glass reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassBody {
    /// Mandatory; at least the pack's `reason_min` characters.
    pub reason: String,
}

/// Skip the reviews along the pack's break-glass path: every approver is
/// told, and a post-hoc review with a deadline opens.
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/break-glass", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    request_body = BreakGlassBody,
    responses(
        (status = 200, description = "Approved by break glass", body = StepAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "No break-glass path, or not one of its roles", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, expired, or the pack now requires something else", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The reason is too short, or the body of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn break_glass(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let b: BreakGlassBody = json_body(&body, "{\"reason\": string}")?;
    let me = caller(&ctx);
    run_step(
        state,
        ctx,
        id,
        "break_glass",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |pack, rec, now| engine::break_glass(pack, rec, &me, &b.reason, now),
    )
    .await
}

/// Close the post-hoc review of a break-glass use.
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/break-glass/review", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    responses(
        (status = 200, description = "Reviewed", body = StepAnswer),
        (status = 400, description = "A malformed query or `Idempotency-Key`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "An `Idempotency-Key` used with another body or route", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Who broke glass or asked, or no approver role", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "No break-glass use, or reviewed already", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn break_glass_review(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let me = caller(&ctx);
    run_step(
        state,
        ctx,
        id,
        "break_glass_review",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |_, rec, now| engine::review_break_glass(rec, &me, now),
    )
    .await
}

/// The descriptor again, and the nonce of the preflight answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// The descriptor: it must hash to the approved digest.
    #[schema(value_type = Object)]
    pub action: serde_json::Map<String, serde_json::Value>,
    /// From the preflight answer.
    pub nonce: String,
}

/// Execute an approved action once: the nonce, the descriptor's digest,
/// every confirmation and the hold are checked, and one use is consumed
/// atomically.
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/execute", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    request_body = ExecuteBody,
    responses(
        (status = 200, description = "Executed: the `grant` to present downstream", body = StepAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not the requester", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "A wrong nonce, a replay, a changed descriptor (the approvals are void), not approved, a missing confirmation, the hold, expiry (`code`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn execute(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let b: ExecuteBody = json_body(&body, "{\"action\": object, \"nonce\": string}")?;
    let me = caller(&ctx);
    let action = serde_json::Value::Object(b.action);
    run_step(
        state,
        ctx,
        id,
        "execute",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |pack, rec, now| engine::execute(pack, rec, &me, &action, &b.nonce, now),
    )
    .await
}

/// Withdraw an action: the requester, or one of its approvers (during
/// its hold, say).
#[utoipa::path(
    post, path = "/v1/safety/actions/{id}/cancel", tag = "safety",
    params(("id" = String, Path, description = "The action id"), StepParams),
    responses(
        (status = 200, description = "Cancelled", body = StepAnswer),
        (status = 400, description = "A malformed query or `Idempotency-Key`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "An `Idempotency-Key` used with another body or route", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Neither the requester nor an approver (`not_allowed`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such action (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `safety` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<StepParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let me = caller(&ctx);
    run_step(
        state,
        ctx,
        id,
        "cancel",
        StepReq {
            headers,
            body: body.clone(),
            dry_run: q.dry_run.unwrap_or(false),
        },
        move |_, rec, now| engine::cancel(rec, &me, now),
    )
    .await
}
