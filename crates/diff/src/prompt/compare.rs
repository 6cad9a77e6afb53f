//! Comparing two prompts part by part: model, config, tools, inputs,
//! outputs, variables, metadata, unmodelled keys → change facts.
//!
//! In: two [`Prompt`]s of the same id. Out: facts pushed to [`Changes`];
//! the body goes to `instructions`.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::instructions::diff_instructions;
use super::model::*;
use crate::change::{Change, Changes, Direction};
use crate::tree::{Data, Node};

pub(super) fn path(id: &str, part: &str) -> String {
    format!("{id}.{part}")
}

pub(super) fn brief(n: Option<&Node>) -> Json {
    n.map(Node::brief).unwrap_or(Json::Null)
}

pub(super) fn line_of(n: Option<&Node>) -> u32 {
    n.map(|n| n.line).unwrap_or(0)
}

pub(super) fn diff_prompt(p: &Prompt, q: &Prompt, out: &mut Changes) {
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
pub(super) fn pairs<'a>(
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

pub(super) fn diff_named(
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

pub(super) fn diff_tools(id: &str, a: &[Tool], b: &[Tool], out: &mut Changes) {
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

pub(super) fn diff_fields(id: &str, part: &str, a: &[Field], b: &[Field], out: &mut Changes) {
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

pub(super) fn diff_variables(id: &str, p: &Prompt, q: &Prompt, out: &mut Changes) {
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
pub(super) fn diff_extra(
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
    crate::config::diff_tree(base, &na, &nb, &mut tmp);
    out.0.extend(tmp.0.into_iter().filter(|c| {
        !(c.kind == "order.changed" && c.facts.get("significant") == Some(&Json::Bool(false)))
    }));
}
