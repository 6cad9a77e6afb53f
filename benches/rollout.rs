//! A rollout to 1,000 synthetic clusters on loopback (issue #16): one
//! canary, then 999 clusters 40 at a time (the pack's blast-radius ceiling
//! per wave), through the server's rollout driver — every push marked and
//! saved before the call, verified by an inventory read, recorded with its
//! audit events on SQLite — until the run succeeds. The clusters answer
//! at once, so the figure is tenet's own cost: the engine, the store and
//! 2,000 HTTP calls.
//!
//!   cargo bench -p tenet-benches --bench rollout

#[path = "../crates/server/tests/common/synthetic.rs"]
mod synthetic;

use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use synthetic::{Fleet, Sim, NEW};
use tenet_control_plane::action::{Bundle, RunState};
use tenet_control_plane::model::{ClusterRecord, Inventory};
use tenet_control_plane::plan::plan_within;
use tenet_control_plane::rollout::{start, Member};
use tenet_control_plane::store as cps;
use tenet_server::routes::control_plane::{actions::as_plan_cluster, driver};
use tenet_server::{AppState, Config, RulesSource};
use tenet_store::{AuditEvent, Location};

const SCALE: &str = r#"
rollout scale {
  bundle    "scale-bundle"
  target    {labels: {drill: "true"}}
  unmatched error

  stage canary {
    select       {labels: {ring: "canary"}}
    max_parallel 1
  }

  stage fleet {
    select              {labels: {ring: "fleet"}}
    max_parallel        40
    pause_on_error_rate 5%
  }
}
"#;

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("bench-{id}"),
        at: "2026-12-04T00:00:00Z".into(),
        source: "control-plane".into(),
        subject: "bench".into(),
        actor: "bench".into(),
        scope: "fleet".into(),
        outcome: "registered".into(),
        reason: None,
        latency_ms: 0,
        details: json!({}),
        tenant: None,
        bundle: None,
    }
}

fn once(n: usize, parallel: usize, f: &Fleet, round: usize) -> (Duration, usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap_or_else(|e| panic!("{e}"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pack = std::fs::read_to_string(root.join("rules/control-plane/control_plane.tenet"))
        .unwrap_or_else(|e| panic!("{e}"));
    pack.push_str(SCALE);
    std::fs::write(rules.join("cp.tenet"), pack).unwrap_or_else(|e| panic!("{e}"));
    let mut config = Config {
        rules: RulesSource::Dir(rules),
        store: Location::Sqlite(dir.path().join("tenet.db")),
        watch: false,
        ..Config::default()
    };
    config.control_plane.parallel = parallel;
    let state = AppState::new(config).unwrap_or_else(|e| panic!("{e}"));
    let mut records = Vec::new();
    let mut store =
        cps::open(&Location::Sqlite(dir.path().join("tenet.db"))).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..n {
        let id = format!("r{round}-c{i:04}");
        let admin = f.add(&id, Sim::default());
        let ring = if i == 0 { "canary" } else { "fleet" };
        let mut c: ClusterRecord = serde_json::from_value(json!({
            "id": id, "env": "staging", "region": "eu-west-1",
            "labels": {"drill": "true", "ring": ring}, "endpoints": {"admin": admin},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        cps::register(&mut store, &c, event(&id)).unwrap_or_else(|e| panic!("{e}"));
        c.inventory = Some(Inventory {
            bundle_fingerprint: Some(synthetic::OLD.into()),
            ..Inventory::default()
        });
        records.push(c);
    }
    let bundle = Bundle {
        name: "scale-bundle".into(),
        version: "1.0.0".into(),
        fingerprint: NEW.into(),
        dependencies: Vec::new(),
        description: None,
    };
    let loaded = state.bundle.load_full();
    let pack = tenet_control_plane::pack(&loaded.rules).unwrap_or_else(|e| panic!("{e:?}"));
    let fleet: Vec<_> = records.iter().map(as_plan_cluster).collect();
    let actor = json!({"id": "bench", "role": "release-manager"});
    let now = tenet_runtime::clock::system_now().millis();
    let p = plan_within(
        &pack,
        "scale",
        &fleet,
        None::<&BTreeSet<String>>,
        &actor,
        now,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.allowed, "{:?}", p.refused);
    let members: BTreeMap<String, Member> = records
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                Member {
                    cluster: as_plan_cluster(c).value(),
                    admin: c.endpoints.get("admin").cloned(),
                    fingerprint: Some(synthetic::OLD.into()),
                },
            )
        })
        .collect();
    let run = start(
        &format!("bench-{round}"),
        &bundle,
        &p,
        &members,
        &actor,
        now,
    );
    cps::create_action(&mut store, &run, vec![event(&run.id)]).unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let mut steps = 0;
    loop {
        steps += driver::drive(&state, &run.id).unwrap_or_else(|e| panic!("{e}")) as usize;
        let (_, r) = cps::action(&store, &run.id)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the run"));
        if r.state != RunState::Running && r.state != RunState::Pending {
            assert_eq!(r.state, RunState::Succeeded, "{:?}", r.reason);
            assert_eq!(r.counts().get("succeeded"), Some(&n));
            break;
        }
    }
    (t.elapsed(), steps)
}

fn main() {
    // The server's state (its audit writer) lives on a runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let _in = rt.enter();
    let f = Fleet::start_blocking();
    let n = 1000;
    let mut round = 0;
    for parallel in [16, 64] {
        for _ in 0..3 {
            round += 1;
            let (d, steps) = once(n, parallel, &f, round);
            println!(
                "rollout to {n} synthetic clusters, control_plane.parallel {parallel}: {:.2} s ({steps} saved steps, {:.0} clusters/s)",
                d.as_secs_f64(),
                n as f64 / d.as_secs_f64()
            );
        }
    }
}
