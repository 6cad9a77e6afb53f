//! Every declared kind is emitted only as declared, judged by a rule of the
//! bundled `semantic_diff` pack, shown by a fixture, and in the docs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::change::{Change, Direction};
use crate::classify::Classifier;
use tenet_runtime::load::load_bundled;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

#[test]
fn names_are_unique_and_docs_one_sentence() {
    let re = regex::Regex::new(r"^[a-z_]+\.[a-z_]+$").unwrap();
    let mut seen = BTreeSet::new();
    for k in KINDS {
        assert!(re.is_match(k.name), "`{}` is not `area.what`", k.name);
        assert!(seen.insert(k.name), "`{}` is declared twice", k.name);
        assert!(
            !k.artifacts.is_empty(),
            "`{}` names no artifact type",
            k.name
        );
        assert!(
            k.doc.ends_with('.') && !k.doc.contains('\n') && !k.doc.contains('|'),
            "`{}`: the doc is one line ending with a period, without `|`",
            k.name
        );
    }
}

/// A kind written as a literal at a `Change::new` call must be declared;
/// kinds put together at run time are held by the debug assertion in
/// `Change::new`, which every test run exercises.
#[test]
fn every_literal_kind_in_the_source_is_declared() {
    let re = regex::Regex::new(r#"Change::new\(\s*"([^"]*)""#).unwrap();
    let mut sources = Vec::new();
    files(&root().join("crates/diff/src"), "rs", &mut sources);
    let mut found = 0;
    let mut undeclared = Vec::new();
    for p in sources.iter().filter(|p| !p.ends_with("kinds/tests.rs")) {
        let text = std::fs::read_to_string(p).unwrap();
        for c in re.captures_iter(&text) {
            found += 1;
            if !is_declared(&c[1]) {
                undeclared.push(format!("{}: `{}`", p.display(), &c[1]));
            }
        }
    }
    assert!(
        found > 100,
        "only {found} literal kinds found: is the pattern stale?"
    );
    assert!(
        undeclared.is_empty(),
        "undeclared change kinds (declare them in crates/diff/src/kinds.rs):\n{}",
        undeclared.join("\n")
    );
}

#[test]
#[should_panic(expected = "is not declared")]
#[cfg(debug_assertions)]
fn an_undeclared_kind_cannot_be_emitted() {
    let _ = Change::new("field.vanished", "Order.total");
}

/// Each kind, as a bare fact of each type that emits it, is judged by a
/// rule of the bundled pack that names it, never by the pack's catch-all
/// for kinds it does not know. Rules may need a direction (GraphQL
/// arguments are only ever sent): some direction must be judged.
#[test]
fn every_kind_is_judged_by_a_rule_of_the_bundled_pack() {
    let rules = load_bundled().unwrap_or_else(|e| panic!("the bundled rules: {e:?}"));
    let classifier = Classifier::new(&rules).unwrap();
    let mut bad = Vec::new();
    for k in KINDS {
        for &ty in k.artifacts {
            let rules: Vec<Option<String>> =
                [None, Some(Direction::Request), Some(Direction::Response)]
                    .into_iter()
                    .map(|dir| {
                        classifier
                            .judge(ty, &Change::new(k.name, "x").dir(dir))
                            .rule
                    })
                    .collect();
            let unknown = rules.iter().any(|r| r.as_deref() == Some("unknown-kind"));
            if unknown || rules.iter().all(Option::is_none) {
                bad.push(format!("{} ({ty}): {rules:?}", k.name));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "kinds with no rule in rules/semantic-diff/semantic_diff.tenet:\n{}",
        bad.join("\n")
    );
}

/// Every kind appears in the report snapshot of a fixture under
/// `fixtures/semantic-diff/` (the snapshots in `snapshots/diff/` hold the
/// kinds the fixtures emit).
#[test]
fn every_kind_is_shown_by_a_fixture() {
    let re = regex::Regex::new(r#""kind": "([^"]+)""#).unwrap();
    let mut snaps = Vec::new();
    files(&root().join("snapshots/diff"), "snap", &mut snaps);
    let shown: BTreeSet<String> = snaps
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            re.captures_iter(&text)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<&str> = KINDS
        .iter()
        .map(|k| k.name)
        .filter(|n| !shown.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "kinds no fixture shows (add a case under fixtures/semantic-diff/<type>/):\n{}",
        missing.join("\n")
    );
}

const START: &str = "<!-- kinds:start (generated from crates/diff/src/kinds.rs) -->\n";
const END: &str = "<!-- kinds:end -->";

/// The kind catalogue in `docs/semantic-diff.md` is the table's.
/// `TENET_UPDATE_DOCS=1 cargo test -p tenet-diff kinds` rewrites it.
#[test]
fn the_docs_catalogue_is_generated_from_the_table() {
    let path = root().join("docs/semantic-diff.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        panic!(
            "docs/semantic-diff.md has no `{}` … `{END}` section",
            START.trim()
        );
    };
    let (head, written, tail) = (
        &text[..a + START.len()],
        &text[a + START.len()..b],
        &text[b..],
    );
    let generated = catalogue();
    if written == generated {
        return;
    }
    if std::env::var_os("TENET_UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{head}{generated}{tail}")).unwrap();
        return;
    }
    panic!(
        "the kind catalogue in docs/semantic-diff.md is not the table's; \
         run `TENET_UPDATE_DOCS=1 cargo test -p tenet-diff kinds` to rewrite it"
    );
}
