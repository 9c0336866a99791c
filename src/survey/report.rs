//! The 满意度测评报告: the figures of [`Stats`] as the data the typst template
//! (`templates/survey_report.typ`) lays out. Every number is formatted here.

use serde_json::{Value, json};

use super::stats::Stats;
use super::validity::{Reason, Rules};
use super::{Kind, Response, Survey};

pub const TEMPLATE: &str = include_str!("../../templates/survey_report.typ");

/// What the report says besides the data.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub organisation: String,
    /// Improvement suggestions entered by staff, one per item.
    pub suggestions: Vec<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
}

fn f(x: Option<f64>, d: usize) -> String {
    x.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "—".into())
}

fn date_of(t: i64) -> String {
    crate::audit::time::format_instant(t * 1_000_000, 480)
        .get(..10)
        .unwrap_or_default()
        .to_string()
}

/// Share of a Likert question's answers that are 一般 or worse, 0–100.
fn low_share(q: &super::stats::QuestionStats) -> Option<f64> {
    (q.kind == Kind::Likert && q.answered > 0).then(|| {
        q.options.iter().skip(2).map(|o| o.count).sum::<usize>() as f64 * 100.0 / q.answered as f64
    })
}

pub fn data(
    survey: &Survey,
    responses: &[Response],
    validity: &[Vec<Reason>],
    rules: &Rules,
    s: &Stats,
    ctx: &Context,
) -> Value {
    let valid_times: Vec<i64> = responses
        .iter()
        .zip(validity)
        .filter(|(_, v)| v.is_empty())
        .filter_map(|(r, _)| r.submitted_at)
        .collect();
    let period = match (valid_times.iter().min(), valid_times.iter().max()) {
        (Some(a), Some(b)) if date_of(*a) == date_of(*b) => date_of(*a),
        (Some(a), Some(b)) => format!("{} 至 {}", date_of(*a), date_of(*b)),
        _ => "—".into(),
    };
    let channels_text = s
        .by_channel
        .iter()
        .map(|(c, n)| format!("{c}问卷 {n} 份"))
        .collect::<Vec<_>>()
        .join("，");
    let method = s
        .by_channel
        .keys()
        .map(|c| format!("{c}调查"))
        .collect::<Vec<_>>()
        .join("与");
    let level = match s.csat_percent {
        Some(p) if p >= 90.0 => "good",
        Some(p) if p >= 80.0 => "fair",
        _ => "poor",
    };
    let conclusion = match s.csat_percent {
        Some(p) if p >= 90.0 => {
            format!("满意度 {p:.1}%，达到 DB3301/T 0441—2024 7.5 的 90% 要求。")
        }
        Some(p) => format!(
            "满意度 {p:.1}%，低于 90%：按 DB3301/T 0441—2024 7.5，应在结果公布后 30 日内制定改进计划并实施纠正措施。"
        ),
        None => "没有可计算满意度的有效问卷。".into(),
    };
    let sample_note = if s.valid < 300 {
        format!(
            "有效问卷 {} 份，少于 7.1 要求的 300 份（上一年度服务客户少于 600 户的，不少于其 50%）。",
            s.valid
        )
    } else {
        String::new()
    };
    let mut rules_text = vec!["必答题（含总体满意程度题）均已作答。".to_string()];
    if let Some(m) = rules.min_seconds {
        rules_text.push(format!(
            "网上问卷作答用时不少于 {m} 秒（电话访问不受此限）。"
        ));
    }
    rules_text.push(format!(
        "同一来源（IP 或电话）在 {} 小时内提交相同答案的，只计首次。",
        rules.duplicate_window_s / 3600
    ));
    if let Some(n) = rules.straight_line_items {
        rules_text.push(format!("{n} 道及以上评分题全部选同一答案的视为无效。"));
    }
    let questions: Vec<Value> = s
        .questions
        .iter()
        .map(|q| {
            let low = q.kind == Kind::Likert;
            json!({
                "id": q.id,
                "text": q.text,
                "kind_label": match q.kind {
                    Kind::Likert => if q.scored { "满意度评分题" } else { "五级量表题（不计分）" },
                    Kind::Single => "单选题",
                    Kind::Multiple => "多选题（占比可合计超过 100%）",
                    Kind::Text => "开放题",
                    Kind::Matrix => "矩阵题",
                },
                "answered": q.answered,
                "mean_text": q.mean.map(|m| format!("{m:.2}")).unwrap_or_default(),
                "sd_text": f(q.sd, 2),
                "top2_text": q.top2_percent.map(|p| format!("{p:.1}%")).unwrap_or_default(),
                "options": q.options.iter().enumerate().map(|(i, o)| json!({
                    "option": o.option,
                    "count": o.count,
                    "percent": o.percent,
                    "percent_text": format!("{:.2}%", o.percent),
                    "low": low && i >= 2,
                })).collect::<Vec<_>>(),
                "texts": q.texts.iter().take(30).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Problems: the three lowest scored questions, and any with 10% or more 一般 or
    // worse.
    let mut problems: Vec<&super::stats::QuestionStats> = s
        .lowest
        .iter()
        .filter_map(|id| s.questions.iter().find(|q| &q.id == id))
        .enumerate()
        .filter(|(i, q)| *i < 3 || low_share(q).is_some_and(|l| l >= 10.0))
        .map(|(_, q)| q)
        .collect();
    problems.dedup_by(|a, b| a.id == b.id);
    let problems: Vec<Value> = problems
        .iter()
        .map(|q| {
            json!({
                "text": q.text,
                "mean_text": f(q.mean, 2),
                "low_text": low_share(q).map(|l| format!("{l:.2}%")).unwrap_or_default(),
            })
        })
        .collect();
    let comparison = match &s.comparison {
        None => "（没有上次调查的数据）".to_string(),
        Some(c) => format!(
            "平均得分 {:.2} → {}（{:+.2}，p = {:.3}，{}）；满意度 {:.1}% → {}%（{:+.1} 个百分点，p = {:.3}，{}）",
            c.previous_score,
            f(s.score, 2),
            c.score_change,
            c.p,
            if c.significant {
                "差异显著"
            } else {
                "差异不显著"
            },
            c.previous_csat,
            f(s.csat_percent, 1),
            c.csat_change,
            c.csat_p,
            if c.csat_significant {
                "差异显著"
            } else {
                "差异不显著"
            }
        ),
    };
    let invalid: Vec<Value> = responses
        .iter()
        .zip(validity)
        .filter(|(_, v)| !v.is_empty())
        .map(|(r, v)| {
            json!({
                "source": r.source,
                "reasons": v.iter().map(Reason::label).collect::<Vec<_>>().join("；"),
            })
        })
        .collect();
    json!({
        "title": survey.title,
        "purpose": if survey.purpose.is_empty() { "了解顾客对家政服务的满意程度，查找问题并持续改进。".to_string() } else { survey.purpose.clone() },
        "organisation": if ctx.organisation.is_empty() { "—".to_string() } else { ctx.organisation.clone() },
        "period": period,
        "method": if method.is_empty() { "—".to_string() } else { method },
        "clauses": survey.clauses,
        "date": ctx.date,
        "generated_at": ctx.date,
        "rules": rules_text,
        "summary": {
            "responses": s.responses,
            "valid": s.valid,
            "invalid": s.invalid,
            "channels_text": if channels_text.is_empty() { "—".to_string() } else { channels_text },
            "csat_text": format!("{}%", f(s.csat_percent, 1)),
            "margin_text": f(s.csat_margin, 1),
            "csat_basis": s.csat_basis,
            "score_text": f(s.score, 2),
            "rate_text": format!("{}%", f(s.satisfaction_percent, 1)),
            "respondent_text": format!(
                "均值 {}、标准差 {}、95% 置信区间 {}",
                f(s.respondent_mean, 2),
                f(s.respondent_sd, 2),
                s.respondent_ci95.map(|(a, b)| format!("[{a:.2}, {b:.2}]")).unwrap_or_else(|| "—".into())
            ),
            "alpha_text": match s.alpha {
                Some(a) => format!("Cronbach's α = {a:.3}（{} 份完整答卷{}）", s.alpha_n, if a >= 0.7 { "，一致性良好" } else { "，一致性偏低，解读分题结果需谨慎" }),
                None => "无法计算（评分题少于 2 道或完整答卷少于 2 份）".to_string(),
            },
            "level": level,
            "conclusion": format!("{conclusion}{sample_note}"),
        },
        "comparison": comparison,
        "questions": questions,
        "problems": problems,
        "suggestions": ctx.suggestions,
        "invalid": invalid,
    })
}
