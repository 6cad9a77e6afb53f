//! Hot paths of the language core. Figures and targets: BENCHMARKS.md.
//!
//! Run: `cargo bench -p tenet-benches --bench dsl`

// Tests and benches may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tenet_runtime::decision::{decide, DecideOptions};
use tenet_runtime::dsl::Value;
use tenet_runtime::eval::Ctx;
use tenet_runtime::load::{load_files, RuleFile, Rules};

const TYPICAL: &str = r#"action.verb == "delete" and action.target.env == "prod" and action.rows >= 10_000 and actor.role != "admin" and action.tenant.tier in ["gold", "platinum"]"#;

fn fact() -> serde_json::Value {
    serde_json::json!({
        "action": {"verb": "delete", "rows": 25_000, "target": {"env": "prod", "region": "eu-west-1"},
                   "tenant": {"id": "acme", "tier": "gold"}, "requested_at": "2026-11-25T10:00:00Z"},
        "actor": {"id": "alice", "role": "operator", "mfa": true}
    })
}

fn load(src: String) -> Rules {
    load_files(
        vec![RuleFile {
            path: "bench.tenet".into(),
            text: src,
        }],
        "",
    )
    .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A pack of `n` rules of the typical shape with varied constants.
fn generated_pack(n: usize) -> String {
    let mut s = String::from("tenet 1\npack bench version \"1.0.0\"\n\nconst big = 10_000\n");
    let verbs = ["delete", "export", "copy", "override", "update"];
    let envs = ["prod", "staging", "dev"];
    for i in 0..n {
        s.push_str(&format!(
            "\naction rule-{i} {{\n  match   action.verb == \"{}\" and action.target.env == \"{}\" and action.rows >= big + {} and actor.role != \"admin\" and action.tenant.tier in [\"gold\", \"platinum\"]\n  risk    high\n  require [justification]\n  because \"rule {i}: {{action.rows}} rows of {{action.tenant.id}}\"\n}}\n",
            verbs[i % verbs.len()],
            envs[i % envs.len()],
            i * 10,
        ));
    }
    s
}

fn compile_1000(c: &mut Criterion) {
    let src = generated_pack(1000);
    c.bench_function("parse+check+compile 1000 rules", |b| {
        b.iter(|| black_box(load(black_box(src.clone()))))
    });
    c.bench_function("parse only 1000 rules", |b| {
        b.iter(|| {
            black_box(
                tenet_runtime::dsl::syntax::parse(tenet_runtime::dsl::FileId(0), black_box(&src))
                    .is_ok(),
            )
        })
    });
}

fn typical_rule(c: &mut Criterion) {
    let rules = load(format!("tenet 1\npack t version \"1.0.0\"\n\naction typical {{\n  match {TYPICAL}\n  risk  high\n}}\n"));
    let pack = &rules.packs[0];
    let input = Value::from_json(&fact());
    let roots = tenet_runtime::decision::root_values(pack, &input);
    let cond = &pack.blocks[0].condition.as_ref().unwrap().expr;
    let mut ctx = Ctx::new(&roots, &[]);
    assert!(matches!(ctx.eval_bool(cond), Ok(true)));
    c.bench_function("typical rule (5 comparisons, nested fact)", |b| {
        b.iter(|| {
            ctx.reset();
            black_box(ctx.eval_bool(black_box(cond)).ok())
        })
    });

    // The same rule in rhai, compiled once, inputs converted once.
    let engine = rhai::Engine::new();
    let ast = engine
        .compile_expression(r#"action.verb == "delete" && action.target.env == "prod" && action.rows >= 10000 && actor.role != "admin" && (action.tenant.tier == "gold" || action.tenant.tier == "platinum")"#)
        .unwrap();
    let f = fact();
    let mut scope = rhai::Scope::new();
    scope.push_dynamic("action", rhai::serde::to_dynamic(&f["action"]).unwrap());
    scope.push_dynamic("actor", rhai::serde::to_dynamic(&f["actor"]).unwrap());
    assert!(engine
        .eval_ast_with_scope::<bool>(&mut scope, &ast)
        .unwrap());
    c.bench_function("typical rule as a rhai expression", |b| {
        b.iter(|| {
            black_box(
                engine
                    .eval_ast_with_scope::<bool>(&mut scope, black_box(&ast))
                    .ok(),
            )
        })
    });
}

fn pack_100(c: &mut Criterion) {
    let rules = load(generated_pack(100));
    let pack = &rules.packs[0];
    let input = Value::from_json(&fact());
    let opts = DecideOptions::default();
    let d = decide(pack, &input, &[], &opts);
    assert!(!d.matched.is_empty() && d.errors.is_empty());
    c.bench_function("100-rule pack, one fact (decision)", |b| {
        b.iter(|| black_box(decide(pack, black_box(&input), &[], &opts)))
    });
    let json = fact();
    c.bench_function(
        "100-rule pack, one fact (JSON input conversion + decision)",
        |b| {
            b.iter(|| {
                black_box(decide(
                    pack,
                    &Value::from_json(black_box(&json)),
                    &[],
                    &opts,
                ))
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = compile_1000, typical_rule, pack_100
}
criterion_main!(benches);
