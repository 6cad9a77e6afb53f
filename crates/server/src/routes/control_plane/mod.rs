//! `/v1/clusters...` and `/v1/fleet/...`: the control plane's registry and
//! drift (`tenet-control-plane`).
//!
//! Thin: registrations and inventories are written by
//! [`tenet_control_plane::store`] in one transaction with their audit
//! event; an inventory pushed by a cluster (the webhook) is followed by a
//! drift check that keeps the fleet's drift and announces each new drift
//! once (`drift_detected` in the audit log). `GET /v1/fleet/drift` computes
//! the fleet's drift now from what is stored, and writes nothing. The fleet
//! is the platform's: an identity bound to a tenant is refused (403).

pub mod actions;
pub mod driver;

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
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenet_control_plane::engine;
use tenet_control_plane::model::{ClusterRecord, Desired, Drift, Inventory};
use tenet_control_plane::store as cps;
use tenet_store::{AuditEvent, Store};
use utoipa::{IntoParams, ToSchema};

/// How old an inventory may be before the cluster drifts as
/// `stale_inventory`: the serving `control_plane` pack's `fleet` block says
/// (15 minutes without one).
fn max_age(state: &AppState) -> i64 {
    let bundle = state.bundle.load_full();
    tenet_control_plane::pack(&bundle.rules)
        .map(|p| engine::inventory_max_age(&p))
        .unwrap_or(engine::DEFAULT_INVENTORY_MAX_AGE_MS)
}

/// The module's routes.
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(register))
        .route(routes!(list))
        .route(routes!(one))
        .route(routes!(push_inventory))
        .route(routes!(set_desired))
        .route(routes!(drift))
        .route(routes!(actions::register_bundle))
        .route(routes!(actions::list_bundles))
        .route(routes!(actions::apply))
        .route(routes!(actions::list_actions))
        .route(routes!(actions::one_action))
        .route(routes!(actions::resume))
}

/// The module's store connection.
pub struct ControlPlane {
    store: Mutex<Store>,
    /// When this replica last pulled the inventories.
    last_pull: Mutex<Option<Instant>>,
    /// Each cluster's failed pulls in a row, and (breaker open) when it is
    /// pulled next. Kept by the replica that pulls (the sweep's lease
    /// holder); a restart closes every breaker, which reopens after
    /// `pull_breaker` more failures.
    pull_health: Mutex<HashMap<String, PullHealth>>,
    /// `control_plane.notify`.
    notify: Option<Arc<dyn tenet_notify::Notifier>>,
}

impl ControlPlane {
    pub fn open(config: &crate::config::Config) -> Result<ControlPlane, String> {
        let notify = match &config.control_plane.notify {
            None => None,
            Some(c) => Some(
                tenet_notify::Webhook::from_env(c.clone())
                    .map(|w| Arc::new(w) as Arc<dyn tenet_notify::Notifier>)
                    .map_err(|e| format!("`control_plane.notify`: {e}"))?,
            ),
        };
        Ok(ControlPlane {
            store: Mutex::new(cps::open(&config.store).map_err(|e| e.to_string())?),
            last_pull: Mutex::new(None),
            pull_health: Mutex::new(HashMap::new()),
            notify,
        })
    }

    /// Delivery counts of `control_plane.notify`, for health.
    pub fn channels(&self) -> Vec<(&'static str, tenet_notify::Stats)> {
        self.notify.iter().map(|n| ("notify", n.stats())).collect()
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

pub(crate) fn platform_only(ctx: &RequestCtx) -> Result<(), Problem> {
    match ctx.identity.as_ref().and_then(|i| i.tenant.clone()) {
        Some(t) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Platform Only",
            format!("identity bound to tenant `{t}`: the fleet is the platform's"),
        )),
        None => Ok(()),
    }
}

fn no_cluster(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no cluster `{id}` is registered"),
    )
}

pub(crate) fn event(
    ctx: &RequestCtx,
    state: &AppState,
    subject: String,
    outcome: &str,
    started: Instant,
    details: Value,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: ctx.action_id.clone(),
        at: now_rfc3339(),
        source: tenet_control_plane::MODULE.into(),
        subject,
        actor: ctx.actor(),
        scope: "fleet".into(),
        outcome: outcome.into(),
        reason: None,
        latency_ms: started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64,
        details,
        tenant: None,
        bundle: Some(state.fingerprint()),
    }
}

/// The audit event of a new drift (its own action id: the request's and
/// the drift's, one per drift).
fn drift_event(action: &str, actor: String, bundle: String, d: &Drift) -> AuditEvent {
    use sha2::{Digest, Sha256};
    AuditEvent {
        id: 0,
        action_id: format!(
            "{action}-drift-{}",
            &hex::encode(Sha256::digest(d.key().as_bytes()))[..12]
        ),
        at: now_rfc3339(),
        source: tenet_control_plane::MODULE.into(),
        subject: d.cluster.clone(),
        actor,
        scope: "fleet".into(),
        outcome: "drift_detected".into(),
        reason: Some(d.reason.clone()),
        latency_ms: 0,
        details: serde_json::to_value(d).unwrap_or_default(),
        tenant: None,
        bundle: Some(bundle),
    }
}

/// An http:// or https:// URL with a host (and a port and a path).
#[derive(ToSchema)]
#[schema(pattern = "^https?://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[!-~]*)?$")]
#[allow(dead_code)]
pub struct HttpUrl(String);

/// Whether `url` is what [`HttpUrl`] says.
fn http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && path.bytes().all(|b| (b'!'..=b'~').contains(&b))
}

/// A cluster to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClusterBody {
    #[schema(
        pattern = "^[A-Za-z0-9_.-]{0,99}[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$",
        max_length = 100
    )]
    id: String,
    #[schema(nullable = false)]
    region: Option<String>,
    #[schema(nullable = false)]
    env: Option<String>,
    /// Endpoints by purpose (`admin`): http:// or https:// URLs.
    #[schema(value_type = Option<HashMap<String, HttpUrl>>, nullable = false)]
    endpoints: Option<Value>,
    #[schema(nullable = false)]
    capabilities: Option<Vec<String>>,
    /// The agent's version.
    version: Option<String>,
    /// SLO targets by name.
    #[schema(value_type = Option<HashMap<String, f64>>, nullable = false)]
    slo: Option<Value>,
    blast_radius_group: Option<String>,
    /// Labels.
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    labels: Option<Value>,
    owner: Option<String>,
}

/// Register a cluster, or update its registration (its last inventory is kept).
#[utoipa::path(
    post, path = "/v1/clusters", tag = "control-plane",
    params(DryRunParam),
    request_body = ClusterBody,
    responses(
        (status = 200, description = "`{created, cluster}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant: the fleet is the platform's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape, or the id cannot name a cluster", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
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
    platform_only(&ctx)?;
    let rec: ClusterRecord = json_body(&body, "{\"id\": string, \"region\"?, \"env\"?, \"endpoints\"?: {...}, \"capabilities\"?: [string], \"version\"?, \"slo\"?: {...}, \"blast_radius_group\"?, \"labels\"?: {...}, \"owner\"?}")?;
    if !ClusterRecord::valid_id(&rec.id) {
        return Err(invalid(format!(
            "`{}` is not a cluster id (1 to 100 letters, digits, `_`, `.`, `-`)",
            rec.id
        )));
    }
    for (name, url) in &rec.endpoints {
        if !http_url(url) {
            return Err(invalid(format!(
                "endpoint `{name}` is not an http:// or https:// URL with a host"
            )));
        }
    }
    if rec.inventory.is_some() {
        return Err(invalid("`inventory` is reported by the cluster (`POST /v1/clusters/{id}/inventory`), not registered".into()));
    }
    if dry_run {
        let (st, id) = (Arc::clone(&state), rec.id.clone());
        let exists =
            tokio::task::spawn_blocking(move || cps::cluster(&st.control_plane.store(), &id))
                .await
                .map_err(store_failed)?
                .map_err(store_failed)?
                .is_some();
        return Ok(json_response(
            &json!({"created": !exists, "dry_run": true, "cluster": rec}),
        ));
    }
    let ev = event(
        &ctx,
        &state,
        rec.id.clone(),
        "registered",
        started,
        json!({"cluster": rec.id}),
    );
    let st = Arc::clone(&state);
    let r2 = rec.clone();
    let created =
        tokio::task::spawn_blocking(move || cps::register(&mut st.control_plane.store(), &r2, ev))
            .await
            .map_err(store_failed)?
            .map_err(store_failed)?;
    Ok(json_response(&json!({"created": created, "cluster": rec})))
}

/// Which clusters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Kubernetes' equality-based selector: `env=prod,tier!=canary,owner,!legacy`
    /// (`key=value`, `key!=value`, `key` present, `!key` absent; all must hold).
    #[param(
        pattern = "^(!?[A-Za-z0-9_./-]{1,63}|[A-Za-z0-9_./-]{1,63}(=|!=)[A-Za-z0-9_.-]{0,63})(,(!?[A-Za-z0-9_./-]{1,63}|[A-Za-z0-9_./-]{1,63}(=|!=)[A-Za-z0-9_.-]{0,63})){0,19}$"
    )]
    selector: Option<String>,
}

/// A selector string as the language's selector map; one that is not of
/// the grammar (`ListParams::selector`) is an error.
pub fn parse_selector(s: &str) -> Result<Value, String> {
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.len() <= 63
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
    };
    let val_ok = |v: &str| {
        v.len() <= 63
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    let parts: Vec<&str> = s.split(',').collect();
    let grammar = parts.len() <= 20
        && parts
            .iter()
            .all(|p| match p.split_once("!=").or_else(|| p.split_once('=')) {
                Some((k, v)) => key_ok(k) && val_ok(v),
                None => key_ok(p.strip_prefix('!').unwrap_or(p)),
            });
    if !grammar {
        return Err(format!(
            "`{s}` is not a selector such as `env=prod,tier!=canary,owner,!legacy` (at most 20 requirements)"
        ));
    }
    let (mut labels, mut not_in, mut exists, mut not_exists) = (
        serde_json::Map::new(),
        serde_json::Map::new(),
        Vec::new(),
        Vec::new(),
    );
    for part in s.split(',') {
        if let Some((k, v)) = part.split_once("!=") {
            not_in.insert(k.to_string(), json!([v]));
        } else if let Some((k, v)) = part.split_once('=') {
            labels.insert(k.to_string(), json!(v));
        } else if let Some(k) = part.strip_prefix('!') {
            not_exists.push(json!(k));
        } else if !part.is_empty() {
            exists.push(json!(part));
        } else {
            return Err(format!("`{s}` has an empty requirement"));
        }
    }
    Ok(json!({"labels": labels, "not_in": not_in, "exists": exists, "not_exists": not_exists}))
}

/// The registered clusters, by id (those a selector selects).
#[utoipa::path(
    get, path = "/v1/clusters", tag = "control-plane",
    params(ListParams),
    responses(
        (status = 200, description = "`{clusters: [...]}`: each with its labels and its last inventory, and the inventory's age", body = Object),
        (status = 400, description = "A malformed query string or selector", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<ListParams>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let bad = |m: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", m);
    let selector = q
        .selector
        .as_deref()
        .map(parse_selector)
        .transpose()
        .map_err(bad)?;
    let st = Arc::clone(&state);
    let all = tokio::task::spawn_blocking(move || cps::clusters(&st.control_plane.store()))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let now = now_ms();
    let mut out = Vec::new();
    for c in all {
        if let Some(s) = &selector {
            let labels = tenet_runtime::dsl::Value::from_json(
                &serde_json::to_value(c.all_labels()).unwrap_or_default(),
            );
            if !tenet_runtime::dsl::builtins::selects(
                &tenet_runtime::dsl::Value::from_json(s),
                &labels,
            )
            .map_err(bad)?
            {
                continue;
            }
        }
        out.push(view(c, now));
    }
    Ok(json_response(&json!({"clusters": out})))
}

fn view(c: ClusterRecord, now: i64) -> Value {
    let age = c
        .inventory
        .as_ref()
        .map(|i| (now - i.observed_at).max(0) / 1000);
    let mut v = serde_json::to_value(&c).unwrap_or_default();
    v["inventory_age_s"] = json!(age);
    v
}

/// One cluster with its inventory, and its drift now.
#[utoipa::path(
    get, path = "/v1/clusters/{id}/inventory", tag = "control-plane",
    params(("id" = String, Path, description = "A cluster", pattern = "^[A-Za-z0-9_.-]{1,100}$")),
    responses(
        (status = 200, description = "`{cluster, inventory, inventory_age_s, pulls, drift: [...]}`: service versions, config hashes, flags, bundle fingerprint, when verified, the failed pulls in a row and an open pull breaker (as the pulling replica knows them), and each drift with its reason", body = Object),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such cluster", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn one(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let st = Arc::clone(&state);
    let i2 = id.clone();
    let (c, desired) =
        tokio::task::spawn_blocking(move || -> Result<_, tenet_store::StoreError> {
            let store = st.control_plane.store();
            Ok((cps::cluster(&store, &i2)?, cps::desired(&store)?))
        })
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let c = c.ok_or_else(|| no_cluster(&id))?;
    let now = now_ms();
    let d = engine::desired_for(&c, &desired).map_err(store_failed)?;
    let drifts = engine::drift(&c, &d, now, max_age(&state));
    let age = c
        .inventory
        .as_ref()
        .map(|i| (now - i.observed_at).max(0) / 1000);
    // What this replica's pulls of it say (the pulling replica knows).
    let pulls = health(&state).get(&c.id).map(|h| {
        json!({
            "failures_in_a_row": h.failures,
            "breaker_open_until": h.next_at.map(|t| tenet_runtime::clock::Timestamp::from_millis(t).rfc3339()),
        })
    });
    Ok(json_response(&json!({
        "cluster": c.id,
        "inventory": c.inventory,
        "inventory_age_s": age,
        "pulls": pulls,
        "drift": drifts,
    })))
}

/// An inventory a cluster reports.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InventoryBody {
    /// Service versions by service.
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    services: Option<Value>,
    /// Config hashes by config.
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    config_hashes: Option<Value>,
    /// The feature-flag snapshot.
    #[schema(value_type = Option<Object>, nullable = false)]
    flags: Option<Value>,
    bundle_fingerprint: Option<String>,
    #[schema(nullable = false)]
    capabilities: Option<Vec<String>>,
}

/// A cluster reports its inventory (the webhook): kept, then the fleet's drift is checked.
#[utoipa::path(
    post, path = "/v1/clusters/{id}/inventory", tag = "control-plane",
    params(("id" = String, Path, description = "A registered cluster", pattern = "^[A-Za-z0-9_.-]{1,100}$"), DryRunParam),
    request_body = InventoryBody,
    responses(
        (status = 200, description = "`{cluster, drift: [...], new: [...]}`: the cluster's drift, and the fleet's drifts this report made new (each announced once)", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such cluster", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn push_inventory(Path(id): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(|s, c, b, d| push_now(s, c, id, b, d)).await
}

async fn push_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let mut inv: Inventory = json_body(&body, "{\"services\"?: {name: version}, \"config_hashes\"?: {name: hash}, \"flags\"?: {...}, \"bundle_fingerprint\"?: string, \"capabilities\"?: [string]}")?;
    let now = now_ms();
    inv.observed_at = now;
    if dry_run {
        // The cluster's drift with this inventory; nothing kept or announced.
        let (st, i2) = (Arc::clone(&state), id.clone());
        let (c, desired) =
            tokio::task::spawn_blocking(move || -> Result<_, tenet_store::StoreError> {
                let store = st.control_plane.store();
                Ok((cps::cluster(&store, &i2)?, cps::desired(&store)?))
            })
            .await
            .map_err(store_failed)?
            .map_err(store_failed)?;
        let mut c = c.ok_or_else(|| no_cluster(&id))?;
        c.inventory = Some(inv);
        let d = engine::desired_for(&c, &desired).map_err(store_failed)?;
        let drifts = engine::drift(&c, &d, now, max_age(&state));
        return Ok(json_response(
            &json!({"cluster": id, "dry_run": true, "drift": drifts, "new": []}),
        ));
    }
    let (st, actor, bundle, action) = (
        Arc::clone(&state),
        ctx.actor(),
        state.fingerprint(),
        ctx.action_id.clone(),
    );
    let i2 = id.clone();
    let keep = Arc::clone(&state);
    let check = tokio::task::spawn_blocking(
        move || -> Result<Option<cps::Check>, tenet_store::StoreError> {
            let mut store = st.control_plane.store();
            if !cps::record_inventory(&mut store, &i2, &inv)? {
                return Ok(None);
            }
            cps::check_drift(&mut store, now, max_age(&state), move |d| {
                drift_event(&action, actor.clone(), bundle.clone(), d)
            })
            .map(Some)
        },
    )
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?
    .ok_or_else(|| no_cluster(&id))?;
    let notes = driver::drift_notices(&check.new);
    if !notes.is_empty() {
        let st = Arc::clone(&keep);
        tokio::task::spawn_blocking(move || driver::send_blocking(&st, notes));
    }
    Ok(json_response(&json!({
        "cluster": id,
        "drift": check.drift.get(&id).cloned().unwrap_or_default(),
        "new": check.new,
    })))
}

/// The fleet's desired states.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DesiredBody {
    /// In order; a later one overrides an earlier one for the same item.
    desired: Vec<DesiredItem>,
}

/// The desired state of the clusters a selector selects.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DesiredItem {
    /// Which clusters (none: every cluster).
    select: Option<SelectorBody>,
    bundle_fingerprint: Option<String>,
    /// Service versions (semver) by service.
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    services: Option<Value>,
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    config_hashes: Option<Value>,
    #[schema(nullable = false)]
    capabilities: Option<Vec<String>>,
}

/// A label selector (Kubernetes' semantics).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SelectorBody {
    /// Labels that must equal these values.
    #[schema(value_type = Option<HashMap<String, String>>, nullable = false)]
    labels: Option<Value>,
    /// Labels whose value must be one of these.
    #[serde(rename = "in")]
    #[schema(value_type = Option<HashMap<String, Vec<String>>>, nullable = false)]
    is_in: Option<Value>,
    /// Labels whose value must be none of these.
    #[schema(value_type = Option<HashMap<String, Vec<String>>>, nullable = false)]
    not_in: Option<Value>,
    #[schema(nullable = false)]
    exists: Option<Vec<String>>,
    #[schema(nullable = false)]
    not_exists: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredReq {
    desired: Vec<Desired>,
}

/// Replace the fleet's desired states.
#[utoipa::path(
    put, path = "/v1/fleet/desired", tag = "control-plane",
    params(DryRunParam),
    request_body = DesiredBody,
    responses(
        (status = 200, description = "`{desired: [...]}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is of the wrong shape, or a selector is malformed", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn set_desired(m: Mutation) -> Result<Response, Problem> {
    m.run(set_desired_now).await
}

async fn set_desired_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    platform_only(&ctx)?;
    let shape = "{\"desired\": [{\"select\"?: selector, \"bundle_fingerprint\"?, \"services\"?: {...}, \"config_hashes\"?: {...}, \"capabilities\"?: [string]}]}";
    // Each item an object (serde would also read a struct from a list).
    let raw: Value = json_body(&body, shape)?;
    if raw["desired"]
        .as_array()
        .is_some_and(|l| l.iter().any(|d| !d.is_object()))
    {
        return Err(invalid(format!(
            "expected {shape}: each desired state is an object"
        )));
    }
    let req: DesiredReq = json_body(&body, shape)?;
    // Label values are strings here (the schema says so), which the
    // language's selectors also accept.
    let strings_only = |sel: &Value| -> bool {
        let map_of = |k: &str, list: bool| {
            sel.get(k).is_none_or(|m| {
                m.as_object().is_some_and(|m| {
                    m.values().all(|v| {
                        if list {
                            v.as_array().is_some_and(|l| l.iter().all(Value::is_string))
                        } else {
                            v.is_string()
                        }
                    })
                })
            })
        };
        let list_of = |k: &str| {
            sel.get(k)
                .is_none_or(|l| l.as_array().is_some_and(|l| l.iter().all(Value::is_string)))
        };
        map_of("labels", false)
            && map_of("in", true)
            && map_of("not_in", true)
            && list_of("exists")
            && list_of("not_exists")
    };
    for (i, d) in req.desired.iter().enumerate() {
        if d.select
            .as_ref()
            .is_some_and(|s| !s.is_null() && !strings_only(s))
        {
            return Err(invalid(format!(
                "desired[{i}].select: label values are strings"
            )));
        }
        if let Some(s) = &d.select {
            if let Some(p) = tenet_runtime::dsl::builtins::selector_problem(
                &tenet_runtime::dsl::Value::from_json(s),
            ) {
                return Err(invalid(format!("desired[{i}].select: {}", p.message)));
            }
        }
    }
    if dry_run {
        // What would drift under these desired states.
        let st = Arc::clone(&state);
        let clusters =
            tokio::task::spawn_blocking(move || cps::clusters(&st.control_plane.store()))
                .await
                .map_err(store_failed)?
                .map_err(store_failed)?;
        let d = engine::fleet_drift(&clusters, &req.desired, now_ms(), max_age(&state))
            .map_err(invalid)?;
        return Ok(json_response(
            &json!({"desired": req.desired, "dry_run": true, "drift": d}),
        ));
    }
    let st = Arc::clone(&state);
    let ev = event(
        &ctx,
        &state,
        "fleet".into(),
        "desired_set",
        started,
        json!({"desired": req.desired.len()}),
    );
    let d2 = req.desired.clone();
    tokio::task::spawn_blocking(move || -> Result<(), tenet_store::StoreError> {
        let mut store = st.control_plane.store();
        cps::set_desired(&mut store, &d2)?;
        store.record_audit(&ev).map(|_| ())
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(&json!({"desired": req.desired})))
}

/// The fleet's drift now: observed against desired, per cluster.
#[utoipa::path(
    get, path = "/v1/fleet/drift", tag = "control-plane",
    responses(
        (status = 200, description = "`{at, clusters, drifting, drift: {cluster: [...]}}`: each drift with its kind (hash mismatch, semver delta, missing capability...) and reason", body = Object),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down, or a stored desired state is unusable", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn drift(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let st = Arc::clone(&state);
    let (clusters, desired) =
        tokio::task::spawn_blocking(move || -> Result<_, tenet_store::StoreError> {
            let store = st.control_plane.store();
            Ok((cps::clusters(&store)?, cps::desired(&store)?))
        })
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let now = now_ms();
    let d = engine::fleet_drift(&clusters, &desired, now, max_age(&state)).map_err(store_failed)?;
    let drifting = d.values().filter(|v| !v.is_empty()).count();
    Ok(json_response(&json!({
        "at": tenet_runtime::clock::Timestamp::from_millis(now).rfc3339(),
        "clusters": clusters.len(),
        "drifting": drifting,
        "drift": d,
    })))
}

/// What one pull round did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PullRound {
    pub pulled: usize,
    /// Clusters not called: their pull breaker is open (what until).
    pub skipped: Vec<(String, String)>,
    /// Clusters whose admin endpoint failed, with why (their inventory ages
    /// into `stale_inventory`: a cluster that cannot be read is not
    /// assumed right).
    pub failed: Vec<(String, String)>,
    pub new_drifts: usize,
}

/// Pulls every cluster's inventory from `{endpoints.admin}/inventory`
/// (JSON, the `POST /v1/clusters/{id}/inventory` shape), at most
/// `control_plane.parallel` at once, each with `control_plane.timeout`;
/// keeps what answered, then checks the fleet's drift once and announces
/// the new drifts. Runs on a thread of its own runtime (callers may be
/// inside the server's).
pub fn pull(state: &AppState) -> Result<PullRound, tenet_store::StoreError> {
    let clusters = cps::clusters(&state.control_plane.store())?;
    let started = now_ms();
    let mut round = PullRound::default();
    let open: HashMap<String, i64> = health(state)
        .iter()
        .filter_map(|(id, h)| h.next_at.filter(|t| *t > started).map(|t| (id.clone(), t)))
        .collect();
    let targets: Vec<(String, String)> = clusters
        .iter()
        .filter(|c| match open.get(&c.id) {
            Some(t) => {
                let until = tenet_runtime::clock::Timestamp::from_millis(*t).rfc3339();
                round.skipped.push((c.id.clone(), until));
                false
            }
            None => true,
        })
        .filter_map(|c| {
            c.endpoints.get("admin").map(|a| {
                (
                    c.id.clone(),
                    format!("{}/inventory", a.trim_end_matches('/')),
                )
            })
        })
        .collect();
    let cfg = state.config.control_plane.clone();
    let answers: Vec<(String, Result<Value, String>)> = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    return targets
                        .iter()
                        .map(|(id, _)| (id.clone(), Err(e.to_string())))
                        .collect()
                }
            };
            rt.block_on(async {
                let mut out = Vec::new();
                for chunk in targets.chunks(cfg.parallel.max(1)) {
                    let mut set = tokio::task::JoinSet::new();
                    for (id, url) in chunk.iter().cloned() {
                        set.spawn(async move {
                            (id, tenet_notify::fetch::get_json(&url, cfg.timeout).await)
                        });
                    }
                    while let Some(r) = set.join_next().await {
                        if let Ok(x) = r {
                            out.push(x);
                        }
                    }
                }
                out
            })
        })
        .join()
        .unwrap_or_default()
    });
    let now = now_ms();
    let mut store = state.control_plane.store();
    let cfg = &state.config.control_plane;
    let breaker = u32::try_from(cfg.pull_breaker).unwrap_or(u32::MAX).max(1);
    let mut events = Vec::new();
    for (id, answer) in answers {
        let answer = answer.and_then(|v| {
            serde_json::from_value::<Inventory>(v).map_err(|e| format!("not an inventory: {e}"))
        });
        let mut health = health(state);
        match answer {
            Ok(mut inv) => {
                inv.observed_at = now;
                cps::record_inventory(&mut store, &id, &inv)?;
                round.pulled += 1;
                match health.get_mut(&id) {
                    // Its opening was announced: so is its closing (the
                    // entry goes once that is written).
                    Some(h) if h.announced => {
                        h.failures = 0;
                        h.next_at = None;
                        events.push(breaker_event(
                            state,
                            &id,
                            "pull_recovered",
                            "its inventory answers again".into(),
                        ));
                    }
                    _ => {
                        health.remove(&id);
                    }
                }
            }
            Err(why) => {
                let h = health.entry(id.clone()).or_default();
                h.failures = h.failures.saturating_add(1);
                if h.failures >= breaker {
                    let wait = pull_backoff(cfg.pull_every, h.failures, breaker);
                    h.next_at = Some(now + wait);
                    // Announced once, when the audit write holds.
                    if !h.announced {
                        events.push(breaker_event(
                            state,
                            &id,
                            "pull_breaker_opened",
                            format!(
                                "{} failed pulls in a row (last: {why}); pulled again after a backoff from {} s, and its inventory ages into stale_inventory meanwhile",
                                h.failures,
                                wait / 1000
                            ),
                        ));
                    }
                }
                round.failed.push((id, why));
            }
        }
    }
    if !events.is_empty() {
        store.record_audit_batch(&events)?;
        let mut health = health(state);
        for e in &events {
            match e.outcome.as_str() {
                "pull_breaker_opened" => {
                    if let Some(h) = health.get_mut(&e.subject) {
                        h.announced = true;
                    }
                }
                _ => {
                    health.remove(&e.subject);
                }
            }
        }
    }
    // An opened breaker is news (a cluster nobody can read); a closed one
    // is in the audit log.
    let breaker_notes: Vec<tenet_notify::Notification> = events
        .iter()
        .filter(|e| e.outcome == "pull_breaker_opened")
        .map(|e| tenet_notify::Notification {
            id: e.action_id.clone(),
            module: tenet_control_plane::MODULE.into(),
            kind: "pull_breaker_opened".into(),
            tenant: None,
            subject: e.subject.clone(),
            severity: "warning".into(),
            payload: json!({"cluster": e.subject, "because": e.reason}),
            created_at: e.at.clone(),
        })
        .collect();
    round.failed.sort();
    round.skipped.sort();
    let bundle = state.fingerprint();
    let check = cps::check_drift(&mut store, now, max_age(state), move |d| {
        drift_event(
            &format!("pull-{now}"),
            "control-plane.pull".into(),
            bundle.clone(),
            d,
        )
    })?;
    round.new_drifts = check.new.len();
    drop(store);
    let mut notes = driver::drift_notices(&check.new);
    notes.extend(breaker_notes);
    driver::send_blocking(state, notes);
    Ok(round)
}

/// The `control-plane.sweep`: a pull round every `control_plane.pull_every`.
pub fn sweep(state: &AppState) -> Result<u64, tenet_store::StoreError> {
    {
        let mut last = match state.control_plane.last_pull.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if last.is_some_and(|t| t.elapsed() < state.config.control_plane.pull_every) {
            return Ok(0);
        }
        *last = Some(Instant::now());
    }
    let round = pull(state)?;
    if !round.failed.is_empty() || !round.skipped.is_empty() {
        tracing::warn!(
            failed = round.failed.len(),
            breaker_open = round.skipped.len(),
            "control-plane: some clusters' inventories could not be pulled"
        );
    }
    Ok((round.pulled + round.new_drifts) as u64)
}

/// A cluster's failed pulls in a row.
#[derive(Debug, Clone, Default)]
struct PullHealth {
    failures: u32,
    /// While the breaker is open: not pulled before this (ms).
    next_at: Option<i64>,
    /// Its opening is in the audit log (and was notified).
    announced: bool,
}

/// After `failures` in a row (at least `breaker`): wait twice
/// `pull_every`, doubled again with each further failure, at most an hour.
/// (Rounds start `pull_every` apart, so a wait of one `pull_every` from the
/// end of a round would skip none.)
fn pull_backoff(pull_every: Duration, failures: u32, breaker: u32) -> i64 {
    let base = i64::try_from(pull_every.as_millis()).unwrap_or(i64::MAX);
    let doublings = (failures.saturating_sub(breaker) + 1).min(16);
    base.saturating_mul(1 << doublings).min(3_600_000)
}

fn health(state: &AppState) -> std::sync::MutexGuard<'_, HashMap<String, PullHealth>> {
    match state.control_plane.pull_health.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The audit event of a pull breaker that opened or closed.
fn breaker_event(state: &AppState, cluster: &str, outcome: &str, reason: String) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("pull-{}-{cluster}-{outcome}", now_ms()),
        at: now_rfc3339(),
        source: tenet_control_plane::MODULE.into(),
        subject: cluster.to_string(),
        actor: "control-plane.pull".into(),
        scope: "fleet".into(),
        outcome: outcome.into(),
        reason: Some(reason),
        latency_ms: 0,
        details: json!({}),
        tenant: None,
        bundle: Some(state.fingerprint()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pull_backoff_doubles_from_twice_pull_every_up_to_an_hour() {
        let every = Duration::from_secs(60);
        let waits: Vec<i64> = (3..=10).map(|f| pull_backoff(every, f, 3)).collect();
        assert_eq!(
            waits,
            [120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]
        );
        assert_eq!(pull_backoff(every, u32::MAX, 1), 3_600_000, "no overflow");
    }
}
