//! Hot paths of the semantic diff. Figures and targets: BENCHMARKS.md.
//!
//! Run: `cargo bench -p tenet-benches --bench diff`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "gen.rs"]
mod gen;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tenet_diff::classify::Classifier;
use tenet_diff::repo::{ArtifactPair, Consumers};
use tenet_diff::report::{build, Build};
use tenet_diff::{detect, ArtifactType, Options};
use tenet_runtime::load::load_bundled;

fn benches(c: &mut Criterion) {
    // About 1 MB per side: 200 paths, 1,000 component schemas, ~100 changes.
    let base = gen::openapi_json(200, 1000, 100, false);
    let head = gen::openapi_json(200, 1000, 100, true);
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

    c.bench_function("openapi 1 MB: detect", |b| {
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
    c.bench_function("openapi 1 MB: detect + classify + report", |b| {
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
    });
    let sdl_a = gen::graphql_sdl(720, 100, false, true);
    let sdl_b = gen::graphql_sdl(720, 100, true, true);
    eprintln!("graphql bench: {} KiB per side", sdl_a.len() / 1024);
    c.bench_function("graphql 1 MB: detect", |b| {
        b.iter(|| {
            detect(
                ArtifactType::Graphql,
                Some(black_box(&sdl_a)),
                Some(black_box(&sdl_b)),
                &Options::default(),
            )
            .unwrap()
        })
    });
    let change = &found[0];
    c.bench_function("classify one change fact", |b| {
        b.iter(|| classifier.judge(ArtifactType::Openapi, black_box(change)))
    });
}

criterion_group!(diff, benches);
criterion_main!(diff);
