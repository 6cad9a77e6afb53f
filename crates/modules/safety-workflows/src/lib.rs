//! safety-workflows — Guardrails for error-prone actions (blueprint section 91).
//!
//! **What it decides** (its pack, `rules/safety-workflows/`, pack `safety`):
//! the catalog of high-risk actions, thresholds, required controls (dual control, justification, timed hold), approver roles.
//!
//! **What it does** (the engine, from issue #13 on): preflight / confirm / execute with approvals bound to the action descriptor, expiring, nonce replay protection, simulation mode, fail-closed when a dependency is down.
//!
//! The module has the shape every module engine has (`docs/modules.md`):
//!
//! | file | holds |
//! |---|---|
//! | [`model`] | the module's records as plain types, the state machine and its legal transitions |
//! | [`engine`] | pure functions: (records, facts, `now`, the pack) → (new records, decisions, audit events, notifications); no I/O, no clock reads |
//! | [`derive`] | the engine's first half: what the pack requires of a descriptor, the digest binding an action to it, the summary sentence |
//! | [`answer`] | how an action is shown: the preflight answer, control states, links to the next legal steps |
//! | [`store`] | the module's tables and queries in the shared store; its migrations, keyed by [`MODULE`] and version |
//!
//! Its routes live in `crates/server/src/routes/`, its commands in
//! `crates/tenet`. It shares with the other modules only what
//! `tenet-runtime` (the [pack handle](tenet_runtime::pack::PackHandle),
//! decisions) and `tenet-store` (the store, the audit envelope) give it;
//! it never imports another module.

pub mod answer;
pub mod derive;
pub mod engine;
pub mod model;
pub mod store;

use tenet_runtime::load::Rules;
use tenet_runtime::pack::{PackError, PackHandle};

/// The module's name: its rules folder, its migrations' key, the `source`
/// of its audit events.
pub const MODULE: &str = "safety-workflows";

/// The pack that decides for this module.
pub const PACK: &str = "safety";

/// This module's pack in `rules`.
pub fn pack(rules: &Rules) -> Result<PackHandle<'_>, PackError> {
    PackHandle::find(rules, PACK)
}

/// The worked example of `docs/modules.md`, kept true.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod docs_example {
    use tenet_runtime::decision::DecideOptions;
    use tenet_runtime::dsl::Value;

    #[test]
    fn the_handle_decides_and_the_tables_migrate() {
        let rules = tenet_runtime::load::load_bundled().unwrap();
        let safety = crate::pack(&rules).unwrap();
        let input = Value::from_json(&serde_json::json!({
            "action": {"verb": "delete", "rows": 20000, "tenant": "acme"}
        }));
        let now = tenet_runtime::clock::Timestamp::from_unix(1_796_000_000, 0).rfc3339();
        let d = safety.decide(
            &input,
            &DecideOptions {
                now: Some(now),
                ..Default::default()
            },
        );
        assert!(d.blocking, "{d:?}");
        assert_eq!(d.matched[0].block, "mass-delete");
        let dir = tempfile::tempdir().unwrap();
        let mut store = tenet_store::Store::open(&dir.path().join("tenet.db")).unwrap();
        store.migrate(crate::store::MIGRATIONS).unwrap();
        store.migrate(crate::store::MIGRATIONS).unwrap();
    }
}
