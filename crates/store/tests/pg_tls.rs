//! TLS to a PostgreSQL store, against the throwaway cluster of
//! `scripts/postgres` (which serves TLS with its own CA, and lets the role
//! `tenet_cert` in only with its client certificate over TLS).
//!
//! PostgreSQL only: a SQLite store has no connection to secure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use tenet_store::testing;
use tenet_store::{AuditEvent, AuditQuery, Location, Pg, Store, StoreError};

/// The test server's URL with `params` as its query.
fn url_with(params: &str) -> String {
    with(&testing::postgres_url(), params)
}

fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// The port of the test server.
fn port() -> u16 {
    let url = testing::postgres_url();
    url.split('?')
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the test server's URL names its port")
}

fn ca() -> PathBuf {
    testing::postgres_tls().join("ca.crt")
}

fn connect(url: &str) -> Result<Pg, StoreError> {
    match Location::parse(url)? {
        Location::Postgres(pg) => Pg::connect(&pg),
        other => panic!("{other} is not a PostgreSQL location"),
    }
}

/// Whether the connection is encrypted, its TLS version, and the role.
fn session(pg: &Pg) -> (bool, String, String) {
    pg.block_on(|pool| async move {
        let c = pool.get().await?;
        let row = c
            .query_one(
                "select ssl, coalesce(version, ''), current_user::text \
                 from pg_stat_ssl where pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok((row.get(0), row.get(1), row.get(2)))
    })
    .unwrap()
}

fn err(r: Result<Pg, StoreError>) -> String {
    match r {
        Ok(_) => panic!("connected, but should have been refused"),
        Err(e) => e.to_string(),
    }
}

/// A CA of our own that signed nothing the server holds.
fn stranger_ca(dir: &Path) -> PathBuf {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join("stranger-ca.crt");
    std::fs::write(&path, cert.pem()).unwrap();
    path
}

#[test]
fn verify_full_against_the_clusters_ca_is_encrypted_and_checked() {
    let pg = connect(&url_with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        ca().display()
    )))
    .unwrap();
    let (ssl, version, _) = session(&pg);
    assert!(ssl, "the connection is not encrypted");
    assert!(version.starts_with("TLSv1."), "{version}");
    assert!(pg.url().ends_with("?sslmode=verify-full"), "{}", pg.url());
}

#[test]
fn a_whole_store_migrates_and_writes_over_tls() {
    let raw = testing::url(&testing::fresh_postgres());
    let loc = Location::parse(&with(
        &raw,
        &format!("sslmode=verify-full&sslrootcert={}", ca().display()),
    ))
    .unwrap();
    let store = Store::connect(&loc).unwrap();
    let event = AuditEvent {
        id: 0,
        action_id: "tls-1".into(),
        at: "2026-12-04T10:00:00Z".into(),
        source: "test".into(),
        subject: "subject".into(),
        actor: "actor".into(),
        scope: "store".into(),
        outcome: "allowed".into(),
        reason: None,
        latency_ms: 1,
        details: serde_json::json!({"over": "TLS"}),
        tenant: None,
        bundle: None,
    };
    store.record_audit(&event).unwrap();
    let got = store
        .audit_query(&AuditQuery {
            action_id: Some("tls-1".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].details, event.details);
}

#[test]
fn the_default_prefer_encrypts_when_the_server_offers_tls_and_disable_does_not() {
    let (ssl, _, _) = session(&connect(&testing::postgres_url()).unwrap());
    assert!(
        ssl,
        "prefer (the default) did not use the TLS the server offers"
    );
    let (ssl, _, _) = session(&connect(&url_with("sslmode=require")).unwrap());
    assert!(ssl, "require is not encrypted");
    let (ssl, _, _) = session(&connect(&url_with("sslmode=disable")).unwrap());
    assert!(!ssl, "disable is encrypted");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let dir = testing::tempdir();
    let stranger = stranger_ca(dir.path());
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        // With sslrootcert, every mode that encrypts checks the chain (libpq).
        let e = err(connect(&url_with(&format!(
            "sslmode={mode}&sslrootcert={}",
            stranger.display()
        ))));
        assert!(e.contains("UnknownIssuer"), "{mode}: {e}");
        assert!(e.contains("TLS"), "{mode}: {e}");
    }
    // The system's roots do not hold the cluster's CA either.
    let e = err(connect(&url_with("sslmode=verify-full&sslrootcert=system")));
    assert!(e.contains("UnknownIssuer"), "{e}");
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    // Connect to 127.0.0.1 while calling the server `wrong.example`: the
    // certificate names 127.0.0.1 and localhost only.
    let url = format!(
        "postgres://tenet@wrong.example:{}/postgres?hostaddr=127.0.0.1&sslrootcert={}",
        port(),
        ca().display()
    );
    let e = err(connect(&with(&url, "sslmode=verify-full")));
    assert!(e.contains("not valid for name \"wrong.example\""), "{e}");
    let (ssl, _, _) = session(&connect(&with(&url, "sslmode=verify-ca")).unwrap());
    assert!(ssl);
    let localhost = format!(
        "postgres://tenet@localhost:{}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
        port(),
        ca().display()
    );
    assert!(session(&connect(&localhost).unwrap()).0);
}

#[test]
fn a_role_that_needs_a_client_certificate_gets_in_only_with_it() {
    let admin = connect(&testing::postgres_url()).unwrap();
    admin
        .block_on(|pool| async move {
            pool.get()
                .await?
                .batch_execute(
                    "DO $$ BEGIN CREATE ROLE tenet_cert LOGIN; \
                     EXCEPTION WHEN duplicate_object THEN NULL; END $$",
                )
                .await?;
            Ok(())
        })
        .unwrap();
    let tls = testing::postgres_tls();
    let base = format!("postgres://tenet_cert@127.0.0.1:{}/postgres", port());
    let url = format!(
        "{base}?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        ca().display(),
        tls.join("client.crt").display(),
        tls.join("client.key").display()
    );
    let (ssl, _, user) = session(&connect(&url).unwrap());
    assert!(ssl);
    assert_eq!(user, "tenet_cert");

    let e = err(connect(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        ca().display()
    )));
    assert!(e.contains("certificate"), "{e}");
    let e = err(connect(&format!("{base}?sslmode=disable")));
    assert!(e.contains("pg_hba.conf rejects connection"), "{e}");
    // Someone else's certificate (the server's own) is not the role's.
    let url = format!(
        "{base}?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        ca().display(),
        tls.join("server.crt").display(),
        tls.join("client.key").display()
    );
    let e = err(connect(&url));
    assert!(e.contains("do not go together"), "{e}");
}

#[test]
fn a_missing_ca_file_is_named_when_the_store_is_opened() {
    let e = err(connect(&url_with(
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
    )));
    assert!(e.contains("/nonexistent/ca.crt"), "{e}");
    assert!(e.contains("sslrootcert"), "{e}");
}
