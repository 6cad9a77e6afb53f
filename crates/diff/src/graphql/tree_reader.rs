//! The tree reader: SDL text → [`Schema`] through apollo-parser's tree.
//!
//! In: an SDL document. Out: its schema, or the first syntax or schema error
//! with its line and column. apollo-parser recovers from errors; any error
//! makes the document an error, so a broken schema is never read in part.
//! Names and simple types are read from the green tree without building
//! nodes. This is the path that tells errors: the token reader sends here
//! every text it does not expect.

use std::collections::BTreeMap;

use apollo_parser::cst::{self, CstNode};
use apollo_parser::{Parser, SyntaxKind, SyntaxNode, SyntaxTree, TextRange};

use super::literal::string_value;
use super::model::*;
use crate::tree::ParseError;

/// Parses a document through apollo-parser's tree (the path that tells errors).
pub(super) fn parse_with_tree(text: &str) -> Result<Schema, ParseError> {
    read(&Parser::new(text).parse(), text)
}

/// The schema in a parsed tree, or the tree's first error.
pub(super) fn read(tree: &SyntaxTree, text: &str) -> Result<Schema, ParseError> {
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

/// The byte range of a node. A node holds no blanks or comments before its
/// first token or after its last: they belong to the enclosing node.
pub(super) fn range(n: &SyntaxNode) -> (usize, usize) {
    let r = n.text_range();
    (usize::from(r.start()), usize::from(r.end()))
}

pub(super) fn start(n: &SyntaxNode) -> usize {
    range(n).0
}

/// How many children of a kind a node has, read from the green tree (no
/// node is built): lists are allocated at their size.
pub(super) fn count(n: &SyntaxNode, k: SyntaxKind) -> usize {
    let k = u16::from(k);
    n.green().children().filter(|c| c.kind().0 == k).count()
}

/// A child of a node read from the green tree, without building a node for
/// it: its raw kind, its byte range and, for a node, the raw kind and length
/// of its first child (a `NON_NULL_TYPE`'s `NAMED_TYPE`).
#[derive(Clone, Copy)]
pub(super) struct Child {
    pub(super) kind: u16,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) first: Option<(u16, usize)>,
}

/// Calls `f` on each child of a node, tokens included. Reading names and
/// simple types this way saves building most nodes of the tree.
pub(super) fn each_child(
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
pub(super) const NAME: u16 = SyntaxKind::NAME as u16;
pub(super) const DESCRIPTION: u16 = SyntaxKind::DESCRIPTION as u16;
pub(super) const NAMED_TYPE: u16 = SyntaxKind::NAMED_TYPE as u16;
pub(super) const LIST_TYPE: u16 = SyntaxKind::LIST_TYPE as u16;
pub(super) const NON_NULL_TYPE: u16 = SyntaxKind::NON_NULL_TYPE as u16;
pub(super) const ARGUMENTS_DEFINITION: u16 = SyntaxKind::ARGUMENTS_DEFINITION as u16;
pub(super) const DEFAULT_VALUE: u16 = SyntaxKind::DEFAULT_VALUE as u16;
pub(super) const DIRECTIVES: u16 = SyntaxKind::DIRECTIVES as u16;
pub(super) const ARGUMENTS: u16 = SyntaxKind::ARGUMENTS as u16;
pub(super) const ENUM_VALUE: u16 = SyntaxKind::ENUM_VALUE as u16;

pub(super) fn is_value(k: SyntaxKind) -> bool {
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

pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The kind of a type definition or extension node, and whether it is an
/// extension.
pub(super) fn type_node(k: SyntaxKind) -> Option<(Kind, bool)> {
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
pub(super) struct Parts {
    /// Where its keyword (`type`, `enum`...) starts.
    pub(super) at: usize,
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) description: Option<String>,
    pub(super) directives: Option<SyntaxNode>,
    /// `implements`, union members, fields, input fields or enum values.
    pub(super) lists: Vec<SyntaxNode>,
}

/// The source text with the start of each line, to turn byte offsets from
/// the tree into 1-based lines and columns.
pub(super) struct Source<'t> {
    pub(super) text: &'t str,
    pub(super) starts: Vec<usize>,
}

impl<'t> Source<'t> {
    pub(super) fn new(text: &'t str) -> Self {
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
    pub(super) fn line(&self, offset: usize) -> u32 {
        self.starts.partition_point(|&s| s <= offset) as u32
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(super) fn position(&self, offset: usize) -> (u32, u32) {
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

    pub(super) fn error(&self, offset: usize, message: String) -> ParseError {
        let (line, col) = self.position(offset);
        ParseError { line, col, message }
    }

    /// apollo-parser's error (`expected a Type`, `expected R_CURLY, got =`)
    /// with the token it stopped at.
    pub(super) fn syntax_error(&self, e: &apollo_parser::Error) -> ParseError {
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

    pub(super) fn missing(&self, n: &SyntaxNode, what: &str) -> ParseError {
        self.error(start(n), format!("invalid GraphQL SDL: {what} is missing"))
    }

    /// The source text of a node.
    pub(super) fn slice(&self, n: &SyntaxNode) -> &'t str {
        let (a, b) = range(n);
        self.text.get(a..b).unwrap_or_default()
    }

    /// Where the next token after `offset` starts, past blanks, commas and
    /// comments.
    pub(super) fn skip_ignored(&self, mut offset: usize) -> usize {
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
    pub(super) fn name_at(&self, c: &Child) -> Result<String, ParseError> {
        match self.text.get(c.start..c.end) {
            Some(s) if is_name(s) => Ok(s.to_string()),
            _ => Err(self.error(c.start, "invalid GraphQL SDL: a name is missing".into())),
        }
    }

    /// The node of a child read from the green tree.
    pub(super) fn node_at(&self, parent: &SyntaxNode, c: &Child) -> Result<SyntaxNode, ParseError> {
        let range = TextRange::new((c.start as u32).into(), (c.end as u32).into());
        parent
            .child_or_token_at_range(range)
            .and_then(|e| e.into_node())
            .ok_or_else(|| self.error(c.start, "invalid GraphQL SDL: a node is missing".into()))
    }

    /// A type child: `Name` and `Name!` read from the green tree, others
    /// from their node.
    pub(super) fn ty_at(&self, parent: &SyntaxNode, c: &Child) -> Result<Ty, ParseError> {
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
    pub(super) fn name(&self, n: &SyntaxNode) -> Result<String, ParseError> {
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
    pub(super) fn child_name(&self, n: &SyntaxNode) -> Result<String, ParseError> {
        match n.children().find(|c| c.kind() == SyntaxKind::NAME) {
            Some(c) => self.name(&c),
            None => Err(self.missing(n, "a name")),
        }
    }

    /// The text of a `DESCRIPTION` node (just a string literal).
    pub(super) fn description(&self, n: &SyntaxNode) -> Option<String> {
        Some(string_value(self.slice(n)))
    }

    /// The text of a `DESCRIPTION` read from the green tree.
    pub(super) fn description_at(&self, c: &Child) -> Option<String> {
        self.text.get(c.start..c.end).map(string_value)
    }

    pub(super) fn ty(&self, n: &SyntaxNode) -> Result<Ty, ParseError> {
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

    pub(super) fn value(&self, n: &SyntaxNode) -> Result<GqlValue, ParseError> {
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
    pub(super) fn argument(&self, n: &SyntaxNode) -> Result<(String, GqlValue), ParseError> {
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
    pub(super) fn usages(&self, n: &SyntaxNode) -> Result<Vec<Usage>, ParseError> {
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

    pub(super) fn opt_usages(&self, n: Option<&SyntaxNode>) -> Result<Vec<Usage>, ParseError> {
        n.map_or(Ok(Vec::new()), |n| self.usages(n))
    }

    /// An `INPUT_VALUE_DEFINITION`: an argument or an input field.
    pub(super) fn input(&self, n: &SyntaxNode) -> Result<InputDef, ParseError> {
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
    pub(super) fn args(
        &self,
        owner: &str,
        n: Option<&SyntaxNode>,
    ) -> Result<Vec<InputDef>, ParseError> {
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

    pub(super) fn field(&self, n: &SyntaxNode) -> Result<FieldDef, ParseError> {
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

    pub(super) fn enum_value(&self, n: &SyntaxNode) -> Result<EnumValueDef, ParseError> {
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
    pub(super) fn keyword(&self, n: &SyntaxNode, description: Option<&SyntaxNode>) -> usize {
        match description {
            Some(d) => self.skip_ignored(range(d).1),
            None if self.slice(n).starts_with("extend") => {
                self.skip_ignored(start(n) + "extend".len())
            }
            None => start(n),
        }
    }

    /// The parts of a type definition or extension node.
    pub(super) fn parts(&self, n: &SyntaxNode, kind: Kind) -> Result<Parts, ParseError> {
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

    pub(super) fn empty_type(&self, p: &Parts) -> TypeDef {
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
    pub(super) fn merge(&self, t: &mut TypeDef, p: &Parts) -> Result<(), ParseError> {
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
    pub(super) fn schema_node(
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
    pub(super) fn directive_definition(
        &self,
        n: &SyntaxNode,
    ) -> Result<(usize, DirectiveDef), ParseError> {
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

    pub(super) fn build(&self, doc: &SyntaxNode) -> Result<Schema, ParseError> {
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
