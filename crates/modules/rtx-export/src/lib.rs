//! rtx-export — Right-to-explanation bundles (blueprint section 95).
//!
//! **What it decides** (its pack, `rules/rtx-export/`, pack `rtx_export`):
//! masking policies per jurisdiction, what a bundle must contain.
//!
//! **What it does** (the engine, from issue #16 on): assembles right-to-explanation bundles deterministically, redacts, hashes and signs them, revokes and scrubs.
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
pub const MODULE: &str = "rtx-export";

/// The pack that decides for this module.
pub const PACK: &str = "rtx_export";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
