//! control-plane — Fleet management and policy fan-out (blueprint section 89).
//!
//! **What it decides** (its pack, `rules/control-plane/`, pack `control_plane`):
//! rollout plans (canary → regional → global), auto-pause thresholds, blast-radius guards, prod allowlists.
//!
//! **What it does** (the engine, from issue #16 on): a cluster registry and inventory, drift detection, fan-out action runs with per-cluster status, resume, dry-run.
//!
//! The module has the shape every module engine has (`docs/modules.md`):
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | a registered cluster and its observed inventory, a desired state, a drift |
//! | [`action`] | a registered bundle; an action run (one bundle rolled out) with its per-cluster cursor and their state machines |
//! | [`plan`] | a rollout over a fleet, offline: stages, waves (`max_parallel` rounded down, at least 1), windows, guard verdicts |
//! | [`engine`] | pure functions: drift (bundle fingerprint, config hashes, semver deltas, capabilities; no or stale inventory), the desired state a cluster's labels select, new drifts; no I/O, no clock reads |
//! | [`rollout`] | the fan-out, pure: what to call now, what the answers do to the run (waves, bake, gates and their limits, `on_fail`, circuit breakers, auto-pause, resume) |
//! | [`store`] | the registry, the desired states and the kept drift on both stores; a drift check is one transaction that announces each new drift once; bundles and action runs, each change a conditional update with its audit events |
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module.

pub mod action;
pub mod engine;
pub mod model;
pub mod plan;
pub mod rollout;
pub mod store;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "control-plane";

/// The pack that decides for this module.
pub const PACK: &str = "control_plane";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
