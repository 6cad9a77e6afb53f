//! What a notifier has done so far, for health checks and metrics.

use serde::Serialize;

/// The circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Deliveries go through.
    #[default]
    Closed,
    /// Deliveries are refused until the cool-down has passed.
    Open,
    /// One probe is in flight; other deliveries are refused until it ends.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open`, `half_open`: the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A snapshot of one notifier's counters. Counts are since the notifier
/// was made; nothing is shared between notifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Stats {
    /// Notifications the receiver took.
    pub delivered: u64,
    /// Notifications that failed after their attempts.
    pub failed: u64,
    /// Notifications refused by the open breaker (receiver not contacted).
    pub refused: u64,
    /// HTTP attempts made, retries included.
    pub attempts: u64,
    pub breaker: BreakerState,
    /// Failed deliveries in a row that count towards opening the breaker.
    pub consecutive_failures: u32,
    /// The last failure or refusal, as [`crate::Delivery::reason`] words
    /// it, with the notification's id; cleared by nothing, so that a
    /// recovered notifier still shows what last went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Stats {
    /// Degraded: the breaker is not closed, or the last delivery that
    /// tells about the receiver failed. A health check reports it; the
    /// server keeps serving.
    pub fn degraded(&self) -> bool {
        self.breaker != BreakerState::Closed || self.consecutive_failures > 0
    }
}
