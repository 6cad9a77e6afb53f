//! What the language says about a block's fields.
//!
//! In: a block kind and a field name. Out: how a change to the field
//! reads: a condition, a risk level, text for people, an ordered list, an
//! allow or deny list, and the schema default of an absent field.

use std::borrow::Cow;

use super::expr::{as_list, number};
use tenet_dsl::ast::{Block, Expr};
use tenet_dsl::schema::{self, Reading, Ty};
use tenet_dsl::source::FileId;
use tenet_dsl::syntax;

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

/// How a change to a field reads: the kind table's [`Reading`] of it.
///
/// Packs are compared unchecked, so a field may be one the table does not
/// declare for its kind (an unknown kind, a misplaced or misspelt field):
/// it reads as a declared field of the same name on another kind, else is
/// guessed from its name ([`guessed`]).
pub(super) fn reading(kind: &str, field: &str) -> Reading {
    if let Some(f) = schema::kind(kind).and_then(|k| k.field(field)) {
        return f.reading;
    }
    declared(field)
        .map(|f| f.reading)
        .unwrap_or_else(|| guessed(field))
}

/// How a change to a constant reads. A constant has no field of its own,
/// so this is a guess from its name ([`guessed`]), or ordered when the
/// name holds that of a declared ordered list (`risk_levels`).
pub(super) fn constant_reading(name: &str) -> Reading {
    let lower = name.to_ascii_lowercase();
    match guessed(name) {
        Reading::Value
            if all_fields().any(|f| f.reading == Reading::Ordered && lower.contains(f.name)) =>
        {
            Reading::Ordered
        }
        r => r,
    }
}

/// A name the kind table says nothing about: `*allow*` and `*deny*` are
/// allow and deny lists, anything else a value.
fn guessed(name: &str) -> Reading {
    let lower = name.to_ascii_lowercase();
    if lower.contains("allow") {
        Reading::AllowList
    } else if lower.contains("deny") {
        Reading::DenyList
    } else {
        Reading::Value
    }
}

fn all_fields() -> impl Iterator<Item = &'static schema::Field> {
    schema::KINDS.iter().flat_map(|k| k.all_fields())
}

/// A field of that name declared on any kind.
fn declared(name: &str) -> Option<&'static schema::Field> {
    all_fields().find(|f| f.name == name)
}

/// Allow and deny lists: the kinds of an added and a removed element.
pub(super) fn list_sense(reading: Reading) -> Option<(&'static str, &'static str)> {
    match reading {
        Reading::AllowList => Some(("policy.allow_widened", "policy.allow_narrowed")),
        Reading::DenyList => Some(("policy.deny_widened", "policy.deny_narrowed")),
        _ => None,
    }
}
