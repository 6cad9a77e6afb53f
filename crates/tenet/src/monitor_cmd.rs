//! `tenet monitor`: the meta-monitor from the command line. `replay` runs
//! the engine on a recorded heartbeat log, with no server: the state of
//! every watcher at a given time, for tests and post-mortems.

use crate::exit;
use clap::Subcommand;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tenet_meta_monitor::engine::{self, Context};
use tenet_meta_monitor::model::State;
use tenet_meta_monitor::render;
use tenet_meta_monitor::watchers::Watchers;
use tenet_runtime::clock::Timestamp;

#[derive(Subcommand)]
pub enum MonitorCommand {
    /// The state of every watcher at a time, from a recorded heartbeat log
    /// (JSON Lines), with no server. Exit 1 when a watcher is down.
    Replay {
        /// The log: one event a line, `{"watcher", "source", "at", "kind",
        /// "run_id"?, "seq"?, "exit_status"?, "count"?, "tenant"?}`
        #[arg(long)]
        events: PathBuf,
        /// The time to evaluate at (RFC 3339) [default: now]
        #[arg(long)]
        at: Option<String>,
        /// Heartbeats received before this time are all in the log
        /// [default: --at]
        #[arg(long)]
        watermark: Option<String>,
        /// Tenants' facts for `exempt_when`: `{"TENANT": {"tenant": {...},
        /// "stats": {...}}}` (JSON)
        #[arg(long)]
        tenants: Option<PathBuf>,
        /// Rules directory [default: the bundled rules]
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
}

pub fn cmd_monitor(cmd: &MonitorCommand, now: Timestamp) -> u8 {
    match cmd {
        MonitorCommand::Replay {
            events,
            at,
            watermark,
            tenants,
            rules,
            format,
        } => {
            let rules = match rules {
                None => tenet_runtime::load::load_bundled(),
                Some(d) => tenet_runtime::load::load_path(d),
            };
            let rules = match rules {
                Ok(r) => r,
                Err(e) => return crate::report_load_error(&e),
            };
            replay_cmd(
                events,
                at.as_deref(),
                watermark.as_deref(),
                tenants.as_ref(),
                &rules,
                *format,
                now,
            )
        }
    }
}

fn replay_cmd(
    events: &PathBuf,
    at: Option<&str>,
    watermark: Option<&str>,
    tenants: Option<&PathBuf>,
    rules: &tenet_runtime::Rules,
    format: crate::Format,
    now: Timestamp,
) -> u8 {
    match replay(events, at, watermark, tenants, rules, now) {
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
        Ok((statuses, counts, at)) => {
            match format {
                crate::Format::Json => {
                    let v = json!({
                        "at": render::rfc3339(at),
                        "events": {
                            "applied": counts.applied,
                            "duplicates": counts.duplicates,
                            "late": counts.late,
                            "ignored": counts.ignored,
                            "after_at": counts.future,
                        },
                        "watchers": statuses.iter().map(render::status_json).collect::<Vec<Value>>(),
                    });
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                crate::Format::Text => {
                    print!("{}", render::status_text(&statuses));
                    println!(
                            "\nat {}: {} events applied, {} duplicates, {} late, {} ignored, {} after it",
                            render::rfc3339(at),
                            counts.applied,
                            counts.duplicates,
                            counts.late,
                            counts.ignored,
                            counts.future
                        );
                }
            }
            if statuses.iter().any(|s| s.state == State::Down) {
                exit::FINDINGS
            } else {
                exit::OK
            }
        }
    }
}

type Replayed = (
    Vec<tenet_meta_monitor::model::Status>,
    engine::ReplayCounts,
    i64,
);

fn replay(
    events: &PathBuf,
    at: Option<&str>,
    watermark: Option<&str>,
    tenants: Option<&PathBuf>,
    rules: &tenet_runtime::Rules,
    now: Timestamp,
) -> Result<Replayed, String> {
    let at = match at {
        Some(t) => render::parse_time(t).map_err(|e| format!("--at: {e}"))?,
        None => now.unix_secs() * 1000 + i64::from(now.subsec_nanos() / 1_000_000),
    };
    let watermark = watermark
        .map(|t| render::parse_time(t).map_err(|e| format!("--watermark: {e}")))
        .transpose()?;
    let text = std::fs::read_to_string(events)
        .map_err(|e| format!("cannot read {}: {e}", events.display()))?;
    let log = render::read_log(&text).map_err(|e| format!("{}: {e}", events.display()))?;
    let pack = tenet_meta_monitor::pack(rules).map_err(|e| e.to_string())?;
    let watchers = Watchers::read(&pack)?;
    let mut exempt: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(f) = tenants {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let facts: BTreeMap<String, Value> = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: {e} (expected {{\"TENANT\": {{\"tenant\": {{...}}, \"stats\": {{...}}}}}})",
                f.display()
            )
        })?;
        for (tenant, mut v) in facts {
            if !v.is_object() {
                return Err(format!(
                    "{}: the facts of `{tenant}` are not an object",
                    f.display()
                ));
            }
            if v["tenant"].is_object() && v["tenant"].get("id").is_none() {
                v["tenant"]["id"] = json!(tenant);
            }
            let value = tenet_runtime::dsl::Value::from_json(&v);
            exempt.insert(
                tenant,
                engine::exempt(&pack, &value, Some(render::rfc3339(at))),
            );
        }
    }
    let cx = Context {
        now: at,
        watermark,
        exempt: &exempt,
    };
    let (statuses, counts) = engine::replay(&watchers, &log, &cx)
        .map_err(|(i, r)| format!("{}: event {} of the log: {r}", events.display(), i + 1))?;
    Ok((statuses, counts, at))
}
