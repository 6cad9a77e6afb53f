//! Comparing two packs: two [`Doc`]s → change facts.
//!
//! In: the base and head packs. Out: facts pushed to [`Changes`]: imports by
//! pack name, constants by name, blocks by kind and name (nested blocks
//! under their parent), fields by value, written or default. Every change
//! inside a block carries the block and the justification beside it.

use std::borrow::Cow;

use serde_json::Value as Json;
use tenet_dsl::ast::{Block, Expr};
use tenet_dsl::fmt::expr_to_string;
use tenet_dsl::schema::{self, Reading};

use super::expr::*;
use super::fields::*;
use super::items::*;
use super::read::Doc;
use super::uses::{const_uses, find_block, ConstUse};
use crate::change::{Change, Changes};

pub(super) struct Differ<'d> {
    pub(super) a: &'d Doc,
    pub(super) b: &'d Doc,
    pub(super) pack: String,
    pub(super) out: &'d mut Changes,
    /// The block being compared, for the facts every change in it carries.
    pub(super) at: Beside,
}

/// Where a change is, for the policy lint: its block and the justification
/// beside it on each side.
#[derive(Debug, Clone, Default)]
pub(super) struct Beside {
    /// The block's path in the pack, without the pack name.
    pub(super) block: Option<String>,
    /// The nearest `justification` in the head: the block's own, else its parent's.
    pub(super) head: Option<String>,
    /// The same in the base.
    pub(super) base: Option<String>,
}

/// A block's own `justification`, when it says something.
pub(super) fn justification(b: &Block) -> Option<String> {
    b.attr("justification")
        .map(|a| text(&a.value).trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Both sides of one block field: value (written or default) and line.
pub(super) struct Pair<'e> {
    pub(super) a: Option<Cow<'e, Expr>>,
    pub(super) b: Option<Cow<'e, Expr>>,
    pub(super) la: u32,
    pub(super) lb: u32,
}

impl Differ<'_> {
    pub(super) fn push(&mut self, mut c: Change) {
        if let Some(b) = &self.at.block {
            c = c.fact("block", b.as_str());
        }
        if let Some(j) = &self.at.head {
            let new = self.at.base.as_ref() != Some(j);
            c = c
                .fact("justification", j.as_str())
                .fact("justification_new", new);
        }
        self.out.push(c);
    }

    /// A block path without the pack name.
    pub(super) fn in_pack(&self, path: &str) -> String {
        path.strip_prefix(&self.pack)
            .and_then(|p| p.strip_prefix('.'))
            .unwrap_or(path)
            .to_string()
    }

    pub(super) fn pack(&mut self) {
        let (pa, pb) = (&self.a.pack, &self.b.pack);
        let (la, lb) = (self.a.line(pa.version_span), self.b.line(pb.version_span));
        if pa.name.name != pb.name.name {
            self.push(
                Change::new("policy.pack_renamed", self.pack.clone())
                    .lines(self.a.line(pa.name.span), self.b.line(pb.name.span))
                    .from_to(pa.name.name.as_str(), pb.name.name.as_str()),
            );
        }
        if pa.version != pb.version {
            let mut c = Change::new("policy.version_changed", self.pack.clone())
                .lines(la, lb)
                .from_to(pa.version.as_str(), pb.version.as_str());
            if let Some(bump) = bump(&pa.version, &pb.version) {
                c = c.fact("bump", bump);
            }
            self.push(c);
        }
        self.imports();
        self.constants();
        let ba: Vec<&Block> = blocks(pa);
        let bb: Vec<&Block> = blocks(pb);
        let root = self.pack.clone();
        self.blocks(&root, None, &ba, &bb, 0, 0);
    }

    pub(super) fn imports(&mut self) {
        let (a, b) = (self.a, self.b);
        let ia: Vec<_> = imports(&a.pack);
        let ib: Vec<_> = imports(&b.pack);
        for x in &ia {
            let path = join(&self.pack, &format!("import {}", x.pack.name));
            match ib.iter().find(|y| y.pack.name == x.pack.name) {
                None => self.push(
                    Change::new("policy.import_removed", path)
                        .lines(a.line(x.span), 0)
                        .fact("name", x.pack.name.as_str()),
                ),
                Some(y) => {
                    let (aa, ab) = (
                        x.alias.as_ref().map(|i| i.name.as_str()),
                        y.alias.as_ref().map(|i| i.name.as_str()),
                    );
                    if aa != ab {
                        self.push(
                            Change::new("policy.field_changed", join(&path, "alias"))
                                .lines(a.line(x.span), b.line(y.span))
                                .from_to(aa, ab)
                                .fact("field", "alias"),
                        );
                    }
                }
            }
        }
        for y in &ib {
            if !ia.iter().any(|x| x.pack.name == y.pack.name) {
                let path = join(&self.pack, &format!("import {}", y.pack.name));
                self.push(
                    Change::new("policy.import_added", path)
                        .lines(0, b.line(y.span))
                        .fact("name", y.pack.name.as_str()),
                );
            }
        }
    }

    pub(super) fn constants(&mut self) {
        let (a, b) = (self.a, self.b);
        let ca: Vec<_> = consts(&a.pack);
        let cb: Vec<_> = consts(&b.pack);
        for x in &ca {
            let name = x.name.name.as_str();
            let path = join(&self.pack, &format!("const {name}"));
            let la = a.line(x.span);
            let Some(y) = cb.iter().find(|y| y.name.name == name) else {
                self.push(
                    Change::new("policy.constant_removed", path)
                        .lines(la, 0)
                        .fact("name", name)
                        .fact("value", text(&x.value)),
                );
                continue;
            };
            let lb = b.line(y.span);
            let (va, vb) = (&x.value, &y.value);
            let reading = constant_reading(name);
            if same(va, vb, reading == Reading::Ordered) {
                continue;
            }
            if let (Some(sense), Some(xa), Some(xb)) =
                (list_sense(reading), as_list(va), as_list(vb))
            {
                self.list_elements(&path, name, xa, xb, la, lb, sense);
                continue;
            }
            let mut c = Change::new("policy.constant_changed", path)
                .lines(la, lb)
                .from_to(expr_to_string(va), expr_to_string(vb))
                .fact("name", name);
            // Where the head uses it: the pack judges a constant by the
            // fields it fills and the comparisons it bounds.
            let uses = const_uses(&b.pack, name);
            if let Some(field) = uses.iter().find_map(|u| u.field_value.then_some(&u.field)) {
                c = c.fact("field", field.as_str());
            }
            if let Some(u) = uses.first() {
                let base_block = find_block(&a.pack, &u.block);
                let (jh, jb) = (
                    find_block(&b.pack, &u.block).and_then(justification),
                    base_block.and_then(justification),
                );
                if let Some(j) = jh {
                    let new = jb.as_ref() != Some(&j);
                    c = c.fact("justification", j).fact("justification_new", new);
                }
            }
            c = c.fact(
                "uses",
                uses.iter().map(ConstUse::to_json).collect::<Vec<_>>(),
            );
            if let (Some((ua, na)), Some((ub, nb))) = (number(va), number(vb)) {
                c = c
                    .fact("from_number", num_json(na))
                    .fact("to_number", num_json(nb));
                if ua == ub {
                    c = c.fact("increased", nb > na).fact("unit", ua);
                }
            }
            if let (Some(xa), Some(xb)) = (as_list(va), as_list(vb)) {
                let added: Vec<String> = missing(xb, xa).into_iter().map(text).collect();
                let removed: Vec<String> = missing(xa, xb).into_iter().map(text).collect();
                c = c.fact("added", added).fact("removed", removed);
            }
            self.push(c);
        }
        for y in &cb {
            let name = y.name.name.as_str();
            if !ca.iter().any(|x| x.name.name == name) {
                self.push(
                    Change::new(
                        "policy.constant_added",
                        join(&self.pack, &format!("const {name}")),
                    )
                    .lines(0, b.line(y.span))
                    .fact("name", name)
                    .fact("value", text(&y.value)),
                );
            }
        }
    }

    /// Matches blocks by kind and name under one parent.
    pub(super) fn blocks(
        &mut self,
        path: &str,
        parent: Option<&str>,
        ba: &[&Block],
        bb: &[&Block],
        pla: u32,
        plb: u32,
    ) {
        let (a, b) = (self.a, self.b);
        let ka = keyed(ba);
        let kb = keyed(bb);
        for (key, x) in &ka {
            let p = join(path, &block_seg(x, key.2));
            match kb.iter().find(|(k, _)| k == key) {
                Some((_, y)) => self.block(&p, x, y),
                None => self.block_gone(&p, parent, x, a.line(x.span), plb, false),
            }
        }
        for (key, y) in &kb {
            if !ka.iter().any(|(k, _)| k == key) {
                let p = join(path, &block_seg(y, key.2));
                self.block_gone(&p, parent, y, pla, b.line(y.span), true);
            }
        }
        // Stages run in the order they are written.
        for kind in ORDERED_KINDS {
            let names = |from: &[((String, String, usize), &Block)],
                         other: &[((String, String, usize), &Block)]|
             -> Vec<String> {
                from.iter()
                    .filter(|(k, _)| k.0 == *kind && other.iter().any(|(o, _)| o == k))
                    .map(|(k, _)| k.1.clone())
                    .collect()
            };
            let (oa, ob) = (names(&ka, &kb), names(&kb, &ka));
            if oa != ob {
                self.push(
                    Change::new("policy.block_reordered", path)
                        .lines(pla, plb)
                        .from_to(oa, ob)
                        .fact("block_kind", *kind),
                );
            }
        }
    }

    /// A block present on one side only.
    pub(super) fn block_gone(
        &mut self,
        path: &str,
        parent: Option<&str>,
        x: &Block,
        la: u32,
        lb: u32,
        added: bool,
    ) {
        let kind = x.kind.name.as_str();
        let name = x.name_str();
        // A removed block is judged by what its parent says in the head; an
        // added one by its own justification, else its parent's.
        let saved = self.at.clone();
        self.at.block = Some(self.in_pack(path));
        if added {
            if let Some(j) = justification(x) {
                self.at.head = Some(j);
            }
        }
        let c = match kind {
            "waiver" => {
                let mut c = Change::new(
                    if added {
                        "policy.waiver_added"
                    } else {
                        "policy.waiver_removed"
                    },
                    path,
                )
                .fact("name", name);
                if let Some(rules) = x.attr("rules").and_then(|r| as_list(&r.value)) {
                    c = c.fact("rules", rules.iter().map(text).collect::<Vec<_>>());
                }
                for f in ["expires", "owner", "when"] {
                    if let Some(v) = x.attr(f) {
                        c = c.fact(f, text(&v.value));
                    }
                }
                c
            }
            "test" => Change::new("policy.test_changed", path)
                .fact("name", name)
                .fact("change", if added { "added" } else { "removed" }),
            _ => {
                let mut c = Change::new(
                    if added {
                        "policy.block_added"
                    } else {
                        "policy.block_removed"
                    },
                    path,
                )
                .fact("block_kind", kind)
                .fact("name", name);
                if let Some(p) = parent {
                    c = c.fact("parent", p);
                }
                for f in ["enforcement", "risk", "severity", "dry_run"] {
                    if let Some(v) = effective(x, f) {
                        c = c.fact(
                            f,
                            as_bool(&v)
                                .map(Json::Bool)
                                .unwrap_or_else(|| Json::String(text(&v))),
                        );
                    }
                }
                c
            }
        };
        self.push(c.lines(la, lb));
        self.at = saved;
    }

    /// A block present on both sides.
    pub(super) fn block(&mut self, path: &str, x: &Block, y: &Block) {
        let saved = self.at.clone();
        self.at = Beside {
            block: Some(self.in_pack(path)),
            head: justification(y).or_else(|| saved.head.clone()),
            base: justification(x).or_else(|| saved.base.clone()),
        };
        self.block_fields(path, x, y);
        self.at = saved;
    }

    pub(super) fn block_fields(&mut self, path: &str, x: &Block, y: &Block) {
        let (a, b) = (self.a, self.b);
        let (la, lb) = (a.line(x.span), b.line(y.span));
        match x.kind.name.as_str() {
            "waiver" => return self.waiver(path, x, y, la, lb),
            "test" => return self.test(path, x, y, la, lb),
            _ => {}
        }
        let kind = x.kind.name.as_str();
        for field in field_names(x, y) {
            let pair = Pair {
                a: effective(x, field),
                b: effective(y, field),
                la: x.attr(field).map_or(la, |v| a.line(v.span)),
                lb: y.attr(field).map_or(lb, |v| b.line(v.span)),
            };
            let written = (x.attr(field).is_some(), y.attr(field).is_some());
            self.field(kind, &join(path, field), field, &pair, written);
        }
        self.blocks(path, Some(&x.title()), &children(x), &children(y), la, lb);
    }

    /// One field of a block present on both sides.
    pub(super) fn field(
        &mut self,
        kind: &str,
        path: &str,
        field: &str,
        p: &Pair,
        written: (bool, bool),
    ) {
        let (va, vb) = (p.a.as_deref(), p.b.as_deref());
        let reading = reading(kind, field);
        let ordered = reading == Reading::Ordered;
        match (va, vb) {
            (None, None) => return,
            (Some(x), Some(y)) if same(x, y, ordered) => return,
            _ => {}
        }
        let base = |k: &str| Change::new(k, path).lines(p.la, p.lb).fact("field", field);
        let written_facts = |c: Change| {
            if written.0 && written.1 {
                c
            } else {
                c.fact("defaulted", if written.0 { "to" } else { "from" })
            }
        };
        if reading == Reading::Prose {
            return self.push(base("description.changed").from_to(text_json(va), text_json(vb)));
        }
        if field == "tags" {
            return self.push(base("metadata.changed").from_to(text_json(va), text_json(vb)));
        }
        if field == "enforcement" {
            let mut c = base("policy.enforcement_changed").from_to(text_json(va), text_json(vb));
            let rank = |e: Option<&Expr>| {
                e.and_then(|e| schema::ENFORCEMENT.iter().position(|l| *l == text(e)))
            };
            if let (Some(ra), Some(rb)) = (rank(va), rank(vb)) {
                c = c.fact("lowered", rb < ra);
            }
            return self.push(written_facts(c));
        }
        if field == "dry_run" {
            let j = |e: Option<&Expr>| match e.and_then(as_bool) {
                Some(v) => Json::Bool(v),
                None => text_json(e),
            };
            return self.push(written_facts(
                base("policy.dry_run_changed").from_to(j(va), j(vb)),
            ));
        }
        if let (Some(x), Some(y)) = (va, vb) {
            if is_level(kind, field) {
                let mut c = base("policy.risk_changed").from_to(text(x), text(y));
                let levels = &self.b.levels;
                let rank = |e: &Expr| levels.iter().position(|l| *l == text(e));
                if let (Some(ra), Some(rb)) = (rank(x), rank(y)) {
                    c = c.fact("raised", rb < ra);
                }
                return self.push(written_facts(c));
            }
            if is_condition(kind, field) {
                return self.push(written_facts(
                    base("policy.condition_changed").from_to(expr_to_string(x), expr_to_string(y)),
                ));
            }
        }
        // Lists: element by element (an absent list with no default is empty,
        // except for allow/deny lists, where absence may mean "anything").
        let empty: &[Expr] = &[];
        let la = va.map_or(Some(empty), as_list);
        let lb = vb.map_or(Some(empty), as_list);
        if let (Some(xa), Some(xb)) = (la, lb) {
            let sense = list_sense(reading);
            if ordered {
                return self.ordered_list(path, field, xa, xb, p);
            }
            if sense.is_none() || (va.is_some() && vb.is_some()) {
                let sense =
                    sense.unwrap_or(("policy.requirement_added", "policy.requirement_removed"));
                return self.list_elements(path, field, xa, xb, p.la, p.lb, sense);
            }
        }
        let (x, y) = match (va, vb) {
            (Some(x), Some(y)) => (x, y),
            (Some(x), None) | (None, Some(x)) => {
                let added = va.is_none();
                let mut c = base(if added {
                    "policy.field_added"
                } else {
                    "policy.field_removed"
                })
                .fact("value", text(x))
                .fact("category", category(kind, field, x));
                if let Some((u, n)) = number(x) {
                    c = c.fact("value_number", num_json(n)).fact("unit", u);
                }
                return self.push(c);
            }
            (None, None) => return,
        };
        if let (Some((ua, na)), Some((ub, nb)), false) = (number(x), number(y), field == "version")
        {
            if ua == ub {
                let c = base("threshold.changed")
                    .from_to(expr_to_string(x), expr_to_string(y))
                    .fact("from_number", num_json(na))
                    .fact("to_number", num_json(nb))
                    .fact("increased", nb > na)
                    .fact("unit", ua);
                return self.push(written_facts(c));
            }
        }
        self.push(written_facts(
            base("policy.field_changed").from_to(text(x), text(y)),
        ))
    }

    /// Set-like lists: one fact per element added or removed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn list_elements(
        &mut self,
        path: &str,
        field: &str,
        xa: &[Expr],
        xb: &[Expr],
        la: u32,
        lb: u32,
        sense: (&str, &str),
    ) {
        for x in missing(xa, xb) {
            self.push(
                Change::new(sense.1, path)
                    .lines(la, lb)
                    .fact("field", field)
                    .fact("value", text(x)),
            );
        }
        for y in missing(xb, xa) {
            self.push(
                Change::new(sense.0, path)
                    .lines(la, lb)
                    .fact("field", field)
                    .fact("value", text(y)),
            );
        }
    }

    /// Lists whose order is meaning (`levels`, `order`, `bounds`).
    pub(super) fn ordered_list(
        &mut self,
        path: &str,
        field: &str,
        xa: &[Expr],
        xb: &[Expr],
        p: &Pair,
    ) {
        if xa.len() == xb.len() {
            let nums: Option<Vec<_>> = xa
                .iter()
                .zip(xb)
                .map(|(x, y)| Some((number(x)?, number(y)?)))
                .collect();
            if let Some(nums) = nums.filter(|n| n.iter().all(|((ua, _), (ub, _))| ua == ub)) {
                for (i, ((u, na), (_, nb))) in nums.into_iter().enumerate() {
                    if na != nb {
                        let f = format!("{field}[{i}]");
                        self.push(
                            Change::new("threshold.changed", join(path, &i.to_string()))
                                .lines(p.la, p.lb)
                                .from_to(expr_to_string(&xa[i]), expr_to_string(&xb[i]))
                                .fact("field", f)
                                .fact("from_number", num_json(na))
                                .fact("to_number", num_json(nb))
                                .fact("increased", nb > na)
                                .fact("unit", u),
                        );
                    }
                }
                return;
            }
        }
        let ta: Vec<String> = xa.iter().map(text).collect();
        let tb: Vec<String> = xb.iter().map(text).collect();
        let reordered = {
            let (mut sa, mut sb) = (ta.clone(), tb.clone());
            sa.sort();
            sb.sort();
            sa == sb
        };
        self.push(
            Change::new("policy.field_changed", path)
                .lines(p.la, p.lb)
                .from_to(ta, tb)
                .fact("field", field)
                .fact("reordered", reordered),
        );
    }

    pub(super) fn waiver(&mut self, path: &str, x: &Block, y: &Block, la: u32, lb: u32) {
        let (a, b) = (self.a, self.b);
        for field in field_names(x, y) {
            let (va, vb) = (
                x.attr(field).map(|v| &v.value),
                y.attr(field).map(|v| &v.value),
            );
            if let (Some(p), Some(q)) = (va, vb) {
                if same(p, q, false) {
                    continue;
                }
            }
            let mut c = Change::new("policy.waiver_changed", join(path, field))
                .lines(
                    x.attr(field).map_or(la, |v| a.line(v.span)),
                    y.attr(field).map_or(lb, |v| b.line(v.span)),
                )
                .from_to(text_json(va), text_json(vb))
                .fact("name", x.name_str())
                .fact("field", field);
            if field == "expires" {
                if let (Some(p), Some(q)) = (va, vb) {
                    c = c.fact("extended", text(q) > text(p));
                }
            }
            let empty: &[Expr] = &[];
            if let (Some(p), Some(q)) = (
                va.map_or(Some(empty), as_list),
                vb.map_or(Some(empty), as_list),
            ) {
                let added: Vec<String> = missing(q, p).into_iter().map(text).collect();
                let removed: Vec<String> = missing(p, q).into_iter().map(text).collect();
                c = c.fact("added", added).fact("removed", removed);
            }
            self.push(c);
        }
    }

    pub(super) fn test(&mut self, path: &str, x: &Block, y: &Block, la: u32, lb: u32) {
        let fields: Vec<&str> = field_names(x, y)
            .into_iter()
            .filter(|f| match (x.attr(f), y.attr(f)) {
                // A test's lists are sets (`expect`, `expect_not`,
                // `expect_inconclusive`...) unless the table says ordered.
                (Some(p), Some(q)) => {
                    !same(&p.value, &q.value, reading("test", f) == Reading::Ordered)
                }
                _ => true,
            })
            .collect();
        if !fields.is_empty() {
            self.push(
                Change::new("policy.test_changed", path)
                    .lines(la, lb)
                    .fact("name", x.name_str())
                    .fact("change", "changed")
                    .fact("fields", fields),
            );
        }
    }
}

/// `major`, `minor`, `patch`, `prerelease` or `downgrade`.
pub(super) fn bump(from: &str, to: &str) -> Option<&'static str> {
    let (a, b) = (
        semver::Version::parse(from).ok()?,
        semver::Version::parse(to).ok()?,
    );
    Some(if b < a {
        "downgrade"
    } else if b.major != a.major {
        "major"
    } else if b.minor != a.minor {
        "minor"
    } else if b.patch != a.patch {
        "patch"
    } else {
        "prerelease"
    })
}
