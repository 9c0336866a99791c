//! The comparison baseline: SQLite FTS5 with its `trigram` tokenizer over the same
//! clauses, queried the way a developer would without a Chinese segmenter.
//!
//! Trigram FTS cannot match terms shorter than three characters (most Chinese words are
//! two: 红码, 派单), so short terms fall back to `LIKE '%…%'`. Ranking: number of query
//! terms a clause contains, then FTS5 `bm25()` over the terms it could match.

use std::collections::HashMap;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::standard::Collection;

pub struct Fts5Baseline {
    rt: tokio::runtime::Runtime,
    pool: SqlitePool,
}

impl Fts5Baseline {
    /// Builds an FTS5 trigram table in `path` (`None` = in memory) from the collection's
    /// clauses (own text, as the tantivy index holds them).
    pub fn build(coll: &Collection, path: Option<&std::path::Path>) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, String, String)> = coll
            .standards
            .iter()
            .flat_map(|s| s.all_clauses())
            .map(|c| {
                (
                    c.id.clone(),
                    c.title.clone().unwrap_or_default(),
                    super::indexed_text(c),
                )
            })
            .filter(|r| !r.2.is_empty())
            .collect();
        Self::build_rows(rows.into_iter(), path)
    }

    /// Builds from (id, title, text) rows.
    pub fn build_rows(
        rows: impl Iterator<Item = (String, String, String)>,
        path: Option<&std::path::Path>,
    ) -> Result<Self, sqlx::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        let pool = rt.block_on(async {
            let opts = match path {
                Some(p) => SqliteConnectOptions::new().filename(p).create_if_missing(true),
                None => SqliteConnectOptions::new().in_memory(true),
            };
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
            sqlx::query("CREATE VIRTUAL TABLE IF NOT EXISTS clauses USING fts5(clause_id UNINDEXED, title, text, tokenize='trigram')").execute(&pool).await?;
            let mut tx = pool.begin().await?;
            for (id, title, text) in rows {
                sqlx::query("INSERT INTO clauses (clause_id, title, text) VALUES (?, ?, ?)").bind(id).bind(title).bind(text).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(pool)
        })?;
        Ok(Fts5Baseline { rt, pool })
    }

    /// Ranked clause ids for a whitespace-separated query.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<String>, sqlx::Error> {
        let terms: Vec<String> = query
            .split_whitespace()
            .map(|t| t.replace('"', ""))
            .filter(|t| !t.is_empty())
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        self.rt.block_on(async {
            let long: Vec<String> = terms.iter().filter(|t| t.chars().count() >= 3).map(|t| format!("\"{t}\"")).collect();
            let mut bm25: HashMap<String, f64> = HashMap::new();
            if !long.is_empty() {
                let rows = sqlx::query("SELECT clause_id, bm25(clauses) AS r FROM clauses WHERE clauses MATCH ? ORDER BY r LIMIT 1000")
                    .bind(long.join(" OR "))
                    .fetch_all(&self.pool)
                    .await?;
                for r in rows {
                    bm25.insert(r.get::<String, _>(0), r.get::<f64, _>(1));
                }
            }
            // Count how many terms each clause contains (LIKE works for any length).
            let cond = terms.iter().map(|_| "(title LIKE ? OR text LIKE ?)").collect::<Vec<_>>().join(" + ");
            let sql = format!("SELECT clause_id, {cond} AS n FROM clauses WHERE n > 0 ORDER BY n DESC LIMIT 2000");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for t in &terms {
                let pat = format!("%{t}%");
                q = q.bind(pat.clone()).bind(pat);
            }
            let rows = q.fetch_all(&self.pool).await?;
            let mut ranked: Vec<(i64, f64, String)> = rows
                .into_iter()
                .map(|r| {
                    let id: String = r.get(0);
                    let n: i64 = r.get(1);
                    let b = bm25.get(&id).copied().unwrap_or(0.0);
                    (n, b, id)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
            Ok(ranked.into_iter().take(limit).map(|r| r.2).collect())
        })
    }
}
