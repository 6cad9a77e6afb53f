//! The tenet runtime: rules as loaded, compiled and evaluated.
//!
//! - [`load`]: files → checked, compiled [`load::Rules`] (the only file I/O here);
//! - [`ir`] and [`compile`]: the compiled form of a pack;
//! - [`eval`]: the compiled evaluator (fast path);
//! - [`reference`]: the reference interpreter's environment and evaluator;
//! - [`decision`]: a pack's decision on one input, with its trace;
//! - [`pack`]: the pack handle every module engine starts from;
//! - [`scorer`]: the rhai sandbox for pluggable scorers;
//! - [`testing`]: `tenet test`;
//! - [`bundle`]: fingerprinted bundle files;
//! - [`exit`]: the exit codes every command shares;
//! - [`clock`]: instants, dates and RFC 3339 text (one civil-date conversion).
//!
//! **Invariant:** no I/O but reading rule files (`load`, `bundle`); no
//! clock reads (`now` is an argument): [`clock::system_now`] is defined
//! here, once, for the edges (binary, server, hook, CI) to call. The
//! semantic diff (`tenet-diff`), the store (`tenet-store`) and the module
//! engines (`crates/modules/*`) sit on top of this crate.

pub mod bundle;
pub mod clock;
pub mod compile;
pub mod decision;
pub mod eval;
pub mod exit;
pub mod ir;
pub mod load;
pub mod pack;
pub mod reference;
pub mod scorer;
pub mod testing;

pub use decision::{decide, DecideOptions, Decision};
pub use load::{load_dir, LoadError, Rules};
pub use tenet_dsl as dsl;
