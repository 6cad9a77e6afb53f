//! The parts of one `POST /v1/evaluate` of `benches/serve-load.sh`, on its
//! 100-rule pack (`benches/serve-pack.py`): the decision, the request and
//! response JSON around it, and the audit log's commit of a batch. The
//! whole request under load is measured by `benches/serve-load.sh`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::process::Command;
use tenet_runtime::decision::{decide, DecideOptions};
use tenet_runtime::dsl::Value;
use tenet_store::{AuditEvent, Store};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn bench_pack(dir: &Path) -> (tenet_runtime::Rules, serde_json::Value) {
    let script = root().join("benches/serve-pack.py");
    let ok = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "python3 benches/serve-pack.py failed");
    let body = Command::new("python3")
        .arg(&script)
        .arg("--body")
        .output()
        .expect("python3");
    let body: serde_json::Value = serde_json::from_slice(&body.stdout).expect("body JSON");
    let rules = tenet_runtime::load::load_path(dir).expect("the bench pack loads");
    (rules, body)
}

fn evaluate(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rules, body) = bench_pack(dir.path());
    let pack = rules.pack("bench").expect("bench pack");
    let input = Value::from_json(&body["input"]);
    let opts = DecideOptions {
        now: Some("2026-12-01".into()),
        ..DecideOptions::default()
    };
    let d = decide(pack, &input, rules.scorer_list(), &opts);
    assert!(d.blocking && d.errors.is_empty(), "{:?}", d.errors);
    c.bench_function("server: bench pack, one decision (100 rules)", |b| {
        b.iter(|| black_box(decide(pack, black_box(&input), rules.scorer_list(), &opts)))
    });
    let bytes = serde_json::to_vec(&body).expect("body");
    c.bench_function("server: body bytes → decision → response JSON", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&bytes)).expect("json");
            let input = Value::from_json(&v["input"]);
            let d = decide(pack, &input, rules.scorer_list(), &opts);
            black_box(serde_json::to_vec(&d).expect("json"))
        })
    });
}

fn audit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("t.db")).expect("store");
    let full = std::env::var_os("AUDIT_SYNC_NORMAL").is_none();
    if full {
        store.sync_full().expect("sync");
    }
    let mode = if full { "FULL" } else { "NORMAL" };
    let mut n = 0u64;
    let mut batch = |size: usize| -> Vec<AuditEvent> {
        (0..size)
            .map(|_| {
                n += 1;
                AuditEvent {
                    id: 0,
                    action_id: format!("eval-{n}"),
                    at: "2026-12-01T10:00:00.000Z".into(),
                    source: "server:evaluate".into(),
                    subject: "bench".into(),
                    actor: "anonymous".into(),
                    scope: "/tmp/rules".into(),
                    outcome: "blocked".into(),
                    reason: Some("r007: alice has been here 420 days (under 750)".into()),
                    latency_ms: 0,
                    details: serde_json::json!({"version": "1.0.0", "highest_risk": "critical",
                        "matched": ["r007", "r023", "r038", "r054", "r081"], "dry_run": false}),
                    tenant: Some("acme".into()),
                    bundle: Some(
                        "a07a33a2fe91077438f320b21a1ab4bb166d644af3fa5ab54727cd1e5ae57765".into(),
                    ),
                }
            })
            .collect()
    };
    for size in [1usize, 8, 64] {
        c.bench_function(
            &format!("server: audit commit of {size} event(s), synchronous={mode}"),
            |b| {
                b.iter_batched(
                    || batch(size),
                    |events| store.record_audit_batch(&events).expect("commit"),
                    criterion::BatchSize::SmallInput,
                )
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = evaluate, audit
}
criterion_main!(benches);
