//! Repository of sessions and their invited sites. Writes happen in one transaction, so a
//! session is never stored without its invitations.

use super::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored briefing session.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: String,
    pub title: String,
    pub host_site_id: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Inserts the session and its invited sites (the host site included), and records it in the
/// audit log in the same transaction (the audit row first: it takes the write lock).
pub async fn insert(
    pool: &Pool,
    row: &SessionRow,
    site_ids: &[String],
    actor: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let detail = serde_json::json!({
        "title": row.title,
        "host_site_id": row.host_site_id,
        "site_ids": site_ids,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
    });
    let action = crate::audit::actions::SESSION_CREATE;
    crate::audit::append_in(&mut tx, actor, action, &row.id, detail).await?;
    sqlx::query(
        "INSERT INTO sessions (id, title, host_site_id, starts_at, ends_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.id)
    .bind(&row.title)
    .bind(&row.host_site_id)
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.created_at)
    .execute(&mut *tx)
    .await?;
    for site in site_ids {
        sqlx::query("INSERT INTO session_sites (session_id, site_id) VALUES (?, ?)")
            .bind(&row.id)
            .bind(site)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(pool: &Pool, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(sqlx::query_as::<_, SessionRow>(
        "SELECT id, title, host_site_id, starts_at, ends_at, created_at FROM sessions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Ids of the sites invited to a session, host first then by id.
pub async fn site_ids(pool: &Pool, session_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT ss.site_id FROM session_sites ss JOIN sessions s ON s.id = ss.session_id
         WHERE ss.session_id = ? ORDER BY (ss.site_id = s.host_site_id) DESC, ss.site_id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?)
}

pub async fn is_invited(pool: &Pool, session_id: &str, site_id: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM session_sites WHERE session_id = ? AND site_id = ?",
    )
    .bind(session_id)
    .bind(site_id)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}
