//! Pilot projects and their acceptance reviews: the experts invited, each expert's
//! scores and comments, submission, and the group leader's 验收意见.
//!
//! Invariants:
//! - **Independence.** No expert reads another's scores before every expert of the
//!   review has submitted. [`Db::review_view`] is the only way out of the database
//!   for scores, and it returns the other sheets only once all are submitted; every
//!   page, API route and report goes through it.
//! - A submitted sheet is final: saving scores and submitting are conditional on
//!   `submitted_at IS NULL` in the same transaction.
//! - The 验收意见 is written by the group leader, and only after all have submitted.
//! - Scores are stored in half points, so 0.5 steps are exact on both databases.

use serde::Serialize;
use sqlx::Row;

use super::{Db, now};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("没有这个验收项目或评审")]
    Missing,
    #[error("您不是本次验收评审的专家")]
    NotMember,
    #[error("评分已提交，不能再修改")]
    Submitted,
    #[error("{0}")]
    Invalid(String),
    /// These sections (ids) changed since the page that sent the save was shown.
    #[error("有栏目在您打开页面之后已被他人修改，本次保存没有生效")]
    Stale(Vec<String>),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// One text section's change as a form sends it: the fingerprint of the text the
/// page showed (see [`fingerprint`]; `None` from a client that does not send it:
/// then the text is written as given) and the new text.
#[derive(Debug, Clone)]
pub struct TextEdit {
    pub section: String,
    pub seen: Option<String>,
    pub body: String,
}

/// What a page sends back for a text it showed, so a save can tell an untouched
/// field (same fingerprint) from an edit, and an edit from a stale page.
pub fn fingerprint(text: &str) -> String {
    super::accounts::token_hash(text)[..16].to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub field: String,
    pub started: String,
    pub planned_end: String,
    pub accepted: String,
    pub undertaker: String,
    pub supervisor: String,
    pub team: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub kind: String,
    pub field: String,
    pub started: String,
    pub planned_end: String,
    pub accepted: String,
    pub undertaker: String,
    pub supervisor: String,
    pub team: String,
}

/// An indicator of a project (see `acceptance::indicators`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Indicator {
    pub id: i64,
    pub name: String,
    pub unit: String,
    /// `up`: higher is better; `down`: lower is better.
    pub direction: String,
    pub baseline: String,
    pub target: String,
    pub actual: String,
    /// `manual` or `live:<metric>`.
    pub source: String,
    /// The evidence file behind an entered actual value.
    pub evidence_sha: String,
    pub note: String,
}

/// An evidence file of a project.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceFile {
    pub category: String,
    pub file_name: String,
    pub sha256: String,
    pub mime: String,
    pub size: i64,
    pub note: String,
    pub uploaded_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    /// The scoring table (YAML) as it was when the review was created.
    pub scoring_table: String,
    pub review_date: String,
    pub opinion: String,
    pub opinion_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub leader: bool,
    pub submitted_at: Option<i64>,
}

/// One item of one sheet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Score {
    pub item_id: String,
    pub score: Option<f64>,
    pub comment: String,
}

/// What one person may see of a review.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    pub review: Review,
    /// Who is on the panel and who has submitted (never their scores).
    pub members: Vec<Member>,
    /// The viewer's own sheet (empty for a non-member such as the admin).
    pub own: Vec<Score>,
    /// Every member's sheet, in member order — only once all have submitted.
    pub sheets: Option<Vec<(Member, Vec<Score>)>>,
}

impl ReviewView {
    pub fn all_submitted(&self) -> bool {
        !self.members.is_empty() && self.members.iter().all(|m| m.submitted_at.is_some())
    }
}

fn project_row(r: &sqlx::any::AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        field: r.try_get("field")?,
        started: r.try_get("started")?,
        planned_end: r.try_get("planned_end")?,
        accepted: r.try_get("accepted")?,
        undertaker: r.try_get("undertaker")?,
        supervisor: r.try_get("supervisor")?,
        team: r.try_get("team")?,
        created_at: r.try_get("created_at")?,
    })
}

fn review_row(r: &sqlx::any::AnyRow) -> Result<Review, sqlx::Error> {
    Ok(Review {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        title: r.try_get("title")?,
        scoring_table: r.try_get("scoring_table")?,
        review_date: r.try_get("review_date")?,
        opinion: r.try_get("opinion")?,
        opinion_at: r.try_get("opinion_at")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Db {
    pub async fn project_create(
        &self,
        p: &NewProject,
        by: Option<i64>,
    ) -> Result<i64, ReviewError> {
        if p.name.trim().is_empty() {
            return Err(ReviewError::Invalid("请填写项目名称".into()));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO pilot_projects (name, kind, field, started, planned_end, accepted, undertaker, supervisor, team, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(p.name.trim())
        .bind(&p.kind)
        .bind(&p.field)
        .bind(&p.started)
        .bind(&p.planned_end)
        .bind(&p.accepted)
        .bind(&p.undertaker)
        .bind(&p.supervisor)
        .bind(&p.team)
        .bind(by)
        .bind(now())
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        Ok(id)
    }

    pub async fn projects(&self) -> Result<Vec<Project>, ReviewError> {
        let rows = sqlx::query(
            "SELECT id, name, kind, field, started, planned_end, accepted, undertaker, supervisor, team, created_at \
             FROM pilot_projects ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(project_row).collect::<Result<_, _>>()?)
    }

    pub async fn project(&self, id: i64) -> Result<Option<Project>, ReviewError> {
        let r = sqlx::query(
            "SELECT id, name, kind, field, started, planned_end, accepted, undertaker, supervisor, team, created_at \
             FROM pilot_projects WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(project_row).transpose()?)
    }

    /// A review of `project` by `experts` (user id, leader?): exactly one leader.
    pub async fn review_create(
        &self,
        project: i64,
        title: &str,
        scoring_table: &str,
        review_date: &str,
        experts: &[(i64, bool)],
        by: Option<i64>,
    ) -> Result<i64, ReviewError> {
        if experts.is_empty() {
            return Err(ReviewError::Invalid("请至少邀请一位专家".into()));
        }
        if experts.iter().filter(|(_, l)| *l).count() != 1 {
            return Err(ReviewError::Invalid(
                "请指定一位专家组组长（且只能一位）".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO acceptance_reviews (project_id, title, scoring_table, review_date, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(project)
        .bind(title)
        .bind(scoring_table)
        .bind(review_date)
        .bind(by)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (user, leader) in experts {
            let role: Option<String> = sqlx::query("SELECT role FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("role"))
                .transpose()?;
            if role.as_deref() != Some("expert") {
                return Err(ReviewError::Invalid(format!(
                    "用户 {user} 不是验收专家（角色须为 expert）"
                )));
            }
            sqlx::query(
                "INSERT INTO review_experts (review_id, user_id, leader) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(user)
            .bind(i64::from(*leader))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn review(&self, id: i64) -> Result<Option<Review>, ReviewError> {
        let r = sqlx::query(
            "SELECT id, project_id, title, scoring_table, review_date, opinion, opinion_at, created_at \
             FROM acceptance_reviews WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.as_ref().map(review_row).transpose()?)
    }

    /// Every review (admins), or those `user` sits on.
    pub async fn reviews_for(
        &self,
        user: Option<i64>,
    ) -> Result<Vec<(Review, Vec<Member>)>, ReviewError> {
        let rows = match user {
            None => {
                sqlx::query(
                    "SELECT id, project_id, title, scoring_table, review_date, opinion, opinion_at, created_at \
                     FROM acceptance_reviews ORDER BY id DESC",
                )
                .fetch_all(&self.pool)
                .await?
            }
            Some(u) => {
                sqlx::query(
                    "SELECT r.id, r.project_id, r.title, r.scoring_table, r.review_date, r.opinion, r.opinion_at, r.created_at \
                     FROM acceptance_reviews r JOIN review_experts e ON e.review_id = r.id \
                     WHERE e.user_id = $1 ORDER BY r.id DESC",
                )
                .bind(u)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut out = Vec::new();
        for r in &rows {
            let review = review_row(r)?;
            let members = self.review_members(review.id).await?;
            out.push((review, members));
        }
        Ok(out)
    }

    pub async fn review_members(&self, review: i64) -> Result<Vec<Member>, ReviewError> {
        let rows = sqlx::query(
            "SELECT e.user_id, u.username, u.display_name, e.leader, e.submitted_at \
             FROM review_experts e JOIN users u ON u.id = e.user_id \
             WHERE e.review_id = $1 ORDER BY e.leader DESC, e.user_id",
        )
        .bind(review)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(Member {
                user_id: r.try_get("user_id")?,
                username: r.try_get("username")?,
                name: r.try_get("display_name")?,
                leader: r.try_get::<i64, _>("leader")? != 0,
                submitted_at: r.try_get("submitted_at")?,
            });
        }
        Ok(out)
    }

    async fn sheet(&self, review: i64, user: i64) -> Result<Vec<Score>, ReviewError> {
        let rows = sqlx::query(
            "SELECT item_id, half_points, comment FROM review_scores \
             WHERE review_id = $1 AND user_id = $2 ORDER BY item_id",
        )
        .bind(review)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let half: Option<i64> = r.try_get("half_points")?;
            out.push(Score {
                item_id: r.try_get("item_id")?,
                score: half.map(|h| h as f64 / 2.0),
                comment: r.try_get("comment")?,
            });
        }
        Ok(out)
    }

    /// What `viewer` may see of a review (see the module invariants). `viewer` is
    /// `None` for someone who is not on the panel but may follow it (an admin).
    pub async fn review_view(
        &self,
        review: i64,
        viewer: Option<i64>,
    ) -> Result<ReviewView, ReviewError> {
        let r = self.review(review).await?.ok_or(ReviewError::Missing)?;
        let members = self.review_members(review).await?;
        let own = match viewer {
            Some(v) if members.iter().any(|m| m.user_id == v) => self.sheet(review, v).await?,
            _ => Vec::new(),
        };
        let all = !members.is_empty() && members.iter().all(|m| m.submitted_at.is_some());
        let sheets = if all {
            let mut s = Vec::new();
            for m in &members {
                s.push((m.clone(), self.sheet(review, m.user_id).await?));
            }
            Some(s)
        } else {
            None
        };
        Ok(ReviewView {
            review: r,
            members,
            own,
            sheets,
        })
    }

    /// Saves a member's scores (a draft), and with `submit` locks the sheet.
    /// Refused once the sheet is submitted.
    pub async fn review_save(
        &self,
        review: i64,
        user: i64,
        scores: &[Score],
        submit: bool,
    ) -> Result<(), ReviewError> {
        let mut tx = self.pool.begin().await?;
        let open = sqlx::query(
            "UPDATE review_experts SET submitted_at = submitted_at \
             WHERE review_id = $1 AND user_id = $2 AND submitted_at IS NULL",
        )
        .bind(review)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if open != 1 {
            let member = sqlx::query(
                "SELECT 1 AS x FROM review_experts WHERE review_id = $1 AND user_id = $2",
            )
            .bind(review)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
            return Err(if member.is_some() {
                ReviewError::Submitted
            } else {
                ReviewError::NotMember
            });
        }
        let t = now();
        for s in scores {
            sqlx::query(
                "DELETE FROM review_scores WHERE review_id = $1 AND user_id = $2 AND item_id = $3",
            )
            .bind(review)
            .bind(user)
            .bind(&s.item_id)
            .execute(&mut *tx)
            .await?;
            if s.score.is_none() && s.comment.is_empty() {
                continue;
            }
            sqlx::query(
                "INSERT INTO review_scores (review_id, user_id, item_id, half_points, comment, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(review)
            .bind(user)
            .bind(&s.item_id)
            .bind(s.score.map(|x| (x * 2.0).round() as i64))
            .bind(&s.comment)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        if submit {
            sqlx::query(
                "UPDATE review_experts SET submitted_at = $1 WHERE review_id = $2 AND user_id = $3",
            )
            .bind(t)
            .bind(review)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An award form's texts for a project: section id → text.
    pub async fn award_texts(
        &self,
        project: i64,
        form: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, ReviewError> {
        let rows = sqlx::query(
            "SELECT section_id, body FROM award_texts WHERE project_id = $1 AND form_id = $2",
        )
        .bind(project)
        .bind(form)
        .fetch_all(&self.pool)
        .await?;
        let mut out = std::collections::BTreeMap::new();
        for r in &rows {
            out.insert(r.try_get("section_id")?, r.try_get("body")?);
        }
        Ok(out)
    }

    /// Saves an award form's texts (all sections given, in one transaction).
    pub async fn award_save(
        &self,
        project: i64,
        form: &str,
        texts: &[(String, String)],
        by: Option<i64>,
    ) -> Result<(), ReviewError> {
        let mut tx = self.pool.begin().await?;
        let t = now();
        for (section, body) in texts {
            sqlx::query(
                "DELETE FROM award_texts WHERE project_id = $1 AND form_id = $2 AND section_id = $3",
            )
            .bind(project)
            .bind(form)
            .bind(section)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO award_texts (project_id, form_id, section_id, body, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(project)
            .bind(form)
            .bind(section)
            .bind(body)
            .bind(by)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Saves the sections a form changed, only if each still holds the text its
    /// page showed; otherwise nothing is saved and the stale sections are named.
    /// Sections the form did not change are not in `edits` and are never written.
    pub async fn award_update(
        &self,
        project: i64,
        form: &str,
        edits: &[TextEdit],
        by: Option<i64>,
    ) -> Result<(), ReviewError> {
        if edits.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // Serialise the project's text saves (row lock / SQLite's write lock) so the
        // comparison below holds until commit.
        let n = sqlx::query("UPDATE pilot_projects SET id = id WHERE id = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(ReviewError::Missing);
        }
        let mut stale = Vec::new();
        for e in edits {
            let current: String = sqlx::query(
                "SELECT body FROM award_texts WHERE project_id = $1 AND form_id = $2 AND section_id = $3",
            )
            .bind(project)
            .bind(form)
            .bind(&e.section)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()?
            .unwrap_or_default();
            if e.seen
                .as_ref()
                .is_some_and(|seen| *seen != fingerprint(&current))
            {
                stale.push(e.section.clone());
            }
        }
        if !stale.is_empty() {
            return Err(ReviewError::Stale(stale));
        }
        let t = now();
        for e in edits {
            sqlx::query(
                "INSERT INTO award_texts (project_id, form_id, section_id, body, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project_id, form_id, section_id) \
                 DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            )
            .bind(project)
            .bind(form)
            .bind(&e.section)
            .bind(&e.body)
            .bind(by)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn indicator_add(&self, project: i64, i: &Indicator) -> Result<i64, ReviewError> {
        if i.name.trim().is_empty() {
            return Err(ReviewError::Invalid("请填写指标名称".into()));
        }
        if !matches!(i.direction.as_str(), "up" | "down") {
            return Err(ReviewError::Invalid(
                "请选择指标的方向：越高越好或越低越好".into(),
            ));
        }
        Ok(sqlx::query(
            "INSERT INTO project_indicators (project_id, name, unit, direction, baseline, target, actual, source, evidence_sha, note, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(project)
        .bind(i.name.trim())
        .bind(&i.unit)
        .bind(&i.direction)
        .bind(&i.baseline)
        .bind(&i.target)
        .bind(&i.actual)
        .bind(&i.source)
        .bind(&i.evidence_sha)
        .bind(&i.note)
        .bind(now())
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?)
    }

    pub async fn indicators(&self, project: i64) -> Result<Vec<Indicator>, ReviewError> {
        let rows = sqlx::query(
            "SELECT id, name, unit, direction, baseline, target, actual, source, evidence_sha, note \
             FROM project_indicators WHERE project_id = $1 ORDER BY id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(Indicator {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                unit: r.try_get("unit")?,
                direction: r.try_get("direction")?,
                baseline: r.try_get("baseline")?,
                target: r.try_get("target")?,
                actual: r.try_get("actual")?,
                source: r.try_get("source")?,
                evidence_sha: r.try_get("evidence_sha")?,
                note: r.try_get("note")?,
            });
        }
        Ok(out)
    }

    /// Records an evidence file of a category (already in the evidence store).
    pub async fn evidence_add(
        &self,
        project: i64,
        category: &str,
        file_name: &str,
        stored: &crate::audit::evidence::Stored,
        note: &str,
        by: Option<i64>,
    ) -> Result<(), ReviewError> {
        let dup = sqlx::query(
            "SELECT 1 AS x FROM project_evidence WHERE project_id = $1 AND category = $2 AND sha256 = $3",
        )
        .bind(project)
        .bind(category)
        .bind(&stored.sha256)
        .fetch_optional(&self.pool)
        .await?;
        if dup.is_some() {
            return Err(ReviewError::Invalid(format!(
                "该文件（SHA-256 {}）已在此类别中",
                &stored.sha256[..12]
            )));
        }
        sqlx::query(
            "INSERT INTO project_evidence (project_id, category, file_name, sha256, mime, size, note, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(project)
        .bind(category)
        .bind(file_name)
        .bind(&stored.sha256)
        .bind(stored.mime)
        .bind(stored.size as i64)
        .bind(note)
        .bind(by)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn evidence_of(&self, project: i64) -> Result<Vec<EvidenceFile>, ReviewError> {
        let rows = sqlx::query(
            "SELECT category, file_name, sha256, mime, size, note, uploaded_at FROM project_evidence \
             WHERE project_id = $1 ORDER BY id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(EvidenceFile {
                category: r.try_get("category")?,
                file_name: r.try_get("file_name")?,
                sha256: r.try_get("sha256")?,
                mime: r.try_get("mime")?,
                size: r.try_get("size")?,
                note: r.try_get("note")?,
                uploaded_at: r.try_get("uploaded_at")?,
            });
        }
        Ok(out)
    }

    /// Categories marked complete.
    pub async fn evidence_done(&self, project: i64) -> Result<Vec<String>, ReviewError> {
        let rows = sqlx::query("SELECT category FROM project_evidence_done WHERE project_id = $1")
            .bind(project)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("category").map_err(ReviewError::from))
            .collect()
    }

    pub async fn evidence_mark(
        &self,
        project: i64,
        category: &str,
        done: bool,
        by: Option<i64>,
    ) -> Result<(), ReviewError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM project_evidence_done WHERE project_id = $1 AND category = $2")
            .bind(project)
            .bind(category)
            .execute(&mut *tx)
            .await?;
        if done {
            sqlx::query("INSERT INTO project_evidence_done (project_id, category, done_by, done_at) VALUES ($1, $2, $3, $4)")
                .bind(project)
                .bind(category)
                .bind(by)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The group leader's 验收意见, once every expert has submitted.
    pub async fn review_opinion(
        &self,
        review: i64,
        user: i64,
        text: &str,
    ) -> Result<(), ReviewError> {
        let members = self.review_members(review).await?;
        let Some(me) = members.iter().find(|m| m.user_id == user) else {
            return Err(ReviewError::NotMember);
        };
        if !me.leader {
            return Err(ReviewError::Invalid("验收意见由专家组组长填写".into()));
        }
        if members.iter().any(|m| m.submitted_at.is_none()) {
            return Err(ReviewError::Invalid(
                "全部专家提交评分后，组长才能填写验收意见".into(),
            ));
        }
        if text.trim().is_empty() {
            return Err(ReviewError::Invalid("验收意见不能为空".into()));
        }
        sqlx::query("UPDATE acceptance_reviews SET opinion = $1, opinion_at = $2 WHERE id = $3")
            .bind(text.trim())
            .bind(now())
            .bind(review)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
