//! The fan-out engine alone (no I/O, `now` given): a run stepped through
//! `due`, `mark`, `record` and `advance` with made-up answers — waves in
//! order, the breaker's backoff and quarantine, a closed window that says
//! when it opens, a restart that finds a push in flight, on_fail, and what
//! resume may and may not do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::collections::BTreeMap;
use tenet_control_plane::action::{ActionRun, Bundle, ClusterState, RunState};
use tenet_control_plane::plan::{plan, Cluster};
use tenet_control_plane::rollout::{
    advance, due, mark, record, resume, start, Member, Outcome, RolloutSpec, Work,
};
use tenet_runtime::load::{load_files, RuleFile, Rules};

/// Wednesday 2026-12-02 10:00 UTC.
const WEDNESDAY: i64 = 1_796_205_600_000;
const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// The drill rollout; `policy` is its outcome lines (`on_fail pause`).
fn rules(policy: &str, window: &str) -> Rules {
    let text = format!(
        r#"tenet 1
pack control_plane version "1.0.0"

rollout drill {{
  bundle           "drill-bundle"
  target           {{labels: {{drill: "true"}}}}
  {policy}
  breaker_failures 2
  retry_backoff    1s
{window}
  stage canary {{
    select              {{labels: {{ring: "canary"}}}}
    max_parallel        1
    bake                10s
    pause_on_error_rate 1%

    gate errors {{
      metric        metrics.error_rate
      fail_when     metrics.error_rate > 1%
      interval      5s
      failure_limit 0
    }}
  }}

  stage fleet {{
    select       {{labels: {{ring: "fleet"}}}}
    max_parallel 2
  }}
}}
"#
    );
    load_files(
        vec![RuleFile {
            path: "cp.tenet".into(),
            text,
        }],
        "",
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(rules: &Rules) -> (ActionRun, RolloutSpec) {
    let pack = tenet_control_plane::pack(rules).unwrap();
    let mut fleet = Vec::new();
    let mut members = BTreeMap::new();
    for (id, ring) in [
        ("c", "canary"),
        ("f1", "fleet"),
        ("f2", "fleet"),
        ("f3", "fleet"),
    ] {
        let c: Cluster = serde_json::from_value(
            json!({"name": id, "labels": {"drill": "true", "ring": ring, "env": "staging"}}),
        )
        .unwrap();
        members.insert(
            id.to_string(),
            Member {
                cluster: c.value(),
                admin: Some(format!("http://127.0.0.1:9/c/{id}")),
                fingerprint: Some("sha256:old".into()),
            },
        );
        fleet.push(c);
    }
    let actor = json!({"id": "bot", "role": "release-manager"});
    let p = plan(&pack, "drill", &fleet, &actor, WEDNESDAY).unwrap();
    assert!(p.allowed, "{:?}", p.refused);
    let bundle = Bundle {
        name: "drill-bundle".into(),
        version: "1".into(),
        fingerprint: NEW.into(),
        dependencies: vec![],
        description: None,
    };
    (
        start("run-1", &bundle, &p, &members, &actor, WEDNESDAY),
        RolloutSpec::from_pack(&pack, "drill").unwrap(),
    )
}

/// A started run whose canary `c` was pushed at `now` (baking).
fn canary_pushed(rules: &Rules, now: i64) -> (ActionRun, RolloutSpec) {
    let pack = tenet_control_plane::pack(rules).unwrap();
    let (mut r, spec) = run(rules);
    advance(&mut r, &spec, now);
    let (w, _) = due(&r, &spec, now);
    assert_eq!(pushes(&w), ["c"]);
    mark(&mut r, &spec, &w, now);
    let pushed = Outcome::Pushed {
        cluster: "c".into(),
    };
    record(&mut r, &spec, &pack, vec![pushed], now);
    assert_eq!(r.clusters["c"].state, ClusterState::Baking);
    (r, spec)
}

/// Records one gate measurement of `cluster` (an answer, or the error of
/// a metrics endpoint that did not answer).
fn measure(
    r: &mut ActionRun,
    spec: &RolloutSpec,
    pack: &tenet_runtime::pack::PackHandle<'_>,
    cluster: &str,
    metrics: Result<serde_json::Value, String>,
    now: i64,
) {
    record(
        r,
        spec,
        pack,
        vec![Outcome::Measured {
            cluster: cluster.into(),
            metrics,
        }],
        now,
    );
}

fn pushes(w: &[Work]) -> Vec<String> {
    w.iter()
        .filter(|w| matches!(w, Work::Push { .. }))
        .map(|w| w.cluster().to_string())
        .collect()
}

#[test]
fn waves_bake_and_gates_in_order() {
    let rules = rules("on_fail pause", "");
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let (mut r, spec) = run(&rules);
    let mut now = WEDNESDAY;
    advance(&mut r, &spec, now);
    assert_eq!(r.state, RunState::Running);
    let (w, _) = due(&r, &spec, now);
    assert_eq!(pushes(&w), ["c"], "the canary alone");
    assert!(matches!(&w[0], Work::Push { key, check_first: false, .. } if key == "run-1/c/1"));
    mark(&mut r, &spec, &w, now);
    assert_eq!(r.clusters["c"].state, ClusterState::Pushing);
    record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::Pushed {
            cluster: "c".into(),
        }],
        now,
    );
    advance(&mut r, &spec, now);
    // Baking: measured now, then every 5s until the 10s bake is over.
    let (w, _) = due(&r, &spec, now);
    assert_eq!(
        w,
        [Work::Measure {
            cluster: "c".into(),
            admin: "http://127.0.0.1:9/c/c".into()
        }]
    );
    measure(
        &mut r,
        &spec,
        &pack,
        "c",
        Ok(json!({"error_rate": 0.001})),
        now,
    );
    advance(&mut r, &spec, now);
    let (w, waiting) = due(&r, &spec, now + 1000);
    assert!(w.is_empty());
    assert_eq!(
        waiting.as_deref(),
        Some("stage `canary` bakes until 2026-12-02T10:00:10.000Z")
    );
    now += 5_000;
    let (w, _) = due(&r, &spec, now);
    assert_eq!(
        w.len(),
        1,
        "measured again after its interval, during the bake"
    );
    measure(
        &mut r,
        &spec,
        &pack,
        "c",
        Ok(json!({"error_rate": 0.0})),
        now,
    );
    advance(&mut r, &spec, now);
    assert_eq!(r.clusters["c"].state, ClusterState::Baking);
    assert_eq!(r.clusters["c"].gates["drill/canary/errors"].measured, 2);
    now += 5_000;
    assert!(
        due(&r, &spec, now)
            .0
            .iter()
            .all(|w| !matches!(w, Work::Measure { .. })),
        "the bake is over"
    );
    advance(&mut r, &spec, now);
    assert_eq!(r.clusters["c"].state, ClusterState::Succeeded);
    assert!(r.stages[0].done);
    let (w, _) = due(&r, &spec, now);
    assert_eq!(pushes(&w), ["f1", "f2"], "two at a time");
}

#[test]
fn the_breaker_backs_off_then_quarantines_and_pauses_the_stage() {
    let rules = rules("on_fail pause", "");
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let (mut r, spec) = run(&rules);
    let now = WEDNESDAY;
    advance(&mut r, &spec, now);
    let (w, _) = due(&r, &spec, now);
    mark(&mut r, &spec, &w, now);
    let ev = record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::PushFailed {
            cluster: "c".into(),
            why: "refused".into(),
        }],
        now,
    );
    assert_eq!(ev[0].outcome, "push_failed");
    assert_eq!(r.clusters["c"].next_try_at, Some(now + 1000));
    let (w, waiting) = due(&r, &spec, now + 500);
    assert!(w.is_empty(), "not before the backoff");
    assert_eq!(
        waiting.as_deref(),
        Some("c retries its push at 2026-12-02T10:00:01.000Z")
    );
    let (w, _) = due(&r, &spec, now + 1000);
    assert!(matches!(&w[0], Work::Push { key, check_first: true, .. } if key == "run-1/c/2"));
    mark(&mut r, &spec, &w, now + 1000);
    let ev = record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::PushFailed {
            cluster: "c".into(),
            why: "refused".into(),
        }],
        now + 1000,
    );
    let kinds: Vec<&str> = ev.iter().map(|e| e.outcome).collect();
    assert_eq!(kinds, ["cluster_quarantined", "action_paused"]);
    assert_eq!(r.state, RunState::Paused);
    assert_eq!(
        r.reason.as_deref(),
        Some("paused because stage `canary`'s error rate is 1 of the 1 cluster(s) tried (100%), above its pause_on_error_rate of 1%: c was quarantined (2 failed push(es) in a row, the circuit breaker's limit; last: refused)")
    );
    // A paused run asks for nothing.
    assert!(due(&r, &spec, now + 60_000).0.is_empty());
    // Resume: the quarantined cluster is pending again, with a fresh breaker.
    let ev = resume(&mut r, now + 60_000).unwrap();
    assert_eq!(ev[0].detail["retry"], json!(["c"]));
    assert_eq!(r.clusters["c"].state, ClusterState::Pending);
    assert_eq!(r.clusters["c"].attempts, 2, "the cursor keeps the attempts");
    assert_eq!(pushes(&due(&r, &spec, now + 60_000).0), ["c"]);
    // Resuming a running run is refused.
    assert!(resume(&mut r, now + 60_000)
        .unwrap_err()
        .ends_with("is already running"));
}

#[test]
fn a_push_in_flight_at_a_restart_is_checked_with_the_same_key() {
    let rules = rules("on_fail pause", "");
    let (mut r, spec) = run(&rules);
    advance(&mut r, &spec, WEDNESDAY);
    let (w, _) = due(&r, &spec, WEDNESDAY);
    mark(&mut r, &spec, &w, WEDNESDAY);
    // The server dies here; the saved run has `c` pushing, attempt 1.
    let saved: ActionRun = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    let (w, _) = due(&saved, &spec, WEDNESDAY + 5_000);
    assert!(
        matches!(&w[0], Work::Push { key, check_first: true, .. } if key == "run-1/c/1"),
        "{w:?}"
    );
    let mut again = saved.clone();
    let events = mark(&mut again, &spec, &w, WEDNESDAY + 5_000);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "push_rechecked", "not a new attempt");
    assert_eq!(again.clusters["c"].attempts, 1);
}

#[test]
fn a_push_that_may_still_be_in_flight_is_left_to_its_caller() {
    // The driver bounds a push (its call timeouts): until then, a replica
    // that took the sweep over must not call the cluster too.
    let rules = rules("on_fail pause", "");
    let (mut r, mut spec) = run(&rules);
    spec.in_flight_ms = 10_000;
    advance(&mut r, &spec, WEDNESDAY);
    let (w, _) = due(&r, &spec, WEDNESDAY);
    mark(&mut r, &spec, &w, WEDNESDAY);
    let (w, waiting) = due(&r, &spec, WEDNESDAY + 9_999);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        waiting.as_deref(),
        Some("a push to c may still be in flight; it is checked at 2026-12-02T10:00:10.000Z")
    );
    // Past it, the push is checked with its own key, and in flight again.
    let (w, _) = due(&r, &spec, WEDNESDAY + 10_000);
    assert!(
        matches!(&w[0], Work::Push { key, check_first: true, .. } if key == "run-1/c/1"),
        "{w:?}"
    );
    mark(&mut r, &spec, &w, WEDNESDAY + 10_000);
    assert!(due(&r, &spec, WEDNESDAY + 15_000).0.is_empty());
    // Its answer ends the window: the next step does not wait for it.
    let pack = tenet_control_plane::pack(&rules).unwrap();
    record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::Pushed {
            cluster: "c".into(),
        }],
        WEDNESDAY + 11_000,
    );
    assert_eq!(r.clusters["c"].next_try_at, None);
}

#[test]
fn a_closed_window_holds_new_pushes_and_says_when_it_opens() {
    let window = r#"
  window wednesday {
    mode     deny
    cron     "0 9 * * WED"
    duration 2h
    tz       "UTC"
  }
"#;
    let rules = rules("on_fail pause", window);
    let (mut r, spec) = run(&rules);
    advance(&mut r, &spec, WEDNESDAY);
    let (w, waiting) = due(&r, &spec, WEDNESDAY);
    assert!(w.is_empty());
    let waiting = waiting.unwrap();
    assert!(
        waiting.starts_with("stage `canary` waits: deny window"),
        "{waiting}"
    );
    assert!(
        waiting.ends_with("it opens at 2026-12-02T11:00:00Z"),
        "{waiting}"
    );
    assert_eq!(pushes(&due(&r, &spec, WEDNESDAY + 3_600_000).0), ["c"]);
}

#[test]
fn on_fail_rollback_restores_the_previous_bundle_then_fails() {
    let rules = rules("on_fail rollback", "");
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let now = WEDNESDAY;
    let (mut r, spec) = canary_pushed(&rules, now);
    measure(
        &mut r,
        &spec,
        &pack,
        "c",
        Ok(json!({"error_rate": 0.5})),
        now,
    );
    assert!(r.rolling_back);
    assert_eq!(r.clusters["c"].state, ClusterState::Failed);
    let (w, _) = due(&r, &spec, now);
    assert!(
        matches!(&w[0], Work::Push { fingerprint, rollback: true, .. } if fingerprint == "sha256:old"),
        "{w:?}"
    );
    record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::RolledBack {
            cluster: "c".into(),
            result: Ok(()),
        }],
        now,
    );
    advance(&mut r, &spec, now);
    assert_eq!(r.state, RunState::Failed);
    assert_eq!(
        r.reason.as_deref(),
        Some("rolling back because gate `errors` failed on c: 1 failed measurement(s), more than its failure_limit of 0; every pushed cluster has its previous bundle back")
    );
    assert!(resume(&mut r, now)
        .unwrap_err()
        .contains("failed and cannot be resumed"));
}

#[test]
fn the_run_states_move_only_as_declared() {
    use RunState::*;
    for (from, to, ok) in [
        (Pending, Running, true),
        (Running, Paused, true),
        (Paused, Running, true),
        (Running, Succeeded, true),
        (Succeeded, Running, true),
        (Failed, Running, false),
        (Paused, Succeeded, false),
        (Paused, Failed, true),
        (Succeeded, Failed, false),
        (Pending, Paused, false),
    ] {
        assert_eq!(from.can_become(to), ok, "{from:?} → {to:?}");
    }
}

#[test]
fn a_retry_waits_for_a_closed_window_too() {
    let window = r#"
  window wednesday {
    mode     deny
    cron     "0 9 * * WED"
    duration 2h
    tz       "UTC"
  }
"#;
    let rules = rules("on_fail pause", window);
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let (mut r, spec) = run(&rules);
    let before = WEDNESDAY - 7_200_000; // 08:00: open
    advance(&mut r, &spec, before);
    let (w, _) = due(&r, &spec, before);
    mark(&mut r, &spec, &w, before);
    record(
        &mut r,
        &spec,
        &pack,
        vec![Outcome::PushFailed {
            cluster: "c".into(),
            why: "refused".into(),
        }],
        before,
    );
    // The retry is due at 10:00, inside the deny window: it waits.
    let (w, waiting) = due(&r, &spec, WEDNESDAY);
    assert!(w.is_empty(), "{w:?}");
    assert!(waiting.unwrap().contains("deny window"));
}

#[test]
fn a_rollback_in_the_same_step_as_a_pause_still_rolls_back_every_pushed_cluster() {
    let rules = rules("on_fail rollback", "");
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let now = WEDNESDAY;
    let (mut r, spec) = canary_pushed(&rules, now);
    // An inconclusive measurement would pause, a failing one rolls back:
    // the rollback wins, and a pause after it changes nothing.
    measure(
        &mut r,
        &spec,
        &pack,
        "c",
        Ok(json!({"error_rate": 0.9})),
        now,
    );
    assert!(r.rolling_back);
    assert_eq!(r.state, RunState::Running);
    assert!(resume(&mut r, now).unwrap_err().contains("is rolling back"));
    let (w, _) = due(&r, &spec, now);
    assert_eq!(pushes(&w), ["c"]);
}

#[test]
fn a_cluster_whose_metrics_never_answer_never_succeeds() {
    let rules = rules("on_fail pause", "");
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let mut now = WEDNESDAY;
    let (mut r, spec) = canary_pushed(&rules, now);
    for _ in 0..5 {
        advance(&mut r, &spec, now);
        measure(
            &mut r,
            &spec,
            &pack,
            "c",
            Err("no answer within 2 s".into()),
            now,
        );
        advance(&mut r, &spec, now);
        now += 5_000;
    }
    assert_ne!(
        r.clusters["c"].state,
        ClusterState::Succeeded,
        "errors are not measurements"
    );
    assert_eq!(r.clusters["c"].gates["drill/canary/errors"].measured, 0);
    assert_eq!(r.state, RunState::Paused);
    assert!(
        r.reason.as_deref().unwrap().contains(
            "could not be measured on c: 5 consecutive error(s), more than its error_limit of 4"
        ),
        "{:?}",
        r.reason
    );
}

#[test]
fn what_an_inconclusive_or_erroring_gate_does_is_the_packs() {
    // Default: an inconclusive gate pauses, resumable.
    let r3 = rules("on_fail rollback", "");
    let pack = tenet_control_plane::pack(&r3).unwrap();
    let (mut r, spec) = canary_pushed(&r3, WEDNESDAY);
    assert_eq!(
        (spec.on_inconclusive.as_str(), spec.on_error.as_str()),
        ("pause", "pause")
    );
    // No `error_rate`: no data for the gate.
    measure(&mut r, &spec, &pack, "c", Ok(json!({})), WEDNESDAY);
    assert_eq!(r.state, RunState::Paused);
    assert!(!r.rolling_back);
    assert_eq!(
        r.reason.as_deref(),
        Some("paused because gate `errors` was inconclusive on c: 1 measurement(s) without data, more than its inconclusive_limit of 0")
    );

    // `on_inconclusive rollback`: the same measurement rolls back.
    let r3 = rules("on_fail pause\n  on_inconclusive rollback", "");
    let pack = tenet_control_plane::pack(&r3).unwrap();
    let (mut r, spec) = canary_pushed(&r3, WEDNESDAY);
    // No `error_rate`: no data for the gate.
    measure(&mut r, &spec, &pack, "c", Ok(json!({})), WEDNESDAY);
    assert!(r.rolling_back, "{:?}", r.reason);
    assert_eq!(r.state, RunState::Running);
    let (w, _) = due(&r, &spec, WEDNESDAY);
    assert!(
        matches!(&w[0], Work::Push { fingerprint, rollback: true, .. } if fingerprint == "sha256:old"),
        "{w:?}"
    );

    // `on_error freeze`: five unanswered measurements (error_limit 4)
    // freeze the run, which cannot be resumed.
    let r3 = rules("on_fail pause\n  on_error freeze", "");
    let pack = tenet_control_plane::pack(&r3).unwrap();
    let mut now = WEDNESDAY;
    let (mut r, spec) = canary_pushed(&r3, now);
    for _ in 0..5 {
        measure(
            &mut r,
            &spec,
            &pack,
            "c",
            Err("no answer within 2 s".into()),
            now,
        );
        now += 5_000;
    }
    assert!(r.frozen);
    assert_eq!(r.state, RunState::Failed);
    assert!(r
        .reason
        .as_deref()
        .unwrap()
        .contains("5 consecutive error(s), more than its error_limit of 4"));
    assert!(resume(&mut r, now).is_err());
    assert!(
        due(&r, &spec, now).0.is_empty(),
        "a frozen run calls nobody"
    );
}
