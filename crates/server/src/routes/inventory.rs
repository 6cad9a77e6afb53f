//! `/v1/discoveries`, `/v1/catalog`, `/v1/findings...` and
//! `/v1/inventory/sources`: dark-inventory (`tenet-dark-inventory`).
//!
//! Thin: a mutation hands its change to
//! [`tenet_dark_inventory::store::with_inventory`], which locks the
//! tenant's row and loads its findings, sources and catalog, while the
//! engine changes them in memory; what changed is written with the audit
//! event in the same transaction. Reads answer how the findings stand now,
//! or — with `?at=` — as the history recorded them then. Everything is per
//! tenant: an identity bound to one sees and changes only its own (another
//! tenant's finding is the 404 of one that does not exist); a platform
//! identity names the tenant (`tenant`, default `default`).

use super::{invalid, json_body, json_response, now_ms, store_failed, DryRunParam};
use crate::access::RequestCtx;
use crate::clock::now_rfc3339;
use crate::idempotency::Mutation;
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::{routes, RouteTable};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{self, Refusal};
use tenet_dark_inventory::model::{Batch, CatalogEntry, Finding, Status};
use tenet_dark_inventory::policy::Policy;
use tenet_dark_inventory::store::{self as dis, Step, StepError};
use tenet_dark_inventory::trends::{self, By};
use tenet_runtime::clock::Timestamp;
use tenet_store::{AuditEvent, Store};
use utoipa::{IntoParams, ToSchema};

/// The module's routes. Discovery batches and catalogs may be large: they
/// take `limits.diff_body_bytes` (16 MiB by default).
pub fn table() -> RouteTable {
    RouteTable::new()
        .route_with_body_limit(routes!(discoveries), |l| l.diff_body_bytes)
        .route_with_body_limit(routes!(register), |l| l.diff_body_bytes)
        .route(routes!(list))
        .route(routes!(trends_route))
        .route(routes!(one))
        .route(routes!(ack))
        .route(routes!(waive))
        .route(routes!(task))
        .route(routes!(sources))
}

/// The module's store connection.
pub struct Inventory {
    store: Mutex<Store>,
}

impl Inventory {
    pub fn open(config: &crate::config::Config) -> Result<Inventory, String> {
        Ok(Inventory {
            store: Mutex::new(dis::open(&config.store).map_err(|e| e.to_string())?),
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// 1 to `max` ASCII letters, digits, `_`, `-` and the `extra` bytes.
fn name_like(s: &str, extra: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || extra.as_bytes().contains(&b)
        })
}

fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.bytes().all(|b| b == b'.')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// The tenant a request is about: the identity's own; a platform identity
/// names one (default `default`). Naming another than one's own is the
/// 404 of a tenant that does not exist.
fn tenant_of(ctx: &RequestCtx, named: Option<&str>) -> Result<String, Problem> {
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    let t = match (bound, named) {
        (Some(b), None) => b,
        (Some(b), Some(n)) if b == n => b,
        (Some(_), Some(n)) => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                format!("no tenant `{n}` with an inventory"),
            ))
        }
        (None, Some(n)) => n.to_string(),
        (None, None) => "default".to_string(),
    };
    if !valid_tenant(&t) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Tenant",
            format!("tenant `{t}` is not 1 to 128 letters, digits, `_`, `.` or `-`"),
        ));
    }
    Ok(t)
}

/// The serving bundle and its dark-inventory policy, or 503.
fn policy(state: &AppState) -> Result<(Arc<crate::state::Loaded>, Policy), Problem> {
    let bundle = state.bundle.load_full();
    let pack = tenet_dark_inventory::pack(&bundle.rules).map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No Dark-Inventory Pack",
            "the serving rules have no `dark_inventory` pack".to_string(),
        )
    })?;
    let p = Policy::read(&pack).map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Dark-Inventory Pack Unusable",
            e,
        )
    })?;
    Ok((bundle, p))
}

fn refused(r: Refusal) -> Problem {
    match r {
        Refusal::Invalid(m) => invalid(m),
        Refusal::Conflict(m) => Problem::new(StatusCode::CONFLICT, "Conflict", m),
        Refusal::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, "Not Found", m),
    }
}

fn answer<R: serde::Serialize>(result: Result<R, StepError>) -> Result<Response, Problem> {
    match result {
        Ok(r) => Ok(json_response(&r)),
        Err(StepError::Refused(r)) => Err(refused(r)),
        Err(StepError::Store(e)) => Err(store_failed(e)),
    }
}

fn parse_time(what: &str, s: &str) -> Result<i64, Problem> {
    Timestamp::parse(s).map(Timestamp::millis).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Query",
            format!("`{what}`: {e}"),
        )
    })
}

fn audit(
    ctx: &RequestCtx,
    bundle: &str,
    tenant: &str,
    subject: String,
    outcome: &str,
    started: Instant,
    details: Value,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: ctx.action_id.clone(),
        at: now_rfc3339(),
        source: tenet_dark_inventory::MODULE.into(),
        subject,
        actor: ctx.actor(),
        scope: "dark-inventory".into(),
        outcome: outcome.into(),
        reason: None,
        latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
        details,
        tenant: Some(tenant.to_string()),
        bundle: Some(bundle.to_string()),
    }
}

/// A source run: what a collector saw.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BatchBody {
    /// A `source` of the `dark_inventory` pack.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,100}$")]
    source: String,
    /// The run's id: the same run twice changes nothing.
    #[schema(min_length = 1, max_length = 200)]
    run: String,
    /// When the run observed (RFC 3339; default now).
    #[schema(format = DateTime, nullable = false)]
    at: Option<String>,
    /// The tenant (a platform identity; default `default`).
    #[schema(
        pattern = "^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$",
        max_length = 128
    )]
    tenant: Option<String>,
    resources: Vec<ResourceBody>,
}

/// One discovered resource.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ResourceBody {
    /// Its type (`aws:s3:bucket`, `k8s:ingress`, `api:operation`...).
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 200)]
    ty: String,
    /// A canonical key the collector knows (an ARN, a host name).
    #[schema(max_length = 2000)]
    key: Option<String>,
    /// What the pack's rules read as `resource.*`.
    #[schema(value_type = Option<Object>, nullable = false)]
    attributes: Option<Value>,
    /// Where it was seen.
    #[serde(rename = "where")]
    #[schema(max_length = 2000)]
    seen_at: Option<String>,
    /// Where it came from.
    #[schema(nullable = false)]
    lineage: Option<Vec<String>>,
}

/// Ingest a source run: new findings, sightings merged, auto-close behind the guards.
#[utoipa::path(
    post, path = "/v1/discoveries", tag = "dark-inventory",
    params(DryRunParam),
    request_body = BatchBody,
    responses(
        (status = 200, description = "The run's report: resources, ignored, registered, seen, new, reopened, merged, closed (with why), vanished, and the guard that held auto-close back, if one did", body = Object),
        (status = 400, description = "The body is not JSON, or names a malformed tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "The source is not declared in the pack, or another tenant than the caller's: nothing was ingested", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The run observed before the source's last run", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `limits.diff_body_bytes`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape, or a resource cannot be keyed: nothing was ingested", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn discoveries(m: Mutation) -> Result<Response, Problem> {
    m.run(ingest_now).await
}

async fn ingest_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let r = ingest_checked(Arc::clone(&state), ctx.clone(), body, dry_run).await;
    if r.is_err() {
        state.metrics.inventory_run("refused", 0, 0, 0);
    }
    audit_refusal(&state, &ctx, "discoveries", started, r).await
}

/// Audits a refused attempt (a 4xx): who tried what, and why.
async fn audit_refusal(
    state: &AppState,
    ctx: &RequestCtx,
    subject: &str,
    started: Instant,
    r: Result<Response, Problem>,
) -> Result<Response, Problem> {
    if let Err(p) = &r {
        if p.status.is_client_error() {
            let tenant = ctx.tenant.clone().unwrap_or_else(|| "default".into());
            let ev = audit(
                ctx,
                &state.fingerprint(),
                &tenant,
                subject.to_string(),
                &format!("refused:{}", p.status.as_u16()),
                started,
                json!({"title": p.title, "detail": p.detail}),
            );
            let _ = state.audit.record(ev).await;
        }
    }
    r
}

async fn ingest_checked(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (bundle, _) = policy(&state)?;
    let batch: Batch = json_body(
        &body,
        "{\"source\": string, \"run\": string, \"at\"?: RFC 3339, \"tenant\"?: string, \"resources\": [{\"type\": string, \"key\"?: string, \"attributes\"?: {...}, \"where\"?: string, \"lineage\"?: [string]}]}",
    )?;
    let tenant = tenant_of(&ctx, batch.tenant.as_deref())?;
    let now = now_ms();
    // A run observed "in the future" (a collector's clock ahead) is taken
    // as observed now: the history never holds a version from the future.
    let mut batch = batch;
    batch.at = batch.at.map(|a| a.min(now));
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let fp = bundle.fingerprint.clone();
        let t2 = tenant.clone();
        let st2 = Arc::clone(&st);
        let mut store = st2.inventory.store();
        let r = dis::with_inventory(&mut store, &tenant, move |l| {
            let pack = tenet_dark_inventory::pack(&bundle.rules).map_err(|e| Refusal::Invalid(e.to_string()))?;
            let policy = Policy::read(&pack).map_err(Refusal::Invalid)?;
            let cat = CatalogIndex::build(&pack, &policy, l.catalog.clone(), l.facts.clone())
                .map_err(Refusal::Invalid)?;
            let report = engine::ingest(&pack, &policy, &cat, &mut l.inventory, &batch, now)?;
            let outcome = match (report.duplicate, dry_run, &report.guard) {
                (true, _, _) => "duplicate",
                (_, true, _) => "dry_run",
                (_, _, Some(_)) => "guarded",
                _ => "ingested",
            };
            st.metrics.inventory_run(
                outcome,
                (report.resources - report.registered - report.ignored) as u64,
                report.registered as u64,
                report.ignored as u64,
            );
            let details = json!({"run": report.run, "resources": report.resources, "new": report.new.len(), "closed": report.closed.len(), "guard": report.guard});
            let write = !dry_run && !report.duplicate;
            Ok(Step {
                findings: report.changed.clone(),
                sources: vec![batch.source.clone()],
                run: write.then(|| (batch.source.clone(), batch.run.clone(), report.at, serde_json::to_value(&report).unwrap_or_default())),
                at: report.at,
                audit: if write {
                    vec![audit(&ctx, &fp, &t2, format!("{}/{}", batch.source, batch.run), "ingested", started, details)]
                } else {
                    Vec::new()
                },
                commit: write,
                out: json!({"tenant": t2, "dry_run": dry_run, "report": report}),
                ..Default::default()
            })
        });
        r
    })
    .await
    .map_err(store_failed)?;
    answer(result)
}

/// Catalog entries to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CatalogBody {
    /// An entry with the catalog and id of a registered one replaces it.
    entries: Vec<EntryBody>,
    /// Catalog-wide facts the rules read as `catalog.*` (replacing the stored ones).
    #[schema(value_type = Option<Object>)]
    facts: Option<Value>,
    /// The tenant (a platform identity; default `default`).
    #[schema(
        pattern = "^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$",
        max_length = 128
    )]
    tenant: Option<String>,
}

/// One registered resource.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EntryBody {
    /// The catalog (`data-stores`, `service-registry`...) a `correlate` rule names.
    #[schema(min_length = 1, max_length = 200)]
    catalog: String,
    /// Its id in that catalog.
    #[schema(min_length = 1, max_length = 200)]
    id: String,
    /// Its canonical keys, matched as written (lower-case ARNs and host names).
    #[schema(min_items = 1)]
    keys: Vec<KeyBody>,
    /// Attributes the pack's `key` and `aliases` read, to key it as discoveries are.
    #[schema(value_type = Option<Object>)]
    resource: Option<Value>,
    /// Who owns it.
    #[schema(max_length = 200)]
    owner: Option<String>,
}

/// A canonical key.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = String, pattern = "^[\\s\\S]{1,2000}$")]
pub struct KeyBody(#[allow(dead_code)] String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogReq {
    entries: Vec<CatalogEntry>,
    #[serde(default)]
    facts: Option<Value>,
    #[serde(default)]
    tenant: Option<String>,
}

/// Register catalog entries: findings they now cover close as `registered`.
#[utoipa::path(
    post, path = "/v1/catalog", tag = "dark-inventory",
    params(DryRunParam),
    request_body = CatalogBody,
    responses(
        (status = 200, description = "`{registered, closed: [finding ids]}`", body = Object),
        (status = 400, description = "The body is not JSON, or names a malformed tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `limits.diff_body_bytes`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape, or an entry has no key: nothing was registered", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn register(m: Mutation) -> Result<Response, Problem> {
    m.run(register_now).await
}

async fn register_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let r = register_checked(Arc::clone(&state), ctx.clone(), body, dry_run).await;
    audit_refusal(&state, &ctx, "catalog", started, r).await
}

async fn register_checked(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (bundle, _) = policy(&state)?;
    let req: CatalogReq = json_body(&body, "{\"entries\": [{\"catalog\": string, \"id\": string, \"keys\"?: [string], \"resource\"?: {...}, \"owner\"?: string}], \"facts\"?: {...}, \"tenant\"?: string}")?;
    let tenant = tenant_of(&ctx, req.tenant.as_deref())?;
    if let Some(f) = &req.facts {
        if !f.is_object() {
            return Err(invalid("`facts` must be an object".into()));
        }
    }
    for (i, e) in req.entries.iter().enumerate() {
        let long = |s: &str| s.is_empty() || s.chars().count() > 200;
        if long(&e.catalog)
            || long(&e.id)
            || e.owner.as_deref().is_some_and(|o| o.chars().count() > 200)
        {
            return Err(invalid(format!(
                "entries[{i}]: `catalog` and `id` are 1 to 200 characters, `owner` at most 200"
            )));
        }
        if e.keys.is_empty()
            || e.keys
                .iter()
                .any(|k| k.is_empty() || k.chars().count() > 2000)
        {
            return Err(invalid(format!(
                "entries[{i}] (`{}`): `keys` needs at least one key, each 1 to 2000 characters",
                e.id
            )));
        }
        if e.resource.as_ref().is_some_and(|r| !r.is_object()) {
            return Err(invalid(format!(
                "entries[{i}] (`{}`): `resource` must be an object",
                e.id
            )));
        }
    }
    let now = now_ms();
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let fp = bundle.fingerprint.clone();
        let t2 = tenant.clone();
        dis::with_inventory(&mut st.inventory.store(), &tenant, move |l| {
            let pack = tenet_dark_inventory::pack(&bundle.rules).map_err(|e| Refusal::Invalid(e.to_string()))?;
            let policy = Policy::read(&pack).map_err(Refusal::Invalid)?;
            let mut all = l.catalog.clone();
            all.extend(req.entries.iter().cloned());
            let facts = req.facts.clone().unwrap_or_else(|| l.facts.clone());
            let cat = CatalogIndex::build(&pack, &policy, all, facts).map_err(Refusal::Invalid)?;
            let closed = engine::close_registered(&pack, &policy, &cat, &mut l.inventory, now);
            let details = json!({"registered": req.entries.len(), "closed": closed});
            Ok(Step {
                findings: closed.iter().cloned().collect(),
                catalog: req.entries.clone(),
                facts: req.facts.clone(),
                at: now,
                audit: vec![audit(&ctx, &fp, &t2, format!("catalog/{}", req.entries.len()), "registered", started, details)],
                commit: !dry_run,
                out: json!({"tenant": t2, "dry_run": dry_run, "registered": req.entries.len(), "closed": closed}),
                ..Default::default()
            })
        })
    })
    .await
    .map_err(store_failed)?;
    answer(result)
}

/// Which findings, as of when.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `open`, `acknowledged`, `waived` or `closed` (at `at`).
    #[param(pattern = "^(open|acknowledged|waived|closed)$")]
    status: Option<String>,
    /// A severity of the pack's taxonomy.
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    severity: Option<String>,
    /// Only findings this source has seen.
    #[param(pattern = "^[A-Za-z0-9_.-]{1,100}$")]
    source: Option<String>,
    /// Only findings of this `correlate` rule.
    #[param(pattern = "^[A-Za-z0-9_-]{1,100}$")]
    rule: Option<String>,
    /// How the findings stood then (RFC 3339; default now).
    #[param(format = DateTime)]
    at: Option<String>,
    /// A platform identity: the tenant (default `default`).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    tenant: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`: the page starts after it.
    #[param(pattern = "^[0-9]{1,3}\\.-?[0-9]{1,15}\\.f-[0-9a-f]{16}$")]
    cursor: Option<String>,
}

/// A finding's place in the listing order (severity rank, first seen,
/// id): a cursor is the place of a page's last finding, and the next page
/// starts after it (keyset paging: stable while findings come and go).
type Place = (usize, i64, String);

fn cursor_of(p: &Place) -> String {
    format!("{}.{}.{}", p.0, p.1, p.2)
}

fn parse_cursor(c: &str) -> Option<Place> {
    let mut parts = c.splitn(3, '.');
    let rank = parts.next()?.parse().ok()?;
    let first = parts.next()?.parse().ok()?;
    let id = parts.next()?;
    let hex = id.strip_prefix("f-")?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (rank, first, id.to_string()))
}

/// Findings as they stand (or stood at `at`), highest severity and oldest first.
#[utoipa::path(
    get, path = "/v1/findings", tag = "dark-inventory",
    params(ListParams),
    responses(
        (status = 200, description = "`{tenant, at, findings: [...], total, next_cursor}`: each with key, severity, status (waived until), sources (first and last seen), first_seen, age, SLA (due, margin), closure, the match explanation", body = Object),
        (status = 400, description = "A malformed query string or cursor", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<ListParams>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&ctx, q.tenant.as_deref())?;
    let (_, policy) = policy(&state)?;
    let bad = |m: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", m);
    for (k, v, extra) in [
        ("severity", &q.severity, ""),
        ("source", &q.source, "."),
        ("rule", &q.rule, ""),
    ] {
        if let Some(v) = v {
            if !name_like(v, extra, 100) {
                return Err(bad(format!(
                    "`{k}` `{v}` is not 1 to 100 letters, digits, `_`, `-`{}",
                    if extra.is_empty() { "" } else { " or `.`" }
                )));
            }
        }
    }
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                bad(format!(
                    "`status` `{s}` is not open, acknowledged, waived or closed"
                ))
            })
        })
        .transpose()?;
    let limit = super::limit_param(q.limit, 100, 1000)?;
    let at = match &q.at {
        Some(a) => Some(parse_time("at", a)?),
        None => None,
    };
    let t = at.unwrap_or_else(now_ms);
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            parse_cursor(c).ok_or_else(|| bad("`cursor` is not one this server gave out".into()))
        })
        .transpose()?;
    let found = read_findings(&state, &tenant, at).await?;
    let mut chosen: Vec<(Place, &Finding)> = found
        .iter()
        .filter(|f| f.merged_into.is_none() || status == Some(Status::Closed))
        .filter(|f| f.first_seen <= t)
        .filter(|f| q.severity.as_ref().is_none_or(|s| &f.severity == s))
        .filter(|f| q.rule.as_ref().is_none_or(|r| &f.rule == r))
        .filter(|f| q.source.as_ref().is_none_or(|s| f.sources.contains_key(s)))
        .filter(|f| status.is_none_or(|s| f.status_at(t) == s))
        .map(|f| ((policy.rank(&f.severity), f.first_seen, f.id.clone()), f))
        .collect();
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let total = chosen.len();
    let page: Vec<&(Place, &Finding)> = chosen
        .iter()
        .filter(|(p, _)| after.as_ref().is_none_or(|a| p > a))
        .take(limit as usize)
        .collect();
    let next = match page.last() {
        Some((p, _)) if chosen.last().is_some_and(|(l, _)| l != p) => Some(cursor_of(p)),
        _ => None,
    };
    let page: Vec<_> = page
        .iter()
        .map(|(_, f)| engine::view_at(f, t, &policy.lifecycle))
        .collect();
    Ok(json_response(&json!({
        "tenant": tenant,
        "at": Timestamp::from_millis(t).rfc3339(),
        "total": total,
        "findings": page,
        "next_cursor": next,
    })))
}

async fn read_findings(
    state: &Arc<AppState>,
    tenant: &str,
    at: Option<i64>,
) -> Result<Vec<Finding>, Problem> {
    let (st, tenant) = (Arc::clone(state), tenant.to_string());
    tokio::task::spawn_blocking(move || {
        let store = st.inventory.store();
        match at {
            Some(t) => dis::findings_at(&store, &tenant, t),
            None => dis::findings(&store, &tenant),
        }
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)
}

/// The span and grouping of a burn-down.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrendParams {
    /// The step (`1d`, `12h`; default `1d`).
    #[param(pattern = "^[1-9][0-9]{0,8}(ms|s|m|h|d|w)$")]
    every: Option<String>,
    /// `severity` (default) or `age`.
    #[param(pattern = "^(severity|age)$")]
    by: Option<String>,
    /// The start (RFC 3339; default 30 steps before `to`; at most 1000
    /// steps before it). After `to`: no points.
    #[param(format = DateTime)]
    from: Option<String>,
    /// The end (RFC 3339; default now).
    #[param(format = DateTime)]
    to: Option<String>,
    /// `json` (default) or `svg`.
    #[param(pattern = "^(json|svg)$")]
    format: Option<String>,
    /// A platform identity: the tenant (default `default`).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    tenant: Option<String>,
}

/// Burn-down: outstanding findings per step, by severity or age (JSON or SVG).
#[utoipa::path(
    get, path = "/v1/findings/trends", tag = "dark-inventory",
    params(TrendParams),
    responses(
        (status = 200, description = "`{by, every, from, to, groups, points: [{at, outstanding: {group: n}, total, waived, breached, opened, closed}]}`, or the chart as `image/svg+xml` with `format=svg`", content(
            (Object = "application/json"),
            (String = "image/svg+xml"),
        )),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn trends_route(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<TrendParams>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&ctx, q.tenant.as_deref())?;
    let (_, policy) = policy(&state)?;
    let bad = |m: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", m);
    let svg = match q.format.as_deref() {
        None | Some("json") => false,
        Some("svg") => true,
        Some(f) => return Err(bad(format!("`format` `{f}` is not json or svg"))),
    };
    let every = match &q.every {
        None => 86_400_000,
        Some(e) => tenet_runtime::dsl::syntax::parse_duration(e).ok_or_else(|| {
            bad(format!(
                "`every` `{e}` is not a duration such as `1d` or `12h`"
            ))
        })?,
    };
    let by = match &q.by {
        None => By::Severity,
        Some(b) => By::parse(b).ok_or_else(|| bad(format!("`by` `{b}` is not severity or age")))?,
    };
    let to = match &q.to {
        Some(t) => parse_time("to", t)?,
        None => now_ms(),
    };
    let from = match &q.from {
        Some(f) => parse_time("from", f)?,
        None => to - 30 * every,
    };
    let (st, t2) = (Arc::clone(&state), tenant.clone());
    let lc = policy.lifecycle.clone();
    let levels = policy.levels.clone();
    let result = tokio::task::spawn_blocking(move || {
        let store = st.inventory.store();
        let mut failed = None;
        let t = trends::trends(
            |at| match dis::findings_at(&store, &t2, at) {
                Ok(f) => f,
                Err(e) => {
                    failed = Some(e);
                    Vec::new()
                }
            },
            from,
            to,
            every,
            by,
            &levels,
            &lc,
        );
        match failed {
            Some(e) => Err(store_failed(e)),
            None => t.map_err(bad),
        }
    })
    .await
    .map_err(store_failed)??;
    if svg {
        let mut r = trends::svg(&result).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("image/svg+xml"),
        );
        return Ok(r);
    }
    Ok(json_response(&result))
}

/// A finding, as of when.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OneParams {
    /// How it stood then (RFC 3339; default now).
    #[param(format = DateTime)]
    at: Option<String>,
    /// A platform identity: the tenant (default `default`).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    tenant: Option<String>,
}

fn no_finding(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no finding `{id}`"),
    )
}

/// One finding, with its waivers, closures and tasks.
#[utoipa::path(
    get, path = "/v1/findings/{id}", tag = "dark-inventory",
    params(("id" = String, Path, description = "A finding", pattern = "^f-[0-9a-f]{16}$"), OneParams),
    responses(
        (status = 200, description = "The finding as it stands (or stood at `at`), and its full record", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such finding (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn one(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<OneParams>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&ctx, q.tenant.as_deref())?;
    let (_, policy) = policy(&state)?;
    let at = q.at.as_deref().map(|a| parse_time("at", a)).transpose()?;
    let t = at.unwrap_or_else(now_ms);
    let found = read_findings(&state, &tenant, at).await?;
    let f = found
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| no_finding(&id))?;
    Ok(json_response(&json!({
        "finding": engine::view_at(f, t, &policy.lifecycle),
        "record": f,
    })))
}

/// Runs one person's action on a finding.
async fn act<F>(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    tenant: Option<String>,
    outcome: &'static str,
    dry_run: bool,
    f: F,
) -> Result<Response, Problem>
where
    F: FnOnce(&mut Finding, &Policy, i64, &str) -> Result<bool, Refusal> + Send + 'static,
{
    let started = Instant::now();
    let subject = format!("{id}/{outcome}");
    let r = act_checked(
        Arc::clone(&state),
        ctx.clone(),
        id,
        tenant,
        outcome,
        dry_run,
        f,
    )
    .await;
    audit_refusal(&state, &ctx, &subject, started, r).await
}

async fn act_checked<F>(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    tenant: Option<String>,
    outcome: &'static str,
    dry_run: bool,
    f: F,
) -> Result<Response, Problem>
where
    F: FnOnce(&mut Finding, &Policy, i64, &str) -> Result<bool, Refusal> + Send + 'static,
{
    let started = Instant::now();
    let tenant = tenant_of(&ctx, tenant.as_deref())?;
    let (bundle, policy) = policy(&state)?;
    let now = now_ms();
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || {
        let t2 = tenant.clone();
        dis::with_inventory(&mut st.inventory.store(), &tenant, move |l| {
            let Some(finding) = l.inventory.findings.get_mut(&id) else {
                return Err(Refusal::NotFound(format!("no finding `{id}`")));
            };
            let changed = f(finding, &policy, now, &ctx.actor())?;
            let view = engine::view_at(finding, now, &policy.lifecycle);
            let write = changed && !dry_run;
            Ok(Step {
                findings: if write {
                    [id.clone()].into()
                } else {
                    Default::default()
                },
                at: now,
                audit: if write {
                    vec![audit(
                        &ctx,
                        &bundle.fingerprint,
                        &t2,
                        id.clone(),
                        outcome,
                        started,
                        json!({"status": view.status}),
                    )]
                } else {
                    Vec::new()
                },
                commit: write,
                out: json!({"changed": changed, "dry_run": dry_run, "finding": view}),
                ..Default::default()
            })
        })
    })
    .await
    .map_err(store_failed)?;
    answer(result)
}

/// A finding action's options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActParams {
    /// Answer what would change; write nothing.
    dry_run: Option<bool>,
    /// A platform identity: the tenant (default `default`).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    tenant: Option<String>,
}

impl crate::idempotency::DryRunQuery for ActParams {
    fn dry_run(&self) -> bool {
        self.dry_run.unwrap_or(false)
    }
}

/// An acknowledgement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Why, or what happens next.
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// Acknowledge a finding: visible, but quiet.
#[utoipa::path(
    post, path = "/v1/findings/{id}/ack", tag = "dark-inventory",
    params(("id" = String, Path, description = "A finding", pattern = "^f-[0-9a-f]{16}$"), ActParams),
    request_body = AckBody,
    responses(
        (status = 200, description = "`{changed, finding}`: a second acknowledgement changes nothing", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such finding (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The finding is closed, or was merged into another", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn ack(Path(id): Path<String>, m: Mutation<ActParams>) -> Result<Response, Problem> {
    let tenant = m.query.tenant.clone();
    m.run(|s, c, b, d| async move {
        let req: AckBody = if b.is_empty() {
            AckBody { note: None }
        } else {
            json_body(&b, "{\"note\"?: string}")?
        };
        act(
            s,
            c,
            id,
            tenant,
            "acknowledged",
            d,
            move |f, _, now, actor| engine::ack(f, actor, req.note, now),
        )
        .await
    })
    .await
}

/// A waiver.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiveBody {
    /// Who owns the accepted risk.
    #[schema(min_length = 1, max_length = 200)]
    owner: String,
    /// Why it is accepted.
    #[schema(min_length = 1, max_length = 2000)]
    justification: String,
    /// Who approved it.
    #[schema(max_length = 200)]
    approver: Option<String>,
    /// Until when (RFC 3339): later than now, and no later than the pack's `max_waiver` from now.
    #[schema(format = DateTime)]
    until: String,
}

/// Waive a finding until a time: visible, but quiet; it reopens at expiry.
#[utoipa::path(
    post, path = "/v1/findings/{id}/waive", tag = "dark-inventory",
    params(("id" = String, Path, description = "A finding", pattern = "^f-[0-9a-f]{16}$"), ActParams),
    request_body = WaiveBody,
    responses(
        (status = 200, description = "`{changed, finding}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such finding (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The finding is closed, or was merged into another", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape, `until` is not later than now or is past the pack's longest waiver, or the owner or justification is empty", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn waive(Path(id): Path<String>, m: Mutation<ActParams>) -> Result<Response, Problem> {
    let tenant = m.query.tenant.clone();
    m.run(|s, c, b, d| async move {
        let req: WaiveBody = json_body(&b, "{\"owner\": string, \"justification\": string, \"approver\"?: string, \"until\": RFC 3339}")?;
        let until = Timestamp::parse(&req.until)
            .map(Timestamp::millis)
            .map_err(|e| invalid(format!("`until`: {e}")))?;
        act(s, c, id, tenant, "waived", d, move |f, p, now, actor| {
            let w = engine::WaiveRequest {
                owner: req.owner,
                justification: req.justification,
                approver: req.approver,
                until,
                by: actor.to_string(),
            };
            engine::waive(f, &w, now, &p.lifecycle).map(|()| true)
        })
        .await
    })
    .await
}

/// A task's new status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    /// `open`, `in_progress`, `done` or `wont_do`.
    #[schema(pattern = "^(open|in_progress|done|wont_do)$")]
    status: String,
}

/// Set a remediation task's status.
#[utoipa::path(
    post, path = "/v1/findings/{id}/tasks/{task}", tag = "dark-inventory",
    params(
        ("id" = String, Path, description = "A finding", pattern = "^f-[0-9a-f]{16}$"),
        ("task" = String, Path, description = "One of its tasks (`register-dataset`...)", pattern = "^[A-Za-z0-9_-]{1,100}$"),
        ActParams
    ),
    request_body = TaskBody,
    responses(
        (status = 200, description = "`{changed, finding}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such finding (or another tenant's), or no such task on it", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn task(
    Path((id, task)): Path<(String, String)>,
    m: Mutation<ActParams>,
) -> Result<Response, Problem> {
    let tenant = m.query.tenant.clone();
    m.run(|s, c, b, d| async move {
        let req: TaskBody = json_body(
            &b,
            "{\"status\": \"open\" | \"in_progress\" | \"done\" | \"wont_do\"}",
        )?;
        act(
            s,
            c,
            id,
            tenant,
            "task_updated",
            d,
            move |f, _, now, actor| engine::set_task(f, &task, &req.status, actor, now),
        )
        .await
    })
    .await
}

/// Whose sources.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SourcesParams {
    /// A platform identity: the tenant (default `default`).
    #[param(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    tenant: Option<String>,
}

/// The discovery sources: last run, staleness, the guard that last held auto-close back.
#[utoipa::path(
    get, path = "/v1/inventory/sources", tag = "dark-inventory",
    params(SourcesParams),
    responses(
        (status = 200, description = "`{sources: [{source, declared, freshness_slo, runs, last_run, last_run_at, stale, last_guard}]}`: a stale source closes nothing", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `dark_inventory` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn sources(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<SourcesParams>,
) -> Result<Response, Problem> {
    let tenant = tenant_of(&ctx, q.tenant.as_deref())?;
    let (_, policy) = policy(&state)?;
    let (st, t2) = (Arc::clone(&state), tenant.clone());
    let seen = tokio::task::spawn_blocking(move || dis::sources(&st.inventory.store(), &t2))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let now = now_ms();
    let list: Vec<Value> = policy
        .sources
        .values()
        .map(|p| {
            let s = seen.iter().find(|s| s.source == p.name);
            json!({
                "source": p.name,
                "freshness_slo": tenet_runtime::dsl::value::format_duration(p.freshness_ms),
                "max_vanished": format!("{}%", p.max_vanished * 100.0),
                "runs": s.map_or(0, |s| s.runs),
                "last_run": s.and_then(|s| s.last_run.clone()),
                "last_run_at": s.and_then(|s| s.last_run_at).map(|t| Timestamp::from_millis(t).rfc3339()),
                "stale": p.stale(s.and_then(|s| s.last_run_at), now),
                "last_guard": s.and_then(|s| s.last_guard.clone()),
            })
        })
        .collect();
    Ok(json_response(&json!({"tenant": tenant, "sources": list})))
}
