//! Diagnostics: what went wrong, where (file:line:col), and what to do about it.
//!
//! Every check in Biaozhun reports through [`Diagnostic`] so that the CLI, the JSON
//! output and (later) the web editor's live lint show the same thing. Lines and columns
//! are 1-based; columns count Unicode scalar values, as rustc does, so a column in a
//! Chinese line points at the right character.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding of the parser, the schema validation or the lint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable rule name, e.g. `clause-skipped`; documented in `docs/lint-rules.md`.
    pub code: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// What to do about it, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, file, pos, message)
    }

    pub fn warning(code: &'static str, file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, file, pos, message)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        file: &str,
        pos: Pos,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error[code]: message`, then an indented help line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}",
            self.file, self.line, self.col, self.severity, self.code, self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, col: 1 };

    pub fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }

    /// The position after `text`, when `text` starts at `self`.
    pub fn advance(self, text: &str) -> Pos {
        match text.rfind('\n') {
            Some(i) => Pos::new(
                self.line + text.matches('\n').count(),
                text[i + 1..].chars().count() + 1,
            ),
            None => Pos::new(self.line, self.col + text.chars().count()),
        }
    }
}

/// Maps byte offsets of a source text to line/column positions.
///
/// Built once per file; lookups are a binary search over line starts, so a 10 MB file
/// with a diagnostic on every line stays linear-logarithmic.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, line_starts }
    }

    /// Position of a byte offset (clamped to the text; a non-boundary offset is moved back).
    pub fn pos(&self, offset: usize) -> Pos {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text[start..offset].chars().count() + 1;
        Pos::new(line + 1, col)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// Counts of errors and warnings, for the closing summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(diags: &[Diagnostic]) -> Self {
        let errors = diags.iter().filter(|d| d.is_error()).count();
        Summary {
            errors,
            warnings: diags.len() - errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_chinese_columns_in_characters() {
        let text = "第一行\n标准应可追溯\nabc";
        let idx = LineIndex::new(text);
        assert_eq!(idx.pos(0), Pos::new(1, 1));
        let off = text.find("应").unwrap();
        assert_eq!(idx.pos(off), Pos::new(2, 3));
        assert_eq!(idx.pos(text.len()), Pos::new(3, 4));
        // Offsets inside a multi-byte character snap back to its start.
        assert_eq!(idx.pos(off + 1), Pos::new(2, 3));
    }

    #[test]
    fn display_is_rustc_style() {
        let d = Diagnostic::error(
            "clause-skipped",
            "a.md",
            Pos::new(3, 1),
            "clause 5.3 skips 5.2",
        )
        .with_help("renumber");
        assert_eq!(
            d.to_string(),
            "a.md:3:1: error[clause-skipped]: clause 5.3 skips 5.2\n  = help: renumber"
        );
    }
}
