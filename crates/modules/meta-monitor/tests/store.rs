//! The module's tables on both backends (`conformance!`): a batch is
//! applied in one transaction with its audit events or not at all,
//! duplicates count once across batches and replicas, and replicas
//! ingesting into one watcher at once lose nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tenet_meta_monitor::engine::Refusal;
use tenet_meta_monitor::model::{Event, Instance, Kind, Stored};
use tenet_meta_monitor::store::{self as ms, IngestError, Report};
use tenet_meta_monitor::watchers::Watchers;
use tenet_runtime::load::load_bundled;
use tenet_store::testing::fresh;
use tenet_store::{conformance, AuditEvent, AuditQuery, Store};

const T0: i64 = 1_796_000_000_000;

fn watchers() -> Watchers {
    let rules = load_bundled().unwrap();
    let pack = tenet_meta_monitor::pack(&rules).unwrap();
    Watchers::read(&pack).unwrap()
}

fn beat(source: &str, at: i64, seq: Option<u64>) -> Event {
    Event {
        watcher: "event-bus".into(),
        tenant: String::new(),
        source: source.into(),
        at,
        kind: Kind::Success,
        run_id: None,
        seq,
        exit_status: None,
        count: Some(1000),
    }
}

fn audit(tag: &'static str) -> impl Fn(&Report) -> Vec<AuditEvent> + Send + 'static {
    move |r: &Report| {
        let mut out = vec![AuditEvent {
            id: 0,
            action_id: format!("{tag}-{}", uuid_like()),
            at: "2026-12-04T10:00:00Z".into(),
            source: "meta-monitor".into(),
            subject: "heartbeats".into(),
            actor: "test".into(),
            scope: "meta-monitor".into(),
            outcome: "ingested".into(),
            reason: None,
            latency_ms: 0,
            details: serde_json::json!({"applied": r.applied, "duplicates": r.duplicates}),
            tenant: None,
            bundle: None,
        }];
        for (w, _, src, from, to) in &r.transitions {
            out.push(AuditEvent {
                action_id: format!("{tag}-{}", uuid_like()),
                subject: format!("{w}/{src}"),
                outcome: format!("{from:?}->{to:?}").to_lowercase(),
                ..out[0].clone()
            });
        }
        out
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn instance(store: &Store) -> Instance {
    ms::all(store)
        .unwrap()
        .into_iter()
        .find(|i| i.watcher == "event-bus" && i.tenant.is_empty())
        .unwrap()
}

fn audits(store: &Store) -> Vec<AuditEvent> {
    store
        .audit_query(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

conformance!(a_batch_is_applied_with_its_audit_events, |kind, dir| {
    let w = watchers();
    let mut store = ms::open(&fresh(kind, dir)).unwrap();
    let batch = vec![
        beat("broker-lag-exporter", T0, Some(1)),
        beat("consumer-heartbeat", T0, Some(1)),
        beat("broker-lag-exporter", T0 + 30_000, Some(2)),
    ];
    let r = ms::ingest(&mut store, &w, &batch, audit("a")).unwrap();
    assert_eq!((r.applied, r.duplicates, r.late), (3, 0, 0));
    assert_eq!(r.transitions.len(), 2, "{:?}", r.transitions);
    let i = instance(&store);
    assert_eq!(i.events, 3);
    assert_eq!(
        i.sources["broker-lag-exporter"].last_ping,
        Some(T0 + 30_000)
    );
    assert_eq!(i.sources["consumer-heartbeat"].status, Stored::Up);
    let a = audits(&store);
    assert_eq!(a.len(), 3, "the batch and its two transitions");
    assert!(a
        .iter()
        .any(|e| e.outcome == "new->up" && e.subject == "event-bus/consumer-heartbeat"));
});

conformance!(
    duplicates_count_once_across_batches_and_within_one,
    |kind, dir| {
        let w = watchers();
        let mut store = ms::open(&fresh(kind, dir)).unwrap();
        let batch = vec![
            beat("broker-lag-exporter", T0, Some(7)),
            beat("broker-lag-exporter", T0, Some(7)),
        ];
        let r = ms::ingest(&mut store, &w, &batch, audit("b")).unwrap();
        assert_eq!((r.applied, r.duplicates), (1, 1));
        // The same log again, later: all duplicates, nothing moves.
        let before = instance(&store);
        let r = ms::ingest(&mut store, &w, &batch, audit("c")).unwrap();
        assert_eq!((r.applied, r.duplicates), (0, 2));
        assert_eq!(instance(&store), before);
        // Without a seq or run id, never a duplicate.
        let r = ms::ingest(
            &mut store,
            &w,
            &[beat("broker-lag-exporter", T0 + 1, None)],
            audit("d"),
        )
        .unwrap();
        assert_eq!(r.applied, 1);
        // Forgetting old keys makes an old event count again.
        assert_eq!(ms::prune_seen(&mut store, T0 + 1).unwrap(), 1);
    }
);

conformance!(a_refused_batch_writes_nothing, |kind, dir| {
    let w = watchers();
    let mut store = ms::open(&fresh(kind, dir)).unwrap();
    let batch = vec![
        beat("broker-lag-exporter", T0, Some(1)),
        beat("rogue", T0, Some(2)),
    ];
    match ms::ingest(&mut store, &w, &batch, audit("e")) {
        Err(IngestError::Refused(1, Refusal::UnknownSource { source, .. })) => {
            assert_eq!(source, "rogue")
        }
        other => panic!("{other:?}"),
    }
    assert!(ms::all(&store).unwrap().is_empty());
    assert!(audits(&store).is_empty());
    // The good event was not recorded as seen: sent again alone, it applies.
    let r = ms::ingest(&mut store, &w, &batch[..1], audit("f")).unwrap();
    assert_eq!(r.applied, 1);
});

conformance!(
    replicas_ingesting_into_one_watcher_lose_nothing,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let _ = ms::open(&loc).unwrap();
        let threads: Vec<_> = (0..6u64)
            .map(|t| {
                let loc = loc.clone();
                std::thread::spawn(move || {
                    let w = watchers();
                    let mut store = ms::open(&loc).unwrap();
                    for b in 0..10u64 {
                        let batch: Vec<Event> = (0..20u64)
                            .map(|i| {
                                let n = t * 1000 + b * 20 + i;
                                // Every event twice (same seq, same time), from two "replicas".
                                beat("broker-lag-exporter", T0 + (n % 600) as i64, Some(n % 600))
                            })
                            .collect();
                        ms::ingest(&mut store, &w, &batch, audit("g")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let store = ms::open(&loc).unwrap();
        let i = instance(&store);
        // 1,200 events, 600 distinct seqs: each counted once, whoever won.
        assert_eq!(i.events, 600);
        let batches = audits(&store)
            .iter()
            .filter(|e| e.outcome == "ingested")
            .count();
        assert_eq!(batches, 60);
    }
);

conformance!(
    the_monitor_keeps_its_own_times_and_never_moves_them_back,
    |kind, dir| {
        let mut store = ms::open(&fresh(kind, dir)).unwrap();
        assert_eq!(ms::meta(&store, "swept").unwrap(), None);
        ms::set_meta(&mut store, "swept", T0).unwrap();
        ms::set_meta(&mut store, "swept", T0 - 5).unwrap();
        assert_eq!(ms::meta(&store, "swept").unwrap(), Some(T0));
    }
);
