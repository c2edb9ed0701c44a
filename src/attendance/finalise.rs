//! Finalising a session's roll call: once a session has ended and the reconnect grace has
//! passed, its attendance is marked final (once) and the `attendance.finalised` webhook carries
//! every site's status. Sessions that ended more than [`LOOKBACK_HOURS`] ago are left alone (a
//! first start does not flood receivers with history).

use super::report::session_attendance;
use super::summary::Thresholds;
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};

/// Only sessions that ended within this many hours are finalised.
pub const LOOKBACK_HOURS: i64 = 48;

/// Finalises every session due at `now`; returns their ids.
pub async fn finalise_due(
    pool: &Pool,
    th: &Thresholds,
    urls: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT s.id FROM sessions s
         WHERE s.status = 'scheduled' AND s.ends_at IS NOT NULL AND s.ends_at <= ?
           AND s.ends_at > ?
           AND NOT EXISTS (SELECT 1 FROM attendance_finalised f WHERE f.session_id = s.id)
         ORDER BY s.ends_at",
    )
    .bind(now - th.grace)
    .bind(now - chrono::Duration::hours(LOOKBACK_HOURS))
    .fetch_all(pool)
    .await?;
    let mut done = Vec::new();
    for id in due {
        let Some(roll) = session_attendance(pool, th, &id, now).await? else {
            continue;
        };
        let sites: Vec<serde_json::Value> = roll
            .sites
            .iter()
            .map(|s| {
                serde_json::json!({
                    "site_id": s.site_id, "status": s.summary.status,
                    "first_join": s.summary.first_join, "last_leave": s.summary.last_leave,
                    "present_seconds": s.summary.present_seconds,
                    "incidents": s.summary.incidents,
                })
            })
            .collect();
        let data = serde_json::json!({ "counts": roll.counts, "sites": sites });
        let mut tx = pool.begin().await?;
        if super::store::finalise(&mut tx, &id, now).await? {
            crate::webhooks::enqueue_in(&mut tx, urls, "attendance.finalised", &id, now, data)
                .await?;
            done.push(id);
        }
        tx.commit().await?;
    }
    Ok(done)
}
