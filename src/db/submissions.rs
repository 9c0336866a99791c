//! Submissions in the database: every change is one conditional `UPDATE` inside a
//! transaction with its event row, so two reviewers approving at the same moment
//! move the submission once, and an edit made on a stale page is refused instead of
//! overwriting someone else's text.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::accounts::{AccountError, User};
use super::{Db, now};
use crate::submission::State;

#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub id: i64,
    pub title: String,
    pub code: String,
    /// `new` or `revision`
    pub kind: String,
    pub base_code: String,
    pub department: String,
    pub category: String,
    pub author_id: i64,
    pub state: State,
    pub text: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_rev: String,
    pub publish_error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: i64,
    pub username: String,
    pub from_state: String,
    pub to_state: String,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: i64,
    pub clause: String,
    pub parent_id: Option<i64>,
    pub username: String,
    pub at: i64,
    pub body: String,
}

/// What a new submission starts with.
pub struct NewSubmission<'a> {
    pub title: &'a str,
    pub code: &'a str,
    pub kind: &'a str,
    pub base_code: &'a str,
    pub department: &'a str,
    pub category: &'a str,
    pub text: &'a str,
}

/// Why a change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Conflict {
    #[error("该提交已被他人修改（当前版本 {current}，页面版本 {seen}），请刷新后再编辑")]
    Stale { seen: i64, current: i64 },
    #[error("该提交已不在“{0}”状态（可能已被他人处理），请刷新页面")]
    Moved(&'static str),
    #[error("没有这个提交")]
    Missing,
    #[error("要回复的意见不存在或不属于该提交")]
    NoParent,
    #[error(transparent)]
    Db(#[from] AccountError),
}

impl From<sqlx::Error> for Conflict {
    fn from(e: sqlx::Error) -> Self {
        Conflict::Db(e.into())
    }
}

/// The badge counts of recent page views. Every page of a signed-in author shows
/// them, and computing them is four counting subqueries, which halved the clause
/// page's throughput. Entries are valid while no submission, comment or read mark
/// was written through this `Db` since (a generation counter bumped by every such
/// write) and for at most [`AttentionCache::TTL`], which bounds staleness from
/// writes by other processes sharing a PostgreSQL database.
#[derive(Debug, Default)]
pub struct AttentionCache {
    generation: std::sync::atomic::AtomicU64,
    entries: std::sync::Mutex<HashMap<(i64, bool), CachedAttention>>,
}

/// (generation, when computed, counts).
type CachedAttention = (u64, std::time::Instant, Attention);

impl AttentionCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    fn get(&self, key: (i64, bool)) -> Option<Attention> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let entries = self.entries.lock().ok()?;
        entries
            .get(&key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < Self::TTL)
            .map(|(_, _, a)| *a)
    }

    fn put(&self, key: (i64, bool), generation: u64, a: Attention) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(key, (generation, std::time::Instant::now(), a));
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Called after every write that can change someone's counts.
    fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The badge counts (see [`Db::attention`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attention {
    /// Submissions waiting for a reviewer (0 for non-reviewers).
    pub queue: i64,
    /// The user's own submissions sent back for changes.
    pub changes: i64,
    /// Notifications newer than the user last opened the list.
    pub unread: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Transition,
    Comment,
}

/// One notification: something someone else did that concerns the user.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub submission_id: i64,
    pub code: String,
    pub title: String,
    pub at: i64,
    pub who: String,
    pub kind: NoticeKind,
    /// For a transition: the state it moved to.
    pub to_state: String,
    /// For a comment: the clause it is on ("" = the whole text).
    pub clause: String,
    /// The transition's comment or the comment's text.
    pub body: String,
    pub comment_id: Option<i64>,
    pub unread: bool,
}

fn is_reviewer(u: &User) -> bool {
    matches!(
        u.role,
        super::accounts::Role::Reviewer | super::accounts::Role::Admin
    )
}

/// Transitions others made on the user's (`$1`) submissions, and for reviewers,
/// submissions others sent for review.
fn notice_events_sql(reviewer: bool) -> String {
    let review = if reviewer {
        " OR (s.author_id <> $1 AND e.to_state IN ('submitted', 'resubmitted'))"
    } else {
        ""
    };
    format!(
        "SELECT e.id, e.submission_id, s.code, s.title, e.at, e.username, e.to_state, e.comment \
         FROM submission_events e JOIN submissions s ON s.id = e.submission_id \
         WHERE COALESCE(e.user_id, 0) <> $1 AND (s.author_id = $1{review})"
    )
}

/// Comments by others on the user's (`$1`) submissions, and replies to the user's
/// comments anywhere.
const NOTICE_COMMENTS_SQL: &str = "SELECT c.id, c.submission_id, s.code, s.title, c.at, c.username, c.clause, c.body \
     FROM submission_comments c JOIN submissions s ON s.id = c.submission_id \
     WHERE c.user_id <> $1 AND (s.author_id = $1 OR c.parent_id IN (SELECT id FROM submission_comments WHERE user_id = $1))";

const COLUMNS: &str = "id, title, code, kind, base_code, department, category, author_id, state, text, version, created_at, updated_at, published_rev, publish_error";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Submission, sqlx::Error> {
    let state: String = r.try_get("state")?;
    Ok(Submission {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        code: r.try_get("code")?,
        kind: r.try_get("kind")?,
        base_code: r.try_get("base_code")?,
        department: r.try_get("department")?,
        category: r.try_get("category")?,
        author_id: r.try_get("author_id")?,
        state: State::parse(&state).unwrap_or(State::Draft),
        text: r.try_get("text")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        published_rev: r.try_get("published_rev")?,
        publish_error: r.try_get("publish_error")?,
    })
}

impl Db {
    pub async fn create_submission(
        &self,
        s: &NewSubmission<'_>,
        author: &User,
    ) -> Result<Submission, Conflict> {
        let t = now();
        let row = sqlx::query(
            "INSERT INTO submissions (title, code, kind, base_code, department, category, author_id, state, text, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, 1, $9, $9) RETURNING id",
        )
        .bind(s.title.trim())
        .bind(s.code.trim())
        .bind(s.kind)
        .bind(s.base_code.trim())
        .bind(s.department.trim())
        .bind(s.category.trim())
        .bind(author.id)
        .bind(s.text)
        .bind(t)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        self.attention.bump();
        self.submission(id).await?.ok_or(Conflict::Missing)
    }

    pub async fn submission(&self, id: i64) -> Result<Option<Submission>, Conflict> {
        let sql = format!("SELECT {COLUMNS} FROM submissions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Submissions in the given states (all when empty), newest first; only
    /// `author`'s when given.
    pub async fn submissions(
        &self,
        states: &[State],
        author: Option<i64>,
    ) -> Result<Vec<Submission>, Conflict> {
        let sql = format!("SELECT {COLUMNS} FROM submissions ORDER BY updated_at DESC, id DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let all: Vec<Submission> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|s| states.is_empty() || states.contains(&s.state))
            .filter(|s| author.is_none_or(|a| s.author_id == a))
            .collect())
    }

    /// What needs the user's attention, in one round trip (it runs on every page):
    /// the review queue (reviewers), own submissions needing changes, and unread
    /// notifications.
    pub async fn attention(&self, user: &User) -> Result<Attention, Conflict> {
        let reviewer = is_reviewer(user);
        let key = (user.id, reviewer);
        if let Some(a) = self.attention.get(key) {
            return Ok(a);
        }
        // Read the generation before querying: a write that lands meanwhile makes
        // this entry stale rather than hiding behind it.
        let generation = self.attention.generation();
        // Only constant SQL is spliced in (the two notice queries), never input.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \
               (SELECT COUNT(*) FROM submissions WHERE state IN ('submitted', 'resubmitted') AND author_id <> $1) AS queue, \
               (SELECT COUNT(*) FROM submissions WHERE state = 'changes_requested' AND author_id = $1) AS changes, \
               (SELECT COUNT(*) FROM ({events}) ev WHERE ev.at > (SELECT notices_seen_at FROM users WHERE id = $1)) AS unread_events, \
               (SELECT COUNT(*) FROM ({comments}) co WHERE co.at > (SELECT notices_seen_at FROM users WHERE id = $1)) AS unread_comments",
            events = notice_events_sql(reviewer),
            comments = NOTICE_COMMENTS_SQL,
        )))
        .bind(user.id)
        .fetch_one(&self.pool)
        .await?;
        let queue: i64 = row.try_get("queue")?;
        let a = Attention {
            queue: if reviewer { queue } else { 0 },
            changes: row.try_get("changes")?,
            unread: row.try_get::<i64, _>("unread_events")?
                + row.try_get::<i64, _>("unread_comments")?,
        };
        self.attention.put(key, generation, a);
        Ok(a)
    }

    /// The user's notifications, newest first: what others did to their
    /// submissions (transitions, comments), replies to their comments, and for
    /// reviewers what was submitted for review. `unread` marks those newer than the
    /// last time the list was opened.
    pub async fn notices(&self, user: &User, limit: i64) -> Result<Vec<Notice>, Conflict> {
        let seen: i64 = sqlx::query("SELECT notices_seen_at FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("notices_seen_at"))
            .transpose()?
            .unwrap_or(0);
        let mut out = Vec::new();
        let events = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM ({}) ev ORDER BY at DESC, id DESC LIMIT $2",
            notice_events_sql(is_reviewer(user))
        )))
        .bind(user.id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for r in &events {
            let to: String = r.try_get("to_state")?;
            out.push(Notice {
                submission_id: r.try_get("submission_id")?,
                code: r.try_get("code")?,
                title: r.try_get("title")?,
                at: r.try_get("at")?,
                who: r.try_get("username")?,
                kind: NoticeKind::Transition,
                to_state: to,
                clause: String::new(),
                body: r.try_get("comment")?,
                comment_id: None,
                unread: false,
            });
        }
        let comments = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM ({NOTICE_COMMENTS_SQL}) co ORDER BY at DESC, id DESC LIMIT $2"
        )))
        .bind(user.id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for r in &comments {
            out.push(Notice {
                submission_id: r.try_get("submission_id")?,
                code: r.try_get("code")?,
                title: r.try_get("title")?,
                at: r.try_get("at")?,
                who: r.try_get("username")?,
                kind: NoticeKind::Comment,
                to_state: String::new(),
                clause: r.try_get("clause")?,
                body: r.try_get("body")?,
                comment_id: Some(r.try_get("id")?),
                unread: false,
            });
        }
        out.sort_by_key(|n| std::cmp::Reverse(n.at));
        out.truncate(limit.max(0) as usize);
        for n in &mut out {
            n.unread = n.at > seen;
        }
        Ok(out)
    }

    /// Marks every notification up to now as read.
    pub async fn mark_notices_seen(&self, user: &User) -> Result<(), Conflict> {
        sqlx::query("UPDATE users SET notices_seen_at = $1 WHERE id = $2")
            .bind(now())
            .bind(user.id)
            .execute(&self.pool)
            .await?;
        self.attention.bump();
        Ok(())
    }

    /// Saves new text if nobody changed the submission since `seen_version` and it
    /// is still editable. Returns the new version.
    pub async fn edit_submission(
        &self,
        id: i64,
        seen_version: i64,
        text: &str,
        by: &User,
    ) -> Result<i64, Conflict> {
        let done = sqlx::query(
            "UPDATE submissions SET text = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4 AND state IN ('draft', 'changes_requested')",
        )
        .bind(text)
        .bind(now())
        .bind(id)
        .bind(seen_version)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 1 {
            self.log(
                &super::accounts::Actor::user(by),
                "submission.edit",
                &id.to_string(),
                "",
            )
            .await?;
            return Ok(seen_version + 1);
        }
        match self.submission(id).await? {
            None => Err(Conflict::Missing),
            Some(s) if s.version != seen_version => Err(Conflict::Stale {
                seen: seen_version,
                current: s.version,
            }),
            Some(s) => Err(Conflict::Moved(s.state.label())),
        }
    }

    /// Moves the submission from `from` to `to` — only if it is still in `from` —
    /// and records the event, in one transaction. Exactly one of several concurrent
    /// callers succeeds.
    pub async fn transition(
        &self,
        id: i64,
        from: State,
        to: State,
        by: &User,
        comment: &str,
    ) -> Result<(), Conflict> {
        let mut tx = self.pool.begin().await?;
        let t = now();
        let done = sqlx::query(
            "UPDATE submissions SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(t)
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            tx.rollback().await?;
            return Err(match self.submission(id).await? {
                None => Conflict::Missing,
                Some(_) => Conflict::Moved(from.label()),
            });
        }
        sqlx::query(
            "INSERT INTO submission_events (submission_id, at, user_id, username, from_state, to_state, comment) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(t)
        .bind(by.id)
        .bind(&by.username)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(comment.trim())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.attention.bump();
        self.log(
            &super::accounts::Actor::user(by),
            "submission.state",
            &id.to_string(),
            &format!("{} → {}", from.as_str(), to.as_str()),
        )
        .await?;
        Ok(())
    }

    /// Records that an approved submission is in the library at `rev`: approved →
    /// published with its event, in one transaction. `Ok(false)` when it was already
    /// published (a concurrent publish or a retry got there first): the caller's
    /// publication landed too, since publishing is idempotent per submission.
    pub async fn mark_published(&self, id: i64, rev: &str, by: &User) -> Result<bool, Conflict> {
        let mut tx = self.pool.begin().await?;
        let t = now();
        let done = sqlx::query(
            "UPDATE submissions SET state = 'published', published_rev = $1, publish_error = '', \
             version = version + 1, updated_at = $2 WHERE id = $3 AND state = 'approved'",
        )
        .bind(rev)
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            tx.rollback().await?;
            return match self.submission(id).await? {
                None => Err(Conflict::Missing),
                Some(s) if s.state == State::Published => Ok(false),
                Some(_) => Err(Conflict::Moved(State::Approved.label())),
            };
        }
        sqlx::query(
            "INSERT INTO submission_events (submission_id, at, user_id, username, from_state, to_state, comment) \
             VALUES ($1, $2, $3, $4, 'approved', 'published', '')",
        )
        .bind(id)
        .bind(t)
        .bind(by.id)
        .bind(&by.username)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.attention.bump();
        self.log(
            &super::accounts::Actor::user(by),
            "submission.state",
            &id.to_string(),
            &format!("approved → published ({rev})"),
        )
        .await?;
        Ok(true)
    }

    /// Records why publishing an approved submission failed, for its page (with a
    /// retry button). Nothing is written once it is published: a failed attempt
    /// never hides a concurrent one that succeeded.
    pub async fn set_publish_error(&self, id: i64, error: &str) -> Result<(), Conflict> {
        sqlx::query(
            "UPDATE submissions SET publish_error = $1, updated_at = $2 WHERE id = $3 AND state = 'approved'",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Who approved a submission (the last approval event's user), if known.
    pub async fn approver(&self, id: i64) -> Result<Option<User>, Conflict> {
        let row = sqlx::query(
            "SELECT user_id FROM submission_events WHERE submission_id = $1 AND to_state = 'approved' \
             AND user_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user_id: i64 = row.try_get("user_id")?;
        Ok(self.user(user_id).await?)
    }

    pub async fn submission_events(&self, id: i64) -> Result<Vec<Event>, Conflict> {
        let rows = sqlx::query(
            "SELECT at, username, from_state, to_state, comment FROM submission_events WHERE submission_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(Event {
                    at: r.try_get("at")?,
                    username: r.try_get("username")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    comment: r.try_get("comment")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Adds a comment on a clause (`clause` = its number, empty for the whole
    /// document), optionally as a reply.
    pub async fn add_comment(
        &self,
        id: i64,
        clause: &str,
        parent: Option<i64>,
        body: &str,
        by: &User,
    ) -> Result<i64, Conflict> {
        // A reply belongs to its parent's thread: same submission, same clause.
        let mut clause = clause.trim().to_string();
        if let Some(p) = parent {
            let row = sqlx::query(
                "SELECT clause FROM submission_comments WHERE id = $1 AND submission_id = $2",
            )
            .bind(p)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Conflict::NoParent)?;
            clause = row.try_get("clause")?;
        }
        let row = sqlx::query(
            "INSERT INTO submission_comments (submission_id, clause, parent_id, user_id, username, at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(id)
        .bind(&clause)
        .bind(parent)
        .bind(by.id)
        .bind(&by.username)
        .bind(now())
        .bind(body.trim())
        .fetch_one(&self.pool)
        .await?;
        self.attention.bump();
        Ok(row.try_get("id")?)
    }

    pub async fn comments(&self, id: i64) -> Result<Vec<Comment>, Conflict> {
        let rows = sqlx::query(
            "SELECT id, clause, parent_id, username, at, body FROM submission_comments WHERE submission_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(Comment {
                    id: r.try_get("id")?,
                    clause: r.try_get("clause")?,
                    parent_id: r.try_get("parent_id")?,
                    username: r.try_get("username")?,
                    at: r.try_get("at")?,
                    body: r.try_get("body")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
