//! A rollout plan, offline: which clusters each stage of a `rollout`
//! updates, in which waves, what its gates are, whether its windows allow
//! it now, and what the guards decide about every wave — before anything
//! is pushed (what `tenet fleet plan` prints and a dry run answers).
//!
//! Semantics (`docs/control-plane.md`):
//! - The rollout's `target` selects the clusters in scope; stages take them
//!   in order, each the target clusters its `select` selects and no earlier
//!   stage took (Argo CD's RollingSync steps).
//! - A target cluster no stage selects is an error of the plan under
//!   `unmatched error` (the default), and listed as skipped under
//!   `unmatched skip`.
//! - `max_parallel` is a count or a percentage of the stage's clusters; a
//!   percentage rounds **down, with at least 1** (Argo CD's rule), and the
//!   plan shows the integer. A stage that selects no cluster is skipped and
//!   says so (it never waits).
//! - Every wave is put to the pack's guards as `plan` (`{fleet_size,
//!   clusters, stage, wave}`) with the `actor`, and every cluster of it as
//!   `cluster`; a blocking match denies the plan. Guards fail closed: no
//!   actor, no labels, no fleet size all deny, as the pack says.

use serde::Serialize;
use std::collections::BTreeSet;
use tenet_runtime::clock::Timestamp;
use tenet_runtime::decision::DecideOptions;
use tenet_runtime::dsl::window::{self, Window};
use tenet_runtime::dsl::Value;
use tenet_runtime::ir::CBlock;
use tenet_runtime::pack::PackHandle;

/// A registered cluster, as the plan reads it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Cluster {
    /// Its id (`prod-eu-west-1a`).
    #[serde(alias = "id")]
    pub name: String,
    /// Its labels (`env`, `region`, `tier`...), what selectors select.
    #[serde(default)]
    pub labels: serde_json::Map<String, serde_json::Value>,
    /// Anything else the guards read as `cluster.*` (`tier`, `owner`...).
    #[serde(default, flatten)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl Cluster {
    /// The cluster as the pack reads it (`cluster.name`, `cluster.labels`...).
    pub fn value(&self) -> serde_json::Value {
        let mut m = self.attributes.clone();
        m.insert("name".into(), self.name.clone().into());
        m.insert(
            "labels".into(),
            serde_json::Value::Object(self.labels.clone()),
        );
        serde_json::Value::Object(m)
    }

    fn labels_value(&self) -> Value {
        Value::from_json(&serde_json::Value::Object(self.labels.clone()))
    }
}

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StagePlan {
    pub name: String,
    /// The clusters it updates, in name order.
    pub clusters: Vec<String>,
    /// `max_parallel` as written (`1`, `25%`).
    pub max_parallel: String,
    /// The clusters updated at once: the integer `max_parallel` comes to.
    pub per_wave: usize,
    pub waves: Vec<Vec<String>>,
    /// The wait after the stage (`30m`).
    pub bake: String,
    /// Its gates and the rollout's (names as the pack has them).
    pub gates: Vec<String>,
    /// Why it is skipped (it selects no cluster), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Whether its windows (and the rollout's) allow it at the plan's time,
    /// and why.
    pub window: WindowVerdict,
}

/// What the change windows say at a time.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct WindowVerdict {
    pub allowed: bool,
    pub reason: String,
    /// When they next allow a change, if they do not now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One guard's verdict on one wave (or one cluster of it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GuardVerdict {
    pub guard: String,
    pub stage: String,
    pub wave: usize,
    /// The cluster, for guards that read one (`cluster.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub risk: Option<String>,
    pub enforcement: Option<String>,
    /// Whether it blocks the plan (a waived or advisory match does not).
    pub blocking: bool,
    pub because: String,
}

/// The plan of a rollout over a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Plan {
    pub rollout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    pub at: String,
    /// Registered clusters.
    pub fleet_size: usize,
    /// Clusters the rollout's `target` selects.
    pub target: usize,
    pub on_fail: String,
    pub stages: Vec<StagePlan>,
    /// Target clusters no stage selects, and what the plan does with them
    /// (`unmatched`: `error` or `skip`).
    pub unmatched: Vec<String>,
    pub unmatched_mode: String,
    /// Every guard that matched a wave or a cluster.
    pub guards: Vec<GuardVerdict>,
    /// Whether the plan may run: no blocking guard, no unmatched error.
    pub allowed: bool,
    /// Why not, in one sentence each.
    pub refused: Vec<String>,
}

pub(crate) fn get(pack: &PackHandle, b: &CBlock, f: &str) -> Value {
    pack.field(b, f, &Value::Null)
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The windows nested in `parent` (a rollout or a stage).
pub(crate) fn windows(pack: &PackHandle, parent: &str) -> Result<Vec<Window>, String> {
    pack.nested(parent, "window")
        .into_iter()
        .filter(|w| w.name.matches('/').count() == parent.matches('/').count() + 1)
        .map(|w| {
            let mut map = std::collections::BTreeMap::new();
            for f in ["mode", "cron", "duration", "tz"] {
                let v = get(pack, w, f);
                if !v.is_null() {
                    map.insert(std::sync::Arc::from(f), v);
                }
            }
            window::from_value(&Value::Map(std::sync::Arc::new(map)))
                .map_err(|e| format!("window `{}`: {e}", w.name))
        })
        .collect()
}

pub(crate) fn verdict(ws: &[Window], now: i64) -> Result<WindowVerdict, String> {
    let t = Timestamp::from_millis(now);
    let at = chrono::DateTime::from_timestamp(t.unix_secs(), t.subsec_nanos()).unwrap_or_default();
    let v = window::allows(ws, at)?;
    let next = if v.allowed {
        None
    } else {
        window::next_allowed(ws, at)
            .ok()
            .flatten()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    Ok(WindowVerdict {
        allowed: v.allowed,
        reason: v.reason,
        next,
    })
}

/// The integer `max_parallel` comes to for a stage of `n` clusters: a
/// count as is, a percentage rounded down with at least 1 (for `n > 0`).
pub fn per_wave(max_parallel: &Value, n: usize) -> Result<usize, String> {
    let k = match max_parallel {
        Value::Int(i) if *i >= 1 => usize::try_from(*i).unwrap_or(usize::MAX),
        Value::Percent(p) if *p > 0.0 && *p <= 100.0 => ((n as f64) * p / 100.0).floor() as usize,
        Value::Null => 1,
        other => {
            return Err(format!(
            "`max_parallel` is a count of at least 1 or a percentage in (0%, 100%], found {other}"
        ))
        }
    };
    Ok(k.max(1).min(n.max(1)))
}

/// Plans `rollout` of the pack over `fleet` at `now`, for `actor`.
pub fn plan(
    pack: &PackHandle,
    rollout: &str,
    fleet: &[Cluster],
    actor: &serde_json::Value,
    now: i64,
) -> Result<Plan, String> {
    plan_within(pack, rollout, fleet, None, actor, now)
}

/// [`plan`], with the rollout's target narrowed to the clusters named in
/// `within` (an apply's selector); the guards still see the whole fleet's
/// size.
pub fn plan_within(
    pack: &PackHandle,
    rollout: &str,
    fleet: &[Cluster],
    within: Option<&BTreeSet<String>>,
    actor: &serde_json::Value,
    now: i64,
) -> Result<Plan, String> {
    let blocks = &pack.compiled().blocks;
    let Some(r) = blocks
        .iter()
        .find(|b| b.kind == "rollout" && b.name == rollout)
    else {
        let names: Vec<&str> = blocks
            .iter()
            .filter(|b| b.kind == "rollout")
            .map(|b| b.name.as_str())
            .collect();
        return Err(format!(
            "no rollout `{rollout}` in the control_plane pack (rollouts: {})",
            names.join(", ")
        ));
    };
    let mut seen = BTreeSet::new();
    for c in fleet {
        if !seen.insert(c.name.as_str()) {
            return Err(format!("cluster `{}` is listed twice", c.name));
        }
    }
    let target_sel = get(pack, r, "target");
    let sel = |s: &Value, c: &Cluster| -> Result<bool, String> {
        tenet_runtime::dsl::builtins::selects(s, &c.labels_value())
    };
    let mut target: Vec<&Cluster> = Vec::new();
    for c in fleet {
        if within.is_some_and(|w| !w.contains(&c.name)) {
            continue;
        }
        if sel(&target_sel, c).map_err(|e| format!("rollout `{rollout}` target: {e}"))? {
            target.push(c);
        }
    }
    target.sort_by(|a, b| a.name.cmp(&b.name));
    let rollout_windows = windows(pack, rollout)?;
    let rollout_gates: Vec<String> = pack
        .nested(rollout, "gate")
        .into_iter()
        .filter(|g| g.name.matches('/').count() == 1)
        .map(|g| g.name.clone())
        .collect();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    let mut stages = Vec::new();
    for s in pack.nested(rollout, "stage") {
        let short = s.name.rsplit('/').next().unwrap_or(&s.name).to_string();
        let select = get(pack, s, "select");
        let mut mine = Vec::new();
        for c in &target {
            if !taken.contains(c.name.as_str())
                && sel(&select, c).map_err(|e| format!("stage `{short}` select: {e}"))?
            {
                mine.push(c.name.clone());
            }
        }
        for n in &mine {
            taken.insert(
                target
                    .iter()
                    .find(|c| &c.name == n)
                    .map(|c| c.name.as_str())
                    .unwrap_or_default(),
            );
        }
        let mp = get(pack, s, "max_parallel");
        let k = per_wave(&mp, mine.len()).map_err(|e| format!("stage `{short}`: {e}"))?;
        let waves: Vec<Vec<String>> = mine.chunks(k).map(<[String]>::to_vec).collect();
        let mut ws = rollout_windows.clone();
        ws.extend(windows(pack, &s.name)?);
        let mut gates = rollout_gates.clone();
        gates.extend(
            pack.nested(&s.name, "gate")
                .into_iter()
                .map(|g| g.name.clone()),
        );
        stages.push(StagePlan {
            name: short,
            skipped: mine.is_empty().then(|| {
                "selects no cluster of the target: skipped, nothing waits on it".to_string()
            }),
            clusters: mine,
            max_parallel: if mp.is_null() { "1".into() } else { text(&mp) },
            per_wave: k,
            waves,
            bake: text(&get(pack, s, "bake")),
            gates,
            window: verdict(&ws, now)?,
        });
    }
    let unmatched: Vec<String> = target
        .iter()
        .filter(|c| !taken.contains(c.name.as_str()))
        .map(|c| c.name.clone())
        .collect();
    let unmatched_mode = {
        let m = text(&get(pack, r, "unmatched"));
        if m.is_empty() {
            "error".to_string()
        } else {
            m
        }
    };
    let mut refused = Vec::new();
    if !unmatched.is_empty() && unmatched_mode == "error" {
        refused.push(format!(
            "{} target cluster(s) no stage selects ({}): with `unmatched error` the plan does not run; add them to a stage or set `unmatched skip`",
            unmatched.len(),
            unmatched.join(", ")
        ));
    }
    // Guards, wave by wave, and cluster by cluster.
    let guard_names: BTreeSet<&str> = blocks
        .iter()
        .filter(|b| b.kind == "guard")
        .map(|b| b.name.as_str())
        .collect();
    let opts = DecideOptions {
        now: Some(Timestamp::from_millis(now).rfc3339()),
        ..Default::default()
    };
    let mut guards = Vec::new();
    let by_name: std::collections::HashMap<&str, &Cluster> =
        fleet.iter().map(|c| (c.name.as_str(), c)).collect();
    for st in &stages {
        for (i, wave) in st.waves.iter().enumerate() {
            let members: Vec<&Cluster> = wave
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect();
            let plan_v = serde_json::json!({
                "fleet_size": fleet.len(),
                "clusters": members.iter().map(|c| c.value()).collect::<Vec<_>>(),
                "stage": st.name,
                "wave": i + 1,
                "rollout": rollout,
            });
            let mut inputs = vec![(None, serde_json::json!({"plan": plan_v, "actor": actor}))];
            for c in &members {
                inputs.push((
                    Some(c.name.clone()),
                    serde_json::json!({"plan": plan_v, "actor": actor, "cluster": c.value()}),
                ));
            }
            for (cluster, input) in inputs {
                let d = pack.decide(&Value::from_json(&input), &opts);
                for m in d
                    .matched
                    .iter()
                    .filter(|m| guard_names.contains(m.block.as_str()))
                {
                    // A guard that reads no cluster is judged once per wave.
                    if cluster.is_some()
                        && guards.iter().any(|g: &GuardVerdict| {
                            g.guard == m.block
                                && g.stage == st.name
                                && g.wave == i + 1
                                && g.cluster.is_none()
                        })
                    {
                        continue;
                    }
                    let blocking = !m.dry_run
                        && matches!(
                            m.enforcement.as_deref(),
                            Some("hard_mandatory" | "soft_mandatory")
                        );
                    guards.push(GuardVerdict {
                        guard: m.block.clone(),
                        stage: st.name.clone(),
                        wave: i + 1,
                        cluster: cluster.clone(),
                        risk: m.risk.clone(),
                        enforcement: m.enforcement.clone(),
                        blocking,
                        because: m.because.clone().unwrap_or_default(),
                    });
                }
            }
        }
    }
    for g in guards.iter().filter(|g| g.blocking) {
        refused.push(format!(
            "guard `{}` denies wave {} of stage `{}`{}: {}",
            g.guard,
            g.wave,
            g.stage,
            g.cluster
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
            g.because
        ));
    }
    Ok(Plan {
        rollout: rollout.to_string(),
        bundle: match get(pack, r, "bundle") {
            Value::Str(s) => Some(s.to_string()),
            _ => None,
        },
        at: Timestamp::from_millis(now).rfc3339(),
        fleet_size: fleet.len(),
        target: target.len(),
        on_fail: {
            let f = text(&get(pack, r, "on_fail"));
            if f.is_empty() {
                "pause".into()
            } else {
                f
            }
        },
        stages,
        unmatched,
        unmatched_mode,
        allowed: refused.is_empty(),
        guards,
        refused,
    })
}
