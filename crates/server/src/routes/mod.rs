//! The handlers, one file per resource. Each is annotated for the OpenAPI
//! document (`openapi.rs`), which is generated from these annotations and
//! the request and response types declared beside them, and is added to a
//! route table ([`table`], [`diff::table`]), which gives the router its
//! routes and the document its paths.

pub mod audit;
pub mod autoconfig;
pub mod benchmark;
pub mod bundle;
pub mod control_plane;
pub mod diff;
pub mod evaluate;
pub mod health;
pub mod inventory;
pub mod meta;
pub mod monitor;
pub mod rtx;
pub mod safety;

use crate::problem::Problem;
use crate::table::{routes, RouteTable};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The server's own routes: decisions, the bundle, the audit log, health,
/// metrics and the document. (The semantic diff, the first module, has its
/// own table: [`diff::table`].)
pub fn table() -> RouteTable {
    RouteTable::new()
        .route(routes!(evaluate::evaluate))
        .route(routes!(bundle::get_bundle))
        .route(routes!(bundle::reload))
        .route(routes!(health::health))
        .route(routes!(audit::audit))
        .route(routes!(meta::metrics))
        .route(routes!(meta::openapi))
}

/// Reads a JSON body: 400 when it is not JSON, 422 when it is JSON of the
/// wrong shape (with serde's path and reason). One pass, no intermediate
/// tree. Every body is an object: a JSON array is a 422 too (serde would
/// read a struct of optional fields from `[]`).
pub fn json_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Problem> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid Request",
            format!("expected {expected}: the body is a JSON array, not an object"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid Request",
                format!("expected {expected}: {e}"),
            ),
            Category::Io | Category::Syntax | Category::Eof => Problem::new(
                StatusCode::BAD_REQUEST,
                "Malformed JSON",
                format!(
                    "the body is not valid JSON: {e} (at {}:{})",
                    e.line(),
                    e.column()
                ),
            ),
        }
    })
}

/// A `limit` query parameter: `default` when absent, else 1 to `max`
/// (a 400 that says so otherwise).
pub fn limit_param<T>(limit: Option<T>, default: T, max: T) -> Result<T, Problem>
where
    T: Copy + PartialOrd + From<u8> + std::fmt::Display,
{
    match limit.unwrap_or(default) {
        n if n >= T::from(1) && n <= max => Ok(n),
        n => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid Query",
            format!("`limit` {n} is not between 1 and {max}"),
        )),
    }
}

/// A JSON answer, serialized into one buffer sized for a decision.
pub fn json_response<T: serde::Serialize>(value: &T) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    let mut buf = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response(),
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Serialization Failed",
            e.to_string(),
        )
        .into_response(),
    }
}

/// `?dry_run=true` on a mutating route: answer what the request would do,
/// change nothing (see `idempotency::Mutation`).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DryRunParam {
    /// Answer what the request would do; change nothing (not even an audit event).
    pub dry_run: Option<bool>,
}

/// The wall clock in milliseconds since the epoch (the modules' `Ms`).
pub fn now_ms() -> i64 {
    tenet_runtime::clock::system_now().millis()
}

/// The store could not be read or written: 503, and nothing was done.
pub fn store_failed(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Store Unavailable",
        format!("the store could not be read or written, so nothing was done: {e}"),
    )
}

/// A request that is well-formed JSON but says something wrong: 422.
pub fn invalid(detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid Request", detail)
}
