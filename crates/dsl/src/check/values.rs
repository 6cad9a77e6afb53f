//! Field values against their types: folding closed expressions, static
//! checks of constant values (selectors, windows, cron), type hints.

use super::*;

impl Cx<'_> {
    /// Fold a closed expression; `None` if it reads names that are not constants.
    pub(super) fn fold(&self, e: &Expr) -> Option<Value> {
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
    pub(super) fn is_closed(&self, e: &Expr, bound: &mut Vec<String>) -> bool {
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

    pub(super) fn check_value(&mut self, ty: &Ty, e: &Expr, roots: &[String], field: &str) {
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
    pub(super) fn check_static(&mut self, ty: &Ty, e: &Expr, field: &str) {
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
        if let (Ty::Cron | Ty::Calendar, Value::Str(text)) = (ty, &v) {
            let parsed = match ty {
                Ty::Cron => crate::cron::Schedule::parse(text).map(|_| ()),
                _ => crate::calendar::Calendar::parse(text).map(|_| ()),
            };
            if let Err(c) = parsed {
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
    pub(super) fn check_selector(&mut self, e: &Expr, v: &Value) {
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
    pub(super) fn check_windows(&mut self, e: &Expr, v: &Value) {
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
}

/// The type of an expression when it is known before evaluation.
pub(super) fn static_type(e: &Expr, cx: &Cx<'_>) -> Option<&'static str> {
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
pub(super) fn static_mismatch(ty: &Ty, v: &Value) -> Option<String> {
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
        (Ty::Regex, Value::Regex(_)) => true,
        (Ty::IntOrPercent, Value::Int(_) | Value::Percent(_)) => true,
        (Ty::Cron, Value::Str(s)) => {
            return crate::cron::Schedule::parse(s)
                .err()
                .map(|e| format!("`{s}`, where {}", e.message))
        }
        (Ty::Calendar, Value::Str(s)) => {
            return crate::calendar::Calendar::parse(s)
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
pub(super) fn inside_string(e: &Expr, text: &str, at: std::ops::Range<usize>) -> Span {
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

pub(super) fn type_hint(ty: &Ty) -> String {
    match ty {
        Ty::Duration => "durations are written `90s`, `30m`, `2h`, `7d` (no quotes)".into(),
        Ty::Percent => "percentages are written `5%`".into(),
        Ty::Size => "sizes are written `10MB` or `64KiB`".into(),
        Ty::Int => "write a whole number such as `10_000`".into(),
        Ty::Regex => "write a regular expression between slashes, `/^INC-[0-9]+$/`".into(),
        Ty::Bool => "write `true` or `false`".into(),
        Ty::Selector => {
            "write `{labels: {env: \"prod\"}, not_in: {region: [\"us-east-1\"]}}`".into()
        }
        Ty::Cron => "write five fields, `\"0 2 * * SAT\"` (see docs/language.md, Cron)".into(),
        Ty::Calendar => {
            "write a systemd calendar expression, `\"Mon..Fri 09:00\"` (see docs/language.md, Calendar)".into()
        }
        Ty::TimeZone => "write an IANA name such as `\"Europe/Paris\"` or `\"UTC\"`".into(),
        Ty::Date => "write a real day as `\"YYYY-MM-DD\"`, such as `\"2027-06-30\"`".into(),
        Ty::Time => {
            "write `\"YYYY-MM-DD\"` or an RFC 3339 time such as `\"2026-11-25T10:00:00Z\"`".into()
        }
        other => format!("write {}", other.describe()),
    }
}
