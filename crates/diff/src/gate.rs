//! The gate: one verdict for `tenet diff --fail-on`, `tenet ci` and the
//! pre-commit hook.
//!
//! In: a [`Report`], a [`Gate`] (the level at which changes fail and
//! whether policy-lint findings do) and, for the rule packs a change
//! touches, the rule files as they are at head (or as staged). Out: a
//! [`Verdict`] (which changes block, and why, one reason per line) and a
//! [`PackCheck`] per touched pack folder.
//!
//! What the levels are, which one a gate fails at by default and whether
//! lint findings fail it are the `semantic_diff` pack's (its taxonomy's
//! `fail_on` and `fail_on_lint`): no level name is known here. A change no
//! rule classifies fails any gate that fails on something; `never` fails on
//! no level (lint findings still fail when `fail_on_lint` is on).

use crate::report::{Report, ReportChange};
use std::collections::{BTreeMap, BTreeSet};
use tenet_runtime::dsl::diag::{Code, Diagnostic};
use tenet_runtime::dsl::SourceMap;
use tenet_runtime::ir::Taxonomy;
use tenet_runtime::load::{self, LoadError, RuleFile};
use tenet_runtime::testing;

/// The `--fail-on` value that fails on no level.
pub const NEVER: &str = "never";

/// At which level changes fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOn {
    /// No level fails (report only, but for lint under `fail_on_lint`).
    Never,
    /// A change at or above this level of the taxonomy fails, and so does
    /// a change no rule classifies.
    Level(String),
}

impl FailOn {
    /// `never` or a level of `taxonomy`; anything else is an error that
    /// lists the levels.
    pub fn parse(s: &str, taxonomy: &Taxonomy) -> Result<FailOn, String> {
        if s == NEVER {
            return Ok(FailOn::Never);
        }
        if taxonomy.rank(s).is_some() {
            return Ok(FailOn::Level(s.to_string()));
        }
        Err(format!(
            "`{s}` is not a level of the taxonomy; use one of: {}, {NEVER}",
            taxonomy.names().join(", ")
        ))
    }

    /// `never` or the level.
    pub fn as_str(&self) -> &str {
        match self {
            FailOn::Never => NEVER,
            FailOn::Level(l) => l,
        }
    }
}

/// How strict a gate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub fail_on: FailOn,
    pub fail_on_lint: bool,
}

impl Gate {
    /// The pack's defaults (its taxonomy's `fail_on`, `fail_on_lint`),
    /// each overridden by what the caller gives (`--fail-on`,
    /// `--fail-on-lint` / `--no-fail-on-lint`).
    pub fn resolve(
        taxonomy: &Taxonomy,
        fail_on: Option<&str>,
        fail_on_lint: Option<bool>,
    ) -> Result<Gate, String> {
        let fail_on = match fail_on.or(taxonomy.fail_on.as_deref()) {
            Some(s) => FailOn::parse(s, taxonomy)?,
            None => FailOn::Never,
        };
        Ok(Gate {
            fail_on,
            fail_on_lint: fail_on_lint.unwrap_or(taxonomy.fail_on_lint),
        })
    }

    /// Whether one change blocks: at or above the level, or unclassified.
    pub fn blocks(&self, taxonomy: &Taxonomy, c: &ReportChange) -> bool {
        let FailOn::Level(limit) = &self.fail_on else {
            return false;
        };
        match (taxonomy.rank(&c.risk), taxonomy.rank(limit)) {
            (Some(rank), Some(limit)) => rank <= limit,
            // Unclassified (or a level the report does not know): fails.
            _ => true,
        }
    }

    /// The verdict on a report.
    pub fn judge<'r>(&self, report: &'r Report) -> Verdict<'r> {
        let taxonomy = report.taxonomy();
        let blocking: Vec<&ReportChange> = report
            .changes
            .iter()
            .filter(|c| self.blocks(&taxonomy, c))
            .collect();
        let mut reasons = Vec::new();
        if let FailOn::Level(limit) = &self.fail_on {
            let limit = taxonomy.rank(limit).unwrap_or(usize::MAX);
            for l in taxonomy.levels.iter().take(limit.saturating_add(1)) {
                let n = report.counts.get(&l.name).copied().unwrap_or(0);
                if n > 0 {
                    reasons.push(format!("{n} {} change(s)", l.name));
                }
            }
            if report.unclassified > 0 {
                reasons.push(format!(
                    "{} unclassified change(s) (no rule of the {} pack matches)",
                    report.unclassified, report.rules.pack
                ));
            }
        }
        let lint_blocks = self.fail_on_lint && !report.lint.is_empty();
        if lint_blocks {
            reasons.push(format!(
                "{} policy-lint finding(s) (a loosened guard with no justification)",
                report.lint.len()
            ));
        }
        Verdict {
            blocking,
            lint_blocks,
            reasons,
        }
    }
}

/// What a gate found in a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<'r> {
    /// Changes at or above the level, and unclassified ones (all of the
    /// report's changes: a hidden one still counts in `reasons`).
    pub blocking: Vec<&'r ReportChange>,
    /// The report's lint findings fail the gate.
    pub lint_blocks: bool,
    /// Why the gate fails, one line each; empty when it passes.
    pub reasons: Vec<String>,
}

impl Verdict<'_> {
    pub fn fails(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// A problem in a rule pack, located when it can be.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    /// `error[code]: message` (with the hint, when there is one).
    pub message: String,
}

impl std::fmt::Display for Problem {
    /// `file:line:col: message`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line, self.col) {
            (Some(file), Some(l), Some(c)) => write!(f, "{file}:{l}:{c}: {}", self.message),
            (Some(file), _, _) => write!(f, "{file}: {}", self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

/// A failing rule test.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedTest {
    /// `pack::test`.
    pub name: String,
    /// `file:line:col` of the test.
    pub at: String,
    pub failures: Vec<String>,
}

/// `tenet check` + `tenet test` of one touched pack folder.
#[derive(Debug, Clone, PartialEq)]
pub struct PackCheck {
    /// The folder (`""`: the repository root).
    pub dir: String,
    /// The folder the packs were loaded from: `dir`, or a parent of it
    /// when the packs import packs that live beside their folder.
    pub loaded_from: String,
    /// Packs loaded (0 when they do not check).
    pub packs: usize,
    pub problems: Vec<Problem>,
    pub passed: usize,
    pub failed: Vec<FailedTest>,
    /// Blocks with a condition that no test exercises.
    pub unexercised: usize,
}

impl PackCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.failed.is_empty()
    }
    /// The folder as shown (`.` for the root).
    pub fn shown(&self) -> &str {
        if self.dir.is_empty() {
            "."
        } else {
            &self.dir
        }
    }
}

fn is_rule_file(path: &str) -> bool {
    path.ends_with(".tenet") || path.ends_with(".rhai")
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').map(|(d, _)| d).unwrap_or(""))
}

fn inside(path: &str, dir: &str) -> bool {
    dir.is_empty() || path.starts_with(&format!("{dir}/"))
}

/// The pack folders a change touches: for each changed rule file
/// (`.tenet` or `.rhai`, added, modified, removed or renamed, and not
/// excluded), the nearest folder at or above it with a `.tenet` file
/// somewhere beneath it in `head_paths` (the paths at head; no file is
/// read). A removed pack
/// so touches the folder of the packs beside it, which may import it. Of
/// nested folders, the outermost, which checks the inner ones with it.
pub fn touched_pack_dirs<'a>(
    changed: impl IntoIterator<Item = &'a str>,
    head_paths: &[&str],
    excluded: impl Fn(&str) -> bool,
) -> Vec<String> {
    let holds_pack = |dir: &str| {
        head_paths
            .iter()
            .any(|k| k.ends_with(".tenet") && inside(k, dir) && !excluded(k))
    };
    let mut dirs = BTreeSet::new();
    for p in changed {
        if !is_rule_file(p) || excluded(p) {
            continue;
        }
        let mut d = parent(p);
        while let Some(dir) = d {
            if holds_pack(dir) {
                dirs.insert(dir.to_string());
                break;
            }
            d = parent(dir);
        }
    }
    dirs.iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && inside(d, o)))
        .cloned()
        .collect()
}

/// Rule files (`.tenet`, `.rhai`) under a folder, path → bytes, as
/// [`check_pack_dir`] asks for them: excluded files left out, read from
/// head or from the index, fetched if need be.
pub type ReadRuleFiles<'a> = dyn FnMut(&str) -> Result<BTreeMap<String, Vec<u8>>, String> + 'a;

/// Checks and tests the packs under `dir`, whose rule files `read` gives.
/// When they import a pack their folder does not hold, the parent folder
/// is read and tried, up to the root; the first folder's diagnostics are
/// reported when none loads. `Ok(None)` when no pack is left under `dir`
/// (the change removed them); `Err` when the files cannot be read.
pub fn check_pack_dir(
    dir: &str,
    read: &mut ReadRuleFiles<'_>,
) -> Result<Option<PackCheck>, String> {
    let mut check = PackCheck {
        dir: dir.to_string(),
        loaded_from: dir.to_string(),
        packs: 0,
        problems: Vec::new(),
        passed: 0,
        failed: Vec::new(),
        unexercised: 0,
    };
    let (own, unreadable) = rule_files_under(&read(dir)?, dir);
    if !own.iter().any(|f| f.path.ends_with(".tenet")) {
        return Ok(None);
    }
    check.problems = unreadable;
    let mut attempt = Some((dir, own));
    let mut first_error: Option<Vec<Problem>> = None;
    while let Some((at, rule_files)) = attempt.take() {
        match load::load_files(rule_files, at) {
            Ok(rules) => {
                // Loaded from a parent, the rules hold the packs beside
                // `dir` too: only the tests of `dir`'s packs are its own
                // (another touched folder reports the rest).
                let own = |at: &str| at == dir || inside(at, dir);
                check.loaded_from = at.to_string();
                check.packs = rules.packs.iter().filter(|p| own(&p.file)).count();
                let t = testing::run_tests(&rules);
                check.unexercised = t.unexercised.len();
                for r in t.results.into_iter().filter(|r| own(&r.at)) {
                    if r.passed {
                        check.passed += 1;
                    } else {
                        check.failed.push(FailedTest {
                            name: format!("{}::{}", r.pack, r.name),
                            at: r.at,
                            failures: r.failures,
                        });
                    }
                }
                return Ok(Some(check));
            }
            Err(LoadError::Io(m)) => {
                first_error.get_or_insert_with(|| {
                    vec![Problem {
                        file: None,
                        line: None,
                        col: None,
                        message: m,
                    }]
                });
            }
            Err(LoadError::Rules { diags, sources }) => {
                let unresolved = diags.iter().any(|d| d.code == Code::UnresolvedImport);
                match &mut first_error {
                    None => {
                        first_error = Some(diags.iter().map(|d| problem(d, &sources)).collect());
                    }
                    // A parent that fails for another reason (a broken pack
                    // beside `dir`) says so too: the import may well exist.
                    Some(first) => first.extend(
                        diags
                            .iter()
                            .filter(|d| d.code != Code::UnresolvedImport)
                            .map(|d| problem(d, &sources)),
                    ),
                }
                if let Some(up) = parent(at).filter(|_| unresolved) {
                    attempt = Some((up, rule_files_under(&read(up)?, up).0));
                }
            }
        }
    }
    check.problems.extend(first_error.unwrap_or_default());
    Ok(Some(check))
}

/// The rule files among `files` that are under `dir` (paths relative to
/// it), and those that are not UTF-8 text.
fn rule_files_under(files: &BTreeMap<String, Vec<u8>>, dir: &str) -> (Vec<RuleFile>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (path, bytes) in files {
        if !is_rule_file(path) || !inside(path, dir) {
            continue;
        }
        let rel = if dir.is_empty() {
            path.as_str()
        } else {
            &path[dir.len() + 1..]
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => out.push(RuleFile {
                path: rel.to_string(),
                text: text.to_string(),
            }),
            Err(_) => problems.push(Problem {
                file: Some(path.clone()),
                line: None,
                col: None,
                message: "not UTF-8 text".into(),
            }),
        }
    }
    (out, problems)
}

fn problem(d: &Diagnostic, sources: &SourceMap) -> Problem {
    let place = d.span.and_then(|s| {
        sources.get(s.file).map(|f| {
            let (l, c) = f.line_col(s.start);
            (f.path.clone(), l as u32, c as u32)
        })
    });
    let mut message = format!("error[{}]: {}", d.code.as_str(), d.message);
    if let Some(h) = &d.help {
        message.push_str(&format!(" (hint: {h})"));
    }
    Problem {
        file: place.as_ref().map(|p| p.0.clone()),
        line: place.as_ref().map(|p| p.1),
        col: place.as_ref().map(|p| p.2),
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::change::ArtifactType;
    use crate::classify::Classifier;
    use crate::repo::{ArtifactPair, Consumers};
    use crate::report::{self, Build};
    use tenet_runtime::load::{load_files, Rules};

    /// A `semantic_diff` pack with levels tenet knows nothing of: the gate
    /// and the rendering must take everything from it.
    const PACK: &str = r#"tenet 1
pack semantic_diff version "9.0.0"

taxonomy severity {
  levels       [sev1, sev2, sev3]
  fail_on      sev2
  fail_on_lint false

  level sev1 {
    icon       "🚨"
    title      "Severity one"
    annotation error
  }

  level sev3 {
    listed false
  }
}

rule removed {
  on   change
  when change.kind == "config.key_removed"
  risk sev1
}

rule changed {
  on   change
  when change.kind == "config.value_changed"
  risk sev3
}
"#;

    fn rules() -> Rules {
        load_files(
            vec![RuleFile {
                path: "semantic_diff.tenet".into(),
                text: PACK.into(),
            }],
            "",
        )
        .unwrap()
    }

    fn report_of(rules: &Rules, before: &str, after: &str) -> Report {
        let classifier = Classifier::new(rules).unwrap();
        let consumers = Consumers::default();
        report::build(
            Build {
                base: "a".into(),
                head: "b".into(),
                repository: None,
                pairs: vec![ArtifactPair {
                    path: "app.yaml".into(),
                    ty: ArtifactType::Config,
                    direction: None,
                    before: Some(before.into()),
                    after: Some(after.into()),
                }],
                consumers: &consumers,
                threshold: None,
            },
            &classifier,
        )
        .unwrap()
    }

    #[test]
    fn the_gate_takes_its_levels_and_defaults_from_the_pack() {
        let rules = rules();
        let r = report_of(&rules, "a: 1\nb: 2\n", "a: 1\nb: 3\n");
        let t = r.taxonomy();
        assert_eq!(t.names(), ["sev1", "sev2", "sev3"]);
        let gate = Gate::resolve(&t, None, None).unwrap();
        assert_eq!(gate.fail_on, FailOn::Level("sev2".into()));
        assert!(!gate.fail_on_lint);
        // sev3 is below the default sev2: passes.
        assert!(!gate.judge(&r).fails());
        let strict = Gate::resolve(&t, Some("sev3"), None).unwrap();
        let v = strict.judge(&r);
        assert_eq!(v.reasons, ["1 sev3 change(s)"]);
        assert_eq!(v.blocking.len(), 1);
        let removed = report_of(&rules, "a: 1\nb: 2\n", "a: 1\n");
        assert_eq!(gate.judge(&removed).reasons, ["1 sev1 change(s)"]);
    }

    #[test]
    fn an_unknown_level_is_an_error_listing_the_levels() {
        let t = report_of(&rules(), "a: 1\n", "a: 2\n").taxonomy();
        assert_eq!(
            Gate::resolve(&t, Some("breaking"), None).unwrap_err(),
            "`breaking` is not a level of the taxonomy; use one of: sev1, sev2, sev3, never"
        );
    }

    #[test]
    fn unclassified_changes_fail_any_level_and_never_fails_none() {
        let rules = rules();
        // `config.key_added` has no rule in this pack.
        let r = report_of(&rules, "a: 1\n", "a: 1\nc: 3\n");
        assert_eq!(r.unclassified, 1);
        let t = r.taxonomy();
        let highest = Gate::resolve(&t, Some("sev1"), None).unwrap();
        let v = highest.judge(&r);
        assert!(v.fails());
        assert_eq!(v.blocking[0].kind, "config.key_added");
        assert!(
            v.reasons[0].starts_with("1 unclassified change(s)"),
            "{v:?}"
        );
        let never = Gate::resolve(&t, Some(NEVER), None).unwrap();
        assert!(!never.judge(&r).fails());
    }

    #[test]
    fn the_rendering_shows_the_packs_icons_titles_and_listing() {
        let rules = rules();
        let r = report_of(&rules, "a: 1\nb: 2\n", "b: 3\n");
        let md = report::markdown(&r);
        assert!(md.contains("| 🚨 sev1 | 1 |"), "{md}");
        assert!(md.contains("### 🚨 Severity one"), "{md}");
        // sev3 is not listed one by one.
        assert!(!md.contains("### ❔ sev3"), "{md}");
        let notes = report::release_notes(&r);
        assert!(notes.contains("## Severity one"), "{notes}");
        assert!(notes.contains("## sev3"), "{notes}");
    }

    fn files(paths: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        paths
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    /// Checks `dir` reading from `files`, and says which folders were read.
    fn check(files: &BTreeMap<String, Vec<u8>>, dir: &str) -> (Option<PackCheck>, Vec<String>) {
        let mut asked = Vec::new();
        let mut read = |d: &str| {
            asked.push(d.to_string());
            Ok(files
                .iter()
                .filter(|(p, _)| inside(p, d))
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect())
        };
        let c = check_pack_dir(dir, &mut read).unwrap();
        (c, asked)
    }

    #[test]
    fn touched_folders_are_the_nearest_with_packs_beneath_outermost_first() {
        let head = [
            "rules/a/a.tenet",
            "rules/a/scorers/s.rhai",
            "rules/b/b.tenet",
            "rules/b/inner/c.tenet",
            "fixtures/bad/x.tenet",
        ];
        let none = |_: &str| false;
        // A scorer: the nearest folder above it with a pack.
        assert_eq!(
            touched_pack_dirs(["rules/a/scorers/s.rhai"], &head, none),
            ["rules/a"]
        );
        // Nested: the outermost checks both.
        assert_eq!(
            touched_pack_dirs(["rules/b/b.tenet", "rules/b/inner/c.tenet"], &head, none),
            ["rules/b"]
        );
        // A removed pack touches the folder of the packs beside it.
        assert_eq!(
            touched_pack_dirs(["rules/gone/gone.tenet"], &head, none),
            ["rules"]
        );
        // Excluded files are no packs, and touch nothing.
        let excluded = |p: &str| p.starts_with("fixtures/");
        assert!(touched_pack_dirs(["fixtures/bad/x.tenet"], &head, excluded).is_empty());
        assert!(touched_pack_dirs(["README.md"], &head, none).is_empty());
    }

    #[test]
    fn a_pack_importing_a_sibling_is_checked_from_the_parent() {
        let common = "tenet 1\npack common version \"1.0.0\"\n\nconst limit = 10\n";
        let user = "tenet 1\npack user version \"1.0.0\"\n\nimport common\n\nrule big {\n  when input.n > common.limit\n  risk high\n}\n\ntest big-one {\n  input  {n: 50}\n  expect [\"big\"]\n}\n";
        let head = files(&[
            ("rules/common/common.tenet", common),
            ("rules/user/user.tenet", user),
        ]);
        let (c, asked) = check(&head, "rules/user");
        let c = c.unwrap();
        assert!(c.ok(), "{c:?}");
        // Loaded with its sibling, but only its own pack and tests count.
        assert_eq!((c.loaded_from.as_str(), c.packs, c.passed), ("rules", 1, 1));
        // The parent is read only because the import needs it.
        assert_eq!(asked, ["rules/user", "rules"]);
        // Without the sibling, the first folder's diagnostic is reported.
        let alone = files(&[("rules/user/user.tenet", user)]);
        let (c, asked) = check(&alone, "rules/user");
        let c = c.unwrap();
        assert_eq!(asked, ["rules/user", "rules", ""]);
        assert!(!c.ok());
        assert!(
            c.problems[0]
                .to_string()
                .starts_with("rules/user/user.tenet:4:8: error[tenet::unresolved-import]: no pack named `common`"),
            "{:?}",
            c.problems
        );
        // No pack left under the folder: nothing to check.
        assert!(check(&alone, "rules/common").0.is_none());
        // A parent that fails for another reason says so too.
        let broken_sibling = files(&[
            ("rules/user/user.tenet", user),
            ("rules/common/common.tenet", common),
            ("rules/legacy/x.tenet", "tenet 1\npack {"),
        ]);
        let c = check(&broken_sibling, "rules/user").0.unwrap();
        let shown: Vec<String> = c.problems.iter().map(ToString::to_string).collect();
        assert!(shown[0].contains("unresolved-import"), "{shown:?}");
        assert!(
            shown.iter().any(|p| p.starts_with("rules/legacy/x.tenet:")),
            "{shown:?}"
        );
    }

    #[test]
    fn two_folders_loaded_from_one_parent_report_only_their_own_tests() {
        let common = "tenet 1\npack common version \"1.0.0\"\n\nconst limit = 10\n";
        let pack = |name: &str, n: u32| {
            format!("tenet 1\npack {name} version \"1.0.0\"\n\nimport common\n\nrule big {{\n  when input.n > common.limit\n  risk high\n}}\n\ntest big-one {{\n  input  {{n: {n}}}\n  expect [\"big\"]\n}}\n")
        };
        let (a, b) = (pack("a", 50), pack("b", 5));
        let head = files(&[
            ("rules/common/common.tenet", common),
            ("rules/a/a.tenet", &a),
            ("rules/b/b.tenet", &b),
        ]);
        let ca = check(&head, "rules/a").0.unwrap();
        let cb = check(&head, "rules/b").0.unwrap();
        assert!(ca.ok(), "b's failing test is not a's: {ca:?}");
        assert_eq!((ca.passed, ca.failed.len()), (1, 0));
        assert_eq!((cb.passed, cb.failed.len()), (0, 1));
        assert_eq!(cb.failed[0].name, "b::big-one");
    }
}
