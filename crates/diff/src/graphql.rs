//! GraphQL SDL: what a schema change means for the clients of the API.
//!
//! Both texts are parsed with `apollo-parser`; type extensions
//! (`extend type`, `extend enum`...) are merged into their type, and the two
//! schemas are compared by name, so comments, layout and the order of
//! definitions, fields, enum values, union members or directive usages are
//! not changes. The facts follow graphql-inspector's change catalogue
//! (types, fields, arguments, input fields, enum values, union members,
//! interfaces, directive definitions and usages, deprecations, descriptions
//! and root operation types) without judging them: `direction` is
//! `response` for object and interface fields (data a client reads) and
//! `request` for arguments and input fields (data it sends). Elements inside
//! an added or removed type are folded into the type's fact. A removed and an
//! added field of the same type with the same type and arguments are reported
//! as one `field.renamed` (a guess, with a detector confidence below 1).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use apollo_parser::cst::{self, CstNode};
use apollo_parser::{Lexer, Parser, SyntaxKind, SyntaxNode, SyntaxTree, TextRange, TokenKind};
use serde_json::Value as Json;

use super::change::{Change, Changes, Direction};
use super::tree::ParseError;
use super::{ArtifactError, Options};

/// A parsed schema, with extensions merged into their types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Root operation types (query, mutation, subscription), explicit or by
    /// the default names.
    roots: [Option<String>; 3],
    schema_line: u32,
    schema_directives: Vec<Usage>,
    types: Vec<TypeDef>,
    /// Type name → index in `types`.
    index: HashMap<String, usize>,
    directives: Vec<DirectiveDef>,
}

const OPERATIONS: [&str; 3] = ["query", "mutation", "subscription"];

impl Schema {
    fn type_named(&self, name: &str) -> Option<&TypeDef> {
        self.index.get(name).and_then(|&i| self.types.get(i))
    }

    fn add_type(&mut self, t: TypeDef) {
        self.index.insert(t.name.clone(), self.types.len());
        self.types.push(t);
    }

    fn directive_named(&self, name: &str) -> Option<&DirectiveDef> {
        self.directives.iter().find(|d| d.name == name)
    }

    /// The root operation a type serves, if any.
    fn root_of(&self, name: &str) -> Option<&'static str> {
        OPERATIONS
            .iter()
            .zip(&self.roots)
            .find(|(_, r)| r.as_deref() == Some(name))
            .map(|(op, _)| *op)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    Input,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Object => "object",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Input => "input",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct TypeDef {
    name: String,
    kind: Kind,
    line: u32,
    description: Option<String>,
    directives: Vec<Usage>,
    /// Implemented interfaces (objects, interfaces) or members (unions).
    interfaces: Vec<String>,
    members: Vec<String>,
    fields: Vec<FieldDef>,
    inputs: Vec<InputDef>,
    values: Vec<EnumValueDef>,
}

#[derive(Debug, Clone, PartialEq)]
struct FieldDef {
    name: String,
    line: u32,
    description: Option<String>,
    ty: Ty,
    args: Vec<InputDef>,
    directives: Vec<Usage>,
}

/// An argument or an input-object field.
#[derive(Debug, Clone, PartialEq)]
struct InputDef {
    name: String,
    line: u32,
    description: Option<String>,
    ty: Ty,
    default: Option<GqlValue>,
    directives: Vec<Usage>,
}

impl InputDef {
    fn required(&self) -> bool {
        self.ty.non_null() && self.default.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct EnumValueDef {
    name: String,
    line: u32,
    description: Option<String>,
    directives: Vec<Usage>,
}

#[derive(Debug, Clone, PartialEq)]
struct DirectiveDef {
    name: String,
    line: u32,
    description: Option<String>,
    args: Vec<InputDef>,
    repeatable: bool,
    locations: Vec<&'static str>,
}

/// A directive applied to an element (`@auth(role: ADMIN)`).
#[derive(Debug, Clone, PartialEq)]
struct Usage {
    name: String,
    line: u32,
    args: Vec<(String, GqlValue)>,
}

impl Usage {
    /// Arguments sorted by name: their order has no meaning.
    fn sorted_args(&self) -> Vec<(&str, &GqlValue)> {
        let mut v: Vec<(&str, &GqlValue)> =
            self.args.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    fn same_args(&self, other: &Usage) -> bool {
        self.sorted_args() == other.sorted_args()
    }

    fn render(&self) -> String {
        if self.args.is_empty() {
            return format!("@{}", self.name);
        }
        let args: Vec<String> = self
            .sorted_args()
            .iter()
            .map(|(k, v)| format!("{k}: {}", render_value(v)))
            .collect();
        format!("@{}({})", self.name, args.join(", "))
    }
}

/// A GraphQL type reference (`[Order!]!`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    fn non_null(&self) -> bool {
        matches!(self, Ty::NonNull(_))
    }

    /// The type with every `!` removed.
    fn nullable_shape(&self) -> Ty {
        match self {
            Ty::Named(n) => Ty::Named(n.clone()),
            Ty::List(t) => Ty::List(Box::new(t.nullable_shape())),
            Ty::NonNull(t) => t.nullable_shape(),
        }
    }

    fn split(&self) -> (bool, &Ty) {
        match self {
            Ty::NonNull(t) => (true, t),
            t => (false, t),
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Named(n) => f.write_str(n),
            Ty::List(t) => write!(f, "[{t}]"),
            Ty::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

/// `!` added and removed between two types of the same shape.
fn nullability_moves(a: &Ty, b: &Ty, added: &mut bool, removed: &mut bool) {
    let (na, ia) = a.split();
    let (nb, ib) = b.split();
    *added |= !na && nb;
    *removed |= na && !nb;
    if let (Ty::List(xa), Ty::List(xb)) = (ia, ib) {
        nullability_moves(xa, xb, added, removed);
    }
}

// ---- parsing ---------------------------------------------------------------

/// Parses an SDL document (a text of only comments and blanks is an empty
/// schema).
///
/// apollo-parser recovers from syntax errors and returns a tree with a list
/// of errors; any error makes the document an error, told at the first one,
/// so a broken schema is never read in part.
///
/// The schema is read from the lexer's tokens; anything the token reader
/// does not expect sends the text to the tree path, which tells the error.
pub fn parse(text: &str) -> Result<Schema, ParseError> {
    match read_tokens(text) {
        Some(s) => Ok(s),
        None => parse_with_tree(text),
    }
}

/// Parses a document through apollo-parser's tree (the path that tells errors).
fn parse_with_tree(text: &str) -> Result<Schema, ParseError> {
    read(&Parser::new(text).parse(), text)
}

/// The schema in a parsed tree, or the tree's first error.
fn read(tree: &SyntaxTree, text: &str) -> Result<Schema, ParseError> {
    let src = Source::new(text);
    if let Some(e) = tree.errors().min_by_key(|e| e.index()) {
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Schema::default());
        }
        return Err(src.syntax_error(e));
    }
    src.build(tree.document().syntax())
}

/// Frees a big value on a thread of its own: a schema of a
/// megabyte of SDL is a million small allocations, tens of milliseconds to
/// free, which the caller need not wait for (nor a command that exits).
fn drop_in_background<T: Send + 'static>(value: T) {
    // If no thread can be started, the value is dropped here.
    let _ = std::thread::Builder::new()
        .name("graphql-free".into())
        .spawn(move || drop(value));
}

/// A GraphQL value (a default value or a directive argument), as written.
#[derive(Debug, Clone, PartialEq)]
enum GqlValue {
    Variable(String),
    /// The literal's digits (`-0` read as `0`), with no range limit.
    Int(String),
    Float(f64),
    String(String),
    Boolean(bool),
    Null,
    Enum(String),
    List(Vec<GqlValue>),
    /// Keys sorted: their order has no meaning.
    Object(BTreeMap<String, GqlValue>),
}

/// The GraphQL notation of a value: a string with a line break is a block
/// string, object keys come sorted.
impl fmt::Display for GqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GqlValue::Variable(n) => write!(f, "${n}"),
            GqlValue::Int(n) => f.write_str(n),
            GqlValue::Float(x) => write!(f, "{x}"),
            GqlValue::String(s) => write_quoted(f, s),
            GqlValue::Boolean(b) => write!(f, "{b}"),
            GqlValue::Null => f.write_str("null"),
            GqlValue::Enum(n) => f.write_str(n),
            GqlValue::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            GqlValue::Object(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A string literal: quoted with escapes, or a block string when it has a
/// line break and no other control character.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let control = |c: char| c < ' ' && !matches!(c, '\n' | '\r' | '\t');
    if s.contains('\n') && !s.chars().any(control) {
        f.write_str("\"\"\"\n")?;
        for line in s.lines() {
            if !line.trim().is_empty() {
                write!(f, "  {}", line.replace("\"\"\"", "\\\"\"\""))?;
            }
            f.write_str("\n")?;
        }
        return f.write_str("\"\"\"");
    }
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\r' => f.write_str("\\r")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if c < ' ' => write!(f, "\\u{:04X}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// The value of a string literal as written in the source (`"..."` or
/// `"""..."""`), read as the GraphQL spec says: escapes resolved, and a
/// block string without its common indent and its blank first and last
/// lines.
fn string_value(raw: &str) -> String {
    if let Some(body) = raw
        .strip_prefix("\"\"\"")
        .and_then(|s| s.strip_suffix("\"\"\""))
    {
        return block_string(body);
    }
    let body = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    if !body.contains('\\') {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => out.push(unicode_escape(&mut chars)),
            // `\"`, `\\` and `\/`: the lexer lets no other escape through.
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
    }
    out
}

/// The character of a `\uXXXX` (a surrogate pair is two of them) or
/// `\u{X...}` escape, after its `\u`.
fn unicode_escape(chars: &mut std::str::Chars<'_>) -> char {
    fn hex(chars: &mut std::str::Chars<'_>, n: usize) -> u32 {
        chars
            .by_ref()
            .take(n)
            .fold(0, |v, c| (v << 4) | c.to_digit(16).unwrap_or(0))
    }
    let value = if chars.as_str().starts_with('{') {
        chars.next();
        let mut v: u32 = 0;
        for c in chars.by_ref() {
            if c == '}' {
                break;
            }
            v = v
                .saturating_mul(16)
                .saturating_add(c.to_digit(16).unwrap_or(0));
        }
        v
    } else {
        let lead = hex(chars, 4);
        if (0xD800..=0xDBFF).contains(&lead) && chars.as_str().starts_with("\\u") {
            chars.nth(1);
            let trail = hex(chars, 4);
            (lead - 0xD800) * 0x400 + trail.saturating_sub(0xDC00) + 0x10000
        } else {
            lead
        }
    };
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

/// The lines of a block string: split at `\r\n`, `\n` or `\r`.
struct Lines<'a>(Option<&'a str>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.0?;
        match s.bytes().position(|b| b == b'\r' || b == b'\n') {
            None => {
                self.0 = None;
                Some(s)
            }
            Some(i) => {
                let (line, rest) = s.split_at(i);
                let skip = if rest.starts_with("\r\n") { 2 } else { 1 };
                self.0 = rest.get(skip..);
                Some(line)
            }
        }
    }
}

/// A block string's value (the spec's `BlockStringValue`).
fn block_string(raw: &str) -> String {
    if !raw.bytes().any(|b| b == b'\n' || b == b'\r') && !raw.contains("\\\"\"\"") {
        // One line: kept whole, unless blank.
        let blank = raw.bytes().all(|b| b == b' ' || b == b'\t');
        return if blank {
            String::new()
        } else {
            raw.to_string()
        };
    }
    let blank = |l: &str| l.bytes().all(|b| b == b' ' || b == b'\t');
    let indent = |l: &str| l.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    let common = Lines(Some(raw))
        .skip(1)
        .filter_map(|l| Some(indent(l)).filter(|&i| i < l.len()))
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(raw.len());
    // The text up to the last line that is not blank.
    let mut end = 0;
    let mut started = false;
    for (i, line) in Lines(Some(raw)).enumerate() {
        let line = if i == 0 {
            line
        } else {
            line.get(common.min(line.len())..).unwrap_or(line)
        };
        if !started && blank(line) {
            continue;
        }
        if started {
            out.push('\n');
        }
        started = true;
        if line.contains("\\\"\"\"") {
            out.push_str(&line.replace("\\\"\"\"", "\"\"\""));
        } else {
            out.push_str(line);
        }
        if !blank(line) {
            end = out.len();
        }
    }
    out.truncate(end);
    out
}

/// Directive locations, by their names in the SDL.
const LOCATIONS: [&str; 19] = [
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
];

/// The byte range of a node. A node holds no blanks or comments before its
/// first token or after its last: they belong to the enclosing node.
fn range(n: &SyntaxNode) -> (usize, usize) {
    let r = n.text_range();
    (usize::from(r.start()), usize::from(r.end()))
}

fn start(n: &SyntaxNode) -> usize {
    range(n).0
}

/// How many children of a kind a node has, read from the green tree (no
/// node is built): lists are allocated at their size.
fn count(n: &SyntaxNode, k: SyntaxKind) -> usize {
    let k = u16::from(k);
    n.green().children().filter(|c| c.kind().0 == k).count()
}

/// A child of a node read from the green tree, without building a node for
/// it: its raw kind, its byte range and, for a node, the raw kind and length
/// of its first child (a `NON_NULL_TYPE`'s `NAMED_TYPE`).
#[derive(Clone, Copy)]
struct Child {
    kind: u16,
    start: usize,
    end: usize,
    first: Option<(u16, usize)>,
}

/// Calls `f` on each child of a node, tokens included. Reading names and
/// simple types this way saves building most nodes of the tree.
fn each_child(
    n: &SyntaxNode,
    mut f: impl FnMut(Child) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let green = n.green();
    let mut at = start(n);
    for c in green.children() {
        let end = at + usize::from(c.text_len());
        let first = c
            .as_node()
            .and_then(|g| g.children().next())
            .map(|x| (x.kind().0, usize::from(x.text_len())));
        f(Child {
            kind: c.kind().0,
            start: at,
            end,
            first,
        })?;
        at = end;
    }
    Ok(())
}

/// Raw kinds, to match children read from the green tree.
const NAME: u16 = SyntaxKind::NAME as u16;
const DESCRIPTION: u16 = SyntaxKind::DESCRIPTION as u16;
const NAMED_TYPE: u16 = SyntaxKind::NAMED_TYPE as u16;
const LIST_TYPE: u16 = SyntaxKind::LIST_TYPE as u16;
const NON_NULL_TYPE: u16 = SyntaxKind::NON_NULL_TYPE as u16;
const ARGUMENTS_DEFINITION: u16 = SyntaxKind::ARGUMENTS_DEFINITION as u16;
const DEFAULT_VALUE: u16 = SyntaxKind::DEFAULT_VALUE as u16;
const DIRECTIVES: u16 = SyntaxKind::DIRECTIVES as u16;
const ARGUMENTS: u16 = SyntaxKind::ARGUMENTS as u16;
const ENUM_VALUE: u16 = SyntaxKind::ENUM_VALUE as u16;

fn is_value(k: SyntaxKind) -> bool {
    matches!(
        k,
        SyntaxKind::VARIABLE
            | SyntaxKind::STRING_VALUE
            | SyntaxKind::FLOAT_VALUE
            | SyntaxKind::INT_VALUE
            | SyntaxKind::BOOLEAN_VALUE
            | SyntaxKind::NULL_VALUE
            | SyntaxKind::ENUM_VALUE
            | SyntaxKind::LIST_VALUE
            | SyntaxKind::OBJECT_VALUE
    )
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The kind of a type definition or extension node, and whether it is an
/// extension.
fn type_node(k: SyntaxKind) -> Option<(Kind, bool)> {
    use SyntaxKind as S;
    Some(match k {
        S::SCALAR_TYPE_DEFINITION => (Kind::Scalar, false),
        S::OBJECT_TYPE_DEFINITION => (Kind::Object, false),
        S::INTERFACE_TYPE_DEFINITION => (Kind::Interface, false),
        S::UNION_TYPE_DEFINITION => (Kind::Union, false),
        S::ENUM_TYPE_DEFINITION => (Kind::Enum, false),
        S::INPUT_OBJECT_TYPE_DEFINITION => (Kind::Input, false),
        S::SCALAR_TYPE_EXTENSION => (Kind::Scalar, true),
        S::OBJECT_TYPE_EXTENSION => (Kind::Object, true),
        S::INTERFACE_TYPE_EXTENSION => (Kind::Interface, true),
        S::UNION_TYPE_EXTENSION => (Kind::Union, true),
        S::ENUM_TYPE_EXTENSION => (Kind::Enum, true),
        S::INPUT_OBJECT_TYPE_EXTENSION => (Kind::Input, true),
        _ => return None,
    })
}

/// The parts of a type definition or extension, before merging: its
/// member lists are the nodes themselves, read when merged.
struct Parts {
    /// Where its keyword (`type`, `enum`...) starts.
    at: usize,
    name: String,
    kind: Kind,
    description: Option<String>,
    directives: Option<SyntaxNode>,
    /// `implements`, union members, fields, input fields or enum values.
    lists: Vec<SyntaxNode>,
}

/// The source text with the start of each line, to turn byte offsets from
/// the tree into 1-based lines and columns.
struct Source<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Source<'t> {
    fn new(text: &'t str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Source { text, starts }
    }

    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> u32 {
        self.starts.partition_point(|&s| s <= offset) as u32
    }

    /// The 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.line(offset);
        let begin = self
            .starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let col = self
            .text
            .get(begin..offset.min(self.text.len()))
            .map_or(0, |s| s.chars().count());
        (line, col as u32 + 1)
    }

    fn error(&self, offset: usize, message: String) -> ParseError {
        let (line, col) = self.position(offset);
        ParseError { line, col, message }
    }

    /// apollo-parser's error (`expected a Type`, `expected R_CURLY, got =`)
    /// with the token it stopped at.
    fn syntax_error(&self, e: &apollo_parser::Error) -> ParseError {
        let mut message = e.message().to_string();
        for (kind, token) in [
            ("R_CURLY", "`}`"),
            ("R_PAREN", "`)`"),
            ("R_BRACK", "`]`"),
            ("AT", "`@`"),
        ] {
            if let Some(rest) = message.strip_prefix(&format!("expected {kind}, ")) {
                message = format!("expected {token}, {rest}");
            }
        }
        if let Some(i) = message.find(", got ") {
            message.truncate(i);
        }
        let data = e.data();
        let found = if e.is_eof() {
            " at the end of the text".to_string()
        } else if data.is_empty() || message.contains(data) {
            String::new()
        } else {
            let first = data.lines().next().unwrap_or_default();
            let mut shown: String = first.chars().take(40).collect();
            if shown.len() < data.len() {
                shown.push('…');
            }
            format!(", found `{shown}`")
        };
        self.error(e.index(), format!("invalid GraphQL SDL: {message}{found}"))
    }

    fn missing(&self, n: &SyntaxNode, what: &str) -> ParseError {
        self.error(start(n), format!("invalid GraphQL SDL: {what} is missing"))
    }

    /// The source text of a node.
    fn slice(&self, n: &SyntaxNode) -> &'t str {
        let (a, b) = range(n);
        self.text.get(a..b).unwrap_or_default()
    }

    /// Where the next token after `offset` starts, past blanks, commas and
    /// comments.
    fn skip_ignored(&self, mut offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(offset) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => offset += 1,
                b'#' => {
                    while bytes.get(offset).is_some_and(|&b| b != b'\n' && b != b'\r') {
                        offset += 1;
                    }
                }
                0xEF if self
                    .text
                    .get(offset..)
                    .is_some_and(|s| s.starts_with('\u{feff}')) =>
                {
                    offset += 3;
                }
                _ => break,
            }
        }
        offset
    }

    /// The name at a byte range (a `NAME` read from the green tree).
    fn name_at(&self, c: &Child) -> Result<String, ParseError> {
        match self.text.get(c.start..c.end) {
            Some(s) if is_name(s) => Ok(s.to_string()),
            _ => Err(self.error(c.start, "invalid GraphQL SDL: a name is missing".into())),
        }
    }

    /// The node of a child read from the green tree.
    fn node_at(&self, parent: &SyntaxNode, c: &Child) -> Result<SyntaxNode, ParseError> {
        let range = TextRange::new((c.start as u32).into(), (c.end as u32).into());
        parent
            .child_or_token_at_range(range)
            .and_then(|e| e.into_node())
            .ok_or_else(|| self.error(c.start, "invalid GraphQL SDL: a node is missing".into()))
    }

    /// A type child: `Name` and `Name!` read from the green tree, others
    /// from their node.
    fn ty_at(&self, parent: &SyntaxNode, c: &Child) -> Result<Ty, ParseError> {
        match (c.kind, c.first) {
            (NAMED_TYPE, _) => Ok(Ty::Named(self.name_at(c)?)),
            (NON_NULL_TYPE, Some((NAMED_TYPE, len))) => {
                let inner = Child {
                    end: c.start + len,
                    ..*c
                };
                Ok(Ty::NonNull(Box::new(Ty::Named(self.name_at(&inner)?))))
            }
            _ => self.ty(&self.node_at(parent, c)?),
        }
    }

    /// The name of a `NAME` node, or of a node holding just a name
    /// (`NAMED_TYPE`, `ENUM_VALUE`).
    fn name(&self, n: &SyntaxNode) -> Result<String, ParseError> {
        let s = self.slice(n);
        if is_name(s) {
            return Ok(s.to_string());
        }
        match n.children().find(|c| c.kind() == SyntaxKind::NAME) {
            Some(c) if is_name(self.slice(&c)) => Ok(self.slice(&c).to_string()),
            _ => Err(self.missing(n, "a name")),
        }
    }

    /// The name held by a child `NAME` node.
    fn child_name(&self, n: &SyntaxNode) -> Result<String, ParseError> {
        match n.children().find(|c| c.kind() == SyntaxKind::NAME) {
            Some(c) => self.name(&c),
            None => Err(self.missing(n, "a name")),
        }
    }

    /// The text of a `DESCRIPTION` node (just a string literal).
    fn description(&self, n: &SyntaxNode) -> Option<String> {
        Some(string_value(self.slice(n)))
    }

    /// The text of a `DESCRIPTION` read from the green tree.
    fn description_at(&self, c: &Child) -> Option<String> {
        self.text.get(c.start..c.end).map(string_value)
    }

    fn ty(&self, n: &SyntaxNode) -> Result<Ty, ParseError> {
        if n.kind() == SyntaxKind::NAMED_TYPE {
            return Ok(Ty::Named(self.name(n)?));
        }
        let mut inner = None;
        each_child(n, |c| {
            if matches!(c.kind, NAMED_TYPE | LIST_TYPE | NON_NULL_TYPE) && inner.is_none() {
                inner = Some(self.ty_at(n, &c)?);
            }
            Ok(())
        })?;
        let inner = Box::new(inner.ok_or_else(|| self.missing(n, "a type"))?);
        Ok(match n.kind() {
            SyntaxKind::LIST_TYPE => Ty::List(inner),
            SyntaxKind::NON_NULL_TYPE => Ty::NonNull(inner),
            _ => return Err(self.missing(n, "a type")),
        })
    }

    fn value(&self, n: &SyntaxNode) -> Result<GqlValue, ParseError> {
        Ok(match n.kind() {
            SyntaxKind::VARIABLE => GqlValue::Variable(self.child_name(n)?),
            SyntaxKind::STRING_VALUE => GqlValue::String(string_value(self.slice(n))),
            SyntaxKind::FLOAT_VALUE => {
                let text = self.slice(n);
                GqlValue::Float(text.parse::<f64>().map_err(|_| {
                    self.error(
                        start(n),
                        format!("invalid GraphQL SDL: `{text}` is not a number"),
                    )
                })?)
            }
            SyntaxKind::INT_VALUE => GqlValue::Int(match self.slice(n) {
                "-0" => "0".to_string(),
                s => s.to_string(),
            }),
            SyntaxKind::BOOLEAN_VALUE => GqlValue::Boolean(self.slice(n) == "true"),
            SyntaxKind::NULL_VALUE => GqlValue::Null,
            SyntaxKind::ENUM_VALUE => GqlValue::Enum(self.name(n)?),
            SyntaxKind::LIST_VALUE => GqlValue::List(
                n.children()
                    .filter(|c| is_value(c.kind()))
                    .map(|c| self.value(&c))
                    .collect::<Result<_, _>>()?,
            ),
            SyntaxKind::OBJECT_VALUE => {
                let mut fields = BTreeMap::new();
                for f in n.children() {
                    if f.kind() == SyntaxKind::OBJECT_FIELD {
                        let (k, v) = self.argument(&f)?;
                        fields.insert(k, v);
                    }
                }
                GqlValue::Object(fields)
            }
            _ => return Err(self.missing(n, "a value")),
        })
    }

    /// `name: value` (an argument or an object field).
    fn argument(&self, n: &SyntaxNode) -> Result<(String, GqlValue), ParseError> {
        let (mut name, mut value) = (None, None);
        each_child(n, |c| {
            if c.kind == NAME {
                name = Some(self.name_at(&c)?);
            } else if c.first.is_some() {
                let v = self.node_at(n, &c)?;
                if is_value(v.kind()) {
                    value = Some(self.value(&v)?);
                }
            }
            Ok(())
        })?;
        match (name, value) {
            (Some(k), Some(v)) => Ok((k, v)),
            (None, _) => Err(self.missing(n, "a name")),
            (_, None) => Err(self.missing(n, "a value")),
        }
    }

    /// The directives applied in a `DIRECTIVES` node.
    fn usages(&self, n: &SyntaxNode) -> Result<Vec<Usage>, ParseError> {
        let mut out = Vec::with_capacity(count(n, SyntaxKind::DIRECTIVE));
        for d in n.children() {
            if d.kind() != SyntaxKind::DIRECTIVE {
                continue;
            }
            let (mut name, mut args) = (None, Vec::new());
            each_child(&d, |c| {
                match c.kind {
                    NAME => name = Some(self.name_at(&c)?),
                    ARGUMENTS => {
                        let list = self.node_at(&d, &c)?;
                        args.reserve_exact(count(&list, SyntaxKind::ARGUMENT));
                        for a in list.children() {
                            if a.kind() == SyntaxKind::ARGUMENT {
                                args.push(self.argument(&a)?);
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            })?;
            out.push(Usage {
                name: name.ok_or_else(|| self.missing(&d, "a name"))?,
                line: self.line(start(&d)),
                args,
            });
        }
        Ok(out)
    }

    fn opt_usages(&self, n: Option<&SyntaxNode>) -> Result<Vec<Usage>, ParseError> {
        n.map_or(Ok(Vec::new()), |n| self.usages(n))
    }

    /// An `INPUT_VALUE_DEFINITION`: an argument or an input field.
    fn input(&self, n: &SyntaxNode) -> Result<InputDef, ParseError> {
        let (mut name, mut description, mut ty, mut default) = (None, None, None, None);
        let mut directives = Vec::new();
        each_child(n, |c| {
            match c.kind {
                DESCRIPTION => description = self.description_at(&c),
                NAME => name = Some(self.name_at(&c)?),
                DEFAULT_VALUE => {
                    let d = self.node_at(n, &c)?;
                    match d.children().find(|v| is_value(v.kind())) {
                        Some(v) => default = Some(self.value(&v)?),
                        None => return Err(self.missing(&d, "a value")),
                    }
                }
                DIRECTIVES => directives = self.usages(&self.node_at(n, &c)?)?,
                NAMED_TYPE | LIST_TYPE | NON_NULL_TYPE => ty = Some(self.ty_at(n, &c)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(InputDef {
            name: name.ok_or_else(|| self.missing(n, "a name"))?,
            line: self.line(start(n)),
            description,
            ty: ty.ok_or_else(|| self.missing(n, "a type"))?,
            default,
            directives,
        })
    }

    /// The arguments in an `ARGUMENTS_DEFINITION` of a field or directive
    /// (`owner`: `foo` or `@foo`).
    fn args(&self, owner: &str, n: Option<&SyntaxNode>) -> Result<Vec<InputDef>, ParseError> {
        let Some(n) = n else {
            return Ok(Vec::new());
        };
        let mut out: Vec<InputDef> =
            Vec::with_capacity(count(n, SyntaxKind::INPUT_VALUE_DEFINITION));
        for v in n.children() {
            if v.kind() != SyntaxKind::INPUT_VALUE_DEFINITION {
                continue;
            }
            let x = self.input(&v)?;
            if out.iter().any(|y| y.name == x.name) {
                return Err(self.error(
                    start(&v),
                    format!("argument of `{owner}` `{}` is defined twice", x.name),
                ));
            }
            out.push(x);
        }
        Ok(out)
    }

    fn field(&self, n: &SyntaxNode) -> Result<FieldDef, ParseError> {
        let (mut name, mut description, mut ty, mut args) = (None, None, None, None);
        let mut directives = Vec::new();
        each_child(n, |c| {
            match c.kind {
                DESCRIPTION => description = self.description_at(&c),
                NAME => name = Some(self.name_at(&c)?),
                ARGUMENTS_DEFINITION => args = Some(self.node_at(n, &c)?),
                DIRECTIVES => directives = self.usages(&self.node_at(n, &c)?)?,
                NAMED_TYPE | LIST_TYPE | NON_NULL_TYPE => ty = Some(self.ty_at(n, &c)?),
                _ => {}
            }
            Ok(())
        })?;
        let name = name.ok_or_else(|| self.missing(n, "a name"))?;
        Ok(FieldDef {
            line: self.line(start(n)),
            description,
            ty: ty.ok_or_else(|| self.missing(n, "a type"))?,
            args: self.args(&name, args.as_ref())?,
            directives,
            name,
        })
    }

    fn enum_value(&self, n: &SyntaxNode) -> Result<EnumValueDef, ParseError> {
        let (mut name, mut description, mut directives) = (None, None, Vec::new());
        each_child(n, |c| {
            match c.kind {
                DESCRIPTION => description = self.description_at(&c),
                ENUM_VALUE => name = Some(self.name_at(&c)?),
                DIRECTIVES => directives = self.usages(&self.node_at(n, &c)?)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(EnumValueDef {
            name: name.ok_or_else(|| self.missing(n, "an enum value"))?,
            line: self.line(start(n)),
            description,
            directives,
        })
    }

    /// Where the keyword of a definition starts: after its description, or
    /// after `extend`.
    fn keyword(&self, n: &SyntaxNode, description: Option<&SyntaxNode>) -> usize {
        match description {
            Some(d) => self.skip_ignored(range(d).1),
            None if self.slice(n).starts_with("extend") => {
                self.skip_ignored(start(n) + "extend".len())
            }
            None => start(n),
        }
    }

    /// The parts of a type definition or extension node.
    fn parts(&self, n: &SyntaxNode, kind: Kind) -> Result<Parts, ParseError> {
        let (mut name, mut description, mut description_node) = (None, None, None);
        let (mut directives, mut lists) = (None, Vec::new());
        for c in n.children() {
            match c.kind() {
                SyntaxKind::DESCRIPTION => {
                    description = self.description(&c);
                    description_node = Some(c);
                }
                SyntaxKind::NAME => name = Some(self.name(&c)?),
                SyntaxKind::DIRECTIVES => directives = Some(c),
                SyntaxKind::IMPLEMENTS_INTERFACES
                | SyntaxKind::UNION_MEMBER_TYPES
                | SyntaxKind::FIELDS_DEFINITION
                | SyntaxKind::INPUT_FIELDS_DEFINITION
                | SyntaxKind::ENUM_VALUES_DEFINITION => lists.push(c),
                _ => {}
            }
        }
        Ok(Parts {
            at: self.keyword(n, description_node.as_ref()),
            name: name.ok_or_else(|| self.missing(n, "a name"))?,
            kind,
            description,
            directives,
            lists,
        })
    }

    fn empty_type(&self, p: &Parts) -> TypeDef {
        TypeDef {
            name: p.name.clone(),
            kind: p.kind,
            line: self.line(p.at),
            description: None,
            directives: Vec::new(),
            interfaces: Vec::new(),
            members: Vec::new(),
            fields: Vec::new(),
            inputs: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds a definition's or extension's parts to its type.
    fn merge(&self, t: &mut TypeDef, p: &Parts) -> Result<(), ParseError> {
        if t.kind != p.kind {
            return Err(self.error(
                p.at,
                format!(
                    "`{}` is a {} type and cannot be extended as a {} type",
                    p.name,
                    t.kind.as_str(),
                    p.kind.as_str()
                ),
            ));
        }
        if p.description.is_some() {
            t.description = p.description.clone();
        }
        t.directives.extend(self.opt_usages(p.directives.as_ref())?);
        for list in &p.lists {
            if matches!(
                list.kind(),
                SyntaxKind::IMPLEMENTS_INTERFACES | SyntaxKind::UNION_MEMBER_TYPES
            ) {
                let names = if p.kind == Kind::Union {
                    &mut t.members
                } else {
                    &mut t.interfaces
                };
                each_child(list, |c| {
                    if c.kind == NAMED_TYPE {
                        let name = self.name_at(&c)?;
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                    Ok(())
                })?;
                continue;
            }
            match list.kind() {
                SyntaxKind::FIELDS_DEFINITION => t
                    .fields
                    .reserve_exact(count(list, SyntaxKind::FIELD_DEFINITION)),
                SyntaxKind::INPUT_FIELDS_DEFINITION => t
                    .inputs
                    .reserve_exact(count(list, SyntaxKind::INPUT_VALUE_DEFINITION)),
                SyntaxKind::ENUM_VALUES_DEFINITION => t
                    .values
                    .reserve_exact(count(list, SyntaxKind::ENUM_VALUE_DEFINITION)),
                _ => {}
            }
            for c in list.children() {
                match c.kind() {
                    SyntaxKind::FIELD_DEFINITION => {
                        let x = self.field(&c)?;
                        if t.fields.iter().any(|y| y.name == x.name) {
                            return Err(self.error(
                                start(&c),
                                format!("field `{}.{}` is defined twice", t.name, x.name),
                            ));
                        }
                        t.fields.push(x);
                    }
                    SyntaxKind::INPUT_VALUE_DEFINITION => {
                        let x = self.input(&c)?;
                        if t.inputs.iter().any(|y| y.name == x.name) {
                            return Err(self.error(
                                start(&c),
                                format!("input field `{}.{}` is defined twice", t.name, x.name),
                            ));
                        }
                        t.inputs.push(x);
                    }
                    SyntaxKind::ENUM_VALUE_DEFINITION => {
                        let x = self.enum_value(&c)?;
                        if t.values.iter().any(|y| y.name == x.name) {
                            return Err(self.error(
                                start(&c),
                                format!("enum value `{}.{}` is defined twice", t.name, x.name),
                            ));
                        }
                        t.values.push(x);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A `schema` definition or extension: where its keyword is, its
    /// directives, and its root operation types added to `roots`.
    fn schema_node(
        &self,
        n: &SyntaxNode,
        roots: &mut [Option<String>; 3],
    ) -> Result<(usize, Vec<Usage>), ParseError> {
        let (mut description, mut directives) = (None, Vec::new());
        for c in n.children() {
            match c.kind() {
                SyntaxKind::DESCRIPTION => description = Some(c),
                SyntaxKind::DIRECTIVES => directives = self.usages(&c)?,
                SyntaxKind::ROOT_OPERATION_TYPE_DEFINITION => {
                    let (mut op, mut ty) = (None, None);
                    for x in c.children() {
                        match x.kind() {
                            SyntaxKind::OPERATION_TYPE => {
                                op = OPERATIONS.iter().position(|o| *o == self.slice(&x));
                            }
                            SyntaxKind::NAMED_TYPE => ty = Some(self.name(&x)?),
                            _ => {}
                        }
                    }
                    let (Some(i), Some(ty)) = (op, ty) else {
                        return Err(self.missing(&c, "a root operation type"));
                    };
                    if roots[i].is_some() {
                        return Err(self.error(
                            start(&c),
                            format!("the `{}` root type is given twice", OPERATIONS[i]),
                        ));
                    }
                    roots[i] = Some(ty);
                }
                _ => {}
            }
        }
        Ok((self.keyword(n, description.as_ref()), directives))
    }

    /// A directive definition, and where its keyword starts.
    fn directive_definition(&self, n: &SyntaxNode) -> Result<(usize, DirectiveDef), ParseError> {
        let (mut name, mut description, mut description_node) = (None, None, None);
        let (mut args, mut locations) = (None, Vec::new());
        for c in n.children() {
            match c.kind() {
                SyntaxKind::DESCRIPTION => {
                    description = self.description(&c);
                    description_node = Some(c);
                }
                SyntaxKind::NAME => name = Some(self.name(&c)?),
                SyntaxKind::ARGUMENTS_DEFINITION => args = Some(c),
                SyntaxKind::DIRECTIVE_LOCATIONS => {
                    for l in c.children() {
                        if l.kind() != SyntaxKind::DIRECTIVE_LOCATION {
                            continue;
                        }
                        match LOCATIONS.iter().find(|x| **x == self.slice(&l)) {
                            Some(x) => locations.push(*x),
                            None => return Err(self.missing(&l, "a directive location")),
                        }
                    }
                }
                _ => {}
            }
        }
        let name = name.ok_or_else(|| self.missing(n, "a name"))?;
        let repeatable = cst::DirectiveDefinition::cast(n.clone())
            .is_some_and(|d| d.repeatable_token().is_some());
        let at = self.keyword(n, description_node.as_ref());
        let d = DirectiveDef {
            line: self.line(at),
            description,
            args: self.args(&format!("@{name}"), args.as_ref())?,
            repeatable,
            locations,
            name,
        };
        Ok((at, d))
    }

    fn build(&self, doc: &SyntaxNode) -> Result<Schema, ParseError> {
        let mut s = Schema::default();
        let mut explicit: Option<[Option<String>; 3]> = None;
        let mut extensions = Vec::new();
        let mut schema_extensions = Vec::new();
        for d in doc.children() {
            match d.kind() {
                SyntaxKind::SCHEMA_DEFINITION => {
                    let mut roots = [None, None, None];
                    let (at, directives) = self.schema_node(&d, &mut roots)?;
                    if explicit.is_some() {
                        return Err(self.error(at, "the schema is defined twice".to_string()));
                    }
                    explicit = Some(roots);
                    s.schema_line = self.line(at);
                    s.schema_directives = directives;
                }
                SyntaxKind::SCHEMA_EXTENSION => schema_extensions.push(d),
                SyntaxKind::DIRECTIVE_DEFINITION => {
                    let (at, x) = self.directive_definition(&d)?;
                    if s.directive_named(&x.name).is_some() {
                        return Err(
                            self.error(at, format!("directive `@{}` is defined twice", x.name))
                        );
                    }
                    s.directives.push(x);
                }
                SyntaxKind::OPERATION_DEFINITION | SyntaxKind::FRAGMENT_DEFINITION => {
                    return Err(self.error(
                        start(&d),
                        "invalid GraphQL SDL: a schema cannot hold operations or fragments"
                            .to_string(),
                    ));
                }
                k => {
                    let Some((kind, extension)) = type_node(k) else {
                        continue;
                    };
                    let p = self.parts(&d, kind)?;
                    if extension {
                        extensions.push(p);
                        continue;
                    }
                    if s.type_named(&p.name).is_some() {
                        return Err(self.error(p.at, format!("type `{}` is defined twice", p.name)));
                    }
                    let mut td = self.empty_type(&p);
                    self.merge(&mut td, &p)?;
                    s.add_type(td);
                }
            }
        }
        // Extensions apply once every definition is known (an extension may
        // come first in the file); an extension of an undefined type defines it.
        for p in &extensions {
            match s.index.get(&p.name).and_then(|&i| s.types.get_mut(i)) {
                Some(t) => self.merge(t, p)?,
                None => {
                    let mut td = self.empty_type(p);
                    self.merge(&mut td, p)?;
                    s.add_type(td);
                }
            }
        }
        s.types.sort_by_key(|t| t.line);
        s.index = s
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        // Without a `schema` definition the roots are the types named
        // Query, Mutation and Subscription; `extend schema` adds roots.
        let mut given = explicit.clone().unwrap_or_default();
        s.roots = match explicit {
            Some(r) => r,
            None => {
                let default = |n: &str| s.type_named(n).map(|t| t.name.clone());
                [
                    default("Query"),
                    default("Mutation"),
                    default("Subscription"),
                ]
            }
        };
        for se in &schema_extensions {
            let before = given.clone();
            let (at, directives) = self.schema_node(se, &mut given)?;
            if s.schema_line == 0 {
                s.schema_line = self.line(at);
            }
            s.schema_directives.extend(directives);
            for (i, root) in s.roots.iter_mut().enumerate() {
                if given[i] != before[i] {
                    root.clone_from(&given[i]);
                }
            }
        }
        Ok(s)
    }
}

// ---- the token reader --------------------------------------------------------

/// A significant token: its kind, text and byte offset.
#[derive(Clone, Copy)]
struct Tok<'t> {
    kind: TokenKind,
    data: &'t str,
    at: usize,
}

/// The parts of a type definition or extension read from tokens.
struct TokParts {
    at: usize,
    name: String,
    kind: Kind,
    description: Option<String>,
    directives: Vec<Usage>,
    names: Vec<String>,
    fields: Vec<FieldDef>,
    inputs: Vec<InputDef>,
    values: Vec<EnumValueDef>,
}

/// A schema definition or extension read from tokens.
struct TokSchema {
    at: usize,
    directives: Vec<Usage>,
    roots: Vec<(usize, String)>,
}

/// Deepest nesting of types and values the token reader follows.
const MAX_DEPTH: usize = 64;

/// A recursive-descent reader of SDL from `apollo_parser::Lexer` tokens,
/// building the same `Schema` as the tree. It gives up (`None`) on anything
/// unexpected, invalid or unusual: the tree path then reads the text and
/// tells the error.
struct Reader<'s, 't> {
    src: &'s Source<'t>,
    lexer: Lexer<'t>,
    /// The next significant token; `None` at the end or after an error.
    cur: Option<Tok<'t>>,
    /// Whether the lexer told an error.
    failed: bool,
    depth: usize,
}

/// The schema of a text read from its tokens, or `None` for the tree path.
fn read_tokens(text: &str) -> Option<Schema> {
    let src = Source::new(text);
    let mut r = Reader {
        src: &src,
        lexer: Lexer::new(text),
        cur: None,
        failed: false,
        depth: 0,
    };
    r.bump();
    let s = r.document()?;
    (!r.failed).then_some(s)
}

impl<'t> Reader<'_, 't> {
    /// Moves to the next significant token.
    fn bump(&mut self) {
        self.cur = None;
        for t in self.lexer.by_ref() {
            let Ok(t) = t else {
                self.failed = true;
                return;
            };
            match t.kind() {
                TokenKind::Whitespace | TokenKind::Comment => {}
                TokenKind::Eof => return,
                kind => {
                    self.cur = Some(Tok {
                        kind,
                        data: t.data(),
                        at: t.index(),
                    });
                    return;
                }
            }
        }
    }

    fn peek(&self) -> Option<Tok<'t>> {
        self.cur
    }

    fn is(&self, kind: TokenKind) -> bool {
        self.peek().is_some_and(|t| t.kind == kind)
    }

    fn is_word(&self, word: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Name && t.data == word)
    }

    fn eat(&mut self, kind: TokenKind) -> Option<Tok<'t>> {
        let t = self.peek().filter(|t| t.kind == kind)?;
        self.bump();
        Some(t)
    }

    fn name(&mut self) -> Option<String> {
        self.eat(TokenKind::Name).map(|t| t.data.to_string())
    }

    fn skip_commas(&mut self) {
        while self.eat(TokenKind::Comma).is_some() {}
    }

    fn line(&self, at: usize) -> u32 {
        self.src.line(at)
    }

    fn description(&mut self) -> Option<String> {
        self.eat(TokenKind::StringValue)
            .map(|t| string_value(t.data))
    }

    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn ty(&mut self) -> Option<Ty> {
        self.deeper()?;
        let t = if self.eat(TokenKind::LBracket).is_some() {
            let inner = self.ty()?;
            self.eat(TokenKind::RBracket)?;
            Ty::List(Box::new(inner))
        } else {
            Ty::Named(self.name()?)
        };
        self.depth -= 1;
        if self.eat(TokenKind::Bang).is_some() {
            return Some(Ty::NonNull(Box::new(t)));
        }
        Some(t)
    }

    fn value(&mut self) -> Option<GqlValue> {
        self.deeper()?;
        let t = self.peek()?;
        self.bump();
        let v = match t.kind {
            TokenKind::Int => GqlValue::Int(match t.data {
                "-0" => "0".to_string(),
                s => s.to_string(),
            }),
            TokenKind::Float => GqlValue::Float(t.data.parse::<f64>().ok()?),
            TokenKind::StringValue => GqlValue::String(string_value(t.data)),
            TokenKind::Name => match t.data {
                "true" => GqlValue::Boolean(true),
                "false" => GqlValue::Boolean(false),
                "null" => GqlValue::Null,
                s => GqlValue::Enum(s.to_string()),
            },
            TokenKind::LBracket => {
                let mut items = Vec::new();
                loop {
                    self.skip_commas();
                    if self.eat(TokenKind::RBracket).is_some() {
                        break;
                    }
                    items.push(self.value()?);
                }
                GqlValue::List(items)
            }
            TokenKind::LCurly => {
                let mut fields = BTreeMap::new();
                loop {
                    self.skip_commas();
                    if self.eat(TokenKind::RCurly).is_some() {
                        break;
                    }
                    let k = self.name()?;
                    self.eat(TokenKind::Colon)?;
                    let v = self.value()?;
                    fields.insert(k, v);
                }
                GqlValue::Object(fields)
            }
            _ => return None,
        };
        self.depth -= 1;
        Some(v)
    }

    /// Directives applied (`@a @b(x: 1)`), none when there are none.
    fn usages(&mut self) -> Option<Vec<Usage>> {
        let mut out = Vec::new();
        while let Some(at) = self.eat(TokenKind::At) {
            let name = self.name()?;
            let mut args = Vec::new();
            if self.eat(TokenKind::LParen).is_some() {
                loop {
                    self.skip_commas();
                    if self.eat(TokenKind::RParen).is_some() {
                        break;
                    }
                    let k = self.name()?;
                    self.eat(TokenKind::Colon)?;
                    args.push((k, self.value()?));
                }
                if args.is_empty() {
                    return None;
                }
            }
            out.push(Usage {
                name,
                line: self.line(at.at),
                args,
            });
        }
        Some(out)
    }

    fn input(&mut self) -> Option<InputDef> {
        let at = self.peek()?.at;
        let description = self.description();
        let name = self.name()?;
        self.eat(TokenKind::Colon)?;
        let ty = self.ty()?;
        let default = match self.eat(TokenKind::Eq) {
            Some(_) => Some(self.value()?),
            None => None,
        };
        Some(InputDef {
            name,
            line: self.line(at),
            description,
            ty,
            default,
            directives: self.usages()?,
        })
    }

    /// Input values between `open` and `close`: arguments or input fields.
    fn inputs(&mut self, open: TokenKind, close: TokenKind) -> Option<Vec<InputDef>> {
        self.eat(open)?;
        let mut out: Vec<InputDef> = Vec::new();
        loop {
            self.skip_commas();
            if self.eat(close).is_some() {
                break;
            }
            let x = self.input()?;
            if out.iter().any(|y| y.name == x.name) {
                return None;
            }
            out.push(x);
        }
        (!out.is_empty()).then_some(out)
    }

    fn opt_args(&mut self) -> Option<Vec<InputDef>> {
        if self.is(TokenKind::LParen) {
            self.inputs(TokenKind::LParen, TokenKind::RParen)
        } else {
            Some(Vec::new())
        }
    }

    fn field(&mut self) -> Option<FieldDef> {
        let at = self.peek()?.at;
        let description = self.description();
        let name = self.name()?;
        let args = self.opt_args()?;
        self.eat(TokenKind::Colon)?;
        let ty = self.ty()?;
        Some(FieldDef {
            name,
            line: self.line(at),
            description,
            ty,
            args,
            directives: self.usages()?,
        })
    }

    fn enum_value(&mut self) -> Option<EnumValueDef> {
        let at = self.peek()?.at;
        let description = self.description();
        let name = self.name()?;
        if matches!(name.as_str(), "true" | "false" | "null") {
            return None;
        }
        Some(EnumValueDef {
            name,
            line: self.line(at),
            description,
            directives: self.usages()?,
        })
    }

    /// `Name & Name...` (implements) or `Name | Name...` (union members),
    /// with an optional leading separator.
    fn names(&mut self, sep: TokenKind) -> Option<Vec<String>> {
        self.eat(sep);
        let mut out = vec![self.name()?];
        while self.eat(sep).is_some() {
            out.push(self.name()?);
        }
        Some(out)
    }

    /// A braced list of at least one element.
    fn braced<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.eat(TokenKind::LCurly)?;
        let mut out = Vec::new();
        loop {
            self.skip_commas();
            if self.eat(TokenKind::RCurly).is_some() {
                break;
            }
            out.push(item(self)?);
        }
        (!out.is_empty()).then_some(out)
    }

    fn type_parts(&mut self, at: usize, kind: Kind, extension: bool) -> Option<TokParts> {
        let name = self.name()?;
        let mut p = TokParts {
            at,
            name,
            kind,
            description: None,
            directives: Vec::new(),
            names: Vec::new(),
            fields: Vec::new(),
            inputs: Vec::new(),
            values: Vec::new(),
        };
        if matches!(kind, Kind::Object | Kind::Interface) && self.is_word("implements") {
            self.bump();
            p.names = self.names(TokenKind::Amp)?;
        }
        p.directives = self.usages()?;
        let mut body = false;
        match kind {
            Kind::Object | Kind::Interface if self.is(TokenKind::LCurly) => {
                p.fields = self.braced(Self::field)?;
                body = true;
            }
            Kind::Input if self.is(TokenKind::LCurly) => {
                p.inputs = self.inputs(TokenKind::LCurly, TokenKind::RCurly)?;
                body = true;
            }
            Kind::Enum if self.is(TokenKind::LCurly) => {
                p.values = self.braced(Self::enum_value)?;
                body = true;
            }
            Kind::Union if self.eat(TokenKind::Eq).is_some() => {
                p.names = self.names(TokenKind::Pipe)?;
                body = true;
            }
            _ => {}
        }
        if extension && !body && p.directives.is_empty() && p.names.is_empty() {
            return None;
        }
        Some(p)
    }

    fn schema(&mut self, at: usize, extension: bool) -> Option<TokSchema> {
        let directives = self.usages()?;
        let mut roots = Vec::new();
        if self.is(TokenKind::LCurly) {
            roots = self.braced(|r| {
                let op = r.eat(TokenKind::Name)?;
                let i = OPERATIONS.iter().position(|o| *o == op.data)?;
                r.eat(TokenKind::Colon)?;
                Some((i, r.name()?))
            })?;
        } else if !extension || directives.is_empty() {
            return None;
        }
        Some(TokSchema {
            at,
            directives,
            roots,
        })
    }

    fn directive_definition(
        &mut self,
        at: usize,
        description: Option<String>,
    ) -> Option<DirectiveDef> {
        self.eat(TokenKind::At)?;
        let name = self.name()?;
        let args = self.opt_args()?;
        let repeatable = self.is_word("repeatable");
        if repeatable {
            self.bump();
        }
        if !self.is_word("on") {
            return None;
        }
        self.bump();
        let mut locations = Vec::new();
        for l in self.names(TokenKind::Pipe)? {
            locations.push(*LOCATIONS.iter().find(|x| **x == l)?);
        }
        Some(DirectiveDef {
            name,
            line: self.line(at),
            description,
            args,
            repeatable,
            locations,
        })
    }

    fn merge(t: &mut TypeDef, p: TokParts) -> Option<()> {
        if t.kind != p.kind {
            return None;
        }
        if p.description.is_some() {
            t.description = p.description;
        }
        t.directives.extend(p.directives);
        let names = if p.kind == Kind::Union {
            &mut t.members
        } else {
            &mut t.interfaces
        };
        for n in p.names {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for x in p.fields {
            if t.fields.iter().any(|y| y.name == x.name) {
                return None;
            }
            t.fields.push(x);
        }
        for x in p.inputs {
            if t.inputs.iter().any(|y| y.name == x.name) {
                return None;
            }
            t.inputs.push(x);
        }
        for x in p.values {
            if t.values.iter().any(|y| y.name == x.name) {
                return None;
            }
            t.values.push(x);
        }
        Some(())
    }

    fn empty_type(&self, p: &TokParts) -> TypeDef {
        TypeDef {
            name: p.name.clone(),
            kind: p.kind,
            line: self.line(p.at),
            description: None,
            directives: Vec::new(),
            interfaces: Vec::new(),
            members: Vec::new(),
            fields: Vec::new(),
            inputs: Vec::new(),
            values: Vec::new(),
        }
    }

    fn document(&mut self) -> Option<Schema> {
        let mut s = Schema::default();
        let mut explicit: Option<[Option<String>; 3]> = None;
        let mut extensions = Vec::new();
        let mut schema_extensions = Vec::new();
        while self.cur.is_some() {
            let description = self.description();
            let mut keyword = self.eat(TokenKind::Name)?;
            let extension = keyword.data == "extend";
            if extension {
                if description.is_some() {
                    return None;
                }
                keyword = self.eat(TokenKind::Name)?;
            }
            let at = keyword.at;
            let kind = match keyword.data {
                "schema" => {
                    let x = self.schema(at, extension)?;
                    if extension {
                        schema_extensions.push(x);
                        continue;
                    }
                    if explicit.is_some() {
                        return None;
                    }
                    let mut roots = [None, None, None];
                    for (i, ty) in x.roots {
                        if roots[i].is_some() {
                            return None;
                        }
                        roots[i] = Some(ty);
                    }
                    explicit = Some(roots);
                    s.schema_line = self.line(at);
                    s.schema_directives = x.directives;
                    continue;
                }
                "directive" if !extension => {
                    let x = self.directive_definition(at, description)?;
                    if s.directive_named(&x.name).is_some() {
                        return None;
                    }
                    s.directives.push(x);
                    continue;
                }
                "scalar" => Kind::Scalar,
                "type" => Kind::Object,
                "interface" => Kind::Interface,
                "union" => Kind::Union,
                "enum" => Kind::Enum,
                "input" => Kind::Input,
                _ => return None,
            };
            let mut p = self.type_parts(at, kind, extension)?;
            if kind == Kind::Scalar && extension && p.directives.is_empty() {
                return None;
            }
            p.description = description;
            if extension {
                extensions.push(p);
                continue;
            }
            if s.type_named(&p.name).is_some() {
                return None;
            }
            let mut td = self.empty_type(&p);
            Self::merge(&mut td, p)?;
            s.add_type(td);
        }
        for p in extensions {
            match s.index.get(&p.name).and_then(|&i| s.types.get_mut(i)) {
                Some(t) => Self::merge(t, p)?,
                None => {
                    let mut td = self.empty_type(&p);
                    Self::merge(&mut td, p)?;
                    s.add_type(td);
                }
            }
        }
        s.types.sort_by_key(|t| t.line);
        s.index = s
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let mut given = explicit.clone().unwrap_or_default();
        s.roots = match explicit {
            Some(r) => r,
            None => {
                let default = |n: &str| s.type_named(n).map(|t| t.name.clone());
                [
                    default("Query"),
                    default("Mutation"),
                    default("Subscription"),
                ]
            }
        };
        for se in schema_extensions {
            let before = given.clone();
            for (i, ty) in se.roots {
                if given[i].is_some() {
                    return None;
                }
                given[i] = Some(ty);
            }
            if s.schema_line == 0 {
                s.schema_line = self.line(se.at);
            }
            s.schema_directives.extend(se.directives);
            for (i, root) in s.roots.iter_mut().enumerate() {
                if given[i] != before[i] {
                    root.clone_from(&given[i]);
                }
            }
        }
        Some(s)
    }
}

// ---- diff --------------------------------------------------------------------

/// Diffs two SDL documents.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    // Big schemas: base and head are parsed on two threads at once.
    let (ra, rb) = super::both(a, b, parse);
    let sa = ra.map_err(ArtifactError::base)?;
    let sb = rb.map_err(ArtifactError::head)?;
    diff_schemas(&sa, &sb, out);
    if a.len() + b.len() > super::PARALLEL_FROM {
        drop_in_background((sa, sb));
    }
    Ok(())
}

/// A top-level definition: a type or a directive.
enum Item<'s> {
    Type(&'s TypeDef),
    Directive(&'s DirectiveDef),
}

fn items(s: &Schema) -> Vec<(u32, Item<'_>)> {
    let mut v: Vec<(u32, Item<'_>)> = s.types.iter().map(|t| (t.line, Item::Type(t))).collect();
    v.extend(s.directives.iter().map(|d| (d.line, Item::Directive(d))));
    v.sort_by_key(|(l, _)| *l);
    v
}

fn diff_schemas(a: &Schema, b: &Schema, out: &mut Changes) {
    diff_roots(a, b, out);
    diff_usages(
        "schema",
        &a.schema_directives,
        &b.schema_directives,
        a.schema_line,
        b.schema_line,
        out,
    );
    for (_, item) in items(a) {
        match item {
            Item::Type(ta) => match b.type_named(&ta.name) {
                Some(tb) => diff_type(ta, tb, out),
                None => {
                    let mut c = Change::new("type.removed", ta.name.as_str())
                        .lines(ta.line, 0)
                        .fact("name", ta.name.as_str())
                        .fact("type_kind", ta.kind.as_str());
                    if let Some(op) = a.root_of(&ta.name) {
                        c = c.fact("root", op);
                    }
                    out.push(c);
                }
            },
            Item::Directive(da) => match b.directive_named(&da.name) {
                Some(db) => diff_directive(da, db, out),
                None => out.push(
                    Change::new("directive.removed", format!("@{}", da.name))
                        .lines(da.line, 0)
                        .fact("name", da.name.as_str())
                        .fact("locations", da.locations.clone()),
                ),
            },
        }
    }
    for (_, item) in items(b) {
        match item {
            Item::Type(tb) if a.type_named(&tb.name).is_none() => {
                let mut c = Change::new("type.added", tb.name.as_str())
                    .lines(0, tb.line)
                    .fact("name", tb.name.as_str())
                    .fact("type_kind", tb.kind.as_str());
                if let Some(op) = b.root_of(&tb.name) {
                    c = c.fact("root", op);
                }
                out.push(c);
            }
            Item::Directive(db) if a.directive_named(&db.name).is_none() => out.push(
                Change::new("directive.added", format!("@{}", db.name))
                    .lines(0, db.line)
                    .fact("name", db.name.as_str())
                    .fact("locations", db.locations.clone()),
            ),
            _ => {}
        }
    }
}

fn diff_roots(a: &Schema, b: &Schema, out: &mut Changes) {
    for (i, op) in OPERATIONS.iter().enumerate() {
        let (ra, rb) = (&a.roots[i], &b.roots[i]);
        if ra == rb {
            continue;
        }
        // A root that comes or goes with its type is told by the type fact.
        let folded = match (ra, rb) {
            (None, Some(n)) => a.type_named(n).is_none(),
            (Some(n), None) => b.type_named(n).is_none(),
            _ => false,
        };
        if folded {
            continue;
        }
        out.push(
            Change::new("schema.root_changed", format!("schema.{op}"))
                .lines(a.schema_line, b.schema_line)
                .from_to(opt_json(ra), opt_json(rb))
                .fact("operation", *op),
        );
    }
}

fn opt_json(s: &Option<String>) -> Json {
    s.as_ref()
        .map(|s| Json::String(s.clone()))
        .unwrap_or(Json::Null)
}

fn render_value(v: &GqlValue) -> String {
    // Block strings are laid out over several lines.
    v.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_json(v: &Option<GqlValue>) -> Json {
    v.as_ref()
        .map(|v| Json::String(render_value(v)))
        .unwrap_or(Json::Null)
}

fn diff_description(
    path: &str,
    a: &Option<String>,
    b: &Option<String>,
    la: u32,
    lb: u32,
    out: &mut Changes,
) {
    if a != b {
        out.push(
            Change::new("description.changed", path)
                .lines(la, lb)
                .from_to(opt_json(a), opt_json(b)),
        );
    }
}

/// `Some(reason)` when `@deprecated` is applied.
fn deprecation(ds: &[Usage]) -> Option<String> {
    ds.iter().find(|d| d.name == "deprecated").map(|d| {
        d.args
            .iter()
            .find(|(k, _)| k == "reason")
            .and_then(|(_, v)| match v {
                GqlValue::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "No longer supported".to_string())
    })
}

/// Deprecation changes of an element; `noun` is `field.`, `argument.` or
/// `enum.value_`.
#[allow(clippy::too_many_arguments)]
fn diff_deprecation(
    noun: &str,
    path: &str,
    dir: Option<Direction>,
    a: &[Usage],
    b: &[Usage],
    la: u32,
    lb: u32,
    out: &mut Changes,
) {
    match (deprecation(a), deprecation(b)) {
        (None, Some(r)) => out.push(
            Change::new(&format!("{noun}deprecated"), path)
                .dir(dir)
                .lines(la, lb)
                .fact("reason", r),
        ),
        (Some(r), None) => out.push(
            Change::new(&format!("{noun}undeprecated"), path)
                .dir(dir)
                .lines(la, lb)
                .fact("reason", r),
        ),
        (Some(ra), Some(rb)) if ra != rb => out.push(
            Change::new("deprecation.reason_changed", path)
                .dir(dir)
                .lines(la, lb)
                .from_to(ra, rb),
        ),
        _ => {}
    }
}

/// Directive usages other than `@deprecated` (told by the deprecation
/// facts) on the element at `path`.
fn diff_usages(path: &str, a: &[Usage], b: &[Usage], la: u32, lb: u32, out: &mut Changes) {
    fn names(s: &[Usage]) -> Vec<&str> {
        let mut seen = Vec::new();
        for u in s {
            if u.name != "deprecated" && !seen.contains(&u.name.as_str()) {
                seen.push(u.name.as_str());
            }
        }
        seen
    }
    fn of<'u>(s: &'u [Usage], n: &str) -> Vec<&'u Usage> {
        s.iter().filter(|u| u.name == n).collect()
    }
    let (na, nb) = (names(a), names(b));
    for n in &na {
        let (ua, ub) = (of(a, n), of(b, n));
        if let ([x], [y]) = (ua.as_slice(), ub.as_slice()) {
            if !x.same_args(y) {
                out.push(
                    Change::new("directive.usage_changed", path)
                        .lines(x.line, y.line)
                        .from_to(x.render(), y.render())
                        .fact("name", *n),
                );
            }
            continue;
        }
        // Repeated directives: a multiset of argument sets.
        let mut left: Vec<Option<&Usage>> = ub.iter().copied().map(Some).collect();
        for x in &ua {
            match left.iter().position(|y| y.is_some_and(|y| x.same_args(y))) {
                Some(j) => left[j] = None,
                None => out.push(
                    Change::new("directive.usage_removed", path)
                        .lines(x.line, lb)
                        .fact("name", *n)
                        .fact("usage", x.render()),
                ),
            }
        }
        for y in left.into_iter().flatten() {
            out.push(
                Change::new("directive.usage_added", path)
                    .lines(la, y.line)
                    .fact("name", *n)
                    .fact("usage", y.render()),
            );
        }
    }
    for n in nb.iter().filter(|n| !na.contains(n)) {
        for y in of(b, n) {
            out.push(
                Change::new("directive.usage_added", path)
                    .lines(la, y.line)
                    .fact("name", *n)
                    .fact("usage", y.render()),
            );
        }
    }
}

/// `field.type_changed` / `argument.type_changed` with its nullability facts.
fn type_change(kind: &str, path: &str, dir: Direction, a: &Ty, b: &Ty, la: u32, lb: u32) -> Change {
    let nullability_only = a.nullable_shape() == b.nullable_shape();
    let (mut added, mut removed) = (false, false);
    if nullability_only {
        nullability_moves(a, b, &mut added, &mut removed);
    }
    Change::new(kind, path)
        .dir(Some(dir))
        .lines(la, lb)
        .from_to(a.to_string(), b.to_string())
        .fact("nullability_only", nullability_only)
        .fact("became_non_null", nullability_only && added && !removed)
        .fact("became_nullable", nullability_only && removed && !added)
}

fn diff_type(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
    let path = a.name.as_str();
    if a.kind != b.kind {
        out.push(
            Change::new("type.kind_changed", path)
                .lines(a.line, b.line)
                .from_to(a.kind.as_str(), b.kind.as_str())
                .fact("name", path),
        );
        return;
    }
    diff_description(path, &a.description, &b.description, a.line, b.line, out);
    diff_usages(path, &a.directives, &b.directives, a.line, b.line, out);
    let names = |kind: &str, xs: &[String], ys: &[String], out: &mut Changes| {
        for x in xs.iter().filter(|x| !ys.contains(x)) {
            out.push(
                Change::new(&format!("{kind}removed"), path)
                    .lines(a.line, b.line)
                    .fact("name", x.as_str()),
            );
        }
        for y in ys.iter().filter(|y| !xs.contains(y)) {
            out.push(
                Change::new(&format!("{kind}added"), path)
                    .lines(a.line, b.line)
                    .fact("name", y.as_str()),
            );
        }
    };
    match a.kind {
        Kind::Object | Kind::Interface => {
            names("interface.", &a.interfaces, &b.interfaces, out);
            diff_fields(a, b, out);
        }
        Kind::Union => names("union.member_", &a.members, &b.members, out),
        Kind::Enum => diff_enum(a, b, out),
        Kind::Input => diff_input_fields(a, b, out),
        Kind::Scalar => {}
    }
}

fn diff_enum(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
    for va in &a.values {
        let path = format!("{}.{}", a.name, va.name);
        match b.values.iter().find(|v| v.name == va.name) {
            Some(vb) => {
                diff_description(
                    &path,
                    &va.description,
                    &vb.description,
                    va.line,
                    vb.line,
                    out,
                );
                diff_deprecation(
                    "enum.value_",
                    &path,
                    None,
                    &va.directives,
                    &vb.directives,
                    va.line,
                    vb.line,
                    out,
                );
                diff_usages(&path, &va.directives, &vb.directives, va.line, vb.line, out);
            }
            None => out.push(
                Change::new("enum.value_removed", path.as_str())
                    .lines(va.line, b.line)
                    .fact("value", va.name.as_str())
                    .fact("deprecated", deprecation(&va.directives).is_some()),
            ),
        }
    }
    for vb in b
        .values
        .iter()
        .filter(|v| !a.values.iter().any(|x| x.name == v.name))
    {
        out.push(
            Change::new("enum.value_added", format!("{}.{}", a.name, vb.name))
                .lines(a.line, vb.line)
                .fact("value", vb.name.as_str()),
        );
    }
}

/// Pairs removed and added elements that look alike as renames: each pair
/// `(removed index, added index, confidence)`. A pair is certain (0.9)
/// when neither side has another candidate, else the most similar name
/// wins (0.6).
fn renames(
    removed: &[&str],
    added: &[&str],
    alike: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize, f64)> {
    let mut cands: Vec<(usize, usize, f64)> = Vec::new();
    for (i, r) in removed.iter().enumerate() {
        for (j, n) in added.iter().enumerate() {
            if alike(i, j) {
                cands.push((i, j, strsim::normalized_damerau_levenshtein(r, n)));
            }
        }
    }
    let count_r = |i: usize| cands.iter().filter(|c| c.0 == i).count();
    let count_a = |j: usize| cands.iter().filter(|c| c.1 == j).count();
    let mut order: Vec<usize> = (0..cands.len()).collect();
    // Most similar first; ties by source order, so the result is stable.
    order.sort_by(|&x, &y| {
        let (cx, cy) = (&cands[x], &cands[y]);
        cy.2.partial_cmp(&cx.2)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((cx.0, cx.1).cmp(&(cy.0, cy.1)))
    });
    let (mut used_r, mut used_a) = (HashSet::new(), HashSet::new());
    let mut pairs = Vec::new();
    for k in order {
        let (i, j, _) = cands[k];
        if used_r.contains(&i) || used_a.contains(&j) {
            continue;
        }
        used_r.insert(i);
        used_a.insert(j);
        let sure = count_r(i) == 1 && count_a(j) == 1;
        pairs.push((i, j, if sure { 0.9 } else { 0.6 }));
    }
    pairs
}

/// Arguments compared for renames: names, types and defaults.
fn signature(args: &[InputDef]) -> BTreeMap<&str, (String, Json)> {
    args.iter()
        .map(|x| {
            (
                x.name.as_str(),
                (x.ty.to_string(), default_json(&x.default)),
            )
        })
        .collect()
}

fn diff_fields(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
    let dir = Direction::Response;
    let removed: Vec<&FieldDef> = a
        .fields
        .iter()
        .filter(|f| !b.fields.iter().any(|x| x.name == f.name))
        .collect();
    let added: Vec<&FieldDef> = b
        .fields
        .iter()
        .filter(|f| !a.fields.iter().any(|x| x.name == f.name))
        .collect();
    let rn: Vec<&str> = removed.iter().map(|f| f.name.as_str()).collect();
    let an: Vec<&str> = added.iter().map(|f| f.name.as_str()).collect();
    let pairs = renames(&rn, &an, |i, j| {
        let (x, y) = (removed[i], added[j]);
        deprecation(&x.directives).is_none()
            && x.ty == y.ty
            && signature(&x.args) == signature(&y.args)
    });
    for fa in &a.fields {
        let path = format!("{}.{}", a.name, fa.name);
        if let Some(fb) = b.fields.iter().find(|x| x.name == fa.name) {
            diff_field(&path, fa, fb, out);
            continue;
        }
        let i = removed
            .iter()
            .position(|x| x.name == fa.name)
            .unwrap_or(usize::MAX);
        if let Some(&(_, j, conf)) = pairs.iter().find(|p| p.0 == i) {
            let fb = added[j];
            let to = format!("{}.{}", b.name, fb.name);
            out.push(
                Change::new("field.renamed", path.as_str())
                    .dir(Some(dir))
                    .lines(fa.line, fb.line)
                    .from_to(path.as_str(), to)
                    .fact("name", fb.name.as_str())
                    .fact("type", fa.ty.to_string())
                    .confidence(conf),
            );
            continue;
        }
        let mut c = Change::new("field.removed", path)
            .dir(Some(dir))
            .lines(fa.line, b.line)
            .fact("name", fa.name.as_str())
            .fact("type", fa.ty.to_string());
        c = with_deprecation(c, &fa.directives);
        out.push(c);
    }
    for (j, fb) in added.iter().enumerate() {
        if pairs.iter().any(|p| p.1 == j) {
            continue;
        }
        out.push(
            Change::new("field.added", format!("{}.{}", b.name, fb.name))
                .dir(Some(dir))
                .lines(a.line, fb.line)
                .fact("name", fb.name.as_str())
                .fact("type", fb.ty.to_string())
                .fact("non_null", fb.ty.non_null()),
        );
    }
}

fn with_deprecation(c: Change, ds: &[Usage]) -> Change {
    match deprecation(ds) {
        Some(r) => c.fact("deprecated", true).fact("deprecation_reason", r),
        None => c.fact("deprecated", false),
    }
}

fn diff_field(path: &str, a: &FieldDef, b: &FieldDef, out: &mut Changes) {
    let dir = Direction::Response;
    if a.ty != b.ty {
        out.push(type_change(
            "field.type_changed",
            path,
            dir,
            &a.ty,
            &b.ty,
            a.line,
            b.line,
        ));
    }
    diff_description(path, &a.description, &b.description, a.line, b.line, out);
    diff_deprecation(
        "field.",
        path,
        Some(dir),
        &a.directives,
        &b.directives,
        a.line,
        b.line,
        out,
    );
    diff_usages(path, &a.directives, &b.directives, a.line, b.line, out);
    diff_args(path, &a.args, &b.args, a.line, b.line, "argument.", out);
}

/// Arguments of a field (`prefix` `argument.`) or of a directive definition
/// (`directive.argument_` for additions and removals).
fn diff_args(
    owner: &str,
    a: &[InputDef],
    b: &[InputDef],
    la: u32,
    lb: u32,
    prefix: &str,
    out: &mut Changes,
) {
    let dir = Direction::Request;
    for xa in a {
        let path = format!("{owner}({})", xa.name);
        match b.iter().find(|x| x.name == xa.name) {
            Some(xb) => diff_input(&path, "argument", xa, xb, out),
            None => {
                let c = Change::new(&format!("{prefix}removed"), path)
                    .dir(Some(dir))
                    .lines(xa.line, lb)
                    .fact("name", xa.name.as_str())
                    .fact("type", xa.ty.to_string());
                out.push(with_deprecation(c, &xa.directives));
            }
        }
    }
    for xb in b.iter().filter(|x| !a.iter().any(|y| y.name == x.name)) {
        out.push(added_input(
            &format!("{prefix}added"),
            format!("{owner}({})", xb.name),
            xb,
            la,
        ));
    }
}

fn added_input(kind: &str, path: String, x: &InputDef, parent_line: u32) -> Change {
    let mut c = Change::new(kind, path)
        .dir(Some(Direction::Request))
        .lines(parent_line, x.line)
        .fact("name", x.name.as_str())
        .fact("type", x.ty.to_string())
        .fact("required", x.required())
        .fact("has_default", x.default.is_some());
    if let Some(d) = &x.default {
        c = c.fact("default", render_value(d));
    }
    c
}

/// An argument or input field present on both sides; `noun` is `argument`
/// or `field`.
fn diff_input(path: &str, noun: &str, a: &InputDef, b: &InputDef, out: &mut Changes) {
    let dir = Direction::Request;
    if a.ty != b.ty {
        out.push(
            type_change(
                &format!("{noun}.type_changed"),
                path,
                dir,
                &a.ty,
                &b.ty,
                a.line,
                b.line,
            )
            .fact("required", b.required()),
        );
    }
    if a.default != b.default {
        out.push(
            Change::new("default.changed", path)
                .dir(Some(dir))
                .lines(a.line, b.line)
                .from_to(default_json(&a.default), default_json(&b.default)),
        );
    }
    diff_description(path, &a.description, &b.description, a.line, b.line, out);
    diff_deprecation(
        &format!("{noun}."),
        path,
        Some(dir),
        &a.directives,
        &b.directives,
        a.line,
        b.line,
        out,
    );
    diff_usages(path, &a.directives, &b.directives, a.line, b.line, out);
}

fn diff_input_fields(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
    let dir = Direction::Request;
    let removed: Vec<&InputDef> = a
        .inputs
        .iter()
        .filter(|f| !b.inputs.iter().any(|x| x.name == f.name))
        .collect();
    let added: Vec<&InputDef> = b
        .inputs
        .iter()
        .filter(|f| !a.inputs.iter().any(|x| x.name == f.name))
        .collect();
    let rn: Vec<&str> = removed.iter().map(|f| f.name.as_str()).collect();
    let an: Vec<&str> = added.iter().map(|f| f.name.as_str()).collect();
    let pairs = renames(&rn, &an, |i, j| {
        let (x, y) = (removed[i], added[j]);
        deprecation(&x.directives).is_none() && x.ty == y.ty && x.default == y.default
    });
    for fa in &a.inputs {
        let path = format!("{}.{}", a.name, fa.name);
        if let Some(fb) = b.inputs.iter().find(|x| x.name == fa.name) {
            diff_input(&path, "field", fa, fb, out);
            continue;
        }
        let i = removed
            .iter()
            .position(|x| x.name == fa.name)
            .unwrap_or(usize::MAX);
        if let Some(&(_, j, conf)) = pairs.iter().find(|p| p.0 == i) {
            let fb = added[j];
            out.push(
                Change::new("field.renamed", path.as_str())
                    .dir(Some(dir))
                    .lines(fa.line, fb.line)
                    .from_to(path.as_str(), format!("{}.{}", b.name, fb.name))
                    .fact("name", fb.name.as_str())
                    .fact("type", fa.ty.to_string())
                    .fact("required", fb.required())
                    .confidence(conf),
            );
            continue;
        }
        let c = Change::new("field.removed", path)
            .dir(Some(dir))
            .lines(fa.line, b.line)
            .fact("name", fa.name.as_str())
            .fact("type", fa.ty.to_string())
            .fact("required", fa.required());
        out.push(with_deprecation(c, &fa.directives));
    }
    for (j, fb) in added.iter().enumerate() {
        if !pairs.iter().any(|p| p.1 == j) {
            out.push(added_input(
                "field.added",
                format!("{}.{}", b.name, fb.name),
                fb,
                a.line,
            ));
        }
    }
}

fn diff_directive(a: &DirectiveDef, b: &DirectiveDef, out: &mut Changes) {
    let path = format!("@{}", a.name);
    diff_description(&path, &a.description, &b.description, a.line, b.line, out);
    if a.repeatable != b.repeatable {
        out.push(
            Change::new("directive.repeatable_changed", path.as_str())
                .lines(a.line, b.line)
                .from_to(a.repeatable, b.repeatable),
        );
    }
    for l in a.locations.iter().filter(|l| !b.locations.contains(l)) {
        out.push(
            Change::new("directive.location_removed", path.as_str())
                .lines(a.line, b.line)
                .fact("location", *l),
        );
    }
    for l in b.locations.iter().filter(|l| !a.locations.contains(l)) {
        out.push(
            Change::new("directive.location_added", path.as_str())
                .lines(a.line, b.line)
                .fact("location", *l),
        );
    }
    diff_args(
        &path,
        &a.args,
        &b.args,
        a.line,
        b.line,
        "directive.argument_",
        out,
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn run(a: &str, b: &str) -> Vec<Change> {
        let mut out = Changes::default();
        diff(a, b, &Options::default(), &mut out).unwrap();
        out.0
    }

    fn one(a: &str, b: &str) -> Change {
        let v = run(a, b);
        assert_eq!(v.len(), 1, "expected one change, got {v:#?}");
        v.into_iter().next().unwrap()
    }

    fn kinds(v: &[Change]) -> Vec<&str> {
        v.iter().map(|c| c.kind.as_str()).collect()
    }

    fn fact<'c>(c: &'c Change, k: &str) -> &'c Json {
        c.facts.get(k).unwrap_or(&Json::Null)
    }

    const BASE: &str = r#"
type Query {
  order(id: ID!): Order
  orders(limit: Int = 10): [Order!]!
}

type Order {
  id: ID!
  total: Float
  status: Status!
}

enum Status { OPEN CLOSED }
"#;

    #[test]
    fn comments_whitespace_and_reordering_are_not_changes() {
        let b = r#"# the API
enum Status {
  CLOSED # done
  OPEN
}

type Order { status: Status!, total: Float
  id: ID! }
type Query {
  orders(limit: Int = 10): [Order!]!   # list
  order(id: ID!): Order
}
"#;
        assert!(run(BASE, b).is_empty(), "{:#?}", run(BASE, b));
        // A field moved into an extension is not a change either.
        let c = "type Query { order(id: ID!): Order }\ntype Order { id: ID! status: Status! }\nenum Status { OPEN CLOSED }\nextend type Query { orders(limit: Int = 10): [Order!]! }\nextend type Order { total: Float }\n";
        assert!(run(BASE, c).is_empty(), "{:#?}", run(BASE, c));
        // Block and plain strings with the same text are the same description.
        let d1 = "\"\"\"\n  Money.\n\"\"\"\nscalar Money\n";
        let d2 = "\"Money.\"\nscalar Money\n";
        assert!(run(d1, d2).is_empty());
    }

    #[test]
    fn type_removed_and_added_fold_their_children() {
        let b = BASE.replace(
            "enum Status { OPEN CLOSED }",
            "type Status { code: Int name: String }\ntype Extra { a: Int b: Int }",
        );
        let v = run(BASE, &b);
        assert_eq!(kinds(&v), ["type.kind_changed", "type.added"]);
        assert_eq!(v[0].path, "Status");
        assert_eq!(
            (v[0].from.clone(), v[0].to.clone()),
            (Json::from("enum"), Json::from("object"))
        );
        assert_eq!(v[1].path, "Extra");
        assert_eq!(fact(&v[1], "type_kind"), "object");
        assert_eq!(v[1].line_after, Some(14));

        let b = BASE.replace(
            "type Order {\n  id: ID!\n  total: Float\n  status: Status!\n}",
            "",
        );
        let c = run(BASE, &b);
        assert_eq!(kinds(&c), ["type.removed"]);
        assert_eq!(c[0].path, "Order");
        assert_eq!(c[0].line_before, Some(7));
    }

    #[test]
    fn field_removed_and_added_with_direction() {
        let b = BASE.replace("  total: Float\n", "").replace(
            "  status: Status!\n",
            "  status: Status!\n  currency: String!\n",
        );
        let v = run(BASE, &b);
        assert_eq!(kinds(&v), ["field.removed", "field.added"]);
        assert_eq!(v[0].path, "Order.total");
        assert_eq!(v[0].direction, Some(Direction::Response));
        assert_eq!(fact(&v[0], "deprecated"), false);
        assert_eq!(v[0].line_before, Some(9));
        assert_eq!(v[1].path, "Order.currency");
        assert_eq!(v[1].direction, Some(Direction::Response));
        assert_eq!(fact(&v[1], "required"), &Json::Null);

        let a = "type Q { a: Int, old: String @deprecated(reason: \"use a\") }";
        let c = one(a, "type Q { a: Int }");
        assert_eq!(c.kind, "field.removed");
        assert_eq!(fact(&c, "deprecated"), true);
        assert_eq!(fact(&c, "deprecation_reason"), "use a");
    }

    #[test]
    fn input_fields_are_request_side() {
        let a = "input NewOrder { item: ID! note: [String] }";
        let b = "input NewOrder { item: ID! qty: Int! coupon: String gift: Boolean! = false }";
        let v = run(a, b);
        assert_eq!(
            kinds(&v),
            ["field.removed", "field.added", "field.added", "field.added"]
        );
        assert_eq!(v[0].path, "NewOrder.note");
        assert_eq!(v[0].direction, Some(Direction::Request));
        let by = |p: &str| v.iter().find(|c| c.path == p).unwrap();
        let qty = by("NewOrder.qty");
        assert_eq!(
            (fact(qty, "required"), fact(qty, "has_default")),
            (&Json::from(true), &Json::from(false))
        );
        assert_eq!(qty.direction, Some(Direction::Request));
        let coupon = by("NewOrder.coupon");
        assert_eq!(fact(coupon, "required"), false);
        let gift = by("NewOrder.gift");
        assert_eq!(
            (fact(gift, "required"), fact(gift, "has_default")),
            (&Json::from(false), &Json::from(true))
        );
        assert_eq!(fact(gift, "default"), "false");
    }

    #[test]
    fn field_type_changes_tell_nullability() {
        let c = one("type T { a: Int }", "type T { a: Int! }");
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("field.type_changed", "T.a")
        );
        assert_eq!(c.direction, Some(Direction::Response));
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (Json::from("Int"), Json::from("Int!"))
        );
        assert_eq!(
            (fact(&c, "nullability_only"), fact(&c, "became_non_null")),
            (&Json::from(true), &Json::from(true))
        );
        assert_eq!(fact(&c, "became_nullable"), false);

        let c = one("type T { a: [Int!] }", "type T { a: [Int]! }");
        assert_eq!(fact(&c, "nullability_only"), true);
        assert_eq!(
            (fact(&c, "became_non_null"), fact(&c, "became_nullable")),
            (&Json::from(false), &Json::from(false))
        );

        let c = one("type T { a: Int! }", "type T { a: String! }");
        assert_eq!(
            (fact(&c, "nullability_only"), fact(&c, "became_non_null")),
            (&Json::from(false), &Json::from(false))
        );

        let c = one("input I { a: [Int!]! }", "input I { a: [Int] }");
        assert_eq!(c.direction, Some(Direction::Request));
        assert_eq!(fact(&c, "became_nullable"), true);
    }

    #[test]
    fn arguments() {
        let b = BASE
            .replace(
                "order(id: ID!)",
                "order(id: ID!, locale: String!, region: String = \"eu\")",
            )
            .replace("orders(limit: Int = 10)", "orders(limit: Int! = 20)");
        let v = run(BASE, &b);
        assert_eq!(
            kinds(&v),
            [
                "argument.added",
                "argument.added",
                "argument.type_changed",
                "default.changed"
            ]
        );
        assert_eq!(v[0].path, "Query.order(locale)");
        assert_eq!(v[0].direction, Some(Direction::Request));
        assert_eq!(
            (fact(&v[0], "required"), fact(&v[0], "has_default")),
            (&Json::from(true), &Json::from(false))
        );
        assert_eq!(
            (fact(&v[1], "required"), fact(&v[1], "has_default")),
            (&Json::from(false), &Json::from(true))
        );
        assert_eq!(v[2].path, "Query.orders(limit)");
        assert_eq!(v[2].direction, Some(Direction::Request));
        assert_eq!(fact(&v[2], "became_non_null"), true);
        assert_eq!(v[3].path, "Query.orders(limit)");
        assert_eq!(
            (v[3].from.clone(), v[3].to.clone()),
            (Json::from("10"), Json::from("20"))
        );

        let v = run(BASE, &BASE.replace("order(id: ID!)", "order"));
        assert_eq!(kinds(&v), ["argument.removed"]);
        assert_eq!(v[0].path, "Query.order(id)");
        assert_eq!(v[0].direction, Some(Direction::Request));
        assert_eq!(v[0].line_before, Some(3));
    }

    #[test]
    fn input_field_default_changed() {
        let c = one("input I { n: Int = 1 }", "input I { n: Int }");
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("default.changed", "I.n")
        );
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (Json::from("1"), Json::Null)
        );
        assert_eq!(c.direction, Some(Direction::Request));
        // Object key order in a default is not a change.
        assert!(run(
            "input I { p: P = {a: 1, b: 2} }",
            "input I { p: P = {b: 2, a: 1} }"
        )
        .is_empty());
    }

    #[test]
    fn enum_values() {
        let v = run(BASE, &BASE.replace("{ OPEN CLOSED }", "{ OPEN ARCHIVED }"));
        assert_eq!(kinds(&v), ["enum.value_removed", "enum.value_added"]);
        assert_eq!(
            (v[0].path.as_str(), fact(&v[0], "value")),
            ("Status.CLOSED", &Json::from("CLOSED"))
        );
        assert_eq!(
            (v[1].path.as_str(), fact(&v[1], "value")),
            ("Status.ARCHIVED", &Json::from("ARCHIVED"))
        );
        assert_eq!(v[0].direction, None);
        let c = one(
            "enum E { A B }",
            "enum E { A B @deprecated(reason: \"gone\") }",
        );
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("enum.value_deprecated", "E.B")
        );
        // Values added through an extension.
        let c = one("enum E { A }", "enum E { A }\nextend enum E { B }");
        assert_eq!(
            (c.kind.as_str(), fact(&c, "value")),
            ("enum.value_added", &Json::from("B"))
        );
        assert_eq!(c.line_after, Some(2));
    }

    #[test]
    fn union_members_and_interfaces() {
        let v = run("union U = A | B\ntype A { x: Int }\ntype B { x: Int }", "union U = A\ntype A { x: Int }\ntype B { x: Int }\nextend union U = C\ntype C { x: Int }");
        assert_eq!(
            kinds(&v),
            ["union.member_removed", "union.member_added", "type.added"]
        );
        assert_eq!(
            (v[0].path.as_str(), fact(&v[0], "name")),
            ("U", &Json::from("B"))
        );
        assert_eq!(fact(&v[1], "name"), "C");

        let a = "interface Node { id: ID! }\ninterface Named { name: String }\ntype User implements Node { id: ID! name: String }";
        let b = "interface Node { id: ID! }\ninterface Named { name: String }\ntype User implements Named { id: ID! name: String }";
        let v = run(a, b);
        assert_eq!(kinds(&v), ["interface.removed", "interface.added"]);
        assert_eq!(
            (v[0].path.as_str(), fact(&v[0], "name")),
            ("User", &Json::from("Node"))
        );
        assert_eq!(fact(&v[1], "name"), "Named");
        // Interfaces added by an extension are merged.
        let c = b.replace("implements Named ", "") + "\nextend type User implements Named";
        assert!(run(b, &c).is_empty());
    }

    #[test]
    fn directive_definitions() {
        let a = "directive @auth(role: String!, scope: String) repeatable on FIELD_DEFINITION | OBJECT\ndirective @old on FIELD\ntype Q { a: Int }";
        let b = "directive @auth(role: String, level: Int!) on FIELD_DEFINITION | ENUM\ndirective @new on FIELD\ntype Q { a: Int }";
        let v = run(a, b);
        assert_eq!(
            kinds(&v),
            [
                "directive.repeatable_changed",
                "directive.location_removed",
                "directive.location_added",
                "argument.type_changed",
                "directive.argument_removed",
                "directive.argument_added",
                "directive.removed",
                "directive.added"
            ]
        );
        assert_eq!(v[0].path, "@auth");
        assert_eq!(
            (v[0].from.clone(), v[0].to.clone()),
            (Json::from(true), Json::from(false))
        );
        assert_eq!(fact(&v[1], "location"), "OBJECT");
        assert_eq!(fact(&v[2], "location"), "ENUM");
        assert_eq!(v[3].path, "@auth(role)");
        assert_eq!(fact(&v[3], "became_nullable"), true);
        assert_eq!(v[4].path, "@auth(scope)");
        assert_eq!(v[5].path, "@auth(level)");
        assert_eq!(fact(&v[5], "required"), true);
        assert_eq!(v[6].path, "@old");
        assert_eq!(v[7].path, "@new");
    }

    #[test]
    fn directive_usages() {
        let v = run(
            "type T @key(fields: \"id\") { a: Int @auth(role: USER) b: Int @cache }",
            "type T @key(fields: \"id\") @key(fields: \"sku\") { a: Int @auth(role: ADMIN) b: Int }",
        );
        assert_eq!(
            kinds(&v),
            [
                "directive.usage_added",
                "directive.usage_changed",
                "directive.usage_removed"
            ]
        );
        assert_eq!(
            (v[0].path.as_str(), fact(&v[0], "name")),
            ("T", &Json::from("key"))
        );
        assert_eq!(fact(&v[0], "usage"), "@key(fields: \"sku\")");
        assert_eq!(v[1].path, "T.a");
        assert_eq!(
            (v[1].from.clone(), v[1].to.clone()),
            (
                Json::from("@auth(role: USER)"),
                Json::from("@auth(role: ADMIN)")
            )
        );
        assert_eq!(
            (v[2].path.as_str(), fact(&v[2], "name")),
            ("T.b", &Json::from("cache"))
        );
        let c = one("input I { a: Int }", "input I @oneOf { a: Int }");
        assert_eq!(
            (c.kind.as_str(), fact(&c, "name")),
            ("directive.usage_added", &Json::from("oneOf"))
        );
    }

    #[test]
    fn deprecation_next_to_replacement_is_not_a_rename() {
        let a = "type User { name: String }";
        let b = "type User { name: String @deprecated(reason: \"use fullName\") fullName: String }";
        let v = run(a, b);
        assert_eq!(kinds(&v), ["field.deprecated", "field.added"]);
        assert_eq!(v[0].path, "User.name");
        assert_eq!(fact(&v[0], "reason"), "use fullName");
        assert_eq!(v[0].direction, Some(Direction::Response));
        let c = one(b, "type User { name: String fullName: String }\n");
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("field.undeprecated", "User.name")
        );
        let c = one(
            "type T { a: Int @deprecated }",
            "type T { a: Int @deprecated(reason: \"x\") }",
        );
        assert_eq!(c.kind, "deprecation.reason_changed");
        let c = one(
            "type T { a(x: Int): Int }",
            "type T { a(x: Int @deprecated): Int }",
        );
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("argument.deprecated", "T.a(x)")
        );
    }

    #[test]
    fn renames() {
        let a = "type User { id: ID! customer(first: Int): String other: Int }";
        let b = "type User { id: ID! buyer(first: Int): String other: Int }";
        let c = one(a, b);
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("field.renamed", "User.customer")
        );
        assert_eq!(c.to, Json::from("User.buyer"));
        assert_eq!(fact(&c, "name"), "buyer");
        assert_eq!(c.direction, Some(Direction::Response));
        assert_eq!(c.detector_confidence, 0.9);

        // Two candidates for one removal: the most similar name wins.
        let v = run(
            "type U { userName: String }",
            "type U { login: String userNames: String }",
        );
        assert_eq!(kinds(&v), ["field.renamed", "field.added"]);
        assert_eq!(v[0].to, Json::from("U.userNames"));
        assert_eq!(v[0].detector_confidence, 0.6);
        assert_eq!(v[1].path, "U.login");

        // Different type or arguments: not a rename.
        assert_eq!(
            kinds(&run("type U { a: Int }", "type U { b: String }")),
            ["field.removed", "field.added"]
        );
        assert_eq!(
            kinds(&run("type U { a(x: Int): Int }", "type U { b: Int }")),
            ["field.removed", "field.added"]
        );

        // Two unambiguous pairs are each certain.
        let v = run("type U { a: Int b: String }", "type U { x: Int y: String }");
        assert_eq!(kinds(&v), ["field.renamed", "field.renamed"]);
        assert_eq!(
            (v[0].to.clone(), v[0].detector_confidence),
            (Json::from("U.x"), 0.9)
        );
        assert_eq!(
            (v[1].to.clone(), v[1].detector_confidence),
            (Json::from("U.y"), 0.9)
        );

        // A deprecated field that goes was announced: not a rename.
        let v = run("type U { a: Int @deprecated }", "type U { b: Int }");
        assert_eq!(kinds(&v), ["field.removed", "field.added"]);
        assert_eq!(fact(&v[0], "deprecated"), true);

        // Input fields.
        let c = one("input I { qty: Int! }", "input I { quantity: Int! }");
        assert_eq!(
            (c.kind.as_str(), c.direction),
            ("field.renamed", Some(Direction::Request))
        );
    }

    #[test]
    fn descriptions() {
        let v = run(
            "\"Orders\" type Query { \"one\" order(\"the id\" id: ID!): Int }\nenum E { \"a\" A }\n\"d\" directive @d on FIELD",
            "\"All orders\" type Query { order(\"its id\" id: ID!): Int }\nenum E { \"b\" A }\n\"e\" directive @d on FIELD",
        );
        assert_eq!(kinds(&v), ["description.changed"; 5]);
        let paths: Vec<&str> = v.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            ["Query", "Query.order", "Query.order(id)", "E.A", "@d"]
        );
        assert_eq!(
            (v[1].from.clone(), v[1].to.clone()),
            (Json::from("one"), Json::Null)
        );
    }

    #[test]
    fn schema_roots() {
        let a = "schema { query: Query }\ntype Query { a: Int }\ntype Root { a: Int }";
        let c = one(a, &a.replace("query: Query", "query: Root"));
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("schema.root_changed", "schema.query")
        );
        assert_eq!(
            (c.from.clone(), c.to.clone()),
            (Json::from("Query"), Json::from("Root"))
        );
        assert_eq!(fact(&c, "operation"), "query");
        // Implicit and explicit roots with the same names are the same.
        assert!(run(
            "type Query { a: Int }",
            "schema { query: Query }\ntype Query { a: Int }"
        )
        .is_empty());
        // A root that comes with its type is told by `type.added`.
        let v = run(
            "type Query { a: Int }",
            "type Query { a: Int }\ntype Mutation { b: Int }",
        );
        assert_eq!(kinds(&v), ["type.added"]);
        assert_eq!(fact(&v[0], "root"), "mutation");
    }

    #[test]
    fn parse_errors_have_side_and_position() {
        let mut out = Changes::default();
        let e = diff(
            "type Q {\n  a: Int\n  b: \n}\n",
            "type Q { a: Int }",
            &Options::default(),
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.side, super::super::Side::Base);
        assert_eq!(e.error.line, 4, "{e}");
        assert!(e.error.col >= 1);
        assert_eq!(
            e.error.message,
            "invalid GraphQL SDL: expected a Type, found `}`"
        );
        let e = diff(
            "type Q { a: Int }",
            "type Q { a: Int }\n\ntype R { x: }",
            &Options::default(),
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.side, super::super::Side::Head);
        assert_eq!(e.error.line, 3, "{e}");
        assert_eq!(e.error.col, 13);
        // Semantic errors are positioned too.
        let e = parse("type A { x: Int }\ninput A { y: Int }").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        let e = parse("type A { x: Int }\nextend enum A { B }").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("type A { x: Int\n x: String }").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(out.0.is_empty());
        // Comments only: an empty schema, not an error.
        assert!(parse("# nothing yet\n\n").is_ok());
    }

    #[test]
    fn syntax_errors_are_told_at_the_first_one() {
        // apollo-parser reads on after an error: the first one is told.
        let e = parse("type A { a: [Int }\ntype B { b: }\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 18), "{e}");
        assert_eq!(e.message, "invalid GraphQL SDL: expected `]`, found `}`");
        let e = parse("enum E { A B\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1), "{e}");
        assert!(e.message.ends_with("at the end of the text"), "{e}");
        // What a schema cannot hold.
        let e = parse("type Q { a: Int }\nquery { a }").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1), "{e}");
        let e = parse("type Q { a(x: Int = $v): Int }").unwrap_err();
        assert_eq!((e.line, e.col), (1, 21), "{e}");
        let e = parse("schema { query: Q query: R }\ntype Q { a: Int }").unwrap_err();
        assert_eq!((e.line, e.col), (1, 19), "{e}");
    }

    #[test]
    fn schema_descriptions_and_extensions() {
        let s = parse(
            "\"The API\"\nschema @a { query: Q }\nextend schema @b { mutation: M }\ntype Q { a: Int }\ntype M { b: Int }",
        )
        .unwrap();
        assert_eq!(s.roots, [Some("Q".into()), Some("M".into()), None]);
        assert_eq!(s.schema_line, 2);
        let names: Vec<&str> = s
            .schema_directives
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        // A root added by `extend schema` is a root change.
        let a = "schema { query: Q }\ntype Q { a: Int }\ntype M { b: Int }";
        let c = one(a, &format!("{a}\nextend schema {{ mutation: M }}"));
        assert_eq!(
            (c.kind.as_str(), c.path.as_str()),
            ("schema.root_changed", "schema.mutation")
        );
    }

    #[test]
    fn values_are_read_as_written() {
        let s = parse(
            "type T { a(big: Int = 123456789012345678901234567890, z: Int = -0, e: String = \"\\u{1F600}\\b\"): Int }",
        )
        .unwrap();
        let args = &s.types[0].fields[0].args;
        let shown: Vec<String> = args
            .iter()
            .map(|a| render_value(a.default.as_ref().unwrap()))
            .collect();
        assert_eq!(
            shown,
            [
                "123456789012345678901234567890",
                "0",
                "\"\u{1F600}\\u0008\""
            ]
        );
    }

    /// Every fixture, generated schemas and edge cases: the token reader
    /// builds the tree's schema, and gives up where the tree has an error.
    #[test]
    fn token_reader_builds_the_tree_schema() {
        fn check(text: &str, must_read: bool) {
            let tree = parse_with_tree(text);
            let tokens = read_tokens(text);
            match tree {
                Ok(t) => {
                    if must_read {
                        assert!(tokens.is_some(), "token reader gave up on:\n{text}");
                    }
                    if let Some(x) = tokens {
                        assert_eq!(x, t, "schemas differ for:\n{text}");
                    }
                }
                Err(e) => assert!(
                    tokens.is_none(),
                    "tree error {e:?} but tokens read:\n{text}"
                ),
            }
        }
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "graphql") {
                    out.push(p);
                }
            }
        }
        // A small copy of benches/gen.rs `graphql_sdl`.
        fn generated(types: usize, changes: usize, changed: bool, described: bool) -> String {
            use std::fmt::Write;
            let every = types.checked_div(changes).map_or(usize::MAX, |e| e.max(1));
            let mut s = String::new();
            s.push_str("type Query {\n");
            for t in 0..types.min(500) {
                let _ = writeln!(s, "  t{t}(id: ID!, first: Int = 10): T{t}");
            }
            s.push_str("}\n\nenum Status {\n  OPEN\n  CLOSED\n}\n\n");
            for t in 0..types {
                let _ = writeln!(s, "\"\"\"Type number {t}.\"\"\"\ntype T{t} {{\n  id: ID!");
                for f in 0..10 {
                    if changed && t % every == 0 && f == 9 {
                        continue;
                    }
                    if described {
                        let _ = writeln!(
                            s,
                            "  \"\"\"\n  Field {f} of type {t}: what it holds, when it is null, and which\n  permission a client needs to read it.\n  \"\"\""
                        );
                    }
                    let _ = writeln!(s, "  f{f}(limit: Int): String");
                }
                let _ = writeln!(s, "  status: Status\n  next: T{}\n}}\n", (t + 1) % types);
            }
            s
        }
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/semantic-diff");
        let mut files = Vec::new();
        walk(&root, &mut files);
        assert!(!files.is_empty());
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let valid = parse_with_tree(&text).is_ok();
            check(&text, valid && !text.contains('$'));
        }
        for (changed, described) in [(false, false), (true, false), (false, true), (true, true)] {
            check(&generated(40, 7, changed, described), true);
        }
        let valid = [
            "",
            "# only a comment\n",
            "schema @a(x: 1) { query: Q, mutation: M }\ntype Q { a: Int }\ntype M { b: Int }",
            "extend schema @b { subscription: S }\ntype S { x: Int }\ntype Query { y: Int }",
            "\"\"\"\n  Desc\n    more\n\"\"\"\nschema { query: Q } type Q { a: Int }",
            "\"the d\" directive @d(a: Int = 1, b: [String!]! = [\"x\", \"y\"]) repeatable on FIELD_DEFINITION | OBJECT",
            "directive @e on | ENUM_VALUE | SCALAR",
            "scalar Date @specifiedBy(url: \"https://x\")\nextend scalar Date @foo",
            "interface I { id: ID! }\ninterface J implements I & K { id: ID! }\ntype T implements & I & J @a { id: ID!, list: [[Int!]]! @b(c: {z: 1, a: [1.5, -0, -2e3, true, false, null, E]}) }",
            "type T { a(x: Int = -0 y: Float = 1.0E+2, z: In = {a: {b: [ ]}}, w: String = \"\\u00e9\\n\\\"q\"): Int }",
            "union U = | A | B\nextend union U = C | A\nextend union U @x\ntype A { a: Int } type B { b: Int } type C { c: Int }",
            "enum E { \"d\" A @deprecated(reason: \"no\"), B C }\nextend enum E { D }\nextend enum E @x",
            "input In { a: Int = 1 @x, \"\"\"b\"\"\" b: [In!] }\nextend input In { c: Boolean = false }",
            "extend type T { b: Int }\ntype T implements I { a: Int }\nextend type T implements I & J\nextend type T @z",
            "type T\nscalar S\nenum E\ninput I\nunion U\ninterface N",
        ];
        for c in valid {
            check(c, true);
        }
        // Errors and things the token reader leaves to the tree.
        let others = [
            "type T { a: Int }\ntype T { b: Int }",
            "type T { a: Int a: String }",
            "extend type T { a: Int }\nextend enum T { A }",
            "type T { a(x: Int = $v): Int }",
            "type T { a: Int @d(x: $v) }",
            "query { a }",
            "type T {}",
            "type T { a: }",
            "enum E { true }",
            "directive @d on NOPE",
            "schema { query: Q query: R }",
            "schema { query: Q } schema { query: Q }",
            "extend schema { query: Q } schema { query: R }",
            "type T { a: \"unterminated }",
            "type T { a: Int }}",
            "type T { a(): Int }",
            "type T implements A, B { a: Int }",
            "extend type T",
            "extend scalar S",
            "\"d\" extend type T { a: Int }",
        ];
        for c in others {
            check(c, false);
        }
    }
}
