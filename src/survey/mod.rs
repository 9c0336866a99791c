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

/// The order in which a questionnaire listed the five answers of a satisfaction
/// question: what 问卷星's 按选项序号 code 1 means. Written in a definition as
/// `scale: 非常满意→非常不满意` or `scale: 非常不满意→非常满意` (see [`Scale::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scale {
    /// 非常满意 first: code 1 = 非常满意 … 5 = 非常不满意.
    #[serde(rename = "非常满意→非常不满意")]
    Descending,
    /// 非常不满意 first: code 1 = 非常不满意 … 5 = 非常满意.
    #[serde(rename = "非常不满意→非常满意")]
    Ascending,
}

impl Scale {
    /// Reads a stated order. The arrow may be `→`, `->` or `—>`, spaces do not
    /// matter, and the ends may be written short (`满意→不满意`); `descending` and
    /// `ascending` are accepted too.
    pub fn parse(text: &str) -> Option<Scale> {
        let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let t = t
            .replace("—>", "→")
            .replace("-->", "→")
            .replace("->", "→")
            .to_lowercase();
        match t.as_str() {
            "非常满意→非常不满意" | "满意→不满意" | "descending" => {
                Some(Scale::Descending)
            }
            "非常不满意→非常满意" | "不满意→满意" | "ascending" => {
                Some(Scale::Ascending)
            }
            _ => None,
        }
    }

    /// How the order is written in a definition.
    pub fn label(self) -> &'static str {
        match self {
            Scale::Descending => "非常满意→非常不满意",
            Scale::Ascending => "非常不满意→非常满意",
        }
    }

    /// The choice (an index into [`LIKERT`]) of each code, code 1 first.
    fn choices(self) -> Vec<usize> {
        match self {
            Scale::Descending => (0..LIKERT.len()).collect(),
            Scale::Ascending => (0..LIKERT.len()).rev().collect(),
        }
    }
}

/// How to write an order, for the messages that ask for one.
const SCALE_HELP: &str =
    "应写成“非常满意→非常不满意”（问卷先列非常满意）或“非常不满意→非常满意”（问卷先列非常不满意）";

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
    /// Choice texts (single / multiple), in the questionnaire's order. Likert
    /// questions read answers against [`LIKERT`]; they may list the five answers
    /// here in the order the questionnaire showed them, which states their
    /// [`Scale`] (the list is then cleared when the definition is read).
    #[serde(default)]
    pub options: Vec<String>,
    /// The order the questionnaire showed a likert (or matrix) question's answers
    /// in, as written (`scale: 非常满意→非常不满意`); read into [`Question::order`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    /// The order of a likert question's answers: its own (`scale:` or
    /// `options:`), else its matrix's, else the survey's; `None` when not stated.
    #[serde(skip)]
    pub order: Option<Scale>,
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

    /// What 问卷星's option numbers mean: the choice (an index into
    /// [`Question::choices`]) of code 1, 2, …. Choice questions number their
    /// options in the listed order; a likert question needs its stated
    /// [`Scale`], and without one this is `None` (a number cannot be read).
    pub fn code_choices(&self) -> Option<Vec<usize>> {
        match self.kind {
            Kind::Likert => self.order.map(Scale::choices),
            Kind::Single | Kind::Multiple => Some((0..self.options.len()).collect()),
            Kind::Matrix | Kind::Text => None,
        }
    }
}

/// The order a likert or matrix question states through `options:` (the five
/// answers in the questionnaire's order) and `scale:`; an error when they are
/// not the five answers in one of the two orders, or disagree.
fn stated_scale(q: &Question, at: &str) -> Result<Option<Scale>, String> {
    let written = match &q.scale {
        None => None,
        Some(t) => Some(
            Scale::parse(t)
                .ok_or_else(|| format!("{at}: `{}` 的 scale “{t}”{SCALE_HELP}", q.id))?,
        ),
    };
    if q.options.is_empty() {
        return Ok(written);
    }
    let listed: Vec<String> = q.options.iter().map(|o| o.trim().to_string()).collect();
    let down: Vec<String> = LIKERT.iter().map(|(t, _)| t.to_string()).collect();
    let up: Vec<String> = down.iter().rev().cloned().collect();
    let from_options = if listed == down {
        Scale::Descending
    } else if listed == up {
        Scale::Ascending
    } else {
        return Err(format!(
            "{at}: 满意度题 `{}` 的 options 应按问卷中的顺序列出五个答案：[{}] 或 [{}]",
            q.id,
            down.join(", "),
            up.join(", ")
        ));
    };
    match written {
        Some(s) if s != from_options => Err(format!(
            "{at}: 满意度题 `{}` 的 scale（{}）与 options 的顺序（{}）不一致",
            q.id,
            s.label(),
            from_options.label()
        )),
        _ => Ok(Some(from_options)),
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
    /// The order the questionnaire listed every satisfaction question's answers
    /// in, unless a question states its own (as written; see [`Scale::parse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
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
        let order = match &s.scale {
            None => None,
            Some(t) => {
                let parsed = Scale::parse(t);
                if parsed.is_none() {
                    errors.push(format!("{}: scale “{t}”{SCALE_HELP}", line_of("scale:")));
                }
                parsed
            }
        };
        s.expand_matrices(order, &line_of, &mut errors);
        s.check_questions(&line_of, &mut errors);
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

    /// Replaces each matrix by one likert question per row, and settles every
    /// likert question's [`Scale`]: its own (`scale:` or `options:`), else its
    /// matrix's, else the survey's.
    fn expand_matrices(
        &mut self,
        order: Option<Scale>,
        line_of: &dyn Fn(&str) -> String,
        errors: &mut Vec<String>,
    ) {
        let mut expanded = Vec::with_capacity(self.questions.len());
        for mut q in std::mem::take(&mut self.questions) {
            let at = line_of(&format!("id: {}", q.id));
            if matches!(q.kind, Kind::Likert | Kind::Matrix) {
                match stated_scale(&q, &at) {
                    Ok(own) => q.order = own.or(order),
                    Err(e) => errors.push(e),
                }
                q.options.clear();
            } else if q.scale.is_some() {
                errors.push(format!(
                    "{at}: `{}` 不是满意度题，scale 只用于 likert 和 matrix 题",
                    q.id
                ));
            }
            if q.kind != Kind::Matrix {
                if !q.rows.is_empty() {
                    errors.push(format!(
                        "{at}: question `{}` has rows but is not a matrix",
                        q.id
                    ));
                }
                expanded.push(q);
                continue;
            }
            if q.rows.is_empty() {
                errors.push(format!("{at}: matrix `{}` needs `rows:`", q.id));
            }
            for (i, r) in q.rows.iter().enumerate() {
                expanded.push(Question {
                    id: format!("{}.{}", q.id, i + 1),
                    text: format!("{}：{r}", q.text),
                    kind: Kind::Likert,
                    options: Vec::new(),
                    scale: q.scale.clone(),
                    order: q.order,
                    required: q.required,
                    scored: q.scored,
                    rows: Vec::new(),
                    clauses: q.clauses.clone(),
                    group: Some(q.id.clone()),
                    row: Some(r.clone()),
                });
            }
        }
        self.questions = expanded;
    }

    /// Ids, options and scoring of the (expanded) questions.
    fn check_questions(&self, line_of: &dyn Fn(&str) -> String, errors: &mut Vec<String>) {
        let mut seen = std::collections::HashSet::new();
        for q in &self.questions {
            let at = line_of(&format!("id: {}", q.id));
            if !seen.insert(q.id.as_str()) {
                errors.push(format!("{at}: question id `{}` is used twice", q.id));
            }
            match q.kind {
                Kind::Single | Kind::Multiple if q.options.len() < 2 => errors.push(format!(
                    "{at}: question `{}` needs at least two options",
                    q.id
                )),
                Kind::Text if !q.options.is_empty() => errors.push(format!(
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
    }

    /// The likert questions whose answer order is not stated: a file of option
    /// numbers (按选项序号) cannot be read for them.
    pub fn unstated_scales(&self) -> Vec<&Question> {
        self.questions
            .iter()
            .filter(|q| q.kind == Kind::Likert && q.order.is_none())
            .collect()
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
