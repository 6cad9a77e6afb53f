//! Input and output declarations → [`Field`]s.
//!
//! In: a Picoschema or JSON Schema (Dotprompt `input.schema`,
//! `output.schema`) or Prompty `inputs` / `outputs` specs. Out: flat fields
//! (nested `a.b`, array items `a[].b`) with type, required, default, enum
//! values and description.

use super::model::*;
use super::read::scalar_text;
use crate::tree::{Data, Node};

pub(super) fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

pub(super) fn split_desc(s: &str) -> (String, Option<String>) {
    match s.split_once(',') {
        Some((t, d)) => (
            t.trim().to_string(),
            Some(d.trim().to_string()).filter(|d| !d.is_empty()),
        ),
        None => (s.trim().to_string(), None),
    }
}

pub(super) const JSON_TYPES: [&str; 7] = [
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Fields of a Picoschema or JSON Schema (Dotprompt reads a top-level `type`
/// or `properties` as JSON Schema, anything else as Picoschema).
pub(super) fn schema_fields(prefix: &str, n: &Node, defaults: Option<&Node>, out: &mut Vec<Field>) {
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

pub(super) fn pico_field(
    prefix: &str,
    key: &str,
    v: &Node,
    defaults: Option<&Node>,
    out: &mut Vec<Field>,
) {
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

pub(super) fn json_type(p: &Node) -> String {
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

pub(super) fn json_fields(prefix: &str, n: &Node, defaults: Option<&Node>, out: &mut Vec<Field>) {
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
pub(super) fn fields_map(v: &Node) -> Vec<Field> {
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

pub(super) const TYPE_NAMES: [&str; 12] = [
    "string", "number", "integer", "boolean", "object", "array", "list", "dict", "any", "float",
    "int", "bool",
];

pub(super) fn spec_field(name: &str, spec: &Node, out: &mut Vec<Field>) {
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
