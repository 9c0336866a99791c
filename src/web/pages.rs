//! HTML pages (askama templates in `templates/`, 简体中文). Templates escape every
//! value; forms carry the session's CSRF token and are checked before anything
//! changes.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::accounts::{Login, NewUser, Role, User};
use crate::standard::{Clause, Standard, slug_of_id};

use super::{AppError, AppState, SESSION_COOKIE, Viewer};

pub const STYLESHEET: &str = include_str!("../../templates/app.css");
pub const SCRIPT: &str = include_str!("../../templates/app.js");

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// Percent-encodes a URL component.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The header bar's view of the user.
pub struct Nav {
    pub user: Option<User>,
    pub csrf: String,
    pub is_admin: bool,
    /// Employees, reviewers and admins write and review submissions.
    pub submits: bool,
    /// Items needing the user's attention (the badge on 标准提交).
    pub attention: i64,
    /// Unread notifications (the badge on 通知).
    pub unread: i64,
    /// Auditors and admins run audits.
    pub audits: bool,
    /// Staff who run or read satisfaction surveys.
    pub surveys: bool,
    /// Experts and admins: pilot acceptance.
    pub acceptance: bool,
}

impl Nav {
    pub fn of(v: &Viewer) -> Nav {
        Nav {
            is_admin: v.role() == Some(Role::Admin),
            submits: matches!(
                v.role(),
                Some(Role::Employee | Role::Reviewer | Role::Admin)
            ),
            attention: v.attention.queue + v.attention.changes,
            unread: v.attention.unread,
            audits: matches!(v.role(), Some(Role::Auditor | Role::Admin)),
            surveys: matches!(
                v.role(),
                Some(Role::Employee | Role::Reviewer | Role::Auditor | Role::Admin | Role::Expert)
            ),
            acceptance: matches!(v.role(), Some(Role::Expert | Role::Admin)),
            user: v.user.clone(),
            csrf: v.csrf.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    nav: Nav,
    status: u16,
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        nav: Nav {
            user: None,
            csrf: String::new(),
            is_admin: false,
            submits: false,
            attention: 0,
            unread: 0,
            audits: false,
            surveys: false,
            acceptance: false,
        },
        status: status.as_u16(),
        message,
    };
    match page.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

pub async fn not_found() -> Response {
    AppError::NotFound.into_response()
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    let db = state.db.ping().await.is_ok();
    let docs = state.with_search(|s| s.doc_count());
    let index = docs > 0;
    let body = serde_json::json!({
        "status": if db && index { "ok" } else { "degraded" },
        "database": { "ok": db, "backend": state.db.backend.name() },
        "index": { "ok": index, "documents": docs },
    });
    let code = if db && index {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------
// Login / logout

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    nav: Nav,
    next: String,
    error: String,
    csrf: String,
}

const LOGIN_CSRF: &str = "bz_login_csrf";

/// Only same-site paths are followed after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

/// `; Secure` unless the server was told it runs on plain HTTP (`--insecure-cookies`).
fn secure(state: &AppState) -> &'static str {
    if state.secure_cookies { "; Secure" } else { "" }
}

fn login_page(state: &AppState, next: String, error: String) -> Response {
    let csrf = crate::db::accounts::random_token();
    let page = LoginPage {
        nav: Nav {
            user: None,
            csrf: String::new(),
            is_admin: false,
            submits: false,
            attention: 0,
            unread: 0,
            audits: false,
            surveys: false,
            acceptance: false,
        },
        next,
        error,
        csrf: csrf.clone(),
    };
    let cookie = format!(
        "{LOGIN_CSRF}={csrf}; Path=/login; HttpOnly; SameSite=Strict{}",
        secure(state)
    );
    match page.render() {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (header::SET_COOKIE, cookie),
            ],
            html,
        )
            .into_response(),
        Err(e) => AppError::Internal(e.to_string()).into_response(),
    }
}

pub async fn login_form(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_page(&state, safe_next(q.next.as_deref()), String::new())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    // Double-submit: the form's token must match the cookie set with the form.
    if super::cookie(&headers, LOGIN_CSRF).as_deref() != Some(f.csrf.as_str()) || f.csrf.is_empty()
    {
        return login_page(&state, next, "表单已过期，请重新登录".into());
    }
    match state.db.login(&f.username, &f.password, &viewer.ip).await {
        Ok(Login::Ok(user)) => match state.db.create_session(&user, &viewer.ip).await {
            Ok((token, _)) => {
                // A one-time password is changed first (every page would send the
                // user there anyway).
                let next = if user.must_change_password {
                    "/account".to_string()
                } else {
                    next
                };
                let cookie = format!(
                    "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{}; Max-Age={}",
                    secure(&state),
                    crate::db::accounts::SESSION_SECONDS
                );
                (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, next), (header::SET_COOKIE, cookie)],
                )
                    .into_response()
            }
            Err(e) => AppError::from(e).into_response(),
        },
        Ok(Login::Wrong) => login_page(&state, next, "用户名或密码错误".into()),
        Ok(Login::Throttled) => {
            let mut r = login_page(&state, next, "登录失败次数过多，请 15 分钟后再试".into());
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// (The CSRF token was checked by `authorize`, as for every form.)
pub async fn logout(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<Response, AppError> {
    if let Some(token) = &viewer.session_token {
        state.db.end_session(token, &viewer.actor()).await?;
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax{}; Max-Age=0",
        secure(&state)
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response())
}

// ---------------------------------------------------------------------------------
// Standards

/// A standard as the list and home pages show it.
pub struct StdRow {
    pub slug: String,
    pub code: String,
    pub title: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub published: String,
    pub clauses: usize,
    pub requirements: usize,
}

fn row(s: &Standard) -> StdRow {
    StdRow {
        slug: s.code.slug(),
        code: s.code.to_string(),
        title: s.meta.title.clone(),
        kind: s.meta.kind.label(),
        status: s.meta.status.label(),
        published: s.meta.published.clone().unwrap_or_default(),
        clauses: s.clause_count(),
        requirements: s.provision_counts()[0],
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    nav: Nav,
    standards: Vec<StdRow>,
    revision: String,
    /// The user's department's news and company-wide announcements: (date, item).
    news: Vec<(String, crate::db::accounts::News)>,
}

pub async fn home(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<HomePage, AppError> {
    let content = state.content();
    let mut standards: Vec<StdRow> = content
        .coll
        .standards
        .iter()
        .filter(|s| !s.is_reference_only())
        .map(row)
        .collect();
    standards.sort_by(|a, b| b.published.cmp(&a.published));
    let department = viewer
        .user
        .as_ref()
        .map(|u| u.department.clone())
        .unwrap_or_default();
    let news = state
        .db
        .news(Some(&department), 5)
        .await?
        .into_iter()
        .map(|n| (crate::library::format_time(n.at, 480)[..10].to_string(), n))
        .collect();
    Ok(HomePage {
        nav: Nav::of(&viewer),
        standards,
        revision: content.revision.chars().take(8).collect(),
        news,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "news.html")]
pub struct NewsPage {
    nav: Nav,
    items: Vec<(String, crate::db::accounts::News)>,
    can_post: bool,
    message: String,
}

async fn news_page(
    state: &AppState,
    viewer: &Viewer,
    message: String,
) -> Result<NewsPage, AppError> {
    let items = state
        .db
        .news(None, 100)
        .await?
        .into_iter()
        .map(|n| (crate::library::format_time(n.at, 480), n))
        .collect();
    Ok(NewsPage {
        nav: Nav::of(viewer),
        items,
        can_post: matches!(viewer.role(), Some(Role::Reviewer | Role::Admin)),
        message,
    })
}

pub async fn news(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<NewsPage, AppError> {
    news_page(&state, &viewer, String::new()).await
}

#[derive(Deserialize)]
pub struct NewsForm {
    title: String,
    body: String,
    #[serde(default)]
    department: String,
}

pub async fn post_news(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<NewsForm>,
) -> Result<NewsPage, AppError> {
    let user = viewer.signed()?;
    let message = match state
        .db
        .add_news(&f.title, &f.body, &f.department, &user)
        .await
    {
        Ok(_) => "已发布".to_string(),
        Err(crate::db::accounts::AccountError::Db(e)) => {
            return Err(AppError::Internal(e.to_string()));
        }
        Err(e) => e.to_string(),
    };
    news_page(&state, &viewer, message).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    /// A GB/T 24421 node (`服务提供标准` or `服务提供标准/服务提供规范`).
    category: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "standards.html")]
pub struct StandardsPage {
    nav: Nav,
    standards: Vec<StdRow>,
    kind: String,
    status: String,
    category: String,
    /// Every node and sub-node of the standard system, for the filter.
    categories: Vec<String>,
}

pub async fn standards(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> StandardsPage {
    let content = state.content();
    let kind = q.kind.unwrap_or_default();
    let status = q.status.unwrap_or_default();
    let category = q.category.unwrap_or_default();
    let standards = content
        .coll
        .standards
        .iter()
        .filter(|s| kind.is_empty() || s.meta.kind.as_str() == kind)
        .filter(|s| status.is_empty() || s.meta.status.as_str() == status)
        .filter(|s| {
            category.is_empty()
                || s.meta
                    .category
                    .as_deref()
                    .is_some_and(|c| c == category || c.starts_with(&format!("{category}/")))
        })
        .map(row)
        .collect();
    let categories = crate::standard::category::NODES
        .iter()
        .flat_map(|(top, subs)| {
            std::iter::once(top.to_string()).chain(subs.iter().map(move |s| format!("{top}/{s}")))
        })
        .collect();
    StandardsPage {
        nav: Nav::of(&viewer),
        standards,
        kind,
        status,
        category,
        categories,
    }
}

/// One clause in the tree, flattened with its depth.
pub struct ClauseRow {
    pub slug: String,
    pub number: String,
    pub title: String,
    pub depth: usize,
    pub provisions: Vec<ProvisionRow>,
}

pub struct ProvisionRow {
    pub text: String,
    pub kind: &'static str,
    pub class: &'static str,
}

fn provision_rows(c: &Clause) -> Vec<ProvisionRow> {
    c.provisions
        .iter()
        .map(|p| ProvisionRow {
            text: p.text.clone(),
            kind: p.kind.label(),
            class: p.kind.as_str(),
        })
        .collect()
}

fn clause_rows(s: &Standard) -> Vec<ClauseRow> {
    s.all_clauses()
        .into_iter()
        .map(|c| ClauseRow {
            slug: c.slug.clone(),
            number: c.number.clone(),
            title: c.title.clone().unwrap_or_default(),
            depth: c.depth.min(6),
            provisions: provision_rows(c),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "standard.html")]
pub struct StandardPage {
    nav: Nav,
    std: StdRow,
    meta: Vec<(&'static str, String)>,
    clauses: Vec<ClauseRow>,
    /// Other editions of the same standard: (slug, code, status).
    editions: Vec<(String, String, &'static str)>,
    /// The viewer may start a revision (an enterprise standard, and an author role).
    revisable: bool,
    /// Review comments per clause: none on a published standard (the tree template
    /// is shared with the submission preview, which has them).
    comments: std::collections::HashMap<String, usize>,
    /// Always false: the tree template is shared with the draft preview.
    draft: bool,
}

pub fn find_standard<'a>(
    coll: &'a crate::standard::Collection,
    slug: &str,
) -> Option<&'a Standard> {
    coll.find(slug)
        .or_else(|| coll.standards.iter().find(|s| s.code.slug() == slug))
}

pub async fn standard(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
) -> Result<StandardPage, AppError> {
    let content = state.content();
    let s = find_standard(&content.coll, &slug).ok_or(AppError::NotFound)?;
    let m = &s.meta;
    let family = crate::standard::Code::parse(&s.code.family()).ok();
    let editions = content
        .coll
        .standards
        .iter()
        .filter(|o| o.code != s.code && family.as_ref().is_some_and(|f| f.matches(&o.code)))
        .map(|o| (o.code.slug(), o.code.to_string(), o.meta.status.label()))
        .collect();
    let nav = Nav::of(&viewer);
    Ok(StandardPage {
        revisable: nav.submits && m.kind == crate::standard::Kind::Enterprise,
        nav,
        std: row(s),
        meta: meta_rows(s),
        clauses: clause_rows(s),
        editions,
        comments: Default::default(),
        draft: false,
    })
}

/// The standard page's body (heading, metadata, clause tree) without the page
/// around it: the submission editor's live preview renders this same template, so a
/// draft looks exactly as it will once published.
#[derive(Template)]
#[template(path = "preview.html")]
pub struct Preview {
    std: StdRow,
    meta: Vec<(&'static str, String)>,
    clauses: Vec<ClauseRow>,
    /// Clause number → count of review comments on it.
    comments: std::collections::HashMap<String, usize>,
    /// A draft's clauses have no pages yet: their numbers open the comment form.
    draft: bool,
}

impl Preview {
    pub fn of(s: &Standard, comments: std::collections::HashMap<String, usize>) -> Preview {
        Preview {
            std: row(s),
            meta: meta_rows(s),
            clauses: clause_rows(s),
            comments,
            draft: true,
        }
    }
}

fn meta_rows(s: &Standard) -> Vec<(&'static str, String)> {
    let m = &s.meta;
    let mut meta = vec![
        ("标准类别", m.kind.label().to_string()),
        ("状态", m.status.label().to_string()),
    ];
    for (k, v) in [
        ("发布日期", &m.published),
        ("实施日期", &m.effective),
        ("发布单位", &m.issuer),
        ("ICS", &m.ics),
    ] {
        if let Some(v) = v {
            meta.push((k, v.clone()));
        }
    }
    if let Some(c) = &m.category {
        meta.push(("标准体系", c.clone()));
    }
    if !m.replaces.is_empty() {
        meta.push(("代替", m.replaces.join("、")));
    }
    if let Some(by) = &m.replaced_by {
        meta.push(("被代替", by.clone()));
    }
    meta
}

#[derive(Template, WebTemplate)]
#[template(path = "clause.html")]
pub struct ClausePage {
    nav: Nav,
    std: StdRow,
    clause: ClauseRow,
    id: String,
    text: String,
    cited_by: Vec<(String, String)>,
    /// (date, author, change, summary), newest first.
    history: std::sync::Arc<super::ClauseRevisions>,
}

pub async fn clause(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
) -> Result<ClausePage, AppError> {
    let content = state.content();
    let (std_slug, number) = slug.split_once('_').ok_or(AppError::NotFound)?;
    let s = find_standard(&content.coll, std_slug).ok_or(AppError::NotFound)?;
    let c = s.clause(number).ok_or(AppError::NotFound)?;
    // Clauses of other standards that cite this standard (any edition of it).
    let code = s.code.to_string();
    let cited_by = content
        .cited_by
        .get(&s.code.family())
        .map(|v| v.iter().take(50).cloned().collect())
        .unwrap_or_default();
    let cached = content
        .clause_history
        .lock()
        .ok()
        .and_then(|m| m.get(&c.id).cloned());
    let history = match cached {
        Some(h) => h,
        None => {
            let h: super::ClauseRevisions = state
                .library
                .clause_history(&code, &c.number)
                .map(|h| {
                    h.revisions
                        .into_iter()
                        .map(|r| {
                            let what = describe(&r.revision.summary, &r.revision.message);
                            (
                                r.revision.date,
                                r.revision.author,
                                change_label(r.change),
                                what,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let h = std::sync::Arc::new(h);
            if let Ok(mut m) = content.clause_history.lock() {
                m.insert(c.id.clone(), h.clone());
            }
            h
        }
    };
    Ok(ClausePage {
        history,
        nav: Nav::of(&viewer),
        std: row(s),
        clause: ClauseRow {
            slug: c.slug.clone(),
            number: c.number.clone(),
            title: c.title.clone().unwrap_or_default(),
            depth: c.depth,
            provisions: provision_rows(c),
        },
        id: c.id.clone(),
        text: c.own_text(),
        cited_by,
    })
}

// ---------------------------------------------------------------------------------
// Search

#[derive(Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
}

pub struct HitRow {
    pub slug: String,
    pub id: String,
    pub breadcrumb: String,
    pub types: String,
    /// Snippet split into (text, highlighted) pieces, escaped by the template.
    pub pieces: Vec<(String, bool)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
pub struct SearchPage {
    nav: Nav,
    q: String,
    total: usize,
    hits: Vec<HitRow>,
    error: String,
}

pub async fn search(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<SearchQuery>,
) -> SearchPage {
    let query = q.q.unwrap_or_default();
    let mut page = SearchPage {
        nav: Nav::of(&viewer),
        q: query.clone(),
        total: 0,
        hits: Vec::new(),
        error: String::new(),
    };
    if query.trim().is_empty() {
        return page;
    }
    // Searching reads the current index (refreshed by `content()` after a publish).
    let _ = state.content();
    match state.with_search(|s| s.search(&query, 20)) {
        Ok(r) => {
            page.total = r.total;
            page.hits = r
                .hits
                .iter()
                .map(|h| HitRow {
                    slug: slug_of_id(&h.clause_id),
                    id: h.id.clone(),
                    breadcrumb: h.breadcrumb.clone(),
                    types: h.types.join("、"),
                    pieces: pieces(&h.snippet, &h.highlights),
                })
                .collect();
        }
        Err(e) => page.error = e.to_string(),
    }
    page
}

/// Cuts a snippet into plain and highlighted pieces (byte ranges from the index).
fn pieces(text: &str, ranges: &[(usize, usize)]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    for &(a, b) in ranges {
        if a < at || b > text.len() || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        if a > at {
            out.push((text[at..a].to_string(), false));
        }
        out.push((text[a..b].to_string(), true));
        at = b;
    }
    if at < text.len() {
        out.push((text[at..].to_string(), false));
    }
    out
}

// ---------------------------------------------------------------------------------
// Administration

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
pub struct AdminUsersPage {
    nav: Nav,
    users: Vec<User>,
    roles: Vec<(&'static str, &'static str)>,
    message: String,
}

fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect()
}

pub async fn admin_users(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<AdminUsersPage, AppError> {
    Ok(AdminUsersPage {
        nav: Nav::of(&viewer),
        users: state.db.users().await?,
        roles: roles(),
        message: String::new(),
    })
}

#[derive(Deserialize)]
pub struct NewUserForm {
    username: String,
    display_name: String,
    password: String,
    role: String,
    department: String,
}

pub async fn admin_create_user(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<NewUserForm>,
) -> Result<Response, AppError> {
    let role = Role::parse(&f.role)
        .ok_or_else(|| AppError::BadRequest(format!("未知角色：{}", f.role)))?;
    let created = state
        .db
        .create_user(
            &NewUser {
                username: &f.username,
                display_name: &f.display_name,
                password: &f.password,
                role,
                department: &f.department,
            },
            &viewer.actor(),
        )
        .await;
    let message = match created {
        Ok(u) => format!("已创建用户 {}", u.username),
        Err(crate::db::accounts::AccountError::Db(e)) => {
            return Err(AppError::Internal(e.to_string()));
        }
        Err(e) => format!("未能创建：{e}"),
    };
    Ok(AdminUsersPage {
        nav: Nav::of(&viewer),
        users: state.db.users().await?,
        roles: roles(),
        message,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct UpdateUserForm {
    role: String,
    department: String,
    active: Option<String>,
}

pub async fn admin_update_user(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
    Form(f): Form<UpdateUserForm>,
) -> Result<Response, AppError> {
    let role = Role::parse(&f.role)
        .ok_or_else(|| AppError::BadRequest(format!("未知角色：{}", f.role)))?;
    let active = f.active.is_some();
    if viewer.user.as_ref().is_some_and(|u| u.id == id) && (!active || role != Role::Admin) {
        return Err(AppError::BadRequest(
            "不能停用自己或取消自己的管理员角色".into(),
        ));
    }
    state
        .db
        .update_user(id, role, &f.department, active, &viewer.actor())
        .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_activity.html")]
pub struct ActivityPage {
    nav: Nav,
    entries: Vec<(String, crate::db::accounts::Activity)>,
}

pub async fn admin_activity(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> Result<ActivityPage, AppError> {
    let entries = state
        .db
        .activity(200)
        .await?
        .into_iter()
        .map(|a| (crate::library::format_time(a.at, 480), a))
        .collect();
    Ok(ActivityPage {
        nav: Nav::of(&viewer),
        entries,
    })
}

/// The author's words of a commit: the message body after our generated summary.
fn describe(summary: &str, message: &str) -> String {
    let body: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != summary)
        .collect();
    if body.is_empty() {
        summary.to_string()
    } else {
        body.join(" ")
    }
}

fn status_label(s: &str) -> &str {
    match s {
        "current" => "现行",
        "superseded" => "被代替",
        "draft" => "草案",
        "withdrawn" => "废止",
        other => other,
    }
}

fn change_label(change: &str) -> &'static str {
    match change {
        "added" => "新增",
        "modified" => "修改",
        "removed" | "deleted" => "删除",
        _ => "变更",
    }
}

// ---------------------------------------------------------------------------------
// History and diff

pub struct HistoryRow {
    pub rev: String,
    pub short: String,
    pub date: String,
    pub author: String,
    pub summary: String,
    pub change: &'static str,
    pub status: String,
    /// The previous revision of this standard, for "compare with previous".
    pub previous: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "history.html")]
pub struct HistoryPage {
    nav: Nav,
    std: StdRow,
    rows: Vec<HistoryRow>,
}

pub async fn history(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(slug): Path<String>,
) -> Result<HistoryPage, AppError> {
    let content = state.content();
    let s = find_standard(&content.coll, &slug).ok_or(AppError::NotFound)?;
    let entries = state
        .library
        .history(&s.code.to_string())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut rows: Vec<HistoryRow> = entries
        .iter()
        .map(|e| HistoryRow {
            rev: e.revision.id.clone(),
            short: e.revision.short_id.clone(),
            date: e.revision.date.clone(),
            author: e.revision.author.clone(),
            summary: describe(&e.revision.summary, &e.revision.message),
            change: change_label(e.change),
            status: match (&e.status_from, &e.status_to) {
                (Some(a), Some(b)) => format!("{} → {}", status_label(a), status_label(b)),
                (None, Some(b)) => status_label(b).to_string(),
                _ => String::new(),
            },
            previous: None,
        })
        .collect();
    // Newest first: each revision's predecessor is the next row.
    for i in 0..rows.len() {
        rows[i].previous = rows.get(i + 1).map(|r| r.rev.clone());
    }
    Ok(HistoryPage {
        nav: Nav::of(&viewer),
        std: row(s),
        rows,
    })
}

#[derive(Deserialize)]
pub struct DiffQuery {
    /// Old and new standard (code or slug); `b` defaults to `a`.
    pub a: String,
    pub b: Option<String>,
    /// Revisions (default: HEAD).
    pub ra: Option<String>,
    pub rb: Option<String>,
}

pub struct ChangeRow {
    pub kind: &'static str,
    pub class: &'static str,
    pub old_number: String,
    pub new_number: String,
    pub title: String,
    pub technical: bool,
    /// Inline diff: (text, "equal" | "insert" | "delete").
    pub segments: Vec<(String, &'static str)>,
    pub old_text: String,
    pub new_text: String,
    pub provisions: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "diff.html")]
pub struct DiffPage {
    nav: Nav,
    old_label: String,
    new_label: String,
    meta: Vec<(String, String, String)>,
    changes: Vec<ChangeRow>,
}

/// Computes the clause-level diff the page and the API show.
pub fn compute_diff(
    state: &AppState,
    q: &DiffQuery,
) -> Result<crate::library::diff::StandardDiff, AppError> {
    let content = state.content();
    let code_of = |x: &str| {
        find_standard(&content.coll, x)
            .map(|s| s.code.to_string())
            .ok_or(AppError::NotFound)
    };
    let a = code_of(&q.a)?;
    let b = code_of(q.b.as_deref().unwrap_or(&q.a))?;
    let ra = q.ra.clone().unwrap_or_else(|| "HEAD".into());
    let rb = q.rb.clone().unwrap_or_else(|| "HEAD".into());
    let bad_rev =
        |e: crate::library::LibraryError| AppError::BadRequest(format!("无法读取该版本：{e}"));
    let (old, old_rev) = state.library.read(&a, &ra).map_err(bad_rev)?;
    let (new, new_rev) = state.library.read(&b, &rb).map_err(bad_rev)?;
    let la = format!("{a} @ {} {}", old_rev.short_id, old_rev.date);
    let lb = format!("{b} @ {} {}", new_rev.short_id, new_rev.date);
    Ok(crate::library::diff::diff(&old, &new, &la, &lb))
}

/// The rows the diff page (and the reviewer's view of a revision) show.
pub fn change_rows(d: &crate::library::diff::StandardDiff) -> Vec<ChangeRow> {
    d.changes
        .iter()
        .map(|c| ChangeRow {
            kind: c.kind.label(),
            class: match c.kind.label() {
                "新增" => "added",
                "删除" => "removed",
                _ => "changed",
            },
            old_number: c.old_number.clone().unwrap_or_default(),
            new_number: c.new_number.clone().unwrap_or_default(),
            title: c.title.clone().unwrap_or_default(),
            technical: c.is_technical(),
            segments: c.inline.iter().map(|s| (s.text.clone(), s.op)).collect(),
            old_text: c.old_text.clone().unwrap_or_default(),
            new_text: c.new_text.clone().unwrap_or_default(),
            provisions: c
                .provisions
                .iter()
                .map(|p| {
                    format!(
                        "{}：{}",
                        p.kind.label(),
                        p.new_text
                            .as_deref()
                            .or(p.old_text.as_deref())
                            .unwrap_or("")
                    )
                })
                .collect(),
        })
        .collect()
}

pub async fn diff(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<DiffQuery>,
) -> Result<DiffPage, AppError> {
    let d = compute_diff(&state, &q)?;
    let changes = change_rows(&d);
    Ok(DiffPage {
        nav: Nav::of(&viewer),
        old_label: d.old_label.clone(),
        new_label: d.new_label.clone(),
        meta: d
            .meta
            .iter()
            .map(|m| (m.field.to_string(), m.old.clone(), m.new.clone()))
            .collect(),
        changes,
    })
}

// ---------------------------------------------------------------------------------
// The standard system (GB/T 24421)

pub struct SystemNode {
    pub top: &'static str,
    pub subs: Vec<(String, Vec<StdRow>)>,
    pub count: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "system.html")]
pub struct SystemPage {
    nav: Nav,
    nodes: Vec<SystemNode>,
    unplaced: Vec<StdRow>,
}

pub async fn system(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
) -> SystemPage {
    let content = state.content();
    let mut nodes: Vec<SystemNode> = crate::standard::category::NODES
        .iter()
        .map(|(top, subs)| SystemNode {
            top,
            subs: subs.iter().map(|s| (s.to_string(), Vec::new())).collect(),
            count: 0,
        })
        .collect();
    let mut unplaced = Vec::new();
    for s in content
        .coll
        .standards
        .iter()
        .filter(|s| !s.is_reference_only())
    {
        let Some(cat) = &s.meta.category else {
            unplaced.push(row(s));
            continue;
        };
        let (top, sub) = cat.split_once('/').unwrap_or((cat.as_str(), ""));
        match nodes.iter_mut().find(|n| n.top == top) {
            Some(n) => {
                n.count += 1;
                match n.subs.iter_mut().find(|(name, _)| name == sub) {
                    Some((_, list)) => list.push(row(s)),
                    None => n.subs.push((
                        if sub.is_empty() {
                            "（未分子类）".into()
                        } else {
                            sub.to_string()
                        },
                        vec![row(s)],
                    )),
                }
            }
            None => unplaced.push(row(s)),
        }
    }
    SystemPage {
        nav: Nav::of(&viewer),
        nodes,
        unplaced,
    }
}

// ---------------------------------------------------------------------------------
// My account: password and API tokens

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    nav: Nav,
    user: User,
    tokens: Vec<(String, crate::db::accounts::ApiToken)>,
    message: String,
    /// A token just created, shown once.
    new_token: String,
    /// Set after a successful password change (the redirect's `?changed=1`).
    notice: String,
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    message: String,
    new_token: String,
) -> Result<AccountPage, AppError> {
    let user = viewer.signed()?;
    let tokens = state
        .db
        .api_tokens(user.id)
        .await?
        .into_iter()
        .map(|t| (crate::library::format_time(t.created_at, 480), t))
        .collect();
    Ok(AccountPage {
        nav: Nav::of(viewer),
        user,
        tokens,
        message,
        new_token,
        notice: String::new(),
    })
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    #[serde(default)]
    changed: Option<String>,
}

pub async fn account(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<AccountQuery>,
) -> Result<AccountPage, AppError> {
    let mut page = account_page(&state, &viewer, String::new(), String::new()).await?;
    if q.changed.is_some() && !page.user.must_change_password {
        page.notice = "密码已修改".into();
    }
    Ok(page)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

/// Changes the user's password (the current one goes through the throttled login
/// check); a changed one-time password also removes its file from the data
/// directory. Success redirects; a refusal shows the page with the reason.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let message = match state
        .db
        .login(&user.username, &f.current, &viewer.ip)
        .await?
    {
        Login::Ok(_) if f.new == f.current => "新密码不能与当前密码相同".to_string(),
        Login::Ok(_) => match state
            .db
            .set_password(user.id, &f.new, &viewer.actor())
            .await
        {
            Ok(()) => {
                if user.must_change_password {
                    let file = state.data.join(super::INITIAL_PASSWORD_FILE);
                    if let Err(e) = std::fs::remove_file(&file)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(file = %file.display(), error = %e, "cannot remove the initial password file");
                    }
                }
                return Ok(Redirect::to("/account?changed=1").into_response());
            }
            Err(crate::db::accounts::AccountError::Db(e)) => {
                return Err(AppError::Internal(e.to_string()));
            }
            Err(e) => format!("未能修改：{e}"),
        },
        Login::Wrong => "当前密码不正确".to_string(),
        Login::Throttled => "尝试次数过多，请 15 分钟后再试".to_string(),
    };
    Ok(account_page(&state, &viewer, message, String::new())
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(f): Form<TokenForm>,
) -> Result<AccountPage, AppError> {
    let user = viewer.signed()?;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return account_page(
            &state,
            &viewer,
            "令牌名称须为 1–64 个字符".into(),
            String::new(),
        )
        .await;
    }
    let token = state
        .db
        .create_api_token(&user, name, &viewer.actor())
        .await?;
    account_page(
        &state,
        &viewer,
        format!("已创建令牌“{name}”，请立即复制，它只显示这一次"),
        token,
    )
    .await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    if !state
        .db
        .revoke_api_token(&user, id, &viewer.actor())
        .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/account").into_response())
}
