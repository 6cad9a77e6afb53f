//! The meta-monitor's records: heartbeat events, what is kept per watched
//! stream, and the states a watcher reads.
//!
//! A **watcher** is declared in the pack (`watcher event-bus { ... }`); it
//! is watched once per tenant that sends it heartbeats, and once for the
//! platform (tenant `""`): each of those is an [`Instance`]. An instance
//! keeps, per source, what Healthchecks.io keeps per check
//! ([`SourceState`]): the stored status (`new`, `up`, `down`, `paused`),
//! the last success or failure, the open run. Everything else — `late`,
//! `down` by silence, `started`, `exempt`, `suppressed` — is computed when
//! the state is read, for a given `now`, by [`crate::engine`].
//!
//! ```text
//!            success                       (silence past expected_by)      (+ grace)
//!   new ───────────────▶ up ─────────────────────────────▶ late ──────────────▶ down
//!    ▲                    ▲ ◀──────────── success ─────────┘                      │
//!    │ resume             └──────────────────── success ─────────────────────────┘
//!  paused ◀── pause (any state)        fail / exit status 1-255 (any state) ──▶ down
//! ```
//!
//! Stored transitions are [`next`]; `late` and a silent `down` are never
//! stored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch (the engine's clock is an argument).
pub type Ms = i64;

/// What a heartbeat event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The job ran (or a pipeline is alive): moves the deadline.
    Success,
    /// A run began: the watcher reads `started` until it ends, and is down
    /// if it does not end within the grace.
    Start,
    /// The job failed: down at once.
    Fail,
    /// Recorded, changes no state.
    Log,
    /// Stop expecting heartbeats.
    Pause,
    /// Expect them again, from `new` (only a paused watcher resumes).
    Resume,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Success,
        Kind::Start,
        Kind::Fail,
        Kind::Log,
        Kind::Pause,
        Kind::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Success => "success",
            Kind::Start => "start",
            Kind::Fail => "fail",
            Kind::Log => "log",
            Kind::Pause => "pause",
            Kind::Resume => "resume",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One heartbeat event, as ingested or replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub watcher: String,
    /// `""`: the platform.
    #[serde(default)]
    pub tenant: String,
    pub source: String,
    pub at: Ms,
    pub kind: Kind,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    /// `0` a success, `1`-`255` a failure.
    #[serde(default)]
    pub exit_status: Option<u8>,
    /// How many events the heartbeat stands for (`min_events`); 1 if not
    /// given.
    #[serde(default)]
    pub count: Option<u64>,
}

impl Event {
    /// The kind once the exit status is read: an exit status of 1-255
    /// makes a success or a start a failure (Healthchecks' `/ping/<n>`).
    pub fn effective_kind(&self) -> Kind {
        match (self.kind, self.exit_status) {
            (Kind::Success | Kind::Start | Kind::Fail, Some(n)) if n > 0 => Kind::Fail,
            (k, _) => k,
        }
    }

    /// What makes two events the same one: the source, its sequence
    /// number and `at` (a replayed log repeats both; a source that
    /// restarts its counter sends the old numbers at new times), or the
    /// source, the kind (as the exit status makes it) and the run id (a
    /// run's start and its success share the id). `None`: the event has
    /// neither and is never a duplicate.
    pub fn dedup_key(&self) -> Option<String> {
        if let Some(seq) = self.seq {
            return Some(format!(
                "{}\u{1f}seq\u{1f}{seq}\u{1f}{}",
                self.source, self.at
            ));
        }
        self.run_id.as_ref().map(|r| {
            format!(
                "{}\u{1f}{}\u{1f}{r}",
                self.source,
                self.effective_kind().as_str()
            )
        })
    }
}

/// The status a source keeps (Healthchecks' stored status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    New,
    Up,
    Down,
    Paused,
}

/// What changes a stored status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Success,
    Fail,
    Pause,
    Resume,
}

/// The legal stored transitions: the one place a stored status moves.
/// `None`: the step does not apply (a resume of a watcher that is not
/// paused is ignored).
pub fn next(from: Stored, step: Step) -> Option<Stored> {
    match (from, step) {
        (_, Step::Success) => Some(Stored::Up),
        (_, Step::Fail) => Some(Stored::Down),
        (_, Step::Pause) => Some(Stored::Paused),
        (Stored::Paused, Step::Resume) => Some(Stored::New),
        (_, Step::Resume) => None,
    }
}

/// What one source of an instance keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub status: Stored,
    /// The last success or failure.
    pub last_ping: Option<Ms>,
    /// The open run's start.
    pub last_start: Option<Ms>,
    pub last_start_rid: Option<String>,
    /// How long the last finished run took.
    pub last_duration: Option<Ms>,
    /// When a failure made it `down` (a silent `down` is computed).
    pub failed_at: Option<Ms>,
    /// The last event of any kind from this source (`last_seen`).
    pub last_seen: Option<Ms>,
    /// The latest `at` applied from this source: an event of this source
    /// before it is late and changes no state.
    #[serde(default)]
    pub last_at: Option<Ms>,
    /// Events counted per whole cadence period (aligned to the epoch):
    /// `(period start, count)`, the last few, for `min_events`.
    #[serde(default)]
    pub recent: Vec<(Ms, u64)>,
}

impl Default for SourceState {
    fn default() -> Self {
        SourceState {
            status: Stored::New,
            last_ping: None,
            last_start: None,
            last_start_rid: None,
            last_duration: None,
            failed_at: None,
            last_seen: None,
            last_at: None,
            recent: Vec::new(),
        }
    }
}

/// One watcher, watched for one tenant (`""`: the platform).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Instance {
    pub watcher: String,
    pub tenant: String,
    /// Per source; a watcher without declared sources keeps one stream,
    /// under the name `*`.
    pub sources: BTreeMap<String, SourceState>,
    /// The latest `at` applied (any source, pause and resume included).
    pub last_at: Option<Ms>,
    /// When it last went from down to up (for the children it suppressed).
    pub recovered_at: Option<Ms>,
    /// Events recorded, duplicates left out.
    pub events: u64,
}

/// What a watcher reads as, at a given `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No heartbeat yet: waits for its first for ever.
    New,
    Up,
    /// Past its expected time, within the grace.
    Late,
    Down,
    Paused,
    /// A run began and has not finished (within the grace).
    Started,
    /// The pack's `exempt_when` holds: not watched.
    Exempt,
    /// Silent while a watcher it depends on is down: tracked under the
    /// parent's incident, not paged.
    Suppressed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Up => "up",
            State::Late => "late",
            State::Down => "down",
            State::Paused => "paused",
            State::Started => "started",
            State::Exempt => "exempt",
            State::Suppressed => "suppressed",
        }
    }

    /// Silent: expected and not heard from.
    pub fn is_silent(self) -> bool {
        matches!(self, State::Late | State::Down)
    }
}

/// A watcher's state at `now`, explained: what `GET /v1/watchers/{id}`
/// and `tenet monitor replay` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub watcher: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub tenant: String,
    /// With an open run, `started`; with the pack's refinements
    /// (exemption, suppression, the watermark) applied.
    pub state: State,
    /// The state by the schedule alone, ignoring an open run that has not
    /// expired: what a dashboard shows.
    pub base_state: State,
    /// When it becomes late without another heartbeat.
    pub expected_by: Option<Ms>,
    /// When it becomes down without another heartbeat (`expected_by` +
    /// grace, or the open run's start + grace).
    pub down_by: Option<Ms>,
    /// For a down watcher: when it went down.
    pub down_at: Option<Ms>,
    /// When its meta-incident opens if it stays down: `down_at` +
    /// `silence_budget`.
    pub pages_at: Option<Ms>,
    /// The last event per source.
    pub last_seen: BTreeMap<String, Ms>,
    /// The watcher it is suppressed by.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub suppressed_by: Option<String>,
    /// A deny window that is open: it would page, and does not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub muted_by: Option<String>,
    /// Expected heartbeats missed in a row since the last success
    /// (hysteresis counts them).
    #[serde(default)]
    pub missed: u64,
    /// When it last came back from down.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recovered_at: Option<Ms>,
    /// One sentence.
    pub why: String,
}
