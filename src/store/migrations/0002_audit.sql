-- Audit log (nhật ký hệ thống): append-only and hash-chained, see src/audit/.
-- Each row's hash covers its fields and the previous row's hash (genesis: 64 zeros), so an edit,
-- deletion, insertion or reordering anywhere but the tail breaks verification.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL, -- JSON object, canonical form
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log(action);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_target ON audit_log(target);

-- The chain head: exactly one row holding the last seq and hash. Every append first updates this
-- row, which takes the write lock (SQLite) or the row lock (Postgres) before anything is read, so
-- concurrent appends are serialised and cannot fork the chain. It also lets verification notice a
-- truncated tail.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Defence in depth (SQLite syntax; a Postgres port needs plpgsql equivalents). Verification does
-- not rely on these: it recomputes the chain and detects tampering by someone who drops them.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;

CREATE TRIGGER audit_head_monotonic BEFORE UPDATE ON audit_head
WHEN NEW.seq <> OLD.seq AND NEW.seq <> OLD.seq + 1
BEGIN
    SELECT RAISE(ABORT, 'audit_head.seq only moves forward by one');
END;
