//! Which responses count. Invalid responses are kept and listed with their reasons;
//! statistics use the valid ones only.

use serde::Serialize;

use super::{Answer, Response, Survey};

/// The validity rules (shown in the report).
#[derive(Debug, Clone, Serialize)]
pub struct Rules {
    /// Online completion faster than this is implausible (问卷星's 所用时间;
    /// DB3301/T 0441—2024, 7.3 c: at least 60 s). Phone interviews are exempt.
    pub min_seconds: Option<u32>,
    /// Same contact (IP or phone) and the same answers within this many seconds of
    /// an earlier response: a duplicate.
    pub duplicate_window_s: i64,
    /// Straight-lining: the same answer to every scored question, when the survey
    /// has at least this many. Off by default: a satisfied customer answering
    /// 非常满意 throughout is the common, honest case; enable it for long grids.
    pub straight_line_items: Option<usize>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_seconds: Some(60),
            duplicate_window_s: 24 * 3600,
            straight_line_items: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Reason {
    /// Required questions without an answer.
    Incomplete {
        questions: Vec<String>,
    },
    /// Same contact and answers as an earlier response.
    Duplicate {
        of: String,
    },
    TooFast {
        seconds: u32,
        min: u32,
    },
    StraightLining {
        answer: String,
    },
}

impl Reason {
    pub fn label(&self) -> String {
        match self {
            Reason::Incomplete { questions } => format!("必答题未答：{}", questions.join("、")),
            Reason::Duplicate { of } => format!("与{of}重复（同一来源、相同答案）"),
            Reason::TooFast { seconds, min } => format!("用时 {seconds} 秒，少于 {min} 秒"),
            Reason::StraightLining { answer } => format!("所有评分题均答“{answer}”"),
        }
    }
}

/// The reasons each response is invalid (empty: valid), in input order.
pub fn check(survey: &Survey, responses: &[Response], rules: &Rules) -> Vec<Vec<Reason>> {
    let mut out: Vec<Vec<Reason>> = Vec::with_capacity(responses.len());
    for (i, r) in responses.iter().enumerate() {
        let mut reasons = Vec::new();
        let missing: Vec<String> = survey
            .questions
            .iter()
            .filter(|q| {
                (q.required || survey.overall.as_deref() == Some(q.id.as_str()))
                    && !r.answers.contains_key(&q.id)
            })
            .map(|q| q.id.clone())
            .collect();
        if !missing.is_empty() {
            reasons.push(Reason::Incomplete { questions: missing });
        }
        if let (Some(min), Some(d)) = (rules.min_seconds, r.duration_s)
            && r.channel == super::Channel::Online
            && d < min
        {
            reasons.push(Reason::TooFast { seconds: d, min });
        }
        if let Some(k) = rules.straight_line_items {
            let scored: Vec<&Answer> = survey
                .scored()
                .filter_map(|q| r.answers.get(&q.id))
                .collect();
            let n_scored = survey.scored().count();
            if n_scored >= k
                && scored.len() == n_scored
                && scored.windows(2).all(|w| w[0] == w[1])
                && let Some(Answer::Choice(c)) = scored.first()
            {
                reasons.push(Reason::StraightLining {
                    answer: super::LIKERT
                        .get(*c)
                        .map(|(t, _)| t.to_string())
                        .unwrap_or_default(),
                });
            }
        }
        // A duplicate of an earlier response that is itself not a duplicate.
        if let Some(c) = r.contact.as_deref().filter(|c| !c.is_empty()) {
            let earlier = responses[..i].iter().enumerate().find(|(j, e)| {
                e.contact.as_deref() == Some(c)
                    && e.answers == r.answers
                    && !out[*j]
                        .iter()
                        .any(|x| matches!(x, Reason::Duplicate { .. }))
                    && match (e.submitted_at, r.submitted_at) {
                        (Some(a), Some(b)) => (b - a).abs() <= rules.duplicate_window_s,
                        _ => true,
                    }
            });
            if let Some((_, e)) = earlier {
                reasons.push(Reason::Duplicate {
                    of: e.source.clone(),
                });
            }
        }
        out.push(reasons);
    }
    out
}
