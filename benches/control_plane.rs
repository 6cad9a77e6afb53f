//! The control plane at fleet scale (issue #16): the drift of 10,000
//! registered clusters against three desired states with selectors (the
//! engine alone, and a whole `check_drift` on SQLite: read every cluster,
//! compute, keep, announce), and the plan of the bundled rollout over
//! 1,000 clusters (stages, waves, every guard on every wave and cluster).
//!
//!   cargo bench -p tenet-benches --bench control_plane

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;
use tenet_control_plane::engine::fleet_drift;
use tenet_control_plane::model::{ClusterRecord, Desired, Inventory};
use tenet_control_plane::plan::{plan, Cluster};
use tenet_control_plane::store as cps;
use tenet_store::{AuditEvent, Location};

const NOW: i64 = 1_796_205_600_000;

fn fleet(n: usize) -> Vec<ClusterRecord> {
    (0..n)
        .map(|i| {
            let env = if i % 10 == 0 { "staging" } else { "prod" };
            let region = ["eu-west-1", "us-east-1", "ap-south-1"][i % 3];
            let mut c: ClusterRecord = serde_json::from_value(json!({
                "id": format!("c-{i:05}"), "env": env, "region": region,
                "capabilities": ["tenet-sidecar"], "labels": {"tier": if i % 7 == 0 { "critical" } else { "standard" }},
            }))
            .unwrap_or_else(|e| panic!("{e}"));
            // One in twenty runs an older api, one in fifty another config.
            c.inventory = Some(
                serde_json::from_value::<Inventory>(json!({
                    "services": {"api": if i % 20 == 0 { "3.2.0" } else { "3.3.0" }, "sidecar": "2.1.0"},
                    "config_hashes": {"gateway": if i % 50 == 0 { "h2" } else { "h1" }},
                    "bundle_fingerprint": "sha256:aaa",
                    "capabilities": if env == "prod" { json!(["opa-wasm"]) } else { json!([]) },
                    "observed_at": NOW - 60_000,
                }))
                .unwrap_or_else(|e| panic!("{e}")),
            );
            c
        })
        .collect()
}

fn desired() -> Vec<Desired> {
    serde_json::from_value(json!([
        {"bundle_fingerprint": "sha256:aaa", "services": {"api": "3.3.0", "sidecar": "2.1.0"}, "config_hashes": {"gateway": "h1"}},
        {"select": {"labels": {"env": "prod"}}, "capabilities": ["opa-wasm"]},
        {"select": {"labels": {"tier": "critical"}, "not_in": {"region": ["ap-south-1"]}}, "capabilities": ["tenet-sidecar"]},
    ]))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn event(d: &tenet_control_plane::model::Drift) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("bench-{}-{}-{}-{}", d.cluster, d.kind, d.item, NOW),
        at: "2026-12-02T10:00:00Z".into(),
        source: "control-plane".into(),
        subject: d.cluster.clone(),
        actor: "bench".into(),
        scope: "fleet".into(),
        outcome: "drift_detected".into(),
        reason: None,
        latency_ms: 0,
        details: serde_json::Value::Null,
        tenant: None,
        bundle: None,
    }
}

fn bench(c: &mut Criterion) {
    let clusters = fleet(10_000);
    let want = desired();
    let mut g = c.benchmark_group("control-plane");
    g.sample_size(10);
    g.bench_function("drift of 10,000 clusters (engine)", |b| {
        b.iter(|| black_box(fleet_drift(&clusters, &want, NOW, 900_000).map(|d| d.len())))
    });

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let loc = Location::Sqlite(dir.path().join("cp.db"));
    let mut store = cps::open(&loc).unwrap_or_else(|e| panic!("{e}"));
    for (i, c) in clusters.iter().enumerate() {
        let mut ev = event(&tenet_control_plane::model::Drift {
            cluster: c.id.clone(),
            kind: "reg".into(),
            item: i.to_string(),
            expected: None,
            observed: None,
            delta: None,
            reason: String::new(),
        });
        ev.outcome = "registered".into();
        cps::register(&mut store, c, ev).unwrap_or_else(|e| panic!("{e}"));
    }
    cps::set_desired(&mut store, &want).unwrap_or_else(|e| panic!("{e}"));
    // The first check announces every drift; the measured ones find none new.
    cps::check_drift(&mut store, NOW, 900_000, event).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function(
        "check_drift over 10,000 clusters (SQLite: read, compute, keep)",
        |b| {
            b.iter(|| {
                black_box(cps::check_drift(&mut store, NOW, 900_000, event).map(|c| c.new.len()))
            })
        },
    );

    let rules = tenet_runtime::load::load_bundled().unwrap_or_else(|e| panic!("{e:?}"));
    let pack = tenet_control_plane::pack(&rules).unwrap_or_else(|e| panic!("{e}"));
    let thousand: Vec<Cluster> = (0..1000)
        .map(|i| {
            let (env, region) = match i % 10 {
                0 => ("staging", "eu-west-1"),
                1..=3 => ("prod", "eu-west-1"),
                _ => ("prod", "us-east-1"),
            };
            serde_json::from_value(json!({
                "name": format!("c-{i:04}"),
                "labels": {"env": env, "region": region, "sidecar": "tenet", "canary": if i % 10 == 0 { "true" } else { "false" }},
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let actor = json!({"id": "svc-release", "role": "release-manager"});
    g.bench_function(
        "plan of policy-bundle over 1,000 clusters (waves and every guard)",
        |b| {
            b.iter(|| {
                black_box(
                    plan(&pack, "policy-bundle", &thousand, &actor, NOW).map(|p| p.stages.len()),
                )
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
