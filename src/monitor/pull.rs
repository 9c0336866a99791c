//! Pull mode: follow a table of the platform's own database instead of waiting for
//! pushes. One SQL query reads the rows after a cursor (a monotonically increasing id
//! or timestamp column); each row becomes an event and goes through exactly the
//! validation of a pushed batch ([`super::ingest::parse_batch`]). The events and the
//! new cursor position are committed in one transaction, so a crash between reading
//! and storing re-reads the same rows and stores nothing twice.
//!
//! ```sql
//! SELECT e.id AS cursor, e.uuid AS id, e.order_no AS case_id, e.step AS activity,
//!        e.at::text AS timestamp, e.worker AS worker_id
//! FROM order_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2
//! ```
//!
//! `$1` is the last cursor value stored (0 at first), `$2` the page size. The
//! `cursor` column must be an integer that only grows (an id, or a timestamp as epoch
//! microseconds); every other column is an event field or attribute. Cast dates to
//! text (`::text`): the driver reads text, numbers and booleans.

use sqlx::{Column, Row};

use super::ingest::{BatchError, parse_batch};
use crate::db::Db;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the source database: {0}")]
    Source(String),
    #[error("the query must return an integer column named `cursor` (row {row})")]
    NoCursor { row: usize },
    #[error("rows after cursor {after}: {error}")]
    Invalid { after: i64, error: String },
    #[error(transparent)]
    Store(#[from] crate::db::accounts::AccountError),
}

/// What one pass stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pulled {
    pub read: usize,
    pub accepted: usize,
    pub duplicates: usize,
    /// The cursor after this pass.
    pub cursor: i64,
}

/// Reads pages of rows after the stored cursor of `name` until the source has no
/// more, storing each page with its cursor in one transaction.
pub async fn pull(
    db: &Db,
    source_url: &str,
    name: &str,
    query: &str,
    page: i64,
) -> Result<Pulled, PullError> {
    sqlx::any::install_default_drivers();
    let head = query.trim_start().to_ascii_lowercase();
    if !(head.starts_with("select") || head.starts_with("with")) {
        return Err(PullError::Source(
            "the query must be a SELECT (pulling only reads)".into(),
        ));
    }
    let src = sqlx::AnyPool::connect(source_url)
        .await
        .map_err(|e| PullError::Source(e.to_string()))?;
    let mut total = Pulled {
        cursor: db.event_cursor(name).await?,
        ..Default::default()
    };
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_string()))
            .bind(total.cursor)
            .bind(page)
            .fetch_all(&src)
            .await
            .map_err(|e| PullError::Source(e.to_string()))?;
        if rows.is_empty() {
            break;
        }
        let mut events = Vec::with_capacity(rows.len());
        let mut next = total.cursor;
        for (i, row) in rows.iter().enumerate() {
            let mut obj = serde_json::Map::new();
            let mut cursor = None;
            for (c, col) in row.columns().iter().enumerate() {
                let v = crate::platform::source::cell(row, c);
                if col.name() == "cursor" {
                    cursor = v.as_i64();
                } else {
                    obj.insert(col.name().to_string(), v);
                }
            }
            next = cursor.ok_or(PullError::NoCursor { row: i + 1 })?.max(next);
            events.push(serde_json::Value::Object(obj));
        }
        let body = serde_json::to_vec(&events).map_err(|e| PullError::Source(e.to_string()))?;
        let parsed = parse_batch(&body).map_err(|e| PullError::Invalid {
            after: total.cursor,
            error: match e {
                BatchError::Invalid(errs) => errs.join("; "),
                other => other.to_string(),
            },
        })?;
        let stored = db
            .ingest_events_at(&parsed, &format!("pull:{name}"), Some((name, next)))
            .await?;
        total.read += rows.len();
        total.accepted += stored.accepted;
        total.duplicates += stored.duplicates;
        total.cursor = next;
        if (rows.len() as i64) < page {
            break;
        }
    }
    src.close().await;
    Ok(total)
}
