//! The watchers the `meta_monitor` pack declares, read once per rules
//! load into plain values the engine evaluates many times.
//!
//! What a watcher expects (its schedule, grace, quorum, sources,
//! dependencies, silence budget, windows) is the pack's: this file only
//! turns the pack's fields into types, and refuses a pack the engine
//! could not evaluate (a dependency cycle, an unknown time zone) with one
//! sentence naming the watcher.

use crate::model::Ms;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use tenet_runtime::dsl::calendar::Calendar;
use tenet_runtime::dsl::cron::Schedule as Cron;
use tenet_runtime::dsl::window::{self, Window};
use tenet_runtime::dsl::Value;
use tenet_runtime::ir::CBlock;
use tenet_runtime::pack::PackHandle;

/// When heartbeats are expected.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// One every period (Healthchecks' simple schedule).
    Cadence(Ms),
    /// At the fire times of a cron expression, in a time zone.
    Cron { text: String, cron: Cron, tz: Tz },
    /// At the fire times of a systemd OnCalendar expression.
    Calendar {
        text: String,
        calendar: Calendar,
        tz: Tz,
    },
}

impl Schedule {
    /// The first expected time strictly after a heartbeat at `after`
    /// (Healthchecks: `last_ping + period`, or the next fire time);
    /// `None`: never again.
    pub fn next_expected(&self, after: Ms) -> Option<Ms> {
        match self {
            Schedule::Cadence(p) => after.checked_add(*p),
            Schedule::Cron { cron, tz, .. } => cron
                .next_after(to_utc(after)?, *tz)
                .map(|t| t.timestamp_millis()),
            Schedule::Calendar { calendar, tz, .. } => calendar
                .next_after(to_utc(after)?, *tz)
                .map(|t| t.timestamp_millis()),
        }
    }

    /// How the schedule is written, for explanations.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cadence(p) => {
                format!("every {}", tenet_runtime::dsl::value::format_duration(*p))
            }
            Schedule::Cron { text, tz, .. } => format!("cron `{text}` ({tz})"),
            Schedule::Calendar { text, tz, .. } => format!("calendar `{text}` ({tz})"),
        }
    }
}

pub fn to_utc(ms: Ms) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Hysteresis on a watcher's meta-incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    /// Consecutive missed heartbeats that open it.
    pub enter: u64,
    /// It closes once misses fall below this ...
    pub exit: u64,
    /// ... and stay there this long.
    pub dwell: Ms,
}

/// One watcher of the pack.
#[derive(Debug, Clone)]
pub struct Watcher {
    pub name: String,
    pub description: String,
    pub schedule: Schedule,
    pub grace: Ms,
    pub silence_budget: Ms,
    /// Page again every this long while down (0: never).
    pub realert: Ms,
    /// Sources that must be alive for the watcher to be.
    pub quorum: usize,
    /// The declared sources; empty: any source, counted as one stream.
    pub sources: Vec<String>,
    pub depends_on: Vec<String>,
    /// `suppress_and_track` or `alert`.
    pub on_upstream_down: String,
    pub min_events: Option<u64>,
    pub severity: String,
    /// A paused watcher ignores heartbeats until resumed by hand.
    pub manual_resume: bool,
    /// Deny windows mute its pages while open; allow windows, when there
    /// are any, mute them outside (it keeps being evaluated).
    pub windows: Vec<(String, Window)>,
    pub hysteresis: Option<Hysteresis>,
    /// `exempt_when` as written, for explanations.
    pub exempt_when: Option<String>,
}

/// The name a stream without declared sources is kept under.
pub const ANY_SOURCE: &str = "*";

impl Watcher {
    /// The names its sources are kept under.
    pub fn source_names(&self) -> Vec<String> {
        if self.sources.is_empty() {
            vec![ANY_SOURCE.to_string()]
        } else {
            self.sources.clone()
        }
    }

    /// Where a heartbeat from `source` is kept; `None`: the watcher
    /// declares its sources and this is not one of them.
    pub fn stream_of<'a>(&self, source: &'a str) -> Option<&'a str> {
        if self.sources.is_empty() {
            Some(ANY_SOURCE)
        } else {
            self.sources.iter().any(|s| s == source).then_some(source)
        }
    }

    /// What mutes its pages at `now`, if anything, as the language's
    /// windows decide (`dsl::window::allows`): an open deny window, or,
    /// when it has allow windows, being outside all of them. Gives the
    /// window's name (`outside <names>` for allow windows) and why.
    pub fn muted_by(&self, now: Ms) -> Option<(String, String)> {
        if self.windows.is_empty() {
            return None;
        }
        let at = to_utc(now)?;
        if let Some((n, _)) = self
            .windows
            .iter()
            .find(|(_, w)| w.mode == window::Mode::Deny && window::is_open(w, at).unwrap_or(false))
        {
            return Some((n.clone(), format!("deny window `{n}` is open")));
        }
        let list: Vec<Window> = self.windows.iter().map(|(_, w)| w.clone()).collect();
        match window::allows(&list, at) {
            Ok(v) if v.allowed => None,
            Ok(_) => {
                let names: Vec<&str> = self
                    .windows
                    .iter()
                    .filter(|(_, w)| w.mode == window::Mode::Allow)
                    .map(|(n, _)| n.as_str())
                    .collect();
                Some((
                    format!("outside {}", names.join(", ")),
                    format!("outside every allow window (`{}`)", names.join("`, `")),
                ))
            }
            // A window that cannot be read mutes nothing: pages go out.
            Err(_) => None,
        }
    }
}

/// Every watcher of the pack, parents before children.
#[derive(Debug, Clone, Default)]
pub struct Watchers {
    pub list: Vec<Watcher>,
    by_name: BTreeMap<String, usize>,
}

impl Watchers {
    pub fn get(&self, name: &str) -> Option<&Watcher> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|w| w.name.as_str()).collect()
    }

    /// The pack's watchers; an error names the watcher and what is wrong.
    pub fn read(pack: &PackHandle) -> Result<Watchers, String> {
        let mut list = Vec::new();
        for b in pack
            .compiled()
            .blocks
            .iter()
            .filter(|b| b.kind == "watcher")
        {
            list.push(read_one(pack, b).map_err(|e| format!("watcher `{}`: {e}", b.name))?);
        }
        order(list)
    }
}

fn read_one(pack: &PackHandle, b: &CBlock) -> Result<Watcher, String> {
    let get = |f: &str| -> Result<Value, String> {
        pack.field(b, f, &Value::Null)
            .map(|v| v.unwrap_or(Value::Null))
            .map_err(|e| format!("`{f}`: {e}"))
    };
    let dur = |f: &str| -> Result<Option<Ms>, String> {
        match get(f)? {
            Value::Duration(ms) => Ok(Some(ms)),
            Value::Null => Ok(None),
            v => Err(format!("`{f}` is a duration, found {}", v.type_name())),
        }
    };
    let text = |f: &str| -> Result<Option<String>, String> {
        match get(f)? {
            Value::Str(s) => Ok(Some(s.to_string())),
            Value::Null => Ok(None),
            v => Err(format!("`{f}` is a string, found {}", v.type_name())),
        }
    };
    let list = |f: &str| -> Result<Vec<String>, String> {
        match get(f)? {
            Value::List(l) => l
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.to_string()),
                    v => Err(format!("`{f}` holds strings, found {}", v.type_name())),
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            v => Err(format!("`{f}` is a list, found {}", v.type_name())),
        }
    };
    let int = |f: &str| -> Result<Option<i64>, String> {
        match get(f)? {
            Value::Int(n) => Ok(Some(n)),
            Value::Null => Ok(None),
            v => Err(format!("`{f}` is a whole number, found {}", v.type_name())),
        }
    };
    let tz_name = text("tz")?.unwrap_or_else(|| "UTC".into());
    let tz: Tz = tz_name
        .parse()
        .map_err(|_| format!("`tz` `{tz_name}` is not an IANA time zone"))?;
    let schedule = match (dur("cadence")?, text("cron")?, text("calendar")?) {
        (Some(p), None, None) if p > 0 => Schedule::Cadence(p),
        (Some(_), None, None) => return Err("`cadence` must be longer than 0s".into()),
        (None, Some(c), None) => Schedule::Cron {
            cron: Cron::parse(&c).map_err(|e| format!("`cron` `{c}`: {}", e.message))?,
            text: c,
            tz,
        },
        (None, None, Some(c)) => Schedule::Calendar {
            calendar: Calendar::parse(&c)
                .map_err(|e| format!("`calendar` `{c}`: {}", e.message))?,
            text: c,
            tz,
        },
        _ => return Err("needs exactly one of `cadence`, `cron` and `calendar`".into()),
    };
    let sources = list("sources")?;
    let quorum = int("quorum")?.unwrap_or(1);
    let n = sources.len().max(1);
    if quorum < 1 || quorum as usize > n {
        return Err(format!(
            "`quorum {quorum}` needs between 1 and {n} sources (it declares {})",
            sources.len()
        ));
    }
    let min_events = match int("min_events")? {
        Some(n) if n < 0 => return Err("`min_events` cannot be negative".into()),
        Some(n) => Some(n as u64),
        None => None,
    };
    let mut windows = Vec::new();
    for w in pack.nested(&b.name, "window") {
        let wget = |f: &str| {
            pack.field(w, f, &Value::Null)
                .ok()
                .flatten()
                .unwrap_or(Value::Null)
        };
        let mut map = BTreeMap::new();
        for f in ["mode", "cron", "duration", "tz"] {
            map.insert(std::sync::Arc::<str>::from(f), wget(f));
        }
        let win = window::from_value(&Value::Map(std::sync::Arc::new(map)))
            .map_err(|e| format!("window `{}`: {e}", w.name))?;
        let short = w.name.rsplit('/').next().unwrap_or(&w.name).to_string();
        windows.push((short, win));
    }
    let hysteresis = match pack.nested(&b.name, "hysteresis").first() {
        None => None,
        Some(h) => {
            let hget = |f: &str| {
                pack.field(h, f, &Value::Null)
                    .ok()
                    .flatten()
                    .unwrap_or(Value::Null)
            };
            let count = |f: &str| match hget(f) {
                Value::Int(n) if n >= 0 => Ok(n as u64),
                v => Err(format!(
                    "hysteresis `{f}` is a whole number, found {}",
                    v.type_name()
                )),
            };
            Some(Hysteresis {
                enter: count("enter")?,
                exit: count("exit")?,
                dwell: match hget("dwell") {
                    Value::Duration(ms) => ms,
                    _ => 0,
                },
            })
        }
    };
    Ok(Watcher {
        name: b.name.clone(),
        description: text("description")?.unwrap_or_default(),
        schedule,
        grace: dur("grace")?.unwrap_or(0),
        silence_budget: dur("silence_budget")?.unwrap_or(0),
        realert: dur("realert")?.unwrap_or(0),
        quorum: quorum as usize,
        sources,
        depends_on: list("depends_on")?,
        on_upstream_down: text("on_upstream_down")?.unwrap_or_else(|| "suppress_and_track".into()),
        min_events,
        severity: b
            .level
            .clone()
            .or(text("severity")?)
            .unwrap_or_else(|| "high".into()),
        manual_resume: matches!(get("manual_resume")?, Value::Bool(true)),
        windows,
        hysteresis,
        exempt_when: b.condition.as_ref().map(|c| c.text.clone()),
    })
}

/// Parents before children; a cycle or an unknown parent is an error.
fn order(list: Vec<Watcher>) -> Result<Watchers, String> {
    let names: BTreeSet<&str> = list.iter().map(|w| w.name.as_str()).collect();
    for w in &list {
        if let Some(p) = w.depends_on.iter().find(|p| !names.contains(p.as_str())) {
            return Err(format!(
                "watcher `{}` depends on `{p}`, which is not a watcher",
                w.name
            ));
        }
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out: Vec<Watcher> = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (ready, wait): (Vec<Watcher>, Vec<Watcher>) = rest
            .into_iter()
            .partition(|w| w.depends_on.iter().all(|p| done.contains(p)));
        if ready.is_empty() {
            let cycle: Vec<&str> = wait.iter().map(|w| w.name.as_str()).collect();
            return Err(format!(
                "the watchers {} depend on each other in a cycle: none can be evaluated first",
                cycle.join(", ")
            ));
        }
        for w in ready {
            done.insert(w.name.clone());
            out.push(w);
        }
        rest = wait;
    }
    let by_name = out
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.clone(), i))
        .collect();
    Ok(Watchers { list: out, by_name })
}
