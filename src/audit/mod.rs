//! The audit log (nhật ký hệ thống): an append-only, hash-chained record of who did what, for the
//! auditor role. This module owns its persistence (`audit_log` and the one-row `audit_head`,
//! migration 0002): appending under a lock so concurrent writers never fork the chain, listing
//! with filters, and verifying the whole stored chain. The hashing and verification rules are the
//! pure core in [`chain`]; the action names are in [`actions`].
//!
//! Serialisation of writers: every append first runs `UPDATE audit_head SET seq = seq + 1`, a
//! write before any read. On SQLite that takes the database write lock at once (writers queue on
//! `busy_timeout`, and no transaction can hold a stale read snapshot of the head), which is what
//! `BEGIN IMMEDIATE` would do; on Postgres it takes the head row's lock. Only then is the previous
//! hash read and the new row inserted, and the head is moved to the new hash in the same
//! transaction.
//!
//! Limits: the chain is unkeyed, so someone with write access who rewrites every row after an
//! edit (and the head) produces a consistent chain. [`anchor`] signs the head from time to time
//! into a file kept outside the database (ship it off the machine); verifying against it catches
//! a truncated tail or a moved head.

pub mod actions;
pub mod anchor;
#[cfg(test)]
mod anchor_tests;
pub mod chain;
pub mod live;
#[cfg(test)]
mod tests;

pub use chain::{ChainError, ChainedEntry, Entry, GENESIS_HASH, Verifier, entry_hash, verify};

use crate::store::{Pool, StoreError};
use chain::{canonical_json, format_at, normalize_detail};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

/// Page size of [`list`] when the filter names none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page [`list`] returns.
pub const MAX_LIMIT: u32 = 1000;
/// Rows read per query while verifying.
const VERIFY_PAGE: i64 = 1000;

/// What [`list`] selects. Every field is optional; `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// Why [`verify_all`] failed: the database could not be read, or the chain is broken.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl From<sqlx::Error> for VerifyError {
    fn from(e: sqlx::Error) -> Self {
        VerifyError::Store(e.into())
    }
}

/// The chain head: the last seq and its hash (seq 0 and [`GENESIS_HASH`] when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Appends one entry in its own transaction and returns it as stored.
pub async fn append(
    pool: &Pool,
    actor: &str,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<Entry, StoreError> {
    let mut tx = pool.begin().await?;
    let entry = append_in(&mut tx, actor, action, target, detail).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Appends one entry inside the caller's transaction, so the audit row commits or rolls back with
/// the change it records. On SQLite, do this as the transaction's first statement (or after other
/// writes only): after a read, taking the write lock can fail with "database is locked" instead
/// of waiting. The chain cannot fork either way.
pub async fn append_in(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<Entry, StoreError> {
    // Write first: this takes the lock that serialises appends (see the module docs).
    sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;

    let entry = Entry {
        seq,
        // Stored with microseconds, so the hash can be recomputed from what is read back.
        at: Utc::now().trunc_subsecs(6),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: normalize_detail(detail),
    };
    let hash = entry_hash(&prev_hash, &entry);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.seq)
    .bind(format_at(&entry.at))
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(canonical_json(&entry.detail))
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = ? WHERE id = 1")
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(entry)
}

/// Entries matching the filter, newest first.
pub async fn list(pool: &Pool, filter: &AuditFilter) -> Result<Vec<Entry>, StoreError> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log WHERE 1 = 1",
    );
    if let Some(actor) = &filter.actor {
        qb.push(" AND actor = ").push_bind(actor.clone());
    }
    if let Some(action) = &filter.action {
        qb.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(target) = &filter.target {
        qb.push(" AND target = ").push_bind(target.clone());
    }
    // `at` is fixed-width UTC text, so text order is time order.
    if let Some(from) = &filter.from {
        qb.push(" AND at >= ").push_bind(format_at(from));
    }
    if let Some(to) = &filter.to {
        qb.push(" AND at < ").push_bind(format_at(to));
    }
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(i64::from(filter.offset.unwrap_or(0)));
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| match decode(row) {
            Ok(chained) => Ok(chained.entry),
            Err(VerifyError::Store(e)) => Err(e),
            Err(VerifyError::Chain(e)) => Err(StoreError::Db(sqlx::Error::Decode(Box::new(e)))),
        })
        .collect()
}

/// The current chain head.
pub async fn head(pool: &Pool) -> Result<Head, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(Head {
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
    })
}

/// Verifies the whole stored chain from seq 1, and that it ends at the head. Reads one consistent
/// snapshot, page by page. Returns the number of entries.
pub async fn verify_all(pool: &Pool) -> Result<usize, VerifyError> {
    let mut tx = pool.begin().await?;
    let head_row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let head_seq: i64 = head_row.try_get("seq")?;
    let head_hash: String = head_row.try_get("hash")?;

    let mut verifier = Verifier::new();
    // Start below any seq, so rows smuggled in with seq <= 0 are seen (as a gap).
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log
             WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(VERIFY_PAGE)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("seq")?;
        for row in &rows {
            verifier.push(&decode(row)?)?;
        }
    }
    tx.rollback().await?;

    let last_seq = verifier.last_seq();
    if last_seq != head_seq || verifier.last_hash() != head_hash {
        let seq = if last_seq == head_seq {
            last_seq
        } else {
            last_seq.min(head_seq) + 1
        };
        return Err(ChainError::HeadMismatch {
            seq,
            head_seq,
            last_seq,
        }
        .into());
    }
    Ok(verifier.count())
}

/// Decodes a stored row; undecodable contents are a chain error naming the row.
fn decode(row: &SqliteRow) -> Result<ChainedEntry, VerifyError> {
    let seq: i64 = row.try_get("seq")?;
    let malformed = |reason: String| ChainError::Malformed { seq, reason };
    let at: String = row.try_get("at")?;
    let at = DateTime::parse_from_rfc3339(&at)
        .map_err(|e| malformed(format!("at {at:?}: {e}")))?
        .with_timezone(&Utc);
    let detail: String = row.try_get("detail")?;
    let detail: Value =
        serde_json::from_str(&detail).map_err(|e| malformed(format!("detail: {e}")))?;
    Ok(ChainedEntry {
        entry: Entry {
            seq,
            at,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            detail,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
