//! The tenet rule language: one grammar for every rule pack.
//!
//! This crate does no I/O. It takes source text and gives back syntax trees,
//! diagnostics, formatted text and values. Read it in pipeline order:
//!
//! - [`source`]: files and spans (every node knows where it was written);
//! - `grammar.pest` and [`syntax`]: text → [`ast`], decoding literals;
//! - [`schema`]: the table of block kinds and their typed fields;
//! - [`builtins`]: the table of functions expressions may call;
//! - [`value`]: values and the meaning of every operator;
//! - [`check`]: imports, constants, schemas and names → [`check::Checked`], or all [`diag`]nostics;
//! - [`interp`]: the reference interpreter (the meaning of an expression);
//! - [`fmt`]: the canonical layout (`tenet fmt`);
//! - [`cron`]: the one cron dialect, for windows and schedules alike;
//! - [`calendar`]: systemd OnCalendar expressions, as Healthchecks.io reads them;
//! - [`window`]: the time-window primitive (cron + duration + time zone, deny wins).
//!
//! The compiled evaluator, bundles and rule tests live in `tenet-runtime`.

// The pest-generated parser refers to `alloc` (pest is built without its
// `std` feature so that it skips a per-rule stack probe; see syntax.rs).
extern crate alloc;

pub mod ast;
pub mod builtins;
pub mod calendar;
pub mod check;
pub mod compare;
pub mod cron;
pub mod diag;
pub mod fmt;
pub mod interp;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod value;
pub mod window;

pub use check::{check, Checked, CheckedPack};
pub use diag::{Code, Diagnostic};
pub use source::{FileId, SourceMap, Span};
pub use value::{EvalError, Value};

/// Parse and check a set of sources together. Parse errors of one file do
/// not hide the problems of the others.
pub fn parse_and_check(sources: &SourceMap) -> Result<Checked, Vec<Diagnostic>> {
    let mut packs = Vec::new();
    let mut diags = Vec::new();
    for (id, file) in sources.files() {
        match syntax::parse(id, &file.text) {
            Ok(p) => packs.push(p),
            Err(d) => diags.extend(d),
        }
    }
    match check(packs) {
        Ok(c) if diags.is_empty() => Ok(c),
        Ok(_) => Err(diags),
        Err(d) => {
            diags.extend(d);
            diags.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
            Err(diags)
        }
    }
}
