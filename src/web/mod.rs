//! The web application: one `AppState`, one error type, a route table that states
//! who may use each route, pages (askama, 简体中文) and a JSON API under `/api/v1`.
//!
//! Authorization is table-driven and fails closed: [`ROUTES`] lists every route with
//! its [`Access`] rule, and the `authorize` middleware looks the matched route up in
//! it; a route missing from the table is refused to everyone. The role-matrix test
//! walks the same table.

mod acceptance;
mod api;
mod audits;
pub mod monitor;
pub mod pages;
mod submissions;
pub mod surveys;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};

use crate::db::Db;
use crate::db::accounts::{Actor, Role, Session, User};
use crate::library::{Author, Library};
use crate::search::SearchIndex;
use crate::standard::Collection;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (login page, health check, the stylesheet).
    Public,
    /// Any signed-in user (any role).
    Signed,
    /// Only these roles.
    Roles(&'static [Role]),
}

impl Access {
    pub fn allows(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Access::Public, _) => true,
            (Access::Signed, r) => r.is_some(),
            (Access::Roles(rs), Some(r)) => rs.contains(&r),
            (Access::Roles(_), None) => false,
        }
    }
}

/// A route: method, path pattern (axum syntax), rule, a concrete example path the
/// role-matrix test requests, and the handler. The router is built from this table
/// alone, so no route can exist without a rule.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub example: &'static str,
    /// What the route is for (简体中文), also the OpenAPI summary.
    pub summary: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

const ADMIN: &[Role] = &[Role::Admin];
/// The standardization office.
const REVIEWERS: &[Role] = &[Role::Reviewer, Role::Admin];
/// Who audits the platform.
const AUDITORS: &[Role] = &[Role::Auditor, Role::Admin];
/// Who may download audit reports: the auditors, and the experts who accept the pilot.
const REPORT_READERS: &[Role] = &[Role::Auditor, Role::Admin, Role::Expert];
/// Who designs surveys, issues links, imports and reads results: the
/// standardization office and the auditors.
const SURVEY_STAFF: &[Role] = &[Role::Reviewer, Role::Auditor, Role::Admin];
/// Who may enter phone interviews (call-centre staff are employees) and see the
/// survey list.
const INTERVIEWERS: &[Role] = &[Role::Employee, Role::Reviewer, Role::Auditor, Role::Admin];
/// Who may read survey results: staff, and the experts who accept the pilot.
const SURVEY_READERS: &[Role] = &[
    Role::Employee,
    Role::Reviewer,
    Role::Auditor,
    Role::Admin,
    Role::Expert,
];
/// The acceptance panel and whoever organises it.
const PANEL: &[Role] = &[Role::Expert, Role::Admin];
/// Who reads a pilot project's file: the standardization office and the experts.
const PROJECT_READERS: &[Role] = &[Role::Reviewer, Role::Admin, Role::Expert];
/// Who writes award applications: the standardization office.
const AWARD_WRITERS: &[Role] = &[Role::Reviewer, Role::Admin];
/// Who scores: the experts (membership of a review is checked against it).
const EXPERTS: &[Role] = &[Role::Expert];
/// Who writes and reviews department standards.
const AUTHORS: &[Role] = &[Role::Employee, Role::Reviewer, Role::Admin];

/// Every route of the application. The router is built from handlers named here,
/// and `authorize` refuses any matched route that is not in this table.
#[rustfmt::skip]
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec { method: "GET", path: "/healthz", access: Access::Public, example: "/healthz", summary: "健康检查：数据库与检索索引", handler: || get(pages::healthz) },
    RouteSpec { method: "GET", path: "/static/app.css", access: Access::Public, example: "/static/app.css", summary: "样式表", handler: || get(pages::stylesheet) },
    RouteSpec { method: "GET", path: "/static/app.js", access: Access::Public, example: "/static/app.js", summary: "脚本（渐进增强）", handler: || get(pages::script) },
    RouteSpec { method: "GET", path: "/login", access: Access::Public, example: "/login", summary: "登录页", handler: || get(pages::login_form) },
    RouteSpec { method: "POST", path: "/login", access: Access::Public, example: "/login", summary: "登录", handler: || post(pages::login) },
    RouteSpec { method: "POST", path: "/logout", access: Access::Signed, example: "/logout", summary: "退出", handler: || post(pages::logout) },
    RouteSpec { method: "GET", path: "/", access: Access::Signed, example: "/", summary: "首页", handler: || get(pages::home) },
    RouteSpec { method: "GET", path: "/standards", access: Access::Signed, example: "/standards", summary: "标准库列表", handler: || get(pages::standards) },
    RouteSpec { method: "GET", path: "/standards/{slug}", access: Access::Signed, example: "/standards/t-ztac-001.2-2023", summary: "标准详情", handler: || get(pages::standard) },
    RouteSpec { method: "GET", path: "/standards/{slug}/history", access: Access::Signed, example: "/standards/t-ztac-001.2-2023/history", summary: "修订历史", handler: || get(pages::history) },
    RouteSpec { method: "GET", path: "/diff", access: Access::Signed, example: "/diff?a=t-ztac-001.2-2023", summary: "条款级比较", handler: || get(pages::diff) },
    RouteSpec { method: "GET", path: "/system", access: Access::Signed, example: "/system", summary: "标准体系表", handler: || get(pages::system) },
    RouteSpec { method: "GET", path: "/clauses/{slug}", access: Access::Signed, example: "/clauses/t-ztac-001.2-2023_9.1", summary: "条款详情", handler: || get(pages::clause) },
    RouteSpec { method: "GET", path: "/news", access: Access::Signed, example: "/news", summary: "标准动态与通知", handler: || get(pages::news) },
    RouteSpec { method: "POST", path: "/news", access: Access::Roles(REVIEWERS), example: "/news", summary: "发布标准动态（审核员）", handler: || post(pages::post_news) },
    RouteSpec { method: "GET", path: "/search", access: Access::Signed, example: "/search?q=安心码", summary: "检索", handler: || get(pages::search) },
    RouteSpec { method: "GET", path: "/account", access: Access::Signed, example: "/account", summary: "我的账号", handler: || get(pages::account) },
    RouteSpec { method: "POST", path: "/account/password", access: Access::Signed, example: "/account/password", summary: "修改密码", handler: || post(pages::change_password) },
    RouteSpec { method: "POST", path: "/account/tokens", access: Access::Signed, example: "/account/tokens", summary: "创建 API 令牌", handler: || post(pages::create_token) },
    RouteSpec { method: "POST", path: "/account/tokens/{id}/revoke", access: Access::Signed, example: "/account/tokens/1/revoke", summary: "吊销 API 令牌", handler: || post(pages::revoke_token) },
    RouteSpec { method: "GET", path: "/submissions", access: Access::Roles(AUTHORS), example: "/submissions", summary: "标准提交：我的提交与待审队列", handler: || get(submissions::list) },
    RouteSpec { method: "POST", path: "/submissions", access: Access::Roles(AUTHORS), example: "/submissions", summary: "新建提交（系统分配编号）", handler: || post(submissions::create) },
    RouteSpec { method: "POST", path: "/submissions/revise", access: Access::Roles(AUTHORS), example: "/submissions/revise", summary: "提交一个企业标准的修订", handler: || post(submissions::revise) },
    RouteSpec { method: "GET", path: "/submissions/{id}", access: Access::Roles(AUTHORS), example: "/submissions/1", summary: "一个提交：文本、检查结果、审核意见、状态记录", handler: || get(submissions::show) },
    RouteSpec { method: "POST", path: "/submissions/{id}/edit", access: Access::Roles(AUTHORS), example: "/submissions/1/edit", summary: "保存草稿（乐观并发）", handler: || post(submissions::edit) },
    RouteSpec { method: "POST", path: "/submissions/{id}/action", access: Access::Roles(AUTHORS), example: "/submissions/1/action", summary: "提交、审核、退回、批准、撤回", handler: || post(submissions::act) },
    RouteSpec { method: "POST", path: "/submissions/{id}/comments", access: Access::Roles(AUTHORS), example: "/submissions/1/comments", summary: "对条款发表意见（可回复）", handler: || post(submissions::comment) },
    RouteSpec { method: "POST", path: "/api/v1/lint", access: Access::Roles(AUTHORS), example: "/api/v1/lint", summary: "检查一段标准文本（与 biaozhun check 相同的诊断）", handler: || post(submissions::api_lint) },
    RouteSpec { method: "GET", path: "/api/v1/submissions/{id}", access: Access::Roles(AUTHORS), example: "/api/v1/submissions/1", summary: "一个提交：文本、检查结果、状态记录、意见与可执行的操作", handler: || get(submissions::api_show) },
    RouteSpec { method: "POST", path: "/api/v1/submissions/{id}/action", access: Access::Roles(AUTHORS), example: "/api/v1/submissions/1/action", summary: "对提交执行操作（JSON：action、comment）", handler: || post(submissions::api_act) },
    RouteSpec { method: "GET", path: "/api/v1/submissions", access: Access::Roles(AUTHORS), example: "/api/v1/submissions", summary: "调用者可见的提交", handler: || get(submissions::api_list) },
    RouteSpec { method: "POST", path: "/api/v1/submissions", access: Access::Roles(AUTHORS), example: "/api/v1/submissions", summary: "新建提交（JSON：title、category、可选 text；或 revise：要修订的标准）", handler: || post(submissions::api_create) },
    RouteSpec { method: "PUT", path: "/api/v1/submissions/{id}", access: Access::Roles(AUTHORS), example: "/api/v1/submissions/1", summary: "保存草稿文本（JSON：text、version；版本冲突返回 409）", handler: || put(submissions::api_edit) },
    RouteSpec { method: "POST", path: "/api/v1/submissions/{id}/comments", access: Access::Roles(AUTHORS), example: "/api/v1/submissions/1/comments", summary: "对条款发表意见或回复（JSON：clause、body、parent）", handler: || post(submissions::api_comment) },
    RouteSpec { method: "GET", path: "/notifications", access: Access::Roles(AUTHORS), example: "/notifications", summary: "通知：退回修改、审核意见、回复、待审提交", handler: || get(submissions::notifications) },
    RouteSpec { method: "GET", path: "/api/v1/notifications", access: Access::Roles(AUTHORS), example: "/api/v1/notifications", summary: "通知与待办计数（不标记已读）", handler: || get(submissions::api_notifications) },
    RouteSpec { method: "POST", path: "/api/v1/import/docx", access: Access::Roles(AUTHORS), example: "/api/v1/import/docx", summary: "把 Word 文档（.docx，请求体）转换为标准草稿（参数 code、title、category；繁忙时 503 + Retry-After）", handler: || post(submissions::api_import_docx) },
    RouteSpec { method: "POST", path: "/api/v1/preview", access: Access::Roles(AUTHORS), example: "/api/v1/preview", summary: "预览与检查草稿（返回标准页面的 HTML 与诊断）", handler: || post(submissions::api_preview) },
    RouteSpec { method: "GET", path: "/audits", access: Access::Roles(AUDITORS), example: "/audits", summary: "符合性审核列表与新建", handler: || get(audits::list) },
    RouteSpec { method: "POST", path: "/audits", access: Access::Roles(AUDITORS), example: "/audits", summary: "新建审核（名称、标准、期间）", handler: || post(audits::create) },
    RouteSpec { method: "GET", path: "/audits/outlets/{outlet}", access: Access::Roles(AUDITORS), example: "/audits/outlets/O01", summary: "一个网点的历次审核：检查结果与发现", handler: || get(audits::outlet) },
    RouteSpec { method: "GET", path: "/audits/compare", access: Access::Roles(AUDITORS), example: "/audits/compare?a=1&b=1", summary: "比较两次审核：逐条改善或变差", handler: || get(audits::compare) },
    RouteSpec { method: "GET", path: "/audits/{id}", access: Access::Roles(AUDITORS), example: "/audits/1", summary: "一次审核：现场检查清单、发现、自动检查结果、逐条结论", handler: || get(audits::show) },
    RouteSpec { method: "POST", path: "/audits/{id}/run", access: Access::Roles(AUDITORS), example: "/audits/1/run", summary: "对平台数据运行自动检查", handler: || post(audits::run) },
    RouteSpec { method: "POST", path: "/audits/{id}/clauses", access: Access::Roles(AUDITORS), example: "/audits/1/clauses", summary: "审核员设定条款结论", handler: || post(audits::set_clause) },
    RouteSpec { method: "POST", path: "/audits/{id}/evidence", access: Access::Roles(AUDITORS), example: "/audits/1/evidence", summary: "记录检查项结论并上传照片/文件（multipart）", handler: || post(audits::evidence) },
    RouteSpec { method: "POST", path: "/audits/{id}/findings", access: Access::Roles(AUDITORS), example: "/audits/1/findings", summary: "记录发现（不符合项、观察项）", handler: || post(audits::add_finding) },
    RouteSpec { method: "POST", path: "/audits/{id}/findings/{finding}/status", access: Access::Roles(AUDITORS), example: "/audits/1/findings/1/status", summary: "推进整改状态", handler: || post(audits::finding_status) },
    RouteSpec { method: "POST", path: "/audits/{id}/close", access: Access::Roles(AUDITORS), example: "/audits/1/close", summary: "关闭审核（此后只读）", handler: || post(audits::close) },
    RouteSpec { method: "POST", path: "/audits/{id}/revise", access: Access::Roles(AUDITORS), example: "/audits/1/revise", summary: "为已关闭的审核创建更正版本", handler: || post(audits::revise) },
    RouteSpec { method: "POST", path: "/api/v1/events", access: Access::Roles(AUDITORS), example: "/api/v1/events", summary: "平台推送事件（一批 JSON，按事件 id 幂等；存盘后才确认；繁忙时 503 + Retry-After）", handler: || post(monitor::ingest) },
    RouteSpec { method: "GET", path: "/api/v1/events", access: Access::Roles(AUDITORS), example: "/api/v1/events?after=0", summary: "按接收顺序读取已存事件（after=序号）", handler: || get(monitor::list) },
    RouteSpec { method: "GET", path: "/monitor", access: Access::Roles(AUDITORS), example: "/monitor", summary: "实时监测：未关闭的预警与违规（按网点、条款筛选），确认、指派、关闭", handler: || get(monitor::page) },
    RouteSpec { method: "GET", path: "/monitor/dashboard", access: Access::Roles(AUDITORS), example: "/monitor/dashboard", summary: "驾驶舱：今日事件、订单、预警、违规，各镇街表与趋势", handler: || get(monitor::dashboard) },
    RouteSpec { method: "GET", path: "/monitor/stream", access: Access::Roles(AUDITORS), example: "/monitor/stream", summary: "告警变化推送（server-sent events）", handler: || get(monitor::stream) },
    RouteSpec { method: "POST", path: "/monitor/alerts/{id}", access: Access::Roles(AUDITORS), example: "/monitor/alerts/1", summary: "处理告警：确认、指派（assignee）、关闭（note）", handler: || post(monitor::act) },
    RouteSpec { method: "GET", path: "/api/v1/alerts", access: Access::Roles(AUDITORS), example: "/api/v1/alerts", summary: "告警列表（state=open|acknowledged|resolved|all、kind、outlet、clause、after=id）", handler: || get(monitor::api_alerts) },
    RouteSpec { method: "GET", path: "/api/v1/alerts/{id}", access: Access::Roles(AUDITORS), example: "/api/v1/alerts/1", summary: "一条告警及其处理记录", handler: || get(monitor::api_alert) },
    RouteSpec { method: "POST", path: "/api/v1/alerts/{id}", access: Access::Roles(AUDITORS), example: "/api/v1/alerts/1", summary: "处理告警（JSON：action=acknowledge|assign|resolve、note、assignee）", handler: || post(monitor::api_act) },
    RouteSpec { method: "GET", path: "/api/v1/monitor", access: Access::Roles(AUDITORS), example: "/api/v1/monitor", summary: "驾驶舱数据（今日数字、各镇街、监测状态）", handler: || get(monitor::api_dashboard) },
    RouteSpec { method: "GET", path: "/audits/{id}/report/{format}", access: Access::Roles(REPORT_READERS), example: "/audits/1/report/csv", summary: "下载审核报告：pdf、xlsx、csv（?table=findings 为发现表）、oscal（OSCAL 1.1 评估结果 JSON）", handler: || get(audits::report) },
    RouteSpec { method: "GET", path: "/api/v1/audits/{id}/report/{format}", access: Access::Roles(REPORT_READERS), example: "/api/v1/audits/1/report/oscal", summary: "审核报告（同上，供 GRC 工具用 API 令牌拉取 OSCAL）", handler: || get(audits::report) },
    RouteSpec { method: "GET", path: "/evidence/{sha}", access: Access::Roles(AUDITORS), example: "/evidence/68c11dc1d3a2d1c5fec8479ea5909e316abb6e0f0df67efa890c193d75e44eed", summary: "证据文件（按 SHA-256）", handler: || get(audits::evidence_file) },
    RouteSpec { method: "GET", path: "/surveys", access: Access::Roles(SURVEY_READERS), example: "/surveys", summary: "满意度调查：问卷列表、新建问卷（YAML）", handler: || get(surveys::list) },
    RouteSpec { method: "POST", path: "/surveys", access: Access::Roles(SURVEY_STAFF), example: "/surveys", summary: "新建问卷或保存问卷定义（已有答卷时生成新版本）", handler: || post(surveys::create) },
    RouteSpec { method: "GET", path: "/surveys/{id}", access: Access::Roles(SURVEY_READERS), example: "/surveys/1", summary: "一份问卷：统计、无效答卷、链接与二维码、导入、下载", handler: || get(surveys::show) },
    RouteSpec { method: "POST", path: "/surveys/{id}/edit", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/edit", summary: "修改问卷定义（已有答卷时生成新版本）", handler: || post(surveys::edit) },
    RouteSpec { method: "POST", path: "/surveys/{id}/suggestions", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/suggestions", summary: "填写报告中的改进建议", handler: || post(surveys::suggestions) },
    RouteSpec { method: "POST", path: "/surveys/{id}/links", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/links", summary: "生成问卷链接：公开链接（二维码）或一次性链接", handler: || post(surveys::create_links) },
    RouteSpec { method: "POST", path: "/surveys/{id}/links/{token}/revoke", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/links/x/revoke", summary: "停用问卷链接", handler: || post(surveys::revoke_link) },
    RouteSpec { method: "GET", path: "/surveys/{id}/links.csv", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/links.csv", summary: "问卷链接清单（CSV，用于短信群发）", handler: || get(surveys::links_csv) },
    RouteSpec { method: "POST", path: "/surveys/{id}/import", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/import", summary: "上传问卷星导出文件（可另附同一次下载的另一种格式以核对），预览导入（不写入；繁忙时 503 + Retry-After）", handler: || post(surveys::import_upload) },
    RouteSpec { method: "POST", path: "/surveys/{id}/import/confirm", access: Access::Roles(SURVEY_STAFF), example: "/surveys/1/import/confirm", summary: "按确认的列映射导入（全部或全不）", handler: || post(surveys::import_confirm) },
    RouteSpec { method: "GET", path: "/surveys/{id}/phone", access: Access::Roles(INTERVIEWERS), example: "/surveys/1/phone", summary: "电话访问录入（访问员、订单、受访者电话）", handler: || get(surveys::phone_get) },
    RouteSpec { method: "POST", path: "/surveys/{id}/phone", access: Access::Roles(INTERVIEWERS), example: "/surveys/1/phone", summary: "保存一份电话访问答卷", handler: || post(surveys::phone_post) },
    RouteSpec { method: "GET", path: "/surveys/{id}/sample.csv", access: Access::Roles(INTERVIEWERS), example: "/surveys/1/sample.csv", summary: "回访电话访问名单（CSV，号码已脱敏）", handler: || get(surveys::sample_csv) },
    RouteSpec { method: "GET", path: "/surveys/{id}/report/{format}", access: Access::Roles(SURVEY_READERS), example: "/surveys/1/report/json", summary: "下载满意度测评报告：pdf、xlsx、json（?previous= 与上次比较）", handler: || get(surveys::report) },
    RouteSpec { method: "GET", path: "/api/v1/surveys", access: Access::Roles(SURVEY_READERS), example: "/api/v1/surveys", summary: "问卷及其各版本、答卷数", handler: || get(surveys::api_list) },
    RouteSpec { method: "GET", path: "/api/v1/surveys/{id}/stats", access: Access::Roles(SURVEY_READERS), example: "/api/v1/surveys/1/stats", summary: "一份问卷的统计（有效性规则、题目分布、满意度、无效答卷）", handler: || get(surveys::api_stats) },
    RouteSpec { method: "POST", path: "/audits/{id}/return-visit", access: Access::Roles(AUDITORS), example: "/audits/1/return-visit", summary: "按审核期间分层抽取回访订单，生成回访问卷与电话访问名单", handler: || post(surveys::return_visit) },
    RouteSpec { method: "GET", path: "/s/{token}", access: Access::Public, example: "/s/x", summary: "公开问卷（手机填写，无需登录）", handler: || get(surveys::public_get) },
    RouteSpec { method: "POST", path: "/s/{token}", access: Access::Public, example: "/s/x", summary: "提交公开问卷（每个链接或每次访问一份，限频）", handler: || post(surveys::public_post) },
    RouteSpec { method: "GET", path: "/acceptance", access: Access::Roles(PANEL), example: "/acceptance", summary: "试点验收：评审列表；管理员登记项目、邀请专家", handler: || get(acceptance::list) },
    RouteSpec { method: "POST", path: "/acceptance/projects", access: Access::Roles(ADMIN), example: "/acceptance/projects", summary: "登记试点项目", handler: || post(acceptance::create_project) },
    RouteSpec { method: "POST", path: "/acceptance/reviews", access: Access::Roles(ADMIN), example: "/acceptance/reviews", summary: "新建验收评审（项目、专家、组长；复制评分表）", handler: || post(acceptance::create_review) },
    RouteSpec { method: "GET", path: "/acceptance/reviews/{id}", access: Access::Roles(PANEL), example: "/acceptance/reviews/1", summary: "一次验收评审：专家本人的评分表；全部提交后的汇总与验收意见", handler: || get(acceptance::show) },
    RouteSpec { method: "POST", path: "/acceptance/reviews/{id}/scores", access: Access::Roles(EXPERTS), example: "/acceptance/reviews/1/scores", summary: "保存或提交本人的评分（提交后不能修改）", handler: || post(acceptance::save_scores) },
    RouteSpec { method: "POST", path: "/acceptance/reviews/{id}/opinion", access: Access::Roles(EXPERTS), example: "/acceptance/reviews/1/opinion", summary: "专家组组长填写验收意见（全部提交后）", handler: || post(acceptance::opinion) },
    RouteSpec { method: "GET", path: "/acceptance/reviews/{id}/report.pdf", access: Access::Roles(PANEL), example: "/acceptance/reviews/1/report.pdf", summary: "验收评估报告（PDF，全部专家提交后）", handler: || get(acceptance::report) },
    RouteSpec { method: "GET", path: "/acceptance/projects/{id}", access: Access::Roles(PROJECT_READERS), example: "/acceptance/projects/1", summary: "试点项目：指标（填报或平台数据）、证明材料清单、自我评价报告", handler: || get(acceptance::project) },
    RouteSpec { method: "POST", path: "/acceptance/projects/{id}/indicators", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/indicators", summary: "添加指标（基线、目标、实际或平台数据来源）", handler: || post(acceptance::add_indicator) },
    RouteSpec { method: "POST", path: "/acceptance/projects/{id}/evidence", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/evidence", summary: "上传证明材料（multipart：类别、文件、说明）", handler: || post(acceptance::add_evidence) },
    RouteSpec { method: "POST", path: "/acceptance/projects/{id}/evidence/done", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/evidence/done", summary: "标记一类证明材料齐全或取消", handler: || post(acceptance::mark_evidence) },
    RouteSpec { method: "GET", path: "/acceptance/projects/{id}/evidence/{sha}", access: Access::Roles(PROJECT_READERS), example: "/acceptance/projects/1/evidence/68c11dc1d3a2d1c5fec8479ea5909e316abb6e0f0df67efa890c193d75e44eed", summary: "项目的证明材料文件（按 SHA-256）", handler: || get(acceptance::evidence_file) },
    RouteSpec { method: "POST", path: "/acceptance/projects/{id}/narrative", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/narrative", summary: "保存自我评价报告的文字部分", handler: || post(acceptance::save_narrative) },
    RouteSpec { method: "GET", path: "/acceptance/projects/{id}/self-evaluation.pdf", access: Access::Roles(PROJECT_READERS), example: "/acceptance/projects/1/self-evaluation.pdf", summary: "项目实施自我评价报告（PDF）", handler: || get(acceptance::self_evaluation) },
    RouteSpec { method: "GET", path: "/acceptance/projects/{id}/award/{form}", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/award/award-project", summary: "标准创新贡献奖申报书：各栏目编辑与实时字数", handler: || get(acceptance::award_page) },
    RouteSpec { method: "POST", path: "/acceptance/projects/{id}/award/{form}", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/award/award-project", summary: "保存申报书；或用平台数据起草空白栏目", handler: || post(acceptance::award_save) },
    RouteSpec { method: "GET", path: "/acceptance/projects/{id}/award/{form}/{format}", access: Access::Roles(AWARD_WRITERS), example: "/acceptance/projects/1/award/award-project/docx", summary: "导出申报书：pdf、docx（有栏目超过字数限制时拒绝）", handler: || get(acceptance::award_export) },
    RouteSpec { method: "GET", path: "/api/v1/acceptance/reviews/{id}", access: Access::Roles(PANEL), example: "/api/v1/acceptance/reviews/1", summary: "一次验收评审（JSON；与页面相同的可见范围：他人评分在全部提交后才可见）", handler: || get(acceptance::api_review) },
    RouteSpec { method: "GET", path: "/admin/users", access: Access::Roles(ADMIN), example: "/admin/users", summary: "用户管理", handler: || get(pages::admin_users) },
    RouteSpec { method: "POST", path: "/admin/users", access: Access::Roles(ADMIN), example: "/admin/users", summary: "创建用户", handler: || post(pages::admin_create_user) },
    RouteSpec { method: "POST", path: "/admin/users/{id}", access: Access::Roles(ADMIN), example: "/admin/users/1", summary: "修改用户角色、部门、启用状态", handler: || post(pages::admin_update_user) },
    RouteSpec { method: "GET", path: "/admin/activity", access: Access::Roles(ADMIN), example: "/admin/activity", summary: "操作日志", handler: || get(pages::admin_activity) },
    RouteSpec { method: "GET", path: "/api/v1/openapi.json", access: Access::Public, example: "/api/v1/openapi.json", summary: "OpenAPI 3.1 文档（由路由表生成）", handler: || get(api::openapi) },
    RouteSpec { method: "GET", path: "/api/v1/standards", access: Access::Signed, example: "/api/v1/standards", summary: "标准列表", handler: || get(api::standards) },
    RouteSpec { method: "GET", path: "/api/v1/standards/{slug}", access: Access::Signed, example: "/api/v1/standards/t-ztac-001.2-2023", summary: "一个标准的完整结构化模型", handler: || get(api::standard) },
    RouteSpec { method: "GET", path: "/api/v1/standards/{slug}/history", access: Access::Signed, example: "/api/v1/standards/t-ztac-001.2-2023/history", summary: "一个标准的修订历史", handler: || get(api::history) },
    RouteSpec { method: "GET", path: "/api/v1/clauses/{slug}", access: Access::Signed, example: "/api/v1/clauses/t-ztac-001.2-2023_9.1", summary: "一个条款：文本、条款类型、子条款", handler: || get(api::clause) },
    RouteSpec { method: "GET", path: "/api/v1/search", access: Access::Signed, example: "/api/v1/search?q=安心码", summary: "检索条款（参数 q，支持筛选语法）", handler: || get(api::search) },
    RouteSpec { method: "GET", path: "/api/v1/diff", access: Access::Signed, example: "/api/v1/diff?a=t-ztac-001.2-2023", summary: "条款级比较（参数 a、b、ra、rb）", handler: || get(api::diff) },
];

/// Largest request body accepted (forms, API): 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// Largest upload (a Word file with its pictures) on the routes in [`UPLOADS`].
pub const MAX_UPLOAD: usize = 16 << 20;

/// Routes that take file uploads and so the larger limit.
pub const UPLOADS: &[&str] = &["/api/v1/import/docx", "/api/v1/events"];

/// Largest survey export upload: 问卷星 files up to 50 MB are read, and the two
/// layouts of one export may come together (a larger file gets the importer's
/// own message, so the limit is above that).
pub const MAX_SURVEY_UPLOAD: usize = 104 << 20;

/// Heavy imports (a Word file converted, a survey export read) at once. Each can
/// hold a few hundred MiB while it reads, within the bounds of `package` and
/// `sheet`; more are turned away rather than queued.
pub const HEAVY_SLOTS: usize = 2;
/// How long a heavy import waits for a slot before it is answered 503.
pub const HEAVY_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// The `Retry-After` of a heavy import turned away, in seconds.
pub const HEAVY_RETRY_S: u64 = 5;

/// How long an upload waits between its preview and its confirmation.
pub const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Files younger than this are left alone by the startup sweep: another process
/// on the same data directory may be about to cite them.
pub const SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `path` takes uploads: the routes in [`UPLOADS`], audit evidence
/// (`/audits/{id}/evidence`) and survey imports.
fn is_upload(path: &str) -> bool {
    UPLOADS.contains(&path)
        || (path.starts_with("/audits/") && path.ends_with("/evidence"))
        || is_survey_upload(path)
        || (path.starts_with("/acceptance/projects/") && path.ends_with("/evidence"))
}

fn is_survey_upload(path: &str) -> bool {
    path.starts_with("/surveys/") && path.ends_with("/import")
}

/// The body limit of a request path (matched or raw: both have the same shape).
fn limit_of(path: &str) -> usize {
    if is_survey_upload(path) {
        MAX_SURVEY_UPLOAD
    } else if is_upload(path) {
        MAX_UPLOAD
    } else {
        MAX_BODY
    }
}

/// Refuses a body over the route's limit: from `Content-Length` before reading
/// anything, and while reading for chunked bodies (the extractors then answer 413).
async fn body_limit(req: Request, next: Next) -> Response {
    let limit = limit_of(req.uri().path());
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("请求体过大（上限 {} MiB）", limit >> 20),
        )
            .into_response();
    }
    next.run(req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, limit))))
        .await
}

/// The standards as of the library's HEAD, with what pages derive from them.
pub struct Content {
    pub coll: Collection,
    pub revision: String,
    /// Cited standard (family, e.g. `T/ZTAC 001.2`) → (slug, id) of the clauses of
    /// other standards that cite it. Built once, not per page view.
    pub cited_by: std::collections::HashMap<String, Vec<(String, String)>>,
    /// Clause id → its revisions (date, author, change, what), filled on first view:
    /// walking git history per page view would dominate the page's cost.
    pub clause_history: std::sync::Mutex<std::collections::HashMap<String, Arc<ClauseRevisions>>>,
}

/// A clause's revisions as the clause page lists them: (date, author, change, what).
pub type ClauseRevisions = Vec<(String, String, &'static str, String)>;

impl Content {
    pub fn new(coll: Collection, revision: String) -> Content {
        let mut cited_by: std::collections::HashMap<String, Vec<(String, String)>> =
            std::collections::HashMap::new();
        for s in &coll.standards {
            for c in s.all_clauses() {
                let mut seen = Vec::new();
                for (_, code) in crate::standard::code::find_citations(&c.own_text()) {
                    let family = code.family();
                    if code.matches(&s.code) || seen.contains(&family) {
                        continue;
                    }
                    seen.push(family.clone());
                    cited_by
                        .entry(family)
                        .or_default()
                        .push((c.slug.clone(), c.id.clone()));
                }
            }
        }
        Content {
            coll,
            revision,
            cited_by,
            clause_history: Default::default(),
        }
    }
}

pub struct Inner {
    pub db: Db,
    pub library: Library,
    pub content: std::sync::RwLock<Arc<Content>>,
    pub search: std::sync::RwLock<SearchIndex>,
    pub data: PathBuf,
    /// Cookies carry `Secure` (off only for plain-HTTP deployments).
    pub secure_cookies: bool,
    /// Pattern of new enterprise standard codes, e.g. `Q/BZ {n:03}—{year}`.
    pub code_pattern: String,
    /// Rule and check files (`audits/` beside the standards directory).
    pub audits_dir: PathBuf,
    /// The platform export audits read (`DATA/platform`; `--demo` fills it).
    pub platform_dir: PathBuf,
    /// Evidence files (`DATA/evidence`).
    pub evidence: crate::audit::evidence::EvidenceStore,
    /// The 问卷星 files committed imports came from (`DATA/survey-uploads`).
    pub survey_files: crate::audit::evidence::EvidenceStore,
    /// Uploads between an import's preview and its confirmation
    /// (`DATA/pending-imports`; see [`PENDING_TTL`]).
    pub pending: crate::audit::evidence::EvidenceStore,
    /// Slots for heavy imports (Word files, survey exports) being read: at most
    /// [`HEAVY_SLOTS`] at once, the rest answered 503 with `Retry-After`.
    pub heavy_slots: tokio::sync::Semaphore,
    /// The installation's secret for pseudonyms of personal identifiers
    /// (`DATA/pseudonym.key`, 32 random bytes made on first start).
    pub pseudonym_key: Vec<u8>,
    /// Slots for event batches being stored (back-pressure, see `monitor`).
    pub ingest_slots: tokio::sync::Semaphore,
    /// The live monitor's settings, wake-up, update stream and status.
    pub monitor: std::sync::Arc<crate::monitor::service::Handle>,
    /// When the library's HEAD was last compared with `content` (see `content()`).
    checked: std::sync::Mutex<std::time::Instant>,
}

/// How often a request may look for a newer library revision.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The standards at the library's HEAD. At most once a second a request checks
    /// whether HEAD moved (a publication, possibly by another process) and, if so,
    /// reloads the standards and brings the search index up to date.
    pub fn content(&self) -> Arc<Content> {
        let due = match self.checked.lock() {
            Ok(mut last) if last.elapsed() >= REFRESH_EVERY => {
                *last = std::time::Instant::now();
                true
            }
            _ => false,
        };
        if due && let Err(e) = self.refresh() {
            tracing::warn!(error = %e, "could not reload the library");
        }
        self.current()
    }

    fn current(&self) -> Arc<Content> {
        match self.content.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads the standards and the index if the library's HEAD moved.
    pub fn refresh(&self) -> Result<bool, String> {
        let head = self.library.head_id().map_err(|e| e.to_string())?;
        if head == self.current().revision {
            return Ok(false);
        }
        let (coll, rev) = self
            .library
            .collection_at(&head)
            .map_err(|e| e.to_string())?;
        if let Ok(mut index) = self.search.write() {
            index.sync(&coll, &rev.id).map_err(|e| e.to_string())?;
        }
        let fresh = Arc::new(Content::new(coll, rev.id));
        match self.content.write() {
            Ok(mut g) => *g = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
        Ok(true)
    }

    /// A slot for a heavy import, waited for at most [`HEAVY_WAIT`]; when every
    /// slot stays busy, [`AppError::Busy`] (503 with `Retry-After`).
    pub async fn heavy_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AppError> {
        match tokio::time::timeout(HEAVY_WAIT, self.heavy_slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::Busy),
        }
    }

    /// Runs `f` with the search index.
    pub fn with_search<T>(&self, f: impl FnOnce(&SearchIndex) -> T) -> T {
        match self.search.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }
}

/// Today's date in China (`YYYY-MM-DD`), the date reports carry.
pub(crate) fn today() -> String {
    crate::audit::time::format_instant(crate::monitor::feed::now_us(), 480)
        .get(..10)
        .unwrap_or_default()
        .to_string()
}

/// A file to download: its type and name, never cached.
pub(crate) fn download(mime: &str, file: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// A typst report (`templates/*.typ`) with `data` as `/data.json`, dated today,
/// compiled on a blocking thread: a PDF takes a few hundred milliseconds.
pub(crate) async fn render_pdf(
    template_name: &'static str,
    template: &'static str,
    data: serde_json::Value,
) -> Result<Vec<u8>, AppError> {
    let date = today();
    tokio::task::spawn_blocking(move || {
        crate::report::pdf::render(crate::report::pdf::Job {
            template_name,
            template,
            data: &data,
            files: Vec::new(),
            today: &date,
            strict: false,
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map(|r| r.pdf)
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// The parts of a multipart upload: its text fields, and the file sent as
/// `file_field` (its name and bytes; an empty file counts as none).
pub(crate) async fn read_multipart(
    form: axum::extract::Multipart,
    file_field: &str,
) -> Result<
    (
        std::collections::BTreeMap<String, String>,
        Option<(String, Vec<u8>)>,
    ),
    AppError,
> {
    let (fields, mut files) = read_multipart_files(form, &[file_field]).await?;
    Ok((fields, files.remove(file_field)))
}

/// Files sent in one multipart form.
pub(crate) type Files = std::collections::BTreeMap<String, (String, Vec<u8>)>;

/// [`read_multipart`] for a form with several file fields: the text fields, and
/// each file sent under one of `file_fields` (empty files count as none).
pub(crate) async fn read_multipart_files(
    mut form: axum::extract::Multipart,
    file_fields: &[&str],
) -> Result<(std::collections::BTreeMap<String, String>, Files), AppError> {
    let failed = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("上传失败：{e}"))
    };
    let mut fields = std::collections::BTreeMap::new();
    let mut files = Files::new();
    while let Some(field) = form.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or("").to_string();
        if file_fields.contains(&name.as_str()) {
            let fname = field.file_name().unwrap_or("").to_string();
            let bytes = field.bytes().await.map_err(failed)?;
            if !bytes.is_empty() {
                files.insert(name, (fname, bytes.to_vec()));
            }
        } else {
            fields.insert(name, field.text().await.map_err(failed)?);
        }
    }
    Ok((fields, files))
}

/// What went wrong, as the user should see it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("页面不存在")]
    NotFound,
    #[error("请先登录")]
    Unauthenticated,
    #[error("没有权限访问此页面")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    #[error("服务器内部错误")]
    Internal(String),
    /// Every heavy-import slot is busy: answered 503 with `Retry-After`.
    #[error("服务器正忙：同时进行的导入较多，请稍等几秒后重试（文件未保存）")]
    Busy,
}

impl From<crate::db::accounts::AccountError> for AppError {
    fn from(e: crate::db::accounts::AccountError) -> Self {
        match e {
            crate::db::accounts::AccountError::Db(d) => AppError::Internal(d.to_string()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            // The detail goes to the log, never to the client.
            tracing::error!(error = %detail, "internal error");
        }
        let mut r = pages::error_page(self.status(), &self.to_string());
        if let AppError::Busy = self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(HEAVY_RETRY_S));
        }
        r
    }
}

/// The signed-in user of a request (session cookie or API token), if any.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<User>,
    /// The badges: review queue, own submissions needing changes, unread
    /// notifications.
    pub attention: crate::db::submissions::Attention,
    /// The session's CSRF token (none for API tokens and anonymous requests).
    pub csrf: Option<String>,
    pub session_token: Option<String>,
    pub ip: String,
}

impl Viewer {
    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }

    /// The signed-in user, for handlers behind a rule that already requires one.
    pub fn signed(&self) -> Result<User, AppError> {
        self.user.clone().ok_or(AppError::Unauthenticated)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user.as_ref().map(|u| u.id),
            username: self
                .user
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            ip: self.ip.clone(),
        }
    }
}

pub const SESSION_COOKIE: &str = "bz_session";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Resolves the viewer, then applies the route's rule from [`ROUTES`].
async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let mut viewer = Viewer {
        attention: Default::default(),
        user: None,
        csrf: None,
        session_token: None,
        ip,
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let lookup: Result<(), AppError> = async {
        if let Some(token) = bearer {
            viewer.user = state.db.api_user(token).await?;
        } else if let Some(token) = cookie(&headers, SESSION_COOKIE)
            && let Some(Session { user, csrf }) = state.db.session(&token).await?
        {
            viewer.user = Some(user);
            viewer.csrf = Some(csrf);
            viewer.session_token = Some(token);
        }
        Ok(())
    }
    .await;
    if let Err(e) = lookup {
        return e.into_response();
    }
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let method = req.method().clone();
    let rule = path.as_deref().and_then(|p| {
        ROUTES
            .iter()
            .find(|r| r.path == p && r.method == method.as_str())
            .map(|r| r.access)
    });
    let Some(access) = rule else {
        // Fail closed: a route without a rule is nobody's.
        return AppError::Internal(format!("route {method} {path:?} has no access rule"))
            .into_response();
    };
    if !access.allows(viewer.role()) {
        let is_api = path.as_deref().is_some_and(|p| p.starts_with("/api/"));
        return match (viewer.user.is_some(), is_api) {
            (false, false) => {
                let next_url = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let to = format!("/login?next={}", pages::url_encode(next_url));
                (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
            }
            (false, true) => api::error(StatusCode::UNAUTHORIZED, "需要登录或 API 令牌"),
            (true, true) => api::error(StatusCode::FORBIDDEN, "没有权限"),
            (true, false) => AppError::Forbidden.into_response(),
        };
    }
    // A one-time password (the first start's generated admin password) is changed
    // before anything else: every other page leads to the account page.
    if let Some(u) = &viewer.user
        && u.must_change_password
        && access != Access::Public
        && !matches!(
            path.as_deref(),
            Some("/account" | "/account/password" | "/logout")
        )
    {
        return if path.as_deref().is_some_and(|p| p.starts_with("/api/")) {
            api::error(
                StatusCode::FORBIDDEN,
                "请先在“我的账号”页面修改初始密码，然后才能使用系统",
            )
        } else {
            (StatusCode::SEE_OTHER, [(header::LOCATION, "/account")]).into_response()
        };
    }
    // Every form POST of a signed-in session carries the session's CSRF token. The
    // check is here, not in handlers, so no form can forget it (the login form has
    // its own double-submit token; API clients use bearer tokens, not cookies).
    let is_api = path.as_deref().is_some_and(|p| p.starts_with("/api/"));
    // The public survey form has no session; its signed visit token does this job.
    let own_token = matches!(path.as_deref(), Some("/login" | "/s/{token}"));
    if req.method() == axum::http::Method::POST && !is_api && !own_token {
        let (parts, body) = req.into_parts();
        let limit = path.as_deref().map(limit_of).unwrap_or(MAX_BODY);
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "请求体过大").into_response(),
        };
        let multipart_boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.strip_prefix("multipart/form-data"))
            .and_then(|rest| rest.split("boundary=").nth(1))
            .map(|b| b.trim_matches('"').to_string());
        let token = match &multipart_boundary {
            Some(b) => multipart_field(&bytes, b, "csrf"),
            None => form_field(&bytes, "csrf"),
        };
        match (&viewer.csrf, token) {
            (Some(expected), Some(got)) if !got.is_empty() && got == expected.as_bytes() => {}
            _ => {
                return AppError::BadRequest(
                    "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试".into(),
                )
                .into_response();
            }
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    if let Some(u) = &viewer.user
        && matches!(u.role, Role::Employee | Role::Reviewer | Role::Admin)
        && !is_api
    {
        match state.db.attention(u).await {
            Ok(a) => viewer.attention = a,
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

/// The raw value of `name` in an `application/x-www-form-urlencoded` body (tokens
/// are hex, so no decoding is needed to compare them).
/// The value of the text part `name` of a `multipart/form-data` body (the CSRF
/// token of an upload form).
fn multipart_field<'a>(body: &'a [u8], boundary: &str, name: &str) -> Option<&'a [u8]> {
    let delim = format!("--{boundary}");
    let header = format!("name=\"{name}\"");
    let mut rest = body;
    while let Some(i) = memchr::memmem::find(rest, delim.as_bytes()) {
        rest = &rest[i + delim.len()..];
        let end = memchr::memmem::find(rest, delim.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..end];
        let head_end = memchr::memmem::find(part, b"\r\n\r\n")?;
        let head = &part[..head_end];
        if memchr::memmem::find(head, header.as_bytes()).is_some() {
            let value = &part[head_end + 4..];
            return Some(value.strip_suffix(b"\r\n").unwrap_or(value));
        }
    }
    None
}

fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let k = kv.next()?;
        (k == name.as_bytes()).then(|| kv.next().unwrap_or(b""))
    })
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    res
}

/// Builds the router from [`ROUTES`] — every route comes from the table.
pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for r in ROUTES {
        match by_path.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, m)) => *m = std::mem::take(m).merge((r.handler)()),
            None => by_path.push((r.path, (r.handler)())),
        }
    }
    let mut app = Router::new();
    for (path, methods) in by_path {
        app = app.route(path, methods);
    }
    app.route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .fallback(pages::not_found)
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(body_limit))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
                )
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}

/// Settings of `biaozhun serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: PathBuf,
    pub standards: PathBuf,
    pub database_url: Option<String>,
    pub admin_password: Option<String>,
    pub demo: bool,
    /// Send cookies without `Secure`, for a plain-HTTP deployment on a private network
    /// (browsers drop Secure cookies over http:// except on localhost).
    pub insecure_cookies: bool,
    /// Pattern for the codes of new enterprise standards (`{n:03}` = next number).
    pub code_pattern: String,
    /// Live monitoring (clock, webhook, schedules).
    pub monitor: crate::monitor::service::MonitorConfig,
}

/// What the first start created, for the console.
#[derive(Debug, Default)]
pub struct Setup {
    /// The admin password to print: set by the start that created the account, and
    /// on every later start while a generated (one-time) password is unchanged.
    pub admin_password: Option<String>,
    /// The admin account existed already: `admin_password` is printed again.
    pub admin_password_again: bool,
    pub demo_users: Vec<(String, Role, String)>,
    pub library_created: bool,
    /// What the start-up reconciliation did with approved submissions the library
    /// did not hold (one line each, for the console).
    pub reconciled: Vec<String>,
}

/// Where a generated admin password waits (mode 0600) until the admin changes it:
/// written before the account is created, so no failed or unseen start can lose it.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// The first start's `admin` account. A password given with `--admin-password` is
/// the operator's; a generated one is one-time: kept in [`INITIAL_PASSWORD_FILE`],
/// printed on every start until the admin has changed it (which the first login
/// forces), then the file is removed.
async fn initial_admin(db: &Db, cfg: &ServeConfig, setup: &mut Setup) -> Result<(), String> {
    let e = |e: crate::db::accounts::AccountError| e.to_string();
    let system = Actor {
        user_id: None,
        username: "system".into(),
        ip: String::new(),
    };
    let file = cfg.data.join(INITIAL_PASSWORD_FILE);
    let generate = || crate::db::accounts::random_token()[..20].to_string();
    let admin = crate::db::accounts::NewUser {
        username: "admin",
        display_name: "系统管理员",
        password: "",
        role: Role::Admin,
        department: "",
    };
    if db.user_count().await.map_err(e)? == 0 {
        let password = match &cfg.admin_password {
            Some(p) => {
                let u = crate::db::accounts::NewUser {
                    password: p,
                    ..admin
                };
                db.create_user(&u, &system).await.map_err(e)?;
                p.clone()
            }
            None => {
                let p = generate();
                write_secret(&cfg.data, &file, p.as_bytes())?;
                let u = crate::db::accounts::NewUser {
                    password: &p,
                    ..admin
                };
                db.create_user_with_one_time_password(&u, &system)
                    .await
                    .map_err(e)?;
                p
            }
        };
        setup.admin_password = Some(password);
        return Ok(());
    }
    match db.user_by_name("admin").await.map_err(e)? {
        Some(a) if a.must_change_password => {
            let kept = std::fs::read_to_string(&file)
                .ok()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty());
            let password = match kept {
                Some(p) if db.password_matches(a.id, &p).await.map_err(e)? => p,
                // The file is gone or does not match (another server's data
                // directory on a shared database): a new one-time password.
                _ => {
                    let p = cfg.admin_password.clone().unwrap_or_else(generate);
                    write_secret(&cfg.data, &file, p.as_bytes())?;
                    if !db
                        .renew_one_time_password(a.id, &p, &system)
                        .await
                        .map_err(e)?
                    {
                        let _ = std::fs::remove_file(&file);
                        return Ok(());
                    }
                    p
                }
            };
            setup.admin_password = Some(password);
            setup.admin_password_again = true;
        }
        _ => {
            // Changed (or no such account): nothing one-time is left to keep.
            if file.exists() {
                std::fs::remove_file(&file)
                    .map_err(|err| format!("cannot remove {}: {err}", file.display()))?;
            }
        }
    }
    Ok(())
}

/// Writes a secret file readable by the owner only, atomically (temporary name,
/// then rename).
fn write_secret(dir: &std::path::Path, file: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{name}.partial"));
    let fail = |err: std::io::Error| format!("cannot write {}: {err}", file.display());
    std::fs::write(&tmp, bytes).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    std::fs::rename(&tmp, file).map_err(fail)
}

/// Opens (or on first start creates) the database, the library and the index.
pub async fn prepare(cfg: &ServeConfig) -> Result<(AppState, Setup), String> {
    std::fs::create_dir_all(&cfg.data)
        .map_err(|e| format!("cannot create data directory {}: {e}", cfg.data.display()))?;
    let url = cfg
        .database_url
        .clone()
        .unwrap_or_else(|| crate::db::sqlite_url(&cfg.data.join("biaozhun.db")));
    let db = Db::open(&url).await.map_err(|e| e.to_string())?;
    let mut setup = Setup::default();
    let lib_dir = cfg.data.join("library");
    let library = if lib_dir.join(".git").exists() {
        Library::open(&lib_dir).map_err(|e| e.to_string())?.0
    } else {
        setup.library_created = true;
        Library::init(
            &lib_dir,
            &cfg.standards,
            &Author::new("Biaozhun", "biaozhun@localhost"),
            None,
        )
        .map_err(|e| {
            format!(
                "cannot create the library from {}: {e}",
                cfg.standards.display()
            )
        })?
    };
    let (coll, rev) = library.collection_at("HEAD").map_err(|e| e.to_string())?;
    let index_dir = cfg.data.join("index");
    let search = {
        let library = &library;
        SearchIndex::open(&index_dir, &rev.id, || {
            library
                .collection_at("HEAD")
                .map(|x| x.0)
                .unwrap_or_default()
        })
        .map_err(|e| e.to_string())?
    };
    let system = Actor {
        user_id: None,
        username: "system".into(),
        ip: String::new(),
    };
    initial_admin(&db, cfg, &mut setup).await?;
    if cfg.demo {
        for role in Role::ALL {
            let name = format!("demo-{}", role.as_str());
            if db
                .user_by_name(&name)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                let password = format!("{}-biaozhun", role.as_str());
                db.create_user(
                    &crate::db::accounts::NewUser {
                        username: &name,
                        display_name: role.label(),
                        password: &password,
                        role,
                        department: "演示部门",
                    },
                    &system,
                )
                .await
                .map_err(|e| e.to_string())?;
                setup.demo_users.push((name, role, password));
            }
        }
    }
    let pseudonym_key = pseudonym_key(cfg)?;
    // A demo installation gets a simulated platform to audit on first start.
    if cfg.demo {
        demo_platform(cfg)?;
    }
    let state = AppState(Arc::new(Inner {
        db,
        library,
        content: std::sync::RwLock::new(Arc::new(Content::new(coll, rev.id))),
        search: std::sync::RwLock::new(search),
        data: cfg.data.clone(),
        secure_cookies: !cfg.insecure_cookies,
        code_pattern: cfg.code_pattern.clone(),
        audits_dir: cfg.standards.with_file_name("audits"),
        platform_dir: cfg.data.join("platform"),
        evidence: crate::audit::evidence::EvidenceStore::new(&cfg.data.join("evidence")),
        survey_files: crate::audit::evidence::EvidenceStore::new(&cfg.data.join("survey-uploads")),
        pending: crate::audit::evidence::EvidenceStore::new(&cfg.data.join("pending-imports")),
        heavy_slots: tokio::sync::Semaphore::new(HEAVY_SLOTS),
        pseudonym_key,
        checked: std::sync::Mutex::new(std::time::Instant::now()),
        ingest_slots: tokio::sync::Semaphore::new(monitor::INGEST_SLOTS),
        monitor: crate::monitor::service::Handle::new(cfg.monitor.clone()),
    }));
    sweep_stores(&state).await?;
    // The repository's survey definitions (surveys/ beside the standards).
    surveys::load_repo_surveys(&state, &surveys::surveys_dir(&cfg.standards)).await;
    // A demo installation has a year of survey answers, for the survey pages and
    // the survey check of the demo audit.
    if cfg.demo {
        demo_survey(&state).await?;
        demo_acceptance(&state).await?;
    }
    // A demo installation shows a real audit on first start.
    if cfg.demo
        && state.platform_dir.exists()
        && state
            .db
            .audits()
            .await
            .map_err(|e| e.to_string())?
            .is_empty()
        && let Some(auditor) = state
            .db
            .user_by_name("demo-auditor")
            .await
            .map_err(|e| e.to_string())?
    {
        demo_audits(&state, &auditor).await?;
    }
    // Approved submissions a stopped server never finished publishing.
    setup.reconciled = submissions::reconcile_publications(&state)
        .await
        .map_err(|e| {
            let detail = match e {
                AppError::Internal(m) => m,
                other => other.to_string(),
            };
            format!("reconciling approved submissions with the library: {detail}")
        })?;
    Ok((state, setup))
}

/// The key of the pseudonyms (HMAC-SHA-256), created once per data directory.
fn pseudonym_key(cfg: &ServeConfig) -> Result<Vec<u8>, String> {
    let key_file = cfg.data.join("pseudonym.key");
    Ok(match std::fs::read(&key_file) {
        Ok(k) if k.len() == 32 => k,
        _ => {
            let mut k = vec![0u8; 32];
            getrandom::fill(&mut k)
                .map_err(|e| format!("no randomness for the pseudonym key: {e}"))?;
            write_secret(&cfg.data, &key_file, &k)?;
            k
        }
    })
}

/// A simulated platform export (and its order log) in `DATA/platform`, once.
fn demo_platform(cfg: &ServeConfig) -> Result<(), String> {
    let platform_dir = cfg.data.join("platform");
    if !platform_dir.exists() {
        let g = crate::platform::generate::generate(&Default::default());
        let tmp = cfg.data.join("platform.partial");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        for (name, text) in &g.files {
            std::fs::write(tmp.join(name), text).map_err(|e| e.to_string())?;
        }
        // And its order log (the pilot's ~4,000 orders), for the process clauses.
        let mut log = std::io::BufWriter::new(
            std::fs::File::create(tmp.join("orders.csv")).map_err(|e| e.to_string())?,
        );
        crate::audit::generate::generate(
            &crate::audit::generate::Settings::new(4_000, 1),
            crate::audit::generate::OutFormat::Csv,
            &mut log,
        )
        .map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut log).map_err(|e| e.to_string())?;
        drop(log);
        std::fs::rename(&tmp, &platform_dir).map_err(|e| e.to_string())?;
        tracing::info!("generated a demo platform in {}", platform_dir.display());
    }
    Ok(())
}

/// Whether evidence may be attached to audit `id` (and its `finding`): the audit
/// is open and the finding is the audit's. Checked before an evidence file is
/// written; the row's own transaction checks again.
pub(crate) async fn evidence_allowed(
    state: &AppState,
    id: i64,
    finding: Option<i64>,
) -> Result<(), crate::db::audits::AuditError> {
    use crate::db::audits::AuditError;
    let audit = state.db.audit(id).await?.ok_or(AuditError::Missing)?;
    if audit.state != "open" {
        return Err(AuditError::Locked);
    }
    if let Some(f) = finding
        && !state.db.findings(id).await?.iter().any(|x| x.id == f)
    {
        return Err(AuditError::Invalid("该发现不属于这个审核".into()));
    }
    Ok(())
}

/// The startup sweep: files no row cites are removed from the evidence and survey
/// stores (a crash between a file and its row can leave one), and uploads left
/// pending by an earlier run. Each removal is logged.
pub async fn sweep_stores(state: &AppState) -> Result<(), String> {
    let e = |e: crate::audit::evidence::EvidenceError| e.to_string();
    let evidence = state.db.evidence_files().await.map_err(|e| e.to_string())?;
    let surveys = state.db.survey_files().await.map_err(|e| e.to_string())?;
    let none = std::collections::HashSet::new();
    for (store, keep, what) in [
        (&state.evidence, &evidence, "evidence"),
        (&state.survey_files, &surveys, "survey-uploads"),
        (&state.pending, &none, "pending-imports"),
    ] {
        let removed = store.sweep(keep, SWEEP_GRACE).await.map_err(e)?;
        for f in &removed {
            tracing::info!(store = what, file = %f, "removed a stored file no record cites");
        }
    }
    Ok(())
}

/// 331 answers (128 by phone, 203 online) to the repository's customer survey in
/// October 2023, as the pilot reported, plus a few invalid ones; once.
async fn demo_survey(state: &AppState) -> Result<(), String> {
    let Some(row) = state
        .db
        .survey_latest("customer-satisfaction")
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if !state
        .db
        .survey_responses(row.id)
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let survey = row.survey().map_err(|e| e.to_string())?;
    let start = crate::audit::time::parse_date_or_instant("2023-10-09", 480)
        .map_err(|e| e.to_string())?
        / 1_000_000;
    let responses = crate::survey::demo::responses(&survey, 128, 203, start, 2023);
    state
        .db
        .survey_import(
            row.id,
            "演示数据",
            &"0".repeat(64),
            "演示",
            &responses,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The pilot's project and its acceptance review: two simulated experts have
/// submitted, demo-expert (the group leader) has not — so signing in as demo-expert
/// shows the scoring sheet, and submitting shows the aggregate. Once.
async fn demo_acceptance(state: &AppState) -> Result<(), String> {
    let e = |e: crate::db::acceptance::ReviewError| e.to_string();
    if !state.db.projects().await.map_err(e)?.is_empty() {
        return Ok(());
    }
    let Some(leader) = state
        .db
        .user_by_name("demo-expert")
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let table_yaml = std::fs::read_to_string(
        state
            .audits_dir
            .with_file_name("acceptance")
            .join("scoring-table.yaml"),
    )
    .map_err(|e| e.to_string())?;
    let table = crate::acceptance::scoring::Table::from_yaml(&table_yaml, "scoring-table.yaml")
        .map_err(|e| e.join("; "))?;
    let project = state
        .db
        .project_create(
            &crate::db::acceptance::NewProject {
                name: "数字家政管理与服务".into(),
                kind: "浙江省服务业标准化试点项目".into(),
                field: "家政服务".into(),
                started: "2021-10-01".into(),
                planned_end: "2023-10-31".into(),
                accepted: "2023-11-20".into(),
                undertaker: "演示家政服务集团".into(),
                supervisor: "演示市场监督管理局".into(),
                team: "演示 总经理 项目负责人\n演示 标准化专员 标准体系".into(),
            },
            None,
        )
        .await
        .map_err(e)?;
    // The pilot's reported results as indicators (two computed from the platform).
    for (name, unit, direction, baseline, target, actual, source) in [
        ("业务承接负荷增长", "%", "up", "0", "50", "52", "manual"),
        ("经营效益增长", "%", "up", "0", "20", "21", "manual"),
        (
            "首次保洁平均响应时间",
            "分钟",
            "down",
            "5760",
            "30",
            "20",
            "manual",
        ),
        ("家政员好评率提升", "%", "up", "0", "8", "8", "manual"),
        ("纠纷投诉率变化", "%", "down", "0", "-15", "-15", "manual"),
        (
            "标准库中的标准",
            "项",
            "up",
            "3",
            "10",
            "",
            "live:standards-total",
        ),
        ("顾客满意度", "%", "up", "", "90", "", "live:survey-csat"),
    ] {
        state
            .db
            .indicator_add(
                project,
                &crate::db::acceptance::Indicator {
                    name: name.into(),
                    unit: unit.into(),
                    direction: direction.into(),
                    baseline: baseline.into(),
                    target: target.into(),
                    actual: actual.into(),
                    source: source.into(),
                    ..Default::default()
                },
            )
            .await
            .map_err(e)?;
    }
    let mut panel = vec![(leader.id, true)];
    let mut others = Vec::new();
    for (name, display, less) in [
        ("demo-expert-2", "演示专家乙", 1.0),
        ("demo-expert-3", "演示专家丙", 0.5),
    ] {
        let u = state
            .db
            .create_user(
                &crate::db::accounts::NewUser {
                    username: name,
                    display_name: display,
                    // Never signs in: a password nobody knows.
                    password: &crate::db::accounts::random_token(),
                    role: Role::Expert,
                    department: "演示专家组",
                },
                &Actor::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        panel.push((u.id, false));
        others.push((u.id, less));
    }
    let review = state
        .db
        .review_create(
            project,
            "数字家政管理与服务试点项目验收",
            &table_yaml,
            "2023-11-20",
            &panel,
            None,
        )
        .await
        .map_err(e)?;
    for (user, less) in others {
        let scores: Vec<crate::db::acceptance::Score> = table
            .items()
            .map(|i| crate::db::acceptance::Score {
                item_id: i.id.clone(),
                score: Some((i.max - less).max(0.0)),
                comment: String::new(),
            })
            .collect();
        state
            .db
            .review_save(review, user, &scores, true)
            .await
            .map_err(e)?;
    }
    Ok(())
}

/// The demo's audits: last year's, closed, and this year's, run on the simulated
/// platform with what an auditor would have recorded — findings with owners and
/// due dates at several stages, an observation, on-site checks at one outlet — so
/// the audit page and its reports show everything on first start.
async fn demo_audits(state: &AppState, auditor: &crate::db::accounts::User) -> Result<(), String> {
    use crate::db::audits::{NewAudit, Verdict};
    let e = |e: crate::db::audits::AuditError| e.to_string();
    let standards = [
        "T/ZTAC 001.2—2023".to_string(),
        "T/ZTAC 002—2023".to_string(),
        "DB3301/T 0441—2024".to_string(),
    ];
    let mut last = None;
    for (name, from, to) in [
        (
            "演示：2022年度数字家政平台与社区网点符合性审核",
            "2022-01-01",
            "2022-12-31",
        ),
        (
            "演示：2023年度数字家政平台与社区网点符合性审核",
            "2023-01-01",
            "2023-12-31",
        ),
    ] {
        let a = state
            .db
            .create_audit(
                &NewAudit {
                    name,
                    standards: &standards,
                    period_from: from,
                    period_to: to,
                    outlets: &[],
                    max_skipped: crate::audit::DEFAULT_MAX_SKIPPED,
                },
                auditor,
            )
            .await
            .map_err(e)?;
        let surveys = crate::survey::stored::results(&state.db)
            .await
            .map_err(|e| e.to_string())?;
        let evaluated = audits::evaluate_audit(state, &a, surveys)?;
        evaluated.record(&state.db, a.id).await.map_err(e)?;
        let results = evaluated.results;
        if last.is_none() {
            state.db.close_audit(a.id, auditor).await.map_err(e)?;
        }
        last = Some((a, results));
    }
    let Some((a, results)) = last else {
        return Ok(());
    };
    // Findings for the first failed record checks, as an auditor records them.
    let failed = results
        .iter()
        .filter(|r| r.kind == "record" && r.outcome == crate::audit::checks::Outcome::Fail);
    let plan = [
        ("major", "平台运营部 王喆", "2024-01-31", 2),
        ("minor", "网点管理科 李堃", "2024-02-29", 1),
        ("minor", "质量部 刘䶮", "2024-03-31", 0),
    ];
    for (r, (severity, owner, due, steps)) in failed.zip(plan) {
        let Some(clause) = r.clauses.first() else {
            continue;
        };
        let first = r.samples.first();
        let observed = format!(
            "自动检查“{}”：检查 {} 条，不符合 {} 条。{}",
            r.title,
            r.checked,
            r.failed,
            first
                .map(|s| format!("例如 {} {}。", s.id, s.name))
                .unwrap_or_default()
        );
        let target = first
            .map(|s| format!("{} {}", s.id, s.name).trim().to_string())
            .unwrap_or_default();
        let f = state
            .db
            .add_finding(
                a.id, clause, severity, &r.title, &observed, &target, owner, due, auditor,
            )
            .await
            .map_err(e)?;
        for (from, to) in [("open", "corrected"), ("corrected", "verified")]
            .into_iter()
            .take(steps)
        {
            state
                .db
                .set_finding_status(f, from, to, auditor)
                .await
                .map_err(e)?;
        }
    }
    // On site at O01: every outlet item checked; one clause judged an observation.
    let set = crate::audit::checks::CheckSet::load(std::slice::from_ref(&state.audits_dir))
        .map_err(|d| format!("{} errors in the checks", d.len()))?;
    let in_scope = |c: &String| standards.iter().any(|s| c.starts_with(&format!("{s}#")));
    for item in set
        .manual
        .iter()
        .filter(|m| m.per == crate::audit::checks::Per::Outlet && m.clauses.iter().any(in_scope))
    {
        state
            .db
            .set_item(
                a.id,
                &item.id,
                "O01",
                Verdict::Conform,
                "现场查看，符合",
                auditor,
            )
            .await
            .map_err(e)?;
    }
    if let Some(item) = set
        .manual
        .iter()
        .find(|m| m.per == crate::audit::checks::Per::Platform && m.clauses.iter().any(in_scope))
        && let Some(clause) = item.clauses.iter().find(|c| in_scope(c))
    {
        state
            .db
            .set_clause_verdict(
                a.id,
                clause,
                Verdict::Observation,
                "",
                "制度已建立，但上一年度的执行记录分散在各部门，建议统一归档",
                auditor,
            )
            .await
            .map_err(e)?;
    }
    Ok(())
}

/// Serves until Ctrl-C / SIGTERM, then finishes the requests in flight.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    tokio::spawn(crate::monitor::service::run(
        state.db.clone(),
        crate::monitor::service::Inputs {
            audits_dir: state.audits_dir.clone(),
            platform_dir: state.platform_dir.clone(),
            pseudonym_key: state.pseudonym_key.clone(),
        },
        state.monitor.clone(),
    ));
    if state.monitor.config.demo_feed && state.monitor.config.enabled {
        tokio::spawn(crate::monitor::service::demo_feed(
            state.db.clone(),
            state.data.clone(),
            state.monitor.clone(),
        ));
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
