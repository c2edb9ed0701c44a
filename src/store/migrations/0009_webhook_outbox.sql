-- Durable webhook outbox: one row per (event, receiver URL), written in the same step as the
-- attendance change it reports. Deliveries of one session to one URL go in `id` order; a failed
-- one is retried with back-off (next_attempt_at) before any later one of that session and URL.
CREATE TABLE webhook_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL,
    url              TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    last_error       TEXT,
    UNIQUE (event_id, url)
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox(delivered_at, url, session_id, id);
