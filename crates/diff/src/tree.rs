//! The document tree every structured artifact is normalised into.
//!
//! YAML and JSON both parse into a [`Node`]: maps keep their key order (so a
//! reordering can be reported as such), scalars keep their JSON type, and
//! every node keeps the line it was written on (so a change can point at
//! it). Comments, whitespace and quoting style do not survive parsing: two
//! texts that differ only in those give equal trees, which is how the
//! cosmetic check works.

use serde_json::Value as Json;
use std::collections::HashMap;
use std::fmt;

/// A parsed YAML or JSON node with its 1-based line (0 when unknown).
#[derive(Debug, Clone)]
pub struct Node {
    pub line: u32,
    pub data: Data,
    /// Key → position, for maps large enough that a scan would cost
    /// (`paths` and `components` of big API documents). Boxed so that the
    /// millions of nodes without one stay small.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<String, usize>>>,
}

/// Maps with more entries than this get an index.
const INDEX_FROM: usize = 12;

#[derive(Debug, Clone)]
pub enum Data {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    /// Entries in source order.
    Map(Vec<(String, Node)>),
}

/// A syntax error in an artifact, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl PartialEq for Node {
    /// Structural equality: lines and map key order are ignored.
    fn eq(&self, other: &Self) -> bool {
        match (&self.data, &other.data) {
            (Data::Null, Data::Null) => true,
            (Data::Bool(a), Data::Bool(b)) => a == b,
            (Data::Number(a), Data::Number(b)) => num_eq(a, b),
            (Data::String(a), Data::String(b)) => a == b,
            (Data::Seq(a), Data::Seq(b)) => a == b,
            (Data::Map(a), Data::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| other.get(k) == Some(v))
            }
            _ => false,
        }
    }
}

fn num_eq(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

impl Node {
    pub fn new(line: u32, data: Data) -> Self {
        let index = match &data {
            Data::Map(m) if m.len() > INDEX_FROM => {
                let mut idx = HashMap::with_capacity(m.len());
                for (i, (k, _)) in m.iter().enumerate() {
                    idx.entry(k.clone()).or_insert(i);
                }
                Some(Box::new(idx))
            }
            _ => None,
        };
        Node { line, data, index }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        if let (Some(idx), Data::Map(entries)) = (&self.index, &self.data) {
            return idx.get(key).and_then(|&i| entries.get(i)).map(|(_, v)| v);
        }
        match &self.data {
            Data::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a `/`-separated path of map keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, k| n.get(k))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.data {
            Data::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match &self.data {
            Data::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.data {
            Data::Map(e) => e,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.data {
            Data::Seq(s) => s,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.data, Data::Map(_))
    }

    /// Strings of a sequence (non-strings skipped).
    pub fn strings(&self) -> Vec<String> {
        self.items()
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect()
    }

    /// The JSON type name, as JSON Schema spells it.
    pub fn type_name(&self) -> &'static str {
        match &self.data {
            Data::Null => "null",
            Data::Bool(_) => "boolean",
            Data::Number(n) if n.is_f64() => "number",
            Data::Number(_) => "integer",
            Data::String(_) => "string",
            Data::Seq(_) => "array",
            Data::Map(_) => "object",
        }
    }

    pub fn to_json(&self) -> Json {
        match &self.data {
            Data::Null => Json::Null,
            Data::Bool(b) => Json::Bool(*b),
            Data::Number(n) => Json::Number(n.clone()),
            Data::String(s) => Json::String(s.clone()),
            Data::Seq(s) => Json::Array(s.iter().map(Node::to_json).collect()),
            Data::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A short one-line rendering for reports (`{…}` and `[…]` for containers).
    pub fn brief(&self) -> Json {
        match &self.data {
            Data::Map(_) | Data::Seq(_) => {
                let s = self.to_json().to_string();
                if s.len() <= 80 {
                    self.to_json()
                } else {
                    Json::String(format!("{}…", s.chars().take(77).collect::<String>()))
                }
            }
            _ => self.to_json(),
        }
    }

    pub fn from_json(v: &Json) -> Node {
        let data = match v {
            Json::Null => Data::Null,
            Json::Bool(b) => Data::Bool(*b),
            Json::Number(n) => Data::Number(n.clone()),
            Json::String(s) => Data::String(s.clone()),
            Json::Array(a) => Data::Seq(a.iter().map(Node::from_json).collect()),
            Json::Object(o) => Data::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        };
        Node::new(0, data)
    }
}

/// Parses YAML (1.2) or JSON text, keeping key order and lines.
///
/// Text that starts like JSON (`{` or `[`) is read by a JSON parser with
/// positions (`jsonc-parser`, which also accepts comments), much faster
/// than the YAML one on big documents; if that fails the text is read as
/// YAML (whose flow style also starts with `{`), and a failure of both
/// reports the error of the reading the text looked like.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    if text.trim().is_empty() {
        return Ok(Node::new(1, Data::Null));
    }
    let first = text.trim_start().chars().next().unwrap_or(' ');
    if first == '{' || first == '[' {
        match parse_json(text) {
            Ok(n) => return Ok(n),
            Err(json_err) => {
                return parse_yaml(text).map_err(|yaml_err| {
                    // `{"` opens a JSON document; `{a: 1}` a YAML flow map.
                    let looks_json =
                        text.trim_start()[1..].trim_start().starts_with('"') || first == '[';
                    if looks_json {
                        json_err
                    } else {
                        yaml_err
                    }
                });
            }
        }
    }
    parse_yaml(text)
}

/// Parses JSON (comments and trailing commas allowed, as in JSONC), with
/// lines and key order; a duplicate key is an error. Built straight from
/// `jsonc-parser`'s tokens: no intermediate syntax tree, so a 10 MB
/// document costs one tree, not two.
pub fn parse_json(text: &str) -> Result<Node, ParseError> {
    use jsonc_parser::{Scanner, ScannerOptions};
    let opts = ScannerOptions {
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let mut b = JsonBuilder {
        sc: Scanner::new(text, &opts),
        lines: LineIndex::new(text),
    };
    let Some((tok, at)) = b.next()? else {
        return Ok(Node::new(1, Data::Null));
    };
    let node = b.value(tok, at, 0)?;
    if let Some((_, at)) = b.next()? {
        return Err(b.error(at, "unexpected text after the JSON document"));
    }
    Ok(node)
}

/// Deepest JSON nesting read; deeper input is an error, not a stack overflow.
const MAX_JSON_DEPTH: usize = 512;

struct JsonBuilder<'a> {
    sc: jsonc_parser::Scanner<'a>,
    lines: LineIndex,
}

impl<'a> JsonBuilder<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.lines.line(at),
            col: self.lines.col(at),
            message: message.into(),
        }
    }

    /// The next token that is not a comment, with its start offset.
    fn next(&mut self) -> Result<Option<(jsonc_parser::tokens::Token<'a>, usize)>, ParseError> {
        use jsonc_parser::tokens::Token;
        loop {
            let tok = self.sc.scan().map_err(|e| ParseError {
                line: e.line_display() as u32,
                col: e.column_display() as u32,
                message: e.kind().to_string(),
            })?;
            match tok {
                Some(Token::CommentLine(_) | Token::CommentBlock(_)) => continue,
                Some(t) => return Ok(Some((t, self.sc.token_start()))),
                None => return Ok(None),
            }
        }
    }

    fn expect_next(
        &mut self,
        what: &str,
    ) -> Result<(jsonc_parser::tokens::Token<'a>, usize), ParseError> {
        match self.next()? {
            Some(t) => Ok(t),
            None => Err(self.error(
                self.sc.token_end(),
                format!("unexpected end of the document; expected {what}"),
            )),
        }
    }

    fn value(
        &mut self,
        tok: jsonc_parser::tokens::Token<'a>,
        at: usize,
        depth: usize,
    ) -> Result<Node, ParseError> {
        use jsonc_parser::tokens::Token;
        if depth > MAX_JSON_DEPTH {
            return Err(self.error(at, format!("nesting deeper than {MAX_JSON_DEPTH} levels")));
        }
        let line = self.lines.line(at);
        Ok(match tok {
            Token::String(s) => Node::new(line, Data::String(s.into_owned())),
            Token::Number(n) => {
                let num = n
                    .parse::<i64>()
                    .map(serde_json::Number::from)
                    .ok()
                    .or_else(|| n.parse::<f64>().ok().and_then(serde_json::Number::from_f64));
                match num {
                    Some(num) => Node::new(line, Data::Number(num)),
                    None => return Err(self.error(at, format!("number `{n}` is out of range"))),
                }
            }
            Token::Boolean(b) => Node::new(line, Data::Bool(b)),
            Token::Null => Node::new(line, Data::Null),
            Token::OpenBracket => {
                let mut items = Vec::new();
                loop {
                    let (t, at) = self.expect_next("a value or `]`")?;
                    if matches!(t, Token::CloseBracket) {
                        break;
                    }
                    items.push(self.value(t, at, depth + 1)?);
                    match self.expect_next("`,` or `]`")? {
                        (Token::Comma, _) => {}
                        (Token::CloseBracket, _) => break,
                        (_, at) => return Err(self.error(at, "expected `,` or `]`")),
                    }
                }
                Node::new(line, Data::Seq(items))
            }
            Token::OpenBrace => {
                let mut entries: Vec<(String, Node)> = Vec::new();
                let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
                loop {
                    let (t, key_at) = self.expect_next("a key or `}`")?;
                    let key = match t {
                        Token::CloseBrace => break,
                        Token::String(k) => k.into_owned(),
                        _ => return Err(self.error(key_at, "expected a quoted key or `}`")),
                    };
                    let duplicate = if entries.len() >= INDEX_FROM {
                        if seen.is_empty() {
                            seen.extend(entries.iter().map(|(k, _)| k.clone()));
                        }
                        !seen.insert(key.clone())
                    } else {
                        entries.iter().any(|(k, _)| *k == key)
                    };
                    if duplicate {
                        return Err(self.error(key_at, format!("duplicate key `{key}`")));
                    }
                    match self.expect_next("`:`")? {
                        (Token::Colon, _) => {}
                        (_, at) => {
                            return Err(
                                self.error(at, format!("expected `:` after the key `{key}`"))
                            )
                        }
                    }
                    let (t, at) = self.expect_next("a value")?;
                    let mut value = self.value(t, at, depth + 1)?;
                    // A value takes the line of its key.
                    value.line = self.lines.line(key_at);
                    entries.push((key, value));
                    match self.expect_next("`,` or `}`")? {
                        (Token::Comma, _) => {}
                        (Token::CloseBrace, _) => break,
                        (_, at) => return Err(self.error(at, "expected `,` or `}`")),
                    }
                }
                Node::new(line, Data::Map(entries))
            }
            Token::Word(w) => {
                return Err(self.error(at, format!("unexpected `{w}` (strings need double quotes)")))
            }
            _ => return Err(self.error(at, "unexpected token; expected a value")),
        })
    }
}

/// Byte offset → 1-based line. Lookups mostly come in source order, so
/// the last answer is tried first.
struct LineIndex(Vec<usize>, std::cell::Cell<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex(starts, std::cell::Cell::new(0))
    }
    fn line(&self, offset: usize) -> u32 {
        let starts = &self.0;
        let mut i = self.1.get();
        if starts[i] <= offset {
            // Walk forward a few lines before falling back to a search.
            for _ in 0..8 {
                match starts.get(i + 1) {
                    Some(&next) if next <= offset => i += 1,
                    _ => {
                        self.1.set(i);
                        return i as u32 + 1;
                    }
                }
            }
        }
        let i = match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        self.1.set(i);
        i as u32 + 1
    }
    fn col(&self, offset: usize) -> u32 {
        let line = self.line(offset) as usize;
        (offset - self.0[line.saturating_sub(1)]) as u32 + 1
    }
}

fn parse_yaml(text: &str) -> Result<Node, ParseError> {
    use marked_yaml::{LoadError, LoaderOptions};
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace());
    // Strip leading comment lines and the `---` marker to see the top level.
    let first = trimmed
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .unwrap_or("");
    let opts = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    let opts = if first.starts_with('-') || first.starts_with('[') {
        opts.toplevel_sequence()
    } else {
        opts
    };
    match marked_yaml::parse_yaml_with_options(0, text, opts) {
        Ok(n) => Ok(from_marked(&n)),
        Err(e) => {
            let (line, col, message) = match &e {
                LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => (
                    m.line(),
                    m.column(),
                    "a YAML document here must be a mapping or a sequence".to_string(),
                ),
                LoadError::UnexpectedAnchor(m) => {
                    (m.line(), m.column(), "anchors are not supported".into())
                }
                LoadError::MappingKeyMustBeScalar(m) => (
                    m.line(),
                    m.column(),
                    "a mapping key must be a scalar".into(),
                ),
                LoadError::UnexpectedTag(m) => {
                    (m.line(), m.column(), "tags are not supported".into())
                }
                LoadError::ScanError(m, se) => (m.line(), m.column(), se.info().to_string()),
                LoadError::DuplicateKey(d) => {
                    let m = d
                        .key
                        .span()
                        .start()
                        .copied()
                        .unwrap_or_else(|| marked_yaml::Marker::new(0, 0, 0, 0));
                    (
                        m.line(),
                        m.column(),
                        format!("duplicate key `{}`", d.key.as_str()),
                    )
                }
            };
            Err(ParseError {
                line: line as u32,
                col: col as u32,
                message,
            })
        }
    }
}

fn line_of(span: &marked_yaml::Span) -> u32 {
    span.start().map(|m| m.line() as u32).unwrap_or(0)
}

fn from_marked(n: &marked_yaml::Node) -> Node {
    use marked_yaml::Node as M;
    match n {
        M::Scalar(s) => Node::new(line_of(s.span()), scalar(s)),
        M::Sequence(seq) => Node::new(
            line_of(seq.span()),
            Data::Seq(seq.iter().map(from_marked).collect()),
        ),
        M::Mapping(map) => Node::new(
            line_of(map.span()),
            Data::Map(
                map.iter()
                    .map(|(k, v)| (k.as_str().to_string(), from_marked_keyed(k, v)))
                    .collect(),
            ),
        ),
    }
}

/// A mapping value takes the line of its key (a block sequence or mapping
/// value starts on the next line otherwise).
fn from_marked_keyed(k: &marked_yaml::types::MarkedScalarNode, v: &marked_yaml::Node) -> Node {
    let mut node = from_marked(v);
    let kl = line_of(k.span());
    if kl != 0 {
        node.line = kl;
    }
    node
}

fn scalar(s: &marked_yaml::types::MarkedScalarNode) -> Data {
    let raw = s.as_str();
    if !s.may_coerce() {
        return Data::String(raw.to_string());
    }
    match raw {
        "" | "~" | "null" | "Null" | "NULL" => return Data::Null,
        "true" | "True" | "TRUE" => return Data::Bool(true),
        "false" | "False" | "FALSE" => return Data::Bool(false),
        _ => {}
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Data::Number(i.into());
    }
    if let Some(hex) = raw.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Data::Number(i.into());
        }
    }
    if raw.chars().any(|c| c.is_ascii_digit()) {
        if let Ok(f) = raw.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f) {
                return Data::Number(n);
            }
        }
    }
    Data::String(raw.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keeps_lines_order_and_types() {
        let n = parse("# c\nb: 1\na:\n  - x\n  - 'true'\nc: true\nd: 1.5\n").unwrap();
        let keys: Vec<_> = n.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        assert_eq!(n.get("a").unwrap().line, 3);
        assert_eq!(n.get("a").unwrap().items()[1].as_str(), Some("true"));
        assert_eq!(n.get("c").unwrap().as_bool(), Some(true));
        assert_eq!(n.get("d").unwrap().type_name(), "number");
        assert_eq!(n.get("b").unwrap().type_name(), "integer");
    }

    #[test]
    fn json_and_yaml_spellings_are_equal() {
        let a = parse("{\"a\": [1, 2], \"b\": {\"c\": null}}").unwrap();
        let b = parse("b:\n  c: ~\na: [1, 2]\n").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "duplicate key `a`"));
        let e = parse_json("{\"a\": 1,\n \"b\": }").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
