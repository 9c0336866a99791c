//! Stored platform events (live monitoring): idempotent batch insert and reading back
//! in arrival order.
//!
//! A batch is one transaction: it is either all committed (then acknowledged) or
//! not at all. `INSERT … ON CONFLICT (event_id) DO NOTHING` makes a resent event a
//! no-op on both dialects, counted as a duplicate. Rows go in multi-row `INSERT`s of
//! [`ROWS_PER_INSERT`]: one statement per event would make the round trips, not the
//! disk, the limit.

use serde::Serialize;
use sqlx::Row;

use super::{Db, now};
use crate::db::accounts::AccountError;
use crate::monitor::ingest::NewEvent;

/// Rows per `INSERT` (8 parameters each: well under SQLite's 32,766 and PostgreSQL's
/// 65,535 bound parameters).
pub const ROWS_PER_INSERT: usize = 500;

/// What a stored batch came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// Events stored now.
    pub accepted: usize,
    /// Events already stored by an earlier delivery (same id), left as they were.
    pub duplicates: usize,
    /// The highest sequence number after this batch.
    pub last_seq: i64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub case_id: String,
    pub activity: String,
    pub timestamp: String,
    pub attrs: serde_json::Value,
    pub source: String,
    pub received_at: i64,
}

impl Db {
    /// Stores a validated batch in one transaction; `source` names the sender (the
    /// API token's user). Returns only after the commit.
    pub async fn ingest_events(
        &self,
        events: &[NewEvent],
        source: &str,
    ) -> Result<Ingested, AccountError> {
        self.ingest_events_at(events, source, None).await
    }

    /// The last position stored for a pull source (0 before the first pull).
    pub async fn event_cursor(&self, name: &str) -> Result<i64, AccountError> {
        Ok(
            sqlx::query("SELECT position FROM event_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("position"))
                .transpose()?
                .unwrap_or(0),
        )
    }

    /// [`Db::ingest_events`], also moving a pull source's cursor to `position` in
    /// the same transaction: the events and the cursor commit together or not at all.
    pub async fn ingest_events_at(
        &self,
        events: &[NewEvent],
        source: &str,
        cursor: Option<(&str, i64)>,
    ) -> Result<Ingested, AccountError> {
        let _gate = self.write_gate().await;
        let mut tx = self.pool.begin().await?;
        let at = now();
        let mut accepted = 0usize;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO events (event_id, case_id, activity, timestamp, at_us, attrs, source, received_at) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 8;
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            sql.push_str(" ON CONFLICT (event_id) DO NOTHING");
            // Only placeholders are assembled here; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(&e.id)
                    .bind(&e.case_id)
                    .bind(&e.activity)
                    .bind(&e.timestamp)
                    .bind(e.at_us)
                    .bind(&e.attrs)
                    .bind(source)
                    .bind(at);
            }
            accepted += q.execute(&mut *tx).await?.rows_affected() as usize;
        }
        if let Some((name, position)) = cursor {
            sqlx::query(
                "INSERT INTO event_cursors (name, position) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            )
            .bind(name)
            .bind(position)
            .execute(&mut *tx)
            .await?;
        }
        let last_seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS s FROM events")
            .fetch_one(&mut *tx)
            .await?
            .try_get("s")?;
        tx.commit().await?;
        Ok(Ingested {
            accepted,
            duplicates: events.len() - accepted,
            last_seq,
        })
    }

    /// Events after sequence number `after`, in arrival order, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, AccountError> {
        let rows = sqlx::query(
            "SELECT seq, event_id, case_id, activity, timestamp, attrs, source, received_at \
             FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_row).collect::<Result<_, _>>()?)
    }
}

/// A row of `events` (the columns `events_after` selects).
pub(crate) fn event_row(r: &sqlx::any::AnyRow) -> Result<StoredEvent, sqlx::Error> {
    let attrs: String = r.try_get("attrs")?;
    Ok(StoredEvent {
        seq: r.try_get("seq")?,
        id: r.try_get("event_id")?,
        case_id: r.try_get("case_id")?,
        activity: r.try_get("activity")?,
        timestamp: r.try_get("timestamp")?,
        attrs: serde_json::from_str(&attrs).unwrap_or_default(),
        source: r.try_get("source")?,
        received_at: r.try_get("received_at")?,
    })
}
