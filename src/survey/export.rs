//! The survey workbook: 概要 (the figures), 题目统计 (each question's distribution)
//! and 答卷 (every response, valid or not, with its reasons). Every cell is written
//! as a string cell, so an answer such as `=1+1` stays text and never runs.

use rust_xlsxwriter::{Workbook, XlsxError};

use super::stats::Stats;
use super::validity::{Reason, Rules};
use super::{Answer, Response, Survey};

fn f(x: Option<f64>, d: usize) -> String {
    x.map(|v| format!("{v:.d$}")).unwrap_or_default()
}

/// An answer as text.
pub fn answer_text(survey: &Survey, qid: &str, a: Option<&Answer>) -> String {
    let Some(q) = survey.question(qid) else {
        return String::new();
    };
    let choices = q.choices();
    match a {
        None => String::new(),
        Some(Answer::Choice(k)) => choices.get(*k).cloned().unwrap_or_default(),
        Some(Answer::Choices(ks)) => ks
            .iter()
            .filter_map(|k| choices.get(*k).cloned())
            .collect::<Vec<_>>()
            .join("┋"),
        Some(Answer::Text(t)) => t.clone(),
    }
}

pub fn xlsx(
    survey: &Survey,
    responses: &[Response],
    validity: &[Vec<Reason>],
    rules: &Rules,
    s: &Stats,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let crate::report::tables::Styles {
        head,
        cell,
        key,
        plain,
    } = crate::report::tables::Styles::new();

    let ws = wb.add_worksheet();
    ws.set_name("概要")?;
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 60)?;
    let channels = s
        .by_channel
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join("，");
    let mut kv: Vec<(String, String)> = vec![
        (
            "问卷".into(),
            format!(
                "{}（{}，第 {} 版）",
                survey.title, survey.id, survey.version
            ),
        ),
        (
            "答卷 / 有效 / 无效".into(),
            format!("{} / {} / {}", s.responses, s.valid, s.invalid),
        ),
        ("有效答卷（按渠道）".into(), channels),
        (
            format!("满意度（{}答非常满意或满意）", s.csat_basis),
            format!("{}% ± {}", f(s.csat_percent, 1), f(s.csat_margin, 1)),
        ),
        ("平均得分（满分 5）".into(), f(s.score, 2)),
        (
            "得分率（平均得分÷5，试点口径）".into(),
            format!("{}%", f(s.satisfaction_percent, 1)),
        ),
        (
            "受访者得分 均值 / 标准差 / 95% 置信区间".into(),
            format!(
                "{} / {} / {}",
                f(s.respondent_mean, 2),
                f(s.respondent_sd, 2),
                s.respondent_ci95
                    .map(|(a, b)| format!("[{a:.2}, {b:.2}]"))
                    .unwrap_or_default()
            ),
        ),
        (
            "Cronbach's α".into(),
            format!("{}（{} 份完整答卷）", f(s.alpha, 3), s.alpha_n),
        ),
        (
            "有效性规则".into(),
            format!(
                "必答题完整；网上作答不少于 {} 秒；同一来源相同答案 {} 小时内只计首次{}",
                rules.min_seconds.unwrap_or(0),
                rules.duplicate_window_s / 3600,
                rules
                    .straight_line_items
                    .map(|n| format!("；{n} 题以上评分题全部相同视为无效"))
                    .unwrap_or_default()
            ),
        ),
    ];
    if let Some(c) = &s.comparison {
        kv.push((
            "与上次相比".into(),
            format!(
                "平均得分 {:.2} → {}（{:+.2}，p = {:.3}）；满意度 {:+.1} 个百分点（p = {:.3}）",
                c.previous_score,
                f(s.score, 2),
                c.score_change,
                c.p,
                c.csat_change,
                c.csat_p
            ),
        ));
    }
    for (i, (k, v)) in kv.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, k, &key)?;
        ws.write_string_with_format(i as u32, 1, v, &plain)?;
    }

    let ws = wb.add_worksheet();
    ws.set_name("题目统计")?;
    let headers = [
        "题目",
        "题干",
        "作答人数",
        "选项",
        "人数",
        "占比（%）",
        "均值",
        "标准差",
        "4–5 分占比（%）",
    ];
    let widths = [10.0, 40.0, 10.0, 16.0, 8.0, 10.0, 8.0, 8.0, 14.0];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &head)?;
        ws.set_column_width(c as u16, widths[c])?;
    }
    let mut row = 1u32;
    for q in &s.questions {
        let lines: Vec<(String, String, String)> = if q.options.is_empty() {
            vec![(String::new(), String::new(), String::new())]
        } else {
            q.options
                .iter()
                .map(|o| {
                    (
                        o.option.clone(),
                        o.count.to_string(),
                        format!("{:.2}", o.percent),
                    )
                })
                .collect()
        };
        for (o, n, p) in lines {
            let vals = [
                q.id.clone(),
                q.text.clone(),
                q.answered.to_string(),
                o,
                n,
                p,
                f(q.mean, 2),
                f(q.sd, 2),
                f(q.top2_percent, 2),
            ];
            for (c, v) in vals.iter().enumerate() {
                ws.write_string_with_format(row, c as u16, v, &cell)?;
            }
            row += 1;
        }
    }
    ws.set_freeze_panes(1, 0)?;

    let ws = wb.add_worksheet();
    ws.set_name("答卷")?;
    let mut headers: Vec<String> = ["来源", "渠道", "提交时间", "用时（秒）", "有效", "无效原因"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    headers.extend(
        survey
            .questions
            .iter()
            .map(|q| format!("{} {}", q.id, q.text)),
    );
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &head)?;
        ws.set_column_width(c as u16, if c < 6 { 14.0 } else { 18.0 })?;
    }
    for (i, (r, v)) in responses.iter().zip(validity).enumerate() {
        let mut vals = vec![
            r.source.clone(),
            r.channel.label().to_string(),
            r.submitted_at
                .map(|t| {
                    crate::audit::time::format_instant(t * 1_000_000, 480)
                        .get(..19)
                        .map(|x| x.replace('T', " "))
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
            r.duration_s.map(|d| d.to_string()).unwrap_or_default(),
            if v.is_empty() { "是" } else { "否" }.to_string(),
            v.iter().map(Reason::label).collect::<Vec<_>>().join("；"),
        ];
        vals.extend(
            survey
                .questions
                .iter()
                .map(|q| answer_text(survey, &q.id, r.answers.get(&q.id))),
        );
        for (c, val) in vals.iter().enumerate() {
            ws.write_string_with_format(i as u32 + 1, c as u16, val, &cell)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    if !responses.is_empty() {
        ws.autofilter(0, 0, responses.len() as u32, headers.len() as u16 - 1)?;
    }
    wb.save_to_buffer()
}
