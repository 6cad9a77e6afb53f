//! rtx-export — Right-to-explanation bundles (blueprint section 95).
//!
//! **What it decides** (its pack, `rules/rtx-export/`, pack `rtx_export`):
//! masking policies per jurisdiction, what a bundle must contain.
//!
//! **What it does** (the engine, from issue #16 on): assembles right-to-explanation bundles deterministically, redacts, hashes and signs them, revokes and scrubs.
//!
//! The module has the shape every module engine has (`docs/modules.md`);
//! the engine is split along its stages:
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | the records (evidence, decisions, scores, approvals, access log entries), the export request, the export and its state machine |
//! | [`engine`] | [`engine::make`]: (export, records, pack, key) → bundle bytes, digest, signed statement; record merging; audit events. No I/O but the writer it is given, no clock reads |
//! | [`mask`] | the pack's masking policies applied to a record: drop, redact, hash commitments, the redaction manifest |
//! | [`bundle`] | the `tenet.rtx/v1` bundle, streamed as canonical JSON with its digest |
//! | [`canonical`] | RFC 8785 canonical JSON, JCS key order, the hashing writer |
//! | [`sign`] | keys, the in-toto statement, the DSSE envelope |
//! | [`verify`] | verification (signature, digest, revocation) and the `.rtx` file |
//! | [`store`] | the module's tables and queries in the shared store; its migrations, keyed by [`MODULE`] and version |
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module: the server gathers the records the
//! other modules hold and passes them in.

pub mod bundle;
pub mod canonical;
pub mod engine;
pub mod mask;
pub mod model;
pub mod sign;
pub mod store;
pub mod verify;

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
