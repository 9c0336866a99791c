//! The JSON API under `/api/v1`: what the pages show, for machine clients (API
//! tokens: `Authorization: Bearer bzt_…`) and scripts. Errors are JSON too.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::pages::{DiffQuery, SearchQuery, compute_diff, find_standard};

pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": message, "status": status.as_u16() })),
    )
        .into_response()
}

pub async fn standards(State(state): State<AppState>) -> Response {
    let content = state.content();
    let list: Vec<_> = content
        .coll
        .standards
        .iter()
        .map(|s| {
            json!({
                "code": s.code.to_string(),
                "slug": s.code.slug(),
                "title": s.meta.title,
                "kind": s.meta.kind.as_str(),
                "status": s.meta.status.as_str(),
                "published": s.meta.published,
                "clauses": s.clause_count(),
            })
        })
        .collect();
    Json(json!({ "revision": content.revision, "standards": list })).into_response()
}

pub async fn standard(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let content = state.content();
    match find_standard(&content.coll, &slug) {
        Some(s) => Json(s).into_response(),
        None => error(StatusCode::NOT_FOUND, "没有这个标准"),
    }
}

pub async fn clause(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let content = state.content();
    let found = slug
        .split_once('_')
        .and_then(|(s, n)| find_standard(&content.coll, s).and_then(|std| std.clause(n)));
    match found {
        Some(c) => Json(json!({
            "id": c.id,
            "slug": c.slug,
            "number": c.number,
            "title": c.title,
            "text": c.own_text(),
            "provisions": c.provisions,
            "children": c.children.iter().map(|x| &x.id).collect::<Vec<_>>(),
        }))
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "没有这个条款"),
    }
}

pub async fn search(State(state): State<AppState>, Query(q): Query<SearchQuery>) -> Response {
    let query = q.q.unwrap_or_default();
    if query.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "缺少查询参数 q");
    }
    let _ = state.content();
    match state.with_search(|s| s.search(&query, 20)) {
        Ok(r) => Json(r).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub async fn history(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let content = state.content();
    let Some(s) = find_standard(&content.coll, &slug) else {
        return error(StatusCode::NOT_FOUND, "没有这个标准");
    };
    match state.library.history(&s.code.to_string()) {
        Ok(h) => Json(json!({ "code": s.code.to_string(), "history": h })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub async fn diff(State(state): State<AppState>, Query(q): Query<DiffQuery>) -> Response {
    match compute_diff(&state, &q) {
        Ok(d) => Json(d).into_response(),
        Err(super::AppError::NotFound) => error(StatusCode::NOT_FOUND, "没有这个标准"),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// OpenAPI 3.1, generated from the route table that also builds the router, so the
/// document lists exactly the API the server has, with each route's access rule.
pub async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

pub fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for r in super::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
    {
        let params: Vec<serde_json::Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .chain(query_params(r.path))
            .collect();
        let security = match r.access {
            super::Access::Public => json!([]),
            _ => json!([{ "bearer": [] }, { "session": [] }]),
        };
        let op = json!({
            "summary": r.summary,
            "parameters": params,
            "security": security,
            "responses": {
                "200": { "description": "成功", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": { "description": "未登录或令牌无效", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "403": { "description": "没有权限" },
                "404": { "description": "不存在", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "标准 Biaozhun API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "API 令牌（在“我的账号”中创建）" },
                "session": { "type": "apiKey", "in": "cookie", "name": super::SESSION_COOKIE }
            },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "string" }, "status": { "type": "integer" } }, "required": ["error", "status"] }
            }
        }
    })
}

fn query_params(path: &str) -> Vec<serde_json::Value> {
    let q = |name: &str, required: bool, description: &str| json!({ "name": name, "in": "query", "required": required, "description": description, "schema": { "type": "string" } });
    match path {
        "/api/v1/search" => vec![q(
            "q",
            true,
            "检索式：词、\"短语\"、-排除、std: kind: status: type: category: year: dept:",
        )],
        "/api/v1/diff" => vec![
            q("a", true, "旧标准（编号或 slug）"),
            q("b", false, "新标准（默认同 a）"),
            q("ra", false, "旧版本（git 修订，默认 HEAD）"),
            q("rb", false, "新版本（默认 HEAD）"),
        ],
        "/api/v1/import/docx" => vec![
            q("code", false, "草稿的标准编号（写入前置信息）"),
            q("title", false, "文档中没有标题时使用的标准名称"),
            q("category", false, "GB/T 24421 标准体系节点"),
        ],
        _ => Vec::new(),
    }
}
