//! `tenet monitor replay`: the state of every watcher from a recorded
//! heartbeat log, with no server — exit 0 when none is down, 1 when one
//! is, 2 on a bad log or bad arguments, with the line at fault.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::process::{Command, Output};

fn tenet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
}

fn replay(log: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("beats.jsonl");
    std::fs::write(&path, log).unwrap();
    tenet()
        .args(["monitor", "replay", "--events"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap()
}

const LOG: &str = r#"# the flag sidecar beats every 5 minutes, then stops
{"watcher": "feature-flag-evals", "source": "flag-sidecar", "at": "2026-12-04T10:00:00Z", "kind": "success", "seq": 1, "count": 120}
{"watcher": "feature-flag-evals", "source": "flag-sidecar", "at": "2026-12-04T10:05:00Z", "kind": "success", "seq": 2, "count": 120}
{"watcher": "feature-flag-evals", "source": "flag-sidecar", "at": "2026-12-04T10:05:00Z", "kind": "success", "seq": 2, "count": 120}
{"watcher": "llm-eval", "source": "eval-runner", "at": "2026-12-04T02:00:00Z", "kind": "start", "run_id": "r-1"}
{"watcher": "llm-eval", "source": "eval-runner", "at": "2026-12-04T02:40:00Z", "kind": "success", "run_id": "r-1"}
"#;

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn watcher<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["watcher"] == name)
        .unwrap()
}

#[test]
fn replay_answers_the_state_of_every_watcher_at_a_time() {
    let out = replay(LOG, &["--at", "2026-12-04T10:08:00Z", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["at"], "2026-12-04T10:08:00.000Z");
    assert_eq!(v["events"]["applied"], 4);
    assert_eq!(v["events"]["duplicates"], 1);
    let flags = watcher(&v, "feature-flag-evals");
    assert_eq!(flags["state"], "up");
    assert_eq!(flags["expected_by"], "2026-12-04T10:10:00.000Z");
    assert_eq!(
        flags["last_seen"]["flag-sidecar"],
        "2026-12-04T10:05:00.000Z"
    );
    let llm = watcher(&v, "llm-eval");
    assert_eq!(llm["state"], "up");
    // Next 03:00 Amsterdam after the success: 2026-12-05T02:00Z.
    assert_eq!(llm["expected_by"], "2026-12-05T02:00:00.000Z");
    assert_eq!(watcher(&v, "event-bus")["state"], "new");
}

#[test]
fn replay_exits_1_when_a_watcher_is_down_and_says_why() {
    let out = replay(LOG, &["--at", "2026-12-04T10:30:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("feature-flag-evals"))
        .unwrap();
    assert!(
        line.contains("down since 2026-12-04T10:12:00.000Z: last heartbeat 2026-12-04T10:05:00.000Z; one was expected by 2026-12-04T10:10:00.000Z (every 5m, grace 2m)"),
        "{line}"
    );
    assert!(
        text.contains("4 events applied; duplicates 1, late 0, ignored 0, after --at 0"),
        "{text}"
    );
}

#[test]
fn a_bad_line_is_an_error_that_names_it_and_nothing_is_answered() {
    for (log, want) in [
        (
            "{\"watcher\": \"event-bus\", \"source\": \"broker-lag-exporter\", \"at\": \"2026-12-04T10:00:00Z\"}\n{\"watcher\": \"event-bus\", \"source\": \"x\", \"at\": \"yesterday\"}\n",
            "line 2: `at`: `yesterday` is not an RFC 3339 time",
        ),
        (
            "{\"watcher\": \"event-bus\", \"source\": \"s\", \"at\": \"2026-12-04T10:00:00Z\", \"kind\": \"beat\"}\n",
            "line 1: `kind` `beat` is not one of success, start, fail, log, pause, resume",
        ),
        (
            "{\"watcher\": \"event-bus\", \"source\": \"s\", \"at\": \"2026-12-04T10:00:00Z\", \"exit_status\": 256}\n",
            "line 1: `exit_status` 256 is not 0-255",
        ),
        (
            "{\"watcher\": \"event-bus\", \"source\": \"s\", \"at\": \"2026-12-04T10:00:00Z\", \"colour\": 1}\n",
            "line 1: unknown field `colour`",
        ),
        (
            "{\"watcher\": \"evnt-bus\", \"source\": \"s\", \"at\": \"2026-12-04T10:00:00Z\"}\n",
            "event 1 of the log: no watcher `evnt-bus` in the meta_monitor pack",
        ),
        (
            "{\"watcher\": \"event-bus\", \"source\": \"rogue\", \"at\": \"2026-12-04T10:00:00Z\"}\n",
            "`rogue` is not one of them",
        ),
    ] {
        let out = replay(log, &["--at", "2026-12-04T11:00:00Z"]);
        assert_eq!(out.status.code(), Some(2), "{log}");
        assert!(out.stdout.is_empty(), "{log}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(want), "{log}: {err}");
    }
    let out = replay(LOG, &["--at", "noon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at: `noon` is not an RFC 3339 time"));
}

#[test]
fn tenants_facts_exempt_quiet_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let facts = dir.path().join("tenants.json");
    std::fs::write(
        &facts,
        r#"{"demo-7": {"tenant": {"tier": "sandbox"}, "stats": {"events_24h": 3, "webhooks_configured": 0}}}"#,
    )
    .unwrap();
    let log = "{\"watcher\": \"feature-flag-evals\", \"tenant\": \"demo-7\", \"source\": \"flag-sidecar\", \"at\": \"2026-12-04T10:00:00Z\"}\n";
    let out = replay(
        log,
        &[
            "--at",
            "2026-12-04T12:00:00Z",
            "--format",
            "json",
            "--tenants",
            facts.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let demo = v["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["watcher"] == "feature-flag-evals" && w["tenant"] == "demo-7")
        .unwrap();
    assert_eq!(demo["state"], "exempt");
}

const PACK: &str = r#"tenet 1
pack meta_monitor version "1.0.0"

watcher backup {
  cadence        1d
  grace          1h
  silence_budget 0s
  sources        ["db-1"]
}
"#;

fn monitor(server: &str, args: &[&str]) -> Output {
    tenet()
        .arg("monitor")
        .args(args)
        .env("TENET_SERVER", server)
        .env("TENET_TOKEN", "cron-token")
        .output()
        .unwrap()
}

#[test]
fn beat_status_and_incidents_talk_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::serve(
        dir.path(),
        &[("monitor.tenet", PACK)],
        &[("cron", "cron-token", &["monitor"], None)],
    );
    let url = format!("http://{}", s.addr);
    let out = monitor(&url, &["status"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("backup") && text.contains("new"), "{text}");
    let out = monitor(&url, &["beat", "backup", "--source", "db-1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["applied"], 1);
    let out = monitor(&url, &["status", "backup", "--format", "json"]);
    assert_eq!(json(&out)["state"], "up");
    // A failure: down, and `status` exits 1.
    let out = monitor(
        &url,
        &["beat", "backup", "--source", "db-1", "--exit-status", "2"],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = monitor(&url, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("a failure was reported"));
    // Refusals are exit 1 with the server's reason; no server is exit 2.
    let out = monitor(&url, &["beat", "backup", "--source", "db-2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: 404 event 0: watcher `backup` declares its sources (db-1), and `db-2` is not one of them"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = monitor(&url, &["incidents"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("no meta-incidents"));
    let out = monitor("http://127.0.0.1:9", &["status"]);
    assert_eq!(out.status.code(), Some(2));
}
