//! The tenant-benchmark engine: one evaluation of a tenant on a profile,
//! badges with hysteresis, backfill and "why did my score change". Pure:
//! no I/O and no clock reads; the server passes the wall clock, tests and
//! offline commands pass `--at`.
//!
//! [`evaluate`] takes the tenant's facts, its latest signals and what was
//! kept of the profile since the last evaluation ([`ProfileState`]), and
//! gives the [`Evaluation`] (the score of [`score::score`], the badges,
//! the transitions) and the new state. [`replay`] folds evaluations over
//! a list of points in time from an empty state: the store's backfill and
//! the offline history both run it, so a profile version that did not
//! change reproduces its stored history exactly.
//!
//! **Badges.** A badge's `hysteresis { enter, exit, dwell }` and its
//! `requires` (over `tenant`, `signals` and `score.value`, `score.trend`,
//! `score.coverage`) decide, in this order:
//!
//! - not held: while the score is at or above `enter` and `requires`
//!   holds, the badge is `entering`; once that has lasted `dwell`, it is
//!   `held` (earned). Any evaluation that does not qualify sends it back
//!   `out`, and the dwell starts again.
//! - held: `requires` failing loses it at once (a hard condition, such as
//!   an open critical finding). A score below `exit` (or no score) makes
//!   it `leaving`; once that has lasted `dwell` it is lost, and a score
//!   back at `exit` or more before then keeps it (`held` again).
//!
//! Between `exit` and `enter` nothing changes: noise inside the band never
//! flips a badge. A badge decays with its signals: a `carry_forward`
//! value halves every `decay_half_life`, the score falls, and the badge
//! leaves once the score has stayed under `exit` for `dwell`.

use crate::model::{BadgeState, BadgeView, Evaluation, ProfileState, Standing, Transition};
use crate::profiles::{Badge, Ms, Profile};
use crate::score::{self, Earlier, Signal};
use crate::time::rfc3339;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tenet_runtime::dsl::value::format_duration;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// Facts about a tenant, as `tenant.*` reads them.
pub type Facts = serde_json::Map<String, serde_json::Value>;

fn points(v: f64) -> String {
    format!("{v:.1}")
}

/// Scores `tenant` on `profile` at `now` and moves its badges.
pub fn evaluate(
    pack: &PackHandle,
    profile: &Profile,
    tenant: &str,
    facts: &Facts,
    signals: &BTreeMap<String, Signal>,
    state: &ProfileState,
    now: Ms,
) -> (Evaluation, ProfileState) {
    let facts_json = serde_json::Value::Object(facts.clone());
    let s = score::score(pack, profile, &facts_json, signals, &state.carry, now);
    let mut next = ProfileState {
        version: profile.version,
        last_score: s.score,
        last_coverage: s.coverage,
        badges: BTreeMap::new(),
        carry: state.carry.clone(),
    };
    // A factor's last value from a signal, for carrying forward: only one
    // the factor would take (a value its `out_of_bounds` leaves out or
    // refuses is not carried into a score).
    for f in &profile.factors {
        let Some(sig) = signals.get(&f.source) else {
            continue;
        };
        let Some(v) = sig.value.as_f64().filter(|v| v.is_finite()) else {
            continue;
        };
        let outside = v < f.lower || v > f.upper;
        if outside && f.out_of_bounds != crate::profiles::OutOfBounds::Clamp {
            continue;
        }
        let at = sig.at.unwrap_or(now);
        if next.carry.get(&f.name).is_none_or(|e| e.at <= at) {
            next.carry.insert(f.name.clone(), Earlier { value: v, at });
        }
    }
    let trend = match (s.score, state.last_score) {
        (Some(a), Some(b)) => a - b,
        _ => 0.0,
    };
    let mut input = score::condition_json(&facts_json, signals);
    input["score"] = serde_json::json!({
        "value": s.score,
        "trend": trend,
        "coverage": s.coverage,
    });
    let input = Value::from_json(&input);
    let mut transitions = Vec::new();
    let mut views = Vec::new();
    for b in &profile.badges {
        let was = state.badges.get(&b.name).copied().unwrap_or_default();
        let (now_state, t) = step(pack, b, was, s.score, &input, now);
        if let Some(t) = t {
            transitions.push(t);
        }
        let narrative = (now_state.standing.has() && b.narrative)
            .then(|| match pack.field(&b.block, "narrative", &input) {
                Ok(Some(Value::Str(text))) => Some(text.to_string()),
                _ => None,
            })
            .flatten();
        views.push(BadgeView {
            badge: b.name.clone(),
            rank: b.rank,
            standing: now_state.standing,
            since: now_state.since,
            narrative,
        });
        next.badges.insert(b.name.clone(), now_state);
    }
    let badge = views
        .iter()
        .find(|v| v.standing.has())
        .map(|v| v.badge.clone());
    (
        Evaluation {
            tenant: tenant.to_string(),
            at: now,
            score: s,
            badge,
            badges: views,
            transitions,
            facts: facts.clone(),
        },
        next,
    )
}

/// One badge's move, with the transition when it is earned or lost.
fn step(
    pack: &PackHandle,
    b: &Badge,
    was: BadgeState,
    score: Option<f64>,
    input: &Value,
    now: Ms,
) -> (BadgeState, Option<Transition>) {
    let (requires, req_why) = match pack.condition(&b.block, input) {
        Ok(Some(true)) | Ok(None) => (true, String::new()),
        Ok(Some(false)) => (
            false,
            format!(
                "`requires` ({}) does not hold",
                b.requires.clone().unwrap_or_default()
            ),
        ),
        Err(e) => (false, format!("`requires` failed to evaluate: {e}")),
    };
    let qualifies = requires && score.is_some_and(|v| v >= b.enter);
    let below_exit = score.is_none_or(|v| v < b.exit);
    let score_text = score.map(points).unwrap_or_else(|| "none".into());
    let since = was.since.unwrap_or(now);
    let dwelt = |from: Ms| now - from >= b.dwell;
    let at = |standing, since| BadgeState {
        standing,
        since: Some(since),
    };
    let moved = |change: &str, reason: String| {
        Some(Transition {
            badge: b.name.clone(),
            at: now,
            change: change.into(),
            reason,
        })
    };
    let earned = |from: Ms| {
        let held_for = if b.dwell > 0 {
            format!(
                " since {} (dwell {})",
                rfc3339(from),
                format_duration(b.dwell)
            )
        } else {
            String::new()
        };
        let req = if b.requires.is_some() {
            ", and `requires` holds"
        } else {
            ""
        };
        format!(
            "score {score_text} has been at or above {}{held_for}{req}",
            b.enter
        )
    };
    let lost_low = |from: Ms| {
        let low = match score {
            None => "there has been no score".to_string(),
            Some(v) => format!("score {} has been below {}", points(v), b.exit),
        };
        if b.dwell > 0 {
            format!(
                "{low} since {} (dwell {})",
                rfc3339(from),
                format_duration(b.dwell)
            )
        } else {
            low
        }
    };
    match was.standing {
        Standing::Out | Standing::Entering => {
            if !qualifies {
                return (
                    match was.standing {
                        Standing::Out => was,
                        _ => at(Standing::Out, now),
                    },
                    None,
                );
            }
            let from = match was.standing {
                Standing::Entering => since,
                _ => now,
            };
            if dwelt(from) {
                (at(Standing::Held, now), moved("earned", earned(from)))
            } else {
                (at(Standing::Entering, from), None)
            }
        }
        Standing::Held | Standing::Leaving => {
            if !requires {
                return (at(Standing::Out, now), moved("lost", req_why));
            }
            if !below_exit {
                return (
                    match was.standing {
                        Standing::Held => was,
                        _ => at(Standing::Held, now),
                    },
                    None,
                );
            }
            let from = match was.standing {
                Standing::Leaving => since,
                _ => now,
            };
            if dwelt(from) {
                (at(Standing::Out, now), moved("lost", lost_low(from)))
            } else {
                (at(Standing::Leaving, from), None)
            }
        }
    }
}

/// Whether an evaluation moved anything: the profile version, the score,
/// the coverage, a badge's standing, or a transition. (The sweep stores
/// only evaluations that did.)
pub fn changed(old: &ProfileState, new: &ProfileState, e: &Evaluation) -> bool {
    old.version != new.version
        || old.last_score != new.last_score
        || old.last_coverage != new.last_coverage
        || old.badges != new.badges
        || !e.transitions.is_empty()
}

/// What an evaluation read at one point in time.
#[derive(Debug, Clone)]
pub struct Point {
    pub at: Ms,
    pub facts: Facts,
    pub signals: BTreeMap<String, Signal>,
}

/// Evaluations at each point, in order, from an empty state; and the
/// state after the last.
pub fn replay(
    pack: &PackHandle,
    profile: &Profile,
    tenant: &str,
    points: &[Point],
) -> (Vec<Evaluation>, ProfileState) {
    let mut state = ProfileState::default();
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        let (e, next) = evaluate(pack, profile, tenant, &p.facts, &p.signals, &state, p.at);
        out.push(e);
        state = next;
    }
    (out, state)
}

/// One factor's change between two evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactorDelta {
    pub factor: String,
    pub from_value: Option<f64>,
    pub to_value: Option<f64>,
    /// Points before and after (after the cap).
    pub from_points: f64,
    pub to_points: f64,
    pub delta: f64,
    /// What changed, in one sentence.
    pub why: String,
}

/// "Why did my score change?": two evaluations, factor by factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoreDiff {
    pub tenant: String,
    pub profile: String,
    pub from_at: String,
    pub to_at: String,
    pub from_version: i64,
    pub to_version: i64,
    pub from_score: Option<f64>,
    pub to_score: Option<f64>,
    /// `to - from`; `None` when either has no score.
    pub delta: Option<f64>,
    pub from_coverage: f64,
    pub to_coverage: f64,
    pub from_badge: Option<String>,
    pub to_badge: Option<String>,
    /// Largest change first; factors that did not move are left out.
    pub factors: Vec<FactorDelta>,
    /// Badges earned or lost after `from`, up to and including `to`.
    pub transitions: Vec<Transition>,
}

/// The diff of `from` and `to`; `between` are the stored evaluations
/// after `from` up to `to` (their transitions are listed).
pub fn diff(from: &Evaluation, to: &Evaluation, between: &[Evaluation]) -> ScoreDiff {
    let mut factors = Vec::new();
    let names: Vec<&str> = {
        let mut n: Vec<&str> = from
            .score
            .factors
            .iter()
            .map(|f| f.factor.as_str())
            .collect();
        for f in &to.score.factors {
            if !n.contains(&f.factor.as_str()) {
                n.push(&f.factor);
            }
        }
        n
    };
    for name in names {
        let a = from.score.factors.iter().find(|f| f.factor == name);
        let b = to.score.factors.iter().find(|f| f.factor == name);
        let pa = a.map(|f| f.contribution).unwrap_or(0.0);
        let pb = b.map(|f| f.contribution).unwrap_or(0.0);
        let va = a.and_then(|f| f.value);
        let vb = b.and_then(|f| f.value);
        let ia = a.is_some_and(|f| f.included);
        let ib = b.is_some_and(|f| f.included);
        if pa == pb && va == vb && ia == ib {
            continue;
        }
        let v = |x: Option<f64>| x.map(|x| format!("{x}")).unwrap_or_else(|| "none".into());
        let why = match (ia, ib) {
            (true, false) => format!(
                "left out now: {}",
                b.and_then(|f| f.why.clone())
                    .unwrap_or_else(|| "not in this profile version".into())
            ),
            (false, true) => format!("included now (value {})", v(vb)),
            _ if va != vb => format!("value {} → {}", v(va), v(vb)),
            _ => "same value; the weights of the others or the cap moved its points".into(),
        };
        factors.push(FactorDelta {
            factor: name.to_string(),
            from_value: va,
            to_value: vb,
            from_points: pa,
            to_points: pb,
            delta: pb - pa,
            why,
        });
    }
    factors.sort_by(|x, y| {
        y.delta
            .abs()
            .total_cmp(&x.delta.abs())
            .then_with(|| x.factor.cmp(&y.factor))
    });
    let transitions = between
        .iter()
        .filter(|e| e.at > from.at && e.at <= to.at)
        .flat_map(|e| e.transitions.iter().cloned())
        .collect();
    ScoreDiff {
        tenant: to.tenant.clone(),
        profile: to.score.profile.clone(),
        from_at: rfc3339(from.at),
        to_at: rfc3339(to.at),
        from_version: from.score.version,
        to_version: to.score.version,
        from_score: from.score.score,
        to_score: to.score.score,
        delta: from.score.score.zip(to.score.score).map(|(a, b)| b - a),
        from_coverage: from.score.coverage,
        to_coverage: to.score.coverage,
        from_badge: from.badge.clone(),
        to_badge: to.badge.clone(),
        factors,
        transitions,
    }
}
