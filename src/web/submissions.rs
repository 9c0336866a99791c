//! Submission pages: create, edit (with lint), move through review, comment on
//! clauses, publish into the library on approval.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::accounts::{Role, User};
use crate::db::submissions::{Comment, Conflict, Event, NewSubmission, Submission};
use crate::diag::Diagnostic;
use crate::library::{Author, PublishRequest};
use crate::standard::Collection;
use crate::submission::{self, Action, State as SubState};

use super::pages::Nav;
use super::{AppError, AppState, Viewer};

impl From<Conflict> for AppError {
    fn from(e: Conflict) -> Self {
        match e {
            Conflict::Missing => AppError::NotFound,
            Conflict::Db(d) => d.into(),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

/// Reviewers and admins see every submission; others only their own.
fn can_see(user: &User, s: &Submission) -> bool {
    s.author_id == user.id || matches!(user.role, Role::Reviewer | Role::Admin)
}

/// The diagnostics `biaozhun check` would print for the submission's text, plus a
/// check that the code is the one assigned.
pub fn lint(s: &Submission) -> Vec<Diagnostic> {
    lint_text(&s.text, &s.code)
}

fn lint_text(text: &str, code: &str) -> Vec<Diagnostic> {
    let name = format!("{}.md", crate::standard::slug_of_id(code));
    let coll = Collection::from_sources(&[(name.clone(), text.to_string())]);
    let mut diags = coll.diagnostics;
    if let Some(std) = coll.standards.first()
        && !code.is_empty()
        && std.code.to_string() != code
    {
        diags.push(Diagnostic::error(
            "submission-code",
            &name,
            std.meta_pos("code"),
            format!("编号应为系统分配的 {code}，而不是 {}", std.code),
        ));
    }
    diags.sort_by_key(|d| (d.line, d.col));
    diags
}

/// The draft rendered by the standard page's own template (heading, metadata,
/// clause tree), so the preview is what publishing will show; `None` when the text
/// does not parse into a standard at all (the lint says why).
fn preview_html(text: &str, comments: std::collections::HashMap<String, usize>) -> Option<String> {
    let coll = Collection::from_sources(&[("preview.md".into(), text.to_string())]);
    let std = coll.standards.first()?;
    askama::Template::render(&super::pages::Preview::of(std, comments)).ok()
}

/// Diagnostics as JSON with their Chinese name and advice (`title_zh`,
/// `advice_zh`) added, for the Chinese editor.
fn with_zh(diags: &[Diagnostic]) -> Vec<serde_json::Value> {
    diags
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            if let (Some((title, advice)), Some(o)) = (crate::diag::zh(d.code), v.as_object_mut()) {
                o.insert("title_zh".into(), title.into());
                o.insert("advice_zh".into(), advice.into());
            }
            v
        })
        .collect()
}

#[derive(Deserialize)]
pub struct LintRequest {
    text: String,
    #[serde(default)]
    code: String,
}

/// `POST /api/v1/lint`: live lint for the editor (no side effects).
pub async fn api_lint(axum::Json(r): axum::Json<LintRequest>) -> Response {
    let (diagnostics, total) = diagnostics_json(&lint_text(&r.text, &r.code));
    axum::Json(serde_json::json!({ "diagnostics": diagnostics, "diagnostics_total": total }))
        .into_response()
}

/// `POST /api/v1/preview`: the editor's live preview and lint in one round trip
/// (no side effects): `{html, diagnostics}`, `html` null when nothing parses.
pub async fn api_preview(axum::Json(r): axum::Json<LintRequest>) -> Response {
    let (diagnostics, total) = diagnostics_json(&lint_text(&r.text, &r.code));
    let html = preview_html(&r.text, Default::default());
    axum::Json(
        serde_json::json!({ "html": html, "diagnostics": diagnostics, "diagnostics_total": total }),
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    category: String,
}

/// Diagnostics listed in one JSON answer; the rest are counted
/// (`diagnostics_total`), so a pathological draft cannot make a huge answer.
pub const MAX_DIAGNOSTICS: usize = 500;

/// The first [`MAX_DIAGNOSTICS`] diagnostics as JSON, and how many there are.
fn diagnostics_json(diags: &[Diagnostic]) -> (Vec<serde_json::Value>, usize) {
    (
        with_zh(&diags[..diags.len().min(MAX_DIAGNOSTICS)]),
        diags.len(),
    )
}

/// `POST /api/v1/import/docx?code=…&title=…&category=…` with the .docx file as the
/// body: the draft in our format, what could not be converted, and its lint (no
/// side effects; the editor puts the draft in the text box for the author to save).
/// A heavy import: at most `HEAVY_SLOTS` run at once, others get 503 with
/// `Retry-After`.
pub async fn api_import_docx(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let Ok(_slot) = state.heavy_slot().await else {
        let mut r = super::api::error(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            &AppError::Busy.to_string(),
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(super::HEAVY_RETRY_S),
        );
        return Ok(r);
    };
    let code = q.code.clone();
    let converted = tokio::task::spawn_blocking(move || {
        crate::standard::docx::import(
            &body,
            &crate::standard::docx::Options {
                code: &q.code,
                title: &q.title,
                category: &q.category,
            },
        )
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(match converted {
        Ok(i) => {
            let (diagnostics, total) = diagnostics_json(&lint_text(&i.markdown, &code));
            axum::Json(serde_json::json!({
                "markdown": i.markdown, "title": i.title, "warnings": i.warnings,
                "diagnostics": diagnostics, "diagnostics_total": total,
            }))
            .into_response()
        }
        Err(e) => super::api::error(axum::http::StatusCode::BAD_REQUEST, &e.to_string()),
    })
}

pub struct Row {
    pub id: i64,
    pub title: String,
    pub code: String,
    pub state: &'static str,
    pub updated: String,
}

fn row(s: &Submission) -> Row {
    Row {
        id: s.id,
        title: s.title.clone(),
        code: s.code.clone(),
        state: s.state.label(),
        updated: crate::library::format_time(s.updated_at, 480),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "submissions.html")]
pub struct ListPage {
    nav: Nav,
    /// "3 份提交等待审核", "你的 1 份提交需要修改".
    notices: Vec<String>,
    mine: Vec<Row>,
    queue: Vec<Row>,
    reviewer: bool,
    categories: Vec<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<ListPage, AppError> {
    let user = viewer.signed()?;
    let reviewer = matches!(user.role, Role::Reviewer | Role::Admin);
    let mine = state
        .db
        .submissions(&[], Some(user.id))
        .await?
        .iter()
        .map(row)
        .collect();
    let queue = if reviewer {
        state
            .db
            .submissions(
                &[
                    SubState::Submitted,
                    SubState::Resubmitted,
                    SubState::InReview,
                    SubState::Approved,
                ],
                None,
            )
            .await?
            .iter()
            .filter(|s| s.author_id != user.id)
            .map(row)
            .collect()
    } else {
        Vec::new()
    };
    let categories = crate::standard::category::NODES
        .iter()
        .flat_map(|(top, subs)| subs.iter().map(move |s| format!("{top}/{s}")))
        .collect();
    let (queue_n, changes_n) = (viewer.attention.queue, viewer.attention.changes);
    let mut notices = Vec::new();
    if queue_n > 0 {
        notices.push(format!("{queue_n} 份提交等待审核"));
    }
    if changes_n > 0 {
        notices.push(format!("你的 {changes_n} 份提交需要修改"));
    }
    Ok(ListPage {
        notices,
        nav: Nav::of(&viewer),
        mine,
        queue,
        reviewer,
        categories,
    })
}

#[derive(Deserialize)]
pub struct NewForm {
    title: String,
    category: String,
}

/// The skeleton a new enterprise standard starts from.
fn template(code: &str, title: &str, category: &str) -> String {
    format!(
        "---\ncode: {code}\ntitle: {title}\nkind: enterprise\nstatus: current\ncategory: {category}\nsource: official\n---\n\n\
         ## 1 范围\n\n本文件规定了……的要求。\n\n本文件适用于……。\n\n\
         ## 2 规范性引用文件\n\n本文件没有规范性引用文件。\n\n\
         ## 3 术语和定义\n\n本文件没有需要界定的术语和定义。\n\n\
         ## 4 要求\n\n"
    )
}

/// Creates a new-standard submission with the next free code of the configured
/// pattern; `text` (an upload) replaces the skeleton, with its `code:` set to the
/// assigned one.
async fn create_new(
    state: &AppState,
    user: &User,
    title: &str,
    category: &str,
    text: Option<&str>,
) -> Result<Submission, AppError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::BadRequest("标准名称须为 1–200 个字符".into()));
    }
    if crate::standard::category::check(category).is_some() {
        return Err(AppError::BadRequest(format!(
            "未知的标准体系节点：{category}"
        )));
    }
    // Codes already used, in the library or by other submissions.
    let mut used: Vec<String> = state
        .content()
        .coll
        .standards
        .iter()
        .map(|s| s.code.to_string())
        .collect();
    used.extend(
        state
            .db
            .submissions(&[], None)
            .await?
            .into_iter()
            .map(|s| s.code),
    );
    let year = crate::library::format_time(crate::db::now(), 480)[..4]
        .parse()
        .unwrap_or(2026);
    let code = submission::next_code(&state.code_pattern, year, &used);
    let text = match text {
        Some(t) => with_code(&t.replace("\r\n", "\n"), &code),
        None => template(&code, title, category),
    };
    Ok(state
        .db
        .create_submission(
            &NewSubmission {
                title,
                code: &code,
                kind: "new",
                base_code: "",
                department: &user.department,
                category,
                text: &text,
            },
            user,
        )
        .await?)
}

/// `text` with its front matter's `code:` set to `code` (added when missing); text
/// without front matter is returned as it is, for the lint to explain.
fn with_code(text: &str, code: &str) -> String {
    let Some(rest) = text.strip_prefix("---\n") else {
        return text.to_string();
    };
    let Some(end) = rest.find("\n---") else {
        return text.to_string();
    };
    let front = &rest[..end];
    let mut lines: Vec<String> = front.lines().map(str::to_string).collect();
    match lines.iter_mut().find(|l| l.starts_with("code:")) {
        Some(l) => *l = format!("code: {code}"),
        None => lines.insert(0, format!("code: {code}")),
    }
    format!("---\n{}{}", lines.join("\n"), &rest[end..])
}

pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<NewForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let s = create_new(&state, &user, &f.title, &f.category, None).await?;
    Ok(Redirect::to(&format!("/submissions/{}", s.id)).into_response())
}

pub struct DiagRow {
    pub line: usize,
    /// `error` or `warning`, for styling.
    pub class: &'static str,
    pub severity: &'static str,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "submission.html")]
pub struct SubmissionPage {
    nav: Nav,
    s: Submission,
    state_label: &'static str,
    author: String,
    editable: bool,
    diags: Vec<DiagRow>,
    /// Diagnostics past [`MAX_DIAGNOSTICS`], counted but not listed.
    more_diags: usize,
    errors: usize,
    actions: Vec<(&'static str, &'static str)>,
    events: Vec<(String, Event)>,
    /// Threaded: each top-level comment followed by its replies, with their depth.
    comments: Vec<CommentRow>,
    clauses: Vec<String>,
    /// The draft as the standard page will show it.
    preview: Option<String>,
    /// The standard page's slug for the submission's code.
    slug: String,
    message: String,
    /// For a revision: the clause-level changes against the published edition.
    changes: Vec<super::pages::ChangeRow>,
}

pub struct CommentRow {
    pub depth: usize,
    pub when: String,
    pub c: Comment,
}

/// Orders comments as threads: each top-level comment (in the order written)
/// followed depth-first by its replies.
fn threads(comments: Vec<Comment>) -> Vec<CommentRow> {
    let mut children: std::collections::HashMap<Option<i64>, Vec<Comment>> = Default::default();
    let ids: std::collections::HashSet<i64> = comments.iter().map(|c| c.id).collect();
    for c in comments {
        // A reply whose parent is gone is shown as a thread of its own.
        let parent = c.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(c);
    }
    let mut out = Vec::new();
    let mut stack: Vec<(usize, Comment)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|c| (0, c))
        .collect();
    while let Some((depth, c)) = stack.pop() {
        if let Some(kids) = children.remove(&Some(c.id)) {
            stack.extend(kids.into_iter().rev().map(|k| (depth + 1, k)));
        }
        out.push(CommentRow {
            depth: depth.min(4),
            when: crate::library::format_time(c.at, 480),
            c,
        });
    }
    out
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    message: String,
) -> Result<SubmissionPage, AppError> {
    let user = viewer.signed()?;
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if !can_see(&user, &s) {
        return Err(AppError::Forbidden);
    }
    let diags = lint(&s);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let actor = submission::Actor {
        role: user.role,
        is_author: s.author_id == user.id,
    };
    let mut actions: Vec<(&'static str, &'static str)> = submission::available(s.state, actor)
        .into_iter()
        .map(|a| (a.as_str(), a.label()))
        .collect();
    // Approved but not in the library (the publish failed, or the server stopped
    // in between): publishing is idempotent, so a retry is always safe.
    if s.state == SubState::Approved
        && submission::next(s.state, Action::Publish, actor, "").is_ok()
    {
        actions.push((Action::Publish.as_str(), "重试发布"));
    }
    let clauses = clause_numbers(&s.text);
    let comments = threads(state.db.comments(id).await?);
    let mut per_clause = std::collections::HashMap::new();
    for c in comments.iter().filter(|c| !c.c.clause.is_empty()) {
        *per_clause.entry(c.c.clause.clone()).or_insert(0) += 1;
    }
    let preview = preview_html(&s.text, per_clause);
    let author = state
        .db
        .user(s.author_id)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    let changes = if s.kind == "revision" {
        let content = state.content();
        let base = content.coll.find(&s.base_code);
        let new = Collection::from_sources(&[("revision.md".into(), s.text.clone())])
            .standards
            .into_iter()
            .next();
        match (base, new) {
            (Some(b), Some(n)) => {
                super::pages::change_rows(&crate::library::diff::diff(b, &n, &s.base_code, &s.code))
            }
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    Ok(SubmissionPage {
        nav: Nav::of(viewer),
        state_label: s.state.label(),
        editable: s.state.editable() && actor.is_author,
        more_diags: diags.len().saturating_sub(MAX_DIAGNOSTICS),
        diags: diags
            .iter()
            .take(MAX_DIAGNOSTICS)
            .map(|d| DiagRow {
                line: d.line,
                class: if d.is_error() { "error" } else { "warning" },
                severity: if d.is_error() { "错误" } else { "警告" },
                message: match crate::diag::zh(d.code) {
                    Some((title, advice)) => format!("{title}：{}（{advice}）", d.message),
                    None => d.message.clone(),
                },
            })
            .collect(),
        errors,
        actions,
        events: state
            .db
            .submission_events(id)
            .await?
            .into_iter()
            .map(|e| (crate::library::format_time(e.at, 480), e))
            .collect(),
        comments,
        preview,
        slug: crate::standard::Code::parse(&s.code)
            .map(|c| c.slug())
            .unwrap_or_default(),
        clauses,
        author,
        message,
        changes,
        s,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<SubmissionPage, AppError> {
    page(&state, &viewer, id, String::new()).await
}

#[derive(Deserialize)]
pub struct EditForm {
    text: String,
    version: i64,
}

pub async fn edit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<EditForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if s.author_id != user.id {
        return Err(AppError::Forbidden);
    }
    let text = f.text.replace("\r\n", "\n");
    match state.db.edit_submission(id, f.version, &text, &user).await {
        Ok(_) => Ok(Redirect::to(&format!("/submissions/{id}")).into_response()),
        Err(e @ (Conflict::Stale { .. } | Conflict::Moved(_))) => {
            Ok(page(&state, &viewer, id, e.to_string())
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    #[serde(default)]
    comment: String,
}

/// Takes `action` on submission `id` for `user`: `Ok(Ok(()))` when it happened,
/// `Ok(Err(why))` when the rules, the lint or a concurrent change refused it.
/// The page and the API both come here, so they cannot disagree.
async fn perform(
    state: &AppState,
    user: &User,
    id: i64,
    action: &str,
    comment: &str,
) -> Result<Result<(), String>, AppError> {
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if !can_see(user, &s) {
        return Err(AppError::Forbidden);
    }
    let action =
        Action::parse(action).ok_or_else(|| AppError::BadRequest(format!("未知操作：{action}")))?;
    let actor = submission::Actor {
        role: user.role,
        is_author: s.author_id == user.id,
    };
    if action.needs_clean_lint() {
        let errors = lint(&s).iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            return Ok(Err(format!("有 {errors} 个错误，修正后才能提交")));
        }
    }
    // Publishing is idempotent: asking again once it is published (a double click,
    // a concurrent retry that finished first) is a success, not a refusal.
    if action == Action::Publish
        && s.state == SubState::Published
        && submission::next(SubState::Approved, action, actor, comment).is_ok()
    {
        return Ok(Ok(()));
    }
    let to = match submission::next(s.state, action, actor, comment) {
        Ok(to) => to,
        Err(r) => return Ok(Err(r.to_string())),
    };
    // Publishing (a retry) leaves the state to `publish`; everything else moves it
    // here, once, whoever else is clicking at the same moment.
    if action != Action::Publish {
        match state.db.transition(id, s.state, to, user, comment).await {
            Ok(()) => {}
            Err(e @ Conflict::Moved(_)) => return Ok(Err(e.to_string())),
            Err(e) => return Err(e.into()),
        }
    }
    // Approval publishes at once; a failed publish leaves the submission approved with
    // the error shown, to be retried.
    if matches!(action, Action::Approve | Action::Publish) {
        publish(state, id, user).await?;
    }
    Ok(Ok(()))
}

pub async fn act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    match perform(&state, &user, id, &f.action, &f.comment).await? {
        Ok(()) => Ok(Redirect::to(&format!("/submissions/{id}")).into_response()),
        Err(why) => Ok(page(&state, &viewer, id, why).await?.into_response()),
    }
}

/// `GET /api/v1/submissions/{id}`: the submission, its lint, events, comments and
/// the actions the caller may take.
pub async fn api_show(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if !can_see(&user, &s) {
        return Ok(super::api::error(
            axum::http::StatusCode::FORBIDDEN,
            "没有权限",
        ));
    }
    let actor = submission::Actor {
        role: user.role,
        is_author: s.author_id == user.id,
    };
    let actions: Vec<&str> = submission::available(s.state, actor)
        .into_iter()
        .map(Action::as_str)
        .collect();
    let (diagnostics, total) = diagnostics_json(&lint(&s));
    Ok(axum::Json(serde_json::json!({
        "submission": s,
        "diagnostics": diagnostics,
        "diagnostics_total": total,
        "events": state.db.submission_events(id).await?,
        "comments": state.db.comments(id).await?,
        "actions": actions,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct ApiAction {
    action: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/submissions/{id}/action` (JSON `{action, comment}`): 200 with the
/// new state, or 409 with the reason it was refused.
pub async fn api_act(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::Json(a): axum::Json<ApiAction>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let outcome = match perform(&state, &user, id, &a.action, &a.comment).await {
        Err(AppError::Forbidden) => {
            return Ok(super::api::error(
                axum::http::StatusCode::FORBIDDEN,
                "没有权限",
            ));
        }
        Err(AppError::NotFound) => {
            return Ok(super::api::error(
                axum::http::StatusCode::NOT_FOUND,
                "没有这个提交",
            ));
        }
        Err(AppError::BadRequest(m)) => {
            return Ok(super::api::error(axum::http::StatusCode::BAD_REQUEST, &m));
        }
        other => other?,
    };
    let now = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    Ok(match outcome {
        Ok(()) => axum::Json(serde_json::json!({
            "state": now.state, "version": now.version,
            "published_rev": now.published_rev, "publish_error": now.publish_error,
        }))
        .into_response(),
        Err(why) => super::api::error(axum::http::StatusCode::CONFLICT, &why),
    })
}

/// Publishes an approved submission into the library as `approver` and records it.
/// Idempotent: the library returns the commit that already holds this submission's
/// text, and a submission someone else marked published meanwhile is a success. A
/// failure leaves it approved with the error shown and a retry button.
async fn publish(state: &AppState, id: i64, approver: &User) -> Result<(), AppError> {
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if s.state != SubState::Approved {
        return Ok(());
    }
    let req = PublishRequest {
        text: s.text.clone(),
        author: Author::new(
            &approver.display_name,
            &format!("{}@biaozhun.local", approver.username),
        ),
        message: format!(
            "{}（提交 #{}，批准人 {}）",
            s.title, s.id, approver.display_name
        ),
        submission: Some(format!("#{}", s.id)),
        when: None,
    };
    let library = state.clone();
    let published = tokio::task::spawn_blocking(move || library.library.publish(&req))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    match published {
        Ok(rev) => {
            match state.db.mark_published(id, &rev.id, approver).await {
                Ok(_) => {}
                Err(Conflict::Moved(_)) => {
                    // Moved on from approved to something other than published:
                    // nothing in the states allows it; say so rather than hide it.
                    return Err(AppError::Internal(format!(
                        "submission {id} left the approved state while being published at {}",
                        rev.id
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            let _ = state.refresh();
        }
        Err(e) => {
            state
                .db
                .set_publish_error(id, &publish_error_text(&e))
                .await?;
        }
    }
    Ok(())
}

/// What a failed publish shows on the submission page, in words for staff (the
/// details go to the server log).
fn publish_error_text(e: &crate::library::LibraryError) -> String {
    use crate::library::LibraryError as E;
    tracing::warn!(error = %e, "publish failed");
    let why = match e {
        E::Invalid(diags) => {
            let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
            match errors.first() {
                Some(d) => format!(
                    "文本未通过标准库的检查（{} 个错误），第一个在第 {} 行：{}",
                    errors.len(),
                    d.line,
                    crate::diag::zh(d.code)
                        .map(|z| z.0)
                        .unwrap_or(d.message.as_str())
                ),
                None => "文本未通过标准库的检查".to_string(),
            }
        }
        E::PathTaken { path, other, .. } => {
            format!("标准库中的文件 {path} 已属于 {other}，不能存放这份标准")
        }
        _ => "标准库暂时无法写入（服务器上的标准库仓库损坏或不可访问），请联系管理员处理后重试"
            .to_string(),
    };
    format!("发布失败：{why}")
}

/// At startup: every approved submission the library does not hold yet (a publish
/// interrupted between approval and its commit, or between the commit and its
/// record) is published now as its approver, or gets the error and its retry
/// button. Returns one line per submission for the console.
pub async fn reconcile_publications(state: &AppState) -> Result<Vec<String>, AppError> {
    let mut report = Vec::new();
    for s in state.db.submissions(&[SubState::Approved], None).await? {
        let Some(approver) = state.db.approver(s.id).await? else {
            let why = "发布失败：找不到批准人，请审核员重新发布";
            state.db.set_publish_error(s.id, why).await?;
            report.push(format!("提交 #{}（{}）：{why}", s.id, s.code));
            continue;
        };
        publish(state, s.id, &approver).await?;
        let now = state.db.submission(s.id).await?.ok_or(AppError::NotFound)?;
        report.push(if now.state == SubState::Published {
            format!(
                "提交 #{}（{}）已批准但尚未发布，现已发布到标准库",
                s.id, s.code
            )
        } else {
            format!(
                "提交 #{}（{}）已批准但未能发布，页面上显示原因和“重试发布”按钮：{}",
                s.id, s.code, now.publish_error
            )
        });
    }
    Ok(report)
}

#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    clause: String,
    body: String,
    parent: Option<i64>,
}

pub async fn comment(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<CommentForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    add_comment(&state, &user, id, &f.clause, f.parent, &f.body).await?;
    Ok(Redirect::to(&format!("/submissions/{id}#comments")).into_response())
}

/// The clause numbers of a draft, in document order.
fn clause_numbers(text: &str) -> Vec<String> {
    Collection::from_sources(&[("x.md".into(), text.to_string())])
        .standards
        .first()
        .map(|st| st.all_clauses().iter().map(|c| c.number.clone()).collect())
        .unwrap_or_default()
}

/// A comment on the whole text or on one clause of it, or a reply in a thread.
async fn add_comment(
    state: &AppState,
    user: &User,
    id: i64,
    clause: &str,
    parent: Option<i64>,
    body: &str,
) -> Result<i64, AppError> {
    let s = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
    if !can_see(user, &s) {
        return Err(AppError::Forbidden);
    }
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 4000 {
        return Err(AppError::BadRequest("意见须为 1–4000 个字符".into()));
    }
    let clause = clause.trim();
    if parent.is_none()
        && !clause.is_empty()
        && !clause_numbers(&s.text).iter().any(|n| n == clause)
    {
        return Err(AppError::BadRequest(format!(
            "文本中没有第 {clause} 条；请选择现有条款或“全文”"
        )));
    }
    match state.db.add_comment(id, clause, parent, body, user).await {
        Ok(cid) => Ok(cid),
        Err(e @ Conflict::NoParent) => Err(AppError::BadRequest(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// `/api/v1/submissions`: the submissions the caller may see.
pub async fn api_list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let list: Vec<serde_json::Value> = state
        .db
        .submissions(&[], None)
        .await?
        .into_iter()
        .filter(|s| can_see(&user, s))
        .map(|s| {
            serde_json::json!({
                "id": s.id, "title": s.title, "code": s.code, "state": s.state,
                "author_id": s.author_id, "version": s.version,
                "published_rev": s.published_rev, "publish_error": s.publish_error,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "submissions": list })).into_response())
}

#[derive(Deserialize)]
pub struct ReviseForm {
    base: String,
}

/// The revision's code: the base's prefix and number with this year; when that is
/// the base's own code, the revision amends the edition in place.
fn revision_code(base: &crate::standard::Code, year: i32) -> String {
    format!("{} {}—{year}", base.prefix, base.number)
}

/// Starts a revision of a published enterprise standard: its current text, the new
/// code, and `replaces:` pointing at the edition it will supersede.
async fn create_revision(
    state: &AppState,
    user: &User,
    base_slug: &str,
) -> Result<Submission, AppError> {
    let content = state.content();
    let base = super::pages::find_standard(&content.coll, base_slug).ok_or(AppError::NotFound)?;
    if base.meta.kind != crate::standard::Kind::Enterprise {
        return Err(AppError::BadRequest("只能修订企业标准".into()));
    }
    let text = std::fs::read_to_string(state.library.root().join(&base.path))
        .map_err(|e| AppError::Internal(format!("reading {}: {e}", base.path)))?;
    let year = crate::library::format_time(crate::db::now(), 480)[..4]
        .parse()
        .unwrap_or(2026);
    let code = revision_code(&base.code, year);
    let old = base.code.to_string();
    let mut text = text.replacen(&format!("code: {old}"), &format!("code: {code}"), 1);
    if code != old && !text.contains("\nreplaces:") {
        // Insert `replaces:` just before the closing `---` of the front matter.
        if let Some(end) = text[3..].find("\n---").map(|i| i + 3) {
            text.insert_str(end, &format!("\nreplaces:\n  - {old}"));
        }
    }
    Ok(state
        .db
        .create_submission(
            &NewSubmission {
                title: &base.meta.title,
                code: &code,
                kind: "revision",
                base_code: &old,
                department: &user.department,
                category: base.meta.category.as_deref().unwrap_or(""),
                text: &text,
            },
            user,
        )
        .await?)
}

pub async fn revise(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<ReviseForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let s = create_revision(&state, &user, &f.base).await?;
    Ok(Redirect::to(&format!("/submissions/{}", s.id)).into_response())
}

/// Maps an error of the shared code paths to the API's JSON error.
fn api_error(e: AppError) -> Result<Response, AppError> {
    use axum::http::StatusCode;
    Ok(match e {
        AppError::Forbidden => super::api::error(StatusCode::FORBIDDEN, "没有权限"),
        AppError::NotFound => super::api::error(StatusCode::NOT_FOUND, "没有这个提交或标准"),
        AppError::BadRequest(m) => super::api::error(StatusCode::BAD_REQUEST, &m),
        other => return Err(other),
    })
}

#[derive(Deserialize)]
pub struct ApiNew {
    #[serde(default)]
    title: String,
    #[serde(default)]
    category: String,
    /// Markdown to start from (its `code:` is set to the assigned code).
    text: Option<String>,
    /// Slug or code of a published enterprise standard: start a revision of it
    /// instead (`title`, `category` and `text` are then taken from it).
    revise: Option<String>,
}

/// `POST /api/v1/submissions`: 201 with the new submission (its assigned code,
/// version 1) and its lint.
pub async fn api_create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    axum::Json(n): axum::Json<ApiNew>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let made = match &n.revise {
        Some(base) => create_revision(&state, &user, base).await,
        None => create_new(&state, &user, &n.title, &n.category, n.text.as_deref()).await,
    };
    let s = match made {
        Ok(s) => s,
        Err(e) => return api_error(e),
    };
    let (diagnostics, total) = diagnostics_json(&lint(&s));
    Ok((
        axum::http::StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/submissions/{}", s.id),
        )],
        axum::Json(serde_json::json!({
            "submission": s, "diagnostics": diagnostics, "diagnostics_total": total,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ApiEdit {
    text: String,
    /// The version the edit was made against (optimistic concurrency).
    version: i64,
}

/// `PUT /api/v1/submissions/{id}`: replaces the draft's text. 200 with the new
/// version and lint; 409 with `current_version` when someone saved in between or
/// the submission is no longer editable.
pub async fn api_edit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::Json(e): axum::Json<ApiEdit>,
) -> Result<Response, AppError> {
    use axum::http::StatusCode;
    let user = viewer.signed()?;
    let Some(s) = state.db.submission(id).await? else {
        return api_error(AppError::NotFound);
    };
    if s.author_id != user.id {
        return api_error(AppError::Forbidden);
    }
    let text = e.text.replace("\r\n", "\n");
    match state.db.edit_submission(id, e.version, &text, &user).await {
        Ok(_) => {
            let now = state.db.submission(id).await?.ok_or(AppError::NotFound)?;
            let (diagnostics, total) = diagnostics_json(&lint(&now));
            Ok(axum::Json(serde_json::json!({
                "version": now.version, "state": now.state,
                "diagnostics": diagnostics, "diagnostics_total": total,
            }))
            .into_response())
        }
        Err(c @ (Conflict::Stale { .. } | Conflict::Moved(_))) => {
            let current = state.db.submission(id).await?.map(|s| s.version);
            Ok((
                StatusCode::CONFLICT,
                axum::Json(serde_json::json!({
                    "error": c.to_string(), "current_version": current,
                })),
            )
                .into_response())
        }
        Err(c) => api_error(c.into()),
    }
}

#[derive(Deserialize)]
pub struct ApiComment {
    #[serde(default)]
    clause: String,
    body: String,
    parent: Option<i64>,
}

/// `POST /api/v1/submissions/{id}/comments`: 201 with the comment's id.
pub async fn api_comment(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    axum::Json(c): axum::Json<ApiComment>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    match add_comment(&state, &user, id, &c.clause, c.parent, &c.body).await {
        Ok(cid) => Ok((
            axum::http::StatusCode::CREATED,
            axum::Json(serde_json::json!({ "id": cid })),
        )
            .into_response()),
        Err(e) => api_error(e),
    }
}

pub struct NoticeRow {
    pub when: String,
    pub who: String,
    pub action: String,
    pub code: String,
    pub title: String,
    pub body: String,
    pub href: String,
    pub unread: bool,
}

fn notice_row(n: &crate::db::submissions::Notice) -> NoticeRow {
    use crate::db::submissions::NoticeKind;
    let (action, href) = match n.kind {
        NoticeKind::Transition => {
            let action = match SubState::parse(&n.to_state) {
                Some(SubState::Submitted) => "提交了".to_string(),
                Some(SubState::Resubmitted) => "重新提交了".to_string(),
                Some(SubState::InReview) => "开始审核".to_string(),
                Some(SubState::ChangesRequested) => "退回修改".to_string(),
                Some(SubState::Approved) => "批准了".to_string(),
                Some(SubState::Published) => "发布了".to_string(),
                Some(SubState::Rejected) => "未通过".to_string(),
                Some(SubState::Withdrawn) => "撤回了".to_string(),
                Some(SubState::Draft) | None => format!("将状态改为 {}", n.to_state),
            };
            (action, format!("/submissions/{}", n.submission_id))
        }
        NoticeKind::Comment => (
            if n.clause.is_empty() {
                "对全文发表了意见".to_string()
            } else {
                format!("对第 {} 条发表了意见", n.clause)
            },
            format!(
                "/submissions/{}#comment-{}",
                n.submission_id,
                n.comment_id.unwrap_or_default()
            ),
        ),
    };
    NoticeRow {
        when: crate::library::format_time(n.at, 480),
        who: n.who.clone(),
        action,
        code: n.code.clone(),
        title: n.title.clone(),
        body: n.body.clone(),
        href,
        unread: n.unread,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    nav: Nav,
    /// Actionable items: (text, link).
    todo: Vec<(String, String)>,
    rows: Vec<NoticeRow>,
    unread: usize,
}

/// `GET /notifications`: what others did that concerns the user, newest first;
/// opening the list marks it read (the badge clears on the next page).
pub async fn notifications(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<NotificationsPage, AppError> {
    let user = viewer.signed()?;
    let notices = state.db.notices(&user, 100).await?;
    state.db.mark_notices_seen(&user).await?;
    let mut todo = Vec::new();
    if viewer.attention.queue > 0 {
        todo.push((
            format!("{} 份提交等待审核", viewer.attention.queue),
            "/submissions".to_string(),
        ));
    }
    if viewer.attention.changes > 0 {
        todo.push((
            format!("你的 {} 份提交需要修改", viewer.attention.changes),
            "/submissions".to_string(),
        ));
    }
    let rows: Vec<NoticeRow> = notices.iter().map(notice_row).collect();
    let mut nav = Nav::of(&viewer);
    nav.unread = 0; // read now
    Ok(NotificationsPage {
        unread: rows.iter().filter(|r| r.unread).count(),
        nav,
        todo,
        rows,
    })
}

/// `GET /api/v1/notifications`: the same list as JSON with `unread` flags and the
/// badge counts; reading it through the API does not mark anything read.
pub async fn api_notifications(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let attention = state.db.attention(&user).await?;
    let notices = state.db.notices(&user, 100).await?;
    Ok(axum::Json(serde_json::json!({
        "review_queue": attention.queue,
        "changes_requested": attention.changes,
        "unread": attention.unread,
        "notifications": notices,
    }))
    .into_response())
}
