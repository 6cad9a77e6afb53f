//! The document tree every structured artifact is normalised into.
//!
//! YAML and JSON both parse into a [`Node`]: maps keep their key order (so a
//! reordering can be reported as such), scalars keep their JSON type, and
//! every node keeps the line it was written on (so a change can point at
//! it). Comments, whitespace and quoting style do not survive parsing: two
//! texts that differ only in those give equal trees, which is how the
//! cosmetic check works.

use serde_json::Value as Json;
use std::fmt;

/// A parsed YAML or JSON node with its 1-based line (0 when unknown).
#[derive(Debug, Clone)]
pub struct Node {
    pub line: u32,
    pub data: Data,
}

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
        Node { line, data }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
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

/// Parses YAML (1.2) or JSON text. JSON is parsed as YAML first, which keeps
/// key order and lines; text YAML rejects (tabs, say) falls back to
/// serde_json, without lines.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    if text.trim().is_empty() {
        return Ok(Node::new(1, Data::Null));
    }
    match parse_yaml(text) {
        Ok(n) => Ok(n),
        Err(yaml_err) => match serde_json::from_str::<Json>(text) {
            Ok(v) => Ok(Node::from_json(&v)),
            Err(_) => Err(yaml_err),
        },
    }
}

/// Parses JSON strictly (serde_json's error positions), keeping lines and
/// key order from the YAML reading of the same text when it agrees.
pub fn parse_json(text: &str) -> Result<Node, ParseError> {
    match serde_json::from_str::<Json>(text) {
        Ok(v) => match parse_yaml(text) {
            Ok(n) if n.to_json() == v => Ok(n),
            _ => Ok(Node::from_json(&v)),
        },
        Err(e) => Err(ParseError {
            line: e.line() as u32,
            col: e.column() as u32,
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_string(),
        }),
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
