//! `tenet score --signals FILE --profile P`: the score offline, exit 0
//! with a score, 1 without one (blocked), 2 on a bad file or argument.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{json, Value};
use std::process::{Command, Output};

fn score(file: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    std::fs::write(&path, file).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .args(["score", "--signals"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap()
}

const ACME: &str = r#"{
  "tenant": {"name": "acme", "regulated": true},
  "signals": {
    "iam.mfa_coverage_pct": {"value": 90, "at": "2026-12-03T10:00:00Z", "source": "https://evidence.acme.example/iam/mfa"},
    "vuln.critical_patch_days_p90": 15,
    "logging.audit_retention_days": 365,
    "storage.residency_conformance_pct": 50,
    "incidents_90d": 0
  }
}"#;

#[test]
fn a_score_that_explains_itself() {
    let out = score(
        ACME,
        &["--profile", "regulator", "--at", "2026-12-04T10:00:00Z"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("regulator v2: 76.9 (coverage 100%)\n"),
        "{text}"
    );
    assert!(
        text.contains("carried more than the cap of 35%: 3.1 points cut"),
        "{text}"
    );
    let out = score(
        ACME,
        &[
            "--profile",
            "regulator",
            "--at",
            "2026-12-04T10:00:00Z",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"], "regulator");
    assert_eq!(v["version"], 2);
    assert!((v["score"].as_f64().unwrap() - 50.0 / 0.65).abs() < 1e-9);
    assert_eq!(v["coverage"], 1.0);
    let mfa = &v["factors"][0];
    assert_eq!(mfa["factor"], "mfa_coverage");
    assert_eq!(mfa["link"], "https://evidence.acme.example/iam/mfa");
    assert_eq!(mfa["age_s"], 86400.0);
    assert_eq!(mfa["share"].as_f64().unwrap().round(), 35.0);
}

#[test]
fn no_score_is_exit_1_and_bad_input_exit_2() {
    // No MFA evidence: the regulator profile blocks.
    let out = score(
        r#"{"tenant": {}, "signals": {}}"#,
        &["--profile", "regulator"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("no score (factor `mfa_coverage`: no signal, and its fallback is `block`)"));
    for (file, args, want) in [
        (
            ACME,
            &["--profile", "regulater"][..],
            "no profile `regulater` in the tenant_benchmark pack (profiles: csm, ",
        ),
        (
            r#"{"tenant": {}, "signal": {}}"#,
            &["--profile", "csm"][..],
            "unknown key `signal`",
        ),
        (
            r#"{"signals": {"x": {"value": 1, "at": "noon"}}}"#,
            &["--profile", "csm"][..],
            "signal `x`: `at`: `noon` is not an RFC 3339 time",
        ),
        (
            r#"[1]"#,
            &["--profile", "csm"][..],
            "expected an object with `tenant` and `signals`",
        ),
        (
            ACME,
            &["--profile", "csm", "--at", "soon"][..],
            "--at: `soon` is not an RFC 3339 time",
        ),
    ] {
        let out = score(file, args);
        assert_eq!(out.status.code(), Some(2), "{file} {args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(want), "{err}");
    }
}

/// A starter tenant on the bundled `csm` profile: SSO adoption (weight 2)
/// and stale admins (weight 1, smaller is better, carried forward up to
/// 14 days). `on_track` is entered at 60 after a dwell of 7 days.
const CSM: &str = r#"{
  "tenant": {"name": "hooli", "plan": "starter", "seats": 10},
  "signals": {"iam.sso_adoption_pct": {"value": 70, "at": "2026-11-28T00:00:00Z"}},
  "history": [
    {"at": "2026-11-25T00:00:00Z", "values": {"sso_adoption": 70, "stale_admins": 2}},
    {"at": "2026-11-20T00:00:00Z", "values": {"sso_adoption": 70, "stale_admins": 2}}
  ]
}"#;

#[test]
fn history_is_replayed_so_badges_and_carried_values_come_out_as_the_servers() {
    // SSO 70% → 0.7; 2 stale admins of [0, 20], smaller is better →
    // 18/20 = 0.9: 100 × (2 × 0.7 + 0.9) / 3 = 76.67 from 2026-11-20, at
    // or above 60 for 8 days by 2026-11-28 (dwell 7d): earned. Stale
    // admins is missing now and carried from 2026-11-25 (3 days).
    let out = score(CSM, &["--profile", "csm", "--at", "2026-11-28T00:00:00Z"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("csm v1: 76.7 (coverage 100%), badge on_track\n"),
        "{text}"
    );
    assert!(
        text.contains("on_track earned: score 76.7 has been at or above 60 since 2026-11-20T00:00:00.000Z (dwell 7d)"),
        "{text}"
    );
    assert!(text.contains("stale_admins"), "{text}");
    assert!(
        text.contains("no signal: the value of 3d ago carried forward\n"),
        "{text}"
    );
    // Five days of history only: still entering, no badge.
    let out = score(
        CSM,
        &[
            "--profile",
            "csm",
            "--at",
            "2026-11-24T00:00:00Z",
            "--format",
            "json",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "history after --at is refused: {err}"
    );
    assert!(err.contains("history 1 is after the time scored"), "{err}");
    let one = CSM.replace(
        r#"{"at": "2026-11-25T00:00:00Z", "values": {"sso_adoption": 70, "stale_admins": 2}},"#,
        "",
    );
    let out = score(
        &one,
        &[
            "--profile",
            "csm",
            "--at",
            "2026-11-25T00:00:00Z",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["badge"], Value::Null, "{v}");
    let on_track = v["badges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["badge"] == "on_track")
        .unwrap();
    assert_eq!(on_track["standing"], "entering", "{v}");
    assert_eq!(on_track["since"], "2026-11-20T00:00:00.000Z", "{v}");
    // A history naming a factor the profile does not have: exit 2.
    let bad = CSM.replace(
        "\"stale_admins\": 2}},\n    {",
        "\"stale_admin\": 2}},\n    {",
    );
    let out = score(&bad, &["--profile", "csm", "--at", "2026-11-28T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no factor `stale_admin` in profile `csm`")
    );
}

/// One raw HTTP request, for what the CLI has no command for.
fn post(addr: std::net::SocketAddr, path: &str, token: &str, body: &Value) -> u16 {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out[9..12].parse().unwrap()
}

#[test]
fn score_tenant_asks_the_server_and_sees_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let pack = std::fs::read_to_string(
        common::root().join("rules/tenant-benchmark/tenant_benchmark.tenet"),
    )
    .unwrap();
    let s = common::serve(
        dir.path(),
        &[("tenant_benchmark.tenet", &pack)],
        &[
            ("feeder", "feeder-token", &["benchmark"], None),
            ("hooli-csm", "hooli-token", &["benchmark"], Some("hooli")),
        ],
    );
    let st = post(
        s.addr,
        "/v1/tenants/hooli/signals",
        "feeder-token",
        &json!({"facts": {"name": "hooli", "plan": "starter", "seats": 10}, "signals": [
            {"name": "iam.sso_adoption_pct", "value": 70},
            {"name": "iam.admins_inactive_90d", "value": 2},
        ]}),
    );
    assert_eq!(st, 200);
    let st = post(
        s.addr,
        "/v1/tenants/initech/signals",
        "feeder-token",
        &json!({"signals": [{"name": "iam.sso_adoption_pct", "value": 10}]}),
    );
    assert_eq!(st, 200);
    let url = format!("http://{}", s.addr);
    let run = |token: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenet"))
            .arg("score")
            .args(args)
            .env("TENET_SERVER", &url)
            .env("TENET_TOKEN", token)
            .output()
            .unwrap()
    };
    let out = run("hooli-token", &["hooli", "--profile", "csm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("csm v1: 76.7 (coverage 100%)\n"), "{text}");
    let out = run(
        "hooli-token",
        &["hooli", "--profile", "csm", "--format", "json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tenant"], "hooli");
    assert!(
        (v["score"].as_f64().unwrap() - 230.0 / 3.0).abs() < 1e-9,
        "{v}"
    );
    // Another tenant's score: the 404 of a tenant that does not exist.
    let out = run("hooli-token", &["initech", "--profile", "csm"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404 no tenant `initech`"), "{err}");
    assert!(out.stdout.is_empty());
    // An unknown profile: 404 naming the ones there are.
    let out = run("feeder-token", &["hooli", "--profile", "cfo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no profile `cfo` (profiles: csm, ops, regulator)"));
    // Offline-only flags with a tenant, or neither form: usage errors.
    let out = run(
        "feeder-token",
        &["hooli", "--profile", "csm", "--at", "2026-12-01T00:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run("feeder-token", &["--profile", "csm"]);
    assert_eq!(out.status.code(), Some(2));
    drop(s);
    // No server: exit 2.
    let out = run("feeder-token", &["hooli", "--profile", "csm"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_warns_where_one_factor_can_dominate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.tenet"),
        r#"tenet 1
pack tenant_benchmark version "1.0.0"

profile thin {
  factor a { source "a" weight 1 }
  factor b { source "b" weight 1 }
}

profile lopsided {
  cap_share 100%
  factor big   { source "a" weight 8 }
  factor small { source "b" weight 1 }
  factor tiny  { source "c" weight 1 }
}

profile fair {
  cap_share 40%
  factor big   { source "a" weight 8 }
  factor small { source "b" weight 1 }
  factor tiny  { source "c" weight 1 }
}
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenet"))
        .arg("check")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "warnings do not fail the check");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "warning: profile `thin`: its cap_share of 40% cannot hold with 2 weighted factor(s)"
        ),
        "{err}"
    );
    assert!(err.contains("warning: profile `lopsided`: factor `big` holds 80% of the weight and `cap_share` 100% does not cut it"), "{err}");
    assert!(!err.contains("`fair`"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    // The bundled profiles are guarded.
    let out = Command::new(env!("CARGO_BIN_EXE_tenet"))
        .args(["check"])
        .arg(common::root().join("rules"))
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
