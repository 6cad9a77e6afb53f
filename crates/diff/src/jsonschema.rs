//! JSON Schema (draft-07 and 2020-12 keywords), alone or inside OpenAPI.
//!
//! [`SchemaDiff`] walks a base and a head schema side by side and reports
//! facts about what a value may look like: properties added, removed or
//! renamed (`field.*`), requiredness, types widened or narrowed, enum
//! values, numeric / length / count bounds, patterns and formats,
//! composition branches (`allOf`/`anyOf`/`oneOf`), defaults, deprecation
//! and descriptions. Every fact carries the direction the schema is read
//! in: data a client *sends* (`request`) or *receives* (`response`); the
//! rule pack judges each direction, since they are mirror images.
//!
//! Local `$ref`s (`#/...`) are resolved against each side's document. A
//! pair of referenced schemas is diffed once per direction: later visits
//! only add the operation to the facts already reported (`operations`),
//! which also makes cycles safe. Nesting is capped at [`MAX_DEPTH`].

use super::change::{Change, Changes, Direction};
use super::config::join;
use super::tree::ParseError;
use super::tree::{Data, Node};
use super::{ArtifactError, Options};
use serde_json::Value as Json;
use std::collections::{HashMap, VecDeque};

/// Deepest nesting of schemas walked; deeper parts are compared as values.
pub const MAX_DEPTH: usize = 64;

/// Diffs two standalone JSON Schema documents.
pub fn diff(a: &str, b: &str, opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let (na, nb) = super::parse_both(a, b)?;
    check_refs(&na).map_err(ArtifactError::base)?;
    check_refs(&nb).map_err(ArtifactError::head)?;
    let mut sd = SchemaDiff::new(&na, &nb);
    sd.diff(
        out,
        "",
        &na,
        &nb,
        Some(opts.direction.unwrap_or(Direction::Request)),
        None,
    );
    sd.finish(out);
    match sd.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// State of one schema walk over a pair of documents.
pub struct SchemaDiff<'a> {
    root_a: &'a Node,
    root_b: &'a Node,
    /// Every pair of referenced schemas met, per direction.
    seen: HashMap<RefKey, usize>,
    /// Per pair id: what was found and who refers to it.
    infos: Vec<RefInfo>,
    /// Pairs met but not yet diffed: diffed one at a time by [`Self::finish`],
    /// so a long or cyclic `$ref` chain never deepens the stack.
    queue: VecDeque<usize>,
    /// The referenced pair being diffed.
    current: Option<usize>,
    /// `$ref`s that point nowhere, on either side.
    pub errors: Vec<ArtifactError>,
}

/// Where a walk stands: the direction the schema is used in, the
/// operation that reaches it (recorded on facts found under a `$ref`), and
/// how deep it is.
#[derive(Clone, Copy)]
struct Reach<'o> {
    dir: Option<Direction>,
    op: Option<&'o str>,
    depth: usize,
}

impl Reach<'_> {
    fn deeper(self) -> Self {
        Reach {
            depth: self.depth + 1,
            ..self
        }
    }
}

/// (base `$ref`, head `$ref`, direction).
type RefKey = (String, String, Option<Direction>);

#[derive(Default)]
struct RefInfo {
    /// Indices of the changes reported for this pair.
    changes: Vec<usize>,
    key: RefKey,
    /// Pairs that reference this one (the reverse edges of the graph).
    parents: Vec<usize>,
    /// Operations that reference it directly.
    ops: Vec<String>,
}

/// Most operations listed on one change; `operations_total` has the count.
pub const MAX_OPERATIONS_LISTED: usize = 20;

const BOUNDS: [(&str, bool); 10] = [
    // (keyword, true when a higher value is stricter)
    ("minimum", true),
    ("exclusiveMinimum", true),
    ("minLength", true),
    ("minItems", true),
    ("minProperties", true),
    ("maximum", false),
    ("exclusiveMaximum", false),
    ("maxLength", false),
    ("maxItems", false),
    ("maxProperties", false),
];

/// Keywords that only document (reported as `description.changed`).
const DOC_KEYWORDS: [&str; 6] = [
    "description",
    "title",
    "examples",
    "example",
    "$comment",
    "externalDocs",
];

/// Keywords this walker models; any other change is `keyword.changed`.
const MODELLED: [&str; 32] = [
    "type",
    "nullable",
    "properties",
    "required",
    "enum",
    "const",
    "items",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "default",
    "deprecated",
    "pattern",
    "format",
    "uniqueItems",
    "multipleOf",
    "$ref",
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "readOnly",
    "writeOnly",
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "maximum",
    "exclusiveMaximum",
    "contentSchema",
];

/// Keywords that constrain nothing: a composition branch of only these
/// (and `x-` extensions) is an annotation, not a narrowing.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "examples",
    "example",
    "$comment",
    "externalDocs",
    "deprecated",
];

impl<'a> SchemaDiff<'a> {
    pub fn new(root_a: &'a Node, root_b: &'a Node) -> Self {
        SchemaDiff {
            root_a,
            root_b,
            seen: HashMap::new(),
            infos: Vec::new(),
            queue: VecDeque::new(),
            current: None,
            errors: Vec::new(),
        }
    }

    /// Diffs every referenced pair met so far (and those they reach).
    /// Call once after the last [`Self::diff`]; then check [`Self::errors`].
    pub fn finish(&mut self, out: &mut Changes) {
        while let Some(id) = self.queue.pop_front() {
            let key = self.infos[id].key.clone();
            let ra = resolve_ref(self.root_a, &key.0);
            let rb = resolve_ref(self.root_b, &key.1);
            let (Some(ra), Some(rb)) = (ra, rb) else {
                continue; // reported when the `$ref` was met
            };
            self.current = Some(id);
            let start = out.0.len();
            let at = ref_path(if key.1.is_empty() { &key.0 } else { &key.1 });
            let start_at = Reach {
                dir: key.2,
                op: None,
                depth: 0,
            };
            self.walk_resolved(out, &at, ra, rb, start_at);
            self.current = None;
            self.infos[id].changes = (start..out.0.len()).collect();
        }
        // The operations that reach each changed pair: those that refer to
        // it or to any pair that (transitively) refers to it.
        let mut visited = vec![usize::MAX; self.infos.len()];
        for id in 0..self.infos.len() {
            if self.infos[id].changes.is_empty() {
                continue;
            }
            let mut ops: Vec<&str> = Vec::new();
            let mut stack = vec![id];
            while let Some(k) = stack.pop() {
                if visited[k] == id {
                    continue;
                }
                visited[k] = id;
                ops.extend(self.infos[k].ops.iter().map(String::as_str));
                stack.extend(self.infos[k].parents.iter().copied());
            }
            ops.sort_unstable();
            ops.dedup();
            if ops.is_empty() {
                continue;
            }
            let listed: Vec<Json> = ops
                .iter()
                .take(MAX_OPERATIONS_LISTED)
                .map(|o| Json::String(o.to_string()))
                .collect();
            for &i in &self.infos[id].changes {
                let c = &mut out.0[i];
                c.facts
                    .insert("operations".into(), Json::Array(listed.clone()));
                if ops.len() > MAX_OPERATIONS_LISTED {
                    c.facts.insert("operations_total".into(), ops.len().into());
                }
                c.all_operations = ops.iter().map(|o| o.to_string()).collect();
            }
        }
    }

    /// Diffs schema `a` (base) against `b` (head) at `path`. `op` is the
    /// operation that reaches it, recorded on facts found under a `$ref`.
    pub fn diff(
        &mut self,
        out: &mut Changes,
        path: &str,
        a: &Node,
        b: &Node,
        dir: Option<Direction>,
        op: Option<&str>,
    ) {
        self.walk(out, path, a, b, Reach { dir, op, depth: 0 });
    }

    fn walk(&mut self, out: &mut Changes, path: &str, a: &Node, b: &Node, r: Reach<'_>) {
        let Reach { dir, op, depth } = r;
        if depth > MAX_DEPTH {
            if a != b {
                out.push(
                    Change::new("keyword.changed", path)
                        .dir(dir)
                        .lines(a.line, b.line)
                        .fact("keyword", "(too deep)"),
                );
            }
            return;
        }
        let ref_a = a.get("$ref").and_then(Node::as_str);
        let ref_b = b.get("$ref").and_then(Node::as_str);
        let ra = ref_a.map(|r| (r, resolve_ref(self.root_a, r)));
        let rb = ref_b.map(|r| (r, resolve_ref(self.root_b, r)));
        if let Some((r, None)) = ra {
            self.errors.push(ArtifactError::base(unresolved(r, a)));
            return;
        }
        if let Some((r, None)) = rb {
            self.errors.push(ArtifactError::head(unresolved(r, b)));
            return;
        }
        match (ra, rb) {
            (Some((ra, _)), Some((rb, _))) => {
                // Both sides refer: the pair is diffed once per direction,
                // later, at its own path, with the operations that reach it.
                let key: RefKey = (ra.to_string(), rb.to_string(), dir);
                let id = match self.seen.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = self.infos.len();
                        self.infos.push(RefInfo {
                            key: key.clone(),
                            ..RefInfo::default()
                        });
                        self.seen.insert(key, id);
                        self.queue.push_back(id);
                        id
                    }
                };
                let parent = self.current;
                let info = &mut self.infos[id];
                if let Some(op) = op {
                    if !info.ops.iter().any(|o| o == op) {
                        info.ops.push(op.to_string());
                    }
                }
                if let Some(parent) = parent {
                    if !info.parents.contains(&parent) {
                        info.parents.push(parent);
                    }
                }
                return;
            }
            // A `$ref` on one side only (inlined or extracted): compare
            // what it resolves to, in place.
            (Some((_, Some(x))), None) => return self.walk_resolved(out, path, x, b, r.deeper()),
            (None, Some((_, Some(y)))) => return self.walk_resolved(out, path, a, y, r.deeper()),
            _ => {}
        }
        self.walk_resolved(out, path, a, b, r);
    }

    fn walk_resolved(&mut self, out: &mut Changes, path: &str, a: &Node, b: &Node, r: Reach<'_>) {
        let dir = r.dir;
        // Equal text is equal meaning only when no `$ref` inside could
        // lead to a schema that changed.
        if a == b && !has_ref(a) {
            return;
        }
        let (a_schema, b_schema) = (a.is_map(), b.is_map());
        if !a_schema || !b_schema {
            // `true` / `false` schemas and malformed parts: compare as values.
            out.push(
                Change::new("keyword.changed", path)
                    .dir(dir)
                    .lines(a.line, b.line)
                    .from_to(a.brief(), b.brief())
                    .fact("keyword", "(schema)"),
            );
            return;
        }
        let c = |kind: &str| Change::new(kind, path).dir(dir).lines(a.line, b.line);
        self.types(out, path, a, b, dir);
        self.enums(out, path, a, b, dir);
        self.bounds(out, path, a, b, dir);
        for kw in ["pattern", "format"] {
            match (a.get(kw), b.get(kw)) {
                (None, Some(v)) => out.push(
                    c("constraint.tightened")
                        .fact("keyword", kw)
                        .from_to(Json::Null, v.brief()),
                ),
                (Some(v), None) => out.push(
                    c("constraint.loosened")
                        .fact("keyword", kw)
                        .from_to(v.brief(), Json::Null),
                ),
                (Some(x), Some(y)) if x != y => out.push(
                    c("constraint.changed")
                        .fact("keyword", kw)
                        .from_to(x.brief(), y.brief()),
                ),
                _ => {}
            }
        }
        let (x, y) = (flag(a, "uniqueItems"), flag(b, "uniqueItems"));
        if x != y {
            let kind = if y {
                "constraint.tightened"
            } else {
                "constraint.loosened"
            };
            out.push(c(kind).fact("keyword", "uniqueItems").from_to(x, y));
        }
        if a.get("multipleOf") != b.get("multipleOf") {
            out.push(
                c("constraint.changed")
                    .fact("keyword", "multipleOf")
                    .from_to(brief(a.get("multipleOf")), brief(b.get("multipleOf"))),
            );
        }
        if a.get("default") != b.get("default") {
            out.push(
                c("default.changed").from_to(brief(a.get("default")), brief(b.get("default"))),
            );
        }
        match (flag(a, "deprecated"), flag(b, "deprecated")) {
            (false, true) => out.push(c("field.deprecated")),
            (true, false) => out.push(c("field.undeprecated")),
            _ => {}
        }
        for kw in DOC_KEYWORDS {
            if a.get(kw) != b.get(kw) {
                out.push(
                    c("description.changed")
                        .fact("keyword", kw)
                        .from_to(brief(a.get(kw)), brief(b.get(kw))),
                );
            }
        }
        self.properties(out, path, a, b, r);
        self.additional(out, path, a, b, r);
        // The schema of a string's decoded content (`contentSchema`) is
        // compared as a schema, at `path.(content)`.
        match (a.get("contentSchema"), b.get("contentSchema")) {
            (Some(x), Some(y)) => self.walk(out, &sub(path, "(content)"), x, y, r.deeper()),
            (None, Some(y)) => out.push(
                c("constraint.tightened")
                    .fact("keyword", "contentSchema")
                    .from_to(Json::Null, y.brief()),
            ),
            (Some(x), None) => out.push(
                c("constraint.loosened")
                    .fact("keyword", "contentSchema")
                    .from_to(x.brief(), Json::Null),
            ),
            _ => {}
        }
        match (a.get("items"), b.get("items")) {
            (Some(x), Some(y)) => self.walk(out, &format!("{path}[]"), x, y, r.deeper()),
            (None, Some(y)) => out.push(
                c("constraint.tightened")
                    .fact("keyword", "items")
                    .from_to(Json::Null, y.brief()),
            ),
            (Some(x), None) => out.push(
                c("constraint.loosened")
                    .fact("keyword", "items")
                    .from_to(x.brief(), Json::Null),
            ),
            _ => {}
        }
        for kw in ["allOf", "anyOf", "oneOf"] {
            self.composition(out, path, kw, a, b, r);
        }
        // Anything else: extensions are documentation, other keywords matter.
        for (k, va) in a.entries() {
            if is_modelled(k) {
                continue;
            }
            let vb = b.get(k);
            if vb != Some(va) {
                out.push(self.other_keyword(path, k, Some(va), vb, dir, a, b));
            }
        }
        for (k, vb) in b.entries() {
            if !is_modelled(k) && a.get(k).is_none() {
                out.push(self.other_keyword(path, k, None, Some(vb), dir, a, b));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn other_keyword(
        &self,
        path: &str,
        k: &str,
        va: Option<&Node>,
        vb: Option<&Node>,
        dir: Option<Direction>,
        a: &Node,
        b: &Node,
    ) -> Change {
        let kind = if k.starts_with("x-") {
            "extension.changed"
        } else {
            "keyword.changed"
        };
        Change::new(kind, path)
            .dir(dir)
            .lines(va.map_or(a.line, |n| n.line), vb.map_or(b.line, |n| n.line))
            .fact("keyword", k)
            .from_to(brief(va), brief(vb))
            .fact("added", va.is_none())
            .fact("removed", vb.is_none())
    }

    fn types(&self, out: &mut Changes, path: &str, a: &Node, b: &Node, dir: Option<Direction>) {
        let (ta, tb) = (types_of(a), types_of(b));
        if ta == tb || ta.is_empty() && tb.is_empty() {
            return;
        }
        // An absent `type` accepts anything.
        let accepts = |set: &Vec<String>, t: &str| {
            set.is_empty()
                || set
                    .iter()
                    .any(|x| x == t || (x == "number" && t == "integer"))
        };
        let narrowed = ta.iter().any(|t| !accepts(&tb, t)) || ta.is_empty();
        let widened = tb.iter().any(|t| !accepts(&ta, t)) || tb.is_empty();
        let kind = match (narrowed, widened) {
            (true, false) => "type.narrowed",
            (false, true) => "type.widened",
            _ => "type.changed",
        };
        let nullable_only = {
            let strip = |s: &Vec<String>| {
                s.iter()
                    .filter(|t| *t != "null")
                    .cloned()
                    .collect::<Vec<_>>()
            };
            strip(&ta) == strip(&tb)
        };
        out.push(
            Change::new(kind, path)
                .dir(dir)
                .lines(a.line, b.line)
                .from_to(ta.join("|"), tb.join("|"))
                .fact("nullability_only", nullable_only),
        );
    }

    fn enums(&self, out: &mut Changes, path: &str, a: &Node, b: &Node, dir: Option<Direction>) {
        let c = |kind: &str| Change::new(kind, path).dir(dir).lines(a.line, b.line);
        let ea = a
            .get("enum")
            .map(|e| e.items().to_vec())
            .or_else(|| a.get("const").map(|v| vec![v.clone()]));
        let eb = b
            .get("enum")
            .map(|e| e.items().to_vec())
            .or_else(|| b.get("const").map(|v| vec![v.clone()]));
        match (ea, eb) {
            (None, Some(vs)) => out.push(
                c("constraint.tightened")
                    .fact("keyword", "enum")
                    .from_to(Json::Null, values(&vs)),
            ),
            (Some(vs), None) => out.push(
                c("constraint.loosened")
                    .fact("keyword", "enum")
                    .from_to(values(&vs), Json::Null),
            ),
            (Some(va), Some(vb)) => {
                // A `const` on both sides: the one value a client may send
                // or will receive changed (`keyword: const`; an enum's
                // facts carry no keyword, which keeps their fingerprints).
                let only = |n: &Node| n.get("enum").is_none() && n.get("const").is_some();
                let of_const = |c: Change| {
                    if only(a) && only(b) {
                        c.fact("keyword", "const")
                    } else {
                        c
                    }
                };
                for v in va.iter().filter(|v| !vb.contains(v)) {
                    out.push(of_const(
                        c("enum.value_removed")
                            .lines(v.line, b.line)
                            .fact("value", v.to_json()),
                    ));
                }
                for v in vb.iter().filter(|v| !va.contains(v)) {
                    out.push(of_const(
                        c("enum.value_added")
                            .lines(a.line, v.line)
                            .fact("value", v.to_json()),
                    ));
                }
            }
            (None, None) => {}
        }
    }

    fn bounds(&self, out: &mut Changes, path: &str, a: &Node, b: &Node, dir: Option<Direction>) {
        for (kw, higher_is_stricter) in BOUNDS {
            let (x, y) = (bound(a, kw), bound(b, kw));
            let tightened = match (x, y) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(x), Some(y)) if x != y => (y > x) == higher_is_stricter,
                _ => continue,
            };
            let kind = if tightened {
                "constraint.tightened"
            } else {
                "constraint.loosened"
            };
            out.push(
                Change::new(kind, path)
                    .dir(dir)
                    .lines(a.line, b.line)
                    .fact("keyword", kw)
                    .from_to(brief(a.get(kw)), brief(b.get(kw))),
            );
        }
    }

    fn properties(&mut self, out: &mut Changes, path: &str, a: &Node, b: &Node, r: Reach<'_>) {
        let dir = r.dir;
        let empty = Node::new(0, Data::Map(vec![]));
        let pa = a.get("properties").unwrap_or(&empty);
        let pb = b.get("properties").unwrap_or(&empty);
        let (req_a, req_b) = (required(a), required(b));
        // Properties one direction never sees are skipped on that side.
        let hidden = |n: &Node| match dir {
            Some(Direction::Request) => flag(n, "readOnly"),
            Some(Direction::Response) => flag(n, "writeOnly"),
            None => false,
        };
        let mut removed: Vec<(&String, &Node)> = Vec::new();
        let mut added: Vec<(&String, &Node)> = Vec::new();
        for (k, va) in pa.entries() {
            match pb.get(k) {
                Some(vb) => {
                    if hidden(va) && hidden(vb) {
                        continue;
                    }
                    let p = join(path, k);
                    // A property that became `writeOnly` is gone from
                    // responses (`readOnly`: from requests), and back when
                    // the flag goes.
                    if hidden(va) != hidden(vb) {
                        let key = match dir {
                            Some(Direction::Request) => "read_only",
                            _ => "write_only",
                        };
                        let (kind, req) = if hidden(vb) {
                            ("field.removed", req_a.contains(k))
                        } else {
                            ("field.added", req_b.contains(k))
                        };
                        out.push(
                            Change::new(kind, &p)
                                .dir(dir)
                                .lines(va.line, vb.line)
                                .fact("name", k.as_str())
                                .fact("required", req)
                                .fact(key, hidden(vb)),
                        );
                        continue;
                    }
                    match (req_a.contains(k), req_b.contains(k)) {
                        (false, true) => out.push(
                            Change::new("field.became_required", &p)
                                .dir(dir)
                                .lines(va.line, vb.line)
                                .fact("name", k.as_str()),
                        ),
                        (true, false) => out.push(
                            Change::new("field.became_optional", &p)
                                .dir(dir)
                                .lines(va.line, vb.line)
                                .fact("name", k.as_str()),
                        ),
                        _ => {}
                    }
                    self.walk(out, &p, va, vb, r.deeper());
                }
                None if !hidden(va) => removed.push((k, va)),
                None => {}
            }
        }
        for (k, vb) in pb.entries() {
            if pa.get(k).is_none() && !hidden(vb) {
                added.push((k, vb));
            }
        }
        // Renames: a removed and an added property of the same shape, or
        // one the head declares. Pairing is quadratic: past this many
        // candidates, removals and additions are reported as such.
        let pairs = if removed.len() * added.len() <= 2_500 {
            let rn: Vec<&str> = removed.iter().map(|(k, _)| k.as_str()).collect();
            let an: Vec<&str> = added.iter().map(|(k, _)| k.as_str()).collect();
            crate::rename::pair(
                &rn,
                &an,
                |i, j| declares_rename(added[j].1, removed[i].0),
                |i, j| {
                    let ((old, va), (new, vb)) = (removed[i], added[j]);
                    same_shape(va, vb) && req_a.contains(old) == req_b.contains(new)
                },
            )
        } else {
            Vec::new()
        };
        let mut renamed_to: HashMap<&str, (&str, crate::rename::Pair)> = HashMap::new();
        for p in &pairs {
            renamed_to.insert(
                removed[p.removed].0.as_str(),
                (added[p.added].0.as_str(), *p),
            );
        }
        for (k, va) in &removed {
            let p = join(path, k);
            if let Some((new, pair)) = renamed_to.get(k.as_str()) {
                let vb = pb.get(new).unwrap_or(&empty);
                let mut ch = pair.evidence(
                    Change::new("field.renamed", &p)
                        .dir(dir)
                        .lines(va.line, vb.line)
                        .from_to(k.as_str(), *new)
                        .fact("name", *new),
                );
                if let Some(alias) = aliases(vb).into_iter().find(|x| x == *k) {
                    ch = ch.fact("alias", alias);
                }
                out.push(ch);
                continue;
            }
            let mut ch = Change::new("field.removed", &p)
                .dir(dir)
                .lines(va.line, b.line)
                .fact("name", k.as_str())
                .fact("required", req_a.contains(*k));
            if flag(va, "deprecated") {
                ch = ch.fact("deprecated", true).fact("deprecated_in", "base");
            }
            out.push(ch);
        }
        for (k, vb) in &added {
            if renamed_to.values().any(|(n, _)| n == k) {
                continue;
            }
            out.push(
                Change::new("field.added", join(path, k))
                    .dir(dir)
                    .lines(a.line, vb.line)
                    .fact("name", k.as_str())
                    .fact("required", req_b.contains(*k))
                    .fact("has_default", vb.get("default").is_some()),
            );
        }
        // `required` naming properties that are not declared.
        for r in req_b
            .iter()
            .filter(|r| !req_a.contains(r) && pa.get(r).is_none() && pb.get(r).is_none())
        {
            out.push(
                Change::new("field.became_required", join(path, r))
                    .dir(dir)
                    .lines(a.line, b.line)
                    .fact("name", r.as_str()),
            );
        }
    }

    fn additional(&mut self, out: &mut Changes, path: &str, a: &Node, b: &Node, r: Reach<'_>) {
        let dir = r.dir;
        let (xa, xb) = (a.get("additionalProperties"), b.get("additionalProperties"));
        let open = |n: Option<&Node>| n.map(|n| n.as_bool() != Some(false)).unwrap_or(true);
        match (xa, xb) {
            (Some(x), Some(y)) if x.is_map() && y.is_map() => {
                self.walk(out, &sub(path, "*"), x, y, r.deeper())
            }
            _ if open(xa) != open(xb) => {
                let kind = if open(xb) {
                    "constraint.loosened"
                } else {
                    "constraint.tightened"
                };
                out.push(
                    Change::new(kind, path)
                        .dir(dir)
                        .lines(a.line, b.line)
                        .fact("keyword", "additionalProperties")
                        .from_to(brief(xa), brief(xb)),
                );
            }
            _ if xa != xb => out.push(
                Change::new("keyword.changed", path)
                    .dir(dir)
                    .lines(a.line, b.line)
                    .fact("keyword", "additionalProperties")
                    .from_to(brief(xa), brief(xb)),
            ),
            _ => {}
        }
    }

    /// Branches pair by `$ref`, then by equal content, then by position.
    fn composition(
        &mut self,
        out: &mut Changes,
        path: &str,
        kw: &str,
        a: &Node,
        b: &Node,
        r: Reach<'_>,
    ) {
        let dir = r.dir;
        let (ba, bb) = (
            a.get(kw).map(Node::items).unwrap_or(&[]),
            b.get(kw).map(Node::items).unwrap_or(&[]),
        );
        if ba == bb && !ba.iter().any(has_ref) {
            return;
        }
        let mut used = vec![false; bb.len()];
        let mut pairs: Vec<(usize, Option<usize>)> = Vec::new();
        for (i, x) in ba.iter().enumerate() {
            let by_ref = x.get("$ref").and_then(|r| {
                bb.iter()
                    .enumerate()
                    .position(|(j, y)| !used[j] && y.get("$ref") == Some(r))
            });
            let found =
                by_ref.or_else(|| bb.iter().enumerate().position(|(j, y)| !used[j] && y == x));
            if let Some(j) = found {
                used[j] = true;
            }
            pairs.push((i, found));
        }
        // Leftovers pair by position when both sides have exactly one.
        let left_a: Vec<usize> = pairs
            .iter()
            .filter(|(_, j)| j.is_none())
            .map(|(i, _)| *i)
            .collect();
        let left_b: Vec<usize> = (0..bb.len()).filter(|j| !used[*j]).collect();
        if left_a.len() == 1 && left_b.len() == 1 {
            if let Some(p) = pairs.iter_mut().find(|(i, _)| *i == left_a[0]) {
                p.1 = Some(left_b[0]);
                used[left_b[0]] = true;
            }
        }
        for (i, j) in pairs {
            match j {
                Some(j) => self.walk(
                    out,
                    &sub(path, &format!("{kw}[{i}]")),
                    &ba[i],
                    &bb[j],
                    r.deeper(),
                ),
                None => out.push(annotated(
                    Change::new(
                        "composition.branch_removed",
                        sub(path, &format!("{kw}[{i}]")),
                    )
                    .dir(dir)
                    .lines(ba[i].line, b.line)
                    .fact("keyword", kw)
                    .fact("value", ba[i].brief()),
                    &ba[i],
                )),
            }
        }
        // A keyword new to the schema wraps it (`oneOf: [old, other]`);
        // whether its branches can overlap is what `oneOf` risks: a value
        // matching two branches is rejected.
        let introduced = ba.is_empty() && a.get(kw).is_none();
        for (j, y) in bb.iter().enumerate().filter(|(j, _)| !used[*j]) {
            let mut c = Change::new("composition.branch_added", sub(path, &format!("{kw}[{j}]")))
                .dir(dir)
                .lines(a.line, y.line)
                .fact("keyword", kw)
                .fact("value", y.brief());
            c = annotated(c, y);
            if introduced {
                c = c.fact("introduced", true);
            }
            if kw == "oneOf" {
                c = c.fact("disjoint_types", disjoint_types(bb));
            }
            out.push(c);
        }
    }
}

/// Marks a branch change `annotation_only` when the branch only documents.
fn annotated(c: Change, branch: &Node) -> Change {
    if annotation_only(branch) {
        c.fact("annotation_only", true)
    } else {
        c
    }
}

/// A branch that only documents (`description`, `title`, examples,
/// `deprecated`, `x-` extensions): it accepts every value.
fn annotation_only(n: &Node) -> bool {
    match &n.data {
        Data::Map(m) => m
            .iter()
            .all(|(k, _)| ANNOTATIONS.contains(&k.as_str()) || k.starts_with("x-")),
        _ => false,
    }
}

/// Every branch names its types and no two share one (`integer` is a
/// `number`): no value can match two branches.
fn disjoint_types(branches: &[Node]) -> bool {
    let sets: Vec<Vec<String>> = branches.iter().map(types_of).collect();
    let overlap = |x: &str, y: &str| {
        x == y || (x == "integer" && y == "number") || (x == "number" && y == "integer")
    };
    sets.iter().all(|s| !s.is_empty())
        && sets.iter().enumerate().all(|(i, s)| {
            sets[i + 1..]
                .iter()
                .all(|t| !s.iter().any(|x| t.iter().any(|y| overlap(x, y))))
        })
}

fn has_ref(n: &Node) -> bool {
    match &n.data {
        Data::Map(m) => m.iter().any(|(k, v)| k == "$ref" || has_ref(v)),
        Data::Seq(s) => s.iter().any(has_ref),
        _ => false,
    }
}

fn sub(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else {
        format!("{path}.{part}")
    }
}

fn is_modelled(k: &str) -> bool {
    MODELLED.contains(&k) || DOC_KEYWORDS.contains(&k) || BOUNDS.iter().any(|(b, _)| *b == k)
}

/// `#/components/schemas/Order` → `Order`; other pointers stay readable.
fn ref_path(r: &str) -> String {
    let p = r.trim_start_matches('#').trim_start_matches('/');
    for prefix in ["components/schemas/", "definitions/", "$defs/"] {
        if let Some(name) = p.strip_prefix(prefix) {
            return unescape(name);
        }
    }
    unescape(p)
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn unresolved(r: &str, at: &Node) -> ParseError {
    ParseError {
        line: at.line,
        col: 1,
        message: format!("`$ref: {r}` cannot be resolved (only local references like `#/components/schemas/Name` are read)"),
    }
}

/// The schema a `$ref` names, following `$ref` chains (local only).
pub fn resolve_ref<'n>(root: &'n Node, r: &str) -> Option<&'n Node> {
    let mut cur = root;
    let pointer = r.strip_prefix('#')?;
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        let part = unescape(part);
        cur = match &cur.data {
            Data::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => cur.get(&part)?,
        };
    }
    resolve(root, cur)
}

/// Checks that every `$ref` of a document resolves: a dangling or remote
/// reference is an error at its line, before anything is compared.
pub fn check_refs(root: &Node) -> Result<(), ParseError> {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match &n.data {
            Data::Map(m) => {
                if let Some(r) = n.get("$ref").and_then(Node::as_str) {
                    if resolve_ref(root, r).is_none() {
                        return Err(unresolved(r, n));
                    }
                }
                stack.extend(m.iter().map(|(_, v)| v));
            }
            Data::Seq(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    Ok(())
}

/// Follows `$ref` chains (local only) to the schema they name.
pub fn resolve<'n>(root: &'n Node, mut n: &'n Node) -> Option<&'n Node> {
    for _ in 0..32 {
        let Some(r) = n.get("$ref").and_then(Node::as_str) else {
            return Some(n);
        };
        let pointer = r.strip_prefix('#')?;
        let mut cur = root;
        for part in pointer.split('/').filter(|p| !p.is_empty()) {
            let part = unescape(part);
            cur = match &cur.data {
                Data::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => cur.get(&part)?,
            };
        }
        n = cur;
    }
    None
}

fn types_of(n: &Node) -> Vec<String> {
    let mut t: Vec<String> = match n.get("type") {
        Some(Node {
            data: Data::String(s),
            ..
        }) => vec![s.clone()],
        Some(list) => list.strings(),
        None => vec![],
    };
    if flag(n, "nullable") && !t.is_empty() && !t.iter().any(|x| x == "null") {
        t.push("null".into());
    }
    t.sort();
    t.dedup();
    t
}

fn flag(n: &Node, key: &str) -> bool {
    n.get(key).and_then(Node::as_bool).unwrap_or(false)
}

fn bound(n: &Node, key: &str) -> Option<f64> {
    n.get(key).and_then(Node::as_f64)
}

fn required(n: &Node) -> Vec<String> {
    n.get("required").map(Node::strings).unwrap_or_default()
}

fn brief(n: Option<&Node>) -> Json {
    n.map(Node::brief).unwrap_or(Json::Null)
}

fn values(vs: &[Node]) -> Json {
    Json::Array(vs.iter().map(Node::to_json).collect())
}

fn aliases(n: &Node) -> Vec<String> {
    ["x-aliases", "x-alias"]
        .iter()
        .filter_map(|k| n.get(k))
        .flat_map(|v| match &v.data {
            Data::String(s) => vec![s.clone()],
            _ => v.strings(),
        })
        .collect()
}

fn declares_rename(n: &Node, old: &str) -> bool {
    n.get("x-renamed-from").and_then(Node::as_str) == Some(old)
        || aliases(n).iter().any(|a| a == old)
}

/// Equal as schemas, ignoring documentation keywords.
fn same_shape(a: &Node, b: &Node) -> bool {
    let strip = |n: &Node| -> Node {
        match &n.data {
            Data::Map(m) => Node::new(
                0,
                Data::Map(
                    m.iter()
                        .filter(|(k, _)| {
                            !DOC_KEYWORDS.contains(&k.as_str()) && !k.starts_with("x-")
                        })
                        .cloned()
                        .collect(),
                ),
            ),
            _ => n.clone(),
        }
    };
    strip(a) == strip(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn changes(a: &str, b: &str) -> Vec<Change> {
        let mut out = Changes::default();
        diff(a, b, &Options::default(), &mut out).expect("parses");
        out.0
    }

    fn kinds(cs: &[Change]) -> Vec<(&str, &str)> {
        cs.iter()
            .map(|c| (c.kind.as_str(), c.path.as_str()))
            .collect()
    }

    const BASE: &str = r#"
type: object
required: [id]
properties:
  id: {type: string}
  qty: {type: integer, minimum: 1, maximum: 100}
  status: {type: string, enum: [open, closed]}
"#;

    #[test]
    fn property_added_removed_and_required() {
        let head = "type: object\nrequired: [id, note]\nproperties:\n  id: {type: string}\n  note: {type: string}\n";
        let cs = changes(BASE, head);
        assert_eq!(
            kinds(&cs),
            [
                ("field.removed", "qty"),
                ("field.removed", "status"),
                ("field.added", "note")
            ]
        );
        assert_eq!(cs[2].facts["required"], true);
        assert_eq!(cs[0].direction, Some(Direction::Request));
        assert_eq!(cs[0].line_before, Some(6));
    }

    #[test]
    fn constraints_enums_and_types() {
        let head = r#"
type: object
required: [id]
properties:
  id: {type: [string, "null"]}
  qty: {type: integer, minimum: 5, maximum: 1000}
  status: {type: string, enum: [open, closed, held]}
"#;
        let cs = changes(BASE, head);
        assert_eq!(
            kinds(&cs),
            [
                ("type.widened", "id"),
                ("constraint.tightened", "qty"),
                ("constraint.loosened", "qty"),
                ("enum.value_added", "status"),
            ]
        );
        assert_eq!(cs[0].facts["nullability_only"], true);
        assert_eq!(cs[1].facts["keyword"], "minimum");
        assert_eq!(cs[3].facts["value"], "held");
    }

    #[test]
    fn renames_carry_their_evidence() {
        let a = "type: object\nproperties:\n  customer: {type: string, maxLength: 40}\n  id: {type: integer}\n";
        let b = "type: object\nproperties:\n  buyer: {type: string, maxLength: 40, description: who pays}\n  id: {type: integer}\n";
        let cs = changes(a, b);
        assert_eq!(kinds(&cs), [("field.renamed", "customer")]);
        assert_eq!(cs[0].to, "buyer");
        assert_eq!(cs[0].facts["match"], "only_candidate");
        assert_eq!(
            cs[0].facts["similarity"],
            crate::rename::similarity("customer", "buyer")
        );
        let b = "type: object\nproperties:\n  buyer: {type: string, maxLength: 40, x-aliases: [customer]}\n  id: {type: integer}\n";
        let cs = changes(a, b);
        assert_eq!(cs[0].facts["alias"], "customer");
        assert_eq!(cs[0].facts["match"], "declared");
        // Two alike candidates for one removal: the closer name, as a guess.
        let b = "type: object\nproperties:\n  customers: {type: string, maxLength: 40}\n  payer: {type: string, maxLength: 40}\n  id: {type: integer}\n";
        let cs = changes(a, b);
        assert_eq!(
            kinds(&cs),
            [("field.renamed", "customer"), ("field.added", "payer")]
        );
        assert_eq!(cs[0].to, "customers");
        assert_eq!(cs[0].facts["match"], "similar");
    }

    #[test]
    fn refs_resolve_and_cycles_terminate() {
        let a = r##"
type: object
properties:
  node: {$ref: "#/$defs/Node"}
$defs:
  Node:
    type: object
    properties:
      next: {$ref: "#/$defs/Node"}
      v: {type: integer}
"##;
        let b = a.replace("v: {type: integer}", "v: {type: string}");
        let cs = changes(a, &b);
        assert_eq!(kinds(&cs), [("type.changed", "Node.v")]);
    }

    #[test]
    fn documentation_and_order_only() {
        let b = r#"
# reordered, described
properties:
  status: {enum: [open, closed], type: string}
  qty: {maximum: 100, minimum: 1, type: integer, description: how many}
  id: {type: string}
required: [id]
type: object
"#;
        let cs = changes(BASE, b);
        assert_eq!(kinds(&cs), [("description.changed", "qty")]);
    }

    #[test]
    fn composition_branches_pair_by_ref() {
        let a = "oneOf:\n  - {$ref: '#/$defs/A'}\n  - {$ref: '#/$defs/B'}\n$defs:\n  A: {type: string}\n  B: {type: integer}\n";
        let b =
            "oneOf:\n  - {$ref: '#/$defs/B'}\n$defs:\n  A: {type: string}\n  B: {type: integer}\n";
        let cs = changes(a, b);
        assert_eq!(kinds(&cs), [("composition.branch_removed", "oneOf[0]")]);
        assert_eq!(cs[0].facts["keyword"], "oneOf");
    }

    #[test]
    fn parse_errors_name_the_side() {
        let mut out = Changes::default();
        let e = diff(BASE, "type: [", &Options::default(), &mut out).unwrap_err();
        assert_eq!(e.side, super::super::Side::Head);
        assert!(e.error.line >= 1);
    }
}
