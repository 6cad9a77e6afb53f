//! `GET /v1/audit`: the audit log, newest first.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tenet_store::{AuditEvent, AuditQuery};
use utoipa::{IntoParams, ToSchema};

/// The most events one answer holds.
pub const MAX_LIMIT: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events at or after this time (RFC 3339; a date `YYYY-MM-DD`
    /// is also taken, as midnight UTC).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only the event with this action id.
    pub action_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One audit event, in the audit envelope.
#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    pub action_id: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What recorded it: `server:evaluate`, `server:reload`, `hook:pre-commit`.
    pub source: String,
    pub subject: String,
    pub actor: String,
    pub scope: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub latency_ms: u64,
    pub tenant: Option<String>,
    /// The bundle hash of the rules that decided.
    pub bundle: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditRecord {
    fn from(e: AuditEvent) -> Self {
        AuditRecord {
            action_id: e.action_id,
            at: e.at,
            source: e.source,
            subject: e.subject,
            actor: e.actor,
            scope: e.scope,
            outcome: e.outcome,
            reason: e.reason,
            latency_ms: e.latency_ms,
            tenant: e.tenant,
            bundle: e.bundle,
            details: e.details,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
}

/// Audit events, newest first.
#[utoipa::path(
    get, path = "/v1/audit", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "A bad query parameter", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn audit(
    State(state): State<Arc<AppState>>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, Problem> {
    let bad = |detail: String| Problem::new(StatusCode::BAD_REQUEST, "Bad Query", detail);
    let Query(p) = params.map_err(|e| bad(e.body_text()))?;
    let since = match p.since {
        None => None,
        Some(s) => {
            let t = tenet_runtime::dsl::window::parse_time(&s)
                .map_err(|e| bad(format!("`since`: {e}")))?;
            Some(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        }
    };
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("`limit` must be 1 to {MAX_LIMIT}")));
    }
    let events = state
        .audit
        .query(AuditQuery {
            since,
            action_id: p.action_id,
            scope: None,
            limit,
        })
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "Audit Read Failed", e))?;
    Ok(Json(AuditPage {
        events: events.into_iter().map(AuditRecord::from).collect(),
    }))
}
