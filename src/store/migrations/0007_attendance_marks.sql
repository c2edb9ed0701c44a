-- Manual roll-call marks by the secretariat (e.g. "vắng mặt có lý do"), kept as a history: the
-- latest mark of a site in a session is in force. Every mark also goes to the audit log.
CREATE TABLE attendance_marks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    status      TEXT NOT NULL CHECK (status IN ('present', 'late', 'left_early', 'absent',
                                                'absent_with_reason', 'excused')),
    reason      TEXT NOT NULL,
    marked_by   TEXT NOT NULL,
    marked_at   TEXT NOT NULL
);
CREATE INDEX attendance_marks_session ON attendance_marks(session_id, site_id, id);
