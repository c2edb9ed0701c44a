//! Retention: a recording is kept for the days its session's kind allows (`[record]`
//! `retention_days` for one-off sessions, `retention_days_recurring` for occurrences of a
//! series; 0 keeps for ever), unless it is under legal hold. A background sweep deletes the
//! expired ones (the folder, then the row marked `deleted`) and audits each deletion.
//! [`expired`] decides (pure); [`sweep`] acts.

use super::store::{self, RecordingRow};
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::path::Path;

/// Days a recording is kept, per kind of session (0: for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub one_off_days: u32,
    pub recurring_days: u32,
}

/// Whether `rec` (of a recurring session or not) is past its retention at `now`. A running
/// recording and one under legal hold never are.
pub fn expired(rec: &RecordingRow, recurring: bool, p: Policy, now: DateTime<Utc>) -> bool {
    let days = if recurring {
        p.recurring_days
    } else {
        p.one_off_days
    };
    if days == 0 || rec.legal_hold || matches!(rec.status.as_str(), "recording" | "deleted") {
        return false;
    }
    let end = rec.stopped_at.unwrap_or(rec.started_at);
    now >= end + Duration::days(i64::from(days))
}

/// Deletes every expired recording; returns their ids.
pub async fn sweep(
    pool: &Pool,
    dir: &Path,
    p: Policy,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut deleted = Vec::new();
    for rec in store::all(pool).await? {
        let recurring = crate::store::sessions::get(pool, &rec.session_id)
            .await?
            .is_some_and(|s| s.series_id.is_some());
        if !expired(&rec, recurring, p, now) {
            continue;
        }
        let folder = dir.join(&rec.id);
        if let Err(e) = std::fs::remove_dir_all(&folder)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(recording = %rec.id, "retention: cannot delete {}: {e}", folder.display());
            continue;
        }
        sqlx::query("UPDATE recordings SET status = 'deleted', deleted_at = ? WHERE id = ?")
            .bind(now)
            .bind(&rec.id)
            .execute(pool)
            .await?;
        crate::audit::append(
            pool,
            "system:retention",
            crate::audit::actions::RECORDING_DELETE,
            &format!("recording:{}", rec.id),
            serde_json::json!({ "session_id": rec.session_id, "recurring": recurring,
                "stopped_at": rec.stopped_at, "reason": "retention" }),
        )
        .await?;
        tracing::info!(recording = %rec.id, "recording deleted: past its retention");
        deleted.push(rec.id);
    }
    Ok(deleted)
}

/// Sets or lifts the legal hold of a recording (false when there is no such recording).
pub async fn set_hold(pool: &Pool, id: &str, hold: bool) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE recordings SET legal_hold = ? WHERE id = ? AND status <> 'deleted'")
            .bind(hold)
            .bind(id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Sweeps now and then every `every`.
pub fn spawn_every(pool: Pool, dir: std::path::PathBuf, p: Policy, every: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = sweep(&pool, &dir, p, Utc::now()).await {
                tracing::error!("retention sweep: {e}");
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: &str, stopped_days_ago: i64, hold: bool) -> RecordingRow {
        let now = Utc::now();
        RecordingRow {
            id: "r".into(),
            session_id: "s".into(),
            status: status.into(),
            started_at: now - Duration::days(stopped_days_ago) - Duration::hours(1),
            stopped_at: Some(now - Duration::days(stopped_days_ago)),
            started_by: "x".into(),
            stopped_by: None,
            error: None,
            dropped_packets: 0,
            legal_hold: hold,
        }
    }

    #[test]
    fn recordings_expire_by_the_kind_of_their_session_unless_held() {
        let p = Policy {
            one_off_days: 365,
            recurring_days: 90,
        };
        let now = Utc::now();
        assert!(
            !expired(&rec("complete", 100, false), false, p, now),
            "one-off kept a year"
        );
        assert!(
            expired(&rec("complete", 100, false), true, p, now),
            "a weekly one for 90 days"
        );
        assert!(
            !expired(&rec("complete", 100, true), true, p, now),
            "legal hold"
        );
        assert!(
            !expired(&rec("recording", 400, false), false, p, now),
            "still running"
        );
        assert!(!expired(&rec("deleted", 400, false), false, p, now));
        assert!(expired(&rec("interrupted", 400, false), false, p, now));
        let forever = Policy {
            one_off_days: 0,
            recurring_days: 0,
        };
        assert!(!expired(&rec("complete", 4000, false), true, forever, now));
    }
}
