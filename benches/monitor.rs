//! The meta-monitor's sweep over 10,000 watched instances (issue #14: under
//! 1 s on the 2 cores): reading them from the store (SQLite), evaluating
//! every state with the bundled pack, and the meta-incident step. Plus one
//! 500-event batch applied in memory (the engine's part of an ingest; the
//! whole request is `benches/monitor-load.sh`).
//!
//!   cargo bench -p tenet-benches --bench monitor

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use tenet_meta_monitor::engine::{self, Context};
use tenet_meta_monitor::incidents;
use tenet_meta_monitor::model::{Event, Instance, Kind};
use tenet_meta_monitor::store as ms;
use tenet_meta_monitor::watchers::Watchers;
use tenet_store::AuditEvent;

const T0: i64 = 1_796_000_000_000;

fn beat(watcher: &str, tenant: &str, source: &str, at: i64, seq: u64) -> Event {
    Event {
        watcher: watcher.into(),
        tenant: tenant.into(),
        source: source.into(),
        at,
        kind: Kind::Success,
        run_id: None,
        seq: Some(seq),
        exit_status: None,
        count: Some(1000),
    }
}

/// 10,000 instances: 2,000 tenants × the 5 bundled watchers with a
/// cadence, each with a heartbeat from each source; a tenth of them silent.
fn events() -> Vec<Event> {
    let mut out = Vec::new();
    let mut seq = 0;
    for t in 0..2000 {
        let tenant = format!("t{t}");
        let at = if t % 10 == 0 { T0 - 3_600_000 } else { T0 };
        for (w, sources) in [
            (
                "event-bus",
                &["broker-lag-exporter", "consumer-heartbeat"][..],
            ),
            (
                "audit-pipeline",
                &["audit-collector", "audit-s3-sink", "audit-digest-verifier"],
            ),
            ("feature-flag-evals", &["flag-sidecar"]),
            ("webhook-delivery", &["webhook-dispatcher"]),
            ("data-quality-report", &["dq-runner"]),
        ] {
            for s in sources {
                seq += 1;
                out.push(beat(w, &tenant, s, at, seq));
            }
        }
    }
    out
}

fn sweep(c: &mut Criterion) {
    let rules = tenet_runtime::load::load_bundled().expect("bundled rules");
    let pack = tenet_meta_monitor::pack(&rules).expect("meta_monitor pack");
    let watchers = Watchers::read(&pack).expect("watchers");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        ms::open(&tenet_store::Location::Sqlite(dir.path().join("m.db"))).expect("store");
    let all = events();
    for chunk in all.chunks(5000) {
        ms::ingest(&mut store, &watchers, chunk, |_| Vec::<AuditEvent>::new()).expect("ingest");
    }
    let instances = ms::all(&store).expect("all");
    assert_eq!(instances.len(), 10_000);
    let exempt = BTreeMap::new();
    let now = T0 + 60_000;
    let cx = Context {
        now,
        watermark: None,
        exempt: &exempt,
    };
    let mut g = c.benchmark_group("monitor");
    g.sample_size(10);
    g.bench_function("sweep 10,000 instances: read, evaluate, incidents", |b| {
        b.iter(|| {
            let instances = ms::all(&store).expect("all");
            let statuses = engine::evaluate(&watchers, &instances, &cx);
            let open = ms::incidents(&store, true, None, 10_000).expect("incidents");
            let mut n = 0;
            let mut id = || {
                n += 1;
                format!("mi-{n}")
            };
            black_box(incidents::step(&watchers, &statuses, &open, now, &mut id))
        })
    });
    g.bench_function("evaluate 10,000 instances", |b| {
        b.iter(|| black_box(engine::evaluate(&watchers, &instances, &cx)))
    });
    let batch: Vec<Event> = (0..500)
        .map(|i| {
            beat(
                "event-bus",
                &format!("t{}", i % 50),
                ["broker-lag-exporter", "consumer-heartbeat"][i % 2],
                T0 + 1000,
                10_000_000 + i as u64,
            )
        })
        .collect();
    let w = watchers.get("event-bus").expect("event-bus");
    g.bench_function("apply a batch of 500 events (engine only)", |b| {
        b.iter(|| {
            let mut insts: BTreeMap<String, Instance> = BTreeMap::new();
            for e in &batch {
                let i = insts.entry(e.tenant.clone()).or_insert_with(|| Instance {
                    watcher: e.watcher.clone(),
                    tenant: e.tenant.clone(),
                    ..Default::default()
                });
                black_box(engine::apply(i, w, e).expect("apply"));
            }
            insts
        })
    });
    g.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
