//! `tenet score`: a tenant's score on a profile of the `tenant_benchmark`
//! pack. `tenet score TENANT --profile P` asks a server for the latest
//! evaluation; `tenet score --signals FILE --profile P` computes it
//! offline with the same engine (`tenet_tenant_benchmark::engine`),
//! replaying the file's `history` first so that badges and carried
//! values come out as the server's would.

use crate::api_client::{json_call, ServerArgs};
use crate::exit;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tenet_runtime::clock::Timestamp;
use tenet_tenant_benchmark::engine::{self, Point};
use tenet_tenant_benchmark::model::Evaluation;
use tenet_tenant_benchmark::profiles::{Profile, Profiles};
use tenet_tenant_benchmark::score::Signal;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["tenant", "signals"])))]
pub struct ScoreArgs {
    /// A tenant: its latest evaluation, from the server
    tenant: Option<String>,
    /// Offline: the tenant's facts and signals (JSON): `{"tenant": {...},
    /// "signals": {"name": value or {"value", "at", "source"}}, "history"?:
    /// [{"at", "values": {"factor": value}}]}`
    #[arg(long, conflicts_with = "tenant")]
    signals: Option<PathBuf>,
    /// The profile (`regulator`, `csm`...)
    #[arg(long)]
    profile: String,
    /// Offline: score at this time (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<String>,
    /// Offline: rules directory [default: the bundled rules]
    #[arg(long)]
    rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: crate::Format,
    #[command(flatten)]
    server: ServerArgs,
}

fn ms(t: &str) -> Result<i64, String> {
    tenet_runtime::dsl::window::parse_time(t)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("`{t}` is not an RFC 3339 time such as 2026-12-04T10:00:00Z"))
}

/// What the file holds: the tenant's facts, its signals now, and its
/// earlier evaluations as (time, factor → value).
struct Read {
    facts: serde_json::Map<String, Value>,
    signals: BTreeMap<String, Signal>,
    history: Vec<(i64, BTreeMap<String, f64>)>,
}

/// The file, read; an error names what is wrong where.
fn read(path: &PathBuf) -> Result<Read, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(obj) = v.as_object() else {
        return Err(format!(
            "{}: expected an object with `tenant` and `signals`",
            path.display()
        ));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["tenant", "signals", "history"].contains(&k.as_str()))
    {
        return Err(format!(
            "{}: unknown key `{k}` (the file has `tenant`, `signals` and `history`)",
            path.display()
        ));
    }
    let facts = match obj.get("tenant") {
        None => serde_json::Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(format!("{}: `tenant` must be an object", path.display())),
    };
    let mut signals = BTreeMap::new();
    if let Some(s) = obj.get("signals") {
        let Some(s) = s.as_object() else {
            return Err(format!("{}: `signals` must be an object", path.display()));
        };
        for (k, v) in s {
            let sig = match v {
                Value::Object(m) => {
                    if let Some(bad) = m
                        .keys()
                        .find(|x| !["value", "at", "source"].contains(&x.as_str()))
                    {
                        return Err(format!(
                            "{}: signal `{k}`: unknown key `{bad}` (value, at, source)",
                            path.display()
                        ));
                    }
                    let at =
                        match m.get("at") {
                            None | Some(Value::Null) => None,
                            Some(Value::String(t)) => Some(ms(t).map_err(|e| {
                                format!("{}: signal `{k}`: `at`: {e}", path.display())
                            })?),
                            Some(_) => {
                                return Err(format!(
                                    "{}: signal `{k}`: `at` must be a string",
                                    path.display()
                                ))
                            }
                        };
                    Signal {
                        value: m.get("value").cloned().unwrap_or(Value::Null),
                        at,
                        source: m.get("source").and_then(Value::as_str).map(str::to_string),
                    }
                }
                other => Signal {
                    value: other.clone(),
                    at: None,
                    source: None,
                },
            };
            signals.insert(k.clone(), sig);
        }
    }
    let mut history = Vec::new();
    if let Some(h) = obj.get("history") {
        let Some(list) = h.as_array() else {
            return Err(format!("{}: `history` must be a list", path.display()));
        };
        for (i, e) in list.iter().enumerate() {
            let at = e["at"]
                .as_str()
                .ok_or_else(|| format!("{}: history {i}: `at` is missing", path.display()))?;
            let at = ms(at).map_err(|x| format!("{}: history {i}: `at`: {x}", path.display()))?;
            let Some(values) = e["values"].as_object() else {
                return Err(format!(
                    "{}: history {i}: `values` must be an object",
                    path.display()
                ));
            };
            let mut vals = BTreeMap::new();
            for (f, v) in values {
                let Some(v) = v.as_f64() else {
                    return Err(format!(
                        "{}: history {i}: `{f}` is not a number",
                        path.display()
                    ));
                };
                vals.insert(f.clone(), v);
            }
            history.push((at, vals));
        }
    }
    history.sort_by_key(|(at, _)| *at);
    Ok(Read {
        facts,
        signals,
        history,
    })
}

/// The points to replay: each earlier evaluation (its factors' values as
/// the signals of their sources, measured then), then now.
fn points(p: &Profile, r: Read, now: i64) -> Result<Vec<Point>, String> {
    let mut out = Vec::with_capacity(r.history.len() + 1);
    for (i, (at, values)) in r.history.into_iter().enumerate() {
        if at > now {
            return Err(format!("history {i} is after the time scored (`--at`)"));
        }
        let mut signals = BTreeMap::new();
        for (f, v) in values {
            let factor = p.factors.iter().find(|x| x.name == f).ok_or_else(|| {
                format!(
                    "history {i}: no factor `{f}` in profile `{}` (factors: {})",
                    p.name,
                    p.factors
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            signals.insert(
                factor.source.clone(),
                Signal {
                    value: json!(v),
                    at: Some(at),
                    source: None,
                },
            );
        }
        out.push(Point {
            at,
            facts: r.facts.clone(),
            signals,
        });
    }
    out.push(Point {
        at: now,
        facts: r.facts,
        signals: r.signals,
    });
    Ok(out)
}

pub fn cmd_score(a: &ScoreArgs, now: Timestamp) -> u8 {
    let e = match (&a.tenant, &a.signals) {
        (Some(_), _) if a.at.is_some() || a.rules.is_some() => {
            eprintln!("error: --at and --rules score offline, with --signals FILE; the server scores TENANT with its own rules, now");
            return exit::ERROR;
        }
        (Some(t), _) => match from_server(a, t) {
            Ok(e) => e,
            Err(code) => return code,
        },
        (None, Some(file)) => match offline(a, file, now) {
            Ok(e) => e,
            Err(code) => return code,
        },
        (None, None) => {
            eprintln!("error: give a TENANT (from the server) or --signals FILE (offline)");
            return exit::ERROR;
        }
    };
    match a.format {
        crate::Format::Json => println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default()),
        crate::Format::Text => print!("{}", text(&e)),
    }
    if e.score.score.is_some() {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

fn from_server(a: &ScoreArgs, tenant: &str) -> Result<Evaluation, u8> {
    let ok = !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        eprintln!("error: `{tenant}` is not a tenant id (letters, digits, `_`, `.`, `-`)");
        return Err(exit::ERROR);
    }
    let profile: String = a
        .profile
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
        .map(char::from)
        .collect();
    let v = json_call(
        &a.server,
        "GET",
        &format!("/v1/tenants/{tenant}/score?profile={profile}"),
        None,
    )?;
    serde_json::from_value(v).map_err(|e| {
        eprintln!("error: the server's answer is not an evaluation: {e}");
        exit::ERROR
    })
}

fn offline(a: &ScoreArgs, file: &PathBuf, now: Timestamp) -> Result<Evaluation, u8> {
    let rules = match &a.rules {
        None => tenet_runtime::load::load_bundled(),
        Some(d) => tenet_runtime::load::load_path(d),
    };
    let rules = rules.map_err(|e| crate::report_load_error(&e))?;
    let run = || -> Result<Evaluation, String> {
        let at = match &a.at {
            Some(t) => ms(t).map_err(|e| format!("--at: {e}"))?,
            None => now.millis(),
        };
        let pack = tenet_tenant_benchmark::pack(&rules).map_err(|e| e.to_string())?;
        let profiles = Profiles::read(&pack)?;
        let p = profiles.get(&a.profile).ok_or_else(|| {
            format!(
                "no profile `{}` in the tenant_benchmark pack (profiles: {})",
                a.profile,
                profiles.names().join(", ")
            )
        })?;
        let r = read(file)?;
        let pts = points(p, r, at).map_err(|e| format!("{}: {e}", file.display()))?;
        let (mut evals, _) = engine::replay(&pack, p, "", &pts);
        evals
            .pop()
            .ok_or_else(|| "nothing was evaluated".to_string())
    };
    run().map_err(|e| {
        eprintln!("error: {e}");
        exit::ERROR
    })
}

fn text(e: &Evaluation) -> String {
    let mut out = tenet_tenant_benchmark::render::table(&e.score, e.badge.as_deref());
    for b in e.badges.iter().filter(|b| b.standing.has()) {
        if let Some(n) = &b.narrative {
            out.push_str(&format!("\n{}: {n}\n", b.badge));
        }
    }
    for t in &e.transitions {
        out.push_str(&format!("{} {}: {}\n", t.badge, t.change, t.reason));
    }
    out
}
