//! `GET /metrics`, `GET /v1/openapi.json`, and the answer for an unknown
//! route.

use crate::metrics::RequestLabels;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The metrics, in the OpenMetrics text format.
#[utoipa::path(
    get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus metrics (OpenMetrics text)", body = String, content_type = "application/openmetrics-text")),
    security(("bearer" = []), ())
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn openapi() -> Response {
    let mut r = crate::openapi::document_json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// 404 for every route the server does not have.
pub async fn not_found(State(state): State<Arc<AppState>>, req: Request) -> Problem {
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: "(unmatched)".into(),
            method: req.method().as_str().to_string(),
            status: 404,
        })
        .inc();
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        format!(
            "no route {}; see /v1/openapi.json for the routes",
            req.uri().path()
        ),
    )
}
