//! `GET /v1/health`: `ok`, `degraded` or `silent`.
//!
//! - `degraded`: the last reload failed; the last good bundle is serving
//!   rules older than the files on disk.
//! - `silent`: the rules watcher has stopped, so a saved rule file would
//!   no longer go live, and nothing else is wrong. The server answers, but
//!   it no longer hears about changes.
//! - `ok`: neither.

use crate::fleet::{Member, SweepState};
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
    /// This replica's name.
    pub replica: String,
    /// The replicas on this store seen within three sweep intervals, and
    /// the bundle each serves (as of this replica's last round).
    pub fleet: Vec<Member>,
    /// Whether every replica in `fleet` serves this replica's bundle: after
    /// a rolling rule update, the fleet has converged.
    pub converged: bool,
    /// Each sweep's leader, as of the last round.
    pub sweeps: Vec<SweepState>,
    /// Why the last round could not reach the store, if it could not.
    pub fleet_error: Option<String>,
    /// The safety workflows' webhooks (`safety.notify`, `safety.escalation`):
    /// deliveries, failures, the breaker, the last error.
    pub safety_channels: Vec<ChannelHealth>,
    /// The meta-monitor: whether its sweep runs (`ok`), has not run yet on
    /// this store (`starting`) or is late (`silent`: silence is not being
    /// detected, and `status` says `silent` too), and its channels.
    pub monitor: MonitorHealth,
}

#[derive(Serialize, ToSchema)]
pub struct MonitorHealth {
    /// `ok`, `starting` or `silent`.
    pub sweep: String,
    /// When the sweep last ran, on any replica.
    pub last_sweep: Option<String>,
    /// `monitor.notify` and `monitor.proof_of_life`.
    pub channels: Vec<ChannelHealth>,
}

/// One notification channel's counts.
#[derive(Serialize, ToSchema)]
pub struct ChannelHealth {
    /// `notify` or `escalation`.
    pub channel: String,
    /// Failing: the breaker is not closed, or the last delivery failed.
    pub degraded: bool,
    #[schema(value_type = Object)]
    pub stats: serde_json::Value,
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
    // The monitor's own sweep: late by three intervals is silent.
    let st2 = Arc::clone(&state);
    let last_sweep = tokio::task::spawn_blocking(move || st2.monitor.last_sweep())
        .await
        .ok()
        .flatten();
    let interval = state.config.sweeps.interval.as_millis() as i64;
    let now = tenet_runtime::clock::system_now();
    let now_ms = now.unix_secs() * 1000 + i64::from(now.subsec_nanos() / 1_000_000);
    let started = state.monitor.started_ms();
    let sweep = match last_sweep {
        Some(t) if now_ms - t <= 3 * interval => "ok",
        None if now_ms - started <= 3 * interval => "starting",
        _ => "silent",
    };
    let (status, reason) = if sweep == "silent" && status == Status::Ok {
        (
            Status::Silent,
            Some(format!(
                "the meta-monitor's sweep {}: silence is not being detected",
                match last_sweep {
                    Some(t) => format!("last ran at {}", tenet_meta_monitor::render::rfc3339(t)),
                    None => "has never run".into(),
                }
            )),
        )
    } else {
        (status, reason)
    };
    let monitor = MonitorHealth {
        sweep: sweep.into(),
        last_sweep: last_sweep.map(tenet_meta_monitor::render::rfc3339),
        channels: state
            .monitor
            .channels()
            .into_iter()
            .map(|(name, st)| ChannelHealth {
                channel: name.into(),
                degraded: st.degraded(),
                stats: serde_json::to_value(&st).unwrap_or_default(),
            })
            .collect(),
    };
    let view = state.fleet.view();
    let safety_channels: Vec<ChannelHealth> = state
        .safety
        .channels()
        .into_iter()
        .map(|(name, st)| ChannelHealth {
            channel: name.into(),
            degraded: st.degraded(),
            stats: serde_json::to_value(&st).unwrap_or_default(),
        })
        .collect();
    let converged = view.members.iter().all(|m| m.bundle == bundle.fingerprint);
    Json(Health {
        status,
        replica: state.config.replica.clone(),
        converged,
        fleet: view.members,
        sweeps: view.sweeps,
        fleet_error: view.error,
        safety_channels,
        monitor,
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
