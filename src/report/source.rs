//! A data source's read report, for people: what was read, skipped and why,
//! trimmed, and whether the verdicts built on it stand. The audit page and the
//! audit report (PDF) both show this view, so they cannot say different things.

use serde::Serialize;

use crate::audit::SourceReport;
use crate::audit::log::RowError;

/// Bad rows listed one by one; the rest are counted.
const ROWS_SHOWN: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    /// The file read (`orders.csv`).
    pub file: String,
    /// Every verdict built on it stands.
    pub complete: bool,
    /// 数据完整 / 数据不完整，不予结论 / 没有数据，未评价
    pub status: String,
    /// (what, figure) rows: rows read, events, orders, skipped, span, trimmed …
    pub facts: Vec<(String, String)>,
    /// Why the verdicts are withheld, one sentence each.
    pub reasons: Vec<String>,
    /// The first bad rows, each with its line and why.
    pub rows: Vec<String>,
    /// Bad rows beyond those listed.
    pub more_rows: u64,
}

/// `100000` → `100,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An instant as written in the log, for people: `2023-03-01 09:00:00`, with the
/// offset only when it is not China Standard Time.
fn instant(s: &str) -> String {
    let s = s.replacen('T', " ", 1);
    if let Some(local) = s.strip_suffix("+08:00") {
        local.to_string()
    } else if let Some(utc) = s.strip_suffix('Z') {
        format!("{utc} UTC")
    } else {
        s
    }
}

/// One bad row in Chinese: `第 85 行（timestamp 列）：时间无法识别「2023-02-30」`.
pub fn row_text(e: &RowError) -> String {
    let mut s = format!("第 {} 行", e.line);
    if let Some(f) = &e.field {
        s.push_str(&format!("（{f} 列）"));
    }
    s.push('：');
    s.push_str(e.reason.label());
    if let Some(v) = &e.value {
        s.push_str(&format!("「{v}」"));
    }
    s
}

pub fn view(src: &SourceReport) -> SourceView {
    let s = &src.stats;
    let d = &src.data;
    let mut facts = vec![
        ("读取的数据行".to_string(), count(s.rows)),
        (
            "形成的事件".to_string(),
            format!("{}（规则用到 {}）", count(s.events), count(s.events_kept)),
        ),
        (
            "订单".to_string(),
            if src.cases.outside_period > 0 {
                format!(
                    "{}，其中审核期间内 {}",
                    count(src.cases.total),
                    count(src.cases.checked)
                )
            } else {
                count(src.cases.total)
            },
        ),
    ];
    let skipped = if s.rows_skipped == 0 {
        "无".to_string()
    } else {
        let by: Vec<String> = s
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{} {}", k.label(), count(*v)))
            .collect();
        format!(
            "{} 行，占 {}（{}）；允许 {}",
            count(s.rows_skipped),
            crate::audit::percent(d.skipped_rate),
            by.join("，"),
            crate::audit::percent(d.max_skipped_rate)
        )
    };
    facts.push(("无法读取而跳过的行".into(), skipped));
    if let (Some(a), Some(b)) = (&s.first_event, &s.last_event) {
        facts.push((
            "事件时间".into(),
            format!("{} 至 {}", instant(a), instant(b)),
        ));
    }
    if s.trimmed_total() > 0 {
        let by: Vec<String> = s
            .trimmed
            .iter()
            .map(|(k, v)| format!("{k} 列 {}", count(*v)))
            .collect();
        let example = s
            .trimmed_examples
            .first()
            .map(|t| format!("；例如第 {} 行 {} 列「{}」", t.line, t.field, t.raw))
            .unwrap_or_default();
        facts.push((
            "去除首尾空格的值".into(),
            format!(
                "{} 个（{}）{example}",
                count(s.trimmed_total()),
                by.join("，")
            ),
        ));
    }
    if s.empty_lines > 0 {
        facts.push(("空行（忽略）".into(), count(s.empty_lines)));
    }
    if !s.unmapped_activities.is_empty() {
        let names: Vec<String> = s
            .unmapped_activities
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k}（{}）", count(*v)))
            .collect();
        let more = s.unmapped_activities.len().saturating_sub(8);
        facts.push((
            "规则未涉及的活动".into(),
            if more > 0 {
                format!("{} 等 {} 种", names.join("、"), s.unmapped_activities.len())
            } else {
                names.join("、")
            },
        ));
    }
    let status = if d.no_data {
        "没有数据，未评价"
    } else if d.conclusive {
        "数据完整"
    } else {
        "数据不完整，不予结论"
    };
    let rows: Vec<String> = s.errors.iter().take(ROWS_SHOWN).map(row_text).collect();
    SourceView {
        file: src.file.clone(),
        complete: d.conclusive,
        status: status.into(),
        facts,
        reasons: d.reasons.clone(),
        more_rows: s.rows_skipped.saturating_sub(rows.len() as u64),
        rows,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(100_000), "100,000");
        assert_eq!(super::count(1_234_567), "1,234,567");
    }
}
