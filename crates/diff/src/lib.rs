//! Semantic diff: what a change to an artifact *means*, judged by rules.
//!
//! Pipeline, one artifact pair at a time:
//!
//! 1. [`kind`]: the artifact's type, from configuration or detected from its
//!    path and content (OpenAPI, JSON Schema, GraphQL SDL, YAML/JSON config,
//!    tenet packs, prompts, feature flags);
//! 2. a detector per type turns the base and head texts into [`Change`]
//!    facts — [`openapi`], [`jsonschema`], [`graphql`], [`config`],
//!    [`policy`], [`prompt`], [`flags`] — each with a stable `kind`, a path,
//!    lines, before/after values and the facts a rule needs (direction,
//!    required, deprecated...). Texts that differ while their meaning does
//!    not (comments, whitespace, quoting) give one `comment.changed` or
//!    `whitespace.changed` fact;
//! 3. [`classify`]: every fact is decided by the `semantic_diff` rule pack,
//!    which names its risk level, rationale and confidence. No risk level is
//!    chosen in Rust;
//! 4. [`report`]: the versioned report (`tenet.report/v1`), its Markdown
//!    and release-notes renderings, and diff-on-diff between two reports.
//!
//! [`repo`] reads a repository's `tenet.yaml` and collects artifact pairs
//! from two directories or two git trees ([`git`]); [`store`] keeps reports
//! (the module's own table and migrations in the shared store).
//!
//! Detectors do no I/O and never panic on bad input: a text that does not
//! parse is an [`ArtifactError`] with its side and position.

pub mod change;
pub mod classify;
pub mod config;
pub mod flags;
pub mod gate;
pub mod git;
pub mod graphql;
pub mod jsonschema;
pub mod kind;
pub mod kinds;
pub mod openapi;
pub mod policy;
pub mod prompt;
pub mod rename;
pub mod repo;
pub mod report;
pub mod store;
#[cfg(test)]
mod test_util;
pub mod tree;

pub use change::{ArtifactType, Change, Changes, Direction};
pub use tree::{Node, ParseError};

use std::fmt;

/// Which text of a pair an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Base,
    Head,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// An artifact that could not be read as its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactError {
    pub side: Side,
    pub error: ParseError,
}

impl ArtifactError {
    pub fn base(error: ParseError) -> Self {
        ArtifactError {
            side: Side::Base,
            error,
        }
    }
    pub fn head(error: ParseError) -> Self {
        ArtifactError {
            side: Side::Head,
            error,
        }
    }
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} version: {}", self.side.as_str(), self.error)
    }
}

/// Per-artifact options from the repository configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// For plain JSON Schemas: which way the data flows (default: request,
    /// the strict reading, where narrowing breaks).
    pub direction: Option<Direction>,
}

/// Parses both sides as YAML/JSON trees.
///
/// Big texts are parsed on two threads (base and head at once).
pub fn parse_both(a: &str, b: &str) -> Result<(Node, Node), ArtifactError> {
    let (ra, rb) = both(a, b, tree::parse);
    Ok((
        ra.map_err(ArtifactError::base)?,
        rb.map_err(ArtifactError::head)?,
    ))
}

/// Base and head texts together above this size are parsed on two threads.
pub const PARALLEL_FROM: usize = 128 * 1024;

/// Runs `f` on the base and on the head text: on two threads at once when
/// they are big (a panic on the head thread is raised here, as it would be
/// on one thread).
pub fn both<R: Send>(a: &str, b: &str, f: impl Fn(&str) -> R + Sync) -> (R, R) {
    if a.len() + b.len() <= PARALLEL_FROM {
        return (f(a), f(b));
    }
    std::thread::scope(|s| {
        let head = s.spawn(|| f(b));
        let base = f(a);
        let head = head.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (base, head)
    })
}

/// The changes between two versions of one artifact of type `ty`.
///
/// `None` on a side means the artifact does not exist there: the whole
/// artifact is reported as `artifact.added` or `artifact.removed`.
pub fn detect(
    ty: ArtifactType,
    before: Option<&str>,
    after: Option<&str>,
    opts: &Options,
) -> Result<Vec<Change>, ArtifactError> {
    let mut out = Changes::default();
    match (before, after) {
        (None, None) => {}
        (None, Some(b)) => {
            validate(ty, b).map_err(ArtifactError::head)?;
            out.push(Change::new("artifact.added", "(file)").fact("artifact_type", ty.as_str()));
        }
        (Some(a), None) => {
            validate(ty, a).map_err(ArtifactError::base)?;
            out.push(Change::new("artifact.removed", "(file)").fact("artifact_type", ty.as_str()));
        }
        (Some(a), Some(b)) if a == b => {}
        (Some(a), Some(b)) => {
            match ty {
                ArtifactType::Openapi => openapi::diff(a, b, opts, &mut out)?,
                ArtifactType::JsonSchema => jsonschema::diff(a, b, opts, &mut out)?,
                ArtifactType::Graphql => graphql::diff(a, b, opts, &mut out)?,
                ArtifactType::Config => config::diff(a, b, opts, &mut out)?,
                ArtifactType::Policy => policy::diff(a, b, opts, &mut out)?,
                ArtifactType::Prompt => prompt::diff(a, b, opts, &mut out)?,
                ArtifactType::Flags => flags::diff(a, b, opts, &mut out)?,
            }
            if out.0.is_empty() {
                out.push(cosmetic(ty, a, b));
            }
        }
    }
    Ok(out.0)
}

/// Checks that a lone text parses as its type.
fn validate(ty: ArtifactType, text: &str) -> Result<(), ParseError> {
    match ty {
        ArtifactType::Graphql => graphql::parse(text).map(|_| ()),
        ArtifactType::Policy => policy::parse(text).map(|_| ()),
        ArtifactType::Prompt => prompt::parse(text).map(|_| ()),
        _ => tree::parse(text).map(|_| ()),
    }
}

/// Two texts whose meaning is equal: a comment or a layout change.
fn cosmetic(ty: ArtifactType, a: &str, b: &str) -> Change {
    let kind = if comments(ty, a) != comments(ty, b) {
        "comment.changed"
    } else {
        "whitespace.changed"
    };
    let first = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .map(|i| i as u32 + 1)
        .unwrap_or(1);
    Change::new(kind, "(file)").lines(first, first)
}

/// The comments of a text, by the comment syntax of its type: `#` that
/// starts a line or follows a blank (so `$ref: '#/a'` and `x#y` are not
/// comments), and for prompts also `{{! }}` and `{# #}`.
fn comments(ty: ArtifactType, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if ty == ArtifactType::Prompt {
            for open in ["{{!", "{#"] {
                if let Some(i) = t.find(open) {
                    out.push(t[i..].trim().to_string());
                }
            }
        }
        if t.starts_with('#') {
            out.push(t.trim().to_string());
        } else if let Some(i) = t.find(" #") {
            out.push(t[i..].trim().to_string());
        }
    }
    out
}
