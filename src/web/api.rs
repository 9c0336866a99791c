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
    match state.search.search(&query, 20) {
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
