//! Markdown + YAML → [`Standard`].
//!
//! The front matter is cut off by hand (so its line numbers are exact) and validated in
//! [`super::front_matter`]. The body goes through pulldown-cmark with source offsets;
//! the block structure it yields (headings, paragraphs, lists, tables) is then refined
//! line by line with the GB/T 1.1 conventions Markdown does not know: `a)` and `——`
//! items, `注：` notes, `示例：` examples, `表1 …` captions. Provisions are extracted as
//! blocks are added, so every provision knows its file position.

use std::path::Path;
use std::sync::LazyLock;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use regex::Regex;

use crate::diag::{Diagnostic, LineIndex, Pos};

use super::code::Code;
use super::front_matter::{self, FrontMatter};
use super::provision::{Classification, Classifier, ProvisionType, split_sentences};
use super::{Block, Clause, ClauseKind, Provision, Standard, Term, clause_id, clause_slug};

/// Files above this size are refused before parsing (a standard is ~100 KB).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Deepest clause: a chapter plus five levels of 条 (GB/T 1.1—2020 7.3).
pub const MAX_DEPTH: usize = 6;

/// What parsing one file produced: the standard (when the front matter is valid) and
/// every diagnostic found on the way.
#[derive(Debug)]
pub struct Parsed {
    pub standard: Option<Standard>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and parses one file; I/O, size and encoding problems become diagnostics.
pub fn parse_file(path: &Path, display: &str) -> Parsed {
    let fail = |d: Diagnostic| Parsed {
        standard: None,
        diagnostics: vec![d],
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return fail(
                Diagnostic::error(
                    "file-too-large",
                    display,
                    Pos::START,
                    format!(
                        "file is {} MB; the limit is {} MB",
                        m.len() / 1_048_576,
                        MAX_FILE_BYTES / 1_048_576
                    ),
                )
                .with_help("split the document into parts (e.g. 第1部分, 第2部分)"),
            );
        }
        Err(e) => {
            return fail(Diagnostic::error(
                "io",
                display,
                Pos::START,
                format!("cannot read file: {e}"),
            ));
        }
        _ => {}
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return fail(Diagnostic::error(
                "io",
                display,
                Pos::START,
                format!("cannot read file: {e}"),
            ));
        }
    };
    match decode(&bytes, display) {
        Ok(text) => parse_str(&text, display),
        Err(d) => fail(d),
    }
}

/// UTF-8 (with or without BOM) or a diagnostic pointing at the first invalid byte.
pub fn decode(bytes: &[u8], display: &str) -> Result<String, Diagnostic> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            // valid prefix: safe to index
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            let pos = LineIndex::new(prefix).pos(prefix.len());
            Err(Diagnostic::error(
                "encoding",
                display,
                pos,
                format!("file is not valid UTF-8 (byte 0x{:02X} at offset {})", bytes[e.valid_up_to()], e.valid_up_to()),
            )
            .with_help("save the file as UTF-8; files from Word or old editors are often GBK/GB18030 (e.g. `iconv -f GB18030 -t UTF-8`)"))
        }
    }
}

/// Splits `---` front matter from the body. Returns (yaml, yaml first line, body offset).
pub fn split_front_matter(text: &str) -> Option<(&str, usize, usize)> {
    let first_end = text.find('\n')?;
    if text[..first_end].trim_end() != "---" {
        return None;
    }
    let mut offset = first_end + 1;
    for line in text[offset..].split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t == "..." {
            let yaml = &text[first_end + 1..offset];
            return Some((yaml, 2, offset + line.len()));
        }
        offset += line.len();
    }
    None
}

/// CRLF and lone CR become LF: Markdown and editors treat all three as line breaks, and
/// positions are counted in LF-separated lines.
pub fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    }
}

pub fn parse_str(text: &str, file: &str) -> Parsed {
    parse_with(text, file, true)
}

/// Parses the clause tree and blocks without typing provisions: several times faster,
/// for callers that only compare text (clause history over hundreds of revisions).
pub fn parse_structure(text: &str, file: &str) -> Parsed {
    parse_with(text, file, false)
}

/// Just the front matter (no body): for status and code look-ups across many revisions.
pub fn parse_front_matter(text: &str, file: &str) -> Result<FrontMatter, Vec<Diagnostic>> {
    let text = normalize_newlines(text.strip_prefix('\u{FEFF}').unwrap_or(text));
    match split_front_matter(&text) {
        Some((yaml, first_line, _)) => front_matter::parse(yaml, first_line, file),
        None => Err(vec![Diagnostic::error(
            "front-matter-missing",
            file,
            Pos::START,
            "file has no YAML front matter",
        )]),
    }
}

fn parse_with(text: &str, file: &str, classify: bool) -> Parsed {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let normalized = normalize_newlines(text);
    let text = normalized.as_ref();
    let mut diagnostics = Vec::new();
    let index = LineIndex::new(text);
    let mut meta_pos = Default::default();
    let (meta, body_offset) = match split_front_matter(text) {
        Some((yaml, first_line, body)) => match front_matter::parse(yaml, first_line, file) {
            Ok(fm) => {
                meta_pos = front_matter::positions(yaml, first_line);
                (Some(fm), body)
            }
            Err(mut d) => {
                diagnostics.append(&mut d);
                (None, body)
            }
        },
        None => {
            let unclosed = text.starts_with("---");
            diagnostics.push(
                Diagnostic::error(
                    "front-matter-missing",
                    file,
                    Pos::START,
                    if unclosed { "front matter is not closed" } else { "file has no YAML front matter" },
                )
                .with_help(if unclosed {
                    "end the front matter with a line containing only `---`"
                } else {
                    "start the file with `---`, the keys code, title, kind, status and source, and another `---`"
                }),
            );
            (None, 0)
        }
    };

    let code = match &meta {
        Some(fm) => match Code::parse(&fm.code) {
            Ok(c) => Some(c),
            Err(e) => {
                let pos = front_matter::key_pos(&text[..body_offset], "code", None, 1);
                diagnostics.push(Diagnostic::error("code-invalid", file, pos, e.to_string()));
                None
            }
        },
        None => None,
    };
    let placeholder = Code {
        prefix: "UNKNOWN".into(),
        number: "0".into(),
        year: None,
        all_parts: false,
    };
    let code_for_ids = code.clone().unwrap_or(placeholder);
    let mut builder = Builder::new(file, &code_for_ids, text, &index);
    builder.classify = classify;
    builder.run(body_offset);
    diagnostics.append(&mut builder.diags);
    let clauses = builder.finish();

    let standard = match (meta, code) {
        (Some(meta), Some(code)) => Some(Standard {
            path: file.to_string(),
            code,
            meta,
            clauses,
            meta_pos,
            source_hash: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                h.finish()
            },
        }),
        _ => None,
    };
    Parsed {
        standard,
        diagnostics,
    }
}

// ---------------------------------------------------------------------------------------
// Headings

enum Heading {
    Numbered {
        number: String,
        title: Option<String>,
        depth: usize,
    },
    Annex {
        letter: char,
        normative: bool,
        title: Option<String>,
    },
    Unnumbered(ClauseKind),
    DocumentTitle,
    Invalid,
}

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<n>(?:\d+|[A-Z])(?:\.\d+)*)(?:[\s\u{3000}]+(?P<t>.*)|(?P<t2>[^\d.A-Za-z].*))?$",
    )
    .expect("static regex")
});
static ANNEX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^附录\s*(?P<l>[A-Z])\s*[（(]\s*(?P<k>规范性|资料性)\s*[）)]\s*(?P<t>.*)$")
        .expect("static regex")
});

fn classify_heading(text: &str, level: HeadingLevel) -> Heading {
    let t = text.trim();
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.as_str() {
        "前言" => return Heading::Unnumbered(ClauseKind::Foreword),
        "引言" => return Heading::Unnumbered(ClauseKind::Introduction),
        "参考文献" => return Heading::Unnumbered(ClauseKind::Bibliography),
        "索引" => return Heading::Unnumbered(ClauseKind::Index),
        "目次" => return Heading::Unnumbered(ClauseKind::Contents),
        _ => {}
    }
    if let Some(c) = ANNEX.captures(t) {
        let title = c["t"].trim();
        return Heading::Annex {
            letter: c["l"].chars().next().unwrap_or('A'),
            normative: &c["k"] == "规范性",
            title: (!title.is_empty()).then(|| title.to_string()),
        };
    }
    if let Some(c) = NUMBERED.captures(t) {
        let number = c["n"].to_string();
        // A bare letter is not a clause number ("A 类"); annex clauses have a dot.
        if !(number.len() == 1 && number.chars().all(|ch| ch.is_ascii_uppercase())) {
            let title = c
                .name("t")
                .or(c.name("t2"))
                .map(|m| m.as_str().trim().to_string())
                .filter(|s| !s.is_empty());
            let depth = number.split('.').count();
            return Heading::Numbered {
                number,
                title,
                depth,
            };
        }
    }
    if level == HeadingLevel::H1 {
        Heading::DocumentTitle
    } else {
        Heading::Invalid
    }
}

// ---------------------------------------------------------------------------------------
// Text buffers with source offsets

/// Text collected from inline events, with a map back to source byte offsets.
#[derive(Default)]
struct TextBuf {
    text: String,
    /// (offset in `text`, offset in source) at the start of each chunk.
    map: Vec<(usize, usize)>,
    /// Item marker to prepend (lists parsed by pulldown lose their marker).
    marker: Option<(String, usize)>,
}

impl TextBuf {
    fn push(&mut self, s: &str, src: usize) {
        self.map.push((self.text.len(), src));
        self.text.push_str(s);
    }

    fn src(&self, off: usize) -> usize {
        match self.map.binary_search_by_key(&off, |m| m.0) {
            Ok(i) => self.map[i].1,
            Err(0) => self.map.first().map(|m| m.1).unwrap_or(0),
            Err(i) => {
                let (t, s) = self.map[i - 1];
                s + (off - t)
            }
        }
    }

    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

static ITEM_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<m>[a-z][)）]|\d{1,3}[)）]|——|—|·)\s*").expect("static regex")
});
static NOTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^注\s*(?P<n>\d+)?\s*[：:]\s*").expect("static regex"));
static EXAMPLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^示例\s*(?P<n>\d+)?\s*[：:]\s*").expect("static regex"));
static TABLE_CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^表\s*(?P<n>[A-Z]\.\d+|\d+)(?:[\s\u{3000}]+(?P<t>.+))?$").expect("static regex")
});
static FIGURE_CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^图\s*(?P<n>[A-Z]\.\d+|\d+)[\s\u{3000}]+(?P<t>.+)$").expect("static regex")
});

// ---------------------------------------------------------------------------------------
// The tree builder

struct Builder<'a> {
    file: &'a str,
    code: &'a Code,
    text: &'a str,
    index: &'a LineIndex<'a>,
    classifier: &'static Classifier,
    /// Extract and type provisions (off for structure-only parses, e.g. clause history).
    classify: bool,
    /// Open clauses, outermost first.
    stack: Vec<Clause>,
    roots: Vec<Clause>,
    /// Blocks before the first heading (allowed only when empty).
    preamble_reported: bool,
    /// Type of the sentence introducing the current list (level 1) and sub-list (level 2).
    lead_in: [Option<Classification>; 2],
    /// A table caption waiting for its table.
    caption: Option<(String, Option<String>, Pos)>,
    diags: Vec<Diagnostic>,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, code: &'a Code, text: &'a str, index: &'a LineIndex<'a>) -> Self {
        Builder {
            file,
            code,
            text,
            index,
            classifier: Classifier::global(),
            classify: true,
            stack: Vec::new(),
            roots: Vec::new(),
            preamble_reported: false,
            lead_in: [None, None],
            caption: None,
            diags: Vec::new(),
        }
    }

    fn run(&mut self, body_offset: usize) {
        let body = &self.text[body_offset..];
        let parser = Parser::new_ext(body, Options::ENABLE_TABLES).into_offset_iter();
        let mut buf: Option<TextBuf> = None;
        let mut heading: Option<(HeadingLevel, usize, TextBuf)> = None;
        let mut list_depth = 0usize;
        let mut table: Option<TableBuf> = None;
        let mut code_block: Option<(usize, String)> = None;

        for (event, range) in parser {
            let start = body_offset + range.start;
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    self.flush_opt(&mut buf);
                    heading = Some((level, start, TextBuf::default()));
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some((level, off, tb)) = heading.take() {
                        self.heading(level, off, &tb.text);
                    }
                }
                Event::Start(Tag::Paragraph) => {
                    self.flush_opt(&mut buf);
                    let marker = buf.take().and_then(|b| b.marker);
                    buf = Some(TextBuf {
                        marker,
                        ..TextBuf::default()
                    });
                }
                Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Item) => {
                    self.flush_opt(&mut buf)
                }
                Event::Start(Tag::List(_)) => {
                    self.flush_opt(&mut buf);
                    list_depth += 1;
                }
                Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
                Event::Start(Tag::Item) => {
                    self.flush_opt(&mut buf);
                    let src = &self.text[start..];
                    let marker = list_marker(src);
                    buf = Some(TextBuf {
                        marker: Some((marker, start)),
                        ..TextBuf::default()
                    });
                }
                Event::Start(Tag::Table(_)) => {
                    self.flush_opt(&mut buf);
                    table = Some(TableBuf::new(start));
                }
                Event::Start(Tag::TableHead) => {}
                Event::End(TagEnd::TableHead) => {
                    if let Some(t) = table.as_mut() {
                        t.end_row(true);
                    }
                }
                Event::End(TagEnd::TableRow) => {
                    if let Some(t) = table.as_mut() {
                        t.end_row(false);
                    }
                }
                Event::End(TagEnd::TableCell) => {
                    if let Some(t) = table.as_mut() {
                        t.end_cell();
                    }
                }
                Event::End(TagEnd::Table) => {
                    if let Some(t) = table.take() {
                        self.table(t);
                    }
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    self.flush_opt(&mut buf);
                    code_block = Some((start, String::new()));
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((off, text)) = code_block.take() {
                        let pos = self.index.pos(off);
                        self.push_block(Block::Code { text, pos }, None);
                    }
                }
                Event::Text(t) | Event::Code(t) => {
                    if let Some((_, _, tb)) = heading.as_mut() {
                        tb.push(&t, start);
                    } else if let Some(t2) = table.as_mut() {
                        t2.cell.push_str(&t);
                    } else if let Some((_, s)) = code_block.as_mut() {
                        s.push_str(&t);
                    } else {
                        buf.get_or_insert_with(TextBuf::default).push(&t, start);
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some((_, _, tb)) = heading.as_mut() {
                        tb.push(" ", start);
                    } else if let Some(t2) = table.as_mut() {
                        t2.cell.push(' ');
                    } else {
                        buf.get_or_insert_with(TextBuf::default).push("\n", start);
                    }
                }
                // Comments and raw HTML are not part of the standard's text.
                Event::Html(_) | Event::InlineHtml(_) => {}
                _ => {}
            }
        }
        self.flush_opt(&mut buf);
        if let Some((text, _, pos)) = self.caption.take() {
            self.orphan_caption(&text, pos);
        }
    }

    fn flush_opt(&mut self, buf: &mut Option<TextBuf>) {
        if let Some(b) = buf.take() {
            if b.is_blank() && b.marker.is_none() {
                return;
            }
            self.text_blocks(b);
        }
    }

    /// Splits a paragraph's text into GB/T 1.1 blocks, line by line.
    fn text_blocks(&mut self, mut buf: TextBuf) {
        if let Some((marker, off)) = buf.marker.take() {
            // Prepend the list marker pulldown consumed, mapped to its source offset.
            let mut with = TextBuf::default();
            with.push(&format!("{marker} "), off);
            let shift = with.text.len();
            with.text.push_str(&buf.text);
            with.map
                .extend(buf.map.iter().map(|&(t, s)| (t + shift, s)));
            buf = with;
        }
        let text = buf.text.clone();
        let mut current: Option<(PendingKind, usize, String)> = None;
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let off = line_start;
            line_start += line.len();
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let lead = line.len() - line.trim_start().len();
            let kind = line_kind(trimmed);
            match (kind, current.as_mut()) {
                (PendingKind::Continue, Some((_, _, acc))) => {
                    acc.push('\n');
                    acc.push_str(trimmed);
                }
                (k, _) => {
                    if let Some(c) = current.take() {
                        self.finish_block(c, &buf);
                    }
                    let k = if matches!(k, PendingKind::Continue) {
                        PendingKind::Paragraph
                    } else {
                        k
                    };
                    current = Some((k, off + lead, trimmed.to_string()));
                }
            }
        }
        if let Some(c) = current.take() {
            self.finish_block(c, &buf);
        }
    }

    fn finish_block(&mut self, (kind, off, text): (PendingKind, usize, String), buf: &TextBuf) {
        let pos = self.index.pos(buf.src(off));
        // A caption is only a caption when the next block is its table.
        if let Some((cap, _, cpos)) = self.caption.take() {
            self.orphan_caption(&cap, cpos);
        }
        match kind {
            PendingKind::Paragraph | PendingKind::Continue => {
                if let Some(c) = TABLE_CAPTION.captures(&text)
                    && !text.contains('\n')
                {
                    self.caption = Some((
                        c["n"].to_string(),
                        c.name("t").map(|m| m.as_str().trim().to_string()),
                        pos,
                    ));
                    return;
                }
                if let Some(c) = FIGURE_CAPTION.captures(&text) {
                    let block = Block::Figure {
                        number: c["n"].to_string(),
                        title: c["t"].trim().to_string(),
                        pos,
                    };
                    self.push_block(block, None);
                    return;
                }
                self.push_block(Block::Paragraph { text, pos }, Some(pos));
            }
            PendingKind::Item => {
                let m = ITEM_MARKER
                    .captures(&text)
                    .map(|c| (c["m"].to_string(), c[0].len()));
                let (marker, len) = m.unwrap_or_default();
                let level = self.item_level(&marker);
                let body = text[len..].to_string();
                let body_pos = pos.advance(&text[..len]);
                self.push_block(
                    Block::Item {
                        marker,
                        level,
                        text: body,
                        pos: body_pos,
                    },
                    Some(body_pos),
                );
            }
            PendingKind::Note => {
                let c = NOTE.captures(&text);
                let (n, len) = c
                    .map(|c| {
                        (
                            c.name("n").and_then(|m| m.as_str().parse().ok()),
                            c[0].len(),
                        )
                    })
                    .unwrap_or((None, 0));
                self.push_block(
                    Block::Note {
                        number: n,
                        text: text[len..].to_string(),
                        pos,
                    },
                    None,
                );
            }
            PendingKind::Example => {
                let c = EXAMPLE.captures(&text);
                let (n, len) = c
                    .map(|c| {
                        (
                            c.name("n").and_then(|m| m.as_str().parse().ok()),
                            c[0].len(),
                        )
                    })
                    .unwrap_or((None, 0));
                self.push_block(
                    Block::Example {
                        number: n,
                        text: text[len..].to_string(),
                        pos,
                    },
                    None,
                );
            }
        }
    }

    fn orphan_caption(&mut self, number: &str, pos: Pos) {
        self.diags.push(
            Diagnostic::warning(
                "table-caption",
                self.file,
                pos,
                format!("table caption 表{number} is not followed by a table"),
            )
            .with_help("put the Markdown table directly below the caption line"),
        );
    }

    fn item_level(&self, marker: &str) -> u8 {
        let numeric = marker.starts_with(|c: char| c.is_ascii_digit());
        if marker == "·" {
            return 2;
        }
        if !numeric {
            return 1;
        }
        // `1)` under a lettered/dashed item (or after another sub-item) is a sub-item.
        match self.stack.last().and_then(|c| c.blocks.last()) {
            Some(Block::Item {
                marker: m, level, ..
            }) if *level == 2 || !m.starts_with(|c: char| c.is_ascii_digit()) => 2,
            _ => 1,
        }
    }

    fn table(&mut self, t: TableBuf) {
        let pos = self.index.pos(t.start);
        let (number, title) = match self.caption.take() {
            Some((n, title, _)) => (Some(n), title),
            None => (None, None),
        };
        self.push_block(
            Block::Table {
                number,
                title,
                header: t.header,
                rows: t.rows,
                pos,
            },
            None,
        );
    }

    fn heading(&mut self, level: HeadingLevel, off: usize, text: &str) {
        let pos = self.index.pos(off);
        if let Some((cap, _, cpos)) = self.caption.take() {
            self.orphan_caption(&cap, cpos);
        }
        self.lead_in = [None, None];
        let (number, kind, title, depth, normative) = match classify_heading(text, level) {
            Heading::Numbered {
                number,
                title,
                depth,
            } => {
                let annex = number.starts_with(|c: char| c.is_ascii_uppercase());
                let kind = if depth == 1 {
                    ClauseKind::Chapter
                } else {
                    ClauseKind::Clause
                };
                if annex
                    && self
                        .stack
                        .first()
                        .is_none_or(|c| c.kind != ClauseKind::Annex)
                {
                    self.diags.push(
                        Diagnostic::error(
                            "clause-parent",
                            self.file,
                            pos,
                            format!("annex clause {number} is not inside an annex"),
                        )
                        .with_help("add an annex heading first, e.g. `## 附录A（资料性）标题`"),
                    );
                }
                (number, kind, title, depth, None)
            }
            Heading::Annex {
                letter,
                normative,
                title,
            } => (
                letter.to_string(),
                ClauseKind::Annex,
                title,
                1,
                Some(normative),
            ),
            Heading::Unnumbered(kind) => {
                let number = match kind {
                    ClauseKind::Foreword => "foreword",
                    ClauseKind::Introduction => "introduction",
                    ClauseKind::Bibliography => "bibliography",
                    ClauseKind::Index => "index",
                    _ => "contents",
                };
                let title = text.trim().to_string();
                (number.to_string(), kind, Some(title), 1, None)
            }
            Heading::DocumentTitle => return,
            Heading::Invalid => {
                self.diags.push(
                    Diagnostic::error("heading-number", self.file, pos, format!("heading `{}` has no clause number", text.trim()))
                        .with_help("number it like `## 5 服务要求` / `### 5.1 受理`, or use an unnumbered element: 前言, 引言, 参考文献, 附录A（规范性）…"),
                );
                return;
            }
        };
        if depth > MAX_DEPTH {
            self.diags.push(
                Diagnostic::error("clause-depth", self.file, pos, format!("clause {number} is {depth} levels deep; GB/T 1.1 allows a chapter and five levels of clauses"))
                    .with_help("restructure into fewer levels, or use a list (a), 1)) below the fifth level"),
            );
        }
        // Depth in the tree is capped so that malformed input cannot build a deep chain.
        let tree_depth = depth.min(MAX_DEPTH + 1);
        while self.stack.last().is_some_and(|c| c.depth >= tree_depth) {
            self.close_top();
        }
        let term = None;
        let clause = Clause {
            id: clause_id(self.code, &number),
            slug: clause_slug(self.code, &number),
            number,
            kind,
            title,
            depth: tree_depth,
            pos,
            normative,
            term,
            blocks: Vec::new(),
            provisions: Vec::new(),
            children: Vec::new(),
        };
        self.stack.push(clause);
    }

    fn close_top(&mut self) {
        if let Some(mut c) = self.stack.pop() {
            attach_term(&mut c, self.stack.last());
            match self.stack.last_mut() {
                Some(parent) => parent.children.push(c),
                None => self.roots.push(c),
            }
        }
    }

    fn finish(mut self) -> Vec<Clause> {
        while !self.stack.is_empty() {
            self.close_top();
        }
        self.roots
    }

    /// Adds a block to the current clause and extracts its provisions.
    fn push_block(&mut self, block: Block, text_pos: Option<Pos>) {
        let file = self.file;
        let Some(clause) = self.stack.last_mut() else {
            if !self.preamble_reported {
                self.preamble_reported = true;
                self.diags.push(
                    Diagnostic::error(
                        "content-outside-clause",
                        file,
                        block.pos(),
                        "text before the first heading belongs to no clause",
                    )
                    .with_help("start the body with `## 前言` or `## 1 范围`"),
                );
            }
            return;
        };
        let is_term = clause.kind == ClauseKind::Clause
            && clause.number.starts_with("3.")
            && clause.depth == 2;
        if let (Some(start), false, true) = (text_pos, is_term, self.classify) {
            match &block {
                Block::Paragraph { text, .. } => {
                    let mut last: Option<Classification> = None;
                    for r in split_sentences(text, false) {
                        // Classify the text as stored (soft line breaks removed) so that
                        // form offsets index the provision's text.
                        let sentence = text[r.clone()].replace('\n', "");
                        let c = self.classifier.classify(&sentence);
                        let pos = start.advance(&text[..r.start]);
                        push_provision(clause, &sentence, &c, false, pos);
                        last = Some(c);
                    }
                    let lead = text.trim_end().ends_with(['：', ':']);
                    self.lead_in = [if lead { last } else { None }, None];
                }
                Block::Item { text, level, .. } => {
                    let inherited_from = if *level >= 2 {
                        self.lead_in[1].clone().or_else(|| self.lead_in[0].clone())
                    } else {
                        self.lead_in[0].clone()
                    };
                    let mut last: Option<Classification> = None;
                    for r in split_sentences(text, false) {
                        let sentence = text[r.clone()].replace('\n', "");
                        let own = self.classifier.classify(&sentence);
                        let pos = start.advance(&text[..r.start]);
                        match (&own.kind, &inherited_from) {
                            (ProvisionType::Statement, Some(lead))
                                if lead.kind != ProvisionType::Statement =>
                            {
                                push_provision(clause, &sentence, lead, true, pos);
                            }
                            _ => push_provision(clause, &sentence, &own, false, pos),
                        }
                        last = Some(own);
                    }
                    if *level == 1 {
                        let lead = text.trim_end().ends_with(['：', ':']);
                        // A sub-list's lead-in is this item: its own form, else the one it inherited.
                        let own = last.filter(|c| c.kind != ProvisionType::Statement);
                        self.lead_in[1] = if lead { own.or(inherited_from) } else { None };
                    }
                }
                _ => {}
            }
        }
        clause.blocks.push(block);
    }
}

fn push_provision(
    clause: &mut Clause,
    sentence: &str,
    c: &Classification,
    inherited: bool,
    pos: Pos,
) {
    let n = clause.provisions.len() + 1;
    clause.provisions.push(Provision {
        id: format!("{}/p{n}", clause.id),
        text: sentence.to_string(),
        kind: c.kind,
        negative: c.negative,
        trigger: c.trigger.clone(),
        inherited,
        forms: if inherited {
            Vec::new()
        } else {
            c.forms.clone()
        },
        pos,
    });
}

/// Fills in the term of a 3.x clause under 术语和定义 from its heading and first paragraph.
fn attach_term(c: &mut Clause, parent: Option<&Clause>) {
    let in_terms = parent
        .is_some_and(|p| p.number == "3" && p.title.as_deref().is_some_and(|t| t.contains("术语")));
    if !in_terms || c.depth != 2 {
        return;
    }
    let Some(title) = &c.title else { return };
    let split = title
        .find(|ch: char| ch.is_ascii_alphabetic())
        .unwrap_or(title.len());
    let term = title[..split].trim().to_string();
    let english = Some(title[split..].trim().to_string()).filter(|s| !s.is_empty());
    let mut definition = String::new();
    let mut source = None;
    for b in &c.blocks {
        if let Block::Paragraph { text, .. } = b {
            let t = text.trim();
            if let Some(s) = t
                .strip_prefix("[来源：")
                .or_else(|| t.strip_prefix("［来源："))
            {
                source = Some(s.trim_end_matches([']', '］']).to_string());
            } else if definition.is_empty() {
                definition = t.to_string();
            }
        }
    }
    c.term = Some(Term {
        term,
        english,
        definition,
        source,
    });
}

#[derive(Clone, Copy)]
enum PendingKind {
    Paragraph,
    Item,
    Note,
    Example,
    Continue,
}

fn line_kind(line: &str) -> PendingKind {
    if NOTE.is_match(line) {
        PendingKind::Note
    } else if EXAMPLE.is_match(line) {
        PendingKind::Example
    } else if ITEM_MARKER.is_match(line) {
        PendingKind::Item
    } else {
        PendingKind::Continue
    }
}

/// The marker of a Markdown list item as GB/T 1.1 writes it: `1)` stays, `-`/`*` → `——`.
fn list_marker(src: &str) -> String {
    let s = src.trim_start();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() {
        return format!("{digits})");
    }
    "——".to_string()
}

struct TableBuf {
    start: usize,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
}

impl TableBuf {
    fn new(start: usize) -> Self {
        TableBuf {
            start,
            header: Vec::new(),
            rows: Vec::new(),
            row: Vec::new(),
            cell: String::new(),
        }
    }

    fn end_cell(&mut self) {
        self.row
            .push(std::mem::take(&mut self.cell).trim().to_string());
    }

    fn end_row(&mut self, head: bool) {
        let row = std::mem::take(&mut self.row);
        if head {
            self.header = row;
        } else {
            self.rows.push(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "---\ncode: T/ZTAC 001.2-2023\ntitle: 测试\nkind: group\nstatus: current\nsource: reconstructed\n---\n";

    fn parse(body: &str) -> Parsed {
        parse_str(&format!("{HEAD}{body}"), "t.md")
    }

    #[test]
    fn builds_clause_tree_with_ids() {
        let p = parse(
            "## 前言\n\n本文件按照GB/T 1.1—2020起草。\n\n## 1 范围\n\n本文件规定了要求。\n\n## 5 流程\n\n### 5.1 受理\n\n订单应在20分钟内受理。\n\n### 5.2\n\n投诉应在48h内处理。\n",
        );
        let s = p.standard.expect("parsed");
        assert_eq!(s.code.to_string(), "T/ZTAC 001.2—2023");
        let nums: Vec<&str> = s.all_clauses().iter().map(|c| c.number.as_str()).collect();
        assert_eq!(nums, ["foreword", "1", "5", "5.1", "5.2"]);
        let c = s.clause("5.1").unwrap();
        assert_eq!(c.id, "T/ZTAC 001.2—2023#5.1");
        assert_eq!(c.provisions[0].id, "T/ZTAC 001.2—2023#5.1/p1");
        assert_eq!(c.provisions[0].kind, ProvisionType::Requirement);
        assert_eq!(c.provisions[0].pos.line, 20);
        assert_eq!(s.clause("5.2").unwrap().title, None);
    }

    #[test]
    fn list_items_inherit_lead_in_type() {
        let p = parse(
            "## 5 功能\n\n平台应具备以下功能：\na) 实名注册；\nb) 资质审核：\n   1) 身份核验；\n   2) 健康证核验；\nc) 订单管理，也可提供保险代购。\n",
        );
        let s = p.standard.unwrap();
        let c = s.clause("5").unwrap();
        let items: Vec<(&str, u8)> = c
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Item { marker, level, .. } => Some((marker.as_str(), *level)),
                _ => None,
            })
            .collect();
        assert_eq!(
            items,
            [("a)", 1), ("b)", 1), ("1)", 2), ("2)", 2), ("c)", 1)]
        );
        let kinds: Vec<(ProvisionType, bool)> =
            c.provisions.iter().map(|p| (p.kind, p.inherited)).collect();
        assert_eq!(kinds[1], (ProvisionType::Requirement, true));
        assert_eq!(kinds[3], (ProvisionType::Requirement, true));
        // c) has its own form (可) and keeps it.
        assert_eq!(kinds[5], (ProvisionType::Permission, false));
    }

    #[test]
    fn notes_examples_tables_and_terms() {
        let p = parse(
            "## 3 术语和定义\n\n### 3.1 安心码 anxin code\n\n赋予家政服务人员的三色码。\n\n[来源：DB33/T 2396]\n\n## 4 要求\n\n表1 订单状态\n\n| 状态 | 说明 |\n|---|---|\n| 待受理 | 已下单 |\n\n注1：本表为示意。\n\n示例：红码。\n",
        );
        let s = p.standard.unwrap();
        let t = s.clause("3.1").unwrap().term.clone().unwrap();
        assert_eq!(
            (t.term.as_str(), t.english.as_deref()),
            ("安心码", Some("anxin code"))
        );
        assert_eq!(t.source.as_deref(), Some("DB33/T 2396"));
        let b = &s.clause("4").unwrap().blocks;
        assert!(
            matches!(&b[0], Block::Table { number: Some(n), rows, .. } if n == "1" && rows.len() == 1),
            "{b:?}"
        );
        assert!(matches!(
            &b[1],
            Block::Note {
                number: Some(1),
                ..
            }
        ));
        assert!(matches!(&b[2], Block::Example { .. }));
    }

    #[test]
    fn heading_without_number_is_an_error_with_position() {
        let p = parse("## 1 范围\n\n文字。\n\n## 服务要求\n");
        let d = p
            .diagnostics
            .iter()
            .find(|d| d.code == "heading-number")
            .expect("diagnostic");
        assert_eq!((d.line, d.col), (12, 1));
    }

    #[test]
    fn annexes_and_annex_clauses() {
        let p = parse(
            "## 1 范围\n\n文字。\n\n## 附录A（资料性）事件日志字段\n\n### A.1 字段\n\n见表A.1。\n",
        );
        let s = p.standard.unwrap();
        let a = s.clause("A").unwrap();
        assert_eq!((a.kind, a.normative), (ClauseKind::Annex, Some(false)));
        assert_eq!(a.children[0].id, "T/ZTAC 001.2—2023#A.1");
    }

    #[test]
    fn non_utf8_points_at_the_byte() {
        let d = decode(b"---\ncode: x\n\xff\xfe", "g.md").unwrap_err();
        assert_eq!((d.code, d.line, d.col), ("encoding", 3, 1));
    }

    #[test]
    fn missing_or_unclosed_front_matter() {
        let p = parse_str("## 1 范围\n", "a.md");
        assert_eq!(p.diagnostics[0].code, "front-matter-missing");
        let p = parse_str("---\ncode: x\n", "a.md");
        assert!(p.diagnostics[0].message.contains("not closed"));
    }
}
