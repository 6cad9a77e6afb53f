//! Comparing two schemas: two [`Schema`]s → change facts.
//!
//! In: the base and head schemas. Out: facts pushed to [`Changes`], by name,
//! so the order of definitions and members is never a change. Elements of
//! an added or removed type fold into the type's fact; a removed and an
//! added field that look alike are one `field.renamed`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::model::*;
use crate::change::{Change, Changes, Direction};

/// A top-level definition: a type or a directive.
pub(super) enum Item<'s> {
    Type(&'s TypeDef),
    Directive(&'s DirectiveDef),
}

pub(super) fn items(s: &Schema) -> Vec<(u32, Item<'_>)> {
    let mut v: Vec<(u32, Item<'_>)> = s.types.iter().map(|t| (t.line, Item::Type(t))).collect();
    v.extend(s.directives.iter().map(|d| (d.line, Item::Directive(d))));
    v.sort_by_key(|(l, _)| *l);
    v
}

pub(super) fn diff_schemas(a: &Schema, b: &Schema, out: &mut Changes) {
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

pub(super) fn diff_roots(a: &Schema, b: &Schema, out: &mut Changes) {
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

pub(super) fn opt_json(s: &Option<String>) -> Json {
    s.as_ref()
        .map(|s| Json::String(s.clone()))
        .unwrap_or(Json::Null)
}

pub(super) fn default_json(v: &Option<GqlValue>) -> Json {
    v.as_ref()
        .map(|v| Json::String(render_value(v)))
        .unwrap_or(Json::Null)
}

pub(super) fn diff_description(
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
pub(super) fn deprecation(ds: &[Usage]) -> Option<String> {
    ds.iter().find(|d| d.name == "deprecated").map(|d| {
        d.args
            .iter()
            .find(|(k, _)| k == "reason")
            .and_then(|(_, v)| match v {
                GqlValue::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "No longer supported".to_string())
    })
}

/// Deprecation changes of an element; `noun` is `field.`, `argument.` or
/// `enum.value_`.
#[allow(clippy::too_many_arguments)]
pub(super) fn diff_deprecation(
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
pub(super) fn diff_usages(
    path: &str,
    a: &[Usage],
    b: &[Usage],
    la: u32,
    lb: u32,
    out: &mut Changes,
) {
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
pub(super) fn type_change(
    kind: &str,
    path: &str,
    dir: Direction,
    a: &Ty,
    b: &Ty,
    la: u32,
    lb: u32,
) -> Change {
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

pub(super) fn diff_type(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
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

pub(super) fn diff_enum(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
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

/// Arguments compared for renames: names, types and defaults.
pub(super) fn signature(args: &[InputDef]) -> BTreeMap<&str, (String, Json)> {
    args.iter()
        .map(|x| {
            (
                x.name.as_str(),
                (x.ty.to_string(), default_json(&x.default)),
            )
        })
        .collect()
}

pub(super) fn diff_fields(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
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
    let pairs = crate::rename::pair(
        &rn,
        &an,
        |_, _| false,
        |i, j| {
            let (x, y) = (removed[i], added[j]);
            deprecation(&x.directives).is_none()
                && x.ty == y.ty
                && signature(&x.args) == signature(&y.args)
        },
    );
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
        if let Some(pair) = pairs.iter().find(|p| p.removed == i) {
            let j = pair.added;
            let fb = added[j];
            let to = format!("{}.{}", b.name, fb.name);
            out.push(
                pair.evidence(
                    Change::new("field.renamed", path.as_str())
                        .dir(Some(dir))
                        .lines(fa.line, fb.line)
                        .from_to(path.as_str(), to)
                        .fact("name", fb.name.as_str())
                        .fact("type", fa.ty.to_string()),
                ),
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
        if pairs.iter().any(|p| p.added == j) {
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

pub(super) fn with_deprecation(c: Change, ds: &[Usage]) -> Change {
    match deprecation(ds) {
        Some(r) => c.fact("deprecated", true).fact("deprecation_reason", r),
        None => c.fact("deprecated", false),
    }
}

pub(super) fn diff_field(path: &str, a: &FieldDef, b: &FieldDef, out: &mut Changes) {
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
pub(super) fn diff_args(
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

pub(super) fn added_input(kind: &str, path: String, x: &InputDef, parent_line: u32) -> Change {
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
pub(super) fn diff_input(path: &str, noun: &str, a: &InputDef, b: &InputDef, out: &mut Changes) {
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

pub(super) fn diff_input_fields(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
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
    let pairs = crate::rename::pair(
        &rn,
        &an,
        |_, _| false,
        |i, j| {
            let (x, y) = (removed[i], added[j]);
            deprecation(&x.directives).is_none() && x.ty == y.ty && x.default == y.default
        },
    );
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
        if let Some(pair) = pairs.iter().find(|p| p.removed == i) {
            let j = pair.added;
            let fb = added[j];
            out.push(
                pair.evidence(
                    Change::new("field.renamed", path.as_str())
                        .dir(Some(dir))
                        .lines(fa.line, fb.line)
                        .from_to(path.as_str(), format!("{}.{}", b.name, fb.name))
                        .fact("name", fb.name.as_str())
                        .fact("type", fa.ty.to_string())
                        .fact("required", fb.required()),
                ),
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
        if !pairs.iter().any(|p| p.added == j) {
            out.push(added_input(
                "field.added",
                format!("{}.{}", b.name, fb.name),
                fb,
                a.line,
            ));
        }
    }
}

pub(super) fn diff_directive(a: &DirectiveDef, b: &DirectiveDef, out: &mut Changes) {
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
