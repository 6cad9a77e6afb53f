//! `tenet rtx`: right-to-explanation bundles.
//!
//! `verify` is offline: a `.rtx` file (the DSSE envelope, then the
//! canonical bundle) checked against a public key and, given the export's
//! status (`GET /v1/exports/{id}` saved as JSON), its revocation
//! (`tenet_rtx_export::verify`). The others are API clients: `export`
//! (`POST /v1/exports`, `--wait` follows it), `status`, `show` (the
//! `.rtx` file; every read is access-logged), `revoke`, `hold`,
//! `release`.

use crate::api_client::{encode, json_call, Api, ServerArgs};
use crate::exit;
use clap::Subcommand;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RtxCommand {
    /// Ask for a subject's bundle (exit 1 when refused or when it fails)
    Export {
        /// The data subject
        #[arg(long)]
        subject: String,
        /// The window's start (RFC 3339)
        #[arg(long)]
        from: String,
        /// The window's end, excluded (RFC 3339)
        #[arg(long)]
        to: String,
        /// Who asks (their id)
        #[arg(long)]
        requestor: String,
        /// What they are: data_subject, authorized_agent, supervisory_authority...
        #[arg(long = "requestor-type")]
        requestor_type: String,
        /// Why (`art-15-access`)
        #[arg(long)]
        purpose: String,
        /// ISO 3166 (`FR`, `US-CA`) [default: unknown, every jurisdiction's masks]
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Wait until it is ready or failed
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// An export's status (state, sha256, legal hold, revocation) as JSON
    Status {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The tenant's exports, newest first (each one listed is logged as an
    /// access)
    List {
        /// Only the exports about this data subject
        #[arg(long)]
        subject: Option<String>,
        /// Only the exports in this state: pending, ready, failed, revoked
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1 to 1000) [default: 50]
        #[arg(long)]
        limit: Option<usize>,
        /// Why they are listed, for the access log
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Download an export's `.rtx` file (logged as an access)
    Show {
        id: String,
        /// Write it here [default: stdout]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Why it is read, for the access log
        #[arg(long)]
        purpose: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke an export: its bundle is scrubbed unless a legal hold keeps it
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put an export under a legal hold (revoking it then keeps its bundle)
    Hold {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Release a legal hold (a revoked export's bundle is scrubbed with it)
    Release {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Verify a `.rtx` file offline: signature, hash and, with `--status`,
    /// revocation (exit 0 valid, 1 not valid, 2 a bad argument)
    Verify {
        /// The `.rtx` file
        bundle: PathBuf,
        /// The signer's public key: a file holding an SPKI PEM or 64 hex
        /// digits, or the 64 hex digits themselves
        #[arg(long)]
        key: String,
        /// The export's status JSON (`tenet rtx status ID > status.json`)
        #[arg(long)]
        status: Option<PathBuf>,
        /// The key that signed the status, when the server's key was
        /// rotated since the export [default: --key]
        #[arg(long = "status-key", requires = "status")]
        status_key: Option<String>,
        /// Not valid when the status is older than this (`1h`, `7d`): a
        /// status read before a revocation still says `ready`
        #[arg(long = "max-status-age", requires = "status")]
        max_status_age: Option<String>,
    },
}

fn fail(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    exit::ERROR
}

fn ms(flag: &str, t: &str) -> Result<i64, u8> {
    tenet_runtime::clock::Timestamp::parse(t)
        .map(|t| t.millis())
        .map_err(|e| fail(format!("--{flag}: {e}")))
}

fn pretty(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A public key from `--<flag>`: a file holding an SPKI PEM or 64 hex
/// digits, or the 64 hex digits themselves.
fn public_key(flag: &str, key: &str) -> Result<tenet_rtx_export::sign::PublicKey, u8> {
    let key_text = match std::fs::read_to_string(key) {
        Ok(t) => t,
        Err(_) if key.len() == 64 => key.to_string(),
        Err(e) => return Err(fail(format!("--{flag} {key}: {e}"))),
    };
    tenet_rtx_export::sign::PublicKey::from_config(&key_text)
        .map_err(|e| fail(format!("--{flag}: {e}")))
}

fn verify(
    bundle: &PathBuf,
    key: &str,
    status: Option<&PathBuf>,
    status_key: Option<&str>,
    max_status_age: Option<&str>,
) -> u8 {
    let key = match public_key("key", key) {
        Ok(k) => k,
        Err(c) => return c,
    };
    let status_signer = match status_key {
        None => key.clone(),
        Some(k) => match public_key("status-key", k) {
            Ok(k) => k,
            Err(c) => return c,
        },
    };
    let max_age_ms = match max_status_age {
        None => None,
        Some(t) => match tenet_runtime::dsl::syntax::parse_duration(t) {
            Some(ms) if ms > 0 => Some(ms),
            _ => {
                return fail(format!(
                    "--max-status-age: `{t}` is not a duration (such as 1h or 7d)"
                ))
            }
        },
    };
    let status = match status {
        None => None,
        Some(p) => {
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => return fail(format!("--status {}: {e}", p.display())),
            };
            let v: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    return fail(format!(
                        "--status {}: not an export's status (GET /v1/exports/{{id}}): {e}",
                        p.display()
                    ))
                }
            };
            // Only what the key signed is trusted; an unsigned or forged
            // status makes the bundle not valid.
            let s = match tenet_rtx_export::verify::signed_status(&v, &status_signer) {
                Ok(s) => s,
                Err(e) => {
                    println!("not valid: the revocation status {}: {e}", p.display());
                    return exit::FINDINGS;
                }
            };
            if let Some(max) = max_age_ms {
                let now = tenet_runtime::clock::system_now().millis();
                let at = tenet_runtime::clock::Timestamp::parse(&s.at).map(|t| t.millis());
                if at.map_or(true, |at| now - at > max) {
                    println!(
                        "not valid: the revocation status {} is as of {}, older than --max-status-age {}: read it again (`tenet rtx status ID`)",
                        p.display(),
                        s.at,
                        max_status_age.unwrap_or_default()
                    );
                    return exit::FINDINGS;
                }
            }
            Some(s)
        }
    };
    let file = match std::fs::File::open(bundle) {
        Ok(f) => f,
        Err(e) => return fail(format!("{}: {e}", bundle.display())),
    };
    match tenet_rtx_export::verify::verify_file(
        std::io::BufReader::new(file),
        &key,
        status.as_ref().map(|s| &s.status),
    ) {
        Ok(v) => {
            let p = &v.statement.predicate;
            println!(
                "valid: export {} of subject {} ({} bytes, sha256 {}), signed by {}; {}",
                p.export,
                p.subject,
                v.size,
                v.sha256,
                v.keyid,
                match v.revocation {
                    tenet_rtx_export::verify::RevocationCheck::Live => format!(
                        "not revoked as of {} (per the signed status)",
                        status.as_ref().map(|s| s.at.as_str()).unwrap_or("?")
                    ),
                    tenet_rtx_export::verify::RevocationCheck::NotChecked => format!(
                        "revocation not checked: pass --status (its status is at {})",
                        p.revocation.status
                    ),
                }
            );
            exit::OK
        }
        Err(e) => {
            println!("not valid: {e}");
            exit::FINDINGS
        }
    }
}

fn client(cmd: &RtxCommand) -> Result<u8, u8> {
    match cmd {
        RtxCommand::Export {
            subject,
            from,
            to,
            requestor,
            requestor_type,
            purpose,
            jurisdiction,
            wait,
            server,
        } => {
            let mut body = json!({
                "subject": subject,
                "window": {"from": ms("from", from)?, "to": ms("to", to)?},
                "requestor": {"id": requestor, "type": requestor_type},
                "purpose_of_use": purpose,
            });
            if let Some(j) = jurisdiction {
                body["jurisdiction"] = json!(j);
            }
            let v = json_call(server, "POST", "/v1/exports", Some(body))?;
            let id = v["id"].as_str().unwrap_or("").to_string();
            if !*wait {
                println!("export {id} started; follow it with `tenet rtx status {id}`");
                return Ok(exit::OK);
            }
            loop {
                let s = json_call(server, "GET", &format!("/v1/exports/{}", encode(&id)), None)?;
                match s["state"].as_str() {
                    Some("pending") => std::thread::sleep(std::time::Duration::from_millis(300)),
                    Some("ready") => {
                        println!("export {id} ready: {}", s["status"].as_str().unwrap_or(""));
                        return Ok(exit::OK);
                    }
                    _ => {
                        println!("export {id}: {}", s["status"].as_str().unwrap_or(""));
                        return Ok(exit::FINDINGS);
                    }
                }
            }
        }
        RtxCommand::Status { id, server } => {
            pretty(&json_call(
                server,
                "GET",
                &format!("/v1/exports/{}", encode(id)),
                None,
            )?);
            Ok(exit::OK)
        }
        RtxCommand::List {
            subject,
            state,
            limit,
            purpose,
            format,
            server,
        } => {
            let mut q: Vec<String> = Vec::new();
            for (k, v) in [("subject", subject), ("state", state), ("purpose", purpose)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", encode(v)));
                }
            }
            if let Some(n) = limit {
                q.push(format!("limit={n}"));
            }
            let path = if q.is_empty() {
                "/v1/exports".to_string()
            } else {
                format!("/v1/exports?{}", q.join("&"))
            };
            let v = json_call(server, "GET", &path, None)?;
            match format {
                crate::Format::Json => pretty(&v),
                crate::Format::Text => {
                    for e in v["exports"].as_array().into_iter().flatten() {
                        println!(
                            "{} {} {}: {}",
                            e["id"].as_str().unwrap_or(""),
                            e["state"].as_str().unwrap_or(""),
                            e["request"]["subject"].as_str().unwrap_or(""),
                            e["status"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Ok(exit::OK)
        }
        RtxCommand::Show {
            id,
            out,
            purpose,
            server,
        } => {
            let api = Api::new(server).map_err(fail)?;
            let q = purpose
                .as_ref()
                .map(|p| format!("?purpose={}", encode(p)))
                .unwrap_or_default();
            let (status, bytes) = api
                .call_raw(
                    "GET",
                    &format!("/v1/exports/{}/bundle{q}", encode(id)),
                    None,
                )
                .map_err(fail)?;
            if !(200..300).contains(&status) {
                let detail = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v["detail"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "(no detail)".into());
                eprintln!("error: {status} {detail}");
                return Err(if status < 500 {
                    exit::FINDINGS
                } else {
                    exit::ERROR
                });
            }
            match out {
                Some(p) => {
                    std::fs::write(p, &bytes).map_err(|e| fail(format!("{}: {e}", p.display())))?
                }
                None => std::io::stdout().write_all(&bytes).map_err(fail)?,
            }
            Ok(exit::OK)
        }
        RtxCommand::Revoke { id, reason, server } => {
            let body = reason.as_ref().map(|r| json!({"reason": r}));
            let v = json_call(
                server,
                "POST",
                &format!("/v1/exports/{}/revoke", encode(id)),
                body,
            )?;
            println!("{}", v["status"].as_str().unwrap_or(""));
            Ok(exit::OK)
        }
        RtxCommand::Hold { id, reason, server } => {
            let v = json_call(
                server,
                "PUT",
                &format!("/v1/exports/{}/legal-hold", encode(id)),
                Some(json!({"reason": reason})),
            )?;
            println!("{}", v["status"].as_str().unwrap_or(""));
            Ok(exit::OK)
        }
        RtxCommand::Release { id, server } => {
            let v = json_call(
                server,
                "DELETE",
                &format!("/v1/exports/{}/legal-hold", encode(id)),
                None,
            )?;
            println!("{}", v["status"].as_str().unwrap_or(""));
            Ok(exit::OK)
        }
        RtxCommand::Verify { .. } => Ok(exit::ERROR),
    }
}

pub fn cmd_rtx(cmd: &RtxCommand) -> u8 {
    match cmd {
        RtxCommand::Verify {
            bundle,
            key,
            status,
            status_key,
            max_status_age,
        } => verify(
            bundle,
            key,
            status.as_ref(),
            status_key.as_deref(),
            max_status_age.as_deref(),
        ),
        _ => client(cmd).unwrap_or_else(|c| c),
    }
}
