//! Hot reload by the rules watcher: a saved file goes live, a broken one
//! keeps the last good bundle serving, every reload is audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};
use tenet_server::RulesSource;

/// Polls `f` until it holds (at most 10 s).
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_rule_file_goes_live_and_a_broken_one_degrades() {
    let rules = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("rules/safety-workflows"), rules.path());
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules.path().to_path_buf()));
    c.watch = true;
    let s = Server::with_config(dir, c).await;
    assert_eq!(s.get("/v1/health").await["watcher"], "watching");
    let first = s.get("/v1/bundle").await["fingerprint"]["hash"].clone();

    // Save a new pack: it is served without any request to reload.
    std::fs::write(
        rules.path().join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.0\"\n\nrule always {\n  when input.x == 1\n}\n",
    )
    .unwrap();
    let saved = Instant::now();
    eventually("the new pack", async || {
        s.get("/v1/bundle").await["packs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "extra")
    })
    .await;
    // Debounce (150 ms) and a compile: well under the promised second on
    // an idle machine; the bound here is loose for busy CI hosts.
    assert!(saved.elapsed() < Duration::from_secs(5));
    let (status, _, d) = s
        .json(
            "POST",
            "/v1/evaluate",
            &serde_json::json!({"pack": "extra", "input": {"x": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["matched"][0]["block"], "always");
    let second = d["bundle"].clone();
    assert_ne!(second, first);

    // Break it: the last good bundle keeps answering, health degrades,
    // and the diagnostics name the file, line and column.
    std::fs::write(
        rules.path().join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.1\"\n\nrule always {\n  when input.x ==\n}\n",
    )
    .unwrap();
    eventually("degraded health", async || {
        s.get("/v1/health").await["status"] == "degraded"
    })
    .await;
    let b = s.get("/v1/bundle").await;
    assert_eq!(b["fingerprint"]["hash"], second);
    assert_eq!(b["last_reload_error"]["trigger"], "watch");
    let diags = b["last_reload_error"]["diagnostics"].to_string();
    assert!(diags.contains("extra.tenet:6:1"), "{diags}");
    let (status, _, d) = s
        .json(
            "POST",
            "/v1/evaluate",
            &serde_json::json!({"pack": "extra", "input": {"x": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["bundle"], second);

    // Fix it: ok again, on a third bundle.
    std::fs::write(
        rules.path().join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.2\"\n\nrule always {\n  when input.x == 2\n}\n",
    )
    .unwrap();
    eventually("ok health", async || {
        s.get("/v1/health").await["status"] == "ok"
    })
    .await;
    let third = s.get("/v1/bundle").await["fingerprint"]["hash"].clone();
    assert_ne!(third, second);

    // Every reload is an audit event: at least the good, the bad and the
    // good again, in order, each with the bundle serving after it. Health
    // turns `ok` as the bundle swaps; its audit event is committed just
    // after, so wait for it rather than race it.
    eventually("the fix audited", async || {
        let events = s.get("/v1/audit?limit=100").await["events"].clone();
        events.as_array().and_then(|e| {
            e.iter()
                .find(|e| e["source"] == "server:reload")
                .map(|newest| newest["outcome"] == "reloaded" && newest["bundle"] == third)
        }) == Some(true)
    })
    .await;
    let events: Value = s.get("/v1/audit?limit=100").await["events"].clone();
    let reloads: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "server:reload")
        .collect();
    let outcomes: Vec<&str> = reloads
        .iter()
        .rev()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    let failed = outcomes.iter().position(|o| *o == "failed").unwrap();
    assert!(outcomes[..failed].contains(&"reloaded"), "{outcomes:?}");
    assert_eq!(outcomes.last(), Some(&"reloaded"), "{outcomes:?}");
    let bad = reloads.iter().find(|e| e["outcome"] == "failed").unwrap();
    assert_eq!(bad["actor"], "trigger:watch");
    assert_eq!(bad["bundle"], second, "the bundle that kept serving");
    assert!(bad["details"]["diagnostics"]
        .to_string()
        .contains("extra.tenet"));
    assert_eq!(reloads[0]["bundle"], third);

    // Reading the rules (as every reload does, or an editor opening a
    // file) is not a change: no reload follows it.
    let count = async || {
        s.get("/v1/audit?limit=1000").await["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["source"] == "server:reload")
            .count()
    };
    // (A folder appearing may hold rules: it counts, once.)
    std::fs::create_dir_all(rules.path().join(".tenet")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let settled = count().await;
    for e in std::fs::read_dir(rules.path()).unwrap() {
        let _ = std::fs::read(e.unwrap().path());
    }
    // Nor is a file the rules do not consist of (notes, a store kept in
    // the rules folder): only `.tenet` and `.rhai` files are read.
    std::fs::write(rules.path().join("NOTES.md"), "# why these rules\n").unwrap();
    std::fs::write(rules.path().join(".tenet/tenet.db-wal"), b"\0\0").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        count().await,
        settled,
        "a read or another file set off a reload"
    );
    s.stop().await;
}
