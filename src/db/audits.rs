//! Audit runs in the database: scope, the automated results of each run, a verdict
//! per clause, the manual checklist, findings with their corrective action, and
//! evidence metadata.
//!
//! Locking: every write to an audit or its rows happens in a transaction that also
//! runs `UPDATE audits SET state = state WHERE id = ? AND state = 'open'` and
//! commits only if that touched the row. The update takes the row lock (PostgreSQL)
//! or the write lock (SQLite), so a write racing with closing the audit either
//! lands before the close or is refused after it; nothing is written to a closed
//! audit. Corrections to a closed audit are a new revision that says why.
//!
//! Recorded facts never flip: a checklist result and a clause verdict carry a
//! `version`, bumped by every change. A save from a page names the version the page
//! showed; a save that changes nothing writes nothing, and a save that would change
//! a row someone else (or a run of the checks) changed since is refused as stale,
//! so a form's untouched fields can never overwrite a newer answer.
//! Corrective-action status (open → corrected → verified) is the exception: it
//! moves on after the audit is closed, as the follow-up of its findings.

use serde::Serialize;
use sqlx::Row;

use super::accounts::{AccountError, User};
use super::{Db, now};
use crate::audit::checks::{CheckResult, ClauseOutcome};

/// A clause's verdict in an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 符合
    Conform,
    /// 不符合 (with severity 严重 major / 一般 minor)
    Nonconform,
    /// 观察项
    Observation,
    /// 不适用 (with a justification)
    NotApplicable,
    /// 未评价
    NotAssessed,
    /// 数据不完整，不予结论: derived only, when the data a check read is incomplete;
    /// like 未评价 it is outside the conformance rate.
    Incomplete,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Conform,
        Verdict::Nonconform,
        Verdict::Observation,
        Verdict::NotApplicable,
        Verdict::NotAssessed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Conform => "conform",
            Verdict::Nonconform => "nonconform",
            Verdict::Observation => "observation",
            Verdict::NotApplicable => "not_applicable",
            Verdict::NotAssessed => "not_assessed",
            Verdict::Incomplete => "incomplete",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Conform => "符合",
            Verdict::Nonconform => "不符合",
            Verdict::Observation => "观察项",
            Verdict::NotApplicable => "不适用",
            Verdict::NotAssessed => "未评价",
            Verdict::Incomplete => "数据不完整，不予结论",
        }
    }

    /// Every verdict a clause can have: the auditor's choices ([`Verdict::ALL`]) and
    /// the derived 数据不完整.
    pub const EVERY: [Verdict; 6] = [
        Verdict::Conform,
        Verdict::Nonconform,
        Verdict::Observation,
        Verdict::NotApplicable,
        Verdict::NotAssessed,
        Verdict::Incomplete,
    ];

    /// The label for counts and tables (数据不完整 without its explanation).
    pub fn short_label(self) -> &'static str {
        match self {
            Verdict::Incomplete => "数据不完整",
            v => v.label(),
        }
    }

    /// A stored verdict (unknown values read as 未评价).
    pub fn from_stored(s: &str) -> Verdict {
        Verdict::EVERY
            .into_iter()
            .find(|v| v.as_str() == s)
            .unwrap_or(Verdict::NotAssessed)
    }

    /// An auditor's choice, by key or label. 数据不完整 is offered only where the
    /// checks derived it, but an auditor may keep it (with a justification).
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::EVERY
            .into_iter()
            .find(|v| v.as_str() == s || v.label() == s)
    }
}

/// 严重 / 一般 for a nonconformity.
pub fn valid_severity(s: &str) -> bool {
    matches!(s, "major" | "minor")
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("审核已关闭，不能再修改；如需更正，请创建新的修订版本并说明原因")]
    Locked,
    #[error("没有这个审核")]
    Missing,
    #[error("{0}")]
    Invalid(String),
    /// The row changed since the page that sent the save was shown.
    #[error("{0}")]
    Stale(String),
    #[error(transparent)]
    Db(#[from] AccountError),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Db(e.into())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub id: i64,
    pub name: String,
    pub standards: Vec<String>,
    pub period_from: String,
    pub period_to: String,
    /// Outlet ids in scope (empty: all).
    pub outlets: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    pub created_by: i64,
    pub created_at: i64,
    pub closed_by: Option<i64>,
    pub closed_at: Option<i64>,
    pub revision: i64,
    pub revises: Option<i64>,
    pub revision_reason: String,
    /// SHA-256 of the platform data the last run read.
    pub snapshot: String,
    pub ran_at: Option<i64>,
    /// Share of unreadable rows tolerated before the verdicts on that data are
    /// withheld (0.001 = 0.1 %).
    pub max_skipped: f64,
    /// What the last run read from each data source (the order log's read report).
    pub sources: Vec<crate::audit::SourceReport>,
}

/// What a new audit is about.
pub struct NewAudit<'a> {
    pub name: &'a str,
    pub standards: &'a [String],
    pub period_from: &'a str,
    pub period_to: &'a str,
    pub outlets: &'a [String],
    /// Share of unreadable rows tolerated (`audit::DEFAULT_MAX_SKIPPED` unless the
    /// auditor sets another).
    pub max_skipped: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClauseVerdict {
    pub clause: String,
    pub verdict: Verdict,
    pub severity: String,
    pub justification: String,
    /// `auto` (from the checks) or `auditor`.
    pub source: String,
    pub updated_at: i64,
    /// Bumped by every change (a run that changes a derived verdict included).
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    pub item_id: String,
    /// Outlet or agency id, or "" for a platform-wide item.
    pub target: String,
    pub verdict: Verdict,
    pub note: String,
    pub updated_at: i64,
    /// Bumped by every change; a page shows it, a save names it.
    pub version: i64,
}

/// A checklist save as the on-site form sends it.
#[derive(Debug, Clone, Copy)]
pub struct ItemEdit<'a> {
    /// The version the page showed (0: nothing was recorded).
    pub seen: i64,
    /// The verdict chosen; `None` when the control was left at 未检查.
    pub verdict: Option<Verdict>,
    /// The note as the form holds it (the recorded one unless edited).
    pub note: &'a str,
}

/// A clause verdict as the 逐条结论 form sends it.
#[derive(Debug, Clone, Copy)]
pub struct ClauseEdit<'a> {
    /// The version the page showed (0: the clause had no verdict).
    pub seen: i64,
    pub verdict: Verdict,
    pub severity: &'a str,
    pub justification: &'a str,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the row is now at this version.
    Changed(i64),
    /// The form held what is recorded: nothing was written.
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: i64,
    pub audit_id: i64,
    pub clause: String,
    pub severity: String,
    pub title: String,
    pub observed: String,
    /// Outlet / agency / worker the finding is about, if one.
    pub target: String,
    pub owner: String,
    pub due: String,
    /// `open` → `corrected` → `verified`.
    pub status: String,
    pub created_at: i64,
}

const AUDIT_COLUMNS: &str = "id, name, standards, period_from, period_to, outlets, state, created_by, created_at, closed_by, closed_at, revision, revises, revision_reason, snapshot, ran_at, max_skipped_ppm, sources";

/// The tolerated share of unreadable rows is stored per million.
fn ppm(rate: f64) -> i64 {
    (rate * 1e6).round() as i64
}

fn split(s: String) -> Vec<String> {
    s.split('|')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn audit_from(r: &sqlx::any::AnyRow) -> Result<Audit, sqlx::Error> {
    Ok(Audit {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        standards: split(r.try_get("standards")?),
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        outlets: split(r.try_get("outlets")?),
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        closed_by: r.try_get("closed_by")?,
        closed_at: r.try_get("closed_at")?,
        revision: r.try_get("revision")?,
        revises: r.try_get("revises")?,
        revision_reason: r.try_get("revision_reason")?,
        snapshot: r.try_get("snapshot")?,
        ran_at: r.try_get("ran_at")?,
        max_skipped: r.try_get::<i64, _>("max_skipped_ppm")? as f64 / 1e6,
        // Written only by `record_run`; an unreadable value shows as no report.
        sources: serde_json::from_str(&r.try_get::<String, _>("sources")?).unwrap_or_default(),
    })
}

fn auto_verdict(v: &str) -> Verdict {
    match v {
        "符合" => Verdict::Conform,
        "不符合" => Verdict::Nonconform,
        "数据不完整" => Verdict::Incomplete,
        _ => Verdict::NotAssessed,
    }
}

/// Checks a verdict's companions: a nonconformity needs a severity, 不适用 a
/// justification.
fn check_verdict(verdict: Verdict, severity: &str, justification: &str) -> Result<(), AuditError> {
    if verdict == Verdict::Nonconform && !valid_severity(severity) {
        return Err(AuditError::Invalid(
            "判为不符合须选择严重程度：严重或一般".into(),
        ));
    }
    if verdict == Verdict::NotApplicable && justification.trim().is_empty() {
        return Err(AuditError::Invalid("判为不适用须说明理由".into()));
    }
    Ok(())
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Takes the audit's lock inside `tx` and says whether it is still open.
async fn lock_open(tx: &mut Tx<'_>, id: i64) -> Result<(), AuditError> {
    let n = sqlx::query("UPDATE audits SET state = state WHERE id = $1 AND state = 'open'")
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 1 {
        return Ok(());
    }
    let exists = sqlx::query("SELECT id FROM audits WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    Err(if exists {
        AuditError::Locked
    } else {
        AuditError::Missing
    })
}

impl Db {
    pub async fn create_audit(&self, a: &NewAudit<'_>, by: &User) -> Result<Audit, AuditError> {
        let name = a.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AuditError::Invalid("审核名称须为 1–200 个字符".into()));
        }
        if a.standards.is_empty() {
            return Err(AuditError::Invalid("请至少选择一个标准".into()));
        }
        for d in [a.period_from, a.period_to] {
            if crate::audit::time::parse_date_or_instant(d, 480).is_err() || d.len() != 10 {
                return Err(AuditError::Invalid(format!(
                    "审核期间的日期“{d}”无效，请写成 2023-01-01"
                )));
            }
        }
        if a.period_from > a.period_to {
            return Err(AuditError::Invalid("审核期间的开始日期晚于结束日期".into()));
        }
        if !(0.0..=1.0).contains(&a.max_skipped) {
            return Err(AuditError::Invalid(
                "允许跳过的数据行比例须在 0 % 到 100 % 之间".into(),
            ));
        }
        let row = sqlx::query(
            "INSERT INTO audits (name, standards, period_from, period_to, outlets, created_by, created_at, max_skipped_ppm) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(name)
        .bind(a.standards.join("|"))
        .bind(a.period_from)
        .bind(a.period_to)
        .bind(a.outlets.join("|"))
        .bind(by.id)
        .bind(now())
        .bind(ppm(a.max_skipped))
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        self.log(
            &super::accounts::Actor::user(by),
            "audit.create",
            &id.to_string(),
            name,
        )
        .await?;
        self.audit(id).await?.ok_or(AuditError::Missing)
    }

    pub async fn audit(&self, id: i64) -> Result<Option<Audit>, AuditError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audits WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(audit_from).transpose()?)
    }

    /// Every audit, newest first.
    pub async fn audits(&self) -> Result<Vec<Audit>, AuditError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audits ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(audit_from)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Stores a run of the automated checks: their results replace the previous
    /// run's, and each clause gets the derived verdict unless an auditor has set
    /// it. All in one transaction, refused once the audit is closed.
    /// Records one run of the automated checks: `snapshot` (SHA-256 of the platform
    /// data read), each check's result, the derived clause verdicts, and what each
    /// data source read (`sources`, the order log's read report).
    pub async fn record_run(
        &self,
        id: i64,
        snapshot: &str,
        results: &[CheckResult],
        clauses: &[ClauseOutcome],
        sources: &[crate::audit::SourceReport],
    ) -> Result<(), AuditError> {
        let sources = serde_json::to_string(sources)
            .map_err(|e| AuditError::Invalid(format!("cannot encode read report: {e}")))?;
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        sqlx::query("DELETE FROM audit_results WHERE audit_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for r in results {
            let json = serde_json::to_string(r)
                .map_err(|e| AuditError::Invalid(format!("cannot encode result: {e}")))?;
            sqlx::query(
                "INSERT INTO audit_results (audit_id, check_id, kind, result) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&r.id)
            .bind(r.kind)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        let t = now();
        for c in clauses {
            let verdict = auto_verdict(c.verdict);
            let severity = match (verdict, c.severity) {
                (Verdict::Nonconform, Some(crate::audit::rules::Severity::Critical)) => "major",
                (Verdict::Nonconform, Some(crate::audit::rules::Severity::Major)) => "major",
                (Verdict::Nonconform, _) => "minor",
                _ => "",
            };
            // An auditor's verdict stands; the derived one is refreshed, and its
            // version moves only when it changes (a page showing it goes stale).
            sqlx::query(
                "UPDATE audit_clauses SET verdict = $1, severity = $2, updated_at = $3, \
                 version = CASE WHEN verdict <> $1 OR severity <> $2 THEN version + 1 ELSE version END \
                 WHERE audit_id = $4 AND clause = $5 AND source = 'auto'",
            )
            .bind(verdict.as_str())
            .bind(severity)
            .bind(t)
            .bind(id)
            .bind(&c.clause)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO audit_clauses (audit_id, clause, verdict, severity, justification, source, updated_at, version) \
                 VALUES ($1, $2, $3, $4, '', 'auto', $5, 1) ON CONFLICT (audit_id, clause) DO NOTHING",
            )
            .bind(id)
            .bind(&c.clause)
            .bind(verdict.as_str())
            .bind(severity)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE audits SET snapshot = $1, ran_at = $2, sources = $3 WHERE id = $4")
            .bind(snapshot)
            .bind(t)
            .bind(sources)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored results of the last run.
    pub async fn audit_results(&self, id: i64) -> Result<Vec<CheckResultRow>, AuditError> {
        let rows = sqlx::query(
            "SELECT check_id, kind, result FROM audit_results WHERE audit_id = $1 ORDER BY check_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("result")?;
                Ok(CheckResultRow {
                    check_id: r.try_get("check_id")?,
                    kind: r.try_get("kind")?,
                    result: serde_json::from_str(&text).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// An auditor's verdict on a clause, whatever is recorded (imports, demos and
    /// tests; pages go through [`Db::save_clause_verdict`]).
    pub async fn set_clause_verdict(
        &self,
        id: i64,
        clause: &str,
        verdict: Verdict,
        severity: &str,
        justification: &str,
        by: &User,
    ) -> Result<(), AuditError> {
        check_verdict(verdict, severity, justification)?;
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO audit_clauses (audit_id, clause, verdict, severity, justification, source, updated_by, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, 'auditor', $6, $7, 1) \
             ON CONFLICT (audit_id, clause) DO UPDATE SET verdict = excluded.verdict, severity = excluded.severity, \
             justification = excluded.justification, source = 'auditor', updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at, version = audit_clauses.version + 1",
        )
        .bind(id)
        .bind(clause)
        .bind(verdict.as_str())
        .bind(if verdict == Verdict::Nonconform { severity } else { "" })
        .bind(justification.trim())
        .bind(by.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An auditor's verdict on a clause from the 逐条结论 form. Setting what is
    /// recorded as the auditor's own writes nothing; a change to a clause whose
    /// verdict moved since the page showed it (another auditor, a run of the checks)
    /// is refused as stale.
    pub async fn save_clause_verdict(
        &self,
        id: i64,
        clause: &str,
        e: &ClauseEdit<'_>,
        by: &User,
    ) -> Result<Saved, AuditError> {
        check_verdict(e.verdict, e.severity, e.justification)?;
        let severity = if e.verdict == Verdict::Nonconform {
            e.severity
        } else {
            ""
        };
        let justification = e.justification.trim();
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        let row = sqlx::query(
            "SELECT verdict, severity, justification, source, version FROM audit_clauses \
             WHERE audit_id = $1 AND clause = $2",
        )
        .bind(id)
        .bind(clause)
        .fetch_optional(&mut *tx)
        .await?;
        let current = match &row {
            Some(r) => {
                let v: String = r.try_get("verdict")?;
                let sev: String = r.try_get("severity")?;
                let j: String = r.try_get("justification")?;
                let source: String = r.try_get("source")?;
                let unchanged = v == e.verdict.as_str()
                    && sev == severity
                    && j == justification
                    && source == "auditor";
                if unchanged {
                    return Ok(Saved::Unchanged);
                }
                r.try_get::<i64, _>("version")?
            }
            None => 0,
        };
        let number = clause.split_once('#').map(|p| p.1).unwrap_or(clause);
        let stale = || {
            AuditError::Stale(format!(
                "第 {number} 条的结论在您打开页面之后已被他人或自动检查更新，本次设定没有生效。\
                 下面显示的是最新结论，请核对后重新设定。"
            ))
        };
        if current != e.seen {
            return Err(stale());
        }
        let t = now();
        let written = if current == 0 {
            sqlx::query(
                "INSERT INTO audit_clauses (audit_id, clause, verdict, severity, justification, source, updated_by, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, 'auditor', $6, $7, 1) ON CONFLICT (audit_id, clause) DO NOTHING",
            )
            .bind(id)
            .bind(clause)
            .bind(e.verdict.as_str())
            .bind(severity)
            .bind(justification)
            .bind(by.id)
            .bind(t)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE audit_clauses SET verdict = $1, severity = $2, justification = $3, source = 'auditor', \
                 updated_by = $4, updated_at = $5, version = version + 1 \
                 WHERE audit_id = $6 AND clause = $7 AND version = $8",
            )
            .bind(e.verdict.as_str())
            .bind(severity)
            .bind(justification)
            .bind(by.id)
            .bind(t)
            .bind(id)
            .bind(clause)
            .bind(current)
            .execute(&mut *tx)
            .await?
        };
        if written.rows_affected() != 1 {
            return Err(stale());
        }
        tx.commit().await?;
        Ok(Saved::Changed(current + 1))
    }

    pub async fn clause_verdicts(&self, id: i64) -> Result<Vec<ClauseVerdict>, AuditError> {
        let rows = sqlx::query(
            "SELECT clause, verdict, severity, justification, source, updated_at, version FROM audit_clauses \
             WHERE audit_id = $1 ORDER BY clause",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let v: String = r.try_get("verdict")?;
                Ok(ClauseVerdict {
                    clause: r.try_get("clause")?,
                    verdict: Verdict::from_stored(&v),
                    severity: r.try_get("severity")?,
                    justification: r.try_get("justification")?,
                    source: r.try_get("source")?,
                    updated_at: r.try_get("updated_at")?,
                    version: r.try_get("version")?,
                })
            })
            .collect()
    }

    /// Records a manual checklist item's result for one outlet (or the platform),
    /// whatever is recorded (imports, demos and tests; pages go through
    /// [`Db::save_item`]).
    pub async fn set_item(
        &self,
        id: i64,
        item_id: &str,
        target: &str,
        verdict: Verdict,
        note: &str,
        by: &User,
    ) -> Result<(), AuditError> {
        if verdict == Verdict::NotApplicable && note.trim().is_empty() {
            return Err(AuditError::Invalid("判为不适用须说明理由".into()));
        }
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO audit_items (audit_id, item_id, target, verdict, note, updated_by, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1) \
             ON CONFLICT (audit_id, item_id, target) DO UPDATE SET verdict = excluded.verdict, note = excluded.note, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at, version = audit_items.version + 1",
        )
        .bind(id)
        .bind(item_id)
        .bind(target)
        .bind(verdict.as_str())
        .bind(note.trim())
        .bind(by.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A checklist save from the on-site form. Only what differs from the
    /// recorded result is a change: a form re-sent as shown (to add a photo) writes
    /// nothing, a control left at 未检查 records no verdict, and a change to a result
    /// that moved since the page showed it is refused as stale.
    pub async fn save_item(
        &self,
        id: i64,
        item_id: &str,
        target: &str,
        e: &ItemEdit<'_>,
        by: &User,
    ) -> Result<Saved, AuditError> {
        let note = e.note.trim();
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        let row = sqlx::query(
            "SELECT verdict, note, version FROM audit_items WHERE audit_id = $1 AND item_id = $2 AND target = $3",
        )
        .bind(id)
        .bind(item_id)
        .bind(target)
        .fetch_optional(&mut *tx)
        .await?;
        let current = match &row {
            Some(r) => {
                let v: String = r.try_get("verdict")?;
                Some((
                    Verdict::parse(&v).unwrap_or(Verdict::NotAssessed),
                    r.try_get::<String, _>("note")?,
                    r.try_get::<i64, _>("version")?,
                ))
            }
            None => None,
        };
        // 未检查 on the form keeps whatever is recorded: the control was not touched.
        let verdict = match (e.verdict, &current) {
            (Some(v), _) => v,
            (None, Some((v, _, _))) => *v,
            (None, None) if note.is_empty() => return Ok(Saved::Unchanged),
            (None, None) => {
                return Err(AuditError::Invalid(
                    "请先选择检查结论，再保存现场记录（本次没有保存任何内容）".into(),
                ));
            }
        };
        if let Some((v, n, _)) = &current
            && *v == verdict
            && n == note
        {
            return Ok(Saved::Unchanged);
        }
        if verdict == Verdict::NotApplicable && note.is_empty() {
            return Err(AuditError::Invalid("判为不适用须说明理由".into()));
        }
        let version = current.as_ref().map(|c| c.2).unwrap_or(0);
        let stale = || {
            AuditError::Stale(
                "该检查项在您打开页面之后已被他人修改，本次保存（连同照片）没有生效。\
                 下面显示的是最新记录，请核对后重新保存。"
                    .into(),
            )
        };
        if version != e.seen {
            return Err(stale());
        }
        let t = now();
        let written = if version == 0 {
            sqlx::query(
                "INSERT INTO audit_items (audit_id, item_id, target, verdict, note, updated_by, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (audit_id, item_id, target) DO NOTHING",
            )
            .bind(id)
            .bind(item_id)
            .bind(target)
            .bind(verdict.as_str())
            .bind(note)
            .bind(by.id)
            .bind(t)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE audit_items SET verdict = $1, note = $2, updated_by = $3, updated_at = $4, version = version + 1 \
                 WHERE audit_id = $5 AND item_id = $6 AND target = $7 AND version = $8",
            )
            .bind(verdict.as_str())
            .bind(note)
            .bind(by.id)
            .bind(t)
            .bind(id)
            .bind(item_id)
            .bind(target)
            .bind(version)
            .execute(&mut *tx)
            .await?
        };
        if written.rows_affected() != 1 {
            return Err(stale());
        }
        tx.commit().await?;
        Ok(Saved::Changed(version + 1))
    }

    pub async fn items(&self, id: i64) -> Result<Vec<ItemResult>, AuditError> {
        let rows = sqlx::query(
            "SELECT item_id, target, verdict, note, updated_at, version FROM audit_items WHERE audit_id = $1 \
             ORDER BY item_id, target",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let v: String = r.try_get("verdict")?;
                Ok(ItemResult {
                    item_id: r.try_get("item_id")?,
                    target: r.try_get("target")?,
                    verdict: Verdict::from_stored(&v),
                    note: r.try_get("note")?,
                    updated_at: r.try_get("updated_at")?,
                    version: r.try_get("version")?,
                })
            })
            .collect()
    }

    /// Records a finding (a nonconformity or observation with what was seen).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_finding(
        &self,
        id: i64,
        clause: &str,
        severity: &str,
        title: &str,
        observed: &str,
        target: &str,
        owner: &str,
        due: &str,
        by: &User,
    ) -> Result<i64, AuditError> {
        if !matches!(severity, "major" | "minor" | "observation") {
            return Err(AuditError::Invalid(
                "请选择发现的严重程度：严重、一般或观察项".into(),
            ));
        }
        if clause.trim().is_empty() {
            return Err(AuditError::Invalid("请选择发现所属的条款".into()));
        }
        if title.trim().is_empty() {
            return Err(AuditError::Invalid("请填写发现的标题".into()));
        }
        if !due.is_empty()
            && (due.len() != 10 || crate::audit::time::parse_date_or_instant(due, 480).is_err())
        {
            return Err(AuditError::Invalid(format!(
                "整改期限“{due}”无效，请写成 2024-01-31"
            )));
        }
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        let t = now();
        let row = sqlx::query(
            "INSERT INTO findings (audit_id, clause, severity, title, observed, target, owner, due, status, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $10) RETURNING id",
        )
        .bind(id)
        .bind(clause.trim())
        .bind(severity)
        .bind(title.trim())
        .bind(observed.trim())
        .bind(target.trim())
        .bind(owner.trim())
        .bind(due)
        .bind(by.id)
        .bind(t)
        .fetch_one(&mut *tx)
        .await?;
        let fid: i64 = row.try_get("id")?;
        tx.commit().await?;
        Ok(fid)
    }

    pub async fn findings(&self, id: i64) -> Result<Vec<Finding>, AuditError> {
        let rows = sqlx::query(
            "SELECT id, audit_id, clause, severity, title, observed, target, owner, due, status, created_at \
             FROM findings WHERE audit_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Finding {
                    id: r.try_get("id")?,
                    audit_id: r.try_get("audit_id")?,
                    clause: r.try_get("clause")?,
                    severity: r.try_get("severity")?,
                    title: r.try_get("title")?,
                    observed: r.try_get("observed")?,
                    target: r.try_get("target")?,
                    owner: r.try_get("owner")?,
                    due: r.try_get("due")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Moves a finding's corrective action one step: open → corrected → verified
    /// (or back to open when a correction is not accepted). Allowed after the audit
    /// is closed: corrective actions are its follow-up.
    pub async fn set_finding_status(
        &self,
        finding: i64,
        from: &str,
        to: &str,
        by: &User,
    ) -> Result<(), AuditError> {
        let ok = matches!(
            (from, to),
            ("open", "corrected") | ("corrected", "verified") | ("corrected", "open")
        );
        if !ok {
            return Err(AuditError::Invalid(
                "整改状态只能按 待整改 → 已整改 → 已验证 的顺序变更（或把已整改退回待整改）".into(),
            ));
        }
        let n = sqlx::query(
            "UPDATE findings SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to)
        .bind(now())
        .bind(finding)
        .bind(from)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(AuditError::Invalid(
                "该发现的整改状态已被他人更新，请刷新页面".into(),
            ));
        }
        self.log(
            &super::accounts::Actor::user(by),
            "finding.status",
            &finding.to_string(),
            &format!("{from} → {to}"),
        )
        .await?;
        Ok(())
    }

    /// Closes the audit: from now on it is read-only.
    pub async fn close_audit(&self, id: i64, by: &User) -> Result<(), AuditError> {
        let n = sqlx::query(
            "UPDATE audits SET state = 'closed', closed_by = $1, closed_at = $2 WHERE id = $3 AND state = 'open'",
        )
        .bind(by.id)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(match self.audit(id).await? {
                Some(_) => AuditError::Locked,
                None => AuditError::Missing,
            });
        }
        self.log(
            &super::accounts::Actor::user(by),
            "audit.close",
            &id.to_string(),
            "",
        )
        .await?;
        Ok(())
    }

    /// A new, open revision of a closed audit, carrying its results, verdicts,
    /// checklist and findings, with the reason for the correction.
    pub async fn revise_audit(
        &self,
        id: i64,
        reason: &str,
        by: &User,
    ) -> Result<Audit, AuditError> {
        if reason.trim().is_empty() {
            return Err(AuditError::Invalid("更正已关闭的审核须说明原因".into()));
        }
        let old = self.audit(id).await?.ok_or(AuditError::Missing)?;
        if old.state != "closed" {
            return Err(AuditError::Invalid("审核尚未关闭，可直接修改".into()));
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO audits (name, standards, period_from, period_to, outlets, created_by, created_at, revision, revises, revision_reason, snapshot, ran_at, max_skipped_ppm, sources) \
             SELECT name, standards, period_from, period_to, outlets, $1, $2, revision + 1, id, $3, snapshot, ran_at, max_skipped_ppm, sources FROM audits WHERE id = $4 \
             RETURNING id",
        )
        .bind(by.id)
        .bind(now())
        .bind(reason.trim())
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let new: i64 = row.try_get("id")?;
        for sql in [
            "INSERT INTO audit_results (audit_id, check_id, kind, result) SELECT $1, check_id, kind, result FROM audit_results WHERE audit_id = $2",
            "INSERT INTO audit_clauses (audit_id, clause, verdict, severity, justification, source, updated_by, updated_at) SELECT $1, clause, verdict, severity, justification, source, updated_by, updated_at FROM audit_clauses WHERE audit_id = $2",
            "INSERT INTO audit_items (audit_id, item_id, target, verdict, note, updated_by, updated_at) SELECT $1, item_id, target, verdict, note, updated_by, updated_at FROM audit_items WHERE audit_id = $2",
            "INSERT INTO findings (audit_id, clause, severity, title, observed, target, owner, due, status, created_by, created_at, updated_at) SELECT $1, clause, severity, title, observed, target, owner, due, status, created_by, created_at, updated_at FROM findings WHERE audit_id = $2",
        ] {
            sqlx::query(sql)
                .bind(new)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.log(
            &super::accounts::Actor::user(by),
            "audit.revise",
            &new.to_string(),
            &format!("revises #{id}: {}", reason.trim()),
        )
        .await?;
        self.audit(new).await?.ok_or(AuditError::Missing)
    }
}

/// A stored check result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResultRow {
    pub check_id: String,
    pub kind: String,
    pub result: serde_json::Value,
}

/// Evidence attached to an audit (and optionally to a finding or a checklist
/// result), after [`crate::audit::evidence::EvidenceStore::put`] stored the file.
pub struct NewEvidence<'a> {
    pub finding_id: Option<i64>,
    pub item_id: &'a str,
    pub target: &'a str,
    pub stored: &'a crate::audit::evidence::Stored,
    pub name: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub id: i64,
    pub finding_id: Option<i64>,
    pub item_id: String,
    pub target: String,
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub at: i64,
}

impl Db {
    /// Records an evidence file on an open audit.
    pub async fn add_evidence(
        &self,
        id: i64,
        e: &NewEvidence<'_>,
        by: &User,
    ) -> Result<i64, AuditError> {
        let mut tx = self.pool.begin().await?;
        lock_open(&mut tx, id).await?;
        if let Some(f) = e.finding_id {
            let ok = sqlx::query("SELECT id FROM findings WHERE id = $1 AND audit_id = $2")
                .bind(f)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !ok {
                return Err(AuditError::Invalid("该发现不属于这个审核".into()));
            }
        }
        let name: String = e.name.trim().chars().take(200).collect();
        let row = sqlx::query(
            "INSERT INTO evidence (audit_id, finding_id, item_id, target, sha256, name, mime, size, uploaded_by, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(id)
        .bind(e.finding_id)
        .bind(e.item_id)
        .bind(e.target)
        .bind(&e.stored.sha256)
        .bind(name)
        .bind(e.stored.mime)
        .bind(e.stored.size as i64)
        .bind(by.id)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        let eid: i64 = row.try_get("id")?;
        tx.commit().await?;
        Ok(eid)
    }

    /// Everyone who worked on an audit (created, judged, recorded, closed it), as
    /// (display name, username, role), in account order: the report's auditors.
    pub async fn audit_people(&self, id: i64) -> Result<Vec<(String, String, String)>, AuditError> {
        let rows = sqlx::query(
            "SELECT display_name, username, role FROM users WHERE id IN (\
               SELECT created_by FROM audits WHERE id = $1 \
               UNION SELECT closed_by FROM audits WHERE id = $1 \
               UNION SELECT updated_by FROM audit_clauses WHERE audit_id = $1 \
               UNION SELECT updated_by FROM audit_items WHERE audit_id = $1 \
               UNION SELECT created_by FROM findings WHERE audit_id = $1) ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("display_name")?,
                    r.try_get("username")?,
                    r.try_get("role")?,
                ))
            })
            .collect()
    }

    pub async fn evidence(&self, id: i64) -> Result<Vec<Evidence>, AuditError> {
        let rows = sqlx::query(
            "SELECT id, finding_id, item_id, target, sha256, name, mime, size, at FROM evidence \
             WHERE audit_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Evidence {
                    id: r.try_get("id")?,
                    finding_id: r.try_get("finding_id")?,
                    item_id: r.try_get("item_id")?,
                    target: r.try_get("target")?,
                    sha256: r.try_get("sha256")?,
                    name: r.try_get("name")?,
                    mime: r.try_get("mime")?,
                    size: r.try_get("size")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}
