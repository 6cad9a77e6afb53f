//! autoconfig — Safe defaults and opinionated profiles (blueprint section 93).
//!
//! **What it decides** (its pack, `rules/autoconfig/`, pack `autoconfig`):
//! baselines per profile (secure default, sandbox, regulated): settings with `at_least` / `at_most` / `equals`, dependency order, change windows.
//!
//! **What it does** (the engine, from issue #15 on): apply (idempotent, monotonic: never reduces safety), diff live vs baseline with a risk per delta, remediate safe deltas, advise-only mode.
//!
//! **Built so far:** [`baselines`] (the pack's baselines with `extends`
//! resolved and settings in application order) and [`plan`] (one
//! tenant's live documents against a baseline: a delta per setting with
//! the comparator's judgement and the smallest change that never lowers
//! protection); `tenet autoconfig plan` runs it offline. The comparators
//! are the language's (`tenet_runtime::dsl::compare`).
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

pub mod apply;
pub mod baselines;
pub mod config_center;
pub mod engine;
pub mod model;
pub mod plan;
pub mod store;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "autoconfig";

/// The pack that decides for this module.
pub const PACK: &str = "autoconfig";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
