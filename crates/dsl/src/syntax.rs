//! Parsing: text → [`ast::Pack`](crate::ast::Pack).
//!
//! The pest grammar (`grammar.pest`) gives a concrete tree; this module
//! lowers it to the AST, decoding literals (durations, sizes, percentages,
//! semver, regexes, escapes) and reporting bad ones with their span. Parsing
//! never panics: on any input it returns a pack or diagnostics.

use crate::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct TenetParser;

/// The language versions this build understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// Deepest nesting of `(`, `[` and `{` a file may have. pest is built
/// without its per-rule stack probe (it cost an eighth of parse time), so
/// this bound is what keeps parsing, checking and evaluation off the end of
/// the stack.
pub const MAX_NESTING: usize = 64;

/// Most operators and operands in one expression (bounds the depth of an
/// `a + b + c ...` chain for the same reason).
pub const MAX_EXPR_TOKENS: usize = 1024;

/// Reject input nested deeper than [`MAX_NESTING`], before pest sees it.
fn check_nesting(file: FileId, text: &str) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => in_comment = false,
            '#' => in_comment = true,
            _ if in_comment => {}
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::new(
                        Code::Syntax,
                        Span::new(file, i, i + 1),
                        format!("nesting deeper than {MAX_NESTING} levels"),
                    )
                    .label("too deep")
                    .help("flatten the expression or split it into constants"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parse one file. Returns the pack, or the diagnostics that stopped it.
/// Comments are not collected (see [`parse_with_comments`]).
pub fn parse(file: FileId, text: &str) -> Result<Pack, Vec<Diagnostic>> {
    parse_inner(file, text, false)
}

/// Parse one file and keep its comments (for `tenet fmt`).
pub fn parse_with_comments(file: FileId, text: &str) -> Result<Pack, Vec<Diagnostic>> {
    parse_inner(file, text, true)
}

fn parse_inner(file: FileId, text: &str, comments: bool) -> Result<Pack, Vec<Diagnostic>> {
    check_nesting(file, text).map_err(|d| vec![d])?;
    let pairs = match TenetParser::parse(Rule::file, text) {
        Ok(p) => p,
        Err(e) => return Err(vec![syntax_error(file, text, e)]),
    };
    let mut lower = Lower {
        file,
        diags: Vec::new(),
    };
    let comments = if comments {
        collect_comments(file, pairs.clone())
    } else {
        Vec::new()
    };
    let pack = pairs
        .into_iter()
        .next()
        .and_then(|p| lower.file(p, comments));
    match pack {
        Some(p) if lower.diags.is_empty() => Ok(p),
        _ => {
            if lower.diags.is_empty() {
                lower.diags.push(Diagnostic::new(
                    Code::Syntax,
                    Span::new(file, 0, 0),
                    "could not parse this file",
                ));
            }
            Err(lower.diags)
        }
    }
}

/// Parse a single expression (used by tests and `tenet eval --expr`).
pub fn parse_expr(file: FileId, text: &str) -> Result<Expr, Vec<Diagnostic>> {
    check_nesting(file, text).map_err(|d| vec![d])?;
    let pairs = match TenetParser::parse(Rule::expr_only, text) {
        Ok(p) => p,
        Err(e) => return Err(vec![syntax_error(file, text, e)]),
    };
    let mut lower = Lower {
        file,
        diags: Vec::new(),
    };
    let expr = pairs
        .into_iter()
        .next()
        .and_then(|p| kids(p).next())
        .and_then(|e| lower.expr(e));
    match expr {
        Some(e) if lower.diags.is_empty() => Ok(e),
        _ => Err(lower.diags),
    }
}

fn collect_comments(file: FileId, pairs: Pairs<'_, Rule>) -> Vec<Comment> {
    pairs
        .flatten()
        .filter(|p| p.as_rule() == Rule::COMMENT)
        .map(|p| {
            let s = p.as_span();
            Comment {
                text: p.as_str().trim_end().to_string(),
                span: Span::new(file, s.start(), s.end()),
            }
        })
        .collect()
}

fn rule_name(r: &Rule) -> Option<&'static str> {
    Some(match r {
        Rule::header | Rule::kw_tenet => "the header `tenet 1`",
        Rule::pack_decl | Rule::kw_pack => "`pack NAME version \"X.Y.Z\"`",
        Rule::kw_version => "`version`",
        Rule::kw_as => "`as`",
        Rule::ident => "a name",
        Rule::name | Rule::block_name => "a block name",
        Rule::expr | Rule::bool_lit | Rule::null_lit | Rule::call => "an expression",
        Rule::string_lit => "a string",
        Rule::int_lit => "an integer",
        Rule::block => "a block",
        Rule::entry => "an attribute or a block",
        Rule::import | Rule::kw_import => "`import`",
        Rule::const_decl | Rule::kw_const => "`const`",
        Rule::map_entry => "a map entry `key: value`",
        Rule::EOI => "the end of the file",
        Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_le
        | Rule::op_ge => "an operator",
        Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_in
        | Rule::op_not_in
        | Rule::op_matches => "an operator",
        Rule::member | Rule::index => return None,
        _ => return None,
    })
}

fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    let (end, found) = found_token(text, start, end);
    let message = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(rule_name).collect();
            names.dedup();
            let mut uniq = Vec::new();
            for n in names {
                if !uniq.contains(&n) {
                    uniq.push(n);
                }
            }
            if uniq.contains(&"an expression") {
                uniq.retain(|n| *n != "a name");
            }
            if uniq.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", join_or(&uniq))
            }
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let at_end = text
        .get(start..)
        .map(|r| r.trim().is_empty())
        .unwrap_or(true);
    let open = text.matches('{').count() > text.matches('}').count();
    let message = if at_end && open {
        "the file ends inside a block: a closing `}` is missing".to_string()
    } else {
        message
    };
    let help = if at_end && open {
        "close every `kind name {` with a `}`".to_string()
    } else if start == 0 && !text.trim_start().starts_with("tenet") {
        "every pack starts with the language version, `tenet 1`, then `pack NAME version \"X.Y.Z\"`"
            .to_string()
    } else {
        "a block is `kind name { ... }`, an attribute is `key value`, a map is `{key: value}`"
            .to_string()
    };
    Diagnostic::new(Code::Syntax, Span::new(file, start, end), message)
        .label("here")
        .help(help)
}

/// What the parser stumbled on, for the message: a token, or end of input.
fn found_token(text: &str, start: usize, end: usize) -> (usize, String) {
    let rest = text.get(start..).unwrap_or("");
    if rest.is_empty() {
        return (start, "the end of the file".to_string());
    }
    if end > start {
        return (end, format!("`{}`", text.get(start..end).unwrap_or("")));
    }
    let tok: String = if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect()
    } else {
        rest.chars().take(1).collect()
    };
    let tok_len = tok.len().max(1);
    let shown = if tok == "\n" {
        "a line break".to_string()
    } else {
        format!("`{tok}`")
    };
    (start + tok_len.min(rest.len()), shown)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [a] => (*a).to_string(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}

fn pratt() -> &'static PrattParser<Rule> {
    static P: OnceLock<PrattParser<Rule>> = OnceLock::new();
    P.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::op_or, Assoc::Left))
            .op(Op::infix(Rule::op_and, Assoc::Left))
            .op(Op::prefix(Rule::op_not))
            .op(Op::infix(Rule::op_eq, Assoc::Left)
                | Op::infix(Rule::op_ne, Assoc::Left)
                | Op::infix(Rule::op_lt, Assoc::Left)
                | Op::infix(Rule::op_le, Assoc::Left)
                | Op::infix(Rule::op_gt, Assoc::Left)
                | Op::infix(Rule::op_ge, Assoc::Left)
                | Op::infix(Rule::op_in, Assoc::Left)
                | Op::infix(Rule::op_not_in, Assoc::Left)
                | Op::infix(Rule::op_matches, Assoc::Left))
            .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
            .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
            .op(Op::prefix(Rule::op_neg))
            .op(Op::postfix(Rule::member) | Op::postfix(Rule::index))
    })
}

struct Lower {
    file: FileId,
    diags: Vec<Diagnostic>,
}

/// Children of a pair, without comment and keyword tokens.
fn kids<'i>(p: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    p.into_inner().filter(|c| {
        !matches!(
            c.as_rule(),
            Rule::COMMENT
                | Rule::kw_if
                | Rule::kw_then
                | Rule::kw_else
                | Rule::kw_in
                | Rule::kw_tenet
                | Rule::kw_pack
                | Rule::kw_version
                | Rule::kw_import
                | Rule::kw_as
                | Rule::kw_const
        )
    })
}

impl Lower {
    /// Where a node was written: from its first to its last token. pest
    /// counts the whitespace and comments it skipped while looking for an
    /// optional or repeated part at the end of a rule (`import a` then `as`?,
    /// an operand then an operator?) into the rule's span; they are cut off
    /// here, so that a diagnostic underlines only the node and `tenet fmt`
    /// does not take a comment further down for one at the end of the line.
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        let loose = matches!(
            p.as_rule(),
            Rule::import
                | Rule::const_decl
                | Rule::entry
                | Rule::expr
                | Rule::if_expr
                | Rule::map_entry
        );
        if !loose {
            return Span::new(self.file, s.start(), s.end());
        }
        let text = s.as_str();
        let mut end = text.len();
        loop {
            end = text[..end].trim_end().len();
            let line = &text[text[..end].rfind('\n').map_or(0, |i| i + 1)..end];
            if !line.contains('#') {
                break;
            }
            // Rare: the line ends with a comment, or holds a `#` in a string.
            let at = s.start() + end;
            let comment = p.clone().into_inner().flatten().find(|c| {
                c.as_rule() == Rule::COMMENT && c.as_span().start() < at && at <= c.as_span().end()
            });
            match comment {
                Some(c) => end = c.as_span().start() - s.start(),
                None => break,
            }
        }
        Span::new(self.file, s.start(), s.start() + end)
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn file(&mut self, p: Pair<'_, Rule>, comments: Vec<Comment>) -> Option<Pack> {
        let mut it = kids(p);
        let header = it.next()?;
        let header_span = self.span(&header);
        let ver_pair = kids(header).next()?;
        let ver_span = self.span(&ver_pair);
        let lang_version = match ver_pair.as_str().replace('_', "").parse::<u32>() {
            Ok(v) => v,
            Err(_) => {
                self.err(Diagnostic::new(
                    Code::UnsupportedVersion,
                    ver_span,
                    "the language version is not a number",
                ));
                0
            }
        };
        if lang_version != 0 && !SUPPORTED_VERSIONS.contains(&lang_version) {
            self.err(
                Diagnostic::new(
                    Code::UnsupportedVersion,
                    ver_span,
                    format!("language version `{lang_version}` is not supported"),
                )
                .label("this version")
                .help(format!(
                    "this build of tenet understands `tenet {}`; upgrade tenet or change the header",
                    SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("`, `tenet ")
                )),
            );
        }
        let decl = it.next()?;
        let mut d = kids(decl);
        let name = self.ident(d.next()?);
        let vpair = d.next()?;
        let version_span = self.span(&vpair);
        let version = self.plain_string(vpair).unwrap_or_default();
        if semver::Version::parse(&version).is_err() {
            self.err(
                Diagnostic::new(
                    Code::InvalidLiteral,
                    version_span,
                    format!("`{version}` is not a semantic version"),
                )
                .label("pack version")
                .help("pack versions are semver: `\"MAJOR.MINOR.PATCH\"`, for example `\"1.2.0\"`"),
            );
        }
        let mut items = Vec::new();
        for item in it {
            match item.as_rule() {
                Rule::import => {
                    let span = self.span(&item);
                    let mut k = kids(item);
                    let pack = self.ident(k.next()?);
                    let alias = k.next().map(|a| self.ident(a));
                    items.push(Item::Import(Import { pack, alias, span }));
                }
                Rule::const_decl => {
                    let span = self.span(&item);
                    let mut k = kids(item);
                    let name = self.ident(k.next()?);
                    let value = self.expr(k.next()?)?;
                    items.push(Item::Const(Const { name, value, span }));
                }
                Rule::block => items.push(Item::Block(self.block(item)?)),
                _ => {}
            }
        }
        Some(Pack {
            file: self.file,
            lang_version,
            header_span,
            name,
            version,
            version_span,
            items,
            comments,
        })
    }

    fn block(&mut self, p: Pair<'_, Rule>) -> Option<Block> {
        let span = self.span(&p);
        let mut k = kids(p);
        let kind = self.ident(k.next()?);
        self.block_body(kind, k.next()?, span)
    }

    fn block_body(&mut self, kind: Ident, body: Pair<'_, Rule>, span: Span) -> Option<Block> {
        let mut name = None;
        let mut name_quoted = false;
        let mut entries = Vec::new();
        for c in kids(body) {
            match c.as_rule() {
                Rule::block_name => {
                    let inner = kids(c).next()?;
                    if inner.as_rule() == Rule::string_lit {
                        name_quoted = true;
                        let s = self.span(&inner);
                        let text = self.plain_string(inner).unwrap_or_default();
                        name = Some(Ident {
                            name: text,
                            span: s,
                        });
                    } else {
                        name = Some(self.ident(inner));
                    }
                }
                Rule::entry => {
                    let espan = self.span(&c);
                    let mut e = kids(c);
                    let key = self.ident(e.next()?);
                    let rest = e.next()?;
                    if rest.as_rule() == Rule::block_body {
                        entries.push(Entry::Block(self.block_body(key, rest, espan)?));
                    } else {
                        let value = self.expr(rest)?;
                        entries.push(Entry::Attr(Attr {
                            key,
                            value,
                            span: espan,
                        }));
                    }
                }
                _ => {}
            }
        }
        Some(Block {
            kind,
            name,
            name_quoted,
            entries,
            span,
        })
    }

    /// A string literal that must not contain `{...}` interpolation.
    fn plain_string(&mut self, p: Pair<'_, Rule>) -> Option<String> {
        let span = self.span(&p);
        let parts = self.template(p)?;
        let mut out = String::new();
        for part in parts {
            match part {
                TemplatePart::Text(t) => out.push_str(&t),
                TemplatePart::Expr(_) => {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            "interpolation is not allowed here",
                        )
                        .label("here")
                        .help("write `\\{` for a literal brace"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn template(&mut self, p: Pair<'_, Rule>) -> Option<Vec<TemplatePart>> {
        let mut parts = Vec::new();
        for c in kids(p) {
            match c.as_rule() {
                Rule::str_text | Rule::escape => {
                    let text = unescape(c.as_str());
                    match parts.last_mut() {
                        Some(TemplatePart::Text(t)) => t.push_str(&text),
                        _ => parts.push(TemplatePart::Text(text)),
                    }
                }
                Rule::interp => {
                    let e = kids(c).next()?;
                    parts.push(TemplatePart::Expr(self.expr(e)?));
                }
                _ => {}
            }
        }
        Some(parts)
    }

    fn expr(&mut self, p: Pair<'_, Rule>) -> Option<Expr> {
        use std::cell::{Cell, RefCell};
        let file = self.file;
        let span = self.span(&p);
        let pairs: Vec<Pair<'_, Rule>> = kids(p).collect();
        if pairs.len() > MAX_EXPR_TOKENS {
            self.err(
                Diagnostic::new(
                    Code::Syntax,
                    span,
                    format!(
                        "this expression has more than {MAX_EXPR_TOKENS} operators and operands"
                    ),
                )
                .label("too long")
                .help("split it into named constants or several rules"),
            );
            return None;
        }
        let failed = Cell::new(false);
        let this = RefCell::new(self);
        let result = pratt()
            .map_primary(|prim| match this.borrow_mut().primary(prim) {
                Some(e) => e,
                None => {
                    failed.set(true);
                    Expr {
                        kind: ExprKind::Lit(Lit::Null),
                        span: Span::default(),
                    }
                }
            })
            .map_prefix(|op, rhs| {
                let span = Span::new(file, op.as_span().start(), rhs.span.end as usize);
                let op = if op.as_rule() == Rule::op_not {
                    UnOp::Not
                } else {
                    UnOp::Neg
                };
                Expr {
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_postfix(|lhs, op| {
                let end = op.as_span().end();
                let span = Span::new(file, lhs.span.start as usize, end);
                match op.as_rule() {
                    Rule::member => {
                        let id = kids(op).next().map(|i| Ident {
                            name: i.as_str().to_string(),
                            span: Span::new(file, i.as_span().start(), i.as_span().end()),
                        });
                        match id {
                            Some(id) => Expr {
                                kind: ExprKind::Member(Box::new(lhs), id),
                                span,
                            },
                            None => lhs,
                        }
                    }
                    _ => match kids(op).next().and_then(|e| this.borrow_mut().expr(e)) {
                        Some(ix) => Expr {
                            kind: ExprKind::Index(Box::new(lhs), Box::new(ix)),
                            span,
                        },
                        None => {
                            failed.set(true);
                            lhs
                        }
                    },
                }
            })
            .map_infix(|lhs, op, rhs| {
                let bop = match op.as_rule() {
                    Rule::op_or => BinOp::Or,
                    Rule::op_and => BinOp::And,
                    Rule::op_eq => BinOp::Eq,
                    Rule::op_ne => BinOp::Ne,
                    Rule::op_lt => BinOp::Lt,
                    Rule::op_le => BinOp::Le,
                    Rule::op_gt => BinOp::Gt,
                    Rule::op_ge => BinOp::Ge,
                    Rule::op_in => BinOp::In,
                    Rule::op_not_in => BinOp::NotIn,
                    Rule::op_matches => BinOp::Matches,
                    Rule::op_add => BinOp::Add,
                    Rule::op_sub => BinOp::Sub,
                    Rule::op_mul => BinOp::Mul,
                    _ => BinOp::Div,
                };
                let span = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary(bop, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(pairs.into_iter());
        if failed.get() {
            None
        } else {
            Some(result)
        }
    }

    fn primary(&mut self, p: Pair<'_, Rule>) -> Option<Expr> {
        let span = self.span(&p);
        let raw = p.as_str();
        let kind = match p.as_rule() {
            Rule::paren => ExprKind::Paren(Box::new(self.expr(kids(p).next()?)?)),
            Rule::expr => return self.expr(p),
            Rule::ident => ExprKind::Name(raw.to_string()),
            Rule::if_expr => {
                let mut k = kids(p);
                let c = self.expr(k.next()?)?;
                let t = self.expr(k.next()?)?;
                let e = self.expr(k.next()?)?;
                ExprKind::If(Box::new(c), Box::new(t), Box::new(e))
            }
            Rule::quant => {
                let mut k = kids(p);
                let q = match k.next()?.as_str() {
                    "any" => Quant::Any,
                    "all" => Quant::All,
                    _ => Quant::Count,
                };
                let var = self.ident(k.next()?);
                let list = self.expr(k.next()?)?;
                let pred = self.expr(k.next()?)?;
                ExprKind::Quant(q, var, Box::new(list), Box::new(pred))
            }
            Rule::call => {
                let mut k = kids(p);
                let f = self.ident(k.next()?);
                let mut args = Vec::new();
                for a in k {
                    args.push(self.expr(a)?);
                }
                ExprKind::Call(f, args)
            }
            Rule::list_lit => {
                let mut items = Vec::new();
                for a in kids(p) {
                    items.push(self.expr(a)?);
                }
                ExprKind::List(items)
            }
            Rule::map_lit => {
                let mut entries: Vec<(Ident, Expr)> = Vec::new();
                for e in kids(p) {
                    let mut k = kids(e);
                    let key = k.next()?;
                    let key = if key.as_rule() == Rule::string_lit {
                        let s = self.span(&key);
                        Ident {
                            name: self.plain_string(key)?,
                            span: s,
                        }
                    } else {
                        self.ident(key)
                    };
                    let value = self.expr(k.next()?)?;
                    if entries.iter().any(|(k, _)| k.name == key.name) {
                        self.err(
                            Diagnostic::new(
                                Code::DuplicateField,
                                key.span,
                                format!("duplicate map key `{}`", key.name),
                            )
                            .label("written twice")
                            .help("each key of a map may appear once"),
                        );
                    }
                    entries.push((key, value));
                }
                ExprKind::Map(entries)
            }
            Rule::string_lit => ExprKind::Template(self.template(p)?),
            Rule::regex_lit => {
                let body = raw
                    .get(1..raw.len().saturating_sub(1))
                    .unwrap_or("")
                    .replace("\\/", "/");
                if let Err(e) = regex::Regex::new(&body) {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            "this regular expression is not valid",
                        )
                        .label("invalid regex")
                        .help(first_line(&e.to_string())),
                    );
                }
                ExprKind::Lit(Lit::Regex(body))
            }
            Rule::null_lit => ExprKind::Lit(Lit::Null),
            Rule::bool_lit => ExprKind::Lit(Lit::Bool(raw == "true")),
            Rule::int_lit => match raw.replace('_', "").parse::<i64>() {
                Ok(v) => ExprKind::Lit(Lit::Int {
                    value: v,
                    raw: raw.to_string(),
                }),
                Err(_) => {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("integer `{raw}` is too large"),
                        )
                        .help("integers are 64-bit signed: at most 9_223_372_036_854_775_807"),
                    );
                    return None;
                }
            },
            Rule::float_lit => match raw.replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => ExprKind::Lit(Lit::Float {
                    value: v,
                    raw: raw.to_string(),
                }),
                _ => {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("number `{raw}` is out of range"),
                        )
                        .help("floats are 64-bit IEEE numbers"),
                    );
                    return None;
                }
            },
            Rule::percent_lit => {
                let num = raw.trim_end_matches('%').replace('_', "");
                match num.parse::<f64>() {
                    Ok(v) if v.is_finite() => ExprKind::Lit(Lit::Percent {
                        value: v,
                        raw: raw.to_string(),
                    }),
                    _ => {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidLiteral,
                                span,
                                format!("percentage `{raw}` is out of range"),
                            )
                            .help("write a finite number before `%`"),
                        );
                        return None;
                    }
                }
            }
            Rule::duration_lit => match parse_duration(raw) {
                Some(ms) => ExprKind::Lit(Lit::Duration {
                    ms,
                    raw: raw.to_string(),
                }),
                None => {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("duration `{raw}` is too large"),
                        )
                        .help("durations are counted in milliseconds in a 64-bit integer"),
                    );
                    return None;
                }
            },
            Rule::size_lit => match parse_size(raw) {
                Some(bytes) => ExprKind::Lit(Lit::Size {
                    bytes,
                    raw: raw.to_string(),
                }),
                None => {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidLiteral,
                            span,
                            format!("size `{raw}` is too large"),
                        )
                        .help("sizes are counted in bytes in a 64-bit integer"),
                    );
                    return None;
                }
            },
            Rule::bad_number => {
                let (message, help) = number_problem(raw);
                self.err(
                    Diagnostic::new(Code::InvalidLiteral, span, message)
                        .label("not a number, a duration or a size")
                        .help(help),
                );
                return None;
            }
            Rule::semver_lit => {
                let text = raw.replace('_', "");
                if semver::Version::parse(&text).is_err() {
                    self.err(
                        Diagnostic::new(Code::InvalidLiteral, span, format!("`{raw}` is not a semantic version"))
                            .help("write versions as MAJOR.MINOR.PATCH without leading zeros, for example `1.2.0`"),
                    );
                    return None;
                }
                ExprKind::Lit(Lit::Semver(text))
            }
            _ => {
                self.err(
                    Diagnostic::new(Code::Syntax, span, "unexpected token in expression")
                        .help("see docs/language.md for the expression syntax"),
                );
                return None;
            }
        };
        Some(Expr { kind, span })
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The units of a duration, in milliseconds.
const DURATION_UNITS: [(&str, i64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// The units of a size, in bytes.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Milliseconds in `90s`, `1h30m`, `500ms`, `7d`, `2w`.
pub fn parse_duration(raw: &str) -> Option<i64> {
    read_duration(raw).ok()
}

/// Milliseconds in a duration, or what is wrong with it: one sentence that
/// names the part (`` `1.5h` has a fraction ``, `` unknown unit `a` ``).
pub fn read_duration(raw: &str) -> Result<i64, String> {
    const UNITS: &str = "ms, s, m, h, d, w";
    if raw.is_empty() {
        return Err("an empty text is not a duration".into());
    }
    if raw.starts_with('-') {
        return Err(format!(
            "`{raw}` is negative: a duration is a length of time"
        ));
    }
    let mut total: i64 = 0;
    let mut rest = raw;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let digits = &rest[..digits_end];
        if digits_end == 0 {
            return Err(format!(
                "`{raw}` has `{}` where a number should be: write a number, then a unit ({UNITS})",
                rest.chars().next().unwrap_or(' ')
            ));
        }
        rest = &rest[digits_end..];
        if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            let instead = exact_duration(raw)
                .map(|ms| format!(": write `{}`", crate::value::format_duration(ms)))
                .unwrap_or_else(|| ": write it in a smaller unit".into());
            return Err(format!(
                "`{raw}` has a fraction, and durations count whole units{instead}"
            ));
        }
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '_')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        if unit.is_empty() {
            return Err(if digits.len() == raw.len() {
                format!("`{raw}` has no unit: write one of {UNITS}, such as `{raw}s`")
            } else {
                format!("`{digits}` has no unit in `{raw}`: write one of {UNITS} after it")
            });
        }
        let Some((_, unit_ms)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "`{raw}` has an unknown unit `{unit}`: durations take {UNITS}"
            ));
        };
        let n: i64 = digits
            .replace('_', "")
            .parse()
            .map_err(|_| format!("`{raw}` is too large"))?;
        total = n
            .checked_mul(*unit_ms)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| {
                format!("`{raw}` is too large for a duration (about 292 million years)")
            })?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// The milliseconds of a one-part duration with a fraction (`1.5h`), when
/// they are whole.
fn exact_duration(raw: &str) -> Option<i64> {
    let (whole, rest) = raw.split_once('.')?;
    let frac_end = rest.find(|c: char| !c.is_ascii_digit())?;
    let (frac, unit) = rest.split_at(frac_end);
    let (_, unit_ms) = DURATION_UNITS.iter().find(|(u, _)| *u == unit)?;
    let scale = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let n: i128 = format!("{}{frac}", whole.replace('_', "")).parse().ok()?;
    let ms = n.checked_mul(i128::from(*unit_ms))?;
    (ms % scale == 0)
        .then(|| i64::try_from(ms / scale).ok())
        .flatten()
}

/// What is wrong with a word that starts like a number but is none
/// (`1.5h`, `2a`, `1h30`, `10mb`, `1.5MB`): the message and the help.
fn number_problem(raw: &str) -> (String, String) {
    let units_help = "durations take ms, s, m, h, d, w (`90s`, `1h30m`); sizes take B, KB, MB, \
                      GB, TB, KiB, MiB, GiB, TiB (`10MB`)";
    let num_end = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(raw.len());
    let (num, suffix) = raw.split_at(num_end);
    if let Some((_, bytes)) = SIZE_UNITS.iter().find(|(u, _)| *u == suffix) {
        let instead = num
            .split_once('.')
            .and_then(|(w, f)| {
                let scale = 10u128.checked_pow(u32::try_from(f.len()).ok()?)?;
                let n: u128 = format!("{}{f}", w.replace('_', "")).parse().ok()?;
                let b = n.checked_mul(u128::from(*bytes))?;
                (b % scale == 0).then(|| b / scale)
            })
            .map(|b| {
                // The largest unit of the same family that holds it whole.
                let family: &[usize] = if suffix.contains('i') {
                    &[8, 7, 6, 5, 0]
                } else {
                    &[4, 3, 2, 1, 0]
                };
                family
                    .iter()
                    .filter_map(|i| SIZE_UNITS.get(*i))
                    .find(|(_, size)| b % u128::from(*size) == 0)
                    .map(|(u, size)| format!("write `{}{u}`", b / u128::from(*size)))
                    .unwrap_or_else(|| format!("write `{b}B`"))
            })
            .unwrap_or_else(|| "write it in a smaller unit".into());
        return (
            format!("`{raw}` has a fraction, and sizes count whole units"),
            instead,
        );
    }
    let duration_like = suffix
        .split(|c: char| c.is_ascii_digit() || c == '_')
        .all(|u| u.is_empty() || DURATION_UNITS.iter().any(|(d, _)| *d == u));
    if duration_like {
        if let Err(e) = read_duration(raw) {
            return (
                e,
                "durations are written `90s`, `30m`, `1h30m`, `7d`".into(),
            );
        }
    }
    let exponent = suffix.len() > 1
        && suffix.starts_with(['e', 'E'])
        && suffix[1..].bytes().all(|b| b.is_ascii_digit());
    let help = if exponent {
        format!("a float with an exponent has a fraction: `{num}.0{suffix}`")
    } else if let Some((unit, _)) = SIZE_UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(suffix))
    {
        format!("units are case-sensitive: write `{num}{unit}`")
    } else {
        units_help.to_string()
    };
    (
        format!("`{raw}` is not a number, a duration or a size: unknown unit `{suffix}`"),
        help,
    )
}

/// Bytes in `10MB` (decimal) or `10MiB` (binary).
pub fn parse_size(raw: &str) -> Option<u64> {
    let split = raw.find(|c: char| c.is_ascii_alphabetic())?;
    let n: u64 = raw.get(..split)?.replace('_', "").parse().ok()?;
    let unit = raw.get(split..)?;
    let (_, mult) = SIZE_UNITS.iter().find(|(u, _)| *u == unit)?;
    n.checked_mul(*mult)
}
