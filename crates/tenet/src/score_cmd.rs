//! `tenet score --signals FILE --profile P`: a tenant's score on a profile
//! of the `tenant_benchmark` pack, computed offline by the same engine the
//! server will run (`tenet_tenant_benchmark::score`).

use crate::exit;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tenet_runtime::clock::Timestamp;
use tenet_tenant_benchmark::profiles::Profiles;
use tenet_tenant_benchmark::score::{self, Earlier, Signal};

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The tenant's facts and signals (JSON): `{"tenant": {...}, "signals":
    /// {"name": value or {"value", "at", "source"}}, "history"?: [{"at",
    /// "values": {"factor": value}}]}`
    #[arg(long)]
    signals: PathBuf,
    /// The profile (`regulator`, `csm`...)
    #[arg(long)]
    profile: String,
    /// Score at this time (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<String>,
    /// Rules directory [default: the bundled rules]
    #[arg(long)]
    rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: crate::Format,
}

fn ms(t: &str) -> Result<i64, String> {
    tenet_runtime::dsl::window::parse_time(t)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("`{t}` is not an RFC 3339 time such as 2026-12-04T10:00:00Z"))
}

type Read = (Value, BTreeMap<String, Signal>, BTreeMap<String, Earlier>);

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
    let tenant = obj.get("tenant").cloned().unwrap_or_else(|| json!({}));
    if !tenant.is_object() {
        return Err(format!("{}: `tenant` must be an object", path.display()));
    }
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
    // The latest earlier value of each factor.
    let mut earlier: BTreeMap<String, Earlier> = BTreeMap::new();
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
            for (f, v) in values {
                let Some(v) = v.as_f64() else {
                    return Err(format!(
                        "{}: history {i}: `{f}` is not a number",
                        path.display()
                    ));
                };
                if earlier.get(f).is_none_or(|x| x.at <= at) {
                    earlier.insert(f.clone(), Earlier { value: v, at });
                }
            }
        }
    }
    Ok((tenant, signals, earlier))
}

pub fn cmd_score(a: &ScoreArgs, now: Timestamp) -> u8 {
    let rules = match &a.rules {
        None => tenet_runtime::load::load_bundled(),
        Some(d) => tenet_runtime::load::load_path(d),
    };
    let rules = match rules {
        Ok(r) => r,
        Err(e) => return crate::report_load_error(&e),
    };
    let run = || -> Result<score::Score, String> {
        let at = match &a.at {
            Some(t) => ms(t).map_err(|e| format!("--at: {e}"))?,
            None => now.unix_secs() * 1000 + i64::from(now.subsec_nanos() / 1_000_000),
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
        let (tenant, signals, earlier) = read(&a.signals)?;
        Ok(score::score(&pack, p, &tenant, &signals, &earlier, at))
    };
    let s = match run() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    match a.format {
        crate::Format::Json => println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default()),
        crate::Format::Text => print!("{}", text(&s)),
    }
    if s.score.is_some() {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

fn text(s: &score::Score) -> String {
    let mut out = match s.score {
        Some(v) => format!(
            "{} v{}: {:.1} (coverage {:.0}%)\n",
            s.profile,
            s.version,
            v,
            s.coverage * 100.0
        ),
        None => format!(
            "{} v{}: no score ({})\n",
            s.profile,
            s.version,
            s.blocked
                .clone()
                .unwrap_or_else(|| "no factor had data".into())
        ),
    };
    if let Some(n) = &s.cap_note {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push('\n');
    let rows: Vec<[String; 6]> = s
        .factors
        .iter()
        .map(|f| {
            [
                f.factor.clone(),
                f.value
                    .map(|v| format!("{v}"))
                    .unwrap_or_else(|| "-".into()),
                f.normalised
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into()),
                format!("{}", f.weight),
                if f.included {
                    format!("{:.1} ({:.1}%)", f.contribution, f.share)
                } else {
                    "left out".into()
                },
                f.why.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let head = ["FACTOR", "VALUE", "NORMALISED", "WEIGHT", "POINTS", "WHY"];
    let w: Vec<usize> = (0..6)
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
            "{:w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}\n",
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
    };
    out.push_str(line(head).trim_end());
    out.push('\n');
    for r in &rows {
        out.push_str(line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]).trim_end());
        out.push('\n');
    }
    out
}
