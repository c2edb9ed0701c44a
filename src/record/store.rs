//! The recordings' rows: recordings, their files, their timeline, reviewers' grants and
//! composite jobs (migration `0010_recordings.sql`). Plain queries; decisions live elsewhere.

use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecordingRow {
    pub id: String,
    pub session_id: String,
    /// `recording`, `complete`, `interrupted` (the server stopped during it), `failed`, `deleted`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub started_by: String,
    pub stopped_by: Option<String>,
    pub error: Option<String>,
    pub dropped_packets: i64,
    pub legal_hold: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FileRow {
    pub name: String,
    pub site_id: String,
    pub site_name: String,
    /// Where the file starts on the recording's clock (ms after the recording started).
    pub offset_ms: i64,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    /// `open`, `complete`, `interrupted`, `failed`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRow {
    pub seq: i64,
    /// Ms after the recording started.
    pub at_ms: i64,
    /// `recording_started`, `site_joined`, `site_left`, `track_published`, `track_ended`, `mute`,
    /// `recording_stopped`, ...
    pub kind: String,
    pub site_id: Option<String>,
    /// JSON object with the event's details.
    pub detail: String,
}

const REC_COLS: &str = "id, session_id, status, started_at, stopped_at, started_by, stopped_by, \
     error, dropped_packets, legal_hold";

pub async fn insert(
    pool: &Pool,
    id: &str,
    session_id: &str,
    started_at: DateTime<Utc>,
    by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recordings (id, session_id, status, started_at, started_by) \
         VALUES (?, ?, 'recording', ?, ?)",
    )
    .bind(id)
    .bind(session_id)
    .bind(started_at)
    .bind(by)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn finish(
    pool: &Pool,
    id: &str,
    status: &str,
    stopped_at: DateTime<Utc>,
    by: &str,
    error: Option<&str>,
    dropped: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE recordings SET status = ?, stopped_at = ?, stopped_by = ?, error = ?, \
         dropped_packets = ? WHERE id = ?",
    )
    .bind(status)
    .bind(stopped_at)
    .bind(by)
    .bind(error)
    .bind(dropped as i64)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn get(pool: &Pool, id: &str) -> Result<Option<RecordingRow>, StoreError> {
    let sql = format!("SELECT {REC_COLS} FROM recordings WHERE id = ?");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?)
}

pub async fn of_session(pool: &Pool, session_id: &str) -> Result<Vec<RecordingRow>, StoreError> {
    let sql = format!(
        "SELECT {REC_COLS} FROM recordings WHERE session_id = ? AND status <> 'deleted' \
         ORDER BY started_at"
    );
    Ok(sqlx::query_as(&sql)
        .bind(session_id)
        .fetch_all(pool)
        .await?)
}

pub async fn with_status(pool: &Pool, status: &str) -> Result<Vec<RecordingRow>, StoreError> {
    let sql = format!("SELECT {REC_COLS} FROM recordings WHERE status = ? ORDER BY started_at");
    Ok(sqlx::query_as(&sql).bind(status).fetch_all(pool).await?)
}

/// Every recording not deleted, newest first (the review list filters by grant).
pub async fn all(pool: &Pool) -> Result<Vec<RecordingRow>, StoreError> {
    let sql = format!(
        "SELECT {REC_COLS} FROM recordings WHERE status <> 'deleted' ORDER BY started_at DESC"
    );
    Ok(sqlx::query_as(&sql).fetch_all(pool).await?)
}

pub async fn open_file(
    pool: &Pool,
    recording_id: &str,
    name: &str,
    site: (&str, &str),
    offset_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recording_files (recording_id, name, site_id, site_name, offset_ms, status) \
         VALUES (?, ?, ?, ?, ?, 'open')",
    )
    .bind(recording_id)
    .bind(name)
    .bind(site.0)
    .bind(site.1)
    .bind(offset_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn close_file(
    pool: &Pool,
    recording_id: &str,
    name: &str,
    duration_ms: i64,
    bytes: u64,
    status: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE recording_files SET duration_ms = ?, bytes = ?, status = ? \
         WHERE recording_id = ? AND name = ?",
    )
    .bind(duration_ms)
    .bind(bytes as i64)
    .bind(status)
    .bind(recording_id)
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn files(pool: &Pool, recording_id: &str) -> Result<Vec<FileRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, site_id, site_name, offset_ms, duration_ms, bytes, status \
         FROM recording_files WHERE recording_id = ? ORDER BY offset_ms, name",
    )
    .bind(recording_id)
    .fetch_all(pool)
    .await?)
}

/// Appends a timeline event (its seq is the next of the recording).
pub async fn add_event(
    pool: &Pool,
    recording_id: &str,
    at_ms: i64,
    kind: &str,
    site_id: Option<&str>,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recording_events (recording_id, seq, at_ms, kind, site_id, detail) \
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM recording_events WHERE recording_id = ?), \
         ?, ?, ?, ?)",
    )
    .bind(recording_id)
    .bind(recording_id)
    .bind(at_ms)
    .bind(kind)
    .bind(site_id)
    .bind(detail.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn events(pool: &Pool, recording_id: &str) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT seq, at_ms, kind, site_id, detail FROM recording_events \
         WHERE recording_id = ? ORDER BY seq",
    )
    .bind(recording_id)
    .fetch_all(pool)
    .await?)
}
