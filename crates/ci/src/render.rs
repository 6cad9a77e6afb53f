//! What the gate shows: the PR comment, the job summary, the annotations
//! and the one-line verdict.

use crate::annotate::{Annotation, Level};
use crate::gate::{FailOn, Outcome, PackCheck};
use std::fmt::Write as _;
use tenet_diff::report;

/// The hidden first line of tenet's PR comment: how the next run finds it.
pub const MARKER: &str = "<!-- tenet:semantic-diff -->";

/// GitHub refuses comment bodies over 65,536 characters; keep clear of it.
pub const COMMENT_LIMIT: usize = 60_000;

/// The hidden record of what the comment found (`none` when nothing risky).
fn risk_marker(risk: &str) -> String {
    format!("<!-- tenet:risk={risk} -->")
}

/// The risk a previous comment recorded.
pub fn previous_risk(body: &str) -> Option<String> {
    let start = body.find("<!-- tenet:risk=")? + "<!-- tenet:risk=".len();
    let end = body[start..].find(" -->")? + start;
    Some(body[start..end].to_string())
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// What a risk marker names, in words: a level's changes, or one of the
/// gate's own findings.
fn what(risk: &str) -> String {
    match risk {
        "lint" => "policy-lint findings".into(),
        "packs" => "rule-pack problems".into(),
        level => format!("{level} changes"),
    }
}

/// The gate's line: passes, fails (and why), or nothing risky.
pub fn gate_line(o: &Outcome, previous: Option<&str>) -> String {
    let reasons = o.reasons();
    let flag = format!("`--fail-on {}`", o.gate.fail_on.as_str());
    if !reasons.is_empty() {
        return format!("**❌ tenet gate fails** ({flag}): {}.", reasons.join("; "));
    }
    let risk = o.risk();
    if risk == "none" {
        let flagged: Vec<String> = o
            .report
            .taxonomy()
            .levels
            .iter()
            .filter(|l| l.annotation != "none")
            .map(|l| l.name.clone())
            .collect();
        let flagged = if flagged.is_empty() {
            "risky".to_string()
        } else {
            flagged.join(" or ")
        };
        let mut s = format!(
            "**✅ Nothing risky in this pull request** as of `{}`: no {flagged} changes, no policy-lint findings, and every rule pack it touches checks and passes its tests.",
            short(&o.report.head),
        );
        if let Some(p) = previous.filter(|p| *p != "none") {
            let _ = write!(s, " The previous run found {}; they are gone.", what(p));
        }
        return s;
    }
    let note = match &o.gate.fail_on {
        FailOn::Never => "no level fails".to_string(),
        FailOn::Level(l) => format!("nothing at or above {l}"),
    };
    format!(
        "**✅ tenet gate passes** ({flag}: {note}); review the {} below.",
        what(&risk)
    )
}

/// The rule-pack section (empty when the change touches no pack).
pub fn packs_markdown(packs: &[PackCheck]) -> String {
    let mut s = String::new();
    if packs.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "\n### 📦 Rule packs this change touches\n\n| directory | `tenet check` | `tenet test` |\n|---|---|---|"
    );
    for p in packs {
        let check = if p.problems.is_empty() {
            format!("✅ {} pack(s)", p.packs)
        } else {
            format!("❌ {} problem(s)", p.problems.len())
        };
        let test = if !p.problems.is_empty() {
            "—".to_string()
        } else if p.failed.is_empty() {
            format!("✅ {} passed", p.passed)
        } else {
            format!("❌ {} failed, {} passed", p.failed.len(), p.passed)
        };
        let _ = writeln!(s, "| `{}` | {check} | {test} |", p.shown());
    }
    for p in packs.iter().filter(|p| !p.ok()) {
        let _ = writeln!(
            s,
            "\n<details><summary><code>{}</code>: what fails</summary>\n\n```",
            p.shown()
        );
        for pr in &p.problems {
            let at = match (&pr.file, pr.line, pr.col) {
                (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: "),
                (Some(f), Some(l), None) => format!("{f}:{l}: "),
                (Some(f), None, _) => format!("{f}: "),
                _ => String::new(),
            };
            let _ = writeln!(s, "{at}{}", pr.message.replace("```", "'''"));
        }
        for t in &p.failed {
            let _ = writeln!(s, "FAIL {} ({})", t.name, t.at);
            for f in &t.failures {
                let _ = writeln!(s, "    {}", f.replace("```", "'''"));
            }
        }
        let _ = writeln!(s, "```\n\n</details>");
    }
    s
}

fn rerun(o: &Outcome) -> String {
    format!(
        "`tenet diff --base {} --head {} --format md`",
        short(&o.report.base),
        short(&o.report.head)
    )
}

/// The job summary: the gate's line, the report, the packs.
pub fn summary(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}\n", gate_line(o, None));
    s.push_str(&report::markdown(&o.report));
    s.push_str(&packs_markdown(&o.packs));
    s
}

/// The PR comment. `previous`: the body it replaces, if any.
pub fn comment(o: &Outcome, previous: Option<&str>) -> String {
    let prev = previous.and_then(previous_risk);
    let mut s = String::new();
    let _ = writeln!(s, "{MARKER}\n{}", risk_marker(&o.risk()));
    let _ = writeln!(s, "> {}\n", gate_line(o, prev.as_deref()));
    s.push_str(&report::markdown(&o.report));
    s.push_str(&packs_markdown(&o.packs));
    let note = format!(
        "the whole report is in the job summary, or run {}",
        rerun(o)
    );
    let mut s = crate::summary::cap(&s, COMMENT_LIMIT, &note);
    let _ = write!(
        s,
        "\n<sub>Posted by <code>tenet ci</code> and updated in place on every push. Locally: {}</sub>\n",
        rerun(o)
    );
    s
}

/// The annotations, most serious first (capping is [`crate::annotate::render`]'s).
pub fn annotations(o: &Outcome) -> Vec<Annotation> {
    let mut out = Vec::new();
    let removed: Vec<&str> = o
        .report
        .artifacts
        .iter()
        .filter(|a| a.status == "removed")
        .map(|a| a.path.as_str())
        .collect();
    let taxonomy = o.report.taxonomy();
    for c in &o.report.changes {
        // The pack says how each level is annotated; a change no rule
        // classifies is an error.
        let level = match taxonomy.level(&c.risk).map(|l| l.annotation.as_str()) {
            None | Some("error") => Level::Error,
            Some("warning") => Level::Warning,
            Some("notice") => Level::Notice,
            Some(_) => continue,
        };
        let mut message = format!("{} — {}", c.path, c.rationale);
        if !c.consumers.is_empty() {
            let _ = write!(message, " · affects {}", c.consumers.join(", "));
        }
        out.push(Annotation {
            level,
            file: Some(c.artifact.clone()),
            // A removed file has no head line to point at.
            line: c.line.filter(|_| !removed.contains(&c.artifact.as_str())),
            col: None,
            title: format!("{}: {}", c.risk, c.kind),
            message,
        });
    }
    let lint_fails = o.gate.fail_on_lint;
    for f in &o.report.lint {
        out.push(Annotation {
            level: if lint_fails {
                Level::Error
            } else {
                Level::Warning
            },
            file: Some(f.artifact.clone()),
            line: f.line,
            col: None,
            title: format!("policy lint: {}", f.check),
            message: format!(
                "{} — {} (justify it in the block, or with a `Justification:` commit trailer)",
                f.rule, f.message
            ),
        });
    }
    for p in &o.packs {
        for pr in &p.problems {
            out.push(Annotation {
                level: Level::Error,
                file: pr.file.clone(),
                line: pr.line,
                col: pr.col,
                title: "tenet check".into(),
                message: pr.message.clone(),
            });
        }
        for t in &p.failed {
            let place = crate::annotate::split_location(&t.at);
            out.push(Annotation {
                level: Level::Error,
                file: place.as_ref().map(|p| p.0.clone()),
                line: place.as_ref().map(|p| p.1),
                col: place.as_ref().and_then(|p| p.2),
                title: format!("tenet test: {}", t.name),
                message: t.failures.join("\n"),
            });
        }
    }
    out.sort_by_key(|a| a.level);
    out
}

/// The last line printed: the verdict.
pub fn verdict(o: &Outcome) -> String {
    let reasons = o.reasons();
    let flag = format!("--fail-on {}", o.gate.fail_on.as_str());
    if reasons.is_empty() {
        format!(
            "tenet ci: the gate passes ({flag}); highest risk: {}",
            o.report.highest_risk
        )
    } else {
        format!("tenet ci: the gate fails ({flag}): {}", reasons.join("; "))
    }
}
