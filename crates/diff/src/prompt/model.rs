//! The prompt model: one [`Prompt`] whatever the format, and the parts
//! the readers fill (tools, fields, the body's sentences).
//!
//! In: nothing (the readers fill it). Out: what `compare` compares.

use crate::tree::Node;

/// The prompt formats read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dotprompt,
    Prompty,
    Library,
    /// A text with no front matter: all body.
    Template,
}

/// A parsed prompt file: one prompt, or a library of them.
#[derive(Debug, Clone)]
pub struct PromptFile {
    pub format: Format,
    pub prompts: Vec<Prompt>,
    /// Library-level keys other than `prompts`.
    pub extra: Vec<(String, Node)>,
}

/// One prompt, whatever its format.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    pub id: String,
    pub line: u32,
    /// The model identifier (`provider/name` when both are known) and its line.
    pub model: Option<(String, u32)>,
    /// Sampling parameters and other model settings, by name.
    pub config: Vec<(String, Node)>,
    pub tools: Vec<Tool>,
    pub inputs: Vec<Field>,
    pub output_format: Option<Node>,
    pub outputs: Vec<Field>,
    pub output_options: Vec<(String, Node)>,
    /// `metadata.*`, `description`, `authors`, `sample`, ...
    pub metadata: Vec<(String, Node)>,
    pub body: Body,
    /// Keys not modelled here, compared as configuration.
    pub extra: Vec<(String, Node)>,
}

/// A tool the prompt lets the model call.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub side_effects: Option<bool>,
    pub def: Option<Node>,
    pub line: u32,
}

/// An input or output field (nested fields are `a.b`, array items `a[].b`).
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: String,
    pub required: bool,
    pub default: Option<Node>,
    pub values: Vec<Node>,
    pub description: Option<String>,
    pub line: u32,
}

/// The template text as normalised sentences, and its variables.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub segments: Vec<Segment>,
    /// Template variables in first-use order, with their lines.
    pub variables: Vec<(String, u32)>,
}

/// A sentence or line of the body, comments stripped, whitespace collapsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub role: Option<String>,
    pub text: String,
    pub line: u32,
}

/// A piece of template text: its role (from a message list) and first line.
pub(super) struct Chunk {
    pub(super) role: Option<String>,
    pub(super) text: String,
    pub(super) line: u32,
}
