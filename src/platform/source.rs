//! A live source: the platform's own database (PostgreSQL, or SQLite), read
//! through a mapping of one SQL query per entity — "auditing the live platform".
//!
//! ```json
//! {
//!   "entities": {
//!     "agencies": "SELECT id, name, credit_code, town FROM agency",
//!     "workers":  "SELECT w.code AS id, w.name, w.id_card AS id_number, … FROM worker w"
//!   }
//! }
//! ```
//!
//! Each query returns the columns of its entity's file format
//! (`docs/platform-data.md`); values must be text or numbers (cast dates with
//! `::text` in PostgreSQL). The rows go through exactly the checks of a file
//! import — they are handed to it as JSON Lines — so a database and an export of the
//! same data give the same platform. The snapshot hash covers the query results.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::{Column, Row};

use super::Platform;
use super::import::{ImportError, Options, import_sources};

/// Entity → SQL query.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub entities: BTreeMap<String, String>,
}

const ENTITIES: [&str; 6] = [
    "agencies",
    "workers",
    "outlets",
    "code_changes",
    "complaints",
    "trainings",
];

/// Reads and checks a mapping file.
pub fn load_mapping(path: &Path) -> Result<Mapping, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m: Mapping = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
    for (entity, sql) in &m.entities {
        if !ENTITIES.contains(&entity.as_str()) {
            return Err(format!(
                "{}: unknown entity `{entity}` (entities: {})",
                path.display(),
                ENTITIES.join(", ")
            ));
        }
        let head = sql.trim_start().to_ascii_lowercase();
        if !(head.starts_with("select") || head.starts_with("with")) {
            return Err(format!(
                "{}: the query for `{entity}` must be a SELECT (a mapping only reads)",
                path.display()
            ));
        }
    }
    Ok(m)
}

/// A column value as JSON, whatever its SQL type among those the driver knows.
pub(crate) fn cell(row: &sqlx::any::AnyRow, i: usize) -> serde_json::Value {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map(serde_json::Value::String).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(Into::into).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map(Into::into).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return v.map(Into::into).unwrap_or_default();
    }
    serde_json::Value::Null
}

/// Runs the mapping's queries (in one read-only snapshot where the database
/// supports it) and imports the rows.
pub async fn import_db(
    url: &str,
    mapping: &Mapping,
    opts: &Options<'_>,
) -> Result<Platform, ImportError> {
    let source_err = |message: String| ImportError::Io {
        path: crate::db::redact(url),
        message,
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| source_err(format!("cannot connect: {e}")))?;
    let mut tx = pool.begin().await.map_err(|e| source_err(e.to_string()))?;
    if url.starts_with("postgres") {
        // One consistent snapshot across all queries.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(|e| source_err(e.to_string()))?;
    }
    let mut sources = Vec::new();
    for (entity, sql) in &mapping.entities {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| source_err(format!("the query for {entity} failed: {e}")))?;
        let mut jsonl = String::new();
        for row in &rows {
            let obj: serde_json::Map<String, serde_json::Value> = row
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name().to_string(), cell(row, i)))
                .collect();
            jsonl.push_str(&serde_json::Value::Object(obj).to_string());
            jsonl.push('\n');
        }
        sources.push((format!("{entity}.jsonl"), jsonl.into_bytes()));
    }
    let _ = tx.rollback().await;
    pool.close().await;
    import_sources(sources, opts)
}
