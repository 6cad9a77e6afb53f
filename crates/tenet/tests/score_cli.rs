//! `tenet score --signals FILE --profile P`: the score offline, exit 0
//! with a score, 1 without one (blocked), 2 on a bad file or argument.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
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
