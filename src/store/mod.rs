//! Persistence: the sqlx pool (SQLite by default, WAL), embedded migrations, and one repository
//! per aggregate (`org`, `sessions`). SQL is kept portable to Postgres: TEXT ids and RFC 3339
//! timestamps, no SQLite-only functions.

pub mod accounts;
pub mod invitations;
pub mod org;
pub mod series;
pub mod sessions;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;

pub type Pool = sqlx::SqlitePool;

/// Storage failures. Not-found and conflicts are decided by the services, not here.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// Opens (creating if needed) `<data_dir>/giaoban.db` in WAL mode and runs the migrations.
pub async fn open(data_dir: &Path) -> Result<Pool, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let path = data_dir.join("giaoban.db");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("src/store/migrations").run(&pool).await?;
    Ok(pool)
}
