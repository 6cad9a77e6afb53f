//! The tenant benchmark offline (issue #14: 10,000 tenants × 3 profiles in
//! under 2 s on the 2 cores): every bundled profile evaluated for 10,000
//! synthetic tenants with their signals, facts and kept state — the score,
//! its factors, the cap, the badges and their narratives — exactly as the
//! server's sweep evaluates a round.
//!
//!   cargo bench -p tenet-benches --bench benchmark

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;
use std::collections::BTreeMap;
use tenet_tenant_benchmark::engine::{self, Facts};
use tenet_tenant_benchmark::model::ProfileState;
use tenet_tenant_benchmark::profiles::Profiles;
use tenet_tenant_benchmark::score::Signal;

const T0: i64 = 1_796_000_000_000;
const DAY: i64 = 86_400_000;

type Tenant = (String, Facts, BTreeMap<String, Signal>);

/// 10,000 tenants: plans, seats and regulation vary, and so do their
/// signals (a few missing, a few stale), from a fixed sequence.
fn tenants() -> Vec<Tenant> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let names = [
        "iam.mfa_coverage_pct",
        "vuln.critical_patch_days_p90",
        "logging.audit_retention_days",
        "storage.residency_conformance_pct",
        "incidents.mttr_hours",
        "incidents_90d",
        "open_critical_findings",
        "evidence_age_days",
        "iam.sso_adoption_pct",
        "iam.admins_inactive_90d",
        "policy.enforced_coverage_pct",
        "support.open_tickets_per_100_seats",
        "sre.slo_compliance_pct",
        "delivery.change_failure_rate_pct",
        "sre.mttr_hours_p50",
        "oncall.pages_per_week",
        "backup.restore_drill_pass_pct",
        "sev1_open",
    ];
    (0..10_000)
        .map(|i| {
            let plan = ["starter", "business", "enterprise"][next(3) as usize];
            let facts = json!({
                "name": format!("tenant-{i}"),
                "regulated": next(2) == 0,
                "plan": plan,
                "seats": next(2000),
                "age_days": next(1000),
            });
            let facts = facts.as_object().cloned().unwrap_or_default();
            let mut signals = BTreeMap::new();
            for n in names {
                if next(20) == 0 {
                    continue; // missing
                }
                let value = match n {
                    "incidents_90d" | "open_critical_findings" | "sev1_open" => next(3) as f64,
                    _ => next(1000) as f64 / 10.0,
                };
                signals.insert(
                    n.to_string(),
                    Signal {
                        value: json!(value),
                        at: Some(T0 - next(40) as i64 * DAY),
                        source: Some(format!("https://evidence.example/{i}/{n}")),
                    },
                );
            }
            (format!("tenant-{i}"), facts, signals)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = tenet_runtime::load::load_bundled().expect("the bundled rules");
    let pack = tenet_tenant_benchmark::pack(&rules).expect("the tenant_benchmark pack");
    let profiles = Profiles::read(&pack).expect("the bundled profiles");
    assert_eq!(profiles.by_name.len(), 3, "three bundled profiles");
    let tenants = tenants();
    let mut g = c.benchmark_group("tenant-benchmark");
    g.sample_size(10);
    g.bench_function("score 10,000 tenants x 3 profiles", |b| {
        b.iter(|| {
            let mut scored = 0usize;
            for (name, facts, signals) in &tenants {
                for p in profiles.by_name.values() {
                    let (e, _) = engine::evaluate(
                        &pack,
                        p,
                        name,
                        facts,
                        signals,
                        &ProfileState::default(),
                        T0,
                    );
                    scored += usize::from(e.score.score.is_some());
                    black_box(&e);
                }
            }
            assert!(scored > 10_000, "most evaluations have a score");
            scored
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
