//! The schema model both readers build, and how its values are written.
//!
//! In: nothing (the readers fill it). Out: a [`Schema`] with extensions
//! merged into their types, compared by `compare`. Values render in GraphQL
//! notation (`render_value`), as the facts show them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A parsed schema, with extensions merged into their types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Root operation types (query, mutation, subscription), explicit or by
    /// the default names.
    pub(super) roots: [Option<String>; 3],
    pub(super) schema_line: u32,
    pub(super) schema_directives: Vec<Usage>,
    pub(super) types: Vec<TypeDef>,
    /// Type name → index in `types`.
    pub(super) index: HashMap<String, usize>,
    pub(super) directives: Vec<DirectiveDef>,
}

pub(super) const OPERATIONS: [&str; 3] = ["query", "mutation", "subscription"];

impl Schema {
    pub(super) fn type_named(&self, name: &str) -> Option<&TypeDef> {
        self.index.get(name).and_then(|&i| self.types.get(i))
    }

    pub(super) fn add_type(&mut self, t: TypeDef) {
        self.index.insert(t.name.clone(), self.types.len());
        self.types.push(t);
    }

    pub(super) fn directive_named(&self, name: &str) -> Option<&DirectiveDef> {
        self.directives.iter().find(|d| d.name == name)
    }

    /// The root operation a type serves, if any.
    pub(super) fn root_of(&self, name: &str) -> Option<&'static str> {
        OPERATIONS
            .iter()
            .zip(&self.roots)
            .find(|(_, r)| r.as_deref() == Some(name))
            .map(|(op, _)| *op)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    Input,
}

impl Kind {
    pub(super) fn as_str(self) -> &'static str {
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
pub(super) struct TypeDef {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) line: u32,
    pub(super) description: Option<String>,
    pub(super) directives: Vec<Usage>,
    /// Implemented interfaces (objects, interfaces) or members (unions).
    pub(super) interfaces: Vec<String>,
    pub(super) members: Vec<String>,
    pub(super) fields: Vec<FieldDef>,
    pub(super) inputs: Vec<InputDef>,
    pub(super) values: Vec<EnumValueDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldDef {
    pub(super) name: String,
    pub(super) line: u32,
    pub(super) description: Option<String>,
    pub(super) ty: Ty,
    pub(super) args: Vec<InputDef>,
    pub(super) directives: Vec<Usage>,
}

/// An argument or an input-object field.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct InputDef {
    pub(super) name: String,
    pub(super) line: u32,
    pub(super) description: Option<String>,
    pub(super) ty: Ty,
    pub(super) default: Option<GqlValue>,
    pub(super) directives: Vec<Usage>,
}

impl InputDef {
    pub(super) fn required(&self) -> bool {
        self.ty.non_null() && self.default.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct EnumValueDef {
    pub(super) name: String,
    pub(super) line: u32,
    pub(super) description: Option<String>,
    pub(super) directives: Vec<Usage>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct DirectiveDef {
    pub(super) name: String,
    pub(super) line: u32,
    pub(super) description: Option<String>,
    pub(super) args: Vec<InputDef>,
    pub(super) repeatable: bool,
    pub(super) locations: Vec<&'static str>,
}

/// A directive applied to an element (`@auth(role: ADMIN)`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Usage {
    pub(super) name: String,
    pub(super) line: u32,
    pub(super) args: Vec<(String, GqlValue)>,
}

impl Usage {
    /// Arguments sorted by name: their order has no meaning.
    pub(super) fn sorted_args(&self) -> Vec<(&str, &GqlValue)> {
        let mut v: Vec<(&str, &GqlValue)> =
            self.args.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub(super) fn same_args(&self, other: &Usage) -> bool {
        self.sorted_args() == other.sorted_args()
    }

    pub(super) fn render(&self) -> String {
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
pub(super) enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    pub(super) fn non_null(&self) -> bool {
        matches!(self, Ty::NonNull(_))
    }

    /// The type with every `!` removed.
    pub(super) fn nullable_shape(&self) -> Ty {
        match self {
            Ty::Named(n) => Ty::Named(n.clone()),
            Ty::List(t) => Ty::List(Box::new(t.nullable_shape())),
            Ty::NonNull(t) => t.nullable_shape(),
        }
    }

    pub(super) fn split(&self) -> (bool, &Ty) {
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
pub(super) fn nullability_moves(a: &Ty, b: &Ty, added: &mut bool, removed: &mut bool) {
    let (na, ia) = a.split();
    let (nb, ib) = b.split();
    *added |= !na && nb;
    *removed |= na && !nb;
    if let (Ty::List(xa), Ty::List(xb)) = (ia, ib) {
        nullability_moves(xa, xb, added, removed);
    }
}

/// A GraphQL value (a default value or a directive argument), as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum GqlValue {
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
pub(super) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
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

pub(super) fn render_value(v: &GqlValue) -> String {
    // Block strings are laid out over several lines.
    v.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Directive locations, by their names in the SDL.
pub(super) const LOCATIONS: [&str; 19] = [
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
