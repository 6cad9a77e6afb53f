//! Dark inventory over HTTP, on the bundled pack, on SQLite and
//! PostgreSQL: discoveries in the batch format and in the three parsed
//! formats, findings listed and paged, acknowledged and waived (quiet, but
//! listed), a waiver seen expiring through `?at=`, registration closing a
//! finding, trends, sources; dry runs and refusals write nothing, an
//! `Idempotency-Key` replays, and tenants are kept apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use tenet_dark_inventory::parsers::{parse, Format, Options};
use tenet_runtime::clock::{system_now, Timestamp};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

async fn start(kind: Kind) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.store = store;
    c.identities = vec![
        {
            let mut i = identity("collector", "tok-p", &["inventory", "metrics", "auditor"]);
            i.tenant = None;
            i
        },
        {
            let mut i = identity("acme-bot", "tok-acme", &["inventory"]);
            i.tenant = Some("acme".into());
            i
        },
        {
            let mut i = identity("globex-bot", "tok-globex", &["inventory"]);
            i.tenant = Some("globex".into());
            i
        },
    ];
    c.limits.rate_per_second = 0;
    Server::with_config(dir, c).await
}

async fn raw(
    s: &Server,
    tok: &str,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> common::Resp {
    let auth = format!("Bearer {tok}");
    let mut h = vec![("Authorization", auth.as_str())];
    h.extend_from_slice(extra);
    s.send(method, path, &h, body).await
}

async fn call(s: &Server, tok: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = raw(s, tok, method, path, &bytes, &[]).await;
    (
        r.status,
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        },
    )
}

fn ts(ms: i64) -> String {
    Timestamp::from_millis(ms).rfc3339()
}

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn bucket(name: &str, public: bool) -> Value {
    json!({"type": "aws:s3:bucket", "attributes": {"arn": format!("arn:aws:s3:::{name}"), "name": name, "account_id": "444455556666", "public": public}})
}

fn batch(tenant: Option<&str>, run: &str, at: i64, resources: Vec<Value>) -> Value {
    let mut b = json!({"source": "aws-config", "run": run, "at": ts(at), "resources": resources});
    if let Some(t) = tenant {
        b["tenant"] = json!(t);
    }
    b
}

fn formats() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dark-inventory/formats")
}

async fn findings(s: &Server, tok: &str, query: &str) -> Value {
    let (st, v) = call(s, tok, "GET", &format!("/v1/findings{query}"), Value::Null).await;
    assert_eq!(st, 200, "{v}");
    v
}

fn keys(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect()
}

async fn lifecycle(kind: Kind) {
    let s = start(kind).await;
    let now = system_now().millis();
    let t0 = now - 2 * D;
    // A batch for acme, posted by its own collector.
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        "/v1/discoveries",
        batch(
            None,
            "r1",
            t0,
            vec![
                bucket("acme-a", false),
                bucket("acme-b", false),
                bucket("acme-p", true),
            ],
        ),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["report"]["new"].as_array().unwrap().len(), 3);
    // AWS Config's own format, and kubectl's, converted as `tenet inventory ingest --from` does.
    for (format, file, source, run, cluster) in [
        (
            Format::AwsConfig,
            "aws-config-select.json",
            "aws-config",
            "r2",
            None,
        ),
        (
            Format::Kubectl,
            "kubectl.json",
            "k8s-ingress",
            "k1",
            Some("prod-eu-1".to_string()),
        ),
    ] {
        let doc = std::fs::read(formats().join(file)).unwrap();
        let opts = Options {
            source: source.into(),
            run: run.into(),
            at: Some(t0 + H),
            cluster,
            ..Default::default()
        };
        let b = serde_json::to_value(parse(format, &doc, &opts).unwrap()).unwrap();
        let (st, v) = call(&s, "tok-acme", "POST", "/v1/discoveries", b).await;
        assert_eq!(st, 200, "{v}");
    }

    let all = findings(&s, "tok-acme", "").await;
    // acme-a, -b and -p vanished in r2 (3 of 3: the mass-vanish guard holds); all open.
    assert_eq!(all["total"], 8, "{all}");
    let first = &all["findings"][0];
    assert_eq!(first["severity"], "critical", "highest severity first");
    assert_eq!(first["status"], "open");
    let id_of = |k: &str| {
        all["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == k)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = id_of("arn:aws:s3:::acme-a");
    let b = id_of("arn:aws:s3:::acme-b");
    let exports = id_of("arn:aws:s3:::acme-exports");

    // Acknowledge a; waive b for a day.
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        &format!("/v1/findings/{a}/ack"),
        json!({"note": "owner found"}),
    )
    .await;
    assert_eq!(
        (st, v["changed"].clone(), v["finding"]["status"].clone()),
        (200, json!(true), json!("acknowledged")),
        "{v}"
    );
    let until = ts(now + D);
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        &format!("/v1/findings/{b}/waive"),
        json!({"owner": "data", "justification": "migrating", "until": until}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["finding"]["status"], "waived");
    // Quiet, but listed.
    let open = findings(&s, "tok-acme", "?status=open").await;
    assert_eq!(open["total"], 6);
    assert!(!keys(&open).contains(&"arn:aws:s3:::acme-b".to_string()));
    assert_eq!(findings(&s, "tok-acme", "?status=waived").await["total"], 1);
    assert_eq!(findings(&s, "tok-acme", "").await["total"], 8);
    // In two days the waiver has expired: open again.
    let later = findings(
        &s,
        "tok-acme",
        &format!("?status=open&at={}", ts(now + 2 * D)),
    )
    .await;
    assert!(
        keys(&later).contains(&"arn:aws:s3:::acme-b".to_string()),
        "{later}"
    );
    // Before anything was seen: nothing.
    assert_eq!(
        findings(&s, "tok-acme", &format!("?at={}", ts(t0 - H))).await["total"],
        0
    );
    // As it stood right after r1: three findings.
    assert_eq!(
        findings(&s, "tok-acme", &format!("?at={}", ts(t0 + 1))).await["total"],
        3
    );

    // Paging: two at a time, stable, with a cursor only this query accepts.
    let p1 = findings(&s, "tok-acme", "?limit=3").await;
    let cursor = p1["next_cursor"].as_str().unwrap().to_string();
    let (st, p2) = call(
        &s,
        "tok-acme",
        "GET",
        &format!("/v1/findings?limit=3&cursor={cursor}"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    let mut paged = keys(&p1);
    paged.extend(keys(&p2));
    assert_eq!(
        paged,
        keys(&findings(&s, "tok-acme", "").await)[..6].to_vec()
    );
    // A made-up cursor is refused; a well-formed one is only a place in the order.
    let (st, v) = call(
        &s,
        "tok-acme",
        "GET",
        "/v1/findings?cursor=1.2.f-zz",
        Value::Null,
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["detail"], "`cursor` is not one this server gave out");
    let (st, v) = call(
        &s,
        "tok-acme",
        "GET",
        "/v1/findings?cursor=0.0.f-0000000000000000",
        Value::Null,
    )
    .await;
    assert_eq!((st, v["findings"].as_array().unwrap().len()), (200, 8));

    // A dry-run registration says what would close, and closes nothing.
    let entry = json!({"entries": [{"catalog": "data-stores", "id": "ds-7", "keys": ["arn:aws:s3:::acme-exports"], "owner": "growth", "classification": "internal"}]});
    let (st, v) = call(&s, "tok-acme", "POST", "/v1/catalog?dry_run=true", entry).await;
    assert_eq!((st, v["closed"].as_array().unwrap().len()), (200, 1), "{v}");
    assert_eq!(findings(&s, "tok-acme", "?status=closed").await["total"], 0);

    // Register acme-exports: its finding closes as registered.
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        "/v1/catalog",
        json!({"entries": [{"catalog": "data-stores", "id": "ds-7", "keys": ["arn:aws:s3:::acme-exports"], "owner": "growth", "classification": "internal"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["closed"], json!([exports]));
    let (st, v) = call(
        &s,
        "tok-acme",
        "GET",
        &format!("/v1/findings/{exports}"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        (
            v["finding"]["status"].clone(),
            v["finding"]["closed_reason"].clone()
        ),
        (json!("closed"), json!("registered"))
    );

    // A task moves.
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        &format!("/v1/findings/{a}/tasks/register-bucket"),
        json!({"status": "in_progress"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["finding"]["tasks"][0]["status"], "in_progress");

    // Trends, JSON and SVG.
    let (st, v) = call(
        &s,
        "tok-acme",
        "GET",
        &format!(
            "/v1/findings/trends?every=1d&by=severity&from={}&to={}",
            ts(t0 - D),
            ts(now + D)
        ),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 4);
    assert_eq!(pts[0]["total"], 3, "at t0: the three of r1");
    assert_eq!(
        pts[1]["total"], 8,
        "a day later: everything seen, nothing closed yet"
    );
    let r = raw(
        &s,
        "tok-acme",
        "GET",
        &format!(
            "/v1/findings/trends?format=svg&from={}&to={}",
            ts(t0 - D),
            ts(now)
        ),
        &[],
        &[],
    )
    .await;
    assert_eq!((r.status, r.ctype().as_str()), (200, "image/svg+xml"));
    assert!(r.text().starts_with("<svg"));

    // Sources: aws-config ran two days ago (3h SLO): stale.
    let (st, v) = call(&s, "tok-acme", "GET", "/v1/inventory/sources", Value::Null).await;
    assert_eq!(st, 200);
    let aws = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "aws-config")
        .unwrap();
    assert_eq!(
        (aws["runs"].clone(), aws["stale"].clone()),
        (json!(2), json!(true))
    );
    assert!(aws["last_guard"]
        .as_str()
        .unwrap()
        .starts_with("mass vanish"));
}

#[tokio::test]
async fn lifecycle_sqlite() {
    lifecycle(Kind::Sqlite).await;
}

#[tokio::test]
async fn lifecycle_postgres() {
    lifecycle(Kind::Postgres).await;
}

fn db(s: &Server) -> (usize, usize) {
    let store = tenet_dark_inventory::store::open(&s.store).unwrap();
    let n = tenet_dark_inventory::store::findings(&store, "acme")
        .unwrap()
        .len();
    // Changes audited (refusals are audited too, but change nothing).
    let audits = store
        .audit_events(Some("dark-inventory"), 1000)
        .unwrap()
        .iter()
        .filter(|e| !e.outcome.starts_with("refused"))
        .count();
    (n, audits)
}

#[tokio::test]
async fn dry_runs_refusals_and_retries_write_nothing_twice() {
    let s = start(Kind::Sqlite).await;
    let now = system_now().millis();
    let b = batch(Some("acme"), "r1", now - H, vec![bucket("acme-a", false)]);
    let (st, v) = call(
        &s,
        "tok-p",
        "POST",
        "/v1/discoveries?dry_run=true",
        b.clone(),
    )
    .await;
    assert_eq!((st, v["dry_run"].clone()), (200, json!(true)), "{v}");
    assert_eq!(v["report"]["new"].as_array().unwrap().len(), 1);
    assert_eq!(db(&s), (0, 0));

    // Bad input: nothing written, a clear status.
    for (body, status, says) in [
        (b"{not json".to_vec(), 400, "not valid JSON"),
        (
            br#"{"source": "aws-config"}"#.to_vec(),
            422,
            "missing field",
        ),
        (
            batch(Some("acme"), "r1", now, vec![])
                .to_string()
                .replace("aws-config", "nessus")
                .into_bytes(),
            404,
            "source `nessus` is not declared in the pack",
        ),
        (
            batch(Some("a b"), "r1", now, vec![])
                .to_string()
                .into_bytes(),
            400,
            "tenant `a b` is not",
        ),
        (
            batch(
                Some("acme"),
                "r1",
                now,
                vec![json!({"type": "aws:s3:bucket", "attributes": {}})],
            )
            .to_string()
            .into_bytes(),
            422,
            "resources[0] (aws:s3:bucket without a key)",
        ),
        (
            batch(
                Some("acme"),
                "r1",
                now,
                vec![json!({"type": "aws:s3:bucket", "colour": "red"})],
            )
            .to_string()
            .into_bytes(),
            422,
            "unknown field `colour`",
        ),
    ] {
        let r = raw(&s, "tok-p", "POST", "/v1/discoveries", &body, &[]).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().contains(says),
            "{}",
            r.text()
        );
    }
    assert_eq!(db(&s), (0, 0));

    // The same key and body twice: one run; the answer replayed.
    let key = [("Idempotency-Key", "run-r1")];
    let body = b.to_string().into_bytes();
    let r1 = raw(&s, "tok-p", "POST", "/v1/discoveries", &body, &key).await;
    let r2 = raw(&s, "tok-p", "POST", "/v1/discoveries", &body, &key).await;
    assert_eq!((r1.status, r2.status), (200, 200));
    assert_eq!(r1.json(), r2.json());
    assert_eq!(db(&s), (1, 1));
    // The same key with another body: 422.
    let other = batch(Some("acme"), "r2", now, vec![])
        .to_string()
        .into_bytes();
    assert_eq!(
        raw(&s, "tok-p", "POST", "/v1/discoveries", &other, &key)
            .await
            .status,
        422
    );
    // An older run: 409.
    let old = batch(Some("acme"), "r0", now - D, vec![]);
    let (st, v) = call(&s, "tok-p", "POST", "/v1/discoveries", old).await;
    assert_eq!(st, 409, "{v}");
    // The same run without a key: a duplicate, nothing written.
    let (st, v) = call(&s, "tok-p", "POST", "/v1/discoveries", b).await;
    assert_eq!((st, v["report"]["duplicate"].clone()), (200, json!(true)));
    assert_eq!(db(&s), (1, 1));

    // Every refusal is audited, and counted.
    let (_, audit) = call(&s, "tok-p", "GET", "/v1/audit?limit=1000", Value::Null).await;
    let refusals = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["source"] == "dark-inventory"
                && e["outcome"].as_str().unwrap().starts_with("refused:")
        })
        .count();
    assert!(refusals >= 6, "{audit}");
    let m = raw(&s, "tok-p", "GET", "/metrics", &[], &[]).await.text();
    assert!(
        m.contains("tenet_inventory_runs_total{result=\"refused\"}"),
        "{m}"
    );
    assert!(
        m.contains("tenet_inventory_runs_total{result=\"ingested\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("tenet_inventory_runs_total{result=\"dry_run\"} 1"),
        "{m}"
    );

    let id = findings(&s, "tok-acme", "").await["findings"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A waiver past the pack's 90 days, in the past, or without an owner.
    for body in [
        json!({"owner": "o", "justification": "j", "until": ts(now + 91 * D)}),
        json!({"owner": "o", "justification": "j", "until": ts(now - H)}),
        json!({"owner": "", "justification": "j", "until": ts(now + D)}),
        json!({"owner": "o", "justification": "j", "until": "next week"}),
    ] {
        let (st, v) = call(
            &s,
            "tok-acme",
            "POST",
            &format!("/v1/findings/{id}/waive"),
            body,
        )
        .await;
        assert_eq!(st, 422, "{v}");
    }
    // A dry-run ack changes nothing.
    let (st, v) = call(
        &s,
        "tok-acme",
        "POST",
        &format!("/v1/findings/{id}/ack?dry_run=true"),
        json!({}),
    )
    .await;
    assert_eq!(
        (st, v["finding"]["status"].clone()),
        (200, json!("acknowledged"))
    );
    assert_eq!(
        findings(&s, "tok-acme", "").await["findings"][0]["status"],
        "open"
    );
    assert_eq!(db(&s), (1, 1));
    // Unknown finding, unknown task.
    assert_eq!(
        call(
            &s,
            "tok-acme",
            "POST",
            "/v1/findings/f-0000000000000000/ack",
            json!({})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &s,
            "tok-acme",
            "POST",
            &format!("/v1/findings/{id}/tasks/paint-it"),
            json!({"status": "done"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &s,
            "tok-acme",
            "POST",
            &format!("/v1/findings/{id}/tasks/register-bucket"),
            json!({"status": "finished"})
        )
        .await
        .0,
        422
    );
    // Bad queries.
    for q in [
        "?status=lost",
        "?at=yesterday",
        "?limit=0",
        "?cursor=3.0000000000000000",
    ] {
        assert_eq!(
            call(
                &s,
                "tok-acme",
                "GET",
                &format!("/v1/findings{q}"),
                Value::Null
            )
            .await
            .0,
            400,
            "{q}"
        );
    }
    assert_eq!(
        call(&s, "tok-p", "GET", "/v1/findings?tenant=a%20b", Value::Null)
            .await
            .0,
        400
    );
    for q in ["?every=0d", "?every=soon", "?by=colour", "?to=tomorrow"] {
        assert_eq!(
            call(
                &s,
                "tok-acme",
                "GET",
                &format!("/v1/findings/trends{q}"),
                Value::Null
            )
            .await
            .0,
            400,
            "{q}"
        );
    }
    assert_eq!(db(&s), (1, 1));
}

#[tokio::test]
async fn tenants_are_kept_apart() {
    let s = start(Kind::Sqlite).await;
    let now = system_now().millis();
    for (tok, name) in [("tok-acme", "acme-x"), ("tok-globex", "globex-x")] {
        let (st, v) = call(
            &s,
            tok,
            "POST",
            "/v1/discoveries",
            batch(None, "r1", now - H, vec![bucket(name, false)]),
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
    let acme = findings(&s, "tok-acme", "").await;
    assert_eq!(keys(&acme), vec!["arn:aws:s3:::acme-x"]);
    let globex = findings(&s, "tok-globex", "").await;
    let gid = globex["findings"][0]["id"].as_str().unwrap().to_string();
    // Another tenant's finding is the 404 of one that does not exist, on every route.
    let (st, v) = call(
        &s,
        "tok-acme",
        "GET",
        &format!("/v1/findings/{gid}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (st, v["detail"].clone()),
        (404, json!(format!("no finding `{gid}`")))
    );
    for (path, body) in [
        (format!("/v1/findings/{gid}/ack"), json!({})),
        (
            format!("/v1/findings/{gid}/waive"),
            json!({"owner": "o", "justification": "j", "until": ts(now + D)}),
        ),
        (
            format!("/v1/findings/{gid}/tasks/register-bucket"),
            json!({"status": "done"}),
        ),
    ] {
        assert_eq!(
            call(&s, "tok-acme", "POST", &path, body).await.0,
            404,
            "{path}"
        );
    }
    // Naming another tenant: 404 too, and nothing is written there.
    for (m, p, b) in [
        ("GET", "/v1/findings?tenant=globex".to_string(), Value::Null),
        (
            "GET",
            "/v1/findings/trends?tenant=globex".to_string(),
            Value::Null,
        ),
        (
            "GET",
            format!("/v1/findings/{gid}?tenant=globex"),
            Value::Null,
        ),
        (
            "GET",
            "/v1/inventory/sources?tenant=globex".to_string(),
            Value::Null,
        ),
        (
            "POST",
            "/v1/discoveries".to_string(),
            batch(Some("globex"), "r9", now, vec![bucket("sneaky", false)]),
        ),
        (
            "POST",
            "/v1/catalog".to_string(),
            json!({"tenant": "globex", "entries": []}),
        ),
    ] {
        let (st, v) = call(&s, "tok-acme", m, &p, b).await;
        assert_eq!(st, 404, "{m} {p}: {v}");
    }
    assert_eq!(
        keys(&findings(&s, "tok-globex", "").await),
        vec!["arn:aws:s3:::globex-x"]
    );
    // The platform names the tenant.
    assert_eq!(
        keys(&findings(&s, "tok-p", "?tenant=globex").await),
        vec!["arn:aws:s3:::globex-x"]
    );
    assert_eq!(
        findings(&s, "tok-p", "").await["total"],
        0,
        "`default` is empty"
    );
    // An Idempotency-Key is scoped to the query too: the same key about
    // another tenant is refused, not answered with the first reply.
    let key = [
        ("Authorization", "Bearer tok-p"),
        ("Idempotency-Key", "ack-1"),
    ];
    let first = s
        .send(
            "POST",
            &format!("/v1/findings/{gid}/ack?tenant=globex"),
            &key,
            b"{}",
        )
        .await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = s
        .send(
            "POST",
            &format!("/v1/findings/{gid}/ack?tenant=globex"),
            &key,
            b"{}",
        )
        .await;
    assert_eq!(
        (again.status, again.body.clone()),
        (200, first.body.clone()),
        "a replay"
    );
    let other = s
        .send(
            "POST",
            &format!("/v1/findings/{gid}/ack?tenant=default"),
            &key,
            b"{}",
        )
        .await;
    assert_eq!(
        other.status,
        422,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
}
