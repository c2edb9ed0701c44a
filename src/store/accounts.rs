//! Repository of accounts: users with their role grants, login sessions and room-PC device
//! credentials. Only hashes of secrets are stored; every write that changes who may do what is
//! audited in the same transaction.

use super::{Pool, StoreError};
use crate::audit::{actions, append_in};
use crate::auth::roles::{Grant, Role};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct GrantRow {
    role: String,
    unit_id: Option<String>,
    site_id: Option<String>,
}

/// A device credential as listed (never the token itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeviceRow {
    pub id: String,
    pub site_id: String,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Creates a user with its grants (audited as `permission.grant`).
pub async fn insert_user(
    pool: &Pool,
    user: &UserRow,
    grants: &[Grant],
    actor: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let detail = serde_json::json!({ "username": user.username, "grants": grants });
    append_in(
        &mut tx,
        actor,
        actions::PERMISSION_GRANT,
        &format!("user:{}", user.id),
        detail,
    )
    .await?;
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, disabled, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.disabled)
    .bind(user.created_at)
    .execute(&mut *tx)
    .await?;
    for g in grants {
        sqlx::query("INSERT INTO user_roles (user_id, role, unit_id, site_id) VALUES (?, ?, ?, ?)")
            .bind(&user.id)
            .bind(g.role.as_str())
            .bind(&g.unit_id)
            .bind(&g.site_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

const USER_SELECT: &str =
    "SELECT id, username, display_name, password_hash, disabled, created_at FROM users";

pub async fn user_by_username(pool: &Pool, username: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("{USER_SELECT} WHERE username = ?");
    Ok(sqlx::query_as(&sql)
        .bind(username)
        .fetch_optional(pool)
        .await?)
}

pub async fn user_by_id(pool: &Pool, id: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("{USER_SELECT} WHERE id = ?");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?)
}

pub async fn list_users(pool: &Pool) -> Result<Vec<(UserRow, Vec<Grant>)>, StoreError> {
    let sql = format!("{USER_SELECT} ORDER BY username");
    let users: Vec<UserRow> = sqlx::query_as(&sql).fetch_all(pool).await?;
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        let grants = grants(pool, &u.id).await?;
        out.push((u, grants));
    }
    Ok(out)
}

pub async fn grants(pool: &Pool, user_id: &str) -> Result<Vec<Grant>, StoreError> {
    let rows: Vec<GrantRow> =
        sqlx::query_as("SELECT role, unit_id, site_id FROM user_roles WHERE user_id = ?")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Grant {
                role: Role::parse(&r.role)?,
                unit_id: r.unit_id,
                site_id: r.site_id,
            })
        })
        .collect())
}

pub async fn count_users(pool: &Pool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?)
}

/// Records a login (audited) and its session.
pub async fn insert_login(
    pool: &Pool,
    token_hash: &str,
    user: &UserRow,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let detail = serde_json::json!({ "username": user.username });
    append_in(
        &mut tx,
        &format!("user:{}", user.username),
        actions::LOGIN,
        &format!("user:{}", user.id),
        detail,
    )
    .await?;
    sqlx::query(
        "INSERT INTO login_sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(&user.id)
    .bind(csrf)
    .bind(Utc::now())
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The user and CSRF token of a live login session.
pub async fn login_session(
    pool: &Pool,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(UserRow, String)>, StoreError> {
    let row: Option<(String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT user_id, csrf, expires_at FROM login_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?;
    let Some((user_id, csrf, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at <= now {
        return Ok(None);
    }
    Ok(user_by_id(pool, &user_id)
        .await?
        .filter(|u| !u.disabled)
        .map(|u| (u, csrf)))
}

pub async fn delete_login(pool: &Pool, token_hash: &str, actor: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    append_in(
        &mut tx,
        actor,
        actions::LOGOUT,
        actor,
        serde_json::json!({}),
    )
    .await?;
    sqlx::query("DELETE FROM login_sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Issues a device credential for a site's room PC (audited).
pub async fn insert_device(
    pool: &Pool,
    row: &DeviceRow,
    token_hash: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let detail = serde_json::json!({ "site_id": row.site_id, "label": row.label });
    append_in(
        &mut tx,
        &row.created_by,
        actions::PERMISSION_GRANT,
        &format!("device:{}", row.id),
        detail,
    )
    .await?;
    sqlx::query(
        "INSERT INTO device_tokens (id, site_id, label, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.id)
    .bind(&row.site_id)
    .bind(&row.label)
    .bind(token_hash)
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The live (not revoked) device with this token hash.
pub async fn device_by_token(
    pool: &Pool,
    token_hash: &str,
) -> Result<Option<DeviceRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, site_id, label, created_by, created_at, revoked_at FROM device_tokens
         WHERE token_hash = ? AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?)
}

pub async fn devices_of_site(pool: &Pool, site_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, site_id, label, created_by, created_at, revoked_at FROM device_tokens
         WHERE site_id = ? ORDER BY created_at",
    )
    .bind(site_id)
    .fetch_all(pool)
    .await?)
}

/// The site of a live (not revoked) device credential.
pub async fn live_device_site(pool: &Pool, id: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT site_id FROM device_tokens WHERE id = ? AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Revokes a device credential (audited). Returns false when there is no such live device.
pub async fn revoke_device(pool: &Pool, id: &str, actor: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    append_in(
        &mut tx,
        actor,
        actions::PERMISSION_REVOKE,
        &format!("device:{id}"),
        serde_json::json!({}),
    )
    .await?;
    let done =
        sqlx::query("UPDATE device_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(Utc::now())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if done == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}
