//! Badges on small packs written here, every value worked out by hand
//! (the arithmetic is in the comments): entering until the dwell has
//! passed, held through noise between `exit` and `enter`, leaving and
//! lost after the dwell, lost at once when `requires` fails, ranks,
//! narratives, `score.trend`, decay of a carried-forward signal, replay,
//! the score diff and `changed`. Every evaluation goes through
//! [`checked`], which holds each standing change to
//! [`BadgeState::legal`] and each transition to the standings around it.
//!
//! Each factor has bounds [0, 100] and is the only factor with data, so
//! the score is the signal's value (`100 × 1 × v/100 / 1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::collections::BTreeMap;
use tenet_runtime::load::{load_files, RuleFile, Rules};
use tenet_runtime::pack::PackHandle;
use tenet_tenant_benchmark::engine::{changed, diff, evaluate, replay, Facts, Point};
use tenet_tenant_benchmark::model::{BadgeState, Evaluation, ProfileState, Standing, Transition};
use tenet_tenant_benchmark::profiles::{Profile, Profiles};
use tenet_tenant_benchmark::score::Signal;

/// 2026-12-01T00:00:00.000Z (`date -u -d 2026-12-01 +%s` = 1796083200).
const T0: i64 = 1_796_083_200_000;
const MIN: i64 = 60_000;
const H: i64 = 3_600_000;

const PACK: &str = r#"
profile p {
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  badge gold {
    rank      2
    requires  signals.clean == 1
    narrative "{tenant.name} has held gold at {score.value}"

    hysteresis {
      enter 75
      exit  50
      dwell 2h
    }
  }
}

profile instant {
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  badge quick {
    rank 1

    hysteresis {
      enter 60
      exit  40
      dwell 0s
    }
  }
}

# `basic` is written first and sorts first by name: only its rank puts
# `top` above it.
profile ranked {
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  badge basic {
    rank 1

    hysteresis {
      enter 40
      exit  30
      dwell 0s
    }
  }

  badge top {
    rank 5

    hysteresis {
      enter 75
      exit  50
      dwell 0s
    }
  }
}

profile trend {
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  badge steady {
    rank      1
    requires  score.trend >= 0
    narrative "trend {score.trend}"

    hysteresis {
      enter 50
      exit  40
      dwell 0s
    }
  }
}

profile decay {
  cap_share 100%

  factor a {
    source          "a"
    weight          1
    bounds          [0, 100]
    fallback        carry_forward
    decay_half_life 1d
  }

  badge kept {
    rank 1

    hysteresis {
      enter 60
      exit  40
      dwell 12h
    }
  }
}

profile three {
  cap_share 100%

  factor a {
    source "a"
    weight 1
    bounds [0, 100]
  }

  factor b {
    source "b"
    weight 3
    bounds [0, 100]
  }

  factor c {
    source "c"
    weight 1
    bounds [0, 100]
  }

  badge hi {
    rank 1

    hysteresis {
      enter 55
      exit  50
      dwell 0s
    }
  }
}
"#;

fn rules() -> Rules {
    load_files(
        vec![RuleFile {
            path: "t.tenet".into(),
            text: format!("tenet 1\npack tenant_benchmark version \"1.0.0\"\n{PACK}"),
        }],
        "",
    )
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Signals measured at `at`.
fn signals(values: &[(&str, f64)], at: i64) -> BTreeMap<String, Signal> {
    values
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Signal {
                    value: json!(v),
                    at: Some(at),
                    source: None,
                },
            )
        })
        .collect()
}

fn facts(name: &str) -> Facts {
    json!({"name": name}).as_object().unwrap().clone()
}

/// `evaluate`, then: every badge whose standing moved moved legally; a
/// badge is earned exactly when it comes to be had and lost exactly when
/// it stops being had; the views show the new state; every transition
/// is at `now`.
fn checked(
    pack: &PackHandle,
    profile: &Profile,
    tenant: &str,
    facts: &Facts,
    signals: &BTreeMap<String, Signal>,
    state: &ProfileState,
    now: i64,
) -> (Evaluation, ProfileState) {
    let (e, next) = evaluate(pack, profile, tenant, facts, signals, state, now);
    for b in &profile.badges {
        let from = state
            .badges
            .get(&b.name)
            .map(|s| s.standing)
            .unwrap_or_default();
        let to = next.badges[&b.name];
        if from != to.standing {
            assert!(
                BadgeState::legal(from, to.standing),
                "{}: {from:?} → {:?} at {now} is not a legal move",
                b.name,
                to.standing
            );
        }
        let count = |change: &str| {
            e.transitions
                .iter()
                .filter(|t| t.badge == b.name && t.change == change)
                .count()
        };
        assert_eq!(
            count("earned"),
            usize::from(!from.has() && to.standing.has()),
            "{}: {from:?} → {:?}: {:?}",
            b.name,
            to.standing,
            e.transitions
        );
        assert_eq!(
            count("lost"),
            usize::from(from.has() && !to.standing.has()),
            "{}: {from:?} → {:?}: {:?}",
            b.name,
            to.standing,
            e.transitions
        );
        let view = e.badges.iter().find(|v| v.badge == b.name).unwrap();
        assert_eq!((view.standing, view.since), (to.standing, to.since));
    }
    for t in &e.transitions {
        assert_eq!(t.at, now);
        assert!(t.change == "earned" || t.change == "lost", "{t:?}");
    }
    (e, next)
}

/// One tenant on one profile, evaluated step by step.
struct Run<'a> {
    pack: &'a PackHandle<'a>,
    profile: &'a Profile,
    tenant: String,
    facts: Facts,
    state: ProfileState,
    log: Vec<Evaluation>,
}

impl<'a> Run<'a> {
    fn new(pack: &'a PackHandle<'a>, profile: &'a Profile, tenant: &str) -> Run<'a> {
        Run {
            pack,
            profile,
            tenant: tenant.into(),
            facts: facts(tenant),
            state: ProfileState::default(),
            log: Vec::new(),
        }
    }

    fn with(&mut self, now: i64, signals: &BTreeMap<String, Signal>) -> Evaluation {
        let (e, next) = checked(
            self.pack,
            self.profile,
            &self.tenant,
            &self.facts,
            signals,
            &self.state,
            now,
        );
        self.state = next;
        self.log.push(e.clone());
        e
    }

    /// The gold profile's signals: `a` and `clean = 1`, measured at `now`.
    fn at(&mut self, now: i64, a: f64) -> Evaluation {
        self.with(now, &signals(&[("a", a), ("clean", 1.0)], now))
    }
}

/// A badge's standing and since in an evaluation.
fn badge(e: &Evaluation, name: &str) -> (Standing, Option<i64>) {
    let v = e.badges.iter().find(|v| v.badge == name).unwrap();
    (v.standing, v.since)
}

fn narrative(e: &Evaluation, name: &str) -> Option<String> {
    e.badges
        .iter()
        .find(|v| v.badge == name)
        .unwrap()
        .narrative
        .clone()
}

fn transition(name: &str, at: i64, change: &str, reason: &str) -> Transition {
    Transition {
        badge: name.into(),
        at,
        change: change.into(),
        reason: reason.into(),
    }
}

/// A deterministic pseudo-random sequence in `[lo, hi]` (a 64-bit LCG,
/// Knuth's MMIX constants; the top 53 bits as a fraction).
fn noise(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            lo + u * (hi - lo)
        })
        .collect()
}

#[test]
fn the_state_machine_allows_exactly_its_eight_moves() {
    use Standing::*;
    let all = [Out, Entering, Held, Leaving];
    let legal = [
        (Out, Entering),
        (Out, Held),
        (Entering, Out),
        (Entering, Held),
        (Held, Leaving),
        (Held, Out),
        (Leaving, Held),
        (Leaving, Out),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                BadgeState::legal(from, to),
                legal.contains(&(from, to)),
                "{from:?} → {to:?}"
            );
        }
    }
}

#[test]
fn entering_until_the_dwell_has_passed_then_held_and_a_dip_restarts_the_dwell() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("p").unwrap(), "acme");

    // 80 ≥ enter 75: entering from T0; not had yet.
    let e = run.at(T0, 80.0);
    assert!(close(e.score.score.unwrap(), 80.0), "{:?}", e.score.score);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0)));
    assert_eq!(e.badge, None);
    assert!(e.transitions.is_empty());
    assert_eq!(narrative(&e, "gold"), None, "no narrative before it is had");

    // An hour in: still entering, still since T0 (1h < dwell 2h).
    let e = run.at(T0 + H, 90.0);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0)));

    // 70 < 75 at T0+90m: back out, the dwell is forgotten.
    let e = run.at(T0 + 90 * MIN, 70.0);
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 90 * MIN)));
    assert!(e.transitions.is_empty(), "entering → out is no transition");

    // At T0+2h (2h after the first entering, which would have earned it
    // had the dip not reset the dwell): 75, exactly `enter`, qualifies
    // and starts a new dwell.
    let e = run.at(T0 + 2 * H, 75.0);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0 + 2 * H)));
    assert!(e.transitions.is_empty());

    // T0+3h: 1h of the new dwell.
    let e = run.at(T0 + 3 * H, 80.0);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0 + 2 * H)));

    // T0+4h - 1ms: 2h - 1ms, one millisecond short of the dwell.
    let e = run.at(T0 + 4 * H - 1, 80.0);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0 + 2 * H)));
    assert!(e.transitions.is_empty());

    // T0+4h: (T0+4h) - (T0+2h) = 2h ≥ dwell 2h: earned.
    let e = run.at(T0 + 4 * H, 87.5);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 4 * H)));
    assert_eq!(e.badge.as_deref(), Some("gold"));
    assert_eq!(
        e.transitions,
        vec![transition(
            "gold",
            T0 + 4 * H,
            "earned",
            "score 87.5 has been at or above 75 since 2026-12-01T02:00:00.000Z (dwell 2h), and `requires` holds"
        )]
    );
}

#[test]
fn a_dwell_of_zero_earns_and_loses_at_once() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("instant").unwrap(), "acme");

    // 60 = enter: held at once, never entering. No dwell, no `requires`:
    // the reason says neither.
    let e = run.at(T0, 60.0);
    assert_eq!(badge(&e, "quick"), (Standing::Held, Some(T0)));
    assert_eq!(
        e.transitions,
        vec![transition(
            "quick",
            T0,
            "earned",
            "score 60.0 has been at or above 60"
        )]
    );
    // 40 = exit is not below it: kept.
    let e = run.at(T0 + H, 40.0);
    assert_eq!(badge(&e, "quick"), (Standing::Held, Some(T0)));
    assert!(e.transitions.is_empty());
    // 37.5 < 40: lost at once, never leaving.
    let e = run.at(T0 + 2 * H, 37.5);
    assert_eq!(badge(&e, "quick"), (Standing::Out, Some(T0 + 2 * H)));
    assert_eq!(
        e.transitions,
        vec![transition(
            "quick",
            T0 + 2 * H,
            "lost",
            "score 37.5 has been below 40"
        )]
    );
    // 50, between exit and enter, does not bring it back.
    let e = run.at(T0 + 3 * H, 50.0);
    assert_eq!(badge(&e, "quick"), (Standing::Out, Some(T0 + 2 * H)));
    assert!(e.transitions.is_empty());
    assert!(run
        .log
        .iter()
        .all(|e| !matches!(badge(e, "quick").0, Standing::Entering | Standing::Leaving)));
}

/// Evaluations on `p` that bring gold to held at T0+2h.
fn held_gold<'a>(pack: &'a PackHandle<'a>, profile: &'a Profile, tenant: &str) -> Run<'a> {
    let mut run = Run::new(pack, profile, tenant);
    run.at(T0, 80.0);
    let e = run.at(T0 + 2 * H, 80.0);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 2 * H)));
    assert_eq!(e.transitions.len(), 1);
    run
}

#[test]
fn a_held_badge_is_kept_in_the_band_leaves_below_exit_and_is_lost_after_the_dwell() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = held_gold(&pack, profiles.get("p").unwrap(), "acme");

    // 60 is between exit 50 and enter 75: nothing moves, since stays.
    let e = run.at(T0 + 3 * H, 60.0);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 2 * H)));
    assert!(e.transitions.is_empty());
    // 50 = exit is not below it.
    let e = run.at(T0 + 4 * H, 50.0);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 2 * H)));
    // 37.5 < 50: leaving from T0+5h, still had.
    let e = run.at(T0 + 5 * H, 37.5);
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 5 * H)));
    assert_eq!(e.badge.as_deref(), Some("gold"));
    assert!(e.transitions.is_empty());
    // Back to 62.5 ≥ exit (below enter) before the dwell: held again,
    // with no transition (it was never lost).
    let e = run.at(T0 + 6 * H, 62.5);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 6 * H)));
    assert!(e.transitions.is_empty());
    // Below exit again from T0+7h; the dwell counts from there.
    let e = run.at(T0 + 7 * H, 25.0);
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 7 * H)));
    let e = run.at(T0 + 8 * H, 45.0);
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 7 * H)));
    // 2h - 1ms below exit: not yet.
    let e = run.at(T0 + 9 * H - 1, 10.0);
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 7 * H)));
    assert!(e.transitions.is_empty());
    // (T0+9h) - (T0+7h) = 2h ≥ dwell: lost.
    let e = run.at(T0 + 9 * H, 12.5);
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 9 * H)));
    assert_eq!(e.badge, None);
    assert_eq!(
        e.transitions,
        vec![transition(
            "gold",
            T0 + 9 * H,
            "lost",
            "score 12.5 has been below 50 since 2026-12-01T07:00:00.000Z (dwell 2h)"
        )]
    );
}

#[test]
fn no_score_counts_as_below_exit() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = held_gold(&pack, profiles.get("p").unwrap(), "acme");
    // No `a`: its fallback leaves it out, nothing has data, no score.
    let only_clean = |now| signals(&[("clean", 1.0)], now);
    let e = run.with(T0 + 3 * H, &only_clean(T0 + 3 * H));
    assert_eq!((e.score.score, e.score.coverage), (None, 0.0));
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 3 * H)));
    let e = run.with(T0 + 5 * H, &only_clean(T0 + 5 * H));
    assert_eq!(
        e.transitions,
        vec![transition(
            "gold",
            T0 + 5 * H,
            "lost",
            "there has been no score since 2026-12-01T03:00:00.000Z (dwell 2h)"
        )]
    );
}

#[test]
fn requires_failing_loses_a_held_badge_at_once_whatever_the_score_and_dwell() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = held_gold(&pack, profiles.get("p").unwrap(), "acme");
    let why = "`requires` (signals.clean == 1) does not hold";

    // Held, score 100, one hour later: clean = 0 loses it at once.
    let e = run.with(
        T0 + 3 * H,
        &signals(&[("a", 100.0), ("clean", 0.0)], T0 + 3 * H),
    );
    assert!(close(e.score.score.unwrap(), 100.0));
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 3 * H)));
    assert_eq!(
        e.transitions,
        vec![transition("gold", T0 + 3 * H, "lost", why)]
    );

    // Out with a score of 100 and `requires` failing: it never starts
    // entering.
    let e = run.with(
        T0 + 4 * H,
        &signals(&[("a", 100.0), ("clean", 0.0)], T0 + 4 * H),
    );
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 3 * H)));
    // Entering, then `requires` fails: back out, no transition.
    let e = run.at(T0 + 5 * H, 100.0);
    assert_eq!(badge(&e, "gold"), (Standing::Entering, Some(T0 + 5 * H)));
    let e = run.with(
        T0 + 6 * H,
        &signals(&[("a", 100.0), ("clean", 0.0)], T0 + 6 * H),
    );
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 6 * H)));
    assert!(e.transitions.is_empty());

    // Earned again (T0+7h → T0+9h), then leaving at T0+10h: a missing
    // `clean` (null, so `requires` is false) loses it a minute later, long
    // before the dwell of 2h.
    run.at(T0 + 7 * H, 100.0);
    let e = run.at(T0 + 9 * H, 100.0);
    assert_eq!(badge(&e, "gold"), (Standing::Held, Some(T0 + 9 * H)));
    let e = run.at(T0 + 10 * H, 10.0);
    assert_eq!(badge(&e, "gold"), (Standing::Leaving, Some(T0 + 10 * H)));
    let e = run.with(T0 + 10 * H + MIN, &signals(&[("a", 10.0)], T0 + 10 * H));
    assert_eq!(badge(&e, "gold"), (Standing::Out, Some(T0 + 10 * H + MIN)));
    assert_eq!(
        e.transitions,
        vec![transition("gold", T0 + 10 * H + MIN, "lost", why)]
    );
}

#[test]
fn noise_between_exit_and_enter_never_flips_a_badge() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    // gold: exit 50, enter 75, dwell 2h; quick: exit 40, enter 60, dwell
    // 0s (a single crossing would flip it).
    for (profile, name, exit, enter, start) in [
        ("p", "gold", 50.0, 75.0, 80.0),
        ("instant", "quick", 40.0, 60.0, 60.0),
    ] {
        let p = profiles.get(profile).unwrap();
        let values = noise(0x7e9e7, 100, exit + 0.1, enter - 0.1);
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        // The sequence covers the band, close to both edges.
        assert!(lo < exit + 2.0 && hi > enter - 2.0, "{lo}..{hi}");
        assert!(lo >= exit + 0.1 && hi <= enter - 0.1);

        // From held.
        let mut run = Run::new(&pack, p, "acme");
        let first = run.at(T0, start);
        let mut t = T0;
        if p.badges[0].dwell > 0 {
            t = T0 + p.badges[0].dwell;
            run.at(t, start);
        }
        let held = badge(run.log.last().unwrap(), name);
        assert_eq!(held.0, Standing::Held, "{first:?}");
        for (i, v) in values.iter().enumerate() {
            let e = run.at(t + (i as i64 + 1) * H, *v);
            assert!(close(e.score.score.unwrap(), *v));
            assert!(
                e.transitions.is_empty(),
                "{profile} {v}: {:?}",
                e.transitions
            );
            assert_eq!(badge(&e, name), held, "{profile} from held, {v}");
        }

        // From out.
        let mut run = Run::new(&pack, p, "acme");
        for (i, v) in values.iter().enumerate() {
            let e = run.at(T0 + i as i64 * H, *v);
            assert!(
                e.transitions.is_empty(),
                "{profile} {v}: {:?}",
                e.transitions
            );
            assert_eq!(badge(&e, name), (Standing::Out, None), "{profile} from out");
        }
    }
}

#[test]
fn the_badge_of_an_evaluation_is_the_highest_ranked_one_held() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("ranked").unwrap(), "acme");

    // 80 ≥ 75 and ≥ 40: both earned (dwell 0), `top` (rank 5) first.
    let e = run.at(T0, 80.0);
    assert_eq!(e.badge.as_deref(), Some("top"));
    let order: Vec<(&str, i64)> = e
        .badges
        .iter()
        .map(|b| (b.badge.as_str(), b.rank))
        .collect();
    assert_eq!(order, vec![("top", 5), ("basic", 1)]);
    let earned: Vec<&str> = e.transitions.iter().map(|t| t.badge.as_str()).collect();
    assert_eq!(earned, vec!["top", "basic"]);
    // 45 < top's exit 50: top lost; basic (exit 30) kept.
    let e = run.at(T0 + H, 45.0);
    assert_eq!(e.badge.as_deref(), Some("basic"));
    assert_eq!(badge(&e, "top").0, Standing::Out);
    // 62.5 is below top's enter: still only basic.
    let e = run.at(T0 + 2 * H, 62.5);
    assert_eq!(e.badge.as_deref(), Some("basic"));
    // 75 brings top back: top again.
    let e = run.at(T0 + 3 * H, 75.0);
    assert_eq!(e.badge.as_deref(), Some("top"));
    assert_eq!(badge(&e, "basic"), (Standing::Held, Some(T0)));
    // 20 < 30 and < 50: both lost, no badge.
    let e = run.at(T0 + 4 * H, 20.0);
    assert_eq!(e.badge, None);
    assert_eq!(e.transitions.len(), 2);
}

#[test]
fn a_narrative_reads_the_tenants_own_fields_and_its_score() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let p = profiles.get("p").unwrap();

    let mut acme = Run::new(&pack, p, "acme");
    acme.facts = facts("Acme Corp");
    let e = acme.at(T0, 87.5);
    assert_eq!(narrative(&e, "gold"), None, "entering: not had yet");
    let e = acme.at(T0 + 2 * H, 87.5);
    assert_eq!(
        narrative(&e, "gold").as_deref(),
        Some("Acme Corp has held gold at 87.5")
    );
    // Leaving is still had: the narrative reads this evaluation's score.
    let e = acme.at(T0 + 3 * H, 37.5);
    assert_eq!(badge(&e, "gold").0, Standing::Leaving);
    assert_eq!(
        narrative(&e, "gold").as_deref(),
        Some("Acme Corp has held gold at 37.5")
    );
    // Lost at T0+5h: no narrative.
    let e = acme.at(T0 + 5 * H, 37.5);
    assert_eq!(badge(&e, "gold").0, Standing::Out);
    assert_eq!(narrative(&e, "gold"), None);

    // Another tenant, the same profile: its own name and score.
    let mut globex = Run::new(&pack, p, "globex");
    globex.facts = facts("Globex");
    globex.at(T0, 100.0);
    let e = globex.at(T0 + 2 * H, 100.0);
    assert_eq!(
        narrative(&e, "gold").as_deref(),
        Some("Globex has held gold at 100")
    );
    assert_eq!(e.facts, facts("Globex"), "the facts it read are kept");
}

#[test]
fn score_trend_is_the_change_from_the_previous_evaluation() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("trend").unwrap(), "acme");

    // First evaluation: no previous score, trend 0: `requires` holds,
    // 62.5 ≥ 50, dwell 0: earned.
    let e = run.at(T0, 62.5);
    assert_eq!(badge(&e, "steady").0, Standing::Held);
    assert_eq!(narrative(&e, "steady").as_deref(), Some("trend 0"));
    assert_eq!(run.state.last_score, Some(62.5));
    // 75 - 62.5 = 12.5.
    let e = run.at(T0 + H, 75.0);
    assert_eq!(narrative(&e, "steady").as_deref(), Some("trend 12.5"));
    // 75 - 75 = 0.
    let e = run.at(T0 + 2 * H, 75.0);
    assert_eq!(narrative(&e, "steady").as_deref(), Some("trend 0"));
    // 62.5 - 75 = -12.5 < 0: lost at once, though 62.5 ≥ enter.
    let e = run.at(T0 + 3 * H, 62.5);
    assert_eq!(
        e.transitions,
        vec![transition(
            "steady",
            T0 + 3 * H,
            "lost",
            "`requires` (score.trend >= 0) does not hold"
        )]
    );
    // 62.5 - 62.5 = 0: earned again.
    let e = run.at(T0 + 4 * H, 62.5);
    assert_eq!(
        e.transitions,
        vec![transition(
            "steady",
            T0 + 4 * H,
            "earned",
            "score 62.5 has been at or above 50, and `requires` holds"
        )]
    );
    // 87.5 - 62.5 = 25.
    let e = run.at(T0 + 5 * H, 87.5);
    assert_eq!(narrative(&e, "steady").as_deref(), Some("trend 25"));
    // No score: below exit, dwell 0: lost.
    let e = run.with(T0 + 6 * H, &BTreeMap::new());
    assert_eq!(e.score.score, None);
    assert_eq!(e.transitions[0].change, "lost");
    // The previous evaluation had no score: trend 0, not 50 - 87.5.
    let e = run.at(T0 + 7 * H, 50.0);
    assert_eq!(badge(&e, "steady").0, Standing::Held);
    assert_eq!(narrative(&e, "steady").as_deref(), Some("trend 0"));
}

#[test]
fn a_carried_forward_signal_decays_and_the_badge_is_lost_when_computed() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("decay").unwrap(), "acme");

    // `a` = 80, measured every hour from T0 to T0+12h: entering at T0,
    // earned at T0+12h (dwell 12h).
    for i in 0..=12 {
        let now = T0 + i * H;
        let e = run.with(now, &signals(&[("a", 80.0)], now));
        let want = if i < 12 {
            (Standing::Entering, Some(T0))
        } else {
            (Standing::Held, Some(T0 + 12 * H))
        };
        assert_eq!(badge(&e, "kept"), want, "T0+{i}h");
    }
    // Then it stops arriving. Carried from its last measurement L =
    // T0+12h, halved every day: score(t) = 80 × 0.5^((t - L) / 24h).
    let last = T0 + 12 * H;
    let expected = |t: i64| 80.0 * 0.5f64.powf((t - last) as f64 / (24 * H) as f64);
    let mut lost_at = None;
    let mut previous = 80.0;
    for i in 13..=72 {
        let now = T0 + i * H;
        let e = run.with(now, &BTreeMap::new());
        let s = e.score.score.unwrap();
        assert!(close(s, expected(now)), "T0+{i}h: {s} vs {}", expected(now));
        assert!(s < previous, "falls every hour");
        previous = s;
        let a = &e.score.factors[0];
        assert_eq!(a.value, Some(80.0), "the carried value");
        assert!(
            a.why.as_deref().unwrap().starts_with(&format!(
                "no signal: the value of {} ago carried forward, decayed to",
                tenet_runtime::dsl::value::format_duration(now - last)
            )),
            "{:?}",
            a.why
        );
        match i {
            // L+12h: 80 × 0.5^0.5 = 56.57, below enter, above exit: held.
            24 => assert_eq!(badge(&e, "kept"), (Standing::Held, Some(last))),
            // L+24h: 80 × 0.5 = 40, exactly exit, not below it: held.
            36 => {
                assert!(close(s, 40.0));
                assert_eq!(badge(&e, "kept"), (Standing::Held, Some(last)))
            }
            // L+25h: 80 × 0.5^(25/24) = 38.85 < 40: leaving from T0+37h.
            37 => assert_eq!(badge(&e, "kept"), (Standing::Leaving, Some(T0 + 37 * H))),
            _ => {}
        }
        if !e.transitions.is_empty() {
            assert_eq!(lost_at, None, "lost once");
            lost_at = Some((now, e.transitions.clone()));
        }
    }
    // Below exit from T0+37h, for the dwell of 12h: lost at T0+49h, when
    // the score is 80 × 0.5^(37/24) = 27.48 → "27.5"; T0+37h is
    // 2026-12-02T13:00Z.
    let (at, transitions) = lost_at.unwrap();
    assert_eq!(at, T0 + 49 * H);
    assert_eq!(
        transitions,
        vec![transition(
            "kept",
            T0 + 49 * H,
            "lost",
            "score 27.5 has been below 40 since 2026-12-02T13:00:00.000Z (dwell 12h)"
        )]
    );
    assert_eq!(badge(run.log.last().unwrap(), "kept").0, Standing::Out);
}

/// The held-then-lost sequence on `p`, and the decay sequence, as points.
fn sequences() -> Vec<(&'static str, Vec<Point>)> {
    let gold = [
        (T0, 80.0),
        (T0 + 2 * H, 80.0),
        (T0 + 3 * H, 60.0),
        (T0 + 5 * H, 37.5),
        (T0 + 6 * H, 62.5),
        (T0 + 7 * H, 25.0),
        (T0 + 9 * H, 12.5),
        (T0 + 10 * H, 90.0),
    ]
    .iter()
    .map(|&(at, a)| Point {
        at,
        facts: facts("Acme Corp"),
        signals: signals(&[("a", a), ("clean", 1.0)], at),
    })
    .collect();
    let decay = (0..=60)
        .map(|i| {
            let at = T0 + i * H;
            Point {
                at,
                facts: Facts::new(),
                signals: if i <= 12 {
                    signals(&[("a", 80.0)], at)
                } else {
                    BTreeMap::new()
                },
            }
        })
        .collect();
    vec![("p", gold), ("decay", decay)]
}

#[test]
fn replay_gives_the_evaluations_of_evaluating_step_by_step() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    for (name, points) in sequences() {
        let p = profiles.get(name).unwrap();
        let (replayed, last) = replay(&pack, p, "acme", &points);
        let mut state = ProfileState::default();
        let mut stepped = Vec::new();
        for pt in &points {
            let (e, next) = checked(&pack, p, "acme", &pt.facts, &pt.signals, &state, pt.at);
            stepped.push(e);
            state = next;
        }
        assert_eq!(replayed.len(), points.len());
        for (a, b) in replayed.iter().zip(&stepped) {
            assert_eq!(
                serde_json::to_string(a).unwrap(),
                serde_json::to_string(b).unwrap()
            );
        }
        assert_eq!(
            serde_json::to_string(&last).unwrap(),
            serde_json::to_string(&state).unwrap()
        );
        // What the replay went through, by hand: on `p`, earned at T0+2h,
        // lost at T0+9h (below 50 since T0+7h); on `decay`, earned at
        // T0+12h and lost at T0+49h.
        let moves: Vec<(i64, &str)> = replayed
            .iter()
            .flat_map(|e| e.transitions.iter().map(|t| (t.at, t.change.as_str())))
            .collect();
        let want = match name {
            "p" => vec![(T0 + 2 * H, "earned"), (T0 + 9 * H, "lost")],
            _ => vec![(T0 + 12 * H, "earned"), (T0 + 49 * H, "lost")],
        };
        assert_eq!(moves, want, "{name}");
    }
}

#[test]
fn the_diff_lists_moved_factors_by_size_and_the_transitions_between() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let mut run = Run::new(&pack, profiles.get("three").unwrap(), "acme");
    fn at(run: &mut Run, i: i64, v: &[(&str, f64)]) -> Evaluation {
        run.with(T0 + i * H, &signals(v, T0 + i * H))
    }
    // Weights a 1, b 3, c 1 (5 in all): score = (a + 3b + c) / 5; each
    // factor's points are 100 × w × (v/100) / 5 = w × v / 5.
    // e0: (50 + 210 + 50) / 5 = 62 ≥ 55: hi earned.
    let e0 = at(&mut run, 0, &[("a", 50.0), ("b", 70.0), ("c", 50.0)]);
    // e1: (40 + 120 + 40) / 5 = 40 < 50: lost. Points a 8, b 24, c 8.
    let e1 = at(&mut run, 1, &[("a", 40.0), ("b", 40.0), ("c", 40.0)]);
    // e2: (40 + 210 + 40) / 5 = 58: earned.
    let e2 = at(&mut run, 2, &[("a", 40.0), ("b", 70.0), ("c", 40.0)]);
    // e3: (0 + 150 + 40) / 5 = 38: lost. Points a 0, b 30, c 8.
    let e3 = at(&mut run, 3, &[("a", 0.0), ("b", 50.0), ("c", 40.0)]);
    // e4: 62 again: earned.
    let e4 = at(&mut run, 4, &[("a", 50.0), ("b", 70.0), ("c", 50.0)]);
    // e5: no c; weight 4: (40 + 120) / 4 = 40, lost. Points a 100 × 0.4 /
    // 4 = 10, b 100 × 3 × 0.4 / 4 = 30; coverage 4/5.
    let e5 = at(&mut run, 5, &[("a", 40.0), ("b", 40.0)]);
    for (e, s) in [
        (&e0, 62.0),
        (&e1, 40.0),
        (&e2, 58.0),
        (&e3, 38.0),
        (&e4, 62.0),
        (&e5, 40.0),
    ] {
        assert!(
            close(e.score.score.unwrap(), s),
            "{:?} vs {s}",
            e.score.score
        );
    }
    let changes: Vec<&str> = run
        .log
        .iter()
        .map(|e| e.transitions[0].change.as_str())
        .collect();
    assert_eq!(
        changes,
        ["earned", "lost", "earned", "lost", "earned", "lost"]
    );
    let all = run.log.clone();

    // e1 → e3: a 8 → 0 (-8), b 24 → 30 (+6), c 8 → 8 (left out).
    // Largest |delta| first: a before b, though b's delta is larger.
    let d = diff(&e1, &e3, &all);
    assert_eq!((d.tenant.as_str(), d.profile.as_str()), ("acme", "three"));
    assert_eq!(d.from_at, "2026-12-01T01:00:00.000Z");
    assert_eq!(d.to_at, "2026-12-01T03:00:00.000Z");
    assert_eq!((d.from_version, d.to_version), (1, 1));
    assert!(close(d.delta.unwrap(), -2.0), "38 - 40: {:?}", d.delta);
    assert_eq!((d.from_badge.clone(), d.to_badge.clone()), (None, None));
    let names: Vec<&str> = d.factors.iter().map(|f| f.factor.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let (a, b) = (&d.factors[0], &d.factors[1]);
    assert_eq!((a.from_value, a.to_value), (Some(40.0), Some(0.0)));
    assert!(close(a.from_points, 8.0) && close(a.to_points, 0.0) && close(a.delta, -8.0));
    assert_eq!(a.why, "value 40 → 0");
    assert_eq!((b.from_value, b.to_value), (Some(40.0), Some(50.0)));
    assert!(close(b.from_points, 24.0) && close(b.to_points, 30.0) && close(b.delta, 6.0));
    assert_eq!(b.why, "value 40 → 50");
    // Only the transitions after e1, up to and including e3.
    assert_eq!(
        d.transitions,
        [e2.transitions.clone(), e3.transitions.clone()].concat()
    );
    assert_eq!(
        d.transitions.iter().map(|t| t.at).collect::<Vec<_>>(),
        vec![T0 + 2 * H, T0 + 3 * H]
    );

    // e1 → e5: c left out (8 → 0), its weight renormalised onto a
    // (8 → 10) and b (24 → 30), whose values did not move.
    let d = diff(&e1, &e5, &all);
    let moved: Vec<(&str, f64)> = d
        .factors
        .iter()
        .map(|f| (f.factor.as_str(), f.delta))
        .collect();
    assert_eq!(moved.len(), 3);
    for ((name, delta), (want_name, want)) in
        moved.iter().zip([("c", -8.0), ("b", 6.0), ("a", 2.0)])
    {
        assert_eq!(*name, want_name);
        assert!(close(*delta, want), "{name}: {delta}");
    }
    assert_eq!(
        d.factors[0].why,
        "left out now: no signal: left out, the rest renormalised"
    );
    assert_eq!(
        (d.factors[0].from_value, d.factors[0].to_value),
        (Some(40.0), None)
    );
    let same = "same value; the weights of the others or the cap moved its points";
    assert_eq!(
        (d.factors[1].why.as_str(), d.factors[2].why.as_str()),
        (same, same)
    );
    assert!(close(d.to_coverage, 0.8) && close(d.from_coverage, 1.0));
    assert_eq!(d.transitions.len(), 4, "e2, e3, e4, e5");

    // e0 → e4: the same inputs, the same points: no factor listed, four
    // transitions in between, the badge the same.
    let d = diff(&e0, &e4, &all);
    assert!(d.factors.is_empty(), "{:?}", d.factors);
    assert_eq!(d.delta, Some(0.0));
    assert_eq!(
        (d.from_badge.as_deref(), d.to_badge.as_deref()),
        (Some("hi"), Some("hi"))
    );
    let changes: Vec<&str> = d.transitions.iter().map(|t| t.change.as_str()).collect();
    assert_eq!(changes, ["lost", "earned", "lost", "earned"]);
    // Between lists nothing outside (from, to].
    assert!(diff(&e0, &e1, &all[2..]).transitions.is_empty());

    // A value that moved without moving the points is listed: 150 is
    // clamped to the upper bound 100, as 100 was, so `a` keeps its 20
    // points (1 × 100 / 5) and the score stays (100 + 120 + 40) / 5 = 52.
    let e6 = at(&mut run, 6, &[("a", 100.0), ("b", 40.0), ("c", 40.0)]);
    let e7 = at(&mut run, 7, &[("a", 150.0), ("b", 40.0), ("c", 40.0)]);
    assert!(close(e6.score.score.unwrap(), 52.0) && close(e7.score.score.unwrap(), 52.0));
    let d = diff(&e6, &e7, std::slice::from_ref(&e7));
    assert_eq!(d.factors.len(), 1, "{:?}", d.factors);
    let a = &d.factors[0];
    assert_eq!(
        (a.factor.as_str(), a.from_value, a.to_value, a.delta),
        ("a", Some(100.0), Some(150.0), 0.0)
    );
    assert!(close(a.from_points, 20.0) && close(a.to_points, 20.0));
    assert_eq!(a.why, "value 100 → 150");
    assert!(d.transitions.is_empty());
}

#[test]
fn changed_says_whether_an_evaluation_moved_anything() {
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let p = profiles.get("p").unwrap();
    let f = facts("acme");
    let eval = |state: &ProfileState, now: i64, a: f64, clean: f64| {
        checked(
            &pack,
            p,
            "acme",
            &f,
            &signals(&[("a", a), ("clean", clean)], now),
            state,
            now,
        )
    };
    let s0 = ProfileState::default();
    // The first evaluation: version 0 → 1, a score, a badge entering.
    let (e1, s1) = eval(&s0, T0, 80.0, 1.0);
    assert!(changed(&s0, &s1, &e1));
    assert_eq!(s1.version, 1);
    // The same inputs again, at the same time and an hour later: nothing
    // moved (gold still entering since T0).
    let (e, s) = eval(&s1, T0, 80.0, 1.0);
    assert!(!changed(&s1, &s, &e), "{s1:?} vs {s:?}");
    let (e2, s2) = eval(&s1, T0 + H, 80.0, 1.0);
    assert!(!changed(&s1, &s2, &e2), "{s1:?} vs {s2:?}");
    assert_eq!(s1.badges, s2.badges);
    // The score moves (the badge does not): changed.
    let (e3, s3) = eval(&s2, T0 + 90 * MIN, 82.5, 1.0);
    assert_eq!(s3.badges, s2.badges);
    assert!(changed(&s2, &s3, &e3));
    // The same score, `requires` fails: entering → out, no transition;
    // only the standing moved.
    let (e4, s4) = eval(&s3, T0 + 100 * MIN, 82.5, 0.0);
    assert_eq!(s4.last_score, s3.last_score);
    assert!(e4.transitions.is_empty());
    assert_eq!(s4.badges["gold"].standing, Standing::Out);
    assert!(changed(&s3, &s4, &e4));
    // Entering again from T0+2h, held at T0+4h with the same score: the
    // standing and the transition.
    let (e5, s5) = eval(&s4, T0 + 2 * H, 82.5, 1.0);
    assert!(changed(&s4, &s5, &e5));
    let (e6, s6) = eval(&s5, T0 + 3 * H, 82.5, 1.0);
    assert!(!changed(&s5, &s6, &e6));
    let (e7, s7) = eval(&s6, T0 + 4 * H, 82.5, 1.0);
    assert_eq!(e7.transitions.len(), 1);
    assert!(changed(&s6, &s7, &e7));
    // Held, the same score: nothing.
    let (e8, s8) = eval(&s7, T0 + 5 * H, 82.5, 1.0);
    assert!(!changed(&s7, &s8, &e8));
    // A transition alone is a change, whatever the states say.
    let mut with_transition = e8.clone();
    with_transition.transitions = e7.transitions.clone();
    assert!(changed(&s7, &s8, &with_transition));
}

#[test]
fn a_profile_read_from_the_pack_has_the_thresholds_written() {
    // The premise of the tests above: thresholds, dwell and rank order as
    // written in PACK.
    let rules = rules();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let gold = &profiles.get("p").unwrap().badges[0];
    assert_eq!(
        (gold.enter, gold.exit, gold.dwell, gold.rank),
        (75.0, 50.0, 2 * H, 2)
    );
    assert_eq!(gold.requires.as_deref(), Some("signals.clean == 1"));
    assert!(gold.narrative);
    let ranked: Vec<&str> = profiles
        .get("ranked")
        .unwrap()
        .badges
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(ranked, ["top", "basic"]);
    let decay = &profiles.get("decay").unwrap().factors[0];
    assert_eq!(decay.decay_half_life, Some(24 * H));
}

/// A value the factor refuses (`out_of_bounds error`) or leaves out
/// (`exclude`) is not carried into a later score: a `null` after it
/// carries the last value the factor took.
#[test]
fn a_value_outside_bounds_is_not_carried_forward() {
    let rules = load_files(
        vec![RuleFile {
            path: "oob.tenet".into(),
            text: r#"tenet 1
pack tenant_benchmark version "1.0.0"

profile p {
  cap_share 100%

  factor strict {
    source        "s"
    weight        1
    bounds        [0, 100]
    out_of_bounds error
    fallback      carry_forward
  }
}
"#
            .into(),
        }],
        "",
    )
    .unwrap();
    let pack = tenet_tenant_benchmark::pack(&rules).unwrap();
    let profiles = Profiles::read(&pack).unwrap();
    let p = profiles.get("p").unwrap();
    let t0 = 1_796_083_200_000_i64;
    let sig = |v: serde_json::Value, at: i64| {
        BTreeMap::from([(
            "s".to_string(),
            Signal {
                value: v,
                at: Some(at),
                source: None,
            },
        )])
    };
    // 40: taken. 150: refused, the score blocked. Then null: 40 carried, not 150.
    let (e1, s1) = evaluate(
        &pack,
        p,
        "t",
        &Facts::new(),
        &sig(json!(40), t0),
        &ProfileState::default(),
        t0,
    );
    assert_eq!(e1.score.score, Some(40.0));
    let (e2, s2) = evaluate(
        &pack,
        p,
        "t",
        &Facts::new(),
        &sig(json!(150), t0 + 1),
        &s1,
        t0 + 1,
    );
    assert_eq!(e2.score.score, None, "{:?}", e2.score.blocked);
    let (e3, _) = evaluate(
        &pack,
        p,
        "t",
        &Facts::new(),
        &sig(json!(null), t0 + 2),
        &s2,
        t0 + 2,
    );
    assert_eq!(e3.score.score, Some(40.0), "{:?}", e3.score);
}
