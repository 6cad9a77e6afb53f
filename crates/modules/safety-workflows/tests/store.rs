//! The module's table on both backends (`conformance!`): a record and
//! its audit event are written together or not at all, a stale version
//! writes nothing, lists page stably, the sweep finds what is due, and
//! many executes racing on one approved action (each on its own
//! connection, as replicas are) end with exactly one execution and an
//! audit event for every attempt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use tenet_runtime::load::{load_bundled, Rules};
use tenet_safety_workflows::engine::{self, Deps, Fresh, PreflightRequest};
use tenet_safety_workflows::model::{ActionRecord, Actor, State, Verdict};
use tenet_safety_workflows::store::{self as sw, ListQuery};
use tenet_store::testing::fresh;
use tenet_store::{conformance, AuditEvent, AuditQuery, Location, Store, StoreError};

const T0: i64 = 1_796_000_000_000;

fn rules() -> Rules {
    load_bundled().unwrap()
}

fn actor(id: &str, roles: &[&str]) -> Actor {
    Actor {
        id: id.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        tenant: Some("acme".into()),
        ..Actor::default()
    }
}

fn event(action_id: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: action_id.into(),
        at: "2026-12-04T10:00:00Z".into(),
        source: "safety-workflows".into(),
        subject: "act".into(),
        actor: "alice".into(),
        scope: "safety".into(),
        outcome: outcome.into(),
        reason: None,
        latency_ms: 0,
        details: serde_json::json!({}),
        tenant: Some("acme".into()),
        bundle: None,
    }
}

/// A kept mass delete from alice, `id`, created `at`.
fn pending(rules: &Rules, id: &str, at: i64, rows: i64) -> ActionRecord {
    let pack = tenet_safety_workflows::pack(rules).unwrap();
    let p = engine::preflight(
        &pack,
        &actor("alice", &["engineer"]),
        &PreflightRequest {
            action: serde_json::json!({"verb": "delete", "rows": rows, "tenant": "acme"}),
            ..Default::default()
        },
        &Fresh {
            id: id.into(),
            nonce: format!("nonce-{id}"),
        },
        Deps::UP,
        at,
    );
    p.record.expect("a kept action")
}

fn open(loc: &Location) -> Store {
    sw::open(loc).unwrap()
}

fn audit_count(store: &Store, prefix: &str) -> usize {
    store
        .audit_query(&AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        })
        .unwrap()
        .iter()
        .filter(|e| e.action_id.starts_with(prefix))
        .count()
}

conformance!(a_record_and_its_event_are_written_together, |kind, dir| {
    let loc = fresh(kind, dir);
    let mut s = open(&loc);
    let r = rules();
    let a = pending(&r, "act-a", T0, 20_000);
    sw::insert(&mut s, &a, &event("ev-a", "pending")).unwrap();
    assert_eq!(sw::get(&s, "act-a").unwrap().as_ref(), Some(&a));
    assert_eq!(sw::get(&s, "nope").unwrap(), None);
    // The same id again: refused, and its event is not kept either.
    let e = sw::insert(&mut s, &a, &event("ev-a2", "pending")).unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert_eq!(audit_count(&s, "ev-a2"), 0);
    // A batch is all or nothing: a duplicate in it keeps none of it.
    let c = pending(&r, "act-c", T0, 20_000);
    let e = sw::insert_batch(
        &mut s,
        &[
            (c.clone(), event("ev-c", "pending")),
            (a.clone(), event("ev-a3", "pending")),
        ],
    )
    .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert_eq!(sw::get(&s, "act-c").unwrap(), None);
    assert_eq!(audit_count(&s, "ev-c"), 0);
    let d = pending(&r, "act-d", T0, 20_000);
    sw::insert_batch(
        &mut s,
        &[
            (c.clone(), event("ev-c", "pending")),
            (d, event("ev-d", "pending")),
        ],
    )
    .unwrap();
    assert_eq!(sw::get(&s, "act-c").unwrap().as_ref(), Some(&c));
    assert_eq!(audit_count(&s, "ev-c") + audit_count(&s, "ev-d"), 2);
    // An event whose action id is taken fails the insert of the record too.
    let b = pending(&r, "act-b", T0, 20_000);
    assert!(sw::insert(&mut s, &b, &event("ev-a", "pending")).is_err());
    assert_eq!(sw::get(&s, "act-b").unwrap(), None);
});

conformance!(a_stale_version_writes_nothing, |kind, dir| {
    let mut s = open(&fresh(kind, dir));
    let r = rules();
    let pack = tenet_safety_workflows::pack(&r).unwrap();
    let a = pending(&r, "act-a", T0, 20_000);
    sw::insert(&mut s, &a, &event("ev-1", "pending")).unwrap();
    let c = engine::review(
        &pack,
        &a,
        &actor("olivia", &["data-owner"]),
        Verdict::Approve,
        "",
        T0 + 1,
    )
    .unwrap();
    assert_eq!(c.record.version, a.version + 1);
    assert!(sw::update(&mut s, &c.record, &event("ev-2", "approved")).unwrap());
    // A second change computed from the same (now stale) version.
    let d = engine::cancel(&a, &actor("alice", &[]), T0 + 2).unwrap();
    assert!(!sw::update(&mut s, &d.record, &event("ev-3", "cancelled")).unwrap());
    assert_eq!(
        audit_count(&s, "ev-3"),
        0,
        "no event for a change not written"
    );
    assert_eq!(
        sw::get(&s, "act-a").unwrap().unwrap().state,
        State::Approved
    );
});

conformance!(
    lists_filter_and_page_stably_and_the_sweep_finds_what_is_due,
    |kind, dir| {
        let mut s = open(&fresh(kind, dir));
        let r = rules();
        // Five actions, two created in the same millisecond.
        for (i, at) in [T0, T0 + 10, T0 + 10, T0 + 20, T0 + 30]
            .into_iter()
            .enumerate()
        {
            let mut a = pending(&r, &format!("act-{i}"), at, 20_000);
            if i == 4 {
                a.tenant = Some("globex".into());
            }
            sw::insert(&mut s, &a, &event(&format!("ev-{i}"), "pending")).unwrap();
        }
        let page = |after: Option<(i64, String)>, tenant: Option<&str>| {
            sw::list(
                &s,
                &ListQuery {
                    tenant: tenant.map(str::to_string),
                    limit: 2,
                    after,
                    ..ListQuery::default()
                },
            )
            .unwrap()
            .into_iter()
            .map(|a| (a.created_ms, a.id))
            .collect::<Vec<_>>()
        };
        let p1 = page(None, Some("acme"));
        assert_eq!(
            p1.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            ["act-3", "act-2"]
        );
        let p2 = page(p1.last().cloned(), Some("acme"));
        assert_eq!(
            p2.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            ["act-1", "act-0"]
        );
        assert!(page(p2.last().cloned(), Some("acme")).is_empty());
        assert_eq!(page(None, Some("globex")).len(), 1);
        let approved = sw::list(
            &s,
            &ListQuery {
                state: Some(State::Approved),
                limit: 10,
                ..ListQuery::default()
            },
        )
        .unwrap();
        assert!(approved.is_empty());
        // Escalation is due 4h after creation, expiry 24h after.
        assert!(sw::due(&s, T0 + 3_600_000, 100).unwrap().is_empty());
        let due = sw::due(&s, T0 + 4 * 3_600_000 + 15, 100).unwrap();
        assert_eq!(
            due.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["act-0", "act-1", "act-2"]
        );
    }
);

conformance!(
    racing_executes_on_separate_connections_run_the_action_once,
    |kind, dir| {
        let loc = fresh(kind, dir);
        let mut s = open(&loc);
        let r = rules();
        let pack = tenet_safety_workflows::pack(&r).unwrap();
        let a = pending(&r, "act-race", T0, 20_000);
        sw::insert(&mut s, &a, &event("ev-pre", "pending")).unwrap();
        let c = engine::review(
            &pack,
            &a,
            &actor("olivia", &["data-owner"]),
            Verdict::Approve,
            "",
            T0 + 1,
        )
        .unwrap();
        assert!(sw::update(&mut s, &c.record, &event("ev-rev", "approved")).unwrap());
        let c = engine::confirm(
            &pack,
            &c.record,
            &actor("alice", &[]),
            &engine::Confirm {
                justification: Some("rows older than the retention cut-off".into()),
                ..Default::default()
            },
            T0 + 2,
        )
        .unwrap();
        assert!(sw::update(&mut s, &c.record, &event("ev-conf", "confirmed")).unwrap());
        let after_hold = T0 + 31 * 60_000;
        let n = AtomicU32::new(0);
        let threads = 12;
        let start = std::sync::Barrier::new(threads);
        let outcomes: Vec<Result<(), &'static str>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (loc, r, n, start) = (&loc, &r, &n, &start);
                    scope.spawn(move || {
                        let mut s = open(loc);
                        let pack = tenet_safety_workflows::pack(r).unwrap();
                        start.wait(); // all connected: now they race
                        let me = actor("alice", &["engineer"]);
                        let action =
                            serde_json::json!({"verb": "delete", "rows": 20000, "tenant": "acme"});
                        let res = sw::step(
                            &mut s,
                            "act-race",
                            |rec| {
                                engine::execute(
                                    &pack,
                                    rec,
                                    &me,
                                    &action,
                                    "nonce-act-race",
                                    after_hold,
                                )
                            },
                            |res| {
                                let i = n.fetch_add(1, Ordering::SeqCst);
                                event(
                                    &format!("ev-exec-{i}"),
                                    match res {
                                        Ok(c) => c.outcome,
                                        Err(f) => f.code,
                                    },
                                )
                            },
                        )
                        .unwrap();
                        res.map(|_| ()).map_err(|f| f.code)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(ok, 1, "{outcomes:?}");
        assert!(
            outcomes.iter().all(|o| matches!(o, Ok(()) | Err("replay"))),
            "{outcomes:?}"
        );
        let s = open(&loc);
        let done = sw::get(&s, "act-race").unwrap().unwrap();
        assert_eq!((done.state, done.uses), (State::Executed, 1));
        // One event per attempt that was written: every thread's final attempt.
        assert_eq!(audit_count(&s, "ev-exec-"), threads);
    }
);
