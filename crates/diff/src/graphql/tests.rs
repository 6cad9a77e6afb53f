//! Facts of schema pairs, and the token and tree readers agreeing.

use super::model::*;
use super::token_reader::read_tokens;
use super::tree_reader::parse_with_tree;
use super::*;
use crate::change::{Change, Direction};
use serde_json::Value as Json;

fn run(a: &str, b: &str) -> Vec<Change> {
    let mut out = Changes::default();
    diff(a, b, &Options::default(), &mut out).unwrap();
    out.0
}

fn one(a: &str, b: &str) -> Change {
    let v = run(a, b);
    assert_eq!(v.len(), 1, "expected one change, got {v:#?}");
    v.into_iter().next().unwrap()
}

fn kinds(v: &[Change]) -> Vec<&str> {
    v.iter().map(|c| c.kind.as_str()).collect()
}

fn fact<'c>(c: &'c Change, k: &str) -> &'c Json {
    c.facts.get(k).unwrap_or(&Json::Null)
}

const BASE: &str = r#"
type Query {
  order(id: ID!): Order
  orders(limit: Int = 10): [Order!]!
}

type Order {
  id: ID!
  total: Float
  status: Status!
}

enum Status { OPEN CLOSED }
"#;

#[test]
fn comments_whitespace_and_reordering_are_not_changes() {
    let b = r#"# the API
enum Status {
  CLOSED # done
  OPEN
}

type Order { status: Status!, total: Float
  id: ID! }
type Query {
  orders(limit: Int = 10): [Order!]!   # list
  order(id: ID!): Order
}
"#;
    assert!(run(BASE, b).is_empty(), "{:#?}", run(BASE, b));
    // A field moved into an extension is not a change either.
    let c = "type Query { order(id: ID!): Order }\ntype Order { id: ID! status: Status! }\nenum Status { OPEN CLOSED }\nextend type Query { orders(limit: Int = 10): [Order!]! }\nextend type Order { total: Float }\n";
    assert!(run(BASE, c).is_empty(), "{:#?}", run(BASE, c));
    // Block and plain strings with the same text are the same description.
    let d1 = "\"\"\"\n  Money.\n\"\"\"\nscalar Money\n";
    let d2 = "\"Money.\"\nscalar Money\n";
    assert!(run(d1, d2).is_empty());
}

#[test]
fn type_removed_and_added_fold_their_children() {
    let b = BASE.replace(
        "enum Status { OPEN CLOSED }",
        "type Status { code: Int name: String }\ntype Extra { a: Int b: Int }",
    );
    let v = run(BASE, &b);
    assert_eq!(kinds(&v), ["type.kind_changed", "type.added"]);
    assert_eq!(v[0].path, "Status");
    assert_eq!(
        (v[0].from.clone(), v[0].to.clone()),
        (Json::from("enum"), Json::from("object"))
    );
    assert_eq!(v[1].path, "Extra");
    assert_eq!(fact(&v[1], "type_kind"), "object");
    assert_eq!(v[1].line_after, Some(14));

    let b = BASE.replace(
        "type Order {\n  id: ID!\n  total: Float\n  status: Status!\n}",
        "",
    );
    let c = run(BASE, &b);
    assert_eq!(kinds(&c), ["type.removed"]);
    assert_eq!(c[0].path, "Order");
    assert_eq!(c[0].line_before, Some(7));
}

#[test]
fn field_removed_and_added_with_direction() {
    let b = BASE.replace("  total: Float\n", "").replace(
        "  status: Status!\n",
        "  status: Status!\n  currency: String!\n",
    );
    let v = run(BASE, &b);
    assert_eq!(kinds(&v), ["field.removed", "field.added"]);
    assert_eq!(v[0].path, "Order.total");
    assert_eq!(v[0].direction, Some(Direction::Response));
    assert_eq!(fact(&v[0], "deprecated"), false);
    assert_eq!(v[0].line_before, Some(9));
    assert_eq!(v[1].path, "Order.currency");
    assert_eq!(v[1].direction, Some(Direction::Response));
    assert_eq!(fact(&v[1], "required"), &Json::Null);

    let a = "type Q { a: Int, old: String @deprecated(reason: \"use a\") }";
    let c = one(a, "type Q { a: Int }");
    assert_eq!(c.kind, "field.removed");
    assert_eq!(fact(&c, "deprecated"), true);
    assert_eq!(fact(&c, "deprecation_reason"), "use a");
}

#[test]
fn input_fields_are_request_side() {
    let a = "input NewOrder { item: ID! note: [String] }";
    let b = "input NewOrder { item: ID! qty: Int! coupon: String gift: Boolean! = false }";
    let v = run(a, b);
    assert_eq!(
        kinds(&v),
        ["field.removed", "field.added", "field.added", "field.added"]
    );
    assert_eq!(v[0].path, "NewOrder.note");
    assert_eq!(v[0].direction, Some(Direction::Request));
    let by = |p: &str| v.iter().find(|c| c.path == p).unwrap();
    let qty = by("NewOrder.qty");
    assert_eq!(
        (fact(qty, "required"), fact(qty, "has_default")),
        (&Json::from(true), &Json::from(false))
    );
    assert_eq!(qty.direction, Some(Direction::Request));
    let coupon = by("NewOrder.coupon");
    assert_eq!(fact(coupon, "required"), false);
    let gift = by("NewOrder.gift");
    assert_eq!(
        (fact(gift, "required"), fact(gift, "has_default")),
        (&Json::from(false), &Json::from(true))
    );
    assert_eq!(fact(gift, "default"), "false");
}

#[test]
fn field_type_changes_tell_nullability() {
    let c = one("type T { a: Int }", "type T { a: Int! }");
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("field.type_changed", "T.a")
    );
    assert_eq!(c.direction, Some(Direction::Response));
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (Json::from("Int"), Json::from("Int!"))
    );
    assert_eq!(
        (fact(&c, "nullability_only"), fact(&c, "became_non_null")),
        (&Json::from(true), &Json::from(true))
    );
    assert_eq!(fact(&c, "became_nullable"), false);

    let c = one("type T { a: [Int!] }", "type T { a: [Int]! }");
    assert_eq!(fact(&c, "nullability_only"), true);
    assert_eq!(
        (fact(&c, "became_non_null"), fact(&c, "became_nullable")),
        (&Json::from(false), &Json::from(false))
    );

    let c = one("type T { a: Int! }", "type T { a: String! }");
    assert_eq!(
        (fact(&c, "nullability_only"), fact(&c, "became_non_null")),
        (&Json::from(false), &Json::from(false))
    );

    let c = one("input I { a: [Int!]! }", "input I { a: [Int] }");
    assert_eq!(c.direction, Some(Direction::Request));
    assert_eq!(fact(&c, "became_nullable"), true);
}

#[test]
fn arguments() {
    let b = BASE
        .replace(
            "order(id: ID!)",
            "order(id: ID!, locale: String!, region: String = \"eu\")",
        )
        .replace("orders(limit: Int = 10)", "orders(limit: Int! = 20)");
    let v = run(BASE, &b);
    assert_eq!(
        kinds(&v),
        [
            "argument.added",
            "argument.added",
            "argument.type_changed",
            "default.changed"
        ]
    );
    assert_eq!(v[0].path, "Query.order(locale)");
    assert_eq!(v[0].direction, Some(Direction::Request));
    assert_eq!(
        (fact(&v[0], "required"), fact(&v[0], "has_default")),
        (&Json::from(true), &Json::from(false))
    );
    assert_eq!(
        (fact(&v[1], "required"), fact(&v[1], "has_default")),
        (&Json::from(false), &Json::from(true))
    );
    assert_eq!(v[2].path, "Query.orders(limit)");
    assert_eq!(v[2].direction, Some(Direction::Request));
    assert_eq!(fact(&v[2], "became_non_null"), true);
    assert_eq!(v[3].path, "Query.orders(limit)");
    assert_eq!(
        (v[3].from.clone(), v[3].to.clone()),
        (Json::from("10"), Json::from("20"))
    );

    let v = run(BASE, &BASE.replace("order(id: ID!)", "order"));
    assert_eq!(kinds(&v), ["argument.removed"]);
    assert_eq!(v[0].path, "Query.order(id)");
    assert_eq!(v[0].direction, Some(Direction::Request));
    assert_eq!(v[0].line_before, Some(3));
}

#[test]
fn input_field_default_changed() {
    let c = one("input I { n: Int = 1 }", "input I { n: Int }");
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("default.changed", "I.n")
    );
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (Json::from("1"), Json::Null)
    );
    assert_eq!(c.direction, Some(Direction::Request));
    // Object key order in a default is not a change.
    assert!(run(
        "input I { p: P = {a: 1, b: 2} }",
        "input I { p: P = {b: 2, a: 1} }"
    )
    .is_empty());
}

#[test]
fn enum_values() {
    let v = run(BASE, &BASE.replace("{ OPEN CLOSED }", "{ OPEN ARCHIVED }"));
    assert_eq!(kinds(&v), ["enum.value_removed", "enum.value_added"]);
    assert_eq!(
        (v[0].path.as_str(), fact(&v[0], "value")),
        ("Status.CLOSED", &Json::from("CLOSED"))
    );
    assert_eq!(
        (v[1].path.as_str(), fact(&v[1], "value")),
        ("Status.ARCHIVED", &Json::from("ARCHIVED"))
    );
    assert_eq!(v[0].direction, None);
    let c = one(
        "enum E { A B }",
        "enum E { A B @deprecated(reason: \"gone\") }",
    );
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("enum.value_deprecated", "E.B")
    );
    // Values added through an extension.
    let c = one("enum E { A }", "enum E { A }\nextend enum E { B }");
    assert_eq!(
        (c.kind.as_str(), fact(&c, "value")),
        ("enum.value_added", &Json::from("B"))
    );
    assert_eq!(c.line_after, Some(2));
}

#[test]
fn union_members_and_interfaces() {
    let v = run(
        "union U = A | B\ntype A { x: Int }\ntype B { x: Int }",
        "union U = A\ntype A { x: Int }\ntype B { x: Int }\nextend union U = C\ntype C { x: Int }",
    );
    assert_eq!(
        kinds(&v),
        ["union.member_removed", "union.member_added", "type.added"]
    );
    assert_eq!(
        (v[0].path.as_str(), fact(&v[0], "name")),
        ("U", &Json::from("B"))
    );
    assert_eq!(fact(&v[1], "name"), "C");

    let a = "interface Node { id: ID! }\ninterface Named { name: String }\ntype User implements Node { id: ID! name: String }";
    let b = "interface Node { id: ID! }\ninterface Named { name: String }\ntype User implements Named { id: ID! name: String }";
    let v = run(a, b);
    assert_eq!(kinds(&v), ["interface.removed", "interface.added"]);
    assert_eq!(
        (v[0].path.as_str(), fact(&v[0], "name")),
        ("User", &Json::from("Node"))
    );
    assert_eq!(fact(&v[1], "name"), "Named");
    // Interfaces added by an extension are merged.
    let c = b.replace("implements Named ", "") + "\nextend type User implements Named";
    assert!(run(b, &c).is_empty());
}

#[test]
fn directive_definitions() {
    let a = "directive @auth(role: String!, scope: String) repeatable on FIELD_DEFINITION | OBJECT\ndirective @old on FIELD\ntype Q { a: Int }";
    let b = "directive @auth(role: String, level: Int!) on FIELD_DEFINITION | ENUM\ndirective @new on FIELD\ntype Q { a: Int }";
    let v = run(a, b);
    assert_eq!(
        kinds(&v),
        [
            "directive.repeatable_changed",
            "directive.location_removed",
            "directive.location_added",
            "argument.type_changed",
            "directive.argument_removed",
            "directive.argument_added",
            "directive.removed",
            "directive.added"
        ]
    );
    assert_eq!(v[0].path, "@auth");
    assert_eq!(
        (v[0].from.clone(), v[0].to.clone()),
        (Json::from(true), Json::from(false))
    );
    assert_eq!(fact(&v[1], "location"), "OBJECT");
    assert_eq!(fact(&v[2], "location"), "ENUM");
    assert_eq!(v[3].path, "@auth(role)");
    assert_eq!(fact(&v[3], "became_nullable"), true);
    assert_eq!(v[4].path, "@auth(scope)");
    assert_eq!(v[5].path, "@auth(level)");
    assert_eq!(fact(&v[5], "required"), true);
    assert_eq!(v[6].path, "@old");
    assert_eq!(v[7].path, "@new");
}

#[test]
fn directive_usages() {
    let v = run(
        "type T @key(fields: \"id\") { a: Int @auth(role: USER) b: Int @cache }",
        "type T @key(fields: \"id\") @key(fields: \"sku\") { a: Int @auth(role: ADMIN) b: Int }",
    );
    assert_eq!(
        kinds(&v),
        [
            "directive.usage_added",
            "directive.usage_changed",
            "directive.usage_removed"
        ]
    );
    assert_eq!(
        (v[0].path.as_str(), fact(&v[0], "name")),
        ("T", &Json::from("key"))
    );
    assert_eq!(fact(&v[0], "usage"), "@key(fields: \"sku\")");
    assert_eq!(v[1].path, "T.a");
    assert_eq!(
        (v[1].from.clone(), v[1].to.clone()),
        (
            Json::from("@auth(role: USER)"),
            Json::from("@auth(role: ADMIN)")
        )
    );
    assert_eq!(
        (v[2].path.as_str(), fact(&v[2], "name")),
        ("T.b", &Json::from("cache"))
    );
    let c = one("input I { a: Int }", "input I @oneOf { a: Int }");
    assert_eq!(
        (c.kind.as_str(), fact(&c, "name")),
        ("directive.usage_added", &Json::from("oneOf"))
    );
}

#[test]
fn deprecation_next_to_replacement_is_not_a_rename() {
    let a = "type User { name: String }";
    let b = "type User { name: String @deprecated(reason: \"use fullName\") fullName: String }";
    let v = run(a, b);
    assert_eq!(kinds(&v), ["field.deprecated", "field.added"]);
    assert_eq!(v[0].path, "User.name");
    assert_eq!(fact(&v[0], "reason"), "use fullName");
    assert_eq!(v[0].direction, Some(Direction::Response));
    let c = one(b, "type User { name: String fullName: String }\n");
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("field.undeprecated", "User.name")
    );
    let c = one(
        "type T { a: Int @deprecated }",
        "type T { a: Int @deprecated(reason: \"x\") }",
    );
    assert_eq!(c.kind, "deprecation.reason_changed");
    let c = one(
        "type T { a(x: Int): Int }",
        "type T { a(x: Int @deprecated): Int }",
    );
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("argument.deprecated", "T.a(x)")
    );
}

#[test]
fn renames() {
    let a = "type User { id: ID! customer(first: Int): String other: Int }";
    let b = "type User { id: ID! buyer(first: Int): String other: Int }";
    let c = one(a, b);
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("field.renamed", "User.customer")
    );
    assert_eq!(c.to, Json::from("User.buyer"));
    assert_eq!(fact(&c, "name"), "buyer");
    assert_eq!(c.direction, Some(Direction::Response));
    assert_eq!(fact(&c, "match"), "only_candidate");
    assert_eq!(
        fact(&c, "similarity"),
        crate::rename::similarity("customer", "buyer")
    );

    // Two candidates for one removal: the most similar name wins.
    let v = run(
        "type U { userName: String }",
        "type U { login: String userNames: String }",
    );
    assert_eq!(kinds(&v), ["field.renamed", "field.added"]);
    assert_eq!(v[0].to, Json::from("U.userNames"));
    assert_eq!(fact(&v[0], "match"), "similar");
    assert_eq!(fact(&v[0], "similarity"), 0.89);
    assert_eq!(v[1].path, "U.login");

    // Different type or arguments: not a rename.
    assert_eq!(
        kinds(&run("type U { a: Int }", "type U { b: String }")),
        ["field.removed", "field.added"]
    );
    assert_eq!(
        kinds(&run("type U { a(x: Int): Int }", "type U { b: Int }")),
        ["field.removed", "field.added"]
    );

    // Two unambiguous pairs are each certain.
    let v = run("type U { a: Int b: String }", "type U { x: Int y: String }");
    assert_eq!(kinds(&v), ["field.renamed", "field.renamed"]);
    assert_eq!(
        (v[0].to.clone(), fact(&v[0], "match").clone()),
        (Json::from("U.x"), Json::from("only_candidate"))
    );
    assert_eq!(
        (v[1].to.clone(), fact(&v[1], "match").clone()),
        (Json::from("U.y"), Json::from("only_candidate"))
    );

    // A deprecated field that goes was announced: not a rename.
    let v = run("type U { a: Int @deprecated }", "type U { b: Int }");
    assert_eq!(kinds(&v), ["field.removed", "field.added"]);
    assert_eq!(fact(&v[0], "deprecated"), true);

    // Input fields.
    let c = one("input I { qty: Int! }", "input I { quantity: Int! }");
    assert_eq!(
        (c.kind.as_str(), c.direction),
        ("field.renamed", Some(Direction::Request))
    );
}

#[test]
fn descriptions() {
    let v = run(
            "\"Orders\" type Query { \"one\" order(\"the id\" id: ID!): Int }\nenum E { \"a\" A }\n\"d\" directive @d on FIELD",
            "\"All orders\" type Query { order(\"its id\" id: ID!): Int }\nenum E { \"b\" A }\n\"e\" directive @d on FIELD",
        );
    assert_eq!(kinds(&v), ["description.changed"; 5]);
    let paths: Vec<&str> = v.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["Query", "Query.order", "Query.order(id)", "E.A", "@d"]
    );
    assert_eq!(
        (v[1].from.clone(), v[1].to.clone()),
        (Json::from("one"), Json::Null)
    );
}

#[test]
fn schema_roots() {
    let a = "schema { query: Query }\ntype Query { a: Int }\ntype Root { a: Int }";
    let c = one(a, &a.replace("query: Query", "query: Root"));
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("schema.root_changed", "schema.query")
    );
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (Json::from("Query"), Json::from("Root"))
    );
    assert_eq!(fact(&c, "operation"), "query");
    // Implicit and explicit roots with the same names are the same.
    assert!(run(
        "type Query { a: Int }",
        "schema { query: Query }\ntype Query { a: Int }"
    )
    .is_empty());
    // A root that comes with its type is told by `type.added`.
    let v = run(
        "type Query { a: Int }",
        "type Query { a: Int }\ntype Mutation { b: Int }",
    );
    assert_eq!(kinds(&v), ["type.added"]);
    assert_eq!(fact(&v[0], "root"), "mutation");
}

#[test]
fn parse_errors_have_side_and_position() {
    let mut out = Changes::default();
    let e = diff(
        "type Q {\n  a: Int\n  b: \n}\n",
        "type Q { a: Int }",
        &Options::default(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(e.side, super::super::Side::Base);
    assert_eq!(e.error.line, 4, "{e}");
    assert!(e.error.col >= 1);
    assert_eq!(
        e.error.message,
        "invalid GraphQL SDL: expected a Type, found `}`"
    );
    let e = diff(
        "type Q { a: Int }",
        "type Q { a: Int }\n\ntype R { x: }",
        &Options::default(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(e.side, super::super::Side::Head);
    assert_eq!(e.error.line, 3, "{e}");
    assert_eq!(e.error.col, 13);
    // Semantic errors are positioned too.
    let e = parse("type A { x: Int }\ninput A { y: Int }").unwrap_err();
    assert_eq!((e.line, e.col), (2, 1));
    let e = parse("type A { x: Int }\nextend enum A { B }").unwrap_err();
    assert_eq!(e.line, 2);
    let e = parse("type A { x: Int\n x: String }").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(out.0.is_empty());
    // Comments only: an empty schema, not an error.
    assert!(parse("# nothing yet\n\n").is_ok());
}

#[test]
fn syntax_errors_are_told_at_the_first_one() {
    // apollo-parser reads on after an error: the first one is told.
    let e = parse("type A { a: [Int }\ntype B { b: }\n").unwrap_err();
    assert_eq!((e.line, e.col), (1, 18), "{e}");
    assert_eq!(e.message, "invalid GraphQL SDL: expected `]`, found `}`");
    let e = parse("enum E { A B\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 1), "{e}");
    assert!(e.message.ends_with("at the end of the text"), "{e}");
    // What a schema cannot hold.
    let e = parse("type Q { a: Int }\nquery { a }").unwrap_err();
    assert_eq!((e.line, e.col), (2, 1), "{e}");
    let e = parse("type Q { a(x: Int = $v): Int }").unwrap_err();
    assert_eq!((e.line, e.col), (1, 21), "{e}");
    let e = parse("schema { query: Q query: R }\ntype Q { a: Int }").unwrap_err();
    assert_eq!((e.line, e.col), (1, 19), "{e}");
}

#[test]
fn schema_descriptions_and_extensions() {
    let s = parse(
            "\"The API\"\nschema @a { query: Q }\nextend schema @b { mutation: M }\ntype Q { a: Int }\ntype M { b: Int }",
        )
        .unwrap();
    assert_eq!(s.roots, [Some("Q".into()), Some("M".into()), None]);
    assert_eq!(s.schema_line, 2);
    let names: Vec<&str> = s
        .schema_directives
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    // A root added by `extend schema` is a root change.
    let a = "schema { query: Q }\ntype Q { a: Int }\ntype M { b: Int }";
    let c = one(a, &format!("{a}\nextend schema {{ mutation: M }}"));
    assert_eq!(
        (c.kind.as_str(), c.path.as_str()),
        ("schema.root_changed", "schema.mutation")
    );
}

#[test]
fn values_are_read_as_written() {
    let s = parse(
            "type T { a(big: Int = 123456789012345678901234567890, z: Int = -0, e: String = \"\\u{1F600}\\b\"): Int }",
        )
        .unwrap();
    let args = &s.types[0].fields[0].args;
    let shown: Vec<String> = args
        .iter()
        .map(|a| render_value(a.default.as_ref().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            "123456789012345678901234567890",
            "0",
            "\"\u{1F600}\\u0008\""
        ]
    );
}

/// Every fixture, generated schemas and edge cases: the token reader
/// builds the tree's schema, and gives up where the tree has an error.
#[test]
fn token_reader_builds_the_tree_schema() {
    fn check(text: &str, must_read: bool) {
        let tree = parse_with_tree(text);
        let tokens = read_tokens(text);
        match tree {
            Ok(t) => {
                if must_read {
                    assert!(tokens.is_some(), "token reader gave up on:\n{text}");
                }
                if let Some(x) = tokens {
                    assert_eq!(x, t, "schemas differ for:\n{text}");
                }
            }
            Err(e) => assert!(
                tokens.is_none(),
                "tree error {e:?} but tokens read:\n{text}"
            ),
        }
    }
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "graphql") {
                out.push(p);
            }
        }
    }
    // A small copy of benches/gen.rs `graphql_sdl`.
    fn generated(types: usize, changes: usize, changed: bool, described: bool) -> String {
        use std::fmt::Write;
        let every = types.checked_div(changes).map_or(usize::MAX, |e| e.max(1));
        let mut s = String::new();
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
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/semantic-diff");
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let valid = parse_with_tree(&text).is_ok();
        check(&text, valid && !text.contains('$'));
    }
    for (changed, described) in [(false, false), (true, false), (false, true), (true, true)] {
        check(&generated(40, 7, changed, described), true);
    }
    let valid = [
            "",
            "# only a comment\n",
            "schema @a(x: 1) { query: Q, mutation: M }\ntype Q { a: Int }\ntype M { b: Int }",
            "extend schema @b { subscription: S }\ntype S { x: Int }\ntype Query { y: Int }",
            "\"\"\"\n  Desc\n    more\n\"\"\"\nschema { query: Q } type Q { a: Int }",
            "\"the d\" directive @d(a: Int = 1, b: [String!]! = [\"x\", \"y\"]) repeatable on FIELD_DEFINITION | OBJECT",
            "directive @e on | ENUM_VALUE | SCALAR",
            "scalar Date @specifiedBy(url: \"https://x\")\nextend scalar Date @foo",
            "interface I { id: ID! }\ninterface J implements I & K { id: ID! }\ntype T implements & I & J @a { id: ID!, list: [[Int!]]! @b(c: {z: 1, a: [1.5, -0, -2e3, true, false, null, E]}) }",
            "type T { a(x: Int = -0 y: Float = 1.0E+2, z: In = {a: {b: [ ]}}, w: String = \"\\u00e9\\n\\\"q\"): Int }",
            "union U = | A | B\nextend union U = C | A\nextend union U @x\ntype A { a: Int } type B { b: Int } type C { c: Int }",
            "enum E { \"d\" A @deprecated(reason: \"no\"), B C }\nextend enum E { D }\nextend enum E @x",
            "input In { a: Int = 1 @x, \"\"\"b\"\"\" b: [In!] }\nextend input In { c: Boolean = false }",
            "extend type T { b: Int }\ntype T implements I { a: Int }\nextend type T implements I & J\nextend type T @z",
            "type T\nscalar S\nenum E\ninput I\nunion U\ninterface N",
        ];
    for c in valid {
        check(c, true);
    }
    // Errors and things the token reader leaves to the tree.
    let others = [
        "type T { a: Int }\ntype T { b: Int }",
        "type T { a: Int a: String }",
        "extend type T { a: Int }\nextend enum T { A }",
        "type T { a(x: Int = $v): Int }",
        "type T { a: Int @d(x: $v) }",
        "query { a }",
        "type T {}",
        "type T { a: }",
        "enum E { true }",
        "directive @d on NOPE",
        "schema { query: Q query: R }",
        "schema { query: Q } schema { query: Q }",
        "extend schema { query: Q } schema { query: R }",
        "type T { a: \"unterminated }",
        "type T { a: Int }}",
        "type T { a(): Int }",
        "type T implements A, B { a: Int }",
        "extend type T",
        "extend scalar S",
        "\"d\" extend type T { a: Int }",
    ];
    for c in others {
        check(c, false);
    }
}
