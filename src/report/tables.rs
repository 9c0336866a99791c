//! Spreadsheet exports of an audit report: one XLSX workbook (概要, 条款评价, 发现与整改,
//! 自动检查) and CSV of the clause table or the findings. Chinese offices open both
//! in Excel, so the CSV starts with a UTF-8 byte-order mark (without it Excel reads
//! it as GBK and shows mojibake) and cells that Excel would run as a formula are
//! prefixed with `'`.

use rust_xlsxwriter::{DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::audit::AuditReport;

/// Which table a CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    /// 条款评价: one row per clause.
    Clauses,
    /// 发现与整改: one row per finding, with its corrective action.
    Findings,
}

pub const CLAUSE_HEADERS: [&str; 9] = [
    "条款",
    "标准",
    "条款号",
    "内容摘要",
    "结论",
    "严重程度",
    "来源",
    "证据摘要",
    "审核员说明",
];

pub const FINDING_HEADERS: [&str; 13] = [
    "编号",
    "类别",
    "条款",
    "问题",
    "观察到的事实",
    "涉及对象",
    "证据样本",
    "责任人",
    "完成期限",
    "状态",
    "来源",
    "附件",
    "照片",
];

fn clause_rows(r: &AuditReport) -> Vec<Vec<String>> {
    r.clauses
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.standard.clone(),
                c.number.clone(),
                c.text.clone(),
                c.verdict.clone(),
                c.severity.clone(),
                c.source.clone(),
                c.evidence.clone(),
                c.justification.clone(),
            ]
        })
        .collect()
}

fn finding_rows(r: &AuditReport) -> Vec<Vec<String>> {
    r.findings
        .iter()
        .map(|f| {
            vec![
                f.no.clone(),
                f.severity.clone(),
                f.clause.clone(),
                f.title.clone(),
                f.observed.clone(),
                f.target.clone(),
                f.samples.join("\n"),
                f.owner.clone(),
                f.due.clone(),
                f.status.clone(),
                if f.derived {
                    "检查得出"
                } else {
                    "审核员登记"
                }
                .to_string(),
                f.attachments.join("\n"),
                f.photos
                    .iter()
                    .map(|p| format!("{}（{}）", p.name, p.sha256))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ]
        })
        .collect()
}

/// A cell Excel would evaluate (`=1+1`, `@SUM`, `+x`, `-x`) gets a leading `'`.
fn defuse(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = match s.chars().next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => !s[1..].chars().next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if risky {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// CSV (UTF-8 with BOM) of one table.
pub fn csv(r: &AuditReport, table: Table) -> Vec<u8> {
    let (headers, rows): (&[&str], _) = match table {
        Table::Clauses => (&CLAUSE_HEADERS, clause_rows(r)),
        Table::Findings => (&FINDING_HEADERS, finding_rows(r)),
    };
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        // Writing to a Vec cannot fail; the results are kept for form.
        let _ = w.write_record(headers);
        for row in rows {
            let _ = w.write_record(row.iter().map(|c| defuse(c).into_owned()));
        }
        let _ = w.flush();
    }
    out
}

/// The cell formats every workbook of ours uses: header, table cell, key and
/// plain text, in 等线 (Excel's default CJK face).
pub(crate) struct Styles {
    pub head: Format,
    pub cell: Format,
    pub key: Format,
    pub plain: Format,
}

impl Styles {
    pub(crate) fn new() -> Styles {
        let font = "等线";
        Styles {
            head: Format::new()
                .set_bold()
                .set_font_name(font)
                .set_background_color("#E4E7EB")
                .set_border(FormatBorder::Thin)
                .set_align(FormatAlign::Center),
            cell: Format::new()
                .set_font_name(font)
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_border(FormatBorder::Thin),
            key: Format::new().set_font_name(font).set_bold(),
            plain: Format::new().set_font_name(font),
        }
    }
}

/// The workbook.
pub fn xlsx(r: &AuditReport) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("符合性审核报告 {} {}", r.report_no, r.audit.name))
            .set_author(
                r.auditors
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
            )
            .set_company("Biaozhun"),
    );
    let Styles {
        head,
        cell,
        key,
        plain,
    } = Styles::new();

    // 概要
    let ws = wb.add_worksheet();
    ws.set_name("概要")?;
    ws.set_column_width(0, 22)?;
    ws.set_column_width(1, 70)?;
    let s = &r.summary;
    let mut kv: Vec<(String, String)> = vec![
        ("报告编号".into(), r.report_no.clone()),
        ("审核名称".into(), r.audit.name.clone()),
        (
            "审核范围".into(),
            r.audit
                .standards
                .iter()
                .map(|s| s.code.clone())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        (
            "审核期间".into(),
            format!("{} 至 {}", r.audit.period_from, r.audit.period_to),
        ),
        (
            "审核组".into(),
            r.auditors
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        ("报告日期".into(), r.date.clone()),
        ("审核状态".into(), r.audit.state.clone()),
        ("数据快照 SHA-256".into(), r.audit.snapshot.clone()),
        ("总体符合率".into(), s.rate_text.clone()),
        ("已评价条款".into(), format!("{} / {}", s.assessed, s.total)),
        ("不符合（严重）".into(), s.major.to_string()),
        ("不符合（一般）".into(), s.minor.to_string()),
        ("观察项".into(), s.observations.to_string()),
        ("未关闭的纠正措施".into(), s.open_actions.to_string()),
    ];
    for p in &s.per_standard {
        kv.push((format!("符合率 {}", p.code), p.rate_text.clone()));
    }
    for (i, (k, v)) in kv.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, k, &key)?;
        ws.write_string_with_format(i as u32, 1, v, &plain)?;
    }

    let sheet = |wb: &mut Workbook,
                 name: &str,
                 headers: &[&str],
                 widths: &[f64],
                 rows: &[Vec<String>]|
     -> Result<(), XlsxError> {
        let ws = wb.add_worksheet();
        ws.set_name(name)?;
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &head)?;
            ws.set_column_width(c as u16, widths.get(c).copied().unwrap_or(14.0))?;
        }
        for (i, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string_with_format(i as u32 + 1, c as u16, v, &cell)?;
            }
        }
        ws.set_freeze_panes(1, 0)?;
        if !rows.is_empty() {
            ws.autofilter(0, 0, rows.len() as u32, headers.len() as u16 - 1)?;
        }
        Ok(())
    };
    sheet(
        &mut wb,
        "条款评价",
        &CLAUSE_HEADERS,
        &[26.0, 18.0, 8.0, 40.0, 8.0, 8.0, 8.0, 50.0, 30.0],
        &clause_rows(r),
    )?;
    sheet(
        &mut wb,
        "发现与整改",
        &FINDING_HEADERS,
        &[
            8.0, 8.0, 24.0, 30.0, 40.0, 14.0, 40.0, 10.0, 12.0, 8.0, 10.0, 20.0, 20.0,
        ],
        &finding_rows(r),
    )?;
    let checks: Vec<Vec<String>> = r
        .method
        .checks
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.kind.clone(),
                c.title.clone(),
                c.clauses.clone(),
                c.outcome.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        "自动检查",
        &["编号", "类型", "检查", "条款", "结果", "说明"],
        &[16.0, 10.0, 40.0, 14.0, 8.0, 30.0],
        &checks,
    )?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-cmd"), "'-cmd");
        assert_eq!(defuse("-3"), "-3");
        assert_eq!(defuse("红码人员不应派单"), "红码人员不应派单");
    }
}
