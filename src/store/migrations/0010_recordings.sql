-- Recordings (issue 9): one row per recording of a session, one per file (a site's presence:
-- a site that leaves and comes back gets a new file), the timeline of the session's events on the
-- recording's clock, reviewers' grants, and composite jobs. Times are RFC 3339 UTC text.

CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    status      TEXT NOT NULL CHECK (status IN ('recording', 'complete', 'interrupted', 'failed', 'deleted')),
    started_at  TEXT NOT NULL,
    stopped_at  TEXT,
    started_by  TEXT NOT NULL,
    stopped_by  TEXT,
    error       TEXT,
    dropped_packets INTEGER NOT NULL DEFAULT 0,
    legal_hold  INTEGER NOT NULL DEFAULT 0,
    deleted_at  TEXT
);
CREATE INDEX recordings_session ON recordings(session_id, started_at);
CREATE INDEX recordings_status ON recordings(status);

CREATE TABLE recording_files (
    recording_id  TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    site_id       TEXT NOT NULL,
    site_name     TEXT NOT NULL,
    offset_ms     INTEGER NOT NULL,
    duration_ms   INTEGER,
    bytes         INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('open', 'complete', 'interrupted', 'failed')),
    PRIMARY KEY (recording_id, name)
);

CREATE TABLE recording_events (
    recording_id  TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    at_ms         INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    site_id       TEXT,
    detail        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (recording_id, seq)
);

-- A reviewer's access, to one recording or to every recording of a session; view and download
-- are separate; each grant expires.
CREATE TABLE recording_grants (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    recording_id  TEXT,
    session_id    TEXT,
    can_view      INTEGER NOT NULL DEFAULT 1,
    can_download  INTEGER NOT NULL DEFAULT 0,
    expires_at    TEXT NOT NULL,
    granted_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    CHECK ((recording_id IS NULL) <> (session_id IS NULL))
);
CREATE INDEX recording_grants_user ON recording_grants(user_id);

CREATE TABLE recording_jobs (
    id            TEXT PRIMARY KEY,
    recording_id  TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress      REAL NOT NULL DEFAULT 0,
    output        TEXT,
    error         TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
