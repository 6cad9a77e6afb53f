//! GraphQL SDL: what a schema change means for the clients of the API.
//!
//! Both texts are parsed with `graphql-parser`; type extensions
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

use graphql_parser::schema as gql;
use serde_json::Value as Json;

use super::change::{Change, Changes, Direction};
use super::tree::ParseError;
use super::{ArtifactError, Options};

type GqlValue = gql::Value<'static, String>;

/// A parsed schema, with extensions merged into their types.
#[derive(Debug, Clone, Default)]
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

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
struct FieldDef {
    name: String,
    line: u32,
    description: Option<String>,
    ty: Ty,
    args: Vec<InputDef>,
    directives: Vec<Usage>,
}

/// An argument or an input-object field.
#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
struct EnumValueDef {
    name: String,
    line: u32,
    description: Option<String>,
    directives: Vec<Usage>,
}

#[derive(Debug, Clone)]
struct DirectiveDef {
    name: String,
    line: u32,
    description: Option<String>,
    args: Vec<InputDef>,
    repeatable: bool,
    locations: Vec<&'static str>,
}

/// A directive applied to an element (`@auth(role: ADMIN)`).
#[derive(Debug, Clone)]
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
pub fn parse(text: &str) -> Result<Schema, ParseError> {
    let doc = match gql::parse_schema::<String>(text) {
        Ok(doc) => doc,
        Err(_)
            if text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) =>
        {
            return Ok(Schema::default());
        }
        Err(e) => return Err(parse_error(&e.to_string(), text)),
    };
    build(doc)
}

/// Turns graphql-parser's message (`schema parse error: Parse error at 3:5\n
/// Unexpected ...\nExpected ...`) into a positioned error.
fn parse_error(msg: &str, text: &str) -> ParseError {
    let (mut line, mut col) = (0u32, 0u32);
    if let Some(i) = msg.find(" at ") {
        let rest = &msg[i + 4..];
        let mut nums = rest
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if let (Some(l), Some(c)) = (nums.next(), nums.next()) {
            line = l.parse().unwrap_or(0);
            col = c.parse().unwrap_or(0);
        }
    }
    if line == 0 {
        // No position given: point at the end of the text.
        line = text.lines().count().max(1) as u32;
        col = text
            .lines()
            .last()
            .map(|l| l.chars().count() as u32 + 1)
            .unwrap_or(1);
    }
    let mut detail: Vec<String> = msg
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    // Tokens are shown as `value[Kind]`: keep the value.
    for d in &mut detail {
        for k in [
            "Punctuator",
            "Name",
            "IntValue",
            "FloatValue",
            "StringValue",
            "BlockString",
        ] {
            *d = d.replace(&format!("[{k}]`"), "`");
        }
    }
    let message = if detail.is_empty() {
        msg.trim().to_string()
    } else {
        format!("invalid GraphQL SDL: {}", detail.join("; "))
    };
    ParseError { line, col, message }
}

fn at(pos: graphql_parser::Pos, message: String) -> ParseError {
    ParseError {
        line: pos.line as u32,
        col: pos.column as u32,
        message,
    }
}

fn line(pos: graphql_parser::Pos) -> u32 {
    pos.line as u32
}

fn ty(t: &gql::Type<'_, String>) -> Ty {
    match t {
        gql::Type::NamedType(n) => Ty::Named(n.clone()),
        gql::Type::ListType(t) => Ty::List(Box::new(ty(t))),
        gql::Type::NonNullType(t) => Ty::NonNull(Box::new(ty(t))),
    }
}

fn usages(ds: &[gql::Directive<'_, String>]) -> Vec<Usage> {
    ds.iter()
        .map(|d| Usage {
            name: d.name.clone(),
            line: line(d.position),
            args: d
                .arguments
                .iter()
                .map(|(k, v)| (k.clone(), v.into_static()))
                .collect(),
        })
        .collect()
}

fn input(v: &gql::InputValue<'_, String>) -> InputDef {
    InputDef {
        name: v.name.clone(),
        line: line(v.position),
        description: v.description.clone(),
        ty: ty(&v.value_type),
        default: v.default_value.as_ref().map(|d| d.into_static()),
        directives: usages(&v.directives),
    }
}

fn inputs(what: &str, vs: &[gql::InputValue<'_, String>]) -> Result<Vec<InputDef>, ParseError> {
    let mut seen = HashSet::new();
    vs.iter()
        .map(|v| {
            if !seen.insert(v.name.as_str()) {
                return Err(at(
                    v.position,
                    format!("{what} `{}` is defined twice", v.name),
                ));
            }
            Ok(input(v))
        })
        .collect()
}

fn field(f: &gql::Field<'_, String>) -> Result<FieldDef, ParseError> {
    Ok(FieldDef {
        name: f.name.clone(),
        line: line(f.position),
        description: f.description.clone(),
        ty: ty(&f.field_type),
        args: inputs(&format!("argument of `{}`", f.name), &f.arguments)?,
        directives: usages(&f.directives),
    })
}

fn enum_value(v: &gql::EnumValue<'_, String>) -> EnumValueDef {
    EnumValueDef {
        name: v.name.clone(),
        line: line(v.position),
        description: v.description.clone(),
        directives: usages(&v.directives),
    }
}

fn location(l: &gql::DirectiveLocation) -> &'static str {
    l.as_str()
}

/// The parts of a type definition or extension, before merging.
struct Parts<'x, 'a> {
    pos: graphql_parser::Pos,
    name: &'x str,
    kind: Kind,
    description: Option<String>,
    directives: &'x [gql::Directive<'a, String>],
    interfaces: &'x [String],
    members: &'x [String],
    fields: &'x [gql::Field<'a, String>],
    inputs: &'x [gql::InputValue<'a, String>],
    values: &'x [gql::EnumValue<'a, String>],
}

impl<'x, 'a> Parts<'x, 'a> {
    fn new(
        pos: graphql_parser::Pos,
        name: &'x str,
        kind: Kind,
        directives: &'x [gql::Directive<'a, String>],
    ) -> Self {
        Parts {
            pos,
            name,
            kind,
            description: None,
            directives,
            interfaces: &[],
            members: &[],
            fields: &[],
            inputs: &[],
            values: &[],
        }
    }
}

fn definition_parts<'x, 'a>(t: &'x gql::TypeDefinition<'a, String>) -> Parts<'x, 'a> {
    use gql::TypeDefinition as D;
    match t {
        D::Scalar(s) => Parts {
            description: s.description.clone(),
            ..Parts::new(s.position, &s.name, Kind::Scalar, &s.directives)
        },
        D::Object(o) => Parts {
            description: o.description.clone(),
            interfaces: &o.implements_interfaces,
            fields: &o.fields,
            ..Parts::new(o.position, &o.name, Kind::Object, &o.directives)
        },
        D::Interface(i) => Parts {
            description: i.description.clone(),
            interfaces: &i.implements_interfaces,
            fields: &i.fields,
            ..Parts::new(i.position, &i.name, Kind::Interface, &i.directives)
        },
        D::Union(u) => Parts {
            description: u.description.clone(),
            members: &u.types,
            ..Parts::new(u.position, &u.name, Kind::Union, &u.directives)
        },
        D::Enum(e) => Parts {
            description: e.description.clone(),
            values: &e.values,
            ..Parts::new(e.position, &e.name, Kind::Enum, &e.directives)
        },
        D::InputObject(i) => Parts {
            description: i.description.clone(),
            inputs: &i.fields,
            ..Parts::new(i.position, &i.name, Kind::Input, &i.directives)
        },
    }
}

fn extension_parts<'x, 'a>(t: &'x gql::TypeExtension<'a, String>) -> Parts<'x, 'a> {
    use gql::TypeExtension as E;
    match t {
        E::Scalar(s) => Parts::new(s.position, &s.name, Kind::Scalar, &s.directives),
        E::Object(o) => Parts {
            interfaces: &o.implements_interfaces,
            fields: &o.fields,
            ..Parts::new(o.position, &o.name, Kind::Object, &o.directives)
        },
        E::Interface(i) => Parts {
            interfaces: &i.implements_interfaces,
            fields: &i.fields,
            ..Parts::new(i.position, &i.name, Kind::Interface, &i.directives)
        },
        E::Union(u) => Parts {
            members: &u.types,
            ..Parts::new(u.position, &u.name, Kind::Union, &u.directives)
        },
        E::Enum(e) => Parts {
            values: &e.values,
            ..Parts::new(e.position, &e.name, Kind::Enum, &e.directives)
        },
        E::InputObject(i) => Parts {
            inputs: &i.fields,
            ..Parts::new(i.position, &i.name, Kind::Input, &i.directives)
        },
    }
}

/// Adds a definition's or extension's parts to its type.
fn merge(t: &mut TypeDef, p: &Parts<'_, '_>) -> Result<(), ParseError> {
    if t.kind != p.kind {
        return Err(at(
            p.pos,
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
    t.directives.extend(usages(p.directives));
    for i in p.interfaces.iter().chain(p.members) {
        let list = if p.kind == Kind::Union {
            &mut t.members
        } else {
            &mut t.interfaces
        };
        if !list.contains(i) {
            list.push(i.clone());
        }
    }
    for f in p.fields {
        if t.fields.iter().any(|x| x.name == f.name) {
            return Err(at(
                f.position,
                format!("field `{}.{}` is defined twice", t.name, f.name),
            ));
        }
        t.fields.push(field(f)?);
    }
    for f in p.inputs {
        if t.inputs.iter().any(|x| x.name == f.name) {
            return Err(at(
                f.position,
                format!("input field `{}.{}` is defined twice", t.name, f.name),
            ));
        }
        t.inputs.push(input(f));
    }
    for v in p.values {
        if t.values.iter().any(|x| x.name == v.name) {
            return Err(at(
                v.position,
                format!("enum value `{}.{}` is defined twice", t.name, v.name),
            ));
        }
        t.values.push(enum_value(v));
    }
    Ok(())
}

fn empty_type(p: &Parts<'_, '_>) -> TypeDef {
    TypeDef {
        name: p.name.to_string(),
        kind: p.kind,
        line: line(p.pos),
        description: None,
        directives: Vec::new(),
        interfaces: Vec::new(),
        members: Vec::new(),
        fields: Vec::new(),
        inputs: Vec::new(),
        values: Vec::new(),
    }
}

fn build(doc: gql::Document<'_, String>) -> Result<Schema, ParseError> {
    let mut s = Schema::default();
    let mut explicit: Option<[Option<String>; 3]> = None;
    let mut extensions = Vec::new();
    for d in &doc.definitions {
        match d {
            gql::Definition::SchemaDefinition(sd) => {
                if explicit.is_some() {
                    return Err(at(sd.position, "the schema is defined twice".to_string()));
                }
                explicit = Some([
                    sd.query.clone(),
                    sd.mutation.clone(),
                    sd.subscription.clone(),
                ]);
                s.schema_line = line(sd.position);
                s.schema_directives = usages(&sd.directives);
            }
            gql::Definition::TypeDefinition(t) => {
                let p = definition_parts(t);
                if s.type_named(p.name).is_some() {
                    return Err(at(p.pos, format!("type `{}` is defined twice", p.name)));
                }
                let mut td = empty_type(&p);
                merge(&mut td, &p)?;
                s.add_type(td);
            }
            gql::Definition::TypeExtension(e) => extensions.push(extension_parts(e)),
            gql::Definition::DirectiveDefinition(dd) => {
                if s.directive_named(&dd.name).is_some() {
                    return Err(at(
                        dd.position,
                        format!("directive `@{}` is defined twice", dd.name),
                    ));
                }
                s.directives.push(DirectiveDef {
                    name: dd.name.clone(),
                    line: line(dd.position),
                    description: dd.description.clone(),
                    args: inputs(&format!("argument of `@{}`", dd.name), &dd.arguments)?,
                    repeatable: dd.repeatable,
                    locations: dd.locations.iter().map(location).collect(),
                });
            }
        }
    }
    // Extensions apply once every definition is known (an extension may
    // come first in the file); an extension of an undefined type defines it.
    for p in &extensions {
        match s.index.get(p.name).and_then(|&i| s.types.get_mut(i)) {
            Some(t) => merge(t, p)?,
            None => {
                let mut td = empty_type(p);
                merge(&mut td, p)?;
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
    Ok(s)
}

// ---- diff --------------------------------------------------------------------

/// Diffs two SDL documents.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let sa = parse(a).map_err(ArtifactError::base)?;
    let sb = parse(b).map_err(ArtifactError::head)?;
    diff_schemas(&sa, &sb, out);
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
    // graphql-parser may lay out lists and objects over several lines.
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
                gql::Value::String(s) => Some(s.clone()),
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
            "invalid GraphQL SDL: Unexpected `}`; Expected Name or ["
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
}
