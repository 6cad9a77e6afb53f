//! The safety workflows over HTTP, on SQLite and on PostgreSQL: the flow
//! from preflight to one execution, every bypass refused and audited,
//! tenant isolation (404), bad input, the approvers' channel down (deny
//! or escalate, never allow), and two replicas on one PostgreSQL racing
//! 100 executes of one approved action.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, dead_url, hook, identity, receiver, Server};
use serde_json::{json, Value};
use std::sync::Arc;
use tenet_server::config::Config;
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

/// A safety pack without a hold, so the flow runs to execution now.
const PACK: &str = r#"tenet 1
pack safety version "1.0.0"

action drop-table {
  match             action.verb == "drop"
  risk              high
  require           [dual_control, justification]
  approvers         ["dba", "sre"]
  justification_min 20

  quorum dba {
    filter  "dba" in reviewer.roles
    approve 1
    deny    1
  }

  break_glass {
    roles      ["sre"]
    reason_min 20
  }
}

action cross-tenant-copy {
  match                     action.verb == "copy" and action.source_tenant != action.target_tenant
  risk                      critical
  approvers                 ["dba"]
  on_dependency_unavailable escalate
}

test drops-need-a-dba {
  input  {action: {verb: "drop", table: "orders"}}
  expect ["drop-table"]
}
"#;

const TOKENS: &[(&str, &[&str], &str)] = &[
    ("alice", &["safety", "engineer"], "acme"),
    ("dana", &["safety", "dba"], "acme"),
    ("sam", &["safety", "sre"], "acme"),
    ("eve", &["safety", "engineer"], "acme"),
    ("gina", &["safety", "dba"], "globex"),
    ("audra", &["auditor"], "acme"),
    ("root", &["admin"], "acme"),
];

fn token(name: &str) -> String {
    format!("token-of-{name}")
}

fn safety_config(dir: &std::path::Path, store: tenet_store::Location) -> Config {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("safety.tenet"), PACK).unwrap();
    let mut c = config(dir, RulesSource::Dir(rules));
    c.store = store;
    c.identities = TOKENS
        .iter()
        .map(|(n, roles, tenant)| {
            let mut i = identity(n, &token(n), roles);
            i.tenant = Some(tenant.to_string());
            i
        })
        .collect();
    c.limits.rate_per_second = 0;
    c
}

async fn start(kind: Kind) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let c = safety_config(dir.path(), store);
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
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r.status, v)
}

fn drop_orders() -> Value {
    json!({"verb": "drop", "table": "orders", "tenant": "acme"})
}

/// The shared audit log, newest first, as an admin reads it.
async fn audit_log(s: &Server) -> Vec<Value> {
    let (st, v) = call(s, "root", "GET", "/v1/audit?limit=1000", Value::Null).await;
    assert_eq!(st, 200, "{v}");
    v["events"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no events in {v}"))
}

async fn flow(kind: Kind) {
    let s = start(kind).await;
    // A quiet action: nothing required, nothing kept.
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": {"verb": "select"}}),
    )
    .await;
    assert_eq!(
        (st, v["outcome"].as_str()),
        (200, Some("nothing_required")),
        "{v}"
    );
    assert!(v.get("action_id").is_none(), "{v}");

    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders(), "context": {"why": "cleanup"}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["outcome"].as_str(), v["state"].as_str()),
        (Some("required"), Some("pending")),
        "{v}"
    );
    let id = v["action_id"].as_str().unwrap().to_string();
    let nonce = v["nonce"].as_str().unwrap().to_string();
    assert!(id.starts_with("act-") && id.len() == 36, "{id}");
    assert_eq!(nonce.len(), 64);
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        v["links"]["reviews"],
        format!("/v1/safety/actions/{id}/reviews")
    );
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .starts_with("alice (tenant acme) asks to drop"),
        "{v}"
    );
    let base = format!("/v1/safety/actions/{id}");

    // Bypasses, each refused with its code.
    let refuse = |st: u16, v: &Value, status: u16, code: &str| {
        assert_eq!((st, v["code"].as_str()), (status, Some(code)), "{v}");
        assert_eq!(v["status"], status);
    };
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    refuse(st, &v, 403, "self_review");
    let (st, v) = call(
        &s,
        "eve",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    refuse(st, &v, 403, "not_a_reviewer");
    let (st, v) = call(
        &s,
        "gina",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    refuse(st, &v, 404, "not_found");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    refuse(st, &v, 409, "not_approved");
    // The SRE may review (allowed) but counts toward no quorum.
    let (st, v) = call(
        &s,
        "sam",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve", "comment": "fine by me"}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("reviewed")), "{v}");
    let (st, v) = call(
        &s,
        "dana",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(
        (st, v["outcome"].as_str(), v["action"]["state"].as_str()),
        (200, Some("approved"), Some("approved")),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "dana",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "deny"}),
    )
    .await;
    refuse(st, &v, 409, "closed");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    refuse(st, &v, 409, "missing_confirmation");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/confirm"),
        json!({"justification": "short"}),
    )
    .await;
    refuse(st, &v, 422, "invalid");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/confirm"),
        json!({"justification": "orders moved to the new cluster, OPS-12"}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("confirmed")), "{v}");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": "0".repeat(64)}),
    )
    .await;
    refuse(st, &v, 409, "nonce_mismatch");
    let (st, v) = call(
        &s,
        "eve",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    refuse(st, &v, 403, "not_requester");
    // One execution, then a replay.
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("executed")), "{v}");
    assert_eq!(v["grant"]["action_id"], id.as_str());
    assert_eq!(v["action"]["state"], "executed");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    refuse(st, &v, 409, "replay");

    // The record: history, reviews, no nonce.
    let (st, v) = call(&s, "alice", "GET", &base, Value::Null).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["uses"], 1);
    assert!(
        v.get("nonce").is_none() || v["nonce"].is_null(),
        "the nonce is shown once: {v}"
    );
    let steps: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["preflight", "review", "review", "confirm", "execute"]
    );
    assert_eq!(v["reviews"][0]["counted"], json!([]));
    assert_eq!(v["reviews"][1]["counted"], json!(["drop-table/dba"]));
    let (st, _) = call(&s, "gina", "GET", &base, Value::Null).await;
    assert_eq!(st, 404);
    let (st, v) = call(&s, "gina", "GET", "/v1/safety/actions", Value::Null).await;
    assert_eq!(
        (st, v["actions"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "audra",
        "GET",
        "/v1/safety/actions?state=executed",
        Value::Null,
    )
    .await;
    assert_eq!(
        (st, v["actions"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{v}"
    );

    // Every attempt is in the audit log, refusals above all.
    let events = audit_log(&s).await;
    let mine: Vec<String> = events
        .iter()
        .filter(|e| e["subject"] == id.as_str())
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "pending",
        "refused:self_review",
        "refused:not_a_reviewer",
        "refused:other_tenant",
        "refused:not_approved",
        "reviewed",
        "approved",
        "refused:closed",
        "refused:missing_confirmation",
        "refused:invalid",
        "confirmed",
        "refused:nonce_mismatch",
        "refused:not_requester",
        "executed",
        "refused:replay",
    ] {
        assert!(
            mine.iter().any(|o| o == want),
            "no `{want}` event for {id}: {mine:?}"
        );
    }
    // A forged id: 404, audited.
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/actions/act-forged/execute",
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    refuse(st, &v, 404, "not_found");
    let events = audit_log(&s).await;
    assert!(events
        .iter()
        .any(|e| e["subject"] == "act-forged" && e["outcome"] == "refused:not_found"));
    // Steps and refusals are counted in /metrics.
    let auth = format!("Bearer {}", token("root"));
    let m = s
        .send("GET", "/metrics", &[("Authorization", &auth)], b"")
        .await
        .text();
    for line in [
        "tenet_safety_steps_total{step=\"execute\",outcome=\"executed\"} 1",
        "tenet_safety_steps_total{step=\"execute\",outcome=\"refused:replay\"} 1",
        "tenet_safety_steps_total{step=\"review\",outcome=\"refused:self_review\"} 1",
        "tenet_safety_steps_total{step=\"preflight\",outcome=\"pending\"} 1",
    ] {
        assert!(m.contains(line), "no `{line}` in\n{m}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_from_preflight_to_one_execution_on_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_from_preflight_to_one_execution_on_postgres() {
    flow(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_descriptor_voids_the_approvals() {
    let s = start(Kind::Sqlite).await;
    let (_, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    let (id, nonce) = (
        v["action_id"].as_str().unwrap().to_string(),
        v["nonce"].as_str().unwrap().to_string(),
    );
    let base = format!("/v1/safety/actions/{id}");
    call(
        &s,
        "dana",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    call(
        &s,
        "alice",
        "POST",
        &format!("{base}/confirm"),
        json!({"justification": "orders moved to the new cluster, OPS-12"}),
    )
    .await;
    let other = json!({"verb": "drop", "table": "customers", "tenant": "acme"});
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": other, "nonce": nonce}),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("descriptor_changed")),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        &format!("{base}/execute"),
        json!({"action": drop_orders(), "nonce": nonce}),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("closed")), "{v}");
    let (_, v) = call(&s, "alice", "GET", &base, Value::Null).await;
    assert_eq!(v["state"], "cancelled");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_nothing_is_kept() {
    let s = start(Kind::Sqlite).await;
    for (path, body, status) in [
        ("/v1/safety/preflight", &b"{not json"[..], 400),
        (
            "/v1/safety/preflight",
            br#"{"action": "drop everything"}"#,
            422,
        ),
        (
            "/v1/safety/preflight",
            br#"{"action": {}, "actor": {"id": "dana"}}"#,
            422,
        ),
        ("/v1/safety/preflight", br#"{}"#, 422),
        (
            "/v1/safety/actions/act-x/reviews",
            br#"{"decision": "maybe"}"#,
            422,
        ),
        (
            "/v1/safety/actions/act-x/confirm",
            br#"{"justification": 42}"#,
            422,
        ),
    ] {
        let auth = format!("Bearer {}", token("alice"));
        let r = s
            .send("POST", path, &[("Authorization", &auth)], body)
            .await;
        assert_eq!(
            r.status,
            status,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert_eq!(r.ctype(), "application/problem+json");
    }
    let (st, v) = call(
        &s,
        "alice",
        "GET",
        "/v1/safety/actions?cursor=garbage",
        Value::Null,
    )
    .await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = call(
        &s,
        "alice",
        "GET",
        "/v1/safety/actions?state=approvd",
        Value::Null,
    )
    .await;
    assert_eq!(st, 400, "{v}");
    let (_, v) = call(&s, "alice", "GET", "/v1/safety/actions", Value::Null).await;
    assert_eq!(v["actions"], json!([]), "nothing kept");
    // A caller without the safety role: the access pack says no.
    let (st, _) = call(
        &s,
        "audra",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    assert_eq!(st, 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_are_told_and_a_dead_channel_denies_or_escalates() {
    // Channel up: the approvers get the review request, with the id.
    let up = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = safety_config(dir.path(), fresh(Kind::Sqlite, dir.path()));
    c.safety.notify = Some(hook(&up.url));
    let s = Server::with_config(dir, c).await;
    let (_, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    assert_eq!(v["state"], "pending", "{v}");
    let got = up.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0]["kind"].as_str(), got[0]["subject"].as_str()),
        (Some("review_needed"), v["action_id"].as_str())
    );
    assert_eq!(got[0]["payload"]["roles"], json!(["dba", "sre"]));
    s.stop().await;

    // Channel down: `deny` refuses and keeps nothing; `escalate` keeps the
    // action and tells the escalation channel; with that down too, refused.
    let esc = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = safety_config(dir.path(), fresh(Kind::Sqlite, dir.path()));
    c.safety.notify = Some(hook(&dead_url()));
    c.safety.escalation = Some(hook(&esc.url));
    let s = Server::with_config(dir, c).await;
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("blocked")), "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("on_dependency_unavailable deny"),
        "{v}"
    );
    // The failure shows in health.
    let (_, h) = call(&s, "alice", "GET", "/v1/health", Value::Null).await;
    let notify = h["safety_channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "notify")
        .cloned()
        .unwrap();
    assert_eq!(notify["degraded"], true, "{h}");
    assert!(notify["stats"]["failed"].as_u64().unwrap() >= 1, "{h}");
    // And in the audit log.
    let events = audit_log(&s).await;
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "notify_failed" && e["details"]["kind"] == "review_needed"),
        "{events:?}"
    );
    assert!(
        v.get("action_id").is_none() || v["action_id"].is_null(),
        "{v}"
    );
    let copy = json!({"verb": "copy", "source_tenant": "acme", "target_tenant": "globex"});
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": copy}),
    )
    .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("pending")), "{v}");
    let got = esc.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["kind"], "escalation");
    let (_, list) = call(&s, "alice", "GET", "/v1/safety/actions", Value::Null).await;
    assert_eq!(
        list["actions"].as_array().unwrap().len(),
        1,
        "only the escalated copy is kept: {list}"
    );
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut c = safety_config(dir.path(), fresh(Kind::Sqlite, dir.path()));
    c.safety.notify = Some(hook(&dead_url()));
    c.safety.escalation = Some(hook(&dead_url()));
    let s = Server::with_config(dir, c).await;
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": copy}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("blocked")), "{v}");
    let (_, list) = call(&s, "alice", "GET", "/v1/safety/actions", Value::Null).await;
    assert_eq!(list["actions"], json!([]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_race_100_executes_of_one_approved_action_and_one_wins() {
    let dir_a = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Postgres, dir_a.path());
    let dir_b = tempfile::tempdir().unwrap();
    let mut ca = safety_config(dir_a.path(), store.clone());
    ca.replica = "a".into();
    let mut cb = safety_config(dir_b.path(), store);
    cb.replica = "b".into();
    let a = Arc::new(Server::with_config(dir_a, ca).await);
    let b = Arc::new(Server::with_config(dir_b, cb).await);
    let (_, v) = call(
        &a,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    let (id, nonce) = (
        v["action_id"].as_str().unwrap().to_string(),
        v["nonce"].as_str().unwrap().to_string(),
    );
    let base = format!("/v1/safety/actions/{id}");
    let (st, _) = call(
        &b,
        "dana",
        "POST",
        &format!("{base}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = call(
        &a,
        "alice",
        "POST",
        &format!("{base}/confirm"),
        json!({"justification": "orders moved to the new cluster, OPS-12"}),
    )
    .await;
    assert_eq!(st, 200);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let server = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let (path, nonce) = (format!("{base}/execute"), nonce.clone());
        tasks.push(tokio::spawn(async move {
            let (st, v) = call(
                &server,
                "alice",
                "POST",
                &path,
                json!({"action": drop_orders(), "nonce": nonce}),
            )
            .await;
            (st, v["code"].as_str().map(str::to_string))
        }));
    }
    let mut ok = 0;
    let mut replays = 0;
    for t in tasks {
        match t.await.unwrap() {
            (200, _) => ok += 1,
            (409, Some(code)) if code == "replay" => replays += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((ok, replays), (1, 99));
    // 100 audit events for the 100 executes, in the shared log.
    let events = audit_log(&b).await;
    let executes = events
        .iter()
        .filter(|e| e["subject"] == id.as_str() && e["details"]["step"] == "execute")
        .count();
    assert_eq!(executes, 100);
    let (_, v) = call(&b, "alice", "GET", &base, Value::Null).await;
    assert_eq!(
        (v["state"].as_str(), v["uses"].as_u64()),
        (Some("executed"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_and_dry_runs_on_sqlite() {
    idempotency_keys_replay_the_first_answer_and_dry_runs_change_nothing(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_and_dry_runs_on_postgres() {
    idempotency_keys_replay_the_first_answer_and_dry_runs_change_nothing(Kind::Postgres).await;
}

async fn idempotency_keys_replay_the_first_answer_and_dry_runs_change_nothing(kind: Kind) {
    let s = start(kind).await;
    let send = |who: &'static str, path: String, key: Option<&'static str>, body: Value| {
        let s = &s;
        async move {
            let auth = format!("Bearer {}", token(who));
            let mut h = vec![("Authorization", auth.as_str())];
            if let Some(k) = key {
                h.push(("Idempotency-Key", k));
            }
            let bytes = body.to_string().into_bytes();
            let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, *b)).collect();
            s.send("POST", &path, &h, &bytes).await
        }
    };
    let pre = json!({"action": drop_orders()});
    let a = send(
        "alice",
        "/v1/safety/preflight".into(),
        Some("pre-1"),
        pre.clone(),
    )
    .await;
    let b = send(
        "alice",
        "/v1/safety/preflight".into(),
        Some("pre-1"),
        pre.clone(),
    )
    .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(
        a.body, b.body,
        "the retry gets the first answer, byte for byte"
    );
    assert_eq!(b.header("idempotent-replayed"), Some("true"));
    assert!(a.header("idempotent-replayed").is_none());
    let (_, list) = call(&s, "alice", "GET", "/v1/safety/actions", Value::Null).await;
    assert_eq!(
        list["actions"].as_array().unwrap().len(),
        1,
        "one action kept: {list}"
    );
    // The same key with another body, or by another identity (its own key space).
    let c = send(
        "alice",
        "/v1/safety/preflight".into(),
        Some("pre-1"),
        json!({"action": {"verb": "drop", "table": "x"}}),
    )
    .await;
    assert_eq!(c.status, 422, "{}", c.text());
    let d = send(
        "sam",
        "/v1/safety/preflight".into(),
        Some("pre-1"),
        pre.clone(),
    )
    .await;
    assert_eq!(d.status, 200);
    assert_ne!(d.json()["action_id"], a.json()["action_id"]);
    let e = send(
        "alice",
        "/v1/safety/preflight".into(),
        Some("has space"),
        pre.clone(),
    )
    .await;
    assert_eq!(e.status, 400, "{}", e.text());

    let id = a.json()["action_id"].as_str().unwrap().to_string();
    let nonce = a.json()["nonce"].as_str().unwrap().to_string();
    let base = format!("/v1/safety/actions/{id}");
    // A dry run answers what would happen and writes nothing.
    let before = audit_log(&s).await.len();
    let r = send(
        "dana",
        format!("{base}/reviews?dry_run=true"),
        None,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["outcome"].as_str(), r.json()["dry_run"].as_bool()),
        (Some("approved"), Some(true))
    );
    let (_, v) = call(&s, "alice", "GET", &base, Value::Null).await;
    assert_eq!(v["state"], "pending", "{v}");
    assert_eq!(
        audit_log(&s).await.len(),
        before,
        "a dry run writes no event"
    );
    // A refused dry run is refused the same way.
    let r = send(
        "alice",
        format!("{base}/reviews?dry_run=true"),
        None,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(r.status, 403);

    send(
        "dana",
        format!("{base}/reviews"),
        None,
        json!({"decision": "approve"}),
    )
    .await;
    send(
        "alice",
        format!("{base}/confirm"),
        None,
        json!({"justification": "orders moved to the new cluster, OPS-12"}),
    )
    .await;
    let body = json!({"action": drop_orders(), "nonce": nonce});
    let x = send(
        "alice",
        format!("{base}/execute"),
        Some("exec-1"),
        body.clone(),
    )
    .await;
    let y = send(
        "alice",
        format!("{base}/execute"),
        Some("exec-1"),
        body.clone(),
    )
    .await;
    assert_eq!(
        (x.status, y.status),
        (200, 200),
        "a retried execute is the first answer, not a replay refusal"
    );
    assert_eq!(x.body, y.body);
    let z = send("alice", format!("{base}/execute"), Some("exec-2"), body).await;
    assert_eq!(z.status, 409, "a new key is a new attempt: {}", z.text());
    let (_, v) = call(&s, "alice", "GET", &base, Value::Null).await;
    assert_eq!(v["uses"], 1);
    s.stop().await;
}

/// The database name of a PostgreSQL test location.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_gone_nothing_is_allowed_silently() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Postgres, dir.path());
    let store_loc = store.clone();
    let c = safety_config(dir.path(), store);
    let s = Server::with_config(dir, c).await;
    let (_, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    let id = v["action_id"].as_str().unwrap().to_string();
    // The database goes away under the server (its connections are cut).
    common::drop_database(&store_loc);
    // Every answer is an error that says so; none is a quiet yes.
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": drop_orders()}),
    )
    .await;
    assert_eq!(st, 503, "a kept preflight: {v}");
    assert!(v["detail"].as_str().unwrap().contains("fail closed"), "{v}");
    let (st, v) = call(
        &s,
        "alice",
        "POST",
        "/v1/safety/preflight",
        json!({"action": {"verb": "select"}}),
    )
    .await;
    assert_eq!(
        st, 500,
        "a quiet preflight is not answered without its audit event: {v}"
    );
    for (who, path, body) in [
        (
            "dana",
            format!("/v1/safety/actions/{id}/reviews"),
            json!({"decision": "approve"}),
        ),
        (
            "alice",
            format!("/v1/safety/actions/{id}/execute"),
            json!({"action": drop_orders(), "nonce": "x"}),
        ),
        (
            "alice",
            format!("/v1/safety/actions/{id}/cancel"),
            Value::Null,
        ),
    ] {
        let (st, v) = call(&s, who, "POST", &path, body).await;
        assert_eq!(st, 503, "{path}: {v}");
    }
    let (st, _) = call(
        &s,
        "alice",
        "GET",
        &format!("/v1/safety/actions/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 503);
}
