//! Attendance (điểm danh): connection events → stints (persisted as they happen) → presence
//! intervals with the reconnect grace (`intervals`, pure) → per-site summaries and statuses
//! (`summary`, pure) → the roll call of a session and reports (`report`, `export`).
//!
//! [`Recorder`] is the persistent consumer of the live events: for each joined / media
//! connected / left event it writes the stint and the matching webhook outbox rows in one
//! transaction, then tells live views the session changed. A heartbeat records every few seconds
//! that the server is alive; at start, [`store::recover`] closes whatever a crash left open.

pub mod export;
pub mod finalise;
pub mod intervals;
pub mod report;
pub mod store;
pub mod summary;

use crate::config::Config;
use crate::live::{Event, Persistent, Stamped};
use crate::store::{Pool, StoreError};
use chrono::{Duration, Utc};
use std::sync::Arc;
use summary::Thresholds;
use tokio::sync::{Notify, broadcast};

/// The thresholds of `[attendance]`.
pub fn thresholds(config: &Config) -> Thresholds {
    let a = &config.attendance;
    Thresholds {
        grace: Duration::seconds(a.reconnect_grace_secs as i64),
        late_after: Duration::minutes(i64::from(a.late_after_minutes)),
        left_early: Duration::minutes(i64::from(a.left_early_minutes)),
        min_presence_percent: a.min_presence_percent,
    }
}

/// Writes stints and webhook rows from the lossless event queue.
pub struct Recorder {
    pub pool: Pool,
    pub webhook_urls: Vec<String>,
    /// Session ids whose attendance changed (after the write): the roll-call stream listens.
    pub changed: broadcast::Sender<Arc<str>>,
    /// Wakes the webhook deliverer after outbox rows were written.
    pub webhooks: Arc<Notify>,
}

impl Recorder {
    /// Consumes events until the bus is gone. A write that fails is retried (the database may be
    /// busy for a moment); nothing is skipped.
    pub async fn run(self, mut events: Persistent) {
        while let Some(e) = events.recv().await {
            let mut delay = std::time::Duration::from_millis(50);
            loop {
                match self.record(&e).await {
                    Ok(changed) => {
                        if changed {
                            let _ = self.changed.send(e.event.session_id().into());
                            if !self.webhook_urls.is_empty() {
                                self.webhooks.notify_one();
                            }
                        }
                        break;
                    }
                    Err(err) if is_permanent(&err) => {
                        // E.g. the session was deleted meanwhile (a series edit): no retry can
                        // write it, and waiting would hold up every later event.
                        tracing::error!(seq = e.seq, event = ?e.event, "attendance: {err}; not recorded");
                        break;
                    }
                    Err(err) => {
                        tracing::error!(seq = e.seq, "attendance: {err}; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(std::time::Duration::from_secs(5));
                    }
                }
            }
        }
    }

    /// One event → its rows, in one transaction. True if the roll call changed.
    async fn record(&self, e: &Stamped) -> Result<bool, StoreError> {
        let at = e.at;
        let urls = &self.webhook_urls;
        let mut tx = self.pool.begin().await?;
        let changed = match &e.event {
            Event::Joined {
                session_id,
                site_id,
                participant_id,
            } => {
                let pid = participant_id.to_string();
                store::joined(&mut tx, &pid, session_id, site_id, at).await?;
                true
            }
            Event::MediaConnected {
                session_id,
                site_id,
                participant_id,
            } => {
                let pid = participant_id.to_string();
                let started = store::media_connected(&mut tx, &pid, at).await?;
                if started {
                    let (count, _) = store::counts(&mut tx, session_id).await?;
                    if count == 1 {
                        let data = serde_json::json!({ "first_site_id": site_id });
                        crate::webhooks::enqueue_in(
                            &mut tx,
                            urls,
                            "session.started",
                            session_id,
                            at,
                            data,
                        )
                        .await?;
                    }
                    let data = serde_json::json!({ "site_id": site_id, "participant_id": pid });
                    crate::webhooks::enqueue_in(&mut tx, urls, "site.joined", session_id, at, data)
                        .await?;
                }
                started
            }
            Event::Left {
                session_id,
                site_id,
                participant_id,
                reason,
            } => {
                let pid = participant_id.to_string();
                let reason = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{reason:?}"));
                let was_present = store::left(&mut tx, &pid, at, &reason).await?;
                if was_present {
                    let kind = if reason == "leave" {
                        "site.left"
                    } else {
                        "site.dropped"
                    };
                    let data = serde_json::json!({
                        "site_id": site_id, "participant_id": pid, "reason": reason,
                    });
                    crate::webhooks::enqueue_in(&mut tx, urls, kind, session_id, at, data).await?;
                    let (_, open) = store::counts(&mut tx, session_id).await?;
                    if open == 0 && reason != "replaced" {
                        let data = serde_json::json!({ "last_site_id": site_id });
                        crate::webhooks::enqueue_in(
                            &mut tx,
                            urls,
                            "session.ended",
                            session_id,
                            at,
                            data,
                        )
                        .await?;
                    }
                }
                true
            }
            _ => false,
        };
        tx.commit().await?;
        Ok(changed)
    }
}

/// A constraint violation (the session or site no longer exists): retrying cannot help.
fn is_permanent(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => matches!(
            d.kind(),
            sqlx::error::ErrorKind::ForeignKeyViolation
                | sqlx::error::ErrorKind::NotNullViolation
                | sqlx::error::ErrorKind::CheckViolation
        ),
        _ => false,
    }
}

/// Every `every`, forever: records that the server is alive, and finalises the roll call of
/// sessions that ended (see [`finalise`]).
pub async fn heartbeat(
    pool: Pool,
    every: std::time::Duration,
    th: Thresholds,
    urls: Vec<String>,
    webhooks: Arc<Notify>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Utc::now();
        if let Err(e) = store::heartbeat(&pool, now).await {
            tracing::error!("attendance heartbeat: {e}");
        }
        match finalise::finalise_due(&pool, &th, &urls, now).await {
            Ok(done) if !done.is_empty() && !urls.is_empty() => webhooks.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!("attendance finalisation: {e}"),
        }
    }
}

/// At start-up: closes the stints a crash left open (as "server interrupted") and queues their
/// `site.dropped` webhooks. Returns how many were closed.
pub async fn recover(pool: &Pool, webhook_urls: &[String]) -> Result<usize, StoreError> {
    let closed = store::recover(pool).await?;
    if !closed.is_empty() {
        tracing::warn!(
            stints = closed.len(),
            "closed the attendance intervals left open by an interrupted server"
        );
    }
    let mut tx = pool.begin().await?;
    for c in closed.iter().filter(|c| c.was_present) {
        let data = serde_json::json!({
            "site_id": c.site_id, "participant_id": c.participant_id,
            "reason": intervals::SERVER_INTERRUPTED,
        });
        crate::webhooks::enqueue_in(
            &mut tx,
            webhook_urls,
            "site.dropped",
            &c.session_id,
            c.ended_at,
            data,
        )
        .await?;
    }
    tx.commit().await?;
    store::heartbeat(pool, Utc::now()).await?;
    Ok(closed.len())
}
