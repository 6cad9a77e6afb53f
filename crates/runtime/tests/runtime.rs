//! Runtime tests: evaluation semantics from case files, agreement between
//! the compiled evaluator and the reference interpreter (on the cases and
//! on generated expressions and inputs), diagnostics snapshots, scorer
//! limits and bundles. One test binary for the crate (fast to link).

mod common;
mod agreement;
mod bundles;
mod cases;
mod diagnostics;
mod scorers;
