//! Repository of invitations (migration 0005): one row per invited site of a session with its
//! readiness status, the version of its join link and the connection-test report. Rows are created
//! from `session_sites` by [`ensure`] (idempotent, so an invitation is never lost even if it was
//! not written with its session). Every change that the audit log records writes the invitation
//! first (taking the write lock) and appends the audit row in the same transaction.

use super::{Pool, StoreError};
use crate::audit;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::SqliteConnection;

/// A stored invitation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub session_id: String,
    pub site_id: String,
    pub status: String,
    pub link_version: i64,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub tested_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    pub test_result: Option<String>,
    pub test_result_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// An invitation with the site it invites, as the board lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoardRow {
    #[sqlx(flatten)]
    pub invitation: InvitationRow,
    pub site_name: String,
    pub unit_id: String,
    pub unit_name: String,
    pub is_host: bool,
}

const COLUMNS: &str =
    "i.session_id, i.site_id, i.status, i.link_version, i.issued_at, i.revoked_at,
    i.confirmed_at, i.tested_at, i.ready_at, i.test_result, i.test_result_at, i.updated_at";

/// The status ranks of the forward path; `revoked` is outside it.
const RANK: &str = "CASE status WHEN 'invited' THEN 0 WHEN 'confirmed' THEN 1 WHEN 'tested' THEN 2
    WHEN 'ready' THEN 3 ELSE 4 END";

/// The link version of a new invitation (tokens of links issued with the session carry it).
pub const FIRST_LINK_VERSION: u32 = 1;

/// Creates the missing invitations of a session's invited sites (status `invited`, link version
/// [`FIRST_LINK_VERSION`], issued at `now`); existing rows are left alone. Call it in the
/// transaction that stores or edits the session's sites; readers call [`ensure`] too, so an
/// invitation is never missing.
pub async fn ensure_in(
    conn: &mut SqliteConnection,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // `WHERE` before `ON CONFLICT` keeps SQLite's parser from reading it as a join constraint.
    sqlx::query(
        "INSERT INTO invitations (session_id, site_id, status, link_version, issued_at, updated_at)
         SELECT ss.session_id, ss.site_id, 'invited', ?, ?, ? FROM session_sites ss
         WHERE ss.session_id = ?
         ON CONFLICT (session_id, site_id) DO NOTHING",
    )
    .bind(i64::from(FIRST_LINK_VERSION))
    .bind(now)
    .bind(now)
    .bind(session_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`ensure_in`] on a connection of the pool, when an invitation is missing: readers call this
/// on every board refresh, so the usual case is one read and no write lock.
pub async fn ensure(pool: &Pool, session_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let missing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM session_sites ss WHERE ss.session_id = ? AND NOT EXISTS (
           SELECT 1 FROM invitations i WHERE i.session_id = ss.session_id AND i.site_id = ss.site_id)",
    )
    .bind(session_id)
    .fetch_one(&mut *conn)
    .await?;
    if missing > 0 {
        ensure_in(&mut conn, session_id, now).await?;
    }
    Ok(())
}

/// The invitation of a site that is (still) invited to the session.
pub async fn get(
    conn: &mut SqliteConnection,
    session_id: &str,
    site_id: &str,
) -> Result<Option<InvitationRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invitations i JOIN session_sites ss
           ON ss.session_id = i.session_id AND ss.site_id = i.site_id
         WHERE i.session_id = ? AND i.site_id = ?"
    );
    Ok(sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(session_id)
        .bind(site_id)
        .fetch_optional(conn)
        .await?)
}

/// The invitations of every site invited to the session: the host first, then by unit and name.
pub async fn board(pool: &Pool, session_id: &str) -> Result<Vec<BoardRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, st.name AS site_name, st.unit_id, u.name AS unit_name,
                (st.id = s.host_site_id) AS is_host
         FROM session_sites ss
         JOIN sessions s ON s.id = ss.session_id
         JOIN invitations i ON i.session_id = ss.session_id AND i.site_id = ss.site_id
         JOIN sites st ON st.id = ss.site_id
         JOIN units u ON u.id = st.unit_id
         WHERE ss.session_id = ?
         ORDER BY (st.id = s.host_site_id) DESC, u.id, st.name"
    );
    Ok(sqlx::query_as::<_, BoardRow>(&sql)
        .bind(session_id)
        .fetch_all(pool)
        .await?)
}

/// One audited change of an invitation: the update (run first, so it takes the write lock), the
/// audit row, the row as it is afterwards. `None` when no row matched (nothing is written).
async fn change<'q>(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    update: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    audit_entry: Option<(&str, &str, Value)>,
) -> Result<Option<InvitationRow>, StoreError> {
    let mut tx = pool.begin().await?;
    if update.execute(&mut *tx).await?.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    if let Some((actor, action, detail)) = audit_entry {
        audit::append_in(&mut tx, actor, action, session_id, detail).await?;
    }
    let row = get(&mut tx, session_id, site_id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The condition every change shares: this invitation, of a site still invited.
const THIS_INVITATION: &str = "session_id = ? AND site_id = ? AND EXISTS (SELECT 1 FROM
    session_sites ss WHERE ss.session_id = invitations.session_id AND ss.site_id = invitations.site_id)";

/// Bumps the link version (older links stop working); a revoked invitation becomes `invited`.
pub async fn reissue(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    actor: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, StoreError> {
    let sql = format!(
        "UPDATE invitations SET link_version = link_version + 1, issued_at = ?,
           status = CASE WHEN status = 'revoked' THEN 'invited' ELSE status END,
           revoked_at = NULL, updated_at = ?
         WHERE {THIS_INVITATION}"
    );
    let update = sqlx::query(&sql)
        .bind(now)
        .bind(now)
        .bind(session_id)
        .bind(site_id);
    let detail = serde_json::json!({ "site_id": site_id });
    let row = change(
        pool,
        session_id,
        site_id,
        update,
        Some((actor, action, detail)),
    )
    .await?;
    Ok(row)
}

/// Marks the invitation revoked (its link stops working). Revoking twice changes nothing more.
pub async fn revoke(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    actor: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, StoreError> {
    let sql = format!(
        "UPDATE invitations SET status = 'revoked', revoked_at = ?, updated_at = ?
         WHERE {THIS_INVITATION} AND status <> 'revoked'"
    );
    let update = sqlx::query(&sql)
        .bind(now)
        .bind(now)
        .bind(session_id)
        .bind(site_id);
    let detail = serde_json::json!({ "site_id": site_id });
    match change(
        pool,
        session_id,
        site_id,
        update,
        Some((actor, action, detail)),
    )
    .await?
    {
        Some(row) => Ok(Some(row)),
        None => get(&mut *pool.acquire().await?, session_id, site_id).await,
    }
}

/// Records that the invitation reached `status` (`confirmed`, `tested` or `ready`): sets that
/// stage's time if not set yet and moves the status forward, never back. Refused (no row matched,
/// `None`) for a revoked invitation, and when `only_forward` is set and the status would not
/// move. `status` must be one of the three names; it also names the time column.
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    status: &'static str,
    only_forward: bool,
    actor: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, StoreError> {
    let (column, rank) = match status {
        "confirmed" => ("confirmed_at", 1),
        "tested" => ("tested_at", 2),
        "ready" => ("ready_at", 3),
        other => unreachable!("not a forward status: {other}"),
    };
    let forward_only = if only_forward {
        format!(" AND {RANK} < {rank}")
    } else {
        String::new()
    };
    let sql = format!(
        "UPDATE invitations SET
           status = CASE WHEN {RANK} < {rank} THEN ? ELSE status END,
           {column} = COALESCE({column}, ?), updated_at = ?
         WHERE {THIS_INVITATION} AND status <> 'revoked'{forward_only}"
    );
    let update = sqlx::query(&sql)
        .bind(status)
        .bind(now)
        .bind(now)
        .bind(session_id)
        .bind(site_id);
    let detail = serde_json::json!({ "site_id": site_id, "status": status });
    change(
        pool,
        session_id,
        site_id,
        update,
        Some((actor, action, detail)),
    )
    .await
}

/// Stores the room page's connection-test report (JSON) on the invitation.
pub async fn record_test(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
    result: &Value,
    now: DateTime<Utc>,
) -> Result<Option<InvitationRow>, StoreError> {
    let sql = format!(
        "UPDATE invitations SET test_result = ?, test_result_at = ?, updated_at = ?
         WHERE {THIS_INVITATION}"
    );
    let update = sqlx::query(&sql)
        .bind(result.to_string())
        .bind(now)
        .bind(now)
        .bind(session_id)
        .bind(site_id);
    change(pool, session_id, site_id, update, None).await
}
