//! What goes in ([`Notification`]) and what comes out ([`Delivery`]).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// An alert or an approval request, as an engine returns it. Serialized
/// as is, it is the body a webhook posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// Unique per notification, and the same on every retry: the
    /// receiver's idempotency key.
    pub id: String,
    /// The module that made it (`meta-monitor`).
    pub module: String,
    /// What it is, in the module's words (`silence`, `approval-request`).
    pub kind: String,
    /// The tenant it concerns, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What it is about (a watcher, an approval, a finding).
    pub subject: String,
    /// A severity or level word from the module's pack, passed through.
    pub severity: String,
    /// The module's details.
    #[serde(default)]
    pub payload: Json,
    /// When the engine made it (RFC 3339, UTC), from the `now` it was given.
    pub created_at: String,
}

/// How one [`crate::Notifier::send`] went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivery {
    /// The receiver took it (a 2xx answer).
    Delivered { attempts: u32 },
    /// Every attempt failed, or an answer said not to retry; `error` is the
    /// last attempt's.
    Failed { attempts: u32, error: DeliveryError },
    /// The circuit breaker is open: the receiver was not contacted. A probe
    /// is let through after `retry_in_ms`.
    Refused { retry_in_ms: u64 },
}

impl Delivery {
    /// `delivered`, `failed` or `refused`: the audit event's outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            Delivery::Delivered { .. } => "delivered",
            Delivery::Failed { .. } => "failed",
            Delivery::Refused { .. } => "refused",
        }
    }

    /// Whether the receiver took it.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Delivery::Delivered { .. })
    }

    /// Attempts made (0 when refused).
    pub fn attempts(&self) -> u32 {
        match self {
            Delivery::Delivered { attempts } | Delivery::Failed { attempts, .. } => *attempts,
            Delivery::Refused { .. } => 0,
        }
    }

    /// Why it was not delivered, in one sentence: the audit event's reason.
    pub fn reason(&self) -> Option<String> {
        match self {
            Delivery::Delivered { .. } => None,
            Delivery::Failed { attempts, error } => Some(match attempts {
                1 => format!("{error} (1 attempt)"),
                n => format!("{error} ({n} attempts)"),
            }),
            Delivery::Refused { retry_in_ms } => Some(format!(
                "the circuit breaker is open after repeated failures; the next probe in {retry_in_ms} ms"
            )),
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryError {
    /// No connection (refused, unreachable, DNS, TLS handshake).
    #[error("could not connect to {target}: {message}")]
    Connect { target: String, message: String },
    /// No complete answer within the per-attempt timeout.
    #[error("no answer from {target} within {timeout_ms} ms")]
    Timeout { target: String, timeout_ms: u64 },
    /// The receiver answered with a status other than 2xx. `body` is the
    /// start of its answer.
    #[error("{target} answered {status}{}", body_suffix(.body))]
    Status {
        target: String,
        status: u16,
        body: String,
    },
    /// The receiver asked to wait longer than the delivery may
    /// (`Retry-After` past `max_wait`).
    #[error("{target} answered {status} and asked to retry in {wait_ms} ms, past the {max_wait_ms} ms this delivery may wait (`max_wait`)")]
    WaitTooLong {
        target: String,
        status: u16,
        wait_ms: u64,
        max_wait_ms: u64,
    },
    /// Anything else between us and the receiver (a broken connection, a
    /// malformed answer).
    #[error("sending to {target} failed: {message}")]
    Transport { target: String, message: String },
    /// The notification cannot be sent as it is (an id no header can
    /// carry); the receiver was not contacted.
    #[error("the notification cannot be sent: {message}")]
    Invalid { message: String },
    /// A failure the [`crate::Recorder`] was told to answer.
    #[error("{message}")]
    Scripted { message: String },
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl DeliveryError {
    /// Whether another attempt may succeed: connection errors, timeouts,
    /// transport errors, 5xx and 429. Another 4xx, a redirect, or a wait
    /// past the limit is final.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Connect { .. }
            | DeliveryError::Timeout { .. }
            | DeliveryError::Transport { .. } => true,
            DeliveryError::Status { status, .. } => *status == 429 || *status >= 500,
            DeliveryError::WaitTooLong { .. }
            | DeliveryError::Invalid { .. }
            | DeliveryError::Scripted { .. } => false,
        }
    }

    /// Whether it says the receiver is unwell (and so counts towards
    /// opening the breaker): what is retryable, and a wait past the limit.
    /// A 4xx says the request was wrong, not the receiver.
    pub fn receiver_unwell(&self) -> bool {
        self.retryable() || matches!(self, DeliveryError::WaitTooLong { .. })
    }
}
