//! The body: template text → [`Body`].
//!
//! In: template chunks (a body, or the messages of a library entry). Out:
//! sentences and lines with comments stripped, whitespace collapsed and
//! template tags written canonically, so re-wrapping and tag spacing are
//! not changes; and the template variables with the line of first use.

use std::collections::HashSet;

use super::model::*;

/// Removes `{{! }}`, `{{!-- --}}` and `{# #}` comments, keeping their newlines.
pub(super) fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let hb = rest.find("{{");
        let jj = rest.find("{#");
        let Some(i) = [hb, jj].into_iter().flatten().min() else {
            out.push_str(rest);
            return out;
        };
        let after = &rest[i..];
        let end = if after.starts_with("{#") {
            Some(after.find("#}").map(|e| e + 2).unwrap_or(after.len()))
        } else {
            let inner = after[2..].trim_start_matches('~');
            if inner.starts_with("!--") {
                let e1 = after.find("--}}").map(|e| e + 4);
                let e2 = after.find("--~}}").map(|e| e + 5);
                Some([e1, e2].into_iter().flatten().min().unwrap_or(after.len()))
            } else if inner.starts_with('!') {
                Some(after.find("}}").map(|e| e + 2).unwrap_or(after.len()))
            } else {
                None
            }
        };
        match end {
            Some(e) => {
                out.push_str(&rest[..i]);
                out.extend(std::iter::repeat_n('\n', after[..e].matches('\n').count()));
                rest = &after[e..];
            }
            None => {
                out.push_str(&rest[..i + 2]);
                rest = &rest[i + 2..];
            }
        }
    }
}

/// One template tag: its delimiters and trimmed inner text.
pub(super) struct Tag<'a> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) open: &'static str,
    pub(super) inner: &'a str,
}

/// The `{{ }}`, `{{{ }}}` and `{% %}` tags of a text, in order.
pub(super) fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rel) = text[pos..].find('{') {
        let i = pos + rel;
        let rest = &text[i..];
        let (open, close) = if rest.starts_with("{{{") {
            ("{{{", "}}}")
        } else if rest.starts_with("{{") {
            ("{{", "}}")
        } else if rest.starts_with("{%") {
            ("{%", "%}")
        } else {
            pos = i + 1;
            continue;
        };
        match rest[open.len()..].find(close) {
            Some(e) => {
                let end = i + open.len() + e + close.len();
                out.push(Tag {
                    start: i,
                    end,
                    open,
                    inner: &rest[open.len()..open.len() + e],
                });
                pos = end;
            }
            None => break,
        }
    }
    out
}

/// A tag's content without whitespace control (`~`, `-`, `+`) and extra spaces.
pub(super) fn tag_content(inner: &str) -> String {
    let t = inner
        .trim()
        .trim_matches('~')
        .trim_matches(|c| c == '-' || c == '+')
        .trim();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    // Spaces next to operators and brackets carry no meaning (`x | f` = `x|f`).
    let punct = |c: Option<char>| c.is_some_and(|c| "|(),=[]<>+*/%:!~".contains(c));
    let cs: Vec<char> = t.chars().collect();
    cs.iter()
        .enumerate()
        .filter(|(i, c)| {
            **c != ' ' || !(punct(i.checked_sub(1).map(|j| cs[j])) || punct(cs.get(i + 1).copied()))
        })
        .map(|(_, c)| *c)
        .collect()
}

/// Text with every tag written canonically (`{{ x }}` → `{{x}}`).
pub(super) fn normalize_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for t in tags(s) {
        out.push_str(&s[last..t.start]);
        let close = match t.open {
            "{{{" => "}}}",
            "{{" => "}}",
            _ => "%}",
        };
        out.push_str(t.open);
        out.push_str(&tag_content(t.inner));
        out.push_str(close);
        last = t.end;
    }
    out.push_str(&s[last..]);
    out
}

/// `{{role "system"}}` → `system`.
pub(super) fn role_tag(content: &str) -> Option<String> {
    let rest = content.strip_prefix("role ")?.trim();
    let r = rest.trim_matches(|c| c == '"' || c == '\'');
    (!r.is_empty() && !r.contains(' ')).then(|| r.to_ascii_lowercase())
}

/// A Prompty role line (`system:`, `# user:`).
pub(super) fn role_line(t: &str) -> Option<String> {
    let t = t.trim_start_matches('#').trim();
    let word = t.strip_suffix(':')?.trim().to_ascii_lowercase();
    [
        "system",
        "user",
        "assistant",
        "developer",
        "tool",
        "function",
    ]
    .contains(&word.as_str())
    .then_some(word)
}

/// Whether a line starts a block of its own (list item, heading, quote, table, fence).
pub(super) fn starts_block(s: &str) -> bool {
    let bullets = ["- ", "* ", "+ ", "• ", "> ", "|", "```", "#"];
    if bullets.iter().any(|b| s.starts_with(b)) || s == "-" || s == "*" {
        return true;
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && matches!(s[digits..].chars().next(), Some('.' | ')'))
        && s[digits + 1..].starts_with(' ')
}

/// A line made only of control tags (`{{#if x}}`, `{{/if}}`, `{% for %}`...).
pub(super) fn control_only(s: &str) -> bool {
    let ts = tags(s);
    if ts.is_empty() {
        return false;
    }
    let mut outside = String::new();
    let mut last = 0;
    for t in &ts {
        outside.push_str(&s[last..t.start]);
        last = t.end;
    }
    outside.push_str(&s[last..]);
    outside.trim().is_empty()
        && ts.iter().all(|t| {
            let c = tag_content(t.inner);
            t.open == "{%"
                || c.starts_with(['#', '/', '^'])
                || c == "else"
                || c.starts_with("else ")
        })
}

pub(super) fn ends_sentence(w: &str) -> bool {
    if w.ends_with("}}") || w.ends_with("%}") {
        return false;
    }
    let w = w.trim_end_matches(['"', '\'', ')', ']', '*', '_', '”', '’', '»']);
    w.ends_with(['.', '!', '?', '。', '！', '？'])
}

pub(super) fn build_body(chunks: &[Chunk], jinja: bool) -> Body {
    let mut segments = Vec::new();
    let mut variables: Vec<(String, u32)> = Vec::new();
    let mut locals = HashSet::new();
    for chunk in chunks {
        let text = strip_comments(&chunk.text);
        find_variables(&text, chunk.line, jinja, &mut variables, &mut locals);
        let mut role = chunk.role.clone();
        let mut cur: Vec<String> = Vec::new();
        let mut cur_line = 0;
        let flush =
            |cur: &mut Vec<String>, role: &Option<String>, line: u32, segs: &mut Vec<Segment>| {
                if !cur.is_empty() {
                    segs.push(Segment {
                        role: role.clone(),
                        text: cur.join(" "),
                        line,
                    });
                    cur.clear();
                }
            };
        for (i, raw) in text.split('\n').enumerate() {
            let ln = chunk.line + i as u32;
            let t = raw.trim();
            if t.is_empty() {
                flush(&mut cur, &role, cur_line, &mut segments);
                continue;
            }
            if let Some(r) = role_line(t) {
                flush(&mut cur, &role, cur_line, &mut segments);
                role = Some(r);
                continue;
            }
            let t = normalize_tags(t);
            // Split the line at role tags.
            let mut parts: Vec<(Option<String>, &str)> = Vec::new();
            let mut last = 0;
            for tag in tags(&t) {
                if let Some(r) = role_tag(tag.inner) {
                    parts.push((None, &t[last..tag.start]));
                    parts.push((Some(r), ""));
                    last = tag.end;
                }
            }
            parts.push((None, &t[last..]));
            for (pi, (switch, s)) in parts.into_iter().enumerate() {
                if let Some(r) = switch {
                    flush(&mut cur, &role, cur_line, &mut segments);
                    role = Some(r);
                    continue;
                }
                let s = s.trim();
                if s.is_empty() {
                    continue;
                }
                let control = control_only(s);
                let soft = !s.chars().next().is_some_and(char::is_uppercase);
                if control || starts_block(s) || (pi == 0 && !soft) {
                    flush(&mut cur, &role, cur_line, &mut segments);
                }
                for w in s.split_whitespace() {
                    if cur.is_empty() {
                        cur_line = ln;
                    }
                    cur.push(w.to_string());
                    if ends_sentence(w) {
                        flush(&mut cur, &role, cur_line, &mut segments);
                    }
                }
                if control {
                    flush(&mut cur, &role, cur_line, &mut segments);
                }
            }
        }
        flush(&mut cur, &role, cur_line, &mut segments);
    }
    variables.retain(|(v, _)| !locals.contains(v));
    Body {
        segments,
        variables,
    }
}

pub(super) const NOT_VARIABLES: [&str; 17] = [
    "else",
    "this",
    "history",
    "true",
    "false",
    "null",
    "undefined",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "none",
    "None",
    "loop",
    "super",
];

pub(super) fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && cs.all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '-'))
}

pub(super) fn add_var(name: &str, line: u32, vars: &mut Vec<(String, u32)>) {
    if is_ident(name) && !NOT_VARIABLES.contains(&name) && !vars.iter().any(|(v, _)| v == name) {
        vars.push((name.to_string(), line));
    }
}

/// The root of a Handlebars path (`user.name` → `user`), if it is a variable.
pub(super) fn hbs_root(tok: &str, line: u32, vars: &mut Vec<(String, u32)>) {
    let tok = tok.trim_end_matches(')');
    if tok.starts_with(['"', '\'', '@', '(', '.']) || tok.starts_with(|c: char| c.is_ascii_digit())
    {
        return;
    }
    let root = tok.split(['.', '[', '/']).next().unwrap_or("");
    add_var(root, line, vars);
}

/// Root identifiers of a Jinja expression: not attributes, filters, calls or keywords.
pub(super) fn jinja_roots(expr: &str, line: u32, vars: &mut Vec<(String, u32)>) {
    let cs: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut prev = ' ';
    while i < cs.len() {
        let c = cs[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < cs.len() && cs[i] != c {
                i += 1;
            }
            i += 1;
            prev = c;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            let word: String = cs[start..i].iter().collect();
            let next = cs[i..].iter().find(|c| !c.is_whitespace()).copied();
            if prev != '.' && prev != '|' && next != Some('(') && next != Some('=') {
                add_var(&word, line, vars);
            }
            prev = 'a';
            continue;
        }
        if c.is_ascii_digit() {
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '.') {
                i += 1;
            }
            prev = '0';
            continue;
        }
        if !c.is_whitespace() {
            prev = c;
        }
        i += 1;
    }
}

pub(super) fn find_variables(
    text: &str,
    first_line: u32,
    jinja: bool,
    vars: &mut Vec<(String, u32)>,
    locals: &mut HashSet<String>,
) {
    const HELPERS: [&str; 9] = [
        "if", "each", "unless", "with", "section", "role", "media", "json", "ifEquals",
    ];
    for tag in tags(text) {
        let line = first_line + text[..tag.start].matches('\n').count() as u32;
        let c = tag_content(tag.inner);
        if tag.open == "{%" {
            let (kw, rest) = c.split_once(' ').unwrap_or((c.as_str(), ""));
            match kw {
                "for" => {
                    if let Some((names, expr)) = rest.split_once(" in ") {
                        locals.extend(names.split(',').map(|n| n.trim().to_string()));
                        jinja_roots(expr, line, vars);
                    }
                }
                "if" | "elif" => jinja_roots(rest, line, vars),
                "set" => {
                    if let Some((name, expr)) = rest.split_once('=') {
                        locals.insert(name.trim().to_string());
                        jinja_roots(expr, line, vars);
                    }
                }
                "macro" => {
                    if let Some(name) = rest.split('(').next() {
                        locals.insert(name.trim().to_string());
                    }
                }
                _ => {}
            }
            continue;
        }
        if jinja {
            let expr = c.split('|').next().unwrap_or("");
            jinja_roots(expr, line, vars);
            continue;
        }
        if c.starts_with(['!', '>', '/']) {
            continue;
        }
        let (block, body) = match c.strip_prefix(['#', '^', '&']) {
            Some(b) => (c.starts_with(['#', '^']), b.trim()),
            None => (false, c.as_str()),
        };
        let body = body.strip_prefix("else").map(str::trim).unwrap_or(body);
        let mut toks: Vec<&str> = body.split_whitespace().collect();
        if let Some(k) = toks.iter().position(|t| *t == "as") {
            locals.extend(
                toks[k + 1..]
                    .iter()
                    .map(|t| t.trim_matches('|').to_string())
                    .filter(|t| !t.is_empty()),
            );
            toks.truncate(k);
        }
        match toks.as_slice() {
            [] => {}
            [one] if !block || !HELPERS.contains(one) => hbs_root(one, line, vars),
            [_, args @ ..] => {
                for a in args {
                    let a = a.split_once('=').map(|(_, v)| v).unwrap_or(a);
                    hbs_root(a, line, vars);
                }
            }
        }
    }
}
