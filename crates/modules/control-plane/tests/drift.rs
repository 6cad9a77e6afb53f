//! Drift: a cluster's observed inventory against the desired state its
//! selectors give it — a config hash mismatch, a semver delta (major,
//! minor, patch, pre; behind or ahead), a missing service or capability,
//! the wrong bundle, no inventory or a stale one — and the registry on
//! both stores, where a drift is announced once (one audit event), however
//! many replicas check at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tenet_control_plane::engine::{desired_for, drift, fleet_drift, new_drifts, semver_delta};
use tenet_control_plane::model::{ClusterRecord, Desired, Inventory};
use tenet_control_plane::store as st;
use tenet_store::testing::{fresh, Kind};
use tenet_store::{conformance, AuditEvent, Location};

const NOW: i64 = 1_796_205_600_000;
const HOUR: i64 = 3_600_000;

fn cluster(id: &str, env: &str, inv: Option<Inventory>) -> ClusterRecord {
    serde_json::from_value(json!({
        "id": id, "region": "eu-west-1", "env": env,
        "endpoints": {"admin": format!("http://127.0.0.1:9/{id}")},
        "capabilities": ["tenet-sidecar"], "version": "1.4.0",
        "labels": {"tier": "standard"},
    }))
    .map(|mut c: ClusterRecord| {
        c.inventory = inv;
        c
    })
    .unwrap()
}

fn inventory(bundle: &str, api: &str, hash: &str) -> Inventory {
    serde_json::from_value(json!({
        "services": {"api": api, "sidecar": "2.1.0"},
        "config_hashes": {"gateway": hash},
        "flags": {"new_checkout": true},
        "bundle_fingerprint": bundle,
        "observed_at": NOW - HOUR,
    }))
    .unwrap()
}

fn desired() -> Vec<Desired> {
    serde_json::from_value(json!([
        {"bundle_fingerprint": "sha256:aaa", "services": {"api": "3.2.1", "sidecar": "2.1.0"}, "config_hashes": {"gateway": "h1"}, "capabilities": ["tenet-sidecar"]},
        {"select": {"labels": {"env": "prod"}}, "capabilities": ["opa-wasm"], "services": {"api": "3.3.0"}}
    ]))
    .unwrap()
}

#[test]
fn each_kind_of_drift_names_what_and_by_how_much() {
    let ok = cluster(
        "stg-1",
        "staging",
        Some(inventory("sha256:aaa", "3.2.1", "h1")),
    );
    let d = desired_for(&ok, &desired()).unwrap();
    assert!(
        drift(&ok, &d, NOW, 3 * HOUR).is_empty(),
        "{:?}",
        drift(&ok, &d, NOW, 3 * HOUR)
    );

    // Production wants api 3.3.0 and the opa-wasm capability; this one runs
    // api 3.2.1, another gateway config and an older bundle.
    let prod = cluster(
        "prod-1",
        "prod",
        Some(inventory("sha256:old", "3.2.1", "h2")),
    );
    let d = desired_for(&prod, &desired()).unwrap();
    let got = drift(&prod, &d, NOW, 3 * HOUR);
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|x| (x.kind.as_str(), x.item.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("bundle_fingerprint", ""),
            ("config_hash", "gateway"),
            ("missing_capability", "opa-wasm"),
            ("service_version", "api")
        ]
    );
    let api = got.iter().find(|x| x.kind == "service_version").unwrap();
    assert_eq!(api.delta.as_deref(), Some("minor behind"));
    assert_eq!(
        api.reason,
        "`api` on prod-1 is 3.2.1, a minor version behind of 3.3.0"
    );
    let hash = got.iter().find(|x| x.kind == "config_hash").unwrap();
    assert_eq!(
        (hash.expected.as_deref(), hash.observed.as_deref()),
        (Some("h1"), Some("h2"))
    );
    assert_eq!(
        got[0].reason,
        "prod-1 serves policy bundle sha256:old instead of sha256:aaa"
    );

    // No inventory, or a stale one: not known to be right.
    let none = cluster("prod-2", "prod", None);
    assert_eq!(drift(&none, &d, NOW, 3 * HOUR)[0].kind, "no_inventory");
    let mut old = inventory("sha256:aaa", "3.3.0", "h1");
    old.observed_at = NOW - 5 * HOUR;
    let stale = cluster("prod-3", "prod", Some(old));
    assert!(drift(&stale, &d, NOW, 3 * HOUR)
        .iter()
        .any(|x| x.kind == "stale_inventory"));
}

#[test]
fn semver_deltas() {
    assert_eq!(
        semver_delta("2.0.0", "1.9.9"),
        Some(("major".into(), "behind"))
    );
    assert_eq!(
        semver_delta("1.4.0", "1.5.0"),
        Some(("minor".into(), "ahead"))
    );
    assert_eq!(
        semver_delta("1.4.2", "1.4.1"),
        Some(("patch".into(), "behind"))
    );
    assert_eq!(
        semver_delta("1.4.2", "1.4.2-rc.1"),
        Some(("pre".into(), "behind"))
    );
    assert_eq!(semver_delta("v1.4.2", "1.4.2"), None);
    assert_eq!(semver_delta("latest", "1.4.2"), None);
    // A malformed selector in a desired state is an error naming it.
    let bad: Vec<Desired> =
        serde_json::from_value(json!([{"select": {"labels": "prod"}}])).unwrap();
    assert!(desired_for(&cluster("a", "prod", None), &bad)
        .unwrap_err()
        .starts_with("desired state 0:"));
}

#[test]
fn a_drift_is_new_once() {
    let prod = cluster(
        "prod-1",
        "prod",
        Some(inventory("sha256:old", "3.3.0", "h1")),
    );
    let first = fleet_drift(std::slice::from_ref(&prod), &desired(), NOW, 3 * HOUR).unwrap();
    let first: Vec<_> = first.values().flatten().cloned().collect();
    assert_eq!(new_drifts(&[], &first).len(), first.len());
    assert!(new_drifts(&first, &first).is_empty());
}

fn event(d: &tenet_control_plane::model::Drift) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("drift-{}-{}-{}", d.cluster, d.kind, d.item),
        at: "2026-12-02T10:00:00Z".into(),
        source: tenet_control_plane::MODULE.into(),
        subject: d.cluster.clone(),
        actor: "drift-check".into(),
        scope: "fleet".into(),
        outcome: "drift_detected".into(),
        reason: Some(d.reason.clone()),
        latency_ms: 0,
        details: serde_json::to_value(d).unwrap(),
        tenant: None,
        bundle: None,
    }
}

fn registered(id: &str) -> AuditEvent {
    AuditEvent {
        action_id: format!("reg-{id}"),
        outcome: "registered".into(),
        subject: id.into(),
        ..event(&tenet_control_plane::model::Drift {
            cluster: id.into(),
            kind: "k".into(),
            item: String::new(),
            expected: None,
            observed: None,
            delta: None,
            reason: String::new(),
        })
    }
}

fn seed(loc: &Location) {
    let mut store = st::open(loc).unwrap();
    for (id, env) in [("stg-1", "staging"), ("prod-1", "prod"), ("prod-2", "prod")] {
        assert!(st::register(&mut store, &cluster(id, env, None), registered(id)).unwrap());
    }
    // Registering again updates, and keeps the inventory.
    assert!(st::record_inventory(
        &mut store,
        "prod-1",
        &inventory("sha256:old", "3.3.0", "h1")
    )
    .unwrap());
    assert!(!st::register(
        &mut store,
        &cluster("prod-1", "prod", None),
        registered("prod-1b")
    )
    .unwrap());
    assert!(st::cluster(&store, "prod-1")
        .unwrap()
        .unwrap()
        .inventory
        .is_some());
    assert!(!st::record_inventory(&mut store, "nope", &Inventory::default()).unwrap());
    st::record_inventory(&mut store, "stg-1", &inventory("sha256:aaa", "3.2.1", "h1")).unwrap();
    st::set_desired(&mut store, &desired()).unwrap();
}

conformance!(drift_is_kept_and_announced_once, |kind, dir| {
    let loc = fresh(kind, dir);
    seed(&loc);
    let mut store = st::open(&loc).unwrap();
    let c = st::check_drift(&mut store, NOW, 3 * HOUR, event).unwrap();
    assert!(c.drift["stg-1"].is_empty());
    assert_eq!(c.drift["prod-2"][0].kind, "no_inventory");
    let n = c.new.len();
    assert!(n >= 3, "{:?}", c.new);
    // Checked again: the same drift, nothing new, no new event.
    let again = st::check_drift(&mut store, NOW + 1, 3 * HOUR, event).unwrap();
    assert!(again.new.is_empty());
    let announced = store
        .audit_events(Some("fleet"), 1000)
        .unwrap()
        .iter()
        .filter(|e| e.outcome == "drift_detected")
        .count();
    assert_eq!(announced, n);
    // prod-1 is fixed: its drift goes; prod-2 still has none.
    st::record_inventory(&mut store, "prod-1", &{
        let mut i = inventory("sha256:aaa", "3.3.0", "h1");
        i.capabilities = vec!["opa-wasm".into()];
        i.observed_at = NOW;
        i
    })
    .unwrap();
    let fixed = st::check_drift(&mut store, NOW + 2, 3 * HOUR, event).unwrap();
    assert!(
        fixed.drift["prod-1"].is_empty(),
        "{:?}",
        fixed.drift["prod-1"]
    );
    assert!(fixed.new.is_empty());
});

#[test]
fn two_replicas_announce_a_drift_once() {
    let dir = tempfile::tempdir().unwrap();
    let loc = fresh(Kind::Postgres, dir.path());
    seed(&loc);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let loc = loc.clone();
            std::thread::spawn(move || {
                let mut store = st::open(&loc).unwrap();
                (0..5)
                    .map(|i| {
                        st::check_drift(&mut store, NOW + i, 3 * HOUR, event)
                            .unwrap()
                            .new
                            .len()
                    })
                    .sum::<usize>()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let store = st::open(&loc).unwrap();
    let announced = store
        .audit_events(Some("fleet"), 1000)
        .unwrap()
        .iter()
        .filter(|e| e.outcome == "drift_detected")
        .count();
    assert_eq!(total, announced);
    let distinct =
        st::check_drift(&mut st::open(&loc).unwrap(), NOW + 10, 3 * HOUR, event).unwrap();
    assert_eq!(
        announced,
        distinct.drift.values().map(Vec::len).sum::<usize>(),
        "each drift once"
    );
}

#[test]
fn the_pack_says_how_long_an_inventory_is_trusted() {
    use tenet_control_plane::engine::{inventory_max_age, DEFAULT_INVENTORY_MAX_AGE_MS};
    use tenet_runtime::load::{load_bundled, load_files, RuleFile};
    let rules = load_bundled().unwrap();
    assert_eq!(
        inventory_max_age(&tenet_control_plane::pack(&rules).unwrap()),
        15 * 60 * 1000
    );
    let text =
        "tenet 1\npack control_plane version \"1.0.0\"\n\nfleet {\n  inventory_max_age 1h\n}\n";
    let rules = load_files(
        vec![RuleFile {
            path: "cp.tenet".into(),
            text: text.into(),
        }],
        "",
    )
    .unwrap();
    assert_eq!(
        inventory_max_age(&tenet_control_plane::pack(&rules).unwrap()),
        HOUR
    );
    let text = "tenet 1\npack control_plane version \"1.0.0\"\n";
    let rules = load_files(
        vec![RuleFile {
            path: "cp.tenet".into(),
            text: text.into(),
        }],
        "",
    )
    .unwrap();
    assert_eq!(
        inventory_max_age(&tenet_control_plane::pack(&rules).unwrap()),
        DEFAULT_INVENTORY_MAX_AGE_MS
    );
}
