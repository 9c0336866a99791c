//! Surveys: statistics reproduce hand-computed figures (a question answered by only
//! part of the respondents included); 问卷星 exports in both layouts read to the
//! same responses; bad files are refused whole with row and column.
//!
//! The expected figures were computed independently with Python's `statistics`
//! module (mean, stdev, variance) from the answers listed in the comments.

use std::path::PathBuf;

use biaozhun::survey::stats::compute;
use biaozhun::survey::validity::{self, Reason, Rules};
use biaozhun::survey::{Answer, Scale, Survey, wjx};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/surveys")
        .join(name)
}

fn survey() -> Survey {
    let p = data("test.yaml");
    Survey::from_yaml(&std::fs::read_to_string(&p).unwrap(), "test.yaml").unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The valid respondents' scored answers (q1, q2, q3):
/// (5,5,4) (4,4,4) (5,4,3) (3,3,2) (5,5,5) (4,5,4).
#[test]
fn statistics_match_a_hand_computation() {
    let s = survey();
    let bytes = std::fs::read(data("wjx-text.csv")).unwrap();
    let imp = wjx::import(&bytes, "wjx-text.csv", &s).unwrap();
    assert_eq!(imp.layout, "按选项文本");
    assert_eq!(imp.responses.len(), 9);
    let v = validity::check(&s, &imp.responses, &Rules::default());
    // Online in 10 s: too fast (7.3 c); row 2, a 40 s phone interview, is fine.
    assert_eq!(
        v[6],
        vec![Reason::TooFast {
            seconds: 10,
            min: 60
        }]
    );
    assert_eq!(
        v[7],
        vec![Reason::Duplicate {
            of: "第 2 行（序号 1）".into()
        }]
    );
    assert_eq!(
        v[8],
        vec![Reason::Incomplete {
            questions: vec!["q2".into()]
        }]
    );
    assert!(v[..6].iter().all(Vec::is_empty));
    let st = compute(&s, &imp.responses, &v, None);
    assert_eq!((st.responses, st.valid, st.invalid), (9, 6, 3));
    assert_eq!(st.by_channel["电话"], 2);
    assert_eq!(st.by_channel["网上"], 4);
    let q = |id: &str| st.questions.iter().find(|q| q.id == id).unwrap();
    // q1: 5,4,5,3,5,4 → mean 4.333333, sd 0.816497, 95% CI [3.680012, 4.986655].
    assert!(close(q("q1").mean.unwrap(), 4.333_333_333));
    assert!((q("q1").sd.unwrap() - 0.816_497).abs() < 1e-6);
    let (lo, hi) = q("q1").ci95.unwrap();
    assert!((lo - 3.680_012).abs() < 1e-6 && (hi - 4.986_655).abs() < 1e-6);
    assert_eq!(q("q1").options[0].percent, 50.0);
    assert_eq!(q("q1").options[1].percent, 33.33);
    // q3: 4,4,3,2,5,4 → mean 3.666667, sd 1.032796; the lowest question.
    assert!((q("q3").sd.unwrap() - 1.032_796).abs() < 1e-6);
    assert_eq!(st.lowest[0], "q3");
    // q4 (optional) answered by 4 of 6: percentages of those 4.
    assert_eq!(q("q4").answered, 4);
    let pct: Vec<f64> = q("q4").options.iter().map(|o| o.percent).collect();
    assert_eq!(pct, vec![0.0, 50.0, 25.0, 25.0]);
    // q5 (multiple): 5 answered; shares of those 5 may exceed 100 in total.
    assert_eq!(q("q5").answered, 5);
    assert_eq!(
        q("q5").options.iter().map(|o| o.count).collect::<Vec<_>>(),
        vec![2, 3, 1]
    );
    assert_eq!(q("q6").texts, vec!["阿姨很细心", "希望投诉处理更快"]);
    // Overall: mean of question means 4.111111 → 82.222222% (the pilot's way).
    // 满意度 (DB3301/T 0441 7.4): q1 answered 非常满意/满意 by 5 of 6 = 83.333333%
    // ± 29.819902 points.
    assert!(close(st.score.unwrap(), 4.111_111_111));
    assert!(close(st.satisfaction_percent.unwrap(), 82.222_222_222));
    assert!(close(st.csat_percent.unwrap(), 83.333_333_333));
    assert!((st.csat_margin.unwrap() - 29.819_902).abs() < 1e-5);
    assert_eq!(st.csat_basis, "总体满意程度（q1）");
    // Without an overall question: 14 of 18 scored answers = 77.777778% ± 33.265494
    // (n = 6 respondents).
    let mut pooled = s.clone();
    pooled.overall = None;
    let st2 = compute(&pooled, &imp.responses, &v, None);
    assert!(close(st2.csat_percent.unwrap(), 77.777_777_778));
    assert!((st2.csat_margin.unwrap() - 33.265_494).abs() < 1e-5);
    // Respondent scores: sd 0.807373; Cronbach's α = 0.886364.
    assert!((st.respondent_sd.unwrap() - 0.807_373).abs() < 1e-6);
    assert!((st.alpha.unwrap() - 0.886_364).abs() < 1e-6);
    assert_eq!(st.alpha_n, 6);
}

/// The previous survey's respondents (q1, q2, q3): (4,4,4) (3,4,3) (5,4,4) (3,3,3)
/// (4,4,5): score 3.8; Welch t on respondent scores = 0.729305, two-sided p =
/// 0.465815: not significant.
#[test]
fn comparison_with_the_previous_survey() {
    let s = survey();
    let now = wjx::import(&std::fs::read(data("wjx-text.csv")).unwrap(), "a.csv", &s).unwrap();
    let prev_csv = "序号,提交答卷时间,所用时间,来源,来源详情,来自IP,1、您对家政服务人员的服务态度是否满意,2、您对服务质量是否满意,3、您对投诉处理是否满意,4、您是否了解服务标准化流程,5、您通过哪些渠道下单,6、您的建议\n\
        1,2022/10/9 10:00:00,100秒,电话,,,满意,满意,满意,,,\n\
        2,2022/10/9 10:00:00,100秒,电话,,,一般,满意,一般,,,\n\
        3,2022/10/9 10:00:00,100秒,电话,,,非常满意,满意,满意,,,\n\
        4,2022/10/9 10:00:00,100秒,电话,,,一般,一般,一般,,,\n\
        5,2022/10/9 10:00:00,100秒,电话,,,满意,满意,非常满意,,,\n";
    let prev = wjx::import(prev_csv.as_bytes(), "prev.csv", &s).unwrap();
    let v = validity::check(&s, &now.responses, &Rules::default());
    let st = compute(&s, &now.responses, &v, Some((&s, &prev.responses)));
    let c = st.comparison.unwrap();
    assert!(close(c.previous_score, 3.8));
    assert!((c.t - 0.729_305).abs() < 1e-5, "{}", c.t);
    assert!((c.p - 0.465_815).abs() < 1e-4, "{}", c.p);
    assert!(!c.significant);
    // 满意度 on q1: 3 of 5 then, 5 of 6 now: +23.33 points, z = 0.865223,
    // p = 0.386916.
    assert!((c.csat_change - 23.333_333).abs() < 1e-5);
    assert!((c.z - 0.865_223).abs() < 1e-5, "{}", c.z);
    assert!((c.csat_p - 0.386_916).abs() < 1e-4);
    assert!(!c.csat_significant);
}

/// The coded layout (按选项序号) as an .xlsx: numbers for single choices, one 0/1
/// column per option of the multiple-choice question, -2 for skipped. It reads to
/// the same answers as the text layout.
#[test]
fn coded_xlsx_reads_like_the_text_csv() {
    let s = survey();
    let text = wjx::import(&std::fs::read(data("wjx-text.csv")).unwrap(), "t.csv", &s).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let header = [
        "序号",
        "提交答卷时间",
        "所用时间",
        "来源",
        "来源详情",
        "来自IP",
        "1、您对家政服务人员的服务态度是否满意",
        "2、您对服务质量是否满意",
        "3、您对投诉处理是否满意",
        "4、您是否了解服务标准化流程",
        "5(微信小程序)",
        "5(电话)",
        "5(网页)",
        "6、您的建议",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    // Rebuild each row from the text import: the coded numbers of its answers.
    let src = std::fs::read_to_string(data("wjx-text.csv")).unwrap();
    for (r, line) in src.lines().skip(1).enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let row = (r + 1) as u32;
        for (c, text) in cells.iter().take(6).enumerate() {
            ws.write_string(row, c as u16, *text).unwrap();
        }
        let resp = &text.responses[r];
        for (i, q) in ["q1", "q2", "q3", "q4"].iter().enumerate() {
            match resp.answers.get(*q) {
                Some(Answer::Choice(k)) => ws.write_number(row, 6 + i as u16, (*k + 1) as f64),
                _ => ws.write_number(row, 6 + i as u16, -2.0),
            }
            .unwrap();
        }
        for k in 0..3usize {
            let v = match resp.answers.get("q5") {
                Some(Answer::Choices(cs)) => f64::from(u8::from(cs.contains(&k))),
                _ => -2.0,
            };
            ws.write_number(row, 10 + k as u16, v).unwrap();
        }
        ws.write_string(row, 13, cells[11]).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    let coded = wjx::import(&bytes, "coded.xlsx", &s).unwrap();
    assert_eq!(coded.layout, "按选项序号");
    assert_eq!(coded.responses.len(), text.responses.len());
    for (a, b) in coded.responses.iter().zip(&text.responses) {
        assert_eq!(a.answers, b.answers, "{}", a.source);
        assert_eq!(
            (a.duration_s, a.submitted_at, a.channel),
            (b.duration_s, b.submitted_at, b.channel)
        );
    }
    // A formula anywhere in the workbook: refused, naming the cell.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_formula(1, 6, "=1+1").unwrap();
    let e = wjx::import(&wb.save_to_buffer().unwrap(), "f.xlsx", &s).unwrap_err();
    assert!(e[0].starts_with("第 2 行 G 列：单元格是公式"), "{e:?}");
}

fn header() -> String {
    std::fs::read_to_string(data("wjx-text.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

const ROW: &str =
    "1,2023/10/9 10:00:00,125秒,手机提交,,1.2.3.4,非常满意,非常满意,满意,了解,电话,(空)";

#[test]
fn bad_files_are_refused_whole_with_row_and_column() {
    let s = survey();
    let err = |text: &str| wjx::import(text.as_bytes(), "x.csv", &s).unwrap_err();
    // An unknown option text: row, column letter and header, and what is allowed.
    let e = err(&format!(
        "{}\n{ROW}\n{}",
        header(),
        ROW.replace("满意,了解", "还行,了解")
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("第 3 行 I 列（3、您对投诉处理是否满意）：“还行”不是该题的选项"),
        "{e:?}"
    );
    // An extra column and a missing question column.
    let e = err(&format!("{},7、您的年龄\n{ROW},30", header()));
    assert!(
        e.iter()
            .any(|m| m.contains("M 列") && m.contains("7、您的年龄")),
        "{e:?}"
    );
    let h = header().replace(",6、您的建议", "");
    let r = ROW.rsplit_once(',').unwrap().0;
    let e = err(&format!("{h}\n{r}"));
    assert!(e.iter().any(|m| m.contains("缺少问卷第 6 题")), "{e:?}");
    // Merged header cells come out empty.
    let e = err(&format!(
        "{}\n{ROW}",
        header().replace("2、您对服务质量是否满意", "")
    ));
    assert!(e.iter().any(|m| m.contains("H 列：表头为空")), "{e:?}");
    // Missing meta columns.
    let e = err(&format!("{}\n{ROW}", header().replace("所用时间", "用时")));
    assert!(e.iter().any(|m| m.contains("缺少“所用时间”列")), "{e:?}");
    // A formula in a CSV cell.
    let e = err(&format!(
        "{}\n{}",
        header(),
        ROW.replace("1.2.3.4", "=HYPERLINK(\"x\")")
    ));
    assert!(e[0].contains("F 列（来自IP）：单元格是公式"), "{e:?}");
    // Empty, header only, too big, not UTF-8.
    assert!(err("")[0].contains("文件是空的"));
    assert!(err(&header())[0].contains("只有表头"));
    let big = vec![b'a'; wjx::MAX_BYTES + 1];
    assert!(wjx::import(&big, "big.csv", &s).unwrap_err()[0].contains("超过 50 MB"));
    assert!(wjx::import(b"\xff\xfe\x00", "gbk.csv", &s).unwrap_err()[0].contains("UTF-8"));
    // A bad time and a bad duration are named too; several problems, all listed.
    let e = err(&format!(
        "{}\n{}\n{}",
        header(),
        ROW.replace("125秒", "很久"),
        ROW.replace("2023/10/9 10:00:00", "昨天")
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("第 2 行 C 列（所用时间）"), "{e:?}");
    assert!(e[1].contains("第 3 行 B 列（提交答卷时间）"), "{e:?}");
}

const MATRIX: &str = "id: m
title: 网点调查
overall: overall
scale: 非常满意→非常不满意
questions:
  - id: overall
    text: 总体满意程度
    kind: likert
  - id: grid
    text: 您对网点以下方面是否满意
    kind: matrix
    rows: [环境, 态度]
    clauses: [\"T/ZTAC 002—2023#5.1\"]
  - id: known
    text: 是否了解
    kind: single
    options: [了解, 不了解]
";

/// A matrix is one Likert question per row (`grid.1`, `grid.2`), each carrying the
/// matrix's clauses; 问卷星 heads its columns `N(行)` in both layouts.
#[test]
fn matrix_rows_are_questions_and_import_from_both_layouts() {
    let s = Survey::from_yaml(MATRIX, "m.yaml").unwrap();
    let ids: Vec<&str> = s.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["overall", "grid.1", "grid.2", "known"]);
    let row = s.question("grid.2").unwrap();
    assert_eq!(row.text, "您对网点以下方面是否满意：态度");
    assert_eq!(row.row.as_deref(), Some("态度"));
    assert_eq!(row.clauses, ["T/ZTAC 002—2023#5.1"]);
    assert!(row.is_scored());
    let head = "序号,提交答卷时间,所用时间,来源,来源详情,来自IP,1、总体满意程度,2(环境),2(态度),3、是否了解\n";
    let text = format!(
        "{head}1,2024/3/1 10:00:00,100秒,手机提交,,,满意,非常满意,一般,了解\n2,2024/3/1 11:00:00,90秒,手机提交,,,非常满意,满意,满意,不了解\n"
    );
    let coded = format!(
        "{head}1,2024/3/1 10:00:00,100秒,手机提交,,,2,1,3,1\n2,2024/3/1 11:00:00,90秒,手机提交,,,1,2,2,2\n"
    );
    let a = wjx::import(text.as_bytes(), "text.csv", &s).unwrap();
    let b = wjx::import(coded.as_bytes(), "coded.csv", &s).unwrap();
    assert_eq!(a.layout, "按选项文本");
    assert_eq!(b.layout, "按选项序号");
    for imp in [&a, &b] {
        let r = &imp.responses[0];
        assert_eq!(r.answers["grid.1"], Answer::Choice(0), "非常满意");
        assert_eq!(r.answers["grid.2"], Answer::Choice(2), "一般");
        assert_eq!(imp.responses[1].answers["known"], Answer::Choice(1));
    }
    // Scored means over the two rows: 环境 (5, 4) → 4.5, 态度 (3, 4) → 3.5.
    let v = validity::check(&s, &a.responses, &Rules::default());
    let st = compute(&s, &a.responses, &v, None);
    let mean = |id: &str| {
        st.questions
            .iter()
            .find(|q| q.id == id)
            .unwrap()
            .mean
            .unwrap()
    };
    assert!(close(mean("grid.1"), 4.5) && close(mean("grid.2"), 3.5));
    // A matrix without rows, or with options, is refused with its line.
    let e = Survey::from_yaml(
        &MATRIX.replace("    rows: [环境, 态度]\n", "    options: [a, b]\n"),
        "m.yaml",
    )
    .unwrap_err();
    assert!(
        e.iter()
            .any(|m| m == "m.yaml:9: matrix `grid` needs `rows:`"),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m
                .starts_with("m.yaml:9: 满意度题 `grid` 的 options 应按问卷中的顺序列出五个答案")),
        "{e:?}"
    );
}

/// A coded (按选项序号) export of `n` respondents answering every likert question
/// with `code`, and `m` answering `other`, for the three-likert test survey.
fn coded_csv(n: usize, code: u8, m: usize, other: u8) -> String {
    let mut out = header();
    out.push('\n');
    for i in 0..n + m {
        let c = if i < n { code } else { other };
        out.push_str(&format!(
            "{},2023/10/9 10:{:02}:00,125秒,电话,,,{c},{c},{c},1,-2,(空)\n",
            i + 1,
            i % 60
        ));
    }
    out
}

fn with_scale(line: &str) -> Survey {
    let text = std::fs::read_to_string(data("test.yaml"))
        .unwrap()
        .replace("scale: 非常满意→非常不满意\n", line);
    Survey::from_yaml(&text, "test.yaml").unwrap()
}

/// A questionnaire that listed 非常不满意 first exports code 1 = 非常不满意. Read with
/// that order stated, 97 of 100 answering 5 are 97% satisfied (the importer used to
/// read every 5 as 非常不满意: 3%); without an order, a coded file is refused with
/// the line to add.
#[test]
fn coded_likert_answers_follow_the_order_the_questionnaire_showed() {
    let csv = coded_csv(97, 5, 3, 1);
    let up = with_scale("scale: 非常不满意→非常满意\n");
    assert_eq!(up.questions[0].order, Some(Scale::Ascending));
    let imp = wjx::import(csv.as_bytes(), "coded.csv", &up).unwrap();
    assert_eq!(imp.layout, "按选项序号");
    assert_eq!(
        imp.responses[0].answers["q1"],
        Answer::Choice(0),
        "5 = 非常满意"
    );
    assert_eq!(
        imp.responses[99].answers["q1"],
        Answer::Choice(4),
        "1 = 非常不满意"
    );
    let v = validity::check(&up, &imp.responses, &Rules::default());
    let st = compute(&up, &imp.responses, &v, None);
    assert!(
        close(st.csat_percent.unwrap(), 97.0),
        "{:?}",
        st.csat_percent
    );
    // The first responses come back decoded, the file's cell beside the reading.
    assert_eq!(
        imp.samples[0].cells[0],
        ("q1".to_string(), "5".to_string(), "非常满意".to_string())
    );
    assert!(
        imp.notes[0].contains("序号 1 = 非常不满意，5 = 非常满意"),
        "{:?}",
        imp.notes
    );
    // The same file read with the other order states the opposite, not silently.
    let down = survey();
    let reversed = wjx::import(csv.as_bytes(), "coded.csv", &down).unwrap();
    assert_eq!(reversed.samples[0].cells[0].2, "非常不满意");
    // No order stated: refused, saying how to state it; nothing is read.
    let none = with_scale("");
    assert!(none.unstated_scales().len() == 3);
    let e = wjx::import(csv.as_bytes(), "coded.csv", &none).unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("coded.csv：这是“按选项序号”下载的文件")
            && e[0].contains("q1（您对家政服务人员的服务态度是否满…）")
            && e[0].contains("scale: 非常满意→非常不满意")
            && e[0].contains("scale: 非常不满意→非常满意"),
        "{e:?}"
    );
    // A text export needs no order: the texts say it.
    let text = std::fs::read(data("wjx-text.csv")).unwrap();
    assert!(wjx::import(&text, "t.csv", &none).is_ok());
}

/// The order can be stated per question, by listing the five answers as the
/// questionnaire showed them; mistakes are refused with their line.
#[test]
fn a_likert_order_is_stated_plainly_and_checked_with_its_line() {
    let yaml = "id: s\ntitle: t\nscale: 满意 -> 不满意\nquestions:\n  - id: a\n    text: A\n    kind: likert\n  - id: b\n    text: B\n    kind: likert\n    options: [非常不满意, 不满意, 一般, 满意, 非常满意]\n  - id: m\n    text: M\n    kind: matrix\n    rows: [x, y]\n    scale: ascending\n";
    let s = Survey::from_yaml(yaml, "s.yaml").unwrap();
    let scale = |id: &str| s.question(id).unwrap().order;
    assert_eq!(scale("a"), Some(Scale::Descending), "the survey's order");
    assert_eq!(scale("b"), Some(Scale::Ascending), "its own options' order");
    assert_eq!(
        scale("m.2"),
        Some(Scale::Ascending),
        "the matrix's, per row"
    );
    assert!(s.question("b").unwrap().options.is_empty());
    assert_eq!(
        s.question("b").unwrap().code_choices(),
        Some(vec![4, 3, 2, 1, 0])
    );
    let bad =
        |from: &str, to: &str| Survey::from_yaml(&yaml.replace(from, to), "s.yaml").unwrap_err();
    let e = bad("scale: 满意 -> 不满意", "scale: 从好到坏");
    assert!(
        e[0].starts_with("s.yaml:3:") && e[0].contains("非常满意→非常不满意"),
        "{e:?}"
    );
    let e = bad(
        "[非常不满意, 不满意, 一般, 满意, 非常满意]",
        "[非常满意, 一般, 满意, 不满意, 非常不满意]",
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("s.yaml:8: 满意度题 `b` 的 options 应按问卷中的顺序")),
        "{e:?}"
    );
    let e = bad(
        "    options: [非常不满意",
        "    scale: 非常满意→非常不满意\n    options: [非常不满意",
    );
    assert!(
        e.iter()
            .any(|m| m.contains("与 options 的顺序（非常不满意→非常满意）不一致")),
        "{e:?}"
    );
}

/// Both layouts of one export read to the same answers, or every difference is
/// named by row and question.
#[test]
fn the_two_layouts_of_one_export_agree_answer_for_answer() {
    let s = survey();
    let csv = coded_csv(4, 1, 1, 4);
    let text = csv
        .lines()
        .map(|l| match l.split_once(",125秒,") {
            Some((head, rest)) => {
                let cells: Vec<&str> = rest.split(',').collect();
                let t = |c: &str| {
                    ["非常满意", "满意", "一般", "不满意", "非常不满意"]
                        [c.parse::<usize>().unwrap() - 1]
                };
                format!(
                    "{head},125秒,{},{},{},{},{},{},非常了解,(跳过),(空)",
                    cells[0],
                    cells[1],
                    cells[2],
                    t(cells[3]),
                    t(cells[4]),
                    t(cells[5])
                )
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let a = wjx::import(text.as_bytes(), "text.csv", &s).unwrap();
    let b = wjx::import(csv.as_bytes(), "coded.csv", &s).unwrap();
    assert_eq!((a.layout, b.layout), ("按选项文本", "按选项序号"));
    assert!(wjx::disagreements(&s, &a, &b).is_empty());
    // Read with the wrong order, the coded file disagrees on every likert answer.
    let up = with_scale("scale: 非常不满意→非常满意\n");
    let wrong = wjx::import(csv.as_bytes(), "coded.csv", &up).unwrap();
    let d = wjx::disagreements(&s, &a, &wrong);
    assert_eq!(d.len(), 15, "{d:?}");
    assert_eq!(
        d[0],
        "第 2 行（序号 1） 第 1 题（您对家政服务人员的服务态度是否满…）：按选项文本读作“非常满意”，按选项序号读作“非常不满意”"
    );
    // Different numbers of responses: one message.
    let fewer = wjx::import(coded_csv(4, 1, 0, 4).as_bytes(), "c.csv", &s).unwrap();
    assert!(wjx::disagreements(&s, &a, &fewer)[0].contains("答卷数不同"));
}

// ---------------------------------------------------------------------------
// Hostile spreadsheets: every read is bounded by the sheet's declared and actual
// size, refused quickly with a message, never an abort.

/// A zip package of `parts`, deflated.
fn package(parts: &[(&str, String)]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, text) in parts {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(text.as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

const NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const DOC_RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A minimal .xlsx written by hand: one sheet with `sheet_data` (the XML inside
/// `<sheetData>`), an optional `<dimension ref>`, and extra parts.
fn xlsx(dimension: Option<&str>, sheet_data: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let dim = dimension
        .map(|d| format!("<dimension ref=\"{d}\"/>"))
        .unwrap_or_default();
    let mut parts = vec![
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>".to_string(),
        ),
        (
            "_rels/.rels",
            format!("<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC_RELS}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"),
        ),
        (
            "xl/workbook.xml",
            format!("<workbook xmlns=\"{NS}\" xmlns:r=\"{DOC_RELS}\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!("<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" Type=\"{DOC_RELS}/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!("<worksheet xmlns=\"{NS}\">{dim}<sheetData>{sheet_data}</sheetData></worksheet>"),
        ),
    ];
    parts.extend(extra.iter().cloned());
    package(&parts)
}

fn inline(cell: &str, text: &str) -> String {
    format!("<c r=\"{cell}\" t=\"inlineStr\"><is><t>{text}</t></is></c>")
}

/// The file: 1.6 KB, `A1:XFD1048576` declared, one cell there. calamine
/// sized its table from it (a 512 GiB allocation that aborted the server); now the
/// declared range, or else the far cell itself, is refused at once.
#[test]
fn a_tiny_xlsx_with_a_far_cell_is_refused_quickly() {
    let s = survey();
    let far = format!(
        "<row r=\"1\">{}</row><row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row>",
        inline("A1", "序号")
    );
    let started = std::time::Instant::now();
    let bytes = xlsx(Some("A1:XFD1048576"), &far, &[]);
    assert!(bytes.len() < 2_000, "{} bytes", bytes.len());
    let e = wjx::import(&bytes, "far.xlsx", &s).unwrap_err();
    assert!(
        e[0].starts_with("far.xlsx：工作表声明的范围是 A1:XFD1048576（1048576 行 × 16384 列）")
            && e[0].contains("最多 200000 行、500 列"),
        "{e:?}"
    );
    // A sheet that declares a small range (or none) is refused at the far cell.
    for dim in [Some("A1:A1"), None] {
        let far = far.replace("XFD1048576", "BL1048576");
        let e = wjx::import(&xlsx(dim, &far, &[]), "far.xlsx", &s).unwrap_err();
        assert!(e[0].contains("第 1048576 行 BL 列有单元格"), "{e:?}");
    }
    // Within the rows but too wide: 501 columns.
    let wide = format!("<row r=\"1\">{}</row>", inline("SG1", "x"));
    let e = wjx::import(&xlsx(None, &wide, &[]), "wide.xlsx", &s).unwrap_err();
    assert!(e[0].contains("第 1 行 SG 列有单元格"), "{e:?}");
    // A shared-string table claiming 10¹² strings (calamine reserves that many).
    let sst = format!(
        "<sst xmlns=\"{NS}\" count=\"1000000000000\" uniqueCount=\"1000000000000\"><si><t>序号</t></si></sst>"
    );
    let e = wjx::import(
        &xlsx(None, "", &[("xl/sharedStrings.xml", sst)]),
        "sst.xlsx",
        &s,
    )
    .unwrap_err();
    assert!(e[0].contains("共享字符串表声明 1000000000000 个"), "{e:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A hand-written .xlsx that is within bounds reads like the CSV export.
#[test]
fn a_hand_written_xlsx_reads_by_its_cell_positions() {
    let s = survey();
    let head = header();
    let row = ROW;
    let cells = |r: usize, line: &str| {
        line.split(',')
            .enumerate()
            .map(|(c, v)| inline(&format!("{}{r}", biaozhun::sheet::column(c + 1)), v))
            .collect::<String>()
    };
    let data = format!(
        "<row r=\"1\">{}</row><row r=\"2\">{}</row>",
        cells(1, &head),
        cells(2, row)
    );
    let imp = wjx::import(&xlsx(Some("A1:L2"), &data, &[]), "ok.xlsx", &s).unwrap();
    let csv = wjx::import(format!("{head}\n{row}\n").as_bytes(), "ok.csv", &s).unwrap();
    assert_eq!(imp.responses[0].answers, csv.responses[0].answers);
}

fn biff(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut v = typ.to_le_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn bof(kind: u16) -> Vec<u8> {
    let mut d = vec![0u8; 16];
    d[..2].copy_from_slice(&0x0600u16.to_le_bytes());
    d[2..4].copy_from_slice(&kind.to_le_bytes());
    biff(0x0809, &d)
}

/// A BIFF8 LABEL (text) or NUMBER record.
fn xls_cell(row: u16, col: u16, value: &str) -> Vec<u8> {
    let mut d = row.to_le_bytes().to_vec();
    d.extend_from_slice(&col.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    match value.parse::<f64>() {
        Ok(x) => {
            d.extend_from_slice(&x.to_le_bytes());
            biff(0x0203, &d)
        }
        Err(_) => {
            let units: Vec<u16> = value.encode_utf16().collect();
            d.extend_from_slice(&(units.len() as u16).to_le_bytes());
            d.push(1);
            for u in units {
                d.extend_from_slice(&u.to_le_bytes());
            }
            biff(0x0204, &d)
        }
    }
}

/// A BIFF8 workbook stream: the globals, then one sheet of `records`.
fn workbook_stream(records: &[Vec<u8>]) -> Vec<u8> {
    let mut s = bof(0x0005);
    let at = s.len();
    let mut sheet = vec![0, 0, 0, 0, 0, 0, 6, 1];
    for u in "Sheet1".encode_utf16() {
        sheet.extend_from_slice(&u.to_le_bytes());
    }
    s.extend(biff(0x0085, &sheet));
    s.extend(biff(0x000A, &[]));
    let pos = s.len() as u32;
    s[at + 4..at + 8].copy_from_slice(&pos.to_le_bytes());
    s.extend(bof(0x0010));
    for r in records {
        s.extend_from_slice(r);
    }
    s.extend(biff(0x000A, &[]));
    // Streams under 4096 bytes live in the mini stream; this one does not.
    s.resize(s.len().max(4096), 0);
    s
}

/// A compound file (MS-CFB version 3, 512-byte sectors) holding `stream` as
/// `Workbook`: sector 0 the allocation table, then the stream, then the
/// directory (which points to itself when `dir_loops`).
fn compound(stream: &[u8], dir_loops: bool) -> Vec<u8> {
    const FREE: u32 = 0xFFFF_FFFF;
    const END: u32 = 0xFFFF_FFFE;
    let n = stream.len().div_ceil(512);
    let dir = n + 1;
    assert!(dir < 128);
    let mut fat = vec![FREE; 128];
    fat[0] = 0xFFFF_FFFD;
    for (i, next) in fat.iter_mut().enumerate().take(n + 1).skip(1) {
        *next = if i == n { END } else { i as u32 + 1 };
    }
    fat[dir] = if dir_loops { dir as u32 } else { END };
    let mut h = vec![0u8; 512];
    let put = |h: &mut Vec<u8>, at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
    put(&mut h, 0, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    put(&mut h, 0x18, &0x3Eu16.to_le_bytes());
    put(&mut h, 0x1A, &3u16.to_le_bytes());
    put(&mut h, 0x1C, &0xFFFEu16.to_le_bytes());
    put(&mut h, 0x1E, &9u16.to_le_bytes());
    put(&mut h, 0x20, &6u16.to_le_bytes());
    put(&mut h, 0x2C, &1u32.to_le_bytes());
    put(&mut h, 0x30, &(dir as u32).to_le_bytes());
    put(&mut h, 0x38, &4096u32.to_le_bytes());
    put(&mut h, 0x3C, &END.to_le_bytes());
    put(&mut h, 0x44, &END.to_le_bytes());
    for i in 0..109 {
        put(
            &mut h,
            0x4C + 4 * i,
            &(if i == 0 { 0 } else { FREE }).to_le_bytes(),
        );
    }
    let entry = |name: &str, kind: u8, child: u32, start: u32, size: u32| {
        let mut e = vec![0u8; 128];
        for (i, u) in name.encode_utf16().enumerate() {
            e[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[0x40..0x42].copy_from_slice(&((name.len() as u16 + 1) * 2).to_le_bytes());
        e[0x42] = kind;
        e[0x43] = 1;
        e[0x44..0x48].copy_from_slice(&FREE.to_le_bytes());
        e[0x48..0x4C].copy_from_slice(&FREE.to_le_bytes());
        e[0x4C..0x50].copy_from_slice(&child.to_le_bytes());
        e[0x74..0x78].copy_from_slice(&start.to_le_bytes());
        e[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
        e
    };
    let mut out = h;
    out.extend(fat.iter().flat_map(|x| x.to_le_bytes()));
    let mut body = stream.to_vec();
    body.resize(n * 512, 0);
    out.extend(body);
    out.extend(entry("Root Entry", 5, 1, END, 0));
    out.extend(entry("Workbook", 2, FREE, 1, stream.len() as u32));
    out.extend(vec![0u8; 256]);
    out
}

/// The CSV rows as .xls cell records.
fn xls_rows(lines: &[&str]) -> Vec<Vec<u8>> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(r, line)| {
            line.split(',')
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(move |(c, v)| xls_cell(r as u16, c as u16, v))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An .xls is walked by our own bounded reader before calamine opens it (it
/// builds every sheet's table when it opens the file): a real workbook reads,
/// one with a far cell or a huge DIMENSIONS record is refused, and a directory
/// chain that loops (which calamine follows for ever) is an error.
#[test]
fn xls_files_are_checked_before_they_are_read() {
    let s = survey();
    let head = header();
    let ok = compound(&workbook_stream(&xls_rows(&[&head, ROW])), false);
    let imp = wjx::import(&ok, "ok.xls", &s).unwrap();
    let csv = wjx::import(format!("{head}\n{ROW}\n").as_bytes(), "ok.csv", &s).unwrap();
    assert_eq!(imp.responses[0].answers, csv.responses[0].answers);
    let mut far = xls_rows(&[&head, ROW]);
    far.push(xls_cell(65_535, 255, "1"));
    let e = wjx::import(&compound(&workbook_stream(&far), false), "far.xls", &s).unwrap_err();
    assert!(
        e[0].starts_with("far.xls：第 65536 行 IV 列有单元格，超出可读取的范围"),
        "{e:?}"
    );
    let mut dims = 0u32.to_le_bytes().to_vec();
    dims.extend_from_slice(&1_000_000u32.to_le_bytes());
    dims.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
    let mut declared = vec![biff(0x0200, &dims)];
    declared.extend(xls_rows(&[&head, ROW]));
    let e = wjx::import(&compound(&workbook_stream(&declared), false), "dim.xls", &s).unwrap_err();
    assert!(
        e[0].contains("工作表声明的范围是 1000000 行 × 256 列"),
        "{e:?}"
    );
    let looping = compound(&workbook_stream(&xls_rows(&[&head, ROW])), true);
    let e = wjx::import(&looping, "loop.xls", &s).unwrap_err();
    assert!(
        e[0].starts_with("loop.xls：不是可读的 Excel 文件（扇区链条循环"),
        "{e:?}"
    );
}

/// `survey stats` on a coded export: it says which order it read the
/// satisfaction answers in and prints the first responses as read; with
/// `--other-layout` it reports only when the two layouts agree; without a stated
/// order it refuses, saying how to state it (exit 2).
#[test]
fn survey_stats_reads_a_coded_export_through_the_stated_order() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_biaozhun"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let coded = dir.path().join("coded.csv");
    std::fs::write(&coded, coded_csv(9, 1, 1, 5)).unwrap();
    let as_text = |labels: [&str; 5]| {
        coded_csv(9, 1, 1, 5)
            .lines()
            .map(|l| match l.split_once(",125秒,") {
                Some((head, rest)) => {
                    let c: Vec<&str> = rest.split(',').collect();
                    let t = |x: &str| labels[x.parse::<usize>().unwrap() - 1];
                    format!(
                        "{head},125秒,{},{},{},{},{},{},非常了解,(跳过),(空)",
                        c[0],
                        c[1],
                        c[2],
                        t(c[3]),
                        t(c[4]),
                        t(c[5])
                    )
                }
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let same = dir.path().join("text.csv");
    std::fs::write(
        &same,
        as_text(["非常满意", "满意", "一般", "不满意", "非常不满意"]),
    )
    .unwrap();
    let reversed = dir.path().join("reversed.csv");
    std::fs::write(
        &reversed,
        as_text(["非常不满意", "不满意", "一般", "满意", "非常满意"]),
    )
    .unwrap();
    let def = "tests/data/surveys/test.yaml";
    let o = run(&["survey", "stats", "--survey", def, coded.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("满意度题按问卷定义的顺序“非常满意→非常不满意”解读：序号 1 = 非常满意，5 = 非常不满意（q1、q2、q3）")
            && out.contains("前 5 份答卷读作（请与问卷星后台核对）：")
            && out.contains("第 2 行（序号 1）：q1 1→非常满意，q2 1→非常满意，q3 1→非常满意"),
        "{out}"
    );
    let o = run(&[
        "survey",
        "stats",
        "--survey",
        def,
        coded.to_str().unwrap(),
        "--other-layout",
        same.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("逐题一致（10 份答卷）"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[
        "survey",
        "stats",
        "--survey",
        def,
        coded.to_str().unwrap(),
        "--other-layout",
        reversed.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("的答案不一致，未作统计")
            && text(&o.stderr).contains("按选项序号读作“非常满意”，按选项文本读作“非常不满意”"),
        "{}",
        text(&o.stderr)
    );
    let unstated = dir.path().join("unstated.yaml");
    std::fs::write(
        &unstated,
        std::fs::read_to_string(data("test.yaml"))
            .unwrap()
            .replace("scale: 非常满意→非常不满意\n", ""),
    )
    .unwrap();
    let o = run(&[
        "survey",
        "stats",
        "--survey",
        unstated.to_str().unwrap(),
        coded.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("scale: 非常满意→非常不满意"),
        "{}",
        text(&o.stderr)
    );
}
