//! `tenet hook run pre-commit`: judge what is staged.
//!
//! 1. The repository's `tenet.yaml` is read from the index (a broken one is
//!    an error with its line and column: exit 2).
//! 2. The index is compared with `HEAD` ([`crate::staged`]); only the
//!    changed files are read.
//! 3. Every staged rule pack (`.tenet`, or a `.rhai` scorer) is checked and
//!    its tests run, with the rest of its folder as staged (imports reach
//!    up to the parent folders when the pack's own folder lacks them).
//! 4. The staged artifacts are diffed against `HEAD` and classified by the
//!    `semantic_diff` pack (the bundled one, or `--rules`).
//! 5. A change at or above the fail-on level (or unclassified), a pack that
//!    does not check, a failing rule test or an artifact that does not
//!    parse blocks the commit (exit 1), one line per finding, with the way
//!    to override it. A non-empty justification overrides (exit 0). Both a
//!    block and an override are recorded in the audit log of the store.

use crate::staged::{StagedPath, StagedRepo, Status};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tenet_diff::classify::Classifier;
use tenet_diff::gate::{check_pack_dir, touched_pack_dirs, FailOn, Gate};
use tenet_diff::repo::{ArtifactPair, RepoConfig, CONFIG_FILE};
use tenet_diff::report::{self, Build, Lint, Report};
use tenet_runtime::dsl::diag::Diagnostic;
use tenet_runtime::dsl::SourceMap;
use tenet_runtime::exit;
use tenet_runtime::load::{self, LoadError, RuleFile, Rules};
use tenet_store::{AuditEvent, Location, Store};

/// The environment variable that carries an override's justification.
pub const JUSTIFICATION_ENV: &str = "TENET_JUSTIFICATION";
/// The store, relative to the working tree's root.
pub const DEFAULT_STORE: &str = ".tenet/tenet.db";
/// The audit `source` of this hook.
pub const SOURCE: &str = "hook:pre-commit";

/// How `tenet hook run pre-commit` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository (default: from the environment / current directory).
    pub repo: Option<PathBuf>,
    /// Rules directory holding the `semantic_diff` pack (default: bundled).
    pub rules: Option<PathBuf>,
    /// `--fail-on`: block at or above this level of the taxonomy, or
    /// `never`; `None`: the pack's default (its taxonomy's `fail_on`).
    pub fail_on: Option<String>,
    /// Block on policy-lint findings; `None`: the pack's default.
    pub fail_on_lint: Option<bool>,
    /// The store: a SQLite file or a PostgreSQL database (default:
    /// `.tenet/tenet.db` at the working tree's root).
    pub store: Option<Location>,
    /// The override's justification (`TENET_JUSTIFICATION`).
    pub justification: Option<String>,
    /// Largest staged artifact read, in bytes.
    pub max_input_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            repo: None,
            rules: None,
            fail_on: None,
            fail_on_lint: None,
            store: None,
            justification: None,
            max_input_bytes: tenet_diff::repo::DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// A staged change at or above the fail-on level.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub file: String,
    pub line: Option<u32>,
    pub risk: String,
    pub kind: String,
    pub path: String,
    pub rationale: String,
    pub fingerprint: String,
}

impl std::fmt::Display for Finding {
    /// `file:line: risk kind path — rationale`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(
            f,
            "{} {} {} — {}",
            self.risk, self.kind, self.path, self.rationale
        )
    }
}

/// What the hook found in the staged changes.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// Staged paths.
    pub staged: usize,
    /// Changes judged by the `semantic_diff` pack.
    pub judged: usize,
    /// The highest risk among them, `none` when there is none.
    pub highest_risk: String,
    /// Changes at or above the fail-on level: they block.
    pub findings: Vec<Finding>,
    /// Other problems that block, one line each: pack diagnostics, failing
    /// rule tests, artifacts that do not parse, lint findings under
    /// `fail_on_lint`.
    pub problems: Vec<String>,
    /// Lines worth reading that do not block (lint findings).
    pub notes: Vec<String>,
    /// The bundle hash of the rules that judged the changes (none when
    /// nothing was judged).
    pub bundle: Option<String>,
    /// The gate as resolved (the pack's defaults and the options).
    pub gate: Option<Gate>,
}

impl Judgement {
    pub fn blocks(&self) -> bool {
        !self.findings.is_empty() || !self.problems.is_empty()
    }
}

/// Runs the hook; writes what it finds to `out` / `err` and returns the
/// exit code (0 pass or overridden, 1 blocked, 2 configuration / git / store
/// error).
pub fn run(opts: &Options, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let start = Instant::now();
    let mut repo = match StagedRepo::open(opts.repo.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::ERROR;
        }
    };
    let judgement = match judge(&repo, opts) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::ERROR;
        }
    };
    for n in &judgement.notes {
        let _ = writeln!(err, "{n}");
    }
    if !judgement.blocks() {
        if judgement.staged > 0 {
            let _ = writeln!(
                out,
                "tenet: {} staged file(s), {} change(s) judged, highest risk {}: {}",
                judgement.staged,
                judgement.judged,
                judgement.highest_risk,
                match judgement.gate.as_ref().map(|g| &g.fail_on) {
                    Some(FailOn::Level(l)) => format!("nothing at or above {l}"),
                    Some(FailOn::Never) => "no level fails (--fail-on never)".to_string(),
                    // No artifact and no pack staged: no rules were read.
                    None => "nothing to judge".to_string(),
                }
            );
        }
        return exit::OK;
    }
    let latency_ms = start.elapsed().as_millis().min(u64::MAX as u128) as u64;
    let justification = opts
        .justification
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty());
    let store_path = opts
        .store
        .clone()
        .unwrap_or_else(|| Location::Sqlite(repo.workdir().join(DEFAULT_STORE)));
    let n = judgement.findings.len() + judgement.problems.len();
    let _ = writeln!(
        err,
        "tenet: {} — {n} finding(s) in the staged changes{}:",
        if justification.is_some() {
            "commit allowed by override"
        } else {
            "commit blocked"
        },
        match (
            judgement.gate.as_ref().map(|g| &g.fail_on),
            judgement.findings.is_empty()
        ) {
            (Some(FailOn::Level(level)), false) => format!(" (at or above {level})"),
            _ => String::new(),
        }
    );
    for f in &judgement.findings {
        let _ = writeln!(err, "{f}");
    }
    for p in &judgement.problems {
        let _ = writeln!(err, "{p}");
    }
    let event = audit_event(&mut repo, &judgement, justification, latency_ms, start);
    let recorded = Store::connect(&store_path).and_then(|s| s.record_audit(&event));
    match (justification, recorded) {
        (Some(_), Ok(_)) => {
            let _ = writeln!(
                err,
                "tenet: override recorded in the audit log ({}, action {})",
                store_path, event.action_id
            );
            exit::OK
        }
        (Some(_), Err(e)) => {
            let _ = writeln!(
                err,
                "error: the override cannot be recorded, so it is refused: {e}"
            );
            exit::ERROR
        }
        (None, recorded) => {
            if let Err(e) = recorded {
                let _ = writeln!(err, "warning: the block could not be audited: {e}");
            }
            if opts
                .justification
                .as_deref()
                .is_some_and(|j| j.trim().is_empty())
            {
                let _ = writeln!(
                    err,
                    "tenet: {JUSTIFICATION_ENV} is empty: an override needs a reason"
                );
            }
            let _ = writeln!(
                err,
                "To commit anyway, give the reason; it is kept in the audit log ({}):\n  {JUSTIFICATION_ENV}=\"why this is safe\" git commit ...",
                store_path
            );
            exit::FINDINGS
        }
    }
}

fn audit_event(
    repo: &mut StagedRepo,
    j: &Judgement,
    justification: Option<&str>,
    latency_ms: u64,
    start: Instant,
) -> AuditEvent {
    let subject = repo
        .staged_tree()
        .unwrap_or_else(|e| format!("(staged tree unavailable: {e})"));
    let scope = repo
        .workdir()
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    let at = tenet_runtime::clock::system_now().rfc3339();
    let nonce = format!(
        "{subject}\u{0}{scope}\u{0}{at}\u{0}{}\u{0}{:?}",
        std::process::id(),
        start.elapsed()
    );
    let hash = tenet_runtime::bundle::sha256_hex(nonce.as_bytes());
    // A UUID-shaped id (version 4 layout) from the hash of what makes this
    // action unique.
    let action_id = format!(
        "{}-{}-4{}-a{}-{}",
        &hash[0..8],
        &hash[8..12],
        &hash[13..16],
        &hash[17..20],
        &hash[20..32]
    );
    let findings: Vec<serde_json::Value> = j
        .findings
        .iter()
        .map(|f| {
            json!({"file": f.file, "line": f.line, "risk": f.risk, "kind": f.kind,
                   "path": f.path, "rationale": f.rationale, "fingerprint": f.fingerprint})
        })
        .collect();
    AuditEvent {
        id: 0,
        action_id,
        at,
        source: SOURCE.into(),
        subject,
        actor: repo.actor(),
        scope,
        outcome: if justification.is_some() {
            "overridden"
        } else {
            "blocked"
        }
        .into(),
        reason: justification.map(str::to_string),
        latency_ms,
        details: json!({
            "head": repo.head().map(|h| h.to_string()),
            "fail_on": j.gate.as_ref().map(|g| g.fail_on.as_str()),
            "findings": findings,
            "problems": j.problems,
        }),
        tenant: None,
        bundle: j.bundle.clone(),
    }
}

/// Reads the staged `tenet.yaml` (defaults when there is none).
fn staged_config(repo: &StagedRepo) -> Result<RepoConfig, String> {
    match repo.index_file(CONFIG_FILE)? {
        None => Ok(RepoConfig::default()),
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{CONFIG_FILE}: not UTF-8 text (as staged)"))?;
            RepoConfig::parse(&text).map_err(|e| format!("{e} (as staged)"))
        }
    }
}

/// Judges the staged changes (no output, no audit).
pub fn judge(repo: &StagedRepo, opts: &Options) -> Result<Judgement, String> {
    let config = staged_config(repo)?;
    let staged = repo.staged(opts.max_input_bytes)?;
    config.check_sizes(&staged.oversize, opts.max_input_bytes)?;
    let mut j = Judgement {
        staged: staged.paths.len(),
        highest_risk: "none".into(),
        ..Judgement::default()
    };
    let mut pairs = config.pairs(&staged.base, &staged.head);
    let touches_packs = staged.paths.iter().any(|s| {
        is_rule_file(&s.path) || matches!(&s.status, Status::Renamed { from } if is_rule_file(from))
    });
    if pairs.is_empty() && !touches_packs {
        // Nothing to judge: no rules are read (the hook stays instant).
        return Ok(j);
    }
    // The gate before anything else: a `--fail-on` the taxonomy does not
    // have is an error, never a gate that lets everything through.
    let rules = classification_rules(opts.rules.as_deref())?;
    let classifier = Classifier::new(&rules)?;
    j.gate = Some(
        Gate::resolve(
            classifier.taxonomy(),
            opts.fail_on.as_deref(),
            opts.fail_on_lint,
        )
        .map_err(|e| format!("--fail-on: {e}"))?,
    );
    let broken_packs = check_packs(repo, &staged.paths, &config, &mut j.problems)?;
    if pairs.is_empty() {
        return Ok(j);
    }
    let base = repo
        .head()
        .map(|h| h.to_string())
        .unwrap_or_else(|| "(no commit yet)".into());
    let build = |pairs: Vec<ArtifactPair>| {
        report::build_with(
            Build {
                base: base.clone(),
                head: "(staged)".into(),
                repository: None,
                pairs,
                consumers: &config.consumers,
                threshold: None,
            },
            &Lint::default(),
            &classifier,
        )
    };
    let report = match build(pairs.clone()) {
        Ok(r) => r,
        Err(errors) => {
            // Report what does not parse (a broken pack was reported by its
            // check already) and judge the rest.
            let failed: BTreeSet<String> = errors.iter().map(|e| e.artifact.clone()).collect();
            for e in &errors {
                if !broken_packs.contains(&e.artifact) {
                    j.problems.push(e.to_string());
                }
            }
            pairs.retain(|p| !failed.contains(&p.path));
            build(pairs).map_err(|errors| {
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })?
        }
    };
    take_report(&report, &mut j);
    Ok(j)
}

fn take_report(r: &Report, j: &mut Judgement) {
    j.bundle = Some(r.rules.fingerprint.clone());
    j.judged = r.changes.len();
    j.highest_risk = r.highest_risk.clone();
    let Some(gate) = j.gate.clone() else { return };
    let verdict = gate.judge(r);
    for c in verdict.blocking {
        j.findings.push(Finding {
            file: c.artifact.clone(),
            line: c.line,
            risk: c.risk.clone(),
            kind: c.kind.clone(),
            path: c.path.clone(),
            rationale: c.rationale.clone(),
            fingerprint: c.fingerprint.clone(),
        });
    }
    for l in &r.lint {
        let at = match l.line {
            Some(n) => format!("{}:{n}", l.artifact),
            None => l.artifact.clone(),
        };
        let line = format!("{at}: lint {} `{}` — {}", l.check, l.rule, l.message);
        if verdict.lint_blocks {
            j.problems.push(line);
        } else {
            j.notes.push(format!("note: {line}"));
        }
    }
}

/// The rules that classify changes: `--rules DIR`, or the bundled
/// `semantic_diff` pack alone (the whole bundle if it ever needs more).
fn classification_rules(dir: Option<&Path>) -> Result<Rules, String> {
    let show = |e: LoadError| match e {
        LoadError::Io(m) => m,
        LoadError::Rules { diags, sources } => {
            format!(
                "the classification rules do not load:\n{}",
                diag_lines(&diags, &sources).join("\n")
            )
        }
    };
    match dir {
        Some(d) => load::load_path(d).map_err(show),
        None => {
            let files: Vec<RuleFile> = load::bundled_files()
                .into_iter()
                .filter(|f| f.path.starts_with("semantic-diff/"))
                .collect();
            load::load_files(files, "(bundled)")
                .or_else(|_| load::load_bundled())
                .map_err(show)
        }
    }
}

/// One line per diagnostic: `file:line:col: code: message (help)`.
fn diag_lines(diags: &[Diagnostic], sources: &SourceMap) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let at = d.location(sources);
            let mut s = if at.is_empty() {
                format!("{}: {}", d.code.as_str(), d.message)
            } else {
                format!("{at}: {}: {}", d.code.as_str(), d.message)
            };
            if let Some(h) = &d.help {
                s.push_str(&format!(" (help: {h})"));
            }
            s
        })
        .collect()
}

fn is_rule_file(path: &str) -> bool {
    path.ends_with(".tenet") || path.ends_with(".rhai")
}

/// Checks the pack folder of every staged rule pack or scorer, as staged,
/// and runs its tests ([`tenet_diff::gate`]: the same folders and the same
/// checks as `tenet ci`). Returns the staged packs of folders that did not
/// load.
fn check_packs(
    repo: &StagedRepo,
    staged: &[StagedPath],
    config: &RepoConfig,
    problems: &mut Vec<String>,
) -> Result<BTreeSet<String>, String> {
    let touched: Vec<&str> = staged
        .iter()
        .flat_map(|s| {
            let from = match &s.status {
                Status::Renamed { from } => Some(from.as_str()),
                _ => None,
            };
            std::iter::once(s.path.as_str()).chain(from)
        })
        .filter(|p| is_rule_file(p) && !config.excludes(p))
        .collect();
    if touched.is_empty() {
        return Ok(BTreeSet::new());
    }
    let index: Vec<String> = repo
        .index_paths()
        .into_iter()
        .filter(|p| is_rule_file(p) && !config.excludes(p))
        .collect();
    let index_paths: Vec<&str> = index.iter().map(String::as_str).collect();
    let excluded = |p: &str| config.excludes(p);
    let mut read = |dir: &str| {
        let mut files = BTreeMap::new();
        for p in index
            .iter()
            .filter(|p| dir.is_empty() || p.starts_with(&format!("{dir}/")))
        {
            if let Some(bytes) = repo.index_file(p)? {
                files.insert(p.clone(), bytes);
            }
        }
        Ok(files)
    };
    let mut broken = BTreeSet::new();
    for dir in touched_pack_dirs(touched.iter().copied(), &index_paths, excluded) {
        let Some(check) = check_pack_dir(&dir, &mut read)? else {
            continue;
        };
        problems.extend(check.problems.iter().map(ToString::to_string));
        for t in &check.failed {
            for f in &t.failures {
                problems.push(format!("{}: test {} fails: {f}", t.at, t.name));
            }
        }
        if check.packs == 0 {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            broken.extend(
                touched
                    .iter()
                    .filter(|p| p.ends_with(".tenet") && p.starts_with(&prefix))
                    .map(|p| p.to_string()),
            );
        }
    }
    Ok(broken)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::staged::tests::TestRepo;

    const API: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                properties:\n                  id: {type: string}\n                  total: {type: number}\n";

    const PACK: &str = "tenet 1\npack demo version \"1.0.0\"\n\nrule big {\n  when input.n > 10\n  risk high\n}\n\ntest big-one {\n  input  {n: 50}\n  expect [\"big\"]\n}\n";

    fn judged(t: &TestRepo, opts: &Options) -> Judgement {
        judge(&t.open(), opts).unwrap()
    }

    #[test]
    fn findings_read_file_line_risk_kind_path_and_rationale() {
        let f = Finding {
            file: "api/a.yaml".into(),
            line: Some(12),
            risk: "breaking".into(),
            kind: "field.removed".into(),
            path: "Order.total".into(),
            rationale: "gone".into(),
            fingerprint: "x".into(),
        };
        assert_eq!(
            f.to_string(),
            "api/a.yaml:12: breaking field.removed Order.total — gone"
        );
        let f = Finding { line: None, ..f };
        assert!(f.to_string().starts_with("api/a.yaml: breaking"));
    }

    #[test]
    fn the_fail_on_level_decides_what_blocks() {
        let t = TestRepo::new();
        t.put("api/a.yaml", API);
        t.commit();
        t.put(
            "api/a.yaml",
            API.replace("                  total: {type: number}\n", ""),
        );
        let j = judged(&t, &Options::default());
        assert!(j.blocks());
        assert_eq!(j.findings.len(), 1);
        assert_eq!(j.findings[0].kind, "field.removed");
        assert_eq!(j.highest_risk, "breaking");
        let never = Options {
            fail_on: Some("never".into()),
            ..Options::default()
        };
        let j = judged(&t, &never);
        assert!(!j.blocks());
        assert_eq!(j.judged, 1);
        // A level the taxonomy does not have is an error that lists the
        // levels, never a gate that lets everything through.
        let unknown = Options {
            fail_on: Some("critical".into()),
            ..Options::default()
        };
        let err = judge(&t.open(), &unknown).unwrap_err();
        assert_eq!(
            err,
            "--fail-on: `critical` is not a level of the taxonomy; use one of: breaking, behavioral, additive, cosmetic, never"
        );
    }

    #[test]
    fn nothing_relevant_staged_loads_no_rules_and_passes() {
        let t = TestRepo::new();
        t.put("README.md", "hello");
        t.commit();
        t.put("README.md", "hello again");
        // A --rules folder that does not exist would fail if it were read.
        let opts = Options {
            rules: Some(PathBuf::from("/nonexistent/rules")),
            ..Options::default()
        };
        let j = judged(&t, &opts);
        assert!(!j.blocks());
        assert_eq!((j.staged, j.judged), (1, 0));
    }

    #[test]
    fn a_scorer_script_checks_the_pack_of_its_folder() {
        let t = TestRepo::new();
        let pack = PACK.replace(
            "rule big",
            "scorer s {\n  script \"scorers/s.rhai\"\n}\n\nrule big",
        );
        t.put("rules/demo/demo.tenet", &pack);
        t.put("rules/demo/scorers/s.rhai", "fn score(x) { 1 }\n");
        t.commit();
        t.put("rules/demo/scorers/s.rhai", "fn score(x) { 1 +\n");
        let j = judged(&t, &Options::default());
        assert!(j.blocks(), "{j:?}");
        assert!(
            j.problems
                .iter()
                .any(|p| p.starts_with("rules/demo/demo.tenet:") && p.contains("does not compile")),
            "{j:?}"
        );
    }

    #[test]
    fn excluded_packs_are_not_checked() {
        let t = TestRepo::new();
        t.put("tenet.yaml", "exclude: ['fixtures/**']\n");
        t.put("fixtures/bad/bad.tenet", "not a pack");
        let j = judged(&t, &Options::default());
        assert!(!j.blocks(), "{j:?}");
        t.put("tenet.yaml", "version: 1\n");
        let j = judged(&t, &Options::default());
        assert!(j.blocks(), "{j:?}");
        assert!(
            j.problems[0].starts_with("fixtures/bad/bad.tenet:1:1: error[tenet::syntax]"),
            "{j:?}"
        );
    }

    #[test]
    fn an_artifact_that_does_not_parse_blocks_and_the_rest_is_still_judged() {
        let t = TestRepo::new();
        t.put("api/a.yaml", API);
        t.commit();
        t.put(
            "api/a.yaml",
            API.replace("                  total: {type: number}\n", ""),
        );
        t.put("conf/b.yaml", "a: [1, 2\n");
        let j = judged(&t, &Options::default());
        assert_eq!(j.findings.len(), 1, "{j:?}");
        assert_eq!(j.problems.len(), 1, "{j:?}");
        assert!(j.problems[0].starts_with("conf/b.yaml:"), "{j:?}");
        assert!(
            j.problems[0].contains("cannot read the head version"),
            "{j:?}"
        );
    }

    #[test]
    fn run_writes_the_block_and_the_override_to_the_store() {
        let t = TestRepo::new();
        t.put("api/a.yaml", API);
        t.commit();
        t.put(
            "api/a.yaml",
            API.replace("                  total: {type: number}\n", ""),
        );
        let db = t.dir.path().join("audit.db");
        let mut opts = Options {
            repo: Some(t.dir.path().to_path_buf()),
            store: Some(Location::Sqlite(db.clone())),
            ..Options::default()
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&opts, &mut out, &mut err), 1);
        let err_text = String::from_utf8(err).unwrap();
        assert!(err_text.contains("TENET_JUSTIFICATION="), "{err_text}");
        opts.justification = Some("agreed".into());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&opts, &mut out, &mut err), 0);
        let events = Store::open(&db).unwrap().audit_events(None, 5).unwrap();
        let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(outcomes, ["overridden", "blocked"]);
        assert_eq!(events[0].reason.as_deref(), Some("agreed"));
        assert_eq!(events[0].actor, "unit@example.com");
        // An override that cannot be recorded is refused.
        opts.store = Some(Location::Sqlite(
            t.dir.path().join("api/a.yaml/not-a-dir/db"),
        ));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&opts, &mut out, &mut err), 2);
    }
}
