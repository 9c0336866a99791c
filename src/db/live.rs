//! Live monitoring's results: processed events, cases, obligation flags, alerts and
//! the webhook outbox.
//!
//! The monitor's whole effect of one round — events marked done, case counters,
//! flags, alerts raised or resolved, webhook deliveries queued — is one
//! [`LiveCommit`] applied in one transaction, so a crash either keeps all of it or
//! none (and the events are then processed again from scratch). Alerts are unique by
//! (kind, source, subject, key) and raised with `ON CONFLICT DO NOTHING`: nothing,
//! not even a replay after a crash, raises one twice.

use serde::Serialize;
use sqlx::Row;

use super::events::{StoredEvent, event_row};
use super::{Db, now};
use crate::db::accounts::AccountError;

/// Bound parameters per `IN (…)` list.
const IN_CHUNK: usize = 500;
/// Cases per multi-row upsert (7 parameters each).
const CASES_PER_INSERT: usize = 500;
/// Alerts per multi-row `INSERT` (14 parameters each).
const ALERTS_PER_INSERT: usize = 200;

/// One case's change in a round.
#[derive(Debug, Clone)]
pub struct CaseDelta {
    pub case_id: String,
    /// Events processed in this round.
    pub events: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub outlet: Option<String>,
    pub town: Option<String>,
    /// Closed (judged as final) in this round, or reopened (`Some(None)`).
    pub closed: Option<Option<i64>>,
}

/// An alert to raise.
#[derive(Debug, Clone, Serialize)]
pub struct NewAlert {
    pub kind: String,
    pub source: String,
    pub subject: String,
    pub okey: String,
    pub rule_id: String,
    pub title: String,
    pub clauses: Vec<String>,
    pub severity: String,
    pub detail: String,
    pub outlet: Option<String>,
    pub town: Option<String>,
    pub at_us: Option<i64>,
    pub due_us: Option<i64>,
}

/// An alert the monitor resolves itself (the obligation was met after all, or
/// became a violation, or the record recovered).
#[derive(Debug, Clone)]
pub struct AutoResolve {
    pub kind: String,
    pub source: String,
    pub subject: String,
    pub okey: String,
    pub resolution: String,
}

/// Everything one monitor round changes.
#[derive(Debug, Default)]
pub struct LiveCommit {
    pub done: Vec<i64>,
    pub cases: Vec<CaseDelta>,
    /// (case, key, state); `None` deletes the flag.
    pub flags: Vec<(String, String, Option<String>)>,
    /// Cases closed in this round (their flags stay, for a late event reopening one).
    pub closed: Vec<String>,
    pub raise: Vec<NewAlert>,
    pub resolve: Vec<AutoResolve>,
    /// Queue webhook deliveries for what changed.
    pub webhook: bool,
}

impl LiveCommit {
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
            && self.cases.is_empty()
            && self.flags.is_empty()
            && self.closed.is_empty()
            && self.raise.is_empty()
            && self.resolve.is_empty()
    }
}

impl LiveCommit {
    /// Splits a commit of alerts only (a record round) into commits of at most `n`
    /// alerts each, so a first round raising thousands does not hold SQLite's
    /// single write lock for seconds. Safe because raising and resolving are
    /// idempotent: a crash between parts is finished by the next round.
    pub fn into_parts(self, n: usize) -> Vec<LiveCommit> {
        let n = n.max(1);
        let mut parts = Vec::new();
        let webhook = self.webhook;
        let mut raise = self.raise.into_iter().peekable();
        let mut resolve = self.resolve.into_iter().peekable();
        while raise.peek().is_some() || resolve.peek().is_some() {
            let mut part = LiveCommit {
                webhook,
                ..Default::default()
            };
            part.raise.extend(raise.by_ref().take(n));
            let room = n - part.raise.len();
            part.resolve.extend(resolve.by_ref().take(room));
            parts.push(part);
        }
        parts
    }
}

/// What a commit did (for the live page's stream).
#[derive(Debug, Default, Clone)]
pub struct Applied {
    pub raised: Vec<i64>,
    pub resolved: Vec<i64>,
}

/// An alert as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub source: String,
    pub subject: String,
    pub okey: String,
    pub rule_id: String,
    pub title: String,
    pub clauses: Vec<String>,
    pub severity: String,
    pub detail: String,
    pub outlet: Option<String>,
    pub town: Option<String>,
    pub at_us: Option<i64>,
    pub due_us: Option<i64>,
    pub state: String,
    pub assignee: Option<String>,
    pub raised_at: i64,
    pub updated_at: i64,
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertAction {
    pub action: String,
    pub actor: String,
    pub note: String,
    pub at: i64,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `open` (not resolved), `resolved`, or all.
    pub state: Option<String>,
    pub kind: Option<String>,
    pub outlet: Option<String>,
    /// A clause id (`T/ZTAC 001.2—2023#9.2`).
    pub clause: Option<String>,
    /// Only alerts with a larger id (the live page's polling).
    pub after: Option<i64>,
    pub limit: i64,
}

/// A webhook delivery due.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub body: String,
    pub attempts: i64,
}

/// Figures of the 驾驶舱.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Today {
    pub events: i64,
    pub cases: i64,
    pub warnings: i64,
    pub violations: i64,
    pub open_alerts: i64,
    pub resolved: i64,
}

/// One row of the per-town table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownRow {
    pub town: String,
    pub cases: i64,
    pub warnings: i64,
    pub violations: i64,
    pub open_alerts: i64,
    /// Violations per day, oldest first.
    pub trend: Vec<i64>,
}

fn alert_row(r: &sqlx::any::AnyRow) -> Result<Alert, sqlx::Error> {
    let clauses: String = r.try_get("clauses")?;
    Ok(Alert {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        source: r.try_get("source")?,
        subject: r.try_get("subject")?,
        okey: r.try_get("okey")?,
        rule_id: r.try_get("rule_id")?,
        title: r.try_get("title")?,
        clauses: serde_json::from_str(&clauses).unwrap_or_default(),
        severity: r.try_get("severity")?,
        detail: r.try_get("detail")?,
        outlet: r.try_get("outlet")?,
        town: r.try_get("town")?,
        at_us: r.try_get("at_us")?,
        due_us: r.try_get("due_us")?,
        state: r.try_get("state")?,
        assignee: r.try_get("assignee")?,
        raised_at: r.try_get("raised_at")?,
        updated_at: r.try_get("updated_at")?,
        resolution: r.try_get("resolution")?,
    })
}

const ALERT_COLS: &str = "id, kind, source, subject, okey, rule_id, title, clauses, severity, \
     detail, outlet, town, at_us, due_us, state, assignee, raised_at, updated_at, resolution";

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Start of today (UTC+8, the platform's zone) in Unix seconds.
pub fn today_start(now_s: i64) -> i64 {
    const OFF: i64 = 8 * 3600;
    (now_s + OFF).div_euclid(86_400) * 86_400 - OFF
}

impl Db {
    /// Events not yet processed by the monitor, in arrival order.
    pub async fn live_todo(&self, limit: i64) -> Result<Vec<StoredEvent>, AccountError> {
        let rows = sqlx::query(
            "SELECT seq, event_id, case_id, activity, timestamp, attrs, source, received_at \
             FROM events WHERE done = 0 ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_row).collect::<Result<_, _>>()?)
    }

    /// The processed events of every open case (the monitor's memory after a
    /// restart), in arrival order.
    pub async fn live_open_events(&self) -> Result<Vec<StoredEvent>, AccountError> {
        let rows = sqlx::query(
            "SELECT e.seq, e.event_id, e.case_id, e.activity, e.timestamp, e.attrs, e.source, \
             e.received_at FROM events e JOIN live_cases c ON c.case_id = e.case_id \
             WHERE c.closed_at IS NULL AND e.done = 1 ORDER BY e.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_row).collect::<Result<_, _>>()?)
    }

    /// Processed events of the given (closed) cases, to reopen them when a late
    /// event arrives.
    pub async fn live_case_events(
        &self,
        cases: &[String],
    ) -> Result<Vec<StoredEvent>, AccountError> {
        let mut out = Vec::new();
        for chunk in cases.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT seq, event_id, case_id, activity, timestamp, attrs, source, received_at \
                 FROM events WHERE done = 1 AND case_id IN ({}) ORDER BY seq",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(c);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(event_row(&r)?);
            }
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// Which of `cases` the monitor has seen and closed.
    pub async fn live_closed_among(&self, cases: &[String]) -> Result<Vec<String>, AccountError> {
        let mut out = Vec::new();
        for chunk in cases.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT case_id FROM live_cases WHERE closed_at IS NOT NULL AND case_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(c);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(r.try_get("case_id")?);
            }
        }
        Ok(out)
    }

    /// Flags of open cases: (case, key, state).
    pub async fn live_open_flags(&self) -> Result<Vec<(String, String, String)>, AccountError> {
        let rows = sqlx::query(
            "SELECT f.case_id, f.okey, f.state FROM live_flags f \
             JOIN live_cases c ON c.case_id = f.case_id WHERE c.closed_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("okey")?,
                    r.try_get("state")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Flags of the given cases (closed ones being reopened).
    pub async fn live_flags_of(
        &self,
        cases: &[String],
    ) -> Result<Vec<(String, String, String)>, AccountError> {
        let mut out = Vec::new();
        for chunk in cases.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT case_id, okey, state FROM live_flags WHERE case_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(c);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push((
                    r.try_get("case_id")?,
                    r.try_get("okey")?,
                    r.try_get("state")?,
                ));
            }
        }
        Ok(out)
    }

    /// The latest event instant processed (the event clock after a restart).
    pub async fn live_watermark(&self) -> Result<Option<i64>, AccountError> {
        Ok(
            sqlx::query("SELECT MAX(at_us) AS m FROM events WHERE done = 1")
                .fetch_one(&self.pool)
                .await?
                .try_get("m")?,
        )
    }

    /// Open alerts of a source (`record`): (kind, subject, key).
    pub async fn live_open_alert_keys(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String, String)>, AccountError> {
        let rows = sqlx::query(
            "SELECT kind, subject, okey FROM alerts WHERE source = $1 AND state <> 'resolved'",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("kind")?,
                    r.try_get("subject")?,
                    r.try_get("okey")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Applies one monitor round in one transaction.
    pub async fn live_commit(&self, c: &LiveCommit) -> Result<Applied, AccountError> {
        let _gate = self.write_gate().await;
        let mut tx = self.pool.begin().await?;
        let at = now();
        let mut applied = Applied::default();
        // Done marks by runs of consecutive sequence numbers (`BETWEEN`): a run
        // holds only events of this round, so no event read by nobody is marked.
        let mut seqs = c.done.clone();
        seqs.sort_unstable();
        seqs.dedup();
        let expected = seqs.len() as u64;
        let mut marked = 0u64;
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for s in seqs {
            match runs.last_mut() {
                Some((_, hi)) if *hi + 1 == s => *hi = s,
                _ => runs.push((s, s)),
            }
        }
        for chunk in runs.chunks(IN_CHUNK / 2) {
            let cond = (0..chunk.len())
                .map(|i| format!("seq BETWEEN ${} AND ${}", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(" OR ");
            let sql = format!("UPDATE events SET done = 1 WHERE done = 0 AND ({cond})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (lo, hi) in chunk {
                q = q.bind(*lo).bind(*hi);
            }
            marked += q.execute(&mut *tx).await?.rows_affected();
        }
        // Someone else (a second server on the same database) processed some of
        // these events meanwhile: keep nothing of this round; the caller rebuilds.
        if marked != expected {
            return Err(AccountError::Invalid(format!(
                "{} of {expected} events were already processed by another monitor",
                expected - marked
            )));
        }
        // Case counters in multi-row upserts: one statement shape for cases whose
        // closing state is unchanged, one for cases closed or reopened now.
        for touches_closed in [false, true] {
            let group: Vec<&CaseDelta> = c
                .cases
                .iter()
                .filter(|d| d.closed.is_some() == touches_closed)
                .collect();
            for chunk in group.chunks(CASES_PER_INSERT) {
                let mut sql = String::from(
                    "INSERT INTO live_cases (case_id, events, first_at, last_at, outlet, town, closed_at) VALUES ",
                );
                for i in 0..chunk.len() {
                    let b = i * 7;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7
                    ));
                }
                sql.push_str(
                    " ON CONFLICT (case_id) DO UPDATE SET events = live_cases.events + excluded.events, \
                     first_at = CASE WHEN excluded.first_at < live_cases.first_at \
                       THEN excluded.first_at ELSE live_cases.first_at END, \
                     last_at = CASE WHEN excluded.last_at > live_cases.last_at \
                       THEN excluded.last_at ELSE live_cases.last_at END, \
                     outlet = COALESCE(excluded.outlet, live_cases.outlet), \
                     town = COALESCE(excluded.town, live_cases.town)",
                );
                if touches_closed {
                    sql.push_str(", closed_at = excluded.closed_at");
                }
                // Only placeholders are assembled here; every value is bound.
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in chunk {
                    q = q
                        .bind(&d.case_id)
                        .bind(d.events)
                        .bind(d.first_at)
                        .bind(d.last_at)
                        .bind(&d.outlet)
                        .bind(&d.town)
                        .bind(d.closed.flatten());
                }
                q.execute(&mut *tx).await?;
            }
        }
        for (case, key, state) in &c.flags {
            match state {
                Some(s) => {
                    sqlx::query(
                        "INSERT INTO live_flags (case_id, okey, state) VALUES ($1, $2, $3) \
                         ON CONFLICT (case_id, okey) DO UPDATE SET state = excluded.state",
                    )
                    .bind(case)
                    .bind(key)
                    .bind(s)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM live_flags WHERE case_id = $1 AND okey = $2")
                        .bind(case)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        // Alerts in multi-row inserts (one statement per alert would make a round
        // that raises thousands — a backlog after downtime — slow).
        for chunk in c.raise.chunks(ALERTS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO alerts (kind, source, subject, okey, rule_id, title, clauses, severity, \
                 detail, outlet, town, at_us, due_us, state, raised_at, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 14;
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for k in 1..=13 {
                    sql.push_str(&format!("${}, ", b + k));
                }
                sql.push_str(&format!("'open', ${0}, ${0})", b + 14));
            }
            sql.push_str(" ON CONFLICT (kind, source, subject, okey) DO NOTHING RETURNING id, kind, source, subject, okey");
            // Only placeholders are assembled here; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in chunk {
                q = q
                    .bind(&a.kind)
                    .bind(&a.source)
                    .bind(&a.subject)
                    .bind(&a.okey)
                    .bind(&a.rule_id)
                    .bind(&a.title)
                    .bind(serde_json::to_string(&a.clauses).unwrap_or_else(|_| "[]".into()))
                    .bind(&a.severity)
                    .bind(&a.detail)
                    .bind(&a.outlet)
                    .bind(&a.town)
                    .bind(a.at_us)
                    .bind(a.due_us)
                    .bind(at);
            }
            let rows = q.fetch_all(&mut *tx).await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                applied.raised.push(id);
                if c.webhook {
                    let key = (
                        r.try_get::<String, _>("kind")?,
                        r.try_get::<String, _>("source")?,
                        r.try_get::<String, _>("subject")?,
                        r.try_get::<String, _>("okey")?,
                    );
                    if let Some(a) = chunk.iter().find(|a| {
                        (&a.kind, &a.source, &a.subject, &a.okey)
                            == (&key.0, &key.1, &key.2, &key.3)
                    }) {
                        let body = serde_json::json!({
                            "event": "alert.raised",
                            "alert": { "id": id, "kind": a.kind, "source": a.source,
                                "subject": a.subject, "rule": a.rule_id, "title": a.title,
                                "clauses": a.clauses, "severity": a.severity, "detail": a.detail,
                                "outlet": a.outlet, "town": a.town, "raised_at": at },
                        });
                        queue_webhook(&mut tx, &body, at).await?;
                    }
                }
            }
        }
        for r in &c.resolve {
            let row = sqlx::query(
                "UPDATE alerts SET state = 'resolved', resolution = $1, updated_at = $2 \
                 WHERE kind = $3 AND source = $4 AND subject = $5 AND okey = $6 \
                 AND state <> 'resolved' RETURNING id",
            )
            .bind(&r.resolution)
            .bind(at)
            .bind(&r.kind)
            .bind(&r.source)
            .bind(&r.subject)
            .bind(&r.okey)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let id: i64 = row.try_get("id")?;
                applied.resolved.push(id);
                add_action(&mut tx, id, "resolve", "系统", &r.resolution, at).await?;
                if c.webhook {
                    let body = serde_json::json!({
                        "event": "alert.resolved",
                        "alert": { "id": id, "kind": r.kind, "subject": r.subject,
                            "resolution": r.resolution, "by": "系统" },
                    });
                    queue_webhook(&mut tx, &body, at).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Alerts, newest first.
    pub async fn alerts(&self, f: &AlertFilter) -> Result<Vec<Alert>, AccountError> {
        let mut sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut n = 0;
        let mut add = |cond: &str, v: &str, sql: &mut String| {
            n += 1;
            sql.push_str(&cond.replace('?', &format!("${n}")));
            binds.push(v.to_string());
        };
        match f.state.as_deref() {
            Some("open") => sql.push_str(" AND state <> 'resolved'"),
            Some(s) => add(" AND state = ?", s, &mut sql),
            None => {}
        }
        if let Some(k) = &f.kind {
            add(" AND kind = ?", k, &mut sql);
        }
        if let Some(o) = &f.outlet {
            add(" AND outlet = ?", o, &mut sql);
        }
        if let Some(c) = &f.clause {
            // Clauses are stored as a JSON list of strings.
            add(
                " AND clauses LIKE ?",
                &format!("%\"{}\"%", c.replace('"', "")),
                &mut sql,
            );
        }
        let after = f.after.unwrap_or(0);
        sql.push_str(&format!(
            " AND id > ${} ORDER BY id DESC LIMIT ${}",
            binds.len() + 1,
            binds.len() + 2
        ));
        // Only placeholders are assembled; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q
            .bind(after)
            .bind(if f.limit > 0 { f.limit } else { 200 })
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(alert_row).collect::<Result<_, _>>()?)
    }

    pub async fn alert(&self, id: i64) -> Result<Option<(Alert, Vec<AlertAction>)>, AccountError> {
        let sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let actions = sqlx::query(
            "SELECT action, actor, note, at FROM alert_actions WHERE alert_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AlertAction {
                action: r.try_get("action")?,
                actor: r.try_get("actor")?,
                note: r.try_get("note")?,
                at: r.try_get("at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some((alert_row(&row)?, actions)))
    }

    /// A person acts on an alert: `acknowledge` (open → acknowledged), `assign`
    /// (to `assignee`), `resolve` (with a note). A resolved alert takes no action;
    /// the conditional `UPDATE` makes two people resolving at once resolve it once.
    pub async fn alert_act(
        &self,
        id: i64,
        action: &str,
        actor: &str,
        note: &str,
        assignee: Option<&str>,
        webhook: bool,
    ) -> Result<Alert, AccountError> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let res = match action {
            "acknowledge" => {
                sqlx::query(
                    "UPDATE alerts SET state = 'acknowledged', updated_at = $1 \
                 WHERE id = $2 AND state = 'open'",
                )
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            "assign" => {
                let who = assignee
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| AccountError::Invalid("指派需要填写负责人".into()))?;
                sqlx::query(
                    "UPDATE alerts SET assignee = $1, updated_at = $2, \
                     state = CASE WHEN state = 'open' THEN 'acknowledged' ELSE state END \
                     WHERE id = $3 AND state <> 'resolved'",
                )
                .bind(who)
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            "resolve" => {
                if note.trim().is_empty() {
                    return Err(AccountError::Invalid("关闭告警需要填写处理说明".into()));
                }
                sqlx::query(
                    "UPDATE alerts SET state = 'resolved', resolution = $1, updated_at = $2 \
                     WHERE id = $3 AND state <> 'resolved'",
                )
                .bind(note.trim())
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            other => return Err(AccountError::Invalid(format!("未知操作：{other}"))),
        };
        if res.rows_affected() == 0 {
            return Err(AccountError::Invalid(
                "该告警已关闭或状态已变化，请刷新后再试".into(),
            ));
        }
        let note = match (action, assignee) {
            ("assign", Some(a)) if note.trim().is_empty() => format!("指派给 {}", a.trim()),
            ("assign", Some(a)) => format!("指派给 {}：{}", a.trim(), note.trim()),
            _ => note.trim().to_string(),
        };
        add_action(&mut tx, id, action, actor, &note, at).await?;
        if webhook && action == "resolve" {
            let body = serde_json::json!({
                "event": "alert.resolved",
                "alert": { "id": id, "resolution": note, "by": actor },
            });
            queue_webhook(&mut tx, &body, at).await?;
        }
        tx.commit().await?;
        self.alert(id)
            .await?
            .map(|(a, _)| a)
            .ok_or_else(|| AccountError::Invalid("告警不存在".into()))
    }

    /// Webhook deliveries due at `now_s`.
    pub async fn webhook_due(&self, now_s: i64, limit: i64) -> Result<Vec<Delivery>, AccountError> {
        let rows = sqlx::query(
            "SELECT id, body, attempts FROM webhook_outbox \
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= $1 \
             ORDER BY id LIMIT $2",
        )
        .bind(now_s)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get::<i64, _>("attempts")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Records a delivery attempt: delivered, retry at `next_at`, or given up.
    pub async fn webhook_attempt(
        &self,
        id: i64,
        outcome: Result<(), String>,
        next_at: Option<i64>,
    ) -> Result<(), AccountError> {
        let at = now();
        match (outcome, next_at) {
            (Ok(()), _) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET delivered_at = $1, attempts = attempts + 1 WHERE id = $2",
                )
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            (Err(e), Some(next)) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_at = $1, last_error = $2 \
                     WHERE id = $3",
                )
                .bind(next)
                .bind(e)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            (Err(e), None) => {
                sqlx::query(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, failed_at = $1, last_error = $2 \
                     WHERE id = $3",
                )
                .bind(at)
                .bind(e)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// (queued, delivered, failed) webhook deliveries.
    pub async fn webhook_counts(&self) -> Result<(i64, i64, i64), AccountError> {
        let r = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0) AS q, \
             COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS d, \
             COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS f \
             FROM webhook_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("q")?, r.try_get("d")?, r.try_get("f")?))
    }

    /// Today's figures (since `since`, Unix seconds; `since_us` the same instant in
    /// µs for case times).
    pub async fn live_today(&self, since: i64) -> Result<Today, AccountError> {
        let one = |sql: &'static str| async move {
            let r = sqlx::query(sql).bind(since).fetch_one(&self.pool).await?;
            r.try_get::<i64, _>("n")
        };
        Ok(Today {
            events: one("SELECT COUNT(*) AS n FROM events WHERE received_at >= $1").await?,
            // Orders with an event received today (by arrival, like `events`, so
            // a replayed log counts on the day it is replayed).
            cases: one("SELECT COUNT(DISTINCT case_id) AS n FROM events WHERE received_at >= $1")
                .await?,
            warnings: one(
                "SELECT COUNT(*) AS n FROM alerts WHERE kind = 'warning' AND raised_at >= $1",
            )
            .await?,
            violations: one(
                "SELECT COUNT(*) AS n FROM alerts WHERE kind = 'violation' AND raised_at >= $1",
            )
            .await?,
            open_alerts: one(
                "SELECT COUNT(*) AS n FROM alerts WHERE state <> 'resolved' AND $1 IS NOT NULL",
            )
            .await?,
            resolved: one(
                "SELECT COUNT(*) AS n FROM alerts WHERE state = 'resolved' AND updated_at >= $1",
            )
            .await?,
        })
    }

    /// The per-town table: today's figures and the daily violations of the last
    /// `days` days (the sparkline), per town (`未归属` for alerts with no place).
    pub async fn live_towns(&self, since: i64, days: i64) -> Result<Vec<TownRow>, AccountError> {
        use std::collections::BTreeMap;
        let mut towns: BTreeMap<String, TownRow> = BTreeMap::new();
        let name = |t: Option<String>| {
            t.filter(|s| !s.is_empty())
                .unwrap_or_else(|| "未归属".into())
        };
        for r in sqlx::query(
            "SELECT c.town, COUNT(DISTINCT e.case_id) AS n FROM events e \
             JOIN live_cases c ON c.case_id = e.case_id WHERE e.received_at >= $1 GROUP BY c.town",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        {
            let t = name(r.try_get("town")?);
            towns.entry(t.clone()).or_default().cases = r.try_get("n")?;
        }
        for r in sqlx::query(
            "SELECT town, kind, COUNT(*) AS n, \
             SUM(CASE WHEN state <> 'resolved' THEN 1 ELSE 0 END) AS open \
             FROM alerts WHERE raised_at >= $1 GROUP BY town, kind",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        {
            let t = name(r.try_get("town")?);
            let row = towns.entry(t).or_default();
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("kind")?.as_str() {
                "warning" => row.warnings += n,
                _ => row.violations += n,
            }
        }
        for r in sqlx::query(
            "SELECT town, COUNT(*) AS n FROM alerts WHERE state <> 'resolved' GROUP BY town",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let t = name(r.try_get("town")?);
            towns.entry(t).or_default().open_alerts = r.try_get("n")?;
        }
        let first = since - (days - 1) * 86_400;
        for row in towns.values_mut() {
            row.trend = vec![0; days as usize];
        }
        for r in sqlx::query(
            "SELECT town, (raised_at - $1) / 86400 AS d, COUNT(*) AS n FROM alerts \
             WHERE kind = 'violation' AND raised_at >= $1 GROUP BY town, (raised_at - $1) / 86400",
        )
        .bind(first)
        .fetch_all(&self.pool)
        .await?
        {
            let t = name(r.try_get("town")?);
            let d: i64 = r.try_get("d")?;
            let row = towns.entry(t).or_default();
            if row.trend.is_empty() {
                row.trend = vec![0; days as usize];
            }
            if let Some(x) = row.trend.get_mut(d as usize) {
                *x = r.try_get("n")?;
            }
        }
        for (t, row) in towns.iter_mut() {
            row.town = t.clone();
        }
        Ok(towns.into_values().collect())
    }

    /// Open alerts as (clauses, kind, outlet), for the live page's per-clause and
    /// per-outlet summary.
    pub async fn open_alert_places(
        &self,
    ) -> Result<Vec<(Vec<String>, String, Option<String>)>, AccountError> {
        let rows =
            sqlx::query("SELECT clauses, kind, outlet FROM alerts WHERE state <> 'resolved'")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let clauses: String = r.try_get("clauses")?;
                Ok((
                    serde_json::from_str(&clauses).unwrap_or_default(),
                    r.try_get("kind")?,
                    r.try_get("outlet")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Events processed per case: (case, events, closed). What the tests read to
    /// check that every event was counted exactly once.
    pub async fn live_case_counts(&self) -> Result<Vec<(String, i64, bool)>, AccountError> {
        let rows =
            sqlx::query("SELECT case_id, events, closed_at FROM live_cases ORDER BY case_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("events")?,
                    r.try_get::<Option<i64>, _>("closed_at")?.is_some(),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Events stored but not yet processed.
    pub async fn live_backlog(&self) -> Result<i64, AccountError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM events WHERE done = 0")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}

async fn add_action(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    action: &str,
    actor: &str,
    note: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_actions (alert_id, action, actor, note, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(action)
    .bind(actor)
    .bind(note)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn queue_webhook(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    body: &serde_json::Value,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO webhook_outbox (body, attempts, next_at) VALUES ($1, 0, $2)")
        .bind(body.to_string())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn alert_commits_split_into_parts() {
        let alert = |i: usize| super::NewAlert {
            kind: "violation".into(),
            source: "record".into(),
            subject: format!("workers:W{i}"),
            okey: "c".into(),
            rule_id: "c".into(),
            title: String::new(),
            clauses: vec![],
            severity: "major".into(),
            detail: String::new(),
            outlet: None,
            town: None,
            at_us: None,
            due_us: None,
        };
        let c = super::LiveCommit {
            raise: (0..7).map(alert).collect(),
            resolve: (0..4)
                .map(|i| super::AutoResolve {
                    kind: "warning".into(),
                    source: "record".into(),
                    subject: format!("workers:X{i}"),
                    okey: "c".into(),
                    resolution: "ok".into(),
                })
                .collect(),
            webhook: true,
            ..Default::default()
        };
        let parts = c.into_parts(3);
        let sizes: Vec<(usize, usize)> = parts
            .iter()
            .map(|p| (p.raise.len(), p.resolve.len()))
            .collect();
        assert_eq!(sizes, vec![(3, 0), (3, 0), (1, 2), (0, 2)]);
        assert!(parts.iter().all(|p| p.webhook));
    }

    #[test]
    fn today_starts_at_midnight_in_hangzhou() {
        // 2024-05-01T01:30:00+08:00 = 2024-04-30T17:30:00Z.
        let t = 1_714_498_200;
        assert_eq!(super::today_start(t), 1_714_492_800);
        assert_eq!(super::today_start(1_714_492_800), 1_714_492_800);
    }
}
