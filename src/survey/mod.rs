//! Satisfaction surveys: definitions, responses, validity, statistics, and the
//! 问卷星 (Wenjuanxing) import.
//!
//! Data flows one way: a definition (YAML, [`Survey::from_yaml`]) and responses
//! (imported with [`wjx`], later collected online or by phone) → [`validity`] marks
//! each response valid or not, with reasons, never dropping one → [`stats`] computes
//! the figures from the valid ones. The formulas are in `docs/surveys.md`.

pub mod demo;
pub mod export;
pub mod report;
pub mod sample;
pub mod stats;
pub mod stored;
pub mod validity;
pub mod wjx;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The five answers of a satisfaction question and their scores.
pub const LIKERT: [(&str, u8); 5] = [
    ("非常满意", 5),
    ("满意", 4),
    ("一般", 3),
    ("不满意", 2),
    ("非常不满意", 1),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 5-point satisfaction: 非常满意 5 … 非常不满意 1.
    Likert,
    Single,
    Multiple,
    /// A grid of satisfaction items sharing one stem (`rows:`); each row becomes a
    /// Likert question `ID.N` when the definition is read.
    Matrix,
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub kind: Kind,
    /// Choice texts (single / multiple); Likert questions have [`LIKERT`].
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default = "yes")]
    pub required: bool,
    /// Counts towards the satisfaction score (Likert questions only; default yes).
    #[serde(default)]
    pub scored: Option<bool>,
    /// The items of a matrix question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<String>,
    /// Clauses this question gives evidence for (a return visit's questions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clauses: Vec<String>,
    /// For a row of a matrix: the matrix's id (forms draw the rows as one grid).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For a row of a matrix: the row's own text (问卷星 heads its column `N(row)`).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
}

fn yes() -> bool {
    true
}

impl Question {
    pub fn is_scored(&self) -> bool {
        self.kind == Kind::Likert && self.scored.unwrap_or(true)
    }

    /// The option texts answers are read against.
    pub fn choices(&self) -> Vec<String> {
        match self.kind {
            Kind::Likert => LIKERT.iter().map(|(t, _)| t.to_string()).collect(),
            _ => self.options.clone(),
        }
    }
}

/// A survey definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default = "one")]
    pub version: u32,
    /// Clauses the survey gives evidence for (`CODE#NUMBER`).
    #[serde(default)]
    pub clauses: Vec<String>,
    /// The 总体满意程度 question (DB3301/T 0441—2024, 7.2 a): 满意度 is its
    /// top-2-box, and a response without it is not valid (7.3 a).
    #[serde(default)]
    pub overall: Option<String>,
    pub questions: Vec<Question>,
    /// Marks a model to derive surveys from (`return-visit`: the return visit
    /// drawn from an audit) rather than a survey to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The validity rules, when they differ from [`validity::Rules::default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValiditySettings>,
}

fn one() -> u32 {
    1
}

/// A definition's validity rules (`validity:`), shown in its report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValiditySettings {
    /// Online answers faster than this are invalid; 0: no limit.
    #[serde(default = "sixty")]
    pub min_seconds: u32,
    /// Same contact and answers within this many hours: a duplicate.
    #[serde(default = "day")]
    pub duplicate_window_hours: u32,
    /// Flag straight-lining from this many scored questions (off when absent).
    #[serde(default)]
    pub straight_line_items: Option<usize>,
}

fn sixty() -> u32 {
    60
}

fn day() -> u32 {
    24
}

/// One answer. Choices are indexes into [`Question::choices`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Choice(usize),
    Choices(Vec<usize>),
    Text(String),
}

/// How a response was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Phone,
    Other,
}

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Online => "网上",
            Channel::Phone => "电话",
            Channel::Other => "其他",
        }
    }
}

/// One respondent's answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Where it came from: `row 5` of an import, a link token, an interview.
    pub source: String,
    pub channel: Channel,
    /// Unix seconds.
    pub submitted_at: Option<i64>,
    pub duration_s: Option<u32>,
    /// IP address or masked phone number, for the duplicate rule.
    pub contact: Option<String>,
    /// Question id → answer (unanswered questions are absent).
    pub answers: BTreeMap<String, Answer>,
}

impl Survey {
    /// Parses and checks a definition; errors carry `file:line` where YAML has one.
    pub fn from_yaml(text: &str, file: &str) -> Result<Survey, Vec<String>> {
        let mut s: Survey = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{file}:{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| file.to_string());
            vec![format!("{at}: {e}")]
        })?;
        let mut errors = Vec::new();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map(|i| format!("{file}:{}", i + 1))
                .unwrap_or_else(|| file.to_string())
        };
        if s.questions.is_empty() {
            errors.push(format!("{file}: the survey has no questions"));
        }
        // Matrices become one Likert question per row.
        let mut expanded = Vec::with_capacity(s.questions.len());
        for q in std::mem::take(&mut s.questions) {
            if q.kind != Kind::Matrix {
                if !q.rows.is_empty() {
                    errors.push(format!(
                        "{}: question `{}` has rows but is not a matrix",
                        line_of(&format!("id: {}", q.id)),
                        q.id
                    ));
                }
                expanded.push(q);
                continue;
            }
            let at = line_of(&format!("id: {}", q.id));
            if q.rows.is_empty() {
                errors.push(format!("{at}: matrix `{}` needs `rows:`", q.id));
            }
            if !q.options.is_empty() {
                errors.push(format!(
                    "{at}: matrix `{}` takes no options (its rows are rated 非常满意 … 非常不满意)",
                    q.id
                ));
            }
            for (i, r) in q.rows.iter().enumerate() {
                expanded.push(Question {
                    id: format!("{}.{}", q.id, i + 1),
                    text: format!("{}：{r}", q.text),
                    kind: Kind::Likert,
                    options: Vec::new(),
                    required: q.required,
                    scored: q.scored,
                    rows: Vec::new(),
                    clauses: q.clauses.clone(),
                    group: Some(q.id.clone()),
                    row: Some(r.clone()),
                });
            }
        }
        s.questions = expanded;
        let mut seen = std::collections::HashSet::new();
        for q in &s.questions {
            let at = line_of(&format!("id: {}", q.id));
            if !seen.insert(q.id.as_str()) {
                errors.push(format!("{at}: question id `{}` is used twice", q.id));
            }
            match q.kind {
                Kind::Single | Kind::Multiple if q.options.len() < 2 => errors.push(format!(
                    "{at}: question `{}` needs at least two options",
                    q.id
                )),
                Kind::Likert | Kind::Text if !q.options.is_empty() => errors.push(format!(
                    "{at}: question `{}` ({:?}) takes no options",
                    q.id, q.kind
                )),
                _ => {}
            }
            if q.scored == Some(true) && q.kind != Kind::Likert {
                errors.push(format!(
                    "{at}: only satisfaction (likert) questions can be scored (`{}`)",
                    q.id
                ));
            }
            let mut opts = std::collections::HashSet::new();
            for o in &q.options {
                if !opts.insert(o.as_str()) {
                    errors.push(format!("{at}: option `{o}` appears twice in `{}`", q.id));
                }
            }
        }
        if let Some(o) = &s.overall {
            match s.question(o) {
                Some(q) if q.kind == Kind::Likert => {}
                Some(_) => errors.push(format!(
                    "{}: overall: `{o}` is not a satisfaction (likert) question",
                    line_of("overall:")
                )),
                None => errors.push(format!(
                    "{}: overall: no question `{o}`",
                    line_of("overall:")
                )),
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors)
        }
    }

    /// The validity rules of this survey (its `validity:` or the defaults).
    pub fn rules(&self) -> validity::Rules {
        match &self.validity {
            None => validity::Rules::default(),
            Some(v) => validity::Rules {
                min_seconds: (v.min_seconds > 0).then_some(v.min_seconds),
                duplicate_window_s: i64::from(v.duplicate_window_hours) * 3600,
                straight_line_items: v.straight_line_items,
            },
        }
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    pub fn scored(&self) -> impl Iterator<Item = &Question> {
        self.questions.iter().filter(|q| q.is_scored())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_checked_with_lines() {
        let ok = "id: s\ntitle: 调查\nquestions:\n  - id: q1\n    text: 态度\n    kind: likert\n";
        let s = Survey::from_yaml(ok, "s.yaml").unwrap();
        assert!(s.questions[0].is_scored());
        assert_eq!(s.questions[0].choices()[0], "非常满意");
        let bad = "id: s\ntitle: 调查\nquestions:\n  - id: q1\n    text: 了解\n    kind: single\n    options: [是]\n  - id: q1\n    text: x\n    kind: text\n";
        let e = Survey::from_yaml(bad, "s.yaml").unwrap_err();
        assert!(
            e.iter()
                .any(|m| m.starts_with("s.yaml:4: question `q1` needs at least two options")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("used twice")), "{e:?}");
        let typo = "id: s\ntitle: t\nquestions:\n  - id: q1\n    text: t\n    kind: likret\n";
        let e = Survey::from_yaml(typo, "s.yaml").unwrap_err();
        assert!(
            e[0].starts_with("s.yaml:4:") || e[0].starts_with("s.yaml:6:"),
            "{e:?}"
        );
    }
}
