//! `tenet test`: run the `test` blocks of every pack.
//!
//! A test gives input facts and the decision it expects: exactly which
//! blocks match (`expect`), the highest risk (`expect_risk`) and the number
//! of evaluation errors (`expect_errors`). Each test is decided twice — by
//! the compiled evaluator and by the reference interpreter — and a
//! disagreement fails the test. `expect_not` names blocks that must not
//! match (a test that shows a rule quiet).
//!
//! Coverage: a block with a condition is exercised when some test expects it
//! to match (names it in `expect`, or it matches in the test's decision) or
//! asserts it does not match (names it in `expect_not`). A waiver is
//! exercised when some test's decision applies it. Every other block with a
//! condition, and every waiver, is listed as unexercised. Blocks that are
//! never decided — kinds without a condition (`taxonomy`, `profile`,
//! `rollout`, `window`...) and blocks that leave their optional condition
//! out (a `factor` without `when`) — cannot match, so no test can exercise
//! them, and they are not listed.

use crate::decision::{decide, decide_with, DecideOptions};
use crate::load::Rules;
use crate::reference::RefEvaluator;
use serde::Serialize;

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
