//! How a watcher's state is written out: JSON (times as RFC 3339) for the
//! API and `--format json`, and a table for people.

use crate::model::{Event, Kind, Ms, Status};
use serde::Deserialize;
use serde_json::{json, Value};

/// An instant as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: Ms) -> String {
    tenet_runtime::clock::Timestamp::from_millis(ms).rfc3339()
}

/// An RFC 3339 time (any offset) as milliseconds.
pub fn parse_time(s: &str) -> Result<Ms, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("`{s}` is not an RFC 3339 time such as 2026-12-04T10:00:00Z"))
}

/// One status as JSON.
pub fn status_json(s: &Status) -> Value {
    let t = |v: Option<Ms>| v.map(rfc3339);
    let mut v = json!({
        "watcher": s.watcher,
        "state": s.state.as_str(),
        "base_state": s.base_state.as_str(),
        "expected_by": t(s.expected_by),
        "down_by": t(s.down_by),
        "down_at": t(s.down_at),
        "pages_at": t(s.pages_at),
        "last_seen": s.last_seen.iter().map(|(k, v)| (k.clone(), Value::String(rfc3339(*v)))).collect::<serde_json::Map<_, _>>(),
        "why": s.why,
    });
    if !s.tenant.is_empty() {
        v["tenant"] = json!(s.tenant);
    }
    if let Some(p) = &s.suppressed_by {
        v["suppressed_by"] = json!(p);
    }
    if let Some(m) = &s.muted_by {
        v["muted_by"] = json!(m);
    }
    v
}

/// Statuses as a table: watcher (and tenant), state, expected by, why.
pub fn status_text(list: &[Status]) -> String {
    let json: Vec<Value> = list.iter().map(status_json).collect();
    status_table(&json)
}

/// Statuses as [`status_json`] (or the server) writes them, as a table.
pub fn status_table(list: &[Value]) -> String {
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|w| {
            let name = w["watcher"].as_str().unwrap_or("");
            [
                match w["tenant"].as_str() {
                    Some(t) => format!("{name} ({t})"),
                    None => name.to_string(),
                },
                w["state"].as_str().unwrap_or("").to_string(),
                w["expected_by"].as_str().unwrap_or("-").to_string(),
                w["why"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    let head = ["WATCHER", "STATE", "EXPECTED BY", "WHY"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = format!(
        "{:w0$}  {:w1$}  {:w2$}  {}\n",
        head[0], head[1], head[2], head[3]
    );
    for r in rows {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    out
}

/// One event as written in a log or an API body: times in RFC 3339.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    pub watcher: String,
    #[serde(default)]
    pub tenant: Option<String>,
    pub source: String,
    pub at: String,
    #[serde(default = "success")]
    pub kind: String,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub exit_status: Option<i64>,
    #[serde(default)]
    pub count: Option<u64>,
}

fn success() -> String {
    "success".into()
}

impl WireEvent {
    /// The event, or one sentence on what is wrong with it.
    pub fn into_event(self) -> Result<Event, String> {
        let kind = Kind::parse(&self.kind).ok_or_else(|| {
            format!(
                "`kind` `{}` is not one of success, start, fail, log, pause, resume",
                self.kind
            )
        })?;
        let exit_status = match self.exit_status {
            None => None,
            Some(n) if (0..=255).contains(&n) => Some(n as u8),
            Some(n) => return Err(format!("`exit_status` {n} is not 0-255")),
        };
        if self.watcher.is_empty() {
            return Err("`watcher` is empty".into());
        }
        if self.source.is_empty() {
            return Err("`source` is empty".into());
        }
        if self
            .run_id
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.chars().count() > 200)
        {
            return Err("`run_id` must be 1 to 200 characters".into());
        }
        Ok(Event {
            watcher: self.watcher,
            tenant: self.tenant.unwrap_or_default(),
            source: self.source,
            at: parse_time(&self.at).map_err(|e| format!("`at`: {e}"))?,
            kind,
            run_id: self.run_id,
            seq: self.seq,
            exit_status,
            count: self.count,
        })
    }
}

/// A JSON Lines event log (blank lines and `#` comments skipped); an
/// error names the line.
pub fn read_log(text: &str) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let w: WireEvent = serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(w.into_event().map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(out)
}

/// The dependency graph with states: one node per watcher and tenant,
/// an edge from each parent instance to each child instance (a tenant's
/// child hangs off the tenant's parent if there is one, else the
/// platform's).
pub fn graph(watchers: &crate::watchers::Watchers, statuses: &[Status]) -> Value {
    let id = |w: &str, t: &str| {
        if t.is_empty() {
            w.to_string()
        } else {
            format!("{w}/{t}")
        }
    };
    let nodes: Vec<Value> = statuses
        .iter()
        .map(|s| {
            json!({
                "id": id(&s.watcher, &s.tenant),
                "watcher": s.watcher,
                "tenant": (!s.tenant.is_empty()).then(|| s.tenant.clone()),
                "state": s.state.as_str(),
                "suppressed_by": s.suppressed_by,
            })
        })
        .collect();
    let mut edges = Vec::new();
    for s in statuses {
        let Some(w) = watchers.get(&s.watcher) else {
            continue;
        };
        for p in &w.depends_on {
            let same = statuses
                .iter()
                .any(|x| &x.watcher == p && x.tenant == s.tenant);
            let parent = if same { id(p, &s.tenant) } else { id(p, "") };
            edges.push(json!({"from": parent, "to": id(&s.watcher, &s.tenant), "on_upstream_down": w.on_upstream_down}));
        }
    }
    json!({"nodes": nodes, "edges": edges})
}

/// The graph of [`graph`] in Graphviz DOT: nodes coloured by state; the
/// edges of children that alert on their own (`on_upstream_down alert`)
/// dashed.
pub fn graph_dot(g: &Value) -> String {
    let colour = |state: &str| match state {
        "up" => "palegreen",
        "late" => "gold",
        "down" => "tomato",
        "suppressed" => "lightsalmon",
        "started" => "lightblue",
        "paused" | "exempt" => "lightgrey",
        _ => "white",
    };
    let q = |s: &str| {
        format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    };
    let mut out =
        String::from("digraph watchers {\n  rankdir=LR;\n  node [shape=box, style=filled];\n");
    for n in g["nodes"].as_array().into_iter().flatten() {
        let id = n["id"].as_str().unwrap_or("");
        let state = n["state"].as_str().unwrap_or("");
        out.push_str(&format!(
            "  {} [label={}, fillcolor={}];\n",
            q(id),
            q(&format!("{id}\n{state}")),
            colour(state)
        ));
    }
    for e in g["edges"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {} -> {}{};\n",
            q(e["from"].as_str().unwrap_or("")),
            q(e["to"].as_str().unwrap_or("")),
            if e["on_upstream_down"] == "alert" {
                " [style=dashed]"
            } else {
                ""
            }
        ));
    }
    out.push_str("}\n");
    out
}
