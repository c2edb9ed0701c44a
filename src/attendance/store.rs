//! Attendance persistence (migrations 0006–0008): stints written as the live events arrive, the
//! heartbeat and the crash recovery that closes what a `kill -9` left open, manual marks.

use super::intervals::{SERVER_INTERRUPTED, Stint};
use super::summary::{Mark, Status};
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;

/// The socket of `participant_id` joined (idempotent).
pub async fn joined(
    conn: &mut SqliteConnection,
    participant_id: &str,
    session_id: &str,
    site_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO attendance_stints (participant_id, session_id, site_id, joined_at)
         VALUES (?, ?, ?, ?) ON CONFLICT (participant_id) DO NOTHING",
    )
    .bind(participant_id)
    .bind(session_id)
    .bind(site_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Its media connected: from `at` the site is present. True if this started the stint (the first
/// connected peer connection of an open stint).
pub async fn media_connected(
    conn: &mut SqliteConnection,
    participant_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE attendance_stints SET started_at = ?
         WHERE participant_id = ? AND started_at IS NULL AND ended_at IS NULL",
    )
    .bind(at)
    .bind(participant_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// It left. True if this closed a stint that had been present (media connected).
pub async fn left(
    conn: &mut SqliteConnection,
    participant_id: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE attendance_stints SET ended_at = ?, end_reason = ?
         WHERE participant_id = ? AND ended_at IS NULL",
    )
    .bind(at)
    .bind(reason)
    .bind(participant_id)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    let present: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT started_at FROM attendance_stints WHERE participant_id = ?")
            .bind(participant_id)
            .fetch_optional(conn)
            .await?;
    Ok(matches!(present, Some(Some(_))))
}

/// Number of stints of a session that started (media connected), and of those still open.
pub async fn counts(
    conn: &mut SqliteConnection,
    session_id: &str,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(started_at) AS started,
                COUNT(CASE WHEN started_at IS NOT NULL AND ended_at IS NULL THEN 1 END) AS open
         FROM attendance_stints WHERE session_id = ?",
    )
    .bind(session_id)
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("started")?, row.try_get("open")?))
}

/// Every present stint of a session, by site.
pub async fn stints(
    pool: &Pool,
    session_id: &str,
) -> Result<HashMap<String, Vec<Stint>>, StoreError> {
    let rows = sqlx::query(
        "SELECT site_id, started_at, ended_at, end_reason FROM attendance_stints
         WHERE session_id = ? AND started_at IS NOT NULL ORDER BY started_at",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<String, Vec<Stint>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("site_id")?).or_default().push(Stint {
            started_at: r.try_get("started_at")?,
            ended_at: r.try_get("ended_at")?,
            end_reason: r.try_get("end_reason")?,
        });
    }
    Ok(out)
}

/// Records that the server is alive at `at`.
pub async fn heartbeat(pool: &Pool, at: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO server_heartbeat (id, alive_at) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET alive_at = excluded.alive_at",
    )
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stint closed at start-up after a crash.
#[derive(Debug, Clone)]
pub struct Recovered {
    pub participant_id: String,
    pub session_id: String,
    pub site_id: String,
    pub ended_at: DateTime<Utc>,
    pub was_present: bool,
}

/// At start-up: closes every stint left open (the previous process died without writing its
/// leaves) at the last heartbeat, or at its own start if that is later, as "server interrupted".
pub async fn recover(pool: &Pool) -> Result<Vec<Recovered>, StoreError> {
    let mut tx = pool.begin().await?;
    // Take the write lock first (see audit::append_in).
    sqlx::query("UPDATE server_heartbeat SET alive_at = alive_at WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let alive: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT alive_at FROM server_heartbeat WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
    let open = sqlx::query(
        "SELECT participant_id, session_id, site_id, joined_at, started_at
         FROM attendance_stints WHERE ended_at IS NULL",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::new();
    for r in open {
        let joined: DateTime<Utc> = r.try_get("joined_at")?;
        let started: Option<DateTime<Utc>> = r.try_get("started_at")?;
        let own = started.unwrap_or(joined);
        let ended_at = alive.map_or(own, |a| a.max(own));
        let pid: String = r.try_get("participant_id")?;
        sqlx::query(
            "UPDATE attendance_stints SET ended_at = ?, end_reason = ? WHERE participant_id = ?",
        )
        .bind(ended_at)
        .bind(SERVER_INTERRUPTED)
        .bind(&pid)
        .execute(&mut *tx)
        .await?;
        out.push(Recovered {
            participant_id: pid,
            session_id: r.try_get("session_id")?,
            site_id: r.try_get("site_id")?,
            ended_at,
            was_present: started.is_some(),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Stores a manual mark and its audit entry in one transaction.
pub async fn add_mark(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    mark: &Mark,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO attendance_marks (session_id, site_id, status, reason, marked_by, marked_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(session_id)
    .bind(site_id)
    .bind(mark.status.as_str())
    .bind(&mark.reason)
    .bind(&mark.marked_by)
    .bind(mark.marked_at)
    .execute(&mut *tx)
    .await?;
    crate::audit::append_in(
        &mut tx,
        &mark.marked_by,
        crate::audit::actions::ATTENDANCE_MARK,
        session_id,
        serde_json::json!({
            "site_id": site_id, "status": mark.status.as_str(), "reason": mark.reason,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The mark in force per site of a session (the latest).
pub async fn marks(pool: &Pool, session_id: &str) -> Result<HashMap<String, Mark>, StoreError> {
    let rows = sqlx::query(
        "SELECT site_id, status, reason, marked_by, marked_at FROM attendance_marks
         WHERE session_id = ? ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let status: String = r.try_get("status")?;
        let Some(status) = Status::parse(&status) else {
            continue;
        };
        out.insert(
            r.try_get("site_id")?,
            Mark {
                status,
                reason: r.try_get("reason")?,
                marked_by: r.try_get("marked_by")?,
                marked_at: r.try_get("marked_at")?,
            },
        );
    }
    Ok(out)
}

/// Marks a session's attendance final; false if it already was.
pub async fn finalise(
    conn: &mut SqliteConnection,
    session_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO attendance_finalised (session_id, finalised_at) VALUES (?, ?)
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
