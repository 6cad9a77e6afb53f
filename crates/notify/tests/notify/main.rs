//! tenet-notify against a real receiver on loopback (one test binary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod docs;
mod receiver;
mod recorder;
mod webhook;

use serde_json::json;
use tenet_notify::Notification;

/// A notification as a module engine would return it.
pub fn notification(id: &str) -> Notification {
    Notification {
        id: id.into(),
        module: "meta-monitor".into(),
        kind: "silence".into(),
        tenant: Some("acme".into()),
        subject: "watcher/nightly-backup".into(),
        severity: "high".into(),
        payload: json!({ "last_seen": "2026-12-04T09:00:00.000Z", "budget": "1h" }),
        created_at: "2026-12-04T10:00:00.000Z".into(),
    }
}
