//! Notify: how the module engines' alerts and approval requests leave tenet.
//!
//! **In**: a [`Notification`]. An engine returns it as data, beside its
//! records and audit events; it does not send it. It carries an `id`
//! (the idempotency key: the same alert sent twice has the same id), the
//! `module` and `kind` that made it (`meta-monitor`, `silence`), the
//! `tenant`, the `subject` it is about, a `severity` word taken from the
//! module's pack (never matched here), a JSON `payload`, and `created_at`
//! (RFC 3339, passed in like every `now` in tenet).
//!
//! **Out**: a [`Delivery`], the outcome of one [`Notifier::send`]:
//!
//! - `delivered` after N attempts;
//! - `failed` after N attempts, with the last error (connection, timeout,
//!   the receiver's status and the start of its answer);
//! - `refused`: the circuit breaker is open, the receiver was not
//!   contacted, and the delivery says when a probe will be let through.
//!
//! **Guarantees**
//!
//! - No failure is silent: every `send` answers a [`Delivery`] (never an
//!   `Err` to drop, never a panic), counts it in the notifier's [`Stats`]
//!   (delivered, failed, refused, breaker state, last error) for health
//!   and metrics, and logs a failure or a refusal at `warn`. The caller
//!   records the outcome as an audit event ([`Delivery::outcome`],
//!   [`Delivery::reason`]).
//! - At least once, not exactly once: an attempt that timed out may still
//!   have reached the receiver, and a retry sends it again, with the same
//!   `Idempotency-Key`. Receivers deduplicate by the id.
//! - Bounded: a delivery takes at most `retries + 1` attempts of at most
//!   `timeout` each, plus waits that together stay within `max_wait`.
//! - No clock reads but the monotonic ones that timeouts, backoff and the
//!   breaker's cool-down need (and the wall clock to read a `Retry-After`
//!   date); no global state: every notifier keeps its own counters.
//! - Secrets (the bearer token, the signing key) are never logged, shown
//!   in `{:?}`, put in an error or in [`Stats`]; neither is the webhook
//!   URL's path, which for many receivers is itself a secret.
//!
//! **Notifiers**
//!
//! | notifier | for |
//! |---|---|
//! | [`Webhook`] (feature `webhook`, on by default) | the server: a JSON POST per notification, with timeouts, retries with backoff and jitter, and a circuit breaker ([`config::WebhookConfig`]) |
//! | [`Recorder`] | offline commands and tests: keeps what it is sent in memory, sends nothing |
//!
//! Engines depend on this crate without default features (the workspace
//! entry does): they get the data types and no network code.
//! `docs/notify.md` has the configuration, the retry and breaker
//! semantics, and how a module's route sends what its engine returns.

pub mod config;
mod notification;
mod recorder;
mod stats;

#[cfg(feature = "webhook")]
mod breaker;
#[cfg(feature = "webhook")]
pub mod fetch;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use notification::{Delivery, DeliveryError, Notification};
pub use recorder::Recorder;
pub use stats::{BreakerState, Stats};
#[cfg(feature = "webhook")]
pub use webhook::Webhook;

use std::future::Future;
use std::pin::Pin;

/// A future a [`Notifier`] returns: boxed, so that `Arc<dyn Notifier>`
/// works.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that delivers notifications: a webhook, a recorder.
///
/// Object-safe: a server holds an `Arc<dyn Notifier>` and does not know
/// which one it has.
pub trait Notifier: Send + Sync {
    /// Delivers one notification and says how it went. Never fails
    /// otherwise: every problem is a [`Delivery`] other than delivered.
    fn send<'a>(&'a self, notification: &'a Notification) -> BoxFuture<'a, Delivery>;

    /// Counts so far and the current state, for health and metrics.
    fn stats(&self) -> Stats;

    /// Where notifications go, safe to show (a webhook's scheme, host and
    /// port; never a secret).
    fn target(&self) -> String;
}
