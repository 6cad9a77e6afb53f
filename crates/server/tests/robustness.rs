//! Bad input is answered and never crashes the server: deep nesting, slow
//! clients, garbage; graceful shutdown finishes what is in flight.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::time::{Duration, Instant};
use tenet_server::RulesSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn quick_limits() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.limits.header_timeout = Duration::from_millis(300);
    c.limits.request_timeout = Duration::from_millis(500);
    Server::with_config(dir, c).await
}

fn nested(depth: usize) -> String {
    format!(
        "{{\"pack\": \"safety\", \"input\": {{\"deep\": {}1{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_and_garbage_are_answered() {
    let s = Server::start(RulesSource::Bundled).await;
    // Within serde_json's depth limit: decided.
    let (status, _, _) = s
        .request("POST", "/v1/evaluate", nested(100).as_bytes())
        .await;
    assert_eq!(status, 200);
    // Beyond it: a 400 naming the problem, not a stack overflow.
    let (status, ctype, body) = s
        .request("POST", "/v1/evaluate", nested(100_000).as_bytes())
        .await;
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"));
    assert!(String::from_utf8_lossy(&body).contains("recursion limit"));
    for garbage in [
        &b"\xff\xfe\x00"[..],
        b"",
        b"null",
        b"\"pack\"",
        b"{\"pack\": \"safety\", \"input\": {}, \"extra\": 1}",
    ] {
        let (status, ctype, _) = s.request("POST", "/v1/evaluate", garbage).await;
        assert!(status == 400 || status == 422, "{garbage:?} → {status}");
        assert_eq!(ctype, "application/problem+json");
    }
    // Still serving.
    assert_eq!(s.get("/v1/health").await["status"], "ok");
    s.stop().await;
}

/// Each route has its body limit: `/v1/diff` its own, the others
/// `limits.body_bytes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_has_its_body_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.limits.body_bytes = 1024;
    c.limits.diff_body_bytes = 64 * 1024;
    let s = Server::with_config(dir, c).await;
    let diff = |n: usize| {
        serde_json::json!({"base": {"notes.txt": "x".repeat(n)}, "head": {}}).to_string()
    };
    let evaluate = format!(
        "{{\"pack\": \"safety\", \"input\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(2048)
    );
    let (status, ctype, _) = s.request("POST", "/v1/evaluate", evaluate.as_bytes()).await;
    assert_eq!((status, ctype.as_str()), (413, "application/problem+json"));
    let (status, _, body) = s.request("POST", "/v1/diff", diff(2048).as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, ctype, _) = s
        .request("POST", "/v1/diff", diff(128 * 1024).as_bytes())
        .await;
    assert_eq!((status, ctype.as_str()), (413, "application/problem+json"));
    // A route without a body still has the limit.
    let (status, _, _) = s.request("POST", "/v1/bundle/reload", &[b' '; 2048]).await;
    assert_eq!(status, 413);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let s = quick_limits().await;

    // A head that never ends: the connection is closed after the header
    // timeout, without tying the server up.
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf))
        .await
        .expect("closed within the header timeout");
    assert!(
        n.is_err() || buf.is_empty() || buf.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // A body that trickles in: 408 with a problem body.
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"pack\"")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out))
        .await
        .expect("answered within the request timeout")
        .unwrap();
    let r = parse_response(&out);
    assert_eq!(r.status, 408, "{}", r.text());
    assert_eq!(r.ctype(), "application/problem+json");
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("request_timeout"));

    // Others are served meanwhile and after.
    assert_eq!(s.get("/v1/health").await["status"], "ok");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let s = Server::start(RulesSource::Bundled).await;
    let body = mass_delete().to_string();
    // Start a request: send the head and half the body.
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let (a, b) = body.as_bytes().split_at(body.len() / 2);
    c.write_all(a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Shut down while it is in flight; then finish sending.
    let addr = s.addr;
    let stopping = tokio::spawn(s.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.write_all(b).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let r = parse_response(&out);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["matched"][0]["block"], "mass-delete");
    let _dir = stopping.await.unwrap();
    // New connections are refused once it has stopped.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diffs_wait_for_a_turn_and_time_out_in_the_queue() {
    let s = quick_limits().await;
    let body = serde_json::json!({"base": {}, "head": {}}).to_string();
    // Take every turn, as long-running diffs would.
    let n = s.state.diffs.available_permits();
    assert!(n >= 1);
    let held = std::sync::Arc::clone(&s.state.diffs)
        .acquire_many_owned(n as u32)
        .await
        .unwrap();
    let (status, ctype, _) = s.request("POST", "/v1/diff", body.as_bytes()).await;
    assert_eq!((status, ctype.as_str()), (408, "application/problem+json"));
    // Evaluations do not queue behind diffs.
    let (status, _, _) = s
        .request("POST", "/v1/evaluate", mass_delete().to_string().as_bytes())
        .await;
    assert_eq!(status, 200);
    drop(held);
    let (status, _, r) = s
        .json(
            "POST",
            "/v1/diff",
            &serde_json::json!({"base": {}, "head": {}}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(s.state.diffs.available_permits(), n);
    s.stop().await;
}
