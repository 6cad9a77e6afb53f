//! The module's tables on both backends (`conformance!`): signals sent
//! twice count once, the record keeps the latest measurement, evaluations
//! read back in order within bounds, a refused update writes nothing, and
//! a backfill reproduces an unchanged profile's history exactly or writes
//! a changed profile's under its new version — each with the audit events
//! its caller wrote. Scores are worked out by hand (the arithmetic is in
//! the comments); the values are chosen so that every score is exact in
//! binary (`v / 100` a sum of powers of two).
//!
//! The two tests at the end show that values with 17 significant digits
//! survive the store's JSON exactly (serde_json's `float_roundtrip`):
//! without it about one value in ten came back one step off, and an
//! unchanged re-evaluation was stored as a change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tenet_runtime::load::{load_files, RuleFile, Rules};
use tenet_store::testing::fresh;
use tenet_store::{conformance, AuditEvent, AuditQuery, Backend, Store};
use tenet_tenant_benchmark::engine::{changed, evaluate, replay, Facts, Point};
use tenet_tenant_benchmark::model::{Evaluation, ProfileState, Standing, TenantRecord};
use tenet_tenant_benchmark::profiles::Profiles;
use tenet_tenant_benchmark::store::{
    self as bs, Backfilled, Change, Query, SignalRow, UpdateError,
};

/// 2026-12-01T00:00:00.000Z (`date -u -d 2026-12-01 +%s` = 1796083200).
const T0: i64 = 1_796_083_200_000;
const H: i64 = 3_600_000;
const MIN: i64 = 60_000;

/// Version 1: score = (a + b) / 2 over the factors with data.
const V1: &str = r#"
profile p {
  version   1
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  factor b {
    source "b"
    weight 1
    bounds [0, 100]
  }

  badge gold {
    rank 1

    hysteresis {
      enter 75
      exit  50
      dwell 0s
    }
  }
}
"#;

/// Version 2: `a` weighs 3: score = (3a + b) / 4.
const V2: &str = r#"
profile p {
  version   2
  cap_share 100%

  factor a {
    source "a"
    weight 3
    bounds [0, 100]
  }

  factor b {
    source "b"
    weight 1
    bounds [0, 100]
  }

  badge gold {
    rank 1

    hysteresis {
      enter 75
      exit  50
      dwell 0s
    }
  }
}
"#;

fn rules(text: &str) -> Rules {
    load_files(
        vec![RuleFile {
            path: "t.tenet".into(),
            text: format!("tenet 1\npack tenant_benchmark version \"1.0.0\"\n{text}"),
        }],
        "",
    )
    .unwrap()
}

fn sig(name: &str, value: f64, at: i64) -> SignalRow {
    SignalRow {
        name: name.into(),
        value: json!(value),
        at: Some(at),
        source: Some(format!("https://evidence.example/{name}/{at}")),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
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

fn audit(tenant: &str, outcome: &str, details: serde_json::Value) -> AuditEvent {
    AuditEvent {
        id: 0,
        action_id: format!("bench-{}", uuid_like()),
        at: "2026-12-01T00:00:00Z".into(),
        source: "tenant-benchmark".into(),
        subject: format!("{tenant}/p"),
        actor: "test".into(),
        scope: "tenant-benchmark".into(),
        outcome: outcome.into(),
        reason: None,
        latency_ms: 0,
        details,
        tenant: Some(tenant.into()),
        bundle: None,
    }
}

type Update = Box<dyn FnOnce(&mut TenantRecord, i64) -> Result<Change<Evaluation>, String> + Send>;

/// What a scoring call does inside [`bs::update`]: evaluate profile `p`
/// of `text` at `now` on the locked record, keep the new state, and write
/// the evaluation with an `evaluated` audit event — always, or only when
/// [`changed`] says it moved something. The store evaluates at `now`
/// unless the tenant was last evaluated at `now` or later (then just
/// after): `at` is the time it gives.
fn scorer(text: &'static str, now: i64, facts: Option<Facts>, only_if_changed: bool) -> Update {
    Box::new(move |rec: &mut TenantRecord, at: i64| {
        assert!(at >= now, "the store never evaluates before the clock");
        let now = at;
        if let Some(f) = facts {
            rec.facts = f;
        }
        let rules = rules(text);
        let pack = tenet_tenant_benchmark::pack(&rules).map_err(|e| e.to_string())?;
        let profiles = Profiles::read(&pack)?;
        let p = profiles.get("p").ok_or("no profile p")?;
        let state = rec.profiles.get("p").cloned().unwrap_or_default();
        let (e, next) = evaluate(&pack, p, &rec.tenant, &rec.facts, &rec.signals, &state, now);
        let write = !only_if_changed || changed(&state, &next, &e);
        rec.profiles.insert("p".into(), next);
        let (evaluations, events) = if write {
            let details =
                json!({"at": e.at, "score": e.score.score, "transitions": e.transitions.len()});
            (
                vec![e.clone()],
                vec![audit(&rec.tenant, "evaluated", details)],
            )
        } else {
            (vec![], vec![])
        };
        Ok(Change {
            evaluations,
            audit: events,
            write,
            dry_run: false,
            out: e,
        })
    })
}

type Backfill =
    Box<dyn FnOnce(&[Point]) -> (Vec<Evaluation>, ProfileState, Vec<AuditEvent>) + Send>;

/// What a backfill does: replay profile `p` of `text` over the points,
/// with one `backfilled` audit event.
fn replayer(text: &'static str, tenant: &'static str) -> Backfill {
    Box::new(move |points: &[Point]| {
        let rules = rules(text);
        let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
        let profiles = Profiles::read(&pack).unwrap();
        let (evals, state) = replay(&pack, profiles.get("p").unwrap(), tenant, points);
        let event = audit(
            tenant,
            "backfilled",
            json!({"version": state.version, "evaluations": evals.len()}),
        );
        (evals, state, vec![event])
    })
}

/// One number from a query written the same in both dialects.
fn scalar(store: &Store, sql: &'static str) -> i64 {
    match store.backend() {
        Backend::Sqlite(conn) => conn.query_row(sql, [], |r| r.get(0)).unwrap(),
        Backend::Postgres(pg) => pg
            .block_on(move |pool| async move {
                let client = pool.get().await?;
                Ok(client.query_one(sql, &[]).await?.get::<_, i64>(0))
            })
            .unwrap(),
    }
}

/// (signal rows, score rows, tenant rows, audit events).
fn counts(store: &Store) -> (i64, i64, i64, usize) {
    (
        scalar(store, "SELECT COUNT(*) FROM bench_signals"),
        scalar(store, "SELECT COUNT(*) FROM bench_scores"),
        scalar(store, "SELECT COUNT(*) FROM bench_tenants"),
        audits(store).len(),
    )
}

fn audits(store: &Store) -> Vec<AuditEvent> {
    store
        .audit_query(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

fn query(from: Option<i64>, to: Option<i64>, newest_first: bool, limit: usize) -> Query {
    Query {
        tenant: "acme".into(),
        profile: "p".into(),
        version: None,
        from,
        to,
        newest_first,
        limit,
    }
}

fn times(evals: &[Evaluation]) -> Vec<i64> {
    evals.iter().map(|e| e.at).collect()
}

fn texts(evals: &[Evaluation]) -> Vec<String> {
    evals
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect()
}

conformance!(signals_sent_twice_count_once, |kind, dir| {
    let mut store = bs::open(&fresh(kind, dir)).unwrap();
    let batch = || vec![sig("a", 80.0, T0), sig("a", 80.0, T0), sig("b", 60.0, T0)];
    // Twice in one batch: once.
    let r = bs::update(&mut store, "acme", batch(), T0, scorer(V1, T0, None, true)).unwrap();
    assert_eq!((r.fresh, r.duplicates), (2, 1));
    // (80 + 60) / 2 = 70.
    assert!(close(r.out.score.score.unwrap(), 70.0));
    assert_eq!(counts(&store), (2, 1, 1, 1));
    let version = "SELECT version FROM bench_tenants WHERE tenant = 'acme'";
    assert_eq!(scalar(&store, version), 1);

    // The same batch an hour later: all duplicates; the score (70) and
    // the badge (out) did not move, so nothing is written at all.
    let r = bs::update(
        &mut store,
        "acme",
        batch(),
        T0 + H,
        scorer(V1, T0 + H, None, true),
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (0, 3));
    assert!(close(r.out.score.score.unwrap(), 70.0));
    assert_eq!(counts(&store), (2, 1, 1, 1));
    assert_eq!(scalar(&store, version), 1, "the record was not rewritten");

    // The same name and time with another value is the same signal: the
    // first value stays.
    let r = bs::update(
        &mut store,
        "acme",
        vec![sig("a", 10.0, T0)],
        T0 + 2 * H,
        scorer(V1, T0 + 2 * H, None, true),
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (0, 1));
    let rec = bs::record(&store, "acme").unwrap().unwrap();
    assert_eq!(rec.signals["a"].value, json!(80.0));
    assert_eq!(counts(&store), (2, 1, 1, 1));

    // The same name at another time is new; so is the same name and time
    // for another tenant.
    let r = bs::update(
        &mut store,
        "acme",
        vec![sig("a", 90.0, T0 + 3 * H)],
        T0 + 3 * H,
        scorer(V1, T0 + 3 * H, None, true),
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (1, 0));
    let r = bs::update(
        &mut store,
        "globex",
        vec![sig("a", 80.0, T0), sig("a", 80.0, T0)],
        T0,
        scorer(V1, T0, None, true),
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (1, 1));
    // acme: a at T0, b at T0, a at T0+3h; globex: a at T0.
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM bench_signals"), 4);
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM bench_signals WHERE tenant = 'globex'"
        ),
        1
    );
    assert_eq!(bs::tenants(&store).unwrap(), ["acme", "globex"]);
});

conformance!(
    a_later_measurement_replaces_an_earlier_one_and_not_the_reverse,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        assert_eq!(bs::record(&store, "acme").unwrap(), None);
        let up = |store: &mut Store, signals: Vec<SignalRow>, now: i64| {
            bs::update(store, "acme", signals, now, scorer(V1, now, None, false)).unwrap()
        };
        // Only `a` has data: the score is `a`.
        let r = up(&mut store, vec![sig("a", 80.0, T0)], T0);
        assert!(close(r.out.score.score.unwrap(), 80.0));
        let r = up(&mut store, vec![sig("a", 62.5, T0 + H)], T0 + H);
        assert!(close(r.out.score.score.unwrap(), 62.5));
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(rec.signals["a"].value, json!(62.5));
        assert_eq!(rec.signals["a"].at, Some(T0 + H));
        assert_eq!(
            rec.signals["a"].source.as_deref(),
            Some(format!("https://evidence.example/a/{}", T0 + H).as_str())
        );

        // Measured at T0+30m, sent at T0+2h: recorded (a new row), but the
        // record keeps the later measurement, and the evaluation reads it.
        let r = up(&mut store, vec![sig("a", 12.5, T0 + 30 * MIN)], T0 + 2 * H);
        assert_eq!((r.fresh, r.duplicates), (1, 0));
        assert!(close(r.out.score.score.unwrap(), 62.5));
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(
            (rec.signals["a"].value.clone(), rec.signals["a"].at),
            (json!(62.5), Some(T0 + H))
        );

        // In one batch, the later measurement wins whatever the order.
        let r = up(
            &mut store,
            vec![sig("a", 25.0, T0 + 3 * H), sig("a", 100.0, T0 + 150 * MIN)],
            T0 + 3 * H,
        );
        assert_eq!(r.fresh, 2);
        assert!(close(r.out.score.score.unwrap(), 25.0));
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(
            (rec.signals["a"].value.clone(), rec.signals["a"].at),
            (json!(25.0), Some(T0 + 3 * H))
        );
        assert_eq!(scalar(&store, "SELECT COUNT(*) FROM bench_signals"), 5);
        // The state between evaluations is in the record too.
        assert_eq!(rec.profiles["p"].last_score, Some(25.0));
        assert_eq!(rec.profiles["p"].version, 1);
    }
);

conformance!(
    evaluations_read_back_newest_or_oldest_first_within_bounds,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        let mut outs = Vec::new();
        for (i, a) in [12.5, 25.0, 50.0, 87.5].into_iter().enumerate() {
            let now = T0 + i as i64 * H;
            let r = bs::update(
                &mut store,
                "acme",
                vec![sig("a", a, now)],
                now,
                scorer(V1, now, None, false),
            )
            .unwrap();
            outs.push(r.out);
        }
        // Another tenant's and another profile's rows are not read.
        bs::update(
            &mut store,
            "globex",
            vec![sig("a", 50.0, T0)],
            T0,
            scorer(V1, T0, None, false),
        )
        .unwrap();
        let (t0, t1, t2, t3) = (T0, T0 + H, T0 + 2 * H, T0 + 3 * H);

        let all = bs::evaluations(&store, &query(None, None, false, 100)).unwrap();
        assert_eq!(times(&all), [t0, t1, t2, t3]);
        // What was stored is what the evaluation was, byte for byte.
        assert_eq!(texts(&all), texts(&outs));
        let scores: Vec<f64> = all.iter().map(|e| e.score.score.unwrap()).collect();
        assert_eq!(scores, [12.5, 25.0, 50.0, 87.5]);
        // 87.5 ≥ 75 earned gold at T0+3h (dwell 0).
        assert_eq!(all[3].badge.as_deref(), Some("gold"));
        assert_eq!(all[3].transitions[0].change, "earned");

        let newest = bs::evaluations(&store, &query(None, None, true, 100)).unwrap();
        assert_eq!(times(&newest), [t3, t2, t1, t0]);
        // Inclusive bounds.
        let q = query(Some(t1), Some(t2), false, 100);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t1, t2]);
        let q = query(Some(t1), Some(t2), true, 100);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t2, t1]);
        let q = query(Some(t1 + 1), Some(t2 - 1), true, 100);
        assert!(bs::evaluations(&store, &q).unwrap().is_empty());
        let q = query(Some(t2), None, false, 100);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t2, t3]);
        let q = query(None, Some(t1), true, 100);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t1, t0]);
        // The limit takes the newest or the oldest.
        let q = query(None, None, true, 2);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t3, t2]);
        let q = query(None, None, false, 2);
        assert_eq!(times(&bs::evaluations(&store, &q).unwrap()), [t0, t1]);
        // By version.
        let mut q = query(None, None, false, 100);
        q.version = Some(1);
        assert_eq!(bs::evaluations(&store, &q).unwrap().len(), 4);
        q.version = Some(2);
        assert!(bs::evaluations(&store, &q).unwrap().is_empty());
        let mut q = query(None, None, false, 100);
        q.profile = "csm".into();
        assert!(bs::evaluations(&store, &q).unwrap().is_empty());
        let mut q = query(None, None, false, 100);
        q.tenant = "globex".into();
        assert_eq!(bs::evaluations(&store, &q).unwrap().len(), 1);
        // Each stored evaluation has its audit event.
        assert_eq!(audits(&store).len(), 5);
    }
);

conformance!(a_refused_update_writes_nothing, |kind, dir| {
    let mut store = bs::open(&fresh(kind, dir)).unwrap();
    bs::update(
        &mut store,
        "acme",
        vec![sig("a", 50.0, T0)],
        T0,
        scorer(V1, T0, None, false),
    )
    .unwrap();
    let before = bs::record(&store, "acme").unwrap().unwrap();
    assert_eq!(counts(&store), (1, 1, 1, 1));

    // The closure changes the record, then refuses.
    let refuse = |rec: &mut TenantRecord, _at: i64| -> Result<Change<()>, String> {
        rec.facts.insert("name".into(), json!("changed"));
        rec.signals.clear();
        rec.profiles.clear();
        Err("refused: the tenant is frozen".into())
    };
    let signals = || vec![sig("a", 90.0, T0 + H), sig("b", 12.5, T0 + H)];
    match bs::update(&mut store, "acme", signals(), T0 + H, refuse) {
        Err(UpdateError::Refused(why)) => assert_eq!(why, "refused: the tenant is frozen"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        counts(&store),
        (1, 1, 1, 1),
        "no signal, score, tenant or audit row"
    );
    assert_eq!(bs::record(&store, "acme").unwrap().unwrap(), before);
    let q = query(None, None, true, 100);
    assert_eq!(bs::evaluations(&store, &q).unwrap().len(), 1);

    // A new tenant refused is not made.
    match bs::update(&mut store, "globex", vec![sig("a", 1.0, T0)], T0, refuse) {
        Err(UpdateError::Refused(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(bs::tenants(&store).unwrap(), ["acme"]);
    assert_eq!(bs::record(&store, "globex").unwrap(), None);
    assert_eq!(counts(&store), (1, 1, 1, 1));

    // The refused signals were not kept: sent again, they are new.
    let r = bs::update(
        &mut store,
        "acme",
        signals(),
        T0 + 2 * H,
        scorer(V1, T0 + 2 * H, None, false),
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (2, 0));
    // (90 + 12.5) / 2 = 51.25.
    assert!(close(r.out.score.score.unwrap(), 51.25));
    assert_eq!(counts(&store), (3, 2, 1, 2));
});

/// The history every backfill test starts from: seven updates, an hour
/// apart, on V1 (score (a + b) / 2, gold entered at 75, left below 50,
/// dwell 0), every evaluation stored. Facts change at T0+3h.
///
/// | at | sent | a, b | V1 score | gold |
/// |---|---|---|---|---|
/// | T0 | a 100, b 100 | 100, 100 | 100 | earned |
/// | +1h | a 50 | 50, 100 | 75 | held |
/// | +2h | b 50 | 50, 50 | 50 | held (50 is not below 50) |
/// | +3h | a 25 | 25, 50 | 37.5 | lost |
/// | +4h | nothing | 25, 50 | 37.5 | out |
/// | +5h | b 100 | 25, 100 | 62.5 | out |
/// | +6h | a 100 | 100, 100 | 100 | earned |
fn history(store: &mut Store) -> Vec<Evaluation> {
    let sent: [&[(&str, f64)]; 7] = [
        &[("a", 100.0), ("b", 100.0)],
        &[("a", 50.0)],
        &[("b", 50.0)],
        &[("a", 25.0)],
        &[],
        &[("b", 100.0)],
        &[("a", 100.0)],
    ];
    let mut outs = Vec::new();
    for (i, s) in sent.iter().enumerate() {
        let now = T0 + i as i64 * H;
        let facts = match i {
            0 => Some(json!({"name": "Acme"})),
            3 => Some(json!({"name": "Acme", "tier": 2})),
            _ => None,
        }
        .map(|f| f.as_object().unwrap().clone());
        let signals = s.iter().map(|(n, v)| sig(n, *v, now)).collect();
        let r = bs::update(store, "acme", signals, now, scorer(V1, now, facts, false)).unwrap();
        outs.push(r.out);
    }
    let scores: Vec<f64> = outs.iter().map(|e| e.score.score.unwrap()).collect();
    assert_eq!(scores, [100.0, 75.0, 50.0, 37.5, 37.5, 62.5, 100.0]);
    let moves: Vec<(i64, &str)> = outs
        .iter()
        .flat_map(|e| e.transitions.iter().map(|t| (t.at, t.change.as_str())))
        .collect();
    assert_eq!(
        moves,
        [(T0, "earned"), (T0 + 3 * H, "lost"), (T0 + 6 * H, "earned")]
    );
    outs
}

fn version(v: i64) -> Query {
    let mut q = query(None, None, false, 100);
    q.version = Some(v);
    q
}

conformance!(
    backfill_of_an_unchanged_profile_reproduces_the_history,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        let outs = history(&mut store);
        let stored = bs::evaluations(&store, &version(1)).unwrap();
        assert_eq!(texts(&stored), texts(&outs));
        let state = bs::record(&store, "acme").unwrap().unwrap().profiles["p"].clone();
        assert_eq!(audits(&store).len(), 7);

        let b = bs::backfill(&mut store, "acme", "p", 1, false, replayer(V1, "acme")).unwrap();
        assert_eq!(
            b,
            Backfilled {
                evaluations: 7,
                changed: 0
            }
        );
        let after = bs::evaluations(&store, &version(1)).unwrap();
        assert_eq!(
            texts(&after),
            texts(&outs),
            "the same history, byte for byte"
        );
        // The facts each evaluation read are the ones of its time.
        assert_eq!(
            after[2].facts,
            *json!({"name": "Acme"}).as_object().unwrap()
        );
        assert_eq!(
            after[3].facts,
            *json!({"name": "Acme", "tier": 2}).as_object().unwrap()
        );
        assert_eq!(scalar(&store, "SELECT COUNT(*) FROM bench_scores"), 7);
        // The state the replay ends in is the one the updates left.
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(rec.profiles["p"], state);
        // Its audit event is in the store, with the updates'.
        let a = audits(&store);
        assert_eq!(a.len(), 8);
        assert_eq!(a[0].outcome, "backfilled", "newest first");
        assert_eq!(a[0].details, json!({"version": 1, "evaluations": 7}));
        assert_eq!(a[0].tenant.as_deref(), Some("acme"));
        assert_eq!(a.iter().filter(|e| e.outcome == "evaluated").count(), 7);
        // The updates' events carry what each evaluation said, in order.
        let scores: Vec<serde_json::Value> = a[1..]
            .iter()
            .rev()
            .map(|e| e.details["score"].clone())
            .collect();
        assert_eq!(
            scores,
            [100.0, 75.0, 50.0, 37.5, 37.5, 62.5, 100.0].map(|s| json!(s))
        );
    }
);

conformance!(
    backfill_under_a_changed_profile_writes_the_new_version,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        let outs = history(&mut store);

        // V2: (3a + b) / 4 at each time, with the signals received by then:
        //   T0  (300 + 100) / 4 = 100    (V1 100:  same)
        //   +1h (150 + 100) / 4 = 62.5   (V1 75:   changed)
        //   +2h (150 +  50) / 4 = 50     (V1 50:   same)
        //   +3h ( 75 +  50) / 4 = 31.25  (V1 37.5: changed)
        //   +4h the same        = 31.25  (V1 37.5: changed)
        //   +5h ( 75 + 100) / 4 = 43.75  (V1 62.5: changed)
        //   +6h (300 + 100) / 4 = 100    (V1 100:  same)
        // gold: earned at T0, held (62.5, 50 are not below 50), lost at
        // +3h, out (43.75 < 75), earned at +6h: the same badges as V1.
        let b = bs::backfill(&mut store, "acme", "p", 2, false, replayer(V2, "acme")).unwrap();
        assert_eq!(
            b,
            Backfilled {
                evaluations: 7,
                changed: 4
            }
        );
        let v2 = bs::evaluations(&store, &version(2)).unwrap();
        let scores: Vec<f64> = v2.iter().map(|e| e.score.score.unwrap()).collect();
        assert_eq!(scores, [100.0, 62.5, 50.0, 31.25, 31.25, 43.75, 100.0]);
        assert!(v2.iter().all(|e| e.score.version == 2));
        assert_eq!(times(&v2), times(&outs));
        let moves: Vec<(i64, &str)> = v2
            .iter()
            .flat_map(|e| e.transitions.iter().map(|t| (t.at, t.change.as_str())))
            .collect();
        assert_eq!(
            moves,
            [(T0, "earned"), (T0 + 3 * H, "lost"), (T0 + 6 * H, "earned")]
        );
        // Version 1's history is left as it was.
        assert_eq!(
            texts(&bs::evaluations(&store, &version(1)).unwrap()),
            texts(&outs)
        );
        // Both versions, newest first; at one time, the higher version first.
        let all = bs::evaluations(&store, &query(None, None, true, 100)).unwrap();
        let keys: Vec<(i64, i64)> = all.iter().map(|e| (e.at, e.score.version)).collect();
        let want: Vec<(i64, i64)> = (0..7)
            .rev()
            .flat_map(|i| [(T0 + i * H, 2), (T0 + i * H, 1)])
            .collect();
        assert_eq!(keys, want);
        // The tenant's state is the replay's.
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(rec.profiles["p"].version, 2);
        assert_eq!(rec.profiles["p"].last_score, Some(100.0));
        assert_eq!(rec.profiles["p"].badges["gold"].standing, Standing::Held);
        assert_eq!(rec.profiles["p"].badges["gold"].since, Some(T0 + 6 * H));

        // Again: compared with version 2's rows now, nothing changed; the
        // rows are replaced, not added.
        let b = bs::backfill(&mut store, "acme", "p", 2, false, replayer(V2, "acme")).unwrap();
        assert_eq!(
            b,
            Backfilled {
                evaluations: 7,
                changed: 0
            }
        );
        assert_eq!(
            texts(&bs::evaluations(&store, &version(2)).unwrap()),
            texts(&v2)
        );
        assert_eq!(scalar(&store, "SELECT COUNT(*) FROM bench_scores"), 14);

        // Scoring goes on from the replay's state: a = 0 at +7h gives
        // (0 + 100) / 4 = 25 < 50, and gold, held since +6h, is lost.
        let now = T0 + 7 * H;
        let r = bs::update(
            &mut store,
            "acme",
            vec![sig("a", 0.0, now)],
            now,
            scorer(V2, now, None, false),
        )
        .unwrap();
        assert!(close(r.out.score.score.unwrap(), 25.0));
        assert_eq!(r.out.transitions.len(), 1);
        assert_eq!(r.out.transitions[0].change, "lost");
        assert_eq!(r.out.transitions[0].reason, "score 25.0 has been below 50");
        assert_eq!(bs::evaluations(&store, &version(2)).unwrap().len(), 8);

        // 7 updates, 2 backfills, 1 update.
        let a = audits(&store);
        assert_eq!(a.len(), 10);
        let backfills: Vec<&serde_json::Value> = a
            .iter()
            .filter(|e| e.outcome == "backfilled")
            .map(|e| &e.details)
            .collect();
        assert_eq!(backfills.len(), 2);
        assert!(backfills
            .iter()
            .all(|d| **d == json!({"version": 2, "evaluations": 7})));
    }
);

conformance!(backfill_of_an_unknown_tenant_does_nothing, |kind, dir| {
    let mut store = bs::open(&fresh(kind, dir)).unwrap();
    let b = bs::backfill(&mut store, "nobody", "p", 1, false, |_: &[Point]| {
        panic!("nothing to replay")
    })
    .unwrap();
    assert_eq!(b, Backfilled::default());
    assert_eq!(counts(&store), (0, 0, 0, 0));
    assert!(bs::tenants(&store).unwrap().is_empty());
});

/// A deterministic pseudo-random sequence in `[lo, hi)` at full
/// precision (a 64-bit LCG, Knuth's MMIX constants).
fn noise(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            lo + (x >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
        })
        .collect()
}

conformance!(
    a_full_precision_signal_and_score_survive_the_store,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        // Ratios as measured have 17 significant digits.
        let (a, b) = (29.354_427_201_692_346_f64, 23.319_592_147_801_938_f64);
        let r = bs::update(
            &mut store,
            "acme",
            vec![sig("a", a, T0), sig("b", b, T0)],
            T0,
            scorer(V1, T0, None, false),
        )
        .unwrap();
        // Every way the values can be off, listed together.
        let mut wrong = Vec::new();
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        let kept = (
            rec.signals["a"].value.as_f64(),
            rec.signals["b"].value.as_f64(),
        );
        if kept != (Some(a), Some(b)) {
            wrong.push(format!("the record keeps {kept:?}, sent {a:?}, {b:?}"));
        }
        if rec.profiles["p"].last_score != r.out.score.score {
            wrong.push(format!(
                "the state keeps the score {:?}, evaluated {:?}",
                rec.profiles["p"].last_score, r.out.score.score
            ));
        }
        let stored = bs::evaluations(&store, &query(None, None, false, 10)).unwrap();
        let (back, sent) = (
            texts(&stored).concat(),
            texts(std::slice::from_ref(&r.out)).concat(),
        );
        if back != sent {
            let at = back
                .bytes()
                .zip(sent.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            let around = |t: &str| t[at.saturating_sub(60)..(at + 20).min(t.len())].to_string();
            wrong.push(format!(
                "the evaluation reads back as …{}…, stored as …{}…",
                around(&back),
                around(&sent)
            ));
        }
        // Nothing new an hour later: the same signals, so the same score
        // and badge; `changed` should say so and nothing be stored.
        let again = bs::update(
            &mut store,
            "acme",
            vec![],
            T0 + H,
            scorer(V1, T0 + H, None, true),
        )
        .unwrap();
        let rows = scalar(&store, "SELECT COUNT(*) FROM bench_scores");
        if rows != 1 {
            wrong.push(format!(
                "an unchanged re-evaluation (score {:?}) was stored as a change: {rows} rows",
                again.out.score.score
            ));
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
);

conformance!(
    backfill_of_a_full_precision_history_changes_nothing,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        let a = noise(11, 20, 0.0, 100.0);
        let b = noise(12, 20, 0.0, 100.0);
        let mut outs = Vec::new();
        for i in 0..20 {
            let now = T0 + i as i64 * H;
            let r = bs::update(
                &mut store,
                "acme",
                vec![sig("a", a[i], now), sig("b", b[i], now)],
                now,
                scorer(V1, now, None, false),
            )
            .unwrap();
            outs.push(r.out);
        }
        let b = bs::backfill(&mut store, "acme", "p", 1, false, replayer(V1, "acme")).unwrap();
        assert_eq!(
            b,
            Backfilled {
                evaluations: 20,
                changed: 0
            }
        );
        assert_eq!(
            texts(&bs::evaluations(&store, &version(1)).unwrap()),
            texts(&outs)
        );
    }
);

conformance!(
    two_updates_in_one_millisecond_are_two_evaluations,
    |kind, dir| {
        let mut store = bs::open(&fresh(kind, dir)).unwrap();
        // Two requests read the clock in the same millisecond (or a replica
        // whose clock is behind): the second evaluates just after the first,
        // under the tenant's lock, and neither overwrites the other.
        let first = bs::update(
            &mut store,
            "acme",
            vec![sig("a", 50.0, T0)],
            T0,
            scorer(V1, T0, None, false),
        )
        .unwrap();
        let unmeasured = SignalRow {
            name: "b".into(),
            value: json!(25.0),
            at: None,
            source: None,
        };
        let second = bs::update(
            &mut store,
            "acme",
            vec![unmeasured],
            T0,
            scorer(V1, T0, None, false),
        )
        .unwrap();
        assert_eq!((first.at, second.at), (T0, T0 + 1));
        // A signal sent without `at` is measured when it is recorded.
        let rec = bs::record(&store, "acme").unwrap().unwrap();
        assert_eq!(rec.signals["b"].at, Some(T0 + 1));
        assert_eq!(rec.last_at, Some(T0 + 1));
        let q = Query {
            tenant: "acme".into(),
            profile: "p".into(),
            limit: 10,
            ..Default::default()
        };
        let stored = bs::evaluations(&store, &q).unwrap();
        assert_eq!(
            stored.iter().map(|e| e.at).collect::<Vec<_>>(),
            vec![T0, T0 + 1]
        );
        // And a backfill finds both, as they were.
        let before: Vec<String> = stored
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let r = bs::backfill(&mut store, "acme", "p", 1, false, replayer(V1, "acme")).unwrap();
        assert_eq!((r.evaluations, r.changed), (2, 0));
        let after: Vec<String> = bs::evaluations(&store, &q)
            .unwrap()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(after, before);
    }
);

conformance!(a_dry_run_answers_and_writes_nothing, |kind, dir| {
    let mut store = bs::open(&fresh(kind, dir)).unwrap();
    bs::update(
        &mut store,
        "acme",
        vec![sig("a", 50.0, T0)],
        T0,
        scorer(V1, T0, None, false),
    )
    .unwrap();
    let before = (counts(&store), bs::record(&store, "acme").unwrap());
    // New signals and an evaluation, as a dry run: the answer says what
    // would be, the store is as it was.
    let dry = |rec: &mut TenantRecord, at: i64| -> Result<Change<Evaluation>, String> {
        let mut c = scorer(V1, T0 + H, None, false)(rec, at)?;
        c.dry_run = true;
        Ok(c)
    };
    let r = bs::update(
        &mut store,
        "acme",
        vec![sig("a", 100.0, T0 + H), sig("b", 100.0, T0 + H)],
        T0 + H,
        dry,
    )
    .unwrap();
    assert_eq!((r.fresh, r.duplicates), (2, 0));
    // (100 + 100) / 2 = 100: what it would score.
    assert_eq!(r.out.score.score, Some(100.0));
    assert_eq!(
        (counts(&store), bs::record(&store, "acme").unwrap()),
        before
    );
    // A dry-run backfill counts and writes nothing either.
    let b = bs::backfill(&mut store, "acme", "p", 2, true, replayer(V1, "acme")).unwrap();
    assert_eq!(b.evaluations, 1);
    assert_eq!(
        (counts(&store), bs::record(&store, "acme").unwrap()),
        before
    );
});
