//! Hot paths of the semantic diff. Figures and targets: BENCHMARKS.md.
//!
//! Run: `cargo bench -p tenet-benches --bench diff`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "gen.rs"]
mod gen;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::fmt::Write as _;
use tenet_runtime::diff::classify::Classifier;
use tenet_runtime::diff::repo::{ArtifactPair, Consumers};
use tenet_runtime::diff::report::{build, Build};
use tenet_runtime::diff::{detect, ArtifactType, Options};
use tenet_runtime::load::load_bundled;

/// An OpenAPI document with `ops` operations over `schemas` component
/// schemas of 12 properties each, every schema referring to the next one
/// (a long `$ref` chain with a cycle at the end).
fn openapi(ops: usize, schemas: usize, variant: bool) -> String {
    let mut s = String::from("openapi: 3.1.0\ninfo: {title: big, version: '1'}\npaths:\n");
    for i in 0..ops {
        let _ = writeln!(s, "  /r{i}/{{id}}:\n    get:\n      operationId: get{i}");
        let _ = writeln!(s, "      parameters:\n        - {{name: id, in: path, required: true, schema: {{type: string}}}}");
        let _ = writeln!(
            s,
            "        - {{name: limit, in: query, schema: {{type: integer, maximum: {}}}}}",
            if variant && i % 50 == 0 { 50 } else { 100 }
        );
        let _ = writeln!(
            s,
            "      responses:\n        '200':\n          description: ok"
        );
        let _ = writeln!(s, "          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/S{}'}}", i % schemas);
    }
    s.push_str("components:\n  schemas:\n");
    for j in 0..schemas {
        let _ = writeln!(
            s,
            "    S{j}:\n      type: object\n      required: [p0]\n      properties:"
        );
        for p in 0..12 {
            if variant && j % 40 == 0 && p == 11 {
                continue; // a removed property
            }
            let _ = writeln!(s, "        p{p}: {{type: string, maxLength: 64}}");
        }
        let _ = writeln!(
            s,
            "        next: {{$ref: '#/components/schemas/S{}'}}",
            (j + 1) % schemas
        );
    }
    s
}

fn benches(c: &mut Criterion) {
    let base = openapi(500, 300, false);
    let head = openapi(500, 300, true);
    let rules = load_bundled().unwrap();
    let classifier = Classifier::new(&rules).unwrap();
    let found = detect(
        ArtifactType::Openapi,
        Some(&base),
        Some(&head),
        &Options::default(),
    )
    .unwrap();
    assert!(
        found.len() >= 10,
        "the bench diff finds the planted changes: {}",
        found.len()
    );
    eprintln!(
        "openapi bench: {} KiB per side, {} changes",
        base.len() / 1024,
        found.len()
    );

    c.bench_function("openapi 500 ops x 300 schemas: detect", |b| {
        b.iter(|| {
            detect(
                ArtifactType::Openapi,
                Some(black_box(&base)),
                Some(black_box(&head)),
                &Options::default(),
            )
            .unwrap()
        })
    });
    let consumers = Consumers::default();
    c.bench_function(
        "openapi 500 ops x 300 schemas: detect + classify + report",
        |b| {
            b.iter(|| {
                let pair = ArtifactPair {
                    path: "api.yaml".into(),
                    ty: ArtifactType::Openapi,
                    direction: None,
                    before: Some(base.clone()),
                    after: Some(head.clone()),
                };
                build(
                    Build {
                        base: "a".into(),
                        head: "b".into(),
                        repository: None,
                        pairs: vec![pair],
                        consumers: &consumers,
                        threshold: None,
                    },
                    &classifier,
                )
                .unwrap()
            })
        },
    );
    let change = &found[0];
    c.bench_function("classify one change fact", |b| {
        b.iter(|| classifier.judge(ArtifactType::Openapi, black_box(change)))
    });
}

criterion_group!(diff, benches);
criterion_main!(diff);
