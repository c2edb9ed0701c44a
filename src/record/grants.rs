//! Reviewers' access to recordings: a grant gives one user view and/or download of one recording
//! or of every recording of a session, until it expires or is revoked. Organisers (a role that
//! may read the session's recordings, in scope) need no grant. [`access`] decides (pure); the
//! rest are the grants' rows.

use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a user may do with a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Access {
    pub view: bool,
    pub download: bool,
}

/// A grant as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct GrantRow {
    pub id: String,
    pub user_id: String,
    pub recording_id: Option<String>,
    pub session_id: Option<String>,
    pub can_view: bool,
    pub can_download: bool,
    pub expires_at: DateTime<Utc>,
    pub granted_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Organisers may do everything; others what their live grants (unrevoked, not expired, for this
/// recording or its session) add up to.
pub fn access(organiser: bool, grants: &[GrantRow], now: DateTime<Utc>) -> Access {
    if organiser {
        return Access {
            view: true,
            download: true,
        };
    }
    grants
        .iter()
        .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
        .fold(Access::default(), |a, g| Access {
            view: a.view || g.can_view || g.can_download,
            download: a.download || g.can_download,
        })
}

const COLS: &str = "id, user_id, recording_id, session_id, can_view, can_download, expires_at, \
     granted_by, created_at, revoked_at";

/// The grants of `user_id` that may cover `recording_id` (of `session_id`).
pub async fn of_user(
    pool: &Pool,
    user_id: &str,
    recording_id: &str,
    session_id: &str,
) -> Result<Vec<GrantRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM recording_grants WHERE user_id = ? \
         AND (recording_id = ? OR session_id = ?)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(user_id)
        .bind(recording_id)
        .bind(session_id)
        .fetch_all(pool)
        .await?)
}

/// Every grant a user holds (for the review list).
pub async fn all_of_user(pool: &Pool, user_id: &str) -> Result<Vec<GrantRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM recording_grants WHERE user_id = ?");
    Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?)
}

/// The grants on a recording (its own and its session's).
pub async fn on_recording(
    pool: &Pool,
    recording_id: &str,
    session_id: &str,
) -> Result<Vec<GrantRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM recording_grants WHERE recording_id = ? OR session_id = ? \
         ORDER BY created_at"
    );
    Ok(sqlx::query_as(&sql)
        .bind(recording_id)
        .bind(session_id)
        .fetch_all(pool)
        .await?)
}

pub async fn insert(pool: &Pool, g: &GrantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recording_grants (id, user_id, recording_id, session_id, can_view, \
         can_download, expires_at, granted_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&g.id)
    .bind(&g.user_id)
    .bind(&g.recording_id)
    .bind(&g.session_id)
    .bind(g.can_view)
    .bind(g.can_download)
    .bind(g.expires_at)
    .bind(&g.granted_by)
    .bind(g.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Revokes a grant on a recording; false when there is no such live grant.
pub async fn revoke(
    pool: &Pool,
    id: &str,
    recording_id: &str,
    session_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE recording_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL \
         AND (recording_id = ? OR session_id = ?)",
    )
    .bind(at)
    .bind(id)
    .bind(recording_id)
    .bind(session_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(view: bool, download: bool, expires_in: i64, revoked: bool) -> GrantRow {
        let now = Utc::now();
        GrantRow {
            id: "g".into(),
            user_id: "u".into(),
            recording_id: Some("r".into()),
            session_id: None,
            can_view: view,
            can_download: download,
            expires_at: now + chrono::Duration::seconds(expires_in),
            granted_by: "x".into(),
            created_at: now,
            revoked_at: revoked.then_some(now),
        }
    }

    #[test]
    fn grants_add_up_until_they_expire_or_are_revoked() {
        let now = Utc::now();
        assert_eq!(access(false, &[], now), Access::default());
        assert!(access(true, &[], now).download, "organisers need no grant");
        let view = grant(true, false, 60, false);
        assert_eq!(
            access(false, std::slice::from_ref(&view), now),
            Access {
                view: true,
                download: false
            }
        );
        let both = [view.clone(), grant(false, true, 60, false)];
        assert_eq!(
            access(false, &both, now),
            Access {
                view: true,
                download: true
            }
        );
        assert_eq!(
            access(false, &[grant(true, true, -1, false)], now),
            Access::default()
        );
        assert_eq!(
            access(false, &[grant(true, true, 60, true)], now),
            Access::default()
        );
    }
}
