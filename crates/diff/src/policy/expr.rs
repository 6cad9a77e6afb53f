//! Expressions compared by meaning.
//!
//! In: expressions of the two packs. Out: a canonical text (literal
//! spellings such as `10_000`/`10000` or `60s`/`1m` and map key order do not
//! count), the text a person reads, numbers normalised to their unit, and
//! whether two values mean the same.

use std::collections::HashSet;

use serde_json::{json, Value as Json};
use tenet_dsl::ast::{Expr, ExprKind, Lit, TemplatePart, UnOp};
use tenet_dsl::fmt::expr_to_string;

/// Canonical text for comparison: literal spellings normalised, map
/// literal keys sorted.
pub(super) fn norm(e: &Expr) -> String {
    let mut c = e.clone();
    canon(&mut c);
    expr_to_string(&c)
}

pub(super) fn canon(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Lit(l) => match l {
            Lit::Int { value, raw } => *raw = value.to_string(),
            Lit::Float { value, raw } => *raw = format!("{value:?}"),
            Lit::Duration { ms, raw } => *raw = format!("{ms}ms"),
            Lit::Percent { value, raw } => *raw = format!("{value:?}%"),
            Lit::Size { bytes, raw } => *raw = format!("{bytes}B"),
            _ => {}
        },
        ExprKind::Template(parts) => {
            for p in parts {
                if let TemplatePart::Expr(x) = p {
                    canon(x);
                }
            }
        }
        ExprKind::List(items) => items.iter_mut().for_each(canon),
        ExprKind::Map(entries) => {
            for (_, v) in entries.iter_mut() {
                canon(v);
            }
            entries.sort_by(|x, y| x.0.name.cmp(&y.0.name));
        }
        ExprKind::Name(_) => {}
        ExprKind::Member(x, _) | ExprKind::Unary(_, x) | ExprKind::Paren(x) => canon(x),
        ExprKind::Index(x, y) | ExprKind::Binary(_, x, y) | ExprKind::Quant(_, _, x, y) => {
            canon(x);
            canon(y);
        }
        ExprKind::Call(_, args) => args.iter_mut().for_each(canon),
        ExprKind::If(c, t, f) => {
            canon(c);
            canon(t);
            canon(f);
        }
    }
}

/// What a person reads: a string literal's text (with its `{expr}` parts),
/// else the canonical text of the expression.
pub(super) fn text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Template(parts) => parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => t.clone(),
                TemplatePart::Expr(x) => format!("{{{}}}", expr_to_string(x)),
            })
            .collect(),
        _ => expr_to_string(e),
    }
}

pub(super) fn text_json(e: Option<&Expr>) -> Json {
    e.map(|e| Json::String(text(e))).unwrap_or(Json::Null)
}

/// A numeric literal normalised to its unit: plain numbers, seconds,
/// fractions (percentages: `5%` is 0.05) or bytes.
pub(super) fn number(e: &Expr) -> Option<(&'static str, f64)> {
    match &e.kind {
        ExprKind::Lit(Lit::Int { value, .. }) => Some(("number", *value as f64)),
        ExprKind::Lit(Lit::Float { value, .. }) => Some(("number", *value)),
        ExprKind::Lit(Lit::Duration { ms, .. }) => Some(("seconds", *ms as f64 / 1000.0)),
        ExprKind::Lit(Lit::Percent { value, .. }) => Some(("percent", *value / 100.0)),
        ExprKind::Lit(Lit::Size { bytes, .. }) => Some(("bytes", *bytes as f64)),
        ExprKind::Unary(UnOp::Neg, x) => number(x).map(|(u, v)| (u, -v)),
        ExprKind::Paren(x) => number(x),
        _ => None,
    }
}

pub(super) fn num_json(v: f64) -> Json {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

pub(super) fn as_list(e: &Expr) -> Option<&[Expr]> {
    match &e.kind {
        ExprKind::List(xs) => Some(xs),
        _ => None,
    }
}

pub(super) fn as_bool(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::Lit(Lit::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Two values that mean the same.
pub(super) fn same(a: &Expr, b: &Expr, ordered: bool) -> bool {
    if let (Some((ua, va)), Some((ub, vb))) = (number(a), number(b)) {
        return ua == ub && va == vb;
    }
    if let (false, Some(xa), Some(xb)) = (ordered, as_list(a), as_list(b)) {
        let sa: HashSet<String> = xa.iter().map(norm).collect();
        let sb: HashSet<String> = xb.iter().map(norm).collect();
        return sa == sb;
    }
    norm(a) == norm(b)
}

/// Elements of `from` missing from `to`, once each, in order.
pub(super) fn missing<'e>(from: &'e [Expr], to: &[Expr]) -> Vec<&'e Expr> {
    let keep: HashSet<String> = to.iter().map(norm).collect();
    let mut seen = HashSet::new();
    from.iter()
        .filter(|x| !keep.contains(&norm(x)) && seen.insert(norm(x)))
        .collect()
}
