//! Semantic diff, data-driven.
//!
//! - `fixtures/semantic-diff/<type>/<case>/`: `base.<ext>`, `head.<ext>` and an
//!   optional `expect.yaml`;
//! - `fixtures/semantic-diff/cosmetic/<type>/<case>/`: edits that change nothing but
//!   the text (comments, whitespace, key order, quoting): the report's highest
//!   risk must be `cosmetic` or `none`;
//! - `fixtures/semantic-diff/parse-error/<type>/<case>/`: a broken `head.<ext>`; the
//!   diff fails on the head side at the line `expect.yaml` names.
//!
//! A case with only `head.<ext>` is an artifact added (its base side is
//! `None`), one with only `base.<ext>` an artifact removed (its head side is
//! `None`).
//!
//! Every case is one artifact pair whose type is detected from the head
//! file's name and text (the base file's when there is no head): it must be
//! the `<type>` folder it lives in (a wrong detection fails the case; the
//! pair is still diffed as the folder's type, so the rest of it is checked).
//! It is judged by the bundled `semantic_diff` rules. The report JSON is
//! snapshotted (`snapshots/diff/<type>__<case>.snap`,
//! `cosmetic__<type>__<case>.snap`).
//!
//! `expect.yaml` (all keys optional):
//!
//! ```yaml
//! direction: response        # pair direction (plain JSON Schemas)
//! highest_risk: breaking     # the report's highest risk
//! changes:                   # must appear (subset match: fields given only)
//!   - {kind: field.removed, path: Order.total, risk: breaking, rule: field-removed, line: 12,
//!      facts: {operations: ["GET /orders"]}}   # facts: equal, arrays: contained
//! absent:                    # must not appear (fields given only)
//!   - {kind: operation.removed}
//! error: {side: head, line: 7}   # parse-error cases
//! ```

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use tenet_diff::classify::Classifier;
use tenet_diff::kind;
use tenet_diff::repo::{ArtifactPair, Consumers};
use tenet_diff::report::{self, Build, DiffError, Report, ReportChange};
use tenet_diff::{ArtifactType, Direction, Side};
use tenet_runtime::load::{load_bundled, Rules};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    direction: Option<String>,
    highest_risk: Option<String>,
    #[serde(default)]
    changes: Vec<Want>,
    #[serde(default)]
    absent: Vec<Want>,
    error: Option<WantError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Want {
    kind: Option<String>,
    path: Option<String>,
    risk: Option<String>,
    rule: Option<String>,
    line: Option<u32>,
    /// Facts the change must carry (each key equal; arrays: contain these).
    #[serde(default)]
    facts: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WantError {
    side: String,
    line: u32,
}

impl Want {
    fn matches(&self, c: &ReportChange) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == c.kind)
            && self.path.as_ref().is_none_or(|p| *p == c.path)
            && self.risk.as_ref().is_none_or(|r| *r == c.risk)
            && self
                .rule
                .as_ref()
                .is_none_or(|r| Some(r) == c.rule.as_ref())
            && self.line.is_none_or(|l| Some(l) == c.line)
            && self
                .facts
                .iter()
                .all(|(k, want)| match (want, c.facts.get(k)) {
                    (serde_json::Value::Array(w), Some(serde_json::Value::Array(got))) => {
                        w.iter().all(|x| got.contains(x))
                    }
                    (w, got) => Some(w) == got,
                })
    }

    fn show(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("kind", &self.kind),
            ("path", &self.path),
            ("risk", &self.risk),
            ("rule", &self.rule),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}: {v}"));
            }
        }
        if let Some(l) = self.line {
            parts.push(format!("line: {l}"));
        }
        if !self.facts.is_empty() {
            parts.push(format!(
                "facts: {}",
                serde_json::Value::Object(self.facts.clone())
            ));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// One fixture folder.
struct Case {
    /// `<type>__<case>` or `cosmetic__<type>__<case>`.
    name: String,
    /// The `<type>` folder.
    ty: String,
    dir: PathBuf,
    cosmetic: bool,
}

impl Case {
    /// The case's `<stem>.<ext>`, if it has one.
    fn file(&self, stem: &str) -> Option<PathBuf> {
        let found: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_stem().is_some_and(|s| s == stem) && p.extension().is_some())
            .collect();
        assert!(
            found.len() <= 1,
            "{}: expected at most one `{stem}.<ext>`, found {found:?}",
            self.name
        );
        found.into_iter().next()
    }

    /// The file the type is detected from and the report names: `head.<ext>`,
    /// or `base.<ext>` when the artifact is removed.
    fn shown(&self) -> PathBuf {
        self.file("head")
            .or_else(|| self.file("base"))
            .unwrap_or_else(|| panic!("{}: neither `base.<ext>` nor `head.<ext>`", self.name))
    }

    fn expect(&self) -> Expect {
        let p = self.dir.join("expect.yaml");
        match std::fs::read_to_string(&p) {
            Ok(text) => serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: bad expect.yaml: {e}", self.name)),
            Err(_) => Expect::default(),
        }
    }

    /// The artifact path shown in the report.
    fn artifact(&self, shown: &Path) -> String {
        let file = shown.file_name().unwrap().to_string_lossy();
        let case = self.dir.file_name().unwrap().to_string_lossy();
        format!("{}/{case}/{file}", self.ty)
    }
}

fn subdirs(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn fixtures() -> PathBuf {
    root().join("fixtures/semantic-diff")
}

/// Every case folder: `<type>/<case>` and `cosmetic/<type>/<case>`.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for tdir in subdirs(&fixtures()) {
        let t = name_of(&tdir);
        match t.as_str() {
            "parse-error" => {}
            "cosmetic" => {
                for ctdir in subdirs(&tdir) {
                    let ct = name_of(&ctdir);
                    for cdir in subdirs(&ctdir) {
                        out.push(Case {
                            name: format!("cosmetic__{ct}__{}", name_of(&cdir)),
                            ty: ct.clone(),
                            dir: cdir,
                            cosmetic: true,
                        });
                    }
                }
            }
            _ => {
                for cdir in subdirs(&tdir) {
                    out.push(Case {
                        name: format!("{t}__{}", name_of(&cdir)),
                        ty: t.clone(),
                        dir: cdir,
                        cosmetic: false,
                    });
                }
            }
        }
    }
    out
}

fn rules() -> Rules {
    load_bundled().unwrap_or_else(|e| panic!("the bundled rules do not load: {e:?}"))
}

fn direction(e: &Expect) -> Option<Direction> {
    e.direction.as_deref().map(|d| match d {
        "request" => Direction::Request,
        "response" => Direction::Response,
        other => panic!("bad direction `{other}` in expect.yaml"),
    })
}

/// The pair of a case, its type detected from the head file; a side
/// without its file is `None` (the artifact is added or removed).
fn pair(case: &Case, ty: ArtifactType, e: &Expect) -> ArtifactPair {
    let read = |stem: &str| case.file(stem).map(|p| std::fs::read_to_string(p).unwrap());
    ArtifactPair {
        path: case.artifact(&case.shown()),
        ty,
        direction: direction(e),
        before: read("base"),
        after: read("head"),
    }
}

fn build(p: ArtifactPair, classifier: &Classifier<'_>) -> Result<Report, Vec<DiffError>> {
    let consumers = Consumers::default();
    let b = Build {
        base: "base".into(),
        head: "head".into(),
        repository: None,
        pairs: vec![p],
        consumers: &consumers,
        threshold: None,
    };
    report::build(b, classifier)
}

/// The case's type detected from its head file (its base file when it
/// has no head), or why it is not the `<type>` folder's.
fn detected(case: &Case) -> Result<ArtifactType, String> {
    let head = case.shown();
    let text = std::fs::read_to_string(&head).unwrap();
    match kind::detect(&head.to_string_lossy(), &text) {
        Some(ty) if ty.as_str() == case.ty => Ok(ty),
        Some(ty) => Err(format!(
            "{}: detected as {ty}, but the fixture is under `{}`",
            case.name, case.ty
        )),
        None => Err(format!(
            "{}: `{}` is not detected as an artifact",
            case.name,
            head.display()
        )),
    }
}

/// The report of a case, read as the `<type>` folder's type (a wrong
/// detection is reported by [`detected`], and the rest is still checked).
fn report_of(case: &Case, classifier: &Classifier<'_>) -> Result<Report, String> {
    let ty = ArtifactType::parse(&case.ty)
        .unwrap_or_else(|| panic!("unknown type folder `{}`", case.ty));
    let e = case.expect();
    build(pair(case, ty, &e), classifier).map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        format!("{}: the diff failed: {}", case.name, msgs.join("; "))
    })
}

fn listing(r: &Report) -> String {
    r.changes
        .iter()
        .map(|c| {
            format!(
                "    {} {} {} ({}) line {:?}",
                c.risk,
                c.kind,
                c.path,
                c.rule.as_deref().unwrap_or("-"),
                c.line
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What is wrong with a report against its case's expectations.
fn check(case: &Case, r: &Report, e: &Expect) -> Vec<String> {
    let mut bad = Vec::new();
    if case.cosmetic && !matches!(r.highest_risk.as_str(), "cosmetic" | "none") {
        bad.push(format!("cosmetic edit judged `{}`", r.highest_risk));
    }
    if let Some(h) = &e.highest_risk {
        if *h != r.highest_risk {
            bad.push(format!(
                "highest_risk is `{}`, expected `{h}`",
                r.highest_risk
            ));
        }
    }
    for w in &e.changes {
        if !r.changes.iter().any(|c| w.matches(c)) {
            bad.push(format!("missing change {}", w.show()));
        }
    }
    for w in &e.absent {
        if let Some(c) = r.changes.iter().find(|c| w.matches(c)) {
            bad.push(format!(
                "unexpected change {} ({} {})",
                w.show(),
                c.kind,
                c.path
            ));
        }
    }
    if r.unclassified > 0 {
        bad.push(format!("{} unclassified change(s)", r.unclassified));
    }
    bad
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn diff_fixtures_match_expectations_and_snapshots() {
    let rules = rules();
    let classifier = Classifier::new(&rules).unwrap();
    let all = cases();
    assert!(
        all.iter().filter(|c| !c.cosmetic).count() >= 21,
        "expected at least 3 cases per artifact type"
    );
    for t in ArtifactType::ALL {
        let n = all
            .iter()
            .filter(|c| !c.cosmetic && c.ty == t.as_str())
            .count();
        assert!(n >= 3, "only {n} case(s) for {t}");
        let n = all
            .iter()
            .filter(|c| c.cosmetic && c.ty == t.as_str())
            .count();
        assert!(n >= 4, "only {n} cosmetic case(s) for {t}");
    }
    let mut failures = Vec::new();
    for case in &all {
        if let Err(e) = detected(case) {
            failures.push(e);
        }
        let r = match report_of(case, &classifier) {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let json = serde_json::to_string_pretty(&r).unwrap();
        // The same inputs give the same report.
        let again = serde_json::to_string_pretty(&report_of(case, &classifier).unwrap()).unwrap();
        if json != again {
            failures.push(format!("{}: two runs give different reports", case.name));
        }
        let bad = check(case, &r, &case.expect());
        if !bad.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n  report:\n{}",
                case.name,
                bad.join("\n  "),
                listing(&r)
            ));
        }
        // The rules fingerprint changes with every edit under rules/; the
        // snapshot shows the verdicts, not which rule files gave them.
        let mut shown = r.clone();
        shown.rules.fingerprint = "[fingerprint]".into();
        let shown = serde_json::to_string_pretty(&shown).unwrap();
        let snap = catch_unwind(AssertUnwindSafe(|| {
            snapshot_settings("diff").bind(|| insta::assert_snapshot!(case.name.clone(), shown));
        }));
        if let Err(p) = snap {
            failures.push(format!(
                "{}: snapshot differs {}",
                case.name,
                panic_text(&*p)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reported_kind_is_classified() {
    let rules = rules();
    let classifier = Classifier::new(&rules).unwrap();
    let mut bad = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases() {
        let Ok(r) = report_of(&case, &classifier) else {
            continue;
        };
        for c in &r.changes {
            kinds.insert(c.kind.clone());
            if c.risk == "unclassified"
                || c.rule.is_none()
                || c.rule.as_deref() == Some("unknown-kind")
            {
                bad.push(format!(
                    "{}: `{}` at {} is {} (rule {:?})",
                    case.name, c.kind, c.path, c.risk, c.rule
                ));
            }
            if !c.errors.is_empty() {
                bad.push(format!(
                    "{}: `{}` at {}: rule errors {:?}",
                    case.name, c.kind, c.path, c.errors
                ));
            }
        }
    }
    assert!(
        kinds.len() >= 20,
        "the fixtures exercise only {} kinds: {kinds:?}",
        kinds.len()
    );
    assert!(
        bad.is_empty(),
        "{} change(s) not classified by a known rule:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn broken_head_files_fail_with_their_line() {
    let rules = rules();
    let classifier = Classifier::new(&rules).unwrap();
    let dir = fixtures().join("parse-error");
    let mut seen = std::collections::BTreeSet::new();
    let mut bad = Vec::new();
    for tdir in subdirs(&dir) {
        let t = name_of(&tdir);
        // A text that does not parse cannot tell its type: it is the folder's.
        let ty = ArtifactType::parse(&t).unwrap_or_else(|| panic!("unknown type folder `{t}`"));
        for cdir in subdirs(&tdir) {
            let case = Case {
                name: format!("parse-error__{t}__{}", name_of(&cdir)),
                ty: t.clone(),
                dir: cdir,
                cosmetic: false,
            };
            let e = case.expect();
            let want = e.error.as_ref().unwrap_or_else(|| {
                panic!("{}: expect.yaml needs `error: {{side, line}}`", case.name)
            });
            seen.insert(ty);
            match build(pair(&case, ty, &e), &classifier) {
                Ok(r) => bad.push(format!("{}: no error, report:\n{}", case.name, listing(&r))),
                Err(errs) => {
                    let [err] = errs.as_slice() else {
                        bad.push(format!("{}: expected one error, got {errs:?}", case.name));
                        continue;
                    };
                    let side = match err.error.side {
                        Side::Base => "base",
                        Side::Head => "head",
                    };
                    let rendered = err.to_string();
                    if side != want.side || err.error.error.line != want.line {
                        bad.push(format!(
                            "{}: error on {side} line {}, expected {} line {}: {rendered}",
                            case.name, err.error.error.line, want.side, want.line
                        ));
                    }
                    if !rendered.starts_with(&format!("{}:{}:", err.artifact, want.line))
                        || err.error.error.message.is_empty()
                    {
                        bad.push(format!("{}: badly rendered: {rendered}", case.name));
                    }
                }
            }
        }
    }
    for t in ArtifactType::ALL {
        if !seen.contains(&t) {
            bad.push(format!("no parse-error case for {t}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A fingerprint names one change: `compare` and approvals pair changes by
/// it, so two changes of one report must not share it.
#[test]
fn fingerprints_are_unique_within_a_report() {
    let rules = rules();
    let classifier = Classifier::new(&rules).unwrap();
    let mut bad = Vec::new();
    for case in cases() {
        let Ok(r) = report_of(&case, &classifier) else {
            continue;
        };
        let mut seen: std::collections::BTreeMap<&str, &ReportChange> =
            std::collections::BTreeMap::new();
        for c in &r.changes {
            if let Some(first) = seen.insert(&c.fingerprint, c) {
                bad.push(format!(
                    "{}: `{} {}` and `{} {}` share fingerprint {}",
                    case.name, first.kind, first.path, c.kind, c.path, c.fingerprint
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// insta settings writing to `snapshots/<area>` at the repository root.
fn snapshot_settings(area: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots").join(area));
    s.set_prepend_module_to_snapshot(false);
    s
}
