//! Meta-incidents from the watchers' states: opened when the silence
//! budget is spent (dated then), muted under a deny window and paged when
//! it closes, re-alerted, tracking suppressed children, resolved with a
//! recovery notice — and with hysteresis, opened only after `enter` misses
//! and resolved only after `dwell`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use tenet_meta_monitor::engine::{replay, Context};
use tenet_meta_monitor::incidents::{step, Changes, Incident};
use tenet_meta_monitor::model::{Event, Kind, Status};
use tenet_meta_monitor::render::parse_time;
use tenet_meta_monitor::watchers::Watchers;
use tenet_runtime::load::{load_files, RuleFile};

const PACK: &str = r#"tenet 1
pack meta_monitor version "1.0.0"

watcher bus {
  cadence        1m
  grace          30s
  silence_budget 5m
  realert        30m
  severity       critical
}

watcher flags {
  cadence        5m
  grace          1m
  silence_budget 0s
  depends_on     ["bus"]
}

watcher nightly {
  cron           "0 2 * * *"
  grace          30m
  silence_budget 0s

  window freeze {
    mode     deny
    cron     "0 0 24 12 *"
    duration 2d
  }
}

watcher flaky {
  cadence        1m
  grace          10s
  silence_budget 0s

  hysteresis {
    enter 3
    exit  1
    dwell 10m
  }
}
"#;

fn t(s: &str) -> i64 {
    parse_time(s).unwrap()
}

fn watchers() -> Watchers {
    let rules = load_files(
        vec![RuleFile {
            path: "m.tenet".into(),
            text: PACK.into(),
        }],
        "",
    )
    .unwrap();
    let pack = tenet_meta_monitor::pack(&rules).unwrap();
    Watchers::read(&pack).unwrap()
}

fn beat(w: &str, at: &str) -> Event {
    Event {
        watcher: w.into(),
        tenant: String::new(),
        source: "s".into(),
        at: t(at),
        kind: Kind::Success,
        run_id: None,
        seq: None,
        exit_status: None,
        count: None,
    }
}

fn statuses(w: &Watchers, events: &[Event], now: &str) -> Vec<Status> {
    let ex = BTreeMap::new();
    replay(
        w,
        events,
        &Context {
            now: t(now),
            watermark: None,
            exempt: &ex,
        },
    )
    .unwrap()
    .0
}

/// Runs the sweep at `now` over `open` and applies its changes to it.
fn sweep(w: &Watchers, events: &[Event], open: &mut Vec<Incident>, now: &str) -> Changes {
    let st = statuses(w, events, now);
    let mut n = open.len();
    let mut id = || {
        n += 1;
        format!("mi-{n}")
    };
    let c = step(w, &st, open, t(now), &mut id);
    open.extend(c.opened.iter().cloned());
    for u in &c.updated {
        let i = open.iter_mut().find(|i| i.id == u.id).unwrap();
        *i = u.clone();
    }
    open.retain(|i| i.state == "open");
    c
}

#[test]
fn an_incident_opens_when_the_silence_budget_is_spent_and_is_dated_then() {
    let w = watchers();
    let events = vec![beat("bus", "2026-12-04T10:00:00Z")];
    let mut open = Vec::new();
    // Down at 10:01:30; budget 5m: nothing before 10:06:30.
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:06:00Z");
    assert!(c.opened.is_empty());
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:07:00Z");
    assert_eq!(c.opened.len(), 1);
    let i = &c.opened[0];
    assert_eq!(
        (i.watcher.as_str(), i.severity.as_str()),
        ("bus", "critical")
    );
    assert_eq!(i.opened_at, t("2026-12-04T10:06:30Z"));
    assert_eq!(i.down_at, t("2026-12-04T10:01:30Z"));
    assert_eq!(c.pages.len(), 1);
    assert_eq!(c.pages[0].kind, "silence");
    // The next sweep opens nothing more and pages no one ...
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:08:00Z");
    assert_eq!(c, Changes::default());
    // ... until the re-alert interval (30m) has passed.
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:37:00Z");
    assert_eq!(c.pages.len(), 1);
    assert_eq!(c.pages[0].kind, "realert");
    assert_eq!(c.updated[0].pages, 2);
    // A heartbeat: resolved, and whoever was paged hears of it.
    let mut events = events;
    events.push(beat("bus", "2026-12-04T10:40:00Z"));
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:40:10Z");
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0].state, "resolved");
    assert!(c.updated[0]
        .resolution
        .as_ref()
        .unwrap()
        .starts_with("recovered: up"));
    assert_eq!(c.pages[0].kind, "recovered");
    assert!(open.is_empty());
}

#[test]
fn suppressed_children_are_tracked_on_the_parents_incident_and_not_paged() {
    let w = watchers();
    let events = vec![
        beat("bus", "2026-12-04T10:00:00Z"),
        beat("flags", "2026-12-04T10:00:00Z"),
    ];
    let mut open = Vec::new();
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:30:00Z");
    assert_eq!(c.opened.len(), 1, "only the bus: {:?}", c.opened);
    assert_eq!(c.opened[0].watcher, "bus");
    assert_eq!(c.opened[0].suppressed, ["flags"]);
}

#[test]
fn a_deny_window_records_the_incident_muted_and_pages_when_it_closes() {
    let w = watchers();
    // The nightly job ran on the 23rd; the 24th's run is missing, inside
    // the Christmas freeze (24-25 December).
    let events = vec![beat("nightly", "2026-12-23T02:05:00Z")];
    let mut open = Vec::new();
    let c = sweep(&w, &events, &mut open, "2026-12-24T03:00:00Z");
    assert_eq!(c.opened.len(), 1);
    assert_eq!(c.opened[0].muted_by.as_deref(), Some("freeze"));
    assert_eq!(c.opened[0].paged_at, None);
    assert!(c.pages.is_empty(), "muted: recorded, nobody paged");
    let c = sweep(&w, &events, &mut open, "2026-12-25T12:00:00Z");
    assert!(c.pages.is_empty());
    // The window closes on the 26th at 00:00: still down, so page.
    let c = sweep(&w, &events, &mut open, "2026-12-26T00:01:00Z");
    assert_eq!(c.pages.len(), 1);
    assert_eq!(c.pages[0].kind, "silence");
    assert_eq!(c.updated[0].muted_by, None);
    assert!(c.updated[0].paged_at.is_some());
}

#[test]
fn hysteresis_opens_after_enter_misses_and_resolves_after_dwell() {
    let w = watchers();
    let mut events = vec![beat("flaky", "2026-12-04T10:00:00Z")];
    let mut open = Vec::new();
    // Down at 10:01:10 (1 miss), 10:02:10 (2): not yet; 10:03:10 is the
    // third.
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:03:00Z");
    assert!(c.opened.is_empty());
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:03:10Z");
    assert_eq!(c.opened.len(), 1);
    // Back at 10:05: not resolved until it has stayed up for 10m.
    for m in 5..=20 {
        events.push(beat("flaky", &format!("2026-12-04T10:{m:02}:00Z")));
    }
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:10:00Z");
    assert!(c.updated.is_empty(), "{:?}", c.updated);
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:15:00Z");
    assert_eq!(c.updated.len(), 1);
    assert_eq!(c.updated[0].state, "resolved");
}

#[test]
fn a_run_that_starts_on_a_down_watcher_does_not_resolve_its_incident() {
    let w = watchers();
    let mut events = vec![beat("bus", "2026-12-04T10:00:00Z")];
    let mut open = Vec::new();
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:07:00Z");
    assert_eq!(c.opened.len(), 1);
    let mut start = beat("bus", "2026-12-04T10:08:00Z");
    start.kind = Kind::Start;
    events.push(start);
    let c = sweep(&w, &events, &mut open, "2026-12-04T10:08:05Z");
    assert!(
        c.updated.iter().all(|i| i.state == "open"),
        "{:?}",
        c.updated
    );
    assert!(c.pages.iter().all(|p| p.kind != "recovered"));
    assert_eq!(open.len(), 1);
}
