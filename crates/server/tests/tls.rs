//! HTTPS and mutual TLS, end to end: the real server on 127.0.0.1 with
//! certificates made here (rcgen), and the CLI clients' TLS settings
//! ([`ClientTls`]) as the client. A client certificate names an identity
//! by its subject alternative name; the `server` access pack decides what
//! it may call, as for a bearer token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tenet_server::config::{ClientAuth, ClientCerts, Identity, TlsConfig};
use tenet_server::tls::ClientTls;
use tenet_server::RulesSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority that signs server and client certificates,
/// written as PEM files into a folder.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    dir: PathBuf,
    name: String,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let ca = Ca {
            cert,
            key,
            dir: dir.to_path_buf(),
            name: name.into(),
        };
        std::fs::write(ca.path("ca.pem"), ca.cert.pem()).unwrap();
        ca
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(format!("{}-{file}", self.name))
    }

    /// A leaf certificate with `sans`, for a server or a client, written
    /// as `NAME.pem` and `NAME.key`; `expired` makes it end in 2021.
    fn issue(&self, name: &str, sans: Vec<SanType>, server: bool, expired: bool) -> ClientTls {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (cert_path, key_path) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        ClientTls {
            ca: None,
            cert: Some(cert_path),
            key: Some(key_path),
        }
    }
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}

/// The test PKI: a CA the server trusts, its server certificate, and a
/// second CA it does not trust.
struct Pki {
    ca: Ca,
    other: Ca,
    server: ClientTls,
}

fn pki(dir: &Path) -> Pki {
    let ca = Ca::new(dir, "ca");
    let other = Ca::new(dir, "other");
    let server = ca.issue(
        "server",
        vec![dns("localhost"), SanType::IpAddress([127, 0, 0, 1].into())],
        true,
        false,
    );
    Pki { ca, other, server }
}

impl Pki {
    /// The client side: trusts the server's CA, presents `cert` if any.
    fn client(&self, cert: Option<&ClientTls>) -> ClientTls {
        ClientTls {
            ca: Some(self.ca.path("ca.pem")),
            cert: cert.and_then(|c| c.cert.clone()),
            key: cert.and_then(|c| c.key.clone()),
        }
    }

    fn tls(&self, client_auth: Option<ClientAuth>) -> TlsConfig {
        TlsConfig {
            cert: self.server.cert.clone().unwrap(),
            key: self.server.key.clone().unwrap(),
            client: client_auth.map(|auth| ClientCerts {
                ca: self.ca.path("ca.pem"),
                auth,
            }),
        }
    }
}

fn cert_identity(name: &str, san: &str, roles: &[&str]) -> Identity {
    Identity {
        name: name.into(),
        token_sha256: None,
        client_san: Some(san.into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        tenant: Some("acme".into()),
        rate_per_second: None,
        traits: Default::default(),
    }
}

/// A server with TLS (client certificates as `client_auth` says) and
/// these identities; the PKI's files live in its folder.
async fn tls_server(client_auth: Option<ClientAuth>, identities: Vec<Identity>) -> (Server, Pki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.tls = Some(pki.tls(client_auth));
    c.identities = identities;
    (Server::with_config(dir, c).await, pki)
}

/// One HTTPS request (HTTP/1.1 over rustls, `Connection: close`). `Err`
/// when the handshake fails or the server ends the connection without an
/// answer (as it does when it refuses a client certificate under TLS 1.3,
/// where the client learns of it on its first read).
async fn https(
    addr: std::net::SocketAddr,
    tls: &ClientTls,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, String> {
    let config = tls.client_config().unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    s.write_all(body).await.map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if out.is_empty() {
        return Err("closed without an answer".into());
    }
    Ok(parse_response(&out))
}

/// The error of a request that should not have been answered.
fn refused(r: Result<Resp, String>) -> String {
    match r {
        Ok(r) => panic!("answered {}: {}", r.status, r.text()),
        Err(e) => e,
    }
}

/// The server refused the handshake with `alert`. Under TLS 1.3 the
/// client hears of it on its first read; if the server's close overtakes
/// the alert, the client sees only a reset, which is a refusal too.
fn assert_alert(e: &str, alert: &str) {
    let reset = e.contains("reset") || e.contains("Broken pipe");
    assert!(
        e == format!("read: received fatal alert: {alert}") || reset,
        "{e}"
    );
}

fn detail(r: &Resp) -> String {
    r.json()["detail"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_its_identity_for_the_gate_and_the_audit_log() {
    let mut both = cert_identity("ci-bot", "ci-bot.acme.internal", &["evaluator", "auditor"]);
    both.token_sha256 = Some(tenet_server::config::hash_token("tok-ci"));
    let (s, pki) = tls_server(
        Some(ClientAuth::Required),
        vec![both, identity("ops", "tok-ops", &["operator"])],
    )
    .await;
    let client = pki
        .ca
        .issue("ci", vec![dns("CI-Bot.acme.internal")], false, false);
    let tls = pki.client(Some(&client));
    let body = mass_delete().to_string();

    let r = https(s.addr, &tls, "POST", "/v1/evaluate", &[], body.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let action = r.header("x-tenet-action-id").unwrap().to_string();
    let r = https(
        s.addr,
        &tls,
        "GET",
        &format!("/v1/audit?action_id={action}"),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.json()["events"].clone();
    assert_eq!(events[0]["actor"], "ci-bot", "{events}");
    assert_eq!(events[0]["tenant"], "acme");

    // The certificate's own identity's token as well: fine.
    let r = https(
        s.addr,
        &tls,
        "POST",
        "/v1/evaluate",
        &[("Authorization", "Bearer tok-ci")],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // Another identity's token: 401, the server does not pick one.
    let r = https(
        s.addr,
        &tls,
        "GET",
        "/v1/bundle",
        &[("Authorization", "Bearer tok-ops")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.ctype(), "application/problem+json");
    assert_eq!(
        detail(&r),
        "the bearer token is identity `ops` and the client certificate is identity `ci-bot`: a request may carry only one identity; send the token of the certificate's identity, or no token"
    );
    assert!(!r.text().contains("tok-ops"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_pack_decides_what_a_certificate_identity_may_call() {
    let (s, pki) = tls_server(
        Some(ClientAuth::Required),
        vec![cert_identity(
            "ci-bot",
            "spiffe://acme/ci-bot",
            &["evaluator"],
        )],
    )
    .await;
    let client = pki
        .ca
        .issue("ci", vec![uri("spiffe://acme/ci-bot")], false, false);
    let tls = pki.client(Some(&client));
    let r = https(s.addr, &tls, "GET", "/v1/audit", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        detail(&r).starts_with("ci-bot (roles: evaluator) may not call GET /v1/audit"),
        "{}",
        r.text()
    );
    let r = https(s.addr, &tls, "GET", "/v1/bundle", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_the_right_ca_that_names_no_identity_is_401() {
    let (s, pki) = tls_server(
        Some(ClientAuth::Required),
        vec![cert_identity(
            "ci-bot",
            "ci-bot.acme.internal",
            &["evaluator"],
        )],
    )
    .await;
    let stranger = pki.ca.issue(
        "stranger",
        vec![dns("stranger.acme.internal"), uri("spiffe://acme/stranger")],
        false,
        false,
    );
    let r = https(
        s.addr,
        &pki.client(Some(&stranger)),
        "GET",
        "/v1/bundle",
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"tenet\""));
    assert_eq!(
        detail(&r),
        "the client certificate's subject alternative names (stranger.acme.internal, spiffe://acme/stranger) match no identity of this server"
    );
    // Public routes too: a credential that names nobody is refused everywhere.
    let r = https(
        s.addr,
        &pki.client(Some(&stranger)),
        "GET",
        "/v1/health",
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_and_missing_client_certificates_are_refused_at_the_handshake() {
    let (s, pki) = tls_server(
        Some(ClientAuth::Required),
        vec![cert_identity(
            "ci-bot",
            "ci-bot.acme.internal",
            &["evaluator"],
        )],
    )
    .await;
    // Same name, wrong CA.
    let forged = pki
        .other
        .issue("forged", vec![dns("ci-bot.acme.internal")], false, false);
    let e = refused(
        https(
            s.addr,
            &pki.client(Some(&forged)),
            "GET",
            "/v1/health",
            &[],
            b"",
        )
        .await,
    );
    assert_alert(&e, "UnknownCA");
    // Right CA and name, out of date.
    let expired = pki
        .ca
        .issue("expired", vec![dns("ci-bot.acme.internal")], false, true);
    let e = refused(
        https(
            s.addr,
            &pki.client(Some(&expired)),
            "GET",
            "/v1/health",
            &[],
            b"",
        )
        .await,
    );
    assert_alert(&e, "CertificateExpired");
    // None at all, though one is required (a bearer token does not help).
    let e = refused(
        https(
            s.addr,
            &pki.client(None),
            "GET",
            "/v1/health",
            &[("Authorization", "Bearer whatever")],
            b"",
        )
        .await,
    );
    assert_alert(&e, "CertificateRequired");
    // The good one still gets through after all that.
    let good = pki
        .ca
        .issue("ci", vec![dns("ci-bot.acme.internal")], false, false);
    let r = https(
        s.addr,
        &pki.client(Some(&good)),
        "GET",
        "/v1/health",
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_let_a_bearer_token_through() {
    let (s, pki) = tls_server(
        Some(ClientAuth::Optional),
        vec![
            cert_identity("ci-bot", "ci-bot.acme.internal", &["evaluator"]),
            identity("ops", "tok-ops", &["operator", "evaluator"]),
        ],
    )
    .await;
    let body = mass_delete().to_string();
    let no_cert = pki.client(None);
    let r = https(
        s.addr,
        &no_cert,
        "POST",
        "/v1/evaluate",
        &[("Authorization", "Bearer tok-ops")],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // Neither: anonymous, which the pack refuses here.
    let r = https(
        s.addr,
        &no_cert,
        "POST",
        "/v1/evaluate",
        &[],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    // A certificate still works, and one from another CA is still refused.
    let good = pki
        .ca
        .issue("ci", vec![dns("ci-bot.acme.internal")], false, false);
    let r = https(
        s.addr,
        &pki.client(Some(&good)),
        "POST",
        "/v1/evaluate",
        &[],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let forged = pki
        .other
        .issue("forged", vec![dns("ci-bot.acme.internal")], false, false);
    refused(
        https(
            s.addr,
            &pki.client(Some(&forged)),
            "GET",
            "/v1/health",
            &[],
            b"",
        )
        .await,
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_over_tls_without_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let mut c = config(dir.path(), RulesSource::Bundled);
    c.tls = Some(pki.tls(None));
    c.identities = vec![identity("ops", "tok-ops", &["evaluator"])];
    c.limits.header_timeout = Duration::from_millis(800);
    let s = Server::with_config(dir, c).await;
    let body = mass_delete().to_string();

    // A client that connects and says nothing holds only its own
    // connection, and is cut off after the header timeout.
    let mut stalled = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let r = https(
        s.addr,
        &pki.client(None),
        "POST",
        "/v1/evaluate",
        &[("Authorization", "Bearer tok-ops")],
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let mut out = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut out))
        .await
        .expect("a stalled handshake is cut off");
    assert!(n.is_err() || out.is_empty(), "{out:?}");

    // A client certificate the server did not ask for is not sent.
    let ci = pki
        .ca
        .issue("ci", vec![dns("ci.acme.internal")], false, false);
    let r = https(
        s.addr,
        &pki.client(Some(&ci)),
        "GET",
        "/v1/bundle",
        &[("Authorization", "Bearer tok-ops")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    plain
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut out))
        .await
        .expect("the server closes a plain HTTP connection");
    assert!(
        !out.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // A client that does not trust the server's CA refuses it.
    let e = refused(
        https(
            s.addr,
            &ClientTls {
                ca: Some(pki.other.path("ca.pem")),
                ..ClientTls::default()
            },
            "GET",
            "/v1/health",
            &[],
            b"",
        )
        .await,
    );
    assert!(e.starts_with("handshake: "), "{e}");
    s.stop().await;
}
