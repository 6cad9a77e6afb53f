//! Checked AST → [`CompiledPack`](crate::ir::CompiledPack).

use crate::ir::*;
use crate::scorer::Scorers;
use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_dsl::ast::{BinOp, Block, Expr, ExprKind, Item, TemplatePart, UnOp};
use tenet_dsl::check::{bare_or_string, block_roots, string_list};
use tenet_dsl::schema::{self, Condition, Ty};
use tenet_dsl::{Checked, CheckedPack, SourceMap, Value};

/// Fields reported apart from a block's effects.
const METADATA: &[&str] = &[
    "on_no_data",
    "enforcement",
    "dry_run",
    "because",
    "description",
    "tags",
    "on",
];

/// Compile every checked pack. `scorers` must already hold the scorers of
/// every pack (see [`crate::load`]).
pub fn compile(checked: &Checked, sources: &SourceMap, scorers: &Scorers) -> Vec<CompiledPack> {
    checked
        .packs
        .iter()
        .map(|p| compile_pack(p, checked, sources, scorers))
        .collect()
}

struct Cx<'a> {
    pack: &'a CheckedPack,
    checked: &'a Checked,
    sources: &'a SourceMap,
    roots: Vec<String>,
    scorers: BTreeMap<String, usize>,
}

fn compile_pack(
    pack: &CheckedPack,
    checked: &Checked,
    sources: &SourceMap,
    scorers: &Scorers,
) -> CompiledPack {
    let mut cx = Cx {
        pack,
        checked,
        sources,
        roots: vec!["input".to_string()],
        scorers: scorers.of_pack(pack.name()),
    };
    let mut blocks = Vec::new();
    let mut waivers = Vec::new();
    let mut tests = Vec::new();
    for item in &pack.ast.items {
        let Item::Block(b) = item else { continue };
        match b.kind.name.as_str() {
            "waiver" => waivers.push(cx.waiver(b)),
            "test" => tests.push(cx.test(b)),
            _ => cx.block(b, None, "", &mut blocks),
        }
    }
    let imports = pack
        .imports
        .iter()
        .map(|(alias, &j)| {
            (
                alias.clone(),
                checked
                    .packs
                    .get(j)
                    .map(|p| p.consts.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut slots = Slots::default();
    for b in &mut blocks {
        slots.block(b);
    }
    for w in &mut waivers {
        if let Some((e, _)) = &mut w.when {
            slots.expr(e);
        }
    }
    CompiledPack {
        name: pack.name().to_string(),
        version: pack.ast.version.clone(),
        file: sources
            .get(pack.ast.file)
            .map(|f| f.path.clone())
            .unwrap_or_default(),
        levels: pack.levels.clone(),
        taxonomy: taxonomy(pack, checked),
        root_names: cx.roots,
        blocks,
        waivers,
        tests,
        scorers: cx.scorers,
        consts: pack.consts.clone(),
        imports,
    }
}

/// The taxonomy in scope with its metadata: the pack's own `taxonomy`
/// block, else that of the imported pack its levels come from; default
/// levels have none.
fn taxonomy(pack: &CheckedPack, checked: &Checked) -> Taxonomy {
    let own = std::iter::once(pack);
    let imported = pack.imports.values().filter_map(|&j| checked.packs.get(j));
    let found = own.chain(imported).find_map(|p| {
        p.blocks()
            .find(|b| b.kind.name == "taxonomy")
            .filter(|_| p.levels == pack.levels)
            .map(|b| (p, b))
    });
    let mut t = Taxonomy::plain(&pack.levels);
    let Some((owner, block)) = found else {
        return t;
    };
    let env = crate::reference::PackEnv::consts_only(owner, checked);
    let value = |b: &Block, key: &str| {
        b.attr(key)
            .and_then(|a| tenet_dsl::interp::eval_const(&a.value, &env).ok())
    };
    let text = |v: Option<Value>| match v {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    t.fail_on = block.attr("fail_on").and_then(|a| bare_or_string(&a.value));
    t.fail_on_lint = matches!(value(block, "fail_on_lint"), Some(Value::Bool(true)));
    for child in block.blocks().filter(|c| c.kind.name == "level") {
        let Some(info) = t.levels.iter_mut().find(|l| l.name == child.name_str()) else {
            continue;
        };
        info.icon = text(value(child, "icon"));
        if let Some(title) = text(value(child, "title")) {
            info.title = title;
        }
        if let Some(a) = child
            .attr("annotation")
            .and_then(|a| bare_or_string(&a.value))
        {
            info.annotation = a;
        }
        if let Some(Value::Bool(listed)) = value(child, "listed") {
            info.listed = listed;
        }
    }
    t
}

/// The last pass over a pack's compiled expressions (see `ir`): numbers
/// the distinct member chains on input roots, turning each
/// `Path(Root(i), segs)` into an `InputPath`, and flattens `and`/`or`
/// chains into `All`/`Any`. Trace leaves are paired with the tree before
/// this pass, so they keep its shape.
#[derive(Default)]
struct Slots {
    by_path: std::collections::HashMap<InputChain, u32>,
}

/// An input root and the member names read from it.
type InputChain = (u16, Box<[Arc<str>]>);

impl Slots {
    fn block(&mut self, b: &mut CBlock) {
        if let Some(c) = &mut b.condition {
            self.expr(&mut c.expr);
            for leaf in &mut c.leaves {
                self.expr(&mut leaf.expr);
                for (_, r) in &mut leaf.reads {
                    self.expr(r);
                }
            }
        }
        for a in b.effects.iter_mut().chain(b.because.as_mut()) {
            self.expr(&mut a.expr);
        }
    }

    fn expr(&mut self, e: &mut CExpr) {
        if matches!(e, CExpr::And(..) | CExpr::Or(..)) {
            let and = matches!(e, CExpr::And(..));
            let mut parts = Vec::new();
            chain(std::mem::replace(e, CExpr::NullConst), and, &mut parts);
            for p in &mut parts {
                self.expr(p);
            }
            let parts = parts.into_boxed_slice();
            *e = if and {
                CExpr::All(parts)
            } else {
                CExpr::Any(parts)
            };
            return;
        }
        if let CExpr::Path(base, segs) = e {
            if let CExpr::Root(root) = **base {
                let next = self.by_path.len() as u32;
                let slot = *self.by_path.entry((root, segs.clone())).or_insert(next);
                *e = CExpr::InputPath(root, std::mem::take(segs), slot);
                return;
            }
        }
        match e {
            CExpr::Const(_)
            | CExpr::NullConst
            | CExpr::Root(_)
            | CExpr::Var(_)
            | CExpr::InputPath(..) => {}
            CExpr::Path(b, _) | CExpr::Not(b) | CExpr::Neg(b) => self.expr(b),
            CExpr::Index(a, b)
            | CExpr::And(a, b)
            | CExpr::Or(a, b)
            | CExpr::Cmp(_, a, b)
            | CExpr::Arith(_, a, b)
            | CExpr::Matches(a, b)
            | CExpr::Quant(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            CExpr::If(a, b, c) => {
                self.expr(a);
                self.expr(b);
                self.expr(c);
            }
            CExpr::Template(parts) => {
                for p in parts {
                    if let CPart::Expr(x) = p {
                        self.expr(x);
                    }
                }
            }
            CExpr::List(items) | CExpr::Builtin(_, items) | CExpr::Scorer(_, items) => {
                for x in items {
                    self.expr(x);
                }
            }
            CExpr::All(items) | CExpr::Any(items) => {
                for x in items.iter_mut() {
                    self.expr(x);
                }
            }
            CExpr::Map(entries) => {
                for (_, x) in entries {
                    self.expr(x);
                }
            }
        }
    }
}

/// The operands of an `and` (`and` true) or `or` chain, left to right.
fn chain(e: CExpr, and: bool, out: &mut Vec<CExpr>) {
    match e {
        CExpr::And(a, b) if and => {
            chain(*a, and, out);
            chain(*b, and, out);
        }
        CExpr::Or(a, b) if !and => {
            chain(*a, and, out);
            chain(*b, and, out);
        }
        other => out.push(other),
    }
}

/// A field's default, parsed once per process.
fn default_expr(text: &'static str) -> Option<Expr> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<Expr>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .entry(text)
        .or_insert_with(|| tenet_dsl::syntax::parse_expr(tenet_dsl::FileId(u32::MAX), text).ok())
        .clone()
}

impl Cx<'_> {
    fn root_index(&mut self, name: &str) -> u16 {
        match self.roots.iter().position(|r| r == name) {
            Some(i) => i as u16,
            None => {
                self.roots.push(name.to_string());
                (self.roots.len() - 1) as u16
            }
        }
    }

    fn block(&mut self, b: &Block, parent: Option<&Block>, prefix: &str, out: &mut Vec<CBlock>) {
        let Some(kind) = schema::kind(&b.kind.name) else {
            return;
        };
        let name = if prefix.is_empty() {
            b.name_str().to_string()
        } else {
            format!("{prefix}/{}", b.name_str())
        };
        let roots = block_roots(b, kind, &self.pack.ast);
        let value_of = |field: &str| -> Option<&Expr> { b.attr(field).map(|a| &a.value) };
        let bare = |field: &str| -> Option<String> {
            match value_of(field) {
                Some(e) => bare_or_string(e),
                None => kind
                    .field(field)
                    .and_then(|f| f.default)
                    .map(|d| d.trim_matches('"').to_string()),
            }
        };
        let condition = match kind.condition {
            Condition::None => None,
            Condition::Field(f) => value_of(f).map(|e| {
                let expr = self.expr(e, &roots, &mut Vec::new());
                let leaves = self.leaves_of(e, &expr, &roots);
                CCond {
                    expr,
                    ast: e.clone(),
                    scope: None,
                    threshold: None,
                    text: tenet_dsl::fmt::expr_to_string(e),
                    leaves,
                }
            }),
            Condition::Threshold => value_of("metric").and_then(|metric| {
                let (op, bound_e) = match (value_of("above"), value_of("below")) {
                    (Some(a), _) => (BinOp::Gt, a),
                    (None, Some(b)) => (BinOp::Lt, b),
                    _ => return None,
                };
                let bound = self.fold_static(bound_e);
                let m = self.expr(metric, &roots, &mut Vec::new());
                let text = format!(
                    "{} {} {}",
                    tenet_dsl::fmt::expr_to_string(metric),
                    op.symbol(),
                    bound
                );
                let cmp = CExpr::Cmp(
                    op,
                    Box::new(m.clone()),
                    Box::new(CExpr::Const(bound.clone())),
                );
                let reads = self.reads(metric, &roots);
                let mut leaves = Vec::new();
                let scope = value_of("when").cloned();
                let (expr, text) = match &scope {
                    Some(w) => {
                        let wc = self.expr(w, &roots, &mut Vec::new());
                        leaves.extend(self.leaves_of(w, &wc, &roots));
                        (
                            CExpr::And(Box::new(wc), Box::new(cmp.clone())),
                            format!("{} and {text}", tenet_dsl::fmt::expr_to_string(w)),
                        )
                    }
                    None => (cmp.clone(), text.clone()),
                };
                leaves.push(Leaf {
                    text: format!(
                        "{} {} {}",
                        tenet_dsl::fmt::expr_to_string(metric),
                        op.symbol(),
                        bound
                    ),
                    at: self.sources.location(metric.span),
                    expr: cmp,
                    reads,
                });
                Some(CCond {
                    expr,
                    ast: metric.clone(),
                    scope,
                    threshold: Some((op, bound)),
                    text,
                    leaves,
                })
            }),
        };
        let cond_field = match kind.condition {
            Condition::Field(f) => Some(f),
            _ => None,
        };
        let mut effects = Vec::new();
        for field in kind.fields {
            if METADATA.contains(&field.name)
                || Some(field.name) == cond_field
                || kind.level_fields.contains(&field.name)
            {
                continue;
            }
            if kind.condition == Condition::Threshold
                && matches!(field.name, "metric" | "above" | "below" | "when")
            {
                continue;
            }
            let written = value_of(field.name).cloned();
            let ast = written
                .clone()
                .or_else(|| field.default.and_then(default_expr));
            let Some(ast) = ast else { continue };
            let expr = match field.ty {
                Ty::Level | Ty::Enum(_) | Ty::Ident | Ty::BlockRef(_) => CExpr::Const(
                    bare_or_string(&ast)
                        .map(|s| Value::str(&s))
                        .unwrap_or_default(),
                ),
                Ty::List(Ty::Level | Ty::Enum(_) | Ty::Ident | Ty::BlockRef(_)) => {
                    CExpr::Const(Value::list(
                        string_list(Some(&ast))
                            .iter()
                            .map(|s| Value::str(s))
                            .collect(),
                    ))
                }
                ty if ty.is_dynamic() => self.expr(&ast, &roots, &mut Vec::new()),
                _ => CExpr::Const(self.fold_static(&ast)),
            };
            let keep_ast = if field.ty.is_dynamic() {
                Some(ast)
            } else {
                None
            };
            effects.push(CAttr {
                name: field.name.to_string(),
                expr,
                ast: keep_ast,
            });
        }
        let because = value_of("because").map(|e| CAttr {
            name: "because".into(),
            expr: self.expr(e, &roots, &mut Vec::new()),
            ast: Some(e.clone()),
        });
        let level = kind.level_fields.iter().find_map(|f| bare(f));
        let enforcement = kind.field("enforcement").and_then(|_| bare("enforcement"));
        let on_no_data = bare("on_no_data").unwrap_or_else(|| "ignore".into());
        let dry_run = matches!(
            value_of("dry_run").map(|e| self.fold_static(e)),
            Some(Value::Bool(true))
        );
        let at = self.sources.location(b.kind.span);
        for r in &roots {
            self.root_index(r);
        }
        let scope = match parent {
            Some(p) if kind.kind == "gate" && p.kind.name == "stage" => {
                p.attr("select").map(|a| crate::ir::StageScope {
                    stage: prefix.to_string(),
                    selector: self.fold_static(&a.value),
                    cluster_root: self.root_index("cluster"),
                })
            }
            _ => None,
        };
        out.push(CBlock {
            kind: kind.kind,
            name: name.clone(),
            at,
            roots,
            condition,
            effects,
            because,
            level,
            enforcement,
            on_no_data,
            dry_run,
            scope,
        });
        for child in b.blocks() {
            self.block(child, Some(b), &name, out);
        }
    }

    fn waiver(&mut self, b: &Block) -> CWaiver {
        let roots = schema::kind("waiver")
            .map(|k| block_roots(b, k, &self.pack.ast))
            .unwrap_or_default();
        let s = |f: &str| {
            b.attr(f)
                .and_then(|a| bare_or_string(&a.value))
                .unwrap_or_default()
        };
        CWaiver {
            name: b.name_str().to_string(),
            at: self.sources.location(b.kind.span),
            rules: string_list(b.attr("rules").map(|a| &a.value)),
            when: b.attr("when").map(|a| {
                (
                    self.expr(&a.value, &roots, &mut Vec::new()),
                    a.value.clone(),
                )
            }),
            roots,
            owner: s("owner"),
            justification: s("justification"),
            expires: s("expires"),
        }
    }

    fn test(&mut self, b: &Block) -> CTest {
        let get = |f: &str| b.attr(f).map(|a| &a.value);
        CTest {
            name: b.name_str().to_string(),
            at: self.sources.location(b.kind.span),
            input: get("input")
                .map(|e| self.fold_static(e))
                .unwrap_or_default(),
            expect: get("expect").map(|e| string_list(Some(e))),
            expect_not: string_list(get("expect_not")),
            expect_risk: get("expect_risk").and_then(bare_or_string),
            expect_errors: match get("expect_errors").map(|e| self.fold_static(e)) {
                Some(Value::Int(n)) => Some(n),
                _ => None,
            },
            expect_inconclusive: get("expect_inconclusive").map(|e| string_list(Some(e))),
            expect_waived: get("expect_waived").map(|e| string_list(Some(e))),
            expect_blocking: match get("expect_blocking").map(|e| self.fold_static(e)) {
                Some(Value::Bool(b)) => Some(b),
                _ => None,
            },
            expect_effects: self
                .static_map(get("expect_effects"))
                .into_iter()
                .map(|(block, v)| {
                    let fields = match v {
                        Value::Map(m) => {
                            m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
                        }
                        _ => BTreeMap::new(),
                    };
                    (block, fields)
                })
                .collect(),
            expect_because: self.static_map(get("expect_because")),
            now: match get("now").map(|e| self.fold_static(e)) {
                Some(Value::Str(s)) => Some(s.to_string()),
                _ => None,
            },
        }
    }

    /// A closed map's entries (the checker has proven it a map); none without one.
    fn static_map(&self, e: Option<&Expr>) -> BTreeMap<String, Value> {
        match e.map(|e| self.fold_static(e)) {
            Some(Value::Map(m)) => m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            _ => BTreeMap::new(),
        }
    }

    /// A closed expression's value (the checker has proven it closed).
    fn fold_static(&self, e: &Expr) -> Value {
        let env = crate::reference::PackEnv::consts_only(self.pack, self.checked);
        tenet_dsl::interp::eval_const(e, &env).unwrap_or_default()
    }

    /// The leaves of a condition's `and`/`or` tree, paired with their
    /// compiled form (taken from the compiled tree, not compiled again).
    fn leaves_of(&mut self, e: &Expr, c: &CExpr, roots: &[String]) -> Vec<Leaf> {
        let mut out = Vec::new();
        self.pair_leaves(e, c, roots, &mut out);
        out
    }

    fn pair_leaves(&mut self, e: &Expr, c: &CExpr, roots: &[String], out: &mut Vec<Leaf>) {
        match (&e.kind, c) {
            (ExprKind::Paren(x), _) => self.pair_leaves(x, c, roots, out),
            (ExprKind::Binary(BinOp::And, a, b), CExpr::And(ca, cb))
            | (ExprKind::Binary(BinOp::Or, a, b), CExpr::Or(ca, cb)) => {
                self.pair_leaves(a, ca, roots, out);
                self.pair_leaves(b, cb, roots, out);
            }
            _ => out.push(Leaf {
                text: tenet_dsl::fmt::expr_to_string(e),
                at: self.sources.location(e.span),
                expr: c.clone(),
                reads: self.reads(e, roots),
            }),
        }
    }

    fn reads(&mut self, e: &Expr, roots: &[String]) -> Vec<(String, CExpr)> {
        let mut paths = Vec::new();
        collect_paths(e, roots, &mut Vec::new(), &mut paths);
        let mut out: Vec<(String, CExpr)> = Vec::new();
        for p in paths {
            let text = tenet_dsl::fmt::expr_to_string(p);
            if out.iter().any(|(t, _)| *t == text) {
                continue;
            }
            let c = self.expr(p, roots, &mut Vec::new());
            out.push((text, c));
        }
        out
    }

    fn expr(&mut self, e: &Expr, roots: &[String], vars: &mut Vec<String>) -> CExpr {
        let c = self.expr_raw(e, roots, vars);
        fold(c)
    }

    fn expr_raw(&mut self, e: &Expr, roots: &[String], vars: &mut Vec<String>) -> CExpr {
        let sub =
            |cx: &mut Self, x: &Expr, vars: &mut Vec<String>| Box::new(cx.expr(x, roots, vars));
        match &e.kind {
            ExprKind::Lit(l) => CExpr::Const(tenet_dsl::interp::lit(l)),
            ExprKind::Paren(x) => *sub(self, x, vars),
            ExprKind::Name(n) => {
                if let Some(i) = vars.iter().rposition(|v| v == n) {
                    return CExpr::Var(i as u16);
                }
                if let Some(v) = self.pack.consts.get(n) {
                    return if v.is_null() {
                        CExpr::NullConst
                    } else {
                        CExpr::Const(v.clone())
                    };
                }
                if roots.contains(n) {
                    return CExpr::Root(self.root_index(n));
                }
                CExpr::NullConst
            }
            ExprKind::Member(base, field) => {
                if let ExprKind::Name(alias) = &base.kind {
                    if !vars.contains(alias) && !roots.contains(alias) {
                        if let Some(&j) = self.pack.imports.get(alias) {
                            let v = self
                                .checked
                                .packs
                                .get(j)
                                .and_then(|p| p.consts.get(&field.name))
                                .cloned();
                            return match v {
                                Some(v) if !v.is_null() => CExpr::Const(v),
                                _ => CExpr::NullConst,
                            };
                        }
                    }
                }
                let b = self.expr(base, roots, vars);
                let seg: Arc<str> = Arc::from(field.name.as_str());
                match b {
                    CExpr::Path(root, segs) => {
                        let mut v = segs.into_vec();
                        v.push(seg);
                        CExpr::Path(root, v.into_boxed_slice())
                    }
                    other => CExpr::Path(Box::new(other), vec![seg].into_boxed_slice()),
                }
            }
            ExprKind::Index(a, b) => CExpr::Index(sub(self, a, vars), sub(self, b, vars)),
            ExprKind::Template(parts) => CExpr::Template(
                parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Text(t) => CPart::Text(Arc::from(t.as_str())),
                        TemplatePart::Expr(x) => CPart::Expr(self.expr(x, roots, vars)),
                    })
                    .collect(),
            ),
            ExprKind::List(items) => {
                CExpr::List(items.iter().map(|x| self.expr(x, roots, vars)).collect())
            }
            ExprKind::Map(entries) => CExpr::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Arc::from(k.name.as_str()), self.expr(v, roots, vars)))
                    .collect(),
            ),
            ExprKind::Call(f, args) => {
                let args: Vec<CExpr> = args.iter().map(|x| self.expr(x, roots, vars)).collect();
                match tenet_dsl::builtins::lookup(&f.name) {
                    Some(b) => CExpr::Builtin(b.name, args),
                    None => CExpr::Scorer(
                        self.scorers.get(&f.name).copied().unwrap_or(usize::MAX),
                        args,
                    ),
                }
            }
            ExprKind::Unary(UnOp::Not, x) => CExpr::Not(sub(self, x, vars)),
            ExprKind::Unary(UnOp::Neg, x) => CExpr::Neg(sub(self, x, vars)),
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (sub(self, a, vars), sub(self, b, vars));
                match op {
                    BinOp::And => CExpr::And(a, b),
                    BinOp::Or => CExpr::Or(a, b),
                    BinOp::Matches => match *b {
                        // Compile a constant pattern once.
                        CExpr::Const(Value::Str(ref p)) => match regex::Regex::new(p) {
                            Ok(r) => {
                                CExpr::Matches(a, Box::new(CExpr::Const(Value::Regex(Arc::new(r)))))
                            }
                            Err(_) => CExpr::Matches(a, b),
                        },
                        _ => CExpr::Matches(a, b),
                    },
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => CExpr::Arith(*op, a, b),
                    _ => CExpr::Cmp(*op, a, b),
                }
            }
            ExprKind::If(c, t, f) => {
                CExpr::If(sub(self, c, vars), sub(self, t, vars), sub(self, f, vars))
            }
            ExprKind::Quant(q, v, list, pred) => {
                let l = sub(self, list, vars);
                vars.push(v.name.clone());
                let p = sub(self, pred, vars);
                vars.pop();
                CExpr::Quant(*q, l, p)
            }
        }
    }
}

/// Maximal member chains rooted at an input root.
fn collect_paths<'e>(
    e: &'e Expr,
    roots: &[String],
    bound: &mut Vec<String>,
    out: &mut Vec<&'e Expr>,
) {
    fn root_of(e: &Expr) -> Option<&str> {
        match &e.kind {
            ExprKind::Name(n) => Some(n),
            ExprKind::Member(b, _) => root_of(b),
            _ => None,
        }
    }
    match &e.kind {
        ExprKind::Name(n) | ExprKind::Member(_, tenet_dsl::ast::Ident { name: n, .. })
            if root_of(e)
                .is_some_and(|r| roots.iter().any(|x| x == r) && !bound.iter().any(|b| b == r)) =>
        {
            let _ = n;
            out.push(e)
        }
        ExprKind::Member(b, _) => collect_paths(b, roots, bound, out),
        ExprKind::Lit(_) | ExprKind::Name(_) => {}
        ExprKind::Template(parts) => {
            for p in parts {
                if let TemplatePart::Expr(x) = p {
                    collect_paths(x, roots, bound, out)
                }
            }
        }
        ExprKind::List(xs) => xs.iter().for_each(|x| collect_paths(x, roots, bound, out)),
        ExprKind::Map(es) => es
            .iter()
            .for_each(|(_, x)| collect_paths(x, roots, bound, out)),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            collect_paths(a, roots, bound, out);
            collect_paths(b, roots, bound, out)
        }
        ExprKind::Call(_, args) => args
            .iter()
            .for_each(|x| collect_paths(x, roots, bound, out)),
        ExprKind::Unary(_, x) | ExprKind::Paren(x) => collect_paths(x, roots, bound, out),
        ExprKind::If(a, b, c) => {
            collect_paths(a, roots, bound, out);
            collect_paths(b, roots, bound, out);
            collect_paths(c, roots, bound, out)
        }
        ExprKind::Quant(_, v, list, pred) => {
            collect_paths(list, roots, bound, out);
            bound.push(v.name.clone());
            collect_paths(pred, roots, bound, out);
            bound.pop();
        }
    }
}

/// Fold a node whose children are all constants, when that is safe: pure,
/// no error, and no missing-data read (which must stay visible at run time).
/// Quantifiers are never folded: their iterations count against the
/// per-evaluation budget at run time, as in the reference interpreter.
fn fold(c: CExpr) -> CExpr {
    let closed = match &c {
        CExpr::Const(_)
        | CExpr::NullConst
        | CExpr::Root(_)
        | CExpr::Var(_)
        | CExpr::InputPath(..)
        | CExpr::All(_)
        | CExpr::Any(_)
        | CExpr::Scorer(..)
        | CExpr::Quant(..) => false,
        CExpr::Path(b, _) | CExpr::Not(b) | CExpr::Neg(b) => is_const(b),
        CExpr::Index(a, b)
        | CExpr::And(a, b)
        | CExpr::Or(a, b)
        | CExpr::Cmp(_, a, b)
        | CExpr::Arith(_, a, b)
        | CExpr::Matches(a, b) => is_const(a) && is_const(b),
        CExpr::Template(parts) => parts.iter().all(|p| match p {
            CPart::Text(_) => true,
            CPart::Expr(x) => is_const(x),
        }),
        CExpr::List(xs) | CExpr::Builtin(_, xs) => xs.iter().all(is_const),
        CExpr::Map(es) => es.iter().all(|(_, x)| is_const(x)),
        CExpr::If(a, b, d) => is_const(a) && is_const(b) && is_const(d),
    };
    if !closed {
        return c;
    }
    let mut ctx = crate::eval::Ctx::new(&[], &[]);
    match ctx.eval(&c) {
        Ok(v) if !ctx.missing => CExpr::Const(v),
        _ => c,
    }
}

fn is_const(c: &CExpr) -> bool {
    matches!(c, CExpr::Const(_))
}
