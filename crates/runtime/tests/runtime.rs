//! Runtime tests: evaluation semantics from case files, agreement between
//! the compiled evaluator and the reference interpreter (on the cases and
//! on generated expressions and inputs), diagnostics snapshots, scorer
//! limits and bundles. One test binary for the crate (fast to link).

// Tests and benches may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agreement;
mod bundles;
mod cases;
mod common;
mod coverage;
mod diagnostics;
mod expectations;
mod scorers;
