//! The gate's verdict: the semantic diff of base..head (the same path as
//! `tenet diff --base --head`, through [`tenet_diff::git`]) and
//! `tenet check` + `tenet test` over every rule-pack directory the change
//! touches.
//!
//! A touched pack directory is the folder of a changed (added, modified or
//! removed) `.tenet` file, or for a changed `.rhai` scorer the nearest folder
//! above it that holds a `.tenet` file. Its packs are read from the head
//! commit, like the artifacts: on a pull request the checkout is a merge
//! commit, which is not what the author pushed. Paths `tenet.yaml` excludes
//! are neither artifacts nor packs (test fixtures of broken packs stay out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tenet_diff::classify::Classifier;
use tenet_diff::git::{self, Revisions};
use tenet_diff::repo::{self, RepoConfig};
use tenet_diff::report::Report;
use tenet_runtime::dsl::diag::Diagnostic;
use tenet_runtime::dsl::SourceMap;
use tenet_runtime::load::{self, LoadError, RuleFile};
use tenet_runtime::testing;

/// The level at or above which the gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Breaking,
    Behavioral,
    /// Report only: findings never fail the job.
    Never,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Breaking => "breaking",
            FailOn::Behavioral => "behavioral",
            FailOn::Never => "never",
        }
    }
    fn level(self) -> Option<&'static str> {
        match self {
            FailOn::Never => None,
            l => Some(l.as_str()),
        }
    }
}

/// What the gate judges, and how strictly.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// The git repository (or a folder inside it).
    pub repo: PathBuf,
    pub base: String,
    pub head: String,
    /// Rules holding the `semantic_diff` pack; `None`: the bundled ones.
    pub rules: Option<PathBuf>,
    /// A `tenet.yaml` to use instead of the head's.
    pub config: Option<PathBuf>,
    pub max_input_bytes: u64,
    pub fail_on: FailOn,
    /// Policy-lint findings fail the gate (unless `fail_on` is `never`).
    pub fail_on_lint: bool,
    /// Repository name in the report.
    pub repository: Option<String>,
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

/// A failing rule test.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedTest {
    /// `pack::test`.
    pub name: String,
    /// `file:line:col` of the test.
    pub at: String,
    pub failures: Vec<String>,
}

/// `tenet check` + `tenet test` of one touched directory.
#[derive(Debug, Clone, PartialEq)]
pub struct PackCheck {
    /// The directory (`""`: the repository root).
    pub dir: String,
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
    /// The directory as shown (`.` for the root).
    pub fn shown(&self) -> &str {
        if self.dir.is_empty() {
            "."
        } else {
            &self.dir
        }
    }
}

/// The gate's findings and verdict.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub packs: Vec<PackCheck>,
    pub fail_on: FailOn,
    pub fail_on_lint: bool,
    /// Things that did not stop the gate (unreadable trailers...).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Why the gate fails; empty when it passes.
    pub fn reasons(&self) -> Vec<String> {
        let Some(level) = self.fail_on.level() else {
            return Vec::new();
        };
        let r = &self.report;
        let mut out = Vec::new();
        let at_or_above: Vec<&String> = match r.levels.iter().position(|l| l == level) {
            Some(i) => r.levels[..=i].iter().collect(),
            None => Vec::new(),
        };
        for l in at_or_above {
            let n = r.counts.get(l).copied().unwrap_or(0);
            if n > 0 {
                out.push(format!("{n} {l} change(s)"));
            }
        }
        if r.unclassified > 0 {
            out.push(format!(
                "{} unclassified change(s) (no rule of the semantic_diff pack matches)",
                r.unclassified
            ));
        }
        if self.fail_on_lint && !r.lint.is_empty() {
            out.push(format!(
                "{} policy-lint finding(s) (a loosened guard with no justification)",
                r.lint.len()
            ));
        }
        for p in &self.packs {
            if !p.problems.is_empty() {
                out.push(format!(
                    "rule packs in `{}` do not check ({} problem(s))",
                    p.shown(),
                    p.problems.len()
                ));
            }
            if !p.failed.is_empty() {
                out.push(format!(
                    "{} failing rule test(s) in `{}`",
                    p.failed.len(),
                    p.shown()
                ));
            }
        }
        out
    }

    pub fn fails(&self) -> bool {
        !self.reasons().is_empty()
    }

    /// The most serious thing a reviewer should look at, or `none`:
    /// `breaking`, `behavioral`, `unclassified`, `lint` or `packs`.
    pub fn risk(&self) -> &'static str {
        let r = &self.report;
        let count = |l: &str| r.counts.get(l).copied().unwrap_or(0);
        if count("breaking") > 0 {
            "breaking"
        } else if r.unclassified > 0 {
            "unclassified"
        } else if self.packs.iter().any(|p| !p.ok()) {
            "packs"
        } else if count("behavioral") > 0 {
            "behavioral"
        } else if !r.lint.is_empty() {
            "lint"
        } else {
            "none"
        }
    }
}

/// Runs the gate. `Err` is a configuration error (exit 2): no repository,
/// an unknown revision, a broken `tenet.yaml`, rules that do not load, an
/// artifact that does not parse or is over the size cap.
pub fn evaluate(o: &GateOptions) -> Result<Outcome, String> {
    let repo = git2::Repository::discover(&o.repo).map_err(|e| {
        format!(
            "{}: not in a git repository: {}",
            o.repo.display(),
            e.message()
        )
    })?;
    for rev in [&o.base, &o.head] {
        if repo.revparse_single(rev).is_err() {
            return Err(format!(
                "revision `{rev}` is not in the repository at {}; check out the whole history (actions/checkout with `fetch-depth: 0`) or fetch it",
                o.repo.display()
            ));
        }
    }
    let config = match &o.config {
        Some(p) => Some(read_config(p)?),
        None => None,
    };
    let rev = git::read(
        &repo,
        &o.base,
        &o.head,
        git::Options {
            config,
            max_input_bytes: o.max_input_bytes,
            repository: o.repository.clone(),
            trailers: true,
        },
    )?;
    let rules = match &o.rules {
        Some(dir) => load::load_path(dir),
        None => load::load_bundled(),
    }
    .map_err(|e| match e {
        LoadError::Io(m) => m,
        LoadError::Rules { diags, sources } => format!(
            "the semantic_diff rules do not load:\n{}",
            diags
                .iter()
                .map(|d| d.one_line(&sources))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })?;
    let classifier = Classifier::new(&rules)?;
    let dirs = touched_pack_dirs(&rev);
    let head = rev.read_head(&repo, |p| {
        is_pack_file(p)
            && !rev.config.excludes(p)
            && dirs
                .iter()
                .any(|d| d.is_empty() || p.starts_with(&format!("{d}/")))
    })?;
    let packs = dirs
        .into_iter()
        .filter_map(|d| check_dir(&head, &rev.config, &d))
        .collect();
    let warnings = rev.trailer_warning.iter().cloned().collect();
    let report = rev
        .into_report(&classifier, false, None)
        .map_err(|errors| {
            let mut s: Vec<String> = errors.iter().map(ToString::to_string).collect();
            s.push(format!(
                "{} artifact(s) could not be read; nothing was judged",
                errors.len()
            ));
            s.join("\n")
        })?;
    Ok(Outcome {
        report,
        packs,
        fail_on: o.fail_on,
        fail_on_lint: o.fail_on_lint,
        warnings,
    })
}

fn read_config(p: &Path) -> Result<RepoConfig, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    RepoConfig::parse(&text)
        .map_err(|e| format!("{}:{}:{}: {}", p.display(), e.line, e.col, e.message))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// Whether `dir` directly holds a `.tenet` file at head.
fn holds_pack<'a>(mut head: impl Iterator<Item = &'a str>, dir: &str) -> bool {
    head.any(|k| k.ends_with(".tenet") && parent(k) == dir)
}

/// A rule-pack source: a pack or a scorer.
fn is_pack_file(path: &str) -> bool {
    path.ends_with(".tenet") || path.ends_with(".rhai")
}

/// The pack directories a change touches, outermost only.
pub fn touched_pack_dirs(rev: &Revisions) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for p in rev.changed_paths() {
        if rev.config.excludes(p) {
            continue;
        }
        if p.ends_with(".tenet") {
            dirs.insert(parent(p).to_string());
        } else if p.ends_with(".rhai") {
            let mut d = parent(p);
            loop {
                if holds_pack(rev.head_paths(), d) {
                    dirs.insert(d.to_string());
                    break;
                }
                if d.is_empty() {
                    break;
                }
                d = parent(d);
            }
        }
    }
    let inside = |d: &str, outer: &str| outer.is_empty() || d.starts_with(&format!("{outer}/"));
    dirs.iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && inside(d, o)))
        .cloned()
        .collect()
}

/// Checks and tests the packs under `dir` at head; `None` when no pack is
/// left there (the change removed them).
fn check_dir(
    head: &BTreeMap<String, Vec<u8>>,
    config: &RepoConfig,
    dir: &str,
) -> Option<PackCheck> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for (path, bytes) in head.range(prefix.clone()..) {
        if !path.starts_with(&prefix) {
            break;
        }
        if !(path.ends_with(".tenet") || path.ends_with(".rhai")) || config.excludes(path) {
            continue;
        }
        match String::from_utf8(bytes.clone()) {
            Ok(text) => files.push(RuleFile {
                path: path[prefix.len()..].to_string(),
                text,
            }),
            Err(_) => problems.push(Problem {
                file: Some(path.clone()),
                line: None,
                col: None,
                message: "not UTF-8 text".into(),
            }),
        }
    }
    if !files.iter().any(|f| f.path.ends_with(".tenet")) {
        return None;
    }
    let mut check = PackCheck {
        dir: dir.to_string(),
        packs: 0,
        problems,
        passed: 0,
        failed: Vec::new(),
        unexercised: 0,
    };
    match load::load_files(files, dir) {
        Ok(rules) => {
            check.packs = rules.packs.len();
            let t = testing::run_tests(&rules);
            check.passed = t.passed();
            check.unexercised = t.unexercised.len();
            check.failed = t
                .results
                .into_iter()
                .filter(|r| !r.passed)
                .map(|r| FailedTest {
                    name: format!("{}::{}", r.pack, r.name),
                    at: r.at,
                    failures: r.failures,
                })
                .collect();
        }
        Err(LoadError::Io(m)) => check.problems.push(Problem {
            file: None,
            line: None,
            col: None,
            message: m,
        }),
        Err(LoadError::Rules { diags, sources }) => {
            check
                .problems
                .extend(diags.iter().map(|d| problem(d, &sources)));
        }
    }
    Some(check)
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

/// The default for `--max-input-bytes`.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = repo::DEFAULT_MAX_INPUT_BYTES;
