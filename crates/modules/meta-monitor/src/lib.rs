//! meta-monitor — Watching the watchers (blueprint section 94).
//!
//! **What it decides** (its pack, `rules/meta-monitor/`, pack `meta_monitor`):
//! watchers: expected cadence, silence budget, grace, quorum, seasonal exceptions, dependencies.
//!
//! **What it does** (the engine, from issue #14 on): tracks heartbeats (duplicates ignored), detects silence and anomalously low activity, meta-incidents, the cascading-silence graph, its own proof-of-life.
//!
//! The module has the shape every module engine has (`docs/modules.md`):
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | the module's records as plain types, the state machine and its legal transitions |
//! | [`engine`] | pure functions: (records, facts, `now`, the pack) → (new records, decisions, audit events, notifications); no I/O, no clock reads |
//! | [`store`] | the module's tables and queries in the shared store; its migrations, keyed by [`MODULE`] and version |
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module.

pub mod engine;
pub mod model;
pub mod store;

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
