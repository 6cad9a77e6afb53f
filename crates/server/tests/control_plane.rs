//! The control plane's registry and drift over HTTP, on SQLite and
//! PostgreSQL: clusters registered and listed by selector, inventories
//! reported by the clusters (the webhook) with the fleet's drift checked
//! and each new drift announced once, the drift of the fleet now; a
//! tenant-bound identity refused; bad input a clear 4xx that writes
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

async fn start(kind: Kind) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.store = store;
    c.identities = vec![
        {
            let mut i = identity("fleet-bot", "tok-f", &["fleet", "auditor"]);
            i.tenant = None;
            i
        },
        identity("acme-bot", "tok-acme", &["fleet"]),
    ];
    c.limits.rate_per_second = 0;
    Server::with_config(dir, c).await
}

async fn call(s: &Server, tok: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {tok}");
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = s
        .send(method, path, &[("Authorization", &auth)], &bytes)
        .await;
    (
        r.status,
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        },
    )
}

fn drifts_announced(v: &Value) -> usize {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "drift_detected")
        .count()
}

async fn flow(kind: Kind) {
    let s = start(kind).await;
    for (id, env, region) in [
        ("stg-1", "staging", "eu-west-1"),
        ("prod-1", "prod", "eu-west-1"),
        ("prod-2", "prod", "us-east-1"),
    ] {
        let body = json!({"id": id, "env": env, "region": region, "capabilities": ["tenet-sidecar"], "labels": {"tier": "standard"}, "endpoints": {"admin": "http://127.0.0.1:9/admin"}});
        let (st, v) = call(&s, "tok-f", "POST", "/v1/clusters", body).await;
        assert_eq!((st, v["created"].clone()), (200, json!(true)), "{v}");
    }
    let (_, v) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters",
        json!({"id": "prod-2", "env": "prod", "region": "us-east-1", "owner": "sre"}),
    )
    .await;
    assert_eq!(v["created"], false, "an update");
    // By selector: the language's semantics.
    let (st, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters?selector=env=prod,region!=eu-west-1",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let ids: Vec<&str> = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["prod-2"]);
    // The update replaced prod-2's labels: it has no `tier` now.
    let (_, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters?selector=!tier",
        Value::Null,
    )
    .await;
    assert_eq!(v["clusters"][0]["id"], "prod-2", "{v}");
    assert_eq!(v["clusters"].as_array().unwrap().len(), 1);

    // The desired state: a bundle and api 3.3.0 everywhere, opa-wasm in prod.
    let desired = json!({"desired": [
        {"bundle_fingerprint": "sha256:aaa", "services": {"api": "3.3.0"}, "config_hashes": {"gateway": "h1"}},
        {"select": {"labels": {"env": "prod"}}, "capabilities": ["opa-wasm"]}
    ]});
    let (st, v) = call(&s, "tok-f", "PUT", "/v1/fleet/desired", desired).await;
    assert_eq!(st, 200, "{v}");
    // Nothing reported yet: every cluster drifts as `no_inventory`.
    let (_, v) = call(&s, "tok-f", "GET", "/v1/fleet/drift", Value::Null).await;
    assert_eq!(
        (v["clusters"].clone(), v["drifting"].clone()),
        (json!(3), json!(3)),
        "{v}"
    );
    // The clusters report (the webhook).
    let good = json!({"services": {"api": "3.3.0"}, "config_hashes": {"gateway": "h1"}, "bundle_fingerprint": "sha256:aaa"});
    let (st, v) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters/stg-1/inventory",
        good.clone(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["drift"], json!([]), "{v}");
    let new_at_first = v["new"].as_array().unwrap().len();
    assert_eq!(new_at_first, 2, "prod-1 and prod-2 have no inventory: {v}");
    let behind = json!({"services": {"api": "3.2.9"}, "config_hashes": {"gateway": "h2"}, "bundle_fingerprint": "sha256:aaa", "capabilities": ["opa-wasm"]});
    let (_, v) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters/prod-1/inventory",
        behind.clone(),
    )
    .await;
    let kinds: Vec<&str> = v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["config_hash", "service_version"], "{v}");
    assert_eq!(v["drift"][1]["delta"], "minor behind");
    // The same report again: nothing new.
    let (_, v) = call(&s, "tok-f", "POST", "/v1/clusters/prod-1/inventory", behind).await;
    assert_eq!(v["new"], json!([]));
    // Each drift announced once.
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(
        drifts_announced(&audit),
        4,
        "two no_inventory, then prod-1's hash and version"
    );
    // One cluster's inventory and drift now.
    let (st, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/prod-1/inventory",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["inventory"]["services"]["api"], "3.2.9");
    assert_eq!(v["drift"].as_array().unwrap().len(), 2);
    let (_, v) = call(&s, "tok-f", "GET", "/v1/fleet/drift", Value::Null).await;
    assert_eq!(
        v["drifting"], 2,
        "prod-1, and prod-2 that never reported: {v}"
    );
}

#[tokio::test]
async fn registry_and_drift_on_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn registry_and_drift_on_postgres() {
    flow(Kind::Postgres).await;
}

#[tokio::test]
async fn refusals() {
    let s = start(Kind::Sqlite).await;
    // A tenant-bound identity: the fleet is the platform's.
    for (m, p, b) in [
        ("POST", "/v1/clusters", json!({"id": "x"})),
        ("GET", "/v1/clusters", Value::Null),
        ("GET", "/v1/fleet/drift", Value::Null),
    ] {
        assert_eq!(call(&s, "tok-acme", m, p, b).await.0, 403, "{m} {p}");
    }
    for (body, status) in [
        (json!({"id": "../etc"}), 422),
        (json!({"id": "a", "colour": "red"}), 422),
        (json!({"id": "a", "inventory": {}}), 422),
        (json!({"region": "x"}), 422),
        (json!({"id": "."}), 422),
        (json!({"id": ".."}), 422),
        (json!([]), 422),
    ] {
        let (st, v) = call(&s, "tok-f", "POST", "/v1/clusters", body.clone()).await;
        assert_eq!(st, status, "{body}: {v}");
    }
    let (st, _) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters/nope/inventory",
        json!({}),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/nope/inventory",
        Value::Null,
    )
    .await;
    assert_eq!(st, 404);
    let (st, v) = call(
        &s,
        "tok-f",
        "PUT",
        "/v1/fleet/desired",
        json!({"desired": [{"select": {"labels": "prod"}}]}),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    let (st, _) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters?selector=a=b,,c",
        Value::Null,
    )
    .await;
    assert_eq!(st, 400);
    let (_, v) = call(&s, "tok-f", "GET", "/v1/clusters", Value::Null).await;
    assert_eq!(v["clusters"], json!([]), "nothing was written");
    // An array is not an inventory (serde would read `[]` as an empty
    // one), and nothing is recorded.
    let (st, _) = call(&s, "tok-f", "POST", "/v1/clusters", json!({"id": "a1"})).await;
    assert_eq!(st, 200);
    let (st, v) = call(&s, "tok-f", "POST", "/v1/clusters/a1/inventory", json!([])).await;
    assert_eq!(st, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("not an object"),
        "{v}"
    );
    let (st, v) = call(&s, "tok-f", "GET", "/v1/clusters/a1/inventory", Value::Null).await;
    assert_eq!(st, 200);
    assert!(v["inventory"].is_null(), "{v}");
}

/// A synthetic cluster's admin API on 127.0.0.1: `ok` reports the desired
/// inventory, `fail` answers 500, `hang` never answers in time, `lie`
/// answers something that is not an inventory.
async fn synthetic(mode: &'static str) -> String {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/inventory",
        get(move || async move {
            match mode {
                "ok" => (
                    axum::http::StatusCode::OK,
                    axum::Json(
                        json!({"services": {"api": "3.3.0"}, "bundle_fingerprint": "sha256:aaa"}),
                    ),
                ),
                "fail" => (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({})),
                ),
                "hang" => {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    (axum::http::StatusCode::OK, axum::Json(json!({})))
                }
                _ => (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"services": "everything is fine"})),
                ),
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventories_are_pulled_from_the_clusters_admin_apis() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.identities = vec![{
        let mut i = identity("fleet-bot", "tok-f", &["fleet", "auditor"]);
        i.tenant = None;
        i
    }];
    c.limits.rate_per_second = 0;
    c.control_plane.timeout = std::time::Duration::from_millis(300);
    c.control_plane.pull_breaker = 2;
    let hooked = common::receiver().await;
    c.control_plane.notify = Some(common::hook(&hooked.url));
    c.control_plane.pull_every = std::time::Duration::from_millis(400);
    // The test pulls; the sweep does not (it would count failures too).
    c.sweeps.interval = std::time::Duration::from_secs(3600);
    let s = Server::with_config(dir, c).await;
    let mut admins = std::collections::BTreeMap::new();
    for mode in ["ok", "fail", "hang", "lie"] {
        let admin = synthetic(mode).await;
        admins.insert(mode, admin.clone());
        let body = json!({"id": mode, "env": "prod", "endpoints": {"admin": admin}});
        assert_eq!(call(&s, "tok-f", "POST", "/v1/clusters", body).await.0, 200);
    }
    let desired =
        json!({"desired": [{"bundle_fingerprint": "sha256:aaa", "services": {"api": "3.3.0"}}]});
    assert_eq!(
        call(&s, "tok-f", "PUT", "/v1/fleet/desired", desired)
            .await
            .0,
        200
    );
    let st = std::sync::Arc::clone(&s.state);
    let started = std::time::Instant::now();
    let round = tokio::task::spawn_blocking(move || tenet_server::routes::control_plane::pull(&st))
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the hanging cluster is cut off by the timeout"
    );
    assert_eq!(round.pulled, 1);
    let failed: Vec<&str> = round.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, ["fail", "hang", "lie"]);
    assert!(
        round.failed[1].1.contains("no answer within 300 ms"),
        "{:?}",
        round.failed
    );
    assert!(
        round.failed[2].1.starts_with("not an inventory"),
        "{:?}",
        round.failed
    );
    // The one that answered is right; the others are not known to be.
    let (_, v) = call(&s, "tok-f", "GET", "/v1/fleet/drift", Value::Null).await;
    assert_eq!(v["drift"]["ok"], json!([]), "{v}");
    for id in ["fail", "hang", "lie"] {
        assert_eq!(v["drift"][id][0]["kind"], "no_inventory", "{v}");
    }
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(drifts_announced(&audit), 3);

    // A second failure in a row opens each failing cluster's pull breaker
    // (`pull_breaker 2`), audited once; the next round calls only `ok`.
    let pull = || {
        let st = std::sync::Arc::clone(&s.state);
        async move {
            tokio::task::spawn_blocking(move || tenet_server::routes::control_plane::pull(&st))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let round = pull().await;
    assert_eq!((round.pulled, round.failed.len()), (1, 3), "{round:?}");
    let round = pull().await;
    assert_eq!(round.pulled, 1, "{round:?}");
    assert_eq!(round.failed, [], "nobody failing was called: {round:?}");
    let skipped: Vec<&str> = round.skipped.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(skipped, ["fail", "hang", "lie"]);
    let (_, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/hang/inventory",
        Value::Null,
    )
    .await;
    assert_eq!(v["pulls"]["failures_in_a_row"], 2, "{v}");
    assert!(v["pulls"]["breaker_open_until"].is_string(), "{v}");
    let outcomes = |audit: &Value, o: &str| -> Vec<String> {
        let mut v: Vec<String> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == o)
            .map(|e| e["subject"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(
        outcomes(&audit, "pull_breaker_opened"),
        ["fail", "hang", "lie"]
    );
    // And the operators are told, once each (with the new drifts).
    let mut told: Vec<String> = hooked
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "pull_breaker_opened")
        .map(|n| n["subject"].as_str().unwrap().to_string())
        .collect();
    told.sort();
    assert_eq!(told, ["fail", "hang", "lie"]);
    // After its backoff (twice `pull_every`) a cluster is tried again: `fail`
    // now answers (its admin moved to a healthy one) and its breaker closes.
    let moved = json!({"id": "fail", "env": "prod", "endpoints": {"admin": admins["ok"]}});
    assert_eq!(
        call(&s, "tok-f", "POST", "/v1/clusters", moved).await.0,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(850)).await;
    let round = pull().await;
    assert_eq!(round.pulled, 2, "{round:?}");
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(outcomes(&audit, "pull_recovered"), ["fail"]);
    let (_, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/fail/inventory",
        Value::Null,
    )
    .await;
    assert!(v["pulls"].is_null(), "{v}");
}

#[tokio::test]
async fn dry_runs_write_nothing_and_keys_replay() {
    let s = start(Kind::Sqlite).await;
    let reg = json!({"id": "prod-1", "env": "prod"});
    let (st, v) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters?dry_run=true",
        reg.clone(),
    )
    .await;
    assert_eq!(
        (st, v["created"].clone(), v["dry_run"].clone()),
        (200, json!(true), json!(true)),
        "{v}"
    );
    let (_, v) = call(&s, "tok-f", "GET", "/v1/clusters", Value::Null).await;
    assert_eq!(v["clusters"], json!([]), "a dry run registers nothing");
    // The same Idempotency-Key twice: one registration, the first answer.
    let auth = "Bearer tok-f";
    let key = [("Authorization", auth), ("Idempotency-Key", "reg-1")];
    let body = reg.to_string().into_bytes();
    let a = s.send("POST", "/v1/clusters", &key, &body).await;
    let b = s.send("POST", "/v1/clusters", &key, &body).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.json(), b.json());
    assert_eq!(a.json()["created"], true);
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    let registered = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "registered")
        .count();
    assert_eq!(registered, 1);
    // A dry-run desired state says what would drift; nothing is set.
    let desired = json!({"desired": [{"services": {"api": "3.3.0"}}]});
    let (st, v) = call(
        &s,
        "tok-f",
        "PUT",
        "/v1/fleet/desired?dry_run=true",
        desired,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["drift"]["prod-1"][0]["kind"], "no_inventory");
    // A dry-run inventory report: its drift, nothing kept, nothing announced.
    let (st, v) = call(
        &s,
        "tok-f",
        "POST",
        "/v1/clusters/prod-1/inventory?dry_run=true",
        json!({"services": {"api": "1.0.0"}}),
    )
    .await;
    assert_eq!(
        (st, v["drift"].clone(), v["new"].clone()),
        (200, json!([]), json!([])),
        "no desired state set yet: nothing drifts"
    );
    let (_, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/prod-1/inventory",
        Value::Null,
    )
    .await;
    assert_eq!(v["inventory"], Value::Null, "the dry run kept nothing");
    let (_, audit) = call(&s, "tok-f", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(drifts_announced(&audit), 0);
    assert_eq!(
        call(
            &s,
            "tok-f",
            "POST",
            "/v1/clusters/nope/inventory?dry_run=true",
            json!({})
        )
        .await
        .0,
        404
    );
    // A key is scoped to its route, path included: the same key and body
    // on another cluster's inventory is refused, and changes nothing.
    let inv = br#"{"services": {"api": "3.3.0"}}"#;
    let key = [
        ("Authorization", "Bearer tok-f"),
        ("Idempotency-Key", "inv-1"),
    ];
    let a = s
        .send("POST", "/v1/clusters/prod-1/inventory", &key, inv)
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let other = s
        .send("POST", "/v1/clusters/prod-2/inventory", &key, inv)
        .await;
    assert_eq!(
        other.status,
        422,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    let (_, v) = call(
        &s,
        "tok-f",
        "GET",
        "/v1/clusters/prod-2/inventory",
        Value::Null,
    )
    .await;
    assert!(v["inventory"].is_null(), "{v}");
}
