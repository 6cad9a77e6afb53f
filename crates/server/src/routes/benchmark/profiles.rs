//! The profiles of the serving pack, and the backfill of a profile's
//! history under its current version.

use super::*;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use tenet_runtime::dsl::value::format_duration;
use tenet_tenant_benchmark::engine;
use tenet_tenant_benchmark::profiles::{Distribution, Fallback, OutOfBounds};
use tenet_tenant_benchmark::store as bs;

/// The profiles of the serving `tenant_benchmark` pack: factors, weights, bounds, badges.
#[utoipa::path(
    get, path = "/v1/profiles", tag = "tenant-benchmark",
    responses(
        (status = 200, description = "Every profile with its version, factors and badges", body = ProfilesAnswer),
        (status = 503, description = "No usable `tenant_benchmark` pack", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn list_profiles(State(state): State<Arc<AppState>>) -> Result<Response, Problem> {
    let (bundle, profiles) = super::profiles(&state)?;
    let pack_version = tenet_tenant_benchmark::pack(&bundle.rules)
        .map(|p| p.version().to_string())
        .unwrap_or_default();
    let out = profiles
        .by_name
        .values()
        .map(|p| ProfileInfo {
            name: p.name.clone(),
            version: p.version,
            description: p.description.clone(),
            cap_share: p.cap_share,
            factors: p
                .factors
                .iter()
                .map(|f| FactorInfo {
                    name: f.name.clone(),
                    source: f.source.clone(),
                    weight: f.weight,
                    bounds: [f.lower, f.upper],
                    smaller_is_better: f.smaller_is_better,
                    distribution: match f.distribution {
                        Distribution::Linear => "linear",
                        Distribution::Logarithmic => "logarithmic",
                    }
                    .into(),
                    out_of_bounds: match f.out_of_bounds {
                        OutOfBounds::Clamp => "clamp",
                        OutOfBounds::Exclude => "exclude",
                        OutOfBounds::Error => "error",
                    }
                    .into(),
                    fallback: match f.fallback {
                        Fallback::ExcludeRenormalize => "exclude_renormalize",
                        Fallback::CountAsZero => "count_as_zero",
                        Fallback::CarryForward => "carry_forward",
                        Fallback::Block => "block",
                    }
                    .into(),
                    when: f.when.clone(),
                })
                .collect(),
            badges: p
                .badges
                .iter()
                .map(|b| BadgeInfo {
                    name: b.name.clone(),
                    rank: b.rank,
                    enter: b.enter,
                    exit: b.exit,
                    dwell: format_duration(b.dwell),
                    requires: b.requires.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(json_response(&ProfilesAnswer {
        pack_version,
        profiles: out,
    }))
}

/// Recompute every tenant's history of a profile under its serving version.
#[utoipa::path(
    post, path = "/v1/profiles/{name}/backfill", tag = "tenant-benchmark",
    params(("name" = String, Path, description = "A profile of the pack", pattern = "^[A-Za-z0-9_-]{1,100}$"), DryRunParam),
    request_body(content = Option<BackfillBody>, description = "Optional: only some tenants"),
    responses(
        (status = 200, description = "Each tenant's history recomputed in its own transaction, with an audit event", body = BackfillAnswer),
        (status = 400, description = "The body is not JSON", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "An identity bound to a tenant: backfill rewrites every tenant's history", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "A request with this `Idempotency-Key` is still running", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such profile", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The body is JSON of the wrong shape, or the `Idempotency-Key` was used with another body", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "No `tenant_benchmark` pack, or the store is down", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn backfill(
    Path(name): Path<String>,
    m: crate::idempotency::Mutation,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (state, ctx, named) = (Arc::clone(&m.state), m.ctx.clone(), name.clone());
    let r = m.run(|s, c, b, d| run_backfill(s, c, name, b, d)).await;
    refused(&state, &ctx, "backfill", &named, started, r).await
}

async fn run_backfill(
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
            format!("this identity is bound to tenant `{b}`; a backfill rewrites every tenant's history and is the platform's"),
        ));
    }
    let (bundle, profiles) = super::profiles(&state)?;
    profile_named(&profiles, &name)?;
    let b: BackfillBody = if body.iter().all(u8::is_ascii_whitespace) {
        BackfillBody::default()
    } else {
        json_body::<Option<BackfillBody>>(&body, "{\"tenants\"?: [\"tenant\"...]}")?
            .unwrap_or_default()
    };
    let st = Arc::clone(&state);
    let profile = profiles
        .get(&name)
        .cloned()
        .ok_or_else(|| no_tenant(&name))?;
    let version = profile.version;
    let answer = tokio::task::spawn_blocking(move || -> Result<BackfillAnswer, tenet_store::StoreError> {
        let tenants = match b.tenants {
            Some(t) => t,
            None => bs::tenants(&st.benchmark.store())?,
        };
        let mut out = BackfillAnswer {
            profile: profile.name.clone(),
            version,
            tenants: 0,
            evaluations: 0,
            changed: 0,
            dry_run,
        };
        let profile = Arc::new(profile);
        for t in tenants {
            let (bundle, profile, ctx) = (Arc::clone(&bundle), Arc::clone(&profile), ctx.clone());
            let tenant = t.clone();
            let r = bs::backfill(&mut st.benchmark.store(), &t, &profile.name.clone(), version, dry_run, move |points| {
                let Ok(pack) = tenet_tenant_benchmark::pack(&bundle.rules) else {
                    return (Vec::new(), Default::default(), Vec::new());
                };
                let (evals, state) = engine::replay(&pack, &profile, &tenant, points);
                let audit = vec![event(
                    &ctx,
                    format!("{}/backfill", profile.name),
                    "backfilled",
                    json!({"profile": profile.name, "version": profile.version, "evaluations": evals.len()}),
                    Some(&tenant),
                    &bundle.fingerprint,
                    started,
                )];
                (evals, state, audit)
            })?;
            if r.evaluations > 0 {
                out.tenants += 1;
            }
            out.evaluations += r.evaluations;
            out.changed += r.changed;
        }
        Ok(out)
    })
    .await
    .map_err(store_failed)?
    .map_err(store_failed)?;
    Ok(json_response(&answer))
}
