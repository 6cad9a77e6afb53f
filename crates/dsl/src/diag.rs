//! Diagnostics: what the parser and checker report.
//!
//! A [`Diagnostic`] is one problem: a stable code (`tenet::unknown-field`), a
//! one-sentence lowercase message with user input in backticks, a labelled
//! span and a hint. [`Diagnostic::report`] turns it into a `miette` report
//! that renders `file:line:col`, the source line and a caret under the span.
//! All diagnostics of a run are collected and reported together.

use crate::source::{SourceMap, Span};
use miette::{LabeledSpan, NamedSource, SourceSpan};

/// The classes of problems the language reports. The code of each is
/// `tenet::<kebab-case>`; tests and docs refer to problems by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    Syntax,
    UnsupportedVersion,
    InvalidLiteral,
    UnknownKind,
    MisplacedBlock,
    UnknownField,
    MissingField,
    MissingName,
    DuplicateField,
    DuplicateName,
    DuplicatePack,
    TypeMismatch,
    UnresolvedName,
    UnknownFunction,
    WrongArity,
    UnresolvedImport,
    ImportCycle,
    ConstCycle,
    InvalidValue,
    Io,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "tenet::syntax",
            Code::UnsupportedVersion => "tenet::unsupported-version",
            Code::InvalidLiteral => "tenet::invalid-literal",
            Code::UnknownKind => "tenet::unknown-kind",
            Code::MisplacedBlock => "tenet::misplaced-block",
            Code::UnknownField => "tenet::unknown-field",
            Code::MissingField => "tenet::missing-field",
            Code::MissingName => "tenet::missing-name",
            Code::DuplicateField => "tenet::duplicate-field",
            Code::DuplicateName => "tenet::duplicate-name",
            Code::DuplicatePack => "tenet::duplicate-pack",
            Code::TypeMismatch => "tenet::type-mismatch",
            Code::UnresolvedName => "tenet::unresolved-name",
            Code::UnknownFunction => "tenet::unknown-function",
            Code::WrongArity => "tenet::wrong-arity",
            Code::UnresolvedImport => "tenet::unresolved-import",
            Code::ImportCycle => "tenet::import-cycle",
            Code::ConstCycle => "tenet::const-cycle",
            Code::InvalidValue => "tenet::invalid-value",
            Code::Io => "tenet::io",
        }
    }
}

/// One problem in the rules, with where it is and how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
    /// Secondary places (for example the first definition of a duplicate).
    pub also: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span: Some(span),
            label: String::new(),
            help: None,
            also: Vec::new(),
        }
    }
    pub fn without_span(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            also: Vec::new(),
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.also.push((span, label.into()));
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `path:line:col`, or the empty string when the problem has no place.
    pub fn location(&self, sources: &SourceMap) -> String {
        self.span.map(|s| sources.location(s)).unwrap_or_default()
    }

    /// A renderable report carrying the source text it points into.
    pub fn report(&self, sources: &SourceMap) -> miette::Report {
        let mut labels = Vec::new();
        let mut source = None;
        if let Some(span) = self.span {
            if let Some(file) = sources.get(span.file) {
                source = Some(NamedSource::new(file.path.clone(), file.text.to_string()));
                let label = if self.label.is_empty() {
                    None
                } else {
                    Some(self.label.clone())
                };
                labels.push(LabeledSpan::new_with_span(
                    label,
                    SourceSpan::new((span.start as usize).into(), span.len()),
                ));
                for (other, text) in &self.also {
                    if other.file == span.file {
                        labels.push(LabeledSpan::new_with_span(
                            Some(text.clone()),
                            SourceSpan::new((other.start as usize).into(), other.len()),
                        ));
                    }
                }
            }
        }
        let mut diag = miette::MietteDiagnostic::new(self.message.clone())
            .with_code(self.code.as_str())
            .with_labels(labels);
        if let Some(help) = &self.help {
            diag = diag.with_help(help.clone());
        }
        let report = miette::Report::new(diag);
        match source {
            Some(src) => report.with_source_code(src),
            None => report,
        }
    }

    /// A plain one-line form: `path:line:col: error[code]: message`.
    pub fn one_line(&self, sources: &SourceMap) -> String {
        let loc = self.location(sources);
        if loc.is_empty() {
            format!("error[{}]: {}", self.code.as_str(), self.message)
        } else {
            format!("{}: error[{}]: {}", loc, self.code.as_str(), self.message)
        }
    }
}

/// Render diagnostics as plain text (no colours), one report after another:
/// the form snapshots and non-terminal output use.
pub fn render_plain(diags: &[Diagnostic], sources: &SourceMap) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for d in diags {
        let report = d.report(sources);
        let mut s = String::new();
        if handler.render_report(&mut s, report.as_ref()).is_err() {
            s = d.one_line(sources);
        }
        out.push_str(&s);
        out.push('\n');
    }
    out
}
