//! 问卷星 (Wenjuanxing) exports → responses, all or nothing.
//!
//! Both layouts are read, from `.csv`, `.xlsx` or `.xls`:
//! - **按选项文本**: one column per question headed `N、题干`; answers are option
//!   texts, multiple choices joined with `┋`, `(跳过)` / `(空)` for no answer.
//! - **按选项序号**: single choices as 1-based numbers; a multiple-choice question
//!   spread over `N(选项)` columns holding 0/1; `-2`/`-3` for skipped / not shown.
//!
//! The first columns are 序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP.
//! Question columns are mapped to the definition by title (then by number), and
//! every problem is reported with its row and column; nothing is returned unless the
//! whole file reads.

use std::collections::BTreeMap;

use super::stats::channel_of;
use super::{Answer, Kind, Response, Survey};

/// Largest file accepted.
pub const MAX_BYTES: usize = 50 * 1024 * 1024;

const META: [&str; 6] = [
    "序号",
    "提交答卷时间",
    "所用时间",
    "来源",
    "来源详情",
    "来自IP",
];

/// What an import found: the responses, or every problem.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub responses: Vec<Response>,
    /// Column → question id, for the user to confirm.
    pub mapping: Vec<(String, String)>,
    pub layout: &'static str,
}

/// Column letters as in a spreadsheet (1 → A, 27 → AA).
fn col_name(c: usize) -> String {
    let mut n = c;
    let mut s = String::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

fn at(row: usize, col: usize, header: &str) -> String {
    format!("第 {row} 行 {} 列（{header}）", col_name(col))
}

/// Reads the rows of a file (first sheet of a workbook). Formulas are refused.
fn rows(bytes: &[u8], name: &str) -> Result<Vec<Vec<String>>, Vec<String>> {
    let lower = name.to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xls") {
        use calamine::Reader;
        let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .map_err(|e| vec![format!("{name}：不是可读的 Excel 文件（{e}）")])?;
        let sheet = wb
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| vec![format!("{name}：工作簿没有工作表")])?;
        let mut errors = Vec::new();
        if let Ok(f) = wb.worksheet_formula(&sheet) {
            let (r0, c0) = f.start().unwrap_or((0, 0));
            for (r, row) in f.rows().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    if !cell.is_empty() {
                        errors.push(format!(
                            "第 {} 行 {} 列：单元格是公式（={cell}），请导出为值后再导入",
                            r0 as usize + r + 1,
                            col_name(c0 as usize + c + 1)
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let range = wb
            .worksheet_range(&sheet)
            .map_err(|e| vec![format!("{name}：无法读取工作表（{e}）")])?;
        Ok(range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string().trim().to_string()).collect())
            .collect())
    } else {
        let text = std::str::from_utf8(bytes)
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .map_err(|_| {
                vec![format!(
                    "{name}：不是 UTF-8 文本；请在问卷星下载 Excel 格式，或把 CSV 另存为 UTF-8"
                )]
            })?;
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| vec![format!("第 {} 行：{e}", i + 1)])?;
            out.push(rec.iter().map(|s| s.trim().to_string()).collect());
        }
        Ok(out)
    }
}

/// `12、您对…` → (12, "您对…"); `12(选项A)` → (12, option) for the coded layout.
fn question_header(h: &str) -> Option<(usize, String, Option<String>)> {
    let digits: String = h.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    let rest = &h[digits.len()..];
    if let Some(t) = rest.strip_prefix('、').or_else(|| rest.strip_prefix('.')) {
        return Some((n, t.trim().to_string(), None));
    }
    let open = rest.strip_prefix('(').or_else(|| rest.strip_prefix('（'))?;
    let opt = open.trim_end_matches([')', '）']).trim().to_string();
    Some((n, String::new(), Some(opt)))
}

fn normal(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !"，。？?、：:（）()“”\"".contains(*c))
        .collect()
}

fn seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    if let Some(x) = s.strip_suffix('秒') {
        if let Some((m, sec)) = x.split_once('分') {
            return Some(m.trim().parse::<u32>().ok()? * 60 + sec.trim().parse::<u32>().ok()?);
        }
        return x.trim().parse().ok();
    }
    s.parse().ok()
}

fn submitted(s: &str) -> Option<i64> {
    let t = s.trim().replace('/', "-");
    let (date, time) = t.split_once(' ').unwrap_or((&t, "00:00:00"));
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut tm = time.split(':').map(|x| x.parse::<i64>().unwrap_or(0));
    let (h, mi, se) = (
        tm.next().unwrap_or(0),
        tm.next().unwrap_or(0),
        tm.next().unwrap_or(0),
    );
    let iso = format!("{y:04}-{m:02}-{dd:02}T{h:02}:{mi:02}:{se:02}+08:00");
    crate::audit::time::parse_instant(&iso, None)
        .ok()
        .map(|(us, _)| us / 1_000_000)
}

fn skipped(v: &str) -> bool {
    v.is_empty() || v == "(跳过)" || v == "(空)" || v == "-2" || v == "-3"
}

/// The question columns of an export's header: (问卷星 question number, header),
/// for the mapping form. Unreadable files give none (the import says why).
pub fn question_columns(bytes: &[u8], name: &str) -> Vec<(usize, String)> {
    if bytes.len() > MAX_BYTES {
        return Vec::new();
    }
    let Ok(rows) = rows(bytes, name) else {
        return Vec::new();
    };
    let mut out: Vec<(usize, String)> = Vec::new();
    for h in rows.first().into_iter().flatten() {
        if let Some((n, _, _)) = question_header(h)
            && !out.iter().any(|(m, _)| *m == n)
        {
            out.push((n, h.clone()));
        }
    }
    out
}

/// Reads a 问卷星 export against `survey`, mapping columns by title.
pub fn import(bytes: &[u8], name: &str, survey: &Survey) -> Result<Imported, Vec<String>> {
    import_mapped(bytes, name, survey, &BTreeMap::new())
}

/// [`import`] with explicit mappings: 问卷星 question number → question id, for
/// columns whose titles differ from the definition's (the user confirms them).
pub fn import_mapped(
    bytes: &[u8],
    name: &str,
    survey: &Survey,
    map: &BTreeMap<usize, String>,
) -> Result<Imported, Vec<String>> {
    if bytes.len() > MAX_BYTES {
        return Err(vec![format!(
            "{name}：文件 {:.1} MB，超过 50 MB 上限；请按时间分段导出",
            bytes.len() as f64 / 1_048_576.0
        )]);
    }
    let rows = rows(bytes, name)?;
    let Some(header) = rows.first().filter(|h| h.iter().any(|c| !c.is_empty())) else {
        return Err(vec![format!("{name}：文件是空的（没有表头）")]);
    };
    if rows.len() < 2 {
        return Err(vec![format!("{name}：只有表头，没有答卷")]);
    }
    let mut errors = Vec::new();
    let meta: BTreeMap<&str, usize> = META
        .iter()
        .filter_map(|m| header.iter().position(|h| h == m).map(|i| (*m, i)))
        .collect();
    for m in ["序号", "提交答卷时间", "所用时间", "来源"] {
        if !meta.contains_key(m) {
            errors.push(format!(
                "第 1 行：缺少“{m}”列（问卷星导出的前几列是 {}）",
                META.join("、")
            ));
        }
    }
    // Question columns.
    struct Col {
        idx: usize,
        q: usize,
        option: Option<usize>,
    }
    let mut cols: Vec<Col> = Vec::new();
    let mut mapping = Vec::new();
    let mut coded = false;
    for (i, h) in header.iter().enumerate() {
        if META.contains(&h.as_str()) {
            continue;
        }
        if h.is_empty() {
            errors.push(format!(
                "第 1 行 {} 列：表头为空（合并的表头单元格？）；请取消合并，每列一个题目",
                col_name(i + 1)
            ));
            continue;
        }
        let Some((n, title, option)) = question_header(h) else {
            errors.push(format!(
                "第 1 行 {} 列：“{h}”不是题目列（应为“N、题干”）；请删除这一列或检查导出",
                col_name(i + 1)
            ));
            continue;
        };
        // An explicit mapping, then the title; a coded multiple-choice column
        // (`5(选项)`, no title) goes to question 5 of the definition if that is a
        // multiple-choice question with this option.
        let explicit = match map.get(&n) {
            Some(id) => match survey.questions.iter().position(|q| &q.id == id) {
                Some(q) => Some(q),
                None => {
                    errors.push(format!("映射 {n}={id}：问卷中没有题目 `{id}`"));
                    continue;
                }
            },
            None => None,
        };
        let by_title = (!title.is_empty())
            .then(|| {
                survey
                    .questions
                    .iter()
                    .position(|q| normal(&q.text) == normal(&title))
            })
            .flatten();
        let by_number = || {
            let q = survey.questions.get(n.checked_sub(1)?)?;
            let o = option.as_deref()?;
            (q.kind == Kind::Multiple && q.options.iter().any(|c| normal(c) == normal(o)))
                .then(|| n - 1)
        };
        // A matrix row (`7(仪容仪表)`): the row of that text.
        let by_row = || {
            let o = option.as_deref()?;
            survey
                .questions
                .iter()
                .position(|q| q.row.as_deref().is_some_and(|r| normal(r) == normal(o)))
        };
        let q = explicit.or(by_title).or_else(by_number).or_else(by_row);
        let Some(q) = q else {
            errors.push(format!(
                "第 1 行 {} 列：题目“{h}”在问卷“{}”中找不到；请核对题干，或指定映射（如 --map {n}=题目id）",
                col_name(i + 1),
                survey.title
            ));
            continue;
        };
        let question = &survey.questions[q];
        let is_row = question.row.is_some() && option.is_some();
        let option = match option {
            None => None,
            Some(_) if is_row => None,
            Some(o) => {
                coded = true;
                match question
                    .choices()
                    .iter()
                    .position(|c| normal(c) == normal(&o))
                {
                    Some(k) => Some(k),
                    None => {
                        errors.push(format!(
                            "第 1 行 {} 列：“{o}”不是第 {n} 题的选项",
                            col_name(i + 1)
                        ));
                        continue;
                    }
                }
            }
        };
        mapping.push((h.clone(), question.id.clone()));
        cols.push(Col { idx: i, q, option });
    }
    for (qi, q) in survey.questions.iter().enumerate() {
        if !cols.iter().any(|c| c.q == qi) {
            errors.push(format!("表头：缺少问卷第 {} 题“{}”的列", qi + 1, q.text));
        }
    }
    // The coded layout also writes single choices as numbers.
    if !coded {
        coded = rows[1..].iter().all(|r| {
            cols.iter()
                .filter(|c| survey.questions[c.q].kind != Kind::Text)
                .all(|c| {
                    let v = r.get(c.idx).map(String::as_str).unwrap_or("");
                    v.is_empty() || v.parse::<i64>().is_ok()
                })
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut responses = Vec::new();
    for (ri, row) in rows.iter().enumerate().skip(1) {
        let line = ri + 1;
        if row.iter().all(String::is_empty) {
            continue;
        }
        let cell = |i: Option<&usize>| {
            i.and_then(|i| row.get(*i))
                .map(String::as_str)
                .unwrap_or("")
        };
        if let Some(f) = row.iter().position(|c| c.starts_with('=')) {
            errors.push(format!(
                "{}：单元格是公式（{}）；请导出为值后再导入",
                at(line, f + 1, header.get(f).map(String::as_str).unwrap_or("")),
                row[f]
            ));
            continue;
        }
        let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
        for c in &cols {
            let q = &survey.questions[c.q];
            let v = row.get(c.idx).map(String::as_str).unwrap_or("").trim();
            let here = || at(line, c.idx + 1, &header[c.idx]);
            if skipped(v) {
                continue;
            }
            let choices = q.choices();
            match (q.kind, c.option, coded) {
                (Kind::Text, _, _) => {
                    answers.insert(q.id.clone(), Answer::Text(v.to_string()));
                }
                (Kind::Multiple, Some(k), _) => match v {
                    "1" => {
                        if let Answer::Choices(cs) = answers
                            .entry(q.id.clone())
                            .or_insert_with(|| Answer::Choices(Vec::new()))
                        {
                            cs.push(k);
                        }
                    }
                    "0" => {}
                    other => errors.push(format!("{}：应为 0 或 1，实为“{other}”", here())),
                },
                (Kind::Multiple, None, _) => {
                    let mut picked = Vec::new();
                    for part in v.split('┋').map(str::trim).filter(|p| !p.is_empty()) {
                        match choices.iter().position(|o| normal(o) == normal(part)) {
                            Some(k) => picked.push(k),
                            None => errors.push(format!(
                                "{}：“{part}”不是该题的选项（可选：{}）",
                                here(),
                                choices.join("、")
                            )),
                        }
                    }
                    answers.insert(q.id.clone(), Answer::Choices(picked));
                }
                (_, _, true) => match v.parse::<usize>() {
                    Ok(k) if k >= 1 && k <= choices.len() => {
                        answers.insert(q.id.clone(), Answer::Choice(k - 1));
                    }
                    _ => errors.push(format!(
                        "{}：选项序号“{v}”超出 1～{}",
                        here(),
                        choices.len()
                    )),
                },
                (_, _, false) => match choices.iter().position(|o| normal(o) == normal(v)) {
                    Some(k) => {
                        answers.insert(q.id.clone(), Answer::Choice(k));
                    }
                    None => errors.push(format!(
                        "{}：“{v}”不是该题的选项（可选：{}）",
                        here(),
                        choices.join("、")
                    )),
                },
            }
        }
        let duration = cell(meta.get("所用时间"));
        let duration_s = if duration.is_empty() {
            None
        } else {
            match seconds(duration) {
                Some(s) => Some(s),
                None => {
                    let i = meta["所用时间"];
                    errors.push(format!(
                        "{}：“{duration}”不是用时（如 125秒）",
                        at(line, i + 1, "所用时间")
                    ));
                    None
                }
            }
        };
        let when = cell(meta.get("提交答卷时间"));
        let submitted_at = if when.is_empty() {
            None
        } else {
            match submitted(when) {
                Some(t) => Some(t),
                None => {
                    let i = meta["提交答卷时间"];
                    errors.push(format!(
                        "{}：“{when}”不是日期时间（如 2023/10/9 10:23:45）",
                        at(line, i + 1, "提交答卷时间")
                    ));
                    None
                }
            }
        };
        let ip = cell(meta.get("来自IP"));
        responses.push(Response {
            source: format!("第 {line} 行（序号 {}）", cell(meta.get("序号"))),
            channel: channel_of(cell(meta.get("来源"))),
            submitted_at,
            duration_s,
            contact: (!ip.is_empty())
                .then(|| ip.split('(').next().unwrap_or(ip).trim().to_string()),
            answers,
        });
    }
    if errors.is_empty() {
        Ok(Imported {
            responses,
            mapping,
            layout: if coded {
                "按选项序号"
            } else {
                "按选项文本"
            },
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_times_and_columns() {
        assert_eq!(
            question_header("3、您对服务态度是否满意"),
            Some((3, "您对服务态度是否满意".into(), None))
        );
        assert_eq!(
            question_header("5(价格)"),
            Some((5, String::new(), Some("价格".into())))
        );
        assert_eq!(question_header("序号"), None);
        assert_eq!(seconds("125秒"), Some(125));
        assert_eq!(seconds("2分5秒"), Some(125));
        assert_eq!(col_name(1), "A");
        assert_eq!(col_name(28), "AB");
        assert_eq!(submitted("2023/10/9 10:23:45"), Some(1_696_818_225));
    }
}
