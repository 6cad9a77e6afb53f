//! Constants: folding them in dependency order, reporting cycles.

use super::*;

/// Environment for constant folding: constants only, no input.
pub(super) struct ConstEnv<'a> {
    pub(super) local: &'a BTreeMap<String, Value>,
    pub(super) imports: &'a BTreeMap<String, usize>,
    pub(super) all: &'a [BTreeMap<String, Value>],
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
pub(super) fn free_names(e: &Expr, out: &mut Vec<(String, Span)>, bound: &mut Vec<String>) {
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

pub(super) fn fold_consts(
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
