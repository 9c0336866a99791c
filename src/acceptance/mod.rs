//! Pilot-project acceptance (验收): the scoring table experts score against and
//! how their scores combine, and the character counts of award application forms.
//!
//! Data flows one way: a scoring table (YAML, [`scoring::Table::from_yaml`]) and
//! each expert's sheet → [`scoring::aggregate`] → the figures the acceptance
//! report shows. Nothing here reads the database.

pub mod award;
pub mod chars;
pub mod indicators;
pub mod report;
pub mod scoring;

/// A score or figure as pages and reports show it: up to two decimals, without
/// trailing zeros (88, 2.5, 63.67).
pub fn fmt_points(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The evidence categories award applications ask for.
pub const EVIDENCE_CATEGORIES: [&str; 10] = [
    "立项/验收证明材料",
    "技术水平",
    "创新性",
    "知识产权",
    "国际化水平",
    "开放性",
    "受表彰奖励",
    "标准实施成效",
    "附加情况",
    "其他",
];

/// The narrative sections of the self-evaluation report, written by people
/// between the generated ones: (key, title).
pub const NARRATIVES: [(&str, &str); 4] = [
    ("organisation", "组织实施情况"),
    ("innovation", "创新做法与示范作用"),
    ("problems", "存在的问题"),
    ("next-steps", "下一步工作"),
];
