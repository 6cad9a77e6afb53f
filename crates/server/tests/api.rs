//! The server's HTTP API, against the real server on 127.0.0.1:0 (see
//! `common`). Snapshots live in `snapshots/server/`.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use tenet_server::RulesSource;
use tenet_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_errors_health_and_audit() {
    let server = Server::start(RulesSource::Bundled).await;

    // health
    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "ok");

    // a decision with a match and the bundle hash
    let (status, ctype, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200, "{d}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(d["schema"], "tenet.decision/v1");
    assert_eq!(d["pack"], "safety");
    assert_eq!(d["matched"][0]["block"], "mass-delete");
    let hash = d["bundle"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    let b = server.get("/v1/bundle").await;
    assert_eq!(b["fingerprint"]["hash"], hash);
    // The fingerprint as a bundle file of the same rules carries it.
    let built = tenet_runtime::bundle::build(&tenet_runtime::load::load_bundled().unwrap(), "t");
    assert_eq!(b["fingerprint"]["algo"], "sha256");
    assert_eq!(b["fingerprint"]["hash"], built.fingerprint.hash.as_str());
    assert_eq!(
        b["fingerprint"]["inputs"],
        serde_json::to_value(&built.fingerprint.inputs).unwrap()
    );
    assert_eq!(b["fingerprint"]["created_at"], b["loaded_at"]);
    assert!(b["packs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "safety" && p["version"] == "1.3.0"));
    assert!(b["last_reload_error"].is_null());

    // a second 200 with no match
    let (status, _, d2) = server
        .json(
            "POST",
            "/v1/evaluate",
            &json!({"pack": "safety", "input": {"action": {"verb": "read"}}}),
        )
        .await;
    assert_eq!(status, 200, "{d2}");
    assert!(d2["matched"].as_array().unwrap().is_empty());

    // unknown pack: 404
    let (status, ctype, p) = server
        .json(
            "POST",
            "/v1/evaluate",
            &json!({"pack": "nope", "input": {}}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(p["status"], 404);
    assert!(p["detail"].as_str().unwrap().contains("safety"));

    // malformed JSON: 400
    let (status, ctype, body) = server
        .request("POST", "/v1/evaluate", b"{\"pack\": \"safety\", ")
        .await;
    assert_eq!(status, 400);
    assert_eq!(ctype, "application/problem+json");
    let p: Value = serde_json::from_slice(&body).unwrap();
    snapshot_settings().bind(|| insta::assert_json_snapshot!("malformed_json", p));

    // wrong types: 422
    for bad in [
        json!({"pack": 3, "input": {}}),
        json!({"pack": "safety", "input": [1, 2]}),
        json!({"pack": "safety"}),
        json!([1]),
    ] {
        let (status, ctype, p) = server.json("POST", "/v1/evaluate", &bad).await;
        assert_eq!(status, 422, "{bad} → {p}");
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(p["status"], 422);
    }

    // oversized body: 413
    let big = format!(
        "{{\"pack\": \"safety\", \"input\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, ctype, body) = server.request("POST", "/v1/evaluate", big.as_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(ctype, "application/problem+json");
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["status"], 413);

    // unknown route: 404 problem
    let (status, ctype, _) = server.request("GET", "/v2/nothing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(ctype, "application/problem+json");

    let store = server.store.clone();
    let _keep = server.stop().await;

    // one audit event per 200 evaluation, and none for the errors
    let events = Store::connect(&store)
        .unwrap()
        .audit_events(None, 100)
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(e.subject, "safety");
        assert_eq!(e.actor, "anonymous");
        assert_eq!(e.source, "server:evaluate");
        assert_eq!(e.bundle.as_deref(), Some(hash));
    }
    let flagged = events.iter().find(|e| e.outcome != "allowed").unwrap();
    assert!(flagged
        .reason
        .as_deref()
        .unwrap()
        .starts_with("mass-delete"));
    assert_ne!(events[0].action_id, events[1].action_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_keeps_the_last_good_bundle() {
    let rules = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("rules/safety-workflows"), rules.path());
    let server = Server::start(RulesSource::Dir(rules.path().to_path_buf())).await;
    let before = server.get("/v1/bundle").await;
    let hash = before["fingerprint"]["hash"].as_str().unwrap().to_string();

    // break the rules
    let broken = rules.path().join("broken.tenet");
    std::fs::write(
        &broken,
        "tenet 1\npack broken version \"1.0.0\"\n\naction x {\n  match  nope ==\n}\n",
    )
    .unwrap();
    let (status, ctype, p) = server.json("POST", "/v1/bundle/reload", &json!({})).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(ctype, "application/problem+json");
    assert!(!p["diagnostics"].as_array().unwrap().is_empty(), "{p}");

    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "degraded");
    let b = server.get("/v1/bundle").await;
    assert_eq!(b["fingerprint"]["hash"], hash.as_str());
    let err = &b["last_reload_error"];
    assert!(
        err["diagnostics"].to_string().contains("broken.tenet"),
        "{err}"
    );

    // the old bundle still answers
    let (status, _, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["bundle"], hash.as_str());

    // a good reload: ok again, on a new bundle
    std::fs::remove_file(&broken).unwrap();
    std::fs::write(
        rules.path().join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.0\"\n",
    )
    .unwrap();
    let (status, _, b) = server.json("POST", "/v1/bundle/reload", &json!({})).await;
    assert_eq!(status, 200, "{b}");
    assert!(b["last_reload_error"].is_null());
    assert_ne!(b["fingerprint"]["hash"], hash.as_str());
    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "ok");
    let (status, _, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200);
    assert_eq!(d["bundle"], b["fingerprint"]["hash"]);
    server.stop().await;
}

/// `dry_run: true` answers the same decision and blocks nothing: a mass
/// delete blocks without it; with it only `blocking` and the `dry_run`
/// marker change, and the audit event says `flagged`, not `blocked`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_every_match_and_blocks_nothing() {
    let server = Server::start(RulesSource::Bundled).await;
    let mut body = mass_delete();
    body["now"] = "2026-11-25".into();
    let evaluate = |body: Value| {
        let server = &server;
        async move {
            let r = server
                .send("POST", "/v1/evaluate", &[], body.to_string().as_bytes())
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let id = r.header("x-tenet-action-id").unwrap().to_string();
            (id, r.json())
        }
    };
    let (enforced_id, enforced) = evaluate(body.clone()).await;
    assert_eq!(enforced["blocking"], true, "{enforced:#}");
    assert_eq!(enforced["dry_run"], false);
    assert_eq!(enforced["highest_risk"], "high");
    let matched = enforced["matched"].as_array().unwrap();
    assert_eq!(matched.len(), 1, "{enforced:#}");
    assert_eq!(matched[0]["block"], "mass-delete");
    assert_eq!(matched[0]["enforcement"], "hard_mandatory");
    assert_eq!(matched[0]["effects"]["approval_ttl"], "2h");
    assert_eq!(matched[0]["effects"]["hold"], "30m");

    body["dry_run"] = true.into();
    let (dry_id, dry) = evaluate(body).await;
    assert_eq!(dry["blocking"], false, "{dry:#}");
    assert_eq!(dry["dry_run"], true);
    // Everything else is the enforced decision: the same matches with the
    // same effects and because, the same risk, the same bundle.
    let mut expected = enforced.clone();
    expected["blocking"] = false.into();
    expected["dry_run"] = true.into();
    assert_eq!(dry, expected);

    let store = server.store.clone();
    let _keep = server.stop().await;
    let events = Store::connect(&store)
        .unwrap()
        .audit_events(None, 100)
        .unwrap();
    let event = |id: &str| events.iter().find(|e| e.action_id == id).unwrap();
    assert_eq!(event(&enforced_id).outcome, "blocked");
    assert_eq!(event(&enforced_id).details["dry_run"], false);
    assert_eq!(event(&dry_id).outcome, "flagged");
    assert_eq!(event(&dry_id).details["dry_run"], true);
    assert_eq!(event(&dry_id).details["matched"], json!(["mass-delete"]));
}
