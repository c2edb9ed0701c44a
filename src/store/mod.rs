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

/// How many pooled connections, and for how long an idle one is kept.
#[derive(Debug, Clone, Copy)]
struct PoolLimits {
    max: u32,
    min: u32,
    idle: std::time::Duration,
}

/// Each pooled connection is a worker thread with its own page cache, statements and schema
/// (0.35–0.5 MB once used). A burst (many sites joining) opens up to `max`; once it is over,
/// every connection closes `idle` to `2 × idle` after its last use (the pool checks every
/// `idle`). None is kept warm: sqlx closes even the `min` ones when idle and opens new ones in
/// their place, so a kept one would only be reopened every few seconds (and, being the last,
/// check-pointed and its WAL file removed each time). Opening one costs a few milliseconds (a
/// local file; the schema is read at its first statement), so a short idle time costs a burst
/// little and gives an idle server this memory back within seconds.
const POOL: PoolLimits = PoolLimits {
    max: 8,
    min: 0,
    idle: std::time::Duration::from_secs(3),
};

/// Opens (creating if needed) `<data_dir>/giaoban.db` in WAL mode and runs the migrations.
pub async fn open(data_dir: &Path) -> Result<Pool, StoreError> {
    open_with(data_dir, POOL).await
}

async fn open_with(data_dir: &Path, limits: PoolLimits) -> Result<Pool, StoreError> {
    if !crate::memory::sqlite_on_jemalloc() {
        tracing::debug!("SQLite was in use before the store opened: it keeps malloc");
    }
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
    let pool = SqlitePoolOptions::new()
        .max_connections(limits.max)
        .min_connections(limits.min)
        .idle_timeout(limits.idle)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_burst_opens_connections_and_they_close_once_idle() {
        let dir = tempfile::tempdir().unwrap();
        let idle = Duration::from_millis(200);
        let pool = open_with(
            dir.path(),
            PoolLimits {
                max: 6,
                min: 0,
                idle,
            },
        )
        .await
        .unwrap();
        // A burst: six requests at once are served by six connections.
        let mut held = Vec::new();
        for _ in 0..6 {
            let mut conn = pool.acquire().await.unwrap();
            let one: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert!(one > 0);
            held.push(conn);
        }
        assert_eq!(pool.size(), 6);
        drop(held);
        // Idle: they all close within two idle periods (the pool checks every `idle`).
        let start = Instant::now();
        while pool.size() > 0 {
            assert!(
                start.elapsed() < idle * 2 + Duration::from_secs(2),
                "{} connections left",
                pool.size()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // And the pool still serves: the data is there, on a new connection.
        let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(tables > 0);
        assert_eq!(pool.size(), 1);
    }
}
