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
