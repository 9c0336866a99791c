//! Survey statistics. Every formula is written out in `docs/surveys.md`; the tests
//! reproduce hand-computed figures.
//!
//! Percentages are of those who **answered that question**, not of all respondents.
//! Two satisfaction figures are reported side by side, never mixed up: the pilot's
//! convention (overall mean ÷ 5 × 100%) and CSAT (top-2-box: the share of answers
//! 4 or 5).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Answer, Channel, Kind, LIKERT, Response, Survey};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Serialize)]
pub struct OptionShare {
    pub option: String,
    pub count: usize,
    /// Of those who answered the question, 0–100.
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionStats {
    pub id: String,
    pub text: String,
    pub kind: Kind,
    pub scored: bool,
    /// Valid responses that answered it.
    pub answered: usize,
    pub options: Vec<OptionShare>,
    /// Likert: mean score, sample standard deviation, 95% interval, top-2-box.
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub ci95: Option<(f64, f64)>,
    pub top2_percent: Option<f64>,
    /// Open answers (text questions).
    pub texts: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub previous_score: f64,
    pub score_change: f64,
    /// Welch's t on respondent scores, its two-sided p (normal approximation).
    pub t: f64,
    pub p: f64,
    pub significant: bool,
    pub previous_csat: f64,
    pub csat_change: f64,
    /// Two-proportion z test on the CSAT shares (same basis as `csat_percent`).
    pub z: f64,
    pub csat_p: f64,
    pub csat_significant: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub responses: usize,
    pub valid: usize,
    pub invalid: usize,
    /// Valid responses per channel (电话, 网上 …).
    pub by_channel: BTreeMap<String, usize>,
    pub questions: Vec<QuestionStats>,
    /// Mean of the scored questions' means (each question weighs the same).
    pub score: Option<f64>,
    /// The pilot's convention: score ÷ 5 × 100.
    pub satisfaction_percent: Option<f64>,
    /// 满意度 / CSAT: the share answering 非常满意 or 满意 (top-2-box), 0–100 — of
    /// the overall question when the survey names one (DB3301/T 0441—2024, 7.4),
    /// else of every scored answer.
    pub csat_percent: Option<f64>,
    /// ± percentage points at 95%.
    pub csat_margin: Option<f64>,
    /// What the CSAT is the share of.
    pub csat_basis: String,
    /// Respondent scores (mean of each respondent's scored answers).
    pub respondents_scored: usize,
    pub respondent_mean: Option<f64>,
    pub respondent_sd: Option<f64>,
    pub respondent_ci95: Option<(f64, f64)>,
    /// Cronbach's α over the scored questions (respondents who answered them all).
    pub alpha: Option<f64>,
    pub alpha_n: usize,
    pub comparison: Option<Comparison>,
    /// Scored questions, lowest mean first (the report's "problems found").
    pub lowest: Vec<String>,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample variance (n − 1).
fn var(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    (xs.len() >= 2).then(|| xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf; error < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

fn likert_score(idx: usize) -> Option<f64> {
    LIKERT.get(idx).map(|(_, s)| *s as f64)
}

/// Respondent scores (the mean of each one's scored answers) of the valid responses.
fn respondent_scores(survey: &Survey, valid: &[&Response]) -> Vec<f64> {
    valid
        .iter()
        .filter_map(|r| {
            let xs: Vec<f64> = survey
                .scored()
                .filter_map(|q| match r.answers.get(&q.id) {
                    Some(Answer::Choice(c)) => likert_score(*c),
                    _ => None,
                })
                .collect();
            mean(&xs)
        })
        .collect()
}

/// (top-2 share, sample size) on the same basis as [`Stats::csat_percent`].
fn csat_of(survey: &Survey, valid: &[&Response]) -> Option<(f64, usize)> {
    let ids: Vec<&str> = match survey.overall.as_deref() {
        Some(o) => vec![o],
        None => survey.scored().map(|q| q.id.as_str()).collect(),
    };
    let mut top = 0usize;
    let mut n = 0usize;
    let mut people = 0usize;
    for r in valid {
        let mut any = false;
        for id in &ids {
            if let Some(Answer::Choice(c)) = r.answers.get(*id)
                && let Some(x) = likert_score(*c)
            {
                n += 1;
                any = true;
                if x >= 4.0 {
                    top += 1;
                }
            }
        }
        if any {
            people += 1;
        }
    }
    // One person's answers are not independent: the sample size is people.
    (n > 0).then(|| (top as f64 / n as f64, people))
}

/// Computes the statistics of `responses`, of which those with no reasons in
/// `validity` are valid; `previous` is the last survey's valid responses.
pub fn compute(
    survey: &Survey,
    responses: &[Response],
    validity: &[Vec<super::validity::Reason>],
    previous: Option<(&Survey, &[Response])>,
) -> Stats {
    let valid: Vec<&Response> = responses
        .iter()
        .zip(
            validity
                .iter()
                .map(Vec::is_empty)
                .chain(std::iter::repeat(true)),
        )
        .filter(|(_, ok)| *ok)
        .map(|(r, _)| r)
        .collect();
    let mut by_channel = BTreeMap::new();
    for r in &valid {
        *by_channel.entry(r.channel.label().to_string()).or_insert(0) += 1;
    }
    let mut questions = Vec::new();
    let (mut top2_all, mut scored_all) = (0usize, 0usize);
    for q in &survey.questions {
        let choices = q.choices();
        let mut counts = vec![0usize; choices.len()];
        let mut answered = 0usize;
        let mut xs = Vec::new();
        let mut texts = Vec::new();
        for r in &valid {
            match r.answers.get(&q.id) {
                Some(Answer::Choice(c)) => {
                    answered += 1;
                    if let Some(n) = counts.get_mut(*c) {
                        *n += 1;
                    }
                    if q.kind == Kind::Likert
                        && let Some(x) = likert_score(*c)
                    {
                        xs.push(x);
                    }
                }
                Some(Answer::Choices(cs)) => {
                    answered += 1;
                    for c in cs {
                        if let Some(n) = counts.get_mut(*c) {
                            *n += 1;
                        }
                    }
                }
                Some(Answer::Text(t)) => {
                    answered += 1;
                    texts.push(t.clone());
                }
                None => {}
            }
        }
        let options = choices
            .iter()
            .zip(&counts)
            .map(|(o, &n)| OptionShare {
                option: o.clone(),
                count: n,
                percent: if answered > 0 {
                    round2(n as f64 * 100.0 / answered as f64)
                } else {
                    0.0
                },
            })
            .collect();
        let m = mean(&xs);
        let sd = var(&xs).map(f64::sqrt);
        let top2 = xs.iter().filter(|x| **x >= 4.0).count();
        if q.is_scored() {
            top2_all += top2;
            scored_all += xs.len();
        }
        questions.push(QuestionStats {
            id: q.id.clone(),
            text: q.text.clone(),
            kind: q.kind,
            scored: q.is_scored(),
            answered,
            options,
            mean: m,
            sd,
            ci95: match (m, sd) {
                (Some(m), Some(sd)) => {
                    let h = Z95 * sd / (xs.len() as f64).sqrt();
                    Some((m - h, m + h))
                }
                _ => None,
            },
            top2_percent: (!xs.is_empty()).then(|| top2 as f64 * 100.0 / xs.len() as f64),
            texts,
        });
    }
    let q_means: Vec<f64> = questions
        .iter()
        .filter(|q| q.scored)
        .filter_map(|q| q.mean)
        .collect();
    let score = mean(&q_means);
    let scores = respondent_scores(survey, &valid);
    let n_resp = scores.len();
    // The overall question's top-2-box (n = its answers), else every scored answer
    // pooled (n = respondents, since one person's answers are not independent).
    let overall = survey
        .overall
        .as_deref()
        .and_then(|o| questions.iter().find(|q| q.id == o));
    let (csat, csat_n, csat_basis) = match overall {
        Some(q) => (
            q.top2_percent.map(|p| p / 100.0),
            q.answered,
            format!("总体满意程度（{}）", q.id),
        ),
        None => (
            (scored_all > 0).then(|| top2_all as f64 / scored_all as f64),
            n_resp,
            "全部评分题".to_string(),
        ),
    };
    let rm = mean(&scores);
    let rsd = var(&scores).map(f64::sqrt);
    // Cronbach's α, listwise over the scored questions.
    let scored: Vec<&str> = survey.scored().map(|q| q.id.as_str()).collect();
    let complete: Vec<Vec<f64>> = valid
        .iter()
        .filter_map(|r| {
            scored
                .iter()
                .map(|id| match r.answers.get(*id) {
                    Some(Answer::Choice(c)) => likert_score(*c),
                    _ => None,
                })
                .collect::<Option<Vec<f64>>>()
        })
        .collect();
    let k = scored.len();
    let alpha = if k >= 2 && complete.len() >= 2 {
        let item_vars: Option<f64> = (0..k)
            .map(|i| var(&complete.iter().map(|row| row[i]).collect::<Vec<_>>()))
            .sum();
        let totals: Vec<f64> = complete.iter().map(|row| row.iter().sum()).collect();
        match (item_vars, var(&totals)) {
            (Some(iv), Some(tv)) if tv > 0.0 => Some(k as f64 / (k as f64 - 1.0) * (1.0 - iv / tv)),
            _ => None,
        }
    } else {
        None
    };
    let comparison = previous.and_then(|(ps, pr)| {
        let pv: Vec<&Response> = pr.iter().collect();
        let s0 = respondent_scores(ps, &pv);
        let (m0, v0) = (mean(&s0)?, var(&s0)?);
        let (m1, v1) = (rm?, var(&scores)?);
        let (n0, n1) = (s0.len() as f64, scores.len() as f64);
        let se = (v1 / n1 + v0 / n0).sqrt();
        let t = if se > 0.0 { (m1 - m0) / se } else { 0.0 };
        let p = 2.0 * (1.0 - normal_cdf(t.abs()));
        let (p0, c0) = csat_of(ps, &pv)?;
        let (p1, c1) = csat_of(survey, &valid)?;
        let (c0, c1) = (c0 as f64, c1 as f64);
        let pooled = (p0 * c0 + p1 * c1) / (c0 + c1);
        let sez = (pooled * (1.0 - pooled) * (1.0 / c0 + 1.0 / c1)).sqrt();
        let z = if sez > 0.0 { (p1 - p0) / sez } else { 0.0 };
        let cp = 2.0 * (1.0 - normal_cdf(z.abs()));
        let prev_q: Vec<f64> = ps
            .scored()
            .filter_map(|q| {
                let xs: Vec<f64> = pv
                    .iter()
                    .filter_map(|r| match r.answers.get(&q.id) {
                        Some(Answer::Choice(c)) => likert_score(*c),
                        _ => None,
                    })
                    .collect();
                mean(&xs)
            })
            .collect();
        let prev_score = mean(&prev_q)?;
        Some(Comparison {
            previous_score: prev_score,
            score_change: score.unwrap_or(0.0) - prev_score,
            t,
            p,
            significant: p < 0.05,
            previous_csat: p0 * 100.0,
            csat_change: (p1 - p0) * 100.0,
            z,
            csat_p: cp,
            csat_significant: cp < 0.05,
        })
    });
    let mut lowest: Vec<(f64, String)> = questions
        .iter()
        .filter(|q| q.scored)
        .filter_map(|q| q.mean.map(|m| (m, q.id.clone())))
        .collect();
    lowest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Stats {
        responses: responses.len(),
        valid: valid.len(),
        invalid: responses.len() - valid.len(),
        by_channel,
        questions,
        score,
        satisfaction_percent: score.map(|s| s / 5.0 * 100.0),
        csat_percent: csat.map(|p| p * 100.0),
        csat_margin: csat
            .filter(|_| csat_n > 0)
            .map(|p| Z95 * (p * (1.0 - p) / csat_n as f64).sqrt() * 100.0),
        csat_basis,
        respondents_scored: n_resp,
        respondent_mean: rm,
        respondent_sd: rsd,
        respondent_ci95: match (rm, rsd) {
            (Some(m), Some(sd)) => {
                let h = Z95 * sd / (n_resp as f64).sqrt();
                Some((m - h, m + h))
            }
            _ => None,
        },
        alpha,
        alpha_n: complete.len(),
        comparison,
        lowest: lowest.into_iter().map(|(_, id)| id).collect(),
    }
}

/// The channel a response came from, by 问卷星's 来源 text.
pub fn channel_of(source: &str) -> Channel {
    if source.contains("电话") {
        Channel::Phone
    } else if source.is_empty() {
        Channel::Other
    } else {
        Channel::Online
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }
}
