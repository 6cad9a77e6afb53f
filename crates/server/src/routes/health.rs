//! `GET /v1/health`: `ok`, `degraded` or `silent`.
//!
//! - `degraded`: the last reload failed; the last good bundle is serving
//!   rules older than the files on disk.
//! - `silent`: the rules watcher has stopped, so a saved rule file would
//!   no longer go live, and nothing else is wrong. The server answers, but
//!   it no longer hears about changes.
//! - `ok`: neither.

use crate::state::{AppState, WatchState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema, PartialEq, Eq, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
    Silent,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: Status,
    /// The fingerprint of the bundle serving.
    pub bundle: String,
    /// How many packs it has.
    pub packs: usize,
    /// `watching`, `off` or `lost`.
    pub watcher: String,
    /// Why it is not `ok`.
    pub reason: Option<String>,
}

/// Whether the server is healthy, and why not.
#[utoipa::path(
    get, path = "/v1/health", tag = "meta",
    responses((status = 200, body = Health))
)]
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let bundle = state.bundle.load();
    let watch = state.watch_state();
    let (status, reason) = match (state.last_error(), watch) {
        (Some(e), _) => (
            Status::Degraded,
            Some(format!("the last reload failed: {}", e.message)),
        ),
        (None, WatchState::Lost) => (
            Status::Silent,
            Some("the rules watcher stopped: saved rule files no longer go live (reload with SIGHUP or POST /v1/bundle/reload)".into()),
        ),
        (None, _) => (Status::Ok, None),
    };
    Json(Health {
        status,
        bundle: bundle.fingerprint.clone(),
        packs: bundle.rules.packs.len(),
        watcher: match watch {
            WatchState::Off => "off",
            WatchState::Watching => "watching",
            WatchState::Lost => "lost",
        }
        .into(),
        reason,
    })
}
