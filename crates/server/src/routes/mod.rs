//! The handlers, one file per resource. Each is annotated for the OpenAPI
//! document (`openapi.rs`), which is generated from these annotations and
//! the request and response types declared beside them.

pub mod audit;
pub mod bundle;
pub mod diff;
pub mod evaluate;
pub mod health;
pub mod meta;

use crate::problem::Problem;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Reads a JSON body: 400 when it is not JSON, 422 when it is JSON of the
/// wrong shape (with serde's path and reason).
pub fn json_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Problem> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Malformed JSON",
            format!(
                "the body is not valid JSON: {e} (at {}:{})",
                e.line(),
                e.column()
            ),
        )
    })?;
    serde_json::from_value(raw).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid Request",
            format!("expected {expected}: {e}"),
        )
    })
}
