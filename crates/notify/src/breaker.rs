//! The circuit breaker: a state machine driven by the deliveries' outcomes,
//! with the time passed in (so that its tests need no sleeps).
//!
//! ```text
//!            threshold unwell deliveries in a row
//!   Closed ─────────────────────────────────────────▶ Open
//!     ▲                                               │  ▲
//!     │ probe: receiver up                 cool-down  │  │ probe: receiver unwell
//!     │                                    passed,    │  │ (or the probe was dropped)
//!     │                                    next send  ▼  │
//!     └─────────────────────────────────────────── HalfOpen
//! ```
//!
//! "Unwell" is a delivery that failed on a connection error, a timeout, a
//! 5xx or a 429 (after its retries). Any other answer, a 4xx included,
//! shows the receiver is up: it resets the count and closes the breaker.
//! In half-open, exactly one delivery (the probe, one attempt, no retries)
//! goes through; the others are refused until it ends.

use crate::BreakerState;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cool_down: Duration,
    state: State,
    consecutive: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// What the breaker lets a delivery do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Go through, with retries.
    Through,
    /// Go through as the half-open probe: one attempt.
    Probe,
    /// Do not contact the receiver; the next probe may go in `retry_in`.
    Refuse { retry_in: Duration },
}

/// What a delivery told about the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    Up,
    Unwell,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cool_down,
            state: State::Closed,
            consecutive: 0,
        }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Admit {
        match self.state {
            State::Closed => Admit::Through,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                Admit::Probe
            }
            State::Open { until } => Admit::Refuse {
                retry_in: until.saturating_duration_since(now),
            },
            // The probe's own outcome decides; until then, a cool-down is
            // the honest upper bound to give.
            State::HalfOpen => Admit::Refuse {
                retry_in: self.cool_down,
            },
        }
    }

    pub(crate) fn record(&mut self, now: Instant, health: Health) {
        match health {
            Health::Up => {
                self.consecutive = 0;
                self.state = State::Closed;
            }
            Health::Unwell => {
                self.consecutive = self.consecutive.saturating_add(1);
                if self.state == State::HalfOpen || self.consecutive >= self.threshold {
                    self.open(now);
                }
            }
        }
    }

    /// The probe ended without an outcome (its future was dropped): open
    /// again, so that the breaker is never stuck half-open.
    pub(crate) fn abandon_probe(&mut self, now: Instant) {
        if self.state == State::HalfOpen {
            self.open(now);
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open {
            until: now + self.cool_down,
        };
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_threshold_unwell_deliveries_in_a_row() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, COOL);
        for _ in 0..2 {
            assert_eq!(b.admit(t0), Admit::Through);
            b.record(t0, Health::Unwell);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 2);
        b.record(t0, Health::Unwell);
        assert_eq!(b.state(), BreakerState::Open);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            b.admit(later),
            Admit::Refuse {
                retry_in: Duration::from_secs(20)
            }
        );
    }

    #[test]
    fn an_answer_from_the_receiver_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, COOL);
        b.record(t0, Health::Unwell);
        b.record(t0, Health::Up);
        b.record(t0, Health::Unwell);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 1);
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_and_its_outcome_decides() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.record(t0, Health::Unwell);
        let t1 = t0 + COOL;
        assert_eq!(b.admit(t1), Admit::Probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.admit(t1), Admit::Refuse { retry_in: COOL });

        // A failed probe opens again for a whole cool-down.
        b.record(t1, Health::Unwell);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit(t1 + COOL - Duration::from_millis(1)),
            Admit::Refuse {
                retry_in: Duration::from_millis(1)
            }
        );

        // A good one closes it.
        let t2 = t1 + COOL;
        assert_eq!(b.admit(t2), Admit::Probe);
        b.record(t2, Health::Up);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
        assert_eq!(b.admit(t2), Admit::Through);
    }

    #[test]
    fn a_dropped_probe_opens_again() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.record(t0, Health::Unwell);
        assert_eq!(b.admit(t0 + COOL), Admit::Probe);
        b.abandon_probe(t0 + COOL);
        assert_eq!(b.state(), BreakerState::Open);
        // Abandoning when not half-open changes nothing.
        let mut closed = Breaker::new(1, COOL);
        closed.abandon_probe(t0);
        assert_eq!(closed.state(), BreakerState::Closed);
    }
}
