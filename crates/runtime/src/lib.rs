//! The tenet runtime: rules as loaded, compiled and evaluated.
//!
//! - [`load`]: files → checked, compiled [`load::Rules`] (the only file I/O here);
//! - [`ir`] and [`compile`]: the compiled form of a pack;
//! - [`eval`]: the compiled evaluator (fast path);
//! - [`reference`]: the reference interpreter's environment and evaluator;
//! - [`decision`]: a pack's decision on one input, with its trace;
//! - [`scorer`]: the rhai sandbox for pluggable scorers;
//! - [`testing`]: `tenet test`;
//! - [`bundle`]: fingerprinted bundle files;
//! - [`diff`]: the semantic-diff module engine (artifacts → change facts →
//!   risk by the `semantic_diff` pack → reports);
//! - [`store`]: the embedded SQLite store (reports and the audit log).
//!
//! The other module engines (safety workflows, ...) arrive in later issues,
//! on top of these, in the same shape as [`diff`].

pub mod bundle;
pub mod compile;
pub mod decision;
pub mod diff;
pub mod eval;
pub mod ir;
pub mod load;
pub mod reference;
pub mod scorer;
pub mod store;
pub mod testing;

pub use decision::{decide, DecideOptions, Decision};
pub use load::{load_dir, LoadError, Rules};
pub use tenet_dsl as dsl;
