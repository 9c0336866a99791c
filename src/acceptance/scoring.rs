//! The acceptance scoring table (验收评分表) and how the experts' scores combine.
//!
//! A table is YAML: sections of items, each with its maximum and scoring guidance
//! (`acceptance/scoring-table.yaml` is the shipped one, about 100 points). Each
//! expert fills in a [`Sheet`]. [`aggregate`] combines the sheets:
//!
//! - an item's score is the mean of the experts who scored it — a missing score is
//!   left out, not taken as 0, and is listed;
//! - with `trim: true` and at least `trim_min` scores, the highest and the lowest are
//!   dropped first (去掉一个最高分和一个最低分);
//! - an item whose scores spread by more than `spread_warn` of its maximum is
//!   flagged, for the group leader to discuss;
//! - the total is the sum of the item scores; 通过 at or above `pass_mark`.
//!
//! Figures are kept unrounded; the report rounds to 2 decimals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub max: f64,
    /// How to score it (评分细则).
    #[serde(default)]
    pub guidance: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub id: String,
    pub title: String,
    /// The total a project must reach to pass (default 80).
    #[serde(default = "eighty")]
    pub pass_mark: f64,
    /// Drop each item's highest and lowest score before the mean.
    #[serde(default)]
    pub trim: bool,
    /// … only when at least this many experts scored the item (default 5).
    #[serde(default = "five")]
    pub trim_min: usize,
    /// Flag an item whose scores spread (max − min) by more than this share of its
    /// maximum (default 0.3).
    #[serde(default = "spread")]
    pub spread_warn: f64,
    pub sections: Vec<Section>,
}

fn eighty() -> f64 {
    80.0
}
fn five() -> usize {
    5
}
fn spread() -> f64 {
    0.3
}

impl Table {
    /// Parses and checks a table; errors carry `file:line`.
    pub fn from_yaml(text: &str, file: &str) -> Result<Table, Vec<String>> {
        let t: Table = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{file}:{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| file.to_string());
            vec![format!("{at}: {e}")]
        })?;
        let line_of = |id: &str| {
            text.lines()
                .position(|l| l.trim_start().trim_start_matches("- ") == format!("id: {id}"))
                .map(|i| format!("{file}:{}", i + 1))
                .unwrap_or_else(|| file.to_string())
        };
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        if t.sections.is_empty() {
            errors.push(format!("{file}: the table has no sections"));
        }
        for s in &t.sections {
            if !seen.insert(s.id.clone()) {
                errors.push(format!("{}: id `{}` is used twice", line_of(&s.id), s.id));
            }
            if s.items.is_empty() {
                errors.push(format!(
                    "{}: section `{}` has no items",
                    line_of(&s.id),
                    s.id
                ));
            }
            for i in &s.items {
                if !seen.insert(i.id.clone()) {
                    errors.push(format!("{}: id `{}` is used twice", line_of(&i.id), i.id));
                }
                if i.max.is_nan() || i.max <= 0.0 || (i.max * 2.0).fract() != 0.0 {
                    errors.push(format!(
                        "{}: item `{}`: max {} must be positive, in steps of 0.5",
                        line_of(&i.id),
                        i.id,
                        i.max
                    ));
                }
            }
        }
        let total = t.total();
        if !(0.0..=total).contains(&t.pass_mark) || t.pass_mark == 0.0 {
            errors.push(format!(
                "{file}: pass_mark {} must be between 0 and the table's total {total}",
                t.pass_mark
            ));
        }
        if !(0.0..=1.0).contains(&t.spread_warn) || t.spread_warn == 0.0 {
            errors.push(format!(
                "{file}: spread_warn {} must be a share between 0 and 1",
                t.spread_warn
            ));
        }
        if t.trim && t.trim_min < 3 {
            errors.push(format!(
                "{file}: trim_min {} must be at least 3 (dropping two of fewer leaves nothing)",
                t.trim_min
            ));
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().find(|i| i.id == id)
    }

    /// The sum of the items' maxima.
    pub fn total(&self) -> f64 {
        self.items().map(|i| i.max).sum()
    }
}

/// One expert's scores: item id → score, and a comment per item.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sheet {
    pub expert: String,
    pub scores: BTreeMap<String, f64>,
    #[serde(default)]
    pub comments: BTreeMap<String, String>,
}

/// Checks one score against its item: within 0..=max, in steps of 0.5.
pub fn check_score(item: &Item, score: f64) -> Result<(), String> {
    if !score.is_finite() || score < 0.0 || score > item.max {
        return Err(format!(
            "“{}”的得分 {score} 超出范围（0 至 {}）",
            item.title, item.max
        ));
    }
    if (score * 2.0).fract() != 0.0 {
        return Err(format!("“{}”的得分 {score} 须为 0.5 的整数倍", item.title));
    }
    Ok(())
}

/// One item across the experts.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub id: String,
    pub title: String,
    pub section: String,
    pub max: f64,
    /// Each expert's score, in sheet order (`None`: not scored).
    pub scores: Vec<Option<f64>>,
    /// Experts who left it unscored.
    pub missing: Vec<String>,
    /// How many scores the mean is over (after trimming).
    pub counted: usize,
    pub trimmed: bool,
    /// The item's score: the (trimmed) mean, or `None` when nobody scored it.
    pub score: Option<f64>,
    /// max − min of the scores given.
    pub spread: f64,
    /// The spread exceeds `spread_warn` × max.
    pub spread_flag: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionResult {
    pub id: String,
    pub title: String,
    pub max: f64,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Aggregate {
    pub experts: Vec<String>,
    pub items: Vec<ItemResult>,
    pub sections: Vec<SectionResult>,
    /// Each expert's own total (unscored items count 0 there).
    pub expert_totals: Vec<f64>,
    pub total: f64,
    pub max: f64,
    pub pass_mark: f64,
    pub passed: bool,
    /// 通过 / 不通过.
    pub conclusion: &'static str,
    /// Items nobody scored: the total cannot be trusted until they are.
    pub unscored: Vec<String>,
}

/// Combines the sheets (see the module documentation).
pub fn aggregate(table: &Table, sheets: &[Sheet]) -> Aggregate {
    let mut items = Vec::new();
    let mut sections = Vec::new();
    for s in &table.sections {
        let mut sub = 0.0;
        for it in &s.items {
            let scores: Vec<Option<f64>> = sheets
                .iter()
                .map(|sh| sh.scores.get(&it.id).copied())
                .collect();
            let missing = sheets
                .iter()
                .zip(&scores)
                .filter(|(_, s)| s.is_none())
                .map(|(sh, _)| sh.expert.clone())
                .collect();
            let mut given: Vec<f64> = scores.iter().flatten().copied().collect();
            given.sort_by(f64::total_cmp);
            let spread = match (given.first(), given.last()) {
                (Some(lo), Some(hi)) => hi - lo,
                _ => 0.0,
            };
            let trimmed = table.trim && given.len() >= table.trim_min;
            let counted: &[f64] = if trimmed {
                &given[1..given.len() - 1]
            } else {
                &given
            };
            let score =
                (!counted.is_empty()).then(|| counted.iter().sum::<f64>() / counted.len() as f64);
            sub += score.unwrap_or(0.0);
            items.push(ItemResult {
                id: it.id.clone(),
                title: it.title.clone(),
                section: s.id.clone(),
                max: it.max,
                missing,
                counted: counted.len(),
                trimmed,
                score,
                spread,
                spread_flag: spread > table.spread_warn * it.max + 1e-9,
                scores,
            });
        }
        sections.push(SectionResult {
            id: s.id.clone(),
            title: s.title.clone(),
            max: s.items.iter().map(|i| i.max).sum(),
            score: sub,
        });
    }
    let total: f64 = sections.iter().map(|s| s.score).sum();
    let expert_totals = sheets
        .iter()
        .map(|sh| table.items().filter_map(|i| sh.scores.get(&i.id)).sum())
        .collect();
    let unscored = items
        .iter()
        .filter(|i| i.score.is_none())
        .map(|i| i.id.clone())
        .collect::<Vec<_>>();
    // Compare at the report's precision: 79.995 shows as 80.00 and passes.
    let passed =
        unscored.is_empty() && (total * 100.0).round() >= (table.pass_mark * 100.0).round();
    Aggregate {
        experts: sheets.iter().map(|s| s.expert.clone()).collect(),
        items,
        sections,
        expert_totals,
        total,
        max: table.total(),
        pass_mark: table.pass_mark,
        passed,
        conclusion: if passed { "通过" } else { "不通过" },
        unscored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "id: t
title: 测试评分表
sections:
  - id: a
    title: 组织
    items:
      - id: a1
        title: 领导小组
        max: 10
      - id: a2
        title: 工作方案
        max: 20
  - id: b
    title: 成效
    items:
      - id: b1
        title: 指标完成
        max: 70
";

    fn sheet(expert: &str, scores: &[(&str, f64)]) -> Sheet {
        Sheet {
            expert: expert.into(),
            scores: scores.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            comments: BTreeMap::new(),
        }
    }

    #[test]
    fn tables_are_checked_with_lines() {
        let t = Table::from_yaml(TABLE, "t.yaml").unwrap();
        assert_eq!(t.total(), 100.0);
        assert_eq!(t.pass_mark, 80.0);
        let bad = TABLE
            .replace("max: 20", "max: 2.3")
            .replace("id: b1", "id: a1");
        let e = Table::from_yaml(&bad, "t.yaml").unwrap_err();
        assert!(
            e.iter()
                .any(|m| m == "t.yaml:10: item `a2`: max 2.3 must be positive, in steps of 0.5"),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("id `a1` is used twice")),
            "{e:?}"
        );
        let e = Table::from_yaml(&format!("{TABLE}pass_mark: 120\n"), "t.yaml").unwrap_err();
        assert!(e[0].contains("pass_mark 120"), "{e:?}");
    }

    /// Three experts, no trimming:
    /// a1: 8, 9, 10 → 9; a2: 18, 16, — → 17 (mean of two; 丙 missing);
    /// b1: 60, 66, 42 → 56, spread 24 > 0.3 × 70 = 21 → flagged.
    /// Total 9 + 17 + 56 = 82 ≥ 80 → 通过. Expert totals 86, 91, 52.
    #[test]
    fn means_with_a_missing_score_and_a_wide_spread() {
        let t = Table::from_yaml(TABLE, "t.yaml").unwrap();
        let a = aggregate(
            &t,
            &[
                sheet("甲", &[("a1", 8.0), ("a2", 18.0), ("b1", 60.0)]),
                sheet("乙", &[("a1", 9.0), ("a2", 16.0), ("b1", 66.0)]),
                sheet("丙", &[("a1", 10.0), ("b1", 42.0)]),
            ],
        );
        let by = |id: &str| a.items.iter().find(|i| i.id == id).unwrap();
        assert_eq!(by("a1").score, Some(9.0));
        assert_eq!(by("a2").score, Some(17.0));
        assert_eq!(by("a2").missing, ["丙"]);
        assert_eq!(by("a2").counted, 2);
        assert_eq!(by("b1").score, Some(56.0));
        assert_eq!(by("b1").spread, 24.0);
        assert!(by("b1").spread_flag && !by("a1").spread_flag);
        assert_eq!(a.sections[0].score, 26.0);
        assert_eq!(a.total, 82.0);
        assert_eq!(a.expert_totals, [86.0, 91.0, 52.0]);
        assert!(a.passed);
        assert_eq!(a.conclusion, "通过");
    }

    /// Five experts with trimming: b1 scores 50, 62, 64, 65, 70 → drop 50 and 70 →
    /// (62 + 64 + 65) ÷ 3 = 63.666…; untrimmed it would be 62.2.
    /// a1 (10, 9, 9, 8, 10) → (9 + 9 + 10) ÷ 3 = 9.333…; a2 all 15 → 15.
    /// Total 88.0 → 通过. With 4 scores on an item (below trim_min 5) no trimming.
    #[test]
    fn trimming_drops_the_highest_and_the_lowest() {
        let t = Table::from_yaml(&format!("{TABLE}trim: true\n"), "t.yaml").unwrap();
        let sheets: Vec<Sheet> = [
            (10.0, 50.0),
            (9.0, 62.0),
            (9.0, 64.0),
            (8.0, 65.0),
            (10.0, 70.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, (a1, b1))| {
            sheet(
                &format!("专家{}", i + 1),
                &[("a1", *a1), ("a2", 15.0), ("b1", *b1)],
            )
        })
        .collect();
        let a = aggregate(&t, &sheets);
        let by = |id: &str| a.items.iter().find(|i| i.id == id).unwrap().clone();
        assert!(by("b1").trimmed);
        assert!((by("b1").score.unwrap() - 191.0 / 3.0).abs() < 1e-9);
        assert!((by("a1").score.unwrap() - 28.0 / 3.0).abs() < 1e-9);
        assert!((a.total - 88.0).abs() < 1e-9);
        let mut four = sheets.clone();
        four[4].scores.remove("b1");
        let a = aggregate(&t, &four);
        let b1 = a.items.iter().find(|i| i.id == "b1").unwrap();
        assert!(!b1.trimmed);
        assert!(
            (b1.score.unwrap() - 60.25).abs() < 1e-9,
            "(50 + 62 + 64 + 65) ÷ 4"
        );
    }

    #[test]
    fn the_pass_mark_and_unscored_items() {
        let t = Table::from_yaml(&format!("{TABLE}pass_mark: 85\n"), "t.yaml").unwrap();
        let a = aggregate(
            &t,
            &[sheet("甲", &[("a1", 10.0), ("a2", 20.0), ("b1", 54.5)])],
        );
        assert_eq!(a.total, 84.5);
        assert!(!a.passed);
        assert_eq!(a.conclusion, "不通过");
        let a = aggregate(&t, &[sheet("甲", &[("a1", 10.0), ("a2", 20.0)])]);
        assert_eq!(a.unscored, ["b1"]);
        assert!(!a.passed, "an unscored item blocks the conclusion");
    }

    #[test]
    fn the_shipped_table_is_100_points_in_six_sections() {
        let t = Table::from_yaml(
            include_str!("../../acceptance/scoring-table.yaml"),
            "acceptance/scoring-table.yaml",
        )
        .unwrap();
        assert_eq!(t.total(), 100.0);
        let titles: Vec<&str> = t.sections.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "组织与基本要求",
                "标准体系",
                "标准实施",
                "监督检查与持续改进",
                "试点成效",
                "创新与示范"
            ]
        );
        assert!(
            t.items().all(|i| !i.guidance.is_empty()),
            "every item says how to score it"
        );
    }

    #[test]
    fn scores_are_checked_against_the_item() {
        let it = Item {
            id: "a".into(),
            title: "领导小组".into(),
            max: 3.0,
            guidance: String::new(),
        };
        assert!(check_score(&it, 2.5).is_ok());
        assert!(check_score(&it, 3.5).unwrap_err().contains("超出范围"));
        assert!(check_score(&it, -1.0).is_err());
        assert!(check_score(&it, 1.3).unwrap_err().contains("0.5"));
        assert!(check_score(&it, f64::NAN).is_err());
    }
}
