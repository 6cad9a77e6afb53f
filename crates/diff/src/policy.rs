//! tenet rule packs (`.tenet` files): what a change to a policy means.
//!
//! Both sides are parsed with the tenet grammar (never checked: a pack that
//! imports others cannot be checked alone) and compared item by item:
//! imports by pack name, constants by name, blocks by kind and name (nested
//! blocks under their parent). Expressions are compared by a normalised
//! canonical text (literal spellings such as `10_000`/`10000` or `60s`/`1m`
//! and the key order of map literals do not count), so comments, layout and
//! the order of items never yield a change.
//!
//! An absent field is read as its schema default (`enforcement` of a `rule`
//! is `advisory`, of an `action` `hard_mandatory`): writing a default out
//! changes nothing.
//!
//! Facts (paths are `<pack>.<kind> <name>[.<kind> <name>...].<field>`):
//! `policy.version_changed`, `policy.pack_renamed`, `policy.import_added`,
//! `policy.import_removed`, `policy.constant_added`, `policy.constant_removed`,
//! `policy.constant_changed`, `policy.block_added`, `policy.block_removed`,
//! `policy.block_reordered` (rollout stages only), `policy.condition_changed`,
//! `policy.risk_changed`, `policy.requirement_added`,
//! `policy.requirement_removed`, `policy.enforcement_changed`,
//! `policy.dry_run_changed`, `policy.allow_widened`, `policy.allow_narrowed`,
//! `policy.deny_widened`, `policy.deny_narrowed`, `threshold.changed`,
//! `policy.waiver_added`, `policy.waiver_removed`, `policy.waiver_changed`,
//! `policy.test_changed`, `description.changed`, `metadata.changed`,
//! `policy.field_added`, `policy.field_removed`, `policy.field_changed`.
//! Whether a change is stricter or looser is left to the `semantic_diff` pack.
//!
//! For the policy lint, every change inside a block also carries `block`
//! (the block's path in the pack, `action mass-delete` or
//! `rollout bundle.stage canary`) and, when the head gives the block — or a
//! block it is nested in — a `justification`, that text as `justification`
//! with `justification_new` (true when this change wrote or rewrote it: the
//! base's nearest justification was absent or different). A removed block
//! takes its parent's. Whether a loosening is justified is the pack's call.

use super::change::{Change, Changes};
use super::tree::ParseError;
use super::{ArtifactError, Options};
use serde_json::{json, Value as Json};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use tenet_dsl::ast::{BinOp, Block, Entry, Expr, ExprKind, Item, Lit, Pack, TemplatePart, UnOp};
use tenet_dsl::fmt::expr_to_string;
use tenet_dsl::schema::{self, Ty};
use tenet_dsl::source::{FileId, SourceFile, Span};
use tenet_dsl::syntax;

/// Text fields read by people, not by the engine.
const TEXT_FIELDS: &[&str] = &[
    "because",
    "description",
    "justification",
    "rationale",
    "narrative",
    "reason",
    "remediation",
];
/// Lists whose order is their meaning.
const ORDERED_LISTS: &[&str] = &["levels", "order", "bounds"];
/// The risk levels of a pack without a taxonomy, highest first.
const DEFAULT_LEVELS: &[&str] = &["critical", "high", "medium", "low", "info"];
/// Nested kinds whose order under their parent is the order they run in.
const ORDERED_KINDS: &[&str] = &["stage"];

/// Parses a pack (syntax only).
pub fn parse(text: &str) -> Result<Pack, ParseError> {
    parse_side(text).map(|d| d.pack)
}

/// Diffs two versions of a pack.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let da = parse_side(a).map_err(ArtifactError::base)?;
    let db = parse_side(b).map_err(ArtifactError::head)?;
    let mut d = Differ {
        a: &da,
        b: &db,
        pack: da.pack.name.name.clone(),
        out,
        at: Beside::default(),
    };
    d.pack();
    Ok(())
}

/// One parsed side: the pack, its text (for lines) and its risk levels.
struct Doc {
    pack: Pack,
    src: SourceFile,
    levels: Vec<String>,
}

impl Doc {
    fn line(&self, span: Span) -> u32 {
        u32::try_from(self.src.line_col(span.start).0).unwrap_or(0)
    }
}

fn parse_side(input: &str) -> Result<Doc, ParseError> {
    let src = SourceFile::new("pack.tenet", input);
    let pack = syntax::parse(FileId(0), input).map_err(|diags| match diags.into_iter().next() {
        Some(d) => {
            let (line, col) = d.span.map(|s| src.line_col(s.start)).unwrap_or((1, 1));
            ParseError {
                line: u32::try_from(line).unwrap_or(0),
                col: u32::try_from(col).unwrap_or(0),
                message: d.message,
            }
        }
        None => ParseError {
            line: 1,
            col: 1,
            message: "could not parse this pack".into(),
        },
    })?;
    let levels = pack
        .items
        .iter()
        .find_map(|i| match i {
            Item::Block(b) if b.kind.name == "taxonomy" => {
                b.attr("levels").and_then(|a| match &a.value.kind {
                    ExprKind::List(xs) => Some(xs.iter().map(text).collect::<Vec<_>>()),
                    _ => None,
                })
            }
            _ => None,
        })
        .unwrap_or_else(|| DEFAULT_LEVELS.iter().map(|s| s.to_string()).collect());
    Ok(Doc { pack, src, levels })
}

// ---- expressions ----------------------------------------------------------

/// Canonical text for comparison: literal spellings normalised, map
/// literal keys sorted.
fn norm(e: &Expr) -> String {
    let mut c = e.clone();
    canon(&mut c);
    expr_to_string(&c)
}

fn canon(e: &mut Expr) {
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
fn text(e: &Expr) -> String {
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

fn text_json(e: Option<&Expr>) -> Json {
    e.map(|e| Json::String(text(e))).unwrap_or(Json::Null)
}

/// A numeric literal normalised to its unit: plain numbers, seconds,
/// fractions (percentages: `5%` is 0.05) or bytes.
fn number(e: &Expr) -> Option<(&'static str, f64)> {
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

fn num_json(v: f64) -> Json {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn as_list(e: &Expr) -> Option<&[Expr]> {
    match &e.kind {
        ExprKind::List(xs) => Some(xs),
        _ => None,
    }
}

fn as_bool(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::Lit(Lit::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// Two values that mean the same.
fn same(a: &Expr, b: &Expr, ordered: bool) -> bool {
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
fn missing<'e>(from: &'e [Expr], to: &[Expr]) -> Vec<&'e Expr> {
    let keep: HashSet<String> = to.iter().map(norm).collect();
    let mut seen = HashSet::new();
    from.iter()
        .filter(|x| !keep.contains(&norm(x)) && seen.insert(norm(x)))
        .collect()
}

fn ty_of(kind: &str, field: &str) -> Option<Ty> {
    schema::kind(kind)
        .and_then(|k| k.field(field))
        .map(|f| f.ty)
}

/// The value a block gives a field: written, else the schema default.
fn effective<'b>(b: &'b Block, field: &str) -> Option<Cow<'b, Expr>> {
    match b.attr(field) {
        Some(a) => Some(Cow::Borrowed(&a.value)),
        None => default(&b.kind.name, field).map(Cow::Owned),
    }
}

fn default(kind: &str, field: &str) -> Option<Expr> {
    let d = schema::kind(kind)?.field(field)?.default?;
    syntax::parse_expr(FileId(0), d).ok()
}

fn is_condition(kind: &str, field: &str) -> bool {
    match ty_of(kind, field) {
        Some(t) => matches!(t, Ty::Cond | Ty::Value | Ty::Selector),
        None => matches!(field, "when" | "match" | "filter") || field.ends_with("_when"),
    }
}

fn is_level(kind: &str, field: &str) -> bool {
    matches!(ty_of(kind, field), Some(Ty::Level)) || matches!(field, "risk" | "severity")
}

fn category(kind: &str, field: &str, e: &Expr) -> &'static str {
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
fn list_sense(field: &str) -> Option<(&'static str, &'static str)> {
    let f = field.to_ascii_lowercase();
    if f.contains("allow") {
        Some(("policy.allow_widened", "policy.allow_narrowed"))
    } else if f.contains("deny") {
        Some(("policy.deny_widened", "policy.deny_narrowed"))
    } else {
        None
    }
}

fn join(path: &str, seg: &str) -> String {
    format!("{path}.{seg}")
}

fn block_seg(b: &Block, occ: usize) -> String {
    let mut s = b.title();
    if occ > 0 {
        s.push_str(&format!("#{}", occ + 1));
    }
    s
}

/// Keys blocks by kind, name and occurrence, in order.
fn keyed<'b>(blocks: &[&'b Block]) -> Vec<((String, String, usize), &'b Block)> {
    let mut count: HashMap<(String, String), usize> = HashMap::new();
    blocks
        .iter()
        .map(|b| {
            let k = (b.kind.name.clone(), b.name_str().to_string());
            let n = count.entry(k.clone()).or_insert(0);
            let occ = *n;
            *n += 1;
            ((k.0, k.1, occ), *b)
        })
        .collect()
}

fn children(b: &Block) -> Vec<&Block> {
    b.entries
        .iter()
        .filter_map(|e| match e {
            Entry::Block(c) => Some(c),
            Entry::Attr(_) => None,
        })
        .collect()
}

/// Attribute keys of both blocks: the base's order, then the head's additions.
fn field_names<'b>(a: &'b Block, b: &'b Block) -> Vec<&'b str> {
    let mut names: Vec<&str> = Vec::new();
    for attr in a.attrs().chain(b.attrs()) {
        if !names.contains(&attr.key.name.as_str()) {
            names.push(&attr.key.name);
        }
    }
    names
}

// ---- the differ -------------------------------------------------------------

struct Differ<'d> {
    a: &'d Doc,
    b: &'d Doc,
    pack: String,
    out: &'d mut Changes,
    /// The block being compared, for the facts every change in it carries.
    at: Beside,
}

/// Where a change is, for the policy lint: its block and the justification
/// beside it on each side.
#[derive(Debug, Clone, Default)]
struct Beside {
    /// The block's path in the pack, without the pack name.
    block: Option<String>,
    /// The nearest `justification` in the head: the block's own, else its parent's.
    head: Option<String>,
    /// The same in the base.
    base: Option<String>,
}

/// A block's own `justification`, when it says something.
fn justification(b: &Block) -> Option<String> {
    b.attr("justification")
        .map(|a| text(&a.value).trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Both sides of one block field: value (written or default) and line.
struct Pair<'e> {
    a: Option<Cow<'e, Expr>>,
    b: Option<Cow<'e, Expr>>,
    la: u32,
    lb: u32,
}

impl Differ<'_> {
    fn push(&mut self, mut c: Change) {
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
    fn in_pack(&self, path: &str) -> String {
        path.strip_prefix(&self.pack)
            .and_then(|p| p.strip_prefix('.'))
            .unwrap_or(path)
            .to_string()
    }

    fn pack(&mut self) {
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

    fn imports(&mut self) {
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

    fn constants(&mut self) {
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
            let ordered = ORDERED_LISTS
                .iter()
                .any(|o| name.to_ascii_lowercase().contains(o));
            if same(va, vb, ordered) {
                continue;
            }
            if let (Some(sense), Some(xa), Some(xb)) = (list_sense(name), as_list(va), as_list(vb))
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
    fn blocks(
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
    fn block_gone(
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
    fn block(&mut self, path: &str, x: &Block, y: &Block) {
        let saved = self.at.clone();
        self.at = Beside {
            block: Some(self.in_pack(path)),
            head: justification(y).or_else(|| saved.head.clone()),
            base: justification(x).or_else(|| saved.base.clone()),
        };
        self.block_fields(path, x, y);
        self.at = saved;
    }

    fn block_fields(&mut self, path: &str, x: &Block, y: &Block) {
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
    fn field(&mut self, kind: &str, path: &str, field: &str, p: &Pair, written: (bool, bool)) {
        let (va, vb) = (p.a.as_deref(), p.b.as_deref());
        let ordered = ORDERED_LISTS.contains(&field);
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
        if TEXT_FIELDS.contains(&field) {
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
            let sense = list_sense(field);
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
    fn list_elements(
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
    fn ordered_list(&mut self, path: &str, field: &str, xa: &[Expr], xb: &[Expr], p: &Pair) {
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

    fn waiver(&mut self, path: &str, x: &Block, y: &Block, la: u32, lb: u32) {
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

    fn test(&mut self, path: &str, x: &Block, y: &Block, la: u32, lb: u32) {
        let fields: Vec<&str> = field_names(x, y)
            .into_iter()
            .filter(|f| match (x.attr(f), y.attr(f)) {
                (Some(p), Some(q)) => !same(&p.value, &q.value, *f != "expect"),
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

/// One place a constant is used in a pack.
struct ConstUse {
    block_kind: String,
    /// `kind name`, nested blocks joined with `/`.
    block: String,
    field: String,
    /// The constant is the field's whole value (`max_parallel wave_size`).
    field_value: bool,
    /// For a comparison with the constant: whether the comparison holds
    /// for more inputs when the constant is `higher` or `lower`
    /// (`x >= limit` holds more when `limit` is lower).
    holds_more_when: Option<&'static str>,
}

impl ConstUse {
    fn to_json(&self) -> Json {
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
fn const_uses(p: &Pack, name: &str) -> Vec<ConstUse> {
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
fn find_block<'p>(p: &'p Pack, path: &str) -> Option<&'p Block> {
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

fn blocks(p: &Pack) -> Vec<&Block> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn imports(p: &Pack) -> Vec<&tenet_dsl::ast::Import> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Import(x) => Some(x),
            _ => None,
        })
        .collect()
}

fn consts(p: &Pack) -> Vec<&tenet_dsl::ast::Const> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Const(x) => Some(x),
            _ => None,
        })
        .collect()
}

/// `major`, `minor`, `patch`, `prerelease` or `downgrade`.
fn bump(from: &str, to: &str) -> Option<&'static str> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const BASE: &str = r#"tenet 1
pack safety version "1.2.0"

import shared
import common as c

const mass_delete_rows = 10_000
const approver_roles = ["data-owner", "sec-oncall"]
const prod_allowlist = ["prod-a", "prod-b"]
const hold_time = 30m

# Risk levels.
taxonomy risk {
  levels [critical, high, medium, low]
}

action mass-delete {
  match        action.verb == "delete" and action.rows >= mass_delete_rows
  risk         high
  require      [dual_control, justification]
  hold         30m
  approvers    approver_roles
  approvals    2
  enforcement  soft_mandatory
  because      "deleting {action.rows} rows cannot be undone"
  tags         ["data"]
}

rule old-rule {
  when  input.x > 1
  risk  low
}

guard prod {
  deny_when      cluster.env == "prod"
  prod_allowlist ["a"]
  deny_roles     ["intern", "contractor"]
  risk           high
}

rollout bundle {
  target  {labels: {sidecar: "tenet"}, not_in: {lifecycle: ["old"]}}
  on_fail pause

  stage canary {
    select {labels: {env: "staging"}}
    bake   30m
    gate errors {
      metric    metrics.err
      fail_when metrics.err > 1%
      interval  1m
    }
  }

  stage global {
    select {labels: {env: "prod"}}
    bake   4h
  }
}

profile regulator {
  factor mfa {
    source "iam.mfa"
    weight 3
    bounds [0, 100]
  }
  badge gold {
    rank 3
    hysteresis {
      enter 85
      exit  80
    }
  }
}

waiver nightly {
  rules         ["mass-delete"]
  owner         "data"
  justification "nightly job"
  expires       "2027-06-30"
}

waiver old-waiver {
  rules         ["old-rule"]
  owner         "x"
  justification "y"
  expires       "2026-01-01"
}

test t-one {
  input  {action: {verb: "delete", rows: 20_000}}
  expect ["mass-delete"]
}

test t-gone {
  input  {}
  expect []
}
"#;

    fn run(a: &str, b: &str) -> Vec<Change> {
        let mut out = Changes::default();
        match diff(a, b, &Options::default(), &mut out) {
            Ok(()) => out.0,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn edit(a: &str, b: &str) -> Vec<Change> {
        run(BASE, &BASE.replacen(a, b, 1))
    }

    fn one(changes: &[Change], kind: &str) -> Change {
        let found: Vec<&Change> = changes.iter().filter(|c| c.kind == kind).collect();
        assert_eq!(found.len(), 1, "expected one {kind} in {changes:#?}");
        found[0].clone()
    }

    fn only(changes: &[Change], kind: &str) -> Change {
        assert_eq!(changes.len(), 1, "expected only {kind}: {changes:#?}");
        one(changes, kind)
    }

    fn f(c: &Change, k: &str) -> Json {
        c.facts.get(k).cloned().unwrap_or(Json::Null)
    }

    #[test]
    fn version_changed() {
        let c = only(
            &edit(r#"version "1.2.0""#, r#"version "1.3.0""#),
            "policy.version_changed",
        );
        assert_eq!(c.path, "safety");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!("1.2.0"), json!("1.3.0"))
        );
        assert_eq!(f(&c, "bump"), json!("minor"));
        assert_eq!(c.line_before, Some(2));
    }

    #[test]
    fn pack_renamed() {
        let c = only(&edit("pack safety", "pack safety2"), "policy.pack_renamed");
        assert_eq!(c.to, json!("safety2"));
    }

    #[test]
    fn imports_added_and_removed() {
        let ch = edit("import shared\n", "import other\n");
        let r = one(&ch, "policy.import_removed");
        assert_eq!(
            (r.path.as_str(), f(&r, "name")),
            ("safety.import shared", json!("shared"))
        );
        assert_eq!(r.line_before, Some(4));
        let a = one(&ch, "policy.import_added");
        assert_eq!(f(&a, "name"), json!("other"));
        assert_eq!(ch.len(), 2);
        let al = only(
            &edit("import common as c", "import common as cc"),
            "policy.field_changed",
        );
        assert_eq!(f(&al, "field"), json!("alias"));
    }

    #[test]
    fn constant_changed_numeric() {
        let c = only(
            &edit(
                "const mass_delete_rows = 10_000",
                "const mass_delete_rows = 5_000",
            ),
            "policy.constant_changed",
        );
        assert_eq!(c.path, "safety.const mass_delete_rows");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!("10_000"), json!("5_000"))
        );
        assert_eq!(
            (f(&c, "from_number"), f(&c, "to_number")),
            (json!(10000), json!(5000))
        );
        assert_eq!(f(&c, "increased"), json!(false));
        // Where it is used: the bound of a comparison in a guard, so the
        // pack can tell that raising it lets more through.
        assert_eq!(
            f(&c, "uses"),
            json!([{"block_kind": "action", "block": "action mass-delete", "field": "match",
                    "field_value": false, "holds_more_when": "lower"}])
        );
        assert!(f(&c, "field").is_null());
        // A constant that fills a field takes the field's name.
        let r = only(
            &edit(
                "const approver_roles = [\"data-owner\", \"sec-oncall\"]",
                "const approver_roles = [\"data-owner\"]",
            ),
            "policy.constant_changed",
        );
        assert_eq!(f(&r, "field"), json!("approvers"));
        let d = only(
            &edit("const hold_time = 30m", "const hold_time = 2h"),
            "policy.constant_changed",
        );
        assert_eq!(
            (f(&d, "from_number"), f(&d, "to_number")),
            (json!(1800), json!(7200))
        );
        assert_eq!(f(&d, "unit"), json!("seconds"));
        assert_eq!(d.line_before, Some(10));
    }

    #[test]
    fn constant_list_and_added_removed() {
        let c = only(
            &edit(
                r#"["data-owner", "sec-oncall"]"#,
                r#"["data-owner", "cto"]"#,
            ),
            "policy.constant_changed",
        );
        assert_eq!(f(&c, "added"), json!(["cto"]));
        assert_eq!(f(&c, "removed"), json!(["sec-oncall"]));
        assert!(f(&c, "from_number").is_null());
        let ch = edit("const hold_time = 30m", "const wait_time = 30m");
        let r = one(&ch, "policy.constant_removed");
        assert_eq!(f(&r, "name"), json!("hold_time"));
        let a = one(&ch, "policy.constant_added");
        assert_eq!(
            (f(&a, "name"), f(&a, "value")),
            (json!("wait_time"), json!("30m"))
        );
    }

    #[test]
    fn allowlist_constant() {
        let ch = edit(r#"["prod-a", "prod-b"]"#, r#"["prod-a", "prod-c"]"#);
        assert_eq!(ch.len(), 2, "{ch:#?}");
        let w = one(&ch, "policy.allow_widened");
        assert_eq!(
            (w.path.as_str(), f(&w, "value")),
            ("safety.const prod_allowlist", json!("prod-c"))
        );
        let n = one(&ch, "policy.allow_narrowed");
        assert_eq!(f(&n, "value"), json!("prod-b"));
    }

    #[test]
    fn blocks_added_and_removed() {
        let ch = edit("rule old-rule {", "rule new-rule {");
        let r = one(&ch, "policy.block_removed");
        assert_eq!(r.path, "safety.rule old-rule");
        assert_eq!(
            (f(&r, "block_kind"), f(&r, "name")),
            (json!("rule"), json!("old-rule"))
        );
        assert_eq!(f(&r, "enforcement"), json!("advisory"));
        assert_eq!(f(&r, "risk"), json!("low"));
        assert_eq!(f(&r, "dry_run"), json!(false));
        assert!(r.line_before.is_some());
        let a = one(&ch, "policy.block_added");
        assert_eq!(a.path, "safety.rule new-rule");
        assert_eq!(ch.len(), 2);
        // Nested: a stage under its rollout.
        let ch = edit("stage global {", "stage worldwide {");
        let a = one(&ch, "policy.block_added");
        assert_eq!(a.path, "safety.rollout bundle.stage worldwide");
        assert_eq!(f(&a, "parent"), json!("rollout bundle"));
    }

    #[test]
    fn condition_changed() {
        let c = only(
            &edit(
                r#"action.verb == "delete" and"#,
                r#"action.verb in ["delete", "drop"] and"#,
            ),
            "policy.condition_changed",
        );
        assert_eq!(c.path, "safety.action mass-delete.match");
        assert_eq!(f(&c, "field"), json!("match"));
        assert_eq!(
            c.to,
            json!(r#"action.verb in ["delete", "drop"] and action.rows >= mass_delete_rows"#)
        );
        assert_eq!(c.line_before, Some(18));
        let g = only(
            &edit("metrics.err > 1%", "metrics.err > 2%"),
            "policy.condition_changed",
        );
        assert_eq!(
            g.path,
            "safety.rollout bundle.stage canary.gate errors.fail_when"
        );
        let s = only(
            &edit(r#"{labels: {env: "prod"}}"#, r#"{labels: {env: "live"}}"#),
            "policy.condition_changed",
        );
        assert_eq!(f(&s, "field"), json!("select"));
    }

    #[test]
    fn risk_changed() {
        let c = only(
            &edit(
                "  risk         high\n  require",
                "  risk         critical\n  require",
            ),
            "policy.risk_changed",
        );
        assert_eq!(c.path, "safety.action mass-delete.risk");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!("high"), json!("critical"))
        );
        assert_eq!(f(&c, "raised"), json!(true));
        let d = only(
            &edit("  risk  low", "  risk  medium"),
            "policy.risk_changed",
        );
        assert_eq!(f(&d, "raised"), json!(true));
        let e = only(
            &edit("  risk           high\n}", "  risk           low\n}"),
            "policy.risk_changed",
        );
        assert_eq!(f(&e, "raised"), json!(false));
    }

    #[test]
    fn requirements() {
        let ch = edit("[dual_control, justification]", "[justification, ticket]");
        assert_eq!(ch.len(), 2, "{ch:#?}");
        let r = one(&ch, "policy.requirement_removed");
        assert_eq!(
            (r.path.as_str(), f(&r, "field"), f(&r, "value")),
            (
                "safety.action mass-delete.require",
                json!("require"),
                json!("dual_control")
            )
        );
        let a = one(&ch, "policy.requirement_added");
        assert_eq!(f(&a, "value"), json!("ticket"));
        // A list written where there was none: every element is new.
        let ch = edit(
            "  deny_when      cluster",
            "  controls       [break_glass]\n  deny_when      cluster",
        );
        let a = only(&ch, "policy.requirement_added");
        assert_eq!(
            (f(&a, "field"), f(&a, "value")),
            (json!("controls"), json!("break_glass"))
        );
    }

    #[test]
    fn enforcement_changed() {
        let c = only(
            &edit("enforcement  soft_mandatory", "enforcement  advisory"),
            "policy.enforcement_changed",
        );
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!("soft_mandatory"), json!("advisory"))
        );
        assert_eq!(f(&c, "lowered"), json!(true));
        // Removed: the action default, hard_mandatory, applies again.
        let d = only(
            &edit("  enforcement  soft_mandatory\n", ""),
            "policy.enforcement_changed",
        );
        assert_eq!(d.to, json!("hard_mandatory"));
        assert_eq!(f(&d, "lowered"), json!(false));
        assert_eq!(f(&d, "defaulted"), json!("to"));
    }

    #[test]
    fn dry_run_changed() {
        let c = only(
            &edit("  risk  low\n", "  risk  low\n  dry_run true\n"),
            "policy.dry_run_changed",
        );
        assert_eq!((c.from.clone(), c.to.clone()), (json!(false), json!(true)));
        assert_eq!(c.path, "safety.rule old-rule.dry_run");
    }

    #[test]
    fn allow_and_deny_lists() {
        let w = only(
            &edit(r#"prod_allowlist ["a"]"#, r#"prod_allowlist ["a", "b"]"#),
            "policy.allow_widened",
        );
        assert_eq!(
            (w.path.as_str(), f(&w, "field"), f(&w, "value")),
            (
                "safety.guard prod.prod_allowlist",
                json!("prod_allowlist"),
                json!("b")
            )
        );
        let n = only(
            &edit(r#"prod_allowlist ["a"]"#, r#"prod_allowlist []"#),
            "policy.allow_narrowed",
        );
        assert_eq!(f(&n, "value"), json!("a"));
        let d = only(
            &edit(r#"["intern", "contractor"]"#, r#"["intern"]"#),
            "policy.deny_narrowed",
        );
        assert_eq!(f(&d, "value"), json!("contractor"));
        let d = only(
            &edit(
                r#"["intern", "contractor"]"#,
                r#"["intern", "contractor", "guest"]"#,
            ),
            "policy.deny_widened",
        );
        assert_eq!(f(&d, "value"), json!("guest"));
        // Dropping the allowlist altogether is not read as narrowing.
        let r = only(
            &edit("  prod_allowlist [\"a\"]\n", ""),
            "policy.field_removed",
        );
        assert_eq!(f(&r, "category"), json!("list"));
    }

    #[test]
    fn thresholds() {
        let c = only(
            &edit("hold         30m", "hold         1h"),
            "threshold.changed",
        );
        assert_eq!(c.path, "safety.action mass-delete.hold");
        assert_eq!((c.from.clone(), c.to.clone()), (json!("30m"), json!("1h")));
        assert_eq!(
            (f(&c, "from_number"), f(&c, "to_number")),
            (json!(1800), json!(3600))
        );
        assert_eq!(
            (f(&c, "increased"), f(&c, "field")),
            (json!(true), json!("hold"))
        );
        let c = only(
            &edit("approvals    2", "approvals    1"),
            "threshold.changed",
        );
        assert_eq!(f(&c, "increased"), json!(false));
        // Removed: the default (1) applies.
        let c = only(&edit("  approvals    2\n", ""), "threshold.changed");
        assert_eq!(
            (c.from.clone(), c.to.clone(), f(&c, "defaulted")),
            (json!("2"), json!("1"), json!("to"))
        );
        let c = only(&edit("bake   30m", "bake   10m"), "threshold.changed");
        assert_eq!(c.path, "safety.rollout bundle.stage canary.bake");
        let c = only(&edit("interval  1m", "interval  5m"), "threshold.changed");
        assert_eq!(
            c.path,
            "safety.rollout bundle.stage canary.gate errors.interval"
        );
        let c = only(&edit("enter 85", "enter 90"), "threshold.changed");
        assert_eq!(
            c.path,
            "safety.profile regulator.badge gold.hysteresis.enter"
        );
        let c = only(&edit("weight 3", "weight 0.5"), "threshold.changed");
        assert_eq!(
            (f(&c, "to_number"), f(&c, "field")),
            (json!(0.5), json!("weight"))
        );
        let c = only(
            &edit("bounds [0, 100]", "bounds [0, 90]"),
            "threshold.changed",
        );
        assert_eq!(
            (f(&c, "field"), f(&c, "increased")),
            (json!("bounds[1]"), json!(false))
        );
    }

    #[test]
    fn justification_written_with_a_change_is_a_fact_of_it() {
        let ch = edit(
            "  hold         30m\n",
            "  hold         10m\n  justification \"INC-1: holds stalled the purge\"\n",
        );
        assert_eq!(ch.len(), 2, "{ch:#?}");
        let t = one(&ch, "threshold.changed");
        assert_eq!(
            (
                f(&t, "block"),
                f(&t, "justification"),
                f(&t, "justification_new")
            ),
            (
                json!("action mass-delete"),
                json!("INC-1: holds stalled the purge"),
                json!(true)
            )
        );
        // The justification itself is documentation.
        let d = one(&ch, "description.changed");
        assert_eq!(
            (d.path.as_str(), f(&d, "field")),
            (
                "safety.action mass-delete.justification",
                json!("justification")
            )
        );
        // Without one: the block is named, no justification.
        let t = only(
            &edit("hold         30m", "hold         10m"),
            "threshold.changed",
        );
        assert_eq!(f(&t, "block"), json!("action mass-delete"));
        assert!(f(&t, "justification").is_null());
        assert!(f(&t, "justification_new").is_null());
        // Constants are in no block.
        let c = only(
            &edit("const hold_time = 30m", "const hold_time = 5m"),
            "policy.constant_changed",
        );
        assert!(f(&c, "block").is_null());
    }

    #[test]
    fn an_old_justification_is_not_new() {
        let b = BASE.replacen(
            "  hold         30m\n",
            "  hold         30m\n  justification \"old reason\"\n",
            1,
        );
        let loosened = b.replacen("hold         30m", "hold         10m", 1);
        let t = only(&run(&b, &loosened), "threshold.changed");
        assert_eq!(
            (f(&t, "justification"), f(&t, "justification_new")),
            (json!("old reason"), json!(false))
        );
        // Rewritten with the change: new again.
        let rewritten = loosened.replacen("old reason", "INC-2: new reason", 1);
        let t = one(&run(&b, &rewritten), "threshold.changed");
        assert_eq!(
            (f(&t, "justification"), f(&t, "justification_new")),
            (json!("INC-2: new reason"), json!(true))
        );
        // A blank one says nothing.
        let t = one(
            &edit(
                "  hold         30m\n",
                "  hold         10m\n  justification \"  \"\n",
            ),
            "threshold.changed",
        );
        assert!(f(&t, "justification").is_null());
        // A waiver's own justification is the one beside its changes.
        let w = only(
            &edit(r#""2027-06-30""#, r#""2028-01-01""#),
            "policy.waiver_changed",
        );
        assert_eq!(
            (f(&w, "justification"), f(&w, "justification_new")),
            (json!("nightly job"), json!(false))
        );
    }

    #[test]
    fn nested_and_removed_blocks_take_the_parent_justification() {
        let justified = BASE.replacen(
            "  on_fail pause\n",
            "  on_fail pause\n  justification \"RFC-9: faster canaries\"\n",
            1,
        );
        let t = one(
            &run(BASE, &justified.replacen("bake   30m", "bake   10m", 1)),
            "threshold.changed",
        );
        assert_eq!(t.path, "safety.rollout bundle.stage canary.bake");
        assert_eq!(
            (
                f(&t, "block"),
                f(&t, "justification"),
                f(&t, "justification_new")
            ),
            (
                json!("rollout bundle.stage canary"),
                json!("RFC-9: faster canaries"),
                json!(true)
            )
        );
        // A nested block's own justification wins over its parent's.
        let own = justified.replacen(
            "    bake   30m\n",
            "    bake   10m\n    justification \"stage reason\"\n",
            1,
        );
        let t = one(&run(BASE, &own), "threshold.changed");
        assert_eq!(f(&t, "justification"), json!("stage reason"));
        // A removed gate: its parent's justification in the head.
        let start = justified.find("    gate errors {").unwrap();
        let end = start + justified[start..].find("    }\n").unwrap() + 6;
        let mut dropped = justified.clone();
        dropped.replace_range(start..end, "");
        let r = one(&run(BASE, &dropped), "policy.block_removed");
        assert_eq!(
            (r.path.as_str(), f(&r, "block"), f(&r, "justification")),
            (
                "safety.rollout bundle.stage canary.gate errors",
                json!("rollout bundle.stage canary.gate errors"),
                json!("RFC-9: faster canaries")
            )
        );
        assert_eq!(f(&r, "justification_new"), json!(true));
        // A removed top-level block has nothing beside it in the head.
        let r = one(
            &edit("rule old-rule {", "rule new-rule {"),
            "policy.block_removed",
        );
        assert_eq!(f(&r, "block"), json!("rule old-rule"));
        assert!(f(&r, "justification").is_null());
        // An added block carries its own.
        let a = one(
            &edit(
                "rule old-rule {\n",
                "rule new-rule {\n  justification \"replaces old-rule\"\n",
            ),
            "policy.block_added",
        );
        assert_eq!(
            (f(&a, "justification"), f(&a, "justification_new")),
            (json!("replaces old-rule"), json!(true))
        );
    }

    #[test]
    fn threshold_percent_and_size() {
        let b = BASE.replacen(
            "  bake   4h\n",
            "  bake   4h\n  pause_on_error_rate 1%\n",
            1,
        );
        let c = only(
            &run(&b, &b.replacen("rate 1%", "rate 2.5%", 1)),
            "threshold.changed",
        );
        assert_eq!(
            (f(&c, "from_number"), f(&c, "to_number"), f(&c, "unit")),
            (json!(0.01), json!(0.025), json!("percent"))
        );
        let s = "tenet 1\npack p version \"1.0.0\"\nscorer s {\n  script \"a.rhai\"\n  max_string_size 1MB\n}\n";
        let c = only(&run(s, &s.replace("1MB", "2MiB")), "threshold.changed");
        assert_eq!(
            (f(&c, "from_number"), f(&c, "to_number")),
            (json!(1_000_000), json!(2_097_152))
        );
        // An integer replaced by a percentage is not comparable.
        let c = only(
            &run(s, &s.replace("1MB", "max_uses")),
            "policy.field_changed",
        );
        assert_eq!(f(&c, "field"), json!("max_string_size"));
    }

    #[test]
    fn fields_added_removed_changed() {
        let c = only(&edit("  hold         30m\n", ""), "policy.field_removed");
        assert_eq!(
            (c.path.as_str(), f(&c, "value"), f(&c, "category")),
            (
                "safety.action mass-delete.hold",
                json!("30m"),
                json!("threshold")
            )
        );
        assert_eq!(f(&c, "value_number"), json!(1800));
        let c = only(
            &edit("  risk  low\n", "  risk  low\n  on_no_data error\n"),
            "policy.field_changed",
        );
        assert_eq!(
            (c.from.clone(), c.to.clone(), f(&c, "defaulted")),
            (json!("ignore"), json!("error"), json!("from"))
        );
        let c = only(
            &edit("on_fail pause", "on_fail rollback"),
            "policy.field_changed",
        );
        assert_eq!(c.path, "safety.rollout bundle.on_fail");
        let c = only(
            &edit(
                "  when  input.x > 1\n",
                "  when  input.x > 1\n  description \"x\"\n",
            ),
            "description.changed",
        );
        assert_eq!((c.from.clone(), c.to.clone()), (Json::Null, json!("x")));
        let c = only(
            &edit(
                "levels [critical, high, medium, low]",
                "levels [high, critical, medium, low]",
            ),
            "policy.field_changed",
        );
        assert_eq!(f(&c, "reordered"), json!(true));
        let c = only(
            &edit("approvers    approver_roles", "approvers    [\"cto\"]"),
            "policy.field_changed",
        );
        assert_eq!(c.to, json!("[\"cto\"]"));
        let c = only(
            &edit("  select {labels: {env: \"staging\"}}\n", ""),
            "policy.field_removed",
        );
        assert_eq!(f(&c, "category"), json!("condition"));
    }

    #[test]
    fn descriptions_and_tags() {
        let c = only(
            &edit("cannot be undone", "is irreversible"),
            "description.changed",
        );
        assert_eq!(c.path, "safety.action mass-delete.because");
        assert_eq!(
            c.from,
            json!("deleting {action.rows} rows cannot be undone")
        );
        let c = only(
            &edit(r#"["data"]"#, r#"["data", "pii"]"#),
            "metadata.changed",
        );
        assert_eq!(f(&c, "field"), json!("tags"));
    }

    #[test]
    fn waivers() {
        let c = only(
            &edit(r#""2027-06-30""#, r#""2028-01-01""#),
            "policy.waiver_changed",
        );
        assert_eq!(c.path, "safety.waiver nightly.expires");
        assert_eq!(
            (f(&c, "field"), f(&c, "extended"), f(&c, "name")),
            (json!("expires"), json!(true), json!("nightly"))
        );
        let c = only(
            &edit(
                r#"rules         ["mass-delete"]"#,
                r#"rules         ["mass-delete", "x"]"#,
            ),
            "policy.waiver_changed",
        );
        assert_eq!(
            (f(&c, "added"), f(&c, "removed")),
            (json!(["x"]), json!([]))
        );
        let c = only(
            &edit(
                "  owner         \"data\"\n",
                "  owner         \"data\"\n  when actor.id == \"bot\"\n",
            ),
            "policy.waiver_changed",
        );
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (Json::Null, json!("actor.id == \"bot\""))
        );
        let ch = edit("waiver old-waiver {", "waiver new-waiver {");
        let r = one(&ch, "policy.waiver_removed");
        assert_eq!(
            (f(&r, "rules"), f(&r, "expires")),
            (json!(["old-rule"]), json!("2026-01-01"))
        );
        let a = one(&ch, "policy.waiver_added");
        assert_eq!(a.path, "safety.waiver new-waiver");
        assert_eq!(ch.len(), 2);
    }

    #[test]
    fn tests_changed() {
        let c = only(
            &edit("rows: 20_000}}", "rows: 30_000}}"),
            "policy.test_changed",
        );
        assert_eq!(
            (c.path.as_str(), f(&c, "change"), f(&c, "fields")),
            ("safety.test t-one", json!("changed"), json!(["input"]))
        );
        let ch = edit("test t-gone {", "test t-new {");
        assert_eq!(ch.len(), 2);
        assert!(ch
            .iter()
            .any(|c| f(c, "change") == json!("removed") && c.path == "safety.test t-gone"));
        assert!(ch
            .iter()
            .any(|c| f(c, "change") == json!("added") && c.path == "safety.test t-new"));
        // Reordering `expect` means nothing.
        let b = BASE.replacen(
            r#"expect ["mass-delete"]"#,
            r#"expect ["mass-delete", "x"]"#,
            1,
        );
        assert!(run(
            &b,
            &b.replacen(r#"["mass-delete", "x"]"#, r#"["x", "mass-delete"]"#, 1)
        )
        .is_empty());
    }

    #[test]
    fn stages_reordered() {
        let canary_start = BASE.find("  stage canary {").unwrap_or(0);
        let global_start = BASE.find("  stage global {").unwrap_or(0);
        let global_end = BASE[global_start..]
            .find("  }\n")
            .map_or(0, |i| global_start + i + 4);
        let global = &BASE[global_start..global_end];
        let mut b = BASE.to_string();
        b.replace_range(global_start..global_end, "");
        b.insert_str(canary_start, &format!("{global}\n"));
        let c = only(&run(BASE, &b), "policy.block_reordered");
        assert_eq!(c.path, "safety.rollout bundle");
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (json!(["canary", "global"]), json!(["global", "canary"]))
        );
    }

    #[test]
    fn cosmetic_edits_give_nothing() {
        // Comments, layout, spelling of literals, map key order, defaults
        // written out, and the order of items, attributes and blocks.
        let mut b = BASE
            .replace("# Risk levels.", "# The risk levels, highest first.")
            .replace(
                "const mass_delete_rows = 10_000",
                "const mass_delete_rows = 10000 # rows",
            )
            .replace("hold         30m", "hold 1800s")
            .replace(
                "{labels: {sidecar: \"tenet\"}, not_in: {lifecycle: [\"old\"]}}",
                "{not_in: {lifecycle: [\"old\"]},\n    labels: {sidecar: \"tenet\"}}",
            )
            .replace(
                "[dual_control, justification]",
                "[\n    justification,\n    dual_control,\n  ]",
            )
            .replace(
                "  risk  low\n",
                "  risk  low\n  enforcement advisory\n  dry_run false\n",
            )
            .replace(
                "action.verb == \"delete\" and action.rows",
                "action.verb == \"delete\"\n               and action.rows",
            );
        // Move the first test block to the end and the two constants around.
        let t = BASE.find("test t-one {").unwrap_or(0);
        let end = BASE[t..].find("\n}\n").map_or(0, |i| t + i + 3);
        let block = &BASE[t..end];
        b = b.replacen(block, "", 1);
        b.push_str(&format!("\n{block}"));
        b = b.replacen("const hold_time = 30m\n", "", 1).replacen(
            "import shared\n",
            "import shared\nconst hold_time = 30m\n",
            1,
        );
        // Swap the two attributes of the hysteresis block and the two factors' order.
        b = b.replacen(
            "      enter 85\n      exit  80\n",
            "      exit 80\n      enter 85\n",
            1,
        );
        assert_ne!(b, BASE);
        let ch = run(BASE, &b);
        assert!(ch.is_empty(), "{ch:#?}");
        let d = super::super::detect(
            super::super::ArtifactType::Policy,
            Some(BASE),
            Some(&b),
            &Options::default(),
        );
        let kinds: Vec<String> = d
            .map(|v| v.into_iter().map(|c| c.kind).collect())
            .unwrap_or_default();
        assert_eq!(kinds, vec!["comment.changed".to_string()]);
    }

    #[test]
    fn formatted_pack_gives_nothing() {
        let messy = "tenet 1\npack p version \"1.0.0\"\nrule   r   {\n when input.a>1   and\n   input.b<2\n    risk    high # why\n}\n";
        let pack = syntax::parse_with_comments(FileId(0), messy);
        let formatted = pack
            .map(|p| tenet_dsl::fmt::format(&p, messy))
            .unwrap_or_default();
        assert!(!formatted.is_empty() && formatted != messy);
        assert!(run(messy, &formatted).is_empty());
    }

    const PACKS: &[&str] = &[
        include_str!("../../../rules/semantic-diff/semantic_diff.tenet"),
        include_str!("../../../rules/safety-workflows/safety.tenet"),
        include_str!("../../../rules/autoconfig/autoconfig.tenet"),
        include_str!("../../../rules/rtx-export/rtx_export.tenet"),
        include_str!("../../../rules/dark-inventory/dark_inventory.tenet"),
        include_str!("../../../rules/meta-monitor/meta_monitor.tenet"),
        include_str!("../../../rules/tenant-benchmark/tenant_benchmark.tenet"),
        include_str!("../../../rules/control-plane/control_plane.tenet"),
        include_str!("../../../rules/server/server.tenet"),
    ];

    #[test]
    fn real_packs_reformatted_or_reversed_give_nothing() {
        for text in PACKS {
            // Every comment line dropped, then laid out by `tenet fmt`.
            let stripped: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(run(text, &stripped).is_empty());
            let formatted = syntax::parse_with_comments(FileId(0), &stripped)
                .map(|p| tenet_dsl::fmt::format(&p, &stripped))
                .unwrap_or_default();
            assert!(run(text, &formatted).is_empty());
            // The top-level items in reverse order.
            let Ok(pack) = parse(text) else {
                panic!("real pack does not parse")
            };
            let mut items: Vec<&str> = pack
                .items
                .iter()
                .map(|i| &text[i.span().start as usize..i.span().end as usize])
                .collect();
            items.reverse();
            let head = &text[..pack.items.first().map_or(0, |i| i.span().start as usize)];
            let reversed = format!("{head}{}\n", items.join("\n\n"));
            let ch = run(text, &reversed);
            assert!(ch.is_empty(), "{ch:#?}");
        }
        // Different packs diff without trouble.
        for a in PACKS {
            for b in PACKS {
                let ch = run(a, b);
                assert_eq!(ch.is_empty(), a == b);
            }
        }
    }

    #[test]
    fn real_pack() {
        let text = include_str!("../../../rules/safety-workflows/safety.tenet");
        assert!(parse(text).is_ok());
        let c = only(
            &run(text, &text.replace("approvals    2", "approvals    3")),
            "threshold.changed",
        );
        assert_eq!(c.path, "safety.action mass-delete.approvals");
        assert!(c.line_before.is_some_and(|l| l > 1));
        let cp = include_str!("../../../rules/control-plane/control_plane.tenet");
        let c = only(
            &run(
                cp,
                &cp.replace("max_parallel        25%", "max_parallel        50%"),
            ),
            "threshold.changed",
        );
        assert_eq!(
            c.path,
            "control_plane.rollout policy-bundle.stage regional.max_parallel"
        );
        let ch = run(cp, &cp.replace("  \"prod-us-east-1b\",\n", ""));
        let n = only(&ch, "policy.allow_narrowed");
        assert_eq!(f(&n, "value"), json!("prod-us-east-1b"));
    }

    #[test]
    fn parse_errors_have_positions() {
        let bad = BASE.replacen("  when  input.x > 1\n", "  when  input.x > > 1\n", 1);
        let mut out = Changes::default();
        let e = diff(&bad, BASE, &Options::default(), &mut out).err();
        let e = e.unwrap_or_else(|| panic!("base should not parse"));
        assert_eq!(e.side, super::super::Side::Base);
        let line = BASE
            .lines()
            .position(|l| l == "  when  input.x > 1")
            .map(|i| i as u32 + 1);
        assert_eq!(Some(e.error.line), line);
        assert!(e.error.col > 1);
        assert!(!e.error.message.is_empty());
        let e = diff(
            BASE,
            "tenet 1\npack p version \"x\"\n",
            &Options::default(),
            &mut out,
        )
        .err();
        let e = e.unwrap_or_else(|| panic!("head should not parse"));
        assert_eq!(e.side, super::super::Side::Head);
        assert_eq!((e.error.line, e.error.col), (2, 16));
        assert!(
            e.error.message.contains("semantic version"),
            "{}",
            e.error.message
        );
        assert!(parse("tenet 1\npack p version \"1.0.0\"\nrule r {\n").is_err());
    }
}
