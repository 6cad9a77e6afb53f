//! `tenet autoconfig plan --profile P --live FILE...`: one tenant's live
//! configuration against a baseline of the `autoconfig` pack, offline, by
//! the same engine the server will run (`tenet_autoconfig::plan`).

use crate::api_client::{json_call, ServerArgs};
use crate::exit;
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;
use tenet_autoconfig::baselines::Baselines;
use tenet_autoconfig::plan::{self, Action, Document, Plan};

#[derive(Subcommand)]
pub enum AutoconfigCommand {
    /// A delta per setting of a baseline against live configuration
    /// documents, offline (exit 1 when a setting needs a change or a person)
    Plan {
        /// The baseline (`secure-default`, `regulated`...)
        #[arg(long)]
        profile: String,
        /// Live configuration documents (JSON or YAML); with several, the
        /// first that has a setting wins
        #[arg(long, required = true, num_args = 1..)]
        live: Vec<PathBuf>,
        /// The tenant's facts and labels (JSON or YAML) [default: none]
        #[arg(long)]
        tenant: Option<PathBuf>,
        /// Plan at this time (RFC 3339: which waivers still apply) [default: now]
        #[arg(long)]
        at: Option<String>,
        /// Rules directory [default: the bundled rules]
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// A tenant's live configuration against a baseline, from the server
    /// (exit 1 when a setting needs a change or a person)
    Diff {
        tenant: String,
        #[arg(long)]
        profile: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Apply a baseline to a tenant on the server (monotonic, idempotent)
    Apply {
        tenant: String,
        #[arg(long)]
        profile: String,
        /// Say what would change; change nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remediate a tenant's safe deltas on the server, then re-check
    Remediate {
        tenant: String,
        #[arg(long)]
        profile: String,
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// A tenant id, or exit 2.
fn tenant_id(t: &str) -> Result<&str, u8> {
    let ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(t)
    } else {
        eprintln!("error: `{t}` is not a tenant id (letters, digits, `_`, `.`, `-`)");
        Err(exit::ERROR)
    }
}

fn client(cmd: &AutoconfigCommand) -> u8 {
    let run = || -> Result<u8, u8> {
        match cmd {
            AutoconfigCommand::Diff {
                tenant,
                profile,
                format,
                server,
            } => {
                let t = tenant_id(tenant)?;
                let v = json_call(
                    server,
                    "GET",
                    &format!("/v1/tenants/{t}/diff?profile={profile}"),
                    None,
                )?;
                let p: Plan = serde_json::from_value(v).map_err(|e| {
                    eprintln!("error: the server's answer is not a plan: {e}");
                    exit::ERROR
                })?;
                match format {
                    crate::Format::Json => {
                        println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default())
                    }
                    crate::Format::Text => print!("{}", text(&p)),
                }
                Ok(if p.open() == 0 {
                    exit::OK
                } else {
                    exit::FINDINGS
                })
            }
            AutoconfigCommand::Apply {
                tenant,
                profile,
                dry_run,
                server,
            } => {
                let t = tenant_id(tenant)?;
                let q = if *dry_run { "?dry_run=true" } else { "" };
                let v = json_call(
                    server,
                    "POST",
                    &format!("/v1/profiles/{profile}/apply{q}"),
                    Some(serde_json::json!({"tenant": t})),
                )?;
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                Ok(exit::OK)
            }
            AutoconfigCommand::Remediate {
                tenant,
                profile,
                dry_run,
                server,
            } => {
                let t = tenant_id(tenant)?;
                let q = if *dry_run { "?dry_run=true" } else { "" };
                let v = json_call(
                    server,
                    "POST",
                    &format!("/v1/tenants/{t}/remediate{q}"),
                    Some(serde_json::json!({"profile": profile})),
                )?;
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                let failed = v["settings"].as_array().is_some_and(|l| {
                    l.iter()
                        .any(|s| s["outcome"] == "failed" || s["outcome"] == "exhausted")
                });
                Ok(if failed { exit::FINDINGS } else { exit::OK })
            }
            AutoconfigCommand::Plan { .. } => Ok(exit::ERROR),
        }
    };
    run().unwrap_or_else(|code| code)
}

/// A JSON or YAML document (by its extension; YAML otherwise tried after
/// JSON).
fn read_doc(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let v: Value = if yaml {
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    if !v.is_object() {
        return Err(format!("{}: expected a map of settings", path.display()));
    }
    Ok(v)
}

pub fn cmd_autoconfig(cmd: &AutoconfigCommand) -> u8 {
    if !matches!(cmd, AutoconfigCommand::Plan { .. }) {
        return client(cmd);
    }
    let AutoconfigCommand::Plan {
        profile,
        live,
        tenant,
        at,
        rules,
        format,
    } = cmd
    else {
        return exit::ERROR;
    };
    let loaded = match rules {
        None => tenet_runtime::load::load_bundled(),
        Some(d) => tenet_runtime::load::load_path(d),
    };
    let loaded = match loaded {
        Ok(r) => r,
        Err(e) => return crate::report_load_error(&e),
    };
    let run = || -> Result<Plan, String> {
        let pack = tenet_autoconfig::pack(&loaded).map_err(|e| e.to_string())?;
        let baselines = Baselines::read(&pack)?;
        let b = baselines.get(profile).ok_or_else(|| {
            format!(
                "no baseline `{profile}` in the autoconfig pack (baselines: {})",
                baselines.names().join(", ")
            )
        })?;
        let docs = live
            .iter()
            .map(|p| {
                Ok(Document {
                    name: p.display().to_string(),
                    body: read_doc(p)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let facts = match tenant {
            Some(p) => read_doc(p)?,
            None => serde_json::json!({}),
        };
        let now = match at {
            Some(t) => tenet_runtime::clock::Timestamp::parse(t)
                .map_err(|e| format!("--at: {e}"))?
                .millis(),
            None => tenet_runtime::clock::system_now().millis(),
        };
        plan::plan(&pack, b, &facts, &docs, now)
    };
    let p = match run() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    match format {
        crate::Format::Json => println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default()),
        crate::Format::Text => print!("{}", text(&p)),
    }
    if p.open() == 0 {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn text(p: &Plan) -> String {
    let mut out = format!(
        "{} ({}): {}; {} of {} settings need a change or a person\n\n",
        p.baseline,
        p.mode,
        p.why,
        p.open(),
        p.deltas.len()
    );
    let rows: Vec<[String; 6]> = p
        .deltas
        .iter()
        .map(|d| {
            [
                d.setting.clone(),
                short(&d.live),
                format!("{} {}", d.comparator, short(&d.required)),
                d.risk.clone(),
                match d.action {
                    Action::None => "none".into(),
                    Action::Tighten => {
                        format!("tighten → {}", d.to.as_ref().map(short).unwrap_or_default())
                    }
                    Action::Refuse => "refuse".into(),
                },
                d.why.clone(),
            ]
        })
        .collect();
    let head = ["SETTING", "LIVE", "REQUIRED", "RISK", "ACTION", "WHY"];
    let w: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: [&str; 6]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_string()
    };
    out.push_str(&line(head));
    out.push('\n');
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        out.push('\n');
    }
    out
}
