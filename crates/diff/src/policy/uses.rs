//! Where a constant is used: the blocks and fields it fills and the
//! comparisons it bounds.
//!
//! In: a pack and a constant's name. Out: each use, with whether the
//! constant is the field's whole value and which way a comparison with it
//! holds for more inputs, for the facts of `policy.constant_changed`.

use serde_json::Value as Json;
use tenet_dsl::ast::{BinOp, Block, Entry, Expr, ExprKind, Pack, TemplatePart};

use super::items::blocks;

/// One place a constant is used in a pack.
pub(super) struct ConstUse {
    pub(super) block_kind: String,
    /// `kind name`, nested blocks joined with `/`.
    pub(super) block: String,
    pub(super) field: String,
    /// The constant is the field's whole value (`max_parallel wave_size`).
    pub(super) field_value: bool,
    /// For a comparison with the constant: whether the comparison holds
    /// for more inputs when the constant is `higher` or `lower`
    /// (`x >= limit` holds more when `limit` is lower).
    pub(super) holds_more_when: Option<&'static str>,
}

impl ConstUse {
    pub(super) fn to_json(&self) -> Json {
        let mut m = serde_json::Map::new();
        m.insert("block_kind".into(), self.block_kind.clone().into());
        m.insert("block".into(), self.block.clone().into());
        m.insert("field".into(), self.field.clone().into());
        m.insert("field_value".into(), self.field_value.into());
        if let Some(h) = self.holds_more_when {
            m.insert("holds_more_when".into(), h.into());
        }
        Json::Object(m)
    }
}

/// Every use of constant `name` in the blocks of `p`, in order.
pub(super) fn const_uses(p: &Pack, name: &str) -> Vec<ConstUse> {
    fn walk_expr(e: &Expr, name: &str, hit: &mut dyn FnMut(Option<&'static str>)) {
        let is = |x: &Expr| matches!(&x.kind, ExprKind::Name(n) if n == name);
        match &e.kind {
            ExprKind::Binary(op, l, r) => {
                let sense = |const_on_right: bool| match (op, const_on_right) {
                    (BinOp::Gt | BinOp::Ge, true) | (BinOp::Lt | BinOp::Le, false) => Some("lower"),
                    (BinOp::Lt | BinOp::Le, true) | (BinOp::Gt | BinOp::Ge, false) => {
                        Some("higher")
                    }
                    _ => None,
                };
                if is(r) {
                    hit(sense(true));
                } else {
                    walk_expr(r, name, hit);
                }
                if is(l) {
                    hit(sense(false));
                } else {
                    walk_expr(l, name, hit);
                }
            }
            ExprKind::Name(n) if n == name => hit(None),
            ExprKind::List(xs) | ExprKind::Call(_, xs) => {
                xs.iter().for_each(|x| walk_expr(x, name, hit))
            }
            ExprKind::Map(es) => es.iter().for_each(|(_, x)| walk_expr(x, name, hit)),
            ExprKind::Member(x, _) | ExprKind::Unary(_, x) => walk_expr(x, name, hit),
            ExprKind::Index(a, b) => {
                walk_expr(a, name, hit);
                walk_expr(b, name, hit);
            }
            ExprKind::If(c, t, f) => {
                walk_expr(c, name, hit);
                walk_expr(t, name, hit);
                walk_expr(f, name, hit);
            }
            ExprKind::Template(parts) => parts.iter().for_each(|p| {
                if let TemplatePart::Expr(x) = p {
                    walk_expr(x, name, hit)
                }
            }),
            _ => {}
        }
    }
    fn walk_block(b: &Block, parent: &str, name: &str, out: &mut Vec<ConstUse>) {
        let label = format!("{} {}", b.kind.name, b.name_str());
        let label = label.trim_end().to_string();
        let path = if parent.is_empty() {
            label
        } else {
            format!("{parent}/{label}")
        };
        for e in &b.entries {
            match e {
                Entry::Attr(a) => {
                    let whole = matches!(&a.value.kind, ExprKind::Name(n) if n == name);
                    let mut hits = Vec::new();
                    walk_expr(&a.value, name, &mut |h| hits.push(h));
                    for h in hits {
                        out.push(ConstUse {
                            block_kind: b.kind.name.clone(),
                            block: path.clone(),
                            field: a.key.name.clone(),
                            field_value: whole,
                            holds_more_when: h,
                        });
                    }
                }
                Entry::Block(child) => walk_block(child, &path, name, out),
            }
        }
    }
    let mut out = Vec::new();
    for b in blocks(p) {
        walk_block(b, "", name, &mut out);
    }
    out
}

/// A block by the path `const_uses` gives it.
pub(super) fn find_block<'p>(p: &'p Pack, path: &str) -> Option<&'p Block> {
    let mut parts = path.split('/');
    let first = parts.next()?;
    let label = |b: &Block| {
        format!("{} {}", b.kind.name, b.name_str())
            .trim_end()
            .to_string()
    };
    let mut cur = blocks(p).into_iter().find(|b| label(b) == first)?;
    for part in parts {
        cur = cur.entries.iter().find_map(|e| match e {
            Entry::Block(c) if label(c) == part => Some(c),
            _ => None,
        })?;
    }
    Some(cur)
}
