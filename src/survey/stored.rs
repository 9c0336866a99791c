//! Surveys as stored: a version with its responses, validity and statistics, and
//! what other parts read from them — the `surveys` entity of audit checks and a
//! return visit's evidence per clause. Reads the database; writes nothing.

use std::collections::BTreeMap;

use crate::db::Db;
use crate::db::surveys::{StoredResponse, SurveyError, SurveyRow};
use crate::survey::stats::{Stats, compute};
use crate::survey::validity::{self, Reason, Rules};
use crate::survey::{Kind, Response, Survey};

/// A version with its responses, their validity and the statistics.
pub struct Loaded {
    pub row: SurveyRow,
    pub survey: Survey,
    pub stored: Vec<StoredResponse>,
    pub responses: Vec<Response>,
    pub validity: Vec<Vec<Reason>>,
    pub rules: Rules,
    pub stats: Stats,
}

pub async fn load(db: &Db, id: i64, previous: Option<i64>) -> Result<Loaded, SurveyError> {
    let row = db.survey(id).await?.ok_or(SurveyError::Missing)?;
    let survey = row.survey()?;
    let stored = db.survey_responses(id).await?;
    let responses: Vec<Response> = stored.iter().map(|s| s.response.clone()).collect();
    let rules = survey.rules();
    let validity = validity::check(&survey, &responses, &rules);
    let prev = match previous {
        Some(p) if p != id => {
            let prow = db.survey(p).await?.ok_or(SurveyError::Missing)?;
            let ps = prow.survey()?;
            let pr: Vec<Response> = db
                .survey_responses(p)
                .await?
                .into_iter()
                .map(|s| s.response)
                .collect();
            let pv = validity::check(&ps, &pr, &ps.rules());
            let valid: Vec<Response> = pr
                .into_iter()
                .zip(&pv)
                .filter(|(_, v)| v.is_empty())
                .map(|(r, _)| r)
                .collect();
            Some((ps, valid))
        }
        _ => None,
    };
    let stats = compute(
        &survey,
        &responses,
        &validity,
        prev.as_ref().map(|(s, r)| (s, r.as_slice())),
    );
    Ok(Loaded {
        row,
        survey,
        stored,
        responses,
        validity,
        rules,
        stats,
    })
}

/// Every survey version's results, for the `surveys` entity of audit checks.
pub async fn results(db: &Db) -> Result<Vec<crate::platform::SurveyResult>, SurveyError> {
    let mut out = Vec::new();
    for s in db.surveys().await? {
        if s.responses > 0 {
            out.push(result_of(&load(db, s.row.id, None).await?));
        }
    }
    Ok(out)
}

/// The latest survey with valid responses (by its last response), loading only
/// as many versions as it takes to find it — usually one.
pub async fn latest(db: &Db) -> Result<Option<crate::platform::SurveyResult>, SurveyError> {
    let mut all: Vec<_> = db
        .surveys()
        .await?
        .into_iter()
        .filter(|s| s.responses > 0)
        .collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.last_at));
    for s in all {
        let r = result_of(&load(db, s.row.id, None).await?);
        if r.valid > 0 {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// A loaded version as audits and indicators read it.
fn result_of(l: &Loaded) -> crate::platform::SurveyResult {
    let times: Vec<i64> = l
        .responses
        .iter()
        .zip(&l.validity)
        .filter(|(_, v)| v.is_empty())
        .filter_map(|(r, _)| r.submitted_at)
        .collect();
    crate::platform::SurveyResult {
        id: l.row.key.clone(),
        title: l.row.title.clone(),
        version: l.row.version,
        audit_id: l.row.audit_id.map(|a| a.to_string()).unwrap_or_default(),
        first_at: times.iter().min().map(|t| t * 1_000_000),
        last_at: times.iter().max().map(|t| t * 1_000_000),
        responses: l.stats.responses,
        valid: l.stats.valid,
        score: l.stats.score,
        satisfaction: l.stats.satisfaction_percent,
        csat: l.stats.csat_percent,
    }
}

/// What a return-visit survey says about one clause.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClauseEvidence {
    pub clause: String,
    pub survey_id: i64,
    pub summary: String,
}

/// The return-visit evidence of an audit, per clause its questions are linked to.
pub async fn audit_evidence(db: &Db, audit_id: i64) -> Result<Vec<ClauseEvidence>, SurveyError> {
    let mut out = Vec::new();
    for row in db.audit_surveys(audit_id).await? {
        let l = load(db, row.id, None).await?;
        let mut by: BTreeMap<String, Vec<&crate::survey::stats::QuestionStats>> = BTreeMap::new();
        for q in &l.stats.questions {
            for c in l
                .survey
                .question(&q.id)
                .map(|d| d.clauses.clone())
                .unwrap_or_default()
            {
                by.entry(c).or_default().push(q);
            }
        }
        for (clause, qs) in by {
            let parts: Vec<String> = qs
                .iter()
                .map(|q| {
                    let top2: usize = q.options.iter().take(2).map(|o| o.count).sum();
                    match (q.kind, q.mean) {
                        (Kind::Likert, Some(m)) if q.answered > 0 => format!(
                            "“{}”{} 人作答，均值 {m:.2}，满意及以上 {:.1}%",
                            q.text,
                            q.answered,
                            top2 as f64 * 100.0 / q.answered as f64
                        ),
                        _ => {
                            let best = q.options.iter().max_by_key(|o| o.count);
                            format!(
                                "“{}”{} 人作答{}",
                                q.text,
                                q.answered,
                                best.map(|o| format!("，最多为“{}”{:.1}%", o.option, o.percent))
                                    .unwrap_or_default()
                            )
                        }
                    }
                })
                .collect();
            out.push(ClauseEvidence {
                clause,
                survey_id: row.id,
                summary: format!(
                    "回访问卷（{} 第 {} 版，有效 {} 份）：{}",
                    row.title,
                    row.version,
                    l.stats.valid,
                    parts.join("；")
                ),
            });
        }
    }
    Ok(out)
}
