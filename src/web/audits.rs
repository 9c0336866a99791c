//! Audit pages: create an audit, run its automated checks against the platform
//! data, work through the manual checklist outlet by outlet (on a phone, on site),
//! record findings with photos, set clause verdicts, close (locks it) and revise.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::audit::checks::{CheckSet, Outcome, Per, clause_outcomes, evaluate};
use crate::db::audits::{Audit, AuditError, ClauseEdit, ItemEdit, NewAudit, NewEvidence, Verdict};

use super::pages::Nav;
use super::{AppError, AppState, Viewer};

impl From<AuditError> for AppError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Missing => AppError::NotFound,
            AuditError::Db(d) => d.into(),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

fn checks(state: &AppState) -> Result<CheckSet, AppError> {
    CheckSet::load(std::slice::from_ref(&state.audits_dir)).map_err(|d| {
        AppError::Internal(format!(
            "the checks in {} have errors: {}",
            state.audits_dir.display(),
            d.first().map(|d| d.to_string()).unwrap_or_default()
        ))
    })
}

pub struct AuditRow {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub period: String,
    pub state: &'static str,
    pub revision: i64,
}

fn audit_row(a: &Audit) -> AuditRow {
    AuditRow {
        id: a.id,
        name: a.name.clone(),
        scope: a.standards.join("、"),
        period: format!("{} 至 {}", a.period_from, a.period_to),
        state: if a.state == "open" {
            "进行中"
        } else {
            "已关闭"
        },
        revision: a.revision,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "audits.html")]
pub struct ListPage {
    nav: Nav,
    audits: Vec<AuditRow>,
    standards: Vec<(String, String)>,
    platform_ready: bool,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<ListPage, AppError> {
    viewer.signed()?;
    let content = state.content();
    let standards = content
        .coll
        .standards
        .iter()
        .filter(|s| s.meta.status == crate::standard::Status::Current && !s.meta.reference_only)
        .map(|s| (s.code.to_string(), s.meta.title.clone()))
        .collect();
    Ok(ListPage {
        nav: Nav::of(&viewer),
        audits: state.db.audits().await?.iter().map(audit_row).collect(),
        standards,
        platform_ready: state.platform_dir.exists(),
    })
}

pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    // Pairs, not a struct: the form sends `standards` once per ticked box.
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let standards: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "standards")
        .map(|(_, v)| v.clone())
        .collect();
    let typed = field("max_skipped");
    let max_skipped = if typed.trim().is_empty() {
        crate::audit::DEFAULT_MAX_SKIPPED
    } else {
        crate::audit::parse_percent(&typed).ok_or_else(|| {
            AppError::BadRequest("允许跳过的数据行比例须是 0 到 100 之间的百分数，例如 0.1".into())
        })?
    };
    let a = state
        .db
        .create_audit(
            &NewAudit {
                name: &field("name"),
                standards: &standards,
                period_from: &field("from"),
                period_to: &field("to"),
                outlets: &[],
                max_skipped,
            },
            &user,
        )
        .await?;
    Ok(Redirect::to(&format!("/audits/{}", a.id)).into_response())
}

pub struct ClauseRow {
    pub clause: String,
    pub number: String,
    pub verdict: &'static str,
    pub class: &'static str,
    pub severity: &'static str,
    pub by_auditor: bool,
    pub justification: String,
    /// The version the form sends back (stale saves are refused).
    pub version: i64,
    /// The verdict control's options, the recorded verdict selected.
    pub choices: Vec<Choice>,
    /// The severity control's options, the recorded severity selected.
    pub severities: Vec<Choice>,
}

/// One `<option>` of a control that shows a recorded value.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// The options of a verdict control: `offered`, with the recorded verdict selected
/// (added when it is not among them), or a leading 「未检查」 selected when nothing
/// is recorded. Exactly one option is selected, so a browser never falls back to
/// the first one and a form sent untouched sends what is recorded.
pub fn verdict_choices(recorded: Option<Verdict>, offered: &[Verdict]) -> Vec<Choice> {
    let mut out = Vec::new();
    match recorded {
        None => out.push(Choice {
            value: "",
            label: NOT_CHECKED,
            selected: true,
        }),
        Some(r) if !offered.contains(&r) => out.push(Choice {
            value: r.as_str(),
            label: r.label(),
            selected: true,
        }),
        Some(_) => {}
    }
    out.extend(offered.iter().map(|&v| Choice {
        value: v.as_str(),
        label: v.label(),
        selected: recorded == Some(v),
    }));
    out
}

/// A nonconformity's severity control, the recorded one selected.
fn severity_choices(recorded: &str) -> Vec<Choice> {
    [("", "—"), ("major", "严重"), ("minor", "一般")]
        .into_iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: value == recorded,
        })
        .collect()
}

/// What a checklist item without a recorded result shows.
pub const NOT_CHECKED: &str = "未检查";

/// The verdicts an on-site checklist item can be given.
const ITEM_VERDICTS: [Verdict; 4] = [
    Verdict::Conform,
    Verdict::Nonconform,
    Verdict::Observation,
    Verdict::NotApplicable,
];

pub struct CheckRow {
    pub id: String,
    pub title: String,
    pub clauses: String,
    pub outcome: &'static str,
    pub class: &'static str,
    pub detail: String,
    pub samples: Vec<String>,
}

/// One manual item at one place (an outlet, an agency or the platform).
pub struct ChecklistRow {
    pub item_id: String,
    pub title: String,
    pub clause: String,
    pub guidance: String,
    pub evidence: String,
    pub verdict: &'static str,
    pub class: &'static str,
    pub note: String,
    pub photos: Vec<(String, String)>,
    /// The recorded result's version (0: none), sent back with a save.
    pub version: i64,
    /// The verdict control's options: the recorded verdict, or 「未检查」, selected.
    pub choices: Vec<Choice>,
}

pub struct PlaceGroup {
    pub target: String,
    pub label: String,
    pub done: usize,
    pub rows: Vec<ChecklistRow>,
}

pub struct FindingRow {
    pub id: i64,
    pub clause: String,
    pub severity: &'static str,
    pub title: String,
    pub observed: String,
    pub target: String,
    pub owner: String,
    pub due: String,
    pub status: &'static str,
    pub status_code: String,
    pub photos: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    nav: Nav,
    a: AuditRow,
    open: bool,
    snapshot: String,
    ran: String,
    revision_reason: String,
    revises: Option<i64>,
    clauses: Vec<ClauseRow>,
    checks: Vec<CheckRow>,
    places: Vec<PlaceGroup>,
    findings: Vec<FindingRow>,
    counts: Vec<(&'static str, usize)>,
    message: String,
    /// The place whose checklist is shown (`?at=O01`), or empty for all.
    at: String,
    /// Per standard in scope: (code, requirement clauses, automated, manual, gaps).
    coverage: Vec<(String, usize, usize, usize, String, Vec<String>)>,
    /// Other audits to compare with: (id, name).
    others: Vec<(i64, String)>,
    /// Characters of this audit's texts that no font has: the PDF would show
    /// blanks there. One line per character, with where it occurs.
    glyphs: Vec<String>,
    /// Return-visit surveys drawn for this audit: (survey id, title, version).
    return_visits: Vec<(i64, String, i64)>,
    /// What their answers say, per linked clause.
    survey_evidence: Vec<crate::survey::stored::ClauseEvidence>,
    /// What the last run read from each data source.
    reads: Vec<crate::report::source::SourceView>,
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Conform => "ok",
        Verdict::Nonconform => "bad",
        Verdict::Observation => "warn",
        Verdict::NotApplicable => "na",
        Verdict::NotAssessed | Verdict::Incomplete => "todo",
    }
}

fn severity_label(s: &str) -> &'static str {
    match s {
        "major" => "严重",
        "minor" => "一般",
        "observation" => "观察项",
        _ => "",
    }
}

#[derive(Deserialize, Default)]
pub struct AtQuery {
    #[serde(default)]
    at: String,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    at: String,
    message: String,
) -> Result<AuditPage, AppError> {
    viewer.signed()?;
    let a = state.db.audit(id).await?.ok_or(AppError::NotFound)?;
    let set = checks(state)?;
    let verdicts = state.db.clause_verdicts(id).await?;
    let mut counts = Vec::new();
    for v in Verdict::EVERY {
        let n = verdicts.iter().filter(|c| c.verdict == v).count();
        if v != Verdict::Incomplete || n > 0 {
            counts.push((v.short_label(), n));
        }
    }
    let clauses = clause_rows(&verdicts);
    let checks = check_rows(&state.db.audit_results(id).await?);
    let items = state.db.items(id).await?;
    let evidence = state.db.evidence(id).await?;
    // Only the outlets file: importing (and validating) the whole platform on
    // every page view would parse thousands of workers to list 18 places.
    let outlets = crate::platform::import::outlet_names(&state.platform_dir);
    let places = checklist(&set, &a, &at, &items, &evidence, &outlets);
    let findings = finding_rows(state.db.findings(id).await?, &evidence);
    let workflow = crate::audit::rules::RuleSet::load(std::slice::from_ref(&state.audits_dir))
        .map(|r| r.rules)
        .unwrap_or_default();
    let coverage =
        crate::audit::checks::coverage(&state.content().coll, &workflow, &set, &a.standards)
            .into_iter()
            .map(|c| {
                (
                    c.standard.clone(),
                    c.requirement_clauses,
                    c.automated,
                    c.manual,
                    format!("{:.1}%", c.percent()),
                    c.gaps.iter().map(|(n, t)| format!("{n} {t}")).collect(),
                )
            })
            .collect();
    let others = state
        .db
        .audits()
        .await?
        .into_iter()
        .filter(|o| o.id != a.id)
        .map(|o| (o.id, o.name))
        .collect();
    let people = state.db.audit_people(id).await?;
    let glyphs = glyph_warnings(&a, &people, &findings, &verdicts, &items);
    let return_visits = state
        .db
        .audit_surveys(id)
        .await?
        .into_iter()
        .map(|r| (r.id, r.title, r.version))
        .collect();
    let survey_evidence = crate::survey::stored::audit_evidence(&state.db, id).await?;
    Ok(AuditPage {
        reads: a.sources.iter().map(crate::report::source::view).collect(),
        return_visits,
        survey_evidence,
        glyphs,
        coverage,
        others,
        nav: Nav::of(viewer),
        open: a.state == "open",
        snapshot: a.snapshot.get(..12).unwrap_or("").to_string(),
        ran: a
            .ran_at
            .map(|t| crate::library::format_time(t, 480))
            .unwrap_or_default(),
        revision_reason: a.revision_reason.clone(),
        revises: a.revises,
        a: audit_row(&a),
        clauses,
        checks,
        places,
        findings,
        counts,
        message,
        at,
    })
}

/// 逐条结论: one row per clause verdict, its controls showing what is recorded.
fn clause_rows(verdicts: &[crate::db::audits::ClauseVerdict]) -> Vec<ClauseRow> {
    verdicts
        .iter()
        .map(|c| ClauseRow {
            number: c
                .clause
                .split_once('#')
                .map(|x| x.1)
                .unwrap_or("")
                .to_string(),
            clause: c.clause.clone(),
            verdict: c.verdict.label(),
            class: verdict_class(c.verdict),
            severity: severity_label(&c.severity),
            by_auditor: c.source == "auditor",
            justification: c.justification.clone(),
            version: c.version,
            choices: verdict_choices(Some(c.verdict), &Verdict::ALL),
            severities: severity_choices(&c.severity),
        })
        .collect()
}

/// The automated checks' stored results, as table rows.
fn check_rows(results: &[crate::db::audits::CheckResultRow]) -> Vec<CheckRow> {
    results
        .iter()
        .filter(|r| r.kind != "manual")
        .map(|r| {
            let v = &r.result;
            let outcome = Outcome::from_key(v["outcome"].as_str().unwrap_or(""));
            let class = match outcome {
                Outcome::Pass => "ok",
                Outcome::Fail => "bad",
                _ => "todo",
            };
            let label = outcome.label();
            let detail = crate::report::audit::result_detail(v);
            let samples = v["samples"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .take(5)
                        .map(crate::report::audit::sample_text)
                        .collect()
                })
                .unwrap_or_default();
            CheckRow {
                id: r.check_id.clone(),
                title: v["title"].as_str().unwrap_or("").to_string(),
                clauses: crate::report::audit::clause_numbers(v),
                outcome: label,
                class,
                detail,
                samples,
            }
        })
        .collect()
}

/// The on-site checklist: each manual item in scope, at each place it applies to
/// (only `at` when given), with its recorded result, or 未检查.
fn checklist(
    set: &CheckSet,
    a: &Audit,
    at: &str,
    items: &[crate::db::audits::ItemResult],
    evidence: &[crate::db::audits::Evidence],
    platform_outlets: &[(String, String)],
) -> Vec<PlaceGroup> {
    let in_scope = |clauses: &[String]| {
        clauses
            .iter()
            .any(|c| a.standards.iter().any(|s| c.starts_with(&format!("{s}#"))))
    };
    let mut places: Vec<PlaceGroup> = Vec::new();
    fn group(places: &mut Vec<PlaceGroup>, target: &str, label: &str) -> usize {
        if let Some(i) = places.iter().position(|g| g.target == target) {
            return i;
        }
        places.push(PlaceGroup {
            target: target.to_string(),
            label: label.to_string(),
            done: 0,
            rows: Vec::new(),
        });
        places.len() - 1
    }
    group(&mut places, "", "平台与运营单位");
    for item in set.manual.iter().filter(|m| in_scope(&m.clauses)) {
        let targets: Vec<(String, String)> = match item.per {
            Per::Outlet => platform_outlets.to_vec(),
            Per::Platform | Per::Agency => vec![(String::new(), "平台与运营单位".to_string())],
        };
        for (target, label) in targets {
            if !at.is_empty() && target != at {
                continue;
            }
            let done = items
                .iter()
                .find(|r| r.item_id == item.id && r.target == target);
            let gi = group(&mut places, &target, &format!("{target} {label}"));
            let recorded = done.map(|d| d.verdict);
            if done.is_some() {
                places[gi].done += 1;
            }
            places[gi].rows.push(ChecklistRow {
                item_id: item.id.clone(),
                title: item.title.clone(),
                clause: item
                    .clauses
                    .iter()
                    .map(|c| c.split_once('#').map(|p| p.1).unwrap_or(c).to_string())
                    .collect::<Vec<_>>()
                    .join("、"),
                guidance: item.guidance.clone(),
                evidence: item
                    .evidence
                    .iter()
                    .map(|e| match e.as_str() {
                        "photo" => "照片",
                        "document" => "文件",
                        "interview" => "访谈",
                        "record" => "记录",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join("、"),
                verdict: recorded.map(Verdict::label).unwrap_or(NOT_CHECKED),
                class: recorded.map(verdict_class).unwrap_or("todo"),
                note: done.map(|d| d.note.clone()).unwrap_or_default(),
                version: done.map(|d| d.version).unwrap_or(0),
                choices: verdict_choices(recorded, &ITEM_VERDICTS),
                photos: evidence
                    .iter()
                    .filter(|e| {
                        e.item_id == item.id && e.target == target && e.finding_id.is_none()
                    })
                    .map(|e| (e.sha256.clone(), e.name.clone()))
                    .collect(),
            });
        }
    }
    places.retain(|g| !g.rows.is_empty());
    places
}

/// The findings, each with its photos.
fn finding_rows(
    findings: Vec<crate::db::audits::Finding>,
    evidence: &[crate::db::audits::Evidence],
) -> Vec<FindingRow> {
    findings
        .into_iter()
        .map(|f| FindingRow {
            photos: evidence
                .iter()
                .filter(|e| e.finding_id == Some(f.id))
                .map(|e| (e.sha256.clone(), e.name.clone()))
                .collect(),
            id: f.id,
            clause: f
                .clause
                .split_once('#')
                .map(|p| p.1)
                .unwrap_or(&f.clause)
                .to_string(),
            severity: severity_label(&f.severity),
            title: f.title,
            observed: f.observed,
            target: f.target,
            owner: f.owner,
            due: f.due,
            status: match f.status.as_str() {
                "open" => "待整改",
                "corrected" => "已整改",
                "verified" => "已验证",
                _ => "",
            },
            status_code: f.status,
        })
        .collect()
}

/// What the report will print that no font may have: people's names, findings,
/// notes and justifications (the standards' text is checked by the tests).
fn glyph_warnings(
    a: &Audit,
    people: &[(String, String, String)],
    findings: &[FindingRow],
    verdicts: &[crate::db::audits::ClauseVerdict],
    items: &[crate::db::audits::ItemResult],
) -> Vec<String> {
    let mut texts = serde_json::Map::new();
    texts.insert("审核名称".into(), a.name.clone().into());
    for (name, _, _) in people {
        texts.insert(format!("审核组 {name}"), name.clone().into());
    }
    for f in findings {
        texts.insert(
            format!("发现 #{}", f.id),
            format!("{} {} {} {}", f.title, f.observed, f.target, f.owner).into(),
        );
    }
    for c in verdicts.iter().filter(|c| !c.justification.is_empty()) {
        texts.insert(
            format!("条款 {} 的说明", c.clause),
            c.justification.clone().into(),
        );
    }
    for r in items.iter().filter(|r| !r.note.is_empty()) {
        texts.insert(
            format!("检查项 {} {}", r.item_id, r.target),
            r.note.clone().into(),
        );
    }
    crate::report::pdf::missing_glyphs(&serde_json::Value::Object(texts))
        .into_iter()
        .map(|m| m.to_string())
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<AtQuery>,
) -> Result<AuditPage, AppError> {
    page(&state, &viewer, id, q.at, String::new()).await
}

/// One evaluation of an audit's checks, ready to record.
pub(super) struct Evaluated {
    pub snapshot: String,
    pub results: Vec<crate::audit::checks::CheckResult>,
    pub clauses: Vec<crate::audit::checks::ClauseOutcome>,
    pub sources: Vec<crate::audit::SourceReport>,
}

impl Evaluated {
    pub async fn record(&self, db: &crate::db::Db, id: i64) -> Result<(), AuditError> {
        db.record_run(
            id,
            &self.snapshot,
            &self.results,
            &self.clauses,
            &self.sources,
        )
        .await
    }
}

/// Evaluates the checks of `a`'s standards against the platform data, as of the
/// last instant of its period (blocking: reads files).
/// `surveys`: the survey store's results (entity `surveys`), read beforehand
/// because this runs on a blocking thread.
pub(super) fn evaluate_audit(
    state: &AppState,
    a: &Audit,
    surveys: Vec<crate::platform::SurveyResult>,
) -> Result<Evaluated, String> {
    let mut set = CheckSet::load(std::slice::from_ref(&state.audits_dir)).map_err(|d| {
        format!(
            "检查规则有误：{}",
            d.first().map(|d| d.to_string()).unwrap_or_default()
        )
    })?;
    let in_scope = |clauses: &[String]| {
        clauses
            .iter()
            .any(|c| a.standards.iter().any(|s| c.starts_with(&format!("{s}#"))))
    };
    set.records.retain(|r| in_scope(&r.clauses));
    set.metrics.retain(|m| in_scope(&m.clauses));
    set.manual.retain(|m| in_scope(&m.clauses));
    let at = crate::audit::time::parse_date_or_instant(&a.period_to, 480)
        .map_err(|e| e.to_string())?
        + 86_400_000_000
        - 1;
    let p = crate::platform::import::import_dir(
        &state.platform_dir,
        &crate::platform::import::Options {
            key: &state.pseudonym_key,
        },
    )
    .map_err(|e| format!("无法读取平台数据：{e}"))?;
    let mut p = p;
    p.surveys = Some(surveys);
    let mut results = evaluate(&set, &p, at);
    let mut sources = Vec::new();
    // The order log, when the export has one: the process clauses' workflow rules.
    if let Some(log) = crate::audit::checks::order_log(&state.platform_dir) {
        let from = crate::audit::time::parse_date_or_instant(&a.period_from, 480)
            .map_err(|e| e.to_string())?;
        let (workflow, report) = crate::audit::checks::run_workflow(
            &state.audits_dir,
            &log,
            &a.standards,
            (from, at + 1),
            a.max_skipped,
        )?;
        results.extend(workflow);
        sources.extend(report);
    }
    let clauses = clause_outcomes(&results);
    Ok(Evaluated {
        snapshot: p.snapshot,
        results,
        clauses,
        sources,
    })
}

/// Runs the automated checks of the audit's standards against the platform data.
pub async fn run(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let a = state.db.audit(id).await?.ok_or(AppError::NotFound)?;
    let surveys = crate::survey::stored::results(&state.db).await?;
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || evaluate_audit(&st, &a, surveys))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let evaluated = match outcome {
        Ok(x) => x,
        Err(m) => {
            return Ok(page(&state, &viewer, id, String::new(), m)
                .await?
                .into_response());
        }
    };
    match evaluated.record(&state.db, id).await {
        Ok(()) => Ok(Redirect::to(&format!("/audits/{id}")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

/// A write the audit refused (closed, or invalid input): the page again, saying why.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    e: AuditError,
) -> Result<Response, AppError> {
    match e {
        AuditError::Locked | AuditError::Invalid(_) => {
            Ok(page(state, viewer, id, String::new(), e.to_string())
                .await?
                .into_response())
        }
        AuditError::Stale(_) => Ok((
            axum::http::StatusCode::CONFLICT,
            page(state, viewer, id, String::new(), e.to_string()).await?,
        )
            .into_response()),
        other => Err(other.into()),
    }
}

/// The version a form says its page showed: refused when missing (a page from
/// before versions, or a hand-made request), since nothing could be compared.
fn seen_version(raw: &str) -> Result<i64, AppError> {
    raw.trim().parse().map_err(|_| {
        AppError::BadRequest("表单缺少版本信息（页面可能已过期），请刷新页面后重试".into())
    })
}

#[derive(Deserialize)]
pub struct ClauseForm {
    clause: String,
    verdict: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    justification: String,
    /// The clause verdict's version the page showed.
    #[serde(default)]
    version: String,
}

pub async fn set_clause(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<ClauseForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let verdict = Verdict::parse(&f.verdict)
        .ok_or_else(|| AppError::BadRequest("请选择条款的结论".into()))?;
    let edit = ClauseEdit {
        seen: seen_version(&f.version)?,
        verdict,
        severity: &f.severity,
        justification: &f.justification,
    };
    match state
        .db
        .save_clause_verdict(id, &f.clause, &edit, &user)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/audits/{id}#clauses")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

/// A checklist result, with an optional photo (multipart form).
pub async fn evidence(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let (fields, file) = super::read_multipart(form, "photo").await?;
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let target = get("target");
    let back = format!(
        "/audits/{id}?at={}#place-{}",
        super::pages::url_encode(&target),
        target
    );
    let fail = |m: String| async {
        Ok::<_, AppError>(
            page(&state, &viewer, id, target.clone(), m)
                .await?
                .into_response(),
        )
    };
    let finding: Option<i64> = get("finding").parse().ok();
    // Check the file first; it is written only with the row that cites it, once
    // the audit is open and the finding is this audit's.
    let stored = match &file {
        Some((name, bytes)) => match state.evidence.check(bytes, name) {
            Ok(s) => Some((name.clone(), s, bytes)),
            Err(e) => return fail(e.to_string()).await,
        },
        None => None,
    };
    if stored.is_some()
        && let Err(e) = super::evidence_allowed(&state, id, finding).await
    {
        return match e {
            AuditError::Locked | AuditError::Invalid(_) => fail(e.to_string()).await,
            other => Err(other.into()),
        };
    }
    if finding.is_none() {
        // Only what differs from the recorded result is written (see `save_item`).
        let verdict = match get("verdict").as_str() {
            "" => None,
            v => Some(
                Verdict::parse(v).ok_or_else(|| AppError::BadRequest("请选择检查结论".into()))?,
            ),
        };
        let note = get("note");
        let edit = ItemEdit {
            seen: seen_version(&get("version"))?,
            verdict,
            note: &note,
        };
        if let Err(e) = state
            .db
            .save_item(id, &get("item"), &target, &edit, &user)
            .await
        {
            return match e {
                AuditError::Locked | AuditError::Invalid(_) => fail(e.to_string()).await,
                AuditError::Stale(_) => Ok((
                    axum::http::StatusCode::CONFLICT,
                    fail(e.to_string()).await?,
                )
                    .into_response()),
                other => Err(other.into()),
            };
        }
    }
    if let Some((name, s, bytes)) = &stored {
        let item = get("item");
        let ev = NewEvidence {
            finding_id: finding,
            item_id: if finding.is_some() { "" } else { &item },
            target: &target,
            stored: s,
            name,
        };
        let row = state.db.add_evidence(id, &ev, &user);
        let recorded = state
            .evidence
            .record(bytes, row)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if let Err(e) = recorded {
            return match e {
                AuditError::Locked | AuditError::Invalid(_) => fail(e.to_string()).await,
                other => Err(other.into()),
            };
        }
    }
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
pub struct FindingForm {
    #[serde(default)]
    clause: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    observed: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    due: String,
}

pub async fn add_finding(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<FindingForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    match state
        .db
        .add_finding(
            id,
            &f.clause,
            &f.severity,
            &f.title,
            &f.observed,
            &f.target,
            &f.owner,
            &f.due,
            &user,
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/audits/{id}#findings")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    from: String,
    to: String,
}

pub async fn finding_status(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, finding)): Path<(i64, i64)>,
    Form(f): Form<StatusForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let owned = state.db.findings(id).await?.iter().any(|x| x.id == finding);
    if !owned {
        return Err(AppError::NotFound);
    }
    match state
        .db
        .set_finding_status(finding, &f.from, &f.to, &user)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/audits/{id}#findings")).into_response()),
        Err(e @ AuditError::Invalid(_)) => {
            Ok(page(&state, &viewer, id, String::new(), e.to_string())
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn close(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    match state.db.close_audit(id, &user).await {
        Ok(()) => Ok(Redirect::to(&format!("/audits/{id}")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

#[derive(Deserialize)]
pub struct ReviseForm {
    reason: String,
}

pub async fn revise(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<ReviseForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    match state.db.revise_audit(id, &f.reason, &user).await {
        Ok(a) => Ok(Redirect::to(&format!("/audits/{}", a.id)).into_response()),
        Err(e @ AuditError::Invalid(_)) => {
            Ok(page(&state, &viewer, id, String::new(), e.to_string())
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /evidence/{sha256}`: a stored evidence file, verified against its hash.
pub async fn evidence_file(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(sha): Path<String>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let bytes = match state.evidence.get(&sha) {
        Ok(b) => b,
        Err(
            crate::audit::evidence::EvidenceError::Missing
            | crate::audit::evidence::EvidenceError::BadId,
        ) => {
            return Err(AppError::NotFound);
        }
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    let mime = crate::audit::evidence::sniff(&bytes).unwrap_or("application/octet-stream");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime),
            (
                axum::http::header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CompareQuery {
    a: i64,
    b: i64,
}

pub struct CompareRow {
    pub clause: String,
    pub before: &'static str,
    pub after: &'static str,
    pub change: &'static str,
    pub class: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit_compare.html")]
pub struct ComparePage {
    nav: Nav,
    a: AuditRow,
    b: AuditRow,
    rows: Vec<CompareRow>,
    better: usize,
    worse: usize,
}

/// A verdict's rank for comparison: higher is better; `None` when it says nothing
/// about conformity (未评价, 不适用).
fn rank(v: Verdict) -> Option<u8> {
    match v {
        Verdict::Nonconform => Some(0),
        Verdict::Observation => Some(1),
        Verdict::Conform => Some(2),
        Verdict::NotApplicable | Verdict::NotAssessed | Verdict::Incomplete => None,
    }
}

/// `GET /audits/compare?a=1&b=2`: clause by clause, which got better or worse.
pub async fn compare(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    axum::extract::Query(q): axum::extract::Query<CompareQuery>,
) -> Result<ComparePage, AppError> {
    viewer.signed()?;
    let a = state.db.audit(q.a).await?.ok_or(AppError::NotFound)?;
    let b = state.db.audit(q.b).await?.ok_or(AppError::NotFound)?;
    let va = state.db.clause_verdicts(a.id).await?;
    let vb = state.db.clause_verdicts(b.id).await?;
    let mut clauses: Vec<&str> = va
        .iter()
        .chain(vb.iter())
        .map(|c| c.clause.as_str())
        .collect();
    clauses.sort_unstable();
    clauses.dedup();
    let find = |v: &[crate::db::audits::ClauseVerdict], c: &str| {
        v.iter().find(|x| x.clause == c).map(|x| x.verdict)
    };
    let mut rows = Vec::new();
    let (mut better, mut worse) = (0, 0);
    for c in clauses {
        let (x, y) = (find(&va, c), find(&vb, c));
        let (change, class) = match (x.and_then(rank), y.and_then(rank)) {
            (Some(p), Some(n)) if n > p => {
                better += 1;
                ("改善", "ok")
            }
            (Some(p), Some(n)) if n < p => {
                worse += 1;
                ("变差", "bad")
            }
            (Some(_), Some(_)) => ("不变", ""),
            _ => ("—", ""),
        };
        rows.push(CompareRow {
            clause: c.to_string(),
            before: x.map(Verdict::label).unwrap_or("（不在范围内）"),
            after: y.map(Verdict::label).unwrap_or("（不在范围内）"),
            change,
            class,
        });
    }
    Ok(ComparePage {
        nav: Nav::of(&viewer),
        a: audit_row(&a),
        b: audit_row(&b),
        rows,
        better,
        worse,
    })
}

pub struct OutletAuditRow {
    pub id: i64,
    pub name: String,
    pub period: String,
    pub items: Vec<(String, &'static str, &'static str, String)>,
    pub findings: Vec<(String, &'static str, String, &'static str)>,
    pub nonconform: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit_outlet.html")]
pub struct OutletPage {
    nav: Nav,
    outlet: String,
    rows: Vec<OutletAuditRow>,
}

/// `GET /audits/outlets/{outlet}`: one outlet across every audit — its checklist
/// results and the findings about it, newest audit first.
pub async fn outlet(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(outlet): Path<String>,
) -> Result<OutletPage, AppError> {
    viewer.signed()?;
    let titles: std::collections::HashMap<String, String> = checks(&state)?
        .manual
        .into_iter()
        .map(|m| (m.id, m.title))
        .collect();
    let mut rows = Vec::new();
    for a in state.db.audits().await? {
        let items: Vec<_> = state
            .db
            .items(a.id)
            .await?
            .into_iter()
            .filter(|i| i.target == outlet)
            .map(|i| {
                (
                    titles.get(&i.item_id).cloned().unwrap_or(i.item_id.clone()),
                    i.verdict.label(),
                    verdict_class(i.verdict),
                    i.note,
                )
            })
            .collect();
        let findings: Vec<_> = state
            .db
            .findings(a.id)
            .await?
            .into_iter()
            .filter(|f| f.target == outlet)
            .map(|f| {
                (
                    f.title,
                    severity_label(&f.severity),
                    f.due,
                    match f.status.as_str() {
                        "open" => "待整改",
                        "corrected" => "已整改",
                        _ => "已验证",
                    },
                )
            })
            .collect();
        if items.is_empty() && findings.is_empty() {
            continue;
        }
        rows.push(OutletAuditRow {
            nonconform: items.iter().filter(|i| i.2 == "bad").count(),
            id: a.id,
            name: a.name,
            period: format!("{} 至 {}", a.period_from, a.period_to),
            items,
            findings,
        });
    }
    Ok(OutletPage {
        nav: Nav::of(&viewer),
        outlet,
        rows,
    })
}

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    /// CSV only: `clauses` (default) or `findings`.
    #[serde(default)]
    table: String,
}

/// Gathers an audit's report from the live state (standards, checks, evidence).
pub(super) async fn gather_report(
    state: &AppState,
    id: i64,
) -> Result<crate::report::audit::Gathered, AppError> {
    let set = checks(state)?;
    let workflow = crate::audit::rules::RuleSet::load(std::slice::from_ref(&state.audits_dir))
        .map(|r| r.rules)
        .unwrap_or_default();
    let content = state.content();
    let sources = crate::report::audit::Sources {
        db: &state.db,
        coll: &content.coll,
        checks: &set,
        workflow: &workflow,
        evidence: Some(&state.evidence),
        outlets: crate::platform::import::outlet_names(&state.platform_dir),
    };
    match crate::report::audit::gather(&sources, id, crate::db::now()).await {
        Ok(g) => Ok(g),
        Err(AuditError::Missing) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// `GET /audits/{id}/report/{format}`: the report as a download. The PDF is
/// compiled on a blocking thread (typst takes a few hundred milliseconds). A PDF
/// with characters no font has is still served, with the characters and their
/// places in `X-Missing-Glyphs`; the audit page shows the same warning.
pub async fn report(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, format)): Path<(i64, String)>,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let format = crate::report::Format::parse(&format).ok_or(AppError::NotFound)?;
    let table = match q.table.as_str() {
        "findings" => crate::report::tables::Table::Findings,
        _ => crate::report::tables::Table::Clauses,
    };
    let gathered = gather_report(&state, id).await?;
    let no = gathered.report.report_no.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::report::render_audit(&gathered, format, table, false)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let suffix = match (format, table) {
        (crate::report::Format::Csv, crate::report::tables::Table::Findings) => "-findings",
        _ => "",
    };
    let file = format!("{no}{suffix}.{}", format.extension());
    let mut resp = (
        [
            (axum::http::header::CONTENT_TYPE, format.mime().to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        out.bytes,
    )
        .into_response();
    if !out.missing.is_empty() {
        let list: Vec<String> = out
            .missing
            .iter()
            .map(|m| format!("U+{:04X}", m.ch as u32))
            .collect();
        if let Ok(v) = axum::http::HeaderValue::from_str(&list.join(" ")) {
            resp.headers_mut().insert("x-missing-glyphs", v);
        }
    }
    Ok(resp)
}
