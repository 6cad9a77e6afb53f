//! `tenet inventory`: `correlate` offline on the worked example of
//! `docs/dark-inventory.md` (snapshotted, text and JSON; exit 1 when a
//! finding is open, 0 when none is, 2 on a bad file), `convert`, and the
//! API client commands against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    root()
        .join("fixtures/dark-inventory/example")
        .join(name)
        .display()
        .to_string()
}

fn tenet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn snapshot(name: &str, text: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/dark-inventory"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

fn correlate(at: &str, extra: &[&str]) -> Output {
    let (c, a, t, k) = (
        example("catalog.yaml"),
        example("aws-config-1.json"),
        example("cloudtrail-1.json"),
        example("k8s-1.json"),
    );
    let mut args = vec![
        "inventory",
        "correlate",
        "--catalog",
        &c,
        "--discoveries",
        &a,
        &t,
        &k,
        "--at",
        at,
    ];
    args.extend_from_slice(extra);
    tenet(&args)
}

#[test]
fn correlate_the_worked_example() {
    let out = correlate("2026-12-04T12:00:00Z", &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    snapshot("example-correlate", &String::from_utf8(out.stdout).unwrap());

    let out = correlate("2026-12-04T12:00:00Z", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 4);
    let exports = f
        .iter()
        .find(|x| x["key"] == "arn:aws:s3:::acme-exports")
        .unwrap();
    // One finding, two sources, each with its first and last sighting.
    assert_eq!(
        exports["sources"]["aws-config"]["first_seen"],
        "2026-12-01T06:00:00.000Z"
    );
    assert_eq!(
        exports["sources"]["cloudtrail"]["last_seen"],
        "2026-12-01T07:00:00.000Z"
    );
    assert_eq!(exports["first_seen"], "2026-12-01T06:00:00.000Z");
    assert_eq!(exports["sla_due"], "2026-12-08T06:00:00.000Z");
    assert_eq!(exports["age"], "3d 6h");
    assert_eq!(exports["status"], "open");
    assert_eq!(exports["lineage"][0], "CreateBucket by alice (terraform)");
    snapshot(
        "example-correlate-json",
        &serde_json::to_string_pretty(&v).unwrap(),
    );

    // Before the public bucket's 24h ran out, and before anything: fewer.
    let early = correlate("2026-12-01T06:30:00Z", &["--format", "json"]);
    let v: Value = serde_json::from_slice(&early.stdout).unwrap();
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        3,
        "the ingress was seen at 07:00"
    );
    assert_eq!(v["findings"][0]["sla"]["state"], "running");
}

#[test]
fn correlate_exits_0_when_nothing_is_open_and_2_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("catalog.json"), r#"[{"catalog": "data-stores", "id": "x", "keys": ["arn:aws:s3:::acme-x"], "owner": "o", "classification": "c"}]"#).unwrap();
    std::fs::write(
        d.join("run.json"),
        r#"{"source": "aws-config", "run": "r1", "at": "2026-12-01T00:00:00Z", "resources": [{"type": "aws:s3:bucket", "attributes": {"arn": "arn:aws:s3:::acme-x", "name": "acme-x"}}]}"#,
    )
    .unwrap();
    let p = |n: &str| d.join(n).display().to_string();
    let out = tenet(&[
        "inventory",
        "correlate",
        "--catalog",
        &p("catalog.json"),
        "--discoveries",
        &p("run.json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 finding(s)"));

    for (file, text, says) in [
        (
            "bad-source.json",
            r#"{"source": "nessus", "run": "r1", "resources": []}"#,
            "source `nessus` is not declared in the pack",
        ),
        (
            "no-key.json",
            r#"{"source": "aws-config", "run": "r1", "resources": [{"type": "aws:s3:bucket", "attributes": {}}]}"#,
            "resources[0] (aws:s3:bucket without a key)",
        ),
        ("not-json.json", "{", "EOF while parsing"),
        (
            "extra.json",
            r#"{"source": "aws-config", "run": "r1", "colour": 1, "resources": []}"#,
            "unknown field `colour`",
        ),
        (
            "no-run.json",
            r#"{"source": "aws-config", "resources": []}"#,
            "a batch needs `source` and `run`",
        ),
    ] {
        std::fs::write(d.join(file), text).unwrap();
        let out = tenet(&[
            "inventory",
            "correlate",
            "--catalog",
            &p("catalog.json"),
            "--discoveries",
            &p(file),
        ]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{file}: {err}");
        assert!(out.stdout.is_empty(), "{file}: nothing half-printed");
    }
    std::fs::write(d.join("cat2.json"), r#"{"entries": [], "colour": 1}"#).unwrap();
    let out = tenet(&[
        "inventory",
        "correlate",
        "--catalog",
        &p("cat2.json"),
        "--discoveries",
        &p("run.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `colour`"));
}

#[test]
fn convert_then_correlate_a_kubectl_export() {
    let doc = root()
        .join("fixtures/dark-inventory/formats/kubectl.json")
        .display()
        .to_string();
    let out = tenet(&[
        "inventory",
        "convert",
        &doc,
        "--from",
        "kubectl",
        "--source",
        "k8s-ingress",
        "--cluster",
        "prod-eu-1",
        "--at",
        "2026-12-01T00:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let batch: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(batch["resources"].as_array().unwrap().len(), 4);
    assert!(
        batch["run"].as_str().unwrap().starts_with("sha256:"),
        "the same export is the same run"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.json"), &out.stdout).unwrap();
    std::fs::write(dir.path().join("c.json"), "[]").unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let out = tenet(&[
        "inventory",
        "correlate",
        "--catalog",
        &p("c.json"),
        "--discoveries",
        &p("b.json"),
        "--at",
        "2026-12-02T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("run sha256:"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = tenet(&[
        "inventory",
        "convert",
        &doc,
        "--from",
        "aws-config",
        "--source",
        "aws-config",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("an AWS Config resource list has `Results`")
    );
}

#[test]
fn the_api_client_commands() {
    let dir = tempfile::tempdir().unwrap();
    let pack =
        std::fs::read_to_string(root().join("rules/dark-inventory/dark_inventory.tenet")).unwrap();
    let s = common::serve(
        dir.path(),
        &[("d.tenet", &pack)],
        &[("collector", "tok", &["inventory"], Some("acme"))],
    );
    let url = format!("http://{}", s.addr);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenet"))
            .arg("inventory")
            .args(args)
            .env("TENET_SERVER", &url)
            .env("TENET_TOKEN", "tok")
            .output()
            .unwrap()
    };
    let now = tenet_runtime::clock::system_now();
    let at = tenet_runtime::clock::Timestamp::from_millis(now.millis() - 3_600_000).rfc3339();
    let doc = root()
        .join("fixtures/dark-inventory/formats/aws-config-select.json")
        .display()
        .to_string();
    let out = run(&[
        "ingest",
        &doc,
        "--from",
        "aws-config",
        "--source",
        "aws-config",
        "--at",
        &at,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["new"].as_array().unwrap().len(), 2, "{v}");

    let out = run(&["findings", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "open findings");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);

    let out = run(&["ack", &ids[0], "--note", "mine"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let until = tenet_runtime::clock::Timestamp::from_millis(now.millis() + 86_400_000).rfc3339();
    let out = run(&[
        "waive",
        &ids[1],
        "--owner",
        "data",
        "--justification",
        "migrating",
        "--until",
        &until,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing open now: exit 0, both listed.
    let out = run(&["findings"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("2 finding(s) at "), "{text}");
    assert!(
        text.contains("acknowledged") && text.contains("waived until"),
        "{text}"
    );
    // A waiver past the pack's 90 days: the server's 422, exit 1 (refused).
    let far =
        tenet_runtime::clock::Timestamp::from_millis(now.millis() + 200 * 86_400_000).rfc3339();
    let out = run(&[
        "waive",
        &ids[1],
        "--owner",
        "o",
        "--justification",
        "j",
        "--until",
        &far,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("later than the pack allows"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
