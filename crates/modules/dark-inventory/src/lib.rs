//! dark-inventory — Shadow data and rogue paths (blueprint section 96).
//!
//! **What it decides** (its pack, `rules/dark-inventory/`, pack `dark_inventory`):
//! correlation rules: which discovered resources must match which catalog entries, severity, SLA.
//!
//! **What it does**: ingests discoveries from several sources, dedupes into findings with merged provenance, ack / waive with expiry, age and SLA clocks, burn-down trends.
//!
//! The module has the shape every module engine has (`docs/modules.md`):
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | the records: a discovery batch, catalog entries, a finding with its provenance, waivers, closures and tasks; its status at a time |
//! | [`policy`] | what the pack declares, read once: correlate rules, sources, the lifecycle |
//! | [`correlate`] | one resource against the rules and the catalog: ignored, registered, or a sighting |
//! | [`engine`] | pure functions: ingest a run, ack, waive, tasks, the SLA clock, a finding as it stood at a time; no I/O, no clock reads |
//! | [`trends`] | burn-down by severity or age over time, JSON and SVG |
//! | [`parsers`] | discovery batches from formats users already have: AWS Config, `kubectl -o json`, tenet's semantic diff |
//! | [`stream`] | a batch read from JSON one resource at a time (memory bounded by the findings, not the input) |
//! | [`store`] | the module's tables and queries in the shared store; its migrations, keyed by [`MODULE`] and version |
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module.

pub mod correlate;
pub mod engine;
pub mod model;
pub mod parsers;
pub mod policy;
pub mod store;
pub mod stream;
pub mod trends;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "dark-inventory";

/// The pack that decides for this module.
pub const PACK: &str = "dark_inventory";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}
