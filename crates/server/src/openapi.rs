//! The OpenAPI 3.1 document of the API, served at `GET /v1/openapi.json`.
//! Its paths come from the route table ([`crate::route_table`]), the same
//! declaration the router is built from: each handler's annotation and the
//! request and response types (utoipa). Here it gets its description, the
//! bearer scheme and the answers any route may give. The schemathesis run
//! of `.ci/run` checks the live server against it.

use crate::routes;
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
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
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in doc.paths.paths.values_mut() {
            for op in crate::table::operations_mut(item) {
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
    fn modify(&self, doc: &mut Document) {
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
    components(schemas(ProblemBody, routes::diff::Format)),
    tags(
        (name = "evaluate", description = "Decisions"),
        (name = "diff", description = "Semantic diff"),
        (name = "bundle", description = "The rules serving"),
        (name = "audit", description = "The audit log"),
        (name = "meta", description = "Health, metrics, this document"),
    )
)]
struct ApiDoc;

/// The document: the description, tags and shared schemas (`ApiDoc`)
/// with the paths of the route table, then the bearer scheme and the
/// common answers added to every operation. (`ApiDoc` alone has no paths,
/// so it is not public.)
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::route_table().openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    BearerAuth.modify(&mut doc);
    CommonResponses.modify(&mut doc);
    doc
}

/// The document, rendered once.
pub fn document_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
    .clone()
}
