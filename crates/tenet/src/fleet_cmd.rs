//! `tenet fleet`: the control plane.
//!
//! `plan --clusters FILE --rollout NAME` is offline: a rollout of the
//! `control_plane` pack over a fleet — the stages, the clusters of each in
//! waves, the gates, the change windows and what the guards decide — by
//! the same engine the server runs (`tenet_control_plane::plan`). The
//! others are API clients: `clusters`, `drift`, `bundle` (register),
//! `apply` (a rollout; `--wait` follows it), `status`, `resume`.

use crate::api_client::{encode, json_call, ServerArgs};
use crate::exit;
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tenet_control_plane::plan::{self, Cluster, Plan};

#[derive(Subcommand)]
pub enum FleetCommand {
    /// A rollout's stages, waves, windows and guard verdicts over a fleet,
    /// offline (exit 1 when a guard or an unmatched cluster refuses it)
    Plan {
        /// The fleet: a list of clusters `{name, labels, ...}` (JSON or YAML)
        #[arg(long)]
        clusters: PathBuf,
        /// A `rollout` of the control_plane pack
        #[arg(long)]
        rollout: String,
        /// Who starts it (the guards read `actor.id`)
        #[arg(long)]
        actor: Option<String>,
        /// The actor's role (the guards read `actor.role`)
        #[arg(long)]
        role: Option<String>,
        /// Plan at this time (RFC 3339: the windows, the waivers) [default: now]
        #[arg(long)]
        at: Option<String>,
        /// Rules directory [default: the bundled rules]
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// The registered clusters on the server (`--selector env=prod,tier!=canary`)
    Clusters {
        #[arg(long)]
        selector: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The fleet's drift on the server (exit 1 when a cluster drifts)
    Drift {
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Register a bundle on the server (name, version, fingerprint, dependencies)
    Bundle {
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: String,
        /// `sha256:<64 hex>`: what a cluster reports once it runs the bundle
        #[arg(long)]
        fingerprint: String,
        /// A bundle it needs, `name@version` (repeatable)
        #[arg(long = "depends")]
        depends: Vec<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Roll a bundle out over the fleet (the server plans it and puts it to
    /// the guards first; exit 1 when they refuse it)
    Apply {
        /// `name@version`, or a name (its latest registered version)
        #[arg(long)]
        bundle: String,
        /// The pack's rollout [default: the one that ships the bundle]
        #[arg(long)]
        rollout: Option<String>,
        /// Only the clusters this selects (`env=staging,region=eu-west-1`)
        #[arg(long)]
        selector: Option<String>,
        /// Plan and judge only: nothing kept, no cluster called
        #[arg(long)]
        dry_run: bool,
        /// Wait until the run succeeds, fails or pauses (exit 1 unless it succeeds)
        #[arg(long)]
        wait: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// An action run: its state, why it is paused, each cluster's state
    /// (exit 1 when paused or failed); without an id, the latest runs
    Status {
        id: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Resume a paused run from its per-cluster cursor
    Resume {
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// A run in a few lines: its state and why, its stages, every cluster
/// that is not simply done.
pub fn run_text(v: &Value) -> String {
    use std::fmt::Write;
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "action {}: {} ({}@{} by rollout `{}`)",
        s(&v["id"]),
        s(&v["state"]),
        s(&v["bundle"]["name"]),
        s(&v["bundle"]["version"]),
        s(&v["rollout"])
    );
    if let Some(r) = v["reason"].as_str() {
        let _ = writeln!(out, "  {r}");
    }
    if let Some(w) = v["waiting"].as_str() {
        let _ = writeln!(out, "  waiting: {w}");
    }
    let counts: Vec<String> = v["counts"]
        .as_object()
        .map(|m| m.iter().map(|(k, n)| format!("{n} {k}")).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "  clusters: {}", counts.join(", "));
    for st in v["stages"].as_array().into_iter().flatten() {
        let state = if let Some(why) = st["skipped"].as_str() {
            format!("skipped ({why})")
        } else if st["done"] == true {
            "done".into()
        } else {
            "in progress".into()
        };
        let _ = writeln!(
            out,
            "  stage {}: {} cluster(s), {} per wave, {state}",
            s(&st["name"]),
            st["clusters"].as_array().map_or(0, Vec::len),
            st["per_wave"]
        );
        for c in v["clusters"].as_array().into_iter().flatten() {
            if c["stage"] != st["name"] || c["state"] == "succeeded" {
                continue;
            }
            let why = c["because"]
                .as_str()
                .or_else(|| c["last_error"].as_str())
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {} (wave {}, {} attempt(s)){why}",
                s(&c["id"]),
                s(&c["state"]),
                c["wave"],
                c["attempts"]
            );
        }
    }
    out
}

fn run_exit(v: &Value) -> u8 {
    match v["state"].as_str() {
        Some("paused" | "failed") => exit::FINDINGS,
        _ => exit::OK,
    }
}

fn show(v: &Value, format: &crate::Format) {
    match format {
        crate::Format::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        crate::Format::Text => print!("{}", run_text(v)),
    }
}

fn fail(e: impl std::fmt::Display) -> u8 {
    eprintln!("error: {e}");
    exit::ERROR
}

fn read_fleet(path: &Path) -> Result<Vec<Cluster>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value = match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => {
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        _ => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    let list = match v {
        Value::Array(_) => v,
        Value::Object(mut m) if m.contains_key("clusters") => {
            m.remove("clusters").unwrap_or_default()
        }
        _ => {
            return Err(format!(
                "{}: a fleet is a list of clusters, or `{{clusters: [...]}}`",
                path.display()
            ))
        }
    };
    serde_json::from_value(list).map_err(|e| format!("{}: {e}", path.display()))
}

fn client(cmd: &FleetCommand) -> Result<u8, u8> {
    match cmd {
        FleetCommand::Clusters { selector, server } => {
            let q = selector
                .as_ref()
                .map(|s| format!("?selector={}", encode(s)))
                .unwrap_or_default();
            let v = json_call(server, "GET", &format!("/v1/clusters{q}"), None)?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(exit::OK)
        }
        FleetCommand::Drift { format, server } => {
            let v = json_call(server, "GET", "/v1/fleet/drift", None)?;
            match format {
                crate::Format::Json => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                }
                crate::Format::Text => {
                    println!(
                        "{} of {} cluster(s) drift at {}",
                        v["drifting"],
                        v["clusters"],
                        v["at"].as_str().unwrap_or("")
                    );
                    if let Some(m) = v["drift"].as_object() {
                        for (cluster, list) in m {
                            for d in list.as_array().into_iter().flatten() {
                                println!(
                                    "  {cluster}: {}: {}",
                                    d["kind"].as_str().unwrap_or(""),
                                    d["reason"].as_str().unwrap_or("")
                                );
                            }
                        }
                    }
                }
            }
            Ok(if v["drifting"].as_u64().unwrap_or(0) > 0 {
                exit::FINDINGS
            } else {
                exit::OK
            })
        }
        FleetCommand::Bundle {
            name,
            version,
            fingerprint,
            depends,
            server,
        } => {
            let mut deps = Vec::new();
            for d in depends {
                let Some((n, v)) = d.split_once('@') else {
                    return Err(fail(format!("--depends `{d}` is not `name@version`")));
                };
                deps.push(json!({"name": n, "version": v}));
            }
            let body = json!({"name": name, "version": version, "fingerprint": fingerprint, "dependencies": deps});
            let v = json_call(server, "POST", "/v1/bundles", Some(body))?;
            println!(
                "{} {}@{} ({})",
                if v["created"] == true {
                    "registered"
                } else {
                    "already registered:"
                },
                name,
                version,
                fingerprint
            );
            Ok(exit::OK)
        }
        FleetCommand::Apply {
            bundle,
            rollout,
            selector,
            dry_run,
            wait,
            format,
            server,
        } => {
            let mut body = json!({"bundle": bundle});
            if let Some(r) = rollout {
                body["rollout"] = json!(r);
            }
            if let Some(s) = selector {
                body["selector"] = json!(s);
            }
            let path = if *dry_run {
                "/v1/bundles/apply?dry_run=true"
            } else {
                "/v1/bundles/apply"
            };
            let v = json_call(server, "POST", path, Some(body))?;
            if v["dry_run"] == true {
                match format {
                    crate::Format::Json => {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                    }
                    crate::Format::Text => {
                        if let Ok(p) = serde_json::from_value::<PlanView>(v["plan"].clone()) {
                            print!("dry run: nothing kept, no cluster called\n{}", text(&p.0));
                        } else {
                            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                        }
                    }
                }
                return Ok(exit::OK);
            }
            let id = v["id"].as_str().unwrap_or("").to_string();
            if !*wait {
                match format {
                    crate::Format::Json => {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                    }
                    crate::Format::Text => println!(
                        "action {id} started: {} cluster(s); follow it with `tenet fleet status {id}`",
                        v["clusters"]
                    ),
                }
                return Ok(exit::OK);
            }
            loop {
                let r = json_call(server, "GET", &format!("/v1/actions/{}", encode(&id)), None)?;
                if !matches!(r["state"].as_str(), Some("pending" | "running")) {
                    show(&r, format);
                    return Ok(run_exit(&r));
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
        FleetCommand::Status { id, format, server } => match id {
            Some(id) => {
                let v = json_call(server, "GET", &format!("/v1/actions/{}", encode(id)), None)?;
                show(&v, format);
                Ok(run_exit(&v))
            }
            None => {
                let v = json_call(server, "GET", "/v1/actions", None)?;
                match format {
                    crate::Format::Json => {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
                    }
                    crate::Format::Text => {
                        for a in v["actions"].as_array().into_iter().flatten() {
                            println!(
                                "{} {} {} {}",
                                a["id"].as_str().unwrap_or(""),
                                a["state"].as_str().unwrap_or(""),
                                a["bundle"].as_str().unwrap_or(""),
                                a["created_at"].as_str().unwrap_or("")
                            );
                        }
                    }
                }
                Ok(exit::OK)
            }
        },
        FleetCommand::Resume { id, format, server } => {
            let v = json_call(
                server,
                "POST",
                &format!("/v1/actions/{}/resume", encode(id)),
                None,
            )?;
            show(&v, format);
            Ok(exit::OK)
        }
        FleetCommand::Plan { .. } => Ok(exit::ERROR),
    }
}

pub fn cmd_fleet(cmd: &FleetCommand) -> u8 {
    let FleetCommand::Plan {
        clusters,
        rollout,
        actor,
        role,
        at,
        rules,
        format,
    } = cmd
    else {
        return client(cmd).unwrap_or_else(|c| c);
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
        let pack = tenet_control_plane::pack(&loaded).map_err(|e| e.to_string())?;
        let fleet = read_fleet(clusters)?;
        let now = match at {
            Some(t) => tenet_runtime::clock::Timestamp::parse(t)
                .map_err(|e| format!("--at: {e}"))?
                .millis(),
            None => tenet_runtime::clock::system_now().millis(),
        };
        let mut a = serde_json::Map::new();
        if let Some(id) = actor {
            a.insert("id".into(), json!(id));
        }
        if let Some(r) = role {
            a.insert("role".into(), json!(r));
        }
        plan::plan(&pack, rollout, &fleet, &Value::Object(a), now)
    };
    let p = match run() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    match format {
        crate::Format::Json => println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default()),
        crate::Format::Text => print!("{}", text(&p)),
    }
    if p.allowed {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

/// A plan as the server answers it.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct PlanView(Plan);

fn text(p: &Plan) -> String {
    let mut out = format!(
        "rollout {}{} at {}: {} of {} cluster(s) targeted; a failed gate means {}\n",
        p.rollout,
        p.bundle
            .as_ref()
            .map(|b| format!(" (bundle {b})"))
            .unwrap_or_default(),
        p.at,
        p.target,
        p.fleet_size,
        p.on_fail
    );
    for s in &p.stages {
        out.push('\n');
        if let Some(why) = &s.skipped {
            out.push_str(&format!("stage {}: {why}\n", s.name));
            continue;
        }
        out.push_str(&format!(
            "stage {}: {} cluster(s), {} at a time (max_parallel {}), bake {}\n",
            s.name,
            s.clusters.len(),
            s.per_wave,
            s.max_parallel,
            if s.bake.is_empty() { "0s" } else { &s.bake }
        ));
        out.push_str(&format!(
            "  windows: {}{}\n",
            if s.window.allowed { "open" } else { "closed" },
            match (&s.window.allowed, &s.window.next) {
                (true, _) => String::new(),
                (false, Some(n)) => format!(" ({}; next opening {n})", s.window.reason),
                (false, None) => format!(" ({})", s.window.reason),
            }
        ));
        for (i, w) in s.waves.iter().enumerate() {
            out.push_str(&format!("  wave {}: {}\n", i + 1, w.join(", ")));
        }
        if !s.gates.is_empty() {
            out.push_str(&format!("  gates: {}\n", s.gates.join(", ")));
        }
    }
    if !p.unmatched.is_empty() {
        out.push_str(&format!(
            "\nunmatched ({}): {}\n",
            p.unmatched_mode,
            p.unmatched.join(", ")
        ));
    }
    if !p.guards.is_empty() {
        out.push_str("\nguards:\n");
        for g in &p.guards {
            out.push_str(&format!(
                "  {} {} ({}) on wave {} of {}{}: {}\n",
                if g.blocking { "DENY" } else { "warn" },
                g.guard,
                g.risk.as_deref().unwrap_or("-"),
                g.wave,
                g.stage,
                g.cluster
                    .as_ref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                g.because
            ));
        }
    }
    out.push('\n');
    if p.allowed {
        out.push_str("allowed: no guard denies a wave\n");
    } else {
        out.push_str("refused:\n");
        for r in &p.refused {
            out.push_str(&format!("  - {r}\n"));
        }
    }
    out
}
