//! The evaluation server (`tenet serve`): REST under `/v1/`.
//!
//! Services ask it for decisions (`POST /v1/evaluate`) and semantic diffs
//! (`POST /v1/diff`); operators read the bundle, the audit log, health and
//! metrics. Rule files saved on disk go live within a second, and a broken
//! one never takes the server down.
//!
//! - [`config`]: flags over a YAML file over defaults; identities.
//! - [`state`]: the bundle behind an `ArcSwap`, reloads, health inputs.
//! - [`access`]: bearer tokens, the `server` access pack, rate limits.
//! - [`observe`]: action ids, tracing spans, request metrics, logging.
//! - [`audit`]: the group-commit audit writer (durable before answering).
//! - [`watch`]: the rules watcher and SIGHUP.
//! - [`routes`]: the handlers; [`openapi`]: the document generated from them.
//! - [`problem`]: `application/problem+json` errors.
//! - [`serve`](mod@serve): the connection loop, limits on slow clients,
//!   graceful shutdown.
//!
//! axum, hyper and tokio live here, never below: the runtime crate knows
//! nothing of HTTP.

pub mod access;
pub mod audit;
pub mod clock;
pub mod config;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod serve;
pub mod state;
pub mod watch;

pub use config::{Config, LogFormat, Overrides, RulesSource};
pub use serve::{run, serve, shutdown_signal};
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The routes and their layers, outermost first: problem bodies for bare
/// errors; then, on routed requests, `observe` (action id, span, metrics),
/// the request timeout, and per method the access `gate` and the body
/// limit. A wrong method is answered 405 (with `Allow`) before the gate.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.config.limits.clone();
    let gated = |m: MethodRouter<Arc<AppState>>, body_limit: usize| {
        m.layer(RequestBodyLimitLayer::new(body_limit))
            .route_layer(from_fn_with_state(Arc::clone(&state), access::gate))
    };
    let body = limits.body_bytes;
    Router::new()
        .route(
            "/v1/evaluate",
            gated(post(routes::evaluate::evaluate), body),
        )
        .route(
            "/v1/diff",
            gated(post(routes::diff::diff), limits.diff_body_bytes),
        )
        .route("/v1/bundle", gated(get(routes::bundle::get_bundle), body))
        .route(
            "/v1/bundle/reload",
            gated(post(routes::bundle::reload), body),
        )
        .route("/v1/health", gated(get(routes::health::health), body))
        .route("/v1/audit", gated(get(routes::audit::audit), body))
        .route("/metrics", gated(get(routes::meta::metrics), body))
        .route("/v1/openapi.json", gated(get(routes::meta::openapi), body))
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .route_layer(from_fn_with_state(Arc::clone(&state), observe::observe))
        .fallback(routes::meta::not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(map_response(problem::problem_for_bare_errors))
        .with_state(state)
}
