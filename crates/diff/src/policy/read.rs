//! Reading a pack: text → [`Doc`].
//!
//! In: a `.tenet` file. Out: its syntax tree (never checked: a pack that
//! imports others cannot be checked alone), its source for lines, and its
//! risk levels (its taxonomy's, else the default ones), or the first syntax
//! error with its position.

use super::expr::text;
use crate::tree::ParseError;
use tenet_dsl::ast::{ExprKind, Item, Pack};
use tenet_dsl::source::{FileId, SourceFile, Span};
use tenet_dsl::syntax;

/// The risk levels of a pack without a taxonomy, highest first.
pub(super) const DEFAULT_LEVELS: &[&str] = &["critical", "high", "medium", "low", "info"];

/// One parsed side: the pack, its text (for lines) and its risk levels.
pub(super) struct Doc {
    pub(super) pack: Pack,
    pub(super) src: SourceFile,
    pub(super) levels: Vec<String>,
}

impl Doc {
    pub(super) fn line(&self, span: Span) -> u32 {
        u32::try_from(self.src.line_col(span.start).0).unwrap_or(0)
    }
}

pub(super) fn parse_side(input: &str) -> Result<Doc, ParseError> {
    let src = SourceFile::new("pack.tenet", input);
    let pack = syntax::parse(FileId(0), input).map_err(|diags| match diags.into_iter().next() {
        Some(d) => {
            let (line, col) = d.span.map(|s| src.line_col(s.start)).unwrap_or((1, 1));
            ParseError {
                line: u32::try_from(line).unwrap_or(0),
                col: u32::try_from(col).unwrap_or(0),
                message: d.message,
            }
        }
        None => ParseError {
            line: 1,
            col: 1,
            message: "could not parse this pack".into(),
        },
    })?;
    let levels = pack
        .items
        .iter()
        .find_map(|i| match i {
            Item::Block(b) if b.kind.name == "taxonomy" => {
                b.attr("levels").and_then(|a| match &a.value.kind {
                    ExprKind::List(xs) => Some(xs.iter().map(text).collect::<Vec<_>>()),
                    _ => None,
                })
            }
            _ => None,
        })
        .unwrap_or_else(|| DEFAULT_LEVELS.iter().map(|s| s.to_string()).collect());
    Ok(Doc { pack, src, levels })
}
