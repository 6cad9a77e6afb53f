//! meta-monitor — Watching the watchers (blueprint section 94).
//!
//! **What it decides** (its pack, `rules/meta-monitor/`, pack `meta_monitor`):
//! the watchers — what each expects (a `cadence`, a `cron` or a systemd
//! `calendar`, in a `tz`), its `grace`, `quorum` of declared `sources`,
//! `depends_on`, `min_events`, `silence_budget`, deny windows, hysteresis,
//! and `exempt_when` over a tenant's facts.
//!
//! **What comes in:** heartbeat events (`success`, `start`, `fail`, `log`,
//! `pause`, `resume`; a source, an `at`, an optional run id or sequence
//! number, exit status and count), a tenant's facts, and `now`.
//!
//! **What goes out:** per watcher and tenant, its state (`new`, `up`,
//! `late`, `down`, `paused`, `started`, `exempt`, `suppressed`) with when
//! it is expected, when it went down, when it pages, and one sentence
//! saying why. With only a schedule and a grace, the states are
//! Healthchecks.io's for the same pings and times, except in the repeated
//! hour of a daylight-saving change, where a next expected time is never
//! earlier than the heartbeat it follows (`docs/meta-monitor.md`).
//!
//! **Guarantees:** duplicates (same source and run id, or same source,
//! sequence number and time)
//! count once, so replaying a log twice changes nothing; a watcher is not
//! declared down while heartbeats that could have saved it are still
//! being applied (the watermark); the same events and `now` give the same
//! answer.
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | events, what an instance keeps per source, the states, the stored transitions ([`model::next`]) |
//! | [`watchers`] | the pack's watchers as plain values, parents before children |
//! | [`engine`] | pure functions: apply an event, evaluate every watcher at `now`, replay a log |
//! | [`incidents`] | meta-incidents from the states: open after the silence budget (and hysteresis), mute under deny windows, re-alert, resolve |
//! | [`render`] | statuses as JSON and as a table; events as written in a log or a body |
//! | [`store`] | the module's tables and queries in the shared store; its migrations, keyed by [`MODULE`] and version |
//!
//! The module has the shape every module engine has (`docs/modules.md`).
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module.

pub mod engine;
pub mod incidents;
pub mod model;
pub mod render;
pub mod store;
pub mod watchers;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "meta-monitor";

/// The pack that decides for this module.
pub const PACK: &str = "meta_monitor";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
