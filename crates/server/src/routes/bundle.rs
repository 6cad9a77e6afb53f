//! `GET /v1/bundle` and `POST /v1/bundle/reload`.

use crate::access::RequestCtx;
use crate::problem::Problem;
use crate::state::{AppState, ReloadError, Trigger};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;

/// One rule file of the bundle.
#[derive(Serialize, ToSchema)]
pub struct InputInfo {
    pub path: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// The bundle fingerprint, as in a bundle file (`tenet bundle build`).
#[derive(Serialize, ToSchema)]
pub struct FingerprintInfo {
    /// `sha256`.
    pub algo: String,
    /// SHA-256 over the sorted `path NUL sha256 LF` lines of the inputs:
    /// the bundle hash decisions and reports carry.
    pub hash: String,
    /// When these rules were loaded (RFC 3339, UTC); outside the hash.
    pub created_at: String,
    pub inputs: Vec<InputInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct PackInfo {
    pub name: String,
    pub version: String,
}

/// The bundle now serving.
#[derive(Serialize, ToSchema)]
pub struct BundleInfo {
    /// The fingerprint, as in a bundle file of these rules.
    pub fingerprint: FingerprintInfo,
    /// Where the rules are read from (a directory, or `(bundled)`).
    pub source: String,
    /// When this bundle was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    pub packs: Vec<PackInfo>,
    /// Why the last reload failed, until a reload succeeds.
    pub last_reload_error: Option<ReloadError>,
}

pub fn bundle_info(state: &AppState) -> BundleInfo {
    let bundle = state.bundle.load();
    BundleInfo {
        fingerprint: FingerprintInfo {
            algo: bundle.identity.algo.clone(),
            hash: bundle.identity.hash.clone(),
            created_at: bundle.identity.created_at.clone(),
            inputs: bundle
                .identity
                .inputs
                .iter()
                .map(|i| InputInfo {
                    path: i.path.clone(),
                    sha256: i.sha256.clone(),
                })
                .collect(),
        },
        source: state.config.rules.describe(),
        loaded_at: bundle.loaded_at.clone(),
        packs: bundle
            .rules
            .packs
            .iter()
            .map(|p| PackInfo {
                name: p.name.clone(),
                version: p.version.clone(),
            })
            .collect(),
        last_reload_error: state.last_error(),
    }
}

/// The bundle now serving, and the last reload error.
#[utoipa::path(
    get, path = "/v1/bundle", tag = "bundle",
    responses((status = 200, body = BundleInfo)),
    security(("bearer" = []), ())
)]
pub async fn get_bundle(State(state): State<Arc<AppState>>) -> Json<BundleInfo> {
    Json(bundle_info(&state))
}

/// Reload the rules now (as a saved file or SIGHUP would).
#[utoipa::path(
    post, path = "/v1/bundle/reload", tag = "bundle",
    responses(
        (status = 200, description = "Reloaded; the new bundle", body = BundleInfo),
        (status = 422, description = "The rules do not load; the last good bundle keeps serving. `diagnostics` has each problem with its file:line:col.", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ())
)]
pub async fn reload(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Result<Json<BundleInfo>, Problem> {
    let actor = Some(ctx.actor());
    match state
        .reload_by(Trigger::Api, actor, Some(ctx.action_id.clone()))
        .await
    {
        Ok(()) => Ok(Json(bundle_info(&state))),
        Err(e) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reload Failed",
            format!(
                "{}; the last good bundle {} keeps serving",
                e.message,
                state.fingerprint()
            ),
        )
        .with("diagnostics", json!(e.diagnostics))),
    }
}
