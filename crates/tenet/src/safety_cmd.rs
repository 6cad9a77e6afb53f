//! `tenet safety ...`: thin clients of the `/v1/safety` API, and
//! `tenet safety preflight --offline`, which runs the same engine on the
//! local packs without a server (and keeps nothing).
//!
//! Output: the JSON answer on stdout. A refusal prints `error: <detail>
//! (<code>)` on stderr and exits 1; a usage, connection or server error
//! exits 2; `preflight` exits 1 when the outcome is `blocked`.

use crate::api_client::{Api, ServerArgs};
use crate::exit;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use tenet_runtime::clock::Timestamp;
use tenet_safety_workflows::engine::{self, Deps, Fresh, PreflightRequest};
use tenet_safety_workflows::model::Actor;

#[derive(Subcommand)]
pub enum SafetyCommand {
    /// Ask what an action needs before it may run (POST /v1/safety/preflight)
    Preflight(PreflightArgs),
    /// Approve or deny an action
    Review {
        id: String,
        #[arg(long, conflicts_with = "deny", required_unless_present = "deny")]
        approve: bool,
        #[arg(long)]
        deny: bool,
        /// Why (quorum filters may read it as `review.comment`)
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Record the requester's justification and ticket
    Confirm {
        id: String,
        #[arg(long)]
        justification: Option<String>,
        #[arg(long)]
        ticket: Option<String>,
        /// Skip the reviews of a soft_mandatory action (needs --justification)
        #[arg(long = "override")]
        override_reviews: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Skip the reviews along the pack's break-glass path
    BreakGlass {
        id: String,
        /// Mandatory: why (the pack sets the minimum length)
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Execute an approved action once
    Execute {
        id: String,
        /// The request file of the preflight: its `action` is the descriptor
        #[arg(long)]
        file: PathBuf,
        /// The nonce of the preflight answer
        #[arg(long)]
        nonce: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Withdraw an action (the requester, or an approver)
    Cancel {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show an action: its state, reviews, history and next steps
    Show {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List actions, newest first
    List {
        #[arg(long, value_parser = ["pending", "approved", "denied", "expired", "cancelled", "executed"])]
        state: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// `next_cursor` of the previous page
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Args)]
pub struct PreflightArgs {
    /// JSON `{"action": {...}, "context": {...}}` (`-` reads standard input)
    file: PathBuf,
    /// Answer what would be required and keep nothing
    #[arg(long)]
    simulate: bool,
    /// Decide with the local packs, without a server (keeps nothing)
    #[arg(long)]
    offline: bool,
    /// With --offline: the rules directory [default: the bundled rules]
    #[arg(long, requires = "offline")]
    rules: Option<PathBuf>,
    /// With --offline: who asks [default: $USER]
    #[arg(long = "as", value_name = "NAME", requires = "offline")]
    who: Option<String>,
    /// With --offline: the asker's roles (repeat)
    #[arg(long = "role", requires = "offline")]
    roles: Vec<String>,
    /// With --offline: the asker's tenant
    #[arg(long, requires = "offline")]
    tenant: Option<String>,
    /// With --offline: the time to decide at (RFC 3339) [default: now]
    #[arg(long, requires = "offline")]
    now: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

fn read_request(file: &Path) -> Result<(Value, Value), String> {
    let text = if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    let action = v
        .get("action")
        .filter(|a| a.is_object())
        .cloned()
        .ok_or_else(|| {
            format!(
                "{} has no `action` object: write {{\"action\": {{...}}, \"context\": {{...}}}}",
                file.display()
            )
        })?;
    let context = match v.get("context") {
        None | Some(Value::Null) => json!({}),
        Some(c) if c.is_object() => c.clone(),
        Some(_) => return Err(format!("{}: `context` is not an object", file.display())),
    };
    Ok((action, context))
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A call and what it means for the exit code.
fn run(server: &ServerArgs, method: &str, path: &str, body: Option<Value>) -> u8 {
    let api = match Api::new(server) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    match api.call(method, path, body.as_ref()) {
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
        Ok(a) if (200..300).contains(&a.status) => {
            print(&a.body);
            if a.body["outcome"] == "blocked" {
                exit::FINDINGS
            } else {
                exit::OK
            }
        }
        Ok(a) => {
            let detail = a.body["detail"].as_str().unwrap_or("(no detail)");
            let code = a.body["code"]
                .as_str()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            eprintln!("error: {} {detail}{code}", a.status);
            // A refusal (4xx) is an answer; 5xx is the server's trouble.
            if a.status >= 500 || a.status == 401 {
                exit::ERROR
            } else {
                exit::FINDINGS
            }
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Offline ids only name an answer that is never kept.
    if getrandom::fill(&mut buf).is_err() {
        let t = tenet_runtime::clock::system_now();
        return format!("{:x}{:x}", t.unix_secs(), t.subsec_nanos());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn offline(a: &PreflightArgs, now: Timestamp) -> u8 {
    let (action, context) = match read_request(&a.file) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let rules = match &a.rules {
        None => tenet_runtime::load::load_bundled(),
        Some(d) => tenet_runtime::load::load_path(d),
    };
    let rules = match rules {
        Ok(r) => r,
        Err(e) => return crate::report_load_error(&e),
    };
    let pack = match tenet_safety_workflows::pack(&rules) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let at_ms = match &a.now {
        None => now.unix_secs() * 1000 + i64::from(now.subsec_nanos() / 1_000_000),
        Some(t) => match chrono_ms(t) {
            Some(ms) => ms,
            None => {
                eprintln!(
                    "error: --now `{t}` is not an RFC 3339 time such as 2026-12-04T10:00:00Z"
                );
                return exit::ERROR;
            }
        },
    };
    let me = Actor {
        id: a
            .who
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "me".into()),
        roles: a.roles.clone(),
        tenant: a.tenant.clone(),
        ..Actor::default()
    };
    let p = engine::preflight(
        &pack,
        &me,
        &PreflightRequest {
            action,
            context,
            // Offline keeps nothing: the answer is a simulation's.
            simulate: true,
        },
        &Fresh {
            id: format!("act-{}", random_hex(16)),
            nonce: random_hex(32),
        },
        Deps::UP,
        at_ms,
    );
    let v = serde_json::to_value(&p.answer).unwrap_or(Value::Null);
    print(&v);
    if p.answer.outcome == "blocked" {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

fn chrono_ms(t: &str) -> Option<i64> {
    tenet_runtime::dsl::window::parse_time(t)
        .ok()
        .map(|ts| ts.timestamp_millis())
}

fn seg(id: &str) -> String {
    // An id is hex with a prefix; anything else is sent escaped.
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32 & 0xff)
            }
        })
        .collect()
}

pub fn cmd_safety(cmd: &SafetyCommand, now: Timestamp) -> u8 {
    match cmd {
        SafetyCommand::Preflight(a) if a.offline => offline(a, now),
        SafetyCommand::Preflight(a) => match read_request(&a.file) {
            Err(e) => {
                eprintln!("error: {e}");
                exit::ERROR
            }
            Ok((action, context)) => run(
                &a.server,
                "POST",
                "/v1/safety/preflight",
                Some(json!({"action": action, "context": context, "simulate": a.simulate})),
            ),
        },
        SafetyCommand::Review {
            id,
            approve,
            deny: _,
            comment,
            server,
        } => run(
            server,
            "POST",
            &format!("/v1/safety/actions/{}/reviews", seg(id)),
            Some(
                json!({"decision": if *approve { "approve" } else { "deny" }, "comment": comment}),
            ),
        ),
        SafetyCommand::Confirm {
            id,
            justification,
            ticket,
            override_reviews,
            server,
        } => {
            let mut b = json!({"override": override_reviews});
            if let Some(j) = justification {
                b["justification"] = json!(j);
            }
            if let Some(t) = ticket {
                b["ticket"] = json!(t);
            }
            run(
                server,
                "POST",
                &format!("/v1/safety/actions/{}/confirm", seg(id)),
                Some(b),
            )
        }
        SafetyCommand::BreakGlass { id, reason, server } => run(
            server,
            "POST",
            &format!("/v1/safety/actions/{}/break-glass", seg(id)),
            Some(json!({"reason": reason})),
        ),
        SafetyCommand::Execute {
            id,
            file,
            nonce,
            server,
        } => match read_request(file) {
            Err(e) => {
                eprintln!("error: {e}");
                exit::ERROR
            }
            Ok((action, _)) => run(
                server,
                "POST",
                &format!("/v1/safety/actions/{}/execute", seg(id)),
                Some(json!({"action": action, "nonce": nonce})),
            ),
        },
        SafetyCommand::Cancel { id, server } => run(
            server,
            "POST",
            &format!("/v1/safety/actions/{}/cancel", seg(id)),
            None,
        ),
        SafetyCommand::Show { id, server } => run(
            server,
            "GET",
            &format!("/v1/safety/actions/{}", seg(id)),
            None,
        ),
        SafetyCommand::List {
            state,
            tenant,
            limit,
            cursor,
            server,
        } => {
            let mut q = Vec::new();
            if let Some(s) = state {
                q.push(format!("state={s}"));
            }
            if let Some(t) = tenant {
                q.push(format!("tenant={}", seg(t)));
            }
            if let Some(l) = limit {
                q.push(format!("limit={l}"));
            }
            if let Some(c) = cursor {
                q.push(format!("cursor={}", seg(c)));
            }
            let path = if q.is_empty() {
                "/v1/safety/actions".to_string()
            } else {
                format!("/v1/safety/actions?{}", q.join("&"))
            };
            run(server, "GET", &path, None)
        }
    }
}
