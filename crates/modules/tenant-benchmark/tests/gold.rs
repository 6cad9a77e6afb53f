//! Gold scenarios of the engine: `fixtures/tenant-benchmark/<scenario>/
//! scenario.yaml` holds a profile of the bundled pack, the tenant's facts
//! and a list of evaluations, each with the signals sent since the last
//! (a number, `null` for "no measurement now", or `{value, at, source}`;
//! `at` defaults to the evaluation's time) and what to `expect` (a score,
//! to 4 decimals, and the badge). The signals accumulate as the store
//! keeps them (a later measurement replaces an earlier one). The whole
//! transcript, the last evaluation's table and the history's SVG are
//! snapshotted (`snapshots/tenant-benchmark/`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tenet_runtime::load::load_bundled;
use tenet_tenant_benchmark::engine::{self, Facts};
use tenet_tenant_benchmark::model::ProfileState;
use tenet_tenant_benchmark::profiles::Profiles;
use tenet_tenant_benchmark::score::Signal;
use tenet_tenant_benchmark::time::{parse, rfc3339};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    profile: String,
    #[serde(default)]
    facts: Facts,
    evaluations: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at: String,
    #[serde(default)]
    signals: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    expect: Option<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default, deserialize_with = "some")]
    score: Option<Option<f64>>,
    #[serde(default, deserialize_with = "some")]
    badge: Option<Option<String>>,
}

/// A key that is there, even as `null`, is `Some`.
fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

fn run(name: &str) {
    let dir = root().join("fixtures/tenant-benchmark").join(name);
    let text = std::fs::read_to_string(dir.join("scenario.yaml")).unwrap();
    let sc: Scenario = serde_yaml_ng::from_str(&text).unwrap();
    let rules = load_bundled().unwrap();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let p = profiles.get(&sc.profile).unwrap();
    let mut known: BTreeMap<String, Signal> = BTreeMap::new();
    let mut state = ProfileState::default();
    let mut history = Vec::new();
    let mut out = format!("{}\n", sc.about.trim());
    for (i, step) in sc.evaluations.iter().enumerate() {
        let at = parse(&step.at).unwrap();
        for (k, v) in &step.signals {
            let s = match v {
                serde_json::Value::Object(m) => Signal {
                    value: m.get("value").cloned().unwrap_or_default(),
                    at: Some(
                        m.get("at")
                            .and_then(|t| t.as_str())
                            .map_or(at, |t| parse(t).unwrap()),
                    ),
                    source: m.get("source").and_then(|s| s.as_str()).map(str::to_string),
                },
                other => Signal {
                    value: other.clone(),
                    at: Some(at),
                    source: None,
                },
            };
            if known.get(k).is_none_or(|o| o.at <= s.at) {
                known.insert(k.clone(), s);
            }
        }
        let (e, next) = engine::evaluate(&pack, p, "gold", &sc.facts, &known, &state, at);
        state = next;
        let score = e.score.score.map_or("none".into(), |v| format!("{v:.4}"));
        let standings: Vec<String> = e
            .badges
            .iter()
            .map(|b| format!("{} {}", b.badge, b.standing.as_str()))
            .collect();
        writeln!(
            out,
            "\n{} score {score} coverage {:.4} badge {}\n  badges: {}",
            rfc3339(at),
            e.score.coverage,
            e.badge.as_deref().unwrap_or("none"),
            standings.join(", ")
        )
        .unwrap();
        for t in &e.transitions {
            writeln!(out, "  {} {}: {}", t.badge, t.change, t.reason).unwrap();
        }
        if let Some(x) = &step.expect {
            if let Some(want) = x.score {
                match (want, e.score.score) {
                    (Some(w), Some(got)) => {
                        assert!(
                            (w - got).abs() < 5e-5,
                            "{name} step {i}: score {got}, expected {w}"
                        )
                    }
                    (w, got) => assert_eq!(w, got, "{name} step {i}: score"),
                }
            }
            if let Some(want) = &x.badge {
                assert_eq!(&e.badge, want, "{name} step {i}: badge\n{out}");
            }
        }
        history.push(e);
    }
    let last = history.last().unwrap();
    out.push_str("\n--- the last evaluation\n");
    out.push_str(&tenet_tenant_benchmark::render::table(
        &last.score,
        last.badge.as_deref(),
    ));
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/tenant-benchmark"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| {
        insta::assert_snapshot!(name.to_string(), out);
        insta::assert_snapshot!(
            format!("{name}-svg"),
            tenet_tenant_benchmark::render::history_svg("gold", p, &history)
        );
    });
}

#[test]
fn csm_dwell() {
    run("csm-dwell");
}

#[test]
fn regulator_cap() {
    run("regulator-cap");
}

#[test]
fn ops_decay() {
    run("ops-decay");
}

#[test]
fn requires_is_hard() {
    run("requires-is-hard");
}

/// Every scenario folder has its test.
#[test]
fn every_scenario_runs() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures/tenant-benchmark"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "csm-dwell",
            "ops-decay",
            "regulator-cap",
            "requires-is-hard"
        ]
    );
}
