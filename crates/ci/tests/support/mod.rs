//! Test support shared by the CI tests (also included by
//! `crates/tenet/tests/ci_cli.rs`): a mock of the GitHub REST API on
//! 127.0.0.1 that records every request, and git repositories made with
//! git2 in a temp dir.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::Router;
use serde_json::{json, Value as Json};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One request the mock saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub auth: Option<String>,
    pub body: Option<Json>,
    pub at: Instant,
}

/// An answer forced on the next request, instead of the API's.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// That status, with a GitHub-style JSON message.
    Status(u16),
    /// 429 with `Retry-After: N`.
    RetryAfter(u64),
    /// 403 with `x-ratelimit-remaining: 0` and a reset N seconds from now.
    Exhausted(u64),
    /// 403 "Resource not accessible by integration" (no rate-limit headers).
    Forbidden,
    /// No answer for that many milliseconds (then a 500).
    Silent(u64),
}

#[derive(Debug, Default)]
pub struct Api {
    pub token: String,
    /// `/api/v3` for a GitHub Enterprise Server layout.
    pub prefix: String,
    /// (id, pr, body)
    pub comments: Vec<(u64, u64, String)>,
    pub next_id: u64,
    pub seen: Vec<Seen>,
    pub faults: VecDeque<Fault>,
    pub per_page: usize,
}

pub struct Mock {
    /// The API root to give `--api-url`.
    pub url: String,
    pub api: Arc<Mutex<Api>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Mock {
    /// A mock accepting `token`, on a random port of 127.0.0.1, in its own
    /// thread (the code under test runs its own runtime).
    pub fn start(token: &str) -> Mock {
        Mock::start_with(token, "")
    }

    pub fn start_with(token: &str, prefix: &str) -> Mock {
        let api = Arc::new(Mutex::new(Api {
            token: token.to_string(),
            prefix: prefix.to_string(),
            next_id: 1000,
            per_page: 2,
            ..Api::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = api.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Mock {
            url: format!("http://127.0.0.1:{port}{prefix}"),
            api,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn fail_next(&self, faults: &[Fault]) {
        self.api
            .lock()
            .unwrap()
            .faults
            .extend(faults.iter().cloned());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.api.lock().unwrap().seen.clone()
    }

    pub fn clear_seen(&self) {
        self.api.lock().unwrap().seen.clear();
    }

    /// Comments of pull request `pr`: (id, body).
    pub fn comments(&self, pr: u64) -> Vec<(u64, String)> {
        self.api
            .lock()
            .unwrap()
            .comments
            .iter()
            .filter(|c| c.1 == pr)
            .map(|c| (c.0, c.2.clone()))
            .collect()
    }

    pub fn add_comment(&self, pr: u64, body: &str) -> u64 {
        let mut a = self.api.lock().unwrap();
        a.next_id += 1;
        let id = a.next_id;
        a.comments.push((id, pr, body.to_string()));
        id
    }
}

fn answer(status: u16, headers: &[(&str, String)], body: Json) -> (StatusCode, HeaderMap, String) {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in headers {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    (StatusCode::from_u16(status).unwrap(), h, body.to_string())
}

fn message(status: u16, text: &str) -> (StatusCode, HeaderMap, String) {
    answer(
        status,
        &[],
        json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }),
    )
}

async fn handle(
    State(api): State<Arc<Mutex<Api>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, String) {
    let silent = {
        let mut a = api.lock().unwrap();
        match a.faults.front() {
            Some(Fault::Silent(ms)) => {
                let ms = *ms;
                a.faults.pop_front();
                Some(ms)
            }
            _ => None,
        }
    };
    if let Some(ms) = silent {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        return message(500, "too late");
    }
    let mut a = api.lock().unwrap();
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    a.seen.push(Seen {
        method: method.to_string(),
        path: path.clone(),
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(&body).ok(),
        at: Instant::now(),
    });
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(format!("Bearer {}", a.token).as_str())
    {
        return message(401, "Bad credentials");
    }
    if let Some(f) = a.faults.pop_front() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        return match f {
            Fault::Status(s) => message(s, "Server Error"),
            Fault::RetryAfter(n) => answer(
                429,
                &[("retry-after", n.to_string())],
                json!({"message": "You have exceeded a secondary rate limit"}),
            ),
            Fault::Exhausted(n) => answer(
                403,
                &[
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", (now + n).to_string()),
                ],
                json!({"message": "API rate limit exceeded"}),
            ),
            Fault::Forbidden => message(403, "Resource not accessible by integration"),
            Fault::Silent(_) => message(500, "unreachable"),
        };
    }
    let Some(rest) = uri.path().strip_prefix(a.prefix.as_str()) else {
        return message(404, "Not Found");
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let page: usize = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    match (method.as_str(), parts.as_slice()) {
        // GitHub's next links use the repository id form.
        ("GET", ["repos", _, _, "issues", n, "comments"])
        | ("GET", ["repositories", _, "issues", n, "comments"]) => {
            let pr: u64 = n.parse().unwrap();
            let all: Vec<Json> = a
                .comments
                .iter()
                .filter(|c| c.1 == pr)
                .map(|c| json!({"id": c.0, "body": c.2, "user": {"login": "github-actions[bot]"}}))
                .collect();
            let per = a.per_page;
            let items: Vec<Json> = all
                .iter()
                .skip((page - 1) * per)
                .take(per)
                .cloned()
                .collect();
            let mut h = Vec::new();
            if page * per < all.len() {
                h.push((
                    "link",
                    format!(
                        "<http://{host}{}/repositories/1/issues/{pr}/comments?per_page=100&page={}>; rel=\"next\"",
                        a.prefix,
                        page + 1
                    ),
                ));
            }
            answer(200, &h, Json::Array(items))
        }
        ("POST", ["repos", _, _, "issues", n, "comments"]) => {
            let pr: u64 = n.parse().unwrap();
            let Some(text) = serde_json::from_slice::<Json>(&body)
                .ok()
                .and_then(|j| j["body"].as_str().map(str::to_string))
            else {
                return message(422, "Validation Failed");
            };
            a.next_id += 1;
            let id = a.next_id;
            a.comments.push((id, pr, text.clone()));
            answer(201, &[], json!({"id": id, "body": text}))
        }
        ("PATCH", ["repos", _, _, "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap();
            let Some(text) = serde_json::from_slice::<Json>(&body)
                .ok()
                .and_then(|j| j["body"].as_str().map(str::to_string))
            else {
                return message(422, "Validation Failed");
            };
            match a.comments.iter_mut().find(|c| c.0 == id) {
                Some(c) => {
                    c.2 = text.clone();
                    answer(200, &[], json!({"id": id, "body": text}))
                }
                None => message(404, "Not Found"),
            }
        }
        _ => message(404, "Not Found"),
    }
}

// ---- git -------------------------------------------------------------------

pub fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Commits `files` (path, Some(bytes) to write, None to delete) on HEAD,
/// at a fixed time so that SHAs are the same on every run.
pub fn commit(repo: &git2::Repository, files: &[(&str, Option<&[u8]>)], message: &str) -> String {
    let root = repo.workdir().unwrap().to_path_buf();
    let mut index = repo.index().unwrap();
    for (path, bytes) in files {
        match bytes {
            Some(b) => {
                write(&root, path, b);
                index.add_path(Path::new(path)).unwrap();
            }
            None => {
                let _ = std::fs::remove_file(root.join(path));
                index.remove_path(Path::new(path)).unwrap();
            }
        }
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let n = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.time().seconds() + 60)
        .unwrap_or(1_700_000_000);
    let sig =
        git2::Signature::new("tenet tests", "tests@tenet.invalid", &git2::Time::new(n, 0)).unwrap();
    let parents: Vec<git2::Commit> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
        .to_string()
}

pub fn text(s: &str) -> Option<&[u8]> {
    Some(s.as_bytes())
}

pub const API_BASE: &str = r##"openapi: 3.0.3
info: {title: Orders, version: "1.0"}
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
components:
  schemas:
    Order:
      type: object
      properties:
        id: {type: string}
        total: {type: number}
        status: {type: string, enum: [open, closed]}
"##;

/// Head: `Order.total` removed from a response (breaking), a response enum
/// value added (behavioral).
pub fn api_head() -> String {
    API_BASE
        .replace("        total: {type: number}\n", "")
        .replace("enum: [open, closed]", "enum: [open, closed, held]")
}

pub const PACK: &str = r#"tenet 1
pack safety version "1.0.0"

taxonomy risk {
  levels [high, low]
}

action mass-delete {
  match    action.verb == "delete" and action.rows >= 10_000
  risk     high
  hold     30m
  because  "deleting {action.rows} rows cannot be undone"
}

test large-delete {
  input       {action: {verb: "delete", rows: 20_000}}
  expect      ["mass-delete"]
  expect_risk high
}
"#;

/// Snapshots without the rules fingerprint, which changes with every edit
/// of the semantic_diff pack.
pub fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("(`") {
        let after = &rest[i + 2..];
        if after.len() > 13
            && after[..12].chars().all(|c| c.is_ascii_hexdigit())
            && after[12..].starts_with('`')
        {
            out.push_str(&rest[..i]);
            out.push_str("(`[fingerprint]`");
            rest = &after[13..];
        } else {
            out.push_str(&rest[..i + 2]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
