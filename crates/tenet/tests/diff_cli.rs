//! Whole-process tests of `tenet diff` and `tenet reports`: files,
//! directories, real git repositories (made with git2 in a temp dir), the
//! SQLite store, exit codes. Snapshots live in `snapshots/cli/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value as Json;
use std::path::{Path, PathBuf};

mod common;

use common::{tenet_in, Run};

fn json(r: &Run) -> Json {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr))
}

/// Snapshots without the rules fingerprint, which changes with every pack edit.
fn snap(name: &str, text: &str) {
    let text = match text.find("(`") {
        Some(i)
            if text[i + 2..].len() > 13
                && text[i + 2..i + 14].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            format!("{}(`[fingerprint]`{}", &text[..i], &text[i + 14..])
        }
        _ => text.to_string(),
    };
    let text = text.as_str();
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../snapshots/cli"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

const API_BASE: &str = r##"openapi: 3.0.3
info: {title: Orders, version: "1.0"}
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
  /orders:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                kind: {type: string, enum: [standard, express, pickup]}
      responses:
        "201": {description: created}
components:
  schemas:
    Order:
      type: object
      properties:
        id: {type: string}
        total: {type: number}
        status: {type: string, enum: [open, closed]}
"##;

/// Head: a response field removed (breaking), a request enum narrowed
/// (breaking), a response enum value added (behavioral), an operation
/// added (additive).
fn api_head() -> String {
    API_BASE
        .replace("        total: {type: number}\n", "")
        .replace("enum: [standard, express, pickup]", "enum: [standard, express]")
        .replace("enum: [open, closed]", "enum: [open, closed, held]")
        .replace(
            "components:\n",
            "  /refunds:\n    post:\n      responses:\n        \"201\": {description: created}\ncomponents:\n",
        )
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn two_files_give_a_classified_report_and_fail_on_sets_the_exit_code() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/orders.yaml", API_BASE);
    write(t.path(), "b/orders.yaml", &api_head());
    let r = tenet_in(
        t.path(),
        &["diff", "a/orders.yaml", "b/orders.yaml", "--no-store"],
    );
    assert_eq!(r.code, 0, "default --fail-on is never: {}", r.stderr);
    let rep = json(&r);
    assert_eq!(rep["schema"], "tenet.report/v1");
    assert_eq!(rep["highest_risk"], "breaking");
    assert_eq!(rep["counts"]["breaking"], 2);
    assert_eq!(rep["counts"]["behavioral"], 1);
    assert_eq!(rep["counts"]["additive"], 1);
    let kinds: Vec<(String, String, String)> = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().into(),
                c["path"].as_str().unwrap().into(),
                c["risk"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(
            "field.removed".into(),
            "Order.total".into(),
            "breaking".into()
        )),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(
            "enum.value_removed".into(),
            "POST /orders.request.kind".into(),
            "breaking".into()
        )),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(
            "enum.value_added".into(),
            "Order.status".into(),
            "behavioral".into()
        )),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(
            "operation.added".into(),
            "POST /refunds".into(),
            "additive".into()
        )),
        "{kinds:?}"
    );

    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a/orders.yaml",
            "b/orders.yaml",
            "--no-store",
            "--fail-on",
            "breaking",
            "--format",
            "md",
        ],
    );
    assert_eq!(r.code, 1);
    snap("diff_openapi_md", &r.stdout);
    let same = tenet_in(
        t.path(),
        &[
            "diff",
            "a/orders.yaml",
            "a/orders.yaml",
            "--no-store",
            "--fail-on",
            "cosmetic",
        ],
    );
    assert_eq!(same.code, 0);
    assert_eq!(json(&same)["highest_risk"], "none");
}

#[test]
fn risk_threshold_hides_lower_levels_but_counts_stay_true() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/orders.yaml", API_BASE);
    write(t.path(), "b/orders.yaml", &api_head());
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a/orders.yaml",
            "b/orders.yaml",
            "--no-store",
            "--risk-threshold",
            "breaking",
        ],
    );
    let rep = json(&r);
    let risks: Vec<&str> = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["risk"].as_str().unwrap())
        .collect();
    assert_eq!(risks, ["breaking", "breaking"]);
    assert_eq!(rep["hidden"], 2);
    assert_eq!(rep["counts"]["additive"], 1);
}

#[test]
fn release_notes_group_changes_for_humans() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/orders.yaml", API_BASE);
    write(t.path(), "b/orders.yaml", &api_head());
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a/orders.yaml",
            "b/orders.yaml",
            "--no-store",
            "--format",
            "release-notes",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    snap("diff_release_notes", &r.stdout);
}

#[test]
fn directories_use_tenet_yaml_for_types_and_consumers() {
    let t = tempfile::tempdir().unwrap();
    let cfg = "artifacts:\n  - {path: 'api/*.yaml', type: openapi}\n  - {path: 'app/*.yaml'}\nconsumers:\n  mobile-app: ['GET /orders/*']\n  ops: ['app/*']\n";
    for side in ["a", "b"] {
        write(t.path(), &format!("{side}/tenet.yaml"), cfg);
        write(
            t.path(),
            &format!("{side}/notes.json"),
            if side == "a" {
                "{\"x\": 1}"
            } else {
                "{\"x\": 2}"
            },
        );
    }
    write(t.path(), "a/api/orders.yaml", API_BASE);
    write(t.path(), "b/api/orders.yaml", &api_head());
    write(
        t.path(),
        "a/app/settings.yaml",
        "db:\n  pool: 10\n  timeout: 5s\n",
    );
    write(t.path(), "b/app/settings.yaml", "db:\n  pool: 20\n");
    let r = tenet_in(t.path(), &["diff", "a", "b", "--no-store"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = json(&r);
    let artifacts: Vec<&str> = rep["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        artifacts,
        ["api/orders.yaml", "app/settings.yaml"],
        "notes.json is not a configured artifact"
    );
    let total = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "Order.total")
        .unwrap();
    assert_eq!(total["consumers"], serde_json::json!(["mobile-app"]));
    let pool = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "db.pool")
        .unwrap();
    assert_eq!(
        (pool["kind"].as_str(), pool["risk"].as_str()),
        (Some("config.value_changed"), Some("behavioral"))
    );
    assert_eq!(pool["consumers"], serde_json::json!(["ops"]));
    let timeout = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "db.timeout")
        .unwrap();
    assert_eq!(
        (timeout["kind"].as_str(), timeout["risk"].as_str()),
        (Some("config.key_removed"), Some("breaking"))
    );
}

#[test]
fn unreadable_artifacts_and_bad_usage_exit_2_with_a_location() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a.yaml", "a: 1\n");
    write(t.path(), "b.yaml", "a: 1\nb: [1, 2\n");
    let r = tenet_in(t.path(), &["diff", "a.yaml", "b.yaml", "--no-store"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.is_empty(),
        "nothing is printed as a report: {}",
        r.stdout
    );
    assert!(r.stderr.contains("b.yaml:3:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read the head version"),
        "{}",
        r.stderr
    );

    let r = tenet_in(t.path(), &["diff", "a.yaml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("give both OLD and NEW"), "{}", r.stderr);
    let r = tenet_in(t.path(), &["diff", "a.yaml", "missing.yaml", "--no-store"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.yaml"), "{}", r.stderr);
    // Levels are the loaded taxonomy's: any other is exit 2 with the list.
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a.yaml",
            "b.yaml",
            "--fail-on",
            "sometimes",
            "--no-store",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--fail-on: `sometimes` is not a level of the taxonomy; use one of: breaking, behavioral, additive, cosmetic, never"),
        "{}",
        r.stderr
    );
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a.yaml",
            "b.yaml",
            "--risk-threshold",
            "high",
            "--no-store",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--risk-threshold: `high` is not a level of the taxonomy; use one of: breaking, behavioral, additive, cosmetic"),
        "{}",
        r.stderr
    );

    std::fs::create_dir_all(t.path().join("x")).unwrap();
    std::fs::create_dir_all(t.path().join("y")).unwrap();
    write(
        t.path(),
        "y/tenet.yaml",
        "artifacts:\n  - path: '*.yaml'\n    type: soap\n",
    );
    let r = tenet_in(t.path(), &["diff", "x", "y", "--no-store"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("tenet.yaml:3:1: unknown artifact type `soap`"),
        "{}",
        r.stderr
    );
}

// ---- git -------------------------------------------------------------------

fn commit(repo: &git2::Repository, files: &[(&str, &str)], message: &str) -> git2::Oid {
    let root = repo.workdir().unwrap().to_path_buf();
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        write(&root, path, text);
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("tenet tests", "tests@tenet.invalid").unwrap();
    let parents: Vec<git2::Commit> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

const SDL_BASE: &str =
    "type Query {\n  order(id: ID!): Order\n}\n\ntype Order {\n  id: ID!\n  total: Float\n}\n";
const SDL_HEAD: &str = "# orders API\ntype Query {\n  order(id: ID!, currency: String!): Order\n}\n\ntype Order {\n  id: ID!\n  total: Float\n  note: String\n}\n";

#[test]
fn git_revisions_are_read_through_git_not_the_working_tree() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let base = commit(
        &repo,
        &[("api/orders.yaml", API_BASE), ("schema.graphql", SDL_BASE)],
        "base",
    );
    let head = commit(
        &repo,
        &[
            ("api/orders.yaml", &api_head()),
            ("schema.graphql", SDL_HEAD),
        ],
        "head",
    );
    // Uncommitted edits must not be read.
    write(t.path(), "api/orders.yaml", "not: [valid\n");
    write(t.path(), "schema.graphql", "type {");
    let store = t.path().join("store.db");
    let store = store.to_str().unwrap();
    let (b, h) = (base.to_string(), head.to_string());
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "--base",
            &b,
            "--head",
            &h,
            "--store",
            store,
            "--repository",
            "acme/orders",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = json(&r);
    assert_eq!(
        (rep["base"].as_str(), rep["head"].as_str()),
        (Some(b.as_str()), Some(h.as_str()))
    );
    assert_eq!(rep["repository"], "acme/orders");
    let arg = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["artifact"] == "schema.graphql" && c["risk"] == "breaking");
    assert!(
        arg.is_some(),
        "a new required argument is breaking: {}",
        r.stdout
    );

    // Symbolic revisions work too, and the gate fails.
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--store",
            store,
            "--fail-on",
            "breaking",
            "--format",
            "md",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains("highest risk **breaking**"),
        "{}",
        r.stdout
    );

    let r = tenet_in(
        t.path(),
        &["diff", "--base", "nope", "--head", "HEAD", "--no-store"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown revision `nope`"), "{}", r.stderr);
}

#[test]
fn reports_are_kept_listed_shown_and_compared_in_sqlite() {
    reports_round_trip(None);
}

/// A CI fleet keeps its reports in one shared PostgreSQL.
#[test]
fn reports_are_kept_listed_shown_and_compared_in_postgres() {
    let loc = tenet_store::testing::fresh_postgres();
    reports_round_trip(Some(tenet_store::testing::url(&loc)));
}

fn reports_round_trip(pg: Option<String>) {
    let t = tempfile::tempdir().unwrap();
    let tenet_in = |dir: &Path, args: &[&str]| {
        let mut args: Vec<&str> = args.to_vec();
        if let Some(url) = &pg {
            if !args.contains(&"--store") {
                args.extend(["--store", url.as_str()]);
            }
        }
        tenet_in(dir, &args)
    };
    let repo = git2::Repository::init(t.path()).unwrap();
    let c1 = commit(&repo, &[("api/orders.yaml", API_BASE)], "one").to_string();
    let head = api_head();
    let c2 = commit(&repo, &[("api/orders.yaml", &head)], "two").to_string();
    // Three: the removed field comes back, a new breaking change appears.
    let c3_text = head
        .replace(
            "        id: {type: string}\n",
            "        id: {type: string}\n        total: {type: number}\n",
        )
        .replace(
            "required: true, schema: {type: string}",
            "required: true, schema: {type: string, maxLength: 8}",
        );
    let c3 = commit(&repo, &[("api/orders.yaml", &c3_text)], "three").to_string();
    let store = t.path().join(".tenet/tenet.db");
    assert!(!store.exists());
    for (b, h) in [(&c1, &c2), (&c1, &c3), (&c1, &c3)] {
        let r = tenet_in(
            t.path(),
            &[
                "diff",
                "--base",
                b,
                "--head",
                h,
                "--repository",
                "acme/orders",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(
        store.exists(),
        pg.is_none(),
        "the default store is .tenet/tenet.db; a postgres:// store writes no file"
    );

    let r = tenet_in(t.path(), &["reports", "list", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = json(&r);
    assert_eq!(
        rows.as_array().unwrap().len(),
        2,
        "the same base/head/rules replaces its report: {rows}"
    );
    assert_eq!(rows[0]["head"], c3.as_str());

    let r = tenet_in(t.path(), &["reports", "show", &format!("{c1}..{c2}")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["head"], c2.as_str());
    // Abbreviated SHAs, as `reports list` prints them.
    let r = tenet_in(
        t.path(),
        &["reports", "show", &format!("{}..{}", &c1[..12], &c2[..12])],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["head"], c2.as_str());

    let (id_a, id_b) = (rows[1]["id"].to_string(), rows[0]["id"].to_string());
    let r = tenet_in(t.path(), &["reports", "compare", &id_a, &id_b]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cmp = json(&r);
    assert_eq!(cmp["schema"], "tenet.report-compare/v1");
    let paths = |k: &str| -> Vec<String> {
        cmp[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        paths("resolved").contains(&"Order.total".to_string()),
        "{cmp}"
    );
    assert!(paths("new").iter().any(|p| p.contains("path.id")), "{cmp}");
    let r = tenet_in(
        t.path(),
        &["reports", "compare", &id_a, &id_b, "--format", "md"],
    );
    assert!(r.stdout.contains("### Resolved (1)"), "{}", r.stdout);

    let r = tenet_in(t.path(), &["reports", "show", "999"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no report 999"), "{}", r.stderr);
    let r = tenet_in(t.path(), &["reports", "list", "--store", "nowhere.db"]);
    assert_eq!(r.code, 2);
    assert!(
        !t.path().join("nowhere.db").exists(),
        "listing never creates a store"
    );
}

#[test]
fn the_readme_main_job_runs_on_the_demo_with_the_bundled_rules() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("demo.db");
    let r = tenet_in(
        &root,
        &[
            "diff",
            "fixtures/demo/base",
            "fixtures/demo/head",
            "--store",
            store.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = json(&r);
    assert_eq!(rep["highest_risk"], "breaking");
    let types: Vec<&str> = rep["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    for ty in ["openapi", "graphql", "config", "flags", "prompt"] {
        assert!(types.contains(&ty), "{ty} missing from {types:?}");
    }
    assert_eq!(rep["unclassified"], 0);
    assert!(
        rep["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["rule"] != "unknown-kind"),
        "{}",
        r.stdout
    );
    assert!(store.exists());
}

// ---- policy lint -------------------------------------------------------------

const SAFETY_PACK: &str = r#"tenet 1
pack safety version "1.0.0"

action mass-delete {
  match        action.verb == "delete" and action.rows >= 10_000
  risk         high
  require      [dual_control]
  hold         30m
  approvals    2
}
"#;

const META_PACK: &str = r#"tenet 1
pack meta version "1.0.0"

watcher audit-log {
  cadence        5m
  silence_budget 15m
  sources        ["audit"]
}

watcher billing {
  cadence        1h
  silence_budget 2h
}
"#;

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"))
}

fn lint(rep: &Json) -> Vec<Json> {
    rep["lint"].as_array().cloned().unwrap_or_default()
}

fn git_diff(dir: &Path, base: &str, head: &str, extra: &[&str]) -> Run {
    let mut args = vec!["diff", "--base", base, "--head", head, "--no-store"];
    args.extend_from_slice(extra);
    tenet_in(dir, &args)
}

#[test]
fn policy_lint_flags_unjustified_loosening_and_honours_trailers_and_pack_justifications() {
    let t = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(t.path()).unwrap();
    let c1 = commit(
        &repo,
        &[
            ("rules/safety.tenet", SAFETY_PACK),
            ("rules/meta.tenet", META_PACK),
        ],
        "policies",
    )
    .to_string();

    // A shorter hold with nothing beside it: flagged with the block and line.
    let hold_10m = SAFETY_PACK.replace("hold         30m", "hold         10m");
    let c2 = commit(
        &repo,
        &[("rules/safety.tenet", &hold_10m)],
        "shorten the mass-delete hold",
    )
    .to_string();
    let r = git_diff(t.path(), &c1, &c2, &[]);
    assert_eq!(r.code, 0, "lint findings alone keep exit 0: {}", r.stderr);
    let found = lint(&json(&r));
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f["artifact"], "rules/safety.tenet");
    assert_eq!(f["rule"], "action mass-delete");
    assert_eq!(f["line"], line_of(&hold_10m, "hold"));
    assert_eq!(f["kind"], "threshold.changed");
    assert_eq!(f["check"], "unjustified-threshold-loosening");
    assert!(
        f["message"].as_str().unwrap().contains("from 30m to 10m"),
        "{f}"
    );
    // The gate and the Markdown summary.
    let r = git_diff(t.path(), &c1, &c2, &["--fail-on-lint", "--format", "md"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("### 🔎 Policy lint: 1 loosened guard(s) without a justification"),
        "{}",
        r.stdout
    );
    let hold_at = format!(
        "`rules/safety.tenet:{}` `action mass-delete`",
        line_of(&hold_10m, "hold")
    );
    assert!(r.stdout.contains(&hold_at), "{}", r.stdout);
    let r = git_diff(t.path(), &c1, &c2, &["--no-lint"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(lint(&json(&r)).is_empty(), "{}", r.stdout);
    let r = git_diff(t.path(), &c1, &c2, &["--no-lint", "--fail-on-lint"]);
    assert_eq!(r.code, 2, "--fail-on-lint needs the lint");

    // A dropped watcher with a `Justification:` trailer: not flagged, and the
    // change carries the trailer.
    let without_audit = META_PACK.replace(
        "watcher audit-log {\n  cadence        5m\n  silence_budget 15m\n  sources        [\"audit\"]\n}\n\n",
        "",
    );
    assert_ne!(without_audit, META_PACK);
    let c3 = commit(
        &repo,
        &[("rules/meta.tenet", &without_audit)],
        "retire the audit-log watcher\n\naudit-v2 reads the same stream.\n\nJustification: audit-v2 replaces it (OPS-42)\nSigned-off-by: Ops <ops@example.invalid>\n",
    )
    .to_string();
    let r = git_diff(t.path(), &c2, &c3, &["--fail-on-lint"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = json(&r);
    assert!(lint(&rep).is_empty(), "{}", r.stdout);
    let dropped = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "policy.block_removed")
        .unwrap_or_else(|| panic!("no block_removed in {}", r.stdout));
    assert_eq!(dropped["facts"]["block_kind"], "watcher");
    assert_eq!(
        dropped["facts"]["commit_justification"],
        serde_json::json!(["audit-v2 replaces it (OPS-42)"])
    );
    // Over the whole range the trailer covers only the file its commit touched.
    let found = lint(&json(&git_diff(t.path(), &c1, &c3, &[])));
    let flagged: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f["artifact"].as_str().unwrap(), f["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(flagged, [("rules/safety.tenet", "action mass-delete")]);

    // The same drop without a trailer is flagged, at the watcher's base line.
    let side = repo.find_commit(git2::Oid::from_str(&c2).unwrap()).unwrap();
    repo.branch("side", &side, false).unwrap();
    repo.set_head("refs/heads/side").unwrap();
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    let c3b = commit(
        &repo,
        &[("rules/meta.tenet", &without_audit)],
        "drop audit-log",
    )
    .to_string();
    let found = lint(&json(&git_diff(t.path(), &c2, &c3b, &[])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0]["rule"].as_str(),
            found[0]["check"].as_str(),
            found[0]["line"].as_u64()
        ),
        (
            Some("watcher audit-log"),
            Some("unjustified-loosening"),
            Some(line_of(META_PACK, "watcher audit-log"))
        )
    );

    // A justification written beside the change in the pack: not flagged.
    let justified = hold_10m.replace(
        "  hold         10m\n",
        "  hold         5m\n  justification \"INC-2231: the nightly purge stalls behind longer holds\"\n",
    );
    let c4 = commit(
        &repo,
        &[("rules/safety.tenet", &justified)],
        "shorter hold, justified in the pack",
    )
    .to_string();
    let r = git_diff(t.path(), &c3b, &c4, &["--fail-on-lint"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(lint(&json(&r)).is_empty(), "{}", r.stdout);
    // ... but it does not cover the next loosening, which leaves it as it was.
    let again = justified.replace("approvals    2", "approvals    1");
    let c5 = commit(&repo, &[("rules/safety.tenet", &again)], "one approval").to_string();
    let found = lint(&json(&git_diff(t.path(), &c4, &c5, &[])));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["path"], "safety.action mass-delete.approvals");
    assert_eq!(found[0]["line"], line_of(&again, "approvals"));
}

#[test]
fn artifacts_over_the_size_cap_are_refused_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a/api.yaml", API_BASE);
    write(t.path(), "b/api.yaml", &api_head());
    write(
        t.path(),
        "a/big.bin",
        "not an artifact, and big: it is never read",
    );
    write(t.path(), "b/big.bin", &"x".repeat(5000));
    // The binary file is not an artifact: over the cap, it does not matter.
    let r = tenet_in(
        t.path(),
        &["diff", "a", "b", "--no-store", "--max-input-bytes", "4096"],
    );
    assert_eq!(r.code, 0, "big.bin is no artifact: {}", r.stderr);
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a",
            "b",
            "--no-store",
            "--max-input-bytes",
            "1000000",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = tenet_in(
        t.path(),
        &["diff", "a", "b", "--no-store", "--max-input-bytes", "500"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("api.yaml: ") && r.stderr.contains("over the 500-byte limit"),
        "{}",
        r.stderr
    );
    let r = tenet_in(
        t.path(),
        &[
            "diff",
            "a/api.yaml",
            "b/api.yaml",
            "--no-store",
            "--max-input-bytes",
            "500",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("a/api.yaml: ") && r.stderr.contains("--max-input-bytes"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unresolvable_ref_is_an_error_with_its_position() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a.yaml", API_BASE);
    write(
        t.path(),
        "b.yaml",
        &API_BASE.replace(
            "#/components/schemas/Order\"}",
            "#/components/schemas/Ordr\"}",
        ),
    );
    let r = tenet_in(t.path(), &["diff", "a.yaml", "b.yaml", "--no-store"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("b.yaml:14:")
            && r.stderr
                .contains("`$ref: #/components/schemas/Ordr` cannot be resolved"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_base_side_error_names_the_old_file() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "old.yaml", "a: [\n");
    write(t.path(), "new.yaml", "a: 1\n");
    let r = tenet_in(t.path(), &["diff", "old.yaml", "new.yaml", "--no-store"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("old.yaml:2:1: cannot read the base version"),
        "{}",
        r.stderr
    );
}

#[test]
fn consumers_match_every_operation_that_reaches_a_change() {
    let t = tempfile::tempdir().unwrap();
    let mut api = String::from("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n");
    for i in 0..25 {
        api.push_str(&format!(
            "  /r{i:02}:\n    get:\n      responses:\n        '200':\n          description: ok\n          content: {{application/json: {{schema: {{$ref: '#/components/schemas/S'}}}}}}\n"
        ));
    }
    api.push_str("components:\n  schemas:\n    S: {type: object, properties: {a: {type: string}, b: {type: string}}}\n");
    let cfg = "consumers:\n  late-app: ['GET /r24']\n";
    write(t.path(), "a/tenet.yaml", cfg);
    write(t.path(), "b/tenet.yaml", cfg);
    write(t.path(), "a/api.yaml", &api);
    write(
        t.path(),
        "b/api.yaml",
        &api.replace(", b: {type: string}", ""),
    );
    let r = tenet_in(t.path(), &["diff", "a", "b", "--no-store"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rep = json(&r);
    let c = &rep["changes"][0];
    assert_eq!(c["path"], "S.b");
    assert_eq!(c["facts"]["operations"].as_array().unwrap().len(), 20);
    assert_eq!(c["facts"]["operations_total"], 25);
    assert_eq!(c["consumers"], serde_json::json!(["late-app"]));
}

// ---- partial clones ----------------------------------------------------------

/// Runs the `git` command line in `dir`; the test fails when git is missing
/// or the command fails (partial clones can only be made by git itself).
fn git_cli(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap_or_else(|e| panic!("the `git` command line is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the clone holds object `oid` (asked without fetching it).
fn has_object(clone: &Path, oid: &str) -> bool {
    std::process::Command::new("git")
        .args(["cat-file", "-e", oid])
        .current_dir(clone)
        .env("GIT_NO_LAZY_FETCH", "1")
        .status()
        .expect("git runs")
        .success()
}

/// An "origin" with two commits served with filters, and the blob ids of
/// what the test looks for: (base, head, orders at base, orders at head,
/// tenet.yaml at head, the unchanged schema, the changed README).
struct Origin {
    dir: tempfile::TempDir,
    base: String,
    head: String,
    blob: std::collections::BTreeMap<&'static str, String>,
}

impl Origin {
    fn new() -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let repo = git2::Repository::init(&work).unwrap();
        let cfg = "consumers:\n  mobile-app: ['GET /orders/*']\n";
        let base = commit(
            &repo,
            &[
                ("tenet.yaml", cfg),
                ("api/orders.yaml", API_BASE),
                ("schema/unchanged.json", "{\"type\": \"object\"}"),
                ("README.md", "orders\n"),
            ],
            "base",
        );
        let head = commit(
            &repo,
            &[
                ("api/orders.yaml", &api_head()),
                ("README.md", "orders, refunds\n"),
            ],
            "head",
        );
        let blob_at = |rev: &str| repo.revparse_single(rev).unwrap().id().to_string();
        let blob = [
            ("orders@base", blob_at(&format!("{base}:api/orders.yaml"))),
            ("orders@head", blob_at(&format!("{head}:api/orders.yaml"))),
            ("tenet.yaml", blob_at(&format!("{head}:tenet.yaml"))),
            (
                "unchanged",
                blob_at(&format!("{head}:schema/unchanged.json")),
            ),
            ("readme@head", blob_at(&format!("{head}:README.md"))),
        ]
        .into_iter()
        .collect();
        git_cli(
            dir.path(),
            &["clone", "--quiet", "--bare", "work", "origin.git"],
        );
        let origin = dir.path().join("origin.git");
        git_cli(&origin, &["config", "uploadpack.allowFilter", "true"]);
        git_cli(
            &origin,
            &["config", "uploadpack.allowAnySHA1InWant", "true"],
        );
        Origin {
            base: base.to_string(),
            head: head.to_string(),
            blob,
            dir,
        }
    }

    /// A blobless clone (`--filter=blob:none`, no checkout: not one blob).
    fn partial_clone(&self, name: &str) -> PathBuf {
        let url = format!("file://{}", self.dir.path().join("origin.git").display());
        git_cli(
            self.dir.path(),
            &[
                "clone",
                "--quiet",
                "--filter=blob:none",
                "--no-checkout",
                &url,
                name,
            ],
        );
        let clone = self.dir.path().join(name);
        for b in self.blob.values() {
            assert!(
                !has_object(&clone, b),
                "the clone is partial: {b} is not in it"
            );
        }
        clone
    }
}

#[test]
fn a_partial_clone_fetches_only_the_blobs_it_diffs() {
    let o = Origin::new();
    let clone = o.partial_clone("clone");
    let r = git_diff(&clone, &o.base, &o.head, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let rep = json(&r);
    let artifacts: Vec<&str> = rep["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, ["api/orders.yaml"]);
    let total = rep["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "Order.total")
        .unwrap_or_else(|| panic!("the removed field is reported: {}", r.stdout));
    assert_eq!(total["risk"], "breaking");
    assert_eq!(
        total["consumers"],
        serde_json::json!(["mobile-app"]),
        "consumers come from the head's tenet.yaml"
    );
    for b in ["orders@base", "orders@head", "tenet.yaml"] {
        assert!(has_object(&clone, &o.blob[b]), "{b} was fetched");
    }
    for b in ["unchanged", "readme@head"] {
        assert!(
            !has_object(&clone, &o.blob[b]),
            "{b} is not diffed, so it is not fetched"
        );
    }
    // The size cap holds for blobs read from git too.
    let r = git_diff(&clone, &o.base, &o.head, &["--max-input-bytes", "200"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("api/orders.yaml: ") && r.stderr.contains("over the 200-byte limit"),
        "{r:?}"
    );
}

#[test]
fn a_partial_clone_without_its_remote_names_the_missing_objects() {
    let o = Origin::new();
    let clone = o.partial_clone("clone");
    std::fs::remove_dir_all(o.dir.path().join("origin.git")).unwrap();
    let r = git_diff(&clone, &o.base, &o.head, &[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(!r.stderr.contains("callback returned"), "{r:?}");
    assert!(
        r.stderr.contains("tenet.yaml") && r.stderr.contains(&o.blob["tenet.yaml"]),
        "the head's tenet.yaml and its blob are named: {r:?}"
    );
    assert!(
        r.stderr.contains("not in this partial clone")
            && r.stderr.contains("promisor remote `origin`"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains(&format!("cat-file -e {}", o.blob["tenet.yaml"])),
        "how to get it: {r:?}"
    );
    // With a configuration given, the artifacts are what is missing.
    std::fs::write(clone.join("cfg.yaml"), "version: 1\n").unwrap();
    let r = git_diff(&clone, &o.base, &o.head, &["--config", "cfg.yaml"]);
    assert_eq!(r.code, 2, "{r:?}");
    for b in ["orders@base", "orders@head"] {
        assert!(
            r.stderr.contains("api/orders.yaml") && r.stderr.contains(&o.blob[b]),
            "{b} is named with its path: {r:?}"
        );
    }
    assert!(!r.stderr.contains(&o.blob["unchanged"]), "{r:?}");
}
