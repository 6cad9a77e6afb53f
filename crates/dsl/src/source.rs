//! Source files and spans.
//!
//! Every syntax node carries a [`Span`]: the file it came from and a byte
//! range. A [`SourceMap`] owns the text of every file of a run, so any
//! diagnostic can render `file:line:col` and the source line under it.

use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: to_u32(start),
            end: to_u32(end),
        }
    }
    pub fn len(&self) -> usize {
        (self.end.saturating_sub(self.start)) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The smallest span that covers both.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One source file: its display path and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0u32];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| to_u32(i + 1)));
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = offset.min(to_u32(self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let line_start = self.line_starts.get(line - 1).copied().unwrap_or(0) as usize;
        let col = self
            .text
            .get(line_start..offset as usize)
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

/// The text of every file of a run.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(to_u32(self.files.len() - 1))
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(to_u32(i)), f))
    }

    /// `path:line:col` of the start of a span.
    pub fn location(&self, span: Span) -> String {
        match self.get(span.file) {
            Some(f) => {
                let (l, c) = f.line_col(span.start);
                format!("{}:{}:{}", f.path, l, c)
            }
            None => "<unknown>".to_string(),
        }
    }

    pub fn slice(&self, span: Span) -> &str {
        self.get(span.file).map(|f| f.slice(span)).unwrap_or("")
    }
}
