//! What the `dark_inventory` pack declares, read once per rules load into
//! plain values: its `correlate` rules (which sources each reads, its
//! catalog, severity, SLA, task), its `source`s (freshness SLO, the
//! mass-vanish share) and its `lifecycle` (auto-close after N runs, what a
//! reopening does to the SLA clock, the longest waiver, the SLA per
//! severity). The conditions and key expressions stay in the pack and are
//! evaluated by [`crate::correlate`].

use std::collections::BTreeMap;
use tenet_runtime::dsl::Value;
use tenet_runtime::ir::CBlock;
use tenet_runtime::pack::PackHandle;

/// One `correlate` rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub sources: Vec<String>,
    pub catalog: String,
    pub severity: String,
    /// Its own `sla`, else its severity's in the lifecycle.
    pub sla_ms: Option<i64>,
    pub task: Option<String>,
    pub block: CBlock,
}

/// One `source`.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub freshness_ms: i64,
    /// The share (0..=1) of what it saw last run that may vanish in one run.
    pub max_vanished: f64,
    pub every_ms: Option<i64>,
}

impl Source {
    /// Whether the source is stale at `now`: no run yet, or its last run
    /// is older than its freshness SLO.
    pub fn stale(&self, last_run_at: Option<i64>, now: i64) -> bool {
        last_run_at.is_none_or(|at| now - at > self.freshness_ms)
    }
}

/// The `lifecycle`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub close_after_runs: u32,
    /// `on_reopen restart`: the SLA clock starts again at the reopening.
    pub restart_on_reopen: bool,
    pub pause_while_waived: bool,
    pub max_waiver_ms: i64,
    /// SLA by severity.
    pub sla: BTreeMap<String, i64>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            close_after_runs: 3,
            restart_on_reopen: false,
            pause_while_waived: true,
            max_waiver_ms: 90 * 86_400_000,
            sla: BTreeMap::new(),
        }
    }
}

/// Everything the pack declares for the engine.
#[derive(Debug, Clone)]
pub struct Policy {
    pub pack_version: String,
    pub rules: Vec<Rule>,
    pub sources: BTreeMap<String, Source>,
    pub lifecycle: Lifecycle,
    /// The pack's levels, highest first.
    pub levels: Vec<String>,
}

impl Policy {
    /// Reads the pack; an error names the block.
    pub fn read(pack: &PackHandle) -> Result<Policy, String> {
        let mut lifecycle = Lifecycle::default();
        let blocks = &pack.compiled().blocks;
        if let Some(l) = blocks.iter().find(|b| b.kind == "lifecycle") {
            if let Value::Int(n) = get(pack, l, "close_after_runs") {
                lifecycle.close_after_runs =
                    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("lifecycle: `close_after_runs` must be 1 or more, found {n}")
                    })?;
            }
            lifecycle.restart_on_reopen =
                matches!(get(pack, l, "on_reopen"), Value::Str(s) if &*s == "restart");
            lifecycle.pause_while_waived =
                !matches!(get(pack, l, "pause_while_waived"), Value::Bool(false));
            if let Value::Duration(ms) = get(pack, l, "max_waiver") {
                lifecycle.max_waiver_ms = ms;
            }
            for s in pack.nested(&l.name, "sla") {
                let (Value::Str(sev), Value::Duration(ms)) =
                    (get(pack, s, "severity"), get(pack, s, "within"))
                else {
                    return Err("lifecycle: an `sla` needs `severity` and `within`".into());
                };
                if lifecycle.sla.insert(sev.to_string(), ms).is_some() {
                    return Err(format!("lifecycle: two `sla` blocks for severity `{sev}`"));
                }
            }
        }
        let mut sources = BTreeMap::new();
        for b in blocks.iter().filter(|b| b.kind == "source") {
            let Value::Duration(freshness_ms) = get(pack, b, "freshness_slo") else {
                return Err(format!("source `{}`: `freshness_slo` is required", b.name));
            };
            let max_vanished = match get(pack, b, "max_vanished") {
                Value::Percent(p) => p / 100.0,
                _ => 0.2,
            };
            sources.insert(
                b.name.clone(),
                Source {
                    name: b.name.clone(),
                    freshness_ms,
                    max_vanished,
                    every_ms: match get(pack, b, "every") {
                        Value::Duration(ms) => Some(ms),
                        _ => None,
                    },
                },
            );
        }
        let mut rules = Vec::new();
        for b in blocks.iter().filter(|b| b.kind == "correlate") {
            let severity = b
                .level
                .clone()
                .ok_or_else(|| format!("correlate `{}`: no severity", b.name))?;
            let list = |v: Value| -> Vec<String> {
                match v {
                    Value::List(l) => l.iter().filter_map(text).collect(),
                    v => text(&v).into_iter().collect(),
                }
            };
            let rule_sources = list(get(pack, b, "source"));
            for s in &rule_sources {
                if !sources.contains_key(s) {
                    return Err(format!(
                        "correlate `{}` reads source `{s}`, which no `source` block declares",
                        b.name
                    ));
                }
            }
            rules.push(Rule {
                name: b.name.clone(),
                sources: rule_sources,
                catalog: text(&get(pack, b, "catalog")).unwrap_or_default(),
                sla_ms: match get(pack, b, "sla") {
                    Value::Duration(ms) => Some(ms),
                    _ => lifecycle.sla.get(&severity).copied(),
                },
                severity,
                task: text(&get(pack, b, "task")),
                block: b.clone(),
            });
        }
        Ok(Policy {
            pack_version: pack.version().to_string(),
            rules,
            sources,
            lifecycle,
            levels: pack.levels().to_vec(),
        })
    }

    /// The rules that read `source`, in pack order.
    pub fn rules_for<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.sources.iter().any(|s| s == source))
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The rank of a severity (0 is the highest); unknown ones last.
    pub fn rank(&self, severity: &str) -> usize {
        self.levels
            .iter()
            .position(|l| l == severity)
            .unwrap_or(self.levels.len())
    }
}

fn get(pack: &PackHandle, b: &CBlock, f: &str) -> Value {
    pack.field(b, f, &Value::Null)
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}
