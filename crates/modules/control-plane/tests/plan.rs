//! Rollout plans on the bundled `control_plane` pack over the fleet of
//! `fixtures/control-plane/fleet.yaml`: stages take their clusters in
//! order, `max_parallel` percentages round down with at least 1, an empty
//! stage is skipped and says so, an unmatched cluster refuses the plan
//! (or is skipped, as declared), windows say when they open, and the
//! guards judge every wave and cluster, failing closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::Path;
use tenet_control_plane::plan::{per_wave, plan, Cluster, Plan};
use tenet_runtime::dsl::Value as V;
use tenet_runtime::load::{load_bundled, load_files, RuleFile};

/// Wednesday 2026-12-02 10:00 UTC: every window open.
const WEDNESDAY: i64 = 1_796_205_600_000;
/// Saturday 2026-12-05 10:00 UTC: the weekend freeze.
const SATURDAY: i64 = WEDNESDAY + 3 * 86_400_000;

fn fleet() -> Vec<Cluster> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../fixtures/control-plane/fleet.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value = serde_yaml_ng::from_str(&text).unwrap();
    serde_json::from_value(v).unwrap()
}

fn release() -> Value {
    json!({"id": "svc-release", "role": "release-manager"})
}

fn bundled(fleet: &[Cluster], actor: Value, now: i64) -> Plan {
    let rules = load_bundled().unwrap();
    let pack = tenet_control_plane::pack(&rules).unwrap();
    plan(&pack, "policy-bundle", fleet, &actor, now).unwrap()
}

#[test]
fn stages_take_their_clusters_in_waves() {
    let p = bundled(&fleet(), release(), WEDNESDAY);
    assert_eq!(
        (p.fleet_size, p.target),
        (9, 7),
        "edge-7 has no sidecar; prod-eu-west-1z is decommissioning"
    );
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["canary", "regional", "global"]);
    let canary = &p.stages[0];
    assert_eq!(canary.waves, vec![vec!["stg-eu-west-1a".to_string()]]);
    assert_eq!(canary.bake, "30m");
    assert_eq!(
        canary.gates,
        [
            "policy-bundle/sidecar-crashloops",
            "policy-bundle/canary/decision-errors",
            "policy-bundle/canary/decision-latency"
        ]
    );
    // 25% of 2 is 0.5: rounded down, at least 1.
    let regional = &p.stages[1];
    assert_eq!(
        (regional.max_parallel.as_str(), regional.per_wave),
        ("25%", 1)
    );
    assert_eq!(regional.clusters, ["prod-eu-west-1a", "prod-eu-west-1b"]);
    assert_eq!(
        regional.gates,
        [
            "policy-bundle/sidecar-crashloops",
            "policy-bundle/regional/deny-rate-shift"
        ]
    );
    let global = &p.stages[2];
    assert_eq!(
        global.clusters,
        ["prod-eu-central-1a", "prod-us-east-1a", "prod-us-east-1b"]
    );
    assert!(p.stages.iter().all(|s| s.window.allowed), "{:?}", p.stages);
    // The staging cluster that is not a canary: no stage selects it.
    assert_eq!(p.unmatched, ["stg-us-east-1a"]);
    assert_eq!(p.unmatched_mode, "error");
    // The frozen cluster's wave is denied, by the soft-mandatory guard.
    let frozen: Vec<_> = p
        .guards
        .iter()
        .filter(|g| g.guard == "frozen-cluster")
        .collect();
    assert_eq!(frozen.len(), 1);
    assert_eq!(
        (
            frozen[0].stage.as_str(),
            frozen[0].wave,
            frozen[0].cluster.as_deref()
        ),
        ("global", 3, Some("prod-us-east-1b"))
    );
    assert!(frozen[0].blocking);
    assert!(!p.allowed);
    assert_eq!(p.refused.len(), 2, "{:?}", p.refused);
    assert!(p.refused[0].starts_with("1 target cluster(s) no stage selects (stg-us-east-1a)"));
}

#[test]
fn a_clean_fleet_is_allowed_and_an_empty_stage_is_skipped() {
    let clean: Vec<Cluster> = fleet()
        .into_iter()
        .filter(|c| c.name.starts_with("prod-eu-west-1") && c.name != "prod-eu-west-1z")
        .collect();
    let p = bundled(&clean, release(), WEDNESDAY);
    assert!(p.allowed, "{:?}", p.refused);
    assert_eq!(
        p.stages[0].skipped.as_deref(),
        Some("selects no cluster of the target: skipped, nothing waits on it")
    );
    assert!(p.stages[0].waves.is_empty());
    assert!(p.stages[2].skipped.is_some());
    assert_eq!(p.stages[1].waves.len(), 2);
    assert!(p.guards.is_empty(), "{:?}", p.guards);
}

#[test]
fn the_guards_fail_closed() {
    let clean: Vec<Cluster> = fleet()
        .into_iter()
        .filter(|c| c.name == "prod-eu-west-1a")
        .collect();
    // A developer may not target production; nor may an unknown actor.
    for actor in [json!({"id": "alice", "role": "developer"}), json!({})] {
        let p = bundled(&clean, actor.clone(), WEDNESDAY);
        assert!(!p.allowed, "{actor}");
        assert!(
            p.guards
                .iter()
                .any(|g| g.guard == "dev-cannot-target-prod" && g.blocking),
            "{actor}: {:?}",
            p.guards
        );
    }
    // A production cluster outside the allowlist.
    let mut outside = clean.clone();
    outside[0].name = "prod-ap-south-1a".into();
    let p = bundled(&outside, release(), WEDNESDAY);
    assert!(p
        .guards
        .iter()
        .any(|g| g.guard == "prod-allowlist" && g.blocking));
}

#[test]
fn closed_windows_say_when_they_open() {
    let p = bundled(&fleet(), release(), SATURDAY);
    for s in &p.stages {
        assert!(!s.window.allowed, "{}", s.name);
        assert!(
            s.window
                .reason
                .contains("`0 18 * * FRI` for 2d14h) is open"),
            "{}: {}",
            s.name,
            s.window.reason
        );
        // Monday 08:00 London is 08:00 UTC in December.
        assert_eq!(
            s.window.next.as_deref(),
            Some("2026-12-07T08:00:00.000Z"),
            "{}",
            s.name
        );
    }
}

#[test]
fn unmatched_skip_and_the_rounding_rule() {
    let pack_text = r#"tenet 1
pack control_plane version "1.0.0"

rollout r {
  target    {exists: ["app"]}
  unmatched skip

  stage one {
    select       {labels: {ring: "1"}}
    max_parallel 40%
  }
}
"#;
    let rules = load_files(
        vec![RuleFile {
            path: "cp.tenet".into(),
            text: pack_text.into(),
        }],
        "",
    )
    .unwrap();
    let pack = tenet_control_plane::pack(&rules).unwrap();
    let mk = |n: usize, ring: &str| -> Vec<Cluster> {
        (0..n)
            .map(|i| {
                serde_json::from_value(
                    json!({"name": format!("{ring}-{i:02}"), "labels": {"app": "x", "ring": ring}}),
                )
                .unwrap()
            })
            .collect()
    };
    let mut fleet = mk(12, "1");
    fleet.extend(mk(2, "2"));
    let p = plan(&pack, "r", &fleet, &json!({}), WEDNESDAY).unwrap();
    assert!(p.allowed, "{:?}", p.refused);
    assert_eq!(p.unmatched.len(), 2);
    // 40% of 12 is 4.8: 4 at a time, in three waves.
    assert_eq!((p.stages[0].per_wave, p.stages[0].waves.len()), (4, 3));

    assert_eq!(per_wave(&V::Percent(25.0), 2).unwrap(), 1);
    assert_eq!(per_wave(&V::Percent(25.0), 10).unwrap(), 2);
    assert_eq!(per_wave(&V::Percent(100.0), 7).unwrap(), 7);
    assert_eq!(
        per_wave(&V::Int(3), 2).unwrap(),
        2,
        "never more than the stage has"
    );
    assert_eq!(per_wave(&V::Int(1), 0).unwrap(), 1);
    assert!(per_wave(&V::Int(0), 5).is_err());
    assert!(per_wave(&V::Percent(0.0), 5).is_err());

    let e = plan(&pack, "nope", &fleet, &json!({}), WEDNESDAY).unwrap_err();
    assert_eq!(
        e,
        "no rollout `nope` in the control_plane pack (rollouts: r)"
    );
    let mut twice = fleet.clone();
    twice.push(fleet[0].clone());
    assert_eq!(
        plan(&pack, "r", &twice, &json!({}), WEDNESDAY).unwrap_err(),
        "cluster `1-00` is listed twice"
    );
}
