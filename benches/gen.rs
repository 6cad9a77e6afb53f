//! Generated artifacts for the semantic-diff benches (shared by `benches/diff.rs`
//! and the `diffgen` tool used by `benches/diff-scale.sh`).

use std::fmt::Write as _;

/// An OpenAPI 3.1 document (JSON) with `paths` paths and `schemas` component
/// schemas of 8 properties each; each schema refers to the next (a chain
/// that ends in a cycle). With `changed`, `changes` scattered edits are
/// made: removed properties, tightened bounds, new enum values, removed
/// operations.
pub fn openapi_json(paths: usize, schemas: usize, changes: usize, changed: bool) -> String {
    let every = |n: usize| n.checked_div(changes).map_or(usize::MAX, |e| e.max(1));
    let (sch_every, path_every) = (every(schemas), every(paths));
    let mut s = String::with_capacity(paths * 900 + schemas * 700);
    s.push_str("{\n  \"openapi\": \"3.1.0\",\n  \"info\": {\"title\": \"generated\", \"version\": \"1.0.0\"},\n  \"paths\": {\n");
    for i in 0..paths {
        let tightened = changed && i % path_every == path_every / 2;
        let _ = write!(
            s,
            "    \"/r{i}/{{id}}\": {{\n      \"get\": {{\n        \"operationId\": \"get{i}\",\n        \"parameters\": [\n          {{\"name\": \"id\", \"in\": \"path\", \"required\": true, \"schema\": {{\"type\": \"string\"}}}},\n          {{\"name\": \"limit\", \"in\": \"query\", \"schema\": {{\"type\": \"integer\", \"maximum\": {}}}}}\n        ],\n        \"responses\": {{\"200\": {{\"description\": \"ok\", \"content\": {{\"application/json\": {{\"schema\": {{\"$ref\": \"#/components/schemas/S{}\"}}}}}}}}}}\n      }}",
            if tightened { 50 } else { 100 },
            i % schemas
        );
        if !(changed && i % path_every == 0 && i > 0) {
            let _ = write!(
                s,
                ",\n      \"delete\": {{\"operationId\": \"del{i}\", \"responses\": {{\"204\": {{\"description\": \"gone\"}}}}}}"
            );
        }
        s.push_str("\n    }");
        s.push_str(if i + 1 < paths { ",\n" } else { "\n" });
    }
    s.push_str("  },\n  \"components\": {\n    \"schemas\": {\n");
    for j in 0..schemas {
        let _ = write!(
            s,
            "      \"S{j}\": {{\"type\": \"object\", \"title\": \"Schema {j}\", \"description\": \"Schema number {j} of the generated document: a record with eight string properties, a status and a link to the next record, documented at length so that the document has the weight of a real API description.\", \"required\": [\"p0\"], \"properties\": {{"
        );
        for p in 0..8 {
            if changed && j % sch_every == 0 && p == 7 {
                continue;
            }
            let _ = write!(s, "\"p{p}\": {{\"type\": \"string\", \"maxLength\": 64, \"description\": \"property {p}\"}}, ");
        }
        let status = if changed && j % sch_every == sch_every / 3 {
            "[\"open\", \"closed\", \"held\"]"
        } else {
            "[\"open\", \"closed\"]"
        };
        let _ = write!(s, "\"status\": {{\"type\": \"string\", \"enum\": {status}}}, \"next\": {{\"$ref\": \"#/components/schemas/S{}\"}}}}}}", (j + 1) % schemas);
        s.push_str(if j + 1 < schemas { ",\n" } else { "\n" });
    }
    s.push_str("    }\n  }\n}\n");
    s
}

/// A GraphQL SDL schema with `types` object types of 12 fields; with
/// `changed`, `changes` scattered edits. `described` gives every field a
/// description, as public schemas have (GitHub's 1.1 MB schema is mostly
/// descriptions); without it the schema is all declarations, the densest
/// (slowest) case per byte.
pub fn graphql_sdl(types: usize, changes: usize, changed: bool, described: bool) -> String {
    let every = types.checked_div(changes).map_or(usize::MAX, |e| e.max(1));
    let mut s = String::with_capacity(types * 400);
    s.push_str("type Query {\n");
    for t in 0..types.min(500) {
        let _ = writeln!(s, "  t{t}(id: ID!, first: Int = 10): T{t}");
    }
    s.push_str("}\n\nenum Status {\n  OPEN\n  CLOSED\n}\n\n");
    for t in 0..types {
        let _ = writeln!(s, "\"\"\"Type number {t}.\"\"\"\ntype T{t} {{\n  id: ID!");
        for f in 0..10 {
            if changed && t % every == 0 && f == 9 {
                continue;
            }
            if described {
                let _ = writeln!(
                    s,
                    "  \"\"\"\n  Field {f} of type {t}: what it holds, when it is null, and which\n  permission a client needs to read it.\n  \"\"\""
                );
            }
            let _ = writeln!(s, "  f{f}(limit: Int): String");
        }
        let _ = writeln!(s, "  status: Status\n  next: T{}\n}}\n", (t + 1) % types);
    }
    s
}
