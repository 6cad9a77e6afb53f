//! `diffgen`: generates a base/head pair of a given size and times one
//! semantic diff of it (detect + classify + report), printing the time and
//! the peak memory of the process. `benches/diff-scale.sh` runs it at
//! 1, 2, 5 and 10 MB; figures go to BENCHMARKS.md.
//!
//! Usage: `diffgen openapi|graphql|graphql-dense SIZE_MB [--write DIR]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "gen.rs"]
mod gen;

use std::time::Instant;
use tenet_diff::classify::Classifier;
use tenet_diff::repo::{ArtifactPair, Consumers};
use tenet_diff::report::{build, Build};
use tenet_diff::ArtifactType;
use tenet_runtime::load::load_bundled;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map(String::as_str).unwrap_or("openapi");
    let mb: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let (ty, base, head) = match kind {
        "openapi" => {
            // About 1 MB per 200 paths + 1,000 schemas.
            let paths = (mb * 200.0) as usize;
            let schemas = (mb * 1000.0) as usize;
            (
                ArtifactType::Openapi,
                gen::openapi_json(paths, schemas, 100, false),
                gen::openapi_json(paths, schemas, 100, true),
            )
        }
        "graphql" | "graphql-dense" => {
            // Described: about 1 MB per 720 types; dense: per 3,300.
            let described = kind == "graphql";
            let types = (mb * if described { 720.0 } else { 3300.0 }) as usize;
            (
                ArtifactType::Graphql,
                gen::graphql_sdl(types, 100, false, described),
                gen::graphql_sdl(types, 100, true, described),
            )
        }
        other => panic!("unknown kind {other}"),
    };
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let dir = std::path::Path::new(&args[i + 1]);
        std::fs::create_dir_all(dir).unwrap();
        let ext = if ty == ArtifactType::Graphql {
            "graphql"
        } else {
            "json"
        };
        std::fs::write(dir.join(format!("base.{ext}")), &base).unwrap();
        std::fs::write(dir.join(format!("head.{ext}")), &head).unwrap();
        return;
    }
    if ty == ArtifactType::Graphql {
        let t = Instant::now();
        let _ = tenet_diff::graphql::parse(&base).unwrap();
        eprintln!(
            "(parsing one side alone: {:.0} ms)",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    let rules = load_bundled().unwrap();
    let classifier = Classifier::new(&rules).unwrap();
    let before = peak_rss_mb();
    let t = Instant::now();
    let pair = ArtifactPair {
        path: "doc".into(),
        ty,
        direction: None,
        before: Some(base.clone()),
        after: Some(head.clone()),
    };
    let report = build(
        Build {
            base: "a".into(),
            head: "b".into(),
            repository: None,
            pairs: vec![pair],
            consumers: &Consumers::default(),
            threshold: None,
        },
        &classifier,
    )
    .unwrap();
    let elapsed = t.elapsed();
    println!(
        "{kind} {:.1} MB/side: {} changes in {:.0} ms, peak RSS {:.0} MB (before the diff: {:.0} MB)",
        base.len() as f64 / 1_048_576.0,
        report.changes.len(),
        elapsed.as_secs_f64() * 1000.0,
        peak_rss_mb(),
        before
    );
}
