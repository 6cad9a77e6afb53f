//! Bearer tokens, the `server` access pack, rate limits, with identities
//! configured. The pack's own tests (`rules/server/server.tenet`) cover
//! its table; these check the server applies its decisions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tenet_server::RulesSource;

async fn secured() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.identities = vec![
        identity("ci-bot", "tok-eval", &["evaluator"]),
        identity("ops", "tok-ops", &["operator"]),
        identity("root", "tok-admin", &["admin"]),
    ];
    let mut slow = identity("chatty", "tok-chatty", &["evaluator"]);
    slow.rate_per_second = Some(1);
    c.identities.push(slow);
    c.limits.burst = 2;
    Server::with_config(dir, c).await
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// A request with `Authorization: Bearer TOKEN`.
trait SendAs {
    async fn send_as(&self, token: &str, method: &str, path: &str, body: &[u8]) -> Resp;
}

impl SendAs for Server {
    async fn send_as(&self, token: &str, method: &str, path: &str, body: &[u8]) -> Resp {
        self.send(method, path, &[("Authorization", &bearer(token))], body)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_the_access_pack_decide_who_calls_what() {
    let s = secured().await;
    let body = mass_delete().to_string();

    // No token: 401 with a challenge and the pack's reason.
    let r = s.send("POST", "/v1/evaluate", &[], body.as_bytes()).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.ctype(), "application/problem+json");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"tenet\""));
    let p = r.json();
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("anonymous may not call POST /v1/evaluate"),
        "{p}"
    );

    // A token nobody has: 401, and the token is not echoed.
    let r = s
        .send_as("nope-secret", "POST", "/v1/evaluate", body.as_bytes())
        .await;
    assert_eq!(r.status, 401);
    assert!(!r.text().contains("nope-secret"));
    // Not a bearer header at all.
    let r = s
        .send(
            "GET",
            "/v1/bundle",
            &[("Authorization", "Basic dXNlcjpwYXNz")],
            b"",
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Bearer <token>"));

    // The evaluator may evaluate; the decision is audited under its name
    // and tenant.
    let r = s
        .send_as("tok-eval", "POST", "/v1/evaluate", body.as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let action = r.header("x-tenet-action-id").unwrap().to_string();

    // ... but not reload: 403 with the pack's words.
    let r = s
        .send_as("tok-eval", "POST", "/v1/bundle/reload", b"")
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    snapshot_settings().bind(|| insta::assert_json_snapshot!("forbidden_reload", r.json()));

    // The operator may reload (the scheme is case-insensitive) but not
    // evaluate; the reload is audited under its name and request id.
    let r = s
        .send(
            "POST",
            "/v1/bundle/reload",
            &[("Authorization", "BEARER tok-ops")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reload_id = r.header("x-tenet-action-id").unwrap().to_string();
    assert!(reload_id.starts_with("reload-"), "{reload_id}");
    let r = s
        .send_as("tok-ops", "POST", "/v1/evaluate", body.as_bytes())
        .await;
    assert_eq!(r.status, 403);

    // Health and the OpenAPI document are public; metrics and the audit
    // log are not.
    assert_eq!(s.send("GET", "/v1/health", &[], b"").await.status, 200);
    assert_eq!(
        s.send("GET", "/v1/openapi.json", &[], b"").await.status,
        200
    );
    assert_eq!(s.send("GET", "/metrics", &[], b"").await.status, 401);
    assert_eq!(
        s.send_as("tok-eval", "GET", "/v1/audit", b"").await.status,
        403
    );

    // A wrong method is 405 (with Allow) before any access decision.
    let r = s.send("DELETE", "/v1/evaluate", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    // The admin reads the audit log: the evaluation is there with the
    // identity and its tenant.
    let r = s
        .send_as(
            "tok-admin",
            "GET",
            &format!("/v1/audit?action_id={action}"),
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.json()["events"].clone();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["actor"], "ci-bot");
    assert_eq!(events[0]["tenant"], "acme");
    assert_eq!(events[0]["source"], "server:evaluate");
    let r = s
        .send(
            "GET",
            &format!("/v1/audit?action_id={reload_id}"),
            &[("Authorization", "bearer tok-admin")],
            b"",
        )
        .await;
    let reload = r.json()["events"][0].clone();
    assert_eq!(reload["source"], "server:reload", "{reload}");
    assert_eq!(reload["actor"], "ops");
    assert_eq!(reload["outcome"], "reloaded");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_over_its_rate_gets_429_with_retry_after() {
    let s = secured().await;
    let body = mass_delete().to_string();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = s
            .send_as("tok-chatty", "POST", "/v1/evaluate", body.as_bytes())
            .await;
        if r.status == 429 {
            assert_eq!(r.ctype(), "application/problem+json");
            let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!(retry >= 1);
            assert!(r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("chatty is over its rate limit"));
        }
        statuses.push(r.status);
    }
    // A burst of 2 at 1/s: the first two pass, then 429.
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    // Other identities have their own budget.
    let r = s
        .send_as("tok-eval", "POST", "/v1/evaluate", body.as_bytes())
        .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}
