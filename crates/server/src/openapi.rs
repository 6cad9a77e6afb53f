//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! annotations and the request and response types (utoipa), and served
//! at `GET /v1/openapi.json`. `tests/api.rs` checks that every route the
//! router has is in it, and the schemathesis run of `.ci/run` checks the
//! live server against it.

use crate::routes;
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An `application/problem+json` body (RFC 9457).
#[derive(Serialize, ToSchema)]
pub struct ProblemBody {
    /// A URI naming the kind of problem.
    pub r#type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// A failed reload: each problem with its file:line:col.
    pub diagnostics: Option<Vec<String>>,
    /// A failed diff: each artifact that does not parse, with path:line:col.
    pub errors: Option<Vec<String>>,
}

struct BearerAuth;

/// Answers any route may give besides its own: the access gate's (401,
/// 403, 429), the router's (405) and the limits' (408, 413).
const COMMON: &[(&str, &str)] = &[
    (
        "401",
        "No token, or one that matches no identity (only with identities configured)",
    ),
    (
        "403",
        "The `server` access pack denies this identity the route",
    ),
    ("405", "The route does not take this method (see `Allow`)"),
    (
        "408",
        "The request did not finish within `limits.request_timeout`",
    ),
    ("413", "The body is over the route's limit"),
    (
        "429",
        "The identity is over its rate limit (see `Retry-After`)",
    ),
];

struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in doc.paths.paths.values_mut() {
            for op in [item.get.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
            {
                for (code, what) in COMMON {
                    if op.responses.responses.contains_key(*code) {
                        continue;
                    }
                    let response = ResponseBuilder::new()
                        .description(*what)
                        .content(
                            crate::problem::PROBLEM_JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ProblemBody")))
                                .build(),
                        )
                        .build();
                    op.responses
                        .responses
                        .insert((*code).to_string(), response.into());
                }
            }
        }
    }
}

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A service token from the config file's `identities` (only needed when the server has identities configured)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenet evaluation server",
        description = "Decisions, semantic diffs, the bundle and the audit log of `tenet serve`. Errors are application/problem+json. With identities configured, every route but /v1/health and /v1/openapi.json needs a bearer token (401 without one, 403 when the `server` access pack denies it, 429 over the rate limit).",
    ),
    paths(
        routes::evaluate::evaluate,
        routes::diff::diff,
        routes::bundle::get_bundle,
        routes::bundle::reload,
        routes::health::health,
        routes::audit::audit,
        routes::meta::metrics,
        routes::meta::openapi,
    ),
    components(schemas(ProblemBody, routes::diff::Format)),
    modifiers(&BearerAuth, &CommonResponses),
    tags(
        (name = "evaluate", description = "Decisions"),
        (name = "diff", description = "Semantic diff"),
        (name = "bundle", description = "The rules serving"),
        (name = "audit", description = "The audit log"),
        (name = "meta", description = "Health, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The document, rendered once.
pub fn document_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc.to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
    .clone()
}
