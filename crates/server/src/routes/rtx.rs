//! `/v1/rtx/evidence` and `/v1/exports...`: right-to-explanation bundles
//! (`tenet-rtx-export`).
//!
//! An export is made in the background: `POST /v1/exports` keeps it
//! `pending` and answers 202; the bundle is made on a blocking thread from
//! what tenet holds about the subject in the window — decisions from the
//! audit log (those made with a `data_subject`), tenant-benchmark scores
//! (a tenant as the subject), safety-workflow steps, posted evidence, and
//! earlier reads of the subject's exports — streamed in (`at`, `id`) order
//! through the pack's masking into a signed bundle, then stored. A server
//! that stops mid-export leaves it `pending`; the `rtx-export.sweep` makes
//! it again (the same snapshot makes the same bytes). Every read is
//! access-logged in its own transaction; revocation scrubs the bundle
//! unless a legal hold keeps it.

use super::{invalid, json_body, json_response, now_ms, store_failed, DryRunParam};
use crate::access::RequestCtx;
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
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tenet_rtx_export::model::{
    AccessAction, ApprovalRecord, DecisionRecord, Evidence, Export, ExportRequest, LegalHold,
    Record, ScoreRecord, Window,
};
use tenet_rtx_export::sign::Signer;
use tenet_rtx_export::store::{self as rs, Access, ChangeError};
use tenet_store::{AuditEvent, Store, StoreError};
use utoipa::ToSchema;

/// The module's store connection and its signing key.
pub struct Rtx {
    store: Mutex<Store>,
    signer: Option<Signer>,
}

impl Rtx {
    pub fn open(config: &crate::config::Config) -> Result<Rtx, String> {
        let signer = match &config.rtx.signing_key {
            None => None,
            Some(k) => Some(Signer::from_config(k).map_err(|e| format!("`rtx.signing_key`: {e}"))?),
        };
        Ok(Rtx {
            store: Mutex::new(rs::open(&config.store).map_err(|e| e.to_string())?),
            signer,
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The module's routes.
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(add_evidence))
        .route(routes!(create))
        .route(routes!(list))
        .route(routes!(status))
        .route(routes!(bundle))
        .route(routes!(revoke))
        .route(routes!(hold))
        .route(routes!(release))
}

/// The caller's tenant: its identity's, else `x-tenant-id`, else `default`.
fn tenant(ctx: &RequestCtx) -> Result<String, Problem> {
    let t = ctx.tenant.clone().unwrap_or_else(|| "default".into());
    if t.is_empty()
        || t.len() > 128
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Tenant",
            format!("tenant `{t}` is not 1 to 128 letters, digits, `_`, `.` or `-`"),
        ));
    }
    Ok(t)
}

/// A JSON number that is a whole number written with a fraction (`5.0`)
/// as an integer: JSON Schema's `integer` is the value, not the spelling.
fn integral(v: &mut Value) {
    if let Some(f) = v.as_f64().filter(|_| v.is_f64()) {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            *v = json!(f as i64);
        }
    }
}

fn not_found(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!("no export `{id}`"),
    )
}

fn change_failed(id: &str, e: ChangeError) -> Problem {
    match e {
        ChangeError::NotFound(_) => not_found(id),
        ChangeError::Illegal(i) => {
            Problem::new(StatusCode::CONFLICT, "Not Allowed Now", i.to_string())
        }
        ChangeError::Refused { .. } => {
            Problem::new(StatusCode::CONFLICT, "Not Allowed Now", e.to_string())
        }
        ChangeError::Store(s) => store_failed(s),
    }
}

fn links(id: &str) -> Value {
    json!({
        "self": format!("/v1/exports/{id}"),
        "bundle": format!("/v1/exports/{id}/bundle"),
        "revoke": format!("/v1/exports/{id}/revoke"),
        "legal_hold": format!("/v1/exports/{id}/legal-hold"),
    })
}

/// An export as the API answers it: its record, its status in one
/// sentence, its revocation status (what `tenet rtx verify --status`
/// reads), and links.
/// An export as its routes answer it, with its revocation status signed
/// as of now (`signed_status`, what `tenet rtx verify --status` trusts).
fn view(state: &AppState, e: &Export) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        if let Some(signer) = &state.rtx.signer {
            let env = signer.sign_status(&e.revocation_status(), now_ms());
            m.insert("signed_status".into(), json!(env));
        }
        if let Ok(Value::Object(r)) = serde_json::to_value(e.revocation_status()) {
            for (k, x) in r {
                m.entry(k).or_insert(x);
            }
        }
        m.insert("status".into(), json!(e.status_sentence()));
        m.insert("links".into(), links(&e.id));
    }
    v
}

/// Evidence from a model-serving or provenance system.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EvidenceBody {
    /// The data subject.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    subject: String,
    /// When (milliseconds since the epoch).
    #[schema(minimum = 0, maximum = 253_402_300_799_999_i64)]
    at: i64,
    model: ModelBody,
    score: Option<f64>,
    /// The explanation payload (any JSON).
    xai: Option<Value>,
    #[schema(nullable = false)]
    feature_provenance: Option<Vec<FeatureBody>>,
    /// The consent and authorization context (any JSON).
    consent: Option<Value>,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    source_id: String,
}

/// The model that produced a score.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ModelBody {
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    name: String,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    version: String,
    /// `in-house`, or the vendor.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    provider: String,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    training_data: Option<String>,
}

/// Where one feature came from.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct FeatureBody {
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    feature: String,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    source: String,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    version: Option<String>,
}

/// Keep evidence about a subject (its id is its content's: the same
/// evidence twice is kept once).
#[utoipa::path(
    post, path = "/v1/rtx/evidence", tag = "rtx-export",
    params(DryRunParam),
    request_body = EvidenceBody,
    responses(
        (status = 200, description = "Already kept: `{id, created: false}`", body = Object),
        (status = 201, description = "`{id, created: true}`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Evidence of the wrong shape (unknown fields are refused)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn add_evidence(m: Mutation) -> Result<Response, Problem> {
    m.run(add_evidence_now).await
}

async fn add_evidence_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let tenant = tenant(&ctx)?;
    let mut v: Value = json_body(
        &body,
        "evidence {subject, at, model, score?, xai?, feature_provenance?, consent?, source_id}",
    )?;
    if let Some(at) = v.get_mut("at") {
        integral(at);
    }
    let ev = Evidence::from_json(&v).map_err(|e| invalid(e.to_string()))?;
    if dry_run {
        return Ok(json_response(&json!({"id": ev.id, "dry_run": true})));
    }
    let (st, e2, actor) = (Arc::clone(&state), ev.clone(), ctx.actor());
    let created = tokio::task::spawn_blocking(move || {
        rs::add_evidence(&mut st.rtx.store(), &tenant, &e2, &actor, now_ms())
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    let mut r = json_response(&json!({"id": ev.id, "created": created}));
    if created {
        *r.status_mut() = StatusCode::CREATED;
    }
    Ok(r)
}

/// What an export asks for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ExportBody {
    /// The data subject.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    subject: String,
    /// `[from, to)`; `from` at or after `to` is an empty window.
    window: WindowBody,
    requestor: RequestorBody,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    purpose_of_use: String,
    /// ISO 3166 (`FR`, `US-CA`); without it every jurisdiction's masks apply.
    #[schema(pattern = "^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
    jurisdiction: Option<String>,
    /// Facts about the subject the masking reads (`age`); not `country`
    /// or `region` (they come from `jurisdiction`).
    #[schema(value_type = Option<Object>, nullable = false)]
    subject_facts: Option<Value>,
}

/// A time window in milliseconds since the epoch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WindowBody {
    #[schema(minimum = 0, maximum = 253_402_300_799_999_i64)]
    from: i64,
    #[schema(minimum = 0, maximum = 253_402_300_799_999_i64)]
    to: i64,
}

/// Who asks.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RequestorBody {
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    id: String,
    /// `data_subject`, `authorized_agent`, `supervisory_authority`... (the pack's words).
    #[serde(rename = "type")]
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    requester_type: String,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    channel: Option<String>,
    /// A regulator's case reference.
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    case: Option<String>,
    #[schema(
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        max_length = 512
    )]
    on_behalf_of: Option<String>,
}

/// Ask for a subject's bundle; it is made in the background.
#[utoipa::path(
    post, path = "/v1/exports", tag = "rtx-export",
    params(DryRunParam),
    request_body = ExportBody,
    responses(
        (status = 200, description = "A dry run: the request is valid; nothing kept", body = Object),
        (status = 202, description = "`{id, state: pending, links}`: follow `links.self`", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A request of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No signing key (`rtx.signing_key`) or no rtx_export pack, or the store is down; nothing kept", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn create(m: Mutation) -> Result<Response, Problem> {
    m.run(create_now).await
}

async fn create_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let tenant = tenant(&ctx)?;
    let mut v: Value = json_body(&body, "{subject, window {from, to}, requestor {id, type, ...}, purpose_of_use, jurisdiction?, subject_facts?}")?;
    if let Some(w) = v.get_mut("window").and_then(Value::as_object_mut) {
        for k in ["from", "to"] {
            if let Some(t) = w.get_mut(k) {
                integral(t);
            }
        }
    }
    let req = ExportRequest::from_json(&v).map_err(|e| invalid(e.to_string()))?;
    if state.rtx.signer.is_none() {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No Signing Key",
            "this server has no `rtx.signing_key`: it cannot sign bundles, so it makes none",
        ));
    }
    let loaded = state.bundle.load_full();
    if tenet_rtx_export::pack(&loaded.rules).is_err() {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No RTX Pack",
            "the served rules have no rtx_export pack: nothing could be masked",
        ));
    }
    if dry_run {
        return Ok(json_response(&json!({"dry_run": true, "request": req})));
    }
    let export = Export::new(&ctx.action_id, &tenant, req, &ctx.actor(), now_ms());
    let (st, e2) = (Arc::clone(&state), export.clone());
    tokio::task::spawn_blocking(move || rs::create_export(&mut st.rtx.store(), &e2))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let (st, t2, id) = (Arc::clone(&state), tenant.clone(), export.id.clone());
    tokio::task::spawn_blocking(move || make(&st, &t2, &id));
    let mut r =
        json_response(&json!({"id": export.id, "state": export.state, "links": links(&export.id)}));
    *r.status_mut() = StatusCode::ACCEPTED;
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/exports/{}", export.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// Milliseconds of an audit event's time.
fn ms(at: &str) -> Option<i64> {
    tenet_runtime::clock::Timestamp::parse(at)
        .ok()
        .map(|t| t.millis())
}

/// The record an audit event is, for `subject` in `tenant`, if any.
fn from_audit(e: &AuditEvent, tenant: &str, subject: &str) -> Vec<Record> {
    let mine = match e.tenant.as_deref() {
        None => tenant == "default",
        Some(t) => t == tenant,
    };
    let Some(at) = ms(&e.at) else {
        return Vec::new();
    };
    let str_of = |v: &Value| v.as_str().map(str::to_string);
    match e.source.as_str() {
        "server:evaluate"
            if mine && e.details.get("data_subject").and_then(Value::as_str) == Some(subject) =>
        {
            let facts = match e.details.get("input") {
                Some(Value::Object(m)) => m.clone(),
                _ => serde_json::Map::new(),
            };
            vec![Record::Decision(DecisionRecord {
                id: e.action_id.clone(),
                at,
                pack: e.subject.clone(),
                pack_version: e
                    .details
                    .get("version")
                    .and_then(str_of)
                    .unwrap_or_default(),
                bundle: e.bundle.clone().unwrap_or_default(),
                rules: e.details["matched"]
                    .as_array()
                    .map(|a| a.iter().filter_map(str_of).collect())
                    .unwrap_or_default(),
                outcome: e.outcome.clone(),
                reason: e.reason.clone(),
                facts,
            })]
        }
        // A tenant's scores, when the subject is the tenant.
        "tenant-benchmark"
            if e.tenant.as_deref() == Some(subject)
                && (tenant == "default" || tenant == subject) =>
        {
            e.details["scores"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    Some(Record::Score(ScoreRecord {
                        id: format!("{}/{}", e.action_id, s.get("profile")?.as_str()?),
                        at,
                        profile: s.get("profile")?.as_str()?.to_string(),
                        score: s.get("score")?.as_f64()?,
                        explanation: json!({"version": s.get("version")}),
                    }))
                })
                .collect()
        }
        // The steps of a safety action whose descriptor names the subject
        // (not a simulation: it kept nothing).
        "safety-workflows"
            if mine
                && e.details.get("data_subject").and_then(Value::as_str) == Some(subject)
                && e.details.get("simulate") != Some(&Value::Bool(true)) =>
        {
            vec![Record::Approval(ApprovalRecord {
                id: e.action_id.clone(),
                at,
                action: e
                    .details
                    .get("step")
                    .and_then(str_of)
                    .unwrap_or_else(|| e.subject.clone()),
                state: e
                    .details
                    .get("state")
                    .and_then(str_of)
                    .unwrap_or_else(|| e.outcome.clone()),
                approvers: vec![e.actor.clone()],
                reason: e.reason.clone(),
            })]
        }
        _ => Vec::new(),
    }
}

/// The audit log's records about `subject` in `[from, to)`, in (`at`,
/// `id`) order, a page at a time; a store error ends the stream and is
/// kept in `failed`.
fn audit_records<'s>(
    store: &'s Store,
    tenant: &'s str,
    subject: &'s str,
    window: Window,
    failed: &'s Mutex<Option<String>>,
) -> impl Iterator<Item = Record> + 's {
    const PAGE: usize = 1000;
    let ts = |ms: i64| tenet_runtime::clock::Timestamp::from_millis(ms).rfc3339();
    let (from, to) = (ts(window.from), ts(window.to));
    let mut after: Option<(String, i64)> = None;
    let mut done = false;
    // Records of one millisecond are sorted by id before they go out.
    let mut ready: VecDeque<Record> = VecDeque::new();
    let mut group: Vec<Record> = Vec::new();
    std::iter::from_fn(move || loop {
        if let Some(r) = ready.pop_front() {
            return Some(r);
        }
        if done {
            if group.is_empty() {
                return None;
            }
            tenet_rtx_export::engine::sort(&mut group);
            ready.extend(group.drain(..));
            continue;
        }
        let page = match store.audit_window(
            &from,
            &to,
            after.as_ref().map(|(a, i)| (a.as_str(), *i)),
            PAGE,
        ) {
            Ok(p) => p,
            Err(e) => {
                if let Ok(mut f) = failed.lock() {
                    *f = Some(format!("reading the audit log: {e}"));
                }
                done = true;
                group.clear();
                return None;
            }
        };
        if page.len() < PAGE {
            done = true;
        }
        if let Some(last) = page.last() {
            after = Some((last.at.clone(), last.id));
        }
        for e in &page {
            for r in from_audit(e, tenant, subject) {
                if group.first().is_some_and(|g| g.at() != r.at()) {
                    tenet_rtx_export::engine::sort(&mut group);
                    ready.extend(group.drain(..));
                }
                group.push(r);
            }
        }
    })
}

/// Makes export `id`'s bundle and keeps it (or why not). Deterministic:
/// made twice, it is the same bytes, and only the first is kept.
pub fn make(state: &AppState, tenant: &str, id: &str) {
    let Some(signer) = state.rtx.signer.as_ref() else {
        return;
    };
    let loaded = state.bundle.load_full();
    let mut store = match rs::open(&state.config.store) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(export = id, "rtx-export: cannot open the store: {e}");
            return;
        }
    };
    let export = match rs::export_unlogged(&store, tenant, id) {
        Ok(Some(e)) => e,
        _ => return,
    };
    if export.state != tenet_rtx_export::model::ExportState::Pending {
        return;
    }
    let outcome = (|| -> Result<(Vec<u8>, tenet_rtx_export::sign::Envelope), String> {
        let pack = tenet_rtx_export::pack(&loaded.rules)
            .map_err(|e| format!("no rtx_export pack: {e:?}"))?;
        let req = &export.request;
        // Nothing after the snapshot: the same snapshot makes the same bytes.
        let window = Window {
            from: req.window.from,
            to: req.window.to.min(export.snapshot_at + 1),
        };
        let failed = Mutex::new(None);
        let access =
            rs::access_log(&store, tenant, &req.subject, window).map_err(|e| e.to_string())?;
        let evidence: Vec<Record> = rs::evidence_for(&store, tenant, &req.subject, window)
            .map(|r| r.map(Record::Evidence))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let sources: Vec<Box<dyn Iterator<Item = Record> + '_>> = vec![
            Box::new(audit_records(&store, tenant, &req.subject, window, &failed)),
            Box::new(evidence.into_iter()),
            Box::new(access.into_iter().map(Record::Access)),
        ];
        let records = tenet_rtx_export::engine::merge(sources);
        let (out, made) = tenet_rtx_export::engine::make(
            Vec::new(),
            pack,
            signer,
            &export,
            records,
            state.config.rtx.public_url.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(f) = failed.lock().ok().and_then(|f| f.clone()) {
            return Err(f);
        }
        Ok((out, made.envelope))
    })();
    let now = now_ms();
    let r = match outcome {
        Ok((bytes, envelope)) => rs::complete_export(&mut store, tenant, id, bytes, &envelope, now),
        Err(why) => rs::fail_export(&mut store, tenant, id, &why, now),
    };
    if let Err(e) = r {
        tracing::debug!(export = id, "rtx-export: the export was not changed: {e}");
    }
}

/// The `rtx-export.sweep`: makes the exports a restart left pending.
pub fn sweep(state: &AppState) -> Result<u64, StoreError> {
    if state.rtx.signer.is_none() {
        return Ok(0);
    }
    let pending = rs::pending(&state.rtx.store(), 100)?;
    let n = pending.len() as u64;
    for (tenant, id) in pending {
        make(state, &tenant, &id);
    }
    Ok(n)
}

/// Why an export is read (logged with the read).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Why it is read, for the access log.
    #[param(max_length = 200)]
    purpose: Option<String>,
}

async fn read(
    state: &Arc<AppState>,
    ctx: &RequestCtx,
    id: &str,
    action: AccessAction,
    purpose: Option<String>,
    with_bundle: bool,
) -> Result<(Export, Option<rs::Artifact>), Problem> {
    let tenant = tenant(ctx)?;
    if purpose.as_ref().is_some_and(|p| p.chars().count() > 200) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Query",
            "`purpose` is longer than 200 characters",
        ));
    }
    let access = Access {
        actor: ctx.actor(),
        action,
        purpose,
    };
    let (st, id2) = (Arc::clone(state), id.to_string());
    let r = tokio::task::spawn_blocking(move || {
        let mut store = st.rtx.store();
        if with_bundle {
            rs::export_with_bundle(&mut store, &tenant, &id2, &access, now_ms())
        } else {
            rs::export(&mut store, &tenant, &id2, &access, now_ms()).map(|e| e.map(|e| (e, None)))
        }
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    r.ok_or_else(|| not_found(id))
}

/// Which exports a listing shows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only the exports about this data subject.
    #[param(min_length = 1, max_length = 512)]
    subject: Option<String>,
    /// Only the exports in this state.
    #[param(pattern = "^(pending|ready|failed|revoked)$")]
    state: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Why they are listed, for the access log.
    #[param(max_length = 200)]
    purpose: Option<String>,
}

/// The tenant's exports, newest first. Each export listed is an access
/// (`list`) in its log, as a read of its status is.
#[utoipa::path(
    get, path = "/v1/exports", tag = "rtx-export",
    params(ListParams),
    responses(
        (status = 200, description = "`{exports: [...]}`: each as `GET /v1/exports/{id}` answers it, newest first; every one listed is access-logged", body = Object),
        (status = 400, description = "A malformed query string, an unknown state or a limit out of 1..=1000", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<ListParams>,
) -> Result<Response, Problem> {
    use tenet_rtx_export::model::ExportState;
    let tenant = tenant(&ctx)?;
    let bad = |m: String| Problem::new(StatusCode::BAD_REQUEST, "Invalid Query", m);
    let all = [
        ExportState::Pending,
        ExportState::Ready,
        ExportState::Failed,
        ExportState::Revoked,
    ];
    let state_filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(all.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            bad(format!(
                "`{s}` is not an export state (pending, ready, failed, revoked)"
            ))
        })?),
    };
    let limit = super::limit_param(q.limit, 50, 1000)?;
    if q.subject
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 512)
    {
        return Err(bad("`subject` must be 1 to 512 characters".into()));
    }
    if q.purpose.as_ref().is_some_and(|p| p.chars().count() > 200) {
        return Err(bad("`purpose` is longer than 200 characters".into()));
    }
    let filter = rs::ListFilter {
        subject: q.subject,
        state: state_filter,
    };
    let access = Access {
        actor: ctx.actor(),
        action: AccessAction::List,
        purpose: q.purpose,
    };
    let st = Arc::clone(&state);
    let exports = tokio::task::spawn_blocking(move || {
        rs::list(
            &mut st.rtx.store(),
            &tenant,
            &filter,
            limit,
            &access,
            now_ms(),
        )
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(
        &json!({"exports": exports.iter().map(|e| view(&state, e)).collect::<Vec<_>>()}),
    ))
}

/// An export's status: pending, ready, failed or revoked, in one sentence.
#[utoipa::path(
    get, path = "/v1/exports/{id}", tag = "rtx-export",
    params(("id" = String, Path, description = "The export's id", pattern = "^[A-Za-z0-9_.-]{1,100}$"), ReadParams),
    responses(
        (status = 200, description = "The export: `state`, `status` (one sentence), `sha256`, `legal_hold`, `retained`, `revoked_at`, `links`; what `tenet rtx verify --status` reads. The read is access-logged.", body = Object),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such export (in this tenant)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn status(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<ReadParams>,
) -> Result<Response, Problem> {
    let (e, _) = read(&state, &ctx, &id, AccessAction::Read, q.purpose, false).await?;
    Ok(json_response(&view(&state, &e)))
}

/// The signed bundle: the `.rtx` file (the DSSE envelope, then the
/// canonical bundle, one JSON line each).
#[utoipa::path(
    get, path = "/v1/exports/{id}/bundle", tag = "rtx-export",
    params(("id" = String, Path, description = "The export's id", pattern = "^[A-Za-z0-9_.-]{1,100}$"), ReadParams),
    responses(
        (status = 200, description = "The `.rtx` file (`application/vnd.tenet.rtx`); the read is access-logged", content_type = "application/vnd.tenet.rtx"),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such export, or its bundle was scrubbed (revoked)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Not ready (pending or failed)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn bundle(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<ReadParams>,
) -> Result<Response, Problem> {
    let (e, artifact) = read(&state, &ctx, &id, AccessAction::Download, q.purpose, true).await?;
    let Some(a) = artifact else {
        // Scrubbed: not found any more (404, not 410: a scrubbed bundle is
        // as absent as one never made).
        let (code, title) = if e.state == tenet_rtx_export::model::ExportState::Revoked {
            (StatusCode::NOT_FOUND, "Gone")
        } else {
            (StatusCode::CONFLICT, "Not Ready")
        };
        return Err(Problem::new(code, title, e.status_sentence()));
    };
    let file = tenet_rtx_export::verify::write_file(Vec::new(), &a.envelope, a.bundle.as_slice())
        .map_err(store_failed)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.tenet.rtx"),
        )],
        file,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReasonBody {
    /// Why (kept with the change).
    #[schema(min_length = 1, max_length = 500)]
    reason: Option<String>,
}

/// Why an export is held.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct HoldBody {
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

fn reason_of(body: &Bytes, required: bool) -> Result<Option<String>, Problem> {
    let r: Option<String> = if body.is_empty() {
        None
    } else {
        json_body::<Option<ReasonBody>>(body, "{\"reason\"?: string}")?.and_then(|b| b.reason)
    };
    match r {
        Some(r) if r.is_empty() || r.chars().count() > 500 => {
            Err(invalid("`reason` must be 1 to 500 characters".into()))
        }
        None if required => Err(invalid("a legal hold needs a `reason`".into())),
        r => Ok(r),
    }
}

/// Revoke an export: its bundle is scrubbed, unless a legal hold keeps it
/// (revoked and retained, and it says so).
#[utoipa::path(
    post, path = "/v1/exports/{id}/revoke", tag = "rtx-export",
    params(("id" = String, Path, description = "The export's id", pattern = "^[A-Za-z0-9_.-]{1,100}$")),
    request_body(content = Option<ReasonBody>, description = "Optional"),
    responses(
        (status = 200, description = "The export, revoked (`retained: true` under a legal hold)", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such export", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A body of the wrong shape", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let tenant = tenant(&ctx)?;
    let reason = reason_of(&body, false)?;
    let (st, id2, actor) = (Arc::clone(&state), id.clone(), ctx.actor());
    let e = tokio::task::spawn_blocking(move || {
        rs::revoke(
            &mut st.rtx.store(),
            &tenant,
            &id2,
            &actor,
            reason.as_deref(),
            now_ms(),
        )
    })
    .await
    .map_err(store_failed)?
    .map_err(|e| change_failed(&id, e))?;
    Ok(json_response(&view(&state, &e)))
}

/// Put an export under a legal hold: revoking it then keeps its bundle.
#[utoipa::path(
    put, path = "/v1/exports/{id}/legal-hold", tag = "rtx-export",
    params(("id" = String, Path, description = "The export's id", pattern = "^[A-Za-z0-9_.-]{1,100}$")),
    request_body = HoldBody,
    responses(
        (status = 200, description = "The export, held", body = Object),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such export", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The export cannot be held now", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "No `reason`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn hold(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let tenant = tenant(&ctx)?;
    let reason = reason_of(&body, true)?.unwrap_or_default();
    let (st, id2, actor) = (Arc::clone(&state), id.clone(), ctx.actor());
    let e = tokio::task::spawn_blocking(move || {
        let now = now_ms();
        let h = LegalHold {
            reason,
            by: actor.clone(),
            at: now,
        };
        rs::set_legal_hold(&mut st.rtx.store(), &tenant, &id2, Some(h), &actor, now)
    })
    .await
    .map_err(store_failed)?
    .map_err(|e| change_failed(&id, e))?;
    Ok(json_response(&view(&state, &e)))
}

/// Release a legal hold; a revoked export's bundle is scrubbed with it.
#[utoipa::path(
    delete, path = "/v1/exports/{id}/legal-hold", tag = "rtx-export",
    params(("id" = String, Path, description = "The export's id", pattern = "^[A-Za-z0-9_.-]{1,100}$")),
    responses(
        (status = 200, description = "The export, released (scrubbed if it was revoked)", body = Object),
        (status = 404, description = "No such export", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The export cannot be released now", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn release(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let tenant = tenant(&ctx)?;
    let (st, id2, actor) = (Arc::clone(&state), id.clone(), ctx.actor());
    let e = tokio::task::spawn_blocking(move || {
        rs::set_legal_hold(&mut st.rtx.store(), &tenant, &id2, None, &actor, now_ms())
    })
    .await
    .map_err(store_failed)?
    .map_err(|e| change_failed(&id, e))?;
    Ok(json_response(&view(&state, &e)))
}
