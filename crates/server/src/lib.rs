//! The evaluation server (`tenet serve`): REST under `/v1/`.
//!
//! Services ask it for decisions (`POST /v1/evaluate`) and semantic diffs
//! (`POST /v1/diff`); operators read the bundle, the audit log, health and
//! metrics. Rule files saved on disk go live within a second, and a broken
//! one never takes the server down.
//!
//! - [`config`]: flags over a YAML file over defaults; identities.
//! - [`state`]: the bundle behind an `ArcSwap`, reloads, health inputs.
//! - [`access`]: bearer tokens and client certificates, the `server`
//!   access pack, rate limits.
//! - [`observe`]: action ids, tracing spans, request metrics, logging.
//! - [`audit`]: the group-commit audit writer (durable before answering).
//! - [`watch`]: the rules watcher and SIGHUP.
//! - [`table`]: the route table, the one declaration of the routes that
//!   the router, the OpenAPI document and the access test read ([`TABLES`]).
//! - [`routes`]: the handlers; [`openapi`]: the document generated from them.
//! - [`problem`]: `application/problem+json` errors.
//! - [`serve`](mod@serve): the connection loop, limits on slow clients,
//!   graceful shutdown.
//! - [`tls`]: HTTPS, client certificates (mutual TLS), the CLI clients'
//!   `--ca`, `--cert`, `--key`.
//!
//! axum, hyper and tokio live here, never below: the runtime crate knows
//! nothing of HTTP.
//!
//! # Adding a route
//!
//! Write the handler with its `#[utoipa::path(...)]` in
//! `routes/<module>.rs` and add it to the module's [`RouteTable`]; a new
//! module adds its table to [`TABLES`]. The table gives the route its gate,
//! its body limit and its place in the OpenAPI document. Then grant it in
//! `route_roles` of the `server` pack (`rules/server/server.tenet`): the
//! tests ask the pack about every declared route and fail on one that no
//! role may call and that is not public. `docs/server.md`, "Adding a
//! route", has the steps.

pub mod access;
pub mod audit;
pub mod clock;
pub mod config;
pub mod fleet;
pub mod idempotency;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod serve;
pub mod state;
pub mod table;
pub mod tls;
pub mod watch;

pub use config::{Config, LogFormat, Overrides, RulesSource};
pub use serve::{run, serve, shutdown_signal};
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, map_response};
use axum::Router;
use std::sync::Arc;
use table::RouteTable;
use tower_http::timeout::TimeoutLayer;

/// The route tables the server serves: its own, then one per module
/// engine. A module adds its routes with one line here (see
/// `docs/server.md`, "Adding a route").
pub const TABLES: &[fn() -> RouteTable] = &[
    routes::table,
    routes::diff::table,
    routes::safety::table,
    routes::monitor::table,
    routes::benchmark::table,
    routes::autoconfig::table,
    routes::inventory::table,
    routes::control_plane::table,
    routes::rtx::table,
];

/// Every route of every table in [`TABLES`]: the one declaration the
/// router, the OpenAPI document and the access test all read.
pub fn route_table() -> RouteTable {
    TABLES
        .iter()
        .fold(RouteTable::new(), |all, table| all.merge(table()))
}

/// The routes and their layers, outermost first: problem bodies for bare
/// errors; then, on routed requests, `observe` (action id, span, metrics),
/// the request timeout, and per method the access `gate` and the body
/// limit ([`RouteTable::into_router`]). A wrong method is answered 405
/// (with `Allow`) before the gate.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.limits.request_timeout;
    let (routes, _) = route_table().into_router(&state).split_for_parts();
    routes
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .route_layer(from_fn_with_state(Arc::clone(&state), observe::observe))
        .fallback(routes::meta::not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(map_response(problem::problem_for_bare_errors))
        .with_state(state)
}
