//! The meta-monitor agrees with Healthchecks.io, state for state.
//!
//! `fixtures/meta-monitor/healthchecks.json` holds 40 cases read from
//! Healthchecks' code and tests (which test, or which branch of
//! `hc/api/models.py`, is each case's `source`; the values were checked by
//! running a port of its models with the libraries it pins, cronsim 2.7
//! and oncalendar 1.1). Each is one watcher with one source, a schedule
//! and a grace, some events and a `now`: its `expected_status` (API v3,
//! `grace` for late) is the watcher's `base_state`, its
//! `expected_status_v1` (with `started`) the watcher's `state`.
//!
//! Where Healthchecks is wrong (the repeated autumn hour) or where tenet
//! has one rule for cron and calendar schedules (the spring gap), the case
//! is listed in `TENET_DIFFERS` with tenet's answer and the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value as Json;
use std::collections::BTreeMap;
use tenet_meta_monitor::engine::{replay, Context};
use tenet_meta_monitor::model::{Event, Kind, State};
use tenet_meta_monitor::watchers::Watchers;
use tenet_runtime::load::{load_files, RuleFile};

/// Cases where tenet answers otherwise: (name, base_state, state, why).
const TENET_DIFFERS: &[(&str, &str, &str, &str)] = &[
    (
        "DST autumn bug: 30 3 * * * Riga, pinged in the second 03:xx, is grace at once",
        "up",
        "up",
        "a next expected time is never before the heartbeat: 03:30 has passed that day, so the next is 2021-11-01T01:30Z",
    ),
    (
        "DST autumn bug: same check goes down 20 minutes after a good ping",
        "up",
        "up",
        "as above: a good ping at 03:10 (second pass) is not late 20 minutes later",
    ),
    (
        "DST autumn bug also hits OnCalendar 03:30",
        "up",
        "up",
        "the same rule for calendar schedules",
    ),
    (
        "spring gap: oncalendar 03:00 Riga skips the day",
        "late",
        "late",
        "one rule for cron and calendar: a time the spring change skips is expected when the clocks skip it (04:00 EEST = 01:00Z), as cronsim does, not the next day",
    ),
];

fn ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn state_name(hc: &str) -> &str {
    match hc {
        "grace" => "late",
        other => other,
    }
}

fn pack_for(case: &Json) -> String {
    let s = &case["schedule"];
    let grace = s["grace_s"].as_i64().unwrap();
    let schedule = match s["kind"].as_str().unwrap() {
        "simple" => format!("cadence {}s", s["period_s"].as_i64().unwrap()),
        "cron" => format!(
            "cron \"{}\"\n  tz \"{}\"",
            s["expr"].as_str().unwrap(),
            s["tz"].as_str().unwrap()
        ),
        "oncalendar" => format!(
            "calendar \"{}\"\n  tz \"{}\"",
            s["expr"].as_str().unwrap(),
            s["tz"].as_str().unwrap()
        ),
        other => panic!("schedule kind {other}"),
    };
    format!(
        "tenet 1\npack meta_monitor version \"1.0.0\"\n\nwatcher job {{\n  {schedule}\n  grace {grace}s\n  silence_budget 0s\n  manual_resume {}\n}}\n",
        case["manual_resume"].as_bool().unwrap()
    )
}

#[test]
fn states_are_healthchecks_for_the_same_pings_and_times() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../fixtures/meta-monitor/healthchecks.json"
    ))
    .unwrap();
    let cases: Vec<Json> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 40);
    let differs: BTreeMap<&str, (&str, &str)> = TENET_DIFFERS
        .iter()
        .map(|(n, b, s, _)| (*n, (*b, *s)))
        .collect();
    let mut failures = Vec::new();
    let mut matched_differs = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let rules = load_files(
            vec![RuleFile {
                path: "m.tenet".into(),
                text: pack_for(case),
            }],
            "",
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let pack = tenet_meta_monitor::pack(&rules).unwrap();
        let watchers = Watchers::read(&pack).unwrap();
        let mut events = Vec::new();
        for e in case["events"].as_array().unwrap() {
            let exit = e["exit_status"].as_i64();
            if exit.is_some_and(|x| x > 255) {
                // Healthchecks answers 400 and records nothing; here the
                // event does not parse (an exit status is 0-255).
                let json = serde_json::json!({"watcher": "job", "source": "s", "at": 0, "kind": "success", "exit_status": exit});
                assert!(serde_json::from_value::<Event>(json).is_err(), "{name}");
                continue;
            }
            events.push(Event {
                watcher: "job".into(),
                tenant: String::new(),
                source: "cron-host".into(),
                at: ms(e["at"].as_str().unwrap()),
                kind: Kind::parse(e["kind"].as_str().unwrap()).unwrap(),
                run_id: e["run_id"].as_str().map(str::to_string),
                seq: None,
                exit_status: exit.map(|x| x as u8),
                count: None,
            });
        }
        let exempt = BTreeMap::new();
        let cx = Context {
            now: ms(case["now"].as_str().unwrap()),
            watermark: None,
            exempt: &exempt,
        };
        let (statuses, _) = replay(&watchers, &events, &cx).unwrap();
        let st = statuses
            .iter()
            .find(|s| s.watcher == "job" && s.tenant.is_empty())
            .unwrap();
        let (want_base, want_state) = match differs.get(name) {
            Some(&(b, s)) => {
                matched_differs += 1;
                (b.to_string(), s.to_string())
            }
            None => (
                state_name(case["expected_status"].as_str().unwrap()).to_string(),
                state_name(case["expected_status_v1"].as_str().unwrap()).to_string(),
            ),
        };
        let got = (
            st.base_state.as_str().to_string(),
            st.state.as_str().to_string(),
        );
        if got != (want_base.clone(), want_state.clone()) {
            failures.push(format!(
                "{name}: want base {want_base} / state {want_state}, got {} / {} ({})",
                got.0, got.1, st.why
            ));
        }
        // Every state is explained in one sentence that names it.
        assert!(
            st.why.starts_with(st.state.as_str())
                || st.state == State::Down && st.why.starts_with("down"),
            "{name}: {}",
            st.why
        );
    }
    assert_eq!(
        matched_differs,
        TENET_DIFFERS.len(),
        "every listed difference is a case"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
