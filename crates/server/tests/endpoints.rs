//! `/v1/diff`, `/v1/audit`, `/metrics` and `/v1/openapi.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use tenet_diff::{repo, report};
use tenet_server::RulesSource;

/// Every file under `dir`, path → text.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in walk(dir) {
        let rel = e
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        out.insert(rel, std::fs::read_to_string(&e).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_reports_like_the_cli_in_every_format() {
    let s = Server::start(RulesSource::Bundled).await;
    let body = json!({
        "base": files(&repo().join("fixtures/demo/base")),
        "head": files(&repo().join("fixtures/demo/head")),
    });
    let (status, ctype, r) = s.json("POST", "/v1/diff", &body).await;
    assert_eq!(status, 200, "{r}");
    assert!(ctype.starts_with("application/json"));
    assert_eq!(r["schema"], "tenet.report/v1");
    assert_eq!(r["base"], "base");
    assert_eq!(r["highest_risk"], "breaking");
    assert_eq!(
        r["rules"]["fingerprint"],
        s.get("/v1/bundle").await["fingerprint"]["hash"]
    );
    assert!(r["changes"].as_array().unwrap().len() > 5);

    // The same changes as `tenet diff` finds in the two directories (the
    // functions it calls, with the bundled rules).
    let (base, head) = (
        repo().join("fixtures/demo/base"),
        repo().join("fixtures/demo/head"),
    );
    let config = repo::RepoConfig::load(&head).unwrap();
    let rules = tenet_runtime::load::load_bundled().unwrap();
    let classifier = tenet_diff::classify::Classifier::new(&rules).unwrap();
    let cli = report::build(
        report::Build {
            base: "base".into(),
            head: "head".into(),
            repository: None,
            pairs: config.pairs(
                &repo::read_dir(&base).unwrap(),
                &repo::read_dir(&head).unwrap(),
            ),
            consumers: &config.consumers,
            threshold: None,
        },
        &classifier,
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&cli).unwrap(), r);

    let (status, ctype, md) = s
        .request("POST", "/v1/diff?format=md", body.to_string().as_bytes())
        .await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/markdown; charset=utf-8");
    assert!(String::from_utf8(md).unwrap().contains("breaking"));
    let (status, _, notes) = s
        .request(
            "POST",
            "/v1/diff?format=release-notes",
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!notes.is_empty());

    // A bad format: 400; an artifact that does not parse: 422 with where.
    let (status, ctype, _) = s
        .request("POST", "/v1/diff?format=pdf", body.to_string().as_bytes())
        .await;
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"));
    let broken = json!({
        "base": {"api/openapi.json": "{\"openapi\": \"3.1.0\", \"paths\": {}}"},
        "head": {"api/openapi.json": "{\"openapi\": \"3.1.0\",\n \"paths\": {,}}"},
    });
    let (status, _, p) = s.json("POST", "/v1/diff", &broken).await;
    assert_eq!(status, 422, "{p}");
    let err = p["errors"][0].as_str().unwrap();
    assert!(err.starts_with("api/openapi.json:2:"), "{err}");
    let (status, _, p) = s
        .json(
            "POST",
            "/v1/diff",
            &json!({"base": {}, "head": {}, "risk_threshold": "apocalyptic"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("levels are: breaking"),
        "{p}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_metrics_and_the_openapi_document() {
    let s = Server::start(RulesSource::Bundled).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = s
            .send(
                "POST",
                "/v1/evaluate",
                &[("X-Tenant-Id", "globex")],
                mass_delete().to_string().as_bytes(),
            )
            .await;
        assert_eq!(r.status, 200);
        ids.push(r.header("x-tenet-action-id").unwrap().to_string());
    }

    // /v1/audit: newest first, by action id, since a time, bounded.
    let all = s.get("/v1/audit").await["events"].clone();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["action_id"], ids[2].as_str());
    assert_eq!(all[0]["tenant"], "globex");
    assert_eq!(all[0]["outcome"], "blocked");
    assert_eq!(all[0]["bundle"].as_str().unwrap().len(), 64);
    let one = s.get(&format!("/v1/audit?action_id={}", ids[1])).await["events"].clone();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(
        s.get("/v1/audit?limit=2").await["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.get("/v1/audit?since=2999-01-01").await["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        s.get("/v1/audit?since=2000-01-01T00:00:00Z").await["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for bad in [
        "/v1/audit?since=yesterday",
        "/v1/audit?limit=0",
        "/v1/audit?limit=x",
        "/v1/audit?color=red",
    ] {
        let (status, ctype, _) = s.request("GET", bad, b"").await;
        assert_eq!(
            (status, ctype.as_str()),
            (400, "application/problem+json"),
            "{bad}"
        );
    }

    // /metrics: requests by route and status, evaluations by outcome.
    let (status, ctype, m) = s.request("GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let m = String::from_utf8(m).unwrap();
    for line in [
        "tenet_evaluations_total{pack=\"safety\",outcome=\"blocked\"} 3",
        "tenet_http_requests_total{route=\"/v1/evaluate\",method=\"POST\",status=\"200\"} 3",
        "tenet_http_requests_total{route=\"/v1/audit\",method=\"GET\",status=\"400\"} 4",
        "tenet_audit_events_total{result=\"ok\"} 3",
        "tenet_audit_batch_size_sum 3.0",
    ] {
        assert!(m.contains(line), "missing {line} in\n{m}");
    }
    assert!(
        m.contains("tenet_http_request_duration_seconds_bucket{le="),
        "{m}"
    );
    let replica = &s.state.config.replica;
    assert!(
        m.contains(&format!(
            "tenet_bundle_info{{replica=\"{replica}\",fingerprint="
        )),
        "{m}"
    );

    // The OpenAPI document lists every route the router serves, 3.1:
    // exactly the operations of the route table.
    let doc = s.get("/v1/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    let declared: Vec<String> = tenet_server::route_table()
        .declared()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(operations, declared);
    // Every operation has the answers of the gate and the limits.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for code in ["401", "403", "405", "408", "413", "429"] {
                assert!(
                    op["responses"][code].is_object(),
                    "{method} {path} lacks {code}"
                );
            }
        }
    }
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/v1/evaluate",
        "/v1/diff",
        "/v1/bundle",
        "/v1/bundle/reload",
        "/v1/health",
        "/v1/audit",
        "/metrics",
        "/v1/openapi.json",
    ] {
        assert!(paths.iter().any(|x| *x == p), "{p} not in {paths:?}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    s.stop().await;
}
