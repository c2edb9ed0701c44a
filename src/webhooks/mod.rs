//! Signed webhooks from a durable outbox (migration 0009). Attendance writes one outbox row per
//! event and receiver URL in the same transaction as the change it reports ([`enqueue_in`]); the
//! [`Deliverer`] posts them: JSON body, `X-Giaoban-Event-Id`, `X-Giaoban-Timestamp` and
//! `X-Giaoban-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (see
//! docs/webhooks.md). Deliveries of one session to one URL go strictly in order: the next waits
//! until the one before is delivered; a failure (error status, timeout, no answer) is retried
//! with doubling back-off, forever, while other sessions and URLs carry on. A restart resumes
//! from the table, so nothing is lost (a receiver may see an event twice: dedupe on the id).

mod sign;

pub use sign::{EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, backoff, signature};

use crate::config::WebhooksConfig;
use crate::store::{Pool, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Row, SqliteConnection};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// The body of every delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookEvent {
    /// Unique per event (the same for every URL and every retry).
    pub id: String,
    /// `session.started`, `session.ended`, `site.joined`, `site.left`, `site.dropped`,
    /// `attendance.finalised`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub session_id: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// Writes the event once per configured URL, in the caller's transaction. No URL: nothing.
pub async fn enqueue_in(
    conn: &mut SqliteConnection,
    urls: &[String],
    event_type: &str,
    session_id: &str,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    if urls.is_empty() {
        return Ok(());
    }
    let event = WebhookEvent {
        id: uuid::Uuid::new_v4().to_string(),
        event_type: event_type.to_string(),
        session_id: session_id.to_string(),
        occurred_at,
        data,
    };
    let body = serde_json::to_string(&event).expect("webhook events serialize");
    let now = Utc::now();
    for url in urls {
        sqlx::query(
            "INSERT INTO webhook_outbox (event_id, url, session_id, event_type, body, created_at,
                                         next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&event.id)
        .bind(url)
        .bind(session_id)
        .bind(event_type)
        .bind(&body)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deliveries not yet made (for the API and tests).
pub async fn pending(pool: &Pool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at IS NULL")
            .fetch_one(pool)
            .await?,
    )
}

struct Due {
    id: i64,
    url: String,
    session_id: String,
    event_id: String,
    body: String,
    attempts: i64,
}

/// The outbox worker.
pub struct Deliverer {
    pool: Pool,
    config: WebhooksConfig,
    secret: Arc<[u8]>,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Deliverer {
    pub fn new(pool: Pool, config: WebhooksConfig, wake: Arc<Notify>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Deliverer {
            secret: config.secret.as_bytes().into(),
            pool,
            config,
            client,
            wake,
        }
    }

    /// Runs forever: delivers the head of every (URL, session) queue that is due, each in its
    /// own task, and looks again when woken, when a delivery ends, or every second.
    pub async fn run(self) {
        let mut in_flight: HashSet<(String, String)> = HashSet::new();
        let mut tasks: JoinSet<(String, String)> = JoinSet::new();
        loop {
            match self.due(&in_flight).await {
                Ok(due) => {
                    for d in due {
                        in_flight.insert((d.url.clone(), d.session_id.clone()));
                        tasks.spawn(self.deliver(d));
                    }
                }
                Err(e) => tracing::error!("webhook outbox: {e}"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                Some(Ok(key)) = tasks.join_next(), if !tasks.is_empty() => {
                    in_flight.remove(&key);
                }
                _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            }
            while let Some(Ok(key)) = tasks.try_join_next() {
                in_flight.remove(&key);
            }
        }
    }

    /// The first undelivered row of each (URL, session), if due and not already being sent.
    async fn due(&self, in_flight: &HashSet<(String, String)>) -> Result<Vec<Due>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.url, o.session_id, o.event_id, o.body, o.attempts, o.next_attempt_at
             FROM webhook_outbox o
             WHERE o.delivered_at IS NULL AND o.id = (SELECT MIN(p.id) FROM webhook_outbox p
                   WHERE p.delivered_at IS NULL AND p.url = o.url AND p.session_id = o.session_id)
             ORDER BY o.id LIMIT 256",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = Utc::now();
        let mut out = Vec::new();
        for r in rows {
            let next: DateTime<Utc> = r.try_get("next_attempt_at")?;
            let (url, session_id): (String, String) = (r.try_get("url")?, r.try_get("session_id")?);
            if next > now || in_flight.contains(&(url.clone(), session_id.clone())) {
                continue;
            }
            out.push(Due {
                id: r.try_get("id")?,
                url,
                session_id,
                event_id: r.try_get("event_id")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            });
        }
        Ok(out)
    }

    fn deliver(&self, d: Due) -> impl Future<Output = (String, String)> + Send + 'static {
        let (pool, client, secret) = (self.pool.clone(), self.client.clone(), self.secret.clone());
        let (initial, max) = (self.config.retry_initial_ms, self.config.retry_max_ms);
        async move {
            let ts = Utc::now().timestamp();
            let result = client
                .post(&d.url)
                .header("content-type", "application/json")
                .header(EVENT_ID_HEADER, &d.event_id)
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, signature(&secret, ts, &d.body))
                .body(d.body.clone())
                .send()
                .await;
            let error = match result {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                Err(e) if e.is_timeout() => Some("timed out".to_string()),
                Err(e) => Some(format!("not delivered: {e}")),
            };
            let now = Utc::now();
            let written = match &error {
                None => {
                    sqlx::query(
                        "UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1,
                     last_error = NULL WHERE id = ?",
                    )
                    .bind(now)
                    .bind(d.id)
                    .execute(&pool)
                    .await
                }
                Some(e) => {
                    let wait = backoff(d.attempts as u32 + 1, initial, max);
                    tracing::debug!(url = %d.url, event = %d.event_id, "webhook: {e}; retry in {wait:?}");
                    sqlx::query(
                        "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?,
                         next_attempt_at = ? WHERE id = ?",
                    )
                    .bind(e)
                    .bind(now + chrono::Duration::from_std(wait).unwrap_or_default())
                    .bind(d.id)
                    .execute(&pool)
                    .await
                }
            };
            if let Err(e) = written {
                tracing::error!("webhook outbox: {e}");
            }
            (d.url, d.session_id)
        }
    }
}
