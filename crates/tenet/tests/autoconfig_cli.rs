//! `tenet autoconfig plan`: live configuration documents (JSON or YAML)
//! against a baseline, offline — exit 0 when nothing needs a change, 1
//! when a setting needs one (or a person), 2 on a bad file or argument.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{json, Value};
use std::process::{Command, Output};

fn plan(files: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .current_dir(dir.path())
        .args(["autoconfig", "plan"])
        .args(args)
        .output()
        .unwrap()
}

const LIVE: &str = "tls:\n  min_version: \"1.1\"\nmfa:\n  required: true\nsession:\n  idle_timeout: 45m\naudit_log:\n  retention: 400d\nsso:\n  configured: false\napi_keys:\n  active: 0\n";

#[test]
fn a_plan_names_every_delta_and_exits_1_when_one_is_open() {
    let out = plan(
        &[
            ("live.yaml", LIVE),
            ("over.json", r#"{"session": {"idle_timeout": "20m"}}"#),
            ("tenant.yaml", "id: acme\ntier: production\n"),
        ],
        &[
            "--profile",
            "secure-default",
            "--live",
            "over.json",
            "live.yaml",
            "--tenant",
            "tenant.yaml",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("secure-default (enforce): its `applies_to` selects the tenant; 1 of 6 settings need a change or a person\n"),
        "{text}"
    );
    assert!(
        text.contains("tls.min_version       1.1   at_least 1.2  high    tighten → 1.2"),
        "{text}"
    );
    assert!(text.contains("tighten → 1.2"), "{text}");
    let out = plan(
        &[
            ("live.yaml", LIVE),
            ("over.json", r#"{"session": {"idle_timeout": "20m"}}"#),
        ],
        &[
            "--profile",
            "secure-default",
            "--live",
            "over.json",
            "live.yaml",
            "--format",
            "json",
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let idle = v["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["setting"] == "session.idle_timeout")
        .unwrap();
    assert_eq!(
        idle["source"], "over.json",
        "the first document wins: {idle}"
    );
    assert_eq!(idle["action"], "none");
    let tls = v["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["setting"] == "tls.min_version")
        .unwrap();
    for k in [
        "setting",
        "live",
        "required",
        "comparator",
        "satisfied",
        "risk",
        "action",
        "why",
    ] {
        assert!(tls.get(k).is_some(), "{k} in {tls}");
    }
    assert_eq!(tls["risk"], "high");
}

#[test]
fn nothing_to_change_is_exit_0_and_bad_input_exit_2() {
    let good = "tls:\n  min_version: \"1.3\"\nmfa:\n  required: true\nsession:\n  idle_timeout: 10m\naudit_log:\n  retention: 400d\nsso:\n  configured: false\napi_keys:\n  active: 0\n";
    let out = plan(
        &[("live.yaml", good)],
        &["--profile", "secure-default", "--live", "live.yaml"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (files, args, want) in [
        (vec![("live.yaml", good)], vec!["--profile", "nope", "--live", "live.yaml"], "no baseline `nope` in the autoconfig pack (baselines: regulated, sandbox, secure-default)"),
        (vec![("live.json", "{not json")], vec!["--profile", "sandbox", "--live", "live.json"], "live.json"),
        (vec![("live.json", "[1, 2]")], vec!["--profile", "sandbox", "--live", "live.json"], "expected a map of settings"),
        (vec![], vec!["--profile", "sandbox", "--live", "missing.yaml"], "cannot read missing.yaml"),
    ] {
        let out = plan(&files, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn diff_apply_and_remediate_talk_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("center")).unwrap();
    std::fs::write(
        dir.path().join("center/acme.json"),
        r#"{"tls": {"min_version": "1.1"}, "session": {"idle_timeout": "2h"}}"#,
    )
    .unwrap();
    let pack = r#"tenet 1
pack autoconfig version "1.0.0"

const tls = ["1.0", "1.1", "1.2", "1.3"]

baseline secure {
  mode enforce

  setting tls.min_version {
    at_least "1.2"
    order    tls
  }

  setting session.idle_timeout {
    at_most   30m
    remediate auto
  }
}
"#;
    let s = common::serve(
        dir.path(),
        &[("a.tenet", pack)],
        &[("ops", "ops-token", &["autoconfig"], None)],
    );
    let url = format!("http://{}", s.addr);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenet"))
            .arg("autoconfig")
            .args(args)
            .env("TENET_SERVER", &url)
            .env("TENET_TOKEN", "ops-token")
            .output()
            .unwrap()
    };
    // The diff: two settings to tighten, exit 1.
    let out = run(&["diff", "acme", "--profile", "secure"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("secure (enforce): it applies to every tenant; 2 of 2 settings need a change or a person"), "{text}");
    // Remediate fixes the auto one only.
    let out = run(&["remediate", "acme", "--profile", "secure"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["settings"].as_array().unwrap().len(), 2, "{v}");
    // A dry-run apply says what would change, and changes nothing.
    let out = run(&["apply", "acme", "--profile", "secure", "--dry-run"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["dry_run"].clone(), v["written"].clone()),
        (json!(true), json!(false)),
        "{v}"
    );
    // Applied: nothing left in the diff, exit 0.
    let out = run(&["apply", "acme", "--profile", "secure"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["diff", "acme", "--profile", "secure"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("center/acme.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"tls": {"min_version": "1.2"}, "session": {"idle_timeout": "30m"}})
    );
    // An unknown baseline: the server's 404, exit 1; a bad tenant id: exit 2.
    let out = run(&["diff", "acme", "--profile", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no baseline `nope`"));
    let out = run(&["diff", "a/b", "--profile", "secure"]);
    assert_eq!(out.status.code(), Some(2));
}
