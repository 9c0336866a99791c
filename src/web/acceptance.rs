//! Pilot-project acceptance (试点验收): projects, expert reviews against the scoring
//! table, each expert's sheet (made for a phone), the aggregate once every expert
//! has submitted, the group leader's 验收意见 and the 验收评估报告 (PDF).
//!
//! Independence lives in the database layer (`Db::review_view`): every route here
//! reads a review through it, so no page, API answer or report can show another
//! expert's scores before all have submitted.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::acceptance::scoring::{self, Aggregate, Sheet, Table};
use crate::db::acceptance::{NewProject, ReviewError, ReviewView, Score};
use crate::db::accounts::Role;

use super::pages::Nav;
use super::{AppError, AppState, Viewer, render_pdf};

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Missing => AppError::NotFound,
            ReviewError::NotMember => AppError::Forbidden,
            ReviewError::Db(d) => AppError::Internal(d.to_string()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

/// The shipped scoring table, beside the standards directory.
fn default_table(state: &AppState) -> Result<String, AppError> {
    let p = state
        .audits_dir
        .with_file_name("acceptance")
        .join("scoring-table.yaml");
    std::fs::read_to_string(&p).map_err(|e| AppError::Internal(format!("{}: {e}", p.display())))
}

fn parse_table(yaml: &str) -> Result<Table, AppError> {
    Table::from_yaml(yaml, "评分表").map_err(|e| AppError::Internal(e.join("; ")))
}

/// The review as `viewer` may see it: experts only their own reviews.
async fn view_for(state: &AppState, viewer: &Viewer, id: i64) -> Result<ReviewView, AppError> {
    let user = viewer.signed()?;
    let v = state.db.review_view(id, Some(user.id)).await?;
    if user.role == Role::Expert && !v.members.iter().any(|m| m.user_id == user.id) {
        return Err(AppError::Forbidden);
    }
    Ok(v)
}

fn sheets_of(v: &ReviewView) -> Option<Vec<Sheet>> {
    v.sheets.as_ref().map(|all| {
        all.iter()
            .map(|(m, scores)| Sheet {
                expert: m.name.clone(),
                scores: scores
                    .iter()
                    .filter_map(|s| s.score.map(|x| (s.item_id.clone(), x)))
                    .collect(),
                comments: scores
                    .iter()
                    .filter(|s| !s.comment.is_empty())
                    .map(|s| (s.item_id.clone(), s.comment.clone()))
                    .collect(),
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------
// The list

pub struct ReviewRow {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    pub project: String,
    pub date: String,
    pub progress: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "acceptance.html")]
pub struct ListPage {
    nav: Nav,
    admin: bool,
    reviews: Vec<ReviewRow>,
    projects: Vec<(i64, String)>,
    experts: Vec<(i64, String)>,
    message: String,
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    message: String,
) -> Result<ListPage, AppError> {
    let user = viewer.signed()?;
    let admin = user.role == Role::Admin;
    let projects = state.db.projects().await?;
    let name_of = |id: i64| {
        projects
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let reviews = state
        .db
        .reviews_for(if admin { None } else { Some(user.id) })
        .await?
        .into_iter()
        .map(|(r, m)| ReviewRow {
            id: r.id,
            project_id: r.project_id,
            project: name_of(r.project_id),
            title: r.title,
            date: r.review_date,
            progress: format!(
                "已提交 {}/{}",
                m.iter().filter(|m| m.submitted_at.is_some()).count(),
                m.len()
            ),
        })
        .collect();
    let experts = if admin {
        state
            .db
            .users()
            .await?
            .into_iter()
            .filter(|u| u.role == Role::Expert && u.active)
            .map(|u| (u.id, format!("{}（{}）", u.display_name, u.username)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(ListPage {
        nav: Nav::of(viewer),
        admin,
        reviews,
        projects: projects.iter().map(|p| (p.id, p.name.clone())).collect(),
        experts,
        message,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<ListPage, AppError> {
    list_page(&state, &viewer, String::new()).await
}

/// `POST /acceptance/projects` (admin).
pub async fn create_project(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let p = NewProject {
        name: get("name"),
        kind: get("kind"),
        field: get("field"),
        started: get("started"),
        planned_end: get("planned_end"),
        accepted: get("accepted"),
        undertaker: get("undertaker"),
        supervisor: get("supervisor"),
        team: get("team"),
    };
    match state.db.project_create(&p, Some(user.id)).await {
        Ok(_) => Ok(Redirect::to("/acceptance").into_response()),
        Err(ReviewError::Invalid(m)) => Ok(list_page(&state, &viewer, m).await?.into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /acceptance/reviews` (admin): project, title, date, the experts invited
/// (`expert` repeated) and the group leader.
pub async fn create_review(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let project: i64 = get("project").parse().unwrap_or(0);
    if state.db.project(project).await?.is_none() {
        return Ok(list_page(&state, &viewer, "请选择验收项目".into())
            .await?
            .into_response());
    }
    let leader: i64 = get("leader").parse().unwrap_or(0);
    let mut experts: Vec<(i64, bool)> = f
        .iter()
        .filter(|(n, _)| n == "expert")
        .filter_map(|(_, v)| v.parse::<i64>().ok())
        .map(|id| (id, id == leader))
        .collect();
    experts.sort_unstable();
    experts.dedup();
    if leader != 0 && !experts.iter().any(|(id, _)| *id == leader) {
        experts.push((leader, true));
    }
    // The shipped table, with this review's pass mark and trimming when given.
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&default_table(&state)?)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(m) = doc.as_mapping_mut() {
        match get("pass_mark").parse::<f64>() {
            Ok(x) => {
                m.insert("pass_mark".into(), x.into());
            }
            Err(_) if get("pass_mark").is_empty() => {}
            Err(_) => {
                return Ok(list_page(
                    &state,
                    &viewer,
                    format!("通过分数线“{}”不是数字", get("pass_mark")),
                )
                .await?
                .into_response());
            }
        }
        m.insert("trim".into(), (get("trim") == "1").into());
    }
    let table = serde_yaml::to_string(&doc).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Err(e) = Table::from_yaml(&table, "评分表") {
        return Ok(list_page(&state, &viewer, e.join("\n"))
            .await?
            .into_response());
    }
    let title = match get("title") {
        t if t.is_empty() => "试点项目验收评审".to_string(),
        t => t,
    };
    match state
        .db
        .review_create(
            project,
            &title,
            &table,
            &get("date"),
            &experts,
            Some(user.id),
        )
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/acceptance/reviews/{id}")).into_response()),
        Err(ReviewError::Invalid(m)) => Ok(list_page(&state, &viewer, m).await?.into_response()),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------
// One review

pub struct FormItem {
    pub id: String,
    pub title: String,
    pub max: String,
    pub guidance: String,
    pub value: String,
    pub comment: String,
}

pub struct FormSection {
    pub title: String,
    pub max: String,
    pub items: Vec<FormItem>,
}

pub struct ResultRow {
    pub section: bool,
    pub title: String,
    pub max: String,
    pub scores: Vec<String>,
    pub score: String,
    pub note: String,
    pub flag: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "acceptance_review.html")]
pub struct ReviewPage {
    nav: Nav,
    id: i64,
    title: String,
    project: String,
    date: String,
    table_title: String,
    total_max: String,
    pass_mark: String,
    members: Vec<(String, bool, bool)>,
    submitted: usize,
    /// The viewer is on the panel and has not submitted: the scoring form.
    editing: bool,
    /// The viewer's own submitted sheet, read-only, while others are still scoring.
    own_done: bool,
    form: Vec<FormSection>,
    message: String,
    notice: String,
    all: bool,
    experts: Vec<String>,
    results: Vec<ResultRow>,
    expert_totals: Vec<String>,
    total: String,
    conclusion: String,
    passed: bool,
    unscored: bool,
    comments: Vec<(String, String, String)>,
    leader: bool,
    opinion: String,
}

async fn review_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    message: String,
    draft: Option<&[Score]>,
) -> Result<ReviewPage, AppError> {
    let user = viewer.signed()?;
    let v = view_for(state, viewer, id).await?;
    let table = parse_table(&v.review.scoring_table)?;
    let project = state
        .db
        .project(v.review.project_id)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let me = v.members.iter().find(|m| m.user_id == user.id);
    let editing = me.is_some_and(|m| m.submitted_at.is_none());
    let own_done = me.is_some_and(|m| m.submitted_at.is_some());
    let shown: &[Score] = draft.unwrap_or(&v.own);
    let form = table
        .sections
        .iter()
        .map(|s| FormSection {
            title: s.title.clone(),
            max: crate::acceptance::fmt_points(s.items.iter().map(|i| i.max).sum()),
            items: s
                .items
                .iter()
                .map(|i| {
                    let mine = shown.iter().find(|x| x.item_id == i.id);
                    FormItem {
                        id: i.id.clone(),
                        title: i.title.clone(),
                        max: crate::acceptance::fmt_points(i.max),
                        guidance: i.guidance.clone(),
                        value: mine
                            .and_then(|x| x.score)
                            .map(crate::acceptance::fmt_points)
                            .unwrap_or_default(),
                        comment: mine.map(|x| x.comment.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    let all = v.all_submitted();
    let mut page = ReviewPage {
        nav: Nav::of(viewer),
        id,
        title: v.review.title.clone(),
        project,
        date: v.review.review_date.clone(),
        table_title: table.title.clone(),
        total_max: crate::acceptance::fmt_points(table.total()),
        pass_mark: crate::acceptance::fmt_points(table.pass_mark),
        members: v
            .members
            .iter()
            .map(|m| (m.name.clone(), m.leader, m.submitted_at.is_some()))
            .collect(),
        submitted: v
            .members
            .iter()
            .filter(|m| m.submitted_at.is_some())
            .count(),
        editing,
        own_done,
        form,
        message,
        notice: String::new(),
        all,
        experts: Vec::new(),
        results: Vec::new(),
        expert_totals: Vec::new(),
        total: String::new(),
        conclusion: String::new(),
        passed: false,
        unscored: false,
        comments: Vec::new(),
        leader: me.is_some_and(|m| m.leader),
        opinion: v.review.opinion.clone(),
    };
    if let Some(sheets) = sheets_of(&v) {
        let a = scoring::aggregate(&table, &sheets);
        fill_results(&mut page, &table, &a, &sheets);
    }
    Ok(page)
}

fn fill_results(page: &mut ReviewPage, table: &Table, a: &Aggregate, sheets: &[Sheet]) {
    page.experts = a.experts.clone();
    for (s, sr) in table.sections.iter().zip(&a.sections) {
        page.results.push(ResultRow {
            section: true,
            title: s.title.clone(),
            max: crate::acceptance::fmt_points(sr.max),
            scores: Vec::new(),
            score: crate::acceptance::fmt_points(sr.score),
            note: String::new(),
            flag: false,
        });
        for r in a.items.iter().filter(|i| i.section == s.id) {
            let mut note = Vec::new();
            if !r.missing.is_empty() {
                note.push(format!("未评：{}", r.missing.join("、")));
            }
            if r.trimmed {
                note.push("已去掉最高分和最低分".to_string());
            }
            if r.spread_flag {
                note.push(format!(
                    "专家评分差异较大（极差 {}）",
                    crate::acceptance::fmt_points(r.spread)
                ));
            }
            page.results.push(ResultRow {
                section: false,
                title: r.title.clone(),
                max: crate::acceptance::fmt_points(r.max),
                scores: r
                    .scores
                    .iter()
                    .map(|x| {
                        x.map(crate::acceptance::fmt_points)
                            .unwrap_or_else(|| "—".into())
                    })
                    .collect(),
                score: r
                    .score
                    .map(crate::acceptance::fmt_points)
                    .unwrap_or_else(|| "—".into()),
                note: note.join("；"),
                flag: r.spread_flag || !r.missing.is_empty(),
            });
        }
    }
    page.expert_totals = a
        .expert_totals
        .iter()
        .map(|x| crate::acceptance::fmt_points(*x))
        .collect();
    page.total = crate::acceptance::fmt_points(a.total);
    page.conclusion = a.conclusion.to_string();
    page.passed = a.passed;
    page.unscored = !a.unscored.is_empty();
    for sh in sheets {
        for (item, c) in &sh.comments {
            let title = table
                .item(item)
                .map(|i| i.title.clone())
                .unwrap_or_default();
            page.comments.push((sh.expert.clone(), title, c.clone()));
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<ReviewPage, AppError> {
    let mut page = review_page(&state, &viewer, id, String::new(), None).await?;
    page.notice = match q.get("saved").map(String::as_str) {
        Some("draft") => "草稿已保存。".into(),
        Some("submitted") => "评分已提交。".into(),
        Some("opinion") => "验收意见已保存。".into(),
        _ => String::new(),
    };
    Ok(page)
}

/// `POST /acceptance/reviews/{id}/scores`: `s_<item>` (score), `c_<item>`
/// (comment), `action` = save | submit. Submitting leaves an item unscored only
/// with a comment saying why (e.g. 回避).
pub async fn save_scores(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let review = state.db.review(id).await?.ok_or(AppError::NotFound)?;
    let table = parse_table(&review.scoring_table)?;
    let submit = f.get("action").map(String::as_str) == Some("submit");
    let mut scores = Vec::new();
    let mut errors = Vec::new();
    for item in table.items() {
        let raw = f
            .get(&format!("s_{}", item.id))
            .map(|s| s.trim().replace('，', "."))
            .unwrap_or_default();
        let comment: String = f
            .get(&format!("c_{}", item.id))
            .map(|s| s.trim().chars().take(1000).collect())
            .unwrap_or_default();
        let score = if raw.is_empty() {
            None
        } else {
            match raw.parse::<f64>() {
                Ok(x) => match scoring::check_score(item, x) {
                    Ok(()) => Some(x),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                },
                Err(_) => {
                    errors.push(format!("“{}”的得分“{raw}”不是数字", item.title));
                    None
                }
            }
        };
        if submit && score.is_none() && comment.is_empty() && raw.is_empty() {
            errors.push(format!(
                "“{}”未评分：请评分，或在意见栏说明不评分的原因",
                item.title
            ));
        }
        scores.push(crate::db::acceptance::Score {
            item_id: item.id.clone(),
            score,
            comment,
        });
    }
    if !errors.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            review_page(&state, &viewer, id, errors.join("\n"), Some(&scores)).await?,
        )
            .into_response());
    }
    match state.db.review_save(id, user.id, &scores, submit).await {
        Ok(()) => {}
        Err(ReviewError::Submitted) => {
            return Ok((
                StatusCode::CONFLICT,
                review_page(
                    &state,
                    &viewer,
                    id,
                    ReviewError::Submitted.to_string(),
                    None,
                )
                .await?,
            )
                .into_response());
        }
        Err(e) => return Err(e.into()),
    }
    if submit {
        state
            .db
            .log(
                &viewer.actor(),
                "acceptance.submit",
                &format!("review {id}"),
                "",
            )
            .await?;
    }
    let to = if submit { "submitted" } else { "draft" };
    Ok(Redirect::to(&format!("/acceptance/reviews/{id}?saved={to}")).into_response())
}

/// `POST /acceptance/reviews/{id}/opinion`: the group leader's 验收意见.
pub async fn opinion(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let text = f.get("opinion").cloned().unwrap_or_default();
    match state.db.review_opinion(id, user.id, &text).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/acceptance/reviews/{id}?saved=opinion")).into_response())
        }
        Err(ReviewError::Invalid(m)) => Ok((
            StatusCode::CONFLICT,
            review_page(&state, &viewer, id, m, None).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The review as JSON, with the same visibility as the page: the caller's own
/// sheet, the panel's progress, and everyone's sheets and the aggregate only once
/// all have submitted.
pub async fn api_review(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let v = view_for(&state, &viewer, id).await?;
    let table = parse_table(&v.review.scoring_table)?;
    let aggregate = sheets_of(&v).map(|s| scoring::aggregate(&table, &s));
    let members: Vec<serde_json::Value> = v
        .members
        .iter()
        .map(|m| serde_json::json!({ "name": m.name, "leader": m.leader, "submitted": m.submitted_at.is_some() }))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "id": v.review.id,
        "title": v.review.title,
        "members": members,
        "own": v.own,
        "sheets": v.sheets.as_ref().map(|s| s.iter().map(|(m, sc)| serde_json::json!({ "expert": m.name, "scores": sc })).collect::<Vec<_>>()),
        "aggregate": aggregate,
        "opinion": if v.all_submitted() { Some(v.review.opinion.clone()) } else { None },
    }))
    .into_response())
}

/// `GET /acceptance/reviews/{id}/report.pdf`: the 验收评估报告, once every expert
/// has submitted (409 before).
pub async fn report(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let v = view_for(&state, &viewer, id).await?;
    let Some(sheets) = sheets_of(&v) else {
        return Ok((
            StatusCode::CONFLICT,
            "全部专家提交评分后才能生成验收评估报告",
        )
            .into_response());
    };
    let table = parse_table(&v.review.scoring_table)?;
    let project = state
        .db
        .project(v.review.project_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let a = scoring::aggregate(&table, &sheets);
    let data = crate::acceptance::report::data(&project, &v, &table, &sheets, &a);
    let pdf = render_pdf(
        "templates/acceptance_report.typ",
        crate::acceptance::report::TEMPLATE,
        data,
    )
    .await?;
    Ok(super::download(
        "application/pdf",
        &format!("acceptance-review-{id}.pdf"),
        pdf,
    ))
}

// ---------------------------------------------------------------------------
// Award application forms

fn load_form(state: &AppState, form: &str) -> Result<crate::acceptance::award::Form, AppError> {
    if !form.starts_with("award-") || !form.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Err(AppError::NotFound);
    }
    let p = state
        .audits_dir
        .with_file_name("acceptance")
        .join(format!("{form}.yaml"));
    let text = std::fs::read_to_string(&p).map_err(|_| AppError::NotFound)?;
    crate::acceptance::award::Form::from_yaml(&text, &p.display().to_string())
        .map_err(AppError::Internal)
}

/// What Biaozhun's own data says about the project, for the drafts.
async fn facts(
    state: &AppState,
    project: &crate::db::acceptance::Project,
) -> Result<crate::acceptance::award::Facts, AppError> {
    let live = live_figures(state, false).await?;
    let mut acceptance = None;
    for (r, _) in state.db.reviews_for(None).await? {
        if r.project_id != project.id {
            continue;
        }
        let v = state.db.review_view(r.id, None).await?;
        if let (Some(sheets), Ok(table)) = (sheets_of(&v), Table::from_yaml(&r.scoring_table, "t"))
        {
            let a = scoring::aggregate(&table, &sheets);
            acceptance = Some((a.conclusion.to_string(), a.total));
            break;
        }
    }
    Ok(crate::acceptance::award::Facts {
        name: project.name.clone(),
        kind: project.kind.clone(),
        field: project.field.clone(),
        started: project.started.clone(),
        planned_end: project.planned_end.clone(),
        undertaker: project.undertaker.clone(),
        team: project
            .team
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        standards_total: live.standards_total,
        standards_by_category: live.standards_by_node.clone().into_iter().collect(),
        conformance: live.audit_conformance,
        survey: live.survey_valid.zip(live.survey_csat),
        acceptance,
    })
}

pub struct AwardField {
    pub id: String,
    pub title: String,
    pub limit: usize,
    pub hint: String,
    pub text: String,
    pub count: usize,
    pub over: bool,
    /// The fingerprint of the stored text, sent back as `was_<id>`.
    pub was: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "award.html")]
pub struct AwardPage {
    nav: Nav,
    project_id: i64,
    project: String,
    form_id: String,
    title: String,
    fields: Vec<AwardField>,
    message: String,
    notice: String,
}

async fn award_page_of(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    form_id: &str,
    texts: Option<BTreeMap<String, String>>,
    message: String,
) -> Result<AwardPage, AppError> {
    let project = state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let form = load_form(state, form_id)?;
    let stored = state.db.award_texts(id, form_id).await?;
    let texts = texts.unwrap_or_else(|| stored.clone());
    Ok(AwardPage {
        nav: Nav::of(viewer),
        project_id: id,
        project: project.name,
        form_id: form_id.to_string(),
        title: form.title.clone(),
        fields: form
            .sections
            .iter()
            .map(|s| {
                let text = texts.get(&s.id).cloned().unwrap_or_default();
                let count = crate::acceptance::chars::count(&text);
                AwardField {
                    was: crate::db::acceptance::fingerprint(
                        stored.get(&s.id).map(String::as_str).unwrap_or(""),
                    ),
                    id: s.id.clone(),
                    title: s.title.clone(),
                    limit: s.limit,
                    hint: s.hint.clone(),
                    over: count > s.limit,
                    count,
                    text,
                }
            })
            .collect(),
        message,
        notice: String::new(),
    })
}

pub async fn award_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, form)): Path<(i64, String)>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<AwardPage, AppError> {
    let mut page = award_page_of(&state, &viewer, id, &form, None, String::new()).await?;
    if q.contains_key("saved") {
        page.notice = "已保存。".into();
    }
    Ok(page)
}

/// `POST /acceptance/projects/{id}/award/{form}`: `t_<section>` texts; `action` =
/// save, or draft (fill the empty sections from Biaozhun's data, then save).
/// Over-limit text is saved (nothing typed is lost) but cannot be exported.
pub async fn award_save(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, form_id)): Path<(i64, String)>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let project = state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let form = load_form(&state, &form_id)?;
    // The sections the form sent (one it did not send is not touched).
    let mut texts: BTreeMap<String, String> = form
        .sections
        .iter()
        .filter_map(|s| {
            f.get(&format!("t_{}", s.id))
                .map(|t| (s.id.clone(), t.replace("\r\n", "\n").trim().to_string()))
        })
        .collect();
    if f.get("action").map(String::as_str) == Some("draft") {
        let facts = facts(&state, &project).await?;
        let stored = state.db.award_texts(id, &form_id).await?;
        for (section, draft) in crate::acceptance::award::drafts(&facts) {
            // Empty on the form, or not sent and empty in the database.
            let empty = match texts.get(section) {
                Some(t) => t.is_empty(),
                None => stored.get(section).is_none_or(|t| t.is_empty()),
            };
            if empty && form.sections.iter().any(|s| s.id == section) {
                texts.insert(section.to_string(), draft);
            }
        }
    }
    let titles: Vec<(String, String)> = form
        .sections
        .iter()
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect();
    let edits = changed_texts(&f, &texts);
    match state
        .db
        .award_update(id, &form_id, &edits, Some(user.id))
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/acceptance/projects/{id}/award/{form_id}?saved=1"
        ))
        .into_response()),
        Err(ReviewError::Stale(sections)) => {
            let message = stale_texts_message(&sections, &edits, &titles);
            let page = award_page_of(&state, &viewer, id, &form_id, None, message).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The text sections a form changed. `texts` holds the form's text per section
/// (as it will be stored), only for the sections the form sent; `was_<section>`
/// is the fingerprint of what the page showed. A section whose text is still what
/// the page showed was not touched and is left out, so it is never written.
fn changed_texts(
    form: &BTreeMap<String, String>,
    texts: &BTreeMap<String, String>,
) -> Vec<crate::db::acceptance::TextEdit> {
    use crate::db::acceptance::{TextEdit, fingerprint};
    texts
        .iter()
        .filter_map(|(section, body)| {
            let seen = form.get(&format!("was_{section}")).cloned();
            if seen.as_deref() == Some(fingerprint(body).as_str()) {
                return None;
            }
            Some(TextEdit {
                section: section.clone(),
                seen,
                body: body.clone(),
            })
        })
        .collect()
}

/// Why a text save was refused, naming the sections others changed, with what the
/// user wrote (nothing typed is lost: it is on the page to copy back).
fn stale_texts_message(
    stale: &[String],
    edits: &[crate::db::acceptance::TextEdit],
    titles: &[(String, String)],
) -> String {
    let title = |id: &str| {
        titles
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let names: Vec<String> = stale.iter().map(|s| format!("「{}」", title(s))).collect();
    let mut m = format!(
        "{}在您打开页面之后已被他人修改，本次保存没有生效（所有栏目都未保存）。\n\
         输入框中现在是最新内容；您本次填写的内容如下，请对照后重新填写并保存：",
        names.join("、")
    );
    for e in edits {
        m.push_str(&format!("\n\n「{}」\n{}", title(&e.section), e.body));
    }
    m
}

/// `GET /acceptance/projects/{id}/award/{form}/{format}`: pdf or docx — refused
/// (409, every section over its limit named) while any section is over.
pub async fn award_export(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, form_id, format)): Path<(i64, String, String)>,
) -> Result<Response, AppError> {
    let project = state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let form = load_form(&state, &form_id)?;
    let texts = state.db.award_texts(id, &form_id).await?;
    let text_of = |s: &str| texts.get(s).cloned().unwrap_or_default();
    let over = crate::acceptance::award::over_limit(&form, text_of);
    if !over.is_empty() {
        let msg = over
            .iter()
            .map(|(t, n, l)| format!("“{t}”{n} 字，超过 {l} 字的限制 {} 字", n - l))
            .collect::<Vec<_>>()
            .join("\n");
        return Ok((
            StatusCode::CONFLICT,
            award_page_of(
                &state,
                &viewer,
                id,
                &form_id,
                Some(texts.clone()),
                format!("不能导出：\n{msg}"),
            )
            .await?,
        )
            .into_response());
    }
    let file = format!("{}-{}", form_id, id);
    match format.as_str() {
        "docx" => {
            let bytes = crate::acceptance::award::docx(&form, &project.name, text_of)
                .map_err(AppError::Internal)?;
            Ok(super::download(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                &format!("{file}.docx"),
                bytes,
            ))
        }
        "pdf" => {
            let sections: Vec<serde_json::Value> = form
                .sections
                .iter()
                .map(|s| {
                    let t = text_of(&s.id);
                    serde_json::json!({
                        "title": s.title, "limit": s.limit,
                        "count": crate::acceptance::chars::count(&t),
                        "paragraphs": t.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let data = serde_json::json!({ "title": form.title, "project": project.name, "undertaker": project.undertaker, "sections": sections });
            let pdf = render_pdf(
                "templates/award_form.typ",
                include_str!("../../templates/award_form.typ"),
                data,
            )
            .await?;
            Ok(super::download(
                "application/pdf",
                &format!("{file}.pdf"),
                pdf,
            ))
        }
        _ => Err(AppError::NotFound),
    }
}

// ---------------------------------------------------------------------------
// The project: indicators, evidence, narrative, self-evaluation report

/// Biaozhun's own figures for live indicators, drafts and the self-evaluation
/// report. `trainings` reads the whole platform export, so only callers that
/// show the training count ask for it.
async fn live_figures(
    state: &AppState,
    trainings: bool,
) -> Result<crate::acceptance::indicators::Live, AppError> {
    let content = state.content();
    let conformance = match state.db.audits().await.map_err(AppError::from)?.first() {
        Some(a) => conformance_of(state, a.id).await?.0,
        None => None,
    };
    let latest = crate::survey::stored::latest(&state.db).await?;
    let dir = state.platform_dir.clone();
    let key = state.pseudonym_key.clone();
    let trainings = tokio::task::spawn_blocking(move || {
        (trainings && dir.exists()).then(|| {
            crate::platform::import::import_dir(
                &dir,
                &crate::platform::import::Options { key: &key },
            )
            .ok()
            .map(|p| p.trainings.len())
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .flatten();
    Ok(crate::acceptance::indicators::Live {
        standards_total: content.coll.standards.len(),
        standards_enterprise: content
            .coll
            .standards
            .iter()
            .filter(|s| s.meta.code.starts_with("Q/"))
            .count(),
        standards_by_node: content
            .coll
            .standards
            .iter()
            .fold(BTreeMap::new(), |mut m, s| {
                let node = s.meta.category.as_deref().and_then(|c| c.split('/').next());
                *m.entry(node.unwrap_or("未分类").to_string()).or_default() += 1;
                m
            }),
        audit_conformance: conformance,
        survey_csat: latest.as_ref().and_then(|r| r.csat),
        survey_valid: latest.as_ref().map(|r| r.valid),
        survey_score: latest.as_ref().and_then(|r| r.score),
        trainings,
    })
}

/// (conformance rate %, nonconforming clauses) of an audit, from its verdicts:
/// (符合 + 观察项) ÷ (符合 + 观察项 + 不符合), as in docs/reports.md.
async fn conformance_of(state: &AppState, audit: i64) -> Result<(Option<f64>, usize), AppError> {
    use crate::db::audits::Verdict;
    let v = state
        .db
        .clause_verdicts(audit)
        .await
        .map_err(AppError::from)?;
    let ok = v
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Conform | Verdict::Observation))
        .count();
    let bad = v
        .iter()
        .filter(|c| c.verdict == Verdict::Nonconform)
        .count();
    Ok((
        (ok + bad > 0).then(|| ok as f64 * 100.0 / (ok + bad) as f64),
        bad,
    ))
}

pub struct IndicatorRow {
    pub name: String,
    pub unit: String,
    pub baseline: String,
    pub target: String,
    pub actual: String,
    pub source: String,
    pub achieved: &'static str,
    pub evidence: String,
}

fn indicator_rows(
    list: &[crate::db::acceptance::Indicator],
    live: &crate::acceptance::indicators::Live,
) -> Vec<IndicatorRow> {
    use crate::acceptance::indicators::{LIVE, achieved};
    list.iter()
        .map(|i| {
            let (actual, source) = match i.source.strip_prefix("live:") {
                Some(m) => (
                    live.value(m)
                        .map(crate::acceptance::fmt_points)
                        .unwrap_or_else(|| "（暂无数据）".into()),
                    LIVE.iter()
                        .find(|(id, _, _)| *id == m)
                        .map(|(_, label, _)| format!("平台数据：{label}"))
                        .unwrap_or_else(|| format!("平台数据：{m}")),
                ),
                None => (i.actual.clone(), "填报".to_string()),
            };
            IndicatorRow {
                achieved: match achieved(&i.direction, &i.target, &actual) {
                    Some(true) => "已达成",
                    Some(false) => "未达成",
                    None => "—",
                },
                name: i.name.clone(),
                unit: i.unit.clone(),
                baseline: i.baseline.clone(),
                target: i.target.clone(),
                actual,
                source,
                evidence: i.evidence_sha.clone(),
            }
        })
        .collect()
}

pub struct CategoryRow {
    pub name: String,
    pub files: Vec<(String, String, String)>,
    pub done: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "project.html")]
pub struct ProjectPage {
    nav: Nav,
    writer: bool,
    p: crate::db::acceptance::Project,
    indicators: Vec<IndicatorRow>,
    live: Vec<(&'static str, &'static str, &'static str)>,
    categories: Vec<CategoryRow>,
    /// (sha, file name) of every evidence file, for an indicator's evidence.
    files: Vec<(String, String)>,
    missing: Vec<String>,
    /// (key, title, text, fingerprint of the text: sent back as `was_<key>`).
    narratives: Vec<(String, String, String, String)>,
    message: String,
}

async fn project_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    message: String,
) -> Result<ProjectPage, AppError> {
    let user = viewer.signed()?;
    let p = state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let list = state.db.indicators(id).await?;
    let live = live_figures(state, list.iter().any(|i| i.source == "live:trainings")).await?;
    let indicators = indicator_rows(&list, &live);
    let files = state.db.evidence_of(id).await?;
    let done = state.db.evidence_done(id).await?;
    let categories: Vec<CategoryRow> = crate::acceptance::EVIDENCE_CATEGORIES
        .iter()
        .map(|c| CategoryRow {
            name: c.to_string(),
            files: files
                .iter()
                .filter(|f| f.category == *c)
                .map(|f| (f.file_name.clone(), f.sha256.clone(), f.note.clone()))
                .collect(),
            done: done.iter().any(|d| d == c),
        })
        .collect();
    let missing = categories
        .iter()
        .filter(|c| !c.done)
        .map(|c| {
            if c.files.is_empty() {
                format!("{}（无材料）", c.name)
            } else {
                format!("{}（未确认齐全）", c.name)
            }
        })
        .collect();
    let texts = state.db.award_texts(id, "self-evaluation").await?;
    Ok(ProjectPage {
        nav: Nav::of(viewer),
        writer: matches!(user.role, Role::Reviewer | Role::Admin),
        indicators,
        live: crate::acceptance::indicators::LIVE.to_vec(),
        categories,
        files: files
            .iter()
            .map(|f| (f.sha256.clone(), f.file_name.clone()))
            .collect(),
        missing,
        narratives: crate::acceptance::NARRATIVES
            .iter()
            .map(|(k, t)| {
                let text = texts.get(*k).cloned().unwrap_or_default();
                let was = crate::db::acceptance::fingerprint(&text);
                (k.to_string(), t.to_string(), text, was)
            })
            .collect(),
        message,
        p,
    })
}

pub async fn project(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<ProjectPage, AppError> {
    project_page(&state, &viewer, id, String::new()).await
}

/// `POST /acceptance/projects/{id}/indicators`: name, unit, direction, baseline,
/// target, and either `source` = live:<metric> or an entered `actual`.
pub async fn add_indicator(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let get = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let source = match get("source").as_str() {
        "" | "manual" => "manual".to_string(),
        s if crate::acceptance::indicators::LIVE
            .iter()
            .any(|(m, _, _)| format!("live:{m}") == s) =>
        {
            s.to_string()
        }
        s => {
            return Ok(
                project_page(&state, &viewer, id, format!("未知的数据来源“{s}”"))
                    .await?
                    .into_response(),
            );
        }
    };
    let i = crate::db::acceptance::Indicator {
        name: get("name"),
        unit: get("unit"),
        direction: get("direction"),
        baseline: get("baseline"),
        target: get("target"),
        actual: get("actual"),
        source,
        note: get("note"),
        evidence_sha: get("evidence"),
        ..Default::default()
    };
    if !i.evidence_sha.is_empty()
        && !state
            .db
            .evidence_of(id)
            .await?
            .iter()
            .any(|f| f.sha256 == i.evidence_sha)
    {
        return Ok(
            project_page(&state, &viewer, id, "所选证明材料不属于本项目".into())
                .await?
                .into_response(),
        );
    }
    match state.db.indicator_add(id, &i).await {
        Ok(_) => Ok(Redirect::to(&format!("/acceptance/projects/{id}#indicators")).into_response()),
        Err(ReviewError::Invalid(m)) => {
            Ok(project_page(&state, &viewer, id, m).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /acceptance/projects/{id}/evidence` (multipart: category, file, note).
pub async fn add_evidence(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    form: axum::extract::Multipart,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let (fields, file) = super::read_multipart(form, "file").await?;
    let category = fields.get("category").cloned().unwrap_or_default();
    if !crate::acceptance::EVIDENCE_CATEGORIES.contains(&category.as_str()) {
        return Ok(project_page(&state, &viewer, id, "请选择材料类别".into())
            .await?
            .into_response());
    }
    let Some((name, bytes)) = file else {
        return Ok(
            project_page(&state, &viewer, id, "请选择要上传的文件".into())
                .await?
                .into_response(),
        );
    };
    // Checked first; written only with the row that cites it.
    let stored = match state.evidence.check(&bytes, &name) {
        Ok(s) => s,
        Err(e) => {
            return Ok(project_page(&state, &viewer, id, e.to_string())
                .await?
                .into_response());
        }
    };
    let note = fields.get("note").cloned().unwrap_or_default();
    let row = state
        .db
        .evidence_add(id, &category, &name, &stored, note.trim(), Some(user.id));
    match state
        .evidence
        .record(&bytes, row)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
    {
        Ok(()) => Ok(Redirect::to(&format!("/acceptance/projects/{id}#evidence")).into_response()),
        Err(ReviewError::Invalid(m)) => {
            Ok(project_page(&state, &viewer, id, m).await?.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /acceptance/projects/{id}/evidence/done`: category, done = 1 | 0.
pub async fn mark_evidence(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let category = f.get("category").cloned().unwrap_or_default();
    if !crate::acceptance::EVIDENCE_CATEGORIES.contains(&category.as_str()) {
        return Err(AppError::BadRequest("未知的材料类别".into()));
    }
    state
        .db
        .evidence_mark(
            id,
            &category,
            f.get("done").map(String::as_str) == Some("1"),
            Some(user.id),
        )
        .await?;
    Ok(Redirect::to(&format!("/acceptance/projects/{id}#evidence")).into_response())
}

/// `GET /acceptance/projects/{id}/evidence/{sha}`: a file of this project's evidence.
pub async fn evidence_file(
    State(state): State<AppState>,
    Path((id, sha)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let files = state.db.evidence_of(id).await?;
    let Some(f) = files.iter().find(|f| f.sha256 == sha) else {
        return Err(AppError::NotFound);
    };
    let bytes = state
        .evidence
        .get(&sha)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, f.mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", f.sha256),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `POST /acceptance/projects/{id}/narrative`: the self-evaluation's written parts.
pub async fn save_narrative(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    state.db.project(id).await?.ok_or(AppError::NotFound)?;
    // Only the parts the form sent and changed are written.
    let texts: BTreeMap<String, String> = crate::acceptance::NARRATIVES
        .iter()
        .filter_map(|(k, _)| {
            f.get(&format!("n_{k}"))
                .map(|t| (k.to_string(), t.replace("\r\n", "\n").trim().to_string()))
        })
        .collect();
    let edits = changed_texts(&f, &texts);
    match state
        .db
        .award_update(id, "self-evaluation", &edits, Some(user.id))
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/acceptance/projects/{id}#narrative")).into_response()),
        Err(ReviewError::Stale(sections)) => {
            let titles: Vec<(String, String)> = crate::acceptance::NARRATIVES
                .iter()
                .map(|(k, t)| (k.to_string(), t.to_string()))
                .collect();
            let message = stale_texts_message(&sections, &edits, &titles);
            let page = project_page(&state, &viewer, id, message).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /acceptance/projects/{id}/self-evaluation.pdf`: 项目实施自我评价报告.
pub async fn self_evaluation(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let p = state.db.project(id).await?.ok_or(AppError::NotFound)?;
    let live = live_figures(&state, true).await?;
    let indicators = indicator_rows(&state.db.indicators(id).await?, &live);
    let content = state.content();
    let mut by_node: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for s in &content.coll.standards {
        let node = s.meta.category.clone().unwrap_or_else(|| "未分类".into());
        by_node
            .entry(node)
            .or_default()
            .push(serde_json::json!({ "code": s.meta.code, "title": s.meta.title }));
    }
    let mut audits = Vec::new();
    for a in state.db.audits().await.map_err(AppError::from)? {
        let (rate, bad) = conformance_of(&state, a.id).await?;
        let findings = state.db.findings(a.id).await.map_err(AppError::from)?;
        audits.push(serde_json::json!({
            "name": a.name, "period": format!("{} 至 {}", a.period_from, a.period_to),
            "rate": rate.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into()),
            "nonconform": bad, "findings": findings.len(),
            "open": findings.iter().filter(|f| f.status == "open").count(),
            "corrected": findings.iter().filter(|f| f.status == "corrected").count(),
            "verified": findings.iter().filter(|f| f.status == "verified").count(),
        }));
    }
    let surveys: Vec<serde_json::Value> = crate::survey::stored::results(&state.db)
        .await?
        .into_iter()
        .filter(|r| r.valid > 0)
        .map(|r| {
            serde_json::json!({
                "title": r.title, "version": r.version, "valid": r.valid,
                "score": r.score.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into()),
                "csat": r.csat.map(|x| format!("{x:.1}%")).unwrap_or_else(|| "—".into()),
            })
        })
        .collect();
    let texts = state.db.award_texts(id, "self-evaluation").await?;
    let narrative = |k: &str| -> Vec<String> {
        texts
            .get(k)
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let files = state.db.evidence_of(id).await?;
    let done = state.db.evidence_done(id).await?;
    let evidence: Vec<serde_json::Value> = crate::acceptance::EVIDENCE_CATEGORIES
        .iter()
        .map(|c| {
            let n = files.iter().filter(|f| f.category == *c).count();
            serde_json::json!({ "category": c, "files": n, "done": done.iter().any(|d| d == c) })
        })
        .collect();
    let data = serde_json::json!({
        "project": p,
        "team": p.team.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>(),
        "standards_total": content.coll.standards.len(),
        "nodes": by_node.iter().map(|(n, list)| serde_json::json!({ "node": n, "count": list.len(), "standards": list })).collect::<Vec<_>>(),
        "trainings": live.trainings.map(|n| n.to_string()).unwrap_or_else(|| "—".into()),
        "audits": audits,
        "surveys": surveys,
        "indicators": indicators.iter().map(|i| serde_json::json!({
            "name": i.name, "unit": i.unit, "baseline": i.baseline, "target": i.target,
            "actual": i.actual, "source": i.source, "achieved": i.achieved,
        })).collect::<Vec<_>>(),
        "evidence": evidence,
        "organisation": narrative("organisation"),
        "innovation": narrative("innovation"),
        "problems": narrative("problems"),
        "next_steps": narrative("next-steps"),
    });
    let pdf = render_pdf(
        "templates/self_evaluation.typ",
        include_str!("../../templates/self_evaluation.typ"),
        data,
    )
    .await?;
    Ok(super::download(
        "application/pdf",
        &format!("self-evaluation-{id}.pdf"),
        pdf,
    ))
}
