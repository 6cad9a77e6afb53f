//! The HTTP JSON config center against a real server on 127.0.0.1 that
//! keeps documents in memory with ETags and can be told to fail, hang or
//! change a document behind the caller's back: reads and conditional
//! writes, provisioning through it on both stores (idempotent), and every
//! fault refused with nothing written and no change-log entry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::config_center::{CenterError, ConfigCenter, Http};
use tenet_autoconfig::engine::{provision, Provisioned, Run};
use tenet_autoconfig::store::{self as st, Step, StepError};
use tenet_runtime::load::{load_bundled, Rules};
use tenet_store::testing::fresh;
use tenet_store::{conformance, Store};

const T0: i64 = 1_796_083_200_000;

#[derive(Default)]
struct Fake {
    docs: HashMap<String, (Value, u64)>,
    /// `fail`: 500 on everything; `hang`: never answer in time; `drift`:
    /// the document changes after every read (someone else writes).
    mode: String,
    writes: usize,
}

type Shared = Arc<Mutex<Fake>>;

async fn read(State(s): State<Shared>, Path(t): Path<String>) -> Response {
    let mode = s.lock().unwrap().mode.clone();
    match mode.as_str() {
        "fail" => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "hang" => tokio::time::sleep(Duration::from_secs(5)).await,
        _ => {}
    }
    let mut g = s.lock().unwrap();
    let Some((doc, v)) = g.docs.get(&t).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if mode == "drift" {
        g.docs.insert(t, (doc.clone(), v + 1));
    }
    ([("etag", format!("\"v{v}\""))], Json(doc)).into_response()
}

async fn write(
    State(s): State<Shared>,
    Path(t): Path<String>,
    h: HeaderMap,
    Json(doc): Json<Value>,
) -> Response {
    let mut g = s.lock().unwrap();
    if g.mode == "fail" {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let current = g.docs.get(&t).map(|(_, v)| format!("\"v{v}\""));
    let ok = match (h.get("if-match"), h.get("if-none-match")) {
        (Some(m), _) => current.as_deref() == m.to_str().ok(),
        (None, Some(_)) => current.is_none(),
        (None, None) => false,
    };
    if !ok {
        return StatusCode::PRECONDITION_FAILED.into_response();
    }
    let v = g.docs.get(&t).map_or(1, |(_, v)| v + 1);
    g.docs.insert(t, (doc, v));
    g.writes += 1;
    ([("etag", format!("\"v{v}\""))], StatusCode::OK).into_response()
}

/// The fake config center on 127.0.0.1, on a runtime of its own.
fn start() -> (String, Shared, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/config/{tenant}", get(read).put(write))
        .with_state(Arc::clone(&state));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/config"), state, rt)
}

fn center(base: &str) -> Http {
    Http::new(base, Duration::from_millis(500))
}

#[test]
fn reads_and_conditional_writes() {
    let (base, fake, _rt) = start();
    let c = center(&base);
    let empty = c.read("acme").unwrap();
    assert_eq!((empty.document.clone(), empty.version), (json!({}), None));
    let v1 = c
        .write("acme", None, &json!({"tls": {"min_version": "1.2"}}))
        .unwrap();
    assert_eq!(v1, "\"v1\"");
    let back = c.read("acme").unwrap();
    assert_eq!(back.document["tls"]["min_version"], "1.2");
    assert_eq!(back.version.as_deref(), Some("\"v1\""));
    // A first write over an existing document, or a stale version: refused.
    assert!(matches!(
        c.write("acme", None, &json!({})),
        Err(CenterError::Conflict(_))
    ));
    let v2 = c
        .write(
            "acme",
            Some("\"v1\""),
            &json!({"tls": {"min_version": "1.3"}}),
        )
        .unwrap();
    assert!(matches!(
        c.write("acme", Some("\"v1\""), &json!({})),
        Err(CenterError::Conflict(_))
    ));
    assert_eq!(c.read("acme").unwrap().version, Some(v2));
    assert_eq!(fake.lock().unwrap().writes, 2);
    // A tenant id that cannot be a URL segment never leaves the process.
    assert!(matches!(c.read("../x"), Err(CenterError::BadTenant(_))));
}

#[test]
fn faults_are_errors_within_the_timeout() {
    let (base, fake, _rt) = start();
    let c = center(&base);
    fake.lock().unwrap().mode = "fail".into();
    match c.read("acme") {
        Err(CenterError::Io(m)) => assert!(
            m.ends_with("answered 500 Internal Server Error to a read")
                || m.contains("answered 500"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.write("acme", None, &json!({})),
        Err(CenterError::Io(_))
    ));
    fake.lock().unwrap().mode = "hang".into();
    let started = Instant::now();
    match c.read("acme") {
        Err(CenterError::Io(m)) => assert!(m.contains("no answer within 500 ms"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // Nobody listening.
    let gone = center("http://127.0.0.1:9/config");
    assert!(matches!(gone.read("acme"), Err(CenterError::Io(_))));
}

fn rules() -> Arc<Rules> {
    Arc::new(load_bundled().unwrap())
}

fn apply(
    store: &mut Store,
    rules: &Arc<Rules>,
    c: &Arc<Http>,
    tenant: &str,
) -> Result<Provisioned, StepError> {
    let (rules, c) = (Arc::clone(rules), Arc::clone(c));
    st::with_tenant(store, tenant, move |rec| {
        if rec.facts.is_empty() {
            rec.facts = json!({"tier": "production", "compliance": "pci", "frameworks": ["pci"]})
                .as_object()
                .cloned()
                .unwrap();
        }
        let pack = tenet_autoconfig::pack(&rules).map_err(|e| e.to_string())?;
        let b = Baselines::read(&pack)?;
        let base = b.get("regulated").ok_or("no baseline")?;
        let run = Run {
            now: T0,
            dry_run: false,
            actor: "test".into(),
            action_id: "a-1".into(),
        };
        let (p, changes) = provision(&pack, base, c.as_ref(), rec, &run)?;
        Ok(Step {
            write: p.written,
            changes,
            audit: Vec::new(),
            out: p,
        })
    })
}

conformance!(
    provisioning_through_http_is_idempotent_and_faults_write_nothing,
    |kind, dir| {
        let (base, fake, _rt) = start();
        let c = Arc::new(center(&base));
        c.write(
            "payco",
            None,
            &json!({"tls": {"min_version": "1.1"}, "mfa": {"required": true}}),
        )
        .unwrap();
        let mut store = st::open(&fresh(kind, dir)).unwrap();
        let rules = rules();
        let first = apply(&mut store, &rules, &c, "payco").unwrap();
        assert!(first.written);
        assert_eq!(
            c.read("payco").unwrap().document["tls"]["min_version"],
            "1.3"
        );
        let logged = st::changes(&store, "payco", 100).unwrap().len();
        assert!(logged >= 1);
        let again = apply(&mut store, &rules, &c, "payco").unwrap();
        assert!(!again.written, "applying twice changes nothing");
        let writes = fake.lock().unwrap().writes;

        // The center fails, hangs, or the document changes between read and write:
        // refused, nothing written there, no change-log entry.
        c.write("globex", None, &json!({"tls": {"min_version": "1.0"}}))
            .unwrap();
        let writes = writes + 1;
        for mode in ["fail", "hang", "drift"] {
            fake.lock().unwrap().mode = mode.into();
            match apply(&mut store, &rules, &c, "globex") {
                Err(StepError::Refused(why)) => {
                    if mode == "drift" {
                        assert!(why.contains("changed since it was read"), "{why}");
                    }
                }
                other => panic!("{mode}: {:?}", other.map(|p| p.written)),
            }
            assert_eq!(fake.lock().unwrap().writes, writes, "{mode}");
            assert!(
                st::changes(&store, "globex", 100).unwrap().is_empty(),
                "{mode}"
            );
        }
        fake.lock().unwrap().mode = String::new();
        assert_eq!(
            c.read("globex").unwrap().document["tls"]["min_version"],
            "1.0"
        );
        assert_eq!(st::changes(&store, "payco", 100).unwrap().len(), logged);
    }
);
