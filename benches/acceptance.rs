//! Acceptance: aggregating a panel's sheets, rendering the 验收评估报告 (typst, in
//! process) and counting characters the application form's way.
//!
//! `cargo bench --bench acceptance` prints figures (recorded in BENCHMARKS.md).

use std::collections::BTreeMap;
use std::time::Instant;

use biaozhun::acceptance::scoring::{Sheet, Table, aggregate};
use biaozhun::db::acceptance::{Member, Project, Review, ReviewView, Score};

fn main() {
    let yaml = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("acceptance/scoring-table.yaml"),
    )
    .unwrap();
    let mut table = Table::from_yaml(&yaml, "t").unwrap();
    table.trim = true;
    let names = ["张", "李", "王", "赵", "钱", "孙", "周"];
    let sheets: Vec<Sheet> = names
        .iter()
        .enumerate()
        .map(|(k, n)| Sheet {
            expert: format!("{n}专家"),
            scores: table
                .items()
                .filter(|i| !(k == 3 && i.id == "org-funding"))
                .map(|i| (i.id.clone(), (i.max - 0.5 * (k % 3) as f64).max(0.0)))
                .collect(),
            comments: table
                .items()
                .take(5)
                .map(|i| (i.id.clone(), "材料齐全，执行到位。".to_string()))
                .collect::<BTreeMap<_, _>>(),
        })
        .collect();
    println!(
        "## acceptance bench ({} cores): {} items, {} experts, trimming on",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        table.items().count(),
        sheets.len()
    );
    let n = 20_000;
    let t = Instant::now();
    let mut total = 0.0;
    for _ in 0..n {
        total += aggregate(&table, &sheets).total;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "aggregate: {:.1} µs each (total {:.2})",
        per * 1e6,
        total / n as f64
    );

    let a = aggregate(&table, &sheets);
    let members: Vec<Member> = sheets
        .iter()
        .enumerate()
        .map(|(i, s)| Member {
            user_id: i as i64 + 1,
            username: format!("e{i}"),
            name: s.expert.clone(),
            leader: i == 0,
            submitted_at: Some(0),
        })
        .collect();
    let view = ReviewView {
        review: Review {
            id: 1,
            project_id: 1,
            title: "数字家政管理与服务试点项目验收".into(),
            scoring_table: yaml.clone(),
            review_date: "2023-11-20".into(),
            opinion: "专家组一致同意该项目通过验收。".into(),
            opinion_at: Some(0),
            created_at: 0,
        },
        own: Vec::<Score>::new(),
        sheets: None,
        members,
    };
    let project = Project {
        id: 1,
        name: "数字家政管理与服务".into(),
        kind: "浙江省服务业标准化试点项目".into(),
        field: "家政服务".into(),
        started: "2021-10-01".into(),
        planned_end: "2023-10-31".into(),
        accepted: "2023-11-20".into(),
        undertaker: "演示家政服务集团".into(),
        supervisor: "演示市场监督管理局".into(),
        team: String::new(),
        created_at: 0,
    };
    let data = biaozhun::acceptance::report::data(&project, &view, &table, &sheets, &a);
    let mut times = Vec::new();
    let mut pages = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = biaozhun::report::pdf::render(biaozhun::report::pdf::Job {
            template_name: "templates/acceptance_report.typ",
            template: biaozhun::acceptance::report::TEMPLATE,
            data: &data,
            files: Vec::new(),
            today: "2023-11-20",
            strict: true,
        })
        .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        pages = r.pages;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "验收评估报告 PDF ({pages} pages): first {:.0} ms (fonts loaded once per process), then median {:.0} ms",
        times.iter().copied().fold(0.0f64, f64::max),
        times[2]
    );

    let text = "家政服务数字化平台建设规范（T/ZTAC 001.2—2023）规定了订单受理、派单、上门、服务、验收和评价的流程。\n".repeat(20_000);
    let t = Instant::now();
    let count = biaozhun::acceptance::chars::count(&text);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "character count: {count} characters of {:.1} MB in {:.1} ms ({:.0} MB/s)",
        text.len() as f64 / 1e6,
        secs * 1e3,
        text.len() as f64 / 1e6 / secs
    );
}
