//! The store on SQLite and PostgreSQL: a run's findings, sources and
//! history are written in one transaction with the audit event; a dry run
//! and a refused run write nothing; the findings read back as they stood
//! at any time; and concurrent runs — threads on one store, and two
//! "replicas" (two stores on one PostgreSQL database) — end in one
//! consistent inventory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::sync::Arc;
use tenet_dark_inventory::correlate::CatalogIndex;
use tenet_dark_inventory::engine::{ingest, Refusal, RunReport};
use tenet_dark_inventory::model::{Batch, Status};
use tenet_dark_inventory::policy::Policy;
use tenet_dark_inventory::store::{self as st, Step, StepError};
use tenet_runtime::clock::Timestamp;
use tenet_runtime::load::{load_bundled, Rules};
use tenet_store::testing::{fresh, Kind};
use tenet_store::{AuditEvent, Location, Store};

const T0: i64 = 1_796_083_200_000;
const H: i64 = 3_600_000;

fn batch(run: &str, at: i64, names: &[String]) -> Batch {
    let resources: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "aws:s3:bucket", "attributes": {"arn": format!("arn:aws:s3:::{n}"), "name": n, "account_id": "1"}}))
        .collect();
    serde_json::from_value(json!({
        "source": "aws-config", "run": run, "at": Timestamp::from_millis(at).rfc3339(), "resources": resources,
    }))
    .unwrap()
}

fn run(
    store: &mut Store,
    rules: &Arc<Rules>,
    b: Batch,
    commit: bool,
) -> Result<RunReport, StepError> {
    let rules = Arc::clone(rules);
    st::with_inventory(store, "acme", move |l| {
        let pack = tenet_dark_inventory::pack(&rules).unwrap();
        let policy = Policy::read(&pack).unwrap();
        let cat = CatalogIndex::build(&pack, &policy, l.catalog.clone(), l.facts.clone())
            .map_err(Refusal::Invalid)?;
        let at = b.at.unwrap();
        let report = ingest(&pack, &policy, &cat, &mut l.inventory, &b, at)?;
        let audit = vec![AuditEvent {
            id: 0,
            action_id: format!("run-{}", b.run),
            at: Timestamp::from_millis(at).rfc3339(),
            source: tenet_dark_inventory::MODULE.into(),
            subject: format!("{}/{}", b.source, b.run),
            actor: "collector".into(),
            scope: "discoveries".into(),
            outcome: "ingested".into(),
            reason: None,
            latency_ms: 0,
            details: json!({"new": report.new.len()}),
            tenant: Some("acme".into()),
            bundle: None,
        }];
        Ok(Step {
            findings: report.changed.clone(),
            sources: if report.duplicate {
                vec![]
            } else {
                vec![b.source.clone()]
            },
            run: (!report.duplicate).then(|| {
                (
                    b.source.clone(),
                    b.run.clone(),
                    at,
                    serde_json::to_value(&report).unwrap(),
                )
            }),
            at,
            audit: if report.duplicate { vec![] } else { audit },
            commit,
            out: report,
            ..Default::default()
        })
    })
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn dump(store: &Store) -> (Vec<String>, usize, usize) {
    let f: Vec<String> = st::findings(store, "acme")
        .unwrap()
        .iter()
        .map(|f| serde_json::to_string(f).unwrap())
        .collect();
    let audits = store.audit_events(None, 1000).map(|a| a.len()).unwrap_or(0);
    (f, st::run_count(store, "acme").unwrap(), audits)
}

fn lifecycle(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let loc = fresh(kind, dir.path());
    let mut store = st::open(&loc).unwrap();
    let rules = Arc::new(load_bundled().unwrap());
    let all = names("acme", 10);

    let r = run(&mut store, &rules, batch("r1", T0, &all), true).unwrap();
    assert_eq!(r.new.len(), 10);
    let before = dump(&store);
    assert_eq!((before.0.len(), before.1), (10, 1));

    // A dry run computes the same report and writes nothing.
    let dry = run(&mut store, &rules, batch("r2", T0 + H, &all[..9]), false).unwrap();
    assert_eq!(dry.vanished, 1);
    assert_eq!(dump(&store), before);
    // A refused run writes nothing either.
    let mut bad = batch("r2", T0 + H, &all);
    bad.source = "nessus".into();
    match run(&mut store, &rules, bad, true) {
        Err(StepError::Refused(Refusal::NotFound(m))) => assert!(m.contains("nessus")),
        other => panic!("{other:?}"),
    }
    assert_eq!(dump(&store), before);

    // acme-9 is missed three times and closes; the history keeps each step.
    for (i, run_id) in ["r2", "r3", "r4"].iter().enumerate() {
        run(
            &mut store,
            &rules,
            batch(run_id, T0 + (i as i64 + 1) * H, &all[..9]),
            true,
        )
        .unwrap();
    }
    // The same run again changes nothing.
    let again = run(&mut store, &rules, batch("r4", T0 + 9 * H, &all), true).unwrap();
    assert!(again.duplicate);
    let now = st::findings(&store, "acme").unwrap();
    let gone = now.iter().find(|f| f.key == "arn:aws:s3:::acme-9").unwrap();
    assert_eq!(gone.status_at(T0 + 3 * H), Status::Closed);
    assert_eq!(st::run_count(&store, "acme").unwrap(), 4);

    // As it stood after r2: acme-9 open, missed once.
    let then = st::findings_at(&store, "acme", T0 + H).unwrap();
    let then9 = then
        .iter()
        .find(|f| f.key == "arn:aws:s3:::acme-9")
        .unwrap();
    assert_eq!(then9.sources["aws-config"].missed, 1);
    assert!(!then9.is_closed());
    // Before anything: nothing.
    assert!(st::findings_at(&store, "acme", T0 - 1).unwrap().is_empty());

    let sources = st::sources(&store, "acme").unwrap();
    assert_eq!(
        (sources[0].runs, sources[0].last_run.as_deref()),
        (4, Some("r4"))
    );
    // One audit event per ingested run.
    let audits = store
        .audit_events(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|a| a.source == tenet_dark_inventory::MODULE)
        .count();
    assert_eq!(audits, 4);
}

#[test]
fn lifecycle_sqlite() {
    lifecycle(Kind::Sqlite);
}

#[test]
fn lifecycle_postgres() {
    lifecycle(Kind::Postgres);
}

/// Two stores on one location (two replicas on PostgreSQL; two
/// connections on SQLite), each ingesting runs of different sources for
/// one tenant at once: every finding is seen by both sources, once.
fn replicas(loc: Location) {
    let rules = Arc::new(load_bundled().unwrap());
    let all = names("shared", 20);
    let mut handles = Vec::new();
    for (replica, source) in ["aws-config", "cloudtrail"].iter().enumerate() {
        let (loc, rules, all) = (loc.clone(), Arc::clone(&rules), all.clone());
        let source = source.to_string();
        handles.push(std::thread::spawn(move || {
            let mut store = st::open(&loc).unwrap();
            for i in 0..10 {
                let mut b = batch(&format!("{source}-{i}"), T0 + i * H, &all);
                b.source = source.clone();
                run(&mut store, &rules, b, true).unwrap();
            }
            replica
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let store = st::open(&loc).unwrap();
    let found = st::findings(&store, "acme").unwrap();
    assert_eq!(
        found.len(),
        20,
        "one finding per resource, however the runs interleaved"
    );
    for f in &found {
        assert_eq!(f.sources.len(), 2, "{}", f.id);
        assert_eq!(f.sources["aws-config"].last_run, "aws-config-9");
        assert_eq!(f.sources["cloudtrail"].last_run, "cloudtrail-9");
    }
    assert_eq!(st::run_count(&store, "acme").unwrap(), 20);
}

#[test]
fn concurrent_runs_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let loc = fresh(Kind::Sqlite, dir.path());
    st::open(&loc).unwrap();
    replicas(loc);
}

#[test]
fn two_replicas_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let loc = fresh(Kind::Postgres, dir.path());
    st::open(&loc).unwrap();
    replicas(loc);
}
