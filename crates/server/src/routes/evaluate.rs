//! `POST /v1/evaluate`: one decision of one pack, audited before it is
//! answered.

use super::json_body;
use crate::access::RequestCtx;
use crate::clock::{now_rfc3339, today};
use crate::metrics::EvalLabels;
use crate::problem::Problem;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as JsonValue};
use std::sync::Arc;
use std::time::Instant;
use tenet_runtime::decision::{self, DecideOptions};
use tenet_store::AuditEvent;
use utoipa::ToSchema;

/// What to decide.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The pack to decide with.
    #[schema(example = "safety")]
    pub pack: String,
    /// The input: the pack's input roots at the top level.
    // Read straight into the engine's values, with no JSON tree in between.
    #[serde(deserialize_with = "tenet_runtime::dsl::value::deserialize_object")]
    #[schema(value_type = Object, example = json!({"action": {"verb": "delete", "rows": 20000}}))]
    pub input: tenet_runtime::dsl::Value,
    /// The decision time, an RFC 3339 time (a date `YYYY-MM-DD` is also
    /// taken, as midnight UTC); default today (UTC).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub now: Option<String>,
    /// Report everything, block nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Include the per-condition trace.
    #[serde(default)]
    pub trace: bool,
    /// The person the decision is about (a data subject's id). When given,
    /// the audit event keeps it and the input the decision read, so a
    /// right-to-explanation export (`POST /v1/exports`) can explain it.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_.:@-]{1,200}$")]
    pub data_subject: Option<String>,
}

/// A decision, as `tenet eval` prints it, with the bundle it was made with.
/// (The full shape, with `matched[]`, `waived[]` and `trace[]`, is the
/// decision JSON of `docs/runtime.md`.)
#[derive(Serialize, ToSchema)]
pub struct DecisionBody {
    #[schema(example = "tenet.decision/v1")]
    pub schema: String,
    pub pack: String,
    pub version: String,
    /// The fingerprint of the bundle that decided.
    pub bundle: String,
    pub highest_risk: Option<String>,
    /// Whether the decision blocks the action.
    pub blocking: bool,
    pub dry_run: bool,
    /// The blocks that matched.
    pub matched: Vec<serde_json::Map<String, JsonValue>>,
    pub waived: Vec<serde_json::Map<String, JsonValue>>,
    pub inconclusive: Vec<String>,
    pub errors: Vec<serde_json::Map<String, JsonValue>>,
}

/// Decide an input with a pack.
#[utoipa::path(
    post, path = "/v1/evaluate", tag = "evaluate",
    request_body = EvaluateRequest,
    responses(
        (status = 200, description = "The decision; its audit event is durable. `x-tenet-action-id` names the event.", body = DecisionBody),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such pack", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape, or a bad `now`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 500, description = "The audit event could not be written; no decision is returned", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let req: EvaluateRequest = json_body(&body, "{\"pack\": string, \"input\": object}")?;
    tracing::Span::current().record("pack", req.pack.as_str());
    if let Some(n) = &req.now {
        if let Err(e) = tenet_runtime::dsl::window::parse_time(n) {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid Request",
                format!("`now`: {e}"),
            ));
        }
    }
    // Held for the whole decision: a reload never changes it under us.
    let bundle = state.bundle.load_full();
    let Some(pack) = bundle.rules.pack(&req.pack) else {
        let names: Vec<&str> = bundle.rules.packs.iter().map(|p| p.name.as_str()).collect();
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Unknown Pack",
            format!(
                "no pack named `{}`; packs are: {}",
                req.pack,
                names.join(", ")
            ),
        ));
    };
    let input = req.input;
    if let Some(ds) = &req.data_subject {
        if ds.is_empty()
            || ds.len() > 200
            || !ds
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:@-".contains(&b))
        {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid Request",
                format!("`data_subject` `{ds}` must be 1 to 200 letters, digits, `_`, `.`, `:`, `@` or `-`"),
            ));
        }
    }
    let opts = DecideOptions {
        trace: req.trace,
        now: Some(req.now.unwrap_or_else(today)),
        dry_run: req.dry_run,
    };
    let mut d = decision::decide(pack, &input, bundle.rules.scorer_list(), &opts);
    d.bundle = Some(bundle.fingerprint.clone());
    let latency_ms = started.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
    let outcome = if d.blocking {
        "blocked"
    } else if !d.matched.is_empty() {
        "flagged"
    } else {
        "allowed"
    };
    let reason = d.matched.first().map(|m| match &m.because {
        Some(b) => format!("{}: {b}", m.block),
        None => m.block.clone(),
    });
    let event = AuditEvent {
        id: 0,
        action_id: ctx.action_id.clone(),
        at: now_rfc3339(),
        source: "server:evaluate".into(),
        subject: d.pack.clone(),
        actor: ctx.actor(),
        scope: state.config.rules.describe(),
        outcome: outcome.into(),
        reason,
        latency_ms,
        details: {
            let mut details = json!({
                "version": d.version,
                "highest_risk": d.highest_risk,
                "matched": d.matched.iter().map(|m| m.block.as_str()).collect::<Vec<_>>(),
                "dry_run": d.dry_run,
            });
            if let Some(ds) = &req.data_subject {
                details["data_subject"] = json!(ds);
                details["input"] = input.to_json();
            }
            details
        },
        tenant: ctx.tenant.clone(),
        bundle: Some(bundle.fingerprint.clone()),
    };
    // Everything the answer needs is rendered now, while the decision is
    // in cache; the wait for the commit holds only the bytes.
    let answer = super::json_response(&d);
    let eval_labels = EvalLabels {
        pack: std::mem::take(&mut d.pack),
        outcome: outcome.into(),
    };
    drop((d, input, bundle));
    let written = state.audit.record(event).await;
    state
        .metrics
        .audit
        .get_or_create(&crate::metrics::ResultLabels {
            result: if written.is_ok() { "ok" } else { "failed" }.into(),
        })
        .inc();
    if let Err(why) = written {
        return Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Audit Write Failed",
            format!("the audit event could not be written, so no decision is returned: {why}"),
        ));
    }
    state.metrics.evaluations.get_or_create(&eval_labels).inc();
    Ok(answer)
}
