//! `tenet test` coverage: which blocks count as exercised, and `expect_not`.

use crate::common::load_one;
use tenet_runtime::load::{load_files, LoadError, RuleFile};
use tenet_runtime::testing::run_tests;

const PACK: &str = r#"tenet 1
pack cov version "1.0.0"

taxonomy risk {
  levels [high, low]
}

rule hit {
  when input.x > 1
  risk high
}

rule quiet {
  when input.y > 1
  risk low
}

rule untested {
  when input.z > 1
  risk low
}

profile p {
  factor f {
    source "s"
    weight 1
  }
}

waiver used {
  rules         ["hit"]
  when          input.waive == true
  owner         "o"
  justification "j"
  expires       "2099-01-01"
}

waiver unused {
  rules         ["untested"]
  owner         "o"
  justification "j"
  expires       "2099-01-01"
}

test matches {
  input  {x: 2}
  expect ["hit"]
}

test shows-quiet {
  input      {y: 0}
  expect     []
  expect_not ["quiet"]
}

test waived {
  input  {x: 2, waive: true}
  now    "2026-01-01"
  expect []
}
"#;

#[test]
fn a_block_is_exercised_when_a_test_expects_it_to_match_or_not_to_match() {
    let report = run_tests(&load_one(PACK));
    assert_eq!(report.failed(), 0, "{:?}", report.results);
    let listed: Vec<&str> = report
        .unexercised
        .iter()
        .map(|u| u.split(" (").next().unwrap())
        .collect();
    // `hit` matches in a test, `quiet` is named by `expect_not`, the waiver
    // `used` applies in a test; the taxonomy, the profile and the factor
    // without `when` are never decided, so they are not listed.
    assert_eq!(listed, ["cov: rule untested", "cov: waiver unused"]);
    assert!(
        report.unexercised[1].contains("case.tenet:"),
        "{:?}",
        report.unexercised
    );
}

#[test]
fn expect_not_fails_a_test_when_the_block_matches() {
    let pack =
        format!("{PACK}\ntest wrong {{\n  input      {{x: 2}}\n  expect_not [\"hit\"]\n}}\n");
    let report = run_tests(&load_one(&pack));
    let wrong = report.results.iter().find(|r| r.name == "wrong").unwrap();
    assert!(!wrong.passed);
    assert_eq!(
        wrong.failures,
        ["`hit` matched, but the test expects it not to"]
    );
}

#[test]
fn expect_not_names_must_be_blocks_of_the_pack() {
    let pack =
        format!("{PACK}\ntest typo {{\n  input      {{y: 0}}\n  expect_not [\"quite\"]\n}}\n");
    let Err(LoadError::Rules { diags, sources }) = load_files(
        vec![RuleFile {
            path: "case.tenet".into(),
            text: pack,
        }],
        "",
    ) else {
        panic!("expected a rule error")
    };
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code.as_str(), "tenet::unresolved-name");
    assert!(diags[0].message.contains("`quite`"), "{}", diags[0].message);
    assert!(
        diags[0].location(&sources).starts_with("case.tenet:"),
        "{}",
        diags[0].location(&sources)
    );
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `quiet`?"));
}
