-- Attendance (điểm danh): one row per connection of a site to a session (a "stint"), written as
-- it happens: inserted when the site's socket joins, `started_at` set when its media connects
-- (from then on it is present), closed with the leave reason. Intervals and statuses are
-- computed from these rows (src/attendance/intervals.rs, summary.rs).
CREATE TABLE attendance_stints (
    participant_id  TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    joined_at       TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    end_reason      TEXT
);
CREATE INDEX attendance_stints_session ON attendance_stints(session_id, site_id);
CREATE INDEX attendance_stints_open ON attendance_stints(ended_at);
