//! The foreword paragraph GB/T 1.1—2020 requires of a revised edition, drafted from the
//! clause diff: "本文件代替…。与…相比，除结构调整和编辑性改动外，主要技术变化如下：a) …".

use serde::Serialize;

use super::diff::{ChangeKind, ClauseChange, ProvisionChangeKind, StandardDiff};
use crate::standard::Standard;

#[derive(Debug, Clone, Serialize)]
pub struct ChangeSummary {
    /// The full foreword text (replacement sentence + technical changes list).
    pub text: String,
    /// One line per technical change, without the list marker.
    pub technical: Vec<String>,
    /// Structural/editorial changes (renumbering, punctuation), listed for the drafter.
    pub editorial: Vec<String>,
}

fn edition_label(s: &Standard) -> String {
    match s.code.year {
        Some(y) => format!("{y}年版"),
        None => "原版".to_string(),
    }
}

fn name(c: &ClauseChange) -> String {
    match &c.title {
        Some(t) => format!("“{t}”"),
        None => format!(
            "{}条",
            c.new_number
                .as_deref()
                .or(c.old_number.as_deref())
                .unwrap_or("")
        ),
    }
}

/// How GB/T 1.1 cites a number: `第6章`, `附录B`, `6.1`.
fn cite(n: &str) -> String {
    if n.chars().all(|c| c.is_ascii_digit()) {
        format!("第{n}章")
    } else if n.len() == 1 && n.chars().all(|c| c.is_ascii_uppercase()) {
        format!("附录{n}")
    } else {
        n.to_string()
    }
}

/// `（见6.1，2023年版的5.3）`
fn where_(c: &ClauseChange, old_ed: &str) -> String {
    let new = c.new_number.as_deref().map(|n| format!("见{}", cite(n)));
    let old = c
        .old_number
        .as_deref()
        .map(|n| format!("{old_ed}的{}", cite(n)));
    match (c.kind, new, old) {
        (ChangeKind::Added, Some(n), _) => format!("（{n}）"),
        (ChangeKind::Removed, _, Some(o)) => format!("（见{o}）"),
        (_, Some(n), Some(o)) if c.old_number != c.new_number => format!("（{n}，{o}）"),
        (_, Some(n), _) => format!("（{n}）"),
        _ => String::new(),
    }
}

fn describe(c: &ClauseChange, old_ed: &str) -> Option<String> {
    let w = where_(c, old_ed);
    let has = |k: ProvisionChangeKind| c.provisions.iter().any(|p| p.kind == k);
    if !c.is_technical() {
        return None;
    }
    let line = match c.kind {
        ChangeKind::Added => format!("增加了{}的规定{w}", name(c)),
        ChangeKind::Removed => format!("删除了{}的规定{w}", name(c)),
        _ => {
            let mut parts = Vec::new();
            if has(ProvisionChangeKind::Strengthened) {
                parts.push("将推荐性或允许性条款改为要求");
            }
            if has(ProvisionChangeKind::Weakened) {
                parts.push("将要求放宽为推荐性或允许性条款");
            }
            if has(ProvisionChangeKind::NewRequirement) {
                parts.push("增加了要求");
            }
            if has(ProvisionChangeKind::RemovedRequirement) {
                parts.push("删除了要求");
            }
            if has(ProvisionChangeKind::Reversed) {
                parts.push("更改了要求的肯定或否定形式");
            }
            if parts.is_empty() {
                format!("更改了{}的规定{w}", name(c))
            } else {
                format!("更改了{}的规定，{}{w}", name(c), parts.join("，"))
            }
        }
    };
    Some(line)
}

/// Drafts the 前言 paragraph of `new`, which replaces `old`.
pub fn summarize(old: &Standard, diff: &StandardDiff) -> ChangeSummary {
    let old_ed = edition_label(old);
    let mut technical = Vec::new();
    let mut editorial = Vec::new();
    for c in &diff.changes {
        match describe(c, &old_ed) {
            Some(line) => technical.push(line),
            None => {
                let o = cite(c.old_number.as_deref().unwrap_or(""));
                let n = cite(c.new_number.as_deref().unwrap_or(""));
                editorial.push(match c.kind {
                    ChangeKind::Moved => format!("{}由{old_ed}的{o}调整为{n}", name(c)),
                    ChangeKind::Added => format!("增加了{}（见{n}）", name(c)),
                    ChangeKind::Removed => format!("删除了{}（见{old_ed}的{o}）", name(c)),
                    _ if c.preliminary => format!("{}已更新", name(c)),
                    _ => format!("{}作了编辑性修改（见{n}）", name(c)),
                });
            }
        }
    }
    let mut text = format!("本文件代替{}《{}》。\n", old.code, old.meta.title);
    if technical.is_empty() {
        text.push_str(&format!(
            "本文件与{}相比，除结构调整和编辑性改动外，没有技术变化。",
            old.code
        ));
    } else {
        text.push_str(&format!(
            "本文件与{}相比，除结构调整和编辑性改动外，主要技术变化如下：\n",
            old.code
        ));
        let n = technical.len();
        for (i, t) in technical.iter().enumerate() {
            let marker = list_marker(i);
            let end = if i + 1 == n { "。" } else { "；" };
            text.push_str(&format!("{marker}) {t}{end}\n"));
        }
    }
    ChangeSummary {
        text: text.trim_end().to_string(),
        technical,
        editorial,
    }
}

/// a … z, then aa, ab … (GB/T 1.1 letters items; long lists are rare but possible).
fn list_marker(i: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if i < 26 {
        (letters[i] as char).to_string()
    } else {
        format!(
            "{}{}",
            letters[(i / 26 - 1) % 26] as char,
            letters[i % 26] as char
        )
    }
}
