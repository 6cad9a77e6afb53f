//! GitHub workflow-command annotations: `::error file=…,line=…,title=…::…`.
//!
//! Breaking and unclassified changes are errors, behavioral ones warnings;
//! policy-lint findings are errors when they fail the gate, else warnings;
//! rule-pack problems and failing rule tests are errors. GitHub shows at
//! most 10 annotations of each level per step (50 per job), so each level
//! is capped at [`PER_LEVEL`] and the rest are counted in one notice.
//!
//! Escaping follows the runner's toolkit (`@actions/core`): in the message,
//! `%`, CR and LF; in properties also `:` and `,`.

use std::fmt::Write as _;

/// What GitHub shows of one level in one step.
pub const PER_LEVEL: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    pub fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One annotation, before escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub title: String,
    pub message: String,
}

/// Escapes the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`...).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl Annotation {
    /// The workflow command line.
    pub fn command(&self) -> String {
        let mut props = Vec::new();
        if let Some(f) = &self.file {
            props.push(format!("file={}", escape_property(f)));
            if let Some(l) = self.line {
                props.push(format!("line={l}"));
                if let Some(c) = self.col {
                    props.push(format!("col={c}"));
                }
            }
        }
        if !self.title.is_empty() {
            props.push(format!("title={}", escape_property(&self.title)));
        }
        let mut s = format!("::{}", self.level.command());
        if !props.is_empty() {
            let _ = write!(s, " {}", props.join(","));
        }
        let _ = write!(s, "::{}", escape_data(&self.message));
        s
    }
}

/// The command lines for `annotations`, at most `cap` per level, in order,
/// then one notice per level that was cut: "N more …".
pub fn render(annotations: &[Annotation], cap: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut shown = [0usize; 3];
    let mut cut = [0usize; 3];
    for a in annotations {
        let i = a.level as usize;
        if shown[i] < cap {
            shown[i] += 1;
            out.push(a.command());
        } else {
            cut[i] += 1;
        }
    }
    for (i, n) in cut.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let what = match i {
            0 => "error",
            1 => "warning",
            _ => "notice",
        };
        out.push(
            Annotation {
                level: Level::Notice,
                file: None,
                line: None,
                col: None,
                title: "tenet".into(),
                message: format!(
                    "{n} more {what}(s) not annotated (GitHub shows {cap} per level in a step); every finding is in the job summary and the PR comment"
                ),
            }
            .command(),
        );
    }
    out
}

/// `path:line:col` (as the loader prints it) → its parts; `None` when it has
/// no line.
pub fn split_location(at: &str) -> Option<(String, u32, Option<u32>)> {
    let mut parts = at.rsplitn(3, ':');
    let last = parts.next()?;
    let mid = parts.next()?;
    match parts.next() {
        Some(path) => {
            let (line, col) = (mid.parse().ok()?, last.parse().ok()?);
            Some((path.to_string(), line, Some(col)))
        }
        None => Some((mid.to_string(), last.parse().ok()?, None)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ann(level: Level, message: &str) -> Annotation {
        Annotation {
            level,
            file: Some("api/a,b:c.yaml".into()),
            line: Some(3),
            col: None,
            title: "breaking: field.removed".into(),
            message: message.into(),
        }
    }

    #[test]
    fn properties_and_messages_are_escaped_as_the_runner_expects() {
        let a = ann(Level::Error, "50% of\r\nclients: gone, sadly");
        assert_eq!(
            a.command(),
            "::error file=api/a%2Cb%3Ac.yaml,line=3,title=breaking%3A field.removed::50%25 of%0D%0Aclients: gone, sadly"
        );
        assert_eq!(escape_property("%,:\n"), "%25%2C%3A%0A");
        let bare = Annotation {
            level: Level::Notice,
            file: None,
            line: Some(9),
            col: None,
            title: String::new(),
            message: "hi".into(),
        };
        assert_eq!(bare.command(), "::notice::hi");
    }

    #[test]
    fn each_level_is_capped_and_the_rest_counted() {
        let mut all: Vec<Annotation> = (0..13)
            .map(|i| ann(Level::Error, &format!("e{i}")))
            .collect();
        all.extend((0..2).map(|i| ann(Level::Warning, &format!("w{i}"))));
        let lines = render(&all, 10);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::error")).count(),
            10
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning")).count(),
            2
        );
        let last = lines.last().unwrap();
        assert!(
            last.starts_with("::notice title=tenet::3 more error(s) not annotated"),
            "{last}"
        );
        assert_eq!(lines.len(), 13);
    }

    #[test]
    fn locations_split() {
        assert_eq!(
            split_location("rules/a.tenet:3:7"),
            Some(("rules/a.tenet".into(), 3, Some(7)))
        );
        assert_eq!(
            split_location("a.tenet:12"),
            Some(("a.tenet".into(), 12, None))
        );
        assert_eq!(split_location("a.tenet"), None);
    }
}
