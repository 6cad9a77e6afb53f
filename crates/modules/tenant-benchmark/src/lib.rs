//! tenant-benchmark — Readiness and maturity scoring (blueprint section 92).
//!
//! **What it decides** (its pack, `rules/tenant-benchmark/`, pack `tenant_benchmark`):
//! profiles: factor weights, badge thresholds with hysteresis, decay, missing-data fallbacks, a cap on any single factor's share.
//!
//! **What it does** (the engine, from issue #14 on): scores per tenant and profile with per-factor contributions, badge transitions, history and backfill when a profile version changes.
//!
//! **Built:** [`profiles`] (the pack's profiles and badges as plain
//! values), [`score`] (one tenant, one profile, a `now` → a score with its
//! coverage and each factor's contribution, the fallbacks and the cap),
//! [`engine`] (an evaluation with badges, the replay a backfill runs, the
//! score diff), [`store`] (tenants, signals, evaluations on both stores),
//! [`render`] (the factor table, the SVG history). The routes are in
//! `crates/server/src/routes/benchmark/`, `tenet score` in `crates/tenet`;
//! `docs/tenant-benchmark.md` has the semantics and a worked example.
//!
//! The module has the shape every module engine has (`docs/modules.md`):
//!
//! | file | holds |
//! |---|---|
//! | [`profiles`] | the pack's profiles, factors and their fields as plain values |
//! | [`score`] | the pure scoring of one tenant on one profile |
//! | [`render`] | the factor table and the SVG history |
//! | [`time`] | times as RFC 3339 in JSON |
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
pub mod profiles;
pub mod render;
pub mod score;
pub mod store;
pub mod time;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "tenant-benchmark";

/// The pack that decides for this module.
pub const PACK: &str = "tenant_benchmark";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
