//! `/v1/meta-incidents`: the list, and resolving one with a note.

use super::sweep::incident_event;
use super::*;
use crate::idempotency::Mutation;

/// A meta-incident as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentBody {
    /// `true` on the answer of a `?dry_run=true` resolve: the incident as
    /// it would be; nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    pub id: String,
    pub watcher: String,
    pub tenant: Option<String>,
    pub severity: String,
    /// `open` or `resolved`.
    pub state: String,
    pub opened_at: String,
    pub down_at: String,
    pub paged_at: Option<String>,
    pub pages: u32,
    pub muted_by: Option<String>,
    /// Watchers suppressed under it, tracked here and not paged.
    pub suppressed: Vec<String>,
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
    pub why: String,
}

fn incident_body(i: &Incident) -> IncidentBody {
    IncidentBody {
        dry_run: None,
        id: i.id.clone(),
        watcher: i.watcher.clone(),
        tenant: (!i.tenant.is_empty()).then(|| i.tenant.clone()),
        severity: i.severity.clone(),
        state: i.state.clone(),
        opened_at: render::rfc3339(i.opened_at),
        down_at: render::rfc3339(i.down_at),
        paged_at: i.paged_at.map(render::rfc3339),
        pages: i.pages,
        muted_by: i.muted_by.clone(),
        suppressed: i.suppressed.clone(),
        resolved_at: i.resolved_at.map(render::rfc3339),
        resolution: i.resolution.clone(),
        why: i.why.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<IncidentBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// `open` or `all` (default `all`).
    #[param(inline)]
    state: Option<IncidentState>,
    /// Only this tenant's (a tenant-bound caller sees only its own).
    tenant: Option<String>,
    /// At most this many, newest first (default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
}

/// A resolution note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// What happened and what was done, for the incident's history.
    #[schema(pattern = "\\S", max_length = 10000)]
    note: String,
}

/// Meta-incidents, newest first.
#[utoipa::path(
    get, path = "/v1/meta-incidents", tag = "meta-monitor",
    params(IncidentParams),
    responses(
        (status = 200, description = "The incidents, with the watchers suppressed under each", body = IncidentList),
        (status = 400, description = "A malformed query string, or an unknown `state`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Another tenant than the caller's", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn incidents(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<IncidentParams>,
) -> Result<Response, Problem> {
    let only_open = matches!(q.state, Some(IncidentState::Open));
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    let tenant = match (&bound, q.tenant) {
        (Some(_), t) => Some(tenant_for(&ctx, t)?),
        (None, t) => t,
    };
    let limit = crate::routes::limit_param(q.limit, 100, 10_000)?;
    let st = Arc::clone(&state);
    let list = tokio::task::spawn_blocking(move || {
        ms::incidents(&st.monitor.store(), only_open, tenant.as_deref(), limit)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(&IncidentList {
        incidents: list.iter().map(incident_body).collect(),
    }))
}

/// Resolve a meta-incident with a note, once its watcher is no longer
/// down.
#[utoipa::path(
    post, path = "/v1/meta-incidents/{id}/resolve", tag = "meta-monitor",
    params(("id" = String, Path, description = "The incident"), DryRunParam),
    request_body = ResolveBody,
    responses(
        (status = 200, description = "Resolved, with the note", body = IncidentBody),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such incident (or another tenant's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved, or its watcher is still down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "An empty note", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn resolve(Path(id): Path<String>, m: Mutation) -> Result<Response, Problem> {
    m.run(|s, c, b, d| resolve_now(s, c, id, b, d)).await
}

async fn resolve_now(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let b: ResolveBody = json_body(&body, "{\"note\": string}")?;
    if b.note.trim().is_empty() {
        return Err(invalid("`note` is empty: say what happened".into()));
    }
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no meta-incident `{id}`"),
        )
    };
    let st = Arc::clone(&state);
    let key = id.clone();
    let found = tokio::task::spawn_blocking(move || ms::incident(&st.monitor.store(), &key))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    let bound = ctx.identity.as_ref().and_then(|i| i.tenant.clone());
    let Some(i) = found.filter(|i| bound.as_ref().is_none_or(|b| &i.tenant == b)) else {
        return Err(not_found());
    };
    if i.state != "open" {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("meta-incident `{id}` is already resolved"),
        ));
    }
    let now = now_ms();
    let (bundle, w) = watchers(&state)?;
    let st = Arc::clone(&state);
    let all = tokio::task::spawn_blocking(move || statuses(&st, &w, now))
        .await
        .map_err(store_failed)??;
    if let Some(s) = all
        .iter()
        .find(|s| s.watcher == i.watcher && s.tenant == i.tenant)
    {
        if s.state == WState::Down {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "watcher `{}` is still down ({}); pause it if the silence is expected",
                    i.watcher, s.why
                ),
            ));
        }
    }
    let mut next = i.clone();
    next.state = "resolved".into();
    next.resolved_at = Some(now);
    next.resolution = Some(b.note.trim().to_string());
    next.version += 1;
    if dry_run {
        let mut body = incident_body(&next);
        body.dry_run = Some(true);
        return Ok(json_response(&body));
    }
    let fp = bundle.fingerprint.clone();
    let actor = ctx.actor();
    let st = Arc::clone(&state);
    let n2 = next.clone();
    let written = tokio::task::spawn_blocking(move || {
        ms::write_incidents(&mut st.monitor.store(), &[], &[n2], &|i, new| {
            let mut e = incident_event(i, new, &fp);
            e.actor = actor.clone();
            e
        })
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    if written.is_empty() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("meta-incident `{id}` changed meanwhile; read it again"),
        ));
    }
    Ok(json_response(&incident_body(&next)))
}
