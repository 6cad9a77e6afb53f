//! Whole-process tests of `tenet hook`: real git repositories made with git2
//! in temp dirs, the built binary, the SQLite audit log, the installed hook
//! script run by the real `git commit`, and the pre-commit framework.
//!
//! Tests that need the `git` command skip (saying so) when it is missing;
//! the pre-commit framework test skips when `pre-commit` is not installed,
//! unless `TENET_REQUIRE_PRE_COMMIT=1` (as `.ci/run` sets), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Run;
use std::path::{Path, PathBuf};
use std::process::Command;
use tenet_store::Store;

const API: &str = r##"openapi: 3.0.3
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
components:
  schemas:
    Order:
      type: object
      properties:
        id: {type: string}
        total: {type: number}
"##;

/// The response field `Order.total` removed: breaking.
fn api_breaking() -> String {
    API.replace("        total: {type: number}\n", "")
}

/// A comment added: cosmetic.
fn api_cosmetic() -> String {
    API.replace("components:\n", "# the order schemas\ncomponents:\n")
}

const PACK: &str = r#"tenet 1
pack demo version "1.0.0"

rule big {
  when input.n > 10
  risk high
}

test big-one {
  input  {n: 50}
  expect ["big"]
}
"#;

const EMAIL: &str = "dev@example.com";

struct Repo {
    dir: tempfile::TempDir,
    /// A HOME of its own, so no global git configuration leaks in.
    home: tempfile::TempDir,
    repo: git2::Repository,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        {
            let mut c = repo.config().unwrap();
            c.set_str("user.email", EMAIL).unwrap();
            c.set_str("user.name", "Dev").unwrap();
        }
        Repo { dir, home, repo }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn stage(&self, rels: &[&str]) {
        let mut index = self.repo.index().unwrap();
        for r in rels {
            if self.root().join(r).exists() {
                index.add_path(Path::new(r)).unwrap();
            } else {
                index.remove_path(Path::new(r)).unwrap();
            }
        }
        index.write().unwrap();
    }

    /// Writes and stages.
    fn put(&self, rel: &str, text: impl AsRef<[u8]>) {
        self.write(rel, text);
        self.stage(&[rel]);
    }

    fn commit(&self, msg: &str) -> git2::Oid {
        let mut index = self.repo.index().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Dev", EMAIL).unwrap();
        let parents: Vec<git2::Commit> = match self.repo.head() {
            Ok(h) => vec![h.peel_to_commit().unwrap()],
            Err(_) => vec![],
        };
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
            .unwrap()
    }

    /// The tree the index would commit.
    fn staged_tree(&self) -> String {
        self.repo.index().unwrap().write_tree().unwrap().to_string()
    }

    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.root())
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .env_remove("TENET_JUSTIFICATION")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_DIR");
        c
    }

    fn tenet(&self, args: &[&str]) -> Run {
        self.tenet_env(args, &[])
    }

    fn tenet_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd(Path::new(env!("CARGO_BIN_EXE_tenet")));
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from(c.output().unwrap())
    }

    fn hook(&self) -> Run {
        self.tenet(&["hook", "run", "pre-commit"])
    }

    fn hook_with_justification(&self, j: &str) -> Run {
        self.tenet_env(
            &["hook", "run", "pre-commit"],
            &[("TENET_JUSTIFICATION", j)],
        )
    }

    /// `git ARGS` (the real git command), or `None` when git is missing.
    fn git(&self, args: &[&str]) -> Option<Run> {
        let mut c = self.cmd(Path::new("git"));
        c.args(args);
        match c.output() {
            Ok(o) => Some(Run::from(o)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("git: {e}"),
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.root().join(".tenet/tenet.db")).unwrap()
    }

    fn scope(&self) -> String {
        self.repo
            .workdir()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string()
    }
}

fn have_git() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: the `git` command is not installed");
    }
    ok
}

/// The lines of the form `file:line: risk kind path — rationale`.
fn finding_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(" — ")
                && l.split(':')
                    .nth(1)
                    .is_some_and(|n| n.trim().parse::<u32>().is_ok())
        })
        .collect()
}

/// A repository whose HEAD has the API.
fn with_api() -> Repo {
    let r = Repo::new();
    r.put("api/orders.yaml", API);
    r.commit("base");
    r
}

#[test]
fn a_breaking_staged_change_blocks_with_one_line_per_finding_and_the_way_to_override() {
    let r = with_api();
    r.put("api/orders.yaml", api_breaking());
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    let lines = finding_lines(&run.stderr);
    assert_eq!(lines.len(), 1, "{run:?}");
    let line = lines[0];
    assert!(
        line.starts_with("api/orders.yaml:")
            && line.contains(": breaking field.removed Order.total — "),
        "{line}"
    );
    assert!(run.stderr.contains("commit blocked"), "{run:?}");
    assert!(
        run.stderr
            .contains("TENET_JUSTIFICATION=\"why this is safe\" git commit"),
        "{run:?}"
    );
    // Blocked runs are audited too.
    let events = r.store().audit_events(None, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "blocked");
    assert_eq!(events[0].reason, None);
    assert_eq!(events[0].details["findings"][0]["kind"], "field.removed");
}

#[test]
fn an_override_with_a_justification_passes_and_is_audited_with_every_envelope_field() {
    let r = with_api();
    r.put("api/orders.yaml", api_breaking());
    let tree = r.staged_tree();
    let head = r.repo.head().unwrap().target().unwrap().to_string();
    let run = r.hook_with_justification("  INC-42: mobile-app no longer reads total  ");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("commit allowed by override"), "{run:?}");
    assert!(run.stderr.contains("override recorded"), "{run:?}");
    assert_eq!(finding_lines(&run.stderr).len(), 1, "{run:?}");
    let events = r.store().audit_events(None, 10).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    let id = &e.action_id;
    assert_eq!(id.len(), 36, "{id}");
    assert!(
        id.split('-').map(str::len).eq([8, 4, 4, 4, 12]) && run.stderr.contains(id.as_str()),
        "{id}"
    );
    assert_eq!(e.subject, tree);
    assert_eq!(e.actor, EMAIL);
    assert_eq!(e.scope, r.scope());
    assert_eq!(e.outcome, "overridden");
    assert_eq!(
        e.reason.as_deref(),
        Some("INC-42: mobile-app no longer reads total")
    );
    assert!(e.latency_ms < 60_000, "{}", e.latency_ms);
    assert_eq!(e.source, "hook:pre-commit");
    assert!(
        e.at.len() >= 20 && e.at.ends_with('Z') && e.at.contains('T'),
        "{}",
        e.at
    );
    assert_eq!(e.details["head"], head.as_str());
    assert_eq!(e.details["fail_on"], "breaking");
    assert_eq!(e.details["findings"][0]["path"], "Order.total");
    // A second override is a second event, with its own id.
    let again = r.hook_with_justification("again");
    assert_eq!(again.code, 0, "{again:?}");
    let events = r.store().audit_events(Some(&r.scope()), 10).unwrap();
    assert_eq!(events.len(), 2);
    assert_ne!(events[0].action_id, events[1].action_id);
}

#[test]
fn an_empty_justification_does_not_override() {
    let r = with_api();
    r.put("api/orders.yaml", api_breaking());
    let run = r.hook_with_justification("   ");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("TENET_JUSTIFICATION is empty"),
        "{run:?}"
    );
    let events = r.store().audit_events(None, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "blocked");
}

#[test]
fn store_and_fail_on_flags_are_honoured() {
    let r = with_api();
    r.put("api/orders.yaml", api_breaking());
    let elsewhere = tempfile::tempdir().unwrap();
    let db = elsewhere.path().join("audit.db");
    let run = r.tenet(&["hook", "run", "pre-commit", "--store", db.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        Store::open(&db)
            .unwrap()
            .audit_events(None, 5)
            .unwrap()
            .len(),
        1
    );
    assert!(!r.root().join(".tenet").exists());
    let never = r.tenet(&["hook", "run", "pre-commit", "--fail-on", "never"]);
    assert_eq!(never.code, 0, "{never:?}");
    assert!(never.stdout.contains("highest risk breaking"), "{never:?}");
    // A cosmetic change passes at the default level and blocks at `cosmetic`.
    r.put("api/orders.yaml", api_cosmetic());
    assert_eq!(r.hook().code, 0);
    let strict = r.tenet(&["hook", "run", "pre-commit", "--fail-on", "cosmetic"]);
    assert_eq!(strict.code, 1, "{strict:?}");
    assert!(strict.stderr.contains(": cosmetic "), "{strict:?}");
}

/// A fleet of developer machines and CI runners can keep the hook's audit
/// events in one shared PostgreSQL: a block and an override land there,
/// and a store that cannot be reached refuses the override.
#[test]
fn the_hook_audits_to_a_postgres_store_and_refuses_an_override_it_cannot_record() {
    let r = with_api();
    r.put("api/orders.yaml", api_breaking());
    let loc = tenet_store::testing::fresh_postgres();
    let url = tenet_store::testing::url(&loc);
    let blocked = r.tenet(&["hook", "run", "pre-commit", "--store", &url]);
    assert_eq!(blocked.code, 1, "{blocked:?}");
    let overridden = r.tenet_env(
        &["hook", "run", "pre-commit", "--store", &url],
        &[("TENET_JUSTIFICATION", "hotfix, agreed with api owners")],
    );
    assert_eq!(overridden.code, 0, "{overridden:?}");
    let events = Store::connect(&loc).unwrap().audit_events(None, 5).unwrap();
    let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["overridden", "blocked"]);
    assert_eq!(
        events[0].reason.as_deref(),
        Some("hotfix, agreed with api owners")
    );
    assert!(!r.root().join(".tenet").exists(), "nothing written locally");
    // A PostgreSQL that refuses the connection: the override is refused
    // (it could not be recorded), and the error names the store.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("postgres://tenet@127.0.0.1:{port}/tenet");
    let refused = r.tenet_env(
        &["hook", "run", "pre-commit", "--store", &gone],
        &[("TENET_JUSTIFICATION", "hotfix")],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("the override cannot be recorded, so it is refused"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains(&gone), "{refused:?}");
    // A store URL that does not parse is a usage error before anything runs.
    let bad = r.tenet(&[
        "hook",
        "run",
        "pre-commit",
        "--store",
        "postgres://h:notaport/x",
    ]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("does not parse"), "{bad:?}");
}

#[test]
fn the_first_commit_with_no_head_judges_the_index_against_an_empty_tree() {
    let r = Repo::new();
    r.put("api/orders.yaml", API);
    r.put("rules/demo/demo.tenet", PACK);
    let run = r.hook();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("2 staged file(s)"), "{run:?}");
    // A broken pack in the first commit blocks like any other.
    r.put(
        "rules/demo/demo.tenet",
        PACK.replace("risk high", "risk high\n  colour red"),
    );
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("rules/demo/demo.tenet:"), "{run:?}");
    let e = &r.store().audit_events(None, 1).unwrap()[0];
    assert_eq!(e.details["head"], serde_json::Value::Null);
    assert_eq!(e.subject, r.staged_tree());
}

#[test]
fn a_detached_head_is_judged_like_a_branch() {
    let r = with_api();
    let first = r.repo.head().unwrap().target().unwrap();
    r.put("api/orders.yaml", api_cosmetic());
    r.commit("cosmetic");
    r.repo.set_head_detached(first).unwrap();
    r.repo
        .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .unwrap();
    assert!(r.repo.head_detached().unwrap());
    r.put("api/orders.yaml", api_breaking());
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(finding_lines(&run.stderr).len(), 1, "{run:?}");
    let e = &r.store().audit_events(None, 1).unwrap()[0];
    assert_eq!(e.details["head"], first.to_string().as_str());
}

#[test]
fn unstaged_working_tree_edits_are_ignored() {
    let r = with_api();
    // Staged: cosmetic; working tree: breaking (not staged).
    r.put("api/orders.yaml", api_cosmetic());
    r.write("api/orders.yaml", api_breaking());
    r.write("api/new.yaml", "openapi: [broken\n");
    r.write("tenet.yaml", "artifacts: [\n");
    let run = r.hook();
    assert_eq!(run.code, 0, "{run:?}");
    // Staged: breaking; working tree: back to the base text.
    r.put("api/orders.yaml", api_breaking());
    r.write("api/orders.yaml", API);
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(finding_lines(&run.stderr).len(), 1, "{run:?}");
}

#[test]
fn a_missing_tenet_yaml_means_defaults_and_a_broken_one_exits_2_with_its_place() {
    let r = with_api();
    r.put("api/orders.yaml", api_cosmetic());
    assert_eq!(r.hook().code, 0);
    r.put(
        "tenet.yaml",
        "version: 1\nartifacts:\n  - path: 'api/*.yaml'\n    type: soap\n",
    );
    let run = r.hook();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("tenet.yaml:4:1: unknown artifact type `soap`"),
        "{run:?}"
    );
    r.put("tenet.yaml", "artifacts: [\n");
    let run = r.hook();
    assert_eq!(run.code, 2, "{run:?}");
    let at = run.stderr.find("tenet.yaml:").unwrap();
    let place: Vec<&str> = run.stderr[at..].splitn(4, ':').collect();
    assert!(
        place[1].parse::<u32>().is_ok() && place[2].parse::<u32>().is_ok(),
        "{run:?}"
    );
    // The staged tenet.yaml counts: one that excludes the API lets the
    // breaking change through.
    r.put("tenet.yaml", "version: 1\nexclude: ['api/**']\n");
    r.put("api/orders.yaml", api_breaking());
    assert_eq!(r.hook().code, 0);
}

#[test]
fn deleted_and_renamed_artifacts() {
    let r = with_api();
    // Deleted: the operation is gone.
    std::fs::remove_file(r.root().join("api/orders.yaml")).unwrap();
    r.stage(&["api/orders.yaml"]);
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        finding_lines(&run.stderr)
            .iter()
            .all(|l| l.starts_with("api/orders.yaml:") && l.contains(" breaking ")),
        "{run:?}"
    );
    // Renamed, unchanged: nothing to judge.
    r.write("api/v1/orders.yaml", API);
    r.stage(&["api/v1/orders.yaml"]);
    let run = r.hook();
    assert_eq!(run.code, 0, "{run:?}");
    // Renamed and edited: the edit is judged, under the new path.
    r.write("api/v1/orders.yaml", api_breaking());
    r.stage(&["api/v1/orders.yaml"]);
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    let lines = finding_lines(&run.stderr);
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(lines[0].starts_with("api/v1/orders.yaml:"), "{run:?}");
    assert!(lines[0].contains("field.removed Order.total"), "{run:?}");
}

#[test]
fn binary_files_are_skipped() {
    let r = with_api();
    r.put(
        "assets/logo.png",
        [0x89, b'P', b'N', b'G', 0, 0xff, 0xfe, 0],
    );
    r.put("data/blob.json", [0xff, 0xfe, 0x00, 0x7b]);
    r.put("api/orders.yaml", api_cosmetic());
    let run = r.hook();
    assert_eq!(run.code, 0, "{run:?}");
    r.commit("binaries");
    r.put("data/blob.json", [0xfe, 0xff, 0x01]);
    assert_eq!(r.hook().code, 0);
}

#[test]
fn a_staged_broken_pack_blocks_with_its_diagnostic() {
    let r = Repo::new();
    r.put("rules/demo/demo.tenet", PACK);
    r.commit("pack");
    r.put(
        "rules/demo/demo.tenet",
        PACK.replace("  risk high\n", "  risk high\n  colour red\n"),
    );
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("rules/demo/demo.tenet:"))
        .unwrap_or_else(|| panic!("{run:?}"));
    let parts: Vec<&str> = line.splitn(4, ':').collect();
    assert!(
        parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok(),
        "{line}"
    );
    assert!(
        line.contains("tenet::unknown-field") && line.contains("colour"),
        "{line}"
    );
    // No "cannot read" noise for the same file: its diagnostic says it all.
    assert!(
        !run.stderr.contains("cannot read the head version"),
        "{run:?}"
    );
    // Broken in the working tree only: the staged pack is fine.
    r.put("rules/demo/demo.tenet", PACK);
    r.write("rules/demo/demo.tenet", "garbage");
    assert_eq!(r.hook().code, 0);
}

#[test]
fn a_staged_pack_whose_tests_fail_blocks() {
    let r = Repo::new();
    r.put("rules/demo/demo.tenet", PACK);
    r.commit("pack");
    r.put(
        "rules/demo/demo.tenet",
        PACK.replace("input  {n: 50}", "input  {n: 5}"),
    );
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("rules/demo/demo.tenet:")
            && run
                .stderr
                .contains("test demo::big-one fails: expected `big` to match"),
        "{run:?}"
    );
}

#[test]
fn a_staged_pack_is_checked_with_its_folder_and_imports_from_above() {
    let r = Repo::new();
    r.put(
        "rules/common/common.tenet",
        "tenet 1\npack common version \"1.0.0\"\n\nconst limit = 10\n",
    );
    let user = "tenet 1\npack user version \"1.0.0\"\n\nimport common\n\nrule big {\n  when input.n > common.limit\n  risk high\n}\n\ntest big-one {\n  input  {n: 50}\n  expect [\"big\"]\n}\n";
    r.put("rules/user/user.tenet", user);
    let run = r.hook();
    assert_eq!(run.code, 0, "{run:?}");
    // The imported pack only in the working tree: the import is unresolved.
    r.commit("packs");
    std::fs::remove_file(r.root().join("rules/common/common.tenet")).unwrap();
    r.stage(&["rules/common/common.tenet"]);
    r.write(
        "rules/common/common.tenet",
        "tenet 1\npack common version \"1.0.0\"\n\nconst limit = 10\n",
    );
    let run = r.hook();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("tenet::unresolved-import"), "{run:?}");
}

#[test]
fn install_writes_an_executable_hook_and_is_idempotent() {
    let r = with_api();
    let run = r.tenet(&["hook", "install"]);
    assert_eq!(run.code, 0, "{run:?}");
    let hook = r.repo.path().join("hooks/pre-commit");
    let text = std::fs::read_to_string(&hook).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tenet"))
        .canonicalize()
        .unwrap();
    assert!(
        text.contains(&format!("tenet='{}'", bin.display())),
        "{text}"
    );
    assert!(text.contains("hook run pre-commit"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{mode:o}");
    }
    let again = r.tenet(&["hook", "install"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("already installed"), "{again:?}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), text);
    let un = r.tenet(&["hook", "uninstall"]);
    assert_eq!(un.code, 0, "{un:?}");
    assert!(!hook.exists());
    let un = r.tenet(&["hook", "uninstall"]);
    assert_eq!(un.code, 0, "{un:?}");
    assert!(un.stdout.contains("no tenet pre-commit hook"), "{un:?}");
}

#[test]
fn install_chains_to_a_foreign_hook_and_uninstall_restores_it() {
    let r = with_api();
    let hooks = r.repo.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let foreign = "#!/bin/sh\necho foreign-hook-ran\nexit \"${FOREIGN_EXIT:-0}\"\n";
    std::fs::write(hooks.join("pre-commit"), foreign).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            hooks.join("pre-commit"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let run = r.tenet(&["hook", "install"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("runs first"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.tenet-chained")).unwrap(),
        foreign
    );
    if have_git() {
        // The real `git commit` runs the chain: the foreign hook first, its
        // failure stops the commit with its exit code...
        r.put("api/orders.yaml", api_cosmetic());
        let mut c = r.cmd(Path::new("git"));
        let out = c
            .args(["commit", "-qm", "cosmetic"])
            .env("FOREIGN_EXIT", "3")
            .output()
            .unwrap();
        let run = Run::from(out);
        assert_ne!(run.code, 0, "{run:?}");
        // (git shows a hook's output on its standard error.)
        assert!(run.stderr.contains("foreign-hook-ran"), "{run:?}");
        assert!(!run.stderr.contains("tenet"), "{run:?}");
        // The hook script itself exits with the chained hook's code.
        let mut c = r.cmd(&hooks.join("pre-commit"));
        let run = Run::from(c.env("FOREIGN_EXIT", "3").output().unwrap());
        assert_eq!(run.code, 3, "{run:?}");
        // ... and when it passes, tenet judges the commit.
        let run = r.git(&["commit", "-qm", "cosmetic"]).unwrap();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stderr.contains("foreign-hook-ran"), "{run:?}");
        r.put("api/orders.yaml", api_breaking());
        let run = r.git(&["commit", "-qm", "breaking"]).unwrap();
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("commit blocked"), "{run:?}");
        let mut c = r.cmd(Path::new("git"));
        let out = c
            .args(["commit", "-qm", "breaking, justified"])
            .env("TENET_JUSTIFICATION", "agreed with mobile-app")
            .output()
            .unwrap();
        let run = Run::from(out);
        assert_eq!(run.code, 0, "{run:?}");
        let e = &r.store().audit_events(None, 1).unwrap()[0];
        assert_eq!(e.outcome, "overridden");
        // The audited subject is the tree that was committed.
        let committed = r.repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(e.subject, committed.tree_id().to_string());
    }
    let un = r.tenet(&["hook", "uninstall"]);
    assert_eq!(un.code, 0, "{un:?}");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        foreign
    );
    assert!(!hooks.join("pre-commit.tenet-chained").exists());
}

#[test]
fn force_replaces_a_foreign_hook_and_uninstall_puts_it_back() {
    let r = with_api();
    let hooks = r.repo.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    let run = r.tenet(&["hook", "install", "--force"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit.tenet-replaced")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    // A new foreign hook in front of tenet's: installing again would lose one.
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexit 5\n").unwrap();
    let run = r.tenet(&["hook", "install", "--chain"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("already holds an earlier hook"),
        "{run:?}"
    );
    let run = r.tenet(&["hook", "uninstall"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("not tenet's"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\nexit 5\n"
    );
    // Put tenet's back in front, then uninstall restores the replaced one.
    std::fs::remove_file(hooks.join("pre-commit")).unwrap();
    assert_eq!(r.tenet(&["hook", "install"]).code, 0);
    assert_eq!(r.tenet(&["hook", "uninstall"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    let flags = r.tenet(&["hook", "install", "--chain", "--force"]);
    assert_eq!(flags.code, 2, "{flags:?}");
}

#[test]
fn install_honours_core_hooks_path() {
    let r = with_api();
    r.repo
        .config()
        .unwrap()
        .set_str("core.hooksPath", ".githooks")
        .unwrap();
    let dir = r.root().join(".githooks");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    // From a subfolder, as git would resolve it: relative to the root.
    std::fs::create_dir_all(r.root().join("api")).unwrap();
    let mut c = r.cmd(Path::new(env!("CARGO_BIN_EXE_tenet")));
    let run = Run::from(
        c.args(["hook", "install"])
            .current_dir(r.root().join("api"))
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!r.repo.path().join("hooks/pre-commit").exists());
    assert!(std::fs::read_to_string(dir.join("pre-commit"))
        .unwrap()
        .contains("hook run pre-commit"));
    assert!(dir.join("pre-commit.tenet-chained").exists());
    if have_git() {
        r.put("api/orders.yaml", api_breaking());
        let run = r.git(&["commit", "-qm", "breaking"]).unwrap();
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("commit blocked"), "{run:?}");
    }
    assert_eq!(r.tenet(&["hook", "uninstall"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("pre-commit")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
}

#[test]
fn git_commit_all_is_judged_on_the_index_it_will_commit() {
    if !have_git() {
        return;
    }
    let r = with_api();
    assert_eq!(r.tenet(&["hook", "install"]).code, 0);
    // Nothing staged; `commit -a` stages the breaking edit into a temporary
    // index (GIT_INDEX_FILE) before the hook runs.
    r.write("api/orders.yaml", api_breaking());
    let run = r.git(&["commit", "-aqm", "all"]).unwrap();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("field.removed Order.total"), "{run:?}");
    // `git commit PATH` (only that path) likewise.
    let run = r.git(&["commit", "-qm", "one", "api/orders.yaml"]).unwrap();
    assert_eq!(run.code, 1, "{run:?}");
    r.write("api/orders.yaml", api_cosmetic());
    let run = r.git(&["commit", "-aqm", "cosmetic"]).unwrap();
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn outside_a_repository_is_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenet"))
        .args(["hook", "run", "pre-commit", "--repo"])
        .arg(t.path())
        .env("GIT_CEILING_DIRECTORIES", t.path().parent().unwrap())
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not in a git repository"), "{run:?}");
}

/// The pre-commit framework (<https://pre-commit.com>) running this
/// repository's `.pre-commit-hooks.yaml` against a temporary repository: a
/// breaking commit is blocked, a cosmetic one passes.
#[test]
fn the_pre_commit_framework_runs_the_hook() {
    let required = std::env::var("TENET_REQUIRE_PRE_COMMIT").is_ok_and(|v| v == "1");
    // `pre-commit` on PATH, else the module of the python3 that pip used.
    let tool: Option<Vec<&str>> = [vec!["pre-commit"], vec!["python3", "-m", "pre_commit"]]
        .into_iter()
        .find(|cmd| {
            Command::new(cmd[0])
                .args(&cmd[1..])
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        });
    let Some(tool) = tool.filter(|_| have_git()) else {
        assert!(
            !required,
            "TENET_REQUIRE_PRE_COMMIT=1 but the `pre-commit` tool (or git) is not installed: python3 -m pip install pre-commit"
        );
        eprintln!(
            "SKIPPED the_pre_commit_framework_runs_the_hook: `pre-commit` is not installed (python3 -m pip install pre-commit; TENET_REQUIRE_PRE_COMMIT=1 makes this a failure)"
        );
        return;
    };
    // A repository publishing this project's .pre-commit-hooks.yaml.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.pre-commit-hooks.yaml");
    let hooks_repo = Repo::new();
    hooks_repo.put(
        ".pre-commit-hooks.yaml",
        std::fs::read_to_string(&manifest).unwrap(),
    );
    let rev = hooks_repo.commit("hooks").to_string();

    let r = with_api();
    let cache = tempfile::tempdir().unwrap();
    r.put(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: tenet\n",
            hooks_repo.root().display()
        ),
    );
    r.commit("pre-commit config");
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_tenet"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let run_in = |args: &[&str]| {
        let args: Vec<&str> = if args[0] == "pre-commit" {
            tool.iter().chain(&args[1..]).copied().collect()
        } else {
            args.to_vec()
        };
        let mut c = r.cmd(Path::new(args[0]));
        Run::from(
            c.args(&args[1..])
                .env("PATH", &path)
                .env("PRE_COMMIT_HOME", cache.path())
                .env("PRE_COMMIT_COLOR", "never")
                .output()
                .unwrap(),
        )
    };
    let install = run_in(&["pre-commit", "install"]);
    assert_eq!(install.code, 0, "{install:?}");

    r.put("api/orders.yaml", api_breaking());
    let blocked = run_in(&["git", "commit", "-m", "drop Order.total"]);
    assert_ne!(blocked.code, 0, "{blocked:?}");
    let all = format!("{}{}", blocked.stdout, blocked.stderr);
    assert!(all.contains("field.removed Order.total"), "{blocked:?}");
    assert!(all.contains("Failed"), "{blocked:?}");

    r.put("api/orders.yaml", api_cosmetic());
    let passed = run_in(&["git", "commit", "-m", "a comment"]);
    assert_eq!(passed.code, 0, "{passed:?}");
    let all = format!("{}{}", passed.stdout, passed.stderr);
    assert!(all.contains("Passed"), "{passed:?}");
    let head = r.repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.summary().unwrap(), Some("a comment"));
}
