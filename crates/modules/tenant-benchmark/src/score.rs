//! Scoring: one tenant, one profile, a `now` → a score that explains
//! itself. Pure: no I/O, no clock reads; the same inputs give the same
//! answer, byte for byte.
//!
//! For each factor of the profile, in order:
//!
//! 1. **Applies?** Its `when` (over `tenant` and `signals`) must hold; a
//!    factor that does not apply leaves both the score and the coverage.
//!    A `when` that fails to evaluate blocks the score (fail closed).
//! 2. **A value.** The signal named by `source`. A signal older than the
//!    factor's `max_age` counts as missing. Missing, the `fallback` says:
//!    `exclude_renormalize` (left out; the score renormalises over the
//!    rest, and the coverage shows it), `count_as_zero` (normalised 0, the
//!    worst), `carry_forward` (the last value from an earlier evaluation,
//!    if younger than `max_age`, its normalised value halved every
//!    `decay_half_life`), `block` (no score).
//! 3. **Normalised** to 0..1: outside `[lower, upper]` the value is
//!    clamped, left out, or an error (`out_of_bounds`); then `v - lower`,
//!    flipped for `smaller_is_better`, and spread by the `distribution`
//!    (`linear`: `v / range`; `logarithmic`: `ln(1+v) / ln(1+range)`).
//!
//! The score is `100 × Σ wᵢnᵢ / Σ wᵢ` over the included factors, not
//! rounded; `coverage` is `Σ wᵢ` included over `Σ wᵢ` of the factors that
//! apply. Then **the cap**: no factor may carry more than `cap_share` of
//! the score. A factor whose points exceed it is cut to exactly that
//! share of the new score, and the points cut are dropped (the score
//! falls; nothing is handed to the other factors); cutting repeats until
//! no factor exceeds the cap. A set of capped factors whose caps add up
//! to the whole score or more cannot be cut consistently: then the cap
//! does not apply and the answer says so.

use crate::profiles::{Distribution, Factor, Fallback, Ms, OutOfBounds, Profile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// One signal: its value, when it was measured, where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    pub value: serde_json::Value,
    #[serde(
        default,
        with = "crate::time::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Ms>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A factor's value from an earlier evaluation (for `carry_forward`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Earlier {
    pub value: f64,
    #[serde(with = "crate::time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Ms,
}

/// What one factor did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactorScore {
    pub factor: String,
    pub source: String,
    /// The raw value used (after a carry forward, the carried one).
    pub value: Option<f64>,
    /// 0..1, before the weight.
    pub normalised: Option<f64>,
    pub weight: f64,
    /// Points of the score it carries (after the cap).
    pub contribution: f64,
    /// Its share of the score, in percent.
    pub share: f64,
    pub included: bool,
    /// Why it is not included, or how its value was obtained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The signal's source link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// How old the value is, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_s: Option<f64>,
    /// Points cut by the cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub capped: f64,
}

fn is_zero(f: &f64) -> bool {
    *f == 0.0
}

/// A score that explains itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Score {
    pub profile: String,
    pub version: i64,
    /// 0..100, not rounded; `None` when blocked or nothing had data.
    pub score: Option<f64>,
    /// Share of the applicable weight that had data, 0..1.
    pub coverage: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap_note: Option<String>,
    pub factors: Vec<FactorScore>,
}

/// The input the pack's conditions read: `tenant` as given, `signals`
/// as a nested map of the signals' values (`iam.mfa_coverage_pct` is
/// `signals.iam.mfa_coverage_pct`).
pub fn condition_input(tenant: &serde_json::Value, signals: &BTreeMap<String, Signal>) -> Value {
    Value::from_json(&condition_json(tenant, signals))
}

/// [`condition_input`] as JSON (badges add `score` to it).
pub fn condition_json(
    tenant: &serde_json::Value,
    signals: &BTreeMap<String, Signal>,
) -> serde_json::Value {
    let mut nested = serde_json::Map::new();
    for (k, s) in signals {
        let parts: Vec<&str> = k.split('.').collect();
        let mut cur = &mut nested;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur.entry(p.to_string()).or_insert(s.value.clone());
            } else {
                let e = cur
                    .entry(p.to_string())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !e.is_object() {
                    break;
                }
                cur = match e.as_object_mut() {
                    Some(m) => m,
                    None => break,
                };
            }
        }
        // The flat name too, for `signals["iam.mfa_coverage_pct"]`.
        nested.entry(k.clone()).or_insert(s.value.clone());
    }
    serde_json::json!({"tenant": tenant, "signals": nested})
}

/// Why a carried value is used: how old it is, and how much it decayed.
fn carried(missing: &str, age: Ms, decay: Option<f64>) -> String {
    // Whole seconds, as a duration reads (`3d`, `2h30m`).
    let age = tenet_runtime::dsl::value::format_duration(age / 1000 * 1000);
    match decay {
        Some(d) => format!(
            "{missing}: the value of {age} ago carried forward, decayed to {:.1}%",
            d * 100.0
        ),
        None => format!("{missing}: the value of {age} ago carried forward"),
    }
}

fn normalise(f: &Factor, v: f64) -> f64 {
    let range = f.upper - f.lower;
    let mut x = v.clamp(f.lower, f.upper) - f.lower;
    if f.smaller_is_better {
        x = range - x;
    }
    match f.distribution {
        Distribution::Linear => x / range,
        Distribution::Logarithmic => (1.0 + x).ln() / (1.0 + range).ln(),
    }
}

/// Scores one tenant on one profile at `now`.
pub fn score(
    pack: &PackHandle,
    profile: &Profile,
    tenant: &serde_json::Value,
    signals: &BTreeMap<String, Signal>,
    earlier: &BTreeMap<String, Earlier>,
    now: Ms,
) -> Score {
    let input = condition_input(tenant, signals);
    let mut out = Score {
        profile: profile.name.clone(),
        version: profile.version,
        score: None,
        coverage: 0.0,
        blocked: None,
        cap_note: None,
        factors: Vec::with_capacity(profile.factors.len()),
    };
    let mut applicable_weight = 0.0;
    for f in &profile.factors {
        let mut fs = FactorScore {
            factor: f.name.clone(),
            source: f.source.clone(),
            value: None,
            normalised: None,
            weight: f.weight,
            contribution: 0.0,
            share: 0.0,
            included: false,
            why: None,
            link: None,
            age_s: None,
            capped: 0.0,
        };
        if f.when.is_some() {
            match pack.condition(&f.block, &input) {
                Ok(Some(true)) | Ok(None) => {}
                Ok(Some(false)) => {
                    fs.why = Some(format!(
                        "does not apply: `{}` does not hold",
                        f.when.clone().unwrap_or_default()
                    ));
                    out.factors.push(fs);
                    continue;
                }
                Err(e) => {
                    out.blocked
                        .get_or_insert(format!("factor `{}`: its `when` failed: {e}", f.name));
                    fs.why = Some(format!("`when` failed: {e}"));
                    out.factors.push(fs);
                    continue;
                }
            }
        }
        applicable_weight += f.weight;
        let sig = signals.get(&f.source);
        let fresh = sig.and_then(|s| {
            let v = s.value.as_f64()?;
            if !v.is_finite() {
                return None;
            }
            let age = s.at.map(|at| now - at);
            if let (Some(max), Some(a)) = (f.max_age, age) {
                if a > max {
                    return None;
                }
            }
            Some((v, age, s.source.clone()))
        });
        let stale_or_missing = match sig {
            None => "no signal".to_string(),
            Some(s) if s.value.is_null() => "no measurement now (null)".to_string(),
            Some(s) if s.value.as_f64().is_none() => {
                format!("signal is not a number ({})", s.value)
            }
            Some(_) => "signal older than `max_age`".to_string(),
        };
        let (value, n, why) = match fresh {
            Some((v, age, link)) => {
                fs.link = link;
                fs.age_s = age.map(|a| a as f64 / 1000.0);
                if v < f.lower || v > f.upper {
                    match f.out_of_bounds {
                        OutOfBounds::Clamp => (
                            v,
                            normalise(f, v),
                            Some(format!(
                                "{v} is outside [{}, {}]: clamped",
                                f.lower, f.upper
                            )),
                        ),
                        OutOfBounds::Exclude => {
                            fs.value = Some(v);
                            fs.why = Some(format!(
                                "{v} is outside [{}, {}]: left out",
                                f.lower, f.upper
                            ));
                            out.factors.push(fs);
                            continue;
                        }
                        OutOfBounds::Error => {
                            out.blocked.get_or_insert(format!(
                                "factor `{}`: {v} is outside its bounds [{}, {}]",
                                f.name, f.lower, f.upper
                            ));
                            fs.value = Some(v);
                            fs.why = Some("outside its bounds: an error".into());
                            out.factors.push(fs);
                            continue;
                        }
                    }
                } else {
                    (v, normalise(f, v), None)
                }
            }
            None => match f.fallback {
                Fallback::ExcludeRenormalize => {
                    fs.why = Some(format!(
                        "{stale_or_missing}: left out, the rest renormalised"
                    ));
                    out.factors.push(fs);
                    continue;
                }
                Fallback::Block => {
                    out.blocked.get_or_insert(format!(
                        "factor `{}`: {stale_or_missing}, and its fallback is `block`",
                        f.name
                    ));
                    fs.why = Some(format!("{stale_or_missing}: blocks the score"));
                    out.factors.push(fs);
                    continue;
                }
                Fallback::CountAsZero => (
                    f64::NAN,
                    0.0,
                    Some(format!("{stale_or_missing}: counted as zero")),
                ),
                Fallback::CarryForward => match earlier.get(&f.name) {
                    Some(e) if f.max_age.is_none_or(|m| now - e.at <= m) => {
                        let age = (now - e.at).max(0);
                        let decay = match f.decay_half_life {
                            Some(h) => 0.5f64.powf(age as f64 / h as f64),
                            None => 1.0,
                        };
                        fs.age_s = Some(age as f64 / 1000.0);
                        (
                            e.value,
                            normalise(f, e.value) * decay,
                            Some(carried(
                                &stale_or_missing,
                                age,
                                f.decay_half_life.map(|_| decay),
                            )),
                        )
                    }
                    _ => {
                        fs.why = Some(format!("{stale_or_missing}, and nothing young enough to carry forward: left out"));
                        out.factors.push(fs);
                        continue;
                    }
                },
            },
        };
        fs.value = (!value.is_nan()).then_some(value);
        fs.normalised = Some(n);
        fs.included = true;
        fs.why = why;
        out.factors.push(fs);
    }
    let included_weight: f64 = out
        .factors
        .iter()
        .filter(|f| f.included)
        .map(|f| f.weight)
        // (An empty f64 sum is -0.0.)
        .fold(0.0, |a, w| a + w);
    out.coverage = if applicable_weight > 0.0 {
        included_weight / applicable_weight
    } else {
        0.0
    };
    if out.blocked.is_some() || included_weight <= 0.0 {
        for f in &mut out.factors {
            f.contribution = 0.0;
        }
        return out;
    }
    for f in out.factors.iter_mut().filter(|f| f.included) {
        f.contribution = 100.0 * f.weight * f.normalised.unwrap_or(0.0) / included_weight;
    }
    let total: f64 = out
        .factors
        .iter()
        .map(|f| f.contribution)
        .fold(0.0, |a, c| a + c);
    let (total, note) = cap(&mut out.factors, total, profile.cap_share);
    out.cap_note = note;
    if total > 0.0 {
        for f in &mut out.factors {
            f.share = 100.0 * f.contribution / total;
        }
    }
    out.score = Some(total);
    out
}

/// Cuts factors whose points exceed `cap` of the total, as described at
/// the top of this file. Returns the new total and, when the cap could
/// not hold, why.
fn cap(factors: &mut [FactorScore], total: f64, cap: f64) -> (f64, Option<String>) {
    if cap >= 1.0 || total <= 0.0 {
        return (total, None);
    }
    // With m factors carrying points, their shares add up to the whole:
    // m × cap below 1 cannot hold whatever is cut.
    let m = factors
        .iter()
        .filter(|f| f.included && f.contribution > 0.0)
        .count();
    if (m as f64) * cap < 1.0 {
        return (
            total,
            Some(format!(
                "{m} factor(s) carry the score and the cap is {}% each: caps that add up to less than the whole score cannot hold, so none is applied",
                cap * 100.0
            )),
        );
    }
    let mut capped: Vec<usize> = Vec::new();
    let mut s = total;
    loop {
        let over: Vec<usize> = factors
            .iter()
            .enumerate()
            .filter(|(i, f)| f.included && !capped.contains(i) && f.contribution > cap * s + 1e-12)
            .map(|(i, _)| i)
            .collect();
        if over.is_empty() {
            break;
        }
        capped.extend(over);
        let k = capped.len() as f64;
        if k * cap >= 1.0 {
            return (
                total,
                Some(format!(
                    "{} factors would each exceed the cap of {}%; caps that add up to the whole score cannot hold, so none is applied",
                    capped.len(),
                    cap * 100.0
                )),
            );
        }
        let rest: f64 = factors
            .iter()
            .enumerate()
            .filter(|(i, f)| f.included && !capped.contains(i))
            .map(|(_, f)| f.contribution)
            .sum();
        s = rest / (1.0 - k * cap);
    }
    if capped.is_empty() {
        return (total, None);
    }
    for &i in &capped {
        let new = cap * s;
        let cut = factors[i].contribution - new;
        factors[i].capped = cut;
        factors[i].contribution = new;
        factors[i].why.get_or_insert(format!(
            "carried more than the cap of {}%: {cut:.1} points cut",
            cap * 100.0
        ));
    }
    (s, None)
}
