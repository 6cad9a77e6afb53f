//! Language tests that need no runtime: the parser never panics, `fmt` is
//! canonical, idempotent and keeps comments.

// Tests and benches may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tenet_dsl::{fmt, syntax, FileId};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn format_text(text: &str) -> String {
    let pack = syntax::parse_with_comments(FileId(0), text)
        .unwrap_or_else(|d| panic!("parse failed: {}", d[0].message));
    fmt::format(&pack, text)
}

#[test]
fn fmt_lays_out_a_messy_pack_canonically() {
    let text = std::fs::read_to_string(root().join("fixtures/fmt/messy.tenet")).unwrap();
    let once = format_text(&text);
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots/fmt"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!("messy", once));
    assert_eq!(format_text(&once), once, "fmt is not idempotent");
    for c in [
        "trailing comment on the header",
        "leading comment for imports",
        "after the brace",
        "# why",
        "at the end of the block",
        "# the end",
    ] {
        assert!(once.contains(c), "lost comment `{c}`");
    }
}

#[test]
fn every_bundled_pack_is_formatted() {
    let mut stack = vec![root().join("rules")];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tenet") {
                let text = std::fs::read_to_string(&p).unwrap();
                assert_eq!(
                    format_text(&text),
                    text,
                    "{} is not formatted; run `tenet fmt`",
                    p.display()
                );
                n += 1;
            }
        }
    }
    assert!(n >= 1);
}

#[test]
fn formatting_keeps_the_meaning() {
    let text = std::fs::read_to_string(root().join("fixtures/fmt/messy.tenet")).unwrap();
    let a = syntax::parse_with_comments(FileId(0), &text).unwrap();
    let out = format_text(&text);
    let b = syntax::parse_with_comments(FileId(0), &out).unwrap();
    let exprs = |p: &tenet_dsl::ast::Pack| -> Vec<String> {
        let mut v = Vec::new();
        fn walk(b: &tenet_dsl::ast::Block, v: &mut Vec<String>) {
            for e in &b.entries {
                match e {
                    tenet_dsl::ast::Entry::Attr(a) => {
                        v.push(format!("{}={}", a.key.name, fmt::expr_to_string(&a.value)))
                    }
                    tenet_dsl::ast::Entry::Block(c) => walk(c, v),
                }
            }
        }
        for i in &p.items {
            if let tenet_dsl::ast::Item::Block(b) = i {
                walk(b, &mut v);
            }
        }
        v
    };
    assert_eq!(exprs(&a), exprs(&b));
}

#[test]
fn literals_decode() {
    use tenet_dsl::ast::{ExprKind, Lit};
    let lit = |s: &str| match syntax::parse_expr(FileId(0), s).unwrap().kind {
        ExprKind::Lit(l) => l,
        other => panic!("{s}: {other:?}"),
    };
    assert!(matches!(lit("1h30m"), Lit::Duration { ms: 5_400_000, .. }));
    assert!(matches!(lit("500ms"), Lit::Duration { ms: 500, .. }));
    assert!(matches!(
        lit("2w"),
        Lit::Duration {
            ms: 1_209_600_000,
            ..
        }
    ));
    assert!(matches!(
        lit("10MB"),
        Lit::Size {
            bytes: 10_000_000,
            ..
        }
    ));
    assert!(matches!(lit("1KiB"), Lit::Size { bytes: 1024, .. }));
    assert!(matches!(lit("12.5%"), Lit::Percent { value, .. } if value == 12.5));
    assert!(matches!(lit("10_000"), Lit::Int { value: 10_000, .. }));
    assert!(matches!(lit("1.2.3-rc.1"), Lit::Semver(ref s) if s == "1.2.3-rc.1"));
    assert!(matches!(lit("2.5e3"), Lit::Float { value, .. } if value == 2500.0));
    assert!(matches!(lit(r"/a\/b/"), Lit::Regex(ref r) if r == "a/b"));
}

#[test]
fn string_escapes_and_interpolation_round_trip() {
    let text = "tenet 1\npack p version \"1.0.0\"\n\nrule r {\n  when    true\n  because \"quote \\\" brace \\{ tab \\t {input.x} done\"\n}\n";
    assert_eq!(format_text(text), text);
}

#[test]
fn deep_nesting_and_long_chains_are_refused_not_crashed() {
    let deep = format!(
        "tenet 1\npack p version \"1.0.0\"\nconst c = {}1{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let err = syntax::parse(FileId(0), &deep).unwrap_err();
    assert!(
        err[0].message.contains("nesting deeper than 64"),
        "{}",
        err[0].message
    );
    let long = format!(
        "tenet 1\npack p version \"1.0.0\"\nconst c = 1{}\n",
        " + 1".repeat(100_000)
    );
    let err = syntax::parse(FileId(0), &long).unwrap_err();
    assert!(
        err[0].message.contains("more than 1024 operators"),
        "{}",
        err[0].message
    );
    let lists = format!(
        "tenet 1\npack p version \"1.0.0\"\nconst c = {}{}\n",
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(syntax::parse(FileId(0), &lists).is_err());
    let ok = format!(
        "tenet 1\npack p version \"1.0.0\"\nconst c = {}1{}\n",
        "(".repeat(60),
        ")".repeat(60)
    );
    assert!(syntax::parse(FileId(0), &ok).is_ok());
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,6}".prop_filter("not a keyword", |s| {
        ![
            "and", "or", "not", "in", "matches", "if", "then", "else", "true", "false", "null",
            "any", "all", "count",
        ]
        .contains(&s.as_str())
    })
}

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0i64..100_000).prop_map(|n| n.to_string()),
        Just("30m".to_string()),
        Just("5%".to_string()),
        Just("10MB".to_string()),
        Just("1.2.3".to_string()),
        "[a-z ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        ident().prop_map(|i| format!("input.{i}")),
        Just("/^a+$/".to_string()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop_oneof![Just("and"), Just("=="), Just("+"), Just("in"), Just("<")],
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            (ident(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            inner.clone().prop_map(|v| format!("({v})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("if {a} then {b} else {a}")),
        ]
    })
}

fn block(depth: u32) -> BoxedStrategy<String> {
    let attrs = prop::collection::vec((ident(), value(), any::<bool>(), any::<bool>()), 0..4);
    let children = if depth == 0 {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(block(depth - 1), 0..2).boxed()
    };
    (ident(), prop::option::of(ident()), attrs, children)
        .prop_map(|(kind, name, attrs, children)| {
            let mut s = format!("{kind} {} {{\n", name.unwrap_or_default());
            for (k, v, comment, blank) in attrs {
                if blank {
                    s.push('\n');
                }
                if comment {
                    s.push_str("# note\n");
                }
                s.push_str(&format!("  {k}   {v}\n"));
            }
            for c in children {
                s.push_str(&c);
            }
            s.push_str("}\n");
            s
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics(s in "\\PC{0,200}") {
        let _ = syntax::parse_with_comments(FileId(0), &s);
        let _ = syntax::parse_with_comments(FileId(0), &format!("tenet 1\npack p version \"1.0.0\"\n{s}"));
    }

    #[test]
    fn the_parser_never_panics_on_near_miss_packs(blocks in prop::collection::vec(block(2), 0..3), cut in 0usize..400) {
        let text = format!("tenet 1\npack p version \"1.0.0\"\n{}", blocks.join("\n"));
        let cut = cut.min(text.len());
        let mut end = cut;
        while !text.is_char_boundary(end) { end -= 1; }
        let _ = syntax::parse_with_comments(FileId(0), &text[..end]);
    }

    #[test]
    fn fmt_is_idempotent_on_generated_packs(blocks in prop::collection::vec(block(2), 0..4)) {
        let text = format!("tenet 1\npack p version \"1.0.0\"\n# top\n{}", blocks.join("\n"));
        let pack = match syntax::parse_with_comments(FileId(0), &text) { Ok(p) => p, Err(d) => panic!("generated pack does not parse: {}\n{text}", d[0].message) };
        let once = fmt::format(&pack, &text);
        let pack2 = syntax::parse_with_comments(FileId(0), &once).unwrap_or_else(|d| panic!("formatted pack does not parse: {}\n{once}", d[0].message));
        let twice = fmt::format(&pack2, &once);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(text.matches("# note").count(), once.matches("# note").count());
    }
}
