//! `tenet test`: run the `test` blocks of every pack.
//!
//! A test gives input facts and the decision it expects: exactly which
//! blocks match (`expect`), are inconclusive (`expect_inconclusive`) and are
//! waived (`expect_waived`), whether the decision blocks
//! (`expect_blocking`), the effects and `because` of some matches
//! (`expect_effects`, `expect_because`), the highest risk (`expect_risk`)
//! and the number of evaluation errors (`expect_errors`). Each test is
//! decided twice — by the compiled evaluator and by the reference
//! interpreter — and a disagreement fails the test. `expect_not` names
//! blocks that must not match (a test that shows a rule quiet).
//!
//! Coverage: a block with a condition is exercised when some test expects it
//! to match (names it in `expect`, or it matches in the test's decision),
//! asserts it does not match (names it in `expect_not`) or expects it
//! inconclusive (`expect_inconclusive`). A waiver is exercised when some
//! test's decision applies it. Every other block with a condition, and every
//! waiver, is listed as unexercised. Blocks that are never decided — kinds
//! without a condition (`taxonomy`, `profile`, `rollout`, `window`...) and
//! blocks that leave their optional condition out (a `factor` without
//! `when`) — cannot match, so no test can exercise them, and they are not
//! listed.

use crate::decision::{decide, decide_with, DecideOptions, Decision, Match};
use crate::ir::CTest;
use crate::load::Rules;
use crate::reference::RefEvaluator;
use serde::Serialize;
use tenet_dsl::Value;

#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub pack: String,
    pub name: String,
    pub at: String,
    pub passed: bool,
    /// Readable differences, one per line (`expected …, got …`).
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    /// `pack: kind name (file:line:col)` for every block with a condition
    /// and every waiver that no test exercises (see the module docs).
    pub unexercised: Vec<String>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

pub fn run_tests(rules: &Rules) -> TestReport {
    let mut report = TestReport::default();
    for pack in &rules.packs {
        let mut exercised: Vec<&str> = Vec::new();
        let mut waivers_applied: Vec<&str> = Vec::new();
        for t in &pack.tests {
            exercised.extend(t.expect.iter().flatten().map(|s| s.as_str()));
            exercised.extend(t.expect_not.iter().map(|s| s.as_str()));
            exercised.extend(t.expect_inconclusive.iter().flatten().map(|s| s.as_str()));
            let opts = DecideOptions {
                trace: false,
                now: t.now.clone(),
                dry_run: false,
            };
            let d = decide(pack, &t.input, rules.scorer_list(), &opts);
            let mut r = RefEvaluator {
                pack,
                input: &t.input,
                scorers: rules.scorer_list(),
            };
            let reference = decide_with(pack, &mut r, &opts);
            let mut failures = Vec::new();
            let got: Vec<&str> = d.matched.iter().map(|m| m.block.as_str()).collect();
            for m in d.matched.iter().chain(d.waived.iter()) {
                if let Some(b) = pack.blocks.iter().find(|b| b.name == m.block) {
                    exercised.push(b.name.as_str());
                }
                if let Some(w) = &m.waived_by {
                    if let Some(w) = pack.waivers.iter().find(|x| x.name == w.waiver) {
                        waivers_applied.push(w.name.as_str());
                    }
                }
            }
            for n in &t.expect_not {
                if got.contains(&n.as_str()) {
                    failures.push(format!("`{n}` matched, but the test expects it not to"));
                }
            }
            if let Some(expect) = &t.expect {
                for e in expect {
                    if !got.contains(&e.as_str()) {
                        failures.push(format!("expected `{e}` to match, but it did not"));
                    }
                }
                for g in &got {
                    if !expect.iter().any(|e| e == g) {
                        failures.push(format!("`{g}` matched, but the test does not expect it"));
                    }
                }
            }
            if let Some(risk) = &t.expect_risk {
                if d.highest_risk.as_deref() != Some(risk.as_str()) {
                    failures.push(format!(
                        "expected highest risk `{risk}`, got {}",
                        d.highest_risk
                            .as_deref()
                            .map(|r| format!("`{r}`"))
                            .unwrap_or_else(|| "none".into())
                    ));
                }
            }
            check_outcomes(t, &d, &mut failures);
            let want_errors = t.expect_errors.unwrap_or(0);
            if d.errors.len() as i64 != want_errors {
                failures.push(format!(
                    "expected {want_errors} evaluation error(s), got {}",
                    d.errors.len()
                ));
                for e in &d.errors {
                    failures.push(format!(
                        "  error in `{}` ({}): {}",
                        e.block, e.at, e.message
                    ));
                }
            }
            if reference != d {
                failures.push("the compiled evaluator and the reference interpreter disagree on this input (a tenet bug: please report it)".into());
            }
            report.results.push(TestResult {
                pack: pack.name.clone(),
                name: t.name.clone(),
                at: t.at.clone(),
                passed: failures.is_empty(),
                failures,
            });
        }
        for b in &pack.blocks {
            if b.condition.is_some() && !exercised.contains(&b.name.as_str()) {
                report
                    .unexercised
                    .push(format!("{}: {} {} ({})", pack.name, b.kind, b.name, b.at));
            }
        }
        for w in &pack.waivers {
            if !waivers_applied.contains(&w.name.as_str()) {
                report
                    .unexercised
                    .push(format!("{}: waiver {} ({})", pack.name, w.name, w.at));
            }
        }
    }
    report
}

/// The expectations beyond which blocks match: inconclusive and waived
/// blocks, blocking, and what matches carry (effects, `because`).
fn check_outcomes(t: &CTest, d: &Decision, failures: &mut Vec<String>) {
    if let Some(expect) = &t.expect_inconclusive {
        for e in expect {
            if !d.inconclusive.contains(e) {
                failures.push(format!(
                    "expected `{e}` to be inconclusive, but {}",
                    outcome(d, e)
                ));
            }
        }
        for g in &d.inconclusive {
            if !expect.contains(g) {
                failures.push(format!(
                    "`{g}` was inconclusive, but the test does not expect it"
                ));
            }
        }
    }
    if let Some(expect) = &t.expect_waived {
        for e in expect {
            if !d.waived.iter().any(|m| &m.block == e) {
                failures.push(format!(
                    "expected `{e}` to be waived, but {}",
                    outcome(d, e)
                ));
            }
        }
        for g in &d.waived {
            if !expect.contains(&g.block) {
                failures.push(format!(
                    "`{}` {}, but the test does not expect it",
                    g.block,
                    waived_by(g)
                ));
            }
        }
    }
    if let Some(want) = t.expect_blocking {
        if want != d.blocking {
            let matched: Vec<String> = d
                .matched
                .iter()
                .map(|m| match (&m.enforcement, m.dry_run) {
                    (Some(e), false) => format!("`{}` {e}", m.block),
                    (Some(e), true) => format!("`{}` {e}, dry_run", m.block),
                    (None, _) => format!("`{}`", m.block),
                })
                .collect();
            let matched = if matched.is_empty() {
                "none".to_string()
            } else {
                matched.join(", ")
            };
            failures.push(if want {
                format!("expected the decision to block, but it does not (matched: {matched})")
            } else {
                format!("expected the decision not to block, but it blocks (matched: {matched})")
            });
        }
    }
    for (block, fields) in &t.expect_effects {
        let Some(m) = match_of(d, block) else {
            failures.push(format!(
                "expected `{block}` to match with effects, but {}",
                outcome(d, block)
            ));
            continue;
        };
        for (field, want) in fields {
            let want = want.to_json();
            match m.effects.get(field) {
                None => failures.push(format!(
                    "`{block}` carries no effect `{field}` (its effects: {})",
                    if m.effects.is_empty() {
                        "none".to_string()
                    } else {
                        m.effects.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                )),
                Some(got) if !same_json(&want, got) => failures.push(format!(
                    "expected effect `{field}` of `{block}` to be {want}, got {got}"
                )),
                Some(_) => {}
            }
        }
    }
    for (block, want) in &t.expect_because {
        let Some(m) = match_of(d, block) else {
            failures.push(format!(
                "expected `{block}` to match with a `because`, but {}",
                outcome(d, block)
            ));
            continue;
        };
        let Some(got) = &m.because else {
            failures.push(format!(
                "expected a `because` from `{block}`, but it has none"
            ));
            continue;
        };
        let shown = serde_json::Value::from(got.as_str());
        match want {
            Value::Regex(re) if !re.is_match(got) => {
                failures.push(format!("`because` of `{block}` does not match {want}"));
                failures.push(format!("  got: {shown}"));
            }
            Value::Str(s) if s.as_ref() != got => {
                failures.push(format!("`because` of `{block}` is not the expected text"));
                failures.push(format!(
                    "  expected: {}",
                    serde_json::Value::from(s.as_ref())
                ));
                failures.push(format!("  got:      {shown}"));
            }
            _ => {}
        }
    }
}

/// A match or a waived match of a block.
fn match_of<'d>(d: &'d Decision, block: &str) -> Option<&'d Match> {
    d.matched
        .iter()
        .chain(d.waived.iter())
        .find(|m| m.block == block)
}

fn waived_by(m: &Match) -> String {
    match &m.waived_by {
        Some(w) => format!("was waived by `{}`", w.waiver),
        None => "was waived".into(),
    }
}

/// What a decision did with a block, to finish a failure message.
fn outcome(d: &Decision, block: &str) -> String {
    if d.matched.iter().any(|m| m.block == block) {
        "it matched".into()
    } else if let Some(m) = d.waived.iter().find(|m| m.block == block) {
        format!("it {}", waived_by(m))
    } else if d.inconclusive.iter().any(|b| b == block) {
        "it was inconclusive".into()
    } else if let Some(e) = d.errors.iter().find(|e| e.block == block) {
        format!("it failed: {}", e.message)
    } else {
        "it did not match".into()
    }
}

/// JSON equality where numbers compare by value (`2` is `2.0`).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
