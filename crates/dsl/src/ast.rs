//! The syntax tree of a pack, as written (before name resolution).
//!
//! Every node has a [`Span`]. Numeric literals keep their raw text so that
//! `tenet fmt` prints `10_000` back as the author wrote it.

use crate::source::{FileId, Span};

/// An identifier or a block name, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed `.tenet` file.
#[derive(Debug, Clone)]
pub struct Pack {
    pub file: FileId,
    /// The language version from the `tenet N` header.
    pub lang_version: u32,
    pub header_span: Span,
    pub name: Ident,
    pub version: String,
    pub version_span: Span,
    pub items: Vec<Item>,
    /// Comments with their spans, in source order (for `fmt`).
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Item {
    Import(Import),
    Const(Const),
    Block(Block),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Const(c) => c.span,
            Item::Block(b) => b.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Import {
    pub pack: Ident,
    pub alias: Option<Ident>,
    pub span: Span,
}

impl Import {
    /// The name the importing pack uses for the imported one.
    pub fn local_name(&self) -> &Ident {
        self.alias.as_ref().unwrap_or(&self.pack)
    }
}

#[derive(Debug, Clone)]
pub struct Const {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `kind name { attributes and nested blocks }`: the one shape of every block.
#[derive(Debug, Clone)]
pub struct Block {
    pub kind: Ident,
    pub name: Option<Ident>,
    /// True when the name was written as a string literal (`rollout "x"`).
    pub name_quoted: bool,
    pub entries: Vec<Entry>,
    pub span: Span,
}

impl Block {
    pub fn attrs(&self) -> impl Iterator<Item = &Attr> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Attr(a) => Some(a),
            Entry::Block(_) => None,
        })
    }
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Block(b) => Some(b),
            Entry::Attr(_) => None,
        })
    }
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs().find(|a| a.key.name == key)
    }
    /// `kind name` or just `kind`, for messages.
    pub fn title(&self) -> String {
        match &self.name {
            Some(n) => format!("{} {}", self.kind.name, n.name),
            None => self.kind.name.clone(),
        }
    }
    pub fn name_str(&self) -> &str {
        self.name.as_ref().map(|n| n.name.as_str()).unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub enum Entry {
    Attr(Attr),
    Block(Block),
}

impl Entry {
    pub fn span(&self) -> Span {
        match self {
            Entry::Attr(a) => a.span,
            Entry::Block(b) => b.span,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Lit(Lit),
    /// A string literal; plain strings are a template with one text part.
    Template(Vec<TemplatePart>),
    List(Vec<Expr>),
    Map(Vec<(Ident, Expr)>),
    Name(String),
    Member(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    Call(Ident, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Quant(Quant, Ident, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Unescaped text.
    Text(String),
    Expr(Expr),
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        crate::fmt::expr_to_string(self) == crate::fmt::expr_to_string(other)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int { value: i64, raw: String },
    Float { value: f64, raw: String },
    Duration { ms: i64, raw: String },
    Percent { value: f64, raw: String },
    Size { bytes: u64, raw: String },
    Semver(String),
    Regex(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Matches,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Matches => "matches",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
    /// Binding strength; higher binds tighter. `not` sits at 3.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::In | BinOp::NotIn | BinOp::Matches => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div => 6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quant {
    Any,
    All,
    Count,
}

impl Quant {
    pub fn keyword(self) -> &'static str {
        match self {
            Quant::Any => "any",
            Quant::All => "all",
            Quant::Count => "count",
        }
    }
}
