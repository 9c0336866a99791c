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
mod zh_tests {
    /// Every code documented in docs/lint-rules.md has a Chinese name and advice.
    #[test]
    fn every_documented_code_has_chinese() {
        let doc = include_str!("../docs/lint-rules.md");
        let codes: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert!(codes.len() > 30, "{codes:?}");
        for c in codes {
            assert!(super::zh(c).is_some(), "no Chinese for lint code {c}");
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

/// Chinese name and advice for each diagnostic code of the standards lint, for the
/// web editor (the UI is Chinese; messages stay English for the CLI and logs). The
/// message itself still carries the specifics (numbers, names); this says in
/// Chinese what kind of problem it is and what to do. `docs/lint-rules.md` lists
/// the same codes, and a test keeps the two in step.
pub fn zh(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "encoding" => ("文件编码不是 UTF-8", "请另存为 UTF-8 编码"),
        "file-too-large" => ("文件过大", "请将文件拆分为几个部分"),
        "io" => ("无法读取文件", "请检查路径和权限"),
        "front-matter-missing" => ("缺少前置信息", "文件开头应有以 --- 包围的前置信息"),
        "yaml-syntax" => (
            "前置信息的 YAML 语法错误",
            "按提示位置修改；含冒号的值请加引号",
        ),
        "front-matter-schema" => ("前置信息字段不符合要求", "按提示补全或更正字段"),
        "code-invalid" => (
            "标准编号格式不正确",
            "写成“代号 顺序号—年代号”，如 Q/BZ 001—2026",
        ),
        "heading-number" => (
            "标题既没有编号也不是前言、引言等",
            "为标题编号，或使用前言/引言/参考文献/附录X（…）",
        ),
        "content-outside-clause" => ("第一个标题之前有正文", "正文应从“## 前言”或“## 1 范围”开始"),
        "table-caption" => ("表题下方没有表格", "把表格放在表题的下一行"),
        "missing-scope" => ("第 1 章不是“范围”", "增加或重新编号“## 1 范围”"),
        "missing-normative-references" => (
            "第 2 章不是“规范性引用文件”",
            "增加该章；没有引用文件时写“本文件没有规范性引用文件。”",
        ),
        "missing-terms" => (
            "第 3 章不是“术语和定义”",
            "增加该章；没有术语时写“本文件没有需要界定的术语和定义。”",
        ),
        "clause-order" => ("条款编号顺序颠倒", "按升序排列条款"),
        "clause-skipped" => ("条款编号跳号", "连续编号"),
        "clause-duplicate" => ("条款编号重复", "重新编号"),
        "clause-parent" => ("条款编号与上级条款不一致", "更正编号，或补上上级标题"),
        "clause-depth" => ("条款层次过深", "调整结构，或改用列项"),
        "lone-subclause" => (
            "只有一个下级条款",
            "并入上级条款，或增加同级条款（GB/T 1.1—2020 要求至少两个）",
        ),
        "hanging-paragraph" => ("悬置段", "把上级条款中的文字移入第一个下级条款"),
        "empty-clause" => ("空条款", "补写内容或删除该标题"),
        "term-definition" => ("术语缺少定义", "在术语下补写定义"),
        "provision-in-preliminary" => ("前言或引言中有要求型条款", "把要求移到正文条款中"),
        "discouraged-form" => ("使用了不推荐的助动词", "用“应”“不应”表述要求"),
        "provision-in-note" => ("注或示例中有要求", "注和示例是资料性的，把要求移到正文"),
        "dangling-xref" => (
            "引用的条款、表、图或附录不存在",
            "更正编号或补上被引用的内容",
        ),
        "reference-not-listed" => (
            "规范性引用的文件未列入规范性引用文件",
            "列入第 2 章，或改为资料性引用",
        ),
        "reference-not-cited" => (
            "规范性引用文件在正文中没有被引用",
            "在适用的条款中引用，或从第 2 章删除",
        ),
        "references-mismatch" => ("第 2 章与前置信息中的引用文件不一致", "使两处一致"),
        "unknown-reference" => ("标准库中没有该引用文件", "在 standards/refs/ 下补充题录"),
        "effective-before-published" => ("实施日期早于发布日期", "更正日期"),
        "kind-mismatch" => ("标准类别与编号代号不一致", "更正 kind（Q/ 为企业标准）"),
        "mandatory-mismatch" => ("强制性与编号不一致", "更正 mandatory"),
        "category-unknown" => (
            "不是 GB/T 24421 标准体系中的节点",
            "选用体系表中的节点，如 服务提供标准/服务提供规范",
        ),
        "reference-only-body" => ("题录条目不应有正文", "删除正文或去掉 reference_only"),
        "empty-body" => ("没有正文", "补写标准正文"),
        "unknown-replaces" => (
            "被代替的标准不在标准库中",
            "更正编号，或先把该版本加入标准库",
        ),
        "duplicate-code" => ("标准编号重复", "每个版本一个文件"),
        "status-mismatch" => ("已被代替但状态仍为现行", "把状态改为 superseded"),
        "submission-code" => ("编号不是系统分配的", "使用系统分配的编号"),
        _ => return None,
    })
}
