//! The engine on the bundled pack: rogue resources are found, duplicates
//! across sources collapse into one finding with merged provenance, keys
//! bridge findings, acknowledged and waived findings stay visible but
//! quiet, waivers expire, SLA clocks pause and freeze, auto-close waits for
//! N missed runs and never happens on a stale source or a mass vanish, and
//! bad runs are refused whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{
    ack, close_registered, ingest, sla_at, view_at, waive, Inventory, Refusal, WaiveRequest,
};
use tenet_dark_inventory::model::{Batch, CatalogEntry, Status};
use tenet_dark_inventory::policy::Policy;
use tenet_runtime::load::{load_bundled, Rules};

/// 2026-12-01T00:00:00Z
const T0: i64 = 1_796_083_200_000;
const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn rules() -> Rules {
    load_bundled().unwrap()
}

fn batch(source: &str, run: &str, at: i64, resources: Value) -> Batch {
    serde_json::from_value(json!({
        "source": source,
        "run": run,
        "at": tenet_runtime::clock::Timestamp::from_millis(at).rfc3339(),
        "resources": resources,
    }))
    .unwrap()
}

fn bucket(name: &str, account: &str, public: bool) -> Value {
    json!({
        "type": "aws:s3:bucket",
        "attributes": {"arn": format!("arn:aws:s3:::{name}"), "name": name, "account_id": account, "public": public},
        "where": format!("{account}/eu-west-1"),
    })
}

fn catalog(rules: &Rules, entries: Value) -> CatalogIndex {
    let pack = tenet_dark_inventory::pack(rules).unwrap();
    let policy = Policy::read(&pack).unwrap();
    let entries: Vec<CatalogEntry> = serde_json::from_value(entries).unwrap();
    CatalogIndex::build(
        &pack,
        &policy,
        entries,
        json!({"sandbox_accounts": ["999900001111"]}),
    )
    .unwrap()
}

struct World {
    rules: Rules,
    inv: Inventory,
    cat: CatalogIndex,
}

impl World {
    fn new(entries: Value) -> World {
        let rules = rules();
        let cat = catalog(&rules, entries);
        World {
            rules,
            inv: Inventory::new("acme"),
            cat,
        }
    }

    fn policy(&self) -> Policy {
        Policy::read(&tenet_dark_inventory::pack(&self.rules).unwrap()).unwrap()
    }

    fn run(&mut self, b: &Batch) -> Result<tenet_dark_inventory::engine::RunReport, Refusal> {
        let pack = tenet_dark_inventory::pack(&self.rules).unwrap();
        let policy = Policy::read(&pack).unwrap();
        ingest(&pack, &policy, &self.cat, &mut self.inv, b, b.at.unwrap())
    }

    fn by_key(&self, key: &str) -> &tenet_dark_inventory::model::Finding {
        let id = self
            .inv
            .by_key
            .get(key)
            .unwrap_or_else(|| panic!("no finding has key {key}"));
        &self.inv.findings[id]
    }

    fn open(&self) -> Vec<&tenet_dark_inventory::model::Finding> {
        self.inv
            .findings
            .values()
            .filter(|f| !f.is_closed())
            .collect()
    }
}

fn registered() -> Value {
    json!([
        {"catalog": "data-stores", "id": "ds-1", "resource": {"arn": "arn:aws:s3:::acme-billing", "name": "acme-billing"},
         "owner": "billing", "classification": "confidential"},
        {"catalog": "data-stores", "id": "ds-2", "keys": ["arn:aws:s3:::acme-orphan"]},
        {"catalog": "service-registry", "id": "svc-shop", "keys": ["shop.acme.io"], "owner": "shop"}
    ])
}

#[test]
fn synthetic_rogue_resources_are_detected_and_explained() {
    let mut w = World::new(registered());
    let r = w
        .run(&batch(
            "aws-config",
            "r1",
            T0,
            json!([
                bucket("acme-billing", "444455556666", false), // registered and governed
                bucket("Acme-Exports", "444455556666", false), // rogue
                bucket("acme-share", "444455556666", true),    // rogue and public
                bucket("scratch-1", "999900001111", false),    // a sandbox account: skipped
                bucket("acme-orphan", "444455556666", false),  // registered, nobody owns it
                bucket(
                    "cdk-hnb659fds-assets-444455556666-eu-west-1",
                    "444455556666",
                    false
                ),
            ]),
        ))
        .unwrap();
    assert_eq!(
        (r.resources, r.registered, r.ignored, r.new.len()),
        (6, 1, 2, 3)
    );

    let exports = w.by_key("arn:aws:s3:::acme-exports");
    assert_eq!(exports.severity, "high");
    assert_eq!(exports.rule, "unregistered-s3-bucket");
    assert_eq!(exports.kind, "unregistered");
    assert_eq!(
        exports.explanation,
        "no `data-stores` catalog entry has key=arn:aws:s3:::acme-exports (aliases: acme-exports, https://acme-exports.s3.amazonaws.com); seen by aws-config (rule `unregistered-s3-bucket`)"
    );
    assert_eq!(exports.tasks[0].kind, "register-bucket");
    assert!(exports
        .remediation
        .as_deref()
        .unwrap()
        .contains("arn:aws:s3:::Acme-Exports"));

    let share = w.by_key("arn:aws:s3:::acme-share");
    assert_eq!(
        (share.severity.as_str(), share.sla_ms),
        ("critical", Some(24 * H))
    );

    let orphan = w.by_key("arn:aws:s3:::acme-orphan");
    assert_eq!(orphan.kind, "ungoverned");
    assert!(orphan.explanation.starts_with("`data-stores` catalog entry `ds-2` has key=arn:aws:s3:::acme-orphan (aliases: acme-orphan, https://acme-orphan.s3.amazonaws.com), but it is not governed: `catalog.entry.owner != \"\" and catalog.entry.classification != \"\"` does not hold"), "{}", orphan.explanation);

    // An ingress nobody registered; the registered one is quiet.
    w.run(&batch(
        "k8s-ingress",
        "k1",
        T0 + H,
        json!([
            {"type": "k8s:ingress", "attributes": {"hostname": "Admin.Acme.io", "internet_facing": true}, "where": "prod-eu-1/admin"},
            {"type": "k8s:ingress", "attributes": {"hostname": "shop.acme.io", "internet_facing": true}},
            {"type": "k8s:ingress", "attributes": {"hostname": "internal.acme.io", "internet_facing": false}},
        ]),
    ))
    .unwrap();
    assert_eq!(w.by_key("admin.acme.io").rule, "rogue-ingress-endpoint");
    assert_eq!(w.open().len(), 4);
}

#[test]
fn the_same_resource_from_several_sources_is_one_finding_with_merged_provenance() {
    let mut w = World::new(json!([]));
    w.run(&batch(
        "aws-config",
        "a1",
        T0,
        json!([bucket("acme-logs", "444455556666", false)]),
    ))
    .unwrap();
    // CloudTrail knows only the bucket's name: the alias joins them.
    w.run(&batch(
        "cloudtrail",
        "c1",
        T0 + 2 * H,
        json!([{"type": "aws:s3:bucket", "attributes": {"name": "ACME-LOGS", "account_id": "444455556666"}, "lineage": ["created by alice via terraform"]}]),
    ))
    .unwrap();
    w.run(&batch(
        "aws-config",
        "a2",
        T0 + 3 * H,
        json!([bucket("acme-logs", "444455556666", false)]),
    ))
    .unwrap();
    assert_eq!(w.inv.findings.len(), 1);
    let f = w.by_key("acme-logs");
    assert_eq!(f.key, "arn:aws:s3:::acme-logs");
    let aws = &f.sources["aws-config"];
    let ct = &f.sources["cloudtrail"];
    assert_eq!(
        (aws.first_seen, aws.last_seen, aws.last_run.as_str()),
        (T0, T0 + 3 * H, "a2")
    );
    assert_eq!((ct.first_seen, ct.last_seen), (T0 + 2 * H, T0 + 2 * H));
    assert_eq!((f.first_seen, f.last_seen), (T0, T0 + 3 * H));
    assert_eq!(f.lineage, vec!["created by alice via terraform"]);
    assert!(
        f.explanation.contains("seen by aws-config and cloudtrail"),
        "{}",
        f.explanation
    );
}

#[test]
fn a_key_that_bridges_two_findings_merges_them_into_the_oldest() {
    let mut w = World::new(json!([]));
    // CloudTrail: by name only. AWS Config (another resource id form): by ARN only.
    w.run(&batch(
        "cloudtrail",
        "c1",
        T0,
        json!([{"type": "aws:s3:bucket", "attributes": {"name": "acme-raw"}}]),
    ))
    .unwrap();
    w.run(&batch(
        "aws-config",
        "a1",
        T0 + H,
        json!([{"type": "aws:s3:bucket", "attributes": {"arn": "arn:aws:s3:::acme-raw"}}]),
    ))
    .unwrap();
    assert_eq!(w.open().len(), 2);
    // Access Analyzer reports both its ARN and its name, and that it is public.
    let r = w
        .run(&batch(
            "access-analyzer",
            "x1",
            T0 + 2 * H,
            json!([bucket("acme-raw", "444455556666", true)]),
        ))
        .unwrap();
    assert_eq!(r.merged.len(), 1);
    let open = w.open();
    assert_eq!(open.len(), 1);
    let f = open[0];
    assert_eq!(f.first_seen, T0, "the oldest survives");
    assert_eq!(f.key, "acme-raw");
    assert_eq!(
        f.severity, "critical",
        "severity follows the latest sighting"
    );
    assert_eq!(f.sources.len(), 3);
    let gone = &w.inv.findings[&r.merged[0]];
    assert_eq!(gone.merged_into.as_deref(), Some(f.id.as_str()));
    assert_eq!(gone.status_at(T0 + 2 * H), Status::Closed);
    assert_eq!(gone.closures[0].reason, "merged");
    assert!(f.explanation.contains("merged"), "{}", f.explanation);
}

#[test]
fn acknowledged_and_waived_findings_stay_visible_but_quiet_and_waivers_expire() {
    let mut w = World::new(json!([]));
    w.run(&batch(
        "aws-config",
        "a1",
        T0,
        json!([
            bucket("acme-a", "444455556666", false),
            bucket("acme-b", "444455556666", false)
        ]),
    ))
    .unwrap();
    let lc = w.policy().lifecycle;
    let a = w.by_key("acme-a").id.clone();
    let b = w.by_key("acme-b").id.clone();
    assert!(ack(
        w.inv.findings.get_mut(&a).unwrap(),
        "alice",
        Some("on it".into()),
        T0 + H
    )
    .unwrap());
    assert!(
        !ack(w.inv.findings.get_mut(&a).unwrap(), "bob", None, T0 + 2 * H).unwrap(),
        "a second ack changes nothing"
    );
    let req = WaiveRequest {
        owner: "data-platform".into(),
        justification: "migrating to the lakehouse".into(),
        approver: Some("ciso".into()),
        until: T0 + 10 * D,
        by: "carol".into(),
    };
    waive(w.inv.findings.get_mut(&b).unwrap(), &req, T0 + H, &lc).unwrap();

    let fa = &w.inv.findings[&a];
    let fb = &w.inv.findings[&b];
    assert_eq!(fa.status_at(T0 + 2 * H), Status::Acknowledged);
    assert_eq!(fb.status_at(T0 + 2 * H), Status::Waived);
    assert!(!fa.status_at(T0 + 2 * H).loud() && !fb.status_at(T0 + 2 * H).loud());
    let v = view_at(fb, T0 + 2 * H, &lc);
    assert_eq!(v.waived_until.as_deref(), Some("2026-12-11T00:00:00.000Z"));
    // The waiver expires: the finding is open again, and loud.
    assert_eq!(fb.status_at(T0 + 10 * D), Status::Open);
    assert!(fb.status_at(T0 + 10 * D).loud());
    // Before it existed, it was open.
    assert_eq!(fb.status_at(T0), Status::Open);

    // Longer than the pack's 90 days, in the past, or without a justification: refused.
    let fb = w.inv.findings.get_mut(&b).unwrap();
    let before = fb.clone();
    for (until, just, why) in [
        (T0 + H + 91 * D, "x", "later than the pack allows"),
        (T0, "x", "must be later than now"),
        (T0 + 2 * D, " ", "non-empty `justification`"),
    ] {
        let r = waive(
            fb,
            &WaiveRequest {
                until,
                justification: just.into(),
                ..req.clone()
            },
            T0 + H,
            &lc,
        );
        match r {
            Err(Refusal::Invalid(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(*fb, before, "a refused waiver changes nothing");
}

#[test]
fn the_sla_clock_starts_at_first_seen_pauses_while_waived_and_freezes_at_close() {
    let mut w = World::new(json!([]));
    let lc = w.policy().lifecycle;
    // unregistered-s3-bucket: high, 7 days.
    w.run(&batch(
        "aws-config",
        "a1",
        T0,
        json!([bucket("acme-slow", "444455556666", false)]),
    ))
    .unwrap();
    let id = w.by_key("acme-slow").id.clone();
    let c = sla_at(&w.inv.findings[&id], T0 + 3 * D, &lc).unwrap();
    assert_eq!(
        (c.elapsed_ms, c.margin_ms, c.due),
        (3 * D, 4 * D, T0 + 7 * D)
    );
    // Waived from day 3 to day 5: two days do not count.
    let req = WaiveRequest {
        owner: "o".into(),
        justification: "j".into(),
        approver: None,
        until: T0 + 5 * D,
        by: "carol".into(),
    };
    waive(w.inv.findings.get_mut(&id).unwrap(), &req, T0 + 3 * D, &lc).unwrap();
    let f = &w.inv.findings[&id];
    let during = sla_at(f, T0 + 4 * D, &lc).unwrap();
    assert!(during.paused);
    assert_eq!(during.elapsed_ms, 3 * D);
    let after = sla_at(f, T0 + 8 * D, &lc).unwrap();
    assert_eq!(
        (after.elapsed_ms, after.margin_ms, after.due),
        (6 * D, D, T0 + 9 * D)
    );
    // Breached by a day at day 10.
    let v = view_at(f, T0 + 10 * D, &lc);
    assert_eq!(v.sla.as_ref().unwrap().state, "breached");
    assert_eq!(v.sla.as_ref().unwrap().margin, "-1d");

    // Registered on day 10: closed, and the margin is frozen there.
    w.cat = catalog(
        &w.rules,
        json!([{"catalog": "data-stores", "id": "ds-9", "keys": ["acme-slow"], "owner": "ops", "classification": "internal"}]),
    );
    let pack = tenet_dark_inventory::pack(&w.rules).unwrap();
    let policy = w.policy();
    let closed = close_registered(&pack, &policy, &w.cat, &mut w.inv, T0 + 10 * D);
    assert_eq!(closed, vec![id.clone()]);
    let f = &w.inv.findings[&id];
    assert_eq!(f.closures[0].sla_margin_ms, Some(-D));
    for t in [T0 + 10 * D, T0 + 30 * D] {
        let v = view_at(f, t, &lc);
        assert_eq!(v.status, Status::Closed);
        assert_eq!(v.closed_reason.as_deref(), Some("registered"));
        let s = v.sla.unwrap();
        assert_eq!(
            (s.state, s.margin_s),
            ("missed", -86_400),
            "frozen, whenever it is read"
        );
    }
    assert_eq!(
        f.status_at(T0 + 9 * D),
        Status::Open,
        "as it stood before the closure"
    );
}

#[test]
fn age_clocks_advance() {
    let mut w = World::new(json!([]));
    let lc = w.policy().lifecycle;
    w.run(&batch(
        "aws-config",
        "a1",
        T0,
        json!([bucket("acme-old", "444455556666", false)]),
    ))
    .unwrap();
    let f = w.by_key("acme-old");
    let (a, b) = (view_at(f, T0 + H, &lc), view_at(f, T0 + 3 * D + 2 * H, &lc));
    assert_eq!((a.age_s, a.age.as_str()), (3600, "1h"));
    assert_eq!((b.age_s, b.age.as_str()), (3 * 86_400 + 7200, "3d 2h"));
}

fn seen(run: &str, at: i64, names: &[&str]) -> Batch {
    let list: Vec<Value> = names
        .iter()
        .map(|n| bucket(n, "444455556666", false))
        .collect();
    batch("aws-config", run, at, Value::Array(list))
}

#[test]
fn a_finding_closes_after_n_missed_runs_and_reopens_when_it_comes_back() {
    let mut w = World::new(json!([]));
    let names: Vec<String> = (0..10).map(|i| format!("acme-{i}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    w.run(&seen("r1", T0, &all)).unwrap();
    // acme-9 is deleted (1 of 10: under the 20% guard): three runs later it closes.
    for (i, run) in ["r2", "r3"].iter().enumerate() {
        let r = w
            .run(&seen(run, T0 + (i as i64 + 1) * H, &all[..9]))
            .unwrap();
        assert!(r.closed.is_empty() && r.guard.is_none(), "{r:?}");
    }
    let r = w.run(&seen("r4", T0 + 3 * H, &all[..9])).unwrap();
    let id = w.by_key("acme-9").id.clone();
    assert_eq!(r.closed, vec![(id.clone(), "not_seen".to_string())]);
    assert_eq!(w.inv.findings[&id].status_at(T0 + 3 * H), Status::Closed);

    // It comes back: reopened, its clock resuming (the pack's `on_reopen resume`).
    let lc = w.policy().lifecycle;
    let r = w.run(&seen("r5", T0 + 5 * H, &all)).unwrap();
    assert_eq!(r.reopened, vec![id.clone()]);
    let f = &w.inv.findings[&id];
    assert_eq!(f.status_at(T0 + 5 * H), Status::Open);
    assert_eq!(
        f.status_at(T0 + 4 * H),
        Status::Closed,
        "as it stood while closed"
    );
    assert_eq!(f.clock_start, T0);
    // Counted: T0..T0+3h and T0+5h..T0+6h; the two closed hours are not.
    assert_eq!(sla_at(f, T0 + 6 * H, &lc).unwrap().elapsed_ms, 4 * H);
}

#[test]
fn on_reopen_restart_starts_the_clock_again() {
    let mut w = World::new(json!([]));
    let pack = tenet_dark_inventory::pack(&w.rules).unwrap();
    let mut policy = Policy::read(&pack).unwrap();
    policy.lifecycle.restart_on_reopen = true;
    policy.lifecycle.close_after_runs = 1;
    let many: Vec<String> = (0..10).map(|i| format!("acme-{i}")).collect();
    let all: Vec<&str> = many.iter().map(String::as_str).collect();
    for (run, at, names) in [
        ("r1", T0, &all[..]),
        ("r2", T0 + H, &all[..9]),
        ("r3", T0 + 5 * H, &all[..]),
    ] {
        ingest(
            &pack,
            &policy,
            &w.cat,
            &mut w.inv,
            &seen(run, at, names),
            at,
        )
        .unwrap();
    }
    let f = w.by_key("acme-9");
    assert_eq!(f.clock_start, T0 + 5 * H);
    assert_eq!(
        sla_at(f, T0 + 6 * H, &policy.lifecycle).unwrap().elapsed_ms,
        H
    );
}

#[test]
fn a_stale_source_never_auto_closes_anything() {
    let mut w = World::new(json!([]));
    let others: Vec<String> = (0..9).map(|i| format!("acme-other-{i}")).collect();
    let mut with_x: Vec<&str> = others.iter().map(String::as_str).collect();
    let without_x = with_x.clone();
    with_x.push("acme-x");
    let trail = |names: &[&str]| -> Value {
        Value::Array(
            names
                .iter()
                .map(|n| json!({"type": "aws:s3:bucket", "attributes": {"name": n}}))
                .collect(),
        )
    };
    // Seen by AWS Config and by CloudTrail (freshness SLO 1h).
    w.run(&seen("a1", T0, &with_x)).unwrap();
    w.run(&batch("cloudtrail", "c1", T0, trail(&with_x)))
        .unwrap();
    // CloudTrail misses it three times, then stops reporting.
    for i in 1..=3 {
        w.run(&batch(
            "cloudtrail",
            &format!("c{}", i + 1),
            T0 + i * 10 * 60_000,
            trail(&without_x),
        ))
        .unwrap();
    }
    // AWS Config misses it too, hours later: CloudTrail is stale by then.
    let mut closed = Vec::new();
    for i in 1..=6 {
        let r = w
            .run(&seen(&format!("a{}", i + 1), T0 + (i + 1) * H, &without_x))
            .unwrap();
        assert!(r.guard.is_none(), "{r:?}");
        closed.extend(r.closed);
    }
    assert!(closed.is_empty(), "{closed:?}");
    let f = w.by_key("acme-x");
    assert!(!f.is_closed());
    assert_eq!(
        (
            f.sources["aws-config"].missed,
            f.sources["cloudtrail"].missed
        ),
        (6, 3)
    );
    let id = f.id.clone();
    // CloudTrail runs again (fresh) without it: now both agree, and it closes.
    let r = w
        .run(&batch("cloudtrail", "c9", T0 + 8 * H, trail(&without_x)))
        .unwrap();
    assert_eq!(r.closed, vec![(id, "not_seen".to_string())]);
}

#[test]
fn a_mass_vanish_is_a_collector_failure_not_a_clean_up() {
    let mut w = World::new(json!([]));
    let many: Vec<String> = (0..10).map(|i| format!("acme-{i}")).collect();
    let all: Vec<&str> = many.iter().map(String::as_str).collect();
    w.run(&seen("r1", T0, &all)).unwrap();
    // 5 of 10 vanish at once (over the source's 20%): nothing counts as missed.
    for i in 1..=5 {
        let r = w
            .run(&seen(&format!("r{}", i + 1), T0 + i * H, &all[..5]))
            .unwrap();
        if i == 1 {
            let g = r.guard.as_deref().unwrap();
            assert!(g.starts_with("mass vanish: 50% of the findings it saw last run are gone (the source allows 20%)"), "{g}");
        } else {
            // The next runs compare with the guarded run: the clean-up is confirmed one run at a time.
            assert!(r.guard.is_none(), "{r:?}");
        }
        if i < 4 {
            assert!(r.closed.is_empty(), "run {i}: {r:?}");
        } else if i == 4 {
            assert_eq!(
                r.closed.len(),
                5,
                "three confirmed misses after the guarded run"
            );
        }
    }
    assert_eq!(w.inv.sources["aws-config"].last_guard, None);
    // An empty run from a source that reported 10: the count guard.
    let mut w = World::new(json!([]));
    w.run(&seen("r1", T0, &all)).unwrap();
    let r = w.run(&seen("r2", T0 + H, &[])).unwrap();
    assert!(r.guard.is_some());
    assert!(w
        .inv
        .findings
        .values()
        .all(|f| f.sources["aws-config"].missed == 0));
}

#[test]
fn bad_runs_are_refused_whole() {
    let mut w = World::new(json!([]));
    w.run(&seen("r1", T0 + H, &["acme-1"])).unwrap();
    let before = w.inv.findings.clone();
    // An undeclared source.
    match w.run(&batch("nessus", "n1", T0 + 2 * H, json!([bucket("acme-2", "1", false)]))) {
        Err(Refusal::NotFound(m)) => assert!(m.starts_with("source `nessus` is not declared in the pack (declared: access-analyzer, aws-config,"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A resource the rule cannot key: the good one before it is not ingested either.
    match w.run(&batch(
        "aws-config",
        "r2",
        T0 + 2 * H,
        json!([bucket("acme-2", "1", false), {"type": "aws:s3:bucket", "attributes": {"account_id": "1"}}]),
    )) {
        Err(Refusal::Invalid(m)) => assert_eq!(m, "resources[1] (aws:s3:bucket without a key): correlate `unregistered-s3-bucket`: the resource has no key (its `key` read missing attributes, and the discovery gives none)"),
        other => panic!("{other:?}"),
    }
    // A run older than the source's last one.
    match w.run(&seen("r0", T0, &["acme-3"])) {
        Err(Refusal::Conflict(m)) => assert!(m.contains("is older than its last run `r1`"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.inv.findings, before);
    assert_eq!(w.inv.sources["aws-config"].runs, 1);
    // The same run again: a duplicate, nothing changes.
    let r = w.run(&seen("r1", T0 + 3 * H, &["acme-9"])).unwrap();
    assert!(r.duplicate);
    assert_eq!(w.inv.findings, before);
}
