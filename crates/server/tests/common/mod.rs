//! The test harness: the real server on 127.0.0.1:0 and a minimal
//! HTTP/1.1 client over a TCP stream (so tests control every byte).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenet_server::config::{hash_token, Config, Identity};
use tenet_server::{AppState, RulesSource};
use tenet_store::Location;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

pub struct Server {
    pub addr: std::net::SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _watch: tenet_server::watch::WatchGuard,
    pub dir: tempfile::TempDir,
    pub store: Location,
}

/// A response: status, headers (lowercase names), body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn ctype(&self) -> String {
        self.header("content-type").unwrap_or("").to_string()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// A config for tests: the store in `dir`, no watcher unless asked.
pub fn config(dir: &Path, rules: RulesSource) -> Config {
    Config {
        rules,
        store: Location::Sqlite(dir.join(".tenet/tenet.db")),
        addr: "127.0.0.1:0".parse().unwrap(),
        watch: false,
        ..Config::default()
    }
}

/// An identity with `roles` whose token is `token`.
pub fn identity(name: &str, token: &str, roles: &[&str]) -> Identity {
    Identity {
        name: name.into(),
        token_sha256: Some(hash_token(token)),
        client_san: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        tenant: Some("acme".into()),
        rate_per_second: None,
        traits: Default::default(),
    }
}

impl Server {
    pub async fn start(source: RulesSource) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), source);
        Server::with_config(dir, c).await
    }

    pub async fn with_config(dir: tempfile::TempDir, config: Config) -> Server {
        let store = config.store.clone();
        let state: Arc<AppState> = AppState::new(config).unwrap();
        let watch = tenet_server::watch::start(&state).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(tenet_server::serve(
            listener,
            Arc::clone(&state),
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            addr,
            state,
            stop: Some(tx),
            task,
            _watch: watch,
            dir,
            store,
        }
    }

    /// One HTTP/1.1 request with extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        // A refused oversized body may close the connection early.
        let _ = s.write_all(body).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        parse_response(&out)
    }

    pub async fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let r = self.send(method, path, &[], body).await;
        (r.status, r.ctype(), r.body)
    }

    pub async fn json(&self, method: &str, path: &str, body: &Value) -> (u16, String, Value) {
        let (s, c, b) = self
            .request(method, path, body.to_string().as_bytes())
            .await;
        (s, c, serde_json::from_slice(&b).unwrap())
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, _, b) = self.request("GET", path, b"").await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        serde_json::from_slice(&b).unwrap()
    }

    /// Stops the server (draining it); the store's folder stays until the
    /// returned guard is dropped.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
        self.dir
    }
}

pub fn parse_response(out: &[u8]) -> Resp {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut body = out[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
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

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn copy_dir(from: &Path, to: &Path) {
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

pub fn mass_delete() -> Value {
    json!({"pack": "safety", "input": {"action": {"verb": "delete", "rows": 20000, "tenant": "acme"}}})
}

pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo().join("snapshots/server"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// A webhook receiver on loopback that records what it is sent.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Value>>>,
}

pub async fn receiver() -> Receiver {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let g = Arc::clone(&g);
            async move {
                g.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    Receiver { url, got }
}

pub fn hook(url: &str) -> tenet_notify::config::WebhookConfig {
    let mut w = tenet_notify::config::WebhookConfig::new(url);
    w.retries = 0;
    w.timeout = Duration::from_millis(500);
    w
}

/// An address nothing listens on.
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/hook")
}

/// Drops a test's PostgreSQL database under a running server (its
/// connections are cut): the store is gone.
pub fn drop_database(loc: &Location) {
    let url = tenet_store::testing::url(loc);
    let path = url.split('?').next().unwrap();
    let name = path.rsplit('/').next().unwrap().to_string();
    let admin = Location::parse(&tenet_store::testing::postgres_url()).unwrap();
    let Location::Postgres(admin) = admin else {
        panic!("not a PostgreSQL location")
    };
    let pg = tenet_store::Pg::connect(&admin).unwrap();
    let drop = format!("DROP DATABASE {name} WITH (FORCE)");
    pg.block_on(move |pool| async move {
        pool.get().await?.batch_execute(&drop).await?;
        Ok(())
    })
    .unwrap();
}
pub mod synthetic;
