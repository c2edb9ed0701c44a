-- Sessions v2 (secretariat issue, parts 3, 4 and 6): agenda, chair, flags, status and iCalendar
-- SEQUENCE on sessions; required/optional invited sites; recurring series. Every occurrence of a
-- series is materialised as a `sessions` row (rules are finite: COUNT <= 520 or UNTIL <= 5 years),
-- so join links, conflicts and the live room work per occurrence; the `series` row keeps the rule
-- for the calendar (RRULE, EXDATE = cancelled occurrences, RECURRENCE-ID = overridden ones).
-- Times are RFC 3339 UTC text with whole seconds, so text order is time order.

CREATE TABLE series (
    id             TEXT PRIMARY KEY,
    rrule          TEXT NOT NULL,          -- RFC 5545 RRULE value, always with COUNT or UNTIL
    dtstart        TEXT NOT NULL,          -- first occurrence (UTC)
    duration_secs  INTEGER NOT NULL,
    title          TEXT NOT NULL,
    agenda         TEXT NOT NULL DEFAULT '[]',  -- JSON array of {title, presenter}
    host_site_id   TEXT NOT NULL REFERENCES sites(id),
    chair          TEXT NOT NULL DEFAULT '',
    classified     INTEGER NOT NULL DEFAULT 0,
    record_auto    INTEGER NOT NULL DEFAULT 0,
    sequence       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE series_sites (
    series_id  TEXT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    site_id    TEXT NOT NULL REFERENCES sites(id),
    required   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (series_id, site_id)
);
CREATE INDEX series_sites_site ON series_sites(site_id);

ALTER TABLE sessions ADD COLUMN agenda TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN chair TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN classified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN record_auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'cancelled'));
ALTER TABLE sessions ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN series_id TEXT REFERENCES series(id);
ALTER TABLE sessions ADD COLUMN recurrence_id TEXT;   -- the occurrence's original start (UTC)
ALTER TABLE sessions ADD COLUMN overridden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN updated_at TEXT;

ALTER TABLE session_sites ADD COLUMN required INTEGER NOT NULL DEFAULT 1;

-- The week list and the conflict check read sessions by time; occurrences by series.
CREATE INDEX sessions_starts ON sessions(starts_at);
CREATE INDEX sessions_series ON sessions(series_id, recurrence_id);
-- The conflict check starts from the candidate's sites: (site, session) covers the join.
CREATE INDEX session_sites_site_session ON session_sites(site_id, session_id);
