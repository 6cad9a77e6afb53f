//! The rtx-export module's tests, in one binary: masking per jurisdiction
//! (a regression table), the bundle (determinism, canonical JSON, a
//! snapshot), signing and verification (tampering, wrong key, revocation),
//! and the store on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bundle;
mod masking;
mod store;
mod verify;

use serde_json::{json, Value};
use std::path::PathBuf;
use tenet_rtx_export::engine::{self, Made};
use tenet_rtx_export::model::*;
use tenet_rtx_export::sign::Signer;
use tenet_runtime::load::{load_dir, Rules};

/// 2026-12-01T00:00:00Z.
pub const T0: i64 = 1_796_083_200_000;
pub const H: i64 = 3_600_000;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

pub fn rules() -> Rules {
    load_dir(&root().join("rules/rtx-export")).unwrap()
}

pub fn signer() -> Signer {
    Signer::from_seed(&[42; 32])
}

pub fn request(jurisdiction: Option<&str>, requester: &str, facts: Value) -> ExportRequest {
    ExportRequest::from_json(&json!({
        "subject": "s-1",
        "window": {"from": T0, "to": T0 + 24 * H},
        "requestor": {"id": "req-7", "type": requester},
        "purpose_of_use": "art-15-access",
        "jurisdiction": jurisdiction,
        "subject_facts": facts,
    }))
    .unwrap()
}

pub fn export_for(id: &str, request: ExportRequest) -> Export {
    let mut e = Export::new(id, "acme", request, "dpo@acme", T0 + 30 * H);
    e.snapshot_at = T0 + 30 * H;
    e
}

/// The subject's records: a decision by a licensed model with every field
/// the pack masks, evidence from an in-house model, a score, an approval
/// and an earlier read of an export.
pub fn records() -> Vec<Record> {
    let decision: DecisionRecord = serde_json::from_value(json!({
        "id": "d1", "at": T0 + H, "pack": "credit", "pack_version": "2.1.0",
        "bundle": "b".repeat(64), "rules": ["limit-cut"], "outcome": "deny",
        "reason": "debt-to-income above 45%",
        "subject_id": "s-1", "device_id": "dev-9", "ip_address": "203.0.113.7",
        "guardian_id": "g-1",
        "features": {
            "ethnicity": "group-a", "health_flags": ["asthma"], "religion": "none",
            "precise_geolocation": "48.8566,2.3522", "income": 52000,
            "behavioural_signals": {"night_logins": 12},
        },
        "raw_inputs": {"free_text": "I lost my job in May", "form": "A-12"},
        "reviewer": {"name": "Ana Reviewer", "email": "ana@acme.example"},
        "co_applicants": [{"name": "Bo"}],
        "referee_notes": "call back",
        "model": {"provider": "acme-scoring", "name": "fraud-v3",
                  "raw_scores": [0.91, 0.12], "feature_weights": {"income": -0.4}},
    }))
    .unwrap();
    let evidence = Evidence::from_json(&json!({
        "subject": "s-1", "at": T0 + H + 5,
        "model": {"name": "credit-limit", "version": "7", "provider": "in-house",
                  "training_data": "snap-2026-11"},
        "score": 0.82,
        "xai": {"top_factors": [{"feature": "income", "weight": -0.4}]},
        "feature_provenance": [{"feature": "income", "source": "payroll-api", "version": "3"}],
        "consent": {"basis": "contract", "notice": "privacy-notice-v4"},
        "source_id": "model-serving",
    }))
    .unwrap();
    let score: ScoreRecord = serde_json::from_value(json!({
        "id": "sc1", "at": T0 + 2 * H, "profile": "retail", "score": 71.5,
        "explanation": {"top": ["payment history"]},
    }))
    .unwrap();
    let approval: ApprovalRecord = serde_json::from_value(json!({
        "id": "ap1", "at": T0 + 3 * H, "action": "limit-override", "state": "denied",
        "approvers": ["lead@acme"], "reason": "policy",
    }))
    .unwrap();
    let access = AccessLogEntry {
        id: "acc-000000000001".into(),
        export_id: "x-0".into(),
        at: T0 + 4 * H,
        actor: "dpo@acme".into(),
        action: AccessAction::Read,
        purpose: Some("earlier request".into()),
    };
    let mut all = vec![
        Record::Decision(decision),
        Record::Evidence(evidence),
        Record::Score(score),
        Record::Approval(approval),
        Record::Access(access),
    ];
    engine::sort(&mut all);
    all
}

/// Makes `export`'s bundle from `records`.
pub fn make(rules: &Rules, export: &Export, records: Vec<Record>) -> (Vec<u8>, Made) {
    let pack = tenet_rtx_export::pack(rules).unwrap();
    engine::make(Vec::new(), pack, &signer(), export, records, None).unwrap()
}

pub fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}
