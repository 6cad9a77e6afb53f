//! `POST /v1/diff`: the semantic diff of two sets of artifacts, as
//! `tenet diff` reports it, classified by the serving bundle's
//! `semantic_diff` pack.
//!
//! The body names each side's files by path (the path decides the
//! artifact type, as in a directory diff); a `tenet.yaml` among the head
//! files configures the diff as it does in a repository.
//!
//! The semantic diff is the first module: its route is a table of its own
//! ([`table`]), with its own body limit, as every module engine's is.

use super::json_body;
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::{routes, RouteTable};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_diff::classify::Classifier;
use tenet_diff::repo::{RepoConfig, CONFIG_FILE};
use tenet_diff::report::{self, Build, Lint};
use utoipa::{IntoParams, ToSchema};

/// The module's routes: `POST /v1/diff`, whose body (both sides of the
/// diff) may be up to `limits.diff_body_bytes`.
pub fn table() -> RouteTable {
    RouteTable::new().route_with_body_limit(routes!(diff), |limits| limits.diff_body_bytes)
}

/// Two snapshots to compare.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffRequest {
    /// The files before: path → text.
    #[schema(example = json!({"api/openapi.yaml": "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"}))]
    pub base: BTreeMap<String, String>,
    /// The files after: path → text.
    pub head: BTreeMap<String, String>,
    /// A label for the base side in the report (default `base`).
    #[serde(default)]
    pub base_label: Option<String>,
    /// A label for the head side (default `head`).
    #[serde(default)]
    pub head_label: Option<String>,
    /// Leave out changes below this level of the served `semantic_diff`
    /// pack's taxonomy. The schema lists the bundled pack's levels, so that
    /// clients and fuzzers know the valid words; a served pack with other
    /// levels takes its own, and a word that is not a level of the served
    /// taxonomy is a 422 that lists them.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(breaking|behavioral|additive|cosmetic)$")]
    pub risk_threshold: Option<String>,
}

#[derive(Deserialize, Clone, Copy, Default, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The `tenet.report/v1` JSON report.
    #[default]
    Json,
    /// The Markdown of a PR comment.
    Md,
    /// Release notes (Markdown).
    ReleaseNotes,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffParams {
    /// `json` (default), `md` or `release-notes`.
    pub format: Option<Format>,
}

/// Compare two snapshots of artifacts.
#[utoipa::path(
    post, path = "/v1/diff", tag = "diff",
    params(DiffParams),
    request_body = DiffRequest,
    responses(
        (status = 200, description = "The report", content(
            (Object = "application/json"),
            (String = "text/markdown"),
        )),
        (status = 400, description = "The body is not JSON, or a bad `format`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Over `limits.diff_body_bytes`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "JSON of the wrong shape, a bad `tenet.yaml` or threshold, or artifacts that do not parse (`errors` has each with its path:line:col)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn diff(
    State(state): State<Arc<AppState>>,
    params: Result<Query<DiffParams>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Response, Problem> {
    let Query(params) =
        params.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "Bad Query", e.body_text()))?;
    let req: DiffRequest = json_body(&body, "{\"base\": {path: text}, \"head\": {path: text}}")?;
    tracing::Span::current().record("pack", "semantic_diff");
    let bundle = state.bundle.load_full();
    // Parsing and classifying is CPU work: off the async threads, at most
    // one per core at a time. Waiting for a turn counts against the request
    // timeout (408); a diff that has started holds its turn until it ends.
    let permit = Arc::clone(&state.diffs)
        .acquire_owned()
        .await
        .map_err(|e| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Diff Failed",
                format!("the diff queue is closed: {e}"),
            )
        })?;
    let built = tokio::task::spawn_blocking(move || {
        let _turn = permit;
        build(&bundle.rules, req)
    })
    .await
    .map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Diff Failed",
            format!("the diff task failed: {e}"),
        )
    })??;
    Ok(match params.format.unwrap_or_default() {
        Format::Json => Json(built).into_response(),
        Format::Md => markdown(report::markdown(&built)),
        Format::ReleaseNotes => markdown(report::release_notes(&built)),
    })
}

fn markdown(text: String) -> Response {
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    r
}

fn unprocessable(detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid Diff", detail)
}

fn build(rules: &tenet_runtime::load::Rules, req: DiffRequest) -> Result<report::Report, Problem> {
    let config = match req.head.get(CONFIG_FILE) {
        None => RepoConfig::default(),
        Some(text) => {
            RepoConfig::parse(text).map_err(|e| unprocessable(format!("{CONFIG_FILE}: {e}")))?
        }
    };
    let classifier = Classifier::new(rules).map_err(|e| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "Unknown Pack",
            format!("the serving rules cannot classify changes: {e}"),
        )
    })?;
    if let Some(t) = &req.risk_threshold {
        if !classifier.levels().iter().any(|l| l == t) {
            return Err(unprocessable(format!(
                "`risk_threshold`: `{t}` is not a level; levels are: {}",
                classifier.levels().join(", ")
            )));
        }
    }
    let bytes = |m: BTreeMap<String, String>| -> BTreeMap<String, Vec<u8>> {
        m.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()
    };
    let pairs = config.pairs(&bytes(req.base), &bytes(req.head));
    report::build_with(
        Build {
            base: req.base_label.unwrap_or_else(|| "base".into()),
            head: req.head_label.unwrap_or_else(|| "head".into()),
            repository: None,
            pairs,
            consumers: &config.consumers,
            threshold: req.risk_threshold,
        },
        &Lint::default(),
        &classifier,
    )
    .map_err(|errors| {
        let n = errors.len();
        unprocessable(format!(
            "{n} artifact{} could not be read; nothing was judged",
            if n == 1 { "" } else { "s" }
        ))
        .with(
            "errors",
            json!(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
        )
    })
}
