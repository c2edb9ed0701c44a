-- The last moment the server knew it was alive, written every attendance.heartbeat_secs. After a
-- crash the next start closes open stints there, as "server interrupted".
CREATE TABLE server_heartbeat (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    alive_at    TEXT NOT NULL
);
-- Sessions whose attendance was finalised (after their end and the reconnect grace); the
-- `attendance.finalised` webhook is sent once.
CREATE TABLE attendance_finalised (
    session_id    TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    finalised_at  TEXT NOT NULL
);
