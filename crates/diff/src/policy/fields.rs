//! What the language says about a block's fields.
//!
//! In: a block kind and a field name. Out: how a change to the field
//! reads: a condition, a risk level, text for people, an ordered list, an
//! allow or deny list, and the schema default of an absent field.

use std::borrow::Cow;

use super::expr::{as_list, number};
use tenet_dsl::ast::{Block, Expr};
use tenet_dsl::schema::{self, Ty};
use tenet_dsl::source::FileId;
use tenet_dsl::syntax;

/// Text fields read by people, not by the engine.
pub(super) const TEXT_FIELDS: &[&str] = &[
    "because",
    "description",
    "justification",
    "rationale",
    "narrative",
    "reason",
    "remediation",
];
/// Lists whose order is their meaning.
pub(super) const ORDERED_LISTS: &[&str] = &["levels", "order", "bounds"];
/// Nested kinds whose order under their parent is the order they run in.
pub(super) const ORDERED_KINDS: &[&str] = &["stage"];

pub(super) fn ty_of(kind: &str, field: &str) -> Option<Ty> {
    schema::kind(kind)
        .and_then(|k| k.field(field))
        .map(|f| f.ty)
}

/// The value a block gives a field: written, else the schema default.
pub(super) fn effective<'b>(b: &'b Block, field: &str) -> Option<Cow<'b, Expr>> {
    match b.attr(field) {
        Some(a) => Some(Cow::Borrowed(&a.value)),
        None => default(&b.kind.name, field).map(Cow::Owned),
    }
}

pub(super) fn default(kind: &str, field: &str) -> Option<Expr> {
    let d = schema::kind(kind)?.field(field)?.default?;
    syntax::parse_expr(FileId(0), d).ok()
}

pub(super) fn is_condition(kind: &str, field: &str) -> bool {
    match ty_of(kind, field) {
        Some(t) => matches!(t, Ty::Cond | Ty::Value | Ty::Selector),
        None => matches!(field, "when" | "match" | "filter") || field.ends_with("_when"),
    }
}

pub(super) fn is_level(kind: &str, field: &str) -> bool {
    matches!(ty_of(kind, field), Some(Ty::Level)) || matches!(field, "risk" | "severity")
}

pub(super) fn category(kind: &str, field: &str, e: &Expr) -> &'static str {
    if is_condition(kind, field) {
        "condition"
    } else if is_level(kind, field) {
        "risk"
    } else if number(e).is_some() {
        "threshold"
    } else if as_list(e).is_some() {
        "list"
    } else {
        "other"
    }
}

/// `allow`/`deny` lists: which way an added element moves the policy.
pub(super) fn list_sense(field: &str) -> Option<(&'static str, &'static str)> {
    let f = field.to_ascii_lowercase();
    if f.contains("allow") {
        Some(("policy.allow_widened", "policy.allow_narrowed"))
    } else if f.contains("deny") {
        Some(("policy.deny_widened", "policy.deny_narrowed"))
    } else {
        None
    }
}
