//! Per-request observability: an action id, a tracing span, metrics.
//!
//! Every routed request gets an action id, sent back as
//! `x-tenet-action-id` (an evaluation's and an API reload's audit event
//! carry it) and runs inside a `request` span with
//! `action_id` and `route`, and — filled in as they become known —
//! `identity`, `tenant_id` and `pack`. When it is answered its
//! count and latency go to the metrics. Logs are text or JSON
//! (`--log-format json`), filtered by `RUST_LOG` (default `info`).

use crate::access::route_of;
use crate::clock::new_action_id;
use crate::config::LogFormat;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// This request's action id.
#[derive(Clone, Debug)]
pub struct ActionId(pub String);

/// The outermost routed middleware.
pub async fn observe(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_of(&req);
    let method = req.method().as_str().to_string();
    let kind = match route.as_str() {
        "/v1/evaluate" => "eval",
        "/v1/bundle/reload" => "reload",
        _ => "req",
    };
    let action_id = new_action_id(kind);
    req.extensions_mut().insert(ActionId(action_id.clone()));
    let span = tracing::info_span!(
        "request",
        action_id = %action_id,
        route = %route,
        identity = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        pack = tracing::field::Empty,
    );
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(%method, status, latency_ms, "answered");
        } else {
            tracing::debug!(%method, status, latency_ms, "answered");
        }
    });
    let m = &state.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method: method.clone(),
            status,
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route, method })
        .observe(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&action_id) {
        resp.headers_mut().insert("x-tenet-action-id", v);
    }
    resp
}

/// Installs the global log subscriber (once; later calls do nothing).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}
