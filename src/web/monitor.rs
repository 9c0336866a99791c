//! Live monitoring over HTTP: `POST /api/v1/events` (the platform pushes batches) and
//! `GET /api/v1/events` (read back in arrival order).
//!
//! Back-pressure: at most [`INGEST_SLOTS`] batches are validated and stored at once.
//! A batch that cannot get a slot within [`SLOT_WAIT`] is answered 503 with
//! `Retry-After` at once, so a client sending faster than the database commits is
//! slowed down instead of queueing unbounded work (and memory) in the server.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppError, AppState, Viewer};
use crate::monitor::ingest::{BatchError, parse_batch};

/// Batches stored concurrently.
pub const INGEST_SLOTS: usize = 8;
/// How long a batch may wait for a slot before it is turned away.
pub const SLOT_WAIT: Duration = Duration::from_millis(50);

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, axum::Json(v)).into_response()
}

pub async fn ingest(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    body: Bytes,
) -> Result<Response, AppError> {
    let user = viewer.signed()?;
    let Ok(Ok(_permit)) = tokio::time::timeout(SLOT_WAIT, state.ingest_slots.acquire()).await
    else {
        let mut r = json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": "服务器正忙，请在 Retry-After 秒后重发这一批（事件按 id 去重，重发是安全的）" }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Ok(r);
    };
    let events = match parse_batch(&body) {
        Ok(e) => e,
        Err(BatchError::Invalid(errors)) => {
            return Ok(json(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({ "error": "这一批有无效事件，整批未保存；请更正后重发", "errors": errors }),
            ));
        }
        Err(e @ BatchError::TooLarge(_)) => {
            return Ok(json(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({ "error": e.to_string() }),
            ));
        }
        Err(e) => {
            return Ok(json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": e.to_string() }),
            ));
        }
    };
    let stored = state
        .db
        .ingest_events(&events, &format!("api:{}", user.username))
        .await?;
    Ok(json(StatusCode::OK, serde_json::json!(stored)))
}

#[derive(Deserialize)]
pub struct AfterQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    1000
}

pub async fn list(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(q): Query<AfterQuery>,
) -> Result<Response, AppError> {
    viewer.signed()?;
    let events = state
        .db
        .events_after(q.after, q.limit.clamp(1, 10_000))
        .await?;
    let last = events.last().map(|e| e.seq).unwrap_or(q.after);
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "events": events, "last_seq": last }),
    ))
}
