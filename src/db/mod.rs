//! The database: SQLite (embedded default) or PostgreSQL (multi-user deployment),
//! one code path.
//!
//! Queries go through sqlx's `AnyPool` with portable column types — instants are Unix
//! seconds, flags 0/1 integers, `$1` placeholders — so the same SQL runs on both. The
//! schema lives in one migrations folder per dialect (`migrations/sqlite`,
//! `migrations/postgres`), kept table-for-table identical and applied on start. SQL
//! is only ever built from constant strings with bind parameters.

pub mod acceptance;
pub mod accounts;
pub mod audits;
pub mod events;
pub mod files;
pub mod live;
pub mod submissions;
pub mod surveys;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL `{0}` is not sqlite://… or postgres://…")]
    Url(String),
    #[error("cannot connect to the database ({backend}): {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A connection pool and the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The badge counts per user, computed on every page otherwise.
    pub(crate) attention: std::sync::Arc<submissions::AttentionCache>,
    /// SQLite has one writer at a time. The heavy writers (event ingest and the
    /// monitor's commits) queue here, in order, instead of polling SQLite's lock
    /// with `busy_timeout`, which lets one starve the other for seconds.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The SQLite URL for a database file under the data directory.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

impl Db {
    /// Connects and applies the migrations of the URL's dialect.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::Url(redact(url)));
        };
        let options = AnyConnectOptions::from_str(url).map_err(|source| DbError::Connect {
            backend: backend.name(),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers proceed while one writer commits; wait on a
                        // lock rather than fail; enforce the REFERENCES clauses.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| DbError::Connect {
                backend: backend.name(),
                source,
            })?;
        let db = Db {
            pool,
            backend,
            attention: Default::default(),
            write_gate: Default::default(),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// On SQLite, waits for the heavy-writer gate (see `write_gate`); on PostgreSQL,
    /// which has row locks, nothing.
    pub(crate) async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        }
    }

    /// A trivial query: is the database answering?
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown_in_messages() {
        assert_eq!(
            super::redact("postgres://bz:secret@db:5432/bz"),
            "postgres://bz:***@db:5432/bz"
        );
        assert_eq!(super::redact("sqlite://data/bz.db"), "sqlite://data/bz.db");
    }
}
