//! Bearer tokens, the `server` access pack, rate limits, with identities
//! configured. The pack's own tests (`rules/server/server.tenet`) cover
//! its table; these check the server applies its decisions, and that the
//! pack decides every route of the route table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::fmt::Write;
use tenet_server::access::{Access, Callers};
use tenet_server::config::Config;
use tenet_server::table::{routes, Route, RouteTable};
use tenet_server::RulesSource;

/// The bundled `server` pack, as the server loads it.
fn bundled_access() -> Access {
    Access::load(&Config::default()).unwrap()
}

fn route(method: &str, path: &str) -> Route {
    Route {
        method: method.into(),
        path: path.into(),
    }
}

/// Who may call each route of `table`, one line a route.
fn access_matrix(access: &Access, table: &RouteTable) -> String {
    let roles = access.pack_roles();
    let mut out = String::new();
    for r in table.declared() {
        let who = match access.callers(&r, &roles) {
            Callers::Public => "public".to_string(),
            Callers::Roles(roles) if roles.is_empty() => "NOBODY".to_string(),
            Callers::Roles(roles) => roles.join(", "),
        };
        writeln!(out, "{r}: {who}").unwrap();
    }
    out
}

#[test]
fn every_declared_route_is_public_or_granted_to_a_role() {
    let access = bundled_access();
    let table = tenet_server::route_table();
    let declared = table.declared();
    assert!(
        declared.contains(&route("POST", "/v1/evaluate")),
        "{declared:?}"
    );
    assert!(
        declared.contains(&route("POST", "/v1/diff")),
        "{declared:?}"
    );
    let ungranted = access.ungranted(&declared);
    assert!(
        ungranted.is_empty(),
        "routes no role may call and that are not public (they would answer 401/403 \
         to everyone): {}; grant them in `route_roles` of rules/server/server.tenet",
        ungranted
            .iter()
            .map(Route::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Who may call what, in one place to review.
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("route_access", access_matrix(&access, &table));
    });
}

/// Every grant in the pack names a declared route: a route that is gone
/// leaves no stale line behind.
#[test]
fn every_route_of_the_access_pack_is_declared() {
    let rules = tenet_runtime::load::load_bundled().unwrap();
    let pack = rules.pack("server").unwrap();
    let declared = tenet_server::route_table().declared();
    let granted = pack.consts["route_roles"].to_json();
    let granted = granted.as_object().unwrap();
    assert!(!granted.is_empty());
    for r in granted.keys() {
        assert!(
            declared.iter().any(|d| d.to_string() == *r),
            "`route_roles` grants {r}, which is not a declared route"
        );
    }
    let public = pack.consts["public_routes"].to_json();
    for p in public.as_array().unwrap() {
        assert!(
            declared.iter().any(|d| d.path == *p),
            "`public_routes` names {p}, which is not a declared route"
        );
    }
}

#[utoipa::path(get, path = "/v1/made-up", responses((status = 200)))]
async fn made_up() {}

#[utoipa::path(delete, path = "/v1/bundle", responses((status = 204)))]
async fn delete_bundle() {}

#[test]
fn a_route_the_access_pack_does_not_know_is_reported() {
    let access = bundled_access();
    let table = tenet_server::route_table()
        .merge(RouteTable::new().route(routes!(made_up)))
        .merge(RouteTable::new().route(routes!(delete_bundle)));
    let declared = table.declared();
    assert!(declared.contains(&route("GET", "/v1/made-up")));
    // A new path, and a new method on a path the pack grants for another.
    assert_eq!(
        access.ungranted(&declared),
        vec![route("DELETE", "/v1/bundle"), route("GET", "/v1/made-up")]
    );
    assert_eq!(
        access.callers(&route("GET", "/v1/made-up"), &access.pack_roles()),
        Callers::Roles(vec![])
    );
    let matrix = access_matrix(&access, &table);
    assert!(matrix.contains("GET /v1/made-up: NOBODY\n"), "{matrix}");
    assert!(
        matrix.contains("GET /v1/bundle: admin, auditor, evaluator, operator\n"),
        "{matrix}"
    );
}

#[test]
fn the_pack_is_asked_about_each_role() {
    let access = bundled_access();
    assert_eq!(
        access.pack_roles(),
        [
            "admin",
            "auditor",
            "autoconfig",
            "benchmark",
            "evaluator",
            "fleet",
            "inventory",
            "metrics",
            "monitor",
            "operator",
            "privacy",
            "safety"
        ]
    );
    assert_eq!(
        access.callers(&route("POST", "/v1/bundle/reload"), &access.pack_roles()),
        Callers::Roles(vec!["admin".into(), "operator".into()])
    );
    assert_eq!(
        access.callers(&route("GET", "/v1/health"), &access.pack_roles()),
        Callers::Public
    );
}

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

/// The gate is on every route of the table: without a token, each route
/// the pack does not make public is a 401, and each public one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_route_is_behind_the_gate() {
    let s = secured().await;
    let roles = s.state.access.pack_roles();
    for r in tenet_server::route_table().declared() {
        let resp = s.send(&r.method, &r.path, &[], b"").await;
        match s.state.access.callers(&r, &roles) {
            Callers::Public => assert_eq!(resp.status, 200, "{r}: {}", resp.text()),
            Callers::Roles(_) => {
                assert_eq!(resp.status, 401, "{r}: {}", resp.text());
                assert_eq!(resp.ctype(), "application/problem+json", "{r}");
            }
        }
    }
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
