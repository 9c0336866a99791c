//! Clause-level diff of two parsed editions or revisions of a standard.
//!
//! Clauses are matched by number *and* by text, so a clause moved from 5.3 to 6.1 is
//! reported as moved (and modified, if its words changed), never as delete + add.
//! Cross-references are compared through the clause mapping: `见5.3` in the old text and
//! `见6.1` in the new one are the same reference when 5.3 became 6.1, so renumbering alone
//! does not mark every citing clause as changed (what Word's compare gets wrong).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::standard::lint::{XRef, xrefs};
use crate::standard::{ClauseKind, Provision, ProvisionType, Standard};

/// Similarity above which two clauses at different numbers are the same clause moved.
const MOVE_THRESHOLD: f64 = 0.55;
/// Similarity above which two clauses at the same number are the same clause edited.
const SAME_NUMBER_THRESHOLD: f64 = 0.35;
/// Similarity above which two sentences of matched clauses are the same provision.
const PROVISION_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
    Moved,
    MovedModified,
}

impl ChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Added => "新增",
            ChangeKind::Removed => "删除",
            ChangeKind::Modified => "修改",
            ChangeKind::Moved => "移动",
            ChangeKind::MovedModified => "移动并修改",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionChangeKind {
    /// A requirement that did not exist (new 应).
    NewRequirement,
    /// A requirement that no longer exists.
    RemovedRequirement,
    /// A weaker form became a stronger one (宜→应, 可→宜, 陈述→应).
    Strengthened,
    /// A stronger form became a weaker one (应→宜).
    Weakened,
    /// Same strength, negative flipped (应 ↔ 不应) or another same-rank change.
    Reversed,
    /// A non-requirement provision added (宜, 可 …).
    Added,
    /// A non-requirement provision removed.
    Removed,
}

impl ProvisionChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ProvisionChangeKind::NewRequirement => "新增要求",
            ProvisionChangeKind::RemovedRequirement => "删除要求",
            ProvisionChangeKind::Strengthened => "加严",
            ProvisionChangeKind::Weakened => "放宽",
            ProvisionChangeKind::Reversed => "反转",
            ProvisionChangeKind::Added => "新增条款",
            ProvisionChangeKind::Removed => "删除条款",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvisionChange {
    pub kind: ProvisionChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_type: Option<ProvisionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_type: Option<ProvisionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_text: Option<String>,
}

/// One piece of an inline diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// `equal`, `insert` or `delete`
    pub op: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseChange {
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// 前言, 引言, 参考文献 or 索引: informative elements, never technical changes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preliminary: bool,
    /// Text similarity of the matched pair (1.0 = identical), for moved/modified clauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Only punctuation/whitespace changed (and references were renumbered).
    pub editorial: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<Segment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provisions: Vec<ProvisionChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_text: Option<String>,
}

impl ClauseChange {
    /// A technical change: provisions added, removed or retyped, or normative text edited.
    pub fn is_technical(&self) -> bool {
        if self.preliminary {
            return false;
        }
        if !self.provisions.is_empty() {
            return true;
        }
        let has_text = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
        match self.kind {
            // A heading without text of its own is structure, not content.
            ChangeKind::Added => has_text(&self.new_text),
            ChangeKind::Removed => has_text(&self.old_text),
            ChangeKind::Moved => false,
            _ => !self.editorial,
        }
    }
}

/// A changed front-matter field.
#[derive(Debug, Clone, Serialize)]
pub struct MetaChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StandardDiff {
    pub old_code: String,
    pub new_code: String,
    pub old_label: String,
    pub new_label: String,
    pub meta: Vec<MetaChange>,
    pub changes: Vec<ClauseChange>,
    /// Old number → new number for every matched clause.
    pub renumbered: Vec<(String, String)>,
}

impl StandardDiff {
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.changes.is_empty()
    }

    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }
}

/// A clause reduced to what is compared: number, title, own text and provisions.
struct Unit<'a> {
    number: &'a str,
    preliminary: bool,
    title: Option<&'a str>,
    text: String,
    /// Text with cross-reference numbers blanked, for matching.
    key: String,
    provisions: &'a [Provision],
    order: usize,
}

fn units(s: &Standard) -> Vec<Unit<'_>> {
    s.all_clauses()
        .into_iter()
        .filter(|c| c.kind != ClauseKind::Contents)
        .enumerate()
        .map(|(order, c)| {
            let text = c.own_text();
            Unit {
                number: &c.number,
                preliminary: matches!(
                    c.kind,
                    ClauseKind::Foreword
                        | ClauseKind::Introduction
                        | ClauseKind::Bibliography
                        | ClauseKind::Index
                ),
                title: c.title.as_deref(),
                key: blank_xrefs(&format!("{}\n{}", c.title.as_deref().unwrap_or(""), text)),
                text,
                provisions: &c.provisions,
                order,
            }
        })
        .collect()
}

fn blank_xrefs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (r, x) in xrefs(text) {
        if matches!(x, XRef::Clause(_) | XRef::Chapter(_)) {
            out.push_str(&text[last..r.start]);
            out.push('#');
            last = r.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Rewrites clause cross-references of old text into the new numbering.
fn renumber_xrefs(text: &str, map: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (r, x) in xrefs(text) {
        let target = match &x {
            XRef::Clause(n) | XRef::Chapter(n) => n.as_str(),
            _ => continue,
        };
        if let Some(new) = map.get(target) {
            out.push_str(&text[last..r.start]);
            out.push_str(new);
            last = r.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Dice coefficient over character bigrams: cheap, order-tolerant, good for Chinese.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let grams = |s: &str| -> HashMap<(char, char), usize> {
        let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut m = HashMap::new();
        for w in chars.windows(2) {
            *m.entry((w[0], w[1])).or_insert(0) += 1;
        }
        if chars.len() == 1 {
            m.insert((chars[0], ' '), 1);
        }
        m
    };
    let (ga, gb) = (grams(a), grams(b));
    let total: usize = ga.values().sum::<usize>() + gb.values().sum::<usize>();
    if total == 0 {
        return 0.0;
    }
    let common: usize = ga
        .iter()
        .map(|(k, v)| (*v).min(gb.get(k).copied().unwrap_or(0)))
        .sum();
    2.0 * common as f64 / total as f64
}

fn is_editorial(a: &str, b: &str) -> bool {
    let strip = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric() || is_cjk(*c))
            .collect()
    };
    strip(a) == strip(b)
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

fn inline_diff(a: &str, b: &str) -> Vec<Segment> {
    let diff = TextDiff::from_chars(a, b);
    let mut out: Vec<Segment> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => "equal",
            ChangeTag::Insert => "insert",
            ChangeTag::Delete => "delete",
        };
        let v = change.value();
        match out.last_mut() {
            Some(last) if last.op == op => last.text.push_str(v),
            _ => out.push(Segment {
                op,
                text: v.to_string(),
            }),
        }
    }
    out
}

/// Compares two standards clause by clause.
pub fn diff(old: &Standard, new: &Standard, old_label: &str, new_label: &str) -> StandardDiff {
    let a = units(old);
    let b = units(new);
    let mut pair_of_old: HashMap<usize, usize> = HashMap::new();
    let mut taken_new: HashSet<usize> = HashSet::new();

    // 1. Identical content wherever it is (exact key match), nearest order first.
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, u) in b.iter().enumerate() {
        by_key.entry(u.key.as_str()).or_default().push(j);
    }
    for (i, u) in a.iter().enumerate() {
        if u.key.trim().is_empty() {
            continue;
        }
        if let Some(cands) = by_key.get(u.key.as_str())
            && let Some(&j) = cands
                .iter()
                .filter(|j| !taken_new.contains(j))
                .min_by_key(|&&j| (b[j].number != u.number, b[j].order.abs_diff(u.order)))
        {
            pair_of_old.insert(i, j);
            taken_new.insert(j);
        }
    }
    // 2. Same number, similar enough (an edited clause that stayed in place).
    let new_by_number: HashMap<&str, usize> =
        b.iter().enumerate().map(|(j, u)| (u.number, j)).collect();
    for (i, u) in a.iter().enumerate() {
        if pair_of_old.contains_key(&i) {
            continue;
        }
        if let Some(&j) = new_by_number.get(u.number)
            && !taken_new.contains(&j)
        {
            let sim = similarity(&u.key, &b[j].key);
            let same_title = u.title.is_some() && u.title == b[j].title;
            if sim >= SAME_NUMBER_THRESHOLD || same_title {
                pair_of_old.insert(i, j);
                taken_new.insert(j);
            }
        }
    }
    // 3. Moved clauses: best remaining pairs by similarity.
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (i, u) in a.iter().enumerate() {
        if pair_of_old.contains_key(&i) || u.key.trim().is_empty() {
            continue;
        }
        for (j, v) in b.iter().enumerate() {
            if taken_new.contains(&j) {
                continue;
            }
            let sim = similarity(&u.key, &v.key);
            if sim >= MOVE_THRESHOLD {
                candidates.push((sim, i, j));
            }
        }
    }
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    for (_, i, j) in candidates {
        if !pair_of_old.contains_key(&i) && !taken_new.contains(&j) {
            pair_of_old.insert(i, j);
            taken_new.insert(j);
        }
    }

    let map: HashMap<&str, &str> = pair_of_old
        .iter()
        .map(|(&i, &j)| (a[i].number, b[j].number))
        .collect();
    let mut changes: Vec<(usize, ClauseChange)> = Vec::new();
    let mut renumbered: Vec<(String, String)> = Vec::new();
    let mut matched: Vec<(usize, usize)> = pair_of_old.iter().map(|(&i, &j)| (i, j)).collect();
    matched.sort_by_key(|&(_, j)| j);
    for (i, j) in matched {
        let (u, v) = (&a[i], &b[j]);
        let old_text = renumber_xrefs(&format!("{}\n{}", u.title.unwrap_or(""), u.text), &map);
        let new_text = format!("{}\n{}", v.title.unwrap_or(""), v.text);
        let moved = u.number != v.number;
        if moved {
            renumbered.push((u.number.to_string(), v.number.to_string()));
        }
        let text_changed = old_text != new_text;
        if !moved && !text_changed {
            continue;
        }
        let provisions = if text_changed {
            provision_changes(u.provisions, v.provisions)
        } else {
            Vec::new()
        };
        let editorial = !text_changed || is_editorial(&old_text, &new_text);
        let kind = match (moved, text_changed) {
            (true, false) => ChangeKind::Moved,
            (true, true) => ChangeKind::MovedModified,
            _ => ChangeKind::Modified,
        };
        changes.push((
            b[j].order * 2 + 1,
            ClauseChange {
                kind,
                old_number: Some(u.number.to_string()),
                new_number: Some(v.number.to_string()),
                title: v.title.or(u.title).map(str::to_string),
                preliminary: v.preliminary,
                similarity: Some((similarity(&old_text, &new_text) * 1000.0).round() / 1000.0),
                editorial,
                inline: if text_changed {
                    inline_diff(u.text.as_str(), v.text.as_str())
                } else {
                    Vec::new()
                },
                provisions,
                old_text: Some(u.text.clone()),
                new_text: Some(v.text.clone()),
            },
        ));
    }
    for (j, v) in b.iter().enumerate() {
        if !taken_new.contains(&j) {
            changes.push((
                v.order * 2 + 1,
                ClauseChange {
                    kind: ChangeKind::Added,
                    old_number: None,
                    new_number: Some(v.number.to_string()),
                    title: v.title.map(str::to_string),
                    preliminary: v.preliminary,
                    similarity: None,
                    editorial: false,
                    inline: Vec::new(),
                    provisions: provision_changes(&[], v.provisions),
                    old_text: None,
                    new_text: Some(v.text.clone()),
                },
            ));
        }
    }
    for (i, u) in a.iter().enumerate() {
        if !pair_of_old.contains_key(&i) {
            // Place a removal just after the new clause that follows its old predecessor.
            let anchor = (0..i)
                .rev()
                .find_map(|k| pair_of_old.get(&k))
                .map(|&j| b[j].order * 2 + 2)
                .unwrap_or(0);
            changes.push((
                anchor,
                ClauseChange {
                    kind: ChangeKind::Removed,
                    old_number: Some(u.number.to_string()),
                    new_number: None,
                    title: u.title.map(str::to_string),
                    preliminary: u.preliminary,
                    similarity: None,
                    editorial: false,
                    inline: Vec::new(),
                    provisions: provision_changes(u.provisions, &[]),
                    old_text: Some(u.text.clone()),
                    new_text: None,
                },
            ));
        }
    }
    changes.sort_by_key(|(k, _)| *k);
    StandardDiff {
        old_code: old.code.to_string(),
        new_code: new.code.to_string(),
        old_label: old_label.to_string(),
        new_label: new_label.to_string(),
        meta: meta_changes(old, new),
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        renumbered,
    }
}

fn rank(t: ProvisionType) -> u8 {
    match t {
        ProvisionType::Requirement => 5,
        ProvisionType::Recommendation => 4,
        ProvisionType::Permission => 3,
        ProvisionType::Capability => 2,
        ProvisionType::Possibility => 1,
        ProvisionType::Statement => 0,
    }
}

fn is_normative(t: ProvisionType) -> bool {
    matches!(
        t,
        ProvisionType::Requirement | ProvisionType::Recommendation | ProvisionType::Permission
    )
}

/// Aligns the sentences of two versions of a clause and reports typed changes.
pub fn provision_changes(old: &[Provision], new: &[Provision]) -> Vec<ProvisionChange> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, p) in old.iter().enumerate() {
        for (j, q) in new.iter().enumerate() {
            let s = similarity(&p.text, &q.text);
            if s >= PROVISION_THRESHOLD {
                pairs.push((s, i, j));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
    let mut old_used = vec![false; old.len()];
    let mut new_used = vec![false; new.len()];
    let mut aligned: Vec<(usize, usize)> = Vec::new();
    for (_, i, j) in pairs {
        if !old_used[i] && !new_used[j] {
            old_used[i] = true;
            new_used[j] = true;
            aligned.push((i, j));
        }
    }
    aligned.sort_by_key(|&(_, j)| j);
    let mut out = Vec::new();
    for (i, j) in aligned {
        let (p, q) = (&old[i], &new[j]);
        if p.kind == q.kind && p.negative == q.negative {
            continue;
        }
        let kind = match rank(q.kind).cmp(&rank(p.kind)) {
            std::cmp::Ordering::Greater => ProvisionChangeKind::Strengthened,
            std::cmp::Ordering::Less => ProvisionChangeKind::Weakened,
            std::cmp::Ordering::Equal => ProvisionChangeKind::Reversed,
        };
        out.push(ProvisionChange {
            kind,
            old_type: Some(p.kind),
            new_type: Some(q.kind),
            old_text: Some(p.text.clone()),
            new_text: Some(q.text.clone()),
        });
    }
    for (j, q) in new.iter().enumerate() {
        if !new_used[j] && is_normative(q.kind) {
            out.push(ProvisionChange {
                kind: if q.kind == ProvisionType::Requirement {
                    ProvisionChangeKind::NewRequirement
                } else {
                    ProvisionChangeKind::Added
                },
                old_type: None,
                new_type: Some(q.kind),
                old_text: None,
                new_text: Some(q.text.clone()),
            });
        }
    }
    for (i, p) in old.iter().enumerate() {
        if !old_used[i] && is_normative(p.kind) {
            out.push(ProvisionChange {
                kind: if p.kind == ProvisionType::Requirement {
                    ProvisionChangeKind::RemovedRequirement
                } else {
                    ProvisionChangeKind::Removed
                },
                old_type: Some(p.kind),
                new_type: None,
                old_text: Some(p.text.clone()),
                new_text: None,
            });
        }
    }
    out
}

fn meta_changes(old: &Standard, new: &Standard) -> Vec<MetaChange> {
    let (a, b) = (&old.meta, &new.meta);
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let list = |v: &Vec<String>| v.join(", ");
    let fields: [(&'static str, String, String); 10] = [
        ("code", old.code.to_string(), new.code.to_string()),
        ("title", a.title.clone(), b.title.clone()),
        (
            "status",
            a.status.as_str().to_string(),
            b.status.as_str().to_string(),
        ),
        ("published", opt(&a.published), opt(&b.published)),
        ("effective", opt(&a.effective), opt(&b.effective)),
        ("replaces", list(&a.replaces), list(&b.replaces)),
        ("replaced_by", opt(&a.replaced_by), opt(&b.replaced_by)),
        (
            "normative_references",
            list(&a.normative_references),
            list(&b.normative_references),
        ),
        ("category", opt(&a.category), opt(&b.category)),
        ("department", opt(&a.department), opt(&b.department)),
    ];
    fields
        .into_iter()
        .filter(|(_, o, n)| o != n)
        .map(|(field, old, new)| MetaChange { field, old, new })
        .collect()
}
