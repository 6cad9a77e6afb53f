//! An in-memory notifier for offline commands and tests: it keeps what it
//! is sent and sends nothing anywhere.
//!
//! An offline command (`tenet <module> replay`) runs the same engine as
//! the server and hands its notifications to a `Recorder`, so that it can
//! print what *would* have been sent. Tests use it to see what a route
//! sent, and [`Recorder::fail_with`] to play a receiver that is down.
//! It has no breaker and never retries: one send is one attempt.

use crate::{BoxFuture, BreakerState, Delivery, DeliveryError, Notification, Notifier, Stats};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Keeps every notification it is sent, in order (duplicates included).
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sent: Vec<Notification>,
    failing: Option<String>,
    stats: Stats,
}

impl Recorder {
    /// A recorder that takes everything.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// From now on, fail every send with `message` (`Some`), or take them
    /// again (`None`). A failed notification is not kept.
    pub fn fail_with(&self, message: Option<&str>) {
        self.lock().failing = message.map(str::to_owned);
    }

    /// The notifications taken so far, in order.
    pub fn sent(&self) -> Vec<Notification> {
        self.lock().sent.clone()
    }

    /// The notifications taken so far, leaving none.
    pub fn take(&self) -> Vec<Notification> {
        std::mem::take(&mut self.lock().sent)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, n: &Notification) -> Delivery {
        let mut inner = self.lock();
        inner.stats.attempts += 1;
        match inner.failing.clone() {
            None => {
                inner.sent.push(n.clone());
                inner.stats.delivered += 1;
                inner.stats.consecutive_failures = 0;
                Delivery::Delivered { attempts: 1 }
            }
            Some(message) => {
                let delivery = Delivery::Failed {
                    attempts: 1,
                    error: DeliveryError::Scripted { message },
                };
                inner.stats.failed += 1;
                inner.stats.consecutive_failures =
                    inner.stats.consecutive_failures.saturating_add(1);
                inner.stats.last_error = delivery
                    .reason()
                    .map(|reason| format!("notification `{}`: {reason}", n.id));
                delivery
            }
        }
    }
}

impl Notifier for Recorder {
    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Delivery> {
        Box::pin(async move { self.record(notification) })
    }

    fn stats(&self) -> Stats {
        let mut stats = self.lock().stats.clone();
        stats.breaker = BreakerState::Closed;
        stats
    }

    fn target(&self) -> String {
        "recorder (in memory)".into()
    }
}
