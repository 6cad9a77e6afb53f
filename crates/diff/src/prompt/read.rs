//! Reading a prompt file: text → [`PromptFile`].
//!
//! In: a Dotprompt or Prompty file (front matter and body), a YAML prompt
//! library or a bare template. Out: its prompts in the one model, or a
//! [`ParseError`] at the file's line. Input and output declarations go to
//! `schema`, template text to `body`.

use super::body::build_body;
use super::model::*;
use super::schema::{fields_map, schema_fields};
use crate::tree::{self, Data, Node, ParseError};

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

pub(super) fn mentions_prompts(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("prompts:") || l.trim_start().starts_with("\"prompts\""))
}

pub(super) fn is_template(n: &Node) -> bool {
    matches!(n.data, Data::String(_) | Data::Seq(_))
}

pub(super) fn err(line: u32, message: impl Into<String>) -> ParseError {
    ParseError {
        line: line.max(1),
        col: 1,
        message: message.into(),
    }
}

pub(super) fn front_matter_file(
    fm: &Node,
    body: String,
    body_line: u32,
) -> Result<PromptFile, ParseError> {
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

pub(super) fn library(n: &Node) -> Result<PromptFile, ParseError> {
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
pub(super) fn entry(id: String, e: &Node, identity: Option<&str>) -> Result<Prompt, ParseError> {
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
pub(super) fn read_keys(
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
pub(super) fn template_chunks(v: &Node) -> Vec<Chunk> {
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

pub(super) fn scalar_text(n: &Node) -> String {
    match &n.data {
        Data::String(s) => s.clone(),
        _ => n.to_json().to_string(),
    }
}

pub(super) fn read_model(p: &mut Prompt, v: &Node) {
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

pub(super) fn read_tools(v: &Node) -> Vec<Tool> {
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
pub(super) fn side_effects(def: &Node) -> Option<bool> {
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

pub(super) fn read_input(p: &mut Prompt, v: &Node) {
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

pub(super) fn read_output(p: &mut Prompt, v: &Node) {
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
