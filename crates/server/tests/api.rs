//! The server's HTTP API, against the real server on 127.0.0.1:0, with a
//! minimal HTTP/1.1 client over a TCP stream. Snapshots live in
//! `snapshots/server/`.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tenet_runtime::store::Store;
use tenet_server::{AppState, RulesSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
    store: PathBuf,
}

impl Server {
    async fn start(source: RulesSource) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join(".tenet/tenet.db");
        let state: Arc<AppState> = AppState::new(source, Store::open(&store).unwrap()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tenet_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Server {
            addr,
            stop: Some(tx),
            task,
            _dir: dir,
            store,
        }
    }

    /// One HTTP/1.1 request; (status, content type, body).
    async fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // A refused oversized body may close the connection early.
        let _ = s.write_all(body).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&out[..split]).to_string();
        let mut body = out[split + 4..].to_vec();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut ctype = String::new();
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-type:") {
                ctype = v.trim().to_string();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                body = dechunk(&body);
            }
        }
        (status, ctype, body)
    }

    async fn json(&self, method: &str, path: &str, body: &Value) -> (u16, String, Value) {
        let (s, c, b) = self
            .request(method, path, body.to_string().as_bytes())
            .await;
        (s, c, serde_json::from_slice(&b).unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let (s, _, b) = self.request("GET", path, b"").await;
        assert_eq!(s, 200);
        serde_json::from_slice(&b).unwrap()
    }

    /// Stops the server (draining it); the store's folder stays until the
    /// returned guard is dropped.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
        self._dir
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn mass_delete() -> Value {
    json!({"pack": "safety", "input": {"action": {"verb": "delete", "rows": 20000, "tenant": "acme"}}})
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo().join("snapshots/server"));
    s.set_prepend_module_to_snapshot(false);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_errors_health_and_audit() {
    let server = Server::start(RulesSource::Bundled).await;

    // health
    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "ok");

    // a decision with a match and the bundle hash
    let (status, ctype, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200, "{d}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(d["schema"], "tenet.decision/v1");
    assert_eq!(d["pack"], "safety");
    assert_eq!(d["matched"][0]["block"], "mass-delete");
    let hash = d["bundle"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    let b = server.get("/v1/bundle").await;
    assert_eq!(b["fingerprint"], hash);
    assert!(b["packs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "safety" && p["version"] == "1.2.0"));
    assert!(b["last_reload_error"].is_null());

    // a second 200 with no match
    let (status, _, d2) = server
        .json(
            "POST",
            "/v1/evaluate",
            &json!({"pack": "safety", "input": {"action": {"verb": "read"}}}),
        )
        .await;
    assert_eq!(status, 200, "{d2}");
    assert!(d2["matched"].as_array().unwrap().is_empty());

    // unknown pack: 404
    let (status, ctype, p) = server
        .json(
            "POST",
            "/v1/evaluate",
            &json!({"pack": "nope", "input": {}}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(p["status"], 404);
    assert!(p["detail"].as_str().unwrap().contains("safety"));

    // malformed JSON: 400
    let (status, ctype, body) = server
        .request("POST", "/v1/evaluate", b"{\"pack\": \"safety\", ")
        .await;
    assert_eq!(status, 400);
    assert_eq!(ctype, "application/problem+json");
    let p: Value = serde_json::from_slice(&body).unwrap();
    snapshot_settings().bind(|| insta::assert_json_snapshot!("malformed_json", p));

    // wrong types: 422
    for bad in [
        json!({"pack": 3, "input": {}}),
        json!({"pack": "safety", "input": [1, 2]}),
        json!({"pack": "safety"}),
        json!([1]),
    ] {
        let (status, ctype, p) = server.json("POST", "/v1/evaluate", &bad).await;
        assert_eq!(status, 422, "{bad} → {p}");
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(p["status"], 422);
    }

    // oversized body: 413
    let big = format!(
        "{{\"pack\": \"safety\", \"input\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, ctype, body) = server.request("POST", "/v1/evaluate", big.as_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(ctype, "application/problem+json");
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["status"], 413);

    // unknown route: 404 problem
    let (status, ctype, _) = server.request("GET", "/v2/nothing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(ctype, "application/problem+json");

    let store = server.store.clone();
    let _keep = server.stop().await;

    // one audit event per 200 evaluation, and none for the errors
    let events = Store::open(&store)
        .unwrap()
        .audit_events(None, 100)
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(e.subject, "safety");
        assert_eq!(e.actor, "anonymous");
        assert_eq!(e.source, "server:evaluate");
        assert_eq!(e.details["bundle"], hash);
    }
    let flagged = events.iter().find(|e| e.outcome != "allowed").unwrap();
    assert!(flagged
        .reason
        .as_deref()
        .unwrap()
        .starts_with("mass-delete"));
    assert_ne!(events[0].action_id, events[1].action_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_keeps_the_last_good_bundle() {
    let rules = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("rules/safety-workflows"), rules.path());
    let server = Server::start(RulesSource::Dir(rules.path().to_path_buf())).await;
    let before = server.get("/v1/bundle").await;
    let hash = before["fingerprint"].as_str().unwrap().to_string();

    // break the rules
    let broken = rules.path().join("broken.tenet");
    std::fs::write(
        &broken,
        "tenet 1\npack broken version \"1.0.0\"\n\naction x {\n  match  nope ==\n}\n",
    )
    .unwrap();
    let (status, ctype, p) = server.json("POST", "/v1/bundle/reload", &json!({})).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(ctype, "application/problem+json");
    assert!(!p["diagnostics"].as_array().unwrap().is_empty(), "{p}");

    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "degraded");
    let b = server.get("/v1/bundle").await;
    assert_eq!(b["fingerprint"], hash.as_str());
    let err = &b["last_reload_error"];
    assert!(
        err["diagnostics"].to_string().contains("broken.tenet"),
        "{err}"
    );

    // the old bundle still answers
    let (status, _, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["bundle"], hash.as_str());

    // a good reload: ok again, on a new bundle
    std::fs::remove_file(&broken).unwrap();
    std::fs::write(
        rules.path().join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.0\"\n",
    )
    .unwrap();
    let (status, _, b) = server.json("POST", "/v1/bundle/reload", &json!({})).await;
    assert_eq!(status, 200, "{b}");
    assert!(b["last_reload_error"].is_null());
    assert_ne!(b["fingerprint"], hash.as_str());
    let h = server.get("/v1/health").await;
    assert_eq!(h["status"], "ok");
    let (status, _, d) = server.json("POST", "/v1/evaluate", &mass_delete()).await;
    assert_eq!(status, 200);
    assert_eq!(d["bundle"], b["fingerprint"]);
    server.stop().await;
}
