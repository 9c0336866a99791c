//! Surveys: statistics reproduce hand-computed figures (a question answered by only
//! part of the respondents included); 问卷星 exports in both layouts read to the
//! same responses; bad files are refused whole with row and column.
//!
//! The expected figures were computed independently with Python's `statistics`
//! module (mean, stdev, variance) from the answers listed in the comments.

use std::path::PathBuf;

use biaozhun::survey::stats::compute;
use biaozhun::survey::validity::{self, Reason, Rules};
use biaozhun::survey::{Answer, Survey, wjx};

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
            .any(|m| m == "m.yaml:8: matrix `grid` needs `rows:`"),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("m.yaml:8: matrix `grid` takes no options")),
        "{e:?}"
    );
}
