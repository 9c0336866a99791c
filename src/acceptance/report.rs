//! The 验收评估报告: a review's figures as the data `templates/acceptance_report.typ`
//! lays out — every expert's table, the aggregate, the conclusion, the group
//! leader's opinion and signature lines. Every number is formatted here.

use serde_json::{Value, json};

use super::scoring::{Aggregate, Sheet, Table};
use crate::db::acceptance::{Project, ReviewView};

pub const TEMPLATE: &str = include_str!("../../templates/acceptance_report.typ");

pub fn data(
    project: &Project,
    v: &ReviewView,
    table: &Table,
    sheets: &[Sheet],
    a: &Aggregate,
) -> Value {
    let experts: Vec<Value> = v
        .members
        .iter()
        .zip(sheets)
        .zip(&a.expert_totals)
        .map(|((m, sh), total)| {
            let rows: Vec<Value> = table
                .sections
                .iter()
                .flat_map(|s| {
                    s.items.iter().map(move |i| {
                        json!({
                            "section": s.title,
                            "title": i.title,
                            "max": crate::acceptance::fmt_points(i.max),
                            "score": sh.scores.get(&i.id).map(|x| crate::acceptance::fmt_points(*x)).unwrap_or_else(|| "—".into()),
                            "comment": sh.comments.get(&i.id).cloned().unwrap_or_default(),
                        })
                    })
                })
                .collect();
            json!({ "name": m.name, "leader": m.leader, "total": crate::acceptance::fmt_points(*total), "rows": rows })
        })
        .collect();
    let items: Vec<Value> = a
        .items
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut notes = Vec::new();
            if !r.missing.is_empty() {
                notes.push(format!("未评：{}", r.missing.join("、")));
            }
            if r.trimmed {
                notes.push("去掉最高分和最低分".to_string());
            }
            if r.spread_flag {
                notes.push(format!("差异较大（极差 {}）", crate::acceptance::fmt_points(r.spread)));
            }
            json!({
                "n": n + 1,
                "section": r.section,
                "title": r.title,
                "max": crate::acceptance::fmt_points(r.max),
                "scores": r.scores.iter().map(|x| x.map(crate::acceptance::fmt_points).unwrap_or_else(|| "—".into())).collect::<Vec<_>>(),
                "score": r.score.map(crate::acceptance::fmt_points).unwrap_or_else(|| "—".into()),
                "note": notes.join("；"),
                "flag": r.spread_flag,
            })
        })
        .collect();
    let sections: Vec<Value> = table
        .sections
        .iter()
        .zip(&a.sections)
        .map(|(s, r)| json!({ "id": s.id, "title": s.title, "max": crate::acceptance::fmt_points(r.max), "score": crate::acceptance::fmt_points(r.score) }))
        .collect();
    json!({
        "project": {
            "name": project.name, "kind": project.kind, "field": project.field,
            "started": project.started, "planned_end": project.planned_end,
            "undertaker": project.undertaker, "supervisor": project.supervisor,
        },
        "review": { "title": v.review.title, "date": v.review.review_date, "opinion": v.review.opinion },
        "table": { "title": table.title, "max": crate::acceptance::fmt_points(table.total()), "pass_mark": crate::acceptance::fmt_points(table.pass_mark),
                   "trim": table.trim, "trim_min": table.trim_min, "spread_warn": crate::acceptance::fmt_points(table.spread_warn * 100.0) },
        "names": a.experts,
        "experts": experts,
        "items": items,
        "sections": sections,
        "total": crate::acceptance::fmt_points(a.total),
        "conclusion": a.conclusion,
        "passed": a.passed,
        "unscored": a.unscored.len(),
    })
}
