//! Agreement on generated packs: whole packs (several decided kinds,
//! constants, an imported pack read as `alias.name`, waivers with scopes and
//! expiry dates, every `on_no_data`) decided over generated JSON-like inputs
//! (missing fields, nulls, wrong types) by the compiled evaluator and by the
//! reference interpreter. The two decisions must be equal in full: matched
//! and waived blocks, risks, effects, `because` texts, inconclusive blocks
//! and errors.
//!
//! Expressions are generated with placeholders that are resolved when a
//! block is rendered: `$R0`, `$R1`, `$R2` are input roots of the block (by
//! position in its sorted root list, modulo its length) and `@A` is the
//! local name of the imported pack. So one expression generator serves
//! every kind, and waivers read the roots of the blocks they waive.
//!
//! `PROPTEST_CASES=N` runs more cases than the default 256, and
//! `PROPTEST_RNG_SEED=N` other cases than the fixed seed.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::fmt;
use tenet_runtime::decision::{decide, decide_with, DecideOptions, Decision};
use tenet_runtime::dsl::Value;
use tenet_runtime::load::{load_files, RuleFile, Rules};
use tenet_runtime::reference::RefEvaluator;

/// Quantifier variables in scope (bit 0: `x`, bit 1: `y`).
type Bound = u8;
const X: Bound = 1;
const Y: Bound = 2;

fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::sample::select(items)
        .prop_map(String::from)
        .boxed()
}

/// An input path under one of the block's roots.
fn path(tmpl: bool) -> BoxedStrategy<String> {
    let tails: &'static [&'static str] = if tmpl {
        &[
            "", ".a", ".b", ".b.c", ".b.c.d", ".s", ".xs", ".n", ".missing", ".xs[0]", ".xs[-1]",
        ]
    } else {
        &[
            "",
            ".a",
            ".b",
            ".b.c",
            ".b.c.d",
            ".s",
            ".xs",
            ".n",
            ".missing",
            ".xs[0]",
            ".xs[-1]",
            ".b[\"c\"]",
        ]
    };
    (pick(&["$R0", "$R1", "$R2"]), pick(tails))
        .prop_map(|(r, t)| format!("{r}{t}"))
        .boxed()
}

/// Bound variables and their fields.
fn var(bound: Bound) -> Option<BoxedStrategy<String>> {
    let mut v: Vec<&'static str> = Vec::new();
    if bound & X != 0 {
        v.extend(["x", "x.c", "x.size", "x.xs"]);
    }
    if bound & Y != 0 {
        v.extend(["y", "y.c", "y.size"]);
    }
    if v.is_empty() {
        None
    } else {
        Some(proptest::sample::select(v).prop_map(String::from).boxed())
    }
}

/// Leaves that read data: input, or a bound variable.
fn dyn_leaf(bound: Bound, tmpl: bool) -> BoxedStrategy<String> {
    match var(bound) {
        Some(v) => prop_oneof![3 => path(tmpl), 2 => v].boxed(),
        None => path(tmpl),
    }
}

/// Constants of the pack and of the imported pack.
fn const_ref() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&["n1", "f1", "s1", "l1", "d1", "p1", "z1", "m1", "m1.b.c", "nz", "e1", "e2", "pat"]),
        pick(&[
            "@A.limit",
            "@A.label",
            "@A.names",
            "@A.window",
            "@A.share",
            "@A.nothing",
            "@A.big",
            "@A.nested",
            "@A.nested.k.v",
        ]),
    ]
    .boxed()
}

fn literal(tmpl: bool) -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = vec![
        (-3i64..20).prop_map(|n| n.to_string()).boxed(),
        pick(&["0", "1", "9_223_372_036_854_775_807", "1.5", "0.0", "2.25"]),
        pick(&["true", "false"]),
        pick(&[
            "30m", "90s", "1h30m", "5%", "12.5%", "10MB", "64KiB", "1.2.3", "2.0.0",
        ]),
        pick(&["[1, 2, 3]", "[]", "[0, -1]"]),
    ];
    if !tmpl {
        options.push(pick(&["\"a\"", "\"abc\"", "\"\"", "\"30m\"", "\"1.2.3\""]));
        options.push(pick(&["[\"a\", \"abc\"]", "{k: 1}", "{c: \"a\", size: 2}"]));
        options.push(pick(&["\"x{$R0.a}\"", "\"{$R1.n} rows\""]));
    }
    proptest::strategy::Union::new(options).boxed()
}

fn leaf(bound: Bound, tmpl: bool) -> BoxedStrategy<String> {
    prop_oneof![
        4 => dyn_leaf(bound, tmpl),
        2 => const_ref(),
        2 => literal(tmpl),
    ]
    .boxed()
}

/// Lists to quantify over (and some non-lists: null, maps, strings).
fn list_expr(bound: Bound) -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<String>> = vec![
        pick(&["$R0.xs", "$R1.xs", "$R0.b", "$R2.missing", "$R0.s"]).boxed(),
        pick(&["l1", "@A.names", "[1, 2, 3]", "[]", "m1"]).boxed(),
    ];
    if bound & X != 0 {
        options.push(Just("x.xs".to_string()).boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

/// The variable a quantifier binds: `x` first, then `y`; sometimes one that
/// shadows an outer variable, a constant (`n1`), an input root (`tenant`)
/// or an import's local name (`lib`, `limits`).
fn bind(bound: Bound) -> BoxedStrategy<(&'static str, Bound)> {
    let shadow = proptest::sample::select(&["n1", "tenant", "lib", "limits"][..])
        .prop_map(move |v| (v, bound));
    if bound == 0 {
        prop_oneof![6 => Just(("x", X)), 1 => shadow].boxed()
    } else {
        prop_oneof![6 => Just(("y", bound | Y)), 2 => Just(("x", bound | X)), 1 => shadow].boxed()
    }
}

/// A value expression. Arithmetic always has an operand that reads data,
/// so the checker (which computes constant sub-expressions) rejects few packs.
fn val(depth: u32, bound: Bound, tmpl: bool) -> BoxedStrategy<String> {
    if depth == 0 {
        return leaf(bound, tmpl);
    }
    let sub = move || val(depth - 1, bound, tmpl);
    // Reads data, so never a constant sub-expression.
    let dynamic = move || {
        prop_oneof![
            3 => dyn_leaf(bound, tmpl),
            1 => (dyn_leaf(bound, tmpl), pick(&["+", "-", "*", "/"]), sub())
                .prop_map(|(d, op, o)| format!("({d} {op} {o})")),
        ]
    };
    let arith = (dynamic(), pick(&["+", "-", "*", "/"]), sub(), any::<bool>()).prop_map(
        |(d, op, o, flip)| {
            if flip {
                format!("({o} {op} {d})")
            } else {
                format!("({d} {op} {o})")
            }
        },
    );
    let call1 = (
        pick(&[
            "len", "lower", "abs", "sum", "string", "int", "max", "keys", "has",
        ]),
        sub(),
    )
        .prop_map(|(f, a)| format!("{f}({a})"));
    let call2 = (
        pick(&["default", "contains", "starts_with", "sc"]),
        sub(),
        sub(),
    )
        .prop_map(|(f, a, b)| format!("{f}({a}, {b})"));
    let count = bind(bound).prop_flat_map(move |(v, inner)| {
        (list_expr(bound), cond(depth - 1, inner, tmpl))
            .prop_map(move |(l, p)| format!("count({v} in {l}: {p})"))
    });
    prop_oneof![
        4 => leaf(bound, tmpl),
        4 => arith,
        1 => dynamic().prop_map(|a| format!("-{a}")),
        1 => (cond(depth - 1, bound, tmpl), sub(), sub())
            .prop_map(|(c, t, e)| format!("(if {c} then {t} else {e})")),
        1 => count,
        1 => call1,
        1 => call2,
        1 => (dynamic(), sub()).prop_map(|(a, b)| format!("{a}[{b}]")),
        1 => cond(depth - 1, bound, tmpl),
    ]
    .boxed()
}

/// A condition: mostly boolean, sometimes a value that is not (an
/// evaluation error).
fn cond(depth: u32, bound: Bound, tmpl: bool) -> BoxedStrategy<String> {
    let patterns: &'static [&'static str] = if tmpl {
        &["pat", "@A.label", "s1"]
    } else {
        &["\"a.*\"", "/^a/", "\"^[0-9]+$\"", "pat", "@A.label", "s1"]
    };
    let cmp = (
        val(depth.saturating_sub(1), bound, tmpl),
        pick(&["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
        val(depth.saturating_sub(1), bound, tmpl),
    )
        .prop_map(|(a, op, b)| format!("({a} {op} {b})"));
    let matches = (val(depth.saturating_sub(1), bound, tmpl), pick(patterns))
        .prop_map(|(a, p)| format!("({a} matches {p})"));
    let has = dyn_leaf(bound, tmpl).prop_map(|a| format!("has({a})"));
    if depth == 0 {
        return prop_oneof![
            4 => cmp,
            1 => matches,
            1 => has,
            1 => pick(&["true", "false"]),
            1 => dyn_leaf(bound, tmpl),
        ]
        .boxed();
    }
    let sub = move || cond(depth - 1, bound, tmpl);
    let quant = (pick(&["any", "all"]), bind(bound)).prop_flat_map(move |(q, (v, inner))| {
        (list_expr(bound), cond(depth - 1, inner, tmpl))
            .prop_map(move |(l, p)| format!("{q}({v} in {l}: {p})"))
    });
    prop_oneof![
        4 => cmp,
        1 => matches,
        1 => has,
        3 => (sub(), pick(&["and", "or"]), sub()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => sub().prop_map(|a| format!("not {a}")),
        1 => (sub(), sub(), sub()).prop_map(|(c, t, e)| format!("(if {c} then {t} else {e})")),
        2 => quant,
        1 => dyn_leaf(bound, tmpl),
    ]
    .boxed()
}

/// A `because` text with one or two `{expr}` parts.
fn because() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        1 => Just(None),
        2 => (val(1, 0, true), proptest::option::of(val(1, 0, true))).prop_map(|(a, b)| Some(match b {
            Some(b) => format!("\"saw {{{a}}} and {{{b}}}\""),
            None => format!("\"saw {{{a}}}\""),
        })),
    ]
    .boxed()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Rule,
    Action,
    Threshold,
    Watcher,
    Guard,
    Correlate,
    Masking,
    Profile,
    Baseline,
    Rollout,
}

const KINDS: &[Kind] = &[
    Kind::Rule,
    Kind::Rule,
    Kind::Action,
    Kind::Threshold,
    Kind::Watcher,
    Kind::Guard,
    Kind::Correlate,
    Kind::Masking,
    Kind::Profile,
    Kind::Baseline,
    Kind::Rollout,
];

#[derive(Debug, Clone)]
struct BlockSpec {
    kind: Kind,
    cond: String,
    cond2: String,
    value: String,
    value2: Option<String>,
    because: Option<String>,
    on_no_data: Option<&'static str>,
    enforcement: Option<&'static str>,
    dry_run: bool,
    level: usize,
    on: Option<&'static str>,
    scope: Option<String>,
    bound: String,
    above: bool,
}

fn block_spec() -> BoxedStrategy<BlockSpec> {
    // Some conditions end in `or true`, so that more blocks match and their
    // effects, `because` texts and waivers are compared too.
    let main_cond = prop_oneof![
        3 => cond(3, 0, false),
        1 => cond(2, 0, false).prop_map(|c| format!("{c} or true")),
    ];
    let conds = (
        main_cond,
        cond(2, 0, false),
        proptest::option::weighted(0.5, cond(1, 0, false)),
    );
    let values = (
        val(2, 0, false),
        proptest::option::of(val(1, 0, false)),
        because(),
    );
    let meta = (
        proptest::option::weighted(
            0.6,
            proptest::sample::select(&["ignore", "match", "inconclusive", "error"][..]),
        ),
        proptest::option::weighted(
            0.5,
            proptest::sample::select(&["advisory", "soft_mandatory", "hard_mandatory"][..]),
        ),
        proptest::bool::weighted(0.2),
        0usize..3,
        proptest::option::weighted(0.3, proptest::sample::select(&["change", "tenant"][..])),
    );
    let threshold = (
        pick(&[
            "n1", "@A.limit", "5", "0", "2.5", "5%", "p1", "30m", "d1", "1.2.3",
        ]),
        any::<bool>(),
    );
    (
        proptest::sample::select(KINDS),
        conds,
        values,
        meta,
        threshold,
    )
        .prop_map(
            |(
                kind,
                (cond, cond2, scope),
                (value, value2, because),
                (ond, enf, dry, level, on),
                (bound, above),
            )| {
                BlockSpec {
                    kind,
                    cond,
                    cond2,
                    value,
                    value2,
                    because,
                    on_no_data: ond,
                    enforcement: enf,
                    dry_run: dry,
                    level,
                    on,
                    scope,
                    bound,
                    above,
                }
            },
        )
        .boxed()
}

#[derive(Debug, Clone)]
struct WaiverSpec {
    targets: Vec<usize>,
    when: Option<String>,
    expires: &'static str,
}

fn waiver_spec() -> BoxedStrategy<WaiverSpec> {
    (
        prop::collection::vec(0usize..16, 1..3),
        proptest::option::weighted(0.5, cond(2, 0, false)),
        proptest::sample::select(&["2027-01-01", "2027-01-01", "2026-01-01", "2026-06-01"][..]),
    )
        .prop_map(|(targets, when, expires)| WaiverSpec {
            targets,
            when,
            expires,
        })
        .boxed()
}

/// Replace the placeholders of an expression for a block with these roots.
fn resolve(e: &str, roots: &[&str], alias: &str) -> String {
    let mut out = e.replace("@A", alias);
    for i in 0..3 {
        out = out.replace(&format!("$R{i}"), roots[i % roots.len()]);
    }
    out
}

fn sorted(mut roots: Vec<&'static str>) -> Vec<&'static str> {
    roots.push("input");
    roots.sort_unstable();
    roots.dedup();
    roots
}

/// The scorer every generated main pack declares (`sc(a, b)`): rhai
/// arithmetic, so type mismatches and overflow are scorer errors.
const SCORER: &str = "fn score(a, b) { if type_of(a) == \"()\" { b } else { a + b } }\n";

/// One generated case: the main pack (decided), the imported pack, the input.
#[derive(Clone)]
pub struct Case {
    main: String,
    lib: String,
    input: serde_json::Value,
    now: Option<String>,
    dry_run: bool,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- main.tenet ---\n{}--- lib.tenet ---\n{}--- sc.rhai ---\n{SCORER}--- input ---\n{}\n--- now: {:?}, dry_run: {} ---\n",
            self.main,
            self.lib,
            serde_json::to_string_pretty(&self.input).unwrap_or_default(),
            self.now,
            self.dry_run
        )
    }
}

fn level_name(taxonomy: usize, i: usize) -> &'static str {
    if taxonomy == 0 {
        ["critical", "high", "medium", "low", "info"][i % 5]
    } else {
        ["breaking", "behavioral", "cosmetic"][i % 3]
    }
}

fn render(
    taxonomy: usize,
    alias: &str,
    consts: &ConstSpec,
    blocks: &[BlockSpec],
    waivers: &[WaiverSpec],
) -> (String, String) {
    let mut lib = String::from("tenet 1\npack lib version \"1.0.0\"\n");
    if taxonomy == 1 {
        lib.push_str("taxonomy risk { levels [breaking, behavioral, cosmetic] }\n");
    }
    lib.push_str(&format!(
        "const limit = {}\nconst label = {}\nconst names = {}\nconst window = {}\nconst share = {}\nconst nothing = null\nconst big = 9_223_372_036_854_775_807\nconst nested = {{k: {{v: {}}}}}\n",
        consts.limit, consts.label, consts.names, consts.window, consts.share, consts.nested
    ));
    let mut m = String::from("tenet 1\npack m version \"1.0.0\"\n");
    if alias == "lib" {
        m.push_str("import lib\n");
    } else {
        m.push_str(&format!("import lib as {alias}\n"));
    }
    if taxonomy == 2 {
        m.push_str("taxonomy risk { levels [breaking, behavioral, cosmetic] }\n");
    }
    m.push_str("scorer sc { script \"sc.rhai\"  max_operations 1_000 }\n");
    m.push_str(&format!(
        "const n1 = {}\nconst f1 = {}\nconst s1 = {}\nconst l1 = {}\nconst d1 = {}\nconst p1 = {}\nconst z1 = {}\nconst m1 = {{a: {}, b: {{c: {}}}}}\nconst nz = null\nconst e1 = {alias}.limit - n1\nconst e2 = default({alias}.nothing, s1)\nconst pat = {}\n",
        consts.n1, consts.f1, consts.s1, consts.l1, consts.d1, consts.p1, consts.z1, consts.n1, consts.s1, consts.pat
    ));
    // Decided blocks: (name, roots) — waivers name them.
    let mut decided: Vec<(String, Vec<&'static str>, bool)> = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let level = level_name(taxonomy, b.level);
        let mut body = Vec::new();
        let meta = |body: &mut Vec<String>, enforcement: bool| {
            if let Some(o) = b.on_no_data {
                body.push(format!("on_no_data {o}"));
            }
            if enforcement {
                if let Some(e) = b.enforcement {
                    body.push(format!("enforcement {e}"));
                }
                if b.dry_run {
                    body.push("dry_run true".into());
                }
            }
        };
        let because = |body: &mut Vec<String>, roots: &[&str]| {
            if let Some(t) = &b.because {
                body.push(format!("because {}", resolve(t, roots, alias)));
            }
        };
        let (head, roots): (String, Vec<&'static str>) = match b.kind {
            Kind::Rule => {
                let name = format!("r{i}");
                let roots = sorted(b.on.into_iter().collect());
                if let Some(on) = b.on {
                    body.push(format!("on {on}"));
                }
                body.push(format!("when {}", resolve(&b.cond, &roots, alias)));
                if b.level != 2 {
                    body.push(format!("risk {level}"));
                }
                match &b.value2 {
                    Some(v2) => body.push(format!(
                        "emit {{v: {}, w: {}}}",
                        resolve(&b.value, &roots, alias),
                        resolve(v2, &roots, alias)
                    )),
                    None => body.push(format!("emit {}", resolve(&b.value, &roots, alias))),
                }
                because(&mut body, &roots);
                meta(&mut body, true);
                (format!("rule {name}"), roots)
            }
            Kind::Action => {
                let roots = sorted(vec!["action", "actor", "tenant", "context"]);
                body.push(format!("match {}", resolve(&b.cond, &roots, alias)));
                body.push(format!("risk {level}"));
                body.push(format!("score {}", resolve(&b.value, &roots, alias)));
                body.push("hold 30m".into());
                because(&mut body, &roots);
                meta(&mut body, true);
                (format!("action a{i}"), roots)
            }
            Kind::Threshold => {
                let roots = sorted(vec!["action", "actor", "tenant", "context"]);
                if let Some(s) = &b.scope {
                    body.push(format!("when {}", resolve(s, &roots, alias)));
                }
                body.push(format!("metric {}", resolve(&b.value, &roots, alias)));
                let bound = resolve(&b.bound, &roots, alias);
                body.push(if b.above {
                    format!("above {bound}")
                } else {
                    format!("below {bound}")
                });
                body.push(format!("risk {level}"));
                because(&mut body, &roots);
                meta(&mut body, true);
                (format!("threshold t{i}"), roots)
            }
            Kind::Watcher => {
                let roots = sorted(vec!["watcher", "tenant", "stats"]);
                body.push("cadence 5m".into());
                body.push("silence_budget 30m".into());
                body.push(format!("exempt_when {}", resolve(&b.cond, &roots, alias)));
                body.push(format!("severity {level}"));
                meta(&mut body, true);
                (format!("watcher w{i}"), roots)
            }
            Kind::Guard => {
                let roots = sorted(vec!["plan", "cluster", "actor"]);
                body.push(format!("deny_when {}", resolve(&b.cond, &roots, alias)));
                body.push(format!("risk {level}"));
                body.push("max_percent 5%".into());
                because(&mut body, &roots);
                meta(&mut body, true);
                (format!("guard g{i}"), roots)
            }
            Kind::Correlate => {
                let roots = sorted(vec!["resource", "catalog"]);
                body.push("source [\"aws\"]".into());
                body.push(format!("filter {}", resolve(&b.cond, &roots, alias)));
                body.push(format!("key {}", resolve(&b.value, &roots, alias)));
                body.push("catalog \"cmdb\"".into());
                body.push(format!("severity {level}"));
                body.push("sla 7d".into());
                because(&mut body, &roots);
                meta(&mut body, true);
                (format!("correlate c{i}"), roots)
            }
            Kind::Masking => {
                let roots = sorted(vec!["subject", "request", "record"]);
                body.push("jurisdictions [\"EU\"]".into());
                body.push(format!("when {}", resolve(&b.cond, &roots, alias)));
                because(&mut body, &roots);
                meta(&mut body, false);
                (format!("masking k{i}"), roots)
            }
            Kind::Profile => {
                let name = format!("p{i}");
                let f_roots = sorted(vec!["tenant", "signals"]);
                let g_roots = sorted(vec!["tenant", "signals", "score"]);
                let mut factor = vec![
                    "source \"uptime\"".to_string(),
                    "weight 2".to_string(),
                    format!("when {}", resolve(&b.cond, &f_roots, alias)),
                ];
                meta(&mut factor, true);
                body.push(format!("factor f {{\n    {}\n  }}", factor.join("\n    ")));
                body.push(format!(
                    "badge g {{\n    rank 1\n    requires {}\n  }}",
                    resolve(&b.cond2, &g_roots, alias)
                ));
                decided.push((format!("{name}/f"), f_roots, false));
                decided.push((format!("{name}/g"), g_roots, false));
                (format!("profile {name}"), Vec::new())
            }
            Kind::Baseline => {
                let name = format!("b{i}");
                let roots = sorted(vec!["tenant", "live"]);
                let mut setting = vec![
                    format!("at_least {}", resolve(&b.bound, &roots, alias)),
                    format!("applies_when {}", resolve(&b.cond, &roots, alias)),
                    format!("risk {level}"),
                ];
                meta(&mut setting, true);
                body.push(format!(
                    "setting tls.min {{\n    {}\n  }}",
                    setting.join("\n    ")
                ));
                decided.push((format!("{name}/tls.min"), roots, false));
                (format!("baseline {name}"), Vec::new())
            }
            Kind::Rollout => {
                let name = format!("ro{i}");
                let roots = sorted(vec!["metrics", "cluster"]);
                body.push("target {labels: {env: \"prod\"}}".into());
                let mut gate = vec![
                    format!("metric {}", resolve(&b.value, &roots, alias)),
                    format!("fail_when {}", resolve(&b.cond, &roots, alias)),
                ];
                if let Some(o) = b.on_no_data {
                    gate.push(format!("on_no_data {o}"));
                }
                if b.dry_run {
                    gate.push("dry_run true".into());
                }
                body.push(format!("gate q {{\n    {}\n  }}", gate.join("\n    ")));
                decided.push((format!("{name}/q"), roots, false));
                (format!("rollout {name}"), Vec::new())
            }
        };
        if !roots.is_empty() {
            let name = head
                .split_once(' ')
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            decided.push((name, roots, true));
        }
        m.push_str(&format!("{head} {{\n  {}\n}}\n", body.join("\n  ")));
    }
    // Waivers name top-level blocks only (nested ones cannot be waived).
    let top: Vec<&str> = decided
        .iter()
        .filter(|(_, _, top)| *top)
        .map(|(n, _, _)| n.as_str())
        .collect();
    for (i, w) in waivers.iter().enumerate() {
        if top.is_empty() {
            break;
        }
        let mut names: Vec<&str> = w.targets.iter().map(|t| top[t % top.len()]).collect();
        names.sort_unstable();
        names.dedup();
        // The roots a waiver reads: those of the top-level blocks it names.
        let mut roots = vec!["input"];
        for (n, r, top) in &decided {
            if *top && names.contains(&n.as_str()) {
                roots.extend(r.iter().copied());
            }
        }
        let roots = sorted(roots);
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut body = vec![format!("rules [{list}]")];
        if let Some(c) = &w.when {
            body.push(format!("when {}", resolve(c, &roots, alias)));
        }
        body.push("owner \"o\"".into());
        body.push("justification \"j\"".into());
        body.push(format!("expires \"{}\"", w.expires));
        m.push_str(&format!("waiver v{i} {{\n  {}\n}}\n", body.join("\n  ")));
    }
    (m, lib)
}

#[derive(Debug, Clone)]
struct ConstSpec {
    n1: String,
    f1: &'static str,
    s1: &'static str,
    l1: &'static str,
    d1: &'static str,
    p1: &'static str,
    z1: &'static str,
    pat: &'static str,
    limit: String,
    label: &'static str,
    names: &'static str,
    window: &'static str,
    share: &'static str,
    nested: String,
}

fn sel(items: &'static [&'static str]) -> proptest::sample::Select<&'static str> {
    proptest::sample::select(items)
}

fn const_spec() -> BoxedStrategy<ConstSpec> {
    (
        (
            (-5i64..50).prop_map(|n| n.to_string()),
            sel(&["1.5", "0.0", "-2.25", "3.0"]),
            sel(&["\"a\"", "\"abc\"", "\"\"", "\"30m\"", "\"1.2.3\""]),
            sel(&[
                "[1, 2, 3]",
                "[]",
                "[\"a\", \"abc\"]",
                "[1, \"a\", null]",
                "[{c: 1}, {c: \"a\"}]",
            ]),
            sel(&["30m", "90s", "0s", "1h30m"]),
            sel(&["5%", "0%", "12.5%", "100%"]),
            sel(&["10MB", "64KiB", "0B"]),
            sel(&["\"a.*\"", "\"^[0-9]+$\"", "\"a(\"", "\"\""]),
        ),
        (
            prop_oneof![
                (-5i64..50).prop_map(|n| n.to_string()),
                Just("9_223_372_036_854_775_000".to_string())
            ],
            sel(&["\"a\"", "\"abc\"", "\"[\"", "\"30m\""]),
            sel(&["[\"a\", \"abc\"]", "[]", "[1, 2]", "[null, \"a\"]"]),
            sel(&["30m", "1h", "0s"]),
            sel(&["5%", "50%", "0%"]),
            (-3i64..10).prop_map(|n| n.to_string()),
        ),
    )
        .prop_map(
            |((n1, f1, s1, l1, d1, p1, z1, pat), (limit, label, names, window, share, nested))| {
                ConstSpec {
                    n1,
                    f1,
                    s1,
                    l1,
                    d1,
                    p1,
                    z1,
                    pat,
                    limit,
                    label,
                    names,
                    window,
                    share,
                    nested,
                }
            },
        )
        .boxed()
}

/// Every input root any generated block may read.
const ROOTS: &[&str] = &[
    "action", "actor", "tenant", "context", "change", "plan", "cluster", "metrics", "resource",
    "catalog", "subject", "request", "record", "signals", "score", "stats", "watcher", "live",
];

fn json_leaf() -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value as J;
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::from),
        (-3i64..40).prop_map(J::from),
        Just(J::from(i64::MAX)),
        Just(J::from(0)),
        prop_oneof![
            Just("a"),
            Just("abc"),
            Just("30m"),
            Just("1.2.3"),
            Just(""),
            Just("10MB"),
            Just("12")
        ]
        .prop_map(J::from),
        (0.0f64..10.0).prop_map(J::from),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<serde_json::Value> {
    let item = (
        json_leaf(),
        json_leaf(),
        prop::collection::vec(json_leaf(), 0..3),
    )
        .prop_map(|(c, size, xs)| serde_json::json!({"c": c, "size": size, "xs": xs}));
    prop_oneof![
        3 => json_leaf(),
        1 => prop::collection::vec(json_leaf(), 0..4).prop_map(serde_json::Value::Array),
        1 => item,
    ]
    .boxed()
}

/// A root's value: usually a map with the fields expressions read (each may
/// be missing, null or of an unexpected type), sometimes null or a scalar.
fn root_value() -> BoxedStrategy<Option<serde_json::Value>> {
    let fields = (
        proptest::option::weighted(0.8, json_value()),
        proptest::option::weighted(
            0.8,
            prop_oneof![
                3 => json_value().prop_map(|c| serde_json::json!({"c": c})),
                1 => json_leaf(),
            ],
        ),
        proptest::option::weighted(0.8, json_leaf()),
        proptest::option::weighted(0.8, prop::collection::vec(json_value(), 0..4)),
        proptest::option::weighted(0.8, json_leaf()),
    )
        .prop_map(|(a, b, s, xs, n)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [("a", a), ("b", b), ("s", s), ("n", n)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            if let Some(xs) = xs {
                m.insert("xs".into(), serde_json::Value::Array(xs));
            }
            serde_json::Value::Object(m)
        });
    prop_oneof![
        1 => Just(None),
        1 => json_leaf().prop_map(Some),
        5 => fields.prop_map(Some),
    ]
    .boxed()
}

/// The input: a few root values, each root name absent or one of them.
fn input() -> BoxedStrategy<serde_json::Value> {
    (
        root_value(),
        prop::collection::vec(root_value(), 3),
        prop::collection::vec(0usize..4, ROOTS.len()),
    )
        .prop_map(|(top, pool, picks)| {
            let mut m = match top {
                Some(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            // 0 (where shrinking goes) leaves the root out.
            for (name, pick) in ROOTS.iter().zip(picks) {
                if let Some(Some(v)) = pick.checked_sub(1).and_then(|i| pool.get(i)) {
                    m.insert((*name).into(), v.clone());
                }
            }
            serde_json::Value::Object(m)
        })
        .boxed()
}

pub fn case() -> BoxedStrategy<Case> {
    (
        0usize..3,
        proptest::sample::select(&["lib", "limits", "tenant"][..]),
        const_spec(),
        prop::collection::vec(block_spec(), 1..6),
        prop::collection::vec(waiver_spec(), 0..4),
        input(),
        prop_oneof![
            4 => Just(Some("2026-06-01".to_string())),
            1 => Just(None),
            1 => Just(Some("2026-12-31T23:30:00-02:00".to_string())),
        ],
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(taxonomy, alias, consts, blocks, waivers, input, now, dry_run)| {
                let (main, lib) = render(taxonomy, alias, &consts, &blocks, &waivers);
                Case {
                    main,
                    lib,
                    input,
                    now,
                    dry_run,
                }
            },
        )
        .boxed()
}

pub fn load(case: &Case) -> Result<Rules, String> {
    load_files(
        vec![
            RuleFile {
                path: "main.tenet".into(),
                text: case.main.clone(),
            },
            RuleFile {
                path: "lib.tenet".into(),
                text: case.lib.clone(),
            },
            RuleFile {
                path: "sc.rhai".into(),
                text: SCORER.into(),
            },
        ],
        "",
    )
    .map_err(|e| match e {
        tenet_runtime::LoadError::Rules { diags, sources } => {
            tenet_runtime::dsl::diag::render_plain(&diags, &sources)
        }
        other => format!("{other:?}"),
    })
}

/// Both decisions of a loaded case.
pub fn decide_both(rules: &Rules, case: &Case) -> (Decision, Decision) {
    let pack = rules.pack("m").expect("the generated pack is loaded");
    let input = Value::from_json(&case.input);
    let opts = DecideOptions {
        trace: false,
        now: case.now.clone(),
        dry_run: case.dry_run,
    };
    let fast = decide(pack, &input, rules.scorer_list(), &opts);
    let mut r = RefEvaluator {
        pack,
        input: &input,
        scorers: rules.scorer_list(),
    };
    let reference = decide_with(pack, &mut r, &opts);
    (fast, reference)
}

/// The fields of two decisions that differ, each as compiled and reference.
fn difference(fast: &Decision, reference: &Decision) -> String {
    let as_map = |d: &Decision| match serde_json::to_value(d) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (f, r) = (as_map(fast), as_map(reference));
    let mut out = String::new();
    let mut keys: Vec<&String> = f.keys().chain(r.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (a, b) = (f.get(k), r.get(k));
        if a != b {
            let show = |v: Option<&serde_json::Value>| {
                v.map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                    .unwrap_or_else(|| "(absent)".into())
            };
            out.push_str(&format!(
                "--- `{k}` differs ---\ncompiled:  {}\nreference: {}\n",
                show(a),
                show(b)
            ));
        }
    }
    out
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        max_global_rejects: 4096,
        // A failure prints the whole case; its seed is saved beside this
        // file, and the case goes to fixtures/eval as a regression.
        .. super::config(cases())
    })]

    #[test]
    fn generated_packs_decide_the_same(c in case()) {
        // A pack the checker rejects is not a case (the guard test below
        // keeps the rejection rate low).
        let rules = load(&c);
        prop_assume!(rules.is_ok());
        let Ok(rules) = rules else { return Ok(()) };
        let (fast, reference) = decide_both(&rules, &c);
        if fast != reference {
            return Err(TestCaseError::fail(format!(
                "the compiled evaluator and the reference interpreter disagree on{c:?}{}",
                difference(&fast, &reference)
            )));
        }
    }
}

#[test]
fn the_pack_generator_is_not_vacuous() {
    // Most generated packs check, and their decisions cover every outcome:
    // matches (also on missing data), waivers, inconclusive blocks, errors.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let (mut ok, mut matched, mut waived, mut inconclusive, mut errors, mut no_data) =
        (0, 0, 0, 0, 0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    let mut rejected = Vec::new();
    let n = 150;
    for _ in 0..n {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        match load(&c) {
            Ok(rules) => {
                ok += 1;
                let (d, _) = decide_both(&rules, &c);
                matched += usize::from(!d.matched.is_empty());
                waived += usize::from(!d.waived.is_empty());
                inconclusive += usize::from(!d.inconclusive.is_empty());
                errors += usize::from(!d.errors.is_empty());
                no_data += usize::from(d.matched.iter().any(|m| m.no_data));
                kinds.extend(d.matched.iter().map(|m| m.kind.clone()));
            }
            Err(e) => rejected.push(e),
        }
    }
    println!(
        "{ok} of {n} packs checked; decisions with matches {matched}, waived {waived}, inconclusive {inconclusive}, errors {errors}, no-data matches {no_data}; matched kinds {kinds:?}"
    );
    assert!(
        ok * 10 >= n * 7,
        "only {ok} of {n} generated packs checked; first rejection:\n{}",
        rejected.first().cloned().unwrap_or_default()
    );
    for (what, count) in [
        ("matched", matched),
        ("waived", waived),
        ("inconclusive", inconclusive),
        ("errors", errors),
        ("no-data matches", no_data),
    ] {
        assert!(
            count >= 5,
            "only {count} of {ok} decisions had {what} (matched {matched}, waived {waived}, inconclusive {inconclusive}, errors {errors}, no-data matches {no_data})"
        );
    }
    assert!(kinds.len() >= 8, "matched kinds: {kinds:?}");
}
