//! The profiles the `tenant_benchmark` pack declares, read once per rules
//! load into plain values the engine evaluates many times: weights,
//! bounds, distributions, fallbacks, the cap on a factor's share. What a
//! profile decides is the pack's; this file turns its fields into types
//! and refuses what the engine could not compute (an error names the
//! profile and the factor).

use std::collections::BTreeMap;
use tenet_runtime::dsl::Value;
use tenet_runtime::ir::CBlock;
use tenet_runtime::pack::PackHandle;

/// Milliseconds.
pub type Ms = i64;

/// What a missing signal does to a factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Left out; the other weights are renormalised.
    ExcludeRenormalize,
    /// Counted as the worst value (normalised 0).
    CountAsZero,
    /// The last value kept, if younger than `max_age`, decayed by
    /// `decay_half_life`.
    CarryForward,
    /// No score at all.
    Block,
}

/// How a clamped value is spread over 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Linear,
    /// `ln(1 + v) / ln(1 + range)`: criticality_score's zipfian, for
    /// long-tailed signals.
    Logarithmic,
}

/// What a value outside the bounds does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfBounds {
    Clamp,
    Exclude,
    Error,
}

/// One weighted signal of a profile.
#[derive(Debug, Clone)]
pub struct Factor {
    pub name: String,
    pub source: String,
    pub weight: f64,
    pub lower: f64,
    pub upper: f64,
    pub smaller_is_better: bool,
    pub distribution: Distribution,
    pub out_of_bounds: OutOfBounds,
    pub fallback: Fallback,
    pub max_age: Option<Ms>,
    pub decay_half_life: Option<Ms>,
    /// `when` as written; `None`: always applies.
    pub when: Option<String>,
    pub block: CBlock,
}

/// A badge of a profile: earned on its score with hysteresis, while its
/// `requires` holds.
#[derive(Debug, Clone)]
pub struct Badge {
    /// Its short name (`audit_ready`).
    pub name: String,
    /// Higher is better; the answer's `badge` is the highest held.
    pub rank: i64,
    /// Entered at a score of this or more...
    pub enter: f64,
    /// ...and left below this (at most `enter`).
    pub exit: f64,
    /// How long the score must stay at or above `enter` before the badge
    /// is earned, and below `exit` before it is lost.
    pub dwell: Ms,
    /// `requires` as written; `None`: on score alone.
    pub requires: Option<String>,
    /// Whether it has a `narrative`.
    pub narrative: bool,
    pub block: CBlock,
}

/// One profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub version: i64,
    pub description: String,
    /// The most of the score one factor may carry, 0..1.
    pub cap_share: f64,
    /// Whether `cap_share` was written (the bias guard warns without it).
    pub capped: bool,
    pub factors: Vec<Factor>,
    /// Highest rank first.
    pub badges: Vec<Badge>,
}

/// Every profile of the pack, by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    pub by_name: BTreeMap<String, Profile>,
}

impl Profiles {
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    /// The pack's profiles; an error names the profile and the factor.
    pub fn read(pack: &PackHandle) -> Result<Profiles, String> {
        let mut by_name = BTreeMap::new();
        for b in pack
            .compiled()
            .blocks
            .iter()
            .filter(|b| b.kind == "profile")
        {
            let p = read_profile(pack, b).map_err(|e| format!("profile `{}`: {e}", b.name))?;
            by_name.insert(p.name.clone(), p);
        }
        Ok(Profiles { by_name })
    }
}

fn get(pack: &PackHandle, b: &CBlock, f: &str) -> Value {
    pack.field(b, f, &Value::Null)
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn read_profile(pack: &PackHandle, b: &CBlock) -> Result<Profile, String> {
    let capped = !matches!(get(pack, b, "cap_share"), Value::Null);
    let cap = match get(pack, b, "cap_share") {
        Value::Percent(p) if p > 0.0 && p <= 100.0 => p / 100.0,
        Value::Null => 1.0,
        v => {
            return Err(format!(
                "`cap_share` must be a percentage above 0% and at most 100%, found {v}"
            ))
        }
    };
    let mut factors = Vec::new();
    for f in pack.nested(&b.name, "factor") {
        let short = f.name.rsplit('/').next().unwrap_or(&f.name).to_string();
        factors.push(read_factor(pack, f, &short).map_err(|e| format!("factor `{short}`: {e}"))?);
    }
    let mut badges = Vec::new();
    for g in pack.nested(&b.name, "badge") {
        let short = g.name.rsplit('/').next().unwrap_or(&g.name).to_string();
        badges.push(read_badge(pack, g, &short).map_err(|e| format!("badge `{short}`: {e}"))?);
    }
    badges.sort_by(|a, b| b.rank.cmp(&a.rank).then_with(|| a.name.cmp(&b.name)));
    Ok(Profile {
        capped,
        badges,
        name: b.name.clone(),
        version: match get(pack, b, "version") {
            Value::Int(v) => v,
            _ => 1,
        },
        description: match get(pack, b, "description") {
            Value::Str(s) => s.to_string(),
            _ => String::new(),
        },
        cap_share: cap,
        factors,
    })
}

fn read_badge(pack: &PackHandle, g: &CBlock, name: &str) -> Result<Badge, String> {
    let rank = match get(pack, g, "rank") {
        Value::Int(r) => r,
        v => return Err(format!("`rank` must be a whole number, found {v}")),
    };
    let h = pack
        .nested(&g.name, "hysteresis")
        .into_iter()
        .next()
        .ok_or("no `hysteresis { enter, exit, dwell }`: a badge needs its thresholds")?;
    let enter = number(&get(pack, h, "enter")).ok_or("`hysteresis.enter` must be a number")?;
    let exit = number(&get(pack, h, "exit")).ok_or("`hysteresis.exit` must be a number")?;
    if exit > enter {
        return Err(format!(
            "`hysteresis.exit` {exit} is above `enter` {enter}: the badge would flap"
        ));
    }
    let dwell = match get(pack, h, "dwell") {
        Value::Duration(ms) if ms >= 0 => ms,
        Value::Null => 0,
        v => return Err(format!("`hysteresis.dwell` must be a duration, found {v}")),
    };
    Ok(Badge {
        name: name.to_string(),
        rank,
        enter,
        exit,
        dwell,
        requires: g.condition.as_ref().map(|c| c.text.clone()),
        narrative: g.effects.iter().any(|a| a.name == "narrative"),
        block: g.clone(),
    })
}

fn read_factor(pack: &PackHandle, f: &CBlock, name: &str) -> Result<Factor, String> {
    let text = |k: &str| match get(pack, f, k) {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    };
    let dur = |k: &str| match get(pack, f, k) {
        Value::Duration(ms) => Some(ms),
        _ => None,
    };
    let weight = number(&get(pack, f, "weight")).ok_or("`weight` must be a number")?;
    if !weight.is_finite() || weight < 0.0 {
        return Err(format!("`weight` {weight} must be 0 or more"));
    }
    let (lower, upper) = match get(pack, f, "bounds") {
        Value::Null => (0.0, 1.0),
        Value::List(l) => match (
            l.first().and_then(number),
            l.get(1).and_then(number),
            l.len(),
        ) {
            (Some(a), Some(b), 2) if a < b => (a, b),
            _ => return Err("`bounds` must be `[lower, upper]` with lower below upper".into()),
        },
        _ => return Err("`bounds` must be `[lower, upper]`".into()),
    };
    let fallback = match text("fallback").as_deref() {
        None | Some("exclude_renormalize") => Fallback::ExcludeRenormalize,
        Some("count_as_zero") => Fallback::CountAsZero,
        Some("carry_forward") => Fallback::CarryForward,
        Some("block") => Fallback::Block,
        Some(other) => return Err(format!("unknown `fallback` `{other}`")),
    };
    let distribution = match text("distribution").as_deref() {
        None | Some("linear") => Distribution::Linear,
        Some("logarithmic") => Distribution::Logarithmic,
        Some(other) => return Err(format!("unknown `distribution` `{other}`")),
    };
    let out_of_bounds = match text("out_of_bounds").as_deref() {
        None | Some("clamp") => OutOfBounds::Clamp,
        Some("exclude") => OutOfBounds::Exclude,
        Some("error") => OutOfBounds::Error,
        Some(other) => return Err(format!("unknown `out_of_bounds` `{other}`")),
    };
    let decay = dur("decay_half_life");
    if decay.is_some_and(|d| d <= 0) {
        return Err("`decay_half_life` must be longer than 0s".into());
    }
    Ok(Factor {
        name: name.to_string(),
        source: text("source").ok_or("`source` must name a signal")?,
        weight,
        lower,
        upper,
        smaller_is_better: matches!(get(pack, f, "smaller_is_better"), Value::Bool(true)),
        distribution,
        out_of_bounds,
        fallback,
        max_age: dur("max_age"),
        decay_half_life: decay,
        when: f.condition.as_ref().map(|c| c.text.clone()),
        block: f.clone(),
    })
}

/// The bias guard `tenet check` runs: where a profile lets one factor
/// dominate its score. Two cases, each a sentence naming the profile:
///
/// - a factor holds more than half the profile's weight and `cap_share`
///   (written, or the 40% default) does not cut it below that share;
/// - the cap cannot hold at all: fewer factors than `1 / cap_share`
///   (with two factors, a 40% cap would need the two to carry 80%), so
///   no cap applies (see the score's `cap_note`).
pub fn bias_warnings(profiles: &Profiles) -> Vec<String> {
    let mut out = Vec::new();
    for p in profiles.by_name.values() {
        let weighted: Vec<&Factor> = p.factors.iter().filter(|f| f.weight > 0.0).collect();
        let total: f64 = weighted.iter().map(|f| f.weight).sum();
        if total <= 0.0 {
            continue;
        }
        let n = weighted.len();
        let cap = p.cap_share;
        if cap < 1.0 && (n as f64) * cap < 1.0 {
            out.push(format!(
                "profile `{}`: its cap_share of {}% cannot hold with {n} weighted factor(s) ({n} × {}% < 100%), so no cap applies and one factor can dominate the score; write a cap_share of at least {:.0}% or add factors",
                p.name,
                cap * 100.0,
                cap * 100.0,
                (100.0 / n as f64).ceil()
            ));
            continue;
        }
        for f in &weighted {
            let share = f.weight / total;
            if share > 0.5 && cap >= share {
                out.push(format!(
                    "profile `{}`: factor `{}` holds {:.0}% of the weight and `cap_share` {}% does not cut it, so it alone decides the score; write a `cap_share` below {:.0}%",
                    p.name,
                    f.name,
                    share * 100.0,
                    cap * 100.0,
                    share * 100.0
                ));
            }
        }
    }
    out
}
