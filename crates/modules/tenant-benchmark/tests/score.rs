//! Scores of synthetic tenants, computed by hand (the arithmetic is in the
//! comments), on the bundled `regulator` and `csm` profiles and on small
//! packs: weights, bounds, smaller-is-better, `when`, each fallback, the
//! cap on one factor's share, coverage, and the same answer byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::collections::BTreeMap;
use tenet_runtime::load::{load_bundled, load_files, RuleFile, Rules};
use tenet_tenant_benchmark::profiles::Profiles;
use tenet_tenant_benchmark::score::{score, Earlier, Score, Signal};

const NOW: i64 = 1_796_000_000_000;
const DAY: i64 = 86_400_000;

fn sig(v: f64) -> Signal {
    Signal {
        value: json!(v),
        at: Some(NOW - DAY),
        source: Some("https://evidence.example/x".into()),
    }
}

fn run(
    rules: &Rules,
    profile: &str,
    tenant: serde_json::Value,
    signals: &[(&str, Signal)],
    earlier: &[(&str, Earlier)],
) -> Score {
    let pack = tenet_tenant_benchmark::pack(rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let p = profiles.get(profile).unwrap();
    let signals: BTreeMap<String, Signal> = signals
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let earlier: BTreeMap<String, Earlier> =
        earlier.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    score(&pack, p, &tenant, &signals, &earlier, NOW)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn factor<'a>(s: &'a Score, name: &str) -> &'a tenet_tenant_benchmark::score::FactorScore {
    s.factors.iter().find(|f| f.factor == name).unwrap()
}

#[test]
fn a_regulated_tenant_on_the_regulator_profile_with_the_cap() {
    let rules = load_bundled().unwrap();
    // Applicable: mfa 3, patch 2, retention 2, residency 2 (regulated);
    // mttr leaves (no incidents): weight 9.
    //   mfa 90 of [0,100]          → 0.90 × 3 = 2.7
    //   patch 15 days of [0,60], smaller is better → (60-15)/60 = 0.75 × 2 = 1.5
    //   retention 365 of [0,365]   → 1.00 × 2 = 2.0
    //   residency 50 of [0,100]    → 0.50 × 2 = 1.0
    // 100 × 7.2 / 9 = 80; mfa carries 30 points, 37.5% > the cap of 35%.
    // Cut: the others keep 50 points; s = 50 / (1 - 0.35) = 76.923…,
    // mfa = 0.35 × s = 26.923…
    let s = run(
        &rules,
        "regulator",
        json!({"name": "acme", "regulated": true}),
        &[
            ("iam.mfa_coverage_pct", sig(90.0)),
            ("vuln.critical_patch_days_p90", sig(15.0)),
            ("logging.audit_retention_days", sig(365.0)),
            ("storage.residency_conformance_pct", sig(50.0)),
            ("incidents_90d", sig(0.0)),
        ],
        &[],
    );
    let total = 50.0 / 0.65;
    assert!(close(s.score.unwrap(), total), "{:?}", s.score);
    assert!(close(s.coverage, 1.0), "{s:#?}");
    let mfa = factor(&s, "mfa_coverage");
    assert!(
        close(mfa.contribution, 0.35 * total),
        "{}",
        mfa.contribution
    );
    assert!(close(mfa.share, 35.0), "{}", mfa.share);
    assert!(close(mfa.capped, 30.0 - 0.35 * total));
    assert!(close(
        factor(&s, "critical_patch_latency").normalised.unwrap(),
        0.75
    ));
    assert!(close(
        factor(&s, "critical_patch_latency").contribution,
        100.0 * 1.5 / 9.0
    ));
    assert!(!factor(&s, "incident_mttr").included);
    assert!(factor(&s, "incident_mttr")
        .why
        .as_ref()
        .unwrap()
        .starts_with("does not apply"));
    assert!(close(factor(&s, "mfa_coverage").age_s.unwrap(), 86_400.0));
    // No factor can move the score past its cap.
    for f in &s.factors {
        assert!(f.share <= 35.0 + 1e-9, "{}: {}", f.factor, f.share);
    }
    // Fixed inputs, the same answer byte for byte.
    let again = run(
        &rules,
        "regulator",
        json!({"name": "acme", "regulated": true}),
        &[
            ("iam.mfa_coverage_pct", sig(90.0)),
            ("vuln.critical_patch_days_p90", sig(15.0)),
            ("logging.audit_retention_days", sig(365.0)),
            ("storage.residency_conformance_pct", sig(50.0)),
            ("incidents_90d", sig(0.0)),
        ],
        &[],
    );
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

#[test]
fn each_missing_data_policy() {
    let rules = load_bundled().unwrap();
    let base = [
        ("vuln.critical_patch_days_p90", sig(0.0)),
        ("logging.audit_retention_days", sig(365.0)),
    ];
    // `block`: no MFA evidence, no score at all.
    let s = run(&rules, "regulator", json!({"regulated": false}), &base, &[]);
    assert_eq!(s.score, None);
    assert!(
        s.blocked
            .as_ref()
            .unwrap()
            .contains("`mfa_coverage`: no signal, and its fallback is `block`"),
        "{:?}",
        s.blocked
    );
    // `count_as_zero`: retention missing counts as 0 points with its
    // weight; patch 0 days → 1.0. Applicable: mfa 3, patch 2, retention 2
    // = 7; 100 × (3×1 + 2×1 + 2×0) / 7 = 71.43. Only two factors carry
    // points, and two caps of 35% cannot make the whole: said, not cut.
    let s = run(
        &rules,
        "regulator",
        json!({"regulated": false}),
        &[
            ("iam.mfa_coverage_pct", sig(100.0)),
            ("vuln.critical_patch_days_p90", sig(0.0)),
        ],
        &[],
    );
    assert!(close(s.score.unwrap(), 500.0 / 7.0), "{:?}", s);
    assert!(s
        .cap_note
        .as_ref()
        .unwrap()
        .contains("2 factor(s) carry the score"));
    assert!(factor(&s, "audit_log_retention")
        .why
        .as_ref()
        .unwrap()
        .contains("counted as zero"));
    assert!(close(s.coverage, 1.0), "count_as_zero counts as data");
    // `carry_forward`: patch missing; 7 days ago it was 30 (→ 0.5), half
    // life 14 days: × 0.5^(7/14) = 0.3536. Older than max_age 30d: left out.
    let s = run(
        &rules,
        "regulator",
        json!({"regulated": false}),
        &[
            ("iam.mfa_coverage_pct", sig(100.0)),
            ("logging.audit_retention_days", sig(365.0)),
        ],
        &[(
            "critical_patch_latency",
            Earlier {
                value: 30.0,
                at: NOW - 7 * DAY,
            },
        )],
    );
    let p = factor(&s, "critical_patch_latency");
    assert!(
        close(p.normalised.unwrap(), 0.5 * 0.5f64.powf(0.5)),
        "{p:?}"
    );
    assert!(p.why.as_ref().unwrap().contains("carried forward"));
    let s = run(
        &rules,
        "regulator",
        json!({"regulated": false}),
        &[
            ("iam.mfa_coverage_pct", sig(100.0)),
            ("logging.audit_retention_days", sig(365.0)),
        ],
        &[(
            "critical_patch_latency",
            Earlier {
                value: 30.0,
                at: NOW - 31 * DAY,
            },
        )],
    );
    let p = factor(&s, "critical_patch_latency");
    assert!(!p.included);
    // Left out and renormalised: coverage shows the hole (5 of 7).
    assert!(close(s.coverage, 5.0 / 7.0), "{}", s.coverage);
    // A signal older than max_age counts as missing.
    let mut old = sig(10.0);
    old.at = Some(NOW - 40 * DAY);
    let s = run(
        &rules,
        "regulator",
        json!({"regulated": false}),
        &[
            ("iam.mfa_coverage_pct", sig(100.0)),
            ("logging.audit_retention_days", sig(365.0)),
            ("vuln.critical_patch_days_p90", old),
        ],
        &[],
    );
    assert!(factor(&s, "critical_patch_latency")
        .why
        .as_ref()
        .unwrap()
        .starts_with("signal older than `max_age`"));
}

fn pack(text: &str) -> Rules {
    load_files(
        vec![RuleFile {
            path: "t.tenet".into(),
            text: format!("tenet 1\npack tenant_benchmark version \"1.0.0\"\n\n{text}"),
        }],
        "",
    )
    .unwrap()
}

#[test]
fn bounds_distributions_and_out_of_bounds() {
    let rules = pack(
        "profile p {\n  cap_share 100%\n\n  factor stars {\n    source \"stars\"\n    weight 1\n    bounds [0, 9999]\n    distribution logarithmic\n  }\n\n  factor clamped {\n    source \"c\"\n    weight 1\n    bounds [0, 10]\n  }\n\n  factor strict {\n    source \"s\"\n    weight 1\n    bounds [0, 10]\n    out_of_bounds exclude\n  }\n}\n",
    );
    // stars 99: ln(100)/ln(10000) = 0.5; c 15 → clamped to 10 → 1.0;
    // s 11 → left out. 100 × (0.5 + 1) / 2 = 75.
    let s = run(
        &rules,
        "p",
        json!({}),
        &[("stars", sig(99.0)), ("c", sig(15.0)), ("s", sig(11.0))],
        &[],
    );
    assert!(close(factor(&s, "stars").normalised.unwrap(), 0.5));
    assert!(close(s.score.unwrap(), 75.0), "{:?}", s.score);
    assert!(factor(&s, "clamped")
        .why
        .as_ref()
        .unwrap()
        .contains("clamped"));
    assert!(!factor(&s, "strict").included);
    assert!(close(s.coverage, 2.0 / 3.0));
    let err = pack("profile p {\n  factor f {\n    source \"f\"\n    weight 1\n    bounds [0, 10]\n    out_of_bounds error\n  }\n}\n");
    let s = run(&err, "p", json!({}), &[("f", sig(-1.0))], &[]);
    assert_eq!(s.score, None);
    assert!(s
        .blocked
        .unwrap()
        .contains("-1 is outside its bounds [0, 10]"));
    // Nothing had data: no score, coverage 0 (never NaN).
    let s = run(&err, "p", json!({}), &[], &[]);
    assert_eq!((s.score, s.coverage), (None, 0.0));
}

#[test]
fn caps_that_cannot_all_hold_are_said_so() {
    // Two factors of equal weight with a cap of 30%: both would exceed it
    // and two caps of 30% cannot make the whole score.
    let rules = pack("profile p {\n  cap_share 30%\n\n  factor a {\n    source \"a\"\n    weight 1\n    bounds [0, 1]\n  }\n\n  factor b {\n    source \"b\"\n    weight 1\n    bounds [0, 1]\n  }\n}\n");
    let s = run(
        &rules,
        "p",
        json!({}),
        &[("a", sig(1.0)), ("b", sig(1.0))],
        &[],
    );
    assert!(close(s.score.unwrap(), 100.0));
    assert!(s.cap_note.unwrap().contains("cannot hold"));
}

/// The bias guard's promise: whatever the signals, no factor carries more
/// than its profile's cap of the score (when the cap can hold), and a
/// factor's value alone cannot lift the score past what the cap allows.
/// 2,000 pseudo-random tenants on every bundled profile.
#[test]
fn no_factor_ever_carries_more_than_its_cap() {
    let rules = load_bundled().unwrap();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut capped = 0;
    for p in profiles.by_name.values() {
        for _ in 0..2000 {
            let mut signals = BTreeMap::new();
            for f in &p.factors {
                if next() % 5 == 0 {
                    continue;
                }
                // Anywhere in (and a little outside) the bounds.
                let span = f.upper - f.lower;
                let v = f.lower - 0.1 * span + (next() % 10_000) as f64 / 10_000.0 * 1.2 * span;
                signals.insert(f.source.clone(), sig(v));
            }
            signals.insert("incidents_90d".into(), sig((next() % 3) as f64));
            let tenant = json!({"regulated": next() % 2 == 0, "plan": "enterprise", "seats": 100});
            let s = score(&pack, p, &tenant, &signals, &BTreeMap::new(), NOW);
            let Some(total) = s.score else { continue };
            assert!((0.0..=100.0 + 1e-9).contains(&total), "{s:?}");
            if s.cap_note.is_some() {
                continue;
            }
            let sum: f64 = s.factors.iter().map(|f| f.contribution).sum();
            assert!(close(sum, total), "the points add up to the score: {s:?}");
            for f in &s.factors {
                assert!(
                    f.contribution <= p.cap_share * total + 1e-9,
                    "{} carries {} of {total} on `{}` (cap {}): {s:?}",
                    f.factor,
                    f.contribution,
                    p.name,
                    p.cap_share
                );
                capped += usize::from(f.capped > 0.0);
            }
        }
    }
    assert!(capped > 100, "the cap was exercised ({capped} cuts)");
}
