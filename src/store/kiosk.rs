//! Repository of what room PCs and sites without one are given (migration 0011): the stable link
//! of each site (its version, revocation) and the pairing codes of kiosks (hash, device, expiry,
//! use). Every change is audited in its own transaction; redeeming a code marks it used and gives
//! its device a new credential hash in one transaction, so a code pairs at most one browser.

use super::{Pool, StoreError};
use crate::audit::{actions, append_in};
use chrono::{DateTime, Utc};

/// A site's stable link row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SiteLinkRow {
    pub site_id: String,
    pub version: i64,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn site_link(pool: &Pool, site_id: &str) -> Result<Option<SiteLinkRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT site_id, version, issued_at, issued_by, revoked_at FROM site_links WHERE site_id = ?",
    )
    .bind(site_id)
    .fetch_optional(pool)
    .await?)
}

/// The site's link row, created at version 1 (audited as `sitelink.issue`) when missing.
pub async fn ensure_site_link(
    pool: &Pool,
    site_id: &str,
    actor: &str,
) -> Result<SiteLinkRow, StoreError> {
    if let Some(row) = site_link(pool, site_id).await? {
        return Ok(row);
    }
    let mut tx = pool.begin().await?;
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO site_links (site_id, version, issued_at, issued_by) VALUES (?, 1, ?, ?)
         ON CONFLICT (site_id) DO NOTHING",
    )
    .bind(site_id)
    .bind(now)
    .bind(actor)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted > 0 {
        let detail = serde_json::json!({ "version": 1 });
        append_in(
            &mut tx,
            actor,
            actions::SITE_LINK_ISSUE,
            &format!("site:{site_id}"),
            detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(site_link(pool, site_id)
        .await?
        .expect("the row was just written"))
}

/// A new version of the site's link (older ones stop working; a revoked link works again in its
/// new version). Audited as `sitelink.issue`.
pub async fn reissue_site_link(
    pool: &Pool,
    site_id: &str,
    actor: &str,
) -> Result<SiteLinkRow, StoreError> {
    ensure_site_link(pool, site_id, actor).await?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE site_links SET version = version + 1, issued_at = ?, issued_by = ?, revoked_at = NULL
         WHERE site_id = ?",
    )
    .bind(Utc::now())
    .bind(actor)
    .bind(site_id)
    .execute(&mut *tx)
    .await?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM site_links WHERE site_id = ?")
        .bind(site_id)
        .fetch_one(&mut *tx)
        .await?;
    let detail = serde_json::json!({ "version": version });
    append_in(
        &mut tx,
        actor,
        actions::SITE_LINK_ISSUE,
        &format!("site:{site_id}"),
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(site_link(pool, site_id).await?.expect("written"))
}

/// Revokes the site's link: no version works until the next re-issue. Audited once as
/// `sitelink.revoke`; revoking a revoked link changes nothing.
pub async fn revoke_site_link(
    pool: &Pool,
    site_id: &str,
    actor: &str,
) -> Result<SiteLinkRow, StoreError> {
    ensure_site_link(pool, site_id, actor).await?;
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE site_links SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL",
    )
    .bind(Utc::now())
    .bind(site_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done > 0 {
        append_in(
            &mut tx,
            actor,
            actions::SITE_LINK_REVOKE,
            &format!("site:{site_id}"),
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(site_link(pool, site_id).await?.expect("written"))
}

/// A device credential whatever its state (to tell "revoked" from "unknown").
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceState {
    pub id: String,
    pub site_id: String,
    pub label: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn device_by_token_any(
    pool: &Pool,
    token_hash: &str,
) -> Result<Option<DeviceState>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, site_id, label, revoked_at FROM device_tokens WHERE token_hash = ?",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?)
}

pub async fn device_revoked(pool: &Pool, id: &str) -> Result<bool, StoreError> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM device_tokens WHERE id = ? AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(live.is_none())
}

/// Stores a pairing code (its hash) for a device, valid until `expires_at`.
pub async fn insert_pairing(
    pool: &Pool,
    code_hash: &str,
    device_id: &str,
    actor: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO device_pairings (code_hash, device_id, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(code_hash)
    .bind(device_id)
    .bind(actor)
    .bind(Utc::now())
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Why a code does not pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Used,
    Expired,
    DeviceRevoked,
}

/// A pairing code's row with its device's revocation.
#[derive(sqlx::FromRow)]
struct PairingRow {
    device_id: String,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Redeems a code: marks it used and sets the device's credential to `new_token_hash`, audited
/// as `device.pair` — or says why not (and writes nothing). Returns the device.
pub async fn redeem_pairing(
    pool: &Pool,
    code_hash: &str,
    new_token_hash: &str,
    now: DateTime<Utc>,
    from: &str,
) -> Result<Result<DeviceState, Refusal>, StoreError> {
    let mut tx = pool.begin().await?;
    // Write first: this takes the write lock, so two browsers racing with one code cannot both win.
    let claimed = sqlx::query(
        "UPDATE device_pairings SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?
           AND EXISTS (SELECT 1 FROM device_tokens d WHERE d.id = device_pairings.device_id AND d.revoked_at IS NULL)",
    )
    .bind(now)
    .bind(code_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let row: Option<PairingRow> = sqlx::query_as(
        "SELECT p.device_id, p.expires_at, p.used_at, d.revoked_at FROM device_pairings p
         JOIN device_tokens d ON d.id = p.device_id WHERE p.code_hash = ?",
    )
    .bind(code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(PairingRow {
        device_id,
        expires_at,
        used_at,
        revoked_at,
    }) = row
    else {
        tx.rollback().await?;
        return Ok(Err(Refusal::Unknown));
    };
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(Err(if used_at.is_some() {
            Refusal::Used
        } else if revoked_at.is_some() {
            Refusal::DeviceRevoked
        } else if expires_at <= now {
            Refusal::Expired
        } else {
            Refusal::Unknown
        }));
    }
    sqlx::query("UPDATE device_tokens SET token_hash = ? WHERE id = ?")
        .bind(new_token_hash)
        .bind(&device_id)
        .execute(&mut *tx)
        .await?;
    let device: DeviceState =
        sqlx::query_as("SELECT id, site_id, label, revoked_at FROM device_tokens WHERE id = ?")
            .bind(&device_id)
            .fetch_one(&mut *tx)
            .await?;
    append_in(
        &mut tx,
        &format!("device:{}/{}", device.site_id, device.id),
        actions::DEVICE_PAIR,
        &format!("device:{}", device.id),
        serde_json::json!({ "site_id": device.site_id, "from": from }),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(device))
}

/// Whether the site's invitation to the session is revoked.
pub async fn invitation_revoked(
    pool: &Pool,
    session_id: &str,
    site_id: &str,
) -> Result<bool, StoreError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM invitations WHERE session_id = ? AND site_id = ?")
            .bind(session_id)
            .bind(site_id)
            .fetch_optional(pool)
            .await?;
    Ok(status.as_deref() == Some("revoked"))
}
