//! Surveys in the database: versioned definitions, links to the public form,
//! responses (online, phone, imported), committed imports and return-visit lists.
//!
//! Invariants: a response always belongs to the exact version it answered — a
//! definition with responses is never changed in place, an edit adds a version;
//! responses are never deleted (validity is computed when statistics are); a link
//! token or visit nonce takes one response (`nonce` is UNIQUE, so two submissions
//! racing on one token cannot both land); an import writes all its rows in one
//! transaction or none, and the same file is imported into a version at most once.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Db, now};
use crate::survey::{Answer, Channel, Response, Survey};

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("问卷不存在")]
    Missing,
    #[error("此链接已提交过答卷，感谢参与")]
    AlreadyAnswered,
    #[error("此文件（SHA-256 {0}）已导入过该版本问卷，未重复导入")]
    AlreadyImported(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

/// One stored version of a survey.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyRow {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub title: String,
    pub definition: String,
    pub audit_id: Option<i64>,
    /// Improvement suggestions for the report, one per line.
    pub suggestions: String,
    pub created_at: i64,
}

impl SurveyRow {
    /// The parsed definition, with the stored version number.
    pub fn survey(&self) -> Result<Survey, SurveyError> {
        let mut s = Survey::from_yaml(&self.definition, &format!("survey {}", self.key))
            .map_err(|e| SurveyError::Invalid(e.join("; ")))?;
        s.version = self.version as u32;
        Ok(s)
    }
}

/// A version with its response count, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct SurveySummary {
    pub row: SurveyRow,
    pub responses: i64,
    pub last_at: Option<i64>,
}

/// A stored response and what is recorded beside the answers.
#[derive(Debug, Clone, Serialize)]
pub struct StoredResponse {
    pub id: i64,
    pub response: Response,
    pub interviewer: String,
    pub order_id: String,
    pub created_at: i64,
}

/// What is stored with a new response besides the answers.
#[derive(Debug, Clone, Default)]
pub struct ResponseMeta {
    pub interviewer: String,
    pub order_id: String,
    /// One response per nonce (a single link's token or an open link's visit).
    pub nonce: Option<String>,
    pub link_token: Option<String>,
    pub entered_by: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub token: String,
    pub survey_key: String,
    pub open: bool,
    pub label: String,
    pub created_at: i64,
    pub revoked: bool,
    /// Responses that came through the link.
    pub responses: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Import {
    pub id: i64,
    pub file_name: String,
    pub sha256: String,
    pub layout: String,
    pub rows: i64,
    pub created_at: i64,
}

/// One line of a return-visit interview list.
#[derive(Debug, Clone, Serialize)]
pub struct SampleRow {
    pub seq: i64,
    pub order_id: String,
    pub outlet: String,
    pub service: String,
    pub customer: String,
    pub phone: String,
    pub interviewer: String,
    pub response_id: Option<i64>,
}

pub fn channel_str(c: Channel) -> &'static str {
    match c {
        Channel::Online => "online",
        Channel::Phone => "phone",
        Channel::Other => "other",
    }
}

fn channel_of(s: &str) -> Channel {
    match s {
        "online" => Channel::Online,
        "phone" => Channel::Phone,
        _ => Channel::Other,
    }
}

/// `SELECT <a survey row's columns> <rest>` as one static string.
macro_rules! select_surveys {
    ($rest:literal) => {
        concat!(
            "SELECT id, key, version, title, definition, audit_id, suggestions, created_at ",
            $rest
        )
    };
}

fn survey_row(r: &sqlx::any::AnyRow) -> Result<SurveyRow, sqlx::Error> {
    Ok(SurveyRow {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        version: r.try_get("version")?,
        title: r.try_get("title")?,
        definition: r.try_get("definition")?,
        audit_id: r.try_get("audit_id")?,
        suggestions: r.try_get("suggestions")?,
        created_at: r.try_get("created_at")?,
    })
}

/// How a save went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Saved {
    Created,
    /// The latest version had no responses and was changed in place.
    Updated,
    /// The latest version had responses: a new version was added.
    NewVersion,
    Unchanged,
}

impl Db {
    /// Stores a definition under its `id`: a new survey, an in-place update of a
    /// version nobody has answered, or a new version (see the module invariants).
    pub async fn survey_save(
        &self,
        survey: &Survey,
        yaml: &str,
        audit_id: Option<i64>,
        by: Option<i64>,
    ) -> Result<(SurveyRow, Saved), SurveyError> {
        let mut tx = self.pool.begin().await?;
        let latest = sqlx::query(select_surveys!(
            "FROM surveys WHERE key = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(&survey.id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| survey_row(&r))
        .transpose()?;
        let saved = match &latest {
            Some(l) if l.definition == yaml => {
                tx.commit().await?;
                return Ok((l.clone(), Saved::Unchanged));
            }
            Some(l) => {
                let answered: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM survey_responses WHERE survey_id = $1")
                        .bind(l.id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                if answered == 0 {
                    sqlx::query("UPDATE surveys SET definition = $1, title = $2 WHERE id = $3")
                        .bind(yaml)
                        .bind(&survey.title)
                        .bind(l.id)
                        .execute(&mut *tx)
                        .await?;
                    Saved::Updated
                } else {
                    Saved::NewVersion
                }
            }
            None => Saved::Created,
        };
        if saved != Saved::Updated {
            let version = latest.as_ref().map(|l| l.version + 1).unwrap_or(1);
            sqlx::query(
                "INSERT INTO surveys (key, version, title, definition, audit_id, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&survey.id)
            .bind(version)
            .bind(&survey.title)
            .bind(yaml)
            .bind(audit_id.or(latest.as_ref().and_then(|l| l.audit_id)))
            .bind(by)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(select_surveys!(
            "FROM surveys WHERE key = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(&survey.id)
        .fetch_one(&mut *tx)
        .await?;
        let row = survey_row(&row)?;
        tx.commit().await?;
        Ok((row, saved))
    }

    pub async fn survey_set_suggestions(&self, id: i64, text: &str) -> Result<(), SurveyError> {
        let n = sqlx::query("UPDATE surveys SET suggestions = $1 WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(SurveyError::Missing);
        }
        Ok(())
    }

    pub async fn survey(&self, id: i64) -> Result<Option<SurveyRow>, SurveyError> {
        let r = sqlx::query(select_surveys!("FROM surveys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.map(|r| survey_row(&r)).transpose()?)
    }

    /// The latest version of the survey `key`.
    pub async fn survey_latest(&self, key: &str) -> Result<Option<SurveyRow>, SurveyError> {
        let r = sqlx::query(select_surveys!(
            "FROM surveys WHERE key = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| survey_row(&r)).transpose()?)
    }

    /// Every version of every survey, newest survey first, versions newest first.
    pub async fn surveys(&self) -> Result<Vec<SurveySummary>, SurveyError> {
        let rows = sqlx::query(
            "SELECT s.id, s.key, s.version, s.title, s.definition, s.audit_id, s.suggestions, s.created_at, \
                    (SELECT COUNT(*) FROM survey_responses r WHERE r.survey_id = s.id) AS n, \
                    (SELECT MAX(r.submitted_at) FROM survey_responses r WHERE r.survey_id = s.id) AS last_at \
             FROM surveys s ORDER BY s.key, s.version DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(SurveySummary {
                row: survey_row(r)?,
                responses: r.try_get("n")?,
                last_at: r.try_get("last_at")?,
            });
        }
        Ok(out)
    }

    /// The return-visit surveys drawn for an audit.
    pub async fn audit_surveys(&self, audit_id: i64) -> Result<Vec<SurveyRow>, SurveyError> {
        let rows = sqlx::query(select_surveys!(
            "FROM surveys WHERE audit_id = $1 ORDER BY key, version"
        ))
        .bind(audit_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(survey_row).collect::<Result<Vec<_>, _>>()?)
    }

    /// A version's responses in the order they were stored.
    pub async fn survey_responses(
        &self,
        survey_id: i64,
    ) -> Result<Vec<StoredResponse>, SurveyError> {
        let rows = sqlx::query(
            "SELECT id, channel, source, submitted_at, duration_s, contact, answers, interviewer, \
                    order_id, created_at \
             FROM survey_responses WHERE survey_id = $1 ORDER BY id",
        )
        .bind(survey_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let answers: String = r.try_get("answers")?;
            let answers: BTreeMap<String, Answer> = serde_json::from_str(&answers)
                .map_err(|e| SurveyError::Invalid(format!("response {id}: {e}")))?;
            let duration: Option<i64> = r.try_get("duration_s")?;
            out.push(StoredResponse {
                id,
                response: Response {
                    source: r.try_get("source")?,
                    channel: channel_of(&r.try_get::<String, _>("channel")?),
                    submitted_at: r.try_get("submitted_at")?,
                    duration_s: duration.and_then(|d| u32::try_from(d).ok()),
                    contact: r.try_get("contact")?,
                    answers,
                },
                interviewer: r.try_get("interviewer")?,
                order_id: r.try_get("order_id")?,
                created_at: r.try_get("created_at")?,
            });
        }
        Ok(out)
    }

    /// Stores one response (online or phone). A nonce already used refuses it.
    pub async fn survey_respond(
        &self,
        survey_id: i64,
        r: &Response,
        meta: &ResponseMeta,
    ) -> Result<i64, SurveyError> {
        let mut tx = self.pool.begin().await?;
        if let Some(n) = &meta.nonce {
            let used = sqlx::query("SELECT id FROM survey_responses WHERE nonce = $1")
                .bind(n)
                .fetch_optional(&mut *tx)
                .await?;
            if used.is_some() {
                return Err(SurveyError::AlreadyAnswered);
            }
        }
        let id = insert_response(&mut tx, survey_id, r, meta, None).await;
        let id = match id {
            Ok(id) => id,
            // Two submissions racing on one nonce: the UNIQUE index refuses the second.
            Err(SurveyError::Db(e)) if meta.nonce.is_some() && is_unique_violation(&e) => {
                return Err(SurveyError::AlreadyAnswered);
            }
            Err(e) => return Err(e),
        };
        if !meta.order_id.is_empty() {
            sqlx::query(
                "UPDATE survey_samples SET response_id = $1 \
                 WHERE survey_id = $2 AND order_id = $3 AND response_id IS NULL",
            )
            .bind(id)
            .bind(survey_id)
            .bind(&meta.order_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Commits an import: every response in one transaction, or nothing.
    pub async fn survey_import(
        &self,
        survey_id: i64,
        file_name: &str,
        sha256: &str,
        layout: &str,
        responses: &[Response],
        by: Option<i64>,
    ) -> Result<i64, SurveyError> {
        let mut tx = self.pool.begin().await?;
        let dup = sqlx::query("SELECT id FROM survey_imports WHERE survey_id = $1 AND sha256 = $2")
            .bind(survey_id)
            .bind(sha256)
            .fetch_optional(&mut *tx)
            .await?;
        if dup.is_some() {
            return Err(SurveyError::AlreadyImported(
                sha256[..12.min(sha256.len())].into(),
            ));
        }
        let import_id: i64 = sqlx::query(
            "INSERT INTO survey_imports (survey_id, file_name, sha256, layout, rows, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(survey_id)
        .bind(file_name)
        .bind(sha256)
        .bind(layout)
        .bind(responses.len() as i64)
        .bind(by)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let meta = ResponseMeta {
            entered_by: by,
            ..Default::default()
        };
        for r in responses {
            insert_response(&mut tx, survey_id, r, &meta, Some(import_id)).await?;
        }
        tx.commit().await?;
        Ok(import_id)
    }

    pub async fn survey_imports(&self, survey_id: i64) -> Result<Vec<Import>, SurveyError> {
        let rows = sqlx::query(
            "SELECT id, file_name, sha256, layout, rows, created_at FROM survey_imports \
             WHERE survey_id = $1 ORDER BY id",
        )
        .bind(survey_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(Import {
                id: r.try_get("id")?,
                file_name: r.try_get("file_name")?,
                sha256: r.try_get("sha256")?,
                layout: r.try_get("layout")?,
                rows: r.try_get("rows")?,
                created_at: r.try_get("created_at")?,
            });
        }
        Ok(out)
    }

    /// Responses received through public links from `ip` since `since` (the rate limit).
    pub async fn survey_recent_from(&self, ip: &str, since: i64) -> Result<i64, SurveyError> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM survey_responses \
             WHERE contact = $1 AND created_at >= $2 AND link_token IS NOT NULL",
        )
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?)
    }

    pub async fn survey_link_create(
        &self,
        key: &str,
        open: bool,
        label: &str,
        by: Option<i64>,
    ) -> Result<String, SurveyError> {
        // 128 bits is plenty for a link and keeps the QR code small.
        let token = crate::db::accounts::random_token()[..32].to_string();
        sqlx::query(
            "INSERT INTO survey_links (token, survey_key, open, label, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token)
        .bind(key)
        .bind(i64::from(open))
        .bind(label)
        .bind(by)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    pub async fn survey_links(&self, key: &str) -> Result<Vec<Link>, SurveyError> {
        let rows = sqlx::query(
            "SELECT l.token, l.survey_key, l.open, l.label, l.created_at, l.revoked, \
                    (SELECT COUNT(*) FROM survey_responses r WHERE r.link_token = l.token) AS n \
             FROM survey_links l WHERE l.survey_key = $1 ORDER BY l.created_at, l.token",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_row).collect()
    }

    pub async fn survey_link(&self, token: &str) -> Result<Option<Link>, SurveyError> {
        let r = sqlx::query(
            "SELECT l.token, l.survey_key, l.open, l.label, l.created_at, l.revoked, \
                    (SELECT COUNT(*) FROM survey_responses r WHERE r.link_token = l.token) AS n \
             FROM survey_links l WHERE l.token = $1",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(link_row).transpose()
    }

    pub async fn survey_link_revoke(&self, key: &str, token: &str) -> Result<bool, SurveyError> {
        let n =
            sqlx::query("UPDATE survey_links SET revoked = 1 WHERE token = $1 AND survey_key = $2")
                .bind(token)
                .bind(key)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    /// Stores the interview list of a return-visit survey (replacing none: a list is
    /// drawn once per survey version).
    pub async fn survey_sample_save(
        &self,
        survey_id: i64,
        picks: &[crate::survey::sample::Pick],
    ) -> Result<(), SurveyError> {
        let mut tx = self.pool.begin().await?;
        let existing: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM survey_samples WHERE survey_id = $1")
                .bind(survey_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if existing > 0 {
            return Err(SurveyError::Invalid(
                "该回访问卷已有抽样名单，不重复抽样".into(),
            ));
        }
        for (i, p) in picks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO survey_samples (survey_id, seq, order_id, outlet, service, customer, phone, interviewer) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(survey_id)
            .bind(i as i64 + 1)
            .bind(&p.order)
            .bind(&p.outlet)
            .bind(&p.service)
            .bind(&p.customer)
            .bind(&p.phone)
            .bind(&p.interviewer)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn survey_sample(&self, survey_id: i64) -> Result<Vec<SampleRow>, SurveyError> {
        let rows = sqlx::query(
            "SELECT seq, order_id, outlet, service, customer, phone, interviewer, response_id \
             FROM survey_samples WHERE survey_id = $1 ORDER BY seq",
        )
        .bind(survey_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(SampleRow {
                seq: r.try_get("seq")?,
                order_id: r.try_get("order_id")?,
                outlet: r.try_get("outlet")?,
                service: r.try_get("service")?,
                customer: r.try_get("customer")?,
                phone: r.try_get("phone")?,
                interviewer: r.try_get("interviewer")?,
                response_id: r.try_get("response_id")?,
            });
        }
        Ok(out)
    }
}

fn link_row(r: &sqlx::any::AnyRow) -> Result<Link, SurveyError> {
    Ok(Link {
        token: r.try_get("token")?,
        survey_key: r.try_get("survey_key")?,
        open: r.try_get::<i64, _>("open")? != 0,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
        revoked: r.try_get::<i64, _>("revoked")? != 0,
        responses: r.try_get("n")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

async fn insert_response(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    survey_id: i64,
    r: &Response,
    meta: &ResponseMeta,
    import_id: Option<i64>,
) -> Result<i64, SurveyError> {
    let answers = serde_json::to_string(&r.answers)
        .map_err(|e| SurveyError::Invalid(format!("answers: {e}")))?;
    let id: i64 = sqlx::query(
        "INSERT INTO survey_responses (survey_id, channel, source, submitted_at, duration_s, contact, \
             answers, interviewer, order_id, nonce, link_token, import_id, entered_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(survey_id)
    .bind(channel_str(r.channel))
    .bind(&r.source)
    .bind(r.submitted_at)
    .bind(r.duration_s.map(i64::from))
    .bind(&r.contact)
    .bind(answers)
    .bind(&meta.interviewer)
    .bind(&meta.order_id)
    .bind(&meta.nonce)
    .bind(&meta.link_token)
    .bind(import_id)
    .bind(meta.entered_by)
    .bind(now())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    Ok(id)
}
