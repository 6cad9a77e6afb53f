//! The checker: parsed packs → checked packs, or every problem at once.
//!
//! It resolves imports (reporting unknown packs and cycles), folds
//! constants (reporting cycles), validates every block against the kind
//! table in [`crate::schema`] (unknown kinds and fields, misplaced blocks,
//! missing and duplicate fields and names, types), and resolves every name
//! in every expression against the block's input roots, the pack's
//! constants, imports, builtins and scorers. It never stops at the first
//! problem: all diagnostics of a run are returned together.
//!
//! Files in the order a pack goes through them: this one (the checked
//! types, imports, levels, the order of packs), [`consts`] (folding
//! constants), [`blocks`] (every block against the kind table), [`values`]
//! (field values against their types, static checks of constant values),
//! [`exprs`] (names in expressions) and [`actions`] (the safety catalog's
//! rules across an action and its quorums).

use crate::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::interp::{self, Env};
use crate::schema::{self, Condition, Kind, Roots, Ty};
use crate::source::Span;
use crate::value::{EvalError, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod actions;
mod blocks;
mod consts;
mod exprs;
mod values;

use consts::*;

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
            // The waived blocks, top-level or nested (`parent/child`).
            fn walk<'p>(b: &'p Block, prefix: &str, out: &mut Vec<(String, &'p Block)>) {
                let full = if prefix.is_empty() {
                    b.name_str().to_string()
                } else {
                    format!("{prefix}/{}", b.name_str())
                };
                for c in b.blocks() {
                    walk(c, &full, out);
                }
                out.push((full, b));
            }
            let mut all = Vec::new();
            for item in &pack.items {
                if let Item::Block(b) = item {
                    walk(b, "", &mut all);
                }
            }
            for (full, b) in all {
                if names.contains(&full) {
                    if let Some(k) = schema::kind(&b.kind.name) {
                        if !matches!(k.roots, Roots::OfWaived) {
                            roots.extend(block_roots(b, k, pack));
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

struct Cx<'a> {
    pack: &'a Pack,
    packs: &'a [Pack],
    imports: &'a BTreeMap<String, usize>,
    consts: &'a [BTreeMap<String, Value>],
    self_index: usize,
    levels: &'a [String],
    diags: &'a mut Vec<Diagnostic>,
}
