//! Autoconfig over HTTP: the diff of a tenant's live configuration, apply
//! (monotonic, idempotent, dry runs and advise mode write nothing, outside
//! the change window a 409 with the next window), the change log, and
//! tenants kept apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

/// One baseline always open, one never (a deny window open all the time).
const PACK: &str = r#"tenet 1
pack autoconfig version "1.0.0"

const tls = ["1.0", "1.1", "1.2", "1.3"]

baseline secure {
  mode       enforce
  applies_to {exists: ["tier"]}

  setting tls.min_version {
    at_least "1.2"
    order    tls
    risk     high
  }

  setting session.idle_timeout {
    at_most   30m
    remediate auto
  }
}

baseline frozen {
  mode enforce

  setting tls.min_version {
    at_least "1.3"
    order    tls
  }

  window always {
    mode     deny
    cron     "* * * * *"
    duration 2m
  }
}

baseline proposal {
  mode advise

  setting tls.min_version {
    at_least "1.3"
    order    tls
  }
}
"#;

async fn start(kind: Kind) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("a.tenet"), PACK).unwrap();
    let center = dir.path().join("center");
    std::fs::create_dir_all(&center).unwrap();
    std::fs::write(
        center.join("acme.json"),
        r#"{"tls": {"min_version": "1.1"}, "session": {"idle_timeout": "2h"}}"#,
    )
    .unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules));
    c.store = store;
    c.autoconfig_dir = center;
    c.identities = vec![
        {
            let mut i = identity("provisioner", "tok-p", &["autoconfig"]);
            i.tenant = None;
            i
        },
        {
            let mut i = identity("acme-bot", "tok-acme", &["autoconfig"]);
            i.tenant = Some("acme".into());
            i
        },
        {
            let mut i = identity("globex-bot", "tok-globex", &["autoconfig"]);
            i.tenant = Some("globex".into());
            i
        },
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

fn center(s: &Server) -> Value {
    serde_json::from_str(&std::fs::read_to_string(s.dir.path().join("center/acme.json")).unwrap())
        .unwrap()
}

async fn flow(kind: Kind) {
    let s = start(kind).await;
    let apply = json!({"tenant": "acme", "facts": {"tier": "production"}});
    // A dry run: what would change; nothing written.
    let (st, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/profiles/secure/apply?dry_run=true",
        apply.clone(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["written"].clone(), v["dry_run"].clone()),
        (json!(false), json!(true)),
        "{v}"
    );
    assert_eq!(v["changed"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(center(&s)["tls"]["min_version"], "1.1");
    // Applied: TLS 1.2 and idle 30m, two change-log entries.
    let (st, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/profiles/secure/apply",
        apply.clone(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["written"], true, "{v}");
    assert_eq!(
        center(&s),
        json!({"tls": {"min_version": "1.2"}, "session": {"idle_timeout": "30m"}})
    );
    let (_, log) = call(&s, "tok-p", "GET", "/v1/tenants/acme/changes", Value::Null).await;
    let entries = log["changes"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert!(
        entries.iter().any(|e| e["setting"] == "tls.min_version"
            && e["from"] == "1.1"
            && e["to"] == "1.2"
            && e["risk"] == "high"),
        "{log}"
    );
    // Again: nothing changes, nothing logged.
    let (_, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/profiles/secure/apply",
        apply.clone(),
    )
    .await;
    assert_eq!(v["written"], false, "{v}");
    let (_, log) = call(&s, "tok-p", "GET", "/v1/tenants/acme/changes", Value::Null).await;
    assert_eq!(log["changes"].as_array().unwrap().len(), 2);
    // The diff: nothing left.
    let (st, v) = call(
        &s,
        "tok-p",
        "GET",
        "/v1/tenants/acme/diff?profile=secure",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        v["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["action"] == "none"),
        "{v}"
    );
    // Advise mode proposes and never writes.
    let (_, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/profiles/proposal/apply",
        json!({"tenant": "acme"}),
    )
    .await;
    assert_eq!(
        (v["written"].clone(), v["mode"].clone()),
        (json!(false), json!("advise")),
        "{v}"
    );
    assert_eq!(center(&s)["tls"]["min_version"], "1.2");
    // Outside the change window: 409 with the next window.
    let (st, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/profiles/frozen/apply",
        json!({"tenant": "acme"}),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("deny window"), "{v}");
    assert_eq!(center(&s)["tls"]["min_version"], "1.2");
    // Remediate: only `remediate auto` settings (the idle timeout).
    std::fs::write(
        s.dir.path().join("center/acme.json"),
        r#"{"tls": {"min_version": "1.0"}, "session": {"idle_timeout": "3h"}}"#,
    )
    .unwrap();
    let (st, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/tenants/acme/remediate",
        json!({"profile": "secure"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let by = |name: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["setting"] == name)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(
        (by("session.idle_timeout"), by("tls.min_version")),
        (json!("fixed"), json!("manual")),
        "{v}"
    );
    assert_eq!(
        center(&s),
        json!({"tls": {"min_version": "1.0"}, "session": {"idle_timeout": "30m"}})
    );
    let (st, _) = call(
        &s,
        "tok-acme",
        "POST",
        "/v1/tenants/acme/remediate",
        json!({"profile": "secure"}),
    )
    .await;
    assert_eq!(st, 403);
    // Tenants apart: acme reads its own; globex gets the 404 of nobody;
    // neither may provision.
    let (st, _) = call(
        &s,
        "tok-acme",
        "GET",
        "/v1/tenants/acme/diff?profile=secure",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    let (st, theirs) = call(
        &s,
        "tok-globex",
        "GET",
        "/v1/tenants/acme/diff?profile=secure",
        Value::Null,
    )
    .await;
    let (st2, nobody) = call(
        &s,
        "tok-p",
        "GET",
        "/v1/tenants/nobody/diff?profile=secure",
        Value::Null,
    )
    .await;
    assert_eq!((st, st2), (404, 404));
    assert_eq!(
        theirs["detail"].as_str().unwrap().replace("acme", "X"),
        nobody["detail"].as_str().unwrap().replace("nobody", "X")
    );
    let (st, _) = call(
        &s,
        "tok-globex",
        "GET",
        "/v1/tenants/acme/changes",
        Value::Null,
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(&s, "tok-acme", "POST", "/v1/profiles/secure/apply", apply).await;
    assert_eq!(st, 403);
    // Bad input.
    for (path, body, status) in [
        ("/v1/profiles/nope/apply", json!({"tenant": "acme"}), 404),
        (
            "/v1/profiles/secure/apply",
            json!({"tenant": "acme", "extra": 1}),
            422,
        ),
        (
            "/v1/profiles/secure/apply",
            json!({"tenant": "../etc"}),
            404,
        ),
    ] {
        let (st, v) = call(&s, "tok-p", "POST", path, body).await;
        assert_eq!(st, status, "{path}: {v}");
    }
}

#[tokio::test]
async fn apply_diff_and_the_change_log_on_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn apply_diff_and_the_change_log_on_postgres() {
    flow(Kind::Postgres).await;
}

/// A server on `store` and the config center `center` (shared by replicas).
async fn replica(
    store: tenet_store::Location,
    set: impl FnOnce(&mut tenet_server::config::Config),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("a.tenet"), PACK).unwrap();
    let mut c = config(dir.path(), RulesSource::Dir(rules));
    c.store = store;
    c.identities = vec![{
        let mut i = identity("provisioner", "tok-p", &["autoconfig"]);
        i.tenant = None;
        i
    }];
    c.limits.rate_per_second = 0;
    set(&mut c);
    Server::with_config(dir, c).await
}

/// Two replicas on one PostgreSQL and one config center, 50 applies for
/// one tenant at once, alternating: one consistent document, and one
/// change-log entry per setting really changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_apply_once() {
    let shared = tempfile::tempdir().unwrap();
    let store = fresh(Kind::Postgres, shared.path());
    let center = shared.path().join("center");
    std::fs::create_dir_all(&center).unwrap();
    std::fs::write(
        center.join("acme.json"),
        r#"{"tls": {"min_version": "1.1"}, "session": {"idle_timeout": "2h"}}"#,
    )
    .unwrap();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let c = center.clone();
        servers.push(std::sync::Arc::new(
            replica(store.clone(), move |cfg| cfg.autoconfig_dir = c).await,
        ));
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = std::sync::Arc::clone(&servers[i % 2]);
        tasks.push(tokio::spawn(async move {
            let body = json!({"tenant": "acme", "facts": {"tier": "production"}});
            call(&s, "tok-p", "POST", "/v1/profiles/secure/apply", body).await
        }));
    }
    let mut written = 0;
    for t in tasks {
        let (st, v) = t.await.unwrap();
        assert_eq!(st, 200, "{v}");
        if v["written"] == true {
            written += 1;
        }
    }
    assert_eq!(
        written, 1,
        "one apply changed the document; the others found it done"
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(center.join("acme.json")).unwrap()).unwrap();
    assert_eq!(
        doc,
        json!({"tls": {"min_version": "1.2"}, "session": {"idle_timeout": "30m"}})
    );
    for s in &servers {
        let (_, log) = call(s, "tok-p", "GET", "/v1/tenants/acme/changes", Value::Null).await;
        assert_eq!(log["changes"].as_array().unwrap().len(), 2, "{log}");
    }
}

/// The config center is unreadable (a file where its folder should be) or
/// down (an HTTP center nobody answers): 503, nothing written, no
/// change-log entry.
#[tokio::test]
async fn a_config_center_down_is_a_503_and_writes_nothing() {
    let shared = tempfile::tempdir().unwrap();
    let not_a_dir = shared.path().join("center");
    std::fs::write(&not_a_dir, "a file, not a folder").unwrap();
    let a = replica(fresh(Kind::Sqlite, shared.path()), move |c| {
        c.autoconfig_dir = not_a_dir
    })
    .await;
    let b = replica(fresh(Kind::Sqlite, shared.path()), |c| {
        c.autoconfig_url = Some("http://127.0.0.1:9/config".into());
        c.autoconfig_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    for s in [&a, &b] {
        let body = json!({"tenant": "acme", "facts": {"tier": "production"}});
        let (st, v) = call(s, "tok-p", "POST", "/v1/profiles/secure/apply", body).await;
        assert_eq!(st, 503, "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("nothing was done"),
            "{v}"
        );
        let (st, v) = call(
            s,
            "tok-p",
            "POST",
            "/v1/tenants/acme/remediate",
            json!({"profile": "secure"}),
        )
        .await;
        assert_eq!(st, 503, "{v}");
        let (st, v) = call(
            s,
            "tok-p",
            "GET",
            "/v1/tenants/acme/diff?profile=secure",
            Value::Null,
        )
        .await;
        assert_eq!(st, 503, "{v}");
        let (_, log) = call(s, "tok-p", "GET", "/v1/tenants/acme/changes", Value::Null).await;
        assert_eq!(log["changes"].as_array().unwrap().len(), 0, "{log}");
    }
    assert_eq!(
        std::fs::read_to_string(shared.path().join("center")).unwrap(),
        "a file, not a folder"
    );
}
