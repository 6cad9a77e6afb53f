//! The compiled evaluator is an optimisation of the reference interpreter:
//! on generated expressions and inputs they must give the same decision
//! (same values, same errors, same missing-data outcomes). This file
//! varies one expression in a fixed pack; [`packs`] generates whole packs
//! (kinds, constants, imports, waivers) and inputs.

mod packs;

use crate::common::decide_both;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use tenet_runtime::dsl::Value;
use tenet_runtime::load::{load_files, RuleFile};

/// The config of every property test here: the same cases on every run (a
/// fixed seed; `PROPTEST_RNG_SEED=<u64>` explores others), a failure's seed
/// saved in a `.proptest-regressions` file beside the test and replayed
/// first. Commit that file, and add the case to `fixtures/eval`. See
/// `docs/decisions.md` (23).
pub(crate) fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x7e4e7),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn leaf(bound: bool) -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = vec![
        prop_oneof![
            Just("input.a".to_string()),
            Just("input.b.c".to_string()),
            Just("input.s".to_string()),
            Just("input.xs".to_string()),
            Just("input.missing".to_string()),
            Just("input.b".to_string()),
        ]
        .boxed(),
        (-5i64..50).prop_map(|n| n.to_string()).boxed(),
        prop_oneof![Just("1.5"), Just("0.0"), Just("2.25")]
            .prop_map(String::from)
            .boxed(),
        prop_oneof![
            Just("\"a\""),
            Just("\"abc\""),
            Just("\"\""),
            Just("\"x{input.a}\"")
        ]
        .prop_map(String::from)
        .boxed(),
        prop_oneof![Just("true"), Just("false")]
            .prop_map(String::from)
            .boxed(),
        prop_oneof![
            Just("30m"),
            Just("90s"),
            Just("5%"),
            Just("10MB"),
            Just("1.2.3")
        ]
        .prop_map(String::from)
        .boxed(),
        prop_oneof![Just("[1, 2, 3]"), Just("[]"), Just("{k: 1}")]
            .prop_map(String::from)
            .boxed(),
    ];
    if bound {
        options.push(prop_oneof![Just("x".to_string()), Just("x.size".to_string())].boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

fn expr(depth: u32, bound: bool) -> BoxedStrategy<String> {
    if depth == 0 {
        return leaf(bound);
    }
    let sub = move || expr(depth - 1, bound);
    let ops = prop_oneof![
        Just("and"),
        Just("or"),
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">="),
        Just("in"),
        Just("not in"),
        Just("+"),
        Just("-"),
        Just("*"),
        Just("/"),
        Just("matches")
    ];
    prop_oneof![
        3 => leaf(bound),
        4 => (sub(), ops, sub()).prop_map(|(a, op, b)| if op == "matches" { format!("({a} matches \"a.*\")") } else { format!("({a} {op} {b})") }),
        1 => sub().prop_map(|a| format!("not {a}")),
        1 => sub().prop_map(|a| format!("-{a}")),
        1 => (sub(), sub(), sub()).prop_map(|(c, t, e)| format!("(if {c} then {t} else {e})")),
        1 => (prop_oneof![Just("any"), Just("all"), Just("count")], expr(depth - 1, true))
            .prop_map(|(q, p)| format!("{q}(x in input.xs: {p})")),
        1 => (prop_oneof![Just("len"), Just("lower"), Just("has"), Just("abs"), Just("sum"), Just("string")], sub())
            .prop_map(|(f, a)| format!("{f}({a})")),
        1 => (sub(), sub()).prop_map(|(a, b)| format!("default({a}, {b})")),
        1 => (sub(), sub()).prop_map(|(a, b)| format!("{a}[{b}]")),
    ]
    .boxed()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (-3i64..40).prop_map(serde_json::Value::from),
        prop_oneof![Just("a"), Just("abc"), Just("30m"), Just("1.2.3"), Just("")]
            .prop_map(serde_json::Value::from),
        (0.0f64..10.0).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            (inner.clone(), inner).prop_map(|(a, b)| serde_json::json!({"c": a, "size": b})),
        ]
    })
}

fn input() -> impl Strategy<Value = serde_json::Value> {
    (
        json_value(),
        json_value(),
        json_value(),
        prop::collection::vec(json_value(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(a, c, s, xs, drop)| {
            let mut m = serde_json::json!({"a": a, "b": {"c": c}, "s": s, "xs": xs});
            if drop {
                m.as_object_mut().map(|o| o.remove("a"));
            }
            m
        })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn compiled_and_reference_agree(e in expr(3, false), i in input()) {
        let src = format!("tenet 1\npack t version \"1.0.0\"\nrule r {{\n  when {e} or true\n  emit {e}\n}}\nrule q {{\n  when {e}\n  on_no_data inconclusive\n}}\n");
        // Some generated expressions are rejected by the checker (for
        // example a constant `"a" - 1`); agreement is about the others.
        let Ok(rules) = load_files(vec![RuleFile { path: "g.tenet".into(), text: src }], "") else { return Ok(()) };
        let input = Value::from_json(&i);
        decide_both(&rules, &input, None);
    }
}

#[test]
fn the_generator_produces_checkable_expressions() {
    // Guard against a generator that only produces rejected packs (which would make the property vacuous).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..200 {
        let e = expr(3, false).new_tree(&mut runner).unwrap().current();
        let src =
            format!("tenet 1\npack t version \"1.0.0\"\nrule r {{\n  when true\n  emit {e}\n}}\n");
        if load_files(
            vec![RuleFile {
                path: "g.tenet".into(),
                text: src,
            }],
            "",
        )
        .is_ok()
        {
            ok += 1;
        }
    }
    assert!(ok > 120, "only {ok} of 200 generated expressions checked");
}
