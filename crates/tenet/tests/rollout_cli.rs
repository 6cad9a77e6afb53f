//! `tenet fleet bundle|apply|status|resume` against `tenet serve` and
//! synthetic clusters on loopback, and a rollout that survives SIGKILL:
//! the server killed mid-rollout and started again on the same store goes
//! on from its per-cluster cursor without pushing twice to a cluster that
//! already had the bundle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../server/tests/common/synthetic.rs"]
mod synthetic;

use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use synthetic::{Fleet, Mode, Sim, NEW, OLD};

fn pack() -> String {
    let root = common::root();
    let mut p =
        std::fs::read_to_string(root.join("rules/control-plane/control_plane.tenet")).unwrap();
    p.push_str(&std::fs::read_to_string(root.join("fixtures/control-plane/drill.tenet")).unwrap());
    p
}

const EXTRA: &str = "sweeps:\n  interval: 100ms\ncontrol_plane:\n  timeout: 2s\n";

fn start(dir: &std::path::Path) -> common::Server {
    common::serve_with(
        dir,
        &[("cp.tenet", &pack())],
        &[("release-bot", "tok", &["fleet"], None)],
        EXTRA,
    )
}

fn tenet(s: &common::Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .arg("fleet")
        .args(args)
        .env("TENET_SERVER", format!("http://{}", s.addr))
        .env("TENET_TOKEN", "tok")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// One HTTP/1.1 request; the status.
fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The drill fleet: `canary` and `f1`..`f8`, each running OLD, pushes
/// answered after `delay`.
fn register(s: &common::Server, f: &Fleet, delay: Duration) {
    let mut ids = vec![("canary".to_string(), "canary")];
    ids.extend((1..=8).map(|i| (format!("f{i}"), "fleet")));
    for (id, ring) in ids {
        let admin = f.add(
            &id,
            Sim {
                mode: Mode::Slow(delay),
                ..Sim::default()
            },
        );
        let body = format!(
            r#"{{"id": "{id}", "env": "staging", "labels": {{"drill": "true", "ring": "{ring}"}}, "endpoints": {{"admin": "{admin}"}}}}"#
        );
        assert_eq!(post(s.addr, "/v1/clusters", &body), 200);
        let inv = format!(r#"{{"bundle_fingerprint": "{OLD}"}}"#);
        assert_eq!(
            post(s.addr, &format!("/v1/clusters/{id}/inventory"), &inv),
            200
        );
    }
}

fn status(s: &common::Server, id: &str) -> Value {
    let o = tenet(s, &["status", id, "--format", "json"]);
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn apply_status_and_resume_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let f = Fleet::start_blocking();
    register(&s, &f, Duration::ZERO);
    let out = ok(&tenet(
        &s,
        &[
            "bundle",
            "--name",
            "drill-bundle",
            "--version",
            "2.0.0",
            "--fingerprint",
            NEW,
        ],
    ));
    assert_eq!(out, format!("registered drill-bundle@2.0.0 ({NEW})\n"));
    // A dependency that is not registered: the server's 422, exit 1.
    let o = tenet(
        &s,
        &[
            "bundle",
            "--name",
            "x",
            "--version",
            "1",
            "--fingerprint",
            NEW,
            "--depends",
            "base@1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("dependency base@1 is not registered"));
    // A dry run prints the plan and calls nobody.
    let out = ok(&tenet(
        &s,
        &["apply", "--bundle", "drill-bundle", "--dry-run"],
    ));
    assert!(
        out.starts_with("dry run: nothing kept, no cluster called\n"),
        "{out}"
    );
    assert!(out.contains("canary"), "{out}");
    assert_eq!(f.push_calls(), 0);
    // Applied and followed to the end.
    let out = ok(&tenet(
        &s,
        &["apply", "--bundle", "drill-bundle@2.0.0", "--wait"],
    ));
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("action ")
            && first.ends_with(": succeeded (drill-bundle@2.0.0 by rollout `drill`)"),
        "{out}"
    );
    assert!(out.contains("  clusters: 9 succeeded\n"), "{out}");
    assert!(
        out.contains("  stage fleet: 8 cluster(s), 2 per wave, done\n"),
        "{out}"
    );
    let id = first
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':');
    // Nothing to resume: the server's 409, exit 1.
    let o = tenet(&s, &["resume", id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("409"), "{o:?}");
    // The list.
    let out = ok(&tenet(&s, &["status"]));
    assert!(
        out.starts_with(&format!("{id} succeeded drill-bundle@2.0.0 ")),
        "{out}"
    );
}

#[test]
fn a_rollout_resumes_after_sigkill_without_pushing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(dir.path());
    let f = Fleet::start_blocking();
    register(&s, &f, Duration::from_millis(300));
    ok(&tenet(
        &s,
        &[
            "bundle",
            "--name",
            "drill-bundle",
            "--version",
            "2.0.0",
            "--fingerprint",
            NEW,
        ],
    ));
    let out = ok(&tenet(&s, &["apply", "--bundle", "drill-bundle@2.0.0"]));
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    // Kill it once some of the fleet stage holds the bundle, not all.
    let t = Instant::now();
    let before = loop {
        let v = status(&s, &id);
        let pushed = v["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["stage"] == "fleet" && (c["state"] == "baking" || c["state"] == "succeeded")
            })
            .count();
        if pushed >= 2 {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no progress: {v:#}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(before["state"], "running");
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    let calls_at_kill: Vec<(String, u32)> = std::iter::once("canary".to_string())
        .chain((1..=8).map(|i| format!("f{i}")))
        .map(|c| (c.clone(), f.get(&c).push_calls))
        .collect();
    assert!(
        calls_at_kill.iter().any(|(_, n)| *n == 0),
        "killed before the end: {calls_at_kill:?}"
    );
    // Started again on the same store: it goes on.
    let s2 = start(dir.path());
    let t = Instant::now();
    let after = loop {
        let v = status(&s2, &id);
        if v["state"] == "succeeded" {
            break v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "never finished: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(after["counts"]["succeeded"], 9, "{after:#}");
    for c in before["clusters"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let sim = f.get(id);
        assert_eq!(sim.fingerprint.as_deref(), Some(NEW), "{id}");
        assert_eq!(sim.applied.len(), 1, "{id} applied the bundle once");
        if c["state"] == "baking" || c["state"] == "succeeded" {
            assert_eq!(
                sim.push_calls, 1,
                "{id} had the bundle before the kill: not pushed again"
            );
        }
    }
}
