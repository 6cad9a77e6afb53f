//! The burn-down, counted by hand: five findings over five days, one
//! acknowledged, one waived for two days, one closed, one breaching its
//! SLA; by severity and by age, and the SVG chart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::Path;
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{ack, close_registered, ingest, waive, Inventory, WaiveRequest};
use tenet_dark_inventory::model::{Batch, CatalogEntry};
use tenet_dark_inventory::policy::Policy;
use tenet_dark_inventory::trends::{svg, trends, By};
use tenet_runtime::clock::Timestamp;
use tenet_runtime::load::load_bundled;

const T0: i64 = 1_796_083_200_000; // 2026-12-01
const D: i64 = 86_400_000;

fn bucket(name: &str, public: bool) -> Value {
    json!({"type": "aws:s3:bucket", "attributes": {"arn": format!("arn:aws:s3:::{name}"), "name": name, "account_id": "1", "public": public}})
}

fn batch(run: &str, at: i64, resources: Vec<Value>) -> Batch {
    serde_json::from_value(json!({
        "source": "aws-config", "run": run, "at": Timestamp::from_millis(at).rfc3339(), "resources": resources,
    }))
    .unwrap()
}

#[test]
fn burn_down_matches_the_figures_counted_by_hand() {
    let rules = load_bundled().unwrap();
    let pack = tenet_dark_inventory::pack(&rules).unwrap();
    let policy = Policy::read(&pack).unwrap();
    let lc = policy.lifecycle.clone();
    let empty = CatalogIndex::build(&pack, &policy, Vec::new(), json!({})).unwrap();
    let mut inv = Inventory::new("acme");
    // Day 0 (at noon): a, b (high, 7d SLA) and p (critical, public, 24h SLA).
    ingest(
        &pack,
        &policy,
        &empty,
        &mut inv,
        &batch(
            "r1",
            T0 + D / 2,
            vec![bucket("a", false), bucket("b", false), bucket("p", true)],
        ),
        0,
    )
    .unwrap();
    // Day 2: c and d appear.
    ingest(
        &pack,
        &policy,
        &empty,
        &mut inv,
        &batch(
            "r2",
            T0 + 2 * D + D / 2,
            vec![
                bucket("a", false),
                bucket("b", false),
                bucket("p", true),
                bucket("c", false),
                bucket("d", false),
            ],
        ),
        0,
    )
    .unwrap();
    let id = |inv: &Inventory, k: &str| inv.by_key[&format!("arn:aws:s3:::{k}")].clone();
    // a acknowledged on day 1; b waived from day 1 to day 3; c registered on day 3.
    let (a, b, c) = (id(&inv, "a"), id(&inv, "b"), id(&inv, "c"));
    ack(inv.findings.get_mut(&a).unwrap(), "alice", None, T0 + D + 1).unwrap();
    let req = WaiveRequest {
        owner: "o".into(),
        justification: "j".into(),
        approver: None,
        until: T0 + 3 * D + 1,
        by: "bob".into(),
    };
    waive(inv.findings.get_mut(&b).unwrap(), &req, T0 + D + 1, &lc).unwrap();
    let entries: Vec<CatalogEntry> = serde_json::from_value(json!([{"catalog": "data-stores", "id": "c", "keys": ["c"], "owner": "x", "classification": "y"}])).unwrap();
    let cat = CatalogIndex::build(&pack, &policy, entries, json!({})).unwrap();
    assert_eq!(
        close_registered(&pack, &policy, &cat, &mut inv, T0 + 3 * D + 1),
        vec![c]
    );

    let all: Vec<_> = inv.findings.values().cloned().collect();
    let t = trends(
        |_| all.clone(),
        T0,
        T0 + 5 * D,
        D,
        By::Severity,
        &policy.levels,
        &lc,
    )
    .unwrap();
    let row = |i: usize| {
        let p = &t.points[i];
        (
            p.outstanding["critical"],
            p.outstanding["high"],
            p.total,
            p.waived,
            p.breached,
            p.opened,
            p.closed,
        )
    };
    //            crit high total waived breached opened closed
    // day 1: a, b, p outstanding; p (24h from noon) not yet breached.
    assert_eq!(row(0), (1, 2, 3, 0, 0, 3, 0));
    // day 2: b waived; p breached at noon on day 1.
    assert_eq!(row(1), (1, 1, 2, 1, 1, 0, 0));
    // day 3: c and d opened.
    assert_eq!(row(2), (1, 3, 4, 1, 1, 2, 0));
    // day 4: b's waiver expired (back); c closed.
    assert_eq!(row(3), (1, 3, 4, 0, 1, 0, 1));
    // day 5: nothing new; a (7d from day 0 noon) not breached yet.
    assert_eq!(row(4), (1, 3, 4, 0, 1, 0, 0));
    assert_eq!(t.points[0].at, "2026-12-02T00:00:00.000Z");
    assert_eq!(t.groups, vec!["critical", "high", "medium", "low", "info"]);

    let by_age = trends(
        |_| all.clone(),
        T0,
        T0 + 10 * D,
        5 * D,
        By::Age,
        &policy.levels,
        &lc,
    )
    .unwrap();
    // Day 5: all four under 7 days. Day 10: a and p are 9.5 days old, b too; d 7.5.
    assert_eq!(by_age.points[0].outstanding["<7d"], 4);
    assert_eq!(by_age.points[1].outstanding["7-30d"], 4);

    let chart = svg(&t);
    assert!(chart.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../snapshots/dark-inventory"),
    );
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!("trends-severity-svg", chart));
}

#[test]
fn spans_are_checked_and_clamped() {
    let lc = tenet_dark_inventory::policy::Lifecycle::default();
    let levels = vec!["high".to_string()];
    let none = |_| Vec::new();
    assert_eq!(
        trends(none, 0, D, 0, By::Severity, &levels, &lc).unwrap_err(),
        "`every` must be positive"
    );
    assert!(
        trends(none, D, 0, D, By::Severity, &levels, &lc)
            .unwrap()
            .points
            .is_empty(),
        "an empty span"
    );
    let long = trends(none, 0, 2000 * D, D, By::Severity, &levels, &lc).unwrap();
    assert_eq!(long.points.len(), 1000, "clamped to the last 1000 steps");
    assert_eq!(
        long.from,
        tenet_runtime::clock::Timestamp::from_millis(1000 * D).rfc3339()
    );
}
