//! Synthetic clusters: one HTTP server on 127.0.0.1 serving the admin API
//! of many clusters, each under `/c/{id}` (its `endpoints.admin`):
//!
//! - `GET /c/{id}/inventory`: the bundle fingerprint it runs;
//! - `POST /c/{id}/bundles` (`Idempotency-Key`): applies a bundle — a key
//!   seen before is answered without applying again;
//! - `GET /c/{id}/metrics`: its metrics (what the gates read);
//! - `POST /c/{id}/exec`: runs the smoke test (`{exit_code, output}`).
//!
//! Each can be told to fail (500), hang (past any timeout) or lie (answer a
//! push 200 and not apply it), for its next N pushes or for ever; every
//! call is counted. Shared by the server's tests, the CLI's and the bench
//! (`#[path]`), so it depends only on axum, tokio and serde_json.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a cluster answers pushes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Ok,
    /// 500 on a push.
    Fail,
    /// A push never answers in time.
    Hang,
    /// A push is answered 200 and not applied.
    Lie,
    /// A push is answered after this long (and applied).
    Slow(Duration),
}

/// One synthetic cluster's state and counts.
#[derive(Debug, Clone)]
pub struct Sim {
    pub mode: Mode,
    /// The mode applies to this many more pushes, then `Ok` (None: always).
    pub mode_for: Option<u32>,
    pub fingerprint: Option<String>,
    pub metrics: Value,
    /// The smoke test's exit code.
    pub exit_code: i64,
    /// Every push call received.
    pub push_calls: u32,
    /// Pushes applied, by idempotency key (a repeated key is not applied).
    pub applied: Vec<String>,
    pub keys: BTreeSet<String>,
    /// Fingerprints applied, in order.
    pub history: Vec<String>,
    pub exec_calls: u32,
    pub metric_calls: u32,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            mode: Mode::Ok,
            mode_for: None,
            fingerprint: Some(OLD.into()),
            metrics: healthy(),
            exit_code: 0,
            push_calls: 0,
            applied: Vec::new(),
            keys: BTreeSet::new(),
            history: Vec::new(),
            exec_calls: 0,
            metric_calls: 0,
        }
    }
}

/// The bundle every synthetic cluster runs before a rollout.
pub const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
/// The bundle rolled out.
pub const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// Metrics every gate of the control_plane pack passes on.
pub fn healthy() -> Value {
    json!({
        "sidecar_restarts_10m": 0,
        "decision_error_rate": 0.0,
        "decision_p99": "5ms",
        "deny_rate_delta": 0.0,
    })
}

#[derive(Default)]
struct Shared {
    sims: BTreeMap<String, Sim>,
    exec_now: u32,
    exec_max: u32,
}

/// The synthetic fleet and its server.
#[derive(Clone)]
pub struct Fleet {
    pub base: String,
    shared: Arc<Mutex<Shared>>,
}

impl Fleet {
    /// Starts the server (on the caller's tokio runtime).
    pub async fn start() -> Fleet {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = axum::Router::new()
            .route("/c/{id}/inventory", get(inventory))
            .route("/c/{id}/bundles", post(push))
            .route("/c/{id}/metrics", get(metrics))
            .route("/c/{id}/exec", post(exec))
            .with_state(Arc::clone(&shared));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        Fleet {
            base: format!("http://{addr}"),
            shared,
        }
    }

    /// Starts the server on a runtime of its own thread (for blocking tests).
    pub fn start_blocking() -> Fleet {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                tx.send(Fleet::start().await).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    }

    /// Adds a cluster; its admin endpoint.
    pub fn add(&self, id: &str, sim: Sim) -> String {
        self.shared.lock().unwrap().sims.insert(id.into(), sim);
        self.admin(id)
    }

    pub fn admin(&self, id: &str) -> String {
        format!("{}/c/{id}", self.base)
    }

    pub fn get(&self, id: &str) -> Sim {
        self.shared.lock().unwrap().sims.get(id).cloned().unwrap()
    }

    pub fn set(&self, id: &str, f: impl FnOnce(&mut Sim)) {
        f(self.shared.lock().unwrap().sims.get_mut(id).unwrap());
    }

    /// Push calls across the fleet.
    pub fn push_calls(&self) -> u32 {
        self.shared
            .lock()
            .unwrap()
            .sims
            .values()
            .map(|s| s.push_calls)
            .sum()
    }

    /// The most smoke tests that ran at once.
    pub fn exec_max(&self) -> u32 {
        self.shared.lock().unwrap().exec_max
    }
}

type St = State<Arc<Mutex<Shared>>>;

async fn inventory(State(s): St, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    let fp = s
        .lock()
        .unwrap()
        .sims
        .get(&id)
        .map(|c| c.fingerprint.clone());
    match fp {
        None => (StatusCode::NOT_FOUND, Json(json!({}))),
        Some(fp) => (
            StatusCode::OK,
            Json(
                json!({"services": {"tenet-sidecar": "2.4.1"}, "bundle_fingerprint": fp, "capabilities": ["tenet-sidecar"]}),
            ),
        ),
    }
}

async fn push(
    State(s): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mode = {
        let mut g = s.lock().unwrap();
        let Some(c) = g.sims.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, Json(json!({})));
        };
        c.push_calls += 1;
        let mode = c.mode;
        match c.mode_for {
            Some(n) if n <= 1 => {
                c.mode = Mode::Ok;
                c.mode_for = None;
            }
            Some(n) => c.mode_for = Some(n - 1),
            None => {}
        }
        mode
    };
    match mode {
        Mode::Fail => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "injected"})),
            )
        }
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return (StatusCode::OK, Json(json!({})));
        }
        Mode::Lie => return (StatusCode::OK, Json(json!({"applied": true}))),
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Ok => {}
    }
    let fp = body["fingerprint"].as_str().unwrap_or("").to_string();
    let mut g = s.lock().unwrap();
    let c = g.sims.get_mut(&id).unwrap();
    if c.keys.insert(key.clone()) {
        c.applied.push(key);
        c.history.push(fp.clone());
        c.fingerprint = Some(fp);
    }
    (StatusCode::OK, Json(json!({"applied": true})))
}

async fn metrics(State(s): St, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    let mut g = s.lock().unwrap();
    match g.sims.get_mut(&id) {
        None => (StatusCode::NOT_FOUND, Json(json!({}))),
        Some(c) => {
            c.metric_calls += 1;
            (StatusCode::OK, Json(c.metrics.clone()))
        }
    }
}

async fn exec(State(s): St, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    let code = {
        let mut g = s.lock().unwrap();
        g.exec_now += 1;
        g.exec_max = g.exec_max.max(g.exec_now);
        let Some(c) = g.sims.get_mut(&id) else {
            g.exec_now -= 1;
            return (StatusCode::NOT_FOUND, Json(json!({})));
        };
        c.exec_calls += 1;
        c.exit_code
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    s.lock().unwrap().exec_now -= 1;
    (
        StatusCode::OK,
        Json(
            json!({"exit_code": code, "output": if code == 0 { "selftest ok" } else { "selftest: 3 of 40 decisions differ" }}),
        ),
    )
}
