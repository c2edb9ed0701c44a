//! Persistence: the sqlx pool (SQLite by default, WAL), embedded migrations, and one repository
//! per aggregate (`org`, `sessions`). SQL is kept portable to Postgres: TEXT ids and RFC 3339
//! timestamps, no SQLite-only functions. The data directory is created private (0700) and the
//! database file 0600 before SQLite opens it, whatever the umask: SQLite gives its WAL and
//! shared-memory files the mode of the database file.

pub mod accounts;
pub mod invitations;
pub mod kiosk;
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
    let path = data_dir.join("giaoban.db");
    prepare_files(data_dir, &path).map_err(|source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    // Each pooled connection is a worker thread with its own page cache: when idle, keep few.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .idle_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?;
    sqlx::migrate!("src/store/migrations").run(&pool).await?;
    Ok(pool)
}

/// Creates the data directory (0700) if missing and the database file (0600), and narrows the
/// modes of an existing database and its WAL / shared-memory files to 0600.
fn prepare_files(data_dir: &Path, db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if !data_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_dir)?;
        } else if std::fs::metadata(data_dir)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(dir = %data_dir.display(), "the data directory is readable by others; chmod 700 it");
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir)?;
    let _ = db;
    Ok(())
}
