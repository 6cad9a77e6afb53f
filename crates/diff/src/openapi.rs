//! OpenAPI 3.0 and 3.1 (YAML or JSON).
//!
//! Operations are paired by method and path template, ignoring the names of
//! path parameters (`/orders/{id}` and `/orders/{orderId}` are one path).
//! For each pair: parameters (by location and name), the request body (by
//! media type, schemas read as `request`) and responses (by status, then
//! media type, schemas read as `response`) are compared; schemas go through
//! [`SchemaDiff`], so a component reached from many operations is reported
//! once with the list of operations that reach it. Components that no
//! operation reaches are not reported, as in oasdiff.
//!
//! Facts: `operation.removed` / `operation.added` (`deprecated`),
//! `operation.deprecated`, `parameter.required_added`, `parameter.added`,
//! `parameter.removed`, `parameter.became_required` /
//! `parameter.became_optional`, `request_body.added` (`required`),
//! `request_body.removed`, `request_body.became_required` / `_optional`,
//! `media_type.added` / `media_type.removed`, `response.removed` /
//! `response.added` (`status`), `header.removed` / `header.added`,
//! `security.changed`, `description.changed`, `operation.id_changed`, plus
//! every JSON Schema fact of the schemas.

use super::change::{Change, Changes, Direction};
use super::jsonschema::{resolve, SchemaDiff};
use super::tree::{Data, Node};
use super::{ArtifactError, Options};
use serde_json::Value as Json;
use std::collections::HashMap;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub fn diff(a: &str, b: &str, _opts: &Options, out: &mut Changes) -> Result<(), ArtifactError> {
    let (na, nb) = super::parse_both(a, b)?;
    super::jsonschema::check_refs(&na).map_err(ArtifactError::base)?;
    super::jsonschema::check_refs(&nb).map_err(ArtifactError::head)?;
    let mut d = OpenApiDiff {
        a: &na,
        b: &nb,
        schemas: SchemaDiff::new(&na, &nb),
    };
    d.run(out);
    d.schemas.finish(out);
    match d.schemas.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct OpenApiDiff<'a> {
    a: &'a Node,
    b: &'a Node,
    schemas: SchemaDiff<'a>,
}

/// `/orders/{orderId}` → `/orders/{}`.
fn normalise_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut in_param = false;
    for ch in p.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(ch),
        }
    }
    out
}

fn doc(n: Option<&Node>) -> Json {
    n.map(Node::brief).unwrap_or(Json::Null)
}

/// Top-level parts of a document that the operation diff reads (or that
/// are metadata); every other top-level key is compared as configuration.
const OPERATION_PARTS: &[&str] = &[
    "openapi",
    "swagger",
    "info",
    "externalDocs",
    "tags",
    "paths",
    "components",
    "security",
];

impl<'a> OpenApiDiff<'a> {
    fn r<'n>(&self, side_a: bool, n: &'n Node) -> &'n Node
    where
        'a: 'n,
    {
        let root: &'n Node = if side_a { self.a } else { self.b };
        resolve(root, n).unwrap_or(n)
    }

    fn run(&mut self, out: &mut Changes) {
        let empty = Node::new(0, Data::Map(vec![]));
        let (a, b) = (self.a, self.b);
        // Parts of the document no operation diff reads (servers, security
        // schemes, webhooks, extensions): compared as configuration.
        for (k, va) in a.entries() {
            if OPERATION_PARTS.contains(&k.as_str()) {
                continue;
            }
            match b.get(k) {
                Some(vb) => super::config::diff_tree(k, va, vb, out),
                None => out.push(
                    Change::new("config.key_removed", k.as_str())
                        .lines(va.line, 0)
                        .fact("name", k.as_str()),
                ),
            }
        }
        for (k, vb) in b.entries() {
            if a.get(k).is_none() && !OPERATION_PARTS.contains(&k.as_str()) {
                out.push(
                    Change::new("config.key_added", k.as_str())
                        .lines(0, vb.line)
                        .fact("name", k.as_str()),
                );
            }
        }
        if let (Some(sa), Some(sb)) = (
            a.at(&["components", "securitySchemes"]),
            b.at(&["components", "securitySchemes"]),
        ) {
            super::config::diff_tree("components.securitySchemes", sa, sb, out);
        }
        for kw in ["info", "externalDocs", "tags"] {
            if a.get(kw) != b.get(kw) {
                out.push(
                    Change::new("description.changed", kw)
                        .lines(
                            a.get(kw).map_or(0, |n| n.line),
                            b.get(kw).map_or(0, |n| n.line),
                        )
                        .from_to(doc(a.get(kw)), doc(b.get(kw))),
                );
            }
        }
        if a.get("security") != b.get("security") {
            out.push(
                Change::new("security.changed", "security")
                    .from_to(doc(a.get("security")), doc(b.get("security"))),
            );
        }
        let pa = a.get("paths").unwrap_or(&empty);
        let pb = b.get("paths").unwrap_or(&empty);
        // Paths pair by their template with parameter names left out.
        fn by_template(paths: &Node) -> HashMap<String, &(String, Node)> {
            let mut m = HashMap::with_capacity(paths.entries().len());
            for e in paths.entries() {
                m.entry(normalise_path(&e.0)).or_insert(e);
            }
            m
        }
        let (ta, tb) = (by_template(pa), by_template(pb));
        for (path_a, item_a) in pa.entries() {
            let item_b = tb.get(&normalise_path(path_a)).copied();
            for m in METHODS {
                let Some(op_a) = item_a.get(m) else { continue };
                let name = format!("{} {}", m.to_ascii_uppercase(), path_a);
                match item_b.and_then(|(_, ib)| ib.get(m).map(|ob| (ib, ob))) {
                    Some((ib, op_b)) => {
                        let name_b = format!(
                            "{} {}",
                            m.to_ascii_uppercase(),
                            item_b.map_or(path_a.as_str(), |(p, _)| p.as_str())
                        );
                        self.operation(out, &name_b, item_a, op_a, ib, op_b);
                    }
                    None => {
                        let mut c = Change::new("operation.removed", &name)
                            .lines(op_a.line, 0)
                            .fact("operation", name.as_str());
                        if op_a.get("deprecated").and_then(Node::as_bool) == Some(true) {
                            c = c.fact("deprecated", true);
                        }
                        if let Some(s) = op_a.get("x-sunset").and_then(Node::as_str) {
                            c = c.fact("sunset", s);
                        }
                        out.push(c);
                    }
                }
            }
        }
        for (path_b, item_b) in pb.entries() {
            let item_a = ta.get(&normalise_path(path_b)).map(|(_, i)| i);
            for m in METHODS {
                if item_b.get(m).is_some() && item_a.and_then(|i| i.get(m)).is_none() {
                    let name = format!("{} {}", m.to_ascii_uppercase(), path_b);
                    let line = item_b.get(m).map_or(0, |n| n.line);
                    out.push(
                        Change::new("operation.added", &name)
                            .lines(0, line)
                            .fact("operation", name.as_str()),
                    );
                }
            }
        }
    }

    fn operation(
        &mut self,
        out: &mut Changes,
        op: &str,
        item_a: &Node,
        a: &Node,
        item_b: &Node,
        b: &Node,
    ) {
        let at = |kind: &str, path: String, la: u32, lb: u32| {
            Change::new(kind, path).lines(la, lb).fact("operation", op)
        };
        if a.get("operationId") != b.get("operationId") {
            out.push(
                at("operation.id_changed", op.to_string(), a.line, b.line)
                    .from_to(doc(a.get("operationId")), doc(b.get("operationId"))),
            );
        }
        for kw in ["summary", "description", "tags", "externalDocs"] {
            if a.get(kw) != b.get(kw) {
                out.push(
                    at("description.changed", format!("{op}.{kw}"), a.line, b.line)
                        .from_to(doc(a.get(kw)), doc(b.get(kw))),
                );
            }
        }
        let dep = |n: &Node| n.get("deprecated").and_then(Node::as_bool) == Some(true);
        if !dep(a) && dep(b) {
            out.push(at("operation.deprecated", op.to_string(), a.line, b.line));
        }
        if a.get("security") != b.get("security") {
            out.push(
                at("security.changed", format!("{op}.security"), a.line, b.line)
                    .from_to(doc(a.get("security")), doc(b.get("security"))),
            );
        }
        self.parameters(out, op, item_a, a, item_b, b);
        self.request_body(out, op, a, b);
        self.responses(out, op, a, b);
    }

    /// Path-level and operation-level parameters, keyed by (in, name).
    fn params<'n>(
        &self,
        side_a: bool,
        item: &'n Node,
        op: &'n Node,
    ) -> Vec<(String, String, &'n Node)>
    where
        'a: 'n,
    {
        let mut out: Vec<(String, String, &'n Node)> = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for p in list.items() {
                let p = self.r(side_a, p);
                let loc = p
                    .get("in")
                    .and_then(Node::as_str)
                    .unwrap_or("query")
                    .to_string();
                let name = p
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string();
                // Path parameters pair by position in the path, not by name.
                out.retain(|(l, n, _)| !(l == &loc && n == &name));
                out.push((loc, name, p));
            }
        }
        out
    }

    fn parameters(
        &mut self,
        out: &mut Changes,
        op: &str,
        item_a: &Node,
        a: &Node,
        item_b: &Node,
        b: &Node,
    ) {
        let pa = self.params(true, item_a, a);
        let pb = self.params(false, item_b, b);
        let required = |p: &Node| p.get("required").and_then(Node::as_bool) == Some(true);
        let paths_a: Vec<&(String, String, &Node)> = pa.iter().filter(|p| p.0 == "path").collect();
        let paths_b: Vec<&(String, String, &Node)> = pb.iter().filter(|p| p.0 == "path").collect();
        for (loc, name, x) in &pa {
            let y = if loc == "path" {
                let i = paths_a.iter().position(|p| &p.1 == name);
                i.and_then(|i| paths_b.get(i)).map(|p| p.2)
            } else {
                pb.iter()
                    .find(|(l, n, _)| l == loc && n == name)
                    .map(|p| p.2)
            };
            let path = format!("{op}.{loc}.{name}");
            let base = |kind: &str, la: u32, lb: u32| {
                Change::new(kind, &path)
                    .dir(Some(Direction::Request))
                    .lines(la, lb)
                    .fact("operation", op)
                    .fact("name", name.as_str())
                    .fact("in", loc.as_str())
            };
            let Some(y) = y else {
                out.push(base("parameter.removed", x.line, b.line).fact("required", required(x)));
                continue;
            };
            match (required(x), required(y)) {
                (false, true) => out.push(base("parameter.became_required", x.line, y.line)),
                (true, false) => out.push(base("parameter.became_optional", x.line, y.line)),
                _ => {}
            }
            if x.get("description") != y.get("description") {
                out.push(
                    base("description.changed", x.line, y.line)
                        .from_to(doc(x.get("description")), doc(y.get("description"))),
                );
            }
            match (x.get("schema"), y.get("schema")) {
                (Some(sx), Some(sy)) => {
                    self.schemas
                        .diff(out, &path, sx, sy, Some(Direction::Request), Some(op))
                }
                (sx, sy) if sx != sy => out.push(
                    base("keyword.changed", x.line, y.line)
                        .fact("keyword", "schema")
                        .from_to(doc(sx), doc(sy)),
                ),
                _ => {}
            }
            // A parameter may describe itself by media type instead.
            if x.get("content").is_some() || y.get("content").is_some() {
                self.content(out, op, &path, x, y, Direction::Request);
            }
        }
        for (loc, name, y) in &pb {
            let had = if loc == "path" {
                let i = paths_b.iter().position(|p| &p.1 == name);
                i.is_some_and(|i| i < paths_a.len())
            } else {
                pa.iter().any(|(l, n, _)| l == loc && n == name)
            };
            if had {
                continue;
            }
            let kind = if required(y) {
                "parameter.required_added"
            } else {
                "parameter.added"
            };
            out.push(
                Change::new(kind, format!("{op}.{loc}.{name}"))
                    .dir(Some(Direction::Request))
                    .lines(a.line, y.line)
                    .fact("operation", op)
                    .fact("name", name.as_str())
                    .fact("in", loc.as_str())
                    .fact("required", required(y))
                    .fact("has_default", y.at(&["schema", "default"]).is_some()),
            );
        }
    }

    fn request_body(&mut self, out: &mut Changes, op: &str, a: &Node, b: &Node) {
        let ra = a.get("requestBody").map(|n| self.r(true, n));
        let rb = b.get("requestBody").map(|n| self.r(false, n));
        let path = format!("{op}.request");
        let required = |n: &Node| n.get("required").and_then(Node::as_bool) == Some(true);
        let c = |kind: &str, la: u32, lb: u32| {
            Change::new(kind, &path)
                .dir(Some(Direction::Request))
                .lines(la, lb)
                .fact("operation", op)
        };
        match (ra, rb) {
            (None, None) => {}
            (None, Some(y)) => {
                out.push(c("request_body.added", a.line, y.line).fact("required", required(y)))
            }
            (Some(x), None) => out.push(c("request_body.removed", x.line, b.line)),
            (Some(x), Some(y)) => {
                match (required(x), required(y)) {
                    (false, true) => out.push(c("request_body.became_required", x.line, y.line)),
                    (true, false) => out.push(c("request_body.became_optional", x.line, y.line)),
                    _ => {}
                }
                self.content(out, op, &path, x, y, Direction::Request);
            }
        }
    }

    fn responses(&mut self, out: &mut Changes, op: &str, a: &Node, b: &Node) {
        let empty = Node::new(0, Data::Map(vec![]));
        let ra = a.get("responses").unwrap_or(&empty);
        let rb = b.get("responses").unwrap_or(&empty);
        for (status, x) in ra.entries() {
            let path = format!("{op}.response.{status}");
            let Some(y) = rb.get(status) else {
                out.push(
                    Change::new("response.removed", &path)
                        .dir(Some(Direction::Response))
                        .lines(x.line, rb.line)
                        .fact("operation", op)
                        .fact("status", status.as_str()),
                );
                continue;
            };
            let (x, y) = (self.r(true, x), self.r(false, y));
            if x.get("description") != y.get("description") {
                out.push(
                    Change::new("description.changed", &path)
                        .lines(x.line, y.line)
                        .fact("operation", op)
                        .from_to(doc(x.get("description")), doc(y.get("description"))),
                );
            }
            self.headers(out, op, &path, x, y);
            self.content(out, op, &path, x, y, Direction::Response);
        }
        for (status, y) in rb.entries() {
            if ra.get(status).is_none() {
                out.push(
                    Change::new("response.added", format!("{op}.response.{status}"))
                        .dir(Some(Direction::Response))
                        .lines(ra.line, y.line)
                        .fact("operation", op)
                        .fact("status", status.as_str()),
                );
            }
        }
    }

    fn headers(&mut self, out: &mut Changes, op: &str, path: &str, a: &Node, b: &Node) {
        let empty = Node::new(0, Data::Map(vec![]));
        let ha = a.get("headers").unwrap_or(&empty);
        let hb = b.get("headers").unwrap_or(&empty);
        let required = |n: &Node| n.get("required").and_then(Node::as_bool) == Some(true);
        for (name, x) in ha.entries() {
            let p = format!("{path}.header.{name}");
            match hb.get(name) {
                None => out.push(
                    Change::new("header.removed", &p)
                        .dir(Some(Direction::Response))
                        .lines(x.line, b.line)
                        .fact("operation", op)
                        .fact("name", name.as_str())
                        .fact("required", required(self.r(true, x))),
                ),
                Some(y) => {
                    let (x, y) = (self.r(true, x), self.r(false, y));
                    if required(x) && !required(y) {
                        out.push(
                            Change::new("header.became_optional", &p)
                                .dir(Some(Direction::Response))
                                .lines(x.line, y.line)
                                .fact("operation", op)
                                .fact("name", name.as_str()),
                        );
                    }
                    if let (Some(sx), Some(sy)) = (x.get("schema"), y.get("schema")) {
                        self.schemas
                            .diff(out, &p, sx, sy, Some(Direction::Response), Some(op));
                    }
                }
            }
        }
        for (name, y) in hb.entries() {
            if ha.get(name).is_none() {
                out.push(
                    Change::new("header.added", format!("{path}.header.{name}"))
                        .dir(Some(Direction::Response))
                        .lines(a.line, y.line)
                        .fact("operation", op)
                        .fact("name", name.as_str()),
                );
            }
        }
    }

    fn content(
        &mut self,
        out: &mut Changes,
        op: &str,
        path: &str,
        a: &Node,
        b: &Node,
        dir: Direction,
    ) {
        let empty = Node::new(0, Data::Map(vec![]));
        let ca = a.get("content").unwrap_or(&empty);
        let cb = b.get("content").unwrap_or(&empty);
        let single = ca.entries().len() == 1 && cb.entries().len() == 1;
        for (mt, x) in ca.entries() {
            let Some(y) = cb.get(mt) else {
                out.push(
                    Change::new("media_type.removed", format!("{path}.{mt}"))
                        .dir(Some(dir))
                        .lines(x.line, b.line)
                        .fact("operation", op)
                        .fact("name", mt.as_str()),
                );
                continue;
            };
            // With one media type on each side the type is left out of the path.
            let p = if single {
                path.to_string()
            } else {
                format!("{path}.{mt}")
            };
            match (x.get("schema"), y.get("schema")) {
                (Some(sx), Some(sy)) => self.schemas.diff(out, &p, sx, sy, Some(dir), Some(op)),
                (sx, sy) if sx != sy => out.push(
                    Change::new("keyword.changed", &p)
                        .dir(Some(dir))
                        .lines(x.line, y.line)
                        .fact("operation", op)
                        .fact("keyword", "schema")
                        .from_to(doc(sx), doc(sy)),
                ),
                _ => {}
            }
        }
        for (mt, y) in cb.entries() {
            if ca.get(mt).is_none() {
                out.push(
                    Change::new("media_type.added", format!("{path}.{mt}"))
                        .dir(Some(dir))
                        .lines(a.line, y.line)
                        .fact("operation", op)
                        .fact("name", mt.as_str()),
                );
            }
        }
    }
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

    const BASE: &str = r##"
openapi: 3.0.3
info: {title: Orders, version: "1.0"}
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: expand, in: query, schema: {type: string, enum: [items, customer]}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
        "404": {description: missing}
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Order"}
      responses:
        "201": {description: created}
components:
  schemas:
    Order:
      type: object
      required: [id]
      properties:
        id: {type: string}
        total: {type: number}
        status: {type: string, enum: [open, closed]}
"##;

    #[test]
    fn shared_component_is_reported_once_per_direction_with_operations() {
        let head = BASE.replace("        total: {type: number}\n", "");
        let cs = changes(BASE, &head);
        assert_eq!(
            kinds(&cs),
            [
                ("field.removed", "Order.total"),
                ("field.removed", "Order.total")
            ]
        );
        assert_eq!(cs[0].direction, Some(Direction::Response));
        assert_eq!(
            cs[0].facts["operations"],
            serde_json::json!(["GET /orders/{id}"])
        );
        assert_eq!(cs[1].direction, Some(Direction::Request));
        assert_eq!(
            cs[1].facts["operations"],
            serde_json::json!(["POST /orders"])
        );
    }

    #[test]
    fn operations_parameters_and_responses() {
        let head = BASE
            .replace("  /orders:\n    post:", "  /orders:\n    put:")
            .replace("        \"404\": {description: missing}\n", "")
            .replace(
                "        - {name: expand, in: query, schema: {type: string, enum: [items, customer]}}\n",
                "        - {name: expand, in: query, schema: {type: string, enum: [items]}}\n        - {name: tenant, in: header, required: true, schema: {type: string}}\n",
            );
        let cs = changes(BASE, &head);
        assert_eq!(
            kinds(&cs),
            [
                ("enum.value_removed", "GET /orders/{id}.query.expand"),
                ("parameter.required_added", "GET /orders/{id}.header.tenant"),
                ("response.removed", "GET /orders/{id}.response.404"),
                ("operation.removed", "POST /orders"),
                ("operation.added", "PUT /orders"),
            ]
        );
        assert_eq!(cs[0].direction, Some(Direction::Request));
        assert_eq!(cs[2].facts["status"], "404");
    }

    #[test]
    fn renamed_path_parameter_is_silent() {
        let head = BASE
            .replace("/orders/{id}:", "/orders/{orderId}:")
            .replace("{name: id, in: path", "{name: orderId, in: path");
        assert_eq!(kinds(&changes(BASE, &head)), []);
    }

    #[test]
    fn cyclic_schemas_terminate() {
        let a = r##"
openapi: 3.1.0
paths:
  /n:
    get:
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: "#/components/schemas/N"}}}
components:
  schemas:
    N: {type: object, properties: {next: {$ref: "#/components/schemas/N"}, v: {type: integer}}}
"##;
        let b = a.replace(
            "v: {type: integer}",
            "v: {type: integer}, w: {type: string}",
        );
        let cs = changes(a, &b);
        assert_eq!(kinds(&cs), [("field.added", "N.w")]);
    }

    const PETS: &str = r##"
openapi: 3.0.3
info: {title: P, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /d:
    get:
      parameters:
        - {$ref: "#/components/parameters/Limit"}
      responses:
        "200":
          description: ok
          headers:
            ETag: {required: true, schema: {type: string}}
          content: {application/json: {schema: {$ref: "#/components/schemas/Dog"}}}
components:
  parameters:
    Limit: {name: limit, in: query, schema: {type: integer}}
  schemas:
    Pet: {type: object, required: [id, name], properties: {id: {type: string}, name: {type: string}}}
    Dog: {allOf: [{$ref: "#/components/schemas/Pet"}]}
"##;

    #[test]
    fn schemas_behind_an_unchanged_all_of_are_compared() {
        let head = PETS.replace(
            "required: [id, name], properties: {id: {type: string}, name: {type: string}}",
            "required: [id], properties: {id: {type: string}}",
        );
        let cs = changes(PETS, &head);
        assert_eq!(kinds(&cs), [("field.removed", "Pet.name")]);
        assert_eq!(cs[0].facts["operations"], serde_json::json!(["GET /d"]));
    }

    #[test]
    fn servers_and_header_requiredness_are_compared() {
        let head = PETS
            .replace("/v1\"", "/v2\"")
            .replace("ETag: {required: true,", "ETag: {");
        let cs = changes(PETS, &head);
        assert_eq!(
            kinds(&cs),
            [
                ("config.value_changed", "servers[0].url"),
                ("header.became_optional", "GET /d.response.200.header.ETag")
            ]
        );
    }

    #[test]
    fn a_dangling_ref_anywhere_is_an_error_at_its_line() {
        let head = PETS.replace(
            "- {$ref: \"#/components/parameters/Limit\"}",
            "- {$ref: \"#/components/parameters/Missing\"}",
        );
        let mut out = Changes::default();
        let e = diff(PETS, &head, &Options::default(), &mut out).unwrap_err();
        assert_eq!(e.side, super::super::Side::Head);
        assert_eq!(e.error.line, 9);
        assert!(
            e.error.message.contains("#/components/parameters/Missing"),
            "{}",
            e.error.message
        );
    }
}
