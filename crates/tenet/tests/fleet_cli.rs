//! `tenet fleet plan`: the worked example of `docs/control-plane.md`
//! (snapshotted), exit 0 when the plan may run, 1 when a guard or an
//! unmatched cluster refuses it, 2 on a bad file or rollout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .arg("fleet")
        .arg("plan")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn the_worked_example() {
    let f = root()
        .join("fixtures/control-plane/fleet.yaml")
        .display()
        .to_string();
    let out = fleet(&[
        "--clusters",
        &f,
        "--rollout",
        "policy-bundle",
        "--actor",
        "svc-release",
        "--role",
        "release-manager",
        "--at",
        "2026-12-02T10:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/control-plane"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!("fleet-plan", text));

    let out = fleet(&[
        "--clusters",
        &f,
        "--rollout",
        "policy-bundle",
        "--role",
        "developer",
        "--at",
        "2026-12-02T10:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    assert!(
        v["guards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["guard"] == "dev-cannot-target-prod"),
        "{v}"
    );
}

#[test]
fn an_allowed_plan_exits_0_and_bad_input_2() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.json");
    std::fs::write(
        &clean,
        r#"[{"name": "prod-eu-west-1a", "labels": {"env": "prod", "region": "eu-west-1", "sidecar": "tenet"}},
            {"name": "prod-eu-west-1b", "labels": {"env": "prod", "region": "eu-west-1", "sidecar": "tenet"}}]"#,
    )
    .unwrap();
    let c = clean.display().to_string();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--clusters",
            c.as_str(),
            "--rollout",
            "policy-bundle",
            "--role",
            "release-manager",
            "--at",
            "2026-12-02T10:00:00Z",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| fleet(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&[]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("allowed: no guard denies a wave\n"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"name": "x"}"#).unwrap();
    for (a, says) in [
        (
            vec![
                "--clusters".to_string(),
                bad.display().to_string(),
                "--rollout".into(),
                "policy-bundle".into(),
            ],
            "a fleet is a list of clusters",
        ),
        (
            vec![
                "--clusters".to_string(),
                c.clone(),
                "--rollout".into(),
                "nope".into(),
            ],
            "no rollout `nope` in the control_plane pack (rollouts: policy-bundle)",
        ),
        (
            vec![
                "--clusters".to_string(),
                c.clone(),
                "--rollout".into(),
                "policy-bundle".into(),
                "--at".into(),
                "soon".into(),
            ],
            "--at:",
        ),
    ] {
        let out = run(a);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

mod common;

/// One HTTP/1.1 request to the test server; the status.
fn post(addr: std::net::SocketAddr, path: &str, token: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn clusters_and_drift_from_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let pack =
        std::fs::read_to_string(root().join("rules/control-plane/control_plane.tenet")).unwrap();
    let s = common::serve(
        dir.path(),
        &[("cp.tenet", &pack)],
        &[("fleet-bot", "tok", &["fleet"], None)],
    );
    for body in [
        r#"{"id": "prod-1", "env": "prod", "region": "eu-west-1"}"#,
        r#"{"id": "stg-1", "env": "staging", "region": "eu-west-1"}"#,
    ] {
        assert_eq!(post(s.addr, "/v1/clusters", "tok", body), 200);
    }
    assert_eq!(
        post(
            s.addr,
            "/v1/clusters/stg-1/inventory",
            "tok",
            r#"{"services": {"api": "1.0.0"}}"#
        ),
        200
    );
    let url = format!("http://{}", s.addr);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenet"))
            .arg("fleet")
            .args(args)
            .env("TENET_SERVER", &url)
            .env("TENET_TOKEN", "tok")
            .output()
            .unwrap()
    };
    let out = run(&["clusters", "--selector", "env=prod"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(v["clusters"][0]["id"], "prod-1");
    // prod-1 never reported: it drifts, exit 1.
    let out = run(&["drift"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("1 of 2 cluster(s) drift at "), "{text}");
    assert!(
        text.contains("prod-1: no_inventory: prod-1 has reported no inventory"),
        "{text}"
    );
    // A malformed selector: the server's 400, exit 1.
    let out = run(&["clusters", "--selector", "a=b,,c"]);
    assert_eq!(out.status.code(), Some(1));
}
