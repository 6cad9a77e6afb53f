//! `/v1/bundles...` and `/v1/actions...`: bundles registered, rolled out
//! over the fleet as action runs, watched and resumed.
//!
//! `POST /v1/bundles/apply` plans the pack's rollout over the registered
//! clusters the selector selects and puts the plan to the pack's guards
//! (blast radius, the production allowlist, who may target what) before
//! anything is kept: a refused plan is a 422 that names every denial, and
//! a dry run answers the plan and pushes nothing. An allowed plan becomes
//! an action run (`202`, `links`), which the `control-plane.rollout` sweep
//! drives ([`super::driver`]).

use super::{event, parse_selector, platform_only};
use crate::access::RequestCtx;
use crate::idempotency::Mutation;
use crate::problem::Problem;
use crate::routes::{invalid, json_body, json_response, now_ms, store_failed, DryRunParam};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;
use tenet_control_plane::action::{ActionRun, Bundle, RunState};
use tenet_control_plane::model::ClusterRecord;
use tenet_control_plane::plan::{self, Cluster};
use tenet_control_plane::rollout::{self, Member};
use tenet_control_plane::store::{self as cps, Registered};
use utoipa::{IntoParams, ToSchema};

/// A bundle to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct BundleBody {
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    name: String,
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    version: String,
    /// `sha256:` and 64 lowercase hex digits.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    fingerprint: String,
    /// Bundles that must be registered first.
    #[schema(nullable = false)]
    dependencies: Option<Vec<DependencyBody>>,
    description: Option<String>,
}

/// A bundle another one needs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DependencyBody {
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    name: String,
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}$")]
    version: String,
}

const BUNDLE_SHAPE: &str = "{\"name\": string, \"version\": string, \"fingerprint\": \"sha256:<64 hex>\", \"dependencies\"?: [{\"name\", \"version\"}], \"description\"?: string}";

/// Register a bundle (immutable: a name and version keep their fingerprint).
#[utoipa::path(
    post, path = "/v1/bundles", tag = "control-plane",
    params(DryRunParam),
    request_body = BundleBody,
    responses(
        (status = 200, description = "The same bundle was registered already: `{created: false, bundle}`", body = Object),
        (status = 201, description = "`{created: true, bundle}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The name and version are registered with another fingerprint or other dependencies, or a dependency is not registered", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A malformed bundle", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn register_bundle(m: Mutation) -> Result<Response, Problem> {
    m.run(register_bundle_now).await
}

async fn register_bundle_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    platform_only(&ctx)?;
    let b: Bundle = json_body(&body, BUNDLE_SHAPE)?;
    b.check().map_err(invalid)?;
    if b.dependencies.iter().any(|d| d.name == b.name) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Dependency Cycle",
            format!("bundle `{}` depends on itself", b.name),
        ));
    }
    if dry_run {
        let st = Arc::clone(&state);
        let known = tokio::task::spawn_blocking(move || cps::bundles(&st.control_plane.store()))
            .await
            .map_err(store_failed)?
            .map_err(store_failed)?;
        let missing: Vec<String> = b
            .dependencies
            .iter()
            .filter(|d| {
                !known
                    .iter()
                    .any(|k| k.name == d.name && k.version == d.version)
            })
            .map(|d| format!("{}@{}", d.name, d.version))
            .collect();
        if let Some(m) = missing.first() {
            return Err(missing_dependency(m));
        }
        let exists = known
            .iter()
            .any(|k| k.name == b.name && k.version == b.version);
        return Ok(json_response(
            &json!({"created": !exists, "dry_run": true, "bundle": b}),
        ));
    }
    let ev = event(
        &ctx,
        &state,
        b.reference(),
        "bundle_registered",
        started,
        json!({"bundle": b.reference(), "fingerprint": b.fingerprint}),
    );
    let (st, b2) = (Arc::clone(&state), b.clone());
    let r = tokio::task::spawn_blocking(move || {
        cps::register_bundle(&mut st.control_plane.store(), &b2, ev)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    match r {
        Registered::New => {
            let mut resp = json_response(&json!({"created": true, "bundle": b}));
            *resp.status_mut() = StatusCode::CREATED;
            Ok(resp)
        }
        Registered::Same => Ok(json_response(&json!({"created": false, "bundle": b}))),
        Registered::Conflict(fp) => Err(Problem::new(
            StatusCode::CONFLICT,
            "Bundle Exists",
            format!(
                "{} is registered with fingerprint {fp} (or other dependencies); a bundle never changes: register a new version",
                b.reference()
            ),
        )),
        Registered::MissingDependency(d) => Err(missing_dependency(&d)),
    }
}

fn missing_dependency(d: &str) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "Missing Dependency",
        format!("dependency {d} is not registered: register it first"),
    )
}

fn unknown(what: String) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "Not Found", what)
}

/// The registered bundles, oldest first.
#[utoipa::path(
    get, path = "/v1/bundles", tag = "control-plane",
    responses(
        (status = 200, description = "`{bundles: [...]}`", body = Object),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list_bundles(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let st = Arc::clone(&state);
    let all = tokio::task::spawn_blocking(move || cps::bundles(&st.control_plane.store()))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    Ok(json_response(&json!({"bundles": all})))
}

/// A rollout to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ApplyBody {
    /// `name@version`, or a name (its latest registered version).
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,128}(@[A-Za-z0-9_.-]{1,128})?$")]
    bundle: String,
    /// The pack's rollout; by default the one whose `bundle` names it.
    #[schema(nullable = false, pattern = "^[A-Za-z0-9_-]{1,128}$")]
    rollout: Option<String>,
    /// Narrows the rollout's target to the clusters this selects
    /// (`env=prod,region=eu-west-1`, the `GET /v1/clusters` grammar).
    #[schema(
        nullable = false,
        pattern = "^(!?[A-Za-z0-9_./-]{1,63}|[A-Za-z0-9_./-]{1,63}(=|!=)[A-Za-z0-9_.-]{0,63})(,(!?[A-Za-z0-9_./-]{1,63}|[A-Za-z0-9_./-]{1,63}(=|!=)[A-Za-z0-9_.-]{0,63})){0,19}$"
    )]
    selector: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Apply {
    bundle: String,
    rollout: Option<String>,
    selector: Option<String>,
}

/// Who starts a rollout, as the guards read `actor`: the identity's name,
/// its roles, and its role (its `role` trait, else its first role).
fn actor(ctx: &RequestCtx) -> Value {
    match &ctx.identity {
        None => json!({"id": "anonymous"}),
        Some(i) => {
            let role = i
                .traits
                .get("role")
                .and_then(|r| r.first())
                .or_else(|| i.roles.first())
                .cloned();
            json!({"id": i.name, "roles": i.roles, "role": role})
        }
    }
}

/// A registered cluster as the plan and the gates read it: its
/// registration, with each label also readable as `cluster.<label>`
/// when the registration has no field of that name.
pub fn as_plan_cluster(c: &ClusterRecord) -> Cluster {
    let labels: serde_json::Map<String, Value> = c
        .all_labels()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut attributes = serde_json::Map::new();
    for (k, v) in [
        ("region", json!(c.region)),
        ("env", json!(c.env)),
        ("owner", json!(c.owner)),
        ("blast_radius_group", json!(c.blast_radius_group)),
        ("capabilities", json!(c.capabilities)),
        ("version", json!(c.version)),
        ("slo", json!(c.slo)),
    ] {
        attributes.insert(k.into(), v);
    }
    for (k, v) in &labels {
        if !attributes.contains_key(k) && k != "name" && k != "labels" {
            attributes.insert(k.clone(), v.clone());
        }
    }
    Cluster {
        name: c.id.clone(),
        labels,
        attributes,
    }
}

/// Roll a bundle out over the fleet: the plan is put to the guards first.
#[utoipa::path(
    post, path = "/v1/bundles/apply", tag = "control-plane",
    params(DryRunParam),
    request_body = ApplyBody,
    responses(
        (status = 200, description = "A dry run: `{dry_run: true, plan}`; nothing kept, no cluster called", body = Object),
        (status = 202, description = "The action run: `{id, state, links: {self, resume}, plan}`; the `control-plane.rollout` sweep drives it", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such bundle or rollout", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A malformed selector, target clusters without an admin endpoint, or a plan the guards refuse (`refused`: each denial in one sentence); nothing kept", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down, or no control_plane pack is served", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn apply(m: Mutation) -> Result<Response, Problem> {
    m.run(apply_now).await
}

async fn apply_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    platform_only(&ctx)?;
    let req: Apply = json_body(
        &body,
        "{\"bundle\": \"name@version\", \"rollout\"?: string, \"selector\"?: string}",
    )?;
    let selector = req
        .selector
        .as_deref()
        .map(parse_selector)
        .transpose()
        .map_err(invalid)?;
    let st = Arc::clone(&state);
    let (bundles, clusters) =
        tokio::task::spawn_blocking(move || -> Result<_, tenet_store::StoreError> {
            let store = st.control_plane.store();
            Ok((cps::bundles(&store)?, cps::clusters(&store)?))
        })
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let (name, version) = match req.bundle.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (req.bundle.as_str(), None),
    };
    let bundle = bundles
        .iter()
        .rev()
        .find(|b| b.name == name && version.is_none_or(|v| v == b.version))
        .cloned()
        .ok_or_else(|| {
            unknown(format!(
                "no bundle `{}` is registered (POST /v1/bundles)",
                req.bundle
            ))
        })?;
    let rules = state.bundle.load_full();
    let pack = tenet_control_plane::pack(&rules.rules).map_err(|e| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No Control-Plane Pack",
            format!("the served rules have no usable control_plane pack: {e:?}"),
        )
    })?;
    let rollouts: Vec<(String, Option<String>)> = pack
        .compiled()
        .blocks
        .iter()
        .filter(|b| b.kind == "rollout")
        .map(|b| {
            let shipped = match pack.field(b, "bundle", &tenet_runtime::dsl::Value::Null) {
                Ok(Some(tenet_runtime::dsl::Value::Str(s))) => Some(s.to_string()),
                _ => None,
            };
            (b.name.clone(), shipped)
        })
        .collect();
    let rollout = match &req.rollout {
        Some(r) if rollouts.iter().any(|(n, _)| n == r) => r.clone(),
        Some(r) => {
            return Err(unknown(format!(
                "no rollout `{r}` in the control_plane pack (rollouts: {})",
                rollouts
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        None => rollouts
            .iter()
            .find(|(_, b)| b.as_deref() == Some(bundle.name.as_str()))
            .map(|(n, _)| n.clone())
            .ok_or_else(|| {
                unknown(format!(
                    "no rollout of the control_plane pack ships `{}`: name one with `rollout`",
                    bundle.name
                ))
            })?,
    };
    let fleet: Vec<Cluster> = clusters.iter().map(as_plan_cluster).collect();
    let within: Option<BTreeSet<String>> = match &selector {
        None => None,
        Some(s) => {
            let s = tenet_runtime::dsl::Value::from_json(s);
            let mut set = BTreeSet::new();
            for c in &clusters {
                let labels = tenet_runtime::dsl::Value::from_json(
                    &serde_json::to_value(c.all_labels()).unwrap_or_default(),
                );
                if tenet_runtime::dsl::builtins::selects(&s, &labels).map_err(invalid)? {
                    set.insert(c.id.clone());
                }
            }
            Some(set)
        }
    };
    let now = now_ms();
    let who = actor(&ctx);
    let p = {
        // One decision per cluster and wave: off the async threads.
        let (rules, rollout, who) = (Arc::clone(&rules), rollout.clone(), who.clone());
        tokio::task::spawn_blocking(move || {
            let pack = tenet_control_plane::pack(&rules.rules).map_err(|e| format!("{e:?}"))?;
            plan::plan_within(&pack, &rollout, &fleet, within.as_ref(), &who, now)
        })
        .await
        .map_err(store_failed)?
        .map_err(invalid)?
    };
    if !p.allowed {
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Plan Refused",
            format!(
                "nothing was pushed: {}",
                p.refused.first().cloned().unwrap_or_default()
            ),
        )
        .with("refused", json!(p.refused));
        let ev = event(
            &ctx,
            &state,
            bundle.reference(),
            "apply_refused",
            started,
            json!({"bundle": bundle.reference(), "rollout": rollout, "refused": p.refused}),
        );
        let _ = state.audit.record(ev).await;
        return Err(problem);
    }
    let spec = rollout::RolloutSpec::from_pack(&pack, &rollout).map_err(invalid)?;
    if dry_run || spec.dry_run {
        return Ok(json_response(&json!({
            "dry_run": true,
            "because": if dry_run { "?dry_run" } else { "the rollout says dry_run" },
            "bundle": bundle,
            "plan": p,
        })));
    }
    let members: BTreeMap<String, Member> = clusters
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                Member {
                    cluster: as_plan_cluster(c).value(),
                    admin: c.endpoints.get("admin").cloned(),
                    fingerprint: c
                        .inventory
                        .as_ref()
                        .and_then(|i| i.bundle_fingerprint.clone()),
                },
            )
        })
        .collect();
    let no_admin: Vec<&String> = p
        .stages
        .iter()
        .flat_map(|s| s.clusters.iter())
        .filter(|c| members.get(*c).is_none_or(|m| m.admin.is_none()))
        .collect();
    if !no_admin.is_empty() {
        return Err(invalid(format!(
            "{} target cluster(s) have no `endpoints.admin` to push to: {}",
            no_admin.len(),
            no_admin
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let run = rollout::start(&ctx.action_id, &bundle, &p, &members, &who, now);
    let ev = event(
        &ctx,
        &state,
        run.id.clone(),
        "action_created",
        started,
        json!({"action": run.id, "bundle": bundle.reference(), "rollout": rollout, "clusters": run.clusters.len()}),
    );
    let (st, r2) = (Arc::clone(&state), run.clone());
    tokio::task::spawn_blocking(move || {
        cps::create_action(&mut st.control_plane.store(), &r2, vec![ev])
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    let mut resp = json_response(&json!({
        "id": run.id,
        "state": run.state,
        "bundle": bundle.reference(),
        "rollout": rollout,
        "clusters": run.clusters.len(),
        "links": links(&run.id),
        "plan": p,
    }));
    *resp.status_mut() = StatusCode::ACCEPTED;
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/actions/{}", run.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn links(id: &str) -> Value {
    json!({"self": format!("/v1/actions/{id}"), "resume": format!("/v1/actions/{id}/resume")})
}

/// A run as the API answers it.
pub fn view(run: &ActionRun) -> Value {
    let mut v = serde_json::to_value(run).unwrap_or_default();
    v["counts"] = json!(run.counts());
    v["paused_because"] = match run.state {
        RunState::Paused => json!(run.reason),
        _ => Value::Null,
    };
    v["clusters"] = json!(run.clusters.values().collect::<Vec<_>>());
    v["links"] = links(&run.id);
    v
}

/// Which runs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActionsParams {
    /// Only runs in this state.
    #[param(pattern = "^(pending|running|succeeded|failed|paused)$")]
    state: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// Action runs, newest first (a summary of each).
#[utoipa::path(
    get, path = "/v1/actions", tag = "control-plane",
    params(ActionsParams),
    responses(
        (status = 200, description = "`{actions: [{id, state, bundle, rollout, counts, reason, waiting, links}]}`", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list_actions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<ActionsParams>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let bad = |m: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", m);
    let states: Vec<String> = match q.state {
        None => Vec::new(),
        Some(s)
            if ["pending", "running", "succeeded", "failed", "paused"].contains(&s.as_str()) =>
        {
            vec![s]
        }
        Some(s) => {
            return Err(bad(format!(
                "`{s}` is not a run state (pending, running, succeeded, failed, paused)"
            )))
        }
    };
    let limit = crate::routes::limit_param(q.limit, 50, 1000)?;
    let st = Arc::clone(&state);
    let runs = tokio::task::spawn_blocking(move || {
        let s: Vec<&str> = states.iter().map(String::as_str).collect();
        cps::actions(&st.control_plane.store(), &s, limit)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    let out: Vec<Value> = runs
        .iter()
        .map(|(_, r)| {
            json!({
                "id": r.id, "state": r.state, "bundle": r.bundle.reference(), "rollout": r.rollout,
                "created_at": tenet_runtime::clock::Timestamp::from_millis(r.created_at).rfc3339(),
                "counts": r.counts(), "reason": r.reason, "waiting": r.waiting, "links": links(&r.id),
            })
        })
        .collect();
    Ok(json_response(&json!({"actions": out})))
}

fn not_found(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no action run `{id}`"),
    )
}

/// One action run: its state, why it is paused, each cluster's state.
#[utoipa::path(
    get, path = "/v1/actions/{id}", tag = "control-plane",
    params(("id" = String, Path, description = "The run's id (the apply's `x-tenet-action-id`)", pattern = "^[A-Za-z0-9_.-]{1,100}$")),
    responses(
        (status = 200, description = "The run: `state` (pending, running, succeeded, failed, paused), `paused_because` (one sentence), `waiting`, `counts`, `stages`, `clusters` (each with its state, attempts, last error, gates), `links`", body = Object),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn one_action(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let (st, id2) = (Arc::clone(&state), id.clone());
    let run = tokio::task::spawn_blocking(move || cps::action(&st.control_plane.store(), &id2))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?
        .ok_or_else(|| not_found(&id))?;
    Ok(json_response(&view(&run.1)))
}

/// Resume a paused run: its failed and quarantined clusters are pushed
/// again from their cursor; the clusters that succeeded are left alone.
#[utoipa::path(
    post, path = "/v1/actions/{id}/resume", tag = "control-plane",
    params(("id" = String, Path, description = "The run's id", pattern = "^[A-Za-z0-9_.-]{1,100}$"), DryRunParam),
    responses(
        (status = 200, description = "The run, running again (`retry`: the clusters pushed again)", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The run is not paused (running, frozen, rolled back, or done), or it moved while resuming", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn resume(Path(id): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(move |state, ctx, _body, dry_run| resume_now(state, ctx, id, dry_run))
        .await
}

async fn resume_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    dry_run: bool,
) -> Result<Response, Problem> {
    platform_only(&ctx)?;
    let fingerprint = state.fingerprint();
    let st = Arc::clone(&state);
    let who = ctx.actor();
    let id2 = id.clone();
    let r = tokio::task::spawn_blocking(
        move || -> Result<Result<(ActionRun, Vec<Value>), Problem>, tenet_store::StoreError> {
            let mut store = st.control_plane.store();
            let Some((version, mut run)) = cps::action(&store, &id2)? else {
                return Ok(Err(not_found(&id2)));
            };
            let events = match rollout::resume(&mut run, now_ms()) {
                Ok(e) => e,
                Err(why) => {
                    return Ok(Err(Problem::new(
                        StatusCode::CONFLICT,
                        "Not Resumable",
                        why,
                    )))
                }
            };
            let retry: Vec<Value> = events
                .first()
                .and_then(|e| e.detail.get("retry"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if dry_run {
                return Ok(Ok((run, retry)));
            }
            let mut audit = super::driver::audit(&run, &events, &fingerprint, version);
            for a in &mut audit {
                a.actor = who.clone();
            }
            match cps::save_action(&mut store, &run, version, audit)? {
                Some(_) => Ok(Ok((run, retry))),
                None => Ok(Err(Problem::new(
                    StatusCode::CONFLICT,
                    "Moved",
                    format!("action run `{id2}` changed while resuming: read it again and retry"),
                ))),
            }
        },
    )
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    let (run, retry) = r?;
    let mut v = view(&run);
    v["retry"] = json!(retry);
    if dry_run {
        v["dry_run"] = json!(true);
    }
    Ok((StatusCode::OK, json_response(&v)).into_response())
}
