//! rhai scorers: every failure is an error in the one decision.

use tenet_runtime::decision::{decide, DecideOptions};
use tenet_runtime::dsl::Value;
use tenet_runtime::load::{load_files, LoadError, RuleFile, Rules};

fn pack_with(script: &str, scorer_fields: &str, call: &str) -> Result<Rules, LoadError> {
    let pack = format!(
        "tenet 1\npack s version \"1.0.0\"\nscorer risk {{\n  script \"risk.rhai\"\n{scorer_fields}\n}}\nrule r {{\n  when true\n  emit {call}\n}}\n"
    );
    load_files(
        vec![
            RuleFile {
                path: "s.tenet".into(),
                text: pack,
            },
            RuleFile {
                path: "risk.rhai".into(),
                text: script.into(),
            },
        ],
        "",
    )
}

fn run(rules: &Rules, input: serde_json::Value) -> tenet_runtime::Decision {
    decide(
        &rules.packs[0],
        &Value::from_json(&input),
        rules.scorer_list(),
        &DecideOptions::default(),
    )
}

#[test]
fn a_scorer_computes_a_value() {
    let rules = pack_with(
        "fn score(rows) { if rows > 100 { 90 } else { 10 } }",
        "",
        "risk(input.rows)",
    )
    .unwrap();
    let d = run(&rules, serde_json::json!({"rows": 500}));
    assert_eq!(d.matched[0].effects["emit"], serde_json::json!(90));
    assert!(d.errors.is_empty());
}

#[test]
fn an_endless_loop_hits_the_operation_limit() {
    let rules = pack_with(
        "fn score() { loop { } }",
        "  max_operations 5_000",
        "risk()",
    )
    .unwrap();
    let d = run(&rules, serde_json::json!({}));
    assert!(d.matched.is_empty());
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0].message.contains("scorer `risk` failed"),
        "{}",
        d.errors[0].message
    );
    assert!(
        d.errors[0].message.contains("5000 operations"),
        "{}",
        d.errors[0].message
    );
}

#[test]
fn a_slow_script_hits_the_time_limit() {
    let rules = pack_with(
        "fn score() { let x = 0; loop { x += 1; } }",
        "  max_operations 1_000_000_000\n  timeout 20ms",
        "risk()",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let d = run(&rules, serde_json::json!({}));
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0].message.contains("time limit"),
        "{}",
        d.errors[0].message
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn deep_recursion_hits_the_call_depth_limit() {
    let rules = pack_with(
        "fn score(n) { score(n + 1) }",
        "  max_call_depth 16",
        "risk(0)",
    )
    .unwrap();
    let d = run(&rules, serde_json::json!({}));
    assert_eq!(d.errors.len(), 1);
    assert!(d.errors[0].message.contains("scorer `risk` failed"));
}

#[test]
fn a_huge_string_hits_the_size_limit() {
    let rules = pack_with(
        "fn score() { let s = \"x\"; loop { s += s; } }",
        "  max_string_size 1KiB",
        "risk()",
    )
    .unwrap();
    let d = run(&rules, serde_json::json!({}));
    assert_eq!(d.errors.len(), 1, "{:?}", d);
}

#[test]
fn a_thrown_error_is_a_decision_error_and_other_rules_still_decide() {
    let pack = "tenet 1\npack s version \"1.0.0\"\nscorer risk { script \"risk.rhai\" }\nrule bad { when risk() > 1 }\nrule good { when input.ok == true }\n";
    let rules = load_files(
        vec![
            RuleFile {
                path: "s.tenet".into(),
                text: pack.into(),
            },
            RuleFile {
                path: "risk.rhai".into(),
                text: "fn score() { throw \"no data\"; }".into(),
            },
        ],
        "",
    )
    .unwrap();
    let d = run(&rules, serde_json::json!({"ok": true}));
    assert_eq!(
        d.matched
            .iter()
            .map(|m| m.block.as_str())
            .collect::<Vec<_>>(),
        ["good"]
    );
    assert_eq!(d.errors.len(), 1);
    assert!(d.errors[0].message.contains("no data"));
}

#[test]
fn a_script_cannot_eval_code() {
    let err = pack_with("fn score() { eval(\"1\") }", "", "risk()");
    // `eval` is disabled: the script either fails to compile or fails to run.
    match err {
        Err(_) => {}
        Ok(rules) => assert_eq!(run(&rules, serde_json::json!({})).errors.len(), 1),
    }
}

#[test]
fn a_missing_script_or_function_is_a_rule_error_with_a_location() {
    let pack = "tenet 1\npack s version \"1.0.0\"\nscorer risk {\n  script \"nope.rhai\"\n}\n";
    let Err(LoadError::Rules { diags, sources }) = load_files(
        vec![RuleFile {
            path: "s.tenet".into(),
            text: pack.into(),
        }],
        "",
    ) else {
        panic!("expected a rule error")
    };
    assert_eq!(diags[0].location(&sources), "s.tenet:4:10");
    assert!(diags[0].message.contains("`nope.rhai` not found"));
    let Err(LoadError::Rules { diags, .. }) = pack_with("fn other() { 1 }", "", "risk()") else {
        panic!("expected a rule error")
    };
    assert!(
        diags[0].message.contains("defines no function `score`"),
        "{}",
        diags[0].message
    );
    let Err(LoadError::Rules { diags, .. }) = pack_with("fn score( { ", "", "risk()") else {
        panic!("expected a rule error")
    };
    assert!(
        diags[0].message.contains("does not compile"),
        "{}",
        diags[0].message
    );
}
