//! GB/T 1.1—2020 drafting-rule lint of one parsed standard.
//!
//! Each rule has a stable code (documented in `docs/lint-rules.md`) and a failing
//! fixture under `tests/fixtures/lint/`. Rules that need other standards (`replaces`,
//! unknown references, duplicate codes) live in [`super::collection`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use crate::diag::{Diagnostic, Pos};

use super::code::{Code, find_citations};
use super::provision::{Classifier, ProvisionType};
use super::{Block, Clause, ClauseKind, Standard, category};

/// Every rule this module (and the collection lint) can report: (code, severity, summary).
pub const RULES: &[(&str, &str, &str)] = &[
    ("missing-scope", "error", "chapter 1 范围 is missing"),
    (
        "missing-normative-references",
        "error",
        "chapter 2 规范性引用文件 is missing",
    ),
    ("missing-terms", "error", "chapter 3 术语和定义 is missing"),
    (
        "clause-order",
        "error",
        "a clause number is lower than the one before it",
    ),
    (
        "clause-skipped",
        "error",
        "a clause number skips one or more numbers",
    ),
    (
        "clause-duplicate",
        "error",
        "two clauses have the same number",
    ),
    (
        "clause-parent",
        "error",
        "a clause number does not extend its parent's number",
    ),
    (
        "clause-depth",
        "error",
        "deeper than a chapter and five levels of clauses",
    ),
    (
        "dangling-xref",
        "error",
        "a cross-reference to a clause, table, figure or annex that does not exist",
    ),
    (
        "provision-in-preliminary",
        "warning",
        "a requirement, recommendation or permission in 前言 or 引言",
    ),
    (
        "discouraged-form",
        "warning",
        "必须/须/不得/不可/严禁/禁止 instead of 应/不应",
    ),
    (
        "provision-in-note",
        "warning",
        "a requirement, recommendation or permission in a note or example",
    ),
    (
        "reference-not-listed",
        "warning",
        "a standard cited in the text is not in normative_references",
    ),
    (
        "reference-not-cited",
        "warning",
        "a normative reference is never cited in the text",
    ),
    (
        "references-mismatch",
        "warning",
        "chapter 2 and the front matter list different documents",
    ),
    (
        "lone-subclause",
        "warning",
        "a clause has exactly one subclause",
    ),
    (
        "hanging-paragraph",
        "warning",
        "a clause has both its own text and subclauses (悬置段)",
    ),
    (
        "empty-clause",
        "warning",
        "a clause with no text and no subclauses",
    ),
    (
        "effective-before-published",
        "warning",
        "effective date before the publication date",
    ),
    (
        "kind-mismatch",
        "warning",
        "kind does not match the code prefix",
    ),
    (
        "mandatory-mismatch",
        "warning",
        "mandatory does not match the code (GB vs GB/T)",
    ),
    (
        "category-unknown",
        "warning",
        "category is not a node of the GB/T 24421 system",
    ),
    ("term-definition", "warning", "a term without a definition"),
    (
        "reference-only-body",
        "error",
        "a reference_only entry has a body",
    ),
    (
        "empty-body",
        "error",
        "a standard with no body that is not reference_only",
    ),
    (
        "unknown-replaces",
        "warning",
        "replaces/replaced_by names a standard the library does not hold",
    ),
    (
        "unknown-reference",
        "warning",
        "a normative reference the library does not hold",
    ),
    (
        "duplicate-code",
        "error",
        "two files declare the same standard code",
    ),
    (
        "status-mismatch",
        "warning",
        "status contradicts replaced_by",
    ),
];

pub fn lint(s: &Standard) -> Vec<Diagnostic> {
    let mut l = Linter {
        s,
        file: &s.path,
        out: Vec::new(),
    };
    l.front_matter();
    if s.meta.reference_only {
        if let Some(c) = s.clauses.first() {
            l.out.push(
                Diagnostic::error(
                    "reference-only-body",
                    l.file,
                    c.pos,
                    "a reference_only entry must not have a body",
                )
                .with_help(
                    "remove the body, or remove `reference_only: true` to make it a full standard",
                ),
            );
        }
        return l.out;
    }
    if s.clauses.is_empty() {
        l.out.push(
            Diagnostic::error("empty-body", l.file, Pos::START, "the standard has no body")
                .with_help("write its chapters, or set `reference_only: true` for a metadata-only entry of a cited standard"),
        );
        return l.out;
    }
    l.required_chapters();
    l.numbering(&s.clauses, None);
    l.structure();
    l.provisions();
    l.references();
    l.cross_references();
    l.out
        .sort_by(|a, b| (a.line, a.col, a.code).cmp(&(b.line, b.col, b.code)));
    l.out
}

struct Linter<'a> {
    s: &'a Standard,
    file: &'a str,
    out: Vec<Diagnostic>,
}

impl Linter<'_> {
    fn front_matter(&mut self) {
        let s = self.s;
        let m = &s.meta;
        if let (Some(p), Some(e)) = (&m.published, &m.effective)
            && e < p
        {
            self.out.push(
                Diagnostic::warning(
                    "effective-before-published",
                    self.file,
                    s.meta_pos("effective"),
                    format!("effective date {e} is before the publication date {p}"),
                )
                .with_help("a standard takes effect on or after the day it is published"),
            );
        }
        if let Some(k) = s.code.implied_kind()
            && k != m.kind
        {
            self.out.push(
                Diagnostic::warning(
                    "kind-mismatch",
                    self.file,
                    s.meta_pos("kind"),
                    format!(
                        "kind is `{}` but the code {} is a {} standard",
                        m.kind.as_str(),
                        s.code,
                        k.as_str()
                    ),
                )
                .with_help(format!("set `kind: {}`", k.as_str())),
            );
        }
        let implied = s.code.implies_mandatory();
        if m.mandatory != implied && s.code.implied_kind().is_some() {
            self.out.push(
                Diagnostic::warning(
                    "mandatory-mismatch",
                    self.file,
                    s.meta_pos(if m.mandatory { "mandatory" } else { "code" }),
                    if m.mandatory {
                        format!(
                            "`mandatory: true` but {} is a recommended (…/T) standard",
                            s.code
                        )
                    } else {
                        format!(
                            "{} is a mandatory standard but `mandatory` is not true",
                            s.code
                        )
                    },
                )
                .with_help("mandatory standards are GB / DBxx without /T"),
            );
        }
        if let Some(c) = &m.category
            && let Some(why) = category::check(c)
        {
            self.out.push(Diagnostic::warning(
                "category-unknown",
                self.file,
                s.meta_pos("category"),
                why,
            ));
        }
    }

    fn required_chapters(&mut self) {
        let chapters: HashMap<&str, &Clause> = self
            .s
            .clauses
            .iter()
            .filter(|c| c.kind == ClauseKind::Chapter)
            .map(|c| (c.number.as_str(), c))
            .collect();
        let first = self.s.clauses.first().map(|c| c.pos).unwrap_or(Pos::START);
        for (n, title, code) in [
            ("1", "范围", "missing-scope"),
            ("2", "规范性引用文件", "missing-normative-references"),
            ("3", "术语和定义", "missing-terms"),
        ] {
            match chapters.get(n) {
                Some(c) if c.title.as_deref().is_some_and(|t| t.contains(title)) => {}
                Some(c) => self.out.push(
                    Diagnostic::error(code, self.file, c.pos, format!("chapter {n} must be `{title}`, found `{}`", c.title.as_deref().unwrap_or("")))
                        .with_help(format!("GB/T 1.1—2020 requires chapter {n} {title}; renumber the chapters")),
                ),
                None => self.out.push(
                    Diagnostic::error(code, self.file, first, format!("chapter {n} {title} is missing"))
                        .with_help(match n {
                            "2" => "add `## 2 规范性引用文件` with 本文件没有规范性引用文件。 if there are none".to_string(),
                            "3" => "add `## 3 术语和定义` with 本文件没有需要界定的术语和定义。 if there are none".to_string(),
                            _ => format!("add `## {n} {title}`"),
                        }),
                ),
            }
        }
    }

    /// Numbers under one parent: consecutive from 1 (A, B, … for annexes), unique,
    /// extending the parent's number.
    fn numbering(&mut self, siblings: &[Clause], parent: Option<&Clause>) {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut last_chapter = 0u32;
        let mut last_annex: Option<char> = None;
        for c in siblings {
            match c.kind {
                ClauseKind::Chapter | ClauseKind::Clause => {
                    let parts: Vec<&str> = c.number.split('.').collect();
                    let expected_prefix = parent.map(|p| p.number.as_str());
                    let prefix = parts[..parts.len() - 1].join(".");
                    match expected_prefix {
                        Some(pp) if prefix != pp => {
                            self.out.push(
                                Diagnostic::error("clause-parent", self.file, c.pos, format!("clause {} is inside {} but its number does not extend {pp}", c.number, pp))
                                    .with_help(format!("number it {pp}.N, or move it under {prefix}")),
                            );
                            continue;
                        }
                        None if parts.len() > 1 => {
                            self.out.push(
                                Diagnostic::error(
                                    "clause-parent",
                                    self.file,
                                    c.pos,
                                    format!(
                                        "clause {} appears before its chapter/clause {prefix}",
                                        c.number
                                    ),
                                )
                                .with_help(format!("add the heading {prefix} above it")),
                            );
                            continue;
                        }
                        _ => {}
                    }
                    if !seen.insert(&c.number) {
                        self.out.push(
                            Diagnostic::error(
                                "clause-duplicate",
                                self.file,
                                c.pos,
                                format!("clause number {} is used twice", c.number),
                            )
                            .with_help("renumber the clauses so that each number is unique"),
                        );
                        continue;
                    }
                    let n: u32 = parts.last().and_then(|p| p.parse().ok()).unwrap_or(0);
                    if n <= last_chapter {
                        self.out.push(
                            Diagnostic::error(
                                "clause-order",
                                self.file,
                                c.pos,
                                format!(
                                    "clause {} comes after {}{}",
                                    c.number,
                                    if prefix.is_empty() {
                                        String::new()
                                    } else {
                                        format!("{prefix}.")
                                    },
                                    last_chapter
                                ),
                            )
                            .with_help("clauses must appear in ascending order"),
                        );
                    } else if n > last_chapter + 1 {
                        let missing = format!(
                            "{}{}",
                            if prefix.is_empty() {
                                String::new()
                            } else {
                                format!("{prefix}.")
                            },
                            last_chapter + 1
                        );
                        self.out.push(
                            Diagnostic::error(
                                "clause-skipped",
                                self.file,
                                c.pos,
                                format!("clause {} skips {missing}", c.number),
                            )
                            .with_help("number clauses consecutively from 1"),
                        );
                    }
                    last_chapter = last_chapter.max(n);
                }
                ClauseKind::Annex => {
                    let letter = c.number.chars().next().unwrap_or('A');
                    let expected = last_annex.map(|l| (l as u8 + 1) as char).unwrap_or('A');
                    if !seen.insert(&c.number) {
                        self.out.push(Diagnostic::error(
                            "clause-duplicate",
                            self.file,
                            c.pos,
                            format!("附录{} is used twice", c.number),
                        ));
                    } else if letter < expected {
                        self.out.push(Diagnostic::error(
                            "clause-order",
                            self.file,
                            c.pos,
                            format!(
                                "附录{letter} comes after 附录{}",
                                (expected as u8 - 1) as char
                            ),
                        ));
                    } else if letter > expected {
                        self.out.push(
                            Diagnostic::error(
                                "clause-skipped",
                                self.file,
                                c.pos,
                                format!("附录{letter} skips 附录{expected}"),
                            )
                            .with_help("letter annexes consecutively from A"),
                        );
                    }
                    last_annex = Some(last_annex.map_or(letter, |l| l.max(letter)));
                }
                _ => {}
            }
            self.numbering(&c.children, Some(c));
        }
    }

    fn structure(&mut self) {
        for c in self.s.all_clauses() {
            let subclauses = c
                .children
                .iter()
                .filter(|k| k.kind == ClauseKind::Clause)
                .count();
            if subclauses == 1 {
                let only = &c.children[0];
                self.out.push(
                    Diagnostic::warning("lone-subclause", self.file, only.pos, format!("{} has only one subclause ({})", describe(c), only.number))
                        .with_help("GB/T 1.1—2020: a clause is subdivided into at least two subclauses; merge it into its parent or add a sibling"),
                );
            }
            let own_text = c.blocks.iter().any(|b| !matches!(b, Block::Note { .. }));
            let lead_in_allowed = c.number == "3" || c.kind == ClauseKind::Annex;
            if subclauses > 0 && own_text && !lead_in_allowed {
                self.out.push(
                    Diagnostic::warning("hanging-paragraph", self.file, c.blocks[0].pos(), format!("{} has text of its own and subclauses (悬置段)", describe(c)))
                        .with_help("move the text into a new first subclause (e.g. 总则/通用要求) so that every paragraph can be cited by number"),
                );
            }
            if c.is_empty() && c.kind != ClauseKind::Contents {
                self.out.push(
                    Diagnostic::warning(
                        "empty-clause",
                        self.file,
                        c.pos,
                        format!("{} is empty", describe(c)),
                    )
                    .with_help("write its text, or remove the heading"),
                );
            }
            if let Some(t) = &c.term
                && t.definition.is_empty()
            {
                self.out.push(Diagnostic::warning(
                    "term-definition",
                    self.file,
                    c.pos,
                    format!("term {} ({}) has no definition", c.number, t.term),
                ));
            }
        }
    }

    fn provisions(&mut self) {
        let classifier = Classifier::global();
        // 前言/引言 are top-level elements: everything under one is preliminary.
        let clauses = self.s.clauses.iter().flat_map(|top| {
            top.walk()
                .into_iter()
                .map(move |c| (top.kind.is_preliminary(), c))
        });
        for (preliminary, c) in clauses {
            for p in &c.provisions {
                if p.inherited {
                    continue;
                }
                if preliminary
                    && matches!(
                        p.kind,
                        ProvisionType::Requirement
                            | ProvisionType::Recommendation
                            | ProvisionType::Permission
                    )
                {
                    self.out.push(
                        Diagnostic::warning("provision-in-preliminary", self.file, p.pos, format!("{} contains a {} ({}): `{}`", describe(c), p.kind.label(), p.trigger.as_deref().unwrap_or(""), p.text))
                            .with_help("前言 and 引言 carry no requirements, recommendations or permissions; move it into a numbered clause"),
                    );
                }
                for f in p.forms.iter().filter(|f| f.discouraged) {
                    let better = if f.negative { "不应" } else { "应" };
                    let pos = p.pos.advance(p.text.get(..f.offset).unwrap_or_default());
                    self.out.push(
                        Diagnostic::warning("discouraged-form", self.file, pos, format!("`{}` is not a GB/T 1.1—2020 verbal form; write `{better}`", f.word))
                            .with_help("GB/T 1.1—2020 附录C: requirements use 应 / 不应 (equivalents 应该, 只准许 / 不应该, 不准许)"),
                    );
                }
            }
            for b in &c.blocks {
                let (text, what) = match b {
                    Block::Note { text, .. } => (text, "note (注)"),
                    Block::Example { text, .. } => (text, "example (示例)"),
                    _ => continue,
                };
                let cl = classifier.classify(text);
                if matches!(
                    cl.kind,
                    ProvisionType::Requirement
                        | ProvisionType::Recommendation
                        | ProvisionType::Permission
                ) {
                    self.out.push(
                        Diagnostic::warning("provision-in-note", self.file, b.pos(), format!("a {what} contains a {} ({})", cl.kind.label(), cl.trigger.as_deref().unwrap_or("")))
                            .with_help("notes and examples are informative; move the provision into the clause text"),
                    );
                }
            }
        }
    }

    fn references(&mut self) {
        let s = self.s;
        let listed: Vec<(usize, Code)> = s
            .meta
            .normative_references
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Code::parse(r).ok().map(|c| (i, c)))
            .collect();
        for (i, r) in s.meta.normative_references.iter().enumerate() {
            if let Err(e) = Code::parse(r) {
                self.out.push(Diagnostic::warning(
                    "reference-not-listed",
                    self.file,
                    s.meta_pos(&format!("normative_references.{i}")),
                    e.to_string(),
                ));
            }
        }
        let mut cited: HashSet<usize> = HashSet::new();
        let mut chapter2: Vec<(Code, Pos)> = Vec::new();
        for top in &s.clauses {
            // Informative places may cite documents that are not normative references.
            let informative_annex = top.kind == ClauseKind::Annex && top.normative == Some(false);
            let skip = informative_annex
                || matches!(
                    top.kind,
                    ClauseKind::Foreword
                        | ClauseKind::Introduction
                        | ClauseKind::Bibliography
                        | ClauseKind::Index
                );
            let is_ch2 = top.kind == ClauseKind::Chapter && top.number == "2";
            for c in top.walk() {
                for b in &c.blocks {
                    let text = b.text();
                    let informative_block = matches!(b, Block::Note { .. } | Block::Example { .. });
                    for (range, code) in find_citations(&text) {
                        let pos = b.pos().advance(&text[..range.start]);
                        if is_ch2 {
                            chapter2.push((code, pos));
                            continue;
                        }
                        if skip || s.code.matches(&code) || code.matches(&s.code) {
                            continue;
                        }
                        match listed.iter().find(|(_, l)| l.matches(&code) || code.matches(l)) {
                            Some((i, _)) => {
                                cited.insert(*i);
                            }
                            None if informative_block => {}
                            None => self.out.push(
                                Diagnostic::warning("reference-not-listed", self.file, pos, format!("{code} is cited but not listed in normative_references"))
                                    .with_help(format!("add `- {code}` to normative_references and to chapter 2, or cite it informatively in 参考文献")),
                            ),
                        }
                    }
                }
            }
        }
        for (i, code) in &listed {
            if !cited.contains(i) {
                self.out.push(
                    Diagnostic::warning(
                        "reference-not-cited",
                        self.file,
                        s.meta_pos(&format!("normative_references.{i}")),
                        format!(
                            "{code} is listed in normative_references but never cited in the text"
                        ),
                    )
                    .with_help(
                        "cite it where it applies (e.g. 应符合…的规定), or remove it from the list",
                    ),
                );
            }
        }
        let ch2_exists = s
            .clauses
            .iter()
            .any(|c| c.kind == ClauseKind::Chapter && c.number == "2");
        if ch2_exists {
            for (code, pos) in &chapter2 {
                if !listed
                    .iter()
                    .any(|(_, l)| l.matches(code) || code.matches(l))
                {
                    self.out.push(
                        Diagnostic::warning("references-mismatch", self.file, *pos, format!("{code} is listed in chapter 2 but not in front matter normative_references"))
                            .with_help("keep chapter 2 and normative_references the same"),
                    );
                }
            }
            for (i, code) in &listed {
                if !chapter2
                    .iter()
                    .any(|(c, _)| c.matches(code) || code.matches(c))
                {
                    self.out.push(
                        Diagnostic::warning(
                            "references-mismatch",
                            self.file,
                            s.meta_pos(&format!("normative_references.{i}")),
                            format!(
                                "{code} is in normative_references but not listed in chapter 2"
                            ),
                        )
                        .with_help("add it to chapter 2 规范性引用文件 with its title"),
                    );
                }
            }
        }
    }

    fn cross_references(&mut self) {
        let s = self.s;
        let mut clauses: HashSet<&str> = HashSet::new();
        let mut tables: BTreeSet<String> = BTreeSet::new();
        let mut figures: BTreeSet<String> = BTreeSet::new();
        for c in s.all_clauses() {
            clauses.insert(&c.number);
            for b in &c.blocks {
                match b {
                    Block::Table {
                        number: Some(n), ..
                    } => {
                        tables.insert(n.clone());
                    }
                    Block::Figure { number, .. } => {
                        figures.insert(number.clone());
                    }
                    _ => {}
                }
            }
        }
        for c in s.all_clauses() {
            for b in &c.blocks {
                let text = b.text();
                let citations: Vec<std::ops::Range<usize>> =
                    find_citations(&text).into_iter().map(|(r, _)| r).collect();
                for (range, target) in xrefs(&text) {
                    // `GB/T 22239—2019的8.1` refers to another document.
                    if citations
                        .iter()
                        .any(|r| r.end <= range.start && range.start - r.end <= 4)
                    {
                        continue;
                    }
                    let (exists, what) = match &target {
                        XRef::Clause(n) => (clauses.contains(n.as_str()), format!("clause {n}")),
                        XRef::Chapter(n) => (clauses.contains(n.as_str()), format!("第{n}章")),
                        XRef::Table(n) => (tables.contains(n), format!("表{n}")),
                        XRef::Figure(n) => (figures.contains(n), format!("图{n}")),
                        XRef::Annex(l) => (clauses.contains(l.as_str()), format!("附录{l}")),
                    };
                    if !exists {
                        let pos = b.pos().advance(&text[..range.start]);
                        self.out.push(
                            Diagnostic::error(
                                "dangling-xref",
                                self.file,
                                pos,
                                format!(
                                    "cross-reference to {what}, which does not exist in {}",
                                    s.code
                                ),
                            )
                            .with_help("fix the number, or add the missing clause/table/annex"),
                        );
                    }
                }
            }
        }
    }
}

fn describe(c: &Clause) -> String {
    match c.kind {
        ClauseKind::Chapter => format!("chapter {}", c.number),
        ClauseKind::Annex => format!("附录{}", c.number),
        ClauseKind::Clause => format!("clause {}", c.number),
        _ => c.title.clone().unwrap_or_else(|| c.number.clone()),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum XRef {
    Clause(String),
    Chapter(String),
    Table(String),
    Figure(String),
    Annex(String),
}

static XREF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:见|按|按照|依照|依据|符合|满足|参照|参见|遵照|遵守|执行|根据|同)\s*(?P<clause>(?:\d+|[A-Z])(?:\.\d+)+)(?P<after>.?)",
        r"|(?P<clause2>(?:\d+|[A-Z])(?:\.\d+)+)\s*(?:的规定|的要求|规定的|所述)",
        r"|第\s*(?P<chapter>\d+)\s*章",
        r"|表\s*(?P<table>[A-Z]\.\d+|\d+)",
        r"|图\s*(?P<figure>[A-Z]\.\d+|\d+)",
        r"|附录\s*(?P<annex>[A-Z])",
    ))
    .expect("static regex")
});

/// Cross-references in running text, with their byte ranges.
pub fn xrefs(text: &str) -> Vec<(std::ops::Range<usize>, XRef)> {
    let mut out = Vec::new();
    for c in XREF_RE.captures_iter(text) {
        if let Some(m) = c.name("clause") {
            // `满足1.5倍` is a number, not a clause: accept only a clause-like follower.
            let after = c.name("after").map(|a| a.as_str()).unwrap_or("");
            let ok = after.is_empty()
                || after
                    .chars()
                    .all(|ch| "，。；：、）)的中条章和或及至所~—-（( \n".contains(ch));
            if ok {
                out.push((m.range(), XRef::Clause(m.as_str().to_string())));
            }
        } else if let Some(m) = c.name("clause2") {
            out.push((m.range(), XRef::Clause(m.as_str().to_string())));
        } else if let Some(m) = c.name("chapter") {
            out.push((m.range(), XRef::Chapter(m.as_str().to_string())));
        } else if let Some(m) = c.name("table") {
            out.push((m.range(), XRef::Table(m.as_str().to_string())));
        } else if let Some(m) = c.name("figure") {
            out.push((m.range(), XRef::Figure(m.as_str().to_string())));
        } else if let Some(m) = c.name("annex") {
            out.push((m.range(), XRef::Annex(m.as_str().to_string())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("应符合5.3的规定。", Some(XRef::Clause("5.3".into())) ; "clause rule")]
    #[test_case("见6.2.1。", Some(XRef::Clause("6.2.1".into())) ; "see clause")]
    #[test_case("按表1执行。", Some(XRef::Table("1".into())) ; "table")]
    #[test_case("见附录B。", Some(XRef::Annex("B".into())) ; "annex")]
    #[test_case("按第5章。", Some(XRef::Chapter("5".into())) ; "chapter")]
    #[test_case("满足1.5倍负荷。", None ; "number not clause")]
    #[test_case("表格应清晰。", None ; "word table")]
    fn finds_xrefs(text: &str, expected: Option<XRef>) {
        let got = xrefs(text).into_iter().map(|(_, x)| x).next();
        assert_eq!(got, expected);
    }
}
