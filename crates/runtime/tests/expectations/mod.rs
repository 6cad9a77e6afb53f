//! What a rule test can expect beyond the names that match: inconclusive
//! and waived blocks, blocking, effects and `because`. Each expectation is
//! shown to pass when the decision meets it and to fail, with its message,
//! when it does not.

use crate::common::load_one;
use tenet_runtime::load::{load_files, LoadError, RuleFile};
use tenet_runtime::testing::run_tests;

const PACK: &str = r#"tenet 1
pack exp version "1.0.0"

taxonomy risk {
  levels [high, low]
}

action purge {
  match     action.verb == "purge" and action.rows > 100
  risk      high
  require   [dual_control]
  hold      30m
  approvals 2
  because   "purging {action.rows} rows of {action.tenant}"
}

action archive {
  match       action.verb == "archive"
  risk        low
  enforcement advisory
}

rule slow {
  when       input.latency > 100
  on_no_data inconclusive
  risk       low
  because    "latency {input.latency}"
}

waiver ops-purge {
  rules         ["purge"]
  when          actor.id == "ops"
  owner         "o"
  justification "j"
  expires       "2099-01-01"
}

test everything-holds {
  input               {action: {verb: "purge", rows: 500, tenant: "acme"}, latency: 3}
  expect              ["purge"]
  expect_inconclusive []
  expect_waived       []
  expect_blocking     true
  expect_effects      {purge: {hold: 30m, approvals: 2.0, require: ["dual_control"]}}
  expect_because      {purge: "purging 500 rows of acme"}
}

test inconclusive-and-waived {
  input               {action: {verb: "purge", rows: 500, tenant: "acme"}, actor: {id: "ops"}}
  now                 "2026-01-01"
  expect              []
  expect_inconclusive ["slow"]
  expect_waived       ["purge"]
  expect_blocking     false
  expect_effects      {purge: {hold: 30m}}
  expect_because      {purge: /^purging 500 rows/}
}

test advisory-does-not-block {
  input           {action: {verb: "archive", rows: 0}, latency: 3}
  expect          ["archive"]
  expect_blocking false
}
"#;

/// The failures of one more test, `t`, added to the pack; it must fail.
fn failures_of(test: &str) -> Vec<String> {
    let report = run_tests(&load_one(&format!("{PACK}\ntest t {{\n{test}\n}}\n")));
    let others: Vec<_> = report.results.iter().filter(|r| r.name != "t").collect();
    assert!(others.iter().all(|r| r.passed), "{others:?}");
    let t = report.results.iter().find(|r| r.name == "t").unwrap();
    assert!(!t.passed, "the test was expected to fail");
    t.failures.clone()
}

/// The diagnostics of a pack with one more test that does not check.
fn diagnostics_of(test: &str) -> Vec<(String, String, Option<String>)> {
    let Err(LoadError::Rules { diags, .. }) = load_files(
        vec![RuleFile {
            path: "case.tenet".into(),
            text: format!("{PACK}\ntest t {{\n{test}\n}}\n"),
        }],
        "",
    ) else {
        panic!("expected a rule error")
    };
    diags
        .iter()
        .map(|d| {
            (
                d.code.as_str().to_string(),
                d.message.clone(),
                d.help.clone(),
            )
        })
        .collect()
}

const PURGE: &str = r#"{action: {verb: "purge", rows: 500, tenant: "acme"}, latency: 3}"#;
const NO_LATENCY: &str = r#"{action: {verb: "read", rows: 0}}"#;
const QUIET: &str = r#"{action: {verb: "read", rows: 0}, latency: 3}"#;
const ARCHIVE: &str = r#"{action: {verb: "archive", rows: 0}, latency: 3}"#;

#[test]
fn every_expectation_passes_when_the_decision_meets_it() {
    let report = run_tests(&load_one(PACK));
    assert_eq!(report.failed(), 0, "{:?}", report.results);
    assert_eq!(report.passed(), 3);
    assert!(report.unexercised.is_empty(), "{:?}", report.unexercised);
}

#[test]
fn expect_inconclusive_tells_inconclusive_from_did_not_apply() {
    // `expect []` passes for both; `expect_inconclusive` does not.
    assert_eq!(
        failures_of(&format!(
            "  input {NO_LATENCY}\n  expect []\n  expect_inconclusive []"
        )),
        ["`slow` was inconclusive, but the test does not expect it"]
    );
    assert_eq!(
        failures_of(&format!(
            "  input {QUIET}\n  expect []\n  expect_inconclusive [\"slow\"]"
        )),
        ["expected `slow` to be inconclusive, but it did not match"]
    );
    assert_eq!(
        failures_of(
            "  input {action: {verb: \"read\", rows: 0}, latency: 300}\n  expect_inconclusive [\"slow\"]"
        ),
        ["expected `slow` to be inconclusive, but it matched"]
    );
}

#[test]
fn a_block_expected_inconclusive_is_exercised() {
    let pack = r#"tenet 1
pack cov version "1.0.0"

rule slow {
  when       input.latency > 100
  on_no_data inconclusive
}

test no-data {
  input               {latency_ms: 3}
  expect_inconclusive ["slow"]
}
"#;
    let report = run_tests(&load_one(pack));
    assert_eq!(report.failed(), 0, "{:?}", report.results);
    assert!(report.unexercised.is_empty(), "{:?}", report.unexercised);
}

#[test]
fn expect_waived_tells_waived_from_quiet() {
    let waived =
        r#"{action: {verb: "purge", rows: 500, tenant: "acme"}, actor: {id: "ops"}, latency: 3}"#;
    assert_eq!(
        failures_of(&format!(
            "  input {waived}\n  now \"2026-01-01\"\n  expect []\n  expect_waived []"
        )),
        ["`purge` was waived by `ops-purge`, but the test does not expect it"]
    );
    // Past its expiry the waiver no longer applies.
    assert_eq!(
        failures_of(&format!(
            "  input {waived}\n  now \"2099-01-01\"\n  expect [\"purge\"]\n  expect_waived [\"purge\"]"
        )),
        ["expected `purge` to be waived, but it matched"]
    );
    assert_eq!(
        failures_of(&format!("  input {QUIET}\n  expect_waived [\"purge\"]")),
        ["expected `purge` to be waived, but it did not match"]
    );
}

#[test]
fn expect_blocking_fails_either_way_and_names_the_matches() {
    assert_eq!(
        failures_of(&format!("  input {PURGE}\n  expect_blocking false")),
        ["expected the decision not to block, but it blocks (matched: `purge` hard_mandatory)"]
    );
    assert_eq!(
        failures_of(&format!("  input {ARCHIVE}\n  expect_blocking true")),
        ["expected the decision to block, but it does not (matched: `archive` advisory)"]
    );
    assert_eq!(
        failures_of(&format!("  input {QUIET}\n  expect_blocking true")),
        ["expected the decision to block, but it does not (matched: none)"]
    );
}

#[test]
fn expect_effects_compares_the_fields_it_names() {
    assert_eq!(
        failures_of(&format!(
            "  input {PURGE}\n  expect_effects {{purge: {{hold: 1h, approvals: 2, require: [\"dual_control\", \"ticket\"]}}}}"
        )),
        [
            "expected effect `hold` of `purge` to be \"1h\", got \"30m\"",
            "expected effect `require` of `purge` to be [\"dual_control\",\"ticket\"], got [\"dual_control\"]",
        ]
    );
    assert_eq!(
        failures_of(&format!("  input {PURGE}\n  expect_effects {{purge: {{holds: 30m}}}}")),
        ["`purge` carries no effect `holds` (its effects: approvals, hold, max_uses, on_dependency_unavailable, require)"]
    );
    assert_eq!(
        failures_of(&format!(
            "  input {NO_LATENCY}\n  expect_effects {{purge: {{hold: 30m}}}}"
        )),
        ["expected `purge` to match with effects, but it did not match"]
    );
}

#[test]
fn expect_because_is_the_exact_text_or_a_regex_that_matches_in_it() {
    assert_eq!(
        failures_of(&format!(
            "  input {PURGE}\n  expect_because {{purge: \"purging 500 rows\"}}"
        )),
        [
            "`because` of `purge` is not the expected text",
            "  expected: \"purging 500 rows\"",
            "  got:      \"purging 500 rows of acme\"",
        ]
    );
    assert_eq!(
        failures_of(&format!(
            "  input {PURGE}\n  expect_because {{purge: /of globex$/}}"
        )),
        [
            "`because` of `purge` does not match /of globex$/",
            "  got: \"purging 500 rows of acme\"",
        ]
    );
    assert_eq!(
        failures_of(&format!(
            "  input {ARCHIVE}\n  expect_because {{archive: \"archived\"}}"
        )),
        ["expected a `because` from `archive`, but it has none"]
    );
    assert_eq!(
        failures_of(&format!(
            "  input {NO_LATENCY}\n  expect_because {{slow: \"latency 3\"}}"
        )),
        ["expected `slow` to match with a `because`, but it was inconclusive"]
    );
}

#[test]
fn new_expectations_name_blocks_of_the_pack() {
    for test in [
        "  input {x: 0}\n  expect_inconclusive [\"slwo\"]",
        "  input {x: 0}\n  expect_waived [\"slwo\"]",
        "  input {x: 0}\n  expect_effects {slwo: {hold: 30m}}",
        "  input {x: 0}\n  expect_because {\"slwo\": \"x\"}",
    ] {
        let diags = diagnostics_of(test);
        assert_eq!(diags.len(), 1, "{test}: {diags:?}");
        let (code, message, help) = &diags[0];
        assert_eq!(code, "tenet::unresolved-name", "{test}");
        assert_eq!(message, "no block named `slwo` in pack `exp`", "{test}");
        assert_eq!(help.as_deref(), Some("did you mean `slow`?"), "{test}");
    }
}

#[test]
fn expect_effects_and_expect_because_have_checked_shapes() {
    assert_eq!(
        diagnostics_of("  input {x: 0}\n  expect_effects [\"purge\"]"),
        [(
            "tenet::type-mismatch".to_string(),
            "`expect_effects` must be a map from block names to a map of effect fields, found list"
                .to_string(),
            Some("write `{\"block-name\": {field: value}}`".to_string()),
        )]
    );
    assert_eq!(
        diagnostics_of("  input {x: 0}\n  expect_effects {purge: 30m}"),
        [(
            "tenet::type-mismatch".to_string(),
            "`expect_effects` of `purge` must be a map of effect fields, found duration"
                .to_string(),
            Some("write `{\"block-name\": {field: value}}`".to_string()),
        )]
    );
    let diags = diagnostics_of("  input {x: 0}\n  expect_because {purge: 3}");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].0, "tenet::type-mismatch");
    assert_eq!(
        diags[0].1,
        "`expect_because` of `purge` must be a string or a regex, found integer"
    );
}
