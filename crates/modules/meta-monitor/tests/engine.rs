//! The meta-monitor's refinements on the bundled pack: quorum, duplicates,
//! late events, dependencies, the watermark, `min_events`, exemptions and
//! deny windows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use tenet_meta_monitor::engine::{exempt, replay, Context, Refusal};
use tenet_meta_monitor::model::{Event, Kind, State, Status};
use tenet_meta_monitor::render::{parse_time, rfc3339};
use tenet_meta_monitor::watchers::Watchers;
use tenet_runtime::load::load_bundled;

fn t(s: &str) -> i64 {
    parse_time(s).unwrap()
}

fn ev(watcher: &str, source: &str, at: &str) -> Event {
    Event {
        watcher: watcher.into(),
        tenant: String::new(),
        source: source.into(),
        at: t(at),
        kind: Kind::Success,
        run_id: None,
        seq: None,
        exit_status: None,
        count: None,
    }
}

/// Heartbeats every `step` seconds from `from` for `n` beats.
fn beats(watcher: &str, source: &str, from: &str, step: i64, n: i64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = ev(watcher, source, from);
            e.at += i * step * 1000;
            e.seq = Some((e.at / 1000) as u64);
            // The event bus expects 1,000 events a period (`min_events`).
            e.count = Some(1000);
            e
        })
        .collect()
}

struct World {
    watchers: Watchers,
}

impl World {
    fn new() -> World {
        let rules = Box::leak(Box::new(load_bundled().unwrap()));
        let pack = tenet_meta_monitor::pack(rules).unwrap();
        World {
            watchers: Watchers::read(&pack).unwrap(),
        }
    }

    fn at(&self, events: &[Event], now: &str) -> BTreeMap<String, Status> {
        self.with(events, now, None, &BTreeMap::new())
    }

    fn with(
        &self,
        events: &[Event],
        now: &str,
        watermark: Option<&str>,
        exempt: &BTreeMap<String, BTreeSet<String>>,
    ) -> BTreeMap<String, Status> {
        let cx = Context {
            now: t(now),
            watermark: watermark.map(t),
            exempt,
        };
        let (list, _) = replay(&self.watchers, events, &cx).unwrap();
        list.into_iter()
            .map(|s| {
                let key = if s.tenant.is_empty() {
                    s.watcher.clone()
                } else {
                    format!("{}/{}", s.watcher, s.tenant)
                };
                (key, s)
            })
            .collect()
    }
}

#[test]
fn the_bundled_pack_reads_parents_first() {
    let w = World::new();
    let names = w.watchers.names();
    assert_eq!(names[0], "event-bus");
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    for child in ["audit-pipeline", "feature-flag-evals", "webhook-delivery"] {
        assert!(pos("event-bus") < pos(child), "{child}");
    }
    assert_eq!(w.watchers.get("event-bus").unwrap().quorum, 2);
}

#[test]
fn every_declared_watcher_starts_new_and_waits_for_ever() {
    let w = World::new();
    let s = w.at(&[], "2030-01-01T00:00:00Z");
    assert_eq!(s.len(), 6);
    for st in s.values() {
        assert_eq!(st.state, State::New, "{}", st.watcher);
        assert_eq!(st.expected_by, None);
    }
}

#[test]
fn one_noisy_source_cannot_keep_a_quorum_watcher_up() {
    let w = World::new();
    // event-bus: every 30s, grace 15s, quorum 2 of two sources.
    let mut events = beats(
        "event-bus",
        "broker-lag-exporter",
        "2026-12-04T10:00:00Z",
        30,
        20,
    );
    events.extend(beats(
        "event-bus",
        "consumer-heartbeat",
        "2026-12-04T10:00:00Z",
        30,
        4,
    ));
    // The consumer stopped after 10:01:30; the exporter goes on to 10:09:30.
    let s = w.at(&events, "2026-12-04T10:02:05Z");
    assert_eq!(s["event-bus"].state, State::Late, "{}", s["event-bus"].why);
    let s = w.at(&events, "2026-12-04T10:05:00Z");
    let bus = &s["event-bus"];
    assert_eq!(bus.state, State::Down, "{}", bus.why);
    assert_eq!(bus.down_at, Some(t("2026-12-04T10:02:15Z")));
    assert!(
        bus.why.contains("1 of 2 sources alive, quorum 2"),
        "{}",
        bus.why
    );
    // With both, up.
    let both: Vec<Event> = beats(
        "event-bus",
        "broker-lag-exporter",
        "2026-12-04T10:00:00Z",
        30,
        20,
    )
    .into_iter()
    .chain(beats(
        "event-bus",
        "consumer-heartbeat",
        "2026-12-04T10:00:00Z",
        30,
        20,
    ))
    .collect();
    let s = w.at(&both, "2026-12-04T10:09:40Z");
    assert_eq!(s["event-bus"].state, State::Up, "{}", s["event-bus"].why);
    assert_eq!(s["event-bus"].expected_by, Some(t("2026-12-04T10:10:00Z")));
}

#[test]
fn replaying_a_log_twice_changes_nothing() {
    let w = World::new();
    let mut events = beats(
        "feature-flag-evals",
        "flag-sidecar",
        "2026-12-04T10:00:00Z",
        300,
        3,
    );
    let once = w.at(&events, "2026-12-04T10:30:00Z");
    assert_eq!(once["feature-flag-evals"].state, State::Down);
    // The same heartbeats again, later in the log (a replayed backlog):
    // the duplicates are dropped, the dead job still looks dead.
    let again = events.clone();
    events.extend(again);
    let cx_exempt = BTreeMap::new();
    let cx = Context {
        now: t("2026-12-04T10:30:00Z"),
        watermark: None,
        exempt: &cx_exempt,
    };
    let (twice, counts) = replay(&w.watchers, &events, &cx).unwrap();
    assert_eq!(counts.duplicates, 3);
    let twice: BTreeMap<String, Status> =
        twice.into_iter().map(|s| (s.watcher.clone(), s)).collect();
    assert_eq!(once, twice);
}

#[test]
fn successes_without_ids_at_different_times_each_move_the_deadline() {
    let w = World::new();
    let mut events = vec![
        ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z"),
        ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:04:00Z"),
    ];
    for e in &mut events {
        // Above the watcher's `min_events` (50 a period).
        e.count = Some(100);
    }
    let s = w.at(&events, "2026-12-04T10:08:00Z");
    assert_eq!(s["feature-flag-evals"].state, State::Up);
    assert_eq!(
        s["feature-flag-evals"].expected_by,
        Some(t("2026-12-04T10:09:00Z"))
    );
}

#[test]
fn an_event_older_than_the_latest_changes_no_state() {
    use tenet_meta_monitor::engine::{apply, Applied};
    use tenet_meta_monitor::model::Instance;
    let w = World::new();
    let flags = w.watchers.get("feature-flag-evals").unwrap();
    let mut inst = Instance {
        watcher: "feature-flag-evals".into(),
        ..Default::default()
    };
    let ok = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:01:00Z");
    assert_eq!(apply(&mut inst, flags, &ok).unwrap(), Applied::Changed);
    // A failure from 10:00 arrives after the success of 10:01 (a sender's
    // backlog): recorded, and it does not undo the later success.
    let mut fail = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z");
    fail.kind = Kind::Fail;
    let before = inst.clone();
    assert_eq!(apply(&mut inst, flags, &fail).unwrap(), Applied::Late);
    assert_eq!(inst.sources, before.sources);
    assert_eq!(inst.events, 2);
    // In a log, events are applied in time order: the same two events
    // leave it up.
    let s = w.at(&[ok, fail], "2026-12-04T10:02:00Z");
    assert_eq!(
        s["feature-flag-evals"].state,
        State::Up,
        "{}",
        s["feature-flag-evals"].why
    );
}

#[test]
fn a_source_the_watcher_does_not_declare_is_refused() {
    let w = World::new();
    let events = vec![ev("event-bus", "someone-else", "2026-12-04T10:00:00Z")];
    let ex = BTreeMap::new();
    let cx = Context {
        now: t("2026-12-04T10:01:00Z"),
        watermark: None,
        exempt: &ex,
    };
    let (i, r) = replay(&w.watchers, &events, &cx).unwrap_err();
    assert_eq!(i, 0);
    assert!(matches!(r, Refusal::UnknownSource { .. }));
    assert_eq!(
        r.to_string(),
        "watcher `event-bus` declares its sources (broker-lag-exporter, consumer-heartbeat), and `someone-else` is not one of them"
    );
    let events = vec![ev("evnt-bus", "x", "2026-12-04T10:00:00Z")];
    let (_, r) = replay(&w.watchers, &events, &cx).unwrap_err();
    assert!(
        r.to_string()
            .starts_with("no watcher `evnt-bus` in the meta_monitor pack (watchers: event-bus, "),
        "{r}"
    );
}

#[test]
fn silent_children_of_a_down_parent_are_suppressed_then_raised() {
    let w = World::new();
    // Everything beats until 10:00; the bus (and the flags) go silent.
    let mut events = beats(
        "event-bus",
        "broker-lag-exporter",
        "2026-12-04T09:50:00Z",
        30,
        21,
    );
    events.extend(beats(
        "event-bus",
        "consumer-heartbeat",
        "2026-12-04T09:50:00Z",
        30,
        21,
    ));
    events.extend(beats(
        "feature-flag-evals",
        "flag-sidecar",
        "2026-12-04T09:50:00Z",
        300,
        3,
    ));
    events.extend(beats(
        "webhook-delivery",
        "webhook-dispatcher",
        "2026-12-04T09:50:00Z",
        600,
        2,
    ));
    // 10:30: the bus is down since 10:00:45; the flags (5m + 2m grace)
    // are silent under it: suppressed, tracked under the bus.
    let s = w.at(&events, "2026-12-04T10:30:00Z");
    assert_eq!(s["event-bus"].state, State::Down);
    let flags = &s["feature-flag-evals"];
    assert_eq!(flags.state, State::Suppressed, "{}", flags.why);
    assert_eq!(flags.base_state, State::Down);
    assert_eq!(flags.suppressed_by.as_deref(), Some("event-bus"));
    assert_eq!(flags.pages_at, None, "a suppressed watcher does not page");
    // webhook-delivery says `on_upstream_down alert`: it is down on its own.
    assert_eq!(
        s["webhook-delivery"].state,
        State::Down,
        "{}",
        s["webhook-delivery"].why
    );
    // The bus recovers at 10:40; the flags stay silent. Within their grace
    // (2m) after the recovery they are still suppressed ...
    events.extend(beats(
        "event-bus",
        "broker-lag-exporter",
        "2026-12-04T10:40:00Z",
        30,
        20,
    ));
    events.extend(beats(
        "event-bus",
        "consumer-heartbeat",
        "2026-12-04T10:40:00Z",
        30,
        20,
    ));
    let s = w.at(&events, "2026-12-04T10:41:00Z");
    assert_eq!(s["event-bus"].state, State::Up, "{}", s["event-bus"].why);
    let flags = &s["feature-flag-evals"];
    assert_eq!(flags.state, State::Suppressed, "{}", flags.why);
    assert!(
        flags.why.contains("recovered at 2026-12-04T10:40:00.000Z"),
        "{}",
        flags.why
    );
    // ... and raised on their own after it.
    let s = w.at(&events, "2026-12-04T10:42:00Z");
    let flags = &s["feature-flag-evals"];
    assert_eq!(flags.state, State::Down, "{}", flags.why);
    assert_eq!(flags.suppressed_by, None);
    assert_eq!(flags.down_at, Some(t("2026-12-04T10:07:00Z")));
    assert_eq!(
        flags.pages_at,
        Some(t("2026-12-04T10:37:00Z")),
        "down_at + silence_budget 30m"
    );
}

#[test]
fn a_backlog_after_a_restart_is_not_a_false_silence() {
    let w = World::new();
    let events = beats(
        "feature-flag-evals",
        "flag-sidecar",
        "2026-12-04T10:00:00Z",
        300,
        1,
    );
    // Down at 10:07 (5m + 2m grace). The ingest has applied everything
    // received before 10:05 only: it might still hold a heartbeat.
    let ex = BTreeMap::new();
    let s = w.with(
        &events,
        "2026-12-04T10:20:00Z",
        Some("2026-12-04T10:05:00Z"),
        &ex,
    );
    let flags = &s["feature-flag-evals"];
    assert_eq!(flags.state, State::Late, "{}", flags.why);
    assert!(flags.why.contains("not declared down"), "{}", flags.why);
    assert_eq!(flags.pages_at, None);
    // Caught up: down.
    let s = w.with(
        &events,
        "2026-12-04T10:20:00Z",
        Some("2026-12-04T10:20:00Z"),
        &ex,
    );
    assert_eq!(s["feature-flag-evals"].state, State::Down);
}

#[test]
fn too_few_events_in_a_whole_period_is_down() {
    let w = World::new();
    // event-bus expects 1,000 events per 30s period.
    let mk = |count: u64| -> Vec<Event> {
        let mut v = Vec::new();
        for src in ["broker-lag-exporter", "consumer-heartbeat"] {
            for mut e in beats("event-bus", src, "2026-12-04T10:00:00Z", 30, 10) {
                e.count = Some(count);
                v.push(e);
            }
        }
        v
    };
    let s = w.at(&mk(600), "2026-12-04T10:04:40Z");
    assert_eq!(s["event-bus"].state, State::Up, "{}", s["event-bus"].why);
    let s = w.at(&mk(10), "2026-12-04T10:04:40Z");
    let bus = &s["event-bus"];
    assert_eq!(bus.state, State::Down, "{}", bus.why);
    assert!(bus.why.contains("anomalously low activity, 20 events in the 30s to 2026-12-04T10:04:00.000Z, fewer than min_events 1000"), "{}", bus.why);
}

#[test]
fn quiet_but_valid_tenants_are_exempt_and_page_no_one() {
    let w = World::new();
    let rules = load_bundled().unwrap();
    let pack = tenet_meta_monitor::pack(&rules).unwrap();
    let facts = |j: serde_json::Value| tenet_runtime::dsl::Value::from_json(&j);
    let mut ex = BTreeMap::new();
    ex.insert(
        "demo-7".to_string(),
        exempt(&pack, &facts(serde_json::json!({"tenant": {"id": "demo-7", "tier": "sandbox", "llm_enabled": true}, "stats": {"events_24h": 3, "eval_runs_30d": 0, "webhooks_configured": 0}})), None),
    );
    ex.insert(
        "acme".to_string(),
        exempt(&pack, &facts(serde_json::json!({"tenant": {"id": "acme", "tier": "enterprise", "llm_enabled": true}, "stats": {"events_24h": 90000, "webhooks_configured": 3}})), None),
    );
    assert_eq!(
        ex["demo-7"],
        BTreeSet::from([
            "feature-flag-evals".to_string(),
            "llm-eval".to_string(),
            "webhook-delivery".to_string()
        ])
    );
    assert!(ex["acme"].is_empty());
    let mut events = Vec::new();
    for tenant in ["demo-7", "acme"] {
        let mut e = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z");
        e.tenant = tenant.into();
        events.push(e);
    }
    let s = w.with(&events, "2026-12-04T12:00:00Z", None, &ex);
    let demo = &s["feature-flag-evals/demo-7"];
    assert_eq!(demo.state, State::Exempt, "{}", demo.why);
    assert_eq!(demo.pages_at, None);
    assert!(
        demo.why.contains("stats.events_24h < small_sandbox_events"),
        "{}",
        demo.why
    );
    assert_eq!(s["feature-flag-evals/acme"].state, State::Down);
}

#[test]
fn a_deny_window_mutes_the_page_and_keeps_the_state() {
    let w = World::new();
    // llm-eval: cron 0 3 * * * Amsterdam, grace 2h; window model-redeploy
    // Sundays 01:00 for 4h (Amsterdam). 2026-12-06 is a Sunday.
    let events = vec![ev("llm-eval", "eval-runner", "2026-12-04T02:10:00Z")];
    let s = w.at(&events, "2026-12-06T01:30:00Z");
    let llm = &s["llm-eval"];
    assert_eq!(llm.state, State::Down, "{}", llm.why);
    assert_eq!(llm.muted_by.as_deref(), Some("model-redeploy"));
    assert!(
        llm.why.contains("it would page, and does not"),
        "{}",
        llm.why
    );
    let s = w.at(&events, "2026-12-06T05:30:00Z");
    assert_eq!(s["llm-eval"].muted_by, None);
    assert_eq!(
        rfc3339(s["llm-eval"].down_at.unwrap()),
        "2026-12-05T04:00:00.000Z"
    );
}

#[test]
fn a_cron_watcher_across_the_daylight_saving_changes() {
    let w = World::new();
    // llm-eval: `0 3 * * *` in Europe/Amsterdam, grace 2h.
    // Autumn: clocks go back on 25 October 2026 at 01:00Z (03:00 CEST
    // becomes 02:00 CET). The run of the 24th at 03:00 CEST (01:00Z): the
    // next is the 25th at 03:00 CET (02:00Z), 25 hours later.
    let autumn = vec![ev("llm-eval", "eval-runner", "2026-10-24T01:00:00Z")];
    let s = w.at(&autumn, "2026-10-25T01:30:00Z");
    assert_eq!(s["llm-eval"].state, State::Up, "{}", s["llm-eval"].why);
    assert_eq!(
        rfc3339(s["llm-eval"].expected_by.unwrap()),
        "2026-10-25T02:00:00.000Z"
    );
    // A run in the repeated hour (02:30 CET, the second pass, 01:30Z): the
    // next is that day's 03:00 CET, after the run.
    let repeated = vec![ev("llm-eval", "eval-runner", "2026-10-25T01:30:00Z")];
    let s = w.at(&repeated, "2026-10-25T01:31:00Z");
    assert_eq!(s["llm-eval"].state, State::Up, "{}", s["llm-eval"].why);
    assert_eq!(
        rfc3339(s["llm-eval"].expected_by.unwrap()),
        "2026-10-25T02:00:00.000Z"
    );
    // Spring: 03:00 on 29 March 2026 exists (the gap is 02:00-03:00 CET):
    // after the run of the 28th (02:00Z), the next is 29 March 01:00Z.
    let spring = vec![ev("llm-eval", "eval-runner", "2026-03-28T02:00:00Z")];
    let s = w.at(&spring, "2026-03-29T02:59:00Z");
    assert_eq!(
        rfc3339(s["llm-eval"].expected_by.unwrap()),
        "2026-03-29T01:00:00.000Z"
    );
    assert_eq!(s["llm-eval"].state, State::Late, "{}", s["llm-eval"].why);
    let s = w.at(&spring, "2026-03-29T03:00:00Z");
    assert_eq!(
        s["llm-eval"].state,
        State::Down,
        "down at expected + 2h grace, inclusive"
    );
}

#[test]
fn huge_counts_saturate_instead_of_overflowing() {
    let w = World::new();
    let mut events = Vec::new();
    for (i, src) in ["broker-lag-exporter", "consumer-heartbeat"]
        .into_iter()
        .enumerate()
    {
        for mut e in beats("event-bus", src, "2026-12-04T10:00:00Z", 30, 10) {
            e.count = Some(u64::MAX);
            e.seq = Some(e.seq.unwrap() * 10 + i as u64);
            events.push(e);
        }
    }
    let s = w.at(&events, "2026-12-04T10:04:40Z");
    assert_eq!(s["event-bus"].state, State::Up, "{}", s["event-bus"].why);
}

#[test]
fn one_sources_fast_clock_does_not_make_the_others_late() {
    use tenet_meta_monitor::engine::{apply, Applied};
    use tenet_meta_monitor::model::Instance;
    let w = World::new();
    let bus = w.watchers.get("event-bus").unwrap();
    let mut inst = Instance {
        watcher: "event-bus".into(),
        ..Default::default()
    };
    // The exporter's clock runs 4 minutes fast.
    let fast = ev("event-bus", "broker-lag-exporter", "2026-12-04T10:04:00Z");
    assert_eq!(apply(&mut inst, bus, &fast).unwrap(), Applied::Changed);
    let on_time = ev("event-bus", "consumer-heartbeat", "2026-12-04T10:00:00Z");
    assert_eq!(apply(&mut inst, bus, &on_time).unwrap(), Applied::Changed);
    assert_eq!(
        inst.sources["consumer-heartbeat"].last_ping,
        Some(t("2026-12-04T10:00:00Z"))
    );
    // Within one source, an older event is still late.
    let older = ev("event-bus", "broker-lag-exporter", "2026-12-04T10:03:00Z");
    assert_eq!(apply(&mut inst, bus, &older).unwrap(), Applied::Late);
}

#[test]
fn misses_follow_the_quorum_and_a_failure_counts_as_all_of_them() {
    use tenet_meta_monitor::engine::missed;
    use tenet_meta_monitor::model::Instance;
    let w = World::new();
    let bus = w.watchers.get("event-bus").unwrap();
    // The consumer stopped after 10:00; the exporter beats on. Quorum 2:
    // the watcher misses what the consumer misses.
    let mut events = beats(
        "event-bus",
        "broker-lag-exporter",
        "2026-12-04T10:00:00Z",
        30,
        10,
    );
    events.extend(beats(
        "event-bus",
        "consumer-heartbeat",
        "2026-12-04T10:00:00Z",
        30,
        1,
    ));
    let mut inst = Instance {
        watcher: "event-bus".into(),
        ..Default::default()
    };
    for e in &events {
        tenet_meta_monitor::engine::apply(&mut inst, bus, e).unwrap();
    }
    // Consumer: deadlines 10:00:45, 10:01:15, 10:01:45, 10:02:15 by 10:02:20.
    assert_eq!(missed(bus, &inst, t("2026-12-04T10:02:20Z")), 4);
    let mut fail = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z");
    fail.kind = Kind::Fail;
    let flags = w.watchers.get("feature-flag-evals").unwrap();
    let mut inst = Instance {
        watcher: "feature-flag-evals".into(),
        ..Default::default()
    };
    tenet_meta_monitor::engine::apply(&mut inst, flags, &fail).unwrap();
    assert_eq!(missed(flags, &inst, t("2026-12-04T10:00:01Z")), u64::MAX);
}

#[test]
fn a_quorum_watcher_went_down_when_too_few_were_left_alive() {
    let w = World::new();
    // audit-pipeline: quorum 2 of three sources, every minute, grace 30s.
    // The verifier never reported; the collector falls at 10:01:30, the
    // sink at 10:04:30: with two alive until 10:01:30, the watcher went
    // down then.
    let mut events = beats(
        "audit-pipeline",
        "audit-collector",
        "2026-12-04T10:00:00Z",
        60,
        1,
    );
    events.extend(beats(
        "audit-pipeline",
        "audit-s3-sink",
        "2026-12-04T10:00:00Z",
        60,
        4,
    ));
    let s = w.at(&events, "2026-12-04T10:10:00Z");
    let a = &s["audit-pipeline"];
    assert_eq!(a.state, State::Down, "{}", a.why);
    assert_eq!(rfc3339(a.down_at.unwrap()), "2026-12-04T10:01:30.000Z");
}

#[test]
fn a_restarted_counter_and_a_retried_run_are_not_duplicates() {
    let w = World::new();
    // The sidecar restarts and numbers from 1 again: a new time, counted.
    let mut a = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z");
    a.seq = Some(1);
    a.count = Some(100);
    let mut b = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:04:00Z");
    b.seq = Some(1);
    b.count = Some(100);
    let ex = BTreeMap::new();
    let cx = Context {
        now: t("2026-12-04T10:05:00Z"),
        watermark: None,
        exempt: &ex,
    };
    let (_, counts) = replay(&w.watchers, &[a.clone(), b], &cx).unwrap();
    assert_eq!((counts.applied, counts.duplicates), (2, 0));
    // A run that failed (`/ping/X/1?rid=R`) and succeeded on a retry
    // (`/ping/X/0?rid=R`): two kinds, both counted.
    let mut fail = ev("llm-eval", "eval-runner", "2026-12-04T02:00:00Z");
    fail.run_id = Some("R".into());
    fail.exit_status = Some(1);
    let mut ok = ev("llm-eval", "eval-runner", "2026-12-04T02:10:00Z");
    ok.run_id = Some("R".into());
    ok.exit_status = Some(0);
    let s = w.at(&[fail, ok], "2026-12-04T02:11:00Z");
    assert_eq!(s["llm-eval"].state, State::Up, "{}", s["llm-eval"].why);
}

#[test]
fn a_pause_is_not_low_activity_and_a_received_failure_is_not_held_back() {
    let w = World::new();
    let mut events = Vec::new();
    for m in [50, 55] {
        let mut e = ev(
            "feature-flag-evals",
            "flag-sidecar",
            &format!("2026-12-04T09:{m}:00Z"),
        );
        e.count = Some(120);
        events.push(e);
    }
    let mut e = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:00:00Z");
    e.count = Some(120);
    events.push(e);
    let mut pause = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:01:00Z");
    pause.kind = Kind::Pause;
    let mut resume = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:20:00Z");
    resume.kind = Kind::Resume;
    let mut again = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:21:00Z");
    again.count = Some(120);
    events.extend([pause, resume, again]);
    let s = w.at(&events, "2026-12-04T10:22:00Z");
    assert_eq!(
        s["feature-flag-evals"].state,
        State::Up,
        "{}",
        s["feature-flag-evals"].why
    );
    // A failure received after a restart is complete data: down at once,
    // whatever the watermark.
    let mut fail = ev("feature-flag-evals", "flag-sidecar", "2026-12-04T10:30:00Z");
    fail.kind = Kind::Fail;
    let ex = BTreeMap::new();
    let s = w.with(
        &[fail],
        "2026-12-04T10:30:05Z",
        Some("2026-12-04T10:00:00Z"),
        &ex,
    );
    assert_eq!(
        s["feature-flag-evals"].state,
        State::Down,
        "{}",
        s["feature-flag-evals"].why
    );
}

/// With allow windows, pages go out only while one is open (the
/// language's window rule: deny wins; with allow windows one must be
/// open); the watcher is evaluated all the same.
#[test]
fn allow_windows_page_only_inside_them() {
    let rules = Box::leak(Box::new(
        tenet_runtime::load::load_files(
            vec![tenet_runtime::load::RuleFile {
                path: "m.tenet".into(),
                text: r#"tenet 1
pack meta_monitor version "1.0.0"

watcher batch {
  cadence        1h
  grace          5m
  silence_budget 0s

  window office {
    mode     allow
    cron     "0 9 * * MON-FRI"
    duration 8h
  }

  window freeze {
    mode     deny
    cron     "0 12 * * *"
    duration 1h
  }
}
"#
                .into(),
            }],
            "",
        )
        .unwrap(),
    ));
    let w = World {
        watchers: Watchers::read(&tenet_meta_monitor::pack(rules).unwrap()).unwrap(),
    };
    let events = vec![ev("batch", "x", "2026-12-04T06:00:00Z")];
    // Friday 2026-12-04, 08:00 UTC: down, outside the office window: muted.
    let s = w.at(&events, "2026-12-04T08:00:00Z");
    assert_eq!(s["batch"].state, State::Down);
    assert_eq!(s["batch"].muted_by.as_deref(), Some("outside office"));
    assert!(
        s["batch"]
            .why
            .contains("outside every allow window (`office`): it would page, and does not"),
        "{}",
        s["batch"].why
    );
    // 10:00, inside it: pages.
    let s = w.at(&events, "2026-12-04T10:00:00Z");
    assert_eq!(s["batch"].muted_by, None, "{}", s["batch"].why);
    // 12:30, inside it but the deny window is open: deny wins.
    let s = w.at(&events, "2026-12-04T12:30:00Z");
    assert_eq!(s["batch"].muted_by.as_deref(), Some("freeze"));
    // Saturday: no allow window opens.
    let s = w.at(&events, "2026-12-05T10:00:00Z");
    assert_eq!(s["batch"].muted_by.as_deref(), Some("outside office"));
}
