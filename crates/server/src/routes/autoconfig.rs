//! `/v1/tenants/{id}/diff`, `/v1/tenants/{id}/changes` and
//! `/v1/profiles/{name}/apply`: autoconfig (`tenet-autoconfig`).
//!
//! Thin: the apply handler checks the change windows and hands the step to
//! [`tenet_autoconfig::store::with_tenant`], which locks the tenant's row
//! while [`tenet_autoconfig::engine::provision`] reads the live document
//! from the config center (`autoconfig.config_dir`), plans, applies and
//! writes it whole; the change-log entries and the audit event are written
//! with the row. An identity bound to a tenant reads only its own (another
//! tenant's id is the 404 of one that does not exist); provisioning is the
//! platform's (403).

use super::{invalid, json_body, json_response, now_ms, store_failed, DryRunParam};
use crate::access::RequestCtx;
use crate::clock::now_rfc3339;
use crate::idempotency::Mutation;
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::{routes, RouteTable};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::config_center::{ConfigCenter, Directory, Http};
use tenet_autoconfig::engine::{provision, remediate, Run};
use tenet_autoconfig::plan::{plan, Document};
use tenet_autoconfig::store::{self as acs, Step, StepError};
use tenet_store::{AuditEvent, Store};
use utoipa::{IntoParams, ToSchema};

/// The module's routes.
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(diff))
        .route(routes!(changes))
        .route(routes!(apply))
        .route(routes!(remediate_route))
}

/// The module's store connection and config center.
pub struct Autoconfig {
    store: Mutex<Store>,
    center: Arc<dyn ConfigCenter>,
}

impl Autoconfig {
    pub fn open(config: &crate::config::Config) -> Result<Autoconfig, String> {
        let center: Arc<dyn ConfigCenter> = match &config.autoconfig_url {
            Some(url) => Arc::new(Http::new(url.clone(), config.autoconfig_timeout)),
            None => Arc::new(Directory::new(config.autoconfig_dir.clone())),
        };
        Ok(Autoconfig {
            store: Mutex::new(acs::open(&config.store).map_err(|e| e.to_string())?),
            center,
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn no_tenant(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no tenant `{id}` with a configuration"),
    )
}

/// The tenant in a path as the caller may see it (the benchmark's rule).
fn tenant_path(ctx: &RequestCtx, id: &str) -> Result<(), Problem> {
    let valid = !id.is_empty()
        && id.len() <= 128
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

/// The serving bundle's baselines, or 503.
fn baselines(state: &AppState) -> Result<(Arc<crate::state::Loaded>, Baselines), Problem> {
    let bundle = state.bundle.load_full();
    let pack = tenet_autoconfig::pack(&bundle.rules).map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No Autoconfig Pack",
            "the serving rules have no `autoconfig` pack".to_string(),
        )
    })?;
    let b = Baselines::read(&pack).map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Autoconfig Pack Unusable",
            e,
        )
    })?;
    Ok((bundle, b))
}

fn no_baseline(b: &Baselines, name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no baseline `{name}` (baselines: {})", b.names().join(", ")),
    )
}

/// 409 outside the baseline's change windows, with when they next allow
/// a change.
fn change_window(base: &tenet_autoconfig::baselines::Baseline, now: i64) -> Result<(), Problem> {
    let windows: Vec<_> = base.windows.iter().map(|(_, w)| w.clone()).collect();
    let at = tenet_runtime::clock::Timestamp::from_millis(now);
    let at =
        chrono::DateTime::from_timestamp(at.unix_secs(), at.subsec_nanos()).unwrap_or_default();
    let verdict = tenet_runtime::dsl::window::allows(&windows, at).map_err(invalid)?;
    if verdict.allowed {
        return Ok(());
    }
    let next = tenet_runtime::dsl::window::next_allowed(&windows, at)
        .ok()
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    Err(Problem::new(
        StatusCode::CONFLICT,
        "Outside Change Window",
        format!(
            "baseline `{}` changes nothing now: {}",
            base.name, verdict.reason
        ),
    )
    .with("next_window", json!(next)))
}

/// A provisioning step's answer: the result, 409 when the configuration
/// changed meanwhile, 503 when the store or the config center failed.
fn answer<R: serde::Serialize>(result: Result<R, StepError>) -> Result<Response, Problem> {
    match result {
        Ok(r) => Ok(json_response(&r)),
        Err(StepError::Refused(why)) if why.contains("changed since it was read") => {
            Err(Problem::new(StatusCode::CONFLICT, "Conflict", why))
        }
        Err(StepError::Refused(why)) => Err(store_failed(why)),
        Err(StepError::Store(e)) => Err(store_failed(e)),
    }
}

/// Which baseline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    /// A baseline of the `autoconfig` pack (`secure-default`).
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    profile: String,
}

/// Live against a baseline: one delta per setting.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/diff", tag = "autoconfig",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), DiffParams),
    responses(
        (status = 200, description = "The plan: per setting live, required, comparator, risk, whether applying it is safe (`tighten`) or refused and why", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such baseline, or no configuration for this tenant (or another tenant than the caller's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `autoconfig` pack, or the store or config center is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn diff(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<DiffParams>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let (bundle, b) = baselines(&state)?;
    let base = b
        .get(&q.profile)
        .cloned()
        .ok_or_else(|| no_baseline(&b, &q.profile))?;
    let st = Arc::clone(&state);
    let tenant = id.clone();
    let p = tokio::task::spawn_blocking(move || -> Result<Value, Problem> {
        let live = st.autoconfig.center.read(&tenant).map_err(store_failed)?;
        let rec = acs::record(&st.autoconfig.store(), &tenant).map_err(store_failed)?;
        if live.version.is_none() && rec.is_none() {
            return Err(no_tenant(&tenant));
        }
        let facts = Value::Object(rec.map(|r| r.facts).unwrap_or_default());
        let pack =
            tenet_autoconfig::pack(&bundle.rules).map_err(|e| store_failed(e.to_string()))?;
        let doc = Document {
            name: "config-center".into(),
            body: live.document,
        };
        let p = plan(&pack, &base, &facts, &[doc], now_ms()).map_err(invalid)?;
        serde_json::to_value(&p).map_err(store_failed)
    })
    .await
    .map_err(store_failed)??;
    Ok(json_response(&p))
}

/// How many change-log entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// At most this many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A tenant's change log: every setting changed, newest first.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/changes", tag = "autoconfig",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), ChangesParams),
    responses(
        (status = 200, description = "`{\"changes\": [...]}`: setting, from, to, risk, baseline, pack version, when, who", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn changes(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<ChangesParams>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let limit = super::limit_param(q.limit, 100, 1000)?;
    let st = Arc::clone(&state);
    let list = tokio::task::spawn_blocking(move || {
        acs::changes(&st.autoconfig.store(), &id, limit as usize)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(&json!({"changes": list})))
}

/// A tenant to provision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    /// The tenant.
    #[schema(
        pattern = "^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$",
        max_length = 128
    )]
    tenant: String,
    /// Its facts and labels (replacing the stored ones when given).
    #[schema(value_type = Option<Object>)]
    facts: Option<serde_json::Map<String, Value>>,
}

/// Apply a baseline to a tenant: monotonic, idempotent, in its change windows.
#[utoipa::path(
    post, path = "/v1/profiles/{name}/apply", tag = "autoconfig",
    params(("name" = String, Path, description = "A baseline of the `autoconfig` pack", pattern = "^[A-Za-z0-9_-]{1,100}$"), DryRunParam),
    request_body = ApplyBody,
    responses(
        (status = 200, description = "What changed (or, in advise mode or a dry run, would), what was refused and why, and the plan", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant: provisioning is the platform's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such baseline", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Outside the baseline's change windows (`next_window` says when), or the configuration changed meanwhile", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is JSON of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `autoconfig` pack, or the store or config center is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn apply(Path(name): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(|s, c, b, d| apply_now(s, c, name, b, d)).await
}

async fn apply_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    name: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    if let Some(b) = ctx.identity.as_ref().and_then(|i| i.tenant.clone()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Platform Only",
            format!("identity bound to tenant `{b}`: baselines are applied by the platform"),
        ));
    }
    let (bundle, b) = baselines(&state)?;
    let base = b
        .get(&name)
        .cloned()
        .ok_or_else(|| no_baseline(&b, &name))?;
    let req: ApplyBody = json_body(&body, "{\"tenant\": string, \"facts\"?: {...}}")?;
    tenant_path(&ctx, &req.tenant)?;
    let now = now_ms();
    // Inside the baseline's change windows only (a dry run says what it
    // would do at any time).
    if !dry_run && base.mode == "enforce" {
        change_window(&base, now)?;
    }
    let st = Arc::clone(&state);
    let (c2, tenant) = (ctx.clone(), req.tenant.clone());
    let facts = req.facts;
    let result = tokio::task::spawn_blocking(move || {
        let center = Arc::clone(&st.autoconfig.center);
        let fp = bundle.fingerprint.clone();
        acs::with_tenant(&mut st.autoconfig.store(), &tenant, move |rec| {
            if let Some(f) = facts {
                rec.facts = f;
            }
            let pack = tenet_autoconfig::pack(&bundle.rules).map_err(|e| e.to_string())?;
            let run = Run {
                now,
                dry_run,
                actor: c2.actor(),
                action_id: c2.action_id.clone(),
            };
            let (p, changes) = provision(&pack, &base, center.as_ref(), rec, &run)?;
            let audit = if dry_run {
                Vec::new()
            } else {
                vec![AuditEvent {
                    id: 0,
                    action_id: c2.action_id.clone(),
                    at: now_rfc3339(),
                    source: tenet_autoconfig::MODULE.into(),
                    subject: format!("{}/{}", p.baseline, p.tenant),
                    actor: c2.actor(),
                    scope: "autoconfig".into(),
                    outcome: if p.written { "applied" } else if p.mode == "advise" { "advised" } else { "unchanged" }.into(),
                    reason: None,
                    latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
                    details: json!({"changed": p.applied.changed.len(), "refused": p.applied.refused.iter().map(|r| json!({"setting": r.setting, "why": r.why})).collect::<Vec<_>>()}),
                    tenant: Some(p.tenant.clone()),
                    bundle: Some(fp.clone()),
                }]
            };
            Ok(Step {
                write: !dry_run,
                changes: if dry_run { Vec::new() } else { changes },
                audit,
                out: p,
            })
        })
    })
    .await
    .map_err(store_failed)?;
    answer(result)
}

/// Which baseline to remediate against.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediateBody {
    /// A baseline of the `autoconfig` pack.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    profile: String,
}

/// Remediate a tenant: apply only the safe (`remediate auto`) deltas, then re-check.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/remediate", tag = "autoconfig",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), DryRunParam),
    request_body = RemediateBody,
    responses(
        (status = 200, description = "Per setting: fixed (the re-check passes), failed, manual, exhausted, waiting or refused, and why", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant: remediation is the platform's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such baseline, or another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Outside the baseline's change windows (`next_window` says when), or the configuration changed meanwhile", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is JSON of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `autoconfig` pack, or the store or config center is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn remediate_route(Path(id): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(|s, c, b, d| remediate_now(s, c, id, b, d)).await
}

async fn remediate_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    tenant_path(&ctx, &id)?;
    if let Some(b) = ctx.identity.as_ref().and_then(|i| i.tenant.clone()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Platform Only",
            format!("identity bound to tenant `{b}`: remediation is the platform's"),
        ));
    }
    let req: RemediateBody = json_body(&body, "{\"profile\": string}")?;
    let (bundle, b) = baselines(&state)?;
    let base = b
        .get(&req.profile)
        .cloned()
        .ok_or_else(|| no_baseline(&b, &req.profile))?;
    let now = now_ms();
    if !dry_run {
        change_window(&base, now)?;
    }
    let st = Arc::clone(&state);
    let c2 = ctx.clone();
    let result = tokio::task::spawn_blocking(move || {
        let center = Arc::clone(&st.autoconfig.center);
        let fp = bundle.fingerprint.clone();
        acs::with_tenant(&mut st.autoconfig.store(), &id, move |rec| {
            let pack = tenet_autoconfig::pack(&bundle.rules).map_err(|e| e.to_string())?;
            let run = Run {
                now,
                dry_run,
                actor: c2.actor(),
                action_id: c2.action_id.clone(),
            };
            let (r, changes) = remediate(&pack, &base, center.as_ref(), rec, &run)?;
            let audit = if dry_run {
                Vec::new()
            } else {
                vec![AuditEvent {
                    id: 0,
                    action_id: c2.action_id.clone(),
                    at: now_rfc3339(),
                    source: tenet_autoconfig::MODULE.into(),
                    subject: format!("{}/{}", r.baseline, r.tenant),
                    actor: c2.actor(),
                    scope: "autoconfig".into(),
                    outcome: "remediated".into(),
                    reason: None,
                    latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
                    details: json!({"settings": r.settings}),
                    tenant: Some(r.tenant.clone()),
                    bundle: Some(fp.clone()),
                }]
            };
            Ok(Step {
                write: !dry_run,
                changes: if dry_run { Vec::new() } else { changes },
                audit,
                out: r,
            })
        })
    })
    .await
    .map_err(store_failed)?;
    answer(result)
}
