//! Standards as structured documents: the model, the parser, the lint.
//!
//! Data flows one way: a Markdown file is parsed ([`parse`]) into a [`Standard`]
//! (front matter + clause tree + typed provisions), then linted ([`lint`]) alone and
//! within a [`Collection`] (cross-document rules such as `replaces`). Nothing here
//! touches the network, the database or git; later layers (library, search, audit)
//! consume the model.

pub mod category;
pub mod code;
pub mod collection;
pub mod docx;
pub mod front_matter;
pub mod lint;
pub mod parse;
pub mod provision;
pub mod synth;

pub use code::{Code, Kind};
pub use collection::Collection;
pub use front_matter::{FrontMatter, Status};
pub use provision::{Classification, Classifier, ProvisionType};

use serde::Serialize;

use crate::diag::Pos;

/// One standard edition, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Standard {
    /// Path as given to the loader (used in diagnostics).
    pub path: String,
    pub code: Code,
    pub meta: FrontMatter,
    /// Top-level elements in document order: 前言, 引言, chapters, annexes, 参考文献.
    pub clauses: Vec<Clause>,
    /// File positions of front-matter keys and list items (`normative_references.2`).
    #[serde(skip)]
    pub meta_pos: std::collections::BTreeMap<String, Pos>,
    /// Hash of the source text: tells derived data (the search index) what changed.
    #[serde(skip)]
    pub source_hash: u64,
}

impl Standard {
    /// Position of a front-matter key or list item, falling back to the file start.
    pub fn meta_pos(&self, key: &str) -> Pos {
        self.meta_pos.get(key).copied().unwrap_or(Pos::START)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClauseKind {
    Foreword,
    Introduction,
    Chapter,
    Clause,
    Annex,
    Bibliography,
    Index,
    Contents,
}

impl ClauseKind {
    /// Unnumbered elements of GB/T 1.1 that carry no provisions.
    pub fn is_preliminary(self) -> bool {
        matches!(self, ClauseKind::Foreword | ClauseKind::Introduction)
    }
}

/// A chapter, clause, annex or unnumbered element.
#[derive(Debug, Clone, Serialize)]
pub struct Clause {
    /// `T/ZTAC 001.2—2023#6.3.2`
    pub id: String,
    /// URL-safe form of the ID: `t-ztac-001.2-2023_6.3.2`
    pub slug: String,
    /// `6.3.2`, `A.1`, `A` (annex), `foreword`
    pub number: String,
    pub kind: ClauseKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// 1 for chapters/annexes/unnumbered elements, +1 per level.
    pub depth: usize,
    pub pos: Pos,
    /// `（规范性）` annex; `None` for everything but annexes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normative: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<Term>,
    pub blocks: Vec<Block>,
    pub provisions: Vec<Provision>,
    pub children: Vec<Clause>,
}

impl Clause {
    /// This clause and all its descendants, depth-first in document order.
    pub fn walk(&self) -> Vec<&Clause> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.children.is_empty()
    }

    /// The clause's own text (not its subclauses'), one block per line, with list
    /// markers and 注/示例 labels: what history, diff and search compare and index.
    pub fn own_text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            let t = match b {
                Block::Item { marker, text, .. } => format!("{marker} {text}"),
                Block::Note { text, .. } => format!("注：{text}"),
                Block::Example { text, .. } => format!("示例：{text}"),
                Block::Table { number, title, .. } => {
                    format!(
                        "表{} {}\n{}",
                        number.as_deref().unwrap_or(""),
                        title.as_deref().unwrap_or(""),
                        b.text()
                    )
                }
                _ => b.text(),
            };
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&t);
        }
        out
    }
}

/// A term entry in chapter 3 (术语和定义).
#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub term: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub english: Option<String>,
    pub definition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A block of a clause's body.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: String,
        pos: Pos,
    },
    /// `a)`, `1)`, `——` items; level 1 or 2.
    Item {
        marker: String,
        level: u8,
        text: String,
        pos: Pos,
    },
    Note {
        #[serde(skip_serializing_if = "Option::is_none")]
        number: Option<u32>,
        text: String,
        pos: Pos,
    },
    Example {
        #[serde(skip_serializing_if = "Option::is_none")]
        number: Option<u32>,
        text: String,
        pos: Pos,
    },
    Table {
        /// `1`, `A.1`; `None` for a table without a caption.
        #[serde(skip_serializing_if = "Option::is_none")]
        number: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        pos: Pos,
    },
    Figure {
        number: String,
        title: String,
        pos: Pos,
    },
    Code {
        text: String,
        pos: Pos,
    },
}

impl Block {
    pub fn pos(&self) -> Pos {
        match self {
            Block::Paragraph { pos, .. }
            | Block::Item { pos, .. }
            | Block::Note { pos, .. }
            | Block::Example { pos, .. }
            | Block::Table { pos, .. }
            | Block::Figure { pos, .. }
            | Block::Code { pos, .. } => *pos,
        }
    }

    /// Running text of the block (table cells joined), for cross-references and search.
    pub fn text(&self) -> String {
        match self {
            Block::Paragraph { text, .. }
            | Block::Item { text, .. }
            | Block::Note { text, .. }
            | Block::Example { text, .. }
            | Block::Code { text, .. } => text.clone(),
            Block::Table { header, rows, .. } => {
                let mut s = header.join(" ");
                for r in rows {
                    s.push('\n');
                    s.push_str(&r.join(" "));
                }
                s
            }
            Block::Figure { title, .. } => title.clone(),
        }
    }
}

/// A sentence-level provision with its type.
#[derive(Debug, Clone, Serialize)]
pub struct Provision {
    /// `<clause id>/p<n>`
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: ProvisionType,
    pub negative: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// True when a list item took its type from the lead-in sentence of its list.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inherited: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<provision::Form>,
    pub pos: Pos,
}

impl Provision {
    /// URL-safe slug: `t-ztac-001.2-2023_6.3.2_p3`.
    pub fn slug(&self) -> String {
        slug_of_id(&self.id)
    }
}

impl Standard {
    /// All clauses, depth-first in document order.
    pub fn all_clauses(&self) -> Vec<&Clause> {
        self.clauses.iter().flat_map(|c| c.walk()).collect()
    }

    /// Finds a clause by number (`6.3.2`, `A.1`, `foreword`).
    pub fn clause(&self, number: &str) -> Option<&Clause> {
        let number = number.trim();
        self.all_clauses()
            .into_iter()
            .find(|c| c.number == number || c.number.eq_ignore_ascii_case(number))
    }

    pub fn provisions(&self) -> impl Iterator<Item = &Provision> {
        self.all_clauses()
            .into_iter()
            .flat_map(|c| c.provisions.iter())
    }

    /// Number of numbered clauses (chapters, clauses, annexes and annex clauses).
    pub fn clause_count(&self) -> usize {
        self.all_clauses()
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    ClauseKind::Chapter | ClauseKind::Clause | ClauseKind::Annex
                )
            })
            .count()
    }

    /// Provision counts by type, in [`ProvisionType::ALL`] order.
    pub fn provision_counts(&self) -> [usize; 6] {
        let mut counts = [0; 6];
        for p in self.provisions() {
            counts[p.kind as usize] += 1;
        }
        counts
    }

    pub fn is_reference_only(&self) -> bool {
        self.meta.reference_only
    }
}

/// Clause ID for `number` in the standard `code`.
pub fn clause_id(code: &Code, number: &str) -> String {
    format!("{code}#{number}")
}

/// URL-safe slug of a clause: `t-ztac-001.2-2023_6.3.2`.
pub fn clause_slug(code: &Code, number: &str) -> String {
    format!("{}_{}", code.slug(), number.to_lowercase())
}

/// URL-safe slug of any ID: `T/ZTAC 001.2—2023#6.3.2/p3` → `t-ztac-001.2-2023_6.3.2_p3`.
pub fn slug_of_id(id: &str) -> String {
    let (code, rest) = id.split_once('#').unwrap_or((id, ""));
    let code = Code::parse(code)
        .map(|c| c.slug())
        .unwrap_or_else(|_| code::slugify(code));
    if rest.is_empty() {
        return code;
    }
    format!("{code}_{}", rest.replace('/', "_").to_lowercase())
}

/// Splits a user's target into (standard, clause): `CODE#6.3`, or a slug `code_6.3`.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    if let Some((c, n)) = target.split_once('#') {
        return (c, Some(n));
    }
    match target.split_once('_') {
        Some((c, n)) if !c.contains(' ') && !n.is_empty() => (c, Some(n)),
        _ => (target, None),
    }
}
