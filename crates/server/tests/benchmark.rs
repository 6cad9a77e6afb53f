//! The tenant benchmark over HTTP, on SQLite and on PostgreSQL: signals
//! in, scores, factors, history (JSON and SVG), the score diff, badges
//! earned and lost, backfill, the sweep and its pulled signals; tenants
//! kept apart on every route, and bad input refused with nothing recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

/// One profile: two factors whose score is easy to compute by hand
/// (uptime 0..100, patch days 0..30 smaller is better), a badge earned
/// at once and one that needs a dwell.
const PACK: &str = r#"tenet 1
pack tenant_benchmark version "1.0.0"

profile ops {
  version 1
  description "Operations hygiene"

  factor uptime {
    source "sre.uptime_pct"
    weight 1
    bounds [0, 100]
  }

  factor patch {
    source            "vuln.patch_days"
    weight            1
    bounds            [0, 30]
    smaller_is_better true
    fallback          count_as_zero
  }

  badge good {
    rank      1
    requires  signals.open_critical == 0
    narrative "{tenant.name} runs a tidy shop at {score.value}"

    hysteresis {
      enter 80
      exit  70
      dwell 0s
    }
  }

  badge steady {
    rank 2

    hysteresis {
      enter 85
      exit  80
      dwell 1s
    }
  }
}
"#;

const TOKENS: &[(&str, &[&str], Option<&str>)] = &[
    ("feeder", &["benchmark"], None),
    ("acme-agent", &["benchmark"], Some("acme")),
    ("globex-agent", &["benchmark"], Some("globex")),
    ("ops", &["operator"], None),
    ("eval", &["evaluator"], None),
    ("root", &["admin"], None),
];

fn token(name: &str) -> String {
    format!("token-of-{name}")
}

async fn start_with(
    pack: &str,
    kind: Kind,
    tweak: impl FnOnce(&mut tenet_server::config::Config),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("benchmark.tenet"), pack).unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules));
    c.store = store;
    c.watch = false;
    c.identities = TOKENS
        .iter()
        .map(|(n, roles, tenant)| {
            let mut i = identity(n, &token(n), roles);
            i.tenant = tenant.map(str::to_string);
            i
        })
        .collect();
    c.limits.rate_per_second = 0;
    tweak(&mut c);
    Server::with_config(dir, c).await
}

async fn call(s: &Server, who: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {}", token(who));
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = s
        .send(method, path, &[("Authorization", &auth)], &bytes)
        .await;
    let v = if r.body.is_empty() || !r.ctype().contains("json") {
        Value::Null
    } else {
        r.json()
    };
    (r.status, v)
}

fn ago(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    tenet_runtime::clock::Timestamp::from_unix(now - secs, 0).rfc3339()
}

fn signals(uptime: f64, patch: f64, at: &str) -> Value {
    json!({"signals": [
        {"name": "sre.uptime_pct", "value": uptime, "at": at, "source": "https://status.example/acme"},
        {"name": "vuln.patch_days", "value": patch, "at": at},
        {"name": "open_critical", "value": 0, "at": at},
    ]})
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn flow(kind: Kind) {
    let s = start_with(PACK, kind, |_| {}).await;
    let t0 = ago(300);
    // Uptime 90 → 0.9; patch 3 of 30 days, smaller is better → 27/30 =
    // 0.9: score 100 × (0.9 + 0.9) / 2 = 90. `good` (enter 80, dwell 0)
    // is earned at once; `steady` (dwell 1s) is entering.
    let mut first = signals(90.0, 3.0, &t0);
    first["facts"] = json!({"name": "Acme"});
    let (st, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        first.clone(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 3, "{v}");
    assert_eq!(v["duplicates"], 0, "{v}");
    assert!(close(&v["scores"][0]["score"], 90.0), "{v}");
    assert_eq!(v["scores"][0]["badge"], "good", "{v}");
    assert_eq!(v["scores"][0]["transitions"][0]["change"], "earned", "{v}");
    // The same signals again (a retried request): counted once.
    let (st, v) = call(&s, "feeder", "POST", "/v1/tenants/acme/signals", first).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["accepted"].clone(), v["duplicates"].clone()),
        (json!(0), json!(3)),
        "{v}"
    );

    let (st, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(close(&v["score"], 90.0), "{v}");
    assert_eq!(v["coverage"], 1.0, "{v}");
    assert_eq!(v["version"], 1, "{v}");
    let uptime = &v["factors"][0];
    assert_eq!(uptime["factor"], "uptime", "{v}");
    assert!(close(&uptime["contribution"], 45.0), "{v}");
    assert_eq!(uptime["link"], "https://status.example/acme", "{v}");
    assert!(uptime["age_s"].as_f64().unwrap() >= 300.0, "{v}");
    let good = v["badges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["badge"] == "good")
        .unwrap();
    assert_eq!(good["standing"], "held", "{v}");
    assert_eq!(good["narrative"], "Acme runs a tidy shop at 90", "{v}");

    // Uptime falls to 50: (0.5 + 0.9) / 2 = 70, not below `exit` 70:
    // kept. Then 40: 65, below 70 with no dwell: lost.
    let (_, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        signals(50.0, 3.0, &ago(200)),
    )
    .await;
    assert!(close(&v["scores"][0]["score"], 70.0), "{v}");
    assert_eq!(v["scores"][0]["badge"], "good", "{v}");
    let (_, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        signals(40.0, 3.0, &ago(100)),
    )
    .await;
    assert!(close(&v["scores"][0]["score"], 65.0), "{v}");
    assert_eq!(v["scores"][0]["badge"], Value::Null, "{v}");
    let lost = &v["scores"][0]["transitions"][0];
    assert_eq!(lost["change"], "lost", "{v}");
    assert!(lost["reason"].as_str().unwrap().contains("below 70"), "{v}");

    // History: the four evaluations (the duplicate request evaluated
    // too), oldest first.
    let (st, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let scores: Vec<f64> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 4, "{v}");
    assert!(
        (scores[0] - 90.0).abs() < 1e-9 && (scores[3] - 65.0).abs() < 1e-9,
        "{v}"
    );
    let r = s
        .send(
            "GET",
            "/v1/tenants/acme/score/history?profile=ops&format=svg",
            &[("Authorization", &format!("Bearer {}", token("feeder")))],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.ctype(), "image/svg+xml");
    let svg = r.text();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("good ≥ 80"),
        "{svg}"
    );

    // Why did it change: the latest against the one before.
    let (st, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/diff?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(close(&v["delta"], -5.0), "{v}");
    assert_eq!(v["factors"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["factors"][0]["factor"], "uptime", "{v}");
    assert_eq!(v["factors"][0]["why"], "value 50 → 40", "{v}");
    assert_eq!(v["from_badge"], "good", "{v}");
    assert_eq!(v["to_badge"], Value::Null, "{v}");
    assert_eq!(v["transitions"][0]["change"], "lost", "{v}");

    let (st, v) = call(&s, "feeder", "GET", "/v1/tenants/acme/factors", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["profiles"][0]["profile"], "ops", "{v}");
    assert_eq!(v["profiles"][0]["factors"][1]["value"], 3.0, "{v}");
    let (st, v) = call(&s, "feeder", "GET", "/v1/profiles", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["profiles"][0]["name"], "ops", "{v}");
    assert_eq!(v["profiles"][0]["badges"][0]["name"], "steady", "{v}");
    assert_eq!(v["profiles"][0]["badges"][0]["dwell"], "1s", "{v}");

    // Backfill of an unchanged profile reproduces the history exactly.
    let (st, v) = call(&s, "ops", "POST", "/v1/profiles/ops/backfill", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"profile": "ops", "version": 1, "tenants": 1, "evaluations": 4, "changed": 0, "dry_run": false})
    );
    let (_, after) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    let again: Vec<f64> = after["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert_eq!(again, scores);
}

#[tokio::test]
async fn signals_scores_history_and_diff_on_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn signals_scores_history_and_diff_on_postgres() {
    flow(Kind::Postgres).await;
}

/// Every tenant route, as another tenant's identity sees it: the 404 of a
/// tenant that does not exist, word for word.
#[tokio::test]
async fn a_tenant_never_sees_another_tenants_benchmark() {
    let s = start_with(PACK, Kind::Sqlite, |_| {}).await;
    let (st, _) = call(
        &s,
        "acme-agent",
        "POST",
        "/v1/tenants/acme/signals",
        signals(90.0, 3.0, &ago(60)),
    )
    .await;
    assert_eq!(st, 200);
    let reads = [
        "/v1/tenants/{t}/score?profile=ops",
        "/v1/tenants/{t}/factors",
        "/v1/tenants/{t}/score/history?profile=ops",
        "/v1/tenants/{t}/score/history?profile=ops&format=svg",
        "/v1/tenants/{t}/score/diff?profile=ops",
    ];
    for path in reads {
        // acme itself reads it (the diff needs two evaluations: 404 of its own kind).
        let own = path.replace("{t}", "acme");
        let (st, v) = call(&s, "acme-agent", "GET", &own, Value::Null).await;
        if path.contains("diff") {
            assert_eq!(st, 404, "{own}: {v}");
            assert!(
                v["detail"].as_str().unwrap().contains("to compare with"),
                "{v}"
            );
        } else {
            assert_eq!(st, 200, "{own}: {v}");
        }
        // globex asks for acme's: the same answer as for a tenant that
        // does not exist.
        let (st, theirs) = call(&s, "globex-agent", "GET", &own, Value::Null).await;
        let (st2, nobody) = call(
            &s,
            "feeder",
            "GET",
            &path.replace("{t}", "nobody"),
            Value::Null,
        )
        .await;
        assert_eq!((st, st2), (404, 404), "{own}: {theirs} / {nobody}");
        assert_eq!(
            theirs["detail"].as_str().unwrap().replace("acme", "X"),
            nobody["detail"].as_str().unwrap().replace("nobody", "X"),
            "{own}"
        );
        assert!(!theirs.to_string().contains("90"), "{theirs}");
    }
    // Nor write to it: 404, nothing recorded.
    let (st, _) = call(
        &s,
        "globex-agent",
        "POST",
        "/v1/tenants/acme/signals",
        signals(0.0, 30.0, &ago(30)),
    )
    .await;
    assert_eq!(st, 404);
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert!(close(&v["score"], 90.0), "{v}");
    // The attempt is audited, under the caller's tenant.
    let (_, a) = call(&s, "root", "GET", "/v1/audit?limit=100", Value::Null).await;
    assert!(
        a["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "refused:404"
                && e["actor"] == "globex-agent"
                && e["tenant"] == "globex"
                && e["details"]["named"] == "acme"),
        "{a}"
    );
    // Backfill rewrites every tenant's history: not a tenant's to ask.
    let (st, v) = call(
        &s,
        "globex-agent",
        "POST",
        "/v1/profiles/ops/backfill",
        Value::Null,
    )
    .await;
    assert_eq!(st, 403, "{v}");
    // And a role without the benchmark routes: 403.
    let (st, _) = call(
        &s,
        "eval",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_recorded() {
    let s = start_with(PACK, Kind::Sqlite, |_| {}).await;
    let (st, _) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        signals(90.0, 3.0, &ago(60)),
    )
    .await;
    assert_eq!(st, 200);
    let good =
        |v: Value| json!({"signals": [{"name": "sre.uptime_pct", "value": 10, "at": ago(10)}, v]});
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            good(json!({"name": "x", "value": {"nested": 1}})),
            422,
            "signal 1: `value` of `x` must be a number",
        ),
        (
            good(json!({"name": "x", "value": [1]})),
            422,
            "must be a number",
        ),
        (
            good(json!({"name": "bad name", "value": 1})),
            422,
            "`name` `bad name`",
        ),
        (
            good(json!({"name": "x", "value": 1, "at": "yesterday"})),
            422,
            "`at`",
        ),
        (
            good(json!({"name": "x", "value": 1, "colour": "red"})),
            422,
            "unknown field `colour`",
        ),
        (json!({"signals": "many"}), 422, "expected"),
    ];
    for (body, status, says) in cases {
        let (st, v) = call(
            &s,
            "feeder",
            "POST",
            "/v1/tenants/acme/signals",
            body.clone(),
        )
        .await;
        assert_eq!(st, status, "{body}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let r = s
        .send(
            "POST",
            "/v1/tenants/acme/signals",
            &[("Authorization", &format!("Bearer {}", token("feeder")))],
            b"{not json",
        )
        .await;
    assert_eq!(r.status, 400);
    // A signal from the future (clock skew) is ignored, and said so.
    let (st, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        json!({"signals": [{"name": "sre.uptime_pct", "value": 1, "at": ago(-3600)}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 0, "{v}");
    assert_eq!(v["ignored"][0]["index"], 0, "{v}");
    assert!(
        v["ignored"][0]["why"]
            .as_str()
            .unwrap()
            .contains("clock skew"),
        "{v}"
    );
    // An empty request evaluates a known tenant again, and is the 404 of
    // an unknown one (nothing to record, nothing to evaluate): no tenant
    // is made of it.
    for body in [json!({}), json!({"signals": []}), json!({"facts": {}})] {
        let (st, v) = call(&s, "feeder", "POST", "/v1/tenants/nobody/signals", body).await;
        assert_eq!(st, 404, "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("no tenant `nobody`"),
            "{v}"
        );
    }
    let (st, _) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/nobody/factors",
        Value::Null,
    )
    .await;
    assert_eq!(st, 404);
    // `from` after `to` is an empty range.
    let (st, v) = call(
        &s,
        "feeder",
        "GET",
        &format!(
            "/v1/tenants/acme/score/history?profile=ops&from={}&to={}",
            ago(0),
            ago(100)
        ),
        Value::Null,
    )
    .await;
    assert_eq!((st, v["points"].clone()), (200, json!([])), "{v}");
    // Nothing of it was recorded: the first evaluation and the one of the
    // skewed request (which recorded nothing), uptime still 90.
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(v["points"].as_array().unwrap().len(), 2, "{v}");
    let (_, v) = call(&s, "feeder", "GET", "/v1/tenants/acme/factors", Value::Null).await;
    assert_eq!(v["profiles"][0]["factors"][0]["value"], 90.0, "{v}");
    // Queries: an unknown profile, a bad time, `from` after `to`, a limit out of range.
    for (path, status, says) in [
        (
            "/v1/tenants/acme/score?profile=nope",
            404,
            "no profile `nope` (profiles: ops)",
        ),
        ("/v1/tenants/acme/score", 400, ""),
        (
            "/v1/tenants/acme/score/history?profile=ops&from=soon",
            400,
            "`from`",
        ),
        (
            "/v1/tenants/acme/score/history?profile=ops&limit=0",
            400,
            "`limit` 0",
        ),
        (
            "/v1/tenants/acme/score/history?profile=ops&format=png",
            400,
            "",
        ),
        (
            "/v1/tenants/acme/score/diff?profile=ops&to=2001-01-01T00:00:00Z",
            404,
            "at or before `to`",
        ),
        ("/v1/tenants/acme%20x/score?profile=ops", 404, "no tenant"),
        ("/v1/profiles/nope/backfill", 404, "no profile `nope`"),
    ] {
        let method = if path.contains("backfill") {
            "POST"
        } else {
            "GET"
        };
        let who = if path.contains("backfill") {
            "ops"
        } else {
            "feeder"
        };
        let (st, v) = call(&s, who, method, path, Value::Null).await;
        assert_eq!(st, status, "{path}: {v}");
        if !says.is_empty() {
            assert!(
                v["detail"].as_str().unwrap_or_default().contains(says),
                "{path}: {v}"
            );
        }
    }
}

/// A changed profile version: backfill recomputes the stored history
/// under it and says how much changed; the old version's history stays.
#[tokio::test]
async fn a_new_profile_version_is_backfilled_over_the_stored_signals() {
    let s = start_with(PACK, Kind::Sqlite, |_| {}).await;
    for (u, secs) in [(90.0, 300), (60.0, 200)] {
        let (st, _) = call(
            &s,
            "feeder",
            "POST",
            "/v1/tenants/acme/signals",
            signals(u, 3.0, &ago(secs)),
        )
        .await;
        assert_eq!(st, 200);
    }
    // Version 2 weighs uptime 3 to 1.
    let v2 = PACK
        .replace("version 1\n", "version 2\n")
        .replacen("weight 1\n", "weight 3\n", 1);
    std::fs::write(s.dir.path().join("rules/benchmark.tenet"), v2).unwrap();
    let (st, v) = call(&s, "ops", "POST", "/v1/bundle/reload", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &s,
        "ops",
        "POST",
        "/v1/profiles/ops/backfill",
        json!({"tenants": ["acme"]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // v2 at the two times: (3 × 0.9 + 0.9) / 4 = 90 (same), then
    // (3 × 0.6 + 0.9) / 4 = 67.5 (v1 had 75): one changed.
    assert_eq!(
        v,
        json!({"profile": "ops", "version": 2, "tenants": 1, "evaluations": 2, "changed": 1, "dry_run": false})
    );
    let (_, h2) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(h2["version"], 2);
    let pts: Vec<f64> = h2["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert_eq!(pts, vec![90.0, 67.5]);
    let (_, h1) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops&version=1",
        Value::Null,
    )
    .await;
    let pts: Vec<f64> = h1["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert_eq!(pts, vec![90.0, 75.0]);
    // The latest score is v2's; the diff across versions names both.
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(
        (v["version"].clone(), v["score"].clone()),
        (json!(2), json!(67.5)),
        "{v}"
    );
    // The default diff compares the two latest of the serving version.
    let (st, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/diff?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["from_version"].clone(), v["to_version"].clone()),
        (json!(2), json!(2)),
        "{v}"
    );
    assert!(close(&v["delta"], -22.5), "{v}");
    // The backfill is audited per tenant.
    let (_, a) = call(&s, "root", "GET", "/v1/audit?limit=100", Value::Null).await;
    let events = a["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["outcome"] == "backfilled"
            && e["tenant"] == "acme"
            && e["source"] == "tenant-benchmark"),
        "{a}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "badge-earned" && e["subject"] == "ops/good"),
        "{a}"
    );
}

/// Badges with a dwell are earned by the sweep once the dwell has passed,
/// without new signals; the sweep stores only evaluations that moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_earns_a_dwelt_badge_and_pulls_fetched_signals() {
    // A source to pull from: answers per tenant, counted.
    let hits = Arc::new(AtomicUsize::new(0));
    let h2 = Arc::clone(&hits);
    let app = axum::Router::new()
        .route(
            "/patch/{tenant}",
            axum::routing::get(move |axum::extract::Path(t): axum::extract::Path<String>| {
                let h = Arc::clone(&h2);
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"tenant": t, "data": {"days": 3}}))
                }
            }),
        )
        .route(
            "/slow/{tenant}",
            axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                axum::Json(json!(1))
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let b2 = base.clone();
    let s = start_with(PACK, Kind::Sqlite, move |c| {
        c.benchmark.evaluate_every = std::time::Duration::from_secs(1);
        // The fleet's own round runs once at start; this test runs the rest.
        c.sweeps.interval = std::time::Duration::from_secs(3600);
        c.benchmark.fetch = serde_yaml_ng::from_str(&format!(
            "- {{signal: vuln.patch_days, url: '{b2}/patch/{{tenant}}', pointer: /data/days, ttl: 1h}}\n- {{signal: sre.slow, url: '{b2}/slow/{{tenant}}', timeout: 200ms}}\n"
        ))
        .unwrap();
    })
    .await;
    // Uptime 90 only: patch days are pulled, and counted as zero until then.
    let (st, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        json!({"signals": [
            {"name": "sre.uptime_pct", "value": 90, "at": ago(10)},
            {"name": "open_critical", "value": 0, "at": ago(10)},
        ]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(close(&v["scores"][0]["score"], 45.0), "{v}");
    let sweep = |s: &Server| {
        let st = Arc::clone(&s.state);
        tokio::task::spawn_blocking(move || tenet_server::routes::benchmark::sweep(&st))
    };
    // The round at start found no tenant; the next may run a second later.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The first round pulls patch days 3: (0.9 + 0.9) / 2 = 90; `steady`
    // (enter 85, dwell 1s) starts entering.
    let n = sweep(&s).await.unwrap().unwrap();
    assert_eq!(n, 1, "{}", s.state.metrics.render());
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert!(close(&v["score"], 90.0), "{v}");
    assert_eq!(v["factors"][1]["link"], format!("{base}/patch/acme"), "{v}");
    let steady = |v: &Value| {
        v["badges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["badge"] == "steady")
            .unwrap()["standing"]
            .clone()
    };
    assert_eq!(steady(&v), "entering", "{v}");
    // A round before `evaluate_every` has passed does nothing.
    assert_eq!(sweep(&s).await.unwrap().unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The dwell has passed: earned, with no new signal; patch days came
    // from the cache (one pull in all).
    assert_eq!(sweep(&s).await.unwrap().unwrap(), 1);
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(steady(&v), "held", "{v}");
    assert_eq!(v["badge"], "steady", "{v}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Nothing moves: a round stores nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(sweep(&s).await.unwrap().unwrap(), 0);
    // The slow source timed out each round: counted, never recorded.
    let metrics = s.state.metrics.render();
    assert!(
        metrics.contains("tenet_benchmark_fetches_total{result=\"failed\"}"),
        "{metrics}"
    );
    let (_, v) = call(&s, "feeder", "GET", "/v1/tenants/acme/factors", Value::Null).await;
    assert!(!v.to_string().contains("sre.slow"), "{v}");
}

/// `?dry_run=true` answers what would happen and writes nothing, not even
/// an audit event; an `Idempotency-Key` makes a retry change nothing.
#[tokio::test]
async fn dry_runs_write_nothing_and_a_retried_key_changes_nothing() {
    let s = start_with(PACK, Kind::Sqlite, |_| {}).await;
    let auth = format!("Bearer {}", token("feeder"));
    let (st, _) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals",
        signals(90.0, 3.0, &ago(300)),
    )
    .await;
    assert_eq!(st, 200);
    let count = |v: &Value| v["points"].as_array().unwrap().len();
    let (_, h0) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    let (_, a0) = call(&s, "root", "GET", "/v1/audit?limit=1000", Value::Null).await;
    // A dry run: uptime 40 would score (0.4 + 0.9) / 2 = 65 and lose `good`.
    let (st, v) = call(
        &s,
        "feeder",
        "POST",
        "/v1/tenants/acme/signals?dry_run=true",
        signals(40.0, 3.0, &ago(100)),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["dry_run"], true, "{v}");
    assert!(close(&v["scores"][0]["score"], 65.0), "{v}");
    assert_eq!(v["scores"][0]["transitions"][0]["change"], "lost", "{v}");
    let (_, h1) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    let (_, a1) = call(&s, "root", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(count(&h1), count(&h0));
    assert_eq!(
        a1["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["source"] == "tenant-benchmark")
            .count(),
        a0["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["source"] == "tenant-benchmark")
            .count(),
        "no audit event for a dry run"
    );
    let (_, v) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score?profile=ops",
        Value::Null,
    )
    .await;
    assert!(close(&v["score"], 90.0), "{v}");
    // A dry-run backfill counts and writes nothing.
    let (st, v) = call(
        &s,
        "ops",
        "POST",
        "/v1/profiles/ops/backfill?dry_run=true",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["evaluations"].clone(), v["dry_run"].clone()),
        (json!(1), json!(true)),
        "{v}"
    );

    // The same request with the same key, twice: one evaluation, the same answer.
    let body = signals(60.0, 3.0, &ago(50)).to_string();
    let send = |key: &'static str, body: String| {
        let auth = auth.clone();
        let s = &s;
        async move {
            s.send(
                "POST",
                "/v1/tenants/acme/signals",
                &[("Authorization", &auth), ("Idempotency-Key", key)],
                body.as_bytes(),
            )
            .await
        }
    };
    let r1 = send("k-1", body.clone()).await;
    let r2 = send("k-1", body.clone()).await;
    assert_eq!((r1.status, r2.status), (200, 200));
    assert_eq!(r1.body, r2.body);
    assert_eq!(r2.header("idempotent-replayed"), Some("true"));
    let (_, h2) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(count(&h2), count(&h0) + 1, "{h2}");
    // The key with another body: 422, nothing recorded.
    let r3 = send("k-1", signals(10.0, 3.0, &ago(40)).to_string()).await;
    assert_eq!(r3.status, 422);
    let (_, h3) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    assert_eq!(count(&h3), count(&h2));
}

/// Many requests for one tenant at once, on PostgreSQL (as from several
/// replicas): each is one evaluation at its own time, none lost, and a
/// backfill finds the history as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_signals_for_one_tenant_are_each_one_evaluation() {
    let s = Arc::new(start_with(PACK, Kind::Postgres, |_| {}).await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            // No `at`: each is measured when it is recorded.
            let body = json!({"signals": [
                {"name": "sre.uptime_pct", "value": 50 + i},
                {"name": "vuln.patch_days", "value": 3},
                {"name": "open_critical", "value": 0},
            ]});
            call(&s, "feeder", "POST", "/v1/tenants/acme/signals", body)
                .await
                .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, h) = call(
        &s,
        "feeder",
        "GET",
        "/v1/tenants/acme/score/history?profile=ops",
        Value::Null,
    )
    .await;
    let pts = h["points"].as_array().unwrap();
    assert_eq!(pts.len(), 24, "{h}");
    let times: Vec<&str> = pts.iter().map(|p| p["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {times:?}"
    );
    let (st, v) = call(&s, "ops", "POST", "/v1/profiles/ops/backfill", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["evaluations"].clone(), v["changed"].clone()),
        (json!(24), json!(0)),
        "{v}"
    );
}

/// A round over many tenants is spread over several sweeps, each going on
/// from the tenant after the last one done; the round ends when all are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_round_goes_on_where_the_last_sweep_stopped() {
    let s = start_with(PACK, Kind::Sqlite, |c| {
        c.benchmark.evaluate_every = std::time::Duration::from_secs(1);
        c.sweeps.interval = std::time::Duration::from_secs(3600);
    })
    .await;
    for t in ["t1", "t2", "t3"] {
        let (st, _) = call(
            &s,
            "feeder",
            "POST",
            &format!("/v1/tenants/{t}/signals"),
            json!({"signals": [
                {"name": "sre.uptime_pct", "value": 90, "at": ago(5)},
                {"name": "vuln.patch_days", "value": 3, "at": ago(5)},
                {"name": "open_critical", "value": 0, "at": ago(5)},
            ]}),
        )
        .await;
        assert_eq!(st, 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // `steady` (dwell 1s) entered with the first evaluation: each sweep
    // earns it for one tenant, in order, with no budget to do more.
    let one = |s: &Server| {
        let st = Arc::clone(&s.state);
        tokio::task::spawn_blocking(move || {
            tenet_server::routes::benchmark::sweep_within(&st, std::time::Duration::ZERO)
        })
    };
    for (i, t) in ["t1", "t2", "t3"].iter().enumerate() {
        assert_eq!(one(&s).await.unwrap().unwrap(), 1, "sweep {i}");
        let (_, v) = call(
            &s,
            "feeder",
            "GET",
            &format!("/v1/tenants/{t}/score?profile=ops"),
            Value::Null,
        )
        .await;
        assert_eq!(v["badge"], "steady", "{t} after sweep {i}: {v}");
        if let Some(next) = ["t1", "t2", "t3"].get(i + 1) {
            let (_, v) = call(
                &s,
                "feeder",
                "GET",
                &format!("/v1/tenants/{next}/score?profile=ops"),
                Value::Null,
            )
            .await;
            assert_eq!(v["badge"], "good", "{next} not yet: {v}");
        }
    }
    // The round is over: the next waits for `evaluate_every`.
    assert_eq!(one(&s).await.unwrap().unwrap(), 0);
}
