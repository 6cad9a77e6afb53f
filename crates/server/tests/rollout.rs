//! The fan-out over HTTP against synthetic clusters on loopback: bundles
//! registered, rolled out canary first (smoke test, gates, bake), partial
//! failures retried and quarantined while the rest of the fleet stays
//! consistent, auto-pause at a stage's error rate, `on_fail` pause,
//! rollback and freeze, the guards refusing a plan before any push, dry
//! runs that call no cluster, resume from the per-cluster cursor, and two
//! replicas on one PostgreSQL pushing each cluster once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::synthetic::{Fleet, Mode, Sim, NEW, OLD};
use common::{config, copy_dir, identity, repo, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

/// The served rules: the repository's, with the drill rollout appended to
/// the control_plane pack (`on_fail` as given).
fn rules(dir: &std::path::Path, on_fail: &str) -> RulesSource {
    let to = dir.join("rules");
    copy_dir(&repo().join("rules"), &to);
    let cp = to.join("control-plane/control_plane.tenet");
    let drill = std::fs::read_to_string(repo().join("fixtures/control-plane/drill.tenet"))
        .unwrap()
        .replace(
            "on_fail          pause",
            &format!("on_fail          {on_fail}"),
        );
    let mut text = std::fs::read_to_string(&cp).unwrap();
    text.push_str(&drill);
    std::fs::write(&cp, text).unwrap();
    RulesSource::Dir(to)
}

struct Opts {
    kind: Kind,
    on_fail: &'static str,
    notify: Option<String>,
}

fn opts(kind: Kind) -> Opts {
    Opts {
        kind,
        on_fail: "pause",
        notify: None,
    }
}

/// A server whose `control_plane.notify` is a local receiver, and an
/// empty synthetic fleet.
async fn notified(mut o: Opts) -> (common::Receiver, Server, Fleet) {
    let r = common::receiver().await;
    o.notify = Some(r.url.clone());
    let s = start_with(&o, None).await;
    (r, s, Fleet::start().await)
}

/// A synthetic cluster that behaves as `mode` on every push.
fn sim(mode: Mode) -> Sim {
    Sim {
        mode,
        ..Sim::default()
    }
}

async fn start_with(o: &Opts, store: Option<tenet_store::Location>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = store.unwrap_or_else(|| fresh(o.kind, dir.path()));
    let mut c = config(dir.path(), rules(dir.path(), o.on_fail));
    c.store = store;
    c.identities = vec![
        {
            let mut i = identity("release-bot", "tok-r", &["fleet", "auditor"]);
            i.tenant = None;
            i
        },
        {
            let mut i = identity("alice", "tok-dev", &["fleet"]);
            i.tenant = None;
            i.traits.insert("role".into(), vec!["developer".into()]);
            i
        },
        identity("acme-bot", "tok-acme", &["fleet"]),
    ];
    c.limits.rate_per_second = 0;
    c.sweeps.interval = Duration::from_millis(100);
    c.control_plane.timeout = Duration::from_millis(250);
    // One smoke test at a time: a wave of two must take turns.
    c.control_plane.exec_parallel = 1;
    c.control_plane.notify = o.notify.as_deref().map(common::hook);
    let s = Server::with_config(dir, c).await;
    // The sweeps run as under `tenet serve` (the rollout driver is one).
    // Dropping the handle detaches the task: it runs until the test ends.
    drop(tenet_server::fleet::start(&s.state));
    s
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

/// Registers the drill fleet: `canary` and `f1`..`f{n}`, each running OLD.
async fn fleet(s: &Server, f: &Fleet, n: usize, sims: &[(&str, Sim)]) {
    let mut ids = vec![("canary".to_string(), "canary")];
    ids.extend((1..=n).map(|i| (format!("f{i}"), "fleet")));
    for (id, ring) in ids {
        let sim = sims
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let admin = f.add(&id, sim);
        let body = json!({"id": id, "env": "staging", "region": "eu-west-1", "labels": {"drill": "true", "ring": ring}, "endpoints": {"admin": admin}});
        let (st, v) = call(s, "tok-r", "POST", "/v1/clusters", body).await;
        assert_eq!(st, 200, "{v}");
        let (st, _) = call(
            s,
            "tok-r",
            "POST",
            &format!("/v1/clusters/{id}/inventory"),
            json!({"bundle_fingerprint": OLD}),
        )
        .await;
        assert_eq!(st, 200);
    }
    let (st, v) = call(
        s,
        "tok-r",
        "POST",
        "/v1/bundles",
        json!({"name": "drill-bundle", "version": "2.0.0", "fingerprint": NEW}),
    )
    .await;
    assert!(st == 201 || st == 200, "{st} {v}");
}

async fn apply(s: &Server) -> String {
    let (st, v) = call(
        s,
        "tok-r",
        "POST",
        "/v1/bundles/apply",
        json!({"bundle": "drill-bundle@2.0.0"}),
    )
    .await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(
        v["links"]["self"],
        format!("/v1/actions/{}", v["id"].as_str().unwrap())
    );
    v["id"].as_str().unwrap().to_string()
}

/// Polls the run until `done` holds on it (at most 20 s).
async fn until(s: &Server, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let (st, v) = call(s, "tok-r", "GET", &format!("/v1/actions/{id}"), Value::Null).await;
        assert_eq!(st, 200, "{v}");
        if done(&v) {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the run never became {what}: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn state_is(want: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["state"] == want
}

fn cluster<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

async fn outcomes(s: &Server, subject: &str) -> Vec<String> {
    let (_, v) = call(s, "tok-r", "GET", "/v1/audit?limit=1000", Value::Null).await;
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == subject && e["source"] == "control-plane")
        .map(|e| e["outcome"].as_str().unwrap().to_string())
        .collect()
}

async fn reaches_every_cluster(kind: Kind) {
    let s = start_with(&opts(kind), None).await;
    let f = Fleet::start().await;
    fleet(&s, &f, 8, &[]).await;
    let id = apply(&s).await;
    let run = until(&s, &id, "succeeded", state_is("succeeded")).await;
    assert_eq!(run["counts"], json!({"succeeded": 9}), "{run:#}");
    assert_eq!(run["reason"], Value::Null);
    for c in std::iter::once("canary".to_string()).chain((1..=8).map(|i| format!("f{i}"))) {
        let sim = f.get(&c);
        assert_eq!(sim.fingerprint.as_deref(), Some(NEW), "{c}");
        assert_eq!(
            (sim.push_calls, sim.applied.len()),
            (1, 1),
            "{c} was pushed once"
        );
    }
    // Canary first: smoke-tested and measured before the fleet moved.
    let canary = f.get("canary");
    assert_eq!(canary.exec_calls, 1);
    assert!(canary.metric_calls >= 1);
    assert_eq!(f.get("f1").exec_calls, 1);
    assert_eq!(
        f.exec_max(),
        1,
        "control_plane.exec_parallel 1: never two smoke tests at once"
    );
    let c = cluster(&run, "canary");
    assert_eq!(c["gates"]["drill/canary/drill-errors"]["failures"], 0);
    assert_eq!(c["stage"], "canary");
    assert_eq!(cluster(&run, "f8")["wave"], 4, "25% of 8 is 2 per wave");
    let (_, audit) = call(&s, "tok-r", "GET", "/v1/audit?limit=1000", Value::Null).await;
    let order: Vec<String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "cluster_pushed")
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 9);
    assert_eq!(
        order.iter().position(|c| c == "canary"),
        Some(order.len() - 1),
        "newest first: the canary was pushed before every other cluster"
    );
    // The verified inventories are in the registry: no drift on the bundle.
    let (_, v) = call(
        &s,
        "tok-r",
        "GET",
        "/v1/clusters?selector=ring=fleet",
        Value::Null,
    )
    .await;
    assert!(v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["inventory"]["bundle_fingerprint"] == NEW));
    // A finished run is not resumable.
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("nothing to resume"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_reaches_every_cluster_canary_first_sqlite() {
    reaches_every_cluster(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_reaches_every_cluster_canary_first_postgres() {
    reaches_every_cluster(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_cluster_is_retried_then_quarantined_and_the_fleet_goes_on() {
    let (r, s, f) = notified(opts(Kind::Sqlite)).await;
    let bad = sim(Mode::Fail);
    let liar = sim(Mode::Lie);
    // f3 is 1 of 4 tried (25%), f6 2 of 6 (33%): under the fleet stage's 40%.
    fleet(&s, &f, 8, &[("f3", bad), ("f6", liar)]).await;
    let id = apply(&s).await;
    let run = until(&s, &id, "succeeded", state_is("succeeded")).await;
    assert_eq!(
        run["counts"],
        json!({"succeeded": 7, "quarantined": 2}),
        "{run:#}"
    );
    let reason = run["reason"].as_str().unwrap();
    assert!(
        reason.contains("quarantined, the bundle not verified on them: f3, f6"),
        "{reason}"
    );
    let f3 = cluster(&run, "f3");
    assert_eq!(f3["attempts"], 3);
    assert!(
        f3["because"]
            .as_str()
            .unwrap()
            .contains("3 failed push(es) in a row"),
        "{f3}"
    );
    assert_eq!(f3["last_error"], "the cluster answered 500 to the push");
    let f6 = cluster(&run, "f6");
    assert!(
        f6["last_error"]
            .as_str()
            .unwrap()
            .contains("acknowledged the push but reports fingerprint"),
        "{f6}"
    );
    assert_eq!(f.get("f3").push_calls, 3, "the breaker stops at 3");
    assert_eq!(f.get("f6").fingerprint.as_deref(), Some(OLD));
    // Logged: two retriable failures, then the quarantine.
    let log = outcomes(&s, "f3").await;
    assert_eq!(
        log.iter().filter(|o| *o == "push_failed").count(),
        2,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|o| *o == "cluster_quarantined").count(),
        1
    );
    // The other clusters are consistent: each has the bundle, pushed once.
    for c in ["canary", "f1", "f2", "f4", "f5", "f7", "f8"] {
        assert_eq!(
            (f.get(c).fingerprint.as_deref(), f.get(c).push_calls),
            (Some(NEW), 1),
            "{c}"
        );
    }
    // The quarantines were notified.
    let t = Instant::now();
    while r
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "cluster_quarantined")
        .count()
        < 2
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{:?}",
            r.got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Fixed, resumed: only the two are pushed again.
    f.set("f3", |c| c.mode = Mode::Ok);
    f.set("f6", |c| c.mode = Mode::Ok);
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["retry"], json!(["f3", "f6"]));
    let run = until(&s, &id, "succeeded again", |v| {
        v["state"] == "succeeded" && v["counts"]["succeeded"] == 9
    })
    .await;
    assert_eq!(run["reason"], Value::Null);
    for c in ["canary", "f1", "f2", "f4", "f5", "f7", "f8"] {
        assert_eq!(
            f.get(c).push_calls,
            1,
            "{c} succeeded before and is not pushed again"
        );
    }
    assert_eq!(f.get("f3").fingerprint.as_deref(), Some(NEW));
    assert_eq!(f.get("f6").fingerprint.as_deref(), Some(NEW));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_pauses_when_its_error_rate_passes_the_threshold() {
    let (r, s, f) = notified(opts(Kind::Sqlite)).await;
    let hang = sim(Mode::Hang);
    fleet(&s, &f, 4, &[("canary", hang)]).await;
    let id = apply(&s).await;
    let run = until(&s, &id, "paused", state_is("paused")).await;
    let why = run["paused_because"].as_str().unwrap();
    assert!(
        why.starts_with("paused because stage `canary`'s error rate is 1 of the 1 cluster(s) tried (100%), above its pause_on_error_rate of 1%: canary was quarantined"),
        "{why}"
    );
    let last = cluster(&run, "canary")["last_error"].as_str().unwrap();
    assert!(
        last.ends_with("no answer within 250 ms"),
        "every call has a timeout: {last}"
    );
    assert_eq!(
        f.push_calls(),
        3,
        "only the canary was called, 3 times; the fleet waits"
    );
    for c in ["f1", "f2", "f3", "f4"] {
        assert_eq!(cluster(&run, c)["state"], "pending");
    }
    let t = Instant::now();
    while !r
        .got
        .lock()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "action_paused")
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{:?}",
            r.got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still paused a while later: nothing moves a paused run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.push_calls(), 3);
    f.set("canary", |c| c.mode = Mode::Ok);
    let (st, _) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    let run = until(&s, &id, "succeeded", state_is("succeeded")).await;
    assert_eq!(run["counts"], json!({"succeeded": 5}));
}

async fn failing_gate(on_fail: &'static str) -> (Server, Fleet, String, Value) {
    let mut o = opts(Kind::Sqlite);
    o.on_fail = on_fail;
    let s = start_with(&o, None).await;
    let f = Fleet::start().await;
    let sick = Sim {
        metrics: json!({"decision_error_rate": 0.05}),
        ..Sim::default()
    };
    fleet(&s, &f, 4, &[("canary", sick)]).await;
    let id = apply(&s).await;
    let run = until(&s, &id, "stopped", |v| {
        v["state"] == "paused" || v["state"] == "failed"
    })
    .await;
    (s, f, id, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gate_pauses_the_run_under_on_fail_pause() {
    let (s, f, id, run) = failing_gate("pause").await;
    assert_eq!(run["state"], "paused");
    assert_eq!(
        run["paused_because"],
        "paused because gate `drill-errors` failed on canary: 1 failed measurement(s), more than its failure_limit of 0"
    );
    assert_eq!(cluster(&run, "canary")["state"], "failed");
    assert_eq!(f.push_calls(), 1, "the fleet was not touched");
    // Resumed with the canary still sick: it fails again.
    let (st, _) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    let run = until(&s, &id, "paused again", state_is("paused")).await;
    assert_eq!(cluster(&run, "canary")["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gate_rolls_back_under_on_fail_rollback() {
    let (s, f, id, run) = failing_gate("rollback").await;
    assert_eq!(run["state"], "failed", "{run:#}");
    let reason = run["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("rolling back because gate `drill-errors` failed on canary"),
        "{reason}"
    );
    assert!(
        reason.ends_with("every pushed cluster has its previous bundle back"),
        "{reason}"
    );
    assert_eq!(f.get("canary").history, [NEW, OLD]);
    assert_eq!(cluster(&run, "canary")["state"], "rolled_back");
    assert_eq!(f.get("f1").push_calls, 0);
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 409, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gate_freezes_under_on_fail_freeze() {
    let (s, f, id, run) = failing_gate("freeze").await;
    assert_eq!(run["state"], "failed");
    assert_eq!(run["frozen"], true);
    assert_eq!(f.get("canary").history, [NEW], "left as it is");
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        &format!("/v1/actions/{id}/resume"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 409);
    assert!(v["detail"].as_str().unwrap().contains("frozen"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_without_data_pauses_past_its_inconclusive_limit() {
    let s = start_with(&opts(Kind::Sqlite), None).await;
    let f = Fleet::start().await;
    let blind = Sim {
        metrics: json!({}),
        ..Sim::default()
    };
    fleet(&s, &f, 4, &[("canary", blind)]).await;
    let id = apply(&s).await;
    let run = until(&s, &id, "paused", state_is("paused")).await;
    assert_eq!(
        run["paused_because"],
        "paused because gate `drill-errors` was inconclusive on canary: 1 measurement(s) without data, more than its inconclusive_limit of 0"
    );
    assert_eq!(
        cluster(&run, "canary")["state"],
        "baking",
        "no data is not a failure"
    );
    assert_eq!(f.get("f1").push_calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guards_refuse_a_plan_before_anything_is_pushed_and_a_dry_run_calls_nobody() {
    let s = start_with(&opts(Kind::Sqlite), None).await;
    let f = Fleet::start().await;
    fleet(&s, &f, 4, &[]).await;
    // Dry run: the plan, no run kept, no cluster called.
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        "/v1/bundles/apply?dry_run=true",
        json!({"bundle": "drill-bundle"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["plan"]["stages"][0]["clusters"], json!(["canary"]));
    assert_eq!(
        v["plan"]["stages"][1]["per_wave"], 1,
        "25% of 4, at least 1"
    );
    // A production cluster outside the allowlist joins the drill fleet.
    let admin = f.add("prod-ap-south-1a", Sim::default());
    let body = json!({"id": "prod-ap-south-1a", "env": "prod", "region": "ap-south-1", "labels": {"drill": "true", "ring": "fleet"}, "endpoints": {"admin": admin}});
    assert_eq!(call(&s, "tok-r", "POST", "/v1/clusters", body).await.0, 200);
    let (st, v) = call(
        &s,
        "tok-r",
        "POST",
        "/v1/bundles/apply",
        json!({"bundle": "drill-bundle@2.0.0"}),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    let refused: Vec<&str> = v["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("guard `prod-allowlist` denies wave")),
        "{refused:?}"
    );
    // A developer may not target production at all.
    let (st, v) = call(
        &s,
        "tok-dev",
        "POST",
        "/v1/bundles/apply",
        json!({"bundle": "drill-bundle@2.0.0"}),
    )
    .await;
    assert_eq!(st, 422);
    assert!(
        v["refused"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("alice is a developer and the plan targets production")),
        "{v}"
    );
    // Narrowed by a selector to staging, the plan is allowed (dry run).
    let (st, v) = call(
        &s,
        "tok-dev",
        "POST",
        "/v1/bundles/apply?dry_run=true",
        json!({"bundle": "drill-bundle@2.0.0", "selector": "env=staging"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(f.push_calls(), 0, "nothing was pushed");
    let (_, v) = call(&s, "tok-r", "GET", "/v1/actions", Value::Null).await;
    assert_eq!(v["actions"], json!([]), "no run was kept");
    let log = outcomes(&s, "drill-bundle@2.0.0").await;
    assert_eq!(
        log.iter().filter(|o| *o == "apply_refused").count(),
        2,
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let s = start_with(&opts(Kind::Sqlite), None).await;
    let f = Fleet::start().await;
    fleet(&s, &f, 2, &[]).await;
    let cases = [
        (
            "POST",
            "/v1/bundles",
            json!({"name": "x", "version": "1", "fingerprint": "md5:abc"}),
            422,
            "fingerprint `md5:abc`",
        ),
        (
            "POST",
            "/v1/bundles",
            json!({"name": "x", "version": "1", "fingerprint": NEW, "dependencies": [{"name": "base", "version": "9"}]}),
            409,
            "dependency base@9 is not registered",
        ),
        (
            "POST",
            "/v1/bundles",
            json!({"name": "drill-bundle", "version": "2.0.0", "fingerprint": OLD}),
            409,
            "a bundle never changes",
        ),
        (
            "POST",
            "/v1/bundles",
            json!({"name": "x y", "version": "1", "fingerprint": NEW}),
            422,
            "bundle name `x y`",
        ),
        (
            "POST",
            "/v1/bundles/apply",
            json!({"bundle": "nope@1"}),
            404,
            "no bundle `nope@1` is registered",
        ),
        (
            "POST",
            "/v1/bundles/apply",
            json!({"bundle": "drill-bundle", "rollout": "nope"}),
            404,
            "no rollout `nope`",
        ),
        (
            "POST",
            "/v1/clusters",
            json!({"id": "x", "endpoints": {"admin": "ftp://h/"}}),
            422,
            "endpoint `admin` is not an http:// or https:// URL",
        ),
        (
            "POST",
            "/v1/bundles/apply",
            json!({"bundle": "drill-bundle", "selector": "a=b,,c"}),
            422,
            "is not a selector",
        ),
        (
            "POST",
            "/v1/bundles/apply",
            json!({"bundle": "drill-bundle", "extra": 1}),
            422,
            "unknown field",
        ),
        (
            "GET",
            "/v1/actions/nope",
            Value::Null,
            404,
            "no action run `nope`",
        ),
        (
            "POST",
            "/v1/actions/nope/resume",
            Value::Null,
            404,
            "no action run `nope`",
        ),
        (
            "GET",
            "/v1/actions?state=lost",
            Value::Null,
            400,
            "not a run state",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let (st, v) = call(&s, "tok-r", method, path, body.clone()).await;
        assert_eq!(st, status, "{method} {path} {body}: {v}");
        assert!(
            v["detail"].as_str().unwrap_or("").contains(says),
            "{method} {path}: {v}"
        );
    }
    let (_, v) = call(&s, "tok-r", "GET", "/v1/bundles", Value::Null).await;
    assert_eq!(
        v["bundles"].as_array().unwrap().len(),
        1,
        "only the drill bundle: {v}"
    );
    // A tenant's identity: 403 on every route.
    for (method, path) in [
        ("POST", "/v1/bundles/apply"),
        ("GET", "/v1/actions"),
        ("GET", "/v1/bundles"),
    ] {
        let (st, _) = call(
            &s,
            "tok-acme",
            method,
            path,
            json!({"bundle": "drill-bundle"}),
        )
        .await;
        assert_eq!(st, 403, "{method} {path}");
    }
    assert_eq!(f.push_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_push_each_cluster_once() {
    let o = opts(Kind::Postgres);
    let a = start_with(&o, None).await;
    let b = start_with(&o, Some(a.store.clone())).await;
    let f = Fleet::start().await;
    fleet(&a, &f, 8, &[]).await;
    let id = apply(&b).await;
    let run = until(&a, &id, "succeeded", state_is("succeeded")).await;
    assert_eq!(run["counts"], json!({"succeeded": 9}));
    for c in std::iter::once("canary".to_string()).chain((1..=8).map(|i| format!("f{i}"))) {
        assert_eq!(f.get(&c).applied.len(), 1, "{c} applied once");
        assert_eq!(f.get(&c).push_calls, 1, "{c} called once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_drift_is_notified_once() {
    let (r, s, f) = notified(opts(Kind::Sqlite)).await;
    fleet(&s, &f, 1, &[]).await;
    let (st, v) = call(
        &s,
        "tok-r",
        "PUT",
        "/v1/fleet/desired",
        json!({"desired": [{"bundle_fingerprint": NEW}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    for round in 0..2 {
        let (st, v) = call(
            &s,
            "tok-r",
            "POST",
            "/v1/clusters/f1/inventory",
            json!({"bundle_fingerprint": OLD}),
        )
        .await;
        assert_eq!(st, 200);
        let new = v["new"].as_array().unwrap().len();
        assert_eq!(new, if round == 0 { 2 } else { 0 }, "{v}");
    }
    let t = Instant::now();
    let drifts = || {
        r.got
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "drift_detected" && n["subject"] == "f1")
            .cloned()
            .collect::<Vec<_>>()
    };
    while drifts().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{:?}",
            r.got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = drifts();
    assert_eq!(d.len(), 1, "announced once: {d:?}");
    assert_eq!(d[0]["payload"]["expected"], NEW);
    assert_eq!(d[0]["payload"]["observed"], OLD);
}
