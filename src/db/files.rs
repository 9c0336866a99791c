//! The stored files rows cite: what the startup sweep of the file stores keeps.
//! Reads only.

use std::collections::HashSet;

use sqlx::Row;

use super::Db;
use super::accounts::AccountError;

impl Db {
    /// Hashes of every file the evidence store holds for a row: audit evidence,
    /// a project's evidence and its indicators' evidence.
    pub async fn evidence_files(&self) -> Result<HashSet<String>, AccountError> {
        self.hashes(&[
            "SELECT sha256 AS h FROM evidence",
            "SELECT sha256 AS h FROM project_evidence",
            "SELECT evidence_sha AS h FROM project_indicators WHERE evidence_sha <> ''",
        ])
        .await
    }

    /// Hashes of the 问卷星 files committed imports came from.
    pub async fn survey_files(&self) -> Result<HashSet<String>, AccountError> {
        self.hashes(&["SELECT sha256 AS h FROM survey_imports"])
            .await
    }

    async fn hashes(&self, queries: &[&'static str]) -> Result<HashSet<String>, AccountError> {
        let mut out = HashSet::new();
        for q in queries {
            for r in sqlx::query(*q).fetch_all(&self.pool).await? {
                out.insert(r.try_get::<String, _>("h")?);
            }
        }
        Ok(out)
    }
}
