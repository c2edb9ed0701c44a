//! The audit log's consumer of live events: every site join and leave (with its reason) becomes
//! an audit entry, read from a lossless queue (see `crate::live`), so none is skipped.

use super::actions::{SITE_JOIN, SITE_LEAVE};
use crate::live::{Event, Persistent};
use crate::store::Pool;

/// Appends joins and leaves until the bus is gone; a failed append is retried.
pub async fn run(pool: Pool, mut events: Persistent) {
    while let Some(e) = events.recv().await {
        let (site, action, session, detail) = match &e.event {
            Event::Joined {
                session_id,
                site_id,
                participant_id,
            } => (
                site_id,
                SITE_JOIN,
                session_id,
                serde_json::json!({ "participant_id": participant_id, "at": e.at }),
            ),
            Event::Left {
                session_id,
                site_id,
                participant_id,
                reason,
            } => (
                site_id,
                SITE_LEAVE,
                session_id,
                serde_json::json!({
                    "participant_id": participant_id, "reason": reason, "at": e.at,
                }),
            ),
            _ => continue,
        };
        let actor = format!("site:{site}");
        let mut delay = std::time::Duration::from_millis(50);
        while let Err(err) = super::append(&pool, &actor, action, session, detail.clone()).await {
            tracing::error!(seq = e.seq, "audit log: {err}; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
    }
}
