//! The audit report's data: everything a report shows, gathered once from the
//! database, the standards and the check definitions, then handed unchanged to every
//! renderer (typst PDF, XLSX, CSV, OSCAL). Renderers format nothing that changes
//! the meaning: rates, labels and dates are computed here, so the PDF and the
//! spreadsheet can never disagree.
//!
//! Conformance rate (符合率) = (符合 + 观察项) ÷ (符合 + 观察项 + 不符合) over the
//! clauses with a verdict; 不适用 and 未评价 clauses are left out of both and
//! reported separately (the 未评价 ones are the audit's coverage gap).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::audit::checks::{CheckSet, ManualItem, MetricCheck, RecordCheck};
use crate::audit::evidence::EvidenceStore;
use crate::audit::rules::Rule;
use crate::db::Db;
use crate::db::audits::{
    Audit, AuditError, CheckResultRow, ClauseVerdict, Evidence, Finding, ItemResult, Verdict,
};
use crate::standard::{Collection, ProvisionType, slug_of_id};

use super::source::SourceView;

/// Where a report's facts come from.
pub struct Sources<'a> {
    pub db: &'a Db,
    pub coll: &'a Collection,
    pub checks: &'a CheckSet,
    pub workflow: &'a [Rule],
    /// Photos attached to findings are embedded from here.
    pub evidence: Option<&'a EvidenceStore>,
    /// Outlet id → name, for the scope.
    pub outlets: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// `BZSH-2026-0007` (`-R2` for a revision).
    pub report_no: String,
    pub audit: AuditMeta,
    /// The report's date: when the audit was closed, else when it was generated.
    pub date: String,
    pub generated_at: String,
    pub auditors: Vec<Person>,
    pub summary: Summary,
    pub method: Method,
    pub clauses: Vec<ClauseLine>,
    pub findings: Vec<FindingDetail>,
    pub gaps: Vec<Gap>,
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditMeta {
    pub id: i64,
    pub name: String,
    pub revision: i64,
    pub revises: Option<i64>,
    pub revision_reason: String,
    /// 进行中 / 已关闭
    pub state: String,
    pub closed: bool,
    pub period_from: String,
    pub period_to: String,
    pub standards: Vec<StandardRef>,
    /// `O01 锦城街道服务站`; empty: every outlet.
    pub outlets: Vec<String>,
    pub snapshot: String,
    pub ran_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StandardRef {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub name: String,
    pub username: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Conformance rate in % (see the module doc), `None` when nothing was assessed.
    pub rate: Option<f64>,
    pub rate_text: String,
    /// `good` (≥ 90%), `fair` (≥ 70%) or `poor`: the colour of the rate.
    pub rate_level: String,
    /// The audit's overall conclusion, one sentence (see [`conclusion`]).
    pub conclusion: String,
    /// When a data source read incompletely: which, and why its verdicts are
    /// withheld (empty otherwise).
    pub data_warning: String,
    /// Clauses with a verdict other than 不适用 / 未评价.
    pub assessed: usize,
    pub total: usize,
    /// Per verdict: (label, count), in [`Verdict::EVERY`] order (数据不完整 only
    /// when some clause has it).
    pub counts: Vec<Count>,
    /// Nonconforming clauses by severity.
    pub major: usize,
    pub minor: usize,
    pub observations: usize,
    /// Findings in the report (recorded and derived from failed checks).
    pub findings: usize,
    /// Corrective actions not yet verified.
    pub open_actions: usize,
    pub per_standard: Vec<StandardRate>,
    /// Earlier audits of the same standards, oldest first, ending with this one.
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub label: String,
    pub code: String,
    pub n: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StandardRate {
    pub code: String,
    pub rate: Option<f64>,
    pub rate_text: String,
    pub conform: usize,
    pub nonconform: usize,
    pub observation: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
    pub incomplete: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub audit_id: i64,
    pub label: String,
    /// The audited period (`2023年度`).
    pub date: String,
    pub rate: f64,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub workflow_rules: usize,
    pub record_checks: usize,
    pub metric_checks: usize,
    pub manual_items: usize,
    pub sources: Vec<DataSource>,
    /// What was read from each data source (the order log's read report).
    pub reads: Vec<SourceView>,
    pub sampling: String,
    /// Every automated check's outcome: (id, title, clauses, outcome, detail).
    pub checks: Vec<CheckLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSource {
    pub label: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub clauses: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseLine {
    /// `T/ZTAC 002—2023#5.1`
    pub id: String,
    /// `t-ztac-002-2023_5.1`: the id in OSCAL and file names.
    pub slug: String,
    pub standard: String,
    pub number: String,
    /// The clause's title or its first provision, shortened.
    pub text: String,
    pub verdict: String,
    pub verdict_code: String,
    /// 严重 / 一般 for a nonconformity.
    pub severity: String,
    /// 自动 / 审核员
    pub source: String,
    pub evidence: String,
    pub justification: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingDetail {
    /// `NC-01` (nonconformity) or `OB-01` (observation).
    pub no: String,
    /// The recorded finding's id; `None` for one derived from failed checks.
    pub id: Option<i64>,
    pub clause: String,
    pub clause_slug: String,
    pub clause_text: String,
    /// 严重 / 一般 / 观察项
    pub severity: String,
    pub severity_code: String,
    pub title: String,
    pub observed: String,
    pub target: String,
    /// Failing records behind it: `W00017 张三：health_until=2024-01-01`.
    pub samples: Vec<String>,
    pub photos: Vec<Photo>,
    /// Evidence files that are not pictures (name and hash).
    pub attachments: Vec<String>,
    pub owner: String,
    pub due: String,
    /// 待整改 / 已整改 / 已验证 / 待指定
    pub status: String,
    pub status_code: String,
    pub derived: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Photo {
    /// Path inside the report's virtual file system (`/evidence/<sha>.jpg`).
    pub path: String,
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub standard: String,
    pub requirement_clauses: usize,
    pub automated: usize,
    pub manual: usize,
    pub percent: String,
    pub clauses: Vec<String>,
    /// Clauses in scope without a verdict in this audit (未评价).
    pub not_assessed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleDef {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub clauses: String,
    pub definition: String,
    pub severity: String,
}

/// A gathered report plus the files it embeds (path → bytes).
pub struct Gathered {
    pub report: AuditReport,
    pub files: Vec<(String, Vec<u8>)>,
}

/// `CODE#9.1/p2` → a key that ignores dashes and the provision suffix.
pub fn clause_key(c: &str) -> String {
    let base = match c.split_once('#') {
        Some((code, n)) => format!("{code}#{}", n.split('/').next().unwrap_or(n)),
        None => c.to_string(),
    };
    slug_of_id(&base)
}

fn rate(conform: usize, observation: usize, nonconform: usize) -> Option<f64> {
    let n = conform + observation + nonconform;
    (n > 0).then(|| (conform + observation) as f64 * 100.0 / n as f64)
}

fn rate_text(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into())
}

fn severity_label(s: &str) -> &'static str {
    match s {
        "major" => "严重",
        "minor" => "一般",
        "observation" => "观察项",
        _ => "",
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "待整改",
        "corrected" => "已整改",
        "verified" => "已验证",
        _ => "待指定",
    }
}

fn date_of(secs: i64) -> String {
    crate::library::format_time(secs, 480)
        .get(..10)
        .unwrap_or("")
        .to_string()
}

fn shorten(s: &str, n: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= n {
        return s;
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}

/// The clause behind an id, if the standard is in the collection.
fn find_clause<'c>(
    coll: &'c Collection,
    id: &str,
) -> Option<(&'c crate::standard::Standard, &'c crate::standard::Clause)> {
    let (code, number) = id.split_once('#')?;
    let number = number.split('/').next().unwrap_or(number);
    let s = coll.find(code)?;
    Some((s, s.clause(number)?))
}

fn clause_summary(coll: &Collection, id: &str) -> (String, String) {
    match find_clause(coll, id) {
        Some((_, c)) => {
            let first = c
                .provisions
                .iter()
                .find(|p| p.kind == ProvisionType::Requirement)
                .or(c.provisions.first())
                .map(|p| p.text.clone())
                .unwrap_or_default();
            let short = match (&c.title, first.is_empty()) {
                (Some(t), true) => t.clone(),
                (Some(t), false) => format!("{t}：{first}"),
                (None, _) => first,
            };
            let mut full = c.own_text();
            if let Some(t) = &c.title {
                full = format!("{t}\n{full}");
            }
            (shorten(&short, 48), full.trim().to_string())
        }
        None => (String::new(), String::new()),
    }
}

/// The Chinese name of a record field a check read (the platform's export
/// columns and the order log's), for evidence samples.
fn field_label(f: &str) -> &str {
    match f {
        "id" => "编号",
        "name" => "名称",
        "town" => "镇街",
        "address" => "地址",
        "functions" => "具备功能",
        "services" => "服务项目",
        "staff" => "人员",
        "opening_hours" => "开放时间",
        "displays" => "公示内容",
        "ledgers" => "台账",
        "services_count" => "服务项目数",
        "agency_id" => "所属机构",
        "registered_at" => "登记日期",
        "health_check_until" => "健康体检有效期至",
        "insurance_until" => "保险有效期至",
        "code_color" => "安心码",
        "birth_year" => "出生年份",
        "trainings_passed" => "培训合格次数",
        "training_hours" => "培训学时",
        "id_number_valid" => "身份证号校验",
        "credit_code" => "统一社会信用代码",
        "grade" => "等级",
        "complaint_phone" => "投诉电话",
        "workers" => "家政员人数",
        "credit_code_valid" => "信用代码校验",
        "order_id" => "订单",
        "worker_id" => "家政员",
        "outlet_id" => "网点",
        "category" => "类别",
        "received_at" => "受理时间",
        "first_response_at" => "首次响应时间",
        "resolved_at" => "办结时间",
        "title" => "名称",
        "date" => "日期",
        "hours" => "学时",
        "passed" => "是否合格",
        "activity" => "环节",
        "time" => "时间",
        "timestamp" => "时间",
        other => other,
    }
}

/// A field value as a reader wants it: `2023-10-12T23:59:59.999999+08:00` (the end
/// of a date-only validity) → `2023-10-12`, other instants to the minute, empty →
/// （空）, booleans → 是/否, colours → 绿码/黄码/红码.
fn field_value(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' {
        let (date, time) = (&v[..10], &v[11..16]);
        return if v[11..].starts_with("23:59:59.999") || v[11..].starts_with("00:00:00") {
            date.to_string()
        } else {
            format!("{date} {time}")
        };
    }
    match v {
        "" => "（空）".into(),
        "true" => "是".into(),
        "false" => "否".into(),
        "green" => "绿码".into(),
        "yellow" => "黄码".into(),
        "red" => "红码".into(),
        _ => v.replace('|', "、"),
    }
}

/// One evidence sample of a stored check result: `W00017 张三：健康体检有效期至 2023-10-12`.
pub fn sample_text(s: &serde_json::Value) -> String {
    let fields: Vec<String> = s["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|kv| {
                    format!(
                        "{} {}",
                        field_label(kv[0].as_str().unwrap_or("")),
                        field_value(kv[1].as_str().unwrap_or(""))
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let id = s["id"].as_str().unwrap_or("");
    let name = s["name"].as_str().unwrap_or("");
    let head = if name.is_empty() {
        id.to_string()
    } else {
        format!("{id} {name}")
    };
    if fields.is_empty() {
        head
    } else {
        format!("{head}：{}", fields.join("，"))
    }
}

/// A stored check result's figures: `实测 96.4%，目标 >= 95%` or `检查 3500 条，不符合 12 条`.
pub fn result_detail(v: &serde_json::Value) -> String {
    match v["value"].as_str() {
        Some(val) => format!("实测 {val}，目标 {}", v["target"].as_str().unwrap_or("")),
        None => format!(
            "检查 {} 条，不符合 {} 条",
            v["checked"].as_u64().unwrap_or(0),
            v["failed"].as_u64().unwrap_or(0)
        ),
    }
}

/// A stored check result's clauses by number: `4.2、4.3`.
pub fn clause_numbers(v: &serde_json::Value) -> String {
    v["clauses"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|x| x.as_str())
                .map(|x| x.split_once('#').map(|p| p.1).unwrap_or(x).to_string())
                .collect::<Vec<_>>()
                .join("、")
        })
        .unwrap_or_default()
}

fn outcome_label(o: &str) -> &'static str {
    crate::audit::checks::Outcome::from_key(o).label()
}

fn image_ext(mime: &str) -> Option<&'static str> {
    match mime {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// `2023-01-01 至 2023-12-31`, or the year when the period is one calendar year.
fn period_label(a: &Audit) -> String {
    let (f, t) = (&a.period_from, &a.period_to);
    if f.len() == 10
        && t.len() == 10
        && f[..4] == t[..4]
        && &f[4..] == "-01-01"
        && &t[4..] == "-12-31"
    {
        format!("{}年度", &f[..4])
    } else {
        format!("{f} 至 {t}")
    }
}

/// The report number: stable per audit and revision.
pub fn report_no(a: &Audit) -> String {
    let year = date_of(a.created_at).get(..4).unwrap_or("0000").to_string();
    let mut no = format!("BZSH-{year}-{:04}", a.id);
    if a.revision > 1 {
        no.push_str(&format!("-R{}", a.revision));
    }
    no
}

/// The overall conclusion: 符合 needs no nonconformity; any 严重 one makes it
/// 不符合 until corrected and verified; 一般 ones make it 基本符合. Clauses left
/// 未评价, or without a verdict for incomplete data, are named, since the conclusion
/// does not cover them.
pub fn conclusion(
    rate: Option<f64>,
    major: usize,
    minor: usize,
    not_assessed: usize,
    incomplete: usize,
) -> String {
    let mut s = match (rate, major, minor) {
        (None, _, _) => "尚无已评价的条款，不能得出审核结论".to_string(),
        (Some(_), 0, 0) => "符合：已评价条款均符合要求".to_string(),
        (Some(_), 0, n) => format!("基本符合：存在 {n} 项一般不符合，应在期限内完成纠正措施"),
        (Some(_), m, _) => {
            format!("不符合：存在 {m} 项严重不符合，应完成纠正措施并经验证后复核")
        }
    };
    if incomplete > 0 {
        s.push_str(&format!(
            "；另有 {incomplete} 个条款因数据不完整不予结论，不在本结论范围内"
        ));
    }
    if not_assessed > 0 && rate.is_some() {
        s.push_str(&format!(
            "；另有 {not_assessed} 个条款未评价，不在本结论范围内"
        ));
    }
    s.push('。');
    s
}

/// Clauses per verdict.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    conform: usize,
    nonconform: usize,
    observation: usize,
    not_applicable: usize,
    not_assessed: usize,
    incomplete: usize,
}

impl Counts {
    /// In [`Verdict::EVERY`] order.
    fn as_array(self) -> [usize; 6] {
        [
            self.conform,
            self.nonconform,
            self.observation,
            self.not_applicable,
            self.not_assessed,
            self.incomplete,
        ]
    }
}

fn counts_of(v: &[&ClauseVerdict]) -> Counts {
    let mut n = Counts::default();
    for c in v {
        *match c.verdict {
            Verdict::Conform => &mut n.conform,
            Verdict::Nonconform => &mut n.nonconform,
            Verdict::Observation => &mut n.observation,
            Verdict::NotApplicable => &mut n.not_applicable,
            Verdict::NotAssessed => &mut n.not_assessed,
            Verdict::Incomplete => &mut n.incomplete,
        } += 1;
    }
    n
}

/// Gathers audit `id`'s report; `now` (epoch seconds) dates a report of an open audit.
pub async fn gather(src: &Sources<'_>, id: i64, now: i64) -> Result<Gathered, AuditError> {
    let db = src.db;
    let a = db.audit(id).await?.ok_or(AuditError::Missing)?;
    let verdicts = db.clause_verdicts(id).await?;
    let results = db.audit_results(id).await?;
    let items = db.items(id).await?;
    let recorded = db.findings(id).await?;
    let evidence = db.evidence(id).await?;
    let people = db.audit_people(id).await?;
    let visits = return_visits(db, id).await?;

    let by_clause = checks_by_clause(&results);
    let clauses = clause_table(src, &verdicts, &by_clause, &items, &visits);
    let (findings, files) = findings_of(src, &verdicts, &recorded, &evidence, &by_clause);
    let reads: Vec<SourceView> = a.sources.iter().map(super::source::view).collect();
    let mut summary = summarize(&verdicts, &findings, &reads);
    summary.trend = trend(db, &a, summary.rate).await?;
    let (method, rules) = method_of(src, &a, &results, reads);
    let report = AuditReport {
        report_no: report_no(&a),
        date: date_of(a.closed_at.unwrap_or(now)),
        generated_at: crate::library::format_time(now, 480),
        auditors: people
            .into_iter()
            .map(|(name, username, role)| Person {
                name,
                username,
                role: crate::db::accounts::Role::parse(&role)
                    .map(|r| r.label().to_string())
                    .unwrap_or(role),
            })
            .collect(),
        audit: audit_meta(src, &a),
        summary,
        method,
        clauses,
        findings,
        gaps: gaps_of(src, &a, &verdicts),
        rules,
    };
    Ok(Gathered { report, files })
}

/// The stored check results by clause key.
fn checks_by_clause(results: &[CheckResultRow]) -> HashMap<String, Vec<&serde_json::Value>> {
    let mut by_clause: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for r in results {
        if let Some(cs) = r.result["clauses"].as_array() {
            for c in cs.iter().filter_map(|c| c.as_str()) {
                by_clause.entry(clause_key(c)).or_default().push(&r.result);
            }
        }
    }
    by_clause
}

/// What the audit's return visit said about each clause its questions link to.
async fn return_visits(db: &Db, id: i64) -> Result<HashMap<String, Vec<String>>, AuditError> {
    let mut visits: HashMap<String, Vec<String>> = HashMap::new();
    for e in crate::survey::stored::audit_evidence(db, id)
        .await
        .map_err(|e| match e {
            crate::db::surveys::SurveyError::Db(d) => AuditError::from(d),
            other => AuditError::Invalid(other.to_string()),
        })?
    {
        visits
            .entry(clause_key(&e.clause))
            .or_default()
            .push(e.summary);
    }
    Ok(visits)
}

/// One line per clause with its verdict and the evidence behind it.
fn clause_table(
    src: &Sources<'_>,
    verdicts: &[ClauseVerdict],
    by_clause: &HashMap<String, Vec<&serde_json::Value>>,
    items: &[ItemResult],
    visits: &HashMap<String, Vec<String>>,
) -> Vec<ClauseLine> {
    let mut manual_by_clause: HashMap<String, Vec<&str>> = HashMap::new();
    for item in &src.checks.manual {
        for c in &item.clauses {
            manual_by_clause
                .entry(clause_key(c))
                .or_default()
                .push(&item.id);
        }
    }
    verdicts
        .iter()
        .map(|v| {
            let key = clause_key(&v.clause);
            let (text, _) = clause_summary(src.coll, &v.clause);
            let mut ev: Vec<String> = by_clause
                .get(&key)
                .map(|rs| {
                    rs.iter()
                        .filter(|r| r["kind"].as_str() != Some("manual"))
                        .map(|r| {
                            format!("{}：{}", r["id"].as_str().unwrap_or(""), result_detail(r))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(ids) = manual_by_clause.get(&key) {
                let done: Vec<_> = items
                    .iter()
                    .filter(|i| ids.contains(&i.item_id.as_str()))
                    .collect();
                if !done.is_empty() {
                    let bad = done
                        .iter()
                        .filter(|i| i.verdict == Verdict::Nonconform)
                        .count();
                    ev.push(format!("现场检查 {} 处，不符合 {bad} 处", done.len()));
                }
            }
            ev.extend(visits.get(&key).into_iter().flatten().cloned());
            let (standard, number) = v.clause.split_once('#').unwrap_or((&v.clause, ""));
            ClauseLine {
                id: v.clause.clone(),
                slug: key,
                standard: standard.to_string(),
                number: number.to_string(),
                text,
                verdict: v.verdict.label().to_string(),
                verdict_code: v.verdict.as_str().to_string(),
                severity: severity_label(&v.severity).to_string(),
                source: if v.source == "auditor" {
                    "审核员"
                } else {
                    "自动"
                }
                .to_string(),
                evidence: ev.join("；"),
                justification: v.justification.clone(),
            }
        })
        .collect()
}

/// Verdict counts by standard.
fn standard_rates(verdicts: &[ClauseVerdict]) -> Vec<StandardRate> {
    let mut per_std: BTreeMap<String, Vec<&ClauseVerdict>> = BTreeMap::new();
    for v in verdicts {
        let code = v.clause.split_once('#').map(|x| x.0).unwrap_or(&v.clause);
        per_std.entry(code.to_string()).or_default().push(v);
    }
    per_std
        .iter()
        .map(|(code, vs)| {
            let n = counts_of(vs);
            let r = rate(n.conform, n.observation, n.nonconform);
            StandardRate {
                code: code.clone(),
                rate: r,
                rate_text: rate_text(r),
                conform: n.conform,
                nonconform: n.nonconform,
                observation: n.observation,
                not_applicable: n.not_applicable,
                not_assessed: n.not_assessed,
                incomplete: n.incomplete,
            }
        })
        .collect()
}

/// The summary's figures (the trend is added by [`trend`]).
fn summarize(
    verdicts: &[ClauseVerdict],
    findings: &[FindingDetail],
    reads: &[SourceView],
) -> Summary {
    let all: Vec<&ClauseVerdict> = verdicts.iter().collect();
    let n = counts_of(&all);
    let summary_rate = rate(n.conform, n.observation, n.nonconform);
    let major = verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Nonconform && v.severity == "major")
        .count();
    let data_warning = reads
        .iter()
        .filter(|r| !r.complete)
        .map(|r| format!("{}：{}（{}）", r.file, r.status, r.reasons.join("；")))
        .collect::<Vec<_>>()
        .join("。");
    Summary {
        rate: summary_rate,
        rate_text: rate_text(summary_rate),
        rate_level: match summary_rate {
            Some(r) if r >= 90.0 => "good",
            Some(r) if r >= 70.0 => "fair",
            _ => "poor",
        }
        .into(),
        conclusion: conclusion(
            summary_rate,
            major,
            n.nonconform - major,
            n.not_assessed,
            n.incomplete,
        ),
        data_warning,
        assessed: n.conform + n.nonconform + n.observation,
        total: verdicts.len(),
        counts: Verdict::EVERY
            .iter()
            .zip(n.as_array())
            .filter(|(v, n)| **v != Verdict::Incomplete || *n > 0)
            .map(|(v, n)| Count {
                label: v.short_label().to_string(),
                code: v.as_str().to_string(),
                n,
            })
            .collect(),
        major,
        minor: n.nonconform - major,
        observations: n.observation,
        findings: findings.len(),
        open_actions: findings
            .iter()
            .filter(|f| f.status_code != "verified")
            .count(),
        per_standard: standard_rates(verdicts),
        trend: Vec::new(),
    }
}

/// Earlier audits sharing a standard, by when they ran, then this one.
async fn trend(
    db: &Db,
    a: &Audit,
    summary_rate: Option<f64>,
) -> Result<Vec<TrendPoint>, AuditError> {
    let mut trend = Vec::new();
    let this_at = a.ran_at.unwrap_or(a.created_at);
    for o in db.audits().await? {
        if o.id == a.id || !o.standards.iter().any(|s| a.standards.contains(s)) {
            continue;
        }
        let Some(at) = o.ran_at else { continue };
        if at > this_at {
            continue;
        }
        let vs = db.clause_verdicts(o.id).await?;
        let refs: Vec<&ClauseVerdict> = vs.iter().collect();
        let n = counts_of(&refs);
        if let Some(r) = rate(n.conform, n.observation, n.nonconform) {
            trend.push((at, o.id, o.name.clone(), r, period_label(&o)));
        }
    }
    trend.sort_by_key(|t| (t.0, t.1));
    let skip = trend.len().saturating_sub(7);
    let mut trend: Vec<TrendPoint> = trend
        .into_iter()
        .skip(skip)
        .map(|(_, id, name, r, period)| TrendPoint {
            audit_id: id,
            label: format!("#{id} {}", shorten(&name, 10)),
            date: period,
            rate: r,
            current: false,
        })
        .collect();
    if let Some(r) = summary_rate {
        trend.push(TrendPoint {
            audit_id: a.id,
            label: format!("#{} 本次", a.id),
            date: period_label(a),
            rate: r,
            current: true,
        });
    }
    Ok(trend)
}

/// Findings: each recorded one, then each nonconforming clause nobody recorded a
/// finding for, derived from its failed checks. Also the photos to embed.
fn findings_of(
    src: &Sources<'_>,
    verdicts: &[ClauseVerdict],
    recorded: &[Finding],
    evidence: &[Evidence],
    by_clause: &HashMap<String, Vec<&serde_json::Value>>,
) -> (Vec<FindingDetail>, Vec<(String, Vec<u8>)>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let failing_samples = |key: &str| -> Vec<String> {
        by_clause
            .get(key)
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["outcome"].as_str() == Some("fail"))
                    .flat_map(|r| {
                        r["samples"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .take(5)
                            .map(sample_text)
                    })
                    .fold(Vec::new(), |mut acc: Vec<String>, x| {
                        if acc.len() < 10 && !acc.contains(&x) {
                            acc.push(x);
                        }
                        acc
                    })
            })
            .unwrap_or_default()
    };
    let (mut nc, mut ob) = (0, 0);
    let mut number = |sev: &str| {
        if sev == "observation" {
            ob += 1;
            format!("OB-{ob:02}")
        } else {
            nc += 1;
            format!("NC-{nc:02}")
        }
    };
    for f in recorded {
        let key = clause_key(&f.clause);
        let (_, full) = clause_summary(src.coll, &f.clause);
        let (photos, attachments) = finding_files(src, evidence, f.id, &mut files);
        findings.push(FindingDetail {
            no: number(&f.severity),
            id: Some(f.id),
            clause: f.clause.clone(),
            clause_slug: key.clone(),
            clause_text: full,
            severity: severity_label(&f.severity).to_string(),
            severity_code: f.severity.clone(),
            title: f.title.clone(),
            observed: f.observed.clone(),
            target: f.target.clone(),
            samples: failing_samples(&key),
            photos,
            attachments,
            owner: f.owner.clone(),
            due: f.due.clone(),
            status: status_label(&f.status).to_string(),
            status_code: f.status.clone(),
            derived: false,
        });
    }
    for v in verdicts
        .iter()
        .filter(|v| matches!(v.verdict, Verdict::Nonconform | Verdict::Observation))
    {
        let key = clause_key(&v.clause);
        if recorded.iter().any(|f| clause_key(&f.clause) == key) {
            continue;
        }
        let failed: Vec<&&serde_json::Value> = by_clause
            .get(&key)
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["outcome"].as_str() == Some("fail"))
                    .collect()
            })
            .unwrap_or_default();
        let title = failed
            .iter()
            .map(|r| r["title"].as_str().unwrap_or("").to_string())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("；");
        let observed = failed
            .iter()
            .map(|r| format!("{}：{}", r["id"].as_str().unwrap_or(""), result_detail(r)))
            .collect::<Vec<_>>()
            .join("；");
        let (_, full) = clause_summary(src.coll, &v.clause);
        let sev = match (v.verdict, v.severity.as_str()) {
            (Verdict::Observation, _) => "observation",
            (_, "") => "minor",
            (_, s) => s,
        };
        findings.push(FindingDetail {
            no: number(sev),
            id: None,
            clause: v.clause.clone(),
            clause_slug: key.clone(),
            clause_text: full,
            severity: severity_label(sev).to_string(),
            severity_code: sev.to_string(),
            title: match (title.is_empty(), v.verdict) {
                (false, _) => title,
                (true, Verdict::Observation) => "审核员记录的观察项".into(),
                (true, _) => "审核员判定不符合".into(),
            },
            observed: if observed.is_empty() {
                v.justification.clone()
            } else {
                observed
            },
            target: String::new(),
            samples: failing_samples(&key),
            photos: Vec::new(),
            attachments: Vec::new(),
            owner: String::new(),
            due: String::new(),
            status: status_label("").to_string(),
            status_code: String::new(),
            derived: true,
        });
    }

    (findings, files)
}

/// The evidence of one finding: photos to embed (added to `files`) and the other
/// files, named with their hash.
fn finding_files(
    src: &Sources<'_>,
    evidence: &[Evidence],
    finding: i64,
    files: &mut Vec<(String, Vec<u8>)>,
) -> (Vec<Photo>, Vec<String>) {
    let mut photos = Vec::new();
    let mut attachments = Vec::new();
    for e in evidence.iter().filter(|e| e.finding_id == Some(finding)) {
        let embedded = match (image_ext(&e.mime), src.evidence) {
            (Some(ext), Some(store)) => match store.get(&e.sha256) {
                Ok(bytes) if super::pdf::decodable_image(&bytes) => {
                    let path = format!("/evidence/{}.{ext}", e.sha256);
                    files.push((path.clone(), bytes));
                    photos.push(Photo {
                        path,
                        name: e.name.clone(),
                        sha256: e.sha256.clone(),
                    });
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !embedded {
            attachments.push(format!(
                "{}（SHA-256 {}）",
                e.name,
                e.sha256.get(..16).unwrap_or("")
            ));
        }
    }
    (photos, attachments)
}

/// How the audit was done (rules, data sources and what was read from them, every
/// check's outcome) and the rule definitions of the appendix.
fn method_of(
    src: &Sources<'_>,
    a: &Audit,
    results: &[CheckResultRow],
    reads: Vec<SourceView>,
) -> (Method, Vec<RuleDef>) {
    let in_scope = |cs: &[String]| {
        cs.iter().any(|c| {
            let code = c.split_once('#').map(|x| x.0).unwrap_or(c);
            a.standards
                .iter()
                .any(|s| slug_of_id(s) == slug_of_id(code))
        })
    };
    let workflow: Vec<&Rule> = src
        .workflow
        .iter()
        .filter(|r| in_scope(&r.clauses))
        .collect();
    let records: Vec<&RecordCheck> = src
        .checks
        .records
        .iter()
        .filter(|r| in_scope(&r.clauses))
        .collect();
    let metrics: Vec<&MetricCheck> = src
        .checks
        .metrics
        .iter()
        .filter(|r| in_scope(&r.clauses))
        .collect();
    let manual: Vec<&ManualItem> = src
        .checks
        .manual
        .iter()
        .filter(|r| in_scope(&r.clauses))
        .collect();
    let rules = rule_defs(&workflow, &records, &metrics, &manual);
    let checks = results
        .iter()
        .filter(|r| r.kind != "manual")
        .map(|r| {
            let v = &r.result;
            CheckLine {
                id: r.check_id.clone(),
                kind: r.kind.clone(),
                title: v["title"].as_str().unwrap_or("").to_string(),
                clauses: clause_numbers(v),
                outcome: outcome_label(v["outcome"].as_str().unwrap_or("")).to_string(),
                detail: result_detail(v),
            }
        })
        .collect();
    let mut sources = vec![DataSource {
        label: "平台数据快照（机构、家政员、服务网点、投诉、培训、订单日志）".into(),
        hash: if a.snapshot.is_empty() {
            "（尚未运行）".into()
        } else {
            a.snapshot.clone()
        },
    }];
    for s in &a.standards {
        if let Some(st) = src.coll.find(s) {
            sources.push(DataSource {
                label: format!("标准文本 {}", st.code),
                hash: format!("{:016x}", st.source_hash),
            });
        }
    }
    let method = Method {
        workflow_rules: workflow.len(),
        record_checks: records.len(),
        metric_checks: metrics.len(),
        manual_items: manual.len(),
        sources,
        reads,
        sampling: format!(
            "自动检查覆盖审核期内的全部记录（全量检查，不抽样）；每项检查保留最多 {} 条不符合记录作为证据样本。现场检查按检查清单逐个服务网点进行，照片和文件按内容哈希存证。",
            crate::audit::checks::SAMPLES
        ),
        checks,
    };
    (method, rules)
}

/// The appendix's rule definitions, in words.
fn rule_defs(
    workflow: &[&Rule],
    records: &[&RecordCheck],
    metrics: &[&MetricCheck],
    manual: &[&ManualItem],
) -> Vec<RuleDef> {
    let numbers = |cs: &[String]| {
        cs.iter()
            .map(|c| c.split_once('#').map(|x| x.1).unwrap_or(c).to_string())
            .collect::<Vec<_>>()
            .join("、")
    };
    let name_of = |v: serde_json::Value| v.as_str().unwrap_or("").to_string();
    let mut rules = Vec::new();
    for r in workflow {
        let mut def = format!("{}（{}", r.template.name(), r.activation.text);
        if let Some(t) = &r.target {
            def.push_str(&format!("，{}", t.text));
        }
        def.push('）');
        if let Some(w) = r.window {
            def.push_str(&format!(
                "，时限 {}",
                crate::audit::time::format_duration(w.max)
            ));
        }
        if let Some(c) = &r.correlation_text {
            def.push_str(&format!("，关联 {c}"));
        }
        rules.push(RuleDef {
            id: r.id.clone(),
            kind: "流程规则".into(),
            title: r.title.clone(),
            clauses: numbers(&r.clauses),
            definition: def,
            severity: r.severity.label().into(),
        });
    }
    for r in records {
        let mut def = format!("对象 {}", name_of(serde_json::json!(r.entity)));
        if let Some(w) = &r.when {
            def.push_str(&format!("，当 {w}"));
        }
        def.push_str(&format!("，要求 {}", r.require));
        rules.push(RuleDef {
            id: r.id.clone(),
            kind: "记录检查".into(),
            title: r.title.clone(),
            clauses: numbers(&r.clauses),
            definition: def,
            severity: r.severity.label().into(),
        });
    }
    for m in metrics {
        let mut def = format!(
            "{} of {}",
            name_of(serde_json::json!(m.measure)),
            name_of(serde_json::json!(m.entity))
        );
        if let Some(o) = &m.of {
            def.push_str(&format!("（{o}）"));
        }
        if let Some(w) = &m.when {
            def.push_str(&format!("，当 {w}"));
        }
        def.push_str(&format!("，目标 {}，最少 {} 条", m.target, m.min_n));
        rules.push(RuleDef {
            id: m.id.clone(),
            kind: "指标检查".into(),
            title: m.title.clone(),
            clauses: numbers(&m.clauses),
            definition: def,
            severity: m.severity.label().into(),
        });
    }
    for m in manual {
        rules.push(RuleDef {
            id: m.id.clone(),
            kind: "现场检查".into(),
            title: m.title.clone(),
            clauses: numbers(&m.clauses),
            definition: m.guidance.clone(),
            severity: m.severity.label().into(),
        });
    }
    rules
}

/// Requirement clauses no check covers, and clauses left 未评价.
fn gaps_of(src: &Sources<'_>, a: &Audit, verdicts: &[ClauseVerdict]) -> Vec<Gap> {
    crate::audit::checks::coverage(src.coll, src.workflow, src.checks, &a.standards)
        .into_iter()
        .map(|c| {
            let code_slug = slug_of_id(&c.standard);
            Gap {
                percent: format!("{:.1}%", c.percent()),
                not_assessed: verdicts
                    .iter()
                    .filter(|v| v.verdict == Verdict::NotAssessed)
                    .filter(|v| {
                        slug_of_id(v.clause.split_once('#').map(|x| x.0).unwrap_or("")) == code_slug
                    })
                    .map(|v| {
                        v.clause
                            .split_once('#')
                            .map(|x| x.1)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect(),
                standard: c.standard,
                requirement_clauses: c.requirement_clauses,
                automated: c.automated,
                manual: c.manual,
                clauses: c.gaps.iter().map(|(n, t)| format!("{n} {t}")).collect(),
            }
        })
        .collect()
}

fn audit_meta(src: &Sources<'_>, a: &Audit) -> AuditMeta {
    let outlet_names: HashMap<&str, &str> = src
        .outlets
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    AuditMeta {
        id: a.id,
        name: a.name.clone(),
        revision: a.revision,
        revises: a.revises,
        revision_reason: a.revision_reason.clone(),
        state: if a.state == "open" {
            "进行中"
        } else {
            "已关闭"
        }
        .into(),
        closed: a.state != "open",
        period_from: a.period_from.clone(),
        period_to: a.period_to.clone(),
        standards: a
            .standards
            .iter()
            .map(|s| StandardRef {
                code: s.clone(),
                title: src
                    .coll
                    .find(s)
                    .map(|st| st.meta.title.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        outlets: a
            .outlets
            .iter()
            .map(|o| match outlet_names.get(o.as_str()) {
                Some(n) => format!("{o} {n}"),
                None => o.clone(),
            })
            .collect(),
        snapshot: a.snapshot.clone(),
        ran_at: a
            .ran_at
            .map(|t| crate::library::format_time(t, 480))
            .unwrap_or_default(),
    }
}
