//! `tenet rtx` against `tenet serve`: an export asked for and followed,
//! the `.rtx` file downloaded and verified offline with its status, a
//! one-byte tamper failing, and a revoked export failing verification.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn rtx(s: &common::Server, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenet"))
        .arg("rtx")
        .args(args)
        .current_dir(dir)
        .env("TENET_SERVER", format!("http://{}", s.addr))
        .env("TENET_TOKEN", "tok")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn export_show_verify_tamper_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let pack =
        std::fs::read_to_string(common::root().join("rules/rtx-export/rtx_export.tenet")).unwrap();
    let s = common::serve_with(
        dir.path(),
        &[("rtx.tenet", &pack)],
        &[(
            "privacy-office",
            "tok",
            &["privacy", "evaluator", "auditor"],
            None,
        )],
        &format!("rtx:\n  signing_key: \"{SEED}\"\n"),
    );
    let decision = r#"{"pack": "rtx_export", "data_subject": "s-1", "input": {"subject_id": "s-1", "features": {"ethnicity": "x"}}}"#;
    assert_eq!(post(s.addr, "/v1/evaluate", decision), 200);
    let o = rtx(
        &s,
        dir.path(),
        &[
            "export",
            "--subject",
            "s-1",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
            "--requestor",
            "s-1",
            "--requestor-type",
            "data_subject",
            "--purpose",
            "art-15-access",
            "--jurisdiction",
            "FR",
            "--wait",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.starts_with("export ") && out.contains(" ready: "),
        "{out}"
    );
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    let o = rtx(
        &s,
        dir.path(),
        &["show", &id, "--out", "x.rtx", "--purpose", "subject copy"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = rtx(
        &s,
        dir.path(),
        &["list", "--subject", "s-1", "--state", "ready"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).starts_with(&format!("{id} ready s-1: ")),
        "{}",
        text(&o)
    );
    let o = rtx(&s, dir.path(), &["list", "--state", "gone"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("not an export state"), "{}", text(&o));
    let o = rtx(&s, dir.path(), &["status", &id]);
    std::fs::write(dir.path().join("status.json"), &o.stdout).unwrap();
    // `tenet rtx verify x.rtx --key PUBLIC` and more.
    let verify = |more: &[&str]| {
        let mut args = vec!["verify", "x.rtx", "--key", PUBLIC];
        args.extend_from_slice(more);
        rtx(&s, dir.path(), &args)
    };
    let o = verify(&["--status", "status.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).starts_with(&format!("valid: export {id} of subject s-1 (")),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).trim_end().contains("not revoked as of 20"),
        "{}",
        text(&o)
    );
    // Fresh enough for `--max-status-age 1h`.
    let o = verify(&["--status", "status.json", "--max-status-age", "1h"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A status signed two days ago still says what it said then; with a
    // maximum age it is refused.
    let live: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("status.json")).unwrap()).unwrap();
    let rs: tenet_rtx_export::model::RevocationStatus = serde_json::from_value(live).unwrap();
    let two_days_ago = tenet_runtime::clock::system_now().millis() - 2 * 86_400_000;
    let sign = |seed: &str, at: i64| {
        let env = tenet_rtx_export::sign::Signer::from_config(seed)
            .unwrap()
            .sign_status(&rs, at);
        serde_json::json!({"signed_status": env}).to_string()
    };
    std::fs::write(dir.path().join("old.json"), sign(SEED, two_days_ago)).unwrap();
    let o = verify(&["--status", "old.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = verify(&["--status", "old.json", "--max-status-age", "1d"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("older than --max-status-age 1d"),
        "{}",
        text(&o)
    );
    // After a key rotation the status is signed by the new key: named with
    // `--status-key`; without it, not valid.
    let rotated = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    let rotated_public = tenet_rtx_export::sign::Signer::from_config(rotated)
        .unwrap()
        .public_key()
        .to_hex();
    std::fs::write(dir.path().join("rotated.json"), sign(rotated, two_days_ago)).unwrap();
    let o = verify(&["--status", "rotated.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = verify(&["--status", "rotated.json", "--status-key", &rotated_public]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Options without a status to apply to: a usage error.
    let o = verify(&["--max-status-age", "1h"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // One byte changed in the bundle: not valid.
    let mut bytes = std::fs::read(dir.path().join("x.rtx")).unwrap();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    std::fs::write(dir.path().join("tampered.rtx"), &bytes).unwrap();
    let o = rtx(&s, dir.path(), &["verify", "tampered.rtx", "--key", PUBLIC]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).starts_with("not valid: "), "{}", text(&o));
    // A wrong key: not valid. A key that is not one: exit 2.
    let other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let o = rtx(&s, dir.path(), &["verify", "x.rtx", "--key", other]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = rtx(&s, dir.path(), &["verify", "x.rtx", "--key", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Revoked: its status fails verification.
    let o = rtx(&s, dir.path(), &["revoke", &id, "--reason", "withdrawn"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = rtx(&s, dir.path(), &["status", &id]);
    std::fs::write(dir.path().join("status.json"), &o.stdout).unwrap();
    let o = verify(&["--status", "status.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    // A forged status: its unsigned fields say "ready", the signed ones
    // still say revoked; without its signature it is refused.
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("status.json")).unwrap()).unwrap();
    forged["state"] = serde_json::json!("ready");
    forged["revoked_at"] = serde_json::Value::Null;
    std::fs::write(dir.path().join("forged.json"), forged.to_string()).unwrap();
    forged.as_object_mut().unwrap().remove("signed_status");
    std::fs::write(dir.path().join("unsigned.json"), forged.to_string()).unwrap();
    for (file, says) in [
        ("forged.json", "was revoked"),
        ("unsigned.json", "carries no `signed_status`"),
    ] {
        let o = verify(&["--status", file]);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", text(&o));
        assert!(
            text(&o).starts_with("not valid: ") && text(&o).contains(says),
            "{file}: {}",
            text(&o)
        );
    }
    // And it is gone from the server.
    let o = rtx(&s, dir.path(), &["show", &id]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("404") && text(&o).contains("scrubbed"),
        "{}",
        text(&o)
    );
}
