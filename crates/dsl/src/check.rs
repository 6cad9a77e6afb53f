//! The checker: parsed packs → checked packs, or every problem at once.
//!
//! It resolves imports (reporting unknown packs and cycles), folds
//! constants (reporting cycles), validates every block against the kind
//! table in [`crate::schema`] (unknown kinds and fields, misplaced blocks,
//! missing and duplicate fields and names, types), and resolves every name
//! in every expression against the block's input roots, the pack's
//! constants, imports, builtins and scorers. It never stops at the first
//! problem: all diagnostics of a run are returned together.

use crate::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::interp::{self, Env};
use crate::schema::{self, Condition, Kind, Roots, Ty};
use crate::source::Span;
use crate::value::{EvalError, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A pack that passed the checker, with what name resolution found.
#[derive(Debug, Clone)]
pub struct CheckedPack {
    pub ast: Pack,
    /// Local import name → index of the imported pack in the workspace.
    pub imports: BTreeMap<String, usize>,
    /// Folded constants of this pack.
    pub consts: BTreeMap<String, Value>,
    /// Risk levels in scope, highest first.
    pub levels: Vec<String>,
}

impl CheckedPack {
    pub fn name(&self) -> &str {
        &self.ast.name.name
    }
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.ast.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
    }
    /// Top-level block of a kind by name.
    pub fn block(&self, kind: &str, name: &str) -> Option<&Block> {
        self.blocks()
            .find(|b| b.kind.name == kind && b.name_str() == name)
    }
}

/// The checked packs of a run, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub packs: Vec<CheckedPack>,
}

impl Checked {
    pub fn pack(&self, name: &str) -> Option<&CheckedPack> {
        self.packs.iter().find(|p| p.name() == name)
    }
    pub fn pack_index(&self, name: &str) -> Option<usize> {
        self.packs.iter().position(|p| p.name() == name)
    }
}

/// Input roots the expressions of a block may read.
pub fn block_roots(block: &Block, kind: &Kind, pack: &Pack) -> Vec<String> {
    let mut roots = vec!["input".to_string()];
    match kind.roots {
        Roots::Fixed(list) => roots.extend(list.iter().map(|s| s.to_string())),
        Roots::FromField(field) => {
            if let Some(a) = block.attr(field) {
                if let ExprKind::Name(n) = &a.value.kind {
                    roots.push(n.clone());
                }
            }
        }
        Roots::OfWaived => {
            let names = string_list(block.attr("rules").map(|a| &a.value));
            for item in &pack.items {
                if let Item::Block(b) = item {
                    if names.iter().any(|n| n == b.name_str()) {
                        if let Some(k) = schema::kind(&b.kind.name) {
                            if !matches!(k.roots, Roots::OfWaived) {
                                roots.extend(block_roots(b, k, pack));
                            }
                        }
                    }
                }
            }
        }
        Roots::None => {}
    }
    roots.sort();
    roots.dedup();
    roots
}

/// The strings of a list literal of strings or bare names.
pub fn string_list(e: Option<&Expr>) -> Vec<String> {
    match e.map(|e| &e.kind) {
        Some(ExprKind::List(items)) => items.iter().filter_map(bare_or_string).collect(),
        _ => Vec::new(),
    }
}

/// A bare name or a plain string literal.
pub fn bare_or_string(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) => Some(n.clone()),
        ExprKind::Template(parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    TemplatePart::Text(t) => s.push_str(t),
                    TemplatePart::Expr(_) => return None,
                }
            }
            Some(s)
        }
        _ => None,
    }
}

fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(_, c)| c.to_string())
}

/// Check parsed packs together (imports resolve across them).
pub fn check(packs: Vec<Pack>) -> Result<Checked, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, p) in packs.iter().enumerate() {
        if let Some(&first) = by_name.get(&p.name.name) {
            let other = &packs[first];
            diags.push(
                Diagnostic::new(
                    Code::DuplicatePack,
                    p.name.span,
                    format!("pack `{}` is defined twice", p.name.name),
                )
                .label("second definition")
                .also(other.name.span, "first definition")
                .help("pack names are unique in a rules directory; rename one of them"),
            );
        } else {
            by_name.insert(p.name.name.clone(), i);
        }
    }

    // Imports.
    let mut imports: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); packs.len()];
    for (i, p) in packs.iter().enumerate() {
        for item in &p.items {
            let Item::Import(imp) = item else { continue };
            let local = imp.local_name().name.clone();
            match by_name.get(&imp.pack.name) {
                Some(&j) => {
                    if imports[i].insert(local.clone(), j).is_some() {
                        diags.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                imp.local_name().span,
                                format!("`{local}` is imported twice"),
                            )
                            .help("give one of the imports another name with `as`"),
                        );
                    }
                }
                None => {
                    let mut d = Diagnostic::new(
                        Code::UnresolvedImport,
                        imp.pack.span,
                        format!("no pack named `{}` in these rules", imp.pack.name),
                    )
                    .label("unknown pack");
                    d = match suggest(&imp.pack.name, by_name.keys().map(|s| s.as_str())) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help("imports name a pack (`pack NAME version ...`) in the same rules directory"),
                    };
                    diags.push(d);
                }
            }
        }
    }
    // Import cycles: report each cycle once, at the import that closes it.
    let order = match topo_order(&imports) {
        Ok(o) => o,
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| packs[i].name.name.as_str()).collect();
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let span = packs[first]
                .items
                .iter()
                .find_map(|it| match it {
                    Item::Import(imp) if by_name.get(&imp.pack.name) == Some(&next) => {
                        Some(imp.span)
                    }
                    _ => None,
                })
                .unwrap_or(packs[first].name.span);
            diags.push(
                Diagnostic::new(
                    Code::ImportCycle,
                    span,
                    format!("import cycle: {}", names.join(" → ") + " → " + names[0]),
                )
                .label("this import closes the cycle")
                .help("move what both packs need into a third pack that imports neither"),
            );
            (0..packs.len()).collect()
        }
    };

    // Constants and blocks, in import order so imported constants are known.
    let mut consts: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new(); packs.len()];
    let mut levels: Vec<Vec<String>> = vec![Vec::new(); packs.len()];
    for &i in &order {
        let pack = &packs[i];
        let imported_levels = imports[i].values().find_map(|&j| {
            if packs[j]
                .items
                .iter()
                .any(|it| matches!(it, Item::Block(b) if b.kind.name == "taxonomy"))
            {
                Some(levels[j].clone())
            } else {
                None
            }
        });
        levels[i] = own_levels(pack).or(imported_levels).unwrap_or_else(|| {
            schema::DEFAULT_LEVELS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        let folded = fold_consts(pack, &imports[i], &consts, &packs, &mut diags);
        consts[i] = folded;
        let mut cx = Cx {
            pack,
            packs: &packs,
            imports: &imports[i],
            consts: &consts,
            self_index: i,
            levels: &levels[i],
            diags: &mut diags,
        };
        cx.check_items();
    }

    if !diags.is_empty() {
        diags.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
        return Err(diags);
    }
    let packs = packs
        .into_iter()
        .enumerate()
        .map(|(i, ast)| CheckedPack {
            ast,
            imports: std::mem::take(&mut imports[i]),
            consts: std::mem::take(&mut consts[i]),
            levels: std::mem::take(&mut levels[i]),
        })
        .collect();
    Ok(Checked { packs })
}

fn own_levels(pack: &Pack) -> Option<Vec<String>> {
    pack.items.iter().find_map(|it| match it {
        Item::Block(b) if b.kind.name == "taxonomy" => {
            Some(string_list(b.attr("levels").map(|a| &a.value)))
        }
        _ => None,
    })
}

/// Topological order of packs by imports (imported first), or a cycle.
fn topo_order(imports: &[BTreeMap<String, usize>]) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: usize,
        imports: &[BTreeMap<String, usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[n] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let pos = stack.iter().position(|&x| x == n).unwrap_or(0);
                return Err(stack[pos..].to_vec());
            }
            Mark::New => {}
        }
        marks[n] = Mark::Active;
        stack.push(n);
        for &m in imports[n].values() {
            visit(m, imports, marks, stack, out)?;
        }
        stack.pop();
        marks[n] = Mark::Done;
        out.push(n);
        Ok(())
    }
    let mut marks = vec![Mark::New; imports.len()];
    let mut out = Vec::new();
    for n in 0..imports.len() {
        visit(n, imports, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// Environment for constant folding: constants only, no input.
struct ConstEnv<'a> {
    local: &'a BTreeMap<String, Value>,
    imports: &'a BTreeMap<String, usize>,
    all: &'a [BTreeMap<String, Value>],
}

impl Env for ConstEnv<'_> {
    fn name(&self, name: &str) -> Option<Value> {
        self.local.get(name).cloned()
    }
    fn is_import(&self, name: &str) -> bool {
        self.imports.contains_key(name)
    }
    fn qualified(&self, alias: &str, name: &str) -> Option<Value> {
        self.imports
            .get(alias)
            .and_then(|&i| self.all.get(i))
            .and_then(|c| c.get(name).cloned())
    }
    fn scorer(&self, _: &str, _: &[Value]) -> Option<Result<Value, EvalError>> {
        None
    }
}

/// Names a constant expression refers to (for ordering and cycle detection).
fn free_names(e: &Expr, out: &mut Vec<(String, Span)>, bound: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if !bound.contains(n) {
                out.push((n.clone(), e.span))
            }
        }
        ExprKind::Member(b, _) => {
            if let ExprKind::Name(_) = b.kind {
                // `alias.name` is resolved by the caller; record the base only.
            }
            free_names(b, out, bound)
        }
        ExprKind::Lit(_) => {}
        ExprKind::Template(parts) => {
            for p in parts {
                if let TemplatePart::Expr(x) = p {
                    free_names(x, out, bound)
                }
            }
        }
        ExprKind::List(xs) => xs.iter().for_each(|x| free_names(x, out, bound)),
        ExprKind::Map(es) => es.iter().for_each(|(_, x)| free_names(x, out, bound)),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            free_names(a, out, bound);
            free_names(b, out, bound)
        }
        ExprKind::Call(_, args) => args.iter().for_each(|x| free_names(x, out, bound)),
        ExprKind::Unary(_, x) | ExprKind::Paren(x) => free_names(x, out, bound),
        ExprKind::If(a, b, c) => {
            free_names(a, out, bound);
            free_names(b, out, bound);
            free_names(c, out, bound)
        }
        ExprKind::Quant(_, v, list, pred) => {
            free_names(list, out, bound);
            bound.push(v.name.clone());
            free_names(pred, out, bound);
            bound.pop();
        }
    }
}

fn fold_consts(
    pack: &Pack,
    imports: &BTreeMap<String, usize>,
    all: &[BTreeMap<String, Value>],
    _packs: &[Pack],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Value> {
    let mut decls: BTreeMap<&str, &Const> = BTreeMap::new();
    for item in &pack.items {
        if let Item::Const(c) = item {
            if let Some(first) = decls.get(c.name.name.as_str()) {
                diags.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        c.name.span,
                        format!("constant `{}` is defined twice", c.name.name),
                    )
                    .label("second definition")
                    .also(first.name.span, "first definition")
                    .help("rename one of them"),
                );
                continue;
            }
            decls.insert(&c.name.name, c);
        }
    }
    // Order constants by their references; report cycles.
    let mut done: BTreeMap<String, Value> = BTreeMap::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    #[expect(
        clippy::too_many_arguments,
        reason = "a local recursive helper over the folding state"
    )]
    fn visit<'a>(
        name: &'a str,
        decls: &BTreeMap<&'a str, &'a Const>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeMap<String, Value>,
        failed: &mut BTreeSet<String>,
        imports: &BTreeMap<String, usize>,
        all: &[BTreeMap<String, Value>],
        diags: &mut Vec<Diagnostic>,
    ) {
        if done.contains_key(name) || failed.contains(name) {
            return;
        }
        let Some(c) = decls.get(name) else { return };
        if stack.contains(&name) {
            let pos = stack.iter().position(|n| *n == name).unwrap_or(0);
            let mut chain: Vec<&str> = stack[pos..].to_vec();
            chain.push(name);
            diags.push(
                Diagnostic::new(
                    Code::ConstCycle,
                    c.name.span,
                    format!("constant `{name}` refers to itself: {}", chain.join(" → ")),
                )
                .label("defined in terms of itself")
                .help("a constant must be computable from literals and earlier constants"),
            );
            for n in &stack[pos..] {
                failed.insert(n.to_string());
            }
            return;
        }
        stack.push(name);
        let mut refs = Vec::new();
        free_names(&c.value, &mut refs, &mut Vec::new());
        for (r, _) in &refs {
            if let Some((k, _)) = decls.get_key_value(r.as_str()) {
                visit(k, decls, stack, done, failed, imports, all, diags);
            }
        }
        stack.pop();
        if failed.contains(name) {
            return;
        }
        // Unresolved names in a constant.
        let mut bad = false;
        for (r, span) in &refs {
            if !decls.contains_key(r.as_str()) && !imports.contains_key(r) {
                let mut d = Diagnostic::new(
                    Code::UnresolvedName,
                    *span,
                    format!("unknown name `{r}` in constant `{name}`"),
                )
                .label("not a constant");
                d = match suggest(r, decls.keys().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`? constants may refer only to other constants")),
                    None => d.help("constants may refer only to literals, other constants and imported constants"),
                };
                diags.push(d);
                bad = true;
            }
        }
        if bad {
            failed.insert(name.to_string());
            return;
        }
        let env = ConstEnv {
            local: done,
            imports,
            all,
        };
        match interp::eval_const(&c.value, &env) {
            Ok(v) => {
                done.insert(name.to_string(), v);
            }
            Err(e) => {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        c.value.span,
                        format!("constant `{name}` cannot be computed: {e}"),
                    )
                    .label("here")
                    .help("constants are computed when the pack loads; fix the operands"),
                );
                failed.insert(name.to_string());
            }
        }
    }
    let names: Vec<&str> = decls.keys().copied().collect();
    for n in names {
        visit(
            n,
            &decls,
            &mut Vec::new(),
            &mut done,
            &mut failed,
            imports,
            all,
            diags,
        );
    }
    done
}

struct Cx<'a> {
    pack: &'a Pack,
    packs: &'a [Pack],
    imports: &'a BTreeMap<String, usize>,
    consts: &'a [BTreeMap<String, Value>],
    self_index: usize,
    levels: &'a [String],
    diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn local_consts(&self) -> &BTreeMap<String, Value> {
        &self.consts[self.self_index]
    }

    fn scorers(&self) -> Vec<&str> {
        self.top_blocks()
            .filter(|b| b.kind.name == "scorer")
            .map(|b| b.name_str())
            .collect()
    }

    fn top_blocks(&self) -> impl Iterator<Item = &'a Block> + 'a {
        let pack: &'a Pack = self.pack;
        pack.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
    }

    fn check_items(&mut self) {
        // Unique names among top-level blocks (tests have their own namespace).
        let mut seen: HashMap<(bool, String), Span> = HashMap::new();
        let blocks: Vec<&Block> = self.top_blocks().collect();
        for b in &blocks {
            let Some(name) = &b.name else { continue };
            let key = (b.kind.name == "test", name.name.clone());
            if let Some(first) = seen.get(&key) {
                let what = if key.0 { "test" } else { "block" };
                self.err(
                    Diagnostic::new(
                        Code::DuplicateName,
                        name.span,
                        format!(
                            "{what} name `{}` is used twice in pack `{}`",
                            name.name, self.pack.name.name
                        ),
                    )
                    .label("second definition")
                    .also(*first, "first definition")
                    .help("names identify blocks in decisions and tests; make them unique"),
                );
            } else {
                seen.insert(key, name.span);
            }
        }
        let taxonomies: Vec<&&Block> = blocks
            .iter()
            .filter(|b| b.kind.name == "taxonomy")
            .collect();
        if let Some(t) = taxonomies.first() {
            self.check_taxonomy(t);
        }
        if let Some(second) = taxonomies.get(1) {
            self.err(
                Diagnostic::new(
                    Code::DuplicateName,
                    second.kind.span,
                    "a pack may declare one taxonomy",
                )
                .label("second taxonomy")
                .help("put the levels in one `taxonomy` block; other packs import it"),
            );
        }
        for b in blocks {
            self.check_block(b, "");
        }
    }

    /// Level names that reports, the gates and CI already use for their
    /// own meanings (no change, a change no rule classifies, lint findings,
    /// broken packs, `--fail-on never`) are not levels; a level is
    /// described by one `level` block at most.
    fn check_taxonomy(&mut self, t: &Block) {
        const RESERVED: &[&str] = &["none", "unclassified", "lint", "packs", "never"];
        if let Some(ExprKind::List(items)) = t.attr("levels").map(|a| &a.value.kind) {
            for item in items {
                if let ExprKind::Name(n) = &item.kind {
                    if RESERVED.contains(&n.as_str()) {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidValue,
                                item.span,
                                format!("`{n}` cannot name a level"),
                            )
                            .label("reserved")
                            .help(format!(
                                "reports and gates use {} for their own meanings; pick another name",
                                RESERVED.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                            )),
                        );
                    }
                }
            }
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for level in t.blocks().filter(|b| b.kind.name == "level") {
            let Some(name) = &level.name else { continue };
            match seen.get(name.name.as_str()) {
                Some(first) => self.err(
                    Diagnostic::new(
                        Code::DuplicateName,
                        name.span,
                        format!("level `{}` is described twice", name.name),
                    )
                    .label("second description")
                    .also(*first, "first description")
                    .help("put its icon, title, annotation and listing in one `level` block"),
                ),
                None => {
                    seen.insert(&name.name, name.span);
                }
            }
        }
    }

    /// A `level` block inside a taxonomy names one of its levels.
    fn check_level_name(&mut self, b: &Block) {
        let Some(name) = &b.name else { return };
        let shown = b.name_str();
        if self.levels.iter().any(|l| l == shown) {
            return;
        }
        let mut d = Diagnostic::new(
            Code::InvalidValue,
            name.span,
            format!("`{shown}` is not a level of the taxonomy"),
        )
        .label("unknown level");
        d = match suggest(shown, self.levels.iter().map(|s| s.as_str())) {
            Some(s) => d.help(format!(
                "did you mean `{s}`? levels are: {}",
                self.levels.join(", ")
            )),
            None => d.help(format!("levels are: {}", self.levels.join(", "))),
        };
        self.err(d);
    }

    fn check_block(&mut self, b: &Block, parent: &str) {
        let Some(kind) = schema::kind(&b.kind.name) else {
            let mut d = Diagnostic::new(
                Code::UnknownKind,
                b.kind.span,
                format!("unknown block kind `{}`", b.kind.name),
            )
            .label("not a block kind");
            let allowed: Vec<&str> = schema::KINDS
                .iter()
                .filter(|k| k.parents.contains(&parent))
                .map(|k| k.kind)
                .collect();
            d = match suggest(&b.kind.name, allowed.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("blocks here are: {}", allowed.join(", "))),
            };
            self.err(d);
            return;
        };
        if !kind.parents.contains(&parent) {
            let where_ = if parent.is_empty() {
                "at the top level of a pack".to_string()
            } else {
                format!("inside `{parent}`")
            };
            let allowed: Vec<String> = kind
                .parents
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        "the top level".to_string()
                    } else {
                        format!("`{p}`")
                    }
                })
                .collect();
            self.err(
                Diagnostic::new(
                    Code::MisplacedBlock,
                    b.kind.span,
                    format!("a `{}` block cannot appear {where_}", kind.kind),
                )
                .label("misplaced")
                .help(format!(
                    "`{}` blocks belong in {}",
                    kind.kind,
                    allowed.join(" or ")
                )),
            );
        }
        if kind.name_required && b.name.is_none() {
            self.err(
                Diagnostic::new(
                    Code::MissingName,
                    b.kind.span,
                    format!("a `{}` block needs a name", kind.kind),
                )
                .label("no name")
                .help(format!("write `{} NAME {{ ... }}`", kind.kind)),
            );
        }
        if kind.kind == "level" {
            self.check_level_name(b);
        }
        let roots = block_roots(b, kind, self.pack);
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for entry in &b.entries {
            match entry {
                Entry::Block(child) => self.check_block(child, kind.kind),
                Entry::Attr(a) => {
                    if let Some(first) = seen.get(a.key.name.as_str()) {
                        self.err(
                            Diagnostic::new(
                                Code::DuplicateField,
                                a.key.span,
                                format!("field `{}` is set twice in `{}`", a.key.name, b.title()),
                            )
                            .label("second value")
                            .also(*first, "first value")
                            .help("each field takes one value; use a list for several"),
                        );
                        continue;
                    }
                    seen.insert(&a.key.name, a.key.span);
                    match kind.field(&a.key.name) {
                        Some(field) => self.check_value(&field.ty, &a.value, &roots, field.name),
                        None => {
                            let mut d = Diagnostic::new(
                                Code::UnknownField,
                                a.key.span,
                                format!(
                                    "`{}` is not a field of `{}` blocks",
                                    a.key.name, kind.kind
                                ),
                            )
                            .label("unknown field");
                            let is_child = kind.children().any(|c| c.kind == a.key.name);
                            d = if is_child {
                                d.help(format!(
                                    "`{}` is a nested block here: write `{} NAME {{ ... }}`",
                                    a.key.name, a.key.name
                                ))
                            } else {
                                match suggest(&a.key.name, kind.all_fields().map(|f| f.name)) {
                                    Some(s) => d.help(format!("did you mean `{s}`?")),
                                    None => d.help(format!(
                                        "fields of `{}` are: {}",
                                        kind.kind,
                                        kind.all_fields()
                                            .map(|f| f.name)
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )),
                                }
                            };
                            self.err(d);
                        }
                    }
                }
            }
        }
        for field in kind.fields.iter().filter(|f| f.required) {
            if !seen.contains_key(field.name) {
                self.err(
                    Diagnostic::new(
                        Code::MissingField,
                        b.kind.span,
                        format!(
                            "`{}` is missing the required field `{}`",
                            b.title(),
                            field.name
                        ),
                    )
                    .label("in this block")
                    .help(format!(
                        "add `{} <{}>`: {}",
                        field.name,
                        field.ty.describe(),
                        field.doc
                    )),
                );
            }
        }
        self.check_kind_rules(b, kind);
    }

    /// Rules of the language that involve several fields of one kind.
    fn check_kind_rules(&mut self, b: &Block, kind: &Kind) {
        let has = |n: &str| b.attr(n).is_some();
        let exactly_one = |names: &[&str]| names.iter().filter(|n| has(n)).count() == 1;
        match kind.condition {
            Condition::Threshold if !exactly_one(&["above", "below"]) => self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!("`{}` needs exactly one of `above` or `below`", b.title()),
                )
                .label("in this threshold")
                .help("a threshold compares its metric with one bound"),
            ),
            _ => {}
        }
        match kind.kind {
            "setting" if !exactly_one(&["at_least", "at_most", "equals", "one_of"]) => self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!(
                        "`{}` needs exactly one of `at_least`, `at_most`, `equals` or `one_of`",
                        b.title()
                    ),
                )
                .label("in this setting")
                .help("a baseline setting states one requirement on the live value"),
            ),
            "watcher" if !has("cadence") && !has("cron") => self.err(
                Diagnostic::new(
                    Code::MissingField,
                    b.kind.span,
                    format!("`{}` needs a `cadence` or a `cron` schedule", b.title()),
                )
                .label("no schedule")
                .help("write `cadence 1m` or `cron \"*/5 * * * *\"`"),
            ),
            "window" => {
                let duration = b.attr("duration").and_then(|a| {
                    let v = self.fold(&a.value)?;
                    Some((a, v))
                });
                if let Some((a, Value::Duration(ms))) = duration {
                    if ms <= 0 {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidValue,
                                a.value.span,
                                format!(
                                    "a window's `duration` must be longer than zero, found `{}`",
                                    crate::value::format_duration(ms)
                                ),
                            )
                            .label("never open")
                            .help("write how long the window stays open once its cron fires, such as `4h`"),
                        );
                    }
                }
            }
            "hysteresis" => {
                let num = |n: &str| {
                    b.attr(n)
                        .and_then(|a| self.fold(&a.value))
                        .and_then(|v| match v {
                            Value::Int(i) => Some(i as f64),
                            Value::Float(f) => Some(f),
                            _ => None,
                        })
                };
                if let (Some(enter), Some(exit), Some(a)) =
                    (num("enter"), num("exit"), b.attr("exit"))
                {
                    if exit >= enter {
                        self.err(
                            Diagnostic::new(Code::InvalidValue, a.value.span, format!("`exit` ({exit}) must be below `enter` ({enter})"))
                                .label("not below enter")
                                .help("the gap between enter and exit is what stops a state from flapping"),
                        );
                    }
                }
            }
            "waiver" => {
                if let Some(a) = b.attr("rules") {
                    if let ExprKind::List(items) = &a.value.kind {
                        for item in items {
                            if let Some(n) = bare_or_string(item) {
                                let found = self.top_blocks().any(|x| {
                                    x.name_str() == n
                                        && x.kind.name != "test"
                                        && x.kind.name != "waiver"
                                });
                                if !found {
                                    self.unresolved_block(&n, item.span, "block");
                                }
                            }
                        }
                    }
                }
            }
            "test" => {
                for a in [
                    "expect",
                    "expect_not",
                    "expect_inconclusive",
                    "expect_waived",
                ]
                .into_iter()
                .filter_map(|f| b.attr(f))
                {
                    if let ExprKind::List(items) = &a.value.kind {
                        for item in items {
                            if let Some(n) = bare_or_string(item) {
                                if !self.block_exists(&n) {
                                    self.unresolved_block(&n, item.span, "block");
                                }
                            }
                        }
                    }
                }
                self.check_expect_map(b, "expect_effects");
                self.check_expect_map(b, "expect_because");
                if let Some(a) = b.attr("input") {
                    if let Some(v) = self.fold(&a.value) {
                        if !matches!(v, Value::Map(_)) {
                            self.err(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    a.value.span,
                                    format!("test input must be a map, found {}", v.type_name()),
                                )
                                .label("not a map")
                                .help("write the input facts as `{action: {verb: \"delete\"}}`"),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A test's `expect_effects` or `expect_because`: a map whose keys are
    /// blocks of the pack, to maps of effects or to the expected `because`
    /// (a string, or a regex it must match).
    fn check_expect_map(&mut self, b: &Block, field: &str) {
        let Some(a) = b.attr(field) else { return };
        let Some(v) = self.fold(&a.value) else { return };
        let (want, help) = if field == "expect_effects" {
            (
                "a map of effect fields",
                "write `{\"block-name\": {field: value}}`",
            )
        } else {
            (
                "a string or a regex",
                "write `{\"block-name\": \"the exact text\"}` or `{\"block-name\": /a pattern/}`",
            )
        };
        let Value::Map(m) = v else {
            self.err(
                Diagnostic::new(
                    Code::TypeMismatch,
                    a.value.span,
                    format!(
                        "`{field}` must be a map from block names to {want}, found {}",
                        v.type_name()
                    ),
                )
                .label("not a map")
                .help(help),
            );
            return;
        };
        // Keys and values written in place point at themselves; a map from a
        // constant points at the field.
        let span_of = |name: &str| match &a.value.kind {
            ExprKind::Map(es) => es
                .iter()
                .find(|(k, _)| k.name == name)
                .map_or((a.value.span, a.value.span), |(k, x)| (k.span, x.span)),
            _ => (a.value.span, a.value.span),
        };
        for (name, value) in m.iter() {
            let (key_span, value_span) = span_of(name);
            if !self.block_exists(name) {
                self.unresolved_block(name, key_span, "block");
            }
            let fits = if field == "expect_effects" {
                matches!(value, Value::Map(_))
            } else {
                matches!(value, Value::Str(_) | Value::Regex(_))
            };
            if !fits {
                self.err(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        value_span,
                        format!(
                            "`{field}` of `{name}` must be {want}, found {}",
                            value.type_name()
                        ),
                    )
                    .label(format!("not {want}"))
                    .help(help),
                );
            }
        }
    }

    /// Whether a block (top-level or nested, as `parent/child`) of this name exists.
    fn block_exists(&self, name: &str) -> bool {
        fn walk(b: &Block, prefix: &str, name: &str) -> bool {
            let full = if prefix.is_empty() {
                b.name_str().to_string()
            } else {
                format!("{prefix}/{}", b.name_str())
            };
            if full == name {
                return true;
            }
            b.blocks().any(|c| walk(c, &full, name))
        }
        self.top_blocks()
            .filter(|b| b.kind.name != "test")
            .any(|b| walk(b, "", name))
    }

    fn unresolved_block(&mut self, name: &str, span: Span, what: &str) {
        let names: Vec<String> = self
            .top_blocks()
            .filter(|b| b.kind.name != "test")
            .map(|b| b.name_str().to_string())
            .collect();
        let mut d = Diagnostic::new(
            Code::UnresolvedName,
            span,
            format!("no {what} named `{name}` in pack `{}`", self.pack.name.name),
        )
        .label("unknown block");
        d = match suggest(name, names.iter().map(|s| s.as_str())) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("name a block of this pack; nested blocks are `parent/child`"),
        };
        self.err(d);
    }

    /// Fold a closed expression; `None` if it reads names that are not constants.
    fn fold(&self, e: &Expr) -> Option<Value> {
        if !self.is_closed(e, &mut Vec::new()) {
            return None;
        }
        let env = ConstEnv {
            local: self.local_consts(),
            imports: self.imports,
            all: self.consts,
        };
        interp::eval_const(e, &env).ok()
    }

    /// Whether an expression reads only constants and calls only builtins.
    fn is_closed(&self, e: &Expr, bound: &mut Vec<String>) -> bool {
        match &e.kind {
            ExprKind::Lit(_) => true,
            ExprKind::Name(n) => bound.contains(n) || self.local_consts().contains_key(n),
            ExprKind::Member(b, _) => match &b.kind {
                ExprKind::Name(n) if self.imports.contains_key(n) => true,
                _ => self.is_closed(b, bound),
            },
            ExprKind::Template(parts) => parts.iter().all(|p| match p {
                TemplatePart::Text(_) => true,
                TemplatePart::Expr(x) => self.is_closed(x, bound),
            }),
            ExprKind::List(xs) => xs.iter().all(|x| self.is_closed(x, bound)),
            ExprKind::Map(es) => es.iter().all(|(_, x)| self.is_closed(x, bound)),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                self.is_closed(a, bound) && self.is_closed(b, bound)
            }
            ExprKind::Call(f, args) => {
                crate::builtins::lookup(&f.name).is_some()
                    && args.iter().all(|x| self.is_closed(x, bound))
            }
            ExprKind::Unary(_, x) | ExprKind::Paren(x) => self.is_closed(x, bound),
            ExprKind::If(a, b, c) => {
                self.is_closed(a, bound) && self.is_closed(b, bound) && self.is_closed(c, bound)
            }
            ExprKind::Quant(_, v, list, pred) => {
                if !self.is_closed(list, bound) {
                    return false;
                }
                bound.push(v.name.clone());
                let r = self.is_closed(pred, bound);
                bound.pop();
                r
            }
        }
    }

    fn check_value(&mut self, ty: &Ty, e: &Expr, roots: &[String], field: &str) {
        match ty {
            Ty::Cond | Ty::Value | Ty::Template => {
                self.check_expr(e, roots, &mut Vec::new());
                if *ty == Ty::Cond {
                    if let Some(t) = static_type(e, self) {
                        if t != "boolean" && t != "null" {
                            self.err(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    e.span,
                                    format!("`{field}` must be a boolean condition, found {t}"),
                                )
                                .label(format!("this is {t}"))
                                .help("write a comparison, such as `action.rows > 1000`"),
                            );
                        }
                    }
                }
                if *ty == Ty::Template && !matches!(e.kind, ExprKind::Template(_)) {
                    self.err(
                        Diagnostic::new(Code::TypeMismatch, e.span, format!("`{field}` must be a string"))
                            .label("not a string")
                            .help("write text in double quotes; `{expr}` parts are filled in from the input"),
                    );
                }
            }
            Ty::Level => match &e.kind {
                ExprKind::Name(n) if self.levels.iter().any(|l| l == n) => {}
                _ => {
                    let shown = crate::fmt::expr_to_string(e);
                    let mut d = Diagnostic::new(
                        Code::InvalidValue,
                        e.span,
                        format!("`{shown}` is not a level of the taxonomy"),
                    )
                    .label("unknown level");
                    d = match suggest(&shown, self.levels.iter().map(|s| s.as_str())) {
                        Some(s) => d.help(format!(
                            "did you mean `{s}`? levels are: {}",
                            self.levels.join(", ")
                        )),
                        None => d.help(format!("levels are: {}", self.levels.join(", "))),
                    };
                    self.err(d);
                }
            },
            Ty::Enum(vals) => match &e.kind {
                ExprKind::Name(n) if vals.contains(&n.as_str()) => {}
                _ => {
                    let shown = crate::fmt::expr_to_string(e);
                    let mut d = Diagnostic::new(
                        Code::InvalidValue,
                        e.span,
                        format!("`{shown}` is not a valid `{field}`"),
                    )
                    .label("not allowed here");
                    d = match suggest(&shown, vals.iter().copied()) {
                        Some(s) => d.help(format!(
                            "did you mean `{s}`? `{field}` is one of: {}",
                            vals.join(", ")
                        )),
                        None => d.help(format!("`{field}` is one of: {}", vals.join(", "))),
                    };
                    self.err(d);
                }
            },
            Ty::Ident => {
                if !matches!(e.kind, ExprKind::Name(_)) {
                    self.err(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            e.span,
                            format!("`{field}` takes a bare name"),
                        )
                        .label("not a name")
                        .help("write a name without quotes, such as `change`"),
                    );
                }
            }
            Ty::BlockRef(kind) => match bare_or_string(e) {
                Some(n) => {
                    let found = self
                        .top_blocks()
                        .any(|b| b.kind.name == *kind && b.name_str() == n);
                    if !found {
                        self.unresolved_block(&n, e.span, &format!("`{kind}`"));
                    }
                }
                None => self.err(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        e.span,
                        format!("`{field}` must name a `{kind}` block"),
                    )
                    .label("not a name")
                    .help(format!(
                        "write the name of a `{kind}` block of this pack, bare or quoted"
                    )),
                ),
            },
            Ty::List(inner) => match &e.kind {
                ExprKind::List(items) => {
                    for item in items {
                        self.check_value(inner, item, roots, field);
                    }
                }
                _ if !inner.is_dynamic()
                    && !matches!(inner, Ty::Level | Ty::Enum(_) | Ty::Ident | Ty::BlockRef(_)) =>
                {
                    self.check_static(ty, e, field)
                }
                _ => self.err(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        e.span,
                        format!("`{field}` must be {}", ty.describe()),
                    )
                    .label("not a list")
                    .help("write a list in brackets: `[a, b]`"),
                ),
            },
            _ => self.check_static(ty, e, field),
        }
    }

    /// A field whose value is a constant of a given type.
    fn check_static(&mut self, ty: &Ty, e: &Expr, field: &str) {
        let mut refs = Vec::new();
        free_names(e, &mut refs, &mut Vec::new());
        for (n, span) in &refs {
            if !self.local_consts().contains_key(n) && !self.imports.contains_key(n) {
                let mut d = Diagnostic::new(
                    Code::UnresolvedName,
                    *span,
                    format!("`{field}` must be a constant, but `{n}` is not one"),
                )
                .label("not a constant");
                d = match suggest(n, self.local_consts().keys().map(|s| s.as_str())) {
                    Some(s) => d.help(format!("did you mean the constant `{s}`?")),
                    None => {
                        d.help("this field is fixed when the pack loads; it cannot read the input")
                    }
                };
                self.err(d);
                return;
            }
        }
        let env = ConstEnv {
            local: self.local_consts(),
            imports: self.imports,
            all: self.consts,
        };
        let v = match interp::eval_const(e, &env) {
            Ok(v) => v,
            Err(err) => {
                self.err(
                    Diagnostic::new(
                        Code::InvalidValue,
                        e.span,
                        format!("`{field}` cannot be computed: {err}"),
                    )
                    .label("here")
                    .help("this field is computed when the pack loads; fix the operands"),
                );
                return;
            }
        };
        if let Ty::Selector = ty {
            self.check_selector(e, &v);
            return;
        }
        if let (Ty::Cron, Value::Str(text)) = (ty, &v) {
            if let Err(c) = crate::cron::Schedule::parse(text) {
                self.err(
                    Diagnostic::new(Code::InvalidValue, inside_string(e, text, c.at), c.message)
                        .label("here")
                        .help(c.help),
                );
            }
            return;
        }
        if let Some(problem) = static_mismatch(ty, &v) {
            self.err(
                Diagnostic::new(
                    Code::TypeMismatch,
                    e.span,
                    format!("`{field}` must be {}, found {problem}", ty.describe()),
                )
                .label(format!("this is {problem}"))
                .help(type_hint(ty)),
            );
        }
    }

    /// A label selector written in the pack (a selector field, or the first
    /// argument of `selects`): null or malformed, it would select nothing
    /// or be an error on every input, so it is an error here, where it is
    /// written.
    fn check_selector(&mut self, e: &Expr, v: &Value) {
        let hint = "write `{labels: {env: \"prod\"}}`; the keys are labels, in, not_in, exists, not_exists, and `{}` selects everything";
        if v.is_null() {
            self.err(
                Diagnostic::new(
                    Code::TypeMismatch,
                    e.span,
                    "a `null` selector selects nothing",
                )
                .label("selects nothing")
                .help(hint),
            );
            return;
        }
        let Some(p) = crate::builtins::selector_problem(v) else {
            return;
        };
        // Underline the key at fault when the map is written here.
        let span = match (&e.kind, &p.key) {
            (ExprKind::Map(entries), Some(key)) => entries
                .iter()
                .find(|(k, _)| &k.name == key)
                .map_or(e.span, |(k, _)| k.span),
            _ => e.span,
        };
        self.err(
            Diagnostic::new(Code::TypeMismatch, span, p.message)
                .label("not a label selector")
                .help(hint),
        );
    }

    /// Windows written in the pack for `windows_allow` (a window map or a
    /// list of them): the same checks as a `window` block.
    fn check_windows(&mut self, e: &Expr, v: &Value) {
        let items: Vec<(Span, Value)> = match (v, &e.kind) {
            (Value::List(l), ExprKind::List(xs)) if xs.len() == l.len() => {
                xs.iter().map(|x| x.span).zip(l.iter().cloned()).collect()
            }
            (Value::List(l), _) => l.iter().map(|w| (e.span, w.clone())).collect(),
            (Value::Map(_), _) => vec![(e.span, v.clone())],
            _ => {
                self.err(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        e.span,
                        format!("`windows_allow` takes a window map or a list of them, found {}", v.type_name()),
                    )
                    .label("not windows")
                    .help("write `{mode: \"deny\", cron: \"0 18 * * FRI\", duration: 62h, tz: \"Europe/London\"}`"),
                );
                return;
            }
        };
        for (span, w) in items {
            if let Err(problem) = crate::window::from_value(&w) {
                self.err(
                    Diagnostic::new(Code::InvalidValue, span, problem)
                        .label("not a window")
                        .help("a window is `{mode, cron, duration, tz}`: see docs/language.md, Time windows and Cron"),
                );
            }
        }
    }

    fn check_expr(&mut self, e: &Expr, roots: &[String], bound: &mut Vec<String>) {
        match &e.kind {
            ExprKind::Lit(_) => {}
            ExprKind::Name(n) => {
                if bound.contains(n) || roots.contains(n) || self.local_consts().contains_key(n) {
                    return;
                }
                if self.imports.contains_key(n) {
                    self.err(
                        Diagnostic::new(
                            Code::UnresolvedName,
                            e.span,
                            format!("`{n}` is an imported pack, not a value"),
                        )
                        .label("a pack")
                        .help(format!("refer to one of its constants: `{n}.NAME`")),
                    );
                    return;
                }
                let mut cands: Vec<&str> = roots.iter().map(|s| s.as_str()).collect();
                cands.extend(bound.iter().map(|s| s.as_str()));
                cands.extend(self.local_consts().keys().map(|s| s.as_str()));
                let mut d =
                    Diagnostic::new(Code::UnresolvedName, e.span, format!("unknown name `{n}`"))
                        .label("not defined");
                let roots_text = roots
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                d = match suggest(n, cands) {
                    Some(s) => d.help(format!("did you mean `{s}`? this block reads the input roots {roots_text}")),
                    None => d.help(format!("names are constants of the pack or the input roots of this block: {roots_text}")),
                };
                self.err(d);
            }
            ExprKind::Member(base, field) => {
                if let ExprKind::Name(alias) = &base.kind {
                    if !bound.contains(alias) && !roots.contains(alias) {
                        if let Some(&j) = self.imports.get(alias) {
                            if !self.consts[j].contains_key(&field.name) {
                                let pack = &self.packs[j];
                                let mut d = Diagnostic::new(
                                    Code::UnresolvedName,
                                    field.span,
                                    format!(
                                        "pack `{}` has no constant `{}`",
                                        pack.name.name, field.name
                                    ),
                                )
                                .label("unknown constant");
                                d = match suggest(
                                    &field.name,
                                    self.consts[j].keys().map(|s| s.as_str()),
                                ) {
                                    Some(s) => d.help(format!("did you mean `{alias}.{s}`?")),
                                    None => d.help(
                                        "only constants of an imported pack can be referred to",
                                    ),
                                };
                                self.err(d);
                            }
                            return;
                        }
                    }
                }
                self.check_expr(base, roots, bound)
            }
            ExprKind::Template(parts) => {
                for p in parts {
                    if let TemplatePart::Expr(x) = p {
                        self.check_expr(x, roots, bound)
                    }
                }
            }
            ExprKind::List(xs) => xs.iter().for_each(|x| self.check_expr(x, roots, bound)),
            ExprKind::Map(es) => es
                .iter()
                .for_each(|(_, x)| self.check_expr(x, roots, bound)),
            ExprKind::Index(a, b) => {
                self.check_expr(a, roots, bound);
                self.check_expr(b, roots, bound)
            }
            ExprKind::Binary(op, a, b) => {
                let is_cmp = matches!(
                    op,
                    BinOp::Eq
                        | BinOp::Ne
                        | BinOp::Lt
                        | BinOp::Le
                        | BinOp::Gt
                        | BinOp::Ge
                        | BinOp::In
                        | BinOp::NotIn
                );
                if is_cmp {
                    for side in [a, b] {
                        if matches!(side.kind, ExprKind::Lit(Lit::Null)) {
                            let other = if std::ptr::eq(side.as_ref(), a.as_ref()) {
                                b
                            } else {
                                a
                            };
                            let shown = crate::fmt::expr_to_string(other);
                            let help = if *op == BinOp::Ne {
                                format!("to test that it is present, write `has({shown})`")
                            } else {
                                format!("to test that it is missing, write `not has({shown})`")
                            };
                            self.err(
                                Diagnostic::new(
                                    Code::InvalidValue,
                                    e.span,
                                    "a comparison with `null` is always false",
                                )
                                .label("always false")
                                .help(help),
                            );
                        }
                    }
                }
                if *op == BinOp::Matches {
                    if let ExprKind::Template(_) = b.kind {
                        if let Some(Value::Str(p)) = self.fold(b) {
                            if regex::Regex::new(&p).is_err() {
                                self.err(
                                    Diagnostic::new(
                                        Code::InvalidLiteral,
                                        b.span,
                                        format!("`{p}` is not a valid regular expression"),
                                    )
                                    .label("invalid regex")
                                    .help("patterns use Rust `regex` syntax"),
                                );
                            }
                        }
                    }
                }
                self.check_expr(a, roots, bound);
                self.check_expr(b, roots, bound);
                // Constant sub-expressions that cannot be computed (`"a" - 1`).
                if !matches!(op, BinOp::And | BinOp::Or) {
                    if let (Some(x), Some(y)) = (self.fold(a), self.fold(b)) {
                        if let BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div = op {
                            if let Err(err) = crate::value::arith(*op, &x, &y) {
                                self.err(
                                    Diagnostic::new(Code::TypeMismatch, e.span, err.to_string())
                                        .label("cannot be computed")
                                        .help("both sides are constants, so this would fail on every input; fix the operands"),
                                );
                            }
                        }
                    }
                }
            }
            ExprKind::Call(f, args) => {
                if let Some(bi) = crate::builtins::lookup(&f.name) {
                    if args.len() < bi.min_args || args.len() > bi.max_args {
                        let want = if bi.min_args == bi.max_args {
                            format!("{}", bi.min_args)
                        } else {
                            format!("{} to {}", bi.min_args, bi.max_args)
                        };
                        self.err(
                            Diagnostic::new(
                                Code::WrongArity,
                                f.span,
                                format!(
                                    "`{}` takes {want} argument{}, found {}",
                                    f.name,
                                    if want == "1" { "" } else { "s" },
                                    args.len()
                                ),
                            )
                            .label("wrong number of arguments")
                            .help(format!("`{}`: {}", f.name, bi.doc)),
                        );
                    }
                } else if !self.scorers().contains(&f.name.as_str()) {
                    let mut names: Vec<&str> =
                        crate::builtins::BUILTINS.iter().map(|b| b.name).collect();
                    let scorers = self.scorers();
                    names.extend(scorers.iter().copied());
                    let mut d = Diagnostic::new(
                        Code::UnknownFunction,
                        f.span,
                        format!("unknown function `{}`", f.name),
                    )
                    .label("not a function");
                    d = match suggest(&f.name, names) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help("functions are the builtins (see `docs/language.md`) and the `scorer` blocks of this pack"),
                    };
                    self.err(d);
                }
                match (f.name.as_str(), args.first()) {
                    ("selects", Some(sel)) => {
                        if let Some(v) = self.fold(sel) {
                            self.check_selector(sel, &v);
                        }
                    }
                    ("windows_allow", Some(w)) => {
                        if let Some(v) = self.fold(w) {
                            self.check_windows(w, &v);
                        }
                    }
                    _ => {}
                }
                args.iter().for_each(|x| self.check_expr(x, roots, bound))
            }
            ExprKind::Unary(_, x) | ExprKind::Paren(x) => self.check_expr(x, roots, bound),
            ExprKind::If(a, b, c) => {
                self.check_expr(a, roots, bound);
                self.check_expr(b, roots, bound);
                self.check_expr(c, roots, bound)
            }
            ExprKind::Quant(_, v, list, pred) => {
                self.check_expr(list, roots, bound);
                bound.push(v.name.clone());
                self.check_expr(pred, roots, bound);
                bound.pop();
            }
        }
    }
}

/// The type of an expression when it is known before evaluation.
fn static_type(e: &Expr, cx: &Cx<'_>) -> Option<&'static str> {
    match &e.kind {
        ExprKind::Lit(l) => Some(interp::lit(l).type_name()),
        ExprKind::Template(_) => Some("string"),
        ExprKind::List(_) => Some("list"),
        ExprKind::Map(_) => Some("map"),
        ExprKind::Binary(op, _, _) => match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                Some(cx.fold(e).map(|v| v.type_name()).unwrap_or("arithmetic"))
            }
            _ => Some("boolean"),
        },
        ExprKind::Unary(UnOp::Not, _) => Some("boolean"),
        ExprKind::Quant(Quant::Count, _, _, _) => Some("integer"),
        ExprKind::Quant(_, _, _, _) => Some("boolean"),
        ExprKind::Paren(x) => static_type(x, cx),
        ExprKind::Name(_) => cx.fold(e).map(|v| v.type_name()),
        _ => None,
    }
}

/// Why a constant value does not fit a static type, or `None` if it does.
fn static_mismatch(ty: &Ty, v: &Value) -> Option<String> {
    let found = || match v {
        Value::Null => "null".to_string(),
        other => format!("{} `{}`", other.type_name(), other),
    };
    let ok = match (ty, v) {
        (Ty::Any, _) => true,
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Int, Value::Int(_)) => true,
        (Ty::Number, Value::Int(_) | Value::Float(_)) => true,
        (Ty::Str, Value::Str(_)) => true,
        (Ty::Duration, Value::Duration(_)) => true,
        (Ty::Percent, Value::Percent(_)) => true,
        (Ty::Size, Value::Size(_)) => true,
        (Ty::Semver, Value::Semver(_)) => true,
        (Ty::IntOrPercent, Value::Int(_) | Value::Percent(_)) => true,
        (Ty::Cron, Value::Str(s)) => {
            return crate::cron::Schedule::parse(s)
                .err()
                .map(|e| format!("`{s}`, where {}", e.message))
        }
        (Ty::TimeZone, Value::Str(s)) => {
            return s
                .parse::<chrono_tz::Tz>()
                .err()
                .map(|_| format!("`{s}`, which is not an IANA time zone"))
        }
        (Ty::Date, Value::Str(s)) => {
            return crate::window::parse_date(s)
                .err()
                .map(|_| format!("`{s}`, which is not a date `YYYY-MM-DD`"))
        }
        (Ty::Time, Value::Str(s)) => {
            return crate::window::parse_time(s).err().map(|_| {
                format!("`{s}`, which is neither a date `YYYY-MM-DD` nor an RFC 3339 time")
            })
        }
        (Ty::Selector, v) => {
            return match crate::builtins::selector_problem(v) {
                Some(p) => Some(p.message),
                None if v.is_null() => Some("null, which selects nothing".into()),
                None => None,
            }
        }
        (Ty::List(inner), Value::List(items)) => {
            for item in items.iter() {
                if let Some(p) = static_mismatch(inner, item) {
                    return Some(format!("a list containing {p}"));
                }
            }
            true
        }
        _ => false,
    };
    if ok {
        None
    } else {
        Some(found())
    }
}

/// The span of bytes `at` of a string value, inside the literal `e` that
/// wrote it when it is a plain string literal without escapes; otherwise
/// the whole expression.
fn inside_string(e: &Expr, text: &str, at: std::ops::Range<usize>) -> Span {
    let plain = matches!(&e.kind, ExprKind::Template(parts)
        if matches!(parts.as_slice(), [TemplatePart::Text(t)] if t == text))
        && e.span.len() == text.len() + 2
        && at.end <= text.len();
    if !plain {
        return e.span;
    }
    let start = e.span.start as usize + 1;
    Span::new(
        e.span.file,
        start + at.start,
        start + at.end.max(at.start + 1),
    )
}

fn type_hint(ty: &Ty) -> String {
    match ty {
        Ty::Duration => "durations are written `90s`, `30m`, `2h`, `7d` (no quotes)".into(),
        Ty::Percent => "percentages are written `5%`".into(),
        Ty::Size => "sizes are written `10MB` or `64KiB`".into(),
        Ty::Int => "write a whole number such as `10_000`".into(),
        Ty::Bool => "write `true` or `false`".into(),
        Ty::Selector => {
            "write `{labels: {env: \"prod\"}, not_in: {region: [\"us-east-1\"]}}`".into()
        }
        Ty::Cron => "write five fields, `\"0 2 * * SAT\"` (see docs/language.md, Cron)".into(),
        Ty::TimeZone => "write an IANA name such as `\"Europe/Paris\"` or `\"UTC\"`".into(),
        Ty::Date => "write a real day as `\"YYYY-MM-DD\"`, such as `\"2027-06-30\"`".into(),
        Ty::Time => {
            "write `\"YYYY-MM-DD\"` or an RFC 3339 time such as `\"2026-11-25T10:00:00Z\"`".into()
        }
        other => format!("write {}", other.describe()),
    }
}
