//! Prompts: Dotprompt (`.prompt`), Prompty (`.prompty`) and plain YAML
//! prompt libraries, told apart by content.
//!
//! - **Dotprompt**: YAML front matter between `---` lines (`model`,
//!   `config`, `tools`, `input.schema` in Picoschema or JSON Schema,
//!   `input.default`, `output.format`/`schema`, `metadata`) then a Handlebars
//!   body (`{{! c }}`, `{{!-- c --}}` comments, `{{role "system"}}`).
//! - **Prompty**: front matter (`name`, `description`, `authors`, `model`
//!   {`api`, `configuration`, `parameters`}, `inputs`, `outputs`, `sample`,
//!   `template`) then a Jinja2/Mustache body (`{# c #}` comments, `system:` /
//!   `user:` role lines).
//! - **Library**: a YAML file with top-level `prompts:`, a map of id → entry
//!   or a list of entries with `id` (else `name`); each entry has `template`
//!   (or `prompt`: text, or a list of `{role, content}` messages) and
//!   optionally the keys above. A YAML map with a top-level `template` or
//!   `prompt` text is one entry; any other text is a bare template.
//!
//! Every prompt is read into one model ([`Prompt`]) and compared part by
//! part; paths are `<prompt id or "(prompt)">.<part>`. The body is cut into
//! sentences and lines (comments stripped, whitespace collapsed, template
//! tags normalised) and compared word by word with an LCS, so re-wrapping
//! is silent; every sentence or line holding a removed or added word is
//! reported whole, as `prompt.instruction_removed` / `_added` with the text
//! in `value`. What counts as a refusal is left to the rule pack.
//!
//! Facts: `prompt.model_changed`, `prompt.config_changed`,
//! `prompt.tool_added` / `_removed` / `_changed`, `prompt.input_added` /
//! `_removed` / `_type_changed` / `_required_changed` / `_default_changed`
//! (direction request; `required` = no Picoschema `?`, in JSON Schema
//! `required`, and no default), `enum.value_added` / `_removed` for enum
//! inputs and outputs, `prompt.output_changed` (direction response, `change`
//! says what), `prompt.instruction_removed` / `_added`,
//! `prompt.variable_added` / `_removed`, `prompt.added` / `_removed` for
//! library entries, `metadata.changed` (metadata, description, authors,
//! sample, name, version, tags; field descriptions); other keys as
//! configuration facts.
//!
//! Tools may be names or maps; a map's `side_effects`/`sideEffects` (or the
//! negation of `read_only`/`readOnly`/`readOnlyHint`, also under
//! `annotations`) gives the `side_effects` fact, otherwise it is left unset.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use super::change::{Change, Changes, Direction};
use super::tree::{self, Data, Node, ParseError};
use super::{ArtifactError, Options};

/// Above this many LCS cells the body is compared sentence by sentence.
const LCS_BUDGET: usize = 4_000_000;

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
struct Chunk {
    role: Option<String>,
    text: String,
    line: u32,
}

// ---------------------------------------------------------------------------
// Parsing

/// Parses a prompt file of any of the three formats.
pub fn parse(text: &str) -> Result<PromptFile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.first().is_some_and(|l| l.trim_end() == "---") {
        let close = lines
            .iter()
            .skip(1)
            .position(|l| l.trim_end() == "---")
            .map(|p| p + 1);
        if let Some(close) = close {
            // A leading newline keeps the front matter's lines those of the file.
            let yaml = format!("\n{}", lines[1..close].join("\n"));
            let fm = tree::parse(&yaml)?;
            let body = lines[close + 1..].join("\n");
            return front_matter_file(&fm, body, close as u32 + 2);
        }
        return match tree::parse(text) {
            Ok(n) if n.get("prompts").is_some() => library(&n),
            Err(e) if mentions_prompts(text) => Err(e),
            _ => Err(ParseError {
                line: 1,
                col: 1,
                message: "the front matter opened by `---` on line 1 is not closed by a `---` line"
                    .into(),
            }),
        };
    }
    match tree::parse(text) {
        Ok(n) if n.get("prompts").is_some() => library(&n),
        Ok(n)
            if ["template", "prompt"]
                .iter()
                .any(|k| n.get(k).is_some_and(is_template)) =>
        {
            let p = entry("(prompt)".into(), &n, None)?;
            Ok(PromptFile {
                format: Format::Library,
                prompts: vec![p],
                extra: vec![],
            })
        }
        Err(e) if mentions_prompts(text) => Err(e),
        _ => {
            let chunks = [Chunk {
                role: None,
                text: text.to_string(),
                line: 1,
            }];
            let jinja = text.contains("{%");
            let p = Prompt {
                id: "(prompt)".into(),
                line: 1,
                body: build_body(&chunks, jinja),
                ..Prompt::default()
            };
            Ok(PromptFile {
                format: Format::Template,
                prompts: vec![p],
                extra: vec![],
            })
        }
    }
}

fn mentions_prompts(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("prompts:") || l.trim_start().starts_with("\"prompts\""))
}

fn is_template(n: &Node) -> bool {
    matches!(n.data, Data::String(_) | Data::Seq(_))
}

fn err(line: u32, message: impl Into<String>) -> ParseError {
    ParseError {
        line: line.max(1),
        col: 1,
        message: message.into(),
    }
}

fn front_matter_file(fm: &Node, body: String, body_line: u32) -> Result<PromptFile, ParseError> {
    if !fm.is_map() && !matches!(fm.data, Data::Null) {
        return Err(err(2, "the front matter must be a YAML mapping"));
    }
    if fm.get("prompts").is_some() && body.trim().is_empty() {
        return library(fm);
    }
    let prompty = ["inputs", "outputs", "sample", "authors"]
        .iter()
        .any(|k| fm.get(k).is_some())
        || fm.get("model").is_some_and(|m| {
            ["api", "configuration", "parameters"]
                .iter()
                .any(|k| m.get(k).is_some())
        });
    let format = if prompty {
        Format::Prompty
    } else {
        Format::Dotprompt
    };
    let mut p = Prompt {
        id: "(prompt)".into(),
        line: 1,
        ..Prompt::default()
    };
    read_keys(&mut p, fm, true, None)?;
    let jinja = prompty || body.contains("{%");
    p.body = build_body(
        &[Chunk {
            role: None,
            text: body,
            line: body_line,
        }],
        jinja,
    );
    Ok(PromptFile {
        format,
        prompts: vec![p],
        extra: vec![],
    })
}

fn library(n: &Node) -> Result<PromptFile, ParseError> {
    let mut prompts: Vec<Prompt> = Vec::new();
    let mut extra = Vec::new();
    for (k, v) in n.entries() {
        if k != "prompts" {
            extra.push((k.clone(), v.clone()));
        }
    }
    let list = n.get("prompts").map(|p| (p, &p.data));
    match list {
        Some((_, Data::Map(entries))) => {
            for (id, e) in entries {
                prompts.push(entry(id.clone(), e, None)?);
            }
        }
        Some((_, Data::Seq(items))) => {
            let key = if items.iter().all(|i| i.get("id").is_some()) {
                "id"
            } else {
                "name"
            };
            for (i, e) in items.iter().enumerate() {
                let id = e
                    .get(key)
                    .map(scalar_text)
                    .unwrap_or_else(|| format!("[{i}]"));
                let id = if prompts.iter().any(|p| p.id == id) {
                    format!("{id}[{i}]")
                } else {
                    id
                };
                prompts.push(entry(id, e, Some(key))?);
            }
        }
        Some((_, Data::Null)) => {}
        Some((p, _)) => {
            return Err(err(
                p.line,
                "`prompts` must be a map of id → prompt or a list of prompts",
            ))
        }
        None => {}
    }
    Ok(PromptFile {
        format: Format::Library,
        prompts,
        extra,
    })
}

/// A library entry: a template text, or a map of prompt keys.
fn entry(id: String, e: &Node, identity: Option<&str>) -> Result<Prompt, ParseError> {
    let mut p = Prompt {
        id,
        line: e.line,
        ..Prompt::default()
    };
    match &e.data {
        Data::String(_) | Data::Seq(_) => {
            let chunks = template_chunks(e);
            let jinja = chunks.iter().any(|c| c.text.contains("{%"));
            p.body = build_body(&chunks, jinja);
        }
        Data::Map(_) => {
            let chunks = read_keys(&mut p, e, false, identity)?;
            let jinja = chunks.iter().any(|c| c.text.contains("{%"));
            p.body = build_body(&chunks, jinja);
        }
        _ => {
            return Err(err(
                e.line,
                format!("prompt `{}` must be a template text or a map", p.id),
            ))
        }
    }
    Ok(p)
}

/// Reads the keys of a front matter or library entry into `p`; returns the
/// template text of a library entry.
fn read_keys(
    p: &mut Prompt,
    n: &Node,
    front_matter: bool,
    identity: Option<&str>,
) -> Result<Vec<Chunk>, ParseError> {
    let mut chunks = Vec::new();
    for (k, v) in n.entries() {
        match k.as_str() {
            "model" => read_model(p, v),
            "config" | "parameters" => match &v.data {
                Data::Map(m) => p.config.extend(m.iter().cloned()),
                _ => p.config.push((k.clone(), v.clone())),
            },
            "tools" => p.tools = read_tools(v),
            "input" => read_input(p, v),
            "inputs" => p.inputs.extend(fields_map(v)),
            "output" => read_output(p, v),
            "outputs" => p.outputs.extend(fields_map(v)),
            "metadata" => match &v.data {
                Data::Map(m) => p.metadata.extend(
                    m.iter()
                        .map(|(mk, mv)| (format!("metadata.{mk}"), mv.clone())),
                ),
                _ => p.metadata.push((k.clone(), v.clone())),
            },
            "description" | "authors" | "sample" | "version" | "tags" | "title" => {
                p.metadata.push((k.clone(), v.clone()))
            }
            "name" | "id" if identity == Some(k.as_str()) => {}
            "name" => p.metadata.push((k.clone(), v.clone())),
            "template" if front_matter => p.config.push((k.clone(), v.clone())),
            "template" | "prompt" | "messages" if !front_matter => {
                if !is_template(v) && !matches!(v.data, Data::Null) {
                    return Err(err(
                        v.line,
                        format!(
                            "`{k}` of prompt `{}` must be a text or a list of messages",
                            p.id
                        ),
                    ));
                }
                chunks.extend(template_chunks(v));
            }
            _ => p.extra.push((k.clone(), v.clone())),
        }
    }
    Ok(chunks)
}

/// Template text from a YAML string or a list of `{role, content}` messages.
fn template_chunks(v: &Node) -> Vec<Chunk> {
    // A block scalar starts on the line after its key.
    let start = |n: &Node, s: &str| if s.contains('\n') { n.line + 1 } else { n.line };
    match &v.data {
        Data::String(s) => vec![Chunk {
            role: None,
            text: s.clone(),
            line: start(v, s),
        }],
        Data::Seq(items) => items
            .iter()
            .filter_map(|m| match &m.data {
                Data::String(s) => Some(Chunk {
                    role: None,
                    text: s.clone(),
                    line: start(m, s),
                }),
                Data::Map(_) => {
                    let c = m.get("content").or_else(|| m.get("text"))?;
                    let s = c.as_str()?;
                    let role = m
                        .get("role")
                        .and_then(Node::as_str)
                        .map(str::to_ascii_lowercase);
                    Some(Chunk {
                        role,
                        text: s.to_string(),
                        line: start(c, s),
                    })
                }
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

fn scalar_text(n: &Node) -> String {
    match &n.data {
        Data::String(s) => s.clone(),
        _ => n.to_json().to_string(),
    }
}

fn read_model(p: &mut Prompt, v: &Node) {
    let conf = v.get("configuration");
    if !v.is_map() {
        p.model = Some((scalar_text(v), v.line));
        return;
    }
    // (key, in configuration?) of the provider and of the model name.
    let pick = |keys: &[&str]| -> Option<(String, bool, String)> {
        keys.iter().find_map(|k| {
            if let Some(x) = v.get(k).and_then(Node::as_str) {
                return Some((k.to_string(), false, x.to_string()));
            }
            conf.and_then(|c| c.get(k))
                .and_then(Node::as_str)
                .map(|x| (k.to_string(), true, x.to_string()))
        })
    };
    let provider = pick(&["provider", "type"]);
    let name = pick(&["name", "model", "id", "azure_deployment", "deployment"]);
    let used = |k: &str, in_conf: bool| {
        [&provider, &name].iter().any(|u| {
            u.as_ref()
                .is_some_and(|(uk, uc, _)| uk == k && *uc == in_conf)
        })
    };
    p.model = match (&provider, &name) {
        (Some((_, _, pv)), Some((_, _, nv))) => Some(format!("{pv}/{nv}")),
        (None, Some((_, _, x))) | (Some((_, _, x)), None) => Some(x.clone()),
        (None, None) => None,
    }
    .map(|m| (m, v.line));
    for (k, x) in v.entries() {
        match k.as_str() {
            _ if used(k, false) => {}
            "configuration" => {
                for (ck, cv) in x.entries() {
                    if !used(ck, true) {
                        p.config.push((format!("configuration.{ck}"), cv.clone()));
                    }
                }
            }
            "parameters" | "options" | "config" if x.is_map() => {
                p.config.extend(x.entries().iter().cloned())
            }
            _ => p.config.push((k.clone(), x.clone())),
        }
    }
}

fn read_tools(v: &Node) -> Vec<Tool> {
    let tool = |name: String, def: Option<&Node>, line: u32| Tool {
        name,
        side_effects: def.and_then(side_effects),
        def: def.cloned(),
        line,
    };
    match &v.data {
        Data::String(s) => vec![tool(s.clone(), None, v.line)],
        Data::Seq(items) => items
            .iter()
            .filter_map(|i| match &i.data {
                Data::String(s) => Some(tool(s.clone(), None, i.line)),
                Data::Map(_) => {
                    let name = i.get("name").map(scalar_text)?;
                    Some(tool(name, Some(i), i.line))
                }
                _ => None,
            })
            .collect(),
        Data::Map(m) => m
            .iter()
            .map(|(k, d)| tool(k.clone(), d.is_map().then_some(d), d.line))
            .collect(),
        _ => vec![],
    }
}

/// Whether a tool declaration says it acts on the world; `None` when it does not say.
fn side_effects(def: &Node) -> Option<bool> {
    let direct = |n: &Node| -> Option<bool> {
        for k in ["side_effects", "sideEffects"] {
            if let Some(b) = n.get(k).and_then(Node::as_bool) {
                return Some(b);
            }
        }
        for k in ["read_only", "readOnly", "readOnlyHint"] {
            if let Some(b) = n.get(k).and_then(Node::as_bool) {
                return Some(!b);
            }
        }
        None
    };
    direct(def).or_else(|| def.get("annotations").and_then(direct))
}

fn read_input(p: &mut Prompt, v: &Node) {
    let standard = ["schema", "jsonSchema", "default"]
        .iter()
        .any(|k| v.get(k).is_some());
    if !standard {
        schema_fields("", v, None, &mut p.inputs);
        return;
    }
    if let Some(s) = v.get("schema").or_else(|| v.get("jsonSchema")) {
        schema_fields("", s, v.get("default"), &mut p.inputs);
    }
    let rest: Vec<(String, Node)> = v
        .entries()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "schema" | "jsonSchema" | "default"))
        .cloned()
        .collect();
    if !rest.is_empty() {
        p.extra
            .push(("input".into(), Node::new(v.line, Data::Map(rest))));
    }
}

fn read_output(p: &mut Prompt, v: &Node) {
    let standard = ["schema", "jsonSchema", "format"]
        .iter()
        .any(|k| v.get(k).is_some());
    if !standard {
        schema_fields("", v, None, &mut p.outputs);
        return;
    }
    for (k, x) in v.entries() {
        match k.as_str() {
            "format" => p.output_format = Some(x.clone()),
            "schema" | "jsonSchema" => schema_fields("", x, None, &mut p.outputs),
            _ => p.output_options.push((k.clone(), x.clone())),
        }
    }
}

fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn split_desc(s: &str) -> (String, Option<String>) {
    match s.split_once(',') {
        Some((t, d)) => (
            t.trim().to_string(),
            Some(d.trim().to_string()).filter(|d| !d.is_empty()),
        ),
        None => (s.trim().to_string(), None),
    }
}

const JSON_TYPES: [&str; 7] = [
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Fields of a Picoschema or JSON Schema (Dotprompt reads a top-level `type`
/// or `properties` as JSON Schema, anything else as Picoschema).
fn schema_fields(prefix: &str, n: &Node, defaults: Option<&Node>, out: &mut Vec<Field>) {
    let json_schema = n
        .get("type")
        .and_then(Node::as_str)
        .is_some_and(|t| JSON_TYPES.contains(&t))
        || n.get("properties").is_some_and(Node::is_map);
    if json_schema {
        return json_fields(prefix, n, defaults, out);
    }
    let field = |name: String, ty: String, line: u32| Field {
        name,
        ty,
        required: true,
        default: None,
        values: vec![],
        description: None,
        line,
    };
    match &n.data {
        Data::Map(m) => {
            for (k, v) in m {
                pico_field(prefix, k, v, defaults, out);
            }
        }
        Data::Null => {}
        Data::String(s) => {
            let (ty, description) = split_desc(s);
            let name = if prefix.is_empty() {
                "(value)".to_string()
            } else {
                prefix.to_string()
            };
            out.push(Field {
                description,
                ..field(name, ty, n.line)
            });
        }
        _ => out.push(field(
            child(prefix, "(value)"),
            n.type_name().into(),
            n.line,
        )),
    }
}

fn pico_field(prefix: &str, key: &str, v: &Node, defaults: Option<&Node>, out: &mut Vec<Field>) {
    let (name_part, paren) = match key.find('(') {
        Some(i) if key.ends_with(')') => (&key[..i], Some(&key[i + 1..key.len() - 1])),
        _ => (key, None),
    };
    let optional = name_part.trim_end().ends_with('?');
    let mut name = name_part.trim().trim_end_matches('?').trim().to_string();
    let (mut ptype, pdesc) = match paren.map(split_desc) {
        Some((t, d)) => (Some(t), d),
        None => (None, None),
    };
    if name.is_empty() || ptype.as_deref() == Some("*") {
        // `(*): type` — any further keys.
        name = "*".into();
        ptype = None;
    }
    let full = child(prefix, &name);
    let default = if prefix.is_empty() {
        defaults.and_then(|d| d.get(&name)).cloned()
    } else {
        None
    };
    let mut f = Field {
        name: full.clone(),
        ty: String::new(),
        required: !optional && default.is_none(),
        default,
        values: vec![],
        description: pdesc,
        line: v.line,
    };
    let mut nested: Option<String> = None;
    match ptype.as_deref() {
        Some("object") => {
            f.ty = "object".into();
            nested = Some(full.clone());
        }
        Some("array") => match &v.data {
            Data::String(s) => {
                let (t, d) = split_desc(s);
                f.ty = format!("array<{t}>");
                f.description = f.description.or(d);
            }
            Data::Map(_) => {
                f.ty = "array<object>".into();
                nested = Some(format!("{full}[]"));
            }
            _ => f.ty = "array".into(),
        },
        Some("enum") => {
            f.ty = "enum".into();
            f.values = v.items().to_vec();
        }
        Some(t) => {
            f.ty = t.to_string();
            if let Some(s) = v.as_str() {
                f.description = f.description.or(Some(s.to_string()));
            }
        }
        None => match &v.data {
            Data::String(s) => {
                let (t, d) = split_desc(s);
                f.ty = t;
                f.description = d;
            }
            Data::Map(_) => {
                f.ty = "object".into();
                nested = Some(full.clone());
            }
            Data::Seq(items) => {
                f.ty = "enum".into();
                f.values = items.clone();
            }
            Data::Null => f.ty = "any".into(),
            _ => f.ty = v.type_name().into(),
        },
    }
    out.push(f);
    if let Some(prefix) = nested {
        schema_fields(&prefix, v, None, out);
    }
}

fn json_type(p: &Node) -> String {
    let mut t = match p.get("type").map(|t| &t.data) {
        Some(Data::String(s)) if s == "array" => {
            format!(
                "array<{}>",
                p.get("items")
                    .map(json_type)
                    .unwrap_or_else(|| "any".into())
            )
        }
        Some(Data::String(s)) => s.clone(),
        Some(Data::Seq(_)) => p
            .get("type")
            .map(Node::strings)
            .unwrap_or_default()
            .join("|"),
        _ => {
            if let Some(r) = p.get("$ref").and_then(Node::as_str) {
                format!("$ref:{r}")
            } else if p.get("enum").is_some() {
                "enum".into()
            } else if p.get("anyOf").is_some() || p.get("oneOf").is_some() {
                "union".into()
            } else if p.get("properties").is_some() {
                "object".into()
            } else {
                "any".into()
            }
        }
    };
    if p.get("nullable").and_then(Node::as_bool) == Some(true) {
        t.push_str("|null");
    }
    t
}

fn json_fields(prefix: &str, n: &Node, defaults: Option<&Node>, out: &mut Vec<Field>) {
    let Some(props) = n.get("properties") else {
        if prefix.is_empty() {
            out.push(Field {
                name: "(value)".into(),
                ty: json_type(n),
                required: true,
                default: None,
                values: n
                    .get("enum")
                    .map(|e| e.items().to_vec())
                    .unwrap_or_default(),
                description: n
                    .get("description")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                line: n.line,
            });
        }
        return;
    };
    let required = n.get("required").map(Node::strings).unwrap_or_default();
    for (k, p) in props.entries() {
        let full = child(prefix, k);
        let default = p
            .get("default")
            .or_else(|| {
                if prefix.is_empty() {
                    defaults.and_then(|d| d.get(k))
                } else {
                    None
                }
            })
            .cloned();
        out.push(Field {
            name: full.clone(),
            ty: json_type(p),
            required: required.contains(k) && default.is_none(),
            default,
            values: p
                .get("enum")
                .map(|e| e.items().to_vec())
                .unwrap_or_default(),
            description: p
                .get("description")
                .and_then(Node::as_str)
                .map(str::to_string),
            line: p.line,
        });
        if p.get("properties").is_some() {
            json_fields(&full, p, None, out);
        } else if let Some(items) = p.get("items").filter(|i| i.get("properties").is_some()) {
            json_fields(&format!("{full}[]"), items, None, out);
        }
    }
}

/// Prompty `inputs` / `outputs`: a map of name → spec, or a list.
fn fields_map(v: &Node) -> Vec<Field> {
    let mut out = Vec::new();
    match &v.data {
        Data::Map(m) => {
            for (k, spec) in m {
                spec_field(k, spec, &mut out);
            }
        }
        Data::Seq(items) => {
            for i in items {
                match (&i.data, i.get("name").map(scalar_text)) {
                    (Data::String(s), _) => spec_field(s, &Node::new(i.line, Data::Null), &mut out),
                    (_, Some(name)) => spec_field(&name, i, &mut out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

const TYPE_NAMES: [&str; 12] = [
    "string", "number", "integer", "boolean", "object", "array", "list", "dict", "any", "float",
    "int", "bool",
];

fn spec_field(name: &str, spec: &Node, out: &mut Vec<Field>) {
    let mut f = Field {
        name: name.to_string(),
        ty: "any".into(),
        required: true,
        default: None,
        values: vec![],
        description: None,
        line: spec.line,
    };
    match &spec.data {
        Data::Map(_) => {
            f.ty = spec
                .get("type")
                .map(|_| json_type(spec))
                .unwrap_or_else(|| "any".into());
            f.default = spec.get("default").cloned();
            f.required = spec
                .get("required")
                .and_then(Node::as_bool)
                .unwrap_or(f.default.is_none());
            f.values = spec
                .get("enum")
                .map(|e| e.items().to_vec())
                .unwrap_or_default();
            f.description = spec
                .get("description")
                .and_then(Node::as_str)
                .map(str::to_string);
            out.push(f);
            if spec.get("properties").is_some() {
                json_fields(name, spec, None, out);
            }
        }
        Data::String(s) if TYPE_NAMES.contains(&s.as_str()) => {
            f.ty = s.clone();
            out.push(f);
        }
        Data::Null => out.push(f),
        _ => {
            // A bare value is a default (older Prompty files).
            f.ty = spec.type_name().into();
            f.default = Some(spec.clone());
            f.required = false;
            out.push(f);
        }
    }
}

// ---------------------------------------------------------------------------
// Body: comments, segments, variables

/// Removes `{{! }}`, `{{!-- --}}` and `{# #}` comments, keeping their newlines.
fn strip_comments(text: &str) -> String {
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
struct Tag<'a> {
    start: usize,
    end: usize,
    open: &'static str,
    inner: &'a str,
}

/// The `{{ }}`, `{{{ }}}` and `{% %}` tags of a text, in order.
fn tags(text: &str) -> Vec<Tag<'_>> {
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
fn tag_content(inner: &str) -> String {
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
fn normalize_tags(s: &str) -> String {
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
fn role_tag(content: &str) -> Option<String> {
    let rest = content.strip_prefix("role ")?.trim();
    let r = rest.trim_matches(|c| c == '"' || c == '\'');
    (!r.is_empty() && !r.contains(' ')).then(|| r.to_ascii_lowercase())
}

/// A Prompty role line (`system:`, `# user:`).
fn role_line(t: &str) -> Option<String> {
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
fn starts_block(s: &str) -> bool {
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
fn control_only(s: &str) -> bool {
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

fn ends_sentence(w: &str) -> bool {
    if w.ends_with("}}") || w.ends_with("%}") {
        return false;
    }
    let w = w.trim_end_matches(['"', '\'', ')', ']', '*', '_', '”', '’', '»']);
    w.ends_with(['.', '!', '?', '。', '！', '？'])
}

fn build_body(chunks: &[Chunk], jinja: bool) -> Body {
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

const NOT_VARIABLES: [&str; 17] = [
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

fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && cs.all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '-'))
}

fn add_var(name: &str, line: u32, vars: &mut Vec<(String, u32)>) {
    if is_ident(name) && !NOT_VARIABLES.contains(&name) && !vars.iter().any(|(v, _)| v == name) {
        vars.push((name.to_string(), line));
    }
}

/// The root of a Handlebars path (`user.name` → `user`), if it is a variable.
fn hbs_root(tok: &str, line: u32, vars: &mut Vec<(String, u32)>) {
    let tok = tok.trim_end_matches(')');
    if tok.starts_with(['"', '\'', '@', '(', '.']) || tok.starts_with(|c: char| c.is_ascii_digit())
    {
        return;
    }
    let root = tok.split(['.', '[', '/']).next().unwrap_or("");
    add_var(root, line, vars);
}

/// Root identifiers of a Jinja expression: not attributes, filters, calls or keywords.
fn jinja_roots(expr: &str, line: u32, vars: &mut Vec<(String, u32)>) {
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

fn find_variables(
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

// ---------------------------------------------------------------------------
// Diff

/// Diffs two versions of a prompt file.
pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let fa = parse(a).map_err(ArtifactError::base)?;
    let fb = parse(b).map_err(ArtifactError::head)?;
    diff_extra("", &fa.extra, &fb.extra, 0, 0, out);
    for p in &fa.prompts {
        match fb.prompts.iter().find(|q| q.id == p.id) {
            Some(q) => diff_prompt(p, q, out),
            None => out.push(
                Change::new("prompt.removed", p.id.clone())
                    .lines(p.line, 0)
                    .fact("name", p.id.as_str())
                    .fact(
                        "tools",
                        p.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                    ),
            ),
        }
    }
    for q in &fb.prompts {
        if !fa.prompts.iter().any(|p| p.id == q.id) {
            out.push(
                Change::new("prompt.added", q.id.clone())
                    .lines(0, q.line)
                    .fact("name", q.id.as_str())
                    .fact(
                        "tools",
                        q.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                    )
                    .fact(
                        "required_inputs",
                        q.inputs
                            .iter()
                            .filter(|f| f.required)
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>(),
                    ),
            );
        }
    }
    Ok(())
}

fn path(id: &str, part: &str) -> String {
    format!("{id}.{part}")
}

fn brief(n: Option<&Node>) -> Json {
    n.map(Node::brief).unwrap_or(Json::Null)
}

fn line_of(n: Option<&Node>) -> u32 {
    n.map(|n| n.line).unwrap_or(0)
}

fn diff_prompt(p: &Prompt, q: &Prompt, out: &mut Changes) {
    let id = p.id.as_str();
    // Model.
    let (ma, mb) = (p.model.as_ref(), q.model.as_ref());
    if ma.map(|m| &m.0) != mb.map(|m| &m.0) {
        out.push(
            Change::new("prompt.model_changed", path(id, "model"))
                .lines(ma.map(|m| m.1).unwrap_or(0), mb.map(|m| m.1).unwrap_or(0))
                .from_to(ma.map(|m| m.0.clone()), mb.map(|m| m.0.clone())),
        );
    }
    // Config.
    diff_named(
        "prompt.config_changed",
        &path(id, "config"),
        &p.config,
        &q.config,
        out,
    );
    diff_tools(id, &p.tools, &q.tools, out);
    diff_fields(id, "input", &p.inputs, &q.inputs, out);
    // Output.
    if p.output_format != q.output_format {
        out.push(
            Change::new("prompt.output_changed", path(id, "output.format"))
                .dir(Some(Direction::Response))
                .lines(
                    line_of(p.output_format.as_ref()),
                    line_of(q.output_format.as_ref()),
                )
                .from_to(
                    brief(p.output_format.as_ref()),
                    brief(q.output_format.as_ref()),
                )
                .fact("name", "format")
                .fact("change", "format_changed"),
        );
    }
    diff_fields(id, "output", &p.outputs, &q.outputs, out);
    for (k, va, vb) in pairs(&p.output_options, &q.output_options) {
        out.push(
            Change::new("prompt.output_changed", path(id, &format!("output.{k}")))
                .dir(Some(Direction::Response))
                .lines(line_of(va), line_of(vb))
                .from_to(brief(va), brief(vb))
                .fact("name", k)
                .fact("change", "option_changed"),
        );
    }
    diff_instructions(id, &p.body, &q.body, out);
    diff_variables(id, p, q, out);
    diff_named("metadata.changed", id, &p.metadata, &q.metadata, out);
    diff_extra(id, &p.extra, &q.extra, p.line, q.line, out);
}

/// Named values that differ: base order, then the head's new names.
fn pairs<'a>(
    a: &'a [(String, Node)],
    b: &'a [(String, Node)],
) -> Vec<(&'a str, Option<&'a Node>, Option<&'a Node>)> {
    let get = |xs: &'a [(String, Node)], k: &str| xs.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (k, va) in a {
        if seen.insert(k.as_str()) {
            let vb = get(b, k);
            if vb != Some(va) {
                out.push((k.as_str(), Some(va), vb));
            }
        }
    }
    for (k, vb) in b {
        if seen.insert(k.as_str()) {
            out.push((k.as_str(), None, Some(vb)));
        }
    }
    out
}

fn diff_named(
    kind: &str,
    base: &str,
    a: &[(String, Node)],
    b: &[(String, Node)],
    out: &mut Changes,
) {
    for (k, va, vb) in pairs(a, b) {
        out.push(
            Change::new(kind, format!("{base}.{k}"))
                .lines(line_of(va), line_of(vb))
                .from_to(brief(va), brief(vb))
                .fact("name", k),
        );
    }
}

fn diff_tools(id: &str, a: &[Tool], b: &[Tool], out: &mut Changes) {
    let with_se = |c: Change, t: &Tool| match t.side_effects {
        Some(s) => c.fact("side_effects", s),
        None => c,
    };
    for t in a {
        let p = path(id, &format!("tools.{}", t.name));
        match b.iter().find(|u| u.name == t.name) {
            None => out.push(with_se(
                Change::new("prompt.tool_removed", p)
                    .lines(t.line, 0)
                    .fact("name", t.name.as_str()),
                t,
            )),
            Some(u) if u.def != t.def => out.push(with_se(
                Change::new("prompt.tool_changed", p)
                    .lines(t.line, u.line)
                    .from_to(brief(t.def.as_ref()), brief(u.def.as_ref()))
                    .fact("name", t.name.as_str())
                    .fact(
                        "side_effects_before",
                        t.side_effects.map(Json::Bool).unwrap_or(Json::Null),
                    ),
                u,
            )),
            Some(_) => {}
        }
    }
    for u in b {
        if !a.iter().any(|t| t.name == u.name) {
            let p = path(id, &format!("tools.{}", u.name));
            out.push(with_se(
                Change::new("prompt.tool_added", p)
                    .lines(0, u.line)
                    .fact("name", u.name.as_str()),
                u,
            ));
        }
    }
}

fn diff_fields(id: &str, part: &str, a: &[Field], b: &[Field], out: &mut Changes) {
    let input = part == "input";
    let dir = Some(if input {
        Direction::Request
    } else {
        Direction::Response
    });
    let kind = |what: &str| {
        if input {
            format!("prompt.input_{what}")
        } else {
            "prompt.output_changed".to_string()
        }
    };
    let at = |f: &Field| path(id, &format!("{part}.{}", f.name));
    for f in a {
        let Some(g) = b.iter().find(|g| g.name == f.name) else {
            out.push(
                Change::new(&kind("removed"), at(f))
                    .dir(dir)
                    .lines(f.line, 0)
                    .from_to(f.ty.as_str(), Json::Null)
                    .fact("name", f.name.as_str())
                    .fact("required", f.required)
                    .fact("change", "field_removed"),
            );
            continue;
        };
        let lines = (f.line, g.line);
        if f.ty != g.ty {
            out.push(
                Change::new(&kind("type_changed"), at(f))
                    .dir(dir)
                    .lines(lines.0, lines.1)
                    .from_to(f.ty.as_str(), g.ty.as_str())
                    .fact("name", f.name.as_str())
                    .fact("required", g.required)
                    .fact("change", "type_changed"),
            );
        }
        if f.required != g.required {
            out.push(
                Change::new(&kind("required_changed"), at(f))
                    .dir(dir)
                    .lines(lines.0, lines.1)
                    .from_to(f.required, g.required)
                    .fact("name", f.name.as_str())
                    .fact("required", g.required)
                    .fact("change", "required_changed"),
            );
        }
        if f.default != g.default {
            out.push(
                Change::new(&kind("default_changed"), at(f))
                    .dir(dir)
                    .lines(lines.0, lines.1)
                    .from_to(brief(f.default.as_ref()), brief(g.default.as_ref()))
                    .fact("name", f.name.as_str())
                    .fact("change", "default_changed"),
            );
        }
        if f.ty == g.ty && f.values != g.values {
            for v in f.values.iter().filter(|v| !g.values.contains(v)) {
                out.push(
                    Change::new("enum.value_removed", at(f))
                        .dir(dir)
                        .lines(lines.0, lines.1)
                        .fact("name", f.name.as_str())
                        .fact("value", v.to_json()),
                );
            }
            for v in g.values.iter().filter(|v| !f.values.contains(v)) {
                out.push(
                    Change::new("enum.value_added", at(f))
                        .dir(dir)
                        .lines(lines.0, lines.1)
                        .fact("name", f.name.as_str())
                        .fact("value", v.to_json()),
                );
            }
        }
        if f.description != g.description {
            out.push(
                Change::new("metadata.changed", format!("{}.description", at(f)))
                    .lines(lines.0, lines.1)
                    .from_to(f.description.clone(), g.description.clone())
                    .fact("name", "description"),
            );
        }
    }
    for g in b {
        if !a.iter().any(|f| f.name == g.name) {
            out.push(
                Change::new(&kind("added"), at(g))
                    .dir(dir)
                    .lines(0, g.line)
                    .from_to(Json::Null, g.ty.as_str())
                    .fact("name", g.name.as_str())
                    .fact("required", g.required)
                    .fact("change", "field_added"),
            );
        }
    }
}

fn diff_variables(id: &str, p: &Prompt, q: &Prompt, out: &mut Changes) {
    let (va, vb) = (&p.body.variables, &q.body.variables);
    let declared =
        |pr: &Prompt, v: &str| pr.inputs.iter().find(|f| f.name == v).map(|f| f.required);
    for (v, line) in va {
        if !vb.iter().any(|(w, _)| w == v) {
            let mut c = Change::new(
                "prompt.variable_removed",
                path(id, &format!("variables.{v}")),
            )
            .dir(Some(Direction::Request))
            .lines(*line, 0)
            .fact("name", v.as_str())
            .fact("declared", declared(p, v).is_some());
            if let Some(r) = declared(p, v) {
                c = c.fact("required", r);
            }
            out.push(c);
        }
    }
    for (v, line) in vb {
        if !va.iter().any(|(w, _)| w == v) {
            let mut c = Change::new("prompt.variable_added", path(id, &format!("variables.{v}")))
                .dir(Some(Direction::Request))
                .lines(0, *line)
                .fact("name", v.as_str())
                .fact("declared", declared(q, v).is_some());
            if let Some(r) = declared(q, v) {
                c = c.fact("required", r);
            }
            out.push(c);
        }
    }
}

/// Unmodelled keys, compared as configuration (key order is not a change).
fn diff_extra(
    base: &str,
    a: &[(String, Node)],
    b: &[(String, Node)],
    la: u32,
    lb: u32,
    out: &mut Changes,
) {
    if a.is_empty() && b.is_empty() {
        return;
    }
    let na = Node::new(la, Data::Map(a.to_vec()));
    let nb = Node::new(lb, Data::Map(b.to_vec()));
    let mut tmp = Changes::default();
    super::config::diff_tree(base, &na, &nb, &mut tmp);
    out.0.extend(tmp.0.into_iter().filter(|c| {
        !(c.kind == "order.changed" && c.facts.get("significant") == Some(&Json::Bool(false)))
    }));
}

// ---------------------------------------------------------------------------
// Instructions: a word-level LCS, reported by sentence

/// Matched index pairs of a longest common subsequence, or `None` when the
/// differing middle is larger than `budget` cells.
fn lcs(a: &[u32], b: &[u32], budget: usize) -> Option<Vec<(usize, usize)>> {
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf]
    {
        suf += 1;
    }
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (am.len(), bm.len());
    let mut pairs: Vec<(usize, usize)> = (0..pre).map(|k| (k, k)).collect();
    if n > 0 && m > 0 {
        if (n + 1).saturating_mul(m + 1) > budget {
            return None;
        }
        let w = m + 1;
        let mut dp = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                dp[i * w + j] = if am[i] == bm[j] {
                    dp[(i + 1) * w + j + 1] + 1
                } else {
                    dp[(i + 1) * w + j].max(dp[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n && j < m {
            if am[i] == bm[j] {
                pairs.push((pre + i, pre + j));
                i += 1;
                j += 1;
            } else if dp[(i + 1) * w + j] >= dp[i * w + j + 1] {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    pairs.extend((0..suf).map(|k| (a.len() - suf + k, b.len() - suf + k)));
    Some(pairs)
}

fn diff_instructions(id: &str, a: &Body, b: &Body, out: &mut Changes) {
    // Tokens: (role, word) interned, with the segment each belongs to.
    let tok =
        |body: &Body, ids: &mut HashMap<(Option<String>, String), u32>| -> (Vec<u32>, Vec<usize>) {
            let mut t = Vec::new();
            let mut seg = Vec::new();
            for (si, s) in body.segments.iter().enumerate() {
                for w in s.text.split(' ') {
                    let next = ids.len() as u32;
                    t.push(*ids.entry((s.role.clone(), w.to_string())).or_insert(next));
                    seg.push(si);
                }
            }
            (t, seg)
        };
    let mut owned: HashMap<(Option<String>, String), u32> = HashMap::new();
    let (ta, sa) = tok(a, &mut owned);
    let (tb, sb) = tok(b, &mut owned);
    let token_pairs = match lcs(&ta, &tb, LCS_BUDGET) {
        Some(p) => p,
        None => segment_pairs(a, b, &sa, &sb),
    };
    let mut partner_a: Vec<Option<usize>> = vec![None; ta.len()];
    let mut partner_b: Vec<Option<usize>> = vec![None; tb.len()];
    for &(i, j) in &token_pairs {
        partner_a[i] = Some(j);
        partner_b[j] = Some(i);
    }
    // A sentence is unchanged when all its words are matched, in one run.
    let changed = |n_segs: usize, seg_of: &[usize], partner: &[Option<usize>]| -> Vec<bool> {
        let mut out = vec![false; n_segs];
        let mut prev: Vec<Option<usize>> = vec![None; n_segs];
        for (k, s) in seg_of.iter().enumerate() {
            match partner[k] {
                None => out[*s] = true,
                Some(p) => {
                    if prev[*s].is_some_and(|q| q + 1 != p) {
                        out[*s] = true;
                    }
                    prev[*s] = Some(p);
                }
            }
        }
        out
    };
    let ch_a = changed(a.segments.len(), &sa, &partner_a);
    let ch_b = changed(b.segments.len(), &sb, &partner_b);
    if !ch_a.contains(&true) && !ch_b.contains(&true) {
        return;
    }
    // Order: by position in the head (a removal sits where the next kept word is), removals first.
    let (fa, fb) = (
        first_tokens(&sa, a.segments.len()),
        first_tokens(&sb, b.segments.len()),
    );
    let anchor_a = |i: usize| -> usize {
        let k = token_pairs.partition_point(|(pi, _)| *pi < i);
        token_pairs.get(k).map(|(_, pj)| *pj).unwrap_or(tb.len())
    };
    let mut events: Vec<(usize, u8, usize)> = Vec::new();
    for (s, c) in ch_a.iter().enumerate() {
        if *c {
            events.push((anchor_a(fa[s]), 0, s));
        }
    }
    for (s, c) in ch_b.iter().enumerate() {
        if *c {
            events.push((fb[s], 1, s));
        }
    }
    events.sort();
    for (_, side, s) in events {
        let (seg, kind) = if side == 0 {
            (&a.segments[s], "prompt.instruction_removed")
        } else {
            (&b.segments[s], "prompt.instruction_added")
        };
        let part = seg.role.as_deref().unwrap_or("template");
        let (lb, la) = if side == 0 {
            (seg.line, 0)
        } else {
            (0, seg.line)
        };
        let mut c = Change::new(kind, path(id, part))
            .lines(lb, la)
            .fact("value", seg.text.as_str());
        if let Some(r) = &seg.role {
            c = c.fact("role", r.as_str());
        }
        out.push(c);
    }
}

/// Fallback for very long bodies: an LCS of whole sentences, as token pairs.
fn segment_pairs(a: &Body, b: &Body, sa: &[usize], sb: &[usize]) -> Vec<(usize, usize)> {
    let mut ids: HashMap<(Option<&str>, &str), u32> = HashMap::new();
    let mut ka = Vec::new();
    let mut kb = Vec::new();
    for (side, segs) in [(0, &a.segments), (1, &b.segments)] {
        for s in segs.iter() {
            let next = ids.len() as u32;
            let k = *ids
                .entry((s.role.as_deref(), s.text.as_str()))
                .or_insert(next);
            if side == 0 {
                ka.push(k)
            } else {
                kb.push(k)
            }
        }
    }
    let seg_pairs = lcs(&ka, &kb, LCS_BUDGET).unwrap_or_default();
    let (fa, fb) = (
        first_tokens(sa, a.segments.len()),
        first_tokens(sb, b.segments.len()),
    );
    let mut out = Vec::new();
    for (x, y) in seg_pairs {
        let n = a.segments[x].text.split(' ').count();
        out.extend((0..n).map(|k| (fa[x] + k, fb[y] + k)));
    }
    out
}

/// The index of each segment's first token.
fn first_tokens(seg_of: &[usize], n: usize) -> Vec<usize> {
    let mut first = vec![seg_of.len(); n];
    for (k, s) in seg_of.iter().enumerate().rev() {
        first[*s] = k;
    }
    first
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_util::{fact, kinds, one};

    fn run(a: &str, b: &str) -> Vec<Change> {
        let mut out = Changes::default();
        diff(a, b, &Options::default(), &mut out).unwrap();
        out.0
    }

    const DOT: &str = r#"---
model: googleai/gemini-1.5-pro
config:
  temperature: 0.2
  maxOutputTokens: 400
tools: [lookupOrder, issueRefund]
input:
  schema:
    name: string, the user's name
    question: string
    limit?: integer
    tier(enum): [free, pro]
  default:
    limit: 5
output:
  format: json
  schema:
    answer: string
    sources?(array): string
metadata:
  owner: support
---
{{! internal note }}
{{role "system"}}
You are a support agent for {{company}}. Never share other customers' orders.
Answer briefly.

{{role "user"}}
{{name}} asks: {{question}}
"#;

    fn edit(from: &str, to: &str) -> String {
        assert!(DOT.contains(from), "{from}");
        DOT.replacen(from, to, 1)
    }

    #[test]
    fn dotprompt_cosmetic_edits_yield_nothing() {
        let b = r#"---
# settings
metadata:
  owner: support
config:
  maxOutputTokens: 400
  temperature: 0.2   # low
model: googleai/gemini-1.5-pro
input:
  default: {limit: 5}
  schema:
    name: string, the user's name
    question: string
    limit?: integer
    tier(enum): [free, pro]
tools:
  - lookupOrder
  - issueRefund
output:
  schema:
    answer: string
    sources?(array): string
  format: json
---
{{!-- a different,
   longer note --}}
{{ role "system" }}
You are a support agent for {{ company }}.
Never share other
customers' orders.    Answer briefly.
{{role "user"}}   {{~! trailing note ~}}
{{name}} asks: {{ question }}
"#;
        assert_eq!(run(DOT, b), vec![], "{:#?}", run(DOT, b));
        // The pipeline then reports one comment fact.
        let all = super::super::detect(
            super::super::ArtifactType::Prompt,
            Some(DOT),
            Some(b),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(kinds(&all), ["comment.changed"]);
    }

    #[test]
    fn model_and_config_changes() {
        let b = edit("gemini-1.5-pro", "gemini-2.0-flash")
            .replace("temperature: 0.2", "temperature: 0.9\n  topK: 40");
        let cs = run(DOT, &b);
        assert_eq!(
            kinds(&cs),
            [
                "prompt.model_changed",
                "prompt.config_changed",
                "prompt.config_changed"
            ]
        );
        let m = one(&cs, "prompt.model_changed", "(prompt).model");
        assert_eq!(
            (m.from.clone(), m.to.clone()),
            (
                Json::from("googleai/gemini-1.5-pro"),
                Json::from("googleai/gemini-2.0-flash")
            )
        );
        assert_eq!(m.line_before, Some(2));
        let t = one(&cs, "prompt.config_changed", "(prompt).config.temperature");
        assert_eq!(
            (fact(t, "name"), t.from.as_f64(), t.to.as_f64()),
            (&Json::from("temperature"), Some(0.2), Some(0.9))
        );
        let k = one(&cs, "prompt.config_changed", "(prompt).config.topK");
        assert_eq!((k.from.clone(), k.to.clone()), (Json::Null, Json::from(40)));
    }

    #[test]
    fn tools_added_removed_with_side_effects() {
        let b = edit(
            "tools: [lookupOrder, issueRefund]",
            "tools:\n  - lookupOrder\n  - {name: sendEmail, side_effects: true}\n  - {name: searchDocs, read_only: true}",
        );
        let cs = run(DOT, &b);
        assert_eq!(
            kinds(&cs),
            [
                "prompt.tool_removed",
                "prompt.tool_added",
                "prompt.tool_added"
            ]
        );
        let r = one(&cs, "prompt.tool_removed", "(prompt).tools.issueRefund");
        assert_eq!(fact(r, "name"), "issueRefund");
        assert!(!r.facts.contains_key("side_effects"));
        assert_eq!(
            fact(
                one(&cs, "prompt.tool_added", "(prompt).tools.sendEmail"),
                "side_effects"
            ),
            &Json::Bool(true)
        );
        let s = one(&cs, "prompt.tool_added", "(prompt).tools.searchDocs");
        assert_eq!(
            (fact(s, "side_effects"), s.line_after),
            (&Json::Bool(false), Some(9))
        );
        // A plain name has unknown side effects.
        let cs = run(DOT, &edit("issueRefund]", "issueRefund, cancelOrder]"));
        let c = one(&cs, "prompt.tool_added", "(prompt).tools.cancelOrder");
        assert!(!c.facts.contains_key("side_effects"));
    }

    #[test]
    fn input_schema_changes_are_request_facts() {
        let b = edit(
            "    question: string\n    limit?: integer\n",
            "    question: integer\n    email: string\n    tone?: string\n",
        )
        .replace(
            "tier(enum): [free, pro]",
            "tier(enum): [free, pro, enterprise]",
        );
        let cs = run(DOT, &b);
        let t = one(&cs, "prompt.input_type_changed", "(prompt).input.question");
        assert_eq!(
            (t.direction, t.from.clone(), t.to.clone()),
            (Some(Direction::Request), "string".into(), "integer".into())
        );
        let r = one(&cs, "prompt.input_removed", "(prompt).input.limit");
        assert_eq!(
            (r.direction, fact(r, "required")),
            (Some(Direction::Request), &Json::Bool(false))
        );
        let e = one(&cs, "prompt.input_added", "(prompt).input.email");
        assert_eq!(
            (e.direction, fact(e, "required"), e.to.clone()),
            (Some(Direction::Request), &Json::Bool(true), "string".into())
        );
        assert_eq!(
            fact(
                one(&cs, "prompt.input_added", "(prompt).input.tone"),
                "required"
            ),
            &Json::Bool(false)
        );
        let v = one(&cs, "enum.value_added", "(prompt).input.tier");
        assert_eq!(
            (v.direction, fact(v, "value")),
            (Some(Direction::Request), &Json::from("enterprise"))
        );
        // The default made `limit` optional; removing the default makes it required.
        let b = edit("  default:\n    limit: 5\n", "").replace("limit?: integer", "limit: integer");
        let cs = run(DOT, &b);
        let q = one(&cs, "prompt.input_required_changed", "(prompt).input.limit");
        assert_eq!(
            (q.from.clone(), q.to.clone()),
            (Json::Bool(false), Json::Bool(true))
        );
        one(&cs, "prompt.input_default_changed", "(prompt).input.limit");
    }

    #[test]
    fn output_changes_are_response_facts() {
        let b = edit("format: json", "format: text")
            .replace("    sources?(array): string\n", "    score: number\n");
        let cs = run(DOT, &b);
        let f = one(&cs, "prompt.output_changed", "(prompt).output.format");
        assert_eq!(
            (f.direction, f.from.clone(), f.to.clone()),
            (Some(Direction::Response), "json".into(), "text".into())
        );
        let r = one(&cs, "prompt.output_changed", "(prompt).output.sources");
        assert_eq!(
            (fact(r, "change"), r.from.clone()),
            (&Json::from("field_removed"), Json::from("array<string>"))
        );
        let a = one(&cs, "prompt.output_changed", "(prompt).output.score");
        assert_eq!(
            (a.direction, fact(a, "change")),
            (Some(Direction::Response), &Json::from("field_added"))
        );
    }

    #[test]
    fn removed_refusal_sentence_is_in_value() {
        let b = edit(" Never share other customers' orders.", "");
        let cs = run(DOT, &b);
        assert_eq!(kinds(&cs), ["prompt.instruction_removed"]);
        let c = &cs[0];
        assert_eq!(c.path, "(prompt).system");
        assert_eq!(fact(c, "value"), "Never share other customers' orders.");
        assert_eq!(
            (fact(c, "role"), c.line_before),
            (&Json::from("system"), Some(25))
        );
    }

    #[test]
    fn edited_sentence_is_removed_plus_added() {
        let b = edit("Answer briefly.", "Answer in detail, citing sources.");
        let cs = run(DOT, &b);
        assert_eq!(
            kinds(&cs),
            ["prompt.instruction_removed", "prompt.instruction_added"]
        );
        assert_eq!(fact(&cs[0], "value"), "Answer briefly.");
        assert_eq!(fact(&cs[1], "value"), "Answer in detail, citing sources.");
        assert_eq!((cs[0].line_before, cs[1].line_after), (Some(26), Some(26)));
        // Re-wrapping the neighbours as well still reports only the edit.
        let b = edit(
            "You are a support agent for {{company}}. Never share other customers' orders.\nAnswer briefly.",
            "You are a support\nagent for {{company}}.\nNever share other customers'\norders. Answer tersely.",
        );
        let cs = run(DOT, &b);
        assert_eq!(
            kinds(&cs),
            ["prompt.instruction_removed", "prompt.instruction_added"]
        );
        assert_eq!(fact(&cs[1], "value"), "Answer tersely.");
        // Moving a sentence to another role is a change.
        let b = edit(" Never share other customers' orders.", "").replace(
            "{{name}} asks",
            "Never share other customers' orders.\n{{name}} asks",
        );
        let cs = run(DOT, &b);
        assert_eq!(
            kinds(&cs),
            ["prompt.instruction_removed", "prompt.instruction_added"]
        );
        assert_eq!(
            (cs[0].path.as_str(), cs[1].path.as_str()),
            ("(prompt).system", "(prompt).user")
        );
    }

    #[test]
    fn variables_added_and_removed() {
        let b = edit("for {{company}}.", "for our shop.")
            .replace("{{question}}", "{{question}} (order {{ order.id }})");
        let cs = run(DOT, &b);
        let r = one(&cs, "prompt.variable_removed", "(prompt).variables.company");
        assert_eq!(
            (r.direction, fact(r, "declared")),
            (Some(Direction::Request), &Json::Bool(false))
        );
        let a = one(&cs, "prompt.variable_added", "(prompt).variables.order");
        assert_eq!(
            (fact(a, "name"), a.line_after),
            (&Json::from("order"), Some(29))
        );
        assert!(!a.facts.contains_key("required"));
        assert!(kinds(&cs).contains(&"prompt.instruction_added"));
    }

    #[test]
    fn metadata_changes_are_metadata_facts() {
        let b = edit("owner: support", "owner: platform\n  team: ai")
            .replace("question: string", "question: string, what they ask");
        let cs = run(DOT, &b);
        let m = one(&cs, "metadata.changed", "(prompt).metadata.owner");
        assert_eq!(
            (m.from.clone(), m.to.clone()),
            ("support".into(), "platform".into())
        );
        one(&cs, "metadata.changed", "(prompt).metadata.team");
        one(
            &cs,
            "metadata.changed",
            "(prompt).input.question.description",
        );
        assert_eq!(cs.len(), 3, "{cs:#?}");
    }

    #[test]
    fn front_matter_errors_have_file_lines_on_each_side() {
        let bad = edit("  maxOutputTokens: 400", "  maxOutputTokens: [400");
        let e = diff(&bad, DOT, &Options::default(), &mut Changes::default()).unwrap_err();
        assert_eq!(e.side, super::super::Side::Base);
        assert!((5..=7).contains(&e.error.line), "{e}");
        let bad = edit(
            "metadata:\n  owner: support",
            "metadata:\n  owner: support\n  owner: x",
        );
        let e = diff(DOT, &bad, &Options::default(), &mut Changes::default()).unwrap_err();
        assert_eq!((e.side, e.error.line), (super::super::Side::Head, 22));
        assert!(e.error.message.contains("duplicate"), "{e}");
        let e = parse("---\nmodel: x\nHello\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(parse(DOT).is_ok());
    }

    const PROMPTY: &str = r#"---
name: Support Agent
description: Answers support questions
authors:
  - alice
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-35-turbo
    azure_endpoint: https://x.openai.azure.com
  parameters:
    max_tokens: 128
    temperature: 0.2
inputs:
  question:
    type: string
  customer:
    type: string
    default: guest
sample:
  question: Where is my order?
---
system:
{# keep this short #}
You are an assistant for {{customer}}.
You must refuse to discuss other customers.

user:
{{ question | trim }}
"#;

    #[test]
    fn prompty_changes() {
        let b = PROMPTY
            .replace("gpt-35-turbo", "gpt-4o")
            .replace("max_tokens: 128", "max_tokens: 256")
            .replace("    default: guest\n", "")
            .replace(
                "  question:\n",
                "  locale:\n    type: string\n  question:\n",
            )
            .replace("You must refuse to discuss other customers.\n", "")
            .replace("Answers support", "Answers all support")
            .replace("Where is my order?", "Can I get a refund?");
        let cs = run(PROMPTY, &b);
        let m = one(&cs, "prompt.model_changed", "(prompt).model");
        assert_eq!(
            (m.from.clone(), m.to.clone()),
            (
                "azure_openai/gpt-35-turbo".into(),
                "azure_openai/gpt-4o".into()
            )
        );
        let p = one(&cs, "prompt.config_changed", "(prompt).config.max_tokens");
        assert_eq!(
            (p.from.clone(), p.to.clone()),
            (Json::from(128), Json::from(256))
        );
        let l = one(&cs, "prompt.input_added", "(prompt).input.locale");
        assert_eq!(fact(l, "required"), &Json::Bool(true));
        let c = one(
            &cs,
            "prompt.input_required_changed",
            "(prompt).input.customer",
        );
        assert_eq!(c.to, Json::Bool(true));
        let r = one(&cs, "prompt.instruction_removed", "(prompt).system");
        assert_eq!(
            fact(r, "value"),
            "You must refuse to discuss other customers."
        );
        one(&cs, "metadata.changed", "(prompt).description");
        one(&cs, "metadata.changed", "(prompt).sample");
        assert!(!kinds(&cs).contains(&"prompt.instruction_added"), "{cs:#?}");
    }

    #[test]
    fn prompty_cosmetic_edits_yield_nothing() {
        let b = PROMPTY
            .replace("{# keep this short #}", "{# keep this\n   very short #}")
            .replace("{{customer}}", "{{ customer }}")
            .replace("{{ question | trim }}", "{{question|trim}}")
            .replace("name: Support Agent\n", "")
            .replace("sample:", "name: Support Agent  # display\nsample:");
        assert_eq!(run(PROMPTY, &b), vec![]);
        // Prompty role lines and Jinja variables.
        let f = parse(PROMPTY).unwrap();
        assert_eq!(f.format, Format::Prompty);
        let vars: Vec<&str> = f.prompts[0]
            .body
            .variables
            .iter()
            .map(|(v, _)| v.as_str())
            .collect();
        assert_eq!(vars, ["customer", "question"]);
        assert_eq!(f.prompts[0].body.segments[2].role.as_deref(), Some("user"));
    }

    const LIB: &str = r#"# prompt library
version: 1
prompts:
  greet:
    model: gpt-4o
    template: |
      Greet {{name}} warmly.
      Never mention pricing.
  summarize:
    template: Summarize {{text}} in three bullets.
"#;

    #[test]
    fn library_entries_added_removed_and_edited() {
        let b = r#"version: 1
prompts:
  greet:
    model: gpt-4o
    template: |
      Greet {{name}} warmly.
  classify:
    template: Classify {{text}}.
    tools: [search]
"#;
        let cs = run(LIB, b);
        assert_eq!(
            kinds(&cs),
            [
                "prompt.instruction_removed",
                "prompt.removed",
                "prompt.added"
            ]
        );
        assert_eq!(
            (cs[0].path.as_str(), fact(&cs[0], "value")),
            ("greet.template", &Json::from("Never mention pricing."))
        );
        assert_eq!(cs[0].line_before, Some(8));
        assert_eq!(
            (cs[1].path.as_str(), cs[1].line_before),
            ("summarize", Some(9))
        );
        assert_eq!(
            (cs[2].path.as_str(), fact(&cs[2], "tools")),
            ("classify", &serde_json::json!(["search"]))
        );
    }

    #[test]
    fn library_list_form_and_reordering_are_equal() {
        let b = r#"prompts:
  - id: summarize
    template: Summarize {{text}}   in three bullets.
  - template: |
      Greet {{name}}
      warmly. Never mention pricing.
    model: gpt-4o   # same model
    id: greet
version: 1
"#;
        assert_eq!(run(LIB, b), vec![]);
        let e = parse("prompts:\n  a:\n    template: [unclosed\n").unwrap_err();
        assert!(e.line >= 3, "{e}");
        let e = parse("prompts: 3\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn library_entry_fields_are_compared() {
        let b = LIB.replace("model: gpt-4o", "model: gpt-4o-mini\n    config: {temperature: 0}\n    input:\n      schema:\n        name: string");
        let cs = run(LIB, &b);
        assert_eq!(
            kinds(&cs),
            [
                "prompt.model_changed",
                "prompt.config_changed",
                "prompt.input_added"
            ]
        );
        assert_eq!(cs[2].path, "greet.input.name");
    }

    #[test]
    fn bare_template_and_lcs() {
        let cs = run("Be kind.\nNever lie.\n", "Be kind.\n\nNever lie!\n");
        assert_eq!(
            kinds(&cs),
            ["prompt.instruction_removed", "prompt.instruction_added"]
        );
        assert_eq!(cs[0].path, "(prompt).template");
        assert_eq!(
            lcs(&[1, 2, 3, 4], &[1, 3, 4, 5], 100),
            Some(vec![(0, 0), (2, 1), (3, 2)])
        );
        assert_eq!(lcs(&[1, 2, 3], &[4, 5, 6], 4), None);
        // Words of a removed sentence scattered elsewhere do not hide it.
        let cs = run("Do not lie. Be kind.", "Do be kind. Not lie.");
        assert!(kinds(&cs).contains(&"prompt.instruction_removed"));
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let odd = [
            "", "---", "---\n---", "---\n: :\n---\n", "{{", "{{!", "{{!--", "{#", "{%", "}}{{", "{{{x}}", "é{{ü}}ß. Ça va?",
            "1.\n2)\n- \n#", "prompts:\n  - 3\n", "prompts: []\n", "template: [1, {role: 2}]\n", "a(: b\n",
            "---\ninput:\n  schema:\n    (*): string\n    x?(): y\n    \"(\": 1\n---\n{{#each a as |b|}}{{b.c}}{{/each}}",
            "{% for a, b in c %}{{ a | f(d) }}{% endfor %}{{ 'x' }}{{ 1 + y }}",
        ];
        for a in odd {
            for b in odd {
                let _ = diff(a, b, &Options::default(), &mut Changes::default());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn arbitrary_templates_do_not_panic(a in "[-{}!#%~|a-cA-C .?:\n(é)\"]{0,60}", b in "[-{}!#%~|a-cA-C .?:\n(é)\"]{0,60}") {
            let _ = diff(&a, &b, &Options::default(), &mut Changes::default());
            let fm = format!("---\nmodel: x\n---\n{a}");
            let _ = diff(&fm, &b, &Options::default(), &mut Changes::default());
        }
    }
}
