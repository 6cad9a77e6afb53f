//! `tenet fmt`: the canonical layout of a pack.
//!
//! Two-space indentation, attribute values aligned within a block, one blank
//! line between top-level items, single blank lines between attributes kept
//! where the author put them, long `and`/`or` chains broken one operand per
//! line. Every comment is kept: a comment on its own line stays before the
//! item that follows it; a comment at the end of a line stays at the end of
//! that line (a comment inside an expression that is laid out on one line
//! goes on a line of its own after it). Formatting is idempotent:
//! `format(format(x)) == format(x)` (property-tested on generated packs with
//! imports, constants, blocks and comments in `crates/dsl/tests/dsl.rs`).

use crate::ast::*;

const WIDTH: usize = 100;

/// Format a pack parsed with [`crate::syntax::parse_with_comments`]. `text`
/// is the source it was parsed from (used to keep the author's blank lines
/// and place comments).
pub fn format(pack: &Pack, text: &str) -> String {
    let mut p = Printer {
        out: String::new(),
        comments: &pack.comments,
        next: 0,
        text,
    };
    p.out.push_str(&format!("tenet {}\n", pack.lang_version));
    p.trailing(pack.header_span.end);
    p.out.push_str(&format!(
        "pack {} version {}\n",
        pack.name.name,
        quote(&pack.version)
    ));
    p.trailing(pack.version_span.end);
    let mut prev: Option<&Item> = None;
    for item in &pack.items {
        let same_group = matches!(
            (prev, item),
            (Some(Item::Import(_)), Item::Import(_)) | (Some(Item::Const(_)), Item::Const(_))
        );
        p.lead(item.span().start, 0, !same_group, false);
        match item {
            Item::Import(i) => {
                match &i.alias {
                    Some(a) => p
                        .out
                        .push_str(&format!("import {} as {}", i.pack.name, a.name)),
                    None => p.out.push_str(&format!("import {}", i.pack.name)),
                }
                p.out.push('\n');
                // The last name's end, not the item's: pest counts the blank
                // lines and comments after an import into its span, and a
                // comment further down would be pulled onto this line.
                p.trailing(i.alias.as_ref().unwrap_or(&i.pack).span.end);
            }
            Item::Const(c) => {
                let head = format!("const {} = ", c.name.name);
                let value = expr_block(&c.value, head.len(), 0);
                p.out.push_str(&head);
                p.out.push_str(&value);
                p.out.push('\n');
                p.trailing(c.value.span.end);
            }
            Item::Block(b) => p.block(b, 0),
        }
        prev = Some(item);
    }
    p.flush_before(u32::MAX, 0);
    p.out
}

struct Printer<'a> {
    out: String,
    comments: &'a [Comment],
    next: usize,
    text: &'a str,
}

impl Printer<'_> {
    /// Emit, as their own lines, the comments that start before `offset`.
    fn flush_before(&mut self, offset: u32, indent: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= offset {
                break;
            }
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    /// If the next comment sits on the same line right after `end`, append it
    /// to the line just written.
    fn trailing(&mut self, end: u32) {
        let Some(c) = self.comments.get(self.next) else {
            return;
        };
        if c.span.start < end {
            return;
        }
        let between = self
            .text
            .get(end as usize..c.span.start as usize)
            .unwrap_or("\n");
        if between.contains('\n') {
            return;
        }
        if self.out.ends_with('\n') {
            self.out.pop();
        }
        self.out.push(' ');
        self.out.push_str(&c.text);
        self.out.push('\n');
        self.next += 1;
    }

    /// Whether the line before the one holding `offset` is blank.
    fn blank_line_before(&self, offset: u32) -> bool {
        let before = self.text.get(..offset as usize).unwrap_or("");
        let Some(line_start) = before.rfind('\n') else {
            return false;
        };
        let prev = before.get(..line_start).unwrap_or("");
        let prev_line = prev.rsplit('\n').next().unwrap_or("");
        prev_line.trim().is_empty() && prev.contains('\n')
    }

    /// Lay out what comes before an item or entry at `offset`: pending
    /// comments, and blank lines where wanted or where the author had them.
    fn lead(&mut self, offset: u32, indent: usize, want_blank: bool, at_start: bool) {
        let mut first = true;
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= offset {
                break;
            }
            let blank = if first {
                want_blank || (!at_start && self.blank_line_before(c.span.start))
            } else {
                self.blank_line_before(c.span.start)
            };
            if blank {
                self.out.push('\n');
            }
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.next += 1;
            first = false;
        }
        let blank = if first {
            want_blank || (!at_start && self.blank_line_before(offset))
        } else {
            self.blank_line_before(offset)
        };
        if blank {
            self.out.push('\n');
        }
    }

    fn block(&mut self, b: &Block, indent: usize) {
        let pad = " ".repeat(indent);
        self.out.push_str(&pad);
        self.out.push_str(&b.kind.name);
        if let Some(n) = &b.name {
            self.out.push(' ');
            if b.name_quoted {
                self.out.push_str(&quote(&n.name));
            } else {
                self.out.push_str(&n.name);
            }
        }
        let close = b.span.end;
        let inside = self
            .comments
            .get(self.next)
            .is_some_and(|c| c.span.start < close);
        if b.entries.is_empty() && !inside {
            self.out.push_str(" {}\n");
            self.trailing(close);
            return;
        }
        self.out.push_str(" {\n");
        let head_end = b
            .name
            .as_ref()
            .map(|n| n.span.end)
            .unwrap_or(b.kind.span.end);
        // A comment after `{` belongs to the header only if it comes before the first entry.
        let first = b.entries.first().map_or(close, |e| e.span().start);
        if self
            .comments
            .get(self.next)
            .is_some_and(|c| c.span.start < first)
        {
            self.trailing(head_end + 1);
        }
        let key_width = b.attrs().map(|a| a.key.name.len()).max().unwrap_or(0);
        let inner = indent + 2;
        let mut prev_was_block = false;
        for (i, entry) in b.entries.iter().enumerate() {
            let is_block = matches!(entry, Entry::Block(_));
            self.lead(
                entry.span().start,
                inner,
                i > 0 && (is_block || prev_was_block),
                i == 0,
            );
            match entry {
                Entry::Attr(a) => {
                    let head = format!(
                        "{}{:width$} ",
                        " ".repeat(inner),
                        a.key.name,
                        width = key_width
                    );
                    let value = expr_block(&a.value, head.len(), inner);
                    self.out.push_str(&head);
                    self.out.push_str(&value);
                    self.out.push('\n');
                    // The value's own end: pest may count a trailing comment into the attribute.
                    self.trailing(a.value.span.end);
                }
                Entry::Block(child) => self.block(child, inner),
            }
            prev_was_block = is_block;
        }
        self.flush_before(b.span.end.saturating_sub(1), inner);
        self.out.push_str(&pad);
        self.out.push_str("}\n");
        self.trailing(b.span.end);
    }
}

/// An expression laid out to start at column `col`: one line when it fits,
/// otherwise a long `and`/`or` chain one operand per line, or a long list or
/// map one element per line.
fn expr_block(e: &Expr, col: usize, indent: usize) -> String {
    let flat = expr_to_string(e);
    if col + flat.len() <= WIDTH || flat.contains('\n') {
        return flat;
    }
    if let ExprKind::Binary(op @ (BinOp::And | BinOp::Or), _, _) = &e.kind {
        let mut parts = Vec::new();
        chain(e, *op, &mut parts);
        let pad = " ".repeat(col);
        let mut out = expr_to_string(parts[0]);
        for p in &parts[1..] {
            out.push('\n');
            out.push_str(&pad);
            out.push_str(op.symbol());
            out.push(' ');
            out.push_str(&expr_to_string(p));
        }
        return out;
    }
    let pad = " ".repeat(indent);
    match &e.kind {
        ExprKind::List(items) if !items.is_empty() => {
            let mut out = String::from("[\n");
            for i in items {
                out.push_str(&format!(
                    "{pad}  {},\n",
                    expr_block(i, indent + 2, indent + 2)
                ));
            }
            out.push_str(&format!("{pad}]"));
            out
        }
        ExprKind::Map(entries) if !entries.is_empty() => {
            let mut out = String::from("{\n");
            for (k, v) in entries {
                let key = map_key(&k.name);
                out.push_str(&format!(
                    "{pad}  {key}: {},\n",
                    expr_block(v, indent + 4 + key.len(), indent + 2)
                ));
            }
            out.push_str(&format!("{pad}}}"));
            out
        }
        _ => flat,
    }
}

fn chain<'e>(e: &'e Expr, op: BinOp, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(o, a, b) if *o == op => {
            chain(a, op, out);
            chain(b, op, out);
        }
        _ => out.push(e),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    out.push_str(&escape(s));
    out.push('"');
    out
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            c => out.push(c),
        }
    }
    out
}

fn map_key(k: &str) -> String {
    let word = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if word {
        k.to_string()
    } else {
        quote(k)
    }
}

/// One-line canonical text of an expression.
pub fn expr_to_string(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(e, &mut s);
    s
}

fn write_expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Lit(l) => out.push_str(&lit_to_string(l)),
        ExprKind::Template(parts) => {
            out.push('"');
            for p in parts {
                match p {
                    TemplatePart::Text(t) => out.push_str(&escape(t)),
                    TemplatePart::Expr(x) => {
                        out.push('{');
                        write_expr(x, out);
                        out.push('}');
                    }
                }
            }
            out.push('"');
        }
        ExprKind::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(x, out);
            }
            out.push(']');
        }
        ExprKind::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&map_key(&k.name));
                out.push_str(": ");
                write_expr(v, out);
            }
            out.push('}');
        }
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Member(b, f) => {
            write_expr(b, out);
            out.push('.');
            out.push_str(&f.name);
        }
        ExprKind::Index(b, i) => {
            write_expr(b, out);
            out.push('[');
            write_expr(i, out);
            out.push(']');
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(a, out);
            }
            out.push(')');
        }
        ExprKind::Unary(UnOp::Not, x) => {
            out.push_str("not ");
            write_expr(x, out);
        }
        ExprKind::Unary(UnOp::Neg, x) => {
            out.push('-');
            write_expr(x, out);
        }
        ExprKind::Binary(op, a, b) => {
            write_expr(a, out);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_expr(b, out);
        }
        ExprKind::If(c, t, f) => {
            out.push_str("if ");
            write_expr(c, out);
            out.push_str(" then ");
            write_expr(t, out);
            out.push_str(" else ");
            write_expr(f, out);
        }
        ExprKind::Quant(q, v, list, pred) => {
            out.push_str(q.keyword());
            out.push('(');
            out.push_str(&v.name);
            out.push_str(" in ");
            write_expr(list, out);
            out.push_str(": ");
            write_expr(pred, out);
            out.push(')');
        }
        ExprKind::Paren(x) => {
            out.push('(');
            write_expr(x, out);
            out.push(')');
        }
    }
}

fn lit_to_string(l: &Lit) -> String {
    match l {
        Lit::Null => "null".into(),
        Lit::Bool(b) => b.to_string(),
        Lit::Int { raw, .. } | Lit::Float { raw, .. } | Lit::Duration { raw, .. } => raw.clone(),
        Lit::Percent { raw, .. } | Lit::Size { raw, .. } => raw.clone(),
        Lit::Semver(s) => s.clone(),
        Lit::Regex(r) => format!("/{}/", r.replace('/', "\\/")),
    }
}
