//! Names in expressions: input roots, constants, imports, builtins,
//! scorers and quantifier variables.

use super::*;

impl Cx<'_> {
    pub(super) fn check_expr(&mut self, e: &Expr, roots: &[String], bound: &mut Vec<String>) {
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
                    if roots.contains(alias) && !bound.contains(alias) {
                        self.check_closed_member(alias, field);
                    }
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
