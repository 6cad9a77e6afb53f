//! One tenant's signals, score, factors, history and score diff.

use super::*;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use tenet_tenant_benchmark::engine;
use tenet_tenant_benchmark::model::Evaluation;
use tenet_tenant_benchmark::store::{
    self as bs, Change, Query as EvalQuery, SignalRow, UpdateError,
};

/// How far ahead of the server's clock a signal's `at` may be.
const MAX_AHEAD: Ms = 5 * 60 * 1000;

/// Checks and converts the signals of a request; an error names the
/// signal by its index. A signal measured more than 5 minutes ahead of
/// the server's clock is ignored (clock skew), and said so.
fn rows(list: Vec<SignalBody>, now: Ms) -> Result<(Vec<SignalRow>, Vec<IgnoredSignal>), Problem> {
    let mut out = Vec::with_capacity(list.len());
    let mut ignored = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        let bad = |why: String| {
            invalid(format!("signal {i}: {why}; nothing was recorded")).with("index", json!(i))
        };
        let name_ok = !s.name.is_empty()
            && s.name.len() <= 200
            && s.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !name_ok {
            return Err(bad(format!(
                "`name` `{}` must be 1 to 200 letters, digits, `_`, `.` or `-`",
                s.name
            )));
        }
        match &s.value {
            Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => {}
            // No measurement now: a `carry_forward` factor carries its last value.
            Value::Null | Value::Bool(_) => {}
            Value::String(t) if t.chars().count() <= 1000 => {}
            other => {
                return Err(bad(format!(
                    "`value` of `{}` must be a number, a boolean, a string of at most 1000 characters or null (no measurement), found {other}",
                    s.name
                )))
            }
        }
        let at = match &s.at {
            // When it is recorded (the evaluation's time, under the lock).
            None => None,
            Some(t) => Some(
                tenet_tenant_benchmark::time::parse(t).map_err(|e| bad(format!("`at`: {e}")))?,
            ),
        };
        if let Some(at) = at.filter(|at| *at > now + MAX_AHEAD) {
            ignored.push(IgnoredSignal {
                index: i,
                why: format!(
                    "`at` {} is more than 5 minutes ahead of the server's clock (clock skew): ignored",
                    tenet_tenant_benchmark::time::rfc3339(at)
                ),
            });
            continue;
        }
        if s.source.as_ref().is_some_and(|l| l.chars().count() > 2000) {
            return Err(bad("`source` is longer than 2000 characters".into()));
        }
        out.push(SignalRow {
            name: s.name,
            value: s.value,
            at,
            source: s.source,
        });
    }
    Ok((out, ignored))
}

/// Record a tenant's signals (and facts), and evaluate every profile with them.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/signals", tag = "tenant-benchmark",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), DryRunParam),
    request_body = SignalsBody,
    responses(
        (status = 200, description = "Recorded and evaluated in one transaction with its audit events", body = SignalsAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "A request with this `Idempotency-Key` is still running", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Another tenant than the caller's, or an empty request for a tenant with no data", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A signal is malformed, or the `Idempotency-Key` was used with another body: nothing recorded", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn post_signals(
    Path(id): Path<String>,
    m: crate::idempotency::Mutation,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (state, ctx, named) = (Arc::clone(&m.state), m.ctx.clone(), id.clone());
    let r = match tenant_path(&ctx, &id) {
        Ok(()) => m.run(|s, c, b, d| record_signals(s, c, id, b, d)).await,
        Err(p) => Err(p),
    };
    refused(&state, &ctx, "signals", &named, started, r).await
}

async fn record_signals(
    state: Arc<AppState>,
    ctx: RequestCtx,
    id: String,
    body: Bytes,
    dry_run: bool,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let b: SignalsBody = json_body(
        &body,
        "{\"facts\"?: {...}, \"signals\": [{\"name\", \"value\", \"at\"?, \"source\"?}]}",
    )?;
    if b.signals.is_empty() && b.facts.as_ref().is_none_or(|f| f.is_empty()) {
        // Nothing to record: evaluate a known tenant again now; an
        // unknown one has nothing to evaluate.
        let st = Arc::clone(&state);
        let t = id.clone();
        let known = tokio::task::spawn_blocking(move || bs::record(&st.benchmark.reader(), &t))
            .await
            .map_err(store_failed)?
            .map_err(store_failed)?;
        if known.is_none() {
            return Err(no_tenant(&id));
        }
    }
    if b.signals.len() > MAX_SIGNALS {
        return Err(invalid(format!(
            "{} signals in one request; send at most {MAX_SIGNALS}",
            b.signals.len()
        )));
    }
    let now = now_ms();
    let (signals, ignored) = rows(b.signals, now)?;
    let facts = b.facts;
    let (bundle, profiles) = super::profiles(&state)?;
    let st = Arc::clone(&state);
    let c2 = ctx.clone();
    let tenant = id.clone();
    let n = signals.len();
    let result = tokio::task::spawn_blocking(move || {
        let fp = bundle.fingerprint.clone();
        bs::update(&mut st.benchmark.store(), &tenant, signals, now, move |record, now| {
            if let Some(f) = facts {
                for (k, v) in f {
                    if v.is_null() {
                        record.facts.remove(&k);
                    } else {
                        record.facts.insert(k, v);
                    }
                }
            }
            let evals = evaluate_all(&bundle, &profiles, record, now, false)?;
            let mut audit = vec![event(
                &c2,
                "signals".into(),
                "recorded",
                json!({"signals": n, "scores": evals.iter().map(|e| json!({"profile": e.score.profile, "version": e.score.version, "score": e.score.score})).collect::<Vec<_>>()}),
                Some(&record.tenant),
                &fp,
                started,
            )];
            audit.extend(transition_events(&c2, &evals, &fp, started));
            let out: Vec<Scored> = evals.iter().map(scored).collect();
            Ok(Change {
                evaluations: evals,
                audit,
                write: true,
                dry_run,
                out,
            })
        })
    })
    .await
    .map_err(store_failed)?;
    match result {
        Ok(u) => {
            state
                .metrics
                .benchmark_signals(u.fresh as u64, u.duplicates as u64);
            Ok(json_response(&SignalsAnswer {
                tenant: id,
                accepted: u.fresh,
                duplicates: u.duplicates,
                ignored,
                scores: u.out,
                dry_run,
            }))
        }
        Err(UpdateError::Refused(why)) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Tenant-Benchmark Pack Unusable",
            format!("{why}; nothing was recorded"),
        )),
        Err(UpdateError::Store(e)) => Err(store_failed(e)),
    }
}

/// Stored evaluations, off the async workers.
async fn read(state: &Arc<AppState>, q: EvalQuery) -> Result<Vec<Evaluation>, Problem> {
    let st = Arc::clone(state);
    tokio::task::spawn_blocking(move || bs::evaluations(&st.benchmark.reader(), &q))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)
}

/// The latest evaluation of `tenant` on `profile` (any version; at one
/// time the highest), or 404.
async fn latest(state: &Arc<AppState>, tenant: &str, profile: &str) -> Result<Evaluation, Problem> {
    read(
        state,
        EvalQuery {
            tenant: tenant.into(),
            profile: profile.into(),
            newest_first: true,
            limit: 1,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| no_tenant(tenant))
}

/// A tenant's latest score on a profile, with every factor's contribution.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/score", tag = "tenant-benchmark",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), ProfileParam),
    responses(
        (status = 200, description = "The latest evaluation: score (null when blocked), coverage, factors, badges", body = Evaluation),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such profile, or no evaluation of this tenant (or another tenant than the caller's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn get_score(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<ProfileParam>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let (_, profiles) = super::profiles(&state)?;
    profile_named(&profiles, &q.profile)?;
    // The stored JSON is the answer: no parse, no serialization.
    let st = Arc::clone(&state);
    let query = EvalQuery {
        tenant: id.clone(),
        profile: q.profile,
        newest_first: true,
        limit: 1,
        ..Default::default()
    };
    let text =
        tokio::task::spawn_blocking(move || bs::evaluation_texts(&st.benchmark.reader(), &query))
            .await
            .map_err(store_failed)?
            .map_err(store_failed)?
            .into_iter()
            .next()
            .ok_or_else(|| no_tenant(&id))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response())
}

/// A tenant's factors in its latest evaluation, per profile.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/factors", tag = "tenant-benchmark",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), OptProfileParam),
    responses(
        (status = 200, description = "Each factor's raw value, normalised value, weight, points, share, source link and age", body = FactorsAnswer),
        (status = 400, description = "A malformed query string", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such profile, or no evaluation of this tenant (or another tenant than the caller's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn get_factors(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<OptProfileParam>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let (_, profiles) = super::profiles(&state)?;
    let names: Vec<String> = match &q.profile {
        Some(p) => {
            profile_named(&profiles, p)?;
            vec![p.clone()]
        }
        None => profiles.by_name.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for p in names {
        match latest(&state, &id, &p).await {
            Ok(e) => out.push(ProfileFactors {
                profile: e.score.profile,
                version: e.score.version,
                at: tenet_tenant_benchmark::time::rfc3339(e.at),
                score: e.score.score,
                coverage: e.score.coverage,
                factors: e.score.factors,
            }),
            Err(p) if p.status == StatusCode::NOT_FOUND => {}
            Err(p) => return Err(p),
        }
    }
    if out.is_empty() {
        return Err(no_tenant(&id));
    }
    Ok(json_response(&FactorsAnswer {
        tenant: id,
        profiles: out,
    }))
}

/// A tenant's score over time on one profile version: JSON, or an SVG chart.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/score/history", tag = "tenant-benchmark",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), HistoryParams),
    responses(
        (status = 200, description = "The evaluations, oldest first (`format=svg`: an SVG chart)", content(
            (HistoryAnswer = "application/json"),
            (String = "image/svg+xml"),
        )),
        (status = 400, description = "A malformed query string or a bad time", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such profile, or no evaluation of this tenant (or another tenant than the caller's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn get_history(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<HistoryParams>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let (_, profiles) = super::profiles(&state)?;
    profile_named(&profiles, &q.profile)?;
    // `from` after `to` is an empty range.
    let from = time_param("from", &q.from)?;
    let to = time_param("to", &q.to)?;
    let limit = crate::routes::limit_param(q.limit, 1000, 10_000)?;
    let Some(mut profile) = profiles.get(&q.profile).cloned() else {
        return Err(no_tenant(&id));
    };
    let version = q.version.unwrap_or(profile.version);
    if version < 1 {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Query",
            format!("`version` {version} is not a profile version (1 or more)"),
        ));
    }
    // The chart is titled with the version it draws.
    profile.version = version;
    // The most recent `limit`, then oldest first.
    let mut evals = read(
        &state,
        EvalQuery {
            tenant: id.clone(),
            profile: q.profile.clone(),
            version: Some(version),
            from,
            to,
            newest_first: true,
            limit: limit as usize,
        },
    )
    .await?;
    evals.reverse();
    if evals.is_empty() {
        // Tell a tenant never scored apart from an empty range.
        latest(&state, &id, &q.profile).await?;
    }
    if q.format.unwrap_or_default() == HistoryFormat::Svg {
        let svg = tenet_tenant_benchmark::render::history_svg(&id, &profile, &evals);
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            )],
            svg,
        )
            .into_response());
    }
    Ok(json_response(&HistoryAnswer {
        tenant: id,
        profile: q.profile,
        version,
        points: evals
            .into_iter()
            .map(|e| HistoryPoint {
                at: tenet_tenant_benchmark::time::rfc3339(e.at),
                score: e.score.score,
                coverage: e.score.coverage,
                badge: e.badge,
                transitions: e.transitions,
            })
            .collect(),
    }))
}

/// "Why did my score change?": two evaluations, factor by factor.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/score/diff", tag = "tenant-benchmark",
    params(("id" = String, Path, description = "The tenant", pattern = "^[A-Za-z0-9_.-]{1,128}$"), DiffParams),
    responses(
        (status = 200, description = "Per-factor deltas, largest first, and the badges earned or lost between", body = tenet_tenant_benchmark::engine::ScoreDiff),
        (status = 400, description = "A malformed query string or a bad time", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such profile, no evaluation at or before a time, or no evaluation of this tenant (or another tenant than the caller's)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn get_diff(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    Query(q): Query<DiffParams>,
) -> Result<Response, Problem> {
    tenant_path(&ctx, &id)?;
    let (_, profiles) = super::profiles(&state)?;
    profile_named(&profiles, &q.profile)?;
    // `from` after `to` compares backwards.
    let from = time_param("from", &q.from)?;
    let to = time_param("to", &q.to)?;
    let at_or_before = |t: Option<Ms>, limit: usize| EvalQuery {
        tenant: id.clone(),
        profile: q.profile.clone(),
        to: t,
        newest_first: true,
        limit,
        ..Default::default()
    };
    let mut newest = read(&state, at_or_before(to, 1)).await?;
    if newest.is_empty() {
        latest(&state, &id, &q.profile).await?;
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!(
                "no evaluation of `{id}` on `{}` at or before `to`",
                q.profile
            ),
        ));
    }
    let to_eval = newest.remove(0);
    let from_eval = match from {
        Some(f) => read(&state, at_or_before(Some(f), 1))
            .await?
            .into_iter()
            .next(),
        // The one before `to`'s, of its version (a backfill keeps another
        // version's at the same times).
        None => read(
            &state,
            EvalQuery {
                version: Some(to_eval.score.version),
                ..at_or_before(Some(to_eval.at - 1), 1)
            },
        )
        .await?
        .into_iter()
        .next(),
    };
    let Some(from_eval) = from_eval else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!(
                "no evaluation of `{id}` on `{}` {} to compare with",
                q.profile,
                if from.is_some() {
                    "at or before `from`"
                } else {
                    "before the latest"
                }
            ),
        ));
    };
    let between = read(
        &state,
        EvalQuery {
            tenant: id.clone(),
            profile: q.profile.clone(),
            version: Some(to_eval.score.version),
            from: Some(from_eval.at.min(to_eval.at)),
            to: Some(to_eval.at.max(from_eval.at)),
            // The 10,000 nearest `to`, in time order.
            newest_first: true,
            limit: 10_000,
        },
    )
    .await?
    .into_iter()
    .rev()
    .collect::<Vec<_>>();
    Ok(json_response(&engine::diff(&from_eval, &to_eval, &between)))
}
