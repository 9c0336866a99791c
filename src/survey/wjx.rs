//! 问卷星 (Wenjuanxing) exports → responses, all or nothing.
//!
//! Both layouts are read, from `.csv`, `.xlsx` or `.xls` (through [`crate::sheet`],
//! which bounds what a file may make the reader hold):
//! - **按选项文本**: one column per question headed `N、题干`; answers are option
//!   texts, multiple choices joined with `┋`, `(跳过)` / `(空)` for no answer.
//! - **按选项序号**: single choices as 1-based numbers; a multiple-choice question
//!   spread over `N(选项)` columns holding 0/1; `-2`/`-3` for skipped / not shown.
//!   A number means the option at that place *as the questionnaire listed them*:
//!   choice questions list their `options:` in order, and a satisfaction question
//!   is read through the order its definition states ([`super::Scale`]). A coded
//!   file for a definition that does not state it is refused, saying how to.
//!
//! The first columns are 序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP.
//! Question columns are mapped to the definition by title (then by number), and
//! every problem is reported with its row and column; nothing is returned unless the
//! whole file reads. The first responses come back decoded to option text
//! ([`Imported::samples`]) so a person can check the reading, and the two layouts
//! of one export can be compared answer for answer ([`disagreements`]).

use std::collections::BTreeMap;

use super::stats::channel_of;
use super::{Answer, Kind, Question, Response, Survey};
use crate::sheet::column as col_name;

/// Largest file accepted.
pub const MAX_BYTES: usize = 50 * 1024 * 1024;

/// Responses shown decoded in [`Imported::samples`].
pub const SAMPLES: usize = 5;

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
    /// The first [`SAMPLES`] responses as read, for a person to check.
    pub samples: Vec<Sample>,
    /// How option numbers were read (coded layout): one line per answer order.
    pub notes: Vec<String>,
}

/// One response as the file has it and as it was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub source: String,
    /// Per question of the definition: (question id, the file's cells, the answer
    /// read from them as option text; empty when unanswered).
    pub cells: Vec<(String, String, String)>,
}

fn at(row: usize, col: usize, header: &str) -> String {
    format!("第 {row} 行 {} 列（{header}）", col_name(col))
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
    let Ok(rows) = crate::sheet::read(bytes, name) else {
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

/// A question column of the file.
struct Col {
    idx: usize,
    q: usize,
    /// The option a coded multiple-choice column (`5(选项)`) stands for.
    option: Option<usize>,
}

/// What the header row says: meta columns, question columns, and whether a
/// `N(选项)` column already shows the coded layout.
struct Header {
    meta: BTreeMap<&'static str, usize>,
    cols: Vec<Col>,
    mapping: Vec<(String, String)>,
    coded: bool,
}

/// The question a header cell stands for: an explicit mapping, then the title; a
/// coded multiple-choice column (`5(选项)`, no title) goes to question 5 of the
/// definition if that is a multiple-choice question with this option; a matrix
/// row (`7(仪容仪表)`) to the row of that text.
fn question_of(
    survey: &Survey,
    map: &BTreeMap<usize, String>,
    (n, title, option): (usize, &str, Option<&str>),
) -> Result<Option<usize>, String> {
    if let Some(id) = map.get(&n) {
        return match survey.questions.iter().position(|q| &q.id == id) {
            Some(q) => Ok(Some(q)),
            None => Err(format!("映射 {n}={id}：问卷中没有题目 `{id}`")),
        };
    }
    let by_title = (!title.is_empty())
        .then(|| {
            survey
                .questions
                .iter()
                .position(|q| normal(&q.text) == normal(title))
        })
        .flatten();
    let by_number = || {
        let q = survey.questions.get(n.checked_sub(1)?)?;
        let o = option?;
        (q.kind == Kind::Multiple && q.options.iter().any(|c| normal(c) == normal(o)))
            .then(|| n - 1)
    };
    let by_row = || {
        let o = option?;
        survey
            .questions
            .iter()
            .position(|q| q.row.as_deref().is_some_and(|r| normal(r) == normal(o)))
    };
    Ok(by_title.or_else(by_number).or_else(by_row))
}

fn read_header(
    header: &[String],
    survey: &Survey,
    map: &BTreeMap<usize, String>,
    errors: &mut Vec<String>,
) -> Header {
    let meta: BTreeMap<&'static str, usize> = META
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
    let mut out = Header {
        meta,
        cols: Vec::new(),
        mapping: Vec::new(),
        coded: false,
    };
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
        let q = match question_of(survey, map, (n, &title, option.as_deref())) {
            Ok(Some(q)) => q,
            Ok(None) => {
                errors.push(format!(
                    "第 1 行 {} 列：题目“{h}”在问卷“{}”中找不到；请核对题干，或指定映射（如 --map {n}=题目id）",
                    col_name(i + 1),
                    survey.title
                ));
                continue;
            }
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let question = &survey.questions[q];
        let option = match option {
            Some(_) if question.row.is_some() => None,
            None => None,
            Some(o) => {
                out.coded = true;
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
        out.mapping.push((h.clone(), question.id.clone()));
        out.cols.push(Col { idx: i, q, option });
    }
    for (qi, q) in survey.questions.iter().enumerate() {
        if !out.cols.iter().any(|c| c.q == qi) {
            errors.push(format!("表头：缺少问卷第 {} 题“{}”的列", qi + 1, q.text));
        }
    }
    out
}

/// Whether every answer cell of the choice questions is a number (the coded
/// layout writes single choices as numbers).
fn all_numbers(rows: &[Vec<String>], cols: &[Col], survey: &Survey) -> bool {
    rows.iter().all(|r| {
        cols.iter()
            .filter(|c| survey.questions[c.q].kind != Kind::Text)
            .all(|c| {
                let v = r.get(c.idx).map(String::as_str).unwrap_or("");
                v.is_empty() || v.parse::<i64>().is_ok()
            })
    })
}

fn short(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// A coded file needs every satisfaction question's answer order: the refusal
/// that says how to state it, when some are not stated.
fn unstated_order(name: &str, survey: &Survey, cols: &[Col]) -> Option<String> {
    let missing: Vec<&Question> = survey
        .unstated_scales()
        .into_iter()
        .filter(|q| cols.iter().any(|c| survey.questions[c.q].id == q.id))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let listed: Vec<String> = missing
        .iter()
        .take(5)
        .map(|q| format!("{}（{}）", q.id, short(&q.text, 16)))
        .collect();
    let more = if missing.len() > 5 {
        format!(" 等 {} 题", missing.len())
    } else {
        String::new()
    };
    Some(format!(
        "{name}：这是“按选项序号”下载的文件，满意度题的序号要按问卷中选项的排列顺序解读，但问卷定义没有写明 {}{more} 的顺序，无法判断 1 是“非常满意”还是“非常不满意”。请在问卷定义中写明：选项从“非常满意”排到“非常不满意”的，在定义开头加一行 scale: 非常满意→非常不满意；从“非常不满意”排起的，加 scale: 非常不满意→非常满意（也可以在单个题目下写 scale）。或者在问卷星改为“按选项文本”下载后导入。",
        listed.join("、")
    ))
}

/// How the coded layout's numbers were read, one line per answer order.
fn order_notes(survey: &Survey, cols: &[Col]) -> Vec<String> {
    let mut by_scale: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for q in &survey.questions {
        if q.kind == Kind::Likert
            && let Some(s) = q.order
            && cols.iter().any(|c| survey.questions[c.q].id == q.id)
        {
            by_scale.entry(s.label()).or_default().push(q.id.clone());
        }
    }
    by_scale
        .into_iter()
        .map(|(label, ids)| {
            let (first, last) = label.split_once('→').unwrap_or((label, label));
            format!(
                "满意度题按问卷定义的顺序“{label}”解读：序号 1 = {first}，5 = {last}（{}）",
                ids.join("、")
            )
        })
        .collect()
}

/// One answer cell (or coded option column) of a row into `answers`.
fn read_cell(
    q: &Question,
    c: &Col,
    v: &str,
    coded: bool,
    answers: &mut BTreeMap<String, Answer>,
) -> Result<(), String> {
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
            other => return Err(format!("应为 0 或 1，实为“{other}”")),
        },
        (Kind::Multiple, None, _) => {
            let mut picked = Vec::new();
            let mut bad = Vec::new();
            for part in v.split('┋').map(str::trim).filter(|p| !p.is_empty()) {
                match choices.iter().position(|o| normal(o) == normal(part)) {
                    Some(k) => picked.push(k),
                    None => bad.push(part.to_string()),
                }
            }
            answers.insert(q.id.clone(), Answer::Choices(picked));
            if !bad.is_empty() {
                return Err(format!(
                    "“{}”不是该题的选项（可选：{}）",
                    bad.join("”“"),
                    choices.join("、")
                ));
            }
        }
        (_, _, true) => {
            // Every likert question of a coded file has its order (checked first).
            let order = q.code_choices().unwrap_or_default();
            match v.parse::<usize>() {
                Ok(k) if k >= 1 && k <= order.len() => {
                    answers.insert(q.id.clone(), Answer::Choice(order[k - 1]));
                }
                _ => return Err(format!("选项序号“{v}”超出 1～{}", order.len())),
            }
        }
        (_, _, false) => match choices.iter().position(|o| normal(o) == normal(v)) {
            Some(k) => {
                answers.insert(q.id.clone(), Answer::Choice(k));
            }
            None => {
                return Err(format!(
                    "“{v}”不是该题的选项（可选：{}）",
                    choices.join("、")
                ));
            }
        },
    }
    Ok(())
}

/// One data row (`line` as in the file) → a response, or its problems.
fn read_row(
    survey: &Survey,
    head: &Header,
    header: &[String],
    row: &[String],
    line: usize,
    coded: bool,
    errors: &mut Vec<String>,
) -> Response {
    let cell = |i: Option<&usize>| {
        i.and_then(|i| row.get(*i))
            .map(String::as_str)
            .unwrap_or("")
    };
    let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
    for c in &head.cols {
        let q = &survey.questions[c.q];
        let v = row.get(c.idx).map(String::as_str).unwrap_or("").trim();
        if skipped(v) {
            continue;
        }
        if let Err(e) = read_cell(q, c, v, coded, &mut answers) {
            errors.push(format!("{}：{e}", at(line, c.idx + 1, &header[c.idx])));
        }
    }
    let duration = cell(head.meta.get("所用时间"));
    let duration_s = match (duration.is_empty(), seconds(duration)) {
        (true, _) => None,
        (false, Some(s)) => Some(s),
        (false, None) => {
            let i = head.meta.get("所用时间").copied().unwrap_or(0);
            errors.push(format!(
                "{}：“{duration}”不是用时（如 125秒）",
                at(line, i + 1, "所用时间")
            ));
            None
        }
    };
    let when = cell(head.meta.get("提交答卷时间"));
    let submitted_at = match (when.is_empty(), submitted(when)) {
        (true, _) => None,
        (false, Some(t)) => Some(t),
        (false, None) => {
            let i = head.meta.get("提交答卷时间").copied().unwrap_or(0);
            errors.push(format!(
                "{}：“{when}”不是日期时间（如 2023/10/9 10:23:45）",
                at(line, i + 1, "提交答卷时间")
            ));
            None
        }
    };
    let ip = cell(head.meta.get("来自IP"));
    Response {
        source: format!("第 {line} 行（序号 {}）", cell(head.meta.get("序号"))),
        channel: channel_of(cell(head.meta.get("来源"))),
        submitted_at,
        duration_s,
        contact: (!ip.is_empty()).then(|| ip.split('(').next().unwrap_or(ip).trim().to_string()),
        answers,
    }
}

/// An answer as the option text(s) it stands for; empty when unanswered.
pub fn answer_text(q: &Question, a: Option<&Answer>) -> String {
    let choices = q.choices();
    let text = |k: &usize| choices.get(*k).cloned().unwrap_or_default();
    match a {
        None => String::new(),
        Some(Answer::Choice(k)) => text(k),
        Some(Answer::Choices(ks)) => ks.iter().map(text).collect::<Vec<_>>().join("┋"),
        Some(Answer::Text(t)) => t.clone(),
    }
}

/// A response next to the cells it was read from.
fn sample(survey: &Survey, head: &Header, row: &[String], r: &Response) -> Sample {
    let cells = survey
        .questions
        .iter()
        .enumerate()
        .map(|(qi, q)| {
            let raw: Vec<String> = head
                .cols
                .iter()
                .filter(|c| c.q == qi)
                .filter_map(|c| {
                    let v = row.get(c.idx).map(String::as_str).unwrap_or("");
                    match c.option {
                        Some(k) if v == "1" => q.choices().get(k).cloned(),
                        Some(_) => None,
                        None => Some(v.to_string()),
                    }
                })
                .collect();
            (
                q.id.clone(),
                raw.join("┋"),
                answer_text(q, r.answers.get(&q.id)),
            )
        })
        .collect();
    Sample {
        source: r.source.clone(),
        cells,
    }
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
    let rows = crate::sheet::read(bytes, name)?;
    let Some(header) = rows.first().filter(|h| h.iter().any(|c| !c.is_empty())) else {
        return Err(vec![format!("{name}：文件是空的（没有表头）")]);
    };
    if rows.len() < 2 {
        return Err(vec![format!("{name}：只有表头，没有答卷")]);
    }
    let mut errors = Vec::new();
    let head = read_header(header, survey, map, &mut errors);
    let coded = head.coded || all_numbers(&rows[1..], &head.cols, survey);
    if errors.is_empty()
        && coded
        && let Some(e) = unstated_order(name, survey, &head.cols)
    {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut responses = Vec::new();
    let mut samples = Vec::new();
    for (ri, row) in rows.iter().enumerate().skip(1) {
        let line = ri + 1;
        if row.iter().all(String::is_empty) {
            continue;
        }
        if let Some(f) = row.iter().position(|c| c.starts_with('=')) {
            errors.push(format!(
                "{}：单元格是公式（{}）；请导出为值后再导入",
                at(line, f + 1, header.get(f).map(String::as_str).unwrap_or("")),
                row[f]
            ));
            continue;
        }
        let r = read_row(survey, &head, header, row, line, coded, &mut errors);
        if samples.len() < SAMPLES {
            samples.push(sample(survey, &head, row, &r));
        }
        responses.push(r);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Imported {
        responses,
        notes: if coded {
            order_notes(survey, &head.cols)
        } else {
            Vec::new()
        },
        mapping: head.mapping,
        layout: if coded {
            "按选项序号"
        } else {
            "按选项文本"
        },
        samples,
    })
}

/// Answers that two readings of one export (its two layouts) give differently,
/// response for response and question for question; empty when they agree. At
/// most `MAX_LISTED` are listed, then how many more there are.
pub fn disagreements(survey: &Survey, a: &Imported, b: &Imported) -> Vec<String> {
    const MAX_LISTED: usize = 20;
    if a.responses.len() != b.responses.len() {
        return vec![format!(
            "两个文件的答卷数不同：{}有 {} 份，{}有 {} 份；请上传同一次下载的两种格式",
            a.layout,
            a.responses.len(),
            b.layout,
            b.responses.len()
        )];
    }
    let mut out = Vec::new();
    let mut more = 0usize;
    for (x, y) in a.responses.iter().zip(&b.responses) {
        for (qi, q) in survey.questions.iter().enumerate() {
            let (ax, ay) = (x.answers.get(&q.id), y.answers.get(&q.id));
            let same = match (ax, ay) {
                (Some(Answer::Choices(p)), Some(Answer::Choices(r))) => {
                    let (mut p, mut r) = (p.clone(), r.clone());
                    p.sort_unstable();
                    r.sort_unstable();
                    p == r
                }
                _ => ax == ay,
            };
            if same {
                continue;
            }
            if out.len() == MAX_LISTED {
                more += 1;
                continue;
            }
            let shown = |t: String| {
                if t.is_empty() {
                    "未答".to_string()
                } else {
                    format!("“{t}”")
                }
            };
            out.push(format!(
                "{} 第 {} 题（{}）：{}读作{}，{}读作{}",
                x.source,
                qi + 1,
                short(&q.text, 16),
                a.layout,
                shown(answer_text(q, ax)),
                b.layout,
                shown(answer_text(q, ay))
            ));
        }
    }
    if more > 0 {
        out.push(format!("……另有 {more} 处不一致"));
    }
    out
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
        assert_eq!(submitted("2023/10/9 10:23:45"), Some(1_696_818_225));
    }
}
