//! The request and answer bodies of the meta-monitor's routes, and their
//! query parameters (each in the OpenAPI document).

use super::*;

/// One heartbeat event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatBody {
    /// A watcher of the `meta_monitor` pack.
    #[schema(min_length = 1, max_length = 200)]
    pub(super) watcher: String,
    /// Where it comes from: one of the watcher's `sources`, if it declares them.
    #[schema(min_length = 1, max_length = 200)]
    pub(super) source: String,
    /// When it happened (RFC 3339). More than 5 minutes ahead of the
    /// server's clock, the event is ignored (clock skew).
    #[schema(format = DateTime)]
    pub(super) at: String,
    /// `success` (default), `start`, `fail`, `log`, `pause`, `resume`.
    #[schema(pattern = "^(success|start|fail|log|pause|resume)$")]
    pub(super) kind: Option<String>,
    /// A run's id: a start and its success share it; a repeated one is a duplicate.
    #[schema(min_length = 1, max_length = 200)]
    pub(super) run_id: Option<String>,
    /// The source's sequence number: a repeated one is a duplicate.
    #[schema(value_type = Option<u64>, minimum = 0)]
    pub(super) seq: Option<serde_json::Number>,
    /// 0 a success, 1-255 a failure.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 255)]
    pub(super) exit_status: Option<serde_json::Number>,
    /// How many events the heartbeat stands for (`min_events`).
    #[schema(value_type = Option<u64>, minimum = 0)]
    pub(super) count: Option<serde_json::Number>,
    /// The tenant (an identity bound to a tenant may give only its own).
    pub(super) tenant: Option<String>,
}

/// A batch of heartbeat events.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatsBody {
    #[schema(min_items = 1, max_items = 1000)]
    pub(super) events: Vec<HeartbeatBody>,
}

/// What a batch did.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestAnswer {
    pub applied: u64,
    /// Same source and `seq`, or same source, kind and `run_id`: counted once.
    pub duplicates: u64,
    /// Older than the latest event of their watcher: recorded, no state changed.
    pub late: u64,
    /// Events ignored and why (a heartbeat to a watcher paused with
    /// `manual_resume`, one more than 5 minutes ahead of the server's clock).
    pub ignored: Vec<IgnoredEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IgnoredEvent {
    pub index: usize,
    pub why: String,
}

/// A watcher's state at the time asked, explained.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatcherStatus {
    /// `true` on the answer of a `?dry_run=true` pause or resume: the
    /// state it would have; nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    pub watcher: String,
    pub tenant: Option<String>,
    /// new, up, late, down, paused, started, exempt, suppressed.
    pub state: String,
    /// The state by the schedule alone (an open run ignored).
    pub base_state: String,
    pub expected_by: Option<String>,
    pub down_by: Option<String>,
    pub down_at: Option<String>,
    pub pages_at: Option<String>,
    /// The last event per source.
    #[schema(value_type = Object)]
    pub last_seen: Value,
    pub suppressed_by: Option<String>,
    pub muted_by: Option<String>,
    /// One sentence.
    pub why: String,
}

/// Every watcher's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatcherList {
    pub at: String,
    pub watchers: Vec<WatcherStatus>,
}

/// A watcher state, as a query value.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateParam {
    New,
    Up,
    Late,
    Down,
    Paused,
    Started,
    Exempt,
    Suppressed,
}

impl StateParam {
    pub(super) fn state(self) -> WState {
        match self {
            StateParam::New => WState::New,
            StateParam::Up => WState::Up,
            StateParam::Late => WState::Late,
            StateParam::Down => WState::Down,
            StateParam::Paused => WState::Paused,
            StateParam::Started => WState::Started,
            StateParam::Exempt => WState::Exempt,
            StateParam::Suppressed => WState::Suppressed,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GraphFormat {
    Json,
    Dot,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this tenant's instances (`""` the platform's).
    pub(super) tenant: Option<String>,
    /// Only watchers in this state.
    #[param(inline)]
    pub(super) state: Option<StateParam>,
}

/// Which tenant's instance to pause or resume, and whether only to say
/// what would happen.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PauseParams {
    /// The tenant's instance (default: the caller's tenant, else the platform's).
    pub(super) tenant: Option<String>,
    /// Answer the state it would have; change nothing (not even an audit event).
    pub(super) dry_run: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantParam {
    /// The tenant's instance (default: the caller's tenant, else the platform's).
    pub(super) tenant: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PingParams {
    /// The source (default, or empty: the caller's identity name).
    pub(super) source: Option<String>,
    /// The run id (Healthchecks' `rid`; empty: none).
    #[param(max_length = 200)]
    pub(super) rid: Option<String>,
    /// The tenant (default: the caller's).
    pub(super) tenant: Option<String>,
}
