//! Record checks, metric checks and manual checklist items: the clauses an event
//! log cannot show, checked against the platform's entities ([`Platform`]).
//!
//! They live in the same `audits/*.yaml` files as the workflow rules, under
//! `records:`, `metrics:` and `manual:`, are bound to clauses the same way and use
//! the same condition language ([`super::expr`]), here over an entity's fields:
//!
//! ```yaml
//! records:
//!   - id: outlet-five-functions
//!     clause: "T/ZTAC 002—2023#4.2"
//!     entity: outlets
//!     require: contains(functions, "招聘") && contains(functions, "权益保护")
//! metrics:
//!   - id: complaint-first-response-median
//!     clause: "DB3301/T 0441—2024#8.2"
//!     entity: complaints
//!     measure: median
//!     of: first_response_at - received_at
//!     target: "<= 2h"
//! manual:
//!   - id: emergency-plan-displayed
//!     clause: "T/ZTAC 002—2023#8.3"
//!     per: outlet
//!     title: 应急预案上墙
//!     guidance: 查看网点是否张贴应急预案，拍照留存。
//! ```
//!
//! `time` in a condition is the audit's reference instant (by default the end of
//! its period): `health_check_until >= time` means "valid at the reference time".
//! A worker's `code_color` is the 安心码 colour at that instant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::expr::{self, CmpOp, Expr, Quantity, Slots};
use super::rules::{Seg, Severity, locate, normalize_clause};
use super::time::{self, Micros};
use super::values::Interner;
use crate::diag::Diagnostic;
use crate::platform::Platform;

/// The entities checks can read, and their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Outlets,
    Workers,
    Agencies,
    Complaints,
    Trainings,
    /// Satisfaction surveys run in Biaozhun, one record per survey version.
    Surveys,
}

impl Entity {
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Entity::Outlets => &[
                "id",
                "name",
                "town",
                "address",
                "functions",
                "services",
                "staff",
                "opening_hours",
                "displays",
                "ledgers",
                "services_count",
            ],
            Entity::Workers => &[
                "id",
                "name",
                "agency_id",
                "registered_at",
                "health_check_until",
                "insurance_until",
                "code_color",
                "birth_year",
                "trainings_passed",
                "training_hours",
                "id_number_valid",
            ],
            Entity::Agencies => &[
                "id",
                "name",
                "credit_code",
                "town",
                "grade",
                "complaint_phone",
                "workers",
                "credit_code_valid",
            ],
            Entity::Complaints => &[
                "id",
                "order_id",
                "agency_id",
                "worker_id",
                "outlet_id",
                "category",
                "received_at",
                "first_response_at",
                "resolved_at",
            ],
            Entity::Trainings => &["worker_id", "title", "date", "hours", "passed", "outlet_id"],
            Entity::Surveys => &[
                "id",
                "title",
                "version",
                "audit_id",
                "first_at",
                "last_at",
                "responses",
                "valid",
                "score",
                "satisfaction",
                "csat",
            ],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Entity::Outlets => "网点",
            Entity::Workers => "家政服务人员",
            Entity::Agencies => "家政服务机构",
            Entity::Complaints => "投诉",
            Entity::Trainings => "培训记录",
            Entity::Surveys => "满意度调查",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Count,
    Share,
    Median,
    Mean,
    P90,
    Max,
    Min,
    /// The value of the selected record that is latest by `by:` (a time field).
    /// No record selected is a failure when the entity's data was supplied: the
    /// requirement is that such a record exists.
    Latest,
}

/// Where a manual item is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Platform,
    Outlet,
    Agency,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    note: String,
    clause: OneOrMany,
    entity: Entity,
    when: Option<String>,
    require: String,
    severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawMetric {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    note: String,
    clause: OneOrMany,
    entity: Entity,
    when: Option<String>,
    measure: Measure,
    of: Option<String>,
    by: Option<String>,
    target: String,
    #[serde(default)]
    min_n: usize,
    severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ManualItem {
    pub id: String,
    pub title: String,
    #[serde(skip_deserializing)]
    pub clauses: Vec<String>,
    #[serde(rename = "clause", skip_serializing)]
    clause_raw: Option<OneOrManySer>,
    #[serde(default)]
    pub per: Per,
    pub guidance: String,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default = "major")]
    pub severity: Severity,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum OneOrManySer {
    One(String),
    Many(Vec<String>),
}

fn major() -> Severity {
    Severity::Major
}

#[derive(Debug, Default, Deserialize)]
struct RawChecks {
    standard: Option<String>,
    #[serde(default)]
    records: Vec<RawRecord>,
    #[serde(default)]
    metrics: Vec<RawMetric>,
    #[serde(default)]
    manual: Vec<ManualItem>,
}

/// A record check, validated (its expressions compile against the entity).
#[derive(Debug, Clone, Serialize)]
pub struct RecordCheck {
    pub id: String,
    pub title: String,
    pub note: String,
    pub clauses: Vec<String>,
    pub entity: Entity,
    pub when: Option<String>,
    pub require: String,
    pub severity: Severity,
}

/// A metric check, validated.
#[derive(Debug, Clone, Serialize)]
pub struct MetricCheck {
    pub id: String,
    pub title: String,
    pub note: String,
    pub clauses: Vec<String>,
    pub entity: Entity,
    pub when: Option<String>,
    pub measure: Measure,
    pub of: Option<String>,
    /// For `latest`: the time field that orders the records.
    pub by: Option<String>,
    pub target: String,
    pub min_n: usize,
    pub severity: Severity,
    #[serde(skip)]
    target_parsed: Target,
}

#[derive(Debug, Clone, Copy, Default)]
struct Target {
    op: Option<CmpOp>,
    value: f64,
    kind: TargetKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum TargetKind {
    #[default]
    Number,
    Percent,
    Duration,
}

/// All checks of a rule set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSet {
    pub records: Vec<RecordCheck>,
    pub metrics: Vec<MetricCheck>,
    pub manual: Vec<ManualItem>,
}

impl CheckSet {
    /// Loads the checks of every `*.yaml` under `paths` (the workflow rules in the
    /// same files are left to [`super::rules::RuleSet`]).
    pub fn load(paths: &[PathBuf]) -> Result<CheckSet, Vec<Diagnostic>> {
        let mut sources = Vec::new();
        for p in paths {
            let files = super::rules::find_rule_files(p).map_err(|e| {
                vec![Diagnostic::error(
                    "rules-io",
                    &p.display().to_string(),
                    crate::diag::Pos::default(),
                    format!("cannot read: {e}"),
                )]
            })?;
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| {
                    vec![Diagnostic::error(
                        "rules-io",
                        &f.display().to_string(),
                        crate::diag::Pos::default(),
                        format!("cannot read: {e}"),
                    )]
                })?;
                sources.push((f.display().to_string(), text));
            }
        }
        CheckSet::from_sources(&sources)
    }

    pub fn from_sources(sources: &[(String, String)]) -> Result<CheckSet, Vec<Diagnostic>> {
        let mut set = CheckSet::default();
        let mut errors = Vec::new();
        let mut ids = BTreeMap::new();
        for (file, text) in sources {
            let raw: RawChecks = match serde_yaml::from_str::<Option<RawChecks>>(text) {
                Ok(r) => r.unwrap_or_default(),
                Err(e) => {
                    errors.push(Diagnostic::error(
                        "rules-yaml",
                        file,
                        e.location()
                            .map(|l| crate::diag::Pos {
                                line: l.line(),
                                col: l.column(),
                            })
                            .unwrap_or_default(),
                        format!("checks: {e}"),
                    ));
                    continue;
                }
            };
            let std = raw.standard.as_deref();
            let clauses_of = |c: &OneOrMany, path: &[Seg], errors: &mut Vec<Diagnostic>| {
                let list = match c {
                    OneOrMany::One(s) => vec![s.clone()],
                    OneOrMany::Many(v) => v.clone(),
                };
                let mut out = Vec::new();
                for c in list {
                    match normalize_clause(&c, std) {
                        Ok(n) => out.push(n),
                        Err(m) => errors.push(Diagnostic::error(
                            "rules-clause",
                            file,
                            locate(text, path),
                            m,
                        )),
                    }
                }
                out
            };
            let mut unique = |id: &str, path: &[Seg], errors: &mut Vec<Diagnostic>| {
                if let Some(prev) = ids.insert(id.to_string(), file.clone()) {
                    errors.push(Diagnostic::error(
                        "rules-duplicate-id",
                        file,
                        locate(text, path),
                        format!("check id `{id}` is already used in {prev}"),
                    ));
                }
            };
            for (i, r) in raw.records.iter().enumerate() {
                let at = |k: &'static str| vec![Seg::Key("records"), Seg::Index(i), Seg::Key(k)];
                unique(&r.id, &at("id"), &mut errors);
                let clauses = clauses_of(&r.clause, &at("clause"), &mut errors);
                for (key, src) in [
                    ("when", r.when.as_deref()),
                    ("require", Some(r.require.as_str())),
                ] {
                    if let Some(src) = src
                        && let Err(m) = compile_condition(src, r.entity)
                    {
                        errors.push(Diagnostic::error(
                            "rules-expression",
                            file,
                            locate(text, &at(key)),
                            m,
                        ));
                    }
                }
                set.records.push(RecordCheck {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    note: r.note.clone(),
                    clauses,
                    entity: r.entity,
                    when: r.when.clone(),
                    require: r.require.clone(),
                    severity: r.severity.unwrap_or(Severity::Major),
                });
            }
            for (i, m) in raw.metrics.iter().enumerate() {
                let at = |k: &'static str| vec![Seg::Key("metrics"), Seg::Index(i), Seg::Key(k)];
                unique(&m.id, &at("id"), &mut errors);
                let clauses = clauses_of(&m.clause, &at("clause"), &mut errors);
                if let Some(src) = m.when.as_deref()
                    && let Err(e) = compile_condition(src, m.entity)
                {
                    errors.push(Diagnostic::error(
                        "rules-expression",
                        file,
                        locate(text, &at("when")),
                        e,
                    ));
                }
                match (m.measure, m.of.as_deref()) {
                    (Measure::Count, _) => {}
                    (Measure::Share, Some(src)) => {
                        if let Err(e) = compile_condition(src, m.entity) {
                            errors.push(Diagnostic::error(
                                "rules-expression",
                                file,
                                locate(text, &at("of")),
                                e,
                            ));
                        }
                    }
                    (_, Some(src)) => {
                        if let Err(e) = compile_value(src, m.entity) {
                            errors.push(Diagnostic::error(
                                "rules-expression",
                                file,
                                locate(text, &at("of")),
                                e,
                            ));
                        }
                    }
                    (_, None) => errors.push(Diagnostic::error(
                        "rules-expression",
                        file,
                        locate(text, &at("measure")),
                        format!(
                            "measure `{:?}` needs `of:` (a condition for share, a value otherwise)",
                            m.measure
                        )
                        .to_lowercase(),
                    )),
                }
                let target = match parse_target(&m.target) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(Diagnostic::error(
                            "rules-target",
                            file,
                            locate(text, &at("target")),
                            e,
                        ));
                        Target::default()
                    }
                };
                match (m.measure, m.by.as_deref()) {
                    (Measure::Latest, Some(f)) if m.entity.fields().contains(&f) => {}
                    (Measure::Latest, by) => errors.push(Diagnostic::error(
                        "rules-expression",
                        file,
                        locate(text, &at("measure")),
                        format!(
                            "measure `latest` needs `by:` naming a time field of {} ({}){}",
                            entity_key(m.entity),
                            m.entity.fields().join(", "),
                            by.map(|b| format!("; `{b}` is not one"))
                                .unwrap_or_default()
                        ),
                    )),
                    (_, Some(_)) => errors.push(Diagnostic::error(
                        "rules-expression",
                        file,
                        locate(text, &at("by")),
                        "`by:` only goes with `measure: latest`".to_string(),
                    )),
                    (_, None) => {}
                }
                if m.measure == Measure::Share && target.kind != TargetKind::Percent {
                    errors.push(Diagnostic::error(
                        "rules-target",
                        file,
                        locate(text, &at("target")),
                        "a share is a percentage: write the target as `>= 95%`".to_string(),
                    ));
                }
                set.metrics.push(MetricCheck {
                    id: m.id.clone(),
                    title: m.title.clone(),
                    note: m.note.clone(),
                    clauses,
                    entity: m.entity,
                    when: m.when.clone(),
                    measure: m.measure,
                    of: m.of.clone(),
                    by: m.by.clone(),
                    target: m.target.clone(),
                    min_n: m.min_n,
                    severity: m.severity.unwrap_or(Severity::Major),
                    target_parsed: target,
                });
            }
            for (i, item) in raw.manual.iter().enumerate() {
                let at = |k: &'static str| vec![Seg::Key("manual"), Seg::Index(i), Seg::Key(k)];
                unique(&item.id, &at("id"), &mut errors);
                let raw_clause = match &item.clause_raw {
                    Some(OneOrManySer::One(s)) => OneOrMany::One(s.clone()),
                    Some(OneOrManySer::Many(v)) => OneOrMany::Many(v.clone()),
                    None => OneOrMany::Many(Vec::new()),
                };
                let clauses = clauses_of(&raw_clause, &at("clause"), &mut errors);
                let mut it = item.clone();
                it.clauses = clauses;
                set.manual.push(it);
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Bindings to clauses the standards do not have: (check id, clause id).
    pub fn unknown_clauses(&self, coll: &crate::standard::Collection) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let bound = self
            .records
            .iter()
            .map(|r| (&r.id, &r.clauses))
            .chain(self.metrics.iter().map(|m| (&m.id, &m.clauses)))
            .chain(self.manual.iter().map(|m| (&m.id, &m.clauses)));
        for (id, clauses) in bound {
            for c in clauses {
                let Some((code, number)) = c.split_once('#') else {
                    continue;
                };
                let number = number.split('/').next().unwrap_or(number);
                let found = coll
                    .standards
                    .iter()
                    .find(|s| s.code.to_string() == code)
                    .is_some_and(|s| s.all_clauses().iter().any(|x| x.number == number));
                if !found {
                    out.push((id.clone(), c.clone()));
                }
            }
        }
        out
    }

    /// Every clause id some check is bound to.
    pub fn clauses(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .flat_map(|r| r.clauses.iter())
            .chain(self.metrics.iter().flat_map(|m| m.clauses.iter()))
            .chain(self.manual.iter().flat_map(|m| m.clauses.iter()))
            .map(String::as_str)
    }
}

fn check_fields(slots: &Slots, entity: Entity) -> Result<(), String> {
    for name in &slots.names {
        if !entity.fields().contains(&name.as_str()) {
            return Err(format!(
                "{} have no field `{name}` (fields: {})",
                entity_key(entity),
                entity.fields().join(", ")
            ));
        }
    }
    Ok(())
}

pub fn entity_key(e: Entity) -> &'static str {
    match e {
        Entity::Outlets => "outlets",
        Entity::Workers => "workers",
        Entity::Agencies => "agencies",
        Entity::Complaints => "complaints",
        Entity::Trainings => "trainings",
        Entity::Surveys => "surveys",
    }
}

fn compile_condition(src: &str, entity: Entity) -> Result<(), String> {
    let mut slots = Slots::default();
    let interner = Interner::default();
    expr::compile(src, expr::Context::Local, &mut slots, &mut |s| {
        interner.intern(s)
    })
    .map_err(|e| format!("in `{src}`: {e}"))?;
    check_fields(&slots, entity)
}

fn compile_value(src: &str, entity: Entity) -> Result<(), String> {
    let mut slots = Slots::default();
    let interner = Interner::default();
    expr::compile_value(src, &mut slots, &mut |s| interner.intern(s))
        .map_err(|e| format!("in `{src}`: {e}"))?;
    check_fields(&slots, entity)
}

/// `<= 20m`, `>= 95%`, `>= 100`.
fn parse_target(s: &str) -> Result<Target, String> {
    let s = s.trim();
    let (op, rest) = [
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("==", CmpOp::Eq),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
    ]
    .iter()
    .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r.trim())))
    .ok_or_else(|| format!("target `{s}` must start with <=, >=, <, > or =="))?;
    if let Some(p) = rest.strip_suffix('%') {
        let value: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("`{rest}` is not a percentage"))?;
        return Ok(Target {
            op: Some(op),
            value,
            kind: TargetKind::Percent,
        });
    }
    if let Ok(n) = rest.parse::<f64>() {
        return Ok(Target {
            op: Some(op),
            value: n,
            kind: TargetKind::Number,
        });
    }
    match time::parse_duration(rest) {
        Some(d) => Ok(Target {
            op: Some(op),
            value: d as f64,
            kind: TargetKind::Duration,
        }),
        None => Err(format!(
            "`{rest}` is not a number, a percentage (95%) or a duration (20m, 24h, 3d)"
        )),
    }
}

// ---------------------------------------------------------------------------------
// Evaluation

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every checked record satisfies it / the metric meets its target.
    Pass,
    Fail,
    /// Nothing to check (no records, or fewer than `min_n`).
    NoData,
    /// A manual item: to be assessed on site.
    Manual,
    /// No failure found, but the data it read is incomplete (rows skipped beyond
    /// the audit's limit, or a column it needs missing): no verdict.
    Incomplete,
}

impl Outcome {
    /// The stored key (`serde` name).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NoData => "no_data",
            Outcome::Manual => "manual",
            Outcome::Incomplete => "incomplete",
        }
    }

    /// A stored key back (unknown keys read as 未评价).
    pub fn from_key(s: &str) -> Outcome {
        [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Manual,
            Outcome::Incomplete,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .unwrap_or(Outcome::NoData)
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "符合",
            Outcome::Fail => "不符合",
            Outcome::NoData => "未评价",
            Outcome::Manual => "现场检查",
            Outcome::Incomplete => "数据不完整",
        }
    }
}

/// A record that failed, with the fields the check reads.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub id: String,
    pub name: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub clauses: Vec<String>,
    pub entity: Option<Entity>,
    pub severity: Severity,
    pub checked: usize,
    pub failed: usize,
    /// The failing records, or for a metric the records furthest from its target
    /// (at most [`SAMPLES`]).
    pub samples: Vec<Sample>,
    /// A metric's measured value, formatted (`18m`, `96.43%`, `412`).
    pub value: Option<String>,
    pub target: Option<String>,
    pub outcome: Outcome,
}

/// Failing records kept as evidence per check.
pub const SAMPLES: usize = 20;

/// One entity's records as expression events.
struct Rec {
    id: String,
    name: String,
    texts: Vec<String>,
    vals: Vec<u32>,
    at: Micros,
}

impl expr::Event for Rec {
    fn attr(&self, slot: u16) -> u32 {
        self.vals.get(slot as usize).copied().unwrap_or(0)
    }
    fn time(&self) -> Micros {
        self.at
    }
}

fn fmt_time(t: Option<Micros>) -> String {
    t.map(|t| time::format_instant(t, 480)).unwrap_or_default()
}

/// Field texts of each record of `entity` (by [`Entity::fields`] order).
fn rows(p: &Platform, entity: Entity, at: Micros) -> Vec<(String, String, Vec<String>)> {
    match entity {
        Entity::Outlets => p
            .outlets
            .iter()
            .map(|o| {
                (
                    o.id.clone(),
                    o.name.clone(),
                    vec![
                        o.id.clone(),
                        o.name.clone(),
                        o.town.clone(),
                        o.address.clone(),
                        o.functions.join("|"),
                        o.services.join("|"),
                        o.staff.to_string(),
                        o.opening_hours.clone(),
                        o.displays.join("|"),
                        o.ledgers.join("|"),
                        o.services.len().to_string(),
                    ],
                )
            })
            .collect(),
        Entity::Workers => {
            let mut passed: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
            for t in p.trainings.iter().filter(|t| t.passed && t.date <= at) {
                let e = passed.entry(t.worker_id.as_str()).or_default();
                e.0 += 1;
                e.1 += t.hours;
            }
            p.workers
                .iter()
                .map(|w| {
                    let (n, h) = passed.get(w.id.as_str()).copied().unwrap_or_default();
                    (
                        w.id.clone(),
                        w.name.clone(),
                        vec![
                            w.id.clone(),
                            w.name.clone(),
                            w.agency_id.clone(),
                            fmt_time(Some(w.registered_at)),
                            fmt_time(w.health_check_until),
                            fmt_time(w.insurance_until),
                            p.color_at(&w.id, at)
                                .map(|c| format!("{c:?}").to_lowercase())
                                .unwrap_or_default(),
                            w.birth_year.to_string(),
                            n.to_string(),
                            h.to_string(),
                            w.id_number_valid.to_string(),
                        ],
                    )
                })
                .collect()
        }
        Entity::Agencies => {
            let mut workers: BTreeMap<&str, usize> = BTreeMap::new();
            for w in &p.workers {
                *workers.entry(w.agency_id.as_str()).or_default() += 1;
            }
            p.agencies
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        a.name.clone(),
                        vec![
                            a.id.clone(),
                            a.name.clone(),
                            a.credit_code.clone(),
                            a.town.clone(),
                            a.grade.clone().unwrap_or_default(),
                            a.complaint_phone.clone(),
                            workers.get(a.id.as_str()).copied().unwrap_or(0).to_string(),
                            a.credit_code_valid.to_string(),
                        ],
                    )
                })
                .collect()
        }
        Entity::Complaints => p
            .complaints
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.category.clone(),
                    vec![
                        c.id.clone(),
                        c.order_id.clone(),
                        c.agency_id.clone(),
                        c.worker_id.clone(),
                        c.outlet_id.clone(),
                        c.category.clone(),
                        fmt_time(Some(c.received_at)),
                        fmt_time(c.first_response_at),
                        fmt_time(c.resolved_at),
                    ],
                )
            })
            .collect(),
        Entity::Trainings => p
            .trainings
            .iter()
            .map(|t| {
                (
                    t.worker_id.clone(),
                    t.title.clone(),
                    vec![
                        t.worker_id.clone(),
                        t.title.clone(),
                        fmt_time(Some(t.date)),
                        t.hours.to_string(),
                        t.passed.to_string(),
                        t.outlet_id.clone(),
                    ],
                )
            })
            .collect(),
        Entity::Surveys => p
            .surveys
            .iter()
            .flatten()
            .map(|s| {
                let num = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_default();
                (
                    format!("{} v{}", s.id, s.version),
                    s.title.clone(),
                    vec![
                        s.id.clone(),
                        s.title.clone(),
                        s.version.to_string(),
                        s.audit_id.clone(),
                        fmt_time(s.first_at),
                        fmt_time(s.last_at),
                        s.responses.to_string(),
                        s.valid.to_string(),
                        num(s.score),
                        num(s.satisfaction),
                        num(s.csat),
                    ],
                )
            })
            .collect(),
    }
}

/// Whether the caller supplied the entity's data at all.
fn supplied(p: &Platform, entity: Entity) -> bool {
    entity != Entity::Surveys || p.surveys.is_some()
}

/// Evaluates every check against `platform` as of `at`.
pub fn evaluate(set: &CheckSet, platform: &Platform, at: Micros) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for r in &set.records {
        out.push(eval_record(r, platform, at));
    }
    for m in &set.metrics {
        out.push(eval_metric(m, platform, at));
    }
    for item in &set.manual {
        out.push(CheckResult {
            id: item.id.clone(),
            kind: "manual",
            title: item.title.clone(),
            clauses: item.clauses.clone(),
            entity: None,
            severity: item.severity,
            checked: 0,
            failed: 0,
            samples: Vec::new(),
            value: None,
            target: None,
            outcome: Outcome::Manual,
        });
    }
    out
}

/// Compiles the expressions of one check with one interner, then interns the
/// entity's field values into it and evaluates.
struct Compiled {
    when: Option<Expr>,
    main: Option<Expr>,
    slots: Slots,
    recs: Vec<Rec>,
    table: super::values::ValueTable,
}

fn compile_for(
    entity: Entity,
    when: Option<&str>,
    main: Option<&str>,
    main_is_value: bool,
    p: &Platform,
    at: Micros,
) -> Option<Compiled> {
    let interner = Interner::default();
    let mut slots = Slots::default();
    let mut intern = |s: &str| interner.intern(s);
    let when = match when {
        Some(src) => Some(expr::compile(src, expr::Context::Local, &mut slots, &mut intern).ok()?),
        None => None,
    };
    let main = match main {
        Some(src) if main_is_value => Some(expr::compile_value(src, &mut slots, &mut intern).ok()?),
        Some(src) => Some(expr::compile(src, expr::Context::Local, &mut slots, &mut intern).ok()?),
        None => None,
    };
    let fields = entity.fields();
    let index: Vec<Option<usize>> = slots
        .names
        .iter()
        .map(|n| fields.iter().position(|f| f == n))
        .collect();
    let recs: Vec<Rec> = rows(p, entity, at)
        .into_iter()
        .map(|(id, name, texts)| {
            let vals = index
                .iter()
                .map(|i| match i.and_then(|i| texts.get(i)) {
                    Some(t) if !t.is_empty() => interner.intern(t),
                    _ => 0,
                })
                .collect();
            Rec {
                id,
                name,
                texts,
                vals,
                at,
            }
        })
        .collect();
    let table = interner.freeze(Some(480));
    Some(Compiled {
        when,
        main,
        slots,
        recs,
        table,
    })
}

fn sample(rec: &Rec, slots: &Slots, entity: Entity) -> Sample {
    let fields = entity.fields();
    Sample {
        id: rec.id.clone(),
        name: rec.name.clone(),
        fields: slots
            .names
            .iter()
            .filter_map(|n| {
                let i = fields.iter().position(|f| f == n)?;
                Some((n.clone(), rec.texts.get(i).cloned().unwrap_or_default()))
            })
            .collect(),
    }
}

/// Every record failing `r` as of `at` (live monitoring raises one alert each).
pub fn failing_records(r: &RecordCheck, p: &Platform, at: Micros) -> Vec<Sample> {
    eval_record_n(r, p, at, usize::MAX).samples
}

fn eval_record(r: &RecordCheck, p: &Platform, at: Micros) -> CheckResult {
    eval_record_n(r, p, at, SAMPLES)
}

fn eval_record_n(r: &RecordCheck, p: &Platform, at: Micros, limit: usize) -> CheckResult {
    let mut res = CheckResult {
        id: r.id.clone(),
        kind: "record",
        title: r.title.clone(),
        clauses: r.clauses.clone(),
        entity: Some(r.entity),
        severity: r.severity,
        checked: 0,
        failed: 0,
        samples: Vec::new(),
        value: None,
        target: None,
        outcome: Outcome::NoData,
    };
    let Some(c) = compile_for(r.entity, r.when.as_deref(), Some(&r.require), false, p, at) else {
        return res;
    };
    for rec in &c.recs {
        let env = expr::Env::local(rec);
        if let Some(w) = &c.when
            && !expr::holds(w, &env, &c.table)
        {
            continue;
        }
        res.checked += 1;
        let ok = c
            .main
            .as_ref()
            .is_some_and(|m| expr::holds(m, &env, &c.table));
        if !ok {
            res.failed += 1;
            if res.samples.len() < limit {
                res.samples.push(sample(rec, &c.slots, r.entity));
            }
        }
    }
    res.outcome = match (res.checked, res.failed) {
        (0, _) => Outcome::NoData,
        (_, 0) => Outcome::Pass,
        _ => Outcome::Fail,
    };
    res
}

fn eval_metric(m: &MetricCheck, p: &Platform, at: Micros) -> CheckResult {
    let mut res = CheckResult {
        id: m.id.clone(),
        kind: "metric",
        title: m.title.clone(),
        clauses: m.clauses.clone(),
        entity: Some(m.entity),
        severity: m.severity,
        checked: 0,
        failed: 0,
        samples: Vec::new(),
        value: None,
        target: Some(m.target.clone()),
        outcome: Outcome::NoData,
    };
    let is_value = !matches!(m.measure, Measure::Count | Measure::Share);
    let Some(c) = compile_for(
        m.entity,
        m.when.as_deref(),
        m.of.as_deref(),
        is_value,
        p,
        at,
    ) else {
        return res;
    };
    let mut values: Vec<(f64, usize)> = Vec::new();
    let mut dur = false;
    let mut holds = 0usize;
    let mut selected = Vec::new();
    for (i, rec) in c.recs.iter().enumerate() {
        let env = expr::Env::local(rec);
        if let Some(w) = &c.when
            && !expr::holds(w, &env, &c.table)
        {
            continue;
        }
        selected.push(i);
        match m.measure {
            Measure::Count => {}
            Measure::Share => {
                if c.main
                    .as_ref()
                    .is_some_and(|e| expr::holds(e, &env, &c.table))
                {
                    holds += 1;
                } else if res.samples.len() < SAMPLES {
                    res.samples.push(sample(rec, &c.slots, m.entity));
                }
            }
            _ => match c
                .main
                .as_ref()
                .and_then(|e| expr::quantity(e, &env, &c.table))
            {
                Some(Quantity::Num(n)) => values.push((n, i)),
                Some(Quantity::Dur(d)) => {
                    dur = true;
                    values.push((d as f64, i));
                }
                None => {}
            },
        }
    }
    let n = match m.measure {
        Measure::Count | Measure::Share => selected.len(),
        _ => values.len(),
    };
    res.checked = n;
    if n == 0 && m.measure == Measure::Latest && supplied(p, m.entity) {
        res.value = Some("无符合条件的记录".into());
        res.failed = 1;
        res.outcome = Outcome::Fail;
        return res;
    }
    if n == 0 || n < m.min_n {
        return res;
    }
    // The latest record by `by` (times format as sortable text).
    let by =
        m.by.as_deref()
            .and_then(|b| m.entity.fields().iter().position(|f| *f == b));
    let latest = by.and_then(|b| {
        values
            .iter()
            .max_by(|x, y| {
                let t = |i: usize| c.recs[i].texts.get(b).cloned().unwrap_or_default();
                t(x.1).cmp(&t(y.1))
            })
            .copied()
    });
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let measured = match m.measure {
        Measure::Count => n as f64,
        Measure::Share => holds as f64 * 100.0 / n as f64,
        Measure::Median => {
            let k = values.len();
            if k % 2 == 1 {
                values[k / 2].0
            } else {
                (values[k / 2 - 1].0 + values[k / 2].0) / 2.0
            }
        }
        Measure::Mean => values.iter().map(|v| v.0).sum::<f64>() / values.len() as f64,
        Measure::P90 => {
            // Nearest rank.
            let rank = ((0.9 * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1].0
        }
        Measure::Max => values.last().map(|v| v.0).unwrap_or(0.0),
        Measure::Min => values.first().map(|v| v.0).unwrap_or(0.0),
        Measure::Latest => latest.map(|v| v.0).unwrap_or(0.0),
    };
    let t = m.target_parsed;
    let pass = match t.op {
        Some(CmpOp::Le) => measured <= t.value,
        Some(CmpOp::Ge) => measured >= t.value,
        Some(CmpOp::Lt) => measured < t.value,
        Some(CmpOp::Gt) => measured > t.value,
        Some(CmpOp::Eq) => (measured - t.value).abs() < 1e-9,
        _ => false,
    };
    res.value = Some(match (m.measure, dur) {
        (Measure::Share, _) => format!("{measured:.2}%"),
        (_, true) => time::format_duration(measured.round() as Micros),
        (Measure::Count, _) => format!("{measured}"),
        _ => format!("{measured:.2}"),
    });
    // Evidence for a value metric: the records furthest on the wrong side.
    if !pass && is_value {
        let worst: Vec<usize> = match t.op {
            _ if m.measure == Measure::Latest => latest.map(|v| v.1).into_iter().collect(),
            Some(CmpOp::Ge | CmpOp::Gt) => values.iter().take(SAMPLES).map(|v| v.1).collect(),
            _ => values.iter().rev().take(SAMPLES).map(|v| v.1).collect(),
        };
        res.samples = worst
            .into_iter()
            .map(|i| sample(&c.recs[i], &c.slots, m.entity))
            .collect();
    }
    res.failed = usize::from(!pass);
    res.outcome = if pass { Outcome::Pass } else { Outcome::Fail };
    res
}

/// A clause's verdict over the checks bound to it.
#[derive(Debug, Clone, Serialize)]
pub struct ClauseOutcome {
    pub clause: String,
    /// 符合 / 不符合 / 数据不完整 / 待现场检查 / 未评价.
    pub verdict: &'static str,
    pub severity: Option<Severity>,
    pub checks: Vec<String>,
}

/// Per clause: 不符合 if any check failed (with the worst severity), 数据不完整 if a
/// check could not judge for incomplete data (a 符合 built on it would not stand),
/// 待现场检查 if a manual item remains, 符合 if all automated checks passed, else
/// 未评价.
pub fn clause_outcomes(results: &[CheckResult]) -> Vec<ClauseOutcome> {
    let mut by: BTreeMap<&str, Vec<&CheckResult>> = BTreeMap::new();
    for r in results {
        for c in &r.clauses {
            by.entry(c.as_str()).or_default().push(r);
        }
    }
    by.into_iter()
        .map(|(clause, rs)| {
            let failed: Vec<&&CheckResult> =
                rs.iter().filter(|r| r.outcome == Outcome::Fail).collect();
            let (verdict, severity) = if !failed.is_empty() {
                ("不符合", failed.iter().map(|r| r.severity).min())
            } else if rs.iter().any(|r| r.outcome == Outcome::Incomplete) {
                ("数据不完整", None)
            } else if rs.iter().any(|r| r.outcome == Outcome::Manual) {
                ("待现场检查", None)
            } else if rs.iter().any(|r| r.outcome == Outcome::Pass) {
                ("符合", None)
            } else {
                ("未评价", None)
            };
            ClauseOutcome {
                clause: clause.to_string(),
                verdict,
                severity,
                checks: rs.iter().map(|r| r.id.clone()).collect(),
            }
        })
        .collect()
}

/// How well a standard's requirement clauses are covered by checks.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub standard: String,
    /// Clauses with at least one 应 provision of their own.
    pub requirement_clauses: usize,
    /// Covered by a workflow rule, a record check or a metric check.
    pub automated: usize,
    /// Covered only by a manual checklist item.
    pub manual: usize,
    /// Neither: (clause number, title).
    pub gaps: Vec<(String, String)>,
}

impl Coverage {
    /// Share of requirement clauses with an automated check or a manual item, in %.
    pub fn percent(&self) -> f64 {
        if self.requirement_clauses == 0 {
            return 100.0;
        }
        (self.automated + self.manual) as f64 * 100.0 / self.requirement_clauses as f64
    }
}

/// Coverage of each standard in `codes` (all current standards with requirement
/// clauses when empty). A binding to a provision (`#9.1/p2`) covers its clause.
pub fn coverage(
    coll: &crate::standard::Collection,
    workflow: &[super::rules::Rule],
    checks: &CheckSet,
    codes: &[String],
) -> Vec<Coverage> {
    // `CODE#9.1/p2` → `CODE#9.1` (codes contain `/` too: split after `#`).
    let strip = |c: &str| match c.split_once('#') {
        Some((code, n)) => format!("{code}#{}", n.split('/').next().unwrap_or(n)),
        None => c.to_string(),
    };
    let automated: std::collections::HashSet<String> = workflow
        .iter()
        .flat_map(|r| r.clauses.iter())
        .chain(checks.records.iter().flat_map(|r| r.clauses.iter()))
        .chain(checks.metrics.iter().flat_map(|m| m.clauses.iter()))
        .map(|c| strip(c))
        .collect();
    let manual: std::collections::HashSet<String> = checks
        .manual
        .iter()
        .flat_map(|m| m.clauses.iter())
        .map(|c| strip(c))
        .collect();
    let mut out = Vec::new();
    for s in &coll.standards {
        let code = s.code.to_string();
        if !codes.is_empty() && !codes.contains(&code) {
            continue;
        }
        if codes.is_empty() && s.meta.status != crate::standard::Status::Current {
            continue;
        }
        let mut cov = Coverage {
            standard: code.clone(),
            requirement_clauses: 0,
            automated: 0,
            manual: 0,
            gaps: Vec::new(),
        };
        for c in s.all_clauses() {
            if !c
                .provisions
                .iter()
                .any(|p| p.kind == crate::standard::ProvisionType::Requirement)
            {
                continue;
            }
            cov.requirement_clauses += 1;
            let id = format!("{code}#{}", c.number);
            if automated.contains(&id) {
                cov.automated += 1;
            } else if manual.contains(&id) {
                cov.manual += 1;
            } else {
                cov.gaps
                    .push((c.number.clone(), c.title.clone().unwrap_or_default()));
            }
        }
        if cov.requirement_clauses > 0 {
            out.push(cov);
        }
    }
    out
}

/// The workflow rules' results of an order log as check results, so an audit's
/// clause verdicts include the process clauses: a rule fails when some case
/// violates it; gives no verdict (数据不完整) when the log read too incompletely or
/// lacks a column it reads; passes when it was activated (or, for a rule that
/// forbids a pattern, when cases were checked) with no violation; and is 未评价
/// otherwise.
pub fn from_workflow(w: &super::WorkflowResult) -> Vec<CheckResult> {
    w.rules
        .iter()
        .map(|r| {
            let outcome = if w.data.no_data {
                Outcome::NoData
            } else if r.violated > 0 {
                Outcome::Fail
            } else if w.data.too_many_skipped || !r.missing.is_empty() {
                Outcome::Incomplete
            } else if r.activated > 0 || (r.template.is_negative() && r.cases_checked > 0) {
                Outcome::Pass
            } else {
                Outcome::NoData
            };
            CheckResult {
                id: r.id.clone(),
                kind: "workflow",
                title: r.title.clone(),
                clauses: r.clauses.clone(),
                entity: None,
                severity: r.severity,
                checked: r.cases_checked as usize,
                failed: r.violated as usize,
                samples: r
                    .violating_cases
                    .iter()
                    .take(SAMPLES)
                    .map(|v| Sample {
                        id: v.case.clone(),
                        name: String::new(),
                        fields: v
                            .event
                            .iter()
                            .map(|e| {
                                (
                                    "event".to_string(),
                                    serde_json::to_string(e).unwrap_or_default(),
                                )
                            })
                            .collect(),
                    })
                    .collect(),
                value: None,
                target: None,
                outcome,
            }
        })
        .collect()
}

/// The order log of an export directory, if it has one (`orders.csv`,
/// `orders.jsonl`, `orders.xes`, optionally gzipped).
pub fn order_log(dir: &Path) -> Option<PathBuf> {
    [
        "orders.csv",
        "orders.jsonl",
        "orders.xes",
        "orders.csv.gz",
        "orders.jsonl.gz",
        "orders.xes.gz",
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.exists())
}

/// Checks `log` against the workflow rules under `rules` that are bound to
/// `standards`, for cases that start in `[from, to)`, allowing `max_skipped` of the
/// rows to be unreadable. Returns the rules' results and the log's read report
/// (none when no rule applies).
pub fn run_workflow(
    rules: &Path,
    log: &Path,
    standards: &[String],
    (from, to): (Micros, Micros),
    max_skipped: f64,
) -> Result<(Vec<CheckResult>, Option<super::SourceReport>), String> {
    let mut set = super::rules::RuleSet::load(&[rules.to_path_buf()]).map_err(|d| {
        format!(
            "workflow rules: {}",
            d.first().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    set.rules.retain(|r| {
        r.clauses
            .iter()
            .any(|c| standards.iter().any(|s| c.starts_with(&format!("{s}#"))))
    });
    if set.rules.is_empty() {
        return Ok((Vec::new(), None));
    }
    let opts = super::AuditOptions {
        read: super::log::ReadOptions {
            default_offset: Some(480),
            ..Default::default()
        },
        from: Some(from),
        to: Some(to),
        display_offset: 480,
        max_skipped,
    };
    let w = super::check_log(log, set, &opts, None).map_err(|e| e.to_string())?;
    let report = super::SourceReport::of(&w);
    Ok((from_workflow(&w), Some(report)))
}
