//! The semantic-diff report (`tenet.report/v1`) and its renderings.
//!
//! [`build`] runs detection and classification over artifact pairs and
//! gives a [`Report`]: every change with its risk, rationale, confidence,
//! location and impacted consumers; counts per level (true totals, even
//! when a threshold hides some changes); the highest risk; the rules
//! fingerprint it was judged with. [`markdown`] renders it for a PR comment,
//! [`release_notes`] for humans, and [`compare`] is diff-on-diff: what
//! changed in risk between two reports.
//!
//! The policy lint ([`build_with`], [`Lint`]): changes the pack's lint rules
//! flag — a loosened guard with no justification beside it — are listed in
//! the report's `lint`, with the block and line. `Justification:` commit
//! trailers (git mode) reach the rules as a `commit_justification` fact on
//! the policy changes of the files their commit touched.

use super::change::{ArtifactType, Change, Direction};
use super::classify::{Classifier, LintHit};
use super::repo::{ArtifactPair, Consumers};
use super::{detect, ArtifactError, Options};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tenet_runtime::ir::{LevelInfo, Taxonomy};

pub const REPORT_SCHEMA: &str = "tenet.report/v1";
pub const COMPARE_SCHEMA: &str = "tenet.report-compare/v1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    pub base: String,
    pub head: String,
    pub rules: RulesInfo,
    /// The highest level present, or `none`.
    pub highest_risk: String,
    /// The taxonomy, highest first.
    pub levels: Vec<String>,
    /// How each level is shown and gated, from the pack (absent from
    /// reports kept before it existed: see [`Report::taxonomy`]).
    #[serde(default, skip_serializing_if = "is_plain")]
    pub taxonomy: Taxonomy,
    /// Changes per level (all of them, including hidden ones).
    pub counts: BTreeMap<String, usize>,
    #[serde(default)]
    pub unclassified: usize,
    /// Changes below `--risk-threshold`, left out of `changes`.
    #[serde(default)]
    pub hidden: usize,
    pub artifacts: Vec<ArtifactSummary>,
    pub changes: Vec<ReportChange>,
    /// Policy-lint findings (absent: none, or the lint was off). Never hidden
    /// by the risk threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lint: Vec<LintFinding>,
}

/// A change the policy lint flags: a guard loosened with no justification
/// beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LintFinding {
    pub artifact: String,
    pub path: String,
    /// Head line (base line for what is gone from the head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The block of the changed pack that was loosened (`action mass-delete`),
    /// else the change's path.
    pub rule: String,
    pub kind: String,
    pub message: String,
    /// The `semantic_diff` rule that flagged it.
    pub check: String,
    /// The fingerprint of the change in `changes`.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RulesInfo {
    pub pack: String,
    pub version: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArtifactSummary {
    pub path: String,
    #[serde(rename = "type")]
    pub ty: ArtifactType,
    /// `added`, `removed` or `modified`.
    pub status: String,
    pub changes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportChange {
    pub artifact: String,
    #[serde(rename = "type")]
    pub ty: ArtifactType,
    pub kind: String,
    pub path: String,
    /// The level, or `unclassified`.
    pub risk: String,
    pub rationale: String,
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_before: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub from: Json,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub to: Json,
    pub consumers: Vec<String>,
    /// Short, stable id of this change (artifact, kind, path, value or name): carries
    /// approvals across commits and pairs changes in `compare`.
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub facts: Map<String, Json>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// An artifact that failed to parse: the whole diff fails with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffError {
    pub artifact: String,
    pub error: ArtifactError,
}

impl std::fmt::Display for DiffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.error.error;
        write!(
            f,
            "{}:{}:{}: cannot read the {} version: {}",
            self.artifact,
            e.line,
            e.col,
            self.error.side.as_str(),
            e.message
        )
    }
}

/// What to build a report from.
pub struct Build<'a> {
    pub base: String,
    pub head: String,
    pub repository: Option<String>,
    pub pairs: Vec<ArtifactPair>,
    pub consumers: &'a Consumers,
    /// Hide changes below this level (by the taxonomy).
    pub threshold: Option<String>,
}

/// What the policy lint is given besides the artifacts.
#[derive(Debug, Clone, Default)]
pub struct Lint {
    /// Leave `lint` empty (the facts are still attached and judged).
    pub off: bool,
    /// `Justification:` trailers of the commits between base and head.
    pub trailers: Vec<Trailer>,
}

/// One `Justification:` trailer of a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Trailer {
    pub commit: String,
    pub text: String,
    /// The files the commit changed: it justifies their policy changes.
    pub paths: Vec<String>,
}

impl Lint {
    /// The trailers that justify changes to `artifact`, once each, in order.
    fn for_artifact(&self, artifact: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.trailers {
            if t.paths.iter().any(|p| p == artifact) && !out.contains(&t.text) {
                out.push(t.text.clone());
            }
        }
        out
    }
}

/// Detects and classifies every pair, with the lint on and no commit
/// trailers. All artifacts are read; every parse error is returned together.
pub fn build(b: Build<'_>, classifier: &Classifier<'_>) -> Result<Report, Vec<DiffError>> {
    build_with(b, &Lint::default(), classifier)
}

/// [`build`], with the policy lint's options and commit trailers.
pub fn build_with(
    b: Build<'_>,
    lint: &Lint,
    classifier: &Classifier<'_>,
) -> Result<Report, Vec<DiffError>> {
    let mut changes = Vec::new();
    let mut findings = Vec::new();
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    for pair in &b.pairs {
        let opts = Options {
            direction: pair.direction,
        };
        let found = match detect(
            pair.ty,
            pair.before.as_deref(),
            pair.after.as_deref(),
            &opts,
        ) {
            Ok(c) => c,
            Err(error) => {
                errors.push(DiffError {
                    artifact: pair.path.clone(),
                    error,
                });
                continue;
            }
        };
        if found.is_empty() {
            continue;
        }
        let status = match (&pair.before, &pair.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "modified",
        };
        artifacts.push(ArtifactSummary {
            path: pair.path.clone(),
            ty: pair.ty,
            status: status.into(),
            changes: found.len(),
        });
        let trailers = match pair.ty {
            ArtifactType::Policy => lint.for_artifact(&pair.path),
            _ => Vec::new(),
        };
        for mut c in found {
            if !trailers.is_empty() {
                c = c.fact("commit_justification", trailers.clone());
            }
            let (change, hit) = judge(&pair.path, pair.ty, c, classifier, b.consumers);
            if let (Some(hit), false) = (hit, lint.off) {
                findings.push(LintFinding {
                    artifact: change.artifact.clone(),
                    path: change.path.clone(),
                    line: change.line,
                    rule: change
                        .facts
                        .get("block")
                        .and_then(Json::as_str)
                        .unwrap_or(&change.path)
                        .to_string(),
                    kind: change.kind.clone(),
                    message: hit.message,
                    check: hit.rule,
                    fingerprint: change.fingerprint.clone(),
                });
            }
            changes.push(change);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let levels: Vec<String> = classifier.levels().to_vec();
    let mut counts: BTreeMap<String, usize> = levels.iter().map(|l| (l.clone(), 0)).collect();
    let mut unclassified = 0;
    for c in &changes {
        match counts.get_mut(&c.risk) {
            Some(n) => *n += 1,
            None => unclassified += 1,
        }
    }
    let highest_risk = levels
        .iter()
        .find(|l| counts.get(*l).copied().unwrap_or(0) > 0)
        .cloned()
        .unwrap_or_else(|| "none".into());
    // Highest risk first; within a level, by artifact then detector order.
    changes.sort_by_key(|c| (classifier.rank(&c.risk), c.artifact.clone()));
    let before = changes.len();
    if let Some(t) = &b.threshold {
        let limit = classifier.rank(t);
        changes.retain(|c| classifier.rank(&c.risk) <= limit || c.risk == "unclassified");
    }
    Ok(Report {
        schema: REPORT_SCHEMA.into(),
        repository: b.repository,
        base: b.base,
        head: b.head,
        rules: RulesInfo {
            pack: super::classify::PACK.into(),
            version: classifier.pack_version().into(),
            fingerprint: classifier.fingerprint.clone(),
        },
        highest_risk,
        levels,
        taxonomy: classifier.taxonomy().clone(),
        counts,
        unclassified,
        hidden: before - changes.len(),
        artifacts,
        changes,
        lint: findings,
    })
}

fn judge(
    artifact: &str,
    ty: ArtifactType,
    c: Change,
    classifier: &Classifier<'_>,
    consumers: &Consumers,
) -> (ReportChange, Option<LintHit>) {
    let v = classifier.judge(ty, &c);
    let mut facts = c.facts.clone();
    let operations: Vec<String> = facts
        .get("operations")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .or_else(|| {
            facts
                .get("operation")
                .and_then(Json::as_str)
                .map(|s| vec![s.to_string()])
        })
        .unwrap_or_default();
    // Every operation that reaches the change, not only the listed ones.
    let operations = if c.all_operations.is_empty() {
        operations
    } else {
        c.all_operations.clone()
    };
    let consumers = consumers.affected(artifact, &c.path, &operations);
    facts.remove("operation");
    let change = ReportChange {
        artifact: artifact.to_string(),
        ty,
        fingerprint: short_hash(&[artifact, &c.kind, &c.path, &identity(&c)]),
        kind: c.kind,
        path: c.path,
        risk: v.risk.unwrap_or_else(|| "unclassified".into()),
        rationale: v.rationale,
        confidence: v.confidence,
        rule: v.rule,
        line: c.line_after.or(c.line_before),
        line_before: c.line_before,
        direction: c.direction,
        from: c.from,
        to: c.to,
        consumers,
        facts,
        errors: v.errors,
    };
    (change, v.lint)
}

/// What tells apart two changes of one kind at one path (two enum values
/// removed, two sentences added): their value or name.
fn identity(c: &Change) -> String {
    let mut parts: Vec<String> = ["value", "name", "keyword"]
        .iter()
        .filter_map(|k| c.facts.get(*k))
        .map(|v| v.to_string())
        .collect();
    // A schema read as a request and as a response changes twice.
    if let Some(d) = c.direction {
        parts.push(d.as_str().to_string());
    }
    parts.join("\u{0}")
}

fn short_hash(parts: &[&str]) -> String {
    let joined = parts.join("\u{0}");
    tenet_runtime::bundle::sha256_hex(joined.as_bytes())[..12].to_string()
}

fn is_plain(t: &Taxonomy) -> bool {
    t.levels.is_empty()
}

impl Report {
    /// The taxonomy with its metadata; plain levels for a report kept
    /// before reports carried it.
    pub fn taxonomy(&self) -> Taxonomy {
        if self.taxonomy.levels.is_empty() {
            Taxonomy::plain(&self.levels)
        } else {
            self.taxonomy.clone()
        }
    }

    /// Whether a change at or above `level` is present (by the taxonomy).
    pub fn has_at_least(&self, level: &str) -> bool {
        let Some(limit) = self.levels.iter().position(|l| l == level) else {
            return false;
        };
        self.levels[..=limit]
            .iter()
            .any(|l| self.counts.get(l).copied().unwrap_or(0) > 0)
    }
}

/// The icon of a level (the pack's), `✅` for none, `❔` for what no
/// level names (unclassified) or a level without one.
fn icon(t: &Taxonomy, level: &str) -> String {
    match t.level(level) {
        Some(LevelInfo { icon: Some(i), .. }) => i.clone(),
        None if level == "none" => "✅".into(),
        _ => "❔".into(),
    }
}

/// The heading of a level's changes: the pack's title, else the name.
fn title(t: &Taxonomy, level: &str) -> String {
    t.level(level)
        .map(|l| l.title.clone())
        .unwrap_or_else(|| capitalise(level))
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Most changes listed in full per level in the summary; the rest are
/// counted ("and N more") and kept in the per-artifact details.
pub const SUMMARY_LIMIT: usize = 25;

/// The Markdown summary for a pull-request comment.
pub fn markdown(r: &Report) -> String {
    let t = r.taxonomy();
    let mut s = String::new();
    let verdict = match r.highest_risk.as_str() {
        "none" if r.unclassified > 0 => format!(
            "{} change(s) no rule classifies: **review needed**",
            r.unclassified
        ),
        "none" => "no changes that matter".to_string(),
        l => format!("highest risk **{l}**"),
    };
    let _ = writeln!(
        s,
        "## {} tenet semantic diff: {verdict}\n",
        icon(&t, &r.highest_risk)
    );
    let _ = writeln!(
        s,
        "{} → {} · rules {} {} ({})\n",
        code(&r.base),
        code(&r.head),
        code(&r.rules.pack),
        r.rules.version,
        code(&r.rules.fingerprint[..r.rules.fingerprint.len().min(12)])
    );
    let _ = writeln!(s, "| risk | changes |\n|---|---:|");
    for l in &r.levels {
        let _ = writeln!(
            s,
            "| {} {l} | {} |",
            icon(&t, l),
            r.counts.get(l).copied().unwrap_or(0)
        );
    }
    if r.unclassified > 0 {
        let _ = writeln!(s, "| ❔ unclassified | {} |", r.unclassified);
    }
    if r.hidden > 0 {
        let _ = writeln!(
            s,
            "\n{} change(s) below the risk threshold are not shown.",
            r.hidden
        );
    }
    lint_markdown(&mut s, &r.lint);
    // The levels the pack lists in full (capped), then the unclassified.
    for l in t
        .levels
        .iter()
        .filter(|l| l.listed)
        .map(|l| &l.name)
        .chain(std::iter::once(&"unclassified".to_string()))
    {
        let of: Vec<&ReportChange> = r.changes.iter().filter(|c| &c.risk == l).collect();
        if of.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n### {} {}\n", icon(&t, l), title(&t, l));
        for c in of.iter().take(SUMMARY_LIMIT) {
            let _ = write!(
                s,
                "- {} {} — {}",
                code(&location(c)),
                code(&c.path),
                c.rationale
            );
            if !c.consumers.is_empty() {
                let _ = write!(s, " · affects {}", c.consumers.join(", "));
            }
            let _ = writeln!(s);
        }
        if of.len() > SUMMARY_LIMIT {
            let _ = writeln!(
                s,
                "- … and {} more (see the details below)",
                of.len() - SUMMARY_LIMIT
            );
        }
    }
    if !r.artifacts.is_empty() {
        let _ = writeln!(s, "\n### Details per artifact\n");
    }
    for a in &r.artifacts {
        let of: Vec<&ReportChange> = r.changes.iter().filter(|c| c.artifact == a.path).collect();
        if of.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "<details><summary><code>{}</code> ({}, {}): {} change(s)</summary>\n",
            a.path,
            a.ty,
            a.status,
            of.len()
        );
        let _ = writeln!(
            s,
            "| risk | kind | path | line | why | confidence |\n|---|---|---|---:|---|---:|"
        );
        for c in of {
            let _ = writeln!(
                s,
                "| {} {} | {} | {} | {} | {} | {:.2} |",
                icon(&t, &c.risk),
                c.risk,
                code(&c.kind),
                code(&cell(&c.path)),
                c.line.map(|l| l.to_string()).unwrap_or_default(),
                cell(&c.rationale),
                c.confidence
            );
        }
        let _ = writeln!(s, "\n</details>");
    }
    cap_markdown(s)
}

/// GitHub refuses comments over 65,536 characters; the summary stays
/// under [`MARKDOWN_LIMIT`], cutting whole per-artifact details from the end
/// and saying so.
pub const MARKDOWN_LIMIT: usize = 60_000;

fn cap_markdown(s: String) -> String {
    if s.len() <= MARKDOWN_LIMIT {
        return s;
    }
    let note = "\n_The details are cut here to fit a pull-request comment; the full report is in `--format json`._\n";
    let budget = MARKDOWN_LIMIT - note.len();
    let cut = s[..budget]
        .rfind("</details>\n")
        .map(|i| i + "</details>\n".len())
        .unwrap_or_else(|| {
            let mut i = budget;
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s[..i].rfind('\n').map_or(i, |j| j + 1)
        });
    format!("{}{}", &s[..cut], note)
}

/// The policy-lint section: every finding with its block and line (capped).
fn lint_markdown(s: &mut String, lint: &[LintFinding]) {
    if lint.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### 🔎 Policy lint: {} loosened guard(s) without a justification\n",
        lint.len()
    );
    for f in lint.iter().take(SUMMARY_LIMIT) {
        let at = match f.line {
            Some(l) => format!("{}:{l}", f.artifact),
            None => f.artifact.clone(),
        };
        let _ = writeln!(
            s,
            "- {} {} — {} ({})",
            code(&at),
            code(&f.rule),
            f.message,
            code(&f.check)
        );
    }
    if lint.len() > SUMMARY_LIMIT {
        let _ = writeln!(s, "- … and {} more", lint.len() - SUMMARY_LIMIT);
    }
    let _ = writeln!(
        s,
        "\nJustify a loosening with a `justification \"...\"` in the block (or the block it is in), or a `Justification:` trailer on the commit."
    );
}

fn location(c: &ReportChange) -> String {
    match c.line {
        Some(l) => format!("{}:{l}", c.artifact),
        None => c.artifact.clone(),
    }
}

fn capitalise(s: &str) -> String {
    let mut ch = s.chars();
    match ch.next() {
        Some(f) => f.to_uppercase().chain(ch).collect(),
        None => String::new(),
    }
}

/// Release notes: changes grouped for humans, highest risk first.
pub fn release_notes(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Changes from {} to {}\n", r.base, r.head);
    if r.changes.is_empty() {
        let _ = writeln!(s, "No changes that matter.");
        return s;
    }
    let t = r.taxonomy();
    for l in r
        .levels
        .iter()
        .chain(std::iter::once(&"unclassified".to_string()))
    {
        let of: Vec<&ReportChange> = r.changes.iter().filter(|c| &c.risk == l).collect();
        if of.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {}\n", title(&t, l));
        let mut by_type: BTreeMap<String, Vec<&ReportChange>> = BTreeMap::new();
        for c in of {
            by_type.entry(c.ty.to_string()).or_default().push(c);
        }
        for (ty, cs) in by_type {
            let _ = writeln!(s, "**{ty}**\n");
            for c in cs {
                let _ = writeln!(s, "- {} ({}): {}", code(&c.path), c.artifact, c.rationale);
            }
            let _ = writeln!(s);
        }
    }
    s
}

/// Diff-on-diff: how the risk picture moved from report `a` to report `b`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub schema: &'static str,
    pub from: CompareSide,
    pub to: CompareSide,
    /// In `b`, not in `a`.
    pub new: Vec<ReportChange>,
    /// In `a`, gone from `b`.
    pub resolved: Vec<ReportChange>,
    /// In both, with a different risk.
    pub risk_changed: Vec<RiskMove>,
    pub unchanged: usize,
    /// The newer report's taxonomy, for rendering.
    #[serde(skip)]
    pub taxonomy: Taxonomy,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompareSide {
    pub base: String,
    pub head: String,
    pub highest_risk: String,
    pub counts: BTreeMap<String, usize>,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RiskMove {
    pub artifact: String,
    pub kind: String,
    pub path: String,
    pub from: String,
    pub to: String,
    pub rationale: String,
}

pub fn compare(a: &Report, b: &Report) -> Comparison {
    let side = |r: &Report| CompareSide {
        base: r.base.clone(),
        head: r.head.clone(),
        highest_risk: r.highest_risk.clone(),
        counts: r.counts.clone(),
        fingerprint: r.rules.fingerprint.clone(),
    };
    let key = |c: &ReportChange| c.fingerprint.clone();
    let in_a: BTreeMap<String, &ReportChange> = a.changes.iter().map(|c| (key(c), c)).collect();
    let in_b: BTreeMap<String, &ReportChange> = b.changes.iter().map(|c| (key(c), c)).collect();
    let mut cmp = Comparison {
        schema: COMPARE_SCHEMA,
        from: side(a),
        to: side(b),
        new: vec![],
        resolved: vec![],
        risk_changed: vec![],
        unchanged: 0,
        taxonomy: b.taxonomy(),
    };
    for c in &b.changes {
        match in_a.get(&key(c)) {
            None => cmp.new.push(c.clone()),
            Some(old) if old.risk != c.risk => cmp.risk_changed.push(RiskMove {
                artifact: c.artifact.clone(),
                kind: c.kind.clone(),
                path: c.path.clone(),
                from: old.risk.clone(),
                to: c.risk.clone(),
                rationale: c.rationale.clone(),
            }),
            Some(_) => cmp.unchanged += 1,
        }
    }
    cmp.resolved = a
        .changes
        .iter()
        .filter(|c| !in_b.contains_key(&key(c)))
        .cloned()
        .collect();
    cmp
}

/// The Markdown of a comparison.
pub fn compare_markdown(c: &Comparison) -> String {
    let t = &c.taxonomy;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Risk since {}..{}\n\nhighest risk: {} {} → {} {}\n",
        c.from.base,
        c.from.head,
        icon(t, &c.from.highest_risk),
        c.from.highest_risk,
        icon(t, &c.to.highest_risk),
        c.to.highest_risk
    );
    let list = |s: &mut String, title: &str, cs: &[ReportChange]| {
        if cs.is_empty() {
            return;
        }
        let _ = writeln!(s, "### {title} ({})\n", cs.len());
        for x in cs {
            let _ = writeln!(
                s,
                "- {} {} {}: {}",
                icon(t, &x.risk),
                code(&x.artifact),
                code(&x.path),
                x.rationale
            );
        }
        let _ = writeln!(s);
    };
    list(&mut s, "New", &c.new);
    list(&mut s, "Resolved", &c.resolved);
    if !c.risk_changed.is_empty() {
        let _ = writeln!(s, "### Risk changed ({})\n", c.risk_changed.len());
        for m in &c.risk_changed {
            let _ = writeln!(
                s,
                "- {} {}: {} → {}",
                code(&m.artifact),
                code(&m.path),
                m.from,
                m.to
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "{} change(s) unchanged.", c.unchanged);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_capped_at_whole_details_for_pr_comments() {
        let block = format!(
            "<details><summary>x</summary>\n\n{}\n</details>\n",
            "row\n".repeat(500)
        );
        let long = block.repeat(60);
        assert!(long.len() > MARKDOWN_LIMIT);
        let capped = cap_markdown(long);
        assert!(capped.len() <= MARKDOWN_LIMIT, "{}", capped.len());
        assert!(
            capped.contains("</details>\n\n_The details are cut here"),
            "cut after a whole block"
        );
        assert_eq!(
            capped.matches("<details>").count(),
            capped.matches("</details>").count()
        );
        let short = "## ok\n".to_string();
        assert_eq!(cap_markdown(short.clone()), short);
    }

    #[test]
    fn request_and_response_twins_have_their_own_fingerprints() {
        let req = Change::new("type.narrowed", "Order.id").dir(Some(Direction::Request));
        let resp = Change::new("type.narrowed", "Order.id").dir(Some(Direction::Response));
        assert_ne!(identity(&req), identity(&resp));
        let a = Change::new("enum.value_removed", "S").fact("value", "A");
        let b = Change::new("enum.value_removed", "S").fact("value", "B");
        assert_ne!(identity(&a), identity(&b));
    }
}
