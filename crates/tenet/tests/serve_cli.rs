//! `tenet serve` as a process: start-up errors, JSON logs, SIGHUP, HTTPS
//! with client certificates, and the audit log surviving SIGKILL under
//! load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tenet_server::tls::ClientTls;
use tenet_store::{AuditQuery, Store};

fn tenet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `tenet serve`, its address and its log lines so far.
struct Proc {
    child: Child,
    addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = tenet()
            .arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let addr = line.find("listening on ").and_then(|i| {
                    let rest = &line[i + "listening on ".len()..];
                    let rest = rest
                        .strip_prefix("http://")
                        .or_else(|| rest.strip_prefix("https://"))?;
                    Some(
                        rest.chars()
                            .take_while(|c| !c.is_whitespace() && *c != '"')
                            .collect::<String>(),
                    )
                });
                keep.lock().unwrap().push(line);
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no start-up line; logs: {:?}", logs.lock().unwrap()));
        Proc {
            child,
            addr: addr.parse().unwrap(),
            logs,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One blocking HTTP/1.1 request; (status, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, Vec<u8>, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no head"))?;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let action = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-tenet-action-id:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((status, out[split + 4..].to_vec(), action))
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body, _) = http(addr, "GET", path, "").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

const DECIDE: &str = r#"{"pack": "safety", "input": {"action": {"verb": "delete", "rows": 20000, "tenant": "acme"}}}"#;

#[test]
fn start_up_errors_exit_2_with_where() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.yaml");
    std::fs::write(&cfg, "limits:\n  request_timeout: whenever\n").unwrap();
    let out = tenet()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.yaml:2:3: `limits.request_timeout`"),
        "{err}"
    );

    let out = tenet()
        .args(["serve", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("refusing to listen on 0.0.0.0:0 without authentication"));

    // Broken rules: exit 2 with each diagnostic's file:line:col; no store written.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("bad.tenet"),
        "tenet 1\npack bad version \"1.0.0\"\nrule r {\n  when ==\n}\n",
    )
    .unwrap();
    let store = dir.path().join("store/t.db");
    let out = tenet()
        .args(["serve", "--addr", "127.0.0.1:0", "--rules"])
        .arg(&rules)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tenet:4:"), "{err}");
    assert!(!store.exists());
}

/// A CA, a server certificate for `localhost` and a client certificate
/// for `ci.acme.internal`, as PEM files in `dir`: `ca.pem`, `server.pem`,
/// `server.key`, `client.pem`, `client.key`.
fn make_pki(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, san) in [("server", "localhost"), ("client", "ci.acme.internal")] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![san.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// One blocking HTTPS request with `tls` as the client's settings; (status, body).
fn https(addr: SocketAddr, tls: &ClientTls, method: &str, path: &str, body: &str) -> (u16, String) {
    let config = Arc::new(tls.client_config().unwrap());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut s = rustls::Stream::new(&mut conn, &mut sock);
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    if let Err(e) = s.read_to_end(&mut out) {
        // A close without close_notify after a whole answer is fine here.
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{text}"));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

#[test]
fn https_with_client_certificates_from_flags_and_file() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    // The CA and the identities in the file (paths relative to it), the
    // server's certificate as flags.
    let cfg = dir.path().join("server.yaml");
    std::fs::write(
        &cfg,
        "tls:\n  client_ca: ca.pem\nidentities:\n  - name: ci-bot\n    client_san: ci.acme.internal\n    roles: [evaluator]\n",
    )
    .unwrap();
    let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let p = Proc::start(&[
        "--config",
        &path("server.yaml"),
        "--store",
        &path("t.db"),
        "--tls-cert",
        &path("server.pem"),
        "--tls-key",
        &path("server.key"),
        "--client-auth",
        "optional",
    ]);
    let first = p.logs.lock().unwrap()[0].clone();
    assert!(first.contains("listening on https://127.0.0.1:"), "{first}");
    assert!(
        first.contains("1 identity, by client certificate; TLS, client certificates optional"),
        "{first}"
    );
    let client = ClientTls {
        ca: Some(dir.path().join("ca.pem")),
        cert: Some(dir.path().join("client.pem")),
        key: Some(dir.path().join("client.key")),
    };
    let (status, body) = https(p.addr, &client, "POST", "/v1/evaluate", DECIDE);
    assert_eq!(status, 200, "{body}");
    // Optional: no certificate is anonymous, which the pack turns away.
    let anonymous = ClientTls {
        cert: None,
        key: None,
        ..client.clone()
    };
    let (status, body) = https(p.addr, &anonymous, "POST", "/v1/evaluate", DECIDE);
    assert_eq!(status, 401, "{body}");

    // Start-up errors: exit 2, naming the file or the flag.
    let out = tenet()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-key",
            &path("server.key"),
            "--tls-cert",
        ])
        .arg(dir.path().join("missing.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot read the TLS certificate `{}`",
            path("missing.pem")
        )),
        "{err}"
    );
    let out = tenet()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--client-auth",
            "required",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("`--client-auth` is set without a client CA bundle"));
}

#[test]
fn hash_token_prints_the_sha256_of_stdin() {
    let mut child = tenet()
        .args(["serve", "hash-token"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"test\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    let empty = tenet()
        .args(["serve", "hash-token"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn json_logs_and_sighup_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    copy_dir(&repo().join("rules/safety-workflows"), &rules);
    let store = dir.path().join("t.db");
    let p = Proc::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--no-watch",
        "--log-format",
        "json",
    ]);
    // The start-up line is one JSON object naming the rules and the bundle.
    let first: Value = serde_json::from_str(&p.logs.lock().unwrap()[0]).unwrap();
    assert_eq!(first["level"], "INFO");
    assert!(first["fields"]["message"]
        .as_str()
        .unwrap()
        .contains("no authentication, loopback only"));
    assert_eq!(first["fields"]["rules"], rules.to_str().unwrap());
    let before = get_json(p.addr, "/v1/bundle")["fingerprint"]["hash"].clone();

    // A new file is not picked up without the watcher ...
    std::fs::write(
        rules.join("extra.tenet"),
        "tenet 1\npack extra version \"0.1.0\"\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        get_json(p.addr, "/v1/bundle")["fingerprint"]["hash"],
        before
    );
    // ... until SIGHUP.
    let status = Command::new("kill")
        .args(["-HUP", &p.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_json(p.addr, "/v1/bundle")["fingerprint"]["hash"] == before {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(25));
    }
    // A log line written during a request carries the request's span: an
    // API reload logs inside it, with its action id and route.
    let (status, _, reload_id) = http(p.addr, "POST", "/v1/bundle/reload", "").unwrap();
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let found = p.logs.lock().unwrap().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["span"]["action_id"] == reload_id.as_str()).then_some(v)
        });
        if let Some(v) = found {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no log line in the reload's span"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(line["span"]["name"], "request");
    assert_eq!(line["span"]["route"], "/v1/bundle/reload");
    assert_eq!(line["fields"]["trigger"], "api");
    let (status, _, action) = http(p.addr, "POST", "/v1/evaluate", DECIDE).unwrap();
    assert_eq!(status, 200);
    let audit = get_json(p.addr, "/v1/audit?limit=10");
    let sources: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["server:evaluate", "server:reload", "server:reload"]
    );
    assert_eq!(audit["events"][1]["actor"], "anonymous");
    assert_eq!(audit["events"][1]["action_id"], reload_id.as_str());
    assert_eq!(audit["events"][2]["actor"], "trigger:sighup");
    assert_eq!(audit["events"][0]["action_id"], action.as_str());
    let logs = p.logs.lock().unwrap().join("\n");
    assert!(logs.contains("\"trigger\":\"sighup\""), "{logs}");
}

#[test]
fn every_answered_decision_survives_sigkill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("t.db");
    let p = Proc::start(&["--store", store.to_str().unwrap()]);
    let addr = p.addr;
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let answered = Arc::clone(&answered);
        let stop = Arc::clone(&stop);
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match http(addr, "POST", "/v1/evaluate", DECIDE) {
                    Ok((200, _, action)) => answered.lock().unwrap().push(action),
                    Ok((status, body, _)) => panic!("{status}: {}", String::from_utf8_lossy(&body)),
                    // The server was killed mid-request: that request got no 200.
                    Err(_) => return,
                }
            }
        }));
    }
    // Let load build up, then kill -9 while requests are in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered.lock().unwrap().len() < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut p = p;
    p.child.kill().unwrap(); // SIGKILL
    p.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 300, "only {} answered", answered.len());

    // Restart on the same store: it opens, and every 200 has its event.
    let again = Proc::start(&["--store", store.to_str().unwrap()]);
    assert_eq!(get_json(again.addr, "/v1/health")["status"], "ok");
    let sample = &answered[answered.len() - 1];
    let found = get_json(again.addr, &format!("/v1/audit?action_id={sample}"));
    assert_eq!(found["events"].as_array().unwrap().len(), 1, "{found}");
    let events = Store::open(&store)
        .unwrap()
        .audit_query(&AuditQuery {
            limit: 1_000_000,
            ..AuditQuery::default()
        })
        .unwrap();
    let recorded: std::collections::HashSet<&str> =
        events.iter().map(|e| e.action_id.as_str()).collect();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|a| !recorded.contains(a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered decisions have no audit event: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Starts `n` clients that post decisions round-robin over `addrs` until
/// `stop`; each answered request's action id is kept. A client whose
/// replica is gone moves on to the next one.
fn load(
    addrs: Vec<SocketAddr>,
    clients: usize,
    stop: &Arc<AtomicBool>,
    answered: &Arc<Mutex<Vec<(usize, String)>>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (addrs, stop, answered) = (addrs.clone(), Arc::clone(stop), Arc::clone(answered));
            std::thread::spawn(move || {
                let mut dead = vec![false; addrs.len()];
                let mut i = c;
                while !stop.load(Ordering::Relaxed) && dead.iter().any(|d| !d) {
                    let r = i % addrs.len();
                    i += 1;
                    if dead[r] {
                        continue;
                    }
                    match http(addrs[r], "POST", "/v1/evaluate", DECIDE) {
                        Ok((200, _, action)) => answered.lock().unwrap().push((r, action)),
                        // Kept and asserted on at the end, with the body.
                        Ok((status, body, _)) => answered.lock().unwrap().push((
                            usize::MAX,
                            format!("{status}: {}", String::from_utf8_lossy(&body)),
                        )),
                        // That replica was killed mid-request: no 200.
                        Err(_) => dead[r] = true,
                    }
                }
            })
        })
        .collect()
}

fn audit_ids(addr: SocketAddr) -> Vec<String> {
    get_json(addr, "/v1/audit?limit=1000")["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_replicas_on_one_postgres_lose_no_answered_event_when_one_is_killed() {
    let loc = tenet_store::testing::fresh_postgres();
    let url = tenet_store::testing::url(&loc);
    let a = Proc::start(&["--store", &url, "--replica", "a"]);
    let b = Proc::start(&["--store", &url, "--replica", "b"]);
    let answered = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(vec![a.addr, b.addr], 8, &stop, &answered);
    // Both under load, then kill -9 one replica while requests are in
    // flight; the other goes on answering.
    let deadline = Instant::now() + Duration::from_secs(30);
    let count = |r: usize| {
        answered
            .lock()
            .unwrap()
            .iter()
            .filter(|(x, _)| *x == r)
            .count()
    };
    while (count(0) < 200 || count(1) < 200) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut a = a;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let after = count(1);
    while count(1) < after + 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let refused: Vec<_> = answered.iter().filter(|(r, _)| *r == usize::MAX).collect();
    assert!(refused.is_empty(), "answers other than 200: {refused:?}");
    assert!(
        count_of(&answered, 0) >= 200 && count_of(&answered, 1) >= 400,
        "{}",
        answered.len()
    );

    // Every 200, from either replica, has its event in the shared store.
    let events = Store::connect(&loc)
        .unwrap()
        .audit_query(&AuditQuery {
            limit: 1_000_000,
            ..AuditQuery::default()
        })
        .unwrap();
    let recorded: std::collections::HashSet<&str> =
        events.iter().map(|e| e.action_id.as_str()).collect();
    let missing: Vec<_> = answered
        .iter()
        .filter(|(_, a)| !recorded.contains(a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered decisions have no audit event: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    // The killed replica comes back; both serve the whole log, each
    // other's events included, in one order.
    let a2 = Proc::start(&["--store", &url, "--replica", "a"]);
    let (from_a, from_b) = (audit_ids(a2.addr), audit_ids(b.addr));
    assert_eq!(from_a.len(), events.len().min(1000));
    assert_eq!(from_a, from_b);
    let sample_a = &answered.iter().find(|(r, _)| *r == 0).unwrap().1;
    let found = get_json(b.addr, &format!("/v1/audit?action_id={sample_a}"));
    assert_eq!(
        found["events"][0]["action_id"],
        sample_a.as_str(),
        "b serves a's events"
    );
}

fn count_of(answered: &[(usize, String)], replica: usize) -> usize {
    answered.iter().filter(|(r, _)| *r == replica).count()
}

fn health_until(addr: SocketAddr, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = get_json(addr, "/v1/health");
        if ok(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "never {what}: {h:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_leader_hands_its_sweep_to_the_other_replica() {
    let loc = tenet_store::testing::fresh_postgres();
    let url = tenet_store::testing::url(&loc);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.yaml");
    // A lease of three seconds: long beside a tick, even on a loaded machine.
    std::fs::write(&cfg, "sweeps:\n  interval: 1s\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    let a = Proc::start(&["--config", cfg, "--store", &url, "--replica", "a"]);
    let leader = |h: &Value| h["sweeps"][0]["leader"].as_str().map(str::to_string);
    health_until(a.addr, "a leads", |h| leader(h).as_deref() == Some("a"));
    let b = Proc::start(&["--config", cfg, "--store", &url, "--replica", "b"]);
    // b sees a leading, and both replicas in the fleet, on one bundle.
    let h = health_until(b.addr, "b sees the fleet", |h| {
        h["fleet"].as_array().unwrap().len() == 2
    });
    assert_eq!(h["sweeps"][0]["name"], "fleet.prune");
    assert_eq!(leader(&h).as_deref(), Some("a"), "{h:#}");
    assert_eq!(h["replica"], "b");
    assert_eq!(h["converged"], true, "{h:#}");
    let token = h["sweeps"][0]["token"].as_i64().unwrap();
    // It stays a's while a renews it (longer than a lease).
    std::thread::sleep(Duration::from_millis(4000));
    assert_eq!(
        leader(&get_json(b.addr, "/v1/health")).as_deref(),
        Some("a")
    );
    // kill -9 the leader: b takes the sweep over once a's lease expires,
    // with a higher fencing token, and a drops out of the fleet.
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let h = health_until(b.addr, "b leads", |h| {
        leader(h).as_deref() == Some("b") && h["fleet"].as_array().unwrap().len() == 1
    });
    assert!(h["sweeps"][0]["token"].as_i64().unwrap() > token, "{h:#}");
    assert!(
        h["sweeps"][0]["last_run"]
            .as_str()
            .unwrap()
            .starts_with("ok"),
        "{h:#}"
    );
    let lease = Store::connect(&loc)
        .unwrap()
        .lease("fleet.prune")
        .unwrap()
        .unwrap();
    assert!(lease.holder.starts_with("b#"), "{lease:?}");
}

#[test]
fn a_second_process_under_a_taken_replica_name_is_told_and_runs_no_sweep() {
    let loc = tenet_store::testing::fresh_postgres();
    let url = tenet_store::testing::url(&loc);
    let first = Proc::start(&["--store", &url, "--replica", "twin"]);
    let second = Proc::start(&["--store", &url, "--replica", "twin"]);
    let h = get_json(second.addr, "/v1/health");
    let why = h["fleet_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("another process is running as replica `twin`"),
        "{h:#}"
    );
    // The first keeps its sweep; the lease names its own instance.
    let h1 = get_json(first.addr, "/v1/health");
    assert_eq!(h1["fleet_error"], Value::Null, "{h1:#}");
    assert_eq!(h1["sweeps"][0]["leader"], "twin");
    let lease = Store::connect(&loc)
        .unwrap()
        .lease("fleet.prune")
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(lease.holder.as_str()),
        h1["sweeps"][0]["holder"].as_str()
    );
    let logs = second.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("another process is running as replica"),
        "{logs}"
    );
}
