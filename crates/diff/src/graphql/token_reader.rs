//! The token reader: SDL text → [`Schema`] from `apollo_parser::Lexer` tokens.
//!
//! In: an SDL document. Out: the same schema the tree reader builds, or
//! `None` on anything unexpected, invalid or unusual — the tree reader then
//! reads the text and tells the error. Building no lossless tree makes it
//! about twice as fast as the tree reader (BENCHMARKS.md: the dense 1 MB
//! schema went from ~180 ms to under 100 ms).

use std::collections::BTreeMap;

use apollo_parser::{Lexer, TokenKind};

use super::literal::string_value;
use super::model::*;
use super::tree_reader::Source;

/// A significant token: its kind, text and byte offset.
#[derive(Clone, Copy)]
pub(super) struct Tok<'t> {
    pub(super) kind: TokenKind,
    pub(super) data: &'t str,
    pub(super) at: usize,
}

/// The parts of a type definition or extension read from tokens.
pub(super) struct TokParts {
    pub(super) at: usize,
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) description: Option<String>,
    pub(super) directives: Vec<Usage>,
    pub(super) names: Vec<String>,
    pub(super) fields: Vec<FieldDef>,
    pub(super) inputs: Vec<InputDef>,
    pub(super) values: Vec<EnumValueDef>,
}

/// A schema definition or extension read from tokens.
pub(super) struct TokSchema {
    pub(super) at: usize,
    pub(super) directives: Vec<Usage>,
    pub(super) roots: Vec<(usize, String)>,
}

/// Deepest nesting of types and values the token reader follows.
pub(super) const MAX_DEPTH: usize = 64;

/// A recursive-descent reader of SDL from `apollo_parser::Lexer` tokens,
/// building the same `Schema` as the tree. It gives up (`None`) on anything
/// unexpected, invalid or unusual: the tree path then reads the text and
/// tells the error.
pub(super) struct Reader<'s, 't> {
    pub(super) src: &'s Source<'t>,
    pub(super) lexer: Lexer<'t>,
    /// The next significant token; `None` at the end or after an error.
    pub(super) cur: Option<Tok<'t>>,
    /// Whether the lexer told an error.
    pub(super) failed: bool,
    pub(super) depth: usize,
}

/// The schema of a text read from its tokens, or `None` for the tree path.
pub(super) fn read_tokens(text: &str) -> Option<Schema> {
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
    pub(super) fn bump(&mut self) {
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

    pub(super) fn peek(&self) -> Option<Tok<'t>> {
        self.cur
    }

    pub(super) fn is(&self, kind: TokenKind) -> bool {
        self.peek().is_some_and(|t| t.kind == kind)
    }

    pub(super) fn is_word(&self, word: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Name && t.data == word)
    }

    pub(super) fn eat(&mut self, kind: TokenKind) -> Option<Tok<'t>> {
        let t = self.peek().filter(|t| t.kind == kind)?;
        self.bump();
        Some(t)
    }

    pub(super) fn name(&mut self) -> Option<String> {
        self.eat(TokenKind::Name).map(|t| t.data.to_string())
    }

    pub(super) fn skip_commas(&mut self) {
        while self.eat(TokenKind::Comma).is_some() {}
    }

    pub(super) fn line(&self, at: usize) -> u32 {
        self.src.line(at)
    }

    pub(super) fn description(&mut self) -> Option<String> {
        self.eat(TokenKind::StringValue)
            .map(|t| string_value(t.data))
    }

    pub(super) fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    pub(super) fn ty(&mut self) -> Option<Ty> {
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

    pub(super) fn value(&mut self) -> Option<GqlValue> {
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
    pub(super) fn usages(&mut self) -> Option<Vec<Usage>> {
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

    pub(super) fn input(&mut self) -> Option<InputDef> {
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
    pub(super) fn inputs(&mut self, open: TokenKind, close: TokenKind) -> Option<Vec<InputDef>> {
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

    pub(super) fn opt_args(&mut self) -> Option<Vec<InputDef>> {
        if self.is(TokenKind::LParen) {
            self.inputs(TokenKind::LParen, TokenKind::RParen)
        } else {
            Some(Vec::new())
        }
    }

    pub(super) fn field(&mut self) -> Option<FieldDef> {
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

    pub(super) fn enum_value(&mut self) -> Option<EnumValueDef> {
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
    pub(super) fn names(&mut self, sep: TokenKind) -> Option<Vec<String>> {
        self.eat(sep);
        let mut out = vec![self.name()?];
        while self.eat(sep).is_some() {
            out.push(self.name()?);
        }
        Some(out)
    }

    /// A braced list of at least one element.
    pub(super) fn braced<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
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

    pub(super) fn type_parts(
        &mut self,
        at: usize,
        kind: Kind,
        extension: bool,
    ) -> Option<TokParts> {
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

    pub(super) fn schema(&mut self, at: usize, extension: bool) -> Option<TokSchema> {
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

    pub(super) fn directive_definition(
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

    pub(super) fn merge(t: &mut TypeDef, p: TokParts) -> Option<()> {
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

    pub(super) fn empty_type(&self, p: &TokParts) -> TypeDef {
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

    pub(super) fn document(&mut self) -> Option<Schema> {
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
