//! Satisfaction surveys on the web: definitions (YAML, versioned), links to the
//! public mobile form (with QR codes), phone-interview entry, 问卷星 imports with a
//! preview, statistics with the invalid responses listed, downloads (PDF, XLSX,
//! JSON), and the return visit (回访) drawn from an audit.
//!
//! The public form needs no login. It resists abuse three ways: every rendered form
//! carries a visit token signed with the installation's key (issue time, survey
//! version, nonce), so a response cannot be posted without fetching the form and
//! the duration is measured by the server; a nonce takes one response (a single
//! link's nonce is its token); and open links take at most [`PER_IP_PER_HOUR`]
//! responses per address an hour. A hidden honeypot field catches form-filling bots.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::db::accounts::Role;
use crate::db::surveys::{Link, ResponseMeta, SampleRow, Saved, SurveyError, SurveyRow};
use crate::survey::Response as SurveyResponse;
use crate::survey::validity::{self, Reason, Rules};
use crate::survey::{Answer, Channel, Kind, Survey};

use crate::survey::stored::{Loaded, load};

use super::pages::Nav;
use super::{AppError, AppState, Viewer, download, render_pdf};

/// Responses one address may send through open links in an hour.
pub const PER_IP_PER_HOUR: i64 = 10;
/// A form older than this must be reloaded.
const VISIT_TTL_S: i64 = 24 * 3600;
/// Faster than this, a submission is a bot's, not a person's.
const MIN_HUMAN_S: i64 = 3;
/// Longest answer to an open question.
const MAX_TEXT: usize = 2000;

impl From<SurveyError> for AppError {
    fn from(e: SurveyError) -> Self {
        match e {
            SurveyError::Missing => AppError::NotFound,
            SurveyError::Db(d) => AppError::Internal(d.to_string()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

fn is_staff(v: &Viewer) -> bool {
    matches!(v.role(), Some(Role::Reviewer | Role::Auditor | Role::Admin))
}

fn date_time(t: i64) -> String {
    crate::audit::time::format_instant(t * 1_000_000, 480)
        .get(..16)
        .unwrap_or_default()
        .replace('T', " ")
}

/// Where `surveys/*.yaml` live: beside the standards directory.
pub fn surveys_dir(standards: &std::path::Path) -> std::path::PathBuf {
    standards.with_file_name("surveys")
}

/// Registers the repository's survey definitions (a changed file becomes a new
/// version once the old one has responses). A broken file is logged and skipped:
/// it must not stop the server.
pub async fn load_repo_surveys(state: &AppState, dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for f in files {
        let name = f.display().to_string();
        let Ok(text) = std::fs::read_to_string(&f) else {
            tracing::warn!(file = %name, "cannot read the survey definition");
            continue;
        };
        match Survey::from_yaml(&text, &name) {
            // A template is a model for audits, not a survey to run.
            Ok(s) if s.template.is_some() => {}
            Ok(s) => {
                if let Err(e) = state.db.survey_save(&s, &text, None, None).await {
                    tracing::warn!(file = %name, error = %e, "cannot store the survey");
                }
            }
            Err(e) => {
                tracing::warn!(file = %name, errors = %e.join("; "), "survey definition has errors")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The list and definitions

pub struct ListRow {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub version: i64,
    pub responses: i64,
    pub last: String,
    pub audit_id: Option<i64>,
    pub older: Vec<(i64, i64, i64)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "surveys.html")]
pub struct ListPage {
    nav: Nav,
    staff: bool,
    surveys: Vec<ListRow>,
    message: String,
    yaml: String,
}

const NEW_SURVEY: &str = "id: outlet-visit-2024
title: 社区家政服务网点满意度调查
purpose: 了解居民对社区家政服务网点的满意程度
clauses:
  - \"T/ZTAC 002—2023#4.2\"
overall: overall
scale: 非常满意→非常不满意   # 问卷中满意度选项的排列顺序（按选项序号导入时据此解读）
questions:
  - id: overall
    text: 总体而言，您对网点的服务是否满意
    kind: likert
  - id: items
    text: 您对网点以下方面是否满意
    kind: matrix
    rows: [环境与公示, 工作人员态度, 办事效率]
  - id: known
    text: 您是否了解网点提供的服务项目
    kind: single
    options: [了解, 部分了解, 不了解]
  - id: advice
    text: 您的意见和建议
    kind: text
    required: false
";

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    message: String,
    yaml: String,
) -> Result<ListPage, AppError> {
    let all = state.db.surveys().await?;
    let mut rows: Vec<ListRow> = Vec::new();
    for s in all {
        match rows.last_mut() {
            Some(last) if last.key == s.row.key => {
                last.older.push((s.row.id, s.row.version, s.responses));
            }
            _ => rows.push(ListRow {
                id: s.row.id,
                key: s.row.key.clone(),
                title: s.row.title.clone(),
                version: s.row.version,
                responses: s.responses,
                last: s.last_at.map(date_time).unwrap_or_else(|| "—".into()),
                audit_id: s.row.audit_id,
                older: Vec::new(),
            }),
        }
    }
    Ok(ListPage {
        nav: Nav::of(viewer),
        staff: is_staff(viewer),
        surveys: rows,
        message,
        yaml: if yaml.is_empty() {
            NEW_SURVEY.into()
        } else {
            yaml
        },
    })
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<ListPage, AppError> {
    list_page(&state, &viewer, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct DefinitionForm {
    yaml: String,
}

/// `POST /surveys`: a new survey, or a new version of the survey its `id` names.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<DefinitionForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let yaml = f.yaml.replace("\r\n", "\n");
    let survey = match Survey::from_yaml(&yaml, "问卷定义") {
        Ok(s) => s,
        Err(e) => {
            return Ok(list_page(&state, &viewer, e.join("\n"), yaml)
                .await?
                .into_response());
        }
    };
    let (row, saved) = state
        .db
        .survey_save(&survey, &yaml, None, Some(user.id))
        .await?;
    state
        .db
        .log(
            &viewer.actor(),
            "survey.save",
            &format!("{} v{}", row.key, row.version),
            &format!("{saved:?}"),
        )
        .await?;
    Ok(Redirect::to(&format!("/surveys/{}?saved={}", row.id, saved_param(saved))).into_response())
}

fn saved_param(s: Saved) -> &'static str {
    match s {
        Saved::Created => "created",
        Saved::Updated => "updated",
        Saved::NewVersion => "version",
        Saved::Unchanged => "unchanged",
    }
}

/// `POST /surveys/{id}/edit`: the definition of this survey, changed. The `id:` in
/// the YAML must stay; with responses the save is a new version.
pub async fn edit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<DefinitionForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let yaml = f.yaml.replace("\r\n", "\n");
    let fail = |m: String| async {
        Ok::<_, AppError>(
            show_page(&state, &viewer, id, None, m, Some(yaml.clone()))
                .await?
                .into_response(),
        )
    };
    let survey = match Survey::from_yaml(&yaml, "问卷定义") {
        Ok(s) => s,
        Err(e) => return fail(e.join("\n")).await,
    };
    if survey.id != row.key {
        return fail(format!(
            "问卷编号（id）不能修改：本问卷为“{}”，提交的是“{}”。要新建问卷请到问卷列表。",
            row.key, survey.id
        ))
        .await;
    }
    let (saved_row, saved) = state
        .db
        .survey_save(&survey, &yaml, row.audit_id, Some(user.id))
        .await?;
    state
        .db
        .log(
            &viewer.actor(),
            "survey.save",
            &format!("{} v{}", saved_row.key, saved_row.version),
            &format!("{saved:?}"),
        )
        .await?;
    Ok(Redirect::to(&format!(
        "/surveys/{}?saved={}",
        saved_row.id,
        saved_param(saved)
    ))
    .into_response())
}

// ---------------------------------------------------------------------------
// One survey

pub struct OptionRow {
    pub option: String,
    pub count: usize,
    pub percent: String,
    pub value: String,
}

pub struct QuestionRow {
    pub n: usize,
    pub text: String,
    pub kind: &'static str,
    pub answered: usize,
    pub mean: String,
    pub options: Vec<OptionRow>,
    pub texts: Vec<String>,
    pub clauses: Vec<String>,
}

pub struct InvalidRow {
    pub id: i64,
    pub source: String,
    pub channel: &'static str,
    pub at: String,
    pub reasons: String,
}

pub struct LinkRow {
    pub link: Link,
    pub url: String,
    pub qr: String,
    pub created: String,
}

pub struct VersionRow {
    pub id: i64,
    pub version: i64,
    pub responses: i64,
    pub current: bool,
}

pub struct Figure {
    pub label: &'static str,
    pub value: String,
    pub note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "survey.html")]
pub struct ShowPage {
    nav: Nav,
    staff: bool,
    row: SurveyRow,
    survey: Survey,
    message: String,
    notice: String,
    figures: Vec<Figure>,
    channels: String,
    rules: Vec<String>,
    questions: Vec<QuestionRow>,
    invalid: Vec<InvalidRow>,
    links: Vec<LinkRow>,
    imports: Vec<(String, String, i64, String)>,
    versions: Vec<VersionRow>,
    others: Vec<(i64, String)>,
    previous: Option<i64>,
    sample: Vec<SampleRow>,
    sample_done: usize,
    yaml: String,
}

fn pct(x: Option<f64>, d: usize) -> String {
    x.map(|v| format!("{v:.d$}%")).unwrap_or_else(|| "—".into())
}

fn num(x: Option<f64>, d: usize) -> String {
    x.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "—".into())
}

pub fn rule_lines(r: &Rules) -> Vec<String> {
    let mut out = vec!["必答题（及总体满意程度题）未答的答卷无效".to_string()];
    if let Some(m) = r.min_seconds {
        out.push(format!("网上答卷用时少于 {m} 秒无效（电话访问不适用）"));
    }
    out.push(format!(
        "同一来源（IP 或电话）在 {} 小时内提交相同答案的，保留首份，其余为重复",
        r.duplicate_window_s / 3600
    ));
    if let Some(n) = r.straight_line_items {
        out.push(format!("评分题不少于 {n} 道且全部同一答案的，视为直线作答"));
    }
    out
}

/// The public address of the server as the browser used it (for links and QR codes).
fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}")
}

fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

async fn show_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    previous: Option<i64>,
    message: String,
    yaml: Option<String>,
) -> Result<ShowPage, AppError> {
    show_page_at(
        state,
        viewer,
        id,
        previous,
        message,
        String::new(),
        yaml,
        "",
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn show_page_at(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    previous: Option<i64>,
    message: String,
    notice: String,
    yaml: Option<String>,
    base: &str,
) -> Result<ShowPage, AppError> {
    let l = load(&state.db, id, previous).await?;
    let s = &l.stats;
    let mut figures = vec![
        Figure {
            label: "有效答卷",
            value: s.valid.to_string(),
            note: format!("共收回 {} 份，无效 {} 份", s.responses, s.invalid),
        },
        Figure {
            label: "满意度得分（均值，满分 5）",
            value: num(s.score, 2),
            note: match s.respondent_ci95 {
                Some((lo, hi)) => format!("受访者得分 95% 置信区间 {lo:.2}–{hi:.2}"),
                None => "—".into(),
            },
        },
        Figure {
            label: "得分率（均值 ÷ 5，试点口径）",
            value: pct(s.satisfaction_percent, 1),
            note: "不等于满意度，见右".into(),
        },
        Figure {
            label: "满意度（满意及以上占比）",
            value: pct(s.csat_percent, 1),
            note: format!("±{} 个百分点；{}", num(s.csat_margin, 1), s.csat_basis),
        },
        Figure {
            label: "Cronbach's α",
            value: num(s.alpha, 3),
            note: format!("{} 人作答全部评分题", s.alpha_n),
        },
    ];
    if let Some(c) = &s.comparison {
        figures.push(Figure {
            label: "与上次比较",
            value: format!("{:+.2}", c.score_change),
            note: format!(
                "上次 {:.2}；t = {:.2}，p = {:.3}，{}；满意度 {:+.1} 个百分点（p = {:.3}）",
                c.previous_score,
                c.t,
                c.p,
                if c.significant {
                    "差异显著"
                } else {
                    "差异不显著"
                },
                c.csat_change,
                c.csat_p
            ),
        });
    }
    let channels = s
        .by_channel
        .iter()
        .map(|(k, v)| format!("{k} {v} 份"))
        .collect::<Vec<_>>()
        .join("，");
    let questions: Vec<QuestionRow> = s
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| QuestionRow {
            n: i + 1,
            text: q.text.clone(),
            kind: match q.kind {
                Kind::Likert => "满意度",
                Kind::Single => "单选",
                Kind::Multiple => "多选",
                Kind::Matrix => "矩阵",
                Kind::Text => "开放",
            },
            answered: q.answered,
            mean: num(q.mean, 2),
            options: q
                .options
                .iter()
                .map(|o| OptionRow {
                    option: o.option.clone(),
                    count: o.count,
                    percent: format!("{:.2}%", o.percent),
                    value: format!("{:.0}", o.percent),
                })
                .collect(),
            texts: q.texts.iter().take(20).cloned().collect(),
            clauses: l
                .survey
                .question(&q.id)
                .map(|d| d.clauses.clone())
                .unwrap_or_default(),
        })
        .collect();
    let invalid: Vec<InvalidRow> = l
        .stored
        .iter()
        .zip(&l.validity)
        .filter(|(_, v)| !v.is_empty())
        .map(|(r, v)| InvalidRow {
            id: r.id,
            source: r.response.source.clone(),
            channel: r.response.channel.label(),
            at: r.response.submitted_at.map(date_time).unwrap_or_default(),
            reasons: v.iter().map(Reason::label).collect::<Vec<_>>().join("；"),
        })
        .collect();
    let links = state
        .db
        .survey_links(&l.row.key)
        .await?
        .into_iter()
        .map(|link| {
            let url = format!("{base}/s/{}", link.token);
            LinkRow {
                qr: if link.revoked {
                    String::new()
                } else {
                    qr_svg(&url)
                },
                created: date_time(link.created_at),
                url,
                link,
            }
        })
        .collect();
    let imports = state
        .db
        .survey_imports(id)
        .await?
        .into_iter()
        .map(|i| {
            (
                i.file_name,
                i.sha256[..12].to_string(),
                i.rows,
                date_time(i.created_at),
            )
        })
        .collect();
    let all = state.db.surveys().await?;
    let versions = all
        .iter()
        .filter(|s| s.row.key == l.row.key)
        .map(|s| VersionRow {
            id: s.row.id,
            version: s.row.version,
            responses: s.responses,
            current: s.row.id == id,
        })
        .collect();
    let others = all
        .iter()
        .filter(|s| s.row.id != id && s.responses > 0)
        .map(|s| {
            (
                s.row.id,
                format!(
                    "{} 第 {} 版（{} 份）",
                    s.row.title, s.row.version, s.responses
                ),
            )
        })
        .collect();
    let sample = state.db.survey_sample(id).await?;
    let sample_done = sample.iter().filter(|r| r.response_id.is_some()).count();
    Ok(ShowPage {
        nav: Nav::of(viewer),
        staff: is_staff(viewer),
        figures,
        channels,
        rules: rule_lines(&l.rules),
        questions,
        invalid,
        links,
        imports,
        versions,
        others,
        previous,
        sample,
        sample_done,
        yaml: yaml.unwrap_or_else(|| l.row.definition.clone()),
        message,
        notice,
        survey: l.survey,
        row: l.row,
    })
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    previous: Option<i64>,
    #[serde(default)]
    saved: String,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<ShowPage, AppError> {
    let notice = match q.saved.as_str() {
        "created" => "问卷已创建。",
        "updated" => "已保存（该版本尚无答卷，原地修改）。",
        "version" => "该问卷已有答卷，修改已保存为新版本；原版本及其答卷保持不变。",
        "unchanged" => "定义没有变化。",
        "imported" => "导入完成。",
        "sampled" => "回访抽样完成：下面是电话访问名单。",
        _ => "",
    };
    show_page_at(
        &state,
        &viewer,
        id,
        q.previous,
        String::new(),
        notice.into(),
        None,
        &base_url(&headers),
    )
    .await
}

#[derive(Deserialize)]
pub struct SuggestionsForm {
    text: String,
}

pub async fn suggestions(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<SuggestionsForm>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    state.db.survey_set_suggestions(id, f.text.trim()).await?;
    Ok(Redirect::to(&format!("/surveys/{id}#report")).into_response())
}

// ---------------------------------------------------------------------------
// Links

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    label: String,
}

/// `POST /surveys/{id}/links`: one open link (a poster's QR code) or up to 500
/// single links (one per customer, e.g. sent by SMS).
pub async fn create_links(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<LinkForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let open = f.kind == "open";
    let n: usize = if open {
        1
    } else {
        match f.count.trim().parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Ok(show_page(
                    &state,
                    &viewer,
                    id,
                    None,
                    format!("链接数量“{}”无效：请填写 1 到 500", f.count),
                    None,
                )
                .await?
                .into_response());
            }
        }
    };
    for _ in 0..n {
        state
            .db
            .survey_link_create(&row.key, open, f.label.trim(), Some(user.id))
            .await?;
    }
    Ok(Redirect::to(&format!("/surveys/{id}#links")).into_response())
}

pub async fn revoke_link(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, token)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    if !state.db.survey_link_revoke(&row.key, &token).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("/surveys/{id}#links")).into_response())
}

/// `GET /surveys/{id}/links.csv`: the unused single links, for a mail merge.
pub async fn links_csv(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let base = base_url(&headers);
    let mut csv = String::from("\u{feff}链接,类型,备注,已收答卷\n");
    for l in state.db.survey_links(&row.key).await? {
        if l.revoked {
            continue;
        }
        csv.push_str(&format!(
            "{base}/s/{},{},{},{}\n",
            l.token,
            if l.open { "公开" } else { "一次性" },
            l.label.replace([',', '\n', '"'], " "),
            l.responses
        ));
    }
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("{}-links.csv", row.key),
        csv.into_bytes(),
    ))
}

// ---------------------------------------------------------------------------
// Forms: the public one and the phone interview

pub struct FormOption {
    pub index: usize,
    pub text: String,
    pub checked: bool,
}

pub struct FormQuestion {
    pub n: usize,
    pub id: String,
    pub text: String,
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<FormOption>,
    pub value: String,
    /// The stem of a matrix, shown before its first row.
    pub stem: Option<String>,
    /// A row of a matrix (numbered with its stem).
    pub row: bool,
}

fn form_questions(survey: &Survey, answers: &BTreeMap<String, Answer>) -> Vec<FormQuestion> {
    let mut out = Vec::new();
    let mut last_group: Option<&str> = None;
    let mut n = 0;
    for q in &survey.questions {
        let stem = match (&q.group, last_group) {
            (Some(g), Some(l)) if g == l => None,
            (Some(_), _) => q
                .row
                .as_deref()
                .and_then(|r| q.text.strip_suffix(&format!("：{r}")))
                .map(String::from),
            (None, _) => None,
        };
        if q.group.is_none() || stem.is_some() {
            n += 1;
        }
        last_group = q.group.as_deref();
        let a = answers.get(&q.id);
        let checked = |i: usize| match a {
            Some(Answer::Choice(c)) => *c == i,
            Some(Answer::Choices(cs)) => cs.contains(&i),
            _ => false,
        };
        out.push(FormQuestion {
            n,
            id: q.id.clone(),
            text: q.row.clone().unwrap_or_else(|| q.text.clone()),
            kind: match q.kind {
                Kind::Likert | Kind::Single | Kind::Matrix => "single",
                Kind::Multiple => "multiple",
                Kind::Text => "text",
            },
            required: q.required || survey.overall.as_deref() == Some(q.id.as_str()),
            options: q
                .choices()
                .into_iter()
                .enumerate()
                .map(|(i, t)| FormOption {
                    index: i,
                    text: t,
                    checked: checked(i),
                })
                .collect(),
            value: match a {
                Some(Answer::Text(t)) => t.clone(),
                _ => String::new(),
            },
            stem,
            row: q.group.is_some(),
        });
    }
    out
}

/// Reads `q_<id>` fields into answers; errors name the question.
fn read_answers(
    survey: &Survey,
    fields: &[(String, String)],
) -> (BTreeMap<String, Answer>, Vec<String>) {
    let mut answers = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, q) in survey.questions.iter().enumerate() {
        let key = format!("q_{}", q.id);
        let values: Vec<&str> = fields
            .iter()
            .filter(|(k, v)| *k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect();
        if values.is_empty() {
            continue;
        }
        let n = q.choices().len();
        let index = |v: &str| v.parse::<usize>().ok().filter(|x| *x < n);
        match q.kind {
            Kind::Text => {
                let t: String = values.join("\n").chars().take(MAX_TEXT).collect();
                answers.insert(q.id.clone(), Answer::Text(t));
            }
            Kind::Multiple => {
                let mut picked: Vec<usize> = Vec::new();
                for v in &values {
                    match index(v) {
                        Some(x) if !picked.contains(&x) => picked.push(x),
                        Some(_) => {}
                        None => errors.push(format!("第 {} 题：选项“{v}”无效", i + 1)),
                    }
                }
                picked.sort_unstable();
                if !picked.is_empty() {
                    answers.insert(q.id.clone(), Answer::Choices(picked));
                }
            }
            _ => match (index(values[0]), values.len()) {
                (Some(x), 1) => {
                    answers.insert(q.id.clone(), Answer::Choice(x));
                }
                (_, 1) => errors.push(format!("第 {} 题：选项“{}”无效", i + 1, values[0])),
                _ => errors.push(format!("第 {} 题是单选题，只能选一项", i + 1)),
            },
        }
    }
    let missing: Vec<String> = survey
        .questions
        .iter()
        .filter(|q| {
            (q.required || survey.overall.as_deref() == Some(q.id.as_str()))
                && !answers.contains_key(&q.id)
        })
        .map(|q| q.row.clone().unwrap_or_else(|| q.text.clone()))
        .collect();
    if !missing.is_empty() {
        errors.push(format!("请回答：{}", missing.join("；")));
    }
    (answers, errors)
}

#[derive(Template, WebTemplate)]
#[template(path = "survey_form.html")]
pub struct PublicForm {
    title: String,
    purpose: String,
    action: String,
    visit: String,
    questions: Vec<FormQuestion>,
    errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "survey_done.html")]
pub struct DonePage {
    title: String,
    message: String,
}

fn done(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        DonePage {
            title: title.into(),
            message: message.into(),
        },
    )
        .into_response()
}

fn mac_hex(key: &[u8], msg: &str) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"survey-visit\0");
    mac.update(msg.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `version.issued.nonce.mac`.
fn visit_token(key: &[u8], survey_id: i64, nonce: &str) -> String {
    let msg = format!("{survey_id}.{}.{nonce}", crate::db::now());
    format!("{msg}.{}", mac_hex(key, &msg))
}

/// (survey version id, issued at, nonce) of a genuine visit token.
fn check_visit(key: &[u8], token: &str) -> Option<(i64, i64, String)> {
    let (msg, mac) = token.rsplit_once('.')?;
    let expected = mac_hex(key, msg);
    if expected.is_empty()
        || expected.len() != mac.len()
        || !subtle_eq(expected.as_bytes(), mac.as_bytes())
    {
        return None;
    }
    let mut parts = msg.splitn(3, '.');
    let id = parts.next()?.parse().ok()?;
    let issued = parts.next()?.parse().ok()?;
    let nonce = parts.next()?.to_string();
    Some((id, issued, nonce))
}

/// Constant-time comparison of two equal-length byte strings.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn link_survey(
    state: &AppState,
    token: &str,
) -> Result<Result<(Link, SurveyRow), Response>, AppError> {
    let Some(link) = state.db.survey_link(token).await? else {
        return Ok(Err(done(
            StatusCode::NOT_FOUND,
            "链接无效",
            "没有找到这份问卷：请核对链接或二维码。",
        )));
    };
    if link.revoked {
        return Ok(Err(done(
            StatusCode::GONE,
            "问卷已停止收集",
            "这份问卷已停止收集答卷，感谢您的关注。",
        )));
    }
    if !link.open && link.responses > 0 {
        return Ok(Err(done(
            StatusCode::OK,
            "已提交",
            "这个链接已经提交过答卷，感谢您的参与！",
        )));
    }
    let row = state
        .db
        .survey_latest(&link.survey_key)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Ok((link, row)))
}

fn public_form(
    state: &AppState,
    token: &str,
    row: &SurveyRow,
    survey: &Survey,
    link: &Link,
    answers: &BTreeMap<String, Answer>,
    errors: Vec<String>,
) -> PublicForm {
    let nonce = if link.open {
        crate::db::accounts::random_token()[..24].to_string()
    } else {
        link.token.clone()
    };
    PublicForm {
        title: survey.title.clone(),
        purpose: survey.purpose.clone(),
        action: format!("/s/{token}"),
        visit: visit_token(&state.pseudonym_key, row.id, &nonce),
        questions: form_questions(survey, answers),
        errors,
    }
}

/// `GET /s/{token}`: the public form.
pub async fn public_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (link, row) = match link_survey(&state, &token).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let survey = row.survey()?;
    Ok(public_form(
        &state,
        &token,
        &row,
        &survey,
        &link,
        &BTreeMap::new(),
        Vec::new(),
    )
    .into_response())
}

/// `POST /s/{token}`: a response from the public form.
pub async fn public_post(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(token): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (link, _) = match link_survey(&state, &token).await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    // The honeypot: hidden from people, filled in by bots.
    if !field("homepage").is_empty() {
        return Ok(done(StatusCode::BAD_REQUEST, "提交失败", "提交未被接受。"));
    }
    let now = crate::db::now();
    let Some((survey_id, issued, nonce)) = check_visit(&state.pseudonym_key, field("visit")) else {
        return Ok(done(
            StatusCode::BAD_REQUEST,
            "页面已失效",
            "请重新打开问卷链接后再填写。",
        ));
    };
    if now - issued > VISIT_TTL_S || (!link.open && nonce != link.token) {
        return Ok(done(
            StatusCode::BAD_REQUEST,
            "页面已失效",
            "问卷页面打开太久，请重新打开链接后再填写。",
        ));
    }
    if now - issued < MIN_HUMAN_S {
        return Ok(done(
            StatusCode::TOO_MANY_REQUESTS,
            "提交过快",
            "请阅读题目后再提交。",
        ));
    }
    if link.open && state.db.survey_recent_from(&viewer.ip, now - 3600).await? >= PER_IP_PER_HOUR {
        return Ok((
            [(header::RETRY_AFTER, "3600")],
            done(
                StatusCode::TOO_MANY_REQUESTS,
                "提交过于频繁",
                "同一网络在一小时内提交的答卷已达上限，请稍后再试。",
            ),
        )
            .into_response());
    }
    let row = state
        .db
        .survey(survey_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.key != link.survey_key {
        return Ok(done(
            StatusCode::BAD_REQUEST,
            "页面已失效",
            "请重新打开问卷链接后再填写。",
        ));
    }
    let survey = row.survey()?;
    let (answers, errors) = read_answers(&survey, &fields);
    if !errors.is_empty() {
        let mut form = public_form(&state, &token, &row, &survey, &link, &answers, errors);
        // Keep the first visit's clock and nonce: the duration is the whole visit.
        form.visit = field("visit").to_string();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, form).into_response());
    }
    let response = SurveyResponse {
        source: format!(
            "链接 {}{}",
            &link.token[..8],
            if link.label.is_empty() {
                String::new()
            } else {
                format!("（{}）", link.label)
            }
        ),
        channel: Channel::Online,
        submitted_at: Some(now),
        duration_s: u32::try_from(now - issued).ok(),
        contact: Some(viewer.ip.clone()),
        answers,
    };
    let meta = ResponseMeta {
        nonce: Some(format!("{survey_id}:{nonce}")),
        link_token: Some(link.token.clone()),
        ..Default::default()
    };
    match state.db.survey_respond(survey_id, &response, &meta).await {
        Ok(_) => Ok(done(
            StatusCode::OK,
            "提交成功",
            "感谢您的参与！您的意见将帮助我们改进服务。",
        )),
        Err(SurveyError::AlreadyAnswered) => Ok(done(
            StatusCode::OK,
            "已提交",
            "这份问卷已经提交过，感谢您的参与！",
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "survey_phone.html")]
pub struct PhonePage {
    nav: Nav,
    row: SurveyRow,
    title: String,
    questions: Vec<FormQuestion>,
    errors: Vec<String>,
    notice: String,
    interviewer: String,
    order: String,
    phone: String,
    started: i64,
    sample: Vec<SampleRow>,
}

#[derive(Deserialize, Default)]
pub struct PhoneQuery {
    #[serde(default)]
    order: String,
    #[serde(default)]
    done: String,
}

/// What the interview form shows again: the answers so far and why they were refused.
#[derive(Default)]
struct PhoneDraft {
    order: String,
    phone: String,
    started: i64,
    answers: BTreeMap<String, Answer>,
    errors: Vec<String>,
    notice: String,
}

async fn phone_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    d: PhoneDraft,
) -> Result<PhonePage, AppError> {
    let PhoneDraft {
        order,
        phone,
        started,
        answers,
        errors,
        notice,
    } = d;
    let (order, phone, answers) = (order.as_str(), phone.as_str(), &answers);
    let user = viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let survey = row.survey()?;
    let sample = state.db.survey_sample(id).await?;
    let mine: Vec<SampleRow> = sample
        .into_iter()
        .filter(|s| s.response_id.is_none())
        .filter(|s| {
            s.interviewer.is_empty()
                || s.interviewer == user.display_name
                || s.interviewer == user.username
                || is_staff(viewer)
        })
        .take(50)
        .collect();
    let phone = if phone.is_empty() {
        mine.iter()
            .find(|s| s.order_id == order)
            .map(|s| s.phone.clone())
            .unwrap_or_default()
    } else {
        phone.to_string()
    };
    Ok(PhonePage {
        nav: Nav::of(viewer),
        title: survey.title.clone(),
        questions: form_questions(&survey, answers),
        errors,
        notice,
        interviewer: user.display_name.clone(),
        order: order.to_string(),
        phone,
        started,
        sample: mine,
        row,
    })
}

pub async fn phone_get(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Query(q): Query<PhoneQuery>,
) -> Result<PhonePage, AppError> {
    let notice = if q.done.is_empty() {
        String::new()
    } else {
        format!("已保存第 {} 号答卷。", q.done)
    };
    phone_page(
        &state,
        &viewer,
        id,
        PhoneDraft {
            order: q.order,
            notice,
            started: crate::db::now(),
            ..Default::default()
        },
    )
    .await
}

/// `POST /surveys/{id}/phone`: an interview's answers (channel 电话).
pub async fn phone_post(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let survey = row.survey()?;
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let now = crate::db::now();
    let started: i64 = field("started").parse().unwrap_or(now);
    let (answers, mut errors) = read_answers(&survey, &fields);
    let phone_raw = field("phone");
    // Keep only the masked number: the interview list already shows it masked.
    let phone = if phone_raw.contains('*') {
        phone_raw.clone()
    } else if phone_raw.is_empty() {
        String::new()
    } else {
        crate::survey::sample::mask(&phone_raw)
    };
    let interviewer = match field("interviewer") {
        s if s.is_empty() => user.display_name.clone(),
        s => s,
    };
    if phone.starts_with('（') {
        errors.push(format!("电话号码“{phone_raw}”不是有效的手机号码"));
    }
    if !errors.is_empty() {
        let order = field("order");
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            phone_page(
                &state,
                &viewer,
                id,
                PhoneDraft {
                    order,
                    phone: phone_raw,
                    started,
                    answers,
                    errors,
                    notice: String::new(),
                },
            )
            .await?,
        )
            .into_response());
    }
    let order = field("order");
    let response = SurveyResponse {
        source: format!(
            "电话 {interviewer}{}",
            if order.is_empty() {
                String::new()
            } else {
                format!(" 订单 {order}")
            }
        ),
        channel: Channel::Phone,
        submitted_at: Some(now),
        duration_s: u32::try_from((now - started).max(0)).ok(),
        contact: (!phone.is_empty()).then_some(phone),
        answers,
    };
    let meta = ResponseMeta {
        interviewer: interviewer.clone(),
        order_id: order,
        entered_by: Some(user.id),
        ..Default::default()
    };
    let rid = state.db.survey_respond(id, &response, &meta).await?;
    Ok(Redirect::to(&format!("/surveys/{id}/phone?done={rid}")).into_response())
}

// ---------------------------------------------------------------------------
// Import
//
// An upload is read first and kept (in the pending store, by hash) only when the
// preview leaves something to do with it: confirm it, or correct the column
// mapping. A file that cannot be read is not kept. Confirming writes the file
// into the survey-uploads store together with the import's rows, then drops the
// pending copies; pending files expire after `PENDING_TTL`.

pub struct MapColumn {
    pub n: usize,
    pub header: String,
    pub chosen: String,
}

/// A response of the preview as it was read: its source and one cell per question.
pub struct ReadRow {
    pub source: String,
    pub cells: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "survey_import.html")]
pub struct ImportPage {
    nav: Nav,
    row: SurveyRow,
    file_name: String,
    sha: String,
    /// The same export in its other layout, uploaded to check the reading.
    other_name: String,
    other_sha: String,
    errors: Vec<String>,
    more_errors: usize,
    rows: usize,
    layout: String,
    mapping: Vec<(String, String)>,
    columns: Vec<MapColumn>,
    questions: Vec<(String, String)>,
    valid: usize,
    invalid: usize,
    /// How option numbers were read (coded layout).
    notes: Vec<String>,
    /// The first responses decoded to option text, under one heading per question.
    sample_heads: Vec<String>,
    samples: Vec<ReadRow>,
    /// What the comparison of the two layouts found, when both were uploaded.
    agreement: String,
}

/// One uploaded file of an import.
#[derive(Clone)]
struct Upload {
    name: String,
    bytes: std::sync::Arc<Vec<u8>>,
    sha: String,
}

impl Upload {
    fn new(name: String, bytes: Vec<u8>) -> Upload {
        use sha2::Digest;
        let sha = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Upload {
            name,
            bytes: std::sync::Arc::new(bytes),
            sha,
        }
    }

    /// A file kept since its preview (or, confirmed twice, the file its import
    /// stored: the import then says it was done already).
    fn pending(state: &AppState, sha: &str, name: &str) -> Result<Upload, AppError> {
        let bytes = state
            .pending
            .get(sha)
            .or_else(|_| state.survey_files.get(sha))
            .map_err(|_| {
                AppError::BadRequest(
                    "上传的文件已不在服务器上（预览后超过 24 小时，或服务器重启过），请重新上传"
                        .into(),
                )
            })?;
        Ok(Upload {
            name: name.to_string(),
            bytes: std::sync::Arc::new(bytes),
            sha: sha.to_string(),
        })
    }
}

/// Keeps `u` in the pending store (expired uploads are dropped first), or drops
/// it when the preview left nothing to do with it.
async fn keep_pending(state: &AppState, u: &Upload, keep: bool) -> Result<(), AppError> {
    let internal = |e: crate::audit::evidence::EvidenceError| AppError::Internal(e.to_string());
    if keep {
        state
            .pending
            .sweep(&std::collections::HashSet::new(), super::PENDING_TTL)
            .await
            .map_err(internal)?;
        state.pending.put_any(&u.bytes).map_err(internal)?;
    } else {
        state.pending.remove(&u.sha).await.map_err(internal)?;
    }
    Ok(())
}

/// What reading the uploads found: the main file's question columns and reading,
/// and the other layout's reading.
type Readings = (
    Vec<(usize, String)>,
    Result<crate::survey::wjx::Imported, Vec<String>>,
    Option<Result<crate::survey::wjx::Imported, Vec<String>>>,
);

/// Reads the uploads on a blocking thread.
async fn read_uploads(
    survey: &Survey,
    main: &Upload,
    other: Option<&Upload>,
    map: BTreeMap<usize, String>,
) -> Result<Readings, AppError> {
    use crate::survey::wjx;
    let (s, m, o) = (survey.clone(), main.clone(), other.cloned());
    tokio::task::spawn_blocking(move || {
        let columns = wjx::question_columns(&m.bytes, &m.name);
        let main = wjx::import_mapped(&m.bytes, &m.name, &s, &map);
        let other = o.map(|o| wjx::import_mapped(&o.bytes, &o.name, &s, &map));
        (columns, main, other)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// The first responses, one cell per question: the option text read, after the
/// file's own cell when that differs (`1 → 非常满意`).
fn sample_rows(imp: &crate::survey::wjx::Imported) -> Vec<ReadRow> {
    imp.samples
        .iter()
        .map(|s| ReadRow {
            source: s.source.clone(),
            cells: s
                .cells
                .iter()
                .map(|(_, raw, read)| match (raw.is_empty(), read.is_empty()) {
                    (_, true) => "—".to_string(),
                    (false, false) if raw != read => format!("{raw} → {read}"),
                    _ => read.clone(),
                })
                .collect(),
        })
        .collect()
}

fn fill_preview(page: &mut ImportPage, survey: &Survey, imp: &crate::survey::wjx::Imported) {
    let v = validity::check(survey, &imp.responses, &survey.rules());
    page.valid = v.iter().filter(|r| r.is_empty()).count();
    page.invalid = v.len() - page.valid;
    page.rows = imp.responses.len();
    page.layout = imp.layout.to_string();
    page.notes = imp.notes.clone();
    page.samples = sample_rows(imp);
    page.mapping = imp
        .mapping
        .iter()
        .map(|(h, q)| {
            (
                h.clone(),
                survey
                    .question(q)
                    .map(|x| format!("{q}：{}", x.text))
                    .unwrap_or_else(|| q.clone()),
            )
        })
        .collect();
}

fn set_errors(page: &mut ImportPage, errors: Vec<String>) {
    page.more_errors = errors.len().saturating_sub(200);
    page.errors = errors.into_iter().take(200).collect();
}

async fn import_preview(
    state: &AppState,
    viewer: &Viewer,
    row: SurveyRow,
    main: &Upload,
    other: Option<&Upload>,
    map: BTreeMap<usize, String>,
) -> Result<(ImportPage, Option<crate::survey::wjx::Imported>), AppError> {
    let survey = row.survey()?;
    let (columns, result, other_result) = read_uploads(&survey, main, other, map.clone()).await?;
    // Kept only while the page offers something to do with it.
    keep_pending(state, main, result.is_ok() || !columns.is_empty()).await?;
    if let (Some(o), Some(r)) = (other, &other_result) {
        keep_pending(state, o, r.is_ok()).await?;
    }
    let mut page = ImportPage {
        nav: Nav::of(viewer),
        file_name: main.name.clone(),
        sha: main.sha.clone(),
        other_name: other.map(|o| o.name.clone()).unwrap_or_default(),
        other_sha: other.map(|o| o.sha.clone()).unwrap_or_default(),
        errors: Vec::new(),
        more_errors: 0,
        rows: 0,
        layout: String::new(),
        mapping: Vec::new(),
        columns: columns
            .into_iter()
            .map(|(n, header)| MapColumn {
                n,
                chosen: map.get(&n).cloned().unwrap_or_default(),
                header,
            })
            .collect(),
        questions: survey
            .questions
            .iter()
            .map(|q| (q.id.clone(), q.text.clone()))
            .collect(),
        valid: 0,
        invalid: 0,
        notes: Vec::new(),
        sample_heads: survey
            .questions
            .iter()
            .map(|q| {
                format!(
                    "{}（{}）",
                    q.id,
                    q.text.chars().take(12).collect::<String>()
                )
            })
            .collect(),
        samples: Vec::new(),
        agreement: String::new(),
        row,
    };
    let imp = match result {
        Ok(imp) => imp,
        Err(errors) => {
            set_errors(&mut page, errors);
            return Ok((page, None));
        }
    };
    fill_preview(&mut page, &survey, &imp);
    match other_result {
        None => Ok((page, Some(imp))),
        Some(Err(errors)) => {
            let name = page.other_name.clone();
            set_errors(
                &mut page,
                std::iter::once(format!("用于核对的文件 {name} 不能读取："))
                    .chain(errors)
                    .collect(),
            );
            Ok((page, None))
        }
        Some(Ok(o)) => {
            let differ = crate::survey::wjx::disagreements(&survey, &imp, &o);
            if differ.is_empty() {
                page.agreement = format!(
                    "已与 {}（{}）逐题核对：{} 份答卷、{} 道题的答案全部一致。",
                    page.other_name,
                    o.layout,
                    imp.responses.len(),
                    survey.questions.len()
                );
                Ok((page, Some(imp)))
            } else {
                let head = "两个文件的答案不一致，不能导入。同一次下载的两种格式应逐题相同；不一致通常是问卷定义写的选项顺序（scale）与问卷实际的顺序不同，或两个文件不是同一次下载。"
                    .to_string();
                set_errors(&mut page, std::iter::once(head).chain(differ).collect());
                Ok((page, None))
            }
        }
    }
}

/// `POST /surveys/{id}/import` (multipart `file`, optionally `other`: the same
/// export in its other layout): reads the file(s) and shows what an import would
/// do — nothing is stored as responses until it is confirmed.
pub async fn import_upload(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    form: Multipart,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let _slot = state.heavy_slot().await?;
    let (_, mut files) = super::read_multipart_files(form, &["file", "other"]).await?;
    let Some((name, bytes)) = files.remove("file") else {
        return Ok(show_page(
            &state,
            &viewer,
            id,
            None,
            "请选择要导入的问卷星导出文件（.xlsx、.xls 或 .csv）".into(),
            None,
        )
        .await?
        .into_response());
    };
    let main = Upload::new(name, bytes);
    let other = files.remove("other").map(|(n, b)| Upload::new(n, b));
    let (page, _) =
        import_preview(&state, &viewer, row, &main, other.as_ref(), BTreeMap::new()).await?;
    Ok(page.into_response())
}

/// `POST /surveys/{id}/import/confirm`: the previewed file with the confirmed
/// column mapping — all rows in one transaction, or (with errors) the preview again.
pub async fn import_confirm(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let _slot = state.heavy_slot().await?;
    let main = Upload::pending(&state, &field("sha"), &field("file_name"))?;
    let other = match field("other_sha") {
        s if s.is_empty() => None,
        s => Some(Upload::pending(&state, &s, &field("other_name"))?),
    };
    let mut map = BTreeMap::new();
    for (k, v) in &fields {
        if let Some(n) = k.strip_prefix("map_").and_then(|n| n.parse::<usize>().ok())
            && !v.is_empty()
        {
            map.insert(n, v.clone());
        }
    }
    let (page, imported) =
        import_preview(&state, &viewer, row.clone(), &main, other.as_ref(), map).await?;
    let Some(imp) = imported else {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    if field("confirm") != "1" {
        return Ok(page.into_response());
    }
    // The file goes into the store together with the rows that cite it.
    let committed = state
        .survey_files
        .record(
            &main.bytes,
            state.db.survey_import(
                id,
                &main.name,
                &main.sha,
                imp.layout,
                &imp.responses,
                Some(user.id),
            ),
        )
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    for u in std::iter::once(&main).chain(other.as_ref()) {
        keep_pending(&state, u, false).await?;
    }
    match committed {
        Ok(_) => {}
        Err(e @ SurveyError::AlreadyImported(_)) => {
            let mut page = page;
            page.errors = vec![e.to_string()];
            return Ok((StatusCode::CONFLICT, page).into_response());
        }
        Err(e) => return Err(e.into()),
    }
    state
        .db
        .log(
            &viewer.actor(),
            "survey.import",
            &format!("{} v{}", row.key, row.version),
            &format!(
                "{} ({} rows, {})",
                main.name,
                imp.responses.len(),
                &main.sha[..12]
            ),
        )
        .await?;
    Ok(Redirect::to(&format!("/surveys/{id}?saved=imported")).into_response())
}

// ---------------------------------------------------------------------------
// Downloads and the API

#[derive(Deserialize, Default)]
pub struct ReportQuery {
    #[serde(default)]
    previous: Option<i64>,
}

/// `GET /surveys/{id}/report/{format}`: pdf (满意度测评报告), xlsx, json.
pub async fn report(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, format)): Path<(i64, String)>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let l = load(&state.db, id, q.previous).await?;
    let stem = format!("{}-v{}", l.row.key, l.row.version);
    match format.as_str() {
        "json" => Ok(axum::Json(stats_json(&l)).into_response()),
        "xlsx" => {
            let bytes = tokio::task::spawn_blocking(move || {
                crate::survey::export::xlsx(
                    &l.survey,
                    &l.responses,
                    &l.validity,
                    &l.rules,
                    &l.stats,
                )
            })
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(download(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{stem}.xlsx"),
                bytes,
            ))
        }
        "pdf" => {
            let ctx = crate::survey::report::Context {
                organisation: String::new(),
                suggestions: l
                    .row
                    .suggestions
                    .lines()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                date: super::today(),
            };
            let data = crate::survey::report::data(
                &l.survey,
                &l.responses,
                &l.validity,
                &l.rules,
                &l.stats,
                &ctx,
            );
            let pdf = render_pdf(
                "templates/survey_report.typ",
                crate::survey::report::TEMPLATE,
                data,
            )
            .await?;
            Ok(download("application/pdf", &format!("{stem}.pdf"), pdf))
        }
        _ => Err(AppError::NotFound),
    }
}

pub fn stats_json(l: &Loaded) -> serde_json::Value {
    let invalid: Vec<serde_json::Value> = l
        .stored
        .iter()
        .zip(&l.validity)
        .filter(|(_, v)| !v.is_empty())
        .map(|(r, v)| serde_json::json!({ "id": r.id, "source": r.response.source, "reasons": v }))
        .collect();
    serde_json::json!({
        "survey": { "id": l.row.id, "key": l.row.key, "version": l.row.version, "title": l.row.title, "audit_id": l.row.audit_id },
        "rules": l.rules,
        "stats": l.stats,
        "invalid": invalid,
    })
}

pub async fn api_list(State(state): State<AppState>) -> Result<Response, AppError> {
    let all = state.db.surveys().await?;
    let rows: Vec<serde_json::Value> = all
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.row.id, "key": s.row.key, "version": s.row.version, "title": s.row.title,
                "audit_id": s.row.audit_id, "responses": s.responses, "last_at": s.last_at,
            })
        })
        .collect();
    Ok(axum::Json(rows).into_response())
}

pub async fn api_stats(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let l = load(&state.db, id, q.previous).await?;
    Ok(axum::Json(stats_json(&l)).into_response())
}

// ---------------------------------------------------------------------------
// Audits: survey results as a checks entity, and the return visit

#[derive(Deserialize)]
pub struct ReturnVisitForm {
    #[serde(default)]
    margin: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    interviewers: String,
}

/// The return-visit questionnaire: the repository's template
/// (`surveys/return-visit.yaml`), keeping the questions linked to clauses of the
/// audited standards (and the unlinked ones), with links outside the scope dropped.
pub fn return_visit_definition(
    template: &str,
    audit: &crate::db::audits::Audit,
) -> Result<(Survey, String), String> {
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(template).map_err(|e| format!("回访问卷模板有误：{e}"))?;
    let in_scope = |c: &str| {
        audit
            .standards
            .iter()
            .any(|s| c.starts_with(&format!("{s}#")))
    };
    if let Some(m) = doc.as_mapping_mut() {
        m.remove("template");
        m.insert(
            "id".into(),
            format!("audit-{}-return-visit", audit.id).into(),
        );
        m.insert("title".into(), format!("{} 回访问卷", audit.name).into());
        if let Some(qs) = m.get_mut("questions").and_then(|q| q.as_sequence_mut()) {
            qs.retain(|q| {
                let cs: Vec<&str> = q
                    .get("clauses")
                    .and_then(|c| c.as_sequence())
                    .map(|s| s.iter().filter_map(|c| c.as_str()).collect())
                    .unwrap_or_default();
                cs.is_empty() || cs.iter().any(|c| in_scope(c))
            });
            for q in qs.iter_mut() {
                if let Some(cs) = q.get_mut("clauses").and_then(|c| c.as_sequence_mut()) {
                    cs.retain(|c| c.as_str().is_some_and(in_scope));
                }
            }
        }
        let clauses: Vec<serde_yaml::Value> = m
            .get("questions")
            .and_then(|q| q.as_sequence())
            .into_iter()
            .flatten()
            .filter_map(|q| q.get("clauses").and_then(|c| c.as_sequence()))
            .flatten()
            .cloned()
            .collect::<Vec<_>>();
        let mut unique: Vec<serde_yaml::Value> = Vec::new();
        for c in clauses {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        m.insert("clauses".into(), serde_yaml::Value::Sequence(unique));
    }
    let yaml = serde_yaml::to_string(&doc).map_err(|e| e.to_string())?;
    let survey = Survey::from_yaml(&yaml, "回访问卷").map_err(|e| e.join("; "))?;
    Ok((survey, yaml))
}

/// `POST /audits/{id}/return-visit`: draws the stratified sample of the audit
/// period's completed orders and creates the return-visit survey with its
/// interview list.
pub async fn return_visit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(audit_id): Path<i64>,
    Form(f): Form<ReturnVisitForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let audit = state.db.audit(audit_id).await?.ok_or(AppError::NotFound)?;
    let margin: f64 = match f.margin.trim() {
        "" => 0.1,
        m => m
            .parse::<f64>()
            .ok()
            .filter(|m| *m > 0.0 && *m < 0.5)
            .map(Ok)
            .unwrap_or_else(|| {
                Err(AppError::BadRequest(format!(
                    "误差“{m}”无效：请填写 0 到 0.5 之间的数，如 0.1 表示 ±10 个百分点"
                )))
            })?,
    };
    let seed: u64 = f.seed.trim().parse().unwrap_or(audit_id as u64);
    let interviewers: Vec<String> = f
        .interviewers
        .split([',', '，', '、', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let template_path = state
        .audits_dir
        .with_file_name("surveys")
        .join("return-visit.yaml");
    let template = std::fs::read_to_string(&template_path)
        .map_err(|e| AppError::Internal(format!("{}: {e}", template_path.display())))?;
    let (survey, yaml) = return_visit_definition(&template, &audit).map_err(AppError::Internal)?;
    let st = state.clone();
    let a = audit.clone();
    let picks = tokio::task::spawn_blocking(
        move || -> Result<Vec<crate::survey::sample::Pick>, String> {
            let log = crate::audit::checks::order_log(&st.platform_dir)
                .ok_or("平台数据中没有订单日志（orders.csv），无法抽样")?;
            let events = crate::monitor::feed::read_log(&log, "orders")?;
            let p = crate::platform::import::import_dir(
                &st.platform_dir,
                &crate::platform::import::Options {
                    key: &st.pseudonym_key,
                },
            )
            .map_err(|e| format!("无法读取平台数据：{e}"))?;
            let places = crate::monitor::service::Places::new(&p);
            let day = |s: &str| {
                crate::audit::time::parse_date_or_instant(s, 480).map_err(|e| e.to_string())
            };
            let (from, to) = (day(&a.period_from)?, day(&a.period_to)? + 86_400_000_000);
            let orders = crate::survey::sample::completed_orders(&events, from, to, Some(&places));
            if orders.is_empty() {
                return Err(format!(
                    "审核期间（{} 至 {}）没有完成的订单，无法抽样",
                    a.period_from, a.period_to
                ));
            }
            Ok(crate::survey::sample::draw(
                &orders,
                margin,
                seed,
                &interviewers,
            ))
        },
    )
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(AppError::BadRequest)?;
    let (row, _) = state
        .db
        .survey_save(&survey, &yaml, Some(audit_id), Some(user.id))
        .await?;
    state.db.survey_sample_save(row.id, &picks).await?;
    state
        .db
        .log(
            &viewer.actor(),
            "survey.return_visit",
            &format!("audit {audit_id}"),
            &format!(
                "{} orders sampled, margin {margin}, seed {seed}",
                picks.len()
            ),
        )
        .await?;
    Ok(Redirect::to(&format!("/surveys/{}?saved=sampled", row.id)).into_response())
}

/// `GET /surveys/{id}/sample.csv`: the phone-interview list.
pub async fn sample_csv(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let row = state.db.survey(id).await?.ok_or(AppError::NotFound)?;
    let mut csv = String::from("\u{feff}序号,订单编号,网点,服务类别,客户,联系电话,访问员,已访问\n");
    for s in state.db.survey_sample(id).await? {
        let cells = [
            s.seq.to_string(),
            s.order_id,
            s.outlet,
            s.service,
            s.customer,
            s.phone,
            s.interviewer,
            if s.response_id.is_some() {
                "是".into()
            } else {
                String::new()
            },
        ];
        csv.push_str(&crate::survey::sample::csv_line(&cells));
    }
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("{}-sample.csv", row.key),
        csv.into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey() -> Survey {
        Survey::from_yaml(
            "id: t\ntitle: t\noverall: o\nquestions:\n  - id: o\n    text: 总体\n    kind: likert\n  - id: m\n    text: 渠道\n    kind: multiple\n    options: [a, b, c]\n    required: false\n  - id: s\n    text: 了解\n    kind: single\n    options: [是, 否]\n    required: false\n",
            "t",
        )
        .unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test_case::test_case(&[("q_o", "1")], Ok(vec![("o", Answer::Choice(1))]) ; "one choice")]
    #[test_case::test_case(&[("q_o", "0"), ("q_m", "2"), ("q_m", "0"), ("q_m", "2")], Ok(vec![("m", Answer::Choices(vec![0, 2])), ("o", Answer::Choice(0))]) ; "multiple sorted and deduplicated")]
    #[test_case::test_case(&[("q_o", "5")], Err("第 1 题：选项“5”无效") ; "index out of range")]
    #[test_case::test_case(&[("q_o", "x")], Err("第 1 题：选项“x”无效") ; "not a number")]
    #[test_case::test_case(&[("q_o", "0"), ("q_s", "0"), ("q_s", "1")], Err("第 3 题是单选题，只能选一项") ; "two answers to a single choice")]
    #[test_case::test_case(&[("q_m", "1")], Err("请回答：总体") ; "the overall question is required")]
    fn form_answers(input: &[(&str, &str)], expected: Result<Vec<(&str, Answer)>, &str>) {
        let (answers, errors) = read_answers(&survey(), &fields(input));
        match expected {
            Ok(want) => {
                assert!(errors.is_empty(), "{errors:?}");
                let got: Vec<(&str, Answer)> = answers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Err(msg) => assert!(errors.iter().any(|e| e == msg), "{errors:?}"),
        }
    }

    #[test]
    fn visit_tokens_are_signed() {
        let key = b"installation key";
        let t = visit_token(key, 7, "nonce1");
        let (id, issued, nonce) = check_visit(key, &t).unwrap();
        assert_eq!((id, nonce.as_str()), (7, "nonce1"));
        assert!((crate::db::now() - issued).abs() <= 1);
        assert!(check_visit(b"another key", &t).is_none());
        let other = t.replacen("7.", "8.", 1);
        assert!(
            check_visit(key, &other).is_none(),
            "the survey is part of what is signed"
        );
        assert!(check_visit(key, "garbage").is_none());
    }
}
