//! `tenet safety ...` against a real `tenet serve` process: the flow from
//! preflight to one execution in the CLI, refusals as exit 1 with the
//! code on stderr, connection and usage errors as exit 2, and
//! `preflight --offline` without a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn tenet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
}

const PACK: &str = r#"tenet 1
pack safety version "1.0.0"

action drop-table {
  match             action.verb == "drop"
  risk              high
  require           [dual_control, justification]
  approvers         ["dba"]
  justification_min 20
}

action purge {
  match   action.verb == "purge"
  risk    high
  score   1 / action.rows
}
"#;

fn start(dir: &Path) -> Server {
    common::serve(
        dir,
        &[("safety.tenet", PACK)],
        &[
            (
                "alice",
                "alice-token",
                &["safety", "engineer"],
                Some("acme"),
            ),
            ("dana", "dana-token", &["safety", "dba"], Some("acme")),
        ],
    )
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

fn safety(server: &str, token: &str, args: &[&str]) -> Out {
    let o = tenet()
        .arg("safety")
        .args(args)
        .env("TENET_SERVER", server)
        .env("TENET_TOKEN", token)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn the_cli_runs_the_flow_and_says_what_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let url = format!("http://{}", s.addr);
    let req = dir.path().join("drop.json");
    std::fs::write(
        &req,
        r#"{"action": {"verb": "drop", "table": "orders", "tenant": "acme"}, "context": {}}"#,
    )
    .unwrap();
    let req = req.to_str().unwrap();

    let o = safety(&url, "alice-token", &["preflight", req]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let a = o.json();
    assert_eq!(a["state"], "pending", "{a}");
    let id = a["action_id"].as_str().unwrap().to_string();
    let nonce = a["nonce"].as_str().unwrap().to_string();

    let o = safety(&url, "alice-token", &["review", &id, "--approve"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("403") && o.stderr.contains("(self_review)"),
        "{}",
        o.stderr
    );
    let o = safety(
        &url,
        "dana-token",
        &["review", &id, "--approve", "--comment", "checked"],
    );
    assert_eq!(
        (o.code, o.json()["outcome"].as_str()),
        (0, Some("approved")),
        "{}",
        o.stderr
    );
    let o = safety(
        &url,
        "alice-token",
        &["execute", &id, "--file", req, "--nonce", &nonce],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("(missing_confirmation)"), "{}", o.stderr);
    let o = safety(
        &url,
        "alice-token",
        &[
            "confirm",
            &id,
            "--justification",
            "orders moved to the new cluster",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = safety(
        &url,
        "alice-token",
        &["execute", &id, "--file", req, "--nonce", &nonce],
    );
    assert_eq!(
        (o.code, o.json()["outcome"].as_str()),
        (0, Some("executed")),
        "{}",
        o.stderr
    );
    assert_eq!(o.json()["grant"]["action_id"], id.as_str());
    let o = safety(
        &url,
        "alice-token",
        &["execute", &id, "--file", req, "--nonce", &nonce],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("409") && o.stderr.contains("(replay)"),
        "{}",
        o.stderr
    );

    let o = safety(&url, "alice-token", &["show", &id]);
    assert_eq!((o.code, o.json()["state"].as_str()), (0, Some("executed")));
    let o = safety(&url, "dana-token", &["list", "--state", "executed"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json()["actions"][0]["action_id"], id.as_str());
    let o = safety(
        &url,
        "alice-token",
        &["show", "act-00000000000000000000000000000000"],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("404") && o.stderr.contains("(not_found)"),
        "{}",
        o.stderr
    );
    // No token: the access gate's 401 is an error (exit 2), not an answer.
    let o = safety(&url, "", &["show", &id]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn connection_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("r.json");
    std::fs::write(&req, r#"{"action": {"verb": "drop"}}"#).unwrap();
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = safety(
        &format!("http://127.0.0.1:{port}"),
        "t",
        &["preflight", req.to_str().unwrap()],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with("error: ") && o.stderr.contains(&port.to_string()),
        "{}",
        o.stderr
    );
    let o = safety("ftp://example.invalid", "t", &["show", "act-1"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("not an http:// or https:// URL"),
        "{}",
        o.stderr
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"verb": "drop"}"#).unwrap();
    let o = safety(
        "http://127.0.0.1:1",
        "t",
        &["preflight", bad.to_str().unwrap()],
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("has no `action` object"), "{}", o.stderr);
    let o = safety("http://127.0.0.1:1", "t", &["review", "act-1"]);
    assert_eq!(o.code, 2, "neither --approve nor --deny: {}", o.stderr);
}

#[test]
fn offline_preflight_decides_with_the_local_packs() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("safety.tenet"), PACK).unwrap();
    let req = dir.path().join("r.json");
    std::fs::write(&req, r#"{"action": {"verb": "drop", "table": "t"}}"#).unwrap();
    let run = |file: &Path, extra: &[&str]| {
        let o = tenet()
            .args(["safety", "preflight", "--offline", "--rules"])
            .arg(&rules)
            .arg(file)
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(
        &req,
        &[
            "--as",
            "alice",
            "--role",
            "engineer",
            "--tenant",
            "acme",
            "--now",
            "2026-12-04T10:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (a["outcome"].as_str(), a["simulate"].as_bool()),
        (Some("required"), Some(true)),
        "{a}"
    );
    assert!(
        a.get("nonce").is_none(),
        "offline keeps nothing and shows no nonce: {a}"
    );
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .starts_with("alice (tenant acme) asks to drop"),
        "{a}"
    );
    // A scorer error (division by zero) fails closed: blocked, exit 1.
    std::fs::write(&req, r#"{"action": {"verb": "purge", "rows": 0}}"#).unwrap();
    let (code, out, _) = run(&req, &[]);
    assert_eq!(code, 1, "{out}");
    let a: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["outcome"], "blocked");
    // Bundled rules without --rules.
    std::fs::write(
        &req,
        r#"{"action": {"verb": "delete", "rows": 20000, "tenant": "acme"}}"#,
    )
    .unwrap();
    let o = tenet()
        .args(["safety", "preflight", "--offline"])
        .arg(&req)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let a: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(a["matched"][0]["block"], "mass-delete");
}
