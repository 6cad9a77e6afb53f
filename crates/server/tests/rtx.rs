//! rtx-export over HTTP, on SQLite and PostgreSQL: decisions made with a
//! `data_subject`, evidence posted, an export made in the background,
//! masked by the bundled pack, signed, downloaded as a `.rtx` file that
//! verifies offline; every read access-logged and part of the next export;
//! revoke with and without a legal hold; a server without a signing key
//! refusing to export; bad input and other tenants refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, identity, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenet_rtx_export::sign::PublicKey;
use tenet_rtx_export::verify::{verify_file, Verified, VerifyError};
use tenet_server::RulesSource;
use tenet_store::testing::{fresh, Kind};

/// RFC 8032's first test key.
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

async fn start(kind: Kind, key: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh(kind, dir.path());
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.store = store;
    c.identities = vec![
        {
            let mut i = identity(
                "privacy-office",
                "tok-p",
                &["privacy", "evaluator", "auditor", "benchmark"],
            );
            i.tenant = None;
            i
        },
        identity("acme-privacy", "tok-acme", &["privacy", "evaluator"]),
        {
            let mut i = identity("ops", "tok-ops", &["safety"]);
            i.tenant = None;
            i
        },
        {
            let mut i = identity("olga", "tok-olga", &["safety", "data-owner"]);
            i.tenant = None;
            i
        },
        identity("acme-ops", "tok-acme-ops", &["safety"]),
    ];
    c.limits.rate_per_second = 0;
    if key {
        c.rtx.signing_key = Some(SEED.into());
    }
    Server::with_config(dir, c).await
}

async fn call(s: &Server, tok: &str, method: &str, path: &str, body: Value) -> (u16, Vec<u8>) {
    let auth = format!("Bearer {tok}");
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let r = s
        .send(method, path, &[("Authorization", &auth)], &bytes)
        .await;
    (r.status, r.body)
}

async fn jcall(s: &Server, tok: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (st, b) = call(s, tok, method, path, body).await;
    (
        st,
        if b.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&b).unwrap()
        },
    )
}

/// A decision about `s-1` with facts the masking policies touch.
async fn decide(s: &Server) {
    let body = json!({
        "pack": "safety",
        "data_subject": "s-1",
        "input": {
            "action": {"verb": "read", "rows": 1},
            "subject_id": "s-1",
            "features": {"ethnicity": "x", "income": 52000},
            "raw_inputs": {"free_text": "please raise my limit"},
            "model": {"provider": "in-house", "name": "credit-limit-v7"}
        }
    });
    let (st, v) = jcall(s, "tok-p", "POST", "/v1/evaluate", body).await;
    assert_eq!(st, 200, "{v}");
}

async fn export(s: &Server, jurisdiction: &str) -> String {
    let (st, v) = jcall(
        s,
        "tok-p",
        "POST",
        "/v1/exports",
        json!({
            "subject": "s-1",
            "window": {"from": 0, "to": 4_102_444_800_000i64},
            "requestor": {"id": "s-1", "type": "data_subject"},
            "purpose_of_use": "art-15-access",
            "jurisdiction": jurisdiction,
        }),
    )
    .await;
    assert_eq!(st, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["links"]["bundle"], format!("/v1/exports/{id}/bundle"));
    // Ready soon.
    let t = Instant::now();
    loop {
        let (_, v) = jcall(s, "tok-p", "GET", &format!("/v1/exports/{id}"), Value::Null).await;
        if v["state"] == "ready" {
            break;
        }
        assert_ne!(v["state"], "failed", "{v}");
        assert!(t.elapsed() < Duration::from_secs(20), "{v}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    id
}

/// The status of `GET /v1/exports/{id}/bundle` (200, 404 once scrubbed,
/// 409 while not ready).
async fn bundle_status(s: &Server, id: &str) -> u16 {
    call(
        s,
        "tok-p",
        "GET",
        &format!("/v1/exports/{id}/bundle"),
        Value::Null,
    )
    .await
    .0
}

/// The `.rtx` file of export `id`, verified with the server's key; the
/// file, its bundle, and what verification found.
async fn download(s: &Server, id: &str) -> (Vec<u8>, Value, Verified) {
    let (st, file) = call(
        s,
        "tok-p",
        "GET",
        &format!("/v1/exports/{id}/bundle"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&file));
    let key = PublicKey::from_config(PUBLIC).unwrap();
    let ok = verify_file(file.as_slice(), &key, None).unwrap();
    assert_eq!(ok.statement.predicate.export, id);
    let (_, bundle) = lines(&file);
    (file, bundle, ok)
}

fn lines(file: &[u8]) -> (Value, Value) {
    let text = std::str::from_utf8(file).unwrap();
    let mut l = text.lines();
    let env: Value = serde_json::from_str(l.next().unwrap()).unwrap();
    let bundle: Value = serde_json::from_str(l.next().unwrap()).unwrap();
    (env, bundle)
}

async fn flow(kind: Kind) {
    let s = start(kind, true).await;
    decide(&s).await;
    let (st, v) = jcall(
        &s,
        "tok-p",
        "POST",
        "/v1/rtx/evidence",
        json!({"subject": "s-1", "at": 1_796_086_800_005i64, "model": {"name": "credit-limit", "version": "7", "provider": "in-house"}, "score": 0.82, "source_id": "model-serving"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let id = export(&s, "FR").await;
    let (file, bundle, ok) = download(&s, &id).await;
    let key = PublicKey::from_config(PUBLIC).unwrap();
    let records = bundle["records"].as_array().unwrap();
    let decision = records
        .iter()
        .find(|r| r["kind"] == "decision")
        .unwrap_or_else(|| panic!("{bundle:#}"));
    assert_eq!(decision["pack"], "safety");
    assert_eq!(
        decision["features"]["ethnicity"], "[REDACTED]",
        "{decision:#}"
    );
    assert_eq!(decision["features"]["income"], 52000);
    assert!(decision["subject_id"]["$commitment"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(decision["raw_inputs"].get("free_text").is_none(), "dropped");
    assert!(records.iter().any(|r| r["kind"] == "evidence"));
    // The status's sha256 is the bundle's.
    let (_, status) = jcall(
        &s,
        "tok-p",
        "GET",
        &format!("/v1/exports/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status["sha256"], ok.sha256);
    assert!(
        status["status"].as_str().unwrap().contains("ready"),
        "{status}"
    );
    // The tenant's exports, listed: a listing is an access too.
    let (st, v) = jcall(
        &s,
        "tok-p",
        "GET",
        "/v1/exports?subject=s-1&purpose=dsar-queue",
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["exports"][0]["id"], id.as_str(), "{v}");
    assert_eq!(v["exports"][0]["sha256"], ok.sha256);
    // The reads so far are in the next export of the subject.
    let id2 = export(&s, "US-CA").await;
    let (_, file2) = call(
        &s,
        "tok-p",
        "GET",
        &format!("/v1/exports/{id2}/bundle"),
        Value::Null,
    )
    .await;
    let (_, b2) = lines(&file2);
    let access: Vec<&Value> = b2["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "access")
        .collect();
    assert!(
        access
            .iter()
            .any(|a| a["export_id"] == id.as_str() && a["action"] == "download"),
        "{access:?}"
    );
    assert!(
        access.iter().any(|a| a["export_id"] == id.as_str()
            && a["action"] == "list"
            && a["purpose"] == "dsar-queue"),
        "{access:?}"
    );
    // Revoked without a hold: scrubbed, and the status fails verification.
    let (st, v) = jcall(
        &s,
        "tok-p",
        "POST",
        &format!("/v1/exports/{id}/revoke"),
        json!({"reason": "withdrawn"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "revoked");
    assert_eq!(v["retained"], false);
    let st = bundle_status(&s, &id).await;
    assert_eq!(st, 404, "scrubbed");
    let signed = tenet_rtx_export::verify::signed_status(&v, &key).unwrap();
    assert_eq!(
        signed.status.state,
        tenet_rtx_export::model::ExportState::Revoked
    );
    assert!(matches!(
        verify_file(file.as_slice(), &key, Some(&signed.status)),
        Err(VerifyError::Revoked { .. })
    ));
    let (st, _) = jcall(
        &s,
        "tok-p",
        "POST",
        &format!("/v1/exports/{id}/revoke"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 409, "revoked is final");
    // Under a legal hold: revoked but retained, and it says so; released: scrubbed.
    let (st, v) = jcall(
        &s,
        "tok-p",
        "PUT",
        &format!("/v1/exports/{id2}/legal-hold"),
        json!({"reason": "litigation 2026-114"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = jcall(
        &s,
        "tok-p",
        "POST",
        &format!("/v1/exports/{id2}/revoke"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (v["state"].clone(), v["retained"].clone()),
        (json!("revoked"), json!(true)),
        "{v}"
    );
    assert!(v["status"].as_str().unwrap().contains("legal hold"), "{v}");
    let st = bundle_status(&s, &id2).await;
    assert_eq!(st, 200, "kept while held");
    let (st, v) = jcall(
        &s,
        "tok-p",
        "DELETE",
        &format!("/v1/exports/{id2}/legal-hold"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let st = bundle_status(&s, &id2).await;
    assert_eq!(st, 404, "scrubbed with the release");
    // Another tenant sees none of it.
    let (st, _) = jcall(
        &s,
        "tok-acme",
        "GET",
        &format!("/v1/exports/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 404);
    let (st, v) = jcall(&s, "tok-acme", "GET", "/v1/exports", Value::Null).await;
    assert_eq!((st, v), (200, json!({"exports": []})));
    // Filters: both revoked, newest first; one at a time; no other subject.
    let ids = |v: &Value| -> Vec<String> {
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = jcall(&s, "tok-p", "GET", "/v1/exports?state=revoked", Value::Null).await;
    assert_eq!(ids(&v), [id2.clone(), id.clone()], "{v}");
    let (_, v) = jcall(
        &s,
        "tok-p",
        "GET",
        "/v1/exports?state=revoked&limit=1",
        Value::Null,
    )
    .await;
    assert_eq!(ids(&v), std::slice::from_ref(&id2), "{v}");
    let (_, v) = jcall(&s, "tok-p", "GET", "/v1/exports?state=ready", Value::Null).await;
    assert_eq!(ids(&v), Vec::<String>::new(), "{v}");
    let (_, v) = jcall(&s, "tok-p", "GET", "/v1/exports?subject=s-2", Value::Null).await;
    assert_eq!(ids(&v), Vec::<String>::new(), "{v}");
    for bad in [
        "state=gone",
        "limit=0",
        "limit=1001",
        "subject=",
        "colour=red",
    ] {
        let (st, v) = jcall(
            &s,
            "tok-p",
            "GET",
            &format!("/v1/exports?{bad}"),
            Value::Null,
        )
        .await;
        assert_eq!(st, 400, "{bad}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_masked_signed_logged_and_revoked_sqlite() {
    flow(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_masked_signed_logged_and_revoked_postgres() {
    flow(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_signing_key_nothing_is_exported_and_bad_input_is_refused() {
    let s = start(Kind::Sqlite, false).await;
    let good = json!({
        "subject": "s-1",
        "window": {"from": 0, "to": 1000},
        "requestor": {"id": "s-1", "type": "data_subject"},
        "purpose_of_use": "art-15-access",
    });
    let (st, v) = jcall(&s, "tok-p", "POST", "/v1/exports", good).await;
    assert_eq!(st, 503, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("rtx.signing_key"));
    let cases = [
        ("/v1/exports", json!({"subject": "s-1"}), 422),
        (
            "/v1/exports",
            json!({"subject": "s-1", "window": {"from": 0, "to": 5}, "requestor": {"id": "a", "type": "data_subject"}, "purpose_of_use": "x", "jurisdiction": "France"}),
            422,
        ),
        (
            "/v1/exports",
            json!({"subject": " ", "window": {"from": 0, "to": 5}, "requestor": {"id": "a", "type": "data_subject"}, "purpose_of_use": "x"}),
            422,
        ),
        (
            "/v1/rtx/evidence",
            json!({"subject": "s-1", "at": 1, "model": {}, "source_id": "m", "typo": 1}),
            422,
        ),
        (
            "/v1/evaluate",
            json!({"pack": "safety", "input": {}, "data_subject": "a b"}),
            422,
        ),
    ];
    for (path, body, want) in cases {
        let (st, v) = jcall(&s, "tok-p", "POST", path, body.clone()).await;
        assert_eq!(st, want, "{path} {body}: {v}");
    }
    let (st, _) = jcall(&s, "tok-p", "GET", "/v1/exports/nope", Value::Null).await;
    assert_eq!(st, 404);
    let (st, _) = jcall(&s, "tok-p", "PUT", "/v1/exports/nope/legal-hold", json!({})).await;
    assert_eq!(st, 422, "a hold needs a reason");
}

/// A tenant as the subject: its tenant-benchmark scores are in its bundle,
/// each with its profile and score.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_scores_are_in_its_bundle() {
    let s = start(Kind::Sqlite, true).await;
    let at = tenet_runtime::clock::Timestamp::from_millis(
        tenet_runtime::clock::system_now().millis() - 60_000,
    )
    .rfc3339();
    for tenant in ["t-9", "t-10"] {
        let body = json!({"signals": [{"name": "iam.mfa_coverage_pct", "value": 97, "at": at}]});
        let (st, v) = jcall(
            &s,
            "tok-p",
            "POST",
            &format!("/v1/tenants/{tenant}/signals"),
            body,
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = jcall(
        &s,
        "tok-p",
        "POST",
        "/v1/exports",
        json!({
            "subject": "t-9",
            "window": {"from": 0, "to": 4_102_444_800_000i64},
            "requestor": {"id": "auditor-1", "type": "supervisory_authority"},
            "purpose_of_use": "audit",
        }),
    )
    .await;
    assert_eq!(st, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let file = loop {
        let (st, b) = call(
            &s,
            "tok-p",
            "GET",
            &format!("/v1/exports/{id}/bundle"),
            Value::Null,
        )
        .await;
        if st == 200 {
            break b;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{}",
            String::from_utf8_lossy(&b)
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    let (_, bundle) = lines(&file);
    let scores: Vec<&Value> = bundle["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "score")
        .collect();
    assert!(!scores.is_empty(), "{bundle:#}");
    assert!(
        scores
            .iter()
            .all(|r| r["id"].as_str().unwrap().contains('/')),
        "{scores:?}"
    );
    assert!(
        scores.iter().any(|r| r["profile"] == "regulator"),
        "{scores:?}"
    );
    assert!(scores.iter().all(|r| r["score"].is_number()), "{scores:?}");
    assert_eq!(bundle["subject"]["id"], "t-9");
}

#[tokio::test]
async fn the_approvals_of_an_action_about_the_subject_are_in_its_bundle() {
    let s = start(Kind::Sqlite, true).await;
    // An erasure about s-1 (named in the descriptor, so the approval
    // covers it), approved by a data owner; another about nobody.
    let erase = |subject: Option<&str>| {
        let mut action = json!({"verb": "delete", "rows": 20_000, "tenant": "default"});
        if let Some(s) = subject {
            action["data_subject"] = json!(s);
        }
        json!({"action": action, "context": {"justification": "erasure request 4411 under art. 17"}})
    };
    let (st, v) = jcall(
        &s,
        "tok-ops",
        "POST",
        "/v1/safety/preflight",
        erase(Some("s-1")),
    )
    .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("pending")), "{v}");
    let action = v["action_id"].as_str().unwrap().to_string();
    let (st, v) = jcall(
        &s,
        "tok-olga",
        "POST",
        &format!("/v1/safety/actions/{action}/reviews"),
        json!({"decision": "approve", "comment": "verified the request"}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("approved")), "{v}");
    let (st, v) = jcall(&s, "tok-ops", "POST", "/v1/safety/preflight", erase(None)).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = jcall(
        &s,
        "tok-ops",
        "POST",
        "/v1/safety/preflight",
        json!({"action": {"verb": "delete", "rows": 20_000, "tenant": "default", "data_subject": "s-1"}, "simulate": true}),
    )
    .await;
    assert_eq!(st, 200, "{v}");

    let id = export(&s, "FR").await;
    let (_, bundle, _) = download(&s, &id).await;
    let approvals: Vec<(String, String, String)> = bundle["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "approval")
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
                r["approvers"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The preflight and the review of the action about s-1; neither the
    // action about nobody nor the simulation (which kept nothing).
    assert_eq!(
        approvals,
        [
            (
                "preflight".to_string(),
                "pending".to_string(),
                "ops".to_string()
            ),
            (
                "review".to_string(),
                "approved".to_string(),
                "olga".to_string()
            ),
        ],
        "{bundle:#}"
    );
    // A tenant's action reviewed by a platform data owner: the review is
    // the tenant's (in its bundle), not the platform's.
    let acme_erase = json!({"action": {"verb": "delete", "rows": 20_000, "tenant": "acme", "data_subject": "s-9"}, "context": {"justification": "erasure request 5120 under art. 17"}});
    let (st, v) = jcall(
        &s,
        "tok-acme-ops",
        "POST",
        "/v1/safety/preflight",
        acme_erase,
    )
    .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("pending")), "{v}");
    let action = v["action_id"].as_str().unwrap().to_string();
    let (st, v) = jcall(
        &s,
        "tok-olga",
        "POST",
        &format!("/v1/safety/actions/{action}/reviews"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!((st, v["outcome"].as_str()), (200, Some("approved")), "{v}");
    assert_eq!(
        approvals_in_export(&s, "tok-acme", "s-9").await,
        ["preflight by acme-ops", "review by olga"]
    );
    assert_eq!(
        approvals_in_export(&s, "tok-p", "s-9").await,
        Vec::<String>::new(),
        "not the platform's"
    );
}

/// The approval records (`step by who`, sorted) of a new export of
/// `subject` made by `tok`'s tenant.
async fn approvals_in_export(s: &Server, tok: &str, subject: &str) -> Vec<String> {
    let (st, v) = jcall(
        s,
        tok,
        "POST",
        "/v1/exports",
        json!({"subject": subject, "window": {"from": 0, "to": 4_102_444_800_000i64},
               "requestor": {"id": subject, "type": "data_subject"}, "purpose_of_use": "art-15-access"}),
    )
    .await;
    assert_eq!(st, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    loop {
        let (st, file) = call(
            s,
            tok,
            "GET",
            &format!("/v1/exports/{id}/bundle"),
            Value::Null,
        )
        .await;
        if st == 200 {
            let (_, b) = lines(&file);
            let mut steps: Vec<String> = b["records"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["kind"] == "approval")
                .map(|r| {
                    format!(
                        "{} by {}",
                        r["action"].as_str().unwrap(),
                        r["approvers"][0].as_str().unwrap()
                    )
                })
                .collect();
            steps.sort();
            return steps;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{}",
            String::from_utf8_lossy(&file)
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}
