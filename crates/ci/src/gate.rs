//! The gate's verdict: the semantic diff of base..head (the same path as
//! `tenet diff --base --head`, through [`tenet_diff::git`]) and
//! `tenet check` + `tenet test` over every rule-pack directory the change
//! touches.
//!
//! Which pack folders a change touches, how they are checked and when a
//! report fails are decided once, in [`tenet_diff::gate`], for this gate
//! and the pre-commit hook alike. Touched packs are read from the head
//! commit, like the artifacts: on a pull request the checkout is a merge
//! commit, which is not what the author pushed. Paths `tenet.yaml` excludes
//! are neither artifacts nor packs (test fixtures of broken packs stay out).

use std::path::{Path, PathBuf};
use tenet_diff::classify::Classifier;
pub use tenet_diff::gate::{
    check_pack_dir, touched_pack_dirs, FailOn, FailedTest, Gate, PackCheck, Problem,
};
use tenet_diff::git;
use tenet_diff::repo::{self, RepoConfig};
use tenet_diff::report::Report;
use tenet_runtime::load::{self, LoadError};

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
    /// `--fail-on`: a level of the taxonomy or `never`; `None`: the pack's
    /// default (its taxonomy's `fail_on`).
    pub fail_on: Option<String>,
    /// Policy-lint findings fail the gate; `None`: the pack's default.
    pub fail_on_lint: Option<bool>,
    /// Repository name in the report.
    pub repository: Option<String>,
}

/// The gate's findings and verdict.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub packs: Vec<PackCheck>,
    /// The gate as resolved (the pack's defaults and the options).
    pub gate: Gate,
    /// Things that did not stop the gate (unreadable trailers...).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Why the gate fails; empty when it passes: the report's verdict
    /// ([`Gate::judge`]), then the touched packs that do not check or test.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = self.gate.judge(&self.report).reasons;
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

    /// The most serious thing a reviewer should look at, or `none`: the
    /// highest level present whose changes the pack annotates as errors,
    /// `unclassified`, `packs` (a touched pack fails), the highest level
    /// annotated as a warning, `lint`.
    pub fn risk(&self) -> String {
        let r = &self.report;
        let t = r.taxonomy();
        let present = |annotation: &str| {
            t.levels
                .iter()
                .find(|l| {
                    l.annotation == annotation && r.counts.get(&l.name).copied().unwrap_or(0) > 0
                })
                .map(|l| l.name.clone())
        };
        if let Some(l) = present("error") {
            l
        } else if r.unclassified > 0 {
            "unclassified".into()
        } else if self.packs.iter().any(|p| !p.ok()) {
            "packs".into()
        } else if let Some(l) = present("warning") {
            l
        } else if !r.lint.is_empty() {
            "lint".into()
        } else {
            "none".into()
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
    let gate = Gate::resolve(classifier.taxonomy(), o.fail_on.as_deref(), o.fail_on_lint)
        .map_err(|e| format!("--fail-on: {e}"))?;
    let excluded = |p: &str| rev.config.excludes(p);
    let head_paths: Vec<&str> = rev.head_paths().collect();
    let mut read = |dir: &str| {
        rev.read_head(&repo, |p| {
            is_pack_file(p) && !excluded(p) && (dir.is_empty() || p.starts_with(&format!("{dir}/")))
        })
    };
    let mut packs = Vec::new();
    for dir in touched_pack_dirs(rev.changed_paths(), &head_paths, excluded) {
        packs.extend(check_pack_dir(&dir, &mut read)?);
    }
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
        gate,
        warnings,
    })
}

fn read_config(p: &Path) -> Result<RepoConfig, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    RepoConfig::parse(&text)
        .map_err(|e| format!("{}:{}:{}: {}", p.display(), e.line, e.col, e.message))
}

/// A rule-pack source: a pack or a scorer.
fn is_pack_file(path: &str) -> bool {
    path.ends_with(".tenet") || path.ends_with(".rhai")
}

/// The default for `--max-input-bytes`.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = repo::DEFAULT_MAX_INPUT_BYTES;
