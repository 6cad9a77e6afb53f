//! The meta-monitor over HTTP, on SQLite and on PostgreSQL: heartbeats in
//! batches and as pings, duplicates counted once, the states read back,
//! pause and resume, tenants kept apart, and bad input refused with
//! nothing recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

const PACK: &str = r#"tenet 1
pack meta_monitor version "1.0.0"

watcher job {
  cadence        1h
  grace          5m
  silence_budget 0s
  sources        ["host-a", "host-b"]
}

watcher backup {
  cadence        1d
  grace          1h
  silence_budget 0s
  manual_resume  true
}
"#;

const TOKENS: &[(&str, &[&str], Option<&str>)] = &[
    ("cron", &["monitor"], None),
    ("acme-agent", &["monitor"], Some("acme")),
    ("globex-agent", &["monitor"], Some("globex")),
    ("ops", &["operator"], None),
    ("eval", &["evaluator"], None),
    ("root", &["admin"], None),
];

fn token(name: &str) -> String {
    format!("token-of-{name}")
}

async fn start(kind: Kind) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    start_with(PACK, dir, store, |_| {}).await
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
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r.status, v)
}

fn now_minus(secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    tenet_runtime::clock::Timestamp::from_unix(now - secs, 0).rfc3339()
}

async fn flow(kind: Kind) {
    let s = start(kind).await;
    // A batch: two sources of `job`, with sequence numbers.
    let batch = json!({"events": [
        {"watcher": "job", "source": "host-a", "at": now_minus(60), "seq": 1},
        {"watcher": "job", "source": "host-b", "at": now_minus(30), "seq": 1},
    ]});
    let (st, v) = call(&s, "cron", "POST", "/v1/heartbeats", batch.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"applied": 2, "duplicates": 0, "late": 0, "ignored": []})
    );
    // The same batch again (a replayed backlog): counted once.
    let (st, v) = call(&s, "cron", "POST", "/v1/heartbeats", batch).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duplicates"], 2);
    assert_eq!(v["applied"], 0);
    let (st, v) = call(&s, "cron", "GET", "/v1/watchers/job", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "up", "{v}");
    assert!(v["last_seen"]["host-a"].is_string(), "{v}");
    assert!(
        v["why"].as_str().unwrap().starts_with("up: last heartbeat"),
        "{v}"
    );

    // A ping with an exit status: `curl .../ping/backup/$?`.
    let (st, v) = call(&s, "cron", "POST", "/v1/ping/backup/0", Value::Null).await;
    assert_eq!((st, v["applied"].clone()), (200, json!(1)), "{v}");
    let (_, v) = call(&s, "cron", "GET", "/v1/watchers/backup", Value::Null).await;
    assert_eq!(v["state"], "up", "{v}");
    let (st, _) = call(&s, "cron", "GET", "/v1/ping/backup/3", Value::Null).await;
    assert_eq!(st, 200);
    let (_, v) = call(&s, "cron", "GET", "/v1/watchers/backup", Value::Null).await;
    assert_eq!(v["state"], "down", "{v}");
    assert!(
        v["why"]
            .as_str()
            .unwrap()
            .contains("a failure was reported"),
        "{v}"
    );
    let (st, _) = call(
        &s,
        "cron",
        "GET",
        "/v1/ping/backup/start?rid=r1",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    let (_, v) = call(&s, "cron", "GET", "/v1/watchers/backup", Value::Null).await;
    assert_eq!(v["state"], "started", "{v}");
    assert_eq!(v["base_state"], "down", "{v}");

    // A dry-run pause answers the state it would have and writes nothing.
    let (st, v) = call(
        &s,
        "ops",
        "POST",
        "/v1/watchers/backup/pause?dry_run=true",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["state"].clone(), v["dry_run"].clone()),
        (json!("paused"), json!(true)),
        "{v}"
    );
    let (_, v) = call(&s, "cron", "GET", "/v1/watchers/backup", Value::Null).await;
    assert_eq!(v["state"], "started", "still as it was: {v}");
    assert!(v.get("dry_run").is_none(), "{v}");
    // A dry-run resume of a watcher that is not paused: the 409 a resume gets.
    let (st, _) = call(
        &s,
        "ops",
        "POST",
        "/v1/watchers/backup/resume?dry_run=true",
        Value::Null,
    )
    .await;
    assert_eq!(st, 409);
    // Pause (operator), pings ignored (manual_resume), resume once.
    let (st, v) = call(&s, "ops", "POST", "/v1/watchers/backup/pause", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "paused");
    let (st, v) = call(&s, "cron", "POST", "/v1/ping/backup", Value::Null).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["ignored"][0]["why"],
        "the watcher is paused and resumes only by hand (`manual_resume`)"
    );
    let (st, v) = call(&s, "ops", "POST", "/v1/watchers/backup/resume", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "new");
    let (st, v) = call(&s, "ops", "POST", "/v1/watchers/backup/resume", Value::Null).await;
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("not paused"), "{v}");
    // An evaluator has no business here.
    let (st, _) = call(
        &s,
        "eval",
        "POST",
        "/v1/heartbeats",
        json!({"watcher": "job", "source": "host-a", "at": now_minus(1)}),
    )
    .await;
    assert_eq!(st, 403);

    // The list, filtered by state.
    let (st, v) = call(&s, "ops", "GET", "/v1/watchers?state=up", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    let names: Vec<&str> = v["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["watcher"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["job"]);

    // The audit log has each batch and each stored transition.
    let (_, a) = call(&s, "root", "GET", "/v1/audit?limit=1000", Value::Null).await;
    let events = a["events"].as_array().unwrap();
    let outcome = |o: &str| {
        events
            .iter()
            .filter(|e| e["source"] == "meta-monitor" && e["outcome"] == o)
            .count()
    };
    assert!(outcome("ingested") >= 8, "{a}");
    assert_eq!(outcome("new->up"), 3, "{a}");
    assert_eq!(outcome("up->down"), 1, "{a}");
    assert_eq!(outcome("paused->new"), 1, "{a}");
}

#[tokio::test]
async fn heartbeats_flow_on_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn heartbeats_flow_on_postgres() {
    flow(Kind::Postgres).await;
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_recorded() {
    let s = start(Kind::Sqlite).await;
    let good = json!({"watcher": "job", "source": "host-a", "at": now_minus(5), "seq": 9});
    for (body, status, want) in [
        (json!({"events": [good, {"watcher": "jobb", "source": "host-a", "at": now_minus(5)}]}), 404, "event 1: no watcher `jobb` in the meta_monitor pack (watchers: job, backup); nothing was recorded"),
        (json!({"events": [good, {"watcher": "job", "source": "rogue", "at": now_minus(5)}]}), 404, "`rogue` is not one of them"),
        (json!({"events": [{"watcher": "job", "source": "host-a", "at": "yesterday"}]}), 422, "event 0: `at`: `yesterday` is not an RFC 3339 time"),
        (json!({"events": [{"watcher": "job", "source": "host-a", "at": now_minus(5), "exit_status": 256}]}), 422, "`exit_status` 256 is not 0-255"),
        (json!({"events": [{"watcher": "job", "source": "host-a", "at": now_minus(5), "kind": "beat"}]}), 422, "`kind` `beat` is not one of"),
        (json!({"events": []}), 422, "`events` is empty"),
        (json!({"events": [{"watcher": "job"}]}), 422, "missing field `source`"),
        (json!({"events": vec![good.clone(); 1001]}), 422, "1001 events in one request; send at most 1000"),
    ] {
        let (st, v) = call(&s, "cron", "POST", "/v1/heartbeats", body.clone()).await;
        assert_eq!(st, status, "{body}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    let r = s
        .send(
            "POST",
            "/v1/heartbeats",
            &[("Authorization", &format!("Bearer {}", token("cron")))],
            b"{not json",
        )
        .await;
    assert_eq!(r.status, 400);
    let (st, _) = call(&s, "cron", "GET", "/v1/ping/backup/boom", Value::Null).await;
    assert_eq!(st, 404);
    let (st, v) = call(&s, "cron", "GET", "/v1/ping/backup/256", Value::Null).await;
    assert_eq!(st, 404, "{v}");
    // An event from the future (clock skew) is ignored and said so; the
    // rest of its batch applies.
    let (st, v) = call(
        &s,
        "cron",
        "POST",
        "/v1/heartbeats",
        json!({"events": [
            {"watcher": "job", "source": "host-a", "at": now_minus(-3600)},
            {"watcher": "job", "source": "host-b", "at": now_minus(1)},
        ]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["applied"], 1);
    assert_eq!(v["ignored"][0]["index"], 0);
    assert!(
        v["ignored"][0]["why"]
            .as_str()
            .unwrap()
            .contains("more than 5 minutes ahead of the server's clock"),
        "{v}"
    );
    let (st, _) = call(&s, "ops", "POST", "/v1/watchers/nope/pause", Value::Null).await;
    assert_eq!(st, 404);
    let (st, _) = call(&s, "ops", "GET", "/v1/watchers?state=sleepy", Value::Null).await;
    assert_eq!(st, 400);
    // Nothing of the refused batches was kept: the good event is new now
    // (not a duplicate; host-b's later heartbeat does not make host-a's
    // late: late is per source).
    let (st, v) = call(
        &s,
        "cron",
        "POST",
        "/v1/heartbeats",
        json!({"events": [good]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["duplicates"].clone(), v["applied"].clone()),
        (json!(0), json!(1)),
        "{v}"
    );
    // A full batch with its run ids at their longest (200 characters,
    // escaped) is over 1 MiB, and still fits the route's limit.
    let events: Vec<String> = (0..1000)
        .map(|i| {
            let run_id = format!("{i:04}{}", "\\u00e9".repeat(196));
            format!(
                r#"{{"watcher":"job","source":"host-b","at":"{}","kind":"start","run_id":"{run_id}"}}"#,
                now_minus(1)
            )
        })
        .collect();
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    assert!(body.len() > 1 << 20, "{}", body.len());
    let r = s
        .send(
            "POST",
            "/v1/heartbeats",
            &[("Authorization", &format!("Bearer {}", token("cron")))],
            body.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn a_tenant_sends_and_sees_only_its_own() {
    let s = start(Kind::Sqlite).await;
    let beat = |tenant: Option<&str>| {
        let mut e = json!({"watcher": "backup", "source": "x", "at": now_minus(5)});
        if let Some(t) = tenant {
            e["tenant"] = json!(t);
        }
        e
    };
    let (st, v) = call(
        &s,
        "acme-agent",
        "POST",
        "/v1/heartbeats",
        beat(Some("globex")),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("bound to tenant `acme`"),
        "{v}"
    );
    let (st, _) = call(&s, "acme-agent", "POST", "/v1/heartbeats", beat(None)).await;
    assert_eq!(st, 200);
    let (st, _) = call(&s, "globex-agent", "POST", "/v1/heartbeats", beat(None)).await;
    assert_eq!(st, 200);
    // acme sees its own instance and the platform's, never globex's.
    let (_, v) = call(&s, "acme-agent", "GET", "/v1/watchers", Value::Null).await;
    let tenants: Vec<Value> = v["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["tenant"].clone())
        .collect();
    assert!(tenants.contains(&json!("acme")), "{v}");
    assert!(!tenants.contains(&json!("globex")), "{v}");
    let (st, _) = call(
        &s,
        "acme-agent",
        "GET",
        "/v1/watchers/backup?tenant=globex",
        Value::Null,
    )
    .await;
    assert_eq!(st, 403);
    let (st, v) = call(&s, "acme-agent", "GET", "/v1/watchers/backup", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["state"], "up");
    // A tenant may not pause its own watchers (it could silence them).
    let (st, v) = call(
        &s,
        "acme-agent",
        "POST",
        "/v1/watchers/backup/pause",
        Value::Null,
    )
    .await;
    assert_eq!(st, 403, "{v}");
    // A platform identity reads any tenant's.
    let (st, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/watchers/backup?tenant=globex",
        Value::Null,
    )
    .await;
    assert_eq!((st, v["tenant"].clone()), (200, json!("globex")), "{v}");
}

const FAST: &str = r#"tenet 1
pack meta_monitor version "1.0.0"

watcher pulse {
  cadence        1s
  grace          0s
  silence_budget 0s
  severity       critical
}
"#;

/// Waits up to 15 s for `f` to hold.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_pages_a_silence_and_its_recovery_and_proves_its_own_life() {
    let pages = common::receiver().await;
    let proof = common::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Sqlite, dir.path());
    let s = start_with(FAST, dir, store, |c| {
        c.sweeps.interval = std::time::Duration::from_millis(100);
        c.monitor.notify = Some(common::hook(&pages.url));
        c.monitor.proof_of_life = Some(common::hook(&proof.url));
        c.monitor.proof_of_life_every = std::time::Duration::from_millis(200);
    })
    .await;
    // The sweeps run as `tenet serve` runs them.
    let fleet = tenet_server::fleet::start(&s.state);

    let (st, _) = call(&s, "cron", "POST", "/v1/ping/pulse", Value::Null).await;
    assert_eq!(st, 200);
    // Silent for a second: down, and paged once.
    eventually("a silence page", || !pages.got.lock().unwrap().is_empty()).await;
    let got = pages.got.lock().unwrap().clone();
    assert_eq!(got[0]["kind"], "silence", "{got:?}");
    assert_eq!(got[0]["module"], "meta-monitor");
    assert_eq!(got[0]["subject"], "pulse");
    assert_eq!(got[0]["severity"], "critical");
    assert!(
        got[0]["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("pulse is down since"),
        "{got:?}"
    );
    let (st, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/meta-incidents?state=open",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["incidents"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(v["incidents"][0]["watcher"], "pulse");
    // Still down: it cannot be resolved by hand.
    let (st, v) = call(
        &s,
        "ops",
        "POST",
        &format!("/v1/meta-incidents/{id}/resolve"),
        json!({"note": "looked at it"}),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("still down"), "{v}");
    // A heartbeat: the sweep resolves it and says so.
    let (st, _) = call(&s, "cron", "POST", "/v1/ping/pulse", Value::Null).await;
    assert_eq!(st, 200);
    eventually("a recovery notice", || {
        pages
            .got
            .lock()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "recovered")
    })
    .await;
    let (_, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/meta-incidents?state=all",
        Value::Null,
    )
    .await;
    let inc = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(inc["state"], "resolved", "{v}");
    assert!(
        inc["resolution"].as_str().unwrap().starts_with("recovered"),
        "{inc}"
    );
    let (st, _) = call(
        &s,
        "ops",
        "POST",
        &format!("/v1/meta-incidents/{id}/resolve"),
        json!({"note": "again"}),
    )
    .await;
    assert_eq!(st, 409);
    let (st, _) = call(
        &s,
        "ops",
        "POST",
        &format!("/v1/meta-incidents/{id}/resolve?dry_run=true"),
        json!({"note": "again"}),
    )
    .await;
    assert_eq!(st, 409, "a dry run is refused as the resolve would be");
    let (st, _) = call(
        &s,
        "ops",
        "POST",
        "/v1/meta-incidents/nope/resolve",
        json!({"note": "x"}),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(
        &s,
        "ops",
        "POST",
        &format!("/v1/meta-incidents/{id}/resolve"),
        json!({"note": "  "}),
    )
    .await;
    assert_eq!(st, 422);

    // The monitor's own heartbeat reached the external receiver, more
    // than once, and health says the sweep runs.
    eventually("two proofs of life", || {
        proof.got.lock().unwrap().len() >= 2
    })
    .await;
    assert_eq!(proof.got.lock().unwrap()[0]["kind"], "proof_of_life");
    let h = s.get("/v1/health").await;
    assert_eq!(h["monitor"]["sweep"], "ok", "{h}");
    assert_eq!(h["status"], "ok", "{h}");
    // The metrics carry the watcher's state.
    let r = s
        .send(
            "GET",
            "/metrics",
            &[("Authorization", &format!("Bearer {}", token("root")))],
            b"",
        )
        .await;
    let text = r.text();
    assert!(
        text.contains("tenet_monitor_state{watcher=\"pulse\",tenant=\"\",state=\"up\"} 1")
            || text.contains("tenet_monitor_state{watcher=\"pulse\",tenant=\"\",state=\"down\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tenet_monitor_heartbeats_total{result=\"applied\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tenet_monitor_notices_total{kind=\"silence\",result=\"delivered\"} 1"),
        "{text}"
    );
    fleet.abort();
    s.stop().await;
}

#[tokio::test]
async fn the_graph_shows_dependencies_with_states_in_json_and_dot() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("monitor.tenet"),
        "tenet 1\npack meta_monitor version \"1.0.0\"\n\nwatcher bus {\n  cadence 1m\n  silence_budget 0s\n}\n\nwatcher flags {\n  cadence 5m\n  silence_budget 0s\n  depends_on [\"bus\"]\n}\n\nwatcher hooks {\n  cadence 5m\n  silence_budget 0s\n  depends_on [\"bus\"]\n  on_upstream_down alert\n}\n",
    )
    .unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules));
    c.store = fresh(Kind::Sqlite, dir.path());
    c.identities = vec![identity("ops", &token("ops"), &["operator"])];
    let s = Server::with_config(dir, c).await;
    let (st, v) = call(&s, "ops", "GET", "/v1/watchers/graph", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["edges"],
        json!([
            {"from": "bus", "to": "flags", "on_upstream_down": "suppress_and_track"},
            {"from": "bus", "to": "hooks", "on_upstream_down": "alert"},
        ])
    );
    let r = s
        .send(
            "GET",
            "/v1/watchers/graph?format=dot",
            &[("Authorization", &format!("Bearer {}", token("ops")))],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.ctype().starts_with("text/vnd.graphviz"), "{}", r.ctype());
    let dot = r.text();
    assert!(dot.starts_with("digraph watchers {"), "{dot}");
    assert!(dot.contains("\"bus\" -> \"flags\";"), "{dot}");
    assert!(
        dot.contains("\"bus\" -> \"hooks\" [style=dashed];"),
        "{dot}"
    );
    assert!(
        dot.contains("[label=\"bus\\nnew\", fillcolor=white]"),
        "{dot}"
    );
    let (st, _) = call(
        &s,
        "ops",
        "GET",
        "/v1/watchers/graph?format=png",
        Value::Null,
    )
    .await;
    assert_eq!(st, 400);
}

const SANDBOX: &str = r#"tenet 1
pack meta_monitor version "1.0.0"

watcher flags {
  cadence        1m
  grace          0s
  silence_budget 0s
  exempt_when    tenant.tier == "sandbox" and stats.events_24h < 500
}
"#;

async fn start_with(
    pack: &str,
    dir: tempfile::TempDir,
    store: tenet_store::Location,
    tweak: impl FnOnce(&mut tenet_server::config::Config),
) -> Server {
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("monitor.tenet"), pack).unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules));
    c.store = store;
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

#[tokio::test]
async fn a_quiet_sandbox_is_exempt_and_cannot_exempt_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Sqlite, dir.path());
    let s = start_with(SANDBOX, dir, store, |_| {}).await;
    for (tenant, agent) in [("acme", "acme-agent"), ("globex", "globex-agent")] {
        let (st, _) = call(
            &s,
            agent,
            "POST",
            "/v1/heartbeats",
            json!({"watcher": "flags", "source": "x", "at": now_minus(600)}),
        )
        .await;
        assert_eq!(st, 200, "{tenant}");
    }
    // A tenant may not declare itself a quiet sandbox: refused, audited.
    let (st, v) = call(
        &s,
        "acme-agent",
        "PUT",
        "/v1/monitor/tenants/acme",
        json!({"tenant": {"tier": "sandbox"}, "stats": {"events_24h": 3}}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    // The platform says acme is a quiet sandbox and globex is not.
    let (st, v) = call(
        &s,
        "ops",
        "PUT",
        "/v1/monitor/tenants/acme",
        json!({"tenant": {"tier": "sandbox"}, "stats": {"events_24h": 3}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({"tenant": "acme", "exempt": ["flags"]}));
    let (st, v) = call(
        &s,
        "ops",
        "PUT",
        "/v1/monitor/tenants/globex",
        json!({"tenant": {"tier": "sandbox"}, "stats": {"events_24h": 9000}}),
    )
    .await;
    assert_eq!((st, v["exempt"].clone()), (200, json!([])), "{v}");
    // A dry run says what the facts would exempt, and keeps the old ones.
    let (st, v) = call(
        &s,
        "ops",
        "PUT",
        "/v1/monitor/tenants/globex?dry_run=true",
        json!({"tenant": {"tier": "sandbox"}, "stats": {"events_24h": 10}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v,
        json!({"dry_run": true, "tenant": "globex", "exempt": ["flags"]})
    );
    let (st, v) = call(
        &s,
        "ops",
        "PUT",
        "/v1/monitor/tenants/globex",
        json!({"tenant": "sandbox"}),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    // Ten minutes silent: acme is exempt (pages no one), globex is down.
    let (_, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/watchers/flags?tenant=acme",
        Value::Null,
    )
    .await;
    assert_eq!(v["state"], "exempt", "{v}");
    assert_eq!(v["pages_at"], Value::Null);
    let (_, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/watchers/flags?tenant=globex",
        Value::Null,
    )
    .await;
    assert_eq!(v["state"], "down", "{v}");
    let (_, a) = call(&s, "root", "GET", "/v1/audit?limit=100", Value::Null).await;
    let outcomes: Vec<&str> = a["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "meta-monitor")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "facts_set").count(),
        2,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "refused").count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn after_a_restart_silence_that_began_while_away_waits_for_the_backlog() {
    const TWO_SECONDS: &str = "tenet 1\npack meta_monitor version \"1.0.0\"\n\nwatcher job {\n  cadence 2s\n  silence_budget 0s\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Sqlite, dir.path());
    let s = start_with(TWO_SECONDS, dir, store.clone(), |_| {}).await;
    // A heartbeat; the sweep ran at start: the monitor was listening then.
    let (st, _) = call(
        &s,
        "cron",
        "POST",
        "/v1/heartbeats",
        json!({"watcher": "job", "source": "x", "at": now_minus(0)}),
    )
    .await;
    assert_eq!(st, 200);
    let kept = s.stop().await;
    // Away for longer than the cadence: `job` went silent while nobody
    // listened, and its sender may still be flushing what it queued.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let s = start_with(TWO_SECONDS, kept, store.clone(), |c| {
        c.monitor.catch_up = std::time::Duration::from_secs(1);
    })
    .await;
    let (_, v) = call(&s, "ops", "GET", "/v1/watchers/job", Value::Null).await;
    assert_eq!(v["state"], "late", "{v}");
    assert!(
        v["why"].as_str().unwrap().contains("not declared down"),
        "{v}"
    );
    assert_eq!(v["pages_at"], Value::Null);
    // Caught up, and still nothing came: down.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, v) = call(&s, "ops", "GET", "/v1/watchers/job", Value::Null).await;
    assert_eq!(v["state"], "down", "{v}");
    s.stop().await;
}

#[tokio::test]
async fn the_monitors_own_silence_is_loud() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Sqlite, dir.path());
    // Sweeps every 100 ms, but nothing runs them after the first round
    // (as if the sweeping replica hung): within 300 ms health says silent.
    let s = start_with(SANDBOX, dir, store, |c| {
        c.sweeps.interval = std::time::Duration::from_millis(100);
    })
    .await;
    let h = s.get("/v1/health").await;
    assert_eq!(h["monitor"]["sweep"], "ok", "{h}");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let h = s.get("/v1/health").await;
    assert_eq!(h["monitor"]["sweep"], "silent", "{h}");
    assert_eq!(h["status"], "silent", "{h}");
    assert!(
        h["reason"]
            .as_str()
            .unwrap()
            .contains("the meta-monitor's sweep last ran at"),
        "{h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_gone_the_monitor_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Postgres, dir.path());
    let s = start_with(PACK, dir, store.clone(), |_| {}).await;
    let (st, _) = call(&s, "cron", "POST", "/v1/ping/backup", Value::Null).await;
    assert_eq!(st, 200);
    // The database goes away under the server (its connections are cut).
    common::drop_database(&store);
    // Nothing is answered as recorded or as a state it could not read.
    let (st, v) = call(&s, "cron", "POST", "/v1/ping/backup", Value::Null).await;
    assert_eq!(st, 503, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("nothing was done"),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "cron",
        "POST",
        "/v1/heartbeats",
        json!({"watcher": "backup", "source": "x", "at": now_minus(1)}),
    )
    .await;
    assert_eq!(st, 503, "{v}");
    for path in ["/v1/watchers", "/v1/watchers/backup", "/v1/meta-incidents"] {
        let (st, v) = call(&s, "ops", "GET", path, Value::Null).await;
        assert_eq!(st, 503, "{path}: {v}");
    }
    // And the monitor's sweep cannot run: it says so instead of passing.
    assert!(tenet_server::routes::monitor::sweep(&s.state).is_err());
}

/// A page the channel does not take is not lost: the next sweep makes it
/// due again and pages anew (audited `page_undelivered`), for as long as
/// the channel is down and the watcher with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_page_is_sent_again_by_the_next_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Sqlite, dir.path());
    let s = start_with(FAST, dir, store, |c| {
        c.sweeps.interval = std::time::Duration::from_millis(100);
        c.monitor.notify = Some(common::hook(&common::dead_url()));
    })
    .await;
    let fleet = tenet_server::fleet::start(&s.state);
    let (st, _) = call(&s, "cron", "POST", "/v1/ping/pulse", Value::Null).await;
    assert_eq!(st, 200);
    let failed = |s: &Server| {
        s.state
            .metrics
            .render()
            .lines()
            .find(|l| {
                l.starts_with("tenet_monitor_notices_total{kind=\"silence\",result=\"failed\"}")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    eventually("the silence page tried twice", || failed(&s) >= 2).await;
    let (_, a) = call(&s, "root", "GET", "/v1/audit?limit=1000", Value::Null).await;
    let undelivered: Vec<&Value> = a["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "page_undelivered")
        .collect();
    assert!(!undelivered.is_empty(), "{a}");
    assert_eq!(undelivered[0]["details"]["page"], "silence", "{a}");
    // One incident all along, paged once per try.
    let (_, v) = call(
        &s,
        "ops",
        "GET",
        "/v1/meta-incidents?state=open",
        Value::Null,
    )
    .await;
    assert_eq!(v["incidents"].as_array().unwrap().len(), 1, "{v}");
    drop(fleet);
}
