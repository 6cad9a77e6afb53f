//! Engine cases the scenario fixtures cannot show with one pack: a pack
//! change that voids an action, and a quorum filter that fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tenet_runtime::load::{load_files, RuleFile, Rules};
use tenet_safety_workflows::engine::{self, Deps, Fresh, PreflightRequest};
use tenet_safety_workflows::model::{Actor, State, Verdict};

const T0: i64 = 1_796_000_000_000;

fn rules(body: &str) -> Rules {
    load_files(
        vec![RuleFile {
            path: "safety.tenet".into(),
            text: format!("tenet 1\npack safety version \"1.0.0\"\n\n{body}"),
        }],
        "",
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn actor(id: &str, roles: &[&str]) -> Actor {
    Actor {
        id: id.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        tenant: Some("acme".into()),
        ..Actor::default()
    }
}

fn kept(r: &Rules) -> tenet_safety_workflows::model::ActionRecord {
    let pack = tenet_safety_workflows::pack(r).unwrap();
    engine::preflight(
        &pack,
        &actor("alice", &[]),
        &PreflightRequest {
            action: serde_json::json!({"verb": "drop", "tenant": "acme"}),
            ..Default::default()
        },
        &Fresh {
            id: "act-1".into(),
            nonce: "n".into(),
        },
        Deps::UP,
        T0,
    )
    .record
    .expect("kept")
}

#[test]
fn a_pack_that_now_asks_for_more_voids_the_action() {
    let before = rules("action drop {\n  match action.verb == \"drop\"\n  risk high\n  approvers [\"dba\"]\n  approvals 1\n}\n");
    let after = rules("action drop {\n  match action.verb == \"drop\"\n  risk high\n  approvers [\"dba\"]\n  approvals 2\n}\n");
    let rec = kept(&before);
    // An unrelated change (another block) does not void it.
    let unrelated = rules("action drop {\n  match action.verb == \"drop\"\n  risk high\n  approvers [\"dba\"]\n  approvals 1\n}\n\naction other {\n  match action.verb == \"other\"\n  risk low\n}\n");
    let pack = tenet_safety_workflows::pack(&unrelated).unwrap();
    let c = engine::review(
        &pack,
        &rec,
        &actor("dana", &["dba"]),
        Verdict::Approve,
        "",
        T0 + 1,
    )
    .unwrap();
    assert_eq!(c.record.state, State::Approved);
    // One that raises the count does.
    let pack = tenet_safety_workflows::pack(&after).unwrap();
    let f = engine::review(
        &pack,
        &rec,
        &actor("dana", &["dba"]),
        Verdict::Approve,
        "",
        T0 + 1,
    )
    .unwrap_err();
    assert_eq!(
        (f.status, f.code),
        (409, "requirements_changed"),
        "{}",
        f.detail
    );
    let void = f.void.expect("the action is voided");
    assert_eq!(void.state, State::Cancelled);
    assert_eq!(void.history.last().unwrap().what, "void");
    assert_eq!(void.version, rec.version + 1);
    // And every later step says how it ended.
    let f = engine::review(
        &pack,
        &void,
        &actor("dana", &["dba"]),
        Verdict::Approve,
        "",
        T0 + 2,
    )
    .unwrap_err();
    assert_eq!(f.code, "closed");
    assert!(
        f.detail
            .starts_with("the action was voided: the safety pack now requires"),
        "{}",
        f.detail
    );
}

#[test]
fn a_quorum_filter_that_fails_refuses_the_review_and_counts_nothing() {
    let r = rules(
        "action drop {\n  match action.verb == \"drop\"\n  risk high\n  approvers [\"dba\"]\n\n  quorum reasoned {\n    filter 10 / len(review.comment) > 1\n    approve 1\n  }\n}\n",
    );
    let rec = kept(&r);
    let pack = tenet_safety_workflows::pack(&r).unwrap();
    let f = engine::review(
        &pack,
        &rec,
        &actor("dana", &["dba"]),
        Verdict::Approve,
        "",
        T0 + 1,
    )
    .unwrap_err();
    assert_eq!((f.status, f.code), (500, "filter_error"), "{}", f.detail);
    assert!(f.detail.contains("reasoned"), "{}", f.detail);
    assert!(f.void.is_none());
    // With a comment the filter evaluates and counts.
    let c = engine::review(
        &pack,
        &rec,
        &actor("dana", &["dba"]),
        Verdict::Approve,
        "ok",
        T0 + 1,
    )
    .unwrap();
    assert_eq!(c.record.state, State::Approved);
}

#[test]
fn advisory_and_dry_run_matches_inform_and_require_nothing() {
    let r = rules(
        "action drop {\n  match action.verb == \"drop\"\n  risk high\n  enforcement advisory\n  approvers [\"dba\"]\n}\n\naction purge {\n  match action.verb == \"drop\"\n  risk high\n  dry_run true\n  approvers [\"dba\"]\n}\n",
    );
    let pack = tenet_safety_workflows::pack(&r).unwrap();
    let p = engine::preflight(
        &pack,
        &actor("alice", &[]),
        &PreflightRequest {
            action: serde_json::json!({"verb": "drop"}),
            ..Default::default()
        },
        &Fresh {
            id: "act-1".into(),
            nonce: "n".into(),
        },
        Deps::UP,
        T0,
    );
    assert_eq!(p.answer.outcome, "nothing_required");
    assert!(p.record.is_none());
    let blocks: Vec<&str> = p
        .answer
        .advisories
        .iter()
        .map(|m| m.block.as_str())
        .collect();
    assert_eq!(blocks, ["drop", "purge"]);
}
